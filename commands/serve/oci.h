/*
 * oci.h - the pieces of the OCI Distribution API the daemon checks before
 * it touches the store or the network: the grammar of names, tags and
 * digests, the request paths, Range headers, Accept sets, and the storage
 * keys built from them.
 *
 * Everything here is pure: no allocation, no I/O, no locks. That keeps it
 * testable in isolation and safe to call from any thread.
 */
#ifndef VKDR_SERVE_OCI_H
#define VKDR_SERVE_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest repository name accepted, registry host excluded. */
#define OCI_NAME_MAX 255
/* Longest tag the grammar allows. */
#define OCI_TAG_MAX 128
/* "sha256:" and 64 hex digits. */
#define OCI_DIGEST_LEN 71
/* Longest storage key the daemon builds. */
#define OCI_KEY_MAX 768

/* What a request path asks for. */
enum oci_route {
	OCI_ROUTE_UNKNOWN = 0,
	OCI_ROUTE_BASE,		/* /v2/ */
	OCI_ROUTE_MANIFEST,	/* /v2/<name>/manifests/<reference> */
	OCI_ROUTE_BLOB,		/* /v2/<name>/blobs/<digest> */
	OCI_ROUTE_TAGS,		/* /v2/<name>/tags/list */
	OCI_ROUTE_REFERRERS,	/* /v2/<name>/referrers/<digest> */
	OCI_ROUTE_METRICS,	/* /metrics */
};

/* Why a path was refused; each maps to one spec error code. */
enum oci_error {
	OCI_OK = 0,
	OCI_ERR_NOT_FOUND,	/* no such route */
	OCI_ERR_NAME,		/* NAME_INVALID */
	OCI_ERR_TAG,		/* TAG_INVALID */
	OCI_ERR_DIGEST,		/* DIGEST_INVALID */
	OCI_ERR_UNSUPPORTED,	/* a digest algorithm we cannot verify */
};

struct oci_path {
	enum oci_route route;
	char name[OCI_NAME_MAX + 1];
	/*
	 * A tag or a digest; empty for the routes without one. Room for
	 * digests of longer algorithms, so they are refused as unsupported
	 * rather than as malformed.
	 */
	char reference[256];
	bool by_digest;
};

/* True when NAME matches the repository name grammar of the spec. */
bool oci_name_valid(const char *name);

/* True when TAG matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
bool oci_tag_valid(const char *tag);

/*
 * Check a digest: OCI_OK for sha256 with 64 lowercase hex digits,
 * OCI_ERR_UNSUPPORTED for a well-formed digest of another algorithm,
 * OCI_ERR_DIGEST for anything else.
 */
enum oci_error oci_digest_check(const char *digest);

/*
 * Split the raw request target (path and query, as the client sent it,
 * before any percent-decoding) into OUT. Nothing is decoded: a '%' in the
 * path can only be an attempt to smuggle a character the grammar forbids,
 * so it makes the path invalid. The query string is ignored. Returns
 * OCI_OK or the reason the path is refused; on refusal OUT->route still
 * says which route was meant when that much was clear.
 */
enum oci_error oci_parse_path(const char *target, struct oci_path *out);

/* A byte range, both ends inclusive. */
struct oci_range {
	uint64_t first;
	uint64_t last;
};

/*
 * Parse a Range header against an object of SIZE bytes. Returns 1 with R
 * set for one satisfiable range ("bytes=N-", "bytes=N-M", "bytes=-S"), 0
 * when the whole object should be sent (no header, a syntax we ignore as
 * RFC 9110 allows, or several ranges), or -ERANGE when the range cannot
 * be satisfied (answer 416).
 */
int oci_range_parse(const char *header, uint64_t size, struct oci_range *r);

/*
 * Normalise an Accept header into OUT: media types without parameters,
 * lowercased, sorted, duplicates removed, joined by ','. NULL or an empty
 * header gives "". Returns 0 or -ENAMETOOLONG.
 */
int oci_accept_normalise(const char *accept, char *out, size_t outlen);

/*
 * Storage key of a blob or manifest with DIGEST (already checked):
 * "blobs/sha256/<hex>". Returns 0 or -ENAMETOOLONG.
 */
int oci_blob_key(const char *digest, char *out, size_t outlen);

/*
 * Storage key of the tag record for REGISTRY, REPOSITORY, TAG and the
 * normalised Accept set ACCEPT:
 * "tags/<registry>/<repository>/<tag>/<accept-hash>". The registry's ':'
 * becomes '_'; in the tag, '_' becomes "__" and an uppercase letter '_'
 * and its lowercase form, so every key is in [a-z0-9._/-] and no two tags
 * share one. Returns 0, -EINVAL for an input outside the grammar, or
 * -ENAMETOOLONG.
 */
int oci_tag_key(const char *registry, const char *repository,
		const char *tag, const char *accept, char *out,
		size_t outlen);

/*
 * True when REGISTRY (a host, maybe with a port) is a plausible registry
 * name: [a-z0-9.-] labels and an optional ":port". Used on the ns query
 * parameter before it is compared with the configuration.
 */
bool oci_registry_valid(const char *registry);

/*
 * True when PATTERN (a configured mirror host: "docker.io" or
 * "*.azurecr.io") covers REGISTRY. A bare "*" covers nothing: serving
 * every registry a client names would make the daemon an open proxy.
 */
bool oci_registry_matches(const char *pattern, const char *registry);

/*
 * Parse a size as users write it ("500MiB", "2G", "1048576"); K, M, G, T
 * and their "iB" forms are powers of 1024, "KB", "MB"... powers of 1000.
 * Returns 0 with *OUT set, -EINVAL or -ERANGE.
 */
int oci_parse_size(const char *text, uint64_t *out);

#endif
