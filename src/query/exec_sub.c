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
#include <xxhash.h>

#include "core/err.h"
#include "core/mem.h"
#include "query/exec_int.h"
#include "query/exec_sel.h"

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
  /* a series of an inner query under InfluxDB's LIMIT rule (see vlim) */
  uint32_t lim;          /* 1 + index into qx_vsrc.lims, 0 if none */
  bool dead;             /* replaced by the runs its vlim group produced */
  const char *skey;      /* InfluxDB series key: the merge's input order */
  const char *gkey;      /* the outer's GROUP BY tag values (\x01-joined) */
  const char **ptk, **ptv; /* point tags: the inner's and outer's GROUP BY tags */
  uint32_t n_pt;
  /* per column, kept by qx_vsrc_row: non-null values, the type of the
   * first, whether another type followed; and whether the times strictly
   * increase (in reading order: decrease for DESC) */
  uint32_t *n_nn;
  int *t0;
  bool *mixed;
  bool up, down;
} vser;

/* InfluxDB 1.x LIMIT/OFFSET of a raw inner query grouped by tags the outer
 * query does not group by (tsdb Engine.createVarRefIterator with
 * len(Dimensions) != len(GroupBy)). The inner's iterator options carry the
 * outer's GROUP BY tags as Dimensions and the union of both as GroupBy:
 * - series are grouped into tag sets by the outer's tags only (Dimensions);
 * - each series yields at most limit+offset+1 rows (tsm1 limitIterator);
 * - the series of a tag set are merged by a Go container/heap ordered by
 *   time (ties: string aux values, else unordered), fed in series key order
 *   (reversed for DESC);
 * - query.NewLimitIterator then drops rows by LIMIT/OFFSET, restarting its
 *   count whenever the row's GroupBy tags change; it runs twice (engine and
 *   query level), so OFFSET applies twice.
 * The inner runs one output series per stored series (its rows capped at
 * limit+offset+1); qx_vsrc_finish does the rest. */
typedef struct vlim {
  int64_t limit, offset, slimit, soffset;
  bool desc;
  const plan *gb;        /* the inner's own grouping: valid while it runs */
  const char **odims;    /* the outer's GROUP BY tags: valid while it runs */
  size_t n_odims;
} vlim;

/* One virtual column: the points of one field of one (sub-)series. */
typedef struct vcol {
  ts_type type;
  uint32_t n;
  int64_t *ts;
  void *vals;   /* typed array (types.h) */
  bool in_arena; /* small columns live in the arena (not freed one by one) */
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
  vlim *lims;
  uint32_t n_lims;
  /* distinct strings of the rows (tags selected as fields repeat a lot):
   * open addressing, power-of-two size, empty slots have p == NULL */
  struct vstr {
    uint64_t h;
    const char *p;
    size_t len;
  } *strs;
  size_t n_strs, cap_strs;
  uint32_t cur_lim; /* 1 + the vlim of the inner query now running, 0 if none */
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
    if (v->cols[i].in_arena) continue;
    loom_free(v->cols[i].ts);
    loom_free(v->cols[i].vals);
  }
  loom_free(v->cols);
  loom_free(v->lims);
  loom_free(v->strs);
  ql_arena_deinit(&v->arena);
  loom_free(v);
}

static char *sdup(qx_vsrc *v, const char *s) { return ql_arena_strndup(&v->arena, s, strlen(s)); }

/* Append s to b with InfluxDB's line-protocol escapes: ',' and ' ', and
 * '=' in tag keys and values. */
static int key_put(loom_buf *b, const char *s, bool tag) {
  int bad = 0;
  for (; *s; s++) {
    if (*s == ',' || *s == ' ' || (tag && *s == '=')) bad |= loom_buf_append_u8(b, '\\');
    bad |= loom_buf_append_u8(b, (uint8_t)*s);
  }
  return bad;
}

/* Series key, outer group key and point tags of a series the running inner
 * query (under a vlim) has begun. */
static int lim_series_init(qx_vsrc *v, vser *s) {
  const vlim *l = &v->lims[v->cur_lim - 1];
  int rc = 0, bad = 0;
  loom_buf b;
  loom_buf_init(&b);
  s->lim = v->cur_lim;
  bad |= key_put(&b, s->name, false);
  for (uint32_t i = 0; i < s->n_tags; i++) { /* keys arrive sorted */
    if (!s->tags[i].val[0]) continue;  /* InfluxDB has no empty tag values */
    bad |= loom_buf_append_u8(&b, ',');
    bad |= key_put(&b, s->tags[i].key, true);
    bad |= loom_buf_append_u8(&b, '=');
    bad |= key_put(&b, s->tags[i].val, true);
  }
  if (bad || !(s->skey = ql_arena_strndup(&v->arena, b.len ? (const char *)b.data : "", b.len))) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  loom_buf_reset(&b);
  for (size_t k = 0; k < l->n_odims; k++) {
    for (uint32_t i = 0; i < s->n_tags; i++)
      if (!strcmp(s->tags[i].key, l->odims[k])) bad |= loom_buf_append_str(&b, s->tags[i].val);
    bad |= loom_buf_append_u8(&b, 1);
  }
  if (bad || !(s->gkey = ql_arena_strndup(&v->arena, b.len ? (const char *)b.data : "", b.len))) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  s->ptk = ql_arena_alloc(&v->arena, (s->n_tags + 1) * sizeof *s->ptk);
  s->ptv = ql_arena_alloc(&v->arena, (s->n_tags + 1) * sizeof *s->ptv);
  if (!s->ptk || !s->ptv) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < s->n_tags; i++)
    if (qx_is_dim(l->gb, s->tags[i].key)) {
      s->ptk[s->n_pt] = s->tags[i].key;
      s->ptv[s->n_pt++] = s->tags[i].val;
    }
out:
  loom_buf_deinit(&b);
  return rc;
}

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
  s->n_nn = ql_arena_alloc(&v->arena, (n_cols + 1) * sizeof *s->n_nn);
  s->t0 = ql_arena_alloc(&v->arena, (n_cols + 1) * sizeof *s->t0);
  s->mixed = ql_arena_alloc(&v->arena, (n_cols + 1) * sizeof *s->mixed);
  if (!s->n_nn || !s->t0 || !s->mixed) return LOOM_ENOMEM;
  memset(s->n_nn, 0, (n_cols + 1) * sizeof *s->n_nn);
  memset(s->t0, 0, (n_cols + 1) * sizeof *s->t0);
  memset(s->mixed, 0, (n_cols + 1) * sizeof *s->mixed);
  s->up = s->down = true;
  v->n_ser++;
  return v->cur_lim ? lim_series_init(v, s) : 0;
}

/* The arena copy of string x, one per distinct value; NULL when out of memory. */
static const char *intern(qx_vsrc *v, const ts_str *x) {
  if (v->n_strs * 2 >= v->cap_strs) {
    size_t nc = v->cap_strs ? v->cap_strs * 2 : 256;
    struct vstr *nt = loom_calloc(nc, sizeof *nt);
    if (!nt) return NULL;
    for (size_t i = 0; i < v->cap_strs; i++) {
      if (!v->strs[i].p) continue;
      size_t j = v->strs[i].h & (nc - 1);
      while (nt[j].p) j = (j + 1) & (nc - 1);
      nt[j] = v->strs[i];
    }
    loom_free(v->strs);
    v->strs = nt, v->cap_strs = nc;
  }
  uint64_t h = XXH3_64bits(x->p, x->len);
  size_t j = h & (v->cap_strs - 1);
  for (; v->strs[j].p; j = (j + 1) & (v->cap_strs - 1))
    if (v->strs[j].h == h && v->strs[j].len == x->len && !memcmp(v->strs[j].p, x->p, x->len))
      return v->strs[j].p;
  char *cp = ql_arena_strndup(&v->arena, x->p, x->len);
  if (!cp) return NULL;
  v->strs[j] = (struct vstr){h, cp, x->len};
  v->n_strs++;
  return cp;
}

int qx_vsrc_row(qx_vsrc *v, int64_t t, const qx_val *vals, size_t n) {
  if (!v->n_ser) return LOOM_EINVAL;
  vser *s = &v->ser[v->n_ser - 1];
  if (n != s->n_cols) return LOOM_EINVAL;
  if (s->n_rows == s->cap_rows) {
    uint32_t nc = s->cap_rows ? s->cap_rows * 2 : 8;
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
  if (s->n_rows) {
    if (t <= s->ts[s->n_rows - 1]) s->up = false;
    if (t >= s->ts[s->n_rows - 1]) s->down = false;
  }
  for (size_t i = 0; i < n; i++) {
    dst[i] = vals[i];
    if (vals[i].type) {
      if (!s->n_nn[i]++) s->t0[i] = vals[i].type;
      else if (vals[i].type != s->t0[i]) s->mixed[i] = true;
    }
    if (vals[i].type != TS_STRING) continue;
    if (prev && prev[i].type == TS_STRING && prev[i].v.s.len == vals[i].v.s.len &&
        !memcmp(prev[i].v.s.p, vals[i].v.s.p, vals[i].v.s.len)) {
      dst[i].v.s.p = prev[i].v.s.p;
    } else if (!(dst[i].v.s.p = intern(v, &vals[i].v.s))) {
      return LOOM_ENOMEM;
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
  if (cap <= 16) { /* most inner aggregates: a few rows per series */
    c->in_arena = true;
    c->ts = ql_arena_alloc(&v->arena, (cap + 1) * sizeof *c->ts);
    c->vals = ql_arena_alloc(&v->arena, (cap + 1) * ts_type_size(type));
    if (!c->ts || !c->vals) return LOOM_ENOMEM;
    *id = QX_VCOL_BIT | v->n_cols++;
    return 0;
  }
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

/* finish_series for a series whose times strictly increase in reading
 * order: one sub-series, columns filled in one pass each. */
static int finish_strict(qx_vsrc *v, uint32_t ord, vser *s, bool desc, vmeas *m,
                         const int *fidx, int mk) {
  uint32_t n = s->n_rows;
  size_t nc = s->n_cols;
  if (!n) return 0;
  ts_series_info *si = ql_arena_alloc(&v->arena, sizeof *si);
  uint32_t *cids = ql_arena_alloc(&v->arena, (nc + 2) * sizeof *cids);
  uint16_t *fis = ql_arena_alloc(&v->arena, (nc + 2) * sizeof *fis);
  char *key = ql_arena_alloc(&v->arena, 24);
  if (!si || !cids || !fis || !key) return LOOM_ENOMEM;
  snprintf(key, 24, "%010u.%010u", ord, 0u);
  uint32_t n_used = 0;
  for (size_t c = 0; c < nc + 1; c++) {
    bool marker = c == nc;
    ts_type t = marker ? TS_BOOL : m->fields[fidx[c]].type;
    bool exact = marker || (!s->mixed[c] && s->t0[c] == (int)t);
    uint32_t cnt = marker ? n : exact ? s->n_nn[c] : 0;
    if (!exact)
      for (uint32_t r = 0; r < n; r++) {
        qx_val x = s->vals[(size_t)r * nc + c];
        if (x.type && conv(&x, t)) cnt++;
      }
    if (!cnt) continue;
    uint32_t id;
    int rc = new_col(v, t, cnt, &id);
    if (rc) return rc;
    vcol *vc = &v->cols[id & ~QX_VCOL_BIT];
    if (marker) {
      for (uint32_t r = 0; r < n; r++) vc->ts[r] = s->ts[desc ? n - 1 - r : r];
      memset(vc->vals, 0, n);
      vc->n = n;
    } else if (exact && t == TS_FLOAT) {
      double *dv = vc->vals;
      uint32_t k = 0;
      for (uint32_t r = 0; r < n; r++) {
        uint32_t row = desc ? n - 1 - r : r;
        const qx_val *x = &s->vals[(size_t)row * nc + c];
        if (!x->type) continue;
        vc->ts[k] = s->ts[row];
        dv[k++] = x->v.f;
      }
      vc->n = k;
    } else {
      for (uint32_t r = 0; r < n; r++) {
        uint32_t row = desc ? n - 1 - r : r;
        qx_val x = s->vals[(size_t)row * nc + c];
        if (!x.type || (!exact && !conv(&x, t))) continue;
        col_put(vc, s->ts[row], &x);
      }
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
  return add_series(m, si);
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
  if (desc ? s->down : s->up) { /* one sub-series, rows in order */
    rc = finish_strict(v, ord, s, desc, m, fidx, mk);
    goto out;
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

int qx_vsrc_put_col(qx_vsrc *v, const char *name, const char *const *tk, const char *const *tv,
                    size_t nt, uint32_t ord, uint32_t occ, const char *field, int64_t *ts,
                    double *vals, uint32_t n) {
  int rc = LOOM_ENOMEM;
  const char *nm = NULL;
  for (uint32_t i = 0; i < v->n_ms; i++)
    if (!strcmp(v->ms[i].info.name, name)) nm = v->ms[i].info.name;
  if (!nm && !(nm = sdup(v, name))) goto fail;
  vmeas *m = meas_get(v, nm);
  if (!m) goto fail;
  if (field_get(m, QX_ROW_MARKER, TS_BOOL) < 0) goto fail;
  int fi = -1;
  for (uint32_t i = 0; i < m->info.n_fields && fi < 0; i++)
    if (!strcmp(m->fields[i].name, field)) fi = (int)i;
  if (fi < 0) {
    const char *fc = sdup(v, field);
    if (!fc || (fi = field_get(m, fc, n ? TS_FLOAT : 0)) < 0) goto fail;
  } else if (n && !m->fields[fi].type) {
    m->fields[fi].type = TS_FLOAT;
  }
  if (!n) {
    loom_free(ts);
    loom_free(vals);
    return 0;
  }
  ts_series_info *si = ql_arena_alloc(&v->arena, sizeof *si);
  uint32_t *cids = ql_arena_alloc(&v->arena, 2 * sizeof *cids);
  uint16_t *fis = ql_arena_alloc(&v->arena, 2 * sizeof *fis);
  char *key = ql_arena_alloc(&v->arena, 24);
  ts_tag *tags = ql_arena_alloc(&v->arena, (nt + 1) * sizeof *tags);
  if (!si || !cids || !fis || !key || !tags) goto fail;
  for (size_t i = 0; i < nt; i++) {
    tags[i].key = sdup(v, tk[i]);
    tags[i].val = sdup(v, tv[i]);
    if (!tags[i].key || !tags[i].val) goto fail;
  }
  if (v->n_cols == v->cap_cols) {
    uint32_t nc = v->cap_cols ? v->cap_cols * 2 : 64;
    vcol *ncs = loom_realloc(v->cols, nc * sizeof *ncs);
    if (!ncs) goto fail;
    v->cols = ncs, v->cap_cols = nc;
  }
  vcol *c = &v->cols[v->n_cols];
  memset(c, 0, sizeof *c);
  c->type = TS_FLOAT;
  c->n = n;
  c->ts = ts;
  c->vals = vals;
  cids[0] = QX_VCOL_BIT | v->n_cols++;
  fis[0] = (uint16_t)fi;
  snprintf(key, 24, "%010u.%010u", ord, occ);
  si->sid = v->next_sid++;
  si->key = key;
  si->n_tags = (uint32_t)nt;
  si->tags = tags;
  si->n_cols = 1;
  si->col_ids = cids;
  si->field_idx = fis;
  return add_series(m, si); /* the column is v's now, whatever add_series says */
fail:
  loom_free(ts);
  loom_free(vals);
  return rc;
}

static int cmp_series(const void *a, const void *b) {
  const ts_series_info *x = *(const ts_series_info *const *)a;
  const ts_series_info *y = *(const ts_series_info *const *)b;
  return strcmp(x->key, y->key);
}

/* ---- InfluxDB's LIMIT across series (vlim) ---- */

static int inner_prepare(plan *p) {
  qx_vsrc *v = p->coll;
  v->cur_lim = 0;
  if (!p->lim_quirk) return 0;
  vlim *nl = loom_realloc(v->lims, (v->n_lims + 1) * sizeof *nl);
  if (!nl) return LOOM_ENOMEM;
  v->lims = nl;
  plan *gb = ql_arena_alloc(&p->arena, sizeof *gb);
  ql_select *in = ql_arena_alloc(&p->arena, sizeof *in);
  if (!gb || !in) return LOOM_ENOMEM;
  *gb = *p; /* the grouping as written, for the point tags */
  *in = *p->s;
  const ql_select *s = p->s;
  v->lims[v->n_lims++] = (vlim){.limit = s->limit, .offset = s->offset, .slimit = s->slimit,
                                .soffset = s->soffset, .desc = s->order_desc, .gb = gb,
                                .odims = p->odims, .n_odims = p->n_odims};
  /* one output series per stored series, its first limit+offset+1 rows */
  in->limit = s->limit + s->offset + 1;
  in->offset = in->slimit = in->soffset = 0;
  p->s = in;
  p->lim_quirk = false;
  p->dim_star = true;
  v->cur_lim = v->n_lims;
  return 0;
}

/* ---- the outer's WHERE on inner GROUP BY tags, pushed into the inner ---- */

/* Top-level AND terms of e (parentheses removed), at most cap. */
static void and_terms(const ql_expr *e, const ql_expr **out, size_t *n, size_t cap) {
  e = qx_unparen(e);
  if (e->kind == QL_EXPR_BINARY && e->u.bin.op == QL_OP_AND) {
    and_terms(e->u.bin.lhs, out, n, cap);
    and_terms(e->u.bin.rhs, out, n, cap);
  } else if (*n < cap) {
    out[(*n)++] = e;
  }
}

static bool mentions(const ql_expr *e, const char *name) {
  if (!e) return false;
  switch (e->kind) {
  case QL_EXPR_IDENT: return !strcmp(e->u.ident.name, name);
  case QL_EXPR_PAREN: return mentions(e->u.paren, name);
  case QL_EXPR_BINARY: return mentions(e->u.bin.lhs, name) || mentions(e->u.bin.rhs, name);
  case QL_EXPR_CALL:
    for (size_t i = 0; i < e->u.call.n_args; i++)
      if (mentions(e->u.call.args[i], name)) return true;
    return false;
  case QL_EXPR_WILDCARD: return true; /* SELECT *: the tag may be a column */
  default: return false;
  }
}

/* Is t (`tag op 'value'` or `tag op /re/`) about a tag that sub groups by
 * and does not output as a column? Then each inner row carries the tag of
 * its series and the term gives the same answer on the inner's series. */
static bool pushable(const ql_expr *t, const ql_select *sub) {
  if (t->kind != QL_EXPR_BINARY) return false;
  ql_op op = t->u.bin.op;
  const ql_expr *l = qx_unparen(t->u.bin.lhs), *r = qx_unparen(t->u.bin.rhs);
  if (l->kind != QL_EXPR_IDENT || (l->u.ident.cast != QL_CAST_NONE && l->u.ident.cast != QL_CAST_TAG))
    return false;
  if (!(((op == QL_OP_EQ || op == QL_OP_NEQ) && r->kind == QL_EXPR_STRING) ||
        ((op == QL_OP_EQREGEX || op == QL_OP_NEQREGEX) && r->kind == QL_EXPR_REGEX)))
    return false;
  const char *tag = l->u.ident.name;
  if (!strcmp(tag, "time")) return false;
  bool dim = false;
  for (size_t i = 0; i < sub->n_dimensions; i++) {
    const ql_expr *d = qx_unparen(sub->dimensions[i]);
    if (d->kind == QL_EXPR_IDENT && !strcmp(d->u.ident.name, tag)) dim = true;
  }
  if (!dim) return false;
  for (size_t i = 0; i < sub->n_fields; i++)
    if (!strcmp(sub->fields[i].alias, tag) || mentions(sub->fields[i].expr, tag)) return false;
  return true;
}

static ql_expr *and_of(plan *p, ql_expr *a, ql_expr *b) {
  if (!a) return b;
  ql_expr *e = ql_arena_alloc(&p->arena, sizeof *e);
  if (!e) return NULL;
  memset(e, 0, sizeof *e);
  e->kind = QL_EXPR_BINARY;
  e->u.bin.op = QL_OP_AND;
  e->u.bin.lhs = a;
  e->u.bin.rhs = b;
  return e;
}

/* The outer's WHERE terms on tags an inner query groups by also filter that
 * inner's series (stationary-trucks: fleet = 'North'), so the inner reads
 * only the series whose rows the outer would keep. Not done where it could
 * change which rows survive: SLIMIT/SOFFSET (they count groups), and raw
 * inners with LIMIT/OFFSET (InfluxDB's merge order depends on every input). */
static int push_tag_terms(plan *p) {
  const ql_select *s = p->s;
  if (!s->condition || s->slimit || s->soffset) return 0;
  const ql_expr *terms[32];
  size_t n_terms = 0;
  and_terms(s->condition, terms, &n_terms, 32);
  ql_select *ns = NULL;
  for (size_t i = 0; i < s->n_sources; i++) {
    const ql_select *sub = s->sources[i].subquery;
    if (!sub || sub->slimit || sub->soffset || (sub->is_raw && (sub->limit || sub->offset)))
      continue;
    ql_expr *add = NULL;
    for (size_t k = 0; k < n_terms; k++)
      if (pushable(terms[k], sub) && !(add = and_of(p, add, (ql_expr *)terms[k])))
        return LOOM_ENOMEM;
    if (!add) continue;
    if (!ns) { /* copy the statement and its sources once */
      ql_source *src = ql_arena_alloc(&p->arena, s->n_sources * sizeof *src);
      if (!src || !(ns = ql_arena_alloc(&p->arena, sizeof *ns))) return LOOM_ENOMEM;
      memcpy(src, s->sources, s->n_sources * sizeof *src);
      *ns = *s;
      ns->sources = src;
    }
    ql_select *nsub = ql_arena_alloc(&p->arena, sizeof *nsub);
    if (!nsub) return LOOM_ENOMEM;
    *nsub = *sub;
    if (!(nsub->condition = and_of(p, sub->condition, add))) return LOOM_ENOMEM;
    ns->sources[i].subquery = nsub;
  }
  if (ns) p->s = ns;
  return 0;
}

int qx_sub_prepare(plan *p) {
  int rc = p->coll ? inner_prepare(p) : 0;
  return rc ? rc : push_tag_terms(p);
}

/* A row of a vlim series: series index, row index. */
typedef struct lrow {
  uint32_t ser, row;
} lrow;

/* The merge of one tag set: its inputs (series indices, merge order), the
 * next row of each, and the aux columns in name order (tie-break). */
typedef struct lmerge {
  const qx_vsrc *v;
  const uint32_t *in;
  uint32_t *pos;
  bool desc;
  const uint32_t *aux;
  size_t n_aux;
} lmerge;

static int str_cmp(const ts_str *a, const ts_str *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = n ? memcmp(a->p, b->p, n) : 0;
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

/* query's sortedMergeHeap.Less between the heads of inputs a and b. */
static bool lm_less(const lmerge *m, uint32_t a, uint32_t b) {
  const vser *x = &m->v->ser[m->in[a]], *y = &m->v->ser[m->in[b]];
  uint32_t i = m->pos[a], j = m->pos[b];
  if (x->ts[i] != y->ts[j]) return m->desc ? x->ts[i] > y->ts[j] : x->ts[i] < y->ts[j];
  for (size_t k = 0; k < m->n_aux; k++) {
    const qx_val *p = &x->vals[(size_t)i * x->n_cols + m->aux[k]];
    const qx_val *q = &y->vals[(size_t)j * y->n_cols + m->aux[k]];
    if (p->type != TS_STRING || q->type != TS_STRING) return false;
    int c = str_cmp(&p->v.s, &q->v.s);
    if (c) return m->desc ? c > 0 : c < 0;
  }
  return false;
}

/* Go's container/heap down() and up(), exactly: ties are broken by the
 * heap's own moves, which InfluxDB's output order depends on. */
static void lm_down(const lmerge *m, uint32_t *h, size_t i, size_t n) {
  for (;;) {
    size_t j1 = 2 * i + 1, j = j1;
    if (j1 >= n) return;
    if (j1 + 1 < n && lm_less(m, h[j1 + 1], h[j1])) j = j1 + 1;
    if (!lm_less(m, h[j], h[i])) return;
    uint32_t t = h[i];
    h[i] = h[j], h[j] = t;
    i = j;
  }
}

static void lm_up(const lmerge *m, uint32_t *h, size_t j) {
  while (j > 0) {
    size_t i = (j - 1) / 2;
    if (!lm_less(m, h[j], h[i])) return;
    uint32_t t = h[i];
    h[i] = h[j], h[j] = t;
    j = i;
  }
}

/* Merge the n_in inputs into out (room for all their rows): heap.Init, then
 * Pop and Push of the popped input while it has rows. Returns the count. */
static uint32_t lm_run(lmerge *m, uint32_t n_in, uint32_t *h, lrow *out) {
  size_t n = 0;
  uint32_t k = 0;
  for (uint32_t i = 0; i < n_in; i++) {
    m->pos[i] = 0;
    if (m->v->ser[m->in[i]].n_rows) h[n++] = i;
  }
  for (size_t i = n / 2; i-- > 0;) lm_down(m, h, i, n);
  while (n) {
    uint32_t t = h[0];
    h[0] = h[n - 1], h[n - 1] = t;
    lm_down(m, h, 0, n - 1);
    uint32_t it = h[--n];
    out[k++] = (lrow){m->in[it], m->pos[it]++};
    if (m->pos[it] < m->v->ser[m->in[it]].n_rows) {
      h[n++] = it;
      lm_up(m, h, n - 1);
    }
  }
  return k;
}

static bool same_pt(const vser *a, const vser *b) {
  if (a->n_pt != b->n_pt || strcmp(a->name, b->name)) return false;
  for (uint32_t i = 0; i < a->n_pt; i++)
    if (strcmp(a->ptv[i], b->ptv[i])) return false;
  return true;
}

/* query.NewLimitIterator over r[0..n): the count restarts when the point
 * tags change. Filters in place, returns the rows kept. */
static uint32_t lim_pass(const qx_vsrc *v, lrow *r, uint32_t n, const vlim *l) {
  uint32_t w = 0;
  int64_t c = 0;
  const vser *prev = NULL;
  for (uint32_t i = 0; i < n; i++) {
    const vser *s = &v->ser[r[i].ser];
    if (!prev || !same_pt(prev, s)) prev = s, c = 0;
    c++;
    if (c <= l->offset) continue;
    if (l->limit > 0 && c - l->offset > l->limit) continue;
    r[w++] = r[i];
  }
  return w;
}

/* Append the rows r[a..b) (same point tags) as a new series. */
static int lim_emit_run(qx_vsrc *v, const lrow *r, uint32_t a, uint32_t b) {
  const vser *src = &v->ser[r[a].ser];
  ts_tag *tags = ql_arena_alloc(&v->arena, (src->n_pt + 1) * sizeof *tags);
  if (!tags) return LOOM_ENOMEM;
  for (uint32_t i = 0; i < src->n_pt; i++) tags[i] = (ts_tag){.key = src->ptk[i], .val = src->ptv[i]};
  if (v->n_ser == v->cap_ser) {
    size_t nc = v->cap_ser ? v->cap_ser * 2 : 16;
    vser *ns = loom_realloc(v->ser, nc * sizeof *ns);
    if (!ns) return LOOM_ENOMEM;
    v->ser = ns, v->cap_ser = nc;
    src = &v->ser[r[a].ser];
  }
  vser *d = &v->ser[v->n_ser];
  memset(d, 0, sizeof *d);
  d->name = src->name;
  d->tags = tags;
  d->n_tags = src->n_pt;
  d->cols = src->cols;
  d->n_cols = src->n_cols;
  d->ts = loom_malloc((b - a) * sizeof *d->ts);
  d->vals = loom_malloc(((size_t)(b - a) * d->n_cols + 1) * sizeof *d->vals);
  if (!d->ts || !d->vals) {
    loom_free(d->ts);
    loom_free(d->vals);
    return LOOM_ENOMEM;
  }
  for (uint32_t i = a; i < b; i++) {
    const vser *s = &v->ser[r[i].ser];
    d->ts[i - a] = s->ts[r[i].row];
    memcpy(d->vals + (size_t)(i - a) * d->n_cols, s->vals + (size_t)r[i].row * s->n_cols,
           d->n_cols * sizeof *d->vals);
  }
  d->n_rows = d->cap_rows = b - a;
  /* the counts qx_vsrc_row keeps, so that finish_strict can take it */
  size_t nc = d->n_cols;
  d->n_nn = ql_arena_alloc(&v->arena, (nc + 1) * sizeof *d->n_nn);
  d->t0 = ql_arena_alloc(&v->arena, (nc + 1) * sizeof *d->t0);
  d->mixed = ql_arena_alloc(&v->arena, (nc + 1) * sizeof *d->mixed);
  if (!d->n_nn || !d->t0 || !d->mixed) {
    v->n_ser++; /* freed with the others */
    return LOOM_ENOMEM;
  }
  d->up = d->down = true;
  for (uint32_t i = 0; i < d->n_rows; i++) {
    if (i && d->ts[i] <= d->ts[i - 1]) d->up = false;
    if (i && d->ts[i] >= d->ts[i - 1]) d->down = false;
    for (size_t c = 0; c < nc; c++) {
      int t = d->vals[(size_t)i * nc + c].type;
      if (!t) continue;
      if (!d->n_nn[c]++) d->t0[c] = t;
      else if (t != d->t0[c]) d->mixed[c] = true;
    }
  }
  v->n_ser++;
  return 0;
}

/* Sort key of a vlim series: tag set, then series key. */
typedef struct lkey {
  const char *name, *gkey, *skey;
  uint32_t ser;
} lkey;

static int cmp_lkey(const void *a, const void *b) {
  const lkey *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (!c) c = strcmp(x->gkey, y->gkey);
  return c ? c : strcmp(x->skey, y->skey);
}

/* Replace the series of vlim lid by the rows InfluxDB's iterators keep,
 * one new series per run of equal point tags, in an order that makes the
 * outer query read them as InfluxDB emits them. 0 or LOOM_ENOMEM. */
static int lim_finish(qx_vsrc *v, uint32_t lid) {
  const vlim *l = &v->lims[lid - 1];
  size_t n = 0, n_rows = 0, n_cols = 0;
  for (size_t i = 0; i < v->n_ser; i++)
    if (v->ser[i].lim == lid) n++, n_rows += v->ser[i].n_rows, n_cols = v->ser[i].n_cols;
  if (!n) return 0;
  int rc = 0;
  lkey *ks = loom_malloc(n * sizeof *ks);
  uint32_t *in = loom_malloc(n * 3 * sizeof *in);
  lrow *rows = loom_malloc((n_rows + 1) * sizeof *rows);
  uint32_t *runs = loom_malloc((n_rows + 1) * sizeof *runs);
  uint32_t *aux = loom_malloc((n_cols + 1) * sizeof *aux);
  if (!ks || !in || !rows || !runs || !aux) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  size_t k = 0;
  const char *const *cols = NULL;
  for (size_t i = 0; i < v->n_ser; i++)
    if (v->ser[i].lim == lid) {
      vser *s = &v->ser[i];
      ks[k++] = (lkey){s->name, s->gkey, s->skey, (uint32_t)i};
      cols = s->cols;
      s->dead = true;
    }
  qsort(ks, n, sizeof *ks, cmp_lkey);
  for (size_t c = 0; c < n_cols; c++) { /* aux values compare in name order */
    size_t j = c;
    for (; j > 0 && strcmp(cols[aux[j - 1]], cols[c]) > 0; j--) aux[j] = aux[j - 1];
    aux[j] = (uint32_t)c;
  }
  int64_t seen = 0;
  for (size_t a = 0; a < n;) {
    size_t b = a + 1;
    while (b < n && !strcmp(ks[b].name, ks[a].name) && !strcmp(ks[b].gkey, ks[a].gkey)) b++;
    seen++;
    if (seen <= l->soffset || (l->slimit && seen > l->soffset + l->slimit)) {
      a = b;
      continue;
    }
    uint32_t n_in = (uint32_t)(b - a);
    for (uint32_t i = 0; i < n_in; i++) in[i] = ks[l->desc ? b - 1 - i : a + i].ser;
    lmerge m = {.v = v, .in = in, .pos = in + n, .desc = l->desc, .aux = aux, .n_aux = n_cols};
    uint32_t nr = lm_run(&m, n_in, in + 2 * n, rows);
    nr = lim_pass(v, rows, nr, l); /* tsdb engine */
    nr = lim_pass(v, rows, nr, l); /* query.buildAuxIterator */
    uint32_t n_runs = 0;
    for (uint32_t r = 0; r < nr; r++)
      if (!r || !same_pt(&v->ser[rows[r - 1].ser], &v->ser[rows[r].ser])) runs[n_runs++] = r;
    runs[n_runs] = nr;
    /* DESC: the outer reads ties of a group by descending series order */
    for (uint32_t q = 0; q < n_runs; q++) {
      uint32_t x = l->desc ? n_runs - 1 - q : q;
      if ((rc = lim_emit_run(v, rows, runs[x], runs[x + 1]))) goto out;
    }
    a = b;
  }
out:
  loom_free(ks);
  loom_free(in);
  loom_free(rows);
  loom_free(runs);
  loom_free(aux);
  return rc;
}

int qx_vsrc_finish(qx_vsrc *v, bool desc) {
  v->cur_lim = 0;
  for (uint32_t l = 1; l <= v->n_lims; l++) {
    int rc = lim_finish(v, l);
    if (rc) return rc;
  }
  for (size_t i = 0; i < v->n_ser; i++) {
    int rc = v->ser[i].dead ? 0 : finish_series(v, (uint32_t)i, &v->ser[i], desc);
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
