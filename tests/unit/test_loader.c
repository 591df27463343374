/*
 * test_loader.c - the loader takes good modules, refuses one built for
 * another ABI with a message naming the file and both versions, and
 * skips files that are not modules without crashing.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"
#include "loader.h"
#include "paths.h"
#include "testutil.h"

struct found {
	const char *path;
	const char *reason;
	bool loaded;
};

static int find_path(void *arg, const struct vkdr_module_info *info,
		     const char *reason)
{
	struct found *f = arg;

	if (strcmp(info->path, f->path) != 0)
		return 0;
	f->reason = reason;
	f->loaded = info->module != NULL;
	return 1;
}

START_TEST(loads_a_registry_plugin)
{
	const struct vkdr_module *mod = NULL;
	struct found f = { .path = TEST_MODULE_DIR "/testreg.so" };

	ck_assert_int_eq(loader_load_file(host_get(), f.path), 0);
	ck_assert_ptr_nonnull(loader_find_registry("x.test.example", &mod));
	ck_assert_str_eq(mod->name, "testreg");
	ck_assert_ptr_null(loader_find_registry("elsewhere.example", NULL));
	ck_assert_int_eq(loader_walk(find_path, &f), 1);
	ck_assert(f.loaded);

	/* The same name twice: the second copy is skipped. */
	ck_assert_int_eq(loader_load_file(host_get(), f.path), -EEXIST);
	loader_unload_all();
}
END_TEST

START_TEST(refuses_another_abi)
{
	struct found f = { .path = TEST_MODULE_DIR "/badabi.so" };
	char want[128];

	ck_assert_int_eq(loader_load_file(host_get(), f.path), -EPROTO);
	ck_assert_int_eq(loader_walk(find_path, &f), 1);
	ck_assert(!f.loaded);
	snprintf(want, sizeof(want), "built for module ABI 99, this vkdr "
				     "speaks ABI %d", VKDR_MODULE_ABI);
	ck_assert_msg(strstr(f.reason, want), "got '%s'", f.reason);
	loader_unload_all();
}
END_TEST

START_TEST(skips_what_is_not_a_module)
{
	char junk[PATH_MAX], dir[PATH_MAX];
	struct found f = { .path = junk };

	snprintf(junk, sizeof(junk), "%s/plugins/junk.so", test_home());
	test_write_file(junk, "this is not an ELF file\n");
	snprintf(dir, sizeof(dir), "%s/plugins/dir.so", test_home());
	ck_assert_int_eq(mkdir(dir, 0755), 0);

	loader_load_dir(host_get(), paths_plugins());
	ck_assert_int_eq(loader_walk(find_path, &f), 1);
	ck_assert(!f.loaded);
	ck_assert_ptr_nonnull(f.reason);

	f.path = dir;
	ck_assert_int_eq(loader_walk(find_path, &f), 1);
	ck_assert_str_eq(f.reason, "not a regular file");

	ck_assert_int_eq(loader_load_file(host_get(), "/nonexistent.so"),
			 -ENOENT);
	loader_unload_all();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, test_home_create, test_home_remove);
	tcase_add_test(tc, loads_a_registry_plugin);
	tcase_add_test(tc, refuses_another_abi);
	tcase_add_test(tc, skips_what_is_not_a_module);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
