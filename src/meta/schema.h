/* SPDX-License-Identifier: Apache-2.0
 * Versioned schema migrations of meta.db. schema.c holds an ordered array of
 * steps (SQL and an optional C step); table schema_migrations(version,
 * applied_ms) records each applied step. Each step runs in its own
 * transaction, so a crash leaves the file at a whole version.
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
