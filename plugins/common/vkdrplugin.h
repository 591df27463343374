/*
 * vkdrplugin.h - what the bundled registry plugins share.
 *
 * The Docker token flow is the same for Docker Hub, GHCR, ECR Public, ACR
 * and most other registries: read the Bearer challenge, ask the realm for
 * a token with a service and a scope, and read "token" or "access_token"
 * from the JSON answer. This small static library does that once; each
 * plugin links its own copy (it is a convenience library), so nothing here
 * is exported from a module and no plugin depends on another.
 *
 * Every function returns 0 or a negative errno. Nothing allocates memory
 * the caller must free.
 */
#ifndef VKDR_PLUGIN_COMMON_H
#define VKDR_PLUGIN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <vkdr/module.h>

/* Seconds a token is trusted when the token endpoint does not say. */
#define PLUGIN_DEFAULT_EXPIRES 60

/* Seconds a Basic authorization is cached: it never expires upstream. */
#define PLUGIN_BASIC_EXPIRES 300

/*
 * Percent-encode IN for a query string or a form body (RFC 3986
 * unreserved characters stay as they are). -ENAMETOOLONG when OUT is too
 * small.
 */
int plugin_url_encode(const char *in, char *out, size_t outlen);

/*
 * Append "KEY=VALUE" (VALUE percent-encoded) to the URL or form in BUF,
 * preceded by SEP ('?' or '&') unless SEP is '\0'. -ENAMETOOLONG when BUF
 * is too small; BUF is then unchanged.
 */
int plugin_query_append(char *buf, size_t buflen, char sep, const char *key,
			const char *value);

/* Standard base64 of LEN bytes at IN; -ENAMETOOLONG when OUT is too small. */
int plugin_base64_encode(const void *in, size_t len, char *out,
			 size_t outlen);

/* "repository:REPOSITORY:pull", the scope a mirror needs. */
int plugin_pull_scope(const char *repository, char *out, size_t outlen);

/*
 * Fill RESULT with "Basic base64(USERNAME:PASSWORD)". -ENAMETOOLONG when
 * the credentials do not fit.
 */
int plugin_basic_authorization(const char *username, const char *password,
			       struct vkdr_auth_result *result);

/*
 * Read a token endpoint's JSON answer into RESULT: "Bearer " + "token" (or
 * "access_token" when "token" is missing), and "expires_in" (default
 * PLUGIN_DEFAULT_EXPIRES). -EBADMSG when BODY is not such an answer.
 */
int plugin_token_parse(const char *body, struct vkdr_auth_result *result);

/* One request to a token endpoint. */
struct plugin_token_request {
	const char *module;	/* name used in log lines */
	const char *realm;	/* token endpoint URL, from the challenge */
	const char *service;	/* NULL to leave it out */
	const char *scope;	/* space-separated scopes; NULL for none */
	const char *username;	/* Basic auth to the realm, or NULL */
	const char *password;
	/*
	 * When non-NULL, POST this application/x-www-form-urlencoded body to
	 * the realm as it is, instead of a GET with service and scope.
	 */
	const char *form;
	/* The upstream's base URL: credentials never leave https for http. */
	const char *base_url;
};

/*
 * Ask a token endpoint for a token and fill RESULT. The request goes to
 * the realm's host only: the realm must be an http(s) URL without user
 * information, and redirects are not followed. Returns 0; -EACCES when the
 * endpoint refused (401 or 403), so that the caller does not retry;
 * -EPROTO for a realm that cannot be used safely or a redirect; -EBADMSG
 * for an answer that is not a token; -EIO for any other status; or the
 * host's HTTP error.
 */
int plugin_token_fetch(const struct vkdr_host *host,
		       const struct plugin_token_request *treq,
		       struct vkdr_auth_result *result);

/* Where a plugin's token scope comes from. */
enum plugin_scope_rule {
	/* The challenge's scope; "repository:NAME:pull" when it has none. */
	PLUGIN_SCOPE_FROM_CHALLENGE,
	/* Always "repository:NAME:pull" (the challenge's scope is not one). */
	PLUGIN_SCOPE_REPOSITORY,
};

/* How one plugin answers challenges. */
struct plugin_bearer {
	const char *module;		/* name used in log lines */
	enum plugin_scope_rule scope_rule;
	const char *default_realm;	/* when the challenge has none */
	const char *default_service;	/* when the challenge has none */
};

/*
 * True when the WWW-Authenticate value CHALLENGE offers SCHEME ("Basic"),
 * compared case-insensitively.
 */
bool plugin_challenge_offers(const char *challenge, const char *scheme);

/*
 * Answer a 401 the usual way: a Bearer challenge with a token from its
 * realm (Basic auth to the realm when REQ carries credentials), or a Basic
 * challenge with REQ's credentials. Returns what registry_ops.authorize
 * must return: 0, -EACCES (refused, or Basic without credentials),
 * -ENOTSUP (no challenge it can answer), or another negative errno.
 */
int plugin_authorize(const struct vkdr_host *host,
		     const struct plugin_bearer *how,
		     const struct vkdr_auth_request *req,
		     struct vkdr_auth_result *result);

/*
 * The usual resolve(): CONFIGURED when set, otherwise "https://REGISTRY",
 * without a trailing slash. -EINVAL for a wildcard REGISTRY,
 * -ENAMETOOLONG when it does not fit.
 */
int plugin_resolve_default(const char *registry, const char *configured,
			   struct vkdr_upstream *out);

#endif
