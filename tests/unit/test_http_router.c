/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for http/router: exact and prefix matches, table order, HEAD
 * via GET, 404 and 405 answers (with Allow), on detached requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/router.h"

static void h_write(http_req *req, void *user) {
  *(int *)user = 1;
  http_respond(req, 204, NULL, NULL, 0);
}
static void h_query(http_req *req, void *user) {
  *(int *)user = 2;
  http_respond(req, 200, "application/json", "{}", 2);
}
static void h_handles(http_req *req, void *user) {
  *(int *)user = 3;
  http_respond(req, 200, NULL, NULL, 0);
}
static void h_any(http_req *req, void *user) {
  *(int *)user = 4;
  http_respond(req, 200, NULL, NULL, 0);
}

static const http_route routes[] = {
    {HTTP_M_POST, "/write", h_write},
    {HTTP_M_GET | HTTP_M_POST, "/query", h_query},
    {HTTP_M_GET, "/api/handles/*", h_handles},
    {HTTP_M_DELETE, "/api/handles/*", h_any},
    {HTTP_M_ANY, "/static/*", h_any},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static void test_match_exact_and_prefix(void **state) {
  (void)state;
  size_t i;
  unsigned allow;
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_POST, "/write", &i, &allow), 0);
  assert_int_equal(i, 0);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_GET, "/api/handles/10.1/abc", &i, &allow), 0);
  assert_int_equal(i, 2);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_GET, "/api/handles", &i, &allow), 0);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_DELETE, "/api/handles/x", &i, &allow), 0);
  assert_int_equal(i, 3);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_GET, "/api/handlesX", &i, &allow), LOOM_ENOTFOUND);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_POST, "/write/", &i, &allow), LOOM_ENOTFOUND);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_OTHER, "/static/a.js", &i, &allow), 0);
}

static void test_head_uses_get_routes(void **state) {
  (void)state;
  size_t i;
  unsigned allow;
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_HEAD, "/query", &i, &allow), 0);
  assert_int_equal(i, 1);
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_HEAD, "/write", &i, &allow), LOOM_EUNSUP);
}

static void test_405_allow_union(void **state) {
  (void)state;
  size_t i;
  unsigned allow = 0;
  assert_int_equal(http_router_match(routes, N_ROUTES, HTTP_M_PUT, "/api/handles/x", &i, &allow), LOOM_EUNSUP);
  assert_int_equal(allow, HTTP_M_GET | HTTP_M_HEAD | HTTP_M_DELETE);
  char buf[64];
  http_router_allow_format(allow, buf, sizeof buf);
  assert_string_equal(buf, "GET, HEAD, DELETE");
  assert_int_equal(http_router_allow_format(allow, buf, 6), 3);
  assert_string_equal(buf, "GET");
}

static void test_dispatch_calls_handler(void **state) {
  (void)state;
  http_req *r;
  const char *raw = "GET /query?db=x HTTP/1.1\r\n\r\n";
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &r), 0);
  int hit = 0;
  assert_int_equal(http_router_dispatch(routes, N_ROUTES, r, &hit), 0);
  assert_int_equal(hit, 2);
  size_t n;
  const uint8_t *out = http_req_output(r, &n);
  assert_true(n > 12 && memcmp(out, "HTTP/1.1 200", 12) == 0);
  http_req_free(r);
}

static void test_dispatch_404(void **state) {
  (void)state;
  http_req *r;
  const char *raw = "GET /nope HTTP/1.1\r\n\r\n";
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &r), 0);
  int hit = 0;
  assert_int_equal(http_router_dispatch(routes, N_ROUTES, r, &hit), LOOM_ENOTFOUND);
  assert_int_equal(hit, 0);
  size_t n;
  const uint8_t *out = http_req_output(r, &n);
  const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 22\r\n"
                     "Connection: keep-alive\r\n\r\n{\"error\":\"not found\"}\n";
  assert_int_equal(n, strlen(want));
  assert_memory_equal(out, want, n);
  http_req_free(r);
}

static void test_dispatch_405(void **state) {
  (void)state;
  http_req *r;
  const char *raw = "GET /write HTTP/1.1\r\n\r\n";
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &r), 0);
  int hit = 0;
  assert_int_equal(http_router_dispatch(routes, N_ROUTES, r, &hit), LOOM_EUNSUP);
  assert_int_equal(hit, 0);
  size_t n;
  const char *out = (const char *)http_req_output(r, &n);
  assert_true(n > 30 && memcmp(out, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
  assert_non_null(strstr(out, "\r\nAllow: POST\r\n"));
  http_req_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match_exact_and_prefix),
      cmocka_unit_test(test_head_uses_get_routes),
      cmocka_unit_test(test_405_allow_union),
      cmocka_unit_test(test_dispatch_calls_handler),
      cmocka_unit_test(test_dispatch_404),
      cmocka_unit_test(test_dispatch_405),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
