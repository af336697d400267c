/* SPDX-License-Identifier: Apache-2.0
 * Route table and access rules, one line per route: methods, path pattern
 * ("{name}" matches one path segment, a trailing slash-star any rest), the
 * permission it needs (a sec_perm, or PUBLIC for probes and login,
 * AUTHN for any authenticated principal, DEVTOK for the device API whose
 * handler resolves the device token in the path itself), where the
 * resource's tenant comes from, and the handler. The access check happens
 * here, once, before any handler runs: sec_policy_check decides. Management
 * handlers then run on the worker pool with the principal's tenant as their
 * registry scope, so another tenant's ids are simply not found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/mqtt_ws.h"
#include "api/mqtt_rules.h"
#include "api/principal.h"
#include "api/web.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "http/router.h"

enum { PUBLIC = -1, AUTHN = -2, DEVTOK = -3 };
/* where the resource's tenant comes from */
enum { OWN = 0, TPARAM = 1, DBPARAM = 2, RPARAM = 3 };

typedef void (*api_fn)(http_req *req, loom_api *api);

typedef struct api_route {
  unsigned methods;
  const char *path;
  int access; /* sec_perm, PUBLIC, AUTHN or DEVTOK */
  int where;  /* OWN, TPARAM ({tenantId}), DBPARAM (db / bucket parameter),
                 RPARAM ({region}: a region's tenants, no one tenant) */
  api_fn fn;        /* InfluxDB-style handler, or */
  api_call_fn call; /* management handler (worker pool) */
  int arg;
} api_route;

#define G HTTP_M_GET
#define P HTTP_M_POST
#define U HTTP_M_PUT
#define D HTTP_M_DELETE
#define S(perm) SEC_PERM_##perm

/* clang-format off */
static const api_route routes[] = {
  {G | HTTP_M_HEAD, "/ping",          PUBLIC, OWN, api_ping, NULL, 0},
  {G | HTTP_M_HEAD, "/health",        PUBLIC, OWN, api_health, NULL, 0},
  {G, "/metrics",                     S(PLATFORM_MANAGE), OWN, api_metrics, NULL, 0},
  {P, "/write",                       S(TELEMETRY_WRITE), DBPARAM, api_write_v1, NULL, 0},
  {P, "/api/v2/write",                S(TELEMETRY_WRITE), DBPARAM, api_write_v2, NULL, 0},
  {G | P, "/query",                   S(TELEMETRY_READ), DBPARAM, api_query, NULL, 0},

  {P, "/api/v1/auth/login",           PUBLIC, OWN, NULL, auth_login, 0},
  {P, "/api/v1/auth/logout",          AUTHN, OWN, NULL, auth_logout, 0},
  {G, "/api/v1/auth/me",              AUTHN, OWN, NULL, auth_me, 0},
  {P, "/api/v1/auth/password",        AUTHN, OWN, NULL, auth_password, 0},
  {G, "/api/v1/routes",               S(PLATFORM_MANAGE), OWN, NULL, rest_routes, 0},
  {G, "/api/v1/ws",                   PUBLIC, OWN, api_ws, NULL, 0}, /* authenticates in the protocol */
  {G, "/mqtt",                        PUBLIC, OWN, api_mqtt_ws, NULL, 0}, /* MQTT CONNECT authenticates */
  {G, "/",                           PUBLIC, OWN, api_web, NULL, 0}, /* the web console (web.c) */
  {G, "/index.html",                 PUBLIC, OWN, api_web, NULL, 0},
  {G, "/ui/*",                       PUBLIC, OWN, api_web, NULL, 0},

  {G, "/api/v1/tenants",              S(TENANT_MANAGE), OWN, NULL, rest_tenant_list, 0},
  {P, "/api/v1/tenants",              S(TENANT_MANAGE), OWN, NULL, rest_tenant_create, 0},
  {G, "/api/v1/tenants/{tenantId}",   S(TENANT_READ), TPARAM, NULL, rest_tenant_get, 0},
  {U, "/api/v1/tenants/{tenantId}",   S(TENANT_WRITE), TPARAM, NULL, rest_tenant_update, 0},
  {D, "/api/v1/tenants/{tenantId}",   S(TENANT_MANAGE), OWN, NULL, rest_tenant_delete, 0},

  {G, "/api/v1/users",                S(USER_READ), OWN, NULL, rest_user_list, 0},
  {P, "/api/v1/users",                S(USER_WRITE), OWN, NULL, rest_user_create, 0},
  {G, "/api/v1/users/{id}",           S(USER_READ), OWN, NULL, rest_user_get, 0},
  {U, "/api/v1/users/{id}",           S(USER_WRITE), OWN, NULL, rest_user_update, 0},
  {D, "/api/v1/users/{id}",           S(USER_WRITE), OWN, NULL, rest_user_delete, 0},

  {G, "/api/v1/tokens",               S(TOKEN_MANAGE_OWN), OWN, NULL, rest_token_list, 0},
  {P, "/api/v1/tokens",               S(TOKEN_MANAGE_OWN), OWN, NULL, rest_token_create, 0},
  {D, "/api/v1/tokens/{id}",          S(TOKEN_MANAGE_OWN), OWN, NULL, rest_token_revoke, 0},

  {G, "/api/v1/assets",               S(ASSET_READ), OWN, NULL, rest_list, META_ASSET},
  {P, "/api/v1/assets",               S(ASSET_WRITE), OWN, NULL, rest_create, META_ASSET},
  {G, "/api/v1/assets/{id}",          S(ASSET_READ), OWN, NULL, rest_get, META_ASSET},
  {U, "/api/v1/assets/{id}",          S(ASSET_WRITE), OWN, NULL, rest_update, META_ASSET},
  {D, "/api/v1/assets/{id}",          S(ASSET_WRITE), OWN, NULL, rest_delete, META_ASSET},

  {G, "/api/v1/device-profiles",      S(PROFILE_READ), OWN, NULL, rest_list, META_PROFILE},
  {P, "/api/v1/device-profiles",      S(PROFILE_WRITE), OWN, NULL, rest_profile_create, META_PROFILE},
  {G, "/api/v1/device-profiles/{id}", S(PROFILE_READ), OWN, NULL, rest_get, META_PROFILE},
  {U, "/api/v1/device-profiles/{id}", S(PROFILE_WRITE), OWN, NULL, rest_profile_update, META_PROFILE},
  {D, "/api/v1/device-profiles/{id}", S(PROFILE_WRITE), OWN, NULL, rest_delete, META_PROFILE},
  {G, "/api/v1/device-profiles/{id}/keys",         S(PROFILE_READ), OWN, NULL, rest_key_list, META_PROFILE_KEY},
  {P, "/api/v1/device-profiles/{id}/keys",         S(PROFILE_WRITE), OWN, NULL, rest_key_create, META_PROFILE_KEY},
  {G, "/api/v1/device-profiles/{id}/keys/{keyId}", S(PROFILE_READ), OWN, NULL, rest_key_get, META_PROFILE_KEY},
  {U, "/api/v1/device-profiles/{id}/keys/{keyId}", S(PROFILE_WRITE), OWN, NULL, rest_key_update, META_PROFILE_KEY},
  {D, "/api/v1/device-profiles/{id}/keys/{keyId}", S(PROFILE_WRITE), OWN, NULL, rest_key_delete, META_PROFILE_KEY},

  {G, "/api/v1/devices",              S(DEVICE_READ), OWN, NULL, rest_list, META_DEVICE},
  {P, "/api/v1/devices",              S(DEVICE_WRITE), OWN, NULL, rest_device_create, META_DEVICE},
  {G, "/api/v1/devices/{id}",         S(DEVICE_READ), OWN, NULL, rest_get, META_DEVICE},
  {U, "/api/v1/devices/{id}",         S(DEVICE_WRITE), OWN, NULL, rest_device_update, META_DEVICE},
  {D, "/api/v1/devices/{id}",         S(DEVICE_WRITE), OWN, NULL, rest_device_delete, META_DEVICE},
  {P, "/api/v1/devices/{id}/credentials",        S(DEVICE_CREDENTIALS), OWN, NULL, rest_device_credentials, 0},
  {G, "/api/v1/devices/{id}/attributes",         S(ATTRIBUTES_READ), OWN, NULL, rest_attr_get, 0},
  {P, "/api/v1/devices/{id}/attributes/{scope}", S(ATTRIBUTES_WRITE), OWN, NULL, rest_attr_set, 0},
  {D, "/api/v1/devices/{id}/attributes/{scope}", S(ATTRIBUTES_WRITE), OWN, NULL, rest_attr_delete, 0},
  {P, "/api/v1/devices/{id}/rpc",     S(RPC_SEND), OWN, NULL, rest_rpc_send, 0},
  {G, "/api/v1/devices/{id}/rpc",     S(RPC_READ), OWN, NULL, rest_rpc_list, 0},
  {G, "/api/v1/rpc/{id}",             S(RPC_READ), OWN, NULL, rest_rpc_get, 0},
  {G, "/api/v1/devices/{id}/telemetry/latest",   S(TELEMETRY_READ), OWN, NULL, rest_telemetry_latest, 0},
  {G, "/api/v1/devices/{id}/telemetry",          S(TELEMETRY_READ), OWN, NULL, rest_telemetry_history, 0},

  {G, "/api/v1/mqtt/rules",           S(TENANT_READ), OWN, NULL, rest_list, META_MQTT_RULE},
  {P, "/api/v1/mqtt/rules",           S(TENANT_WRITE), OWN, NULL, rest_mqtt_rule_create, META_MQTT_RULE},
  {G, "/api/v1/mqtt/rules/{id}",      S(TENANT_READ), OWN, NULL, rest_get, META_MQTT_RULE},
  {U, "/api/v1/mqtt/rules/{id}",      S(TENANT_WRITE), OWN, NULL, rest_mqtt_rule_update, META_MQTT_RULE},
  {D, "/api/v1/mqtt/rules/{id}",      S(TENANT_WRITE), OWN, NULL, rest_mqtt_rule_delete, META_MQTT_RULE},

  {G, "/api/v1/audit",                S(AUDIT_READ), OWN, NULL, rest_audit_list, 0},
  {G, "/api/v1/audit/verify",         S(AUDIT_READ), OWN, NULL, rest_audit_verify, 0},
  {G, "/api/v1/regions/{region}/summary", S(REGION_AGGREGATE_READ), RPARAM, NULL, rest_region_summary, 0},
  {G, "/api/v1/console/info",         AUTHN, OWN, NULL, rest_console_info, 0},
  {G, "/api/v1/console/overview",     S(DEVICE_READ), OWN, NULL, rest_console_overview, 0},

  /* device API (ThingsBoard-compatible): the device token in the path is the credential */
  {P, "/api/v1/provision",            PUBLIC, OWN, api_device_provision, NULL, 0},
  {P, "/api/v1/{token}/telemetry",    DEVTOK, OWN, api_device_telemetry, NULL, 0},
  {G | P, "/api/v1/{token}/attributes", DEVTOK, OWN, api_device_attributes, NULL, 0},
  {G, "/api/v1/{token}/rpc",          DEVTOK, OWN, api_device_rpc_poll, NULL, 0},
  {P, "/api/v1/{token}/rpc/{id}",     DEVTOK, OWN, api_device_rpc_reply, NULL, 0},
};
/* clang-format on */
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* ---- matching ---- */

/* Match path against pattern, collecting {params} into c (may be NULL). */
static bool match_path(const char *pattern, const char *path, api_call *c) {
  size_t np = 0;
  const char *a = pattern, *b = path;
  for (;;) {
    if (a[0] == '/' && a[1] == '*' && a[2] == 0) return *b == 0 || *b == '/';
    if (*a == 0 || *b == 0) return *a == 0 && *b == 0;
    if (*a != '/' || *b != '/') return false;
    a++, b++;
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
    if (la > 2 && a[0] == '{' && a[la - 1] == '}') {
      if (lb == 0 || np >= API_PARAMS_MAX || lb >= sizeof c->pval[0]) return false;
      if (c) {
        memcpy(c->pval[np], b, lb);
        c->pval[np][lb] = 0;
        c->pname[np] = a + 1; /* name ends at '}': api_param compares by length */
        c->n_params = np + 1;
      }
      np++;
    } else if (la != lb || memcmp(a, b, la)) {
      return false;
    }
    a += la, b += lb;
  }
}

static unsigned effective(unsigned m) { return m & HTTP_M_GET ? m | HTTP_M_HEAD : m; }

/* 0 and *idx; LOOM_ENOTFOUND; LOOM_EUNSUP with *allowed. */
static int route_match(unsigned method, const char *path, size_t *idx, unsigned *allowed) {
  unsigned allow = 0;
  bool hit = false;
  for (size_t i = 0; i < N_ROUTES; i++) {
    if (!match_path(routes[i].path, path, NULL)) continue;
    hit = true;
    if (effective(routes[i].methods) & method) {
      *idx = i;
      return 0;
    }
    allow |= effective(routes[i].methods);
  }
  *allowed = allow;
  return hit ? LOOM_EUNSUP : LOOM_ENOTFOUND;
}

const char *api_param(const api_call *c, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < c->n_params; i++)
    if (!strncmp(c->pname[i], name, n) && c->pname[i][n] == '}') return c->pval[i];
  return NULL;
}

/* ---- the table as JSON ---- */

static const char *access_name(int access) {
  if (access == PUBLIC) return "public";
  if (access == AUTHN) return "authenticated";
  if (access == DEVTOK) return "device_token";
  return sec_perm_name((sec_perm)access);
}

json_t *api_routes_json(void) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{HTTP_M_GET, "GET"}, {HTTP_M_HEAD, "HEAD"}, {HTTP_M_POST, "POST"},
               {HTTP_M_PUT, "PUT"}, {HTTP_M_DELETE, "DELETE"}, {HTTP_M_PATCH, "PATCH"}};
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < N_ROUTES; i++) {
    json_t *m = json_array();
    for (size_t k = 0; m && k < sizeof names / sizeof names[0]; k++)
      if (routes[i].methods & names[k].bit) json_array_append_new(m, json_string(names[k].name));
    json_t *r = json_pack("{s:o?,s:s,s:s}", "methods", m, "path", routes[i].path, "access",
                          access_name(routes[i].access));
    if (!r || json_array_append_new(arr, r)) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

void rest_routes(api_call *c) { api_reply_json(c->req, 200, api_routes_json()); }

/* ---- dispatch ---- */

static bool is_mgmt(const char *path) { return !strncmp(path, "/api/v1/", 8); }

static void unauthorized(http_req *req, const char *why) {
  http_req_add_header(req, "WWW-Authenticate", "Token realm=\"loom\"");
  if (is_mgmt(http_req_path(req))) api_error(req, 401, why);
  else http_respond_error(req, 401, why);
}

static void deny(http_req *req, int rc) {
  const char *msg = rc == LOOM_EAUTH      ? "authentication required"
                    : rc == LOOM_ENOTFOUND ? "not found"
                                           : "forbidden: your role or token scope does not allow this";
  if (rc == LOOM_EAUTH) unauthorized(req, msg);
  else if (is_mgmt(http_req_path(req))) api_error_rc(req, rc, msg);
  else http_respond_error(req, rc == LOOM_ENOTFOUND ? 404 : 403, msg);
}

static void call_job(void *arg) {
  api_call *c = arg;
  size_t idx = (size_t)c->arg >> 16;
  c->arg = routes[idx].arg;
  routes[idx].call(c);
  loom_free(c);
}

/* The call's route index lives in c->arg's upper bits until the handler runs. */
static void run_handler(api_call *c, size_t idx, bool on_worker) {
  const api_route *r = &routes[idx];
  if (r->fn) {
    r->fn(c->req, c->api);
    loom_free(c);
    return;
  }
  if (!c->api->meta) {
    api_error(c->req, 503, "the registry is not open");
    loom_free(c);
    return;
  }
  if (on_worker) {
    c->arg = r->arg;
    r->call(c);
    loom_free(c);
    return;
  }
  c->arg = (int)(idx << 16); /* call_job restores it */
  if (loom_workpool_submit(c->api->pool, call_job, c)) {
    api_error(c->req, 503, "server is stopping or out of memory");
    loom_free(c);
  }
}

static const char *db_param(http_req *req, char *buf, size_t cap) {
  const char *db = http_req_param(req, "db");
  if (!db) {
    const char *bucket = http_req_param(req, "bucket");
    if (!bucket) return NULL;
    snprintf(buf, cap, "%s", bucket);
    char *slash = strchr(buf, '/');
    if (slash) *slash = 0;
    db = buf;
  }
  return db;
}

static void answer_show_databases(http_req *req, const char *db) {
  json_t *v = json_pack("{s:[{s:i,s:[{s:s,s:[s],s:[[s]]}]}]}", "results", "statement_id", 0,
                        "series", "name", "databases", "columns", "name", "values", db);
  char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
  if (s) http_respond(req, 200, "application/json", s, strlen(s));
  else http_respond_error(req, 500, "out of memory");
  free(s);
  json_decref(v);
}

/* Check access for the resolved principal, then run the handler. */
static void authorize(api_call *c, size_t idx, const api_who *w, bool on_worker) {
  const api_route *r = &routes[idx];
  c->who = w->p;
  /* registry scope: platform admins see every tenant; a tenant's principals
   * their tenant; principals of no tenant (regional observers) none at all */
  c->scope = w->p.role == SEC_ROLE_PLATFORM_ADMIN ? NULL
             : w->p.tenant_id[0]                  ? c->who.tenant_id
                                                  : API_SCOPE_NONE;
  memcpy(c->db_name, w->db_name, sizeof c->db_name);
  memcpy(c->token_id, w->token_id, sizeof c->token_id);
  if (r->access >= 0) {
    const char *tenant = c->who.tenant_id[0] ? c->who.tenant_id : NULL;
    const char *region = c->who.region_code[0] ? c->who.region_code : NULL;
    char dbbuf[256];
    if (r->where == TPARAM) {
      tenant = api_param(c, "tenantId");
    } else if (r->where == RPARAM) {
      tenant = NULL;
      region = api_param(c, "region");
    } else if (r->where == DBPARAM) {
      const char *db = db_param(c->req, dbbuf, sizeof dbbuf);
      /* a database other than the principal's own belongs to some other
       * tenant (or to none): policy answers 404 for tenant principals */
      if (db && *db && strcmp(db, c->db_name)) tenant = "(another tenant)";
    }
    int rc = sec_policy_check(&c->who, (sec_perm)r->access, tenant, region);
    if (rc) {
      deny(c->req, rc);
      loom_free(c);
      return;
    }
    if (r->fn == api_query && c->scope) {
      const char *q = http_req_param(c->req, "q");
      char msg[256] = "";
      rc = q ? api_query_guard(&c->who, c->db_name, q, strlen(q), http_req_param(c->req, "db"),
                               msg, sizeof msg)
             : 0;
      if (rc == 1) {
        answer_show_databases(c->req, c->db_name);
        loom_free(c);
        return;
      }
      if (rc && rc != LOOM_EINVAL) {
        http_respond_error(c->req, rc == LOOM_ENOTFOUND ? 404 : 403, msg);
        loom_free(c);
        return;
      }
    }
  }
  run_handler(c, idx, on_worker);
}

typedef struct lookup_job {
  api_call *c;
  size_t idx;
  uint8_t hash[SEC_TOKEN_HASH_LEN];
} lookup_job;

static void lookup_run(void *arg) {
  lookup_job *j = arg;
  api_call *c = j->c;
  api_who w;
  int rc = api_who_lookup(c->api->principals, c->api->meta, j->hash, loom_mono_ns() / 1000000,
                          loom_now_ns() / 1000000, &w);
  if (rc == LOOM_EAUTH) {
    unauthorized(c->req, "authorization failed: the token is unknown, revoked or expired");
    loom_free(c);
  } else if (rc) {
    if (is_mgmt(http_req_path(c->req))) api_error_rc(c->req, rc, "token look-up failed");
    else http_respond_error(c->req, 500, "token look-up failed");
    loom_free(c);
  } else {
    authorize(c, j->idx, &w, true);
  }
  loom_free(j);
}

void api_handle(http_req *req, void *user) {
  loom_api *api = user;
  size_t idx;
  unsigned allowed = 0;
  const char *path = http_req_path(req);
  int rc = route_match(http_req_method_bit(req), path, &idx, &allowed);
  if (rc) {
    if (rc == LOOM_EUNSUP) {
      char allow[80];
      http_router_allow_format(allowed, allow, sizeof allow);
      http_req_add_header(req, "Allow", allow);
    }
    int status = rc == LOOM_EUNSUP ? 405 : 404;
    const char *msg = rc == LOOM_EUNSUP ? "method not allowed" : "not found";
    if (is_mgmt(path)) api_error(req, status, msg);
    else http_respond_error(req, status, msg);
    return;
  }
  const api_route *r = &routes[idx];
  if (r->fn && (r->access == PUBLIC || r->access == DEVTOK)) {
    r->fn(req, api);
    return;
  }
  api_call *c = loom_calloc(1, sizeof *c);
  if (!c) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  c->api = api;
  c->req = req;
  match_path(r->path, path, c);
  if (r->access == PUBLIC || r->access == DEVTOK) {
    run_handler(c, idx, false);
    return;
  }
  char token[512];
  api_who w;
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  int who = API_WHO_ANONYMOUS;
  if (!sec_auth_extract(http_req_header(req, "authorization"), http_req_param(req, "p"), token,
                        sizeof token))
    who = api_who_fast(api->principals, api->auth, token, hash, loom_mono_ns() / 1000000, &w);
  if (who == API_WHO_OK) {
    authorize(c, idx, &w, false);
    return;
  }
  if (who == API_WHO_LOOKUP && api->meta) {
    lookup_job *j = loom_malloc(sizeof *j);
    if (j) {
      j->c = c;
      j->idx = idx;
      memcpy(j->hash, hash, sizeof hash);
      if (!loom_workpool_submit(api->pool, lookup_run, j)) return;
      loom_free(j);
    }
    http_respond_error(req, 503, "server is stopping or out of memory");
    loom_free(c);
    return;
  }
  unauthorized(req, "authorization failed: a valid API token is required "
                    "(Authorization: Token <token>)");
  loom_free(c);
}
