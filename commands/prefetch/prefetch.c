/*
 * prefetch.c - the prefetch module: "vkdr mirror prefetch", "export-cache"
 * and "import-cache".
 *
 * A cluster's first pull of a big image is slow, and a machine without
 * network cannot pull at all. These commands fill the mirror cache ahead
 * of time (prefetch, through the daemon), and carry a cache to another
 * machine (export-cache, import-cache, through the storage backend). The
 * commands themselves live in pull.c and layout.c.
 */
#include "config.h"

#include <string.h>

#include "prefetch.h"

const char *option_value(const char *arg, const char *name)
{
	size_t len = strlen(name);

	if (strncmp(arg, name, len) != 0 || arg[len] != '=')
		return NULL;
	return arg + len + 1;
}

static const struct vkdr_command prefetch_commands[] = {
	{
		.group = "mirror",
		.verb = "prefetch",
		.summary = "pull images into the mirror cache ahead of time",
		.usage = "vkdr mirror prefetch IMAGE... "
			 "[--platform=OS/ARCH[/VARIANT]] [--all-platforms]",
		.help = "Pulls each IMAGE through the mirror daemon, so that "
			"a later pull is served\n"
			"from the cache. IMAGE is written as for docker pull: "
			"nginx (docker.io/\n"
			"library/nginx:latest), nginx:1.25, "
			"ghcr.io/owner/app@sha256:...\n"
			"The image's registry must be mirrored ('vkdr mirror "
			"add'). When no daemon\n"
			"answers, one is started for the duration of the "
			"command.\n\n"
			"Options:\n"
			"  --platform=OS/ARCH  the platform to take from a "
			"multi-platform image\n"
			"                      (default: this machine's, e.g. "
			"linux/amd64)\n"
			"  --all-platforms     take every platform\n\n"
			"Running it again only hits the cache. The exit "
			"status is 1 when any image\n"
			"failed; each failure is named with its reason.\n",
		.run = prefetch_run,
	},
	{
		.group = "mirror",
		.verb = "export-cache",
		.summary = "write cached images to an OCI layout tar file",
		.usage = "vkdr mirror export-cache --output=FILE.tar "
			 "[IMAGE...]",
		.help = "Writes the cached tags and blobs (all of them, or "
			"those of each IMAGE)\n"
			"as an OCI image layout in a tar file. index.json "
			"names each tag as\n"
			"REGISTRY/NAME:TAG. 'vkdr mirror import-cache' reads "
			"it on another machine.\n",
		.run = export_cache_run,
	},
	{
		.group = "mirror",
		.verb = "import-cache",
		.summary = "load an OCI layout tar file into the mirror cache",
		.usage = "vkdr mirror import-cache FILE.tar",
		.help = "Stores every blob of the archive (each checked "
			"against its digest) and\n"
			"records its tags, so that a pull by tag is served "
			"from the cache even\n"
			"when the upstream cannot be reached. FILE.tar may "
			"be '-' for stdin.\n",
		.run = import_cache_run,
	},
};

static const struct vkdr_command_ops prefetch_ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = prefetch_commands,
	.n_commands = sizeof(prefetch_commands) / sizeof(prefetch_commands[0]),
};

static const struct vkdr_module prefetch_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "prefetch",
	.version = PACKAGE_VERSION,
	.description = "vkdr mirror prefetch, export-cache and import-cache: "
		       "fill and carry the cache",
	.ops = &prefetch_ops,
};

VKDR_MODULE_DEFINE(prefetch_module);
