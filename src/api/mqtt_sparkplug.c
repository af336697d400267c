/* SPDX-License-Identifier: Apache-2.0
 * The Sparkplug B host application "loom" on the platform (contract in
 * mqtt_sparkplug.h): decodes what edge nodes publish (mqtt/spb), keeps their
 * sessions (mqtt/spb_host), stores the values through api_mqtt_store, asks
 * for rebirths, retains births under $sparkplug/certificates/, publishes
 * STATE, and turns registry commands into NCMD/DCMD. The host state is used
 * by the broker thread (publishes) and workers (commands): one mutex.
 */
#include "api/mqtt_sparkplug.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mqtt_platform.h"
#include "api/mqtt_platform_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "mqtt/spb.h"
#include "mqtt/spb_host.h"

#define SPB_PROFILE "sparkplug"
#define SPB_BYTES_MAX 4096 /* Bytes metrics up to this size are stored as hex strings */

struct api_spb {
  api_mqtt *p;
  atomic_bool stopped;  /* STATE death published: route only */
  pthread_mutex_t lock; /* guards host */
  spb_host *host;
};

static int64_t wall_ms(void) { return loom_now_ns() / 1000000; }
static int64_t mono_ms(void) { return loom_mono_ns() / 1000000; }

static int publish_state(api_spb *s, bool online) {
  mqtt_broker *b = api_mqtt_broker(s->p);
  if (!b) return LOOM_ECLOSED;
  char body[96];
  int n = snprintf(body, sizeof body, "{\"online\":%s,\"timestamp\":%" PRId64 "}",
                   online ? "true" : "false", wall_ms());
  return mqtt_broker_publish(b, "spBv1.0/STATE/" API_SPB_HOST_ID, body, (size_t)n, 1, true);
}

int api_spb_new(struct api_mqtt *p, api_spb **out) {
  if (!p) return LOOM_EINVAL;
  api_spb *s = loom_calloc(1, sizeof *s);
  if (!s) return LOOM_ENOMEM;
  s->p = p;
  atomic_init(&s->stopped, false);
  if (spb_host_new(&s->host) != 0) {
    loom_free(s);
    return LOOM_ENOMEM;
  }
  pthread_mutex_init(&s->lock, NULL);
  int rc = publish_state(s, true);
  if (rc != 0) LOOM_WARN("sparkplug STATE birth not published", "err=\"%s\"", loom_strerror(rc));
  *out = s;
  return 0;
}

void api_spb_stop(api_spb *s) {
  if (!s || atomic_exchange(&s->stopped, true)) return;
  int rc = publish_state(s, false);
  if (rc != 0) LOOM_WARN("sparkplug STATE death not published", "err=\"%s\"", loom_strerror(rc));
}

void api_spb_free(api_spb *s) {
  if (!s) return;
  api_spb_stop(s);
  spb_host_free(s->host);
  pthread_mutex_destroy(&s->lock);
  loom_free(s);
}

/* ---- values -> telemetry ---- */

typedef struct strs {
  char **v;
  size_t n;
} strs;

static void strs_free(strs *ss) {
  for (size_t i = 0; i < ss->n; i++) loom_free(ss->v[i]);
  loom_free(ss->v);
}

/* Keys line protocol and tbjson accept (see ingest/tbjson.h). */
static bool key_ok(const char *k) {
  size_t n = strlen(k);
  if (n == 0 || n > TBJSON_KEY_MAX || strcmp(k, "time") == 0) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)k[i] < 0x20 || k[i] == '\\') return false;
  return true;
}

/* A Float widened to double (0.1f = 0.100000001490116...) as the shortest
 * decimal that reads back to the same float (0.1): what the sensor meant. */
static double float_decimal(double d) {
  char t[40];
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(t, sizeof t, "%.*g", prec, d);
    double back = strtod(t, NULL);
    if ((float)back == (float)d) return back;
  }
  return d;
}

/* One metric as a telemetry value: false when it is not stored (no name,
 * null, undecodable, File, large Bytes). Hex strings go into ss. */
static int to_kv(const spb_metric *m, tbjson_kv *kv, strs *ss, bool *keep) {
  *keep = false;
  /* transient metrics are not to be historized (specification 3.0) */
  if (!m->name || !key_ok(m->name) || m->is_null || m->is_transient) return 0;
  kv->key = m->name;
  kv->key_len = (uint32_t)strlen(m->name);
  switch (m->kind) {
  case SPB_K_INT:
  case SPB_K_DATETIME:
    kv->type = TS_INT;
    kv->v.i = m->i;
    break;
  case SPB_K_UINT:
    if (m->u <= (uint64_t)INT64_MAX) {
      kv->type = TS_INT;
      kv->v.i = (int64_t)m->u;
    } else { /* UInt64 above INT64_MAX: a float (documented) */
      kv->type = TS_FLOAT;
      kv->v.f = (double)m->u;
    }
    break;
  case SPB_K_DOUBLE:
    if (m->d != m->d || m->d - m->d != 0) return 0; /* NaN, inf: not storable */
    kv->type = TS_FLOAT;
    kv->v.f = m->datatype == SPB_DT_FLOAT ? float_decimal(m->d) : m->d;
    break;
  case SPB_K_BOOL:
    kv->type = TS_BOOL;
    kv->v.b = m->b;
    break;
  case SPB_K_STRING:
  case SPB_K_JSON:
    if (m->s_len > UINT32_MAX) return 0;
    kv->type = TS_STRING;
    kv->v.s.p = m->s;
    kv->v.s.len = (uint32_t)m->s_len;
    break;
  case SPB_K_BYTES: {
    if (m->datatype == SPB_DT_FILE || m->s_len > SPB_BYTES_MAX) return 0;
    char *h = loom_malloc(m->s_len * 2 + 1);
    if (!h) return LOOM_ENOMEM;
    char **nv = loom_realloc(ss->v, (ss->n + 1) * sizeof *nv);
    if (!nv) {
      loom_free(h);
      return LOOM_ENOMEM;
    }
    ss->v = nv;
    ss->v[ss->n++] = h;
    for (size_t i = 0; i < m->s_len; i++)
      snprintf(h + 2 * i, 3, "%02x", (unsigned char)m->s[i]);
    h[m->s_len * 2] = 0;
    kv->type = TS_STRING;
    kv->v.s.p = h;
    kv->v.s.len = (uint32_t)(m->s_len * 2);
    break;
  }
  default: return 0;
  }
  *keep = true;
  return 0;
}

/* Build b from p's metrics: consecutive metrics with one timestamp share a
 * group (a repeated key starts a new one). */
static int build_batch(const spb_payload *p, int64_t now_ms, tbjson_batch *b, strs *ss) {
  tbjson_batch_init(b);
  if (p->n_metrics == 0) return 0;
  b->kvs = loom_calloc(p->n_metrics, sizeof *b->kvs);
  b->groups = loom_calloc(p->n_metrics, sizeof *b->groups);
  if (!b->kvs || !b->groups) return LOOM_ENOMEM;
  int64_t base = p->has_ts ? p->ts_ms : now_ms;
  for (size_t i = 0; i < p->n_metrics; i++) {
    const spb_metric *m = &p->metrics[i];
    tbjson_kv kv;
    bool keep;
    int rc = to_kv(m, &kv, ss, &keep);
    if (rc != 0) return rc;
    if (!keep) continue;
    int64_t ts_ms = m->has_ts ? m->ts_ms : base;
    if (ts_ms > INT64_MAX / 1000000) ts_ms = now_ms;
    int64_t ts_ns = ts_ms * 1000000;
    tbjson_group *g = b->n_groups ? &b->groups[b->n_groups - 1] : NULL;
    bool same = g && g->ts_ns == ts_ns;
    for (size_t k = 0; same && k < g->n; k++)
      if (strcmp(b->kvs[g->first + k].key, kv.key) == 0) same = false;
    if (!same) {
      g = &b->groups[b->n_groups++];
      g->ts_ns = ts_ns;
      g->first = b->n_kvs;
      g->n = 0;
    }
    b->kvs[b->n_kvs++] = kv;
    g->n++;
  }
  return 0;
}

static void batch_free(tbjson_batch *b) {
  loom_free(b->kvs);
  loom_free(b->groups);
  tbjson_batch_init(b);
}

/* ---- topics and names ---- */

/* "<group>:<node>[:<device>]" */
static int device_name(const spb_topic *t, char *out, size_t cap) {
  int n = t->device ? snprintf(out, cap, "%.*s:%.*s:%.*s", (int)t->group_len, t->group,
                               (int)t->node_len, t->node, (int)t->device_len, t->device)
                    : snprintf(out, cap, "%.*s:%.*s", (int)t->group_len, t->group,
                               (int)t->node_len, t->node);
  return n > 0 && (size_t)n < cap ? 0 : LOOM_ERANGE;
}

/* The host's key of an edge node: "<mount>spBv1.0/<group>/<node>". */
static int node_key(const char *mount, const char *group, size_t gl, const char *node, size_t nl,
                    char *out, size_t cap) {
  int n = snprintf(out, cap, "%sspBv1.0/%.*s/%.*s", mount, (int)gl, group, (int)nl, node);
  return n > 0 && (size_t)n < cap ? 0 : LOOM_ERANGE;
}

static void publish_rebirth(api_spb *s, const api_mqtt_client *c, const spb_topic *t) {
  mqtt_broker *b = api_mqtt_broker(s->p);
  if (!b) return;
  loom_buf body, topic;
  loom_buf_init(&body);
  loom_buf_init(&topic);
  if (spb_host_rebirth_encode(wall_ms(), &body) == 0 &&
      loom_buf_printf(&topic, "%sspBv1.0/%.*s/NCMD/%.*s", c->mount, (int)t->group_len, t->group,
                      (int)t->node_len, t->node) == 0 &&
      loom_buf_cstr(&topic) == 0) {
    int rc = mqtt_broker_publish(b, (const char *)topic.data, body.data, body.len, 0, false);
    if (rc != 0) LOOM_WARN("sparkplug rebirth not published", "err=\"%s\"", loom_strerror(rc));
  }
  loom_buf_deinit(&body);
  loom_buf_deinit(&topic);
}

/* Sparkplug-aware broker: the birth retained under $sparkplug/certificates/. */
static void publish_certificate(api_spb *s, const api_mqtt_client *c, const mqtt_pub_view *m) {
  mqtt_broker *b = api_mqtt_broker(s->p);
  if (!b) return;
  loom_buf topic;
  loom_buf_init(&topic);
  if (loom_buf_printf(&topic, "%s$sparkplug/certificates/%.*s", c->mount, (int)m->topic_len,
                      m->topic) == 0 &&
      loom_buf_cstr(&topic) == 0) {
    int rc = mqtt_broker_publish(b, (const char *)topic.data, m->payload, m->payload_len, 1, true);
    if (rc != 0) LOOM_WARN("sparkplug certificate not retained", "err=\"%s\"", loom_strerror(rc));
  }
  loom_buf_deinit(&topic);
}

/* A death: the device hub marks the registry device offline (when the
 * platform knows its id from an earlier store). */
static void note_offline(api_spb *s, const api_mqtt_client *c, const char *name) {
  api_mqtt *p = s->p;
  char key[META_ID_LEN + 1 + 256], id[META_ID_LEN + 1] = "";
  int n = snprintf(key, sizeof key, "%s/%s", c->tenant_id, name);
  if (n <= 0 || (size_t)n >= sizeof key) return;
  uint32_t idx;
  pthread_mutex_lock(&p->lock);
  if (strmap_get(&p->names_map, key, (size_t)n, strmap_hash(key, (size_t)n), &idx) == 0)
    memcpy(id, p->names[idx].device_id, sizeof id);
  pthread_mutex_unlock(&p->lock);
  if (id[0]) api_device_note_offline(p->api, id, c->tenant_id);
}

int api_spb_on_publish(api_spb *s, const api_mqtt_client *c, const mqtt_pub_view *m,
                       mqtt_ack_done_fn done, void *arg) {
  spb_topic t;
  if (atomic_load(&s->stopped)) return MQTT_HOOK_ROUTE;
  if (!c || !c->tenant_id[0]) return MQTT_HOOK_ROUTE; /* no tenant: nowhere to store */
  if (spb_topic_parse(m->topic, m->topic_len, &t) != 0) return MQTT_HOOK_ROUTE;
  if (t.type == SPB_MSG_NCMD || t.type == SPB_MSG_DCMD) return MQTT_HOOK_ROUTE;
  char key[API_MQTT_MOUNT_MAX + 600], dev[256], name[600];
  if (node_key(c->mount, t.group, t.group_len, t.node, t.node_len, key, sizeof key) != 0 ||
      device_name(&t, name, sizeof name) != 0 || (t.device && t.device_len >= sizeof dev))
    return MQTT_HOOK_ROUTE;
  if (t.device) {
    memcpy(dev, t.device, t.device_len);
    dev[t.device_len] = 0;
  }
  int flags = MQTT_HOOK_ROUTE;
  spb_payload pl;
  spb_payload_init(&pl);
  spb_verdict v = {0};
  pthread_mutex_lock(&s->lock);
  spb_host_scope sc = {s->host, key, t.device ? dev : NULL};
  int rc = spb_payload_decode(&pl, m->payload, m->payload_len, spb_host_type_of, &sc);
  if (rc == 0) rc = spb_host_process(s->host, key, sc.device, t.type, &pl, mono_ms(), &v);
  pthread_mutex_unlock(&s->lock);
  if (rc == LOOM_EINVAL && !pl.pb) {
    LOOM_INFO("sparkplug payload refused", "client=%s topic=%.*s", m->client_id ? m->client_id : "",
              (int)m->topic_len, m->topic);
    return -0x99;
  }
  if (rc != 0) {
    LOOM_WARN("sparkplug message not processed", "topic=%.*s err=\"%s\"", (int)m->topic_len,
              m->topic, v.why ? v.why : loom_strerror(rc));
    goto out;
  }
  if (v.rebirth) {
    LOOM_INFO("sparkplug rebirth requested", "node=%s why=\"%s\"", key, v.why ? v.why : "");
    publish_rebirth(s, c, &t);
  }
  if (t.type == SPB_MSG_NBIRTH || t.type == SPB_MSG_DBIRTH) publish_certificate(s, c, m);
  if (v.node_offline || v.device_offline) note_offline(s, c, name);
  if (v.node_offline) { /* its devices die with it */
    const char *d;
    for (size_t i = 0;; i++) {
      char dname[600];
      pthread_mutex_lock(&s->lock);
      int r2 = spb_host_device_at(s->host, key, i, &d);
      int k = r2 == 0 ? snprintf(dname, sizeof dname, "%s:%s", name, d) : -1;
      pthread_mutex_unlock(&s->lock);
      if (r2 != 0) break;
      if (k > 0 && (size_t)k < sizeof dname) note_offline(s, c, dname);
    }
  }
  if (v.store) {
    tbjson_batch b;
    strs ss = {0};
    rc = build_batch(&pl, wall_ms(), &b, &ss);
    if (rc == 0 && b.n_groups > 0) {
      rc = api_mqtt_store(s->p, c, name, SPB_PROFILE, &b, m->qos, done, arg);
      if (rc == 0) flags |= MQTT_HOOK_PENDING;
    }
    if (rc != 0)
      LOOM_WARN("sparkplug values not stored", "device=%s err=\"%s\"", name, loom_strerror(rc));
    batch_free(&b);
    strs_free(&ss);
  }
out:
  spb_payload_deinit(&pl);
  return flags;
}

/* ---- commands ---- */

/* JSON value v as metric m of datatype dt. */
static int json_to_metric(json_t *v, uint32_t dt, spb_metric *m) {
  m->datatype = dt;
  switch (dt) {
  case SPB_DT_INT8: case SPB_DT_INT16: case SPB_DT_INT32: case SPB_DT_INT64:
    if (!json_is_integer(v)) return LOOM_EINVAL;
    m->kind = SPB_K_INT;
    m->i = json_integer_value(v);
    return 0;
  case SPB_DT_UINT8: case SPB_DT_UINT16: case SPB_DT_UINT32: case SPB_DT_UINT64:
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
      m->kind = SPB_K_UINT;
      m->u = (uint64_t)json_integer_value(v);
      return 0;
    }
    if (json_is_string(v) && dt == SPB_DT_UINT64) { /* above INT64_MAX: as a string */
      const char *s = json_string_value(v);
      char *end;
      if (!*s || *s == '-') return LOOM_EINVAL;
      m->u = strtoull(s, &end, 10);
      if (*end) return LOOM_EINVAL;
      m->kind = SPB_K_UINT;
      return 0;
    }
    return LOOM_EINVAL;
  case SPB_DT_FLOAT: case SPB_DT_DOUBLE:
    if (!json_is_number(v)) return LOOM_EINVAL;
    m->kind = SPB_K_DOUBLE;
    m->d = json_number_value(v);
    return 0;
  case SPB_DT_BOOLEAN:
    if (!json_is_boolean(v)) return LOOM_EINVAL;
    m->kind = SPB_K_BOOL;
    m->b = json_is_true(v);
    return 0;
  case SPB_DT_STRING: case SPB_DT_TEXT: case SPB_DT_UUID:
    if (!json_is_string(v)) return LOOM_EINVAL;
    m->kind = SPB_K_STRING;
    m->s = json_string_value(v);
    m->s_len = json_string_length(v);
    return strlen(m->s) == m->s_len ? 0 : LOOM_EINVAL;
  case SPB_DT_DATETIME:
    if (!json_is_integer(v) || json_integer_value(v) < 0) return LOOM_EINVAL;
    m->kind = SPB_K_DATETIME;
    m->i = json_integer_value(v);
    return 0;
  default:
    return LOOM_EUNSUP;
  }
}

int api_spb_command(api_spb *s, const char *mount, const char *device_name_, const char *method,
                    const char *params_json, char *err, size_t errlen) {
  if (!s || !mount || !device_name_ || !method || !params_json) return LOOM_EINVAL;
  if (atomic_load(&s->stopped)) return LOOM_ECLOSED;
  /* "<group>:<node>[:<device>]": group and node hold no ':'; the device may */
  const char *c1 = strchr(device_name_, ':');
  if (!c1 || c1 == device_name_) {
    (void)loom_errf(err, errlen, 0, "%s is not a Sparkplug device name", device_name_);
    return LOOM_ENOTFOUND;
  }
  const char *c2 = strchr(c1 + 1, ':');
  size_t gl = (size_t)(c1 - device_name_);
  size_t nl = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
  const char *device = c2 ? c2 + 1 : NULL;
  if (nl == 0 || (device && !*device)) return LOOM_ENOTFOUND;
  char key[API_MQTT_MOUNT_MAX + 600];
  if (node_key(mount, device_name_, gl, c1 + 1, nl, key, sizeof key) != 0) return LOOM_ENOTFOUND;
  uint32_t dt = 0;
  pthread_mutex_lock(&s->lock);
  int rc = spb_host_metric_find(s->host, key, device, method, &dt, NULL, NULL);
  pthread_mutex_unlock(&s->lock);
  if (rc != 0) {
    (void)loom_errf(err, errlen, 0, "no metric \"%s\" in the last birth of %s", method, device_name_);
    return LOOM_ENOTFOUND;
  }
  json_error_t je;
  json_t *v = json_loads(params_json, JSON_DECODE_ANY, &je);
  if (!v) {
    (void)loom_errf(err, errlen, 0, "params are not JSON: %s", je.text);
    return LOOM_EINVAL;
  }
  spb_metric m = {.name = method};
  rc = json_to_metric(v, dt, &m);
  loom_buf body, topic;
  loom_buf_init(&body);
  loom_buf_init(&topic);
  if (rc == LOOM_EUNSUP) {
    (void)loom_errf(err, errlen, 0, "commands to %s metrics are not supported", spb_datatype_name(dt));
    goto out;
  }
  if (rc != 0) {
    (void)loom_errf(err, errlen, 0, "params do not fit the metric's datatype %s", spb_datatype_name(dt));
    goto out;
  }
  spb_payload pl;
  spb_payload_init(&pl);
  pl.has_ts = true;
  pl.ts_ms = wall_ms();
  pl.metrics = &m;
  pl.n_metrics = 1;
  rc = spb_payload_encode(&pl, &body);
  if (rc == LOOM_EINVAL) {
    (void)loom_errf(err, errlen, 0, "params out of range for %s", spb_datatype_name(dt));
    goto out;
  }
  if (rc != 0) goto out;
  rc = device ? loom_buf_printf(&topic, "%sspBv1.0/%.*s/DCMD/%.*s/%s", mount, (int)gl,
                                device_name_, (int)nl, c1 + 1, device)
              : loom_buf_printf(&topic, "%sspBv1.0/%.*s/NCMD/%.*s", mount, (int)gl, device_name_,
                                (int)nl, c1 + 1);
  if (rc == 0) rc = loom_buf_cstr(&topic);
  if (rc != 0) goto out;
  mqtt_broker *b = api_mqtt_broker(s->p);
  rc = b ? mqtt_broker_publish(b, (const char *)topic.data, body.data, body.len, 0, false)
         : LOOM_ECLOSED;
out:
  json_decref(v);
  loom_buf_deinit(&body);
  loom_buf_deinit(&topic);
  return rc;
}
