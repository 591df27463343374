/*
 * routes.h - one client request, from the access handler to the access
 * log line.
 */
#ifndef VKDR_SERVE_ROUTES_H
#define VKDR_SERVE_ROUTES_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon.h"
#include "metrics.h"

struct fetch;

/*
 * A request's state. It is shared by the request (MHD's per-request
 * pointer) and by a streamed response reading through it, so it carries
 * a reference count and is freed by whichever lets go last.
 */
struct request {
	struct daemon *d;
	unsigned port;			/* the listener it came in on */
	char *target;			/* raw path and query */
	char method[8];
	char accept[2048];		/* every Accept header, joined */
	struct timespec start;
	int refs;
	bool seen;			/* the access handler was called */
	bool handled;			/* and it answered */

	unsigned status;
	enum outcome outcome;
	long upstream_ms;
	uint64_t bytes;			/* body bytes handed to MHD */
	uint64_t fd_bytes;		/* bytes of an fd response */

	/* A streamed body: from a fetch, or from a store object. */
	struct fetch *fetch;
	struct vkdr_object obj;
	bool obj_open;
	uint64_t offset;		/* where the body starts */
};

/* Answer R on CONN; called once per request. */
enum MHD_Result routes_handle(struct request *r, struct MHD_Connection *conn);

/* Drop a reference to R; the last one frees it. */
void request_put(struct request *r);

#endif
