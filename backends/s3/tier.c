/*
 * tier.c - the s3 backend's local tier (see tier.h).
 *
 * The tier is another storage backend (filesystem or tmpfs) that the
 * core found by name and that this module drives through its vtable like
 * the daemon would: no code of it is linked in. Its own cap and eviction
 * (max-size) keep it small; what it evicts is still in the bucket.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier.h"
#include "util.h"

#define MOD "s3"

/* One copy moves through a buffer of this size. */
#define COPY_CHUNK (8u << 20)

struct s3_tier {
	const struct vkdr_host *host;
	const struct vkdr_storage_ops *ops;
	const char *name;
	void *state;
	uint64_t max_size; /* 0: the backend's own default */
	int warned;	   /* atomic: a failed copy was logged */
};

int tier_open(const struct vkdr_host *host, const char *name, const char *path,
	      const char *max_size, struct s3_tier **out)
{
	struct vkdr_option opts[2];
	char dflt[4096];
	struct s3_tier *t;
	size_t n = 0;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->host = host;
	t->name = strcmp(name, "tmpfs") ? "filesystem" : "tmpfs";
	t->ops = host->storage_find(t->name);
	if (!t->ops) {
		vkdr_log_err(host, MOD,
			     "local=%s: no such storage backend is loaded",
			     t->name);
		rc = -ENOENT;
		goto out_free_tier;
	}
	if (max_size &&
	    (backend_parse_size(max_size, &t->max_size) < 0 || !t->max_size)) {
		vkdr_log_err(host, MOD,
			     "bad value \"%s\" for option local-max-size",
			     max_size);
		rc = -EINVAL;
		goto out_free_tier;
	}
	if (!strcmp(t->name, "filesystem")) {
		if (!path) {
			snprintf(dflt, sizeof(dflt), "%s/s3-local",
				 host->home());
			path = dflt;
		}
		opts[n++] =
			(struct vkdr_option){ .key = "path", .value = path };
	} else if (path) {
		vkdr_log_err(host, MOD,
			     "local-path is for local=filesystem; "
			     "local=tmpfs keeps its copies in memory");
		rc = -EINVAL;
		goto out_free_tier;
	}
	if (max_size)
		opts[n++] = (struct vkdr_option){ .key = "max-size",
						  .value = max_size };
	rc = t->ops->open(host, opts, n, &t->state);
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot open the local tier (%s): %s",
			     t->name, strerror(-rc));
		goto out_free_tier;
	}
	vkdr_log_info(host, MOD, "local tier: %s%s%s%s%s", t->name,
		      path ? " in " : "", path ? path : "",
		      max_size ? ", max-size " : "", max_size ? max_size : "");
	*out = t;
	return 0;

out_free_tier:
	free(t);
	return rc;
}

void tier_close(struct s3_tier *t)
{
	if (!t)
		return;
	t->ops->close(t->state);
	free(t);
}

bool tier_wants(const char *key)
{
	return !strncmp(key, "blobs/", 6);
}

int tier_stat(struct s3_tier *t, const char *key, struct vkdr_object_info *info)
{
	return t->ops->stat(t->state, key, info);
}

int tier_get(struct s3_tier *t, const char *key, struct vkdr_object *obj)
{
	return t->ops->get(t->state, key, obj);
}

ssize_t tier_read(struct s3_tier *t, struct vkdr_object *obj, uint64_t off,
		  void *buf, size_t len)
{
	return t->ops->read(t->state, obj, off, buf, len);
}

void tier_release(struct s3_tier *t, struct vkdr_object *obj)
{
	t->ops->release(t->state, obj);
}

int tier_remove(struct s3_tier *t, const char *key)
{
	return t->ops->remove(t->state, key);
}

/* Log a failed copy once: the tier is an optimisation, not the cache. */
static void copy_failed(struct s3_tier *t, const char *key, int rc)
{
	if (!__atomic_exchange_n(&t->warned, 1, __ATOMIC_ACQ_REL))
		vkdr_log_warn(t->host, MOD,
			      "local tier (%s): cannot keep a copy of %s: %s; "
			      "serving from the bucket (logged once)",
			      t->name, key, strerror(-rc));
	else
		vkdr_log_debug(t->host, MOD, "local tier: no copy of %s: %s",
			       key, strerror(-rc));
}

int tier_copy(struct s3_tier *t, const char *key, uint64_t size,
	      tier_source_fn src, void *arg)
{
	uint64_t off = 0;
	void *writer;
	char *buf;
	size_t want;
	ssize_t n;
	int rc;

	if (t->max_size && size > t->max_size)
		return -EFBIG;
	buf = malloc(size < COPY_CHUNK ? (size ? size : 1) : COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	rc = t->ops->put_begin(t->state, key, size, &writer);
	if (rc == -ENOSPC) {
		/* Larger than the backend's default cap. */
		rc = -EFBIG;
		goto out_free_buf;
	}
	if (rc < 0) {
		copy_failed(t, key, rc);
		goto out_free_buf;
	}
	while (off < size) {
		want = size - off < COPY_CHUNK ? (size_t)(size - off)
					       : COPY_CHUNK;
		n = src(arg, off, buf, want);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			goto out_abort;
		}
		rc = t->ops->put_write(t->state, writer, buf, (size_t)n);
		if (rc < 0)
			goto out_abort;
		off += (uint64_t)n;
	}
	rc = t->ops->put_commit(t->state, writer);
	if (rc < 0)
		copy_failed(t, key, rc);
	goto out_free_buf;

out_abort:
	t->ops->put_abort(t->state, writer);
	copy_failed(t, key, rc);
out_free_buf:
	free(buf);
	return rc;
}
