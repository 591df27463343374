/*
 * filesystem.c - the "filesystem" storage backend, the default one.
 *
 * The work is done in fsstore.c, which the "faulty" test backend shares;
 * this file only describes the module.
 */
#include "config.h"

#include "fsstore.h"

static const struct vkdr_module filesystem_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_STORAGE,
	.name = "filesystem",
	.version = PACKAGE_VERSION,
	.description = "cache objects as files in a directory (default)",
	.ops = &fsstore_ops,
};

VKDR_MODULE_DEFINE(filesystem_module);
