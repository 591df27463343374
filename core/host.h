/*
 * host.h - the struct vkdr_host the core hands to every module.
 */
#ifndef VKDR_CORE_HOST_H
#define VKDR_CORE_HOST_H

#include <vkdr/module.h>

const struct vkdr_host *host_get(void);

#endif
