/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL executor: runs the statements of a /query request against the
 * time-series engine and writes InfluxDB 1.x's response (JSON, chunked JSON
 * or CSV) through a caller-supplied sink as it goes, so large results are
 * streamed rather than built in memory. The parser (ql_parse.h) produces the
 * AST; this module plans and executes it (exec_*.c).
 */
#ifndef LOOM_QUERY_EXEC_H
#define LOOM_QUERY_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts/engine.h"

/* Where the response goes. begin() is called exactly once, before any
 * write(), with the HTTP status (200 or 400) and the content type
 * ("application/json" or "application/csv"). Each callback returns 0, or a
 * negative value when the client is gone: execution then stops and
 * qx_execute returns LOOM_ECLOSED. */
typedef struct qx_sink {
  int (*begin)(void *arg, int http_status, const char *content_type);
  int (*write)(void *arg, const void *data, size_t len);
  void *arg;
} qx_sink;

typedef struct qx_options {
  const char *db;      /* default database (the `db` parameter), may be NULL */
  const char *epoch;   /* NULL/"" = RFC3339 strings; else "ns","u"/"µ","ms","s","m","h" */
  int64_t now_ns;      /* the query's now() */
  bool csv;            /* Accept: application/csv */
  bool chunked;        /* chunked=true: one JSON object per chunk, as InfluxDB */
  uint32_t chunk_size; /* rows per chunk (0 = 10000) */
  bool pretty;         /* indent the JSON as InfluxDB's pretty=true */
  uint64_t max_points; /* limit on points read per statement (0 = none): an
                          error result for that statement, not a crash */
} qx_options;

/* Parse and execute every statement of text[0..len); the whole response goes
 * through sink. Parse errors give status 400 and
 * {"error":"error parsing query: ..."}; an execution error of a statement
 * gives that statement's {"statement_id":N,"error":"..."} with status 200,
 * and the next statements still run, as in InfluxDB 1.x.
 * Returns 0 (errors reported to the client are not errors of the call),
 * LOOM_ECLOSED when the sink refused bytes, or LOOM_ENOMEM.
 * Any thread; the engine is thread-safe. */
int qx_execute(ts_engine *e, const char *text, size_t len, const qx_options *opt,
               const qx_sink *sink);

#endif
