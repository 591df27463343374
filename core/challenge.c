/*
 * challenge.c - auth-param lookup in WWW-Authenticate values (RFC 7235).
 *
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * One header may carry several challenges separated by commas, so a comma
 * alone does not say whether the next token is a parameter or a new scheme:
 * a token followed by "=" is a parameter, any other token starts a
 * challenge. Registries send exactly this ("Bearer realm=...,scope=...").
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "challenge.h"

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("-._~+/", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* Copy a token or quoted string at *P to OUT (if non-NULL); advance *P. */
static int read_value(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t n = 0;
	bool too_long = false;

	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			if (out && n + 1 < outlen)
				out[n++] = *p;
			else if (out)
				too_long = true;
			p++;
		}
		if (*p != '"')
			return -EINVAL;
		p++;
	} else {
		while (is_tchar(*p)) {
			if (out && n + 1 < outlen)
				out[n++] = *p;
			else if (out)
				too_long = true;
			p++;
		}
	}
	if (out && outlen)
		out[n] = '\0';
	*pp = p;
	return too_long ? -ENAMETOOLONG : 0;
}

int challenge_param(const char *header, const char *scheme, const char *name,
		    char *out, size_t outlen)
{
	const char *p = header;
	bool in_scheme = false;
	int rc;

	if (!header)
		return -ENOENT;

	for (;;) {
		const char *tok, *after;
		size_t toklen;

		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' ||
		       *p == '\n')
			p++;
		if (!*p)
			return -ENOENT;

		tok = p;
		while (is_tchar(*p))
			p++;
		toklen = (size_t)(p - tok);
		if (toklen == 0)
			return -ENOENT;	/* not a header we can read */

		after = skip_ws(p);
		if (*after == '=' && after[1] != '=') {
			/* An auth-param of the current challenge. */
			p = skip_ws(after + 1);
			if (in_scheme && strlen(name) == toklen &&
			    strncasecmp(tok, name, toklen) == 0)
				return read_value(&p, out, outlen);
			rc = read_value(&p, NULL, 0);
			if (rc < 0)
				return rc;
			continue;
		}

		/* A new challenge: its scheme, maybe followed by token68. */
		in_scheme = strlen(scheme) == toklen &&
			    strncasecmp(tok, scheme, toklen) == 0;
		p = skip_ws(p);
		if (is_token68_char(*p)) {
			const char *q = p;

			while (is_token68_char(*q))
				q++;
			while (*q == '=')
				q++;
			q = skip_ws(q);
			/* token68 only when nothing but a comma follows. */
			if (!*q || *q == ',')
				p = q;
		}
	}
}
