/* SPDX-License-Identifier: Apache-2.0
 * Route table and access rules, one line per route. Every route names its
 * access: PUBLIC (liveness probes that clients call before authenticating,
 * as InfluxDB's /ping) or TOKEN (a valid API token is required; 401 and a
 * JSON error otherwise).
 */
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "http/router.h"

enum { PUBLIC = 0, TOKEN = 1 };

typedef void (*api_fn)(http_req *req, loom_api *api);

typedef struct api_route {
  unsigned methods;
  const char *path;
  int access;
  api_fn fn;
} api_route;

static const api_route routes[] = {
    {HTTP_M_GET | HTTP_M_HEAD, "/ping", PUBLIC, api_ping},
    {HTTP_M_GET | HTTP_M_HEAD, "/health", PUBLIC, api_health},
    {HTTP_M_GET, "/metrics", TOKEN, api_metrics},
    {HTTP_M_POST, "/write", TOKEN, api_write_v1},
    {HTTP_M_POST, "/api/v2/write", TOKEN, api_write_v2},
    {HTTP_M_GET | HTTP_M_POST, "/query", TOKEN, api_query},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static bool authorized(const loom_api *api, http_req *req) {
  char token[512];
  if (sec_auth_extract(http_req_header(req, "authorization"), http_req_param(req, "p"), token,
                       sizeof token))
    return false;
  return sec_auth_check(api->auth, token);
}

void api_handle(http_req *req, void *user) {
  loom_api *api = user;
  http_route local[N_ROUTES]; /* the router's view of `routes` */
  for (size_t i = 0; i < N_ROUTES; i++) {
    local[i].methods = routes[i].methods;
    local[i].path = routes[i].path;
    local[i].fn = NULL;
  }
  size_t idx;
  unsigned allowed;
  int rc = http_router_match(local, N_ROUTES, http_req_method_bit(req), http_req_path(req), &idx,
                             &allowed);
  if (rc) { /* 404 / 405 in the router's words */
    http_router_dispatch(local, N_ROUTES, req, api);
    return;
  }
  if (routes[idx].access == TOKEN && !authorized(api, req)) {
    http_req_add_header(req, "WWW-Authenticate", "Token realm=\"loom\"");
    http_respond_error(req, 401, "authorization failed: a valid API token is required "
                                 "(Authorization: Token <token>)");
    return;
  }
  routes[idx].fn(req, api);
}
