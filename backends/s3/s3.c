/*
 * s3.c - the "s3" storage backend: the cache in an S3 bucket. This first
 * version only registers the module; open() refuses every store.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include <vkdr/module.h>

static int s3_open(const struct vkdr_host *host,
		   const struct vkdr_option *opts, size_t n_opts, void **state)
{
	(void)opts;
	(void)n_opts;
	(void)state;
	vkdr_log_err(host, "s3", "the s3 backend is not built yet");
	return -ENOTSUP;
}

static void s3_close(void *state)
{
	(void)state;
}

static int s3_stat(void *state, const char *key,
		   struct vkdr_object_info *info)
{
	(void)state;
	(void)key;
	(void)info;
	return -ENOTSUP;
}

static int s3_get(void *state, const char *key, struct vkdr_object *obj)
{
	(void)state;
	(void)key;
	(void)obj;
	return -ENOTSUP;
}

static ssize_t s3_read(void *state, struct vkdr_object *obj, uint64_t off,
		       void *buf, size_t len)
{
	(void)state;
	(void)obj;
	(void)off;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

static void s3_release(void *state, struct vkdr_object *obj)
{
	(void)state;
	(void)obj;
}

static int s3_put_begin(void *state, const char *key, uint64_t size_hint,
			void **writer)
{
	(void)state;
	(void)key;
	(void)size_hint;
	(void)writer;
	return -ENOTSUP;
}

static int s3_put_write(void *state, void *writer, const void *buf,
			size_t len)
{
	(void)state;
	(void)writer;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

static int s3_put_commit(void *state, void *writer)
{
	(void)state;
	(void)writer;
	return -ENOTSUP;
}

static void s3_put_abort(void *state, void *writer)
{
	(void)state;
	(void)writer;
}

static int s3_remove(void *state, const char *key)
{
	(void)state;
	(void)key;
	return -ENOTSUP;
}

static int s3_walk(void *state, const char *prefix,
		   int (*fn)(void *arg, const char *key,
			     const struct vkdr_object_info *info),
		   void *arg)
{
	(void)state;
	(void)prefix;
	(void)fn;
	(void)arg;
	return -ENOTSUP;
}

static const struct vkdr_storage_ops s3_ops = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.open = s3_open,
	.close = s3_close,
	.stat = s3_stat,
	.get = s3_get,
	.read = s3_read,
	.release = s3_release,
	.put_begin = s3_put_begin,
	.put_write = s3_put_write,
	.put_commit = s3_put_commit,
	.put_abort = s3_put_abort,
	.remove = s3_remove,
	.walk = s3_walk,
};

static const struct vkdr_module s3_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_STORAGE,
	.name = "s3",
	.version = "0.1",
	.description = "cache in an S3 bucket (AWS S3, MinIO, Ceph RGW)",
	.ops = &s3_ops,
};

VKDR_MODULE_DEFINE(s3_module);
