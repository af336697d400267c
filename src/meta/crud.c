/* SPDX-License-Identifier: Apache-2.0
 * Generic create / get / update / delete / list over the declarative entity
 * table (entity.c), JSON in and out (jansson). Every statement built here
 * carries the scope's tenant condition; values are always bound, never
 * pasted into SQL (only column and table names from the table are).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "meta/meta_int.h"
#include "meta/watch.h"

#define MAX_BINDS 64
#define MAX_FILTERS 16

/* One value to bind. Text points into caller JSON or `own`; JSON columns are
 * dumped into `own` (loom_malloc'd, freed by binds_free). */
typedef struct bindv {
  enum { BV_NULL, BV_INT, BV_REAL, BV_TEXT, BV_BLOB } t;
  int64_t i;
  double d;
  const char *s;
  char *own;
  uint8_t blob[META_HASH_LEN];
} bindv;

typedef struct binds {
  bindv v[MAX_BINDS];
  const meta_col *col[MAX_BINDS]; /* for assignments; NULL for plain binds */
  int n;
} binds;

static void binds_free(binds *b) {
  for (int i = 0; i < b->n; i++) loom_free(b->v[i].own);
  b->n = 0;
}

static bindv *binds_add(binds *b, const meta_col *c) {
  if (b->n >= MAX_BINDS) return NULL;
  bindv *v = &b->v[b->n];
  memset(v, 0, sizeof *v);
  b->col[b->n++] = c;
  return v;
}

static int bind_text(binds *b, const char *s) {
  bindv *v = binds_add(b, NULL);
  if (!v) return LOOM_ERANGE;
  v->t = s ? BV_TEXT : BV_NULL;
  v->s = s;
  return 0;
}

static int bind_int(binds *b, int64_t i) {
  bindv *v = binds_add(b, NULL);
  if (!v) return LOOM_ERANGE;
  v->t = BV_INT;
  v->i = i;
  return 0;
}

static void bind_all(sqlite3_stmt *st, const binds *b) {
  for (int i = 0; i < b->n; i++) {
    const bindv *v = &b->v[i];
    int k = i + 1;
    switch (v->t) {
    case BV_NULL: sqlite3_bind_null(st, k); break;
    case BV_INT: sqlite3_bind_int64(st, k, v->i); break;
    case BV_REAL: sqlite3_bind_double(st, k, v->d); break;
    case BV_TEXT: sqlite3_bind_text(st, k, v->s, -1, SQLITE_STATIC); break;
    case BV_BLOB: sqlite3_bind_blob(st, k, v->blob, META_HASH_LEN, SQLITE_STATIC); break;
    }
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Validate JSON value v for column c and convert it into out. */
static int conv_json(const meta_col *c, const json_t *v, bindv *out, char *err, size_t errlen) {
  if (json_is_null(v)) {
    if (!(c->flags & MC_NULL))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must not be null", c->name);
    out->t = BV_NULL;
    return 0;
  }
  switch (c->type) {
  case MT_TEXT:
  case MT_ID: {
    if (!json_is_string(v))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be a string", c->name);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len)
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': contains a NUL character",
                         c->name);
    if (c->type == MT_ID) {
      if (!meta_id_valid(s))
        return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': not an id", c->name);
    } else {
      if (c->max > 0 && (int64_t)len > c->max)
        return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': longer than %lld bytes",
                           c->name, (long long)c->max);
      if (c->enums) {
        size_t i = 0;
        while (c->enums[i] && strcmp(c->enums[i], s) != 0) i++;
        if (!c->enums[i])
          return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': '%.64s' is not one of the "
                             "allowed values", c->name, s);
      }
      if (c->check && c->check(s) != 0)
        return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': %s", c->name, c->check_what);
    }
    out->t = BV_TEXT;
    out->s = s;
    return 0;
  }
  case MT_INT:
    if (!json_is_integer(v))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be an integer", c->name);
    out->i = json_integer_value(v);
    if (c->min < c->max && (out->i < c->min || out->i > c->max))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be %lld..%lld", c->name,
                         (long long)c->min, (long long)c->max);
    out->t = BV_INT;
    return 0;
  case MT_REAL:
    if (!json_is_number(v))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be a number", c->name);
    out->d = json_number_value(v);
    if (!isfinite(out->d))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be finite", c->name);
    out->t = BV_REAL;
    return 0;
  case MT_BOOL:
    if (!json_is_boolean(v))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be true or false", c->name);
    out->t = BV_INT;
    out->i = json_is_true(v);
    return 0;
  case MT_JSON: {
    if ((c->flags & MC_OBJECT) && !json_is_object(v))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be a JSON object", c->name);
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0) return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': bad JSON", c->name);
    if (c->max > 0 && (int64_t)n > c->max)
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': larger than %lld bytes", c->name,
                         (long long)c->max);
    out->own = loom_malloc(n + 1);
    if (!out->own) return meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
    json_dumpb(v, out->own, n, JSON_COMPACT | JSON_ENCODE_ANY);
    out->own[n] = '\0';
    out->t = BV_TEXT;
    out->s = out->own;
    return 0;
  }
  case MT_HASH: {
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 2 * META_HASH_LEN)
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be %d hex characters",
                         c->name, 2 * META_HASH_LEN);
    for (int i = 0; i < META_HASH_LEN; i++) {
      int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': must be hex", c->name);
      out->blob[i] = (uint8_t)(hi << 4 | lo);
    }
    out->t = BV_BLOB;
    return 0;
  }
  }
  return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': unsupported", c->name);
}

/* Filter text value for column c. */
static int conv_text(const meta_col *c, const char *s, bindv *out, char *err, size_t errlen) {
  if (!s) {
    out->t = BV_NULL;
    return 0;
  }
  char *end = NULL;
  switch (c->type) {
  case MT_TEXT:
  case MT_ID: out->t = BV_TEXT; out->s = s; return 0;
  case MT_INT:
    errno = 0;
    out->i = strtoll(s, &end, 10);
    if (errno || end == s || *end)
      return meta_seterr(err, errlen, LOOM_EINVAL, "filter '%s': must be an integer", c->name);
    out->t = BV_INT;
    return 0;
  case MT_REAL:
    errno = 0;
    out->d = strtod(s, &end);
    if (errno || end == s || *end)
      return meta_seterr(err, errlen, LOOM_EINVAL, "filter '%s': must be a number", c->name);
    out->t = BV_REAL;
    return 0;
  case MT_BOOL:
    out->t = BV_INT;
    if (!strcmp(s, "true") || !strcmp(s, "1")) out->i = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0")) out->i = 0;
    else return meta_seterr(err, errlen, LOOM_EINVAL, "filter '%s': must be true or false", c->name);
    return 0;
  default:
    return meta_seterr(err, errlen, LOOM_EINVAL, "filter '%s': not filterable", c->name);
  }
}

static const char *tenant_col(const meta_entity *e) {
  return e->tenancy == TEN_SELF ? "id" : "tenant_id";
}

/* The comma-separated output columns (non-secret) of e. */
static int append_out_cols(loom_buf *b, const meta_entity *e) {
  int r = 0;
  bool first = true;
  for (size_t i = 0; i < e->n_cols && r == 0; i++) {
    if (e->cols[i].flags & MC_SECRET) continue;
    r = loom_buf_printf(b, "%s%s", first ? "" : ",", e->cols[i].name);
    first = false;
  }
  return r;
}

/* The current row of st (selected with append_out_cols) as a JSON object. */
static int row_json(const meta_entity *e, sqlite3_stmt *st, json_t **out) {
  json_t *o = json_object();
  if (!o) return LOOM_ENOMEM;
  int k = 0;
  for (size_t i = 0; i < e->n_cols; i++) {
    const meta_col *c = &e->cols[i];
    if (c->flags & MC_SECRET) continue;
    json_t *v;
    if (sqlite3_column_type(st, k) == SQLITE_NULL) v = json_null();
    else switch (c->type) {
      case MT_INT: v = json_integer(sqlite3_column_int64(st, k)); break;
      case MT_REAL: v = json_real(sqlite3_column_double(st, k)); break;
      case MT_BOOL: v = json_boolean(sqlite3_column_int(st, k)); break;
      case MT_JSON: v = meta_col_json(st, k); break;
      default: v = json_string((const char *)sqlite3_column_text(st, k)); break;
      }
    k++;
    if (!v || json_object_set_new(o, c->name, v) != 0) {
      json_decref(o);
      return LOOM_ENOMEM;
    }
  }
  *out = o;
  return 0;
}

int meta_exists(meta_store *m, meta_kind kind, const char *scope, const char *id,
                char *tenant_out, char *err, size_t errlen) {
  const meta_entity *e = meta_entity_get(kind);
  if (tenant_out) tenant_out[0] = '\0';
  if (!e || !meta_id_valid(id))
    return meta_seterr(err, errlen, LOOM_ENOTFOUND, "%s not found", e ? e->name : "entity");
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE id=?%s%s%s", tenant_col(e), e->table,
           scope ? " AND " : "", scope ? tenant_col(e) : "", scope ? "=?" : "");
  sqlite3_stmt *st = NULL;
  int r = meta_prepare(m, sql, &st, err, errlen);
  if (r < 0) return r;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (scope) sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (tenant_out) meta_col_copy(st, 0, tenant_out, META_ID_LEN + 1);
  } else if (rc == SQLITE_DONE) {
    r = meta_seterr(err, errlen, LOOM_ENOTFOUND, "%s not found", e->name);
  } else {
    r = meta_sqlerr(m, rc, err, errlen);
  }
  sqlite3_finalize(st);
  return r;
}

int meta_get_locked(meta_store *m, meta_kind kind, const char *scope, const char *id,
                    json_t **out, char *err, size_t errlen) {
  const meta_entity *e = meta_entity_get(kind);
  if (!e) return meta_seterr(err, errlen, LOOM_EINVAL, "unknown entity kind");
  if (!meta_id_valid(id)) return meta_seterr(err, errlen, LOOM_ENOTFOUND, "%s not found", e->name);
  loom_buf b;
  loom_buf_init(&b);
  sqlite3_stmt *st = NULL;
  int r = loom_buf_append_str(&b, "SELECT ");
  if (!r) r = append_out_cols(&b, e);
  if (!r) r = loom_buf_printf(&b, " FROM %s WHERE id=?", e->table);
  if (!r && scope) r = loom_buf_printf(&b, " AND %s=?", tenant_col(e));
  if (!r) r = loom_buf_cstr(&b);
  if (r < 0) {
    r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
    goto done;
  }
  if ((r = meta_prepare(m, (const char *)b.data, &st, err, errlen)) < 0) goto done;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (scope) sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    r = row_json(e, st, out);
    if (r < 0) meta_seterr(err, errlen, r, "out of memory");
  } else if (rc == SQLITE_DONE) {
    r = meta_seterr(err, errlen, LOOM_ENOTFOUND, "%s not found", e->name);
  } else {
    r = meta_sqlerr(m, rc, err, errlen);
  }
done:
  sqlite3_finalize(st);
  loom_buf_deinit(&b);
  return r;
}

int meta_get(meta_store *m, meta_kind kind, const char *scope, const char *id, json_t **out,
             char *err, size_t errlen) {
  *out = NULL;
  meta_lock(m);
  int r = meta_get_locked(m, kind, scope, id, out, err, errlen);
  meta_unlock(m);
  return r;
}

/* Validate `in` and `secrets` into assignments (b->col set). tenant_in
 * receives in.tenant_id if given (create only). */
static int collect(const meta_entity *e, const json_t *in, const json_t *secrets, bool create,
                   binds *b, const char **tenant_in, bool *tenant_given, char *err,
                   size_t errlen) {
  const char *key;
  json_t *v;
  *tenant_given = false;
  if (in && !json_is_object(in))
    return meta_seterr(err, errlen, LOOM_EINVAL, "the %s must be a JSON object", e->name);
  if (secrets && !json_is_object(secrets))
    return meta_seterr(err, errlen, LOOM_EINVAL, "secrets must be a JSON object");
  json_object_foreach((json_t *)in, key, v) {
    const meta_col *c = meta_entity_col(e, key);
    if (!c || (c->flags & MC_SECRET))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%.64s': unknown", key);
    if (e->tenancy != TEN_SELF && strcmp(key, "tenant_id") == 0) {
      if (!create)
        return meta_seterr(err, errlen, LOOM_EINVAL, "field 'tenant_id': read-only");
      if (json_is_null(v) && e->tenancy == TEN_NULLABLE) {
        *tenant_in = NULL;
      } else if (!json_is_string(v) || !meta_id_valid(json_string_value(v))) {
        return meta_seterr(err, errlen, LOOM_EINVAL, "field 'tenant_id': not an id");
      } else {
        *tenant_in = json_string_value(v);
      }
      *tenant_given = true;
      continue;
    }
    if (!(c->flags & (create ? MC_CREATE : MC_UPDATE)))
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': read-only", key);
    bindv *bv = binds_add(b, c);
    if (!bv) return meta_seterr(err, errlen, LOOM_EINVAL, "too many fields");
    int r = conv_json(c, v, bv, err, errlen);
    if (r < 0) return r;
  }
  json_object_foreach((json_t *)secrets, key, v) {
    const meta_col *c = meta_entity_col(e, key);
    if (!c || !(c->flags & MC_SECRET))
      return meta_seterr(err, errlen, LOOM_EINVAL, "secret '%.64s': unknown", key);
    if (!(c->flags & (create ? MC_CREATE : MC_UPDATE)))
      return meta_seterr(err, errlen, LOOM_EINVAL, "secret '%s': read-only", key);
    bindv *bv = binds_add(b, c);
    if (!bv) return meta_seterr(err, errlen, LOOM_EINVAL, "too many fields");
    int r = conv_json(c, v, bv, err, errlen);
    if (r < 0) return r;
  }
  if (create) {
    for (size_t i = 0; i < e->n_cols; i++) {
      const meta_col *c = &e->cols[i];
      if (!(c->flags & MC_REQ)) continue;
      int j = 0;
      while (j < b->n && b->col[j] != c) j++;
      if (j == b->n || b->v[j].t == BV_NULL)
        return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': required", c->name);
    }
  }
  return 0;
}

/* Every assigned reference must name an entity of the row's tenant. */
static int check_refs(meta_store *m, const binds *b, const char *row_tenant, char *err,
                      size_t errlen) {
  for (int i = 0; i < b->n; i++) {
    const meta_col *c = b->col[i];
    if (!c || c->type != MT_ID || c->ref < 0 || b->v[i].t == BV_NULL) continue;
    int r = meta_exists(m, (meta_kind)c->ref, row_tenant, b->v[i].s, NULL, NULL, 0);
    if (r == LOOM_ENOTFOUND)
      return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': no such %s", c->name,
                         meta_kind_name((meta_kind)c->ref));
    if (r < 0) return meta_seterr(err, errlen, r, "field '%s': look-up failed", c->name);
  }
  return 0;
}

/* Moving asset `id` under `parent` must not create a cycle: parent may be
 * neither id nor one of its descendants, i.e. id is not among parent's
 * ancestors (parent included). */
static int check_asset_cycle(meta_store *m, const char *id, const char *parent, char *err,
                             size_t errlen) {
  sqlite3_stmt *st = NULL;
  int r = meta_prepare(m,
                       "WITH RECURSIVE anc(id, depth) AS (SELECT ?1, 0 UNION ALL "
                       "SELECT a.parent_id, anc.depth + 1 FROM assets a JOIN anc ON a.id = anc.id "
                       "WHERE a.parent_id IS NOT NULL AND anc.depth < 100000) "
                       "SELECT 1 FROM anc WHERE id = ?2 LIMIT 1",
                       &st, err, errlen);
  if (r < 0) return r;
  sqlite3_bind_text(st, 1, parent, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    r = meta_seterr(err, errlen, LOOM_EINVAL, "field 'parent_id': would create a cycle");
  else if (rc != SQLITE_DONE)
    r = meta_sqlerr(m, rc, err, errlen);
  sqlite3_finalize(st);
  return r;
}

static const bindv *assigned(const binds *b, const char *name) {
  for (int i = 0; i < b->n; i++)
    if (b->col[i] && strcmp(b->col[i]->name, name) == 0) return &b->v[i];
  return NULL;
}

static int step_done(meta_store *m, sqlite3_stmt *st, char *err, size_t errlen) {
  int rc = sqlite3_step(st);
  return rc == SQLITE_DONE ? 0 : meta_sqlerr(m, rc, err, errlen);
}

int meta_create(meta_store *m, meta_kind kind, const char *scope, const json_t *in,
                const json_t *secrets, json_t **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  const meta_entity *e = meta_entity_get(kind);
  if (!e) return meta_seterr(err, errlen, LOOM_EINVAL, "unknown entity kind");
  if (!e->generic_create)
    return meta_seterr(err, errlen, LOOM_EUNSUP, "%s: use its own create function", e->name);
  if (e->tenancy == TEN_SELF && scope)
    return meta_seterr(err, errlen, LOOM_EPERM, "tenants are created platform-wide");
  if (!json_is_object(in))
    return meta_seterr(err, errlen, LOOM_EINVAL, "the %s must be a JSON object", e->name);
  binds b = {0};
  loom_buf sql;
  loom_buf_init(&sql);
  sqlite3_stmt *st = NULL;
  const char *tenant_in = NULL;
  bool tenant_given = false;
  bool locked = false;
  const char *changed_tenant = NULL; /* set once the row is in: watch */
  char id[META_ID_LEN + 1];
  int r = collect(e, in, secrets, true, &b, &tenant_in, &tenant_given, err, errlen);
  if (r < 0) goto done;

  const char *row_tenant = NULL;
  if (e->tenancy != TEN_SELF) {
    if (scope) {
      if (tenant_given && (!tenant_in || strcmp(tenant_in, scope) != 0)) {
        r = meta_seterr(err, errlen, LOOM_EINVAL, "field 'tenant_id': not the caller's tenant");
        goto done;
      }
      row_tenant = scope;
    } else {
      if (!tenant_given && e->tenancy == TEN_COLUMN) {
        r = meta_seterr(err, errlen, LOOM_EINVAL, "field 'tenant_id': required");
        goto done;
      }
      row_tenant = tenant_in;
    }
  }
  meta_uuid(id);
  int64_t now = meta_now_ms();
  r = loom_buf_printf(&sql, "INSERT INTO %s(id,created_ms,updated_ms%s", e->table,
                      e->tenancy == TEN_SELF ? "" : ",tenant_id");
  for (int i = 0; i < b.n && !r; i++) r = loom_buf_printf(&sql, ",%s", b.col[i]->name);
  if (!r) r = loom_buf_printf(&sql, ") VALUES(?,?,?%s", e->tenancy == TEN_SELF ? "" : ",?");
  for (int i = 0; i < b.n && !r; i++) r = loom_buf_append_str(&sql, ",?");
  if (!r) r = loom_buf_append_str(&sql, ")");
  if (!r) r = loom_buf_cstr(&sql);
  if (r < 0) {
    r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
    goto done;
  }

  meta_lock(m);
  locked = true;
  if (row_tenant && (r = meta_exists(m, META_TENANT, NULL, row_tenant, NULL, NULL, 0)) < 0) {
    if (r == LOOM_ENOTFOUND) r = meta_seterr(err, errlen, LOOM_EINVAL, "field 'tenant_id': no such tenant");
    goto done;
  }
  if ((r = check_refs(m, &b, row_tenant, err, errlen)) < 0) goto done;
  if ((r = meta_prepare(m, (const char *)sql.data, &st, err, errlen)) < 0) goto done;
  int k = 1;
  sqlite3_bind_text(st, k++, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, k++, now);
  sqlite3_bind_int64(st, k++, now);
  if (e->tenancy != TEN_SELF) {
    if (row_tenant) sqlite3_bind_text(st, k, row_tenant, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, k);
    k++;
  }
  /* The assignments follow: shift them by binding into a copy. */
  for (int i = 0; i < b.n; i++) {
    const bindv *v = &b.v[i];
    switch (v->t) {
    case BV_NULL: sqlite3_bind_null(st, k + i); break;
    case BV_INT: sqlite3_bind_int64(st, k + i, v->i); break;
    case BV_REAL: sqlite3_bind_double(st, k + i, v->d); break;
    case BV_TEXT: sqlite3_bind_text(st, k + i, v->s, -1, SQLITE_STATIC); break;
    case BV_BLOB: sqlite3_bind_blob(st, k + i, v->blob, META_HASH_LEN, SQLITE_STATIC); break;
    }
  }
  if ((r = step_done(m, st, err, errlen)) < 0) goto done;
  changed_tenant = row_tenant;
  if (out) r = meta_get_locked(m, kind, NULL, id, out, err, errlen);
done:
  if (locked) meta_unlock(m);
  if (r == 0 && kind == META_MQTT_RULE && changed_tenant) {
    meta_change ch = {.kind = META_CHANGE_MQTT_RULES, .tenant_id = changed_tenant};
    meta_watch_emit(m, &ch);
  }
  sqlite3_finalize(st);
  loom_buf_deinit(&sql);
  binds_free(&b);
  return r;
}

int meta_update(meta_store *m, meta_kind kind, const char *scope, const char *id, const json_t *in,
                const json_t *secrets, json_t **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  const meta_entity *e = meta_entity_get(kind);
  if (!e) return meta_seterr(err, errlen, LOOM_EINVAL, "unknown entity kind");
  binds b = {0};
  loom_buf sql;
  loom_buf_init(&sql);
  sqlite3_stmt *st = NULL;
  const char *tenant_in = NULL;
  bool tenant_given = false;
  char row_tenant[META_ID_LEN + 1];
  meta_lock(m);
  int r = meta_exists(m, kind, scope, id, row_tenant, err, errlen);
  if (r < 0) goto done;
  if ((r = collect(e, in, secrets, false, &b, &tenant_in, &tenant_given, err, errlen)) < 0)
    goto done;
  if (b.n == 0) goto readback;
  const char *rt = row_tenant[0] ? row_tenant : NULL;
  if ((r = check_refs(m, &b, rt, err, errlen)) < 0) goto done;
  if (kind == META_ASSET) {
    const bindv *p = assigned(&b, "parent_id");
    if (p && p->t == BV_TEXT && (r = check_asset_cycle(m, id, p->s, err, errlen)) < 0) goto done;
  }
  r = loom_buf_printf(&sql, "UPDATE %s SET ", e->table);
  for (int i = 0; i < b.n && !r; i++) r = loom_buf_printf(&sql, "%s=?,", b.col[i]->name);
  if (!r) r = loom_buf_printf(&sql, "updated_ms=? WHERE id=?");
  if (!r && scope) r = loom_buf_printf(&sql, " AND %s=?", tenant_col(e));
  if (!r) r = loom_buf_cstr(&sql);
  if (!r) r = bind_int(&b, meta_now_ms());
  if (!r) r = bind_text(&b, id);
  if (!r && scope) r = bind_text(&b, scope);
  if (r < 0) {
    r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
    goto done;
  }
  if ((r = meta_prepare(m, (const char *)sql.data, &st, err, errlen)) < 0) goto done;
  bind_all(st, &b);
  if ((r = step_done(m, st, err, errlen)) < 0) goto done;
readback:
  if (out) r = meta_get_locked(m, kind, scope, id, out, err, errlen);
done:
  meta_unlock(m);
  if (r == 0 && kind == META_MQTT_RULE) {
    meta_change ch = {.kind = META_CHANGE_MQTT_RULES, .tenant_id = row_tenant};
    meta_watch_emit(m, &ch);
  }
  if (r == 0 && kind == META_DEVICE) {
    meta_change ch = {.kind = META_CHANGE_DEVICE_UPDATED, .tenant_id = row_tenant, .device_id = id};
    ch.credentials = (secrets && json_object_size(secrets)) || json_object_get(in, "mqtt_username");
    meta_watch_emit(m, &ch);
  }
  sqlite3_finalize(st);
  loom_buf_deinit(&sql);
  binds_free(&b);
  return r;
}

int meta_delete(meta_store *m, meta_kind kind, const char *scope, const char *id, char *err,
                size_t errlen) {
  const meta_entity *e = meta_entity_get(kind);
  if (!e) return meta_seterr(err, errlen, LOOM_EINVAL, "unknown entity kind");
  if (e->tenancy == TEN_SELF && scope)
    return meta_seterr(err, errlen, LOOM_EPERM, "tenants are deleted platform-wide");
  sqlite3_stmt *st = NULL;
  char row_tenant[META_ID_LEN + 1] = "";
  meta_lock(m);
  int r = meta_exists(m, kind, scope, id, row_tenant, err, errlen);
  if (r < 0) goto done;
  for (size_t i = 0; i < e->n_refuse; i++) {
    const meta_dep *d = &e->refuse[i];
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s=?", d->table, d->column);
    if ((r = meta_prepare(m, sql, &st, err, errlen)) < 0) goto done;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
      r = meta_sqlerr(m, rc, err, errlen);
      goto done;
    }
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (n > 0) {
      r = meta_seterr(err, errlen, LOOM_EEXIST, "the %s still has %lld %s; delete them first",
                      e->name, (long long)n, d->label);
      goto done;
    }
  }
  char sql[160];
  snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id=?%s%s%s", e->table, scope ? " AND " : "",
           scope ? tenant_col(e) : "", scope ? "=?" : "");
  if ((r = meta_prepare(m, sql, &st, err, errlen)) < 0) goto done;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (scope) sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  r = step_done(m, st, err, errlen);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  if (r == 0 && kind == META_MQTT_RULE) {
    meta_change ch = {.kind = META_CHANGE_MQTT_RULES, .tenant_id = row_tenant};
    meta_watch_emit(m, &ch);
  }
  if (r == 0 && kind == META_DEVICE) {
    meta_change ch = {.kind = META_CHANGE_DEVICE_DELETED, .tenant_id = row_tenant, .device_id = id};
    meta_watch_emit(m, &ch);
  }
  return r;
}

/* "%s%" with LIKE's wildcards escaped by '\'. */
static int like_pattern(loom_buf *p, const char *s) {
  int r = loom_buf_append_str(p, "%");
  for (; *s && !r; s++) {
    if (*s == '%' || *s == '_' || *s == '\\') r = loom_buf_append_u8(p, '\\');
    if (!r) r = loom_buf_append_u8(p, (uint8_t)*s);
  }
  if (!r) r = loom_buf_append_str(p, "%");
  if (!r) r = loom_buf_cstr(p);
  return r;
}

int meta_list(meta_store *m, meta_kind kind, const char *scope, const meta_query *q,
              json_t **page, char *err, size_t errlen) {
  *page = NULL;
  const meta_entity *e = meta_entity_get(kind);
  if (!e) return meta_seterr(err, errlen, LOOM_EINVAL, "unknown entity kind");
  meta_query dq = {0};
  if (!q) q = &dq;
  uint32_t size = q->page_size ? q->page_size : META_PAGE_DEFAULT;
  if (size > META_PAGE_MAX)
    return meta_seterr(err, errlen, LOOM_EINVAL, "pageSize: at most %d", META_PAGE_MAX);
  if (q->n_filters > MAX_FILTERS)
    return meta_seterr(err, errlen, LOOM_EINVAL, "at most %d filters", MAX_FILTERS);
  const meta_col *sort = meta_entity_col(e, q->sort_property ? q->sort_property : "created_ms");
  if (!sort || !(sort->flags & MC_SORT))
    return meta_seterr(err, errlen, LOOM_EINVAL, "sortProperty '%.64s': not sortable",
                       q->sort_property);
  binds b = {0};
  loom_buf where, sql, pat;
  loom_buf_init(&where);
  loom_buf_init(&sql);
  loom_buf_init(&pat);
  sqlite3_stmt *st = NULL;
  json_t *data = NULL, *res = NULL;
  bool locked = false;
  int r = loom_buf_append_str(&where, " WHERE 1");
  if (!r && scope) r = loom_buf_printf(&where, " AND %s=?", tenant_col(e));
  if (!r && scope) r = bind_text(&b, scope);
  if (!r && q->text_search && q->text_search[0]) {
    r = like_pattern(&pat, q->text_search);
    if (!r) r = loom_buf_append_str(&where, " AND (0");
    for (size_t i = 0; i < e->n_cols && !r; i++) {
      if (!(e->cols[i].flags & MC_SEARCH)) continue;
      r = loom_buf_printf(&where, " OR %s LIKE ? ESCAPE '\\'", e->cols[i].name);
      if (!r) r = bind_text(&b, (const char *)pat.data);
    }
    if (!r) r = loom_buf_append_str(&where, ")");
  }
  if (r < 0) goto oom;
  for (size_t i = 0; i < q->n_filters; i++) {
    const meta_filter *f = &q->filters[i];
    const meta_col *c = f->field ? meta_entity_col(e, f->field) : NULL;
    if (!c || !(c->flags & MC_FILTER)) {
      r = meta_seterr(err, errlen, LOOM_EINVAL, "filter '%.64s': not filterable",
                      f->field ? f->field : "");
      goto done;
    }
    bindv *bv = binds_add(&b, NULL);
    if (!bv) goto oom;
    if ((r = conv_text(c, f->value, bv, err, errlen)) < 0) goto done;
    if (bv->t == BV_NULL) {
      b.n--; /* IS NULL binds nothing */
      r = loom_buf_printf(&where, " AND %s IS NULL", c->name);
    } else {
      r = loom_buf_printf(&where, " AND %s=?", c->name);
    }
    if (r < 0) goto oom;
  }
  if ((r = loom_buf_cstr(&where)) < 0) goto oom;

  meta_lock(m);
  locked = true;
  /* Total count. */
  r = loom_buf_printf(&sql, "SELECT count(*) FROM %s%s", e->table, (const char *)where.data);
  if (!r) r = loom_buf_cstr(&sql);
  if (r < 0) goto oom;
  if ((r = meta_prepare(m, (const char *)sql.data, &st, err, errlen)) < 0) goto done;
  bind_all(st, &b);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    r = meta_sqlerr(m, rc, err, errlen);
    goto done;
  }
  int64_t total = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;

  /* The page. */
  loom_buf_reset(&sql);
  r = loom_buf_append_str(&sql, "SELECT ");
  if (!r) r = append_out_cols(&sql, e);
  if (!r)
    r = loom_buf_printf(&sql, " FROM %s%s ORDER BY %s %s, id LIMIT ? OFFSET ?", e->table,
                        (const char *)where.data, sort->name, q->sort_desc ? "DESC" : "ASC");
  if (!r) r = loom_buf_cstr(&sql);
  if (!r) r = bind_int(&b, size);
  if (!r) r = bind_int(&b, (int64_t)q->page * size);
  if (r < 0) goto oom;
  if ((r = meta_prepare(m, (const char *)sql.data, &st, err, errlen)) < 0) goto done;
  bind_all(st, &b);
  data = json_array();
  if (!data) goto oom;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *row = NULL;
    if (row_json(e, st, &row) < 0 || json_array_append_new(data, row) != 0) goto oom;
  }
  if (rc != SQLITE_DONE) {
    r = meta_sqlerr(m, rc, err, errlen);
    goto done;
  }
  int64_t pages = (total + size - 1) / size;
  res = json_pack("{s:o,s:I,s:I,s:b}", "data", data, "totalPages", (json_int_t)pages,
                  "totalElements", (json_int_t)total, "hasNext",
                  (int64_t)(q->page + 1) * size < total);
  data = NULL; /* json_pack "o" stole it, even on failure */
  if (!res) goto oom;
  *page = res;
  r = 0;
  goto done;
oom:
  r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
done:
  if (locked) meta_unlock(m);
  sqlite3_finalize(st);
  json_decref(data);
  loom_buf_deinit(&where);
  loom_buf_deinit(&sql);
  loom_buf_deinit(&pat);
  binds_free(&b);
  return r;
}
