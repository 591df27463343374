/*
 * fuzz_manifest.c - what the daemon reads back from a manifest and from
 * its own tag records (commands/serve/cache.c): the media type of a
 * manifest an upstream sent, which the daemon stores and later serves as
 * Content-Type, and the "key=value" tag records of the store.
 *
 * Input: the bytes of a manifest, or of a tag record; both readers see
 * every input.
 */
#include <errno.h>

#include "cache.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tag_record rec, again;
	char type[256], text[1024];
	int n;

	if (cache_manifest_type((const char *)data, size, type, sizeof(type)) ==
	    0)
		FUZZ_CHECK(strnlen(type, sizeof(type)) < sizeof(type));

	if (cache_tag_parse((const char *)data, size, &rec) == 0) {
		/* A record read back formats and reads again the same. */
		n = cache_tag_format(&rec, text, sizeof(text));
		if (n >= 0) {
			FUZZ_CHECK(cache_tag_parse(text, (size_t)n, &again) ==
				   0);
			FUZZ_CHECK(strcmp(rec.digest, again.digest) == 0);
			FUZZ_CHECK(strcmp(rec.media_type, again.media_type) ==
				   0);
			FUZZ_CHECK(rec.size == again.size &&
				   rec.validated == again.validated);
		}
	}
	return 0;
}
