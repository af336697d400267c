/* SPDX-License-Identifier: Apache-2.0
 * InfluxDB line protocol parser. Splits a body into lines exactly as InfluxDB
 * 1.x does (quote-aware), parses each line with InfluxDB's rules and error
 * words, and builds the canonical series key. Hot path: a line without quotes
 * or backslashes is found with memchr, its strings point into the body, and a
 * key whose tags are already sorted is a slice of the body (no copy).
 */
#include "ingest/lp.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

/* ---------------------------------------------------------------- arena -- */

struct lp_chunk {
  struct lp_chunk *next;
  size_t cap;  /* bytes of data after the header */
  size_t used; /* bytes handed out */
};

#define CHUNK_HDR ((sizeof(struct lp_chunk) + 15) & ~(size_t)15)
#define CHUNK_MIN ((size_t)16 * 1024)
#define CHUNK_MAX ((size_t)1024 * 1024)
#define ARENA_KEEP ((size_t)8 * 1024 * 1024) /* kept across resets */

static inline char *chunk_data(lp_chunk *c) { return (char *)c + CHUNK_HDR; }

/* n bytes aligned to `align` (a power of two <= 16), or NULL. Chunks after
 * arena_cur are free and get reused before new ones are allocated. */
static void *arena_alloc(lp_batch *b, size_t n, size_t align) {
  lp_chunk *c = b->arena_cur;
  if (c) {
    size_t off = (c->used + align - 1) & ~(align - 1);
    if (off <= c->cap && n <= c->cap - off) {
      c->used = off + n;
      return chunk_data(c) + off;
    }
  }
  lp_chunk *nx = c ? c->next : b->arena_head;
  if (nx && n <= nx->cap) {
    nx->used = n;
    b->arena_cur = nx;
    return chunk_data(nx);
  }
  size_t cap = c ? c->cap * 2 : CHUNK_MIN;
  if (cap > CHUNK_MAX) cap = CHUNK_MAX;
  if (cap < n) cap = n;
  if (cap > SIZE_MAX - CHUNK_HDR) return NULL;
  lp_chunk *nc = loom_malloc(CHUNK_HDR + cap);
  if (!nc) return NULL;
  nc->cap = cap;
  nc->used = n;
  if (c) {
    nc->next = c->next;
    c->next = nc;
  } else {
    nc->next = b->arena_head;
    b->arena_head = nc;
  }
  b->arena_cur = nc;
  b->arena_total += cap;
  return chunk_data(nc);
}

typedef struct arena_mark {
  lp_chunk *c;
  size_t used;
} arena_mark;

static inline arena_mark arena_mark_get(const lp_batch *b) {
  arena_mark m = {b->arena_cur, b->arena_cur ? b->arena_cur->used : 0};
  return m;
}

static inline void arena_rollback(lp_batch *b, arena_mark m) {
  b->arena_cur = m.c;
  if (m.c) m.c->used = m.used;
}

/* ---------------------------------------------------------- batch admin -- */

void lp_batch_init(lp_batch *b) { memset(b, 0, sizeof *b); }

void lp_batch_reset(lp_batch *b) {
  b->n_points = 0;
  b->n_errors = 0;
  b->n_errors_total = 0;
  /* Keep the first chunks up to ARENA_KEEP bytes, free the rest, so one huge
   * body does not pin its memory forever. */
  size_t kept = 0;
  lp_chunk **pp = &b->arena_head;
  while (*pp) {
    lp_chunk *c = *pp;
    if (kept + c->cap <= ARENA_KEEP) {
      kept += c->cap;
      c->used = 0;
      pp = &c->next;
    } else {
      *pp = c->next;
      loom_free(c);
    }
  }
  b->arena_total = kept;
  b->arena_cur = NULL;
  if ((size_t)b->cap_points * sizeof *b->points > ARENA_KEEP) {
    loom_free(b->points);
    b->points = NULL;
    b->cap_points = 0;
  }
}

void lp_batch_deinit(lp_batch *b) {
  lp_chunk *c = b->arena_head;
  while (c) {
    lp_chunk *nx = c->next;
    loom_free(c);
    c = nx;
  }
  loom_free(b->points);
  loom_free(b->errors);
  loom_free(b->tmp_tags);
  loom_free(b->tmp_fields);
  loom_free(b->tmp_hash);
  if (b->c_locale) freelocale((locale_t)b->c_locale);
  memset(b, 0, sizeof *b);
}

int lp_precision_parse(const char *s, int64_t *precision_ns) {
  static const struct {
    const char *name;
    int64_t ns;
  } tab[] = {{"", 1},          {"n", 1},
             {"ns", 1},        {"u", 1000},
             {"us", 1000},     {"ms", 1000000},
             {"s", 1000000000}, {"m", INT64_C(60000000000)},
             {"h", INT64_C(3600000000000)}};
  if (!s) s = "";
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
    if (strcmp(s, tab[i].name) == 0) {
      *precision_ns = tab[i].ns;
      return 0;
    }
  }
  return LOOM_EINVAL;
}

static int precision_ok(int64_t p) {
  return p == 1 || p == 1000 || p == 1000000 || p == 1000000000 || p == INT64_C(60000000000) ||
         p == INT64_C(3600000000000);
}

/* ------------------------------------------------------------- helpers -- */

enum { ESC_MEAS, ESC_TAG, ESC_FKEY, ESC_STR };

/* Is `c` a byte that a backslash escapes in this kind of token? */
static inline int esc_set(int kind, unsigned char c) {
  switch (kind) {
  case ESC_MEAS: return c == ',' || c == ' ';
  case ESC_TAG: return c == ',' || c == ' ' || c == '=';
  case ESC_FKEY: return c == ',' || c == ' ' || c == '=' || c == '"';
  default: return c == '\\' || c == '"';
  }
}

/* Unescape s[0..n) as InfluxDB does ("\X" -> X for X in the kind's set, any
 * other backslash kept). Points *out at s when there is nothing to do, else
 * at a copy in the arena. 0 or LOOM_ENOMEM. */
static int unescape(lp_batch *b, const char *s, size_t n, int kind, const char **out,
                    uint32_t *out_len) {
  if (n == 0 || !memchr(s, '\\', n)) {
    *out = s;
    *out_len = (uint32_t)n;
    return 0;
  }
  char *d = arena_alloc(b, n, 1);
  if (!d) return LOOM_ENOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 1 < n && esc_set(kind, (unsigned char)s[i + 1])) i++;
    d[j++] = s[i];
  }
  *out = d;
  *out_len = (uint32_t)j;
  return 0;
}

static size_t escaped_len(const char *s, size_t n, int kind) {
  size_t extra = 0;
  for (size_t i = 0; i < n; i++) extra += (size_t)esc_set(kind, (unsigned char)s[i]);
  return n + extra;
}

static char *escape_to(char *d, const char *s, size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    if (esc_set(kind, (unsigned char)s[i])) *d++ = '\\';
    *d++ = s[i];
  }
  return d;
}

/* memcmp order; keys are short and usually differ early, so a plain loop
 * beats a call to memcmp. */
static inline int key_cmp(const char *a, uint32_t an, const char *b, uint32_t bn) {
  uint32_t m = an < bn ? an : bn;
  for (uint32_t k = 0; k < m; k++)
    if (a[k] != b[k]) return (unsigned char)a[k] < (unsigned char)b[k] ? -1 : 1;
  return an < bn ? -1 : an > bn;
}

static int tag_qsort_cmp(const void *x, const void *y) {
  const lp_tag *a = x, *b = y;
  return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

static void tags_sort(lp_tag *t, uint32_t n) {
  if (n > 16) {
    qsort(t, n, sizeof *t, tag_qsort_cmp);
    return;
  }
  for (uint32_t i = 1; i < n; i++) {
    lp_tag x = t[i];
    uint32_t j = i;
    while (j > 0 && key_cmp(x.key, x.key_len, t[j - 1].key, t[j - 1].key_len) < 0) {
      t[j] = t[j - 1];
      j--;
    }
    t[j] = x;
  }
}

static int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need) {
  if (need <= *cap) return 0;
  uint32_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > UINT32_MAX / 2) return LOOM_ENOMEM;
    nc *= 2;
  }
  void *p = loom_realloc(*arr, (size_t)nc * elem);
  if (!p) return LOOM_ENOMEM;
  *arr = p;
  *cap = nc;
  return 0;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Clinger's fast path: exact when the decimal mantissa fits in 53 bits and
 * the power of ten is exact (|exp| <= 22): one correctly rounded operation.
 * Returns 1 with *out set, or 0 when the caller must use strtod (which also
 * judges the syntax then). */
static int float_fast(const char *s, const char *e, double *out) {
  int neg = 0, frac = 0, any = 0, nd = 0, dexp = 0;
  uint64_t m = 0;
  if (s < e && *s == '-') {
    neg = 1;
    s++;
  }
  for (; s < e; s++) {
    unsigned d = (unsigned)(unsigned char)*s - '0';
    if (d < 10) {
      any = 1;
      if (m == 0 && d == 0) {
        dexp -= frac;
        continue;
      }
      if (nd >= 19) return 0;
      m = m * 10 + d;
      nd++;
      dexp -= frac;
    } else if (*s == '.' && !frac) {
      frac = 1;
    } else {
      break;
    }
  }
  if (!any) return 0;
  if (s < e) {
    if (*s != 'e' && *s != 'E') return 0;
    s++;
    int eneg = 0, ev = 0;
    if (s < e && (*s == '+' || *s == '-')) eneg = *s++ == '-';
    if (s >= e) return 0;
    for (; s < e; s++) {
      unsigned d = (unsigned)(unsigned char)*s - '0';
      if (d >= 10) return 0;
      if (ev < 100000) ev = ev * 10 + (int)d;
    }
    dexp += eneg ? -ev : ev;
  }
  if (m == 0) {
    *out = neg ? -0.0 : 0.0;
    return 1;
  }
  if (m > (UINT64_C(1) << 53) || dexp < -22 || dexp > 22) return 0;
  double v = (double)m;
  v = dexp < 0 ? v / pow10_exact[-dexp] : v * pow10_exact[dexp];
  *out = neg ? -v : v;
  return 1;
}

/* Parse s[0..n) (chars from [0-9.eE+-]) as a double, correctly rounded.
 * Returns 0 with *out finite, 1 when invalid or out of range, LOOM_ENOMEM. */
static int parse_float(lp_batch *b, const char *s, size_t n, double *out) {
  if (float_fast(s, s + n, out)) return 0;
  if (!b->c_locale) {
    locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!loc) return LOOM_ENOMEM;
    b->c_locale = loc;
  }
  char stackbuf[128];
  char *tmp = stackbuf;
  if (n >= sizeof stackbuf) {
    tmp = loom_malloc(n + 1);
    if (!tmp) return LOOM_ENOMEM;
  }
  memcpy(tmp, s, n);
  tmp[n] = 0;
  char *endp = NULL;
  double v = strtod_l(tmp, &endp, (locale_t)b->c_locale);
  int rc = (endp == tmp + n && isfinite(v)) ? 0 : 1;
  if (tmp != stackbuf) loom_free(tmp);
  *out = v;
  return rc;
}

/* Decimal digits (with an optional leading '-' when `sign`) to an integer.
 * 0 ok, 1 out of range, 2 syntax. */
static int parse_i64(const char *s, size_t n, int64_t *out) {
  int neg = n > 0 && s[0] == '-';
  size_t i = (size_t)neg;
  if (i >= n) return 2;
  uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
  if (n - i <= 18) { /* cannot overflow */
    for (; i < n; i++) {
      unsigned d = (unsigned)(unsigned char)s[i] - '0';
      if (d >= 10) return 2;
      v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
  }
  for (; i < n; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d >= 10) return 2;
    if (v > (lim - d) / 10) return 1;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *out) {
  if (n == 0) return 2;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d >= 10) return 2;
    if (v > (UINT64_MAX - d) / 10) return 1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static uint64_t hash_key(const char *s, uint32_t n) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (uint32_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= UINT64_C(1099511628211);
  }
  return h ^ (h >> 29);
}

/* ---------------------------------------------------------- one line ---- */

/* Byte classes for the scanning loops: one table load per byte instead of a
 * chain of compares. */
enum { C_KEY = 1, C_FKEY = 2 };
static const unsigned char cls[256] = {
    ['\n'] = C_KEY, [','] = C_KEY | C_FKEY, [' '] = C_KEY | C_FKEY,
    ['='] = C_KEY | C_FKEY, ['\\'] = C_FKEY,
};

#define REASON_LEN 256
#define MIN_NANO_TIME (INT64_MIN + 2)
#define MAX_NANO_TIME (INT64_MAX - 1)

typedef struct line_ctx {
  lp_batch *b;
  const char *p; /* line, leading whitespace skipped, no '\n' / '\r' at the end */
  size_t n;      /* bytes */
  int has_bs;    /* the line contains a backslash */
  const char *meas; /* unescaped measurement, for messages */
  uint32_t meas_len;
  char *reason;  /* REASON_LEN bytes, filled on a bad line */
} line_ctx;

/* Precision for quoting a number in a reason ("%.*s"): bounded, never negative. */
static inline int qlen(size_t n) { return n > 64 ? 64 : (int)n; }

__attribute__((format(printf, 2, 3))) static int bad(line_ctx *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->reason, REASON_LEN, fmt, ap);
  va_end(ap);
  return 1;
}

/* Scan one number value starting at *pi the way InfluxDB's scanNumber does,
 * then convert it. 0 ok, 1 bad line, LOOM_ENOMEM. */
static int field_number(line_ctx *x, size_t *pi, lp_field *f) {
  const char *p = x->p;
  size_t n = x->n, i = *pi, start = i;
  int is_int = 0, is_uns = 0, dec = 0, sci = 0;
  if (p[i] == '-') {
    i++;
    if (i == n) return bad(x, "invalid number");
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if ((unsigned)c - '0' < 10u) continue;
    if (c == ',' || c == ' ') break;
    if (c == 'i' && i > start && !(is_int || is_uns)) {
      is_int = 1;
      continue;
    }
    if (c == 'u' && i > start && !(is_int || is_uns)) {
      is_uns = 1;
      continue;
    }
    if (c == '.') {
      if (dec) return bad(x, "invalid number");
      dec = 1;
      continue;
    }
    if (i > start && (c == 'e' || c == 'E')) {
      sci = 1;
      continue;
    }
    if ((c == '+' || c == '-') && (p[i - 1] == 'e' || p[i - 1] == 'E')) continue;
    return bad(x, "invalid number");
  }
  *pi = i;
  if ((is_int || is_uns) && (dec || sci)) return bad(x, "invalid number");
  size_t digits = i - start - (size_t)is_int - (size_t)dec - (size_t)(p[start] == '-');
  if (digits == 0) return bad(x, "invalid number");
  if (is_int) {
    if (p[i - 1] != 'i') return bad(x, "invalid number");
    size_t len = i - 1 - start;
    int rc = parse_i64(p + start, len, &f->v.i);
    if (rc == 1)
      return bad(x, "unable to parse integer %.*s: strconv.ParseInt: parsing \"%.*s\": value out of range",
                 qlen(len), p + start, qlen(len), p + start);
    if (rc) return bad(x, "invalid number");
    f->type = TS_INT;
    return 0;
  }
  if (is_uns) {
    if (p[i - 1] != 'u' || p[start] == '-') return bad(x, "invalid number");
    size_t len = i - 1 - start;
    int rc = parse_u64(p + start, len, &f->v.u);
    if (rc == 1)
      return bad(x,
                 "unable to parse unsigned %.*s: strconv.ParseUint: parsing \"%.*s\": value out of range",
                 qlen(len), p + start, qlen(len), p + start);
    if (rc) return bad(x, "invalid number");
    f->type = TS_UINT;
    return 0;
  }
  int rc = parse_float(x->b, p + start, i - start, &f->v.f);
  if (rc < 0) return rc;
  if (rc) return bad(x, "invalid float");
  f->type = TS_FLOAT;
  return 0;
}

static int field_bool(line_ctx *x, size_t *pi, lp_field *f) {
  const char *p = x->p;
  size_t n = x->n, i = *pi, start = i;
  char c = p[i];
  if (c != 't' && c != 'f' && c != 'T' && c != 'F') return bad(x, "invalid boolean");
  i++;
  while (i < n && p[i] != ',' && p[i] != ' ') i++;
  *pi = i;
  size_t len = i - start;
  const char *s = p + start;
  int ok = len == 1;
  if (len == 4)
    ok = !memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4);
  else if (len == 5)
    ok = !memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5);
  if (!ok) return bad(x, "invalid boolean");
  f->type = TS_BOOL;
  f->v.b = c == 't' || c == 'T';
  return 0;
}

static int field_string(line_ctx *x, size_t *pi, lp_field *f) {
  const char *p = x->p;
  size_t n = x->n, i = *pi + 1, start = i;
  int has_bs = 0;
  while (i < n) {
    char c = p[i];
    if (c == '\\') {
      has_bs = 1;
      i += 2;
      continue;
    }
    if (c == '"') break;
    i++;
  }
  if (i >= n) return bad(x, "unbalanced quotes");
  size_t len = i - start;
  i++;
  *pi = i;
  if (i < n && p[i] != ',' && p[i] != ' ') return bad(x, "invalid field format");
  if (len > UINT32_MAX) return bad(x, "string field value too long");
  f->type = TS_STRING;
  if (!has_bs) {
    f->v.s.p = p + start;
    f->v.s.len = (uint32_t)len;
    return 0;
  }
  return unescape(x->b, p + start, len, ESC_STR, &f->v.s.p, &f->v.s.len);
}

static const char *type_name(ts_type t) {
  switch (t) {
  case TS_FLOAT: return "float";
  case TS_INT: return "integer";
  case TS_UINT: return "unsigned";
  case TS_BOOL: return "boolean";
  default: return "string";
  }
}

/* A key repeated with another type: InfluxDB refuses the write. */
static int type_conflict(line_ctx *x, const lp_field *first, const lp_field *later) {
  return bad(x, "field type conflict: input field \"%.*s\" on measurement \"%.*s\" is type %s, "
                "already exists as type %s",
             qlen(later->key_len), later->key, qlen(x->meas_len), x->meas, type_name(later->type),
             type_name(first->type));
}

/* Remove repeated field keys: the last value wins, at the first position; a
 * repeat with another type is a bad line. 0, 1 (bad line) or LOOM_ENOMEM. */
static int fields_dedup(line_ctx *x, lp_field *f, uint32_t *pn) {
  lp_batch *b = x->b;
  uint32_t n = *pn, w = 1;
  if (n <= 16) {
    for (uint32_t j = 1; j < n; j++) {
      uint32_t k = 0;
      while (k < w && !(f[k].key_len == f[j].key_len && !memcmp(f[k].key, f[j].key, f[j].key_len)))
        k++;
      if (k < w) {
        if (f[k].type != f[j].type) return type_conflict(x, &f[k], &f[j]);
        f[k].v = f[j].v;
      } else {
        f[w++] = f[j];
      }
    }
    *pn = w;
    return 0;
  }
  uint32_t size = 64;
  if (n > (UINT32_C(1) << 30)) return LOOM_ENOMEM; /* > 4 GB of fields in one line */
  while (size < 2 * n) size *= 2;
  if (grow((void **)&b->tmp_hash, &b->cap_tmp_hash, sizeof *b->tmp_hash, size)) return LOOM_ENOMEM;
  uint32_t *h = b->tmp_hash, mask = size - 1;
  memset(h, 0, (size_t)size * sizeof *h);
  w = 0;
  for (uint32_t j = 0; j < n; j++) {
    uint32_t s = (uint32_t)hash_key(f[j].key, f[j].key_len) & mask;
    for (;;) {
      uint32_t slot = h[s];
      if (!slot) {
        h[s] = w + 1;
        f[w++] = f[j];
        break;
      }
      lp_field *o = &f[slot - 1];
      if (o->key_len == f[j].key_len && !memcmp(o->key, f[j].key, f[j].key_len)) {
        if (o->type != f[j].type) return type_conflict(x, o, &f[j]);
        o->v = f[j].v;
        break;
      }
      s = (s + 1) & mask;
    }
  }
  *pn = w;
  return 0;
}

/* Parse one line into a point appended to the batch. 0 ok, 1 bad line
 * (x->reason set), LOOM_ENOMEM. The caller rolls the arena back on non-zero. */
static int parse_line(line_ctx *x, int64_t precision_ns, int64_t default_ts, uint32_t line_no) {
  lp_batch *b = x->b;
  const char *p = x->p;
  size_t n = x->n, i = 0;
  uint32_t nt = 0, nf = 0;
  int eq_lead = 0, rc;

  /* measurement: up to the first unescaped ',' or ' '. A '\n' in the key
   * section, escaped or not (InfluxDB's splitter lets one through after a
   * backslash, or after a leading space and a quote), ends it like the end of
   * the line would: a series key never holds a newline, so it can always be
   * parsed again. */
  if (p[0] == ',') return bad(x, "missing measurement");
  for (;;) {
    i++;
    while (i < n && !(cls[(unsigned char)p[i]] & C_KEY)) i++;
    if (i >= n) return bad(x, "missing fields");
    char c = p[i];
    if (c == '\n') return bad(x, "missing fields");
    if (c != '=' && p[i - 1] != '\\') break;
  }
  size_t m_len = i;

  /* tags (escape = "the previous byte is a backslash", as InfluxDB scans) */
  if (p[i] == ',') {
    i++;
    for (;;) {
      size_t k0 = i;
      if (i >= n || p[i] == ' ' || p[i] == ',' || p[i] == '=' || p[i] == '\n')
        return bad(x, "missing tag key");
      for (;;) {
        i++;
        while (i < n && !(cls[(unsigned char)p[i]] & C_KEY)) i++;
        if (i >= n) return bad(x, "missing tag value");
        char c = p[i];
        if (c == '\n') return bad(x, "missing tag value");
        if (p[i - 1] != '\\') {
          if (c == '=') break;
          return bad(x, "missing tag value");
        }
      }
      size_t k_len = i - k0;
      i++;
      size_t v0 = i;
      if (i >= n || p[i] == ',' || p[i] == ' ' || p[i] == '\n') return bad(x, "missing tag value");
      eq_lead |= p[i] == '=';
      for (;;) {
        i++;
        while (i < n && !(cls[(unsigned char)p[i]] & C_KEY)) i++;
        if (i >= n) return bad(x, "missing fields");
        char c = p[i];
        if (c == '\n') return bad(x, "missing fields");
        if (p[i - 1] != '\\') {
          if (c == '=') return bad(x, "invalid tag format");
          break;
        }
      }
      if (i > LP_MAX_KEY_LEN) break; /* reported below; keeps lengths in uint32 */
      if (nt == b->cap_tmp_tags &&
          grow((void **)&b->tmp_tags, &b->cap_tmp_tags, sizeof *b->tmp_tags, nt + 1))
        return LOOM_ENOMEM;
      lp_tag *t = &b->tmp_tags[nt++];
      t->key = p + k0;
      t->key_len = (uint32_t)k_len;
      t->val = p + v0;
      t->val_len = (uint32_t)(i - v0);
      if (p[i] == ' ') break;
      i++;
    }
  }
  size_t key_end = i;
  if (key_end > LP_MAX_KEY_LEN)
    return bad(x, "max key length exceeded: %zu > %d", key_end, LP_MAX_KEY_LEN);

  /* unescape, sort, check duplicates */
  lp_tag *tags = b->tmp_tags;
  const char *meas = p;
  uint32_t meas_len = (uint32_t)m_len;
  if (x->has_bs) {
    if ((rc = unescape(b, p, m_len, ESC_MEAS, &meas, &meas_len))) return rc;
    for (uint32_t k = 0; k < nt; k++) {
      if ((rc = unescape(b, tags[k].key, tags[k].key_len, ESC_TAG, &tags[k].key, &tags[k].key_len)) ||
          (rc = unescape(b, tags[k].val, tags[k].val_len, ESC_TAG, &tags[k].val, &tags[k].val_len)))
        return rc;
    }
  }
  int sorted = 1;
  for (uint32_t k = 1; k < nt; k++) {
    int c = key_cmp(tags[k - 1].key, tags[k - 1].key_len, tags[k].key, tags[k].key_len);
    if (c == 0) return bad(x, "duplicate tags");
    if (c > 0) {
      sorted = 0;
      break;
    }
  }
  if (!sorted) {
    tags_sort(tags, nt);
    for (uint32_t k = 1; k < nt; k++)
      if (!key_cmp(tags[k - 1].key, tags[k - 1].key_len, tags[k].key, tags[k].key_len))
        return bad(x, "duplicate tags");
  }

  /* canonical series key: a slice of the line when it already is one */
  const char *skey = p;
  size_t skey_len = key_end;
  if (!sorted || x->has_bs || eq_lead) {
    int plain = !x->has_bs && !eq_lead; /* escaped form == raw bytes */
    size_t len = plain ? meas_len : escaped_len(meas, meas_len, ESC_MEAS);
    for (uint32_t k = 0; k < nt; k++)
      len += 2 + (plain ? (size_t)tags[k].key_len + tags[k].val_len
                        : escaped_len(tags[k].key, tags[k].key_len, ESC_TAG) +
                              escaped_len(tags[k].val, tags[k].val_len, ESC_TAG));
    if (len > LP_MAX_KEY_LEN)
      return bad(x, "max key length exceeded: %zu > %d", len, LP_MAX_KEY_LEN);
    char *d = arena_alloc(b, len, 1);
    if (!d) return LOOM_ENOMEM;
    skey = d;
    skey_len = len;
    if (plain) {
      memcpy(d, meas, meas_len);
      d += meas_len;
      for (uint32_t k = 0; k < nt; k++) {
        *d++ = ',';
        memcpy(d, tags[k].key, tags[k].key_len);
        d += tags[k].key_len;
        *d++ = '=';
        memcpy(d, tags[k].val, tags[k].val_len);
        d += tags[k].val_len;
      }
    } else {
      d = escape_to(d, meas, meas_len, ESC_MEAS);
      for (uint32_t k = 0; k < nt; k++) {
        *d++ = ',';
        d = escape_to(d, tags[k].key, tags[k].key_len, ESC_TAG);
        *d++ = '=';
        d = escape_to(d, tags[k].val, tags[k].val_len, ESC_TAG);
      }
    }
  }

  /* fields (escape = backslash pairs, as InfluxDB's scanFields) */
  i = key_end;
  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == 0)) i++;
  size_t too_long = 0;
  for (;;) {
    size_t k0 = i;
    int k_bs = 0;
    for (;;) {
      while (i < n && !(cls[(unsigned char)p[i]] & C_FKEY)) i++;
      if (i >= n) return bad(x, "invalid field format");
      char c = p[i];
      if (c == '\\') {
        k_bs = 1;
        i += 2;
        continue;
      }
      if (c == '=') break;
      return bad(x, "invalid field format"); /* ' ' or ',' */
    }
    if (i == k0) return bad(x, "missing field key");
    size_t k_len = i - k0;
    if (!too_long && skey_len + 4 + k_len > LP_MAX_KEY_LEN) too_long = skey_len + 4 + k_len;
    i++;
    if (i >= n || p[i] == ',' || p[i] == ' ') return bad(x, "missing field value");
    if (nf == b->cap_tmp_fields &&
        grow((void **)&b->tmp_fields, &b->cap_tmp_fields, sizeof *b->tmp_fields, nf + 1))
      return LOOM_ENOMEM;
    lp_field *f = &b->tmp_fields[nf++];
    if (k_bs) {
      if ((rc = unescape(b, p + k0, k_len, ESC_FKEY, &f->key, &f->key_len))) return rc;
    } else {
      f->key = p + k0;
      f->key_len = (uint32_t)k_len;
    }
    char c = p[i];
    if ((c >= '0' && c <= '9') || c == '.' || c == '-' || c == 'N' || c == 'n')
      rc = field_number(x, &i, f);
    else if (c == '"')
      rc = field_string(x, &i, f);
    else
      rc = field_bool(x, &i, f);
    if (rc) return rc;
    if (i >= n || p[i] == ' ') break;
    i++; /* ',' */
  }
  if (too_long) return bad(x, "max key length exceeded: %zu > %d", too_long, LP_MAX_KEY_LEN);
  x->meas = meas;
  x->meas_len = meas_len;
  if (nf > 1 && (rc = fields_dedup(x, b->tmp_fields, &nf))) return rc;

  /* timestamp */
  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == 0)) i++;
  int64_t ts = default_ts;
  if (i < n) {
    size_t t0 = i;
    for (; i < n && p[i] != ' '; i++) {
      if (i == t0 && p[i] == '-') continue;
      if (p[i] < '0' || p[i] > '9') return bad(x, "bad timestamp");
    }
    int64_t v;
    rc = parse_i64(p + t0, i - t0, &v);
    if (rc == 2)
      return bad(x, "strconv.ParseInt: parsing \"%.*s\": invalid syntax", qlen(i - t0), p + t0);
    if (rc == 1)
      return bad(x, "strconv.ParseInt: parsing \"%.*s\": value out of range", qlen(i - t0), p + t0);
    if (__builtin_mul_overflow(v, precision_ns, &ts) || ts < MIN_NANO_TIME || ts > MAX_NANO_TIME)
      return bad(x, "time outside range %" PRId64 " - %" PRId64, (int64_t)MIN_NANO_TIME,
                 (int64_t)MAX_NANO_TIME);
    for (; i < n; i++)
      if (p[i] != ' ') return bad(x, "point is invalid");
  }

  /* commit */
  lp_tag *out_tags = NULL;
  lp_field *out_fields = arena_alloc(b, (size_t)nf * sizeof *out_fields, 8);
  if (!out_fields) return LOOM_ENOMEM;
  memcpy(out_fields, b->tmp_fields, (size_t)nf * sizeof *out_fields);
  if (nt) {
    out_tags = arena_alloc(b, (size_t)nt * sizeof *out_tags, 8);
    if (!out_tags) return LOOM_ENOMEM;
    memcpy(out_tags, tags, (size_t)nt * sizeof *out_tags);
  }
  if (b->n_points == b->cap_points &&
      grow((void **)&b->points, &b->cap_points, sizeof *b->points, b->n_points + 1))
    return LOOM_ENOMEM;
  lp_point *pt = &b->points[b->n_points++];
  pt->series_key = skey;
  pt->series_key_len = (uint32_t)skey_len;
  pt->measurement = meas;
  pt->measurement_len = meas_len;
  pt->tags = out_tags;
  pt->n_tags = nt;
  pt->fields = out_fields;
  pt->n_fields = nf;
  pt->ts_ns = ts;
  pt->line = line_no;
  return 0;
}

/* ------------------------------------------------------- built points -- */

static char *arena_copy(lp_batch *b, const char *s, size_t n) {
  char *d = arena_alloc(b, n ? n : 1, 1);
  if (d && n) memcpy(d, s, n);
  return d;
}

int lp_batch_add(lp_batch *b, const char *measurement, uint32_t measurement_len,
                 const lp_tag *tags, uint32_t n_tags, const lp_field *fields, uint32_t n_fields,
                 int64_t ts_ns, uint32_t line) {
  if (!measurement_len || !n_fields || ts_ns < MIN_NANO_TIME || ts_ns > MAX_NANO_TIME)
    return LOOM_EINVAL;
  size_t skey_len = escaped_len(measurement, measurement_len, ESC_MEAS);
  for (uint32_t t = 0; t < n_tags; t++) {
    if (!tags[t].key_len || !tags[t].val_len) return LOOM_EINVAL;
    if (t && key_cmp(tags[t - 1].key, tags[t - 1].key_len, tags[t].key, tags[t].key_len) >= 0)
      return LOOM_EINVAL;
    skey_len += 2 + escaped_len(tags[t].key, tags[t].key_len, ESC_TAG) +
                escaped_len(tags[t].val, tags[t].val_len, ESC_TAG);
  }
  if (skey_len > LP_MAX_KEY_LEN) return LOOM_EINVAL;
  for (uint32_t f = 0; f < n_fields; f++) {
    if (!fields[f].key_len ||
        skey_len + 4 + escaped_len(fields[f].key, fields[f].key_len, ESC_FKEY) > LP_MAX_KEY_LEN)
      return LOOM_EINVAL;
    for (uint32_t g = 0; g < f; g++)
      if (fields[g].key_len == fields[f].key_len &&
          !memcmp(fields[g].key, fields[f].key, fields[f].key_len))
        return LOOM_EINVAL;
  }
  if (b->n_points == b->cap_points &&
      grow((void **)&b->points, &b->cap_points, sizeof *b->points, b->n_points + 1))
    return LOOM_ENOMEM;
  arena_mark mark = arena_mark_get(b);
  char *skey = arena_alloc(b, skey_len, 1);
  char *meas = arena_copy(b, measurement, measurement_len);
  lp_tag *ot = n_tags ? arena_alloc(b, (size_t)n_tags * sizeof *ot, 8) : NULL;
  lp_field *of = arena_alloc(b, (size_t)n_fields * sizeof *of, 8);
  if (!skey || !meas || (n_tags && !ot) || !of) goto nomem;
  char *d = escape_to(skey, measurement, measurement_len, ESC_MEAS);
  for (uint32_t t = 0; t < n_tags; t++) {
    *d++ = ',';
    d = escape_to(d, tags[t].key, tags[t].key_len, ESC_TAG);
    *d++ = '=';
    d = escape_to(d, tags[t].val, tags[t].val_len, ESC_TAG);
    ot[t] = tags[t];
    ot[t].key = arena_copy(b, tags[t].key, tags[t].key_len);
    ot[t].val = arena_copy(b, tags[t].val, tags[t].val_len);
    if (!ot[t].key || !ot[t].val) goto nomem;
  }
  for (uint32_t f = 0; f < n_fields; f++) {
    of[f] = fields[f];
    of[f].key = arena_copy(b, fields[f].key, fields[f].key_len);
    if (!of[f].key) goto nomem;
    if (fields[f].type == TS_STRING) {
      of[f].v.s.p = arena_copy(b, fields[f].v.s.p, fields[f].v.s.len);
      if (!of[f].v.s.p) goto nomem;
    }
  }
  lp_point *pt = &b->points[b->n_points++];
  pt->series_key = skey;
  pt->series_key_len = (uint32_t)skey_len;
  pt->measurement = meas;
  pt->measurement_len = measurement_len;
  pt->tags = ot;
  pt->n_tags = n_tags;
  pt->fields = of;
  pt->n_fields = n_fields;
  pt->ts_ns = ts_ns;
  pt->line = line;
  return 0;
nomem:
  arena_rollback(b, mark);
  return LOOM_ENOMEM;
}

/* ---------------------------------------------------------- the body ---- */

/* End of the line starting at i, as InfluxDB's scanLine finds it: a '\n'
 * outside a quoted field value and not right after a backslash. */
static size_t scan_line(const char *buf, size_t len, size_t i) {
  int quoted = 0, fields = 0;
  size_t equals = 0, commas = 0;
  while (i < len) {
    char c = buf[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == ' ') fields = 1;
    if (fields) {
      if (!quoted && c == '=') {
        i++;
        equals++;
        continue;
      }
      if (!quoted && c == ',') {
        i++;
        commas++;
        continue;
      }
      if (c == '"' && equals > commas) {
        i++;
        quoted = !quoted;
        continue;
      }
    }
    if (c == '\n' && !quoted) break;
    i++;
  }
  return i < len ? i : len;
}

static size_t find_byte(const char *body, size_t len, size_t from, int c) {
  const char *q = from < len ? memchr(body + from, c, len - from) : NULL;
  return q ? (size_t)(q - body) : len;
}

static int add_error(lp_batch *b, uint32_t line, const char *s, size_t n, const char *reason) {
  if (b->n_errors < LP_MAX_ERRORS) {
    if (!b->errors) {
      b->errors = loom_malloc(LP_MAX_ERRORS * sizeof *b->errors);
      if (!b->errors) return LOOM_ENOMEM;
    }
    lp_error *e = &b->errors[b->n_errors++];
    /* quote up to 100 bytes, fewer when the reason would not fit otherwise */
    size_t rl = strlen(reason), fixed = 17 + 6 + 1; /* "unable to parse '" "...': " NUL */
    size_t lim = rl + fixed + 100 <= sizeof e->msg ? 100 : sizeof e->msg - fixed - rl;
    if (rl + fixed + 32 > sizeof e->msg) lim = 32;
    size_t q = n, o = 0;
    int cut = 0;
    if (q > lim) {
      q = lim; /* do not split a UTF-8 sequence */
      while (q > 0 && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
      cut = 1;
    }
    static const char head[] = "unable to parse '";
    memcpy(e->msg, head, sizeof head - 1);
    o = sizeof head - 1;
    for (size_t k = 0; k < q; k++) e->msg[o++] = s[k] ? s[k] : '?';
    if (cut) {
      memcpy(e->msg + o, "...", 3);
      o += 3;
    }
    memcpy(e->msg + o, "': ", 3);
    o += 3;
    size_t room = sizeof e->msg - 1 - o; /* o <= 123 */
    if (rl > room) rl = room;
    memcpy(e->msg + o, reason, rl);
    e->msg[o + rl] = 0;
    e->line = line;
  }
  b->n_errors_total++;
  return 0;
}

int lp_parse(lp_batch *b, const char *body, size_t len, int64_t precision_ns,
             int64_t default_ts_ns) {
  if (!precision_ok(precision_ns)) return LOOM_EINVAL;
  /* floor the default time to the precision, as InfluxDB's SetPrecision */
  int64_t r = default_ts_ns % precision_ns, dflt = default_ts_ns - r;
  if (r < 0 && dflt >= INT64_MIN + precision_ns) dflt -= precision_ns;

  char reason[REASON_LEN];
  line_ctx x = {.b = b, .reason = reason};
  size_t pos = 0;
  size_t next_q = find_byte(body, len, 0, '"'), next_bs = find_byte(body, len, 0, '\\');
  uint64_t line = 1;
  while (pos < len) {
    const char *nlp = memchr(body + pos, '\n', len - pos);
    size_t end = nlp ? (size_t)(nlp - body) : len;
    size_t ls = pos;
    while (ls < end && (body[ls] == ' ' || body[ls] == '\t' || body[ls] == 0)) ls++;
    if (ls < end && body[ls] == '#') { /* a comment ends at the first '\n' */
      line++;
      pos = end + 1;
      continue;
    }
    if (next_q < pos) next_q = find_byte(body, len, pos, '"');
    if (next_bs < pos) next_bs = find_byte(body, len, pos, '\\');
    uint64_t inner_lines = 0;
    int has_bs = 0;
    if (next_q < end || next_bs < end) {
      end = scan_line(body, len, pos);
      has_bs = next_bs < end;
      for (const char *q = body + pos; (q = memchr(q, '\n', (size_t)(body + end - q))); q++)
        inner_lines++;
    }
    size_t le = end;
    if (le > ls && body[le - 1] == '\n') le--; /* a final "\\\n" jumped over */
    if (le > ls && body[le - 1] == '\r') le--;
    while (ls < le && (body[ls] == ' ' || body[ls] == '\t' || body[ls] == 0)) ls++;
    if (ls < le) {
      uint32_t ln = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
      arena_mark m = arena_mark_get(b);
      x.p = body + ls;
      x.n = le - ls;
      x.has_bs = has_bs;
      int rc = parse_line(&x, precision_ns, dflt, ln);
      if (rc) arena_rollback(b, m);
      if (rc < 0) return rc;
      if (rc > 0 && (rc = add_error(b, ln, x.p, x.n, reason))) return rc;
    }
    line += 1 + inner_lines;
    pos = end + 1;
  }
  return 0;
}
