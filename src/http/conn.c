/* SPDX-License-Identifier: Apache-2.0
 * Request-parsing state machine over http-parser (see conn.h). Bytes go in,
 * complete requests (headers gathered, limits enforced, body decoded, params
 * parsed) come out one at a time. Pure: no sockets, no loop, no globals, so
 * the fuzzer drives it directly.
 */
#include "http/conn.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/body.h"

#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DEFAULT_MAX_HEADER ((size_t)64 << 10)
#define NO_VALUE ((size_t)-1)

enum { SEG_URL = 0, SEG_FIELD = 1, SEG_VALUE = 2 };

struct http_conn {
  http_parser parser;
  http_conn_limits lim;
  http_req *cur;        /* being parsed */
  http_req *done;       /* complete, waiting for http_conn_take_request */
  size_t header_bytes;  /* request line + header bytes seen for cur */
  int seg;              /* which part of cur->raw is being appended */
  int headers_done;     /* header callbacks now carry chunked trailers: counted, ignored */
  int err_status;       /* non-zero once failed */
  const char *err_msg;
  int want_continue;    /* headers of an Expect: 100-continue request completed in this feed */
};

/* --- request lifetime --- */

void http_req_destroy(http_req *req) {
  if (!req) return;
  loom_buf_deinit(&req->raw);
  loom_free(req->hoff);
  loom_free(req->hdrs);
  loom_free(req->path);
  loom_free(req->query);
  loom_buf_deinit(&req->body);
  http_params_deinit(&req->params);
  loom_buf_deinit(&req->extra_headers);
  loom_buf_deinit(&req->sink);
  loom_free(req);
}

static int fail(http_conn *c, int status, const char *msg) {
  if (!c->err_status) {
    c->err_status = status;
    c->err_msg = msg;
  }
  return 1; /* non-zero from a callback halts http-parser */
}

static int count_header(http_conn *c, size_t n) {
  c->header_bytes += n;
  return c->header_bytes > c->lim.max_header_bytes;
}

/* --- http-parser callbacks --- */

static int on_message_begin(http_parser *p) {
  http_conn *c = p->data;
  http_req *r = loom_calloc(1, sizeof *r);
  if (!r) return fail(c, 503, "out of memory");
  http_params_init(&r->params);
  c->cur = r;
  c->header_bytes = 0;
  c->seg = SEG_URL;
  c->headers_done = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  http_conn *c = p->data;
  if (count_header(c, len)) return fail(c, 414, "request target too long");
  if (loom_buf_append(&c->cur->raw, at, len) < 0) return fail(c, 503, "out of memory");
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  http_conn *c = p->data;
  http_req *r = c->cur;
  if (count_header(c, len + 4)) return fail(c, 431, "request headers too large");
  if (c->headers_done) return 0;
  if (c->seg != SEG_FIELD) {
    if (r->n_hdrs == r->hoff_cap) {
      size_t cap = r->hoff_cap ? r->hoff_cap * 2 : 16;
      size_t(*h)[2] = loom_realloc(r->hoff, cap * sizeof *h);
      if (!h) return fail(c, 503, "out of memory");
      r->hoff = h;
      r->hoff_cap = cap;
    }
    if (loom_buf_append_u8(&r->raw, 0) < 0) return fail(c, 503, "out of memory");
    r->hoff[r->n_hdrs][0] = r->raw.len;
    r->hoff[r->n_hdrs][1] = NO_VALUE;
    r->n_hdrs++;
    c->seg = SEG_FIELD;
  }
  if (loom_buf_append(&r->raw, at, len) < 0) return fail(c, 503, "out of memory");
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  http_conn *c = p->data;
  http_req *r = c->cur;
  if (count_header(c, len)) return fail(c, 431, "request headers too large");
  if (c->headers_done) return 0;
  if (c->seg != SEG_VALUE) {
    if (r->n_hdrs == 0) return fail(c, 400, "malformed header");
    if (loom_buf_append_u8(&r->raw, 0) < 0) return fail(c, 503, "out of memory");
    r->hoff[r->n_hdrs - 1][1] = r->raw.len;
    c->seg = SEG_VALUE;
  }
  if (loom_buf_append(&r->raw, at, len) < 0) return fail(c, 503, "out of memory");
  return 0;
}

static const char *find_header(const http_req *r, const char *name) {
  for (size_t i = 0; i < r->n_hdrs; i++)
    if (strcasecmp(r->hdrs[i].name, name) == 0) return r->hdrs[i].value;
  return NULL;
}

static int on_headers_complete(http_parser *p) {
  http_conn *c = p->data;
  http_req *r = c->cur;
  c->headers_done = 1;
  if (loom_buf_append_u8(&r->raw, 0) < 0) return fail(c, 503, "out of memory");
  if (r->n_hdrs) {
    r->hdrs = loom_malloc(r->n_hdrs * sizeof *r->hdrs);
    if (!r->hdrs) return fail(c, 503, "out of memory");
  }
  char *base = (char *)r->raw.data;
  for (size_t i = 0; i < r->n_hdrs; i++) {
    char *name = base + r->hoff[i][0];
    for (char *q = name; *q; q++) *q = (char)tolower((unsigned char)*q);
    char *value = r->hoff[i][1] == NO_VALUE ? base + r->raw.len - 1 : base + r->hoff[i][1];
    size_t vl = strlen(value);
    while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t')) value[--vl] = 0;
    r->hdrs[i].name = name;
    r->hdrs[i].value = value;
  }
  loom_free(r->hoff);
  r->hoff = NULL;
  r->hoff_cap = 0;
  r->method = p->method;
  r->http_major = p->http_major;
  r->http_minor = p->http_minor;
  if (r->http_major != 1) return fail(c, 505, "HTTP version not supported");

  int has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->lim.max_body_bytes)
    return fail(c, 413, "request body too large");
  const char *expect = find_header(r, "expect");
  if (expect) {
    if (strcasecmp(expect, "100-continue") != 0) return fail(c, 417, "unsupported expectation");
    if (r->http_minor >= 1 && has_body) {
      r->expect_continue = 1;
      c->want_continue = 1;
    }
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  http_conn *c = p->data;
  http_req *r = c->cur;
  if (len > c->lim.max_body_bytes - r->body.len) return fail(c, 413, "request body too large");
  if (loom_buf_append(&r->body, at, len) < 0) return fail(c, 503, "out of memory");
  return 0;
}

static int content_type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  if (!ct) return 0;
  while (*ct == ' ') ct++;
  return strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Decode target, body and parameters once the whole request is in. */
static int finish_request(http_conn *c, http_req *r) {
  const char *target = (const char *)r->raw.data;
  size_t target_len = r->raw.data ? strlen(target) : 0;
  http_url_parts u;
  if (http_url_split(target ? target : "", target_len, &u) < 0) return fail(c, 400, "invalid request target");
  r->path = loom_malloc(u.path_len + 1);
  r->query = loom_strndup(u.query ? u.query : "", u.query ? u.query_len : 0);
  if (!r->path || !r->query) return fail(c, 503, "out of memory");
  size_t dl;
  if (http_url_decode(u.path, u.path_len, 0, r->path, &dl) < 0)
    return fail(c, 400, "invalid percent-encoding in path");
  int rc = http_params_parse(&r->params, r->query, strlen(r->query));
  if (rc == LOOM_EINVAL) return fail(c, 400, "invalid percent-encoding in query string");
  if (rc < 0) return fail(c, 503, "out of memory");

  http_body_encoding enc;
  if (http_body_encoding_parse(find_header(r, "content-encoding"), &enc) < 0)
    return fail(c, 415, "unsupported content-encoding");
  if (enc != HTTP_BODY_IDENTITY) {
    loom_buf out;
    loom_buf_init(&out);
    rc = http_body_decode(enc, r->body.data, r->body.len, c->lim.max_body_bytes, &out);
    if (rc < 0) {
      loom_buf_deinit(&out);
      if (rc == LOOM_ERANGE) return fail(c, 413, "decompressed request body too large");
      if (rc == LOOM_ENOMEM) return fail(c, 503, "out of memory");
      return fail(c, 400, enc == HTTP_BODY_GZIP ? "invalid gzip request body"
                                                : "invalid deflate request body");
    }
    loom_buf_deinit(&r->body);
    r->body = out;
  }
  if (content_type_is(find_header(r, "content-type"), "application/x-www-form-urlencoded")) {
    rc = http_params_parse(&r->params, (const char *)r->body.data, r->body.len);
    if (rc == LOOM_EINVAL) return fail(c, 400, "invalid percent-encoding in form body");
    if (rc < 0) return fail(c, 503, "out of memory");
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  http_conn *c = p->data;
  http_req *r = c->cur;
  r->keep_alive = http_should_keep_alive(p) ? 1 : 0;
  r->upgrade = (p->flags & F_UPGRADE) || r->method == HTTP_CONNECT ? 1 : 0;
  if (r->upgrade) r->keep_alive = 0;
  if (finish_request(c, r)) return 1;
  c->cur = NULL;
  c->done = r;
  http_parser_pause(p, 1); /* hand out one request at a time */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* --- public --- */

int http_conn_new(const http_conn_limits *lim, http_conn **out) {
  http_conn *c = loom_calloc(1, sizeof *c);
  if (!c) return LOOM_ENOMEM;
  if (lim) c->lim = *lim;
  if (!c->lim.max_body_bytes) c->lim.max_body_bytes = DEFAULT_MAX_BODY;
  if (!c->lim.max_header_bytes) c->lim.max_header_bytes = DEFAULT_MAX_HEADER;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  *out = c;
  return 0;
}

void http_conn_free(http_conn *c) {
  if (!c) return;
  http_req_destroy(c->cur);
  http_req_destroy(c->done);
  loom_free(c);
}

static void parser_failed(http_conn *c) {
  switch (HTTP_PARSER_ERRNO(&c->parser)) {
  case HPE_HEADER_OVERFLOW: fail(c, 431, "request headers too large"); break;
  default: fail(c, 400, "malformed request"); break;
  }
}

int http_conn_feed(http_conn *c, const char *data, size_t len, size_t *consumed) {
  *consumed = 0;
  if (c->err_status) return HTTP_FEED_ERROR;
  if (c->done) return HTTP_FEED_REQUEST; /* the caller must take it first */
  if (len == 0) return HTTP_FEED_MORE;
  if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) http_parser_pause(&c->parser, 0);
  c->want_continue = 0;
  size_t n = http_parser_execute(&c->parser, &settings, data, len);
  *consumed = n;
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->err_status) return HTTP_FEED_ERROR;
  if (e == HPE_PAUSED) {
    if (c->done) return HTTP_FEED_REQUEST;
    http_parser_pause(&c->parser, 0);
  } else if (e != HPE_OK) {
    parser_failed(c);
    return HTTP_FEED_ERROR;
  }
  if (c->done) return HTTP_FEED_REQUEST;
  if (n < len) {
    /* http-parser stops early without an error after an Upgrade/CONNECT
     * message; anything else is unexpected. */
    fail(c, 400, "malformed request");
    return HTTP_FEED_ERROR;
  }
  return c->want_continue ? HTTP_FEED_CONTINUE : HTTP_FEED_MORE;
}

http_req *http_conn_take_request(http_conn *c) {
  http_req *r = c->done;
  c->done = NULL;
  return r;
}

int http_conn_error(const http_conn *c, const char **msg) {
  if (msg) *msg = c->err_msg ? c->err_msg : "";
  return c->err_status;
}

int http_conn_busy(const http_conn *c) { return c->cur != NULL || c->done != NULL; }

int http_conn_in_headers(const http_conn *c) { return c->cur != NULL && !c->headers_done; }

/* --- response heads --- */

int http_format_head(loom_buf *out, int http_minor, int status, long long date_unix_s,
                     const char *content_type, long long content_length, int chunked, int close,
                     const loom_buf *extra) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  size_t start = out->len;
  const char *reason = http_status_str((enum http_status)status);
  int rc = loom_buf_printf(out, "HTTP/1.%d %d %s\r\n", http_minor >= 1 ? 1 : 0, status, reason);
  struct tm tm;
  time_t t = (time_t)date_unix_s;
  if (rc == 0 && date_unix_s >= 0 && gmtime_r(&t, &tm))
    rc = loom_buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday % 7],
                         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
  if (rc == 0 && content_type) rc = loom_buf_printf(out, "Content-Type: %s\r\n", content_type);
  if (rc == 0 && content_length >= 0)
    rc = loom_buf_printf(out, "Content-Length: %lld\r\n", content_length);
  else if (rc == 0 && chunked)
    rc = loom_buf_append_str(out, "Transfer-Encoding: chunked\r\n");
  if (rc == 0 && extra && extra->len) rc = loom_buf_append(out, extra->data, extra->len);
  if (rc == 0)
    rc = loom_buf_append_str(out, close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
  if (rc < 0) out->len = start;
  return rc;
}
