/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the segment footer/index decoder
 * (ts_segment_open_mem over a byte image). Each input is tried as is and
 * again with the trailer's CRCs recomputed, so mutations of the index get
 * past the checksum and reach the decoder. On success every column is
 * looked up and a few blocks are read, exercising the bounds checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/mem.h"
#include "ts/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const uint8_t *img, size_t size) {
  ts_segment *s = NULL;
  char err[256];
  if (ts_segment_open_mem(img, size, "fuzz.tsm", &s, err, sizeof err) != 0) {
    if (s) __builtin_trap();
    return;
  }
  int64_t *ts = malloc(TS_BLOCK_MAX_POINTS * sizeof *ts);
  void *vals = malloc(TS_BLOCK_MAX_POINTS * sizeof(ts_str));
  loom_buf sb;
  loom_buf_init(&sb);
  uint32_t reads = 0;
  for (uint32_t i = 0; i < ts_segment_ncolumns(s); i++) {
    const ts_seg_column *c = ts_segment_column(s, i);
    uint32_t idx = UINT32_MAX;
    if (ts_segment_find(s, c->series_key, c->key_len, c->field, c->field_len, &idx) != 0 ||
        idx != i)
      __builtin_trap(); /* the index is validated sorted and unique */
    for (uint32_t b = 0; b < c->n_blocks && reads < 64 && ts && vals; b++, reads++) {
      const ts_seg_block *blk = &c->blocks[b];
      const uint8_t *p = ts_segment_block_data(s, blk);
      volatile uint8_t edge = (uint8_t)(p[0] ^ p[blk->len - 1]); /* ASan checks the bounds */
      (void)edge;
      int rc = ts_segment_read_block(s, i, b, ts, vals, TS_BLOCK_MAX_POINTS, &sb, err, sizeof err);
      if (rc > 0) __builtin_trap(); /* 0 or a negative code */
    }
  }
  loom_buf_deinit(&sb);
  free(ts);
  free(vals);
  ts_segment_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  exercise(data, size);
  if (size < TS_SEG_HEADER_LEN + TS_SEG_TRAILER_LEN) return 0;
  uint8_t *img = malloc(size);
  if (!img) return 0;
  memcpy(img, data, size);
  uint8_t *tr = img + size - TS_SEG_TRAILER_LEN;
  uint64_t index_off = loom_le64(tr), index_len = loom_le64(tr + 8);
  if (index_len <= size && index_off <= size - index_len)
    loom_put_le32(tr + 16, (uint32_t)crc32(0, img + index_off, (uInt)index_len));
  loom_put_le32(tr + 20, (uint32_t)crc32(0, tr, 20));
  exercise(img, size);
  free(img);
  return 0;
}
