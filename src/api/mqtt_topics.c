/* SPDX-License-Identifier: Apache-2.0
 * The MQTT platform's topic mapping and authorization (mqtt_platform.h:
 * api_mqtt_map_in / api_mqtt_map_out): tenant mounts, each device's "me"
 * and gateway topics, the global exceptions ($SYS, Sparkplug STATE), and
 * the role rules. Pure functions of the client and the topic (no I/O, no
 * state), so they are unit-tested and fuzzed on their own.
 */
#include <stdio.h>
#include <string.h>

#include "api/mqtt_platform.h"

static bool starts(const char *t, size_t n, const char *pre) {
  size_t k = strlen(pre);
  return n >= k && !memcmp(t, pre, k);
}

/* Level i (0-based) of t into *lv / *lvn; false when absent. */
static bool level(const char *t, size_t n, int i, const char **lv, size_t *lvn) {
  size_t s = 0;
  for (int k = 0; k < i; k++) {
    const char *sl = memchr(t + s, '/', n - s);
    if (!sl) return false;
    s = (size_t)(sl - t) + 1;
  }
  const char *e = memchr(t + s, '/', n - s);
  *lv = t + s;
  *lvn = e ? (size_t)(e - (t + s)) : n - s;
  return true;
}

static bool lv_is(const char *lv, size_t n, const char *s) {
  return n == strlen(s) && !memcmp(lv, s, n);
}

/* May c publish (or subscribe, when sub) in its namespace? */
static bool role_allows(const api_mqtt_client *c, bool sub) {
  if (c->kind == API_MQTT_DEVICE) return true;
  const char *t = c->tenant_id[0] ? c->tenant_id : NULL;
  if (sub) return sec_policy_check(&c->who, SEC_PERM_TELEMETRY_READ, t, NULL) == 0;
  return sec_policy_check(&c->who, SEC_PERM_TELEMETRY_WRITE, t, NULL) == 0 ||
         sec_policy_check(&c->who, SEC_PERM_RPC_SEND, t, NULL) == 0;
}

static int append(loom_buf *out, const char *a, size_t an, const char *b, size_t bn,
                  const char *c, size_t cn) {
  if (loom_buf_append(out, a, an) || loom_buf_append(out, b, bn) || loom_buf_append(out, c, cn))
    return 0x97; /* quota: out of memory */
  return 0;
}

int api_mqtt_map_in(const api_mqtt_client *c, bool is_filter, const char *t, size_t n,
                    loom_buf *out) {
  if (!role_allows(c, is_filter)) return 0x87;
  if (starts(t, n, "$SYS/") || lv_is(t, n, "$SYS")) /* admins read; nobody writes */
    return is_filter && c->kind == API_MQTT_USER && c->who.role == SEC_ROLE_PLATFORM_ADMIN &&
                   !c->tenant_id[0] ? 0 : 0x87;
  if (starts(t, n, "spBv1.0/STATE/") || lv_is(t, n, "spBv1.0/STATE")) /* global */
    return c->kind == API_MQTT_DEVICE && !is_filter ? 0x87 : 0;
  if (!c->mount_len) return 0; /* platform admin: the broker's topics as they are */
  const char *l0, *l1, *l2;
  size_t n0, n1, n2;
  level(t, n, 0, &l0, &n0);
  if (lv_is(l0, n0, "v1") && level(t, n, 1, &l1, &n1)) {
    bool devices = lv_is(l1, n1, "devices"), gateway = lv_is(l1, n1, "gateway");
    if (devices && c->kind == API_MQTT_DEVICE) {
      if (!level(t, n, 2, &l2, &n2) || !lv_is(l2, n2, "me")) return 0x87; /* another device */
      size_t skip = (size_t)(l2 + n2 - t); /* "v1/devices/me" */
      return append(out, c->mount, c->mount_len, "v1/devices/", 11, c->device_id,
                    strlen(c->device_id)) ||
                     loom_buf_append(out, t + skip, n - skip)
                 ? 0x97
                 : 0;
    }
    if (gateway && c->kind == API_MQTT_DEVICE) {
      if (!c->gateway) return 0x87;
      size_t skip = (size_t)(l1 + n1 - t); /* "v1/gateway" */
      return append(out, c->mount, c->mount_len, "v1/gateway/", 11, c->device_id,
                    strlen(c->device_id)) ||
                     loom_buf_append(out, t + skip, n - skip)
                 ? 0x97
                 : 0;
    }
  }
  return append(out, c->mount, c->mount_len, t, n, "", 0);
}

int api_mqtt_map_out(const api_mqtt_client *c, const char *t, size_t n, char *scratch, size_t cap,
                     const char **out, size_t *out_n) {
  *out = t;
  *out_n = n;
  if (!c->mount_len) return 0;
  if (!starts(t, n, c->mount)) /* global topics only */
    return starts(t, n, "spBv1.0/STATE/") || starts(t, n, "$SYS/") ? 0 : -1;
  t += c->mount_len;
  n -= c->mount_len;
  *out = t;
  *out_n = n;
  if (c->kind != API_MQTT_DEVICE) return 0;
  const char *l1, *l2;
  size_t n1, n2;
  if (!starts(t, n, "v1/") || !level(t, n, 1, &l1, &n1)) return 0;
  bool devices = lv_is(l1, n1, "devices"), gateway = lv_is(l1, n1, "gateway");
  if (!devices && !gateway) return 0;
  if (!level(t, n, 2, &l2, &n2) || !lv_is(l2, n2, c->device_id)) return -1; /* not its own */
  if (gateway && !c->gateway) return -1;
  size_t rest = (size_t)(l2 + n2 - t);
  int k = snprintf(scratch, cap, "%s%.*s", devices ? "v1/devices/me" : "v1/gateway",
                   (int)(n - rest), t + rest);
  if (k < 0 || (size_t)k >= cap) return -1;
  *out = scratch;
  *out_n = (size_t)k;
  return 0;
}

