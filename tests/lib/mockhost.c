/*
 * mockhost.c - see mockhost.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "loader.h"
#include "mockhost.h"
#include "paths.h"

#define MAX_REPLIES 64

struct reply {
	int rc;
	long status;
	char *headers;
	char *body;
};

static struct reply replies[MAX_REPLIES];
static size_t n_replies, next_reply;
static struct mock_http_call calls[MAX_REPLIES];
static size_t n_calls;
static struct vkdr_host host;
static char home[PATH_MAX];

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void record_call(const struct vkdr_http_request *req)
{
	struct mock_http_call *c;
	size_t len = 1;
	char *joined;

	if (n_calls >= MAX_REPLIES)
		return;
	c = &calls[n_calls++];
	c->method = strdup(req->method ? req->method : "GET");
	c->url = dup_or_null(req->url);
	c->username = dup_or_null(req->username);
	c->password = dup_or_null(req->password);
	for (const char *const *h = req->headers; h && *h; h++)
		len += strlen(*h) + 1;
	joined = calloc(1, len);
	for (const char *const *h = req->headers; h && *h; h++) {
		strcat(joined, *h);
		strcat(joined, "\n");
	}
	c->headers = joined;
}

static int mock_http(const struct vkdr_http_request *req,
		     struct vkdr_http_response *resp)
{
	struct reply *r;

	memset(resp, 0, sizeof(*resp));
	record_call(req);
	if (next_reply >= n_replies)
		return -ECONNREFUSED;
	r = &replies[next_reply++];
	if (r->rc)
		return r->rc;
	resp->status = r->status;
	resp->body = strdup(r->body ? r->body : "");
	resp->body_len = strlen(resp->body);
	resp->headers = strdup(r->headers ? r->headers : "");
	return 0;
}

const struct vkdr_host *mock_host(void)
{
	if (host.version)
		return &host;
	snprintf(home, sizeof(home), "%s/vkdr-test-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(home))
		abort();
	setenv("VKDR_HOME", home, 1);
	paths_init();
	host = *host_get();
	host.http = mock_http;
	return &host;
}

const char *mock_home(void)
{
	mock_host();
	return home;
}

void mock_http_reply(long status, const char *headers, const char *body)
{
	if (n_replies >= MAX_REPLIES)
		abort();
	replies[n_replies].rc = 0;
	replies[n_replies].status = status;
	replies[n_replies].headers = dup_or_null(headers);
	replies[n_replies].body = dup_or_null(body);
	n_replies++;
}

void mock_http_fail(int rc)
{
	if (n_replies >= MAX_REPLIES)
		abort();
	memset(&replies[n_replies], 0, sizeof(replies[0]));
	replies[n_replies++].rc = rc;
}

const struct mock_http_call *mock_http_call(size_t n)
{
	return n < n_calls ? &calls[n] : NULL;
}

size_t mock_http_calls(void)
{
	return n_calls;
}

void mock_reset(void)
{
	for (size_t i = 0; i < n_replies; i++) {
		free(replies[i].headers);
		free(replies[i].body);
	}
	for (size_t i = 0; i < n_calls; i++) {
		free(calls[i].method);
		free(calls[i].url);
		free(calls[i].username);
		free(calls[i].password);
		free(calls[i].headers);
	}
	n_replies = next_reply = n_calls = 0;
}

struct find_arg {
	const char *name;
	const struct vkdr_module *found;
};

static int find_module(void *arg, const struct vkdr_module_info *info,
		       const char *reason)
{
	struct find_arg *f = arg;

	if (info->module && strcmp(info->module->name, f->name) == 0) {
		f->found = info->module;
		return 1;
	}
	return 0;
}

const struct vkdr_module *mock_load(const char *name)
{
	const char *dir = getenv("VKDR_TEST_MODULEDIR");
	struct find_arg f = { .name = name, .found = NULL };
	char path[PATH_MAX];

	loader_walk(find_module, &f);
	if (f.found)
		return f.found;
	snprintf(path, sizeof(path), "%s/%s.so",
		 dir ? dir : VKDR_TEST_MODULEDIR, name);
	if (loader_load_file(mock_host(), path) < 0) {
		fprintf(stderr, "mock_load(%s): %s\n", name,
			loader_last_error());
		return NULL;
	}
	loader_walk(find_module, &f);
	return f.found;
}
