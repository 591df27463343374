/*
 * test_ecr_public.c - the ECR Public plugin: its challenge's "aws" scope
 * is replaced by the repository's pull scope.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

/* What public.ecr.aws answers an anonymous manifest GET. */
#define ECR_CHALLENGE                                           \
	"Bearer realm=\"https://public.ecr.aws/token/\","       \
	"service=\"public.ecr.aws\",scope=\"aws\""

static const struct vkdr_host *host;
static const struct vkdr_registry_ops *ops;

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("ecr-public");
	ck_assert_ptr_nonnull(mod);
	ops = mod->ops;
	mock_reset();
}

static void teardown(void)
{
	mock_reset();
}

START_TEST(claims_and_resolve)
{
	struct vkdr_upstream up;

	ck_assert_str_eq(ops->claims[0], "public.ecr.aws");
	ck_assert_ptr_null(ops->claims[1]);
	ck_assert_int_eq(ops->resolve(host, "public.ecr.aws", NULL, &up), 0);
	ck_assert_str_eq(up.base_url, "https://public.ecr.aws");
}
END_TEST

START_TEST(aws_scope_is_rewritten)
{
	struct vkdr_auth_request req = {
		.registry = "public.ecr.aws",
		.base_url = "https://public.ecr.aws",
		.repository = "docker/library/alpine",
		.challenge = ECR_CHALLENGE,
	};
	struct vkdr_auth_result res;
	const char *url;

	mock_http_reply(200, "", "{\"token\":\"ZWNy\"}");
	ck_assert_int_eq(ops->authorize(host, &req, &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer ZWNy");
	url = mock_http_call(0)->url;
	ck_assert_str_eq(url, "https://public.ecr.aws/token/"
			      "?service=public.ecr.aws"
			      "&scope=repository%3Adocker%2Flibrary%2Falpine"
			      "%3Apull");
	ck_assert_ptr_null(strstr(url, "scope=aws"));
}
END_TEST

START_TEST(token_endpoint_failure)
{
	struct vkdr_auth_request req = {
		.registry = "public.ecr.aws",
		.base_url = "https://public.ecr.aws",
		.repository = "docker/library/alpine",
		.challenge = ECR_CHALLENGE,
	};
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "<html>maintenance</html>");
	ck_assert_int_eq(ops->authorize(host, &req, &res), -EBADMSG);
	mock_http_reply(503, "", "");
	ck_assert_int_eq(ops->authorize(host, &req, &res), -EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ecr-public");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, claims_and_resolve);
	tcase_add_test(tc, aws_scope_is_rewritten);
	tcase_add_test(tc, token_endpoint_failure);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
