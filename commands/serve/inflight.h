/*
 * inflight.h - one upstream fetch, however many clients want it.
 *
 * A fetch runs on its own thread. It writes the body to an unlinked spool
 * file and to the storage backend while hashing it; every client of the
 * object, the one that started the fetch included, is a reader of the
 * spool file and is fed bytes as soon as they arrive. Readers never see
 * the last byte of a body before its digest has been verified, so a body
 * that fails verification never reaches a client complete: its transfer
 * is aborted instead.
 */
#ifndef VKDR_SERVE_INFLIGHT_H
#define VKDR_SERVE_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <vkdr/module.h>

#include "daemon.h"
#include "oci.h"

enum fetch_kind {
	FETCH_BLOB,
	FETCH_MANIFEST,
};

/* What to fetch and where it goes; copied by fetch_join(). */
struct fetch_spec {
	enum fetch_kind kind;
	/* Identity in the table of fetches in progress. */
	char table_key[OCI_KEY_MAX + 8];
	char registry[256];
	char base_url[512];
	char repository[OCI_NAME_MAX + 1];
	const struct vkdr_registry_ops *plugin;
	char path[1024];		/* upstream path */
	char accept[2048];		/* forwarded Accept, may be empty */
	/* The digest asked for, or empty for a manifest by tag. */
	char digest[OCI_DIGEST_LEN + 1];
	/* For a manifest by tag: where its tag record goes. */
	char tag_key[OCI_KEY_MAX];
};

/* What the headers of a fetch said. */
struct fetch_info {
	long status;		/* the upstream's; 2xx when a body follows */
	int64_t size;		/* -1 when unknown */
	char content_type[256];
	char digest[OCI_DIGEST_LEN + 1];
	char retry_after[32];
	long upstream_ms;
};

struct fetch;

/* The table of fetches in progress. */
int fetch_table_new(struct fetch_table **out);
void fetch_table_free(struct fetch_table *t);

/*
 * Join the fetch for SPEC->table_key, starting it when none runs. Under
 * the table lock, STORE_KEY (when non-NULL) is looked up once more, so a
 * fetch that committed a moment ago is not repeated: -EEXIST then means
 * "serve it from the store". *STARTED says whether this call started the
 * fetch. Returns 0 with *OUT (drop it with fetch_put()) or a negative
 * errno.
 */
int fetch_join(struct daemon *d, const struct fetch_spec *spec,
	       const char *store_key, struct fetch **out, bool *started);

/*
 * Wait for the answer's headers. Returns 0 with INFO when a body can be
 * read, 1 with INFO->status when the upstream answered something else
 * (404, 429...), or a negative errno when no answer came (-ETIMEDOUT,
 * -ECONNREFUSED, -EACCES, -EBADMSG for a failed verification...).
 */
int fetch_wait_head(struct fetch *f, struct fetch_info *info);

/*
 * Read up to LEN body bytes at POS, waiting for them to arrive. Returns
 * the count, 0 at the end of a verified body, or a negative errno when
 * the fetch failed (the client's transfer must then be aborted).
 */
ssize_t fetch_read(struct fetch *f, uint64_t pos, void *buf, size_t len);

/* Drop a reference taken by fetch_join(). */
void fetch_put(struct fetch *f);

/* Wake every waiting reader, e.g. at shutdown. */
void fetch_table_wake(struct fetch_table *t);

/* What the upstream said when asked whether a tag still names a digest. */
struct reval_result {
	int rc;			/* upstream_fetch()'s */
	long status;
	char digest[128];	/* Docker-Content-Digest, as sent */
};

/*
 * Coalesced tag revalidation: one upstream HEAD per KEY at a time, KEY
 * being a tag key, which names registry, repository, tag and Accept set.
 * Returns true when the caller leads: it must ask the upstream, update
 * the tag record, then call reval_end() with the answer. Returns false
 * once the revalidation in progress ended, its answer in *RES (rc
 * -ECANCELED when the daemon stops first, -ENOMEM when no revalidation
 * could be set up).
 */
bool reval_begin(struct daemon *d, const char *key, struct reval_result *res);

/* Hand RES to the callers waiting on KEY and let the next one lead. */
void reval_end(struct daemon *d, const char *key,
	       const struct reval_result *res);

#endif
