/* SPDX-License-Identifier: Apache-2.0
 * Unit tests of segment files (ts/segment.h): round trips of every type,
 * block splitting, raw block copy, atomic finish (abort, failed rename,
 * duplicate columns), corrupt / truncated / hand-crafted files, big keys,
 * allocation failures. Files live in a fresh directory under /tmp.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "ts/block.h"
#include "ts/segment.h"

/* ----------------------------------------------------------- fixtures */

typedef struct fx {
  char dir[64];
  char path[128];
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  strcpy(f->dir, "/tmp/loom-seg-test-XXXXXX");
  if (!mkdtemp(f->dir)) {
    free(f);
    return -1;
  }
  snprintf(f->path, sizeof f->path, "%s/p0.tsm", f->dir);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  int rc = system(cmd);
  free(f);
  return rc == 0 ? 0 : -1;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static char *tmp_of(const char *path, char *out, size_t n) {
  snprintf(out, n, "%s.tmp", path);
  return out;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  *len = (size_t)n;
  return p;
}

static void spit(const char *path, const uint8_t *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(p, 1, n, fp), n);
  fclose(fp);
}

static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* A column of test data, any type. Strings point into sbuf. */
typedef struct tcol {
  char key[64], field[32];
  ts_type type;
  uint32_t n;
  int64_t *ts;
  void *vals;
  char *sbuf;
} tcol;

static void tcol_make(tcol *c, ts_type type, uint32_t n, uint64_t seed, const char *key,
                      const char *field) {
  memset(c, 0, sizeof *c);
  snprintf(c->key, sizeof c->key, "%s", key);
  snprintf(c->field, sizeof c->field, "%s", field);
  c->type = type;
  c->n = n;
  c->ts = malloc(n * sizeof *c->ts);
  c->vals = malloc(n * ts_type_size(type));
  c->sbuf = malloc((size_t)n * 16 + 1);
  assert_true(c->ts && c->vals && c->sbuf);
  uint64_t s = seed * 2654435761u + 1;
  int64_t t = 1700000000000000000LL + (int64_t)(seed % 1000) * 1000;
  for (uint32_t i = 0; i < n; i++) {
    t += 1000000000LL + (int64_t)(rng_next(&s) % 1000);
    c->ts[i] = t;
    uint64_t r = rng_next(&s);
    switch (type) {
    case TS_FLOAT: ((double *)c->vals)[i] = (double)(int64_t)(r % 100000) / 10.0 - 2000.0; break;
    case TS_INT: ((int64_t *)c->vals)[i] = (int64_t)(r % 2000001) - 1000000; break;
    case TS_UINT: ((uint64_t *)c->vals)[i] = r; break;
    case TS_BOOL: ((uint8_t *)c->vals)[i] = (uint8_t)(r & 1); break;
    case TS_STRING: {
      char *p = c->sbuf + (size_t)i * 16;
      int len = snprintf(p, 16, "s%u", (unsigned)(r % 50));
      ((ts_str *)c->vals)[i] = (ts_str){p, (uint32_t)len};
      break;
    }
    }
  }
}

static void tcol_free(tcol *c) {
  free(c->ts);
  free(c->vals);
  free(c->sbuf);
}

static int tcol_add(ts_segw *w, const tcol *c) {
  return ts_segw_add(w, c->key, (uint32_t)strlen(c->key), c->field, (uint32_t)strlen(c->field),
                     c->type, c->ts, c->vals, c->n);
}

/* Read every block of column `ci` of s and check it equals c exactly. */
static void check_column(const ts_segment *s, uint32_t ci, const tcol *c) {
  const ts_seg_column *col = ts_segment_column(s, ci);
  assert_non_null(col);
  assert_int_equal(col->type, c->type);
  assert_int_equal(col->key_len, strlen(c->key));
  assert_memory_equal(col->series_key, c->key, col->key_len);
  assert_int_equal(col->n_points, c->n);
  assert_true(col->min_ts == c->ts[0]);
  assert_true(col->max_ts == c->ts[c->n - 1]);
  size_t esz = ts_type_size(c->type);
  int64_t *ts = malloc(TS_BLOCK_MAX_POINTS * sizeof *ts);
  void *vals = malloc(TS_BLOCK_MAX_POINTS * esz);
  assert_true(ts && vals);
  loom_buf sb;
  loom_buf_init(&sb);
  uint32_t at = 0;
  for (uint32_t b = 0; b < col->n_blocks; b++) {
    char err[256];
    assert_int_equal(
        ts_segment_read_block(s, ci, b, ts, vals, TS_BLOCK_MAX_POINTS, &sb, err, sizeof err), 0);
    int got = (int)col->blocks[b].stats.count;
    assert_true(got >= 1);
    assert_true(at + (uint32_t)got <= c->n);
    assert_memory_equal(ts, c->ts + at, (size_t)got * sizeof *ts);
    if (c->type == TS_STRING) {
      for (int i = 0; i < got; i++) {
        const ts_str *a = &((ts_str *)vals)[i], *e = &((ts_str *)c->vals)[at + (uint32_t)i];
        assert_int_equal(a->len, e->len);
        assert_memory_equal(a->p, e->p, a->len);
      }
    } else {
      assert_memory_equal(vals, (const uint8_t *)c->vals + at * esz, (size_t)got * esz);
    }
    /* The index's stats are exactly the block header's. */
    ts_block_info info;
    const ts_seg_block *blk = &col->blocks[b];
    assert_int_equal(ts_block_peek(ts_segment_block_data(s, blk), blk->len, &info), 0);
    assert_int_equal(info.len, blk->len);
    assert_int_equal(info.stats.count, blk->stats.count);
    assert_true(info.stats.min_ts == blk->stats.min_ts && info.stats.max_ts == blk->stats.max_ts);
    switch (c->type) {
    case TS_FLOAT:
      assert_memory_equal(&info.stats.min.f, &blk->stats.min.f, 8);
      assert_memory_equal(&info.stats.max.f, &blk->stats.max.f, 8);
      assert_memory_equal(&info.stats.first.f, &blk->stats.first.f, 8);
      assert_memory_equal(&info.stats.last.f, &blk->stats.last.f, 8);
      assert_memory_equal(&info.stats.sum_f, &blk->stats.sum_f, 8);
      break;
    case TS_INT:
    case TS_BOOL:
      assert_true(info.stats.min.i == blk->stats.min.i || c->type == TS_BOOL);
      assert_int_equal(info.stats.min.b, blk->stats.min.b);
      assert_int_equal(info.stats.max.b, blk->stats.max.b);
      if (c->type == TS_INT) {
        assert_true(info.stats.max.i == blk->stats.max.i);
        assert_true(info.stats.first.i == blk->stats.first.i);
        assert_true(info.stats.last.i == blk->stats.last.i);
      } else {
        assert_int_equal(info.stats.first.b, blk->stats.first.b);
        assert_int_equal(info.stats.last.b, blk->stats.last.b);
      }
      assert_true(info.stats.sum_i == blk->stats.sum_i);
      break;
    case TS_UINT:
      assert_true(info.stats.min.u == blk->stats.min.u && info.stats.max.u == blk->stats.max.u);
      assert_true(info.stats.first.u == blk->stats.first.u);
      assert_true(info.stats.last.u == blk->stats.last.u);
      assert_true(info.stats.sum_u == blk->stats.sum_u);
      break;
    case TS_STRING: break;
    }
    at += (uint32_t)got;
  }
  assert_int_equal(at, c->n);
  loom_buf_deinit(&sb);
  free(ts);
  free(vals);
}

static ts_segment *open_ok(const char *path) {
  ts_segment *s = NULL;
  char err[256] = "";
  int rc = ts_segment_open(path, &s, err, sizeof err);
  if (rc) fprintf(stderr, "open: %s (%s)\n", err, loom_strerror(rc));
  assert_int_equal(rc, 0);
  assert_non_null(s);
  return s;
}

/* Writes one small float column "m,k=v" / "f" with n points. */
static void write_simple(const char *path, uint32_t n) {
  tcol c;
  tcol_make(&c, TS_FLOAT, n, 7, "m,k=v", "f");
  ts_segw *w;
  assert_int_equal(ts_segw_open(path, &w), 0);
  assert_int_equal(tcol_add(w, &c), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  tcol_free(&c);
}

/* ----------------------------------------------------------- round trips */

#define RT_COLS 60

static void test_roundtrip_all_types(void **state) {
  fx *f = *state;
  tcol cols[RT_COLS];
  for (int i = 0; i < RT_COLS; i++) {
    char key[64], field[32];
    snprintf(key, sizeof key, "cpu,host=h%02d,region=eu", (i * 37) % RT_COLS);
    snprintf(field, sizeof field, "f%d", i % 5);
    tcol_make(&cols[i], (ts_type)(1 + i % 5), 1 + (uint32_t)(i * 97) % 3000, (uint64_t)i + 1, key,
              field);
  }
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  for (int i = 0; i < RT_COLS; i++) assert_int_equal(tcol_add(w, &cols[i]), 0);
  assert_int_equal(ts_segw_finish(w), 0);

  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_ncolumns(s), RT_COLS);
  assert_string_equal(ts_segment_path(s), f->path);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(ts_segment_file_bytes(s), (uint64_t)st.st_size);
  for (int i = 0; i < RT_COLS; i++) {
    uint32_t idx = UINT32_MAX;
    assert_int_equal(ts_segment_find(s, cols[i].key, (uint32_t)strlen(cols[i].key), cols[i].field,
                                     (uint32_t)strlen(cols[i].field), &idx),
                     0);
    check_column(s, idx, &cols[i]);
  }
  ts_segment_close(s);
  for (int i = 0; i < RT_COLS; i++) tcol_free(&cols[i]);
}

#define DN_COLS 12

static void write_cols(const char *path, tcol *cols, int n) {
  for (int i = 0; i < n; i++) {
    char key[64], field[32];
    snprintf(key, sizeof key, "cpu,host=h%02d", i);
    snprintf(field, sizeof field, "f%d", i % 3);
    tcol_make(&cols[i], (ts_type)(1 + i % 5), 1 + (uint32_t)(i * 611) % 3000, (uint64_t)i + 3, key,
              field);
  }
  ts_segw *w;
  assert_int_equal(ts_segw_open(path, &w), 0);
  ts_segw_set_block_points(w, 256);
  for (int i = 0; i < n; i++) assert_int_equal(tcol_add(w, &cols[i]), 0);
  assert_int_equal(ts_segw_finish(w), 0);
}

static void same_entries(const ts_seg_column *a, const ts_seg_column *b) {
  assert_int_equal(a->type, b->type);
  assert_int_equal(a->n_blocks, b->n_blocks);
  assert_true(a->n_points == b->n_points && a->min_ts == b->min_ts && a->max_ts == b->max_ts);
  for (uint32_t k = 0; k < a->n_blocks; k++) {
    assert_true(a->blocks[k].offset == b->blocks[k].offset);
    assert_int_equal(a->blocks[k].len, b->blocks[k].len);
    assert_memory_equal(&a->blocks[k].stats, &b->blocks[k].stats, sizeof a->blocks[k].stats);
  }
}

static void test_drop_names_keeps_reads(void **state) {
  fx *f = *state;
  tcol cols[DN_COLS];
  write_cols(f->path, cols, DN_COLS);
  ts_segment *named = open_ok(f->path), *s = open_ok(f->path);
  const ts_seg_column *early = ts_segment_column(s, 1); /* decoded before the drop */
  assert_non_null(early);
  assert_int_equal(ts_segment_drop_names(s), 0);
  assert_int_equal(ts_segment_drop_names(s), 0); /* twice is harmless */
  assert_null(early->series_key);
  uint32_t idx;
  assert_int_equal(ts_segment_find(s, "cpu,host=h00", 12, "f0", 2, &idx), LOOM_EUNSUP);
  const char *k, *fl;
  uint32_t kl, fll;
  ts_type t;
  assert_int_equal(ts_segment_column_name(s, 0, &k, &kl, &fl, &fll, &t), LOOM_EUNSUP);
  for (uint32_t i = 0; i < DN_COLS; i++) {
    const ts_seg_column *a = ts_segment_column(named, i), *b = ts_segment_column(s, i);
    assert_non_null(b);
    assert_null(b->series_key);
    assert_int_equal(b->key_len, 0);
    same_entries(a, b);
    assert_ptr_equal(ts_segment_column(s, i), b); /* cached */
    /* the data reads back through the nameless segment */
    tcol c = cols[0];
    assert_int_equal(ts_segment_find(named, a->series_key, a->key_len, a->field, a->field_len, &idx), 0);
    for (int j = 0; j < DN_COLS; j++)
      if (!strncmp(cols[j].key, a->series_key, a->key_len) && strlen(cols[j].key) == a->key_len &&
          !strncmp(cols[j].field, a->field, a->field_len))
        c = cols[j];
    snprintf(c.key, sizeof c.key, "%s", ""); /* names are gone: compare data only */
    int64_t *ts = malloc(TS_BLOCK_MAX_POINTS * sizeof *ts);
    void *vals = malloc(TS_BLOCK_MAX_POINTS * 16);
    loom_buf sb;
    loom_buf_init(&sb);
    uint32_t at = 0;
    for (uint32_t blk = 0; blk < b->n_blocks; blk++) {
      assert_int_equal(ts_segment_read_block(s, i, blk, ts, vals, TS_BLOCK_MAX_POINTS, &sb, NULL, 0), 0);
      assert_memory_equal(ts, c.ts + at, b->blocks[blk].stats.count * sizeof *ts);
      at += b->blocks[blk].stats.count;
    }
    assert_int_equal(at, c.n);
    loom_buf_deinit(&sb);
    free(ts);
    free(vals);
  }
  ts_segment_close(s);
  ts_segment_close(named);
  for (int i = 0; i < DN_COLS; i++) tcol_free(&cols[i]);
}

static void test_column_read_into_caller_memory(void **state) {
  fx *f = *state;
  tcol cols[DN_COLS];
  write_cols(f->path, cols, DN_COLS);
  ts_segment *named = open_ok(f->path), *s = open_ok(f->path);
  ts_segment_drop_names(s);
  ts_seg_block blk[16];
  for (uint32_t i = 0; i < DN_COLS; i++) {
    const ts_seg_column *a = ts_segment_column(named, i);
    ts_seg_column c;
    assert_int_equal(ts_segment_column_read(s, i, &c, NULL, 0), LOOM_ERANGE);
    assert_int_equal(c.n_blocks, a->n_blocks); /* tells the room needed */
    assert_true(c.n_blocks <= 16);
    assert_int_equal(ts_segment_column_read(s, i, &c, blk, 16), 0);
    assert_ptr_equal(c.blocks, blk);
    same_entries(a, &c);
    /* the named segment's cached copy gives the same */
    assert_int_equal(ts_segment_column_read(named, i, &c, blk, 16), 0);
    same_entries(a, &c);
    assert_int_equal(c.key_len, a->key_len);
    int64_t ts[256];
    uint8_t vals[256 * 16];
    loom_buf sb;
    loom_buf_init(&sb);
    assert_int_equal(ts_segment_read_block_entry(s, i, 0, &blk[0], ts, vals, 256, &sb, NULL, 0), 0);
    assert_true(ts[0] == a->min_ts);
    loom_buf_deinit(&sb);
  }
  ts_seg_column c;
  assert_int_equal(ts_segment_column_read(s, DN_COLS, &c, blk, 16), LOOM_EINVAL);
  /* names are there before a drop, and the type comes with them */
  const char *k, *fl;
  uint32_t kl, fll;
  ts_type t;
  assert_int_equal(ts_segment_column_name(named, 2, &k, &kl, &fl, &fll, &t), 0);
  assert_int_equal(t, ts_segment_column(named, 2)->type);
  assert_memory_equal(k, ts_segment_column(named, 2)->series_key, kl);
  assert_int_equal(ts_segment_column_name(named, DN_COLS, &k, &kl, &fl, &fll, &t), LOOM_EINVAL);
  ts_segment_close(s);
  ts_segment_close(named);
  for (int i = 0; i < DN_COLS; i++) tcol_free(&cols[i]);
}

static void test_release_pages_keeps_data(void **state) {
  fx *f = *state;
  tcol cols[DN_COLS];
  write_cols(f->path, cols, DN_COLS);
  ts_segment *s = open_ok(f->path);
  ts_segment_drop_names(s);
  int64_t ts[256];
  uint8_t vals[256 * 16];
  int64_t again[256];
  assert_int_equal(ts_segment_read_block(s, 3, 0, ts, vals, 256, NULL, NULL, 0), 0);
  ts_segment_release_pages(s);
  assert_int_equal(ts_segment_read_block(s, 3, 0, again, vals, 256, NULL, NULL, 0), 0);
  uint32_t cnt = ts_segment_column(s, 3)->blocks[0].stats.count;
  assert_memory_equal(ts, again, cnt * sizeof *ts);
  ts_segment_close(s);
  for (int i = 0; i < DN_COLS; i++) tcol_free(&cols[i]);
}

/* Fields of one series written one after another (as a flush does) share
 * the key in the writer; the file still names every column in full. */
static void test_consecutive_fields_of_one_series(void **state) {
  fx *f = *state;
  const char *keys[] = {"m,host=b", "m,host=b", "m,host=b", "m,host=a", "m,host=a", "m,host=b"};
  const char *fields[] = {"x", "y", "z", "x", "y", "w"};
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  for (int i = 0; i < 6; i++) {
    int64_t ts = 100 + i;
    double v = i + 0.5;
    assert_int_equal(ts_segw_add(w, keys[i], (uint32_t)strlen(keys[i]), fields[i],
                                 (uint32_t)strlen(fields[i]), TS_FLOAT, &ts, &v, 1),
                     0);
  }
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_ncolumns(s), 6);
  for (int i = 0; i < 6; i++) {
    uint32_t idx;
    assert_int_equal(ts_segment_find(s, keys[i], (uint32_t)strlen(keys[i]), fields[i],
                                     (uint32_t)strlen(fields[i]), &idx),
                     0);
    const ts_seg_column *c = ts_segment_column(s, idx);
    assert_int_equal(c->key_len, strlen(keys[i]));
    assert_memory_equal(c->series_key, keys[i], c->key_len);
    assert_true(c->min_ts == 100 + i);
    assert_true(c->blocks[0].stats.sum_f == i + 0.5);
  }
  ts_segment_close(s);
}

static void test_columns_sorted_by_key_then_field(void **state) {
  fx *f = *state;
  const char *keys[] = {"b", "a,x=1", "a", "ab", "a"};
  const char *fields[] = {"z", "f", "g", "a", "f"};
  int64_t ts = 5;
  double v = 1.5;
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(ts_segw_add(w, keys[i], (uint32_t)strlen(keys[i]), fields[i],
                                 (uint32_t)strlen(fields[i]), TS_FLOAT, &ts, &v, 1),
                     0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  const char *want[][2] = {{"a", "f"}, {"a", "g"}, {"a,x=1", "f"}, {"ab", "a"}, {"b", "z"}};
  assert_int_equal(ts_segment_ncolumns(s), 5);
  for (uint32_t i = 0; i < 5; i++) {
    const ts_seg_column *c = ts_segment_column(s, i);
    assert_int_equal(c->key_len, strlen(want[i][0]));
    assert_memory_equal(c->series_key, want[i][0], c->key_len);
    assert_int_equal(c->field_len, strlen(want[i][1]));
    assert_memory_equal(c->field, want[i][1], c->field_len);
  }
  assert_null(ts_segment_column(s, 5));
  ts_segment_close(s);
}

static void test_find_missing(void **state) {
  fx *f = *state;
  write_simple(f->path, 10);
  ts_segment *s = open_ok(f->path);
  uint32_t idx = 0;
  assert_int_equal(ts_segment_find(s, "m,k=v", 5, "f", 1, &idx), 0);
  assert_int_equal(idx, 0);
  assert_int_equal(ts_segment_find(s, "m,k=", 4, "f", 1, &idx), LOOM_ENOTFOUND);
  assert_int_equal(ts_segment_find(s, "m,k=v", 5, "g", 1, &idx), LOOM_ENOTFOUND);
  assert_int_equal(ts_segment_find(s, "m,k=vv", 6, "f", 1, &idx), LOOM_ENOTFOUND);
  ts_segment_close(s);
}

static void test_split_into_blocks(void **state) {
  fx *f = *state;
  tcol c;
  tcol_make(&c, TS_INT, 1050, 3, "m", "i");
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_set_block_points(w, 0), LOOM_EINVAL);
  assert_int_equal(ts_segw_set_block_points(w, TS_BLOCK_MAX_POINTS + 1), LOOM_EINVAL);
  assert_int_equal(ts_segw_set_block_points(w, 100), 0);
  assert_int_equal(tcol_add(w, &c), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  const ts_seg_column *col = ts_segment_column(s, 0);
  assert_int_equal(col->n_blocks, 11);
  assert_int_equal(ts_segment_nblocks(s), 11);
  for (uint32_t b = 0; b < 11; b++) {
    assert_int_equal(col->blocks[b].stats.count, b < 10 ? 100 : 50);
    assert_true(col->blocks[b].stats.min_ts == c.ts[b * 100]);
    if (b) assert_int_equal(col->blocks[b].offset, col->blocks[b - 1].offset + col->blocks[b - 1].len);
  }
  assert_int_equal(col->blocks[0].offset, TS_SEG_HEADER_LEN);
  check_column(s, 0, &c);
  ts_segment_close(s);
  tcol_free(&c);
}

static void test_default_block_points(void **state) {
  fx *f = *state;
  write_simple(f->path, 2 * TS_SEG_DEFAULT_BLOCK_POINTS + 1);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_column(s, 0)->n_blocks, 3);
  ts_segment_close(s);
}

static void test_consecutive_adds_extend_column(void **state) {
  fx *f = *state;
  tcol c;
  tcol_make(&c, TS_UINT, 300, 9, "m", "u");
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add(w, "m", 1, "u", 1, TS_UINT, c.ts, c.vals, 100), 0);
  /* overlapping the column's last timestamp: refused, writer still usable */
  assert_int_equal(ts_segw_add(w, "m", 1, "u", 1, TS_UINT, c.ts + 99, (uint64_t *)c.vals + 99, 5),
                   LOOM_EINVAL);
  assert_int_equal(ts_segw_add(w, "m", 1, "u", 1, TS_INT, c.ts + 100, (uint64_t *)c.vals + 100, 5),
                   LOOM_ETYPE);
  assert_int_equal(
      ts_segw_add(w, "m", 1, "u", 1, TS_UINT, c.ts + 100, (uint64_t *)c.vals + 100, 200), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_ncolumns(s), 1);
  assert_int_equal(ts_segment_column(s, 0)->n_blocks, 2);
  check_column(s, 0, &c);
  ts_segment_close(s);
  tcol_free(&c);
}

static void test_add_rejects_bad_arguments(void **state) {
  fx *f = *state;
  int64_t ts[3] = {10, 20, 20};
  double v[3] = {1, 2, 3};
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add(w, "m", 1, "f", 1, TS_FLOAT, ts, v, 0), LOOM_EINVAL);
  assert_int_equal(ts_segw_add(w, "m", 1, "f", 1, TS_FLOAT, ts, v, 3), LOOM_EINVAL);
  assert_int_equal(ts_segw_add(w, "", 0, "f", 1, TS_FLOAT, ts, v, 2), LOOM_EINVAL);
  assert_int_equal(ts_segw_add(w, "m", 1, "", 0, TS_FLOAT, ts, v, 2), LOOM_EINVAL);
  assert_int_equal(ts_segw_add(w, "m", 1, "f", 1, (ts_type)9, ts, v, 2), LOOM_EINVAL);
  assert_int_equal(ts_segw_add(w, "m", 1, "f", 1, TS_FLOAT, ts, v, 2), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_ncolumns(s), 1);
  assert_int_equal(ts_segment_column(s, 0)->n_points, 2);
  ts_segment_close(s);
}

static void test_float_stats_exact(void **state) {
  fx *f = *state;
  /* Values chosen to hit every dfloat path: decimals, integers, huge, tiny,
   * negative zero, infinities, NaN and a non-decimal sum. */
  double vals[][3] = {{23.7, 23.5, -0.1},   {0.1, 0.2, 0.3},       {-0.0, 1e300, 5e-324},
                      {INFINITY, 1.0, -2.0}, {NAN, 3.25, 7.0},     {1e18, 123456789.125, 1e-7},
                      {-1e17, 9007199254740993.0, 42.0}};
  int n = (int)(sizeof vals / sizeof vals[0]);
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  int64_t ts[3] = {1, 2, 3};
  for (int i = 0; i < n; i++) {
    char field[16];
    snprintf(field, sizeof field, "f%d", i);
    assert_int_equal(ts_segw_add(w, "m", 1, field, (uint32_t)strlen(field), TS_FLOAT, ts, vals[i],
                                 3),
                     0);
  }
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  for (uint32_t i = 0; i < (uint32_t)n; i++) {
    const ts_seg_block *b = &ts_segment_column(s, i)->blocks[0];
    ts_block_info info;
    assert_int_equal(ts_block_peek(ts_segment_block_data(s, b), b->len, &info), 0);
    assert_memory_equal(&info.stats.min.f, &b->stats.min.f, 8);
    assert_memory_equal(&info.stats.max.f, &b->stats.max.f, 8);
    assert_memory_equal(&info.stats.first.f, &b->stats.first.f, 8);
    assert_memory_equal(&info.stats.last.f, &b->stats.last.f, 8);
    assert_memory_equal(&info.stats.sum_f, &b->stats.sum_f, 8);
  }
  ts_segment_close(s);
}

static void test_big_keys(void **state) {
  fx *f = *state;
  uint32_t klen = 200000, flen = 5000;
  char *key = malloc(klen), *field = malloc(flen);
  assert_true(key && field);
  for (uint32_t i = 0; i < klen; i++) key[i] = (char)('a' + i % 26);
  for (uint32_t i = 0; i < flen; i++) field[i] = (char)('A' + i % 26);
  int64_t ts[2] = {1, 2};
  int64_t v[2] = {-5, 5};
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add(w, key, klen, field, flen, TS_INT, ts, v, 2), 0);
  assert_int_equal(ts_segw_add(w, key, klen - 1, field, flen, TS_INT, ts, v, 2), 0);
  assert_int_equal(ts_segw_add(w, key, TS_SEG_MAX_NAME + 1, field, flen, TS_INT, ts, v, 2),
                   LOOM_EINVAL);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_ncolumns(s), 2);
  uint32_t idx;
  assert_int_equal(ts_segment_find(s, key, klen, field, flen, &idx), 0);
  assert_int_equal(idx, 1); /* the shorter prefix sorts first */
  const ts_seg_column *c = ts_segment_column(s, idx);
  assert_int_equal(c->key_len, klen);
  assert_memory_equal(c->series_key, key, klen);
  assert_memory_equal(c->field, field, flen);
  int64_t ots[2], ov[2];
  assert_int_equal(ts_segment_read_block(s, idx, 0, ots, ov, 2, NULL, NULL, 0), 0);
  assert_memory_equal(ov, v, sizeof v);
  ts_segment_close(s);
  free(key);
  free(field);
}

static void test_empty_segment(void **state) {
  fx *f = *state;
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_ncolumns(s), 0);
  assert_int_equal(ts_segment_nblocks(s), 0);
  assert_int_equal(ts_segment_file_bytes(s), TS_SEG_HEADER_LEN + 2 + TS_SEG_TRAILER_LEN);
  assert_null(ts_segment_column(s, 0));
  uint32_t idx;
  assert_int_equal(ts_segment_find(s, "m", 1, "f", 1, &idx), LOOM_ENOTFOUND);
  int64_t ts;
  double v;
  assert_int_equal(ts_segment_read_block(s, 0, 0, &ts, &v, 1, NULL, NULL, 0), LOOM_EINVAL);
  ts_segment_close(s);
}

static void test_read_block_cap_too_small(void **state) {
  fx *f = *state;
  write_simple(f->path, 10);
  ts_segment *s = open_ok(f->path);
  int64_t ts[9];
  double v[9];
  assert_int_equal(ts_segment_read_block(s, 0, 0, ts, v, 9, NULL, NULL, 0), LOOM_ERANGE);
  assert_int_equal(ts_segment_read_block(s, 0, 1, ts, v, 9, NULL, NULL, 0), LOOM_EINVAL);
  assert_int_equal(ts_segment_read_block(s, 1, 0, ts, v, 9, NULL, NULL, 0), LOOM_EINVAL);
  ts_segment_close(s);
}

/* ----------------------------------------------------------- raw copy */

static void test_raw_block_copy(void **state) {
  fx *f = *state;
  tcol cols[5];
  for (int i = 0; i < 5; i++) tcol_make(&cols[i], (ts_type)(i + 1), 700, 11u + (unsigned)i, "src", "v");
  for (int i = 0; i < 5; i++) snprintf(cols[i].field, sizeof cols[i].field, "v%d", i);
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_set_block_points(w, 256), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(tcol_add(w, &cols[i]), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *a = open_ok(f->path);

  /* Copy every block of every column into a second segment, the first
   * column in two halves: raw blocks then ts_segw_add of nothing more. */
  char path2[160];
  snprintf(path2, sizeof path2, "%s/copy.tsm", f->dir);
  assert_int_equal(ts_segw_open(path2, &w), 0);
  for (uint32_t ci = 0; ci < ts_segment_ncolumns(a); ci++) {
    const ts_seg_column *c = ts_segment_column(a, ci);
    for (uint32_t b = 0; b < c->n_blocks; b++)
      assert_int_equal(ts_segw_add_raw_block(w, c->series_key, c->key_len, c->field, c->field_len,
                                             c->type, ts_segment_block_data(a, &c->blocks[b]),
                                             c->blocks[b].len),
                       0);
  }
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *b2 = open_ok(path2);
  assert_int_equal(ts_segment_ncolumns(b2), 5);
  for (int i = 0; i < 5; i++) {
    uint32_t idx;
    assert_int_equal(ts_segment_find(b2, cols[i].key, 3, cols[i].field, 2, &idx), 0);
    assert_int_equal(ts_segment_column(b2, idx)->n_blocks, 3);
    check_column(b2, idx, &cols[i]);
  }
  ts_segment_close(b2);
  ts_segment_close(a);
  for (int i = 0; i < 5; i++) tcol_free(&cols[i]);
}

static void test_raw_block_then_add_same_column(void **state) {
  fx *f = *state;
  tcol c;
  tcol_make(&c, TS_FLOAT, 200, 5, "m", "f");
  loom_buf blk;
  loom_buf_init(&blk);
  assert_int_equal(ts_block_encode(TS_FLOAT, c.ts, c.vals, 120, &blk, NULL), 0);
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add_raw_block(w, "m", 1, "f", 1, TS_FLOAT, blk.data, (uint32_t)blk.len), 0);
  assert_int_equal(ts_segw_add(w, "m", 1, "f", 1, TS_FLOAT, c.ts + 120, (double *)c.vals + 120, 80), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_column(s, 0)->n_blocks, 2);
  check_column(s, 0, &c);
  ts_segment_close(s);
  loom_buf_deinit(&blk);
  tcol_free(&c);
}

static void test_raw_block_rejects_mismatch(void **state) {
  fx *f = *state;
  tcol c;
  tcol_make(&c, TS_INT, 50, 5, "m", "i");
  loom_buf blk;
  loom_buf_init(&blk);
  assert_int_equal(ts_block_encode(TS_INT, c.ts, c.vals, 50, &blk, NULL), 0);
  uint32_t len = (uint32_t)blk.len;
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add_raw_block(w, "m", 1, "i", 1, TS_FLOAT, blk.data, len), LOOM_EINVAL);
  assert_int_equal(ts_segw_add_raw_block(w, "m", 1, "i", 1, TS_INT, blk.data, len - 1), LOOM_EINVAL);
  assert_int_equal(ts_segw_add_raw_block(w, "m", 1, "i", 1, TS_INT, blk.data, 3), LOOM_EINVAL);
  assert_int_equal(ts_segw_add_raw_block(w, "m", 1, "i", 1, TS_INT, blk.data, len), 0);
  /* the same block again would go back in time */
  assert_int_equal(ts_segw_add_raw_block(w, "m", 1, "i", 1, TS_INT, blk.data, len), LOOM_EINVAL);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  check_column(s, 0, &c);
  ts_segment_close(s);
  loom_buf_deinit(&blk);
  tcol_free(&c);
}

/* ----------------------------------------------------------- atomicity */

static void test_no_file_before_finish(void **state) {
  fx *f = *state;
  char tmp[160];
  tcol c;
  tcol_make(&c, TS_FLOAT, 10, 1, "m", "f");
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(tcol_add(w, &c), 0);
  assert_false(exists(f->path));
  assert_true(exists(tmp_of(f->path, tmp, sizeof tmp)));
  assert_int_equal(ts_segw_finish(w), 0);
  assert_true(exists(f->path));
  assert_false(exists(tmp));
  tcol_free(&c);
}

static void test_abort_removes_tmp(void **state) {
  fx *f = *state;
  char tmp[160];
  tcol c;
  tcol_make(&c, TS_FLOAT, 10, 1, "m", "f");
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(tcol_add(w, &c), 0);
  ts_segw_abort(w);
  assert_false(exists(f->path));
  assert_false(exists(tmp_of(f->path, tmp, sizeof tmp)));
  ts_segw_abort(NULL);
  tcol_free(&c);
}

static void test_stale_tmp_is_replaced(void **state) {
  fx *f = *state;
  char tmp[160];
  const uint8_t junk[100] = {1, 2, 3};
  spit(tmp_of(f->path, tmp, sizeof tmp), junk, sizeof junk); /* left by a crash */
  write_simple(f->path, 5);
  assert_false(exists(tmp));
  ts_segment *s = open_ok(f->path);
  assert_int_equal(ts_segment_column(s, 0)->n_points, 5);
  ts_segment_close(s);
}

static void test_finish_rename_failure_leaves_nothing(void **state) {
  fx *f = *state;
  char tmp[160], inner[200];
  /* path is a non-empty directory: rename(2) must fail */
  assert_int_equal(mkdir(f->path, 0755), 0);
  snprintf(inner, sizeof inner, "%s/x", f->path);
  spit(inner, (const uint8_t *)"x", 1);
  tcol c;
  tcol_make(&c, TS_FLOAT, 10, 1, "m", "f");
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(tcol_add(w, &c), 0);
  assert_int_equal(ts_segw_finish(w), LOOM_EIO);
  assert_false(exists(tmp_of(f->path, tmp, sizeof tmp)));
  assert_int_equal(unlink(inner), 0);
  assert_int_equal(rmdir(f->path), 0);
  tcol_free(&c);
}

static void test_write_failure_leaves_nothing(void **state) {
  fx *f = *state;
  char tmp[160];
  tcol c[4];
  for (int i = 0; i < 4; i++) {
    char field[16];
    snprintf(field, sizeof field, "u%d", i);
    tcol_make(&c[i], TS_UINT, 8000, 100u + (unsigned)i, "m", field); /* ~64 KB each */
  }
  /* Writes past 100 KB fail with EFBIG, like a full disk. */
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = 100 * 1024;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  ts_segw *w;
  int rc = ts_segw_open(f->path, &w);
  for (int i = 0; i < 4 && !rc; i++) rc = tcol_add(w, &c[i]);
  if (!rc) {
    rc = ts_segw_finish(w);
  } else {
    assert_int_equal(ts_segw_finish(w), rc);
  }
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, prev);
  assert_int_equal(rc, LOOM_EIO);
  assert_false(exists(f->path));
  assert_false(exists(tmp_of(f->path, tmp, sizeof tmp)));
  for (int i = 0; i < 4; i++) tcol_free(&c[i]);
}

static void test_duplicate_column_fails_finish(void **state) {
  fx *f = *state;
  char tmp[160];
  int64_t ts = 1;
  double v = 2;
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add(w, "a", 1, "f", 1, TS_FLOAT, &ts, &v, 1), 0);
  assert_int_equal(ts_segw_add(w, "b", 1, "f", 1, TS_FLOAT, &ts, &v, 1), 0);
  assert_int_equal(ts_segw_add(w, "a", 1, "f", 1, TS_FLOAT, &ts, &v, 1), 0);
  assert_int_equal(ts_segw_finish(w), LOOM_EEXIST);
  assert_false(exists(f->path));
  assert_false(exists(tmp_of(f->path, tmp, sizeof tmp)));
}

static void test_open_missing_dir_fails(void **state) {
  fx *f = *state;
  char p[200];
  snprintf(p, sizeof p, "%s/nodir/p.tsm", f->dir);
  ts_segw *w = (ts_segw *)1;
  assert_int_equal(ts_segw_open(p, &w), LOOM_ENOTFOUND);
  assert_null(w);
  assert_int_equal(ts_segw_open("", &w), LOOM_EINVAL);
}

static void test_writer_alloc_failures(void **state) {
  fx *f = *state;
  char tmp[160];
  tcol c[3];
  for (int i = 0; i < 3; i++) {
    char field[16];
    snprintf(field, sizeof field, "f%d", i);
    tcol_make(&c[i], (ts_type)(i * 2 + 1), 300, (uint64_t)i, "m", field);
  }
  int ok = 0;
  for (long n = 0; n < 400 && !ok; n++) {
    unlink(f->path);
    loom_mem_fail_after(n);
    ts_segw *w = NULL;
    int rc = ts_segw_open(f->path, &w);
    if (!rc) {
      ts_segw_set_block_points(w, 64);
      for (int i = 0; i < 3 && !rc; i++) rc = tcol_add(w, &c[i]);
      if (rc) {
        assert_int_equal(rc, LOOM_ENOMEM);
        /* a failed writer keeps failing and finish cleans up */
        assert_int_equal(tcol_add(w, &c[0]), LOOM_ENOMEM);
      }
      int frc = ts_segw_finish(w);
      rc = rc ? rc : frc;
    }
    loom_mem_fail_after(-1);
    if (rc) {
      assert_int_equal(rc, LOOM_ENOMEM);
      assert_false(exists(f->path));
    } else {
      ok = 1;
    }
    assert_false(exists(tmp_of(f->path, tmp, sizeof tmp)));
  }
  assert_true(ok);
  ts_segment *s = open_ok(f->path);
  for (uint32_t i = 0; i < 3; i++) check_column(s, i, &c[i]);
  ts_segment_close(s);
  for (int i = 0; i < 3; i++) tcol_free(&c[i]);
}

static void test_reader_alloc_failures(void **state) {
  fx *f = *state;
  write_simple(f->path, 3000);
  int ok = 0;
  for (long n = 0; n < 50 && !ok; n++) {
    loom_mem_fail_after(n);
    ts_segment *s = NULL;
    char err[256];
    int rc = ts_segment_open(f->path, &s, err, sizeof err);
    loom_mem_fail_after(-1);
    if (rc) {
      assert_int_equal(rc, LOOM_ENOMEM);
      assert_null(s);
    } else {
      ok = 1;
      ts_segment_close(s);
    }
  }
  assert_true(ok);
}

/* ----------------------------------------------------------- corruption */

static void expect_open_error(const char *path, int want, const char *needle) {
  ts_segment *s = (ts_segment *)1;
  char err[512] = "";
  assert_int_equal(ts_segment_open(path, &s, err, sizeof err), want);
  assert_null(s);
  assert_non_null(strstr(err, path));
  if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_corrupt_footer_index(void **state) {
  fx *f = *state;
  write_simple(f->path, 100);
  size_t len;
  uint8_t *img = slurp(f->path, &len);
  uint64_t index_off = loom_le64(img + len - TS_SEG_TRAILER_LEN);
  img[index_off + 2] ^= 0x40;
  spit(f->path, img, len);
  expect_open_error(f->path, LOOM_ECORRUPT, "footer index checksum mismatch");
  free(img);
}

static void test_corrupt_trailer(void **state) {
  fx *f = *state;
  write_simple(f->path, 100);
  size_t len;
  uint8_t *img = slurp(f->path, &len);
  img[len - TS_SEG_TRAILER_LEN + 3] ^= 1; /* index_off */
  spit(f->path, img, len);
  expect_open_error(f->path, LOOM_ECORRUPT, "footer trailer checksum mismatch");
  img[len - TS_SEG_TRAILER_LEN + 3] ^= 1;
  img[len - 1] ^= 0xff; /* magic */
  spit(f->path, img, len);
  expect_open_error(f->path, LOOM_ECORRUPT, "footer magic");
  free(img);
}

static void test_bad_header(void **state) {
  fx *f = *state;
  write_simple(f->path, 10);
  size_t len;
  uint8_t *img = slurp(f->path, &len);
  img[8] = 2; /* version */
  spit(f->path, img, len);
  expect_open_error(f->path, LOOM_EUNSUP, "version 2");
  img[8] = 1;
  img[12] = 1; /* flags */
  spit(f->path, img, len);
  expect_open_error(f->path, LOOM_EUNSUP, "flags");
  img[12] = 0;
  img[0] = 'X';
  spit(f->path, img, len);
  expect_open_error(f->path, LOOM_ECORRUPT, "header magic");
  free(img);
}

static void test_flipped_block_byte(void **state) {
  fx *f = *state;
  write_simple(f->path, 100);
  ts_segment *s = open_ok(f->path);
  const ts_seg_block *b = &ts_segment_column(s, 0)->blocks[0];
  uint64_t off = b->offset + b->len - 1; /* inside the block's CRC */
  ts_segment_close(s);
  size_t len;
  uint8_t *img = slurp(f->path, &len);
  img[off] ^= 0x10;
  spit(f->path, img, len);
  s = open_ok(f->path); /* the index is intact: open succeeds */
  int64_t ts[100];
  double v[100];
  char err[512];
  assert_int_equal(ts_segment_read_block(s, 0, 0, ts, v, 100, NULL, err, sizeof err),
                   LOOM_ECORRUPT);
  char want[512];
  snprintf(want, sizeof want,
           "segment %s: block 0 of column m,k=v f at offset %d: checksum mismatch", f->path,
           TS_SEG_HEADER_LEN);
  assert_string_equal(err, want);
  ts_segment_close(s);
  free(img);
}

static void test_truncated_file(void **state) {
  fx *f = *state;
  write_simple(f->path, 100);
  size_t len;
  uint8_t *img = slurp(f->path, &len);
  /* every truncation of the image fails cleanly */
  for (size_t n = 0; n < len; n++) {
    ts_segment *s = NULL;
    char err[256];
    int rc = ts_segment_open_mem(img, n, "t.tsm", &s, err, sizeof err);
    assert_int_equal(rc, LOOM_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(err, "segment t.tsm: "));
  }
  spit(f->path, img, len / 2);
  expect_open_error(f->path, LOOM_ECORRUPT, "footer magic");
  spit(f->path, img, 10);
  expect_open_error(f->path, LOOM_ECORRUPT, "too small");
  spit(f->path, img, 0);
  expect_open_error(f->path, LOOM_ECORRUPT, "too small");
  free(img);
}

static void test_open_missing_file(void **state) {
  fx *f = *state;
  expect_open_error(f->path, LOOM_ENOTFOUND, "No such file");
}

/* Builds a segment image from hand-written index bytes; `blocks` bytes of
 * zeros stand for block data. */
static uint8_t *craft(const uint8_t *index, size_t index_len, size_t blocks, size_t *out_len) {
  size_t len = TS_SEG_HEADER_LEN + blocks + index_len + TS_SEG_TRAILER_LEN;
  uint8_t *p = calloc(1, len);
  assert_non_null(p);
  memcpy(p, "LOOMSEG\0", 8);
  loom_put_le32(p + 8, 1);
  uint64_t off = TS_SEG_HEADER_LEN + blocks;
  memcpy(p + off, index, index_len);
  uint8_t *tr = p + off + index_len;
  loom_put_le64(tr, off);
  loom_put_le64(tr + 8, index_len);
  loom_put_le32(tr + 16, (uint32_t)crc32(0, index, (uInt)index_len));
  loom_put_le32(tr + 20, (uint32_t)crc32(0, tr, 20));
  memcpy(tr + 24, "LOOMIDX\0", 8);
  *out_len = len;
  return p;
}

static int open_crafted(const uint8_t *index, size_t index_len, size_t blocks, char *err,
                        size_t errlen) {
  size_t len;
  uint8_t *img = craft(index, index_len, blocks, &len);
  ts_segment *s = NULL;
  int rc = ts_segment_open_mem(img, len, "c.tsm", &s, err, errlen);
  if (!rc) {
    ts_segment_close(s);
  } else {
    assert_null(s);
  }
  free(img);
  return rc;
}

static void test_crafted_index_valid(void **state) {
  (void)state;
  /* 1 column "k"/"f" string, 1 block at 16, len 10, count 2, ts 5..6 */
  const uint8_t ix[] = {1, 1, 1, 'k', 1, 'f', TS_STRING, 1, 16, 10, 2, 10, 1};
  char err[256];
  assert_int_equal(open_crafted(ix, sizeof ix, 10, err, sizeof err), 0);
}

static void test_crafted_block_outside_file(void **state) {
  (void)state;
  const uint8_t ix[] = {1, 1, 1, 'k', 1, 'f', TS_STRING, 1, 16, 11, 2, 10, 1};
  char err[256];
  assert_int_equal(open_crafted(ix, sizeof ix, 10, err, sizeof err), LOOM_ECORRUPT);
  assert_non_null(strstr(err, "outside the file"));
  const uint8_t ix2[] = {1, 1, 1, 'k', 1, 'f', TS_STRING, 1, 15, 1, 2, 10, 1}; /* in header */
  assert_int_equal(open_crafted(ix2, sizeof ix2, 10, err, sizeof err), LOOM_ECORRUPT);
  /* huge offset as a 10-byte varint */
  const uint8_t ix3[] = {1, 1, 1, 'k', 1, 'f', TS_STRING, 1, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0xff, 0xff, 0xff, 0xff, 1, 10, 2, 10, 1};
  assert_int_equal(open_crafted(ix3, sizeof ix3, 10, err, sizeof err), LOOM_ECORRUPT);
}

static void test_crafted_index_unsorted(void **state) {
  (void)state;
  const uint8_t ix[] = {2, 2, 1, 'k', 1, 'g', TS_STRING, 1, 16, 5, 1, 10, 0,
                        1, 'k', 1, 'f', TS_STRING, 1, 21, 5, 1, 10, 0};
  char err[256];
  assert_int_equal(open_crafted(ix, sizeof ix, 10, err, sizeof err), LOOM_ECORRUPT);
  assert_non_null(strstr(err, "not sorted"));
}

static void test_crafted_index_bad_counts(void **state) {
  (void)state;
  char err[256];
  /* total block count disagrees with the column's */
  const uint8_t ix[] = {1, 2, 1, 'k', 1, 'f', TS_STRING, 1, 16, 10, 2, 10, 1};
  assert_int_equal(open_crafted(ix, sizeof ix, 10, err, sizeof err), LOOM_ECORRUPT);
  /* trailing garbage after the last column */
  const uint8_t ix2[] = {1, 1, 1, 'k', 1, 'f', TS_STRING, 1, 16, 10, 2, 10, 1, 0};
  assert_int_equal(open_crafted(ix2, sizeof ix2, 10, err, sizeof err), LOOM_ECORRUPT);
  /* count 2 with a zero time range */
  const uint8_t ix3[] = {1, 1, 1, 'k', 1, 'f', TS_STRING, 1, 16, 10, 2, 10, 0};
  assert_int_equal(open_crafted(ix3, sizeof ix3, 10, err, sizeof err), LOOM_ECORRUPT);
  /* bad type */
  const uint8_t ix4[] = {1, 1, 1, 'k', 1, 'f', 9, 1, 16, 10, 2, 10, 1};
  assert_int_equal(open_crafted(ix4, sizeof ix4, 10, err, sizeof err), LOOM_ECORRUPT);
  /* absurd column count */
  const uint8_t ix5[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0};
  assert_int_equal(open_crafted(ix5, sizeof ix5, 0, err, sizeof err), LOOM_ECORRUPT);
}

static void test_crafted_header_disagrees_with_index(void **state) {
  fx *f = *state;
  /* Two real columns of different types; swap their blocks' offsets in a
   * rewritten index: read_block must refuse, never decode a float block
   * into a bool column's buffer. */
  int64_t ts[4] = {1, 2, 3, 4};
  double fv[4] = {1, 2, 3, 4};
  uint8_t bv[4] = {1, 0, 1, 0};
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  assert_int_equal(ts_segw_add(w, "k", 1, "a", 1, TS_BOOL, ts, bv, 4), 0);
  assert_int_equal(ts_segw_add(w, "k", 1, "b", 1, TS_FLOAT, ts, fv, 4), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  ts_segment *s = open_ok(f->path);
  const ts_seg_block *ba = &ts_segment_column(s, 0)->blocks[0];
  const ts_seg_block *bb = &ts_segment_column(s, 1)->blocks[0];
  size_t flen;
  uint8_t *file = slurp(f->path, &flen);
  /* index: bool column pointing at the float block */
  loom_buf ix;
  loom_buf_init(&ix);
  const uint8_t hdr[] = {1, 1, 1, 'k', 1, 'a', TS_BOOL, 1};
  assert_int_equal(loom_buf_append(&ix, hdr, sizeof hdr), 0);
  assert_int_equal(loom_buf_append_uvarint(&ix, bb->offset), 0);
  assert_int_equal(loom_buf_append_uvarint(&ix, bb->len), 0);
  const uint8_t rest[] = {4, 2 /* svarint 1 */, 3, 5 /* bits */, 2 /* trues */};
  assert_int_equal(loom_buf_append(&ix, rest, sizeof rest), 0);
  size_t blocks_len = (size_t)(ba->len + bb->len);
  assert_int_equal(bb->offset, TS_SEG_HEADER_LEN + ba->len);
  size_t ilen;
  uint8_t *img = craft(ix.data, ix.len, blocks_len, &ilen);
  loom_buf_deinit(&ix);
  memcpy(img + TS_SEG_HEADER_LEN, file + TS_SEG_HEADER_LEN, blocks_len);
  ts_segment *c = NULL;
  char err[256];
  assert_int_equal(ts_segment_open_mem(img, ilen, "c.tsm", &c, err, sizeof err), 0);
  int64_t ots[4];
  uint8_t ov[4];
  assert_int_equal(ts_segment_read_block(c, 0, 0, ots, ov, 4, NULL, err, sizeof err),
                   LOOM_ECORRUPT);
  assert_non_null(strstr(err, "disagrees with the index"));
  ts_segment_close(c);
  ts_segment_close(s);
  free(img);
  free(file);
}

/* A large index is stored as a zstd frame (trailer magic LOOMIDZ) and reads
 * back exactly; a frame that passes the CRC but does not decode is refused
 * with an error naming the file. */
static void test_index_stored_compressed(void **state) {
  fx *f = *state;
  tcol cols[RT_COLS];
  for (int i = 0; i < RT_COLS; i++) {
    char key[64], field[32];
    snprintf(key, sizeof key, "readings,fleet=East,name=truck_%02d,driver=Derek", i);
    snprintf(field, sizeof field, "velocity");
    tcol_make(&cols[i], TS_FLOAT, 10, (uint64_t)i + 1, key, field);
  }
  ts_segw *w;
  assert_int_equal(ts_segw_open(f->path, &w), 0);
  for (int i = 0; i < RT_COLS; i++) assert_int_equal(tcol_add(w, &cols[i]), 0);
  assert_int_equal(ts_segw_finish(w), 0);
  FILE *fp = fopen(f->path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  uint8_t *img = malloc((size_t)len);
  fseek(fp, 0, SEEK_SET);
  assert_int_equal(fread(img, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  assert_memory_equal(img + len - 8, "LOOMIDZ\0", 8);
  ts_segment *s = open_ok(f->path);
  for (int i = 0; i < RT_COLS; i++) {
    uint32_t idx = UINT32_MAX;
    assert_int_equal(ts_segment_find(s, cols[i].key, (uint32_t)strlen(cols[i].key), cols[i].field,
                                     (uint32_t)strlen(cols[i].field), &idx), 0);
    check_column(s, idx, &cols[i]);
  }
  ts_segment_close(s);
  /* garble the frame, then fix the CRCs so only the frame itself is wrong */
  uint8_t *tr = img + len - TS_SEG_TRAILER_LEN;
  uint64_t off = loom_le64(tr), ilen = loom_le64(tr + 8);
  for (uint64_t k = 8; k < ilen; k += 7) img[off + k] ^= 0x5a;
  loom_put_le32(tr + 16, (uint32_t)crc32(0, img + off, (uInt)ilen));
  loom_put_le32(tr + 20, (uint32_t)crc32(0, tr, 20));
  fp = fopen(f->path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(img, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  expect_open_error(f->path, LOOM_ECORRUPT, "compressed");
  free(img);
  for (int i = 0; i < RT_COLS; i++) tcol_free(&cols[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip_all_types, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_index_stored_compressed, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_columns_sorted_by_key_then_field, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_find_missing, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_split_into_blocks, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_default_block_points, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_consecutive_adds_extend_column, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_add_rejects_bad_arguments, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_float_stats_exact, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_big_keys, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_empty_segment, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_drop_names_keeps_reads, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_consecutive_fields_of_one_series, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_release_pages_keeps_data, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_column_read_into_caller_memory, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_read_block_cap_too_small, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_raw_block_copy, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_raw_block_then_add_same_column, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_raw_block_rejects_mismatch, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_no_file_before_finish, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_abort_removes_tmp, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stale_tmp_is_replaced, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_finish_rename_failure_leaves_nothing, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_write_failure_leaves_nothing, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_column_fails_finish, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_missing_dir_fails, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_writer_alloc_failures, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_reader_alloc_failures, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_footer_index, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_trailer, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_header, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_flipped_block_byte, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_truncated_file, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_missing_file, fx_setup, fx_teardown),
      cmocka_unit_test(test_crafted_index_valid),
      cmocka_unit_test(test_crafted_block_outside_file),
      cmocka_unit_test(test_crafted_index_unsorted),
      cmocka_unit_test(test_crafted_index_bad_counts),
      cmocka_unit_test_setup_teardown(test_crafted_header_disagrees_with_index, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
