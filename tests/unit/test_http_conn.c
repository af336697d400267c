/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for http/conn: the socket-free request parser. One request,
 * pipelining, every split point, chunked bodies, limits (413/431/414), bad
 * syntax, Expect: 100-continue, gzip bodies, form parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/conn.h"

static http_conn *new_conn(size_t max_body, size_t max_header) {
  http_conn_limits lim = {max_body, max_header};
  http_conn *c = NULL;
  assert_int_equal(http_conn_new(&lim, &c), 0);
  return c;
}

/* Feed all of s; expect exactly one request and return it. */
static http_req *parse_one(http_conn *c, const char *s, size_t len) {
  size_t used;
  assert_int_equal(http_conn_feed(c, s, len, &used), HTTP_FEED_REQUEST);
  assert_int_equal(used, len);
  http_req *r = http_conn_take_request(c);
  assert_non_null(r);
  return r;
}

/* Feed s expecting an error; return the status. */
static int parse_error(http_conn *c, const char *s, size_t len) {
  size_t used;
  assert_int_equal(http_conn_feed(c, s, len, &used), HTTP_FEED_ERROR);
  const char *msg;
  return http_conn_error(c, &msg);
}

static void test_one_request(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  const char *s = "GET /api/x%20y?db=mydb&q=SELECT+1 HTTP/1.1\r\nHost: h\r\nX-Token: abc  \r\n"
                  "Authorization: Token t\r\n\r\n";
  http_req *r = parse_one(c, s, strlen(s));
  assert_string_equal(http_req_method(r), "GET");
  assert_int_equal(http_req_method_bit(r), HTTP_M_GET);
  assert_string_equal(http_req_path(r), "/api/x y");
  assert_string_equal(http_req_query(r), "db=mydb&q=SELECT+1");
  assert_string_equal(http_req_target(r), "/api/x%20y?db=mydb&q=SELECT+1");
  assert_string_equal(http_req_param(r, "db"), "mydb");
  assert_string_equal(http_req_param(r, "q"), "SELECT 1");
  assert_string_equal(http_req_header(r, "AUTHORIZATION"), "Token t");
  assert_string_equal(http_req_header(r, "x-token"), "abc");
  assert_null(http_req_header(r, "cookie"));
  assert_int_equal(http_req_header_count(r), 3);
  const char *n, *v;
  assert_int_equal(http_req_header_at(r, 1, &n, &v), 0);
  assert_string_equal(n, "x-token");
  assert_int_equal(http_req_header_at(r, 3, &n, &v), LOOM_ERANGE);
  assert_int_equal(http_req_http_minor(r), 1);
  assert_true(r->keep_alive);
  size_t bl;
  http_req_body(r, &bl);
  assert_int_equal(bl, 0);
  assert_false(http_conn_busy(c));
  http_req_free(r);
  http_conn_free(c);
}

static void test_empty_header_value(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  const char *s = "GET / HTTP/1.1\r\nX-Empty:\r\nX-Next: 1\r\n\r\n";
  http_req *r = parse_one(c, s, strlen(s));
  assert_string_equal(http_req_header(r, "x-empty"), "");
  assert_string_equal(http_req_header(r, "x-next"), "1");
  http_req_free(r);
  http_conn_free(c);
}

static void test_pipelined_requests(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  const char *s = "POST /write?db=a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /two HTTP/1.1\r\n\r\n"
                  "GET /three HTTP/1.1\r\nConnection: close\r\n\r\n";
  size_t len = strlen(s), off = 0, used;
  assert_int_equal(http_conn_feed(c, s, len, &used), HTTP_FEED_REQUEST);
  off += used;
  http_req *r = http_conn_take_request(c);
  size_t bl;
  const uint8_t *b = http_req_body(r, &bl);
  assert_int_equal(bl, 5);
  assert_memory_equal(b, "hello", 5);
  assert_string_equal(http_req_path(r), "/write");
  http_req_free(r);
  /* feeding again without taking would return REQUEST immediately */
  assert_int_equal(http_conn_feed(c, s + off, len - off, &used), HTTP_FEED_REQUEST);
  off += used;
  r = http_conn_take_request(c);
  assert_string_equal(http_req_path(r), "/two");
  assert_true(r->keep_alive);
  http_req_free(r);
  assert_int_equal(http_conn_feed(c, s + off, len - off, &used), HTTP_FEED_REQUEST);
  off += used;
  assert_int_equal(off, len);
  r = http_conn_take_request(c);
  assert_string_equal(http_req_path(r), "/three");
  assert_false(r->keep_alive);
  http_req_free(r);
  http_conn_free(c);
}

/* Feed data in two pieces split at `split`, collecting request paths+bodies
 * into out as "path:body;" entries. */
static void feed_split(const char *s, size_t len, size_t split, char *out, size_t cap) {
  http_conn *c = new_conn(0, 0);
  out[0] = 0;
  size_t bounds[3] = {0, split, len};
  for (int part = 0; part < 2; part++) {
    const char *p = s + bounds[part];
    size_t n = bounds[part + 1] - bounds[part];
    while (n > 0) {
      size_t used;
      int ev = http_conn_feed(c, p, n, &used);
      assert_true(ev == HTTP_FEED_MORE || ev == HTTP_FEED_REQUEST || ev == HTTP_FEED_CONTINUE);
      p += used;
      n -= used;
      if (ev == HTTP_FEED_REQUEST) {
        http_req *r = http_conn_take_request(c);
        size_t bl;
        const uint8_t *b = http_req_body(r, &bl);
        size_t o = strlen(out);
        snprintf(out + o, cap - o, "%s %s %s:%.*s;", http_req_method(r), http_req_path(r),
                 http_req_param(r, "k") ? http_req_param(r, "k") : "-", (int)bl, (const char *)b);
        http_req_free(r);
      } else {
        assert_int_equal(n, 0);
      }
    }
  }
  http_conn_free(c);
}

static void test_split_at_every_byte(void **state) {
  (void)state;
  const char *s = "POST /a?k=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
                  "PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                  "4\r\nk=ab\r\n3;ext=1\r\n%20\r\n0\r\nTrailer: t\r\n\r\n"
                  "GET /c%2Fd HTTP/1.0\r\n\r\n";
  size_t len = strlen(s);
  char want[512], got[512];
  feed_split(s, len, len, want, sizeof want);
  assert_string_equal(want, "POST /a 1:hello world;PUT /b ab :k=ab%20;GET /c/d -:;");
  for (size_t i = 0; i <= len; i++) {
    feed_split(s, len, i, got, sizeof got);
    assert_string_equal(got, want);
  }
}

static void test_byte_by_byte(void **state) {
  (void)state;
  const char *s = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /y HTTP/1.1\r\n\r\n";
  http_conn *c = new_conn(0, 0);
  int n_req = 0;
  for (size_t i = 0; i < strlen(s); i++) {
    size_t used;
    int ev = http_conn_feed(c, s + i, 1, &used);
    assert_int_equal(used, 1);
    if (ev == HTTP_FEED_REQUEST) {
      http_req_free(http_conn_take_request(c));
      n_req++;
    } else {
      assert_int_equal(ev, HTTP_FEED_MORE);
      assert_true(http_conn_busy(c));
    }
  }
  assert_int_equal(n_req, 2);
  assert_false(http_conn_busy(c));
  http_conn_free(c);
}

static void test_body_over_limit_content_length(void **state) {
  (void)state;
  http_conn *c = new_conn(10, 0);
  const char *s = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
  assert_int_equal(parse_error(c, s, strlen(s)), 413);
  size_t used;
  assert_int_equal(http_conn_feed(c, "more", 4, &used), HTTP_FEED_ERROR);
  assert_int_equal(used, 0);
  http_conn_free(c);
  c = new_conn(10, 0);
  s = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
  http_req_free(parse_one(c, s, strlen(s)));
  http_conn_free(c);
}

static void test_body_over_limit_chunked(void **state) {
  (void)state;
  http_conn *c = new_conn(10, 0);
  const char *s = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n";
  assert_int_equal(parse_error(c, s, strlen(s)), 413);
  http_conn_free(c);
}

static void test_header_over_limit(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 1024);
  char s[4096];
  int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nX-Big: ");
  memset(s + n, 'a', 1100);
  memcpy(s + n + 1100, "\r\n\r\n", 5);
  assert_int_equal(parse_error(c, s, strlen(s)), 431);
  http_conn_free(c);
  /* many small headers add up too */
  c = new_conn(0, 1024);
  n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < 200; i++) n += snprintf(s + n, sizeof s - (size_t)n, "H%d: v\r\n", i);
  snprintf(s + n, sizeof s - (size_t)n, "\r\n");
  assert_int_equal(parse_error(c, s, strlen(s)), 431);
  http_conn_free(c);
}

static void test_default_header_limit_is_64k(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  size_t cap = 70 * 1024;
  char *s = loom_malloc(cap);
  int n = snprintf(s, cap, "GET / HTTP/1.1\r\nX-Big: ");
  memset(s + n, 'a', 66 * 1024);
  memcpy(s + n + 66 * 1024, "\r\n\r\n", 5);
  assert_int_equal(parse_error(c, s, strlen(s)), 431);
  loom_free(s);
  http_conn_free(c);
}

static void test_target_over_limit(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 256);
  char s[1024];
  memcpy(s, "GET /", 5);
  memset(s + 5, 'a', 400);
  strcpy(s + 405, " HTTP/1.1\r\n\r\n");
  assert_int_equal(parse_error(c, s, strlen(s)), 414);
  http_conn_free(c);
}

static void test_bad_syntax(void **state) {
  (void)state;
  const char *bad[] = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "\x01\x02\x03\xff",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET /%zz HTTP/1.1\r\n\r\n",
      "GET /?a=%G0 HTTP/1.1\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_conn *c = new_conn(0, 0);
    assert_int_equal(parse_error(c, bad[i], strlen(bad[i])), 400);
    const char *msg = NULL;
    http_conn_error(c, &msg);
    assert_true(strlen(msg) > 0);
    http_conn_free(c);
  }
}

static void test_expect_continue(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  const char *h = "POST /w HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
  size_t used;
  assert_int_equal(http_conn_feed(c, h, strlen(h), &used), HTTP_FEED_CONTINUE);
  assert_int_equal(used, strlen(h));
  http_req *r = parse_one(c, "abc", 3);
  assert_true(r->expect_continue);
  http_req_free(r);
  /* body already in the same bytes: the request arrives directly */
  const char *all = "POST /w HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nxyz";
  http_req_free(parse_one(c, all, strlen(all)));
  /* too large: 413 instead of 100 */
  http_conn_free(c);
  c = new_conn(2, 0);
  assert_int_equal(parse_error(c, h, strlen(h)), 413);
  http_conn_free(c);
  /* an unknown expectation is refused */
  c = new_conn(0, 0);
  const char *odd = "POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: magic\r\n\r\n";
  assert_int_equal(parse_error(c, odd, strlen(odd)), 417);
  http_conn_free(c);
}

static size_t gzip_bytes(const char *text, uint8_t *out, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = (Bytef *)(uintptr_t)text;
  zs.avail_in = (uInt)strlen(text);
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  deflate(&zs, Z_FINISH);
  size_t n = cap - zs.avail_out;
  deflateEnd(&zs);
  return n;
}

static void test_gzip_body(void **state) {
  (void)state;
  uint8_t z[256];
  size_t zn = gzip_bytes("m,t=1 v=2 3\n", z, sizeof z);
  char s[512];
  int n = snprintf(s, sizeof s, "POST /write HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
  memcpy(s + n, z, zn);
  http_conn *c = new_conn(0, 0);
  http_req *r = parse_one(c, s, (size_t)n + zn);
  size_t bl;
  const uint8_t *b = http_req_body(r, &bl);
  assert_int_equal(bl, 12);
  assert_memory_equal(b, "m,t=1 v=2 3\n", 12);
  http_req_free(r);
  http_conn_free(c);
}

static void test_gzip_body_bad_or_too_big(void **state) {
  (void)state;
  const char *s = "POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope";
  http_conn *c = new_conn(0, 0);
  assert_int_equal(parse_error(c, s, strlen(s)), 400);
  const char *msg;
  http_conn_error(c, &msg);
  assert_string_equal(msg, "invalid gzip request body");
  http_conn_free(c);
  uint8_t z[256];
  size_t zn = gzip_bytes("0123456789012345678901234567890123456789", z, sizeof z);
  char b[512];
  int n = snprintf(b, sizeof b, "POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
  memcpy(b + n, z, zn);
  c = new_conn(30, 0); /* compressed fits, decompressed (40) does not */
  assert_int_equal(parse_error(c, b, (size_t)n + zn), 413);
  http_conn_free(c);
  s = "POST / HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx";
  c = new_conn(0, 0);
  assert_int_equal(parse_error(c, s, strlen(s)), 415);
  http_conn_free(c);
}

static void test_form_body_params(void **state) {
  (void)state;
  const char *s = "POST /query?db=fromquery HTTP/1.1\r\n"
                  "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                  "Content-Length: 35\r\n\r\nq=SELECT+mean(v)+FROM+m&db=fromform";
  http_conn *c = new_conn(0, 0);
  http_req *r = parse_one(c, s, strlen(s));
  assert_string_equal(http_req_param(r, "q"), "SELECT mean(v) FROM m");
  assert_string_equal(http_req_param(r, "db"), "fromquery");
  http_req_free(r);
  /* other content types are not parsed as forms */
  s = "POST /q HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nq=1";
  r = parse_one(c, s, strlen(s));
  assert_null(http_req_param(r, "q"));
  http_req_free(r);
  http_conn_free(c);
}

static void test_http10_and_head(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  const char *s = "HEAD /h HTTP/1.0\r\n\r\n";
  http_req *r = parse_one(c, s, strlen(s));
  assert_int_equal(http_req_method_bit(r), HTTP_M_HEAD);
  assert_int_equal(http_req_http_minor(r), 0);
  assert_false(r->keep_alive);
  http_req_free(r);
  http_conn_free(c);
  c = new_conn(0, 0);
  s = "GET /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  r = parse_one(c, s, strlen(s));
  assert_true(r->keep_alive);
  http_req_free(r);
  http_conn_free(c);
}

static void test_upgrade_request_closes(void **state) {
  (void)state;
  http_conn *c = new_conn(0, 0);
  const char *s = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  http_req *r = parse_one(c, s, strlen(s));
  assert_true(r->upgrade);
  assert_false(r->keep_alive);
  http_req_free(r);
  http_conn_free(c);
}

static void test_out_of_memory_is_503(void **state) {
  (void)state;
  const char *s = "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n";
  /* fail each allocation in turn: always a clean 503, never a crash or leak */
  for (long k = 0; k < 20; k++) {
    http_conn *c = new_conn(0, 0);
    size_t used;
    loom_mem_fail_after(k);
    int ev = http_conn_feed(c, s, strlen(s), &used);
    loom_mem_fail_after(-1);
    if (ev == HTTP_FEED_REQUEST) {
      http_req_free(http_conn_take_request(c));
    } else {
      assert_int_equal(ev, HTTP_FEED_ERROR);
      const char *msg;
      assert_int_equal(http_conn_error(c, &msg), 503);
    }
    http_conn_free(c);
  }
}

static void test_partial_request_freed_with_conn(void **state) {
  (void)state;
  size_t before = loom_mem_used();
  http_conn *c = new_conn(0, 0);
  const char *s = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial";
  size_t used;
  assert_int_equal(http_conn_feed(c, s, strlen(s), &used), HTTP_FEED_MORE);
  assert_true(http_conn_busy(c));
  http_conn_free(c);
  assert_int_equal(loom_mem_used(), before);
}

static void test_format_head(void **state) {
  (void)state;
  loom_buf b;
  loom_buf_init(&b);
  loom_buf extra;
  loom_buf_init(&extra);
  loom_buf_append_str(&extra, "X-A: 1\r\n");
  assert_int_equal(http_format_head(&b, 1, 200, 784111777, "text/plain", 5, 0, 0, &extra), 0);
  loom_buf_cstr(&b);
  assert_string_equal((char *)b.data, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                      "Content-Type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\n"
                                      "Connection: keep-alive\r\n\r\n");
  loom_buf_reset(&b);
  assert_int_equal(http_format_head(&b, 0, 503, -1, NULL, -1, 1, 1, NULL), 0);
  loom_buf_cstr(&b);
  assert_string_equal((char *)b.data, "HTTP/1.0 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n"
                                      "Connection: close\r\n\r\n");
  loom_buf_deinit(&b);
  loom_buf_deinit(&extra);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_request),
      cmocka_unit_test(test_empty_header_value),
      cmocka_unit_test(test_pipelined_requests),
      cmocka_unit_test(test_split_at_every_byte),
      cmocka_unit_test(test_byte_by_byte),
      cmocka_unit_test(test_body_over_limit_content_length),
      cmocka_unit_test(test_body_over_limit_chunked),
      cmocka_unit_test(test_header_over_limit),
      cmocka_unit_test(test_default_header_limit_is_64k),
      cmocka_unit_test(test_target_over_limit),
      cmocka_unit_test(test_bad_syntax),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_gzip_body),
      cmocka_unit_test(test_gzip_body_bad_or_too_big),
      cmocka_unit_test(test_form_body_params),
      cmocka_unit_test(test_http10_and_head),
      cmocka_unit_test(test_upgrade_request_closes),
      cmocka_unit_test(test_out_of_memory_is_503),
      cmocka_unit_test(test_partial_request_freed_with_conn),
      cmocka_unit_test(test_format_head),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
