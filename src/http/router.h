/* SPDX-License-Identifier: Apache-2.0
 * Declarative HTTP route table: one line per route {method bits, path,
 * handler}. Paths are exact ("/health") or prefixes ending in slash-star
 * ("/api/handles/" then "*"). Dispatch answers 404 {"error":"not found"} or 405
 * (with an Allow header) itself. Pure table lookup; no allocation, no globals.
 */
#ifndef LOOM_HTTP_ROUTER_H
#define LOOM_HTTP_ROUTER_H

#include <stddef.h>

#include "http/server.h"

typedef struct http_route {
  unsigned methods;   /* HTTP_M_* bits; a route with HTTP_M_GET also answers HEAD */
  const char *path;   /* exact path, or a prefix ending in slash-star */
  http_handler_cb fn; /* called with the dispatcher's user pointer */
} http_route;

/* Find the route for (method bit, decoded path): the first entry in table
 * order whose path matches and whose methods include the method. A prefix
 * pattern "/a/" + "*" matches "/a" and every path starting with "/a/". Returns 0 and
 * *index, LOOM_ENOTFOUND (no path matches), or LOOM_EUNSUP (a path matches
 * but not for this method; *allowed then holds the union of the matching
 * entries' method bits, with HEAD added where GET is). Pure. */
int http_router_match(const http_route *table, size_t n, unsigned method_bit, const char *path,
                      size_t *index, unsigned *allowed);

/* Route req: call the matching handler with `user`, or answer 404/405
 * (405 carries "Allow: GET, HEAD, ..."). Returns 0 when a handler ran, or
 * LOOM_ENOTFOUND / LOOM_EUNSUP after answering 404 / 405 (or a negative code
 * from http_respond if even that failed). Loop thread (from a server handler). */
int http_router_dispatch(const http_route *table, size_t n, http_req *req, void *user);

/* Write "GET, HEAD, POST" for the bits in mask into out (size bytes, always
 * NUL-terminated). Returns the string length. */
size_t http_router_allow_format(unsigned mask, char *out, size_t size);

#endif
