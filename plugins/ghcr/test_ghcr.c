/*
 * test_ghcr.c - the GHCR plugin against ghcr.io's recorded challenge.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

#define GHCR_CHALLENGE                                            \
	"Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\"," \
	"scope=\"repository:stefanprodan/podinfo:pull\""

static const struct vkdr_host *host;
static const struct vkdr_registry_ops *ops;

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("ghcr");
	ck_assert_ptr_nonnull(mod);
	ops = mod->ops;
	mock_reset();
}

static void teardown(void)
{
	mock_reset();
}

static int authorize(const char *challenge, const char *user,
		     const char *pass, struct vkdr_auth_result *res)
{
	struct vkdr_auth_request req = {
		.registry = "ghcr.io",
		.base_url = "https://ghcr.io",
		.repository = "stefanprodan/podinfo",
		.challenge = challenge,
		.username = user,
		.password = pass,
	};

	memset(res, 0, sizeof(*res));
	return ops->authorize(host, &req, res);
}

START_TEST(claims_and_resolve)
{
	struct vkdr_upstream up;

	ck_assert_str_eq(ops->claims[0], "ghcr.io");
	ck_assert_ptr_null(ops->claims[1]);
	ck_assert_int_eq(ops->resolve(host, "ghcr.io", NULL, &up), 0);
	ck_assert_str_eq(up.base_url, "https://ghcr.io");
}
END_TEST

START_TEST(anonymous_token_for_public_image)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"token\":\"djE6c3RlZmFu\"}");
	ck_assert_int_eq(authorize(GHCR_CHALLENGE, NULL, NULL, &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer djE6c3RlZmFu");
	ck_assert_uint_eq(res.expires_in, 60);
	ck_assert_str_eq(mock_http_call(0)->url,
			 "https://ghcr.io/token?service=ghcr.io"
			 "&scope=repository%3Astefanprodan%2Fpodinfo%3Apull");
	ck_assert_ptr_null(mock_http_call(0)->username);
}
END_TEST

START_TEST(bare_bearer_uses_ghcr_defaults)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"token\":\"t\"}");
	ck_assert_int_eq(authorize("Bearer", NULL, NULL, &res), 0);
	ck_assert_str_eq(mock_http_call(0)->url,
			 "https://ghcr.io/token?service=ghcr.io"
			 "&scope=repository%3Astefanprodan%2Fpodinfo%3Apull");
}
END_TEST

START_TEST(personal_access_token)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"token\":\"private\"}");
	ck_assert_int_eq(authorize(GHCR_CHALLENGE, "octocat", "ghp_x", &res),
			 0);
	ck_assert_str_eq(mock_http_call(0)->username, "octocat");
	ck_assert_str_eq(mock_http_call(0)->password, "ghp_x");
	mock_reset();
	mock_http_reply(403, "", "{\"errors\":[{\"code\":\"DENIED\"}]}");
	ck_assert_int_eq(authorize(GHCR_CHALLENGE, "octocat", "expired",
				   &res), -EACCES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ghcr");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, claims_and_resolve);
	tcase_add_test(tc, anonymous_token_for_public_image);
	tcase_add_test(tc, bare_bearer_uses_ghcr_defaults);
	tcase_add_test(tc, personal_access_token);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
