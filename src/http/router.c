/* SPDX-License-Identifier: Apache-2.0
 * Route-table lookup and dispatch (router.h). Linear scan in table order:
 * tables are tens of lines and the scan is a few string compares.
 */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static int path_matches(const char *pattern, const char *path) {
  size_t n = strlen(pattern);
  if (n >= 2 && pattern[n - 2] == '/' && pattern[n - 1] == '*') {
    size_t pre = n - 2; /* "/a" of the pattern "/a/" + "*" */
    if (strncmp(path, pattern, pre) != 0) return 0;
    return path[pre] == 0 || path[pre] == '/';
  }
  return strcmp(pattern, path) == 0;
}

static unsigned effective(unsigned methods) {
  return methods & HTTP_M_GET ? methods | HTTP_M_HEAD : methods;
}

int http_router_match(const http_route *table, size_t n, unsigned method_bit, const char *path,
                      size_t *index, unsigned *allowed) {
  unsigned allow = 0;
  int path_hit = 0;
  for (size_t i = 0; i < n; i++) {
    if (!table[i].path || !path_matches(table[i].path, path)) continue;
    path_hit = 1;
    unsigned m = effective(table[i].methods);
    if (m & method_bit) {
      *index = i;
      return 0;
    }
    allow |= m;
  }
  if (allowed) *allowed = allow;
  return path_hit ? LOOM_EUNSUP : LOOM_ENOTFOUND;
}

size_t http_router_allow_format(unsigned mask, char *out, size_t size) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{HTTP_M_GET, "GET"},       {HTTP_M_HEAD, "HEAD"},   {HTTP_M_POST, "POST"},
               {HTTP_M_PUT, "PUT"},       {HTTP_M_DELETE, "DELETE"}, {HTTP_M_PATCH, "PATCH"},
               {HTTP_M_OPTIONS, "OPTIONS"}};
  size_t len = 0;
  if (size == 0) return 0;
  out[0] = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(mask & names[i].bit)) continue;
    int w = snprintf(out + len, size - len, "%s%s", len ? ", " : "", names[i].name);
    if (w < 0 || (size_t)w >= size - len) {
      out[len] = 0; /* drop a partly written name */
      break;
    }
    len += (size_t)w;
  }
  return len;
}

int http_router_dispatch(const http_route *table, size_t n, http_req *req, void *user) {
  size_t idx;
  unsigned allowed = 0;
  int rc = http_router_match(table, n, http_req_method_bit(req), http_req_path(req), &idx, &allowed);
  if (rc == 0) {
    table[idx].fn(req, user);
    return 0;
  }
  if (rc == LOOM_EUNSUP) {
    char allow[80];
    http_router_allow_format(allowed, allow, sizeof allow);
    http_req_add_header(req, "Allow", allow);
    int r2 = http_respond_error(req, 405, "method not allowed");
    return r2 < 0 ? r2 : LOOM_EUNSUP;
  }
  int r2 = http_respond_error(req, 404, "not found");
  return r2 < 0 ? r2 : LOOM_ENOTFOUND;
}
