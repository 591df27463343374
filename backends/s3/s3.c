/*
 * s3.c - the "s3" storage backend: the cache in an S3 bucket (AWS S3,
 * MinIO, Ceph RGW), so that several daemons can share one cache.
 *
 * Requests go through libcurl, which signs them with SigV4. Every request
 * carries x-amz-content-sha256 itself (UNSIGNED-PAYLOAD): libcurl 7.88
 * does not add it and Ceph RGW refuses signed requests without it. Curl
 * handles come from a small locked pool so that connections are reused
 * across calls and threads.
 *
 * Writes are spooled to an unlinked temporary file and uploaded by
 * put_commit() with one PUT of known length, or as a multipart upload
 * above part-size: S3 makes an object visible only when its PUT or the
 * completion of its upload succeeds, which gives the atomic commit the
 * daemon needs. Reads are ranged GETs with a read-ahead buffer per open
 * object, so the daemon's small reads cost few requests.
 *
 * Secrets (the secret key, a session token) are never logged, and log
 * lines name objects by key, never by a signed URL.
 *
 * When the store cannot be reached, calls fail at once for a short while
 * instead of each waiting for a connect timeout, one line is logged per
 * outage, and get()/stat() answer -ENOENT so that the daemon serves from
 * the upstream as for a miss.
 *
 * With option local=filesystem or local=tmpfs, blobs are also copied into
 * a local tier (tier.c) on commit and on their first hit, and served from
 * there with a file descriptor; it also serves what it holds while the
 * store is down.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <vkdr/module.h>

#include "s3util.h"
#include "tier.h"
#include "util.h"

#define MOD "s3"

/* Idle curl handles kept for reuse. */
#define POOL_MAX 16
/*
 * Read-ahead: the first ranged GET of an object fetches READAHEAD_MIN
 * bytes, each further one twice as many up to READAHEAD_MAX, so a small
 * object costs little memory and a large one few requests.
 */
#define READAHEAD_MIN (1u << 20)
#define READAHEAD_MAX (8u << 20)
/* After a failed connection, fail calls at once for this long. */
#define RETRY_AFTER_MS 2000
/* Multipart uploads: S3's limits on a part, and the default part. */
#define PART_MIN (5ull << 20)
#define PART_MAX (5ull << 30)
#define PART_DEFAULT (64ull << 20)
/* A listing or error body larger than this is refused. */
#define BODY_MAX (16u << 20)

struct s3_store {
	const struct vkdr_host *host;
	char *endpoint; /* "http://127.0.0.1:7480", no slash */
	char *bucket;
	char *region;
	char *prefix; /* "" or ending in "/" */
	char *access_key;
	char *secret_key;
	char *token; /* NULL without a session token */
	char *spool;
	bool path_style;
	bool redirect;
	uint64_t part_size; /* larger objects go up in parts of this size */
	char *local;	    /* the local tier's backend, NULL for none */
	char *local_path;
	char *local_max;
	struct s3_tier *tier;
	char sigv4[96];
	char token_header[4200];

	pthread_mutex_t lock; /* guards the pool */
	CURL *pool[POOL_MAX];
	size_t n_pool;

	int down;	     /* atomic: the last attempt failed */
	int64_t retry_at_ms; /* atomic: monotonic time to try again */
};

/*
 * What get() hands out in obj->priv: an object of the bucket, or one of
 * the local tier (IS_LOCAL, the tier's own object in LOCAL).
 */
struct s3_reader {
	bool is_local;
	struct vkdr_object local;
	char *key;
	char *buf;
	size_t buf_cap;
	uint64_t buf_off;
	size_t buf_len;
};

struct s3_writer {
	char *key;
	int fd;
	uint64_t size;
};

/* One request and what came back. */
struct s3_call {
	const char *method;
	const char *key;   /* below the prefix; NULL: the bucket */
	const char *query; /* encoded and sorted; NULL for none */
	const char *range; /* "FIRST-LAST" or NULL */
	/* Request body: from FD (FD_LEN bytes at FD_OFF) or from BODY. */
	int fd;
	uint64_t fd_off;
	uint64_t fd_len;
	const char *body;
	size_t body_len;
	uint64_t sent;
	/* Response body: into OUT (OUT_CAP bytes), else into DYN. */
	char *out;
	size_t out_cap;
	size_t out_len;
	char *dyn;
	size_t dyn_len;
	bool overflow;	  /* the answer did not fit */
	bool read_failed; /* the spool file could not be read */
	/* Response. */
	long status;
	int64_t length; /* Content-Length, -1 when absent */
	int64_t mtime;
	char etag[128];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Curl handles ------------------------------------------------------ */

static CURL *handle_get(struct s3_store *st)
{
	CURL *h = NULL;

	pthread_mutex_lock(&st->lock);
	if (st->n_pool)
		h = st->pool[--st->n_pool];
	pthread_mutex_unlock(&st->lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(struct s3_store *st, CURL *h)
{
	pthread_mutex_lock(&st->lock);
	if (st->n_pool < POOL_MAX) {
		st->pool[st->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	if (h)
		curl_easy_cleanup(h);
}

/* ---- One request ------------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct s3_call *c = arg;
	size_t len = size * n;
	char line[512];
	char *v;

	if (len >= sizeof(line))
		return len;
	memcpy(line, data, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!strncmp(line, "HTTP/", 5)) {
		/* A new response (after a 100, say): forget the last one. */
		v = strchr(line, ' ');
		c->status = v ? strtol(v + 1, NULL, 10) : 0;
		c->length = -1;
		c->mtime = 0;
		c->etag[0] = '\0';
		return len;
	}
	v = strchr(line, ':');
	if (!v)
		return len;
	*v++ = '\0';
	while (*v == ' ')
		v++;
	if (!strcasecmp(line, "Content-Length"))
		c->length = strtoll(v, NULL, 10);
	else if (!strcasecmp(line, "Last-Modified"))
		c->mtime = s3_parse_http_date(v);
	else if (!strcasecmp(line, "ETag"))
		snprintf(c->etag, sizeof(c->etag), "%s", v);
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct s3_call *c = arg;
	size_t len = size * n;
	bool ok = c->status >= 200 && c->status < 300;

	if (c->out && ok) {
		if (len > c->out_cap - c->out_len) {
			c->overflow = true;
			return 0;
		}
		memcpy(c->out + c->out_len, data, len);
		c->out_len += len;
		return len;
	}
	if (c->dyn_len + len > BODY_MAX) {
		c->overflow = true;
		return 0;
	}
	char *grown = realloc(c->dyn, c->dyn_len + len + 1);

	if (!grown)
		return 0;
	c->dyn = grown;
	memcpy(c->dyn + c->dyn_len, data, len);
	c->dyn_len += len;
	c->dyn[c->dyn_len] = '\0';
	return len;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *arg)
{
	struct s3_call *c = arg;
	uint64_t total = c->fd >= 0 ? c->fd_len : c->body_len;
	size_t want = size * n;
	ssize_t got;

	if (want > total - c->sent)
		want = (size_t)(total - c->sent);
	if (!want)
		return 0;
	if (c->fd < 0) {
		memcpy(buf, c->body + c->sent, want);
		c->sent += want;
		return want;
	}
	do
		got = pread(c->fd, buf, want, (off_t)(c->fd_off + c->sent));
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		c->read_failed = true;
		return CURL_READFUNC_ABORT;
	}
	c->sent += (uint64_t)got;
	return (size_t)got;
}

/* The URL of C's bucket or object into URL. */
static int call_url(const struct s3_store *st, const struct s3_call *c,
		    char *url, size_t len)
{
	const char *key = c->key ? c->key : "";
	const char *pre = c->key ? st->prefix : "";
	const char *q = c->query ? "?" : "", *query = c->query ? c->query : "";
	int n;

	if (st->path_style) {
		n = snprintf(url, len, "%s/%s%s%s%s%s%s", st->endpoint,
			     st->bucket, c->key ? "/" : "", pre, key, q, query);
	} else {
		const char *host = strstr(st->endpoint, "://") + 3;

		n = snprintf(url, len, "%.*s%s.%s/%s%s%s%s",
			     (int)(host - st->endpoint), st->endpoint,
			     st->bucket, host, pre, key, q, query);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Note an answer or a failure to reach the store, logging only when the
 * state changes so that an outage costs one line, not one per request.
 */
static void note_reachable(struct s3_store *st, bool reachable, const char *why)
{
	if (reachable) {
		if (__atomic_exchange_n(&st->down, 0, __ATOMIC_ACQ_REL))
			vkdr_log_info(st->host, MOD, "store %s reachable again",
				      st->endpoint);
		return;
	}
	__atomic_store_n(&st->retry_at_ms, now_ms() + RETRY_AFTER_MS,
			 __ATOMIC_RELEASE);
	if (!__atomic_exchange_n(&st->down, 1, __ATOMIC_ACQ_REL))
		vkdr_log_warn(st->host, MOD,
			      "store %s unreachable (%s): serving without "
			      "the cache until it answers",
			      st->endpoint, why);
}

static int curl_errno(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	default:
		return -EIO;
	}
}

/*
 * Run C. Returns 0 with C->status set (any HTTP status), or a negative
 * errno when no answer came: at once while the store is known down.
 */
static int s3_perform(struct s3_store *st, struct s3_call *c)
{
	struct curl_slist *hdrs = NULL, *more;
	char url[4096], range[96];
	CURLcode code;
	CURL *h;
	int rc;

	c->status = 0;
	c->length = -1;
	if (__atomic_load_n(&st->down, __ATOMIC_ACQUIRE) &&
	    now_ms() < __atomic_load_n(&st->retry_at_ms, __ATOMIC_ACQUIRE))
		return -EHOSTDOWN;
	rc = call_url(st, c, url, sizeof(url));
	if (rc < 0)
		return rc;
	h = handle_get(st);
	if (!h)
		return -ENOMEM;

	/*
	 * No "Expect:" to turn off 100-continue: libcurl 7.88 would sign
	 * the empty header it then does not send.
	 */
	hdrs = more = curl_slist_append(NULL, "x-amz-content-sha256: "
					      "UNSIGNED-PAYLOAD");
	if (more && st->token)
		more = curl_slist_append(hdrs, st->token_header);
	if (more && !strcmp(c->method, "POST"))
		more = curl_slist_append(hdrs, "Content-Type: application/xml");
	if (more && c->range) {
		snprintf(range, sizeof(range), "Range: bytes=%s", c->range);
		more = curl_slist_append(hdrs, range);
	}
	if (!more) {
		rc = -ENOMEM;
		goto out_free_headers;
	}

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, st->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, st->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, st->secret_key);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 10L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	if (!strcmp(c->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(c->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, c);
		curl_easy_setopt(
			h, CURLOPT_INFILESIZE_LARGE,
			(curl_off_t)(c->fd >= 0 ? c->fd_len : c->body_len));
	} else if (!strcmp(c->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
	}

	code = curl_easy_perform(h);
	if (code == CURLE_OK) {
		note_reachable(st, true, NULL);
	} else if (c->overflow || c->read_failed) {
		/* Our side gave up: says nothing about the store. */
		rc = -EIO;
	} else if (c->status) {
		/* An answer came, then the transfer broke. */
		rc = curl_errno(code);
	} else {
		rc = curl_errno(code);
		note_reachable(st, false, curl_easy_strerror(code));
	}
	handle_put(st, h);
out_free_headers:
	curl_slist_free_all(hdrs);
	return rc;
}

static void call_init(struct s3_call *c, const char *method, const char *key)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->key = key;
	c->fd = -1;
	c->length = -1;
}

/* Log an unexpected answer with the S3 error code, never a secret. */
static void log_status(struct s3_store *st, const struct s3_call *c)
{
	const char *cur = c->dyn, *val = "";
	size_t len = 0;

	if (c->dyn)
		s3_xml_element(&cur, c->dyn + c->dyn_len, "Code", &val, &len);
	vkdr_log_warn(st->host, MOD, "%s %s%s: HTTP %ld %.*s", c->method,
		      c->key ? st->prefix : st->bucket, c->key ? c->key : "",
		      c->status, (int)(len > 64 ? 64 : len), val);
}

/* An HTTP status as an errno for calls that expect 2xx. */
static int status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	if (status == 404)
		return -ENOENT;
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 507)
		return -ENOSPC;
	return -EIO;
}

/* ---- Options ----------------------------------------------------------- */

static bool bucket_valid(const char *b)
{
	size_t len = strlen(b);

	if (len < 3 || len > 63)
		return false;
	for (const char *p = b; *p; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '.' && *p != '-')
			return false;
	return true;
}

static bool prefix_valid(const char *p)
{
	if (*p == '/')
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._/-", *p))
			return false;
	return true;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		__asm__ __volatile__("" : : "r"(s) : "memory");
	}
	free(s);
}

static void store_free(struct s3_store *st)
{
	while (st->n_pool)
		curl_easy_cleanup(st->pool[--st->n_pool]);
	pthread_mutex_destroy(&st->lock);
	free(st->endpoint);
	free(st->bucket);
	free(st->region);
	free(st->prefix);
	free(st->access_key);
	free_secret(st->secret_key);
	free_secret(st->token);
	memset(st->token_header, 0, sizeof(st->token_header));
	free(st->spool);
	free(st->local);
	free(st->local_path);
	free(st->local_max);
	free(st);
}

/* Apply one KEY=VALUE; -EINVAL with a log line when it is wrong. */
static int apply_option(struct s3_store *st, const char *key, const char *value)
{
	const struct vkdr_host *host = st->host;

	if (!strcmp(key, "endpoint")) {
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0)
			goto out_bad;
		return set_string(&st->endpoint, value);
	}
	if (!strcmp(key, "bucket")) {
		if (!bucket_valid(value))
			goto out_bad;
		return set_string(&st->bucket, value);
	}
	if (!strcmp(key, "region")) {
		if (!*value || strpbrk(value, "/:\r\n "))
			goto out_bad;
		return set_string(&st->region, value);
	}
	if (!strcmp(key, "prefix")) {
		if (!prefix_valid(value))
			goto out_bad;
		return set_string(&st->prefix, value);
	}
	if (!strcmp(key, "path-style"))
		return parse_bool(value, &st->path_style) ? -EINVAL : 0;
	if (!strcmp(key, "redirect"))
		return parse_bool(value, &st->redirect) ? -EINVAL : 0;
	if (!strcmp(key, "access-key"))
		return set_string(&st->access_key, value);
	if (!strcmp(key, "secret-key"))
		return set_string(&st->secret_key, value);
	if (!strcmp(key, "spool"))
		return set_string(&st->spool, value);
	if (!strcmp(key, "part-size")) {
		/* S3's bounds: parts of 5 MiB to 5 GiB. */
		if (backend_parse_size(value, &st->part_size) < 0 ||
		    st->part_size < PART_MIN || st->part_size > PART_MAX)
			goto out_bad;
		return 0;
	}
	if (!strcmp(key, "local")) {
		if (strcmp(value, "filesystem") != 0 &&
		    strcmp(value, "tmpfs") != 0)
			goto out_bad;
		return set_string(&st->local, value);
	}
	if (!strcmp(key, "local-path")) {
		if (*value != '/')
			goto out_bad;
		return set_string(&st->local_path, value);
	}
	if (!strcmp(key, "local-max-size"))
		return set_string(&st->local_max, value);
	vkdr_log_err(host, MOD, "unknown option \"%s\"", key);
	return -EINVAL;

out_bad:
	vkdr_log_err(host, MOD, "bad value \"%s\" for option %s", value, key);
	return -EINVAL;
}

/* Defaults, the environment's credentials, and derived strings. */
static int finish_options(struct s3_store *st)
{
	const struct vkdr_host *host = st->host;
	const char *env;
	size_t len;
	int rc = 0;

	if (!st->region)
		rc = set_string(&st->region, "us-east-1");
	if (!rc && !st->endpoint) {
		char url[256];

		snprintf(url, sizeof(url), "https://s3.%s.amazonaws.com",
			 st->region);
		rc = set_string(&st->endpoint, url);
	}
	if (!rc && !st->prefix)
		rc = set_string(&st->prefix, "");
	if (!rc && !st->access_key && (env = getenv("AWS_ACCESS_KEY_ID")))
		rc = set_string(&st->access_key, env);
	if (!rc && !st->secret_key && (env = getenv("AWS_SECRET_ACCESS_KEY")))
		rc = set_string(&st->secret_key, env);
	if (!rc && (env = getenv("AWS_SESSION_TOKEN")) && *env)
		rc = set_string(&st->token, env);
	if (!rc && !st->spool) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/s3-spool", host->home());
		rc = set_string(&st->spool, path);
	}
	if (rc)
		return rc;
	if (!st->bucket) {
		vkdr_log_err(host, MOD, "option bucket is required");
		return -EINVAL;
	}
	if (!st->access_key || !st->secret_key) {
		vkdr_log_err(host, MOD,
			     "no credentials: set access-key and secret-key, "
			     "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		return -EINVAL;
	}

	len = strlen(st->endpoint);
	while (len && st->endpoint[len - 1] == '/')
		st->endpoint[--len] = '\0';
	len = strlen(st->prefix);
	if (len && st->prefix[len - 1] != '/') {
		char *p = malloc(len + 2);

		if (!p)
			return -ENOMEM;
		snprintf(p, len + 2, "%s/", st->prefix);
		free(st->prefix);
		st->prefix = p;
	}
	snprintf(st->sigv4, sizeof(st->sigv4), "aws:amz:%s:s3", st->region);
	if (st->token) {
		int n = snprintf(st->token_header, sizeof(st->token_header),
				 "x-amz-security-token: %s", st->token);

		if (n < 0 || (size_t)n >= sizeof(st->token_header))
			return -EINVAL;
	}
	return 0;
}

/* mkdir -p PATH for the user only. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* Check that the bucket is there, creating it when it is not. */
static int bucket_ensure(struct s3_store *st)
{
	char body[256];
	struct s3_call c;
	int rc;

	call_init(&c, "HEAD", NULL);
	rc = s3_perform(st, &c);
	if (rc < 0) {
		vkdr_log_err(st->host, MOD, "cannot reach %s: %s", st->endpoint,
			     strerror(-rc));
		return rc;
	}
	if (c.status == 200)
		return 0;
	if (c.status != 404) {
		vkdr_log_err(st->host, MOD, "bucket %s at %s: HTTP %ld%s",
			     st->bucket, st->endpoint, c.status,
			     c.status == 403 ? " (check the credentials)" : "");
		return status_errno(c.status) ? status_errno(c.status) : -EIO;
	}

	call_init(&c, "PUT", NULL);
	if (strcmp(st->region, "us-east-1") != 0) {
		snprintf(body, sizeof(body),
			 "<CreateBucketConfiguration><LocationConstraint>%s"
			 "</LocationConstraint></CreateBucketConfiguration>",
			 st->region);
		c.body = body;
		c.body_len = strlen(body);
	}
	rc = s3_perform(st, &c);
	if (rc == 0 && c.status == 409)
		c.status = 200; /* Another replica created it first. */
	if (rc == 0 && c.status != 200) {
		log_status(st, &c);
		rc = status_errno(c.status) ? status_errno(c.status) : -EIO;
	}
	free(c.dyn);
	if (rc == 0)
		vkdr_log_info(st->host, MOD, "created bucket %s at %s",
			      st->bucket, st->endpoint);
	return rc;
}

static int s3_open(const struct vkdr_host *host, const struct vkdr_option *opts,
		   size_t n_opts, void **state)
{
	struct s3_store *st;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->path_style = true;
	st->part_size = PART_DEFAULT;
	pthread_mutex_init(&st->lock, NULL);
	for (size_t i = 0; i < n_opts; i++) {
		rc = apply_option(st, opts[i].key, opts[i].value);
		if (rc < 0)
			goto out_free_store;
	}
	rc = finish_options(st);
	if (rc < 0)
		goto out_free_store;
	rc = make_dirs(st->spool);
	if (rc < 0) {
		vkdr_log_err(host, MOD, "cannot create spool %s: %s", st->spool,
			     strerror(-rc));
		goto out_free_store;
	}
	if (!st->local && (st->local_path || st->local_max)) {
		vkdr_log_err(host, MOD,
			     "local-path and local-max-size need "
			     "local=filesystem or local=tmpfs");
		rc = -EINVAL;
		goto out_free_store;
	}
	rc = bucket_ensure(st);
	if (rc < 0)
		goto out_free_store;
	if (st->local) {
		rc = tier_open(host, st->local, st->local_path, st->local_max,
			       &st->tier);
		if (rc < 0)
			goto out_free_store;
	}
	*state = st;
	return 0;

out_free_store:
	store_free(st);
	return rc;
}

static void s3_close(void *state)
{
	struct s3_store *st = state;

	tier_close(st->tier);
	store_free(st);
}

/* ---- Reading ----------------------------------------------------------- */

/* HEAD KEY into INFO; -ENOENT also when the store cannot be reached. */
static int head_object(struct s3_store *st, const char *key,
		       struct vkdr_object_info *info)
{
	struct s3_call c;
	int rc;

	if (!backend_key_valid(key))
		return -EINVAL;
	call_init(&c, "HEAD", key);
	rc = s3_perform(st, &c);
	if (rc < 0)
		return -ENOENT;
	rc = status_errno(c.status);
	if (rc == 0 && c.length < 0)
		rc = -EIO;
	if (rc == 0) {
		info->size = (uint64_t)c.length;
		info->mtime = c.mtime;
		info->atime = c.mtime;
	} else if (rc != -ENOENT) {
		log_status(st, &c);
		if (c.status >= 500)
			rc = -ENOENT;
	}
	free(c.dyn);
	return rc;
}

static int s3_stat(void *state, const char *key, struct vkdr_object_info *info)
{
	struct s3_store *st = state;

	if (st->tier && tier_wants(key) && backend_key_valid(key) &&
	    tier_stat(st->tier, key, info) == 0)
		return 0;
	return head_object(st, key, info);
}

static ssize_t get_range(struct s3_store *st, const char *key, uint64_t off,
			 char *buf, size_t len);

/* What tier_copy() reads a blob of the bucket through. */
struct bucket_source {
	struct s3_store *st;
	const char *key;
};

static ssize_t read_bucket(void *arg, uint64_t off, void *buf, size_t len)
{
	struct bucket_source *src = arg;

	return get_range(src->st, src->key, off, buf, len);
}

/*
 * Open KEY from the local tier into OBJ, as a reader of this backend.
 * Returns 0, or -ENOENT when the tier does not hold it.
 */
static int get_local(struct s3_store *st, const char *key,
		     struct vkdr_object *obj)
{
	struct s3_reader *rd;
	int rc;

	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rc = tier_get(st->tier, key, &rd->local);
	if (rc < 0) {
		free(rd);
		return rc;
	}
	rd->is_local = true;
	obj->fd = rd->local.fd;
	obj->offset = rd->local.offset;
	obj->size = rd->local.size;
	obj->priv = rd;
	return 0;
}

/*
 * A blob comes from the local tier when it holds a copy; otherwise from
 * the bucket, after a copy into the tier when it fits there, so that the
 * next request for it is served locally. While the bucket is down, what
 * the tier holds is still served.
 */
static int s3_get(void *state, const char *key, struct vkdr_object *obj)
{
	struct s3_store *st = state;
	bool local = st->tier && tier_wants(key) && backend_key_valid(key);
	struct bucket_source src = { st, key };
	struct vkdr_object_info info;
	struct s3_reader *rd;
	int rc;

	if (local && get_local(st, key, obj) == 0)
		return 0;
	rc = head_object(st, key, &info);
	if (rc < 0)
		return rc;
	if (local &&
	    tier_copy(st->tier, key, info.size, read_bucket, &src) == 0 &&
	    get_local(st, key, obj) == 0)
		return 0;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->key = strdup(key);
	if (!rd->key) {
		free(rd);
		return -ENOMEM;
	}
	obj->fd = -1;
	obj->offset = 0;
	obj->size = info.size;
	obj->priv = rd;
	return 0;
}

/* GET bytes [OFF, OFF+LEN) of KEY into BUF; returns the count. */
static ssize_t get_range(struct s3_store *st, const char *key, uint64_t off,
			 char *buf, size_t len)
{
	char range[64];
	struct s3_call c;
	ssize_t ret;
	int rc;

	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off,
		 off + len - 1);
	call_init(&c, "GET", key);
	c.range = range;
	c.out = buf;
	c.out_cap = len;
	rc = s3_perform(st, &c);
	if (rc < 0) {
		ret = rc;
	} else if (c.status == 206 || (c.status == 200 && off == 0)) {
		ret = (ssize_t)c.out_len;
	} else if (c.status == 416) {
		ret = 0;
	} else {
		log_status(st, &c);
		ret = status_errno(c.status) ? status_errno(c.status) : -EIO;
	}
	free(c.dyn);
	return ret;
}

static ssize_t s3_read(void *state, struct vkdr_object *obj, uint64_t off,
		       void *buf, size_t len)
{
	struct s3_store *st = state;
	struct s3_reader *rd = obj->priv;
	size_t want;
	ssize_t n;

	if (rd->is_local)
		return tier_read(st->tier, &rd->local, off, buf, len);
	if (off >= obj->size || !len)
		return 0;
	if (len > obj->size - off)
		len = (size_t)(obj->size - off);
	if (len >= READAHEAD_MAX)
		return get_range(st, rd->key, off, buf, len);

	if (off < rd->buf_off || off >= rd->buf_off + rd->buf_len) {
		want = rd->buf_cap ? rd->buf_cap * 2 : READAHEAD_MIN;
		if (want > READAHEAD_MAX)
			want = READAHEAD_MAX;
		/*
		 * A rest of less than half a window more is taken now: a
		 * request for a few bytes costs a round trip, and on a
		 * reused connection a store that sends its header and a
		 * short body apart (Ceph RGW without tcp_nodelay) holds
		 * the body until our delayed ACK, some 40 ms.
		 */
		if (obj->size - off < want + want / 2)
			want = (size_t)(obj->size - off);
		if (want < len)
			want = len;
		if (want > rd->buf_cap) {
			char *grown = realloc(rd->buf, want);

			if (!grown)
				return -ENOMEM;
			rd->buf = grown;
			rd->buf_cap = want;
		}
		rd->buf_len = 0;
		n = get_range(st, rd->key, off, rd->buf, want);
		if (n <= 0)
			return n < 0 ? n : -EIO;
		rd->buf_off = off;
		rd->buf_len = (size_t)n;
	}
	want = (size_t)(rd->buf_off + rd->buf_len - off);
	if (want > len)
		want = len;
	memcpy(buf, rd->buf + (off - rd->buf_off), want);
	return (ssize_t)want;
}

static void s3_release(void *state, struct vkdr_object *obj)
{
	struct s3_store *st = state;
	struct s3_reader *rd = obj->priv;

	if (rd && rd->is_local)
		tier_release(st->tier, &rd->local);
	if (rd) {
		free(rd->buf);
		free(rd->key);
		free(rd);
	}
	obj->priv = NULL;
}

/* ---- Writing ----------------------------------------------------------- */

static int s3_put_begin(void *state, const char *key, uint64_t size_hint,
			void **writer)
{
	struct s3_store *st = state;
	struct s3_writer *w;
	char path[4096];
	int rc;

	if (!backend_key_valid(key))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->key = strdup(key);
	if (!w->key) {
		rc = -ENOMEM;
		goto out_free_writer;
	}
	snprintf(path, sizeof(path), "%s/put-XXXXXX", st->spool);
	w->fd = mkostemp(path, O_CLOEXEC);
	if (w->fd < 0) {
		rc = -errno;
		vkdr_log_err(st->host, MOD, "cannot spool to %s: %s", st->spool,
			     strerror(errno));
		goto out_free_key;
	}
	/* Unlinked at once: a crash leaves nothing behind. */
	unlink(path);
	*writer = w;
	return 0;

out_free_key:
	free(w->key);
out_free_writer:
	free(w);
	return rc;
}

static int s3_put_write(void *state, void *writer, const void *buf, size_t len)
{
	struct s3_writer *w = writer;
	const char *p = buf;

	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		w->size += (uint64_t)n;
	}
	return 0;
}

static void writer_free(struct s3_writer *w)
{
	close(w->fd);
	free(w->key);
	free(w);
}

/* The errno for an answer other than WANT, logged. */
static int unexpected(struct s3_store *st, const struct s3_call *c)
{
	int rc = status_errno(c->status);

	log_status(st, c);
	return rc < 0 ? rc : -EIO;
}

/* Start a multipart upload of KEY; its id goes to ID. */
static int multipart_begin(struct s3_store *st, const char *key, char *id,
			   size_t idlen)
{
	const char *cur, *val;
	struct s3_call c;
	size_t vlen;
	int rc;

	call_init(&c, "POST", key);
	c.query = "uploads=";
	rc = s3_perform(st, &c);
	if (rc == 0 && c.status != 200)
		rc = unexpected(st, &c);
	cur = c.dyn;
	if (rc == 0 && (!c.dyn ||
			!s3_xml_element(&cur, c.dyn + c.dyn_len, "UploadId",
					&val, &vlen) ||
			s3_xml_text(val, vlen, id, idlen) || !id[0]))
		rc = -EPROTO;
	free(c.dyn);
	return rc;
}

/*
 * Upload W in parts of st->part_size: start, PUT each part, complete.
 * The object becomes visible only when the upload completes; on failure
 * the upload is aborted so that its parts do not linger in the bucket.
 */
static int put_multipart(struct s3_store *st, struct s3_writer *w)
{
	uint64_t n_parts = (w->size + st->part_size - 1) / st->part_size;
	char id[512], enc_id[1024] = "", query[1200];
	size_t xml_cap, xml_len = 0;
	struct s3_call c;
	char *xml;
	int rc;

	if (n_parts > 10000)
		return -EFBIG;
	xml_cap = (size_t)n_parts * 200 + 64;
	xml = malloc(xml_cap);
	if (!xml)
		return -ENOMEM;
	rc = multipart_begin(st, w->key, id, sizeof(id));
	if (rc < 0)
		goto out_free_xml;
	rc = s3_uri_encode(id, false, enc_id, sizeof(enc_id));
	if (rc < 0)
		goto out_abort;

	xml_len = (size_t)snprintf(xml, xml_cap, "<CompleteMultipartUpload>");
	for (uint64_t i = 0; i < n_parts; i++) {
		uint64_t off = i * st->part_size;

		call_init(&c, "PUT", w->key);
		snprintf(query, sizeof(query),
			 "partNumber=%" PRIu64 "&uploadId=%s", i + 1, enc_id);
		c.query = query;
		c.fd = w->fd;
		c.fd_off = off;
		c.fd_len = w->size - off < st->part_size ? w->size - off
							 : st->part_size;
		rc = s3_perform(st, &c);
		if (rc == 0 && c.status != 200)
			rc = unexpected(st, &c);
		if (rc == 0 && !c.etag[0])
			rc = -EPROTO;
		if (rc == 0)
			xml_len += (size_t)snprintf(
				xml + xml_len, xml_cap - xml_len,
				"<Part><PartNumber>%" PRIu64 "</PartNumber>"
				"<ETag>%s</ETag></Part>",
				i + 1, c.etag);
		free(c.dyn);
		if (rc < 0)
			goto out_abort;
	}
	xml_len += (size_t)snprintf(xml + xml_len, xml_cap - xml_len,
				    "</CompleteMultipartUpload>");

	call_init(&c, "POST", w->key);
	snprintf(query, sizeof(query), "uploadId=%s", enc_id);
	c.query = query;
	c.body = xml;
	c.body_len = xml_len;
	rc = s3_perform(st, &c);
	/* A 200 may still carry an error, sent after a long assembly. */
	if (rc == 0 && (c.status != 200 || !c.dyn ||
			!strstr(c.dyn, "CompleteMultipartUploadResult")))
		rc = unexpected(st, &c);
	free(c.dyn);
	if (rc == 0)
		goto out_free_xml;

out_abort:
	if (!enc_id[0])
		goto out_free_xml;
	call_init(&c, "DELETE", w->key);
	snprintf(query, sizeof(query), "uploadId=%s", enc_id);
	c.query = query;
	if (s3_perform(st, &c) == 0 && c.status != 204 && c.status != 404)
		log_status(st, &c);
	free(c.dyn);
out_free_xml:
	free(xml);
	return rc;
}

static ssize_t read_spool(void *arg, uint64_t off, void *buf, size_t len)
{
	struct s3_writer *w = arg;
	ssize_t n;

	do
		n = pread(w->fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/*
 * Upload to the bucket first, the shared truth; then keep a copy of a
 * blob in the local tier from the spool file, best effort: the tier's
 * failure is not the commit's.
 */
static int s3_put_commit(void *state, void *writer)
{
	struct s3_store *st = state;
	struct s3_writer *w = writer;
	struct s3_call c;
	int rc;

	if (w->size > st->part_size) {
		rc = put_multipart(st, w);
		goto out_copy;
	}
	call_init(&c, "PUT", w->key);
	c.fd = w->fd;
	c.fd_len = w->size;
	rc = s3_perform(st, &c);
	if (rc == 0) {
		rc = status_errno(c.status);
		if (rc < 0)
			log_status(st, &c);
	}
	free(c.dyn);
out_copy:
	if (rc == 0 && st->tier && tier_wants(w->key))
		tier_copy(st->tier, w->key, w->size, read_spool, w);
	writer_free(w);
	return rc;
}

static void s3_put_abort(void *state, void *writer)
{
	writer_free(writer);
}

static int s3_remove(void *state, const char *key)
{
	struct vkdr_object_info info;
	struct s3_store *st = state;
	bool had_local = false;
	struct s3_call c;
	int rc;

	if (st->tier && tier_wants(key) && backend_key_valid(key))
		had_local = tier_remove(st->tier, key) == 0;
	/* DELETE answers 204 for a missing key too: look first. */
	rc = head_object(st, key, &info);
	if (rc < 0)
		return had_local && rc == -ENOENT ? 0 : rc;
	call_init(&c, "DELETE", key);
	rc = s3_perform(st, &c);
	if (rc == 0) {
		rc = status_errno(c.status);
		if (rc < 0 && rc != -ENOENT)
			log_status(st, &c);
	}
	free(c.dyn);
	return rc;
}

/* ---- Listing ----------------------------------------------------------- */

struct list_entry {
	char *key;
	struct vkdr_object_info info;
};

struct list_page {
	struct list_entry *entries;
	size_t n;
	char token[1024]; /* continuation token, "" on the last page */
};

static void page_clear(struct list_page *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		free(pg->entries[i].key);
	free(pg->entries);
	pg->entries = NULL;
	pg->n = 0;
}

/* Parse one ListObjectsV2 answer into PG; keys lose the store's prefix. */
static int page_parse(struct s3_store *st, const char *xml, size_t len,
		      struct list_page *pg)
{
	const char *cur = xml, *end = xml + len, *val, *in;
	size_t plen = strlen(st->prefix), vlen, ilen;
	char key[1024], num[32];
	int rc;

	pg->token[0] = '\0';
	while (s3_xml_element(&cur, end, "Contents", &in, &ilen)) {
		const char *c2 = in, *iend = in + ilen;
		struct list_entry *grown;

		if (!s3_xml_element(&c2, iend, "Key", &val, &vlen))
			return -EPROTO;
		rc = s3_xml_text(val, vlen, key, sizeof(key));
		if (rc < 0)
			return -EPROTO;
		if (strncmp(key, st->prefix, plen) != 0 ||
		    !backend_key_valid(key + plen))
			continue;
		grown = realloc(pg->entries, (pg->n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		pg->entries = grown;
		memset(&grown[pg->n], 0, sizeof(*grown));
		grown[pg->n].key = strdup(key + plen);
		if (!grown[pg->n].key)
			return -ENOMEM;
		c2 = in;
		if (s3_xml_element(&c2, iend, "Size", &val, &vlen) &&
		    !s3_xml_text(val, vlen, num, sizeof(num)))
			grown[pg->n].info.size = strtoull(num, NULL, 10);
		c2 = in;
		if (s3_xml_element(&c2, iend, "LastModified", &val, &vlen) &&
		    !s3_xml_text(val, vlen, num, sizeof(num)))
			grown[pg->n].info.mtime = s3_parse_iso8601(num);
		grown[pg->n].info.atime = grown[pg->n].info.mtime;
		pg->n++;
	}
	cur = xml;
	if (s3_xml_element(&cur, end, "IsTruncated", &val, &vlen) &&
	    vlen == 4 && !strncmp(val, "true", 4)) {
		cur = xml;
		if (!s3_xml_element(&cur, end, "NextContinuationToken", &val,
				    &vlen) ||
		    s3_xml_text(val, vlen, pg->token, sizeof(pg->token)) ||
		    !pg->token[0])
			return -EPROTO;
	}
	return 0;
}

/* Fetch the page of keys under PREFIX after TOKEN ("" for the first). */
static int page_fetch(struct s3_store *st, const char *prefix,
		      const char *token, struct list_page *pg)
{
	char full[2048], enc_prefix[4096], enc_token[3200], query[8192];
	struct s3_call c;
	int rc;

	snprintf(full, sizeof(full), "%s%s", st->prefix, prefix);
	rc = s3_uri_encode(full, false, enc_prefix, sizeof(enc_prefix));
	if (rc == 0)
		rc = s3_uri_encode(token, false, enc_token, sizeof(enc_token));
	if (rc < 0)
		return rc;
	/* Parameters sorted by name, as SigV4's canonical query wants. */
	snprintf(query, sizeof(query), "%s%s%slist-type=2&prefix=%s",
		 *token ? "continuation-token=" : "", enc_token,
		 *token ? "&" : "", enc_prefix);
	call_init(&c, "GET", NULL);
	c.query = query;
	rc = s3_perform(st, &c);
	if (rc == 0) {
		rc = status_errno(c.status);
		if (rc < 0)
			log_status(st, &c);
		else if (c.dyn)
			rc = page_parse(st, c.dyn, c.dyn_len, pg);
	}
	free(c.dyn);
	return rc;
}

static int s3_walk(void *state, const char *prefix,
		   int (*fn)(void *arg, const char *key,
			     const struct vkdr_object_info *info),
		   void *arg)
{
	struct list_page pg = { 0 };
	char token[1024] = "";
	int rc;

	do {
		rc = page_fetch(state, prefix, token, &pg);
		/* No request is in flight while FN runs: it may call us. */
		for (size_t i = 0; rc == 0 && i < pg.n; i++)
			rc = fn(arg, pg.entries[i].key, &pg.entries[i].info);
		snprintf(token, sizeof(token), "%s", pg.token);
		page_clear(&pg);
	} while (rc == 0 && token[0]);
	return rc;
}

struct usage_sum {
	uint64_t bytes;
	uint64_t objects;
};

static int add_usage(void *arg, const char *key,
		     const struct vkdr_object_info *info)
{
	struct usage_sum *sum = arg;

	sum->bytes += info->size;
	sum->objects++;
	return 0;
}

static int s3_usage(void *state, uint64_t *bytes, uint64_t *objects)
{
	struct usage_sum sum = { 0 };
	int rc = s3_walk(state, "", add_usage, &sum);

	if (rc < 0)
		return rc;
	*bytes = sum.bytes;
	*objects = sum.objects;
	return 0;
}

/* ---- Redirects --------------------------------------------------------- */

/* The Host header a client sends for the endpoint: no default port. */
static void endpoint_host(const struct s3_store *st, char *out, size_t len)
{
	bool tls = !strncmp(st->endpoint, "https://", 8);
	const char *host = strstr(st->endpoint, "://") + 3;
	size_t hlen = strcspn(host, "/");
	const char *dflt = tls ? ":443" : ":80";
	size_t dlen = strlen(dflt);

	if (hlen > dlen && !strncmp(host + hlen - dlen, dflt, dlen))
		hlen -= dlen;
	snprintf(out, len, "%s%s%.*s", st->path_style ? "" : st->bucket,
		 st->path_style ? "" : ".", (int)hlen, host);
}

static int s3_redirect_url(void *state, const char *key, unsigned ttl,
			   char *url, size_t urllen)
{
	struct s3_store *st = state;
	char host[512], path[2048], query[8192];
	struct s3_presign p;
	int n, rc;

	struct vkdr_object_info info;

	if (!st->redirect)
		return -ENOTSUP;
	if (!backend_key_valid(key))
		return -EINVAL;
	/* A blob the local tier holds is served from there, never sent away. */
	if (st->tier && tier_wants(key) && tier_stat(st->tier, key, &info) == 0)
		return -ENOTSUP;
	endpoint_host(st, host, sizeof(host));
	if (st->path_style)
		n = snprintf(path, sizeof(path), "/%s/%s%s", st->bucket,
			     st->prefix, key);
	else
		n = snprintf(path, sizeof(path), "/%s%s", st->prefix, key);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	p = (struct s3_presign){
		.host = host,
		.path = path,
		.region = st->region,
		.access_key = st->access_key,
		.secret_key = st->secret_key,
		.token = st->token,
		.now = time(NULL),
		.ttl = ttl,
	};
	rc = s3_presign_query(&p, query, sizeof(query));
	if (rc < 0)
		return rc;
	n = snprintf(url, urllen, "%.*s%s%s?%s",
		     (int)(strstr(st->endpoint, "://") + 3 - st->endpoint),
		     st->endpoint, host, path, query);
	return n < 0 || (size_t)n >= urllen ? -ENAMETOOLONG : 0;
}

static const struct vkdr_storage_ops s3_ops = {
	.version = VKDR_STORAGE_OPS_VERSION,
	.open = s3_open,
	.close = s3_close,
	.stat = s3_stat,
	.get = s3_get,
	.read = s3_read,
	.release = s3_release,
	.put_begin = s3_put_begin,
	.put_write = s3_put_write,
	.put_commit = s3_put_commit,
	.put_abort = s3_put_abort,
	.remove = s3_remove,
	.walk = s3_walk,
	.trim = NULL,
	.usage = s3_usage,
	.redirect_url = s3_redirect_url,
};

/*
 * The core initialises libcurl too, but a module may be loaded by another
 * program (the unit tests' mock host); the calls are counted, so pairing
 * them here is safe either way.
 */
static int s3_init(const struct vkdr_host *host)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
}

static void s3_fini(void)
{
	curl_global_cleanup();
}

static const struct vkdr_module s3_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_STORAGE,
	.name = "s3",
	.version = PACKAGE_VERSION,
	.description = "cache in an S3 bucket (AWS S3, MinIO, Ceph RGW)",
	.ops = &s3_ops,
	.init = s3_init,
	.fini = s3_fini,
};

VKDR_MODULE_DEFINE(s3_module);
