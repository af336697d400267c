/* SPDX-License-Identifier: Apache-2.0
 * Float column codec (layout in enc_float.h). Encoding: find each value's
 * smallest decimal exponent, pick the block exponent that minimises an
 * estimate of mantissa bits plus exception bytes, convert to int64
 * mantissas and hand them to the integer codec. When more than 1/8 of the
 * values are exceptions, Gorilla XOR and raw are tried too and the smallest
 * encoding wins. Decoding divides by the exact double 10^e.
 */
#include "ts/enc_float.h"

#include <math.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "ts/enc_int.h"

enum { MODE_DECIMAL = 0, MODE_GORILLA = 1, MODE_RAW = 2 };

#define MAX_EXP 18
#define NO_EXP 0xff
/* Values sampled to decide whether a block is decimal at all. */
#define SAMPLE 32

/* Exact doubles 10^0 .. 10^18 (all exactly representable). */
static const double pow10_tab[MAX_EXP + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                              1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                              1e14, 1e15, 1e16, 1e17, 1e18};

static uint64_t dbits(double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  return u;
}

static double dfrom(uint64_t u) {
  double v;
  memcpy(&v, &u, 8);
  return v;
}

/* Does v round-trip as k / 10^e with |k| < 2^53? Sets *k when it does. */
static int dec_try(double v, unsigned e, int64_t *k) {
  double s = v * pow10_tab[e];
  double a = fabs(s);
  if (!(a < 9007199254740992.0)) return 0; /* also rejects NaN and Inf */
  double r;
  if (a < 2251799813685248.0) /* 2^51: round to nearest by the 1.5*2^52 trick */
    r = (s + 6755399441055744.0) - 6755399441055744.0;
  else
    r = round(s);
  int64_t kk = (int64_t)r;
  if (dbits((double)kk / pow10_tab[e]) != dbits(v)) return 0;
  *k = kk;
  return 1;
}

/* Smallest exponent at which v round-trips, or NO_EXP. `hint` (a previous
 * value's result) is tried first: sensor data keeps its number of decimals,
 * so most values cost two tries instead of up to 19. The result feeds only
 * the exponent choice; enc_decimal() verifies every value at the chosen e. */
static uint8_t dec_min_exp(double v, uint8_t hint) {
  int64_t k;
  if (hint != NO_EXP && dec_try(v, hint, &k)) {
    unsigned e = hint;
    while (e > 0 && dec_try(v, e - 1, &k)) e--;
    return (uint8_t)e;
  }
  for (unsigned e = 0; e <= MAX_EXP; e++)
    if (dec_try(v, e, &k)) return (uint8_t)e;
  return NO_EXP;
}

/* Decimal encoding at exponent e; mine[] holds each value's smallest
 * exponent, k[] is scratch. Returns the exception count through *n_exc. */
static int enc_decimal(const double *v, uint32_t n, unsigned e, const uint8_t *mine,
                       int64_t *k, loom_buf *out, uint32_t *n_exc) {
  uint32_t exc = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (mine[i] > e || !dec_try(v[i], e, &k[i])) {
      k[i] = INT64_MIN; /* marker; replaced by a filler below */
      exc++;
    }
  }
  *n_exc = exc;
  int64_t fill = 0;
  for (uint32_t i = 0; i < n; i++)
    if (k[i] != INT64_MIN) {
      fill = k[i];
      break;
    }
  size_t start = out->len;
  if (loom_buf_append_u8(out, MODE_DECIMAL) || loom_buf_append_u8(out, (uint8_t)e) ||
      loom_buf_append_uvarint(out, exc) || loom_buf_reserve(out, (size_t)exc * 13))
    goto fail;
  uint32_t prev = 0;
  int have_prev = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (k[i] == INT64_MIN) {
      loom_buf_append_uvarint(out, have_prev ? i - prev - 1 : i);
      loom_buf_append_u64(out, dbits(v[i]));
      prev = i;
      have_prev = 1;
      k[i] = fill;
    } else {
      fill = k[i];
    }
  }
  if (ts_enc_int_encode((const uint64_t *)k, n, 1, out)) goto fail;
  return 0;
fail:
  out->len = start;
  return LOOM_ENOMEM;
}

static int enc_gorilla(const double *v, uint32_t n, loom_buf *out) {
  /* Worst case per value: 2 control bits + 12 window bits + 64 bits. */
  size_t max = 1 + ((size_t)n * 78 + 64) / 8 + 8;
  if (loom_buf_reserve(out, max)) return LOOM_ENOMEM;
  out->data[out->len++] = MODE_GORILLA;
  ts_bitw bw;
  ts_bitw_init(&bw, out->data + out->len);
  uint64_t prev = dbits(v[0]);
  ts_bitw_put(&bw, prev, 64);
  unsigned lead = 64, trail = 64; /* no window yet */
  for (uint32_t i = 1; i < n; i++) {
    uint64_t cur = dbits(v[i]);
    uint64_t x = cur ^ prev;
    prev = cur;
    if (!x) {
      ts_bitw_put(&bw, 0, 1);
      continue;
    }
    unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
    if (lead < 64 && l >= lead && t >= trail) {
      unsigned len = 64 - lead - trail;
      ts_bitw_put(&bw, 1, 2); /* 1 then control 0 */
      ts_bitw_put(&bw, x >> trail, len);
    } else {
      unsigned len = 64 - l - t;
      ts_bitw_put(&bw, 3, 2); /* 1 then control 1 */
      ts_bitw_put(&bw, l | (uint64_t)(len - 1) << 6, 12);
      ts_bitw_put(&bw, x >> t, len);
      lead = l;
      trail = t;
    }
  }
  out->len = (size_t)(ts_bitw_finish(&bw) - out->data);
  return 0;
}

static int enc_raw(const double *v, uint32_t n, loom_buf *out) {
  if (loom_buf_reserve(out, 1 + (size_t)n * 8)) return LOOM_ENOMEM;
  out->data[out->len++] = MODE_RAW;
  for (uint32_t i = 0; i < n; i++) {
    loom_put_le64(out->data + out->len, dbits(v[i]));
    out->len += 8;
  }
  return 0;
}

/* Pick the exponent minimising ~3.32 mantissa bits per value per decimal
 * digit plus ~80 bits per exception. hist[e] counts values whose smallest
 * exponent is e. Returns NO_EXP when no value is a decimal. */
static unsigned pick_exp(const uint32_t *hist, uint32_t n) {
  unsigned best = NO_EXP;
  double best_cost = 0;
  uint32_t cum = 0;
  for (unsigned e = 0; e <= MAX_EXP; e++) {
    cum += hist[e];
    if (!hist[e]) continue;
    double cost = 3.33 * e * n + 80.0 * (n - cum);
    if (best == NO_EXP || cost < best_cost) {
      best = e;
      best_cost = cost;
    }
  }
  return best;
}

int ts_enc_float_encode(const double *v, uint32_t n, loom_buf *out) {
  size_t start = out->len;
  int rc = LOOM_ENOMEM;
  loom_buf alt;
  loom_buf_init(&alt);
  /* Scratch: n int64 mantissas, then n smallest exponents. */
  int64_t *k = loom_malloc((size_t)n * (sizeof(int64_t) + 1));
  if (!k) goto out;
  uint8_t *mine = (uint8_t *)(k + n);

  /* A sample first: when most values are not decimals, skip the full
   * exponent search (it would try all 19 exponents on each value). */
  uint32_t step = n > SAMPLE ? n / SAMPLE : 1, sampled = 0, not_dec = 0;
  uint8_t hint = NO_EXP;
  for (uint32_t i = 0; i < n; i += step, sampled++) {
    uint8_t m = dec_min_exp(v[i], hint);
    if (m == NO_EXP)
      not_dec++;
    else
      hint = m;
  }
  unsigned e = NO_EXP;
  if (not_dec * 2 <= sampled) {
    uint32_t hist[MAX_EXP + 1] = {0};
    for (uint32_t i = 0; i < n; i++) {
      mine[i] = dec_min_exp(v[i], hint);
      if (mine[i] != NO_EXP) {
        hint = mine[i];
        hist[mine[i]]++;
      }
    }
    e = pick_exp(hist, n);
  }
  uint32_t n_exc = n;
  size_t dec_len = SIZE_MAX;
  if (e != NO_EXP) {
    if (enc_decimal(v, n, e, mine, k, out, &n_exc)) goto out;
    dec_len = out->len - start;
  }
  if (n_exc > n / 8) {
    /* Many exceptions: keep the smallest of decimal, Gorilla and raw. */
    size_t raw_len = 1 + (size_t)n * 8;
    if (enc_gorilla(v, n, &alt)) goto out;
    if (alt.len < dec_len && alt.len <= raw_len) {
      out->len = start;
      if (loom_buf_append(out, alt.data, alt.len)) goto out;
    } else if (raw_len < dec_len && raw_len < alt.len) {
      out->len = start;
      if (enc_raw(v, n, out)) goto out;
    }
  }
  rc = 0;
out:
  if (rc) out->len = start;
  loom_buf_deinit(&alt);
  loom_free(k);
  return rc;
}

static int dec_decimal(const uint8_t *p, size_t len, uint32_t n, double *out) {
  loom_rd r;
  loom_rd_init(&r, p, len);
  uint8_t e;
  uint64_t n_exc;
  if (loom_rd_u8(&r, &e) || e > MAX_EXP || loom_rd_uvarint(&r, &n_exc) || n_exc > n)
    return LOOM_ECORRUPT;
  /* Validate the exception list, remember where it starts. */
  loom_rd exc = r;
  uint64_t pos = 0;
  for (uint64_t j = 0; j < n_exc; j++) {
    uint64_t gap, raw;
    if (loom_rd_uvarint(&r, &gap) || gap >= n) return LOOM_ECORRUPT;
    pos = j ? pos + gap + 1 : gap;
    if (pos >= n || loom_rd_u64(&r, &raw)) return LOOM_ECORRUPT;
  }
  ts_int_rd rd;
  if (ts_int_rd_init(&rd, r.p, r.len, n, 1)) return LOOM_ECORRUPT;
  const double p10 = pow10_tab[e];
  uint64_t chunk[256];
  for (uint32_t i = 0; i < n; i += 256) {
    uint32_t c = n - i < 256 ? n - i : 256;
    ts_int_rd_next(&rd, chunk, c);
    for (uint32_t j = 0; j < c; j++) out[i + j] = (double)(int64_t)chunk[j] / p10;
  }
  for (uint64_t j = 0; j < n_exc; j++) {
    uint64_t gap, raw;
    loom_rd_uvarint(&exc, &gap);
    loom_rd_u64(&exc, &raw);
    pos = j ? pos + gap + 1 : gap;
    out[pos] = dfrom(raw);
  }
  return 0;
}

static int dec_gorilla(const uint8_t *p, size_t len, uint32_t n, double *out) {
  uint64_t bits = (uint64_t)len * 8, pos = 0;
  if (bits < 64) return LOOM_ECORRUPT;
  uint64_t prev = ts_bits_get(p, len, 0, 64);
  pos = 64;
  out[0] = dfrom(prev);
  unsigned lead = 64, trail = 64;
  for (uint32_t i = 1; i < n; i++) {
    if (pos + 1 > bits) return LOOM_ECORRUPT;
    if (!ts_bits_get(p, len, pos++, 1)) {
      out[i] = dfrom(prev);
      continue;
    }
    if (pos + 1 > bits) return LOOM_ECORRUPT;
    if (ts_bits_get(p, len, pos++, 1)) {
      if (pos + 12 > bits) return LOOM_ECORRUPT;
      uint64_t win = ts_bits_get(p, len, pos, 12);
      pos += 12;
      unsigned l = (unsigned)(win & 63), ln = (unsigned)(win >> 6) + 1;
      if (l + ln > 64) return LOOM_ECORRUPT;
      lead = l;
      trail = 64 - l - ln;
    } else if (lead == 64) {
      return LOOM_ECORRUPT; /* reuse before any window */
    }
    unsigned ln = 64 - lead - trail;
    if (pos + ln > bits) return LOOM_ECORRUPT;
    uint64_t x = ts_bits_get(p, len, pos, ln) << trail;
    pos += ln;
    prev ^= x;
    out[i] = dfrom(prev);
  }
  return (pos + 7) / 8 == len ? 0 : LOOM_ECORRUPT;
}

int ts_enc_float_decode(const uint8_t *p, size_t len, uint32_t n, double *out) {
  if (n == 0 || len < 1) return LOOM_ECORRUPT;
  switch (p[0]) {
  case MODE_DECIMAL: return dec_decimal(p + 1, len - 1, n, out);
  case MODE_GORILLA: return dec_gorilla(p + 1, len - 1, n, out);
  case MODE_RAW:
    if (len - 1 != (size_t)n * 8) return LOOM_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) out[i] = dfrom(loom_le64(p + 1 + (size_t)i * 8));
    return 0;
  }
  return LOOM_ECORRUPT;
}
