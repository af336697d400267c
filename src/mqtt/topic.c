/* SPDX-License-Identifier: Apache-2.0
 * MQTT topic name/filter validation and matching: see topic.h. A byte-wise
 * single pass for each function; no allocation.
 */
#include "mqtt/topic.h"

#include <stdint.h>
#include <string.h>

#include "core/err.h"

int mqtt_utf8_validate(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned c = p[i];
    if (c < 0x80) {
      if (c == 0) return LOOM_EINVAL; /* [MQTT-1.5.4-2] */
      i++;
      continue;
    }
    unsigned need, min;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
    else return LOOM_EINVAL;
    if (len - i - 1 < need) return LOOM_EINVAL;
    for (unsigned k = 1; k <= need; k++) {
      unsigned cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return LOOM_EINVAL;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF) return LOOM_EINVAL;
    if (cp >= 0xD800 && cp <= 0xDFFF) return LOOM_EINVAL; /* [MQTT-1.5.4-1] */
    i += need + 1;
  }
  return 0;
}

int mqtt_topic_name_validate(const char *s, size_t len) {
  if (!s || len == 0) return LOOM_EINVAL;
  if (len > MQTT_TOPIC_MAX_LEN) return LOOM_ERANGE;
  for (size_t i = 0; i < len; i++)
    if (s[i] == '+' || s[i] == '#') return LOOM_EINVAL;
  return mqtt_utf8_validate(s, len);
}

int mqtt_topic_filter_validate(const char *s, size_t len) {
  if (!s || len == 0) return LOOM_EINVAL;
  if (len > MQTT_TOPIC_MAX_LEN) return LOOM_ERANGE;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c != '+' && c != '#') continue;
    bool starts = (i == 0 || s[i - 1] == '/');
    if (!starts) return LOOM_EINVAL;
    if (c == '#') {
      if (i != len - 1) return LOOM_EINVAL; /* [MQTT-4.7.1-1] */
    } else if (i + 1 < len && s[i + 1] != '/') {
      return LOOM_EINVAL; /* [MQTT-4.7.1-2] */
    }
  }
  return mqtt_utf8_validate(s, len);
}

int mqtt_topic_share_parse(const char *s, size_t len, mqtt_share *out) {
  static const char pfx[] = "$share/";
  const size_t plen = sizeof pfx - 1;
  if (!s || len < plen || memcmp(s, pfx, plen) != 0) return 0;
  if (len > MQTT_TOPIC_MAX_LEN) return LOOM_ERANGE;
  size_t g = plen, i = g;
  while (i < len && s[i] != '/') {
    if (s[i] == '+' || s[i] == '#') return LOOM_EINVAL; /* [MQTT-4.8.2-2] */
    i++;
  }
  if (i == g) return LOOM_EINVAL; /* [MQTT-4.8.2-1] empty ShareName */
  if (i == len || i + 1 == len) return LOOM_EINVAL; /* no filter */
  int rc = mqtt_utf8_validate(s + g, i - g);
  if (rc) return rc;
  rc = mqtt_topic_filter_validate(s + i + 1, len - i - 1);
  if (rc) return rc;
  if (out) {
    out->group = s + g;
    out->group_len = i - g;
    out->filter = s + i + 1;
    out->filter_len = len - i - 1;
  }
  return 1;
}

bool mqtt_topic_matches(const char *f, size_t flen, const char *n,
                        size_t nlen) {
  if (!f || !n || flen == 0 || nlen == 0) return false;
  if (n[0] == '$' && (f[0] == '+' || f[0] == '#')) return false;
  size_t fi = 0, ni = 0;
  for (;;) {
    /* at the start of a level in both */
    if (fi < flen && f[fi] == '#') return true;
    size_t fe = fi;
    while (fe < flen && f[fe] != '/') fe++;
    size_t ne = ni;
    while (ne < nlen && n[ne] != '/') ne++;
    if (!(fe - fi == 1 && f[fi] == '+')) {
      if (fe - fi != ne - ni || memcmp(f + fi, n + ni, fe - fi) != 0)
        return false;
    }
    bool fend = (fe == flen), nend = (ne == nlen);
    if (fend && nend) return true;
    if (nend) {
      /* name exhausted: "a/#" matches "a" */
      return fe + 2 == flen && f[fe + 1] == '#';
    }
    if (fend) return false;
    fi = fe + 1;
    ni = ne + 1;
  }
}

bool mqtt_topic_has_wildcard(const char *filter, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (filter[i] == '+' || filter[i] == '#') return true;
  return false;
}
