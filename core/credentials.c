/*
 * credentials.c - credentials for upstreams, from vkdr's settings, the k3s
 * registry file and the Docker client's config.json.
 *
 * All three are read with libyaml: the two YAML files obviously, and
 * config.json because JSON is valid YAML flow syntax, which spares the
 * core a second parser. The reader is kept to this file on purpose: it
 * needs only "find a mapping key, read a scalar", and must not depend on
 * how the configuration layer models the same files.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "credentials.h"
#include "log.h"
#include "paths.h"

/* Load PATH as one document; -ENOENT when it is missing or empty. */
static int document_load(const char *path, yaml_document_t *doc)
{
	yaml_parser_t parser;
	FILE *f;
	int rc = 0;

	f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (!yaml_parser_initialize(&parser)) {
		rc = -ENOMEM;
		goto out_close;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, doc)) {
		core_warn("%s: cannot read it (line %zu: %s); its credentials "
			  "are ignored",
			  path, parser.problem_mark.line + 1,
			  parser.problem ? parser.problem : "parse error");
		rc = -EINVAL;
	} else if (!yaml_document_get_root_node(doc)) {
		yaml_document_delete(doc);
		rc = -ENOENT;
	}
	yaml_parser_delete(&parser);
out_close:
	fclose(f);
	return rc;
}

static const char *scalar_of(const yaml_node_t *node)
{
	if (!node || node->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)node->data.scalar.value;
}

/* The value under KEY in mapping MAP, or NULL. */
static yaml_node_t *mapping_get(yaml_document_t *doc, yaml_node_t *map,
				const char *key)
{
	yaml_node_pair_t *pair;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const char *k = scalar_of(
			yaml_document_get_node(doc, pair->key));

		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(doc, pair->value);
	}
	return NULL;
}

/*
 * How well a host key of a credentials file matches REGISTRY: 0 not at
 * all, 1 as a wildcard, 2 exactly. A scheme and a path in the key are
 * ignored, as is case.
 */
static int key_match(const char *key, const char *registry)
{
	const char *host = key;
	size_t len, rlen = strlen(registry);

	if (strncasecmp(host, "https://", 8) == 0)
		host += 8;
	else if (strncasecmp(host, "http://", 7) == 0)
		host += 7;
	len = strcspn(host, "/");

	if (len == rlen && strncasecmp(host, registry, len) == 0)
		return 2;
	/* The Docker client files Docker Hub under its old v1 index. */
	if (strcasecmp(registry, "docker.io") == 0 && len == 15 &&
	    strncasecmp(host, "index.docker.io", len) == 0)
		return 2;
	if (len > 2 && host[0] == '*' && host[1] == '.' && rlen > len - 1 &&
	    strncasecmp(registry + rlen - (len - 1), host + 1, len - 1) == 0)
		return 1;
	return 0;
}

/* The best-matching entry for REGISTRY in the mapping MAP, or NULL. */
static yaml_node_t *host_entry(yaml_document_t *doc, yaml_node_t *map,
			       const char *registry)
{
	yaml_node_t *best = NULL;
	yaml_node_pair_t *pair;
	int best_score = 0;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const char *k = scalar_of(
			yaml_document_get_node(doc, pair->key));
		int score = k ? key_match(k, registry) : 0;

		if (score > best_score) {
			best_score = score;
			best = yaml_document_get_node(doc, pair->value);
		}
	}
	return best;
}

static int take_pair(const char *user, const char *pass, char **username,
		     char **password)
{
	*username = strdup(user);
	*password = strdup(pass);
	if (!*username || !*password) {
		free(*username);
		free(*password);
		*username = *password = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* "username" and "password" scalars of ENTRY; -ENOENT without both. */
static int entry_pair(yaml_document_t *doc, yaml_node_t *entry,
		      char **username, char **password)
{
	const char *user = scalar_of(mapping_get(doc, entry, "username"));
	const char *pass = scalar_of(mapping_get(doc, entry, "password"));

	if (!user || !*user || !pass)
		return -ENOENT;
	return take_pair(user, pass, username, password);
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode standard base64 IN into a malloc()ed, NUL-terminated string.
 * NULL when IN is not base64 or decodes to something with a NUL in it.
 */
static char *base64_decode(const char *in)
{
	size_t len = strlen(in), n = 0;
	unsigned bits = 0, acc = 0;
	char *out;

	out = malloc(len / 4 * 3 + 4);
	if (!out)
		return NULL;
	for (const char *p = in; *p && *p != '='; p++) {
		int v = base64_value(*p);

		if (v < 0)
			goto out_free;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n] = (char)((acc >> bits) & 0xff);
			if (!out[n])
				goto out_free;
			n++;
		}
	}
	out[n] = '\0';
	return out;

out_free:
	explicit_bzero(out, n);
	free(out);
	return NULL;
}

/* A config.json "auths" entry: "auth" wins over username/password. */
static int docker_entry_pair(yaml_document_t *doc, yaml_node_t *entry,
			     char **username, char **password)
{
	const char *auth = scalar_of(mapping_get(doc, entry, "auth"));
	char *decoded, *colon;
	int rc;

	if (!auth || !*auth)
		return entry_pair(doc, entry, username, password);
	decoded = base64_decode(auth);
	if (!decoded)
		return -ENOENT;
	colon = strchr(decoded, ':');
	if (!colon || colon == decoded) {
		rc = -ENOENT;
		goto out_free_decoded;
	}
	*colon = '\0';
	rc = take_pair(decoded, colon + 1, username, password);
out_free_decoded:
	explicit_bzero(decoded, strlen(decoded));
	if (colon)
		explicit_bzero(colon + 1, strlen(colon + 1));
	free(decoded);
	return rc;
}

enum source {
	SOURCE_SETTINGS,	/* mirrors: HOST: username/password */
	SOURCE_REGISTRIES,	/* configs: HOST: auth: username/password */
	SOURCE_DOCKER,		/* auths: HOST: auth | username/password */
};

static int find_in_file(const char *path, enum source source,
			const char *registry, char **username,
			char **password)
{
	yaml_document_t doc;
	yaml_node_t *root, *entry;
	int rc;

	rc = document_load(path, &doc);
	if (rc < 0)
		return rc == -ENOMEM ? rc : -ENOENT;
	root = yaml_document_get_root_node(&doc);

	switch (source) {
	case SOURCE_SETTINGS:
		entry = host_entry(&doc, mapping_get(&doc, root, "mirrors"),
				   registry);
		rc = entry_pair(&doc, entry, username, password);
		break;
	case SOURCE_REGISTRIES:
		entry = host_entry(&doc, mapping_get(&doc, root, "configs"),
				   registry);
		rc = entry_pair(&doc, mapping_get(&doc, entry, "auth"),
				username, password);
		break;
	case SOURCE_DOCKER:
		entry = host_entry(&doc, mapping_get(&doc, root, "auths"),
				   registry);
		rc = entry ? docker_entry_pair(&doc, entry, username, password)
			   : -ENOENT;
		break;
	default:
		rc = -ENOENT;
	}

	yaml_document_delete(&doc);
	if (rc == 0)
		core_debug("credentials for %s from %s", registry, path);
	return rc;
}

/* $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
static int docker_config_path(char *out, size_t len)
{
	const char *dir = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	int n;

	if (dir && *dir)
		n = snprintf(out, len, "%s/config.json", dir);
	else if (home && *home)
		n = snprintf(out, len, "%s/.docker/config.json", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int credentials_find(const char *registry, char **username,
		     char **password)
{
	char docker[4096];
	int rc;

	*username = *password = NULL;
	if (!registry || !*registry)
		return -ENOENT;

	rc = find_in_file(paths_settings(), SOURCE_SETTINGS, registry,
			  username, password);
	if (rc != -ENOENT)
		return rc;
	rc = find_in_file(paths_registry_config(), SOURCE_REGISTRIES,
			  registry, username, password);
	if (rc != -ENOENT)
		return rc;
	if (docker_config_path(docker, sizeof(docker)) < 0)
		return -ENOENT;
	return find_in_file(docker, SOURCE_DOCKER, registry, username,
			    password);
}
