/*
 * azurecr.c - registry plugin for Azure Container Registry.
 *
 * Every ACR registry has its own host, <name>.azurecr.io, so a user adds
 * the wildcard "*.azurecr.io" and the actual registry arrives with each
 * request (containerd's ns= parameter). Tokens come from the registry's
 * own /oauth2/token. With credentials, a user name of all zeros means the
 * password is an ACR refresh token (what "az acr login --expose-token"
 * prints), which is exchanged with a form POST; any other user name is a
 * service principal or admin user and goes as Basic auth to the same
 * endpoint.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <vkdr/module.h>

#include "vkdrplugin.h"

#define MODULE_NAME "azurecr"
#define ACR_SUFFIX ".azurecr.io"
#define ACR_REFRESH_TOKEN_USER "00000000-0000-0000-0000-000000000000"

static const char *const azurecr_claims[] = { "*" ACR_SUFFIX, NULL };

/* True for "<name>.azurecr.io" with one alphanumeric label as NAME. */
static bool is_registry_host(const char *host)
{
	size_t len = strlen(host), slen = strlen(ACR_SUFFIX);

	if (len <= slen || strcasecmp(host + len - slen, ACR_SUFFIX) != 0)
		return false;
	for (size_t i = 0; i < len - slen; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static int azurecr_validate_host(const char *host, char *err, size_t errlen)
{
	if (strcmp(host, "*" ACR_SUFFIX) == 0 || is_registry_host(host))
		return 0;
	snprintf(err, errlen,
		 "'%s' is not an Azure Container Registry host: use "
		 "<name>" ACR_SUFFIX " (letters and digits only) or "
		 "*" ACR_SUFFIX " for all of them",
		 host);
	return -EINVAL;
}

static int azurecr_resolve(const struct vkdr_host *host,
			   const char *registry, const char *configured,
			   struct vkdr_upstream *out)
{
	if (!configured && !is_registry_host(registry))
		return -EINVAL;
	return plugin_resolve_default(registry, configured, out);
}

/* The refresh-token exchange: a form POST, never a query string. */
static int refresh_token_form(const struct vkdr_auth_request *req,
			      const char *scope, char *form, size_t len)
{
	int rc;

	form[0] = '\0';
	rc = plugin_query_append(form, len, '\0', "grant_type",
				 "refresh_token");
	if (rc == 0)
		rc = plugin_query_append(form, len, '&', "service",
					 req->registry);
	if (rc == 0)
		rc = plugin_query_append(form, len, '&', "scope", scope);
	if (rc == 0)
		rc = plugin_query_append(form, len, '&', "refresh_token",
					 req->password);
	return rc;
}

static int azurecr_authorize(const struct vkdr_host *host,
			     const struct vkdr_auth_request *req,
			     struct vkdr_auth_result *result)
{
	static const struct plugin_bearer basic_only = {
		.module = MODULE_NAME,
	};
	struct plugin_token_request treq;
	char realm[512], scope[1024], form[8192];
	int rc;

	if (!plugin_challenge_offers(req->challenge, "Bearer") &&
	    plugin_challenge_offers(req->challenge, "Basic"))
		return plugin_authorize(host, &basic_only, req, result);
	if (!is_registry_host(req->registry)) {
		vkdr_log_warn(host, MODULE_NAME,
			      "'%s' is not an azurecr.io registry",
			      req->registry);
		return -EINVAL;
	}

	snprintf(realm, sizeof(realm), "https://%s/oauth2/token",
		 req->registry);
	if (host->challenge_param(req->challenge, "Bearer", "scope", scope,
				  sizeof(scope)) < 0 ||
	    !*scope) {
		if (!req->repository || !*req->repository)
			return -ENOTSUP;
		rc = plugin_pull_scope(req->repository, scope, sizeof(scope));
		if (rc < 0)
			return rc;
	}

	memset(&treq, 0, sizeof(treq));
	treq.module = MODULE_NAME;
	treq.realm = realm;
	treq.service = req->registry;
	treq.scope = scope;
	treq.base_url = req->base_url;
	if (req->username && req->password &&
	    strcmp(req->username, ACR_REFRESH_TOKEN_USER) == 0) {
		rc = refresh_token_form(req, scope, form, sizeof(form));
		if (rc < 0)
			return rc;
		treq.form = form;
	} else if (req->username && req->password) {
		treq.username = req->username;
		treq.password = req->password;
	}
	rc = plugin_token_fetch(host, &treq, result);
	explicit_bzero(form, sizeof(form));
	return rc;
}

static const struct vkdr_registry_ops azurecr_ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = azurecr_claims,
	.validate_host = azurecr_validate_host,
	.resolve = azurecr_resolve,
	.authorize = azurecr_authorize,
};

static const struct vkdr_module azurecr_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = MODULE_NAME,
	.version = PACKAGE_VERSION,
	.description = "Azure Container Registry (*.azurecr.io), with "
		       "refresh-token exchange",
	.ops = &azurecr_ops,
};

VKDR_MODULE_DEFINE(azurecr_module);
