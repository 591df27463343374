/* mirrorconf.c - placeholder until the config layer lands. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "mirrorconf.h"

int mirrorconf_read(struct vkdr_config **cfg, char *err, size_t errlen)
{
	*cfg = calloc(1, sizeof(**cfg));
	return *cfg ? 0 : -ENOMEM;
}

void mirrorconf_free(struct vkdr_config *cfg)
{
	free(cfg);
}

int mirrorconf_add(const struct vkdr_mirror_spec *spec,
		   struct vkdr_mirror **out, char *err, size_t errlen)
{
	return -ENOSYS;
}

int mirrorconf_remove(const char *host, char *err, size_t errlen)
{
	return -ENOSYS;
}

void mirrorconf_mirror_free(struct vkdr_mirror *m)
{
	free(m);
}

int mirrorconf_setting_set(const char *key, const char *value, char *err,
			   size_t errlen)
{
	return -ENOSYS;
}
