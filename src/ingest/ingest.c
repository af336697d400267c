/* SPDX-License-Identifier: Apache-2.0
 * Line-protocol ingest (see ingest.h).
 */
#include "ingest/ingest.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/lp.h"
#include "live/hub.h"

static void json_error(loom_buf *b, const char *msg) {
  loom_buf_reset(b);
  loom_buf_append_str(b, "{\"error\":");
  loom_buf_append_json_str(b, msg, strlen(msg));
  loom_buf_append_str(b, "}");
}

int ingest_failure_status(int code, loom_buf *body) {
  char msg[160];
  int status = code == LOOM_ENOSPC ? 507 : code == LOOM_EREADONLY ? 503 : 500;
  /* Not "nothing stored": the points were already applied in memory and may
   * still reach disk at the next flush. What is sure is that the write was
   * not made durable, so the client must retry it (writes are idempotent). */
  snprintf(msg, sizeof msg, "write failed, not stored durably: %s; retry the write%s",
           loom_strerror(code), code == LOOM_EREADONLY ? " after the server is restarted" : "");
  json_error(body, msg);
  return status;
}

/* {"error":"partial write: line N: msg; ... dropped=K","lines":[{"line":N,"error":msg},...]} */
static void partial_body(loom_buf *b, const lp_batch *batch, const ts_write_result *w,
                         uint64_t dropped) {
  loom_buf text, lines;
  loom_buf_init(&text);
  loom_buf_init(&lines);
  loom_buf_append_str(&text, "partial write:");
  loom_buf_append_str(&lines, "[");
  uint32_t shown = 0;
  for (uint32_t i = 0; i < batch->n_errors; i++, shown++) {
    const lp_error *er = &batch->errors[i];
    loom_buf_printf(&text, "%s line %u: %s", shown ? ";" : "", er->line, er->msg);
    loom_buf_printf(&lines, "%s{\"line\":%u,\"error\":", shown ? "," : "", er->line);
    loom_buf_append_json_str(&lines, er->msg, strlen(er->msg));
    loom_buf_append_str(&lines, "}");
  }
  uint32_t nr = w->n_rejected < 16 ? w->n_rejected : 16;
  for (uint32_t i = 0; i < nr; i++, shown++) {
    loom_buf_printf(&text, "%s line %u: %s", shown ? ";" : "", w->rejects[i].line, w->rejects[i].msg);
    loom_buf_printf(&lines, "%s{\"line\":%u,\"error\":", shown ? "," : "", w->rejects[i].line);
    loom_buf_append_json_str(&lines, w->rejects[i].msg, strlen(w->rejects[i].msg));
    loom_buf_append_str(&lines, "}");
  }
  if (dropped > shown) loom_buf_printf(&text, "; and %llu more", (unsigned long long)(dropped - shown));
  loom_buf_printf(&text, " dropped=%llu", (unsigned long long)dropped);
  loom_buf_append_str(&lines, "]");
  loom_buf_reset(b);
  loom_buf_append_str(b, "{\"error\":");
  loom_buf_append_json_str(b, (const char *)text.data, text.len);
  loom_buf_append_str(b, ",\"lines\":");
  loom_buf_append(b, lines.data, lines.len);
  loom_buf_append_str(b, "}");
  loom_buf_deinit(&text);
  loom_buf_deinit(&lines);
}

/* The caller's callback runs only after both the durability report and the
 * filling of its result: the report may come first (batched mode reports
 * inline), so whichever happens last calls it. */
typedef struct pending {
  atomic_int left;
  int status;
  ts_write_cb cb;
  void *arg;
  live_hub *hub;
  loom_buf live; /* events for the hub, see add_live_events; empty when nobody listens */
} pending;

/* Live events of the points carrying a `device` tag, packed for publishing
 * once the write is acknowledged: per point u32 db length, db, u32 device
 * length, device, i64 ts_ns, u32 json length, json (host byte order; the
 * buffer never leaves the process). */
static void add_live_events(loom_buf *out, const char *db, const lp_batch *b) {
  loom_buf js;
  loom_buf_init(&js);
  uint32_t dbl = (uint32_t)strlen(db);
  for (uint32_t i = 0; i < b->n_points; i++) {
    const lp_point *pt = &b->points[i];
    const lp_tag *dev = NULL;
    for (uint32_t t = 0; t < pt->n_tags && !dev; t++)
      if (pt->tags[t].key_len == 6 && !memcmp(pt->tags[t].key, "device", 6)) dev = &pt->tags[t];
    if (!dev) continue;
    loom_buf_reset(&js);
    int rc = loom_buf_append_u8(&js, '{');
    for (uint32_t f = 0; f < pt->n_fields && rc == 0; f++) {
      const lp_field *fd = &pt->fields[f];
      if (f) rc = loom_buf_append_u8(&js, ',');
      if (rc == 0) rc = loom_buf_append_json_str(&js, fd->key, fd->key_len);
      if (rc == 0) rc = loom_buf_append_u8(&js, ':');
      if (rc) break;
      switch (fd->type) {
      case TS_FLOAT: rc = loom_buf_printf(&js, "%.17g", fd->v.f); break;
      case TS_INT: rc = loom_buf_printf(&js, "%lld", (long long)fd->v.i); break;
      case TS_UINT: rc = loom_buf_printf(&js, "%llu", (unsigned long long)fd->v.u); break;
      case TS_BOOL: rc = loom_buf_append_str(&js, fd->v.b ? "true" : "false"); break;
      default: rc = loom_buf_append_json_str(&js, fd->v.s.p, fd->v.s.len); break;
      }
    }
    if (rc == 0) rc = loom_buf_append_u8(&js, '}');
    uint32_t dl = dev->val_len, jl = (uint32_t)js.len;
    int64_t ts = pt->ts_ns;
    if (rc == 0) rc = loom_buf_append(out, &dbl, 4);
    if (rc == 0) rc = loom_buf_append(out, db, dbl);
    if (rc == 0) rc = loom_buf_append(out, &dl, 4);
    if (rc == 0) rc = loom_buf_append(out, dev->val, dl);
    if (rc == 0) rc = loom_buf_append(out, &ts, 8);
    if (rc == 0) rc = loom_buf_append(out, &jl, 4);
    if (rc == 0) rc = loom_buf_append(out, js.data, jl);
    if (rc) break; /* out of memory: live updates are best effort */
  }
  loom_buf_deinit(&js);
}

static void publish_live(live_hub *hub, const loom_buf *b) {
  size_t off = 0;
  char db[256], dev[512];
  while (off + 4 <= b->len) {
    uint32_t l;
    live_event ev = {LIVE_TELEMETRY, db, dev, 0, NULL, 0};
    memcpy(&l, b->data + off, 4), off += 4;
    if (l >= sizeof db) break;
    memcpy(db, b->data + off, l), db[l] = 0, off += l;
    memcpy(&l, b->data + off, 4), off += 4;
    if (l >= sizeof dev) { /* longer names are not subscribable: skip */
      off += l + 8;
      memcpy(&l, b->data + off, 4), off += 4 + l;
      continue;
    }
    memcpy(dev, b->data + off, l), dev[l] = 0, off += l;
    memcpy(&ev.ts_ns, b->data + off, 8), off += 8;
    memcpy(&l, b->data + off, 4), off += 4;
    ev.json = (const char *)b->data + off;
    ev.json_len = l;
    off += l;
    live_publish(hub, &ev);
  }
}

static void pending_step(void *p, int status, bool durability) {
  pending *x = p;
  if (durability) x->status = status;
  if (atomic_fetch_sub(&x->left, 1) != 1) return;
  if (x->status == 0 && x->live.len) publish_live(x->hub, &x->live);
  loom_buf_deinit(&x->live);
  x->cb(x->arg, x->status);
  loom_free(x);
}

static void pending_durable(void *p, int status) { pending_step(p, status, true); }

int ingest_lp(ts_engine *e, const char *db, const char *body, size_t len, int64_t precision_ns,
              ingest_result *res, ts_write_cb cb, void *arg) {
  return ingest_lp_live(e, NULL, db, body, len, precision_ns, res, cb, arg);
}

/* Store the points of b (parsed from or built for body) in db: the rest of
 * ingest_lp_live once the points are known. */
static int store_points(ts_engine *e, live_hub *hub, const char *db, const lp_batch *b,
                        const char *body, size_t len, int64_t precision_ns, int64_t now,
                        ingest_result *res, ts_write_cb cb, void *arg) {
  int rc = 0;
  ts_write_result w;
  memset(&w, 0, sizeof w);
  pending *pend = NULL;
  if (b->n_points) {
    if (!(pend = loom_malloc(sizeof *pend))) {
      json_error(&res->body, "out of memory");
      return LOOM_ENOMEM;
    }
    atomic_init(&pend->left, 2);
    pend->status = 0;
    pend->cb = cb;
    pend->arg = arg;
    pend->hub = hub;
    loom_buf_init(&pend->live);
    if (live_hub_wants(hub, LIVE_TELEMETRY, db)) add_live_events(&pend->live, db, b);
    rc = ts_engine_write_lp(e, db, b, body, len, precision_ns, now, &w, pending_durable, pend);
    if (rc) {
      loom_buf_deinit(&pend->live);
      loom_free(pend);
    }
    if (rc == LOOM_ENOTFOUND) {
      char msg[300];
      snprintf(msg, sizeof msg, "database not found: \"%.200s\"", db);
      json_error(&res->body, msg);
      return rc;
    }
    if (rc) {
      ingest_failure_status(rc, &res->body);
      return rc;
    }
  } else if (ts_db_get(e, db, NULL)) {
    char msg[300];
    snprintf(msg, sizeof msg, "database not found: \"%.200s\"", db);
    json_error(&res->body, msg);
    return LOOM_ENOTFOUND;
  }
  res->points = w.points_written;
  res->bad_lines = b->n_errors_total + w.n_rejected;
  if (res->bad_lines) {
    res->status = 400;
    partial_body(&res->body, b, &w, res->bad_lines);
  }
  if (pend) pending_step(pend, 0, false);
  else if (b->n_errors_total) rc = LOOM_EINVAL; /* nothing valid: answer now */
  else cb(arg, 0);                              /* empty body: nothing to store */
  return rc;
}

int ingest_lp_live(ts_engine *e, live_hub *hub, const char *db, const char *body, size_t len,
                   int64_t precision_ns, ingest_result *res, ts_write_cb cb, void *arg) {
  res->status = 204;
  res->points = 0;
  res->bad_lines = 0;
  lp_batch b;
  lp_batch_init(&b);
  int64_t now = loom_now_ns();
  int rc = lp_parse(&b, body, len, precision_ns, now);
  if (rc) json_error(&res->body, rc == LOOM_ENOMEM ? "out of memory" : "invalid precision");
  else rc = store_points(e, hub, db, &b, body, len, precision_ns, now, res, cb, arg);
  lp_batch_deinit(&b);
  return rc;
}

int ingest_points_live(ts_engine *e, live_hub *hub, const char *db, const lp_batch *batch,
                       const char *body, size_t len, int64_t precision_ns, int64_t default_ts_ns,
                       ingest_result *res, ts_write_cb cb, void *arg) {
  res->status = 204;
  res->points = 0;
  res->bad_lines = 0;
  return store_points(e, hub, db, batch, body, len, precision_ns, default_ts_ns, res, cb, arg);
}
