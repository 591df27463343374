/*
 * test_prefetch.c - unit tests of the prefetch module's pure parts: image
 * references, the daemon's tag record keys and records, Accept sets, and
 * the tar reader and writer. The commands themselves are covered by
 * tests/e2e/12-prefetch.sh.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prefetch.h"

#define HEX64 "0123456789abcdef0123456789abcdef" \
	      "0123456789abcdef0123456789abcdef"

START_TEST(refs)
{
	struct image_ref r;
	char err[300], text[600];

	ck_assert_int_eq(image_ref_parse("nginx", &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.registry, "docker.io");
	ck_assert_str_eq(r.name, "library/nginx");
	ck_assert_str_eq(r.tag, "latest");
	ck_assert_str_eq(r.digest, "");

	ck_assert_int_eq(image_ref_parse("docker.io/bitnami/redis:7.2", &r,
					 err, sizeof(err)),
			 0);
	ck_assert_str_eq(r.name, "bitnami/redis");
	ck_assert_str_eq(r.tag, "7.2");

	ck_assert_int_eq(image_ref_parse("index.docker.io/nginx:1.25", &r,
					 err, sizeof(err)),
			 0);
	ck_assert_str_eq(r.registry, "docker.io");
	ck_assert_str_eq(r.name, "library/nginx");

	ck_assert_int_eq(image_ref_parse("ghcr.io/x/y@sha256:" HEX64, &r, err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(r.registry, "ghcr.io");
	ck_assert_str_eq(r.name, "x/y");
	ck_assert_str_eq(r.tag, "");
	ck_assert_str_eq(r.digest, "sha256:" HEX64);
	image_ref_format(&r, text, sizeof(text));
	ck_assert_str_eq(text, "ghcr.io/x/y@sha256:" HEX64);

	/* A port is a registry, a tag after it is a tag. */
	ck_assert_int_eq(image_ref_parse("localhost:5000/app:v1", &r, err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(r.registry, "localhost:5000");
	ck_assert_str_eq(r.name, "app");
	ck_assert_str_eq(r.tag, "v1");
	image_ref_format(&r, text, sizeof(text));
	ck_assert_str_eq(text, "localhost:5000/app:v1");

	ck_assert_int_eq(image_ref_parse("localhost/app", &r, err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(r.registry, "localhost");

	ck_assert_int_eq(image_ref_parse("Nginx", &r, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "repository name"));
	ck_assert_int_eq(image_ref_parse("x@sha256:abc", &r, err,
					 sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(image_ref_parse("x:-bad", &r, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(image_ref_parse("a//b", &r, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(image_ref_parse("../etc", &r, err, sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(mirrors)
{
	struct vkdr_mirror m[] = {
		{ .host = "*.azurecr.io", .port = 6001 },
		{ .host = "docker.io", .port = 6000 },
		{ .host = "x.azurecr.io", .port = 6002 },
	};
	struct vkdr_config cfg = { .mirrors = m, .n_mirrors = 3 };

	ck_assert_uint_eq(mirror_for_registry(&cfg, "docker.io")->port, 6000);
	/* An exact host wins over a wildcard listed before it. */
	ck_assert_uint_eq(mirror_for_registry(&cfg, "x.azurecr.io")->port,
			  6002);
	ck_assert_uint_eq(mirror_for_registry(&cfg, "y.azurecr.io")->port,
			  6001);
	ck_assert_ptr_null(mirror_for_registry(&cfg, "azurecr.io"));
	ck_assert_ptr_null(mirror_for_registry(&cfg, "ghcr.io"));
}
END_TEST

START_TEST(accept_sets)
{
	char out[2048], value[2048], key[1024];
	bool found = false;

	ck_assert_int_eq(oci_accept_normalise("B/x; q=0.5, a/Y ,b/x,", out,
					  sizeof(out)),
			 0);
	ck_assert_str_eq(out, "a/y,b/x");
	ck_assert_int_eq(oci_accept_normalise("", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");

	ck_assert(accept_allows("a/x, b/y", "b/y"));
	ck_assert(!accept_allows("a/x, b/y", "b/z"));
	ck_assert(accept_allows("a/x, */*", "b/z"));
	ck_assert(accept_allows("application/*", "application/json"));
	ck_assert(!accept_allows("application/*", "text/plain"));

	/* vkdr's own header is one line; containers/image sends six. */
	ck_assert_str_eq(client_accepts[0]->client, "vkdr");
	ck_assert_int_eq(client_accept_value(client_accepts[0], value,
					     sizeof(value)),
			 0);
	ck_assert_str_eq(value, client_accepts[0]->lines[0]);
	for (size_t c = 0; client_accepts[c]; c++) {
		if (strcmp(client_accepts[c]->client, "containers/image"))
			continue;
		ck_assert_int_eq(client_accept_value(client_accepts[c], value,
						     sizeof(value)),
				 0);
		ck_assert_int_eq(strncmp(value, "application/vnd.oci.image."
						"manifest.v1+json, ",
					 44),
				 0);
		ck_assert_ptr_nonnull(strstr(value, "index.v1+json"));
		ck_assert_ptr_nonnull(strstr(value, "prettyjws"));
		/* The key skopeo's pull is looked up under (hashed outside). */
		ck_assert_int_eq(tag_record_key("docker.io", "library/app",
						"v1", value, key, sizeof(key)),
				 0);
		ck_assert_str_eq(key, "tags/docker.io/library/app/v1/"
				      "e4e038c014ce7d3e");
		ck_assert_int_eq(client_accept_value(client_accepts[c], value,
						     50),
				 -ENAMETOOLONG);
		found = true;
	}
	ck_assert(found);
}
END_TEST

/*
 * The expected hashes are the first 8 bytes of the SHA-256 of the
 * normalised Accept value, computed outside this code: the key must be
 * the one the daemon computes.
 */
START_TEST(tag_keys)
{
	char key[1024], reg[256], repo[256], tag[129];

	ck_assert_int_eq(tag_record_key("docker.io", "library/app", "v1",
					"application/vnd.oci.image.manifest."
					"v1+json",
					key, sizeof(key)),
			 0);
	ck_assert_str_eq(key,
			 "tags/docker.io/library/app/v1/27a0539cf1ac5d67");
	ck_assert_int_eq(tag_record_key("docker.io", "library/app", "v1",
					"application/vnd.docker.distribution."
					"manifest.v2+json, application/vnd."
					"docker.distribution.manifest.list."
					"v2+json, application/vnd.oci.image."
					"manifest.v1+json, application/vnd."
					"oci.image.index.v1+json, */*",
					key, sizeof(key)),
			 0);
	ck_assert_str_eq(key,
			 "tags/docker.io/library/app/v1/bde296b64c91f1bd");

	ck_assert_int_eq(tag_record_key("localhost:5000", "a/b", "My_Tag",
					"", key, sizeof(key)),
			 0);
	ck_assert_int_eq(strncmp(key, "tags/localhost_5000/a/b/_my___tag/", 34),
			 0);
	ck_assert_int_eq(tag_record_key_parse(key, reg, sizeof(reg), repo,
					      sizeof(repo), tag, sizeof(tag)),
			 0);
	ck_assert_str_eq(reg, "localhost:5000");
	ck_assert_str_eq(repo, "a/b");
	ck_assert_str_eq(tag, "My_Tag");

	ck_assert_int_eq(tag_record_key("docker.io", "../x", "v1", "", key,
					sizeof(key)),
			 -EINVAL);
	/* No tag component between the repository and the hash. */
	ck_assert_int_eq(tag_record_key_parse("tags/docker.io/x/"
					      "0123456789abcdef",
					      reg, sizeof(reg), repo,
					      sizeof(repo), tag, sizeof(tag)),
			 -EINVAL);
	ck_assert_int_eq(tag_record_key_parse("tags/r/x/t_/0123456789abcdef",
					      reg, sizeof(reg), repo,
					      sizeof(repo), tag, sizeof(tag)),
			 -EINVAL);
	ck_assert_int_eq(tag_record_key_parse("blobs/sha256/x", reg,
					      sizeof(reg), repo, sizeof(repo),
					      tag, sizeof(tag)),
			 -EINVAL);
}
END_TEST

START_TEST(tag_records)
{
	struct tag_record rec = {
		.digest = "sha256:" HEX64,
		.media_type = "application/vnd.oci.image.index.v1+json",
		.size = 491,
		.validated = 0,
	}, back;
	char buf[1024];
	int n;

	n = cache_tag_format(&rec, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "digest=sha256:" HEX64 "\n"
			      "media-type=application/vnd.oci.image.index."
			      "v1+json\nsize=491\nvalidated=0\n");
	ck_assert_int_eq(cache_tag_parse(buf, (size_t)n, &back), 0);
	ck_assert_str_eq(back.digest, rec.digest);
	ck_assert_uint_eq(back.size, 491);
	ck_assert_int_eq(cache_tag_parse("digest=x\n", 9, &back), -EINVAL);
	ck_assert_int_eq(cache_tag_format(&rec, buf, 20), -ENOSPC);

	ck_assert_int_eq(cache_manifest_type("{\"manifests\":[]}", 16, buf,
					     sizeof(buf)),
			 0);
	ck_assert_str_eq(buf, "application/vnd.oci.image.index.v1+json");
	ck_assert_int_eq(cache_manifest_type("[]", 2, buf, sizeof(buf)),
			 -EINVAL);
}
END_TEST

START_TEST(tar_round_trip)
{
	char data[1000], back[1000];
	struct tar_entry e;
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	memset(data, 'z', sizeof(data));
	ck_assert_int_eq(tar_header(f, "blobs/", 0, true, 1), 0);
	ck_assert_int_eq(tar_header(f, "blobs/sha256/" HEX64, sizeof(data),
				    false, 1700000000),
			 0);
	ck_assert_int_eq((int)fwrite(data, 1, sizeof(data), f),
			 (int)sizeof(data));
	ck_assert_int_eq(tar_pad(f, sizeof(data)), 0);
	ck_assert_int_eq(tar_end(f), 0);
	ck_assert_int_eq(ftell(f) % 512, 0);
	ck_assert_int_eq(tar_header(f, "x", 0, false, 0), 0);
	rewind(f);

	ck_assert_int_eq(tar_next(f, &e), 1);
	ck_assert_str_eq(e.name, "blobs/");
	ck_assert_int_eq(e.type, '5');
	ck_assert_int_eq(tar_next(f, &e), 1);
	ck_assert_str_eq(e.name, "blobs/sha256/" HEX64);
	ck_assert_uint_eq(e.size, sizeof(data));
	ck_assert_int_eq((int)fread(back, 1, sizeof(back), f),
			 (int)sizeof(back));
	ck_assert_int_eq(memcmp(back, data, sizeof(data)), 0);
	ck_assert_int_eq(tar_skip_pad(f, e.size), 0);
	/* The end: what follows the zero blocks is never read. */
	ck_assert_int_eq(tar_next(f, &e), 0);

	ck_assert_int_eq(tar_header(f, HEX64 HEX64, 0, false, 0),
			 -ENAMETOOLONG);
	fclose(f);
}
END_TEST

START_TEST(tar_damaged_and_large)
{
	unsigned char block[512];
	struct tar_entry e;
	FILE *f = tmpfile();

	/* A size above the octal field's range takes the base-256 form. */
	ck_assert_int_eq(tar_header(f, "big", 1ull << 40, false, 0), 0);
	rewind(f);
	ck_assert_int_eq(tar_next(f, &e), 1);
	ck_assert_uint_eq(e.size, 1ull << 40);

	/* One flipped byte breaks the checksum. */
	rewind(f);
	ck_assert_int_eq((int)fread(block, 1, 512, f), 512);
	block[0] ^= 1;
	rewind(f);
	ck_assert_int_eq((int)fwrite(block, 1, 512, f), 512);
	rewind(f);
	ck_assert_int_eq(tar_next(f, &e), -EINVAL);

	/* A truncated archive is not a clean end. */
	rewind(f);
	ck_assert_int_eq(ftruncate(fileno(f), 100), 0);
	ck_assert_int_eq(tar_next(f, &e), -EINVAL);
	fclose(f);
}
END_TEST

static Suite *prefetch_suite(void)
{
	Suite *s = suite_create("prefetch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, refs);
	tcase_add_test(tc, mirrors);
	tcase_add_test(tc, accept_sets);
	tcase_add_test(tc, tag_keys);
	tcase_add_test(tc, tag_records);
	tcase_add_test(tc, tar_round_trip);
	tcase_add_test(tc, tar_damaged_and_large);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(prefetch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
