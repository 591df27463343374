/*
 * test_hostname.c - registry hosts as users type them, and aliases that
 * come from a registry plugin (testreg.so, built beside this test).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "hostname.h"
#include "loader.h"
#include "testutil.h"

static char out[300], err[512];

static int check(const char *in)
{
	out[0] = err[0] = '\0';
	return hostname_validate(in, out, sizeof(out), err, sizeof(err));
}

START_TEST(good_hosts)
{
	static const char *const good[] = {
		"docker.io", "ghcr.io", "localhost", "localhost:5000",
		"registry.example.com:443", "*.azurecr.io", "10.0.0.1:5000",
		"a-b.c-d.example", "*.example.com:8443",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(check(good[i]) == 0, "%s: %s", good[i], err);
		ck_assert_str_eq(out, good[i]);
	}
}
END_TEST

/* Each bad input, and a piece of the message that says how to fix it. */
static const struct {
	const char *in;
	const char *says;
} bad[] = {
	{ "https://ghcr.io/", "use 'ghcr.io'" },
	{ "http://ghcr.io", "is a URL" },
	{ "GHCR.io", "use 'ghcr.io'" },
	{ "Docker.IO", "lowercase" },
	{ "ghcr.io/org/app", "has a path; give the registry host alone; "
			     "use 'ghcr.io'" },
	{ "ghcr .io", "blanks; use 'ghcr.io'" },
	{ " ghcr.io", "blanks" },
	{ "\"ghcr.io\"", "quotes" },
	{ "'ghcr.io'", "use 'ghcr.io'" },
	{ "", "empty" },
	{ "ghcr.io.", "ends with a dot; use 'ghcr.io'" },
	{ "a..b", "empty label" },
	{ ".io", "empty label" },
	{ "-a.io", "starts or ends with '-'" },
	{ "a-.io", "starts or ends with '-'" },
	{ "a_b.io", "contains '_'" },
	{ "a@b.io", "contains '@'" },
	{ "ghcr.io:0", "from 1 to 65535" },
	{ "ghcr.io:65536", "from 1 to 65535" },
	{ "ghcr.io:http", "from 1 to 65535" },
	{ "ghcr.io:", "from 1 to 65535" },
	{ "a:1:2", "more than one ':'" },
	{ "a.*.io", "wildcard is allowed only" },
	{ "*a.io", "wildcard is allowed only" },
	{ "*.*.io", "wildcard is allowed only" },
	{ "*", "catch-all" },
	{ "*:5000", "needs a domain" },
};

START_TEST(bad_hosts)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(check(bad[i].in) == -EINVAL, "accepted '%s'",
			      bad[i].in);
		ck_assert_msg(strstr(err, bad[i].says) != NULL,
			      "'%s': '%s' lacks '%s'", bad[i].in, err,
			      bad[i].says);
	}
}
END_TEST

START_TEST(length_limits)
{
	char label[80], host[400];

	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(host, sizeof(host), "%s.io", label);
	ck_assert_int_eq(check(host), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "at most 63"));

	/* 4 labels of 63 plus dots: 255 characters. */
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(host, sizeof(host), "%s.%s.%s.%s", label, label, label,
		 label);
	ck_assert_int_eq(check(host), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "at most 253"));

	/* OUT too small for a good host. */
	ck_assert_int_eq(hostname_validate("ghcr.io", out, 4, err,
					   sizeof(err)),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(aliases_come_from_plugins)
{
	/* Without the plugin, the core knows no alias. */
	ck_assert_int_eq(check("alias.test.example"), 0);
	ck_assert_str_eq(out, "alias.test.example");

	ck_assert_int_eq(loader_load_file(host_get(),
					  TEST_MODULE_DIR "/testreg.so"),
			 0);
	ck_assert_int_eq(check("alias.test.example"), 0);
	ck_assert_str_eq(out, "test.example");
	ck_assert_int_eq(check("test.example"), 0);
	ck_assert_str_eq(out, "test.example");
	ck_assert_int_eq(check("bad.test.example"), -EINVAL);
	ck_assert_str_eq(err, "bad.test.example is refused by testreg");
	/* The syntax check still comes first. */
	ck_assert_int_eq(check("Alias.test.example"), -EINVAL);
	loader_unload_all();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostname");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, test_home_create, test_home_remove);
	tcase_add_test(tc, good_hosts);
	tcase_add_test(tc, bad_hosts);
	tcase_add_test(tc, length_limits);
	tcase_add_test(tc, aliases_come_from_plugins);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
