/* SPDX-License-Identifier: Apache-2.0
 * Opening and closing the registry store (SQLite connection, pragmas,
 * migrations, the store mutex) and the small helpers every meta/ file uses:
 * error mapping, UUIDs, cached statements, transactions.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/mem.h"
#include "meta/meta_int.h"
#include "meta/schema.h"

/* "UNIQUE constraint failed: devices.tenant_id, devices.name" -> "name";
 * "NOT NULL constraint failed: users.email" -> "email". */
static void last_column(const char *msg, char *out, size_t cap) {
  const char *colon = strchr(msg, ':');
  const char *s = colon ? colon + 1 : msg;
  const char *comma = strrchr(s, ',');
  if (comma) s = comma + 1;
  while (*s == ' ') s++;
  const char *dot = strchr(s, '.');
  if (dot) s = dot + 1;
  snprintf(out, cap, "%s", s);
}

/* Named CHECK constraints of schema.c, explained in terms of fields. */
static const struct {
  const char *name, *text;
} checks[] = {
    {"role_tenant", "field 'role': platform_admin and regional_observer users have no "
                    "tenant_id; every other role needs one"},
    {"observer_region", "field 'region_code': required for a regional_observer"},
    {"key_range", "field 'min': must not exceed max"},
};

int meta_rc_code(int rc) {
  switch (rc & 0xff) {
  case SQLITE_NOMEM: return LOOM_ENOMEM;
  case SQLITE_FULL: return LOOM_ENOSPC;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB: return LOOM_ECORRUPT;
  case SQLITE_CONSTRAINT: return LOOM_EINVAL;
  default: return LOOM_EIO;
  }
}

int meta_sqlerr(meta_store *m, int rc, char *err, size_t errlen) {
  const char *msg = sqlite3_errmsg(m->db);
  char field[64];
  switch (rc) {
  case SQLITE_CONSTRAINT_UNIQUE:
  case SQLITE_CONSTRAINT_PRIMARYKEY:
    last_column(msg, field, sizeof field);
    return meta_seterr(err, errlen, LOOM_EEXIST, "field '%s': already exists", field);
  case SQLITE_CONSTRAINT_NOTNULL:
    last_column(msg, field, sizeof field);
    return meta_seterr(err, errlen, LOOM_EINVAL, "field '%s': required", field);
  case SQLITE_CONSTRAINT_CHECK:
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
      if (strstr(msg, checks[i].name))
        return meta_seterr(err, errlen, LOOM_EINVAL, "%s", checks[i].text);
    return meta_seterr(err, errlen, LOOM_EINVAL, "%s", msg);
  case SQLITE_CONSTRAINT_FOREIGNKEY:
    return meta_seterr(err, errlen, LOOM_EINVAL, "a referenced entity does not exist (%s)", msg);
  default: break;
  }
  switch (rc & 0xff) {
  case SQLITE_NOMEM: return meta_seterr(err, errlen, LOOM_ENOMEM, "meta: out of memory");
  case SQLITE_FULL: return meta_seterr(err, errlen, LOOM_ENOSPC, "meta: disk full");
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB: return meta_seterr(err, errlen, LOOM_ECORRUPT, "meta: %s", msg);
  case SQLITE_CONSTRAINT: return meta_seterr(err, errlen, LOOM_EINVAL, "%s", msg);
  default: return meta_seterr(err, errlen, LOOM_EIO, "meta: %s", msg);
  }
}

void meta_uuid(char *out) {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = '\0';
}

bool meta_id_valid(const char *id) {
  if (!id || strlen(id) != META_ID_LEN) return false;
  for (int i = 0; i < META_ID_LEN; i++) {
    char c = id[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
      return false;
  }
  return true;
}

int64_t meta_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int meta_prepare(meta_store *m, const char *sql, sqlite3_stmt **st, char *err, size_t errlen) {
  int rc = sqlite3_prepare_v2(m->db, sql, -1, st, NULL);
  if (rc != SQLITE_OK) {
    *st = NULL;
    return meta_sqlerr(m, rc, err, errlen);
  }
  return 0;
}

static sqlite3_stmt *cached(sqlite3 *db, sqlite3_stmt **slot, const char *sql) {
  if (!*slot) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
      sqlite3_finalize(*slot);
      *slot = NULL;
    }
    return *slot;
  }
  sqlite3_reset(*slot);
  sqlite3_clear_bindings(*slot);
  return *slot;
}

sqlite3_stmt *meta_cached(meta_store *m, int idx, const char *sql) {
  return cached(m->db, &m->st[idx], sql);
}

sqlite3_stmt *meta_cached_rd(meta_store *m, int idx, const char *sql) {
  return cached(m->rdb, &m->rst[idx], sql);
}

int meta_exec(meta_store *m, const char *sql, char *err, size_t errlen) {
  int rc = sqlite3_exec(m->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : meta_sqlerr(m, rc, err, errlen);
}

int meta_tx_begin(meta_store *m, char *err, size_t errlen) {
  return meta_exec(m, "BEGIN IMMEDIATE", err, errlen);
}

int meta_tx_commit(meta_store *m, char *err, size_t errlen) {
  int r = meta_exec(m, "COMMIT", err, errlen);
  if (r < 0) meta_tx_rollback(m);
  return r;
}

void meta_tx_rollback(meta_store *m) {
  if (!sqlite3_get_autocommit(m->db)) sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
}

void meta_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap) {
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

json_t *meta_col_json(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  if (!s) return json_null();
  json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
  return v ? v : json_null();
}

void meta_lock(meta_store *m) { pthread_mutex_lock(&m->mu); }
void meta_unlock(meta_store *m) { pthread_mutex_unlock(&m->mu); }
void meta_rlock(meta_store *m) { pthread_mutex_lock(&m->rmu); }
void meta_runlock(meta_store *m) { pthread_mutex_unlock(&m->rmu); }

static int pragma(meta_store *m, const char *sql, const char *expect, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int r = meta_prepare(m, sql, &st, err, errlen);
  if (r < 0) return r;
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    r = meta_sqlerr(m, rc, err, errlen);
  } else if (expect) {
    const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (!got || strcmp(got, expect) != 0)
      r = meta_seterr(err, errlen, LOOM_EIO, "meta: %s gave %s, wanted %s", sql,
                      got ? got : "nothing", expect);
  }
  sqlite3_finalize(st);
  return r;
}

int meta_store_open(const char *path, meta_store **out, char *err, size_t errlen) {
  *out = NULL;
  if (!path) return meta_seterr(err, errlen, LOOM_EINVAL, "meta: no path");
  if (sodium_init() < 0) return meta_seterr(err, errlen, LOOM_EIO, "meta: libsodium init failed");
  meta_store *m = loom_calloc(1, sizeof *m);
  if (!m) return meta_seterr(err, errlen, LOOM_ENOMEM, "meta: out of memory");
  int r = 0;
  if (pthread_mutex_init(&m->mu, NULL) != 0) {
    loom_free(m);
    return meta_seterr(err, errlen, LOOM_ENOMEM, "meta: mutex init failed");
  }
  if (pthread_mutex_init(&m->rmu, NULL) != 0) {
    pthread_mutex_destroy(&m->mu);
    loom_free(m);
    return meta_seterr(err, errlen, LOOM_ENOMEM, "meta: mutex init failed");
  }
  int rc = sqlite3_open_v2(path, &m->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    r = m->db ? meta_sqlerr(m, rc, err, errlen)
              : meta_seterr(err, errlen, LOOM_ENOMEM, "meta: out of memory");
    goto fail;
  }
  sqlite3_extended_result_codes(m->db, 1);
  sqlite3_busy_timeout(m->db, 5000);
  /* WAL: readers never block the writer; synchronous=FULL: a commit that
   * returned survives power loss; foreign keys enforce the references. */
  if ((r = pragma(m, "PRAGMA journal_mode=WAL", "wal", err, errlen)) < 0) goto fail;
  if ((r = pragma(m, "PRAGMA synchronous=FULL", NULL, err, errlen)) < 0) goto fail;
  if ((r = pragma(m, "PRAGMA foreign_keys=ON", NULL, err, errlen)) < 0) goto fail;
  if ((r = meta_schema_migrate(m->db, 0, &m->version, err, errlen)) < 0) goto fail;
  rc = sqlite3_open_v2(path, &m->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    r = meta_seterr(err, errlen, m->rdb ? LOOM_EIO : LOOM_ENOMEM, "meta: reader: %s",
                    m->rdb ? sqlite3_errmsg(m->rdb) : "out of memory");
    goto fail;
  }
  sqlite3_extended_result_codes(m->rdb, 1);
  sqlite3_busy_timeout(m->rdb, 5000);
  *out = m;
  return 0;
fail:
  sqlite3_close(m->rdb);
  sqlite3_close(m->db);
  pthread_mutex_destroy(&m->rmu);
  pthread_mutex_destroy(&m->mu);
  loom_free(m);
  return r;
}

void meta_store_close(meta_store *m) {
  if (!m) return;
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(m->st[i]);
  for (int i = 0; i < RST_COUNT; i++) sqlite3_finalize(m->rst[i]);
  sqlite3_close(m->rdb);
  sqlite3_close(m->db);
  pthread_mutex_destroy(&m->rmu);
  pthread_mutex_destroy(&m->mu);
  loom_free(m);
}

int meta_store_version(meta_store *m) { return m->version; }
