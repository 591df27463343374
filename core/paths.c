/*
 * paths.c - the file layout under $VKDR_HOME.
 *
 * The registry file sits where the vkdr shell tooling has always kept it,
 * so k3d keeps getting the same --registry-config path.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

#define CONFIG_SUBDIR "/scripts/.util/configs"

static char home[PATH_MAX];
static char registry_config[PATH_MAX];
static char settings[PATH_MAX];
static char plugins[PATH_MAX];

const char *paths_home(void)
{
	return home;
}

const char *paths_registry_config(void)
{
	return registry_config;
}

const char *paths_settings(void)
{
	return settings;
}

const char *paths_plugins(void)
{
	return plugins;
}

static int join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s%s", a, b);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int paths_init(void)
{
	const char *env = getenv("VKDR_HOME");
	const char *user_home = getenv("HOME");
	int rc;

	if (env && *env) {
		rc = join(home, env, "");
	} else {
		if (!user_home || !*user_home) {
			struct passwd *pw = getpwuid(getuid());

			user_home = pw ? pw->pw_dir : NULL;
		}
		if (!user_home)
			return -ENOENT;
		rc = join(home, user_home, "/.vkdr");
	}
	if (rc == 0)
		rc = join(registry_config, home,
			  CONFIG_SUBDIR "/mirror-registry.yaml");
	if (rc == 0)
		rc = join(settings, home,
			  CONFIG_SUBDIR "/mirror-settings.yaml");
	if (rc == 0)
		rc = join(plugins, home, "/plugins");
	return rc;
}

int paths_mkdir_parent(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	p = strrchr(buf, '/');
	if (!p || p == buf)
		return 0;
	*p = '\0';

	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
