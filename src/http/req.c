/* SPDX-License-Identifier: Apache-2.0
 * The request object handlers see: getters, response formatting (whole,
 * streamed chunked or close-delimited), and the hand-off of response bytes to
 * the connection's loop through http_req_hooks (server.c), or to an in-memory
 * sink for detached requests (tests and in-process callers).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/conn.h"

/* --- getters --- */

const char *http_req_method(const http_req *req) { return http_method_str((enum http_method)req->method); }

unsigned http_req_method_bit(const http_req *req) {
  switch (req->method) {
  case HTTP_GET: return HTTP_M_GET;
  case HTTP_HEAD: return HTTP_M_HEAD;
  case HTTP_POST: return HTTP_M_POST;
  case HTTP_PUT: return HTTP_M_PUT;
  case HTTP_DELETE: return HTTP_M_DELETE;
  case HTTP_PATCH: return HTTP_M_PATCH;
  case HTTP_OPTIONS: return HTTP_M_OPTIONS;
  default: return HTTP_M_OTHER;
  }
}

const char *http_req_target(const http_req *req) { return req->raw.data ? (const char *)req->raw.data : ""; }
const char *http_req_path(const http_req *req) { return req->path ? req->path : ""; }
const char *http_req_query(const http_req *req) { return req->query ? req->query : ""; }
const char *http_req_param(const http_req *req, const char *name) { return http_params_get(&req->params, name); }

const char *http_req_header(const http_req *req, const char *name) {
  for (size_t i = 0; i < req->n_hdrs; i++)
    if (strcasecmp(req->hdrs[i].name, name) == 0) return req->hdrs[i].value;
  return NULL;
}

size_t http_req_header_count(const http_req *req) { return req->n_hdrs; }

int http_req_header_at(const http_req *req, size_t i, const char **name, const char **value) {
  if (i >= req->n_hdrs) return LOOM_ERANGE;
  *name = req->hdrs[i].name;
  *value = req->hdrs[i].value;
  return 0;
}

const uint8_t *http_req_body(const http_req *req, size_t *len) {
  *len = req->body.len;
  return req->body.data ? req->body.data : (const uint8_t *)"";
}

const char *http_req_remote(const http_req *req) { return req->remote; }

int http_req_backlog(const http_req *req, size_t *bytes) {
  http_req *r = (http_req *)req; /* atomics are only read */
  *bytes = atomic_load(&r->queued) + atomic_load(&r->buffered);
  return atomic_load(&r->gone) ? LOOM_ECLOSED : 0;
}
int http_req_http_minor(const http_req *req) { return req->http_minor; }
void *http_req_user(const http_req *req) { return req->user; }
void http_req_set_user(http_req *req, void *user) { req->user = user; }

/* --- response headers --- */

static int bad_header_text(const char *s, int is_name) {
  for (; *s; s++) {
    if (*s == '\r' || *s == '\n') return 1;
    if (is_name && (*s == ':' || *s == ' ' || *s == '\t')) return 1;
  }
  return 0;
}

int http_req_add_header(http_req *req, const char *name, const char *value) {
  if (!name || !*name || !value || bad_header_text(name, 1) || bad_header_text(value, 0)) return LOOM_EINVAL;
  if (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
      strcasecmp(name, "connection") == 0)
    return LOOM_EINVAL;
  if (req->state != RESP_NONE) return LOOM_ECLOSED;
  return loom_buf_printf(&req->extra_headers, "%s: %s\r\n", name, value);
}

/* --- hand-off --- */

/* Send data (consumed on success) and move the request to new_state. On
 * failure nothing changed and data is still the caller's. */
static int emit(http_req *req, loom_buf *data, int status, int final, int new_state) {
  if (!req->hooks) {
    if (loom_buf_append(&req->sink, data->data, data->len) < 0) return LOOM_ENOMEM;
    loom_buf_deinit(data);
    req->state = new_state;
    return 0;
  }
  http_msg *m = loom_calloc(1, sizeof *m);
  if (!m) return LOOM_ENOMEM;
  m->req = req;
  if (!final) atomic_fetch_add(&req->queued, data->len); /* req may be gone after a final deliver */
  m->data = *data;
  loom_buf_init(data);
  m->status = status;
  m->final = final ? 1 : 0;
  m->close = final && req->close_after ? 1 : 0;
  req->state = new_state;
  const http_req_hooks *h = req->hooks;
  void *ctx = req->hooks_ctx;
  if (status) h->count(ctx, status);
  h->deliver(ctx, m); /* req may be gone from here on */
  return 0;
}

static int must_close(const http_req *req) {
  return !req->keep_alive || req->upgrade || (req->stopping && atomic_load(req->stopping));
}

/* Served responses carry a Date header (RFC 9110: servers with a clock
 * send one); detached requests leave it out so their bytes are repeatable. */
static long long response_date(const http_req *req) { return req->hooks ? (long long)time(NULL) : -1; }

static int status_has_body(int status) { return status != 204 && status != 304; }

int http_respond(http_req *req, int status, const char *content_type, const void *body, size_t len) {
  if (status < 200 || status > 599 || (!body && len)) return LOOM_EINVAL;
  if (req->state != RESP_NONE) return LOOM_ECLOSED;
  loom_buf out;
  loom_buf_init(&out);
  int close = must_close(req);
  int has_body = status_has_body(status);
  req->close_after = close ? 1 : 0;
  int rc = http_format_head(&out, req->http_minor, status, response_date(req),
                            has_body ? content_type : NULL, has_body ? (long long)len : -1, 0, close,
                            &req->extra_headers);
  if (rc == 0 && has_body && req->method != HTTP_HEAD && len) rc = loom_buf_append(&out, body, len);
  if (rc == 0) rc = emit(req, &out, status, 1, RESP_DONE);
  loom_buf_deinit(&out);
  return rc;
}

int http_respond_error(http_req *req, int status, const char *msg) {
  loom_buf b;
  loom_buf_init(&b);
  int rc = loom_buf_append_str(&b, "{\"error\":");
  if (rc == 0) rc = loom_buf_append_json_str(&b, msg ? msg : "", msg ? strlen(msg) : 0);
  if (rc == 0) rc = loom_buf_append_str(&b, "}\n");
  if (rc == 0) rc = http_respond(req, status, "application/json", b.data, b.len);
  loom_buf_deinit(&b);
  return rc;
}

int http_respond_start(http_req *req, int status, const char *content_type) {
  if (status < 200 || status > 599) return LOOM_EINVAL;
  if (req->state != RESP_NONE) return LOOM_ECLOSED;
  int has_body = status_has_body(status);
  int chunked = has_body && req->http_minor >= 1;
  int close = must_close(req) || (has_body && !chunked);
  loom_buf out;
  loom_buf_init(&out);
  int rc = http_format_head(&out, req->http_minor, status, response_date(req),
                            has_body ? content_type : NULL, -1, chunked, close, &req->extra_headers);
  if (rc == 0) {
    req->close_after = close ? 1 : 0;
    req->chunked = chunked ? 1 : 0;
    req->close_delim = has_body && !chunked ? 1 : 0;
    req->head_only = !has_body || req->method == HTTP_HEAD ? 1 : 0;
    rc = emit(req, &out, status, 0, RESP_STREAMING);
  }
  loom_buf_deinit(&out);
  return rc;
}

int http_respond_chunk(http_req *req, const void *data, size_t len) {
  if (req->state != RESP_STREAMING) return LOOM_ECLOSED;
  if (!data && len) return LOOM_EINVAL;
  if (len == 0 || req->head_only) return 0;
  loom_buf out;
  loom_buf_init(&out);
  int rc = 0;
  if (req->chunked) rc = loom_buf_printf(&out, "%zx\r\n", len);
  if (rc == 0) rc = loom_buf_append(&out, data, len);
  if (rc == 0 && req->chunked) rc = loom_buf_append_str(&out, "\r\n");
  if (rc == 0) rc = emit(req, &out, 0, 0, RESP_STREAMING);
  loom_buf_deinit(&out);
  return rc;
}

int http_respond_end(http_req *req) {
  if (req->state != RESP_STREAMING) return LOOM_ECLOSED;
  loom_buf out;
  loom_buf_init(&out);
  int rc = 0;
  if (req->chunked && !req->head_only) rc = loom_buf_append_str(&out, "0\r\n\r\n");
  if (rc == 0) rc = emit(req, &out, 0, 1, RESP_DONE);
  loom_buf_deinit(&out);
  return rc;
}

/* --- detached requests --- */

int http_req_from_bytes(const char *raw, size_t len, http_req **out) {
  http_conn *c;
  int rc = http_conn_new(NULL, &c);
  if (rc < 0) return rc;
  size_t used = 0;
  int ev = http_conn_feed(c, raw, len, &used);
  if (ev == HTTP_FEED_REQUEST && used == len) {
    *out = http_conn_take_request(c);
    rc = 0;
  } else {
    const char *msg;
    rc = ev == HTTP_FEED_ERROR && http_conn_error(c, &msg) == 503 ? LOOM_ENOMEM : LOOM_EINVAL;
  }
  http_conn_free(c);
  return rc;
}

const uint8_t *http_req_output(const http_req *req, size_t *len) {
  *len = req->sink.len;
  return req->sink.data ? req->sink.data : (const uint8_t *)"";
}

void http_req_free(http_req *req) { http_req_destroy(req); }
