/* SPDX-License-Identifier: Apache-2.0
 * Series catalog of the engine: databases, measurements (with field types),
 * series (tag sets) and columns (one field of one series), and immutable
 * metadata snapshots for queries. Internal to ts/: the engine's lock guards
 * every function here except the snapshot readers.
 */
#ifndef LOOM_TS_CATALOG_H
#define LOOM_TS_CATALOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/rate.h"
#include "core/strmap.h"
#include "ts/engine.h"
#include "ts/head.h"

typedef struct ts_seginfo ts_seginfo;
typedef struct ts_db ts_db;

/* A reference from a column to its data in one segment. */
typedef struct ts_segref {
  ts_seginfo *seg;
  uint32_t col_index; /* column index inside the segment */
} ts_segref;

typedef struct ts_col {
  uint32_t cid, sid;
  ts_db *db;
  ts_type type;
  uint16_t field_idx;  /* index in the measurement's fields */
  ts_headbuf act, frz; /* active head, and the head being flushed */
  bool dirty;          /* act holds points (listed in the engine's dirty list) */
  ts_segref *refs;     /* segments holding data of this column, in seq order */
  uint32_t n_refs, cap_refs;
  bool has_last;       /* last-value cache valid */
  int64_t last_ts;
  ts_value last_v;     /* string bytes owned (loom_malloc) */
} ts_col;

typedef struct ts_meas {
  char *name;
  strmap field_map;        /* field name -> index in fields */
  ts_field_info *fields;   /* append order; names owned */
  uint32_t n_fields, cap_fields;
  uint32_t *sids;          /* live series of the measurement */
  uint32_t n_sids, cap_sids;
} ts_meas;

typedef struct ts_series {
  uint32_t sid;
  char *key;               /* canonical key, owned */
  uint32_t key_len;
  ts_meas *meas;
  ts_series_info *info;    /* current immutable version (see catalog.c) */
  uint64_t info_version;   /* the database's meta_version when info was made */
  bool dead;
} ts_series;

typedef struct ts_partition {
  int64_t start;           /* ns, multiple of the partition length */
  int64_t touched_mono;    /* monotonic ns of the last segment added by a flush */
  ts_seginfo **segs;       /* in seq order */
  uint32_t n_segs, cap_segs;
} ts_partition;

struct ts_db {
  char *name;
  int64_t retention_ns;
  strmap series_map;       /* key -> sid */
  strmap meas_map;         /* name -> index in meas */
  ts_meas **meas;
  uint32_t n_meas, cap_meas;
  ts_partition *parts;     /* sorted by start */
  uint32_t n_parts, cap_parts;
  uint64_t meta_version;   /* bumped on every metadata change */
  ts_meta *meta_cache;     /* snapshot of meta_version, or NULL */
  /* ingest figures for ts_db_usage_get (engine lock held for writing to
   * change them): points stored since open, not counting WAL replay, and
   * their rate in TS_RATE_SLOT_MS slots of the monotonic clock */
  uint64_t points_total;
  loom_rate rate;
};

/* Two-level tables so entries never move while queries hold pointers. */
#define TS_CHUNK_BITS 12
#define TS_CHUNK (1u << TS_CHUNK_BITS)
#define TS_MAX_CHUNKS 65536

typedef struct ts_catalog {
  ts_db **dbs;
  uint32_t n_dbs, cap_dbs;
  ts_col *col_chunks[TS_MAX_CHUNKS]; /* TS_CHUNK columns each, in place (one allocation) */
  uint32_t n_cols;
  ts_series **ser_chunks[TS_MAX_CHUNKS];
  uint32_t n_series;
  void **graveyard;        /* retired snapshot pieces freed at deinit */
  uint32_t n_grave, cap_grave;
} ts_catalog;

void ts_catalog_init(ts_catalog *c);
void ts_catalog_deinit(ts_catalog *c);

static inline ts_col *ts_catalog_col(const ts_catalog *c, uint32_t cid) {
  return cid < c->n_cols ? &c->col_chunks[cid >> TS_CHUNK_BITS][cid & (TS_CHUNK - 1)] : NULL;
}
static inline ts_series *ts_catalog_series(const ts_catalog *c, uint32_t sid) {
  return sid < c->n_series ? c->ser_chunks[sid >> TS_CHUNK_BITS][sid & (TS_CHUNK - 1)] : NULL;
}

ts_db *ts_catalog_db(const ts_catalog *c, const char *name);
/* Add a database (caller checked it is absent). NULL on ENOMEM. */
ts_db *ts_catalog_db_add(ts_catalog *c, const char *name, int64_t retention_ns);
/* Remove and free a database's catalog entries (columns are marked dead and
 * their heads freed; segments are the engine's business). */
void ts_catalog_db_remove(ts_catalog *c, ts_db *db);

/* Find or create the series with this key in db. LOOM_EINVAL for a
 * malformed key, LOOM_ERANGE (too many series), LOOM_ENOMEM. */
int ts_catalog_series_get(ts_catalog *c, ts_db *db, const char *key, uint32_t key_len,
                          uint64_t hash, ts_series **out);

/* Find or create the column of field `field` of series s (see below for the
 * errors). */
int ts_catalog_series_col(ts_catalog *c, ts_db *db, ts_series *s, const char *field,
                          uint32_t field_len, ts_type type, uint32_t *cid, ts_type *existing);

/* Find or create the column for (series key, field) in db with type `type`.
 * Fills *cid. LOOM_ETYPE if the measurement already has the field with
 * another type (then *existing is that type), LOOM_EINVAL for a malformed
 * key, LOOM_ENOMEM, LOOM_ERANGE (too many columns). `hash` is
 * strmap_hash(key). */
int ts_catalog_column(ts_catalog *c, ts_db *db, const char *key, uint32_t key_len, uint64_t hash,
                      const char *field, uint32_t field_len, ts_type type, uint32_t *cid,
                      ts_type *existing);

/* Forget a series: marks it and its columns dead, removes it from lookups. */
void ts_catalog_series_drop(ts_catalog *c, ts_db *db, uint32_t sid);

/* Append a segment reference to a column. 0 or LOOM_ENOMEM. */
int ts_col_add_ref(ts_col *col, ts_seginfo *seg, uint32_t col_index);
/* Update the last-value cache with a newly written point. */
int ts_col_note_last(ts_col *col, int64_t ts, const ts_value *v);
void ts_col_forget_last(ts_col *col);

/* Snapshot for queries (see engine.h): returns a cached one if unchanged. */
int ts_catalog_meta(ts_catalog *c, ts_db *db, ts_meta **out);

#endif
