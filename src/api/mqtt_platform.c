/* SPDX-License-Identifier: Apache-2.0
 * The MQTT broker's platform hooks (mqtt_platform.h): authentication on the
 * worker pool (registry look-ups and argon2 never run on the broker
 * thread), tenant namespaces and authorization in map_in / map_out, the
 * on_publish dispatcher (device topics -> mqtt_device.c, gateway topics ->
 * mqtt_gateway.c, Sparkplug -> the Sparkplug host, everything else routed
 * and stored when a unified-namespace rule matches), telemetry batches (one
 * per database, collected for a few ms, written to the engine by the
 * storage thread, each publish acknowledged when its batch is durable),
 * online state following
 * the connection, and revocation kicks (user tokens through the live
 * session registry, device credentials through the registry's change watch).
 */
#include "api/mqtt_platform_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mqtt_sparkplug.h"
#include "api/principal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "meta/watch.h"
#include "mqtt/topic.h"
#include "sec/backoff.h"
#include "sec/password.h"

#include "api/mqtt_rules.h"
#include "mqtt/uns.h"

#define MP_NAME_TTL_MS 60000     /* a (tenant, name) -> device look-up is kept this long */
#define MP_NAMES_MAX 4096        /* such look-ups cached at most (then start over) */
#define MP_NOTE_MS 1000          /* a device's activity is noted at most this often */
#define MP_REFRESH_MS 60000      /* connected devices' activity refreshed this often */
#define MP_WAITS_MAX 10000       /* publishes waiting for UNS rules to load, at most */
#define MP_WAIT_MS 5000          /* how long one waits before it is refused */
#define MP_CRED_MAX 512          /* longest user name / password looked at */
#define MP_DEFAULT_PROFILE "default"
#define MP_INFLIGHT_QOS0_MAX (64u << 20) /* telemetry bytes waiting for the engine past which QoS 0 is dropped */
#define MP_REFUSAL_LOG_MS 10000  /* a client's refused publishes are logged at most this often */
#define MP_NAME_CAP 256          /* a device name or measurement, with its NUL, at most */

static int64_t mono_ms(void) { return loom_mono_ns() / LOOM_NS_PER_MS; }
static int64_t wall_ms(void) { return loom_now_ns() / LOOM_NS_PER_MS; }

/* ---- jobs ------------------------------------------------------------------ */

int mp_job_begin(api_mqtt *p) {
  pthread_mutex_lock(&p->lock);
  int rc = p->stopping ? LOOM_ECLOSED : 0;
  if (!rc) p->inflight++;
  pthread_mutex_unlock(&p->lock);
  return rc;
}

void mp_job_end(api_mqtt *p) {
  pthread_mutex_lock(&p->lock);
  if (--p->inflight == 0) pthread_cond_broadcast(&p->idle);
  pthread_mutex_unlock(&p->lock);
}

int mp_submit(api_mqtt *p, void (*fn)(void *), void *arg) {
  int rc = mp_job_begin(p);
  if (rc) return rc;
  rc = loom_workpool_submit(p->api->pool, fn, arg);
  if (rc) mp_job_end(p);
  return rc;
}

int mp_publish(api_mqtt *p, const char *mount, const char *rest, const char *payload, size_t len) {
  mqtt_broker *b = atomic_load(&p->broker);
  if (!b) return LOOM_ECLOSED;
  char topic[1024];
  int n = snprintf(topic, sizeof topic, "%s%s", mount, rest);
  if (n < 0 || (size_t)n >= sizeof topic) return LOOM_EINVAL;
  return mqtt_broker_publish(b, topic, payload, len, 1, false);
}

int mp_publish_json(api_mqtt *p, const char *mount, const char *rest, json_t *body) {
  if (!body) return LOOM_ENOMEM;
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  if (!text) return LOOM_ENOMEM;
  int rc = mp_publish(p, mount, rest, text, strlen(text));
  free(text);
  return rc;
}

void mp_fail_later(api_mqtt *p, mqtt_ack_done_fn done, void *arg, uint8_t reason,
                   const char *msg) {
  if (p->n_fails == p->cap_fails) {
    size_t nc = p->cap_fails ? p->cap_fails * 2 : 16;
    mp_fail *f = loom_realloc(p->fails, nc * sizeof *f);
    if (!f) { /* cannot defer: answer now (the broker accepts any thread) */
      done(arg, reason, msg);
      return;
    }
    p->fails = f;
    p->cap_fails = nc;
  }
  mp_fail *f = &p->fails[p->n_fails++];
  f->done = done;
  f->arg = arg;
  f->reason = reason;
  snprintf(f->msg, sizeof f->msg, "%s", msg ? msg : "");
}

/* ---- presence (devices with MQTT connections, gateway children) --------- */

/* The entry of device_id, created when create; NULL if absent / no memory.
 * Lock held. */
mp_dev *mp_dev_get(api_mqtt *p, const char *device_id, bool create) {
  size_t len = strlen(device_id);
  uint64_t h = strmap_hash(device_id, len);
  uint32_t idx;
  if (strmap_get(&p->devs_map, device_id, len, h, &idx) == 0) return p->devs[idx];
  if (!create || len > META_ID_LEN) return NULL;
  if (p->n_devs == p->cap_devs) {
    size_t nc = p->cap_devs ? p->cap_devs * 2 : 64;
    mp_dev **d = loom_realloc(p->devs, nc * sizeof *d);
    if (!d) return NULL;
    p->devs = d;
    p->cap_devs = nc;
  }
  mp_dev *d = loom_calloc(1, sizeof *d);
  if (!d) return NULL;
  memcpy(d->device_id, device_id, len + 1);
  if (strmap_put(&p->devs_map, d->device_id, len, h, (uint32_t)p->n_devs)) {
    loom_free(d);
    return NULL;
  }
  p->devs[p->n_devs++] = d;
  return d;
}

/* Forget d when nothing holds it any more. Lock held. */
void mp_dev_maybe_drop(api_mqtt *p, mp_dev *d) {
  if (d->n_conns > 0 || d->gw_id[0] || d->busy) return;
  size_t len = strlen(d->device_id);
  uint32_t idx;
  if (strmap_get(&p->devs_map, d->device_id, len, strmap_hash(d->device_id, len), &idx)) return;
  strmap_del(&p->devs_map, d->device_id, len, strmap_hash(d->device_id, len));
  p->devs[idx] = p->devs[--p->n_devs];
  if (idx < p->n_devs) {
    mp_dev *m = p->devs[idx];
    size_t ml = strlen(m->device_id);
    strmap_put(&p->devs_map, m->device_id, ml, strmap_hash(m->device_id, ml), idx);
  }
  loom_free(d);
}

void mp_child_add(api_mqtt *p, const api_mqtt_client *gw, const char *device_id,
                  const char *name) {
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, device_id, true);
  if (d) {
    snprintf(d->tenant_id, sizeof d->tenant_id, "%s", gw->tenant_id);
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->gw_id, sizeof d->gw_id, "%s", gw->device_id);
  }
  pthread_mutex_unlock(&p->lock);
  api_device_note_activity(p->api, device_id, gw->tenant_id);
}

void mp_child_remove(api_mqtt *p, const char *device_id) {
  char tenant[META_ID_LEN + 1] = "";
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, device_id, false);
  if (d && d->gw_id[0]) {
    snprintf(tenant, sizeof tenant, "%s", d->tenant_id);
    d->gw_id[0] = 0;
    mp_dev_maybe_drop(p, d);
  }
  pthread_mutex_unlock(&p->lock);
  if (tenant[0]) api_device_note_offline(p->api, device_id, tenant);
}

/* Gateway gw went away: its children go offline. */
static void children_drop(api_mqtt *p, const char *gw_id) {
  for (;;) {
    char id[META_ID_LEN + 1] = "";
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n_devs; i++)
      if (!strcmp(p->devs[i]->gw_id, gw_id)) {
        memcpy(id, p->devs[i]->device_id, sizeof id);
        break;
      }
    pthread_mutex_unlock(&p->lock);
    if (!id[0]) return;
    mp_child_remove(p, id);
  }
}

void mp_rpc_kick(api_mqtt *p, const char *device_id) {
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, device_id, false);
  bool start = false;
  if (d) {
    if (d->busy) d->again = true;
    else start = d->busy = true;
  }
  pthread_mutex_unlock(&p->lock);
  if (!start) return;
  rpc_job *j = loom_calloc(1, sizeof *j);
  if (j) {
    j->p = p;
    snprintf(j->device_id, sizeof j->device_id, "%s", device_id);
  }
  if (!j || mp_submit(p, mp_rpc_deliver_job, j)) {
    loom_free(j);
    pthread_mutex_lock(&p->lock);
    d = mp_dev_get(p, device_id, false);
    if (d) {
      d->busy = false;
      mp_dev_maybe_drop(p, d);
    }
    pthread_mutex_unlock(&p->lock);
  }
}

void api_mqtt_rpc_notify(api_mqtt *p, const char *device_id) {
  if (!p || !device_id) return;
  mp_rpc_kick(p, device_id);
  /* Sparkplug devices have no connection of their own: their host decides */
  if (atomic_load(&p->spb)) {
    pthread_mutex_lock(&p->lock);
    bool present = mp_dev_get(p, device_id, false) != NULL;
    pthread_mutex_unlock(&p->lock);
    if (!present) {
      rpc_job *j = loom_calloc(1, sizeof *j);
      if (!j) return;
      j->p = p;
      snprintf(j->device_id, sizeof j->device_id, "%s", device_id);
      if (mp_submit(p, mp_rpc_deliver_job, j)) loom_free(j);
    }
  }
}

/* ---- authentication (worker pool) -------------------------------------- */

typedef struct auth_job {
  api_mqtt *p;
  char username[MP_CRED_MAX + 1];
  char password[MP_CRED_MAX + 1];
  bool has_user, has_pw;
  char peer[64];
  mqtt_auth_done_fn done;
  void *done_arg;
} auth_job;

static void set_mount(api_mqtt_client *c) {
  if (c->tenant_id[0]) snprintf(c->mount, sizeof c->mount, API_MQTT_MOUNT_PREFIX "%s/", c->tenant_id);
  else c->mount[0] = 0;
  c->mount_len = strlen(c->mount);
}

/* Fill c as device d (its name and measurement into names, 2 x MP_NAME_CAP
 * bytes). Worker thread. */
static void client_device(api_mqtt *p, api_mqtt_client *c, char *names, const meta_device_ref *d) {
  c->kind = API_MQTT_DEVICE;
  snprintf(c->tenant_id, sizeof c->tenant_id, "%s", d->tenant_id);
  snprintf(c->device_id, sizeof c->device_id, "%s", d->id);
  snprintf(names, MP_NAME_CAP, "%s", d->name);
  snprintf(names + 2 * MP_NAME_CAP, API_MQTT_DB_MAX, "%s", d->db_name);
  api_device_profile_name(p->api, d->tenant_id, d->profile_id, names + MP_NAME_CAP, MP_NAME_CAP);
  c->who.kind = SEC_PRINCIPAL_DEVICE;
  snprintf(c->who.tenant_id, sizeof c->who.tenant_id, "%s", d->tenant_id);
  snprintf(c->who.subject_id, sizeof c->who.subject_id, "%s", d->id);
  snprintf(c->key, sizeof c->key, "d:%s", d->id);
  /* a gateway: labels {"gateway": true} (ThingsBoard: additionalInfo.gateway) */
  json_t *dev = NULL;
  if (meta_get(p->api->meta, META_DEVICE, d->tenant_id, d->id, &dev, NULL, 0) == 0) {
    json_t *g = json_object_get(json_object_get(dev, "labels"), "gateway");
    c->gateway = json_is_true(g) || (json_is_string(g) && !strcmp(json_string_value(g), "true"));
    json_decref(dev);
  }
  set_mount(c);
}

/* 0 accepted (c filled; a device's name and measurement in names, 2 x
 * MP_NAME_CAP bytes), else an MQTT CONNACK reason. */
static uint8_t authenticate_job(auth_job *j, api_mqtt_client *c, char *names) {
  loom_api *api = j->p->api;
  const char *pw = j->has_pw ? j->password : NULL;
  if (pw && *pw) { /* a user's token (or the admin token) as the password */
    uint8_t hash[SEC_TOKEN_HASH_LEN];
    api_who w;
    int rc = api_who_fast(api->principals, api->auth, pw, hash, mono_ms(), &w);
    /* a connection lasts: ask the registry, not the one-second cache, so a
     * token revoked or a user disabled a moment ago does not get in */
    if (rc == API_WHO_OK && w.token_id[0]) rc = API_WHO_LOOKUP;
    if (rc == API_WHO_LOOKUP) {
      if (!api->meta) return 0x88;
      int lr = api_who_lookup(api->principals, api->meta, hash, mono_ms(), wall_ms(), &w);
      if (lr == LOOM_EAUTH) { /* a disabled user is "not authorized", not a wrong password */
        meta_token_info ti;
        bool disabled = meta_token_by_hash(api->meta, hash, wall_ms(), &ti) == LOOM_EAUTH &&
                        ti.user_disabled;
        return disabled ? 0x87 : 0x86;
      }
      if (lr) return 0x88;
      rc = API_WHO_OK;
    }
    if (rc == API_WHO_OK) {
      if (!w.p.tenant_id[0] && w.p.role != SEC_ROLE_PLATFORM_ADMIN) return 0x87; /* observers */
      c->kind = API_MQTT_USER;
      c->who = w.p;
      snprintf(c->tenant_id, sizeof c->tenant_id, "%.36s", w.p.tenant_id);
      snprintf(names + 2 * MP_NAME_CAP, API_MQTT_DB_MAX, "%s", w.db_name);
      if (w.token_id[0]) snprintf(c->key, sizeof c->key, "t:%s", w.token_id);
      set_mount(c);
      return 0;
    }
  }
  if (!j->has_user || !j->username[0]) return 0x87; /* anonymous: off */
  if (!api->meta) return 0x88;
  meta_device_ref d;
  uint8_t th[SEC_TOKEN_HASH_LEN];
  sec_token_hash(j->username, strlen(j->username), th);
  int rc = meta_device_by_token(api->meta, th, &d);
  if (rc == 0) {
    client_device(j->p, c, names, &d);
    return 0;
  }
  if (rc != LOOM_ENOTFOUND) return 0x88;
  if (!pw) return 0x86;
  rc = meta_device_by_mqtt(api->meta, j->username, &d);
  if (rc == LOOM_ENOTFOUND) return 0x86;
  if (rc) return 0x88;
  if (!d.mqtt_password_hash[0] || sec_password_verify(d.mqtt_password_hash, pw)) return 0x86;
  client_device(j->p, c, names, &d);
  return 0;
}

/* The hub kicks a token or its user (under the hub's lock): every
 * connection with the token's key goes (the broker disconnects them later,
 * on its thread). */
static void live_kick(void *user, int code, const char *reason) {
  (void)code;
  (void)reason;
  mp_tok *t = user;
  mqtt_broker *b = atomic_load(&t->p->broker);
  if (b) mqtt_broker_kick(b, t->key);
}

/* Let go of one hold of t; the last one removes the registration and frees
 * the shared principal. Any thread. */
static void tok_release(api_mqtt *p, mp_tok *t) {
  pthread_mutex_lock(&p->lock);
  if (--t->refs == 0) {
    for (mp_tok **pp = &p->toks; *pp; pp = &(*pp)->next)
      if (*pp == t) {
        *pp = t->next;
        break;
      }
    live_session_remove(p->api->live, t->session);
    loom_free(t->c);
    loom_free(t);
  }
  pthread_mutex_unlock(&p->lock);
}

/* The same identity (a user's token): the shared principal serves both. */
static bool same_user(const api_mqtt_client *a, const api_mqtt_client *b) {
  return a->kind == b->kind && !strcmp(a->key, b->key) && !strcmp(a->tenant_id, b->tenant_id) &&
         !strcmp(a->db_name, b->db_name) && !strcmp(a->mount, b->mount) &&
         a->who.kind == b->who.kind && a->who.role == b->who.role &&
         a->who.scope == b->who.scope && !strcmp(a->who.tenant_id, b->who.tenant_id) &&
         !strcmp(a->who.subject_id, b->who.subject_id) &&
         !strcmp(a->who.region_code, b->who.region_code);
}

/* The principal of user identity u (u->key set), shared by every connection
 * of the same token and identity, held once more; its revocation
 * registration (live hub) is made with the first. NULL: no memory. Any
 * thread. */
static api_mqtt_client *user_hold(api_mqtt *p, const api_mqtt_client *u) {
  api_mqtt_client *c = NULL;
  pthread_mutex_lock(&p->lock);
  mp_tok *t = p->toks;
  while (t && !same_user(t->c, u)) t = t->next;
  if (!t) {
    t = loom_calloc(1, sizeof *t);
    size_t dl = strlen(u->db_name);
    c = t ? loom_malloc(sizeof *c + dl + 2) : NULL;
    if (!c) {
      loom_free(t);
      pthread_mutex_unlock(&p->lock);
      return NULL;
    }
    *c = *u;
    char *tail = (char *)(c + 1);
    tail[0] = 0;
    memcpy(tail + 1, u->db_name, dl + 1);
    c->device_name = c->measurement = tail;
    c->db_name = tail + 1;
    c->tok = t;
    t->p = p;
    t->c = c;
    snprintf(t->key, sizeof t->key, "%s", u->key);
    /* no registration (no hub, no memory): the connection lives without it,
     * as a broker kick by key still reaches it */
    if (p->api->live &&
        live_session_add(p->api->live, t->key + 2, u->who.subject_id, live_kick, t, &t->session))
      t->session = NULL;
    t->next = p->toks;
    p->toks = t;
  }
  t->refs++;
  c = t->c;
  pthread_mutex_unlock(&p->lock);
  return c;
}

static void auth_run(void *arg) {
  auth_job *j = arg;
  api_mqtt *p = j->p;
  api_mqtt_client tmp;
  memset(&tmp, 0, sizeof tmp);
  char names[2 * MP_NAME_CAP + API_MQTT_DB_MAX] = "";
  api_mqtt_client *c = NULL;
  mqtt_auth_result r = {.reason = 0x88};
  /* brute force: the login back-off table, per user name and per address
   * (a guessed access token is a user name: the address limit catches it) */
  char account[MP_CRED_MAX + 8], addr[64];
  snprintf(account, sizeof account, "mqtt:%s", j->has_user ? j->username : "");
  snprintf(addr, sizeof addr, "%s", j->peer);
  char *colon = strrchr(addr, ':');
  if (colon) *colon = 0;
  loom_api *api = p->api;
  uint64_t retry = 0;
  int brc = 0;
  if (api->backoff) {
    pthread_mutex_lock(&api->backoff_lock);
    brc = sec_backoff_check(api->backoff, account, addr, (uint64_t)wall_ms(), &retry);
    pthread_mutex_unlock(&api->backoff_lock);
  }
  if (brc == LOOM_EAGAIN) {
    r.reason = 0x87; /* blocked for a while: too many failures */
  } else {
    tmp.p = p;
    tmp.db_name = names + 2 * MP_NAME_CAP; /* moved into the principal below */
    r.reason = authenticate_job(j, &tmp, names);
    if (api->backoff && (r.reason == 0 || r.reason == 0x86)) {
      pthread_mutex_lock(&api->backoff_lock);
      if (r.reason) sec_backoff_fail(api->backoff, account, addr, (uint64_t)wall_ms(), NULL);
      else sec_backoff_success(api->backoff, account);
      pthread_mutex_unlock(&api->backoff_lock);
    }
  }
  if (r.reason == 0 && tmp.kind == API_MQTT_USER && tmp.key[0]) {
    if (!(c = user_hold(p, &tmp))) r.reason = 0x88;
  } else if (r.reason == 0) { /* one allocation sized to the names present */
    size_t nl = strlen(names), ml = strlen(names + MP_NAME_CAP);
    size_t dl = strlen(names + 2 * MP_NAME_CAP);
    c = loom_malloc(sizeof *c + nl + ml + dl + 3);
    if (c) {
      *c = tmp;
      char *tail = (char *)(c + 1);
      memcpy(tail, names, nl + 1);
      memcpy(tail + nl + 1, names + MP_NAME_CAP, ml + 1);
      memcpy(tail + nl + ml + 2, names + 2 * MP_NAME_CAP, dl + 1);
      c->device_name = tail;
      c->measurement = tail + nl + 1;
      c->db_name = tail + nl + ml + 2;
    } else {
      r.reason = 0x88;
    }
  }
  if (r.reason == 0) {
    r.principal = c;
    r.key = c->key[0] ? c->key : NULL;
  } else {
    LOOM_INFO("mqtt connection refused", "peer=%s user=\"%.64s\" reason=0x%02x", j->peer,
              j->has_user ? j->username : "", r.reason);
  }
  sodium_memzero(j->password, sizeof j->password);
  j->done(j->done_arg, &r);
  loom_free(j);
  mp_job_end(p);
}

static void hook_authenticate(void *ud, const mqtt_auth_req *req, mqtt_auth_done_fn done,
                              void *done_arg) {
  api_mqtt *p = ud;
  auth_job *j = loom_calloc(1, sizeof *j);
  if (!j) {
    mqtt_auth_result r = {.reason = 0x88};
    done(done_arg, &r);
    return;
  }
  j->p = p;
  j->done = done;
  j->done_arg = done_arg;
  snprintf(j->peer, sizeof j->peer, "%s", req->peer ? req->peer : "");
  bool bad = false;
  if (req->username) {
    j->has_user = true;
    bad |= strlen(req->username) > MP_CRED_MAX;
    snprintf(j->username, sizeof j->username, "%s", req->username);
  }
  if (req->password) {
    j->has_pw = true;
    bad |= req->password_len > MP_CRED_MAX || memchr(req->password, 0, req->password_len);
    if (!bad) memcpy(j->password, req->password, req->password_len);
  }
  if (bad || mp_submit(p, auth_run, j)) {
    mqtt_auth_result r = {.reason = bad ? 0x86 : 0x88};
    loom_free(j);
    done(done_arg, &r);
  }
}

/* ---- topic mapping and authorization ------------------------------------- */

static bool starts(const char *t, size_t n, const char *pre) {
  size_t k = strlen(pre);
  return n >= k && !memcmp(t, pre, k);
}

static int hook_map_in(void *ud, void *principal, bool is_filter, const char *t, size_t n,
                       loom_buf *out) {
  (void)ud;
  api_mqtt_client *c = principal;
  if (!c) return 0x87;
  int r = api_mqtt_map_in(c, is_filter, t, n, out);
  if (r && !is_filter) { /* 3.1.1 cannot say no: the broker drops it; say so here, now and then */
    int64_t now = mono_ms();
    if (now - c->last_refusal_log_ms >= MP_REFUSAL_LOG_MS || !c->last_refusal_log_ms) {
      c->last_refusal_log_ms = now;
      LOOM_INFO("mqtt publish refused", "who=%s tenant=%s topic=\"%.*s\" reason=0x%02x",
                c->kind == API_MQTT_DEVICE ? c->device_id : c->who.subject_id, c->tenant_id,
                (int)(n > 200 ? 200 : n), t, r);
    }
  }
  return r;
}

static int hook_map_out(void *ud, void *principal, const char *t, size_t n, const char **out,
                        size_t *out_n) {
  api_mqtt *p = ud;
  return api_mqtt_map_out(principal, t, n, p->scratch, sizeof p->scratch, out, out_n);
}

/* ---- storing telemetry of a named device --------------------------------- */

typedef struct store_job {
  api_mqtt *p;
  api_mqtt_client c;
  char db[API_MQTT_DB_MAX]; /* c.db_name */
  char name[256];
  char profile[256];
  bool has_profile;
  loom_buf tails;   /* each group's line without its measurement */
  size_t *offs;     /* start of each group's tail in tails */
  size_t n_groups;
  loom_buf lp;
  ingest_result res;
  mqtt_ack_done_fn done;
  void *arg;
} store_job;

static void store_job_free(store_job *j) {
  loom_buf_deinit(&j->tails);
  loom_buf_deinit(&j->lp);
  loom_buf_deinit(&j->res.body);
  loom_free(j->offs);
  loom_free(j);
}

/* "tenant/name" in out (cut at cap - 1 bytes); its length. On every
 * telemetry publish: no snprintf. */
static size_t name_key(char *out, size_t cap, const char *tenant, const char *name) {
  size_t tl = strnlen(tenant, cap - 1), nl = tl + 1 < cap ? strnlen(name, cap - 2 - tl) : 0;
  memcpy(out, tenant, tl);
  if (tl + 1 < cap) {
    out[tl] = '/';
    memcpy(out + tl + 1, name, nl);
    tl += 1 + nl;
  }
  out[tl] = 0;
  return tl;
}

/* Cached (tenant, name) -> device id and measurement. Lock taken here. */
static bool name_get(api_mqtt *p, const char *tenant, const char *name, char *id, char *meas,
                     size_t mcap) {
  char key[sizeof ((mp_name *)0)->key];
  size_t len = name_key(key, sizeof key, tenant, name);
  uint32_t idx;
  bool hit = false;
  pthread_mutex_lock(&p->lock);
  if (strmap_get(&p->names_map, key, len, strmap_hash(key, len), &idx) == 0 &&
      mono_ms() - p->names[idx].fetched_ms < MP_NAME_TTL_MS) {
    if (id) memcpy(id, p->names[idx].device_id, META_ID_LEN + 1);
    if (meas) {
      size_t ml = strnlen(p->names[idx].measurement, mcap - 1);
      memcpy(meas, p->names[idx].measurement, ml);
      meas[ml] = 0;
    }
    hit = true;
  }
  pthread_mutex_unlock(&p->lock);
  return hit;
}

static void name_put(api_mqtt *p, const char *tenant, const char *name, const char *id,
                     const char *meas) {
  char key[sizeof ((mp_name *)0)->key];
  size_t len = name_key(key, sizeof key, tenant, name);
  uint64_t h = strmap_hash(key, len);
  uint32_t idx;
  pthread_mutex_lock(&p->lock);
  if (strmap_get(&p->names_map, key, len, h, &idx)) {
    if (p->n_names == MP_NAMES_MAX) {
      strmap_deinit(&p->names_map);
      strmap_init(&p->names_map);
      p->n_names = 0;
    }
    idx = (uint32_t)p->n_names;
    memcpy(p->names[idx].key, key, len + 1);
    if (strmap_put(&p->names_map, p->names[idx].key, len, h, idx)) idx = UINT32_MAX;
    else p->n_names++;
  }
  if (idx != UINT32_MAX) {
    snprintf(p->names[idx].device_id, sizeof p->names[idx].device_id, "%s", id);
    snprintf(p->names[idx].measurement, sizeof p->names[idx].measurement, "%s", meas);
    p->names[idx].fetched_ms = mono_ms();
  }
  pthread_mutex_unlock(&p->lock);
}

int mp_device_resolve(api_mqtt *p, const api_mqtt_client *c, const char *name,
                      const char *profile, const char *gw_id, char *id, char *measurement,
                      size_t mcap, char *err, size_t errlen) {
  loom_api *api = p->api;
  if (!api->meta) {
    snprintf(err, errlen, "the registry is not open");
    return LOOM_ECLOSED;
  }
  meta_device_ref d;
  int rc = meta_device_by_name(api->meta, c->tenant_id, name, &d);
  json_t *created = NULL, *in = NULL, *pg = NULL;
  if (rc == LOOM_ENOTFOUND) {
    /* the profile: by name, created when missing */
    const char *pname = profile && *profile ? profile : MP_DEFAULT_PROFILE;
    meta_filter f = {"name", pname};
    meta_query q = {.page_size = 1, .filters = &f, .n_filters = 1};
    char pid[META_ID_LEN + 1] = "";
    rc = meta_list(api->meta, META_PROFILE, c->tenant_id, &q, &pg, err, errlen);
    if (rc) goto out;
    const char *found = json_string_value(json_object_get(json_array_get(json_object_get(pg, "data"), 0), "id"));
    if (found) {
      snprintf(pid, sizeof pid, "%s", found);
    } else {
      in = json_pack("{s:s,s:s}", "name", pname, "description", "created by MQTT");
      rc = in ? meta_create(api->meta, META_PROFILE, c->tenant_id, in, NULL, &created, err, errlen)
              : LOOM_ENOMEM;
      json_decref(in);
      in = NULL;
      if (rc == LOOM_EEXIST) { /* created concurrently */
        json_decref(pg);
        pg = NULL;
        rc = meta_list(api->meta, META_PROFILE, c->tenant_id, &q, &pg, err, errlen);
        found = rc ? NULL : json_string_value(json_object_get(json_array_get(json_object_get(pg, "data"), 0), "id"));
        if (!rc && !found) rc = LOOM_ENOTFOUND;
        if (found) snprintf(pid, sizeof pid, "%s", found);
      } else if (!rc) {
        snprintf(pid, sizeof pid, "%s", json_string_value(json_object_get(created, "id")));
      }
      json_decref(created);
      created = NULL;
      if (rc) goto out;
    }
    in = json_pack("{s:s,s:s}", "name", name, "profile_id", pid);
    rc = in ? meta_create(api->meta, META_DEVICE, c->tenant_id, in, NULL, NULL, err, errlen)
            : LOOM_ENOMEM;
    if (rc && rc != LOOM_EEXIST) goto out;
    rc = meta_device_by_name(api->meta, c->tenant_id, name, &d);
    if (rc) goto out;
    if (gw_id && *gw_id) {
      json_t *kv = json_pack("{s:s}", "lastConnectedGateway", gw_id);
      if (kv) meta_attr_set(api->meta, c->tenant_id, d.id, META_ATTR_SERVER, kv, wall_ms(), NULL, 0);
      json_decref(kv);
    }
  } else if (rc == LOOM_EINVAL) {
    snprintf(err, errlen, "invalid device name");
    goto out;
  } else if (rc) {
    snprintf(err, errlen, "device look-up failed: %s", loom_strerror(rc));
    goto out;
  }
  memcpy(id, d.id, META_ID_LEN + 1);
  api_device_profile_name(api, d.tenant_id, d.profile_id, measurement, mcap);
  name_put(p, c->tenant_id, name, d.id, measurement);
out:
  json_decref(in);
  json_decref(pg);
  return rc;
}

static void store_done(void *arg, int status) {
  store_job *j = arg;
  api_mqtt *p = j->p;
  if (status) j->done(j->arg, 0x80, "telemetry not stored");
  else j->done(j->arg, 0, NULL);
  store_job_free(j);
  mp_job_end(p);
}

/* Append meas escaped for a line-protocol measurement (',' and ' '). */
static int append_meas(loom_buf *out, const char *meas) {
  for (const char *s = meas; *s; s++) {
    if ((*s == ',' || *s == ' ') && loom_buf_append_u8(out, '\\')) return LOOM_ENOMEM;
    if (loom_buf_append_u8(out, (uint8_t)*s)) return LOOM_ENOMEM;
  }
  return 0;
}

static void store_run(void *arg) {
  store_job *j = arg;
  api_mqtt *p = j->p;
  char id[META_ID_LEN + 1], meas[256], err[256] = "";
  int rc = mp_device_resolve(p, &j->c, j->name, j->has_profile ? j->profile : NULL,
                             j->c.gateway ? j->c.device_id : NULL, id, meas, sizeof meas, err,
                             sizeof err);
  if (rc) {
    j->done(j->arg, rc == LOOM_EINVAL ? 0x99 : 0x80, err[0] ? err : loom_strerror(rc));
    goto fail;
  }
  if (j->c.gateway) mp_child_add(p, &j->c, id, j->name);
  else api_device_note_activity(p->api, id, j->c.tenant_id);
  for (size_t g = 0; g < j->n_groups; g++) {
    size_t end = g + 1 < j->n_groups ? j->offs[g + 1] : j->tails.len;
    if (append_meas(&j->lp, meas) ||
        loom_buf_append(&j->lp, j->tails.data + j->offs[g], end - j->offs[g])) {
      j->done(j->arg, 0x97, "out of memory");
      goto fail;
    }
  }
  rc = api_device_ingest(p->api, j->c.db_name, (const char *)j->lp.data, j->lp.len, &j->res,
                         store_done, j);
  if (rc) {
    j->done(j->arg, rc == LOOM_EINVAL ? 0x99 : 0x80, "telemetry not stored");
    goto fail;
  }
  return;
fail:
  store_job_free(j);
  mp_job_end(p);
}

int api_mqtt_store(api_mqtt *p, const api_mqtt_client *c, const char *device_name,
                   const char *profile, const tbjson_batch *values, uint8_t qos,
                   mqtt_ack_done_fn done, void *arg) {
  if (!p || !c || !c->tenant_id[0] || !c->db_name || !c->db_name[0] || !device_name ||
      !*device_name)
    return LOOM_EINVAL;
  if (values->n_groups == 0) {
    done(arg, 0, NULL);
    return 0;
  }
  char meas[256], id[META_ID_LEN + 1];
  if (name_get(p, c->tenant_id, device_name, id, meas, sizeof meas)) {
    uint8_t r = mp_batch_add(p, c->db_name, meas, device_name, values, qos, done, arg);
    if (r == 0x97) return LOOM_ENOMEM;
    if (r) mp_fail_later(p, done, arg, r, "invalid device name or telemetry key");
    else if (c->gateway) mp_child_add(p, c, id, device_name); /* present while it sends */
    else api_device_note_activity(p->api, id, c->tenant_id);
    return 0;
  }
  /* unknown device: resolve it on the pool; the lines wait without their
   * measurement (the device's profile name) */
  store_job *j = loom_calloc(1, sizeof *j);
  if (!j) return LOOM_ENOMEM;
  j->p = p;
  mp_client_copy(&j->c, j->db, c);
  snprintf(j->name, sizeof j->name, "%s", device_name);
  if (profile && *profile) {
    snprintf(j->profile, sizeof j->profile, "%s", profile);
    j->has_profile = true;
  }
  loom_buf_init(&j->tails);
  loom_buf_init(&j->lp);
  loom_buf_init(&j->res.body);
  j->done = done;
  j->arg = arg;
  j->offs = loom_calloc(values->n_groups, sizeof *j->offs);
  int rc = j->offs ? 0 : LOOM_ENOMEM;
  for (size_t g = 0; !rc && g < values->n_groups; g++) {
    tbjson_batch one = *values;
    one.groups = &values->groups[g];
    one.n_groups = 1;
    size_t start = j->tails.len;
    rc = tbjson_format_lp(&one, "m", "device", device_name, &j->tails);
    if (!rc) { /* drop the placeholder measurement "m" */
      memmove(j->tails.data + start, j->tails.data + start + 1, j->tails.len - start - 1);
      j->tails.len--;
      j->offs[g] = start;
    }
  }
  j->n_groups = values->n_groups;
  if (rc == LOOM_EINVAL) {
    store_job_free(j);
    mp_fail_later(p, done, arg, 0x99, "invalid device name or telemetry key");
    return 0;
  }
  if (!rc) rc = mp_submit(p, store_run, j);
  if (rc) store_job_free(j);
  return rc;
}

/* ---- hooks: publish, subscribe, connection ---------------------------------- */

/* Note device activity at most once a second per connection. */
static void note_seen(api_mqtt *p, api_mqtt_client *c) {
  int64_t now = mono_ms();
  if (now - c->last_note_ms < MP_NOTE_MS) return;
  c->last_note_ms = now;
  api_device_note_points(p->api, c->device_id, c->tenant_id, c->pending_points);
  c->pending_points = 0;
}

int mp_store_own(api_mqtt *p, api_mqtt_client *c, const mqtt_pub_view *m, mqtt_ack_done_fn done,
                 void *arg) {
  tbjson_batch b;
  tbjson_batch_init(&b);
  char err[TBJSON_ERR_MAX];
  int rc = tbjson_decode(&b, (const char *)m->payload, m->payload_len, loom_now_ns(), err,
                         sizeof err);
  if (rc) {
    mp_fail_later(p, done, arg, rc == LOOM_ENOMEM ? 0x97 : 0x99, err);
    return MQTT_HOOK_PENDING;
  }
  uint8_t r = 0;
  if (m->qos == 0 && atomic_load(&p->inflight_bytes) > MP_INFLIGHT_QOS0_MAX) {
    /* QoS 0 has no flow control: past the cap of telemetry waiting for the
     * engine, it is dropped (at most once allows it) rather than queued */
    p->dropped_qos0++;
    int64_t now = mono_ms();
    if (now - p->drop_log_ms >= MP_REFUSAL_LOG_MS) {
      p->drop_log_ms = now;
      LOOM_WARN("mqtt QoS 0 telemetry dropped: storage is behind", "dropped_total=%llu",
                (unsigned long long)p->dropped_qos0);
    }
    mp_fail_later(p, done, arg, 0, NULL);
  } else if (b.n_groups) {
    r = mp_batch_add(p, c->db_name, c->measurement, c->device_name, &b, m->qos, done, arg);
    if (!r) /* counted at the next noted activity (note_seen: once a second at most) */
      c->pending_points = b.n_kvs > UINT32_MAX - c->pending_points ? UINT32_MAX
                                                                  : c->pending_points + (uint32_t)b.n_kvs;
  } else {
    mp_fail_later(p, done, arg, 0, NULL); /* {}: nothing to store, acknowledged */
  }
  tbjson_batch_deinit(&b);
  if (r) mp_fail_later(p, done, arg, r,
                       r == 0x99 ? "the profile or device name cannot be a line-protocol "
                                   "measurement or tag: rename it"
                                 : "out of memory");
  return MQTT_HOOK_ROUTE | MQTT_HOOK_PENDING;
}

void mp_rules_changed(api_mqtt *p, const char *tenant_id) {
  if (p->rules) api_mqtt_rules_invalidate(p->rules, tenant_id && *tenant_id ? tenant_id : NULL);
}

/* Store a publish by the first matching rule of rules: MQTT_HOOK_* flags
 * (PENDING when stored: done runs once durable). */
static int uns_apply(api_mqtt *p, const api_mqtt_client *c, const uns_rules *rules,
                     const char *t, size_t n, const uint8_t *payload, size_t len, uint8_t qos,
                     mqtt_ack_done_fn done, void *arg) {
  uns_hit hit;
  char err[256] = "";
  int rc = uns_rules_apply(rules, t, n, payload, len, loom_now_ns(), &hit, err, sizeof err);
  if (rc == 0) return MQTT_HOOK_ROUTE;
  if (rc < 0) { /* a plant topic is delivered even when its payload is not data */
    LOOM_WARN("mqtt publish matched a namespace rule but was not stored",
              "tenant=%s topic=\"%.*s\" err=\"%s\"", c->tenant_id, (int)(n > 200 ? 200 : n), t,
              err);
    return MQTT_HOOK_ROUTE;
  }
  rc = api_mqtt_store(p, c, hit.device, hit.profile, &hit.values, qos, done, arg);
  uns_hit_deinit(&hit);
  return rc ? MQTT_HOOK_ROUTE : MQTT_HOOK_ROUTE | MQTT_HOOK_PENDING;
}

/* A tenant's rules are still loading (the first publish after a start or a
 * change): keep a copy and store it at a later tick (uns_waits_run), so a
 * message is never delivered without being stored because it came early. */
static int uns_wait(api_mqtt *p, const api_mqtt_client *c, const char *t, size_t n,
                    const mqtt_pub_view *m, mqtt_ack_done_fn done, void *arg) {
  if (p->n_waits >= MP_WAITS_MAX) {
    LOOM_WARN("mqtt publish not stored: too many waiting for namespace rules to load",
              "tenant=%s topic=\"%.*s\"", c->tenant_id, (int)(n > 200 ? 200 : n), t);
    return m->qos ? -0x97 : MQTT_HOOK_ROUTE;
  }
  mp_wait *w = loom_malloc(sizeof *w + n + m->payload_len + 1);
  if (!w) return m->qos ? -0x97 : MQTT_HOOK_ROUTE;
  w->next = NULL;
  mp_client_copy(&w->c, w->db, c);
  w->done = done;
  w->arg = arg;
  w->qos = m->qos;
  w->since_ms = mono_ms();
  w->topic = (char *)(w + 1);
  w->topic_len = n;
  w->payload_len = m->payload_len;
  memcpy(w->topic, t, n);
  if (m->payload_len) memcpy(w->topic + n, m->payload, m->payload_len);
  if (!p->waits_tail) p->waits_tail = &p->waits;
  *p->waits_tail = w;
  p->waits_tail = &w->next;
  p->n_waits++;
  return MQTT_HOOK_ROUTE | MQTT_HOOK_PENDING;
}

/* The tick: store the waiting publishes whose rules have loaded; give up
 * (0x80) on those waiting past MP_WAIT_MS. stopping: refuse them all. */
static void uns_waits_run(api_mqtt *p, bool stopping) {
  mp_wait **pp = &p->waits;
  int64_t now = mono_ms();
  while (*pp) {
    mp_wait *w = *pp;
    const uns_rules *rules = NULL;
    int rc = stopping || !p->rules ? LOOM_ECLOSED : api_mqtt_rules_get(p->rules, w->c.tenant_id, &rules);
    if (rc == LOOM_EAGAIN && now - w->since_ms < MP_WAIT_MS) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    p->n_waits--;
    int flags = 0;
    if (!rc && rules)
      flags = uns_apply(p, &w->c, rules, w->topic, w->topic_len,
                        (const uint8_t *)w->topic + w->topic_len, w->payload_len, w->qos,
                        w->done, w->arg);
    if (rules) api_mqtt_rules_release(rules);
    if (!(flags & MQTT_HOOK_PENDING)) /* nothing to store, or it could not be */
      w->done(w->arg, rc ? 0x80 : 0,
              rc ? (stopping ? "the server is stopping"
                             : "the namespace rules of this tenant could not be loaded")
                 : NULL);
    loom_free(w);
  }
  p->waits_tail = NULL;
  for (mp_wait *w = p->waits; w; w = w->next) p->waits_tail = &w->next;
}

static int uns_publish(api_mqtt *p, api_mqtt_client *c, const char *t, size_t n,
                       const mqtt_pub_view *m, mqtt_ack_done_fn done, void *arg) {
  const uns_rules *rules = NULL;
  if (!p->rules) return MQTT_HOOK_ROUTE;
  int rc = api_mqtt_rules_get(p->rules, c->tenant_id, &rules);
  if (rc == LOOM_EAGAIN || (!rc && p->waits)) { /* loading; or keep the order of earlier ones */
    if (rules) api_mqtt_rules_release(rules);
    return uns_wait(p, c, t, n, m, done, arg);
  }
  if (rc || !rules) return MQTT_HOOK_ROUTE;
  int flags = uns_apply(p, c, rules, t, n, m->payload, m->payload_len, m->qos, done, arg);
  api_mqtt_rules_release(rules); /* the hit is not used past this point */
  return flags;
}

static int hook_on_publish(void *ud, void *principal, const mqtt_pub_view *m,
                           mqtt_ack_done_fn done, void *done_arg) {
  api_mqtt *p = ud;
  api_mqtt_client *c = principal;
  if (!c || !c->mount_len) return MQTT_HOOK_ROUTE; /* platform admins: a plain broker */
  if (!starts(m->topic, m->topic_len, c->mount)) return MQTT_HOOK_ROUTE; /* global topics */
  const char *t = m->topic + c->mount_len;
  size_t n = m->topic_len - c->mount_len;
  if (c->kind == API_MQTT_DEVICE) {
    if (!c->disconnected) note_seen(p, c); /* its will is no sign of life */
    char pre[64];
    int k = snprintf(pre, sizeof pre, "v1/devices/%s/", c->device_id);
    if (k > 0 && starts(t, n, pre)) return mp_device_publish(p, c, t + k, m, done, done_arg);
    k = snprintf(pre, sizeof pre, "v1/gateway/%s/", c->device_id);
    if (k > 0 && starts(t, n, pre)) return mp_gateway_publish(p, c, t + k, m, done, done_arg);
  }
  if (starts(t, n, "spBv1.0/")) {
    struct api_spb *s = atomic_load(&p->spb);
    if (!s) return MQTT_HOOK_ROUTE;
    mqtt_pub_view v = *m;
    v.topic = t;
    v.topic_len = n;
    return api_spb_on_publish(s, c, &v, done, done_arg);
  }
  return uns_publish(p, c, t, n, m, done, done_arg);
}

/* Does filter take device c's commands (its rpc/request topic, or a
 * gateway's v1/gateway/rpc)? */
static bool rpc_filter(const api_mqtt_client *c, const char *filter, size_t n) {
  char probe[200];
  if (c->gateway) {
    snprintf(probe, sizeof probe, "%sv1/gateway/%s/rpc", c->mount, c->device_id);
    if (mqtt_topic_matches(filter, n, probe, strlen(probe))) return true;
  } /* a gateway may take its own commands too */
  snprintf(probe, sizeof probe, "%sv1/devices/%s/rpc/request/0", c->mount, c->device_id);
  return mqtt_topic_matches(filter, n, probe, strlen(probe));
}

static uint32_t filter_hash(const char *f, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)f[i]) * 16777619u;
  return h;
}

/* The connection listens for its commands (on) or no longer does: the
 * device's count of listening connections follows (broker thread). */
static void rpc_listen(api_mqtt *p, api_mqtt_client *c, bool on) {
  if (c->rpc_sub == on) return;
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, c->device_id, false);
  if (d) {
    if (on) d->n_rpc_subs++;
    else if (d->n_rpc_subs > 0) d->n_rpc_subs--;
    c->rpc_sub = on;
  }
  pthread_mutex_unlock(&p->lock);
}

static void hook_on_subscribe(void *ud, void *principal, const char *filter, size_t n,
                              uint8_t qos) {
  (void)qos;
  api_mqtt *p = ud;
  api_mqtt_client *c = principal;
  if (!c || c->kind != API_MQTT_DEVICE || !rpc_filter(c, filter, n)) return;
  uint32_t h = filter_hash(filter, n);
  bool known = false;
  for (uint8_t i = 0; i < c->n_rpc_filters; i++) known |= c->rpc_filters[i] == h;
  if (!known && c->n_rpc_filters < sizeof c->rpc_filters / sizeof c->rpc_filters[0])
    c->rpc_filters[c->n_rpc_filters++] = h;
  rpc_listen(p, c, true);
  mp_rpc_kick(p, c->device_id); /* commands queued while it was away */
  if (c->gateway) { /* and its children's */
    for (size_t i = 0;; i++) {
      char id[META_ID_LEN + 1] = "";
      pthread_mutex_lock(&p->lock);
      size_t seen = 0;
      for (size_t k = 0; k < p->n_devs; k++)
        if (!strcmp(p->devs[k]->gw_id, c->device_id) && seen++ == i) {
          memcpy(id, p->devs[k]->device_id, sizeof id);
          break;
        }
      pthread_mutex_unlock(&p->lock);
      if (!id[0]) break;
      mp_rpc_kick(p, id);
    }
  }
}

/* UNSUBSCRIBE of a command filter: the connection stops listening once it
 * has none left (commands then wait, undelivered, as for a device away). */
static void hook_on_unsubscribe(void *ud, void *principal, const char *filter, size_t n) {
  api_mqtt *p = ud;
  api_mqtt_client *c = principal;
  if (!c || c->kind != API_MQTT_DEVICE || !rpc_filter(c, filter, n)) return;
  uint32_t h = filter_hash(filter, n);
  for (uint8_t i = 0; i < c->n_rpc_filters; i++)
    if (c->rpc_filters[i] == h) {
      c->rpc_filters[i] = c->rpc_filters[--c->n_rpc_filters];
      break;
    }
  if (!c->n_rpc_filters) rpc_listen(p, c, false);
}

/* A resumed session's subscriptions count as if subscribed now (a device
 * that resumes without subscribing again still gets its commands). */
static void hook_on_resume(void *ud, void *principal, const char *client_id,
                           const mqtt_sub_view *subs, size_t n) {
  (void)client_id;
  for (size_t i = 0; i < n; i++)
    hook_on_subscribe(ud, principal, subs[i].filter, subs[i].len, subs[i].qos);
}

void mp_client_copy(api_mqtt_client *dst, char db[API_MQTT_DB_MAX], const api_mqtt_client *src) {
  *dst = *src;
  snprintf(db, API_MQTT_DB_MAX, "%s", src->db_name ? src->db_name : "");
  dst->db_name = db;
  dst->device_name = "";
  dst->measurement = "";
  dst->tok = NULL;
}

static void hook_on_connect(void *ud, void *principal, const char *client_id) {
  (void)client_id;
  api_mqtt *p = ud;
  api_mqtt_client *c = principal;
  if (!c) return;
  if (p->rules && c->tenant_id[0]) api_mqtt_rules_preload(p->rules, c->tenant_id);
  if (c->kind == API_MQTT_USER) {
    return;
  }
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, c->device_id, true);
  if (d) {
    snprintf(d->tenant_id, sizeof d->tenant_id, "%s", c->tenant_id);
    snprintf(d->name, sizeof d->name, "%s", c->device_name);
    d->n_conns++;
  }
  pthread_mutex_unlock(&p->lock);
  c->last_note_ms = mono_ms();
  api_device_note_activity(p->api, c->device_id, c->tenant_id);
}

static void hook_on_disconnect(void *ud, void *principal, const char *client_id) {
  (void)client_id;
  api_mqtt *p = ud;
  api_mqtt_client *c = principal;
  if (!c) return;
  if (c->kind != API_MQTT_DEVICE) return; /* users: c may be shared (mp_tok) */
  c->disconnected = true;
  if (c->pending_points) { /* values not counted yet: before the offline note below */
    api_device_note_points(p->api, c->device_id, c->tenant_id, c->pending_points);
    c->pending_points = 0;
  }
  bool last = false;
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, c->device_id, false);
  if (d && d->n_conns > 0) {
    d->n_conns--;
    if (c->rpc_sub && d->n_rpc_subs > 0) d->n_rpc_subs--;
    c->rpc_sub = false;
    c->n_rpc_filters = 0;
    last = d->n_conns == 0;
    mp_dev_maybe_drop(p, d);
  }
  pthread_mutex_unlock(&p->lock);
  if (last) {
    api_device_note_offline(p->api, c->device_id, c->tenant_id);
    if (c->gateway) children_drop(p, c->device_id);
  }
}

/* Connected devices stay online while connected, even when silent. */
static void refresh_presence(api_mqtt *p) {
  int64_t now = mono_ms();
  if (now < p->next_refresh_ms) return;
  p->next_refresh_ms = now + MP_REFRESH_MS;
  pthread_mutex_lock(&p->lock);
  size_t n = p->n_devs;
  char(*ids)[2][META_ID_LEN + 1] = n ? loom_calloc(n, sizeof *ids) : NULL;
  size_t k = 0;
  for (size_t i = 0; ids && i < n; i++)
    if (p->devs[i]->n_conns > 0 || p->devs[i]->gw_id[0]) {
      memcpy(ids[k][0], p->devs[i]->device_id, META_ID_LEN + 1);
      memcpy(ids[k][1], p->devs[i]->tenant_id, META_ID_LEN + 1);
      k++;
    }
  pthread_mutex_unlock(&p->lock);
  for (size_t i = 0; i < k; i++) api_device_note_activity(p->api, ids[i][0], ids[i][1]);
  loom_free(ids);
}

static int hook_tick(void *ud, bool final) {
  api_mqtt *p = ud;
  if (p->waits) uns_waits_run(p, false);
  int wait_ms = p->batches ? mp_batches_flush(p, final) : -1;
  if (p->n_fails) {
    size_t n = p->n_fails;
    p->n_fails = 0;
    for (size_t i = 0; i < n; i++)
      p->fails[i].done(p->fails[i].arg, p->fails[i].reason,
                       p->fails[i].reason ? p->fails[i].msg : NULL);
  }
  refresh_presence(p);
  return wait_ms;
}

static void hook_principal_free(void *ud, void *principal) {
  api_mqtt *p = ud;
  api_mqtt_client *c = principal;
  if (!c) return;
  if (c->tok) tok_release(p, c->tok);
  else loom_free(c);
}

/* ---- life cycle ---------------------------------------------------------- */

int api_mqtt_new(loom_api *api, api_mqtt **out) {
  api_mqtt *p = loom_calloc(1, sizeof *p);
  if (!p) return LOOM_ENOMEM;
  p->names = loom_calloc(MP_NAMES_MAX, sizeof *p->names);
  if (!p->names) {
    loom_free(p);
    return LOOM_ENOMEM;
  }
  p->api = api;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->idle, NULL);
  mp_store_start(p);
  strmap_init(&p->devs_map);
  strmap_init(&p->names_map);
  p->hooks = (mqtt_hooks){
      .ud = p,
      .authenticate = hook_authenticate,
      .map_in = hook_map_in,
      .map_out = hook_map_out,
      .on_publish = hook_on_publish,
      .on_subscribe = hook_on_subscribe,
      .on_unsubscribe = hook_on_unsubscribe,
      .on_resume = hook_on_resume,
      .on_connect = hook_on_connect,
      .on_disconnect = hook_on_disconnect,
      .tick = hook_tick,
      .principal_free = hook_principal_free,
  };
  if (api->meta && api->pool && api_mqtt_rules_new(api, &p->rules)) p->rules = NULL;
  if (api->meta) meta_watch_set(api->meta, mp_on_change, p);
  api->mqtt_platform = p;
  *out = p;
  return 0;
}

const mqtt_hooks *api_mqtt_hooks(api_mqtt *p) { return &p->hooks; }

void api_mqtt_attach(api_mqtt *p, mqtt_broker *b) {
  atomic_store(&p->broker, b);
  api_spb *s = NULL;
  if (b && !atomic_load(&p->spb) && api_spb_new(p, &s) == 0) atomic_store(&p->spb, s);
}

mqtt_broker *api_mqtt_broker(api_mqtt *p) { return p ? atomic_load(&p->broker) : NULL; }
loom_api *api_mqtt_api(api_mqtt *p) { return p ? p->api : NULL; }

void api_mqtt_detach(api_mqtt *p) {
  if (!p) return;
  /* STATE death now; freed in api_mqtt_free, once no hook can be using it */
  api_spb_stop(atomic_load(&p->spb));
  /* let running jobs finish with the broker still there */
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  while (p->inflight) pthread_cond_wait(&p->idle, &p->lock);
  pthread_mutex_unlock(&p->lock);
  atomic_store(&p->broker, NULL);
}

void api_mqtt_free(api_mqtt *p) {
  if (!p) return;
  api_mqtt_detach(p); /* the storage thread has stored every batch handed to it */
  mp_store_stop(p);
  api_spb_free(atomic_exchange(&p->spb, NULL));
  if (p->api->meta) meta_watch_set(p->api->meta, NULL, NULL);
  /* publishes left by a broker that stopped between its I/O and its tick:
   * refused (their done callbacks release the broker's tickets) */
  uns_waits_run(p, true);
  api_mqtt_rules_free(p->rules);
  while (p->batches) {
    mp_batch *b = p->batches;
    p->batches = b->next;
    for (size_t i = 0; i < b->n_pends; i++)
      b->pends[i].done(b->pends[i].arg, 0x80, "the server is stopping");
    mp_batch_free(b);
  }
  for (size_t i = 0; i < p->n_fails; i++)
    p->fails[i].done(p->fails[i].arg, 0x80, "the server is stopping");
  p->n_fails = 0;
  for (size_t i = 0; i < p->n_devs; i++) loom_free(p->devs[i]);
  loom_free(p->devs);
  while (p->toks) { /* none once the broker freed its principals */
    mp_tok *t = p->toks;
    p->toks = t->next;
    live_session_remove(p->api->live, t->session);
    loom_free(t->c);
    loom_free(t);
  }
  strmap_deinit(&p->devs_map);
  strmap_deinit(&p->names_map);
  loom_free(p->names);
  loom_free(p->fails);
  pthread_cond_destroy(&p->idle);
  pthread_mutex_destroy(&p->lock);
  if (p->api->mqtt_platform == p) p->api->mqtt_platform = NULL;
  loom_free(p);
}
