/*
 * test_oci.c - the daemon's pure parts: grammar, paths, ranges, Accept
 * sets, storage keys, tag records, manifest types, metrics text.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
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
