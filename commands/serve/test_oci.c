/*
 * test_oci.c - the daemon's pure parts: grammar, paths, ranges, Accept
 * sets, storage keys, tag records, manifest types, metrics text; and the
 * check of stored objects against their digests, over a store in memory.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "metrics.h"
#include "oci.h"

static const char *const hex64 =
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

START_TEST(names)
{
	static const char *const good[] = {
		"a", "library/nginx", "a/b/c", "foo.bar", "foo_bar",
		"foo__bar", "foo---bar", "a0/b-1.c_2", "x/blobs/y",
	};
	static const char *const bad[] = {
		"", "/a", "a/", "a//b", "A", "Library/nginx", "..", "a/..",
		"../a", "a/../b", ".a", "a.", "a..b", "a___b", "-a", "a-",
		"a_", "a%2fb", "%2e%2e", "a b", "a\\b", "a:b", "a?b",
	};
	char longname[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(oci_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!oci_name_valid(bad[i]), "%s", bad[i]);

	memset(longname, 'a', sizeof(longname));
	longname[OCI_NAME_MAX] = '\0';
	ck_assert(oci_name_valid(longname));
	longname[OCI_NAME_MAX] = 'a';
	longname[OCI_NAME_MAX + 1] = '\0';
	ck_assert(!oci_name_valid(longname));
}
END_TEST

START_TEST(tags)
{
	char t[200];

	ck_assert(oci_tag_valid("latest"));
	ck_assert(oci_tag_valid("V1.2.3-rc_1"));
	ck_assert(oci_tag_valid("_x"));
	ck_assert(!oci_tag_valid(""));
	ck_assert(!oci_tag_valid(".hidden"));
	ck_assert(!oci_tag_valid("-x"));
	ck_assert(!oci_tag_valid(".."));
	ck_assert(!oci_tag_valid("a/b"));
	ck_assert(!oci_tag_valid("a%2e"));
	memset(t, 'a', sizeof(t));
	t[128] = '\0';
	ck_assert(oci_tag_valid(t));
	t[128] = 'a';
	t[129] = '\0';
	ck_assert(!oci_tag_valid(t));
}
END_TEST

START_TEST(digests)
{
	char d[200];

	snprintf(d, sizeof(d), "sha256:%s", hex64);
	ck_assert_int_eq(oci_digest_check(d), OCI_OK);
	d[10] = 'A';
	ck_assert_int_eq(oci_digest_check(d), OCI_ERR_DIGEST);
	snprintf(d, sizeof(d), "sha256:%.63s", hex64);
	ck_assert_int_eq(oci_digest_check(d), OCI_ERR_DIGEST);
	snprintf(d, sizeof(d), "sha512:%s%s", hex64, hex64);
	ck_assert_int_eq(oci_digest_check(d), OCI_ERR_UNSUPPORTED);
	ck_assert_int_eq(oci_digest_check("sha256"), OCI_ERR_DIGEST);
	ck_assert_int_eq(oci_digest_check(":abc"), OCI_ERR_DIGEST);
	ck_assert_int_eq(oci_digest_check("sha256:"), OCI_ERR_DIGEST);
	ck_assert_int_eq(oci_digest_check("sha256:../../etc"),
			 OCI_ERR_DIGEST);
	ck_assert_int_eq(oci_digest_check("SHA256:abc"), OCI_ERR_DIGEST);
}
END_TEST

START_TEST(paths)
{
	struct oci_path p;
	char buf[300];

	ck_assert_int_eq(oci_parse_path("/v2/", &p), OCI_OK);
	ck_assert_int_eq(p.route, OCI_ROUTE_BASE);
	ck_assert_int_eq(oci_parse_path("/v2", &p), OCI_OK);
	ck_assert_int_eq(p.route, OCI_ROUTE_BASE);
	ck_assert_int_eq(oci_parse_path("/metrics", &p), OCI_OK);
	ck_assert_int_eq(p.route, OCI_ROUTE_METRICS);

	ck_assert_int_eq(oci_parse_path("/v2/library/nginx/manifests/latest"
					"?ns=docker.io",
					&p),
			 OCI_OK);
	ck_assert_int_eq(p.route, OCI_ROUTE_MANIFEST);
	ck_assert_str_eq(p.name, "library/nginx");
	ck_assert_str_eq(p.reference, "latest");
	ck_assert(!p.by_digest);

	snprintf(buf, sizeof(buf), "/v2/a/blobs/x/blobs/sha256:%s", hex64);
	ck_assert_int_eq(oci_parse_path(buf, &p), OCI_OK);
	ck_assert_int_eq(p.route, OCI_ROUTE_BLOB);
	ck_assert_str_eq(p.name, "a/blobs/x");
	ck_assert(p.by_digest);

	snprintf(buf, sizeof(buf), "/v2/a/manifests/sha256:%s", hex64);
	ck_assert_int_eq(oci_parse_path(buf, &p), OCI_OK);
	ck_assert(p.by_digest);

	ck_assert_int_eq(oci_parse_path("/v2/a/tags/list?n=10", &p), OCI_OK);
	ck_assert_int_eq(p.route, OCI_ROUTE_TAGS);
	ck_assert_int_eq(oci_parse_path("/v2/a/tags/list/x", &p),
			 OCI_ERR_NOT_FOUND);

	/* Traversal and smuggling: nothing is decoded, all is refused. */
	ck_assert_int_eq(oci_parse_path("/v2/../etc/manifests/x", &p),
			 OCI_ERR_NAME);
	ck_assert_int_eq(oci_parse_path("/v2/%2e%2e/manifests/x", &p),
			 OCI_ERR_NAME);
	ck_assert_int_eq(oci_parse_path("/v2/a%2fb/manifests/x", &p),
			 OCI_ERR_NAME);
	ck_assert_int_eq(oci_parse_path("/v2/a/manifests/%2e%2e", &p),
			 OCI_ERR_TAG);
	ck_assert_int_eq(oci_parse_path("/v2/a/manifests/..", &p),
			 OCI_ERR_TAG);
	ck_assert_int_eq(oci_parse_path("/v2/a/blobs/latest", &p),
			 OCI_ERR_DIGEST);
	ck_assert_int_eq(oci_parse_path("/v2/a/blobs/sha256:..%2f..", &p),
			 OCI_ERR_DIGEST);
	snprintf(buf, sizeof(buf), "/v2/a/blobs/sha512:%s%s", hex64, hex64);
	ck_assert_int_eq(oci_parse_path(buf, &p), OCI_ERR_UNSUPPORTED);
	ck_assert_int_eq(oci_parse_path("/v2/Upper/manifests/x", &p),
			 OCI_ERR_NAME);
	ck_assert_int_eq(oci_parse_path("/v2/a/manifests/", &p),
			 OCI_ERR_TAG);
	ck_assert_int_eq(oci_parse_path("/v2/manifests/x", &p),
			 OCI_ERR_NOT_FOUND);
	ck_assert_int_eq(oci_parse_path("/v2/a/uploads/", &p),
			 OCI_ERR_NOT_FOUND);
	ck_assert_int_eq(oci_parse_path("/etc/passwd", &p),
			 OCI_ERR_NOT_FOUND);
	ck_assert_int_eq(oci_parse_path("/v2x/a/manifests/x", &p),
			 OCI_ERR_NOT_FOUND);
}
END_TEST

START_TEST(ranges)
{
	struct oci_range r;

	ck_assert_int_eq(oci_range_parse(NULL, 100, &r), 0);
	ck_assert_int_eq(oci_range_parse("bytes=10-", 100, &r), 1);
	ck_assert_uint_eq(r.first, 10);
	ck_assert_uint_eq(r.last, 99);
	ck_assert_int_eq(oci_range_parse("bytes=10-19", 100, &r), 1);
	ck_assert_uint_eq(r.first, 10);
	ck_assert_uint_eq(r.last, 19);
	ck_assert_int_eq(oci_range_parse("bytes=90-200", 100, &r), 1);
	ck_assert_uint_eq(r.last, 99);
	ck_assert_int_eq(oci_range_parse("bytes=-30", 100, &r), 1);
	ck_assert_uint_eq(r.first, 70);
	ck_assert_uint_eq(r.last, 99);
	ck_assert_int_eq(oci_range_parse("bytes=-300", 100, &r), 1);
	ck_assert_uint_eq(r.first, 0);
	ck_assert_int_eq(oci_range_parse("bytes=100-", 100, &r), -ERANGE);
	ck_assert_int_eq(oci_range_parse("bytes=-0", 100, &r), -ERANGE);
	ck_assert_int_eq(oci_range_parse("bytes=0-", 0, &r), -ERANGE);
	/* Served whole: several ranges, other units, nonsense. */
	ck_assert_int_eq(oci_range_parse("bytes=0-1,5-6", 100, &r), 0);
	ck_assert_int_eq(oci_range_parse("items=0-1", 100, &r), 0);
	ck_assert_int_eq(oci_range_parse("bytes=5-2", 100, &r), 0);
	ck_assert_int_eq(oci_range_parse("bytes=x-", 100, &r), 0);
	ck_assert_int_eq(oci_range_parse("bytes=99999999999999999999-", 100,
					 &r),
			 0);
}
END_TEST

START_TEST(accept)
{
	char out[256], out2[256];

	ck_assert_int_eq(oci_accept_normalise(NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(oci_accept_normalise(
				 "application/vnd.oci.image.index.v1+json, "
				 "Application/JSON;q=0.5,,"
				 "application/vnd.oci.image.index.v1+json",
				 out, sizeof(out)),
			 0);
	ck_assert_str_eq(out, "application/json,"
			      "application/vnd.oci.image.index.v1+json");
	ck_assert_int_eq(oci_accept_normalise(
				 "application/vnd.oci.image.index.v1+json,"
				 "application/json",
				 out2, sizeof(out2)),
			 0);
	ck_assert_str_eq(out, out2);
	ck_assert_int_eq(oci_accept_normalise("application/json", out, 5),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(keys)
{
	char k1[OCI_KEY_MAX], k2[OCI_KEY_MAX], d[100];

	snprintf(d, sizeof(d), "sha256:%s", hex64);
	ck_assert_int_eq(oci_blob_key(d, k1, sizeof(k1)), 0);
	ck_assert_str_eq(k1 + strlen("blobs/sha256/"), hex64);
	ck_assert_int_eq(oci_blob_key("sha256:..", k1, sizeof(k1)), -EINVAL);

	ck_assert_int_eq(oci_tag_key("docker.io", "library/x", "Latest", "",
				     k1, sizeof(k1)),
			 0);
	ck_assert_int_eq(strncmp(k1, "tags/docker.io/library/x/_latest/", 33),
			 0);
	/* Case and underscores must not collide. */
	ck_assert_int_eq(oci_tag_key("docker.io", "library/x", "_latest", "",
				     k2, sizeof(k2)),
			 0);
	ck_assert_str_ne(k1, k2);
	ck_assert_int_eq(oci_tag_key("docker.io", "library/x", "latest", "",
				     k2, sizeof(k2)),
			 0);
	ck_assert_str_ne(k1, k2);
	/* The Accept set is part of the key. */
	ck_assert_int_eq(oci_tag_key("docker.io", "library/x", "latest",
				     "application/json", k1, sizeof(k1)),
			 0);
	ck_assert_str_ne(k1, k2);
	ck_assert_int_eq(oci_tag_key("localhost:5000", "x", "v1", "", k1,
				     sizeof(k1)),
			 0);
	ck_assert_int_eq(strncmp(k1, "tags/localhost_5000/x/v1/", 25), 0);
	for (const char *c = k1; *c; c++)
		ck_assert(strchr("abcdefghijklmnopqrstuvwxyz0123456789._/-",
				 *c));
	ck_assert_int_eq(oci_tag_key("docker.io", "../x", "v1", "", k1,
				     sizeof(k1)),
			 -EINVAL);
	ck_assert_int_eq(oci_tag_key("docker.io", "x", "..", "", k1,
				     sizeof(k1)),
			 -EINVAL);
	ck_assert_int_eq(oci_tag_key("../..", "x", "v1", "", k1, sizeof(k1)),
			 -EINVAL);
}
END_TEST

START_TEST(registries)
{
	ck_assert(oci_registry_valid("docker.io"));
	ck_assert(oci_registry_valid("localhost:5000"));
	ck_assert(!oci_registry_valid("Docker.io"));
	ck_assert(!oci_registry_valid("a..b"));
	ck_assert(!oci_registry_valid("a/b"));
	ck_assert(!oci_registry_valid("x:"));
	ck_assert(!oci_registry_valid("x:123456"));
	ck_assert(!oci_registry_valid(""));

	ck_assert(oci_registry_matches("docker.io", "docker.io"));
	ck_assert(!oci_registry_matches("docker.io", "ghcr.io"));
	ck_assert(oci_registry_matches("*.azurecr.io", "x.azurecr.io"));
	ck_assert(!oci_registry_matches("*.azurecr.io", "azurecr.io"));
	ck_assert(!oci_registry_matches("*.azurecr.io", "evilazurecr.io"));
	ck_assert(!oci_registry_matches("*", "anything.example"));
	ck_assert(!oci_registry_matches("*", "*"));
}
END_TEST

START_TEST(sizes)
{
	uint64_t v;

	ck_assert_int_eq(oci_parse_size("500MiB", &v), 0);
	ck_assert_uint_eq(v, 500ull << 20);
	ck_assert_int_eq(oci_parse_size("2G", &v), 0);
	ck_assert_uint_eq(v, 2ull << 30);
	ck_assert_int_eq(oci_parse_size("20gib", &v), 0);
	ck_assert_uint_eq(v, 20ull << 30);
	ck_assert_int_eq(oci_parse_size("3 KB", &v), 0);
	ck_assert_uint_eq(v, 3000);
	ck_assert_int_eq(oci_parse_size("1234", &v), 0);
	ck_assert_uint_eq(v, 1234);
	ck_assert_int_eq(oci_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(oci_parse_size("G", &v), -EINVAL);
	ck_assert_int_eq(oci_parse_size("5X", &v), -EINVAL);
	ck_assert_int_eq(oci_parse_size("99999999999T", &v), -ERANGE);
}
END_TEST

START_TEST(tag_records)
{
	struct tag_record in = { .size = 1234, .validated = 1700000000 };
	struct tag_record out;
	char buf[1024];
	int n;

	snprintf(in.digest, sizeof(in.digest), "sha256:%s", hex64);
	snprintf(in.media_type, sizeof(in.media_type),
		 "application/vnd.oci.image.index.v1+json");
	n = cache_tag_format(&in, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(cache_tag_parse(buf, (size_t)n, &out), 0);
	ck_assert_str_eq(out.digest, in.digest);
	ck_assert_str_eq(out.media_type, in.media_type);
	ck_assert_uint_eq(out.size, 1234);
	ck_assert_int_eq(out.validated, 1700000000);

	ck_assert_int_eq(cache_tag_parse("digest=sha256:x\n", 16, &out),
			 -EINVAL);
	/* A record missing a field is no record. */
	n = snprintf(buf, sizeof(buf), "digest=sha256:%s\nsize=1\n", hex64);
	ck_assert_int_eq(cache_tag_parse(buf, (size_t)n, &out), -EINVAL);
}
END_TEST

START_TEST(manifest_types)
{
	char t[256];
	const char *idx = "{\"schemaVersion\":2,\"manifests\":[]}";
	const char *man = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
	const char *typed = "{\"mediaType\":\"application/vnd.docker."
			    "distribution.manifest.v2+json\"}";

	ck_assert_int_eq(cache_manifest_type(idx, strlen(idx), t, sizeof(t)),
			 0);
	ck_assert_str_eq(t, "application/vnd.oci.image.index.v1+json");
	ck_assert_int_eq(cache_manifest_type(man, strlen(man), t, sizeof(t)),
			 0);
	ck_assert_str_eq(t, "application/vnd.oci.image.manifest.v1+json");
	ck_assert_int_eq(cache_manifest_type(typed, strlen(typed), t,
					     sizeof(t)),
			 0);
	ck_assert_str_eq(t, "application/vnd.docker.distribution."
			    "manifest.v2+json");
	ck_assert_int_eq(cache_manifest_type("\x1f\x8b\x08", 3, t, sizeof(t)),
			 -EINVAL);
	ck_assert_int_eq(cache_manifest_type("[1]", 3, t, sizeof(t)),
			 -EINVAL);
}
END_TEST

START_TEST(metrics_text)
{
	struct metrics m = { 0 };
	char buf[8192], small[64];

	metrics_add(&m.requests[OUTCOME_HIT], 3);
	metrics_add(&m.bytes_served, 42);
	ck_assert_int_gt(metrics_render(&m, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(
		strstr(buf, "vkdr_mirror_requests_total{outcome=\"hit\"} 3\n"));
	ck_assert_ptr_nonnull(
		strstr(buf, "vkdr_mirror_bytes_served_total 42\n"));
	ck_assert_int_eq(metrics_render(&m, small, sizeof(small)), -ENOSPC);
}
END_TEST

/* A digest per number, its first bytes varying so buckets differ. */
static void numbered_digest(unsigned i, char out[OCI_DIGEST_LEN + 1])
{
	snprintf(out, OCI_DIGEST_LEN + 1, "sha256:%08x%056u",
		 i * 2654435761u, i);
}

START_TEST(verified_digests)
{
	struct verified_set *set;
	char d[OCI_DIGEST_LEN + 1];

	ck_assert_int_eq(verified_new(&set), 0);
	/* Enough to double the buckets a few times. */
	for (unsigned i = 0; i < 5000; i++) {
		numbered_digest(i, d);
		ck_assert_int_eq(verified_add(set, d), 0);
	}
	numbered_digest(7, d);
	ck_assert_int_eq(verified_add(set, d), 0);
	for (unsigned i = 0; i < 5000; i++) {
		numbered_digest(i, d);
		ck_assert_msg(verified_has(set, d), "lost %s", d);
	}
	numbered_digest(5000, d);
	ck_assert(!verified_has(set, d));

	for (unsigned i = 0; i < 5000; i += 2) {
		numbered_digest(i, d);
		verified_remove(set, d);
	}
	for (unsigned i = 0; i < 5000; i++) {
		numbered_digest(i, d);
		ck_assert(verified_has(set, d) == (i % 2 == 1));
	}

	ck_assert_int_eq(verified_add(set, "sha256:abc"), -EINVAL);
	ck_assert_int_eq(verified_add(set, "sha512:00"), -EINVAL);
	ck_assert(!verified_has(set, "not a digest"));
	verified_remove(set, "not a digest");
	verified_free(set);
}
END_TEST

/* ---- A store of one object in memory, for cache_object_verify() ---- */

static struct {
	char key[OCI_KEY_MAX];
	unsigned char data[3000];
	size_t len;
	bool present;
	unsigned gets;
	unsigned removes;
	unsigned errors_logged;
} mem;

static int mem_get(void *state, const char *key, struct vkdr_object *obj)
{
	if (!mem.present || strcmp(key, mem.key) != 0)
		return -ENOENT;
	mem.gets++;
	*obj = (struct vkdr_object){ .fd = -1, .size = mem.len };
	return 0;
}

/* Small reads, so that hashing takes several. */
static ssize_t mem_read(void *state, struct vkdr_object *obj, uint64_t off,
			void *buf, size_t len)
{
	if (off >= mem.len)
		return 0;
	if (len > 1000)
		len = 1000;
	if (len > mem.len - off)
		len = mem.len - off;
	memcpy(buf, mem.data + off, len);
	return (ssize_t)len;
}

static void mem_release(void *state, struct vkdr_object *obj)
{
}

static int mem_remove(void *state, const char *key)
{
	if (!mem.present || strcmp(key, mem.key) != 0)
		return -ENOENT;
	mem.present = false;
	mem.removes++;
	return 0;
}

static const struct vkdr_storage_ops mem_ops = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.get = mem_get,
	.read = mem_read,
	.release = mem_release,
	.remove = mem_remove,
};

static void count_log(enum vkdr_log_level level, const char *module,
		      const char *fmt, ...)
{
	if (level == VKDR_LOG_ERR)
		mem.errors_logged++;
}

static bool no_debug(enum vkdr_log_level level)
{
	return false;
}

static const struct vkdr_host quiet_host = {
	.version = VKDR_HOST_VERSION,
	.size = sizeof(struct vkdr_host),
	.log = count_log,
	.log_enabled = no_debug,
};

/*
 * The sha256 of the 3000 bytes i % 251 (i from 0), computed outside this
 * code with sha256sum.
 */
static const char *const mem_digest =
	"sha256:"
	"e8ca4bf83f56152c01649f88bd7c91b15ae8137d9a709572e04fae55894ea75e";

static void mem_fill(struct daemon *d, const char *digest)
{
	memset(&mem, 0, sizeof(mem));
	for (size_t i = 0; i < sizeof(mem.data); i++)
		mem.data[i] = (unsigned char)(i % 251);
	mem.len = sizeof(mem.data);
	mem.present = true;
	ck_assert_int_eq(oci_blob_key(digest, mem.key, sizeof(mem.key)), 0);

	memset(d, 0, sizeof(*d));
	d->host = &quiet_host;
	d->store = &mem_ops;
	ck_assert_int_eq(verified_new(&d->verified), 0);
}

START_TEST(object_verify)
{
	struct daemon d;

	/* A good object is hashed once, then trusted. */
	mem_fill(&d, mem_digest);
	ck_assert_int_eq(cache_object_verify(&d, mem_digest), 0);
	ck_assert_uint_eq(mem.gets, 1);
	ck_assert_int_eq(cache_object_verify(&d, mem_digest), 0);
	ck_assert_uint_eq(mem.gets, 1);
	ck_assert(mem.present);
	ck_assert_uint_eq(d.metrics.verify_failures, 0);
	verified_free(d.verified);

	/* One byte changed: removed, logged, counted, reported missing. */
	mem_fill(&d, mem_digest);
	mem.data[1500] ^= 0x01;
	ck_assert_int_eq(cache_object_verify(&d, mem_digest), -ENOENT);
	ck_assert(!mem.present);
	ck_assert_uint_eq(mem.removes, 1);
	ck_assert_uint_eq(mem.errors_logged, 1);
	ck_assert_uint_eq(d.metrics.verify_failures, 1);
	ck_assert(!verified_has(d.verified, mem_digest));
	/* And gone is gone. */
	ck_assert_int_eq(cache_object_verify(&d, mem_digest), -ENOENT);
	ck_assert_uint_eq(mem.removes, 1);
	verified_free(d.verified);

	/* One byte short of it: corrupt as well. */
	mem_fill(&d, mem_digest);
	mem.len--;
	ck_assert_int_eq(cache_object_verify(&d, mem_digest), -ENOENT);
	ck_assert(!mem.present);
	verified_free(d.verified);
}
END_TEST

#define CHECKERS 8

struct checker {
	struct daemon *d;
	pthread_barrier_t *start;
	int rc;
};

static void *check_object(void *arg)
{
	struct checker *c = arg;

	pthread_barrier_wait(c->start);
	c->rc = cache_object_verify(c->d, mem_digest);
	return NULL;
}

/* Run cache_object_verify() on CHECKERS threads released at once. */
static void check_at_once(struct daemon *d, struct checker c[CHECKERS])
{
	pthread_barrier_t start;
	pthread_t t[CHECKERS];

	pthread_barrier_init(&start, NULL, CHECKERS);
	for (int i = 0; i < CHECKERS; i++) {
		c[i] = (struct checker){ .d = d, .start = &start };
		ck_assert_int_eq(pthread_create(&t[i], NULL, check_object,
						&c[i]),
				 0);
	}
	for (int i = 0; i < CHECKERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

/*
 * Requests that check the same object at once share one check, whatever
 * the order the threads run in: one hash of a good object, one removal
 * and one log line for a corrupt one.
 */
START_TEST(object_verify_shared)
{
	struct checker c[CHECKERS];
	struct daemon d;

	mem_fill(&d, mem_digest);
	check_at_once(&d, c);
	for (int i = 0; i < CHECKERS; i++)
		ck_assert_int_eq(c[i].rc, 0);
	ck_assert_uint_eq(mem.gets, 1);
	verified_free(d.verified);

	mem_fill(&d, mem_digest);
	mem.data[0] ^= 0x80;
	check_at_once(&d, c);
	for (int i = 0; i < CHECKERS; i++)
		ck_assert_int_eq(c[i].rc, -ENOENT);
	ck_assert_uint_eq(mem.gets, 1);
	ck_assert_uint_eq(mem.removes, 1);
	ck_assert_uint_eq(mem.errors_logged, 1);
	ck_assert_uint_eq(d.metrics.verify_failures, 1);
	verified_free(d.verified);
}
END_TEST

static Suite *oci_suite(void)
{
	Suite *s = suite_create("serve");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, names);
	tcase_add_test(tc, tags);
	tcase_add_test(tc, digests);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, ranges);
	tcase_add_test(tc, accept);
	tcase_add_test(tc, keys);
	tcase_add_test(tc, registries);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, tag_records);
	tcase_add_test(tc, manifest_types);
	tcase_add_test(tc, metrics_text);
	tcase_add_test(tc, verified_digests);
	tcase_add_test(tc, object_verify);
	tcase_add_test(tc, object_verify_shared);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(oci_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
