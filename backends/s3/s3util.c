/*
 * s3util.c - network-free helpers of the s3 backend: SigV4 presigning,
 * URI encoding, the XML scanner for listings, and dates.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "s3util.h"

int s3_uri_encode(const char *in, bool keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain =
			(*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			*p == '_' || *p == '~' || (keep_slash && *p == '/');

		if (o + (plain ? 1 : 3) >= outlen)
			return -ENAMETOOLONG;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= outlen)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int sha256_hex(const char *text, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
		return -EIO;
	to_hex(md, mdlen, out);
	return 0;
}

/* OUT = HMAC-SHA256(KEY, DATA); OUT has room for 32 bytes. */
static int hmac(const void *key, size_t keylen, const char *data,
		unsigned char out[32])
{
	unsigned int len = 32;

	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data,
		  strlen(data), out, &len))
		return -EIO;
	return 0;
}

/*
 * The SigV4 signing key: HMAC chained over the date, region, service and
 * the terminator, starting from "AWS4" and the secret.
 */
static int signing_key(const struct s3_presign *p, const char *day,
		       unsigned char key[32])
{
	size_t slen = strlen(p->secret_key) + 5;
	char *start = malloc(slen);
	int rc;

	if (!start)
		return -ENOMEM;
	snprintf(start, slen, "AWS4%s", p->secret_key);
	rc = hmac(start, slen - 1, day, key);
	OPENSSL_cleanse(start, slen);
	free(start);
	if (rc == 0)
		rc = hmac(key, 32, p->region, key);
	if (rc == 0)
		rc = hmac(key, 32, "s3", key);
	if (rc == 0)
		rc = hmac(key, 32, "aws4_request", key);
	return rc;
}

int s3_presign_query(const struct s3_presign *p, char *out, size_t outlen)
{
	char stamp[17], day[9], scope[128], cred[512], enc_cred[1024];
	char enc_token[4096] = "", enc_path[2048], hash[65], sig[65];
	char *canon = NULL, *to_sign = NULL;
	unsigned char key[32], mac[32];
	struct tm tm;
	size_t len;
	int n, rc;

	if (p->ttl < 1 || p->ttl > 604800)
		return -EINVAL;
	if (!gmtime_r(&p->now, &tm))
		return -EINVAL;
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	snprintf(scope, sizeof(scope), "%s/%s/s3/aws4_request", day, p->region);
	n = snprintf(cred, sizeof(cred), "%s/%s", p->access_key, scope);
	if (n < 0 || (size_t)n >= sizeof(cred))
		return -ENAMETOOLONG;
	rc = s3_uri_encode(cred, false, enc_cred, sizeof(enc_cred));
	if (rc == 0 && p->token)
		rc = s3_uri_encode(p->token, false, enc_token,
				   sizeof(enc_token));
	if (rc == 0)
		rc = s3_uri_encode(p->path, true, enc_path, sizeof(enc_path));
	if (rc < 0)
		return rc;

	/* The parameters in byte order, as the canonical request needs. */
	n = snprintf(out, outlen,
		     "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s"
		     "&X-Amz-Date=%s&X-Amz-Expires=%u%s%s"
		     "&X-Amz-SignedHeaders=host",
		     enc_cred, stamp, p->ttl,
		     p->token ? "&X-Amz-Security-Token=" : "", enc_token);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;

	len = strlen(enc_path) + strlen(out) + strlen(p->host) + 64;
	canon = malloc(len);
	if (!canon)
		return -ENOMEM;
	snprintf(canon, len, "GET\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD",
		 enc_path, out, p->host);
	rc = sha256_hex(canon, hash);
	if (rc < 0)
		goto out_free_canon;

	len = strlen(scope) + 128;
	to_sign = malloc(len);
	if (!to_sign) {
		rc = -ENOMEM;
		goto out_free_canon;
	}
	snprintf(to_sign, len, "AWS4-HMAC-SHA256\n%s\n%s\n%s", stamp, scope,
		 hash);
	rc = signing_key(p, day, key);
	if (rc == 0)
		rc = hmac(key, sizeof(key), to_sign, mac);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc < 0)
		goto out_free_to_sign;
	to_hex(mac, sizeof(mac), sig);

	len = strlen(out);
	n = snprintf(out + len, outlen - len, "&X-Amz-Signature=%s", sig);
	if (n < 0 || (size_t)n >= outlen - len)
		rc = -ENAMETOOLONG;

out_free_to_sign:
	free(to_sign);
out_free_canon:
	free(canon);
	return rc;
}

bool s3_xml_element(const char **cur, const char *end, const char *tag,
		    const char **val, size_t *len)
{
	size_t tlen = strlen(tag);
	const char *p = *cur, *close;

	for (;;) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p || (size_t)(end - p) < tlen + 2)
			return false;
		if (!strncmp(p + 1, tag, tlen) && p[tlen + 1] == '>')
			break;
		p++;
	}
	p += tlen + 2;
	for (close = p;; close++) {
		close = memchr(close, '<', (size_t)(end - close));
		if (!close || (size_t)(end - close) < tlen + 3)
			return false;
		if (close[1] == '/' && !strncmp(close + 2, tag, tlen) &&
		    close[tlen + 2] == '>')
			break;
	}
	*val = p;
	*len = (size_t)(close - p);
	*cur = close + tlen + 3;
	return true;
}

struct entity {
	const char *name;
	char c;
};

static const struct entity entities[] = {
	{ "amp;", '&' },  { "lt;", '<' },    { "gt;", '>' },
	{ "quot;", '"' }, { "apos;", '\'' },
};

int s3_xml_text(const char *val, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = val[i];

		if (c == '&') {
			const char *rest = val + i + 1;
			size_t left = len - i - 1, k;

			for (k = 0; k < sizeof(entities) / sizeof(*entities);
			     k++) {
				size_t n = strlen(entities[k].name);

				if (left >= n &&
				    !strncmp(rest, entities[k].name, n)) {
					c = entities[k].c;
					i += n;
					break;
				}
			}
			if (k == sizeof(entities) / sizeof(*entities)) {
				char num[8];
				size_t n = 0;
				long v;

				if (left < 3 || rest[0] != '#')
					return -EINVAL;
				while (n + 1 < left && n < sizeof(num) - 1 &&
				       rest[n + 1] >= '0' &&
				       rest[n + 1] <= '9') {
					num[n] = rest[n + 1];
					n++;
				}
				num[n] = '\0';
				if (!n || n + 1 >= left || rest[n + 1] != ';')
					return -EINVAL;
				v = strtol(num, NULL, 10);
				if (v < 1 || v > 127)
					return -EINVAL;
				c = (char)v;
				i += n + 2;
			}
		}
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	if (o >= outlen)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

int64_t s3_parse_iso8601(const char *text)
{
	struct tm tm = { 0 };
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return -1;
	return (int64_t)timegm(&tm);
}

int64_t s3_parse_http_date(const char *text)
{
	struct tm tm = { 0 };

	if (!strptime(text, "%a, %d %b %Y %H:%M:%S", &tm))
		return -1;
	return (int64_t)timegm(&tm);
}
