/*
 * fuzz_oci.c - the request grammar of commands/serve/oci.c: request
 * paths, names, tags, digests, Range and Accept headers, registry names
 * from the ns parameter, sizes, and the storage keys built from them.
 *
 * Input: up to four strings separated by NUL bytes. The first is used as
 * every kind of input in turn; the others feed oci_tag_key() together
 * with it. Besides crashes, the target checks what oci.h promises: a
 * path accepted has a valid name and reference, a range lies inside the
 * object, a storage key stays in [a-z0-9._/-] with no "." or ".."
 * segment.
 */
#include <errno.h>

#include "fuzz.h"
#include "oci.h"

/*
 * A storage key is in [a-z0-9._/-] and a backend may use it as a file
 * name: no segment may be empty, "." or "..".
 */
static bool key_ok(const char *key)
{
	const char *seg = key;

	for (const char *p = key;; p++) {
		if (*p == '/' || !*p) {
			size_t len = (size_t)(p - seg);

			if (len == 0 || (len <= 2 && !strncmp(seg, "..", len)))
				return false;
			if (!*p)
				return true;
			seg = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '.' ||
			     *p == '_' || *p == '-')) {
			return false;
		}
	}
}

static void check_path(const char *s)
{
	struct oci_path path;
	enum oci_error e = oci_parse_path(s, &path);

	if (e != OCI_OK)
		return;
	switch (path.route) {
	case OCI_ROUTE_MANIFEST:
	case OCI_ROUTE_BLOB:
	case OCI_ROUTE_REFERRERS:
		FUZZ_CHECK(oci_name_valid(path.name));
		if (path.by_digest)
			FUZZ_CHECK(oci_digest_check(path.reference) == OCI_OK);
		else
			FUZZ_CHECK(path.route == OCI_ROUTE_MANIFEST &&
				   oci_tag_valid(path.reference));
		break;
	case OCI_ROUTE_TAGS:
		FUZZ_CHECK(oci_name_valid(path.name));
		break;
	case OCI_ROUTE_BASE:
	case OCI_ROUTE_METRICS:
		break;
	default:
		FUZZ_CHECK(!"an accepted path has a route");
	}
}

static void check_range(const char *s, uint64_t size)
{
	struct oci_range r;
	int rc = oci_range_parse(s, size, &r);

	FUZZ_CHECK(rc == 1 || rc == 0 || rc == -ERANGE);
	if (rc == 1)
		FUZZ_CHECK(r.first <= r.last && r.last < size);
}

static void check_accept(const char *s, size_t outlen)
{
	char *out = malloc(outlen ? outlen : 1);
	int rc;

	if (!out)
		abort();
	rc = oci_accept_normalise(s, out, outlen);
	FUZZ_CHECK(rc == 0 || rc == -ENAMETOOLONG);
	if (rc == 0) {
		FUZZ_CHECK(strnlen(out, outlen) < outlen);
		/* Normalising is idempotent. */
		if (outlen > 1) {
			char *again = malloc(outlen);

			if (!again)
				abort();
			FUZZ_CHECK(oci_accept_normalise(out, again, outlen) ==
				   0);
			FUZZ_CHECK(strcmp(out, again) == 0);
			free(again);
		}
	}
	free(out);
}

static void check_keys(const char *registry, const char *repository,
		       const char *tag, const char *accept)
{
	char key[OCI_KEY_MAX];
	int rc;

	if (oci_blob_key(registry, key, sizeof(key)) == 0)
		FUZZ_CHECK(key_ok(key));
	rc = oci_tag_key(registry, repository, tag, accept, key, sizeof(key));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
	if (rc == 0)
		FUZZ_CHECK(key_ok(key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[4];
	uint64_t object_size = 0, parsed;
	char *buf;
	int rc;

	buf = fuzz_split(data, size, parts, 4);
	for (size_t i = 0; i < size && i < 8; i++)
		object_size = object_size << 8 | data[i];

	check_path(parts[0]);
	check_range(parts[0], object_size % 4096);
	check_range(parts[0], object_size);
	check_accept(parts[0], size % 64);
	check_accept(parts[0], 2048);
	(void)oci_name_valid(parts[0]);
	(void)oci_tag_valid(parts[0]);
	(void)oci_digest_check(parts[0]);
	if (oci_registry_valid(parts[0]))
		FUZZ_CHECK(oci_registry_matches(parts[0], parts[0]));
	(void)oci_registry_matches(parts[0], parts[1]);
	rc = oci_parse_size(parts[0], &parsed);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	check_keys(parts[0], parts[1], parts[2], parts[3]);

	free(buf);
	return 0;
}
