/*
 * util.c - see util.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

static bool key_char_allowed(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '/' || c == '-';
}

bool backend_key_valid(const char *key)
{
	const char *segment = key;

	if (!key || !*key)
		return false;
	for (const char *p = key;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - segment);
			/* Also true for an empty segment. */
			bool dots = len <= 2 && !strncmp(segment, "..", len);

			if (dots)
				return false;
			if (*p == '\0')
				return true;
			segment = p + 1;
		} else if (!key_char_allowed(*p)) {
			return false;
		}
	}
}

struct size_unit {
	const char *name;
	uint64_t factor;
};

static const struct size_unit size_units[] = {
	{ "", 1 },
	{ "b", 1 },
	{ "k", 1ULL << 10 },
	{ "kib", 1ULL << 10 },
	{ "kb", 1000ULL },
	{ "m", 1ULL << 20 },
	{ "mib", 1ULL << 20 },
	{ "mb", 1000ULL * 1000 },
	{ "g", 1ULL << 30 },
	{ "gib", 1ULL << 30 },
	{ "gb", 1000ULL * 1000 * 1000 },
	{ "t", 1ULL << 40 },
	{ "tib", 1ULL << 40 },
	{ "tb", 1000ULL * 1000 * 1000 * 1000 },
};

int backend_parse_size(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t value = 0;

	if (!text || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		value = value * 10 + digit;
	}
	if (*p == ' ')
		p++;

	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]);
	     i++) {
		const struct size_unit *u = &size_units[i];

		if (strcasecmp(p, u->name) != 0)
			continue;
		if (value && u->factor > UINT64_MAX / value)
			return -ERANGE;
		*out = value * u->factor;
		return 0;
	}
	return -EINVAL;
}

ssize_t backend_read_fd(const struct vkdr_object *obj, uint64_t off,
			void *buf, size_t len)
{
	ssize_t n;

	if (off >= obj->size)
		return 0;
	if (len > obj->size - off)
		len = (size_t)(obj->size - off);
	do
		n = pread(obj->fd, buf, len, (off_t)(obj->offset + off));
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
