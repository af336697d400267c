/* SPDX-License-Identifier: Apache-2.0
 * ThingsBoard telemetry JSON decoder and its line-protocol formatter (see
 * tbjson.h). jansson parses the body and this file walks the document;
 * the common flat object of numbers is read here directly (decode_flat),
 * keeping the numbers' text so that the formatter copies it.
 */
#include "ingest/tbjson.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/numfmt.h"
#include "ingest/lp.h"

#define TS_MS_MAX INT64_C(9223372036854) /* ms whose ns still fit in int64 */

void tbjson_batch_init(tbjson_batch *b) { memset(b, 0, sizeof *b); }

void tbjson_batch_deinit(tbjson_batch *b) {
  for (size_t i = 0; i < b->n_strs; i++) loom_free(b->strs[i]);
  loom_free(b->strs);
  loom_free(b->groups);
  loom_free(b->kvs);
  loom_free(b->nums);
  if (b->root) json_decref((json_t *)b->root);
  memset(b, 0, sizeof *b);
}

static void set_err(char *err, size_t errlen, const char *where, const char *what) {
  if (err && errlen) snprintf(err, errlen, "%s%s%s", where, *where ? ": " : "", what);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *p = loom_realloc(*arr, nc * elem);
  if (!p) return LOOM_ENOMEM;
  *arr = p;
  *cap = nc;
  return 0;
}

/* Append ".key" (cut to 64 bytes) to a path of size PATH_MAX_LEN. */
#define PATH_LEN 160
static void path_key(char *out, const char *base, const char *key) {
  snprintf(out, PATH_LEN, "%s%s%.64s%s", base, *base ? "." : "", key,
           strlen(key) > 64 ? "..." : "");
}

static int check_key(const char *key, size_t len, char *where, char *err, size_t errlen) {
  if (len == 0) {
    set_err(err, errlen, where, "empty telemetry key");
    return LOOM_EINVAL;
  }
  if (len > TBJSON_KEY_MAX) {
    set_err(err, errlen, where, "telemetry key longer than 255 bytes");
    return LOOM_EINVAL;
  }
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)key[i] < 0x20) {
      set_err(err, errlen, where, "control character in telemetry key");
      return LOOM_EINVAL;
    }
    if (key[i] == '\\') { /* line protocol has no escape for it before '=' */
      set_err(err, errlen, where, "backslash in telemetry key");
      return LOOM_EINVAL;
    }
  }
  if (!strcmp(key, "time")) {
    set_err(err, errlen, where, "\"time\" is reserved (InfluxDB's time column): rename the key");
    return LOOM_EINVAL;
  }
  return 0;
}

/* Compact JSON of an object or array value, owned by the batch. */
static int dump_json(tbjson_batch *b, const json_t *v, const char **out, uint32_t *len) {
  size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  if (n == 0 || n > UINT32_MAX - 1) return LOOM_ENOMEM;
  if (grow((void **)&b->strs, &b->cap_strs, b->n_strs + 1, sizeof *b->strs)) return LOOM_ENOMEM;
  char *s = loom_malloc(n + 1);
  if (!s) return LOOM_ENOMEM;
  if (json_dumpb(v, s, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
    loom_free(s);
    return LOOM_ENOMEM;
  }
  s[n] = 0;
  b->strs[b->n_strs++] = s;
  *out = s;
  *len = (uint32_t)n;
  return 0;
}

/* Every member of obj is a telemetry key: one group at ts_ns. */
static int add_values(tbjson_batch *b, const json_t *obj, int64_t ts_ns, const char *base,
                      char *err, size_t errlen) {
  size_t n = json_object_size(obj);
  if (n == 0) return 0;
  if (grow((void **)&b->groups, &b->cap_groups, b->n_groups + 1, sizeof *b->groups) ||
      grow((void **)&b->kvs, &b->cap_kvs, b->n_kvs + n, sizeof *b->kvs))
    return LOOM_ENOMEM;
  tbjson_group *g = &b->groups[b->n_groups];
  g->ts_ns = ts_ns;
  g->first = b->n_kvs;
  g->n = 0;
  const char *key;
  json_t *v;
  char where[PATH_LEN];
  json_object_foreach((json_t *)obj, key, v) {
    path_key(where, base, key);
    size_t klen = strlen(key);
    int rc = check_key(key, klen, where, err, errlen);
    if (rc) return rc;
    tbjson_kv *kv = &b->kvs[b->n_kvs];
    kv->key = key;
    kv->key_len = (uint32_t)klen;
    switch (json_typeof(v)) {
    case JSON_REAL:
      kv->type = TS_FLOAT;
      kv->v.f = json_real_value(v);
      break;
    case JSON_INTEGER: /* not produced with JSON_DECODE_INT_AS_REAL; kept for safety */
      kv->type = TS_FLOAT;
      kv->v.f = (double)json_integer_value(v);
      break;
    case JSON_TRUE:
    case JSON_FALSE:
      kv->type = TS_BOOL;
      kv->v.b = json_is_true(v) ? 1 : 0;
      break;
    case JSON_STRING: {
      size_t sl = json_string_length(v);
      if (sl > UINT32_MAX - 1) {
        set_err(err, errlen, where, "string value too long");
        return LOOM_EINVAL;
      }
      kv->type = TS_STRING;
      kv->v.s.p = json_string_value(v);
      kv->v.s.len = (uint32_t)sl;
      break;
    }
    case JSON_OBJECT:
    case JSON_ARRAY:
      kv->type = TS_STRING;
      rc = dump_json(b, v, &kv->v.s.p, &kv->v.s.len);
      if (rc) return rc;
      break;
    default:
      set_err(err, errlen, where, "null is not a telemetry value");
      return LOOM_EINVAL;
    }
    b->n_kvs++;
    g->n++;
  }
  b->n_groups++;
  return 0;
}

/* One object of the body: {"ts","values"} or plain key/values. */
static int add_object(tbjson_batch *b, const json_t *obj, int64_t now_ns, const char *base,
                      char *err, size_t errlen) {
  const json_t *ts = json_object_get(obj, "ts");
  const json_t *values = json_object_get(obj, "values");
  if (!ts || !values) return add_values(b, obj, now_ns, base, err, errlen);
  char where[PATH_LEN];
  path_key(where, base, "ts");
  double ms;
  if (json_is_real(ts)) ms = json_real_value(ts);
  else if (json_is_integer(ts)) ms = (double)json_integer_value(ts);
  else {
    set_err(err, errlen, where, "expected a number of milliseconds since the epoch");
    return LOOM_EINVAL;
  }
  if (ms != floor(ms) || ms < (double)-TS_MS_MAX || ms > (double)TS_MS_MAX) {
    set_err(err, errlen, where,
            "timestamp must be a whole number of milliseconds within +-292 years of 1970");
    return LOOM_EINVAL;
  }
  path_key(where, base, "values");
  if (!json_is_object(values)) {
    set_err(err, errlen, where, "expected an object of key/values");
    return LOOM_EINVAL;
  }
  return add_values(b, values, (int64_t)ms * 1000000, where, err, errlen);
}

/* ---- flat objects without jansson -------------------------------------- */

/* Well-formed UTF-8 as jansson checks it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
static bool utf8_ok(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (!k || n - i <= k) return false;
    uint32_t cp = c & (0x3f >> k);
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += k + 1;
  }
  return true;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The end of the JSON number at s[i..n), or 0 when there is none. */
static size_t json_number_end(const char *s, size_t i, size_t n) {
  if (i < n && s[i] == '-') i++;
  if (i >= n || !is_digit(s[i])) return 0;
  if (s[i] == '0') i++;
  else
    while (i < n && is_digit(s[i])) i++;
  if (i < n && s[i] == '.') {
    if (++i >= n || !is_digit(s[i])) return 0;
    while (i < n && is_digit(s[i])) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= n || !is_digit(s[i])) return 0;
    while (i < n && is_digit(s[i])) i++;
  }
  return i;
}

/* The double strtod reads from the JSON number s (n bytes, followed by a
 * byte that cannot continue it): exact small decimals directly (a mantissa
 * below 2^53 times or over an exact power of ten is one correctly rounded
 * operation), others through strtod. */
static double number_value(const char *s, size_t n) {
  static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  size_t i = 0;
  bool neg = s[0] == '-';
  if (neg) i++;
  uint64_t m = 0;
  int sig = 0, exp10 = 0;
  for (; i < n && is_digit(s[i]); i++)
    if (m || s[i] != '0') m = m * 10 + (uint64_t)(s[i] - '0'), sig++;
  if (i < n && s[i] == '.')
    for (i++; i < n && is_digit(s[i]); i++) {
      if (m || s[i] != '0') m = m * 10 + (uint64_t)(s[i] - '0'), sig++;
      exp10--;
      if (sig > 15) break;
    }
  if (sig <= 15 && i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = s[i] == '-';
    if (s[i] == '+' || s[i] == '-') i++;
    int e = 0;
    for (; i < n && is_digit(s[i]) && e < 1000; i++) e = e * 10 + (s[i] - '0');
    if (i < n) sig = 99; /* a huge exponent: strtod */
    exp10 += eneg ? -e : e;
  }
  if (sig <= 15 && i == n) {
    if (m == 0) return neg ? -0.0 : 0.0;
    if (exp10 >= -22 && exp10 <= 22) {
      double d = exp10 < 0 ? (double)m / p10[-exp10] : (double)m * p10[exp10];
      return neg ? -d : d;
    }
  }
  return strtod(s, NULL);
}

typedef struct flat_item {
  uint32_t ko, kl; /* key: offset, length in the copy */
  uint32_t vo, vl; /* value text: offset, length */
  ts_type type;
  ts_value v;
} flat_item;

int tbjson_decode_flat(tbjson_batch *b, const char *body, size_t len, int64_t now_ns) {
  if (!body || len < 2 || len > UINT32_MAX - 1 || b->n_groups || b->n_kvs) return 0;
  flat_item it[TBJSON_FLAT_MAX];
  size_t n = 0, i = 0;
  char *c = NULL;
  /* a first look on the caller's bytes: most bodies that are not flat end
   * here before anything is copied */
  while (i < len && is_ws(body[i])) i++;
  if (i >= len || body[i] != '{') return 0;
  if (!(c = loom_malloc(len + 1))) return LOOM_ENOMEM;
  memcpy(c, body, len);
  c[len] = 0;
  i++;
  for (;;) {
    while (i < len && is_ws(c[i])) i++;
    if (i >= len || c[i] != '"' || n == TBJSON_FLAT_MAX) goto no;
    size_t k0 = ++i;
    while (i < len && c[i] != '"' && c[i] != '\\' && (unsigned char)c[i] >= 0x20) i++;
    if (i >= len || c[i] != '"') goto no;
    flat_item *f = &it[n];
    f->ko = (uint32_t)k0;
    f->kl = (uint32_t)(i - k0);
    if (f->kl == 0 || f->kl > TBJSON_KEY_MAX || (f->kl == 4 && !memcmp(c + k0, "time", 4)) ||
        !utf8_ok((const unsigned char *)c + k0, f->kl))
      goto no;
    c[i++] = 0; /* the key is NUL-terminated in the copy */
    while (i < len && is_ws(c[i])) i++;
    if (i >= len || c[i] != ':') goto no;
    i++;
    while (i < len && is_ws(c[i])) i++;
    if (i >= len) goto no;
    f->vo = (uint32_t)i;
    if (c[i] == '"') {
      size_t v0 = ++i;
      while (i < len && c[i] != '"' && c[i] != '\\' && (unsigned char)c[i] >= 0x20) i++;
      if (i >= len || c[i] != '"' || !utf8_ok((const unsigned char *)c + v0, i - v0)) goto no;
      f->type = TS_STRING;
      f->v.s.p = c + v0;
      f->v.s.len = (uint32_t)(i - v0);
      f->vo = (uint32_t)v0;
      f->vl = f->v.s.len;
      c[i++] = 0;
    } else if (len - i >= 4 && !memcmp(c + i, "true", 4)) {
      f->type = TS_BOOL;
      f->v.b = 1;
      i += 4;
    } else if (len - i >= 5 && !memcmp(c + i, "false", 5)) {
      f->type = TS_BOOL;
      f->v.b = 0;
      i += 5;
    } else {
      size_t e = json_number_end(c, i, len);
      if (!e) goto no;
      f->type = TS_FLOAT;
      f->vl = (uint32_t)(e - i);
      f->v.f = number_value(c + i, e - i);
      if (!isfinite(f->v.f)) goto no; /* jansson: "real number overflow" */
      i = e;
    }
    n++;
    while (i < len && is_ws(c[i])) i++;
    if (i < len && c[i] == ',') {
      i++;
      continue;
    }
    if (i < len && c[i] == '}') break;
    goto no;
  }
  for (i++; i < len && is_ws(c[i]); i++) {
  }
  if (i != len) goto no;
  bool ts = false, values = false;
  for (size_t a = 0; a < n; a++) {
    ts |= it[a].kl == 2 && !memcmp(c + it[a].ko, "ts", 2);
    values |= it[a].kl == 6 && !memcmp(c + it[a].ko, "values", 6);
    for (size_t z = 0; z < a; z++)
      if (it[z].kl == it[a].kl && !memcmp(c + it[z].ko, c + it[a].ko, it[a].kl)) goto no;
  }
  if (ts && values) goto no;
  /* from here on b changes: allocate everything first */
  if (grow((void **)&b->strs, &b->cap_strs, b->n_strs + 1, sizeof *b->strs) ||
      grow((void **)&b->groups, &b->cap_groups, 1, sizeof *b->groups) ||
      grow((void **)&b->kvs, &b->cap_kvs, n, sizeof *b->kvs))
    goto nomem;
  tbjson_num *nums = loom_calloc(b->cap_kvs, sizeof *nums);
  if (!nums) goto nomem;
  loom_free(b->nums);
  b->nums = nums;
  b->strs[b->n_strs++] = c;
  for (size_t a = 0; a < n; a++) {
    tbjson_kv *kv = &b->kvs[a];
    kv->key = c + it[a].ko;
    kv->key_len = it[a].kl;
    kv->type = it[a].type;
    kv->v = it[a].v;
    if (it[a].type == TS_FLOAT) nums[a] = (tbjson_num){c + it[a].vo, it[a].vl};
  }
  b->n_kvs = n;
  b->groups[0] = (tbjson_group){.ts_ns = now_ns, .first = 0, .n = n};
  b->n_groups = n ? 1 : 0;
  return 1;
nomem:
  loom_free(c);
  return LOOM_ENOMEM;
no:
  loom_free(c);
  return 0;
}

/* ---- the general decoder ----------------------------------------------- */

int tbjson_decode(tbjson_batch *b, const char *body, size_t len, int64_t now_ns, char *err,
                  size_t errlen) {
  int rc = tbjson_decode_flat(b, body, len, now_ns);
  if (rc == 1) return 0;
  if (rc) {
    set_err(err, errlen, "", "out of memory");
    return rc;
  }
  return tbjson_decode_json(b, body, len, now_ns, err, errlen);
}

int tbjson_decode_json(tbjson_batch *b, const char *body, size_t len, int64_t now_ns, char *err,
                       size_t errlen) {
  json_error_t je;
  int rc = 0;
  json_t *root = json_loadb(body, len, JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &je);
  if (!root) {
    if (err && errlen)
      snprintf(err, errlen, "invalid JSON at line %d, column %d (byte %d): %s", je.line,
               je.column, je.position, je.text);
    return json_error_code(&je) == json_error_out_of_memory ? LOOM_ENOMEM : LOOM_EINVAL;
  }
  b->root = root;
  if (json_is_object(root)) {
    rc = add_object(b, root, now_ns, "", err, errlen);
  } else if (json_is_array(root)) {
    size_t i;
    json_t *el;
    json_array_foreach(root, i, el) {
      char where[PATH_LEN];
      snprintf(where, sizeof where, "[%zu]", i);
      if (!json_is_object(el)) {
        set_err(err, errlen, where, "expected an object");
        rc = LOOM_EINVAL;
        break;
      }
      if ((rc = add_object(b, el, now_ns, where, err, errlen))) break;
    }
  } else {
    set_err(err, errlen, "", "expected a JSON object or an array of objects");
    rc = LOOM_EINVAL;
  }
  if (rc == LOOM_ENOMEM) set_err(err, errlen, "", "out of memory");
  if (rc) tbjson_batch_deinit(b);
  return rc;
}

/* ---- line protocol ---------------------------------------------------- */

/* Names line protocol cannot carry unambiguously: control bytes, a
 * backslash (it may escape the separator that follows), a leading '#'
 * (a comment line). */
static int bad_name(const char *s) {
  if (!*s || *s == '#') return 1;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == '\\') return 1;
  return 0;
}

/* Put a backslash before each byte of s that is in `special`. */
static int append_escaped(loom_buf *out, const char *s, size_t len, const char *special) {
  /* the specials are among , space = " and backslash: a bit each */
  unsigned mask = 0;
  for (const char *q = special; *q; q++)
    mask |= *q == ',' ? 1u : *q == ' ' ? 2u : *q == '=' ? 4u : *q == '"' ? 8u : *q == '\\' ? 16u : 0u;
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    unsigned bit = c == ',' ? 1u : c == ' ' ? 2u : c == '=' ? 4u : c == '"' ? 8u : c == '\\' ? 16u : 0u;
    if (!(bit & mask)) continue;
    if (loom_buf_append(out, s + start, i - start) || loom_buf_append_u8(out, '\\'))
      return LOOM_ENOMEM;
    start = i;
  }
  return loom_buf_append(out, s + start, len - start) ? LOOM_ENOMEM : 0;
}

/* " <ts>\n" without printf. */
static int append_ts_line_end(loom_buf *out, int64_t ts) {
  char d[24];
  size_t n = sizeof d;
  uint64_t u = ts < 0 ? 0 - (uint64_t)ts : (uint64_t)ts;
  d[--n] = '\n';
  do {
    d[--n] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (ts < 0) d[--n] = '-';
  d[--n] = ' ';
  return loom_buf_append(out, d + n, sizeof d - n) ? LOOM_ENOMEM : 0;
}

/* The shortest of %.15g .. %.17g that reads back to the same double. */
static int append_kv(loom_buf *out, const tbjson_kv *kv, const tbjson_num *num) {
  if (append_escaped(out, kv->key, kv->key_len, ", =\"") || loom_buf_append_u8(out, '='))
    return LOOM_ENOMEM;
  switch (kv->type) {
  case TS_FLOAT:
    if (!isfinite(kv->v.f)) return LOOM_EINVAL;
    if (num && num->len) return loom_buf_append(out, num->p, num->len) ? LOOM_ENOMEM : 0;
    return loom_format_float(kv->v.f, out);
  case TS_INT: return loom_buf_printf(out, "%" PRId64 "i", kv->v.i) ? LOOM_ENOMEM : 0;
  case TS_BOOL: return loom_buf_append_str(out, kv->v.b ? "true" : "false") ? LOOM_ENOMEM : 0;
  case TS_STRING:
    if (loom_buf_append_u8(out, '"') || append_escaped(out, kv->v.s.p, kv->v.s.len, "\"\\") ||
        loom_buf_append_u8(out, '"'))
      return LOOM_ENOMEM;
    return 0;
  default: return LOOM_EINVAL;
  }
}

int tbjson_format_lp(const tbjson_batch *b, const char *measurement, const char *tag_key,
                     const char *tag_val, loom_buf *out) {
  if (!measurement || !tag_key || !tag_val || bad_name(measurement) || bad_name(tag_key) ||
      bad_name(tag_val))
    return LOOM_EINVAL;
  for (size_t g = 0; g < b->n_groups; g++) {
    const tbjson_group *gr = &b->groups[g];
    if (append_escaped(out, measurement, strlen(measurement), ", ") ||
        loom_buf_append_u8(out, ',') ||
        append_escaped(out, tag_key, strlen(tag_key), ", =") || loom_buf_append_u8(out, '=') ||
        append_escaped(out, tag_val, strlen(tag_val), ", =") || loom_buf_append_u8(out, ' '))
      return LOOM_ENOMEM;
    for (size_t i = 0; i < gr->n; i++) {
      if (i && loom_buf_append_u8(out, ',')) return LOOM_ENOMEM;
      size_t k = gr->first + i;
      int rc = append_kv(out, &b->kvs[k], b->nums ? &b->nums[k] : NULL);
      if (rc) return rc;
    }
    if (append_ts_line_end(out, gr->ts_ns)) return LOOM_ENOMEM;
  }
  return 0;
}

int tbjson_add_points(const tbjson_batch *b, const char *measurement, const char *tag_key,
                      const char *tag_val, uint32_t *line, lp_batch *out) {
  if (!measurement || !tag_key || !tag_val || bad_name(measurement) || bad_name(tag_key) ||
      bad_name(tag_val))
    return LOOM_EINVAL;
  lp_tag tag = {tag_key, tag_val, (uint32_t)strlen(tag_key), (uint32_t)strlen(tag_val)};
  lp_field fs[32];
  for (size_t g = 0; g < b->n_groups; g++) {
    const tbjson_group *gr = &b->groups[g];
    lp_field *f = gr->n <= 32 ? fs : loom_malloc(gr->n * sizeof *f);
    if (!f) return LOOM_ENOMEM;
    int rc = 0;
    uint32_t nl = 0;
    for (size_t i = 0; i < gr->n && !rc; i++) {
      const tbjson_kv *kv = &b->kvs[gr->first + i];
      f[i].key = kv->key;
      f[i].key_len = kv->key_len;
      f[i].type = kv->type;
      f[i].v = kv->v;
      if (kv->type == TS_STRING) /* lp_parse counts the newlines inside a string value */
        for (const char *q = kv->v.s.p, *e = q + kv->v.s.len; (q = memchr(q, '\n', (size_t)(e - q)));
             q++)
          nl++;
      if ((kv->type == TS_FLOAT && !isfinite(kv->v.f)) ||
          (kv->type != TS_FLOAT && kv->type != TS_INT && kv->type != TS_BOOL &&
           kv->type != TS_STRING))
        rc = LOOM_EINVAL;
    }
    if (!rc)
      rc = lp_batch_add(out, measurement, (uint32_t)strlen(measurement), &tag, 1, f,
                        (uint32_t)gr->n, gr->ts_ns, *line);
    if (f != fs) loom_free(f);
    if (rc) return rc;
    *line += 1 + nl;
  }
  return 0;
}

/* ---- building a batch (other producers: UNS rules) ---- */

const char *tbjson_batch_own(tbjson_batch *b, const char *s, size_t len) {
  if (grow((void **)&b->strs, &b->cap_strs, b->n_strs + 1, sizeof *b->strs)) return NULL;
  char *c = loom_malloc(len + 1);
  if (!c) return NULL;
  memcpy(c, s, len);
  c[len] = 0;
  b->strs[b->n_strs++] = c;
  return c;
}

int tbjson_batch_group(tbjson_batch *b, int64_t ts_ns) {
  if (grow((void **)&b->groups, &b->cap_groups, b->n_groups + 1, sizeof *b->groups))
    return LOOM_ENOMEM;
  b->groups[b->n_groups] = (tbjson_group){.ts_ns = ts_ns, .first = b->n_kvs, .n = 0};
  return 0;
}

tbjson_kv *tbjson_batch_kv(tbjson_batch *b, const char *key, size_t key_len) {
  if (grow((void **)&b->kvs, &b->cap_kvs, b->n_kvs + 1, sizeof *b->kvs)) return NULL;
  tbjson_kv *kv = &b->kvs[b->n_kvs++];
  kv->key = key;
  kv->key_len = (uint32_t)key_len;
  b->groups[b->n_groups].n++;
  return kv;
}

void tbjson_batch_group_end(tbjson_batch *b) {
  if (b->groups[b->n_groups].n) b->n_groups++;
}
