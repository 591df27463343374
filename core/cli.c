/*
 * cli.c - the command line: global options, then a group and a verb that
 * some loaded command module provides. The core knows no command by name;
 * it only prints what the modules registered.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host.h"
#include "loader.h"
#include "log.h"

struct group_list {
	const char *names[64];
	size_t n;
};

static void collect_group(void *arg, const struct vkdr_command *c)
{
	struct group_list *g = arg;

	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->names[i], c->group) == 0)
			return;
	if (g->n < sizeof(g->names) / sizeof(g->names[0]))
		g->names[g->n++] = c->group;
}

static void print_command(void *arg, const struct vkdr_command *c)
{
	FILE *out = arg;

	fprintf(out, "  %-14s %s\n", c->verb, c->summary ? c->summary : "");
}

static void print_usage(FILE *out)
{
	struct group_list groups = { .n = 0 };

	fprintf(out,
		"Usage: vkdr [--verbose] GROUP COMMAND [OPTIONS]\n"
		"       vkdr --version | --help\n\n"
		"Local container-image mirrors for k3d clusters.\n\n"
		"Groups:\n");
	loader_each_command(NULL, collect_group, &groups);
	for (size_t i = 0; i < groups.n; i++)
		fprintf(out, "  %s\n", groups.names[i]);
	if (groups.n == 0)
		fprintf(out, "  (none: no command module was found; "
			     "see 'vkdr --verbose --help')\n");
	fprintf(out, "\nRun 'vkdr GROUP --help' for a group's commands.\n");
}

static void print_group(FILE *out, const char *group)
{
	fprintf(out, "Usage: vkdr %s COMMAND [OPTIONS]\n\nCommands:\n",
		group);
	loader_each_command(group, print_command, out);
	fprintf(out, "\nRun 'vkdr %s COMMAND --help' for a command's "
		     "options.\n", group);
}

static bool group_exists(const char *group)
{
	struct group_list groups = { .n = 0 };

	loader_each_command(group, collect_group, &groups);
	return groups.n > 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int cli_run_command(const char *group, const char *verb, int argc,
		    char **argv)
{
	const struct vkdr_command *c = loader_find_command(group, verb);

	if (!c) {
		fprintf(stderr,
			"vkdr: unknown command '%s %s'; run 'vkdr %s --help' "
			"for the list\n", group, verb, group);
		return VKDR_EXIT_USAGE;
	}
	if (wants_help(argc, argv)) {
		printf("Usage: %s\n\n%s\n", c->usage ? c->usage : verb,
		       c->summary ? c->summary : "");
		if (c->help)
			printf("\n%s", c->help);
		return VKDR_EXIT_OK;
	}
	return c->run(host_get(), argc, argv);
}

int cli_main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("vkdr %s (module ABI %d)\n", PACKAGE_VERSION,
			       VKDR_MODULE_ABI);
			return VKDR_EXIT_OK;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			print_usage(stdout);
			return VKDR_EXIT_OK;
		} else if (strcmp(argv[i], "--verbose") == 0 ||
			   strcmp(argv[i], "-v") == 0) {
			log_set_level(VKDR_LOG_DEBUG);
		} else {
			fprintf(stderr, "vkdr: unknown option '%s'; run "
					"'vkdr --help'\n", argv[i]);
			return VKDR_EXIT_USAGE;
		}
	}

	if (i >= argc) {
		print_usage(stderr);
		return VKDR_EXIT_USAGE;
	}
	if (!group_exists(argv[i])) {
		fprintf(stderr, "vkdr: unknown group '%s'; run 'vkdr --help' "
				"for the list\n", argv[i]);
		return VKDR_EXIT_USAGE;
	}
	if (i + 1 >= argc || strcmp(argv[i + 1], "--help") == 0 ||
	    strcmp(argv[i + 1], "-h") == 0) {
		bool asked = i + 1 < argc;

		print_group(asked ? stdout : stderr, argv[i]);
		return asked ? VKDR_EXIT_OK : VKDR_EXIT_USAGE;
	}
	return cli_run_command(argv[i], argv[i + 1], argc - i - 1,
			       argv + i + 1);
}
