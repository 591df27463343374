/*
 * test_infra.c - "vkdr infra up|start|stop" against stand-ins.
 *
 * No k3d and no Docker run here. What is tested:
 *  - k3d: a stand-in shell script named k3d is put first on PATH; it
 *    appends its arguments to a file and exits with $K3D_STATUS. The tests
 *    assert the recorded call, e.g. "cluster create vkdr-local
 *    --registry-config <path>", not that a cluster came up.
 *  - the daemon: infra re-executes its own binary as "vkdr mirror serve".
 *    Here that binary is this test program, whose main() then plays a
 *    minimal daemon: it listens on the ports in $FAKE_SERVE_PORTS, answers
 *    200 to every request, records each start and exits on SIGTERM. So
 *    the tests cover the double fork, the pid file, the readiness polling,
 *    "up twice", "stop" and a daemon that dies at once, but not the real
 *    daemon; test_infra.sh does that.
 * The configuration comes from a replaced config_read.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mockhost.h"

/* ---- The stand-in daemon ---------------------------------------------- */

static volatile sig_atomic_t fake_stop;

static void fake_on_term(int sig)
{
	fake_stop = 1;
}

static int fake_listen(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Record this start in $VKDR_HOME/fake-serve.starts, one line each. */
static void fake_record_start(int argc, char **argv)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/fake-serve.starts",
		 getenv("VKDR_HOME"));
	f = fopen(path, "a");
	if (!f)
		return;
	for (int i = 1; i < argc; i++)
		fprintf(f, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
	fclose(f);
}

static int fake_serve(int argc, char **argv)
{
	const char *ports = getenv("FAKE_SERVE_PORTS");
	struct pollfd fds[8];
	size_t n = 0;
	char *copy, *tok, *save = NULL;

	fake_record_start(argc, argv);
	if (getenv("FAKE_SERVE_FAIL")) {
		fprintf(stderr, "fake serve: cannot listen: %s\n",
			getenv("FAKE_SERVE_FAIL"));
		return 1;
	}
	signal(SIGTERM, fake_on_term);
	/* The real daemon rereads its configuration on SIGHUP. */
	signal(SIGHUP, SIG_IGN);
	copy = strdup(ports ? ports : "");
	for (tok = strtok_r(copy, ",", &save); tok && n < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		fds[n].fd = fake_listen((unsigned)atoi(tok));
		fds[n].events = POLLIN;
		if (fds[n].fd < 0) {
			fprintf(stderr, "fake serve: port %s is taken\n", tok);
			continue;
		}
		n++;
	}
	free(copy);
	fprintf(stderr, "fake serve: listening on %zu ports\n", n);

	while (!fake_stop) {
		if (poll(fds, n, -1) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			static const char reply[] =
			    "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
			    "Connection: close\r\n\r\n{}";
			char buf[1024];
			int c;

			if (!(fds[i].revents & POLLIN))
				continue;
			c = accept(fds[i].fd, NULL, NULL);
			if (c < 0)
				continue;
			if (read(c, buf, sizeof(buf)) > 0 &&
			    write(c, reply, sizeof(reply) - 1) < 0)
				fprintf(stderr, "fake serve: write failed\n");
			close(c);
		}
	}
	fprintf(stderr, "fake serve: stopping\n");
	return 0;
}

/* ---- The test fixture ------------------------------------------------- */

static struct vkdr_mirror mirrors[2];
static size_t n_mirrors;
static struct vkdr_host host;
static char dir[PATH_MAX];	     /* the test's temp dir */
static char record[PATH_MAX + 16];   /* what the stand-in k3d wrote */
static char bin_dir[PATH_MAX + 8];   /* the stand-in k3d lives here */
static char out_file[PATH_MAX + 16]; /* captured stdout */

static int fake_config_read(struct vkdr_config **cfg, char *err, size_t errlen)
{
	*cfg = calloc(1, sizeof(**cfg));
	if (!*cfg)
		return -ENOMEM;
	(*cfg)->mirrors = mirrors;
	(*cfg)->n_mirrors = n_mirrors;
	return 0;
}

static void fake_config_free(struct vkdr_config *cfg)
{
	free(cfg);
}

/* A loopback port nothing listens on right now. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void mkdir_p(const char *path)
{
	char buf[PATH_MAX * 2];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static const struct vkdr_command *infra_command(const char *verb)
{
	const struct vkdr_module *m = mock_load("infra");
	const struct vkdr_command_ops *ops;

	ck_assert_msg(m != NULL, "infra.so did not load");
	ops = m->ops;
	for (size_t i = 0; i < ops->n_commands; i++)
		if (strcmp(ops->commands[i].verb, verb) == 0)
			return &ops->commands[i];
	ck_abort_msg("no command infra %s", verb);
	return NULL;
}

/*
 * Run "vkdr infra VERB ARGS..." (NULL-terminated) with stdout captured
 * into out_file; returns the exit status.
 */
static int run_infra(const char *verb, ...)
{
	char *argv[16] = {(char *)verb};
	int argc = 1, saved, fd, status;
	const char *a;
	va_list ap;

	va_start(ap, verb);
	while (argc < 15 && (a = va_arg(ap, const char *)))
		argv[argc++] = (char *)a;
	va_end(ap);

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	status = infra_command(verb)->run(&host, argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return status;
}

static char *output(void)
{
	return slurp(out_file);
}

static pid_t pid_in_file(void)
{
	char path[PATH_MAX + 32];
	char *text;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/run/mirror.pid", mock_home());
	text = slurp(path);
	pid = (pid_t)atol(text);
	free(text);
	return pid;
}

static size_t daemon_starts(void)
{
	char path[PATH_MAX + 32];
	char *text;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/fake-serve.starts", mock_home());
	text = slurp(path);
	for (char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

static void setup(void)
{
	char ports[64], k3d[PATH_MAX + 16];

	host = *mock_host();
	host.config_read = fake_config_read;
	host.config_free = fake_config_free;

	snprintf(dir, sizeof(dir), "%s/infra-XXXXXX", mock_home());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(record, sizeof(record), "%s/k3d.calls", dir);
	snprintf(out_file, sizeof(out_file), "%s/stdout", dir);
	snprintf(bin_dir, sizeof(bin_dir), "%s/bin", dir);
	ck_assert_int_eq(mkdir(bin_dir, 0755), 0);
	snprintf(k3d, sizeof(k3d), "%s/k3d", bin_dir);
	write_file(k3d,
		   "#!/bin/sh\n"
		   "echo \"$*\" >> \"$K3D_RECORD\"\n"
		   "exit \"${K3D_STATUS:-0}\"\n",
		   0755);
	setenv("K3D_RECORD", record, 1);
	unsetenv("K3D_STATUS");
	unsetenv("FAKE_SERVE_FAIL");
	setenv("PATH", bin_dir, 1);

	/* Without fork mode the tests share one VKDR_HOME. */
	snprintf(k3d, sizeof(k3d), "%s/fake-serve.starts", mock_home());
	unlink(k3d);
	unlink(host.registry_config_path());

	mirrors[0] =
	    (struct vkdr_mirror){.host = "docker.io", .port = free_port()};
	mirrors[1] =
	    (struct vkdr_mirror){.host = "ghcr.io", .port = free_port()};
	n_mirrors = 2;
	snprintf(ports, sizeof(ports), "%u,%u", mirrors[0].port,
		 mirrors[1].port);
	setenv("FAKE_SERVE_PORTS", ports, 1);
}

/* Whatever a test left running is stopped, without k3d. */
static void teardown(void)
{
	setenv("PATH", "/nonexistent", 1);
	run_infra("stop", NULL);
}

/* ---- The tests -------------------------------------------------------- */

START_TEST(up_starts_daemon_and_creates_cluster)
{
	char expected[PATH_MAX * 2];
	char *out, *calls;
	pid_t pid;

	/* k3d gets --registry-config only when the file exists. */
	snprintf(expected, sizeof(expected), "%s/scripts/.util/configs",
		 mock_home());
	mkdir_p(expected);
	write_file(host.registry_config_path(), "mirrors: {}\n", 0644);

	ck_assert_int_eq(
	    run_infra("up", "--listen=127.0.0.1", "--", "--agents", "1", NULL),
	    0);
	out = output();
	ck_assert_msg(strstr(out, "Started the mirror daemon"), "%s", out);
	ck_assert_msg(strstr(out, "docker.io") && strstr(out, "ready"), "%s",
		      out);
	ck_assert_msg(!strstr(out, "not ready"), "%s", out);
	free(out);

	pid = pid_in_file();
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, 0), 0);
	ck_assert_uint_eq(daemon_starts(), 1);

	calls = slurp(record);
	snprintf(expected, sizeof(expected),
		 "cluster create vkdr-local --registry-config %s "
		 "--agents 1\n",
		 host.registry_config_path());
	ck_assert_str_eq(calls, expected);
	free(calls);
}
END_TEST

START_TEST(daemon_gets_listen_and_serve)
{
	char path[PATH_MAX + 32];
	char *starts;

	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 0);
	snprintf(path, sizeof(path), "%s/fake-serve.starts", mock_home());
	starts = slurp(path);
	ck_assert_str_eq(starts, "mirror serve --listen=127.0.0.1\n");
	free(starts);
}
END_TEST

START_TEST(up_twice_starts_one_daemon)
{
	pid_t first;
	char *out;

	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 0);
	first = pid_in_file();
	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 0);
	out = output();
	ck_assert_msg(strstr(out, "already runs"), "%s", out);
	free(out);
	ck_assert_int_eq(pid_in_file(), first);
	ck_assert_uint_eq(daemon_starts(), 1);
}
END_TEST

START_TEST(stop_stops_daemon_and_cluster)
{
	char pid_file[PATH_MAX + 32];
	char *calls;
	pid_t pid;

	ck_assert_int_eq(
	    run_infra("up", "--listen=127.0.0.1", "--cluster=dev", NULL), 0);
	pid = pid_in_file();
	ck_assert_int_gt(pid, 0);

	ck_assert_int_eq(run_infra("stop", "--cluster=dev", NULL), 0);
	snprintf(pid_file, sizeof(pid_file), "%s/run/mirror.pid", mock_home());
	ck_assert(!exists(pid_file));
	calls = slurp(record);
	ck_assert_str_eq(calls, "cluster create dev\ncluster stop dev\n");
	free(calls);

	/* Gone, or at most a zombie nobody has reaped yet. */
	if (kill(pid, 0) == 0) {
		char stat_path[64], *stat;

		snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat",
			 (long)pid);
		stat = slurp(stat_path);
		ck_assert_msg(!*stat || strstr(stat, ") Z"), "%s", stat);
		free(stat);
	}
}
END_TEST

START_TEST(stop_when_not_running)
{
	char *out;

	setenv("PATH", "/nonexistent", 1);
	ck_assert_int_eq(run_infra("stop", NULL), 0);
	out = output();
	ck_assert_msg(strstr(out, "not running"), "%s", out);
	free(out);
}
END_TEST

START_TEST(no_k3d_leaves_mirrors_running)
{
	char *out;

	setenv("PATH", "/nonexistent", 1);
	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 0);
	out = output();
	ck_assert_msg(strstr(out, "k3d is not on PATH"), "%s", out);
	free(out);
	ck_assert_int_eq(kill(pid_in_file(), 0), 0);
	ck_assert(!exists(record));
}
END_TEST

START_TEST(start_starts_cluster)
{
	char *calls;

	ck_assert_int_eq(run_infra("start", "--listen=127.0.0.1", NULL), 0);
	calls = slurp(record);
	ck_assert_str_eq(calls, "cluster start vkdr-local\n");
	free(calls);
}
END_TEST

START_TEST(k3d_failure_is_exit_1)
{
	setenv("K3D_STATUS", "3", 1);
	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 1);
}
END_TEST

START_TEST(port_taken_is_reported)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)mirrors[1].port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char want[64];
	char *out;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);

	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 1);
	out = output();
	snprintf(want, sizeof(want), "port %u is in use", mirrors[1].port);
	ck_assert_msg(strstr(out, want), "%s", out);
	free(out);
	close(fd);
}
END_TEST

START_TEST(port_not_served_is_reported)
{
	char ports[16], want[64];
	char *out;

	/* The stand-in daemon leaves the second mirror's port alone. */
	snprintf(ports, sizeof(ports), "%u", mirrors[0].port);
	setenv("FAKE_SERVE_PORTS", ports, 1);
	ck_assert_int_eq(
	    run_infra("up", "--listen=127.0.0.1", "--timeout=1", NULL), 1);
	out = output();
	snprintf(want, sizeof(want), "nothing listens on port %u",
		 mirrors[1].port);
	ck_assert_msg(strstr(out, want), "%s", out);
	free(out);
}
END_TEST

START_TEST(daemon_that_exits_is_reported)
{
	char pid_file[PATH_MAX + 32];

	setenv("FAKE_SERVE_FAIL", "boom", 1);
	ck_assert_int_eq(run_infra("up", "--listen=127.0.0.1", NULL), 1);
	snprintf(pid_file, sizeof(pid_file), "%s/run/mirror.pid", mock_home());
	ck_assert(!exists(pid_file));
	/* The cluster is not created around a missing mirror daemon. */
	ck_assert(!exists(record));
}
END_TEST

START_TEST(no_mirror_still_creates_cluster)
{
	char *out, *calls;

	n_mirrors = 0;
	ck_assert_int_eq(run_infra("up", NULL), 0);
	out = output();
	ck_assert_msg(strstr(out, "vkdr mirror add"), "%s", out);
	free(out);
	ck_assert_uint_eq(daemon_starts(), 0);
	calls = slurp(record);
	ck_assert_str_eq(calls, "cluster create vkdr-local\n");
	free(calls);
}
END_TEST

START_TEST(usage_errors)
{
	ck_assert_int_eq(run_infra("up", "--bogus", NULL), 2);
	ck_assert_int_eq(run_infra("up", "--timeout=0", NULL), 2);
	ck_assert_int_eq(run_infra("stop", "--listen=1.2.3.4", NULL), 2);
}
END_TEST

static Suite *infra_suite(void)
{
	Suite *s = suite_create("infra");
	TCase *tc = tcase_create("up-start-stop");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, up_starts_daemon_and_creates_cluster);
	tcase_add_test(tc, daemon_gets_listen_and_serve);
	tcase_add_test(tc, up_twice_starts_one_daemon);
	tcase_add_test(tc, stop_stops_daemon_and_cluster);
	tcase_add_test(tc, stop_when_not_running);
	tcase_add_test(tc, no_k3d_leaves_mirrors_running);
	tcase_add_test(tc, start_starts_cluster);
	tcase_add_test(tc, k3d_failure_is_exit_1);
	tcase_add_test(tc, port_taken_is_reported);
	tcase_add_test(tc, port_not_served_is_reported);
	tcase_add_test(tc, daemon_that_exits_is_reported);
	tcase_add_test(tc, no_mirror_still_creates_cluster);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	/* Re-executed by infra as the daemon. */
	if (argc >= 3 && strcmp(argv[1], "mirror") == 0 &&
	    strcmp(argv[2], "serve") == 0)
		return fake_serve(argc, argv);

	sr = srunner_create(infra_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
