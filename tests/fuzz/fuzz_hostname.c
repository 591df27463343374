/*
 * fuzz_hostname.c - the check of a registry host as a user types it
 * (core/hostname.c), behind "vkdr mirror add --host=..." and every
 * configuration change.
 *
 * Input: a byte choosing the size of the output and error buffers, then
 * the host. The module loader is replaced by one that knows no plugin, so
 * what is exercised is the core's own syntax check and its hints.
 */
#include <errno.h>

#include "fuzz.h"
#include "hostname.h"
#include "loader.h"

const struct vkdr_registry_ops *
loader_find_registry(const char *registry, const struct vkdr_module **mod)
{
	if (mod)
		*mod = NULL;
	return NULL;
}

int loader_walk(int (*fn)(void *arg, const struct vkdr_module_info *info,
			  const char *reason),
		void *arg)
{
	return 0;
}

static char *buffer(size_t len)
{
	char *p = malloc(len ? len : 1);

	if (!p)
		abort();
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[1];
	size_t outlen, errlen;
	char *buf, *out, *err;
	int rc;

	if (size < 1)
		return 0;
	outlen = data[0] < 128 ? data[0] % 32 : 300;
	errlen = data[0] & 1 ? 512 : data[0] % 48;
	buf = fuzz_split(data + 1, size - 1, parts, 1);
	out = buffer(outlen);
	err = buffer(errlen);
	if (errlen)
		err[0] = '\0';

	rc = hostname_validate(parts[0], out, outlen, err, errlen);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
	if (rc == 0) {
		/* What was accepted is accepted again, unchanged. */
		FUZZ_CHECK(strnlen(out, outlen) < outlen);
		FUZZ_CHECK(strcmp(out, parts[0]) == 0);
		FUZZ_CHECK(hostname_check_syntax(out, NULL, 0) == 0);
		for (const char *p = out; *p; p++)
			FUZZ_CHECK(*p > ' ' && *p < 0x7f && *p != '/' &&
				   !(*p >= 'A' && *p <= 'Z'));
	} else if (errlen) {
		/* Every refusal says why, in one line that fits. */
		FUZZ_CHECK(strnlen(err, errlen) < errlen);
		FUZZ_CHECK(err[0] != '\0' || errlen == 1);
	}
	free(out);
	free(err);
	free(buf);
	return 0;
}
