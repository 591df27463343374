/*
 * hostname.h - checking registry hosts as users type them.
 */
#ifndef VKDR_CORE_HOSTNAME_H
#define VKDR_CORE_HOSTNAME_H

#include <stddef.h>

/* Longest host vkdr accepts, as DNS allows, not counting ":PORT". */
#define HOSTNAME_MAX 253

/*
 * Check IN, a registry host as a user wrote it: "host", "host:port", or
 * "*.domain" with one leading wildcard label. On success write the
 * canonical form to OUT: the registry plugins are asked whether IN is an
 * alias (their canonical_host slot) and may refuse it (validate_host).
 * The core itself knows no registry by name.
 *
 * Returns 0, -EINVAL with a one-line message in ERR that says how to fix
 * the input (URLs, uppercase, spaces, quotes, paths, bad labels or ports,
 * empty or too long), or -ENAMETOOLONG when OUT is too small.
 */
int hostname_validate(const char *in, char *out, size_t outlen, char *err,
		      size_t errlen);

/* Only the syntax check of hostname_validate(), without the plugins. */
int hostname_check_syntax(const char *in, char *err, size_t errlen);

#endif
