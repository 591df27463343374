/*
 * server.c - listeners, request bookkeeping, signals.
 *
 * Every configured port gets its own libmicrohttpd daemon running a
 * thread per connection: a request may wait for an upstream fetch shared
 * with others, and a blocked thread is the simplest way to wait. Signals
 * are taken synchronously by the main thread with sigtimedwait(), which
 * also wakes it every few seconds to notice a configuration file changed
 * by "vkdr mirror add" (a reload, as for SIGHUP) and to trim the store.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inflight.h"
#include "routes.h"
#include "server.h"
#include "upstream.h"

#define TICK_S 2
#define TRIM_EVERY_TICKS 5
#define DRAIN_SECONDS 10
#define IDLE_TIMEOUT_S 300
/* Descriptors a connection may hold: its socket, a store object, a spool. */
#define FDS_PER_CONNECTION 3
#define FDS_SPARE 256

struct listener {
	struct listener *next;
	struct daemon *d;
	unsigned port;
	struct MHD_Daemon *mhd;
};

/* ---- Configuration snapshots ----------------------------------------- */

struct snapshot *snapshot_get(struct daemon *d)
{
	struct snapshot *s;

	pthread_mutex_lock(&d->snap_lock);
	s = d->snap;
	s->refs++;
	pthread_mutex_unlock(&d->snap_lock);
	return s;
}

static void snapshot_free(struct daemon *d, struct snapshot *s)
{
	if (s->cfg)
		d->host->config_free(s->cfg);
	free(s->mirrors);
	free(s);
}

void snapshot_put(struct daemon *d, struct snapshot *s)
{
	int left;

	pthread_mutex_lock(&d->snap_lock);
	left = --s->refs;
	pthread_mutex_unlock(&d->snap_lock);
	if (left == 0)
		snapshot_free(d, s);
}

int snapshot_load(struct daemon *d, struct snapshot **out, char *err,
		  size_t errlen)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	const struct vkdr_settings *set;
	size_t n = 0;
	int rc;

	if (!s)
		return -ENOMEM;
	s->refs = 1;
	rc = d->host->config_read(&s->cfg, err, errlen);
	if (rc < 0) {
		free(s);
		return rc;
	}
	set = &s->cfg->settings;
	s->mirrors = calloc(s->cfg->n_mirrors + d->n_extra_mirrors + 1,
			    sizeof(*s->mirrors));
	if (!s->mirrors) {
		snapshot_free(d, s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cfg->n_mirrors; i++)
		s->mirrors[n++] = &s->cfg->mirrors[i];
	for (size_t i = 0; i < d->n_extra_mirrors; i++)
		s->mirrors[n++] = &d->extra_mirrors[i];
	s->n_mirrors = n;

	s->tag_ttl = d->tag_ttl_override ? d->tag_ttl_override
		     : set->tag_ttl	 ? set->tag_ttl
					 : DEFAULT_TAG_TTL;
	snprintf(s->listen, sizeof(s->listen), "%s",
		 d->listen_override ? d->listen_override
		 : set->listen && *set->listen ? set->listen
					       : DEFAULT_LISTEN);
	*out = s;
	return 0;
}

/* ---- Requests -------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct listener *l = cls;
	struct request *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->d = l->d;
	r->port = l->port;
	r->refs = 1;
	r->target = strdup(uri);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	if (!r->target) {
		free(r);
		return NULL;
	}
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct request *r = *req_cls;

	if (!r)
		return MHD_NO;
	/*
	 * Answer only once the whole request has been read: MHD closes a
	 * connection whose response was queued earlier, and a client that
	 * pulls a hundred blobs wants to keep its connection.
	 */
	if (!r->seen) {
		r->seen = true;
		return MHD_YES;
	}
	if (*upload_size) {
		/* A body nobody asked for (a push): swallow it. */
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->handled)
		return MHD_YES;
	r->handled = true;
	snprintf(r->method, sizeof(r->method), "%s", method);
	return routes_handle(r, conn);
}

/* The target as it may appear in a log line: printable, bounded. */
static void loggable(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	for (; in && *in && i + 1 < outlen; in++)
		out[i++] = (*in > ' ' && *in < 127) ? *in : '?';
	out[i] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *r = *req_cls;
	struct daemon *d;
	struct timespec end;
	char target[512];
	long ms;

	if (!r)
		return;
	*req_cls = NULL;
	d = r->d;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->fd_bytes)
		r->bytes = r->fd_bytes;
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (long)((end.tv_sec - r->start.tv_sec) * 1000 +
		    (end.tv_nsec - r->start.tv_nsec) / 1000000);
	loggable(r->target, target, sizeof(target));

	metrics_add(&d->metrics.requests[r->outcome], 1);
	metrics_add(&d->metrics.bytes_served, r->bytes);
	if (r->status >= 400 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		metrics_add(&d->metrics.errors, 1);
	vkdr_log_info(d->host, MOD,
		      "%s %s %u %" PRIu64 " %s upstream=%ldms total=%ldms%s",
		      r->method[0] ? r->method : "-", target, r->status,
		      r->bytes, outcome_name(r->outcome), r->upstream_ms, ms,
		      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
								 : " aborted");
	request_put(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct daemon *d = cls;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	vkdr_log_debug(d->host, MOD, "http: %s", line);
}

/* ---- Listeners ------------------------------------------------------- */

static int listener_start(struct daemon *d, const char *addr, unsigned port,
			  struct listener **out)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
	};
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct addrinfo *ai;
	struct listener *l;
	char service[16];
	int rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(addr, service, &hints, &ai);
	if (rc != 0) {
		vkdr_log_err(d->host, MOD,
			     "listen address %s: %s (use a numeric address)",
			     addr, gai_strerror(rc));
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	l->d = d;
	l->port = port;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	l->mhd = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, on_request, l,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, d->max_connections,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d,
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!l->mhd) {
		vkdr_log_err(d->host, MOD,
			     "cannot listen on %s port %u (in use, or not "
			     "allowed?)",
			     addr, port);
		free(l);
		return -EADDRINUSE;
	}
	vkdr_log_info(d->host, MOD, "listening on %s port %u", addr, port);
	*out = l;
	return 0;
}

static unsigned active_connections(struct listener *l)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(l->mhd,
				   MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

/*
 * Stop accepting, give the connections in progress DRAIN seconds, then
 * stop the daemon (which waits for its connection threads).
 */
static void listener_stop(struct listener *l, int drain)
{
	MHD_socket fd = MHD_quiesce_daemon(l->mhd);

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	for (int i = 0; i < drain * 10 && active_connections(l) > 0; i++)
		usleep(100000);
	MHD_stop_daemon(l->mhd);
	free(l);
}

static bool port_wanted(const struct snapshot *s, unsigned port)
{
	for (size_t i = 0; i < s->n_mirrors; i++)
		if (s->mirrors[i]->port == port)
			return true;
	return false;
}

static bool port_open(struct listener *list, unsigned port)
{
	for (; list; list = list->next)
		if (list->port == port)
			return true;
	return false;
}

/*
 * Raise the soft limit on open files so that N_PORTS full ports cannot run
 * the daemon out of descriptors. Out of descriptors, whatever needs one
 * next fails (a store read, a spool file, an upstream connection), while a
 * full port only refuses new clients. Only the soft limit is raised, up to
 * the hard one; a hard limit too low for the configured connections is
 * reported once.
 */
static void fit_fd_limit(struct daemon *d, size_t n_ports)
{
	static rlim_t reported;
	rlim_t want = (rlim_t)n_ports * d->max_connections *
			      FDS_PER_CONNECTION +
		      FDS_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
			      want :
			      rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= want || reported == want)
		return;
	reported = want;
	vkdr_log_warn(d->host, MOD,
		      "open file limit %llu is below the %llu that %zu port(s) "
		      "of %u connections may need: raise 'ulimit -n' or "
		      "lower --max-connections",
		      (unsigned long long)rl.rlim_cur,
		      (unsigned long long)want, n_ports, d->max_connections);
}

/* Open the listeners S wants that LIST lacks. Returns how many are open. */
static int open_wanted(struct daemon *d, const struct snapshot *s,
		       struct listener **list)
{
	int open = 0;

	fit_fd_limit(d, s->n_mirrors);
	for (size_t i = 0; i < s->n_mirrors; i++) {
		const struct vkdr_mirror *m = s->mirrors[i];
		struct listener *l;

		if (m->port == 0 || m->port > 65535) {
			vkdr_log_warn(d->host, MOD,
				      "mirror %s has no usable port in its "
				      "endpoint %s; skipped",
				      m->host, m->endpoint ? m->endpoint : "");
			continue;
		}
		if (port_open(*list, m->port))
			continue;
		if (listener_start(d, s->listen, m->port, &l) == 0) {
			l->next = *list;
			*list = l;
		}
	}
	for (struct listener *l = *list; l; l = l->next)
		open++;
	return open;
}

static void reload(struct daemon *d, struct listener **list)
{
	struct snapshot *s, *old;
	struct listener **p;
	char err[512] = "";
	int rc;

	rc = snapshot_load(d, &s, err, sizeof(err));
	if (rc < 0) {
		vkdr_log_err(d->host, MOD,
			     "reload failed, keeping the old configuration: %s",
			     err[0] ? err : strerror(-rc));
		return;
	}
	pthread_mutex_lock(&d->snap_lock);
	old = d->snap;
	d->snap = s;
	pthread_mutex_unlock(&d->snap_lock);
	if (strcmp(old->listen, s->listen) != 0)
		vkdr_log_warn(d->host, MOD,
			      "listen address changed to %s: only new ports "
			      "use it until a restart",
			      s->listen);

	for (p = list; *p;) {
		struct listener *l = *p;

		if (port_wanted(s, l->port)) {
			p = &l->next;
			continue;
		}
		*p = l->next;
		vkdr_log_info(d->host, MOD, "closing port %u", l->port);
		listener_stop(l, DRAIN_SECONDS);
	}
	open_wanted(d, s, list);
	vkdr_log_info(d->host, MOD,
		      "configuration reloaded: %zu mirror(s), tag TTL %us",
		      s->n_mirrors, s->tag_ttl);
	snapshot_put(d, old);
}

static void maybe_trim(struct daemon *d)
{
	int64_t freed;

	if (!d->store->trim || !d->max_bytes ||
	    __atomic_exchange_n(&d->commits_since_trim, 0,
				__ATOMIC_RELAXED) == 0)
		return;
	freed = d->store->trim(d->store_state, d->max_bytes);
	if (freed < 0)
		vkdr_log_warn(d->host, MOD, "trimming the store failed: %s",
			      strerror((int)-freed));
	else if (freed > 0)
		vkdr_log_info(d->host, MOD,
			      "store trimmed: %" PRId64 " bytes freed", freed);
}

/* What tells that a configuration file changed on disk. */
struct file_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static void stamp_files(struct daemon *d, struct file_stamp stamps[2])
{
	const char *paths[2] = { d->host->registry_config_path(),
				 d->host->settings_path() };
	struct stat st;

	memset(stamps, 0, 2 * sizeof(*stamps));
	for (int i = 0; i < 2; i++) {
		if (stat(paths[i], &st) < 0)
			continue;
		stamps[i].dev = st.st_dev;
		stamps[i].ino = st.st_ino;
		stamps[i].size = st.st_size;
		stamps[i].mtime = st.st_mtim;
	}
}

/*
 * True when a configuration file changed since STAMPS, which are then
 * updated. "vkdr mirror add" writes the files with a rename, so a change
 * shows as a new inode as well as a new mtime.
 */
static bool files_changed(struct daemon *d, struct file_stamp stamps[2])
{
	struct file_stamp now[2];
	bool changed;

	stamp_files(d, now);
	changed = memcmp(now, stamps, sizeof(now)) != 0;
	memcpy(stamps, now, sizeof(now));
	return changed;
}

int server_run(struct daemon *d)
{
	struct file_stamp stamps[2];
	unsigned ticks = 0;
	struct listener *list = NULL, *l;
	struct snapshot *s = snapshot_get(d);
	struct timespec wait = { .tv_sec = TICK_S };
	sigset_t set;
	int sig;

	if (s->n_mirrors == 0)
		vkdr_log_warn(d->host, MOD,
			      "no mirror is configured: add one with 'vkdr "
			      "mirror add', then send SIGHUP");
	stamp_files(d, stamps);
	open_wanted(d, s, &list);
	snapshot_put(d, s);
	if (!list && d->snap->n_mirrors > 0)
		return -EADDRINUSE;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &wait);
		if (sig == SIGHUP) {
			vkdr_log_info(d->host, MOD,
				      "SIGHUP: reloading the configuration");
			files_changed(d, stamps);
			reload(d, &list);
		} else if (sig == SIGINT || sig == SIGTERM) {
			break;
		} else if (files_changed(d, stamps)) {
			vkdr_log_info(d->host, MOD,
				      "configuration changed on disk: "
				      "reloading it");
			reload(d, &list);
		}
		if (++ticks % TRIM_EVERY_TICKS == 0)
			maybe_trim(d);
	}

	vkdr_log_info(d->host, MOD, "stopping: draining connections");
	for (l = list; l; l = l->next) {
		MHD_socket fd = MHD_quiesce_daemon(l->mhd);

		if (fd != MHD_INVALID_SOCKET)
			close(fd);
	}
	for (int i = 0; i < DRAIN_SECONDS * 10; i++) {
		unsigned active = 0;

		for (l = list; l; l = l->next)
			active += active_connections(l);
		if (active == 0)
			break;
		usleep(100000);
	}
	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	upstream_cancel_all(d->upstream);
	fetch_table_wake(d->fetches);
	while ((l = list)) {
		list = l->next;
		MHD_stop_daemon(l->mhd);
		free(l);
	}
	pthread_mutex_lock(&d->threads_lock);
	while (d->fetch_threads > 0)
		pthread_cond_wait(&d->threads_cond, &d->threads_lock);
	pthread_mutex_unlock(&d->threads_lock);
	maybe_trim(d);
	vkdr_log_info(d->host, MOD, "stopped");
	return 0;
}
