/*
 * vkdrplugin.c - the token flow shared by the bundled registry plugins.
 *
 * See vkdrplugin.h. The rules that matter for safety live here, once: a
 * token request goes to the realm's host and nowhere else, credentials are
 * never sent over plain http when the upstream itself is https, and a
 * refusal from the token endpoint is reported as -EACCES so the daemon does
 * not ask again in a loop.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vkdrplugin.h"

/* Longest token URL or form body a plugin builds. */
#define URL_MAX 4096

static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int plugin_url_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (is_unreserved(*p)) {
			if (n + 1 >= outlen)
				return -ENAMETOOLONG;
			out[n++] = (char)*p;
			continue;
		}
		if (n + 3 >= outlen)
			return -ENAMETOOLONG;
		out[n++] = '%';
		out[n++] = hex[*p >> 4];
		out[n++] = hex[*p & 15];
	}
	if (n >= outlen)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

int plugin_query_append(char *buf, size_t buflen, char sep, const char *key,
			const char *value)
{
	size_t used = strlen(buf), keylen = strlen(key);
	size_t need = used + (sep ? 1 : 0) + keylen + 1;
	char *p;

	if (need >= buflen)
		return -ENAMETOOLONG;
	p = buf + used;
	if (sep)
		*p++ = sep;
	memcpy(p, key, keylen);
	p += keylen;
	*p++ = '=';
	if (plugin_url_encode(value, p, buflen - need) < 0) {
		buf[used] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int plugin_base64_encode(const void *in, size_t len, char *out,
			 size_t outlen)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	const unsigned char *p = in;
	size_t n = 0;

	if ((len + 2) / 3 * 4 + 1 > outlen)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[n++] = alphabet[(v >> 18) & 63];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[n] = '\0';
	return 0;
}

int plugin_pull_scope(const char *repository, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "repository:%s:pull", repository);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int plugin_basic_authorization(const char *username, const char *password,
			       struct vkdr_auth_result *result)
{
	char pair[2048];
	int n;

	n = snprintf(pair, sizeof(pair), "%s:%s", username, password);
	if (n < 0 || (size_t)n >= sizeof(pair))
		return -ENAMETOOLONG;
	memcpy(result->authorization, "Basic ", 6);
	n = plugin_base64_encode(pair, (size_t)n, result->authorization + 6,
				 sizeof(result->authorization) - 6);
	explicit_bzero(pair, sizeof(pair));
	if (n < 0)
		return n;
	result->expires_in = PLUGIN_BASIC_EXPIRES;
	return 0;
}

/* A token goes into a header: refuse anything that could break the line. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int plugin_token_parse(const char *body, struct vkdr_auth_result *result)
{
	const char *token = NULL;
	json_t *root, *v;
	int rc = 0;

	root = json_loads(body ? body : "", 0, NULL);
	if (!root || !json_is_object(root)) {
		rc = -EBADMSG;
		goto out_free_root;
	}

	v = json_object_get(root, "token");
	if (json_is_string(v) && json_string_length(v))
		token = json_string_value(v);
	v = json_object_get(root, "access_token");
	if (!token && json_is_string(v) && json_string_length(v))
		token = json_string_value(v);
	if (!token || !header_safe(token)) {
		rc = -EBADMSG;
		goto out_free_root;
	}
	if (strlen(token) + 8 > sizeof(result->authorization)) {
		rc = -EMSGSIZE;
		goto out_free_root;
	}
	snprintf(result->authorization, sizeof(result->authorization),
		 "Bearer %s", token);

	result->expires_in = PLUGIN_DEFAULT_EXPIRES;
	v = json_object_get(root, "expires_in");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= 86400 * 365)
		result->expires_in = (unsigned)json_integer_value(v);

out_free_root:
	json_decref(root);
	return rc;
}

/*
 * True when URL is an http(s) URL whose authority carries no user
 * information and which has no fragment or blank: appending a query to it
 * then cannot change the host the request goes to. *HTTPS tells which.
 */
static bool realm_usable(const char *url, bool *https)
{
	const char *auth, *end;

	if (strncasecmp(url, "https://", 8) == 0) {
		*https = true;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*https = false;
		auth = url + 7;
	} else {
		return false;
	}
	end = auth + strcspn(auth, "/?#");
	if (end == auth || memchr(auth, '@', (size_t)(end - auth)))
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#' ||
		    *p == '\\')
			return false;
	return true;
}

/*
 * Add every space-separated scope in SCOPES as its own scope= parameter,
 * the first preceded by *SEP, the others by '&'.
 */
static int append_scopes(char *url, size_t len, char *sep,
			 const char *scopes)
{
	char one[1024];
	const char *p = scopes;
	int rc;

	for (;;) {
		size_t n;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (!n)
			return 0;
		if (n >= sizeof(one))
			return -ENAMETOOLONG;
		memcpy(one, p, n);
		one[n] = '\0';
		rc = plugin_query_append(url, len, *sep, "scope", one);
		if (rc < 0)
			return rc;
		*sep = '&';
		p += n;
	}
}

static int build_token_url(const struct plugin_token_request *treq,
			   char *url, size_t len)
{
	char sep = strchr(treq->realm, '?') ? '&' : '?';
	int n, rc;

	n = snprintf(url, len, "%s", treq->realm);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (treq->form)
		return 0;
	if (treq->service && *treq->service) {
		rc = plugin_query_append(url, len, sep, "service",
					 treq->service);
		if (rc < 0)
			return rc;
		sep = '&';
	}
	if (treq->scope)
		return append_scopes(url, len, &sep, treq->scope);
	return 0;
}

int plugin_token_fetch(const struct vkdr_host *host,
		       const struct plugin_token_request *treq,
		       struct vkdr_auth_result *result)
{
	static const char *const form_headers[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL,
	};
	static const char *const get_headers[] = {
		"Accept: application/json",
		NULL,
	};
	struct vkdr_http_response resp;
	struct vkdr_http_request hreq;
	bool realm_https;
	char url[URL_MAX];
	int rc;

	if (!treq->realm || !realm_usable(treq->realm, &realm_https)) {
		vkdr_log_warn(host, treq->module,
			      "refusing token realm '%s': not a plain http(s) "
			      "URL", treq->realm ? treq->realm : "");
		return -EPROTO;
	}
	if (treq->username && !realm_https && treq->base_url &&
	    strncasecmp(treq->base_url, "https://", 8) == 0) {
		vkdr_log_warn(host, treq->module,
			      "refusing to send credentials over plain http "
			      "to %s (the upstream is https)", treq->realm);
		return -EPROTO;
	}
	rc = build_token_url(treq, url, sizeof(url));
	if (rc < 0)
		return rc;

	memset(&hreq, 0, sizeof(hreq));
	hreq.url = url;
	hreq.username = treq->username;
	hreq.password = treq->username ? treq->password : NULL;
	if (treq->form) {
		hreq.method = "POST";
		hreq.headers = form_headers;
		hreq.body = treq->form;
		hreq.body_len = strlen(treq->form);
	} else {
		hreq.method = "GET";
		hreq.headers = get_headers;
	}

	rc = host->http(&hreq, &resp);
	if (rc < 0) {
		vkdr_log_warn(host, treq->module, "token request to %s: %s",
			      treq->realm, strerror(-rc));
		return rc;
	}

	if (resp.status == 401 || resp.status == 403) {
		vkdr_log_warn(host, treq->module,
			      "token endpoint %s refused %s (HTTP %ld)",
			      treq->realm,
			      treq->username || treq->form
				      ? "the configured credentials"
				      : "anonymous access",
			      resp.status);
		rc = -EACCES;
	} else if (resp.status >= 300 && resp.status < 400) {
		vkdr_log_warn(host, treq->module,
			      "token endpoint %s answered a redirect (HTTP "
			      "%ld), which is not followed",
			      treq->realm, resp.status);
		rc = -EPROTO;
	} else if (resp.status != 200) {
		vkdr_log_warn(host, treq->module,
			      "token endpoint %s answered HTTP %ld",
			      treq->realm, resp.status);
		rc = -EIO;
	} else {
		rc = plugin_token_parse(resp.body, result);
		if (rc < 0)
			vkdr_log_warn(host, treq->module,
				      "token endpoint %s answered no usable "
				      "token", treq->realm);
	}

	host->free(resp.body);
	host->free(resp.headers);
	return rc;
}

bool plugin_challenge_offers(const char *challenge, const char *scheme)
{
	size_t len = strlen(scheme);
	const char *p = challenge;
	bool in_quotes = false, at_start = true;

	if (!challenge)
		return false;
	/* A scheme is a token at the start or after a comma, not quoted. */
	for (; *p; p++) {
		if (in_quotes) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_quotes = false;
			continue;
		}
		if (*p == '"') {
			in_quotes = true;
			at_start = false;
		} else if (*p == ',') {
			at_start = true;
		} else if (*p == ' ' || *p == '\t') {
			continue;
		} else if (at_start) {
			if (strncasecmp(p, scheme, len) == 0 &&
			    (!p[len] || p[len] == ' ' || p[len] == ',' ||
			     p[len] == '\t'))
				return true;
			at_start = false;
		}
	}
	return false;
}

static int authorize_bearer(const struct vkdr_host *host,
			    const struct plugin_bearer *how,
			    const struct vkdr_auth_request *req,
			    struct vkdr_auth_result *result)
{
	struct plugin_token_request treq;
	char realm[1024], service[256], scope[1024];
	const char *ch = req->challenge;
	int rc;

	if (host->challenge_param(ch, "Bearer", "realm", realm,
				  sizeof(realm)) < 0) {
		if (!how->default_realm)
			return -ENOTSUP;
		snprintf(realm, sizeof(realm), "%s", how->default_realm);
	}
	if (host->challenge_param(ch, "Bearer", "service", service,
				  sizeof(service)) < 0)
		snprintf(service, sizeof(service), "%s",
			 how->default_service ? how->default_service : "");

	rc = -ENOENT;
	if (how->scope_rule == PLUGIN_SCOPE_FROM_CHALLENGE)
		rc = host->challenge_param(ch, "Bearer", "scope", scope,
					   sizeof(scope));
	if (rc < 0 || !*scope) {
		if (!req->repository || !*req->repository)
			return -ENOTSUP;
		rc = plugin_pull_scope(req->repository, scope, sizeof(scope));
		if (rc < 0)
			return rc;
	}

	memset(&treq, 0, sizeof(treq));
	treq.module = how->module;
	treq.realm = realm;
	treq.service = service;
	treq.scope = scope;
	treq.username = req->username;
	treq.password = req->password;
	treq.base_url = req->base_url;
	return plugin_token_fetch(host, &treq, result);
}

int plugin_authorize(const struct vkdr_host *host,
		     const struct plugin_bearer *how,
		     const struct vkdr_auth_request *req,
		     struct vkdr_auth_result *result)
{
	if (plugin_challenge_offers(req->challenge, "Bearer"))
		return authorize_bearer(host, how, req, result);
	if (plugin_challenge_offers(req->challenge, "Basic")) {
		if (!req->username || !req->password) {
			vkdr_log_warn(host, how->module,
				      "%s asks for a password and none is "
				      "configured", req->registry);
			return -EACCES;
		}
		return plugin_basic_authorization(req->username,
						  req->password, result);
	}
	return -ENOTSUP;
}

int plugin_resolve_default(const char *registry, const char *configured,
			   struct vkdr_upstream *out)
{
	size_t len;
	int n;

	if (configured && *configured)
		n = snprintf(out->base_url, sizeof(out->base_url), "%s",
			     configured);
	else if (!registry || !*registry || strchr(registry, '*'))
		return -EINVAL;
	else
		n = snprintf(out->base_url, sizeof(out->base_url),
			     "https://%s", registry);
	if (n < 0 || (size_t)n >= sizeof(out->base_url))
		return -ENAMETOOLONG;
	len = strlen(out->base_url);
	while (len > 0 && out->base_url[len - 1] == '/')
		out->base_url[--len] = '\0';
	return 0;
}
