/* SPDX-License-Identifier: Apache-2.0
 * Engine lifecycle, databases and the write path. On-disk layout under dir:
 *   dbs.json                      databases and retention (replaced by atomic rename)
 *   wal/wal-<id>.log              write-ahead log (ts/wal.h)
 *   data/<db>/<part_start>/<seq>.seg  segments (ts/segment.h); <db> hex-escaped
 *   data/<db>/tombstones.log      deletions not yet compacted away (delete.c)
 * WAL record payloads (little-endian):
 *   TS_REC_WRITE:   u16 db_len, db bytes, i64 precision_ns, i64 default_ts_ns,
 *                   then the line-protocol body as received (replay re-parses it)
 *   TS_REC_WRITE_Z: the same with the body as u32 body_len + one zstd frame
 *                   (what this version writes for bodies of WAL_Z_MIN bytes and
 *                   more; smaller ones, where compression costs more than it
 *                   saves, as TS_REC_WRITE)
 *   TS_REC_DELETE: see delete.c
 */
#include "ts/engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/lp.h"

void ts_engine_options_default(ts_engine_options *o) {
  memset(o, 0, sizeof *o);
  o->durability = TS_DURABLE;
  o->batch_interval_ms = 100;
  o->head_max_bytes = 24ull << 20; /* encoded: ~6M sensor points */
  o->flush_interval_s = 600;
  o->partition_ns = 86400 * LOOM_NS_PER_S;
  o->block_points = 1024;
  o->compact_threshold = 4;
  o->cold_compact_s = 30;
}

void ts_seginfo_ref(ts_seginfo *s) { atomic_fetch_add(&s->refs, 1); }

void ts_seginfo_unref(ts_seginfo *s) {
  if (atomic_fetch_sub(&s->refs, 1) != 1) return;
  if (atomic_load(&s->dead)) unlink(ts_segment_path(s->seg));
  ts_segment_close(s->seg);
  loom_free(s);
}

int ts_db_dir(const ts_engine *e, const ts_db *db, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s/data/", e->dir);
  for (const unsigned char *p = (const unsigned char *)db->name; *p && n < (int)cap - 4; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '_' || *p == '-')
      out[n++] = (char)*p;
    else
      n += snprintf(out + n, cap - (size_t)n, "%%%02x", *p);
  }
  if (n >= (int)cap - 4) return LOOM_ERANGE;
  out[n] = 0;
  return 0;
}

/* ---- databases manifest ---- */

static int dbs_save(ts_engine *e) {
  json_t *arr = json_array();
  for (uint32_t i = 0; arr && i < e->cat.n_dbs; i++) {
    json_t *o = json_pack("{s:s,s:I}", "name", e->cat.dbs[i]->name, "retention_ns",
                          (json_int_t)e->cat.dbs[i]->retention_ns);
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      return LOOM_ENOMEM;
    }
  }
  if (!arr) return LOOM_ENOMEM;
  char *text = json_dumps(arr, JSON_INDENT(1));
  json_decref(arr);
  if (!text) return LOOM_ENOMEM;
  char path[4096];
  snprintf(path, sizeof path, "%s/dbs.json", e->dir);
  int rc = loom_write_file_atomic(path, text, strlen(text), 0644);
  free(text);
  return rc;
}

static int dbs_load(ts_engine *e, char *err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/dbs.json", e->dir);
  if (access(path, F_OK)) return 0;
  json_error_t jerr;
  json_t *arr = json_load_file(path, 0, &jerr);
  if (!arr || !json_is_array(arr)) {
    snprintf(err, errlen, "%s: %s", path, arr ? "not a JSON array" : jerr.text);
    json_decref(arr);
    return LOOM_ECORRUPT;
  }
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    const char *name = json_string_value(json_object_get(o, "name"));
    json_int_t ret = json_integer_value(json_object_get(o, "retention_ns"));
    if (!name || ts_catalog_db(&e->cat, name)) continue;
    if (!ts_catalog_db_add(&e->cat, name, ret)) {
      json_decref(arr);
      return LOOM_ENOMEM;
    }
  }
  json_decref(arr);
  return 0;
}

static bool valid_db_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 255) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == '/') return false;
  return true;
}

int ts_db_create(ts_engine *e, const char *name, int64_t retention_ns) {
  if (!valid_db_name(name) || retention_ns < 0) return LOOM_EINVAL;
  pthread_rwlock_wrlock(&e->lock);
  int rc = 0;
  if (!ts_catalog_db(&e->cat, name)) {
    ts_db *db = ts_catalog_db_add(&e->cat, name, retention_ns);
    char dir[4096];
    if (!db) {
      rc = LOOM_ENOMEM;
    } else {
      /* Files left by an earlier database of this name whose drop was cut
       * short by a crash (ts_db_drop saves dbs.json, then removes them):
       * without this they would be loaded into the new database. */
      if (!ts_db_dir(e, db, dir, sizeof dir) && access(dir, F_OK) == 0) rc = loom_rm_rf(dir);
      if (!rc) rc = dbs_save(e);
      if (rc) ts_catalog_db_remove(&e->cat, db);
    }
  }
  pthread_rwlock_unlock(&e->lock);
  return rc;
}

int ts_db_set_retention(ts_engine *e, const char *name, int64_t retention_ns) {
  if (retention_ns < 0) return LOOM_EINVAL;
  pthread_rwlock_wrlock(&e->lock);
  ts_db *db = ts_catalog_db(&e->cat, name);
  int rc = LOOM_ENOTFOUND;
  if (db) {
    int64_t old = db->retention_ns;
    db->retention_ns = retention_ns;
    if ((rc = dbs_save(e))) db->retention_ns = old;
  }
  pthread_rwlock_unlock(&e->lock);
  return rc;
}

int ts_db_get(ts_engine *e, const char *name, int64_t *retention_ns) {
  pthread_rwlock_rdlock(&e->lock);
  ts_db *db = ts_catalog_db(&e->cat, name);
  if (db && retention_ns) *retention_ns = db->retention_ns;
  pthread_rwlock_unlock(&e->lock);
  return db ? 0 : LOOM_ENOTFOUND;
}

void ts_db_each(ts_engine *e, void (*cb)(void *, const char *, int64_t), void *arg) {
  pthread_rwlock_rdlock(&e->lock);
  for (uint32_t i = 0; i < e->cat.n_dbs; i++) cb(arg, e->cat.dbs[i]->name, e->cat.dbs[i]->retention_ns);
  pthread_rwlock_unlock(&e->lock);
}

int ts_db_drop(ts_engine *e, const char *name) {
  pthread_mutex_lock(&e->flush_mu);
  /* Flush first so that no WAL record of this database outlives it. */
  int rc = ts_flush(e);
  pthread_rwlock_wrlock(&e->lock);
  ts_db *db = ts_catalog_db(&e->cat, name);
  if (!db) {
    rc = LOOM_ENOTFOUND;
    goto out;
  }
  if (rc) goto out;
  char dir[4096];
  ts_db_dir(e, db, dir, sizeof dir);
  for (uint32_t i = 0; i < db->n_parts; i++) {
    for (uint32_t j = 0; j < db->parts[i].n_segs; j++) {
      ts_seginfo *s = db->parts[i].segs[j];
      atomic_store(&s->dead, true);
      ts_seginfo_unref(s);
    }
    db->parts[i].n_segs = 0;
  }
  ts_catalog_db_remove(&e->cat, db);
  rc = dbs_save(e);
  loom_rm_rf(dir);
out:
  pthread_rwlock_unlock(&e->lock);
  pthread_mutex_unlock(&e->flush_mu);
  return rc;
}

/* ---- writes ---- */

bool ts_engine_check_readonly(ts_engine *e) {
  if (atomic_load(&e->readonly)) return true;
  /* A failed fsync is reported to the write's callback, not to a caller of
   * ts_wal_append: without this check the engine would only learn of it at
   * the next append, after applying that write to the heads. */
  if (e->wal && ts_wal_readonly(e->wal)) {
    atomic_store(&e->readonly, true);
    return true;
  }
  return false;
}

static ZSTD_CCtx *cctx_take(ts_engine *e) {
  pthread_mutex_lock(&e->zmu);
  ZSTD_CCtx *c = e->n_cctx ? e->cctx[--e->n_cctx] : NULL;
  pthread_mutex_unlock(&e->zmu);
  return c ? c : ZSTD_createCCtx();
}

static void cctx_give(ts_engine *e, ZSTD_CCtx *c) {
  pthread_mutex_lock(&e->zmu);
  if (e->n_cctx < TS_MAX_CCTX) {
    e->cctx[e->n_cctx++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&e->zmu);
  ZSTD_freeCCtx(c);
}

/* The WAL record of a write (layout at the top of this file). Bodies below this are logged uncompressed (TS_REC_WRITE): a zstd frame
 * costs ~36k instructions even for a 200-byte body (an MQTT message). */
#define WAL_Z_MIN 1024

static int encode_write_rec(ts_engine *e, loom_buf *rec, uint8_t *type, const char *db,
                            const char *body, size_t len, int64_t precision_ns,
                            int64_t default_ts_ns) {
  size_t dblen = strlen(db);
  if (dblen > UINT16_MAX || len > UINT32_MAX) return LOOM_ERANGE;
  bool z = len >= WAL_Z_MIN;
  size_t bound = z ? ZSTD_compressBound(len) : len;
  int rc = loom_buf_reserve(rec, 2 + dblen + 20 + bound);
  if (rc) return rc;
  loom_buf_append_u16(rec, (uint16_t)dblen);
  loom_buf_append(rec, db, dblen);
  loom_buf_append_u64(rec, (uint64_t)precision_ns);
  loom_buf_append_u64(rec, (uint64_t)default_ts_ns);
  *type = z ? TS_REC_WRITE_Z : TS_REC_WRITE;
  if (!z) return loom_buf_append(rec, body, len);
  loom_buf_append_u32(rec, (uint32_t)len);
  ZSTD_CCtx *c = cctx_take(e);
  if (!c) return LOOM_ENOMEM;
  size_t zn = ZSTD_compressCCtx(c, rec->data + rec->len, bound, body, len, 1);
  cctx_give(e, c);
  if (ZSTD_isError(zn)) return LOOM_ENOMEM;
  rec->len += zn;
  return 0;
}

static void reject(ts_write_result *res, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reject(ts_write_result *res, uint32_t line, const char *fmt, ...) {
  if (res->n_rejected < sizeof res->rejects / sizeof res->rejects[0]) {
    ts_reject *r = &res->rejects[res->n_rejected];
    r->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
  }
  res->n_rejected++;
}

static int mark_dirty(ts_engine *e, ts_col *col) {
  if (col->dirty) return 0;
  if (e->n_dirty == e->cap_dirty) {
    uint32_t cap = e->cap_dirty ? e->cap_dirty * 2 : 1024;
    uint32_t *d = loom_realloc(e->dirty, cap * sizeof *d);
    if (!d) return LOOM_ENOMEM;
    e->dirty = d;
    e->cap_dirty = cap;
  }
  e->dirty[e->n_dirty++] = col->cid;
  col->dirty = true;
  return 0;
}

/* Apply a parsed batch to the heads (write lock held). */
static int apply_batch(ts_engine *e, ts_db *db, const lp_batch *b, ts_write_result *res) {
  int64_t oldest = db->retention_ns ? loom_now_ns() - db->retention_ns : INT64_MIN;
  for (size_t i = 0; i < b->n_points; i++) {
    const lp_point *p = &b->points[i];
    if (p->ts_ns < oldest) {
      reject(res, p->line, "point is beyond retention policy");
      continue;
    }
    if (p->n_fields > e->cap_scratch) {
      uint32_t *sc = loom_realloc(e->scratch, p->n_fields * sizeof *sc);
      if (!sc) return LOOM_ENOMEM;
      e->scratch = sc;
      e->cap_scratch = p->n_fields;
    }
    ts_series *s;
    int rc = ts_catalog_series_get(&e->cat, db, p->series_key, p->series_key_len,
                                   strmap_hash(p->series_key, p->series_key_len), &s);
    if (rc == LOOM_EINVAL || rc == LOOM_ERANGE) {
      reject(res, p->line, "invalid series: %s", loom_strerror(rc));
      continue;
    }
    if (rc) return rc;
    bool ok = true;
    for (uint32_t f = 0; f < p->n_fields && ok; f++) {
      const lp_field *fl = &p->fields[f];
      ts_type existing = 0;
      rc = ts_catalog_series_col(&e->cat, db, s, fl->key, fl->key_len, fl->type, &e->scratch[f],
                                 &existing);
      if (rc == LOOM_ETYPE) {
        reject(res, p->line,
               "field type conflict: input field \"%.*s\" on measurement \"%.*s\" is type %s, "
               "already exists as type %s",
               (int)(fl->key_len > 40 ? 40 : fl->key_len), fl->key,
               (int)(p->measurement_len > 40 ? 40 : p->measurement_len), p->measurement,
               ts_type_name(fl->type), ts_type_name(existing));
        ok = false;
      } else if (rc == LOOM_ERANGE) {
        reject(res, p->line, "too many fields in measurement");
        ok = false;
      } else if (rc) {
        return rc;
      }
    }
    if (!ok) continue;
    for (uint32_t f = 0; f < p->n_fields; f++) {
      ts_col *col = ts_catalog_col(&e->cat, e->scratch[f]);
      rc = ts_headbuf_append(&col->act, col->type, p->ts_ns, &p->fields[f].v);
      if (rc < 0) return rc;
      e->head_bytes += (uint64_t)rc;
      if (!col->dirty && (rc = mark_dirty(e, col))) return rc;
      if ((!col->has_last || p->ts_ns >= col->last_ts) &&
          (rc = ts_col_note_last(col, p->ts_ns, &p->fields[f].v)))
        return rc;
    }
    e->head_points += p->n_fields;
    res->points_written += p->n_fields;
    res->lines_written++;
  }
  return 0;
}

/* Count stored points for ts_db_usage_get. Lock held for writing. */
static void note_rate(ts_engine *e, ts_db *db, uint64_t n) {
  int64_t slot = loom_mono_ns() / LOOM_NS_PER_MS / TS_RATE_SLOT_MS;
  uint32_t n32 = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  db->points_total += n;
  loom_rate_add(&db->rate, slot, n32);
  loom_rate_add(&e->rate, slot, n32);
}

int ts_engine_write_lp(ts_engine *e, const char *dbname, const lp_batch *batch, const char *body,
                       size_t len, int64_t precision_ns, int64_t default_ts_ns,
                       ts_write_result *res, ts_write_cb cb, void *arg) {
  memset(res, 0, sizeof *res);
  if (ts_engine_check_readonly(e)) return LOOM_EREADONLY;
  /* The WAL record is built before taking the lock (compression runs in parallel). */
  loom_buf rec;
  loom_buf_init(&rec);
  uint8_t rec_type = TS_REC_WRITE_Z;
  int rc = e->replaying ? 0
                        : encode_write_rec(e, &rec, &rec_type, dbname, body, len, precision_ns,
                                           default_ts_ns);
  if (rc) return rc;
  pthread_rwlock_wrlock(&e->lock);
  ts_db *db = ts_catalog_db(&e->cat, dbname);
  rc = db ? apply_batch(e, db, batch, res) : LOOM_ENOTFOUND;
  if (db && !e->replaying && res->points_written) note_rate(e, db, res->points_written);
  bool logged = false;
  if (!rc && res->lines_written && !e->replaying) {
    rc = ts_wal_append(e->wal, rec_type, rec.data, rec.len, cb, arg);
    if (rc == LOOM_EREADONLY) atomic_store(&e->readonly, true);
    logged = rc == 0;
  }
  bool flush = e->head_bytes > e->opt.head_max_bytes;
  /* Backpressure: a writer that took the active head past its limit waits
   * until that head is frozen for a flush: at once when none is running,
   * else when the running one is done. The heads then stay near two limits
   * even when ingest outruns the flush (a busy machine, a slow disk). */
  bool wait = !e->replaying && flush;
  pthread_rwlock_unlock(&e->lock);
  loom_buf_deinit(&rec);
  atomic_fetch_add(&e->st_points, res->points_written);
  atomic_fetch_add(&e->st_lines, res->lines_written);
  atomic_fetch_add(&e->st_rejected, res->n_rejected);
  if (flush) {
    pthread_mutex_lock(&e->bg_mu);
    e->bg_flush_now = true;
    pthread_cond_signal(&e->bg_cv);
    if (wait && e->thread_started && !e->bg_stop) {
      /* At most a few seconds: a flush that keeps failing (full disk) must
       * not stall writers forever; they then see its error elsewhere. */
      uint64_t gen = e->freeze_gen;
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += 5;
      while (e->freeze_gen == gen && !e->bg_stop &&
             pthread_cond_timedwait(&e->frozen_cv, &e->bg_mu, &until) == 0) {
      }
    }
    pthread_mutex_unlock(&e->bg_mu);
  }
  if (rc) return rc;
  if (!logged && cb) cb(arg, 0); /* nothing to make durable */
  return 0;
}

/* ---- recovery ---- */

static int replay_record(void *arg, uint8_t type, const uint8_t *p, size_t len) {
  ts_engine *e = arg;
  if (type == TS_REC_DELETE) return ts_replay_delete(e, p, len);
  if (type != TS_REC_WRITE && type != TS_REC_WRITE_Z) return 0; /* from a newer version: skip */
  loom_rd r;
  loom_rd_init(&r, p, len);
  uint16_t dblen;
  const uint8_t *dbp;
  uint64_t prec, dts;
  if (loom_rd_u16(&r, &dblen) || loom_rd_ptr(&r, &dbp, dblen) || loom_rd_u64(&r, &prec) ||
      loom_rd_u64(&r, &dts))
    return 0; /* a record we cannot read is skipped, not fatal */
  char db[256];
  if (dblen >= sizeof db) return 0;
  memcpy(db, dbp, dblen);
  db[dblen] = 0;
  loom_buf raw;
  loom_buf_init(&raw);
  if (type == TS_REC_WRITE_Z) {
    uint32_t rawlen;
    if (loom_rd_u32(&r, &rawlen)) return 0;
    if (loom_buf_reserve(&raw, rawlen + 1)) return LOOM_ENOMEM;
    size_t got = ZSTD_decompress(raw.data, rawlen + 1, r.p, r.len);
    if (ZSTD_isError(got) || got != rawlen) {
      loom_buf_deinit(&raw);
      return 0; /* the CRC matched but the frame does not: skip the record */
    }
    r.p = raw.data;
    r.len = rawlen;
  }
  lp_batch b;
  lp_batch_init(&b);
  int rc = lp_parse(&b, (const char *)r.p, r.len, (int64_t)prec, (int64_t)dts);
  if (!rc) {
    ts_write_result res;
    rc = ts_engine_write_lp(e, db, &b, (const char *)r.p, r.len, (int64_t)prec, (int64_t)dts, &res,
                            NULL, NULL);
    if (rc == LOOM_ENOTFOUND) rc = 0; /* database dropped since */
  }
  lp_batch_deinit(&b);
  loom_buf_deinit(&raw);
  return rc == LOOM_ENOMEM ? rc : 0;
}

typedef struct seg_file {
  uint64_t min_seq, seq, file_id;
  bool skip;
  char path[4700];
} seg_file;

/* Segment file names, all hex: <min_seq>-<seq>-<file id>.seg (this version),
 * and the earlier <seq>-<file id>.seg and <seq>.seg (min_seq = seq). 0,
 * LOOM_ENOTFOUND (not a segment file) or LOOM_EINVAL (a .seg file whose name
 * makes no sense: refuse to start rather than ignore data). */
static int parse_seg_name(const char *name, seg_file *out) {
  size_t nl = strlen(name);
  if (nl < 5 || strcmp(name + nl - 4, ".seg")) return LOOM_ENOTFOUND;
  char *end;
  uint64_t v[3];
  int n = 0;
  const char *p = name;
  for (;;) {
    if (n == 3) return LOOM_EINVAL;
    v[n++] = strtoull(p, &end, 16);
    if (end == p) return LOOM_EINVAL;
    if (*end == '.') break;
    if (*end != '-') return LOOM_EINVAL;
    p = end + 1;
  }
  if (end != name + nl - 4) return LOOM_EINVAL;
  memset(out, 0, sizeof *out);
  out->min_seq = v[0];
  out->seq = n == 3 ? v[1] : v[0];
  out->file_id = n == 3 ? v[2] : n == 2 ? v[1] : v[0];
  return out->min_seq <= out->seq ? 0 : LOOM_EINVAL;
}

static int cmp_file_desc(const void *a, const void *b) {
  uint64_t x = ((const seg_file *)a)->file_id, y = ((const seg_file *)b)->file_id;
  return x < y ? 1 : x > y ? -1 : 0;
}

static int load_segments(ts_engine *e, ts_db *db, char *err, size_t errlen) {
  char dir[4096];
  ts_db_dir(e, db, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *de;
  int rc = 0;
  while (!rc && (de = readdir(d))) {
    char *end;
    long long start = strtoll(de->d_name, &end, 10);
    if (*end || end == de->d_name) continue;
    char pdir[4400];
    snprintf(pdir, sizeof pdir, "%s/%s", dir, de->d_name);
    DIR *pd = opendir(pdir);
    if (!pd) continue;
    struct dirent *fe;
    seg_file *files = NULL;
    size_t n_files = 0, cap_files = 0;
    while (!rc && (fe = readdir(pd))) {
      char path[4700];
      snprintf(path, sizeof path, "%s/%s", pdir, fe->d_name);
      size_t nl = strlen(fe->d_name);
      if (nl > 4 && !strcmp(fe->d_name + nl - 4, ".tmp")) {
        unlink(path); /* an unfinished flush or compaction */
        continue;
      }
      seg_file sf;
      int prc = parse_seg_name(fe->d_name, &sf);
      if (prc == LOOM_ENOTFOUND) continue;
      if (prc) {
        snprintf(err, errlen, "%s: not a segment file name this version understands", path);
        rc = LOOM_ECORRUPT;
        break;
      }
      if (n_files == cap_files) {
        cap_files = cap_files ? cap_files * 2 : 16;
        seg_file *nf = loom_realloc(files, cap_files * sizeof *nf);
        if (!nf) {
          rc = LOOM_ENOMEM;
          break;
        }
        files = nf;
      }
      snprintf(sf.path, sizeof sf.path, "%s", path);
      files[n_files++] = sf;
    }
    /* Newest file first: a file whose seq range lies inside that of a newer
     * file is a compaction input left by a crash before its removal. */
    if (!rc && n_files) qsort(files, n_files, sizeof *files, cmp_file_desc);
    for (size_t i = 0; !rc && i < n_files; i++) {
      seg_file *sf = &files[i];
      if (sf->file_id >= e->next_seq) e->next_seq = sf->file_id + 1;
      if (sf->seq >= e->next_seq) e->next_seq = sf->seq + 1;
      bool superseded = false;
      for (size_t k = 0; k < i && !superseded; k++)
        superseded = !files[k].skip && files[k].min_seq <= sf->min_seq && sf->seq <= files[k].seq;
      if (superseded) {
        sf->skip = true;
        unlink(sf->path);
        continue;
      }
      ts_segment *seg;
      rc = ts_segment_open(sf->path, &seg, err, errlen);
      if (rc) break;
      ts_seginfo *si;
      rc = ts_register_segment(e, db, seg, sf->min_seq, sf->seq, start, &si);
      if (!rc) e->segments_loaded++;
      if (rc) {
        ts_segment_close(seg);
        snprintf(err, errlen, "%s: %s", sf->path, loom_strerror(rc));
      }
    }
    loom_free(files);
    closedir(pd);
  }
  closedir(d);
  return rc;
}

static void *bg_main(void *arg);

int ts_engine_open(const ts_engine_options *o, ts_engine **out, char *err, size_t errlen) {
  *out = NULL;
  err[0] = 0;
  if (!o->dir) return LOOM_EINVAL;
  ts_engine *e = loom_calloc(1, sizeof *e);
  if (!e) return LOOM_ENOMEM;
  e->opt = *o;
  ts_engine_options def;
  ts_engine_options_default(&def);
  if (!e->opt.partition_ns) e->opt.partition_ns = def.partition_ns;
  if (!e->opt.block_points) e->opt.block_points = def.block_points;
  if (!e->opt.head_max_bytes) e->opt.head_max_bytes = def.head_max_bytes;
  if (!e->opt.flush_interval_s) e->opt.flush_interval_s = def.flush_interval_s;
  if (!e->opt.compact_threshold) e->opt.compact_threshold = def.compact_threshold;
  if (!e->opt.cold_compact_s) e->opt.cold_compact_s = def.cold_compact_s;
  pthread_rwlock_init(&e->lock, NULL);
  pthread_mutex_init(&e->flush_mu, NULL);
  pthread_mutex_init(&e->meta_mu, NULL);
  pthread_mutex_init(&e->zmu, NULL);
  pthread_mutex_init(&e->bg_mu, NULL);
  pthread_cond_init(&e->bg_cv, NULL);
  pthread_cond_init(&e->frozen_cv, NULL);
  ts_catalog_init(&e->cat);
  e->next_seq = 1;
  int rc;
  char path[4096];
  if (!(e->dir = loom_strdup(o->dir))) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  snprintf(path, sizeof path, "%s/data", o->dir);
  if ((rc = loom_mkdir_p(path))) {
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    goto fail;
  }
  if ((rc = dbs_load(e, err, errlen))) goto fail;
  for (uint32_t i = 0; i < e->cat.n_dbs; i++) {
    if ((rc = load_segments(e, e->cat.dbs[i], err, errlen))) goto fail;
    if ((rc = ts_tombs_load(e, e->cat.dbs[i]))) {
      snprintf(err, errlen, "tombstones of database %s: %s", e->cat.dbs[i]->name, loom_strerror(rc));
      goto fail;
    }
  }
  ts_wal_options wo = {.mode = o->durability == TS_BATCHED ? TS_WAL_BATCHED : TS_WAL_DURABLE,
                       .batch_interval_ms = o->batch_interval_ms,
                       .io = o->wal_io};
  snprintf(path, sizeof path, "%s/wal", o->dir);
  if ((rc = ts_wal_open(path, &wo, &e->wal))) {
    snprintf(err, errlen, "cannot open WAL in %s: %s", path, loom_strerror(rc));
    goto fail;
  }
  e->replaying = true;
  rc = ts_wal_replay(e->wal, replay_record, e, &e->replay);
  e->replaying = false;
  if (rc) {
    snprintf(err, errlen, "WAL replay in %s: %s", path, loom_strerror(rc));
    goto fail;
  }
  if ((rc = ts_wal_start(e->wal))) {
    snprintf(err, errlen, "cannot start WAL: %s", loom_strerror(rc));
    goto fail;
  }
  e->last_flush_ns = loom_mono_ns();
  if (pthread_create(&e->thread, NULL, bg_main, e)) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  e->thread_started = true;
  *out = e;
  return 0;
fail:
  if (!err[0]) snprintf(err, errlen, "%s", loom_strerror(rc));
  ts_engine_close(e);
  return rc;
}

static void *bg_main(void *arg) {
  ts_engine *e = arg;
  pthread_setname_np(pthread_self(), "ts-background"); /* top -H, perf, gdb */
  int64_t last_retention = 0, last_cold = loom_mono_ns(), last_trim = last_cold;
  pthread_mutex_lock(&e->bg_mu);
  while (!e->bg_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    if (!e->bg_flush_now) pthread_cond_timedwait(&e->bg_cv, &e->bg_mu, &ts);
    if (e->bg_stop) break;
    bool now = e->bg_flush_now;
    e->bg_flush_now = false;
    pthread_mutex_unlock(&e->bg_mu);
    int64_t mono = loom_mono_ns();
    if (now || mono - e->last_flush_ns > (int64_t)e->opt.flush_interval_s * LOOM_NS_PER_S) {
      ts_engine_flush(e);
    }
    if (mono - last_cold > 5 * LOOM_NS_PER_S) { /* merge partitions that went cold */
      pthread_mutex_lock(&e->flush_mu);
      for (uint32_t i = 0; i < e->cat.n_dbs; i++) ts_compact_db(e, e->cat.dbs[i]);
      pthread_mutex_unlock(&e->flush_mu);
      last_cold = mono;
    }
    if (mono - last_trim > 10 * LOOM_NS_PER_S) {
      /* Queries free large buffers too (not only flushes): give the pages
       * back now and then so RSS does not stay at the last big query's. */
      loom_mem_trim();
      last_trim = mono;
    }
    if (mono - last_retention > 60 * LOOM_NS_PER_S) {
      ts_engine_enforce_retention(e, loom_now_ns());
      last_retention = mono;
    }
    pthread_mutex_lock(&e->bg_mu);
  }
  pthread_mutex_unlock(&e->bg_mu);
  return NULL;
}

int ts_engine_flush(ts_engine *e) {
  pthread_mutex_lock(&e->flush_mu);
  int rc = ts_flush(e);
  for (uint32_t i = 0; !rc && i < e->cat.n_dbs; i++) rc = ts_compact_db(e, e->cat.dbs[i]);
  e->last_flush_ns = loom_mono_ns();
  pthread_mutex_unlock(&e->flush_mu);
  /* The frozen heads and compaction buffers just freed are large and
   * scattered: hand the free pages back so RSS follows real use. */
  loom_mem_trim();
  return rc;
}

void ts_engine_close(ts_engine *e) {
  if (!e) return;
  if (e->thread_started) {
    pthread_mutex_lock(&e->bg_mu);
    e->bg_stop = true;
    pthread_cond_signal(&e->bg_cv);
    pthread_cond_broadcast(&e->frozen_cv);
    pthread_mutex_unlock(&e->bg_mu);
    pthread_join(e->thread, NULL);
    ts_engine_flush(e);
  }
  if (e->wal) ts_wal_close(e->wal);
  for (uint32_t i = 0; i < e->cat.n_dbs; i++) {
    ts_db *db = e->cat.dbs[i];
    for (uint32_t p = 0; p < db->n_parts; p++)
      for (uint32_t s = 0; s < db->parts[p].n_segs; s++) ts_seginfo_unref(db->parts[p].segs[s]);
  }
  for (uint32_t i = 0; i < e->cap_tomb_cols; i++) loom_free(e->tombs[i]);
  loom_free(e->tombs);
  loom_free(e->n_tombs);
  ts_catalog_deinit(&e->cat);
  loom_free(e->dirty);
  loom_free(e->scratch);
  loom_free(e->dir);
  pthread_rwlock_destroy(&e->lock);
  pthread_mutex_destroy(&e->flush_mu);
  pthread_mutex_destroy(&e->meta_mu);
  for (uint32_t i = 0; i < e->n_cctx; i++) ZSTD_freeCCtx(e->cctx[i]);
  pthread_mutex_destroy(&e->zmu);
  pthread_mutex_destroy(&e->bg_mu);
  pthread_cond_destroy(&e->bg_cv);
  pthread_cond_destroy(&e->frozen_cv);
  loom_free(e);
}

int ts_meta_get(ts_engine *e, const char *dbname, ts_meta **out) {
  pthread_rwlock_rdlock(&e->lock);
  ts_db *db = ts_catalog_db(&e->cat, dbname);
  int rc = LOOM_ENOTFOUND;
  if (db) {
    pthread_mutex_lock(&e->meta_mu);
    rc = ts_catalog_meta(&e->cat, db, out);
    pthread_mutex_unlock(&e->meta_mu);
  }
  pthread_rwlock_unlock(&e->lock);
  return rc;
}

void ts_engine_stats_get(ts_engine *e, ts_engine_stats *s) {
  memset(s, 0, sizeof *s);
  s->points_written = atomic_load(&e->st_points);
  s->lines_written = atomic_load(&e->st_lines);
  s->points_rejected = atomic_load(&e->st_rejected);
  s->flushes = atomic_load(&e->st_flushes);
  s->compactions = atomic_load(&e->st_compactions);
  s->readonly = ts_engine_check_readonly(e);
  pthread_rwlock_rdlock(&e->lock);
  s->series = e->cat.n_series;
  s->columns = e->cat.n_cols;
  s->databases = e->cat.n_dbs;
  s->head_points = e->head_points;
  s->head_bytes = e->head_bytes;
  for (uint32_t i = 0; i < e->cat.n_dbs; i++) {
    ts_db *db = e->cat.dbs[i];
    for (uint32_t p = 0; p < db->n_parts; p++) {
      s->segments += db->parts[p].n_segs;
      s->partitions_unmerged += db->parts[p].n_segs > 1;
      for (uint32_t k = 0; k < db->parts[p].n_segs; k++)
        s->segment_bytes += ts_segment_file_bytes(db->parts[p].segs[k]->seg);
    }
  }
  pthread_rwlock_unlock(&e->lock);
  ts_wal_stats ws;
  ts_wal_stats_get(e->wal, &ws);
  s->wal_bytes_written = ws.bytes_written;
  s->wal_fsyncs = ws.fsyncs;
  s->wal_fsync_ns_total = ws.fsync_ns_total;
  s->wal_fsync_ns_max = ws.fsync_ns_max;
}

static uint64_t db_segment_bytes(const ts_db *db) {
  uint64_t n = 0;
  for (uint32_t p = 0; p < db->n_parts; p++)
    for (uint32_t k = 0; k < db->parts[p].n_segs; k++)
      n += ts_segment_file_bytes(db->parts[p].segs[k]->seg);
  return n;
}

int ts_db_usage_get(ts_engine *e, const char *dbname, ts_db_usage *out) {
  memset(out, 0, sizeof *out);
  int64_t now_ms = loom_mono_ns() / LOOM_NS_PER_MS;
  int rc = 0;
  pthread_rwlock_rdlock(&e->lock);
  const loom_rate *rate = &e->rate;
  if (dbname) {
    ts_db *db = ts_catalog_db(&e->cat, dbname);
    if (!db) {
      rc = LOOM_ENOTFOUND;
      goto done;
    }
    rate = &db->rate;
    out->points_total = db->points_total;
    out->series = db->series_map.count;
    out->segment_bytes = db_segment_bytes(db);
  } else {
    for (uint32_t i = 0; i < e->cat.n_dbs; i++) {
      out->points_total += e->cat.dbs[i]->points_total;
      out->segment_bytes += db_segment_bytes(e->cat.dbs[i]);
    }
    out->series = e->cat.n_series;
  }
  out->points_per_s_10s = loom_rate_per_s(rate, now_ms, TS_RATE_SLOT_MS, 2);
  out->points_per_s_60s = loom_rate_per_s(rate, now_ms, TS_RATE_SLOT_MS, 12);
done:
  pthread_rwlock_unlock(&e->lock);
  return rc;
}
