/*
 * fsstore.h - the filesystem store: one file per object under a root
 * directory.
 *
 * It is the "filesystem" backend, and the test-only "faulty" backend
 * compiles it in as well and wraps it, which is why its opening function
 * takes the name to log under. Nothing here is exported from a module.
 */
#ifndef VKDR_BACKEND_FSSTORE_H
#define VKDR_BACKEND_FSSTORE_H

#include <stdbool.h>
#include <vkdr/module.h>

/* Every slot of the filesystem backend; open logs as "filesystem". */
extern const struct vkdr_storage_ops fsstore_ops;

/*
 * Open a store as fsstore_ops.open does, logging as LOG_NAME (a string
 * that must outlive the store). Options: "path" (default
 * host->home()/mirror-cache) and "max-size" (0 or absent: unbounded).
 * Returns 0 with *STATE set, or a negative errno: -EINVAL for an unknown
 * option or a bad value (logged), or the error that kept the directories
 * from being created.
 */
int fsstore_open(const struct vkdr_host *host, const char *log_name,
		 const struct vkdr_option *opts, size_t n_opts, void **state);

/*
 * True when KEY is a storage key this store accepts: relative, made of
 * [a-z0-9._/-], no empty, "." or ".." segment, and not under "tmp", the
 * directory the store keeps its unfinished writes in.
 */
bool fsstore_key_valid(const char *key);

#endif
