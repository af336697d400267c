/* SPDX-License-Identifier: Apache-2.0
 * The HTTP API: the route table, the access check every protected route
 * passes through, and the handlers (one file per resource). `loom_api` is
 * the daemon state the handlers need, passed down explicitly.
 */
#ifndef LOOM_API_API_H
#define LOOM_API_API_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/workpool.h"
#include "http/server.h"
#include "sec/auth.h"
#include "ts/engine.h"

#define LOOM_VERSION "0.1.0"
/* What /ping reports as X-Influxdb-Version: clients (influx CLI, Telegraf,
 * Grafana) check for a 1.x server. */
#define LOOM_INFLUX_COMPAT_VERSION "1.8.10"

typedef struct loom_api {
  ts_engine *engine;
  sec_auth *auth;
  loom_workpool *pool;    /* runs queries off the loop threads */
  http_server *http;      /* for /metrics; set after the server is created */
  int64_t started_ns;
  /* query statistics (written by workers) */
  atomic_uint_fast64_t queries, query_errors, query_ns_total;
  atomic_uint_fast64_t query_hist[12]; /* cumulative buckets, see ops.c */
} loom_api;

/* The server's request handler: routes req, checking access first. */
void api_handle(http_req *req, void *user);

/* Handlers (req answered, possibly later from another thread). */
void api_ping(http_req *req, loom_api *api);
void api_health(http_req *req, loom_api *api);
void api_metrics(http_req *req, loom_api *api);
void api_write_v1(http_req *req, loom_api *api);
void api_write_v2(http_req *req, loom_api *api);
void api_query(http_req *req, loom_api *api);

/* Record one query's duration (ns) in the statistics. */
void api_note_query(loom_api *api, int64_t ns, int failed);

#endif
