/*
 * tmpfs.c - the "tmpfs" storage backend: a volatile cache in memory.
 *
 * Every object is a memfd, so get() can hand out a file descriptor the
 * daemon sends with sendfile() exactly as it does for the filesystem
 * backend. A committed memfd is sealed against writes and resizing, so
 * what a reader was given cannot change under it.
 *
 * Memory is capped by max-size (default 1GiB), and the cap is hard: a
 * writer reserves room before each write, evicting the least recently
 * used objects that nobody is reading, and gets -ENOSPC when even that
 * does not make room. The bytes counted against the cap are those of the
 * visible objects, of the writes in progress, and of objects removed or
 * replaced while still being read, which keep their memory until their
 * last release().
 *
 * Locking: one mutex guards the table, the LRU list and the counters. It
 * is never held across a write into a memfd or a walk callback.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vkdr/module.h>

#include "util.h"

#define TMPFS_NAME "tmpfs"
#define TMPFS_DEFAULT_MAX_SIZE (1ULL << 30)

struct tmpfs_object {
	struct tmpfs_object *hash_next;
	/* LRU list: NEWER towards the last used, OLDER towards eviction. */
	struct tmpfs_object *newer;
	struct tmpfs_object *older;
	int fd;
	uint64_t size;
	int64_t mtime;
	int64_t atime;
	/* get() handles not yet released. */
	unsigned readers;
	/* False once removed, replaced or evicted; freed at last release. */
	bool visible;
	char key[];
};

struct tmpfs_store {
	const struct vkdr_host *host;
	uint64_t max_size;

	pthread_mutex_t lock;
	struct tmpfs_object **buckets;
	size_t n_buckets;
	uint64_t n_objects;
	uint64_t visible_bytes;
	/* Writes in progress, and dropped objects still being read. */
	uint64_t pending_bytes;
	struct tmpfs_object *newest;
	struct tmpfs_object *oldest;
};

struct tmpfs_writer {
	int fd;
	uint64_t written;
	char key[];
};

static uint64_t key_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct tmpfs_object **bucket_of(struct tmpfs_store *st, const char *key)
{
	return &st->buckets[key_hash(key) & (st->n_buckets - 1)];
}

static struct tmpfs_object *find_locked(struct tmpfs_store *st,
					const char *key)
{
	struct tmpfs_object *o;

	for (o = *bucket_of(st, key); o; o = o->hash_next)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

/* Double the table when it gets crowded; failing to grow is harmless. */
static void maybe_grow_locked(struct tmpfs_store *st)
{
	struct tmpfs_object **old = st->buckets;
	size_t n_old = st->n_buckets;

	if (st->n_objects < st->n_buckets)
		return;
	st->buckets = calloc(n_old * 2, sizeof(*st->buckets));
	if (!st->buckets) {
		st->buckets = old;
		return;
	}
	st->n_buckets = n_old * 2;
	for (size_t i = 0; i < n_old; i++) {
		struct tmpfs_object *o = old[i], *next;

		for (; o; o = next) {
			struct tmpfs_object **b = bucket_of(st, o->key);

			next = o->hash_next;
			o->hash_next = *b;
			*b = o;
		}
	}
	free(old);
}

static void lru_unlink(struct tmpfs_store *st, struct tmpfs_object *o)
{
	if (o->newer)
		o->newer->older = o->older;
	else
		st->newest = o->older;
	if (o->older)
		o->older->newer = o->newer;
	else
		st->oldest = o->newer;
	o->newer = o->older = NULL;
}

static void lru_push_newest(struct tmpfs_store *st, struct tmpfs_object *o)
{
	o->older = st->newest;
	o->newer = NULL;
	if (st->newest)
		st->newest->newer = o;
	st->newest = o;
	if (!st->oldest)
		st->oldest = o;
}

static void free_object(struct tmpfs_object *o)
{
	close(o->fd);
	free(o);
}

/*
 * Take O out of the table. Its memory goes now, or, when it is being
 * read, at its last release(), and is counted as pending until then.
 */
static void drop_locked(struct tmpfs_store *st, struct tmpfs_object *o)
{
	struct tmpfs_object **b = bucket_of(st, o->key);

	while (*b != o)
		b = &(*b)->hash_next;
	*b = o->hash_next;
	lru_unlink(st, o);
	o->visible = false;
	st->visible_bytes -= o->size;
	st->n_objects--;
	if (o->readers)
		st->pending_bytes += o->size;
	else
		free_object(o);
}

/*
 * Evict least recently used objects nobody reads until what the store
 * holds plus NEED fits in LIMIT. Returns the bytes freed, or -ENOSPC when
 * the rest is in use and it still does not fit.
 */
static int64_t evict_locked(struct tmpfs_store *st, uint64_t limit,
			    uint64_t need, bool count_pending)
{
	struct tmpfs_object *o = st->oldest;
	uint64_t freed = 0;

	for (;;) {
		uint64_t held = st->visible_bytes +
				(count_pending ? st->pending_bytes : 0);
		struct tmpfs_object *newer;

		if (held <= limit && need <= limit - held)
			return (int64_t)freed;
		while (o && o->readers)
			o = o->newer;
		if (!o)
			return -ENOSPC;
		newer = o->newer;
		freed += o->size;
		drop_locked(st, o);
		o = newer;
	}
}

/*
 * True when evicting every object nobody reads would make room for NEED
 * more bytes under the cap; checked first so that a write that cannot
 * fit anyway does not empty the cache for nothing.
 */
static bool room_possible_locked(const struct tmpfs_store *st, uint64_t need)
{
	uint64_t pinned = st->pending_bytes;

	for (const struct tmpfs_object *o = st->oldest; o; o = o->newer)
		if (o->readers)
			pinned += o->size;
	return pinned <= st->max_size && need <= st->max_size - pinned;
}

static int64_t now_seconds(void)
{
	return (int64_t)time(NULL);
}

static int tmpfs_open(const struct vkdr_host *host,
		      const struct vkdr_option *opts, size_t n_opts,
		      void **state)
{
	struct tmpfs_store *st;
	int rc = 0;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->max_size = TMPFS_DEFAULT_MAX_SIZE;

	for (size_t i = 0; i < n_opts; i++) {
		const char *value = opts[i].value ? opts[i].value : "";

		if (strcmp(opts[i].key, "max-size") != 0) {
			vkdr_log_err(host, TMPFS_NAME,
				     "unknown option '%s' (known: max-size)",
				     opts[i].key);
			rc = -EINVAL;
		} else if (backend_parse_size(value, &st->max_size) < 0 ||
			   st->max_size == 0) {
			vkdr_log_err(host, TMPFS_NAME,
				     "max-size '%s' is not a size above 0 (500MiB, 2G)",
				     value);
			rc = -EINVAL;
		}
	}
	if (rc < 0)
		goto out_free_store;

	st->n_buckets = 64;
	st->buckets = calloc(st->n_buckets, sizeof(*st->buckets));
	if (!st->buckets) {
		rc = -ENOMEM;
		goto out_free_store;
	}
	pthread_mutex_init(&st->lock, NULL);
	*state = st;
	return 0;

out_free_store:
	free(st);
	return rc;
}

static void tmpfs_close(void *state)
{
	struct tmpfs_store *st = state;
	struct tmpfs_object *o, *older;

	if (!st)
		return;
	for (o = st->newest; o; o = older) {
		older = o->older;
		if (o->readers)
			vkdr_log_warn(st->host, TMPFS_NAME,
				      "closing while %s is still open", o->key);
		free_object(o);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->buckets);
	free(st);
}

static void fill_info(const struct tmpfs_object *o,
		      struct vkdr_object_info *info)
{
	info->size = o->size;
	info->mtime = o->mtime;
	info->atime = o->atime;
}

static int tmpfs_stat(void *state, const char *key,
		      struct vkdr_object_info *info)
{
	struct tmpfs_store *st = state;
	struct tmpfs_object *o;
	int rc = -ENOENT;

	if (!backend_key_valid(key))
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	o = find_locked(st, key);
	if (o) {
		fill_info(o, info);
		rc = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int tmpfs_get(void *state, const char *key, struct vkdr_object *obj)
{
	struct tmpfs_store *st = state;
	struct tmpfs_object *o;
	int fd, rc = 0;

	if (!backend_key_valid(key))
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	o = find_locked(st, key);
	if (!o) {
		rc = -ENOENT;
		goto out_unlock;
	}
	/* Each reader gets a descriptor of its own to close. */
	fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out_unlock;
	}
	o->readers++;
	o->atime = now_seconds();
	lru_unlink(st, o);
	lru_push_newest(st, o);

	obj->fd = fd;
	obj->offset = 0;
	obj->size = o->size;
	obj->priv = o;
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static ssize_t tmpfs_read(void *state, struct vkdr_object *obj, uint64_t off,
			  void *buf, size_t len)
{
	return backend_read_fd(obj, off, buf, len);
}

static void tmpfs_release(void *state, struct vkdr_object *obj)
{
	struct tmpfs_store *st = state;
	struct tmpfs_object *o = obj->priv;

	if (obj->fd >= 0)
		close(obj->fd);
	obj->fd = -1;
	obj->priv = NULL;
	if (!o)
		return;

	pthread_mutex_lock(&st->lock);
	o->readers--;
	if (!o->visible && !o->readers) {
		st->pending_bytes -= o->size;
		free_object(o);
	}
	pthread_mutex_unlock(&st->lock);
}

static int tmpfs_put_begin(void *state, const char *key, uint64_t size_hint,
			   void **writer)
{
	struct tmpfs_store *st = state;
	struct tmpfs_writer *w;
	int rc;

	if (!backend_key_valid(key))
		return -EINVAL;
	if (size_hint > st->max_size)
		return -ENOSPC;
	w = malloc(sizeof(*w) + strlen(key) + 1);
	if (!w)
		return -ENOMEM;
	strcpy(w->key, key);
	w->written = 0;
	w->fd = memfd_create("vkdr-tmpfs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (w->fd < 0) {
		rc = -errno;
		vkdr_log_err(st->host, TMPFS_NAME, "memfd_create: %s",
			     strerror(-rc));
		free(w);
		return rc;
	}
	*writer = w;
	return 0;
}

static int tmpfs_put_write(void *state, void *writer, const void *buf,
			   size_t len)
{
	struct tmpfs_store *st = state;
	struct tmpfs_writer *w = writer;
	const char *p = buf;
	int64_t rc;

	if (len > st->max_size - w->written)
		return -ENOSPC;

	pthread_mutex_lock(&st->lock);
	rc = -ENOSPC;
	if (st->visible_bytes + st->pending_bytes + len <= st->max_size ||
	    room_possible_locked(st, len))
		rc = evict_locked(st, st->max_size, len, true);
	if (rc >= 0)
		st->pending_bytes += len;
	pthread_mutex_unlock(&st->lock);
	if (rc < 0)
		return (int)rc;

	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			pthread_mutex_lock(&st->lock);
			st->pending_bytes -= len;
			pthread_mutex_unlock(&st->lock);
			return (int)rc;
		}
		p += n;
		len -= (size_t)n;
		w->written += (uint64_t)n;
	}
	return 0;
}

static void tmpfs_put_abort(void *state, void *writer)
{
	struct tmpfs_store *st = state;
	struct tmpfs_writer *w = writer;

	if (!w)
		return;
	pthread_mutex_lock(&st->lock);
	st->pending_bytes -= w->written;
	pthread_mutex_unlock(&st->lock);
	close(w->fd);
	free(w);
}

static int tmpfs_put_commit(void *state, void *writer)
{
	struct tmpfs_store *st = state;
	struct tmpfs_writer *w = writer;
	struct tmpfs_object *o, *old;
	struct tmpfs_object **b;

	/* Readers must see exactly what was committed, forever. */
	if (fcntl(w->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
					      F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int rc = -errno;

		tmpfs_put_abort(st, w);
		return rc;
	}
	o = calloc(1, sizeof(*o) + strlen(w->key) + 1);
	if (!o) {
		tmpfs_put_abort(st, w);
		return -ENOMEM;
	}
	strcpy(o->key, w->key);
	o->fd = w->fd;
	o->size = w->written;
	o->mtime = o->atime = now_seconds();
	o->visible = true;

	pthread_mutex_lock(&st->lock);
	old = find_locked(st, o->key);
	if (old)
		drop_locked(st, old);
	st->pending_bytes -= o->size;
	st->visible_bytes += o->size;
	st->n_objects++;
	b = bucket_of(st, o->key);
	o->hash_next = *b;
	*b = o;
	lru_push_newest(st, o);
	maybe_grow_locked(st);
	pthread_mutex_unlock(&st->lock);

	free(w);
	return 0;
}

static int tmpfs_remove(void *state, const char *key)
{
	struct tmpfs_store *st = state;
	struct tmpfs_object *o;
	int rc = 0;

	if (!backend_key_valid(key))
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	o = find_locked(st, key);
	if (o)
		drop_locked(st, o);
	else
		rc = -ENOENT;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

struct tmpfs_walk_item {
	char *key;
	struct vkdr_object_info info;
};

/*
 * The matching objects are copied out under the lock and FN is called
 * without it, so FN may use the store, e.g. remove what it is shown.
 */
static int tmpfs_walk(void *state, const char *prefix,
		      int (*fn)(void *arg, const char *key,
				const struct vkdr_object_info *info),
		      void *arg)
{
	struct tmpfs_store *st = state;
	struct tmpfs_walk_item *items;
	size_t prefix_len, n = 0;
	int rc = 0;

	prefix = prefix ? prefix : "";
	prefix_len = strlen(prefix);

	pthread_mutex_lock(&st->lock);
	items = calloc(st->n_objects ? st->n_objects : 1, sizeof(*items));
	if (!items) {
		pthread_mutex_unlock(&st->lock);
		return -ENOMEM;
	}
	for (struct tmpfs_object *o = st->oldest; o; o = o->newer) {
		if (strncmp(o->key, prefix, prefix_len) != 0)
			continue;
		items[n].key = strdup(o->key);
		if (!items[n].key) {
			rc = -ENOMEM;
			break;
		}
		fill_info(o, &items[n].info);
		n++;
	}
	pthread_mutex_unlock(&st->lock);

	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(arg, items[i].key, &items[i].info);
	for (size_t i = 0; i < n; i++)
		free(items[i].key);
	free(items);
	return rc;
}

static int64_t tmpfs_trim(void *state, uint64_t max_bytes)
{
	struct tmpfs_store *st = state;
	int64_t freed;

	pthread_mutex_lock(&st->lock);
	freed = evict_locked(st, max_bytes, 0, false);
	pthread_mutex_unlock(&st->lock);
	/* Objects being read stay; what could be freed was. */
	return freed == -ENOSPC ? 0 : freed;
}

static int tmpfs_usage(void *state, uint64_t *bytes, uint64_t *objects)
{
	struct tmpfs_store *st = state;

	pthread_mutex_lock(&st->lock);
	*bytes = st->visible_bytes;
	*objects = st->n_objects;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

static const struct vkdr_storage_ops tmpfs_ops = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.open = tmpfs_open,
	.close = tmpfs_close,
	.stat = tmpfs_stat,
	.get = tmpfs_get,
	.read = tmpfs_read,
	.release = tmpfs_release,
	.put_begin = tmpfs_put_begin,
	.put_write = tmpfs_put_write,
	.put_commit = tmpfs_put_commit,
	.put_abort = tmpfs_put_abort,
	.remove = tmpfs_remove,
	.walk = tmpfs_walk,
	.trim = tmpfs_trim,
	.usage = tmpfs_usage,
	.redirect_url = NULL,
};

static const struct vkdr_module tmpfs_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_STORAGE,
	.name = TMPFS_NAME,
	.version = PACKAGE_VERSION,
	.description = "cache objects in memory, lost when the daemon stops",
	.ops = &tmpfs_ops,
};

VKDR_MODULE_DEFINE(tmpfs_module);
