/*
 * test_azurecr.c - the ACR plugin: host checks, the token endpoint of the
 * actual registry, and the three ways to get a token (anonymous, user and
 * password, refresh token).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

#define ACR_REFRESH_USER "00000000-0000-0000-0000-000000000000"
/* What myreg.azurecr.io answers an anonymous manifest GET. */
#define ACR_CHALLENGE                                                  \
	"Bearer realm=\"https://myreg.azurecr.io/oauth2/token\","      \
	"service=\"myreg.azurecr.io\","                                \
	"scope=\"repository:team/app:pull\""
#define ACR_TOKEN "{\"access_token\":\"eyJ0eXAiOiJKV1Qi.acr\"}"

static const struct vkdr_host *host;
static const struct vkdr_registry_ops *ops;

/*
 * The mock host records no request bodies; this wrapper keeps the last
 * one so the refresh-token form can be checked.
 */
static struct vkdr_host body_host;
static char last_body[1024];

static int http_keeping_body(const struct vkdr_http_request *req,
			     struct vkdr_http_response *resp)
{
	size_t n = req->body_len < sizeof(last_body) - 1
			   ? req->body_len
			   : sizeof(last_body) - 1;

	memcpy(last_body, req->body ? req->body : "", req->body ? n : 0);
	last_body[req->body ? n : 0] = '\0';
	return mock_host()->http(req, resp);
}

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("azurecr");
	ck_assert_ptr_nonnull(mod);
	ops = mod->ops;
	body_host = *host;
	body_host.http = http_keeping_body;
	last_body[0] = '\0';
	mock_reset();
}

static void teardown(void)
{
	mock_reset();
}

static int authorize(const char *registry, const char *challenge,
		     const char *user, const char *pass,
		     struct vkdr_auth_result *res)
{
	struct vkdr_auth_request req = {
		.registry = registry,
		.base_url = "https://myreg.azurecr.io",
		.repository = "team/app",
		.challenge = challenge,
		.username = user,
		.password = pass,
	};

	memset(res, 0, sizeof(*res));
	return ops->authorize(&body_host, &req, res);
}

START_TEST(claims_and_validate_host)
{
	char err[256];

	ck_assert_str_eq(ops->claims[0], "*.azurecr.io");
	ck_assert_ptr_null(ops->claims[1]);
	ck_assert_int_eq(ops->validate_host("*.azurecr.io", err,
					    sizeof(err)), 0);
	ck_assert_int_eq(ops->validate_host("myreg.azurecr.io", err,
					    sizeof(err)), 0);
	err[0] = '\0';
	ck_assert_int_eq(ops->validate_host("myreg.azurecr.io.evil.test",
					    err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ".azurecr.io"));
	ck_assert_int_eq(ops->validate_host("a.b.azurecr.io", err,
					    sizeof(err)), -EINVAL);
	ck_assert_int_eq(ops->validate_host("*.b.azurecr.io", err,
					    sizeof(err)), -EINVAL);
	ck_assert_int_eq(ops->validate_host(".azurecr.io", err, sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(resolve_actual_registry)
{
	struct vkdr_upstream up;

	ck_assert_int_eq(ops->resolve(host, "myreg.azurecr.io", NULL, &up),
			 0);
	ck_assert_str_eq(up.base_url, "https://myreg.azurecr.io");
	ck_assert_int_eq(ops->resolve(host, "*.azurecr.io", NULL, &up),
			 -EINVAL);
}
END_TEST

START_TEST(anonymous_pull)
{
	struct vkdr_auth_result res;
	const struct mock_http_call *c;

	mock_http_reply(200, "", ACR_TOKEN);
	ck_assert_int_eq(authorize("myreg.azurecr.io", ACR_CHALLENGE, NULL,
				   NULL, &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer eyJ0eXAiOiJKV1Qi.acr");
	c = mock_http_call(0);
	ck_assert_str_eq(c->method, "GET");
	ck_assert_str_eq(c->url, "https://myreg.azurecr.io/oauth2/token"
				 "?service=myreg.azurecr.io"
				 "&scope=repository%3Ateam%2Fapp%3Apull");
	ck_assert_ptr_null(c->username);
	ck_assert_str_eq(last_body, "");
}
END_TEST

START_TEST(token_endpoint_is_the_actual_registry)
{
	struct vkdr_auth_result res;

	/* A challenge pointing elsewhere does not move the token request. */
	mock_http_reply(200, "", ACR_TOKEN);
	ck_assert_int_eq(authorize("other.azurecr.io",
				   "Bearer realm=\"https://evil.test/t\"",
				   "sp", "secret", &res), 0);
	ck_assert_str_eq(mock_http_call(0)->url,
			 "https://other.azurecr.io/oauth2/token"
			 "?service=other.azurecr.io"
			 "&scope=repository%3Ateam%2Fapp%3Apull");
	ck_assert_str_eq(mock_http_call(0)->username, "sp");
	ck_assert_str_eq(mock_http_call(0)->password, "secret");
	ck_assert_int_eq(authorize("myreg.example.test", ACR_CHALLENGE, NULL,
				   NULL, &res), -EINVAL);
}
END_TEST

START_TEST(refresh_token_is_posted)
{
	struct vkdr_auth_result res;
	const struct mock_http_call *c;

	mock_http_reply(200, "", ACR_TOKEN);
	ck_assert_int_eq(authorize("myreg.azurecr.io", ACR_CHALLENGE,
				   ACR_REFRESH_USER, "rt+/=secret", &res), 0);
	c = mock_http_call(0);
	ck_assert_str_eq(c->method, "POST");
	ck_assert_str_eq(c->url, "https://myreg.azurecr.io/oauth2/token");
	ck_assert_ptr_null(c->username);
	ck_assert_ptr_null(c->password);
	ck_assert_ptr_nonnull(strstr(
		c->headers, "Content-Type: application/x-www-form-urlencoded"));
	ck_assert_str_eq(last_body,
			 "grant_type=refresh_token&service=myreg.azurecr.io"
			 "&scope=repository%3Ateam%2Fapp%3Apull"
			 "&refresh_token=rt%2B%2F%3Dsecret");
	ck_assert_str_eq(res.authorization, "Bearer eyJ0eXAiOiJKV1Qi.acr");
}
END_TEST

START_TEST(refused_refresh_token)
{
	struct vkdr_auth_result res;

	mock_http_reply(401, "", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
	ck_assert_int_eq(authorize("myreg.azurecr.io", ACR_CHALLENGE,
				   ACR_REFRESH_USER, "expired", &res),
			 -EACCES);
	ck_assert_uint_eq(mock_http_calls(), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("azurecr");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, claims_and_validate_host);
	tcase_add_test(tc, resolve_actual_registry);
	tcase_add_test(tc, anonymous_pull);
	tcase_add_test(tc, token_endpoint_is_the_actual_registry);
	tcase_add_test(tc, refresh_token_is_posted);
	tcase_add_test(tc, refused_refresh_token);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
