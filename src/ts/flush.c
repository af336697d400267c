/* SPDX-License-Identifier: Apache-2.0
 * Flush (active heads -> frozen heads -> one segment per touched partition),
 * compaction (all segments of a partition -> one, deletions applied) and
 * retention (drop whole partitions). All run with flush_mu held; they take
 * the engine lock only to swap pointers, so writes and queries go on while
 * segments are written.
 */
#include "ts/engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

static int64_t part_of(const ts_engine *e, int64_t ts) {
  int64_t p = e->opt.partition_ns;
  int64_t q = ts / p;
  if (ts % p < 0) q--;
  return q * p;
}

static ts_partition *partition_get(ts_db *db, int64_t start) {
  uint32_t i = 0;
  while (i < db->n_parts && db->parts[i].start < start) i++;
  if (i < db->n_parts && db->parts[i].start == start) return &db->parts[i];
  if (db->n_parts == db->cap_parts) {
    uint32_t cap = db->cap_parts ? db->cap_parts * 2 : 8;
    ts_partition *p = loom_realloc(db->parts, cap * sizeof *p);
    if (!p) return NULL;
    db->parts = p;
    db->cap_parts = cap;
  }
  memmove(&db->parts[i + 1], &db->parts[i], (db->n_parts - i) * sizeof *db->parts);
  memset(&db->parts[i], 0, sizeof db->parts[i]);
  db->parts[i].start = start;
  db->parts[i].touched_mono = loom_mono_ns(); /* cold only after cold_compact_s from now */
  db->n_parts++;
  return &db->parts[i];
}

int ts_register_segment(ts_engine *e, ts_db *db, ts_segment *seg, uint64_t min_seq,
                        uint64_t seq, int64_t part_start, ts_seginfo **out) {
  ts_partition *part = partition_get(db, part_start);
  if (!part) return LOOM_ENOMEM;
  if (part->n_segs == part->cap_segs) {
    uint32_t cap = part->cap_segs ? part->cap_segs * 2 : 4;
    ts_seginfo **s = loom_realloc(part->segs, cap * sizeof *s);
    if (!s) return LOOM_ENOMEM;
    part->segs = s;
    part->cap_segs = cap;
  }
  ts_seginfo *si = loom_calloc(1, sizeof *si);
  if (!si) return LOOM_ENOMEM;
  si->seg = seg;
  si->seq = seq;
  si->min_seq = min_seq;
  si->part_start = part_start;
  si->db = db;
  atomic_init(&si->refs, 1);
  atomic_init(&si->dead, false);
  uint32_t n = ts_segment_ncolumns(seg);
  for (uint32_t i = 0; i < n; i++) {
    const char *key, *field;
    uint32_t key_len, field_len;
    ts_type type;
    int rc = ts_segment_column_name(seg, i, &key, &key_len, &field, &field_len, &type);
    if (rc) {
      loom_free(si);
      return rc;
    }
    uint32_t cid;
    ts_type existing;
    uint64_t h = strmap_hash(key, key_len);
    rc = ts_catalog_column(&e->cat, db, key, key_len, h, field, field_len, type, &cid, &existing);
    if (rc == LOOM_ETYPE || rc == LOOM_EINVAL) continue; /* superseded by a later type */
    if (rc || (rc = ts_col_add_ref(ts_catalog_col(&e->cat, cid), si, i))) {
      loom_free(si);
      return rc;
    }
  }
  /* keep segments in seq order */
  uint32_t k = part->n_segs;
  while (k > 0 && part->segs[k - 1]->seq > seq) {
    part->segs[k] = part->segs[k - 1];
    k--;
  }
  part->segs[k] = si;
  part->n_segs++;
  /* The catalog has the names now: keep only what reads need (a flush
   * segment's names are most of its index). Without memory it keeps them. */
  ts_segment_drop_names(seg);
  if (out) *out = si;
  return 0;
}

/* One segment being written for a (database, partition). */
typedef struct pending_seg {
  ts_db *db;
  int64_t start;
  uint64_t min_seq, seq;
  ts_segw *w;
  char path[4400];
} pending_seg;

typedef struct seg_set {
  pending_seg *v;
  uint32_t n, cap;
} seg_set;

/* The segment being written for (db, start), created on first use. A flush
 * segment (min_seq = seq = 0 here) gets a new seq; a compaction's output
 * stands for its inputs min_seq..seq. The file is named
 * <min_seq>-<seq>-<file id>.seg (hex) with a new file id, so that after a
 * crash between a compaction and the removal of its inputs, loading can tell
 * the output (the newest file covering their seqs) from the inputs. */
static int seg_set_get(ts_engine *e, seg_set *s, ts_db *db, int64_t start, uint64_t min_seq,
                       uint64_t seq, pending_seg **out) {
  for (uint32_t i = 0; i < s->n; i++)
    if (s->v[i].db == db && s->v[i].start == start) {
      *out = &s->v[i];
      return 0;
    }
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    pending_seg *v = loom_realloc(s->v, cap * sizeof *v);
    if (!v) return LOOM_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  pending_seg *p = &s->v[s->n];
  memset(p, 0, sizeof *p);
  p->db = db;
  p->start = start;
  p->seq = seq ? seq : e->next_seq++;
  p->min_seq = seq ? min_seq : p->seq;
  uint64_t file_id = seq ? e->next_seq++ : p->seq;
  char dir[4096];
  int rc = ts_db_dir(e, db, dir, sizeof dir);
  if (rc) return rc;
  snprintf(p->path, sizeof p->path, "%s/%" PRId64, dir, start);
  bool made = access(p->path, F_OK) != 0;
  if ((rc = loom_mkdir_p(p->path))) return rc;
  if (made) {
    /* The new directories' entries must be durable (power loss) before the
     * WAL holding the data of the segment written in them is removed: the
     * segment writer fsyncs the partition directory only. */
    char data[4200];
    snprintf(data, sizeof data, "%s/data", e->dir);
    if ((rc = loom_fsync_dir(dir)) || (rc = loom_fsync_dir(data)) || (rc = loom_fsync_dir(e->dir)))
      return rc;
  }
  size_t l = strlen(p->path);
  snprintf(p->path + l, sizeof p->path - l, "/%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64 ".seg",
           p->min_seq, p->seq, file_id);
  if ((rc = ts_segw_open(p->path, &p->w))) return rc;
  ts_segw_set_block_points(p->w, e->opt.block_points);
  s->n++;
  *out = p;
  return 0;
}

/* Finish every pending segment, open it and register it (takes the lock). */
static int seg_set_commit(ts_engine *e, seg_set *s, bool compaction) {
  int rc = 0;
  uint32_t i;
  for (i = 0; i < s->n && !rc; i++) {
    rc = ts_segw_finish(s->v[i].w);
    s->v[i].w = NULL;
  }
  for (; i < s->n; i++) {
    ts_segw_abort(s->v[i].w);
    s->v[i].w = NULL;
  }
  if (rc) { /* remove what did get finished: the caller keeps the data */
    for (uint32_t k = 0; k < s->n; k++) unlink(s->v[k].path);
    return rc;
  }
  ts_segment **segs = loom_calloc(s->n ? s->n : 1, sizeof *segs);
  if (!segs) rc = LOOM_ENOMEM;
  char err[512];
  for (i = 0; !rc && i < s->n; i++) {
    rc = ts_segment_open(s->v[i].path, &segs[i], err, sizeof err);
    if (rc) LOOM_ERROR("cannot open a segment just written", "err=\"%s\"", err);
  }
  if (rc) {
    for (uint32_t k = 0; segs && k < s->n; k++) {
      ts_segment_close(segs[k]);
      unlink(s->v[k].path);
    }
    loom_free(segs);
    return rc;
  }
  pthread_rwlock_wrlock(&e->lock);
  for (i = 0; !rc && i < s->n; i++) {
    ts_seginfo *si = NULL;
    rc = ts_register_segment(e, s->v[i].db, segs[i], s->v[i].min_seq, s->v[i].seq, s->v[i].start,
                             &si);
    if (!rc && !compaction) { /* a flush: the partition is being written to */
      for (uint32_t p = 0; p < s->v[i].db->n_parts; p++)
        if (s->v[i].db->parts[p].start == s->v[i].start) s->v[i].db->parts[p].touched_mono = loom_mono_ns();
    }
    if (!rc) segs[i] = NULL;
  }
  pthread_rwlock_unlock(&e->lock);
  for (i = 0; i < s->n; i++) ts_segment_close(segs[i]);
  loom_free(segs);
  return rc;
}

static void seg_set_free(seg_set *s) {
  for (uint32_t i = 0; i < s->n; i++) ts_segw_abort(s->v[i].w);
  loom_free(s->v);
}

/* Write sorted, deduplicated points of one column, split by partition. */
static int write_points(ts_engine *e, seg_set *set, ts_db *db, uint64_t min_seq, uint64_t seq,
                        const char *key,
                        const char *field, ts_type type, const int64_t *ts, const uint8_t *vals,
                        uint32_t n) {
  size_t es = ts_type_size(type);
  uint32_t i = 0;
  while (i < n) {
    int64_t start = part_of(e, ts[i]);
    uint32_t j = i + 1;
    while (j < n && part_of(e, ts[j]) == start) j++;
    pending_seg *p;
    int rc = seg_set_get(e, set, db, start, min_seq, seq, &p);
    if (!rc)
      rc = ts_segw_add(p->w, key, (uint32_t)strlen(key), field, (uint32_t)strlen(field), type,
                       ts + i, vals + (size_t)i * es, j - i);
    if (rc) return rc;
    i = j;
  }
  return 0;
}

/* Put frozen points back in front of the active ones after a failed flush. */
static int unfreeze(ts_engine *e, ts_col *col) {
  if (!col->frz.n) return 0;
  ts_headbuf merged;
  ts_headbuf_init(&merged);
  int rc = 0;
  const ts_headbuf *parts[2] = {&col->frz, &col->act};
  for (int k = 0; k < 2 && !rc; k++) {
    int64_t *ts;
    void *vals;
    rc = ts_headbuf_points(parts[k], col->type, &ts, &vals);
    for (uint32_t i = 0; i < parts[k]->n && !rc; i++) {
      ts_value v = ts_value_load(col->type, vals, i);
      rc = ts_headbuf_append(&merged, col->type, ts[i], &v);
      if (rc > 0) rc = 0;
    }
    loom_free(ts);
    loom_free(vals);
  }
  if (rc) {
    ts_headbuf_deinit(&merged);
    return rc;
  }
  ts_headbuf_deinit(&col->frz);
  ts_headbuf_deinit(&col->act);
  col->act = merged;
  return 0;
}

typedef struct flush_item {
  uint32_t cid;
  const char *key, *field;
} flush_item;

int ts_flush(ts_engine *e) {
  pthread_rwlock_wrlock(&e->lock);
  if (!e->n_dirty) {
    pthread_rwlock_unlock(&e->lock);
    return 0;
  }
  uint32_t n = e->n_dirty;
  flush_item *items = loom_malloc(n * sizeof *items);
  if (!items) {
    pthread_rwlock_unlock(&e->lock);
    return LOOM_ENOMEM;
  }
  int rc = 0;
  /* Points an earlier failed flush could not put back (out of memory) are
   * still frozen: merge them first, or freezing would overwrite them. */
  for (uint32_t i = 0; i < n && !rc; i++) {
    ts_col *col = ts_catalog_col(&e->cat, e->dirty[i]);
    if (col->frz.n) rc = unfreeze(e, col);
  }
  uint64_t wal_id;
  if (!rc) rc = ts_wal_rotate(e->wal, &wal_id);
  if (rc) {
    pthread_rwlock_unlock(&e->lock);
    loom_free(items);
    return rc;
  }
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    ts_col *col = ts_catalog_col(&e->cat, e->dirty[i]);
    ts_series *s = ts_catalog_series(&e->cat, col->sid);
    col->dirty = false;
    if (s->dead || !col->act.n) continue;
    col->frz = col->act;
    ts_headbuf_init_like(&col->act, &col->frz);
    items[m].cid = col->cid;
    items[m].key = s->key;
    items[m].field = s->meas->fields[col->field_idx].name;
    m++;
  }
  e->n_dirty = 0;
  e->head_bytes = 0;
  e->head_points = 0;
  pthread_rwlock_unlock(&e->lock);
  pthread_mutex_lock(&e->bg_mu); /* writers held back by a full head go on */
  e->freeze_gen++;
  pthread_cond_broadcast(&e->frozen_cv);
  pthread_mutex_unlock(&e->bg_mu);

  seg_set set = {0};
  for (uint32_t i = 0; i < m && !rc; i++) {
    ts_col *col = ts_catalog_col(&e->cat, items[i].cid);
    int64_t *ts;
    void *vals;
    uint32_t np;
    rc = ts_headbuf_range(&col->frz, col->type, INT64_MIN, INT64_MAX, &ts, &vals, &np);
    if (!rc && np) rc = write_points(e, &set, col->db, 0, 0, items[i].key, items[i].field, col->type, ts, vals, np);
    loom_free(ts);
    loom_free(vals);
  }
  if (!rc) rc = seg_set_commit(e, &set, false);
  seg_set_free(&set);

  pthread_rwlock_wrlock(&e->lock);
  if (rc && e->n_dirty + m > e->cap_dirty) {
    /* Writes during the flush may have filled the dirty list: make room, or
     * a column put back below would not be flushed again while the next
     * successful flush removes the WAL that holds its points. */
    uint32_t *d = loom_realloc(e->dirty, (e->n_dirty + m) * sizeof *d);
    if (d) {
      e->dirty = d;
      e->cap_dirty = e->n_dirty + m;
    }
  }
  for (uint32_t i = 0; i < m; i++) {
    ts_col *col = ts_catalog_col(&e->cat, items[i].cid);
    if (!rc) {
      ts_headbuf_deinit(&col->frz);
      continue;
    }
    /* Keep the data: back into the active head, to be flushed again later.
     * If even that fails (out of memory), the points stay frozen, still
     * visible to scans, and the column stays dirty so the next flush merges
     * them (see above). */
    unfreeze(e, col);
    if (col->act.n || col->frz.n) {
      e->head_bytes += ts_headbuf_bytes(&col->act, col->type) + ts_headbuf_bytes(&col->frz, col->type);
      e->head_points += col->act.n + col->frz.n;
      if (!col->dirty && e->n_dirty < e->cap_dirty) {
        e->dirty[e->n_dirty++] = col->cid;
        col->dirty = true;
      }
    }
  }
  pthread_rwlock_unlock(&e->lock);
  loom_free(items);
  if (rc) {
    LOOM_ERROR("flush failed; data stays in memory and in the WAL", "err=\"%s\"", loom_strerror(rc));
    return rc;
  }
  atomic_fetch_add(&e->st_flushes, 1);
  return ts_wal_remove_before(e->wal, wal_id);
}

/* Columns of db that reference any of the given segments. */
typedef struct col_list {
  flush_item *v;
  uint32_t n, cap;
} col_list;

static bool in_set(ts_seginfo *const *segs, uint32_t n, const ts_seginfo *s) {
  for (uint32_t i = 0; i < n; i++)
    if (segs[i] == s) return true;
  return false;
}

static int collect_cols(ts_engine *e, ts_db *db, ts_seginfo *const *segs, uint32_t n_segs,
                        col_list *out) {
  for (uint32_t m = 0; m < db->n_meas; m++) {
    ts_meas *meas = db->meas[m];
    for (uint32_t k = 0; k < meas->n_sids; k++) {
      ts_series *s = ts_catalog_series(&e->cat, meas->sids[k]);
      for (uint32_t c = 0; s->info && c < s->info->n_cols; c++) {
        ts_col *col = ts_catalog_col(&e->cat, s->info->col_ids[c]);
        bool hit = false;
        for (uint32_t r = 0; r < col->n_refs && !hit; r++) hit = in_set(segs, n_segs, col->refs[r].seg);
        if (!hit) continue;
        if (out->n == out->cap) {
          uint32_t cap = out->cap ? out->cap * 2 : 256;
          flush_item *v = loom_realloc(out->v, cap * sizeof *v);
          if (!v) return LOOM_ENOMEM;
          out->v = v;
          out->cap = cap;
        }
        out->v[out->n].cid = col->cid;
        out->v[out->n].key = s->key;
        out->v[out->n].field = meas->fields[col->field_idx].name;
        out->n++;
      }
    }
  }
  return 0;
}

/* Remove a column's references to the given segments. */
static void drop_refs(ts_col *col, ts_seginfo *const *segs, uint32_t n) {
  uint32_t k = 0;
  for (uint32_t r = 0; r < col->n_refs; r++)
    if (!in_set(segs, n, col->refs[r].seg)) col->refs[k++] = col->refs[r];
  col->n_refs = k;
}

static int cmp_ref_seq(const void *a, const void *b) {
  uint64_t x = ((const ts_segref *)a)->seg->seq, y = ((const ts_segref *)b)->seg->seq;
  return x < y ? -1 : x > y;
}

/* Read all points of col from the given segments into one sorted, deduplicated
 * array; string bytes go to *strs (one buffer per block). The segments'
 * index entries are read into *blk (grown as needed, caller frees), not
 * cached in the segments. */
static int gather(ts_engine *e, ts_col *col, ts_seginfo *const *segs, uint32_t n_segs,
                  int64_t **ts_out, uint8_t **vals_out, uint32_t *n_out, loom_buf **strs,
                  uint32_t *n_strs, ts_seg_block **blk, uint32_t *cap_blk, char *err,
                  size_t errlen) {
  size_t es = ts_type_size(col->type);
  ts_segref *refs = loom_malloc((col->n_refs + 1) * sizeof *refs);
  if (!refs) return LOOM_ENOMEM;
  uint32_t nr = 0;
  uint64_t total = 0;
  int rc = 0;
  for (uint32_t r = 0; r < col->n_refs && !rc; r++) {
    if (!in_set(segs, n_segs, col->refs[r].seg)) continue;
    refs[nr++] = col->refs[r];
    ts_seg_column sc;
    rc = ts_segment_column_read(col->refs[r].seg->seg, col->refs[r].col_index, &sc, NULL, 0);
    if (rc == LOOM_ERANGE) rc = 0; /* only the totals were wanted */
    total += sc.n_points;
  }
  qsort(refs, nr, sizeof *refs, cmp_ref_seq);
  int64_t *ts = rc ? NULL : loom_malloc((total + 1) * sizeof *ts);
  uint8_t *vals = rc ? NULL : loom_malloc((total + 1) * es);
  uint32_t n = 0;
  if (!rc && (!ts || !vals)) rc = LOOM_ENOMEM;
  for (uint32_t r = 0; r < nr && !rc; r++) {
    ts_seg_column sc;
    const ts_segment *seg = refs[r].seg->seg;
    rc = ts_segment_column_read(seg, refs[r].col_index, &sc, *blk, *cap_blk);
    if (rc == LOOM_ERANGE) {
      ts_seg_block *nb = loom_realloc(*blk, (size_t)sc.n_blocks * sizeof *nb);
      if (!nb) {
        rc = LOOM_ENOMEM;
        break;
      }
      *blk = nb;
      *cap_blk = sc.n_blocks;
      rc = ts_segment_column_read(seg, refs[r].col_index, &sc, *blk, *cap_blk);
    }
    for (uint32_t b = 0; b < sc.n_blocks && !rc; b++) {
      loom_buf *sb = NULL;
      if (col->type == TS_STRING) {
        loom_buf *nb = loom_realloc(*strs, (*n_strs + 1) * sizeof *nb);
        if (!nb) {
          rc = LOOM_ENOMEM;
          break;
        }
        *strs = nb;
        sb = &nb[(*n_strs)++];
        loom_buf_init(sb);
      }
      uint32_t cnt = sc.blocks[b].stats.count;
      if (n + (uint64_t)cnt > total) {
        rc = LOOM_ECORRUPT;
        break;
      }
      rc = ts_segment_read_block_entry(seg, refs[r].col_index, b, &sc.blocks[b], ts + n,
                                       vals + (size_t)n * es, cnt, sb, err, errlen);
      uint32_t nt;
      const ts_tomb *t = ts_tombs_of(e, col->cid, &nt);
      if (!rc) n += ts_tombs_apply(t, nt, refs[r].seg->seq, ts + n, vals + (size_t)n * es, cnt, es);
    }
  }
  loom_free(refs);
  if (!rc) {
    uint32_t m = ts_points_sort_dedup(ts, vals, n, es);
    if (m == (uint32_t)-1) rc = LOOM_ENOMEM;
    else n = m;
  }
  if (rc) {
    loom_free(ts);
    loom_free(vals);
    return rc;
  }
  *ts_out = ts;
  *vals_out = vals;
  *n_out = n;
  return 0;
}

/* Merge a run of segments [first, first + n) of a partition (consecutive in
 * seq order) into one that takes the newest input's seq: no other segment
 * has a seq between the inputs', so "newest write wins" is kept. */
static int compact_partition(ts_engine *e, ts_db *db, uint32_t part_idx, uint32_t first,
                             uint32_t n_segs) {
  pthread_rwlock_rdlock(&e->lock);
  ts_partition *part = &db->parts[part_idx];
  int64_t start = part->start;
  ts_seginfo **segs = loom_malloc(n_segs * sizeof *segs);
  col_list cols = {0};
  int rc = segs ? 0 : LOOM_ENOMEM;
  for (uint32_t i = 0; !rc && i < n_segs; i++) {
    segs[i] = part->segs[first + i];
    ts_seginfo_ref(segs[i]);
  }
  uint64_t seq = segs ? segs[n_segs - 1]->seq : 0, min_seq = segs ? segs[0]->min_seq : 0;
  if (!rc) rc = collect_cols(e, db, segs, n_segs, &cols);
  pthread_rwlock_unlock(&e->lock);
  if (rc) {
    loom_free(cols.v);
    if (segs) for (uint32_t i = 0; i < n_segs; i++) ts_seginfo_unref(segs[i]);
    loom_free(segs);
    return rc;
  }
  seg_set set = {0};
  char err[512] = "";
  ts_seg_block *blk = NULL;
  uint32_t cap_blk = 0;
  for (uint32_t i = 0; i < cols.n && !rc; i++) {
    ts_col *col = ts_catalog_col(&e->cat, cols.v[i].cid);
    int64_t *ts = NULL;
    uint8_t *vals = NULL;
    uint32_t n = 0, n_strs = 0;
    loom_buf *strs = NULL;
    rc = gather(e, col, segs, n_segs, &ts, &vals, &n, &strs, &n_strs, &blk, &cap_blk, err,
                sizeof err);
    if (!rc && n)
      rc = write_points(e, &set, db, min_seq, seq, cols.v[i].key, cols.v[i].field, col->type, ts, vals, n);
    for (uint32_t k = 0; k < n_strs; k++) loom_buf_deinit(&strs[k]);
    loom_free(strs);
    loom_free(ts);
    loom_free(vals);
    /* The inputs are read once, column by column, all over the files: keep
     * their mapped pages from piling up in the resident set. */
    if ((i & 4095) == 4095 || i + 1 == cols.n)
      for (uint32_t k = 0; k < n_segs; k++) ts_segment_release_pages(segs[k]->seg);
  }
  loom_free(blk);
  if (!rc) rc = seg_set_commit(e, &set, true);
  seg_set_free(&set);
  if (!rc) {
    pthread_rwlock_wrlock(&e->lock);
    for (uint32_t i = 0; i < cols.n; i++) drop_refs(ts_catalog_col(&e->cat, cols.v[i].cid), segs, n_segs);
    part = &db->parts[part_idx];
    uint32_t k = 0;
    for (uint32_t i = 0; i < part->n_segs; i++) {
      if (in_set(segs, n_segs, part->segs[i])) {
        atomic_store(&part->segs[i]->dead, true);
        ts_seginfo_unref(part->segs[i]); /* the partition's reference */
      } else {
        part->segs[k++] = part->segs[i];
      }
    }
    part->n_segs = k;
    pthread_rwlock_unlock(&e->lock);
    atomic_fetch_add(&e->st_compactions, 1);
  } else {
    LOOM_ERROR("compaction failed; the old segments stay", "partition=%" PRId64 " err=\"%s %s\"",
               start, loom_strerror(rc), err);
  }
  for (uint32_t i = 0; i < n_segs; i++) ts_seginfo_unref(segs[i]);
  loom_free(segs);
  loom_free(cols.v);
  return rc;
}

/* Size-tiered: while a partition has more than compact_threshold segments,
 * merge the run of max(compact_threshold, 2) consecutive segments with the
 * smallest total size. Small recent flushes merge with each other long before they
 * are merged into the big old segment, so each point is rewritten about
 * log(n) times, not n times. */
int ts_compact_db(ts_engine *e, ts_db *db) {
  int rc = 0;
  uint32_t k = e->opt.compact_threshold < 2 ? 2 : e->opt.compact_threshold;
  int64_t cold = loom_mono_ns() - (int64_t)e->opt.cold_compact_s * LOOM_NS_PER_S;
  for (uint32_t p = 0; p < db->n_parts && !rc; p++) {
    pthread_rwlock_rdlock(&e->lock);
    ts_partition *part = &db->parts[p];
    bool merge_all = part->n_segs > 1 && part->touched_mono < cold;
    if (merge_all) {
      /* Only when the rest is worth it next to the largest segment (>= 1/8 of
       * it): a partition still written now and then must not be rewritten
       * whole for every small flush (this bounds the rewriting to ~9x). */
      uint64_t total = 0, largest = 0;
      for (uint32_t i = 0; i < part->n_segs; i++) {
        uint64_t b = ts_segment_file_bytes(part->segs[i]->seg);
        total += b;
        if (b > largest) largest = b;
      }
      merge_all = (total - largest) * 8 >= largest;
    }
    uint32_t n_all = part->n_segs;
    pthread_rwlock_unlock(&e->lock);
    if (merge_all) { /* cold: everything into one segment */
      rc = compact_partition(e, db, p, 0, n_all);
      continue;
    }
    while (!rc && db->parts[p].n_segs > e->opt.compact_threshold) {
      uint32_t w = db->parts[p].n_segs < k ? db->parts[p].n_segs : k;
      pthread_rwlock_rdlock(&e->lock);
      part = &db->parts[p];
      uint32_t best = 0;
      uint64_t best_bytes = UINT64_MAX;
      for (uint32_t i = 0; i + w <= part->n_segs; i++) {
        uint64_t sum = 0;
        for (uint32_t j = i; j < i + w; j++) sum += ts_segment_file_bytes(part->segs[j]->seg);
        if (sum < best_bytes) {
          best_bytes = sum;
          best = i;
        }
      }
      pthread_rwlock_unlock(&e->lock);
      rc = compact_partition(e, db, p, best, w);
    }
  }
  return rc;
}

int ts_engine_enforce_retention(ts_engine *e, int64_t now_ns) {
  pthread_mutex_lock(&e->flush_mu);
  pthread_rwlock_wrlock(&e->lock);
  char (*dirs)[4200] = NULL;
  uint32_t n_dirs = 0;
  for (uint32_t d = 0; d < e->cat.n_dbs; d++) {
    ts_db *db = e->cat.dbs[d];
    if (!db->retention_ns) continue;
    int64_t cutoff = now_ns - db->retention_ns;
    uint32_t keep = 0;
    for (uint32_t p = 0; p < db->n_parts; p++) {
      ts_partition *part = &db->parts[p];
      if (part->start + e->opt.partition_ns > cutoff) {
        db->parts[keep++] = *part;
        continue;
      }
      col_list cols = {0};
      collect_cols(e, db, part->segs, part->n_segs, &cols);
      for (uint32_t i = 0; i < cols.n; i++)
        drop_refs(ts_catalog_col(&e->cat, cols.v[i].cid), part->segs, part->n_segs);
      loom_free(cols.v);
      for (uint32_t i = 0; i < part->n_segs; i++) {
        atomic_store(&part->segs[i]->dead, true);
        ts_seginfo_unref(part->segs[i]);
      }
      loom_free(part->segs);
      void *nd = loom_realloc(dirs, (n_dirs + 1) * sizeof *dirs);
      if (nd) {
        dirs = nd;
        char dbdir[4096];
        ts_db_dir(e, db, dbdir, sizeof dbdir);
        snprintf(dirs[n_dirs++], sizeof dirs[0], "%s/%" PRId64, dbdir, part->start);
      }
    }
    db->n_parts = keep;
  }
  pthread_rwlock_unlock(&e->lock);
  pthread_mutex_unlock(&e->flush_mu);
  /* segment files go when their last reader does; the empty directories now */
  for (uint32_t i = 0; i < n_dirs; i++) rmdir(dirs[i]);
  loom_free(dirs);
  return 0;
}
