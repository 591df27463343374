/*
 * badabi.c - a module that claims to be built for module ABI 99, which
 * the loader must refuse before touching anything else in it.
 */
#include <vkdr/module.h>

#define BADABI_ABI 99

static const struct vkdr_module module = {
	.abi = BADABI_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "badabi",
	.version = "1",
	.description = "a module from another ABI",
	.ops = "not a vtable",
};

VKDR_MODULE_DEFINE(module);
