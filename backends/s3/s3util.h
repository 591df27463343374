/*
 * s3util.h - the pieces of the s3 backend that need no network: SigV4
 * query signing for presigned URLs, URI encoding, the small XML scanner
 * for ListObjectsV2 answers, and date parsing. Kept apart so that unit
 * tests can check them against published examples.
 */
#ifndef VKDR_S3UTIL_H
#define VKDR_S3UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Percent-encode IN as SigV4 wants it: letters, digits and "-._~" stay,
 * every other byte becomes %XX (upper case); "/" stays when KEEP_SLASH.
 * Returns 0, or -ENAMETOOLONG when OUT (OUTLEN bytes) is too small.
 */
int s3_uri_encode(const char *in, bool keep_slash, char *out, size_t outlen);

/* What a presigned GET URL is computed from; all strings are borrowed. */
struct s3_presign {
	const char *host; /* Host header: "127.0.0.1:7480" */
	const char *path; /* "/bucket/key", unencoded */
	const char *region;
	const char *access_key;
	const char *secret_key;
	const char *token; /* session token or NULL */
	time_t now;
	unsigned ttl; /* seconds, 1..604800 */
};

/*
 * Write the query string (without "?") that makes a GET of P->path on
 * P->host valid until P->now + P->ttl. Returns 0, -EINVAL for a ttl out
 * of range, -ENAMETOOLONG when OUT is too small, or -ENOMEM / -EIO when
 * OpenSSL fails.
 */
int s3_presign_query(const struct s3_presign *p, char *out, size_t outlen);

/*
 * Find the first <TAG>...</TAG> in [*CUR, END). On success return true,
 * set *VAL and *LEN to the element's raw content, and move *CUR past the
 * closing tag. Attributes on the opening tag are not supported (S3 sends
 * none on the elements read here).
 */
bool s3_xml_element(const char **cur, const char *end, const char *tag,
		    const char **val, size_t *len);

/*
 * Copy LEN bytes of XML text at VAL into OUT, replacing the five
 * predefined entities and numeric character references below 128.
 * Returns 0, -EINVAL for an entity it does not know, or -ENAMETOOLONG.
 */
int s3_xml_text(const char *val, size_t len, char *out, size_t outlen);

/* "2026-12-03T17:00:00.000Z" to seconds since the epoch, or -1. */
int64_t s3_parse_iso8601(const char *text);

/* An HTTP date ("Thu, 03 Dec 2026 17:00:00 GMT") to seconds, or -1. */
int64_t s3_parse_http_date(const char *text);

#endif
