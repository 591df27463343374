/*
 * explain.c - vkdr mirror explain: how the mirrors work, and what is
 * configured right now. Every line fits 80 columns.
 */
#include "config.h"

#include <stdio.h>

#include "mirror.h"

static const char intro[] =
	"What a mirror is\n"
	"\n"
	"  A pull-through mirror is a local registry that stands in for a "
	"remote one.\n"
	"  When an image is asked for, it answers from its cache if it can, "
	"and\n"
	"  otherwise fetches the image from the remote registry (the "
	"upstream), keeps\n"
	"  a copy and passes it on. Every cluster you create and delete "
	"pulls from your\n"
	"  disk instead of the internet, and you spend less of the "
	"upstream's pull\n"
	"  quota.\n"
	"\n"
	"How a pull flows\n"
	"\n"
	"  pod -> containerd (in the k3d node) -> local mirror -> upstream\n"
	"\n"
	"  1. A pod asks for an image, e.g. nginx:1.27 from docker.io.\n"
	"  2. containerd in the k3d node looks the registry up in "
	"registries.yaml and,\n"
	"     finding a mirror, sends the request to its endpoint,\n"
	"     http://host.k3d.internal:PORT, which is this machine as seen "
	"from k3d.\n"
	"  3. The first pull: the mirror does not have the image yet. It "
	"fetches the\n"
	"     manifest and the blobs from the upstream, streaming them to "
	"containerd\n"
	"     while it stores them.\n"
	"  4. Later pulls: blobs and manifests by digest come from the "
	"cache without\n"
	"     asking the upstream. A tag is checked upstream again only "
	"when its\n"
	"     answer is older than tag-ttl seconds, with a HEAD request that "
	"Docker\n"
	"     Hub does not count against its pull limit. When the upstream "
	"is down\n"
	"     or rate-limits, what is cached is still served.\n"
	"  Every blob and manifest is checked against its digest before "
	"it is kept.\n"
	"  If the mirror is not running, containerd falls back to the "
	"registry itself.\n"
	"\n";

static const char running[] =
	"Running the mirrors\n"
	"\n"
	"  The mirrors start with the cluster ('vkdr infra up' or 'vkdr "
	"infra start')\n"
	"  or on their own with 'vkdr mirror serve'. k3s reads "
	"mirror-registry.yaml\n"
	"  only when the cluster starts: after 'vkdr mirror add' restart "
	"the cluster.\n"
	"  A running mirror daemon picks up added and removed mirrors by "
	"itself.\n";

static void print_config(const struct vkdr_host *host,
			 const struct vkdr_config *cfg)
{
	const struct vkdr_settings *s = &cfg->settings;

	printf("  The mirrors (given to k3d as its registry config):\n"
	       "    %s\n", host->registry_config_path());
	printf("  vkdr's own settings (upstreams, credentials, cache):\n"
	       "    %s\n\n", host->settings_path());

	if (cfg->n_mirrors == 0) {
		printf("  No mirror is configured yet. Add one with\n"
		       "    vkdr mirror add --host=docker.io\n\n");
	} else {
		printf("  %zu mirror%s configured:\n", cfg->n_mirrors,
		       cfg->n_mirrors == 1 ? " is" : "s are");
		for (size_t i = 0; i < cfg->n_mirrors; i++) {
			const struct vkdr_mirror *m = &cfg->mirrors[i];
			char up[600];
			const char *plugin;

			printf("    %s -> %s\n", m->host, m->endpoint);
			if (mirror_upstream(host, m, up, sizeof(up), &plugin))
				printf("      upstream %s", up);
			else
				printf("      upstream chosen per registry");
			printf(", plugin %s\n", plugin ? plugin : "none");
		}
		printf("\n");
	}

	printf("  The daemon listens on %s, trusts a tag for %u seconds and "
	       "keeps the\n  cache in the '%s' storage backend",
	       s->listen, s->tag_ttl, s->storage);
	if (s->n_storage_options == 0) {
		printf(" with its default options.\n\n");
		return;
	}
	printf(" with:\n");
	for (size_t i = 0; i < s->n_storage_options; i++)
		printf("    %s: %s\n", s->storage_options[i].key,
		       s->storage_options[i].value);
	printf("\n");
}

int cmd_explain(const struct vkdr_host *host, int argc, char **argv)
{
	struct vkdr_config *cfg;
	char err[1024];
	int rc = EXIT_OK;

	rc = parse_opts("explain", argc, argv,
			(const struct opt[]){ { 0 } }, NULL);
	if (rc)
		return rc;

	fputs(intro, stdout);
	printf("Where the configuration lives\n\n");
	if (host->config_read(&cfg, err, sizeof(err)) < 0) {
		printf("  The configuration cannot be read:\n    %s\n"
		       "  Fix the file and run this again.\n\n", err);
		rc = EXIT_RUNTIME;
	} else {
		print_config(host, cfg);
		host->config_free(cfg);
	}
	fputs(running, stdout);
	return rc;
}
