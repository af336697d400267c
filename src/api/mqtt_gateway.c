/* SPDX-License-Identifier: Apache-2.0
 * ThingsBoard's gateway API over MQTT, v1/gateway/..., for a device marked
 * as a gateway (labels {"gateway": true}) that speaks for many devices:
 * connect / disconnect (its children's online state), telemetry
 * ({"Device A":[{"ts":..,"values":{..}}]}, stored through api_mqtt_store),
 * client attributes, attribute requests and responses, and commands both
 * ways (v1/gateway/rpc). Children are created in the gateway's tenant on
 * first mention, with the server attribute lastConnectedGateway naming the
 * gateway (ThingsBoard records the same).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mqtt_platform_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#define GW_PAYLOAD_MAX (4u << 20) /* gateway payloads looked at, bytes */

typedef enum gw_kind { GW_CONNECT, GW_DISCONNECT, GW_ATTRS, GW_ATTR_REQ, GW_RPC } gw_kind;

typedef struct gw_job {
  api_mqtt *p;
  gw_kind kind;
  api_mqtt_client c;
  char db[API_MQTT_DB_MAX]; /* c.db_name */
  json_t *body; /* parsed payload */
  mqtt_ack_done_fn done;
  void *arg;
} gw_job;

static int64_t wall_ms(void) { return loom_now_ns() / LOOM_NS_PER_MS; }

/* The child named name: id, created when missing (profile type). */
static int child(gw_job *j, const char *name, const char *type, char *id) {
  char meas[256], err[256] = "";
  int rc = mp_device_resolve(j->p, &j->c, name, type, j->c.device_id, id, meas, sizeof meas, err,
                             sizeof err);
  if (rc) LOOM_INFO("gateway child not resolved", "gateway=%s device=\"%.64s\" err=\"%s\"",
                    j->c.device_id, name, err);
  return rc;
}

static void gw_connect(gw_job *j, bool connect) {
  const char *name = json_string_value(json_object_get(j->body, "device"));
  const char *type = json_string_value(json_object_get(j->body, "type"));
  char id[META_ID_LEN + 1];
  if (!name || !*name) {
    j->done(j->arg, 0, NULL); /* nothing to do; ThingsBoard ignores it too */
    return;
  }
  if (child(j, name, type, id) == 0) {
    if (connect) {
      mp_child_add(j->p, &j->c, id, name);
      mp_rpc_kick(j->p, id);
    } else {
      mp_child_remove(j->p, id);
    }
  }
  j->done(j->arg, 0, NULL);
}

static void gw_attrs(gw_job *j) {
  const char *name;
  json_t *kv;
  json_object_foreach(j->body, name, kv) {
    char id[META_ID_LEN + 1], err[256] = "";
    if (!json_is_object(kv) || child(j, name, NULL, id)) continue;
    mp_child_add(j->p, &j->c, id, name);
    if (meta_attr_set(j->p->api->meta, j->c.tenant_id, id, META_ATTR_CLIENT, kv, wall_ms(), err,
                      sizeof err))
      LOOM_INFO("gateway attributes refused", "device=%s err=\"%s\"", id, err);
  }
  j->done(j->arg, 0, NULL);
}

/* {"id":1,"device":"A","client":true,"key":"k"} or "keys":["a","b"] ->
 * {"id":1,"device":"A","value":v} or {"id":1,"device":"A","values":{..}}. */
static void gw_attr_req(gw_job *j) {
  json_t *rid = json_object_get(j->body, "id");
  const char *name = json_string_value(json_object_get(j->body, "device"));
  const char *key = json_string_value(json_object_get(j->body, "key"));
  json_t *keys = json_object_get(j->body, "keys");
  bool client = json_is_true(json_object_get(j->body, "client"));
  char id[META_ID_LEN + 1], err[256] = "";
  json_t *res = NULL, *got = NULL;
  if (!name || (!key && !json_is_array(keys))) {
    res = json_pack("{s:O?,s:s}", "id", rid, "error", "expected id, device and key or keys");
  } else if (child(j, name, NULL, id)) {
    res = json_pack("{s:O?,s:s,s:s}", "id", rid, "device", name, "error", "unknown device");
  } else {
    const char *list[64];
    size_t n = 0;
    if (key) list[n++] = key;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) if (n < 64 && json_is_string(k)) list[n++] = json_string_value(k);
    unsigned scope = client ? META_ATTR_CLIENT : META_ATTR_SHARED;
    int rc = meta_attr_get(j->p->api->meta, j->c.tenant_id, id, scope, list, n, &got, err,
                           sizeof err);
    json_t *vals = rc ? NULL : json_object_get(got, client ? "client" : "shared");
    if (rc) res = json_pack("{s:O?,s:s,s:s}", "id", rid, "device", name, "error", err);
    else if (key && !json_is_array(keys))
      res = json_pack("{s:O?,s:s,s:O?}", "id", rid, "device", name, "value",
                      json_object_get(vals, key));
    else
      res = json_pack("{s:O?,s:s,s:O}", "id", rid, "device", name, "values",
                      vals ? vals : json_object());
  }
  json_decref(got);
  char rest[200];
  snprintf(rest, sizeof rest, "v1/gateway/%s/attributes/response", j->c.device_id);
  mp_publish_json(j->p, j->c.mount, rest, res);
  j->done(j->arg, 0, NULL);
}

/* The gateway's answer to a child's command: {"device":"A","id":..,"data":{..}}. */
static void gw_rpc(gw_job *j) {
  const char *name = json_string_value(json_object_get(j->body, "device"));
  json_t *rid = json_object_get(j->body, "id");
  char rpc_id[META_ID_LEN + 1], id[META_ID_LEN + 1], err[256] = "";
  if (json_is_string(rid)) snprintf(rpc_id, sizeof rpc_id, "%s", json_string_value(rid));
  else rpc_id[0] = 0;
  if (!name || !rpc_id[0] || child(j, name, NULL, id)) {
    LOOM_INFO("gateway rpc answer not taken", "gateway=%s", j->c.device_id);
  } else if (api_device_rpc_answer(j->p->api, j->c.tenant_id, id, rpc_id,
                                   json_object_get(j->body, "data"), err, sizeof err)) {
    LOOM_INFO("gateway rpc answer not taken", "device=%s rpc=%s err=\"%s\"", id, rpc_id, err);
  }
  j->done(j->arg, 0, NULL);
}

static void gw_run(void *arg) {
  gw_job *j = arg;
  api_mqtt *p = j->p;
  if (!p->api->meta) {
    j->done(j->arg, 0x80, "the registry is not open");
  } else {
    switch (j->kind) {
    case GW_CONNECT: gw_connect(j, true); break;
    case GW_DISCONNECT: gw_connect(j, false); break;
    case GW_ATTRS: gw_attrs(j); break;
    case GW_ATTR_REQ: gw_attr_req(j); break;
    case GW_RPC: gw_rpc(j); break;
    }
  }
  json_decref(j->body);
  loom_free(j);
  mp_job_end(p);
}

/* ---- telemetry: one api_mqtt_store per device, one acknowledgement ---- */

typedef struct gw_agg {
  size_t left;  /* stores not yet done, + 1 while they are being started */
  pthread_mutex_t lock;
  uint8_t reason;
  char msg[200];
  mqtt_ack_done_fn done;
  void *arg;
} gw_agg;

static void agg_done(void *arg, uint8_t reason, const char *msg) {
  gw_agg *a = arg;
  pthread_mutex_lock(&a->lock);
  if (reason && !a->reason) {
    a->reason = reason;
    snprintf(a->msg, sizeof a->msg, "%s", msg ? msg : "");
  }
  bool last = --a->left == 0;
  pthread_mutex_unlock(&a->lock);
  if (!last) return;
  a->done(a->arg, a->reason, a->reason ? a->msg : NULL);
  pthread_mutex_destroy(&a->lock);
  loom_free(a);
}

static int gw_telemetry(api_mqtt *p, api_mqtt_client *c, json_t *body, uint8_t qos,
                        mqtt_ack_done_fn done, void *arg) {
  gw_agg *a = loom_calloc(1, sizeof *a);
  if (!a) {
    mp_fail_later(p, done, arg, 0x97, "out of memory");
    return MQTT_HOOK_PENDING;
  }
  pthread_mutex_init(&a->lock, NULL);
  a->left = 1;
  a->done = done;
  a->arg = arg;
  const char *name;
  json_t *v;
  json_object_foreach(body, name, v) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    tbjson_batch b;
    tbjson_batch_init(&b);
    char err[TBJSON_ERR_MAX] = "";
    int rc = text ? tbjson_decode(&b, text, strlen(text), loom_now_ns(), err, sizeof err)
                  : LOOM_ENOMEM;
    free(text);
    if (!rc) {
      pthread_mutex_lock(&a->lock);
      a->left++;
      pthread_mutex_unlock(&a->lock);
      rc = api_mqtt_store(p, c, name, NULL, &b, qos, agg_done, a);
      if (rc) {
        pthread_mutex_lock(&a->lock);
        a->left--;
        pthread_mutex_unlock(&a->lock);
        snprintf(err, sizeof err, "%s", loom_strerror(rc));
      }
    }
    tbjson_batch_deinit(&b);
    if (rc) {
      char msg[300];
      snprintf(msg, sizeof msg, "%.64s: %s", name, err);
      pthread_mutex_lock(&a->lock);
      if (!a->reason) {
        a->reason = rc == LOOM_EINVAL ? 0x99 : 0x80;
        snprintf(a->msg, sizeof a->msg, "%.199s", msg);
      }
      pthread_mutex_unlock(&a->lock);
    }
  }
  /* the starting reference: the outcome when every store is done */
  pthread_mutex_lock(&a->lock);
  bool last = --a->left == 0;
  pthread_mutex_unlock(&a->lock);
  if (last) { /* all done already (or nothing to store): answer at the tick */
    mp_fail_later(p, done, arg, a->reason, a->msg);
    pthread_mutex_destroy(&a->lock);
    loom_free(a);
  }
  return MQTT_HOOK_PENDING;
}

int mp_gateway_publish(api_mqtt *p, api_mqtt_client *c, const char *rest, const mqtt_pub_view *m,
                       mqtt_ack_done_fn done, void *arg) {
  gw_kind kind;
  bool telemetry = false;
  if (!strcmp(rest, "telemetry")) telemetry = true;
  else if (!strcmp(rest, "connect")) kind = GW_CONNECT;
  else if (!strcmp(rest, "disconnect")) kind = GW_DISCONNECT;
  else if (!strcmp(rest, "attributes")) kind = GW_ATTRS;
  else if (!strcmp(rest, "attributes/request")) kind = GW_ATTR_REQ;
  else if (!strcmp(rest, "rpc")) kind = GW_RPC;
  else return MQTT_HOOK_ROUTE;
  if (m->payload_len > GW_PAYLOAD_MAX) {
    mp_fail_later(p, done, arg, 0x95, "payload too large");
    return MQTT_HOOK_PENDING;
  }
  json_error_t je;
  json_t *body = json_loadb((const char *)m->payload, m->payload_len, 0, &je);
  if (!body || !json_is_object(body)) {
    char err[300];
    if (body) snprintf(err, sizeof err, "expected a JSON object");
    else snprintf(err, sizeof err, "invalid JSON at line %d, column %d (byte %d): %s", je.line,
                  je.column, je.position, je.text);
    json_decref(body);
    mp_fail_later(p, done, arg, 0x99, err);
    return MQTT_HOOK_PENDING;
  }
  if (telemetry) {
    int r = gw_telemetry(p, c, body, m->qos, done, arg);
    json_decref(body);
    return r;
  }
  gw_job *j = loom_calloc(1, sizeof *j);
  if (!j) {
    json_decref(body);
    mp_fail_later(p, done, arg, 0x97, "out of memory");
    return MQTT_HOOK_PENDING;
  }
  j->p = p;
  j->kind = kind;
  mp_client_copy(&j->c, j->db, c);
  j->body = body;
  j->done = done;
  j->arg = arg;
  if (mp_submit(p, gw_run, j)) {
    json_decref(body);
    loom_free(j);
    mp_fail_later(p, done, arg, 0x80, "the server is stopping");
  }
  return MQTT_HOOK_PENDING;
}
