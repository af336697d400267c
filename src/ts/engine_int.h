/* SPDX-License-Identifier: Apache-2.0
 * Engine internals shared by engine.c (open, writes, databases), flush.c
 * (flush, compaction, retention), scan.c (reads) and delete.c. Locking: `lock`
 * (rwlock) guards the catalog, heads and segment lists; `flush_mu`
 * serialises everything that rewrites storage (flush, compaction, retention,
 * deletes, database drops). Take flush_mu before lock, never the reverse.
 */
#ifndef LOOM_TS_ENGINE_INT_H
#define LOOM_TS_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "ts/catalog.h"
#include "ts/engine.h"
#include "ts/segment.h"
#include "ts/wal.h"

/* WAL record types (payload layouts in engine.c). */
enum { TS_REC_WRITE = 1, TS_REC_DELETE = 2, TS_REC_WRITE_Z = 3 };

#define TS_MAX_CCTX 8

struct ts_seginfo {
  ts_segment *seg;
  uint64_t seq;        /* newer segments win on equal timestamps */
  uint64_t min_seq;    /* a compaction output stands for the inputs min_seq..seq */
  int64_t part_start;  /* ns */
  ts_db *db;
  atomic_int refs;     /* the partition's + each scan's */
  atomic_bool dead;    /* unlink the file when the last reference goes */
};

/* A deletion applying to the data of a column in segments with seq <= max_seq. */
typedef struct ts_tomb {
  int64_t tmin, tmax;
  uint64_t max_seq;
} ts_tomb;

struct ts_engine {
  ts_engine_options opt;
  char *dir;
  pthread_rwlock_t lock;
  pthread_mutex_t flush_mu;
  pthread_mutex_t meta_mu;  /* guards the databases' meta snapshot caches */
  pthread_mutex_t zmu;      /* guards the compression context pool */
  struct ZSTD_CCtx_s *cctx[TS_MAX_CCTX];
  uint32_t n_cctx;
  ts_catalog cat;
  ts_wal *wal;
  uint32_t *dirty;          /* columns with points in their active head */
  uint32_t n_dirty, cap_dirty;
  uint64_t head_bytes;      /* approximate bytes held by active heads */
  uint64_t head_points;
  uint32_t *scratch;        /* column ids of the point being applied (lock) */
  uint32_t cap_scratch;
  uint64_t next_seq;        /* next segment sequence number (flush_mu) */
  bool replaying;
  atomic_bool readonly;
  /* background thread */
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t bg_mu;
  pthread_cond_t bg_cv;
  bool bg_stop, bg_flush_now;
  pthread_cond_t frozen_cv;  /* broadcast (bg_mu) when a flush froze the active heads */
  uint64_t freeze_gen;       /* freezes so far (bg_mu) */
  int64_t last_flush_ns;
  /* tombstones per column id (lock) */
  ts_tomb **tombs;
  uint32_t *n_tombs;
  uint32_t cap_tomb_cols;
  ts_wal_replay_report replay; /* what recovery found (set at open) */
  uint32_t segments_loaded;
  /* stats */
  atomic_uint_fast64_t st_points, st_lines, st_rejected, st_flushes, st_compactions;
  loom_rate rate;            /* points stored per TS_RATE_SLOT_MS, all databases (lock) */
};

/* True if the engine refuses writes: it or its WAL went read-only after an
 * I/O failure (the WAL's state is copied into e->readonly). Any thread. */
bool ts_engine_check_readonly(ts_engine *e);

/* Segment reference counting (any thread). */
void ts_seginfo_ref(ts_seginfo *s);
void ts_seginfo_unref(ts_seginfo *s);

/* Directory of a database's data, and of one of its partitions. */
int ts_db_dir(const ts_engine *e, const ts_db *db, char *out, size_t cap);

/* flush.c */
int ts_flush(ts_engine *e);
int ts_compact_db(ts_engine *e, ts_db *db);
/* Register an opened segment file (lock held for writing). */
int ts_register_segment(ts_engine *e, ts_db *db, ts_segment *seg, uint64_t min_seq,
                        uint64_t seq, int64_t part_start, ts_seginfo **out);

/* delete.c */
/* Remove from decoded points of a segment with sequence seq those that the
 * tombstones t[0..nt) delete; returns the new count. */
uint32_t ts_tombs_apply(const ts_tomb *t, uint32_t nt, uint64_t seq, int64_t *ts, void *vals,
                        uint32_t n, size_t es);
/* True if any of the tombstones applies to segment seq within [lo, hi]. */
bool ts_tombs_touch(const ts_tomb *t, uint32_t nt, uint64_t seq, int64_t lo, int64_t hi);
/* The tombstones of column cid (lock or flush_mu held); *n = 0 if none. */
const ts_tomb *ts_tombs_of(const ts_engine *e, uint32_t cid, uint32_t *n);
/* Load a database's tombstones (at open, after its segments). */
int ts_tombs_load(ts_engine *e, ts_db *db);
/* Replay a TS_REC_DELETE record into the heads. */
int ts_replay_delete(ts_engine *e, const uint8_t *p, size_t len);

#endif
