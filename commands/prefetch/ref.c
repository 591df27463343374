/*
 * ref.c - image references, and the daemon's tag records.
 *
 * The daemon (commands/serve) keeps a tag's answer in a small record whose
 * storage key names the registry, the repository, the tag and a hash of
 * the normalised Accept set the client asked with, since the same tag may
 * be an index for one client and a single manifest for another. Import
 * must write records the daemon will find, so the key, the grammar and the
 * record format come from the daemon's own code (commands/serve/oci.c and
 * record.c, linked as liboci.la); only the Accept lines of the clients
 * prefetch imitates are kept here.
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

void digest_final(EVP_MD_CTX *md, char out[OCI_DIGEST_LEN + 1])
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char hex[65];

	EVP_DigestFinal_ex(md, sum, &len);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	snprintf(out, OCI_DIGEST_LEN + 1, "sha256:%s", hex);
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
		if (!oci_tag_valid(colon)) {
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
	if (!oci_registry_valid(ref->registry)) {
		snprintf(err, errlen, "'%s' is not a registry host",
			 ref->registry);
		return -EINVAL;
	}
	if (!oci_name_valid(ref->name)) {
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

const struct vkdr_mirror *mirror_for_registry(const struct vkdr_config *cfg,
					      const char *registry)
{
	const struct vkdr_mirror *wild = NULL;

	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];

		if (strcmp(m->host, registry) == 0)
			return m;
		if (!wild && oci_registry_matches(m->host, registry))
			wild = m;
	}
	return wild;
}

/* ---- Accept sets ------------------------------------------------------ */

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
	char norm[2048];
	int rc = oci_accept_normalise(accept, norm, sizeof(norm));

	return rc < 0 ? rc : oci_tag_key(registry, repository, tag, norm, out,
					 outlen);
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



