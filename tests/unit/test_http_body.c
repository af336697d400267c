/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for http/body: Content-Encoding parsing and gzip/deflate
 * decoding with size limits (including a decompression bomb).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/body.h"

/* Compress with zlib: window_bits 31 = gzip, 15 = zlib, -15 = raw deflate. */
static size_t compress_with(int window_bits, const void *in, size_t len, uint8_t *out, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t n = cap - zs.avail_out;
  deflateEnd(&zs);
  return n;
}

static void test_encoding_names(void **state) {
  (void)state;
  http_body_encoding e;
  assert_int_equal(http_body_encoding_parse(NULL, &e), 0);
  assert_int_equal(e, HTTP_BODY_IDENTITY);
  assert_int_equal(http_body_encoding_parse(" GZip ", &e), 0);
  assert_int_equal(e, HTTP_BODY_GZIP);
  assert_int_equal(http_body_encoding_parse("x-gzip", &e), 0);
  assert_int_equal(e, HTTP_BODY_GZIP);
  assert_int_equal(http_body_encoding_parse("deflate", &e), 0);
  assert_int_equal(e, HTTP_BODY_DEFLATE);
  assert_int_equal(http_body_encoding_parse("identity", &e), 0);
  assert_int_equal(e, HTTP_BODY_IDENTITY);
  assert_int_equal(http_body_encoding_parse("br", &e), LOOM_EUNSUP);
  assert_int_equal(http_body_encoding_parse("gzip, gzip", &e), LOOM_EUNSUP);
}

static void test_gzip_roundtrip(void **state) {
  (void)state;
  const char *text = "cpu,host=a usage=1.5 1700000000000000000\ncpu,host=b usage=2 1700000000000000000\n";
  uint8_t z[512];
  size_t zn = compress_with(31, text, strlen(text), z, sizeof z);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, zn, 1 << 20, &out), 0);
  assert_int_equal(out.len, strlen(text));
  assert_memory_equal(out.data, text, out.len);
  loom_buf_deinit(&out);
}

static void test_gzip_concatenated_members(void **state) {
  (void)state;
  uint8_t z[256];
  size_t n1 = compress_with(31, "hello ", 6, z, sizeof z);
  size_t n2 = compress_with(31, "world", 5, z + n1, sizeof z - n1);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, n1 + n2, 100, &out), 0);
  assert_int_equal(out.len, 11);
  assert_memory_equal(out.data, "hello world", 11);
  loom_buf_deinit(&out);
}

static void test_deflate_zlib_and_raw(void **state) {
  (void)state;
  uint8_t z[256];
  loom_buf out;
  loom_buf_init(&out);
  size_t zn = compress_with(15, "zlib-wrapped", 12, z, sizeof z);
  assert_int_equal(http_body_decode(HTTP_BODY_DEFLATE, z, zn, 100, &out), 0);
  assert_memory_equal(out.data, "zlib-wrapped", 12);
  loom_buf_reset(&out);
  zn = compress_with(-15, "raw deflate!", 12, z, sizeof z);
  assert_int_equal(http_body_decode(HTTP_BODY_DEFLATE, z, zn, 100, &out), 0);
  assert_int_equal(out.len, 12);
  assert_memory_equal(out.data, "raw deflate!", 12);
  loom_buf_deinit(&out);
}

static void test_limit_exact_and_over(void **state) {
  (void)state;
  char text[1000];
  memset(text, 'x', sizeof text);
  uint8_t z[256];
  size_t zn = compress_with(31, text, sizeof text, z, sizeof z);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, zn, 1000, &out), 0);
  assert_int_equal(out.len, 1000);
  loom_buf_reset(&out);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, zn, 999, &out), LOOM_ERANGE);
  assert_int_equal(out.len, 0);
  assert_int_equal(http_body_decode(HTTP_BODY_IDENTITY, (const uint8_t *)text, 1000, 999, &out), LOOM_ERANGE);
  loom_buf_deinit(&out);
}

static void test_bomb_stops_early(void **state) {
  (void)state;
  /* 64 MiB of zeros compress to ~64 KiB; a 1 MiB cap must stop the decoder
   * without allocating anywhere near 64 MiB. */
  size_t big = (size_t)64 << 20;
  uint8_t *zeros = calloc(1, big);
  size_t cap = big / 500;
  uint8_t *z = malloc(cap);
  assert_non_null(zeros);
  assert_non_null(z);
  size_t zn = compress_with(31, zeros, big, z, cap);
  free(zeros);
  loom_buf out;
  loom_buf_init(&out);
  size_t before = loom_mem_used();
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, zn, (size_t)1 << 20, &out), LOOM_ERANGE);
  assert_true(out.cap < ((size_t)4 << 20));
  assert_true(loom_mem_used() - before < ((size_t)4 << 20));
  loom_buf_deinit(&out);
  free(z);
}

static void test_corrupt_and_truncated(void **state) {
  (void)state;
  uint8_t z[256];
  size_t zn = compress_with(31, "some text to compress", 21, z, sizeof z);
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, zn - 5, 100, &out), LOOM_ECORRUPT);
  assert_int_equal(out.len, 0);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, (const uint8_t *)"not gzip at all", 15, 100, &out),
                   LOOM_ECORRUPT);
  z[zn] = 'x'; /* trailing garbage after the member */
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, z, zn + 1, 100, &out), LOOM_ECORRUPT);
  assert_int_equal(http_body_decode(HTTP_BODY_DEFLATE, (const uint8_t *)"\xff\xff\xff", 3, 100, &out),
                   LOOM_ECORRUPT);
  loom_buf_deinit(&out);
}

static void test_empty_input(void **state) {
  (void)state;
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(http_body_decode(HTTP_BODY_GZIP, NULL, 0, 10, &out), 0);
  assert_int_equal(out.len, 0);
  loom_buf_deinit(&out);
}

static void test_out_of_memory(void **state) {
  (void)state;
  uint8_t z[256];
  size_t zn = compress_with(31, "abc", 3, z, sizeof z);
  loom_buf out;
  loom_buf_init(&out);
  loom_mem_fail_after(0);
  int rc = http_body_decode(HTTP_BODY_GZIP, z, zn, 100, &out);
  loom_mem_fail_after(-1);
  assert_int_equal(rc, LOOM_ENOMEM);
  loom_buf_deinit(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encoding_names),
      cmocka_unit_test(test_gzip_roundtrip),
      cmocka_unit_test(test_gzip_concatenated_members),
      cmocka_unit_test(test_deflate_zlib_and_raw),
      cmocka_unit_test(test_limit_exact_and_over),
      cmocka_unit_test(test_bomb_stops_early),
      cmocka_unit_test(test_corrupt_and_truncated),
      cmocka_unit_test(test_empty_input),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
