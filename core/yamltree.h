/*
 * yamltree.h - a small YAML document tree for editing config files.
 *
 * A document is read into a tree of scalars, sequences and mappings that
 * keeps the order of mapping keys, the style of every scalar (plain,
 * quoted, literal...) and explicit tags, so that a file read and written
 * again keeps every key the user wrote, including those vkdr knows nothing
 * about. Comments are not kept. Anchors and aliases are expanded: an alias
 * becomes a copy of the node it names.
 *
 * Ownership: a tree is owned by its root and freed with yt_free(). Nodes
 * handed to yt_map_set() or yt_seq_append() belong to the tree afterwards.
 * Strings returned by accessors live as long as their node.
 */
#ifndef VKDR_CORE_YAMLTREE_H
#define VKDR_CORE_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum yt_kind {
	YT_SCALAR,
	YT_SEQUENCE,
	YT_MAPPING,
};

struct yt_node {
	enum yt_kind kind;
	/* An explicit tag as written ("!!str"), or NULL. */
	char *tag;
	/* Where the node starts in its file, 1-based; 0 when built. */
	unsigned line;
	unsigned column;

	/* YT_SCALAR: the text, NUL-terminated, and its yaml_scalar_style_t. */
	char *value;
	size_t length;
	int style;

	/*
	 * YT_SEQUENCE: N items in ITEMS. YT_MAPPING: N pairs, the key of
	 * pair i in ITEMS[2 * i] and its value in ITEMS[2 * i + 1].
	 */
	struct yt_node **items;
	size_t n;
	/* The collection was written in flow style ([a, b] or {k: v}). */
	bool flow;
};

/*
 * Parse the first document of BUF (LEN bytes). NAME is used in error
 * messages. On success returns 0 and sets *ROOT, which is NULL for a
 * stream without a document (an empty file). On a syntax error returns
 * -EINVAL with "NAME:LINE:COLUMN: reason" in ERR; -ENOMEM when out of
 * memory.
 */
int yt_parse_buffer(const char *buf, size_t len, const char *name,
		    struct yt_node **root, char *err, size_t errlen);

/*
 * Parse the file at PATH like yt_parse_buffer(). Returns -ENOENT when the
 * file does not exist (ERR is not filled then), or another negative errno
 * when it cannot be read.
 */
int yt_parse_file(const char *path, struct yt_node **root, char *err,
		  size_t errlen);

/*
 * Write ROOT as one YAML document to OUT. Returns 0, -EIO when the
 * emitter or the stream failed (errno of the stream is kept in errno), or
 * -EINVAL for a tree libyaml refuses.
 */
int yt_emit(const struct yt_node *root, FILE *out);

/* Free a node and everything below it. NULL is allowed. */
void yt_free(struct yt_node *node);

/* New nodes; NULL when out of memory. The scalar copies VALUE. */
struct yt_node *yt_scalar_new(const char *value);
struct yt_node *yt_sequence_new(void);
struct yt_node *yt_mapping_new(void);

/* A deep copy of NODE, or NULL when out of memory. */
struct yt_node *yt_copy(const struct yt_node *node);

/* The text of a scalar node, or NULL for NULL or any other kind. */
const char *yt_scalar(const struct yt_node *node);

/*
 * True when NODE is absent or the YAML null: an empty plain scalar, "~",
 * "null", "Null" or "NULL" (and not quoted).
 */
bool yt_is_null(const struct yt_node *node);

/* The value stored under the scalar key KEY in MAP, or NULL. */
struct yt_node *yt_map_get(const struct yt_node *map, const char *key);

/*
 * Store VALUE under KEY in MAP, replacing (and freeing) an existing value
 * in place so the key keeps its position, or appending a new pair. Takes
 * VALUE in every case, also on failure. Returns 0, -EINVAL when MAP is
 * not a mapping, or -ENOMEM (also when VALUE is NULL, so the result of a
 * failed yt_scalar_new() may be passed straight in).
 */
int yt_map_set(struct yt_node *map, const char *key, struct yt_node *value);

/* Remove KEY and its value from MAP. Returns true when it was there. */
bool yt_map_remove(struct yt_node *map, const char *key);

/*
 * Append ITEM to the sequence SEQ. Takes ITEM in every case. Returns 0,
 * -EINVAL when SEQ is not a sequence, or -ENOMEM (also for a NULL ITEM).
 */
int yt_seq_append(struct yt_node *seq, struct yt_node *item);

/*
 * The mapping under KEY in MAP, created empty when KEY is absent or null.
 * Returns NULL with *RC set to -EINVAL when KEY holds something else, or
 * -ENOMEM.
 */
struct yt_node *yt_map_child_mapping(struct yt_node *map, const char *key,
				     int *rc);

#endif
