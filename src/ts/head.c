/* SPDX-License-Identifier: Apache-2.0
 * Head buffers (see head.h), kept encoded: each point is appended to one
 * byte stream per column, in arrival order, so a point of sensor data takes
 * 2-4 bytes instead of 16 (Prometheus' head keeps compressed chunks for the
 * same reason). Reads decode the stream; out-of-order and duplicate points
 * are sorted out then, as before.
 *
 * Stream format (memory only, never on disk), one record per point:
 *   timestamp  uvarint zigzag(dod), dod = (ts - prev_ts) - prev_delta, all
 *              wrapping int64 arithmetic; before the first point prev_ts and
 *              prev_delta are 0
 *   value, by type:
 *     TS_FLOAT   uvarint h. h even: same decimal exponent e as the previous
 *                value, mantissa m = prev_m + unzigzag(h >> 1). h odd, k = h >> 1:
 *                k <= 18: e = k, then svarint m (absolute); k == 19: 8 bytes,
 *                the IEEE-754 bits LE (no e/m state until the next k <= 18).
 *                The value is m / 10^e in double ((double)m when e = 0), only
 *                used when that gives back exactly the bits written.
 *     TS_INT, TS_UINT  uvarint zigzag(v - prev_v) (wrapping, as int64)
 *     TS_BOOL    u8 0 or 1
 *     TS_STRING  uvarint len, len bytes
 */
#include "ts/head.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

#define E_RAW 19
#define E_MAX 18
#define E_NONE 255

static const double P10[E_MAX + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                      1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

void ts_headbuf_init(ts_headbuf *h) {
  memset(h, 0, sizeof *h);
  h->sorted = true;
  h->last_e = E_NONE;
}

void ts_headbuf_init_like(ts_headbuf *h, const ts_headbuf *prev) {
  /* 3/4 of it: the engine flushes on capacity, so reserving a whole cycle
   * up front would flush ever earlier; this way one growth step is left. */
  uint32_t units = (uint32_t)((uint64_t)prev->len * 3 / 4 / 16) + 1;
  ts_headbuf_init(h);
  h->hint16 = (uint16_t)(units > UINT16_MAX ? UINT16_MAX : units);
}

int64_t ts_headbuf_min_ts(const ts_headbuf *h) { return h->n ? h->min_ts : 0; }
int64_t ts_headbuf_max_ts(const ts_headbuf *h) { return h->n ? h->max_ts : 0; }

void ts_headbuf_deinit(ts_headbuf *h) {
  loom_free_sized(h->buf, h->cap);
  ts_headbuf_init(h);
}

static inline uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static inline uint8_t *put_uv(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static inline const uint8_t *get_uv(const uint8_t *p, uint64_t *v) {
  uint64_t r = 0;
  for (int s = 0; s < 64; s += 7) {
    uint8_t b = *p++;
    r |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) break;
  }
  *v = r;
  return p;
}

/* m with m / 10^e == v exactly (bit for bit), trying `hint` first. */
static bool decimal_of(double v, uint8_t hint, uint8_t *e_out, int64_t *m_out) {
  if (!isfinite(v)) return false;
  for (int k = -1; k <= E_MAX; k++) {
    int e = k < 0 ? hint : k;
    if (e > E_MAX || (k >= 0 && e == hint)) continue;
    double x = v * P10[e];
    if (!(fabs(x) <= 9007199254740992.0)) {
      if (k >= 0) return false; /* larger e only grows x */
      continue;
    }
    int64_t m = (int64_t)nearbyint(x);
    double back = e ? (double)m / P10[e] : (double)m;
    if (memcmp(&back, &v, sizeof v) == 0) {
      *e_out = (uint8_t)e;
      *m_out = m;
      return true;
    }
  }
  return false;
}

int ts_headbuf_append(ts_headbuf *h, ts_type type, int64_t ts, const ts_value *v) {
  size_t need = 32 + (type == TS_STRING ? v->s.len : 0);
  int grown = 0;
  if (h->cap - h->len < need) {
    size_t cap = h->cap + h->cap / 2;
    if (cap < h->len + need) cap = h->len + need;
    if (cap < 48) cap = 48;
    if (!h->cap && cap < (size_t)h->hint16 * 16) cap = (size_t)h->hint16 * 16;
    if (cap > UINT32_MAX) return LOOM_ERANGE;
    uint8_t *nb = loom_realloc_sized(h->buf, h->cap, cap);
    if (!nb) return LOOM_ENOMEM;
    grown = (int)(cap - h->cap);
    h->buf = nb;
    h->cap = (uint32_t)cap;
  }
  ts_headbuf *st = h;
  uint8_t *p = h->buf + h->len;
  uint64_t delta = (uint64_t)ts - (uint64_t)st->last_ts;
  p = put_uv(p, zz((int64_t)(delta - (uint64_t)st->last_dts)));
  switch (type) {
  case TS_FLOAT: {
    uint8_t e;
    int64_t m;
    if (decimal_of(v->f, st->last_e, &e, &m)) {
      if (e == st->last_e) {
        p = put_uv(p, zz((int64_t)((uint64_t)m - st->last_v)) << 1);
      } else {
        p = put_uv(p, ((uint64_t)e << 1) | 1);
        p = put_uv(p, zz(m));
        st->last_e = e;
      }
      st->last_v = (uint64_t)m;
    } else {
      p = put_uv(p, ((uint64_t)E_RAW << 1) | 1);
      uint64_t bits;
      memcpy(&bits, &v->f, 8);
      for (int i = 0; i < 8; i++) *p++ = (uint8_t)(bits >> (8 * i));
      st->last_e = E_NONE;
    }
    break;
  }
  case TS_INT:
  case TS_UINT:
    p = put_uv(p, zz((int64_t)(v->u - st->last_v)));
    st->last_v = v->u;
    break;
  case TS_BOOL: *p++ = v->b ? 1 : 0; break;
  case TS_STRING:
    p = put_uv(p, v->s.len);
    if (v->s.len) memcpy(p, v->s.p, v->s.len);
    p += v->s.len;
    break;
  default: return LOOM_EINVAL;
  }
  h->len = (uint32_t)(p - h->buf);
  if (h->n == 0) {
    h->min_ts = h->max_ts = ts;
  } else {
    if (ts <= h->max_ts) h->sorted = false;
    if (ts < h->min_ts) h->min_ts = ts;
    if (ts > h->max_ts) h->max_ts = ts;
  }
  st->last_dts = (int64_t)delta;
  st->last_ts = ts;
  h->n++;
  return grown;
}

uint64_t ts_headbuf_bytes(const ts_headbuf *h, ts_type type) {
  (void)type;
  return h->cap;
}

int ts_headbuf_points(const ts_headbuf *h, ts_type type, int64_t **out_ts, void **out_vals) {
  *out_ts = NULL;
  *out_vals = NULL;
  if (!h->n) return 0;
  size_t es = ts_type_size(type);
  int64_t *ts = loom_malloc((size_t)h->n * sizeof *ts);
  uint8_t *vals = loom_malloc((size_t)h->n * es);
  if (!ts || !vals) {
    loom_free(ts);
    loom_free(vals);
    return LOOM_ENOMEM;
  }
  const uint8_t *p = h->buf;
  uint64_t last_ts = 0, last_dts = 0, last_v = 0, x;
  uint8_t last_e = E_NONE;
  for (uint32_t i = 0; i < h->n; i++) {
    p = get_uv(p, &x);
    uint64_t delta = last_dts + (uint64_t)unzz(x);
    last_ts += delta;
    last_dts = delta;
    ts[i] = (int64_t)last_ts;
    uint8_t *dst = vals + (size_t)i * es;
    switch (type) {
    case TS_FLOAT: {
      double d;
      p = get_uv(p, &x);
      if (!(x & 1)) {
        last_v += (uint64_t)unzz(x >> 1);
      } else if ((x >> 1) == E_RAW) {
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits |= (uint64_t)p[k] << (8 * k);
        p += 8;
        memcpy(&d, &bits, 8);
        memcpy(dst, &d, 8);
        last_e = E_NONE;
        break;
      } else {
        last_e = (uint8_t)(x >> 1);
        p = get_uv(p, &x);
        last_v = (uint64_t)unzz(x);
      }
      int64_t m = (int64_t)last_v;
      d = last_e ? (double)m / P10[last_e] : (double)m;
      memcpy(dst, &d, 8);
      break;
    }
    case TS_INT:
    case TS_UINT:
      p = get_uv(p, &x);
      last_v += (uint64_t)unzz(x);
      memcpy(dst, &last_v, 8);
      break;
    case TS_BOOL: *dst = *p++; break;
    case TS_STRING: {
      p = get_uv(p, &x);
      ts_str s = {x ? (const char *)p : "", (uint32_t)x};
      p += x;
      memcpy(dst, &s, sizeof s);
      break;
    }
    default: break;
    }
  }
  *out_ts = ts;
  *out_vals = vals;
  return 0;
}

/* Stable merge sort of an index permutation by timestamp. */
static void msort(uint32_t *idx, uint32_t *tmp, const int64_t *ts, uint32_t n) {
  if (n < 2) return;
  uint32_t h = n / 2;
  msort(idx, tmp, ts, h);
  msort(idx + h, tmp, ts, n - h);
  if (ts[idx[h - 1]] <= ts[idx[h]]) return;
  uint32_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = ts[idx[j]] < ts[idx[i]] ? idx[j++] : idx[i++];
  while (i < h) tmp[k++] = idx[i++];
  while (j < n) tmp[k++] = idx[j++];
  memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

uint32_t ts_points_sort_dedup(int64_t *ts, void *vals, uint32_t n, size_t es) {
  if (n < 2) return n;
  bool sorted = true;
  for (uint32_t i = 1; i < n && sorted; i++) sorted = ts[i] > ts[i - 1];
  if (sorted) return n;
  uint32_t *idx = loom_malloc((size_t)n * 2 * sizeof *idx);
  int64_t *nts = loom_malloc((size_t)n * sizeof *nts);
  uint8_t *nv = loom_malloc((size_t)n * es);
  if (!idx || !nts || !nv) {
    loom_free(idx);
    loom_free(nts);
    loom_free(nv);
    return (uint32_t)-1;
  }
  for (uint32_t i = 0; i < n; i++) idx[i] = i;
  msort(idx, idx + n, ts, n);
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t s = idx[i];
    if (m && nts[m - 1] == ts[s]) m--; /* equal timestamp: the later arrival wins */
    nts[m] = ts[s];
    memcpy(nv + (size_t)m * es, (uint8_t *)vals + (size_t)s * es, es);
    m++;
  }
  memcpy(ts, nts, (size_t)m * sizeof *ts);
  memcpy(vals, nv, (size_t)m * es);
  loom_free(idx);
  loom_free(nts);
  loom_free(nv);
  return m;
}

/* Replace h's contents by the n points ts/vals (whose strings may point into
 * h: the old stream is freed only at the end). */
static int rebuild(ts_headbuf *h, ts_type type, const int64_t *ts, const void *vals, uint32_t n) {
  ts_headbuf nh;
  ts_headbuf_init(&nh);
  for (uint32_t i = 0; i < n; i++) {
    ts_value v = ts_value_load(type, vals, i);
    int rc = ts_headbuf_append(&nh, type, ts[i], &v);
    if (rc < 0) {
      ts_headbuf_deinit(&nh);
      return rc;
    }
  }
  ts_headbuf_deinit(h);
  *h = nh;
  return 0;
}

int ts_headbuf_normalize(ts_headbuf *h, ts_type type) {
  if (h->sorted) return 0;
  int64_t *ts;
  void *vals;
  int rc = ts_headbuf_points(h, type, &ts, &vals);
  if (rc) return rc;
  uint32_t m = ts_points_sort_dedup(ts, vals, h->n, ts_type_size(type));
  rc = m == (uint32_t)-1 ? LOOM_ENOMEM : rebuild(h, type, ts, vals, m);
  loom_free(ts);
  loom_free(vals);
  return rc;
}

int ts_headbuf_range(const ts_headbuf *h, ts_type type, int64_t tmin, int64_t tmax,
                     int64_t **out_ts, void **out_vals, uint32_t *n_out) {
  *out_ts = NULL;
  *out_vals = NULL;
  *n_out = 0;
  if (!h->n || h->max_ts < tmin || h->min_ts > tmax) return 0;
  size_t es = ts_type_size(type);
  int64_t *ts;
  void *v;
  int rc = ts_headbuf_points(h, type, &ts, &v);
  if (rc) return rc;
  uint8_t *vals = v;
  uint32_t n = 0;
  for (uint32_t i = 0; i < h->n; i++) {
    if (ts[i] < tmin || ts[i] > tmax) continue;
    if (n != i) {
      ts[n] = ts[i];
      memcpy(vals + (size_t)n * es, vals + (size_t)i * es, es);
    }
    n++;
  }
  if (!h->sorted) {
    uint32_t m = ts_points_sort_dedup(ts, vals, n, es);
    if (m == (uint32_t)-1) {
      loom_free(ts);
      loom_free(vals);
      return LOOM_ENOMEM;
    }
    n = m;
  }
  if (!n) {
    loom_free(ts);
    loom_free(vals);
    return 0;
  }
  *out_ts = ts;
  *out_vals = vals;
  *n_out = n;
  return 0;
}

int ts_headbuf_delete(ts_headbuf *h, ts_type type, int64_t tmin, int64_t tmax) {
  if (!h->n || h->max_ts < tmin || h->min_ts > tmax) return 0;
  size_t es = ts_type_size(type);
  int64_t *ts;
  void *v;
  int rc = ts_headbuf_points(h, type, &ts, &v);
  if (rc) return rc;
  uint8_t *vals = v;
  uint32_t m = 0;
  for (uint32_t i = 0; i < h->n; i++) {
    if (ts[i] >= tmin && ts[i] <= tmax) continue;
    ts[m] = ts[i];
    memmove(vals + (size_t)m * es, vals + (size_t)i * es, es);
    m++;
  }
  rc = rebuild(h, type, ts, vals, m);
  loom_free(ts);
  loom_free(vals);
  return rc;
}
