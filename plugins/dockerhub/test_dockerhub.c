/*
 * test_dockerhub.c - the Docker Hub plugin: names, library/ prefix, the
 * recorded auth.docker.io exchange, and the rate-limit warning.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

/* What registry-1.docker.io answers an anonymous manifest GET. */
#define HUB_CHALLENGE                                               \
	"Bearer realm=\"https://auth.docker.io/token\","            \
	"service=\"registry.docker.io\","                           \
	"scope=\"repository:library/nginx:pull\""
/* What auth.docker.io answers (token shortened). */
#define HUB_TOKEN                                                   \
	"{\"token\":\"eyJhbGciOiJSUzI1NiJ9.hub\","                  \
	"\"access_token\":\"eyJhbGciOiJSUzI1NiJ9.hub\","            \
	"\"expires_in\":300,\"issued_at\":\"2026-12-03T10:00:00Z\"}"

static const struct vkdr_host *host;
static const struct vkdr_registry_ops *ops;

/* A host whose log lines are counted, to see the rate-limit warning. */
static struct vkdr_host counting_host;
static unsigned warnings;
static char last_warning[512];

static void count_log(enum vkdr_log_level level, const char *module,
		      const char *fmt, ...)
{
	va_list ap;

	if (level != VKDR_LOG_WARN)
		return;
	warnings++;
	va_start(ap, fmt);
	vsnprintf(last_warning, sizeof(last_warning), fmt, ap);
	va_end(ap);
}

static void setup(void)
{
	const struct vkdr_module *mod;

	host = mock_host();
	mod = mock_load("dockerhub");
	ck_assert_ptr_nonnull(mod);
	ops = mod->ops;
	counting_host = *host;
	counting_host.log = count_log;
	warnings = 0;
	mock_reset();
}

static void teardown(void)
{
	mock_reset();
}

START_TEST(claims_and_aliases)
{
	char out[64];

	ck_assert_str_eq(ops->claims[0], "docker.io");
	ck_assert_str_eq(ops->claims[1], "index.docker.io");
	ck_assert_str_eq(ops->claims[2], "registry-1.docker.io");
	ck_assert_ptr_null(ops->claims[3]);

	ck_assert(ops->canonical_host("index.docker.io", out, sizeof(out)));
	ck_assert_str_eq(out, "docker.io");
	ck_assert(ops->canonical_host("registry-1.docker.io", out,
				      sizeof(out)));
	ck_assert_str_eq(out, "docker.io");
	ck_assert(!ops->canonical_host("docker.io", out, sizeof(out)));
	ck_assert(!ops->canonical_host("ghcr.io", out, sizeof(out)));
}
END_TEST

START_TEST(resolve)
{
	struct vkdr_upstream up;

	ck_assert_int_eq(ops->resolve(host, "docker.io", NULL, &up), 0);
	ck_assert_str_eq(up.base_url, "https://registry-1.docker.io");
	ck_assert_int_eq(ops->resolve(host, "docker.io",
				      "http://127.0.0.1:5000", &up), 0);
	ck_assert_str_eq(up.base_url, "http://127.0.0.1:5000");
}
END_TEST

START_TEST(library_prefix)
{
	char out[32];

	ck_assert_int_eq(ops->repository("docker.io", "nginx", out,
					 sizeof(out)), 0);
	ck_assert_str_eq(out, "library/nginx");
	ck_assert_int_eq(ops->repository("docker.io", "bitnami/redis", out,
					 sizeof(out)), 0);
	ck_assert_str_eq(out, "bitnami/redis");
	ck_assert_int_eq(ops->repository("docker.io", "library/nginx", out,
					 sizeof(out)), 0);
	ck_assert_str_eq(out, "library/nginx");
	ck_assert_int_eq(ops->repository("docker.io",
					 "averyveryverylongimagename", out,
					 sizeof(out)), -ENAMETOOLONG);
}
END_TEST

START_TEST(authorize_anonymous)
{
	struct vkdr_auth_request req = {
		.registry = "docker.io",
		.base_url = "https://registry-1.docker.io",
		.repository = "library/nginx",
		.challenge = HUB_CHALLENGE,
	};
	struct vkdr_auth_result res;

	mock_http_reply(200, "Content-Type: application/json\r\n",
			HUB_TOKEN);
	ck_assert_int_eq(ops->authorize(host, &req, &res), 0);
	ck_assert_str_eq(res.authorization,
			 "Bearer eyJhbGciOiJSUzI1NiJ9.hub");
	ck_assert_uint_eq(res.expires_in, 300);
	ck_assert_str_eq(mock_http_call(0)->url,
			 "https://auth.docker.io/token"
			 "?service=registry.docker.io"
			 "&scope=repository%3Alibrary%2Fnginx%3Apull");
	ck_assert_ptr_null(mock_http_call(0)->username);
}
END_TEST

START_TEST(authorize_wrong_password)
{
	struct vkdr_auth_request req = {
		.registry = "docker.io",
		.base_url = "https://registry-1.docker.io",
		.repository = "library/nginx",
		.challenge = HUB_CHALLENGE,
		.username = "someone",
		.password = "wrong",
	};
	struct vkdr_auth_result res;

	mock_http_reply(401, "",
			"{\"details\":\"incorrect username or password\"}");
	ck_assert_int_eq(ops->authorize(host, &req, &res), -EACCES);
	ck_assert_uint_eq(mock_http_calls(), 1);
	ck_assert_str_eq(mock_http_call(0)->username, "someone");
}
END_TEST

static void observe(const char *name, const char *value)
{
	ops->observe_header(&counting_host, "docker.io", name, value);
}

START_TEST(ratelimit_warns_once_per_crossing)
{
	/* Start from a known state: the budget is full. */
	observe("ratelimit-limit", "100;w=21600");
	observe("ratelimit-remaining", "100;w=21600");
	warnings = 0;

	observe("RateLimit-Remaining", "50;w=21600");
	observe("docker-ratelimit-source", "192.0.2.1");
	observe("content-type", "application/json");
	ck_assert_uint_eq(warnings, 0);

	observe("ratelimit-remaining", "10;w=21600");
	ck_assert_uint_eq(warnings, 0);	/* 10% is not below 10% */
	observe("ratelimit-remaining", "9;w=21600");
	ck_assert_uint_eq(warnings, 1);
	ck_assert_ptr_nonnull(strstr(last_warning, "9 of 100"));
	observe("ratelimit-remaining", "8;w=21600");
	observe("ratelimit-remaining", "0;w=21600");
	observe("ratelimit-remaining", "garbage");
	ck_assert_uint_eq(warnings, 1);

	/* The window resets; dropping again warns again. */
	observe("ratelimit-remaining", "99;w=21600");
	observe("ratelimit-remaining", "3;w=21600");
	ck_assert_uint_eq(warnings, 2);

	/* A larger limit (with credentials) moves the threshold. */
	observe("ratelimit-limit", "1000;w=21600");
	observe("ratelimit-remaining", "500;w=21600");
	observe("ratelimit-remaining", "99;w=21600");
	ck_assert_uint_eq(warnings, 3);
}
END_TEST

struct reported {
	double limit, remaining;
	unsigned n;
};

static void collect(void *arg, const char *name, const char *labels,
		    double value)
{
	struct reported *r = arg;

	ck_assert_str_eq(labels, "registry=\"docker.io\"");
	if (strcmp(name, "vkdr_mirror_pull_budget_limit") == 0)
		r->limit = value;
	else if (strcmp(name, "vkdr_mirror_pull_budget_remaining") == 0)
		r->remaining = value;
	else
		ck_abort_msg("unexpected metric %s", name);
	r->n++;
}

START_TEST(ratelimit_is_reported)
{
	struct reported r = { .n = 0 };

	ck_assert_uint_ge(ops->version, 2);
	ck_assert_ptr_nonnull(ops->report);
	observe("ratelimit-limit", "100;w=21600");
	observe("ratelimit-remaining", "42;w=21600");
	ops->report(&counting_host, collect, &r);
	ck_assert_uint_eq(r.n, 2);
	ck_assert(r.limit == 100.0);
	ck_assert(r.remaining == 42.0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dockerhub");
	TCase *tc = tcase_create("plugin");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, claims_and_aliases);
	tcase_add_test(tc, resolve);
	tcase_add_test(tc, library_prefix);
	tcase_add_test(tc, authorize_anonymous);
	tcase_add_test(tc, authorize_wrong_password);
	tcase_add_test(tc, ratelimit_warns_once_per_crossing);
	tcase_add_test(tc, ratelimit_is_reported);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
