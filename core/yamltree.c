/*
 * yamltree.c - YAML documents as a tree, read with libyaml's event parser
 * and written with its emitter.
 *
 * The tree is deliberately dumb: it keeps what the events said (text,
 * style, tag, order) and nothing else, which is what lets vkdr rewrite a
 * registries.yaml without dropping the parts it does not understand.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yamltree.h"

/* Bounds that keep a hostile file from exhausting the stack or memory. */
#define YT_MAX_DEPTH 256
#define YT_MAX_NODES 100000

struct anchor {
	char *name;
	struct yt_node *node;
};

struct parse_ctx {
	yaml_parser_t parser;
	const char *name;
	char *err;
	size_t errlen;
	struct anchor *anchors;
	size_t n_anchors;
	size_t n_nodes;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct yt_node *node_new(enum yt_kind kind)
{
	struct yt_node *n = calloc(1, sizeof(*n));

	if (n)
		n->kind = kind;
	return n;
}

struct yt_node *yt_scalar_new(const char *value)
{
	struct yt_node *n = node_new(YT_SCALAR);

	if (!n)
		return NULL;
	n->value = strdup(value);
	if (!n->value) {
		free(n);
		return NULL;
	}
	n->length = strlen(value);
	n->style = YAML_ANY_SCALAR_STYLE;
	return n;
}

struct yt_node *yt_sequence_new(void)
{
	return node_new(YT_SEQUENCE);
}

struct yt_node *yt_mapping_new(void)
{
	return node_new(YT_MAPPING);
}

void yt_free(struct yt_node *node)
{
	size_t count;

	if (!node)
		return;
	count = node->kind == YT_MAPPING ? 2 * node->n : node->n;
	for (size_t i = 0; i < count; i++)
		yt_free(node->items[i]);
	free(node->items);
	free(node->value);
	free(node->tag);
	free(node);
}

static size_t item_count(const struct yt_node *node)
{
	if (node->kind == YT_MAPPING)
		return 2 * node->n;
	if (node->kind == YT_SEQUENCE)
		return node->n;
	return 0;
}

/* Deep copy that counts the nodes it makes, for alias expansion. */
static struct yt_node *copy_counted(const struct yt_node *src, size_t *budget)
{
	struct yt_node *n;
	size_t count = item_count(src);

	if (*budget == 0)
		return NULL;
	(*budget)--;

	n = node_new(src->kind);
	if (!n)
		return NULL;
	n->line = src->line;
	n->column = src->column;
	n->style = src->style;
	n->flow = src->flow;
	n->length = src->length;
	n->n = src->n;
	if (src->tag && !(n->tag = strdup(src->tag)))
		goto out_free_node;
	if (src->value) {
		n->value = malloc(src->length + 1);
		if (!n->value)
			goto out_free_node;
		memcpy(n->value, src->value, src->length + 1);
	}
	if (count) {
		n->items = calloc(count, sizeof(*n->items));
		if (!n->items)
			goto out_free_node;
		for (size_t i = 0; i < count; i++) {
			n->items[i] = copy_counted(src->items[i], budget);
			if (!n->items[i])
				goto out_free_node;
		}
	}
	return n;

out_free_node:
	yt_free(n);
	return NULL;
}

struct yt_node *yt_copy(const struct yt_node *node)
{
	size_t budget = SIZE_MAX;

	return copy_counted(node, &budget);
}

const char *yt_scalar(const struct yt_node *node)
{
	return node && node->kind == YT_SCALAR ? node->value : NULL;
}

bool yt_is_null(const struct yt_node *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!node)
		return true;
	if (node->kind != YT_SCALAR || node->tag ||
	    node->style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(node->value, nulls[i]) == 0)
			return true;
	return false;
}

static ssize_t map_index(const struct yt_node *map, const char *key)
{
	if (!map || map->kind != YT_MAPPING)
		return -1;
	for (size_t i = 0; i < map->n; i++) {
		const char *k = yt_scalar(map->items[2 * i]);

		if (k && strcmp(k, key) == 0)
			return (ssize_t)i;
	}
	return -1;
}

struct yt_node *yt_map_get(const struct yt_node *map, const char *key)
{
	ssize_t i = map_index(map, key);

	return i < 0 ? NULL : map->items[2 * i + 1];
}

/* Make room for ADD more item pointers. */
static int grow_items(struct yt_node *node, size_t add)
{
	size_t count = item_count(node);
	struct yt_node **grown;

	grown = realloc(node->items, (count + add) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	node->items = grown;
	return 0;
}

int yt_map_set(struct yt_node *map, const char *key, struct yt_node *value)
{
	struct yt_node *k;
	ssize_t i;

	if (!value)
		return -ENOMEM;
	if (!map || map->kind != YT_MAPPING) {
		yt_free(value);
		return -EINVAL;
	}
	i = map_index(map, key);
	if (i >= 0) {
		yt_free(map->items[2 * i + 1]);
		map->items[2 * i + 1] = value;
		return 0;
	}

	k = yt_scalar_new(key);
	if (!k || grow_items(map, 2) < 0) {
		yt_free(k);
		yt_free(value);
		return -ENOMEM;
	}
	map->items[2 * map->n] = k;
	map->items[2 * map->n + 1] = value;
	map->n++;
	return 0;
}

bool yt_map_remove(struct yt_node *map, const char *key)
{
	ssize_t i = map_index(map, key);

	if (i < 0)
		return false;
	yt_free(map->items[2 * i]);
	yt_free(map->items[2 * i + 1]);
	memmove(&map->items[2 * i], &map->items[2 * i + 2],
		(map->n - (size_t)i - 1) * 2 * sizeof(*map->items));
	map->n--;
	return true;
}

int yt_seq_append(struct yt_node *seq, struct yt_node *item)
{
	if (!item)
		return -ENOMEM;
	if (!seq || seq->kind != YT_SEQUENCE) {
		yt_free(item);
		return -EINVAL;
	}
	if (grow_items(seq, 1) < 0) {
		yt_free(item);
		return -ENOMEM;
	}
	seq->items[seq->n++] = item;
	return 0;
}

struct yt_node *yt_map_child_mapping(struct yt_node *map, const char *key,
				     int *rc)
{
	struct yt_node *child = yt_map_get(map, key);

	*rc = 0;
	if (child && child->kind == YT_MAPPING)
		return child;
	if (child && !yt_is_null(child)) {
		*rc = -EINVAL;
		return NULL;
	}
	child = yt_mapping_new();
	if (!child) {
		*rc = -ENOMEM;
		return NULL;
	}
	*rc = yt_map_set(map, key, child);
	return *rc < 0 ? NULL : child;
}

/* ------------------------------------------------------------------------
 * Parsing
 */

static int parser_error(struct parse_ctx *ctx)
{
	yaml_parser_t *p = &ctx->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->context)
		set_err(ctx->err, ctx->errlen, "%s:%zu:%zu: %s %s", ctx->name,
			p->problem_mark.line + 1, p->problem_mark.column + 1,
			p->problem ? p->problem : "syntax error", p->context);
	else
		set_err(ctx->err, ctx->errlen, "%s:%zu:%zu: %s", ctx->name,
			p->problem_mark.line + 1, p->problem_mark.column + 1,
			p->problem ? p->problem : "syntax error");
	return -EINVAL;
}

static int next_event(struct parse_ctx *ctx, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ctx->parser, ev))
		return parser_error(ctx);
	return 0;
}

static int semantic_error(struct parse_ctx *ctx, const yaml_mark_t *mark,
			  const char *what)
{
	set_err(ctx->err, ctx->errlen, "%s:%zu:%zu: %s", ctx->name,
		mark->line + 1, mark->column + 1, what);
	return -EINVAL;
}

static int remember_anchor(struct parse_ctx *ctx, const yaml_char_t *name,
			   struct yt_node *node)
{
	struct anchor *grown;

	if (!name)
		return 0;
	grown = realloc(ctx->anchors, (ctx->n_anchors + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	ctx->anchors = grown;
	grown[ctx->n_anchors].name = strdup((const char *)name);
	if (!grown[ctx->n_anchors].name)
		return -ENOMEM;
	grown[ctx->n_anchors].node = node;
	ctx->n_anchors++;
	return 0;
}

/* The latest anchor of that name wins, as YAML says. */
static const struct yt_node *find_anchor(struct parse_ctx *ctx,
					 const char *name)
{
	for (size_t i = ctx->n_anchors; i-- > 0;)
		if (strcmp(ctx->anchors[i].name, name) == 0)
			return ctx->anchors[i].node;
	return NULL;
}

static int copy_tag(struct yt_node *n, const yaml_char_t *tag)
{
	if (!tag)
		return 0;
	n->tag = strdup((const char *)tag);
	return n->tag ? 0 : -ENOMEM;
}

static int parse_node(struct parse_ctx *ctx, yaml_event_t *ev,
		      struct yt_node **out, unsigned depth);

/*
 * Items of a sequence or pairs of a mapping, until END_TYPE. They are
 * gathered in a local array and attached at the end, so N never counts a
 * key whose value is still missing.
 */
static int parse_items(struct parse_ctx *ctx, struct yt_node *n,
		       yaml_event_type_t end_type, unsigned depth)
{
	struct yt_node **items = NULL;
	size_t count = 0;
	int rc;

	for (;;) {
		struct yt_node **grown;
		struct yt_node *child;
		yaml_event_t ev;

		rc = next_event(ctx, &ev);
		if (rc < 0)
			goto out_free_items;
		if (ev.type == end_type) {
			yaml_event_delete(&ev);
			break;
		}
		rc = parse_node(ctx, &ev, &child, depth + 1);
		if (rc < 0)
			goto out_free_items;
		grown = realloc(items, (count + 1) * sizeof(*grown));
		if (!grown) {
			yt_free(child);
			rc = -ENOMEM;
			goto out_free_items;
		}
		items = grown;
		items[count++] = child;
	}
	n->items = items;
	n->n = n->kind == YT_MAPPING ? count / 2 : count;
	return 0;

out_free_items:
	for (size_t i = 0; i < count; i++)
		yt_free(items[i]);
	free(items);
	return rc;
}

/*
 * Build the node that starts with EV (which this function deletes) and
 * everything below it.
 */
static int parse_node(struct parse_ctx *ctx, yaml_event_t *ev,
		      struct yt_node **out, unsigned depth)
{
	const yaml_char_t *anchor = NULL;
	struct yt_node *n = NULL;
	int rc = 0;

	*out = NULL;
	if (depth > YT_MAX_DEPTH) {
		rc = semantic_error(ctx, &ev->start_mark,
				    "nested too deeply");
		goto out_delete_event;
	}
	if (++ctx->n_nodes > YT_MAX_NODES) {
		rc = semantic_error(ctx, &ev->start_mark, "too many nodes");
		goto out_delete_event;
	}

	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		const struct yt_node *target = find_anchor(ctx, name);
		size_t budget = YT_MAX_NODES - ctx->n_nodes;

		if (!target) {
			rc = semantic_error(ctx, &ev->start_mark,
					    "alias names no anchor defined "
					    "before it");
			goto out_delete_event;
		}
		n = copy_counted(target, &budget);
		if (!n) {
			rc = budget ? -ENOMEM
				    : semantic_error(ctx, &ev->start_mark,
						     "aliases expand to too "
						     "many nodes");
			goto out_delete_event;
		}
		ctx->n_nodes = YT_MAX_NODES - budget;
		break;
	}
	case YAML_SCALAR_EVENT:
		n = node_new(YT_SCALAR);
		if (!n)
			goto out_nomem;
		n->length = ev->data.scalar.length;
		n->value = malloc(n->length + 1);
		if (!n->value)
			goto out_nomem;
		memcpy(n->value, ev->data.scalar.value, n->length);
		n->value[n->length] = '\0';
		n->style = ev->data.scalar.style;
		/* A tag the parser only implied is not worth writing back. */
		if (!ev->data.scalar.plain_implicit &&
		    !ev->data.scalar.quoted_implicit &&
		    copy_tag(n, ev->data.scalar.tag) < 0)
			goto out_nomem;
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *tag;
		int implicit;

		n = node_new(is_seq ? YT_SEQUENCE : YT_MAPPING);
		if (!n)
			goto out_nomem;
		tag = is_seq ? ev->data.sequence_start.tag
			     : ev->data.mapping_start.tag;
		implicit = is_seq ? ev->data.sequence_start.implicit
				  : ev->data.mapping_start.implicit;
		anchor = is_seq ? ev->data.sequence_start.anchor
				: ev->data.mapping_start.anchor;
		n->flow = is_seq ? ev->data.sequence_start.style ==
					   YAML_FLOW_SEQUENCE_STYLE
				 : ev->data.mapping_start.style ==
					   YAML_FLOW_MAPPING_STYLE;
		if (!implicit && copy_tag(n, tag) < 0)
			goto out_nomem;
		break;
	}
	default:
		rc = semantic_error(ctx, &ev->start_mark, "unexpected event");
		goto out_delete_event;
	}
	n->line = ev->start_mark.line + 1;
	n->column = ev->start_mark.column + 1;

	if (n->kind != YT_SCALAR && ev->type != YAML_ALIAS_EVENT) {
		yaml_event_type_t end = n->kind == YT_SEQUENCE
						? YAML_SEQUENCE_END_EVENT
						: YAML_MAPPING_END_EVENT;

		rc = parse_items(ctx, n, end, depth);
		if (rc < 0)
			goto out_free_node;
	}
	rc = remember_anchor(ctx, anchor, n);
	if (rc < 0)
		goto out_free_node;
	yaml_event_delete(ev);
	*out = n;
	return 0;

out_nomem:
	rc = -ENOMEM;
out_free_node:
	yt_free(n);
out_delete_event:
	yaml_event_delete(ev);
	return rc;
}

/* STREAM-START, then one document or none, then STREAM-END. */
static int parse_stream(struct parse_ctx *ctx, struct yt_node **root)
{
	yaml_event_t ev;
	int rc;

	rc = next_event(ctx, &ev);
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);

	rc = next_event(ctx, &ev);
	if (rc < 0)
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);

	rc = next_event(ctx, &ev);
	if (rc < 0)
		return rc;
	rc = parse_node(ctx, &ev, root, 0);
	if (rc < 0)
		return rc;

	rc = next_event(ctx, &ev);	/* DOCUMENT-END */
	if (rc < 0)
		goto out_free_root;
	yaml_event_delete(&ev);

	rc = next_event(ctx, &ev);
	if (rc < 0)
		goto out_free_root;
	if (ev.type != YAML_STREAM_END_EVENT) {
		rc = semantic_error(ctx, &ev.start_mark,
				    "a second YAML document; this file must "
				    "hold exactly one");
		yaml_event_delete(&ev);
		goto out_free_root;
	}
	yaml_event_delete(&ev);
	return 0;

out_free_root:
	yt_free(*root);
	*root = NULL;
	return rc;
}

int yt_parse_buffer(const char *buf, size_t len, const char *name,
		    struct yt_node **root, char *err, size_t errlen)
{
	struct parse_ctx ctx = {
		.name = name,
		.err = err,
		.errlen = errlen,
	};
	int rc;

	*root = NULL;
	if (!yaml_parser_initialize(&ctx.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&ctx.parser, (const unsigned char *)buf,
				     len);
	rc = parse_stream(&ctx, root);

	for (size_t i = 0; i < ctx.n_anchors; i++)
		free(ctx.anchors[i].name);
	free(ctx.anchors);
	yaml_parser_delete(&ctx.parser);
	return rc;
}

int yt_parse_file(const char *path, struct yt_node **root, char *err,
		  size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int rc;

	*root = NULL;
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		if (rc != -ENOENT)
			set_err(err, errlen, "cannot read %s: %s", path,
				strerror(errno));
		return rc;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			char *grown = realloc(buf, cap ? 2 * cap : 4096);

			if (!grown) {
				rc = -ENOMEM;
				goto out_free_buf;
			}
			buf = grown;
			cap = cap ? 2 * cap : 4096;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		set_err(err, errlen, "cannot read %s", path);
		goto out_free_buf;
	}
	rc = yt_parse_buffer(buf, len, path, root, err, errlen);

out_free_buf:
	free(buf);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------------------
 * Emitting
 */

static int emit_event(yaml_emitter_t *em, yaml_event_t *ev)
{
	if (!yaml_emitter_emit(em, ev))
		return em->error == YAML_WRITER_ERROR ? -EIO : -EINVAL;
	return 0;
}

static int emit_node(yaml_emitter_t *em, const struct yt_node *n)
{
	yaml_char_t *tag = (yaml_char_t *)n->tag;
	yaml_event_t ev;
	int ok, rc;

	switch (n->kind) {
	case YT_SCALAR:
		ok = yaml_scalar_event_initialize(
			&ev, NULL, tag, (yaml_char_t *)n->value,
			(int)n->length, !tag, !tag,
			(yaml_scalar_style_t)n->style);
		return ok ? emit_event(em, &ev) : -ENOMEM;
	case YT_SEQUENCE:
		ok = yaml_sequence_start_event_initialize(
			&ev, NULL, tag, !tag,
			n->flow ? YAML_FLOW_SEQUENCE_STYLE
				: YAML_BLOCK_SEQUENCE_STYLE);
		break;
	case YT_MAPPING:
		ok = yaml_mapping_start_event_initialize(
			&ev, NULL, tag, !tag,
			n->flow ? YAML_FLOW_MAPPING_STYLE
				: YAML_BLOCK_MAPPING_STYLE);
		break;
	default:
		return -EINVAL;
	}
	if (!ok)
		return -ENOMEM;
	rc = emit_event(em, &ev);
	if (rc < 0)
		return rc;

	for (size_t i = 0; i < item_count(n); i++) {
		rc = emit_node(em, n->items[i]);
		if (rc < 0)
			return rc;
	}

	if (n->kind == YT_SEQUENCE)
		ok = yaml_sequence_end_event_initialize(&ev);
	else
		ok = yaml_mapping_end_event_initialize(&ev);
	return ok ? emit_event(em, &ev) : -ENOMEM;
}

int yt_emit(const struct yt_node *root, FILE *out)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output_file(&em, out);
	yaml_emitter_set_unicode(&em, 1);
	/* Long URLs and tokens stay on one line. */
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	rc = emit_event(&em, &ev);
	if (rc < 0)
		goto out_delete_emitter;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	rc = emit_event(&em, &ev);
	if (rc < 0)
		goto out_delete_emitter;

	if (root) {
		rc = emit_node(&em, root);
	} else {
		/* No document content: an empty mapping keeps it valid. */
		struct yt_node empty = { .kind = YT_MAPPING, .flow = true };

		rc = emit_node(&em, &empty);
	}
	if (rc < 0)
		goto out_delete_emitter;

	yaml_document_end_event_initialize(&ev, 1);
	rc = emit_event(&em, &ev);
	if (rc < 0)
		goto out_delete_emitter;
	yaml_stream_end_event_initialize(&ev);
	rc = emit_event(&em, &ev);
	if (rc == 0 && (!yaml_emitter_flush(&em) || ferror(out)))
		rc = -EIO;

out_delete_emitter:
	yaml_emitter_delete(&em);
	return rc;
}
