/* SPDX-License-Identifier: Apache-2.0
 * Percent-decoding, request-target splitting and parameter parsing for the
 * HTTP server (see url.h). Pure functions over caller-owned bytes.
 */
#include "http/url.h"

#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int http_url_decode(const char *in, size_t len, int plus_as_space, char *out, size_t *out_len) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '%') {
      if (len - i < 3) return LOOM_EINVAL;
      int hi = hexval((unsigned char)in[i + 1]), lo = hexval((unsigned char)in[i + 2]);
      if (hi < 0 || lo < 0) return LOOM_EINVAL;
      c = (unsigned char)(hi << 4 | lo);
      if (c == 0) return LOOM_EINVAL;
      i += 2;
    } else if (c == '+' && plus_as_space) {
      c = ' ';
    } else if (c == 0) {
      return LOOM_EINVAL;
    }
    out[o++] = (char)c;
  }
  out[o] = 0;
  *out_len = o;
  return 0;
}

int http_url_split(const char *target, size_t len, http_url_parts *out) {
  memset(out, 0, sizeof *out);
  if (len == 0) return LOOM_EINVAL;
  const char *end = target + len;
  const char *hash = memchr(target, '#', len);
  if (hash) end = hash;
  if (len == 1 && target[0] == '*') {
    out->path = target;
    out->path_len = 1;
    return 0;
  }
  const char *p = target;
  if (target[0] != '/') {
    /* absolute form: scheme "://" authority [path] */
    const char *sep = NULL;
    for (const char *q = target; q + 2 < end; q++) {
      if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
        sep = q;
        break;
      }
      if (q[0] == '/' || q[0] == '?') break;
    }
    if (!sep || sep == target) return LOOM_EINVAL;
    p = sep + 3;
    while (p < end && *p != '/' && *p != '?') p++;
  }
  const char *qm = memchr(p, '?', (size_t)(end - p));
  const char *path_end = qm ? qm : end;
  if (path_end == p) {
    out->path = "/";
    out->path_len = 1;
  } else {
    out->path = p;
    out->path_len = (size_t)(path_end - p);
  }
  if (qm) {
    out->query = qm + 1;
    out->query_len = (size_t)(end - qm - 1);
  }
  return 0;
}

void http_params_init(http_params *p) { memset(p, 0, sizeof *p); }

void http_params_deinit(http_params *p) {
  for (size_t i = 0; i < p->n_blocks; i++) loom_free(p->blocks[i]);
  loom_free(p->blocks);
  loom_free(p->items);
  http_params_init(p);
}

int http_params_parse(http_params *p, const char *s, size_t len) {
  /* Count segments first so every allocation happens before p changes. */
  size_t n_seg = 0;
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && s[j] != '&') j++;
    if (j > i) n_seg++;
    i = j + 1;
  }
  if (n_seg == 0) return 0;
  /* decoded text is never longer than the input; each pair adds 2 NULs */
  if (n_seg > (SIZE_MAX - len) / 2 - 1) return LOOM_ENOMEM;
  char *block = loom_malloc(len + 2 * n_seg + 1);
  char **blocks = loom_realloc(p->blocks, (p->n_blocks + 1) * sizeof *blocks);
  if (blocks) p->blocks = blocks;
  http_param *items = NULL;
  if (p->n + n_seg > p->cap) {
    size_t cap = p->cap ? p->cap : 8;
    while (cap < p->n + n_seg) cap *= 2;
    items = loom_realloc(p->items, cap * sizeof *items);
    if (items) {
      p->items = items;
      p->cap = cap;
    }
  } else {
    items = p->items;
  }
  if (!block || !blocks || !items) {
    loom_free(block);
    return LOOM_ENOMEM;
  }
  char *o = block;
  size_t n0 = p->n;
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && s[j] != '&') j++;
    if (j > i) {
      const char *seg = s + i;
      size_t seg_len = j - i;
      const char *eq = memchr(seg, '=', seg_len);
      size_t name_len = eq ? (size_t)(eq - seg) : seg_len;
      size_t dn, dv;
      if (http_url_decode(seg, name_len, 1, o, &dn) < 0) goto bad;
      p->items[p->n].name = o;
      o += dn + 1;
      if (eq) {
        if (http_url_decode(eq + 1, seg_len - name_len - 1, 1, o, &dv) < 0) goto bad;
      } else {
        o[0] = 0;
        dv = 0;
      }
      p->items[p->n].value = o;
      o += dv + 1;
      p->n++;
    }
    i = j + 1;
  }
  p->blocks[p->n_blocks++] = block;
  return 0;
bad:
  p->n = n0;
  loom_free(block);
  return LOOM_EINVAL;
}

const char *http_params_get(const http_params *p, const char *name) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->items[i].name, name) == 0) return p->items[i].value;
  return NULL;
}
