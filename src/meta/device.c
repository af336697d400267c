/* SPDX-License-Identifier: Apache-2.0
 * Device-specific accessors: the credential look-ups on the ingest hot path
 * (cached prepared statements, fixed-size results, no allocation), batched
 * activity/state updates, and device attributes in the three ThingsBoard
 * scopes (client, server, shared).
 */
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "meta/meta_int.h"
#include "meta/watch.h"

#define DEV_SELECT                                                                       \
  "SELECT d.id, d.tenant_id, t.db_name, d.profile_id, d.name, d.mqtt_password_hash "     \
  "FROM devices d JOIN tenants t ON t.id = d.tenant_id "
#define MAX_KEYS 1000

static int dev_fill(meta_store *m, sqlite3_stmt *st, meta_device_ref *out, bool with_pw) {
  int rc = sqlite3_step(st);
  int r = 0;
  if (rc == SQLITE_ROW) {
    meta_col_copy(st, 0, out->id, sizeof out->id);
    meta_col_copy(st, 1, out->tenant_id, sizeof out->tenant_id);
    meta_col_copy(st, 2, out->db_name, sizeof out->db_name);
    meta_col_copy(st, 3, out->profile_id, sizeof out->profile_id);
    meta_col_copy(st, 4, out->name, sizeof out->name);
    if (with_pw) meta_col_copy(st, 5, out->mqtt_password_hash, sizeof out->mqtt_password_hash);
    else out->mqtt_password_hash[0] = '\0';
  } else {
    r = rc == SQLITE_DONE ? LOOM_ENOTFOUND : meta_rc_code(rc);
  }
  sqlite3_reset(st);
  return r;
}

int meta_device_by_token(meta_store *m, const uint8_t *hash, meta_device_ref *out) {
  if (!hash) return LOOM_EINVAL;
  meta_rlock(m);
  int r = LOOM_EIO;
  sqlite3_stmt *st = meta_cached_rd(m, RST_DEV_BY_TOKEN, DEV_SELECT "WHERE d.token_hash = ?");
  if (st) {
    sqlite3_bind_blob(st, 1, hash, META_HASH_LEN, SQLITE_STATIC);
    r = dev_fill(m, st, out, false);
  }
  meta_runlock(m);
  return r;
}

int meta_device_by_mqtt(meta_store *m, const char *username, meta_device_ref *out) {
  if (!username) return LOOM_EINVAL;
  meta_rlock(m);
  int r = LOOM_EIO;
  sqlite3_stmt *st = meta_cached_rd(m, RST_DEV_BY_MQTT, DEV_SELECT "WHERE d.mqtt_username = ?");
  if (st) {
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    r = dev_fill(m, st, out, true);
  }
  meta_runlock(m);
  return r;
}

int meta_device_by_name(meta_store *m, const char *scope, const char *name, meta_device_ref *out) {
  if (!scope || !name) return LOOM_EINVAL;
  meta_rlock(m);
  int r = LOOM_EIO;
  sqlite3_stmt *st =
      meta_cached_rd(m, RST_DEV_BY_NAME, DEV_SELECT "WHERE d.tenant_id = ? AND d.name = ?");
  if (st) {
    sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    r = dev_fill(m, st, out, false);
  }
  meta_runlock(m);
  return r;
}

/* Activity does not touch updated_ms: that records configuration changes. */
int meta_device_activity(meta_store *m, meta_activity *items, size_t n, size_t *n_applied) {
  size_t applied = 0;
  if (n_applied) *n_applied = 0;
  if (n == 0) return 0;
  meta_lock(m);
  int r = meta_tx_begin(m, NULL, 0);
  if (r < 0) goto done;
  for (size_t i = 0; i < n; i++) {
    meta_activity *a = &items[i];
    a->state_changed = false;
    if (!a->device_id || !a->tenant_id) continue;
    const char *state = a->online ? "online" : "offline";
    sqlite3_stmt *st = meta_cached(m, ST_ACT_STATE,
                                   "UPDATE devices SET state = ?1, last_activity_ms = "
                                   "max(coalesce(last_activity_ms, 0), ?2) "
                                   "WHERE id = ?3 AND tenant_id = ?4 AND state <> ?1");
    if (!st) goto fail;
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->last_activity_ms);
    sqlite3_bind_text(st, 3, a->device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->tenant_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) goto fail_rc;
    if (sqlite3_changes(m->db) == 1) {
      a->state_changed = true;
      applied++;
      continue;
    }
    st = meta_cached(m, ST_ACT_TIME,
                     "UPDATE devices SET last_activity_ms = max(coalesce(last_activity_ms, 0), ?1) "
                     "WHERE id = ?2 AND tenant_id = ?3");
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, a->last_activity_ms);
    sqlite3_bind_text(st, 2, a->device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->tenant_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) goto fail_rc;
    if (sqlite3_changes(m->db) == 1) applied++;
  }
  r = meta_tx_commit(m, NULL, 0);
  goto done;
fail_rc:
fail:
  r = LOOM_EIO;
  meta_tx_rollback(m);
  for (size_t i = 0; i < n; i++) items[i].state_changed = false;
  applied = 0;
done:
  meta_unlock(m);
  if (n_applied && r == 0) *n_applied = applied;
  return r;
}

/* ---- attributes ------------------------------------------------------- */

static const char *scope_names[] = {"client", "server", "shared"};

int meta_attr_scope_parse(const char *s, unsigned *bit) {
  for (unsigned i = 0; i < 3; i++)
    if (s && strcmp(s, scope_names[i]) == 0) {
      *bit = 1u << i;
      return 0;
    }
  return LOOM_EINVAL;
}

static const char *scope_name(unsigned bit) {
  return bit == META_ATTR_CLIENT ? "client" : bit == META_ATTR_SERVER ? "server" : bit == META_ATTR_SHARED ? "shared" : NULL;
}

static int check_key(const char *k, char *err, size_t errlen) {
  size_t n = k ? strlen(k) : 0;
  if (n == 0 || n > META_ATTR_KEY_MAX)
    return meta_seterr(err, errlen, LOOM_EINVAL, "attribute key: 1..%d bytes", META_ATTR_KEY_MAX);
  return 0;
}

int meta_attr_set(meta_store *m, const char *scope, const char *device_id, unsigned attr_scope,
                  const json_t *kv, int64_t now_ms, char *err, size_t errlen) {
  const char *sname = scope_name(attr_scope);
  if (!sname) return meta_seterr(err, errlen, LOOM_EINVAL, "attribute scope: one of client, server, shared");
  if (!json_is_object(kv)) return meta_seterr(err, errlen, LOOM_EINVAL, "attributes must be a JSON object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)kv, key, v) {
    int r = check_key(key, err, errlen);
    if (r < 0) return r;
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0 || n > META_ATTR_VALUE_MAX)
      return meta_seterr(err, errlen, LOOM_EINVAL, "attribute '%.64s': value larger than %d bytes",
                         key, META_ATTR_VALUE_MAX);
  }
  char tenant[META_ID_LEN + 1];
  sqlite3_stmt *st = NULL;
  char *text = NULL;
  meta_lock(m);
  int r = meta_exists(m, META_DEVICE, scope, device_id, tenant, err, errlen);
  if (r < 0) goto done;
  if ((r = meta_tx_begin(m, err, errlen)) < 0) goto done;
  r = meta_prepare(m,
                   "INSERT INTO attributes(device_id,tenant_id,scope,key,value,updated_ms) "
                   "VALUES(?,?,?,?,?,?) ON CONFLICT(device_id,scope,key) DO UPDATE SET "
                   "value = excluded.value, updated_ms = excluded.updated_ms",
                   &st, err, errlen);
  if (r < 0) goto rollback;
  json_object_foreach((json_t *)kv, key, v) {
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    text = loom_malloc(n + 1);
    if (!text) {
      r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
      goto rollback;
    }
    json_dumpb(v, text, n, JSON_COMPACT | JSON_ENCODE_ANY);
    text[n] = '\0';
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sname, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, text, (int)n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    loom_free(text);
    text = NULL;
    if (rc != SQLITE_DONE) {
      r = meta_sqlerr(m, rc, err, errlen);
      goto rollback;
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  r = meta_tx_commit(m, err, errlen);
  goto done;
rollback:
  meta_tx_rollback(m);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  if (r == 0) {
    meta_change ch = {.kind = META_CHANGE_ATTRS_SET, .tenant_id = tenant, .device_id = device_id,
                      .attr_scope = attr_scope, .kv = kv};
    meta_watch_emit(m, &ch);
  }
  return r;
}

/* SELECT scope,key,value,updated_ms for a device, scopes in mask, keys. */
static int attr_query(meta_store *m, const char *device_id, unsigned mask, const char *const *keys,
                      size_t n_keys, sqlite3_stmt **out, char *err, size_t errlen) {
  if (n_keys > MAX_KEYS) return meta_seterr(err, errlen, LOOM_EINVAL, "at most %d keys", MAX_KEYS);
  loom_buf b;
  loom_buf_init(&b);
  int r = loom_buf_append_str(&b, "SELECT scope,key,value,updated_ms FROM attributes "
                                  "WHERE device_id=? AND scope IN (''");
  for (unsigned i = 0; i < 3 && !r; i++)
    if (mask & (1u << i)) r = loom_buf_printf(&b, ",'%s'", scope_names[i]);
  if (!r) r = loom_buf_append_str(&b, ")");
  if (!r && n_keys) {
    r = loom_buf_append_str(&b, " AND key IN (?");
    for (size_t i = 1; i < n_keys && !r; i++) r = loom_buf_append_str(&b, ",?");
    if (!r) r = loom_buf_append_str(&b, ")");
  }
  if (!r) r = loom_buf_append_str(&b, " ORDER BY scope,key");
  if (!r) r = loom_buf_cstr(&b);
  if (r < 0) {
    loom_buf_deinit(&b);
    return meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
  }
  r = meta_prepare(m, (const char *)b.data, out, err, errlen);
  loom_buf_deinit(&b);
  if (r < 0) return r;
  sqlite3_bind_text(*out, 1, device_id, -1, SQLITE_STATIC);
  for (size_t i = 0; i < n_keys; i++)
    sqlite3_bind_text(*out, (int)i + 2, keys[i] ? keys[i] : "", -1, SQLITE_STATIC);
  return 0;
}

/* Shared body of meta_attr_get (nested=true) and meta_attr_list. */
static int attr_read(meta_store *m, const char *scope, const char *device_id, unsigned mask,
                     const char *const *keys, size_t n_keys, bool nested, json_t **out, char *err,
                     size_t errlen) {
  *out = NULL;
  sqlite3_stmt *st = NULL;
  json_t *res = nested ? json_object() : json_array();
  if (!res) return meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
  meta_lock(m);
  int r = meta_exists(m, META_DEVICE, scope, device_id, NULL, err, errlen);
  if (r < 0) goto done;
  if ((r = attr_query(m, device_id, mask, keys, n_keys, &st, err, errlen)) < 0) goto done;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *sc = (const char *)sqlite3_column_text(st, 0);
    const char *key = (const char *)sqlite3_column_text(st, 1);
    json_t *val = meta_col_json(st, 2);
    int bad = !val || !sc || !key;
    if (!bad && nested) {
      json_t *obj = json_object_get(res, sc);
      if (!obj) {
        obj = json_object();
        bad = !obj || json_object_set_new(res, sc, obj) != 0;
      }
      if (!bad) {
        bad = json_object_set_new(obj, key, val) != 0;
        val = NULL;
      }
    } else if (!bad) {
      json_t *row = json_pack("{s:s,s:s,s:o,s:I}", "scope", sc, "key", key, "value", val,
                              "updated_ms", (json_int_t)sqlite3_column_int64(st, 3));
      val = NULL;
      bad = !row || json_array_append_new(res, row) != 0;
    }
    json_decref(val);
    if (bad) {
      r = meta_seterr(err, errlen, LOOM_ENOMEM, "out of memory");
      goto done;
    }
  }
  if (rc != SQLITE_DONE) r = meta_sqlerr(m, rc, err, errlen);
done:
  meta_unlock(m);
  sqlite3_finalize(st);
  if (r < 0) json_decref(res);
  else *out = res;
  return r;
}

int meta_attr_get(meta_store *m, const char *scope, const char *device_id, unsigned mask,
                  const char *const *keys, size_t n_keys, json_t **out, char *err, size_t errlen) {
  return attr_read(m, scope, device_id, mask, keys, n_keys, true, out, err, errlen);
}

int meta_attr_list(meta_store *m, const char *scope, const char *device_id, unsigned mask,
                   json_t **out, char *err, size_t errlen) {
  return attr_read(m, scope, device_id, mask, NULL, 0, false, out, err, errlen);
}

int meta_attr_delete(meta_store *m, const char *scope, const char *device_id, unsigned attr_scope,
                     const char *const *keys, size_t n_keys, size_t *n_deleted, char *err,
                     size_t errlen) {
  if (n_deleted) *n_deleted = 0;
  const char *sname = scope_name(attr_scope);
  if (!sname) return meta_seterr(err, errlen, LOOM_EINVAL, "attribute scope: one of client, server, shared");
  if (n_keys == 0 || !keys) return meta_seterr(err, errlen, LOOM_EINVAL, "no attribute keys given");
  if (n_keys > MAX_KEYS) return meta_seterr(err, errlen, LOOM_EINVAL, "at most %d keys", MAX_KEYS);
  sqlite3_stmt *st = NULL;
  size_t total = 0;
  char tenant[META_ID_LEN + 1] = "";
  meta_lock(m);
  int r = meta_exists(m, META_DEVICE, scope, device_id, tenant, err, errlen);
  if (r < 0) goto done;
  if ((r = meta_tx_begin(m, err, errlen)) < 0) goto done;
  r = meta_prepare(m, "DELETE FROM attributes WHERE device_id=? AND scope=? AND key=?", &st, err,
                   errlen);
  for (size_t i = 0; i < n_keys && r == 0; i++) {
    if (!keys[i]) continue;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sname, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, keys[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) r = meta_sqlerr(m, rc, err, errlen);
    else total += (size_t)sqlite3_changes(m->db);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (r == 0) r = meta_tx_commit(m, err, errlen);
  else meta_tx_rollback(m);
done:
  meta_unlock(m);
  if (r == 0 && n_deleted) *n_deleted = total;
  if (r == 0 && total) {
    meta_change ch = {.kind = META_CHANGE_ATTRS_DELETED, .tenant_id = tenant, .device_id = device_id,
                      .attr_scope = attr_scope, .keys = keys, .n_keys = n_keys};
    meta_watch_emit(m, &ch);
  }
  return r;
}
