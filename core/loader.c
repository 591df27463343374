/*
 * loader.c - the module loader.
 *
 * Loading is deliberately fussy: only regular files named *.so, opened with
 * RTLD_NOW so a missing symbol shows up here and not in the middle of a
 * pull, RTLD_LOCAL so two modules cannot clash, and every check made before
 * any module code other than the entry point runs. Whatever goes wrong is
 * written down with the file's name and skipped: one broken drop-in must
 * not take the CLI or the daemon down.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "log.h"
#include "paths.h"

struct loaded {
	void *handle;
	const struct vkdr_module *mod;
	char *path;
};

struct skipped {
	char *path;
	char *reason;
};

static struct loaded *loaded;
static size_t n_loaded;
static struct skipped *skipped;
static size_t n_skipped;

static void record_skip(const char *path, const char *fmt, ...)
	VKDR_PRINTF(2, 3);

static void record_skip(const char *path, const char *fmt, ...)
{
	struct skipped *grown;
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	core_debug("skipping %s: %s", path, reason);

	grown = realloc(skipped, (n_skipped + 1) * sizeof(*skipped));
	if (!grown)
		return;
	skipped = grown;
	skipped[n_skipped].path = strdup(path);
	skipped[n_skipped].reason = strdup(reason);
	n_skipped++;
}

const char *loader_last_error(void)
{
	return n_skipped ? skipped[n_skipped - 1].reason : NULL;
}

static const struct loaded *find_by_name(const char *name)
{
	for (size_t i = 0; i < n_loaded; i++)
		if (strcmp(loaded[i].mod->name, name) == 0)
			return &loaded[i];
	return NULL;
}

static bool valid_name(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return false;
	return true;
}

/*
 * The mandatory slots of each kind. Checking them here means the rest of
 * the core may call them without testing for NULL.
 */
static const char *missing_slot(const struct vkdr_module *m)
{
	switch (m->kind) {
	case VKDR_MODULE_COMMAND: {
		const struct vkdr_command_ops *o = m->ops;

		if (o->version < 1)
			return "command ops version";
		if (!o->commands || !o->n_commands)
			return "commands";
		for (size_t i = 0; i < o->n_commands; i++)
			if (!o->commands[i].group || !o->commands[i].verb ||
			    !o->commands[i].run)
				return "command group, verb or run";
		return NULL;
	}
	case VKDR_MODULE_REGISTRY: {
		const struct vkdr_registry_ops *o = m->ops;

		if (o->version < 1)
			return "registry ops version";
		if (!o->claims || !o->claims[0])
			return "claims";
		if (!o->resolve)
			return "resolve";
		if (!o->authorize)
			return "authorize";
		return NULL;
	}
	case VKDR_MODULE_STORAGE: {
		const struct vkdr_storage_ops *o = m->ops;

		if (o->version < 1)
			return "storage ops version";
		if (!o->open || !o->close || !o->stat || !o->get ||
		    !o->read || !o->release || !o->put_begin ||
		    !o->put_write || !o->put_commit || !o->put_abort ||
		    !o->remove || !o->walk)
			return "one of the storage slots";
		return NULL;
	}
	}
	return "a known kind";
}

int loader_load_file(const struct vkdr_host *host, const char *path)
{
	const struct vkdr_module *mod;
	const struct loaded *other;
	vkdr_module_entry_fn entry;
	struct loaded *grown;
	const char *missing;
	struct stat st;
	void *handle;
	int rc;

	if (stat(path, &st) < 0) {
		record_skip(path, "%s", strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		record_skip(path, "not a regular file");
		return -EINVAL;
	}

	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		record_skip(path, "%s (is a library it needs missing?)",
			    dlerror());
		return -ENOEXEC;
	}

	/* dlsym returns void *; POSIX guarantees the conversion works. */
	*(void **)&entry = dlsym(handle, VKDR_MODULE_ENTRY_SYMBOL);
	if (!entry) {
		record_skip(path, "no %s symbol: not a vkdr module",
			    VKDR_MODULE_ENTRY_SYMBOL);
		rc = -ENOEXEC;
		goto out_close;
	}

	mod = entry();
	if (!mod) {
		record_skip(path, "%s returned NULL",
			    VKDR_MODULE_ENTRY_SYMBOL);
		rc = -ENOEXEC;
		goto out_close;
	}
	if (mod->abi != VKDR_MODULE_ABI) {
		record_skip(path,
			    "built for module ABI %u, this vkdr speaks ABI %u: "
			    "rebuild it against this vkdr's vkdr/module.h",
			    (unsigned)mod->abi, (unsigned)VKDR_MODULE_ABI);
		rc = -EPROTO;
		goto out_close;
	}
	if (!valid_name(mod->name) || !mod->ops || !mod->version) {
		record_skip(path, "descriptor lacks a valid name, version "
				  "or ops");
		rc = -EINVAL;
		goto out_close;
	}
	missing = missing_slot(mod);
	if (missing) {
		record_skip(path, "module '%s' lacks %s", mod->name, missing);
		rc = -EINVAL;
		goto out_close;
	}
	other = find_by_name(mod->name);
	if (other) {
		record_skip(path, "module '%s' already loaded from %s",
			    mod->name, other->path);
		rc = -EEXIST;
		goto out_close;
	}

	grown = realloc(loaded, (n_loaded + 1) * sizeof(*loaded));
	if (!grown) {
		rc = -ENOMEM;
		goto out_close;
	}
	loaded = grown;

	if (mod->init) {
		rc = mod->init(host);
		if (rc < 0) {
			record_skip(path, "module '%s' refused to start: %s",
				    mod->name, strerror(-rc));
			goto out_close;
		}
	}

	loaded[n_loaded].handle = handle;
	loaded[n_loaded].mod = mod;
	loaded[n_loaded].path = strdup(path);
	n_loaded++;
	core_debug("loaded %s %s from %s", mod->name, mod->version, path);
	return 0;

out_close:
	dlclose(handle);
	return rc;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void loader_load_dir(const struct vkdr_host *host, const char *dir)
{
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;

	/* Sorted, so which of two same-named modules wins is predictable. */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **grown;

		if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), compare_names);

	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
		    (int)sizeof(path))
			loader_load_file(host, path);
		free(names[i]);
	}
	free(names);
}

/*
 * True when the process runs the binary of the build tree, which then
 * loads the modules of the same build tree: tests and a developer's ./vkdr
 * work without "make install", and an installed vkdr never looks there.
 */
static bool running_uninstalled(void)
{
	char exe[PATH_MAX], bindir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	/* libtool may run the binary from .libs/ below the build dir. */
	if (!realpath(VKDR_BUILD_BINDIR, bindir))
		return false;
	return strcmp(exe, bindir) == 0 ||
	       (strncmp(exe, bindir, strlen(bindir)) == 0 &&
		strcmp(exe + strlen(bindir), "/.libs") == 0);
}

void loader_load_all(const struct vkdr_host *host)
{
	const char *env = getenv("VKDR_PLUGIN_PATH");

	if (env && *env) {
		char *copy = strdup(env), *save = NULL, *dir;

		for (dir = strtok_r(copy, ":", &save); dir;
		     dir = strtok_r(NULL, ":", &save))
			loader_load_dir(host, dir);
		free(copy);
	}
	if (running_uninstalled())
		loader_load_dir(host, VKDR_BUILD_MODULEDIR);
	loader_load_dir(host, paths_plugins());
	loader_load_dir(host, VKDR_PKGLIBDIR);
}

void loader_unload_all(void)
{
	for (size_t i = n_loaded; i-- > 0;) {
		if (loaded[i].mod->fini)
			loaded[i].mod->fini();
		dlclose(loaded[i].handle);
		free(loaded[i].path);
	}
	free(loaded);
	loaded = NULL;
	n_loaded = 0;

	for (size_t i = 0; i < n_skipped; i++) {
		free(skipped[i].path);
		free(skipped[i].reason);
	}
	free(skipped);
	skipped = NULL;
	n_skipped = 0;
}

const struct vkdr_command *loader_find_command(const char *group,
					       const char *verb)
{
	for (size_t i = 0; i < n_loaded; i++) {
		const struct vkdr_command_ops *o = loaded[i].mod->ops;

		if (loaded[i].mod->kind != VKDR_MODULE_COMMAND)
			continue;
		for (size_t j = 0; j < o->n_commands; j++)
			if (strcmp(o->commands[j].group, group) == 0 &&
			    strcmp(o->commands[j].verb, verb) == 0)
				return &o->commands[j];
	}
	return NULL;
}

void loader_each_command(const char *group,
			 void (*fn)(void *arg, const struct vkdr_command *c),
			 void *arg)
{
	for (size_t i = 0; i < n_loaded; i++) {
		const struct vkdr_command_ops *o = loaded[i].mod->ops;

		if (loaded[i].mod->kind != VKDR_MODULE_COMMAND)
			continue;
		for (size_t j = 0; j < o->n_commands; j++)
			if (!group || strcmp(o->commands[j].group, group) == 0)
				fn(arg, &o->commands[j]);
	}
}

/*
 * How well CLAIM covers REGISTRY: 0 not at all, 1 for the "*" fallback,
 * 2 plus the suffix length for a wildcard, and the highest for an exact
 * name. A configured wildcard host ("*.azurecr.io") matches the same
 * wildcard claim exactly.
 */
static size_t claim_score(const char *claim, const char *registry)
{
	size_t rl = strlen(registry), cl = strlen(claim);

	if (strcmp(claim, registry) == 0)
		return SIZE_MAX;
	if (strcmp(claim, "*") == 0)
		return 1;
	if (claim[0] == '*' && claim[1] == '.' && rl > cl - 1 &&
	    strcmp(registry + rl - (cl - 1), claim + 1) == 0 &&
	    registry[0] != '*')
		return 2 + cl;
	return 0;
}

const struct vkdr_registry_ops *
loader_find_registry(const char *registry, const struct vkdr_module **mod)
{
	const struct loaded *best = NULL;
	size_t best_score = 0;

	for (size_t i = 0; i < n_loaded; i++) {
		const struct vkdr_registry_ops *o = loaded[i].mod->ops;

		if (loaded[i].mod->kind != VKDR_MODULE_REGISTRY)
			continue;
		for (const char *const *c = o->claims; *c; c++) {
			size_t s = claim_score(*c, registry);

			if (s > best_score) {
				best_score = s;
				best = &loaded[i];
			}
		}
	}
	if (mod)
		*mod = best ? best->mod : NULL;
	return best ? best->mod->ops : NULL;
}

const struct vkdr_storage_ops *loader_find_storage(const char *name)
{
	const struct loaded *l = find_by_name(name);

	if (!l || l->mod->kind != VKDR_MODULE_STORAGE)
		return NULL;
	return l->mod->ops;
}

int loader_walk(int (*fn)(void *arg, const struct vkdr_module_info *info,
			  const char *reason),
		void *arg)
{
	int rc;

	for (size_t i = 0; i < n_loaded; i++) {
		struct vkdr_module_info info = {
			.module = loaded[i].mod,
			.path = loaded[i].path,
		};

		rc = fn(arg, &info, NULL);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n_skipped; i++) {
		struct vkdr_module_info info = {
			.module = NULL,
			.path = skipped[i].path,
		};

		rc = fn(arg, &info, skipped[i].reason);
		if (rc)
			return rc;
	}
	return 0;
}
