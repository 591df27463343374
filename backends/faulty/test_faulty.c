/*
 * test_faulty.c - unit tests of the "faulty" test backend: each fault
 * shows up where it was asked for, and nowhere else.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mockhost.h"

#define KEY_A "blobs/sha256/aaaa"

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

/* Open with "path" and one more option KEY=VALUE (none when KEY NULL). */
static int open_store(const char *key, const char *value)
{
	struct vkdr_option opts[] = {
		{ .key = "path", .value = dir },
		{ .key = key, .value = value },
	};

	return ops->open(host, opts, key ? 2 : 1, &store);
}

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("faulty");
	ck_assert_ptr_nonnull(mod);
	ck_assert_int_eq(mod->kind, VKDR_MODULE_STORAGE);
	ops = mod->ops;
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/faulty-XXXXXX",
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

static void put_text(const char *key, const char *text)
{
	void *w;

	ck_assert_int_eq(ops->put_begin(store, key, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, text, strlen(text)), 0);
	ck_assert_int_eq(ops->put_commit(store, w), 0);
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

START_TEST(without_faults_it_is_a_store)
{
	struct vkdr_object obj;
	char buf[16];

	ck_assert_int_eq(open_store(NULL, NULL), 0);
	put_text(KEY_A, "intact");
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ck_assert_int_ge(obj.fd, 0);
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, sizeof(buf)), 6);
	ck_assert_mem_eq(buf, "intact", 6);
	ops->release(store, &obj);
}
END_TEST

START_TEST(bad_options_refused)
{
	ck_assert_int_eq(open_store("enospc-after", "soon"), -EINVAL);
	store = NULL;
	ck_assert_int_eq(open_store("fail-get", "maybe"), -EINVAL);
	store = NULL;
	ck_assert_int_eq(open_store("explode", "1"), -EINVAL);
	store = NULL;
}
END_TEST

START_TEST(enospc_after_bytes)
{
	struct vkdr_object_info info;
	char data[60] = { 0 };
	void *w;

	ck_assert_int_eq(open_store("enospc-after", "100"), 0);
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 60), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 60), -ENOSPC);
	ck_assert_int_eq(files_in_tmp(), 1);
	ops->put_abort(store, w);
	ck_assert_int_eq(files_in_tmp(), 0);
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), -ENOENT);

	/* The budget counts every write of the store, so it stays spent. */
	ck_assert_int_eq(ops->put_begin(store, KEY_A, 0, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 40), 0);
	ck_assert_int_eq(ops->put_write(store, w, data, 1), -ENOSPC);
	ops->put_abort(store, w);
}
END_TEST

START_TEST(fail_get_is_eio)
{
	struct vkdr_object_info info;
	struct vkdr_object obj;

	ck_assert_int_eq(open_store("fail-get", "1"), 0);
	put_text(KEY_A, "there");
	ck_assert_int_eq(ops->stat(store, KEY_A, &info), 0);
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), -EIO);
}
END_TEST

START_TEST(corrupt_read_flips_every_byte)
{
	static const char text[] = "the bytes on disk";
	size_t len = strlen(text);
	struct vkdr_object obj;
	char buf[64];

	ck_assert_int_eq(open_store("corrupt-read", "1"), 0);
	put_text(KEY_A, text);
	ck_assert_int_eq(ops->get(store, KEY_A, &obj), 0);
	ck_assert_uint_eq(obj.size, len);

	ck_assert_int_ge(obj.fd, 0);
	ck_assert_int_eq(pread(obj.fd, buf, sizeof(buf), (off_t)obj.offset),
			 (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq((unsigned char)buf[i],
				 (unsigned char)~text[i]);

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(ops->read(store, &obj, 4, buf, sizeof(buf)),
			 (ssize_t)len - 4);
	ck_assert_int_eq((unsigned char)buf[0], (unsigned char)~text[4]);
	ops->release(store, &obj);
}
END_TEST

static Suite *faulty_suite(void)
{
	Suite *s = suite_create("faulty");
	TCase *tc = tcase_create("faults");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, without_faults_it_is_a_store);
	tcase_add_test(tc, bad_options_refused);
	tcase_add_test(tc, enospc_after_bytes);
	tcase_add_test(tc, fail_get_is_eio);
	tcase_add_test(tc, corrupt_read_flips_every_byte);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(faulty_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
