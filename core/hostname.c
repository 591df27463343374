/*
 * hostname.c - registry hosts as users type them.
 *
 * A host ends up as a key in k3s's registries.yaml and as the name a
 * registry plugin is chosen by, so it is checked strictly here, once, with
 * messages that show the corrected input whenever it can be guessed. What
 * counts as an alias of which registry is for the plugins to say.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostname.h"
#include "loader.h"

#define LABEL_MAX 63

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * The host a user most likely meant: without blanks, quotes, a URL scheme,
 * a path or a trailing dot, and in lowercase. Empty when nothing is left.
 */
static void guess_host(const char *in, char *out, size_t outlen)
{
	const char *p = in, *scheme;
	size_t n = 0;

	scheme = strstr(in, "://");
	if (scheme)
		p = scheme + 3;
	for (; *p && *p != '/' && n + 1 < outlen; p++) {
		if (isspace((unsigned char)*p) || *p == '"' || *p == '\'')
			continue;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
}

static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* One DNS label of LEN bytes at P; FIRST allows the "*" wildcard. */
static int check_label(const char *host, const char *p, size_t len,
		       bool first, char *err, size_t errlen)
{
	if (len == 0) {
		set_err(err, errlen, "'%s' has an empty label (a leading, "
				     "trailing or doubled dot)", host);
		return -EINVAL;
	}
	if (len == 1 && *p == '*') {
		if (first)
			return 0;
		set_err(err, errlen, "'%s': a wildcard is allowed only as the "
				     "whole first label, as in "
				     "*.example.com", host);
		return -EINVAL;
	}
	if (len > LABEL_MAX) {
		set_err(err, errlen, "'%s' has a label of %zu characters; DNS "
				     "allows at most %d", host, len,
			LABEL_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '*') {
			set_err(err, errlen,
				"'%s': a wildcard is allowed only as the "
				"whole first label, as in *.example.com",
				host);
			return -EINVAL;
		}
		if (!is_label_char(p[i])) {
			set_err(err, errlen,
				"'%s' contains '%c'; a host may hold only "
				"a-z, 0-9, '-' and dots", host, p[i]);
			return -EINVAL;
		}
	}
	if (p[0] == '-' || p[len - 1] == '-') {
		set_err(err, errlen, "'%s' has a label that starts or ends "
				     "with '-'", host);
		return -EINVAL;
	}
	return 0;
}

static int check_port(const char *host, const char *port, char *err,
		      size_t errlen)
{
	unsigned long value = 0;

	for (const char *p = port; *p; p++) {
		if (!isdigit((unsigned char)*p) || value > 65535) {
			value = 0;
			break;
		}
		value = value * 10 + (unsigned long)(*p - '0');
	}
	if (value < 1 || value > 65535 || strlen(port) > 5) {
		set_err(err, errlen, "'%s' has the port '%s'; a port is a "
				     "number from 1 to 65535", host, port);
		return -EINVAL;
	}
	return 0;
}

/* The checks that do not depend on what the input was meant to be. */
static int check_strict(const char *in, char *err, size_t errlen)
{
	const char *colon = strrchr(in, ':');
	size_t hostlen = colon ? (size_t)(colon - in) : strlen(in);
	const char *label = in;
	int rc;

	if (hostlen > HOSTNAME_MAX) {
		set_err(err, errlen, "the host is %zu characters long; DNS "
				     "allows at most %d", hostlen,
			HOSTNAME_MAX);
		return -EINVAL;
	}
	if (strcmp(in, "*") == 0) {
		set_err(err, errlen, "a catch-all mirror '*' is not "
				     "supported; add each registry by its "
				     "host");
		return -EINVAL;
	}
	if (colon) {
		if (memchr(in, ':', hostlen)) {
			set_err(err, errlen, "'%s' has more than one ':'; "
					     "write HOST or HOST:PORT", in);
			return -EINVAL;
		}
		rc = check_port(in, colon + 1, err, errlen);
		if (rc < 0)
			return rc;
	}

	for (const char *p = in;; p++) {
		if (p == in + hostlen || *p == '.') {
			rc = check_label(in, label, (size_t)(p - label),
					 label == in, err, errlen);
			if (rc < 0)
				return rc;
			if (p == in + hostlen)
				break;
			label = p + 1;
		}
	}
	if (in[0] == '*' && hostlen == 1) {
		set_err(err, errlen, "'%s': a wildcard needs a domain after "
				     "it, as in *.example.com", in);
		return -EINVAL;
	}
	return 0;
}

/*
 * The mistakes people make most often, each answered with the corrected
 * host when one can be guessed.
 */
int hostname_check_syntax(const char *in, char *err, size_t errlen)
{
	char guess[HOSTNAME_MAX + 8] = "";
	char hint[HOSTNAME_MAX + 32] = "";
	const char *problem = NULL;

	if (!in || !*in) {
		set_err(err, errlen, "the host is empty; give a registry host "
				     "such as registry.example.com");
		return -EINVAL;
	}

	guess_host(in, guess, sizeof(guess));
	if (guess[0] && strcmp(guess, in) != 0 &&
	    check_strict(guess, NULL, 0) == 0)
		snprintf(hint, sizeof(hint), "; use '%s'", guess);

	if (strchr(in, '"') || strchr(in, '\''))
		problem = "contains quotes, which are not part of a host";
	else if (strpbrk(in, " \t\r\n\f\v"))
		problem = "contains blanks";
	else if (strstr(in, "://"))
		problem = "is a URL; give the registry host alone";
	else if (strchr(in, '/'))
		problem = "has a path; give the registry host alone";
	else if (strcmp(in, guess) != 0 && strlen(in) == strlen(guess) &&
		 strcasecmp(in, guess) == 0)
		problem = "has uppercase letters; hosts are written in "
			  "lowercase";
	else if (in[strlen(in) - 1] == '.')
		problem = "ends with a dot";

	if (problem) {
		set_err(err, errlen, "'%s' %s%s", in, problem, hint);
		return -EINVAL;
	}
	return check_strict(in, err, errlen);
}

struct alias_walk {
	const char *host;
	char *out;
	size_t outlen;
	bool found;
};

static int ask_canonical(void *arg, const struct vkdr_module_info *info,
			 const char *reason)
{
	struct alias_walk *w = arg;
	const struct vkdr_registry_ops *ops;

	if (!info->module || info->module->kind != VKDR_MODULE_REGISTRY)
		return 0;
	ops = info->module->ops;
	if (!ops->canonical_host)
		return 0;
	w->found = ops->canonical_host(w->host, w->out, w->outlen);
	return w->found ? 1 : 0;
}

/*
 * Ask the plugin that claims HOST first, then every other one, so an
 * alias no plugin claims explicitly still finds its canonical name.
 */
static bool canonical_from_plugins(const char *host, char *out,
				   size_t outlen)
{
	const struct vkdr_registry_ops *ops;
	struct alias_walk w = {
		.host = host,
		.out = out,
		.outlen = outlen,
	};

	ops = loader_find_registry(host, NULL);
	if (ops && ops->canonical_host &&
	    ops->canonical_host(host, out, outlen))
		return true;
	loader_walk(ask_canonical, &w);
	return w.found;
}

int hostname_validate(const char *in, char *out, size_t outlen, char *err,
		      size_t errlen)
{
	const struct vkdr_registry_ops *ops;
	char canonical[HOSTNAME_MAX + 8];
	int rc;

	rc = hostname_check_syntax(in, err, errlen);
	if (rc < 0)
		return rc;

	if (canonical_from_plugins(in, canonical, sizeof(canonical))) {
		rc = hostname_check_syntax(canonical, err, errlen);
		if (rc < 0)
			return rc;
	} else {
		snprintf(canonical, sizeof(canonical), "%s", in);
	}

	ops = loader_find_registry(canonical, NULL);
	if (ops && ops->validate_host) {
		rc = ops->validate_host(canonical, err, errlen);
		if (rc < 0)
			return rc;
	}

	if (snprintf(out, outlen, "%s", canonical) >= (int)outlen) {
		set_err(err, errlen, "'%s' does not fit the buffer given",
			canonical);
		return -ENAMETOOLONG;
	}
	return 0;
}
