/*
 * server.h - the listeners of a running daemon and its signal loop.
 */
#ifndef VKDR_SERVE_SERVER_H
#define VKDR_SERVE_SERVER_H

#include "daemon.h"

/*
 * Build a snapshot of the configuration with the daemon's command-line
 * overrides applied. Returns 0 with *OUT (one reference, the caller's) or
 * a negative errno with a reason in ERR.
 */
int snapshot_load(struct daemon *d, struct snapshot **out, char *err,
		  size_t errlen);

/*
 * Open one listener per configured port and serve until SIGTERM or
 * SIGINT; SIGHUP reloads the configuration. The signals must already be
 * blocked in every thread (the caller blocks them before any thread
 * starts). Returns 0 after a clean stop, or a negative errno when no
 * listener could be opened.
 */
int server_run(struct daemon *d);

#endif
