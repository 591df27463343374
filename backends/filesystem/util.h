/*
 * util.h - what every storage backend in this tree checks the same way:
 * storage keys, and byte sizes as users write them in options.
 *
 * Each module compiles its own copy, so nothing here is exported.
 */
#ifndef VKDR_BACKEND_UTIL_H
#define VKDR_BACKEND_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <vkdr/module.h>

/*
 * True when KEY is a well-formed storage key: not empty, relative, made of
 * [a-z0-9._/-] only, with no empty, "." or ".." segment. Such a key can be
 * used as a path below a directory without escaping it.
 */
bool backend_key_valid(const char *key);

/*
 * Parse TEXT as a byte count: a decimal integer with an optional unit.
 * "K", "M", "G", "T" and "KiB", "MiB", "GiB", "TiB" are powers of 1024;
 * "KB", "MB", "GB", "TB" are powers of 1000; "B" or nothing is bytes.
 * Units are case-insensitive and may follow a space. Returns 0 with *OUT
 * set, -EINVAL for anything else, or -ERANGE when it does not fit 64 bits.
 */
int backend_parse_size(const char *text, uint64_t *out);

/*
 * The read() slot of a backend whose objects carry a file descriptor:
 * up to LEN bytes at OFF within OBJ, clamped to its size. Returns the
 * count, 0 at the end, or a negative errno.
 */
ssize_t backend_read_fd(const struct vkdr_object *obj, uint64_t off,
			void *buf, size_t len);

#endif
