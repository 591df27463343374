/*
 * test_s3live.c - the s3 storage backend against a real S3 service (the
 * Ceph RGW that 01-backend.sh starts), loaded from the build tree through
 * the mock host. S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY name the
 * service; every test works in a bucket or prefix of its own.
 *
 * The presigned-URL test fetches with libcurl directly, since the mock
 * host's HTTP client only plays scripted replies. Its expiry check waits
 * for the clock to pass the URL's expiry; the wait is not what passes it.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mockhost.h"

static const struct vkdr_host *host;
static const struct vkdr_storage_ops *ops;
static void *store;
static char prefix[64];

static const char *env(const char *name)
{
	const char *v = getenv(name);

	ck_assert_msg(v && *v, "%s is not set", name);
	return v;
}

/* Open the shared test bucket under this test's own PREFIX. */
static int open_with(const char *extra_key, const char *extra_value, void **out)
{
	struct vkdr_option opts[6] = {
		{ "endpoint", env("S3_ENDPOINT") },
		{ "bucket", "vkdr-live" },
		{ "access-key", env("S3_ACCESS_KEY") },
		{ "secret-key", env("S3_SECRET_KEY") },
		{ "prefix", prefix },
	};
	size_t n = 5;

	if (extra_key)
		opts[n++] = (struct vkdr_option){ extra_key, extra_value };
	return ops->open(host, opts, n, out);
}

static void setup(void)
{
	const struct vkdr_module *mod;
	static unsigned serial;

	host = mock_host();
	mod = mock_load("s3");
	ck_assert_ptr_nonnull(mod);
	ck_assert_int_eq(mod->kind, VKDR_MODULE_STORAGE);
	ops = mod->ops;
	snprintf(prefix, sizeof(prefix), "t%ld-%u-%u/", (long)getpid(),
		 (unsigned)time(NULL), serial++);
	store = NULL;
}

static void teardown(void)
{
	if (store)
		ops->close(store);
	store = NULL;
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
}

static int put(const char *key, const char *data, size_t len)
{
	void *w;
	int rc;

	rc = ops->put_begin(store, key, len, &w);
	if (rc < 0)
		return rc;
	/* In pieces, as the daemon writes. */
	for (size_t off = 0; off < len; off += 100000) {
		size_t n = len - off < 100000 ? len - off : 100000;

		rc = ops->put_write(store, w, data + off, n);
		if (rc < 0) {
			ops->put_abort(store, w);
			return rc;
		}
	}
	return ops->put_commit(store, w);
}

static int count_keys(void *arg, const char *key,
		      const struct vkdr_object_info *info)
{
	(*(int *)arg)++;
	return 0;
}

START_TEST(unknown_option_refused)
{
	void *s = NULL;

	ck_assert_int_eq(open_with("colour", "blue", &s), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(open_with("path-style", "maybe", &s), -EINVAL);
}
END_TEST

START_TEST(wrong_secret_refused)
{
	struct vkdr_option opts[] = {
		{ "endpoint", env("S3_ENDPOINT") },
		{ "bucket", "vkdr-live" },
		{ "access-key", env("S3_ACCESS_KEY") },
		{ "secret-key", "not-the-secret" },
	};
	void *s = NULL;
	int rc = ops->open(host, opts, 4, &s);

	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(unreachable_endpoint_refused)
{
	struct vkdr_option opts[] = {
		{ "endpoint", "http://127.0.0.1:1" },
		{ "bucket", "vkdr-live" },
		{ "access-key", "a" },
		{ "secret-key", "b" },
	};
	void *s = NULL;

	ck_assert_int_lt(ops->open(host, opts, 4, &s), 0);
}
END_TEST

START_TEST(put_get_read_ranges)
{
	size_t len = 5 * 1024 * 1024 + 123;
	char *data = malloc(len), *back = malloc(len);
	struct vkdr_object_info info;
	struct vkdr_object obj;
	const uint64_t offs[] = { 0,	   1,	    65536,   2097151,
				  2097152, 4194303, len - 10 };

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(back);
	fill(data, len, 7);
	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(ops->stat(store, "blobs/sha256/aa", &info), -ENOENT);
	ck_assert_int_eq(put("blobs/sha256/aa", data, len), 0);

	ck_assert_int_eq(ops->stat(store, "blobs/sha256/aa", &info), 0);
	ck_assert_uint_eq(info.size, len);
	ck_assert_int_gt(info.mtime, 0);

	ck_assert_int_eq(ops->get(store, "blobs/sha256/aa", &obj), 0);
	ck_assert_int_eq(obj.fd, -1);
	ck_assert_uint_eq(obj.size, len);
	/* The whole object in the daemon's 64 KiB reads. */
	for (size_t got = 0; got < len;) {
		ssize_t n = ops->read(store, &obj, got, back + got,
				      len - got < 65536 ? len - got : 65536);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(back, data, len), 0);
	/* Ranges out of order, across read-ahead boundaries. */
	for (size_t i = sizeof(offs) / sizeof(*offs); i-- > 0;) {
		char small[10];
		ssize_t n = ops->read(store, &obj, offs[i], small, 10);

		ck_assert_int_eq(n, 10);
		ck_assert_int_eq(memcmp(small, data + offs[i], 10), 0);
	}
	/* One read larger than the read-ahead, and the end. */
	memset(back, 0, len);
	ck_assert_int_eq(ops->read(store, &obj, 100, back, 3 << 20), 3 << 20);
	ck_assert_int_eq(memcmp(back, data + 100, 3 << 20), 0);
	ck_assert_int_eq(ops->read(store, &obj, len - 3, back, 100), 3);
	ck_assert_int_eq(ops->read(store, &obj, len, back, 100), 0);
	ops->release(store, &obj);

	ck_assert_int_eq(ops->remove(store, "blobs/sha256/aa"), 0);
	ck_assert_int_eq(ops->stat(store, "blobs/sha256/aa", &info), -ENOENT);
	ck_assert_int_eq(ops->get(store, "blobs/sha256/aa", &obj), -ENOENT);
	ck_assert_int_eq(ops->remove(store, "blobs/sha256/aa"), -ENOENT);
	free(data);
	free(back);
}
END_TEST

START_TEST(multipart_upload)
{
	size_t len = 12 * 1024 * 1024 + 7;
	char *data = malloc(len), *back = malloc(len);
	struct vkdr_object obj;
	void *s = NULL;

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(open_with("part-size", "4MiB", &s), -EINVAL);
	/* Three parts: 5 MiB, 5 MiB and the rest. */
	ck_assert_int_eq(open_with("part-size", "5MiB", &store), 0);
	fill(data, len, 11);
	ck_assert_int_eq(put("blobs/sha256/mp", data, len), 0);
	ck_assert_int_eq(ops->get(store, "blobs/sha256/mp", &obj), 0);
	ck_assert_uint_eq(obj.size, len);
	for (size_t got = 0; got < len;) {
		ssize_t n = ops->read(store, &obj, got, back + got, len - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(back, data, len), 0);
	ops->release(store, &obj);
	free(data);
	free(back);
}
END_TEST

START_TEST(empty_object)
{
	struct vkdr_object obj;
	char buf[4];

	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(put("tags/empty", "", 0), 0);
	ck_assert_int_eq(ops->get(store, "tags/empty", &obj), 0);
	ck_assert_uint_eq(obj.size, 0);
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, sizeof(buf)), 0);
	ops->release(store, &obj);
}
END_TEST

START_TEST(abort_leaves_nothing)
{
	struct vkdr_object_info info;
	void *w;
	int n = 0;

	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(ops->put_begin(store, "blobs/sha256/bb", 5, &w), 0);
	ck_assert_int_eq(ops->put_write(store, w, "hello", 5), 0);
	/* Not visible before commit. */
	ck_assert_int_eq(ops->stat(store, "blobs/sha256/bb", &info), -ENOENT);
	ops->put_abort(store, w);
	ck_assert_int_eq(ops->stat(store, "blobs/sha256/bb", &info), -ENOENT);
	ck_assert_int_eq(ops->walk(store, "", count_keys, &n), 0);
	ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(last_commit_wins)
{
	struct vkdr_object obj;
	void *w1, *w2;
	char buf[8];

	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(ops->put_begin(store, "tags/t", 0, &w1), 0);
	ck_assert_int_eq(ops->put_begin(store, "tags/t", 0, &w2), 0);
	ck_assert_int_eq(ops->put_write(store, w1, "first", 5), 0);
	ck_assert_int_eq(ops->put_write(store, w2, "second", 6), 0);
	ck_assert_int_eq(ops->put_commit(store, w1), 0);
	ck_assert_int_eq(ops->put_commit(store, w2), 0);
	ck_assert_int_eq(ops->get(store, "tags/t", &obj), 0);
	ck_assert_uint_eq(obj.size, 6);
	ck_assert_int_eq(ops->read(store, &obj, 0, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "second", 6), 0);
	ops->release(store, &obj);
}
END_TEST

struct seen {
	char keys[8][64];
	uint64_t sizes[8];
	int n;
};

static int collect(void *arg, const char *key,
		   const struct vkdr_object_info *info)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 8);
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	s->sizes[s->n++] = info->size;
	return 0;
}

static int remove_each(void *arg, const char *key,
		       const struct vkdr_object_info *info)
{
	return ops->remove(arg, key);
}

static int stop_at_first(void *arg, const char *key,
			 const struct vkdr_object_info *info)
{
	return 42;
}

START_TEST(walk_and_usage)
{
	struct seen s = { .n = 0 };
	uint64_t bytes = 0, objects = 0;
	void *other = NULL;
	int n = 0;

	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(put("blobs/sha256/01", "abc", 3), 0);
	ck_assert_int_eq(put("blobs/sha256/02", "defgh", 5), 0);
	ck_assert_int_eq(put("tags/docker.io/x", "r", 1), 0);

	ck_assert_int_eq(ops->walk(store, "blobs/", collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.keys[0], "blobs/sha256/01");
	ck_assert_uint_eq(s.sizes[0], 3);
	ck_assert_str_eq(s.keys[1], "blobs/sha256/02");
	ck_assert_uint_eq(s.sizes[1], 5);
	ck_assert_int_eq(ops->walk(store, "", stop_at_first, NULL), 42);

	ck_assert_ptr_nonnull(ops->usage);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(bytes, 9);
	ck_assert_uint_eq(objects, 3);

	/* Another prefix in the same bucket sees none of it. */
	snprintf(prefix, sizeof(prefix), "other-%ld-%u", (long)getpid(),
		 (unsigned)time(NULL));
	ck_assert_int_eq(open_with(NULL, NULL, &other), 0);
	ck_assert_int_eq(ops->walk(other, "", count_keys, &n), 0);
	ck_assert_int_eq(n, 0);
	ops->close(other);

	/* The walk's function may call back into the store. */
	ck_assert_int_eq(ops->walk(store, "", remove_each, store), 0);
	ck_assert_int_eq(ops->usage(store, &bytes, &objects), 0);
	ck_assert_uint_eq(objects, 0);
}
END_TEST

START_TEST(walk_follows_pages)
{
	char key[64];
	int n = 0;

	/* RGW pages listings at 1000 keys. */
	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	for (int i = 0; i < 1005; i++) {
		snprintf(key, sizeof(key), "tags/k%04d", i);
		ck_assert_int_eq(put(key, "x", 1), 0);
	}
	ck_assert_int_eq(ops->walk(store, "tags/", count_keys, &n), 0);
	ck_assert_int_eq(n, 1005);
}
END_TEST

START_TEST(bad_keys_refused)
{
	struct vkdr_object_info info;
	void *w;

	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(ops->put_begin(store, "../x", 0, &w), -EINVAL);
	ck_assert_int_eq(ops->stat(store, "a//b", &info), -EINVAL);
}
END_TEST

struct body {
	char data[1024];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if (len > sizeof(b->data) - 1 - b->len)
		len = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return size * n;
}

static long fetch(const char *url, struct body *b)
{
	CURL *h = curl_easy_init();
	long status = 0;

	ck_assert_ptr_nonnull(h);
	b->len = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status;
}

START_TEST(presigned_urls)
{
	char url[8192];
	struct body b;
	time_t signed_at;

	ck_assert_int_eq(open_with(NULL, NULL, &store), 0);
	ck_assert_int_eq(
		ops->redirect_url(store, "tags/p", 60, url, sizeof(url)),
		-ENOTSUP);
	ops->close(store);
	store = NULL;

	ck_assert_int_eq(open_with("redirect", "true", &store), 0);
	ck_assert_int_eq(put("tags/p", "presigned", 9), 0);
	ck_assert_int_eq(
		ops->redirect_url(store, "tags/p", 60, url, sizeof(url)), 0);
	ck_assert_ptr_null(strstr(url, env("S3_SECRET_KEY")));
	ck_assert_int_eq(fetch(url, &b), 200);
	ck_assert_uint_eq(b.len, 9);
	ck_assert_int_eq(memcmp(b.data, "presigned", 9), 0);

	/* A changed signature is refused. */
	url[strlen(url) - 1] = url[strlen(url) - 1] == '0' ? '1' : '0';
	ck_assert_int_eq(fetch(url, &b), 403);
	ck_assert_ptr_nonnull(strstr(b.data, "SignatureDoesNotMatch"));

	/* Expiry: valid until signed_at + 1; fetch once the clock is past. */
	signed_at = time(NULL);
	ck_assert_int_eq(
		ops->redirect_url(store, "tags/p", 1, url, sizeof(url)), 0);
	while (time(NULL) <= signed_at + 2)
		usleep(50000);
	ck_assert_int_eq(fetch(url, &b), 403);
	/* Refused for its age (RGW's code for it), not for its signature. */
	ck_assert_ptr_nonnull(strstr(b.data, "AccessDenied"));
}
END_TEST

/* Open the test prefix with a local tier and the extra options given. */
static int open_tiered(const struct vkdr_option *extra, size_t n_extra,
		       void **out)
{
	struct vkdr_option opts[9] = {
		{ "endpoint", env("S3_ENDPOINT") },
		{ "bucket", "vkdr-live" },
		{ "access-key", env("S3_ACCESS_KEY") },
		{ "secret-key", env("S3_SECRET_KEY") },
		{ "prefix", prefix },
	};
	size_t n = 5;

	for (size_t i = 0; i < n_extra && n < 9; i++)
		opts[n++] = extra[i];
	return ops->open(host, opts, n, out);
}

/* Read OBJ of STORE whole and compare it with WANT. */
static void check_bytes(void *st, struct vkdr_object *obj, const char *want,
			size_t len)
{
	char *got = malloc(len + 1);
	size_t have = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(obj->size, len);
	while ((n = ops->read(st, obj, have, got + have, len + 1 - have)) > 0)
		have += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(have, len);
	ck_assert_int_eq(memcmp(got, want, len), 0);
	free(got);
}

START_TEST(local_tier)
{
	const struct vkdr_option tier[] = {
		{ "local", "tmpfs" },
		{ "local-max-size", "1MiB" },
	};
	const char *small = "blobs/sha256/0a", *big = "blobs/sha256/0b";
	size_t big_len = (2u << 20) + 3;
	char *small_data = malloc(5000), *big_data = malloc(big_len);
	struct vkdr_object_info info;
	struct vkdr_object obj;
	void *second = NULL;

	ck_assert_ptr_nonnull(small_data);
	ck_assert_ptr_nonnull(big_data);
	fill(small_data, 5000, 1);
	fill(big_data, big_len, 2);
	/* The core finds the local tier's backend by name. */
	ck_assert_ptr_nonnull(mock_load("tmpfs"));
	ck_assert_int_eq(open_tiered(tier, 2, &store), 0);

	/* Committed to the bucket and copied: served with a descriptor. */
	ck_assert_int_eq(put(small, small_data, 5000), 0);
	ck_assert_int_eq(ops->get(store, small, &obj), 0);
	ck_assert_int_ge(obj.fd, 0);
	check_bytes(store, &obj, small_data, 5000);
	ops->release(store, &obj);

	/* Larger than local-max-size: from the bucket, by read(). */
	ck_assert_int_eq(put(big, big_data, big_len), 0);
	ck_assert_int_eq(ops->get(store, big, &obj), 0);
	ck_assert_int_lt(obj.fd, 0);
	check_bytes(store, &obj, big_data, big_len);
	ops->release(store, &obj);

	/* Tag records are never copied. */
	ck_assert_int_eq(put("tags/t", "record", 6), 0);
	ck_assert_int_eq(ops->get(store, "tags/t", &obj), 0);
	ck_assert_int_lt(obj.fd, 0);
	check_bytes(store, &obj, "record", 6);
	ops->release(store, &obj);

	/* Another store on the bucket fills its empty tier on a hit. */
	ck_assert_int_eq(open_tiered(tier, 2, &second), 0);
	ck_assert_int_eq(ops->get(second, small, &obj), 0);
	ck_assert_int_ge(obj.fd, 0);
	check_bytes(second, &obj, small_data, 5000);
	ops->release(second, &obj);

	/* Remove takes both copies: nothing is left to stat. */
	ck_assert_int_eq(ops->remove(second, small), 0);
	ck_assert_int_eq(ops->stat(second, small, &info), -ENOENT);
	ck_assert_int_eq(ops->get(second, small, &obj), -ENOENT);
	ops->close(second);
	free(small_data);
	free(big_data);
}
END_TEST

START_TEST(local_tier_options_refused)
{
	const struct vkdr_option no_tier[] = { { "local-max-size", "1MiB" } };
	const struct vkdr_option unknown[] = { { "local", "nfs" } };
	const struct vkdr_option tmpfs_path[] = {
		{ "local", "tmpfs" },
		{ "local-path", "/tmp" },
	};
	const struct vkdr_option bad_size[] = {
		{ "local", "tmpfs" },
		{ "local-max-size", "lots" },
	};
	void *s = NULL;

	ck_assert_ptr_nonnull(mock_load("tmpfs"));
	ck_assert_int_eq(open_tiered(no_tier, 1, &s), -EINVAL);
	ck_assert_int_eq(open_tiered(unknown, 1, &s), -EINVAL);
	ck_assert_int_eq(open_tiered(tmpfs_path, 2, &s), -EINVAL);
	ck_assert_int_eq(open_tiered(bad_size, 2, &s), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

static Suite *s3live_suite(void)
{
	Suite *s = suite_create("s3live");
	TCase *tc = tcase_create("s3live");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, unknown_option_refused);
	tcase_add_test(tc, wrong_secret_refused);
	tcase_add_test(tc, unreachable_endpoint_refused);
	tcase_add_test(tc, put_get_read_ranges);
	tcase_add_test(tc, multipart_upload);
	tcase_add_test(tc, empty_object);
	tcase_add_test(tc, abort_leaves_nothing);
	tcase_add_test(tc, last_commit_wins);
	tcase_add_test(tc, walk_and_usage);
	tcase_add_test(tc, walk_follows_pages);
	tcase_add_test(tc, bad_keys_refused);
	tcase_add_test(tc, presigned_urls);
	tcase_add_test(tc, local_tier);
	tcase_add_test(tc, local_tier_options_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(s3live_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
