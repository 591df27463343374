/*
 * fsstore.c - the filesystem store.
 *
 * An object with key K is the regular file ROOT/K. A write goes to a
 * temporary file in ROOT/tmp, on the same file system, and becomes visible
 * only when put_commit() renames it into place, so a reader sees either
 * the old object or the whole new one, never a part. Temporary files carry
 * the writing process's id in their name, which lets open() tell the
 * leftovers of a process that died from the writes of one that is alive.
 *
 * Last use is the file's access time, set explicitly by get() and commit,
 * so it survives restarts and does not depend on mount options. trim()
 * walks the tree, sorts by that time and unlinks the oldest first.
 *
 * Locking: the files themselves need none (rename is atomic, unlinking an
 * open file is harmless on POSIX). STATE->lock guards the byte and object
 * counters and the list of objects open for reading; it is held only
 * around short system calls, never across a walk or a callback.
 * STATE->trim_lock lets one trim run at a time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fsstore.h"
#include "util.h"

#define TMP_DIR_NAME "tmp"
#define DIR_MODE 0700

/* One object handed out by get() and not yet released. */
struct fs_open_object {
	struct fs_open_object *prev;
	struct fs_open_object *next;
	char key[];
};

struct fs_store {
	const struct vkdr_host *host;
	const char *log_name;
	char root[PATH_MAX];
	char tmp_dir[PATH_MAX];
	uint64_t max_size;

	pthread_mutex_t lock;
	uint64_t bytes;
	uint64_t objects;
	/* Bumped by every commit and remove; tells trim it raced one. */
	uint64_t generation;
	struct fs_open_object *open_objects;

	pthread_mutex_t trim_lock;
};

struct fs_writer {
	int fd;
	uint64_t written;
	char tmp_path[PATH_MAX];
	char key[];
};

/* Called for every committed object a tree walk meets. */
typedef int (*fs_tree_fn)(void *arg, const char *key, const struct stat *sb);

bool fsstore_key_valid(const char *key)
{
	if (!backend_key_valid(key))
		return false;
	if (strncmp(key, TMP_DIR_NAME, strlen(TMP_DIR_NAME)) == 0 &&
	    (key[strlen(TMP_DIR_NAME)] == '\0' ||
	     key[strlen(TMP_DIR_NAME)] == '/'))
		return false;
	return true;
}

static int object_path(const struct fs_store *st, const char *key,
		       char *path, size_t pathlen)
{
	int n;

	if (!fsstore_key_valid(key))
		return -EINVAL;
	n = snprintf(path, pathlen, "%s/%s", st->root, key);
	if (n < 0 || (size_t)n >= pathlen)
		return -ENAMETOOLONG;
	return 0;
}

static uint64_t saturating_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/*
 * Create every missing directory of PATH from FROM (an offset just past
 * a directory known to exist) up to, and excluding, its last component.
 * Concurrent callers creating the same directories are fine.
 */
static int mkdir_parents(char *path, size_t from)
{
	for (char *p = path + from; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, DIR_MODE) < 0 && errno != EEXIST) {
			int rc = -errno;

			*p = '/';
			return rc;
		}
		*p = '/';
	}
	return 0;
}

/*
 * Walk the directory PATH (of length LEN, a buffer of PATH_MAX) and call
 * FN for every regular file whose name relative to the root is a valid
 * key. The root's "tmp" directory is skipped. Returns FN's first non-zero
 * value, 0, or a negative errno when the directory cannot be read.
 */
static int tree_walk(const struct fs_store *st, char *path, size_t len,
		     fs_tree_fn fn, void *arg)
{
	size_t root_len = strlen(st->root);
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	dir = opendir(path);
	if (!dir)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;

	while (!rc && (de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		struct stat sb;

		if (de->d_name[0] == '.' &&
		    (n == 1 || (n == 2 && de->d_name[1] == '.')))
			continue;
		if (len == root_len && strcmp(de->d_name, TMP_DIR_NAME) == 0)
			continue;
		if (len + 1 + n >= PATH_MAX)
			continue;

		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		if (lstat(path, &sb) == 0) {
			if (S_ISDIR(sb.st_mode))
				rc = tree_walk(st, path, len + 1 + n, fn, arg);
			else if (S_ISREG(sb.st_mode) &&
				 fsstore_key_valid(path + root_len + 1))
				rc = fn(arg, path + root_len + 1, &sb);
		}
		path[len] = '\0';
	}
	closedir(dir);
	return rc;
}

/* Walk the whole store. */
static int tree_walk_all(const struct fs_store *st, fs_tree_fn fn, void *arg)
{
	char path[PATH_MAX];

	strcpy(path, st->root);
	return tree_walk(st, path, strlen(path), fn, arg);
}

struct fs_totals {
	uint64_t bytes;
	uint64_t objects;
};

static int count_object(void *arg, const char *key, const struct stat *sb)
{
	struct fs_totals *t = arg;

	t->bytes += (uint64_t)sb->st_size;
	t->objects++;
	return 0;
}

/*
 * A temporary file is a leftover when its name does not start with a
 * process id, or when that process is gone. Files of live processes,
 * this one included, may be writes in progress of another open store.
 */
static bool tmp_file_is_leftover(const char *name)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(name, &end, 10);
	if (errno || end == name || *end != '-' || pid <= 0 || pid > INT_MAX)
		return true;
	if (pid == (long)getpid())
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static void remove_leftovers(struct fs_store *st)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned removed = 0;
	DIR *dir;

	dir = opendir(st->tmp_dir);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !tmp_file_is_leftover(de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", st->tmp_dir,
			     de->d_name) >= (int)sizeof(path))
			continue;
		if (unlink(path) == 0)
			removed++;
	}
	closedir(dir);
	if (removed)
		vkdr_log_info(st->host, st->log_name,
			      "removed %u unfinished write(s) left in %s",
			      removed, st->tmp_dir);
}

static int parse_options(struct fs_store *st, const struct vkdr_option *opts,
			 size_t n_opts, const char **path)
{
	int rc = 0;

	for (size_t i = 0; i < n_opts; i++) {
		const char *key = opts[i].key;
		const char *value = opts[i].value ? opts[i].value : "";

		if (strcmp(key, "path") == 0) {
			if (!*value) {
				vkdr_log_err(st->host, st->log_name,
					     "option path is empty");
				rc = -EINVAL;
			}
			*path = value;
		} else if (strcmp(key, "max-size") == 0) {
			if (backend_parse_size(value, &st->max_size) < 0) {
				vkdr_log_err(st->host, st->log_name,
					     "max-size '%s' is not a size (500MiB, 20G, 1048576)",
					     value);
				rc = -EINVAL;
			}
		} else {
			vkdr_log_err(st->host, st->log_name,
				     "unknown option '%s' (known: path, max-size)",
				     key);
			rc = -EINVAL;
		}
	}
	return rc;
}

static int64_t fs_trim_except(struct fs_store *st, uint64_t max_bytes,
			      const char *keep);

int fsstore_open(const struct vkdr_host *host, const char *log_name,
		 const struct vkdr_option *opts, size_t n_opts, void **state)
{
	const char *path = NULL;
	struct fs_totals totals = { 0 };
	struct fs_store *st;
	char home_path[PATH_MAX];
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->log_name = log_name;

	rc = parse_options(st, opts, n_opts, &path);
	if (rc < 0)
		goto out_free_store;
	if (!path) {
		rc = snprintf(home_path, sizeof(home_path), "%s/mirror-cache",
			      host->home());
		if (rc < 0 || (size_t)rc >= sizeof(home_path)) {
			rc = -ENAMETOOLONG;
			goto out_free_store;
		}
		path = home_path;
	}
	/* Half of PATH_MAX leaves room for the keys below the root. */
	if (strlen(path) >= PATH_MAX / 2) {
		vkdr_log_err(host, log_name, "path is too long: %s", path);
		rc = -ENAMETOOLONG;
		goto out_free_store;
	}
	strcpy(st->root, path);
	while (strlen(st->root) > 1 && st->root[strlen(st->root) - 1] == '/')
		st->root[strlen(st->root) - 1] = '\0';
	strcpy(st->tmp_dir, st->root);
	strcat(st->tmp_dir, "/" TMP_DIR_NAME "/");

	/* mkdir_parents() creates everything before the trailing slash. */
	rc = mkdir_parents(st->tmp_dir, 1);
	st->tmp_dir[strlen(st->tmp_dir) - 1] = '\0';
	if (rc < 0) {
		vkdr_log_err(host, log_name, "cannot create %s: %s",
			     st->tmp_dir, strerror(-rc));
		goto out_free_store;
	}

	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->trim_lock, NULL);
	remove_leftovers(st);
	rc = tree_walk_all(st, count_object, &totals);
	if (rc < 0) {
		vkdr_log_err(host, log_name, "cannot read %s: %s", st->root,
			     strerror(-rc));
		goto out_destroy_locks;
	}
	st->bytes = totals.bytes;
	st->objects = totals.objects;
	vkdr_log_debug(host, log_name,
		       "%s holds %llu object(s), %llu bytes, cap %llu",
		       st->root, (unsigned long long)st->objects,
		       (unsigned long long)st->bytes,
		       (unsigned long long)st->max_size);

	/* The cap may have been lowered since the last run. */
	if (st->max_size && st->bytes > st->max_size)
		fs_trim_except(st, st->max_size, NULL);

	*state = st;
	return 0;

out_destroy_locks:
	pthread_mutex_destroy(&st->trim_lock);
	pthread_mutex_destroy(&st->lock);
out_free_store:
	free(st);
	return rc;
}

static int fs_open(const struct vkdr_host *host,
		   const struct vkdr_option *opts, size_t n_opts, void **state)
{
	return fsstore_open(host, "filesystem", opts, n_opts, state);
}

static void fs_close(void *state)
{
	struct fs_store *st = state;

	if (!st)
		return;
	if (st->open_objects)
		vkdr_log_warn(st->host, st->log_name,
			      "closing with objects still open, first %s",
			      st->open_objects->key);
	pthread_mutex_destroy(&st->trim_lock);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static void fill_info(const struct stat *sb, struct vkdr_object_info *info)
{
	info->size = (uint64_t)sb->st_size;
	info->mtime = (int64_t)sb->st_mtim.tv_sec;
	info->atime = (int64_t)sb->st_atim.tv_sec;
}

static int fs_stat(void *state, const char *key, struct vkdr_object_info *info)
{
	struct fs_store *st = state;
	char path[PATH_MAX];
	struct stat sb;
	int rc;

	rc = object_path(st, key, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (lstat(path, &sb) < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	if (!S_ISREG(sb.st_mode))
		return -ENOENT;
	fill_info(&sb, info);
	return 0;
}

static bool key_is_open(const struct fs_store *st, const char *key)
{
	for (const struct fs_open_object *o = st->open_objects; o; o = o->next)
		if (strcmp(o->key, key) == 0)
			return true;
	return false;
}

static int fs_get(void *state, const char *key, struct vkdr_object *obj)
{
	static const struct timespec used_now[2] = {
		{ .tv_nsec = UTIME_NOW },
		{ .tv_nsec = UTIME_OMIT },
	};
	struct fs_store *st = state;
	struct fs_open_object *handle;
	char path[PATH_MAX];
	struct stat sb;
	int fd, rc;

	rc = object_path(st, key, path, sizeof(path));
	if (rc < 0)
		return rc;
	handle = malloc(sizeof(*handle) + strlen(key) + 1);
	if (!handle)
		return -ENOMEM;
	strcpy(handle->key, key);

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
		goto out_free_handle;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out_close_fd;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -ENOENT;
		goto out_close_fd;
	}
	/* Last use for trim(); a failure only makes eviction less exact. */
	futimens(fd, used_now);

	pthread_mutex_lock(&st->lock);
	handle->prev = NULL;
	handle->next = st->open_objects;
	if (st->open_objects)
		st->open_objects->prev = handle;
	st->open_objects = handle;
	pthread_mutex_unlock(&st->lock);

	obj->fd = fd;
	obj->offset = 0;
	obj->size = (uint64_t)sb.st_size;
	obj->priv = handle;
	return 0;

out_close_fd:
	close(fd);
out_free_handle:
	free(handle);
	return rc;
}

static ssize_t fs_read(void *state, struct vkdr_object *obj, uint64_t off,
		       void *buf, size_t len)
{
	return backend_read_fd(obj, off, buf, len);
}

static void fs_release(void *state, struct vkdr_object *obj)
{
	struct fs_store *st = state;
	struct fs_open_object *handle = obj->priv;

	if (handle) {
		pthread_mutex_lock(&st->lock);
		if (handle->prev)
			handle->prev->next = handle->next;
		else
			st->open_objects = handle->next;
		if (handle->next)
			handle->next->prev = handle->prev;
		pthread_mutex_unlock(&st->lock);
		free(handle);
	}
	if (obj->fd >= 0)
		close(obj->fd);
	obj->fd = -1;
	obj->priv = NULL;
}

static int fs_put_begin(void *state, const char *key, uint64_t size_hint,
			void **writer)
{
	struct fs_store *st = state;
	struct fs_writer *w;
	int rc;

	if (!fsstore_key_valid(key))
		return -EINVAL;
	if (st->max_size && size_hint > st->max_size)
		return -ENOSPC;
	w = malloc(sizeof(*w) + strlen(key) + 1);
	if (!w)
		return -ENOMEM;
	strcpy(w->key, key);
	w->written = 0;

	rc = snprintf(w->tmp_path, sizeof(w->tmp_path), "%s/%ld-XXXXXX",
		      st->tmp_dir, (long)getpid());
	if (rc < 0 || (size_t)rc >= sizeof(w->tmp_path)) {
		rc = -ENAMETOOLONG;
		goto out_free_writer;
	}
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		rc = -errno;
		vkdr_log_err(st->host, st->log_name,
			     "cannot create a file in %s: %s", st->tmp_dir,
			     strerror(-rc));
		goto out_free_writer;
	}
	*writer = w;
	return 0;

out_free_writer:
	free(w);
	return rc;
}

static int fs_put_write(void *state, void *writer, const void *buf,
			size_t len)
{
	struct fs_store *st = state;
	struct fs_writer *w = writer;
	const char *p = buf;

	/* An object larger than the whole cap could never be kept. */
	if (st->max_size && w->written + len > st->max_size)
		return -ENOSPC;
	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		w->written += (uint64_t)n;
	}
	return 0;
}

static void free_writer(struct fs_writer *w, bool drop_file)
{
	if (w->fd >= 0)
		close(w->fd);
	if (drop_file)
		unlink(w->tmp_path);
	free(w);
}

static int fs_put_commit(void *state, void *writer)
{
	struct fs_store *st = state;
	struct fs_writer *w = writer;
	char path[PATH_MAX];
	uint64_t old_size = 0;
	bool replaced = false;
	bool over_cap;
	struct stat sb;
	int rc;

	rc = object_path(st, w->key, path, sizeof(path));
	if (rc < 0)
		goto out_drop_writer;

	/* The object's data must be on disk before its name is. */
	if (fsync(w->fd) < 0 || futimens(w->fd, NULL) < 0) {
		rc = -errno;
		goto out_drop_writer;
	}
	rc = close(w->fd);
	w->fd = -1;
	if (rc < 0) {
		rc = -errno;
		goto out_drop_writer;
	}
	rc = mkdir_parents(path, strlen(st->root) + 1);
	if (rc < 0)
		goto out_drop_writer;

	pthread_mutex_lock(&st->lock);
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		old_size = (uint64_t)sb.st_size;
		replaced = true;
	}
	if (rename(w->tmp_path, path) < 0) {
		rc = -errno;
		pthread_mutex_unlock(&st->lock);
		vkdr_log_err(st->host, st->log_name, "cannot store %s: %s",
			     w->key, strerror(-rc));
		goto out_drop_writer;
	}
	st->bytes = saturating_sub(st->bytes, old_size) + w->written;
	if (!replaced)
		st->objects++;
	st->generation++;
	over_cap = st->max_size && st->bytes > st->max_size;
	pthread_mutex_unlock(&st->lock);

	if (over_cap)
		fs_trim_except(st, st->max_size, w->key);
	free_writer(w, false);
	return 0;

out_drop_writer:
	free_writer(w, true);
	return rc;
}

static void fs_put_abort(void *state, void *writer)
{
	if (writer)
		free_writer(writer, true);
}

static int fs_remove(void *state, const char *key)
{
	struct fs_store *st = state;
	char path[PATH_MAX];
	struct stat sb;
	int rc;

	rc = object_path(st, key, path, sizeof(path));
	if (rc < 0)
		return rc;

	pthread_mutex_lock(&st->lock);
	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = -ENOENT;
	} else if (unlink(path) < 0) {
		rc = -errno;
	} else {
		st->bytes = saturating_sub(st->bytes, (uint64_t)sb.st_size);
		st->objects = saturating_sub(st->objects, 1);
		st->generation++;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

struct fs_walk_arg {
	const char *prefix;
	size_t prefix_len;
	int (*fn)(void *arg, const char *key,
		  const struct vkdr_object_info *info);
	void *arg;
};

static int walk_one(void *arg, const char *key, const struct stat *sb)
{
	struct fs_walk_arg *wa = arg;
	struct vkdr_object_info info;

	if (strncmp(key, wa->prefix, wa->prefix_len) != 0)
		return 0;
	fill_info(sb, &info);
	return wa->fn(wa->arg, key, &info);
}

static int fs_walk(void *state, const char *prefix,
		   int (*fn)(void *arg, const char *key,
			     const struct vkdr_object_info *info),
		   void *arg)
{
	struct fs_store *st = state;
	struct fs_walk_arg wa = {
		.prefix = prefix ? prefix : "",
		.fn = fn,
		.arg = arg,
	};
	const char *slash = strrchr(wa.prefix, '/');
	char start[PATH_MAX];
	char path[PATH_MAX];
	size_t len;

	wa.prefix_len = strlen(wa.prefix);

	/* Start in the deepest directory the prefix names in full. */
	if (slash) {
		len = (size_t)(slash - wa.prefix);
		if (len >= sizeof(start))
			return -ENAMETOOLONG;
		memcpy(start, wa.prefix, len);
		start[len] = '\0';
		if (!fsstore_key_valid(start))
			return -EINVAL;
		if (snprintf(path, sizeof(path), "%s/%s", st->root, start) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
	} else {
		strcpy(path, st->root);
	}
	return tree_walk(st, path, strlen(path), walk_one, &wa);
}

/* What trim() knows of one object. */
struct fs_candidate {
	char *key;
	uint64_t size;
	struct timespec atime;
};

struct fs_candidates {
	struct fs_candidate *items;
	size_t n;
	size_t cap;
	uint64_t bytes;
};

static int collect_candidate(void *arg, const char *key, const struct stat *sb)
{
	struct fs_candidates *c = arg;
	struct fs_candidate *item;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct fs_candidate *grown;

		grown = realloc(c->items, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->items = grown;
		c->cap = cap;
	}
	item = &c->items[c->n];
	item->key = strdup(key);
	if (!item->key)
		return -ENOMEM;
	item->size = (uint64_t)sb->st_size;
	item->atime = sb->st_atim;
	c->n++;
	c->bytes += item->size;
	return 0;
}

/* Oldest use first; equal times in key order, so the order is stable. */
static int compare_candidates(const void *a, const void *b)
{
	const struct fs_candidate *x = a, *y = b;

	if (x->atime.tv_sec != y->atime.tv_sec)
		return x->atime.tv_sec < y->atime.tv_sec ? -1 : 1;
	if (x->atime.tv_nsec != y->atime.tv_nsec)
		return x->atime.tv_nsec < y->atime.tv_nsec ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * Unlink candidate C unless it is open for reading or was used or
 * replaced since the walk saw it. Returns true when it was unlinked.
 * Called with STATE->lock held.
 */
static bool evict_locked(struct fs_store *st, const struct fs_candidate *c)
{
	char path[PATH_MAX];
	struct stat sb;

	if (key_is_open(st, c->key))
		return false;
	if (object_path(st, c->key, path, sizeof(path)) < 0)
		return false;
	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != c->size ||
	    sb.st_atim.tv_sec != c->atime.tv_sec ||
	    sb.st_atim.tv_nsec != c->atime.tv_nsec)
		return false;
	if (unlink(path) < 0)
		return false;
	st->bytes = saturating_sub(st->bytes, c->size);
	st->objects = saturating_sub(st->objects, 1);
	return true;
}

/*
 * Evict least recently used objects, never KEEP (NULL: none), until the
 * store holds at most MAX_BYTES. Returns the bytes freed or a negative
 * errno when the tree could not be read.
 */
static int64_t fs_trim_except(struct fs_store *st, uint64_t max_bytes,
			      const char *keep)
{
	struct fs_candidates c = { 0 };
	uint64_t generation, total, freed = 0, evicted = 0;
	int64_t result;
	int rc;

	pthread_mutex_lock(&st->trim_lock);
	pthread_mutex_lock(&st->lock);
	generation = st->generation;
	pthread_mutex_unlock(&st->lock);

	rc = tree_walk_all(st, collect_candidate, &c);
	if (rc < 0) {
		vkdr_log_err(st->host, st->log_name, "trim: cannot walk %s: %s",
			     st->root, strerror(-rc));
		result = rc;
		goto out_free_candidates;
	}
	/* An empty store has no list at all, and qsort() wants one. */
	if (c.n)
		qsort(c.items, c.n, sizeof(*c.items), compare_candidates);

	total = c.bytes;
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < c.n && total > max_bytes; i++) {
		if (keep && strcmp(c.items[i].key, keep) == 0)
			continue;
		if (!evict_locked(st, &c.items[i]))
			continue;
		total -= c.items[i].size;
		freed += c.items[i].size;
		evicted++;
	}
	/*
	 * With no commit or remove since the walk, the walk is the truth:
	 * it corrects whatever another process changed behind our back.
	 */
	if (st->generation == generation) {
		st->bytes = total;
		st->objects = c.n - evicted;
	}
	pthread_mutex_unlock(&st->lock);

	if (evicted)
		vkdr_log_info(st->host, st->log_name,
			      "evicted %llu object(s), %llu bytes, to stay under %llu bytes",
			      (unsigned long long)evicted,
			      (unsigned long long)freed,
			      (unsigned long long)max_bytes);
	if (total > max_bytes)
		vkdr_log_warn(st->host, st->log_name,
			      "still %llu bytes over %llu: the rest is in use",
			      (unsigned long long)(total - max_bytes),
			      (unsigned long long)max_bytes);
	result = (int64_t)freed;

out_free_candidates:
	for (size_t i = 0; i < c.n; i++)
		free(c.items[i].key);
	free(c.items);
	pthread_mutex_unlock(&st->trim_lock);
	return result;
}

static int64_t fs_trim(void *state, uint64_t max_bytes)
{
	return fs_trim_except(state, max_bytes, NULL);
}

static int fs_usage(void *state, uint64_t *bytes, uint64_t *objects)
{
	struct fs_store *st = state;

	pthread_mutex_lock(&st->lock);
	*bytes = st->bytes;
	*objects = st->objects;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

const struct vkdr_storage_ops fsstore_ops = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.open = fs_open,
	.close = fs_close,
	.stat = fs_stat,
	.get = fs_get,
	.read = fs_read,
	.release = fs_release,
	.put_begin = fs_put_begin,
	.put_write = fs_put_write,
	.put_commit = fs_put_commit,
	.put_abort = fs_put_abort,
	.remove = fs_remove,
	.walk = fs_walk,
	.trim = fs_trim,
	.usage = fs_usage,
	.redirect_url = NULL,
};
