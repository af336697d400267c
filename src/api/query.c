/* SPDX-License-Identifier: Apache-2.0
 * GET|POST /query (InfluxDB 1.x): q, db, epoch, pretty, chunked,
 * chunk_size; `Accept: application/csv` for CSV. Queries run on the worker
 * pool, never on a loop thread, and stream their result to the client in
 * pieces as they are produced.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "query/exec.h"

#define FLUSH_BYTES (64 * 1024)
#define BACKLOG_BYTES (4 * 1024 * 1024) /* pause the query while more than this is unsent */

typedef struct query_job {
  loom_api *api;
  http_req *req;
  char *q, *db, *epoch;
  bool csv, pretty, chunked;
  uint32_t chunk_size;
  loom_buf out;     /* bytes not yet handed to the connection */
  bool started;
  int status;
} query_job;

static int sink_begin(void *arg, int status, const char *content_type) {
  query_job *j = arg;
  j->status = status;
  j->started = true;
  return http_respond_start(j->req, status, content_type);
}

static int sink_write(void *arg, const void *data, size_t len) {
  query_job *j = arg;
  int rc = loom_buf_append(&j->out, data, len);
  if (rc) return rc;
  if (j->out.len < FLUSH_BYTES) return 0;
  rc = http_respond_chunk(j->req, j->out.data, j->out.len);
  loom_buf_reset(&j->out);
  /* a slow client must not make the result pile up in memory: wait for it */
  size_t backlog = 0;
  while (!rc && !(rc = http_req_backlog(j->req, &backlog)) && backlog > BACKLOG_BYTES) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  return rc;
}

static void job_free(query_job *j) {
  loom_free(j->q);
  loom_free(j->db);
  loom_free(j->epoch);
  loom_buf_deinit(&j->out);
  loom_free(j);
}

static void run_query(void *arg) {
  query_job *j = arg;
  int64_t t0 = loom_mono_ns();
  qx_options o = {.db = j->db, .epoch = j->epoch, .now_ns = loom_now_ns(), .csv = j->csv,
                  .chunked = j->chunked, .chunk_size = j->chunk_size, .pretty = j->pretty};
  qx_sink sink = {.begin = sink_begin, .write = sink_write, .arg = j};
  int rc = qx_execute(j->api->engine, j->q, strlen(j->q), &o, &sink);
  if (!j->started) {
    http_respond_error(j->req, 500, rc ? loom_strerror(rc) : "query produced no response");
  } else {
    if (j->out.len) http_respond_chunk(j->req, j->out.data, j->out.len);
    http_respond_end(j->req);
  }
  api_note_query(j->api, loom_mono_ns() - t0, rc != 0 || j->status >= 400);
  job_free(j);
}

static char *dup_param(http_req *req, const char *name) {
  const char *v = http_req_param(req, name);
  return v ? loom_strdup(v) : NULL;
}

static bool truthy(const char *v) { return v && (!strcmp(v, "true") || !strcmp(v, "1")); }

void api_query(http_req *req, loom_api *api) {
  const char *q = http_req_param(req, "q");
  if (!q || !*q) {
    http_respond_error(req, 400, "missing required parameter \"q\"");
    return;
  }
  query_job *j = loom_calloc(1, sizeof *j);
  if (!j) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  j->api = api;
  j->req = req;
  loom_buf_init(&j->out);
  j->q = loom_strdup(q);
  j->db = dup_param(req, "db");
  j->epoch = dup_param(req, "epoch");
  j->pretty = truthy(http_req_param(req, "pretty"));
  j->chunked = truthy(http_req_param(req, "chunked"));
  const char *cs = http_req_param(req, "chunk_size");
  j->chunk_size = cs ? (uint32_t)strtoul(cs, NULL, 10) : 0;
  const char *accept = http_req_header(req, "accept");
  j->csv = accept && strstr(accept, "application/csv");
  if (!j->q || loom_workpool_submit(api->pool, run_query, j)) {
    job_free(j);
    http_respond_error(req, 503, "server is stopping or out of memory");
  }
}
