/*
 * record.c - the tag record format and manifest media types.
 *
 * A tag record is a few "key=value" lines: small, readable with cat when
 * debugging a cache, and parsed without a library. This file needs no
 * daemon, so the prefetch and export-cache commands write records the
 * daemon reads by linking the same code.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int cache_tag_format(const struct tag_record *rec, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "digest=%s\nmedia-type=%s\nsize=%" PRIu64
			 "\nvalidated=%" PRId64 "\n",
			 rec->digest, rec->media_type, rec->size,
			 rec->validated);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int cache_tag_parse(const char *buf, size_t len, struct tag_record *rec)
{
	char text[1024], *save = NULL, *line;
	unsigned seen = 0;

	if (len >= sizeof(text))
		return -EINVAL;
	memcpy(text, buf, len);
	text[len] = '\0';
	memset(rec, 0, sizeof(*rec));

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *end;

		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (strcmp(line, "digest") == 0) {
			if (oci_digest_check(eq) != OCI_OK)
				return -EINVAL;
			snprintf(rec->digest, sizeof(rec->digest), "%s", eq);
			seen |= 1;
		} else if (strcmp(line, "media-type") == 0) {
			snprintf(rec->media_type, sizeof(rec->media_type),
				 "%s", eq);
			seen |= 2;
		} else if (strcmp(line, "size") == 0) {
			rec->size = strtoull(eq, &end, 10);
			if (end == eq || *end)
				return -EINVAL;
			seen |= 4;
		} else if (strcmp(line, "validated") == 0) {
			rec->validated = strtoll(eq, &end, 10);
			if (end == eq || *end)
				return -EINVAL;
			seen |= 8;
		}
	}
	return seen == 15 ? 0 : -EINVAL;
}

int cache_manifest_type(const char *buf, size_t len, char *out,
			size_t outlen)
{
	json_t *doc, *v;
	const char *type = NULL;
	int rc = 0;

	doc = json_loadb(buf, len, 0, NULL);
	if (!doc)
		return -EINVAL;
	if (!json_is_object(doc)) {
		rc = -EINVAL;
		goto out_free_doc;
	}
	v = json_object_get(doc, "mediaType");
	if (json_is_string(v)) {
		type = json_string_value(v);
	} else if (json_is_array(json_object_get(doc, "manifests"))) {
		type = "application/vnd.oci.image.index.v1+json";
	} else if (json_is_object(json_object_get(doc, "config"))) {
		type = "application/vnd.oci.image.manifest.v1+json";
	} else if (json_integer_value(json_object_get(doc, "schemaVersion")) ==
		   1) {
		type = json_is_array(json_object_get(doc, "signatures")) ?
			       "application/vnd.docker.distribution.manifest."
			       "v1+prettyjws" :
			       "application/vnd.docker.distribution.manifest."
			       "v1+json";
	} else {
		rc = -EINVAL;
		goto out_free_doc;
	}
	snprintf(out, outlen, "%s", type);

out_free_doc:
	json_decref(doc);
	return rc;
}

int object_read_all(const struct vkdr_storage_ops *store, void *state,
		    const char *key, size_t max, char **buf, size_t *len)
{
	struct vkdr_object obj;
	size_t got = 0;
	char *data;
	int rc;

	rc = store->get(state, key, &obj);
	if (rc < 0)
		return rc;
	if (obj.size > max) {
		rc = -EFBIG;
		goto out_release;
	}
	data = malloc(obj.size + 1);
	if (!data) {
		rc = -ENOMEM;
		goto out_release;
	}
	while (got < obj.size) {
		ssize_t n = store->read(state, &obj, got, data + got,
				       obj.size - got);

		if (n <= 0) {
			free(data);
			rc = n < 0 ? (int)n : -EIO;
			goto out_release;
		}
		got += (size_t)n;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;

out_release:
	store->release(state, &obj);
	return rc;
}
