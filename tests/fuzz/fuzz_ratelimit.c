/*
 * fuzz_ratelimit.c - the Docker Hub plugin's reading of rate-limit
 * headers (plugins/dockerhub/dockerhub.c, observe_header), which sees
 * every header of every upstream answer.
 *
 * Input: header lines "Name: value", separated by newlines, shown to the
 * plugin in order through its vtable, as the daemon does.
 */
#include "fuzz.h"

#include <vkdr/module.h>

const struct vkdr_module *vkdr_module_entry(void);

static void quiet_log(enum vkdr_log_level level, const char *module,
		      const char *fmt, ...)
{
}

static bool no_debug(enum vkdr_log_level level)
{
	return false;
}

static const struct vkdr_host host = {
	.version = VKDR_HOST_VERSION,
	.size = sizeof(struct vkdr_host),
	.log = quiet_log,
	.log_enabled = no_debug,
	.free = free,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct vkdr_registry_ops *ops = vkdr_module_entry()->ops;
	const char *parts[1];
	char *buf = fuzz_split(data, size, parts, 1);
	char *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		ops->observe_header(&host, "docker.io", line, colon + 1);
	}
	free(buf);
	return 0;
}
