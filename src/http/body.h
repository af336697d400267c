/* SPDX-License-Identifier: Apache-2.0
 * Request body decoding for the HTTP server: Content-Encoding gzip (also
 * x-gzip and concatenated gzip members), deflate (zlib-wrapped, or raw deflate
 * as some clients send) and identity, with a hard limit on the decoded size
 * so a small compressed body cannot expand into gigabytes. Pure: bytes in,
 * bytes out; zlib allocates through core/mem.
 */
#ifndef LOOM_HTTP_BODY_H
#define LOOM_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum http_body_encoding {
  HTTP_BODY_IDENTITY = 0,
  HTTP_BODY_GZIP = 1,
  HTTP_BODY_DEFLATE = 2
} http_body_encoding;

/* Map a Content-Encoding header value (NULL or "" = identity; matching is
 * case-insensitive and ignores surrounding spaces) to *enc. Returns 0, or
 * LOOM_EUNSUP for an encoding not listed above (e.g. "br", or a list such as
 * "gzip, gzip"). */
int http_body_encoding_parse(const char *content_encoding, http_body_encoding *enc);

/* Decode in[0..len) per enc and append the result to out. At most max_len
 * bytes are produced. An empty input decodes to nothing for every encoding.
 * Returns 0; LOOM_ERANGE if the decoded body would exceed max_len;
 * LOOM_ECORRUPT for invalid or truncated compressed data (also trailing bytes
 * after a deflate stream); LOOM_ENOMEM. On error out->len is restored to its
 * value on entry. Any thread. */
int http_body_decode(http_body_encoding enc, const uint8_t *in, size_t len, size_t max_len,
                     loom_buf *out);

#endif
