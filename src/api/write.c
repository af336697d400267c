/* SPDX-License-Identifier: Apache-2.0
 * POST /write (InfluxDB 1.x: db, rp, precision n|u|ms|s|m|h) and POST
 * /api/v2/write (2.x: bucket, org, precision ns|us|ms|s). The answer (204,
 * or 400 naming the bad lines) is sent only when the points are durable as
 * the durability mode requires; a storage failure is never acknowledged.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/ingest.h"

typedef struct write_ctx {
  http_req *req;
  ingest_result res;
} write_ctx;

static void respond(http_req *req, int status, const loom_buf *body) {
  if (status == 204) http_respond(req, 204, NULL, NULL, 0);
  else http_respond(req, status, "application/json", body->data, body->len);
}

/* Runs on an engine thread when the write is durable or failed. */
static void write_done(void *arg, int status) {
  write_ctx *c = arg;
  if (status) {
    int http = ingest_failure_status(status, &c->res.body);
    respond(c->req, http, &c->res.body);
  } else {
    respond(c->req, c->res.status, &c->res.body);
  }
  loom_buf_deinit(&c->res.body);
  loom_free(c);
}

static void do_write(http_req *req, loom_api *api, const char *db, const char *precision, bool v2) {
  if (!db || !*db) {
    http_respond_error(req, v2 ? 404 : 400, v2 ? "bucket not found: the bucket parameter is required"
                                               : "database is required");
    return;
  }
  int64_t prec = 1;
  if (precision && *precision) {
    prec = loom_precision_ns(precision);
    if (!prec || (v2 && (!strcmp(precision, "m") || !strcmp(precision, "h")))) {
      char msg[128];
      snprintf(msg, sizeof msg, "invalid precision \"%.32s\"", precision);
      http_respond_error(req, 400, msg);
      return;
    }
  }
  write_ctx *c = loom_calloc(1, sizeof *c);
  if (!c) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  c->req = req;
  loom_buf_init(&c->res.body);
  size_t len;
  const uint8_t *body = http_req_body(req, &len);
  int rc = ingest_lp(api->engine, db, (const char *)body, len, prec, &c->res, write_done, c);
  if (rc) { /* the callback will not run: answer now */
    int status = rc == LOOM_ENOTFOUND ? 404 : rc == LOOM_EINVAL ? 400
               : rc == LOOM_EREADONLY ? 503 : rc == LOOM_ENOMEM ? 503 : 500;
    respond(req, status, &c->res.body);
    loom_buf_deinit(&c->res.body);
    loom_free(c);
  }
}

void api_write_v1(http_req *req, loom_api *api) {
  do_write(req, api, http_req_param(req, "db"), http_req_param(req, "precision"), false);
}

void api_write_v2(http_req *req, loom_api *api) {
  /* bucket may be "db/rp" in InfluxDB's 1.x compatibility API */
  const char *bucket = http_req_param(req, "bucket");
  char db[256];
  if (bucket) {
    snprintf(db, sizeof db, "%s", bucket);
    char *slash = strchr(db, '/');
    if (slash) *slash = 0;
  }
  do_write(req, api, bucket ? db : NULL, http_req_param(req, "precision"), true);
}
