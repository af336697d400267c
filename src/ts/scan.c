/* SPDX-License-Identifier: Apache-2.0
 * Reading a column: gather the stored blocks and head points that overlap
 * the range (under the read lock, taking segment references and copying head
 * points), then, without the lock, walk them in time order. A block that no
 * other data overlaps is delivered as is (or as its stats alone, when the
 * caller welcomes that); overlapping data is decoded, merged and deduplicated
 * with the newest write winning.
 */
#include "ts/engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

typedef struct src {
  int64_t lo, hi;
  uint64_t rank;            /* newer data has a higher rank */
  ts_seginfo *seg;          /* block source: segment (referenced), column, block */
  uint32_t col_index, block;
  const ts_block_stats *stats;
  bool tombed;              /* a tombstone touches this block */
  int64_t *ts;              /* head source: owned copies */
  uint8_t *vals;
  uint32_t n;
} src;

typedef struct scan_state {
  ts_engine *e;
  ts_col *col;
  ts_type type;
  size_t es;
  src *v;
  uint32_t n, cap;
  loom_buf strs;            /* string bytes of head sources */
  ts_tomb *tombs;           /* copy of the column's tombstones */
  uint32_t n_tombs;
  char *err;
  size_t errlen;
} scan_state;

static int push(scan_state *s, const src *x) {
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 16;
    src *v = loom_realloc(s->v, cap * sizeof *v);
    if (!v) return LOOM_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = *x;
  return 0;
}

static int add_head(scan_state *s, const ts_headbuf *h, uint64_t rank, int64_t tmin, int64_t tmax) {
  src x = {0};
  int rc = ts_headbuf_range(h, s->type, tmin, tmax, &x.ts, (void **)&x.vals, &x.n);
  if (rc || !x.n) return rc;
  if (s->type == TS_STRING) { /* the head may be freed once the lock is gone: copy the bytes */
    ts_str *sv = (ts_str *)x.vals;
    for (uint32_t i = 0; i < x.n && !rc; i++) {
      size_t off = s->strs.len;
      rc = loom_buf_append(&s->strs, sv[i].p, sv[i].len);
      sv[i].p = (const char *)(uintptr_t)off; /* rebased after the buffer stops growing */
    }
  }
  x.lo = x.ts[0];
  x.hi = x.ts[x.n - 1];
  x.rank = rank;
  if (!rc) rc = push(s, &x);
  if (rc) {
    loom_free(x.ts);
    loom_free(x.vals);
  }
  return rc;
}

static int gather(scan_state *s, int64_t tmin, int64_t tmax) {
  ts_col *col = s->col;
  int rc = 0;
  uint32_t nt;
  const ts_tomb *t = ts_tombs_of(s->e, col->cid, &nt);
  if (nt) {
    if (!(s->tombs = loom_malloc(nt * sizeof *t))) return LOOM_ENOMEM;
    memcpy(s->tombs, t, nt * sizeof *t);
    s->n_tombs = nt;
  }
  for (uint32_t r = 0; r < col->n_refs && !rc; r++) {
    ts_seginfo *seg = col->refs[r].seg;
    const ts_seg_column *sc = ts_segment_column(seg->seg, col->refs[r].col_index);
    if (!sc) { /* decoding the index entry failed: the system is out of memory */
      rc = LOOM_ENOMEM;
      break;
    }
    if (sc->max_ts < tmin || sc->min_ts > tmax) continue;
    for (uint32_t b = 0; b < sc->n_blocks && !rc; b++) {
      const ts_block_stats *st = &sc->blocks[b].stats;
      if (st->max_ts < tmin || st->min_ts > tmax) continue;
      src x = {.lo = st->min_ts, .hi = st->max_ts, .rank = seg->seq, .seg = seg,
               .col_index = col->refs[r].col_index, .block = b, .stats = st};
      x.tombed = ts_tombs_touch(s->tombs, s->n_tombs, seg->seq, st->min_ts, st->max_ts);
      rc = push(s, &x);
      if (!rc) ts_seginfo_ref(seg);
    }
  }
  if (!rc) rc = add_head(s, &col->frz, UINT64_MAX - 1, tmin, tmax);
  if (!rc) rc = add_head(s, &col->act, UINT64_MAX, tmin, tmax);
  return rc;
}

static int cmp_lo(const void *a, const void *b) {
  const src *x = a, *y = b;
  if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int cmp_rank(const void *a, const void *b) {
  const src *x = a, *y = b;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Decode a block source into ts/vals (capacity TS_BLOCK_MAX_POINTS), filtered
 * by tombstones. Returns the count or a negative error. */
static int decode(scan_state *s, const src *x, int64_t *ts, uint8_t *vals, loom_buf *sb) {
  uint32_t cnt = x->stats->count;
  int rc = ts_segment_read_block(x->seg->seg, x->col_index, x->block, ts, vals, cnt, sb, s->err,
                                 s->errlen);
  if (rc) return rc;
  if (x->tombed) cnt = ts_tombs_apply(s->tombs, s->n_tombs, x->seg->seq, ts, vals, cnt, s->es);
  return (int)cnt;
}

/* Emit points [from, to) of ts/vals clipped to [tmin, tmax]. */
static int emit(scan_state *s, const int64_t *ts, const uint8_t *vals, uint32_t n, int64_t tmin,
                int64_t tmax, ts_scan_cb cb, void *arg) {
  uint32_t a = 0, b = n;
  while (a < n && ts[a] < tmin) a++;
  while (b > a && ts[b - 1] > tmax) b--;
  if (a == b) return 0;
  ts_chunk c = {.type = s->type, .n = b - a, .ts = ts + a, .vals = vals + (size_t)a * s->es};
  return cb(arg, &c);
}

static void rebase_strings(scan_state *s, src *x) {
  if (s->type != TS_STRING || !x->ts) return;
  ts_str *sv = (ts_str *)x->vals;
  for (uint32_t i = 0; i < x->n; i++) sv[i].p = (const char *)s->strs.data + (uintptr_t)sv[i].p;
}

static int run_cluster(scan_state *s, src *c, uint32_t n, int64_t tmin, int64_t tmax, int flags,
                       ts_scan_cb cb, void *arg) {
  int rc = 0;
  if (n == 1 && c->seg) {
    if ((flags & TS_SCAN_STATS) && !c->tombed && c->lo >= tmin && c->hi <= tmax) {
      ts_chunk ch = {.type = s->type, .n = c->stats->count, .stats = c->stats};
      rc = cb(arg, &ch);
      if (rc != TS_SCAN_DECODE) return rc;
    }
    int64_t *ts = loom_malloc(TS_BLOCK_MAX_POINTS * sizeof *ts);
    uint8_t *vals = loom_malloc(TS_BLOCK_MAX_POINTS * s->es);
    loom_buf sb;
    loom_buf_init(&sb);
    rc = ts && vals ? decode(s, c, ts, vals, &sb) : LOOM_ENOMEM;
    if (rc >= 0) rc = emit(s, ts, vals, (uint32_t)rc, tmin, tmax, cb, arg);
    loom_free(ts);
    loom_free(vals);
    loom_buf_deinit(&sb);
    return rc;
  }
  if (n == 1) return emit(s, c->ts, c->vals, c->n, tmin, tmax, cb, arg);
  /* Overlapping data: concatenate oldest first, then a stable sort keeps the newest. */
  qsort(c, n, sizeof *c, cmp_rank);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++) total += c[i].seg ? c[i].stats->count : c[i].n;
  int64_t *ts = loom_malloc((total + 1) * sizeof *ts);
  uint8_t *vals = loom_malloc((total + 1) * s->es);
  loom_buf *sbs = loom_calloc(n, sizeof *sbs);
  uint32_t m = 0;
  if (!ts || !vals || !sbs) rc = LOOM_ENOMEM;
  for (uint32_t i = 0; i < n && !rc; i++) {
    if (c[i].seg) {
      rc = decode(s, &c[i], ts + m, vals + (size_t)m * s->es, &sbs[i]);
      if (rc >= 0) {
        m += (uint32_t)rc;
        rc = 0;
      }
    } else {
      memcpy(ts + m, c[i].ts, c[i].n * sizeof *ts);
      memcpy(vals + (size_t)m * s->es, c[i].vals, c[i].n * s->es);
      m += c[i].n;
    }
  }
  if (!rc) {
    uint32_t k = ts_points_sort_dedup(ts, vals, m, s->es);
    rc = k == (uint32_t)-1 ? LOOM_ENOMEM : emit(s, ts, vals, k, tmin, tmax, cb, arg);
  }
  for (uint32_t i = 0; sbs && i < n; i++) loom_buf_deinit(&sbs[i]);
  loom_free(sbs);
  loom_free(ts);
  loom_free(vals);
  return rc;
}

int ts_engine_scan(ts_engine *e, uint32_t col_id, int64_t tmin, int64_t tmax, int flags,
                   ts_scan_cb cb, void *arg, char *err, size_t errlen) {
  char ebuf[16];
  if (!err || !errlen) {
    err = ebuf;
    errlen = sizeof ebuf;
  }
  err[0] = 0;
  scan_state s = {.e = e, .err = err, .errlen = errlen};
  loom_buf_init(&s.strs);
  pthread_rwlock_rdlock(&e->lock);
  s.col = ts_catalog_col(&e->cat, col_id);
  int rc = 0;
  if (s.col) {
    s.type = s.col->type;
    s.es = ts_type_size(s.type);
    rc = gather(&s, tmin, tmax);
  }
  pthread_rwlock_unlock(&e->lock);
  if (!s.col) return LOOM_ENOTFOUND;
  for (uint32_t i = 0; i < s.n; i++) rebase_strings(&s, &s.v[i]);
  if (!rc && s.n) {
    qsort(s.v, s.n, sizeof *s.v, cmp_lo);
    /* clusters: maximal runs whose time ranges chain-overlap */
    uint32_t *starts = loom_malloc((s.n + 1) * sizeof *starts), nc = 0;
    if (!starts) rc = LOOM_ENOMEM;
    int64_t hi = INT64_MIN;
    for (uint32_t i = 0; !rc && i < s.n; i++) {
      if (i == 0 || s.v[i].lo > hi) starts[nc++] = i;
      if (i == 0 || s.v[i].hi > hi) hi = s.v[i].hi;
    }
    if (!rc) starts[nc] = s.n;
    for (uint32_t k = 0; !rc && k < nc; k++) {
      uint32_t ci = flags & TS_SCAN_DESC ? nc - 1 - k : k;
      rc = run_cluster(&s, &s.v[starts[ci]], starts[ci + 1] - starts[ci], tmin, tmax, flags, cb, arg);
    }
    loom_free(starts);
    if (rc == TS_SCAN_STOP) rc = 0;
  }
  for (uint32_t i = 0; i < s.n; i++) {
    if (s.v[i].seg) ts_seginfo_unref(s.v[i].seg);
    loom_free(s.v[i].ts);
    loom_free(s.v[i].vals);
  }
  loom_free(s.v);
  loom_free(s.tombs);
  loom_buf_deinit(&s.strs);
  return rc;
}

typedef struct last_state {
  int64_t ts;
  ts_value v;
  bool found;
  loom_buf *strbuf;
  int rc;
} last_state;

static int last_cb(void *arg, const ts_chunk *c) {
  last_state *l = arg;
  if (c->stats) {
    if (c->type == TS_STRING) return TS_SCAN_DECODE;
    l->ts = c->stats->max_ts;
    l->v = c->stats->last;
  } else {
    l->ts = c->ts[c->n - 1];
    l->v = ts_value_load(c->type, c->vals, c->n - 1);
    if (c->type == TS_STRING) {
      loom_buf_reset(l->strbuf);
      l->rc = loom_buf_append(l->strbuf, l->v.s.p, l->v.s.len);
      l->v.s.p = (const char *)l->strbuf->data;
    }
  }
  l->found = true;
  return TS_SCAN_STOP;
}

int ts_engine_last(ts_engine *e, uint32_t col_id, int64_t *ts, ts_value *v, loom_buf *strbuf) {
  pthread_rwlock_rdlock(&e->lock);
  ts_col *col = ts_catalog_col(&e->cat, col_id);
  int rc = col ? LOOM_EAGAIN : LOOM_ENOTFOUND;
  if (col && col->has_last) {
    *ts = col->last_ts;
    *v = col->last_v;
    rc = 0;
    if (col->type == TS_STRING) {
      loom_buf_reset(strbuf);
      rc = loom_buf_append(strbuf, v->s.p, v->s.len);
      v->s.p = (const char *)strbuf->data;
    }
  }
  pthread_rwlock_unlock(&e->lock);
  if (rc != LOOM_EAGAIN) return rc;
  last_state l = {.strbuf = strbuf};
  rc = ts_engine_scan(e, col_id, INT64_MIN, INT64_MAX, TS_SCAN_STATS | TS_SCAN_DESC, last_cb, &l,
                      NULL, 0);
  if (rc) return rc;
  if (l.rc) return l.rc;
  if (!l.found) return LOOM_ENOTFOUND;
  *ts = l.ts;
  *v = l.v;
  /* cache it for next time */
  pthread_rwlock_wrlock(&e->lock);
  if (!col->has_last) ts_col_note_last(col, l.ts, &l.v);
  pthread_rwlock_unlock(&e->lock);
  return 0;
}

int ts_engine_col_span(ts_engine *e, uint32_t col_id, int64_t *min_ts, int64_t *max_ts) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  int rc = 0;
  pthread_rwlock_rdlock(&e->lock);
  ts_col *col = ts_catalog_col(&e->cat, col_id);
  uint32_t nt = 0;
  if (!col) {
    rc = LOOM_ENOTFOUND;
  } else if (ts_tombs_of(e, col->cid, &nt), nt) {
    rc = LOOM_EAGAIN;
  } else {
    for (uint32_t r = 0; r < col->n_refs; r++) {
      const ts_seg_column *sc = ts_segment_column(col->refs[r].seg->seg, col->refs[r].col_index);
      if (!sc) {
        rc = LOOM_EAGAIN;
        break;
      }
      if (sc->min_ts < lo) lo = sc->min_ts;
      if (sc->max_ts > hi) hi = sc->max_ts;
    }
    const ts_headbuf *hb[2] = {&col->frz, &col->act};
    for (int i = 0; i < 2; i++) {
      if (!hb[i]->n) continue;
      if (hb[i]->min_ts < lo) lo = hb[i]->min_ts;
      if (hb[i]->max_ts > hi) hi = hb[i]->max_ts;
    }
  }
  pthread_rwlock_unlock(&e->lock);
  if (!rc && lo > hi) rc = LOOM_ENOTFOUND;
  if (!rc) *min_ts = lo, *max_ts = hi;
  return rc;
}

void ts_engine_last_n(ts_engine *e, const uint32_t *col_ids, uint32_t n, int64_t *ts,
                      ts_value *v, uint8_t *st) {
  pthread_rwlock_rdlock(&e->lock);
  for (uint32_t i = 0; i < n; i++) { /* columns are scattered: fetch them all first */
    ts_col *col = ts_catalog_col(&e->cat, col_ids[i]);
    if (col) __builtin_prefetch(col), __builtin_prefetch(&col->last_v);
  }
  for (uint32_t i = 0; i < n; i++) {
    ts_col *col = ts_catalog_col(&e->cat, col_ids[i]);
    st[i] = 2;
    if (col && col->has_last && col->type != TS_STRING) {
      ts[i] = col->last_ts;
      v[i] = col->last_v;
      st[i] = 1;
    }
  }
  pthread_rwlock_unlock(&e->lock);
}
