/*
 * test_yamltree.c - the YAML tree keeps what it does not understand.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yamltree.h"

static const char registries[] =
	"mirrors:\n"
	"  docker.io:\n"
	"    endpoint:\n"
	"    - http://host.k3d.internal:6000\n"
	"    rewrite:\n"
	"      ^rancher/(.*): mirror/rancher-images/$1\n"
	"  '*.azurecr.io':\n"
	"    endpoint: [\"http://host.k3d.internal:6001\"]\n"
	"configs:\n"
	"  registry.example.com:5000:\n"
	"    auth:\n"
	"      username: u\n"
	"      password: \"p: w\"\n"
	"    tls:\n"
	"      insecure_skip_verify: true\n"
	"x-unknown: !!str 42\n"
	"notes: |\n"
	"  two\n"
	"  lines\n";

/* Parse TEXT, write it out again, and return what was written. */
static char *round_trip(const char *text)
{
	struct yt_node *root;
	char err[256], *out = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(yt_parse_buffer(text, strlen(text), "t.yaml", &root,
					 err, sizeof(err)),
			 0);
	f = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(yt_emit(root, f), 0);
	fclose(f);
	yt_free(root);
	return out;
}

START_TEST(keeps_unknown_keys_and_order)
{
	char *once = round_trip(registries);
	char *twice = round_trip(once);
	struct yt_node *root, *auth, *rewrite;
	char err[256];

	/* A second round trip changes nothing: the output is stable. */
	ck_assert_str_eq(once, twice);
	ck_assert_int_eq(yt_parse_buffer(once, strlen(once), "t", &root, err,
					 sizeof(err)),
			 0);
	ck_assert_int_eq(root->n, 4);
	ck_assert_str_eq(yt_scalar(root->items[0]), "mirrors");
	ck_assert_str_eq(yt_scalar(root->items[2]), "configs");
	ck_assert_str_eq(yt_scalar(root->items[4]), "x-unknown");
	ck_assert_str_eq(yt_scalar(root->items[6]), "notes");

	auth = yt_map_get(yt_map_get(yt_map_get(root, "configs"),
				     "registry.example.com:5000"),
			  "auth");
	ck_assert_str_eq(yt_scalar(yt_map_get(auth, "password")), "p: w");
	rewrite = yt_map_get(yt_map_get(yt_map_get(root, "mirrors"),
					"docker.io"),
			     "rewrite");
	ck_assert_str_eq(yt_scalar(yt_map_get(rewrite, "^rancher/(.*)")),
			 "mirror/rancher-images/$1");
	ck_assert_str_eq(yt_scalar(yt_map_get(root, "notes")), "two\nlines\n");
	/* The explicit tag survives, so 42 stays a string for k3s too. */
	ck_assert_ptr_nonnull(strstr(once, "!!str 42"));
	ck_assert_ptr_nonnull(strstr(once, "'*.azurecr.io'"));

	yt_free(root);
	free(once);
	free(twice);
}
END_TEST

START_TEST(syntax_error_has_line_and_column)
{
	static const char bad[] = "mirrors:\n  a: [1, 2\n";
	struct yt_node *root = (void *)1;
	char err[256] = "";

	ck_assert_int_eq(yt_parse_buffer(bad, strlen(bad), "bad.yaml", &root,
					 err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(root);
	ck_assert_msg(strncmp(err, "bad.yaml:3:1: ", 14) == 0, "got '%s'",
		      err);
}
END_TEST

START_TEST(second_document_is_refused)
{
	static const char two[] = "a: 1\n---\nb: 2\n";
	struct yt_node *root;
	char err[256] = "";

	ck_assert_int_eq(yt_parse_buffer(two, strlen(two), "two.yaml", &root,
					 err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "two.yaml:2:1:") != NULL, "got '%s'", err);
}
END_TEST

START_TEST(aliases_are_expanded)
{
	static const char text[] = "a: &x {k: v}\nb: *x\n";
	struct yt_node *root;
	char err[256];

	ck_assert_int_eq(yt_parse_buffer(text, strlen(text), "t", &root, err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(yt_scalar(yt_map_get(yt_map_get(root, "b"), "k")),
			 "v");
	yt_free(root);
}
END_TEST

START_TEST(alias_bomb_is_refused)
{
	/* Each level doubles the last: 2^40 nodes if expanded naively. */
	char text[4096];
	size_t n = 0;
	struct yt_node *root;
	char err[256];

	n += (size_t)snprintf(text + n, sizeof(text) - n, "l0: &l0 [a, a]\n");
	for (int i = 1; i <= 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "l%d: &l%d [*l%d, *l%d]\n", i, i, i - 1,
				      i - 1);
	ck_assert_int_eq(yt_parse_buffer(text, n, "bomb", &root, err,
					 sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
}
END_TEST

START_TEST(editing)
{
	struct yt_node *map = yt_mapping_new();

	ck_assert_int_eq(yt_map_set(map, "a", yt_scalar_new("1")), 0);
	ck_assert_int_eq(yt_map_set(map, "b", yt_scalar_new("2")), 0);
	ck_assert_int_eq(yt_map_set(map, "a", yt_scalar_new("3")), 0);
	ck_assert_int_eq(map->n, 2);
	/* Replacing keeps the key where it was. */
	ck_assert_str_eq(yt_scalar(map->items[0]), "a");
	ck_assert_str_eq(yt_scalar(yt_map_get(map, "a")), "3");
	ck_assert(yt_map_remove(map, "a"));
	ck_assert(!yt_map_remove(map, "a"));
	ck_assert_int_eq(map->n, 1);
	ck_assert_int_eq(yt_map_set(map, "c", NULL), -ENOMEM);
	ck_assert_int_eq(yt_seq_append(map, yt_scalar_new("x")), -EINVAL);
	ck_assert(yt_is_null(NULL));
	yt_free(map);
}
END_TEST

START_TEST(empty_input_has_no_root)
{
	struct yt_node *root = (void *)1;
	char err[64];

	ck_assert_int_eq(yt_parse_buffer("", 0, "e", &root, err, sizeof(err)),
			 0);
	ck_assert_ptr_null(root);
	ck_assert_int_eq(yt_parse_file("/nonexistent/x.yaml", &root, err,
				       sizeof(err)),
			 -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("yamltree");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, keeps_unknown_keys_and_order);
	tcase_add_test(tc, syntax_error_has_line_and_column);
	tcase_add_test(tc, second_document_is_refused);
	tcase_add_test(tc, aliases_are_expanded);
	tcase_add_test(tc, alias_bomb_is_refused);
	tcase_add_test(tc, editing);
	tcase_add_test(tc, empty_input_has_no_root);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
