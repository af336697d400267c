/* SPDX-License-Identifier: Apache-2.0
 * Internals shared by the executor's files (not a public interface): the
 * result writer (exec_out.c), WHERE analysis (exec_cond.c), aggregate state
 * (exec_agg.c) and the SELECT engine (exec_select.c). Everything here is
 * used by one query on one thread.
 */
#ifndef LOOM_QUERY_EXEC_INT_H
#define LOOM_QUERY_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "query/exec.h"
#include "query/ql_ast.h"
#include "ts/engine.h"

/* InfluxDB's time bounds (influxql.MinTime / MaxTime). */
#define QX_MIN_TIME (INT64_MIN + 2)
#define QX_MAX_TIME (INT64_MAX - 1)

/* ---- values ---- */

/* A result value: type 0 is null, else a ts_type. Strings are borrowed. */
typedef struct qx_val {
  int type;
  ts_value v;
} qx_val;

/* ---- result writer (exec_out.c) ---- */

typedef struct qx_out {
  const qx_options *opt;
  const qx_sink *sink;
  loom_buf buf;       /* pending bytes, flushed past a threshold */
  loom_buf hdr;       /* current series header (JSON: name/tags/columns; CSV: name,tags) */
  bool begun;         /* sink->begin called */
  int err;            /* first sink error (sticky) */
  int64_t epoch_div;  /* 0 = RFC3339, else ns per output unit */
  bool results_open;  /* non-chunked JSON: {"results":[ written */
  int n_stmts_done;   /* statements written (non-chunked comma placement) */
  int stmt_id;
  bool stmt_has_series;
  bool line_open;     /* chunked: the current line's series array is open */
  bool in_series;
  uint64_t series_rows;   /* rows in the current chunk of the series */
  size_t row_vals;        /* values written in the current row */
  size_t n_cols;          /* columns of the current series (CSV) */
  bool csv_hdr_written;
  loom_buf csv_cols;      /* CSV: last header line written */
  int64_t day_cached;     /* RFC3339 times: day (since 1970) whose "YYYY-MM-DDT" is in day_str */
  char day_str[16];
  size_t day_len;         /* 0: nothing cached */
  loom_buf cols_json;     /* "columns":[...] of the statement's last series */
  const char *const *cols_of; /* ...written for this array (same statement), NULL: none */
  size_t cols_n;
  loom_buf cols_ptrs;     /* the array's string pointers when it was written */
  /* pretty=true: the compact JSON is re-indented on its way out */
  loom_buf pretty;
  int pp_depth;
  bool pp_in_str, pp_esc;
  char pp_open;           /* '{' or '[' not yet written (empty {} / []) */
} qx_out;

void qx_out_init(qx_out *o, const qx_options *opt, const qx_sink *sink);
void qx_out_deinit(qx_out *o);
/* A parse error: status 400 and {"error":msg}. */
int qx_out_parse_error(qx_out *o, const char *msg);
int qx_out_stmt_begin(qx_out *o, int stmt_id);
/* Close the statement; msg != NULL adds its "error". */
int qx_out_stmt_end(qx_out *o, const char *errmsg);
/* name may be NULL (no "name" key); tags: n_tags pairs (may be 0: no "tags"). */
int qx_out_series_begin(qx_out *o, const char *name, const char *const *tag_keys,
                        const char *const *tag_vals, size_t n_tags, const char *const *cols,
                        size_t n_cols);
int qx_out_series_end(qx_out *o);
int qx_out_row_begin(qx_out *o);
int qx_out_row_end(qx_out *o);
int qx_out_time(qx_out *o, int64_t t_ns);
int qx_out_val(qx_out *o, const qx_val *v);
int qx_out_str(qx_out *o, const char *s);
int qx_out_flush(qx_out *o);
/* Write everything still pending and close the response. */
int qx_out_finish(qx_out *o);

/* ---- WHERE analysis (exec_cond.c) ---- */

/* Evaluate a time expression (string, number, duration, now(), +/-). */
int qx_time_eval(const ql_expr *e, int64_t now_ns, int64_t *out, char *err, size_t errlen);

/* Extract the time range of cond into [*tmin, *tmax] (left unchanged where
 * unbounded). Returns 0 or LOOM_EINVAL with a message. */
int qx_cond_time_range(const ql_expr *cond, int64_t now_ns, int64_t *tmin, int64_t *tmax,
                       char *err, size_t errlen);

/* Compiled regexes of one condition, cached by pattern. */
typedef struct qx_regex_cache qx_regex_cache;
int qx_regex_cache_new(qx_regex_cache **out);
void qx_regex_cache_free(qx_regex_cache *c);
/* 1 match, 0 no match, LOOM_EINVAL bad pattern (err gets InfluxDB's text). */
int qx_regex_match(qx_regex_cache *c, const char *pattern, const char *s, size_t len, char *err,
                   size_t errlen);

/* Three-valued result of evaluating a condition on a series' tags. */
enum { QX_FALSE = 0, QX_TRUE = 1, QX_UNKNOWN = 2 };

/* Is `name` a field of measurement m (index) or not (-1)? */
int qx_field_index(const ts_measurement_info *m, const char *name);

/* Evaluate cond over a series: time conditions count as true, tag
 * comparisons are decided, field comparisons are QX_UNKNOWN. Returns
 * QX_FALSE/QX_TRUE/QX_UNKNOWN or a negative error. */
int qx_cond_series(const ql_expr *cond, const ts_measurement_info *m, const ts_series_info *s,
                   qx_regex_cache *rc, char *err, size_t errlen);

/* A row being filtered: values of the measurement's fields (by field index)
 * at one timestamp; vals[i].type == 0 when absent. */
typedef struct qx_row {
  const ts_measurement_info *m;
  const ts_series_info *s;
  const qx_val *vals;
} qx_row;

/* Evaluate cond over one row (time conditions true). 1 pass, 0 reject, <0 error. */
int qx_cond_row(const ql_expr *cond, const qx_row *row, qx_regex_cache *rc, char *err,
                size_t errlen);

/* A necessary condition found in a WHERE: one AND-conjunct at the top of
 * the condition comparing a numeric field to a number (`f <= 0.1`,
 * `90 < f`). A point of that field failing it can never be part of a
 * passing row (the row fails the conjunct, a missing value fails too), so
 * scans drop such points and skip whole blocks whose min/max exclude it. */
typedef struct qx_pref {
  int fidx;   /* field index in the measurement, -1: no such conjunct */
  ql_op op;   /* QL_OP_EQ .. QL_OP_GTE, normalised to `field op lit` */
  qx_val lit; /* TS_INT, TS_UINT or TS_FLOAT */
} qx_pref;

/* Find a conjunct of cond usable as a prefilter over m's fields; fidx -1 if
 * none. */
void qx_cond_prefilter(const ql_expr *cond, const ts_measurement_info *m, qx_pref *out);
/* Does value v of a column of type t pass pf's comparison (exactly as
 * qx_cond_row compares)? Values that are not numbers pass (the full
 * condition decides them). */
bool qx_pref_pass(const qx_pref *pf, ts_type t, ts_value v);
/* Can any point of a block with these stats pass? */
bool qx_pref_block_may(const qx_pref *pf, ts_type t, const ts_block_stats *st);

/* Tag value of series s for key (NULL when absent). */
const char *qx_series_tag(const ts_series_info *s, const char *key);
/* The same, trying tag index *hint first and leaving the found index there
 * (series of a measurement mostly have their tags at the same places). */
const char *qx_series_tag_hint(const ts_series_info *s, const char *key, uint32_t *hint);

/* Collect the field names referenced by cond into a bitmap over m's fields
 * (need[i] = 1). */
void qx_cond_fields(const ql_expr *cond, const ts_measurement_info *m, uint8_t *need);

/* ---- math and transform functions (exec_fn.c) ---- */

enum {
  QX_MATH_FLOOR = 1, QX_MATH_CEIL, QX_MATH_ROUND, QX_MATH_ABS, QX_MATH_SQRT, QX_MATH_POW,
  QX_MATH_LN, QX_MATH_LOG, QX_MATH_LOG2, QX_MATH_LOG10, QX_MATH_EXP, QX_MATH_SIN, QX_MATH_COS,
  QX_MATH_TAN, QX_MATH_ASIN, QX_MATH_ACOS, QX_MATH_ATAN, QX_MATH_ATAN2
};
enum {
  QX_XF_DIFFERENCE = 1, QX_XF_NN_DIFFERENCE, QX_XF_DERIVATIVE, QX_XF_NN_DERIVATIVE,
  QX_XF_MOVING_AVERAGE, QX_XF_CUMULATIVE_SUM, QX_XF_ELAPSED
};

/* Math function id by (lower-case) name and its argument count, 0 if none. */
int qx_math_lookup(const char *name, int *n_args);
/* Transform function id by name, 0 if none. */
int qx_xf_lookup(const char *name);
/* fn(a[, b]) with InfluxDB's types: floor/ceil/round/abs keep integers,
 * the rest give floats; null when an argument is not a number. */
qx_val qx_math_eval(int fn, const qx_val *a, const qx_val *b);

/* State of one transform over one output series. */
typedef struct qx_xf_st {
  bool has_prev;
  int64_t prev_t;
  qx_val prev;
  double sf;       /* cumulative_sum / moving_average running sum */
  int64_t si;
  double *win;     /* moving_average window */
  uint32_t n, pos, cap;
} qx_xf_st;

/* Start a new series, keeping the window memory. */
void qx_xf_reset(qx_xf_st *s);
void qx_xf_free(qx_xf_st *s);
/* Feed the value v at time t (rows in output order; desc: ORDER BY DESC) and
 * get the transform's output for that row (type 0: none). param: the
 * derivative/elapsed unit in ns (0 = default) or the moving_average count. */
qx_val qx_xf_apply(qx_xf_st *s, int fn, int64_t param, bool desc, int64_t t, const qx_val *v);

/* ---- subquery results as a data source (exec_sub.c) ---- */

/* Column ids of virtual columns carry this bit (engine ids never do). */
#define QX_VCOL_BIT 0x80000000u
/* Name of the hidden boolean field every virtual row has, so rows whose
 * selected values are all null still exist (as InfluxDB's subquery rows). */
#define QX_ROW_MARKER "\x01row"

typedef struct qx_vsrc qx_vsrc;
/* An empty source. 0 or LOOM_ENOMEM. */
int qx_vsrc_new(qx_vsrc **out);
void qx_vsrc_free(qx_vsrc *v);
/* The inner query's writer: one series (cols exclude time), then its rows
 * (n == n_cols values; strings are copied). 0, LOOM_ENOMEM, LOOM_EINVAL. */
int qx_vsrc_series_begin(qx_vsrc *v, const char *name, const char *const *tk,
                         const char *const *tv, size_t nt, const char *const *cols,
                         size_t n_cols);
int qx_vsrc_row(qx_vsrc *v, int64_t t, const qx_val *vals, size_t n);
/* The direct writer (a raw inner query whose outer query only aggregates
 * named fields): sub-series occ of the inner's ord-th output series of
 * measurement name, with tags tk/tv, holding the n float points ts/vals
 * (ascending times, unique) of field `field`. Takes ownership of ts and vals
 * (loom_malloc'd; freed on error too). n == 0 only declares the measurement
 * and its fields as the row writer would. The series is finished as the row
 * writer finishes its (ord, occ) sub-series; the row marker gets no column,
 * so only for outer queries that never read it. 0 or LOOM_ENOMEM. */
int qx_vsrc_put_col(qx_vsrc *v, const char *name, const char *const *tk, const char *const *tv,
                    size_t nt, uint32_t ord, uint32_t occ, const char *field, int64_t *ts,
                    double *vals, uint32_t n);
/* Build the measurements (desc: rows were written in descending time).
 * Afterwards only the readers below may be used. 0 or LOOM_ENOMEM. */
int qx_vsrc_finish(qx_vsrc *v, bool desc);
uint32_t qx_vsrc_n_measurements(const qx_vsrc *v);
/* Measurement i, valid until qx_vsrc_free. Series keys order the inner
 * output; each series' timestamps are unique. */
const ts_measurement_info *qx_vsrc_measurement(const qx_vsrc *v, uint32_t i);
/* ts_engine_scan over a virtual column: one chunk of points, never stats;
 * the callback's return value is ignored. 0 or LOOM_EINVAL (bad id). */
int qx_vsrc_scan(const qx_vsrc *v, uint32_t col_id, int64_t tmin, int64_t tmax, ts_scan_cb cb,
                 void *arg);

/* ---- statements (exec_select.c) ---- */

typedef struct qx_ctx {
  ts_engine *e;
  const qx_options *opt;
  qx_out *out;
  char err[512];
  uint64_t points_read;
} qx_ctx;

/* Execute a SELECT. 0 (the statement's result written), or an error with
 * ctx->err set (the caller reports it as the statement's error) — or a
 * sink / memory error (LOOM_ECLOSED, LOOM_ENOMEM). */
int qx_select_run(qx_ctx *c, const ql_select *s);

/* Resolve "database name required" / "database not found: x". */
int qx_db_resolve(qx_ctx *c, const char *given, const char **db);

#endif
