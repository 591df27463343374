/*
 * fuzz_token.c - answering a registry's 401 with
 * plugins/common/vkdrplugin.c, as every bundled plugin does: reading the
 * WWW-Authenticate challenge (with the core's challenge_param), building
 * the token URL from its realm, service and scope, and parsing the token
 * endpoint's JSON.
 *
 * Input: a flags byte, then the challenge, a NUL, the token endpoint's
 * body, a NUL and the repository. The flags choose the endpoint's status,
 * whether credentials are configured and the plugin's scope rule. The
 * host is a stand-in whose HTTP client answers from the input and checks
 * the request the plugin makes.
 */
#include <errno.h>
#include <strings.h>

#include "challenge.h"
#include "fuzz.h"
#include "vkdrplugin.h"

static const char *token_body;
static long token_status;
static const char *base_url;

static void quiet_log(enum vkdr_log_level level, const char *module,
		      const char *fmt, ...)
{
}

static bool no_debug(enum vkdr_log_level level)
{
	return false;
}

static bool has_blank_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* The token endpoint: answers from the input, checks what it is sent. */
static int scripted_http(const struct vkdr_http_request *req,
			 struct vkdr_http_response *resp)
{
	/* A URL that could be split or retargeted would be a finding. */
	FUZZ_CHECK(!has_blank_or_control(req->url));
	FUZZ_CHECK(strncasecmp(req->url, "http://", 7) == 0 ||
		   strncasecmp(req->url, "https://", 8) == 0);
	/* Credentials never leave an https upstream for plain http. */
	if (req->username && strncasecmp(base_url, "https://", 8) == 0)
		FUZZ_CHECK(strncasecmp(req->url, "https://", 8) == 0);

	memset(resp, 0, sizeof(*resp));
	resp->status = token_status;
	resp->body = strdup(token_body);
	resp->body_len = strlen(token_body);
	resp->headers = strdup("");
	if (!resp->body || !resp->headers)
		abort();
	return 0;
}

static const struct vkdr_host host = {
	.version = VKDR_HOST_VERSION,
	.size = sizeof(struct vkdr_host),
	.log = quiet_log,
	.log_enabled = no_debug,
	.free = free,
	.http = scripted_http,
	.challenge_param = challenge_param,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {
		200, 200, 200, 200, 401, 302, 500, 200
	};
	struct vkdr_auth_result result;
	struct vkdr_auth_request req;
	struct plugin_bearer how;
	const char *parts[3];
	uint8_t flags;
	char *buf;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	buf = fuzz_split(data + 1, size - 1, parts, 3);

	token_status = statuses[flags & 7];
	token_body = parts[1];
	base_url = flags & 0x10 ? "https://registry.example"
				: "http://127.0.0.1:5000";

	memset(&how, 0, sizeof(how));
	how.module = "fuzz";
	how.scope_rule = flags & 0x20 ? PLUGIN_SCOPE_REPOSITORY
				      : PLUGIN_SCOPE_FROM_CHALLENGE;
	how.default_realm = flags & 0x40 ? "https://auth.example/token" : NULL;

	memset(&req, 0, sizeof(req));
	req.registry = "registry.example";
	req.base_url = base_url;
	req.repository = parts[2];
	req.challenge = parts[0];
	if (flags & 0x08) {
		req.username = "user";
		req.password = "secret";
	}

	memset(&result, 0, sizeof(result));
	rc = plugin_authorize(&host, &how, &req, &result);
	if (rc == 0) {
		/* The answer goes into a request header as it is. */
		FUZZ_CHECK(strnlen(result.authorization,
				   sizeof(result.authorization)) <
			   sizeof(result.authorization));
		for (const char *p = result.authorization; *p; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
		FUZZ_CHECK(result.expires_in > 0);
	}

	/* The token body alone, as plugins with their own flow parse it. */
	memset(&result, 0, sizeof(result));
	if (plugin_token_parse(parts[1], &result) == 0)
		FUZZ_CHECK(strncmp(result.authorization, "Bearer ", 7) == 0);

	free(buf);
	return 0;
}
