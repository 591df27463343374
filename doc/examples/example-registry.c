/*
 * example-registry.c - a complete third-party registry plugin in one file.
 *
 * It serves the made-up registry "registry.example.test" and gets into it
 * the way most registries want: on a 401 it reads the Bearer challenge,
 * asks the challenge's realm for an anonymous token for the repository,
 * and hands the token back to vkdr, which caches it and retries.
 *
 * Build it against the installed header and drop it where vkdr looks:
 *
 *   cc -shared -fPIC $(pkg-config --cflags vkdr-module) \
 *      -o example.so example-registry.c
 *   mkdir -p ~/.vkdr/plugins && cp example.so ~/.vkdr/plugins/
 *   vkdr mirror plugins
 *
 * A plugin links against nothing of vkdr: everything it needs (logging,
 * HTTP, challenge parsing) comes through the struct vkdr_host pointer it
 * is given. It exports one symbol, vkdr_module_entry(), which
 * VKDR_MODULE_DEFINE writes. Everything else is static.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vkdr/module.h>

#define EXAMPLE_NAME "example"
#define EXAMPLE_HOST "registry.example.test"

/* The hosts this plugin serves; the most specific claim wins. */
static const char *const example_claims[] = { EXAMPLE_HOST, NULL };

/* Where pulls go: the user's --upstream, or the registry itself. */
static int example_resolve(const struct vkdr_host *host,
			   const char *registry, const char *configured,
			   struct vkdr_upstream *out)
{
	int n;

	(void)host;	/* unused: one registry, no logging needed */
	(void)registry;
	if (configured)
		n = snprintf(out->base_url, sizeof(out->base_url), "%s",
			     configured);
	else
		n = snprintf(out->base_url, sizeof(out->base_url),
			     "https://%s", EXAMPLE_HOST);
	return n < 0 || (size_t)n >= sizeof(out->base_url) ? -ENAMETOOLONG
							    : 0;
}

/* Percent-encode IN onto the end of OUT (a query parameter's value). */
static int append_encoded(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(out);

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			if (n + 2 > outlen)
				return -ENAMETOOLONG;
			out[n++] = (char)*p;
		} else {
			if (n + 4 > outlen)
				return -ENAMETOOLONG;
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

/*
 * Copy the JSON string value of KEY in BODY to OUT. This is deliberately
 * small: token endpoints answer a flat object whose tokens are base64url
 * or JWTs, which need no escapes. A real plugin may link a JSON library.
 */
static int json_string(const char *body, const char *key, char *out,
		       size_t outlen)
{
	char quoted[64];
	const char *p, *end;

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	p = strstr(body, quoted);
	if (!p)
		return -ENOENT;
	p += strlen(quoted);
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return -EBADMSG;
	p += strspn(p, " \t\r\n");
	if (*p++ != '"')
		return -EBADMSG;
	end = strchr(p, '"');
	if (!end || end == p || memchr(p, '\\', (size_t)(end - p)))
		return -EBADMSG;
	if ((size_t)(end - p) >= outlen)
		return -EMSGSIZE;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

/*
 * Answer a 401: anonymous token from the challenge's realm. The request
 * goes to the realm only (vkdr's HTTP client follows no redirects), and
 * a refusal is -EACCES so that vkdr does not ask again in a loop.
 */
static int example_authorize(const struct vkdr_host *host,
			     const struct vkdr_auth_request *req,
			     struct vkdr_auth_result *result)
{
	char realm[512], service[256], scope[512], url[2048];
	char token[sizeof(result->authorization) - 8];
	struct vkdr_http_request hreq = { .method = "GET", .url = url };
	struct vkdr_http_response resp;
	int rc;

	if (host->challenge_param(req->challenge, "Bearer", "realm", realm,
				  sizeof(realm)) < 0)
		return -ENOTSUP;
	if (strncmp(realm, "https://", 8) != 0 &&
	    strncmp(realm, "http://", 7) != 0)
		return -ENOTSUP;
	if (host->challenge_param(req->challenge, "Bearer", "service",
				  service, sizeof(service)) < 0)
		service[0] = '\0';
	if (host->challenge_param(req->challenge, "Bearer", "scope", scope,
				  sizeof(scope)) < 0)
		snprintf(scope, sizeof(scope), "repository:%s:pull",
			 req->repository);

	snprintf(url, sizeof(url), "%s%cscope=", realm,
		 strchr(realm, '?') ? '&' : '?');
	rc = append_encoded(url, sizeof(url), scope);
	if (rc == 0 && service[0]) {
		strncat(url, "&service=", sizeof(url) - strlen(url) - 1);
		rc = append_encoded(url, sizeof(url), service);
	}
	if (rc < 0)
		return rc;

	rc = host->http(&hreq, &resp);
	if (rc < 0)
		return rc;
	if (resp.status == 401 || resp.status == 403)
		rc = -EACCES;
	else if (resp.status != 200)
		rc = -EIO;
	else if (json_string(resp.body, "token", token, sizeof(token)) < 0 &&
		 json_string(resp.body, "access_token", token,
			     sizeof(token)) < 0)
		rc = -EBADMSG;
	host->free(resp.body);
	host->free(resp.headers);
	if (rc < 0) {
		vkdr_log_warn(host, EXAMPLE_NAME, "no token from %s: %s",
			      realm, strerror(-rc));
		return rc;
	}

	snprintf(result->authorization, sizeof(result->authorization),
		 "Bearer %s", token);
	result->expires_in = 0;	/* vkdr then trusts it for 60 seconds */
	return 0;
}

/* Designated initializers: slots left out are NULL, meaning "default". */
static const struct vkdr_registry_ops example_ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = example_claims,
	.resolve = example_resolve,
	.authorize = example_authorize,
};

static const struct vkdr_module example_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = EXAMPLE_NAME,
	.version = "1.0",
	.description = "example third-party plugin for " EXAMPLE_HOST,
	.ops = &example_ops,
};

VKDR_MODULE_DEFINE(example_module);
