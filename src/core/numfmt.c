/* SPDX-License-Identifier: Apache-2.0
 * The shortest round-tripping float formatter (see numfmt.h): candidate
 * digit strings from snprintf are checked by exact 128-bit integer
 * arithmetic instead of strtod.
 */
#include "core/numfmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef unsigned __int128 u128;

/* Is N * 10^-k (N of P digits) read back as m * 2^-s by strtod
 * (round half to even)? The halfway points to v's neighbours, scaled by
 * 2^(s+2), are 4m-2 (4m-1 when m is a power of two: the neighbour below is
 * half as far) and 4m+2. */
static bool round_trips(uint64_t N, int k, uint64_t m, int s, uint64_t p10k) {
  u128 x = (u128)N << (s + 2);
  uint64_t lo4 = m == (1ull << 52) ? 4 * m - 1 : 4 * m - 2, hi4 = 4 * m + 2;
  u128 lo = (u128)lo4 * p10k, hi = (u128)hi4 * p10k;
  (void)k;
  if (x > lo && x < hi) return true;
  return (x == lo || x == hi) && !(m & 1);
}

/* What snprintf("%.{14,15,16}e") + strtod below find, in exact integer
 * arithmetic, for 1e-3 <= av < 1e15 that are not integers: the digits of
 * the first of 15, 16, 17 significant digits (correctly rounded, half to
 * even) that reads back as av, trailing zeros removed, and the decimal
 * exponent of the first digit. false when av is outside that range. */
static bool exact_digits(double av, char *digits, size_t *nd, int *exp10) {
  if (!(av >= 1e-3 && av < 1e15)) return false;
  int e2;
  double fr = frexp(av, &e2); /* av = fr * 2^e2, fr in [0.5, 1) */
  uint64_t m = (uint64_t)ldexp(fr, 53);
  int s = 53 - e2; /* av = m * 2^-s */
  if (s <= 0 || s > 63) return false;
  static const uint64_t p10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
                                   1000000ull, 10000000ull, 100000000ull, 1000000000ull,
                                   10000000000ull, 100000000000ull, 1000000000000ull,
                                   10000000000000ull, 100000000000000ull, 1000000000000000ull,
                                   10000000000000000ull, 100000000000000000ull,
                                   1000000000000000000ull, 10000000000000000000ull};
  int lg = (int)floor(log10(av)); /* may be off by one: fixed below */
  for (int P = 15; P <= 17; P++) {
    int k = P - 1 - lg;
    uint64_t N = 0;
    for (int tries = 0; tries < 3; tries++) {
      if (k < 0 || k > 19) return false;
      u128 num = (u128)m * p10[k];
      u128 q = num >> s;
      if (q >= p10[P]) {
        k--;
        continue;
      }
      if (q < p10[P - 1]) {
        k++;
        continue;
      }
      u128 rem = num & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
      N = (uint64_t)q;
      if (rem > half || (rem == half && (N & 1))) N++;
      break;
    }
    if (!N) return false;
    if (N == p10[P]) N = p10[P - 1], k--;
    if (k < 0 || k > 19) return false;
    if (P < 17 && !round_trips(N, k, m, s, p10[k])) continue;
    char d[24];
    int n = 0;
    for (uint64_t x = N; x; x /= 10) d[n++] = (char)('0' + x % 10);
    while (n > 1 && d[0] == '0') { /* trailing zeros of the number */
      memmove(d, d + 1, (size_t)--n);
    }
    for (int i = 0; i < n; i++) digits[i] = d[n - 1 - i];
    *nd = (size_t)n;
    *exp10 = P - 1 - k;
    return true;
  }
  return false;
}

int loom_format_float(double v, loom_buf *out) {
  if (isnan(v) || isinf(v)) return loom_buf_append_str(out, "null");
  if (v == 0) return loom_buf_append_str(out, signbit(v) ? "-0" : "0");
  /* Fast path for decimals with few fraction digits (sensor data): the
   * smallest k for which round(|v|*10^k) / 10^k == |v| gives the shortest
   * digits; the quotient of two exact doubles is correctly rounded, exactly
   * as strtod would read the decimal back. */
  static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
  double av = fabs(v);
  if (av >= 1e-6 && av < 1e15) {
    for (int k = 0; k <= 8; k++) {
      double x = av * p10[k];
      if (x >= 9e15) break;
      double r = nearbyint(x);
      if (r / p10[k] != av) continue;
      char d[24], res[48];
      int nd = snprintf(d, sizeof d, "%llu", (unsigned long long)r);
      size_t rl = 0;
      if (v < 0) res[rl++] = '-';
      if (nd <= k) {
        res[rl++] = '0';
        res[rl++] = '.';
        for (int z = 0; z < k - nd; z++) res[rl++] = '0';
        memcpy(res + rl, d, (size_t)nd);
        rl += (size_t)nd;
      } else {
        memcpy(res + rl, d, (size_t)(nd - k));
        rl += (size_t)(nd - k);
        if (k) {
          res[rl++] = '.';
          memcpy(res + rl, d + nd - k, (size_t)k);
          rl += (size_t)k;
        }
      }
      return loom_buf_append(out, res, rl);
    }
  }
  char digits[24];
  size_t nd = 0;
  bool neg = v < 0;
  int exp10; /* value = d1.d2d3.. * 10^exp10 */
  if (!exact_digits(av, digits, &nd, &exp10)) {
    char tmp[40];
    int prec;
    /* 15 significant digits always hold the shortest form when it has at
     * most 15 digits (DBL_DIG), trailing zeros aside; else try 16, then 17 */
    for (prec = fabs(v) < 2.2250738585072014e-308 ? 0 : 14; prec < 16; prec++) {
      snprintf(tmp, sizeof tmp, "%.*e", prec, v);
      if (strtod(tmp, NULL) == v) break;
    }
    if (prec == 16) snprintf(tmp, sizeof tmp, "%.16e", v);
    /* tmp: [-]d[.ddd]e[+-]XX */
    const char *p = tmp;
    if (*p == '-') p++;
    while (*p && *p != 'e') {
      if (*p != '.') digits[nd++] = *p;
      p++;
    }
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
  }
  char res[64];
  size_t rl = 0;
  if (neg) res[rl++] = '-';
  double a = fabs(v);
  if (a < 1e-6 || a >= 1e21) {
    res[rl++] = digits[0];
    if (nd > 1) {
      res[rl++] = '.';
      for (size_t i = 1; i < nd; i++) res[rl++] = digits[i];
    }
    rl += (size_t)snprintf(res + rl, sizeof res - rl, "e%c%02d", exp10 < 0 ? '-' : '+',
                           abs(exp10));
    /* Go's encoding/json turns e-07 into e-7 */
    if (rl >= 4 && res[rl - 4] == 'e' && res[rl - 3] == '-' && res[rl - 2] == '0') {
      res[rl - 2] = res[rl - 1];
      rl--;
    }
  } else if (exp10 < 0) {
    res[rl++] = '0';
    res[rl++] = '.';
    for (int i = 0; i < -exp10 - 1; i++) res[rl++] = '0';
    for (size_t i = 0; i < nd; i++) res[rl++] = digits[i];
  } else {
    for (int i = 0; i <= exp10; i++) res[rl++] = (size_t)i < nd ? digits[i] : '0';
    if (nd > (size_t)exp10 + 1) {
      res[rl++] = '.';
      for (size_t i = (size_t)exp10 + 1; i < nd; i++) res[rl++] = digits[i];
    }
  }
  return loom_buf_append(out, res, rl);
}
