/*
 * mirrorconf.h - mirror-registry.yaml and mirror-settings.yaml.
 */
#ifndef VKDR_CORE_MIRRORCONF_H
#define VKDR_CORE_MIRRORCONF_H

#include <vkdr/module.h>

/* See the slots of the same names in struct vkdr_host. */
int mirrorconf_read(struct vkdr_config **cfg, char *err, size_t errlen);
void mirrorconf_free(struct vkdr_config *cfg);
int mirrorconf_add(const struct vkdr_mirror_spec *spec,
		   struct vkdr_mirror **out, char *err, size_t errlen);
int mirrorconf_remove(const char *host, char *err, size_t errlen);
void mirrorconf_mirror_free(struct vkdr_mirror *m);
int mirrorconf_setting_set(const char *key, const char *value, char *err,
			   size_t errlen);

#endif
