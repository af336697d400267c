/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the MQTT platform's topic mapping and authorization
 * (api/mqtt_topics.c). Input: byte 0 picks the client (device, gateway,
 * tenant admin, viewer, platform admin) and bit 7 whether the topic is a
 * SUBSCRIBE filter; the rest is the topic. Checks: a tenant principal's
 * accepted topic is either left unchanged (the global exceptions) or lands
 * under its mount; mapping an accepted PUBLISH name back gives the name the
 * client sent; a device never receives another device's topics.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mqtt_platform.h"

#define TEN "11111111-1111-4111-8111-111111111111"
#define DEV "22222222-2222-4222-8222-222222222222"

static void client(api_mqtt_client *c, int kind) {
  memset(c, 0, sizeof *c);
  if (kind <= 1) {
    c->kind = API_MQTT_DEVICE;
    c->gateway = kind == 1;
    c->who.kind = SEC_PRINCIPAL_DEVICE;
    snprintf(c->device_id, sizeof c->device_id, DEV);
  } else {
    c->kind = API_MQTT_USER;
    c->who.kind = SEC_PRINCIPAL_API_TOKEN;
    c->who.role = kind == 2 ? SEC_ROLE_TENANT_ADMIN : kind == 3 ? SEC_ROLE_VIEWER
                                                                : SEC_ROLE_PLATFORM_ADMIN;
    c->who.scope = kind == 3 ? SEC_SCOPE_READ : SEC_SCOPE_ADMIN;
  }
  if (kind != 4) {
    snprintf(c->tenant_id, sizeof c->tenant_id, TEN);
    snprintf(c->who.tenant_id, sizeof c->who.tenant_id, TEN);
    snprintf(c->mount, sizeof c->mount, "$tenant/" TEN "/");
  }
  c->mount_len = strlen(c->mount);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  api_mqtt_client c;
  client(&c, data[0] % 5);
  bool filter = data[0] & 0x80;
  const char *t = (const char *)data + 1;
  size_t n = size - 1;
  if (memchr(t, 0, n)) return 0; /* the broker hands NUL-free, validated topics */
  loom_buf out;
  loom_buf_init(&out);
  int r = api_mqtt_map_in(&c, filter, t, n, &out);
  if (r == 0 && out.len && c.mount_len &&
      (out.len < c.mount_len || memcmp(out.data, c.mount, c.mount_len)))
    abort(); /* mapped outside the tenant's namespace */
  if (r == 0 && !filter) {
    const char *back = t;
    size_t back_n = n;
    char scratch[8192];
    const char *o;
    size_t on;
    if (out.len) {
      back = (const char *)out.data;
      back_n = out.len;
    }
    int rr = api_mqtt_map_out(&c, back, back_n, scratch, sizeof scratch, &o, &on);
    if (rr == 0 && (on != n || memcmp(o, t, n))) abort(); /* no round trip */
  }
  /* receiving: whatever the broker topic, a device sees only its own */
  if (c.kind == API_MQTT_DEVICE) {
    char scratch[8192];
    const char *o;
    size_t on;
    if (api_mqtt_map_out(&c, t, n, scratch, sizeof scratch, &o, &on) == 0) {
      const char *pre = "$tenant/" TEN "/v1/devices/";
      size_t pl = strlen(pre);
      if (n > pl && !memcmp(t, pre, pl) && (n < pl + 36 || memcmp(t + pl, DEV, 36))) abort();
    }
  }
  loom_buf_deinit(&out);
  return 0;
}
