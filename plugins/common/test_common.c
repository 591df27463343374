/*
 * test_common.c - the shared plugin helpers, and the credentials lookup
 * the core offers as host->credentials_find.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mockhost.h"
#include "vkdrplugin.h"

static const struct vkdr_host *host;
static char docker_dir[4096];

START_TEST(url_encode)
{
	char out[64];

	ck_assert_int_eq(plugin_url_encode("repository:a/b:pull", out,
					   sizeof(out)), 0);
	ck_assert_str_eq(out, "repository%3Aa%2Fb%3Apull");
	ck_assert_int_eq(plugin_url_encode("A-z0_9.~ +&=\xc3\xa9", out,
					   sizeof(out)), 0);
	ck_assert_str_eq(out, "A-z0_9.~%20%2B%26%3D%C3%A9");
	ck_assert_int_eq(plugin_url_encode("abc", out, 4), 0);
	ck_assert_int_eq(plugin_url_encode("abc", out, 3), -ENAMETOOLONG);
	ck_assert_int_eq(plugin_url_encode(":", out, 3), -ENAMETOOLONG);
}
END_TEST

START_TEST(query_append)
{
	char buf[32] = "https://a/t";

	ck_assert_int_eq(plugin_query_append(buf, sizeof(buf), '?', "s",
					     "x y"), 0);
	ck_assert_str_eq(buf, "https://a/t?s=x%20y");
	ck_assert_int_eq(plugin_query_append(buf, sizeof(buf), '&', "k",
					     "0123456789abc"), -ENAMETOOLONG);
	ck_assert_str_eq(buf, "https://a/t?s=x%20y");
}
END_TEST

START_TEST(base64_and_basic)
{
	struct vkdr_auth_result res;
	char out[16];

	ck_assert_int_eq(plugin_base64_encode("", 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(plugin_base64_encode("f", 1, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Zg==");
	ck_assert_int_eq(plugin_base64_encode("fo", 2, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Zm8=");
	ck_assert_int_eq(plugin_base64_encode("foobar", 6, out, sizeof(out)),
			 0);
	ck_assert_str_eq(out, "Zm9vYmFy");
	ck_assert_int_eq(plugin_base64_encode("foobar", 6, out, 8),
			 -ENAMETOOLONG);
	ck_assert_int_eq(plugin_basic_authorization("aladdin", "opensesame",
						    &res), 0);
	ck_assert_str_eq(res.authorization,
			 "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
}
END_TEST

START_TEST(token_parse)
{
	struct vkdr_auth_result res;

	ck_assert_int_eq(plugin_token_parse("{\"token\":\"a\","
					    "\"expires_in\":3600}", &res), 0);
	ck_assert_str_eq(res.authorization, "Bearer a");
	ck_assert_uint_eq(res.expires_in, 3600);
	ck_assert_int_eq(plugin_token_parse("{\"token\":\"a\","
					    "\"expires_in\":-5}", &res), 0);
	ck_assert_uint_eq(res.expires_in, PLUGIN_DEFAULT_EXPIRES);
	ck_assert_int_eq(plugin_token_parse(NULL, &res), -EBADMSG);
	ck_assert_int_eq(plugin_token_parse("{\"token\":null}", &res),
			 -EBADMSG);
}
END_TEST

START_TEST(token_too_long)
{
	struct vkdr_auth_result res;
	size_t n = sizeof(res.authorization) + 16;
	char *body = malloc(n + 32);

	strcpy(body, "{\"token\":\"");
	memset(body + 10, 'x', n);
	strcpy(body + 10 + n, "\"}");
	ck_assert_int_eq(plugin_token_parse(body, &res), -EMSGSIZE);
	free(body);
}
END_TEST

START_TEST(challenge_offers)
{
	ck_assert(plugin_challenge_offers("Bearer realm=\"x\"", "Bearer"));
	ck_assert(plugin_challenge_offers("bearer", "Bearer"));
	ck_assert(plugin_challenge_offers("Basic realm=\"x\", Bearer a=b",
					  "Bearer"));
	ck_assert(!plugin_challenge_offers("Bearerx realm=1", "Bearer"));
	ck_assert(!plugin_challenge_offers("Basic realm=\"a,Bearer\"",
					   "Bearer"));
	ck_assert(!plugin_challenge_offers(NULL, "Bearer"));
}
END_TEST

/* ---- credentials ------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	FILE *f;

	if (!text) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Write the three sources; NULL removes one. */
static void sources(const char *settings, const char *registries,
		    const char *docker)
{
	char path[4200];

	write_file(host->settings_path(), settings);
	write_file(host->registry_config_path(), registries);
	snprintf(path, sizeof(path), "%s/config.json", docker_dir);
	write_file(path, docker);
}

static void credentials_setup(void)
{
	char dir[4096];

	host = mock_host();
	snprintf(dir, sizeof(dir), "%s/scripts", mock_home());
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/scripts/.util", mock_home());
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/scripts/.util/configs", mock_home());
	mkdir(dir, 0700);
	snprintf(docker_dir, sizeof(docker_dir), "%s/docker", mock_home());
	mkdir(docker_dir, 0700);
	setenv("DOCKER_CONFIG", docker_dir, 1);
	sources(NULL, NULL, NULL);
}

static void credentials_teardown(void)
{
	sources(NULL, NULL, NULL);
}

/* Look REGISTRY up; "user:pass" in OUT, or "" when none was found. */
static int lookup(const char *registry, char *out, size_t len)
{
	char *user, *pass;
	int rc;

	rc = host->credentials_find(registry, &user, &pass);
	out[0] = '\0';
	if (rc == 0) {
		snprintf(out, len, "%s:%s", user, pass);
		host->free(user);
		host->free(pass);
	} else {
		ck_assert_ptr_null(user);
		ck_assert_ptr_null(pass);
	}
	return rc;
}

#define SETTINGS                                                   \
	"listen: 0.0.0.0\n"                                        \
	"mirrors:\n"                                               \
	"  docker.io:\n"                                           \
	"    upstream: http://127.0.0.1:5000\n"                    \
	"    username: settings-user\n"                            \
	"    password: settings-pass\n"                            \
	"  \"*.azurecr.io\":\n"                                    \
	"    username: 00000000-0000-0000-0000-000000000000\n"     \
	"    password: refresh\n"                                  \
	"  special.azurecr.io:\n"                                  \
	"    username: sp\n"                                       \
	"    password: \"p:w d\"\n"                                \
	"  quay.io:\n"                                             \
	"    upstream: https://quay.io\n"

#define REGISTRIES                                                 \
	"mirrors:\n"                                               \
	"  docker.io:\n"                                           \
	"    endpoint:\n"                                          \
	"      - http://host.k3d.internal:6000\n"                  \
	"configs:\n"                                               \
	"  docker.io:\n"                                           \
	"    auth:\n"                                              \
	"      username: k3s-user\n"                               \
	"      password: k3s-pass\n"                               \
	"  quay.io:\n"                                             \
	"    auth:\n"                                              \
	"      username: robot\n"                                  \
	"      password: quay-pass\n"

/* As "docker login" writes it: tabs, the v1 index key for Docker Hub. */
#define DOCKER_JSON                                                \
	"{\n"                                                      \
	"\t\"auths\": {\n"                                         \
	"\t\t\"https://index.docker.io/v1/\": {\n"                 \
	"\t\t\t\"auth\": \"aHViOmh1Yi1wYXNz\"\n"                   \
	"\t\t},\n"                                                 \
	"\t\t\"ghcr.io\": {\n"                                     \
	"\t\t\t\"username\": \"octocat\",\n"                       \
	"\t\t\t\"password\": \"ghp_x\"\n"                          \
	"\t\t},\n"                                                 \
	"\t\t\"https://quay.io\": {\n"                             \
	"\t\t\t\"auth\": \"ZG9ja2VyOnF1YXk=\"\n"                   \
	"\t\t},\n"                                                 \
	"\t\t\"bad.example.test\": {\n"                            \
	"\t\t\t\"auth\": \"!!!not base64\"\n"                      \
	"\t\t},\n"                                                 \
	"\t\t\"nocolon.example.test\": {\n"                        \
	"\t\t\t\"auth\": \"bm9jb2xvbg==\"\n"                       \
	"\t\t}\n"                                                  \
	"\t},\n"                                                   \
	"\t\"credsStore\": \"desktop\"\n"                          \
	"}\n"

START_TEST(credentials_none)
{
	char got[256];

	ck_assert_int_eq(lookup("docker.io", got, sizeof(got)), -ENOENT);
	sources(SETTINGS, REGISTRIES, DOCKER_JSON);
	ck_assert_int_eq(lookup("registry.example.test", got, sizeof(got)),
			 -ENOENT);
	ck_assert_int_eq(lookup("", got, sizeof(got)), -ENOENT);
}
END_TEST

START_TEST(credentials_order)
{
	char got[256];

	sources(SETTINGS, REGISTRIES, DOCKER_JSON);
	ck_assert_int_eq(lookup("docker.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "settings-user:settings-pass");

	sources(NULL, REGISTRIES, DOCKER_JSON);
	ck_assert_int_eq(lookup("docker.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "k3s-user:k3s-pass");

	sources(NULL, NULL, DOCKER_JSON);
	ck_assert_int_eq(lookup("docker.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "hub:hub-pass");
	ck_assert_int_eq(lookup("DOCKER.IO", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "hub:hub-pass");
}
END_TEST

START_TEST(credentials_settings_entry_without_them)
{
	char got[256];

	/* quay.io's mirror has no credentials: the next source answers. */
	sources(SETTINGS, REGISTRIES, DOCKER_JSON);
	ck_assert_int_eq(lookup("quay.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "robot:quay-pass");
	sources(SETTINGS, NULL, DOCKER_JSON);
	ck_assert_int_eq(lookup("quay.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "docker:quay");
}
END_TEST

START_TEST(credentials_wildcard_and_exact)
{
	char got[256];

	sources(SETTINGS, NULL, NULL);
	ck_assert_int_eq(lookup("myreg.azurecr.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "00000000-0000-0000-0000-000000000000:refresh");
	ck_assert_int_eq(lookup("special.azurecr.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "sp:p:w d");
	ck_assert_int_eq(lookup("azurecr.io", got, sizeof(got)), -ENOENT);
}
END_TEST

START_TEST(credentials_docker_config)
{
	char got[256];

	sources(NULL, NULL, DOCKER_JSON);
	ck_assert_int_eq(lookup("ghcr.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "octocat:ghp_x");
	ck_assert_int_eq(lookup("bad.example.test", got, sizeof(got)),
			 -ENOENT);
	ck_assert_int_eq(lookup("nocolon.example.test", got, sizeof(got)),
			 -ENOENT);
	/* Another host's entry never answers for a prefix or suffix. */
	ck_assert_int_eq(lookup("ghcr.io.evil.test", got, sizeof(got)),
			 -ENOENT);
	ck_assert_int_eq(lookup("io", got, sizeof(got)), -ENOENT);
}
END_TEST

START_TEST(credentials_broken_file_is_skipped)
{
	char got[256];

	sources("mirrors: [unclosed\n  docker.io: {\n", REGISTRIES, NULL);
	ck_assert_int_eq(lookup("docker.io", got, sizeof(got)), 0);
	ck_assert_str_eq(got, "k3s-user:k3s-pass");
	sources("", "- just\n- a list\n", "{\"auths\": 42}");
	ck_assert_int_eq(lookup("docker.io", got, sizeof(got)), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plugins-common");
	TCase *helpers = tcase_create("helpers");
	TCase *creds = tcase_create("credentials");
	SRunner *sr;
	int failed;

	tcase_add_test(helpers, url_encode);
	tcase_add_test(helpers, query_append);
	tcase_add_test(helpers, base64_and_basic);
	tcase_add_test(helpers, token_parse);
	tcase_add_test(helpers, token_too_long);
	tcase_add_test(helpers, challenge_offers);
	suite_add_tcase(s, helpers);

	tcase_add_checked_fixture(creds, credentials_setup,
				  credentials_teardown);
	tcase_add_test(creds, credentials_none);
	tcase_add_test(creds, credentials_order);
	tcase_add_test(creds, credentials_settings_entry_without_them);
	tcase_add_test(creds, credentials_wildcard_and_exact);
	tcase_add_test(creds, credentials_docker_config);
	tcase_add_test(creds, credentials_broken_file_is_skipped);
	suite_add_tcase(s, creds);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
