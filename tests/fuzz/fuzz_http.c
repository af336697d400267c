/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the HTTP request-parsing layer (http/conn.c): the
 * input is a client byte stream, fed in pieces whose sizes come from the
 * first byte, with small limits so the 413/431 paths run too. Each request
 * produced is answered through the detached response path (http/req.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/conn.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h_ok(http_req *req, void *user) {
  (void)user;
  size_t n;
  const uint8_t *b = http_req_body(req, &n);
  http_req_add_header(req, "X-Db", http_req_param(req, "db") ? http_req_param(req, "db") : "-");
  http_respond(req, 200, "text/plain", b, n);
}

static void h_stream(http_req *req, void *user) {
  (void)user;
  const char *auth = http_req_header(req, "authorization");
  http_respond_start(req, 200, "application/json");
  if (auth) http_respond_chunk(req, auth, strlen(auth));
  http_respond_chunk(req, http_req_query(req), strlen(http_req_query(req)));
  http_respond_end(req);
}

static const http_route routes[] = {
    {HTTP_M_POST | HTTP_M_PUT, "/write", h_ok},
    {HTTP_M_GET, "/query/*", h_stream},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)(data[0] % 32) + 1; /* piece size */
  http_conn_limits lim = {data[0] & 0x80 ? 256 : 0, data[0] & 0x40 ? 200 : 0};
  data++;
  size--;
  http_conn *c;
  if (http_conn_new(&lim, &c) < 0) return 0;
  size_t off = 0;
  while (off < size) {
    size_t n = size - off < step ? size - off : step;
    size_t used = 0;
    int ev = http_conn_feed(c, (const char *)data + off, n, &used);
    if (used > n) __builtin_trap();
    off += used;
    if (ev == HTTP_FEED_REQUEST) {
      http_req *r = http_conn_take_request(c);
      http_router_dispatch(routes, sizeof routes / sizeof routes[0], r, NULL);
      size_t out_len;
      http_req_output(r, &out_len);
      http_req_free(r);
    } else if (ev == HTTP_FEED_ERROR) {
      const char *msg;
      if (http_conn_error(c, &msg) < 400) __builtin_trap();
      break;
    } else if (used != n) {
      __builtin_trap(); /* MORE/CONTINUE must consume everything */
    }
  }
  http_conn_free(c);
  return 0;
}
