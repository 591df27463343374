/*
 * ref.c - image references, and the daemon's tag records.
 *
 * The daemon (commands/serve) keeps a tag's answer in a small record whose
 * storage key names the registry, the repository, the tag and a hash of
 * the normalised Accept set the client asked with, since the same tag may
 * be an index for one client and a single manifest for another. Import
 * must write records the daemon will find, so the key and the record
 * format are restated here; they are part of the cache layout described
 * in doc/daemon.md and must change together with the daemon's.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefetch.h"

#define TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define TYPE_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define TYPE_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define TYPE_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define TYPE_DOCKER_V1_SIGNED \
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

static const char *const vkdr_lines[] = {
	TYPE_OCI_INDEX ", " TYPE_OCI_MANIFEST ", " TYPE_DOCKER_LIST
		       ", " TYPE_DOCKER_V2,
	NULL,
};

/* containerd 1.6 (and so k3s) sends one line, ending in a wildcard. */
static const char *const containerd_lines[] = {
	TYPE_DOCKER_V2 ", " TYPE_DOCKER_LIST ", " TYPE_OCI_MANIFEST
		       ", " TYPE_OCI_INDEX ", */*",
	NULL,
};

/* containers/image (skopeo, podman, CRI-O) sends one line per type. */
static const char *const containers_image_lines[] = {
	TYPE_OCI_MANIFEST, TYPE_DOCKER_V2,    TYPE_DOCKER_V1_SIGNED,
	TYPE_DOCKER_V1,	   TYPE_DOCKER_LIST, TYPE_OCI_INDEX,
	NULL,
};

static const struct client_accept vkdr_accept = {
	.client = "vkdr",
	.lines = vkdr_lines,
};
static const struct client_accept containerd_accept = {
	.client = "containerd",
	.lines = containerd_lines,
};
static const struct client_accept containers_image_accept = {
	.client = "containers/image",
	.lines = containers_image_lines,
};

const struct client_accept *const client_accepts[] = {
	&vkdr_accept,
	&containerd_accept,
	&containers_image_accept,
	NULL,
};

int client_accept_value(const struct client_accept *c, char *out,
			size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; c->lines[i]; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s",
				 i ? ", " : "", c->lines[i]);

		if (n < 0 || (size_t)n >= outlen - used)
			return -ENAMETOOLONG;
		used += (size_t)n;
	}
	return 0;
}

void digest_final(EVP_MD_CTX *md, char out[DIGEST_LEN + 1])
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char hex[65];

	EVP_DigestFinal_ex(md, sum, &len);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	snprintf(out, DIGEST_LEN + 1, "sha256:%s", hex);
}

bool digest_valid(const char *text)
{
	if (strncmp(text, "sha256:", 7) != 0 || strlen(text) != DIGEST_LEN)
		return false;
	for (const char *p = text + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	return true;
}

static bool tag_valid(const char *tag)
{
	size_t len = strlen(tag);

	if (len == 0 || len > 128 || tag[0] == '.' || tag[0] == '-')
		return false;
	for (const char *p = tag; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return true;
}

/*
 * Repository names: lowercase components of [a-z0-9] joined by '.', '_',
 * '__' or '-', separated by '/'. The check is looser than the grammar
 * (separators may repeat) and stricter where it matters here: nothing
 * that could escape a storage key.
 */
static bool name_valid(const char *name)
{
	const char *p = name;

	if (!*name || strlen(name) > 255)
		return false;
	for (; *p; p++) {
		if (*p == '/') {
			if (p == name || p[1] == '/' || p[1] == '\0')
				return false;
			continue;
		}
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && !strchr("._-", *p))
			return false;
		if (*p == '.' && (p == name || p[-1] == '/' || p[-1] == '.'))
			return false;
	}
	return true;
}

static bool registry_valid(const char *registry)
{
	if (!*registry || strlen(registry) > 255 || registry[0] == '-' ||
	    registry[0] == '.')
		return false;
	for (const char *p = registry; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:", *p))
			return false;
	return true;
}

static bool looks_like_registry(const char *first, size_t len)
{
	return memchr(first, '.', len) || memchr(first, ':', len) ||
	       (len == 9 && memcmp(first, "localhost", 9) == 0);
}

int image_ref_parse(const char *text, struct image_ref *ref, char *err,
		    size_t errlen)
{
	char buf[512], *rest, *at, *colon, *slash;

	memset(ref, 0, sizeof(*ref));
	if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "the reference is too long");
		return -EINVAL;
	}

	rest = buf;
	slash = strchr(buf, '/');
	if (slash && looks_like_registry(buf, (size_t)(slash - buf))) {
		*slash = '\0';
		if (snprintf(ref->registry, sizeof(ref->registry), "%s",
			     buf) >= (int)sizeof(ref->registry)) {
			snprintf(err, errlen, "the registry name is too long");
			return -EINVAL;
		}
		rest = slash + 1;
	} else {
		snprintf(ref->registry, sizeof(ref->registry), "docker.io");
	}
	if (strcmp(ref->registry, "index.docker.io") == 0 ||
	    strcmp(ref->registry, "registry-1.docker.io") == 0)
		snprintf(ref->registry, sizeof(ref->registry), "docker.io");

	at = strchr(rest, '@');
	if (at) {
		*at++ = '\0';
		if (!digest_valid(at)) {
			snprintf(err, errlen,
				 "'%s' is not a sha256 digest (sha256: and "
				 "64 lowercase hex digits)",
				 at);
			return -EINVAL;
		}
		snprintf(ref->digest, sizeof(ref->digest), "%s", at);
	}
	colon = strrchr(rest, ':');
	if (colon && !strchr(colon, '/')) {
		*colon++ = '\0';
		if (!tag_valid(colon)) {
			snprintf(err, errlen, "'%s' is not a valid tag",
				 colon);
			return -EINVAL;
		}
		if (!at)
			snprintf(ref->tag, sizeof(ref->tag), "%s", colon);
	}
	if (!at && !ref->tag[0])
		snprintf(ref->tag, sizeof(ref->tag), "latest");

	if (snprintf(ref->name, sizeof(ref->name), "%s%s",
		     strcmp(ref->registry, "docker.io") == 0 &&
				     !strchr(rest, '/') ?
			     "library/" :
			     "",
		     rest) >= (int)sizeof(ref->name)) {
		snprintf(err, errlen, "the repository name is too long");
		return -EINVAL;
	}
	if (!registry_valid(ref->registry)) {
		snprintf(err, errlen, "'%s' is not a registry host",
			 ref->registry);
		return -EINVAL;
	}
	if (!name_valid(ref->name)) {
		snprintf(err, errlen,
			 "'%s' is not a repository name (lowercase letters, "
			 "digits, '.', '_', '-', components joined by '/')",
			 rest);
		return -EINVAL;
	}
	return 0;
}

void image_ref_format(const struct image_ref *ref, char *out,
		      size_t outlen)
{
	if (ref->digest[0])
		snprintf(out, outlen, "%s/%s@%s", ref->registry, ref->name,
			 ref->digest);
	else
		snprintf(out, outlen, "%s/%s:%s", ref->registry, ref->name,
			 ref->tag);
}

/* "*.azurecr.io" covers "x.azurecr.io", not "azurecr.io". */
static bool host_covers(const char *pattern, const char *registry)
{
	size_t pl, rl;

	if (strncmp(pattern, "*.", 2) != 0)
		return false;
	pl = strlen(pattern + 1);
	rl = strlen(registry);
	return rl > pl && strcmp(registry + rl - pl, pattern + 1) == 0;
}

const struct vkdr_mirror *mirror_for_registry(const struct vkdr_config *cfg,
					      const char *registry)
{
	const struct vkdr_mirror *wild = NULL;

	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];

		if (strcmp(m->host, registry) == 0)
			return m;
		if (!wild && host_covers(m->host, registry))
			wild = m;
	}
	return wild;
}

/* ---- Accept sets ------------------------------------------------------ */

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Split ACCEPT into media types in BUF: parameters and blanks removed,
 * lowercased. Returns the count, or -ENAMETOOLONG.
 */
static int accept_split(const char *accept, char *buf, size_t buflen,
			char **types, size_t max)
{
	char *save = NULL, *tok;
	size_t n = 0;

	if (snprintf(buf, buflen, "%s", accept) >= (int)buflen)
		return -ENAMETOOLONG;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *semi = strchr(tok, ';'), *e;

		if (semi)
			*semi = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*tok)
			continue;
		for (char *c = tok; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (n == max)
			return -ENAMETOOLONG;
		types[n++] = tok;
	}
	return (int)n;
}

int accept_normalise(const char *accept, char *out, size_t outlen)
{
	char buf[2048], *types[64];
	size_t len = 0;
	int n;

	if (outlen == 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	n = accept_split(accept, buf, sizeof(buf), types, 64);
	if (n < 0)
		return n;
	qsort(types, (size_t)n, sizeof(types[0]), compare_strings);
	for (int i = 0; i < n; i++) {
		size_t tl = strlen(types[i]);

		if (i > 0 && strcmp(types[i], types[i - 1]) == 0)
			continue;
		if (len + tl + 2 > outlen)
			return -ENAMETOOLONG;
		if (len)
			out[len++] = ',';
		memcpy(out + len, types[i], tl + 1);
		len += tl;
	}
	return 0;
}

bool accept_allows(const char *accept, const char *media_type)
{
	char buf[2048], *types[64];
	const char *slash = strchr(media_type, '/');
	int n = accept_split(accept, buf, sizeof(buf), types, 64);

	for (int i = 0; i < n; i++) {
		size_t tl = strlen(types[i]);

		if (strcasecmp(types[i], media_type) == 0 ||
		    strcmp(types[i], "*/*") == 0)
			return true;
		if (slash && tl >= 2 && strcmp(types[i] + tl - 2, "/*") == 0 &&
		    (size_t)(slash - media_type) == tl - 2 &&
		    strncasecmp(types[i], media_type, tl - 2) == 0)
			return true;
	}
	return false;
}

/* ---- Tag records ------------------------------------------------------ */

int tag_record_key(const char *registry, const char *repository,
		   const char *tag, const char *accept, char *out,
		   size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char norm[2048], reg[256], enc[2 * 128 + 1];
	unsigned int mdlen = 0;
	size_t e = 0;
	int n;

	if (!registry_valid(registry) || !name_valid(repository) ||
	    !tag_valid(tag))
		return -EINVAL;
	n = accept_normalise(accept, norm, sizeof(norm));
	if (n < 0)
		return n;

	/* A port's colon and a tag's capitals cannot be in a key. */
	snprintf(reg, sizeof(reg), "%s", registry);
	for (char *c = reg; *c; c++)
		if (*c == ':')
			*c = '_';
	for (const char *c = tag; *c; c++) {
		if (*c == '_') {
			enc[e++] = '_';
			enc[e++] = '_';
		} else if (isupper((unsigned char)*c)) {
			enc[e++] = '_';
			enc[e++] = (char)tolower((unsigned char)*c);
		} else {
			enc[e++] = *c;
		}
	}
	enc[e] = '\0';

	if (!EVP_Digest(norm, strlen(norm), md, &mdlen, EVP_sha256(), NULL))
		return -ENOMEM;
	n = snprintf(out, outlen,
		     "tags/%s/%s/%s/%02x%02x%02x%02x%02x%02x%02x%02x", reg,
		     repository, enc, md[0], md[1], md[2], md[3], md[4], md[5],
		     md[6], md[7]);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int tag_record_key_parse(const char *key, char *registry, size_t reglen,
			 char *repository, size_t repolen, char *tag,
			 size_t taglen)
{
	const char *p, *reg_end, *hash, *enc;
	size_t t = 0;

	if (strncmp(key, "tags/", 5) != 0)
		return -EINVAL;
	p = key + 5;
	reg_end = strchr(p, '/');
	hash = strrchr(p, '/');
	if (!reg_end || hash == reg_end || strlen(hash + 1) != 16)
		return -EINVAL;
	for (enc = hash - 1; enc > reg_end && *enc != '/'; enc--)
		;
	if (enc == reg_end || (size_t)(reg_end - p) >= reglen ||
	    (size_t)(enc - reg_end - 1) >= repolen)
		return -EINVAL;

	memcpy(registry, p, (size_t)(reg_end - p));
	registry[reg_end - p] = '\0';
	for (char *c = registry; *c; c++)
		if (*c == '_')
			*c = ':';
	memcpy(repository, reg_end + 1, (size_t)(enc - reg_end - 1));
	repository[enc - reg_end - 1] = '\0';

	for (const char *c = enc + 1; c < hash; c++) {
		char ch = *c;

		if (ch == '_') {
			if (++c == hash)
				return -EINVAL;
			ch = *c == '_' ? '_' : (char)toupper((unsigned char)*c);
		}
		if (t + 1 >= taglen)
			return -EINVAL;
		tag[t++] = ch;
	}
	tag[t] = '\0';
	return t ? 0 : -EINVAL;
}

int tag_record_format(const struct tag_record *rec, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "digest=%s\nmedia-type=%s\nsize=%" PRIu64
			 "\nvalidated=%" PRId64 "\n",
			 rec->digest, rec->media_type, rec->size,
			 rec->validated);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int tag_record_parse(const char *buf, size_t len, struct tag_record *rec)
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
		if (strcmp(line, "digest") == 0 && digest_valid(eq)) {
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

int manifest_media_type(const char *buf, size_t len, char *out,
			size_t outlen)
{
	const char *type = NULL;
	json_t *doc, *v;
	int rc = 0;

	doc = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(doc)) {
		rc = -EINVAL;
		goto out_free_doc;
	}
	v = json_object_get(doc, "mediaType");
	if (json_is_string(v))
		type = json_string_value(v);
	else if (json_is_array(json_object_get(doc, "manifests")))
		type = TYPE_OCI_INDEX;
	else if (json_is_object(json_object_get(doc, "config")))
		type = TYPE_OCI_MANIFEST;
	else if (json_integer_value(json_object_get(doc, "schemaVersion")) == 1)
		type = json_is_array(json_object_get(doc, "signatures")) ?
			       TYPE_DOCKER_V1_SIGNED :
			       TYPE_DOCKER_V1;
	if (!type) {
		rc = -EINVAL;
		goto out_free_doc;
	}
	snprintf(out, outlen, "%s", type);

out_free_doc:
	json_decref(doc);
	return rc;
}
