/*
 * testreg.c - a registry plugin for the unit tests. It claims
 * test.example and *.test.example, says that alias.test.example is
 * another name for test.example, and refuses bad.test.example.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <vkdr/module.h>

static const char *const claims[] = {
	"test.example",
	"*.test.example",
	"alias.test.example",
	NULL,
};

static int testreg_validate(const char *host, char *err, size_t errlen)
{
	if (strcmp(host, "bad.test.example") != 0)
		return 0;
	snprintf(err, errlen, "bad.test.example is refused by testreg");
	return -EINVAL;
}

static bool testreg_canonical(const char *host, char *out, size_t outlen)
{
	if (strcmp(host, "alias.test.example") != 0)
		return false;
	snprintf(out, outlen, "test.example");
	return true;
}

static int testreg_resolve(const struct vkdr_host *host,
			   const char *registry, const char *configured,
			   struct vkdr_upstream *out)
{
	snprintf(out->base_url, sizeof(out->base_url), "%s",
		 configured ? configured : "https://upstream.test.example");
	return 0;
}

static int testreg_authorize(const struct vkdr_host *host,
			     const struct vkdr_auth_request *req,
			     struct vkdr_auth_result *result)
{
	return -ENOTSUP;
}

static const struct vkdr_registry_ops ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = claims,
	.validate_host = testreg_validate,
	.canonical_host = testreg_canonical,
	.resolve = testreg_resolve,
	.authorize = testreg_authorize,
};

static const struct vkdr_module module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = "testreg",
	.version = "1",
	.description = "registry plugin for the unit tests",
	.ops = &ops,
};

VKDR_MODULE_DEFINE(module);
