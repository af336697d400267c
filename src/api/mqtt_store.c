/* SPDX-License-Identifier: Apache-2.0
 * Telemetry of MQTT publishes on its way to the engine: one batch per
 * database collects publishes for a few milliseconds (mp_batch_add, broker
 * thread), the tick hands due batches (mp_batches_flush) to the storage
 * thread, which writes them to the engine; each publish is acknowledged
 * (its done callback) once its batch is durable, or refused with the
 * lines the engine refused.
 */
#include "api/mqtt_platform_int.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

/* Telemetry is stored in batches (one engine write and WAL fsync each): a
 * batch collects publishes for at most MP_STORE_MS, then goes to the
 * engine, so a QoS 1/2 PUBACK is late by at most that much plus the fsync.
 * A batch with QoS 1/2 publishes that got no new one for MP_STORE_QUIET_US
 * goes at once: its publishers wait for their acknowledgements (a full
 * window, or one publish at a time) and add nothing until they come.
 * Measured with bench/mqtt_run.sh:
 * - fewer, larger fsyncs cost less CPU: at 10,000 publishes/s from 100
 *   publishers, 50 a second; a 5 ms window (200 a second, and 350 with the
 *   quiet time rounded to milliseconds) cost a fifth more CPU per message
 *   (an fsync and the thread hand-offs around it cost about 100 us of CPU);
 * - the quiet time bounds a blocked publisher: one publisher with 10 in
 *   flight fanned out to 100 subscribers delivered 1.0M msgs/s at 500 us
 *   and 0.42M at 1 ms. Evenly paced publishers rarely pause that long. */
#define MP_STORE_MS 20
#define MP_STORE_QUIET_US 500
/* A batch this large goes at once (under load the WAL groups them). Larger
 * batches answer each publisher with more PUBACKs per write: 1,024 instead of
 * 256 cut Loom's CPU per message by a sixth and the load generator's by a
 * quarter in bench/mqtt_run.sh's QoS 1 fan-in (100 publishers, 10 in flight
 * each, whose batches then go by the quiet rule). */
#define MP_STORE_LINES_MAX 1024

static int64_t mono_us(void) { return loom_mono_ns() / 1000; }

void mp_batch_free(mp_batch *b) {
  loom_buf_deinit(&b->lp);
  lp_batch_deinit(&b->pts);
  loom_buf_deinit(&b->res.body);
  loom_free(b->pends);
  loom_free(b);
}

/* A partial write: the lines the engine refused (from the ingest result's
 * JSON) decide which publishes are refused. When the result names fewer
 * lines than were refused (it lists the first few), no publish of the batch
 * can be confirmed: all are refused, so none is acknowledged unstored. */
static void batch_done_partial(mp_batch *b) {
  json_t *doc = json_loadb((const char *)b->res.body.data, b->res.body.len, 0, NULL);
  json_t *lines = json_object_get(doc, "lines");
  bool named = json_is_array(lines) && json_array_size(lines) >= b->res.bad_lines;
  LOOM_WARN("mqtt telemetry partly refused", "db=%s publishes=%zu refused_lines=%llu body=%.*s",
            b->db, b->n_pends, (unsigned long long)b->res.bad_lines,
            (int)(b->res.body.len > 300 ? 300 : b->res.body.len), (const char *)b->res.body.data);
  for (size_t i = 0; i < b->n_pends; i++) {
    const mp_pend *pd = &b->pends[i];
    const char *why = named ? NULL : "points of this batch were refused and not all can be named";
    size_t k;
    json_t *e;
    json_array_foreach(named ? lines : NULL, k, e) {
      json_int_t ln = json_integer_value(json_object_get(e, "line"));
      if (ln >= pd->first_line && ln < (json_int_t)pd->first_line + pd->n_lines) {
        why = json_string_value(json_object_get(e, "error"));
        if (!why) why = "refused by the store";
        break;
      }
    }
    char msg[300];
    if (why) snprintf(msg, sizeof msg, "telemetry not stored: %s", why);
    pd->done(pd->arg, why ? (named ? 0x99 : 0x80) : 0, why ? msg : NULL);
  }
  json_decref(doc);
}

/* Engine thread (or the tick, on a synchronous failure). */
static void batch_done(void *arg, int status) {
  mp_batch *b = arg;
  api_mqtt *p = b->p;
  if (status) {
    char msg[200];
    snprintf(msg, sizeof msg, "telemetry not stored: %s", loom_strerror(status));
    LOOM_WARN("mqtt telemetry not stored", "db=%s publishes=%zu err=\"%s\"", b->db, b->n_pends,
              loom_strerror(status));
    for (size_t i = 0; i < b->n_pends; i++) b->pends[i].done(b->pends[i].arg, 0x80, msg);
  } else if (b->res.status != 204) {
    batch_done_partial(b);
  } else {
    for (size_t i = 0; i < b->n_pends; i++) b->pends[i].done(b->pends[i].arg, 0, NULL);
  }
  atomic_fetch_sub(&p->inflight_bytes, b->bytes);
  mp_batch_free(b);
  mp_job_end(p);
}

/* Hand the batch to the engine (the tick, broker thread). */
static void batch_ingest(void *arg) {
  mp_batch *b = arg;
  loom_api *api = b->p->api;
  int rc;
  if (b->pts_off) {
    rc = api_device_ingest(api, b->db, (const char *)b->lp.data, b->lp.len, &b->res, batch_done, b);
  } else { /* the points are built: as api_device_ingest, without parsing lp back */
    for (int attempt = 0;; attempt++) {
      loom_buf_reset(&b->res.body);
      rc = ingest_points_live(api->engine, api->live, b->db, &b->pts, (const char *)b->lp.data,
                              b->lp.len, 1, loom_now_ns(), &b->res, batch_done, b);
      if (rc != LOOM_ENOTFOUND || attempt) break;
      /* the tenant's database is not in the engine yet: create it, retry once */
      int crc = ts_db_create(api->engine, b->db, 0);
      if (crc && crc != LOOM_EEXIST) break;
    }
  }
  if (rc) batch_done(b, rc);
}

/* The storage thread: batches in the order they were handed over. */
static void *store_main(void *arg) {
  api_mqtt *p = arg;
  pthread_setname_np(pthread_self(), "mqtt-store"); /* top -H, perf, gdb */
  pthread_mutex_lock(&p->store_mu);
  for (;;) {
    while (!p->store_head && !p->store_stop) pthread_cond_wait(&p->store_cv, &p->store_mu);
    mp_batch *list = p->store_head;
    if (!list) break; /* stopping, and nothing is left */
    p->store_head = NULL;
    p->store_tail = &p->store_head;
    pthread_mutex_unlock(&p->store_mu);
    while (list) {
      mp_batch *b = list;
      list = b->next;
      b->next = NULL;
      batch_ingest(b);
    }
    pthread_mutex_lock(&p->store_mu);
  }
  pthread_mutex_unlock(&p->store_mu);
  return NULL;
}

/* Broker thread: b to the storage thread (or straight to the engine when
 * that thread could not be started). */
static void store_push(api_mqtt *p, mp_batch *b) {
  if (!p->store_started) {
    batch_ingest(b);
    return;
  }
  pthread_mutex_lock(&p->store_mu);
  *p->store_tail = b;
  p->store_tail = &b->next;
  pthread_cond_signal(&p->store_cv);
  pthread_mutex_unlock(&p->store_mu);
}

/* The open batch of database db (created); NULL on no memory. */
static mp_batch *batch_for(api_mqtt *p, const char *db) {
  for (mp_batch *b = p->batches; b; b = b->next)
    if (!strcmp(b->db, db)) return b;
  mp_batch *b = loom_calloc(1, sizeof *b);
  if (!b) return NULL;
  b->p = p;
  snprintf(b->db, sizeof b->db, "%s", db);
  loom_buf_init(&b->lp);
  lp_batch_init(&b->pts);
  loom_buf_init(&b->res.body);
  b->next = p->batches;
  p->batches = b;
  return b;
}

uint8_t mp_batch_add(api_mqtt *p, const char *db, const char *meas, const char *name,
                         const tbjson_batch *values, uint8_t qos, mqtt_ack_done_fn done,
                         void *arg) {
  mp_batch *b = batch_for(p, db);
  if (!b) return 0x97;
  int64_t now = mono_us();
  if (!b->due_us) b->due_us = now + 1000 * MP_STORE_MS;
  if (qos) b->last_ack_add_us = now;
  if (b->n_pends == b->cap_pends) {
    size_t nc = b->cap_pends ? b->cap_pends * 2 : 16;
    mp_pend *np = loom_realloc(b->pends, nc * sizeof *np);
    if (!np) return 0x97;
    b->pends = np;
    b->cap_pends = nc;
  }
  size_t mark = b->lp.len;
  int rc = tbjson_format_lp(values, meas, "device", name, &b->lp);
  if (rc) {
    b->lp.len = mark;
    return rc == LOOM_EINVAL ? 0x99 : 0x97;
  }
  /* its lines as lp_parse numbers them: a newline in a string value counts */
  uint32_t nl = 0;
  for (const uint8_t *q = b->lp.data + mark, *e = b->lp.data + b->lp.len;
       (q = memchr(q, '\n', (size_t)(e - q))) != NULL; q++)
    nl++;
  uint32_t first = b->lines + 1, next = first;
  if (!b->pts_off &&
      (tbjson_add_points(values, meas, "device", name, &next, &b->pts) || next != first + nl)) {
    b->pts_off = true; /* parse the text at the flush instead */
    lp_batch_deinit(&b->pts);
    lp_batch_init(&b->pts);
  }
  mp_pend *pd = &b->pends[b->n_pends++];
  pd->done = done;
  pd->arg = arg;
  pd->first_line = first;
  pd->n_lines = nl;
  b->lines += nl;
  return 0;
}

int mp_batches_flush(api_mqtt *p, bool final) {
  int64_t now = mono_us(), next = -1;
  for (mp_batch **pb = &p->batches; *pb;) {
    mp_batch *b = *pb;
    int64_t quiet_at = b->last_ack_add_us ? b->last_ack_add_us + MP_STORE_QUIET_US : b->due_us;
    if (!final && b->n_pends && b->due_us > now && quiet_at > now &&
        b->lines < MP_STORE_LINES_MAX) {
      int64_t at = quiet_at < b->due_us ? quiet_at : b->due_us;
      int64_t in_ms = (at - now + 999) / 1000; /* the broker's timer counts milliseconds */
      if (next < 0 || in_ms < next) next = in_ms;
      pb = &b->next;
      continue;
    }
    if (b->n_pends) {
      if (final) { /* the broker's stop: after api_mqtt_detach, still stored */
        pthread_mutex_lock(&p->lock);
        p->inflight++;
        pthread_mutex_unlock(&p->lock);
      } else if (mp_job_begin(p)) { /* stopping: the broker's final tick stores it */
        pb = &b->next;
        continue;
      }
    }
    *pb = b->next;
    b->next = NULL;
    if (!b->n_pends) {
      mp_batch_free(b);
      continue;
    }
    b->bytes = b->lp.len;
    atomic_fetch_add(&p->inflight_bytes, b->bytes);
    /* its own thread, not the worker pool: slow queries there must not hold
     * acknowledgements back; not the broker's: an engine write of a 20 ms
     * batch takes about a millisecond, which every message arriving
     * meanwhile would wait */
    store_push(p, b);
  }
  return (int)next;
}

int mp_store_start(api_mqtt *p) {
  pthread_mutex_init(&p->store_mu, NULL);
  pthread_cond_init(&p->store_cv, NULL);
  p->store_tail = &p->store_head;
  p->store_started = pthread_create(&p->store_thread, NULL, store_main, p) == 0;
  return p->store_started ? 0 : LOOM_ENOMEM;
}

void mp_store_stop(api_mqtt *p) {
  if (p->store_started) {
    pthread_mutex_lock(&p->store_mu);
    p->store_stop = true;
    pthread_cond_signal(&p->store_cv);
    pthread_mutex_unlock(&p->store_mu);
    pthread_join(p->store_thread, NULL);
    p->store_started = false;
  }
  pthread_cond_destroy(&p->store_cv);
  pthread_mutex_destroy(&p->store_mu);
}
