/*
 * cli.h - "vkdr GROUP VERB ARGS": dispatch to command modules.
 */
#ifndef VKDR_CORE_CLI_H
#define VKDR_CORE_CLI_H

/* Exit statuses shared by every command. */
#define VKDR_EXIT_OK 0
#define VKDR_EXIT_FAILURE 1
#define VKDR_EXIT_USAGE 2

/* The whole program after start-up; returns the exit status. */
int cli_main(int argc, char **argv);

/* Run one command; argv[0] is the verb. See struct vkdr_host. */
int cli_run_command(const char *group, const char *verb, int argc,
		    char **argv);

#endif
