/*
 * prefetch.h - what the files of the prefetch module share.
 *
 * The module has three commands: "vkdr mirror prefetch" pulls images
 * through the mirror daemon so that they are cached before anyone needs
 * them; "export-cache" and "import-cache" move cached content between
 * machines as an OCI image layout in a tar file. What they must agree on
 * with the daemon (the distribution grammar, how a tag record is keyed
 * and written) comes from the daemon's own code: they link
 * commands/serve/liboci.la (oci.h, record.h).
 */
#ifndef VKDR_PREFETCH_H
#define VKDR_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <vkdr/module.h>

#include "oci.h"
#include "record.h"

#define MOD "prefetch"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* ---- ref.c: image references ----------------------------------------- */

/*
 * An image reference split up. REGISTRY is canonical ("docker.io"); NAME
 * the repository as clients send it ("library/nginx"); exactly one of TAG
 * and DIGEST is non-empty.
 */
struct image_ref {
	char registry[256];
	char name[256];
	char tag[129];
	char digest[OCI_DIGEST_LEN + 1];
};

/*
 * Parse TEXT as a user writes an image: "nginx", "nginx:1.25",
 * "docker.io/library/nginx:1.25", "ghcr.io/x/y@sha256:...",
 * "localhost:5000/app". A first component with a dot or a colon, or
 * "localhost", is a registry; otherwise the registry is docker.io, where a
 * one-component name gets "library/". Returns 0 or -EINVAL with a reason
 * in ERR.
 */
int image_ref_parse(const char *text, struct image_ref *ref, char *err,
		    size_t errlen);

/* "REGISTRY/NAME:TAG" or "REGISTRY/NAME@DIGEST" into OUT. */
void image_ref_format(const struct image_ref *ref, char *out,
		      size_t outlen);

/* True when TEXT is "sha256:" and 64 lowercase hex digits. */
static inline bool digest_valid(const char *text)
{
	return oci_digest_check(text) == OCI_OK;
}

/* Finish the SHA-256 in MD and write it to OUT as "sha256:<hex>". */
void digest_final(EVP_MD_CTX *md, char out[OCI_DIGEST_LEN + 1]);

/*
 * The mirror of CFG that serves REGISTRY: the one configured for it, else
 * the first wildcard ("*.azurecr.io") that covers it; NULL when none does.
 */
const struct vkdr_mirror *mirror_for_registry(const struct vkdr_config *cfg,
					      const char *registry);

/* ---- ref.c: the daemon's tag records ---------------------------------- */

/*
 * The Accept header lines one client sends for a manifest, as it sends
 * them. Tag records are keyed by the Accept set, so a tag is cached for
 * a client only once a request with that client's header has been
 * answered; prefetch replays these, import writes records for them.
 */
struct client_accept {
	const char *client;
	const char *const *lines;	/* NULL-terminated */
};

/* The clients known here, NULL-terminated: vkdr itself first. */
extern const struct client_accept *const client_accepts[];

/*
 * The Accept value the daemon keys a record of C under: every header
 * line, joined with commas, as the daemon joins them. 0, or -ENAMETOOLONG
 * when OUTLEN bytes are too few.
 */
int client_accept_value(const struct client_accept *c, char *out,
			size_t outlen);

/* True when a manifest of MEDIA_TYPE answers the Accept value ACCEPT. */
bool accept_allows(const char *accept, const char *media_type);

/*
 * The storage key of the tag record for REGISTRY/REPOSITORY:TAG under the
 * (not yet normalised) Accept value ACCEPT. REPOSITORY is the name the
 * upstream uses (after the registry plugin's repository()). 0, -EINVAL or
 * -ENAMETOOLONG.
 */
int tag_record_key(const char *registry, const char *repository,
		   const char *tag, const char *accept, char *out,
		   size_t outlen);

/*
 * Split a tag record key back into REGISTRY, REPOSITORY and TAG. Returns
 * 0 or -EINVAL when KEY is not one.
 */
int tag_record_key_parse(const char *key, char *registry, size_t reglen,
			 char *repository, size_t repolen, char *tag,
			 size_t taglen);

/* ---- tar.c: ustar archives -------------------------------------------- */

/*
 * Write a ustar header for a regular file NAME of SIZE bytes (or, when
 * DIR, a directory) to OUT, followed by nothing: the caller writes the
 * data and then tar_pad(). Names up to 100 bytes, sizes of any width (the
 * base-256 form above 8 GiB). 0 or -errno.
 */
int tar_header(FILE *out, const char *name, uint64_t size, bool dir,
	       int64_t mtime);

/* Pad the entry just written to a 512-byte boundary. 0 or -errno. */
int tar_pad(FILE *out, uint64_t size);

/* Write the two zero blocks that end an archive. 0 or -errno. */
int tar_end(FILE *out);

/* One entry as tar_next() reads it. */
struct tar_entry {
	char name[256];		/* without a leading "./" */
	uint64_t size;
	char type;		/* '0' regular, '5' directory, ... */
};

/*
 * Read the next header from IN, skipping pax and GNU long-name records
 * (their names are not needed: vkdr's own entries fit a ustar header).
 * Returns 1 with ENTRY, 0 at the end of the archive, or -EINVAL for a
 * damaged header, -EIO on a read error. The caller then reads or skips
 * exactly ENTRY->size bytes and calls tar_skip_pad().
 */
int tar_next(FILE *in, struct tar_entry *entry);

/* Skip the padding after an entry of SIZE bytes. 0 or -EIO. */
int tar_skip_pad(FILE *in, uint64_t size);

/* ---- pull.c, layout.c: the commands ----------------------------------- */

int prefetch_run(const struct vkdr_host *host, int argc, char **argv);
int export_cache_run(const struct vkdr_host *host, int argc, char **argv);
int import_cache_run(const struct vkdr_host *host, int argc, char **argv);

/* --NAME=VALUE: the value when ARG is that option, else NULL. */
const char *option_value(const char *arg, const char *name);

#endif
