/*
 * test_tmpfs.c - unit tests of the "tmpfs" storage backend, loaded from
 * the build tree through the mock host.
 *
 * Last use is the order of get() calls, so the eviction tests need no
 * clock: nothing here sleeps.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mockhost.h"
#include "storekit.h"

#define KEY_A "blobs/sha256/aaaa"
#define KEY_B "blobs/sha256/bbbb"
#define KEY_C "blobs/sha256/cccc"
#define KEY_D "blobs/sha256/dddd"

static const struct vkdr_host *host;
static const struct vkdr_storage_ops *ops;
static void *store;

static void open_store(const char *max_size)
{
	struct vkdr_option opt = { .key = "max-size", .value = max_size };

	ck_assert_int_eq(ops->open(host, &opt, max_size ? 1 : 0, &store), 0);
}

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("tmpfs");
	ck_assert_ptr_nonnull(mod);
	ck_assert_int_eq(mod->kind, VKDR_MODULE_STORAGE);
	ops = mod->ops;
	store = NULL;
}

static void teardown(void)
{
	if (store)
		ops->close(store);
	store = NULL;
}

static int put_filled(const char *key, int byte, size_t len)
{
	char *data = malloc(len);
	void *w;
	int rc;

	ck_assert_ptr_nonnull(data);
	memset(data, byte, len);
	rc = ops->put_begin(store, key, len, &w);
	if (rc == 0) {
		rc = ops->put_write(store, w, data, len);
		if (rc == 0)
			rc = ops->put_commit(store, w);
		else
			ops->put_abort(store, w);
	}
	free(data);
	return rc;
}

static bool exists(const char *key)
{
	struct vkdr_object_info info;

	return ops->stat(store, key, &info) == 0;
}

static void touch(const char *key)
{
	struct vkdr_object obj;

	ck_assert_int_eq(ops->get(store, key, &obj), 0);
	ops->release(store, &obj);
}

static uint64_t used_bytes(void)
{
	uint64_t bytes, objects;

	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	return bytes;
}

START_TEST(round_trip_by_fd_and_read)
{
	struct vkdr_object_info info;
	struct vkdr_object obj;
	char buf[64];
	void *w;

	open_store(NULL);
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, "in ", 3), 0);
	ck_assert_int_eq(ops->put_write(store, w, "memory", 6), 0);
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), -ENOENT);
	ck_assert_int_eq(ops->put_commit(store, w), 0);
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), 0);
	ck_assert_uint_eq(info.size, 9);

	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ck_assert_int_ge(obj.fd, 0);
	ck_assert_uint_eq(obj.size, 9);
	ck_assert_int_eq(pread(obj.fd, buf, sizeof(buf), (off_t)obj.offset),
			 9);
	ck_assert_mem_eq(buf, "in memory", 9);
	ck_assert_int_eq(ops->read(store, &obj, 3, buf, sizeof(buf)), 6);
	ck_assert_mem_eq(buf, "memory", 6);
	ck_assert_int_eq(ops->read(store, &obj, 9, buf, sizeof(buf)), 0);
	/* Committed objects are sealed: a reader cannot change them. */
	ck_assert_int_lt(pwrite(obj.fd, "X", 1, 0), 0);
	ops->release(store, &obj);
}
END_TEST

START_TEST(abort_leaves_nothing_and_gives_room_back)
{
	char data[100] = { 0 };
	void *w;

	open_store("100");
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 100), 0);
	ops->put_abort(store, w);
	ck_assert(!exists(KEY_A));
	ck_assert_uint_eq(used_bytes(), 0);
	ck_assert_int_eq(put_filled(KEY_B, 'b', 100), 0);
	ck_assert_uint_eq(used_bytes(), 100);
}
END_TEST

START_TEST(bad_keys_and_options_refused)
{
	static const char *const bad[] = {
		"../escape", "/abs", "a//b", "a/", "a/../b", "UPPER", "",
	};
	struct vkdr_option unknown = { .key = "path", .value = "/tmp" };
	struct vkdr_option zero = { .key = "max-size", .value = "0" };
	struct vkdr_object obj;
	void *w;

	ck_assert_int_eq(ops->open(host, &unknown, 1, &store), -EINVAL);
	store = NULL;
	ck_assert_int_eq(ops->open(host, &zero, 1, &store), -EINVAL);
	store = NULL;
	open_store("1GiB");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(ops->put_begin(store, bad[i], 0, &w),
				 -EINVAL);
		ck_assert_int_eq(ops->get(store, bad[i], &obj), -EINVAL);
		ck_assert_int_eq(ops->remove(store, bad[i]), -EINVAL);
	}
}
END_TEST

START_TEST(commit_evicts_least_recently_used)
{
	open_store("300");
	ck_assert_int_eq(put_filled(KEY_A, 'a', 100), 0);
	ck_assert_int_eq(put_filled(KEY_B, 'b', 100), 0);
	ck_assert_int_eq(put_filled(KEY_C, 'c', 100), 0);
	touch(KEY_A);
	ck_assert_int_eq(put_filled(KEY_D, 'd', 100), 0);
	ck_assert(exists(KEY_A));
	ck_assert(!exists(KEY_B));
	ck_assert(exists(KEY_C));
	ck_assert(exists(KEY_D));
	ck_assert_uint_eq(used_bytes(), 300);

	ck_assert_int_eq(put_filled(KEY_B, 'b', 200), 0);
	ck_assert(exists(KEY_B));
	ck_assert(!exists(KEY_C));
	ck_assert(!exists(KEY_A));
	ck_assert(exists(KEY_D));
}
END_TEST

START_TEST(too_large_is_enospc)
{
	char data[200] = { 0 };
	void *w;

	open_store("300");
	ck_assert_int_eq(put_filled(KEY_A, 'a', 100), 0);
	ck_assert_int_eq(ops->put_begin(store, KEY_B, 301, &w), -ENOSPC);
	ck_assert_int_eq(ops->put_begin(store, KEY_B, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 200), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 200), -ENOSPC);
	ops->put_abort(store, w);
	ck_assert(exists(KEY_A));
	ck_assert(!exists(KEY_B));
}
END_TEST

START_TEST(objects_being_read_are_not_evicted)
{
	struct vkdr_object a, b, c;

	open_store("300");
	ck_assert_int_eq(put_filled(KEY_A, 'a', 100), 0);
	ck_assert_int_eq(put_filled(KEY_B, 'b', 100), 0);
	ck_assert_int_eq(put_filled(KEY_C, 'c', 100), 0);
	ck_assert_int_eq(ops->get(store, KEY_A, &a), 0);
	ck_assert_int_eq(ops->get(store, KEY_B, &b), 0);
	ck_assert_int_eq(ops->get(store, KEY_C, &c), 0);

	/* Nothing can go: the write fails and the cache is left whole. */
	ck_assert_int_eq(put_filled(KEY_D, 'd', 100), -ENOSPC);
	ck_assert(exists(KEY_A));
	ck_assert(exists(KEY_B));
	ck_assert(exists(KEY_C));

	ops->release(store, &b);
	ck_assert_int_eq(put_filled(KEY_D, 'd', 100), 0);
	ck_assert(!exists(KEY_B));
	ops->release(store, &a);
	ops->release(store, &c);
}
END_TEST

START_TEST(removed_object_keeps_memory_until_release)
{
	struct vkdr_object obj;
	char buf[100];

	open_store("200");
	ck_assert_int_eq(put_filled(KEY_A, 'a', 100), 0);
	ck_assert_int_eq(put_filled(KEY_B, 'b', 100), 0);
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ck_assert_int_eq(ops->remove(store, KEY_A), 0);
	ck_assert_int_eq(ops->remove(store, KEY_A), -ENOENT);
	ck_assert(!exists(KEY_A));
	ck_assert_uint_eq(used_bytes(), 100);

	/* A's memory is still held, so C pushes B out. */
	ck_assert_int_eq(put_filled(KEY_C, 'c', 100), 0);
	ck_assert(!exists(KEY_B));
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, sizeof(buf)), 100);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_int_eq(buf[99], 'a');
	ops->release(store, &obj);

	ck_assert_int_eq(put_filled(KEY_B, 'b', 100), 0);
	ck_assert(exists(KEY_B));
	ck_assert(exists(KEY_C));
}
END_TEST

START_TEST(trim_follows_get_order)
{
	uint64_t bytes, objects;

	open_store(NULL);
	ck_assert_int_eq(put_filled(KEY_A, 'a', 100), 0);
	ck_assert_int_eq(put_filled(KEY_B, 'b', 100), 0);
	ck_assert_int_eq(put_filled(KEY_C, 'c', 100), 0);
	touch(KEY_B);
	touch(KEY_A);
	ck_assert_int_eq(ops->trim(store, 150), 200);
	ck_assert(exists(KEY_A));
	ck_assert(!exists(KEY_B));
	ck_assert(!exists(KEY_C));
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 100);
	ck_assert_uint_eq(objects, 1);
	ck_assert_int_eq(ops->trim(store, 150), 0);
}
END_TEST

START_TEST(replace_updates_usage)
{
	uint64_t bytes, objects;
	struct vkdr_object obj;
	char buf[8];

	open_store(NULL);
	ck_assert_int_eq(put_filled(KEY_A, 'a', 50), 0);
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ck_assert_int_eq(put_filled(KEY_A, 'A', 20), 0);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 20);
	ck_assert_uint_eq(objects, 1);
	/* The reader still sees the object it opened. */
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, sizeof(buf)), 8);
	ck_assert_int_eq(buf[0], 'a');
	ops->release(store, &obj);
}
END_TEST

struct walk_seen {
	size_t n;
	bool remove_each;
};

static int count_walked(void *arg, const char *key,
			const struct vkdr_object_info *info)
{
	struct walk_seen *seen = arg;

	seen->n++;
	if (seen->remove_each)
		ck_assert_int_eq(ops->remove(store, key), 0);
	return 0;
}

START_TEST(walk_by_prefix)
{
	struct walk_seen seen = { 0 };

	open_store(NULL);
	ck_assert_int_eq(put_filled("blobs/sha256/aa", 'x', 1), 0);
	ck_assert_int_eq(put_filled("blobs/sha256/ab", 'x', 1), 0);
	ck_assert_int_eq(put_filled("tags/x/latest", 'x', 1), 0);
	ck_assert_int_eq(ops->walk(store, "blobs/sha256/a", count_walked,
				   &seen), 0);
	ck_assert_uint_eq(seen.n, 2);
	seen.n = 0;
	seen.remove_each = true;
	ck_assert_int_eq(ops->walk(store, "", count_walked, &seen), 0);
	ck_assert_uint_eq(seen.n, 3);
	ck_assert_uint_eq(used_bytes(), 0);
}
END_TEST

START_TEST(concurrent_writers_last_commit_wins)
{
	uint64_t bytes, objects, size;

	open_store(NULL);
	size = storekit_concurrent_writers(ops, store, KEY_A, 16);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, size);
	ck_assert_uint_eq(objects, 1);
}
END_TEST

START_TEST(many_objects_grow_the_table)
{
	char key[64];

	open_store(NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "blobs/sha256/%04d", i);
		ck_assert_int_eq(put_filled(key, 'x', 1), 0);
	}
	for (int i = 0; i < 1000; i += 37) {
		snprintf(key, sizeof(key), "blobs/sha256/%04d", i);
		ck_assert(exists(key));
	}
	ck_assert_uint_eq(used_bytes(), 1000);
}
END_TEST

static Suite *tmpfs_suite(void)
{
	Suite *s = suite_create("tmpfs");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_by_fd_and_read);
	tcase_add_test(tc, abort_leaves_nothing_and_gives_room_back);
	tcase_add_test(tc, bad_keys_and_options_refused);
	tcase_add_test(tc, commit_evicts_least_recently_used);
	tcase_add_test(tc, too_large_is_enospc);
	tcase_add_test(tc, objects_being_read_are_not_evicted);
	tcase_add_test(tc, removed_object_keeps_memory_until_release);
	tcase_add_test(tc, trim_follows_get_order);
	tcase_add_test(tc, replace_updates_usage);
	tcase_add_test(tc, walk_by_prefix);
	tcase_add_test(tc, concurrent_writers_last_commit_wins);
	tcase_add_test(tc, many_objects_grow_the_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tmpfs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
