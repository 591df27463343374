/*
 * paths.h - where vkdr keeps things.
 */
#ifndef VKDR_CORE_PATHS_H
#define VKDR_CORE_PATHS_H

/* $VKDR_HOME, or ~/.vkdr. Never NULL once paths_init() returned 0. */
const char *paths_home(void);
/* $VKDR_HOME/scripts/.util/configs/mirror-registry.yaml */
const char *paths_registry_config(void);
/* $VKDR_HOME/scripts/.util/configs/mirror-settings.yaml */
const char *paths_settings(void);
/* $VKDR_HOME/plugins, the user's drop-in directory. */
const char *paths_plugins(void);

/* Compute the paths from the environment; 0 or -ENOENT (no home). */
int paths_init(void);

/* mkdir -p for the directory part of PATH; 0 or a negative errno. */
int paths_mkdir_parent(const char *path);

#endif
