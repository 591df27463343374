/*
 * serve.c - the "serve" command module: "vkdr mirror serve", the daemon,
 * "vkdr mirror prune", which trims its store, and "vkdr mirror scrub",
 * which checks it.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "daemon.h"
#include "inflight.h"
#include "oci.h"
#include "server.h"
#include "upstream.h"

#define MAX_OPTIONS 32
#define MAX_EXTRA_MIRRORS 16

/* What both commands take from the command line. */
struct options {
	const char *listen;
	const char *storage;
	struct vkdr_option storage_opts[MAX_OPTIONS];
	size_t n_storage_opts;
	unsigned tag_ttl;
	unsigned stall_timeout;
	unsigned max_connections;
	const char *max_size;
	struct vkdr_mirror mirrors[MAX_EXTRA_MIRRORS];
	size_t n_mirrors;
};

/* "--name=value" or "--name value"; advances *I past what it used. */
static const char *option_value(int argc, char **argv, int *i,
				const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	/* clang-analyzer cannot know that argv[*i] is set below argc. */
	/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/*
 * The hidden --mirror=HOST=PORT[=UPSTREAM] flag: a mirror that exists
 * only for this run, for debugging without touching the configuration.
 */
static int parse_mirror(const char *spec, struct vkdr_mirror *m)
{
	char *copy = strdup(spec), *port, *upstream, *end;
	unsigned long p;

	if (!copy)
		return -ENOMEM;
	port = strchr(copy, '=');
	if (!port) {
		free(copy);
		return -EINVAL;
	}
	*port++ = '\0';
	upstream = strchr(port, '=');
	if (upstream)
		*upstream++ = '\0';
	p = strtoul(port, &end, 10);
	if (end == port || *end || p == 0 || p > 65535) {
		free(copy);
		return -EINVAL;
	}
	/* COPY stays allocated: the mirror points into it for the run. */
	m->host = copy;
	m->endpoint = "";
	m->port = (unsigned)p;
	m->upstream = upstream;
	return 0;
}

/* A whole number from 1 to MAX for option NAME; -EINVAL with a message. */
static int parse_count(const char *name, const char *text, unsigned long max,
		       unsigned *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || n == 0 ||
	    n > max) {
		fprintf(stderr, "vkdr: %s wants a whole number from 1 to %lu\n",
			name, max);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o,
			 bool serve)
{
	const char *v;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		if (serve && (v = option_value(argc, argv, &i, "--listen"))) {
			o->listen = v;
		} else if ((v = option_value(argc, argv, &i,
					       "--storage-opt"))) {
			char *eq = strchr(v, '=');

			if (!eq || eq == v ||
			    o->n_storage_opts == MAX_OPTIONS) {
				fprintf(stderr, "vkdr: --storage-opt wants "
						"KEY=VALUE\n");
				return -EINVAL;
			}
			*eq = '\0';
			o->storage_opts[o->n_storage_opts].key = v;
			o->storage_opts[o->n_storage_opts++].value = eq + 1;
		} else if ((v = option_value(argc, argv, &i, "--storage"))) {
			o->storage = v;
		} else if (serve &&
			   (v = option_value(argc, argv, &i, "--tag-ttl"))) {
			if (parse_count("--tag-ttl", v, 86400 * 365,
					&o->tag_ttl) < 0)
				return -EINVAL;
		} else if (serve && (v = option_value(argc, argv, &i,
						      "--stall-timeout"))) {
			if (parse_count("--stall-timeout", v, 3600,
					&o->stall_timeout) < 0)
				return -EINVAL;
		} else if (serve && (v = option_value(argc, argv, &i,
						      "--max-connections"))) {
			if (parse_count("--max-connections", v, 100000,
					&o->max_connections) < 0)
				return -EINVAL;
		} else if (serve &&
			   (v = option_value(argc, argv, &i, "--mirror"))) {
			if (o->n_mirrors == MAX_EXTRA_MIRRORS ||
			    parse_mirror(v, &o->mirrors[o->n_mirrors]) < 0) {
				fprintf(stderr, "vkdr: --mirror wants "
						"HOST=PORT[=UPSTREAM]\n");
				return -EINVAL;
			}
			o->n_mirrors++;
		} else if (!serve &&
			   (v = option_value(argc, argv, &i, "--max-size"))) {
			o->max_size = v;
		} else {
			fprintf(stderr, "vkdr: unknown option '%s'; run "
					"'vkdr mirror %s --help'\n",
				argv[i], serve ? "serve" : "prune");
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The storage options: the configured ones, each replaced by a
 * command-line option of the same key, plus the new command-line keys.
 */
static size_t merge_storage_options(const struct vkdr_settings *set,
				    const struct options *o,
				    struct vkdr_option *out)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n_storage_options && n < MAX_OPTIONS;
	     i++) {
		bool overridden = false;

		for (size_t j = 0; j < o->n_storage_opts; j++)
			if (!strcmp(o->storage_opts[j].key,
				    set->storage_options[i].key))
				overridden = true;
		if (!overridden)
			out[n++] = set->storage_options[i];
	}
	for (size_t j = 0; j < o->n_storage_opts && n < 2 * MAX_OPTIONS; j++)
		out[n++] = o->storage_opts[j];
	return n;
}

static const char *option_lookup(const struct vkdr_option *opts, size_t n,
				 const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].key, key) == 0)
			return opts[i].value;
	return NULL;
}

/* Open the storage backend the settings and options name. */
static int open_store(struct daemon *d, const struct vkdr_settings *set,
		      const struct options *o)
{
	struct vkdr_option opts[2 * MAX_OPTIONS];
	const char *name, *max;
	size_t n;
	int rc;

	name = o->storage ? o->storage
	       : set->storage && *set->storage ? set->storage
					       : DEFAULT_STORAGE;
	snprintf(d->storage_name, sizeof(d->storage_name), "%s", name);
	d->store = d->host->storage_find(name);
	if (!d->store) {
		vkdr_log_err(d->host, MOD,
			     "no storage backend named '%s' is loaded; "
			     "'vkdr mirror plugins' lists them",
			     name);
		return -ENOENT;
	}
	n = merge_storage_options(set, o, opts);
	max = option_lookup(opts, n, "max-size");
	if (max && oci_parse_size(max, &d->max_bytes) < 0) {
		vkdr_log_err(d->host, MOD, "storage option max-size '%s' is "
					   "not a size such as 500MiB or 2G",
			     max);
		return -EINVAL;
	}
	rc = d->store->open(d->host, opts, n, &d->store_state);
	if (rc < 0)
		vkdr_log_err(d->host, MOD, "cannot open storage '%s': %s",
			     name, strerror(-rc));
	return rc;
}

static int make_dirs(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void daemon_init(struct daemon *d, const struct vkdr_host *host,
			const struct options *o)
{
	memset(d, 0, sizeof(*d));
	d->host = host;
	d->listen_override = o->listen;
	d->tag_ttl_override = o->tag_ttl;
	d->max_connections = o->max_connections ? o->max_connections
						: DEFAULT_MAX_CONNECTIONS;
	d->extra_mirrors = (struct vkdr_mirror *)o->mirrors;
	d->n_extra_mirrors = o->n_mirrors;
	pthread_mutex_init(&d->snap_lock, NULL);
	pthread_mutex_init(&d->threads_lock, NULL);
	pthread_cond_init(&d->threads_cond, NULL);
}

static void daemon_fini(struct daemon *d)
{
	if (d->store_state)
		d->store->close(d->store_state);
	fetch_table_free(d->fetches);
	verified_free(d->verified);
	upstream_free(d->upstream);
	if (d->snap)
		snapshot_put(d, d->snap);
	pthread_mutex_destroy(&d->snap_lock);
	pthread_mutex_destroy(&d->threads_lock);
	pthread_cond_destroy(&d->threads_cond);
}

static void free_extra_mirrors(struct options *o)
{
	for (size_t i = 0; i < o->n_mirrors; i++)
		free((char *)o->mirrors[i].host);
}

static int cmd_serve(const struct vkdr_host *host, int argc, char **argv)
{
	struct options *o;
	struct daemon *d;
	char err[512] = "";
	sigset_t set;
	int rc, status = 1;

	/* Before any thread exists, so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	o = calloc(1, sizeof(*o));
	d = calloc(1, sizeof(*d));
	if (!o || !d)
		goto out_free;
	if (parse_options(argc, argv, o, true) < 0) {
		status = 2;
		goto out_free;
	}
	daemon_init(d, host, o);

	rc = snapshot_load(d, &d->snap, err, sizeof(err));
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot read the configuration: %s",
			     err[0] ? err : strerror(-rc));
		goto out_fini;
	}
	if (open_store(d, &d->snap->cfg->settings, o) < 0)
		goto out_fini;
	snprintf(d->spool_dir, sizeof(d->spool_dir), "%s/mirror-spool",
		 host->home());
	rc = make_dirs(d->spool_dir);
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot create %s: %s", d->spool_dir,
			     strerror(-rc));
		goto out_fini;
	}
	if (upstream_init(host, &d->metrics, &d->upstream) < 0 ||
	    fetch_table_new(&d->fetches) < 0 ||
	    verified_new(&d->verified) < 0)
		goto out_fini;
	upstream_set_stall_timeout(d->upstream, o->stall_timeout);

	vkdr_log_info(host, MOD,
		      "storage '%s'%s, tag TTL %us, %zu mirror(s)",
		      d->storage_name,
		      d->max_bytes ? " with max-size" : "", d->snap->tag_ttl,
		      d->snap->n_mirrors);
	if (server_run(d) == 0)
		status = 0;

out_fini:
	daemon_fini(d);
out_free:
	if (o)
		free_extra_mirrors(o);
	free(o);
	free(d);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return status;
}

static int cmd_prune(const struct vkdr_host *host, int argc, char **argv)
{
	struct vkdr_config *cfg = NULL;
	struct options *o;
	struct daemon *d;
	char err[512] = "";
	uint64_t bytes = 0, objects = 0;
	int64_t freed;
	int status = 1;

	o = calloc(1, sizeof(*o));
	d = calloc(1, sizeof(*d));
	if (!o || !d)
		goto out_free;
	if (parse_options(argc, argv, o, false) < 0) {
		status = 2;
		goto out_free;
	}
	d->host = host;
	if (host->config_read(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vkdr: cannot read the configuration: %s\n",
			err);
		goto out_free;
	}
	if (open_store(d, &cfg->settings, o) < 0)
		goto out_free_config;
	if (o->max_size && oci_parse_size(o->max_size, &d->max_bytes) < 0) {
		fprintf(stderr, "vkdr: --max-size wants a size such as 500MiB "
				"or 2G\n");
		status = 2;
		goto out_close;
	}
	if (!d->max_bytes) {
		fprintf(stderr, "vkdr: no max-size: pass --max-size=SIZE or "
				"set storage-options max-size\n");
		status = 2;
		goto out_close;
	}
	if (!d->store->trim) {
		fprintf(stderr, "vkdr: storage '%s' cannot be trimmed\n",
			d->storage_name);
		goto out_close;
	}
	freed = d->store->trim(d->store_state, d->max_bytes);
	if (freed < 0) {
		fprintf(stderr, "vkdr: trimming failed: %s\n",
			strerror((int)-freed));
		goto out_close;
	}
	printf("freed %" PRId64 " bytes", freed);
	if (d->store->usage &&
	    d->store->usage(d->store_state, &bytes, &objects) == 0)
		printf("; %" PRIu64 " bytes in %" PRIu64 " objects remain",
		       bytes, objects);
	printf("\n");
	status = 0;

out_close:
	d->store->close(d->store_state);
out_free_config:
	host->config_free(cfg);
out_free:
	free(o);
	free(d);
	return status;
}

/* What "vkdr mirror scrub" found. */
struct scrub {
	char **digests;
	size_t n, cap;
	uint64_t bytes;
	size_t skipped;		/* keys that name no sha256 digest */
};

static int collect_blob(void *arg, const char *key,
			const struct vkdr_object_info *info)
{
	struct scrub *sc = arg;
	char digest[OCI_DIGEST_LEN + 1];
	const char *hex = key + strlen("blobs/sha256/");

	if (strncmp(key, "blobs/sha256/", 13) != 0 || strlen(hex) != 64) {
		sc->skipped++;
		return 0;
	}
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (oci_digest_check(digest) != OCI_OK) {
		sc->skipped++;
		return 0;
	}
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 256;
		char **grown = realloc(sc->digests, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		sc->digests = grown;
		sc->cap = cap;
	}
	sc->digests[sc->n] = strdup(digest);
	if (!sc->digests[sc->n])
		return -ENOMEM;
	sc->n++;
	sc->bytes += info->size;
	return 0;
}

/*
 * Hash every blob and manifest in the store, and remove those whose bytes
 * do not match their digest; the daemon fetches them again when asked.
 * The keys are listed first and checked after, so that removing never
 * runs inside the backend's walk. Safe beside a running daemon: objects
 * being written are not visible yet, and one evicted meanwhile is skipped.
 */
static int cmd_scrub(const struct vkdr_host *host, int argc, char **argv)
{
	struct vkdr_config *cfg = NULL;
	struct scrub sc = { 0 };
	size_t corrupt = 0, gone = 0, failed = 0;
	struct options *o;
	struct daemon *d;
	char err[512] = "";
	int rc, status = 1;

	o = calloc(1, sizeof(*o));
	d = calloc(1, sizeof(*d));
	if (!o || !d)
		goto out_free;
	if (parse_options(argc, argv, o, false) < 0 || o->max_size) {
		if (o->max_size)
			fprintf(stderr, "vkdr: --max-size is an option of "
					"'vkdr mirror prune'\n");
		status = 2;
		goto out_free;
	}
	d->host = host;
	if (host->config_read(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vkdr: cannot read the configuration: %s\n",
			err);
		goto out_free;
	}
	if (open_store(d, &cfg->settings, o) < 0)
		goto out_free_config;
	if (verified_new(&d->verified) < 0)
		goto out_close;

	rc = d->store->walk(d->store_state, "blobs/", collect_blob, &sc);
	if (rc < 0) {
		fprintf(stderr, "vkdr: cannot list the store: %s\n",
			strerror(-rc));
		goto out_free_list;
	}
	for (size_t i = 0; i < sc.n; i++) {
		char key[OCI_KEY_MAX];
		struct vkdr_object_info info;

		oci_blob_key(sc.digests[i], key, sizeof(key));
		if (d->store->stat(d->store_state, key, &info) < 0) {
			gone++;
			continue;
		}
		rc = cache_object_verify(d, sc.digests[i]);
		if (rc == -ENOENT) {
			printf("removed %s: its bytes do not match it\n",
			       sc.digests[i]);
			corrupt++;
		} else if (rc < 0) {
			fprintf(stderr, "vkdr: cannot check %s: %s\n",
				sc.digests[i], strerror(-rc));
			failed++;
		}
	}
	printf("checked %zu objects (%" PRIu64 " bytes): %zu corrupt and "
	       "removed, %zu unreadable, %zu gone meanwhile\n",
	       sc.n - gone, sc.bytes, corrupt, failed, gone);
	if (sc.skipped)
		printf("%zu objects under blobs/ are not named by a sha256 "
		       "digest; left alone\n",
		       sc.skipped);
	status = failed ? 1 : 0;

out_free_list:
	for (size_t i = 0; i < sc.n; i++)
		free(sc.digests[i]);
	free(sc.digests);
	verified_free(d->verified);
out_close:
	d->store->close(d->store_state);
out_free_config:
	host->config_free(cfg);
out_free:
	free(o);
	free(d);
	return status;
}

static const struct vkdr_command commands[] = {
	{
		.group = "mirror",
		.verb = "serve",
		.summary = "run the mirror daemon in the foreground",
		.usage = "vkdr mirror serve [--listen=ADDR] [--storage=NAME] "
			 "[--storage-opt KEY=VALUE ...] [--tag-ttl=SECONDS] "
			 "[--stall-timeout=SECONDS] [--max-connections=N]",
		.help = "Serves every configured mirror on its port: pulls go "
			"to the upstream once,\n"
			"are verified and cached, and are answered from the "
			"cache afterwards.\n\n"
			"Options:\n"
			"  --listen=ADDR          address to bind (default: "
			"the listen\n"
			"                         setting, else 0.0.0.0)\n"
			"  --storage=NAME         storage backend (default: "
			"the storage\n"
			"                         setting, else filesystem)\n"
			"  --storage-opt KEY=VAL  backend option, overrides "
			"the configured one\n"
			"  --tag-ttl=SECONDS      how long a tag answer is "
			"trusted (default 60)\n"
			"  --stall-timeout=SECONDS\n"
			"                         drop an upstream transfer "
			"moving less than a\n"
			"                         byte a second for this long "
			"(default 30)\n"
			"  --max-connections=N    clients one port serves at "
			"once (default 2000);\n"
			"                         more are refused until "
			"some leave\n\n"
			"Signals: SIGTERM or SIGINT stop it gracefully; SIGHUP "
			"re-reads the\n"
			"configuration and opens or closes ports.\n"
			"Metrics: GET /metrics on any port.\n",
		.run = cmd_serve,
	},
	{
		.group = "mirror",
		.verb = "prune",
		.summary = "trim the mirror cache to its maximum size",
		.usage = "vkdr mirror prune [--max-size=SIZE] [--storage=NAME] "
			 "[--storage-opt KEY=VALUE ...]",
		.help = "Evicts the least recently used objects until the "
			"store holds at most\n"
			"SIZE (500MiB, 2G...). Without --max-size, the "
			"max-size storage option.\n",
		.run = cmd_prune,
	},
	{
		.group = "mirror",
		.verb = "scrub",
		.summary = "check every cached blob against its digest",
		.usage = "vkdr mirror scrub [--storage=NAME] "
			 "[--storage-opt KEY=VALUE ...]",
		.help = "Reads and hashes every blob and manifest in the "
			"store, and removes those\n"
			"whose bytes no longer match their digest (a disk "
			"error, a hand edit).\n"
			"A running daemon fetches a removed object again the "
			"next time it is\n"
			"asked for. Safe to run beside the daemon. Exit status "
			"1 when an object\n"
			"could not be read.\n",
		.run = cmd_scrub,
	},
};

static const struct vkdr_command_ops ops = {
	.version = VKDR_COMMAND_OPS_VERSION,
	.commands = commands,
	.n_commands = sizeof(commands) / sizeof(commands[0]),
};

static const struct vkdr_module serve_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_COMMAND,
	.name = "serve",
	.version = PACKAGE_VERSION,
	.description = "the mirror daemon: vkdr mirror serve, prune and "
		       "scrub",
	.ops = &ops,
};

VKDR_MODULE_DEFINE(serve_module);
