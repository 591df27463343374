/*
 * generic.c - the fallback registry plugin: any registry that speaks the
 * Docker token flow or Basic auth, which is nearly all of them.
 *
 * It claims "*", so it serves every host no other plugin claims. The
 * upstream is "https://<registry>" unless the user configured one.
 */
#include "config.h"

#include <errno.h>

#include <vkdr/module.h>

#include "vkdrplugin.h"

#define MODULE_NAME "generic"

static const char *const generic_claims[] = { "*", NULL };

static const struct plugin_bearer generic_bearer = {
	.module = MODULE_NAME,
	.scope_rule = PLUGIN_SCOPE_FROM_CHALLENGE,
};

static int generic_resolve(const struct vkdr_host *host,
			   const char *registry, const char *configured,
			   struct vkdr_upstream *out)
{
	return plugin_resolve_default(registry, configured, out);
}

static int generic_authorize(const struct vkdr_host *host,
			     const struct vkdr_auth_request *req,
			     struct vkdr_auth_result *result)
{
	return plugin_authorize(host, &generic_bearer, req, result);
}

static const struct vkdr_registry_ops generic_ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = generic_claims,
	.resolve = generic_resolve,
	.authorize = generic_authorize,
};

static const struct vkdr_module generic_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = MODULE_NAME,
	.version = PACKAGE_VERSION,
	.description = "any registry with Docker token or Basic auth "
		       "(fallback for unclaimed hosts)",
	.ops = &generic_ops,
};

VKDR_MODULE_DEFINE(generic_module);
