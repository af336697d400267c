/* SPDX-License-Identifier: Apache-2.0
 * Unified-namespace mapping rules (see uns.h): compile rule objects into
 * level arrays and template part lists, then match a topic level by level
 * with captures kept as (offset, length) pairs on the stack, so a publish no
 * rule matches costs a walk over the rules and no allocation. A match then
 * expands the templates and reads the payload into a tbjson_batch (its
 * internal arrays are filled here as tbjson.c fills them: kvs, groups,
 * owned strings in strs, the parsed document in root).
 */
#include "mqtt/uns.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "mqtt/topic.h"

#define TS_MS_MAX INT64_C(9223372036854) /* ms whose ns still fit in int64 */
#define FIELD_MAX 255                    /* device, profile, key bytes */

enum { LV_LIT, LV_PLUS, LV_HASH };
enum { PL_AUTO, PL_JSON, PL_PLAIN };

typedef struct level {
  uint8_t kind;
  int8_t cap; /* capture index or -1 */
  const char *lit; /* LV_LIT: points into rule->pattern */
  uint32_t lit_len;
} level;

/* A template part: literal text (cap < 0) or a capture reference. */
typedef struct part {
  int cap;
  const char *s; /* literal: into tpl->text */
  size_t len;
} part;

typedef struct tpl {
  char *text; /* unescaped literal pieces, one after another */
  part *parts;
  size_t n_parts;
} tpl;

/* A member path: segments split at '.', each NUL-terminated in buf. */
typedef struct mpath {
  char *text; /* the path as written, for messages */
  char *buf;
  const char **seg;
  size_t n_seg;
} mpath;

typedef struct rule {
  char *name;
  char *pattern;
  level levels[UNS_LEVELS_MAX];
  size_t n_levels;
  char cap_names[UNS_CAPTURES_MAX][UNS_NAME_MAX + 1];
  size_t n_caps;
  bool first_wild; /* first level is + or #: '$' topics never match */
  tpl device, profile, key;
  int payload;
  mpath value, ts; /* n_seg 0: absent */
  int64_t priority;
  size_t index; /* position in the compiled array (stable ties) */
} rule;

/* Rules whose first pattern level is one literal, by that literal. */
typedef struct bucket {
  uint32_t *idx; /* positions in uns_rules.rules, ascending */
  size_t n, cap;
} bucket;

/* Matching looks only at the rules of the topic's first level's bucket and
 * at the rules starting with a wildcard, merged in match order: a publish
 * no rule could match costs one hash look-up, however many rules. */
struct uns_rules {
  atomic_size_t refs; /* uns_rules_ref / uns_rules_free */
  rule **rules;       /* enabled, in match order */
  size_t n;
  strmap first;       /* first literal level -> index in buckets */
  bucket *buckets;
  size_t n_buckets;
  bucket wild;        /* rules starting with '+' or '#' */
};

/* ---- errors ------------------------------------------------------------ */

/* "rule \"name\"" or "rule [i]" into who (64 + name bytes). */
#define WHO_LEN 96
static void who_of(char *who, const char *name, size_t i) {
  if (name) snprintf(who, WHO_LEN, "rule \"%.64s%s\"", name, strlen(name) > 64 ? "..." : "");
  else snprintf(who, WHO_LEN, "rule [%zu]", i);
}

/* ---- freeing ------------------------------------------------------------ */

static void tpl_free(tpl *t) {
  loom_free(t->text);
  loom_free(t->parts);
}

static void mpath_free(mpath *p) {
  loom_free(p->text);
  loom_free(p->buf);
  loom_free(p->seg);
}

static void rule_free(rule *r) {
  if (!r) return;
  loom_free(r->name);
  loom_free(r->pattern);
  tpl_free(&r->device);
  tpl_free(&r->profile);
  tpl_free(&r->key);
  mpath_free(&r->value);
  mpath_free(&r->ts);
  loom_free(r);
}

const uns_rules *uns_rules_ref(const uns_rules *r) {
  /* the count is the one mutable part of a shared, otherwise immutable set */
  if (r) atomic_fetch_add_explicit(&((uns_rules *)r)->refs, 1, memory_order_relaxed);
  return r;
}

void uns_rules_free(const uns_rules *cr) {
  uns_rules *r = (uns_rules *)cr;
  if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < r->n; i++) rule_free(r->rules[i]);
  loom_free(r->rules);
  for (size_t i = 0; i < r->n_buckets; i++) loom_free(r->buckets[i].idx);
  loom_free(r->buckets);
  loom_free(r->wild.idx);
  strmap_deinit(&r->first);
  loom_free(r);
}

size_t uns_rules_count(const uns_rules *r) { return r ? r->n : 0; }

/* ---- compiling ---------------------------------------------------------- */

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Text a device, profile or key may hold: no control bytes, no backslash. */
static const char *bad_text(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return "a control character";
    if (s[i] == '\\') return "a backslash";
  }
  return NULL;
}

static int find_cap(const rule *r, const char *name, size_t len) {
  if (len == 0 || len > UNS_NAME_MAX) return -1;
  for (size_t i = 0; i < r->n_caps; i++)
    if (strlen(r->cap_names[i]) == len && !memcmp(r->cap_names[i], name, len)) return (int)i;
  return -1;
}

static int compile_pattern(rule *r, const char *who, char *err, size_t errlen) {
  size_t len = strlen(r->pattern);
  if (len == 0)
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: pattern: must not be empty", who);
  if (len > MQTT_TOPIC_MAX_LEN || mqtt_utf8_validate(r->pattern, len))
    return loom_errf(err, errlen, LOOM_EINVAL,
                "%s: pattern: must be valid UTF-8 of at most 65535 bytes", who);
  const char *p = r->pattern, *end = p + len;
  for (;;) {
    const char *e = memchr(p, '/', (size_t)(end - p));
    if (!e) e = end;
    size_t ll = (size_t)(e - p);
    if (r->n_levels == UNS_LEVELS_MAX)
      return loom_errf(err, errlen, LOOM_EINVAL, "%s: pattern: more than %d levels", who,
                  UNS_LEVELS_MAX);
    level *lv = &r->levels[r->n_levels];
    lv->cap = -1;
    if (ll > 0 && (p[0] == '+' || p[0] == '#')) {
      lv->kind = p[0] == '+' ? LV_PLUS : LV_HASH;
      if (lv->kind == LV_HASH && e != end)
        return loom_errf(err, errlen, LOOM_EINVAL, "%s: pattern: '#' must be the last level", who);
      if (ll > 1) {
        size_t nl = ll - 1;
        for (size_t i = 1; i < ll; i++)
          if (!name_char(p[i]))
            return loom_errf(err, errlen, LOOM_EINVAL,
                        "%s: pattern: level \"%.*s\": a capture name is 1-%d characters of "
                        "A-Z a-z 0-9 _",
                        who, (int)(ll > 40 ? 40 : ll), p, UNS_NAME_MAX);
        if (nl > UNS_NAME_MAX)
          return loom_errf(err, errlen, LOOM_EINVAL,
                      "%s: pattern: capture name longer than %d characters", who, UNS_NAME_MAX);
        if (find_cap(r, p + 1, nl) >= 0)
          return loom_errf(err, errlen, LOOM_EINVAL, "%s: pattern: capture {%.*s} named twice", who,
                      (int)nl, p + 1);
        if (r->n_caps == UNS_CAPTURES_MAX)
          return loom_errf(err, errlen, LOOM_EINVAL, "%s: pattern: more than %d captures", who,
                      UNS_CAPTURES_MAX);
        memcpy(r->cap_names[r->n_caps], p + 1, nl);
        r->cap_names[r->n_caps][nl] = 0;
        lv->cap = (int8_t)r->n_caps++;
      }
      if (r->n_levels == 0) r->first_wild = true;
    } else {
      for (size_t i = 0; i < ll; i++)
        if (p[i] == '+' || p[i] == '#')
          return loom_errf(err, errlen, LOOM_EINVAL,
                      "%s: pattern: '%c' must begin a level (\"+\", \"+name\", \"#\", "
                      "\"#name\")",
                      who, p[i]);
      lv->kind = LV_LIT;
      lv->lit = p;
      lv->lit_len = (uint32_t)ll;
    }
    r->n_levels++;
    if (e == end) break;
    p = e + 1;
  }
  return 0;
}

/* Parse template s of `field` into t, checking references against r's
 * captures and literal text against bad_text. */
static int compile_tpl(const rule *r, tpl *t, const char *s, const char *field, const char *who,
                       char *err, size_t errlen) {
  size_t len = strlen(s);
  t->text = loom_malloc(len + 1);
  t->parts = loom_calloc(len + 1, sizeof *t->parts);
  if (!t->text || !t->parts) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  size_t tl = 0;
  part *cur = NULL; /* literal part being extended */
  for (size_t i = 0; i < len;) {
    char c = s[i];
    if ((c == '{' && s[i + 1] == '{') || (c == '}' && s[i + 1] == '}')) {
      i++; /* escaped brace: one literal */
    } else if (c == '}') {
      return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: unmatched '}' (write \"}}\" for a brace)",
                  who, field);
    } else if (c == '{') {
      const char *close = strchr(s + i + 1, '}');
      if (!close)
        return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: unterminated '{' (write \"{{\" for a brace)",
                    who, field);
      size_t nl = (size_t)(close - (s + i + 1));
      int cap = find_cap(r, s + i + 1, nl);
      if (cap < 0)
        return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: {%.*s} is not a capture of the pattern", who,
                    field, (int)(nl > 40 ? 40 : nl), s + i + 1);
      t->parts[t->n_parts++] = (part){.cap = cap, .s = NULL, .len = 0};
      cur = NULL;
      i += nl + 2;
      continue;
    }
    if (!cur) {
      cur = &t->parts[t->n_parts++];
      *cur = (part){.cap = -1, .s = t->text + tl, .len = 0};
    }
    t->text[tl++] = s[i++];
    cur->len++;
  }
  t->text[tl] = 0;
  const char *bad = bad_text(t->text, tl);
  if (bad) return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: contains %s", who, field, bad);
  if (tl > FIELD_MAX)
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: longer than %d bytes", who, field, FIELD_MAX);
  return 0;
}

static bool tpl_literal(const tpl *t) {
  for (size_t i = 0; i < t->n_parts; i++)
    if (t->parts[i].cap >= 0) return false;
  return true;
}

static int compile_path(mpath *p, const char *s, const char *field, const char *who, char *err,
                        size_t errlen) {
  size_t len = strlen(s);
  if (len == 0 || len > 1024)
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: a member path of 1-1024 bytes (\"data.v\")",
                who, field);
  p->text = loom_strdup(s);
  p->buf = loom_strdup(s);
  size_t n = 1;
  for (size_t i = 0; i < len; i++) n += s[i] == '.';
  p->seg = loom_calloc(n, sizeof *p->seg);
  if (!p->text || !p->buf || !p->seg) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  char *q = p->buf;
  for (;;) {
    char *dot = strchr(q, '.');
    if (dot) *dot = 0;
    if (!*q)
      return loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: empty member name in \"%.64s\"", who, field,
                  s);
    p->seg[p->n_seg++] = q;
    if (!dot) break;
    q = dot + 1;
  }
  return 0;
}

/* Optional string member: NULL when absent or null; *bad when of another type. */
static const char *opt_str(const json_t *o, const char *k, bool *bad) {
  const json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) return NULL;
  if (!json_is_string(v)) *bad = true;
  return json_string_value(v);
}

static int compile_rule(const json_t *o, size_t idx, rule **out, bool *enabled, char *err,
                        size_t errlen) {
  char who[WHO_LEN];
  int rc;
  const char *name = json_string_value(json_object_get(o, "name"));
  if (!json_is_object(o)) {
    who_of(who, NULL, idx);
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: must be an object", who);
  }
  if (!name || !*name || strlen(name) > FIELD_MAX || bad_text(name, strlen(name))) {
    who_of(who, NULL, idx);
    return loom_errf(err, errlen, LOOM_EINVAL,
                "%s: name: required, 1-255 bytes without control characters", who);
  }
  who_of(who, name, idx);
  rule *r = loom_calloc(1, sizeof *r);
  if (!r) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  r->index = idx;
  bool bad = false;
  const char *pattern = opt_str(o, "pattern", &bad);
  if (bad || !pattern) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: pattern: required string", who);
    goto out;
  }
  const char *device = opt_str(o, "device", &bad);
  if (bad || !device || !*device) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: device: required non-empty template", who);
    goto out;
  }
  const char *fields[] = {"profile", "key", "payload", "value", "ts"};
  const char *vals[5];
  for (size_t i = 0; i < 5; i++) {
    vals[i] = opt_str(o, fields[i], &bad);
    if (bad) {
      rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: %s: expected a string or null", who, fields[i]);
      goto out;
    }
  }
  const json_t *en = json_object_get(o, "enabled");
  if (en && !json_is_boolean(en) && !json_is_null(en)) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: enabled: expected true or false", who);
    goto out;
  }
  *enabled = !en || !json_is_false(en);
  const json_t *pr = json_object_get(o, "priority");
  if (pr && !json_is_integer(pr) && !json_is_null(pr)) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: priority: expected an integer", who);
    goto out;
  }
  r->priority = json_is_integer(pr) ? json_integer_value(pr) : 0;
  const char *pl = vals[2] ? vals[2] : "auto";
  if (!strcmp(pl, "auto")) r->payload = PL_AUTO;
  else if (!strcmp(pl, "json")) r->payload = PL_JSON;
  else if (!strcmp(pl, "plain")) r->payload = PL_PLAIN;
  else {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: payload: must be \"auto\", \"json\" or \"plain\"", who);
    goto out;
  }
  r->name = loom_strdup(name);
  r->pattern = loom_strdup(pattern);
  if (!r->name || !r->pattern) {
    rc = loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = compile_pattern(r, who, err, errlen))) goto out;
  if ((rc = compile_tpl(r, &r->device, device, "device", who, err, errlen)) ||
      (rc = compile_tpl(r, &r->profile, vals[0] ? vals[0] : "uns", "profile", who, err, errlen)) ||
      (rc = compile_tpl(r, &r->key, vals[1] ? vals[1] : "value", "key", who, err, errlen)))
    goto out;
  if (r->device.text[0] == '#' && r->device.parts[0].cap < 0) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: device: must not start with '#'", who);
    goto out;
  }
  if (tpl_literal(&r->profile) && (!r->profile.text[0] || r->profile.text[0] == '#')) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: profile: must be non-empty and not start with '#'",
              who);
    goto out;
  }
  if (tpl_literal(&r->key) && (!r->key.text[0] || !strcmp(r->key.text, "time"))) {
    rc = loom_errf(err, errlen, LOOM_EINVAL,
              "%s: key: must be non-empty and not \"time\" (InfluxDB's time column)", who);
    goto out;
  }
  if (vals[3] && (rc = compile_path(&r->value, vals[3], "value", who, err, errlen))) goto out;
  if (vals[4] && (rc = compile_path(&r->ts, vals[4], "ts", who, err, errlen))) goto out;
  if (r->payload == PL_PLAIN && (r->value.n_seg || r->ts.n_seg)) {
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: value and ts need a JSON payload (payload is \"plain\")",
              who);
    goto out;
  }
  *out = r;
  return 0;
out:
  rule_free(r);
  return rc;
}

static int cmp_rule(const void *a, const void *b) {
  const rule *x = *(rule *const *)a, *y = *(rule *const *)b;
  if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int bucket_add(bucket *b, uint32_t i) {
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 4;
    uint32_t *p = loom_realloc(b->idx, nc * sizeof *p);
    if (!p) return LOOM_ENOMEM;
    b->idx = p;
    b->cap = nc;
  }
  b->idx[b->n++] = i;
  return 0;
}

/* Fill the first-level index of the sorted rules. 0 or LOOM_ENOMEM. */
static int index_rules(uns_rules *r) {
  if (r->n && !(r->buckets = loom_calloc(r->n, sizeof *r->buckets))) return LOOM_ENOMEM;
  for (size_t i = 0; i < r->n; i++) {
    const level *lv = &r->rules[i]->levels[0];
    if (lv->kind != LV_LIT) {
      if (bucket_add(&r->wild, (uint32_t)i)) return LOOM_ENOMEM;
      continue;
    }
    uint64_t h = strmap_hash(lv->lit, lv->lit_len);
    uint32_t b;
    if (strmap_get(&r->first, lv->lit, lv->lit_len, h, &b)) {
      b = (uint32_t)r->n_buckets;
      if (strmap_put(&r->first, lv->lit, lv->lit_len, h, b)) return LOOM_ENOMEM;
      r->n_buckets++;
    }
    if (bucket_add(&r->buckets[b], (uint32_t)i)) return LOOM_ENOMEM;
  }
  return 0;
}

int uns_rules_compile(const json_t *rules, uns_rules **out, char *err, size_t errlen) {
  if (!json_is_array(rules))
    return loom_errf(err, errlen, LOOM_EINVAL, "rules: expected an array of rule objects");
  size_t n = json_array_size(rules);
  uns_rules *r = loom_calloc(1, sizeof *r);
  if (!r) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  atomic_init(&r->refs, 1);
  int rc = 0;
  if (n && !(r->rules = loom_calloc(n, sizeof *r->rules))) {
    rc = loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    rule *ru = NULL;
    bool enabled = true;
    rc = compile_rule(json_array_get(rules, i), i, &ru, &enabled, err, errlen);
    if (rc) goto out;
    if (enabled) r->rules[r->n++] = ru;
    else rule_free(ru);
  }
  if (r->n > 1) qsort(r->rules, r->n, sizeof *r->rules, cmp_rule);
  if ((rc = index_rules(r))) {
    rc = loom_errf(err, errlen, rc, "out of memory");
    goto out;
  }
  *out = r;
  return 0;
out:
  uns_rules_free(r);
  return rc;
}

/* ---- matching ----------------------------------------------------------- */

typedef struct caps {
  uint32_t off[UNS_CAPTURES_MAX], len[UNS_CAPTURES_MAX];
} caps;

static bool match(const rule *r, const char *t, size_t n, caps *c) {
  if (r->first_wild && n > 0 && t[0] == '$') return false;
  size_t p = 0;
  bool more = true; /* a topic level starts at p */
  for (size_t i = 0; i < r->n_levels; i++) {
    const level *lv = &r->levels[i];
    if (lv->kind == LV_HASH) {
      if (lv->cap >= 0) {
        c->off[lv->cap] = (uint32_t)(more ? p : n);
        c->len[lv->cap] = (uint32_t)(more ? n - p : 0);
      }
      return true;
    }
    if (!more) return false;
    const char *e = memchr(t + p, '/', n - p);
    size_t end = e ? (size_t)(e - t) : n;
    if (lv->kind == LV_LIT) {
      if (end - p != lv->lit_len || memcmp(t + p, lv->lit, lv->lit_len)) return false;
    } else if (lv->cap >= 0) {
      c->off[lv->cap] = (uint32_t)p;
      c->len[lv->cap] = (uint32_t)(end - p);
    }
    if (end == n) more = false;
    else p = end + 1;
  }
  return !more;
}

/* Expand t into out (FIELD_MAX + 1 bytes). 0 or LOOM_EINVAL (too long). */
static int expand(const tpl *t, const char *topic, const caps *c, char *out, size_t *len_out) {
  size_t len = 0;
  for (size_t i = 0; i < t->n_parts; i++) {
    const part *pt = &t->parts[i];
    const char *s = pt->cap >= 0 ? topic + c->off[pt->cap] : pt->s;
    size_t l = pt->cap >= 0 ? c->len[pt->cap] : pt->len;
    if (len + l > FIELD_MAX) return LOOM_EINVAL;
    memcpy(out + len, s, l);
    len += l;
  }
  out[len] = 0;
  *len_out = len;
  return 0;
}

/* ---- the batch ---------------------------------------------------------- */

/* tbjson's key rule; why names the failure or NULL. */
static const char *key_problem(const char *k, size_t len) {
  if (len == 0) return "empty telemetry key";
  if (len > FIELD_MAX) return "telemetry key longer than 255 bytes";
  const char *bad = bad_text(k, len);
  if (bad) return bad[2] == 'c' ? "control character in telemetry key" /* "a control ..." */
                                : "backslash in telemetry key";
  if (len == 4 && !memcmp(k, "time", 4)) return "key \"time\" is reserved (InfluxDB's time column)";
  return NULL;
}

/* Store JSON value v under key. 0, LOOM_EINVAL, LOOM_ENOMEM. */
static int put_json(tbjson_batch *b, const char *key, size_t key_len, const json_t *v,
                    const char *who, char *err, size_t errlen) {
  const char *kp = key_problem(key, key_len);
  if (kp) return loom_errf(err, errlen, LOOM_EINVAL, "%s: %.64s: %s", who, key, kp);
  tbjson_kv kv = {.key = key, .key_len = (uint32_t)key_len};
  switch (json_typeof(v)) {
  case JSON_REAL:
    kv.type = TS_FLOAT;
    kv.v.f = json_real_value(v);
    break;
  case JSON_INTEGER:
    kv.type = TS_FLOAT;
    kv.v.f = (double)json_integer_value(v);
    break;
  case JSON_TRUE:
  case JSON_FALSE:
    kv.type = TS_BOOL;
    kv.v.b = json_is_true(v) ? 1 : 0;
    break;
  case JSON_STRING:
    if (json_string_length(v) > UINT32_MAX - 1)
      return loom_errf(err, errlen, LOOM_EINVAL, "%s: %.64s: string value too long", who, key);
    kv.type = TS_STRING;
    kv.v.s.p = json_string_value(v);
    kv.v.s.len = (uint32_t)json_string_length(v);
    break;
  case JSON_OBJECT:
  case JSON_ARRAY: {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
    size_t sl = strlen(s);
    kv.type = TS_STRING;
    kv.v.s.p = tbjson_batch_own(b, s, sl);
    kv.v.s.len = (uint32_t)sl;
    free(s);
    if (!kv.v.s.p) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
    break;
  }
  default:
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: %.64s: null is not a telemetry value", who, key);
  }
  tbjson_kv *dst = tbjson_batch_kv(b, key, key_len);
  if (!dst) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  *dst = kv;
  return 0;
}

static const json_t *walk(const json_t *v, const mpath *p) {
  for (size_t i = 0; v && i < p->n_seg; i++) {
    const char *s = p->seg[i];
    if (json_is_object(v)) {
      v = json_object_get(v, s);
    } else if (json_is_array(v)) {
      char *end;
      if (s[0] < '0' || s[0] > '9') return NULL;
      unsigned long long k = strtoull(s, &end, 10);
      if (*end) return NULL;
      v = json_array_get(v, (size_t)k);
    } else {
      return NULL;
    }
  }
  return v;
}

/* The time at member path p of v, or now_ns when absent. */
static int read_ts(const rule *r, const json_t *v, int64_t now_ns, int64_t *ts, const char *who,
                   char *err, size_t errlen) {
  *ts = now_ns;
  if (!r->ts.n_seg) return 0;
  const json_t *t = walk(v, &r->ts);
  if (!t || json_is_null(t)) return 0;
  if (json_is_number(t)) {
    double ms = json_number_value(t);
    if (ms != floor(ms) || ms < (double)-TS_MS_MAX || ms > (double)TS_MS_MAX)
      return loom_errf(err, errlen, LOOM_EINVAL,
                  "%s: ts: %s must be a whole number of milliseconds within +-292 years of 1970",
                  who, r->ts.text);
    *ts = (int64_t)ms * 1000000;
    return 0;
  }
  if (json_is_string(t) &&
      !loom_time_parse_rfc3339(json_string_value(t), json_string_length(t), ts))
    return 0;
  return loom_errf(err, errlen, LOOM_EINVAL,
              "%s: ts: %s must hold milliseconds since the epoch or an RFC 3339 time", who,
              r->ts.text);
}

/* One object of an object payload: ThingsBoard's {"ts","values"} or every
 * member (but the ts member) as a key. */
static int put_object(tbjson_batch *b, const rule *r, const json_t *o, int64_t now_ns,
                      const char *who, char *err, size_t errlen) {
  const json_t *tbts = json_object_get(o, "ts"), *values = json_object_get(o, "values");
  int64_t ts;
  const char *skip = r->ts.n_seg == 1 ? r->ts.seg[0] : NULL;
  int rc;
  if (tbts && values) {
    if (!json_is_number(tbts) || !json_is_object(values))
      return loom_errf(err, errlen, LOOM_EINVAL,
                  "%s: {\"ts\",\"values\"}: ts must be milliseconds and values an object", who);
    double ms = json_number_value(tbts);
    if (ms != floor(ms) || ms < (double)-TS_MS_MAX || ms > (double)TS_MS_MAX)
      return loom_errf(err, errlen, LOOM_EINVAL,
                  "%s: ts: must be a whole number of milliseconds within +-292 years of 1970", who);
    ts = (int64_t)ms * 1000000;
    o = values;
    skip = NULL;
  } else if ((rc = read_ts(r, o, now_ns, &ts, who, err, errlen))) {
    return rc;
  }
  if ((rc = tbjson_batch_group(b, ts))) return loom_errf(err, errlen, rc, "out of memory");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    if (skip && !strcmp(k, skip)) continue;
    if ((rc = put_json(b, k, strlen(k), v, who, err, errlen))) return rc;
  }
  tbjson_batch_group_end(b);
  return 0;
}

/* Strict decimal number (JSON's syntax, leading zeros and '+' allowed). */
static bool plain_number(const char *s, size_t len, double *out) {
  size_t i = 0, digits = 0;
  if (i < len && (s[i] == '-' || s[i] == '+')) i++;
  while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
  }
  if (!digits) return false;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '-' || s[i] == '+')) i++;
    size_t ed = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, ed++;
    if (!ed) return false;
  }
  if (i != len || len > 400) return false;
  char buf[401];
  memcpy(buf, s, len);
  buf[len] = 0;
  double d = strtod(buf, NULL);
  if (!isfinite(d)) return false;
  *out = d;
  return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int put_plain(tbjson_batch *b, const char *key, size_t key_len, const uint8_t *payload,
                     size_t len, int64_t now_ns, const char *who, char *err, size_t errlen) {
  const char *s = (const char *)payload;
  if (len == 0) return loom_errf(err, errlen, LOOM_EINVAL, "%s: empty payload", who);
  if (mqtt_utf8_validate(s, len))
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: the payload is neither JSON nor valid UTF-8 text",
                who);
  const char *kp = key_problem(key, key_len);
  if (kp) return loom_errf(err, errlen, LOOM_EINVAL, "%s: %.64s: %s", who, key, kp);
  size_t a = 0, z = len;
  while (a < z && is_space(s[a])) a++;
  while (z > a && is_space(s[z - 1])) z--;
  tbjson_kv kv = {.key = key, .key_len = (uint32_t)key_len};
  double d;
  if (plain_number(s + a, z - a, &d)) {
    kv.type = TS_FLOAT;
    kv.v.f = d;
  } else if ((z - a == 4 && !memcmp(s + a, "true", 4)) || (z - a == 5 && !memcmp(s + a, "false", 5))) {
    kv.type = TS_BOOL;
    kv.v.b = s[a] == 't';
  } else {
    if (len > UINT32_MAX - 1) return loom_errf(err, errlen, LOOM_EINVAL, "%s: payload too long", who);
    kv.type = TS_STRING;
    kv.v.s.p = tbjson_batch_own(b, s, len);
    kv.v.s.len = (uint32_t)len;
    if (!kv.v.s.p) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  }
  if (tbjson_batch_group(b, now_ns)) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  tbjson_kv *dst = tbjson_batch_kv(b, key, key_len);
  if (!dst) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  *dst = kv;
  tbjson_batch_group_end(b);
  return 0;
}

/* Read the payload under rule r into b. */
static int read_payload(tbjson_batch *b, const rule *r, const char *key, size_t key_len,
                        const uint8_t *payload, size_t len, int64_t now_ns, const char *who,
                        char *err, size_t errlen) {
  json_t *doc = NULL;
  bool scalar = false;
  if (r->payload == PL_AUTO && !r->value.n_seg && len <= 400) {
    /* a bare number or true/false reads the same as JSON and as text: skip
     * the JSON parser, the common plant payload */
    const char *t = (const char *)payload;
    size_t a = 0, z = len;
    double d;
    while (a < z && is_space(t[a])) a++;
    while (z > a && is_space(t[z - 1])) z--;
    scalar = plain_number(t + a, z - a, &d) || (z - a == 4 && !memcmp(t + a, "true", 4)) ||
             (z - a == 5 && !memcmp(t + a, "false", 5));
  }
  if (r->payload != PL_PLAIN && !scalar && !r->value.n_seg && !r->ts.n_seg) {
    /* the common plant payload, a flat object of numbers: without jansson
     * (the same kvs as put_object gives; anything else is declined) */
    int fr = tbjson_decode_flat(b, (const char *)payload, len, now_ns);
    if (fr == 1) return 0;
    if (fr) return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  }
  if (r->payload != PL_PLAIN && !scalar) {
    json_error_t je;
    if (len == 0) return loom_errf(err, errlen, LOOM_EINVAL, "%s: empty payload", who);
    doc = json_loadb((const char *)payload, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!doc && json_error_code(&je) == json_error_out_of_memory)
      return loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
    if (!doc && r->payload == PL_JSON)
      return loom_errf(err, errlen, LOOM_EINVAL, "%s: invalid JSON at byte %d: %s", who, je.position,
                  je.text);
  }
  if (!doc) return put_plain(b, key, key_len, payload, len, now_ns, who, err, errlen);
  b->root = doc; /* keys and strings point into it; freed with the batch */
  int rc;
  if (r->value.n_seg) {
    const json_t *v = walk(doc, &r->value);
    if (!v) return loom_errf(err, errlen, LOOM_EINVAL, "%s: the payload has no member %.64s", who, r->value.text);
    int64_t ts;
    if ((rc = read_ts(r, doc, now_ns, &ts, who, err, errlen))) return rc;
    if ((rc = tbjson_batch_group(b, ts))) return loom_errf(err, errlen, rc, "out of memory");
    if ((rc = put_json(b, key, key_len, v, who, err, errlen))) return rc;
    tbjson_batch_group_end(b);
    return 0;
  }
  if (json_is_object(doc)) return put_object(b, r, doc, now_ns, who, err, errlen);
  if (json_is_array(doc)) {
    size_t i;
    json_t *el;
    json_array_foreach(doc, i, el) {
      if (!json_is_object(el))
        return loom_errf(err, errlen, LOOM_EINVAL, "%s: [%zu]: expected an object", who, i);
      if ((rc = put_object(b, r, el, now_ns, who, err, errlen))) return rc;
    }
    return 0;
  }
  /* a scalar document: one value under key */
  if ((rc = tbjson_batch_group(b, now_ns))) return loom_errf(err, errlen, rc, "out of memory");
  if ((rc = put_json(b, key, key_len, doc, who, err, errlen))) return rc;
  tbjson_batch_group_end(b);
  return 0;
}

int uns_rules_apply(const uns_rules *r, const char *topic, size_t n, const uint8_t *payload,
                    size_t len, int64_t now_ns, uns_hit *out, char *err, size_t errlen) {
  if (!r) return 0;
  caps c;
  const rule *hit = NULL;
  const char *slash = memchr(topic, '/', n);
  size_t fl = slash ? (size_t)(slash - topic) : n;
  uint32_t bi;
  static const bucket none = {NULL, 0, 0};
  const bucket *lit = &none;
  if (r->n_buckets && !strmap_get(&r->first, topic, fl, strmap_hash(topic, fl), &bi))
    lit = &r->buckets[bi];
  /* both lists ascend: walk them merged, in match order */
  for (size_t i = 0, j = 0; !hit && (i < lit->n || j < r->wild.n);) {
    uint32_t k = j >= r->wild.n || (i < lit->n && lit->idx[i] < r->wild.idx[j]) ? lit->idx[i++]
                                                                                 : r->wild.idx[j++];
    if (match(r->rules[k], topic, n, &c)) hit = r->rules[k];
  }
  if (!hit) return 0;
  char who[WHO_LEN];
  who_of(who, hit->name, 0);
  size_t dl, pl, kl;
  char key[FIELD_MAX + 1];
  if (expand(&hit->device, topic, &c, out->device, &dl) || dl == 0 ||
      out->device[0] == '#' || bad_text(out->device, dl))
    return loom_errf(err, errlen, LOOM_EINVAL,
                "%s: device name from topic must be 1-255 bytes without control characters or "
                "backslashes, not starting with '#'",
                who);
  if (expand(&hit->profile, topic, &c, out->profile, &pl) || pl == 0 ||
      out->profile[0] == '#' || bad_text(out->profile, pl))
    return loom_errf(err, errlen, LOOM_EINVAL,
                "%s: profile from topic must be 1-255 bytes without control characters or "
                "backslashes, not starting with '#'",
                who);
  if (expand(&hit->key, topic, &c, key, &kl))
    return loom_errf(err, errlen, LOOM_EINVAL, "%s: key from topic longer than 255 bytes", who);
  tbjson_batch_init(&out->values);
  out->rule = hit->name;
  /* the key must outlive this call: keep it in the batch */
  const char *k = tbjson_batch_own(&out->values, key, kl);
  int rc = k ? read_payload(&out->values, hit, k, kl, payload, len, now_ns, who, err, errlen)
             : loom_errf(err, errlen, LOOM_ENOMEM, "out of memory");
  if (!rc && out->values.n_groups == 0)
    rc = loom_errf(err, errlen, LOOM_EINVAL, "%s: the payload holds no values", who);
  if (rc) {
    tbjson_batch_deinit(&out->values);
    return rc;
  }
  return 1;
}

void uns_hit_deinit(uns_hit *h) {
  if (!h) return;
  tbjson_batch_deinit(&h->values);
  h->rule = NULL;
}
