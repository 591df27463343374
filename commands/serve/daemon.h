/*
 * daemon.h - the state one running "vkdr mirror serve" shares between
 * its listeners, request threads and upstream fetches.
 */
#ifndef VKDR_SERVE_DAEMON_H
#define VKDR_SERVE_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <vkdr/module.h>

#include "metrics.h"

#define MOD "serve"
#define DEFAULT_TAG_TTL 60
#define DEFAULT_STORAGE "filesystem"
#define DEFAULT_LISTEN "0.0.0.0"
/*
 * Connections one port holds at once. Each has a thread of its own; a
 * thread costs tens of kilobytes of memory while it waits, so the default
 * keeps a port's worst case in the tens of megabytes.
 */
#define DEFAULT_MAX_CONNECTIONS 2000

struct upstream;
struct fetch_table;
struct verified_set;

/*
 * The configuration as requests see it. A request takes a reference for
 * its whole life, so a SIGHUP can swap in a new snapshot without pulling
 * one out from under a running request.
 */
struct snapshot {
	int refs;
	struct vkdr_config *cfg;	/* from host->config_read(), or NULL */
	const struct vkdr_mirror **mirrors;
	size_t n_mirrors;
	unsigned tag_ttl;
	char listen[64];
};

struct daemon {
	const struct vkdr_host *host;

	const struct vkdr_storage_ops *store;
	void *store_state;
	char storage_name[64];
	/* The max-size storage option, 0 when none: the trim target. */
	uint64_t max_bytes;
	uint64_t commits_since_trim;

	struct upstream *upstream;
	struct fetch_table *fetches;
	struct metrics metrics;
	/* Digests whose stored bytes were checked since the start. */
	struct verified_set *verified;

	/* Unlinked scratch files that followers of a fetch read from. */
	char spool_dir[PATH_MAX];

	pthread_mutex_t snap_lock;
	struct snapshot *snap;

	/* Command-line overrides, applied on every (re)load. */
	const char *listen_override;
	unsigned tag_ttl_override;
	unsigned max_connections;	/* per port */
	/* Mirrors given with the hidden --mirror flag, for debugging. */
	struct vkdr_mirror *extra_mirrors;
	size_t n_extra_mirrors;

	bool stopping;
	/* Threads running an upstream fetch; shutdown waits for zero. */
	int fetch_threads;
	pthread_mutex_t threads_lock;
	pthread_cond_t threads_cond;
};

/* Take and drop a reference to the current configuration. */
struct snapshot *snapshot_get(struct daemon *d);
void snapshot_put(struct daemon *d, struct snapshot *s);

static inline bool daemon_stopping(const struct daemon *d)
{
	return __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE);
}

#endif
