/*
 * oci.c - grammar, paths, ranges, Accept sets and storage keys.
 *
 * Every string that reaches a storage key or an upstream URL passes one of
 * the checks here first. The checks are written as small hand-made
 * scanners rather than regular expressions: the grammar is tiny, and a
 * scanner says exactly which byte it refused.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. Returns the
 * number of bytes it spans in S (up to END), or 0 when it is invalid.
 */
static size_t scan_component(const char *s, const char *end)
{
	const char *p = s;

	if (p >= end || !is_lower_alnum(*p))
		return 0;
	while (p < end) {
		while (p < end && is_lower_alnum(*p))
			p++;
		if (p >= end || *p == '/')
			break;
		if (*p == '.') {
			p++;
		} else if (*p == '_') {
			p++;
			if (p < end && *p == '_')
				p++;
		} else if (*p == '-') {
			while (p < end && *p == '-')
				p++;
		} else {
			return 0;
		}
		/* A separator must be followed by more alphanumerics. */
		if (p >= end || !is_lower_alnum(*p))
			return 0;
	}
	return (size_t)(p - s);
}

bool oci_name_valid(const char *name)
{
	size_t len = strlen(name);
	const char *p = name, *end = name + len;

	if (len == 0 || len > OCI_NAME_MAX)
		return false;
	for (;;) {
		size_t n = scan_component(p, end);

		if (n == 0)
			return false;
		p += n;
		if (p == end)
			return true;
		/* scan_component stops only at the end or at a slash. */
		p++;
	}
}

bool oci_tag_valid(const char *tag)
{
	size_t len = strlen(tag);

	if (len == 0 || len > OCI_TAG_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = tag[i];

		if (isalnum((unsigned char)c) || c == '_')
			continue;
		if (i > 0 && (c == '.' || c == '-'))
			continue;
		return false;
	}
	return true;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

enum oci_error oci_digest_check(const char *digest)
{
	const char *colon = strchr(digest, ':');
	const char *p;

	if (!colon || colon == digest || !colon[1])
		return OCI_ERR_DIGEST;

	/* algorithm: [a-z0-9]+([+._-][a-z0-9]+)* */
	for (p = digest; p < colon; p++) {
		bool sep = *p == '+' || *p == '.' || *p == '_' || *p == '-';

		if (is_lower_alnum(*p))
			continue;
		if (!sep || p == digest || p + 1 == colon ||
		    !is_lower_alnum(p[1]))
			return OCI_ERR_DIGEST;
	}
	/* encoded: [a-zA-Z0-9=_-]+ */
	for (p = colon + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '=' && *p != '_' &&
		    *p != '-')
			return OCI_ERR_DIGEST;

	if ((size_t)(colon - digest) != 6 || strncmp(digest, "sha256", 6) != 0)
		return OCI_ERR_UNSUPPORTED;
	if (strlen(colon + 1) != 64)
		return OCI_ERR_DIGEST;
	for (p = colon + 1; *p; p++)
		if (!is_lower_hex(*p))
			return OCI_ERR_DIGEST;
	return OCI_OK;
}

/* Copy the LEN bytes at S into OUT of OUTLEN; false when they don't fit. */
static bool copy_part(char *out, size_t outlen, const char *s, size_t len)
{
	if (len >= outlen)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/*
 * Find the last occurrence of NEEDLE in [S, END). Names may contain
 * "/blobs/" or "/manifests/" themselves, so the route is the last one.
 */
static const char *find_last(const char *s, const char *end,
			     const char *needle)
{
	size_t n = strlen(needle);
	const char *found = NULL;

	for (const char *p = s; p + n <= end; p++)
		if (memcmp(p, needle, n) == 0)
			found = p;
	return found;
}

static enum oci_error check_reference(struct oci_path *out, bool digest_only)
{
	if (strchr(out->reference, ':')) {
		out->by_digest = true;
		return oci_digest_check(out->reference);
	}
	if (digest_only)
		return OCI_ERR_DIGEST;
	return oci_tag_valid(out->reference) ? OCI_OK : OCI_ERR_TAG;
}

enum oci_error oci_parse_path(const char *target, struct oci_path *out)
{
	static const struct {
		const char *infix;
		enum oci_route route;
		bool has_reference;
	} routes[] = {
		{ "/manifests/", OCI_ROUTE_MANIFEST, true },
		{ "/blobs/", OCI_ROUTE_BLOB, true },
		{ "/referrers/", OCI_ROUTE_REFERRERS, true },
		{ "/tags/list", OCI_ROUTE_TAGS, false },
	};
	const char *q = strchr(target, '?');
	const char *end = q ? q : target + strlen(target);
	const char *name = target + 4, *best = NULL;
	size_t best_i = 0;

	memset(out, 0, sizeof(*out));
	if ((size_t)(end - target) == 8 && !memcmp(target, "/metrics", 8)) {
		out->route = OCI_ROUTE_METRICS;
		return OCI_OK;
	}
	if ((end - target == 3 && !memcmp(target, "/v2", 3)) ||
	    (end - target == 4 && !memcmp(target, "/v2/", 4))) {
		out->route = OCI_ROUTE_BASE;
		return OCI_OK;
	}
	if (end - target < 5 || memcmp(target, "/v2/", 4) != 0)
		return OCI_ERR_NOT_FOUND;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *at = find_last(name, end, routes[i].infix);

		if (at && (!best || at > best)) {
			best = at;
			best_i = i;
		}
	}
	if (!best || best == name)
		return OCI_ERR_NOT_FOUND;

	out->route = routes[best_i].route;
	if (!routes[best_i].has_reference &&
	    best + strlen(routes[best_i].infix) != end)
		return OCI_ERR_NOT_FOUND;
	if (!copy_part(out->name, sizeof(out->name), name,
		       (size_t)(best - name)) ||
	    !oci_name_valid(out->name))
		return OCI_ERR_NAME;
	if (!routes[best_i].has_reference)
		return OCI_OK;

	best += strlen(routes[best_i].infix);
	if (!copy_part(out->reference, sizeof(out->reference), best,
		       (size_t)(end - best))) {
		bool tag = out->route == OCI_ROUTE_MANIFEST &&
			   !memchr(best, ':', (size_t)(end - best));

		return tag ? OCI_ERR_TAG : OCI_ERR_DIGEST;
	}
	return check_reference(out, out->route != OCI_ROUTE_MANIFEST);
}

static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (s == end)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

int oci_range_parse(const char *header, uint64_t size, struct oci_range *r)
{
	const char *spec, *dash, *end;
	uint64_t a, b;

	if (!header)
		return 0;
	while (*header == ' ')
		header++;
	if (strncasecmp(header, "bytes=", 6) != 0)
		return 0;
	spec = header + 6;
	if (strchr(spec, ','))
		return 0;
	end = spec + strlen(spec);
	while (end > spec && end[-1] == ' ')
		end--;
	while (spec < end && *spec == ' ')
		spec++;
	dash = memchr(spec, '-', (size_t)(end - spec));
	if (!dash)
		return 0;

	if (dash == spec) {
		/* A suffix: the last N bytes. */
		if (!parse_u64(dash + 1, end, &b))
			return 0;
		if (b == 0 || size == 0)
			return -ERANGE;
		r->first = b >= size ? 0 : size - b;
		r->last = size - 1;
		return 1;
	}
	if (!parse_u64(spec, dash, &a))
		return 0;
	if (dash + 1 == end) {
		b = UINT64_MAX;
	} else if (!parse_u64(dash + 1, end, &b) || b < a) {
		return 0;
	}
	if (a >= size)
		return -ERANGE;
	r->first = a;
	r->last = b >= size ? size - 1 : b;
	return 1;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int oci_accept_normalise(const char *accept, char *out, size_t outlen)
{
	char buf[2048], *types[64], *save = NULL, *tok;
	size_t n = 0, len = 0;

	if (outlen == 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	if (!accept)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s", accept) >= (int)sizeof(buf))
		return -ENAMETOOLONG;

	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *semi = strchr(tok, ';'), *e;

		if (semi)
			*semi = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*tok)
			continue;
		for (char *c = tok; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (n == sizeof(types) / sizeof(types[0]))
			return -ENAMETOOLONG;
		types[n++] = tok;
	}
	qsort(types, n, sizeof(types[0]), compare_strings);

	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(types[i]);

		if (i > 0 && strcmp(types[i], types[i - 1]) == 0)
			continue;
		if (len + tl + 2 > outlen)
			return -ENAMETOOLONG;
		if (len)
			out[len++] = ',';
		memcpy(out + len, types[i], tl);
		len += tl;
		out[len] = '\0';
	}
	return 0;
}

int oci_blob_key(const char *digest, char *out, size_t outlen)
{
	int n;

	if (oci_digest_check(digest) != OCI_OK)
		return -EINVAL;
	n = snprintf(out, outlen, "blobs/sha256/%s", digest + 7);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

bool oci_registry_valid(const char *registry)
{
	const char *colon = strchr(registry, ':');
	size_t hostlen = colon ? (size_t)(colon - registry) : strlen(registry);

	if (hostlen == 0 || hostlen > 253)
		return false;
	for (size_t i = 0; i < hostlen; i++) {
		char c = registry[i];

		if (is_lower_alnum(c) || c == '-')
			continue;
		if (c == '.' && i > 0 && registry[i - 1] != '.' &&
		    i + 1 < hostlen)
			continue;
		return false;
	}
	if (registry[0] == '-' || registry[0] == '.')
		return false;
	if (colon) {
		size_t plen = strlen(colon + 1);

		if (plen == 0 || plen > 5)
			return false;
		for (const char *p = colon + 1; *p; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	return true;
}

bool oci_registry_matches(const char *pattern, const char *registry)
{
	size_t pl, rl;

	if (strcmp(pattern, registry) == 0)
		return strcmp(pattern, "*") != 0;
	if (strncmp(pattern, "*.", 2) != 0)
		return false;
	pl = strlen(pattern + 1);
	rl = strlen(registry);
	/* "*.azurecr.io" covers "x.azurecr.io", not "azurecr.io". */
	return rl > pl && strcmp(registry + rl - pl, pattern + 1) == 0;
}

int oci_tag_key(const char *registry, const char *repository,
		const char *tag, const char *accept, char *out,
		size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char reg[300], enc[2 * OCI_TAG_MAX + 1];
	size_t e = 0;
	int n;

	if (!oci_registry_valid(registry) || !oci_name_valid(repository) ||
	    !oci_tag_valid(tag))
		return -EINVAL;
	snprintf(reg, sizeof(reg), "%s", registry);
	for (char *c = reg; *c; c++)
		if (*c == ':')
			*c = '_';
	for (const char *c = tag; *c; c++) {
		if (*c == '_') {
			enc[e++] = '_';
			enc[e++] = '_';
		} else if (*c >= 'A' && *c <= 'Z') {
			enc[e++] = '_';
			enc[e++] = (char)(*c - 'A' + 'a');
		} else {
			enc[e++] = *c;
		}
	}
	enc[e] = '\0';

	if (!EVP_Digest(accept, strlen(accept), md, &mdlen, EVP_sha256(),
			NULL))
		return -ENOMEM;
	n = snprintf(out, outlen,
		     "tags/%s/%s/%s/%02x%02x%02x%02x%02x%02x%02x%02x", reg,
		     repository, enc, md[0], md[1], md[2], md[3], md[4], md[5],
		     md[6], md[7]);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int oci_parse_size(const char *text, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {
		{ "", 1 },
		{ "b", 1 },
		{ "k", 1ull << 10 },	{ "kib", 1ull << 10 },
		{ "m", 1ull << 20 },	{ "mib", 1ull << 20 },
		{ "g", 1ull << 30 },	{ "gib", 1ull << 30 },
		{ "t", 1ull << 40 },	{ "tib", 1ull << 40 },
		{ "kb", 1000ull },	{ "mb", 1000000ull },
		{ "gb", 1000000000ull }, { "tb", 1000000000000ull },
	};
	const char *p = text;
	uint64_t v;

	while (*p >= '0' && *p <= '9')
		p++;
	if (!parse_u64(text, p, &v))
		return p == text ? -EINVAL : -ERANGE;
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*out = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}
