/* SPDX-License-Identifier: Apache-2.0
 * Internals shared by the files of meta/: the store struct, the declarative
 * entity table's types, and small SQLite helpers (error mapping, cached
 * statements, transactions). Not a public interface: only meta/ and its unit
 * tests include it.
 */
#ifndef LOOM_META_META_INT_H
#define LOOM_META_META_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "core/err.h"
#include "meta/meta.h"

/* Cached statements of the writer connection, prepared on first use and
 * kept for the store's life. */
enum { ST_ACT_STATE, ST_ACT_TIME, ST_TOK_TOUCH, ST_COUNT };
/* Cached statements of the reader connection (credential look-ups). */
enum { RST_DEV_BY_TOKEN, RST_DEV_BY_MQTT, RST_DEV_BY_NAME, RST_TOK_BY_HASH, RST_COUNT };

struct meta_change; /* watch.h */

/* Two connections: `db` for everything, under `mu`; `rdb`, read-only, for
 * the credential look-ups of the ingest and API hot paths, under `rmu`. In
 * WAL mode a reader never waits for the writer, so a look-up is not stuck
 * behind a commit's fsync; it sees every transaction committed before it
 * starts. */
struct meta_store {
  sqlite3 *db;
  pthread_mutex_t mu; /* held for the whole of every public call on db */
  sqlite3_stmt *st[ST_COUNT];
  sqlite3 *rdb;
  pthread_mutex_t rmu; /* held for the whole of every look-up on rdb */
  sqlite3_stmt *rst[RST_COUNT];
  int version; /* schema version after migration */
  /* the change watcher (watch.h), set at start and stop only */
  void (*watch_fn)(void *ud, const struct meta_change *c);
  void *watch_ud;
};

/* ---- declarative entity table (entity.c) ------------------------------ */

typedef enum meta_coltype {
  MT_TEXT, /* string; max = longest length in bytes */
  MT_INT,  /* int64; min..max when min < max */
  MT_REAL, /* double */
  MT_BOOL, /* stored 0/1 */
  MT_JSON, /* any JSON value stored as compact text; max = largest bytes */
  MT_ID,   /* UUID text; ref names the referenced kind */
  MT_HASH  /* BLOB of META_HASH_LEN bytes, secrets only, hex in JSON */
} meta_coltype;

enum {
  MC_CREATE = 1 << 0, /* may be given on create */
  MC_UPDATE = 1 << 1, /* may be changed by update */
  MC_REQ = 1 << 2,    /* required (non-null) on create */
  MC_FILTER = 1 << 3, /* equality filter in meta_list */
  MC_SORT = 1 << 4,   /* sort property in meta_list */
  MC_SECRET = 1 << 5, /* only through `secrets`; never output */
  MC_NULL = 1 << 6,   /* null accepted */
  MC_SEARCH = 1 << 7, /* the text_search column */
  MC_OBJECT = 1 << 8  /* MT_JSON that must be an object */
};
#define MC_W (MC_CREATE | MC_UPDATE)

typedef struct meta_col {
  const char *name;
  meta_coltype type;
  unsigned flags;
  const char *const *enums; /* NULL or NULL-terminated allowed values (MT_TEXT) */
  int64_t min, max;          /* MT_INT range (if min < max); MT_TEXT/MT_JSON max bytes */
  int ref;                   /* MT_ID: referenced meta_kind, or -1 */
  int (*check)(const char *s); /* MT_TEXT: extra format rule, 0 = ok */
  const char *check_what;      /* message when check fails */
} meta_col;

/* How rows belong to tenants. */
typedef enum meta_tenancy {
  TEN_SELF,     /* the tenants table: the row's id is the tenant */
  TEN_COLUMN,   /* tenant_id NOT NULL */
  TEN_NULLABLE  /* tenant_id NULL = platform-level row (users, tokens) */
} meta_tenancy;

/* A table whose rows point at an entity being deleted. */
typedef struct meta_dep {
  const char *table;
  const char *column;
  const char *label; /* plural noun for messages */
} meta_dep;

typedef struct meta_entity {
  meta_kind kind;
  const char *name;  /* "device" */
  const char *table; /* "devices" */
  meta_tenancy tenancy;
  bool generic_create; /* false: only through a specific function */
  const meta_col *cols;
  size_t n_cols;
  const meta_dep *refuse; /* delete refused while rows reference it */
  size_t n_refuse;
} meta_entity;

const meta_entity *meta_entity_get(meta_kind k);
const meta_col *meta_entity_col(const meta_entity *e, const char *name);

/* ---- helpers (store.c) ------------------------------------------------ */

/* Fill err (if not NULL) and return code. */
#define meta_seterr loom_errf /* core/err.h */
/* Map a failed SQLite result to a LOOM_E* code with a message: unique
 * violations -> LOOM_EEXIST naming the column, check/not-null/foreign-key
 * -> LOOM_EINVAL, full disk -> LOOM_ENOSPC, else LOOM_EIO. */
int meta_sqlerr(meta_store *m, int rc, char *err, size_t errlen);
/* The same code without a message (touches no connection: reader paths). */
int meta_rc_code(int rc);
/* Random UUIDv4 text into out (META_ID_LEN + 1 bytes). */
void meta_uuid(char *out);
int64_t meta_now_ms(void);
/* Prepare sql (not cached). 0 or mapped error. */
int meta_prepare(meta_store *m, const char *sql, sqlite3_stmt **st, char *err, size_t errlen);
/* The cached statement idx (ST_* on db, RST_* on rdb for meta_cached_rd),
 * reset and unbound, ready to bind. NULL on error. */
sqlite3_stmt *meta_cached(meta_store *m, int idx, const char *sql);
sqlite3_stmt *meta_cached_rd(meta_store *m, int idx, const char *sql);
int meta_exec(meta_store *m, const char *sql, char *err, size_t errlen);
int meta_tx_begin(meta_store *m, char *err, size_t errlen);
int meta_tx_commit(meta_store *m, char *err, size_t errlen);
void meta_tx_rollback(meta_store *m);
/* Copy column i as text into dst (truncating, always NUL-terminated; NULL
 * column -> ""). */
void meta_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/* The writer's and the reader's mutex. */
void meta_lock(meta_store *m);
void meta_unlock(meta_store *m);
void meta_rlock(meta_store *m);
void meta_runlock(meta_store *m);
/* True if id looks like a UUID (36 chars of hex and dashes). */
bool meta_id_valid(const char *id);
/* The JSON value of a text column holding JSON (json null on NULL or bad
 * text). New reference or NULL on allocation failure. */
json_t *meta_col_json(sqlite3_stmt *st, int i);

/* ---- crud.c, shared with the specific accessors ----------------------- */

/* Does `id` of kind exist in scope? 0, LOOM_ENOTFOUND, LOOM_EIO. Lock held.
 * tenant_out (may be NULL, META_ID_LEN + 1 bytes) receives the row's tenant
 * ("" for platform rows). */
int meta_exists(meta_store *m, meta_kind kind, const char *scope, const char *id,
                char *tenant_out, char *err, size_t errlen);
/* meta_get with the lock already held. */
int meta_get_locked(meta_store *m, meta_kind kind, const char *scope, const char *id,
                    json_t **out, char *err, size_t errlen);

#endif
