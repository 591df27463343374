/*
 * fuzz_s3xml.c - what the s3 backend reads from the object store's
 * answers (backends/s3/s3util.c): elements and text of a ListObjectsV2 or
 * error document, ISO 8601 and HTTP dates, and the percent-encoding of
 * keys and continuation tokens for the next request.
 *
 * Input: the bytes of an answer; the whole input is also each kind of
 * string in turn. Output buffers are allocated at their exact size so
 * that AddressSanitizer sees a write past them.
 */
#include <errno.h>

#include "fuzz.h"
#include "s3util.h"

static void check_text(const char *val, size_t len, size_t outlen)
{
	char *out = malloc(outlen ? outlen : 1);
	int rc;

	if (!out)
		abort();
	rc = s3_xml_text(val, len, out, outlen);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
	if (rc == 0)
		FUZZ_CHECK(strnlen(out, outlen) < outlen);
	free(out);
}

/* Walk every TAG element in [START, END), as the listing parser does. */
static void walk(const char *start, const char *end, const char *tag,
		 size_t outlen)
{
	const char *cur = start, *val;
	size_t len;

	while (s3_xml_element(&cur, end, tag, &val, &len)) {
		FUZZ_CHECK(val >= start && len <= (size_t)(end - val));
		FUZZ_CHECK(cur > start && cur <= end);
		check_text(val, len, outlen);
		if (strcmp(tag, "Contents") == 0) {
			walk(val, val + len, "Key", outlen);
			walk(val, val + len, "Size", 32);
		}
	}
}

static void check_encode(const char *in, bool keep_slash, size_t outlen)
{
	char *out = malloc(outlen ? outlen : 1);
	int rc;

	if (!out)
		abort();
	rc = s3_uri_encode(in, keep_slash, out, outlen);
	FUZZ_CHECK(rc == 0 || rc == -ENAMETOOLONG);
	if (rc == 0) {
		FUZZ_CHECK(strnlen(out, outlen) < outlen);
		for (const char *p = out; *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[1];
	char *buf = fuzz_split(data, size, parts, 1);
	const char *start = (const char *)data;
	size_t outlen = size ? data[0] % 64 : 0;

	/* The answer as bytes: it need not end with a NUL. */
	walk(start, start + size, "Contents", outlen ? outlen : 1024);
	walk(start, start + size, "Code", 65);
	walk(start, start + size, "NextContinuationToken", 1024);
	(void)s3_parse_iso8601(parts[0]);
	(void)s3_parse_http_date(parts[0]);
	check_encode(parts[0], false, outlen);
	check_encode(parts[0], true, 3 * strlen(parts[0]) + 1);
	free(buf);
	return 0;
}
