/* SPDX-License-Identifier: Apache-2.0
 * Segment files (format in segment.h). The writer streams blocks to a .tmp
 * file through a write buffer and keeps only the encoded index entries of
 * the columns in memory; finish sorts them, writes index and trailer, syncs
 * and renames. The reader maps the file, validates the whole index once and
 * keeps it encoded, decoding a column only when it is asked for.
 */
#include "ts/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <zstd.h>

#include "core/err.h"
#include "core/mem.h"

static const uint8_t HEADER_MAGIC[8] = {'L', 'O', 'O', 'M', 'S', 'E', 'G', 0};
static const uint8_t TRAILER_MAGIC[8] = {'L', 'O', 'O', 'M', 'I', 'D', 'X', 0};
/* The same trailer when the index bytes are one zstd frame of the index. */
static const uint8_t TRAILER_MAGIC_Z[8] = {'L', 'O', 'O', 'M', 'I', 'D', 'Z', 0};
/* A compressed index never expands to more than this (also bounds hostile frames). */
#define MAX_INDEX_BYTES (1ull << 31)

#define WBUF_FLUSH (1u << 20) /* write buffer flush threshold, bytes */
#define DFLOAT_RAW 19u
#define DFLOAT_MAX_E 18

static const double P10[DFLOAT_MAX_E + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                             1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                             1e14, 1e15, 1e16, 1e17, 1e18};

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
  while (n > 0) {
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, p, k);
    p += k;
    n -= k;
  }
  return crc;
}

/* (key, field) order: memcmp over the common length, shorter first. */
static int name_cmp(const void *a, size_t alen, const void *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int col_cmp(const void *ak, size_t akl, const void *af, size_t afl, const void *bk,
                   size_t bkl, const void *bf, size_t bfl) {
  int c = name_cmp(ak, akl, bk, bkl);
  return c ? c : name_cmp(af, afl, bf, bfl);
}

/* ---------------------------------------------------------------- stats */

static int dfloat_append(loom_buf *b, double v) {
  if (isfinite(v)) {
    for (int e = 0; e <= DFLOAT_MAX_E; e++) {
      double x = v * P10[e];
      if (!(fabs(x) <= 9007199254740992.0)) break; /* 2^53: (double)m stays exact */
      int64_t m = (int64_t)nearbyint(x);
      double back = e ? (double)m / P10[e] : (double)m;
      if (memcmp(&back, &v, sizeof v) == 0) {
        uint64_t zz = ((uint64_t)m << 1) ^ (uint64_t)(m >> 63);
        return loom_buf_append_uvarint(b, zz * 20u + (uint64_t)e);
      }
    }
  }
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  int rc = loom_buf_append_uvarint(b, DFLOAT_RAW);
  return rc ? rc : loom_buf_append_u64(b, bits);
}

static int dfloat_read(loom_rd *r, double *v) {
  uint64_t h;
  int rc = loom_rd_uvarint(r, &h);
  if (rc) return rc;
  unsigned e = (unsigned)(h % 20u);
  if (e == DFLOAT_RAW) {
    if (h != DFLOAT_RAW) return LOOM_ECORRUPT;
    uint64_t bits;
    if ((rc = loom_rd_u64(r, &bits))) return rc;
    memcpy(v, &bits, sizeof *v);
    return 0;
  }
  uint64_t zz = h / 20u;
  int64_t m = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
  *v = e ? (double)m / P10[e] : (double)m;
  return 0;
}

/* Value stats of one block entry (times and count are done by the caller). */
static int stats_append(loom_buf *b, ts_type type, const ts_block_stats *st) {
  int rc = 0;
  switch (type) {
  case TS_FLOAT:
    if (!rc) rc = dfloat_append(b, st->min.f);
    if (!rc) rc = dfloat_append(b, st->max.f);
    if (!rc) rc = dfloat_append(b, st->first.f);
    if (!rc) rc = dfloat_append(b, st->last.f);
    if (!rc) rc = dfloat_append(b, st->sum_f);
    break;
  case TS_INT:
    if (!rc) rc = loom_buf_append_svarint(b, st->min.i);
    if (!rc) rc = loom_buf_append_uvarint(b, (uint64_t)st->max.i - (uint64_t)st->min.i);
    if (!rc) rc = loom_buf_append_uvarint(b, (uint64_t)st->first.i - (uint64_t)st->min.i);
    if (!rc) rc = loom_buf_append_uvarint(b, (uint64_t)st->last.i - (uint64_t)st->min.i);
    if (!rc) rc = loom_buf_append_svarint(b, st->sum_i);
    break;
  case TS_UINT:
    if (!rc) rc = loom_buf_append_uvarint(b, st->min.u);
    if (!rc) rc = loom_buf_append_uvarint(b, st->max.u - st->min.u);
    if (!rc) rc = loom_buf_append_uvarint(b, st->first.u - st->min.u);
    if (!rc) rc = loom_buf_append_uvarint(b, st->last.u - st->min.u);
    if (!rc) rc = loom_buf_append_uvarint(b, st->sum_u);
    break;
  case TS_BOOL: {
    uint8_t bits = (uint8_t)((st->min.b ? 1 : 0) | (st->max.b ? 2 : 0) | (st->first.b ? 4 : 0) |
                             (st->last.b ? 8 : 0));
    rc = loom_buf_append_u8(b, bits);
    if (!rc) rc = loom_buf_append_uvarint(b, (uint64_t)st->sum_i);
    break;
  }
  case TS_STRING: break;
  default: rc = LOOM_EINVAL;
  }
  return rc;
}

static int stats_read(loom_rd *r, ts_type type, ts_block_stats *st) {
  int rc = 0;
  uint64_t d1 = 0, d2 = 0, d3 = 0;
  switch (type) {
  case TS_FLOAT:
    if (!rc) rc = dfloat_read(r, &st->min.f);
    if (!rc) rc = dfloat_read(r, &st->max.f);
    if (!rc) rc = dfloat_read(r, &st->first.f);
    if (!rc) rc = dfloat_read(r, &st->last.f);
    if (!rc) rc = dfloat_read(r, &st->sum_f);
    break;
  case TS_INT:
    if (!rc) rc = loom_rd_svarint(r, &st->min.i);
    if (!rc) rc = loom_rd_uvarint(r, &d1);
    if (!rc) rc = loom_rd_uvarint(r, &d2);
    if (!rc) rc = loom_rd_uvarint(r, &d3);
    if (!rc) rc = loom_rd_svarint(r, &st->sum_i);
    if (!rc) {
      st->max.i = (int64_t)((uint64_t)st->min.i + d1);
      st->first.i = (int64_t)((uint64_t)st->min.i + d2);
      st->last.i = (int64_t)((uint64_t)st->min.i + d3);
    }
    break;
  case TS_UINT:
    if (!rc) rc = loom_rd_uvarint(r, &st->min.u);
    if (!rc) rc = loom_rd_uvarint(r, &d1);
    if (!rc) rc = loom_rd_uvarint(r, &d2);
    if (!rc) rc = loom_rd_uvarint(r, &d3);
    if (!rc) rc = loom_rd_uvarint(r, &st->sum_u);
    if (!rc) {
      st->max.u = st->min.u + d1;
      st->first.u = st->min.u + d2;
      st->last.u = st->min.u + d3;
    }
    break;
  case TS_BOOL: {
    uint8_t bits = 0;
    if (!rc) rc = loom_rd_u8(r, &bits);
    if (!rc) rc = loom_rd_uvarint(r, &d1);
    if (!rc && (bits > 15 || d1 > st->count)) rc = LOOM_ECORRUPT;
    if (!rc) {
      st->min.b = bits & 1;
      st->max.b = (bits >> 1) & 1;
      st->first.b = (bits >> 2) & 1;
      st->last.b = (bits >> 3) & 1;
      st->sum_i = (int64_t)d1;
    }
    break;
  }
  case TS_STRING: break;
  default: rc = LOOM_ECORRUPT;
  }
  return rc;
}

/* The reader's rules for a block's count and time range (segment.h). */
static int times_sane(const ts_block_stats *st) {
  if (st->count < 1 || st->count > TS_BLOCK_MAX_POINTS || st->max_ts < st->min_ts) return 0;
  uint64_t d = (uint64_t)st->max_ts - (uint64_t)st->min_ts;
  return (d == 0) == (st->count == 1) && d >= st->count - 1;
}

static int type_valid(int t) { return t >= TS_FLOAT && t <= TS_STRING; }

/* =============================================================== writer */

/* One finished column: its entry inside w->idx. */
/* The key is kept once for consecutive columns of the same series (a
 * flush adds a series' fields one after the other): the entry bytes in idx
 * start at the field, and finish puts the key in front of them. */
typedef struct colrec {
  uint64_t entry_off; /* in w->idx: uvarint field_len, field, type, n_blocks, blocks */
  uint64_t entry_len;
  uint64_t key_off, field_off; /* in w->idx */
  uint32_t key_len, field_len;
} colrec;

struct ts_segw {
  char *path;
  char *tmp_path;
  int fd;
  int err;                /* sticky failure code, 0 while healthy */
  uint32_t block_points;
  loom_buf wbuf;          /* bytes not yet written to fd */
  uint64_t flushed;       /* bytes already written to fd */
  loom_buf idx;           /* encoded entries of all columns, in arrival order */
  colrec *recs;           /* one per column entry started in idx */
  size_t n_recs, cap_recs;
  uint64_t total_blocks;
  /* The column being written (the last rec) while have_cur. */
  int have_cur;
  ts_type cur_type;
  uint32_t cur_n_blocks;
  int64_t cur_max_ts;     /* last timestamp of the column so far */
  uint64_t cur_next_off;  /* end of the column's last block */
  loom_buf cur_enc;       /* its block entries so far */
};

static int fd_write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      int rc = loom_from_errno(errno);
      return rc == LOOM_ENOSPC ? rc : LOOM_EIO;
    }
    if (k == 0) return LOOM_EIO;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int wflush(ts_segw *w) {
  int rc = fd_write_all(w->fd, w->wbuf.data, w->wbuf.len);
  if (rc) return rc;
  w->flushed += w->wbuf.len;
  loom_buf_reset(&w->wbuf);
  return 0;
}

static int wmaybe_flush(ts_segw *w) { return w->wbuf.len >= WBUF_FLUSH ? wflush(w) : 0; }

static uint64_t wpos(const ts_segw *w) { return w->flushed + w->wbuf.len; }

int ts_segw_open(const char *path, ts_segw **out) {
  int rc = 0;
  *out = NULL;
  if (!path || !*path) return LOOM_EINVAL;
  ts_segw *w = loom_calloc(1, sizeof *w);
  if (!w) return LOOM_ENOMEM;
  w->fd = -1;
  w->block_points = TS_SEG_DEFAULT_BLOCK_POINTS;
  loom_buf_init(&w->wbuf);
  loom_buf_init(&w->idx);
  loom_buf_init(&w->cur_enc);
  size_t plen = strlen(path);
  w->path = loom_strdup(path);
  w->tmp_path = loom_malloc(plen + 5);
  if (!w->path || !w->tmp_path) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  memcpy(w->tmp_path, path, plen);
  memcpy(w->tmp_path + plen, ".tmp", 5);
  w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) {
    rc = loom_from_errno(errno);
    if (rc != LOOM_ENOTFOUND && rc != LOOM_ENOSPC) rc = LOOM_EIO;
    goto fail;
  }
  uint8_t hdr[TS_SEG_HEADER_LEN];
  memcpy(hdr, HEADER_MAGIC, 8);
  loom_put_le32(hdr + 8, TS_SEG_VERSION);
  loom_put_le32(hdr + 12, 0);
  if ((rc = loom_buf_append(&w->wbuf, hdr, sizeof hdr))) goto fail;
  *out = w;
  return 0;
fail:
  ts_segw_abort(w);
  return rc;
}

int ts_segw_set_block_points(ts_segw *w, uint32_t block_points) {
  if (block_points < 1 || block_points > TS_BLOCK_MAX_POINTS) return LOOM_EINVAL;
  w->block_points = block_points;
  return 0;
}

uint64_t ts_segw_bytes(const ts_segw *w) { return wpos(w); }

static void segw_free(ts_segw *w) {
  if (w->fd >= 0) close(w->fd);
  loom_buf_deinit(&w->wbuf);
  loom_buf_deinit(&w->idx);
  loom_buf_deinit(&w->cur_enc);
  loom_free(w->recs);
  loom_free(w->path);
  loom_free(w->tmp_path);
  loom_free(w);
}

void ts_segw_abort(ts_segw *w) {
  if (!w) return;
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
  if (w->tmp_path) unlink(w->tmp_path);
  segw_free(w);
}

/* Close the current column: append n_blocks and its block entries. */
static int col_end(ts_segw *w) {
  if (!w->have_cur) return 0;
  colrec *r = &w->recs[w->n_recs - 1];
  int rc = loom_buf_append_uvarint(&w->idx, w->cur_n_blocks);
  if (!rc) rc = loom_buf_append(&w->idx, w->cur_enc.data, w->cur_enc.len);
  if (rc) return rc;
  r->entry_len = w->idx.len - r->entry_off;
  w->have_cur = 0;
  loom_buf_reset(&w->cur_enc);
  return 0;
}

static int is_cur(const ts_segw *w, const char *key, uint32_t key_len, const char *field,
                  uint32_t field_len) {
  if (!w->have_cur) return 0;
  const colrec *r = &w->recs[w->n_recs - 1];
  return r->key_len == key_len && r->field_len == field_len &&
         memcmp(w->idx.data + r->key_off, key, key_len) == 0 &&
         memcmp(w->idx.data + r->field_off, field, field_len) == 0;
}

/* Validate a column identity against the current column. On success *cont
 * says whether it extends the current column. */
static int col_check(const ts_segw *w, const char *key, uint32_t key_len, const char *field,
                     uint32_t field_len, ts_type type, int64_t first_ts, int *cont) {
  if (!key || !field || key_len < 1 || key_len > TS_SEG_MAX_NAME || field_len < 1 ||
      field_len > TS_SEG_MAX_NAME || !type_valid((int)type))
    return LOOM_EINVAL;
  *cont = is_cur(w, key, key_len, field, field_len);
  if (*cont) {
    if (type != w->cur_type) return LOOM_ETYPE;
    if (first_ts <= w->cur_max_ts) return LOOM_EINVAL;
  }
  return 0;
}

static int col_begin(ts_segw *w, const char *key, uint32_t key_len, const char *field,
                     uint32_t field_len, ts_type type) {
  int rc = col_end(w);
  if (rc) return rc;
  if (w->n_recs == w->cap_recs) {
    size_t ncap = w->cap_recs ? w->cap_recs * 2 : 64;
    colrec *nr = loom_realloc(w->recs, ncap * sizeof *nr);
    if (!nr) return LOOM_ENOMEM;
    w->recs = nr;
    w->cap_recs = ncap;
  }
  colrec *r = &w->recs[w->n_recs];
  const colrec *prev = w->n_recs ? &w->recs[w->n_recs - 1] : NULL;
  if (prev && prev->key_len == key_len && memcmp(w->idx.data + prev->key_off, key, key_len) == 0) {
    r->key_off = prev->key_off;
  } else {
    r->key_off = w->idx.len;
    if ((rc = loom_buf_append(&w->idx, key, key_len))) return rc;
  }
  r->key_len = key_len;
  r->entry_off = w->idx.len;
  if ((rc = loom_buf_append_uvarint(&w->idx, field_len))) return rc;
  r->field_off = w->idx.len;
  r->field_len = field_len;
  if ((rc = loom_buf_append(&w->idx, field, field_len))) return rc;
  if ((rc = loom_buf_append_u8(&w->idx, (uint8_t)type))) return rc;
  r->entry_len = 0;
  w->n_recs++;
  w->have_cur = 1;
  w->cur_type = type;
  w->cur_n_blocks = 0;
  w->cur_next_off = 0;
  loom_buf_reset(&w->cur_enc);
  return 0;
}

/* Record a block just placed at off (len bytes) in the current column. */
static int col_block(ts_segw *w, uint64_t off, uint32_t len, const ts_block_stats *st) {
  loom_buf *b = &w->cur_enc;
  int first = w->cur_n_blocks == 0;
  int rc = loom_buf_append_uvarint(b, first ? off : off - w->cur_next_off);
  if (!rc) rc = loom_buf_append_uvarint(b, len);
  if (!rc) rc = loom_buf_append_uvarint(b, st->count);
  if (!rc)
    rc = first ? loom_buf_append_svarint(b, st->min_ts)
               : loom_buf_append_uvarint(b, (uint64_t)st->min_ts - (uint64_t)w->cur_max_ts);
  if (!rc) rc = loom_buf_append_uvarint(b, (uint64_t)st->max_ts - (uint64_t)st->min_ts);
  if (!rc) rc = stats_append(b, w->cur_type, st);
  if (rc) return rc;
  if (w->cur_n_blocks == UINT32_MAX) return LOOM_ERANGE;
  w->cur_n_blocks++;
  w->total_blocks++;
  w->cur_max_ts = st->max_ts;
  w->cur_next_off = off + len;
  return 0;
}

int ts_segw_add(ts_segw *w, const char *series_key, uint32_t key_len, const char *field,
                uint32_t field_len, ts_type type, const int64_t *ts, const void *vals,
                uint32_t n) {
  if (w->err) return w->err;
  if (n < 1 || !ts || !vals) return LOOM_EINVAL;
  for (uint32_t i = 1; i < n; i++)
    if (ts[i] <= ts[i - 1]) return LOOM_EINVAL;
  int cont = 0;
  int rc = col_check(w, series_key, key_len, field, field_len, type, ts[0], &cont);
  if (rc) return rc;
  if (!cont && (rc = col_begin(w, series_key, key_len, field, field_len, type))) goto fail;
  size_t esz = ts_type_size(type);
  for (uint32_t i = 0; i < n;) {
    uint32_t k = n - i < w->block_points ? n - i : w->block_points;
    size_t old = w->wbuf.len;
    uint64_t off = wpos(w);
    ts_block_stats st;
    memset(&st, 0, sizeof st);
    if ((rc = ts_block_encode(type, ts + i, (const uint8_t *)vals + (size_t)i * esz, k, &w->wbuf,
                              &st)))
      goto fail;
    size_t blen = w->wbuf.len - old;
    if (blen > UINT32_MAX || st.count != k || !times_sane(&st)) {
      rc = blen > UINT32_MAX ? LOOM_ERANGE : LOOM_EINVAL; /* never write an unreadable index */
      goto fail;
    }
    if ((rc = col_block(w, off, (uint32_t)blen, &st))) goto fail;
    if ((rc = wmaybe_flush(w))) goto fail;
    i += k;
  }
  return 0;
fail:
  w->err = rc;
  return rc;
}

int ts_segw_add_raw_block(ts_segw *w, const char *series_key, uint32_t key_len, const char *field,
                          uint32_t field_len, ts_type type, const uint8_t *block, uint32_t len) {
  if (w->err) return w->err;
  if (!block || len < 1) return LOOM_EINVAL;
  ts_block_info info;
  memset(&info, 0, sizeof info);
  if (ts_block_peek(block, len, &info) != 0 || info.type != type || info.len != len ||
      !times_sane(&info.stats))
    return LOOM_EINVAL;
  int cont = 0;
  int rc = col_check(w, series_key, key_len, field, field_len, type, info.stats.min_ts, &cont);
  if (rc) return rc;
  if (!cont && (rc = col_begin(w, series_key, key_len, field, field_len, type))) goto fail;
  uint64_t off = wpos(w);
  if ((rc = loom_buf_append(&w->wbuf, block, len))) goto fail;
  if ((rc = col_block(w, off, len, &info.stats))) goto fail;
  if ((rc = wmaybe_flush(w))) goto fail;
  return 0;
fail:
  w->err = rc;
  return rc;
}

/* A sorted view of one finished column entry. */
typedef struct colref {
  const uint8_t *key, *field, *entry;
  uint32_t key_len, field_len;
  uint64_t entry_len;
} colref;

static int colref_cmp(const void *a, const void *b) {
  const colref *x = a, *y = b;
  return col_cmp(x->key, x->key_len, x->field, x->field_len, y->key, y->key_len, y->field,
                 y->field_len);
}

/* Write v as a uvarint at p (room for 10 bytes); returns its length. */
static size_t put_uvarint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* Append index bytes to the output, updating the running CRC. */
static int emit(ts_segw *w, uint32_t *crc, const void *p, size_t n) {
  *crc = crc_update(*crc, p, n);
  int rc = loom_buf_append(&w->wbuf, p, n);
  return rc ? rc : wmaybe_flush(w);
}

static int fsync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? loom_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                    : loom_strdup(".");
  if (!dir) return LOOM_ENOMEM;
  int rc = 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) rc = LOOM_EIO;
  if (fd >= 0) close(fd);
  loom_free(dir);
  return rc;
}

/* Compress the index (head bytes, then the entries in refs order) into z as
 * one zstd frame that records its content size. 0, LOOM_ENOMEM or LOOM_EIO
 * (a zstd error). */
static int zcompress_index(ts_segw *w, const colref *refs, const uint8_t *head, size_t hlen,
                           uint64_t raw_len, loom_buf *z) {
  ZSTD_CCtx *cc = ZSTD_createCCtx();
  if (!cc) return LOOM_ENOMEM;
  int rc = 0;
  if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, raw_len)))
    rc = LOOM_EIO;
  size_t step = ZSTD_CStreamOutSize();
  /* pieces: the head, then per column uvarint key_len, key, entry */
  size_t n_pieces = 1 + 3 * w->n_recs;
  for (size_t i = 0; !rc && i < n_pieces; i++) {
    uint8_t kl[10];
    ZSTD_inBuffer in = {head, hlen, 0};
    if (i > 0) {
      const colref *c = &refs[(i - 1) / 3];
      switch ((i - 1) % 3) {
      case 0: in = (ZSTD_inBuffer){kl, put_uvarint(kl, c->key_len), 0}; break;
      case 1: in = (ZSTD_inBuffer){c->key, c->key_len, 0}; break;
      default: in = (ZSTD_inBuffer){c->entry, (size_t)c->entry_len, 0}; break;
      }
    }
    ZSTD_EndDirective mode = i + 1 == n_pieces ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
      if ((rc = loom_buf_reserve(z, step))) break;
      ZSTD_outBuffer out = {z->data + z->len, z->cap - z->len, 0};
      size_t left = ZSTD_compressStream2(cc, &out, &in, mode);
      z->len += out.pos;
      if (ZSTD_isError(left)) {
        rc = LOOM_EIO;
        break;
      }
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
  }
  ZSTD_freeCCtx(cc);
  return rc;
}

int ts_segw_finish(ts_segw *w) {
  colref *refs = NULL;
  int rc = w->err;
  if (rc) goto fail;
  if ((rc = col_end(w))) goto fail;
  /* idx no longer moves: turn each record into its view in place (same
   * size), saving an array as large as recs at the biggest moment. */
  _Static_assert(sizeof(colref) == sizeof(colrec), "colref replaces colrec in place");
  refs = (colref *)(void *)w->recs;
  for (size_t i = 0; i < w->n_recs; i++) {
    colrec r = w->recs[i];
    refs[i] = (colref){w->idx.data + r.key_off, w->idx.data + r.field_off,
                       w->idx.data + r.entry_off, r.key_len, r.field_len, r.entry_len};
  }
  if (w->n_recs > 1) qsort(refs, w->n_recs, sizeof *refs, colref_cmp);
  for (size_t i = 1; i < w->n_recs; i++) {
    if (colref_cmp(&refs[i - 1], &refs[i]) == 0) {
      rc = LOOM_EEXIST;
      goto fail;
    }
  }
  uint64_t index_off = wpos(w);
  uint32_t crc = 0;
  uint8_t head[20];
  size_t hlen = put_uvarint(head, w->n_recs);
  hlen += put_uvarint(head + hlen, w->total_blocks);
  /* The index (keys share long prefixes) is stored as one zstd frame when
   * that is smaller: about a third of it on IoT data. It is compressed
   * straight from the sorted entries (no copy of the raw index). */
  uint64_t raw_len = hlen;
  for (size_t i = 0; i < w->n_recs; i++) {
    uint8_t kl[10];
    raw_len += put_uvarint(kl, refs[i].key_len) + refs[i].key_len + refs[i].entry_len;
  }
  loom_buf z;
  loom_buf_init(&z);
  bool zipped = false;
  if (raw_len > 256 && raw_len < MAX_INDEX_BYTES) {
    rc = zcompress_index(w, refs, head, hlen, raw_len, &z);
    zipped = rc == 0 && z.len < raw_len;
    if (rc == LOOM_EIO) rc = 0; /* zstd refused: store the index raw */
  }
  if (!rc && zipped) rc = emit(w, &crc, z.data, z.len);
  loom_buf_deinit(&z);
  if (!rc && !zipped) {
    rc = emit(w, &crc, head, hlen);
    for (size_t i = 0; !rc && i < w->n_recs; i++) {
      uint8_t kl[10];
      rc = emit(w, &crc, kl, put_uvarint(kl, refs[i].key_len));
      if (!rc) rc = emit(w, &crc, refs[i].key, refs[i].key_len);
      if (!rc) rc = emit(w, &crc, refs[i].entry, refs[i].entry_len);
    }
  }
  if (rc) goto fail;
  uint64_t index_len = wpos(w) - index_off;
  uint8_t tr[TS_SEG_TRAILER_LEN];
  loom_put_le64(tr, index_off);
  loom_put_le64(tr + 8, index_len);
  loom_put_le32(tr + 16, crc);
  loom_put_le32(tr + 20, crc_update(0, tr, 20));
  memcpy(tr + 24, zipped ? TRAILER_MAGIC_Z : TRAILER_MAGIC, 8);
  if ((rc = loom_buf_append(&w->wbuf, tr, sizeof tr))) goto fail;
  if ((rc = wflush(w))) goto fail;
  if (fsync(w->fd) != 0) {
    rc = LOOM_EIO;
    goto fail;
  }
  int fd = w->fd;
  w->fd = -1;
  if (close(fd) != 0) {
    rc = LOOM_EIO;
    goto fail;
  }
  if (rename(w->tmp_path, w->path) != 0) {
    rc = LOOM_EIO;
    goto fail;
  }
  if ((rc = fsync_dir(w->path))) {
    /* The rename may not be durable: take it back so that an error means
     * no segment, as documented. */
    unlink(w->path);
    goto fail;
  }
  segw_free(w);
  return 0;
fail:
  ts_segw_abort(w);
  return rc;
}

/* =============================================================== reader */

/* The index stays encoded in memory: per column only the offset of its entry
 * is kept, and a column is decoded into a ts_seg_column + blocks the first
 * time ts_segment_column asks for it (then cached until close). Decoded, a
 * column with one block takes ~200 bytes; encoded ~40. The engine drops the
 * names once it has registered a segment (ts_segment_drop_names), leaving
 * only the bodies (type, block entries). */
typedef _Atomic(ts_seg_column *) colslot;

struct ts_segment {
  char *path;
  const uint8_t *map;
  size_t size;
  int mapped; /* map came from mmap (else caller-owned memory) */
  uint32_t n_columns;
  uint64_t n_blocks;
  uint8_t *index;       /* the inflated index when it is stored compressed, else NULL */
  const uint8_t *body;  /* bytes holding the column bodies: the index, or bodies after drop */
  size_t body_len;
  uint8_t *bodies;      /* owned copy of the bodies alone, after ts_segment_drop_names */
  uint32_t *body_off;   /* n_columns: offset in body of each column's type byte */
  uint32_t *name_off;   /* n_columns: offset in the index of each entry (NULL after drop) */
  const uint8_t *names; /* the index bytes the name offsets point into (NULL after drop) */
  bool dropped;         /* ts_segment_drop_names was called */
  uint64_t index_off;   /* file offset of the index: bound for block offsets */
  /* n_columns decoded columns, NULL until asked; the array itself is made
   * at the first ts_segment_column (a segment only flushed and compacted
   * never needs it) */
  colslot *_Atomic cache;
};

static void set_err(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  int n = snprintf(err, errlen, "segment %s: ", path);
  if (n < 0 || (size_t)n >= errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

/* Read the names of one column entry at r. */
static int parse_names(loom_rd *r, const uint8_t **kp, uint64_t *klen, const uint8_t **fp,
                       uint64_t *flen, const char **why) {
  if (loom_rd_uvarint(r, klen) || *klen < 1 || *klen > TS_SEG_MAX_NAME ||
      loom_rd_ptr(r, kp, (size_t)*klen))
    return (*why = "bad series key in index", LOOM_ECORRUPT);
  if (loom_rd_uvarint(r, flen) || *flen < 1 || *flen > TS_SEG_MAX_NAME ||
      loom_rd_ptr(r, fp, (size_t)*flen))
    return (*why = "bad field name in index", LOOM_ECORRUPT);
  return 0;
}

/* Decode a column body (u8 type, uvarint n_blocks, block entries) at r into
 * c (names untouched); block entries first .. first+cap-1 go to blk[0..cap)
 * (blk may be NULL with cap 0). `room` bounds n_blocks. Validates
 * everything; *why names the first problem. Allocates nothing. */
static int parse_body(loom_rd *r, ts_seg_column *c, ts_seg_block *blk, uint64_t first,
                      uint64_t cap, uint64_t room, uint64_t index_off, const char **why) {
  uint8_t type;
  uint64_t nb;
  if (loom_rd_u8(r, &type) || !type_valid(type))
    return (*why = "bad column type in index", LOOM_ECORRUPT);
  if (loom_rd_uvarint(r, &nb) || nb < 1 || nb > room || nb > UINT32_MAX)
    return (*why = "bad block count in index", LOOM_ECORRUPT);
  c->type = (ts_type)type;
  c->n_blocks = (uint32_t)nb;
  c->n_points = 0;
  uint64_t next_off = 0;
  int64_t prev_max = 0;
  for (uint64_t i = 0; i < nb; i++) {
    ts_seg_block bb;
    uint64_t off, len, count, dmin = 0, dmax;
    int64_t min_ts = 0;
    memset(&bb, 0, sizeof bb);
    if (loom_rd_uvarint(r, &off) || loom_rd_uvarint(r, &len) || loom_rd_uvarint(r, &count))
      return (*why = "bad block entry in index", LOOM_ECORRUPT);
    if (i > 0) {
      if (off > UINT64_MAX - next_off) return (*why = "block offset out of range", LOOM_ECORRUPT);
      off += next_off;
    }
    if (off < TS_SEG_HEADER_LEN || len < 1 || len > UINT32_MAX || len > index_off ||
        off > index_off - len)
      return (*why = "block offset or length outside the file", LOOM_ECORRUPT);
    if (count < 1 || count > TS_BLOCK_MAX_POINTS)
      return (*why = "bad block point count in index", LOOM_ECORRUPT);
    if (i == 0) {
      if (loom_rd_svarint(r, &min_ts)) return (*why = "bad block time in index", LOOM_ECORRUPT);
    } else {
      if (loom_rd_uvarint(r, &dmin) || dmin < 1 ||
          dmin > (uint64_t)INT64_MAX - (uint64_t)prev_max)
        return (*why = "block times not increasing in index", LOOM_ECORRUPT);
      min_ts = (int64_t)((uint64_t)prev_max + dmin);
    }
    if (loom_rd_uvarint(r, &dmax) || dmax > (uint64_t)INT64_MAX - (uint64_t)min_ts ||
        (dmax == 0) != (count == 1) || dmax < count - 1)
      return (*why = "bad block time range in index", LOOM_ECORRUPT);
    bb.offset = off;
    bb.len = (uint32_t)len;
    bb.stats.count = (uint32_t)count;
    bb.stats.min_ts = min_ts;
    bb.stats.max_ts = (int64_t)((uint64_t)min_ts + dmax);
    if (stats_read(r, c->type, &bb.stats))
      return (*why = "bad block stats in index", LOOM_ECORRUPT);
    if (i == 0) c->min_ts = bb.stats.min_ts;
    c->max_ts = bb.stats.max_ts;
    if (blk && i >= first && i - first < cap) blk[i - first] = bb;
    next_off = off + len;
    prev_max = bb.stats.max_ts;
    c->n_points += count;
  }
  return 0;
}

/* Re-read column i's body (validated at open) into c; blocks as parse_body. */
static int column_parse(const ts_segment *s, uint32_t i, ts_seg_column *c, ts_seg_block *blk,
                        uint64_t first, uint64_t cap) {
  memset(c, 0, sizeof *c);
  loom_rd r;
  loom_rd_init(&r, s->body + s->body_off[i], s->body_len - s->body_off[i]);
  const char *why = NULL;
  int rc = parse_body(&r, c, blk, first, cap, UINT32_MAX, s->index_off, &why);
  if (rc) return rc;
  if (s->name_off) {
    loom_rd_init(&r, s->names + s->name_off[i], s->body_len - s->name_off[i]);
    const uint8_t *kp, *fp;
    uint64_t kl, fl;
    if ((rc = parse_names(&r, &kp, &kl, &fp, &fl, &why))) return rc;
    c->series_key = (const char *)kp;
    c->key_len = (uint32_t)kl;
    c->field = (const char *)fp;
    c->field_len = (uint32_t)fl;
  }
  return 0;
}

static int load_index(ts_segment *s, char *err, size_t errlen) {
  const uint8_t *m = s->map;
  size_t size = s->size;
  const char *path = s->path;
  if (size < TS_SEG_HEADER_LEN + TS_SEG_TRAILER_LEN) {
    set_err(err, errlen, path, "file too small (%zu bytes): truncated", size);
    return LOOM_ECORRUPT;
  }
  if (memcmp(m, HEADER_MAGIC, 8) != 0) {
    set_err(err, errlen, path, "bad header magic: not a segment file");
    return LOOM_ECORRUPT;
  }
  uint32_t version = loom_le32(m + 8), flags = loom_le32(m + 12);
  if (version != TS_SEG_VERSION) {
    set_err(err, errlen, path, "unsupported version %" PRIu32, version);
    return LOOM_EUNSUP;
  }
  if (flags != 0) {
    set_err(err, errlen, path, "unsupported flags 0x%" PRIx32, flags);
    return LOOM_EUNSUP;
  }
  const uint8_t *tr = m + size - TS_SEG_TRAILER_LEN;
  bool zipped = memcmp(tr + 24, TRAILER_MAGIC_Z, 8) == 0;
  if (!zipped && memcmp(tr + 24, TRAILER_MAGIC, 8) != 0) {
    set_err(err, errlen, path, "bad footer magic: truncated or incomplete file");
    return LOOM_ECORRUPT;
  }
  if (loom_le32(tr + 20) != crc_update(0, tr, 20)) {
    set_err(err, errlen, path, "footer trailer checksum mismatch");
    return LOOM_ECORRUPT;
  }
  uint64_t index_off = loom_le64(tr), index_len = loom_le64(tr + 8);
  uint64_t avail = size - TS_SEG_TRAILER_LEN - TS_SEG_HEADER_LEN;
  if (index_len > avail || index_off != size - TS_SEG_TRAILER_LEN - index_len) {
    set_err(err, errlen, path, "footer index offset/length outside the file");
    return LOOM_ECORRUPT;
  }
  const uint8_t *ix = m + index_off;
  if (loom_le32(tr + 16) != crc_update(0, ix, (size_t)index_len)) {
    set_err(err, errlen, path, "footer index checksum mismatch");
    return LOOM_ECORRUPT;
  }
  if (zipped) { /* inflate into memory the segment owns: column names point into it */
    unsigned long long raw_len = ZSTD_getFrameContentSize(ix, (size_t)index_len);
    if (raw_len == ZSTD_CONTENTSIZE_ERROR || raw_len == ZSTD_CONTENTSIZE_UNKNOWN ||
        raw_len > MAX_INDEX_BYTES || raw_len > (unsigned long long)index_len * 32768ull) {
      set_err(err, errlen, path, "footer index: bad compressed frame");
      return LOOM_ECORRUPT;
    }
    if (!(s->index = loom_malloc(raw_len ? (size_t)raw_len : 1))) {
      set_err(err, errlen, path, "out of memory loading index");
      return LOOM_ENOMEM;
    }
    size_t got = ZSTD_decompress(s->index, (size_t)raw_len, ix, (size_t)index_len);
    if (ZSTD_isError(got) || got != raw_len) {
      set_err(err, errlen, path, "footer index: compressed frame does not decode");
      return LOOM_ECORRUPT;
    }
    ix = s->index;
    index_len = raw_len;
  }
  if (index_len > MAX_INDEX_BYTES) { /* offsets are kept as u32 */
    set_err(err, errlen, path, "footer index too large");
    return LOOM_ECORRUPT;
  }
  loom_rd r;
  loom_rd_init(&r, ix, (size_t)index_len);
  uint64_t ncol, nblk;
  /* Each column entry takes >= 6 bytes and each block entry >= 5. */
  if (loom_rd_uvarint(&r, &ncol) || loom_rd_uvarint(&r, &nblk) || ncol > UINT32_MAX ||
      ncol > index_len / 6 || nblk > index_len / 5 || nblk < ncol) {
    set_err(err, errlen, path, "bad column or block count in index");
    return LOOM_ECORRUPT;
  }
  if (ncol) {
    s->body_off = loom_malloc((size_t)ncol * sizeof *s->body_off);
    s->name_off = loom_malloc((size_t)ncol * sizeof *s->name_off);
    if (!s->body_off || !s->name_off) {
      set_err(err, errlen, path, "out of memory loading index");
      return LOOM_ENOMEM;
    }
  }
  s->index_off = index_off;
  uint64_t used = 0;
  const uint8_t *pk = NULL, *pf = NULL;
  uint64_t pkl = 0, pfl = 0;
  for (uint64_t i = 0; i < ncol; i++) {
    const char *why = NULL;
    const uint8_t *kp, *fp;
    uint64_t kl, fl;
    ts_seg_column c;
    memset(&c, 0, sizeof c);
    s->name_off[i] = (uint32_t)(r.p - ix);
    int rc = parse_names(&r, &kp, &kl, &fp, &fl, &why);
    if (!rc) {
      s->body_off[i] = (uint32_t)(r.p - ix);
      rc = parse_body(&r, &c, NULL, 0, 0, nblk - used, index_off, &why);
    }
    if (rc) {
      set_err(err, errlen, path, "column %" PRIu64 ": %s", i, why);
      return LOOM_ECORRUPT;
    }
    used += c.n_blocks;
    if (i > 0 && col_cmp(pk, pkl, pf, pfl, kp, kl, fp, fl) >= 0) {
      set_err(err, errlen, path, "column %" PRIu64 ": index not sorted or duplicate", i);
      return LOOM_ECORRUPT;
    }
    pk = kp, pkl = kl, pf = fp, pfl = fl;
  }
  if (used != nblk || r.len != 0) {
    set_err(err, errlen, path, "index block count or length mismatch");
    return LOOM_ECORRUPT;
  }
  s->body = ix;
  s->body_len = (size_t)index_len;
  s->names = ix;
  s->n_columns = (uint32_t)ncol;
  s->n_blocks = nblk;
  return 0;
}

int ts_segment_drop_names(ts_segment *s) {
  if (s->dropped) return 0;
  if (!s->n_columns) {
    loom_free(s->index);
    s->index = NULL;
    s->dropped = true;
    return 0;
  }
  /* A body runs from its type byte to the next entry's names (the last one
   * to the end of the index). */
  uint64_t total = 0;
  for (uint32_t i = 0; i < s->n_columns; i++) {
    uint32_t end = i + 1 < s->n_columns ? s->name_off[i + 1] : (uint32_t)s->body_len;
    total += end - s->body_off[i];
  }
  uint8_t *b = loom_malloc(total ? (size_t)total : 1);
  if (!b) return LOOM_ENOMEM;
  uint32_t at = 0;
  for (uint32_t i = 0; i < s->n_columns; i++) {
    uint32_t end = i + 1 < s->n_columns ? s->name_off[i + 1] : (uint32_t)s->body_len;
    memcpy(b + at, s->body + s->body_off[i], end - s->body_off[i]);
    uint32_t len = end - s->body_off[i];
    s->body_off[i] = at;
    at += len;
  }
  for (uint32_t i = 0; i < s->n_columns; i++) { /* decoded columns lose their names too */
    colslot *slots = atomic_load(&s->cache);
    ts_seg_column *c = slots ? atomic_load(&slots[i]) : NULL;
    if (c) {
      c->series_key = c->field = NULL;
      c->key_len = c->field_len = 0;
    }
  }
  s->bodies = b;
  s->body = b;
  s->body_len = total;
  loom_free(s->name_off);
  s->name_off = NULL;
  s->names = NULL;
  loom_free(s->index);
  s->index = NULL;
  s->dropped = true;
  return 0;
}

void ts_segment_close(ts_segment *s) {
  if (!s) return;
  if (s->mapped && s->map) munmap((void *)s->map, s->size);
  colslot *slots = atomic_load(&s->cache);
  for (uint32_t i = 0; slots && i < s->n_columns; i++) loom_free(atomic_load(&slots[i]));
  loom_free(slots);
  loom_free(s->body_off);
  loom_free(s->name_off);
  loom_free(s->bodies);
  loom_free(s->index);
  loom_free(s->path);
  loom_free(s);
}

static ts_segment *segment_new(const char *path) {
  ts_segment *s = loom_calloc(1, sizeof *s);
  if (!s) return NULL;
  s->path = loom_strdup(path ? path : "(memory)");
  if (!s->path) {
    loom_free(s);
    return NULL;
  }
  return s;
}

int ts_segment_open_mem(const uint8_t *img, size_t len, const char *name, ts_segment **out,
                        char *err, size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = 0;
  ts_segment *s = segment_new(name);
  if (!s) {
    set_err(err, errlen, name ? name : "(memory)", "out of memory");
    return LOOM_ENOMEM;
  }
  s->map = img;
  s->size = img ? len : 0;
  int rc = load_index(s, err, errlen);
  if (rc) {
    ts_segment_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

int ts_segment_open(const char *path, ts_segment **out, char *err, size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = 0;
  if (!path || !*path) {
    set_err(err, errlen, "(none)", "empty path");
    return LOOM_EINVAL;
  }
  int rc = 0;
  ts_segment *s = segment_new(path);
  if (!s) {
    set_err(err, errlen, path, "out of memory");
    return LOOM_ENOMEM;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    rc = e == ENOENT ? LOOM_ENOTFOUND : LOOM_EIO;
    set_err(err, errlen, path, "open: %s", strerror(e));
    goto fail;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    set_err(err, errlen, path, "fstat: %s", strerror(errno));
    rc = LOOM_EIO;
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    set_err(err, errlen, path, "not a regular file");
    rc = LOOM_EIO;
    goto fail;
  }
  if ((uint64_t)st.st_size < TS_SEG_HEADER_LEN + TS_SEG_TRAILER_LEN) {
    set_err(err, errlen, path, "file too small (%jd bytes): truncated", (intmax_t)st.st_size);
    rc = LOOM_ECORRUPT;
    goto fail;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    set_err(err, errlen, path, "mmap: %s", strerror(errno));
    rc = errno == ENOMEM ? LOOM_ENOMEM : LOOM_EIO;
    goto fail;
  }
  s->map = m;
  s->size = (size_t)st.st_size;
  s->mapped = 1;
  close(fd);
  fd = -1;
  if ((rc = load_index(s, err, errlen))) goto fail;
  /* Validating touched every index page; reads need only blocks from now on. */
  ts_segment_release_pages(s);
  *out = s;
  return 0;
fail:
  if (fd >= 0) close(fd);
  ts_segment_close(s);
  return rc;
}

uint32_t ts_segment_ncolumns(const ts_segment *s) { return s->n_columns; }

uint64_t ts_segment_nblocks(const ts_segment *s) { return s->n_blocks; }

const ts_seg_column *ts_segment_column(const ts_segment *s, uint32_t i) {
  if (i >= s->n_columns) return NULL;
  colslot *slots = atomic_load(&s->cache);
  if (!slots) {
    colslot *mine = loom_malloc_nofail((size_t)s->n_columns * sizeof *mine);
    if (!mine) return NULL;
    for (uint32_t k = 0; k < s->n_columns; k++) atomic_init(&mine[k], NULL);
    colslot *none = NULL;
    if (atomic_compare_exchange_strong(&((ts_segment *)s)->cache, &none, mine)) {
      slots = mine;
    } else {
      loom_free(mine); /* another thread made it first */
      slots = none;
    }
  }
  ts_seg_column *c = atomic_load(&slots[i]);
  if (c) return c;
  ts_seg_column tmp;
  if (column_parse(s, i, &tmp, NULL, 0, 0)) return NULL; /* validated at open: cannot happen */
  /* Exempt from the test-only failure switch: callers hold the pointer
   * without a NULL check, and the memory is small and cached. */
  c = loom_malloc_nofail(sizeof *c + (size_t)tmp.n_blocks * sizeof(ts_seg_block));
  if (!c) return NULL;
  ts_seg_block *blk = (ts_seg_block *)(c + 1);
  if (column_parse(s, i, c, blk, 0, tmp.n_blocks)) {
    loom_free(c);
    return NULL;
  }
  c->blocks = blk;
  ts_seg_column *expected = NULL;
  if (!atomic_compare_exchange_strong(&slots[i], &expected, c)) {
    loom_free(c); /* another thread decoded it first */
    c = expected;
  }
  return c;
}

int ts_segment_column_read(const ts_segment *s, uint32_t i, ts_seg_column *col, ts_seg_block *blocks,
                           uint32_t cap) {
  if (i >= s->n_columns) return LOOM_EINVAL;
  colslot *slots = atomic_load(&s->cache);
  ts_seg_column *c = slots ? atomic_load(&slots[i]) : NULL;
  if (c) {
    *col = *c;
    if (cap < c->n_blocks) return LOOM_ERANGE;
    memcpy(blocks, c->blocks, c->n_blocks * sizeof *blocks);
  } else {
    int rc = column_parse(s, i, col, blocks, 0, cap);
    if (rc) return rc;
    if (cap < col->n_blocks) return LOOM_ERANGE;
  }
  col->blocks = blocks;
  return 0;
}

/* Names of column i (names kept). */
static void column_names(const ts_segment *s, uint32_t i, const uint8_t **kp, uint64_t *kl,
                         const uint8_t **fp, uint64_t *fl) {
  loom_rd r;
  loom_rd_init(&r, s->names + s->name_off[i], s->body_len - s->name_off[i]);
  const char *why;
  if (parse_names(&r, kp, kl, fp, fl, &why)) { /* validated at open: cannot happen */
    *kp = *fp = (const uint8_t *)"";
    *kl = *fl = 0;
  }
}

int ts_segment_column_name(const ts_segment *s, uint32_t i, const char **key, uint32_t *key_len,
                           const char **field, uint32_t *field_len, ts_type *type) {
  if (i >= s->n_columns) return LOOM_EINVAL;
  if (s->dropped) return LOOM_EUNSUP;
  const uint8_t *kp, *fp;
  uint64_t kl, fl;
  column_names(s, i, &kp, &kl, &fp, &fl);
  *key = (const char *)kp;
  *key_len = (uint32_t)kl;
  *field = (const char *)fp;
  *field_len = (uint32_t)fl;
  *type = (ts_type)s->body[s->body_off[i]];
  return 0;
}

int ts_segment_find(const ts_segment *s, const char *key, uint32_t key_len, const char *field,
                    uint32_t field_len, uint32_t *index) {
  if (s->dropped) return LOOM_EUNSUP;
  uint32_t lo = 0, hi = s->n_columns;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const uint8_t *kp, *fp;
    uint64_t kl, fl;
    column_names(s, mid, &kp, &kl, &fp, &fl);
    int cmp = col_cmp(kp, kl, fp, fl, key, key_len, field, field_len);
    if (cmp == 0) {
      *index = mid;
      return 0;
    }
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return LOOM_ENOTFOUND;
}

const uint8_t *ts_segment_block_data(const ts_segment *s, const ts_seg_block *b) {
  return s->map + b->offset;
}

static void block_err(const ts_segment *s, uint32_t col, uint32_t block, const ts_seg_block *b,
                      const char *what, char *err, size_t errlen) {
  if (s->dropped) {
    set_err(err, errlen, s->path, "block %" PRIu32 " of column #%" PRIu32 " at offset %" PRIu64
            ": %s", block, col, b->offset, what);
    return;
  }
  const uint8_t *kp, *fp;
  uint64_t kl64, fl64;
  column_names(s, col, &kp, &kl64, &fp, &fl64);
  int kl = kl64 > 200 ? 200 : (int)kl64;
  int fl = fl64 > 200 ? 200 : (int)fl64;
  set_err(err, errlen, s->path, "block %" PRIu32 " of column %.*s%s %.*s%s at offset %" PRIu64
          ": %s", block, kl, (const char *)kp, kl < (int)kl64 ? "..." : "", fl, (const char *)fp,
          fl < (int)fl64 ? "..." : "", b->offset, what);
}

int ts_segment_read_block_entry(const ts_segment *s, uint32_t col, uint32_t block,
                                const ts_seg_block *b, int64_t *ts, void *vals, uint32_t cap,
                                loom_buf *strbuf, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (col >= s->n_columns) {
    set_err(err, errlen, s->path, "no block %" PRIu32 " in column %" PRIu32, block, col);
    return LOOM_EINVAL;
  }
  if (cap < b->stats.count) return LOOM_ERANGE;
  ts_type type = (ts_type)s->body[s->body_off[col]];
  const uint8_t *p = s->map + b->offset;
  ts_block_info info;
  memset(&info, 0, sizeof info);
  if (ts_block_peek(p, b->len, &info) != 0) {
    block_err(s, col, block, b, "bad block header", err, errlen);
    return LOOM_ECORRUPT;
  }
  /* The caller sized vals for the index's type and count: a header that
   * disagrees must never steer the decoder. */
  if (info.type != type || info.len != b->len || info.stats.count != b->stats.count ||
      info.stats.min_ts != b->stats.min_ts || info.stats.max_ts != b->stats.max_ts) {
    block_err(s, col, block, b, "block header disagrees with the index", err, errlen);
    return LOOM_ECORRUPT;
  }
  int rc = ts_block_decode(p, b->len, ts, vals, cap, strbuf);
  if (rc == LOOM_ECORRUPT || rc == LOOM_ETRUNC) {
    block_err(s, col, block, b, "checksum mismatch", err, errlen);
    return LOOM_ECORRUPT;
  }
  if (rc) {
    set_err(err, errlen, s->path, "decoding block %" PRIu32 ": %s", block, loom_strerror(rc));
    return rc;
  }
  return 0;
}

int ts_segment_read_block(const ts_segment *s, uint32_t col, uint32_t block, int64_t *ts,
                          void *vals, uint32_t cap, loom_buf *strbuf, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  ts_seg_block b;
  colslot *slots = atomic_load(&s->cache);
  const ts_seg_column *cached = slots && col < s->n_columns ? atomic_load(&slots[col]) : NULL;
  if (cached && block < cached->n_blocks) {
    b = cached->blocks[block];
  } else {
    ts_seg_column c;
    memset(&b, 0, sizeof b);
    if (col >= s->n_columns || column_parse(s, col, &c, &b, block, 1) || block >= c.n_blocks) {
      set_err(err, errlen, s->path, "no block %" PRIu32 " in column %" PRIu32, block, col);
      return LOOM_EINVAL;
    }
  }
  return ts_segment_read_block_entry(s, col, block, &b, ts, vals, cap, strbuf, err, errlen);
}

void ts_segment_release_pages(const ts_segment *s) {
  if (s->mapped && s->map) madvise((void *)s->map, s->size, MADV_DONTNEED);
}

const char *ts_segment_path(const ts_segment *s) { return s->path; }

uint64_t ts_segment_file_bytes(const ts_segment *s) { return s->size; }
