/*
 * vkdr/module.h - the contract between the vkdr core and its modules.
 *
 * Everything vkdr does beyond loading modules lives in a module: the
 * commands ("vkdr mirror add"), the registry plugins that know how to get
 * into one registry, and the storage backends that keep the cache. A module
 * is a shared object that exports exactly one symbol, vkdr_module_entry(),
 * which returns a descriptor. The descriptor starts with the ABI version the
 * module was built against; the loader refuses any other version.
 *
 * The core reaches a module through the vtable behind its descriptor; a
 * module reaches the core only through the struct vkdr_host passed to its
 * init() and to every call that needs it. A module therefore links against
 * nothing of the core, builds from this header alone, and can be tested
 * against a mock host.
 *
 * Compatibility rules:
 *  - Structs shared with modules only grow at the end. Every vtable starts
 *    with a version; a slot added later is called only when the version says
 *    it exists and the pointer is non-NULL.
 *  - Removing or reordering anything bumps VKDR_MODULE_ABI.
 *
 * ABI history:
 *  1 (2026-12) first version: command, registry and storage modules.
 *
 * Vtable history (additions within ABI 1):
 *  registry ops 2 (2026-12): report, for gauges such as a pull budget.
 */
#ifndef VKDR_MODULE_H
#define VKDR_MODULE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VKDR_MODULE_ABI 1

/* The one symbol a module exports, and its name as a string for dlsym(). */
#define VKDR_MODULE_ENTRY_SYMBOL "vkdr_module_entry"

#if defined(__GNUC__)
#define VKDR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define VKDR_EXPORT __attribute__((visibility("default")))
#else
#define VKDR_PRINTF(fmt, args)
#define VKDR_EXPORT
#endif

struct vkdr_host;

/* ------------------------------------------------------------------------
 * Logging
 */

enum vkdr_log_level {
	VKDR_LOG_ERR = 3,
	VKDR_LOG_WARN = 4,
	VKDR_LOG_INFO = 6,
	VKDR_LOG_DEBUG = 7,
};

/*
 * The logging family every module uses. MOD is the module's name as it
 * should appear at the start of the line. Debug lines are filtered before
 * their arguments are formatted.
 */
#define vkdr_log_err(h, mod, ...) \
	(h)->log(VKDR_LOG_ERR, (mod), __VA_ARGS__)
#define vkdr_log_warn(h, mod, ...) \
	(h)->log(VKDR_LOG_WARN, (mod), __VA_ARGS__)
#define vkdr_log_info(h, mod, ...) \
	(h)->log(VKDR_LOG_INFO, (mod), __VA_ARGS__)
#define vkdr_log_debug(h, mod, ...)                                  \
	do {                                                         \
		if ((h)->log_enabled(VKDR_LOG_DEBUG))                \
			(h)->log(VKDR_LOG_DEBUG, (mod), __VA_ARGS__); \
	} while (0)

/* ------------------------------------------------------------------------
 * Configuration as the core reads it
 */

/* One KEY=VALUE option, as given to a storage backend. */
struct vkdr_option {
	const char *key;
	const char *value;
};

/*
 * One configured mirror. HOST is the registry it mirrors ("docker.io",
 * "*.azurecr.io"); ENDPOINT the local URL k3s is told to use; PORT the local
 * port taken from it. UPSTREAM is the remote base URL the user set with
 * --upstream, or NULL when the registry plugin decides. USERNAME and
 * PASSWORD are the credentials the user configured for the mirror, or NULL.
 */
struct vkdr_mirror {
	const char *host;
	const char *endpoint;
	unsigned port;
	const char *upstream;
	const char *username;
	const char *password;
};

/*
 * Daemon-wide settings. LISTEN is the address listeners bind to; STORAGE
 * the storage backend's name, with its options (handed to the backend
 * untouched); TAG_TTL how many seconds a tag-to-digest answer is trusted
 * before it is revalidated upstream.
 */
struct vkdr_settings {
	const char *listen;
	const char *storage;
	const struct vkdr_option *storage_options;
	size_t n_storage_options;
	unsigned tag_ttl;
};

/* A snapshot of the configuration; free it with host->config_free(). */
struct vkdr_config {
	const struct vkdr_mirror *mirrors;
	size_t n_mirrors;
	struct vkdr_settings settings;
};

/* What to add; fields other than HOST may be NULL or 0. */
struct vkdr_mirror_spec {
	const char *host;
	const char *upstream;
	unsigned port;
};

/* ------------------------------------------------------------------------
 * HTTP client the core offers (libcurl underneath), used by plugins for
 * token endpoints so that tests can replace it.
 */

struct vkdr_http_request {
	const char *method;		/* "GET" when NULL */
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const char *username;		/* Basic auth when non-NULL */
	const char *password;
	const void *body;
	size_t body_len;
	long timeout_ms;		/* 0: the core's default */
};

struct vkdr_http_response {
	long status;
	char *body;		/* NUL-terminated; free with host->free() */
	size_t body_len;
	char *headers;		/* raw header block; free with host->free() */
};

/* ------------------------------------------------------------------------
 * Modules
 */

enum vkdr_module_kind {
	VKDR_MODULE_COMMAND = 1,
	VKDR_MODULE_REGISTRY = 2,
	VKDR_MODULE_STORAGE = 3,
};

/*
 * What vkdr_module_entry() returns. The struct is const and lives in the
 * module's data for as long as the module is loaded.
 */
struct vkdr_module {
	/* Mandatory: VKDR_MODULE_ABI as the module saw it when built. */
	uint32_t abi;
	/* Mandatory: enum vkdr_module_kind. */
	uint32_t kind;
	/* Mandatory: unique short name, [a-z0-9-]+, e.g. "dockerhub". */
	const char *name;
	/* Mandatory: the module's own version string. */
	const char *version;
	/* Mandatory: one line saying what it is for. */
	const char *description;
	/* Mandatory: the kind's vtable (struct vkdr_*_ops). */
	const void *ops;
	/*
	 * Optional: called once after loading, before any other slot. A
	 * negative errno refuses the module (it is unloaded and reported).
	 * NULL means nothing to set up.
	 */
	int (*init)(const struct vkdr_host *host);
	/* Optional: called once before unloading. */
	void (*fini)(void);
};

/* Every module defines this one function and exports nothing else. */
typedef const struct vkdr_module *(*vkdr_module_entry_fn)(void);

/* ---- Command modules -------------------------------------------------- */

/*
 * One command, "vkdr GROUP VERB". RUN gets the arguments after the verb
 * (argv[0] is the verb) and returns the process exit status: 0 success,
 * 1 runtime error, 2 usage error. "--help" is answered by the core from
 * USAGE and HELP before RUN is called.
 */
struct vkdr_command {
	const char *group;	/* "mirror" */
	const char *verb;	/* "add" */
	const char *summary;	/* one line for the group's command list */
	const char *usage;	/* "vkdr mirror add --host=HOST [--upstream=URL]" */
	const char *help;	/* the rest of --help: options, examples */
	int (*run)(const struct vkdr_host *host, int argc, char **argv);
};

#define VKDR_COMMAND_OPS_VERSION 1

struct vkdr_command_ops {
	uint32_t version;	/* VKDR_COMMAND_OPS_VERSION */
	const struct vkdr_command *commands;
	size_t n_commands;
};

/* ---- Registry plugins ------------------------------------------------- */

/* Where and how to reach the remote registry behind a mirror. */
struct vkdr_upstream {
	char base_url[512];	/* "https://registry-1.docker.io", no slash */
};

/*
 * What a plugin is given to answer a 401. CHALLENGE is the raw
 * WWW-Authenticate header value(s); USERNAME/PASSWORD the credentials
 * found for REGISTRY, or NULL for anonymous access.
 */
struct vkdr_auth_request {
	const char *registry;	/* "docker.io", "myreg.azurecr.io" */
	const char *base_url;	/* the upstream base URL */
	const char *repository;	/* upstream repository name */
	const char *challenge;
	const char *username;
	const char *password;
};

/* The plugin's answer: an Authorization header value and its lifetime. */
struct vkdr_auth_result {
	char authorization[8192];	/* "Bearer eyJ...", "Basic ..." */
	unsigned expires_in;		/* seconds; 0 means "use 60" */
};

#define VKDR_REGISTRY_OPS_VERSION 2

struct vkdr_registry_ops {
	uint32_t version;	/* VKDR_REGISTRY_OPS_VERSION */
	/*
	 * Mandatory: the hosts this plugin serves, NULL-terminated. An entry
	 * is an exact host ("ghcr.io"), a leading wildcard ("*.azurecr.io"),
	 * or "*" for a fallback that takes every host nobody else claims.
	 * The most specific claim wins.
	 */
	const char *const *claims;
	/*
	 * Optional: extra checks on a host the user adds, beyond the core's
	 * syntax check. Returns 0 or -EINVAL with a message in ERR. NULL
	 * means every host the core accepts is fine.
	 */
	int (*validate_host)(const char *host, char *err, size_t errlen);
	/*
	 * Optional: the canonical name for an alias ("index.docker.io" is
	 * "docker.io"). Returns true and fills OUT when HOST is an alias.
	 */
	bool (*canonical_host)(const char *host, char *out, size_t outlen);
	/*
	 * Mandatory: fill OUT with the upstream for REGISTRY (the actual
	 * registry, never a wildcard). CONFIGURED is the user's --upstream or
	 * NULL. Returns 0 or a negative errno.
	 */
	int (*resolve)(const struct vkdr_host *host, const char *registry,
		       const char *configured, struct vkdr_upstream *out);
	/*
	 * Optional: the repository name as the upstream wants it, e.g.
	 * "nginx" -> "library/nginx". Returns 0 or -ENAMETOOLONG. NULL means
	 * names are used unchanged.
	 */
	int (*repository)(const char *registry, const char *name, char *out,
			  size_t outlen);
	/*
	 * Mandatory: answer the upstream's 401 challenge. Returns 0 with
	 * RESULT filled; -EACCES when the credentials were refused (the
	 * caller must not retry in a loop); -ENOTSUP for a challenge it
	 * cannot answer; another negative errno when the token endpoint
	 * failed.
	 */
	int (*authorize)(const struct vkdr_host *host,
			 const struct vkdr_auth_request *req,
			 struct vkdr_auth_result *result);
	/*
	 * Optional: shown every upstream response header, e.g. to read a
	 * rate-limit budget. Must be cheap and thread-safe.
	 */
	void (*observe_header)(const struct vkdr_host *host,
			       const char *registry, const char *name,
			       const char *value);
	/*
	 * Optional, version >= 2: report what the plugin keeps track of,
	 * e.g. a pull budget, by calling EMIT once per value. NAME is a
	 * Prometheus metric name ("vkdr_mirror_pull_budget_remaining"),
	 * LABELS a label list without braces ("registry=\"docker.io\"") or
	 * "". Called from any thread; must be cheap. NULL means nothing to
	 * report.
	 */
	void (*report)(const struct vkdr_host *host,
		       void (*emit)(void *arg, const char *name,
				    const char *labels, double value),
		       void *arg);
};

/* ---- Storage backends ------------------------------------------------- */

/*
 * Storage keys are relative paths of [a-z0-9._/-] built by the daemon:
 * "blobs/sha256/<hex>" for blobs and manifests (content-addressed), and
 * "tags/<...>" for small records. A backend may use them as file names.
 */

struct vkdr_object_info {
	uint64_t size;
	int64_t mtime;		/* seconds since the epoch */
	int64_t atime;		/* last use as the backend tracks it */
};

/*
 * An object opened for reading. When FD >= 0 the daemon may sendfile()
 * SIZE bytes from FD starting at OFFSET; otherwise it calls read().
 */
struct vkdr_object {
	int fd;
	uint64_t offset;
	uint64_t size;
	void *priv;		/* the backend's own */
};

#define VKDR_STORAGE_OPS_VERSION 1

struct vkdr_storage_ops {
	uint32_t version;	/* VKDR_STORAGE_OPS_VERSION */
	/*
	 * Mandatory: open a store with its options. Unknown keys are an
	 * error (-EINVAL, with a log line naming them). *STATE is the
	 * backend's handle for every other call.
	 */
	int (*open)(const struct vkdr_host *host,
		    const struct vkdr_option *opts, size_t n_opts,
		    void **state);
	/* Mandatory: close the store; every object must be released. */
	void (*close)(void *state);
	/* Mandatory: 0 and INFO, or -ENOENT. */
	int (*stat)(void *state, const char *key,
		    struct vkdr_object_info *info);
	/* Mandatory: open KEY for reading; 0 or -ENOENT. Marks it used. */
	int (*get)(void *state, const char *key, struct vkdr_object *obj);
	/*
	 * Mandatory: read up to LEN bytes at OFF (relative to the object)
	 * into BUF; returns the count, 0 at the end, or a negative errno.
	 */
	ssize_t (*read)(void *state, struct vkdr_object *obj, uint64_t off,
			void *buf, size_t len);
	/* Mandatory: release what get() opened. */
	void (*release)(void *state, struct vkdr_object *obj);
	/*
	 * Mandatory: start writing KEY. SIZE_HINT is the expected size or 0
	 * when unknown. Nothing is visible under KEY before put_commit().
	 * -ENOSPC when the store is full and nothing can be evicted.
	 */
	int (*put_begin)(void *state, const char *key, uint64_t size_hint,
			 void **writer);
	/* Mandatory: append bytes; 0 or a negative errno (-ENOSPC...). */
	int (*put_write)(void *state, void *writer, const void *buf,
			 size_t len);
	/*
	 * Mandatory: make the object visible atomically under its key,
	 * replacing any older one, and free WRITER.
	 */
	int (*put_commit)(void *state, void *writer);
	/* Mandatory: drop what was written and free WRITER. */
	void (*put_abort)(void *state, void *writer);
	/* Mandatory: remove KEY; 0 or -ENOENT. */
	int (*remove)(void *state, const char *key);
	/*
	 * Mandatory: call FN for every object whose key starts with PREFIX;
	 * a non-zero return from FN stops the walk and is returned.
	 */
	int (*walk)(void *state, const char *prefix,
		    int (*fn)(void *arg, const char *key,
			      const struct vkdr_object_info *info),
		    void *arg);
	/*
	 * Optional: evict least recently used objects until the store holds
	 * at most MAX_BYTES. Returns the number of bytes freed or a negative
	 * errno. NULL means the store has no notion of eviction.
	 */
	int64_t (*trim)(void *state, uint64_t max_bytes);
	/* Optional: bytes and objects held. */
	int (*usage)(void *state, uint64_t *bytes, uint64_t *objects);
	/*
	 * Optional: a URL a client may fetch KEY from directly for TTL
	 * seconds (an object store's presigned URL). -ENOTSUP or NULL when
	 * the backend serves bytes only.
	 */
	int (*redirect_url)(void *state, const char *key, unsigned ttl,
			    char *url, size_t urllen);
};

/* ------------------------------------------------------------------------
 * Host services: what the core offers to every module.
 */

struct vkdr_module_info {
	const struct vkdr_module *module;
	const char *path;	/* the file it was loaded from */
};

#define VKDR_HOST_VERSION 1

struct vkdr_host {
	uint32_t version;	/* VKDR_HOST_VERSION */
	uint32_t size;		/* sizeof(struct vkdr_host) of the core */

	/* Logging: one line, prefixed with the module's name. */
	void (*log)(enum vkdr_log_level level, const char *module,
		    const char *fmt, ...) VKDR_PRINTF(3, 4);
	bool (*log_enabled)(enum vkdr_log_level level);
	/* Free memory the host handed out (strings, responses). */
	void (*free)(void *p);

	/* $VKDR_HOME, by default ~/.vkdr. */
	const char *(*home)(void);
	/* Path of mirror-registry.yaml, the file handed to k3d. */
	const char *(*registry_config_path)(void);
	/* Path of mirror-settings.yaml, vkdr's own settings. */
	const char *(*settings_path)(void);

	/*
	 * Read the configuration. Returns 0 with *CFG to free with
	 * config_free(), or a negative errno with a one-line reason in ERR
	 * (e.g. a YAML error with line and column).
	 */
	int (*config_read)(struct vkdr_config **cfg, char *err, size_t errlen);
	void (*config_free)(struct vkdr_config *cfg);
	/*
	 * Add a mirror under the configuration lock. Returns 0 when added,
	 * -EEXIST when HOST is there already (OUT then describes it), or
	 * another negative errno with ERR filled. OUT is freed with
	 * mirror_free().
	 */
	int (*mirror_add)(const struct vkdr_mirror_spec *spec,
			  struct vkdr_mirror **out, char *err, size_t errlen);
	/* Remove a mirror; -ENOENT when it is not configured. */
	int (*mirror_remove)(const char *host, char *err, size_t errlen);
	void (*mirror_free)(struct vkdr_mirror *m);
	/*
	 * Check a host as written by a user; on success write the canonical
	 * form to OUT (aliases resolved by the registry plugins). Returns 0
	 * or -EINVAL with a message that suggests the fix.
	 */
	int (*host_validate)(const char *host, char *out, size_t outlen,
			     char *err, size_t errlen);
	/*
	 * Change one daemon-wide setting (e.g. "tag-ttl", "storage",
	 * "storage-options.max-size"). Returns 0 or -EINVAL with ERR.
	 */
	int (*setting_set)(const char *key, const char *value, char *err,
			   size_t errlen);

	/*
	 * The registry plugin serving REGISTRY (the most specific claim), or
	 * NULL when none claims it. *MOD, when MOD is non-NULL, names it.
	 */
	const struct vkdr_registry_ops *(*registry_find)(
		const char *registry, const struct vkdr_module **mod);
	/* The storage backend called NAME, or NULL. */
	const struct vkdr_storage_ops *(*storage_find)(const char *name);
	/*
	 * Walk every loaded module, then every file that was skipped (MOD
	 * NULL, REASON set). Stops when FN returns non-zero.
	 */
	int (*modules_walk)(int (*fn)(void *arg,
				      const struct vkdr_module_info *info,
				      const char *reason),
			    void *arg);

	/*
	 * One HTTP request, following no redirects. Returns 0 with RESP
	 * filled (free its buffers with host->free()), or a negative errno
	 * when no answer came (-ETIMEDOUT, -ECONNREFUSED, -EIO).
	 */
	int (*http)(const struct vkdr_http_request *req,
		    struct vkdr_http_response *resp);
	/*
	 * Look up auth-param NAME ("realm") in the first challenge of SCHEME
	 * ("Bearer") in a WWW-Authenticate value, per RFC 7235: keys compare
	 * case-insensitively, quoted strings lose their quotes and escapes.
	 * Returns 0 with OUT filled, -ENOENT, or -ENAMETOOLONG.
	 */
	int (*challenge_param)(const char *header, const char *scheme,
			       const char *name, char *out, size_t outlen);
	/*
	 * Credentials for REGISTRY (an upstream host such as "ghcr.io"),
	 * from, in order: the mirror's entry in mirror-settings.yaml, the
	 * configs: section of mirror-registry.yaml, and the Docker client's
	 * ~/.docker/config.json. Returns 0 with *USERNAME and *PASSWORD set
	 * (free both with host->free()), or -ENOENT for anonymous access.
	 */
	int (*credentials_find)(const char *registry, char **username,
				char **password);
	/* Run a command of another module, as "vkdr GROUP VERB ARGS". */
	int (*command_run)(const char *group, const char *verb, int argc,
			   char **argv);
};

/*
 * Declares the entry point. Use it once per module:
 *   VKDR_MODULE_DEFINE(my_module);
 * where my_module is the module's static const struct vkdr_module.
 */
#define VKDR_MODULE_DEFINE(desc)                                       \
	VKDR_EXPORT const struct vkdr_module *vkdr_module_entry(void); \
	VKDR_EXPORT const struct vkdr_module *vkdr_module_entry(void)  \
	{                                                              \
		return &(desc);                                        \
	}

#ifdef __cplusplus
}
#endif

#endif /* VKDR_MODULE_H */
