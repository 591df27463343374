/*
 * faulty.c - the "faulty" storage backend, for tests only.
 *
 * It is the filesystem store (fsstore.c, compiled in) behind a thin layer
 * that breaks on request, so the daemon's error paths can be driven from a
 * test without filling a disk or flipping bits by hand. Options, besides
 * the filesystem store's own "path" and "max-size":
 *
 *   enospc-after=SIZE  put_write() fails with -ENOSPC once the writes of
 *                      this store would pass SIZE bytes in total
 *   fail-get=1         get() fails with -EIO
 *   corrupt-read=1     get() and read() hand out every byte complemented
 *
 * "path" defaults to host->home()/faulty-cache, never the real cache.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fsstore.h"
#include "util.h"

#define FAULTY_NAME "faulty"
#define MAX_OPTIONS 16

struct faulty_store {
	void *inner;
	bool enospc;
	uint64_t enospc_after;
	bool fail_get;
	bool corrupt_read;

	pthread_mutex_t lock;
	uint64_t written;
};

/* The priv of an object that is a corrupted copy, not the store's own. */
static char corrupted_copy;

static int parse_flag(const struct vkdr_host *host, const char *key,
		      const char *value, bool *out)
{
	if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0) {
		*out = false;
		return 0;
	}
	vkdr_log_err(host, FAULTY_NAME, "option %s: '%s' is not 0 or 1", key,
		     value);
	return -EINVAL;
}

static int faulty_open(const struct vkdr_host *host,
		       const struct vkdr_option *opts, size_t n_opts,
		       void **state)
{
	struct vkdr_option inner_opts[MAX_OPTIONS + 1];
	char default_path[4096];
	struct faulty_store *st;
	size_t n_inner = 0;
	bool has_path = false;
	int rc = 0;

	if (n_opts > MAX_OPTIONS)
		return -E2BIG;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;

	for (size_t i = 0; i < n_opts && rc == 0; i++) {
		const char *key = opts[i].key;
		const char *value = opts[i].value ? opts[i].value : "";

		if (strcmp(key, "enospc-after") == 0) {
			st->enospc = true;
			rc = backend_parse_size(value, &st->enospc_after);
			if (rc < 0)
				vkdr_log_err(host, FAULTY_NAME,
					     "option enospc-after: '%s' is not a size",
					     value);
		} else if (strcmp(key, "fail-get") == 0) {
			rc = parse_flag(host, key, value, &st->fail_get);
		} else if (strcmp(key, "corrupt-read") == 0) {
			rc = parse_flag(host, key, value, &st->corrupt_read);
		} else {
			has_path = has_path || strcmp(key, "path") == 0;
			inner_opts[n_inner++] = opts[i];
		}
	}
	if (rc < 0)
		goto out_free_store;

	if (!has_path) {
		rc = snprintf(default_path, sizeof(default_path),
			      "%s/faulty-cache", host->home());
		if (rc < 0 || (size_t)rc >= sizeof(default_path)) {
			rc = -ENAMETOOLONG;
			goto out_free_store;
		}
		inner_opts[n_inner].key = "path";
		inner_opts[n_inner++].value = default_path;
	}
	rc = fsstore_open(host, FAULTY_NAME, inner_opts, n_inner, &st->inner);
	if (rc < 0)
		goto out_free_store;
	pthread_mutex_init(&st->lock, NULL);
	*state = st;
	return 0;

out_free_store:
	free(st);
	return rc;
}

static void faulty_close(void *state)
{
	struct faulty_store *st = state;

	if (!st)
		return;
	fsstore_ops.close(st->inner);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static int faulty_stat(void *state, const char *key,
		       struct vkdr_object_info *info)
{
	struct faulty_store *st = state;

	return fsstore_ops.stat(st->inner, key, info);
}

/*
 * Replace OBJ, just opened by the filesystem store, with an in-memory
 * copy of its bytes complemented, so that both sendfile() from the fd and
 * read() hand out the corrupted bytes.
 */
static int corrupt_object(struct faulty_store *st, struct vkdr_object *obj)
{
	struct vkdr_object copy = {
		.fd = -1,
		.priv = &corrupted_copy,
		.size = obj->size,
	};
	unsigned char buf[65536];
	uint64_t off = 0;
	int rc;

	copy.fd = memfd_create("vkdr-faulty", MFD_CLOEXEC);
	if (copy.fd < 0) {
		rc = -errno;
		goto out_release;
	}
	while (off < obj->size) {
		ssize_t n = fsstore_ops.read(st->inner, obj, off, buf,
					     sizeof(buf));

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			goto out_close_copy;
		}
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (unsigned char)~buf[i];
		if (pwrite(copy.fd, buf, (size_t)n, (off_t)off) != n) {
			rc = -EIO;
			goto out_close_copy;
		}
		off += (uint64_t)n;
	}
	fsstore_ops.release(st->inner, obj);
	*obj = copy;
	return 0;

out_close_copy:
	close(copy.fd);
out_release:
	fsstore_ops.release(st->inner, obj);
	return rc;
}

static int faulty_get(void *state, const char *key, struct vkdr_object *obj)
{
	struct faulty_store *st = state;
	int rc;

	if (st->fail_get)
		return -EIO;
	rc = fsstore_ops.get(st->inner, key, obj);
	if (rc < 0 || !st->corrupt_read)
		return rc;
	return corrupt_object(st, obj);
}

static ssize_t faulty_read(void *state, struct vkdr_object *obj,
			   uint64_t off, void *buf, size_t len)
{
	struct faulty_store *st = state;

	/* The filesystem store reads any object by its fd, a copy too. */
	return fsstore_ops.read(st->inner, obj, off, buf, len);
}

static void faulty_release(void *state, struct vkdr_object *obj)
{
	struct faulty_store *st = state;

	if (obj->priv != &corrupted_copy) {
		fsstore_ops.release(st->inner, obj);
		return;
	}
	close(obj->fd);
	obj->fd = -1;
	obj->priv = NULL;
}

static int faulty_put_begin(void *state, const char *key, uint64_t size_hint,
			    void **writer)
{
	struct faulty_store *st = state;

	return fsstore_ops.put_begin(st->inner, key, size_hint, writer);
}

static int faulty_put_write(void *state, void *writer, const void *buf,
			    size_t len)
{
	struct faulty_store *st = state;
	bool full;

	pthread_mutex_lock(&st->lock);
	full = st->enospc && len > st->enospc_after - st->written;
	if (!full)
		st->written += len;
	pthread_mutex_unlock(&st->lock);
	if (full)
		return -ENOSPC;
	return fsstore_ops.put_write(st->inner, writer, buf, len);
}

static int faulty_put_commit(void *state, void *writer)
{
	struct faulty_store *st = state;

	return fsstore_ops.put_commit(st->inner, writer);
}

static void faulty_put_abort(void *state, void *writer)
{
	struct faulty_store *st = state;

	fsstore_ops.put_abort(st->inner, writer);
}

static int faulty_remove(void *state, const char *key)
{
	struct faulty_store *st = state;

	return fsstore_ops.remove(st->inner, key);
}

static int faulty_walk(void *state, const char *prefix,
		       int (*fn)(void *arg, const char *key,
				 const struct vkdr_object_info *info),
		       void *arg)
{
	struct faulty_store *st = state;

	return fsstore_ops.walk(st->inner, prefix, fn, arg);
}

static int64_t faulty_trim(void *state, uint64_t max_bytes)
{
	struct faulty_store *st = state;

	return fsstore_ops.trim(st->inner, max_bytes);
}

static int faulty_usage(void *state, uint64_t *bytes, uint64_t *objects)
{
	struct faulty_store *st = state;

	return fsstore_ops.usage(st->inner, bytes, objects);
}

static const struct vkdr_storage_ops faulty_ops = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.open = faulty_open,
	.close = faulty_close,
	.stat = faulty_stat,
	.get = faulty_get,
	.read = faulty_read,
	.release = faulty_release,
	.put_begin = faulty_put_begin,
	.put_write = faulty_put_write,
	.put_commit = faulty_put_commit,
	.put_abort = faulty_put_abort,
	.remove = faulty_remove,
	.walk = faulty_walk,
	.trim = faulty_trim,
	.usage = faulty_usage,
	.redirect_url = NULL,
};

static const struct vkdr_module faulty_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_STORAGE,
	.name = FAULTY_NAME,
	.version = PACKAGE_VERSION,
	.description = "filesystem store with injected faults, for tests only",
	.ops = &faulty_ops,
};

VKDR_MODULE_DEFINE(faulty_module);
