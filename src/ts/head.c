/* SPDX-License-Identifier: Apache-2.0
 * Head buffers (see head.h). Strings live in chunks that never move, so the
 * ts_str pointers stored in vals stay valid as the buffer grows.
 */
#include "ts/head.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

struct ts_strchunk {
  ts_strchunk *next;
  uint32_t used, cap;
  char data[];
};

void ts_headbuf_init(ts_headbuf *h) {
  memset(h, 0, sizeof *h);
  h->sorted = true;
}

void ts_headbuf_deinit(ts_headbuf *h) {
  loom_free(h->ts);
  loom_free(h->vals);
  for (ts_strchunk *c = h->strs, *n; c; c = n) {
    n = c->next;
    loom_free(c);
  }
  ts_headbuf_init(h);
}

static int store_str(ts_headbuf *h, ts_str *s, int *grown) {
  if (s->len == 0) {
    s->p = "";
    return 0;
  }
  ts_strchunk *c = h->strs;
  if (!c || c->cap - c->used < s->len) {
    uint32_t cap = s->len > 16384 ? s->len : 16384;
    c = loom_malloc(sizeof *c + cap);
    if (!c) return LOOM_ENOMEM;
    c->used = 0;
    c->cap = cap;
    c->next = h->strs;
    h->strs = c;
    *grown += (int)cap;
  }
  memcpy(c->data + c->used, s->p, s->len);
  s->p = c->data + c->used;
  c->used += s->len;
  h->str_bytes += s->len;
  return 0;
}

int ts_headbuf_append(ts_headbuf *h, ts_type type, int64_t ts, const ts_value *v) {
  size_t es = ts_type_size(type);
  int grown = 0;
  if (h->n == h->cap) {
    uint32_t cap = h->cap ? h->cap * 2 : 16;
    grown = (int)((cap - h->cap) * (8 + es));
    int64_t *nts = loom_realloc(h->ts, (size_t)cap * sizeof *nts);
    if (!nts) return LOOM_ENOMEM;
    h->ts = nts;
    void *nv = loom_realloc(h->vals, (size_t)cap * es);
    if (!nv) return LOOM_ENOMEM;
    h->vals = nv;
    h->cap = cap;
  }
  uint8_t *dst = (uint8_t *)h->vals + (size_t)h->n * es;
  if (type == TS_STRING) {
    ts_str s = v->s;
    if (store_str(h, &s, &grown)) return LOOM_ENOMEM;
    memcpy(dst, &s, sizeof s);
  } else if (type == TS_BOOL) {
    *dst = v->b ? 1 : 0;
  } else {
    memcpy(dst, v, es);
  }
  if (h->n == 0) {
    h->min_ts = h->max_ts = ts;
  } else {
    if (ts <= h->max_ts) h->sorted = false;
    if (ts < h->min_ts) h->min_ts = ts;
    if (ts > h->max_ts) h->max_ts = ts;
  }
  h->ts[h->n++] = ts;
  return grown;
}

uint64_t ts_headbuf_bytes(const ts_headbuf *h, ts_type type) {
  return (uint64_t)h->cap * (8 + ts_type_size(type)) + h->str_bytes;
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

int ts_headbuf_normalize(ts_headbuf *h, ts_type type) {
  if (h->sorted) return 0;
  uint32_t m = ts_points_sort_dedup(h->ts, h->vals, h->n, ts_type_size(type));
  if (m == (uint32_t)-1) return LOOM_ENOMEM;
  h->n = m;
  h->sorted = true;
  return 0;
}

int ts_headbuf_range(const ts_headbuf *h, ts_type type, int64_t tmin, int64_t tmax,
                     int64_t **out_ts, void **out_vals, uint32_t *n_out) {
  *out_ts = NULL;
  *out_vals = NULL;
  *n_out = 0;
  if (!h->n || h->max_ts < tmin || h->min_ts > tmax) return 0;
  size_t es = ts_type_size(type);
  uint32_t lo = 0, hi = h->n;
  if (h->sorted) { /* binary search the range */
    uint32_t a = 0, b = h->n;
    while (a < b) {
      uint32_t mid = a + (b - a) / 2;
      if (h->ts[mid] < tmin) a = mid + 1;
      else b = mid;
    }
    lo = a;
    b = h->n;
    while (a < b) {
      uint32_t mid = a + (b - a) / 2;
      if (h->ts[mid] <= tmax) a = mid + 1;
      else b = mid;
    }
    hi = a;
    if (lo >= hi) return 0;
  }
  int64_t *ts = loom_malloc((size_t)(hi - lo) * sizeof *ts);
  uint8_t *v = loom_malloc((size_t)(hi - lo) * es);
  if (!ts || !v) {
    loom_free(ts);
    loom_free(v);
    return LOOM_ENOMEM;
  }
  uint32_t n = 0;
  for (uint32_t i = lo; i < hi; i++) {
    if (h->ts[i] < tmin || h->ts[i] > tmax) continue;
    ts[n] = h->ts[i];
    memcpy(v + (size_t)n * es, (const uint8_t *)h->vals + (size_t)i * es, es);
    n++;
  }
  if (!h->sorted) {
    uint32_t m = ts_points_sort_dedup(ts, v, n, es);
    if (m == (uint32_t)-1) {
      loom_free(ts);
      loom_free(v);
      return LOOM_ENOMEM;
    }
    n = m;
  }
  if (!n) {
    loom_free(ts);
    loom_free(v);
    return 0;
  }
  *out_ts = ts;
  *out_vals = v;
  *n_out = n;
  return 0;
}

int ts_headbuf_delete(ts_headbuf *h, ts_type type, int64_t tmin, int64_t tmax) {
  if (!h->n || h->max_ts < tmin || h->min_ts > tmax) return 0;
  size_t es = ts_type_size(type);
  uint32_t m = 0;
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  for (uint32_t i = 0; i < h->n; i++) {
    if (h->ts[i] >= tmin && h->ts[i] <= tmax) continue;
    h->ts[m] = h->ts[i];
    memmove((uint8_t *)h->vals + (size_t)m * es, (uint8_t *)h->vals + (size_t)i * es, es);
    if (h->ts[m] < mn) mn = h->ts[m];
    if (h->ts[m] > mx) mx = h->ts[m];
    m++;
  }
  h->n = m;
  h->min_ts = mn;
  h->max_ts = mx;
  return 0;
}
