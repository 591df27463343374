/*
 * challenge.h - reading WWW-Authenticate challenges (RFC 7235).
 */
#ifndef VKDR_CORE_CHALLENGE_H
#define VKDR_CORE_CHALLENGE_H

#include <stddef.h>

/* See struct vkdr_host.challenge_param. */
int challenge_param(const char *header, const char *scheme, const char *name,
		    char *out, size_t outlen);

#endif
