/* SPDX-License-Identifier: Apache-2.0
 * Versioned schema migrations of meta.db. schema.c holds an ordered array of
 * steps (SQL and an optional C step); table schema_migrations(version,
 * applied_ms) records each applied step. Each step runs in its own
 * transaction, so a crash leaves the file at a whole version.
 *
 * Format of meta.db (SQLite 3, journal_mode=WAL, foreign_keys=ON). The SQL
 * in schema.c is normative; in brief (ids: UUIDv4 text; *_ms: int64 ms since
 * the Unix epoch; hashes: BLOB(32) BLAKE2b-256 of token secrets, or argon2id
 * strings for passwords and MQTT/provision secrets; JSON: compact text):
 *   schema_migrations(version PK, applied_ms)
 *   tenants(id, name UNIQUE, industry, region_code, db_name UNIQUE, created/updated)
 *   users(id, tenant_id NULL only for platform_admin/regional_observer
 *         [CHECK role_tenant], email UNIQUE NOCASE, name, role, region_code
 *         [required for regional_observer], password_hash, disabled 0|1)
 *   tokens(id, tenant_id (the user's), user_id CASCADE, kind session|api,
 *          scope read|write|admin, name, hash UNIQUE, expires/revoked/last_used)
 *   assets(id, tenant_id, parent_id NULL=root, name, type, description)
 *   device_profiles(id, tenant_id, name UNIQUE per tenant, description,
 *                   provision_key UNIQUE, provision_secret_hash)
 *   profile_keys(id, tenant_id, profile_id CASCADE, key UNIQUE per profile,
 *                type float|int|bool|string, unit, min, max, level 1..3)
 *   devices(id, tenant_id, profile_id, asset_id SET NULL, name UNIQUE per
 *           tenant, label, labels JSON object, token_hash UNIQUE, mqtt_username
 *           UNIQUE, mqtt_password_hash, state online|offline, last_activity_ms)
 *   attributes(device_id CASCADE, tenant_id, scope client|server|shared, key,
 *              value JSON, updated_ms; PK(device_id, scope, key))
 *   rpc(id, tenant_id, device_id CASCADE, method, params JSON, oneway 0|1,
 *       status queued|sent|delivered|successful|failed|timeout|expired,
 *       response JSON, created/updated/expires_ms)
 * Entity tables (all but attributes and schema_migrations) also have
 * created_ms and updated_ms.
 * Version 2 adds indexes rpc_expiry(status, expires_ms) and
 * tokens_expiry(expires_ms).
 */
#ifndef LOOM_META_SCHEMA_H
#define LOOM_META_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

/* Migrate db (an open connection with foreign_keys on) up to version target
 * (0 = newest). *version receives the resulting version. A file newer than
 * this binary, or newer than target, is LOOM_EUNSUP with a message giving
 * both versions. 0, LOOM_EUNSUP, LOOM_ECORRUPT, LOOM_EIO. Tests use target
 * to build old-version files. */
int meta_schema_migrate(sqlite3 *db, int target, int *version, char *err, size_t errlen);

/* The current version recorded in db (0 for an empty file). */
int meta_schema_version(sqlite3 *db, int *version);

#endif
