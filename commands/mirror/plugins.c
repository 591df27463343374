/*
 * plugins.c - vkdr mirror plugins: what the loader found, so a user can
 * tell why a registry has no plugin or a drop-in module was not used.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mirror.h"

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case VKDR_MODULE_COMMAND:
		return "command";
	case VKDR_MODULE_REGISTRY:
		return "registry";
	case VKDR_MODULE_STORAGE:
		return "storage";
	}
	return "unknown";
}

struct walk_state {
	size_t loaded;
	size_t skipped;
};

static int print_module(void *arg, const struct vkdr_module_info *info,
			const char *reason)
{
	struct walk_state *st = arg;
	const struct vkdr_module *mod = info->module;

	if (!mod) {
		if (st->skipped++ == 0)
			printf("\nSkipped files:\n");
		printf("  %s\n    %s\n", info->path, reason ? reason : "");
		return 0;
	}

	if (st->loaded++ == 0)
		printf("%-9s %-12s %-9s %s\n", "KIND", "NAME", "VERSION",
		       "FILE");
	printf("%-9s %-12s %-9s %s\n", kind_name(mod->kind), mod->name,
	       mod->version, info->path);
	if (mod->kind == VKDR_MODULE_REGISTRY) {
		const struct vkdr_registry_ops *ops = mod->ops;

		printf("%-9s claims:", "");
		for (const char *const *c = ops->claims; *c; c++)
			printf("%s %s", c == ops->claims ? "" : ",", *c);
		printf("\n");
	}
	return 0;
}

int cmd_plugins(const struct vkdr_host *host, int argc, char **argv)
{
	struct walk_state st = { 0 };
	int rc;

	rc = parse_opts("plugins", argc, argv,
			(const struct opt[]){ { 0 } }, NULL);
	if (rc)
		return rc;

	host->modules_walk(print_module, &st);
	if (st.loaded == 0)
		printf("No module is loaded.\n");
	if (st.skipped == 0)
		printf("\nNo file was skipped.\n");
	printf("\nModules are looked for in $VKDR_PLUGIN_PATH, then the "
	       "build tree (for an\nuninstalled vkdr), then %s/plugins, "
	       "then the installed module\ndirectory. The first module of "
	       "a name wins.\n", host->home());
	return EXIT_OK;
}
