/*
 * layout.c - "vkdr mirror export-cache" and "import-cache": the mirror
 * cache as an OCI image layout in a tar file.
 *
 * The tar file holds "oci-layout", "blobs/sha256/<hex>" for every blob and
 * manifest, and "index.json" listing each cached tag's manifest with the
 * annotation org.opencontainers.image.ref.name = "REGISTRY/NAME:TAG". Any
 * tool that reads OCI layouts can open it; import-cache reads it back into
 * the storage backend of another machine.
 *
 * Both commands talk to the storage backend directly, not to the daemon:
 * export reads what the daemon stored, import writes blobs (each one
 * checked against its digest before it is committed) and the tag records
 * the daemon would have written, so that a pull by tag is served from the
 * cache with no upstream. A running daemon sees the imported objects at
 * once, since every commit is atomic.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prefetch.h"

#define REF_NAME "org.opencontainers.image.ref.name"

struct store {
	const struct vkdr_host *host;
	const struct vkdr_storage_ops *ops;
	void *state;
	struct vkdr_config *cfg;
};

/* A tagged manifest: what index.json lists. */
struct tagged {
	char ref[700];		/* REGISTRY/NAME:TAG */
	char digest[OCI_DIGEST_LEN + 1];
	char media_type[256];
	uint64_t size;
};

struct list {
	void *items;
	size_t n, size;
};

static void *list_add(struct list *l)
{
	char *grown = realloc(l->items, (l->n + 1) * l->size);

	if (!grown)
		return NULL;
	l->items = grown;
	memset(grown + l->n * l->size, 0, l->size);
	return grown + l->n++ * l->size;
}

/* ---- The store -------------------------------------------------------- */

/*
 * Open the storage backend the settings name, with their options, as the
 * daemon does. Returns 0 or a negative errno, having said why.
 */
static int store_open(const struct vkdr_host *host, struct store *s)
{
	const struct vkdr_settings *set;
	const char *name;
	char err[512];
	int rc;

	memset(s, 0, sizeof(*s));
	s->host = host;
	rc = host->config_read(&s->cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "vkdr: %s\n", err);
		return rc;
	}
	set = &s->cfg->settings;
	name = set->storage && *set->storage ? set->storage : "filesystem";
	s->ops = host->storage_find(name);
	if (!s->ops) {
		fprintf(stderr, "vkdr: no storage backend named '%s' is "
				"loaded; 'vkdr mirror plugins' lists them\n",
			name);
		rc = -ENOENT;
		goto out_free_config;
	}
	rc = s->ops->open(host, set->storage_options, set->n_storage_options,
			  &s->state);
	if (rc < 0) {
		fprintf(stderr, "vkdr: cannot open the '%s' storage: %s\n",
			name, strerror(-rc));
		goto out_free_config;
	}
	return 0;

out_free_config:
	host->config_free(s->cfg);
	return rc;
}

static void store_close(struct store *s)
{
	s->ops->close(s->state);
	s->host->config_free(s->cfg);
}

static void blob_key(const char *digest, char *out, size_t outlen)
{
	snprintf(out, outlen, "blobs/sha256/%s", digest + 7);
}

/* ---- Export ----------------------------------------------------------- */

struct export {
	struct store store;
	struct list tagged;	/* struct tagged */
	struct list blobs;	/* char[OCI_DIGEST_LEN + 1] */
};

static bool blob_listed(struct export *e, const char *digest)
{
	char(*d)[OCI_DIGEST_LEN + 1] = e->blobs.items;

	for (size_t i = 0; i < e->blobs.n; i++)
		if (strcmp(d[i], digest) == 0)
			return true;
	return false;
}

static int list_blob(struct export *e, const char *digest)
{
	char *slot;

	if (blob_listed(e, digest))
		return 0;
	slot = list_add(&e->blobs);
	if (!slot)
		return -ENOMEM;
	snprintf(slot, OCI_DIGEST_LEN + 1, "%s", digest);
	return 0;
}

/* walk() callback: one tag record. Unreadable records are skipped. */
static int collect_tag(void *arg, const char *key,
		       const struct vkdr_object_info *info)
{
	struct export *e = arg;
	char registry[256], repo[256], tag[129], ref[700], *buf;
	struct tag_record rec;
	struct tagged *t, *all;
	size_t len;
	int rc;

	if (tag_record_key_parse(key, registry, sizeof(registry), repo,
				 sizeof(repo), tag, sizeof(tag)) < 0)
		return 0;
	if (object_read_all(e->store.ops, e->store.state, key, 1023, &buf, &len) < 0)
		return 0;
	rc = cache_tag_parse(buf, len, &rec);
	free(buf);
	if (rc < 0)
		return 0;

	snprintf(ref, sizeof(ref), "%s/%s:%s", registry, repo, tag);
	all = e->tagged.items;
	for (size_t i = 0; i < e->tagged.n; i++)
		if (!strcmp(all[i].ref, ref) &&
		    !strcmp(all[i].digest, rec.digest))
			return 0;
	t = list_add(&e->tagged);
	if (!t)
		return -ENOMEM;
	snprintf(t->ref, sizeof(t->ref), "%s", ref);
	snprintf(t->digest, sizeof(t->digest), "%s", rec.digest);
	snprintf(t->media_type, sizeof(t->media_type), "%s", rec.media_type);
	t->size = rec.size;
	return 0;
}

/* walk() callback: every blob, when the whole cache is exported. */
static int collect_blob(void *arg, const char *key,
			const struct vkdr_object_info *info)
{
	char digest[OCI_DIGEST_LEN + 1];

	if (strlen(key) != 13 + 64)
		return 0;
	snprintf(digest, sizeof(digest), "sha256:%s", key + 13);
	if (!digest_valid(digest))
		return 0;
	return list_blob(arg, digest);
}

/*
 * Add the manifest DIGEST and what it references to the blobs to export.
 * An index's manifests are taken when cached (a prefetch caches only the
 * platforms it was asked for); an image manifest's config and layers must
 * all be there.
 */
static int export_closure(struct export *e, const char *digest, int depth)
{
	char key[128], *buf;
	json_t *doc, *list, *entry;
	size_t len, i;
	int rc;

	if (depth > 4 || blob_listed(e, digest))
		return 0;
	blob_key(digest, key, sizeof(key));
	rc = object_read_all(e->store.ops, e->store.state, key, MANIFEST_MAX,
			     &buf, &len);
	if (rc < 0)
		return depth ? 0 : rc;
	rc = list_blob(e, digest);
	doc = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (rc < 0 || !json_is_object(doc))
		goto out_free_doc;

	json_array_foreach(json_object_get(doc, "manifests"), i, entry) {
		const char *d =
			json_string_value(json_object_get(entry, "digest"));

		if (d && digest_valid(d) &&
		    (rc = export_closure(e, d, depth + 1)) < 0)
			goto out_free_doc;
	}
	list = json_array();
	if (!list) {
		rc = -ENOMEM;
		goto out_free_doc;
	}
	json_array_append(list, json_object_get(doc, "config"));
	json_array_extend(list, json_object_get(doc, "layers"));
	json_array_foreach(list, i, entry) {
		const char *d =
			json_string_value(json_object_get(entry, "digest"));
		struct vkdr_object_info info;

		if (!d || !digest_valid(d))
			continue;
		blob_key(d, key, sizeof(key));
		if (e->store.ops->stat(e->store.state, key, &info) < 0) {
			fprintf(stderr,
				"vkdr: blob %s of manifest %s is not cached; "
				"the export will lack it\n",
				d, digest);
			continue;
		}
		rc = list_blob(e, d);
		if (rc < 0)
			break;
	}
	json_decref(list);

out_free_doc:
	json_decref(doc);
	return rc;
}

/*
 * The repository name the daemon uses for NAME of REGISTRY: what the
 * registry plugin makes of it ("nginx" becomes "library/nginx" for Docker
 * Hub), or NAME itself. 0 or a negative errno.
 */
static int upstream_repository(const struct vkdr_host *host,
			       const char *registry, const char *name,
			       char *out, size_t outlen)
{
	const struct vkdr_registry_ops *plugin;

	plugin = host->registry_find(registry, NULL);
	if (plugin && plugin->repository)
		return plugin->repository(registry, name, out, outlen);
	return snprintf(out, outlen, "%s", name) < (int)outlen ? 0
							       : -ENAMETOOLONG;
}

/*
 * Mark the tagged manifests REF names in KEEP. Returns 0, or -ENOENT when
 * none is cached (said on stderr).
 */
static int select_tag(struct export *e, const char *text,
		      const struct image_ref *ref, bool *keep)
{
	struct tagged *all = e->tagged.items;
	char repo[256], want[700];
	bool found = false;

	if (upstream_repository(e->store.host, ref->registry, ref->name, repo,
				sizeof(repo)) < 0)
		return -ENOENT;
	snprintf(want, sizeof(want), "%s/%s:%s", ref->registry, repo,
		 ref->tag);
	for (size_t t = 0; t < e->tagged.n; t++) {
		if (strcmp(all[t].ref, want) == 0) {
			keep[t] = true;
			found = true;
		}
	}
	if (!found)
		fprintf(stderr, "vkdr: %s is not in the cache; 'vkdr mirror "
				"prefetch %s' puts it there\n",
			text, text);
	return found ? 0 : -ENOENT;
}

/*
 * List the manifest DIGEST, asked for by digest, in index.json without a
 * name. Returns 0 or a negative errno.
 */
static int list_untagged(struct export *e, const char *digest)
{
	struct tagged *t;
	char key[128], *buf;
	size_t len;
	int rc;

	blob_key(digest, key, sizeof(key));
	rc = object_read_all(e->store.ops, e->store.state, key, MANIFEST_MAX,
			     &buf, &len);
	if (rc < 0)
		return rc;
	t = list_add(&e->tagged);
	if (!t) {
		free(buf);
		return -ENOMEM;
	}
	snprintf(t->digest, sizeof(t->digest), "%s", digest);
	t->size = len;
	rc = cache_manifest_type(buf, len, t->media_type,
				 sizeof(t->media_type));
	free(buf);
	return rc;
}

/*
 * Keep the tagged manifests IMAGES name, and the blobs they need. Returns
 * 0, -ENOENT after naming every image that is not cached, or another
 * negative errno when the store could not be read.
 */
static int select_images(struct export *e, int n, char **images)
{
	struct tagged *all;
	size_t n_tagged = e->tagged.n, kept = 0;
	bool *keep = calloc(n_tagged + 1, sizeof(bool));
	int rc = 0, missing = 0;

	if (!keep)
		return -ENOMEM;
	for (int i = 0; i < n && rc == 0; i++) {
		struct image_ref ref;
		char err[300];

		if (image_ref_parse(images[i], &ref, err, sizeof(err)) < 0) {
			fprintf(stderr, "vkdr: %s: %s\n", images[i], err);
			missing++;
		} else if (!ref.digest[0]) {
			if (select_tag(e, images[i], &ref, keep) < 0)
				missing++;
		} else {
			rc = export_closure(e, ref.digest, 0);
			if (rc == 0)
				rc = list_untagged(e, ref.digest);
			if (rc == -ENOENT) {
				fprintf(stderr, "vkdr: %s is not in the "
						"cache\n",
					images[i]);
				missing++;
				rc = 0;
			}
		}
	}

	/* Tag records first, then the untagged manifests added above. */
	all = e->tagged.items;
	for (size_t t = 0; t < e->tagged.n && rc == 0; t++) {
		if (t < n_tagged && !keep[t])
			continue;
		rc = export_closure(e, all[t].digest, 0);
		if (rc == -ENOENT) {
			fprintf(stderr, "vkdr: the manifest of %s (%s) is no "
					"longer cached\n",
				all[t].ref, all[t].digest);
			missing++;
			rc = 0;
			continue;
		}
		all[kept++] = all[t];
	}
	e->tagged.n = kept;
	free(keep);
	return rc < 0 ? rc : missing ? -ENOENT : 0;
}

/*
 * When the whole cache is exported: drop the tags whose manifest is gone
 * (evicted after the tag was recorded), which index.json must not name.
 */
static void drop_dangling_tags(struct export *e)
{
	struct tagged *all = e->tagged.items;
	size_t kept = 0;

	for (size_t t = 0; t < e->tagged.n; t++) {
		if (blob_listed(e, all[t].digest)) {
			all[kept++] = all[t];
			continue;
		}
		fprintf(stderr, "vkdr: %s is left out: its manifest %s is no "
				"longer cached\n",
			all[t].ref, all[t].digest);
	}
	e->tagged.n = kept;
}

/* Copy the object at KEY into the archive, checking its digest. */
static int write_blob(struct export *e, FILE *out, const char *digest)
{
	struct store *s = &e->store;
	char key[128], name[128], got[OCI_DIGEST_LEN + 1], buf[65536];
	struct vkdr_object obj;
	EVP_MD_CTX *md;
	uint64_t off = 0;
	int rc;

	blob_key(digest, key, sizeof(key));
	rc = s->ops->get(s->state, key, &obj);
	if (rc < 0)
		return rc;
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out_free_md;
	}
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	rc = tar_header(out, name, obj.size, false, time(NULL));
	while (rc == 0 && off < obj.size) {
		size_t want = obj.size - off < sizeof(buf) ?
				      (size_t)(obj.size - off) :
				      sizeof(buf);
		ssize_t n = s->ops->read(s->state, &obj, off, buf, want);

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			rc = -EIO;
		off += (uint64_t)n;
	}
	if (rc == 0)
		rc = tar_pad(out, obj.size);
	if (rc == 0) {
		digest_final(md, got);
		if (strcmp(got, digest) != 0) {
			fprintf(stderr, "vkdr: the cached %s hashes to %s\n",
				digest, got);
			rc = -EBADMSG;
		}
	}

out_free_md:
	EVP_MD_CTX_free(md);
	s->ops->release(s->state, &obj);
	return rc;
}

static int write_text(FILE *out, const char *name, const char *text)
{
	size_t len = strlen(text);
	int rc = tar_header(out, name, len, false, time(NULL));

	if (rc == 0 && fwrite(text, 1, len, out) != len)
		rc = -EIO;
	return rc ? rc : tar_pad(out, len);
}

static char *index_json(const struct export *e)
{
	const struct tagged *all = e->tagged.items;
	json_t *doc, *list;
	char *text;

	doc = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
			"application/vnd.oci.image.index.v1+json",
			"manifests");
	if (!doc)
		return NULL;
	list = json_object_get(doc, "manifests");
	for (size_t i = 0; i < e->tagged.n; i++) {
		json_t *entry = json_pack("{s:s, s:s, s:I}", "mediaType",
					  all[i].media_type, "digest",
					  all[i].digest, "size",
					  (json_int_t)all[i].size);

		if (entry && all[i].ref[0])
			json_object_set_new(entry, "annotations",
					    json_pack("{s:s}", REF_NAME,
						      all[i].ref));
		json_array_append_new(list, entry);
	}
	text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	return text;
}

/* Write the archive to PATH.tmp, then rename it into place. */
static int write_archive(struct export *e, const char *path)
{
	char tmp[4200], (*blobs)[OCI_DIGEST_LEN + 1] = e->blobs.items;
	char *index = NULL;
	FILE *out;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	out = fopen(tmp, "wb");
	if (!out) {
		rc = -errno;
		fprintf(stderr, "vkdr: cannot write %s: %s\n", tmp,
			strerror(errno));
		return rc;
	}
	rc = write_text(out, "oci-layout",
			"{\"imageLayoutVersion\":\"1.0.0\"}");
	if (rc == 0)
		rc = tar_header(out, "blobs/", 0, true, time(NULL));
	if (rc == 0)
		rc = tar_header(out, "blobs/sha256/", 0, true, time(NULL));
	for (size_t i = 0; i < e->blobs.n && rc == 0; i++) {
		rc = write_blob(e, out, blobs[i]);
		if (rc < 0 && rc != -EBADMSG)
			fprintf(stderr, "vkdr: cannot export %s: %s\n",
				blobs[i], strerror(-rc));
	}
	if (rc == 0) {
		index = index_json(e);
		rc = index ? write_text(out, "index.json", index) : -ENOMEM;
		free(index);
	}
	if (rc == 0)
		rc = tar_end(out);
	if (fclose(out) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "vkdr: export to %s failed: %s\n", path,
			strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

int export_cache_run(const struct vkdr_host *host, int argc, char **argv)
{
	struct export e = {
		.tagged = { .size = sizeof(struct tagged) },
		.blobs = { .size = OCI_DIGEST_LEN + 1 },
	};
	const char *output = NULL, *v;
	char **images;
	int n = 0, rc, ret = EXIT_FAIL;

	images = calloc((size_t)argc, sizeof(*images));
	if (!images)
		return EXIT_FAIL;
	for (int i = 1; i < argc; i++) {
		if ((v = option_value(argv[i], "--output"))) {
			output = v;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vkdr: unknown option '%s'; run 'vkdr "
					"mirror export-cache --help'\n",
				argv[i]);
			ret = EXIT_USAGE;
			goto out_free_images;
		} else {
			images[n++] = argv[i];
		}
	}
	if (!output || !*output) {
		fprintf(stderr, "vkdr: say where to write the archive with "
				"--output=FILE.tar\n");
		ret = EXIT_USAGE;
		goto out_free_images;
	}

	if (store_open(host, &e.store) < 0)
		goto out_free_images;
	rc = e.store.ops->walk(e.store.state, "tags/", collect_tag, &e);
	if (rc == 0 && n == 0)
		rc = e.store.ops->walk(e.store.state, "blobs/sha256/",
				       collect_blob, &e);
	if (rc == 0 && n == 0)
		drop_dangling_tags(&e);
	if (rc == 0 && n > 0)
		rc = select_images(&e, n, images);
	if (rc == 0)
		rc = write_archive(&e, output);
	else if (rc != -ENOENT)
		fprintf(stderr, "vkdr: cannot read the cache: %s\n",
			strerror(-rc));
	if (rc == 0) {
		const struct tagged *all = e.tagged.items;
		size_t tags = 0;

		for (size_t i = 0; i < e.tagged.n; i++)
			tags += all[i].ref[0] != '\0';
		printf("exported %zu tag%s, %zu untagged manifest%s and %zu "
		       "blob%s to %s\n",
		       tags, tags == 1 ? "" : "s", e.tagged.n - tags,
		       e.tagged.n - tags == 1 ? "" : "s", e.blobs.n,
		       e.blobs.n == 1 ? "" : "s", output);
		ret = EXIT_OK;
	}
	store_close(&e.store);
out_free_images:
	free(e.tagged.items);
	free(e.blobs.items);
	free(images);
	return ret;
}

/* ---- Import ----------------------------------------------------------- */

/*
 * Read SIZE bytes of the entry for DIGEST from IN into the store, and
 * commit them only when they hash to DIGEST. A blob the store has
 * already is read past. Returns 0 when stored, 1 when it was there
 * already, -EBADMSG for a digest mismatch, or another negative errno.
 */
static int import_blob(struct store *s, FILE *in, const char *digest,
		       uint64_t size)
{
	char key[128], got[OCI_DIGEST_LEN + 1], buf[65536];
	struct vkdr_object_info info;
	void *writer = NULL;
	EVP_MD_CTX *md;
	uint64_t left = size;
	int rc = 0;

	blob_key(digest, key, sizeof(key));
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	if (s->ops->stat(s->state, key, &info) < 0 || info.size != size)
		rc = s->ops->put_begin(s->state, key, size, &writer);

	while (rc == 0 && left) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);

		if (fread(buf, 1, want, in) != want) {
			rc = -EIO;
			break;
		}
		EVP_DigestUpdate(md, buf, want);
		if (writer)
			rc = s->ops->put_write(s->state, writer, buf, want);
		left -= want;
	}
	if (rc == 0) {
		digest_final(md, got);
		if (strcmp(got, digest) != 0)
			rc = -EBADMSG;
	}
	if (writer && rc == 0)
		rc = s->ops->put_commit(s->state, writer);
	else if (writer)
		s->ops->put_abort(s->state, writer);
	EVP_MD_CTX_free(md);
	return rc == 0 && !writer ? 1 : rc;
}

static int put_small(struct store *s, const char *key, const char *buf,
		     size_t len)
{
	void *writer;
	int rc;

	rc = s->ops->put_begin(s->state, key, len, &writer);
	if (rc < 0)
		return rc;
	rc = s->ops->put_write(s->state, writer, buf, len);
	if (rc < 0) {
		s->ops->put_abort(s->state, writer);
		return rc;
	}
	return s->ops->put_commit(s->state, writer);
}

/*
 * Record the tag REF ("REGISTRY/NAME:TAG") as pointing to the cached
 * manifest DIGEST, for every known client whose Accept set takes the
 * manifest's media type. The records say the tag was never checked
 * upstream (validated 0): the daemon asks the upstream at the first pull
 * and, when it cannot be reached, serves the record stale. Returns the
 * number of records written or a negative errno.
 */
static int import_tag(struct store *s, const char *ref, const char *digest)
{
	struct tag_record rec = { 0 };
	struct image_ref r;
	char err[300], repo[256], key[1024], rec_text[1024], *buf;
	size_t len;
	int rc, written = 0;

	if (image_ref_parse(ref, &r, err, sizeof(err)) < 0 || !r.tag[0] ||
	    r.digest[0] || strncmp(ref, r.registry, strlen(r.registry)) != 0)
		return -EINVAL;
	rc = upstream_repository(s->host, r.registry, r.name, repo,
				 sizeof(repo));
	if (rc < 0)
		return rc;

	blob_key(digest, key, sizeof(key));
	rc = object_read_all(s->ops, s->state, key, MANIFEST_MAX, &buf, &len);
	if (rc < 0)
		return rc;
	rc = cache_manifest_type(buf, len, rec.media_type,
				 sizeof(rec.media_type));
	free(buf);
	if (rc < 0)
		return rc;
	snprintf(rec.digest, sizeof(rec.digest), "%s", digest);
	rec.size = len;
	rec.validated = 0;
	rc = cache_tag_format(&rec, rec_text, sizeof(rec_text));
	if (rc < 0)
		return rc;

	for (size_t c = 0; client_accepts[c]; c++) {
		char accept[2048];

		rc = client_accept_value(client_accepts[c], accept,
					 sizeof(accept));
		if (rc < 0)
			return rc;
		if (!accept_allows(accept, rec.media_type))
			continue;
		rc = tag_record_key(r.registry, repo, r.tag, accept, key,
				    sizeof(key));
		if (rc == 0)
			rc = put_small(s, key, rec_text, strlen(rec_text));
		if (rc < 0)
			return rc;
		written++;
	}
	return written;
}

/* Write the tag records for the manifests index.json names. */
static int import_index(struct store *s, const char *text, size_t len,
			size_t *tags)
{
	json_t *doc, *entry;
	size_t i;
	int failed = 0;

	doc = json_loadb(text, len, 0, NULL);
	if (!json_is_array(json_object_get(doc, "manifests"))) {
		fprintf(stderr, "vkdr: index.json lists no manifests\n");
		json_decref(doc);
		return -EINVAL;
	}
	json_array_foreach(json_object_get(doc, "manifests"), i, entry) {
		const char *digest =
			json_string_value(json_object_get(entry, "digest"));
		const char *ref = json_string_value(json_object_get(
			json_object_get(entry, "annotations"), REF_NAME));
		int rc;

		if (!digest || !digest_valid(digest))
			continue;
		if (!ref) {
			vkdr_log_debug(s->host, MOD, "%s has no %s; only its "
					"blobs are imported", digest, REF_NAME);
			continue;
		}
		rc = import_tag(s, ref, digest);
		if (rc == -EINVAL) {
			fprintf(stderr, "vkdr: '%s' is not REGISTRY/NAME:TAG; "
					"%s is imported without a tag\n",
				ref, digest);
		} else if (rc < 0) {
			fprintf(stderr, "vkdr: cannot record the tag %s: %s\n",
				ref, strerror(-rc));
			failed++;
		} else {
			(*tags)++;
		}
	}
	json_decref(doc);
	return failed ? -EIO : 0;
}

int import_cache_run(const struct vkdr_host *host, int argc, char **argv)
{
	struct store s;
	struct tar_entry ent;
	char *index = NULL;
	size_t index_len = 0, blobs = 0, had = 0, tags = 0, bad = 0;
	const char *path = NULL;
	FILE *in;
	int rc, ret = EXIT_FAIL;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0) {
			fprintf(stderr, "vkdr: unknown option '%s'; run 'vkdr "
					"mirror import-cache --help'\n",
				argv[i]);
			return EXIT_USAGE;
		}
		if (path) {
			fprintf(stderr, "vkdr: import one archive at a time\n");
			return EXIT_USAGE;
		}
		path = argv[i];
	}
	if (!path) {
		fprintf(stderr, "vkdr: name the archive to import, e.g. 'vkdr "
				"mirror import-cache cache.tar'\n");
		return EXIT_USAGE;
	}
	in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!in) {
		fprintf(stderr, "vkdr: cannot open %s: %s\n", path,
			strerror(errno));
		return EXIT_FAIL;
	}
	if (store_open(host, &s) < 0)
		goto out_close;

	while ((rc = tar_next(in, &ent)) == 1) {
		char digest[OCI_DIGEST_LEN + 1];
		bool is_blob = strncmp(ent.name, "blobs/sha256/", 13) == 0 &&
			       strlen(ent.name) == 13 + 64 && ent.type == '0';

		if (is_blob)
			snprintf(digest, sizeof(digest), "sha256:%.64s",
				 ent.name + 13);
		if (is_blob && digest_valid(digest)) {
			rc = import_blob(&s, in, digest, ent.size);
			if (rc == -EBADMSG) {
				fprintf(stderr, "vkdr: %s does not hash to "
						"its name; skipped\n",
					ent.name);
				bad++;
				rc = 0;
			} else if (rc == 1) {
				had++;
				rc = 0;
			} else if (rc == 0) {
				blobs++;
			}
		} else if (strcmp(ent.name, "index.json") == 0 &&
			   ent.size <= MANIFEST_MAX && !index) {
			index = malloc(ent.size + 1);
			rc = !index ? -ENOMEM :
			     fread(index, 1, ent.size, in) != ent.size ? -EIO :
									 0;
			index_len = ent.size;
		} else {
			char skip[4096];
			uint64_t left = ent.size;

			while (left && rc >= 0) {
				size_t want = left < sizeof(skip) ?
						      (size_t)left :
						      sizeof(skip);

				if (fread(skip, 1, want, in) != want)
					rc = -EIO;
				left -= want;
			}
		}
		if (rc >= 0)
			rc = tar_skip_pad(in, ent.size);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		fprintf(stderr, "vkdr: %s: %s\n", path,
			rc == -EINVAL ? "not a tar archive, or a damaged one" :
					strerror(-rc));
		goto out_free_index;
	}
	if (!index) {
		fprintf(stderr, "vkdr: %s has no index.json: not an OCI "
				"image layout\n",
			path);
		goto out_free_index;
	}
	rc = import_index(&s, index, index_len, &tags);
	printf("imported %zu blob%s (%zu more cached already) and %zu tag%s "
	       "from %s\n",
	       blobs, blobs == 1 ? "" : "s", had, tags, tags == 1 ? "" : "s",
	       path);
	if (rc == 0 && bad == 0)
		ret = EXIT_OK;
	else if (bad)
		fprintf(stderr, "vkdr: %zu blob%s failed the digest check\n",
			bad, bad == 1 ? "" : "s");

out_free_index:
	free(index);
	store_close(&s);
out_close:
	if (in != stdin)
		fclose(in);
	return ret;
}
