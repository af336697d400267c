/* SPDX-License-Identifier: Apache-2.0
 * Boolean column codec (layout in enc_bool.h): constant blocks take two
 * bytes, others one bit per point.
 */
#include "ts/enc_bool.h"

#include <string.h>

#include "core/err.h"

int ts_enc_bool_encode(const uint8_t *v, uint32_t n, loom_buf *out) {
  uint8_t first = v[0] != 0;
  uint32_t i = 1;
  while (i < n && (v[i] != 0) == first) i++;
  if (i == n) {
    uint8_t c[2] = {1, first};
    return loom_buf_append(out, c, 2) ? LOOM_ENOMEM : 0;
  }
  size_t bytes = ((size_t)n + 7) / 8;
  if (loom_buf_reserve(out, 1 + bytes)) return LOOM_ENOMEM;
  uint8_t *p = out->data + out->len;
  p[0] = 0;
  memset(p + 1, 0, bytes);
  for (i = 0; i < n; i++)
    if (v[i]) p[1 + (i >> 3)] |= (uint8_t)(1u << (i & 7));
  out->len += 1 + bytes;
  return 0;
}

int ts_enc_bool_decode(const uint8_t *p, size_t len, uint32_t n, uint8_t *out) {
  if (len < 1 || n == 0) return LOOM_ECORRUPT;
  if (p[0] == 1) {
    if (len != 2 || p[1] > 1) return LOOM_ECORRUPT;
    memset(out, p[1], n);
    return 0;
  }
  if (p[0] != 0 || len - 1 != ((size_t)n + 7) / 8) return LOOM_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) out[i] = (p[1 + (i >> 3)] >> (i & 7)) & 1;
  return 0;
}
