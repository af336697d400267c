/* SPDX-License-Identifier: Apache-2.0
 * Scalar math functions (floor, ceil, round, abs, sqrt, pow, ln, log, log2,
 * log10, exp, sin, cos) and the transform functions (difference,
 * non_negative_difference, derivative, non_negative_derivative,
 * moving_average, cumulative_sum, elapsed) with InfluxDB 1.6's result types
 * and rules. Transforms keep state across the rows of one output series, in
 * output order; the SELECT engine (exec_select.c) feeds them.
 */
#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "query/exec_int.h"

static const struct {
  const char *name;
  int id, n_args;
} math_fns[] = {
    {"floor", QX_MATH_FLOOR, 1}, {"ceil", QX_MATH_CEIL, 1},   {"round", QX_MATH_ROUND, 1},
    {"abs", QX_MATH_ABS, 1},     {"sqrt", QX_MATH_SQRT, 1},   {"pow", QX_MATH_POW, 2},
    {"ln", QX_MATH_LN, 1},       {"log", QX_MATH_LOG, 2},     {"log2", QX_MATH_LOG2, 1},
    {"log10", QX_MATH_LOG10, 1}, {"exp", QX_MATH_EXP, 1},     {"sin", QX_MATH_SIN, 1},
    {"cos", QX_MATH_COS, 1},     {"tan", QX_MATH_TAN, 1},     {"asin", QX_MATH_ASIN, 1},
    {"acos", QX_MATH_ACOS, 1},   {"atan", QX_MATH_ATAN, 1},   {"atan2", QX_MATH_ATAN2, 2},
};

static const struct {
  const char *name;
  int id;
} xf_fns[] = {
    {"difference", QX_XF_DIFFERENCE},
    {"non_negative_difference", QX_XF_NN_DIFFERENCE},
    {"derivative", QX_XF_DERIVATIVE},
    {"non_negative_derivative", QX_XF_NN_DERIVATIVE},
    {"moving_average", QX_XF_MOVING_AVERAGE},
    {"cumulative_sum", QX_XF_CUMULATIVE_SUM},
    {"elapsed", QX_XF_ELAPSED},
};

int qx_math_lookup(const char *name, int *n_args) {
  for (size_t i = 0; i < sizeof math_fns / sizeof math_fns[0]; i++)
    if (!strcmp(math_fns[i].name, name)) {
      *n_args = math_fns[i].n_args;
      return math_fns[i].id;
    }
  return 0;
}

int qx_xf_lookup(const char *name) {
  for (size_t i = 0; i < sizeof xf_fns / sizeof xf_fns[0]; i++)
    if (!strcmp(xf_fns[i].name, name)) return xf_fns[i].id;
  return 0;
}

static bool is_num(int t) { return t == TS_FLOAT || t == TS_INT || t == TS_UINT; }

static double num(const qx_val *v) {
  return v->type == TS_FLOAT ? v->v.f : v->type == TS_UINT ? (double)v->v.u : (double)v->v.i;
}

/* Go's math.Log2: exact for powers of two, else Log(frac)/Ln2 + exp. */
static double go_log2(double x) {
  int e;
  double fr = frexp(x, &e);
  return fr == 0.5 ? (double)(e - 1) : log(fr) * (1 / M_LN2) + (double)e;
}

qx_val qx_math_eval(int fn, const qx_val *a, const qx_val *b) {
  qx_val r = {0};
  if (!is_num(a->type)) return r;
  if ((fn == QX_MATH_POW || fn == QX_MATH_LOG || fn == QX_MATH_ATAN2) && (!b || !is_num(b->type)))
    return r;
  /* floor, ceil, round and abs keep integers integers */
  if (a->type != TS_FLOAT &&
      (fn == QX_MATH_FLOOR || fn == QX_MATH_CEIL || fn == QX_MATH_ROUND || fn == QX_MATH_ABS)) {
    r = *a;
    if (fn == QX_MATH_ABS && a->type == TS_INT && a->v.i < 0) r.v.i = -a->v.i;
    return r;
  }
  double x = num(a), y = b ? num(b) : 0;
  r.type = TS_FLOAT;
  switch (fn) {
  case QX_MATH_FLOOR: r.v.f = floor(x); break;
  case QX_MATH_CEIL: r.v.f = ceil(x); break;
  case QX_MATH_ROUND: r.v.f = round(x); break; /* Go's math.Round: half away from zero */
  case QX_MATH_ABS: r.v.f = fabs(x); break;
  case QX_MATH_SQRT: r.v.f = sqrt(x); break;
  case QX_MATH_POW: r.v.f = pow(x, y); break;
  case QX_MATH_LN: r.v.f = log(x); break;
  case QX_MATH_LOG: r.v.f = log(x) / log(y); break;
  case QX_MATH_LOG2: r.v.f = go_log2(x); break;
  case QX_MATH_LOG10: r.v.f = go_log2(x) * 0.30102999566398119521373889472449302676818988146211; break; /* Go: Log2(x) * (Ln2/Ln10) */
  case QX_MATH_EXP: r.v.f = exp(x); break;
  case QX_MATH_SIN: r.v.f = sin(x); break;
  case QX_MATH_COS: r.v.f = cos(x); break;
  case QX_MATH_TAN: r.v.f = tan(x); break;
  case QX_MATH_ASIN: r.v.f = asin(x); break;
  case QX_MATH_ACOS: r.v.f = acos(x); break;
  case QX_MATH_ATAN: r.v.f = atan(x); break;
  case QX_MATH_ATAN2: r.v.f = atan2(x, y); break;
  default: r.type = 0; break;
  }
  return r;
}

void qx_xf_reset(qx_xf_st *s) {
  double *w = s->win;
  uint32_t cap = s->cap;
  memset(s, 0, sizeof *s);
  s->win = w, s->cap = cap;
}

void qx_xf_free(qx_xf_st *s) {
  loom_free(s->win);
  memset(s, 0, sizeof *s);
}

qx_val qx_xf_apply(qx_xf_st *s, int fn, int64_t param, bool desc, int64_t t, const qx_val *v) {
  qx_val r = {0};
  if (!is_num(v->type)) return r;
  switch (fn) {
  case QX_XF_DIFFERENCE:
  case QX_XF_NN_DIFFERENCE:
  case QX_XF_DERIVATIVE:
  case QX_XF_NN_DERIVATIVE:
  case QX_XF_ELAPSED: {
    /* a point at the time of the previous one is ignored */
    if (s->has_prev && t == s->prev_t) return r;
    qx_val prev = s->prev;
    int64_t prev_t = s->prev_t;
    bool had = s->has_prev;
    s->prev = *v, s->prev_t = t, s->has_prev = true;
    if (!had) return r;
    if (fn == QX_XF_ELAPSED) {
      r.type = TS_INT;
      r.v.i = (t - prev_t) / (param > 0 ? param : 1);
      return r;
    }
    if (fn == QX_XF_DIFFERENCE || fn == QX_XF_NN_DIFFERENCE) {
      if (v->type == TS_INT && prev.type == TS_INT) {
        r.type = TS_INT;
        r.v.i = (int64_t)((uint64_t)v->v.i - (uint64_t)prev.v.i);
        if (fn == QX_XF_NN_DIFFERENCE && r.v.i < 0) r.type = 0;
      } else if (v->type == TS_UINT && prev.type == TS_UINT) {
        r.type = TS_UINT;
        r.v.u = v->v.u - prev.v.u;
        if (fn == QX_XF_NN_DIFFERENCE && v->v.u < prev.v.u) r.type = 0;
      } else {
        r.type = TS_FLOAT;
        r.v.f = num(v) - num(&prev);
        if (fn == QX_XF_NN_DIFFERENCE && r.v.f < 0) r.type = 0;
      }
      return r;
    }
    int64_t elapsed = desc ? prev_t - t : t - prev_t;
    double dt = (double)elapsed / (double)(param > 0 ? param : 1000000000);
    r.type = TS_FLOAT;
    r.v.f = (num(v) - num(&prev)) / dt;
    if (fn == QX_XF_NN_DERIVATIVE && r.v.f < 0) r.type = 0;
    return r;
  }
  case QX_XF_CUMULATIVE_SUM:
    if (v->type == TS_INT || v->type == TS_UINT) {
      s->si = (int64_t)((uint64_t)s->si + (uint64_t)v->v.i);
      r.type = v->type;
      r.v.i = s->si;
    } else {
      s->sf += v->v.f;
      r.type = TS_FLOAT;
      r.v.f = s->sf;
    }
    return r;
  case QX_XF_MOVING_AVERAGE: {
    uint32_t n = param > 0 ? (uint32_t)param : 1;
    if (s->cap < n) {
      double *w = loom_realloc(s->win, n * sizeof *w);
      if (!w) return r; /* out of memory: no value rather than a wrong one */
      s->win = w, s->cap = n;
    }
    /* a running sum, as InfluxDB's reducer (same rounding) */
    if (s->n == n) s->sf -= s->win[s->pos];
    else s->n++;
    s->win[s->pos] = num(v);
    s->sf += s->win[s->pos];
    s->pos = (s->pos + 1) % n;
    if (s->n < n) return r;
    r.type = TS_FLOAT;
    r.v.f = s->sf / n;
    return r;
  }
  default: return r;
  }
}
