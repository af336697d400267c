/* SPDX-License-Identifier: Apache-2.0
 * Segment files: one immutable file holding the compressed blocks (block.h)
 * of many columns of ONE database and ONE time partition, followed by a
 * compact footer index. The engine writes one segment per partition at each
 * head flush (streaming writer, memory-light) and compaction merges several
 * into one, copying untouched blocks as they are. Readers mmap the file,
 * validate and load the index once, then hand out pointers into the mapping.
 * A column is one series field: series key + field name, with one type.
 */
#ifndef LOOM_TS_SEGMENT_H
#define LOOM_TS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ts/block.h"
#include "ts/types.h"

/* ------------------------------------------------------------------------
 * File format, version 1. All fixed-size integers are little-endian;
 * "uvarint" is unsigned LEB128, "svarint" zigzag LEB128 (core/buf.h); CRC32
 * is the IEEE/zlib CRC-32 (zlib's crc32()).
 *
 * Header (TS_SEG_HEADER_LEN = 16 bytes, offset 0):
 *   0   8  magic "LOOMSEG\0"
 *   8   4  u32 version, 1
 *  12   4  u32 flags, 0 (a reader refuses any bit it does not know)
 *
 * Blocks: from offset 16, encoded blocks (block.h format, each with its own
 * CRC) back to back, up to the index. A column's blocks are in time order
 * and do not overlap in time.
 *
 * Footer index (offset index_off, index_len bytes, right before the trailer):
 *   uvarint n_columns
 *   uvarint n_blocks          total over all columns
 *   n_columns column entries, sorted by (series key, field), each pair
 *   compared bytewise as memcmp over the common length, shorter first;
 *   no two entries have the same (key, field). One column entry:
 *     uvarint key_len         1 .. TS_SEG_MAX_NAME
 *     key_len bytes           series key, e.g. "cpu,host=a,region=eu"
 *     uvarint field_len       1 .. TS_SEG_MAX_NAME
 *     field_len bytes         field name
 *     u8 type                 ts_type, 1..5
 *     uvarint n_blocks        >= 1
 *     n_blocks block entries, in time order. One block entry:
 *       uvarint off           first block of the column: absolute file
 *                             offset; later blocks: gap in bytes after the
 *                             end of the previous block (0 when adjacent)
 *       uvarint len           encoded block bytes, >= 1
 *       uvarint count         points, 1 .. TS_BLOCK_MAX_POINTS
 *       min_ts                first block of the column: svarint ns;
 *                             later blocks: uvarint (min_ts - previous
 *                             block's max_ts), >= 1
 *       uvarint max_ts-min_ts 0 iff count == 1
 *       value stats, by type:
 *         TS_FLOAT  dfloat min, max, first, last, sum_f
 *         TS_INT    svarint min; uvarint max-min, first-min, last-min
 *                   (two's complement differences, mod 2^64); svarint sum_i
 *         TS_UINT   uvarint min; uvarint max-min, first-min, last-min
 *                   (mod 2^64); uvarint sum_u
 *         TS_BOOL   u8 bits: 0 min, 1 max, 2 first, 3 last (others 0);
 *                   uvarint sum_i (number of trues)
 *         TS_STRING nothing (string stats are count and times only)
 *     "dfloat" is a decimal-aware double: uvarint h. If h % 20 < 19 the
 *     value is m / 10^e with e = h % 20 and m = zigzag-decoded h / 20, the
 *     division done in IEEE double ((double)m / 1e<e>; e = 0: (double)m).
 *     If h == 19, 8 bytes follow: the raw IEEE-754 bits, u64 LE. Sensor
 *     decimals such as 23.7 take 2-3 bytes instead of 8.
 *   The entries take exactly index_len bytes; the sum of the columns'
 *   n_blocks equals n_blocks.
 *
 * Trailer (TS_SEG_TRAILER_LEN = 32 bytes, the last bytes of the file):
 *   0   8  u64 index_off      == file size - 32 - index_len, >= 16
 *   8   8  u64 index_len
 *  16   4  u32 CRC32 of the index bytes
 *  20   4  u32 CRC32 of trailer bytes 0..19
 *  24   8  magic "LOOMIDX\0", or "LOOMIDZ\0" when the index bytes are one zstd
 *           frame whose content is the index as described above (the CRC is over
 *           the stored, compressed bytes; index_len is their length)
 *
 * Every block (off, len) lies within [16, index_off). An empty segment (0
 * columns) is valid: header, a 2-byte index, trailer.
 * --------------------------------------------------------------------- */

#define TS_SEG_VERSION 1
#define TS_SEG_HEADER_LEN 16
#define TS_SEG_TRAILER_LEN 32
#define TS_SEG_MAX_NAME (1u << 20)        /* bytes, max key or field length */
#define TS_SEG_DEFAULT_BLOCK_POINTS 1024

/* ------------------------------------------------------------------------
 * Writer. One thread at a time per writer (it is not shared). Writes to
 * path + ".tmp" and renames at finish, so a crash leaves no file at path
 * (possibly a stale .tmp that the next writer of that path truncates).
 */
typedef struct ts_segw ts_segw;

/* Create path + ".tmp" (truncating a stale one) and write the header.
 * *out owns the file until ts_segw_finish or ts_segw_abort. Returns 0,
 * LOOM_EINVAL (empty path), LOOM_ENOMEM, or the mapped errno of open/write
 * (LOOM_EIO, LOOM_ENOSPC, LOOM_ENOTFOUND for a missing directory). */
int ts_segw_open(const char *path, ts_segw **out);

/* Points per block for later ts_segw_add calls: 1 .. TS_BLOCK_MAX_POINTS
 * (default TS_SEG_DEFAULT_BLOCK_POINTS). 0 or LOOM_EINVAL. */
int ts_segw_set_block_points(ts_segw *w, uint32_t block_points);

/* Append a column's points: n >= 1 points with timestamps (ns) strictly
 * increasing, already deduplicated; vals is the typed column of `type`
 * (types.h). They are split into blocks of at most block_points points,
 * encoded with ts_block_encode and written. Keys and values are copied, so
 * the caller's arrays may be reused at return.
 * Columns may come in any order, each once. Consecutive calls (including
 * ts_segw_add_raw_block) with the same (key, field) extend that column, and
 * then ts[0] must be after the column's last timestamp so far.
 * Returns 0 or:
 *   LOOM_EINVAL  bad argument (n == 0, empty or over-long key/field, bad
 *                type, timestamps not strictly increasing or not after the
 *                column's last one): nothing was written, w stays usable;
 *   LOOM_ETYPE   extends the previous column with a different type: nothing
 *                written, w stays usable;
 *   LOOM_ENOMEM, LOOM_EIO, LOOM_ENOSPC, or an encoder error: w is failed;
 *                every later call returns this code, finish removes the .tmp.
 * A column that appears twice non-consecutively is reported by finish
 * (LOOM_EEXIST). */
int ts_segw_add(ts_segw *w, const char *series_key, uint32_t key_len, const char *field,
                uint32_t field_len, ts_type type, const int64_t *ts, const void *vals, uint32_t n);

/* Append one already-encoded block (len bytes at block; e.g. from
 * ts_segment_block_data during compaction) to the column (key, field, type)
 * as is, same column rules as ts_segw_add. Its stats come from its header
 * (ts_block_peek); the header must say `type` and exactly `len` bytes. The
 * block's CRC is not verified here (readers verify it on decode).
 * Returns 0 or the ts_segw_add codes; LOOM_EINVAL also for a block whose
 * header does not parse or disagrees with type/len. */
int ts_segw_add_raw_block(ts_segw *w, const char *series_key, uint32_t key_len, const char *field,
                          uint32_t field_len, ts_type type, const uint8_t *block, uint32_t len);

/* Write the footer index and trailer, fsync the file, rename .tmp -> path
 * atomically (replacing any file at path) and fsync the directory. On any
 * error the .tmp is removed and nothing new appears at path. Frees w in all
 * cases. Returns 0, the code that failed w earlier, LOOM_EEXIST (a column
 * was added twice non-consecutively), LOOM_ENOMEM, LOOM_EIO or LOOM_ENOSPC. */
int ts_segw_finish(ts_segw *w);

/* Abandon the segment: close and remove the .tmp, free w. NULL is a no-op. */
void ts_segw_abort(ts_segw *w);

/* Bytes written so far (header and blocks; the index is not counted). */
uint64_t ts_segw_bytes(const ts_segw *w);

/* ------------------------------------------------------------------------
 * Reader. After open (and ts_segment_drop_names, if used), a segment is
 * immutable as far as callers can tell: any number of threads may call the
 * const functions concurrently; close must not race them. The index is kept
 * encoded in memory (~40 bytes per column with one block, once the names are
 * dropped) and a column is decoded when ts_segment_column first asks for it.
 */
typedef struct ts_segment ts_segment;

typedef struct ts_seg_block {
  uint64_t offset;      /* file offset of the encoded block */
  uint32_t len;         /* encoded bytes */
  ts_block_stats stats; /* string min/max/first/last are zero */
} ts_seg_block;

typedef struct ts_seg_column {
  const char *series_key; /* key_len bytes inside the mapping, NOT NUL-terminated */
  uint32_t key_len;
  const char *field; /* field_len bytes inside the mapping, NOT NUL-terminated */
  uint32_t field_len;
  ts_type type;
  uint32_t n_blocks;          /* >= 1 */
  const ts_seg_block *blocks; /* n_blocks, in time order */
  int64_t min_ts, max_ts;     /* ns, over all blocks */
  uint64_t n_points;          /* sum of the blocks' counts */
} ts_seg_column;

/* mmap the file at path, validate header, trailer and index (CRC, every
 * block's offset and length against the file size, sort order), and load
 * the index. On error *out is NULL and err (errlen bytes, may be NULL/0)
 * holds a message naming the file, e.g.
 * "segment /x/y.tsm: footer index checksum mismatch". Returns 0,
 * LOOM_ENOTFOUND (no such file), LOOM_EIO, LOOM_ENOMEM, LOOM_ECORRUPT
 * (anything malformed, truncated file included), LOOM_EUNSUP (other
 * version or unknown flags). */
int ts_segment_open(const char *path, ts_segment **out, char *err, size_t errlen);

/* Same over a caller-owned image of a whole segment file (len bytes), which
 * must stay valid and unchanged until ts_segment_close. `name` is used as
 * the path in messages and by ts_segment_path. A pure function over bytes:
 * this is what the fuzzer drives. Same return codes. */
int ts_segment_open_mem(const uint8_t *img, size_t len, const char *name, ts_segment **out,
                        char *err, size_t errlen);

/* Unmap and free. NULL is a no-op. Pointers handed out become invalid. */
void ts_segment_close(ts_segment *s);

uint32_t ts_segment_ncolumns(const ts_segment *s);

/* Column i (0 <= i < ncolumns) in (key, field) order, or NULL when i is out
 * of range. Decoded on first use and cached (about 80 + 128 bytes per block)
 * until close; the memory is exempt from the test-only allocation failure
 * switch, so NULL for an i in range only if the system itself is out of
 * memory. Valid until close. After ts_segment_drop_names, series_key and
 * field are NULL and their lengths 0. */
const ts_seg_column *ts_segment_column(const ts_segment *s, uint32_t i);

/* Decode column i into caller memory without caching it: *col, and its
 * block entries into blocks (room for cap). col->blocks points to blocks.
 * Names as ts_segment_column. Returns 0, LOOM_EINVAL (i out of range) or
 * LOOM_ERANGE when cap < col->n_blocks (col->n_blocks is then set: call
 * again with more room). For passes over every column (compaction) that
 * must not leave them all decoded. */
int ts_segment_column_read(const ts_segment *s, uint32_t i, ts_seg_column *col,
                           ts_seg_block *blocks, uint32_t cap);

/* Names and type of column i, pointing into the segment (valid until close
 * or ts_segment_drop_names). 0, LOOM_EINVAL (i out of range) or LOOM_EUNSUP
 * (names dropped). Decodes nothing else. */
int ts_segment_column_name(const ts_segment *s, uint32_t i, const char **key, uint32_t *key_len,
                           const char **field, uint32_t *field_len, ts_type *type);

/* Free the column names (the inflated index), keeping only what reads need:
 * for a caller that maps columns to its own ids once, right after open (the
 * engine). Afterwards ts_segment_find and ts_segment_column_name return
 * LOOM_EUNSUP and error messages name columns by index. Not thread-safe:
 * call it before the segment is shared. 0 or LOOM_ENOMEM (then nothing
 * changed). */
int ts_segment_drop_names(ts_segment *s);

/* Binary search for (key, field). 0 and *index set, LOOM_ENOTFOUND, or
 * LOOM_EUNSUP after ts_segment_drop_names. */
int ts_segment_find(const ts_segment *s, const char *key, uint32_t key_len, const char *field,
                    uint32_t field_len, uint32_t *index);

/* The block's bytes (b->len of them) inside the mapping, valid until close.
 * b must come from this segment's columns (bounds were checked at open). */
const uint8_t *ts_segment_block_data(const ts_segment *s, const ts_seg_block *b);

/* Decode block `block` of column `col` into ts / vals (typed array of the
 * column's type), both with room for cap points; strings point into strbuf
 * (see ts_block_decode); the block holds blocks[block].stats.count points.
 * Returns 0 or:
 *   LOOM_EINVAL   col or block out of range;
 *   LOOM_ERANGE   cap smaller than the block's count;
 *   LOOM_ECORRUPT bad CRC, or a block header disagreeing with the index
 *                 (type, length, count or time range); err gets
 *                 "segment <path>: block <i> of column <key> <field> at
 *                 offset <o>: checksum mismatch" (or the disagreement);
 *   LOOM_ENOMEM.
 * err may be NULL / errlen 0. */
int ts_segment_read_block(const ts_segment *s, uint32_t col, uint32_t block, int64_t *ts,
                          void *vals, uint32_t cap, loom_buf *strbuf, char *err, size_t errlen);

/* ts_segment_read_block for a block entry b that the caller already has
 * (block `block` of column `col`, from ts_segment_column_read or
 * ts_segment_column of this segment): no index lookup. Same returns. */
int ts_segment_read_block_entry(const ts_segment *s, uint32_t col, uint32_t block,
                                const ts_seg_block *b, int64_t *ts, void *vals, uint32_t cap,
                                loom_buf *strbuf, char *err, size_t errlen);

/* Drop the pages of the file mapping from this process's resident set
 * (madvise DONTNEED; they stay in the page cache and come back on the next
 * read). For passes that read a whole file once, such as compaction. Data
 * and pointers stay valid. Any thread. */
void ts_segment_release_pages(const ts_segment *s);

/* Path given at open (or name for open_mem); valid until close. */
const char *ts_segment_path(const ts_segment *s);

/* File size in bytes. */
uint64_t ts_segment_file_bytes(const ts_segment *s);

/* Total blocks over all columns. */
uint64_t ts_segment_nblocks(const ts_segment *s);

#endif
