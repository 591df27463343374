/*
 * upstream.h - requests to the remote registries behind the mirrors.
 *
 * One struct upstream per daemon holds the libcurl connection pool (a
 * share handle, so every thread reuses the same connections and TLS
 * sessions) and the Authorization values obtained from the registry
 * plugins, cached per (origin, repository) until shortly before they
 * expire. Redirects are followed here rather than by libcurl so that an
 * Authorization header is only ever sent to the origin it was issued for.
 */
#ifndef VKDR_SERVE_UPSTREAM_H
#define VKDR_SERVE_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <vkdr/module.h>

#include "metrics.h"

struct upstream;

/* Where a request goes. Every string is borrowed for the call. */
struct upstream_target {
	const char *registry;	/* "docker.io": plugin and credentials */
	const char *base_url;	/* "https://registry-1.docker.io" */
	const char *repository;	/* the upstream's repository name */
	/* The plugin for REGISTRY, or NULL: no auth, no header hook. */
	const struct vkdr_registry_ops *plugin;
};

/* The parts of a response the daemon uses. */
struct upstream_head {
	long status;
	int64_t content_length;		/* -1 when not sent */
	char content_type[256];
	char digest[128];		/* Docker-Content-Digest */
	char retry_after[32];
	char link[1024];
};

struct upstream_call {
	const char *method;	/* "GET" or "HEAD" */
	const char *path;	/* "/v2/library/x/blobs/sha256:..." (+query) */
	const char *accept;	/* forwarded Accept, or NULL */
	long timeout_ms;	/* whole transfer; 0: no limit but stalls */
	/*
	 * Optional: called once, when the headers of a final 2xx answer are
	 * complete and before any body byte. A non-zero return aborts the
	 * transfer (upstream_fetch() then returns -ECANCELED).
	 */
	int (*on_head)(void *arg, const struct upstream_head *head);
	/* Optional: body bytes of the final 2xx answer; non-zero aborts. */
	int (*on_body)(void *arg, const void *buf, size_t len);
	/*
	 * Optional: called during the final 2xx answer after each round of
	 * reads from the connection, and at least once a second while it
	 * waits, so a caller that batches what on_body gets can pass the
	 * batch on without holding bytes back. Non-zero aborts.
	 */
	int (*on_progress)(void *arg);
	void *arg;

	/* Filled by upstream_fetch(): the final answer and its duration. */
	struct upstream_head head;
	long elapsed_ms;
};

/*
 * Set up the pool. METRICS receives the upstream counters. Returns 0 or
 * -ENOMEM.
 */
int upstream_init(const struct vkdr_host *host, struct metrics *metrics,
		  struct upstream **out);

/*
 * Drop a transfer that moves less than a byte per second for SECONDS (0:
 * the default, 30). Set before the first call.
 */
void upstream_set_stall_timeout(struct upstream *u, unsigned seconds);

/* Tear down the pool; no call may be running. */
void upstream_free(struct upstream *u);

/*
 * Abort every transfer in progress and refuse new ones (shutdown).
 */
void upstream_cancel_all(struct upstream *u);

/*
 * Run CALL against TARGET: authorization on a 401 through the plugin (one
 * token fetch per origin and repository however many callers wait), up to
 * five redirects. Returns 0 when an answer came (CALL->head.status says
 * which: a 4xx or 5xx is an answer too), -EACCES when the credentials
 * were refused or no plugin could answer the challenge, -ETIMEDOUT or
 * -ECONNREFUSED or -EHOSTUNREACH or -EIO when no answer came, -ECANCELED
 * when a callback aborted, -ENOMEM.
 */
int upstream_fetch(struct upstream *u, const struct upstream_target *target,
		   struct upstream_call *call);

#endif
