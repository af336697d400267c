/* SPDX-License-Identifier: Apache-2.0
 * Access-related accessors that generic CRUD cannot express: creating a
 * token from its hash, looking tokens up by hash (every API request),
 * revocation, the login look-up of a user by e-mail, and the provisioning
 * look-up of a device profile by its provision key.
 */
#include <string.h>

#include "core/err.h"
#include "meta/meta_int.h"

static bool in_list(const char *s, const char *const *list) {
  for (; s && *list; list++)
    if (strcmp(s, *list) == 0) return true;
  return false;
}

int meta_token_create(meta_store *m, const char *scope, const meta_token_new *t, json_t **out,
                      char *err, size_t errlen) {
  static const char *const kinds[] = {"session", "api", NULL};
  static const char *const scopes[] = {"read", "write", "admin", NULL};
  if (out) *out = NULL;
  if (!t || !t->hash) return meta_seterr(err, errlen, LOOM_EINVAL, "field 'hash': required");
  if (!in_list(t->kind, kinds))
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'kind': one of session, api");
  if (!in_list(t->scope, scopes))
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'scope': one of read, write, admin");
  if (t->name && strlen(t->name) > 255)
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'name': longer than 255 bytes");
  if (t->expires_ms < 0)
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'expires_ms': must not be negative");
  char tenant[META_ID_LEN + 1];
  char id[META_ID_LEN + 1];
  sqlite3_stmt *st = NULL;
  meta_lock(m);
  int r = meta_exists(m, META_USER, scope, t->user_id, tenant, NULL, 0);
  if (r == LOOM_ENOTFOUND) r = meta_seterr(err, errlen, r, "field 'user_id': no such user");
  if (r < 0) goto done;
  r = meta_prepare(m,
                   "INSERT INTO tokens(id,tenant_id,user_id,kind,scope,name,hash,created_ms,"
                   "updated_ms,expires_ms) VALUES(?,?,?,?,?,?,?,?,?,?)",
                   &st, err, errlen);
  if (r < 0) goto done;
  meta_uuid(id);
  int64_t now = meta_now_ms();
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (tenant[0]) sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 2);
  sqlite3_bind_text(st, 3, t->user_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, t->kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, t->scope, -1, SQLITE_STATIC);
  if (t->name) sqlite3_bind_text(st, 6, t->name, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 6);
  sqlite3_bind_blob(st, 7, t->hash, META_HASH_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, now);
  sqlite3_bind_int64(st, 9, now);
  if (t->expires_ms) sqlite3_bind_int64(st, 10, t->expires_ms);
  else sqlite3_bind_null(st, 10);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    r = meta_sqlerr(m, rc, err, errlen);
    goto done;
  }
  if (out) r = meta_get_locked(m, META_TOKEN, NULL, id, out, err, errlen);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  return r;
}

int meta_token_by_hash(meta_store *m, const uint8_t *hash, int64_t now_ms, meta_token_info *out) {
  if (!hash) return LOOM_EINVAL;
  memset(out, 0, sizeof *out);
  meta_rlock(m);
  int r = LOOM_EIO;
  sqlite3_stmt *st = meta_cached_rd(m, RST_TOK_BY_HASH,
                                 "SELECT t.id, t.user_id, u.tenant_id, u.role, u.region_code, "
                                 "t.kind, t.scope, t.expires_ms, t.revoked_ms, u.disabled "
                                 "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?");
  if (!st) goto done;
  sqlite3_bind_blob(st, 1, hash, META_HASH_LEN, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    meta_col_copy(st, 0, out->id, sizeof out->id);
    meta_col_copy(st, 1, out->user_id, sizeof out->user_id);
    meta_col_copy(st, 2, out->tenant_id, sizeof out->tenant_id);
    meta_col_copy(st, 3, out->role, sizeof out->role);
    meta_col_copy(st, 4, out->region_code, sizeof out->region_code);
    meta_col_copy(st, 5, out->kind, sizeof out->kind);
    meta_col_copy(st, 6, out->scope, sizeof out->scope);
    out->expires_ms = sqlite3_column_int64(st, 7);
    out->revoked_ms = sqlite3_column_int64(st, 8);
    out->user_disabled = sqlite3_column_int(st, 9) != 0;
    bool expired = out->expires_ms != 0 && out->expires_ms <= now_ms;
    r = (out->revoked_ms != 0 || expired || out->user_disabled) ? LOOM_EAUTH : 0;
  } else {
    r = rc == SQLITE_DONE ? LOOM_ENOTFOUND : meta_rc_code(rc);
  }
  sqlite3_reset(st);
done:
  meta_runlock(m);
  return r;
}

int meta_token_touch(meta_store *m, const char *token_id, int64_t now_ms) {
  if (!token_id) return LOOM_EINVAL;
  meta_lock(m);
  int r = LOOM_EIO;
  sqlite3_stmt *st = meta_cached(m, ST_TOK_TOUCH,
                                 "UPDATE tokens SET last_used_ms = ?1 WHERE id = ?2 AND "
                                 "(last_used_ms IS NULL OR last_used_ms < ?1 - 60000)");
  if (!st) goto done;
  sqlite3_bind_int64(st, 1, now_ms);
  sqlite3_bind_text(st, 2, token_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    r = meta_sqlerr(m, rc, NULL, 0);
    goto done;
  }
  r = sqlite3_changes(m->db) == 1 ? 0 : meta_exists(m, META_TOKEN, NULL, token_id, NULL, NULL, 0);
done:
  meta_unlock(m);
  return r;
}

/* UPDATE tokens SET revoked_ms = now WHERE <col> = id [AND tenant]. */
static int revoke(meta_store *m, const char *scope, const char *col, const char *id, int64_t now_ms,
                  size_t *n, char *err, size_t errlen) {
  char sql[160];
  snprintf(sql, sizeof sql,
           "UPDATE tokens SET revoked_ms = ?1, updated_ms = ?1 WHERE %s = ?2 AND revoked_ms IS "
           "NULL%s",
           col, scope ? " AND tenant_id = ?3" : "");
  sqlite3_stmt *st = NULL;
  int r = meta_prepare(m, sql, &st, err, errlen);
  if (r < 0) return r;
  sqlite3_bind_int64(st, 1, now_ms);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  if (scope) sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) r = meta_sqlerr(m, rc, err, errlen);
  else if (n) *n = (size_t)sqlite3_changes(m->db);
  sqlite3_finalize(st);
  return r;
}

int meta_token_revoke(meta_store *m, const char *scope, const char *token_id, int64_t now_ms,
                      char *err, size_t errlen) {
  meta_lock(m);
  int r = meta_exists(m, META_TOKEN, scope, token_id, NULL, err, errlen);
  if (r == 0) r = revoke(m, scope, "id", token_id, now_ms, NULL, err, errlen);
  meta_unlock(m);
  return r;
}

int meta_token_revoke_user(meta_store *m, const char *scope, const char *user_id, int64_t now_ms,
                           size_t *n_revoked, char *err, size_t errlen) {
  size_t n = 0;
  meta_lock(m);
  int r = meta_exists(m, META_USER, scope, user_id, NULL, err, errlen);
  if (r == 0) r = revoke(m, NULL, "user_id", user_id, now_ms, &n, err, errlen);
  meta_unlock(m);
  if (n_revoked) *n_revoked = r == 0 ? n : 0;
  return r;
}

int meta_user_by_email(meta_store *m, const char *email, meta_user_auth *out) {
  if (!email) return LOOM_EINVAL;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = NULL;
  meta_lock(m);
  int r = meta_prepare(m,
                       "SELECT id, tenant_id, role, region_code, password_hash, disabled "
                       "FROM users WHERE email = ?",
                       &st, NULL, 0);
  if (r < 0) goto done;
  sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    meta_col_copy(st, 0, out->id, sizeof out->id);
    meta_col_copy(st, 1, out->tenant_id, sizeof out->tenant_id);
    meta_col_copy(st, 2, out->role, sizeof out->role);
    meta_col_copy(st, 3, out->region_code, sizeof out->region_code);
    meta_col_copy(st, 4, out->password_hash, sizeof out->password_hash);
    out->disabled = sqlite3_column_int(st, 5) != 0;
  } else {
    r = rc == SQLITE_DONE ? LOOM_ENOTFOUND : meta_sqlerr(m, rc, NULL, 0);
  }
done:
  sqlite3_finalize(st);
  meta_unlock(m);
  return r;
}

int meta_profile_by_provision_key(meta_store *m, const char *key, meta_profile_prov *out) {
  if (!key) return LOOM_EINVAL;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = NULL;
  meta_lock(m);
  int r = meta_prepare(m,
                       "SELECT id, tenant_id, name, provision_secret_hash FROM device_profiles "
                       "WHERE provision_key = ?",
                       &st, NULL, 0);
  if (r < 0) goto done;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    meta_col_copy(st, 0, out->id, sizeof out->id);
    meta_col_copy(st, 1, out->tenant_id, sizeof out->tenant_id);
    meta_col_copy(st, 2, out->name, sizeof out->name);
    meta_col_copy(st, 3, out->provision_secret_hash, sizeof out->provision_secret_hash);
  } else {
    r = rc == SQLITE_DONE ? LOOM_ENOTFOUND : meta_sqlerr(m, rc, NULL, 0);
  }
done:
  sqlite3_finalize(st);
  meta_unlock(m);
  return r;
}

int meta_token_purge(meta_store *m, int64_t before_ms, size_t *n_deleted) {
  if (n_deleted) *n_deleted = 0;
  sqlite3_stmt *st = NULL;
  meta_lock(m);
  int r = meta_prepare(m,
                       "DELETE FROM tokens WHERE (expires_ms IS NOT NULL AND expires_ms < ?1) "
                       "OR (revoked_ms IS NOT NULL AND revoked_ms < ?1)",
                       &st, NULL, 0);
  if (r == 0) {
    sqlite3_bind_int64(st, 1, before_ms);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) r = meta_sqlerr(m, rc, NULL, 0);
    else if (n_deleted) *n_deleted = (size_t)sqlite3_changes(m->db);
  }
  sqlite3_finalize(st);
  meta_unlock(m);
  return r;
}

int meta_tenant_by_db(meta_store *m, const char *db_name, char *tenant_id) {
  if (!db_name || !tenant_id) return LOOM_EINVAL;
  tenant_id[0] = '\0';
  sqlite3_stmt *st = NULL;
  meta_lock(m);
  int r = meta_prepare(m, "SELECT id FROM tenants WHERE db_name = ?", &st, NULL, 0);
  if (r == 0) {
    sqlite3_bind_text(st, 1, db_name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) meta_col_copy(st, 0, tenant_id, META_ID_LEN + 1);
    else r = rc == SQLITE_DONE ? LOOM_ENOTFOUND : meta_sqlerr(m, rc, NULL, 0);
  }
  sqlite3_finalize(st);
  meta_unlock(m);
  return r;
}
