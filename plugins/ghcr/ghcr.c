/*
 * ghcr.c - registry plugin for GitHub's container registry, ghcr.io.
 *
 * GHCR wants a token even for public images; an anonymous one comes from
 * https://ghcr.io/token. Its challenge names that realm, but the defaults
 * below keep pulls working should a challenge ever come without it.
 */
#include "config.h"

#include <errno.h>

#include <vkdr/module.h>

#include "vkdrplugin.h"

#define MODULE_NAME "ghcr"

static const char *const ghcr_claims[] = { "ghcr.io", NULL };

static const struct plugin_bearer ghcr_bearer = {
	.module = MODULE_NAME,
	.scope_rule = PLUGIN_SCOPE_FROM_CHALLENGE,
	.default_realm = "https://ghcr.io/token",
	.default_service = "ghcr.io",
};

static int ghcr_resolve(const struct vkdr_host *host, const char *registry,
			const char *configured, struct vkdr_upstream *out)
{
	return plugin_resolve_default("ghcr.io", configured, out);
}

static int ghcr_authorize(const struct vkdr_host *host,
			  const struct vkdr_auth_request *req,
			  struct vkdr_auth_result *result)
{
	return plugin_authorize(host, &ghcr_bearer, req, result);
}

static const struct vkdr_registry_ops ghcr_ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = ghcr_claims,
	.resolve = ghcr_resolve,
	.authorize = ghcr_authorize,
};

static const struct vkdr_module ghcr_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = MODULE_NAME,
	.version = PACKAGE_VERSION,
	.description = "GitHub Container Registry (ghcr.io)",
	.ops = &ghcr_ops,
};

VKDR_MODULE_DEFINE(ghcr_module);
