/* SPDX-License-Identifier: Apache-2.0
 * Growable byte buffer (writer) and bounds-checked byte reader. Integers are
 * little-endian; varints are LEB128 (unsigned) and zigzag LEB128 (signed).
 * Used by every codec, so they stay pure functions over bytes.
 */
#ifndef LOOM_CORE_BUF_H
#define LOOM_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct loom_buf {
  uint8_t *data; /* owned; NULL when cap == 0 */
  size_t len;    /* bytes used */
  size_t cap;    /* bytes allocated */
} loom_buf;

/* Initialise an empty buffer (no allocation). */
void loom_buf_init(loom_buf *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
void loom_buf_deinit(loom_buf *b);
/* Ensure room for `extra` more bytes. 0 or LOOM_ENOMEM. */
int loom_buf_reserve(loom_buf *b, size_t extra);
/* Appenders: 0 or LOOM_ENOMEM (the buffer is unchanged on failure). */
int loom_buf_append(loom_buf *b, const void *p, size_t n);
int loom_buf_append_str(loom_buf *b, const char *s);
int loom_buf_append_u8(loom_buf *b, uint8_t v);
int loom_buf_append_u16(loom_buf *b, uint16_t v);
int loom_buf_append_u32(loom_buf *b, uint32_t v);
int loom_buf_append_u64(loom_buf *b, uint64_t v);
int loom_buf_append_uvarint(loom_buf *b, uint64_t v);
int loom_buf_append_svarint(loom_buf *b, int64_t v);
int loom_buf_printf(loom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int loom_buf_vprintf(loom_buf *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal with quotes and escapes. */
int loom_buf_append_json_str(loom_buf *b, const char *s, size_t n);
/* Make data NUL-terminated without counting the NUL in len. */
int loom_buf_cstr(loom_buf *b);
/* Forget the contents, keep the memory. */
static inline void loom_buf_reset(loom_buf *b) { b->len = 0; }

/* Reader over caller-owned bytes. Getters return 0, or LOOM_ETRUNC when the
 * input is too short (the reader is then left unchanged), or LOOM_ECORRUPT
 * for an over-long varint. */
typedef struct loom_rd {
  const uint8_t *p;
  size_t len; /* bytes remaining from p */
} loom_rd;

static inline void loom_rd_init(loom_rd *r, const void *p, size_t len) {
  r->p = p;
  r->len = len;
}
int loom_rd_bytes(loom_rd *r, void *out, size_t n);
/* Point *out at the next n bytes (no copy) and skip them. */
int loom_rd_ptr(loom_rd *r, const uint8_t **out, size_t n);
int loom_rd_u8(loom_rd *r, uint8_t *v);
int loom_rd_u16(loom_rd *r, uint16_t *v);
int loom_rd_u32(loom_rd *r, uint32_t *v);
int loom_rd_u64(loom_rd *r, uint64_t *v);
int loom_rd_uvarint(loom_rd *r, uint64_t *v);
int loom_rd_svarint(loom_rd *r, int64_t *v);

/* Raw little-endian helpers over memory. */
static inline uint32_t loom_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t loom_le64(const uint8_t *p) {
  return (uint64_t)loom_le32(p) | (uint64_t)loom_le32(p + 4) << 32;
}
static inline void loom_put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void loom_put_le64(uint8_t *p, uint64_t v) {
  loom_put_le32(p, (uint32_t)v);
  loom_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
