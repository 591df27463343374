/*
 * test_mirrorconf.c - the two configuration files: reading, ports,
 * keeping the user's keys, concurrent writers and aborted writes.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mirrorconf.h"
#include "paths.h"
#include "testutil.h"
#include "yamltree.h"

static char err[1024];

/* Add HOST (with PORT, 0 for any) and return the port it got. */
static unsigned add(const char *host, unsigned port)
{
	struct vkdr_mirror_spec spec = { .host = host, .port = port };
	struct vkdr_mirror *m = NULL;
	unsigned got;

	ck_assert_msg(mirrorconf_add(&spec, &m, err, sizeof(err)) == 0,
		      "adding %s: %s", host, err);
	got = m->port;
	mirrorconf_mirror_free(m);
	return got;
}

static struct vkdr_config *read_config(void)
{
	struct vkdr_config *cfg = NULL;

	ck_assert_msg(mirrorconf_read(&cfg, err, sizeof(err)) == 0, "%s",
		      err);
	return cfg;
}

START_TEST(missing_files_are_an_empty_config)
{
	struct vkdr_config *cfg = read_config();

	ck_assert_int_eq(cfg->n_mirrors, 0);
	ck_assert_str_eq(cfg->settings.listen, "0.0.0.0");
	ck_assert_str_eq(cfg->settings.storage, "filesystem");
	ck_assert_uint_eq(cfg->settings.tag_ttl, 60);
	ck_assert_int_eq(cfg->settings.n_storage_options, 0);
	mirrorconf_free(cfg);
	/* Reading creates nothing. */
	ck_assert_int_eq(access(paths_registry_config(), F_OK), -1);
}
END_TEST

START_TEST(ports_count_up_from_6000)
{
	struct vkdr_mirror_spec spec = { .host = "b.example.com" };
	struct vkdr_mirror *m = NULL;
	struct vkdr_config *cfg;

	ck_assert_uint_eq(add("a.example.com", 0), 6000);
	ck_assert_uint_eq(add("b.example.com", 0), 6001);
	ck_assert_uint_eq(add("c.example.com", 7000), 7000);
	ck_assert_uint_eq(add("d.example.com", 0), 7001);
	ck_assert_uint_eq(add("e.example.com", 6500), 6500);
	ck_assert_uint_eq(add("f.example.com", 0), 7002);

	/* Already there: -EEXIST, with the existing entry described. */
	ck_assert_int_eq(mirrorconf_add(&spec, &m, err, sizeof(err)),
			 -EEXIST);
	ck_assert_uint_eq(m->port, 6001);
	ck_assert_str_eq(m->endpoint, "http://host.k3d.internal:6001");
	mirrorconf_mirror_free(m);

	/* A port in use is an error that names its owner. */
	spec.host = "g.example.com";
	spec.port = 7000;
	ck_assert_int_eq(mirrorconf_add(&spec, &m, err, sizeof(err)),
			 -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, "c.example.com"));

	cfg = read_config();
	ck_assert_int_eq(cfg->n_mirrors, 6);
	ck_assert_str_eq(cfg->mirrors[2].host, "c.example.com");
	ck_assert_uint_eq(cfg->mirrors[2].port, 7000);
	mirrorconf_free(cfg);
}
END_TEST

START_TEST(highest_port_in_a_user_file)
{
	test_write_file(paths_registry_config(),
			"mirrors:\n"
			"  mine.example.com:\n"
			"    endpoint:\n"
			"      - http://host.k3d.internal:6042/v2\n"
			"  remote.example.com:\n"
			"    endpoint: [https://cache.example.com]\n");
	ck_assert_uint_eq(add("new.example.com", 0), 6043);
}
END_TEST

static const char user_file[] =
	"mirrors:\n"
	"  docker.io:\n"
	"    endpoint:\n"
	"    - http://host.k3d.internal:6000\n"
	"    rewrite:\n"
	"      ^rancher/(.*): mirror/rancher-images/$1\n"
	"configs:\n"
	"  registry.example.com:\n"
	"    auth:\n"
	"      username: u\n"
	"      password: p\n"
	"    tls:\n"
	"      insecure_skip_verify: true\n"
	"x-team-notes: keep me\n";

START_TEST(add_and_remove_keep_every_other_key)
{
	struct yt_node *before, *after, *configs;
	char *expected, *text;
	size_t len;
	FILE *f;

	test_write_file(paths_registry_config(), user_file);
	ck_assert_uint_eq(add("ghcr.io", 0), 6001);

	ck_assert_int_eq(yt_parse_file(paths_registry_config(), &after, err,
				       sizeof(err)),
			 0);
	configs = yt_map_get(after, "configs");
	ck_assert_str_eq(yt_scalar(yt_map_get(
				 yt_map_get(yt_map_get(configs,
						       "registry.example.com"),
					    "auth"),
				 "username")),
			 "u");
	ck_assert_str_eq(yt_scalar(yt_map_get(after, "x-team-notes")),
			 "keep me");
	ck_assert_ptr_nonnull(yt_map_get(
		yt_map_get(yt_map_get(after, "mirrors"), "docker.io"),
		"rewrite"));
	yt_free(after);

	/* Removing it again gives the user's file back, as vkdr writes it. */
	ck_assert_int_eq(mirrorconf_remove("ghcr.io", err, sizeof(err)), 0);
	ck_assert_int_eq(yt_parse_buffer(user_file, strlen(user_file), "u",
					 &before, err, sizeof(err)),
			 0);
	f = open_memstream(&expected, &len);
	ck_assert_int_eq(yt_emit(before, f), 0);
	fclose(f);
	yt_free(before);
	text = test_read_file(paths_registry_config());
	ck_assert_str_eq(text, expected);
	free(text);
	free(expected);

	ck_assert_int_eq(mirrorconf_remove("ghcr.io", err, sizeof(err)),
			 -ENOENT);
}
END_TEST

START_TEST(upstream_goes_to_the_settings_file)
{
	struct vkdr_mirror_spec spec = {
		.host = "quay.io",
		.upstream = "http://127.0.0.1:5000",
	};
	struct vkdr_mirror *m = NULL;
	struct vkdr_config *cfg;
	struct stat st;
	char *text;

	ck_assert_int_eq(mirrorconf_add(&spec, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(m->upstream, "http://127.0.0.1:5000");
	mirrorconf_mirror_free(m);

	text = test_read_file(paths_registry_config());
	ck_assert_ptr_null(strstr(text, "upstream"));
	free(text);
	ck_assert_int_eq(stat(paths_registry_config(), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(stat(paths_settings(), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	cfg = read_config();
	ck_assert_str_eq(cfg->mirrors[0].upstream, "http://127.0.0.1:5000");
	mirrorconf_free(cfg);

	ck_assert_int_eq(mirrorconf_remove("quay.io", err, sizeof(err)), 0);
	text = test_read_file(paths_settings());
	ck_assert_ptr_null(strstr(text, "quay.io"));
	free(text);

	spec.upstream = "ftp://x";
	ck_assert_int_eq(mirrorconf_add(&spec, &m, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a URL"));
}
END_TEST

START_TEST(settings_and_credentials_are_read)
{
	struct vkdr_config *cfg;

	test_write_file(paths_registry_config(),
			"mirrors:\n  ghcr.io:\n    endpoint:\n"
			"    - http://host.k3d.internal:6003\n");
	test_write_file(paths_settings(),
			"listen: 127.0.0.1\n"
			"tag-ttl: 300\n"
			"storage: tmpfs\n"
			"storage-options:\n"
			"  path: /var/cache/x\n"
			"  max-size: 20GiB\n"
			"mirrors:\n"
			"  ghcr.io:\n"
			"    username: me\n"
			"    password: secret\n");
	cfg = read_config();
	ck_assert_str_eq(cfg->settings.listen, "127.0.0.1");
	ck_assert_uint_eq(cfg->settings.tag_ttl, 300);
	ck_assert_str_eq(cfg->settings.storage, "tmpfs");
	ck_assert_int_eq(cfg->settings.n_storage_options, 2);
	ck_assert_str_eq(cfg->settings.storage_options[1].key, "max-size");
	ck_assert_str_eq(cfg->settings.storage_options[1].value, "20GiB");
	ck_assert_int_eq(cfg->n_mirrors, 1);
	ck_assert_uint_eq(cfg->mirrors[0].port, 6003);
	ck_assert_str_eq(cfg->mirrors[0].username, "me");
	ck_assert_str_eq(cfg->mirrors[0].password, "secret");
	ck_assert_ptr_null(cfg->mirrors[0].upstream);
	mirrorconf_free(cfg);
}
END_TEST

START_TEST(setting_set_validates)
{
	struct vkdr_config *cfg;

	ck_assert_int_eq(mirrorconf_setting_set("tag-ttl", "120", err,
						sizeof(err)),
			 0);
	ck_assert_int_eq(mirrorconf_setting_set("listen", "::1", err,
						sizeof(err)),
			 0);
	ck_assert_int_eq(mirrorconf_setting_set("storage-options.max-size",
						"20GiB", err, sizeof(err)),
			 0);
	ck_assert_int_eq(mirrorconf_setting_set("tag-ttl", "2m", err,
						sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(mirrorconf_setting_set("listen", "everywhere", err,
						sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(mirrorconf_setting_set("storage", "Bad Name", err,
						sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(mirrorconf_setting_set("colour", "blue", err,
						sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "storage-options.KEY"));
	ck_assert_int_eq(mirrorconf_setting_set("storage-options.", "x", err,
						sizeof(err)),
			 -EINVAL);

	cfg = read_config();
	ck_assert_uint_eq(cfg->settings.tag_ttl, 120);
	ck_assert_str_eq(cfg->settings.listen, "::1");
	ck_assert_str_eq(cfg->settings.storage_options[0].value, "20GiB");
	mirrorconf_free(cfg);

	/* NULL brings the default back. */
	ck_assert_int_eq(mirrorconf_setting_set("tag-ttl", NULL, err,
						sizeof(err)),
			 0);
	cfg = read_config();
	ck_assert_uint_eq(cfg->settings.tag_ttl, 60);
	mirrorconf_free(cfg);
}
END_TEST

START_TEST(malformed_yaml_is_reported_and_kept)
{
	static const char bad[] = "mirrors:\n  a: [1, 2\n";
	struct vkdr_mirror_spec spec = { .host = "x.example.com" };
	struct vkdr_mirror *m = NULL;
	struct vkdr_config *cfg = NULL;
	char *text, expected[512];

	test_write_file(paths_registry_config(), bad);
	ck_assert_int_eq(mirrorconf_read(&cfg, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s:3:1: ",
		 paths_registry_config());
	ck_assert_msg(strncmp(err, expected, strlen(expected)) == 0,
		      "got '%s'", err);

	ck_assert_int_eq(mirrorconf_add(&spec, &m, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(mirrorconf_setting_set("tag-ttl", "5", err,
						sizeof(err)),
			 -EINVAL);
	text = test_read_file(paths_registry_config());
	ck_assert_str_eq(text, bad);
	free(text);
	ck_assert_int_eq(access(paths_settings(), F_OK), -1);
}
END_TEST

START_TEST(wrong_shapes_are_reported_with_position)
{
	struct vkdr_config *cfg = NULL;

	test_write_file(paths_registry_config(), "mirrors:\n  - a\n");
	ck_assert_int_eq(mirrorconf_read(&cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, ":2:3: 'mirrors' must be a mapping"),
		      "got '%s'", err);

	test_write_file(paths_registry_config(), "");
	test_write_file(paths_settings(), "tag-ttl: soon\n");
	ck_assert_int_eq(mirrorconf_read(&cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, ":1:10: 'tag-ttl'"), "got '%s'", err);
}
END_TEST

/*
 * Twenty processes add a mirror each at the same moment; the lock must
 * serialise them so none is lost and no port is handed out twice.
 */
START_TEST(concurrent_writers_lose_nothing)
{
	enum { WRITERS = 20 };
	struct vkdr_config *cfg;
	pid_t pids[WRITERS];
	int go[2];
	bool seen[WRITERS] = { false };

	ck_assert_int_eq(pipe(go), 0);
	for (int i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct vkdr_mirror_spec spec = { 0 };
			struct vkdr_mirror *m = NULL;
			char host[64], c;
			int rc;

			close(go[1]);
			/* Wait until every writer exists. */
			if (read(go[0], &c, 1) < 0)
				_exit(3);
			snprintf(host, sizeof(host), "r%d.example.com", i);
			spec.host = host;
			rc = mirrorconf_add(&spec, &m, err, sizeof(err));
			mirrorconf_mirror_free(m);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < WRITERS; i++) {
		int status;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	cfg = read_config();
	ck_assert_int_eq(cfg->n_mirrors, WRITERS);
	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		unsigned p = cfg->mirrors[i].port;

		ck_assert_uint_ge(p, 6000);
		ck_assert_uint_lt(p, 6000 + WRITERS);
		ck_assert_msg(!seen[p - 6000], "port %u twice", p);
		seen[p - 6000] = true;
	}
	mirrorconf_free(cfg);
}
END_TEST

static bool leftover_temp_files(void)
{
	char dir[4096];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", paths_registry_config());
	*strrchr(dir, '/') = '\0';
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp-"))
			found = true;
	closedir(d);
	return found;
}

/*
 * A write that fails half way (here: the file size limit, which works
 * even for root) must leave the old file in place and no temp file.
 */
START_TEST(aborted_write_keeps_the_old_file)
{
	struct vkdr_mirror_spec spec = { .host = "late.example.com" };
	struct vkdr_mirror *m = NULL;
	struct rlimit old, tiny;
	char *before, *after;
	int rc;

	add("a.example.com", 0);
	add("b.example.com", 0);
	add("c.example.com", 0);
	before = test_read_file(paths_registry_config());

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	tiny = old;
	tiny.rlim_cur = 64;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &tiny), 0);
	rc = mirrorconf_add(&spec, &m, err, sizeof(err));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	ck_assert_int_eq(rc, -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "left as it was"));
	after = test_read_file(paths_registry_config());
	ck_assert_str_eq(after, before);
	ck_assert(!leftover_temp_files());
	free(before);
	free(after);
}
END_TEST

START_TEST(bad_hosts_are_refused)
{
	struct vkdr_mirror_spec spec = { .host = "https://ghcr.io/" };
	struct vkdr_mirror *m = NULL;

	ck_assert_int_eq(mirrorconf_add(&spec, &m, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(access(paths_registry_config(), F_OK), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mirrorconf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, test_home_create, test_home_remove);
	tcase_add_test(tc, missing_files_are_an_empty_config);
	tcase_add_test(tc, ports_count_up_from_6000);
	tcase_add_test(tc, highest_port_in_a_user_file);
	tcase_add_test(tc, add_and_remove_keep_every_other_key);
	tcase_add_test(tc, upstream_goes_to_the_settings_file);
	tcase_add_test(tc, settings_and_credentials_are_read);
	tcase_add_test(tc, setting_set_validates);
	tcase_add_test(tc, malformed_yaml_is_reported_and_kept);
	tcase_add_test(tc, wrong_shapes_are_reported_with_position);
	tcase_add_test(tc, concurrent_writers_lose_nothing);
	tcase_add_test(tc, aborted_write_keeps_the_old_file);
	tcase_add_test(tc, bad_hosts_are_refused);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
