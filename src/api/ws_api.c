/* SPDX-License-Identifier: Apache-2.0
 * GET /api/v1/ws: the management WebSocket (protocol in ws_api.h). The
 * upgrade is accepted on the loop thread; every client message is handled
 * on the worker pool, one at a time per session (a session's messages are
 * answered in order); live events arrive from the hub on the publishing
 * thread and are queued on the socket (a client that cannot keep up is
 * closed with 1008 "too slow"). Revocation: the session is registered in
 * the hub's session registry by token id and user id, and rechecks its
 * token once a second (expiry).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/principal.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "http/ws.h"
#include "live/hub.h"

#define WS_MAX_SUBS 256     /* subscription entries (devices) per session */
#define WS_ASSET_DEVICES 100 /* devices of one asset subscribed at most */
#define WS_RECHECK_MS 1000

typedef struct inmsg {
  struct inmsg *next;
  size_t len;
  char data[];
} inmsg;

typedef struct ws_session ws_session;

/* One device of one subscription: the hub's user pointer. */
typedef struct sub_dev {
  ws_session *s;
  int id;
  live_kind kind;
  live_sub *sub;
  json_t *keys; /* NULL: every key; else an array of strings (shared by the subscription's devices) */
  char device_id[META_ID_LEN + 1];
} sub_dev;

struct ws_session {
  loom_api *api;
  http_ws *ws;
  atomic_int refs;
  pthread_mutex_t imu; /* guards the inbox and job_running (never held across I/O) */
  inmsg *in_head, *in_tail;
  int job_running;
  atomic_int closed;
  pthread_mutex_t mu; /* guards everything below (held by the worker handling a message) */
  int authed;
  int checking;
  api_who who;
  char scope[SEC_ID_MAX];
  int scope_kind; /* 0: platform (NULL scope), 1: tenant, 2: none */
  char token[512];
  int64_t checked_ms;
  live_session *reg;
  sub_dev *subs[WS_MAX_SUBS];
  size_t n_subs;
};

static void session_release(ws_session *s) {
  if (atomic_fetch_sub(&s->refs, 1) != 1) return;
  for (inmsg *m = s->in_head, *n; m; m = n) {
    n = m->next;
    loom_free(m);
  }
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->imu);
  if (s->ws) http_ws_release(s->ws);
  explicit_bzero(s->token, sizeof s->token);
  loom_free(s);
}

/* ---- sending ---- */

static void send_json(ws_session *s, json_t *v) {
  char *t = v ? json_dumps(v, JSON_COMPACT) : NULL;
  if (t) {
    if (http_ws_send_text(s->ws, t, strlen(t)) == LOOM_EAGAIN)
      http_ws_close(s->ws, HTTP_WS_POLICY, "too slow");
    free(t);
  }
  json_decref(v);
}

static const char *code_of(int rc) {
  switch (rc) {
  case LOOM_EAUTH: return "unauthorized";
  case LOOM_EPERM: return "forbidden";
  case LOOM_ENOTFOUND: return "not_found";
  case LOOM_EINVAL: return "bad_request";
  case LOOM_EEXIST: return "conflict";
  case LOOM_ERANGE: return "too_many";
  default: return "internal";
  }
}

/* {"id":id,"ok":false,"error":{"code":..,"message":..}} (id omitted when < 0). */
static void send_error(ws_session *s, json_int_t id, int rc, const char *msg) {
  json_t *v = json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code_of(rc), "message",
                        msg && *msg ? msg : loom_strerror(rc));
  if (v && id >= 0) json_object_set_new(v, "id", json_integer(id));
  send_json(s, v);
}

/* ---- live events (publisher's thread) ---- */

static int on_event(void *user, const live_event *ev) {
  sub_dev *d = user;
  json_t *vals = json_loadb(ev->json, ev->json_len, 0, NULL);
  if (!vals) return 0;
  if (d->keys && json_is_object(vals)) {
    json_t *f = json_object();
    size_t i;
    json_t *k;
    json_array_foreach(d->keys, i, k) {
      json_t *x = json_object_get(vals, json_string_value(k));
      if (x) json_object_set(f, json_string_value(k), x);
    }
    json_decref(vals);
    vals = f;
    if (json_object_size(vals) == 0) {
      json_decref(vals);
      return 0;
    }
  }
  json_t *v = json_pack("{s:i,s:s,s:s,s:I}", "sub", d->id, "type",
                        d->kind == LIVE_TELEMETRY ? "telemetry" : d->kind == LIVE_STATE ? "state" : "rpc",
                        "device_id", d->device_id, "ts", (json_int_t)(ev->ts_ns / 1000000));
  if (!v) {
    json_decref(vals);
    return 0;
  }
  if (d->kind == LIVE_TELEMETRY) json_object_set_new(v, "values", vals);
  else json_object_update(v, vals), json_decref(vals);
  char *t = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  if (!t) return 0;
  int rc = http_ws_send_text(d->s->ws, t, strlen(t));
  free(t);
  if (rc == LOOM_EAGAIN) {
    http_ws_close(d->s->ws, HTTP_WS_POLICY, "too slow");
    return 1;
  }
  return 0;
}

static void kick(void *user, int code, const char *reason) {
  ws_session *s = user;
  http_ws_close(s->ws, code, reason);
}

/* ---- requests (worker thread, s->mu held) ---- */

static const char *scope_of(const ws_session *s) {
  return s->scope_kind == 0 ? NULL : s->scope_kind == 1 ? s->scope : API_SCOPE_NONE;
}

static int authenticate(ws_session *s) {
  loom_api *api = s->api;
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  api_who w;
  int rc = api_who_fast(api->principals, api->auth, s->token, hash, loom_mono_ns() / 1000000, &w);
  if (rc == API_WHO_LOOKUP && api->meta)
    rc = api_who_lookup(api->principals, api->meta, hash, loom_mono_ns() / 1000000,
                        loom_now_ns() / 1000000, &w) == 0 ? API_WHO_OK : API_WHO_ANONYMOUS;
  if (rc != API_WHO_OK) return LOOM_EAUTH;
  if (!s->authed) {
    s->who = w;
    s->scope_kind = w.p.role == SEC_ROLE_PLATFORM_ADMIN ? 0 : w.p.tenant_id[0] ? 1 : 2;
    snprintf(s->scope, sizeof s->scope, "%s", w.p.tenant_id);
    const char *user = w.p.kind == SEC_PRINCIPAL_DEVICE ? "" : w.p.subject_id;
    if (live_session_add(api->live, w.token_id, user, kick, s, &s->reg)) return LOOM_ENOMEM;
    s->authed = 1;
  }
  s->checked_ms = loom_mono_ns() / 1000000;
  return 0;
}

static int perm_of(live_kind k) {
  return k == LIVE_TELEMETRY ? SEC_PERM_TELEMETRY_READ
         : k == LIVE_STATE   ? SEC_PERM_DEVICE_READ
                             : SEC_PERM_RPC_READ;
}

static int find_sub(const ws_session *s, json_int_t id) {
  for (size_t i = 0; i < s->n_subs; i++)
    if (s->subs[i]->id == id) return (int)i;
  return -1;
}

static void drop_sub(ws_session *s, json_int_t id) {
  json_t *keys = NULL;
  for (size_t i = 0; i < s->n_subs;) {
    sub_dev *d = s->subs[i];
    if (d->id != id) {
      i++;
      continue;
    }
    live_unsubscribe(s->api->live, d->sub);
    keys = d->keys;
    loom_free(d);
    s->subs[i] = s->subs[--s->n_subs];
  }
  json_decref(keys);
}

/* Resolve a device visible to the session: its tenant's database and name. */
static int device_target(ws_session *s, const char *id, char *db, size_t dbcap, char *name,
                         size_t namecap, char *tenant, char *region, char *err, size_t errlen) {
  json_t *d = NULL, *t = NULL;
  meta_store *m = s->api->meta;
  int rc = meta_get(m, META_DEVICE, scope_of(s), id, &d, err, errlen);
  if (!rc)
    rc = meta_get(m, META_TENANT, NULL, json_string_value(json_object_get(d, "tenant_id")), &t, err,
                  errlen);
  if (!rc) {
    snprintf(db, dbcap, "%s", json_string_value(json_object_get(t, "db_name")));
    snprintf(name, namecap, "%s", json_string_value(json_object_get(d, "name")));
    snprintf(tenant, SEC_ID_MAX, "%s", json_string_value(json_object_get(t, "id")));
    const char *r = json_string_value(json_object_get(t, "region_code"));
    snprintf(region, SEC_REGION_MAX, "%s", r ? r : "");
  }
  json_decref(d);
  json_decref(t);
  return rc;
}

static int subscribe_device(ws_session *s, json_int_t id, live_kind kind, const char *device_id,
                            json_t *keys, char *err, size_t errlen) {
  char db[80], name[300], tenant[SEC_ID_MAX], region[SEC_REGION_MAX];
  int rc = device_target(s, device_id, db, sizeof db, name, sizeof name, tenant, region, err, errlen);
  if (rc) return rc;
  rc = sec_policy_check(&s->who.p, (sec_perm)perm_of(kind), tenant, region[0] ? region : NULL);
  if (rc) return rc;
  if (s->n_subs >= WS_MAX_SUBS) {
    snprintf(err, errlen, "at most %d subscribed devices per connection", WS_MAX_SUBS);
    return LOOM_ERANGE;
  }
  sub_dev *d = loom_calloc(1, sizeof *d);
  if (!d) return LOOM_ENOMEM;
  d->s = s;
  d->id = (int)id;
  d->kind = kind;
  d->keys = keys;
  snprintf(d->device_id, sizeof d->device_id, "%s", device_id);
  rc = kind == LIVE_TELEMETRY ? live_subscribe(s->api->live, kind, db, name, on_event, d, &d->sub)
                              : live_subscribe(s->api->live, kind, tenant, device_id, on_event, d, &d->sub);
  if (rc) {
    loom_free(d);
    return rc;
  }
  s->subs[s->n_subs++] = d;
  return 0;
}

static int subscribe_asset(ws_session *s, json_int_t id, live_kind kind, const char *asset_id,
                           json_t *keys, char *err, size_t errlen) {
  json_t *a = NULL, *page = NULL;
  int rc = meta_get(s->api->meta, META_ASSET, scope_of(s), asset_id, &a, err, errlen);
  json_decref(a);
  if (rc) return rc;
  meta_filter f = {"asset_id", asset_id};
  meta_query q = {0, WS_ASSET_DEVICES, NULL, NULL, false, &f, 1};
  rc = meta_list(s->api->meta, META_DEVICE, scope_of(s), &q, &page, err, errlen);
  size_t i;
  json_t *dv;
  json_array_foreach(json_object_get(page, "data"), i, dv) {
    if (rc) break;
    rc = subscribe_device(s, id, kind, json_string_value(json_object_get(dv, "id")), keys, err,
                          errlen);
  }
  json_decref(page);
  return rc;
}

static void handle_subscribe(ws_session *s, json_t *msg, json_int_t id) {
  const char *type = json_string_value(json_object_get(msg, "type"));
  const char *dev = json_string_value(json_object_get(msg, "device_id"));
  const char *asset = json_string_value(json_object_get(msg, "asset_id"));
  json_t *keys = json_object_get(msg, "keys");
  live_kind kind = 0;
  if (type && !strcmp(type, "telemetry")) kind = LIVE_TELEMETRY;
  else if (type && !strcmp(type, "state")) kind = LIVE_STATE;
  else if (type && !strcmp(type, "rpc")) kind = LIVE_RPC;
  if (!kind) return send_error(s, id, LOOM_EINVAL, "type must be telemetry, state or rpc");
  if (!dev == !asset) return send_error(s, id, LOOM_EINVAL, "give exactly one of device_id and asset_id");
  if (keys && !json_is_array(keys)) return send_error(s, id, LOOM_EINVAL, "keys must be an array of strings");
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) if (!json_is_string(k))
    return send_error(s, id, LOOM_EINVAL, "keys must be an array of strings");
  if (find_sub(s, id) >= 0) return send_error(s, id, LOOM_EEXIST, "subscription id already in use");
  /* the same decision as REST: first on the principal's own tenant (a
   * regional observer stops here), then on the device's */
  int rc = sec_policy_check(&s->who.p, (sec_perm)perm_of(kind),
                            s->who.p.tenant_id[0] ? s->who.p.tenant_id : NULL,
                            s->who.p.region_code[0] ? s->who.p.region_code : NULL);
  if (rc) return send_error(s, id, rc, rc == LOOM_EPERM ? "forbidden: your role or token scope does not allow this" : NULL);
  json_t *kc = keys && json_array_size(keys) ? json_deep_copy(keys) : NULL;
  char err[256] = "";
  rc = dev ? subscribe_device(s, id, kind, dev, kc, err, sizeof err)
           : subscribe_asset(s, id, kind, asset, kc, err, sizeof err);
  if (rc) {
    int owned = find_sub(s, id) >= 0;
    drop_sub(s, id); /* releases kc when a device took it */
    if (!owned) json_decref(kc);
    if (rc == LOOM_ENOTFOUND) snprintf(err, sizeof err, "not found");
    return send_error(s, id, rc, err);
  }
  if (find_sub(s, id) < 0) json_decref(kc); /* an asset without devices */
  send_json(s, json_pack("{s:I,s:b}", "id", id, "ok", 1));
}

static void handle(ws_session *s, const char *data, size_t len) {
  json_error_t je;
  json_t *msg = json_loadb(data, len, 0, &je);
  if (!json_is_object(msg)) {
    json_decref(msg);
    return send_error(s, -1, LOOM_EINVAL, "invalid JSON: expected an object");
  }
  json_t *auth = json_object_get(msg, "auth");
  json_t *jid = json_object_get(msg, "id");
  json_int_t id = json_is_integer(jid) ? json_integer_value(jid) : -1;
  const char *cmd = json_string_value(json_object_get(msg, "cmd"));
  if (auth) {
    const char *tok = json_string_value(json_object_get(auth, "token"));
    if (s->authed) send_error(s, id, LOOM_EINVAL, "already authenticated");
    else if (!tok || strlen(tok) >= sizeof s->token) send_error(s, id, LOOM_EINVAL, "auth.token missing");
    else {
      snprintf(s->token, sizeof s->token, "%s", tok);
      if (authenticate(s) == 0) send_json(s, json_pack("{s:s}", "auth", "ok"));
      else {
        send_error(s, id, LOOM_EAUTH, "authentication failed: unknown, revoked or expired token");
        http_ws_close(s->ws, HTTP_WS_POLICY, "authentication failed");
      }
    }
  } else if (!s->authed) {
    send_error(s, id, LOOM_EAUTH, "authenticate first: {\"auth\":{\"token\":\"...\"}}");
  } else if (!cmd) {
    send_error(s, id, LOOM_EINVAL, "cmd missing");
  } else if (id < 0 || id > 0x7fffffff) {
    send_error(s, -1, LOOM_EINVAL, "id must be a non-negative integer");
  } else if (!strcmp(cmd, "subscribe")) {
    if (!s->api->meta || !s->api->live) send_error(s, id, LOOM_EIO, "the registry is not open");
    else handle_subscribe(s, msg, id);
  } else if (!strcmp(cmd, "unsubscribe")) {
    if (find_sub(s, id) < 0) send_error(s, id, LOOM_ENOTFOUND, "no such subscription");
    else {
      drop_sub(s, id);
      send_json(s, json_pack("{s:I,s:b}", "id", id, "ok", 1));
    }
  } else {
    send_error(s, id, LOOM_EINVAL, "unknown cmd (subscribe, unsubscribe)");
  }
  json_decref(msg);
}

/* Worker: drain the session's inbox in order. */
static void job(void *arg) {
  ws_session *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->imu);
    inmsg *m = s->closed ? NULL : s->in_head;
    if (!m) {
      s->job_running = 0;
      pthread_mutex_unlock(&s->imu);
      break;
    }
    s->in_head = m->next;
    if (!s->in_head) s->in_tail = NULL;
    pthread_mutex_unlock(&s->imu);
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->closed)) { /* on_close has run: nothing may be registered any more */
    } else if (m->len == 0) { /* token from the upgrade request */
      if (authenticate(s) == 0) send_json(s, json_pack("{s:s}", "auth", "ok"));
      else {
        send_error(s, -1, LOOM_EAUTH, "authentication failed: unknown, revoked or expired token");
        http_ws_close(s->ws, HTTP_WS_POLICY, "authentication failed");
      }
    } else {
      handle(s, m->data, m->len);
    }
    pthread_mutex_unlock(&s->mu);
    loom_free(m);
  }
  session_release(s);
}

/* Queue a message (len 0: authenticate with s->token). Caller holds s->imu. */
static void enqueue(ws_session *s, const uint8_t *data, size_t len) {
  inmsg *m = loom_malloc(sizeof *m + len);
  if (!m) {
    http_ws_close(s->ws, HTTP_WS_INTERNAL, "out of memory");
    return;
  }
  m->next = NULL;
  m->len = len;
  if (len) memcpy(m->data, data, len);
  if (s->in_tail) s->in_tail->next = m;
  else s->in_head = m;
  s->in_tail = m;
  if (s->job_running) return;
  atomic_fetch_add(&s->refs, 1);
  if (loom_workpool_submit(s->api->pool, job, s)) {
    atomic_fetch_sub(&s->refs, 1);
    http_ws_close(s->ws, HTTP_WS_GOING_AWAY, "server stopping");
    return;
  }
  s->job_running = 1;
}

/* ---- connection callbacks (loop thread) ---- */

static void on_message(http_ws *ws, void *user, int is_text, const uint8_t *data, size_t len) {
  (void)ws;
  ws_session *s = user;
  if (len == 0 || !is_text) {
    send_error(s, -1, LOOM_EINVAL, "invalid JSON: expected a text message with an object");
    return;
  }
  pthread_mutex_lock(&s->imu);
  if (!s->closed) enqueue(s, data, len);
  pthread_mutex_unlock(&s->imu);
}

static void recheck_job(void *arg) {
  ws_session *s = arg;
  pthread_mutex_lock(&s->mu);
  if (!s->closed && s->authed && authenticate(s) != 0)
    http_ws_close(s->ws, HTTP_WS_POLICY, "token revoked or expired");
  s->checking = 0;
  pthread_mutex_unlock(&s->mu);
  session_release(s);
}

static void on_tick(http_ws *ws, void *user) {
  (void)ws;
  ws_session *s = user;
  /* trylock: the loop thread never waits for a worker's registry call */
  if (pthread_mutex_trylock(&s->mu)) return;
  int64_t now = loom_mono_ns() / 1000000;
  if (s->authed && !s->closed && !s->checking && now - s->checked_ms >= WS_RECHECK_MS) {
    atomic_fetch_add(&s->refs, 1);
    if (loom_workpool_submit(s->api->pool, recheck_job, s)) atomic_fetch_sub(&s->refs, 1);
    else s->checking = 1;
  }
  pthread_mutex_unlock(&s->mu);
}

static void on_close(http_ws *ws, void *user) {
  (void)ws;
  ws_session *s = user;
  atomic_store(&s->closed, 1);
  pthread_mutex_lock(&s->mu);
  while (s->n_subs) drop_sub(s, s->subs[0]->id);
  live_session_remove(s->api->live, s->reg);
  s->reg = NULL;
  pthread_mutex_unlock(&s->mu);
  session_release(s);
}

void api_ws(http_req *req, loom_api *api) {
  if (http_ws_check(req) < 0) {
    http_req_add_header(req, "Upgrade", "websocket");
    api_error(req, 426, "a WebSocket upgrade (Sec-WebSocket-Version: 13) is required");
    return;
  }
  if (!api->live || !api->pool) {
    api_error(req, 503, "live updates are not available");
    return;
  }
  ws_session *s = loom_calloc(1, sizeof *s);
  if (!s || pthread_mutex_init(&s->mu, NULL)) {
    loom_free(s);
    api_error(req, 503, "out of memory");
    return;
  }
  if (pthread_mutex_init(&s->imu, NULL)) {
    pthread_mutex_destroy(&s->mu);
    loom_free(s);
    api_error(req, 503, "out of memory");
    return;
  }
  s->api = api;
  atomic_init(&s->refs, 1); /* the connection's, dropped in on_close */
  char tok[512];
  int have_tok = 0;
  const char *qt = http_req_param(req, "token");
  if (qt && strlen(qt) < sizeof s->token) {
    snprintf(s->token, sizeof s->token, "%s", qt);
    have_tok = 1;
  } else if (!sec_auth_extract(http_req_header(req, "authorization"), NULL, tok, sizeof tok)) {
    snprintf(s->token, sizeof s->token, "%s", tok);
    have_tok = 1;
  }
  http_ws_options o = {0};
  o.max_message_bytes = 64 << 10;
  o.max_queued_bytes = 1 << 20;
  o.on_message = on_message;
  o.on_tick = on_tick;
  o.on_close = on_close;
  o.user = s;
  pthread_mutex_lock(&s->imu);
  int rc = http_ws_accept(req, &o, &s->ws);
  if (rc < 0) {
    pthread_mutex_unlock(&s->imu);
    pthread_mutex_destroy(&s->imu);
    pthread_mutex_destroy(&s->mu);
    loom_free(s);
    api_error(req, rc == LOOM_ENOMEM ? 503 : 400, "WebSocket upgrade failed");
    return;
  }
  if (have_tok) enqueue(s, NULL, 0);
  pthread_mutex_unlock(&s->imu);
}

/* ---- publishers ---- */

void api_live_publish(loom_api *api, live_kind kind, const char *tenant_id, const char *device_id,
                      json_t *body) {
  const char *db = tenant_id, *device = device_id;
  if (!api || !api->live || !db || !device || !live_hub_wants(api->live, kind, db)) {
    json_decref(body);
    return;
  }
  char *t = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!t) return;
  live_event ev = {kind, db, device, loom_now_ns(), t, strlen(t)};
  live_publish(api->live, &ev);
  free(t);
}
