/*
 * credentials.h - where the credentials for an upstream come from.
 */
#ifndef VKDR_CORE_CREDENTIALS_H
#define VKDR_CORE_CREDENTIALS_H

/* See struct vkdr_host.credentials_find. */
int credentials_find(const char *registry, char **username,
		     char **password);

#endif
