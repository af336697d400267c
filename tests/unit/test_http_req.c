/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for http/req: response bytes for whole, HEAD, 204, streamed
 * (chunked and HTTP/1.0 close-delimited) and error responses, response
 * headers, state errors; checked on detached requests (no sockets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/server.h"

static http_req *req_of(const char *raw) {
  http_req *r = NULL;
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &r), 0);
  return r;
}

static void assert_output(const http_req *r, const char *want) {
  size_t n;
  const uint8_t *out = http_req_output(r, &n);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(out, want, n);
}

static void test_respond_whole(void **state) {
  (void)state;
  http_req *r = req_of("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  assert_int_equal(http_req_add_header(r, "X-Influxdb-Version", "1.8.10"), 0);
  assert_int_equal(http_respond(r, 200, "text/plain", "hello", 5), 0);
  assert_output(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                   "X-Influxdb-Version: 1.8.10\r\nConnection: keep-alive\r\n\r\nhello");
  http_req_free(r);
}

static void test_respond_close_when_client_asks(void **state) {
  (void)state;
  http_req *r = req_of("GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_int_equal(http_respond(r, 404, NULL, NULL, 0), 0);
  assert_output(r, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  http_req_free(r);
  r = req_of("GET /x HTTP/1.0\r\n\r\n");
  assert_int_equal(http_respond(r, 200, NULL, "a", 1), 0);
  assert_output(r, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\na");
  http_req_free(r);
}

static void test_head_has_length_but_no_body(void **state) {
  (void)state;
  http_req *r = req_of("HEAD /x HTTP/1.1\r\n\r\n");
  assert_int_equal(http_respond(r, 200, "text/plain", "hello", 5), 0);
  assert_output(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                   "Connection: keep-alive\r\n\r\n");
  http_req_free(r);
}

static void test_204_has_no_length(void **state) {
  (void)state;
  http_req *r = req_of("POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  assert_int_equal(http_respond(r, 204, "text/plain", "ignored", 7), 0);
  assert_output(r, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  http_req_free(r);
}

static void test_respond_error_json(void **state) {
  (void)state;
  http_req *r = req_of("GET / HTTP/1.1\r\n\r\n");
  assert_int_equal(http_respond_error(r, 400, "bad \"db\""), 0);
  assert_output(r, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 23\r\n"
                   "Connection: keep-alive\r\n\r\n{\"error\":\"bad \\\"db\\\"\"}\n");
  http_req_free(r);
}

static void test_stream_chunked(void **state) {
  (void)state;
  http_req *r = req_of("GET /q HTTP/1.1\r\n\r\n");
  assert_int_equal(http_respond_start(r, 200, "application/json"), 0);
  assert_int_equal(http_respond_chunk(r, "{\"a\":1}", 7), 0);
  assert_int_equal(http_respond_chunk(r, "", 0), 0); /* ignored, not a terminator */
  assert_int_equal(http_respond_chunk(r, "0123456789abcdef", 16), 0);
  assert_int_equal(http_respond_end(r), 0);
  assert_output(r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: keep-alive\r\n\r\n7\r\n{\"a\":1}\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
  http_req_free(r);
}

static void test_stream_http10_close_delimited(void **state) {
  (void)state;
  http_req *r = req_of("GET /q HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert_int_equal(http_respond_start(r, 200, "text/csv"), 0);
  assert_int_equal(http_respond_chunk(r, "a,b\n", 4), 0);
  assert_int_equal(http_respond_end(r), 0);
  assert_output(r, "HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\na,b\n");
  http_req_free(r);
}

static void test_stream_head_drops_chunks(void **state) {
  (void)state;
  http_req *r = req_of("HEAD /q HTTP/1.1\r\n\r\n");
  assert_int_equal(http_respond_start(r, 200, "text/plain"), 0);
  assert_int_equal(http_respond_chunk(r, "abc", 3), 0);
  assert_int_equal(http_respond_end(r), 0);
  assert_output(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: keep-alive\r\n\r\n");
  http_req_free(r);
}

static void test_state_errors(void **state) {
  (void)state;
  http_req *r = req_of("GET / HTTP/1.1\r\n\r\n");
  assert_int_equal(http_respond_chunk(r, "x", 1), LOOM_ECLOSED);
  assert_int_equal(http_respond_end(r), LOOM_ECLOSED);
  assert_int_equal(http_respond(r, 99, NULL, NULL, 0), LOOM_EINVAL);
  assert_int_equal(http_respond(r, 600, NULL, NULL, 0), LOOM_EINVAL);
  assert_int_equal(http_respond(r, 200, NULL, NULL, 3), LOOM_EINVAL);
  assert_int_equal(http_respond(r, 200, NULL, NULL, 0), 0);
  assert_int_equal(http_respond(r, 200, NULL, NULL, 0), LOOM_ECLOSED);
  assert_int_equal(http_respond_start(r, 200, NULL), LOOM_ECLOSED);
  assert_int_equal(http_req_add_header(r, "X-Late", "1"), LOOM_ECLOSED);
  http_req_free(r);
}

static void test_add_header_rejects_injection(void **state) {
  (void)state;
  http_req *r = req_of("GET / HTTP/1.1\r\n\r\n");
  assert_int_equal(http_req_add_header(r, "X-A", "1\r\nSet-Cookie: x"), LOOM_EINVAL);
  assert_int_equal(http_req_add_header(r, "X-A\r\n", "1"), LOOM_EINVAL);
  assert_int_equal(http_req_add_header(r, "X:A", "1"), LOOM_EINVAL);
  assert_int_equal(http_req_add_header(r, "", "1"), LOOM_EINVAL);
  assert_int_equal(http_req_add_header(r, "Content-Length", "1"), LOOM_EINVAL);
  assert_int_equal(http_req_add_header(r, "connection", "close"), LOOM_EINVAL);
  assert_int_equal(http_respond(r, 200, NULL, NULL, 0), 0);
  assert_output(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  http_req_free(r);
}

static void test_out_of_memory_keeps_request_usable(void **state) {
  (void)state;
  http_req *r = req_of("GET / HTTP/1.1\r\n\r\n");
  loom_mem_fail_after(0);
  int rc = http_respond(r, 200, "text/plain", "abc", 3);
  loom_mem_fail_after(-1);
  assert_int_equal(rc, LOOM_ENOMEM);
  assert_int_equal(http_respond(r, 200, "text/plain", "abc", 3), 0);
  size_t n;
  http_req_output(r, &n);
  assert_true(n > 3);
  http_req_free(r);
}

static void test_from_bytes_needs_exactly_one_request(void **state) {
  (void)state;
  http_req *r = NULL;
  const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  assert_int_equal(http_req_from_bytes(two, strlen(two), &r), LOOM_EINVAL);
  const char *partial = "GET /a HTTP/1.1\r\n";
  assert_int_equal(http_req_from_bytes(partial, strlen(partial), &r), LOOM_EINVAL);
  assert_int_equal(http_req_from_bytes("nonsense", 8, &r), LOOM_EINVAL);
  assert_null(r);
}

static void test_user_slot_and_remote(void **state) {
  (void)state;
  http_req *r = req_of("GET / HTTP/1.1\r\n\r\n");
  int x;
  assert_null(http_req_user(r));
  http_req_set_user(r, &x);
  assert_ptr_equal(http_req_user(r), &x);
  assert_string_equal(http_req_remote(r), "");
  http_req_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_respond_whole),
      cmocka_unit_test(test_respond_close_when_client_asks),
      cmocka_unit_test(test_head_has_length_but_no_body),
      cmocka_unit_test(test_204_has_no_length),
      cmocka_unit_test(test_respond_error_json),
      cmocka_unit_test(test_stream_chunked),
      cmocka_unit_test(test_stream_http10_close_delimited),
      cmocka_unit_test(test_stream_head_drops_chunks),
      cmocka_unit_test(test_state_errors),
      cmocka_unit_test(test_add_header_rejects_injection),
      cmocka_unit_test(test_out_of_memory_keeps_request_usable),
      cmocka_unit_test(test_from_bytes_needs_exactly_one_request),
      cmocka_unit_test(test_user_slot_and_remote),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
