/*
 * status.c - "vkdr mirror status": is every configured mirror answering,
 * can its upstream be reached, and what has the daemon done so far.
 *
 * Everything is asked the way a client would ask it, through the host's
 * HTTP client: GET /v2/ on each mirror port says whether the port is
 * served, GET UPSTREAM/v2/ whether the upstream answers at all (a 401 is
 * an answer), and GET /metrics on the first port that answered gives the
 * daemon's counters. The cache size comes from the metrics when the daemon
 * reports it, else from the storage backend read directly. Nothing here
 * changes any state: the store is opened without its max-size so that
 * opening it never trims.
 *
 * The requests run one after the other in a fixed order (every mirror
 * port, then /metrics, then every upstream) so that the unit tests can
 * script the answers.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vkdr/module.h>

#define MOD "status"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* A mirror port on this machine answers at once or not at all. */
#define LOCAL_TIMEOUT_MS 1000
/* An upstream is across the network; a slow one still counts. */
#define UPSTREAM_TIMEOUT_MS 3000

#define DEFAULT_STORAGE "filesystem"
#define URL_BUF 600
#define MAX_STORE_OPTIONS 32

/* The cache outcomes the daemon counts, as its metrics label them. */
enum outcome {
	OUTCOME_HIT,
	OUTCOME_MISS,
	OUTCOME_COALESCED,
	OUTCOME_STALE,
	OUTCOME_REVALIDATED,
	OUTCOME_BYPASS,
	OUTCOME_OTHER,
	OUTCOME_COUNT,
};

static const char *const outcome_labels[OUTCOME_OTHER] = {
	[OUTCOME_HIT] = "hit",
	[OUTCOME_MISS] = "miss",
	[OUTCOME_COALESCED] = "coalesced",
	[OUTCOME_STALE] = "stale",
	[OUTCOME_REVALIDATED] = "revalidated",
	[OUTCOME_BYPASS] = "bypass",
};

/* What was found out about one mirror. */
struct mirror_status {
	const struct vkdr_mirror *m;
	bool listening;
	bool has_upstream; /* UPSTREAM is known */
	char upstream[URL_BUF];
	bool reachable;
	long upstream_status;	  /* the HTTP status it answered, or 0 */
	int64_t budget_remaining; /* -1: not reported */
	int64_t budget_limit;	  /* -1: not reported */
};

/* What was found out about the daemon and its cache. */
struct daemon_status {
	bool running;  /* some mirror port answered */
	unsigned port; /* the port /metrics was read from */
	bool have_metrics;
	uint64_t requests[OUTCOME_COUNT];
	uint64_t bytes_served;
	uint64_t upstream_bytes;
	bool have_bytes_by_outcome;
	uint64_t bytes_by_outcome[OUTCOME_COUNT];

	const char *storage;  /* backend name */
	const char *max_size; /* the max-size option as written, or NULL */
	bool have_cache;
	const char *cache_source; /* "metrics" or "store" */
	uint64_t cache_bytes;
	uint64_t cache_objects;
};

struct status {
	const struct vkdr_host *host;
	struct vkdr_config *cfg;
	struct mirror_status *mirrors;
	size_t n_mirrors;
	struct daemon_status daemon;
};

/* ------------------------------------------------------------------------
 * Asking over HTTP
 */

/*
 * GET URL. Returns 0 when any HTTP answer came, with its status in
 * *STATUS and, when BODY is non-NULL, the body in *BODY (free with
 * host->free()); a negative errno when none came.
 */
static int http_get(const struct vkdr_host *host, const char *url,
		    long timeout_ms, long *status, char **body)
{
	struct vkdr_http_request req = {
		.method = "GET",
		.url = url,
		.timeout_ms = timeout_ms,
	};
	struct vkdr_http_response resp = { 0 };
	int rc;

	rc = host->http(&req, &resp);
	if (rc < 0) {
		vkdr_log_debug(host, MOD, "GET %s: %s", url, strerror(-rc));
		return rc;
	}
	vkdr_log_debug(host, MOD, "GET %s: %ld", url, resp.status);
	*status = resp.status;
	if (body)
		*body = resp.body;
	else
		host->free(resp.body);
	host->free(resp.headers);
	return 0;
}

/*
 * The address to reach the daemon on: its listen address, except that
 * the wildcard addresses are reached through loopback. An IPv6 address
 * gets the brackets a URL needs.
 */
static void daemon_address(const char *listen, char *out, size_t outlen)
{
	if (!listen || !*listen || strcmp(listen, "0.0.0.0") == 0)
		snprintf(out, outlen, "127.0.0.1");
	else if (strcmp(listen, "::") == 0 || strcmp(listen, "[::]") == 0)
		snprintf(out, outlen, "[::1]");
	else if (strchr(listen, ':') && listen[0] != '[')
		snprintf(out, outlen, "[%s]", listen);
	else
		snprintf(out, outlen, "%s", listen);
}

/*
 * Keep the requests to the daemon away from any proxy the environment
 * names: a proxy cannot reach this machine's loopback, and would make a
 * running daemon look stopped. The host's HTTP client is libcurl, which
 * reads no_proxy on every request, so adding ADDRESS to it is enough;
 * the environment is this short-lived process's own.
 */
static void bypass_proxy(const char *address)
{
	const char *old = getenv("no_proxy");
	char host[300];
	char *list;
	size_t len;

	if (!old)
		old = getenv("NO_PROXY");
	len = strlen(address);
	if (address[0] == '[' && len > 2)
		snprintf(host, sizeof(host), "%.*s", (int)(len - 2),
			 address + 1);
	else
		snprintf(host, sizeof(host), "%s", address);
	if (!old || !*old) {
		setenv("no_proxy", host, 1);
		return;
	}
	len = strlen(old) + 1 + strlen(host) + 1;
	list = malloc(len);
	if (!list)
		return;
	snprintf(list, len, "%s,%s", old, host);
	setenv("no_proxy", list, 1);
	free(list);
}

static void probe_ports(struct status *st, const char *address)
{
	char url[URL_BUF];
	long code;

	for (size_t i = 0; i < st->n_mirrors; i++) {
		struct mirror_status *ms = &st->mirrors[i];

		snprintf(url, sizeof(url), "http://%s:%u/v2/", address,
			 ms->m->port);
		ms->listening = http_get(st->host, url, LOCAL_TIMEOUT_MS, &code,
					 NULL) == 0;
		if (ms->listening && !st->daemon.running) {
			st->daemon.running = true;
			st->daemon.port = ms->m->port;
		}
	}
}

/*
 * The upstream a mirror pulls from: the configured one, or what its
 * registry plugin resolves. False for a wildcard host (it stands for many
 * registries) and when no plugin claims the host.
 */
static bool mirror_upstream(const struct vkdr_host *host,
			    const struct vkdr_mirror *m, char *out,
			    size_t outlen)
{
	const struct vkdr_registry_ops *plugin;
	struct vkdr_upstream up;

	if (m->upstream && *m->upstream) {
		snprintf(out, outlen, "%s", m->upstream);
		return true;
	}
	plugin = host->registry_find(m->host, NULL);
	if (!plugin || strchr(m->host, '*'))
		return false;
	memset(&up, 0, sizeof(up));
	if (plugin->resolve(host, m->host, NULL, &up) < 0 || !up.base_url[0])
		return false;
	snprintf(out, outlen, "%s", up.base_url);
	return true;
}

static void probe_upstreams(struct status *st)
{
	char url[URL_BUF + 8];
	size_t len;

	for (size_t i = 0; i < st->n_mirrors; i++) {
		struct mirror_status *ms = &st->mirrors[i];

		ms->has_upstream = mirror_upstream(
			st->host, ms->m, ms->upstream, sizeof(ms->upstream));
		if (!ms->has_upstream)
			continue;
		len = strlen(ms->upstream);
		while (len && ms->upstream[len - 1] == '/')
			len--;
		snprintf(url, sizeof(url), "%.*s/v2/", (int)len, ms->upstream);
		ms->reachable = http_get(st->host, url, UPSTREAM_TIMEOUT_MS,
					 &ms->upstream_status, NULL) == 0;
	}
}

/* ------------------------------------------------------------------------
 * Reading the daemon's metrics
 */

/*
 * The value of label NAME in LABELS (the text between the braces, without
 * them), copied to OUT. False when it is absent or does not fit.
 */
static bool label_value(const char *labels, size_t len, const char *name,
			char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *end = labels + len;
	const char *p = labels;

	while (p < end) {
		const char *q;

		while (p < end && (*p == ',' || *p == ' '))
			p++;
		q = memchr(p, '=', (size_t)(end - p));
		if (!q || q + 1 >= end || q[1] != '"')
			return false;
		if ((size_t)(q - p) == nlen && memcmp(p, name, nlen) == 0) {
			const char *v = q + 2;
			const char *close = memchr(v, '"', (size_t)(end - v));

			if (!close || (size_t)(close - v) >= outlen)
				return false;
			memcpy(out, v, (size_t)(close - v));
			out[close - v] = '\0';
			return true;
		}
		q = memchr(q + 2, '"', (size_t)(end - q - 2));
		if (!q)
			return false;
		p = q + 1;
	}
	return false;
}

static enum outcome outcome_from_label(const char *label)
{
	for (int i = 0; i < OUTCOME_OTHER; i++)
		if (strcmp(label, outcome_labels[i]) == 0)
			return (enum outcome)i;
	return OUTCOME_OTHER;
}

static struct mirror_status *mirror_by_host(struct status *st, const char *host)
{
	for (size_t i = 0; i < st->n_mirrors; i++)
		if (strcmp(st->mirrors[i].m->host, host) == 0)
			return &st->mirrors[i];
	return NULL;
}

/* Take in one sample: NAME, its LABELS (may be empty) and VALUE. */
static void metrics_sample(struct status *st, const char *name,
			   const char *labels, size_t labels_len,
			   uint64_t value)
{
	struct daemon_status *d = &st->daemon;
	struct mirror_status *ms;
	char label[256];

	if (strcmp(name, "vkdr_mirror_requests_total") == 0) {
		if (label_value(labels, labels_len, "outcome", label,
				sizeof(label)))
			d->requests[outcome_from_label(label)] += value;
	} else if (strcmp(name, "vkdr_mirror_bytes_served_total") == 0) {
		if (label_value(labels, labels_len, "outcome", label,
				sizeof(label))) {
			d->bytes_by_outcome[outcome_from_label(label)] += value;
			d->have_bytes_by_outcome = true;
		} else {
			d->bytes_served = value;
		}
	} else if (strcmp(name, "vkdr_mirror_upstream_bytes_total") == 0) {
		d->upstream_bytes = value;
	} else if (strcmp(name, "vkdr_mirror_cache_bytes") == 0) {
		d->cache_bytes = value;
		d->have_cache = true;
		d->cache_source = "metrics";
	} else if (strcmp(name, "vkdr_mirror_cache_objects") == 0) {
		d->cache_objects = value;
	} else if (strncmp(name, "vkdr_mirror_pull_budget_", 24) == 0 &&
		   label_value(labels, labels_len, "registry", label,
			       sizeof(label)) &&
		   (ms = mirror_by_host(st, label))) {
		if (strcmp(name + 24, "remaining") == 0)
			ms->budget_remaining = (int64_t)value;
		else if (strcmp(name + 24, "limit") == 0)
			ms->budget_limit = (int64_t)value;
	}
}

/*
 * Take in one line of the Prometheus text format, "NAME{LABELS} VALUE"
 * (LEN bytes, no newline). Comments, lines that do not parse and negative
 * values are skipped.
 */
static void metrics_line(struct status *st, const char *line, size_t len)
{
	const char *end = line + len;
	const char *labels = "", *p;
	size_t labels_len = 0, n;
	char name[128];
	char value[32];

	if (len == 0 || line[0] == '#')
		return;
	for (n = 0; n < len && line[n] != '{' && line[n] != ' '; n++)
		;
	if (n == 0 || n >= sizeof(name))
		return;
	memcpy(name, line, n);
	name[n] = '\0';
	p = line + n;
	if (p < end && *p == '{') {
		const char *close = memchr(p, '}', (size_t)(end - p));

		if (!close)
			return;
		labels = p + 1;
		labels_len = (size_t)(close - labels);
		p = close + 1;
	}
	while (p < end && *p == ' ')
		p++;
	for (n = 0; p + n < end && p[n] != ' '; n++)
		;
	if (n == 0 || n >= sizeof(value) || *p == '-')
		return;
	memcpy(value, p, n);
	value[n] = '\0';
	metrics_sample(st, name, labels, labels_len,
		       (uint64_t)strtod(value, NULL));
}

/*
 * Read the daemon's metrics text line by line. Metrics this command does
 * not know are skipped: a newer daemon may say more.
 */
static void metrics_parse(struct status *st, const char *text)
{
	while (*text) {
		const char *eol = strchr(text, '\n');
		size_t len = eol ? (size_t)(eol - text) : strlen(text);

		metrics_line(st, text, len);
		text += len + (eol ? 1 : 0);
	}
}

static void read_metrics(struct status *st, const char *address)
{
	char url[URL_BUF];
	char *body = NULL;
	long code;

	if (!st->daemon.running)
		return;
	snprintf(url, sizeof(url), "http://%s:%u/metrics", address,
		 st->daemon.port);
	if (http_get(st->host, url, LOCAL_TIMEOUT_MS, &code, &body) < 0)
		return;
	if (code == 200 && body) {
		metrics_parse(st, body);
		st->daemon.have_metrics = true;
	}
	st->host->free(body);
}

/* ------------------------------------------------------------------------
 * Reading the store directly
 */

/*
 * Open the configured storage backend with its options, max-size left
 * out (opening with a lower cap would trim the cache), and ask it for
 * its usage. The daemon may be writing at the same time: the numbers are
 * a snapshot, which is all a status needs.
 */
static void read_store_usage(struct status *st)
{
	const struct vkdr_settings *set = &st->cfg->settings;
	const struct vkdr_storage_ops *backend;
	struct vkdr_option opts[MAX_STORE_OPTIONS];
	size_t n = 0;
	void *state = NULL;
	int rc;

	backend = st->host->storage_find(st->daemon.storage);
	if (!backend || !backend->usage)
		return;
	for (size_t i = 0; i < set->n_storage_options; i++) {
		if (strcmp(set->storage_options[i].key, "max-size") == 0 ||
		    n == MAX_STORE_OPTIONS)
			continue;
		opts[n++] = set->storage_options[i];
	}
	rc = backend->open(st->host, opts, n, &state);
	if (rc < 0) {
		vkdr_log_debug(st->host, MOD, "cannot open storage '%s': %s",
			       st->daemon.storage, strerror(-rc));
		return;
	}
	if (backend->usage(state, &st->daemon.cache_bytes,
			   &st->daemon.cache_objects) == 0) {
		st->daemon.have_cache = true;
		st->daemon.cache_source = "store";
	}
	backend->close(state);
}

static void read_settings(struct status *st)
{
	const struct vkdr_settings *set = &st->cfg->settings;

	st->daemon.storage =
		set->storage && *set->storage ? set->storage : DEFAULT_STORAGE;
	for (size_t i = 0; i < set->n_storage_options; i++)
		if (strcmp(set->storage_options[i].key, "max-size") == 0)
			st->daemon.max_size = set->storage_options[i].value;
}

/* ------------------------------------------------------------------------
 * Derived numbers
 */

/* Requests that could have been answered from the cache. */
static uint64_t cacheable_requests(const struct daemon_status *d)
{
	return d->requests[OUTCOME_HIT] + d->requests[OUTCOME_MISS] +
	       d->requests[OUTCOME_COALESCED] + d->requests[OUTCOME_STALE] +
	       d->requests[OUTCOME_REVALIDATED];
}

/*
 * Requests whose body came from the cache. A revalidated tag asked the
 * upstream only whether the tag moved, and a stale answer was given from
 * the cache while the upstream was down: both count. A coalesced request
 * waited for a fetch another request started, so its bytes came from
 * the upstream.
 */
static uint64_t cache_answers(const struct daemon_status *d)
{
	return d->requests[OUTCOME_HIT] + d->requests[OUTCOME_STALE] +
	       d->requests[OUTCOME_REVALIDATED];
}

/*
 * Bytes the upstream did not have to send. When the daemon counts the
 * bytes served per outcome, they are the bytes of the cache answers.
 * Otherwise they are estimated as what clients received beyond what was
 * fetched, and only once something was answered from the cache: error
 * bodies and /v2/ answers would make a cold cache look useful.
 */
static uint64_t bytes_saved(const struct daemon_status *d)
{
	if (d->have_bytes_by_outcome)
		return d->bytes_by_outcome[OUTCOME_HIT] +
		       d->bytes_by_outcome[OUTCOME_STALE] +
		       d->bytes_by_outcome[OUTCOME_REVALIDATED];
	if (!cache_answers(d) || d->bytes_served <= d->upstream_bytes)
		return 0;
	return d->bytes_served - d->upstream_bytes;
}

/* Every byte served, however the daemon counts them. */
static uint64_t total_bytes_served(const struct daemon_status *d)
{
	uint64_t sum = 0;

	if (!d->have_bytes_by_outcome)
		return d->bytes_served;
	for (int i = 0; i < OUTCOME_COUNT; i++)
		sum += d->bytes_by_outcome[i];
	return sum;
}

/* ------------------------------------------------------------------------
 * Output
 */

static void format_size(uint64_t bytes, char *out, size_t outlen)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes / 1024;
	int u = 0;

	if (bytes < 1024) {
		snprintf(out, outlen, "%" PRIu64 " B", bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, outlen, "%.1f %s", v, units[u]);
}

static bool use_colour(void)
{
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

/* Print WORD in WIDTH columns, green when GOOD, red when BAD. */
static void print_cell(const char *word, int width, bool colour, bool good,
		       bool bad)
{
	int pad = width - (int)strlen(word);

	if (colour && (good || bad))
		printf("\033[%sm%s\033[0m", good ? "32" : "31", word);
	else
		printf("%s", word);
	if (pad > 0)
		printf("%*s", pad, "");
}

static void budget_text(const struct mirror_status *ms, char *out,
			size_t outlen)
{
	if (ms->budget_remaining < 0)
		snprintf(out, outlen, "%s",
			 strcmp(ms->m->host, "docker.io") == 0 ? "unknown"
							       : "-");
	else if (ms->budget_limit > 0)
		snprintf(out, outlen, "%" PRId64 "/%" PRId64,
			 ms->budget_remaining, ms->budget_limit);
	else
		snprintf(out, outlen, "%" PRId64, ms->budget_remaining);
}

static void reach_text(const struct mirror_status *ms, char *out, size_t outlen)
{
	if (!ms->has_upstream)
		snprintf(out, outlen, "-");
	else if (ms->reachable)
		snprintf(out, outlen, "yes (%ld)", ms->upstream_status);
	else
		snprintf(out, outlen, "no");
}

/* The daemon's counters, two lines under "Daemon:". */
static void print_metrics(const struct daemon_status *d)
{
	char served[32], fetched[32], saved[32];
	uint64_t total = cacheable_requests(d);

	printf("  requests: %" PRIu64 " cacheable", total);
	if (total)
		printf(", hit ratio %.1f%% (%" PRIu64 " from the cache)",
		       100.0 * (double)cache_answers(d) / (double)total,
		       cache_answers(d));
	printf("\n");
	format_size(total_bytes_served(d), served, sizeof(served));
	format_size(d->upstream_bytes, fetched, sizeof(fetched));
	format_size(bytes_saved(d), saved, sizeof(saved));
	printf("  bytes: %s served, %s from upstreams, about %s saved\n",
	       served, fetched, saved);
}

static void print_cache(const struct daemon_status *d)
{
	printf("Cache: ");
	if (d->have_cache) {
		char size[32];

		format_size(d->cache_bytes, size, sizeof(size));
		printf("%s in %" PRIu64 " objects", size, d->cache_objects);
	} else {
		printf("size unknown");
	}
	printf(" (storage %s", d->storage);
	if (d->max_size)
		printf(", max-size %s", d->max_size);
	printf(")\n\n");
}

static void print_daemon(const struct daemon_status *d, bool colour)
{
	printf("Daemon: ");
	if (!d->running) {
		print_cell("not running", 0, colour, false, true);
		printf(" (no mirror port answered; start it with 'vkdr "
		       "mirror serve'\n        or 'vkdr infra up')\n");
	} else {
		print_cell("running", 0, colour, true, false);
		printf(", metrics from port %u\n", d->port);
	}
	if (d->have_metrics)
		print_metrics(d);
	else if (d->running)
		printf("  no metrics: GET /metrics on port %u failed\n",
		       d->port);
	print_cache(d);
}

static void print_table(const struct status *st)
{
	bool colour = use_colour();
	int wh = 4, wu = 8, wr = 9;
	char text[64];

	print_daemon(&st->daemon, colour);
	if (st->n_mirrors == 0) {
		printf("No mirror is configured. Add one with\n"
		       "  vkdr mirror add --host=HOST\n");
		return;
	}
	for (size_t i = 0; i < st->n_mirrors; i++) {
		const struct mirror_status *ms = &st->mirrors[i];
		int l;

		l = (int)strlen(ms->m->host);
		wh = l > wh ? l : wh;
		l = ms->has_upstream ? (int)strlen(ms->upstream) : 1;
		wu = l > wu ? l : wu;
		reach_text(ms, text, sizeof(text));
		l = (int)strlen(text);
		wr = l > wr ? l : wr;
	}
	printf("%-*s  %-5s  %-9s  %-*s  %-*s  %s\n", wh, "HOST", "PORT",
	       "LISTENING", wu, "UPSTREAM", wr, "REACHABLE", "PULL BUDGET");
	for (size_t i = 0; i < st->n_mirrors; i++) {
		const struct mirror_status *ms = &st->mirrors[i];

		printf("%-*s  %-5u  ", wh, ms->m->host, ms->m->port);
		print_cell(ms->listening ? "yes" : "no", 9, colour,
			   ms->listening, !ms->listening);
		printf("  %-*s  ", wu, ms->has_upstream ? ms->upstream : "-");
		reach_text(ms, text, sizeof(text));
		print_cell(text, wr, colour, ms->has_upstream && ms->reachable,
			   ms->has_upstream && !ms->reachable);
		budget_text(ms, text, sizeof(text));
		printf("  %s\n", text);
	}
}

static json_t *json_budget(const struct mirror_status *ms)
{
	if (ms->budget_remaining < 0)
		return json_null();
	return json_pack("{s:I, s:o}", "remaining",
			 (json_int_t)ms->budget_remaining, "limit",
			 ms->budget_limit < 0 ? json_null()
					      : json_integer(ms->budget_limit));
}

static json_t *json_mirror(const struct mirror_status *ms)
{
	return json_pack(
		"{s:s, s:I, s:s?, s:b, s:s?, s:o, s:o, s:o}", "host",
		ms->m->host, "port", (json_int_t)ms->m->port, "endpoint",
		ms->m->endpoint, "listening", ms->listening, "upstream",
		ms->has_upstream ? ms->upstream : NULL, "upstream_reachable",
		ms->has_upstream ? json_boolean(ms->reachable) : json_null(),
		"upstream_status",
		ms->has_upstream && ms->reachable
			? json_integer(ms->upstream_status)
			: json_null(),
		"pull_budget", json_budget(ms));
}

static json_t *json_metrics(const struct daemon_status *d)
{
	if (!d->have_metrics)
		return json_null();
	return json_pack("{s:I, s:I, s:o, s:I, s:I, s:I}", "requests",
			 (json_int_t)cacheable_requests(d), "cache_answers",
			 (json_int_t)cache_answers(d), "hit_ratio",
			 cacheable_requests(d)
				 ? json_real((double)cache_answers(d) /
					     (double)cacheable_requests(d))
				 : json_null(),
			 "bytes_served", (json_int_t)total_bytes_served(d),
			 "upstream_bytes", (json_int_t)d->upstream_bytes,
			 "bytes_saved", (json_int_t)bytes_saved(d));
}

static json_t *json_daemon(const struct daemon_status *d)
{
	return json_pack("{s:b, s:o, s:o}", "running", d->running,
			 "metrics_port",
			 d->running ? json_integer(d->port) : json_null(),
			 "metrics", json_metrics(d));
}

static json_t *json_count(bool known, uint64_t n)
{
	return known ? json_integer((json_int_t)n) : json_null();
}

static json_t *json_cache(const struct daemon_status *d)
{
	return json_pack("{s:s, s:s?, s:o, s:o, s:s?}", "storage", d->storage,
			 "max_size", d->max_size, "bytes",
			 json_count(d->have_cache, d->cache_bytes), "objects",
			 json_count(d->have_cache, d->cache_objects), "source",
			 d->have_cache ? d->cache_source : NULL);
}

static int print_json(const struct status *st)
{
	json_t *root, *list;
	int rc = EXIT_FAIL;
	char *text;

	list = json_array();
	root = json_pack("{s:o, s:o, s:o}", "daemon", json_daemon(&st->daemon),
			 "cache", json_cache(&st->daemon), "mirrors", list);
	if (!root)
		return EXIT_FAIL;
	for (size_t i = 0; i < st->n_mirrors; i++)
		if (json_array_append_new(list, json_mirror(&st->mirrors[i])))
			goto out_free_root;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text) {
		printf("%s\n", text);
		free(text);
		rc = EXIT_OK;
	}

out_free_root:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------------
 * The command
 */

/* Read "-o FORMAT", "-oFORMAT", "--output=FORMAT" or "--output FORMAT". */
static int parse_args(int argc, char **argv, bool *json)
{
	const char *format = "table";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr,
					"vkdr mirror status: %s needs "
					"a value: table or json\n",
					a);
				return EXIT_USAGE;
			}
			format = argv[++i];
		} else if (strncmp(a, "--output=", 9) == 0) {
			format = a + 9;
		} else if (strncmp(a, "-o", 2) == 0) {
			format = a + 2;
		} else {
			fprintf(stderr,
				"vkdr mirror status: unknown argument "
				"'%s'; run 'vkdr mirror status "
				"--help'\n",
				a);
			return EXIT_USAGE;
		}
	}
	if (strcmp(format, "json") == 0) {
		*json = true;
	} else if (strcmp(format, "table") == 0) {
		*json = false;
	} else {
		fprintf(stderr,
			"vkdr mirror status: unknown output format "
			"'%s'; use table or json\n",
			format);
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_status(const struct vkdr_host *host, int argc, char **argv)
{
	struct status st = { .host = host };
	char address[300];
	char err[512] = "";
	bool json = false;
	int rc;

	rc = parse_args(argc, argv, &json);
	if (rc)
		return rc;
	rc = host->config_read(&st.cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr,
			"vkdr mirror status: cannot read the "
			"configuration: %s\n",
			err[0] ? err : strerror(-rc));
		return EXIT_FAIL;
	}
	st.n_mirrors = st.cfg->n_mirrors;
	st.mirrors =
		calloc(st.n_mirrors ? st.n_mirrors : 1, sizeof(*st.mirrors));
	if (!st.mirrors) {
		rc = EXIT_FAIL;
		goto out_free_config;
	}
	for (size_t i = 0; i < st.n_mirrors; i++) {
		st.mirrors[i].m = &st.cfg->mirrors[i];
		st.mirrors[i].budget_remaining = -1;
		st.mirrors[i].budget_limit = -1;
	}

	read_settings(&st);
	daemon_address(st.cfg->settings.listen, address, sizeof(address));
	bypass_proxy(address);
	probe_ports(&st, address);
	read_metrics(&st, address);
	probe_upstreams(&st);
	if (!st.daemon.have_cache)
		read_store_usage(&st);

	if (json) {
		rc = print_json(&st);
	} else {
		print_table(&st);
		rc = EXIT_OK;
	}
	if (fflush(stdout) != 0)
		rc = EXIT_FAIL;
	free(st.mirrors);

out_free_config:
	host->config_free(st.cfg);
	return rc;
}

static const struct vkdr_command commands[] = {
	{
		.group = "mirror",
		.verb = "status",
		.summary = "check the mirror ports, their upstreams and the "
			   "cache",
		.usage = "vkdr mirror status [-o table|json]",
		.help = "For every configured mirror: whether its port "
			"answers (GET /v2/), whether its\n"
			"upstream answers at all (any HTTP status, 401 "
			"included), and the Docker Hub\n"
			"pull budget when the daemon reports it. From the "
			"daemon's /metrics: the hit\n"
			"ratio since it started and the bytes it saved. "
			"The cache size comes from the\n"
			"metrics or, failing that, from the storage "
			"backend itself.\n\n"
			"A daemon that is not running is reported, not an "
			"error: the exit status is 0\n"
			"unless the configuration cannot be read (1) or the "
			"arguments are wrong (2).\n\n"
			"Options:\n"
			"  -o, --output=FORMAT  table (default) or json\n\n"
			"Colour is used when standard output is a terminal "
			"and NO_COLOR is unset.\n",
		.run = cmd_status,
	},
};

static const struct vkdr_command_ops ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = commands,
	.n_commands = sizeof(commands) / sizeof(commands[0]),
};

static const struct vkdr_module status_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "status",
	.version = PACKAGE_VERSION,
	.description = "vkdr mirror status: mirrors, upstreams, cache use",
	.ops = &ops,
};

VKDR_MODULE_DEFINE(status_module);
