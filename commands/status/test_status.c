/*
 * test_status.c - "vkdr mirror status" against scripted HTTP answers.
 *
 * The host is the mock host with the configuration, the registry plugin
 * lookup and the storage backend replaced. The command asks in a fixed
 * order (GET /v2/ on every mirror port, GET /metrics on the first port
 * that answered, GET UPSTREAM/v2/ for every mirror), so each test queues
 * one answer per request in that order, checks the URLs asked, and reads
 * the JSON output back with jansson.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mockhost.h"

static const struct vkdr_option two_options[] = {
	{ .key = "path", .value = "/nonexistent/cache" },
	{ .key = "max-size", .value = "20GiB" },
};

static const struct vkdr_mirror three_mirrors[] = {
	{ .host = "docker.io",
	  .port = 6000,
	  .endpoint = "http://host.k3d.internal:6000" },
	{ .host = "ghcr.io",
	  .port = 6001,
	  .upstream = "http://127.0.0.1:5000/",
	  .endpoint = "http://host.k3d.internal:6001" },
	{ .host = "*.azurecr.io",
	  .port = 6002,
	  .endpoint = "http://host.k3d.internal:6002" },
};

static struct vkdr_host host;
static int config_rc;
static const char *listen_address;

static int fake_config_read(struct vkdr_config **cfg, char *err, size_t errlen)
{
	if (config_rc) {
		snprintf(err, errlen, "line 3: mapping values are not allowed");
		return config_rc;
	}
	*cfg = calloc(1, sizeof(**cfg));
	if (!*cfg)
		return -ENOMEM;
	(*cfg)->mirrors = three_mirrors;
	(*cfg)->n_mirrors = 3;
	(*cfg)->settings.listen = listen_address;
	(*cfg)->settings.storage_options = two_options;
	(*cfg)->settings.n_storage_options = 2;
	return 0;
}

static void fake_config_free(struct vkdr_config *cfg)
{
	free(cfg);
}

static int fake_resolve(const struct vkdr_host *h, const char *registry,
			const char *configured, struct vkdr_upstream *out)
{
	snprintf(out->base_url, sizeof(out->base_url), "%s",
		 "https://registry-1.docker.io");
	return 0;
}

static const char *const fake_claims[] = { "docker.io", NULL };

static const struct vkdr_registry_ops fake_dockerhub = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = fake_claims,
	.resolve = fake_resolve,
};

static const struct vkdr_registry_ops *
fake_registry_find(const char *registry, const struct vkdr_module **mod)
{
	if (mod)
		*mod = NULL;
	return strcmp(registry, "docker.io") == 0 ? &fake_dockerhub : NULL;
}

/* A storage backend that records how it was opened. */
static size_t store_opens, store_closes, store_n_opts;
static bool store_saw_max_size;

static int fake_open(const struct vkdr_host *h, const struct vkdr_option *opts,
		     size_t n_opts, void **state)
{
	store_opens++;
	store_n_opts = n_opts;
	for (size_t i = 0; i < n_opts; i++)
		if (strcmp(opts[i].key, "max-size") == 0)
			store_saw_max_size = true;
	*state = &store_opens;
	return 0;
}

static void fake_close(void *state)
{
	store_closes++;
}

static int fake_usage(void *state, uint64_t *bytes, uint64_t *objects)
{
	*bytes = 3 * 1024 * 1024;
	*objects = 7;
	return 0;
}

static const struct vkdr_storage_ops fake_store = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.open = fake_open,
	.close = fake_close,
	.usage = fake_usage,
};

static const struct vkdr_storage_ops *fake_storage_find(const char *name)
{
	return strcmp(name, "filesystem") == 0 ? &fake_store : NULL;
}

static void setup(void)
{
	host = *mock_host();
	host.config_read = fake_config_read;
	host.config_free = fake_config_free;
	host.registry_find = fake_registry_find;
	host.storage_find = fake_storage_find;
	mock_reset();
	config_rc = 0;
	listen_address = NULL;
	store_opens = store_closes = store_n_opts = 0;
	store_saw_max_size = false;
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
}

static const struct vkdr_command *status_command(void)
{
	const struct vkdr_module *m = mock_load("status");
	const struct vkdr_command_ops *ops;

	ck_assert_msg(m != NULL, "status.so did not load");
	ops = m->ops;
	ck_assert_uint_eq(ops->n_commands, 1);
	ck_assert_str_eq(ops->commands[0].group, "mirror");
	ck_assert_str_eq(ops->commands[0].verb, "status");
	return &ops->commands[0];
}

/*
 * Run "vkdr mirror status ARG" with stdout sent to a file; returns the
 * exit status and the output in *OUT (free it).
 */
static int run_status(const char *arg, char **out)
{
	char *argv[3] = { "status", (char *)arg, NULL };
	FILE *f = tmpfile();
	int saved, rc;
	long n;

	ck_assert_ptr_nonnull(f);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(f), STDOUT_FILENO), 0);
	rc = status_command()->run(&host, arg ? 2 : 1, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);

	n = ftell(f);
	ck_assert_int_ge(n, 0);
	*out = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(*out);
	rewind(f);
	ck_assert_uint_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return rc;
}

static json_t *run_json(void)
{
	json_error_t error;
	json_t *root;
	char *out;

	ck_assert_int_eq(run_status("-ojson", &out), 0);
	root = json_loads(out, 0, &error);
	ck_assert_msg(root != NULL, "not JSON (%s): %s", error.text, out);
	free(out);
	return root;
}

static json_t *mirror_at(json_t *root, size_t i)
{
	json_t *m = json_array_get(json_object_get(root, "mirrors"), i);

	ck_assert_ptr_nonnull(m);
	return m;
}

static void assert_url(size_t call, const char *url)
{
	const struct mock_http_call *c = mock_http_call(call);

	ck_assert_msg(c != NULL, "request %zu was not made", call);
	ck_assert_str_eq(c->url, url);
	ck_assert_str_eq(c->method, "GET");
}

static const char metrics_text[] =
	"# HELP vkdr_mirror_requests_total Requests answered.\n"
	"# TYPE vkdr_mirror_requests_total counter\n"
	"vkdr_mirror_requests_total{outcome=\"none\"} 5\n"
	"vkdr_mirror_requests_total{outcome=\"hit\"} 6\n"
	"vkdr_mirror_requests_total{outcome=\"miss\"} 2\n"
	"vkdr_mirror_requests_total{outcome=\"coalesced\"} 1\n"
	"vkdr_mirror_requests_total{outcome=\"stale\"} 0\n"
	"vkdr_mirror_requests_total{outcome=\"revalidated\"} 1\n"
	"vkdr_mirror_requests_total{outcome=\"bypass\"} 9\n"
	"vkdr_mirror_bytes_served_total 5000\n"
	"vkdr_mirror_upstream_requests_total 4\n"
	"vkdr_mirror_upstream_bytes_total 1200\n"
	"vkdr_mirror_some_future_metric{a=\"b\"} 12\n";

START_TEST(daemon_running)
{
	json_t *root, *daemon, *metrics, *cache, *m;

	/* docker.io's port answers, ghcr.io's does not (queue empty). */
	mock_http_reply(200, "", "{}");
	mock_http_fail(-ECONNREFUSED);
	mock_http_fail(-ECONNREFUSED);
	mock_http_reply(200, "", metrics_text);
	mock_http_reply(401, "", "");
	mock_http_fail(-ETIMEDOUT);
	root = run_json();

	ck_assert_uint_eq(mock_http_calls(), 6);
	/* The daemon is asked directly even where a proxy is configured. */
	ck_assert_str_eq(getenv("no_proxy"), "127.0.0.1");
	assert_url(0, "http://127.0.0.1:6000/v2/");
	assert_url(1, "http://127.0.0.1:6001/v2/");
	assert_url(2, "http://127.0.0.1:6002/v2/");
	assert_url(3, "http://127.0.0.1:6000/metrics");
	assert_url(4, "https://registry-1.docker.io/v2/");
	assert_url(5, "http://127.0.0.1:5000/v2/");

	daemon = json_object_get(root, "daemon");
	ck_assert(json_is_true(json_object_get(daemon, "running")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(daemon, "metrics_port")),
		6000);
	metrics = json_object_get(daemon, "metrics");
	ck_assert_ptr_nonnull(metrics);
	/* hit 6 + miss 2 + coalesced 1 + revalidated 1; none and bypass out */
	ck_assert_int_eq(
		json_integer_value(json_object_get(metrics, "requests")), 10);
	ck_assert_int_eq(
		json_integer_value(json_object_get(metrics, "cache_answers")),
		7);
	ck_assert_double_eq_tol(
		json_real_value(json_object_get(metrics, "hit_ratio")), 0.7,
		1e-9);
	ck_assert_int_eq(
		json_integer_value(json_object_get(metrics, "bytes_saved")),
		3800);

	/* The metrics say nothing of the cache: the store was asked. */
	cache = json_object_get(root, "cache");
	ck_assert_str_eq(json_string_value(json_object_get(cache, "source")),
			 "store");
	ck_assert_int_eq(json_integer_value(json_object_get(cache, "bytes")),
			 3 * 1024 * 1024);
	ck_assert_int_eq(json_integer_value(json_object_get(cache, "objects")),
			 7);
	ck_assert_str_eq(json_string_value(json_object_get(cache, "max_size")),
			 "20GiB");
	ck_assert_uint_eq(store_opens, 1);
	ck_assert_uint_eq(store_closes, 1);
	ck_assert_uint_eq(store_n_opts, 1);
	ck_assert(!store_saw_max_size);

	m = mirror_at(root, 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "host")),
			 "docker.io");
	ck_assert(json_is_true(json_object_get(m, "listening")));
	ck_assert(json_is_true(json_object_get(m, "upstream_reachable")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(m, "upstream_status")), 401);
	ck_assert(json_is_null(json_object_get(m, "pull_budget")));

	m = mirror_at(root, 1);
	ck_assert(json_is_false(json_object_get(m, "listening")));
	ck_assert_str_eq(json_string_value(json_object_get(m, "upstream")),
			 "http://127.0.0.1:5000/");
	ck_assert(json_is_false(json_object_get(m, "upstream_reachable")));
	ck_assert(json_is_null(json_object_get(m, "upstream_status")));

	/* A wildcard has no single upstream to ask. */
	m = mirror_at(root, 2);
	ck_assert(json_is_null(json_object_get(m, "upstream")));
	ck_assert(json_is_null(json_object_get(m, "upstream_reachable")));
	json_decref(root);
}
END_TEST

START_TEST(daemon_not_running)
{
	json_t *root, *daemon, *cache;
	char *out;

	/* Nothing queued: every request is refused. */
	root = run_json();
	ck_assert_uint_eq(mock_http_calls(), 5);
	assert_url(3, "https://registry-1.docker.io/v2/");
	daemon = json_object_get(root, "daemon");
	ck_assert(json_is_false(json_object_get(daemon, "running")));
	ck_assert(json_is_null(json_object_get(daemon, "metrics_port")));
	ck_assert(json_is_null(json_object_get(daemon, "metrics")));
	cache = json_object_get(root, "cache");
	ck_assert_int_eq(json_integer_value(json_object_get(cache, "objects")),
			 7);
	ck_assert(json_is_false(
		json_object_get(mirror_at(root, 0), "upstream_reachable")));
	json_decref(root);

	mock_reset();
	ck_assert_int_eq(run_status(NULL, &out), 0);
	ck_assert_msg(strstr(out, "Daemon: not running") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "docker.io ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "3.0 MiB in 7 objects") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "unknown") != NULL, "%s", out);
	/* Standard output is a file: no colour codes. */
	ck_assert_msg(strchr(out, '\033') == NULL, "%s", out);
	free(out);
}
END_TEST

START_TEST(metrics_report_cache_and_budget)
{
	json_t *root, *cache, *budget, *metrics;

	mock_http_reply(200, "", "{}");
	mock_http_reply(200, "", "{}");
	mock_http_reply(200, "", "{}");
	mock_http_reply(200, "",
			"vkdr_mirror_cache_bytes 4096\n"
			"vkdr_mirror_cache_objects 2\n"
			"vkdr_mirror_pull_budget_remaining"
			"{registry=\"docker.io\"} 87\n"
			"vkdr_mirror_pull_budget_limit"
			"{registry=\"docker.io\"} 100\n"
			"vkdr_mirror_bytes_served_total"
			"{outcome=\"hit\"} 300\n"
			"vkdr_mirror_bytes_served_total"
			"{outcome=\"miss\"} 50\n"
			"vkdr_mirror_upstream_bytes_total 50\n");
	root = run_json();

	cache = json_object_get(root, "cache");
	ck_assert_str_eq(json_string_value(json_object_get(cache, "source")),
			 "metrics");
	ck_assert_int_eq(json_integer_value(json_object_get(cache, "bytes")),
			 4096);
	ck_assert_int_eq(json_integer_value(json_object_get(cache, "objects")),
			 2);
	ck_assert_uint_eq(store_opens, 0);
	/* Bytes counted per outcome: the hits' bytes are the saving. */
	metrics = json_object_get(json_object_get(root, "daemon"), "metrics");
	ck_assert_int_eq(
		json_integer_value(json_object_get(metrics, "bytes_served")),
		350);
	ck_assert_int_eq(
		json_integer_value(json_object_get(metrics, "bytes_saved")),
		300);
	/* No request counted yet: no ratio rather than a division by 0. */
	ck_assert(json_is_null(json_object_get(metrics, "hit_ratio")));

	budget = json_object_get(mirror_at(root, 0), "pull_budget");
	ck_assert_int_eq(
		json_integer_value(json_object_get(budget, "remaining")), 87);
	ck_assert_int_eq(json_integer_value(json_object_get(budget, "limit")),
			 100);
	ck_assert(json_is_null(
		json_object_get(mirror_at(root, 1), "pull_budget")));
	json_decref(root);
}
END_TEST

START_TEST(listen_address_is_used)
{
	json_t *root;

	listen_address = "::";
	setenv("NO_PROXY", "example.com", 1);
	root = run_json();
	assert_url(0, "http://[::1]:6000/v2/");
	ck_assert_str_eq(getenv("no_proxy"), "example.com,::1");
	json_decref(root);

	mock_reset();
	listen_address = "192.168.7.2";
	root = run_json();
	assert_url(1, "http://192.168.7.2:6001/v2/");
	json_decref(root);

	mock_reset();
	listen_address = "fd00::2";
	root = run_json();
	assert_url(2, "http://[fd00::2]:6002/v2/");
	json_decref(root);
}
END_TEST

START_TEST(errors)
{
	char *out;

	ck_assert_int_eq(run_status("-o", &out), 2);
	free(out);
	ck_assert_int_eq(run_status("--output=yaml", &out), 2);
	free(out);
	ck_assert_int_eq(run_status("--bogus", &out), 2);
	free(out);
	ck_assert_uint_eq(mock_http_calls(), 0);

	config_rc = -EINVAL;
	ck_assert_int_eq(run_status("-ojson", &out), 1);
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_uint_eq(mock_http_calls(), 0);
}
END_TEST

static Suite *status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("status");

	tcase_add_checked_fixture(tc, setup, mock_reset);
	tcase_add_test(tc, daemon_running);
	tcase_add_test(tc, daemon_not_running);
	tcase_add_test(tc, metrics_report_cache_and_budget);
	tcase_add_test(tc, listen_address_is_used);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(status_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
