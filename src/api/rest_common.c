/* SPDX-License-Identifier: Apache-2.0
 * What every management handler shares: JSON answers and errors with stable
 * codes, the request body as an object, audit appends, list parameters in
 * ThingsBoard's names, and the generic CRUD handlers (list, create, get,
 * update, delete) that the route table points at for plain entities
 * (assets, device profiles and their keys, devices). Worker threads only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/principal.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"

int api_init(loom_api *api) {
  sec_password_limits_default(&api->pw_limits);
  if (api_principals_new(&api->principals)) return LOOM_ENOMEM;
  if (sec_backoff_new(NULL, &api->backoff)) {
    api_principals_free(api->principals);
    api->principals = NULL;
    return LOOM_ENOMEM;
  }
  if (api_links_new(&api->links)) {
    sec_backoff_free(api->backoff);
    api_principals_free(api->principals);
    api->backoff = NULL;
    api->principals = NULL;
    return LOOM_ENOMEM;
  }
  pthread_mutex_init(&api->backoff_lock, NULL);
  return 0;
}

void api_deinit(loom_api *api) {
  if (!api->principals) return;
  api_principals_free(api->principals);
  sec_backoff_free(api->backoff);
  api_links_free(api->links);
  pthread_mutex_destroy(&api->backoff_lock);
  api->principals = NULL;
  api->backoff = NULL;
  api->links = NULL;
}

/* ---- answers ---- */

void api_reply_json(http_req *req, int status, json_t *body) {
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!s) {
    api_error(req, 500, "out of memory");
    return;
  }
  http_respond(req, status, "application/json", s, strlen(s));
  free(s);
}

static const char *code_of(int status) {
  switch (status) {
  case 400: return "bad_request";
  case 401: return "unauthorized";
  case 403: return "forbidden";
  case 404: return "not_found";
  case 405: return "method_not_allowed";
  case 409: return "conflict";
  case 429: return "too_many_requests";
  case 503: return "unavailable";
  default: return "internal";
  }
}

void api_error(http_req *req, int status, const char *msg) {
  json_t *v = json_pack("{s:{s:s,s:s}}", "error", "code", code_of(status), "message",
                        msg && *msg ? msg : code_of(status));
  char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (s) http_respond(req, status, "application/json", s, strlen(s));
  else http_respond_error(req, status, msg ? msg : "error");
  free(s);
}

void api_error_rc(http_req *req, int rc, const char *msg) {
  int status = rc == LOOM_EINVAL || rc == LOOM_EUNSUP ? 400
               : rc == LOOM_EAUTH                    ? 401
               : rc == LOOM_EPERM                    ? 403
               : rc == LOOM_ENOTFOUND                ? 404
               : rc == LOOM_EEXIST                   ? 409
               : rc == LOOM_EAGAIN                   ? 429
                                                     : 500;
  api_error(req, status, msg && *msg ? msg : loom_strerror(rc));
}

int api_body_object(api_call *c, json_t **out) {
  size_t len;
  const uint8_t *body = http_req_body(c->req, &len);
  json_error_t je;
  json_t *v = len ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je) : json_object();
  if (!v || !json_is_object(v)) {
    char msg[256];
    snprintf(msg, sizeof msg, "the body must be a JSON object%s%s", v ? "" : ": ", v ? "" : je.text);
    json_decref(v);
    api_error(c->req, 400, msg);
    return LOOM_EINVAL;
  }
  *out = v;
  return 0;
}

/* ---- audit ---- */

int api_audit_raw(loom_api *api, http_req *req, const char *actor, const char *tenant,
                  const char *action, const char *target, const char *outcome,
                  const char *detail) {
  if (!api->audit) return LOOM_EIO;
  char addr[64];
  snprintf(addr, sizeof addr, "%s", req ? http_req_remote(req) : "");
  char *colon = strrchr(addr, ':'); /* drop the port ("1.2.3.4:5" / "[::1]:5") */
  if (colon) *colon = 0;
  char *a = addr;
  if (*a == '[') {
    a++;
    char *rb = strchr(a, ']');
    if (rb) *rb = 0;
  }
  sec_audit_event ev = {.actor = actor,
                        .tenant = tenant && *tenant ? tenant : NULL,
                        .action = action,
                        .target = target && *target ? target : NULL,
                        .outcome = outcome,
                        .detail = detail && *detail ? detail : NULL,
                        .address = *a ? a : NULL};
  return sec_audit_append(api->audit, &ev, 0, NULL);
}

int api_audit(api_call *c, const char *tenant, const char *action, const char *target,
              const char *outcome, const char *detail) {
  char actor[64];
  if (c->who.kind == SEC_PRINCIPAL_DEVICE) snprintf(actor, sizeof actor, "device:%s", c->who.subject_id);
  else if (!c->token_id[0]) snprintf(actor, sizeof actor, "token:admin");
  else snprintf(actor, sizeof actor, "user:%s", c->who.subject_id);
  if (!tenant && c->scope && strcmp(c->scope, API_SCOPE_NONE)) tenant = c->scope;
  int rc = api_audit_raw(c->api, c->req, actor, tenant, action, target, outcome, detail);
  return rc;
}

/* ---- list parameters ---- */

/* "createdTime" and camelCase names -> snake_case column names. */
static void snake(const char *in, char *out, size_t cap) {
  if (!strcmp(in, "createdTime")) in = "created_ms";
  size_t n = 0;
  for (; *in && n + 2 < cap; in++) {
    if (isupper((unsigned char)*in)) {
      out[n++] = '_';
      out[n++] = (char)tolower((unsigned char)*in);
    } else {
      out[n++] = *in;
    }
  }
  out[n] = 0;
}

static void camel(const char *in, char *out, size_t cap) {
  size_t n = 0;
  for (; *in && n + 1 < cap; in++) {
    if (*in == '_' && in[1]) out[n++] = (char)toupper((unsigned char)*++in);
    else out[n++] = *in;
  }
  out[n] = 0;
}

static int parse_u32(const char *s, uint32_t *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (!*s || *end || v > 1000000000UL) return -1;
  *out = (uint32_t)v;
  return 0;
}

int api_list_query(api_call *c, meta_kind kind, meta_query *q, meta_filter *filters, char *err,
                   size_t errlen) {
  memset(q, 0, sizeof *q);
  http_req *req = c->req;
  const char *v;
  if ((v = http_req_param(req, "pageSize")) && parse_u32(v, &q->page_size)) {
    snprintf(err, errlen, "pageSize must be a number");
    return LOOM_EINVAL;
  }
  if ((v = http_req_param(req, "page")) && parse_u32(v, &q->page)) {
    snprintf(err, errlen, "page must be a number");
    return LOOM_EINVAL;
  }
  q->text_search = http_req_param(req, "textSearch");
  if (q->text_search && !*q->text_search) q->text_search = NULL;
  if ((v = http_req_param(req, "sortProperty")) && *v) {
    /* the column name must outlive q: find it in the entity's fields */
    char name[64];
    snake(v, name, sizeof name);
    meta_field_info f[32];
    size_t n = meta_fields(kind, f, 32);
    q->sort_property = name; /* replaced below by the static name */
    for (size_t i = 0; i < n && i < 32; i++)
      if (!strcmp(f[i].name, name)) q->sort_property = f[i].name;
    if (q->sort_property == name) {
      snprintf(err, errlen, "sortProperty: unknown field \"%.64s\"", v);
      return LOOM_EINVAL;
    }
  }
  if ((v = http_req_param(req, "sortOrder"))) {
    if (!strcasecmp(v, "DESC")) q->sort_desc = true;
    else if (strcasecmp(v, "ASC")) {
      snprintf(err, errlen, "sortOrder must be ASC or DESC");
      return LOOM_EINVAL;
    }
  }
  meta_field_info f[32];
  size_t n = meta_fields(kind, f, 32);
  size_t nf = 0;
  for (size_t i = 0; i < n && i < 32; i++) {
    if (!f[i].filterable) continue;
    char cm[64];
    camel(f[i].name, cm, sizeof cm);
    v = http_req_param(req, f[i].name);
    if (!v) v = http_req_param(req, cm);
    if (!v) continue;
    if (nf == API_FILTERS_MAX) {
      snprintf(err, errlen, "at most %d filters", API_FILTERS_MAX);
      return LOOM_EINVAL;
    }
    filters[nf].field = f[i].name;
    filters[nf].value = strcmp(v, "null") ? v : NULL;
    nf++;
  }
  q->filters = filters;
  q->n_filters = nf;
  return 0;
}

/* ---- generic CRUD ---- */

static const char *str_or_empty(const json_t *v) {
  const char *s = json_string_value(v);
  return s ? s : "";
}

static const char *kind_label(int kind) { return meta_kind_name((meta_kind)kind); }

static void action_name(char *out, size_t cap, int kind, const char *verb) {
  snprintf(out, cap, "%s.%s", kind_label(kind), verb);
}

/* List with an extra equality filter (parent) when parent_field is set. */
static void list_with(api_call *c, meta_kind kind, const char *parent_field, const char *parent) {
  meta_query q;
  meta_filter filters[API_FILTERS_MAX + 1];
  char err[256] = "";
  int rc = api_list_query(c, kind, &q, filters, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return;
  }
  if (parent_field) {
    filters[q.n_filters].field = parent_field;
    filters[q.n_filters].value = parent;
    q.n_filters++;
  }
  json_t *page = NULL;
  rc = meta_list(c->api->meta, kind, c->scope, &q, &page, err, sizeof err);
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, page);
}

void rest_list(api_call *c) { list_with(c, (meta_kind)c->arg, NULL, NULL); }

/* Create from in (consumed), auditing first; secrets may be NULL. On
 * success *out (if out) receives the entity, else it is answered 201. */
int rest_do_create(api_call *c, meta_kind kind, json_t *in, const json_t *secrets, json_t **out) {
  char action[64], err[256] = "";
  action_name(action, sizeof action, (int)kind, "create");
  const char *label = json_string_value(json_object_get(in, kind == META_USER ? "email" : "name"));
  const char *tenant = c->scope ? c->scope : json_string_value(json_object_get(in, "tenant_id"));
  int rc = api_audit(c, tenant, action, label, "success", NULL);
  if (rc) {
    json_decref(in);
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    return rc;
  }
  json_t *ent = NULL;
  rc = meta_create(c->api->meta, kind, c->scope, in, secrets, &ent, err, sizeof err);
  if (rc) {
    api_audit(c, tenant, action, label, "failure", err); /* label and tenant live in `in` */
    json_decref(in);
    api_error_rc(c->req, rc, err);
    return rc;
  }
  json_decref(in);
  if (out) *out = ent;
  else api_reply_json(c->req, 201, ent);
  return 0;
}

void rest_create(api_call *c) {
  json_t *in;
  if (api_body_object(c, &in)) return;
  rest_do_create(c, (meta_kind)c->arg, in, NULL, NULL);
}

void rest_get(api_call *c) {
  json_t *ent = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, (meta_kind)c->arg, c->scope, api_param(c, "id"), &ent, err,
                    sizeof err);
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, ent);
}

/* Update entity id from in (consumed) with secrets (may be NULL), auditing
 * first; answers 200 with the entity unless out is given. */
int rest_do_update(api_call *c, meta_kind kind, const char *id, json_t *in,
                   const json_t *secrets, const char *action_as, const char *detail, json_t **out) {
  char action[64], err[256] = "";
  if (action_as) snprintf(action, sizeof action, "%s", action_as);
  else action_name(action, sizeof action, (int)kind, "update");
  /* audit names the fields changed, never their values (secrets) */
  char fields[512] = "";
  size_t fl = 0;
  const char *k;
  json_t *v;
  json_object_foreach(in, k, v) {
    int w = snprintf(fields + fl, sizeof fields - fl, "%s%s", fl ? "," : "", k);
    if (w < 0 || (size_t)w >= sizeof fields - fl) break;
    fl += (size_t)w;
  }
  char det[700];
  snprintf(det, sizeof det, "%s%s%s", fields, detail && *fields ? "; " : "", detail ? detail : "");
  /* the entity's tenant for the audit record: it must exist in scope */
  json_t *cur = NULL;
  int rc = meta_get(c->api->meta, kind, c->scope, id, &cur, err, sizeof err);
  if (rc) {
    json_decref(in);
    api_error_rc(c->req, rc, err);
    return rc;
  }
  char tenant[64];
  snprintf(tenant, sizeof tenant, "%s",
           kind == META_TENANT ? id : str_or_empty(json_object_get(cur, "tenant_id")));
  json_decref(cur);
  if ((rc = api_audit(c, tenant, action, id, "success", det))) {
    json_decref(in);
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    return rc;
  }
  json_t *ent = NULL;
  rc = meta_update(c->api->meta, kind, c->scope, id, in, secrets, &ent, err, sizeof err);
  json_decref(in);
  if (rc) {
    api_audit(c, tenant, action, id, "failure", err);
    api_error_rc(c->req, rc, err);
    return rc;
  }
  if (out) *out = ent;
  else api_reply_json(c->req, 200, ent);
  return 0;
}

void rest_update(api_call *c) {
  json_t *in;
  if (api_body_object(c, &in)) return;
  rest_do_update(c, (meta_kind)c->arg, api_param(c, "id"), in, NULL, NULL, NULL, NULL);
}

/* Delete id, auditing first; answers 204 unless quiet. */
int rest_do_delete(api_call *c, meta_kind kind, const char *id, bool quiet) {
  char action[64], err[256] = "";
  action_name(action, sizeof action, (int)kind, "delete");
  json_t *cur = NULL;
  int rc = meta_get(c->api->meta, kind, c->scope, id, &cur, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return rc;
  }
  char tenant[64];
  snprintf(tenant, sizeof tenant, "%s",
           kind == META_TENANT ? id : str_or_empty(json_object_get(cur, "tenant_id")));
  json_decref(cur);
  if ((rc = api_audit(c, tenant, action, id, "success", NULL))) {
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    return rc;
  }
  rc = meta_delete(c->api->meta, kind, c->scope, id, err, sizeof err);
  if (rc) {
    api_audit(c, tenant, action, id, "failure", err);
    api_error_rc(c->req, rc, err);
    return rc;
  }
  if (!quiet) http_respond(c->req, 204, NULL, NULL, 0);
  return 0;
}

void rest_delete(api_call *c) { rest_do_delete(c, (meta_kind)c->arg, api_param(c, "id"), false); }

/* ---- children of a profile: /device-profiles/{id}/keys[/{keyId}] ---- */

/* The parent profile must be visible: 404 otherwise. */
static bool parent_ok(api_call *c) {
  json_t *p = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_PROFILE, c->scope, api_param(c, "id"), &p, err, sizeof err);
  json_decref(p);
  if (rc) api_error_rc(c->req, rc, err);
  return rc == 0;
}

/* The key must belong to the profile in the path. */
static bool key_ok(api_call *c) {
  json_t *k = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_PROFILE_KEY, c->scope, api_param(c, "keyId"), &k, err,
                    sizeof err);
  if (!rc) {
    const char *pid = json_string_value(json_object_get(k, "profile_id"));
    if (!pid || strcmp(pid, api_param(c, "id"))) rc = LOOM_ENOTFOUND;
  }
  json_decref(k);
  if (rc) api_error_rc(c->req, rc, rc == LOOM_ENOTFOUND ? "not found" : err);
  return rc == 0;
}

void rest_key_list(api_call *c) {
  if (parent_ok(c)) list_with(c, META_PROFILE_KEY, "profile_id", api_param(c, "id"));
}

void rest_key_create(api_call *c) {
  if (!parent_ok(c)) return;
  json_t *in;
  if (api_body_object(c, &in)) return;
  json_object_set_new(in, "profile_id", json_string(api_param(c, "id")));
  if (!c->scope) { /* platform callers: the profile's tenant */
    json_t *p = NULL;
    if (!meta_get(c->api->meta, META_PROFILE, NULL, api_param(c, "id"), &p, NULL, 0))
      json_object_set(in, "tenant_id", json_object_get(p, "tenant_id"));
    json_decref(p);
  }
  rest_do_create(c, META_PROFILE_KEY, in, NULL, NULL);
}

void rest_key_get(api_call *c) {
  if (!key_ok(c)) return;
  json_t *ent = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_PROFILE_KEY, c->scope, api_param(c, "keyId"), &ent, err,
                    sizeof err);
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, ent);
}

void rest_key_update(api_call *c) {
  if (!key_ok(c)) return;
  json_t *in;
  if (api_body_object(c, &in)) return;
  rest_do_update(c, META_PROFILE_KEY, api_param(c, "keyId"), in, NULL, NULL, NULL, NULL);
}

void rest_key_delete(api_call *c) {
  if (key_ok(c)) rest_do_delete(c, META_PROFILE_KEY, api_param(c, "keyId"), false);
}
