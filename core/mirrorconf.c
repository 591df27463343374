/*
 * mirrorconf.c - reading and editing the two configuration files.
 *
 * Every change is a read-modify-write of whole files under one exclusive
 * lock: parse, edit the tree, write a temporary file beside the target,
 * fsync it, rename it over the target and fsync the directory. Readers
 * take the same lock shared, so they never see the registry file of one
 * change with the settings file of another.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostname.h"
#include "mirrorconf.h"
#include "paths.h"
#include "yamltree.h"

#define LOCK_NAME ".mirror-registry.lock"
#define MODE_PUBLIC 0644
#define MODE_SECRET 0600

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* An error about NODE in the file at PATH, with its line and column. */
static int node_err(const char *path, const struct yt_node *node, char *err,
		    size_t errlen, const char *what)
{
	set_err(err, errlen, "%s:%u:%u: %s", path, node->line, node->column,
		what);
	return -EINVAL;
}

/* ------------------------------------------------------------------------
 * Locking and whole-file I/O
 */

/*
 * Take the configuration lock, creating its directory and file as needed
 * when HOW is LOCK_EX. A shared lock is best effort: without a directory
 * there is nothing to read anyway. Returns the descriptor, -1 for "no
 * lock taken" (shared only), or a negative errno.
 */
static int lock_config(int how, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *reg = paths_registry_config();
	const char *slash = strrchr(reg, '/');
	int fd, rc;

	if (!slash || snprintf(path, sizeof(path), "%.*s/%s",
			       (int)(slash - reg), reg,
			       LOCK_NAME) >= (int)sizeof(path)) {
		set_err(err, errlen, "configuration path too long: %s", reg);
		return -ENAMETOOLONG;
	}
	if (how == LOCK_EX) {
		rc = paths_mkdir_parent(path);
		if (rc < 0) {
			set_err(err, errlen, "cannot create the directory of "
					     "%s: %s", reg, strerror(-rc));
			return rc;
		}
	}

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, MODE_PUBLIC);
	if (fd < 0) {
		rc = -errno;
		if (how != LOCK_EX)
			return -1;
		set_err(err, errlen, "cannot open the lock file %s: %s", path,
			strerror(errno));
		return rc;
	}
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		rc = -errno;
		close(fd);
		if (how != LOCK_EX)
			return -1;
		set_err(err, errlen, "cannot lock %s: %s", path,
			strerror(-rc));
		return rc;
	}
	return fd;
}

static void unlock_config(int fd)
{
	if (fd >= 0)
		close(fd);
}

/*
 * Parse the file at PATH as a mapping. A missing or empty file, or one
 * holding only null, gives an empty mapping.
 */
static int load_mapping(const char *path, struct yt_node **root, char *err,
			size_t errlen)
{
	int rc = yt_parse_file(path, root, err, errlen);

	if (rc == -ENOENT) {
		*root = NULL;
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (*root && yt_is_null(*root)) {
		yt_free(*root);
		*root = NULL;
	}
	if (!*root) {
		*root = yt_mapping_new();
		return *root ? 0 : -ENOMEM;
	}
	if ((*root)->kind != YT_MAPPING) {
		rc = node_err(path, *root, err, errlen,
			      "the top level must be a mapping of keys to "
			      "values");
		yt_free(*root);
		*root = NULL;
	}
	return rc;
}

/*
 * The mapping under KEY in ROOT, or NULL when absent or null; -EINVAL
 * with the position when KEY holds something else.
 */
static int get_mapping(const char *path, const struct yt_node *root,
		       const char *key, struct yt_node **out, char *err,
		       size_t errlen)
{
	struct yt_node *n = yt_map_get(root, key);
	char what[128];

	*out = NULL;
	if (yt_is_null(n))
		return 0;
	if (n->kind != YT_MAPPING) {
		snprintf(what, sizeof(what), "'%s' must be a mapping", key);
		return node_err(path, n, err, errlen, what);
	}
	*out = n;
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Replace the file at PATH with ROOT, atomically. On any failure the
 * temporary file is removed and PATH is untouched.
 */
static int write_atomic(const char *path, const struct yt_node *root,
			mode_t mode, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		set_err(err, errlen, "path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		goto out_report;
	}
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		close(fd);
		goto out_unlink_tmp;
	}
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		goto out_unlink_tmp;
	}

	errno = 0;
	rc = yt_emit(root, f);
	if (rc == 0 && fflush(f) != 0)
		rc = -EIO;
	if (rc == -EIO && errno)
		rc = -errno;
	if (rc == 0 && fsync(fileno(f)) < 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		goto out_unlink_tmp;

	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out_unlink_tmp;
	}
	rc = fsync_dir_of(path);
	if (rc < 0)
		goto out_report;
	return 0;

out_unlink_tmp:
	unlink(tmp);
out_report:
	set_err(err, errlen, "cannot write %s: %s; the file was left as it "
			     "was", path, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------------
 * From trees to struct vkdr_config
 */

/* The port of a URL "scheme://host[:port][/path]", or 0 when it has none. */
static unsigned url_port(const char *url)
{
	const char *p = strstr(url, "://");
	const char *end, *colon;
	unsigned long port = 0;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		p = memchr(p, ']', (size_t)(end - p));
		if (!p)
			return 0;
	}
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || colon + 1 == end)
		return 0;
	for (p = colon + 1; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			return 0;
	}
	return (unsigned)port;
}

/* The first endpoint of a mirror entry, or NULL when it has none. */
static const char *first_endpoint(const struct yt_node *entry)
{
	const struct yt_node *ep = yt_map_get(entry, "endpoint");

	if (ep && ep->kind == YT_SEQUENCE && ep->n > 0)
		return yt_scalar(ep->items[0]);
	return yt_scalar(ep);
}

static int dup_field(const char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

/*
 * A scalar setting under KEY in MAP: *OUT is its text or NULL when
 * absent. A collection there is an error with its position.
 */
static int scalar_field(const char *path, const struct yt_node *map,
			const char *key, const char **out, char *err,
			size_t errlen)
{
	const struct yt_node *n = yt_map_get(map, key);
	char what[128];

	*out = NULL;
	if (yt_is_null(n))
		return 0;
	if (n->kind != YT_SCALAR) {
		snprintf(what, sizeof(what), "'%s' must be a single value",
			 key);
		return node_err(path, n, err, errlen, what);
	}
	*out = n->value;
	return 0;
}

static void mirror_clear(struct vkdr_mirror *m)
{
	free((char *)m->host);
	free((char *)m->endpoint);
	free((char *)m->upstream);
	free((char *)m->username);
	free((char *)m->password);
}

void mirrorconf_mirror_free(struct vkdr_mirror *m)
{
	if (!m)
		return;
	mirror_clear(m);
	free(m);
}

/*
 * Fill M for the mirror HOST from its registry ENTRY and its part of the
 * settings file, SMIRRORS (the settings' "mirrors:" map, may be NULL).
 */
static int mirror_fill(struct vkdr_mirror *m, const char *host,
		       const struct yt_node *entry,
		       const struct yt_node *smirrors, char *err,
		       size_t errlen)
{
	const char *spath = paths_settings();
	const char *endpoint = first_endpoint(entry);
	const char *upstream, *username, *password;
	const struct yt_node *own = yt_map_get(smirrors, host);
	int rc;

	memset(m, 0, sizeof(*m));
	if (own && !yt_is_null(own) && own->kind != YT_MAPPING)
		return node_err(spath, own, err, errlen,
				"a mirror's settings must be a mapping");
	rc = scalar_field(spath, own, "upstream", &upstream, err, errlen);
	if (rc == 0)
		rc = scalar_field(spath, own, "username", &username, err,
				  errlen);
	if (rc == 0)
		rc = scalar_field(spath, own, "password", &password, err,
				  errlen);
	if (rc < 0)
		return rc;

	m->port = endpoint ? url_port(endpoint) : 0;
	if (dup_field(&m->host, host) < 0 ||
	    dup_field(&m->endpoint, endpoint ? endpoint : "") < 0 ||
	    dup_field(&m->upstream, upstream) < 0 ||
	    dup_field(&m->username, username) < 0 ||
	    dup_field(&m->password, password) < 0) {
		mirror_clear(m);
		return -ENOMEM;
	}
	return 0;
}

static int parse_ttl(const char *text, unsigned *out)
{
	unsigned long v = 0;

	if (!*text)
		return -EINVAL;
	for (const char *p = text; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > UINT_MAX)
			return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int read_settings(const struct yt_node *set, struct vkdr_settings *s,
			 char *err, size_t errlen)
{
	const char *path = paths_settings();
	const char *listen, *storage, *ttl;
	struct vkdr_option *opts;
	struct yt_node *so;
	int rc;

	rc = scalar_field(path, set, "listen", &listen, err, errlen);
	if (rc == 0)
		rc = scalar_field(path, set, "storage", &storage, err, errlen);
	if (rc == 0)
		rc = scalar_field(path, set, "tag-ttl", &ttl, err, errlen);
	if (rc == 0)
		rc = get_mapping(path, set, "storage-options", &so, err,
				 errlen);
	if (rc < 0)
		return rc;

	s->tag_ttl = MIRRORCONF_DEFAULT_TAG_TTL;
	if (ttl && parse_ttl(ttl, &s->tag_ttl) < 0)
		return node_err(path, yt_map_get(set, "tag-ttl"), err, errlen,
				"'tag-ttl' must be a whole number of "
				"seconds");
	if (dup_field(&s->listen,
		      listen ? listen : MIRRORCONF_DEFAULT_LISTEN) < 0 ||
	    dup_field(&s->storage,
		      storage ? storage : MIRRORCONF_DEFAULT_STORAGE) < 0)
		return -ENOMEM;
	if (!so || so->n == 0)
		return 0;

	opts = calloc(so->n, sizeof(*opts));
	if (!opts)
		return -ENOMEM;
	s->storage_options = opts;
	for (size_t i = 0; i < so->n; i++) {
		const struct yt_node *k = so->items[2 * i];
		const struct yt_node *v = so->items[2 * i + 1];

		if (k->kind != YT_SCALAR || (v->kind != YT_SCALAR))
			return node_err(path, v->kind != YT_SCALAR ? v : k,
					err, errlen,
					"storage options are KEY: VALUE "
					"pairs of single values");
		if (dup_field(&opts[i].key, k->value) < 0 ||
		    dup_field(&opts[i].value, v->value) < 0)
			return -ENOMEM;
		s->n_storage_options = i + 1;
	}
	return 0;
}

void mirrorconf_free(struct vkdr_config *cfg)
{
	struct vkdr_settings *s;

	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_mirrors; i++)
		mirror_clear((struct vkdr_mirror *)&cfg->mirrors[i]);
	free((void *)cfg->mirrors);

	s = &cfg->settings;
	for (size_t i = 0; i < s->n_storage_options; i++) {
		free((char *)s->storage_options[i].key);
		free((char *)s->storage_options[i].value);
	}
	free((void *)s->storage_options);
	free((char *)s->listen);
	free((char *)s->storage);
	free(cfg);
}

static int build_config(const struct yt_node *reg, const struct yt_node *set,
			struct vkdr_config **out, char *err, size_t errlen)
{
	struct yt_node *mirrors, *smirrors;
	struct vkdr_mirror *list;
	struct vkdr_config *cfg;
	int rc;

	rc = get_mapping(paths_registry_config(), reg, "mirrors", &mirrors,
			 err, errlen);
	if (rc == 0)
		rc = get_mapping(paths_settings(), set, "mirrors", &smirrors,
				 err, errlen);
	if (rc < 0)
		return rc;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	rc = read_settings(set, &cfg->settings, err, errlen);
	if (rc < 0)
		goto out_free_cfg;
	if (!mirrors || mirrors->n == 0)
		goto out_done;

	list = calloc(mirrors->n, sizeof(*list));
	if (!list) {
		rc = -ENOMEM;
		goto out_free_cfg;
	}
	cfg->mirrors = list;
	for (size_t i = 0; i < mirrors->n; i++) {
		const struct yt_node *key = mirrors->items[2 * i];
		const struct yt_node *entry = mirrors->items[2 * i + 1];

		if (key->kind != YT_SCALAR) {
			rc = node_err(paths_registry_config(), key, err,
				      errlen, "a mirror's key must be a "
					      "registry host");
			goto out_free_cfg;
		}
		rc = mirror_fill(&list[i], key->value, entry, smirrors, err,
				 errlen);
		if (rc < 0)
			goto out_free_cfg;
		cfg->n_mirrors = i + 1;
	}

out_done:
	*out = cfg;
	return 0;

out_free_cfg:
	mirrorconf_free(cfg);
	return rc;
}

/* Both files, parsed; either may be empty. */
struct conf_trees {
	struct yt_node *reg;
	struct yt_node *set;
};

static int load_trees(struct conf_trees *t, char *err, size_t errlen)
{
	int rc;

	t->set = NULL;
	rc = load_mapping(paths_registry_config(), &t->reg, err, errlen);
	if (rc < 0)
		return rc;
	rc = load_mapping(paths_settings(), &t->set, err, errlen);
	if (rc < 0) {
		yt_free(t->reg);
		t->reg = NULL;
	}
	return rc;
}

static void free_trees(struct conf_trees *t)
{
	yt_free(t->reg);
	yt_free(t->set);
}

int mirrorconf_read(struct vkdr_config **cfg, char *err, size_t errlen)
{
	struct conf_trees t;
	int lock, rc;

	*cfg = NULL;
	lock = lock_config(LOCK_SH, err, errlen);
	rc = load_trees(&t, err, errlen);
	if (rc == 0) {
		rc = build_config(t.reg, t.set, cfg, err, errlen);
		free_trees(&t);
	}
	unlock_config(lock);
	return rc;
}

/* ------------------------------------------------------------------------
 * Changes
 */

/* An upstream is an http:// or https:// URL with a host and no blanks. */
static int check_upstream(const char *url, char *err, size_t errlen)
{
	const char *rest = NULL;

	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	if (!rest || !*rest || *rest == '/' || strpbrk(url, " \t\r\n\"'")) {
		set_err(err, errlen, "upstream '%s' is not a URL; give one "
				     "such as https://registry.example.com",
			url);
		return -EINVAL;
	}
	return 0;
}

/*
 * The port for a new mirror: WANTED when non-zero and free, otherwise one
 * above the highest port any mirror uses, and never below the first one.
 */
static int choose_port(const struct yt_node *mirrors, unsigned wanted,
		       unsigned *port, char *err, size_t errlen)
{
	unsigned highest = MIRRORCONF_FIRST_PORT - 1;

	for (size_t i = 0; mirrors && i < mirrors->n; i++) {
		const char *ep = first_endpoint(mirrors->items[2 * i + 1]);
		unsigned p = ep ? url_port(ep) : 0;

		if (wanted && p == wanted) {
			set_err(err, errlen, "port %u is taken by the mirror "
					     "for %s; choose another or leave "
					     "--port out", wanted,
				yt_scalar(mirrors->items[2 * i]));
			return -EADDRINUSE;
		}
		if (p > highest)
			highest = p;
	}
	if (wanted) {
		*port = wanted;
		return 0;
	}
	if (highest >= 65535) {
		set_err(err, errlen, "no port is free above %u; give one with "
				     "--port", highest);
		return -ENOSPC;
	}
	*port = highest + 1;
	return 0;
}

/* The registry entry for a mirror on PORT: endpoint: [URL]. */
static struct yt_node *new_entry(unsigned port)
{
	struct yt_node *entry = yt_mapping_new();
	struct yt_node *list = yt_sequence_new();
	char url[128];

	snprintf(url, sizeof(url), "http://%s:%u", MIRRORCONF_ENDPOINT_HOST,
		 port);
	if (!entry || !list || yt_seq_append(list, yt_scalar_new(url)) < 0) {
		yt_free(entry);
		yt_free(list);
		return NULL;
	}
	if (yt_map_set(entry, "endpoint", list) < 0) {
		yt_free(entry);
		return NULL;
	}
	return entry;
}

/* A struct vkdr_mirror for HOST as the trees now say. */
static int describe(const struct conf_trees *t, const char *host,
		    struct vkdr_mirror **out, char *err, size_t errlen)
{
	struct yt_node *mirrors = yt_map_get(t->reg, "mirrors");
	struct yt_node *smirrors = yt_map_get(t->set, "mirrors");
	struct vkdr_mirror *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		return -ENOMEM;
	if (smirrors && smirrors->kind != YT_MAPPING)
		smirrors = NULL;
	rc = mirror_fill(m, host, yt_map_get(mirrors, host), smirrors, err,
			 errlen);
	if (rc < 0) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

static int set_upstream(struct conf_trees *t, const char *host,
			const char *upstream, char *err, size_t errlen)
{
	struct yt_node *smirrors, *own;
	int rc;

	smirrors = yt_map_child_mapping(t->set, "mirrors", &rc);
	if (!smirrors)
		goto out_report;
	own = yt_map_child_mapping(smirrors, host, &rc);
	if (!own)
		goto out_report;
	return yt_map_set(own, "upstream", yt_scalar_new(upstream));

out_report:
	if (rc == -EINVAL)
		return node_err(paths_settings(),
				smirrors ? yt_map_get(smirrors, host)
					 : yt_map_get(t->set, "mirrors"),
				err, errlen, "expected a mapping here");
	return rc;
}

int mirrorconf_add(const struct vkdr_mirror_spec *spec,
		   struct vkdr_mirror **out, char *err, size_t errlen)
{
	char host[HOSTNAME_MAX + 8];
	struct yt_node *mirrors;
	struct conf_trees t;
	unsigned port;
	int lock, rc;

	*out = NULL;
	if (!spec || !spec->host) {
		set_err(err, errlen, "no host given");
		return -EINVAL;
	}
	rc = hostname_validate(spec->host, host, sizeof(host), err, errlen);
	if (rc < 0)
		return rc;
	if (spec->upstream) {
		rc = check_upstream(spec->upstream, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (spec->port > 65535) {
		set_err(err, errlen, "port %u is out of range; a port is a "
				     "number from 1 to 65535", spec->port);
		return -EINVAL;
	}

	lock = lock_config(LOCK_EX, err, errlen);
	if (lock < 0)
		return lock;
	rc = load_trees(&t, err, errlen);
	if (rc < 0)
		goto out_unlock;

	mirrors = yt_map_child_mapping(t.reg, "mirrors", &rc);
	if (rc == -EINVAL)
		rc = node_err(paths_registry_config(),
			      yt_map_get(t.reg, "mirrors"), err, errlen,
			      "'mirrors' must be a mapping");
	if (rc < 0)
		goto out_free_trees;
	if (yt_map_get(mirrors, host)) {
		rc = describe(&t, host, out, err, errlen);
		if (rc == 0) {
			set_err(err, errlen, "%s is already mirrored at %s",
				host, (*out)->endpoint);
			rc = -EEXIST;
		}
		goto out_free_trees;
	}

	rc = choose_port(mirrors, spec->port, &port, err, errlen);
	if (rc < 0)
		goto out_free_trees;
	rc = yt_map_set(mirrors, host, new_entry(port));
	if (rc < 0)
		goto out_free_trees;

	/* Settings first: an upstream for a mirror not yet listed is inert. */
	if (spec->upstream) {
		rc = set_upstream(&t, host, spec->upstream, err, errlen);
		if (rc == 0)
			rc = write_atomic(paths_settings(), t.set,
					  MODE_SECRET, err, errlen);
		if (rc < 0)
			goto out_free_trees;
	}
	rc = write_atomic(paths_registry_config(), t.reg, MODE_PUBLIC, err,
			  errlen);
	if (rc == 0)
		rc = describe(&t, host, out, err, errlen);

out_free_trees:
	free_trees(&t);
out_unlock:
	unlock_config(lock);
	return rc;
}

int mirrorconf_remove(const char *host, char *err, size_t errlen)
{
	char canonical[HOSTNAME_MAX + 8];
	struct yt_node *mirrors, *smirrors;
	struct conf_trees t;
	const char *name = host;
	int lock, rc;

	if (!host || !*host) {
		set_err(err, errlen, "no host given");
		return -EINVAL;
	}
	lock = lock_config(LOCK_EX, err, errlen);
	if (lock < 0)
		return lock;
	rc = load_trees(&t, err, errlen);
	if (rc < 0)
		goto out_unlock;

	mirrors = yt_map_get(t.reg, "mirrors");
	if (!yt_map_get(mirrors, name) &&
	    hostname_validate(host, canonical, sizeof(canonical), NULL, 0) ==
		    0)
		name = canonical;
	if (!yt_map_remove(mirrors, name)) {
		set_err(err, errlen, "no mirror for %s is configured", host);
		rc = -ENOENT;
		goto out_free_trees;
	}

	/* Registry first: settings left behind for a gone mirror are inert. */
	rc = write_atomic(paths_registry_config(), t.reg, MODE_PUBLIC, err,
			  errlen);
	if (rc < 0)
		goto out_free_trees;
	smirrors = yt_map_get(t.set, "mirrors");
	if (yt_map_remove(smirrors, name)) {
		if (smirrors->n == 0)
			yt_map_remove(t.set, "mirrors");
		rc = write_atomic(paths_settings(), t.set, MODE_SECRET, err,
				  errlen);
	}

out_free_trees:
	free_trees(&t);
out_unlock:
	unlock_config(lock);
	return rc;
}

static bool valid_module_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Check VALUE for KEY where the core knows what it must look like. */
static int check_setting(const char *key, const char *value, char *err,
			 size_t errlen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	unsigned ttl;

	if (strcmp(key, "listen") == 0) {
		if (inet_pton(AF_INET, value, addr) == 1 ||
		    inet_pton(AF_INET6, value, addr) == 1)
			return 0;
		set_err(err, errlen, "listen must be an IP address such as "
				     "0.0.0.0, 127.0.0.1 or ::, not '%s'",
			value);
		return -EINVAL;
	}
	if (strcmp(key, "tag-ttl") == 0) {
		if (parse_ttl(value, &ttl) == 0)
			return 0;
		set_err(err, errlen, "tag-ttl must be a whole number of "
				     "seconds, such as 60, not '%s'", value);
		return -EINVAL;
	}
	if (strcmp(key, "storage") == 0) {
		if (valid_module_name(value))
			return 0;
		set_err(err, errlen, "storage must name a backend module "
				     "(a-z, 0-9, '-', '_'), not '%s'; "
				     "'vkdr mirror plugins' lists them",
			value);
		return -EINVAL;
	}
	return 0;
}

int mirrorconf_setting_set(const char *key, const char *value, char *err,
			   size_t errlen)
{
	static const char prefix[] = "storage-options.";
	const char *option = NULL;
	struct yt_node *parent;
	struct conf_trees t;
	int lock, rc;

	if (!key)
		key = "";
	if (strncmp(key, prefix, sizeof(prefix) - 1) == 0) {
		option = key + sizeof(prefix) - 1;
		if (!*option || strpbrk(option, " \t\r\n\"'")) {
			set_err(err, errlen, "'%s' needs an option name after "
					     "'%s', without blanks or quotes",
				key, prefix);
			return -EINVAL;
		}
	} else if (strcmp(key, "listen") != 0 &&
		   strcmp(key, "tag-ttl") != 0 &&
		   strcmp(key, "storage") != 0) {
		set_err(err, errlen, "unknown setting '%s'; the settings are "
				     "listen, tag-ttl, storage and "
				     "storage-options.KEY", key);
		return -EINVAL;
	}
	if (value && !option) {
		rc = check_setting(key, value, err, errlen);
		if (rc < 0)
			return rc;
	}

	lock = lock_config(LOCK_EX, err, errlen);
	if (lock < 0)
		return lock;
	rc = load_trees(&t, err, errlen);
	if (rc < 0)
		goto out_unlock;

	parent = t.set;
	if (option) {
		parent = yt_map_child_mapping(t.set, "storage-options", &rc);
		if (rc == -EINVAL)
			rc = node_err(paths_settings(),
				      yt_map_get(t.set, "storage-options"),
				      err, errlen,
				      "'storage-options' must be a mapping");
		if (rc < 0)
			goto out_free_trees;
		key = option;
	}
	if (value)
		rc = yt_map_set(parent, key, yt_scalar_new(value));
	else
		yt_map_remove(parent, key);
	if (rc == 0)
		rc = write_atomic(paths_settings(), t.set, MODE_SECRET, err,
				  errlen);

out_free_trees:
	free_trees(&t);
out_unlock:
	unlock_config(lock);
	return rc;
}
