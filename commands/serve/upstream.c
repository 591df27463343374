/*
 * upstream.c - libcurl requests to remote registries, with the token
 * cache and manual redirects.
 *
 * Each request uses its own easy handle attached to one share handle, so
 * connections, DNS answers and TLS sessions are pooled across threads.
 * Redirects are not left to libcurl: a blob GET is usually sent to a CDN
 * or a presigned URL, and such hosts must never see the registry's
 * Authorization header. Tokens are therefore cached per origin (scheme,
 * host and port) and repository, and a request carries only the token of
 * the origin it goes to.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "upstream.h"

#define MOD "serve"
#define CONNECT_TIMEOUT_MS 5000L
#define STALL_SECONDS 30L
#define MAX_HOPS 6
/* A token is dropped this long before the registry says it expires. */
#define TOKEN_MARGIN_MS 10000
#define CHALLENGE_MAX 4096
/*
 * libcurl's receive buffer. Its default, 16 KiB, turns a 256 MiB blob into
 * sixteen thousand rounds of spool write, store write and reader wake-up;
 * larger reads cut that overhead, which dominates a cold pull over a fast
 * link, at the price of this much memory per transfer in progress.
 */
#define RECEIVE_BUFFER (512L * 1024)

struct token {
	struct token *next;
	char *key;		/* origin '\n' repository */
	char *value;		/* the Authorization value, or NULL */
	int64_t expires_ms;	/* monotonic */
	bool fetching;
};

struct upstream {
	const struct vkdr_host *host;
	struct metrics *metrics;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct token *tokens;
	bool cancelled;
	/* Seconds under a byte per second before a transfer is dropped. */
	long stall_seconds;
};

/* One attempt: one request, one response. */
struct transfer {
	struct upstream *u;
	const struct upstream_target *target;
	struct upstream_call *call;
	struct upstream_head head;
	char challenge[CHALLENGE_MAX];
	bool head_delivered;
	bool aborted;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
		       void *arg)
{
	struct upstream *u = arg;

	pthread_mutex_lock(&u->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct upstream *u = arg;

	pthread_mutex_unlock(&u->share_locks[data]);
}

int upstream_init(const struct vkdr_host *host, struct metrics *metrics,
		  struct upstream **out)
{
	struct upstream *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->host = host;
	u->metrics = metrics;
	u->stall_seconds = STALL_SECONDS;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&u->share_locks[i], NULL);
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);

	u->share = curl_share_init();
	if (!u->share) {
		upstream_free(u);
		return -ENOMEM;
	}
	curl_share_setopt(u->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(u->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(u->share, CURLSHOPT_USERDATA, u);
	curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(u->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	*out = u;
	return 0;
}

void upstream_set_stall_timeout(struct upstream *u, unsigned seconds)
{
	u->stall_seconds = seconds ? (long)seconds : STALL_SECONDS;
}

void upstream_free(struct upstream *u)
{
	struct token *t, *next;

	if (!u)
		return;
	if (u->share)
		curl_share_cleanup(u->share);
	for (t = u->tokens; t; t = next) {
		next = t->next;
		free(t->key);
		free(t->value);
		free(t);
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&u->share_locks[i]);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

void upstream_cancel_all(struct upstream *u)
{
	__atomic_store_n(&u->cancelled, true, __ATOMIC_RELEASE);
}

/*
 * "scheme://host:port" of URL, the unit tokens are bound to. Returns 0 or
 * -EINVAL.
 */
static int origin_of(const char *url, char *out, size_t outlen)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *h = curl_url();
	int rc = -EINVAL;

	if (!h)
		return -ENOMEM;
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		    CURLUE_OK)
		goto out_free_parts;
	if (snprintf(out, outlen, "%s://%s:%s", scheme, host, port) <
	    (int)outlen)
		rc = 0;

out_free_parts:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	return rc;
}

static struct token *token_entry(struct upstream *u, const char *key)
{
	struct token *t;

	for (t = u->tokens; t; t = t->next)
		if (strcmp(t->key, key) == 0)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->key = strdup(key);
	if (!t->key) {
		free(t);
		return NULL;
	}
	t->next = u->tokens;
	u->tokens = t;
	return t;
}

static bool token_usable(const struct token *t, const char *refused)
{
	return t->value && now_ms() < t->expires_ms &&
	       (!refused || strcmp(t->value, refused) != 0);
}

/* The cached Authorization for KEY, copied (free it), or NULL. */
static char *token_cached(struct upstream *u, const char *key)
{
	char *value = NULL;
	struct token *t;

	pthread_mutex_lock(&u->lock);
	for (t = u->tokens; t; t = t->next)
		if (strcmp(t->key, key) == 0)
			break;
	if (t && token_usable(t, NULL))
		value = strdup(t->value);
	pthread_mutex_unlock(&u->lock);
	return value;
}

/*
 * Ask the plugin for an Authorization answering CHALLENGE. REFUSED is the
 * value the upstream just rejected (NULL if none was sent): a cached value
 * equal to it is not good enough. Concurrent callers for the same KEY wait
 * for the first one's answer instead of fetching their own. The configured
 * credentials are handed to the plugin only when OWN_ORIGIN says the
 * challenge comes from the upstream itself: a host the upstream redirected
 * to (a CDN, a storage service) names its own realm, and the registry's
 * password must not travel there. Returns 0 with *OUT (free it) or a
 * negative errno.
 */
static int token_obtain(struct upstream *u, const struct upstream_target *t,
			const char *base_url, bool own_origin, const char *key,
			const char *challenge, const char *refused, char **out)
{
	struct vkdr_auth_result *result;
	struct vkdr_auth_request req;
	char *user = NULL, *pass = NULL;
	struct token *e;
	int64_t ttl_ms;
	int rc;

	pthread_mutex_lock(&u->lock);
	e = token_entry(u, key);
	if (!e) {
		pthread_mutex_unlock(&u->lock);
		return -ENOMEM;
	}
	for (;;) {
		if (token_usable(e, refused)) {
			*out = strdup(e->value);
			pthread_mutex_unlock(&u->lock);
			return *out ? 0 : -ENOMEM;
		}
		if (!e->fetching)
			break;
		pthread_cond_wait(&u->cond, &u->lock);
	}
	e->fetching = true;
	pthread_mutex_unlock(&u->lock);

	result = calloc(1, sizeof(*result));
	if (!result) {
		rc = -ENOMEM;
		goto out_done;
	}
	if (!own_origin ||
	    u->host->credentials_find(t->registry, &user, &pass) < 0)
		user = pass = NULL;
	req = (struct vkdr_auth_request){
		.registry = t->registry,
		.base_url = base_url,
		.repository = t->repository,
		.challenge = challenge,
		.username = user,
		.password = pass,
	};
	rc = t->plugin->authorize(u->host, &req, result);
	if (user)
		u->host->free(user);
	if (pass)
		u->host->free(pass);
	if (rc == 0 && !(*out = strdup(result->authorization)))
		rc = -ENOMEM;

out_done:
	pthread_mutex_lock(&u->lock);
	e->fetching = false;
	if (rc == 0) {
		ttl_ms = (int64_t)(result->expires_in ? result->expires_in
						      : 60) * 1000;
		ttl_ms -= ttl_ms > 2 * TOKEN_MARGIN_MS ? TOKEN_MARGIN_MS
						       : ttl_ms / 2;
		free(e->value);
		e->value = strdup(*out);
		e->expires_ms = now_ms() + ttl_ms;
	}
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	free(result);
	return rc;
}

static void trim_line(const char *buf, size_t len, char *out, size_t outlen)
{
	while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n' ||
		       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	while (len && (*buf == ' ' || *buf == '\t')) {
		buf++;
		len--;
	}
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, buf, len);
	out[len] = '\0';
}

static void reset_head(struct transfer *tr, long status)
{
	memset(&tr->head, 0, sizeof(tr->head));
	tr->head.status = status;
	tr->head.content_length = -1;
	tr->challenge[0] = '\0';
}

static bool is_success(long status)
{
	return status >= 200 && status < 300;
}

static void note_header(struct transfer *tr, const char *name,
			const char *value)
{
	struct upstream_head *h = &tr->head;
	size_t have;

	if (strcasecmp(name, "content-length") == 0) {
		char *end;
		long long n = strtoll(value, &end, 10);

		if (end != value && *end == '\0' && n >= 0)
			h->content_length = n;
	} else if (strcasecmp(name, "content-type") == 0) {
		snprintf(h->content_type, sizeof(h->content_type), "%s", value);
	} else if (strcasecmp(name, "docker-content-digest") == 0) {
		snprintf(h->digest, sizeof(h->digest), "%s", value);
	} else if (strcasecmp(name, "retry-after") == 0) {
		snprintf(h->retry_after, sizeof(h->retry_after), "%s", value);
	} else if (strcasecmp(name, "link") == 0) {
		snprintf(h->link, sizeof(h->link), "%s", value);
	} else if (strcasecmp(name, "www-authenticate") == 0) {
		/* Several challenge headers form one list. */
		have = strlen(tr->challenge);
		snprintf(tr->challenge + have, sizeof(tr->challenge) - have,
			 "%s%s", have ? ", " : "", value);
	}
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct transfer *tr = arg;
	size_t len = size * nmemb;
	char line[2048], *colon;
	const struct vkdr_registry_ops *plugin = tr->target->plugin;

	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);

		reset_head(tr, sp ? strtol(sp + 1, NULL, 10) : 0);
		return len;
	}
	trim_line(buf, len, line, sizeof(line));
	if (line[0] == '\0') {
		/* The end of one response's headers. */
		if (is_success(tr->head.status) && !tr->head_delivered &&
		    tr->call->on_head) {
			tr->head_delivered = true;
			if (tr->call->on_head(tr->call->arg, &tr->head)) {
				tr->aborted = true;
				return 0;
			}
		}
		return len;
	}
	colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	colon++;
	while (*colon == ' ' || *colon == '\t')
		colon++;
	note_header(tr, line, colon);
	if (plugin && plugin->observe_header)
		plugin->observe_header(tr->u->host, tr->target->registry, line,
				       colon);
	return len;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct transfer *tr = arg;
	size_t len = size * nmemb;

	if (!is_success(tr->head.status))
		return len;
	metrics_add(&tr->u->metrics->upstream_bytes, len);
	if (tr->call->on_body && tr->call->on_body(tr->call->arg, buf, len)) {
		tr->aborted = true;
		return 0;
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer *tr = arg;

	if (__atomic_load_n(&tr->u->cancelled, __ATOMIC_ACQUIRE))
		return 1;
	if (tr->call->on_progress && is_success(tr->head.status) &&
	    tr->call->on_progress(tr->call->arg)) {
		tr->aborted = true;
		return 1;
	}
	return 0;
}

static int errno_of(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

/*
 * One request to URL, carrying AUTHORIZATION when non-NULL. On 0, TR
 * holds the answer and, for a redirect, *LOCATION the absolute target
 * (free it).
 */
static int perform(struct transfer *tr, const char *url,
		   const char *authorization, char **location)
{
	struct upstream_call *c = tr->call;
	struct curl_slist *headers = NULL, *n;
	char line[8400];
	char *redirect = NULL;
	CURLcode cc;
	CURL *h;
	int rc = 0;

	*location = NULL;
	reset_head(tr, 0);
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, tr->u->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, RECEIVE_BUFFER);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, tr->u->stall_seconds);
	if (c->timeout_ms)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "vkdr-mirror/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, tr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, tr);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, tr);
	if (strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);

	if (c->accept && *c->accept) {
		snprintf(line, sizeof(line), "Accept: %s", c->accept);
		if (!(n = curl_slist_append(headers, line)))
			goto out_nomem;
		headers = n;
	}
	if (authorization) {
		snprintf(line, sizeof(line), "Authorization: %s",
			 authorization);
		if (!(n = curl_slist_append(headers, line)))
			goto out_nomem;
		headers = n;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

	metrics_add(&tr->u->metrics->upstream_requests, 1);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = tr->aborted ? -ECANCELED : errno_of(cc);
		if (rc != -ECANCELED)
			metrics_add(&tr->u->metrics->upstream_errors, 1);
		goto out_free_headers;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &tr->head.status);
	if (tr->head.status >= 300 && tr->head.status < 400 &&
	    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect) ==
		    CURLE_OK &&
	    redirect && !(*location = strdup(redirect)))
		rc = -ENOMEM;
	goto out_free_headers;

out_nomem:
	rc = -ENOMEM;
out_free_headers:
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return rc;
}

int upstream_fetch(struct upstream *u, const struct upstream_target *target,
		   struct upstream_call *call)
{
	struct transfer *tr;
	char origin[600], base_origin[600], next_origin[600], key[1200];
	char *url, *auth = NULL, *fresh = NULL, *location = NULL;
	bool retried_auth = false, own;
	int64_t start = now_ms();
	int rc = -EIO;

	if (__atomic_load_n(&u->cancelled, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->u = u;
	tr->target = target;
	tr->call = call;
	if (asprintf(&url, "%s%s", target->base_url, call->path) < 0) {
		free(tr);
		return -ENOMEM;
	}

	if (origin_of(url, base_origin, sizeof(base_origin)) < 0)
		base_origin[0] = '\0';
	for (int hop = 0; hop < MAX_HOPS; hop++) {
		rc = origin_of(url, origin, sizeof(origin));
		if (rc < 0)
			break;
		snprintf(key, sizeof(key), "%s\n%s", origin,
			 target->repository);
		free(auth);
		auth = token_cached(u, key);

		rc = perform(tr, url, auth, &location);
		if (rc < 0)
			break;
		if (location) {
			/*
			 * Another origin has a challenge of its own to be
			 * answered once, even if the upstream's was.
			 */
			if (origin_of(location, next_origin,
				      sizeof(next_origin)) < 0 ||
			    strcmp(next_origin, origin) != 0)
				retried_auth = false;
			free(url);
			url = location;
			location = NULL;
			continue;
		}
		if (tr->head.status != 401)
			break;

		/*
		 * One fresh token per origin and request: a second 401
		 * means the credentials do not reach this repository, and
		 * asking again would only loop.
		 */
		if (retried_auth || !target->plugin || !tr->challenge[0]) {
			rc = -EACCES;
			break;
		}
		retried_auth = true;
		/*
		 * The plugin sees the configured base URL and the credentials
		 * for the upstream itself, and the bare origin and no
		 * credentials for a host it redirected to.
		 */
		own = strcmp(origin, base_origin) == 0;
		rc = token_obtain(u, target, own ? target->base_url : origin,
				  own, key, tr->challenge, auth, &fresh);
		if (rc < 0) {
			vkdr_log_warn(u->host, MOD,
				      "%s: no token for %s: %s",
				      target->registry, target->repository,
				      strerror(-rc));
			rc = -EACCES;
			break;
		}
		/* The next round finds the fresh value in the cache. */
		free(fresh);
		fresh = NULL;
	}
	if (rc == 0 && location == NULL && tr->head.status >= 300 &&
	    tr->head.status < 400)
		rc = -EIO;

	call->head = tr->head;
	call->elapsed_ms = (long)(now_ms() - start);
	free(location);
	free(auth);
	free(url);
	free(tr);
	return rc;
}
