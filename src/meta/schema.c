/* SPDX-License-Identifier: Apache-2.0
 * The schema of meta.db as an ordered list of migration steps. Never edit a
 * released step: add a new one. Times are int64 ms since the Unix epoch, ids
 * UUIDv4 text, hashes of token secrets 32-byte BLOBs (BLAKE2b-256), password
 * hashes argon2id strings from sec/password. JSON columns hold compact JSON
 * text (checked with json_valid).
 */
#include "meta/schema.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "meta/meta_int.h"

/* Version 1: every entity of the registry. */
static const char v1_sql[] =
    "CREATE TABLE tenants("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " industry TEXT,"
    " region_code TEXT,"
    " db_name TEXT NOT NULL UNIQUE," /* engine database holding its telemetry */
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"

    "CREATE TABLE users("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT REFERENCES tenants(id)," /* NULL: platform admin or regional observer */
    " email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " name TEXT,"
    " role TEXT NOT NULL CHECK(role IN ('platform_admin','tenant_admin','engineer','operator',"
    "'viewer','regional_observer')),"
    " region_code TEXT,"
    " password_hash TEXT,"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK(disabled IN (0,1)),"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " CONSTRAINT role_tenant CHECK((role IN ('platform_admin','regional_observer')) ="
    " (tenant_id IS NULL)),"
    " CONSTRAINT observer_region CHECK(role <> 'regional_observer' OR region_code IS NOT NULL));"
    "CREATE INDEX users_tenant ON users(tenant_id);"

    "CREATE TABLE tokens("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT REFERENCES tenants(id)," /* the user's, copied for scoping */
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL CHECK(kind IN ('session','api')),"
    " scope TEXT NOT NULL CHECK(scope IN ('read','write','admin')),"
    " name TEXT,"
    " hash BLOB NOT NULL UNIQUE CHECK(length(hash) = 32),"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " expires_ms INTEGER," /* NULL: never */
    " revoked_ms INTEGER," /* NULL: live */
    " last_used_ms INTEGER);"
    "CREATE INDEX tokens_user ON tokens(user_id);"
    "CREATE INDEX tokens_tenant ON tokens(tenant_id);"

    "CREATE TABLE assets("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " parent_id TEXT REFERENCES assets(id)," /* NULL: a root; same tenant (checked) */
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL," /* site, plant, line, cell ...: free text */
    " description TEXT,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE INDEX assets_tenant ON assets(tenant_id, name);"
    "CREATE INDEX assets_parent ON assets(parent_id);"

    "CREATE TABLE device_profiles("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " name TEXT NOT NULL,"
    " description TEXT,"
    " provision_key TEXT UNIQUE,"
    " provision_secret_hash TEXT,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " UNIQUE(tenant_id, name));"

    "CREATE TABLE profile_keys("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " profile_id TEXT NOT NULL REFERENCES device_profiles(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " type TEXT NOT NULL CHECK(type IN ('float','int','bool','string')),"
    " unit TEXT,"
    " min REAL,"
    " max REAL,"
    " level INTEGER NOT NULL DEFAULT 1 CHECK(level BETWEEN 1 AND 3)," /* MIIT data grade */
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " CONSTRAINT key_range CHECK(min IS NULL OR max IS NULL OR min <= max),"
    " UNIQUE(profile_id, key));"
    "CREATE INDEX profile_keys_tenant ON profile_keys(tenant_id);"

    "CREATE TABLE devices("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " profile_id TEXT NOT NULL REFERENCES device_profiles(id),"
    " asset_id TEXT REFERENCES assets(id) ON DELETE SET NULL,"
    " name TEXT NOT NULL,"
    " label TEXT,"
    " labels TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(labels)),"
    " token_hash BLOB UNIQUE CHECK(token_hash IS NULL OR length(token_hash) = 32),"
    " mqtt_username TEXT UNIQUE,"
    " mqtt_password_hash TEXT,"
    " state TEXT NOT NULL DEFAULT 'offline' CHECK(state IN ('online','offline')),"
    " last_activity_ms INTEGER,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " UNIQUE(tenant_id, name));"
    "CREATE INDEX devices_profile ON devices(profile_id);"
    "CREATE INDEX devices_asset ON devices(asset_id);"

    "CREATE TABLE attributes("
    " device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " scope TEXT NOT NULL CHECK(scope IN ('client','server','shared')),"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL CHECK(json_valid(value)),"
    " updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(device_id, scope, key)) WITHOUT ROWID;"

    "CREATE TABLE rpc("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    " method TEXT NOT NULL,"
    " params TEXT NOT NULL DEFAULT 'null' CHECK(json_valid(params)),"
    " oneway INTEGER NOT NULL DEFAULT 0 CHECK(oneway IN (0,1)),"
    " status TEXT NOT NULL DEFAULT 'queued' CHECK(status IN ('queued','sent','delivered',"
    "'successful','failed','timeout','expired')),"
    " response TEXT CHECK(response IS NULL OR json_valid(response)),"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL);"
    "CREATE INDEX rpc_device ON rpc(device_id, status, created_ms);"
    "CREATE INDEX rpc_tenant ON rpc(tenant_id, created_ms);";

/* Version 1, C part: the first start creates tenant "default" whose
 * telemetry lives in engine database "default". Later deleting it is the
 * operator's choice: it is not re-created. */
static int v1_default_tenant(sqlite3 *db) {
  char id[META_ID_LEN + 1];
  meta_uuid(id);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "INSERT INTO tenants(id,name,db_name,created_ms,updated_ms) "
                              "VALUES(?,'default','default',?,?)",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  int64_t now = meta_now_ms();
  sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_int64(st, 3, now);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Version 2: indexes for the periodic RPC expiry sweep and token clean-up. */
static const char v2_sql[] =
    "CREATE INDEX rpc_expiry ON rpc(status, expires_ms);"
    "CREATE INDEX tokens_expiry ON tokens(expires_ms) WHERE expires_ms IS NOT NULL;";

/* Version 3: unified-namespace mapping rules (mqtt/uns.h), per tenant. */
static const char v3_sql[] =
    "CREATE TABLE mqtt_rules("
    " id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " name TEXT NOT NULL,"
    " description TEXT,"
    " pattern TEXT NOT NULL,"      /* topic pattern: literal, +, +name, #, #name levels */
    " device TEXT NOT NULL,"       /* template */
    " profile TEXT NOT NULL DEFAULT 'uns',"
    " key TEXT NOT NULL DEFAULT 'value',"
    " payload TEXT NOT NULL DEFAULT 'auto' CHECK(payload IN ('auto','json','plain')),"
    " value TEXT,"                 /* member path or NULL */
    " ts TEXT,"                    /* member path or NULL */
    " enabled INTEGER NOT NULL DEFAULT 1 CHECK(enabled IN (0,1)),"
    " priority INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " UNIQUE(tenant_id, name));";

/* Version 4: the console's overview (meta_device_overview) counts a tenant's
 * devices by state and lists the longest-silent ones from the first index
 * alone (covering; no table look-up per device, no sort); the second serves
 * the platform-wide list. */
static const char v4_sql[] =
    "CREATE INDEX devices_activity ON devices(tenant_id, last_activity_ms, state);"
    "CREATE INDEX devices_last_activity ON devices(last_activity_ms) "
    "WHERE last_activity_ms IS NOT NULL;";

typedef struct migration {
  int version;
  const char *sql;
  int (*fn)(sqlite3 *db); /* may be NULL; SQLite result code */
} migration;

static const migration steps[] = {
    {1, v1_sql, v1_default_tenant},
    {2, v2_sql, NULL},
    {3, v3_sql, NULL},
    {4, v4_sql, NULL},
};
#define N_STEPS (sizeof steps / sizeof steps[0])

int meta_schema_latest(void) { return steps[N_STEPS - 1].version; }

static int map_rc(sqlite3 *db, int rc, char *err, size_t errlen, const char *what) {
  int code = LOOM_EIO;
  int prim = rc & 0xff;
  if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT) code = LOOM_ECORRUPT;
  else if (prim == SQLITE_NOMEM) code = LOOM_ENOMEM;
  else if (prim == SQLITE_FULL) code = LOOM_ENOSPC;
  return meta_seterr(err, errlen, code, "meta: %s: %s", what, sqlite3_errmsg(db));
}

int meta_schema_version(sqlite3 *db, int *version) {
  sqlite3_stmt *st = NULL;
  *version = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version),0) FROM schema_migrations", -1,
                              &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *version = sqlite3_column_int(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static int apply(sqlite3 *db, const migration *s, char *err, size_t errlen) {
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return map_rc(db, rc, err, errlen, "begin migration");
  rc = sqlite3_exec(db, s->sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK && s->fn) rc = s->fn(db);
  if (rc == SQLITE_OK) {
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO schema_migrations(version,applied_ms) VALUES(%d,%lld)",
             s->version, (long long)meta_now_ms());
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    char what[48];
    snprintf(what, sizeof what, "migration to version %d", s->version);
    int code = map_rc(db, rc, err, errlen, what);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return code;
  }
  return 0;
}

int meta_schema_migrate(sqlite3 *db, int target, int *version, char *err, size_t errlen) {
  int latest = meta_schema_latest();
  if (sodium_init() < 0) return meta_seterr(err, errlen, LOOM_EIO, "meta: libsodium init failed");
  if (target <= 0 || target > latest) target = latest;
  int rc = sqlite3_exec(db,
                        "CREATE TABLE IF NOT EXISTS schema_migrations("
                        "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
                        NULL, NULL, NULL);
  if (rc != SQLITE_OK) return map_rc(db, rc, err, errlen, "schema_migrations");
  int cur = 0;
  rc = meta_schema_version(db, &cur);
  if (rc != SQLITE_OK) return map_rc(db, rc, err, errlen, "read schema version");
  if (cur > latest)
    return meta_seterr(err, errlen, LOOM_EUNSUP,
                       "meta: database schema version %d is newer than this binary supports "
                       "(%d); upgrade loom",
                       cur, latest);
  if (cur > target)
    return meta_seterr(err, errlen, LOOM_EUNSUP,
                       "meta: database schema version %d is newer than requested %d", cur,
                       target);
  for (size_t i = 0; i < N_STEPS; i++) {
    if (steps[i].version <= cur || steps[i].version > target) continue;
    int r = apply(db, &steps[i], err, errlen);
    if (r < 0) return r;
    cur = steps[i].version;
  }
  if (version) *version = cur;
  return 0;
}
