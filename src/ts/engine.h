/* SPDX-License-Identifier: Apache-2.0
 * The embedded time-series engine: databases -> measurements -> series (a tag
 * set) -> fields, as InfluxDB 1.x. Internally the unit of storage is a column:
 * one field of one series, with one type. Writes go to the WAL and an
 * in-memory head; a flush writes the head into immutable, time-partitioned
 * segment files of compressed blocks; queries merge segments and head, newest
 * write winning on equal timestamps. Thread-safe: any thread may call any
 * function unless stated otherwise.
 */
#ifndef LOOM_TS_ENGINE_H
#define LOOM_TS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ts/block.h"
#include "ts/types.h"

typedef struct ts_engine ts_engine;
typedef struct lp_batch lp_batch;

enum { TS_DURABLE = 0, TS_BATCHED = 1 };

typedef struct ts_engine_options {
  const char *dir;             /* data directory (created if missing) */
  int durability;              /* TS_DURABLE (default) or TS_BATCHED */
  uint32_t batch_interval_ms;  /* batched mode fsync interval (default 100) */
  uint64_t head_max_bytes;     /* flush when the head holds more (default 24 MiB, encoded) */
  uint32_t flush_interval_s;   /* flush a non-empty head at least this often (default 600) */
  int64_t partition_ns;        /* time partition length (default 1 day) */
  uint32_t block_points;       /* points per block in segments (default 1024) */
  uint32_t compact_threshold;  /* compact a partition past this many segments (default 4) */
  uint32_t cold_compact_s;     /* merge all segments of a partition no flush touched for this
                                  long into one (default 30; bigger blocks, smaller index) */
  const void *wal_io;          /* tests: ts_wal_io hooks for failure injection, or NULL */
} ts_engine_options;

/* Fill *o with the defaults above; dir stays NULL. */
void ts_engine_options_default(ts_engine_options *o);

/* Open (or create) the store at o->dir, load segments, replay the WAL (torn
 * tails truncated), start the background flush thread. On error *out is NULL
 * and err says what failed, naming the file. */
int ts_engine_open(const ts_engine_options *o, ts_engine **out, char *err, size_t errlen);

/* Flush the head to segments, sync, stop the background thread and free. */
void ts_engine_close(ts_engine *e);

/* ---- databases ---- */

/* Create a database (no error if it exists). retention_ns 0 = keep forever.
 * The change is durable when this returns. 0, LOOM_EINVAL (bad name), LOOM_EIO. */
int ts_db_create(ts_engine *e, const char *name, int64_t retention_ns);
/* Drop a database and all its data. 0 or LOOM_ENOTFOUND. */
int ts_db_drop(ts_engine *e, const char *name);
/* Set the retention of an existing database (0 = forever). */
int ts_db_set_retention(ts_engine *e, const char *name, int64_t retention_ns);
/* 0 and *retention_ns if it exists, else LOOM_ENOTFOUND. */
int ts_db_get(ts_engine *e, const char *name, int64_t *retention_ns);
/* Call cb for each database name in name order (under the engine's read lock:
 * cb must not call back into the engine). */
void ts_db_each(ts_engine *e, void (*cb)(void *arg, const char *name, int64_t retention_ns),
                void *arg);

/* ---- writes ---- */

/* Why a point was not stored: the line number and a message in InfluxDB's
 * words (the caller reports them as a partial write). */
typedef struct ts_reject {
  uint32_t line;
  char msg[160];
} ts_reject;

typedef struct ts_write_result {
  uint64_t points_written; /* field values stored */
  uint32_t lines_written;
  uint32_t n_rejected;     /* points refused (type conflict, beyond retention) */
  ts_reject rejects[16];   /* the first few of them */
} ts_write_result;

/* Done callback: runs on an engine thread once the write is durable per the
 * durability mode (status 0), or failed (LOOM_EIO, LOOM_ENOSPC,
 * LOOM_EREADONLY): then the write must not be acknowledged. Keep it short. */
typedef void (*ts_write_cb)(void *arg, int status);

/* Store the points of a parsed line-protocol batch into database db.
 * `body`/`len`/`precision_ns`/`default_ts_ns` are the exact inputs the batch
 * was parsed from: the WAL records them so replay reproduces the batch.
 * Points are visible to queries when this returns; cb reports durability.
 * Returns 0 (cb will run exactly once), or an error and cb never runs:
 * LOOM_ENOTFOUND (no such database), LOOM_EREADONLY, LOOM_ENOMEM. Rejected
 * points are in *res (they are not errors of the call). */
int ts_engine_write_lp(ts_engine *e, const char *db, const lp_batch *batch, const char *body,
                       size_t len, int64_t precision_ns, int64_t default_ts_ns,
                       ts_write_result *res, ts_write_cb cb, void *arg);

/* ---- metadata for queries ----
 * A snapshot of series metadata: stable, immutable pointers that live until
 * ts_meta_release. Taking one is cheap (reference counted). */

typedef struct ts_tag {
  const char *key, *val; /* NUL-terminated */
} ts_tag;

typedef struct ts_field_info {
  const char *name;
  ts_type type;
} ts_field_info;

typedef struct ts_series_info {
  uint32_t sid;            /* series id, unique in the engine while it runs */
  const char *key;         /* canonical series key "m,k=v,..." (line-protocol escaped) */
  uint32_t n_tags;
  const ts_tag *tags;      /* sorted by key */
  uint32_t n_cols;
  const uint32_t *col_ids; /* column id per field: col_ids[i] is field field_idx[i] */
  const uint16_t *field_idx; /* index into the measurement's fields */
} ts_series_info;

typedef struct ts_measurement_info {
  const char *name;
  uint32_t n_fields;
  const ts_field_info *fields; /* in creation order; field_idx indexes it */
  uint32_t n_series;
  const ts_series_info *const *series; /* sorted by key */
} ts_measurement_info;

typedef struct ts_meta ts_meta;

/* Take a snapshot of database db. LOOM_ENOTFOUND if no such database. */
int ts_meta_get(ts_engine *e, const char *db, ts_meta **out);
void ts_meta_release(ts_meta *m);
/* Measurements of the snapshot, sorted by name. */
uint32_t ts_meta_n_measurements(const ts_meta *m);
const ts_measurement_info *ts_meta_measurement(const ts_meta *m, uint32_t i);
/* Find by name; NULL if absent. */
const ts_measurement_info *ts_meta_find(const ts_meta *m, const char *name);

/* ---- reading points ---- */

/* One piece of a column's data in ascending time. Either points (ts and vals
 * set, n > 0; vals is a typed array; ts_str values are valid only during the
 * callback), or, when the scan allows it and a whole stored block lies in the
 * range with no other data overlapping it, only its stats (stats set, ts and
 * vals NULL). */
typedef struct ts_chunk {
  ts_type type;
  uint32_t n;
  const int64_t *ts;
  const void *vals;
  const ts_block_stats *stats;
} ts_chunk;

enum {
  TS_SCAN_STATS = 1, /* stats-only chunks are welcome */
  TS_SCAN_DESC = 2   /* deliver chunks in descending time (points in a chunk stay ascending) */
};
/* Return value of a scan callback: 0 continue, TS_SCAN_STOP stop the scan,
 * TS_SCAN_DECODE (only for a stats chunk) deliver that block's points instead. */
enum { TS_SCAN_STOP = 1, TS_SCAN_DECODE = 2 };
typedef int (*ts_scan_cb)(void *arg, const ts_chunk *c);

/* Deliver the points of column col_id with tmin <= ts <= tmax, deduplicated
 * (newest write wins), deleted points excluded, in chunks. Returns 0, or
 * LOOM_ECORRUPT (err names the file and block), LOOM_ENOMEM, LOOM_EIO. */
int ts_engine_scan(ts_engine *e, uint32_t col_id, int64_t tmin, int64_t tmax, int flags,
                   ts_scan_cb cb, void *arg, char *err, size_t errlen);

/* Time span of column col_id's points from metadata alone (segment column
 * bounds and head bounds, nothing decoded): 0 with *min_ts / *max_ts,
 * LOOM_ENOTFOUND (no such column, or no points), or LOOM_EAGAIN when
 * deletes touch the column, so the stored bounds may include deleted
 * points (scan instead). */
int ts_engine_col_span(ts_engine *e, uint32_t col_id, int64_t *min_ts, int64_t *max_ts);

/* Last point of a column (last-value cache): 0 with *ts and *v, or
 * LOOM_ENOTFOUND. String values are copied into strbuf (caller-owned). */
int ts_engine_last(ts_engine *e, uint32_t col_id, int64_t *ts, ts_value *v, loom_buf *strbuf);

/* ts_engine_last for n numeric or boolean columns under one lock, from the
 * last-value cache only: st[i] = 1 with ts[i] and v[i] set, or 2 when the
 * cache cannot answer for column col_ids[i] (not filled yet, a string
 * column, no such column): call ts_engine_last for those. */
void ts_engine_last_n(ts_engine *e, const uint32_t *col_ids, uint32_t n, int64_t *ts,
                      ts_value *v, uint8_t *st);

/* ---- deletes ---- */

/* Delete the points of the given series (all their fields) with
 * tmin <= ts <= tmax. drop_series also forgets the series (DROP SERIES,
 * DROP MEASUREMENT). Durable when it returns. 0, LOOM_ENOTFOUND (db),
 * LOOM_EIO, LOOM_EREADONLY. */
int ts_engine_delete(ts_engine *e, const char *db, const uint32_t *sids, size_t n_sids,
                     int64_t tmin, int64_t tmax, bool drop_series);

/* ---- maintenance ---- */

/* Flush the head to segments now and wait for it. */
int ts_engine_flush(ts_engine *e);
/* Drop partitions past their database's retention (also runs periodically). */
int ts_engine_enforce_retention(ts_engine *e, int64_t now_ns);

typedef struct ts_engine_stats {
  uint64_t points_written, lines_written, points_rejected;
  uint64_t series, columns, databases;
  uint64_t head_points, head_bytes;
  uint64_t segments, segment_bytes;
  uint64_t wal_bytes_written, wal_fsyncs, wal_fsync_ns_total, wal_fsync_ns_max;
  uint64_t flushes, compactions;
  uint64_t partitions_unmerged; /* partitions with more than one segment */
  bool readonly;
  /* what recovery found at open */
  uint64_t replay_records;          /* WAL records replayed */
  uint64_t replay_truncated_bytes;  /* torn or corrupt tail cut from the last WAL file */
  uint32_t replay_corrupt_files;    /* older WAL files cut short by damage */
  uint32_t segments_loaded;         /* segment files opened */
} ts_engine_stats;
void ts_engine_stats_get(ts_engine *e, ts_engine_stats *out);

/* Ingest and storage of one database (or, db NULL, of the whole engine), for
 * the console's overview: cheap (counters kept by every write; no scan of
 * data), takes the engine's read lock briefly. Any thread. */
#define TS_RATE_SLOT_MS 5000 /* rate window slot width */
typedef struct ts_db_usage {
  uint64_t points_total;      /* field values stored since the engine opened (replay excluded) */
  double points_per_s_10s;    /* stored per second over the last ~10 s */
  double points_per_s_60s;    /* ... over the last ~60 s */
  uint64_t series;            /* series (measurement + tag set) */
  uint64_t segment_bytes;     /* bytes of segment files on disk (not the in-memory head) */
} ts_db_usage;
/* 0, or LOOM_ENOTFOUND (no such database). */
int ts_db_usage_get(ts_engine *e, const char *db, ts_db_usage *out);

#endif
