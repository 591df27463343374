/*
 * credentials.h - where the credentials for an upstream come from.
 *
 * Three places are searched, first match wins:
 *  1. mirror-settings.yaml: "mirrors: HOST: username: / password:", what
 *     vkdr's own commands write;
 *  2. mirror-registry.yaml: "configs: HOST: auth: username: / password:",
 *     what k3s reads, so credentials set up for k3s work here too;
 *  3. the Docker client's config.json ($DOCKER_CONFIG/config.json or
 *     ~/.docker/config.json): "auths: KEY: auth:" (base64 "user:pass") or
 *     "username:" / "password:".
 *
 * HOST keys match REGISTRY exactly (ignoring case, a scheme and a path, as
 * the Docker client writes "https://ghcr.io/v1/"), or as a leading
 * wildcard ("*.azurecr.io"); an exact key beats a wildcard in the same
 * file. For "docker.io" the Docker client's historical key
 * "https://index.docker.io/v1/" matches too. The files are read on every
 * call, so an edit applies to the next 401 without a restart.
 */
#ifndef VKDR_CORE_CREDENTIALS_H
#define VKDR_CORE_CREDENTIALS_H

/*
 * Find credentials for REGISTRY. Returns 0 with *USERNAME and *PASSWORD
 * set (malloc()ed; free both), or -ENOENT when none are configured (both
 * NULL), or -ENOMEM. A file that cannot be parsed is skipped with a
 * warning naming it. Credentials are never logged.
 */
int credentials_find(const char *registry, char **username,
		     char **password);

#endif
