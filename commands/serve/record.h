/*
 * record.h - the tag record format and manifest media types, shared by
 * the daemon and the commands that fill its cache (prefetch,
 * import-cache). None of it needs a running daemon.
 */
#ifndef VKDR_SERVE_RECORD_H
#define VKDR_SERVE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <vkdr/module.h>

#include "oci.h"

/* Manifests larger than this are refused, as registries do. */
#define MANIFEST_MAX (4u << 20)

/* Which manifest a tag pointed to for one Accept set, and since when. */
struct tag_record {
	char digest[OCI_DIGEST_LEN + 1];
	char media_type[256];
	uint64_t size;
	int64_t validated;	/* seconds since the epoch */
};

/*
 * Format REC as stored, and parse it back; as written to the store.
 * cache_tag_format returns the length or -ENOSPC; cache_tag_parse 0 or
 * -EINVAL.
 */
int cache_tag_format(const struct tag_record *rec, char *buf, size_t len);
int cache_tag_parse(const char *buf, size_t len, struct tag_record *rec);

/*
 * The media type of the manifest in BUF: its mediaType field, or, for
 * documents without one, what their shape says (an OCI index or image
 * manifest, or a schema 1 manifest). Returns 0 with OUT filled, or
 * -EINVAL when BUF is not a manifest at all.
 */
int cache_manifest_type(const char *buf, size_t len, char *out,
			size_t outlen);

/*
 * Read the whole object at KEY into a new buffer when it holds at most
 * MAX bytes. Returns 0 with *BUF (free it) and *LEN, -ENOENT, -EFBIG, or
 * another negative errno.
 */
int object_read_all(const struct vkdr_storage_ops *store, void *state,
		    const char *key, size_t max, char **buf, size_t *len);

#endif
