/* SPDX-License-Identifier: Apache-2.0
 * String column codec (layout in enc_str.h). The encoder finds distinct
 * values with an open-addressing hash table (xxHash3); the decoder expands
 * the dictionary into the caller's string buffer, then points every value
 * into it once the buffer has stopped growing.
 */
#include "ts/enc_str.h"

#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "core/err.h"
#include "core/mem.h"
#include "ts/enc_int.h"

/* zstd level for dictionaries: fast, as blocks are written on ingest flush. */
#define STR_ZSTD_LEVEL 3
/* Dictionaries shorter than this are never worth a zstd frame. */
#define STR_ZSTD_MIN 64
/* Upper bound of zstd's expansion ratio (see the decoder). */
#define ZSTD_MAX_RATIO 32768

static int str_eq(const ts_str *a, const ts_str *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

int ts_enc_str_encode(const ts_str *v, uint32_t n, loom_buf *out) {
  int rc = LOOM_ENOMEM;
  size_t start = out->len;
  uint32_t cap = 16;
  while (cap < 2 * (size_t)n) cap <<= 1;
  /* slots[cap]: dictionary index + 1 (0 = empty); dict[n]: point of first
   * appearance of each distinct value; idx[n]: each point's dict index. */
  uint32_t *mem = loom_calloc((size_t)cap + 2 * (size_t)n, sizeof(uint32_t));
  loom_buf blob, z;
  loom_buf_init(&blob);
  loom_buf_init(&z);
  if (!mem) goto out;
  uint32_t *slots = mem, *dict = mem + cap, *idx = mem + cap + n;
  uint32_t ndict = 0;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = (uint32_t)XXH3_64bits(v[i].len ? v[i].p : "", v[i].len) & (cap - 1);
    while (slots[h] && !str_eq(&v[dict[slots[h] - 1]], &v[i])) h = (h + 1) & (cap - 1);
    if (!slots[h]) {
      dict[ndict] = i;
      slots[h] = ++ndict;
      bytes += v[i].len;
    }
    idx[i] = slots[h] - 1;
  }
  if (bytes + (uint64_t)ndict * 5 > TS_ENC_STR_MAX_DICT) {
    rc = LOOM_EINVAL;
    goto out;
  }
  for (uint32_t d = 0; d < ndict; d++)
    if (loom_buf_append_uvarint(&blob, v[dict[d]].len)) goto out;
  if (loom_buf_reserve(&blob, (size_t)bytes)) goto out;
  for (uint32_t d = 0; d < ndict; d++)
    if (v[dict[d]].len) loom_buf_append(&blob, v[dict[d]].p, v[dict[d]].len);

  int zstd = 0;
  if (blob.len >= STR_ZSTD_MIN) {
    size_t bound = ZSTD_compressBound(blob.len);
    if (loom_buf_reserve(&z, bound)) goto out;
    size_t zn = ZSTD_compress(z.data, bound, blob.data, blob.len, STR_ZSTD_LEVEL);
    if (!ZSTD_isError(zn) && zn + 4 < blob.len) {
      z.len = zn;
      zstd = 1;
    }
  }
  unsigned w = ts_bits_width(ndict - 1);
  size_t stored = zstd ? z.len : blob.len;
  if (loom_buf_reserve(out, 32 + stored + ts_bits_len(n, w))) goto out;
  /* Room is reserved: the appends below cannot fail. */
  loom_buf_append_uvarint(out, ndict);
  loom_buf_append_u8(out, (uint8_t)zstd);
  loom_buf_append_uvarint(out, blob.len);
  if (zstd) loom_buf_append_uvarint(out, z.len);
  loom_buf_append(out, zstd ? z.data : blob.data, stored);
  ts_bitw bw;
  ts_bitw_init(&bw, out->data + out->len);
  if (w)
    for (uint32_t i = 0; i < n; i++) ts_bitw_put(&bw, idx[i], w);
  out->len = (size_t)(ts_bitw_finish(&bw) - out->data);
  rc = 0;
out:
  if (rc) out->len = start;
  loom_buf_deinit(&z);
  loom_buf_deinit(&blob);
  loom_free(mem);
  return rc;
}

int ts_enc_str_decode(const uint8_t *p, size_t len, uint32_t n, ts_str *out, loom_buf *strbuf) {
  loom_rd r;
  loom_rd_init(&r, p, len);
  uint64_t ndict, raw_len, stored_len;
  uint8_t codec;
  if (n == 0 || loom_rd_uvarint(&r, &ndict) || ndict == 0 || ndict > n ||
      loom_rd_u8(&r, &codec) || codec > 1 || loom_rd_uvarint(&r, &raw_len) ||
      raw_len > TS_ENC_STR_MAX_DICT)
    return LOOM_ECORRUPT;
  stored_len = raw_len;
  if (codec == 1 && loom_rd_uvarint(&r, &stored_len)) return LOOM_ECORRUPT;
  const uint8_t *stored;
  if (stored_len > r.len || loom_rd_ptr(&r, &stored, (size_t)stored_len)) return LOOM_ECORRUPT;
  unsigned w = ts_bits_width(ndict - 1);
  if (r.len != ts_bits_len(n, w)) return LOOM_ECORRUPT;
  /* A zstd block expands at most 128 KiB from 4 bytes (an RLE block), so
   * a larger claim is a lie; refusing it bounds what we allocate. */
  if (codec == 1 && (raw_len > stored_len * ZSTD_MAX_RATIO ||
                     ZSTD_getFrameContentSize(stored, (size_t)stored_len) != raw_len))
    return LOOM_ECORRUPT;

  int rc = LOOM_ENOMEM;
  size_t base = strbuf->len;
  uint32_t *off = NULL;
  if (loom_buf_reserve(strbuf, (size_t)raw_len ? (size_t)raw_len : 1)) goto out;
  uint8_t *dst = strbuf->data + base;
  if (codec == 1) {
    size_t got = ZSTD_decompress(dst, (size_t)raw_len, stored, (size_t)stored_len);
    if (ZSTD_isError(got) || got != raw_len) {
      rc = LOOM_ECORRUPT;
      goto out;
    }
  } else if (raw_len) {
    memcpy(dst, stored, (size_t)raw_len);
  }
  /* Parse the lengths, then move the values' bytes down over them. */
  off = loom_malloc(((size_t)ndict + 1) * sizeof(*off));
  if (!off) goto out;
  rc = LOOM_ECORRUPT;
  loom_rd d;
  loom_rd_init(&d, dst, (size_t)raw_len);
  uint64_t total = 0;
  for (uint64_t i = 0; i < ndict; i++) {
    uint64_t l;
    if (loom_rd_uvarint(&d, &l) || l > d.len) goto out;
    off[i] = (uint32_t)total;
    total += l;
    if (total > d.len) goto out;
  }
  if (total != d.len) goto out;
  off[ndict] = (uint32_t)total;
  memmove(dst, d.p, (size_t)total);
  strbuf->len = base + (size_t)total;
  /* strbuf is complete: pointers into it are stable from here on. */
  const char *sb = (const char *)strbuf->data + base;
  uint64_t chunk[256];
  for (uint32_t i = 0; i < n; i += 256) {
    uint32_t c = n - i < 256 ? n - i : 256;
    ts_bits_unpack(r.p, r.len, w, i, c, chunk);
    for (uint32_t j = 0; j < c; j++) {
      uint64_t k = chunk[j];
      if (k >= ndict) goto out;
      out[i + j].p = sb + off[k];
      out[i + j].len = off[k + 1] - off[k];
    }
  }
  rc = 0;
out:
  if (rc) strbuf->len = base;
  loom_free(off);
  return rc;
}
