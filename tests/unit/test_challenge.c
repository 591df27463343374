/*
 * test_challenge.c - auth-params out of WWW-Authenticate values.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "challenge.h"

static const char *param(const char *header, const char *scheme,
			 const char *name)
{
	static char out[256];

	if (challenge_param(header, scheme, name, out, sizeof(out)) < 0)
		return NULL;
	return out;
}

START_TEST(registry_bearer)
{
	static const char h[] =
		"Bearer realm=\"https://auth.example.com/token\","
		"service=\"registry.example.com\","
		"scope=\"repository:library/nginx:pull\"";

	ck_assert_str_eq(param(h, "Bearer", "realm"),
			 "https://auth.example.com/token");
	ck_assert_str_eq(param(h, "Bearer", "service"),
			 "registry.example.com");
	ck_assert_str_eq(param(h, "Bearer", "scope"),
			 "repository:library/nginx:pull");
	ck_assert_ptr_null(param(h, "Bearer", "error"));
	ck_assert_ptr_null(param(h, "Basic", "realm"));
}
END_TEST

START_TEST(quoted_strings_with_escapes)
{
	ck_assert_str_eq(param("Bearer realm=\"a\\\"b\\\\c\"", "Bearer",
			       "realm"),
			 "a\"b\\c");
	/* A comma inside quotes does not end the parameter. */
	ck_assert_str_eq(param("Bearer realm=\"a,b\",service=\"s\"",
			       "Bearer", "service"),
			 "s");
	ck_assert_str_eq(param("Bearer realm=plain-token", "Bearer",
			       "realm"),
			 "plain-token");
}
END_TEST

START_TEST(case_insensitive_keys_and_scheme)
{
	ck_assert_str_eq(param("bearer REALM=\"r\"", "Bearer", "realm"), "r");
	ck_assert_str_eq(param("BEARER Realm = \"r\"", "bearer", "REALM"),
			 "r");
}
END_TEST

START_TEST(several_challenges)
{
	static const char h[] = "Basic realm=\"basic\", Bearer realm=\"tok\","
				"service=\"s\", Negotiate abc==";

	ck_assert_str_eq(param(h, "Basic", "realm"), "basic");
	ck_assert_str_eq(param(h, "Bearer", "realm"), "tok");
	ck_assert_str_eq(param(h, "Bearer", "service"), "s");
	ck_assert_ptr_null(param(h, "Basic", "service"));
	ck_assert_str_eq(param("Negotiate abc==, Bearer realm=\"r\"",
			       "Bearer", "realm"),
			 "r");
}
END_TEST

START_TEST(errors)
{
	char small[4];

	ck_assert_int_eq(challenge_param(NULL, "Bearer", "realm", small,
					 sizeof(small)),
			 -ENOENT);
	ck_assert_int_eq(challenge_param("", "Bearer", "realm", small,
					 sizeof(small)),
			 -ENOENT);
	ck_assert_int_eq(challenge_param("Bearer realm=\"toolong\"", "Bearer",
					 "realm", small, sizeof(small)),
			 -ENAMETOOLONG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("challenge");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, registry_bearer);
	tcase_add_test(tc, quoted_strings_with_escapes);
	tcase_add_test(tc, case_insensitive_keys_and_scheme);
	tcase_add_test(tc, several_challenges);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
