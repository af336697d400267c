/* SPDX-License-Identifier: Apache-2.0
 * key = value configuration parser (see config.h).
 */
#include "core/config.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static int is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

int loom_config_parse(const char *text, size_t len, loom_config_cb cb, void *arg, char *err,
                      size_t errlen) {
  unsigned line = 0;
  size_t i = 0;
  while (i < len) {
    line++;
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    size_t a = i, b = e;
    i = e + 1;
    while (a < b && (text[a] == ' ' || text[a] == '\t')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
    if (a == b || text[a] == '#') continue;
    size_t k = a;
    while (k < b && is_key_char(text[k])) k++;
    if (k == a || k - a >= 64) {
      snprintf(err, errlen, "line %u: expected a setting name (a-z, 0-9, _ and .)", line);
      return LOOM_EINVAL;
    }
    char key[64];
    memcpy(key, text + a, k - a);
    key[k - a] = 0;
    while (k < b && (text[k] == ' ' || text[k] == '\t')) k++;
    if (k >= b || text[k] != '=') {
      snprintf(err, errlen, "line %u: expected '=' after \"%s\"", line, key);
      return LOOM_EINVAL;
    }
    k++;
    while (k < b && (text[k] == ' ' || text[k] == '\t')) k++;
    size_t vs = k, ve = b;
    if (vs < ve && text[vs] == '"') {
      if (ve - vs < 2 || text[ve - 1] != '"') {
        snprintf(err, errlen, "line %u: unterminated quoted value for \"%s\"", line, key);
        return LOOM_EINVAL;
      }
      vs++;
      ve--;
    } else {
      /* a trailing comment after an unquoted value */
      for (size_t c = vs; c < ve; c++)
        if (text[c] == '#') {
          ve = c;
          while (ve > vs && (text[ve - 1] == ' ' || text[ve - 1] == '\t')) ve--;
          break;
        }
    }
    char value[1024];
    if (ve - vs >= sizeof value) {
      snprintf(err, errlen, "line %u: value of \"%s\" is too long", line, key);
      return LOOM_EINVAL;
    }
    memcpy(value, text + vs, ve - vs);
    value[ve - vs] = 0;
    if (memchr(value, 0, ve - vs)) {
      snprintf(err, errlen, "line %u: NUL byte in value", line);
      return LOOM_EINVAL;
    }
    int rc = cb(arg, key, value, line, err, errlen);
    if (rc) return rc;
  }
  return 0;
}
