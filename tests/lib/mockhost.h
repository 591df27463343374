/*
 * mockhost.h - a host for unit tests of modules.
 *
 * It is the real core's host table with the HTTP client replaced by a
 * script of canned replies, so a registry plugin's token dance can be
 * tested against recorded responses. Modules are loaded from the build
 * tree with the real loader.
 */
#ifndef VKDR_TEST_MOCKHOST_H
#define VKDR_TEST_MOCKHOST_H

#include <stddef.h>
#include <vkdr/module.h>

/* The host to pass to modules. VKDR_HOME is pointed at a fresh temp dir. */
const struct vkdr_host *mock_host(void);

/* Queue a reply for the next host->http() call (FIFO). */
void mock_http_reply(long status, const char *headers, const char *body);
/* Make the next host->http() call fail with RC (a negative errno). */
void mock_http_fail(int rc);

/* What the Nth (0-based) host->http() call asked for; NULL past the end. */
struct mock_http_call {
	char *method;
	char *url;
	char *username;
	char *password;
	char *headers;	/* joined with '\n' */
};
const struct mock_http_call *mock_http_call(size_t n);
size_t mock_http_calls(void);

/* Forget queued replies and recorded calls. */
void mock_reset(void);

/*
 * Load NAME.so from the build tree's modules directory (or
 * $VKDR_TEST_MODULEDIR) with the real loader; NULL when it failed, with
 * the loader's reason written to stderr.
 */
const struct vkdr_module *mock_load(const char *name);

/* The temp dir used as VKDR_HOME. */
const char *mock_home(void);

#endif
