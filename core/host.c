/*
 * host.c - the services the core offers to modules, in one const table.
 */
#include "config.h"

#include <stdlib.h>

#include "challenge.h"
#include "cli.h"
#include "credentials.h"
#include "host.h"
#include "hostname.h"
#include "http.h"
#include "loader.h"
#include "log.h"
#include "mirrorconf.h"
#include "paths.h"

static const struct vkdr_host host = {
	.version = VKDR_HOST_VERSION,
	.size = sizeof(struct vkdr_host),
	.log = log_line,
	.log_enabled = log_enabled,
	.free = free,
	.home = paths_home,
	.registry_config_path = paths_registry_config,
	.settings_path = paths_settings,
	.config_read = mirrorconf_read,
	.config_free = mirrorconf_free,
	.mirror_add = mirrorconf_add,
	.mirror_remove = mirrorconf_remove,
	.mirror_free = mirrorconf_mirror_free,
	.host_validate = hostname_validate,
	.setting_set = mirrorconf_setting_set,
	.registry_find = loader_find_registry,
	.storage_find = loader_find_storage,
	.modules_walk = loader_walk,
	.http = http_request,
	.challenge_param = challenge_param,
	.credentials_find = credentials_find,
	.command_run = cli_run_command,
};

const struct vkdr_host *host_get(void)
{
	return &host;
}
