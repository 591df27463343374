/*
 * test_export.c - golden output of "vkdr mirror export" in each format.
 *
 * The host is the mock host with two services replaced: config_read
 * returns a fixed configuration (docker.io, ghcr.io with a configured
 * upstream, and the wildcard *.azurecr.io), and registry_find knows one
 * plugin, for docker.io. The export module itself is loaded from the
 * build tree. Every file the command writes is compared byte for byte
 * with the text containerd, containers/image or Docker is meant to read.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mockhost.h"

static const struct vkdr_mirror three_mirrors[] = {
    {.host = "docker.io",
     .port = 6000,
     .endpoint = "http://host.k3d.internal:6000"},
    {.host = "ghcr.io",
     .port = 6001,
     .upstream = "http://127.0.0.1:5000",
     .endpoint = "http://host.k3d.internal:6001"},
    {.host = "*.azurecr.io",
     .port = 6002,
     .endpoint = "http://host.k3d.internal:6002"},
};

static const struct vkdr_mirror *fake_mirrors = three_mirrors;
static size_t fake_n_mirrors = 3;
static struct vkdr_host host;

static int fake_config_read(struct vkdr_config **cfg, char *err, size_t errlen)
{
	*cfg = calloc(1, sizeof(**cfg));
	if (!*cfg)
		return -ENOMEM;
	(*cfg)->mirrors = fake_mirrors;
	(*cfg)->n_mirrors = fake_n_mirrors;
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
		 configured ? configured : "https://registry-1.docker.io");
	return 0;
}

static const char *const fake_claims[] = {"docker.io", NULL};

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

static const struct vkdr_command *export_command(void)
{
	const struct vkdr_module *m = mock_load("export");
	const struct vkdr_command_ops *ops;

	ck_assert_msg(m != NULL, "export.so did not load");
	ops = m->ops;
	ck_assert_uint_eq(ops->n_commands, 1);
	ck_assert_str_eq(ops->commands[0].group, "mirror");
	ck_assert_str_eq(ops->commands[0].verb, "export");
	return &ops->commands[0];
}

/* Run "vkdr mirror export" with up to four options; returns its status. */
static int run_export(const char *a1, const char *a2, const char *a3,
		      const char *a4)
{
	const char *given[] = {a1, a2, a3, a4};
	char *argv[6] = {"export"};
	int argc = 1;

	for (size_t i = 0; i < 4 && given[i]; i++)
		argv[argc++] = (char *)given[i];
	fflush(stdout);
	return export_command()->run(&host, argc, argv);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void assert_file(const char *path, const char *expected)
{
	char *got = slurp(path);

	ck_assert_msg(got != NULL, "%s was not written", path);
	ck_assert_str_eq(got, expected);
	free(got);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static char tmpdir[PATH_MAX];

static void setup(void)
{
	host = *mock_host();
	host.config_read = fake_config_read;
	host.config_free = fake_config_free;
	host.registry_find = fake_registry_find;
	fake_mirrors = three_mirrors;
	fake_n_mirrors = 3;
	snprintf(tmpdir, sizeof(tmpdir), "%s/export-XXXXXX", mock_home());
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

START_TEST(containerd_golden)
{
	char dir[PATH_MAX + 8], arg[PATH_MAX + 16], path[PATH_MAX + 64];

	snprintf(dir, sizeof(dir), "%s/certs.d", tmpdir);
	snprintf(arg, sizeof(arg), "--dir=%s", dir);
	ck_assert_int_eq(run_export("--format=containerd", arg, NULL, NULL), 0);

	snprintf(path, sizeof(path), "%s/docker.io/hosts.toml", dir);
	assert_file(path,
		    "# Written by 'vkdr mirror export --format=containerd'.\n"
		    "server = \"https://registry-1.docker.io\"\n"
		    "\n"
		    "[host.\"http://127.0.0.1:6000\"]\n"
		    "  capabilities = [\"pull\", \"resolve\"]\n");
	snprintf(path, sizeof(path), "%s/ghcr.io/hosts.toml", dir);
	assert_file(path,
		    "# Written by 'vkdr mirror export --format=containerd'.\n"
		    "server = \"http://127.0.0.1:5000\"\n"
		    "\n"
		    "[host.\"http://127.0.0.1:6001\"]\n"
		    "  capabilities = [\"pull\", \"resolve\"]\n");

	/* The wildcard is skipped, not written under a "*" directory. */
	snprintf(path, sizeof(path), "%s/*.azurecr.io", dir);
	ck_assert(!exists(path));
}
END_TEST

START_TEST(containerd_address_and_fallback_server)
{
	static const struct vkdr_mirror quay[] = {
	    {.host = "quay.io", .port = 6003},
	};
	char arg[PATH_MAX + 16], path[PATH_MAX + 64];

	fake_mirrors = quay;
	fake_n_mirrors = 1;
	snprintf(arg, sizeof(arg), "--dir=%s", tmpdir);
	ck_assert_int_eq(run_export("--format=containerd", arg,
				    "--address=host.k3d.internal", NULL),
			 0);
	snprintf(path, sizeof(path), "%s/quay.io/hosts.toml", tmpdir);
	assert_file(path,
		    "# Written by 'vkdr mirror export --format=containerd'.\n"
		    "server = \"https://quay.io\"\n"
		    "\n"
		    "[host.\"http://host.k3d.internal:6003\"]\n"
		    "  capabilities = [\"pull\", \"resolve\"]\n");
}
END_TEST

START_TEST(containerd_only_wildcards_fails)
{
	char arg[PATH_MAX + 16];

	fake_mirrors = three_mirrors + 2;
	fake_n_mirrors = 1;
	snprintf(arg, sizeof(arg), "--dir=%s", tmpdir);
	ck_assert_int_eq(run_export("--format=containerd", arg, NULL, NULL), 1);
}
END_TEST

START_TEST(registries_conf_golden)
{
	char out[PATH_MAX + 16], arg[PATH_MAX + 32];

	snprintf(out, sizeof(out), "%s/mirrors.conf", tmpdir);
	snprintf(arg, sizeof(arg), "--output=%s", out);
	ck_assert_int_eq(
	    run_export("--format=registries-conf", arg, NULL, NULL), 0);
	assert_file(out, "# Written by 'vkdr mirror export "
			 "--format=registries-conf'.\n"
			 "\n"
			 "[[registry]]\n"
			 "prefix = \"docker.io\"\n"
			 "location = \"docker.io\"\n"
			 "\n"
			 "[[registry.mirror]]\n"
			 "location = \"127.0.0.1:6000\"\n"
			 "insecure = true\n"
			 "\n"
			 "[[registry]]\n"
			 "prefix = \"ghcr.io\"\n"
			 "location = \"ghcr.io\"\n"
			 "\n"
			 "[[registry.mirror]]\n"
			 "location = \"127.0.0.1:6001\"\n"
			 "insecure = true\n");
}
END_TEST

START_TEST(docker_golden)
{
	char out[PATH_MAX + 16], arg[PATH_MAX + 32];

	snprintf(out, sizeof(out), "%s/daemon-line", tmpdir);
	snprintf(arg, sizeof(arg), "--output=%s", out);
	ck_assert_int_eq(run_export("--format=docker", arg, NULL, NULL), 0);
	assert_file(out, "\"registry-mirrors\": [\"http://127.0.0.1:6000\"]\n");
}
END_TEST

START_TEST(docker_ipv6_address)
{
	char out[PATH_MAX + 16], arg[PATH_MAX + 32];

	snprintf(out, sizeof(out), "%s/daemon-line", tmpdir);
	snprintf(arg, sizeof(arg), "--output=%s", out);
	ck_assert_int_eq(
	    run_export("--format=docker", "--address=::1", arg, NULL), 0);
	assert_file(out, "\"registry-mirrors\": [\"http://[::1]:6000\"]\n");
}
END_TEST

START_TEST(docker_without_docker_io_fails)
{
	char out[PATH_MAX + 16], arg[PATH_MAX + 32];

	fake_mirrors = three_mirrors + 1;
	fake_n_mirrors = 2;
	snprintf(out, sizeof(out), "%s/daemon-line", tmpdir);
	snprintf(arg, sizeof(arg), "--output=%s", out);
	ck_assert_int_eq(run_export("--format=docker", arg, NULL, NULL), 1);
	ck_assert(!exists(out));
}
END_TEST

START_TEST(no_mirror_fails)
{
	fake_n_mirrors = 0;
	ck_assert_int_eq(run_export("--format=docker", NULL, NULL, NULL), 1);
}
END_TEST

START_TEST(usage_errors)
{
	ck_assert_int_eq(run_export("--format=rkt", NULL, NULL, NULL), 2);
	ck_assert_int_eq(run_export(NULL, NULL, NULL, NULL), 2);
	ck_assert_int_eq(run_export("--format=containerd", NULL, NULL, NULL),
			 2);
	ck_assert_int_eq(
	    run_export("--format=docker", "--dir=/tmp", NULL, NULL), 2);
	ck_assert_int_eq(run_export("--format=docker", "--bogus", NULL, NULL),
			 2);
}
END_TEST

static Suite *export_suite(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("formats");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, containerd_golden);
	tcase_add_test(tc, containerd_address_and_fallback_server);
	tcase_add_test(tc, containerd_only_wildcards_fails);
	tcase_add_test(tc, registries_conf_golden);
	tcase_add_test(tc, docker_golden);
	tcase_add_test(tc, docker_ipv6_address);
	tcase_add_test(tc, docker_without_docker_io_fails);
	tcase_add_test(tc, no_mirror_fails);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(export_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
