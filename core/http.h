/*
 * http.h - the small HTTP client the core offers to modules.
 */
#ifndef VKDR_CORE_HTTP_H
#define VKDR_CORE_HTTP_H

#include <vkdr/module.h>

/* See struct vkdr_host.http. */
int http_request(const struct vkdr_http_request *req,
		 struct vkdr_http_response *resp);

#endif
