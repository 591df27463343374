/*
 * routes.c - the pull side of the OCI Distribution API.
 *
 * Order of business for every request: check the method, parse and check
 * the path against the grammar, decide which registry it is for (the ns
 * query parameter containerd adds, else the mirror of the port), and only
 * then look at the store or the upstream. Nothing unchecked ever becomes
 * part of a storage key or an upstream URL.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "inflight.h"
#include "oci.h"
#include "routes.h"
#include "upstream.h"

#define API_VERSION_HEADER "Docker-Distribution-API-Version"
#define API_VERSION "registry/2.0"
#define REVALIDATE_TIMEOUT_MS 10000L
#define PASSTHROUGH_TIMEOUT_MS 30000L
#define PASSTHROUGH_MAX (4u << 20)
#define STREAM_BLOCK (256u * 1024)
/* Lifetime of a URL a blob GET is redirected to (the s3 backend's). */
#define REDIRECT_TTL 300u

/* The registry a request is for, and how to reach it. */
struct target {
	char registry[256];
	const struct vkdr_registry_ops *plugin;
	char base_url[512];
	char repository[OCI_NAME_MAX + 1];
};

void request_put(struct request *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (r->fetch)
		fetch_put(r->fetch);
	if (r->obj_open)
		r->d->store->release(r->d->store_state, &r->obj);
	free(r->target);
	free(r);
}

static enum MHD_Result queue(struct request *r, struct MHD_Connection *conn,
			     unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	MHD_add_response_header(resp, API_VERSION_HEADER, API_VERSION);
	r->status = status;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_buffer(struct request *r,
				      struct MHD_Connection *conn,
				      unsigned status, const char *type,
				      const void *body, size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)body,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (type)
		MHD_add_response_header(resp, "Content-Type", type);
	if (strcmp(r->method, "HEAD") != 0)
		r->bytes = len;
	return queue(r, conn, status, resp);
}

/* An error in the spec's JSON shape. */
static enum MHD_Result respond_error(struct request *r,
				     struct MHD_Connection *conn,
				     unsigned status, const char *code,
				     const char *message)
{
	char body[1024], escaped[600];
	size_t e = 0;

	/* Messages are ours, but may quote a name: keep the JSON valid. */
	for (const char *p = message; *p && e + 2 < sizeof(escaped); p++) {
		if (*p == '"' || *p == '\\')
			escaped[e++] = '\\';
		escaped[e++] = (char)(isprint((unsigned char)*p) ? *p : '?');
	}
	escaped[e] = '\0';
	snprintf(body, sizeof(body),
		 "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\","
		 "\"detail\":null}]}\n",
		 code, escaped);
	return respond_buffer(r, conn, status, "application/json", body,
			      strlen(body));
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

struct accept_join {
	char *out;
	size_t len, used;
};

static enum MHD_Result join_accept(void *arg, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	struct accept_join *j = arg;
	int n;

	if (strcasecmp(key, "Accept") != 0 || !value || !*value)
		return MHD_YES;
	n = snprintf(j->out + j->used, j->len - j->used, "%s%s",
		     j->used ? ", " : "", value);
	if (n < 0 || (size_t)n >= j->len - j->used) {
		j->out[j->used] = '\0';	/* keep whole values only */
		return MHD_NO;
	}
	j->used += (size_t)n;
	return MHD_YES;
}

/*
 * The Accept header as the client meant it. Clients such as skopeo send
 * one Accept line per media type, and the upstream's answer depends on
 * all of them (an index is only sent to a client that accepts one), so
 * every line is joined rather than the first taken. NULL when none.
 */
static const char *accept_of(struct request *r, struct MHD_Connection *conn)
{
	struct accept_join j = {
		.out = r->accept,
		.len = sizeof(r->accept),
	};

	r->accept[0] = '\0';
	MHD_get_connection_values(conn, MHD_HEADER_KIND, join_accept, &j);
	return r->accept[0] ? r->accept : NULL;
}

static bool is_head(const struct request *r)
{
	return strcmp(r->method, "HEAD") == 0;
}

/* ---- Which registry -------------------------------------------------- */

static const struct vkdr_mirror *mirror_for_registry(struct snapshot *s,
						     const char *registry)
{
	const struct vkdr_mirror *wild = NULL;

	for (size_t i = 0; i < s->n_mirrors; i++) {
		const struct vkdr_mirror *m = s->mirrors[i];

		if (strcmp(m->host, registry) == 0)
			return m;
		if (!wild && oci_registry_matches(m->host, registry))
			wild = m;
	}
	return wild;
}

static const struct vkdr_mirror *mirror_for_port(struct snapshot *s,
						 unsigned port)
{
	for (size_t i = 0; i < s->n_mirrors; i++)
		if (s->mirrors[i]->port == port)
			return s->mirrors[i];
	return NULL;
}

/*
 * Fill T for NAME. Returns 0, or answers the client itself and returns
 * -1 with *RET set.
 */
static int resolve_target(struct request *r, struct MHD_Connection *conn,
			  struct snapshot *s, const char *name,
			  struct target *t, enum MHD_Result *ret)
{
	const char *ns = MHD_lookup_connection_value(conn,
						     MHD_GET_ARGUMENT_KIND,
						     "ns");
	const struct vkdr_host *host = r->d->host;
	const struct vkdr_mirror *m;
	char msg[400], canonical[256];
	int rc;

	memset(t, 0, sizeof(*t));
	if (ns) {
		snprintf(t->registry, sizeof(t->registry), "%s", ns);
		for (char *c = t->registry; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!oci_registry_valid(t->registry)) {
			*ret = respond_error(r, conn, 400, "NAME_INVALID",
					     "the ns parameter is not a "
					     "registry name");
			return -1;
		}
		t->plugin = host->registry_find(t->registry, NULL);
		if (t->plugin && t->plugin->canonical_host &&
		    t->plugin->canonical_host(t->registry, canonical,
					      sizeof(canonical)))
			snprintf(t->registry, sizeof(t->registry), "%s",
				 canonical);
		m = mirror_for_registry(s, t->registry);
		if (!m) {
			snprintf(msg, sizeof(msg),
				 "registry %s is not mirrored here",
				 t->registry);
			*ret = respond_error(r, conn, 404, "NAME_UNKNOWN", msg);
			return -1;
		}
	} else {
		m = mirror_for_port(s, r->port);
		if (!m) {
			*ret = respond_error(r, conn, 404, "NAME_UNKNOWN",
					     "no mirror is configured on this "
					     "port");
			return -1;
		}
		if (strchr(m->host, '*')) {
			snprintf(msg, sizeof(msg),
				 "this port mirrors %s: name the registry "
				 "with the ns query parameter",
				 m->host);
			*ret = respond_error(r, conn, 404, "NAME_UNKNOWN", msg);
			return -1;
		}
		snprintf(t->registry, sizeof(t->registry), "%s", m->host);
	}
	if (!t->plugin)
		t->plugin = host->registry_find(t->registry, NULL);

	if (m->upstream && *m->upstream) {
		snprintf(t->base_url, sizeof(t->base_url), "%s", m->upstream);
	} else if (t->plugin) {
		struct vkdr_upstream up;

		rc = t->plugin->resolve(host, t->registry, NULL, &up);
		if (rc < 0) {
			vkdr_log_err(host, MOD, "%s: no upstream: %s",
				     t->registry, strerror(-rc));
			*ret = respond_error(r, conn, 502, "UNAVAILABLE",
					     "no upstream for this registry");
			return -1;
		}
		snprintf(t->base_url, sizeof(t->base_url), "%s", up.base_url);
	} else {
		snprintf(t->base_url, sizeof(t->base_url), "https://%s",
			 t->registry);
	}
	rc = strlen(t->base_url);
	while (rc > 0 && t->base_url[rc - 1] == '/')
		t->base_url[--rc] = '\0';

	rc = 0;
	if (t->plugin && t->plugin->repository)
		rc = t->plugin->repository(t->registry, name, t->repository,
					   sizeof(t->repository));
	else
		snprintf(t->repository, sizeof(t->repository), "%s", name);
	if (rc < 0 || !oci_name_valid(t->repository)) {
		*ret = respond_error(r, conn, 400, "NAME_INVALID",
				     "repository name too long");
		return -1;
	}
	return 0;
}

static void upstream_target_of(const struct target *t,
			       struct upstream_target *ut)
{
	ut->registry = t->registry;
	ut->base_url = t->base_url;
	ut->repository = t->repository;
	ut->plugin = t->plugin;
}

/* ---- Errors from upstream -------------------------------------------- */

static enum MHD_Result respond_upstream_failure(struct request *r,
						struct MHD_Connection *conn,
						const struct target *t,
						int rc)
{
	char msg[400];

	if (rc == -EACCES) {
		snprintf(msg, sizeof(msg),
			 "%s refused access: the repository does not exist "
			 "or the credentials do not reach it",
			 t->registry);
		return respond_error(r, conn, 401, "UNAUTHORIZED", msg);
	}
	if (rc == -EBADMSG)
		return respond_error(r, conn, 502, "DIGEST_INVALID",
				     "upstream content failed verification");
	snprintf(msg, sizeof(msg), "upstream %s unavailable: %s", t->registry,
		 strerror(-rc));
	return respond_error(r, conn, 503, "UNAVAILABLE", msg);
}

static enum MHD_Result respond_upstream_status(struct request *r,
					       struct MHD_Connection *conn,
					       long status,
					       const char *retry_after,
					       const char *unknown_code)
{
	struct MHD_Response *resp;
	char body[256];

	if (status == 404)
		return respond_error(r, conn, 404, unknown_code,
				     "not found upstream");
	if (status == 429) {
		snprintf(body, sizeof(body),
			 "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\","
			 "\"message\":\"upstream rate limit reached\","
			 "\"detail\":null}]}\n");
		resp = MHD_create_response_from_buffer(
			strlen(body), body, MHD_RESPMEM_MUST_COPY);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
		if (retry_after && *retry_after)
			MHD_add_response_header(resp, "Retry-After",
						retry_after);
		if (!is_head(r))
			r->bytes = strlen(body);
		return queue(r, conn, 429, resp);
	}
	if (status >= 500)
		return respond_error(r, conn, 503, "UNAVAILABLE",
				     "upstream error");
	if (status == 401 || status == 403)
		return respond_error(r, conn, 401, "UNAUTHORIZED",
				     "upstream refused access");
	return respond_error(r, conn, 502, "UNKNOWN",
			     "unexpected upstream answer");
}

/* ---- Streaming ------------------------------------------------------- */

static ssize_t read_fetch(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct request *r = cls;
	ssize_t n = fetch_read(r->fetch, r->offset + pos, buf, max);

	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	r->bytes += (uint64_t)n;
	return n;
}

static ssize_t read_object(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct request *r = cls;
	ssize_t n = r->d->store->read(r->d->store_state, &r->obj,
				      r->offset + pos, buf, max);

	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	r->bytes += (uint64_t)n;
	return n;
}

static ssize_t read_nothing(void *cls, uint64_t pos, char *buf, size_t max)
{
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void release_request(void *cls)
{
	request_put(cls);
}

/*
 * A response whose body RD reads through R; R gains a reference. The
 * block is what RD may fill per call: large enough that a big blob costs
 * few reads and sends, small enough to keep per-connection memory modest.
 */
static struct MHD_Response *
stream_response(struct request *r, uint64_t size,
		ssize_t (*rd)(void *, uint64_t, char *, size_t))
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_callback(size, STREAM_BLOCK, rd, r,
						 release_request);
	if (resp)
		__atomic_add_fetch(&r->refs, 1, __ATOMIC_ACQ_REL);
	return resp;
}

static void add_range_headers(struct MHD_Response *resp,
			      const struct oci_range *range, uint64_t size)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
		 range->first, range->last, size);
	MHD_add_response_header(resp, "Content-Range", buf);
}

static enum MHD_Result respond_unsatisfiable(struct request *r,
					     struct MHD_Connection *conn,
					     uint64_t size)
{
	struct MHD_Response *resp;
	char buf[64];

	resp = MHD_create_response_from_buffer(0, (void *)"",
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	snprintf(buf, sizeof(buf), "bytes */%" PRIu64, size);
	MHD_add_response_header(resp, "Content-Range", buf);
	return queue(r, conn, 416, resp);
}

static void add_object_headers(struct MHD_Response *resp, const char *type,
			       const char *digest, bool blob)
{
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Docker-Content-Digest", digest);
	MHD_add_response_header(resp, "Etag", digest);
	if (blob)
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
}

/*
 * Answer from a fetch in progress (or just finished). The caller's
 * reference to F passes to R.
 */
static enum MHD_Result respond_fetch(struct request *r,
				     struct MHD_Connection *conn,
				     const struct target *t, struct fetch *f,
				     bool started, bool blob)
{
	struct MHD_Response *resp;
	struct fetch_info info;
	struct oci_range range;
	uint64_t size;
	unsigned status = 200;
	int rc;

	r->fetch = f;
	r->outcome = started ? OUTCOME_MISS : OUTCOME_COALESCED;
	rc = fetch_wait_head(f, &info);
	r->upstream_ms = info.upstream_ms;
	if (rc < 0)
		return respond_upstream_failure(r, conn, t, rc);
	if (rc > 0)
		return respond_upstream_status(
			r, conn, info.status, info.retry_after,
			blob ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN");

	r->offset = 0;
	size = info.size >= 0 ? (uint64_t)info.size : MHD_SIZE_UNKNOWN;
	if (blob && info.size >= 0) {
		rc = oci_range_parse(header(conn, "Range"), size, &range);
		if (rc < 0)
			return respond_unsatisfiable(r, conn, size);
		if (rc > 0) {
			r->offset = range.first;
			status = 206;
		}
	}
	resp = stream_response(r, status == 206 ? range.last - range.first + 1
						: size,
			       read_fetch);
	if (!resp)
		return MHD_NO;
	add_object_headers(resp, info.content_type, info.digest, blob);
	if (status == 206)
		add_range_headers(resp, &range, size);
	return queue(r, conn, status, resp);
}

/* ---- Blobs ----------------------------------------------------------- */

/*
 * Send the client to the store itself when the backend offers a URL for
 * KEY (an object store's presigned URL), so the bytes do not pass through
 * the daemon. Returns false when the blob is to be served here.
 */
static bool redirect_stored(struct request *r, struct MHD_Connection *conn,
			    const char *key, enum MHD_Result *ret)
{
	const struct vkdr_storage_ops *s = r->d->store;
	struct MHD_Response *resp;
	char url[8192];

	if (!s->redirect_url ||
	    s->redirect_url(r->d->store_state, key, REDIRECT_TTL, url,
			    sizeof(url)) < 0)
		return false;
	resp = MHD_create_response_from_buffer(0, (void *)"",
					       MHD_RESPMEM_PERSISTENT);
	if (resp)
		MHD_add_response_header(resp, "Location", url);
	*ret = resp ? queue(r, conn, 307, resp) : MHD_NO;
	return true;
}

/* Serve the store object at KEY; -ENOENT when it is not there. */
static int respond_stored(struct request *r, struct MHD_Connection *conn,
			  const char *key, const char *type,
			  const char *digest, bool blob, enum MHD_Result *ret)
{
	struct MHD_Response *resp;
	struct oci_range range;
	uint64_t first = 0, len;
	bool may_redirect = blob && !is_head(r) && r->d->store->redirect_url;
	unsigned status = 200;
	int rc;

	/*
	 * Bytes served from here are checked against the digest first. A
	 * blob the backend hands out by URL is not: its bytes never pass
	 * through the daemon, and hashing it would fetch from the store the
	 * very bytes the redirect is there to keep away.
	 */
	if (!may_redirect) {
		rc = cache_object_verify(r->d, digest);
		if (rc < 0)
			return rc;
	}
	rc = r->d->store->get(r->d->store_state, key, &r->obj);
	if (rc < 0)
		return rc;
	r->obj_open = true;
	len = r->obj.size;
	if (may_redirect) {
		if (redirect_stored(r, conn, key, ret))
			return 0;
		/* No URL for this one after all: serve it, checked. */
		rc = cache_object_verify(r->d, digest);
		if (rc < 0) {
			r->d->store->release(r->d->store_state, &r->obj);
			r->obj_open = false;
			return rc;
		}
	}

	if (blob) {
		rc = oci_range_parse(header(conn, "Range"), r->obj.size,
				     &range);
		if (rc < 0) {
			*ret = respond_unsatisfiable(r, conn, r->obj.size);
			return 0;
		}
		if (rc > 0) {
			first = range.first;
			len = range.last - range.first + 1;
			status = 206;
		}
	}

	if (is_head(r)) {
		resp = stream_response(r, len, read_nothing);
	} else if (r->obj.fd >= 0) {
		/* MHD closes the fd it is given: give it its own. */
		int fd = dup(r->obj.fd);

		if (fd < 0)
			return -errno;
		resp = MHD_create_response_from_fd_at_offset64(
			len, fd, r->obj.offset + first);
		if (!resp)
			close(fd);
		r->fd_bytes = len;
	} else {
		r->offset = first;
		resp = stream_response(r, len, read_object);
	}
	if (!resp) {
		*ret = MHD_NO;
		return 0;
	}
	add_object_headers(resp, type, digest, blob);
	if (status == 206)
		add_range_headers(resp, &range, r->obj.size);
	*ret = queue(r, conn, status, resp);
	return 0;
}

/*
 * HEAD of something not cached: ask the upstream with HEAD too, which
 * costs no pull on Docker Hub, and cache nothing.
 */
static enum MHD_Result respond_upstream_head(struct request *r,
					     struct MHD_Connection *conn,
					     const struct target *t,
					     const char *path,
					     const char *accept, bool blob)
{
	struct upstream_call call = {
		.method = "HEAD",
		.path = path,
		.accept = accept,
		.timeout_ms = REVALIDATE_TIMEOUT_MS,
	};
	struct upstream_target ut;
	struct MHD_Response *resp;
	int rc;

	upstream_target_of(t, &ut);
	r->outcome = OUTCOME_BYPASS;
	rc = upstream_fetch(r->d->upstream, &ut, &call);
	r->upstream_ms = call.elapsed_ms;
	if (rc < 0)
		return respond_upstream_failure(r, conn, t, rc);
	if (call.head.status < 200 || call.head.status >= 300)
		return respond_upstream_status(
			r, conn, call.head.status, call.head.retry_after,
			blob ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN");
	resp = stream_response(r,
			       call.head.content_length >= 0 ?
				       (uint64_t)call.head.content_length :
				       0,
			       read_nothing);
	if (!resp)
		return MHD_NO;
	add_object_headers(resp,
			   call.head.content_type[0] ?
				   call.head.content_type :
				   "application/octet-stream",
			   call.head.digest, blob);
	return queue(r, conn, 200, resp);
}

static enum MHD_Result serve_blob(struct request *r,
				  struct MHD_Connection *conn,
				  const struct target *t, const char *digest)
{
	struct fetch_spec *spec;
	enum MHD_Result ret = MHD_NO;
	char key[OCI_KEY_MAX];
	struct fetch *f;
	bool started;
	int rc;

	oci_blob_key(digest, key, sizeof(key));
	for (int attempt = 0; attempt < 2; attempt++) {
		r->outcome = OUTCOME_HIT;
		rc = respond_stored(r, conn, key, "application/octet-stream",
				    digest, true, &ret);
		if (rc != -ENOENT)
			return rc < 0 ? respond_error(r, conn, 500, "UNKNOWN",
						      "store read failed")
				      : ret;

		spec = calloc(1, sizeof(*spec));
		if (!spec)
			return MHD_NO;
		spec->kind = FETCH_BLOB;
		snprintf(spec->table_key, sizeof(spec->table_key), "b:%s",
			 key);
		snprintf(spec->path, sizeof(spec->path), "/v2/%s/blobs/%s",
			 t->repository, digest);
		if (is_head(r)) {
			ret = respond_upstream_head(r, conn, t, spec->path,
						    NULL, true);
			free(spec);
			return ret;
		}
		snprintf(spec->registry, sizeof(spec->registry), "%s",
			 t->registry);
		snprintf(spec->base_url, sizeof(spec->base_url), "%s",
			 t->base_url);
		snprintf(spec->repository, sizeof(spec->repository), "%s",
			 t->repository);
		spec->plugin = t->plugin;
		memcpy(spec->digest, digest, sizeof(spec->digest));
		rc = fetch_join(r->d, spec, key, &f, &started);
		free(spec);
		if (rc == -EEXIST)
			continue;
		if (rc < 0)
			return respond_error(r, conn, 500, "UNKNOWN",
					     "cannot start the upstream fetch");
		return respond_fetch(r, conn, t, f, started, true);
	}
	return respond_error(r, conn, 500, "UNKNOWN", "store read failed");
}

/* ---- Manifests ------------------------------------------------------- */

/* Serve the manifest DIGEST from the store; -ENOENT when not there. */
static int respond_stored_manifest(struct request *r,
				   struct MHD_Connection *conn,
				   const char *digest, const char *type,
				   enum MHD_Result *ret)
{
	char key[OCI_KEY_MAX], sniffed[256];
	struct MHD_Response *resp;
	size_t len;
	char *buf;
	int rc;

	oci_blob_key(digest, key, sizeof(key));
	rc = cache_object_verify(r->d, digest);
	if (rc < 0)
		return rc;
	rc = object_read_all(r->d->store, r->d->store_state, key,
			     MANIFEST_MAX, &buf, &len);
	if (rc < 0)
		return rc == -EFBIG ? -ENOENT : rc;
	if (cache_manifest_type(buf, len, sniffed, sizeof(sniffed)) < 0) {
		/* The bytes of a layer, not a manifest: fetch upstream. */
		free(buf);
		return -ENOENT;
	}
	if (is_head(r)) {
		resp = stream_response(r, len, read_nothing);
		free(buf);
	} else {
		resp = MHD_create_response_from_buffer(len, buf,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(buf);
		r->bytes = len;
	}
	if (!resp) {
		*ret = MHD_NO;
		return 0;
	}
	add_object_headers(resp, type && *type ? type : sniffed, digest,
			   false);
	*ret = queue(r, conn, 200, resp);
	return 0;
}

static void fill_manifest_spec(struct fetch_spec *spec,
			       const struct target *t, const char *reference,
			       const char *accept)
{
	spec->kind = FETCH_MANIFEST;
	snprintf(spec->registry, sizeof(spec->registry), "%s", t->registry);
	snprintf(spec->base_url, sizeof(spec->base_url), "%s", t->base_url);
	snprintf(spec->repository, sizeof(spec->repository), "%s",
		 t->repository);
	spec->plugin = t->plugin;
	snprintf(spec->path, sizeof(spec->path), "/v2/%s/manifests/%s",
		 t->repository, reference);
	snprintf(spec->accept, sizeof(spec->accept), "%s",
		 accept ? accept : "");
}

static enum MHD_Result fetch_manifest(struct request *r,
				      struct MHD_Connection *conn,
				      const struct target *t,
				      struct fetch_spec *spec)
{
	struct fetch *f;
	bool started;
	int rc;

	rc = fetch_join(r->d, spec, NULL, &f, &started);
	if (rc < 0)
		return respond_error(r, conn, 500, "UNKNOWN",
				     "cannot start the upstream fetch");
	return respond_fetch(r, conn, t, f, started, false);
}

static enum MHD_Result serve_manifest_digest(struct request *r,
					     struct MHD_Connection *conn,
					     const struct target *t,
					     const char *digest)
{
	enum MHD_Result ret = MHD_NO;
	const char *accept = accept_of(r, conn);
	struct fetch_spec *spec;
	int rc;

	r->outcome = OUTCOME_HIT;
	rc = respond_stored_manifest(r, conn, digest, NULL, &ret);
	if (rc == 0)
		return ret;

	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return MHD_NO;
	fill_manifest_spec(spec, t, digest, accept);
	if (is_head(r)) {
		ret = respond_upstream_head(r, conn, t, spec->path, accept,
					    false);
	} else {
		snprintf(spec->table_key, sizeof(spec->table_key), "m:%s",
			 digest);
		memcpy(spec->digest, digest, sizeof(spec->digest));
		ret = fetch_manifest(r, conn, t, spec);
	}
	free(spec);
	return ret;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - since->tv_sec) * 1000 +
		      (now.tv_nsec - since->tv_nsec) / 1000000);
}

static bool tag_fresh(const struct tag_record *rec, unsigned ttl)
{
	int64_t age = (int64_t)time(NULL) - rec->validated;

	return age >= 0 && age < (int64_t)ttl;
}

/*
 * Ask the upstream with HEAD what the tag of KEY names now, as the leader
 * of its revalidation, and refresh the record when it still names REC's
 * digest: the record must be written before the waiters are let go, so
 * that a request arriving after them finds it fresh.
 */
static void revalidate_upstream(struct request *r, const struct target *t,
				const char *path, const char *accept,
				const char *key, struct tag_record *rec,
				struct reval_result *res)
{
	struct upstream_call call = {
		.method = "HEAD",
		.path = path,
		.accept = accept,
		.timeout_ms = REVALIDATE_TIMEOUT_MS,
	};
	struct upstream_target ut;
	int rc;

	upstream_target_of(t, &ut);
	res->rc = upstream_fetch(r->d->upstream, &ut, &call);
	res->status = call.head.status;
	snprintf(res->digest, sizeof(res->digest), "%s", call.head.digest);
	r->upstream_ms += call.elapsed_ms;
	if (res->rc < 0 || res->status >= 500 || res->status == 429) {
		vkdr_log_warn(r->d->host, MOD,
			      "%s%s: upstream unavailable (%s); serving the "
			      "cached tag stale",
			      t->base_url, path,
			      res->rc < 0 ? strerror(-res->rc) :
					    "error status");
		return;
	}
	if (res->status != 200 || strcmp(res->digest, rec->digest) != 0)
		return;
	rec->validated = time(NULL);
	rc = cache_tag_write(r->d, key, rec);
	if (rc < 0)
		vkdr_log_warn(r->d->host, MOD, "cannot refresh %s: %s", key,
			      strerror(-rc));
}

/*
 * A cached tag past its TTL: does it still name REC's digest? Requests
 * for the same tag and Accept set that find it expired at the same time
 * share one upstream HEAD: the first asks, the others wait for its answer
 * (a HEAD takes one round trip and ends within REVALIDATE_TIMEOUT_MS),
 * rather than be served the old answer meanwhile, so nobody who asks
 * after the TTL ran out is sent a tag the upstream has moved. Sets
 * R->outcome. Returns 1 when REC is to be served (the record is fresh
 * again), 0 when the tag changed or is gone, or -1 when the upstream
 * could not say (down, 5xx, 429): the caller then serves REC stale.
 */
static int revalidate(struct request *r, const struct target *t,
		      const char *path, const char *accept,
		      const char *key, unsigned ttl, struct tag_record *rec)
{
	struct reval_result res;
	struct tag_record now;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (reval_begin(r->d, key, &res)) {
		/*
		 * A revalidation that ended between our read of the record
		 * and now has refreshed it: nothing to ask.
		 */
		if (cache_tag_read(r->d, key, &now) == 0 &&
		    tag_fresh(&now, ttl)) {
			*rec = now;
			res = (struct reval_result){ .status = 200 };
			snprintf(res.digest, sizeof(res.digest), "%s",
				 now.digest);
			reval_end(r->d, key, &res);
			r->outcome = OUTCOME_HIT;
			return 1;
		}
		revalidate_upstream(r, t, path, accept, key, rec, &res);
		reval_end(r->d, key, &res);
	} else {
		/* The time this request waited for the leader's answer. */
		r->upstream_ms += elapsed_ms(&start);
	}

	if (res.rc < 0 || res.status >= 500 || res.status == 429) {
		r->outcome = OUTCOME_STALE;
		return -1;
	}
	r->outcome = OUTCOME_REVALIDATED;
	if (res.status != 200 || strcmp(res.digest, rec->digest) != 0)
		return 0;
	return 1;
}

static enum MHD_Result serve_manifest_tag(struct request *r,
					  struct MHD_Connection *conn,
					  const struct target *t,
					  const char *tag, unsigned ttl)
{
	const char *accept = accept_of(r, conn);
	char norm[2048], key[OCI_KEY_MAX];
	enum MHD_Result ret = MHD_NO;
	struct fetch_spec *spec;
	struct tag_record rec;
	int fresh;

	if (oci_accept_normalise(accept, norm, sizeof(norm)) < 0 ||
	    oci_tag_key(t->registry, t->repository, tag, norm, key,
			sizeof(key)) < 0)
		return respond_error(r, conn, 400, "MANIFEST_INVALID",
				     "Accept header or name too long");

	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return MHD_NO;
	fill_manifest_spec(spec, t, tag, accept);

	if (cache_tag_read(r->d, key, &rec) == 0) {
		if (tag_fresh(&rec, ttl)) {
			r->outcome = OUTCOME_HIT;
			fresh = 1;
		} else {
			fresh = revalidate(r, t, spec->path, accept, key, ttl,
					   &rec);
		}
		if (fresh != 0 &&
		    respond_stored_manifest(r, conn, rec.digest,
					    rec.media_type, &ret) == 0)
			goto out_free_spec;
	}

	if (is_head(r)) {
		ret = respond_upstream_head(r, conn, t, spec->path, accept,
					    false);
	} else {
		snprintf(spec->table_key, sizeof(spec->table_key), "t:%s",
			 key);
		snprintf(spec->tag_key, sizeof(spec->tag_key), "%s", key);
		ret = fetch_manifest(r, conn, t, spec);
	}

out_free_spec:
	free(spec);
	return ret;
}

/* ---- Pass-through ---------------------------------------------------- */

struct collected {
	char *data;
	size_t len;
};

static int collect(void *arg, const void *buf, size_t len)
{
	struct collected *c = arg;
	char *grown;

	if (c->len + len > PASSTHROUGH_MAX)
		return -1;
	grown = realloc(c->data, c->len + len + 1);
	if (!grown)
		return -1;
	memcpy(grown + c->len, buf, len);
	c->data = grown;
	c->len += len;
	return 0;
}

/*
 * The query parameters a pass-through route forwards, kept as the client
 * encoded them; everything else (ns above all) stays here.
 */
static void forward_query(const char *target, char *out, size_t outlen)
{
	static const char *const keep[] = { "n=", "last=", "artifactType=" };
	const char *q = strchr(target, '?');
	size_t used = 0;

	out[0] = '\0';
	while (q && *q) {
		const char *p = q + 1, *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool ok = true;

		q = end;
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)p[i]) &&
			    !strchr("%._~-+=:/", p[i]))
				ok = false;
		for (size_t k = 0; ok && k < 3; k++) {
			size_t kl = strlen(keep[k]);

			if (len <= kl || strncmp(p, keep[k], kl) != 0)
				continue;
			if (used + len + 2 >= outlen)
				return;
			out[used] = used ? '&' : '?';
			used++;
			memcpy(out + used, p, len);
			used += len;
			out[used] = '\0';
		}
	}
}

static enum MHD_Result serve_passthrough(struct request *r,
					 struct MHD_Connection *conn,
					 const struct target *t,
					 const char *suffix)
{
	struct collected body = { 0 };
	struct upstream_call call = {
		.timeout_ms = PASSTHROUGH_TIMEOUT_MS,
		.on_body = collect,
		.arg = &body,
	};
	char path[1400], query[600];
	struct upstream_target ut;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int rc;

	call.method = r->method;
	forward_query(r->target, query, sizeof(query));
	snprintf(path, sizeof(path), "/v2/%s/%s%s", t->repository, suffix,
		 query);
	call.path = path;
	call.accept = accept_of(r, conn);
	upstream_target_of(t, &ut);
	r->outcome = OUTCOME_BYPASS;

	rc = upstream_fetch(r->d->upstream, &ut, &call);
	r->upstream_ms = call.elapsed_ms;
	if (rc < 0) {
		ret = respond_upstream_failure(r, conn, t, rc);
		goto out_free_body;
	}
	if (call.head.status != 200) {
		ret = respond_upstream_status(r, conn, call.head.status,
					      call.head.retry_after,
					      "NAME_UNKNOWN");
		goto out_free_body;
	}
	resp = MHD_create_response_from_buffer(body.len,
					       body.data ? body.data : "",
					       MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		ret = MHD_NO;
		goto out_free_body;
	}
	MHD_add_response_header(resp, "Content-Type",
				call.head.content_type[0] ?
					call.head.content_type :
					"application/json");
	if (call.head.link[0])
		MHD_add_response_header(resp, "Link", call.head.link);
	if (!is_head(r))
		r->bytes = body.len;
	ret = queue(r, conn, 200, resp);

out_free_body:
	free(body.data);
	return ret;
}

/* ---- Dispatch -------------------------------------------------------- */

struct gauges {
	const struct vkdr_host *host;
	char *buf;
	size_t len, used;
	bool full;
};

static void gauge(void *arg, const char *name, const char *labels,
		  double value)
{
	struct gauges *g = arg;
	int n;

	if (g->full)
		return;
	n = snprintf(g->buf + g->used, g->len - g->used, "%s%s%s%s %.17g\n",
		     name, *labels ? "{" : "", labels, *labels ? "}" : "",
		     value);
	if (n < 0 || (size_t)n >= g->len - g->used)
		g->full = true;
	else
		g->used += (size_t)n;
}

static int plugin_gauges(void *arg, const struct vkdr_module_info *info,
			 const char *reason)
{
	const struct vkdr_registry_ops *ops;
	struct gauges *g = arg;

	if (!info->module || info->module->kind != VKDR_MODULE_REGISTRY)
		return 0;
	ops = info->module->ops;
	if (ops->version >= 2 && ops->report)
		ops->report(g->host, gauge, g);
	return 0;
}

/*
 * The counters, then what is true now: how much the store holds and what
 * the registry plugins track (a pull budget). Gauges from plugins carry no
 * TYPE line because several plugins may report the same name.
 */
static enum MHD_Result serve_metrics(struct request *r,
				     struct MHD_Connection *conn)
{
	struct daemon *d = r->d;
	uint64_t bytes, objects;
	char buf[16384];
	struct gauges g = { .host = d->host, .buf = buf, .len = sizeof(buf) };
	int n = metrics_render(&d->metrics, buf, sizeof(buf));

	if (n < 0)
		return respond_error(r, conn, 500, "UNKNOWN",
				     "metrics too large");
	g.used = (size_t)n;
	if (d->store->usage &&
	    d->store->usage(d->store_state, &bytes, &objects) == 0) {
		gauge(&g, "# TYPE vkdr_mirror_cache_bytes gauge\n"
			  "vkdr_mirror_cache_bytes", "", (double)bytes);
		gauge(&g, "# TYPE vkdr_mirror_cache_objects gauge\n"
			  "vkdr_mirror_cache_objects", "", (double)objects);
	}
	d->host->modules_walk(plugin_gauges, &g);
	if (g.full)
		return respond_error(r, conn, 500, "UNKNOWN",
				     "metrics too large");
	return respond_buffer(r, conn, 200,
			      "text/plain; version=0.0.4; charset=utf-8", buf,
			      g.used);
}

static enum MHD_Result refuse_path(struct request *r,
				   struct MHD_Connection *conn,
				   enum oci_error e, enum oci_route route)
{
	switch (e) {
	case OCI_ERR_NAME:
		return respond_error(r, conn, 400, "NAME_INVALID",
				     "invalid repository name");
	case OCI_ERR_TAG:
		return respond_error(r, conn, 400, "TAG_INVALID",
				     "invalid tag");
	case OCI_ERR_DIGEST:
		return respond_error(r, conn, 400, "DIGEST_INVALID",
				     "invalid digest");
	case OCI_ERR_UNSUPPORTED:
		return respond_error(r, conn, 400, "UNSUPPORTED",
				     "only sha256 digests are supported");
	default:
		return respond_error(r, conn, 404, "NOT_FOUND",
				     "no such endpoint");
	}
}

enum MHD_Result routes_handle(struct request *r, struct MHD_Connection *conn)
{
	struct oci_path *p;
	struct snapshot *s;
	struct target t;
	enum MHD_Result ret;
	enum oci_error e;
	char suffix[sizeof(p->reference) + 16];

	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		struct MHD_Response *resp;
		const char *body = "{\"errors\":[{\"code\":\"UNSUPPORTED\","
				   "\"message\":\"this mirror is read-only\","
				   "\"detail\":null}]}\n";

		resp = MHD_create_response_from_buffer(
			strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
		r->bytes = strlen(body);
		return queue(r, conn, 405, resp);
	}

	p = malloc(sizeof(*p));
	if (!p)
		return MHD_NO;
	e = oci_parse_path(r->target, p);
	if (e != OCI_OK) {
		ret = refuse_path(r, conn, e, p->route);
		goto out_free_path;
	}
	if (p->route == OCI_ROUTE_METRICS) {
		ret = serve_metrics(r, conn);
		goto out_free_path;
	}
	if (p->route == OCI_ROUTE_BASE) {
		ret = respond_buffer(r, conn, 200, "application/json", "{}",
				     2);
		goto out_free_path;
	}

	s = snapshot_get(r->d);
	if (resolve_target(r, conn, s, p->name, &t, &ret) < 0)
		goto out_put_snapshot;

	switch (p->route) {
	case OCI_ROUTE_BLOB:
		ret = serve_blob(r, conn, &t, p->reference);
		break;
	case OCI_ROUTE_MANIFEST:
		if (p->by_digest)
			ret = serve_manifest_digest(r, conn, &t, p->reference);
		else
			ret = serve_manifest_tag(r, conn, &t, p->reference,
						 s->tag_ttl);
		break;
	case OCI_ROUTE_TAGS:
		ret = serve_passthrough(r, conn, &t, "tags/list");
		break;
	case OCI_ROUTE_REFERRERS:
		snprintf(suffix, sizeof(suffix), "referrers/%s", p->reference);
		ret = serve_passthrough(r, conn, &t, suffix);
		break;
	default:
		ret = respond_error(r, conn, 404, "NOT_FOUND",
				    "no such endpoint");
		break;
	}

out_put_snapshot:
	snapshot_put(r->d, s);
out_free_path:
	free(p);
	return ret;
}
