/*
 * main.c - start-up: find the paths, load the modules, run the command.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "paths.h"

int main(int argc, char **argv)
{
	int rc;

	/* Before modules load, so -v shows why a module was skipped. */
	for (int i = 1; i < argc && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--verbose") == 0)
			log_set_level(VKDR_LOG_DEBUG);

	if (paths_init() < 0) {
		fprintf(stderr, "vkdr: cannot tell the home directory; "
				"set VKDR_HOME\n");
		return VKDR_EXIT_FAILURE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loader_load_all(host_get());
	rc = cli_main(argc, argv);
	loader_unload_all();
	curl_global_cleanup();
	return rc;
}
