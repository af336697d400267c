/* SPDX-License-Identifier: Apache-2.0
 * Unit tests of the ts column codecs on hand-made bytes: each decoder must
 * reject malformed columns (bad modes, lengths, positions, runs, indices,
 * decompression-bomb claims) with LOOM_ECORRUPT, and accept the minimal
 * well-formed columns the layouts in the enc_*.h headers describe.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "core/err.h"
#include "ts/enc_bool.h"
#include "ts/enc_float.h"
#include "ts/enc_int.h"
#include "ts/enc_str.h"
#include "ts/enc_time.h"

/* ---- timestamps ------------------------------------------------------ */

static void test_time_hand_made_delta_for(void **state) {
  (void)state;
  /* ts0 = 100, delta-FOR, dmin = 10, w = 0: 100, 110, 120. */
  uint8_t col[] = {100, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0};
  int64_t out[3];
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 3, out), 0);
  assert_int_equal(out[0], 100);
  assert_int_equal(out[1], 110);
  assert_int_equal(out[2], 120);
}

static void test_time_rejects_zero_delta(void **state) {
  (void)state;
  uint8_t col[] = {100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* dmin = 0: not increasing */
  int64_t out[3];
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 3, out), LOOM_ECORRUPT);
}

static void test_time_rejects_overflowing_delta(void **state) {
  (void)state;
  /* ts0 = INT64_MAX - 1, delta 2 wraps to INT64_MIN: not increasing. */
  uint8_t col[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 2, 0};
  int64_t out[2];
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 2, out), LOOM_ECORRUPT);
}

static void test_time_rejects_long_rle_run(void **state) {
  (void)state;
  /* dod-RLE, d1 = 1, then a zero run of 5 where only 2 dods remain. */
  uint8_t col[] = {0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 5};
  int64_t out[4];
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 4, out), LOOM_ECORRUPT);
  col[10] = 2; /* exact run: valid */
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 4, out), 0);
  assert_int_equal(out[3], 3);
}

static void test_time_rejects_bad_mode_and_width(void **state) {
  (void)state;
  uint8_t col[] = {0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0};
  int64_t out[3];
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 3, out), LOOM_ECORRUPT);
  col[8] = 0;
  col[10] = 65; /* width over 64 */
  assert_int_equal(ts_enc_time_decode(col, sizeof(col), 3, out), LOOM_ECORRUPT);
  /* n = 1 with extra bytes */
  assert_int_equal(ts_enc_time_decode(col, 9, 1, out), LOOM_ECORRUPT);
  assert_int_equal(ts_enc_time_decode(col, 8, 1, out), 0);
}

/* ---- integers -------------------------------------------------------- */

static void test_int_rejects_bad_columns(void **state) {
  (void)state;
  uint64_t out[4];
  uint8_t bad_mode[] = {2, 0, 0};
  assert_int_equal(ts_enc_int_decode(bad_mode, sizeof(bad_mode), 4, 1, out), LOOM_ECORRUPT);
  uint8_t wide[] = {0, 0, 65};
  assert_int_equal(ts_enc_int_decode(wide, sizeof(wide), 4, 1, out), LOOM_ECORRUPT);
  uint8_t short_bits[] = {0, 0, 8, 1, 2, 3}; /* 4 values of 8 bits need 4 bytes */
  assert_int_equal(ts_enc_int_decode(short_bits, sizeof(short_bits), 4, 1, out), LOOM_ECORRUPT);
  uint8_t ok[] = {0, 0, 8, 1, 2, 3, 4};
  assert_int_equal(ts_enc_int_decode(ok, sizeof(ok), 4, 1, out), 0);
  assert_int_equal(out[3], 4);
}

static void test_int_streaming_reader_chunks(void **state) {
  (void)state;
  enum { N = 1000 };
  uint64_t v[N], got[N];
  for (int i = 0; i < N; i++) v[i] = (uint64_t)(i * i) - 12345; /* delta-FOR */
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(ts_enc_int_encode(v, N, 1, &b), 0);
  assert_int_equal(b.data[0], 1);
  ts_int_rd rd;
  assert_int_equal(ts_int_rd_init(&rd, b.data, b.len, N, 1), 0);
  for (uint32_t i = 0; i < N;) {
    uint32_t c = (i % 7) + 1;
    if (c > N - i) c = N - i;
    ts_int_rd_next(&rd, got + i, c);
    i += c;
  }
  assert_memory_equal(v, got, sizeof(v));
  loom_buf_deinit(&b);
}

/* ---- floats ---------------------------------------------------------- */

static void test_float_rejects_bad_exceptions(void **state) {
  (void)state;
  double out[2];
  /* decimal, e = 1, 1 exception at position 2 (n = 2), then an int column. */
  uint8_t col[] = {0, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0, 0, 0};
  assert_int_equal(ts_enc_float_decode(col, sizeof(col), 2, out), LOOM_ECORRUPT);
  col[3] = 1; /* position 1: valid */
  assert_int_equal(ts_enc_float_decode(col, sizeof(col), 2, out), 0);
  assert_true(out[0] == 0.0);
  assert_true(isnan(out[1]));
  col[1] = 19; /* exponent out of range */
  assert_int_equal(ts_enc_float_decode(col, sizeof(col), 2, out), LOOM_ECORRUPT);
}

static void test_float_decimal_divides_exactly(void **state) {
  (void)state;
  /* decimal, e = 5, no exceptions, FOR base 5234513 (zz varint), w = 0.
   * 5234513 * (1 / 1e5) is one ulp off 52.34513; the division is exact. */
  loom_buf b;
  loom_buf_init(&b);
  uint8_t hdr[] = {0, 5, 0, 0};
  assert_int_equal(loom_buf_append(&b, hdr, sizeof(hdr)), 0);
  assert_int_equal(loom_buf_append_svarint(&b, 5234513), 0);
  assert_int_equal(loom_buf_append_u8(&b, 0), 0);
  double out[3];
  assert_int_equal(ts_enc_float_decode(b.data, b.len, 3, out), 0);
  assert_true(out[2] == 52.34513);
  loom_buf_deinit(&b);
}

static void test_float_rejects_bad_gorilla(void **state) {
  (void)state;
  double out[2];
  /* 64 bits of value 0, then bits "1 0": reuse before any window. */
  uint8_t col[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  assert_int_equal(ts_enc_float_decode(col, sizeof(col), 2, out), LOOM_ECORRUPT);
  /* bits "0": repeat; valid with the padding byte. */
  col[9] = 0;
  assert_int_equal(ts_enc_float_decode(col, sizeof(col), 2, out), 0);
  /* stream too short for 3 values' window */
  uint8_t col2[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0x03};
  assert_int_equal(ts_enc_float_decode(col2, sizeof(col2), 2, out), LOOM_ECORRUPT);
}

static void test_float_rejects_raw_length(void **state) {
  (void)state;
  double out[2];
  uint8_t col[17] = {2};
  assert_int_equal(ts_enc_float_decode(col, 17, 2, out), 0);
  assert_int_equal(ts_enc_float_decode(col, 16, 2, out), LOOM_ECORRUPT);
  col[0] = 3;
  assert_int_equal(ts_enc_float_decode(col, 17, 2, out), LOOM_ECORRUPT);
}

/* ---- booleans -------------------------------------------------------- */

static void test_bool_rejects_bad_columns(void **state) {
  (void)state;
  uint8_t out[9];
  uint8_t c2[] = {1, 2};
  assert_int_equal(ts_enc_bool_decode(c2, 2, 9, out), LOOM_ECORRUPT);
  uint8_t bits[] = {0, 0xff};
  assert_int_equal(ts_enc_bool_decode(bits, 2, 9, out), LOOM_ECORRUPT); /* needs 2 bytes */
  assert_int_equal(ts_enc_bool_decode(bits, 2, 8, out), 0);
  assert_int_equal(out[7], 1);
}

/* ---- strings --------------------------------------------------------- */

static void test_str_rejects_bad_columns(void **state) {
  (void)state;
  ts_str out[2];
  loom_buf sb;
  loom_buf_init(&sb);
  /* ndict 2, raw, raw_len 4: lens 1,1 + "ab", indices w = 1: 0b10. */
  uint8_t ok[] = {2, 0, 4, 1, 1, 'a', 'b', 0x02};
  assert_int_equal(ts_enc_str_decode(ok, sizeof(ok), 2, out, &sb), 0);
  assert_int_equal(out[0].len, 1);
  assert_int_equal(out[0].p[0], 'a');
  assert_int_equal(out[1].p[0], 'b');
  assert_int_equal(sb.len, 2);
  uint8_t ndict_gt_n[] = {3, 0, 4, 1, 1, 'a', 'b', 0x02};
  assert_int_equal(ts_enc_str_decode(ndict_gt_n, sizeof(ndict_gt_n), 2, out, &sb), LOOM_ECORRUPT);
  uint8_t lens_bad[] = {2, 0, 4, 1, 2, 'a', 'b', 0x02};
  assert_int_equal(ts_enc_str_decode(lens_bad, sizeof(lens_bad), 2, out, &sb), LOOM_ECORRUPT);
  assert_int_equal(sb.len, 2); /* unchanged on error */
  /* 3 entries, w = 2, an index of 3 */
  uint8_t idx_bad[] = {3, 0, 6, 1, 1, 1, 'a', 'b', 'c', 0x0f};
  assert_int_equal(ts_enc_str_decode(idx_bad, sizeof(idx_bad), 2, out, &sb), LOOM_ECORRUPT);
  loom_buf_deinit(&sb);
}

static void test_str_rejects_zstd_bomb_claim(void **state) {
  (void)state;
  /* A real 1 MiB all-zero dictionary frame is small, but the column claims
   * a size the frame does not hold. */
  static uint8_t raw[1 << 20];
  uint8_t z[256];
  size_t zn = ZSTD_compress(z, sizeof(z), raw, sizeof(raw), 1);
  assert_false(ZSTD_isError(zn));
  loom_buf col, sb;
  loom_buf_init(&col);
  loom_buf_init(&sb);
  assert_int_equal(loom_buf_append_uvarint(&col, 1), 0);
  assert_int_equal(loom_buf_append_u8(&col, 1), 0);
  assert_int_equal(loom_buf_append_uvarint(&col, UINT32_C(1) << 29), 0); /* lie */
  assert_int_equal(loom_buf_append_uvarint(&col, zn), 0);
  assert_int_equal(loom_buf_append(&col, z, zn), 0);
  ts_str out[1];
  assert_int_equal(ts_enc_str_decode(col.data, col.len, 1, out, &sb), LOOM_ECORRUPT);
  assert_int_equal(sb.len, 0);
  loom_buf_deinit(&sb);
  loom_buf_deinit(&col);
}

/* 10 s data with missing points: the deltas share a divisor, so they pack in
 * a bit or two per point (ns deltas of 10^10 would need 35 bits). */
static void test_time_gcd_packs_gappy_regular_data(void **state) {
  (void)state;
  int64_t ts[1000], out[1000];
  int64_t t = 1451606400000000000LL;
  uint64_t x = 12345;
  for (int i = 0; i < 1000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    t += (int64_t)(1 + (x >> 62 == 0)) * 10000000000LL; /* a quarter of the steps skip one */
    ts[i] = t;
  }
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(ts_enc_time_encode(ts, 1000, &b), 0);
  assert_true(b.len < 1000 / 8 + 32);
  assert_int_equal(ts_enc_time_decode(b.data, b.len, 1000, out), 0);
  assert_memory_equal(ts, out, sizeof ts);
  /* a corrupt divisor of 1 is refused */
  uint8_t bad[64] = {0};
  memcpy(bad, b.data, 9);
  bad[8] = 3;  /* mode 3 */
  bad[9] = 1;  /* g = 1 */
  assert_int_equal(ts_enc_time_decode(bad, 12, 3, out), LOOM_ECORRUPT);
  loom_buf_deinit(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time_hand_made_delta_for),
      cmocka_unit_test(test_time_gcd_packs_gappy_regular_data),
      cmocka_unit_test(test_time_rejects_zero_delta),
      cmocka_unit_test(test_time_rejects_overflowing_delta),
      cmocka_unit_test(test_time_rejects_long_rle_run),
      cmocka_unit_test(test_time_rejects_bad_mode_and_width),
      cmocka_unit_test(test_int_rejects_bad_columns),
      cmocka_unit_test(test_int_streaming_reader_chunks),
      cmocka_unit_test(test_float_rejects_bad_exceptions),
      cmocka_unit_test(test_float_decimal_divides_exactly),
      cmocka_unit_test(test_float_rejects_bad_gorilla),
      cmocka_unit_test(test_float_rejects_raw_length),
      cmocka_unit_test(test_bool_rejects_bad_columns),
      cmocka_unit_test(test_str_rejects_bad_columns),
      cmocka_unit_test(test_str_rejects_zstd_bomb_claim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
