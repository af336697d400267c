/* SPDX-License-Identifier: Apache-2.0
 * Deletes (DELETE, DROP SERIES, DROP MEASUREMENT) by tombstones: the heads
 * are filtered at once, stored segments get a tombstone that hides the range
 * from every segment written before it (seq <= max_seq); compaction applies
 * tombstones for good. Tombstones persist in data/<db>/tombstones.log, one
 * record per line: `<max_seq> <tmin> <tmax> <drop 0|1> <series key>` (the key
 * is line-protocol escaped and has no newline). A TS_REC_DELETE WAL record
 * replays the head side:
 *   u16 db_len, db, i64 tmin, i64 tmax, u8 drop, u32 n, n x (u32 len, key)
 */
#include "ts/engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"

uint32_t ts_tombs_apply(const ts_tomb *t, uint32_t nt, uint64_t seq, int64_t *ts, void *vals,
                        uint32_t n, size_t es) {
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    bool gone = false;
    for (uint32_t k = 0; k < nt && !gone; k++)
      gone = seq <= t[k].max_seq && ts[i] >= t[k].tmin && ts[i] <= t[k].tmax;
    if (gone) continue;
    if (m != i) {
      ts[m] = ts[i];
      memmove((uint8_t *)vals + (size_t)m * es, (uint8_t *)vals + (size_t)i * es, es);
    }
    m++;
  }
  return m;
}

bool ts_tombs_touch(const ts_tomb *t, uint32_t nt, uint64_t seq, int64_t lo, int64_t hi) {
  for (uint32_t k = 0; k < nt; k++)
    if (seq <= t[k].max_seq && t[k].tmin <= hi && t[k].tmax >= lo) return true;
  return false;
}

const ts_tomb *ts_tombs_of(const ts_engine *e, uint32_t cid, uint32_t *n) {
  if (cid >= e->cap_tomb_cols || !e->n_tombs[cid]) {
    *n = 0;
    return NULL;
  }
  *n = e->n_tombs[cid];
  return e->tombs[cid];
}

static int tomb_add(ts_engine *e, uint32_t cid, const ts_tomb *t) {
  if (cid >= e->cap_tomb_cols) {
    uint32_t cap = e->cap_tomb_cols ? e->cap_tomb_cols : 1024;
    while (cap <= cid) cap *= 2;
    ts_tomb **tv = loom_realloc(e->tombs, cap * sizeof *tv);
    if (!tv) return LOOM_ENOMEM;
    e->tombs = tv;
    uint32_t *nv = loom_realloc(e->n_tombs, cap * sizeof *nv);
    if (!nv) return LOOM_ENOMEM;
    e->n_tombs = nv;
    memset(tv + e->cap_tomb_cols, 0, (cap - e->cap_tomb_cols) * sizeof *tv);
    memset(nv + e->cap_tomb_cols, 0, (cap - e->cap_tomb_cols) * sizeof *nv);
    e->cap_tomb_cols = cap;
  }
  ts_tomb *a = loom_realloc(e->tombs[cid], (e->n_tombs[cid] + 1) * sizeof *a);
  if (!a) return LOOM_ENOMEM;
  a[e->n_tombs[cid]++] = *t;
  e->tombs[cid] = a;
  return 0;
}

/* Tombstone every column of a series whose stored data the range touches. */
static int tomb_series(ts_engine *e, ts_series *s, const ts_tomb *t) {
  for (uint32_t c = 0; s->info && c < s->info->n_cols; c++) {
    ts_col *col = ts_catalog_col(&e->cat, s->info->col_ids[c]);
    bool touched = false;
    for (uint32_t r = 0; r < col->n_refs && !touched; r++) {
      const ts_seg_column *sc = ts_segment_column(col->refs[r].seg->seg, col->refs[r].col_index);
      if (!sc) return LOOM_ENOMEM; /* decoding the index entry failed */
      touched = col->refs[r].seg->seq <= t->max_seq && sc->min_ts <= t->tmax && sc->max_ts >= t->tmin;
    }
    if (touched) {
      int rc = tomb_add(e, col->cid, t);
      if (rc) return rc;
    }
  }
  return 0;
}

/* Filter a series' heads and forget its cached last values. */
static int delete_heads(ts_engine *e, ts_series *s, int64_t tmin, int64_t tmax) {
  for (uint32_t c = 0; s->info && c < s->info->n_cols; c++) {
    ts_col *col = ts_catalog_col(&e->cat, s->info->col_ids[c]);
    int rc = ts_headbuf_delete(&col->act, col->type, tmin, tmax);
    if (rc) return rc;
    ts_col_forget_last(col);
  }
  return 0;
}

/* True if nothing of the series is newer than seq. */
static bool series_gone(ts_engine *e, ts_series *s, uint64_t seq) {
  for (uint32_t c = 0; s->info && c < s->info->n_cols; c++) {
    ts_col *col = ts_catalog_col(&e->cat, s->info->col_ids[c]);
    if (col->act.n || col->frz.n) return false;
    for (uint32_t r = 0; r < col->n_refs; r++)
      if (col->refs[r].seg->seq > seq) return false;
  }
  return true;
}

static int tombs_path(ts_engine *e, ts_db *db, char *out, size_t cap) {
  char dir[4096];
  int rc = ts_db_dir(e, db, dir, sizeof dir);
  if (rc) return rc;
  if ((size_t)snprintf(out, cap, "%s/tombstones.log", dir) >= cap) return LOOM_ERANGE;
  return 0;
}

int ts_tombs_load(ts_engine *e, ts_db *db) {
  char path[4200];
  int rc = tombs_path(e, db, path, sizeof path);
  if (rc) return rc;
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? 0 : loom_from_errno(errno);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while (!rc && (len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] != '\n') break; /* torn last line: the delete never returned */
    line[--len] = 0;
    uint64_t seq;
    long long tmin, tmax;
    int drop, off = 0;
    if (sscanf(line, "%" SCNu64 " %lld %lld %d %n", &seq, &tmin, &tmax, &drop, &off) != 4 || !off)
      continue;
    const char *key = line + off;
    uint32_t sid;
    size_t kl = strlen(key);
    if (strmap_get(&db->series_map, key, kl, strmap_hash(key, kl), &sid)) continue;
    ts_series *s = ts_catalog_series(&e->cat, sid);
    ts_tomb t = {.tmin = tmin, .tmax = tmax, .max_seq = seq};
    rc = tomb_series(e, s, &t);
    if (!rc && drop && series_gone(e, s, seq)) ts_catalog_series_drop(&e->cat, db, sid);
  }
  free(line);
  fclose(f);
  return rc;
}

static int encode_rec(loom_buf *b, const char *db, int64_t tmin, int64_t tmax, bool drop,
                      ts_series *const *ser, size_t n) {
  size_t dl = strlen(db);
  int rc = loom_buf_append_u16(b, (uint16_t)dl);
  if (!rc) rc = loom_buf_append(b, db, dl);
  if (!rc) rc = loom_buf_append_u64(b, (uint64_t)tmin);
  if (!rc) rc = loom_buf_append_u64(b, (uint64_t)tmax);
  if (!rc) rc = loom_buf_append_u8(b, drop);
  if (!rc) rc = loom_buf_append_u32(b, (uint32_t)n);
  for (size_t i = 0; i < n && !rc; i++) {
    rc = loom_buf_append_u32(b, ser[i]->key_len);
    if (!rc) rc = loom_buf_append(b, ser[i]->key, ser[i]->key_len);
  }
  return rc;
}

int ts_engine_delete(ts_engine *e, const char *dbname, const uint32_t *sids, size_t n_sids,
                     int64_t tmin, int64_t tmax, bool drop_series) {
  if (ts_engine_check_readonly(e)) return LOOM_EREADONLY;
  pthread_mutex_lock(&e->flush_mu);
  pthread_rwlock_wrlock(&e->lock);
  ts_db *db = ts_catalog_db(&e->cat, dbname);
  ts_series **ser = NULL;
  loom_buf rec, lines;
  loom_buf_init(&rec);
  loom_buf_init(&lines);
  int rc = db ? 0 : LOOM_ENOTFOUND;
  size_t n = 0;
  if (!rc && !(ser = loom_malloc((n_sids + 1) * sizeof *ser))) rc = LOOM_ENOMEM;
  for (size_t i = 0; !rc && i < n_sids; i++) {
    ts_series *s = ts_catalog_series(&e->cat, sids[i]);
    if (s && !s->dead && s->meas && ts_catalog_db(&e->cat, dbname) == db) ser[n++] = s;
  }
  uint64_t max_seq = e->next_seq - 1;
  for (size_t i = 0; !rc && i < n; i++)
    rc = loom_buf_printf(&lines, "%" PRIu64 " %lld %lld %d %s\n", max_seq, (long long)tmin,
                         (long long)tmax, drop_series, ser[i]->key);
  if (!rc && n && lines.len) { /* persist the tombstones first: segments are hidden durably */
    char path[4200], dir[4096];
    rc = tombs_path(e, db, path, sizeof path);
    /* a database that was never flushed has no directory yet */
    if (!rc) rc = ts_db_dir(e, db, dir, sizeof dir);
    bool fresh = !rc && access(path, F_OK) != 0;
    if (!rc && fresh) rc = loom_mkdir_p(dir);
    int fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (!rc && fd < 0) rc = loom_from_errno(errno);
    if (fd >= 0) {
      if (write(fd, lines.data, lines.len) != (ssize_t)lines.len || fsync(fd))
        rc = loom_from_errno(errno ? errno : EIO);
      close(fd);
      if (!rc && fresh) rc = loom_fsync_dir(dir); /* the new file's entry */
    }
  }
  if (!rc && n) rc = encode_rec(&rec, dbname, tmin, tmax, drop_series, ser, n);
  if (!rc && n) rc = ts_wal_append(e->wal, TS_REC_DELETE, rec.data, rec.len, NULL, NULL);
  for (size_t i = 0; !rc && i < n; i++) {
    ts_tomb t = {.tmin = tmin, .tmax = tmax, .max_seq = max_seq};
    rc = tomb_series(e, ser[i], &t);
    if (!rc) rc = delete_heads(e, ser[i], tmin, tmax);
    if (!rc && drop_series) ts_catalog_series_drop(&e->cat, db, ser[i]->sid);
  }
  pthread_rwlock_unlock(&e->lock);
  pthread_mutex_unlock(&e->flush_mu);
  if (!rc && n) rc = ts_wal_sync(e->wal);
  loom_free(ser);
  loom_buf_deinit(&rec);
  loom_buf_deinit(&lines);
  return rc;
}

int ts_replay_delete(ts_engine *e, const uint8_t *p, size_t len) {
  loom_rd r;
  loom_rd_init(&r, p, len);
  uint16_t dl;
  const uint8_t *dbp;
  uint64_t tmin, tmax;
  uint8_t drop;
  uint32_t n;
  if (loom_rd_u16(&r, &dl) || loom_rd_ptr(&r, &dbp, dl) || loom_rd_u64(&r, &tmin) ||
      loom_rd_u64(&r, &tmax) || loom_rd_u8(&r, &drop) || loom_rd_u32(&r, &n))
    return 0;
  char db[256];
  if (dl >= sizeof db) return 0;
  memcpy(db, dbp, dl);
  db[dl] = 0;
  pthread_rwlock_wrlock(&e->lock);
  ts_db *d = ts_catalog_db(&e->cat, db);
  int rc = 0;
  for (uint32_t i = 0; d && i < n && !rc; i++) {
    uint32_t kl, sid;
    const uint8_t *key;
    if (loom_rd_u32(&r, &kl) || loom_rd_ptr(&r, &key, kl)) break;
    if (strmap_get(&d->series_map, (const char *)key, kl, strmap_hash((const char *)key, kl), &sid))
      continue;
    ts_series *s = ts_catalog_series(&e->cat, sid);
    rc = delete_heads(e, s, (int64_t)tmin, (int64_t)tmax);
    if (!rc && drop && series_gone(e, s, UINT64_MAX - 2)) ts_catalog_series_drop(&e->cat, d, sid);
  }
  pthread_rwlock_unlock(&e->lock);
  return rc;
}
