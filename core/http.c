/*
 * http.c - one-shot HTTP requests for modules (token endpoints, mostly).
 *
 * Redirects are not followed: a registry plugin that talks to a token
 * endpoint decides itself whether a credential may go to another host.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define HTTP_DEFAULT_TIMEOUT_MS 30000
#define HTTP_MAX_BODY (16u << 20)

struct buffer {
	char *data;
	size_t len;
};

static size_t append(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buffer *b = arg;
	size_t n = size * nmemb;
	char *grown;

	if (b->len + n > HTTP_MAX_BODY)
		return 0;
	grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, n);
	b->data = grown;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int errno_of(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int http_request(const struct vkdr_http_request *req,
		 struct vkdr_http_response *resp)
{
	struct buffer body = { 0 }, head = { 0 };
	struct curl_slist *headers = NULL;
	CURLcode cc;
	CURL *curl;
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;

	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			 req->timeout_ms ? req->timeout_ms
					 : HTTP_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "vkdr/" PACKAGE_VERSION);
	if (req->method && strcmp(req->method, "GET") != 0)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->method && strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (req->body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req->body_len);
	}
	if (req->username) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, req->username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD,
				 req->password ? req->password : "");
	}
	for (const char *const *h = req->headers; h && *h; h++) {
		struct curl_slist *n = curl_slist_append(headers, *h);

		if (!n) {
			rc = -ENOMEM;
			goto out_free_headers;
		}
		headers = n;
	}
	if (headers)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		rc = errno_of(cc);
		goto out_free_headers;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = body.data ? body.data : strdup("");
	resp->body_len = body.len;
	resp->headers = head.data ? head.data : strdup("");
	body.data = head.data = NULL;

out_free_headers:
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(body.data);
	free(head.data);
	return rc;
}
