/*
 * loader.h - finding, checking and loading modules.
 */
#ifndef VKDR_CORE_LOADER_H
#define VKDR_CORE_LOADER_H

#include <vkdr/module.h>

/*
 * Load every module found in, in order: $VKDR_PLUGIN_PATH (colon
 * separated), the build tree when the running binary is the uninstalled
 * one, $VKDR_HOME/plugins, and the installed module directory. The first
 * module of a name wins. A file that cannot be loaded is recorded with the
 * reason and skipped; it never stops the others.
 */
void loader_load_all(const struct vkdr_host *host);

/* Load the modules of one directory (also used by the tests). */
void loader_load_dir(const struct vkdr_host *host, const char *dir);

/* Load one file; 0, or a negative errno with the reason recorded. */
int loader_load_file(const struct vkdr_host *host, const char *path);

/* Call every module's fini() and dlclose() them all. */
void loader_unload_all(void);

const struct vkdr_command *loader_find_command(const char *group,
					       const char *verb);
/* Call FN for every command of GROUP (every group when GROUP is NULL). */
void loader_each_command(const char *group,
			 void (*fn)(void *arg, const struct vkdr_command *c),
			 void *arg);

const struct vkdr_registry_ops *
loader_find_registry(const char *registry, const struct vkdr_module **mod);
const struct vkdr_storage_ops *loader_find_storage(const char *name);

int loader_walk(int (*fn)(void *arg, const struct vkdr_module_info *info,
			  const char *reason),
		void *arg);

/* The reason the last skipped file was refused, for tests. */
const char *loader_last_error(void);

#endif
