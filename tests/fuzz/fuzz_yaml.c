/*
 * fuzz_yaml.c - the YAML document tree of core/yamltree.c.
 *
 * Input: a YAML file as a user may have edited it. A document that parses
 * is copied, walked like the configuration reader walks it, written back
 * with yt_emit() (vkdr rewrites the files it edits) and parsed again: what
 * vkdr writes it must be able to read.
 */
#include <errno.h>

#include "fuzz.h"
#include "yamltree.h"

/* Touch every node the way the configuration reader does. */
static size_t walk(const struct yt_node *n)
{
	size_t count = 1;

	(void)yt_is_null(n);
	if (n->kind == YT_SCALAR) {
		FUZZ_CHECK(n->value && strlen(n->value) <= n->length);
		return count;
	}
	if (n->kind == YT_MAPPING) {
		for (size_t i = 0; i < n->n; i++) {
			const char *key = yt_scalar(n->items[2 * i]);

			if (key)
				FUZZ_CHECK(yt_map_get(n, key) != NULL);
		}
	}
	for (size_t i = 0; i < (n->kind == YT_MAPPING ? 2 * n->n : n->n); i++)
		count += walk(n->items[i]);
	return count;
}

static void round_trip(const struct yt_node *root)
{
	struct yt_node *again = NULL;
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (!f)
		abort();
	rc = yt_emit(root, f);
	fclose(f);
	if (rc == 0) {
		rc = yt_parse_buffer(text, len, "emitted", &again, err,
				     sizeof(err));
		if (rc == -EINVAL)
			fprintf(stderr, "%s\n--- emitted:\n%s\n", err, text);
		FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
		yt_free(again);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yt_node *root = NULL, *copy;
	char err[256];
	int rc;

	err[0] = '\0';
	rc = yt_parse_buffer((const char *)data, size, "fuzz", &root, err,
			     sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == -EINVAL)
		FUZZ_CHECK(strncmp(err, "fuzz:", 5) == 0);
	if (rc < 0 || !root)
		return 0;

	copy = yt_copy(root);
	if (copy)
		FUZZ_CHECK(walk(copy) == walk(root));
	yt_free(copy);
	round_trip(root);
	yt_free(root);
	return 0;
}
