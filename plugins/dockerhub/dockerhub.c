/*
 * dockerhub.c - registry plugin for Docker Hub.
 *
 * Docker Hub is known by three names; the API lives at
 * registry-1.docker.io, official images sit under "library/", and tokens
 * come from auth.docker.io through the usual challenge. Anonymous pulls
 * are rate limited per address, so the plugin reads the budget Docker Hub
 * reports in every answer and warns once when it runs low.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <vkdr/module.h>

#include "vkdrplugin.h"

#define MODULE_NAME "dockerhub"

/* Warn when fewer than this share (in percent) of the pulls remain. */
#define RATELIMIT_LOW_PERCENT 10
/*
 * A larger count is no pull budget; refusing it keeps "remaining * 100"
 * below from overflowing, even where a long has 32 bits.
 */
#define RATELIMIT_MAX 10000000L

static const char *const dockerhub_claims[] = {
	"docker.io",
	"index.docker.io",
	"registry-1.docker.io",
	NULL,
};

static const struct plugin_bearer dockerhub_bearer = {
	.module = MODULE_NAME,
	.scope_rule = PLUGIN_SCOPE_FROM_CHALLENGE,
	.default_realm = "https://auth.docker.io/token",
	.default_service = "registry.docker.io",
};

/*
 * The latest rate-limit budget seen. Answers arrive on many daemon
 * threads at once, hence the lock; LOW remembers that the warning was
 * given, so it is logged once per crossing and not on every request.
 */
static struct {
	pthread_mutex_t lock;
	long limit;
	long remaining;
	bool low;
} ratelimit = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.limit = -1,
	.remaining = -1,
};

static bool dockerhub_canonical_host(const char *host, char *out,
				     size_t outlen)
{
	if (strcasecmp(host, "index.docker.io") != 0 &&
	    strcasecmp(host, "registry-1.docker.io") != 0)
		return false;
	snprintf(out, outlen, "docker.io");
	return true;
}

static int dockerhub_resolve(const struct vkdr_host *host,
			     const char *registry, const char *configured,
			     struct vkdr_upstream *out)
{
	return plugin_resolve_default("registry-1.docker.io", configured,
				      out);
}

/* Official images ("nginx") live under "library/" on the Docker Hub API. */
static int dockerhub_repository(const char *registry, const char *name,
				char *out, size_t outlen)
{
	int n;

	if (strchr(name, '/'))
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "library/%s", name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int dockerhub_authorize(const struct vkdr_host *host,
			       const struct vkdr_auth_request *req,
			       struct vkdr_auth_result *result)
{
	return plugin_authorize(host, &dockerhub_bearer, req, result);
}

/*
 * "100;w=21600" -> 100; -1 when the value does not start with a number or
 * is above RATELIMIT_MAX.
 */
static long ratelimit_count(const char *value)
{
	char *end;
	long n;

	while (*value == ' ' || *value == '\t')
		value++;
	if (*value < '0' || *value > '9')
		return -1;
	n = strtol(value, &end, 10);
	return n < 0 || n > RATELIMIT_MAX ? -1 : n;
}

static void dockerhub_observe_header(const struct vkdr_host *host,
				     const char *registry, const char *name,
				     const char *value)
{
	bool is_limit, warn = false, low;
	long n, limit, remaining;

	/* Called for every header of every answer: leave the others fast. */
	if (name[0] != 'r' && name[0] != 'R')
		return;
	is_limit = strcasecmp(name, "ratelimit-limit") == 0;
	if (!is_limit && strcasecmp(name, "ratelimit-remaining") != 0)
		return;
	n = ratelimit_count(value);
	if (n < 0)
		return;

	pthread_mutex_lock(&ratelimit.lock);
	if (is_limit)
		ratelimit.limit = n;
	else
		ratelimit.remaining = n;
	limit = ratelimit.limit;
	remaining = ratelimit.remaining;
	if (limit > 0 && remaining >= 0) {
		low = remaining * 100 < limit * RATELIMIT_LOW_PERCENT;
		warn = low && !ratelimit.low;
		ratelimit.low = low;
	}
	pthread_mutex_unlock(&ratelimit.lock);

	if (warn)
		vkdr_log_warn(host, MODULE_NAME,
			      "Docker Hub pull budget low: %ld of %ld pulls "
			      "left in the current window; configure "
			      "credentials to raise it",
			      remaining, limit);
}

/*
 * The budget as gauges for the daemon's /metrics, so "vkdr mirror status"
 * and a scraper can see how many pulls are left before Docker Hub answers
 * 429. Nothing is reported until Docker Hub has sent the headers.
 */
static void dockerhub_report(const struct vkdr_host *host,
			     void (*emit)(void *arg, const char *name,
					  const char *labels, double value),
			     void *arg)
{
	static const char labels[] = "registry=\"docker.io\"";
	long limit, remaining;

	pthread_mutex_lock(&ratelimit.lock);
	limit = ratelimit.limit;
	remaining = ratelimit.remaining;
	pthread_mutex_unlock(&ratelimit.lock);

	if (limit >= 0)
		emit(arg, "vkdr_mirror_pull_budget_limit", labels,
		     (double)limit);
	if (remaining >= 0)
		emit(arg, "vkdr_mirror_pull_budget_remaining", labels,
		     (double)remaining);
}

static const struct vkdr_registry_ops dockerhub_ops = {
	.version = VKDR_REGISTRY_OPS_VERSION,
	.claims = dockerhub_claims,
	.canonical_host = dockerhub_canonical_host,
	.resolve = dockerhub_resolve,
	.repository = dockerhub_repository,
	.authorize = dockerhub_authorize,
	.observe_header = dockerhub_observe_header,
	.report = dockerhub_report,
};

static const struct vkdr_module dockerhub_module = {
	.abi = VKDR_MODULE_ABI,
	.kind = VKDR_MODULE_REGISTRY,
	.name = MODULE_NAME,
	.version = PACKAGE_VERSION,
	.description = "Docker Hub (docker.io), with its pull rate limit",
	.ops = &dockerhub_ops,
};

VKDR_MODULE_DEFINE(dockerhub_module);
