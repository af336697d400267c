/* SPDX-License-Identifier: Apache-2.0
 * Subquery results as a virtual data source. The inner SELECT of
 * `FROM (SELECT ...)` writes its output series here instead of to the
 * client; qx_vsrc_finish() then presents them as measurements, series and
 * columns shaped exactly like the engine's metadata, so the outer SELECT runs
 * the same planner over them (InfluxDB 1.x: the inner's tags stay tags, its
 * columns become fields). Scans of virtual columns go through qx_vsrc_scan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/exec_int.h"

/* One output series of the inner query, as written. */
typedef struct vser {
  const char *name;
  ts_tag *tags;
  uint32_t n_tags;
  const char **cols; /* column names (time excluded) */
  size_t n_cols;
  int64_t *ts;       /* rows */
  qx_val *vals;      /* n_rows * n_cols */
  uint32_t n_rows, cap_rows;
} vser;

/* One virtual column: the points of one field of one (sub-)series. */
typedef struct vcol {
  ts_type type;
  uint32_t n;
  int64_t *ts;
  void *vals; /* typed array (types.h) */
} vcol;

/* One virtual measurement under construction. */
typedef struct vmeas {
  ts_measurement_info info;
  ts_field_info *fields;
  uint32_t cap_fields;
  ts_series_info **series;
  uint32_t n_series, cap_series;
} vmeas;

struct qx_vsrc {
  ql_arena arena;  /* strings, tags, series infos */
  vser *ser;
  size_t n_ser, cap_ser;
  vmeas *ms;
  uint32_t n_ms;
  vcol *cols;
  uint32_t n_cols, cap_cols;
  uint32_t next_sid;
};

int qx_vsrc_new(qx_vsrc **out) {
  qx_vsrc *v = loom_calloc(1, sizeof *v);
  if (!v) return LOOM_ENOMEM;
  ql_arena_init(&v->arena);
  *out = v;
  return 0;
}

void qx_vsrc_free(qx_vsrc *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n_ser; i++) {
    loom_free(v->ser[i].ts);
    loom_free(v->ser[i].vals);
  }
  loom_free(v->ser);
  for (uint32_t i = 0; i < v->n_ms; i++) {
    loom_free(v->ms[i].fields);
    loom_free(v->ms[i].series);
  }
  loom_free(v->ms);
  for (uint32_t i = 0; i < v->n_cols; i++) {
    loom_free(v->cols[i].ts);
    loom_free(v->cols[i].vals);
  }
  loom_free(v->cols);
  ql_arena_deinit(&v->arena);
  loom_free(v);
}

static char *sdup(qx_vsrc *v, const char *s) { return ql_arena_strndup(&v->arena, s, strlen(s)); }

int qx_vsrc_series_begin(qx_vsrc *v, const char *name, const char *const *tk,
                         const char *const *tv, size_t nt, const char *const *cols,
                         size_t n_cols) {
  if (v->n_ser == v->cap_ser) {
    size_t nc = v->cap_ser ? v->cap_ser * 2 : 16;
    vser *ns = loom_realloc(v->ser, nc * sizeof *ns);
    if (!ns) return LOOM_ENOMEM;
    v->ser = ns, v->cap_ser = nc;
  }
  vser *s = &v->ser[v->n_ser];
  memset(s, 0, sizeof *s);
  s->name = sdup(v, name ? name : "");
  s->tags = ql_arena_alloc(&v->arena, (nt + 1) * sizeof *s->tags);
  s->cols = ql_arena_alloc(&v->arena, (n_cols + 1) * sizeof *s->cols);
  if (!s->name || !s->tags || !s->cols) return LOOM_ENOMEM;
  for (size_t i = 0; i < nt; i++) {
    s->tags[i].key = sdup(v, tk[i]);
    s->tags[i].val = sdup(v, tv[i]);
    if (!s->tags[i].key || !s->tags[i].val) return LOOM_ENOMEM;
  }
  s->n_tags = (uint32_t)nt;
  for (size_t i = 0; i < n_cols; i++)
    if (!(s->cols[i] = sdup(v, cols[i]))) return LOOM_ENOMEM;
  s->n_cols = n_cols;
  v->n_ser++;
  return 0;
}

int qx_vsrc_row(qx_vsrc *v, int64_t t, const qx_val *vals, size_t n) {
  if (!v->n_ser) return LOOM_EINVAL;
  vser *s = &v->ser[v->n_ser - 1];
  if (n != s->n_cols) return LOOM_EINVAL;
  if (s->n_rows == s->cap_rows) {
    uint32_t nc = s->cap_rows ? s->cap_rows * 2 : 64;
    int64_t *nt = loom_realloc(s->ts, nc * sizeof *nt);
    if (!nt) return LOOM_ENOMEM;
    s->ts = nt;
    qx_val *nv = loom_realloc(s->vals, (size_t)nc * (s->n_cols + 1) * sizeof *nv);
    if (!nv) return LOOM_ENOMEM;
    s->vals = nv;
    s->cap_rows = nc;
  }
  qx_val *dst = s->vals + (size_t)s->n_rows * s->n_cols;
  const qx_val *prev = s->n_rows ? dst - s->n_cols : NULL;
  for (size_t i = 0; i < n; i++) {
    dst[i] = vals[i];
    if (vals[i].type == TS_STRING && prev && prev[i].type == TS_STRING &&
        prev[i].v.s.len == vals[i].v.s.len &&
        !memcmp(prev[i].v.s.p, vals[i].v.s.p, vals[i].v.s.len)) {
      dst[i].v.s.p = prev[i].v.s.p; /* repeated strings (tags as fields) share one copy */
    } else if (vals[i].type == TS_STRING) {
      char *cp = ql_arena_strndup(&v->arena, vals[i].v.s.p, vals[i].v.s.len);
      if (!cp) return LOOM_ENOMEM;
      dst[i].v.s.p = cp;
    }
  }
  s->ts[s->n_rows++] = t;
  return 0;
}

/* ---- finishing: measurements, sub-series, columns ---- */

static vmeas *meas_get(qx_vsrc *v, const char *name) {
  for (uint32_t i = 0; i < v->n_ms; i++)
    if (!strcmp(v->ms[i].info.name, name)) return &v->ms[i];
  vmeas *nm = loom_realloc(v->ms, (v->n_ms + 1) * sizeof *nm);
  if (!nm) return NULL;
  v->ms = nm;
  vmeas *m = &v->ms[v->n_ms++];
  memset(m, 0, sizeof *m);
  m->info.name = name;
  return m;
}

static int field_get(vmeas *m, const char *name, ts_type type) {
  for (uint32_t i = 0; i < m->info.n_fields; i++)
    if (!strcmp(m->fields[i].name, name)) {
      if (!m->fields[i].type) m->fields[i].type = type;
      return (int)i;
    }
  if (m->info.n_fields == m->cap_fields) {
    uint32_t nc = m->cap_fields ? m->cap_fields * 2 : 8;
    ts_field_info *nf = loom_realloc(m->fields, nc * sizeof *nf);
    if (!nf) return LOOM_ENOMEM;
    m->fields = nf, m->cap_fields = nc;
  }
  m->fields[m->info.n_fields].name = name;
  m->fields[m->info.n_fields].type = type;
  return (int)m->info.n_fields++;
}

static int add_series(vmeas *m, ts_series_info *si) {
  if (m->n_series == m->cap_series) {
    uint32_t nc = m->cap_series ? m->cap_series * 2 : 16;
    ts_series_info **ns = loom_realloc(m->series, nc * sizeof *ns);
    if (!ns) return LOOM_ENOMEM;
    m->series = ns, m->cap_series = nc;
  }
  m->series[m->n_series++] = si;
  return 0;
}

static int new_col(qx_vsrc *v, ts_type type, uint32_t cap, uint32_t *id) {
  if (v->n_cols == v->cap_cols) {
    uint32_t nc = v->cap_cols ? v->cap_cols * 2 : 64;
    vcol *ncs = loom_realloc(v->cols, nc * sizeof *ncs);
    if (!ncs) return LOOM_ENOMEM;
    v->cols = ncs, v->cap_cols = nc;
  }
  vcol *c = &v->cols[v->n_cols];
  memset(c, 0, sizeof *c);
  c->type = type;
  c->ts = loom_malloc((cap + 1) * sizeof *c->ts);
  c->vals = loom_malloc((cap + 1) * ts_type_size(type));
  if (!c->ts || !c->vals) {
    loom_free(c->ts);
    loom_free(c->vals);
    return LOOM_ENOMEM;
  }
  *id = QX_VCOL_BIT | v->n_cols++;
  return 0;
}

/* Convert v to type t when it can be (numbers), else false. */
static bool conv(qx_val *x, ts_type t) {
  if (x->type == (int)t) return true;
  if (t == TS_FLOAT && x->type == TS_INT) return x->v.f = (double)x->v.i, true;
  if (t == TS_FLOAT && x->type == TS_UINT) return x->v.f = (double)x->v.u, true;
  if (t == TS_INT && x->type == TS_FLOAT) return x->v.i = (int64_t)x->v.f, true;
  if (t == TS_INT && x->type == TS_UINT) return true;
  if (t == TS_UINT && x->type == TS_INT) return true;
  if (t == TS_UINT && x->type == TS_FLOAT) return x->v.u = (uint64_t)x->v.f, true;
  return false;
}

static void col_put(vcol *c, int64_t t, const qx_val *x) {
  c->ts[c->n] = t;
  switch (c->type) {
  case TS_FLOAT: ((double *)c->vals)[c->n] = x->v.f; break;
  case TS_INT: ((int64_t *)c->vals)[c->n] = x->v.i; break;
  case TS_UINT: ((uint64_t *)c->vals)[c->n] = x->v.u; break;
  case TS_BOOL: ((uint8_t *)c->vals)[c->n] = x->v.b; break;
  case TS_STRING: ((ts_str *)c->vals)[c->n] = x->v.s; break;
  }
  c->n++;
}

typedef struct rowref {
  int64_t t;
  uint32_t row, occ, pos; /* pos: reading order, the tie-break */
} rowref;

static int cmp_rowref(const void *a, const void *b) {
  const rowref *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Stable counting sort of rows (already in (t, pos) order) by occurrence:
 * the (occ, t, pos) order. 0 or LOOM_ENOMEM. */
static int sort_by_occ(rowref *rr, uint32_t n, uint32_t max_occ) {
  uint32_t *start = loom_calloc((size_t)max_occ + 2, sizeof *start);
  rowref *tmp = loom_malloc((size_t)n * sizeof *tmp);
  if (!start || !tmp) {
    loom_free(start);
    loom_free(tmp);
    return LOOM_ENOMEM;
  }
  for (uint32_t r = 0; r < n; r++) start[rr[r].occ + 1]++;
  for (uint32_t o = 1; o <= max_occ + 1; o++) start[o] += start[o - 1];
  for (uint32_t r = 0; r < n; r++) tmp[start[rr[r].occ]++] = rr[r];
  memcpy(rr, tmp, (size_t)n * sizeof *rr);
  loom_free(start);
  loom_free(tmp);
  return 0;
}

/* Split one inner series into sub-series whose timestamps are unique (the
 * k-th row at a timestamp goes to sub-series k), each with one column per
 * field that has values plus the row marker. */
static int finish_series(qx_vsrc *v, uint32_t ord, vser *s, bool desc) {
  vmeas *m = meas_get(v, s->name);
  if (!m) return LOOM_ENOMEM;
  int rc = 0;
  int *fidx = loom_malloc((s->n_cols + 2) * sizeof *fidx);
  rowref *rr = loom_malloc((s->n_rows + 1) * sizeof *rr);
  uint32_t *cnt = loom_malloc((s->n_cols + 2) * sizeof *cnt);
  if (!fidx || !rr || !cnt) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  int mk = field_get(m, QX_ROW_MARKER, TS_BOOL);
  if (mk < 0) {
    rc = mk;
    goto out;
  }
  for (size_t c = 0; c < s->n_cols; c++) {
    ts_type t = 0;
    for (uint32_t r = 0; r < s->n_rows && !t; r++) t = (ts_type)s->vals[(size_t)r * s->n_cols + c].type;
    if ((fidx[c] = field_get(m, s->cols[c], t)) < 0) {
      rc = fidx[c];
      goto out;
    }
  }
  /* rows in ascending time, stable; occurrence index per timestamp */
  bool sorted = true;
  for (uint32_t r = 0; r < s->n_rows; r++) {
    uint32_t row = desc ? s->n_rows - 1 - r : r; /* DESC output: read it backwards */
    rr[r] = (rowref){s->ts[row], row, 0, r};
    if (r && rr[r].t < rr[r - 1].t) sorted = false;
  }
  if (!sorted) qsort(rr, s->n_rows, sizeof *rr, cmp_rowref); /* output is mostly in order */
  uint32_t max_occ = 0;
  for (uint32_t r = 1; r < s->n_rows; r++)
    if (rr[r].t == rr[r - 1].t) {
      rr[r].occ = rr[r - 1].occ + 1;
      if (rr[r].occ > max_occ) max_occ = rr[r].occ;
    }
  if (max_occ && (rc = sort_by_occ(rr, s->n_rows, max_occ))) goto out;
  for (uint32_t a = 0; a < s->n_rows;) {
    uint32_t b = a;
    while (b < s->n_rows && rr[b].occ == rr[a].occ) b++;
    /* sub-series rr[a..b) */
    uint32_t n_used = 0;
    for (size_t c = 0; c < s->n_cols; c++) {
      cnt[c] = 0;
      for (uint32_t r = a; r < b; r++) {
        qx_val x = s->vals[(size_t)rr[r].row * s->n_cols + c];
        if (x.type && conv(&x, m->fields[fidx[c]].type)) cnt[c]++;
      }
    }
    ts_series_info *si = ql_arena_alloc(&v->arena, sizeof *si);
    uint32_t *cids = ql_arena_alloc(&v->arena, (s->n_cols + 2) * sizeof *cids);
    uint16_t *fis = ql_arena_alloc(&v->arena, (s->n_cols + 2) * sizeof *fis);
    char *key = ql_arena_alloc(&v->arena, 24);
    if (!si || !cids || !fis || !key) {
      rc = LOOM_ENOMEM;
      goto out;
    }
    snprintf(key, 24, "%010u.%010u", ord, rr[a].occ);
    for (size_t c = 0; c < s->n_cols + 1; c++) {
      bool marker = c == s->n_cols;
      if (!marker && !cnt[c]) continue;
      uint32_t id;
      ts_type t = marker ? TS_BOOL : m->fields[fidx[c]].type;
      if ((rc = new_col(v, t, marker ? b - a : cnt[c], &id))) goto out;
      vcol *vc = &v->cols[id & ~QX_VCOL_BIT];
      for (uint32_t r = a; r < b; r++) {
        qx_val x = {.type = TS_BOOL};
        if (!marker) {
          x = s->vals[(size_t)rr[r].row * s->n_cols + c];
          if (!x.type || !conv(&x, t)) continue;
        }
        col_put(vc, rr[r].t, &x);
      }
      cids[n_used] = id;
      fis[n_used] = (uint16_t)(marker ? mk : fidx[c]);
      n_used++;
    }
    si->sid = v->next_sid++;
    si->key = key;
    si->n_tags = s->n_tags;
    si->tags = s->tags;
    si->n_cols = n_used;
    si->col_ids = cids;
    si->field_idx = fis;
    if ((rc = add_series(m, si))) goto out;
    a = b;
  }
out:
  loom_free(fidx);
  loom_free(rr);
  loom_free(cnt);
  return rc;
}

static int cmp_series(const void *a, const void *b) {
  const ts_series_info *x = *(const ts_series_info *const *)a;
  const ts_series_info *y = *(const ts_series_info *const *)b;
  return strcmp(x->key, y->key);
}

int qx_vsrc_finish(qx_vsrc *v, bool desc) {
  for (size_t i = 0; i < v->n_ser; i++) {
    int rc = finish_series(v, (uint32_t)i, &v->ser[i], desc);
    if (rc) return rc;
    loom_free(v->ser[i].ts);
    loom_free(v->ser[i].vals);
    v->ser[i].ts = NULL, v->ser[i].vals = NULL;
  }
  for (uint32_t i = 0; i < v->n_ms; i++) {
    vmeas *m = &v->ms[i];
    for (uint32_t f = 0; f < m->info.n_fields; f++) /* only nulls: any type will do */
      if (!m->fields[f].type) m->fields[f].type = TS_FLOAT;
    if (m->n_series > 1) qsort(m->series, m->n_series, sizeof *m->series, cmp_series);
    m->info.fields = m->fields;
    m->info.series = (const ts_series_info *const *)m->series;
    m->info.n_series = m->n_series;
  }
  return 0;
}

uint32_t qx_vsrc_n_measurements(const qx_vsrc *v) { return v->n_ms; }

const ts_measurement_info *qx_vsrc_measurement(const qx_vsrc *v, uint32_t i) {
  return i < v->n_ms ? &v->ms[i].info : NULL;
}

int qx_vsrc_scan(const qx_vsrc *v, uint32_t col_id, int64_t tmin, int64_t tmax, ts_scan_cb cb,
                 void *arg) {
  uint32_t i = col_id & ~QX_VCOL_BIT;
  if (i >= v->n_cols) return LOOM_EINVAL;
  const vcol *c = &v->cols[i];
  uint32_t lo = 0, hi = c->n;
  while (lo < hi) { /* first ts >= tmin */
    uint32_t mid = lo + (hi - lo) / 2;
    if (c->ts[mid] < tmin) lo = mid + 1;
    else hi = mid;
  }
  uint32_t a = lo;
  hi = c->n;
  while (lo < hi) { /* first ts > tmax */
    uint32_t mid = lo + (hi - lo) / 2;
    if (c->ts[mid] <= tmax) lo = mid + 1;
    else hi = mid;
  }
  if (lo <= a) return 0;
  ts_chunk ch = {.type = c->type,
                 .n = lo - a,
                 .ts = c->ts + a,
                 .vals = (const char *)c->vals + (size_t)a * ts_type_size(c->type)};
  cb(arg, &ch);
  return 0;
}
