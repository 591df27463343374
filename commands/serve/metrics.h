/*
 * metrics.h - the daemon's counters, exposed at GET /metrics.
 *
 * Counters are plain 64-bit integers bumped with atomic adds: requests
 * run on many threads and a lock per increment would be wasted.
 */
#ifndef VKDR_SERVE_METRICS_H
#define VKDR_SERVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* How a request was answered; also the outcome field of the access log. */
enum outcome {
	OUTCOME_NONE = 0,	/* answered without the cache (/v2/, errors) */
	OUTCOME_HIT,
	OUTCOME_MISS,
	OUTCOME_COALESCED,
	OUTCOME_STALE,
	OUTCOME_REVALIDATED,
	OUTCOME_BYPASS,		/* passed through, nothing cached */
	OUTCOME_COUNT,
};

struct metrics {
	uint64_t requests[OUTCOME_COUNT];
	uint64_t bytes_served;
	uint64_t upstream_requests;
	uint64_t upstream_bytes;
	uint64_t upstream_errors;
	uint64_t errors;	/* answers with status >= 400 */
	uint64_t verify_failures;
	uint64_t store_failures;
};

/* The access-log word for O ("hit", "miss"...). */
const char *outcome_name(enum outcome o);

static inline void metrics_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/*
 * Write M in the Prometheus text format into BUF of LEN bytes. Returns
 * the length written (without the NUL), or -ENOSPC when BUF is too small.
 */
int metrics_render(const struct metrics *m, char *buf, size_t len);

#endif
