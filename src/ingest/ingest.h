/* SPDX-License-Identifier: Apache-2.0
 * The one ingest path for line protocol: parse a body, store its valid points
 * in a database, and describe what was refused in InfluxDB's partial-write
 * words. HTTP /write, /api/v2/write and the demo's simulated plant all go
 * through here; other adapters will too.
 */
#ifndef LOOM_INGEST_INGEST_H
#define LOOM_INGEST_INGEST_H

#include <stdint.h>

#include "core/buf.h"
#include "ts/engine.h"

typedef struct ingest_result {
  int status;          /* HTTP status to answer once durable: 204, or 400 (partial write) */
  loom_buf body;       /* JSON body when status != 204 (caller deinits) */
  uint64_t points;     /* field values stored */
  uint64_t bad_lines;  /* lines refused (parse errors and rejected points) */
} ingest_result;

/* Parse body and store its valid points in db. On 0, cb(arg, status) runs
 * exactly once when the points are durable (status 0) or the write failed
 * (LOOM_EIO / LOOM_ENOSPC / LOOM_EREADONLY); res says what to answer then.
 * On error cb never runs and res->body holds a JSON error: LOOM_ENOTFOUND (no
 * such database), LOOM_EINVAL (nothing valid in the body), LOOM_EREADONLY,
 * LOOM_ENOMEM. Any thread. */
int ingest_lp(ts_engine *e, const char *db, const char *body, size_t len, int64_t precision_ns,
              ingest_result *res, ts_write_cb cb, void *arg);

typedef struct live_hub live_hub;

/* ingest_lp, and once the points are durable, publish those carrying a
 * `device` tag to hub as LIVE_TELEMETRY events (db, the tag's value, the
 * point's time, its fields as a JSON object), only when hub has a
 * telemetry subscriber of db (one atomic load otherwise). hub may be NULL
 * (ingest_lp is this with NULL). Same contract as ingest_lp. */
int ingest_lp_live(ts_engine *e, live_hub *hub, const char *db, const char *body, size_t len,
                   int64_t precision_ns, ingest_result *res, ts_write_cb cb, void *arg);

/* ingest_lp_live for a body whose points the caller built already
 * (lp_batch_add), exactly the points lp_parse reads from body at
 * precision_ns with default_ts_ns as the time of lines without one: the
 * WAL keeps body and those two, and replay parses it. Skips the parse;
 * batch is only read (the caller frees it after the call). Same contract
 * as ingest_lp_live otherwise. */
int ingest_points_live(ts_engine *e, live_hub *hub, const char *db, const lp_batch *batch,
                       const char *body, size_t len, int64_t precision_ns, int64_t default_ts_ns,
                       ingest_result *res, ts_write_cb cb, void *arg);

/* The HTTP status for a storage failure code (507 disk full, 503 read-only,
 * 500 otherwise) and a JSON body for it. */
int ingest_failure_status(int code, loom_buf *body);

#endif
