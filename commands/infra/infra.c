/*
 * infra.c - "vkdr infra up|start|stop": the mirror daemon in the
 * background, and the k3d cluster that uses it.
 *
 * The daemon is "vkdr mirror serve", run as a fresh process from the same
 * binary: double-forked into its own session, stdin from /dev/null, its
 * log appended to $VKDR_HOME/logs/mirror.log and its pid kept in
 * $VKDR_HOME/run/mirror.pid. Starting and stopping take a lock beside the
 * pid file, so two "vkdr infra up" at once still start one daemon.
 *
 * k3d is optional: where it is not on PATH, the mirrors still run and can
 * serve any other runtime ("vkdr mirror export").
 */
#define _GNU_SOURCE

#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vkdr/module.h>

#define MOD "infra"

#define DEFAULT_CLUSTER "vkdr-local"
#define DEFAULT_TIMEOUT_S 15
#define STOP_TIMEOUT_MS 10000
#define POLL_INTERVAL_MS 200
#define LOG_TAIL_LINES 10

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

enum infra_verb { VERB_UP, VERB_START, VERB_STOP };

struct infra_options {
	const char *listen;
	const char *cluster;
	unsigned timeout_s;
	int n_extra; /* arguments after "--", for k3d */
	char **extra;
};

/* Where the daemon's files live, all under $VKDR_HOME. */
struct infra_paths {
	char run_dir[PATH_MAX];
	char log_dir[PATH_MAX];
	char pid_file[PATH_MAX];
	char lock_file[PATH_MAX];
	char log_file[PATH_MAX];
};

/* What became of one mirror while waiting for the daemon. */
enum mirror_state { MIRROR_WAITING, MIRROR_READY, MIRROR_PORT_TAKEN };

static int infra_paths_init(const struct vkdr_host *host, struct infra_paths *p)
{
	const char *home = host->home();
	int n = 0;

	n |= snprintf(p->run_dir, sizeof(p->run_dir), "%s/run", home) >=
	     (int)sizeof(p->run_dir);
	n |= snprintf(p->log_dir, sizeof(p->log_dir), "%s/logs", home) >=
	     (int)sizeof(p->log_dir);
	n |= snprintf(p->pid_file, sizeof(p->pid_file), "%s/mirror.pid",
		      p->run_dir) >= (int)sizeof(p->pid_file);
	n |= snprintf(p->lock_file, sizeof(p->lock_file), "%s/mirror.lock",
		      p->run_dir) >= (int)sizeof(p->lock_file);
	n |= snprintf(p->log_file, sizeof(p->log_file), "%s/mirror.log",
		      p->log_dir) >= (int)sizeof(p->log_file);
	return n ? -ENAMETOOLONG : 0;
}

/* mkdir -p for a directory below $VKDR_HOME. Returns 0 or -errno. */
static int make_dirs(const char *dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Take the start/stop lock. Returns the locked descriptor (close it to
 * unlock) or a negative errno.
 */
static int lock_run_dir(const struct infra_paths *p)
{
	int fd, rc;

	rc = make_dirs(p->run_dir);
	if (rc < 0)
		return rc;
	fd = open(p->lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	return fd;
}

/*
 * True when PID is a live process (not a zombie) of the vkdr binary
 * running "mirror serve". A pid file can outlive its daemon, and the pid
 * be reused by anything; the command line tells them apart.
 */
static bool is_mirror_daemon(pid_t pid)
{
	char path[64], buf[4096], stat_line[256];
	bool saw_mirror = false;
	const char *base;
	ssize_t n;
	char *close_paren;
	int fd;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;

	/* A killed daemon nobody reaped yet is a zombie: not running. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, stat_line, sizeof(stat_line) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat_line[n] = '\0';
	close_paren = strrchr(stat_line, ')');
	if (!close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' ||
	    close_paren[2] == 'X')
		return false;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';

	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	if (!strstr(base, "vkdr"))
		return false;
	for (const char *arg = buf + strlen(buf) + 1; arg < buf + n;
	     arg += strlen(arg) + 1) {
		if (strcmp(arg, "mirror") == 0)
			saw_mirror = true;
		else if (saw_mirror && strcmp(arg, "serve") == 0)
			return true;
		else if (arg[0] != '-')
			saw_mirror = false;
	}
	return false;
}

/* The pid in the pid file, or 0 when there is none or it is garbage. */
static pid_t read_pid_file(const struct infra_paths *p)
{
	char buf[32];
	ssize_t n;
	long pid;
	char *end;
	int fd;

	fd = open(p->pid_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || pid <= 0 || pid > INT_MAX)
		return 0;
	return (pid_t)pid;
}

static int write_pid_file(const struct infra_paths *p, pid_t pid)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", p->pid_file);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)pid);
	if (fclose(f) != 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, p->pid_file) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* The running daemon's pid, or 0 (a stale pid file is removed). */
static pid_t running_daemon(const struct infra_paths *p)
{
	pid_t pid = read_pid_file(p);

	if (pid && is_mirror_daemon(pid))
		return pid;
	unlink(p->pid_file);
	return 0;
}

/*
 * True when nothing else holds PORT on the listen address: a bind()
 * that fails with EADDRINUSE means another program (or a daemon this pid
 * file does not know about) has it.
 */
static bool port_is_free(const char *listen_addr, unsigned port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	char service[16];
	bool free_port = true;
	int fd, one = 1;

	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(listen_addr, service, &hints, &res) != 0)
		return true;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 &&
		    errno == EADDRINUSE)
			free_port = false;
		close(fd);
	}
	freeaddrinfo(res);
	return free_port;
}

/*
 * The address to probe the daemon on: loopback when it listens on every
 * address, else the one address it listens on.
 */
static const char *probe_address(const char *listen_addr)
{
	if (!listen_addr || !*listen_addr ||
	    strcmp(listen_addr, "0.0.0.0") == 0)
		return "127.0.0.1";
	if (strcmp(listen_addr, "::") == 0)
		return "::1";
	return listen_addr;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

/*
 * One "GET /v2/" to a mirror port. Proxies are bypassed: the daemon is
 * local, and an http_proxy meant for the internet must not answer for it.
 * Returns the HTTP status, or a negative errno when nothing answered.
 */
static long probe_v2(const char *address, unsigned port)
{
	char url[300];
	long status = 0;
	CURLcode cc;
	CURL *curl;

	snprintf(url, sizeof(url),
		 strchr(address, ':') ? "http://[%s]:%u/v2/"
				      : "http://%s:%u/v2/",
		 address, port);
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 500L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	return cc == CURLE_OK ? status : -ECONNREFUSED;
}

/*
 * Start "vkdr mirror serve" in the background and return its pid in
 * *PIDP. The daemon runs in its own session (it outlives the terminal),
 * reads /dev/null and appends both output streams to the log. A pipe
 * that closes on exec reports the daemon's pid from the middle process
 * and, should exec() fail, its errno. Returns 0 or a negative errno.
 */
static int start_daemon(const struct vkdr_host *host,
			const struct infra_paths *p, const char *listen_addr,
			pid_t *pidp)
{
	char exe[PATH_MAX], home[PATH_MAX], listen_arg[300];
	char *argv[6];
	int argc = 0, log_fd, null_fd, pipefd[2], exec_errno = 0, rc = 0;
	pid_t child, daemon_pid = -1;
	ssize_t n;

	/* Resolved now: valgrind, for one, answers for /proc/self/exe. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';

	/* The daemon leaves the working directory: keep $VKDR_HOME valid. */
	if (!realpath(host->home(), home))
		return -errno;
	if (setenv("VKDR_HOME", home, 1) < 0)
		return -errno;

	argv[argc++] = "vkdr";
	if (host->log_enabled(VKDR_LOG_DEBUG))
		argv[argc++] = "--verbose";
	argv[argc++] = "mirror";
	argv[argc++] = "serve";
	if (listen_addr) {
		snprintf(listen_arg, sizeof(listen_arg), "--listen=%s",
			 listen_addr);
		argv[argc++] = listen_arg;
	}
	argv[argc] = NULL;

	rc = make_dirs(p->log_dir);
	if (rc < 0)
		return rc;
	log_fd = open(p->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		      0644);
	if (log_fd < 0)
		return -errno;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0) {
		rc = -errno;
		goto out_close_log;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out_close_null;
	}

	fflush(NULL);
	child = fork();
	if (child < 0) {
		rc = -errno;
		close(pipefd[1]);
		goto out_close_pipe;
	}
	if (child == 0) {
		close(pipefd[0]);
		if (setsid() < 0)
			_exit(127);
		daemon_pid = fork();
		if (daemon_pid == 0) {
			sigset_t none;

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGPIPE, SIG_DFL);
			if (dup2(null_fd, STDIN_FILENO) < 0 ||
			    dup2(log_fd, STDOUT_FILENO) < 0 ||
			    dup2(log_fd, STDERR_FILENO) < 0 || chdir("/") < 0)
				exec_errno = errno;
			else {
				execv(exe, argv);
				exec_errno = errno;
			}
			if (write(pipefd[1], &exec_errno, sizeof(exec_errno)))
				_exit(127);
			_exit(127);
		}
		if (write(pipefd[1], &daemon_pid, sizeof(daemon_pid)) !=
		    sizeof(daemon_pid))
			_exit(127);
		_exit(daemon_pid < 0 ? 127 : 0);
	}

	close(pipefd[1]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	n = read(pipefd[0], &daemon_pid, sizeof(daemon_pid));
	if (n != sizeof(daemon_pid) || daemon_pid <= 0) {
		rc = -ECHILD;
		goto out_close_pipe;
	}
	n = read(pipefd[0], &exec_errno, sizeof(exec_errno));
	if (n == sizeof(exec_errno)) {
		rc = exec_errno ? -exec_errno : -ECHILD;
		goto out_close_pipe;
	}
	*pidp = daemon_pid;

out_close_pipe:
	close(pipefd[0]);
out_close_null:
	close(null_fd);
out_close_log:
	close(log_fd);
	return rc;
}

/* The size of FILE, or 0 when it does not exist yet. */
static off_t file_size(const char *file)
{
	struct stat st;

	return stat(file, &st) == 0 ? st.st_size : 0;
}

/*
 * Print the last lines the daemon wrote to its log since FROM, so that
 * a daemon that exited at once explains itself on the terminal.
 */
static void print_log_tail(const struct infra_paths *p, off_t from)
{
	const char *lines[LOG_TAIL_LINES];
	size_t n_lines = 0, len;
	char *buf, *line, *save = NULL;
	off_t size = file_size(p->log_file);
	FILE *f;

	if (size <= from) {
		fprintf(stderr, "  (%s has nothing new)\n", p->log_file);
		return;
	}
	if (size - from > 65536)
		from = size - 65536;
	len = (size_t)(size - from);
	buf = malloc(len + 1);
	f = fopen(p->log_file, "re");
	if (!buf || !f || fseeko(f, from, SEEK_SET) < 0) {
		free(buf);
		if (f)
			fclose(f);
		return;
	}
	len = fread(buf, 1, len, f);
	buf[len] = '\0';
	fclose(f);

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n_lines == LOG_TAIL_LINES) {
			memmove(lines, lines + 1,
				(LOG_TAIL_LINES - 1) * sizeof(lines[0]));
			n_lines--;
		}
		lines[n_lines++] = line;
	}
	fprintf(stderr, "The last lines of %s:\n", p->log_file);
	for (size_t i = 0; i < n_lines; i++)
		fprintf(stderr, "  %s\n", lines[i]);
	free(buf);
}

/*
 * Poll every mirror's port until each answers "GET /v2/" with 200, the
 * deadline passes or the daemon exits. STATE holds one entry per mirror;
 * those found taken before the start are not probed (whatever answers
 * there is not this daemon). Returns false when the daemon exited.
 */
static bool wait_ready(const struct vkdr_config *cfg, enum mirror_state *state,
		       const char *address, pid_t pid, unsigned timeout_s)
{
	long deadline = now_ms() + (long)timeout_s * 1000L;

	for (;;) {
		bool waiting = false;

		for (size_t i = 0; i < cfg->n_mirrors; i++) {
			if (state[i] != MIRROR_WAITING)
				continue;
			if (probe_v2(address, cfg->mirrors[i].port) == 200)
				state[i] = MIRROR_READY;
			else
				waiting = true;
		}
		if (!waiting)
			return true;
		if (!is_mirror_daemon(pid))
			return false;
		if (now_ms() >= deadline)
			return true;
		sleep_ms(POLL_INTERVAL_MS);
	}
}

/*
 * One line per mirror; returns the number of mirrors not ready. For a
 * mirror that never answered, a second bind() tells "nothing listens
 * there" (the daemon could not take the port: its log says why) from
 * "something listens but does not answer like a mirror".
 */
static size_t report_mirrors(const struct vkdr_config *cfg,
			     const enum mirror_state *state,
			     const char *listen_addr, const char *address,
			     unsigned timeout_s)
{
	size_t not_ready = 0;

	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];

		printf("  %-24s port %-5u ", m->host, m->port);
		switch (state[i]) {
		case MIRROR_READY:
			printf("ready\n");
			break;
		case MIRROR_PORT_TAKEN:
			printf("not ready: port %u is in use by another "
			       "program\n",
			       m->port);
			not_ready++;
			break;
		case MIRROR_WAITING:
			if (port_is_free(listen_addr, m->port))
				printf("not ready: nothing listens on port "
				       "%u; the daemon's log says why\n",
				       m->port);
			else
				printf("not ready: port %u is taken, but GET "
				       "http://%s:%u/v2/ got no 200 within "
				       "%u s\n",
				       m->port, address, m->port, timeout_s);
			not_ready++;
			break;
		}
	}
	return not_ready;
}

/*
 * Make sure the mirror daemon runs and report each mirror. Returns an
 * exit status; *DAEMON_UP says whether a daemon runs afterwards.
 */
static int ensure_daemon(const struct vkdr_host *host,
			 const struct infra_paths *p,
			 const struct vkdr_config *cfg,
			 const struct infra_options *opt, bool *daemon_up)
{
	const char *listen_addr =
		opt->listen ? opt->listen : cfg->settings.listen;
	const char *address = probe_address(listen_addr);
	enum mirror_state *state;
	off_t log_start = file_size(p->log_file);
	int lock_fd, rc, status = EXIT_OK;
	pid_t pid;

	*daemon_up = false;
	state = calloc(cfg->n_mirrors, sizeof(*state));
	if (!state)
		return EXIT_FAIL;

	lock_fd = lock_run_dir(p);
	if (lock_fd < 0) {
		vkdr_log_err(host, MOD, "cannot lock %s: %s", p->lock_file,
			     strerror(-lock_fd));
		status = EXIT_FAIL;
		goto out_free_state;
	}

	pid = running_daemon(p);
	if (pid) {
		/* It may predate a "vkdr mirror add": have it reread. */
		printf("The mirror daemon already runs (pid %ld); not "
		       "starting a second one.\n",
		       (long)pid);
		kill(pid, SIGHUP);
	} else {
		for (size_t i = 0; i < cfg->n_mirrors; i++)
			if (!port_is_free(listen_addr, cfg->mirrors[i].port))
				state[i] = MIRROR_PORT_TAKEN;
		rc = start_daemon(host, p, opt->listen, &pid);
		if (rc == 0)
			rc = write_pid_file(p, pid);
		if (rc < 0) {
			vkdr_log_err(host, MOD,
				     "cannot start the mirror daemon: %s",
				     strerror(-rc));
			status = EXIT_FAIL;
			goto out_unlock;
		}
		printf("Started the mirror daemon (pid %ld), log in %s\n",
		       (long)pid, p->log_file);
	}

	/*
	 * The lock is held while waiting: a second "up" must not send
	 * SIGHUP to a daemon still setting up its signal handlers.
	 */
	if (!wait_ready(cfg, state, address, pid, opt->timeout_s)) {
		fprintf(stderr, "The mirror daemon exited.\n");
		print_log_tail(p, log_start);
		running_daemon(p);
		status = EXIT_FAIL;
		goto out_unlock;
	}
	*daemon_up = true;
	printf("Mirrors:\n");
	if (report_mirrors(cfg, state, listen_addr, address, opt->timeout_s) >
	    0)
		status = EXIT_FAIL;

out_unlock:
	close(lock_fd);
out_free_state:
	free(state);
	return status;
}

/* Look NAME up in $PATH like a shell; true with its path in OUT. */
static bool find_in_path(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (!path || !*path)
		return false;
	copy = strdup(path);
	if (!copy)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (snprintf(out, outlen, "%s/%s", *dir ? dir : ".", name) >=
		    (int)outlen)
			continue;
		found = stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
			access(out, X_OK) == 0;
	}
	free(copy);
	return found;
}

/*
 * Run k3d with ARGV (ARGV[0] is "k3d") in the foreground, its output
 * going to ours. Returns its exit status (128 + signal when killed), or
 * a negative errno when it could not be run.
 */
static int run_k3d(const char *path, char **argv)
{
	pid_t pid;
	int status;

	printf("Running:");
	for (char **a = argv; *a; a++)
		printf(" %s", *a);
	printf("\n");
	fflush(NULL);

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv(path, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* "k3d cluster VERB NAME [ARGS...] [EXTRA...]"; returns an exit status. */
static int k3d_cluster(const struct vkdr_host *host, const char *k3d,
		       const char *verb, const char *name,
		       const char *const *args, size_t n_args,
		       const struct infra_options *opt)
{
	size_t n = 4 + n_args + (size_t)opt->n_extra + 1, i = 0;
	char **argv = calloc(n, sizeof(*argv));
	int rc;

	if (!argv)
		return EXIT_FAIL;
	argv[i++] = "k3d";
	argv[i++] = "cluster";
	argv[i++] = (char *)verb;
	argv[i++] = (char *)name;
	for (size_t j = 0; j < n_args; j++)
		argv[i++] = (char *)args[j];
	for (int j = 0; j < opt->n_extra; j++)
		argv[i++] = opt->extra[j];
	argv[i] = NULL;

	rc = run_k3d(k3d, argv);
	free(argv);
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot run %s: %s", k3d,
			     strerror(-rc));
		return EXIT_FAIL;
	}
	if (rc != 0) {
		vkdr_log_err(host, MOD, "k3d cluster %s failed with status %d",
			     verb, rc);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* "vkdr infra up" and "vkdr infra start". */
static int infra_up(const struct vkdr_host *host, enum infra_verb verb,
		    const struct infra_options *opt)
{
	const char *registry_config = host->registry_config_path();
	struct infra_paths paths;
	struct vkdr_config *cfg;
	char k3d[PATH_MAX], err[512] = "";
	bool daemon_up = false;
	int status = EXIT_OK, k3d_status, rc;

	if (infra_paths_init(host, &paths) < 0) {
		vkdr_log_err(host, MOD, "$VKDR_HOME is too long");
		return EXIT_FAIL;
	}
	rc = host->config_read(&cfg, err, sizeof(err));
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot read the configuration: %s",
			     *err ? err : strerror(-rc));
		return EXIT_FAIL;
	}

	if (cfg->n_mirrors == 0) {
		printf("No mirror is configured, so no mirror daemon is "
		       "started; add one with\n"
		       "  vkdr mirror add --host=docker.io\n");
	} else {
		status = ensure_daemon(host, &paths, cfg, opt, &daemon_up);
		if (!daemon_up)
			goto out_free_config;
	}

	if (!find_in_path("k3d", k3d, sizeof(k3d))) {
		printf("k3d is not on PATH: no cluster was %s. The mirrors "
		       "keep running; with k3d\ninstalled, run:\n  k3d "
		       "cluster %s %s%s%s\n",
		       verb == VERB_UP ? "created" : "started",
		       verb == VERB_UP ? "create" : "start", opt->cluster,
		       verb == VERB_UP ? " --registry-config " : "",
		       verb == VERB_UP ? registry_config : "");
		goto out_free_config;
	}

	if (verb == VERB_UP) {
		const char *args[] = { "--registry-config", registry_config };
		bool have_file = access(registry_config, R_OK) == 0;

		k3d_status = k3d_cluster(host, k3d, "create", opt->cluster,
					 args, have_file ? 2 : 0, opt);
	} else {
		k3d_status = k3d_cluster(host, k3d, "start", opt->cluster, NULL,
					 0, opt);
	}
	if (k3d_status != EXIT_OK)
		status = k3d_status;

out_free_config:
	host->config_free(cfg);
	return status;
}

/*
 * SIGTERM the daemon and wait for it to go; past the deadline, SIGKILL
 * it with a warning. Returns an exit status.
 */
static int stop_daemon(const struct vkdr_host *host,
		       const struct infra_paths *p)
{
	long deadline = now_ms() + STOP_TIMEOUT_MS;
	int lock_fd;
	pid_t pid;

	lock_fd = lock_run_dir(p);
	if (lock_fd < 0) {
		vkdr_log_err(host, MOD, "cannot lock %s: %s", p->lock_file,
			     strerror(-lock_fd));
		return EXIT_FAIL;
	}
	pid = running_daemon(p);
	if (!pid) {
		printf("The mirror daemon is not running.\n");
		close(lock_fd);
		return EXIT_OK;
	}

	kill(pid, SIGTERM);
	while (is_mirror_daemon(pid) && now_ms() < deadline)
		sleep_ms(50);
	if (is_mirror_daemon(pid)) {
		vkdr_log_warn(host, MOD,
			      "the mirror daemon (pid %ld) did not exit "
			      "within %d s of SIGTERM; killing it",
			      (long)pid, STOP_TIMEOUT_MS / 1000);
		kill(pid, SIGKILL);
		deadline = now_ms() + 2000;
		while (is_mirror_daemon(pid) && now_ms() < deadline)
			sleep_ms(50);
	}
	unlink(p->pid_file);
	close(lock_fd);
	printf("Stopped the mirror daemon (pid %ld).\n", (long)pid);
	return EXIT_OK;
}

/* "vkdr infra stop": the cluster first, so no pull hits a dying mirror. */
static int infra_stop(const struct vkdr_host *host,
		      const struct infra_options *opt)
{
	struct infra_paths paths;
	char k3d[PATH_MAX];
	int status = EXIT_OK, daemon_status;

	if (infra_paths_init(host, &paths) < 0) {
		vkdr_log_err(host, MOD, "$VKDR_HOME is too long");
		return EXIT_FAIL;
	}
	if (find_in_path("k3d", k3d, sizeof(k3d)))
		status = k3d_cluster(host, k3d, "stop", opt->cluster, NULL, 0,
				     opt);
	else
		printf("k3d is not on PATH: no cluster to stop.\n");

	daemon_status = stop_daemon(host, &paths);
	return status != EXIT_OK ? status : daemon_status;
}

/* The value of "--NAME=VALUE" when ARG is that option, else NULL. */
static const char *option_value(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

static int parse_options(enum infra_verb verb, int argc, char **argv,
			 struct infra_options *opt)
{
	const char *v;
	char *end;

	memset(opt, 0, sizeof(*opt));
	opt->cluster = DEFAULT_CLUSTER;
	opt->timeout_s = DEFAULT_TIMEOUT_S;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 && verb != VERB_STOP) {
			opt->extra = argv + i + 1;
			opt->n_extra = argc - i - 1;
			break;
		}
		if ((v = option_value(argv[i], "--cluster")) && *v) {
			opt->cluster = v;
		} else if (verb != VERB_STOP &&
			   (v = option_value(argv[i], "--listen")) && *v) {
			opt->listen = v;
		} else if (verb != VERB_STOP &&
			   (v = option_value(argv[i], "--timeout")) && *v) {
			unsigned long t = strtoul(v, &end, 10);

			if (*end || t == 0 || t > 3600) {
				fprintf(stderr, "vkdr: --timeout takes 1 to "
						"3600 seconds\n");
				return -EINVAL;
			}
			opt->timeout_s = (unsigned)t;
		} else {
			fprintf(stderr,
				"vkdr: unknown argument '%s'; run "
				"'vkdr infra %s --help'\n",
				argv[i], argv[0]);
			return -EINVAL;
		}
	}
	return 0;
}

static int run_verb(const struct vkdr_host *host, enum infra_verb verb,
		    int argc, char **argv)
{
	struct infra_options opt;

	if (parse_options(verb, argc, argv, &opt) < 0)
		return EXIT_USAGE;
	if (verb == VERB_STOP)
		return infra_stop(host, &opt);
	return infra_up(host, verb, &opt);
}

static int infra_up_run(const struct vkdr_host *host, int argc, char **argv)
{
	return run_verb(host, VERB_UP, argc, argv);
}

static int infra_start_run(const struct vkdr_host *host, int argc, char **argv)
{
	return run_verb(host, VERB_START, argc, argv);
}

static int infra_stop_run(const struct vkdr_host *host, int argc, char **argv)
{
	return run_verb(host, VERB_STOP, argc, argv);
}

#define UP_OPTIONS                                                             \
	"  --listen=ADDR    address the mirror daemon binds to (default: "     \
	"the\n"                                                                \
	"                   listen setting, else every address)\n"             \
	"  --cluster=NAME   the k3d cluster (default " DEFAULT_CLUSTER ")\n"   \
	"  --timeout=SECS   how long to wait for the mirrors (default 15)\n"   \
	"  -- ARGS...       handed to k3d as they are\n\n"                     \
	"The daemon's log is $VKDR_HOME/logs/mirror.log, its pid is in\n"      \
	"$VKDR_HOME/run/mirror.pid. Without k3d on PATH only the mirrors\n"    \
	"start.\n"

static const struct vkdr_command infra_commands[] = {
	{
		.group = "infra",
		.verb = "up",
		.summary = "start the mirrors and create the k3d cluster",
		.usage = "vkdr infra up [--listen=ADDR] [--cluster=NAME] "
			 "[--timeout=SECS] [-- K3D-ARGS...]",
		.help = "Options:\n" UP_OPTIONS "\nExample:\n"
			"  vkdr infra up -- --agents 2\n",
		.run = infra_up_run,
	},
	{
		.group = "infra",
		.verb = "start",
		.summary = "start the mirrors and the existing k3d cluster",
		.usage = "vkdr infra start [--listen=ADDR] [--cluster=NAME] "
			 "[--timeout=SECS] [-- K3D-ARGS...]",
		.help = "Options:\n" UP_OPTIONS,
		.run = infra_start_run,
	},
	{
		.group = "infra",
		.verb = "stop",
		.summary = "stop the k3d cluster and the mirrors",
		.usage = "vkdr infra stop [--cluster=NAME]",
		.help = "Options:\n"
			"  --cluster=NAME   the k3d cluster "
			"(default " DEFAULT_CLUSTER ")\n\n"
			"The daemon gets SIGTERM, and SIGKILL if it has not "
			"exited 10 s later.\n",
		.run = infra_stop_run,
	},
};

static const struct vkdr_command_ops infra_ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = infra_commands,
	.n_commands = sizeof(infra_commands) / sizeof(infra_commands[0]),
};

static const struct vkdr_module infra_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "infra",
	.version = PACKAGE_VERSION,
	.description = "vkdr infra up/start/stop: the mirror daemon and the "
		       "k3d cluster",
	.ops = &infra_ops,
};

VKDR_MODULE_DEFINE(infra_module);
