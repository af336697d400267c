/* SPDX-License-Identifier: Apache-2.0
 * gzip/deflate request-body decoding with zlib and an output cap (body.h).
 * Decompresses in bounded steps straight into the caller's buffer and stops
 * as soon as the cap is passed, so a decompression bomb costs at most
 * max_len bytes of memory.
 */
#include "http/body.h"

#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/err.h"
#include "core/mem.h"

#define STEP (64 * 1024)

static voidpf zalloc_cb(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  if (size && items > SIZE_MAX / size) return Z_NULL;
  return loom_malloc((size_t)items * size);
}

static void zfree_cb(voidpf opaque, voidpf p) {
  (void)opaque;
  loom_free(p);
}

int http_body_encoding_parse(const char *ce, http_body_encoding *enc) {
  *enc = HTTP_BODY_IDENTITY;
  if (!ce) return 0;
  while (*ce == ' ' || *ce == '\t') ce++;
  size_t n = strlen(ce);
  while (n && (ce[n - 1] == ' ' || ce[n - 1] == '\t')) n--;
  if (n == 0 || (n == 8 && strncasecmp(ce, "identity", 8) == 0)) return 0;
  if ((n == 4 && strncasecmp(ce, "gzip", 4) == 0) || (n == 6 && strncasecmp(ce, "x-gzip", 6) == 0)) {
    *enc = HTTP_BODY_GZIP;
    return 0;
  }
  if (n == 7 && strncasecmp(ce, "deflate", 7) == 0) {
    *enc = HTTP_BODY_DEFLATE;
    return 0;
  }
  return LOOM_EUNSUP;
}

/* One inflate pass with the given windowBits. *raw_retry is set when the
 * data failed at its very first bytes (for deflate: try raw deflate). */
static int inflate_all(int window_bits, int multi_member, const uint8_t *in, size_t len,
                       size_t max_len, loom_buf *out, int *raw_retry) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = zalloc_cb;
  zs.zfree = zfree_cb;
  *raw_retry = 0;
  int zr = inflateInit2(&zs, window_bits);
  if (zr != Z_OK) return zr == Z_MEM_ERROR ? LOOM_ENOMEM : LOOM_EINVAL;
  int rc = 0;
  size_t start = out->len;
  const uint8_t *p = in;
  size_t left = len;
  for (;;) {
    uInt chunk_in = left > (size_t)UINT32_MAX ? UINT32_MAX : (uInt)left;
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = chunk_in;
    size_t room = max_len - (out->len - start);
    /* ask for one byte more than allowed so overflow is detectable */
    size_t want = room < STEP ? room + 1 : STEP;
    rc = loom_buf_reserve(out, want);
    if (rc < 0) goto done;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)want;
    zr = inflate(&zs, Z_NO_FLUSH);
    size_t produced = want - zs.avail_out;
    size_t consumed = chunk_in - zs.avail_in;
    out->len += produced;
    p += consumed;
    left -= consumed;
    if (out->len - start > max_len) {
      rc = LOOM_ERANGE;
      goto done;
    }
    if (zr == Z_STREAM_END) {
      if (left == 0) break;
      if (multi_member) {
        if (inflateReset(&zs) != Z_OK) {
          rc = LOOM_ECORRUPT;
          goto done;
        }
        continue;
      }
      rc = LOOM_ECORRUPT; /* trailing garbage */
      goto done;
    }
    if (zr == Z_MEM_ERROR) {
      rc = LOOM_ENOMEM;
      goto done;
    }
    if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
      if (out->len == start && consumed <= 2 && p - in <= 2) *raw_retry = 1;
      rc = LOOM_ECORRUPT;
      goto done;
    }
    if (zr == Z_BUF_ERROR && left == 0 && produced == 0) {
      rc = LOOM_ECORRUPT; /* input ended inside the stream */
      goto done;
    }
  }
done:
  inflateEnd(&zs);
  if (rc < 0) out->len = start;
  return rc;
}

int http_body_decode(http_body_encoding enc, const uint8_t *in, size_t len, size_t max_len,
                     loom_buf *out) {
  if (enc == HTTP_BODY_IDENTITY) {
    if (len > max_len) return LOOM_ERANGE;
    return loom_buf_append(out, in, len);
  }
  if (len == 0) return 0;
  int retry = 0;
  if (enc == HTTP_BODY_GZIP) return inflate_all(15 + 16, 1, in, len, max_len, out, &retry);
  int rc = inflate_all(15, 0, in, len, max_len, out, &retry);
  if (rc == LOOM_ECORRUPT && retry) rc = inflate_all(-15, 0, in, len, max_len, out, &retry);
  return rc;
}
