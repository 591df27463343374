/*
 * test_generic.c - the generic plugin, and through it the shared token
 * flow, against recorded challenges and token endpoint answers.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

#define REALM "https://auth.example.test/token"
#define CHALLENGE                                        \
	"Bearer realm=\"" REALM "\",service=\"reg.example.test\"," \
	"scope=\"repository:team/app:pull\""

static const struct vkdr_host *host;
static const struct vkdr_registry_ops *ops;

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("generic");
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
		.registry = "reg.example.test",
		.base_url = "https://reg.example.test",
		.repository = "team/app",
		.challenge = challenge,
		.username = user,
		.password = pass,
	};

	memset(res, 0, sizeof(*res));
	return ops->authorize(host, &req, res);
}

START_TEST(claims_everything_unclaimed)
{
	ck_assert_str_eq(ops->claims[0], "*");
	ck_assert_ptr_null(ops->claims[1]);
}
END_TEST

START_TEST(resolve_default_and_configured)
{
	struct vkdr_upstream up;

	ck_assert_int_eq(ops->resolve(host, "quay.io", NULL, &up), 0);
	ck_assert_str_eq(up.base_url, "https://quay.io");
	ck_assert_int_eq(ops->resolve(host, "quay.io",
				      "http://127.0.0.1:5000/", &up), 0);
	ck_assert_str_eq(up.base_url, "http://127.0.0.1:5000");
	ck_assert_int_eq(ops->resolve(host, "*", NULL, &up), -EINVAL);
}
END_TEST

START_TEST(bearer_anonymous)
{
	struct vkdr_auth_result res;
	const struct mock_http_call *c;

	mock_http_reply(200, "", "{\"token\":\"abc\",\"expires_in\":300}");
	ck_assert_int_eq(authorize(CHALLENGE, NULL, NULL, &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer abc");
	ck_assert_uint_eq(res.expires_in, 300);

	ck_assert_uint_eq(mock_http_calls(), 1);
	c = mock_http_call(0);
	ck_assert_str_eq(c->method, "GET");
	ck_assert_str_eq(c->url, REALM "?service=reg.example.test"
				       "&scope=repository%3Ateam%2Fapp%3Apull");
	ck_assert_ptr_null(c->username);
	ck_assert_ptr_null(c->password);
}
END_TEST

START_TEST(bearer_builds_scope_when_missing)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"token\":\"t\"}");
	ck_assert_int_eq(authorize("Bearer realm=\"" REALM "\"", NULL, NULL,
				   &res), 0);
	ck_assert_str_eq(mock_http_call(0)->url,
			 REALM "?scope=repository%3Ateam%2Fapp%3Apull");
}
END_TEST

START_TEST(bearer_access_token_and_default_expiry)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"access_token\":\"xyz\"}");
	ck_assert_int_eq(authorize(CHALLENGE, NULL, NULL, &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer xyz");
	ck_assert_uint_eq(res.expires_in, 60);
}
END_TEST

START_TEST(bearer_prefers_token_over_access_token)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "",
			"{\"access_token\":\"second\",\"token\":\"first\","
			"\"expires_in\":\"soon\"}");
	ck_assert_int_eq(authorize(CHALLENGE, NULL, NULL, &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer first");
	ck_assert_uint_eq(res.expires_in, 60);
}
END_TEST

START_TEST(bearer_credentials_go_to_realm)
{
	struct vkdr_auth_result res;
	const struct mock_http_call *c;

	mock_http_reply(200, "", "{\"token\":\"abc\"}");
	ck_assert_int_eq(authorize(CHALLENGE, "u", "p", &res), 0);
	c = mock_http_call(0);
	ck_assert_str_eq(c->username, "u");
	ck_assert_str_eq(c->password, "p");
	ck_assert(strncmp(c->url, REALM "?", strlen(REALM) + 1) == 0);
}
END_TEST

START_TEST(bearer_refused_credentials_are_eacces)
{
	struct vkdr_auth_result res;

	mock_http_reply(401, "", "{\"details\":\"incorrect username\"}");
	ck_assert_int_eq(authorize(CHALLENGE, "u", "wrong", &res), -EACCES);
	ck_assert_uint_eq(mock_http_calls(), 1);
	mock_reset();
	mock_http_reply(403, "", "");
	ck_assert_int_eq(authorize(CHALLENGE, NULL, NULL, &res), -EACCES);
	ck_assert_uint_eq(mock_http_calls(), 1);
}
END_TEST

START_TEST(bearer_malformed_answers)
{
	static const char *const bodies[] = {
		"", "not json", "{\"token\":", "[\"token\"]", "{\"token\":42}",
		"{\"token\":\"\"}", "{\"token\":\"a\\r\\nX-Evil: 1\"}",
		"{\"expires_in\":30}",
	};
	struct vkdr_auth_result res;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		mock_reset();
		mock_http_reply(200, "", bodies[i]);
		ck_assert_msg(authorize(CHALLENGE, NULL, NULL, &res) ==
				      -EBADMSG,
			      "body %zu accepted", i);
	}
}
END_TEST

START_TEST(bearer_other_failures)
{
	struct vkdr_auth_result res;

	mock_http_reply(500, "", "");
	ck_assert_int_eq(authorize(CHALLENGE, NULL, NULL, &res), -EIO);
	mock_reset();
	mock_http_reply(302, "Location: https://evil.test/\r\n", "");
	ck_assert_int_eq(authorize(CHALLENGE, "u", "p", &res), -EPROTO);
	ck_assert_uint_eq(mock_http_calls(), 1);
	mock_reset();
	mock_http_fail(-ETIMEDOUT);
	ck_assert_int_eq(authorize(CHALLENGE, NULL, NULL, &res),
			 -ETIMEDOUT);
}
END_TEST

START_TEST(bearer_unsafe_realms_are_not_asked)
{
	static const char *const challenges[] = {
		"Bearer realm=\"https://auth.example.test@evil.test/t\"",
		"Bearer realm=\"ftp://auth.example.test/token\"",
		"Bearer realm=\"https://auth.example.test/t#frag\"",
		"Bearer realm=\"https:///token\"",
		"Bearer realm=\"https://a.test/t x\"",
	};
	struct vkdr_auth_result res;

	for (size_t i = 0; i < sizeof(challenges) / sizeof(challenges[0]);
	     i++) {
		mock_reset();
		ck_assert_int_eq(authorize(challenges[i], NULL, NULL, &res),
				 -EPROTO);
		ck_assert_uint_eq(mock_http_calls(), 0);
	}
}
END_TEST

START_TEST(bearer_no_credentials_over_plain_http)
{
	struct vkdr_auth_result res;

	ck_assert_int_eq(authorize("Bearer realm=\"http://auth.example.test/t\"",
				   "u", "p", &res), -EPROTO);
	ck_assert_uint_eq(mock_http_calls(), 0);
	/* Anonymous is fine: nothing secret travels. */
	mock_http_reply(200, "", "{\"token\":\"t\"}");
	ck_assert_int_eq(authorize("Bearer realm=\"http://auth.example.test/t\"",
				   NULL, NULL, &res), 0);
}
END_TEST

START_TEST(bearer_realm_with_query_and_several_scopes)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"token\":\"t\"}");
	ck_assert_int_eq(authorize("Bearer realm=\"https://a.test/t?x=1\","
				   "scope=\"repository:a:pull "
				   "repository:b:pull\"",
				   NULL, NULL, &res), 0);
	ck_assert_str_eq(mock_http_call(0)->url,
			 "https://a.test/t?x=1&scope=repository%3Aa%3Apull"
			 "&scope=repository%3Ab%3Apull");
}
END_TEST

START_TEST(basic_challenge)
{
	struct vkdr_auth_result res;

	ck_assert_int_eq(authorize("Basic realm=\"Registry\"", "u", "p", &res),
			 0);
	ck_assert_str_eq(res.authorization, "Basic dTpw");
	ck_assert_uint_gt(res.expires_in, 0);
	ck_assert_uint_eq(mock_http_calls(), 0);
	ck_assert_int_eq(authorize("basic", NULL, NULL, &res), -EACCES);
}
END_TEST

START_TEST(bearer_wins_over_basic_and_unknown_is_enotsup)
{
	struct vkdr_auth_result res;

	mock_http_reply(200, "", "{\"token\":\"t\"}");
	ck_assert_int_eq(authorize("Basic realm=\"x\", Bearer realm=\"" REALM
				   "\"", "u", "p", &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer t");
	ck_assert_int_eq(authorize("Negotiate abc==", "u", "p", &res),
			 -ENOTSUP);
	ck_assert_int_eq(authorize("", NULL, NULL, &res), -ENOTSUP);
	/* "Basic" inside a quoted string is not a scheme. */
	ck_assert_int_eq(authorize("Digest realm=\"a, Basic b\"", "u", "p",
				   &res), -ENOTSUP);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("generic");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, claims_everything_unclaimed);
	tcase_add_test(tc, resolve_default_and_configured);
	tcase_add_test(tc, bearer_anonymous);
	tcase_add_test(tc, bearer_builds_scope_when_missing);
	tcase_add_test(tc, bearer_access_token_and_default_expiry);
	tcase_add_test(tc, bearer_prefers_token_over_access_token);
	tcase_add_test(tc, bearer_credentials_go_to_realm);
	tcase_add_test(tc, bearer_refused_credentials_are_eacces);
	tcase_add_test(tc, bearer_malformed_answers);
	tcase_add_test(tc, bearer_other_failures);
	tcase_add_test(tc, bearer_unsafe_realms_are_not_asked);
	tcase_add_test(tc, bearer_no_credentials_over_plain_http);
	tcase_add_test(tc, bearer_realm_with_query_and_several_scopes);
	tcase_add_test(tc, basic_challenge);
	tcase_add_test(tc, bearer_wins_over_basic_and_unknown_is_enotsup);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
