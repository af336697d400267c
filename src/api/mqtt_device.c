/* SPDX-License-Identifier: Apache-2.0
 * ThingsBoard's device API over MQTT, v1/devices/me/...: telemetry (into the
 * loop iteration's batch, mqtt_platform.c), client attributes, attribute
 * requests and responses, shared attribute updates pushed when they change,
 * server-side commands delivered to a subscribed device with their status
 * kept as the HTTP path keeps it, the device's answers, and client-side
 * requests. Registry work runs on the worker pool (jobs hold a copy of the
 * client, so a connection may go while its job runs); the broker thread
 * only parses topics and queues.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mqtt_platform_int.h"
#include "api/mqtt_sparkplug.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "meta/watch.h"

#define MD_PAYLOAD_MAX (1u << 20) /* attribute and RPC payloads looked at, bytes */
#define MD_SPB_PROFILE "sparkplug" /* the Sparkplug host's device profile (mqtt_sparkplug.c) */

typedef enum md_kind { MD_ATTR_POST, MD_ATTR_REQ, MD_RPC_ANSWER, MD_RPC_CLIENT } md_kind;

typedef struct md_job {
  api_mqtt *p;
  md_kind kind;
  api_mqtt_client c;
  char db[API_MQTT_DB_MAX]; /* c.db_name */
  char id[128]; /* request id / command id from the topic */
  char *payload;
  size_t len;
  mqtt_ack_done_fn done;
  void *arg;
} md_job;

static int64_t wall_ms(void) { return loom_now_ns() / LOOM_NS_PER_MS; }

static void md_free(md_job *j) {
  loom_free(j->payload);
  loom_free(j);
}

/* Parse the payload as JSON (any value); NULL with err on failure. */
static json_t *parse(const md_job *j, char *err, size_t errlen) {
  json_error_t je;
  json_t *v = json_loadb(j->payload, j->len, JSON_DECODE_ANY, &je);
  if (!v)
    snprintf(err, errlen, "invalid JSON at line %d, column %d (byte %d): %s", je.line, je.column,
             je.position, je.text);
  return v;
}

static void attr_post(md_job *j) {
  char err[300] = "";
  uint8_t reason = 0;
  json_t *kv = parse(j, err, sizeof err);
  if (!kv || !json_is_object(kv)) {
    if (kv) snprintf(err, sizeof err, "expected a JSON object of attribute keys and values");
    reason = 0x99;
  } else if (meta_attr_set(j->p->api->meta, j->c.tenant_id, j->c.device_id, META_ATTR_CLIENT, kv,
                           wall_ms(), err, sizeof err)) {
    reason = 0x80;
  }
  json_decref(kv);
  if (reason)
    LOOM_INFO("mqtt client attributes refused", "device=%s err=\"%s\"", j->c.device_id, err);
  j->done(j->arg, reason, reason ? err : NULL);
}

/* ThingsBoard asks {"clientKeys":"a,b","sharedKeys":"c"} (both optional). */
static void attr_req(md_job *j) {
  char err[300] = "";
  json_t *q = j->len ? parse(j, err, sizeof err) : json_object();
  json_t *res = NULL;
  int rc = LOOM_EINVAL;
  if (json_is_object(q)) {
    const char *ck = json_string_value(json_object_get(q, "clientKeys"));
    const char *sk = json_string_value(json_object_get(q, "sharedKeys"));
    rc = api_device_attr_read(j->p->api, j->c.tenant_id, j->c.device_id, ck, sk, &res, err,
                              sizeof err);
  } else if (q) {
    snprintf(err, sizeof err, "expected {\"clientKeys\":\"a,b\",\"sharedKeys\":\"c\"}");
  }
  json_decref(q);
  if (rc) res = json_pack("{s:s}", "error", err[0] ? err : loom_strerror(rc));
  char rest[200];
  snprintf(rest, sizeof rest, "v1/devices/%s/attributes/response/%s", j->c.device_id, j->id);
  mp_publish_json(j->p, j->c.mount, rest, res);
  j->done(j->arg, 0, NULL);
}

static void rpc_answer(md_job *j) {
  char err[300] = "";
  json_t *resp = NULL;
  if (j->len && !(resp = parse(j, err, sizeof err))) /* not JSON: keep the text */
    resp = json_stringn(j->payload, j->len);
  int rc = api_device_rpc_answer(j->p->api, j->c.tenant_id, j->c.device_id, j->id, resp, err,
                                 sizeof err);
  json_decref(resp);
  if (rc) /* a late or unknown answer is not worth a disconnect at 3.1.1 */
    LOOM_INFO("mqtt rpc answer not taken", "device=%s rpc=%s err=\"%s\"", j->c.device_id, j->id,
              err);
  j->done(j->arg, 0, NULL);
}

/* Client-side RPC: what the platform answers itself. */
static void rpc_client(md_job *j) {
  char err[300] = "";
  json_t *req = parse(j, err, sizeof err), *res = NULL;
  const char *method = json_string_value(json_object_get(req, "method"));
  if (method && !strcmp(method, "getCurrentTime"))
    res = json_pack("{s:I}", "time", (json_int_t)wall_ms());
  else if (method)
    res = json_pack("{s:s,s:s}", "error", "unsupported method", "method", method);
  else
    res = json_pack("{s:s}", "error", req ? "expected {\"method\":..,\"params\":..}" : err);
  json_decref(req);
  char rest[200];
  snprintf(rest, sizeof rest, "v1/devices/%s/rpc/response/%s", j->c.device_id, j->id);
  mp_publish_json(j->p, j->c.mount, rest, res);
  j->done(j->arg, 0, NULL);
}

static void md_run(void *arg) {
  md_job *j = arg;
  api_mqtt *p = j->p;
  if (!p->api->meta) {
    j->done(j->arg, 0x80, "the registry is not open");
  } else {
    switch (j->kind) {
    case MD_ATTR_POST: attr_post(j); break;
    case MD_ATTR_REQ: attr_req(j); break;
    case MD_RPC_ANSWER: rpc_answer(j); break;
    case MD_RPC_CLIENT: rpc_client(j); break;
    }
  }
  md_free(j);
  mp_job_end(p);
}

/* A request id from a topic level: 1..127 bytes, no '/'. */
static bool take_id(const char *s, char *out, size_t cap) {
  size_t n = strlen(s);
  if (!n || n >= cap || strchr(s, '/')) return false;
  memcpy(out, s, n + 1);
  return true;
}

int mp_device_publish(api_mqtt *p, api_mqtt_client *c, const char *rest, const mqtt_pub_view *m,
                      mqtt_ack_done_fn done, void *arg) {
  if (!strcmp(rest, "telemetry")) return mp_store_own(p, c, m, done, arg);
  md_kind kind;
  char id[128] = "";
  if (!strcmp(rest, "attributes")) kind = MD_ATTR_POST;
  else if (!strncmp(rest, "attributes/request/", 19) && take_id(rest + 19, id, sizeof id))
    kind = MD_ATTR_REQ;
  else if (!strncmp(rest, "rpc/response/", 13) && take_id(rest + 13, id, sizeof id))
    kind = MD_RPC_ANSWER;
  else if (!strncmp(rest, "rpc/request/", 12) && take_id(rest + 12, id, sizeof id))
    kind = MD_RPC_CLIENT;
  else return MQTT_HOOK_ROUTE; /* another topic of its own: delivered, not interpreted */
  if (m->payload_len > MD_PAYLOAD_MAX) {
    mp_fail_later(p, done, arg, 0x95, "payload too large");
    return MQTT_HOOK_PENDING;
  }
  md_job *j = loom_calloc(1, sizeof *j);
  if (j) j->payload = loom_malloc(m->payload_len + 1);
  if (!j || !j->payload) {
    if (j) loom_free(j);
    mp_fail_later(p, done, arg, 0x97, "out of memory");
    return MQTT_HOOK_PENDING;
  }
  memcpy(j->payload, m->payload, m->payload_len);
  j->payload[m->payload_len] = 0;
  j->len = m->payload_len;
  j->p = p;
  j->kind = kind;
  mp_client_copy(&j->c, j->db, c);
  memcpy(j->id, id, sizeof j->id);
  j->done = done;
  j->arg = arg;
  if (mp_submit(p, md_run, j)) {
    md_free(j);
    mp_fail_later(p, done, arg, 0x80, "the server is stopping");
  }
  return MQTT_HOOK_PENDING;
}

/* ---- command delivery (worker) ------------------------------------------ */

static void mount_of(const char *tenant_id, char *out, size_t cap) {
  snprintf(out, cap, API_MQTT_MOUNT_PREFIX "%s/", tenant_id);
}

/* A Sparkplug device ("<group>:<node>[:<device>]" of profile "sparkplug",
 * as the Sparkplug host creates them; no connection of its own): its queued
 * commands become NCMD/DCMD through the host, successful once published,
 * failed when the host cannot (no birth, no such metric, a value that does
 * not fit). Other devices' commands are left alone (they may poll over
 * HTTP). */
static void deliver_sparkplug(api_mqtt *p, const char *device_id) {
  struct api_spb *s = atomic_load(&p->spb);
  loom_api *api = p->api;
  if (!s || !api->meta) return;
  json_t *dev = NULL;
  if (meta_get(api->meta, META_DEVICE, NULL, device_id, &dev, NULL, 0)) return;
  char name[256], tenant[META_ID_LEN + 1], mount[API_MQTT_MOUNT_MAX], pid[META_ID_LEN + 1];
  char prof[256];
  snprintf(name, sizeof name, "%s", json_string_value(json_object_get(dev, "name")));
  snprintf(tenant, sizeof tenant, "%s", json_string_value(json_object_get(dev, "tenant_id")));
  snprintf(pid, sizeof pid, "%s", json_string_value(json_object_get(dev, "profile_id")));
  json_decref(dev);
  if (!strchr(name, ':')) return;
  /* the Sparkplug host's devices: "<group>:<node>[:<device>]" of profile "sparkplug" */
  api_device_profile_name(api, tenant, pid, prof, sizeof prof);
  if (strcmp(prof, MD_SPB_PROFILE)) return;
  mount_of(tenant, mount, sizeof mount);
  for (int guard = 0; guard < 1000; guard++) {
    meta_filter f[2] = {{"device_id", device_id}, {"status", "queued"}};
    meta_query q = {.page_size = 1, .filters = f, .n_filters = 2};
    json_t *pg = NULL;
    char err[300] = "", rpc_id[META_ID_LEN + 1];
    if (meta_list(api->meta, META_RPC, tenant, &q, &pg, err, sizeof err)) return;
    json_t *cmd = json_array_get(json_object_get(pg, "data"), 0);
    const char *id = json_string_value(json_object_get(cmd, "id"));
    const char *method = json_string_value(json_object_get(cmd, "method"));
    char *params = cmd ? json_dumps(json_object_get(cmd, "params"), JSON_COMPACT | JSON_ENCODE_ANY)
                       : NULL;
    snprintf(rpc_id, sizeof rpc_id, "%s", id ? id : "");
    int rc = !id ? LOOM_ENOTFOUND
             : method && params ? api_spb_command(s, mount, name, method, params, err, sizeof err)
                                : LOOM_ENOMEM;
    free(params);
    json_decref(pg);
    if (!id) return; /* nothing queued */
    /* Sparkplug commands have no answer: done once published */
    const char *to = rc ? "failed" : "successful";
    json_t *resp = rc ? json_pack("{s:s}", "error", err[0] ? err : loom_strerror(rc)) : NULL;
    int tr = meta_rpc_transition(api->meta, tenant, rpc_id, "sent", NULL, wall_ms(), NULL, err,
                                 sizeof err);
    if (!tr)
      tr = meta_rpc_transition(api->meta, tenant, rpc_id, to, resp, wall_ms(), NULL, err,
                               sizeof err);
    json_decref(resp);
    if (tr) {
      LOOM_WARN("rpc status not updated", "id=%s to=%s err=\"%s\"", rpc_id, to, err);
      return;
    }
    api_live_publish(api, LIVE_RPC, tenant, device_id,
                     json_pack("{s:s,s:s}", "rpc_id", rpc_id, "status", to));
  }
}

/* Deliver what is queued while the device (or its gateway) listens. */
static void deliver(api_mqtt *p, const char *device_id) {
  loom_api *api = p->api;
  for (;;) {
    char tenant[META_ID_LEN + 1], name[256], gw[META_ID_LEN + 1], mount[API_MQTT_MOUNT_MAX];
    bool listening = false;
    pthread_mutex_lock(&p->lock);
    mp_dev *d = mp_dev_get(p, device_id, false);
    if (d) {
      memcpy(tenant, d->tenant_id, sizeof tenant);
      memcpy(name, d->name, sizeof name);
      memcpy(gw, d->gw_id, sizeof gw);
      listening = d->n_conns > 0 && d->n_rpc_subs > 0;
      if (!listening && gw[0]) {
        mp_dev *g = mp_dev_get(p, gw, false);
        listening = g && g->n_conns > 0 && g->n_rpc_subs > 0;
      } else {
        gw[0] = 0;
      }
    }
    pthread_mutex_unlock(&p->lock);
    if (!listening || !api->meta) return;
    json_t *msg = NULL;
    char rpc_id[META_ID_LEN + 1], err[300] = "";
    bool oneway;
    int rc = api_device_rpc_claim(api, tenant, device_id, &msg, rpc_id, &oneway, err, sizeof err);
    if (rc) {
      if (rc != LOOM_ENOTFOUND) LOOM_WARN("rpc claim failed", "device=%s err=\"%s\"", device_id, err);
      return;
    }
    mount_of(tenant, mount, sizeof mount);
    char rest[200];
    json_t *body;
    if (gw[0]) { /* ThingsBoard's gateway form */
      snprintf(rest, sizeof rest, "v1/gateway/%s/rpc", gw);
      body = json_pack("{s:s,s:O}", "device", name, "data", msg);
    } else {
      snprintf(rest, sizeof rest, "v1/devices/%s/rpc/request/%s", device_id, rpc_id);
      body = json_pack("{s:O,s:O}", "method", json_object_get(msg, "method"), "params",
                       json_object_get(msg, "params"));
    }
    json_decref(msg);
    rc = mp_publish_json(p, mount, rest, body);
    api_device_rpc_handed(api, tenant, device_id, rpc_id, oneway, rc == 0);
    if (rc) return;
  }
}

void mp_rpc_deliver_job(void *arg) {
  rpc_job *j = arg;
  api_mqtt *p = j->p;
  bool present;
  pthread_mutex_lock(&p->lock);
  present = mp_dev_get(p, j->device_id, false) != NULL;
  pthread_mutex_unlock(&p->lock);
  if (!present) {
    deliver_sparkplug(p, j->device_id);
  } else {
    for (;;) {
      deliver(p, j->device_id);
      pthread_mutex_lock(&p->lock);
      mp_dev *d = mp_dev_get(p, j->device_id, false);
      bool again = d && d->again;
      if (d) {
        d->again = false;
        if (!again) {
          d->busy = false;
          mp_dev_maybe_drop(p, d);
        }
      }
      pthread_mutex_unlock(&p->lock);
      if (!again) break;
    }
  }
  loom_free(j);
  mp_job_end(p);
}

/* ---- registry changes ------------------------------------------------------ */

void mp_on_change(void *ud, const meta_change *ch) {
  api_mqtt *p = ud;
  if (ch->kind == META_CHANGE_MQTT_RULES) { /* reload the tenant's UNS rules now */
    mp_rules_changed(p, ch->tenant_id);
    return;
  }
  if (!ch->device_id) return;
  mqtt_broker *b = atomic_load(&p->broker);
  if (!b) return;
  if (ch->kind == META_CHANGE_DEVICE_DELETED ||
      (ch->kind == META_CHANGE_DEVICE_UPDATED && ch->credentials)) {
    char key[META_ID_LEN + 8];
    snprintf(key, sizeof key, "d:%s", ch->device_id);
    mqtt_broker_kick(b, key);
    return;
  }
  if ((ch->kind != META_CHANGE_ATTRS_SET && ch->kind != META_CHANGE_ATTRS_DELETED) ||
      ch->attr_scope != META_ATTR_SHARED || !ch->tenant_id || !ch->tenant_id[0])
    return;
  json_t *data;
  if (ch->kind == META_CHANGE_ATTRS_SET) {
    data = json_deep_copy(ch->kv);
  } else {
    json_t *keys = json_array();
    for (size_t i = 0; keys && i < ch->n_keys; i++)
      if (ch->keys[i]) json_array_append_new(keys, json_string(ch->keys[i]));
    data = keys ? json_pack("{s:o}", "deleted", keys) : NULL;
  }
  if (!data) return;
  char mount[API_MQTT_MOUNT_MAX], rest[200], gw[META_ID_LEN + 1] = "", name[256] = "";
  mount_of(ch->tenant_id, mount, sizeof mount);
  pthread_mutex_lock(&p->lock);
  mp_dev *d = mp_dev_get(p, ch->device_id, false);
  if (d && d->gw_id[0]) {
    memcpy(gw, d->gw_id, sizeof gw);
    memcpy(name, d->name, sizeof name);
  }
  pthread_mutex_unlock(&p->lock);
  if (gw[0]) {
    snprintf(rest, sizeof rest, "v1/gateway/%s/attributes", gw);
    mp_publish_json(p, mount, rest, json_pack("{s:s,s:O}", "device", name, "data", data));
  }
  snprintf(rest, sizeof rest, "v1/devices/%s/attributes", ch->device_id);
  mp_publish_json(p, mount, rest, data);
}
