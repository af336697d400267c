/* SPDX-License-Identifier: Apache-2.0
 * Internals of the SELECT executor shared by its files (not a public
 * interface): the plan of one statement (exec_plan.c), column access and
 * expression evaluation (exec_col.c), raw groups and the row writer
 * (exec_raw.c), aggregate groups (exec_aggrun.c) and the statement driver
 * (exec_select.c). Everything here is used by one query on one thread.
 */
#ifndef LOOM_QUERY_EXEC_SEL_H
#define LOOM_QUERY_EXEC_SEL_H

#include "query/exec_int.h"

enum { N_FIELD = 1, N_TAG, N_LIT, N_CALL, N_BIN, N_MATH, N_XF };

/* A compiled expression node. */
typedef struct qn qn;
struct qn {
  int kind;
  const char *name; /* N_FIELD / N_TAG */
  ql_cast cast;
  qx_val lit;  /* N_LIT */
  int slot;    /* N_CALL */
  ql_op op;    /* N_BIN */
  int fn;      /* N_MATH, N_XF: function id */
  int xf;      /* N_XF: index of its state */
  int64_t param; /* N_XF: unit (ns) or moving_average count */
  qn *l, *r;   /* N_BIN operands; N_MATH / N_XF arguments (r: second) */
  /* N_FIELD / N_TAG lookups cached by qx_eval: the field index in bm, and
   * the tag value of series bs (btv NULL: absent) */
  const ts_measurement_info *bm;
  int bfi;
  const ts_series_info *bs;
  const char *btv;
  uint32_t btl;
  uint32_t bti; /* index of the tag in bs's tags (a hint for the next series) */
};

/* One aggregate call (function, field, percentile) shared by the columns using it. */
typedef struct slot {
  int fn;
  const char *field;
  double pct;
  int fidx;     /* per measurement */
  ts_type type; /* per measurement (0: field absent or not accepted) */
} slot;

/* A source measurement and the metadata snapshot holding it. */
typedef struct src_m {
  ts_meta *meta; /* reference held (released at the end) */
  const ts_measurement_info *m;
} src_m;

/* Everything known about one SELECT (outer or inner) while it runs. */
typedef struct plan {
  qx_ctx *c;
  const ql_select *s;
  ql_arena arena;
  ql_field *fields; /* rewritten fields */
  size_t n_fields;
  qn **exprs;       /* compiled, one per output column */
  const char **names; /* column names, time first */
  size_t n_names;
  slot *slots;
  size_t n_slots, cap_slots;
  bool agg;
  int sel_slot;     /* single selector: its slot, else -1 */
  bool distinct_rows; /* the only field is distinct(x) */
  int64_t tmin, tmax;
  bool tmin_set;
  int64_t interval, offset;
  const ql_expr *cond;
  qx_regex_cache *rc;
  src_m *srcs;
  size_t n_srcs, cap_srcs;
  /* group-by tags */
  const char **dims;
  size_t n_dims;
  bool dim_star;
  const char **dim_re;
  size_t n_dim_re;
  /* subqueries */
  qx_vsrc *vs;      /* results of the FROM (SELECT ...) sources (owned) */
  qx_vsrc *coll;    /* when set, this (inner) query's output goes here */
  qx_xf_st *xfs;    /* transform states, one per N_XF node */
  int n_xf;
  bool xf_raw;      /* transforms over raw fields (rows evaluated in output order) */
  int64_t xf_back;  /* buckets read before the range so the first has its inputs */
  int64_t out_tmin; /* with xf_back: rows before this are not output */
  int64_t last_t;   /* last_row(): the time of the row it found */
  /* exec_raw.c: the fields the output columns read in measurement raw_m
   * (raw_sel, nf bytes in the arena), worked out once per measurement */
  const ts_measurement_info *raw_m;
  uint8_t *raw_sel;
  void *raw_scr;    /* exec_raw.c: buffers kept from group to group (qx_raw_scratch_free) */
  /* InfluxDB's LIMIT of a raw inner query grouped by more tags than the
   * outer: series are merged by the outer's tags only, each contributes at
   * most limit+offset+1 points (tsdb's limit iterator), and LIMIT/OFFSET
   * restart whenever the row's tags change (query.NewLimitIterator). */
  bool lim_quirk;
  const char **odims; /* the outer's GROUP BY tags */
  size_t n_odims;
  /* an inner raw query whose outer query only aggregates named fields:
   * one arithmetic of two float fields may be written as columns directly
   * (exec_select.c run_direct) */
  bool direct;
} plan;

/* What an inner query inherits from the outer one (InfluxDB 1.x
 * newIteratorOptionsSubstatement). */
typedef struct sub_inh {
  int64_t tmin, tmax;       /* the outer's time range */
  int64_t interval, offset; /* the outer's GROUP BY time(), 0 if none */
  bool lim_quirk;           /* see plan.lim_quirk */
  const char **odims;
  size_t n_odims;
  bool direct;              /* the outer only aggregates named fields (see plan.direct) */
} sub_inh;

/* Sorted unique names (fields and/or tags) over every source. */
typedef struct namelist {
  const char **v;
  ts_type *types; /* field type of the first measurement having it, 0 for tags */
  size_t n, cap;
} namelist;

/* Decoded points of one column. */
typedef struct colbuf {
  int64_t *ts;
  qx_val *v;
  uint32_t n, cap;
} colbuf;

/* What an expression is evaluated over. */
typedef struct evctx {
  const ts_measurement_info *m;
  const ts_series_info *s;    /* series for tags (may be NULL) */
  const qx_val *fvals;        /* field values by field index (raw rows / aux), may be NULL */
  const qx_val *slotvals;     /* aggregate results by slot */
  qx_xf_st *xs;               /* transform states (N_XF) */
  int64_t t;                  /* the row's time (transforms) */
  bool desc;
} evctx;

/* A series chosen for a statement, with its group key. */
typedef struct sser {
  const ts_series_info *s;
  int cond; /* QX_TRUE or QX_UNKNOWN */
  const char *key; /* group key (values joined by \x01), arena */
} sser;

/* The output series of one group being written (OFFSET/LIMIT state). */
typedef struct series_out {
  plan *p;
  const char *name;
  const char **tk, **tv;
  size_t nt;
  bool begun;
  int64_t skipped, emitted;
} series_out;
/* Start of the GROUP BY time() bucket holding t (0 without an interval). */
static inline int64_t qx_win(const plan *p, int64_t t) {
  if (!p->interval) return 0;
  int64_t x = t - p->offset;
  int64_t d = x % p->interval;
  if (d < 0) d += p->interval;
  return x - d + p->offset;
}

static inline const ql_expr *qx_unparen(const ql_expr *e) {
  while (e && e->kind == QL_EXPR_PAREN) e = e->u.paren;
  return e;
}

/* ---- exec_plan.c ---- */

/* Copy msg into c->err; returns LOOM_EINVAL. */
int qx_fail(qx_ctx *c, const char *msg);
/* Add measurement m (meta: the snapshot reference it keeps, or NULL) to
 * the sources unless present. 0 or LOOM_ENOMEM. */
int qx_plan_add_src(plan *p, ts_meta *meta, const ts_measurement_info *m);
/* qsort comparator of src_m by measurement name. */
int qx_src_cmp(const void *a, const void *b);
/* Resolve the FROM measurements (not subqueries) into p->srcs, sorted by
 * name. 0, or an error with c->err set. */
int qx_plan_resolve_sources(plan *p);
/* Expand wildcards, compile the fields into p->exprs and p->slots, decide
 * raw/aggregate/selector, name the columns. 0, or an error with c->err set. */
int qx_plan_build(plan *p);
/* GROUP BY: time(interval[, offset]) into p->interval/offset, tags, *, regexes. */
int qx_plan_parse_dims(plan *p);
/* Name lists: add unless present (0 or LOOM_ENOMEM), sort by name, free. */
int qx_nl_add(namelist *l, const char *name, ts_type t);
void qx_nl_sort(namelist *l);
void qx_nl_free(namelist *l);
/* Is tag a GROUP BY dimension of p? */
bool qx_is_dim(const plan *p, const char *tag);

/* ---- exec_col.c ---- */

/* ts_engine_scan, or a subquery's virtual column scan (see exec_col.c). */
int qx_src_scan(plan *p, uint32_t col, int64_t tmin, int64_t tmax, int flags, ts_scan_cb cb,
                void *arg);
/* Count n points read against opt->max_points: 0 or LOOM_ERANGE with c->err set. */
int qx_count_points(plan *p, uint64_t n);
/* Load column col_id over [p->tmin, p->tmax] into b, ascending; keep > 0
 * keeps only the first (desc: the last) keep points. 0 or an error. */
int qx_col_load(plan *p, uint32_t col_id, colbuf *b, uint32_t keep, bool desc);
/* qx_col_load (all points, ascending) keeping only the points that pass
 * pf (the column is pf's field); blocks whose stats exclude it are not
 * decoded. 0 or an error. */
int qx_col_load_pref(plan *p, uint32_t col_id, colbuf *b, const qx_pref *pf);
/* Load the points of column col_id at the times at[0..n_at) (ascending,
 * within [p->tmin, p->tmax]) into b; blocks holding none of them are not
 * decoded. 0 or an error. */
int qx_col_load_at(plan *p, uint32_t col_id, colbuf *b, const int64_t *at, uint32_t n_at);
void qx_colbuf_free(colbuf *b);
/* Column id of field fidx in series s, -1 if the series lacks it. */
int64_t qx_col_of(const ts_series_info *s, int fidx);
/* Value of expression n over x (type 0: null). Caches lookups in n. */
qx_val qx_eval(qn *n, const evctx *x);
/* Mark in need[] the fields of m that n reads (with a compatible cast). */
void qx_vars_of(const qn *n, const ts_measurement_info *m, uint8_t *need);

/* ---- exec_raw.c ---- */

/* Write one row honouring OFFSET/LIMIT (to the client, or to p->coll for an
 * inner query): 0, 1 when the LIMIT is reached, or an error. */
int qx_emit_row(series_out *so, int64_t t, const qx_val *vals, size_t ncols);
/* Close the output series if one was begun. */
int qx_so_end(series_out *so);
/* Run the raw query for the n_ss series of one group. */
int qx_raw_group_run(plan *p, const ts_measurement_info *m, sser *ss, uint32_t n_ss,
                     series_out *so);

/* Free the buffers raw groups keep in p->raw_scr (NULL is fine). */
void qx_raw_scratch_free(plan *p);

/* ---- exec_aggrun.c ---- */

/* Run the aggregate query for the n_ss series of one group. */
int qx_agg_group_run(plan *p, const ts_measurement_info *m, sser *ss, uint32_t n_ss,
                     series_out *so);

/* ---- exec_sub.c ---- */

/* Called once per SELECT after its dimensions are parsed, before its
 * subqueries run. An inner query (p->coll set) under InfluxDB's LIMIT rule
 * (p->lim_quirk) is rewritten to output every stored series with its first
 * limit+offset+1 rows; its collector finishes the rule in qx_vsrc_finish.
 * WHERE terms on tags a subquery groups by are copied into that subquery's
 * WHERE (p->s may be replaced by a copy). 0 or LOOM_ENOMEM. */
int qx_sub_prepare(plan *p);

/* ---- exec_select.c ---- */

/* Execute s; an inner query (coll set) writes its rows into coll, with what
 * it inherits from the outer (inh, NULL for a top-level statement). */
int qx_select_exec(qx_ctx *c, const ql_select *s, const sub_inh *inh, qx_vsrc *coll);

#endif
