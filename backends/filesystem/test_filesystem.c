/*
 * test_filesystem.c - unit tests of the "filesystem" storage backend,
 * loaded from the build tree through the mock host.
 *
 * Last use is the file's access time, so the eviction tests set those
 * times with utimensat() instead of waiting: nothing here sleeps.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mockhost.h"
#include "storekit.h"
#include "util.h"

#define KEY_A "blobs/sha256/aaaa"
#define KEY_B "blobs/sha256/bbbb"
#define KEY_C "blobs/sha256/cccc"

static const struct vkdr_host *host;
static const struct vkdr_storage_ops *ops;
/* Short enough that every path built from it fits PATH_MAX. */
static char dir[256];
static void *store;

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static void open_store(const char *max_size)
{
	struct vkdr_option opts[] = {
		{ .key = "path", .value = dir },
		{ .key = "max-size", .value = max_size },
	};

	ck_assert_int_eq(ops->open(host, opts, max_size ? 2 : 1, &store), 0);
}

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("filesystem");
	ck_assert_ptr_nonnull(mod);
	ck_assert_int_eq(mod->kind, VKDR_MODULE_STORAGE);
	ops = mod->ops;
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/fs-XXXXXX",
				  mock_home()),
			 (int)sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	store = NULL;
}

static void teardown(void)
{
	if (store)
		ops->close(store);
	store = NULL;
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_object(const char *key, const void *data, size_t len)
{
	void *w;

	ck_assert_int_eq(ops->put_begin(store, key, len, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, len), 0);
	ck_assert_int_eq(ops->put_commit(store, w), 0);
}

static void put_filled(const char *key, int byte, size_t len)
{
	char *data = malloc(len);

	ck_assert_ptr_nonnull(data);
	memset(data, byte, len);
	put_object(key, data, len);
	free(data);
}

/* Pretend KEY was last used at SECONDS since the epoch. */
static void set_last_use(const char *key, time_t seconds)
{
	struct timespec times[2] = {
		{ .tv_sec = seconds },
		{ .tv_nsec = UTIME_OMIT },
	};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

static size_t files_in_tmp(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool exists(const char *key)
{
	struct vkdr_object_info info;

	return ops->stat(store, key, &info) == 0;
}

START_TEST(round_trip_by_fd_and_read)
{
	static const char first[] = "hello, ";
	static const char second[] = "storage";
	struct vkdr_object_info info;
	struct vkdr_object obj;
	char buf[64], path[PATH_MAX];
	struct stat sb;
	void *w;

	open_store(NULL);
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, first, 7), 0);
	ck_assert_int_eq(ops->put_write(store, w, second, 7), 0);
	ck_assert_int_eq(ops->put_commit(store, w), 0);

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/" KEY_A, dir),
			 (int)sizeof(path));
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 14);
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), 0);
	ck_assert_uint_eq(info.size, 14);

	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ck_assert_int_ge(obj.fd, 0);
	ck_assert_uint_eq(obj.size, 14);
	ck_assert_int_eq(pread(obj.fd, buf, sizeof(buf), (off_t)obj.offset),
			 14);
	ck_assert_mem_eq(buf, "hello, storage", 14);

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(ops->read(store, &obj, 7, buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "storage", 7);
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, 5), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(ops->read(store, &obj, 14, buf, sizeof(buf)), 0);
	ops->release(store, &obj);
	ck_assert_int_eq(files_in_tmp(), 0);
}
END_TEST

START_TEST(nothing_visible_before_commit)
{
	struct vkdr_object_info info;
	struct vkdr_object obj;
	uint64_t bytes, objects;
	void *w;

	open_store(NULL);
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 3, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, "abc", 3), 0);
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), -ENOENT);
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), -ENOENT);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(objects, 0);
	ck_assert_int_eq(files_in_tmp(), 1);
	ck_assert_int_eq(ops->put_commit(store, w), 0);
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), 0);
	ck_assert_uint_eq(info.size, 3);
}
END_TEST

START_TEST(abort_leaves_nothing)
{
	uint64_t bytes, objects;
	void *w;

	open_store(NULL);
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, "partial", 7), 0);
	ops->put_abort(store, w);
	ck_assert(!exists(KEY_A));
	ck_assert_int_eq(files_in_tmp(), 0);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 0);
	ck_assert_uint_eq(objects, 0);
}
END_TEST

START_TEST(bad_keys_refused)
{
	static const char *const bad[] = {
		"../escape", "/etc/passwd", "blobs//x", "blobs/x/",
		"blobs/../../x", "blobs/./x", "Blobs/sha256/AB", "a b",
		"", "tmp/x", "tmp", "blobs/sha256/\xc3\xa9", "..",
	};
	struct vkdr_object_info info;
	struct vkdr_object obj;
	void *w;

	open_store(NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ops->put_begin(store, bad[i], 0, &w) == -EINVAL,
			      "put_begin accepted '%s'", bad[i]);
		ck_assert_int_eq(ops->get(store, bad[i], &obj), -EINVAL);
		ck_assert_int_eq(ops->stat(store, bad[i], &info), -EINVAL);
		ck_assert_int_eq(ops->remove(store, bad[i]), -EINVAL);
	}
	put_object("tags/docker.io/library_nginx-1.25.0", "x", 1);
	ck_assert(exists("tags/docker.io/library_nginx-1.25.0"));
	ck_assert_int_eq(files_in_tmp(), 0);
}
END_TEST

START_TEST(unknown_and_bad_options_refused)
{
	struct vkdr_option unknown[] = {
		{ .key = "path", .value = dir },
		{ .key = "colour", .value = "blue" },
	};
	struct vkdr_option bad_size[] = {
		{ .key = "max-size", .value = "lots" },
	};

	ck_assert_int_eq(ops->open(host, unknown, 2, &store), -EINVAL);
	store = NULL;
	ck_assert_int_eq(ops->open(host, bad_size, 1, &store), -EINVAL);
	store = NULL;
	open_store("20GiB");
}
END_TEST

START_TEST(default_path_is_under_home)
{
	char path[PATH_MAX];
	struct stat sb;

	ck_assert_int_eq(ops->open(host, NULL, 0, &store), 0);
	put_object(KEY_A, "x", 1);
	snprintf(path, sizeof(path), "%s/mirror-cache/" KEY_A, host->home());
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(ops->remove(store, KEY_A), 0);
}
END_TEST

static void touch_tmp(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/tmp/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	close(fd);
}

START_TEST(leftovers_removed_at_open)
{
	char mine[64], path[PATH_MAX];
	uint64_t bytes, objects;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	/* No process id, and one that no system hands out. */
	touch_tmp("stale");
	touch_tmp("999999999-abcdef");
	/* This process is alive: that write may still be going on. */
	snprintf(mine, sizeof(mine), "%ld-abcdef", (long)getpid());
	touch_tmp(mine);

	open_store(NULL);
	ck_assert_int_eq(files_in_tmp(), 1);
	snprintf(path, sizeof(path), "%s/tmp/%s", dir, mine);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(objects, 0);
}
END_TEST

START_TEST(trim_evicts_least_recently_used)
{
	uint64_t bytes, objects;

	open_store(NULL);
	put_filled(KEY_A, 'a', 100);
	put_filled(KEY_B, 'b', 100);
	put_filled(KEY_C, 'c', 100);
	set_last_use(KEY_A, 1000);
	set_last_use(KEY_B, 3000);
	set_last_use(KEY_C, 2000);

	ck_assert_int_eq(ops->trim(store, 150), 200);
	ck_assert(!exists(KEY_A));
	ck_assert(exists(KEY_B));
	ck_assert(!exists(KEY_C));
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 100);
	ck_assert_uint_eq(objects, 1);
	ck_assert_int_eq(ops->trim(store, 100), 0);
}
END_TEST

START_TEST(get_marks_object_used)
{
	struct vkdr_object obj;

	open_store(NULL);
	put_filled(KEY_A, 'a', 100);
	put_filled(KEY_B, 'b', 100);
	put_filled(KEY_C, 'c', 100);
	set_last_use(KEY_A, 1000);
	set_last_use(KEY_B, 2000);
	set_last_use(KEY_C, 3000);

	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ops->release(store, &obj);
	ck_assert_int_eq(ops->trim(store, 200), 100);
	ck_assert(exists(KEY_A));
	ck_assert(!exists(KEY_B));
	ck_assert(exists(KEY_C));
}
END_TEST

START_TEST(open_object_not_evicted)
{
	struct vkdr_object obj;
	char buf[8];

	open_store(NULL);
	put_filled(KEY_A, 'a', 100);
	put_filled(KEY_B, 'b', 100);
	put_filled(KEY_C, 'c', 100);
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	set_last_use(KEY_A, 1000);
	set_last_use(KEY_B, 2000);
	set_last_use(KEY_C, 3000);

	ck_assert_int_eq(ops->trim(store, 0), 200);
	ck_assert(exists(KEY_A));
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, sizeof(buf)), 8);
	ck_assert_mem_eq(buf, "aaaaaaaa", 8);
	ops->release(store, &obj);
	ck_assert_int_eq(ops->trim(store, 0), 100);
	ck_assert(!exists(KEY_A));
}
END_TEST

START_TEST(max_size_trims_on_commit)
{
	uint64_t bytes, objects;
	char big[300] = { 0 };
	void *w;

	open_store("250");
	put_filled(KEY_A, 'a', 100);
	put_filled(KEY_B, 'b', 100);
	set_last_use(KEY_A, 1000);
	set_last_use(KEY_B, 2000);
	put_filled(KEY_C, 'c', 100);
	ck_assert(!exists(KEY_A));
	ck_assert(exists(KEY_B));
	ck_assert(exists(KEY_C));
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 200);
	ck_assert_uint_eq(objects, 2);

	/* An object larger than the whole cap is refused early or late. */
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 300, &w), -ENOSPC);
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, big, 200), 0);
	ck_assert_int_eq(ops->put_write(store, w, big, 100), -ENOSPC);
	ops->put_abort(store, w);
	ck_assert_int_eq(files_in_tmp(), 0);
	ck_assert(!exists(KEY_A));
}
END_TEST

START_TEST(usage_counts_and_survives_reopen)
{
	uint64_t bytes, objects;

	open_store(NULL);
	put_filled(KEY_A, 'a', 10);
	put_filled(KEY_B, 'b', 20);
	put_filled(KEY_C, 'c', 30);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 60);
	ck_assert_uint_eq(objects, 3);

	put_filled(KEY_C, 'C', 5);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 35);
	ck_assert_uint_eq(objects, 3);

	ck_assert_int_eq(ops->remove(store, KEY_A), 0);
	ck_assert_int_eq(ops->remove(store, KEY_A), -ENOENT);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 25);
	ck_assert_uint_eq(objects, 2);

	ops->close(store);
	open_store(NULL);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 25);
	ck_assert_uint_eq(objects, 2);
}
END_TEST

struct walk_seen {
	size_t n;
	uint64_t bytes;
	int stop_after;
	bool remove_each;
};

static int count_walked(void *arg, const char *key,
			const struct vkdr_object_info *info)
{
	struct walk_seen *seen = arg;

	seen->n++;
	seen->bytes += info->size;
	if (seen->remove_each)
		ck_assert_int_eq(ops->remove(store, key), 0);
	if (seen->stop_after && (int)seen->n == seen->stop_after)
		return 42;
	return 0;
}

START_TEST(walk_by_prefix)
{
	struct walk_seen seen = { 0 };
	void *w;

	open_store(NULL);
	put_filled("blobs/sha256/aa11", 'x', 3);
	put_filled("blobs/sha256/ab22", 'x', 4);
	put_filled("blobs/sha256/bb33", 'x', 5);
	put_filled("tags/docker.io/nginx/latest", 'x', 6);
	ck_assert_int_eq(ops->put_begin(store, "blobs/sha256/aa99", 0, &w), 0);

	ck_assert_int_eq(ops->walk(store, "blobs/sha256/a", count_walked,
				   &seen), 0);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_uint_eq(seen.bytes, 7);

	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(ops->walk(store, "", count_walked, &seen), 0);
	ck_assert_uint_eq(seen.n, 4);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(ops->walk(store, "tags/", count_walked, &seen), 0);
	ck_assert_uint_eq(seen.n, 1);
	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(ops->walk(store, "nothing/here", count_walked,
				   &seen), 0);
	ck_assert_uint_eq(seen.n, 0);

	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	ck_assert_int_eq(ops->walk(store, "", count_walked, &seen), 42);
	ck_assert_uint_eq(seen.n, 2);

	/* A walk may remove what it is shown, as prune does. */
	memset(&seen, 0, sizeof(seen));
	seen.remove_each = true;
	ck_assert_int_eq(ops->walk(store, "blobs/", count_walked, &seen), 0);
	ck_assert_uint_eq(seen.n, 3);
	ck_assert(!exists("blobs/sha256/aa11"));
	ck_assert(exists("tags/docker.io/nginx/latest"));
	ops->put_abort(store, w);
}
END_TEST

START_TEST(concurrent_writers_last_commit_wins)
{
	uint64_t bytes, objects, size;

	open_store(NULL);
	size = storekit_concurrent_writers(ops, store, KEY_A, 32);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, size);
	ck_assert_uint_eq(objects, 1);
	ck_assert_int_eq(files_in_tmp(), 0);
}
END_TEST

START_TEST(sizes_parse)
{
	uint64_t v;

	ck_assert_int_eq(backend_parse_size("1048576", &v), 0);
	ck_assert_uint_eq(v, 1048576);
	ck_assert_int_eq(backend_parse_size("500MiB", &v), 0);
	ck_assert_uint_eq(v, 500ULL << 20);
	ck_assert_int_eq(backend_parse_size("20G", &v), 0);
	ck_assert_uint_eq(v, 20ULL << 30);
	ck_assert_int_eq(backend_parse_size("2 gb", &v), 0);
	ck_assert_uint_eq(v, 2000000000ULL);
	ck_assert_int_eq(backend_parse_size("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(backend_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(backend_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(backend_parse_size("12 parsecs", &v), -EINVAL);
	ck_assert_int_eq(backend_parse_size("1.5G", &v), -EINVAL);
	ck_assert_int_eq(backend_parse_size("99999999999999999999", &v),
			 -ERANGE);
	ck_assert_int_eq(backend_parse_size("17179869184TiB", &v), -ERANGE);
}
END_TEST

static Suite *filesystem_suite(void)
{
	Suite *s = suite_create("filesystem");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_by_fd_and_read);
	tcase_add_test(tc, nothing_visible_before_commit);
	tcase_add_test(tc, abort_leaves_nothing);
	tcase_add_test(tc, bad_keys_refused);
	tcase_add_test(tc, unknown_and_bad_options_refused);
	tcase_add_test(tc, default_path_is_under_home);
	tcase_add_test(tc, leftovers_removed_at_open);
	tcase_add_test(tc, trim_evicts_least_recently_used);
	tcase_add_test(tc, get_marks_object_used);
	tcase_add_test(tc, open_object_not_evicted);
	tcase_add_test(tc, max_size_trims_on_commit);
	tcase_add_test(tc, usage_counts_and_survives_reopen);
	tcase_add_test(tc, walk_by_prefix);
	tcase_add_test(tc, concurrent_writers_last_commit_wins);
	tcase_add_test(tc, sizes_parse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filesystem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
