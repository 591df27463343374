/*
 * cache.h - what the daemon keeps in the storage backend besides raw
 * bytes: tag records, and the media type of a stored manifest.
 *
 * Blobs and manifests live under "blobs/sha256/<hex>", shared by every
 * mirror. A tag record, under "tags/<registry>/<repo>/<tag>/<accept-hash>",
 * says which digest a tag pointed to for one Accept set, with the
 * manifest's media type and size, and when that answer was last checked
 * upstream.
 */
#ifndef VKDR_SERVE_CACHE_H
#define VKDR_SERVE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "oci.h"
#include "record.h"

/*
 * Read the tag record at KEY. Returns 0, -ENOENT, or -EINVAL when the
 * record cannot be parsed (it is then treated as missing).
 */
int cache_tag_read(struct daemon *d, const char *key, struct tag_record *rec);

/* Write the tag record at KEY, replacing the old one. 0 or -errno. */
int cache_tag_write(struct daemon *d, const char *key,
		    const struct tag_record *rec);

/*
 * The digests whose stored bytes this daemon has read back from the store
 * and seen hash right. An object is not added when it is committed, though
 * its bytes were hashed on the way in: reading it back once also catches a
 * store that lost or changed them while writing. Only memory: a restart
 * forgets them, so an object changed on disk while no daemon ran is
 * checked again before it is served.
 */
struct verified_set;

/* A new, empty set. 0 or -ENOMEM. */
int verified_new(struct verified_set **out);
void verified_free(struct verified_set *set);
/* True when DIGEST ("sha256:<hex>") is in SET. */
bool verified_has(struct verified_set *set, const char *digest);
/* Add DIGEST. 0, -EINVAL for a malformed digest, or -ENOMEM. */
int verified_add(struct verified_set *set, const char *digest);
/* Forget DIGEST, e.g. when its object is removed from the store. */
void verified_remove(struct verified_set *set, const char *digest);

/*
 * Make sure the blob or manifest DIGEST in the store holds the bytes the
 * digest names before any of them is served. An object not verified since
 * the daemon started is hashed in full; a match is remembered in
 * D->verified, a mismatch removes the object (logged and counted). Returns
 * 0 when it is good, -ENOENT when it is missing or was just removed as
 * corrupt (the caller then fetches it upstream), or another negative errno
 * when the store could not be read.
 */
int cache_object_verify(struct daemon *d, const char *digest);

#endif
