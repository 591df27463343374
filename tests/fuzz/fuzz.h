/*
 * fuzz.h - what the libFuzzer targets share: turning the fuzzer's bytes
 * into C strings, and failing loudly when a parser breaks a promise its
 * header makes.
 */
#ifndef VKDR_FUZZ_H
#define VKDR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * An input holds up to N strings separated by NUL bytes. Copy it into a
 * new NUL-terminated buffer (free it) and point PARTS[i] at each string;
 * the strings the input lacks are "". A separate allocation per input
 * lets AddressSanitizer see a read past the end.
 */
static inline char *fuzz_split(const uint8_t *data, size_t size,
			       const char **parts, size_t n)
{
	char *buf = malloc(size + 1);
	size_t at = 0;

	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (at <= size) {
			parts[i] = buf + at;
			at += strlen(buf + at) + 1;
		} else {
			parts[i] = "";
		}
	}
	return buf;
}

/* A broken promise is a finding: abort so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: promise broken: %s\n",         \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
