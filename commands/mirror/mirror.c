/*
 * mirror.c - the "mirror" command module: vkdr mirror list, add, remove,
 * explain and plugins.
 *
 * The commands only talk to the core through the host services: the core
 * owns the files, their locking and the host checks, so these commands are
 * about saying clearly what happened and what to do next.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"

/* Long enough for any host the core accepts, with a port. */
#define HOST_BUF 320

int parse_opts(const char *verb, int argc, char **argv,
	       const struct opt *opts, const char **positional)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct opt *o = NULL;
		const char *eq = NULL;

		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (!positional || *positional) {
				fprintf(stderr, "vkdr mirror %s: unexpected "
						"argument '%s'; run 'vkdr "
						"mirror %s --help'\n",
					verb, arg, verb);
				return EXIT_USAGE;
			}
			*positional = arg;
			continue;
		}
		if (arg[1] == '-') {
			size_t len;

			eq = strchr(arg, '=');
			len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			for (const struct opt *p = opts; p->name; p++)
				if (strlen(p->name) == len &&
				    strncmp(p->name, arg + 2, len) == 0)
					o = p;
		} else if (arg[2] == '\0') {
			for (const struct opt *p = opts; p->name; p++)
				if (p->short_name && p->short_name == arg[1])
					o = p;
		}
		if (!o) {
			fprintf(stderr, "vkdr mirror %s: unknown option '%s'; "
					"run 'vkdr mirror %s --help'\n",
				verb, arg, verb);
			return EXIT_USAGE;
		}
		if (eq) {
			*o->value = eq + 1;
		} else if (i + 1 < argc) {
			*o->value = argv[++i];
		} else {
			fprintf(stderr, "vkdr mirror %s: option '%s' needs a "
					"value; run 'vkdr mirror %s --help'\n",
				verb, arg, verb);
			return EXIT_USAGE;
		}
	}
	return 0;
}

bool mirror_upstream(const struct vkdr_host *host,
		     const struct vkdr_mirror *m, char *out, size_t outlen,
		     const char **plugin)
{
	const struct vkdr_registry_ops *plugin_ops;
	const struct vkdr_module *mod = NULL;
	struct vkdr_upstream up;

	plugin_ops = host->registry_find(m->host, &mod);
	*plugin = mod ? mod->name : NULL;
	if (m->upstream) {
		snprintf(out, outlen, "%s", m->upstream);
		return true;
	}
	/* A wildcard stands for many registries, each with its own URL. */
	if (!plugin_ops || m->host[0] == '*')
		return false;
	memset(&up, 0, sizeof(up));
	if (plugin_ops->resolve(host, m->host, NULL, &up) < 0 ||
	    !up.base_url[0])
		return false;
	snprintf(out, outlen, "%s", up.base_url);
	return true;
}

/*
 * Check the host a user typed and make it canonical. Prints the error and
 * returns EXIT_USAGE when it is unusable.
 */
static int canonical_host(const struct vkdr_host *host, const char *verb,
			  const char *in, char *out, size_t outlen)
{
	char err[512];

	if (!in) {
		fprintf(stderr, "vkdr mirror %s: which registry? Give "
				"--host=HOST, e.g. --host=ghcr.io\n", verb);
		return EXIT_USAGE;
	}
	if (host->host_validate(in, out, outlen, err, sizeof(err)) < 0) {
		fprintf(stderr, "vkdr mirror %s: %s\n", verb, err);
		return EXIT_USAGE;
	}
	if (strcmp(in, out) != 0)
		printf("%s is another name for %s; using %s.\n", in, out, out);
	return 0;
}

static int parse_port(const char *text, unsigned *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 1 || v > 65535) {
		fprintf(stderr, "vkdr mirror add: --port must be a number "
				"from 1 to 65535, not '%s'\n", text);
		return EXIT_USAGE;
	}
	*port = (unsigned)v;
	return 0;
}

static void print_restart_note(void)
{
	printf("Restart the cluster so k3s uses it: 'vkdr infra stop' then "
	       "'vkdr infra\nstart'. A running mirror daemon picks the "
	       "change up by itself.\n");
}

int cmd_add(const struct vkdr_host *host, int argc, char **argv)
{
	const char *host_arg = NULL, *upstream = NULL, *port_arg = NULL;
	const struct opt opts[] = {
		{ .name = "host", .value = &host_arg },
		{ .name = "upstream", .value = &upstream },
		{ .name = "port", .value = &port_arg },
		{ 0 },
	};
	struct vkdr_mirror_spec spec = { 0 };
	struct vkdr_mirror *m = NULL;
	char canonical[HOST_BUF], shown[600], err[1024];
	const char *plugin;
	int rc;

	rc = parse_opts("add", argc, argv, opts, &host_arg);
	if (rc)
		return rc;
	rc = canonical_host(host, "add", host_arg, canonical,
			    sizeof(canonical));
	if (rc)
		return rc;
	if (port_arg && (rc = parse_port(port_arg, &spec.port)))
		return rc;
	if (upstream && strncmp(upstream, "http://", 7) != 0 &&
	    strncmp(upstream, "https://", 8) != 0) {
		fprintf(stderr, "vkdr mirror add: --upstream must be a URL "
				"starting with https:// or http://, not "
				"'%s'\n", upstream);
		return EXIT_USAGE;
	}
	spec.host = canonical;
	spec.upstream = upstream;

	rc = host->mirror_add(&spec, &m, err, sizeof(err));
	if (rc == -EEXIST) {
		printf("%s is already mirrored at %s; nothing changed.\n",
		       m->host, m->endpoint);
		if (upstream && (!m->upstream ||
				 strcmp(m->upstream, upstream) != 0))
			printf("Its upstream stays %s; to change it, run "
			       "'vkdr mirror remove --host=%s'\nand add it "
			       "again.\n",
			       m->upstream ? m->upstream : "the plugin's "
							   "default",
			       m->host);
		host->mirror_free(m);
		return EXIT_OK;
	}
	if (rc < 0) {
		fprintf(stderr, "vkdr mirror add: %s\n", err);
		return EXIT_RUNTIME;
	}

	printf("Added a mirror for %s at %s.\n", m->host, m->endpoint);
	if (mirror_upstream(host, m, shown, sizeof(shown), &plugin))
		printf("It pulls from %s", shown);
	else
		printf("It pulls from each registry the name matches");
	if (plugin)
		printf(" through the %s plugin.\n", plugin);
	else
		printf(" (no plugin claims it: see 'vkdr mirror plugins').\n");
	print_restart_note();
	host->mirror_free(m);
	return EXIT_OK;
}

/* The endpoint HOST has now, for the message after removing it. */
static void find_endpoint(const struct vkdr_host *host, const char *name,
			  char *out, size_t outlen)
{
	struct vkdr_config *cfg;
	char err[512];

	out[0] = '\0';
	if (host->config_read(&cfg, err, sizeof(err)) < 0)
		return;
	for (size_t i = 0; i < cfg->n_mirrors; i++)
		if (strcmp(cfg->mirrors[i].host, name) == 0)
			snprintf(out, outlen, "%s", cfg->mirrors[i].endpoint);
	host->config_free(cfg);
}

int cmd_remove(const struct vkdr_host *host, int argc, char **argv)
{
	const char *host_arg = NULL;
	const struct opt opts[] = {
		{ .name = "host", .value = &host_arg },
		{ 0 },
	};
	char canonical[HOST_BUF], endpoint[512], err[1024];
	int rc;

	rc = parse_opts("remove", argc, argv, opts, &host_arg);
	if (rc)
		return rc;
	rc = canonical_host(host, "remove", host_arg, canonical,
			    sizeof(canonical));
	if (rc)
		return rc;

	find_endpoint(host, canonical, endpoint, sizeof(endpoint));
	rc = host->mirror_remove(canonical, err, sizeof(err));
	if (rc == -ENOENT) {
		fprintf(stderr, "vkdr mirror remove: no mirror for %s is "
				"configured; 'vkdr mirror list' shows the "
				"configured ones\n", canonical);
		return EXIT_RUNTIME;
	}
	if (rc < 0) {
		fprintf(stderr, "vkdr mirror remove: %s\n", err);
		return EXIT_RUNTIME;
	}
	if (endpoint[0])
		printf("Removed the mirror for %s (it was at %s).\n",
		       canonical, endpoint);
	else
		printf("Removed the mirror for %s.\n", canonical);
	printf("Restart the cluster so k3s stops using it: 'vkdr infra stop' "
	       "then 'vkdr infra\nstart'. Its cached blobs stay until "
	       "pruned.\n");
	return EXIT_OK;
}

static const struct vkdr_command commands[] = {
	{
		.group = "mirror",
		.verb = "list",
		.summary = "show the configured mirrors",
		.usage = "vkdr mirror list [-o table|json|yaml]",
		.help = "Lists every mirror in mirror-registry.yaml: the "
			"registry HOST it mirrors,\n"
			"the local ENDPOINT k3s pulls from, the UPSTREAM it "
			"fetches from (the one set\n"
			"with --upstream, else the plugin's default) and the "
			"registry PLUGIN serving it.\n\n"
			"Options:\n"
			"  -o, --output FORMAT  table (default), json or "
			"yaml; json and yaml give a\n"
			"                       list of objects with host, "
			"endpoint, port, upstream\n"
			"                       and plugin keys\n\n"
			"Examples:\n"
			"  vkdr mirror list\n"
			"  vkdr mirror list -o json\n",
		.run = cmd_list,
	},
	{
		.group = "mirror",
		.verb = "add",
		.summary = "mirror a registry on the next free local port",
		.usage = "vkdr mirror add --host=HOST [--upstream=URL] "
			 "[--port=N]",
		.help = "Adds HOST to mirror-registry.yaml with the endpoint "
			"http://host.k3d.internal:PORT.\n"
			"PORT is the next free one from 6000 upward unless "
			"--port gives it. Adding a\n"
			"host that is already mirrored changes nothing and "
			"succeeds.\n\n"
			"Options:\n"
			"  --host=HOST     the registry, as in image names: "
			"docker.io, ghcr.io,\n"
			"                  *.azurecr.io (no https://, no "
			"path)\n"
			"  --upstream=URL  fetch from URL instead of the "
			"registry itself, e.g. a\n"
			"                  company proxy; kept in "
			"mirror-settings.yaml\n"
			"  --port=N        the local port to serve the mirror "
			"on\n\n"
			"The cluster needs a restart to use a new mirror; a "
			"running daemon picks it\nup by itself.\n\n"
			"Examples:\n"
			"  vkdr mirror add --host=docker.io\n"
			"  vkdr mirror add --host ghcr.io --port 6010\n"
			"  vkdr mirror add --host=quay.io "
			"--upstream=http://127.0.0.1:5000\n",
		.run = cmd_add,
	},
	{
		.group = "mirror",
		.verb = "remove",
		.summary = "stop mirroring a registry",
		.usage = "vkdr mirror remove --host=HOST",
		.help = "Removes HOST from mirror-registry.yaml and its "
			"upstream and credentials from\n"
			"mirror-settings.yaml. Exits with 1 when HOST is not "
			"configured.\n\n"
			"Example:\n"
			"  vkdr mirror remove --host=ghcr.io\n",
		.run = cmd_remove,
	},
	{
		.group = "mirror",
		.verb = "explain",
		.summary = "explain how the mirrors work and what is "
			   "configured",
		.usage = "vkdr mirror explain",
		.help = "Prints how a pull travels from a pod to a local "
			"mirror and to the upstream,\n"
			"where the configuration lives and what it holds "
			"now.\n",
		.run = cmd_explain,
	},
	{
		.group = "mirror",
		.verb = "plugins",
		.summary = "list loaded modules and files that were skipped",
		.usage = "vkdr mirror plugins",
		.help = "Lists every loaded module (kind, name, version, "
			"file; for registry plugins\n"
			"the hosts they claim), then every file that was not "
			"loaded, with the reason.\n"
			"Run 'vkdr --verbose mirror plugins' to see the "
			"search in detail.\n",
		.run = cmd_plugins,
	},
};

static const struct vkdr_command_ops ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = commands,
	.n_commands = sizeof(commands) / sizeof(commands[0]),
};

static const struct vkdr_module module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = MOD_NAME,
	.version = PACKAGE_VERSION,
	.description = "vkdr mirror list, add, remove, explain and plugins",
	.ops = &ops,
};

VKDR_MODULE_DEFINE(module);
