/* SPDX-License-Identifier: Apache-2.0
 * Commands (RPC) to devices, persisted until delivered or expired: create,
 * claim the next pending one for a device, status transitions (only the
 * legal ones, see meta.h), and the expiry sweep.
 */
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "meta/meta_int.h"

#define RPC_TIMEOUT_MAX_MS (30LL * 24 * 3600 * 1000)
#define RPC_JSON_MAX 65536

/* from -> allowed targets. */
static const struct {
  const char *from;
  const char *const to[6];
} legal[] = {
    {"queued", {"sent", "expired", "failed", NULL}},
    {"sent", {"queued", "delivered", "successful", "failed", "timeout", NULL}},
    {"delivered", {"successful", "failed", "timeout", NULL}},
};

static bool known_status(const char *s) {
  static const char *const all[] = {"queued", "sent", "delivered", "successful",
                                    "failed", "timeout", "expired"};
  for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
    if (strcmp(s, all[i]) == 0) return true;
  return false;
}

bool meta_rpc_transition_legal(const char *from, const char *to) {
  if (!from || !to) return false;
  for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++) {
    if (strcmp(legal[i].from, from) != 0) continue;
    for (size_t j = 0; legal[i].to[j]; j++)
      if (strcmp(legal[i].to[j], to) == 0) return true;
  }
  return false;
}

/* Compact JSON text of v (NULL -> "null"), loom_malloc'd. */
static int dump(const json_t *v, const char *what, char **out, char *err, size_t errlen) {
  json_t *nul = NULL;
  if (!v) v = nul = json_null();
  size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  int r = 0;
  if (n == 0 || n > RPC_JSON_MAX) {
    r = meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': larger than %d bytes", what,
                    RPC_JSON_MAX);
  } else if (!(*out = loom_malloc(n + 1))) {
    r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
  } else {
    json_dumpb(v, *out, n, JSON_COMPACT | JSON_ENCODE_ANY);
    (*out)[n] = '\0';
  }
  json_decref(nul);
  return r;
}

int meta_rpc_create(meta_store *m, const char *scope, const char *device_id, const char *method,
                    const json_t *params, bool oneway, int64_t timeout_ms, int64_t now_ms,
                    json_t **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!method || !*method || strlen(method) > 255)
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'method': 1..255 bytes");
  if (timeout_ms < 1 || timeout_ms > RPC_TIMEOUT_MAX_MS)
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'timeout': 1 ms .. 30 days");
  char *ptext = NULL;
  int r = dump(params, "params", &ptext, err, errlen);
  if (r < 0) return r;
  char tenant[META_ID_LEN + 1], id[META_ID_LEN + 1];
  sqlite3_stmt *st = NULL;
  meta_lock(m);
  r = meta_exists(m, META_DEVICE, scope, device_id, tenant, err, errlen);
  if (r < 0) goto done;
  r = meta_prepare(m,
                   "INSERT INTO rpc(id,tenant_id,device_id,method,params,oneway,status,created_ms,"
                   "updated_ms,expires_ms) VALUES(?,?,?,?,?,?,'queued',?,?,?)",
                   &st, err, errlen);
  if (r < 0) goto done;
  meta_uuid(id);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, ptext, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 6, oneway ? 1 : 0);
  sqlite3_bind_int64(st, 7, now_ms);
  sqlite3_bind_int64(st, 8, now_ms);
  sqlite3_bind_int64(st, 9, now_ms + timeout_ms);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) r = meta_sqlerr(m, rc, err, errlen);
  else if (out) r = meta_get_locked(m, META_RPC, NULL, id, out, err, errlen);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  loom_free(ptext);
  return r;
}

int meta_rpc_claim_next(meta_store *m, const char *scope, const char *device_id, int64_t now_ms,
                        json_t **out, char *err, size_t errlen) {
  *out = NULL;
  sqlite3_stmt *st = NULL;
  char id[META_ID_LEN + 1];
  meta_lock(m);
  int r = meta_exists(m, META_DEVICE, scope, device_id, NULL, err, errlen);
  if (r < 0) goto done;
  if ((r = meta_tx_begin(m, err, errlen)) < 0) goto done;
  r = meta_prepare(m,
                   "SELECT id FROM rpc WHERE device_id = ? AND status = 'queued' AND "
                   "expires_ms > ? ORDER BY created_ms, rowid LIMIT 1",
                   &st, err, errlen);
  if (r < 0) goto rollback;
  sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now_ms);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    r = meta_seterr(err, errlen, LOOM_ENOTFOUND, "no pending command");
    goto rollback;
  }
  if (rc != SQLITE_ROW) {
    r = meta_sqlerr(m, rc, err, errlen);
    goto rollback;
  }
  meta_col_copy(st, 0, id, sizeof id);
  sqlite3_finalize(st);
  st = NULL;
  if ((r = meta_prepare(m, "UPDATE rpc SET status = 'sent', updated_ms = ? WHERE id = ?", &st, err,
                        errlen)) < 0)
    goto rollback;
  sqlite3_bind_int64(st, 1, now_ms);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    r = meta_sqlerr(m, rc, err, errlen);
    goto rollback;
  }
  if ((r = meta_get_locked(m, META_RPC, NULL, id, out, err, errlen)) < 0) goto rollback;
  if ((r = meta_tx_commit(m, err, errlen)) < 0) {
    json_decref(*out);
    *out = NULL;
  }
  goto done;
rollback:
  meta_tx_rollback(m);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  return r;
}

int meta_rpc_transition(meta_store *m, const char *scope, const char *id, const char *to,
                        const json_t *response, int64_t now_ms, json_t **out, char *err,
                        size_t errlen) {
  if (out) *out = NULL;
  if (!known_status(to))
    return meta_seterr(err, errlen, LOOM_EINVAL, "field 'status': '%.32s' is not a status",
                       to ? to : "");
  char *rtext = NULL;
  int r = response ? dump(response, "response", &rtext, err, errlen) : 0;
  if (r < 0) return r;
  sqlite3_stmt *st = NULL;
  char from[16];
  meta_lock(m);
  if ((r = meta_exists(m, META_RPC, scope, id, NULL, err, errlen)) < 0) goto done;
  if ((r = meta_prepare(m, "SELECT status FROM rpc WHERE id = ?", &st, err, errlen)) < 0) goto done;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    r = rc == SQLITE_DONE ? LOOM_ENOTFOUND : meta_sqlerr(m, rc, err, errlen);
    goto done;
  }
  meta_col_copy(st, 0, from, sizeof from);
  sqlite3_finalize(st);
  st = NULL;
  if (!meta_rpc_transition_legal(from, to)) {
    r = meta_seterr(err, errlen, LOOM_EINVAL, "command status cannot go from %s to %s", from, to);
    goto done;
  }
  r = meta_prepare(m,
                   "UPDATE rpc SET status = ?, response = coalesce(?, response), updated_ms = ? "
                   "WHERE id = ?",
                   &st, err, errlen);
  if (r < 0) goto done;
  sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
  if (rtext) sqlite3_bind_text(st, 2, rtext, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 2);
  sqlite3_bind_int64(st, 3, now_ms);
  sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) r = meta_sqlerr(m, rc, err, errlen);
  else if (out) r = meta_get_locked(m, META_RPC, NULL, id, out, err, errlen);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  loom_free(rtext);
  return r;
}

int meta_rpc_expire(meta_store *m, int64_t now_ms, json_t **changed, size_t *n) {
  if (changed) *changed = NULL;
  if (n) *n = 0;
  json_t *arr = changed ? json_array() : NULL;
  if (changed && !arr) return LOOM_ENOMEM;
  sqlite3_stmt *st = NULL;
  size_t count = 0;
  meta_lock(m);
  int r = meta_tx_begin(m, NULL, 0);
  if (r < 0) goto done;
  if (arr) {
    r = meta_prepare(m,
                     "SELECT id, tenant_id, device_id, CASE status WHEN 'queued' THEN 'expired' "
                     "ELSE 'timeout' END FROM rpc WHERE status IN ('queued','sent','delivered') "
                     "AND expires_ms <= ? ORDER BY expires_ms, id",
                     &st, NULL, 0);
    if (r < 0) goto rollback;
    sqlite3_bind_int64(st, 1, now_ms);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", sqlite3_column_text(st, 0), "tenant_id",
                            sqlite3_column_text(st, 1), "device_id", sqlite3_column_text(st, 2),
                            "status", sqlite3_column_text(st, 3));
      if (!o || json_array_append_new(arr, o) != 0) {
        r = LOOM_ENOMEM;
        goto rollback;
      }
    }
    if (rc != SQLITE_DONE) {
      r = meta_sqlerr(m, rc, NULL, 0);
      goto rollback;
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  r = meta_prepare(m,
                   "UPDATE rpc SET status = CASE status WHEN 'queued' THEN 'expired' ELSE "
                   "'timeout' END, updated_ms = ?1 WHERE status IN ('queued','sent','delivered') "
                   "AND expires_ms <= ?1",
                   &st, NULL, 0);
  if (r < 0) goto rollback;
  sqlite3_bind_int64(st, 1, now_ms);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    r = meta_sqlerr(m, rc, NULL, 0);
    goto rollback;
  }
  count = (size_t)sqlite3_changes(m->db);
  if ((r = meta_tx_commit(m, NULL, 0)) < 0) goto done;
  goto done;
rollback:
  meta_tx_rollback(m);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  if (r < 0) {
    json_decref(arr);
    return r;
  }
  if (changed) *changed = arr;
  if (n) *n = count;
  return 0;
}
