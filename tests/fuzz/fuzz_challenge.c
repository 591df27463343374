/*
 * fuzz_challenge.c - the WWW-Authenticate reader of core/challenge.c.
 *
 * Input: one byte choosing the output buffer's size, then the header
 * value, and optionally a NUL, a scheme, a NUL and a parameter name. The
 * buffer is allocated at exactly the chosen size so that AddressSanitizer
 * sees a write one byte past it.
 */
#include <errno.h>

#include "challenge.h"
#include "fuzz.h"

static void check_lookup(const char *header, const char *scheme,
			 const char *name, size_t outlen)
{
	char *out = malloc(outlen ? outlen : 1);
	int rc;

	if (!out)
		abort();
	rc = challenge_param(header, scheme, name, outlen ? out : NULL, outlen);
	FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -ENAMETOOLONG ||
		   rc == -EINVAL);
	/* A value returned is a C string that fits the buffer. */
	if (rc == 0 && outlen)
		FUZZ_CHECK(strnlen(out, outlen) < outlen);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "realm", "service", "scope",
					     "error" };
	const char *parts[3];
	size_t outlen;
	char *buf;

	if (size < 1)
		return 0;
	outlen = data[0] < 200 ? data[0] % 40 : 1024;
	buf = fuzz_split(data + 1, size - 1, parts, 3);

	if (*parts[1] && *parts[2]) {
		check_lookup(parts[0], parts[1], parts[2], outlen);
	} else {
		/* What the plugins ask of a real challenge. */
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			check_lookup(parts[0], "Bearer", names[i], outlen);
		check_lookup(parts[0], "Basic", "realm", outlen);
	}
	free(buf);
	return 0;
}
