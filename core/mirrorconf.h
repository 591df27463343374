/*
 * mirrorconf.h - mirror-registry.yaml and mirror-settings.yaml.
 *
 * mirror-registry.yaml is the k3s registries.yaml handed to k3d: vkdr
 * edits its "mirrors:" map and keeps everything else the user wrote.
 * mirror-settings.yaml holds what k3s must not see: the daemon's settings
 * and each mirror's upstream and credentials. Both are rewritten
 * atomically (temporary file, fsync, rename, fsync of the directory) under
 * an flock() on .mirror-registry.lock in the same directory, so concurrent
 * vkdr processes never lose each other's changes and a crash leaves the
 * old file or the new one, never a mix.
 */
#ifndef VKDR_CORE_MIRRORCONF_H
#define VKDR_CORE_MIRRORCONF_H

#include <vkdr/module.h>

/* The first local port handed out, and the host k3s reaches vkdr by. */
#define MIRRORCONF_FIRST_PORT 6000
#define MIRRORCONF_ENDPOINT_HOST "host.k3d.internal"

/* Defaults for settings absent from mirror-settings.yaml. */
#define MIRRORCONF_DEFAULT_LISTEN "0.0.0.0"
#define MIRRORCONF_DEFAULT_STORAGE "filesystem"
#define MIRRORCONF_DEFAULT_TAG_TTL 60

/*
 * Read both files into a new configuration (struct vkdr_host.config_read).
 * A missing file counts as empty. Returns 0 with *CFG to free with
 * mirrorconf_free(); -EINVAL with "FILE:LINE:COLUMN: reason" in ERR when
 * a file is not valid YAML or a key holds the wrong kind of value;
 * another negative errno when a file cannot be read.
 */
int mirrorconf_read(struct vkdr_config **cfg, char *err, size_t errlen);

/* Free what mirrorconf_read() returned; NULL is allowed. */
void mirrorconf_free(struct vkdr_config *cfg);

/*
 * Add a mirror for SPEC->host (struct vkdr_host.mirror_add). The host is
 * checked and made canonical with hostname_validate(). The port is
 * SPEC->port when non-zero and free, else the highest port in the file
 * plus one, never below MIRRORCONF_FIRST_PORT. SPEC->upstream, when set,
 * goes to mirror-settings.yaml. Returns 0 with *OUT describing the new
 * mirror; -EEXIST with *OUT describing the existing one; -EADDRINUSE when
 * SPEC->port is taken; -EINVAL for a bad host, port or upstream URL or a
 * malformed file; another negative errno when a file cannot be written,
 * in which case both files are left as they were. ERR is filled on every
 * error. *OUT is freed with mirrorconf_mirror_free().
 */
int mirrorconf_add(const struct vkdr_mirror_spec *spec,
		   struct vkdr_mirror **out, char *err, size_t errlen);

/*
 * Remove the mirror for HOST from both files (struct
 * vkdr_host.mirror_remove). HOST is looked up as given, then in its
 * canonical form. Returns 0, -ENOENT when no such mirror is configured,
 * or another negative errno with ERR filled.
 */
int mirrorconf_remove(const char *host, char *err, size_t errlen);

/* Free a mirror returned by mirrorconf_add(); NULL is allowed. */
void mirrorconf_mirror_free(struct vkdr_mirror *m);

/*
 * Set one daemon-wide setting in mirror-settings.yaml (struct
 * vkdr_host.setting_set): "listen" (an IPv4 or IPv6 address), "tag-ttl"
 * (whole seconds), "storage" (a backend module name) or
 * "storage-options.KEY" (any KEY; the value is stored untouched for the
 * backend to judge). A NULL VALUE removes the setting, which brings its
 * default back. Returns 0, or -EINVAL with ERR saying what is accepted,
 * or another negative errno when the file cannot be written.
 */
int mirrorconf_setting_set(const char *key, const char *value, char *err,
			   size_t errlen);

#endif
