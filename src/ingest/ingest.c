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
} pending;

static void pending_step(void *p, int status, bool durability) {
  pending *x = p;
  if (durability) x->status = status;
  if (atomic_fetch_sub(&x->left, 1) != 1) return;
  x->cb(x->arg, x->status);
  loom_free(x);
}

static void pending_durable(void *p, int status) { pending_step(p, status, true); }

int ingest_lp(ts_engine *e, const char *db, const char *body, size_t len, int64_t precision_ns,
              ingest_result *res, ts_write_cb cb, void *arg) {
  res->status = 204;
  res->points = 0;
  res->bad_lines = 0;
  lp_batch b;
  lp_batch_init(&b);
  int64_t now = loom_now_ns();
  int rc = lp_parse(&b, body, len, precision_ns, now);
  if (rc) {
    json_error(&res->body, rc == LOOM_ENOMEM ? "out of memory" : "invalid precision");
    goto out;
  }
  ts_write_result w;
  memset(&w, 0, sizeof w);
  pending *pend = NULL;
  if (b.n_points) {
    if (!(pend = loom_malloc(sizeof *pend))) {
      rc = LOOM_ENOMEM;
      json_error(&res->body, "out of memory");
      goto out;
    }
    atomic_init(&pend->left, 2);
    pend->status = 0;
    pend->cb = cb;
    pend->arg = arg;
    rc = ts_engine_write_lp(e, db, &b, body, len, precision_ns, now, &w, pending_durable, pend);
    if (rc) loom_free(pend);
    if (rc == LOOM_ENOTFOUND) {
      char msg[300];
      snprintf(msg, sizeof msg, "database not found: \"%.200s\"", db);
      json_error(&res->body, msg);
      goto out;
    }
    if (rc) {
      ingest_failure_status(rc, &res->body);
      goto out;
    }
  } else if (ts_db_get(e, db, NULL)) {
    char msg[300];
    snprintf(msg, sizeof msg, "database not found: \"%.200s\"", db);
    json_error(&res->body, msg);
    rc = LOOM_ENOTFOUND;
    goto out;
  }
  res->points = w.points_written;
  res->bad_lines = b.n_errors_total + w.n_rejected;
  if (res->bad_lines) {
    res->status = 400;
    partial_body(&res->body, &b, &w, res->bad_lines);
  }
  if (pend) pending_step(pend, 0, false);
  else if (b.n_errors_total) rc = LOOM_EINVAL; /* nothing valid: answer now */
  else cb(arg, 0);                             /* empty body: nothing to store */
out:
  lp_batch_deinit(&b);
  return rc;
}
