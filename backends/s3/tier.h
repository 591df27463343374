/*
 * tier.h - the s3 backend's optional local tier: a filesystem or tmpfs
 * store in front of the bucket that keeps copies of hot blobs, so that
 * they are served from local disk (with sendfile) instead of from the
 * object store. The bucket stays the shared truth; the tier only ever
 * holds copies of what is in it.
 *
 * Only blobs ("blobs/..." keys) go into the tier: they are content
 * addressed and never change, so a copy cannot go stale when another
 * daemon on the same bucket writes. Tag records always come from the
 * bucket.
 */
#ifndef VKDR_S3_TIER_H
#define VKDR_S3_TIER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <vkdr/module.h>

struct s3_tier;

/*
 * Where a copy's bytes come from: up to LEN bytes at OFF into BUF.
 * Returns the count (0 at the end) or a negative errno.
 */
typedef ssize_t (*tier_source_fn)(void *arg, uint64_t off, void *buf,
				  size_t len);

/*
 * Open the local tier: the storage backend NAME ("filesystem" or
 * "tmpfs"), found through the host, with PATH (filesystem only; NULL for
 * $VKDR_HOME/s3-local) and MAX_SIZE (NULL: the backend's default) as its
 * "path" and "max-size" options. Returns 0 with *OUT to free with
 * tier_close(), or a negative errno with a log line.
 */
int tier_open(const struct vkdr_host *host, const char *name, const char *path,
	      const char *max_size, struct s3_tier **out);

/* Close the tier; every object it handed out must be released. */
void tier_close(struct s3_tier *t);

/* True when KEY is one the tier keeps copies of (a blob). */
bool tier_wants(const char *key);

/*
 * The local backend's own slots, for KEY in the tier: 0 or -ENOENT (or
 * another negative errno from the backend). OBJ belongs to the local
 * backend until tier_release().
 */
int tier_stat(struct s3_tier *t, const char *key,
	      struct vkdr_object_info *info);
int tier_get(struct s3_tier *t, const char *key, struct vkdr_object *obj);
ssize_t tier_read(struct s3_tier *t, struct vkdr_object *obj, uint64_t off,
		  void *buf, size_t len);
void tier_release(struct s3_tier *t, struct vkdr_object *obj);
int tier_remove(struct s3_tier *t, const char *key);

/*
 * Copy SIZE bytes read from SRC into the tier under KEY. Best effort: a
 * failure leaves nothing under KEY and is logged once per tier, not per
 * object. Returns 0, -EFBIG when the object is larger than the tier's
 * cap (nothing is logged: it is simply served from the bucket), or the
 * negative errno that stopped the copy.
 */
int tier_copy(struct s3_tier *t, const char *key, uint64_t size,
	      tier_source_fn src, void *arg);

#endif
