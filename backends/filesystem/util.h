/*
 * size.h - byte sizes as users write them in storage options.
 *
 * Shared by the storage backends in this tree; each module compiles its
 * own copy, so nothing here is exported.
 */
#ifndef VKDR_BACKEND_SIZE_H
#define VKDR_BACKEND_SIZE_H

#include <stdint.h>

/*
 * Parse TEXT as a byte count: a decimal integer with an optional unit.
 * "K", "M", "G", "T" and "KiB", "MiB", "GiB", "TiB" are powers of 1024;
 * "KB", "MB", "GB", "TB" are powers of 1000; "B" or nothing is bytes.
 * Units are case-insensitive and may follow a space. Returns 0 with *OUT
 * set, -EINVAL for anything else, or -ERANGE when it does not fit 64 bits.
 */
int backend_parse_size(const char *text, uint64_t *out);

#endif
