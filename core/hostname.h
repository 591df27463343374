/*
 * hostname.h - checking registry hosts as users type them.
 */
#ifndef VKDR_CORE_HOSTNAME_H
#define VKDR_CORE_HOSTNAME_H

#include <stddef.h>

/* See struct vkdr_host.host_validate. */
int hostname_validate(const char *in, char *out, size_t outlen, char *err,
		      size_t errlen);

#endif
