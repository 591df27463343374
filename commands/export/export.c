/*
 * export.c - "vkdr mirror export": tell other container runtimes about the
 * mirrors.
 *
 * k3d gets the mirrors through mirror-registry.yaml. Other runtimes on the
 * same machine have their own formats: containerd reads a hosts directory
 * (one hosts.toml per registry), podman, skopeo and CRI-O read
 * containers-registries.conf, and the Docker daemon reads daemon.json. This
 * module renders the configured mirrors in each of them; it never edits a
 * runtime's configuration in place.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vkdr/module.h>

#define MOD "export"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

enum export_format {
	FORMAT_NONE,
	FORMAT_CONTAINERD,
	FORMAT_REGISTRIES_CONF,
	FORMAT_DOCKER,
};

struct export_options {
	enum export_format format;
	const char *dir;
	const char *address;
	const char *output;
};

/*
 * A wildcard host ("*.azurecr.io") names many registries. Neither a
 * containerd hosts directory nor registries.conf can route a wildcard to
 * one mirror port in a way the mirror could serve, so such mirrors are
 * skipped by every format.
 */
static bool is_wildcard(const char *host)
{
	return strchr(host, '*') != NULL;
}

/* Write S as a TOML basic string, quotes included. */
static void toml_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/*
 * ADDRESS:PORT as it goes into a URL or a registries.conf location; an
 * IPv6 literal gets its brackets.
 */
static void format_hostport(char *out, size_t outlen, const char *address,
			    unsigned port)
{
	bool v6 = strchr(address, ':') && address[0] != '[';

	snprintf(out, outlen, v6 ? "[%s]:%u" : "%s:%u", address, port);
}

/*
 * The upstream base URL for mirror M: what the registry plugin that claims
 * the host resolves it to, else the user's --upstream, else https://HOST.
 * Returns 0 or the plugin's negative errno.
 */
static int upstream_url(const struct vkdr_host *host,
			const struct vkdr_mirror *m, char *out, size_t outlen)
{
	const struct vkdr_registry_ops *ops;
	struct vkdr_upstream up;
	int rc;

	ops = host->registry_find(m->host, NULL);
	if (ops) {
		memset(&up, 0, sizeof(up));
		rc = ops->resolve(host, m->host, m->upstream, &up);
		if (rc < 0)
			return rc;
		snprintf(out, outlen, "%s", up.base_url);
		return 0;
	}
	if (m->upstream)
		snprintf(out, outlen, "%s", m->upstream);
	else
		snprintf(out, outlen, "https://%s", m->host);
	return 0;
}

/*
 * Render one containerd hosts.toml. containerd 1.6 tries the [host]
 * entries in order and falls back to SERVER; it adds "?ns=<registry>" to
 * each request to a mirror host, which is how the mirror learns the
 * registry. "push" is left out: the mirror is read-only.
 */
static void render_hosts_toml(FILE *out, const char *server,
			      const char *hostport)
{
	fprintf(out,
		"# Written by 'vkdr mirror export --format=containerd'.\n");
	fputs("server = ", out);
	toml_string(out, server);
	fputs("\n\n[host.\"http://", out);
	fputs(hostport, out);
	fputs("\"]\n  capabilities = [\"pull\", \"resolve\"]\n", out);
}

/* Create DIR and its parents, like mkdir -p. Returns 0 or -errno. */
static int make_dirs(const char *dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
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

/*
 * Replace PATH with LEN bytes of DATA through a temporary file and a
 * rename, so a runtime that reads PATH meanwhile never sees half of it.
 * Returns 0 or -errno.
 */
static int write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	FILE *f;
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Write DIR/<host>/hosts.toml for every mirror that has no wildcard. */
static int export_containerd(const struct vkdr_host *host,
			     const struct vkdr_config *cfg,
			     const struct export_options *opt)
{
	size_t written = 0;

	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];
		char server[512], hostport[300], dir[PATH_MAX];
		char path[PATH_MAX + 16];
		char *buf = NULL;
		size_t len = 0;
		FILE *mem;
		int rc;

		if (is_wildcard(m->host)) {
			vkdr_log_warn(host, MOD,
				      "%s: skipped: a containerd hosts "
				      "directory cannot name a wildcard host",
				      m->host);
			continue;
		}
		rc = upstream_url(host, m, server, sizeof(server));
		if (rc < 0) {
			vkdr_log_err(host, MOD, "%s: no upstream: %s", m->host,
				     strerror(-rc));
			return EXIT_FAIL;
		}
		format_hostport(hostport, sizeof(hostport), opt->address,
				m->port);

		mem = open_memstream(&buf, &len);
		if (!mem)
			return EXIT_FAIL;
		render_hosts_toml(mem, server, hostport);
		fclose(mem);

		snprintf(dir, sizeof(dir), "%s/%s", opt->dir, m->host);
		snprintf(path, sizeof(path), "%s/hosts.toml", dir);
		rc = make_dirs(dir);
		if (rc == 0)
			rc = write_file(path, buf, len);
		free(buf);
		if (rc < 0) {
			vkdr_log_err(host, MOD, "cannot write %s: %s", path,
				     strerror(-rc));
			return EXIT_FAIL;
		}
		printf("wrote %s\n", path);
		written++;
	}
	if (written == 0) {
		vkdr_log_err(host, MOD, "no mirror could be exported");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * A containers-registries.conf (version 2) snippet: one [[registry]] per
 * mirror with the mirror as its only [[registry.mirror]]. The mirror is
 * plain HTTP, hence insecure. containers/image sends no "ns" parameter, so
 * the mirror port alone has to tell the registry: a wildcard mirror cannot
 * serve it and is skipped. Returns the number of registries written.
 */
static size_t render_registries_conf(const struct vkdr_host *host, FILE *out,
				     const struct vkdr_config *cfg,
				     const char *address)
{
	size_t written = 0;

	fprintf(out, "# Written by 'vkdr mirror export "
		     "--format=registries-conf'.\n");
	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];
		char hostport[300];

		if (is_wildcard(m->host)) {
			vkdr_log_warn(host, MOD,
				      "%s: skipped: containers-registries.conf "
				      "clients do not tell a mirror which "
				      "registry they want",
				      m->host);
			continue;
		}
		format_hostport(hostport, sizeof(hostport), address, m->port);
		fputs("\n[[registry]]\nprefix = ", out);
		toml_string(out, m->host);
		fputs("\nlocation = ", out);
		toml_string(out, m->host);
		fputs("\n\n[[registry.mirror]]\nlocation = ", out);
		toml_string(out, hostport);
		fputs("\ninsecure = true\n", out);
		written++;
	}
	return written;
}

/*
 * The daemon.json line for the Docker daemon, which applies
 * registry-mirrors to Docker Hub and to nothing else. Returns 0, or
 * -ENOENT when no mirror serves docker.io.
 */
static int render_docker(FILE *out, const struct vkdr_config *cfg,
			 const char *address)
{
	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];
		char hostport[300];

		if (strcmp(m->host, "docker.io") != 0)
			continue;
		format_hostport(hostport, sizeof(hostport), address, m->port);
		fprintf(out, "\"registry-mirrors\": [\"http://%s\"]\n",
			hostport);
		return 0;
	}
	return -ENOENT;
}

/* Send BUF to --output=FILE, or to stdout without it. */
static int emit(const struct vkdr_host *host, const char *output,
		const char *buf, size_t len)
{
	int rc;

	if (!output) {
		fwrite(buf, 1, len, stdout);
		return EXIT_OK;
	}
	rc = write_file(output, buf, len);
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot write %s: %s", output,
			     strerror(-rc));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int export_to_stream(const struct vkdr_host *host,
			    const struct vkdr_config *cfg,
			    const struct export_options *opt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int status = EXIT_OK;

	mem = open_memstream(&buf, &len);
	if (!mem)
		return EXIT_FAIL;

	if (opt->format == FORMAT_REGISTRIES_CONF) {
		if (render_registries_conf(host, mem, cfg, opt->address) == 0) {
			vkdr_log_err(host, MOD, "no mirror could be exported");
			status = EXIT_FAIL;
		}
	} else if (render_docker(mem, cfg, opt->address) < 0) {
		vkdr_log_err(host, MOD,
			     "no mirror for docker.io is configured, and "
			     "Docker uses mirrors for Docker Hub only; add one "
			     "with 'vkdr mirror add --host=docker.io'");
		status = EXIT_FAIL;
	} else {
		fprintf(stderr,
			"Note: the Docker daemon applies registry-mirrors to "
			"Docker Hub only; put the line into the daemon's "
			"daemon.json and restart it.\n");
	}
	fclose(mem);

	if (status == EXIT_OK)
		status = emit(host, opt->output, buf, len);
	free(buf);
	return status;
}

static enum export_format parse_format(const char *s)
{
	if (strcmp(s, "containerd") == 0)
		return FORMAT_CONTAINERD;
	if (strcmp(s, "registries-conf") == 0)
		return FORMAT_REGISTRIES_CONF;
	if (strcmp(s, "docker") == 0)
		return FORMAT_DOCKER;
	return FORMAT_NONE;
}

/* The value of "--NAME=VALUE" when ARG is that option, else NULL. */
static const char *option_value(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

static int parse_options(int argc, char **argv, struct export_options *opt)
{
	const char *v;

	memset(opt, 0, sizeof(*opt));
	opt->address = "127.0.0.1";
	for (int i = 1; i < argc; i++) {
		if ((v = option_value(argv[i], "--format"))) {
			opt->format = parse_format(v);
			if (opt->format == FORMAT_NONE) {
				fprintf(stderr,
					"vkdr: unknown format '%s'; use "
					"containerd, registries-conf or "
					"docker\n",
					v);
				return -EINVAL;
			}
		} else if ((v = option_value(argv[i], "--dir"))) {
			opt->dir = v;
		} else if ((v = option_value(argv[i], "--address"))) {
			opt->address = v;
		} else if ((v = option_value(argv[i], "--output"))) {
			opt->output = v;
		} else {
			fprintf(stderr,
				"vkdr: unknown argument '%s'; run "
				"'vkdr mirror export --help'\n",
				argv[i]);
			return -EINVAL;
		}
	}

	if (opt->format == FORMAT_NONE) {
		fprintf(stderr, "vkdr: --format=containerd|registries-conf|"
				"docker is required\n");
		return -EINVAL;
	}
	if (opt->format == FORMAT_CONTAINERD && (!opt->dir || opt->output)) {
		fprintf(stderr, "vkdr: --format=containerd writes a "
				"directory: give --dir=DIR (and no "
				"--output)\n");
		return -EINVAL;
	}
	if (opt->format != FORMAT_CONTAINERD && opt->dir) {
		fprintf(stderr, "vkdr: --dir is for --format=containerd; "
				"use --output=FILE\n");
		return -EINVAL;
	}
	if (!*opt->address || (opt->dir && !*opt->dir) ||
	    (opt->output && !*opt->output)) {
		fprintf(stderr, "vkdr: an option was given an empty value\n");
		return -EINVAL;
	}
	return 0;
}

static int export_run(const struct vkdr_host *host, int argc, char **argv)
{
	struct export_options opt;
	struct vkdr_config *cfg;
	char err[512] = "";
	int status, rc;

	if (parse_options(argc, argv, &opt) < 0)
		return EXIT_USAGE;

	rc = host->config_read(&cfg, err, sizeof(err));
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot read the configuration: %s",
			     *err ? err : strerror(-rc));
		return EXIT_FAIL;
	}
	if (cfg->n_mirrors == 0) {
		vkdr_log_err(host, MOD,
			     "no mirror is configured; add one "
			     "with 'vkdr mirror add --host=HOST'");
		status = EXIT_FAIL;
		goto out_free_config;
	}

	if (opt.format == FORMAT_CONTAINERD)
		status = export_containerd(host, cfg, &opt);
	else
		status = export_to_stream(host, cfg, &opt);

out_free_config:
	host->config_free(cfg);
	return status;
}

static const struct vkdr_command export_commands[] = {
	{
		.group = "mirror",
		.verb = "export",
		.summary = "write the mirrors in another runtime's format",
		.usage = "vkdr mirror export --format=FORMAT [--dir=DIR] "
			 "[--output=FILE] [--address=HOST]",
		.help = "Formats:\n"
			"  containerd       DIR/<host>/hosts.toml per mirror, "
			"for containerd's\n"
			"                   config_path or 'ctr --hosts-dir' "
			"(needs --dir=DIR)\n"
			"  registries-conf  a containers-registries.conf "
			"snippet (podman, skopeo,\n"
			"                   CRI-O), to stdout or "
			"--output=FILE\n"
			"  docker           the daemon.json registry-mirrors "
			"line; Docker applies\n"
			"                   it to Docker Hub only\n\n"
			"Options:\n"
			"  --address=HOST   how the runtime reaches the "
			"mirrors (default 127.0.0.1;\n"
			"                   host.k3d.internal inside k3d)\n\n"
			"Mirrors of wildcard hosts (*.azurecr.io) cannot be "
			"exported and are\nskipped with a warning.\n\n"
			"Example:\n"
			"  vkdr mirror export --format=containerd "
			"--dir=/etc/containerd/certs.d\n",
		.run = export_run,
	},
};

static const struct vkdr_command_ops export_ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = export_commands,
	.n_commands = sizeof(export_commands) / sizeof(export_commands[0]),
};

static const struct vkdr_module export_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "export",
	.version = PACKAGE_VERSION,
	.description = "vkdr mirror export: the mirrors for containerd, "
		       "podman and Docker",
	.ops = &export_ops,
};

VKDR_MODULE_DEFINE(export_module);
