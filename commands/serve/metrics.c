/*
 * metrics.c - Prometheus text rendering of the daemon's counters.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "metrics.h"

static const char *const outcome_names[OUTCOME_COUNT] = {
	[OUTCOME_NONE] = "none",
	[OUTCOME_HIT] = "hit",
	[OUTCOME_MISS] = "miss",
	[OUTCOME_COALESCED] = "coalesced",
	[OUTCOME_STALE] = "stale",
	[OUTCOME_REVALIDATED] = "revalidated",
	[OUTCOME_BYPASS] = "bypass",
};

const char *outcome_name(enum outcome o)
{
	return o < OUTCOME_COUNT ? outcome_names[o] : "none";
}

struct out {
	char *buf;
	size_t len, used;
	bool full;
};



static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used) {
		o->full = true;
		return;
	}
	o->used += (size_t)n;
}

static uint64_t load(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void counter(struct out *o, const char *name, const char *help,
		    const uint64_t *value)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name,
	    help, name, name, load(value));
}

int metrics_render(const struct metrics *m, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };

	put(&o, "# HELP vkdr_mirror_requests_total Requests answered, by "
		"cache outcome.\n"
		"# TYPE vkdr_mirror_requests_total counter\n");
	for (int i = 0; i < OUTCOME_COUNT; i++)
		put(&o, "vkdr_mirror_requests_total{outcome=\"%s\"} %" PRIu64
			"\n", outcome_names[i], load(&m->requests[i]));
	counter(&o, "vkdr_mirror_bytes_served_total",
		"Body bytes sent to clients.", &m->bytes_served);
	counter(&o, "vkdr_mirror_upstream_requests_total",
		"Requests sent upstream, retries and redirects included.",
		&m->upstream_requests);
	counter(&o, "vkdr_mirror_upstream_bytes_total",
		"Body bytes received from upstreams.", &m->upstream_bytes);
	counter(&o, "vkdr_mirror_upstream_errors_total",
		"Upstream requests that got no usable answer.",
		&m->upstream_errors);
	counter(&o, "vkdr_mirror_errors_total",
		"Answers with a status of 400 or more.", &m->errors);
	counter(&o, "vkdr_mirror_verify_failures_total",
		"Upstream bodies whose digest did not match.",
		&m->verify_failures);
	counter(&o, "vkdr_mirror_store_failures_total",
		"Objects that could not be written to the store.",
		&m->store_failures);
	return o.full ? -ENOSPC : (int)o.used;
}
