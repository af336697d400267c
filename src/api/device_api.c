/* SPDX-License-Identifier: Apache-2.0
 * The device-facing HTTP API, ThingsBoard-compatible so existing firmware
 * works: POST /api/v1/{token}/telemetry, GET|POST /api/v1/{token}/attributes,
 * GET /api/v1/{token}/rpc (long poll), POST /api/v1/{token}/rpc/{id}, POST
 * /api/v1/provision. The device is the token in the path (looked up by its
 * BLAKE2b-256 hash, whatever its shape, so user-chosen ThingsBoard tokens
 * work); every registry call runs on the worker pool or on this file's hub
 * thread, never on a loop thread.
 *
 * Telemetry lands in the tenant's engine database through ingest_lp, the
 * path /write takes (same WAL, same durable acknowledgement): measurement =
 * the device's profile name (kinds of devices keep their keys and types
 * apart, as InfluxDB measurements do; the name as of the write, cached 5 s,
 * so a renamed profile or device starts new series), tag device=<device
 * name>, field types as ingest/tbjson.h decides. A tenant database that the
 * engine lacks is created on first telemetry. The answer (200, empty body, as ThingsBoard) comes
 * only when the write is durable per the durability mode.
 *
 * The hub (one thread) holds the RPC long polls without occupying a worker:
 * each waiting poll is retried every DEV_RPC_POLL_MS, at once when
 * api_device_rpc_notify names its device, and answered 408 at its timeout.
 * It also gathers device activity and writes it once a second in one
 * transaction (meta_device_activity); a device silent for
 * DEV_INACTIVITY_MS (10 min, ThingsBoard's default; environment variable
 * LOOM_DEVICE_INACTIVITY_MS overrides it) is marked offline. Devices the
 * registry holds as online at start (before a restart) are tracked too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/mqtt_platform.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rate.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "ingest/ingest.h"
#include "ingest/tbjson.h"
#include "sec/backoff.h"
#include "sec/password.h"

#define DEV_TOKEN_MAX 256               /* longest device token in a path, bytes */
#define DEV_RPC_POLL_MS 500             /* a waiting long poll looks for a command this often */
#define DEV_RPC_TIMEOUT_DEFAULT_MS 60000 /* ThingsBoard's default HTTP request timeout */
#define DEV_RPC_TIMEOUT_MAX_MS 300000
#define DEV_FLUSH_MS 1000               /* activity batch interval */
#define DEV_INACTIVITY_MS 600000        /* ThingsBoard's default inactivity timeout */
#define DEV_KEYS_MAX 64                 /* keys in clientKeys / sharedKeys */
#define DEV_BODY_MAX (4u << 20)         /* request body bytes (a JSON tree costs ~10x that) */
#define DEV_MEASUREMENT_FALLBACK "telemetry"
#define DEV_PROFILE_TTL_MS 5000         /* a cached profile name is used this long */
#define DEV_PROFILE_CACHE 1024          /* profile names cached at most */
#define DEV_CHANGES_MAX 512             /* state changes kept for the console */

typedef enum dev_kind {
  DEV_TELEMETRY,
  DEV_ATTR_POST,
  DEV_ATTR_GET,
  DEV_RPC_POLL,
  DEV_RPC_REPLY,
  DEV_PROVISION
} dev_kind;

/* One device API request, from the loop thread to a worker (and, for a
 * waiting long poll, to the hub). Owns nothing of the request but the
 * obligation to answer it. */
typedef struct dev_job {
  loom_api *api;
  http_req *req;
  dev_kind kind;
  char token[DEV_TOKEN_MAX];
  char rpc_id[META_ID_LEN + 1];
  meta_device_ref dev;
  /* telemetry: the formatted line protocol (alive until durable) */
  loom_buf lp;
  ingest_result res;
  /* long poll (hub) */
  int64_t deadline_ms, next_poll_ms; /* monotonic */
  struct dev_job *next;
} dev_job;

/* A device seen since start: its last activity and whether it must be
 * written at the next flush. Individually allocated (the map's keys point
 * at device_id). */
typedef struct dev_seen {
  char device_id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  int64_t last_ms; /* wall clock */
  bool dirty;
  bool gone;       /* disconnected (MQTT): write offline at the next flush */
  bool departed;   /* written offline; kept only while its values of the last minute count
                      in the console's busiest list, then dropped without a write */
  loom_rate rate;  /* points received per API_DEVICE_RATE_SLOT_MS (the console's busiest list) */
} dev_seen;

/* A cached profile name (the measurement of its devices' telemetry). */
typedef struct dev_prof {
  char id[META_ID_LEN + 1];
  char name[256];
  int64_t fetched_ms; /* monotonic */
} dev_prof;

struct api_device_hub {
  loom_api *api;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* CLOCK_MONOTONIC */
  bool stopping;
  dev_job *waiters; /* waiting long polls (under lock) */
  size_t n_waiters;
  int64_t inactivity_ms; /* silence after which an online device is marked offline */
  strmap seen_map; /* device id -> index in seen (under lock) */
  dev_seen **seen;
  size_t n_seen, cap_seen;
  /* profile id -> name, so telemetry does not queue on the registry's
   * writer connection (under lock; emptied when full) */
  strmap prof_map;
  dev_prof *profs;
  size_t n_profs;
  /* the newest online/offline changes written to the registry, a ring
   * (under lock): the console's recent events */
  api_device_change changes[DEV_CHANGES_MAX];
  uint64_t n_changes; /* ever recorded; the newest is at (n_changes - 1) % DEV_CHANGES_MAX */
};

static int64_t mono_ms(void) { return loom_mono_ns() / LOOM_NS_PER_MS; }
static int64_t wall_ms(void) { return loom_now_ns() / LOOM_NS_PER_MS; }
static int64_t rate_slot(void) { return mono_ms() / API_DEVICE_RATE_SLOT_MS; }

static void job_free(dev_job *j) {
  loom_buf_deinit(&j->lp);
  loom_buf_deinit(&j->res.body);
  loom_free(j);
}

static void respond_empty(http_req *req, int status) { http_respond(req, status, NULL, NULL, 0); }

/* ---- activity ---------------------------------------------------------- */

/* Record activity of a device at last_ms. A device not yet in the set is
 * added (dirty: to be written at the next flush); with seed, a device
 * already present is left alone and a new one is added clean (the registry
 * already holds its state). Out of memory: the activity is not recorded
 * (the next one may be). */
static void seen_touch(struct api_device_hub *h, const char *device_id, const char *tenant_id,
                       int64_t last_ms, bool seed, uint32_t n_points) {
  size_t len = strlen(device_id);
  uint64_t hash = strmap_hash(device_id, len);
  pthread_mutex_lock(&h->lock);
  uint32_t idx;
  if (strmap_get(&h->seen_map, device_id, len, hash, &idx) == 0) {
    dev_seen *s = h->seen[idx];
    if (!seed) {
      if (last_ms > s->last_ms) s->last_ms = last_ms;
      s->dirty = true;
      s->gone = false;
      s->departed = false;
    }
    if (n_points) loom_rate_add(&s->rate, rate_slot(), n_points);
  } else if (h->n_seen < UINT32_MAX) {
    dev_seen *s = NULL;
    if (h->n_seen == h->cap_seen) {
      size_t nc = h->cap_seen ? h->cap_seen * 2 : 64;
      dev_seen **p = loom_realloc(h->seen, nc * sizeof *p);
      if (p) {
        h->seen = p;
        h->cap_seen = nc;
      }
    }
    if (h->n_seen < h->cap_seen && (s = loom_calloc(1, sizeof *s))) {
      snprintf(s->device_id, sizeof s->device_id, "%s", device_id);
      snprintf(s->tenant_id, sizeof s->tenant_id, "%s", tenant_id);
      s->last_ms = last_ms;
      s->dirty = !seed;
      if (n_points) loom_rate_add(&s->rate, rate_slot(), n_points);
      if (strmap_put(&h->seen_map, s->device_id, len, hash, (uint32_t)h->n_seen)) loom_free(s);
      else h->seen[h->n_seen++] = s;
    }
  }
  pthread_mutex_unlock(&h->lock);
}

static void note_activity(struct api_device_hub *h, const meta_device_ref *d) {
  if (h) seen_touch(h, d->id, d->tenant_id, wall_ms(), false, 0);
}

/* Activity of a device seen outside the device API (a line-protocol write
 * carrying its tag, api/write.c): batched and marked offline like the rest.
 * Any thread; cheap (one mutex). The prototype is repeated in write.c until
 * api.h declares it. */
void api_device_note_activity(loom_api *api, const char *device_id, const char *tenant_id) {
  if (api->devices && strlen(device_id) <= META_ID_LEN && strlen(tenant_id) <= META_ID_LEN)
    seen_touch(api->devices, device_id, tenant_id, wall_ms(), false, 0);
}

void api_device_note_points(loom_api *api, const char *device_id, const char *tenant_id,
                            size_t n_points) {
  if (api->devices && strlen(device_id) <= META_ID_LEN && strlen(tenant_id) <= META_ID_LEN)
    seen_touch(api->devices, device_id, tenant_id, wall_ms(), false,
               n_points > UINT32_MAX ? UINT32_MAX : (uint32_t)n_points);
}

size_t api_device_busiest(loom_api *api, const char *scope, api_device_rate *out, size_t cap) {
  struct api_device_hub *h = api->devices;
  if (!h || !cap) return 0;
  int64_t now_ms = mono_ms();
  size_t n = 0;
  pthread_mutex_lock(&h->lock);
  for (size_t i = 0; i < h->n_seen; i++) {
    const dev_seen *s = h->seen[i];
    if (scope && strcmp(scope, s->tenant_id)) continue;
    double r = loom_rate_per_s(&s->rate, now_ms, API_DEVICE_RATE_SLOT_MS, 11) * 60.0;
    if (r <= 0) continue;
    /* insertion into the sorted top list (cap is small) */
    size_t k = n < cap ? n++ : cap;
    if (k == cap && !(r > out[cap - 1].points_per_min)) continue;
    if (k == cap) k = cap - 1;
    while (k > 0 && out[k - 1].points_per_min < r) {
      out[k] = out[k - 1];
      k--;
    }
    memcpy(out[k].device_id, s->device_id, sizeof out[k].device_id);
    memcpy(out[k].tenant_id, s->tenant_id, sizeof out[k].tenant_id);
    out[k].points_per_min = r;
  }
  pthread_mutex_unlock(&h->lock);
  return n;
}

size_t api_device_changes(loom_api *api, const char *scope, api_device_change *out, size_t cap) {
  struct api_device_hub *h = api->devices;
  if (!h || !cap) return 0;
  size_t n = 0;
  pthread_mutex_lock(&h->lock);
  uint64_t have = h->n_changes < DEV_CHANGES_MAX ? h->n_changes : DEV_CHANGES_MAX;
  for (uint64_t k = 0; k < have && n < cap; k++) {
    const api_device_change *c = &h->changes[(h->n_changes - 1 - k) % DEV_CHANGES_MAX];
    if (!scope || !strcmp(scope, c->tenant_id)) out[n++] = *c;
  }
  pthread_mutex_unlock(&h->lock);
  return n;
}

void api_device_note_offline(loom_api *api, const char *device_id, const char *tenant_id) {
  struct api_device_hub *h = api->devices;
  if (!h || strlen(device_id) > META_ID_LEN || strlen(tenant_id) > META_ID_LEN) return;
  seen_touch(h, device_id, tenant_id, wall_ms(), false, 0);
  size_t len = strlen(device_id);
  uint32_t idx;
  pthread_mutex_lock(&h->lock);
  if (strmap_get(&h->seen_map, device_id, len, strmap_hash(device_id, len), &idx) == 0)
    h->seen[idx]->gone = true;
  pthread_mutex_unlock(&h->lock);
}

/* Has s received no value over the busiest list's window? */
static bool rate_idle(const dev_seen *s, int64_t slot) {
  return loom_rate_sum(&s->rate, slot, 13) == 0; /* 13 slots of 5 s cover the last minute */
}

/* Write dirty devices as online and long-silent ones as offline, in one
 * meta transaction; drop departed devices whose last minute is over. Hub
 * thread. */
static void flush_activity(struct api_device_hub *h) {
  int64_t now = wall_ms(), slot = rate_slot();
  pthread_mutex_lock(&h->lock);
  size_t n = 0;
  for (size_t i = 0; i < h->n_seen; i++) {
    const dev_seen *s = h->seen[i];
    if (s->departed && !s->dirty) n += rate_idle(s, slot);
    else if (s->dirty || s->gone || now - s->last_ms >= h->inactivity_ms) n++;
  }
  if (!n) {
    pthread_mutex_unlock(&h->lock);
    return;
  }
  meta_activity *items = loom_calloc(n, sizeof *items);
  dev_seen **gone = loom_calloc(n, sizeof *gone);
  if (!items || !gone) {
    pthread_mutex_unlock(&h->lock);
    loom_free(items);
    loom_free(gone);
    return;
  }
  /* copies: the entries may change or go once the lock is released */
  char(*ids)[2][META_ID_LEN + 1] = loom_calloc(n, sizeof *ids);
  if (!ids) {
    pthread_mutex_unlock(&h->lock);
    loom_free(items);
    loom_free(gone);
    return;
  }
  size_t k = 0, n_gone = 0;
  for (size_t i = 0; i < h->n_seen;) { /* counted above under the same lock: k, n_gone <= n */
    dev_seen *s = h->seen[i];
    if (s->departed && !s->dirty) {
      if (!rate_idle(s, slot)) {
        i++;
        continue;
      }
    } else {
      bool offline = s->gone || (!s->dirty && now - s->last_ms >= h->inactivity_ms);
      if (!s->dirty && !offline) {
        i++;
        continue;
      }
      memcpy(ids[k][0], s->device_id, sizeof ids[k][0]);
      memcpy(ids[k][1], s->tenant_id, sizeof ids[k][1]);
      items[k].device_id = ids[k][0];
      items[k].tenant_id = ids[k][1];
      items[k].online = !offline;
      items[k].last_activity_ms = s->last_ms;
      k++;
      s->dirty = false;
      if (!offline) {
        i++;
        continue;
      }
      if (!rate_idle(s, slot)) { /* keep its last minute for the busiest list */
        s->departed = true;
        s->gone = false;
        i++;
        continue;
      }
    }
    { /* forget it: swap-remove from the array, fix the moved index */
      size_t len = strlen(s->device_id);
      strmap_del(&h->seen_map, s->device_id, len, strmap_hash(s->device_id, len));
      h->seen[i] = h->seen[--h->n_seen];
      if (i < h->n_seen) {
        dev_seen *m = h->seen[i];
        size_t ml = strlen(m->device_id);
        strmap_put(&h->seen_map, m->device_id, ml, strmap_hash(m->device_id, ml), (uint32_t)i);
      }
      gone[n_gone++] = s;
      continue; /* index i now holds the moved entry */
    }
    i++;
  }
  pthread_mutex_unlock(&h->lock);
  for (size_t i = 0; i < n_gone; i++) loom_free(gone[i]);
  if (h->api->meta) {
    int rc = meta_device_activity(h->api->meta, items, k, NULL);
    if (rc) LOOM_WARN("device activity not recorded", "devices=%zu err=\"%s\"", k, loom_strerror(rc));
    int64_t at = wall_ms();
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; rc == 0 && i < k; i++) {
      if (!items[i].state_changed) continue;
      api_device_change *c = &h->changes[h->n_changes++ % DEV_CHANGES_MAX];
      memcpy(c->device_id, items[i].device_id, sizeof c->device_id);
      memcpy(c->tenant_id, items[i].tenant_id, sizeof c->tenant_id);
      c->online = items[i].online;
      c->time_ms = at;
    }
    pthread_mutex_unlock(&h->lock);
    for (size_t i = 0; rc == 0 && i < k; i++)
      if (items[i].state_changed)
        api_live_publish(h->api, LIVE_STATE, items[i].tenant_id, items[i].device_id,
                         json_pack("{s:s,s:I}", "state", items[i].online ? "online" : "offline",
                                   "last_activity_ms", (json_int_t)items[i].last_activity_ms));
  }
  loom_free(ids);
  loom_free(items);
  loom_free(gone);
}

/* ---- device resolution --------------------------------------------------- */

/* The device whose token is j->token, allowed `perm`. Answers 401/403/503
 * itself and returns nonzero when the request must stop. Worker thread. */
static int resolve_device(dev_job *j, sec_perm perm) {
  if (!j->api->meta) {
    api_error(j->req, 503, "the registry is not open");
    return LOOM_ECLOSED;
  }
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  sec_token_hash(j->token, strlen(j->token), hash);
  int rc = meta_device_by_token(j->api->meta, hash, &j->dev);
  if (rc == LOOM_ENOTFOUND) {
    api_error(j->req, 401, "unknown device access token");
    return rc;
  }
  if (rc) {
    api_error_rc(j->req, rc, "device look-up failed");
    return rc;
  }
  sec_principal p;
  memset(&p, 0, sizeof p);
  p.kind = SEC_PRINCIPAL_DEVICE;
  snprintf(p.tenant_id, sizeof p.tenant_id, "%s", j->dev.tenant_id);
  snprintf(p.subject_id, sizeof p.subject_id, "%s", j->dev.id);
  rc = sec_policy_check(&p, perm, j->dev.tenant_id, NULL);
  if (rc) {
    api_error_rc(j->req, rc, "this device may not do that");
    return rc;
  }
  note_activity(j->api->devices, &j->dev);
  return 0;
}

/* ---- telemetry ---------------------------------------------------------- */

/* Engine thread: the write is durable (status 0) or failed. */
static void telemetry_done(void *arg, int status) {
  dev_job *j = arg;
  if (status) {
    int http = ingest_failure_status(status, &j->res.body);
    http_respond(j->req, http, "application/json", j->res.body.data, j->res.body.len);
  } else if (j->res.status == 204) {
    respond_empty(j->req, 200);
  } else { /* 400: some values refused by the engine (type conflict ...) */
    http_respond(j->req, j->res.status, "application/json", j->res.body.data, j->res.body.len);
  }
  job_free(j);
}

int api_device_ingest(loom_api *api, const char *db, const char *lp, size_t len, ingest_result *res,
                      ts_write_cb cb, void *arg) {
  int rc;
  for (int attempt = 0;; attempt++) {
    loom_buf_reset(&res->body);
    rc = ingest_lp_live(api->engine, api->live, db, lp, len, 1, res, cb, arg);
    if (rc != LOOM_ENOTFOUND || attempt) break;
    /* the tenant's database is named in the registry but not in the engine
     * yet (first telemetry of a new tenant): create it and retry once */
    int crc = ts_db_create(api->engine, db, 0);
    if (crc && crc != LOOM_EEXIST) break;
  }
  return rc;
}

/* The measurement of a device's telemetry: its profile's name, cached for
 * DEV_PROFILE_TTL_MS (a rename shows in new points within that time). */
void api_device_profile_name(loom_api *api, const char *tenant_id, const char *pid, char *out,
                             size_t cap) {
  struct api_device_hub *h = api->devices;
  size_t len = strlen(pid);
  uint64_t hash = strmap_hash(pid, len);
  int64_t now = mono_ms();
  uint32_t idx;
  if (h) {
    pthread_mutex_lock(&h->lock);
    bool hit = strmap_get(&h->prof_map, pid, len, hash, &idx) == 0 &&
               now - h->profs[idx].fetched_ms < DEV_PROFILE_TTL_MS;
    if (hit) snprintf(out, cap, "%s", h->profs[idx].name);
    pthread_mutex_unlock(&h->lock);
    if (hit) return;
  }
  json_t *prof = NULL;
  snprintf(out, cap, "%s", DEV_MEASUREMENT_FALLBACK);
  if (!api->meta || meta_get(api->meta, META_PROFILE, tenant_id, pid, &prof, NULL, 0)) return;
  const char *name = json_string_value(json_object_get(prof, "name"));
  if (name && *name) snprintf(out, cap, "%s", name);
  json_decref(prof);
  if (!h || len > META_ID_LEN) return;
  pthread_mutex_lock(&h->lock);
  if (strmap_get(&h->prof_map, pid, len, hash, &idx)) {
    if (h->n_profs == DEV_PROFILE_CACHE) { /* full: start over (profiles are few) */
      strmap_deinit(&h->prof_map);
      strmap_init(&h->prof_map);
      h->n_profs = 0;
    }
    idx = (uint32_t)h->n_profs;
    memcpy(h->profs[idx].id, pid, len + 1);
    if (strmap_put(&h->prof_map, h->profs[idx].id, len, hash, idx)) idx = UINT32_MAX;
    else h->n_profs++;
  }
  if (idx != UINT32_MAX) {
    snprintf(h->profs[idx].name, sizeof h->profs[idx].name, "%s", out);
    h->profs[idx].fetched_ms = now;
  }
  pthread_mutex_unlock(&h->lock);
}

static void do_telemetry(dev_job *j) {
  if (resolve_device(j, SEC_PERM_DEVSELF_TELEMETRY_WRITE)) goto done;
  size_t len;
  const uint8_t *body = http_req_body(j->req, &len);
  tbjson_batch b;
  tbjson_batch_init(&b);
  char err[TBJSON_ERR_MAX];
  int rc = tbjson_decode(&b, (const char *)body, len, loom_now_ns(), err, sizeof err);
  if (rc) {
    api_error(j->req, rc == LOOM_ENOMEM ? 503 : 400, err);
    goto done;
  }
  if (b.n_groups == 0) { /* {} or []: nothing to store */
    tbjson_batch_deinit(&b);
    respond_empty(j->req, 200);
    goto done;
  }
  char meas[256];
  api_device_profile_name(j->api, j->dev.tenant_id, j->dev.profile_id, meas, sizeof meas);
  rc = tbjson_format_lp(&b, meas, "device", j->dev.name, &j->lp);
  size_t n_values = b.n_kvs;
  tbjson_batch_deinit(&b);
  if (rc) {
    char msg[400];
    if (rc == LOOM_EINVAL)
      snprintf(msg, sizeof msg,
               "the profile name \"%.100s\" or device name \"%.100s\" cannot be a line-protocol "
               "measurement or tag (backslash, or a leading '#'): rename it",
               meas, j->dev.name);
    else snprintf(msg, sizeof msg, "out of memory");
    api_error(j->req, rc == LOOM_EINVAL ? 500 : 503, msg);
    goto done;
  }
  /* counted as received (the console's busiest devices): j may be gone once
   * api_device_ingest returned */
  api_device_note_points(j->api, j->dev.id, j->dev.tenant_id, n_values);
  rc = api_device_ingest(j->api, j->dev.db_name, (const char *)j->lp.data, j->lp.len, &j->res,
                         telemetry_done, j);
  if (rc) { /* telemetry_done will not run */
    int status = rc == LOOM_ENOTFOUND ? 404 : rc == LOOM_EINVAL ? 400
               : rc == LOOM_EREADONLY || rc == LOOM_ENOMEM ? 503 : 500;
    if (j->res.body.len)
      http_respond(j->req, status, "application/json", j->res.body.data, j->res.body.len);
    else api_error(j->req, status, loom_strerror(rc));
    goto done;
  }
  return; /* telemetry_done answers and frees */
done:
  job_free(j);
}

/* ---- attributes ----------------------------------------------------------- */

static void do_attr_post(dev_job *j) {
  if (resolve_device(j, SEC_PERM_DEVSELF_ATTRIBUTES_WRITE)) goto out;
  size_t len;
  const uint8_t *body = http_req_body(j->req, &len);
  json_error_t je;
  json_t *kv = json_loadb((const char *)body, len, JSON_DECODE_ANY, &je);
  char err[300];
  if (!kv) {
    snprintf(err, sizeof err, "invalid JSON at line %d, column %d (byte %d): %s", je.line,
             je.column, je.position, je.text);
    api_error(j->req, 400, err);
    goto out;
  }
  if (!json_is_object(kv)) {
    api_error(j->req, 400, "expected a JSON object of attribute keys and values");
    json_decref(kv);
    goto out;
  }
  err[0] = 0;
  int rc = meta_attr_set(j->api->meta, j->dev.tenant_id, j->dev.id, META_ATTR_CLIENT, kv,
                         wall_ms(), err, sizeof err);
  json_decref(kv);
  if (rc) api_error_rc(j->req, rc, err);
  else respond_empty(j->req, 200);
out:
  job_free(j);
}

/* Split "a, b,c" into keys (pointers into buf). Returns the count, or -1
 * when there are more than DEV_KEYS_MAX. */
static int split_keys(char *buf, const char **keys) {
  int n = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    while (*t == ' ') t++;
    char *e = t + strlen(t);
    while (e > t && e[-1] == ' ') *--e = 0;
    if (!*t) continue;
    if (n == DEV_KEYS_MAX) return -1;
    keys[n++] = t;
  }
  return n;
}

/* Values of one scope restricted to keys, into out[name] ({} when none). */
static int attr_scope(loom_api *api, const char *tenant_id, const char *device_id, unsigned bit,
                      const char *name, const char *const *keys, size_t n, json_t *out, char *err,
                      size_t errlen) {
  json_t *got = NULL;
  int rc = meta_attr_get(api->meta, tenant_id, device_id, bit, keys, n, &got, err, errlen);
  if (rc) return rc;
  json_t *vals = json_object_get(got, name);
  if (vals) rc = json_object_set(out, name, vals) ? LOOM_ENOMEM : 0;
  else rc = json_object_set_new(out, name, json_object()) ? LOOM_ENOMEM : 0;
  json_decref(got);
  return rc;
}

int api_device_attr_read(loom_api *api, const char *tenant_id, const char *device_id,
                         const char *client_keys, const char *shared_keys, json_t **out, char *err,
                         size_t errlen) {
  *out = NULL;
  char cbuf[4096], sbuf[4096];
  const char *ckeys[DEV_KEYS_MAX], *skeys[DEV_KEYS_MAX];
  int nc = 0, ns = 0;
  if (!api->meta) {
    snprintf(err, errlen, "the registry is not open");
    return LOOM_ECLOSED;
  }
  if (client_keys) {
    snprintf(cbuf, sizeof cbuf, "%s", client_keys);
    nc = split_keys(cbuf, ckeys);
  }
  if (shared_keys) {
    snprintf(sbuf, sizeof sbuf, "%s", shared_keys);
    ns = split_keys(sbuf, skeys);
  }
  if (nc < 0 || ns < 0) {
    snprintf(err, errlen, "too many keys (at most %d per scope)", DEV_KEYS_MAX);
    return LOOM_EINVAL;
  }
  json_t *res = json_object();
  int rc = res ? 0 : LOOM_ENOMEM;
  /* ThingsBoard: no key list = every client and shared attribute; else the
   * listed keys of the listed scopes only */
  bool all = !client_keys && !shared_keys;
  if (!rc && (all || client_keys))
    rc = attr_scope(api, tenant_id, device_id, META_ATTR_CLIENT, "client", ckeys, (size_t)nc, res,
                    err, errlen);
  if (!rc && (all || shared_keys))
    rc = attr_scope(api, tenant_id, device_id, META_ATTR_SHARED, "shared", skeys, (size_t)ns, res,
                    err, errlen);
  if (rc) json_decref(res);
  else *out = res;
  return rc;
}

static void do_attr_get(dev_job *j) {
  if (resolve_device(j, SEC_PERM_DEVSELF_ATTRIBUTES_READ)) goto out;
  char err[300] = "";
  json_t *res = NULL;
  int rc = api_device_attr_read(j->api, j->dev.tenant_id, j->dev.id,
                                http_req_param(j->req, "clientKeys"),
                                http_req_param(j->req, "sharedKeys"), &res, err, sizeof err);
  if (rc == LOOM_EINVAL) api_error(j->req, 400, err);
  else if (rc) api_error_rc(j->req, rc, err);
  else api_reply_json(j->req, 200, res);
out:
  job_free(j);
}

/* ---- RPC ------------------------------------------------------------------ */

int api_device_rpc_claim(loom_api *api, const char *tenant_id, const char *device_id,
                         json_t **msg, char *rpc_id, bool *oneway, char *err, size_t errlen) {
  *msg = NULL;
  json_t *cmd = NULL;
  int rc = meta_rpc_claim_next(api->meta, tenant_id, device_id, wall_ms(), &cmd, err, errlen);
  if (rc) return rc;
  const char *id = json_string_value(json_object_get(cmd, "id"));
  snprintf(rpc_id, META_ID_LEN + 1, "%s", id ? id : "");
  *oneway = json_is_true(json_object_get(cmd, "oneway"));
  json_t *params = json_object_get(cmd, "params");
  *msg = json_pack("{s:s,s:O?,s:O}", "id", rpc_id, "method", json_object_get(cmd, "method"),
                   "params", params ? params : json_null());
  json_decref(cmd);
  if (!*msg) { /* put it back */
    api_device_rpc_handed(api, tenant_id, device_id, rpc_id, *oneway, false);
    snprintf(err, errlen, "out of memory");
    return LOOM_ENOMEM;
  }
  return 0;
}

void api_device_rpc_handed(loom_api *api, const char *tenant_id, const char *device_id,
                           const char *rpc_id, bool oneway, bool ok) {
  /* one-way commands are done once handed over; two-way ones wait for the
   * device's answer. If it could not be handed over, queue it again. */
  const char *to = !ok ? "queued" : oneway ? "successful" : "delivered";
  char err[300] = "";
  int rc = meta_rpc_transition(api->meta, tenant_id, rpc_id, to, NULL, wall_ms(), NULL, err,
                               sizeof err);
  if (rc) LOOM_WARN("rpc status not updated", "id=%s to=%s err=\"%s\"", rpc_id, to, err);
  else api_live_publish(api, LIVE_RPC, tenant_id, device_id,
                        json_pack("{s:s,s:s}", "rpc_id", rpc_id, "status", to));
}

int api_device_rpc_answer(loom_api *api, const char *tenant_id, const char *device_id,
                          const char *rpc_id, const json_t *resp, char *err, size_t errlen) {
  json_t *cmd = NULL;
  int rc = meta_get(api->meta, META_RPC, tenant_id, rpc_id, &cmd, err, errlen);
  const char *owner = rc ? NULL : json_string_value(json_object_get(cmd, "device_id"));
  bool mine = owner && !strcmp(owner, device_id);
  json_decref(cmd);
  if (rc == LOOM_ENOTFOUND || (!rc && !mine)) {
    snprintf(err, errlen, "no such command for this device");
    return LOOM_ENOTFOUND;
  }
  if (rc) return rc;
  rc = meta_rpc_transition(api->meta, tenant_id, rpc_id, "successful", resp, wall_ms(), NULL, err,
                           errlen);
  if (rc == 0)
    api_live_publish(api, LIVE_RPC, tenant_id, device_id,
                     json_pack("{s:s,s:s}", "rpc_id", rpc_id, "status", "successful"));
  return rc;
}

/* Claim the device's next command and answer with it. 0 answered (and j is
 * still the caller's to free), LOOM_ENOTFOUND nothing pending (not
 * answered), other codes answered with an error. Worker or hub thread. */
static int try_deliver(dev_job *j) {
  json_t *out = NULL;
  char err[300] = "", idbuf[META_ID_LEN + 1];
  bool oneway = false;
  int rc = api_device_rpc_claim(j->api, j->dev.tenant_id, j->dev.id, &out, idbuf, &oneway, err,
                                sizeof err);
  if (rc == LOOM_ENOTFOUND) return rc;
  if (rc) {
    api_error_rc(j->req, rc, err);
    return rc;
  }
  char *text = json_dumps(out, JSON_COMPACT);
  json_decref(out);
  int hr = text ? http_respond(j->req, 200, "application/json", text, strlen(text)) : LOOM_ENOMEM;
  free(text);
  api_device_rpc_handed(j->api, j->dev.tenant_id, j->dev.id, idbuf, oneway, hr == 0);
  if (hr) api_error(j->req, 503, "out of memory");
  return 0;
}

static void hub_add_waiter(struct api_device_hub *h, dev_job *j) {
  pthread_mutex_lock(&h->lock);
  if (h->stopping) {
    pthread_mutex_unlock(&h->lock);
    api_error(j->req, 503, "server is stopping");
    job_free(j);
    return;
  }
  j->next = h->waiters;
  h->waiters = j;
  h->n_waiters++;
  pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

static void do_rpc_poll(dev_job *j) {
  if (resolve_device(j, SEC_PERM_DEVSELF_RPC)) goto out;
  const char *ts = http_req_param(j->req, "timeout");
  int64_t timeout = DEV_RPC_TIMEOUT_DEFAULT_MS;
  if (ts && *ts) {
    char *end;
    long long v = strtoll(ts, &end, 10);
    if (*end || v < 0) {
      api_error(j->req, 400, "timeout must be a number of milliseconds");
      goto out;
    }
    if (v > 0) timeout = v > DEV_RPC_TIMEOUT_MAX_MS ? DEV_RPC_TIMEOUT_MAX_MS : v;
  }
  int rc = try_deliver(j);
  if (rc != LOOM_ENOTFOUND) goto out;
  if (!j->api->devices) {
    api_error(j->req, 503, "long polling is not running");
    goto out;
  }
  int64_t now = mono_ms();
  j->deadline_ms = now + timeout;
  j->next_poll_ms = now + DEV_RPC_POLL_MS;
  hub_add_waiter(j->api->devices, j);
  return;
out:
  job_free(j);
}

static void do_rpc_reply(dev_job *j) {
  if (resolve_device(j, SEC_PERM_DEVSELF_RPC)) goto out;
  char err[300] = "";
  size_t len;
  const uint8_t *body = http_req_body(j->req, &len);
  json_t *resp = NULL;
  if (len) {
    json_error_t je;
    resp = json_loadb((const char *)body, len, JSON_DECODE_ANY, &je);
    if (!resp) {
      snprintf(err, sizeof err, "invalid JSON at line %d, column %d (byte %d): %s", je.line,
               je.column, je.position, je.text);
      api_error(j->req, 400, err);
      goto out;
    }
  }
  int rc = api_device_rpc_answer(j->api, j->dev.tenant_id, j->dev.id, j->rpc_id, resp, err,
                                 sizeof err);
  json_decref(resp);
  if (rc == LOOM_ENOTFOUND) api_error(j->req, 404, err);
  else if (rc == LOOM_EINVAL) api_error(j->req, 409, err); /* already answered, expired, not sent */
  else if (rc) api_error_rc(j->req, rc, err);
  else respond_empty(j->req, 200);
out:
  job_free(j);
}

/* ---- provisioning ------------------------------------------------------- */

/* The client's address without the port ("1.2.3.4", "::1"). */
static void client_addr(http_req *req, char *out, size_t cap) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", http_req_remote(req));
  char *colon = strrchr(buf, ':');
  if (colon) *colon = 0;
  char *a = buf;
  if (*a == '[') {
    a++;
    char *rb = strchr(a, ']');
    if (rb) *rb = 0;
  }
  snprintf(out, cap, "%s", a);
}

static void prov_fail(http_req *req, const char *status, const char *msg) {
  json_t *v = json_pack("{s:s,s:s}", "status", status, "errorMsg", msg);
  api_reply_json(req, 200, v); /* ThingsBoard answers provisioning failures with 200 */
}

/* Does the presented secret match the stored one? argon2id strings are
 * verified with sec/password; a 64-hex string is a BLAKE2b-256 hash. */
static bool prov_secret_ok(const char *stored, const char *given) {
  if (!stored[0]) return false; /* provisioning disabled for this profile */
  if (!strncmp(stored, "$argon2", 7)) return sec_password_verify(stored, given) == 0;
  if (strlen(stored) != 64) return false;
  uint8_t h[SEC_TOKEN_HASH_LEN];
  char hex[SEC_TOKEN_HEX_MAX];
  sec_token_hash(given, strlen(given), h);
  sec_token_hash_hex(h, hex);
  uint8_t a[32], b[32];
  for (int i = 0; i < 32; i++) {
    unsigned x, y;
    if (sscanf(stored + 2 * i, "%2x", &x) != 1 || sscanf(hex + 2 * i, "%2x", &y) != 1) return false;
    a[i] = (uint8_t)x;
    b[i] = (uint8_t)y;
  }
  return sec_token_hash_equal(a, b);
}

static void do_provision(dev_job *j) {
  loom_api *api = j->api;
  json_t *in = NULL, *dev_in = NULL, *secrets = NULL, *created = NULL;
  if (!api->meta) {
    api_error(j->req, 503, "the registry is not open");
    goto out;
  }
  size_t len;
  const uint8_t *body = http_req_body(j->req, &len);
  json_error_t je;
  in = json_loadb((const char *)body, len, 0, &je);
  if (!in) {
    char err[300];
    snprintf(err, sizeof err, "invalid JSON at line %d, column %d (byte %d): %s", je.line,
             je.column, je.position, je.text);
    api_error(j->req, 400, err);
    goto out;
  }
  const char *key = json_string_value(json_object_get(in, "provisionDeviceKey"));
  const char *secret = json_string_value(json_object_get(in, "provisionDeviceSecret"));
  const char *name = json_string_value(json_object_get(in, "deviceName"));
  const char *ctype = json_string_value(json_object_get(in, "credentialsType"));
  const char *given_token = json_string_value(json_object_get(in, "token"));
  /* brute force on provision secrets: the login back-off table (same wall
   * clock as login), per provision key and per client address (each wrong
   * guess also costs an argon2id verify) */
  char account[300], addr[64];
  snprintf(account, sizeof account, "provision:%.256s", key ? key : "");
  client_addr(j->req, addr, sizeof addr);
  uint64_t retry = 0;
  int brc = 0;
  if (api->backoff) {
    pthread_mutex_lock(&api->backoff_lock);
    brc = sec_backoff_check(api->backoff, account, addr, (uint64_t)wall_ms(), &retry);
    pthread_mutex_unlock(&api->backoff_lock);
  }
  if (brc == LOOM_EAGAIN) {
    char ra[32];
    snprintf(ra, sizeof ra, "%llu", (unsigned long long)((retry + 999) / 1000));
    http_req_add_header(j->req, "Retry-After", ra);
    api_error(j->req, 429, "too many failed provisioning attempts: wait before trying again");
    goto out;
  }
  meta_profile_prov prof;
  if (!key || !secret || meta_profile_by_provision_key(api->meta, key, &prof) ||
      !prov_secret_ok(prof.provision_secret_hash, secret)) {
    if (api->backoff) {
      pthread_mutex_lock(&api->backoff_lock);
      sec_backoff_fail(api->backoff, account, addr, (uint64_t)wall_ms(), NULL);
      pthread_mutex_unlock(&api->backoff_lock);
    }
    prov_fail(j->req, "NOT_FOUND", "Failed to provision device: unknown provision key or wrong secret");
    goto out;
  }
  if (ctype && strcmp(ctype, "ACCESS_TOKEN")) {
    prov_fail(j->req, "FAILURE", "Failed to provision device: only ACCESS_TOKEN credentials are supported");
    goto out;
  }
  char token[DEV_TOKEN_MAX];
  if (given_token && *given_token) {
    if (strlen(given_token) >= sizeof token || strchr(given_token, '/')) {
      prov_fail(j->req, "FAILURE", "Failed to provision device: the token must be 1..255 bytes without '/'");
      goto out;
    }
    snprintf(token, sizeof token, "%s", given_token);
  } else if (sec_token_generate(SEC_TOKEN_DEVICE, token)) {
    api_error(j->req, 500, "cannot generate a device token");
    goto out;
  }
  char gen_name[64];
  if (!name || !*name) { /* ThingsBoard names a device itself when the request does not */
    uint8_t h[SEC_TOKEN_HASH_LEN];
    sec_token_hash(token, strlen(token), h);
    snprintf(gen_name, sizeof gen_name, "device-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3],
             h[4], h[5]);
    name = gen_name;
  }
  uint8_t th[SEC_TOKEN_HASH_LEN];
  char hex[SEC_TOKEN_HEX_MAX];
  sec_token_hash(token, strlen(token), th);
  sec_token_hash_hex(th, hex);
  dev_in = json_pack("{s:s,s:s}", "name", name, "profile_id", prof.id);
  secrets = json_pack("{s:s}", "token_hash", hex);
  if (!dev_in || !secrets) {
    api_error(j->req, 503, "out of memory");
    goto out;
  }
  char actor[80];
  snprintf(actor, sizeof actor, "provision:%s", prof.id);
  /* audited before the change: a failed audit append changes nothing */
  if (api_audit_raw(api, j->req, actor, prof.tenant_id, "device.provision", name, "attempt", NULL)) {
    api_error(j->req, 500, "the audit log cannot be written: nothing was changed");
    goto out;
  }
  char err[300] = "";
  int rc = meta_create(api->meta, META_DEVICE, prof.tenant_id, dev_in, secrets, &created, err,
                       sizeof err);
  const char *dev_id = rc ? NULL : json_string_value(json_object_get(created, "id"));
  api_audit_raw(api, j->req, actor, prof.tenant_id, "device.provision", dev_id ? dev_id : name,
                rc ? "failure" : "success", rc ? err : name);
  if (rc == LOOM_EEXIST || rc == LOOM_EINVAL) {
    char msg[400];
    /* not meta's words for EEXIST: they would tell whether a token is taken */
    snprintf(msg, sizeof msg, "Failed to provision device: %s",
             rc == LOOM_EEXIST ? "a device with this name or token already exists" : err);
    prov_fail(j->req, "FAILURE", msg);
    goto out;
  }
  if (rc) {
    api_error_rc(j->req, rc, err);
    goto out;
  }
  api_reply_json(j->req, 200,
                 json_pack("{s:s,s:s,s:s}", "status", "SUCCESS", "credentialsType", "ACCESS_TOKEN",
                           "credentialsValue", token));
out:
  json_decref(in);
  json_decref(dev_in);
  json_decref(secrets);
  json_decref(created);
  job_free(j);
}

/* ---- dispatch from the loop thread ----------------------------------------- */

static void job_run(void *arg) {
  dev_job *j = arg;
  switch (j->kind) {
  case DEV_TELEMETRY: do_telemetry(j); break;
  case DEV_ATTR_POST: do_attr_post(j); break;
  case DEV_ATTR_GET: do_attr_get(j); break;
  case DEV_RPC_POLL: do_rpc_poll(j); break;
  case DEV_RPC_REPLY: do_rpc_reply(j); break;
  case DEV_PROVISION: do_provision(j); break;
  }
}

/* Segment i (0-based) of path into out; 0 or LOOM_EINVAL (absent, empty or
 * too long). */
static int path_segment(const char *path, int i, char *out, size_t cap) {
  const char *p = path;
  for (int k = 0; k <= i; k++) {
    if (*p != '/') return LOOM_EINVAL;
    p++;
    size_t n = strcspn(p, "/");
    if (k == i) {
      if (n == 0 || n >= cap) return LOOM_EINVAL;
      memcpy(out, p, n);
      out[n] = 0;
      return 0;
    }
    p += n;
  }
  return LOOM_EINVAL;
}

static void submit(http_req *req, loom_api *api, dev_kind kind) {
  dev_job *j = loom_calloc(1, sizeof *j);
  if (!j) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  j->api = api;
  j->req = req;
  j->kind = kind;
  loom_buf_init(&j->lp);
  loom_buf_init(&j->res.body);
  size_t body_len;
  http_req_body(req, &body_len);
  if (body_len > DEV_BODY_MAX) {
    api_error(req, 413, "request body larger than 4 MiB: send telemetry in smaller batches");
    job_free(j);
    return;
  }
  const char *path = http_req_path(req);
  /* /api/v1/{token}/...: the token is segment 2, a command id segment 4 */
  if (kind != DEV_PROVISION && path_segment(path, 2, j->token, sizeof j->token)) {
    api_error(req, 401, "unknown device access token");
    job_free(j);
    return;
  }
  if (kind == DEV_RPC_REPLY && path_segment(path, 4, j->rpc_id, sizeof j->rpc_id)) {
    api_error(req, 404, "no such command for this device");
    job_free(j);
    return;
  }
  if (loom_workpool_submit(api->pool, job_run, j)) {
    api_error(req, 503, "server is stopping or out of memory");
    job_free(j);
  }
}

void api_device_telemetry(http_req *req, loom_api *api) { submit(req, api, DEV_TELEMETRY); }

void api_device_attributes(http_req *req, loom_api *api) {
  submit(req, api, http_req_method_bit(req) == HTTP_M_POST ? DEV_ATTR_POST : DEV_ATTR_GET);
}

void api_device_rpc_poll(http_req *req, loom_api *api) {
  if (http_req_method_bit(req) != HTTP_M_GET) { /* HEAD would claim a command and drop it */
    http_req_add_header(req, "Allow", "GET");
    api_error(req, 405, "method not allowed: poll with GET");
    return;
  }
  submit(req, api, DEV_RPC_POLL);
}
void api_device_rpc_reply(http_req *req, loom_api *api) { submit(req, api, DEV_RPC_REPLY); }
void api_device_provision(http_req *req, loom_api *api) { submit(req, api, DEV_PROVISION); }

/* ---- the hub thread --------------------------------------------------------- */

static void abs_deadline(int64_t ms, struct timespec *ts) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms / 1000);
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* Devices the registry says are online (from before a restart) join the
 * seen set, so that they are marked offline after DEV_INACTIVITY_MS of
 * silence like any other. Hub thread, at start. */
static void seed_online(struct api_device_hub *h) {
  if (!h->api->meta) return;
  meta_filter f = {"state", "online"};
  int64_t now = wall_ms();
  for (uint32_t page = 0;; page++) {
    meta_query q = {.page = page, .page_size = META_PAGE_MAX, .filters = &f, .n_filters = 1};
    json_t *pg = NULL;
    if (meta_list(h->api->meta, META_DEVICE, NULL, &q, &pg, NULL, 0)) return;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(pg, "data"), i, d) {
      const char *id = json_string_value(json_object_get(d, "id"));
      const char *tid = json_string_value(json_object_get(d, "tenant_id"));
      json_t *last = json_object_get(d, "last_activity_ms");
      if (id && tid && strlen(id) <= META_ID_LEN && strlen(tid) <= META_ID_LEN)
        seen_touch(h, id, tid, json_is_integer(last) ? json_integer_value(last) : now, true, 0);
    }
    bool more = json_is_true(json_object_get(pg, "hasNext"));
    json_decref(pg);
    if (!more) return;
  }
}

/* Commands whose time ran out: queued ones become expired, sent or
 * delivered ones timeout (meta_rpc_expire), and subscribers hear of it.
 * Hub thread, once a second. */
static void expire_commands(struct api_device_hub *h) {
  if (!h->api->meta) return;
  json_t *changed = NULL;
  if (meta_rpc_expire(h->api->meta, wall_ms(), &changed, NULL)) return;
  size_t i;
  json_t *c;
  json_array_foreach(changed, i, c) {
    const char *tid = json_string_value(json_object_get(c, "tenant_id"));
    const char *did = json_string_value(json_object_get(c, "device_id"));
    if (tid && did)
      api_live_publish(h->api, LIVE_RPC, tid, did,
                       json_pack("{s:s?,s:s?}", "rpc_id", json_string_value(json_object_get(c, "id")),
                                 "status", json_string_value(json_object_get(c, "status"))));
  }
  json_decref(changed);
}

static void *hub_main(void *arg) {
  struct api_device_hub *h = arg;
  pthread_setname_np(pthread_self(), "device-hub"); /* top -H, perf, gdb */
  seed_online(h);
  int64_t next_flush = mono_ms() + DEV_FLUSH_MS;
  pthread_mutex_lock(&h->lock);
  while (!h->stopping) {
    int64_t now = mono_ms(), wake = next_flush;
    for (dev_job *w = h->waiters; w; w = w->next) {
      if (w->next_poll_ms < wake) wake = w->next_poll_ms;
      if (w->deadline_ms < wake) wake = w->deadline_ms;
    }
    if (wake > now) {
      struct timespec ts;
      abs_deadline(wake - now, &ts);
      pthread_cond_timedwait(&h->cond, &h->lock, &ts);
      continue; /* recompute: woken early by a new waiter, a notify or stop */
    }
    /* take the due waiters out of the list */
    dev_job *due = NULL, **pp = &h->waiters;
    while (*pp) {
      dev_job *w = *pp;
      if (w->next_poll_ms <= now || w->deadline_ms <= now) {
        *pp = w->next;
        h->n_waiters--;
        w->next = due;
        due = w;
      } else {
        pp = &w->next;
      }
    }
    pthread_mutex_unlock(&h->lock);
    while (due) {
      dev_job *w = due;
      due = w->next;
      w->next = NULL;
      int rc = LOOM_ENOTFOUND;
      if (w->deadline_ms > now) rc = try_deliver(w);
      size_t backlog;
      if (rc == LOOM_ENOTFOUND && w->deadline_ms > now &&
          http_req_backlog(w->req, &backlog) != LOOM_ECLOSED) {
        w->next_poll_ms = now + DEV_RPC_POLL_MS;
        pthread_mutex_lock(&h->lock);
        w->next = h->waiters;
        h->waiters = w;
        h->n_waiters++;
        pthread_mutex_unlock(&h->lock);
        continue;
      }
      if (rc == LOOM_ENOTFOUND) respond_empty(w->req, 408); /* ThingsBoard's timeout answer */
      job_free(w);
    }
    if (mono_ms() >= next_flush) {
      flush_activity(h);
      expire_commands(h);
      next_flush = mono_ms() + DEV_FLUSH_MS;
    }
    pthread_mutex_lock(&h->lock);
  }
  /* stopping: answer every waiting poll */
  dev_job *w = h->waiters;
  h->waiters = NULL;
  h->n_waiters = 0;
  pthread_mutex_unlock(&h->lock);
  while (w) {
    dev_job *n = w->next;
    api_error(w->req, 503, "server is stopping");
    job_free(w);
    w = n;
  }
  flush_activity(h);
  return NULL;
}

int api_device_start(loom_api *api) {
  struct api_device_hub *h = loom_calloc(1, sizeof *h);
  if (!h) return LOOM_ENOMEM;
  h->api = api;
  h->inactivity_ms = DEV_INACTIVITY_MS;
  const char *env = getenv("LOOM_DEVICE_INACTIVITY_MS");
  if (env && atoll(env) > 0) h->inactivity_ms = atoll(env);
  strmap_init(&h->seen_map);
  strmap_init(&h->prof_map);
  h->profs = loom_calloc(DEV_PROFILE_CACHE, sizeof *h->profs);
  if (!h->profs) {
    loom_free(h);
    return LOOM_ENOMEM;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int ok = pthread_mutex_init(&h->lock, NULL) == 0;
  if (ok && pthread_cond_init(&h->cond, &ca)) {
    pthread_mutex_destroy(&h->lock);
    ok = 0;
  }
  pthread_condattr_destroy(&ca);
  if (!ok) {
    loom_free(h->profs);
    loom_free(h);
    return LOOM_ENOMEM;
  }
  if (pthread_create(&h->thread, NULL, hub_main, h)) {
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    loom_free(h->profs);
    loom_free(h);
    return LOOM_EIO;
  }
  api->devices = h;
  return 0;
}

void api_device_stop(loom_api *api) {
  struct api_device_hub *h = api->devices;
  if (!h) return;
  pthread_mutex_lock(&h->lock);
  bool was = h->stopping;
  h->stopping = true;
  pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
  /* from here on no poll waits: polls arriving late are answered 503 */
  if (!was) pthread_join(h->thread, NULL);
}

void api_device_free(loom_api *api) {
  struct api_device_hub *h = api->devices;
  if (!h) return;
  api_device_stop(api);
  api->devices = NULL;
  for (size_t i = 0; i < h->n_seen; i++) loom_free(h->seen[i]);
  loom_free(h->seen);
  strmap_deinit(&h->seen_map);
  strmap_deinit(&h->prof_map);
  loom_free(h->profs);
  pthread_cond_destroy(&h->cond);
  pthread_mutex_destroy(&h->lock);
  loom_free(h);
}

void api_device_rpc_notify(loom_api *api, const char *device_id) {
  api_mqtt_rpc_notify(api->mqtt_platform, device_id);
  struct api_device_hub *h = api->devices;
  if (!h || !device_id) return;
  pthread_mutex_lock(&h->lock);
  bool any = false;
  for (dev_job *w = h->waiters; w; w = w->next) {
    if (!strcmp(w->dev.id, device_id)) {
      w->next_poll_ms = 0;
      any = true;
    }
  }
  if (any) pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

size_t api_device_waiting(loom_api *api) {
  struct api_device_hub *h = api->devices;
  if (!h) return 0;
  pthread_mutex_lock(&h->lock);
  size_t n = h->n_waiters;
  pthread_mutex_unlock(&h->lock);
  return n;
}
