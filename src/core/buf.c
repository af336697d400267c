/* SPDX-License-Identifier: Apache-2.0
 * Growable buffer and bounds-checked reader (see buf.h).
 */
#include "core/buf.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

void loom_buf_init(loom_buf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

void loom_buf_deinit(loom_buf *b) {
  loom_free(b->data);
  loom_buf_init(b);
}

int loom_buf_reserve(loom_buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  if (extra > SIZE_MAX / 2 - b->len) return LOOM_ENOMEM;
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len < extra) cap *= 2;
  uint8_t *p = loom_realloc(b->data, cap);
  if (!p) return LOOM_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int loom_buf_append(loom_buf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  int rc = loom_buf_reserve(b, n);
  if (rc) return rc;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int loom_buf_append_str(loom_buf *b, const char *s) { return loom_buf_append(b, s, strlen(s)); }

int loom_buf_append_u8(loom_buf *b, uint8_t v) { return loom_buf_append(b, &v, 1); }

int loom_buf_append_u16(loom_buf *b, uint16_t v) {
  uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  return loom_buf_append(b, t, 2);
}

int loom_buf_append_u32(loom_buf *b, uint32_t v) {
  uint8_t t[4];
  loom_put_le32(t, v);
  return loom_buf_append(b, t, 4);
}

int loom_buf_append_u64(loom_buf *b, uint64_t v) {
  uint8_t t[8];
  loom_put_le64(t, v);
  return loom_buf_append(b, t, 8);
}

int loom_buf_append_uvarint(loom_buf *b, uint64_t v) {
  uint8_t t[10];
  size_t n = 0;
  while (v >= 0x80) {
    t[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  t[n++] = (uint8_t)v;
  return loom_buf_append(b, t, n);
}

int loom_buf_append_svarint(loom_buf *b, int64_t v) {
  return loom_buf_append_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int loom_buf_vprintf(loom_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return LOOM_EINVAL;
  }
  int rc;
  if ((size_t)n < sizeof small) {
    rc = loom_buf_append(b, small, (size_t)n);
  } else {
    rc = loom_buf_reserve(b, (size_t)n + 1);
    if (!rc) {
      vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
      b->len += (size_t)n;
    }
  }
  va_end(ap2);
  return rc;
}

int loom_buf_printf(loom_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = loom_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

int loom_buf_append_json_str(loom_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  int rc = loom_buf_reserve(b, n + 2);
  if (rc) return rc;
  b->data[b->len++] = '"';
  size_t run = 0; /* start of a run of bytes that need no escape */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if ((rc = loom_buf_append(b, s + run, i - run))) return rc;
    run = i + 1;
    char esc[7] = {'\\', 0};
    size_t elen = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      elen = 6;
    }
    if ((rc = loom_buf_append(b, esc, elen))) return rc;
  }
  if ((rc = loom_buf_append(b, s + run, n - run))) return rc;
  return loom_buf_append_u8(b, '"');
}

int loom_buf_cstr(loom_buf *b) {
  int rc = loom_buf_reserve(b, 1);
  if (rc) return rc;
  b->data[b->len] = 0;
  return 0;
}

int loom_rd_ptr(loom_rd *r, const uint8_t **out, size_t n) {
  if (r->len < n) return LOOM_ETRUNC;
  *out = r->p;
  r->p += n;
  r->len -= n;
  return 0;
}

int loom_rd_bytes(loom_rd *r, void *out, size_t n) {
  const uint8_t *p;
  int rc = loom_rd_ptr(r, &p, n);
  if (!rc && n) memcpy(out, p, n);
  return rc;
}

int loom_rd_u8(loom_rd *r, uint8_t *v) { return loom_rd_bytes(r, v, 1); }

int loom_rd_u16(loom_rd *r, uint16_t *v) {
  const uint8_t *p;
  int rc = loom_rd_ptr(r, &p, 2);
  if (!rc) *v = (uint16_t)(p[0] | p[1] << 8);
  return rc;
}

int loom_rd_u32(loom_rd *r, uint32_t *v) {
  const uint8_t *p;
  int rc = loom_rd_ptr(r, &p, 4);
  if (!rc) *v = loom_le32(p);
  return rc;
}

int loom_rd_u64(loom_rd *r, uint64_t *v) {
  const uint8_t *p;
  int rc = loom_rd_ptr(r, &p, 8);
  if (!rc) *v = loom_le64(p);
  return rc;
}

int loom_rd_uvarint(loom_rd *r, uint64_t *v) {
  uint64_t x = 0;
  for (size_t i = 0; i < 10; i++) {
    if (i >= r->len) return LOOM_ETRUNC;
    uint8_t c = r->p[i];
    if (i == 9 && c > 1) return LOOM_ECORRUPT;
    x |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      r->p += i + 1;
      r->len -= i + 1;
      *v = x;
      return 0;
    }
  }
  return LOOM_ECORRUPT;
}

int loom_rd_svarint(loom_rd *r, int64_t *v) {
  uint64_t u;
  int rc = loom_rd_uvarint(r, &u);
  if (!rc) *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
  return rc;
}
