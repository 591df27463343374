/*
 * ecr-public.c - registry plugin for Amazon ECR Public, public.ecr.aws.
 *
 * ECR Public answers with a Bearer challenge whose scope is "aws", which
 * is not a repository scope: a token asked for with it does not grant the
 * pull. The plugin therefore always asks for "repository:<name>:pull".
 */
#include "config.h"

#include <errno.h>

#include <vkdr/module.h>

#include "vkdrplugin.h"

#define MODULE_NAME "ecr-public"

static const char *const ecr_public_claims[] = { "public.ecr.aws", NULL };

static const struct plugin_bearer ecr_public_bearer = {
	.module = MODULE_NAME,
	.scope_rule = PLUGIN_SCOPE_REPOSITORY,
	.default_realm = "https://public.ecr.aws/token/",
	.default_service = "public.ecr.aws",
};

static int ecr_public_resolve(const struct vkdr_host *host,
			      const char *registry, const char *configured,
			      struct vkdr_upstream *out)
{
	return plugin_resolve_default("public.ecr.aws", configured, out);
}

static int ecr_public_authorize(const struct vkdr_host *host,
				const struct vkdr_auth_request *req,
				struct vkdr_auth_result *result)
{
	return plugin_authorize(host, &ecr_public_bearer, req, result);
}

static const struct vkdr_registry_ops ecr_public_ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = ecr_public_claims,
	.resolve = ecr_public_resolve,
	.authorize = ecr_public_authorize,
};

static const struct vkdr_module ecr_public_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = MODULE_NAME,
	.version = PACKAGE_VERSION,
	.description = "Amazon ECR Public (public.ecr.aws)",
	.ops = &ecr_public_ops,
};

VKDR_MODULE_DEFINE(ecr_public_module);
