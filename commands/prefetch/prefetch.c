/*
 * prefetch.c - "vkdr mirror prefetch", "export-cache" and "import-cache".
 */
#include "config.h"

#include <vkdr/module.h>

static const struct vkdr_command_ops prefetch_ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = NULL,
	.n_commands = 0,
};

static const struct vkdr_module prefetch_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "prefetch",
	.version = PACKAGE_VERSION,
	.description = "vkdr mirror prefetch, export-cache, import-cache",
	.ops = &prefetch_ops,
};

VKDR_MODULE_DEFINE(prefetch_module);
