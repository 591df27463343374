/*
 * mirror.h - what the files of the "mirror" command module share.
 */
#ifndef VKDR_MIRROR_CMD_H
#define VKDR_MIRROR_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <vkdr/module.h>

#define MOD_NAME "mirror"

/* Exit statuses, as struct vkdr_command documents them. */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/*
 * One option a command accepts. NAME is the long form ("host"), SHORT a
 * single letter or 0. *VALUE receives a pointer into argv, or stays NULL
 * when the option is absent.
 */
struct opt {
	const char *name;
	char short_name;
	const char **value;
};

/*
 * Read argv[1..] (argv[0] is the verb) as "--name=value", "--name value"
 * or "-x value". At most one positional argument is accepted, stored in
 * *POSITIONAL when that is non-NULL. Returns 0, or EXIT_USAGE after
 * printing a one-line error naming the command VERB.
 */
int parse_opts(const char *verb, int argc, char **argv,
	       const struct opt *opts, const char **positional);

/* The output formats of "-o". */
enum output_format {
	OUTPUT_TABLE,
	OUTPUT_JSON,
	OUTPUT_YAML,
};

/* Commands, each a struct vkdr_command run slot. */
int cmd_list(const struct vkdr_host *host, int argc, char **argv);
int cmd_add(const struct vkdr_host *host, int argc, char **argv);
int cmd_remove(const struct vkdr_host *host, int argc, char **argv);
int cmd_explain(const struct vkdr_host *host, int argc, char **argv);
int cmd_plugins(const struct vkdr_host *host, int argc, char **argv);

/*
 * The upstream a mirror pulls from, for display: the configured one, or
 * what the plugin's resolve() says, in OUT. Returns false when neither
 * is known (no plugin, a wildcard host, or resolve() failed). *PLUGIN is
 * set to the plugin's name or NULL.
 */
bool mirror_upstream(const struct vkdr_host *host,
		     const struct vkdr_mirror *m, char *out, size_t outlen,
		     const char **plugin);

#endif
