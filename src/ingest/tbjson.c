/* SPDX-License-Identifier: Apache-2.0
 * ThingsBoard telemetry JSON decoder and its line-protocol formatter (see
 * tbjson.h). jansson parses the body; this file walks the document.
 */
#include "ingest/tbjson.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/numfmt.h"

#define TS_MS_MAX INT64_C(9223372036854) /* ms whose ns still fit in int64 */

void tbjson_batch_init(tbjson_batch *b) { memset(b, 0, sizeof *b); }

void tbjson_batch_deinit(tbjson_batch *b) {
  for (size_t i = 0; i < b->n_strs; i++) loom_free(b->strs[i]);
  loom_free(b->strs);
  loom_free(b->groups);
  loom_free(b->kvs);
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

int tbjson_decode(tbjson_batch *b, const char *body, size_t len, int64_t now_ns, char *err,
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
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    if (!strchr(special, s[i]) || !s[i]) continue;
    if (loom_buf_append(out, s + start, i - start) || loom_buf_append_u8(out, '\\'))
      return LOOM_ENOMEM;
    start = i;
  }
  return loom_buf_append(out, s + start, len - start) ? LOOM_ENOMEM : 0;
}

/* The shortest of %.15g .. %.17g that reads back to the same double. */
static int append_kv(loom_buf *out, const tbjson_kv *kv) {
  if (append_escaped(out, kv->key, kv->key_len, ", =\"") || loom_buf_append_u8(out, '='))
    return LOOM_ENOMEM;
  switch (kv->type) {
  case TS_FLOAT: return isfinite(kv->v.f) ? loom_format_float(kv->v.f, out) : LOOM_EINVAL;
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
      int rc = append_kv(out, &b->kvs[gr->first + i]);
      if (rc) return rc;
    }
    if (loom_buf_printf(out, " %lld\n", (long long)gr->ts_ns)) return LOOM_ENOMEM;
  }
  return 0;
}
