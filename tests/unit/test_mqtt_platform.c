/* SPDX-License-Identifier: Apache-2.0
 * Unit tests of the MQTT platform's pure topic mapping and authorization
 * (api_mqtt_map_in / api_mqtt_map_out): tenant mounts, "me" topics, gateway
 * topics, roles, $SYS and the global Sparkplug STATE topics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/mqtt_platform.h"

#define TEN "11111111-1111-4111-8111-111111111111"
#define DEV "22222222-2222-4222-8222-222222222222"
#define OTHER "33333333-3333-4333-8333-333333333333"
#define MOUNT "$tenant/" TEN "/"

static void mount(api_mqtt_client *c, const char *tenant) {
  snprintf(c->tenant_id, sizeof c->tenant_id, "%s", tenant);
  snprintf(c->who.tenant_id, sizeof c->who.tenant_id, "%s", tenant);
  if (*tenant) snprintf(c->mount, sizeof c->mount, "$tenant/%s/", tenant);
  c->mount_len = strlen(c->mount);
}

static api_mqtt_client device(bool gateway) {
  api_mqtt_client c;
  memset(&c, 0, sizeof c);
  c.kind = API_MQTT_DEVICE;
  c.gateway = gateway;
  c.who.kind = SEC_PRINCIPAL_DEVICE;
  snprintf(c.device_id, sizeof c.device_id, DEV);
  mount(&c, TEN);
  return c;
}

static api_mqtt_client user(sec_role role, sec_scope scope, const char *tenant) {
  api_mqtt_client c;
  memset(&c, 0, sizeof c);
  c.kind = API_MQTT_USER;
  c.who.kind = SEC_PRINCIPAL_API_TOKEN;
  c.who.role = role;
  c.who.scope = scope;
  mount(&c, tenant);
  return c;
}

/* map_in of t; returns the reason and the mapped topic in out ("" = unchanged). */
static int in(const api_mqtt_client *c, bool filter, const char *t, char *out, size_t cap) {
  loom_buf b;
  loom_buf_init(&b);
  int r = api_mqtt_map_in(c, filter, t, strlen(t), &b);
  snprintf(out, cap, "%.*s", (int)b.len, b.len ? (const char *)b.data : "");
  loom_buf_deinit(&b);
  return r;
}

static void test_device_me_topics_map_to_its_id(void **state) {
  (void)state;
  api_mqtt_client c = device(false);
  char out[256];
  assert_int_equal(in(&c, false, "v1/devices/me/telemetry", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "v1/devices/" DEV "/telemetry");
  assert_int_equal(in(&c, true, "v1/devices/me/rpc/request/+", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "v1/devices/" DEV "/rpc/request/+");
}

static void test_device_other_device_topics_refused(void **state) {
  (void)state;
  api_mqtt_client c = device(false);
  char out[256];
  assert_int_equal(in(&c, true, "v1/devices/" OTHER "/telemetry", out, sizeof out), 0x87);
  assert_int_equal(in(&c, false, "v1/devices/+/telemetry", out, sizeof out), 0x87);
  assert_int_equal(in(&c, true, "v1/devices", out, sizeof out), 0x87);
}

static void test_device_plain_topics_are_mounted(void **state) {
  (void)state;
  api_mqtt_client c = device(false);
  char out[256];
  assert_int_equal(in(&c, false, "plant/l1/temp", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "plant/l1/temp");
  assert_int_equal(in(&c, true, "#", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "#");
}

static void test_gateway_topics_only_for_gateways(void **state) {
  (void)state;
  api_mqtt_client c = device(false);
  char out[256];
  assert_int_equal(in(&c, false, "v1/gateway/telemetry", out, sizeof out), 0x87);
  c = device(true);
  assert_int_equal(in(&c, false, "v1/gateway/telemetry", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "v1/gateway/" DEV "/telemetry");
}

static void test_sys_only_for_platform_admins_reading(void **state) {
  (void)state;
  char out[256];
  api_mqtt_client d = device(false);
  assert_int_equal(in(&d, true, "$SYS/broker/uptime", out, sizeof out), 0x87);
  api_mqtt_client ta = user(SEC_ROLE_TENANT_ADMIN, SEC_SCOPE_ADMIN, TEN);
  assert_int_equal(in(&ta, true, "$SYS/#", out, sizeof out), 0x87);
  api_mqtt_client pa = user(SEC_ROLE_PLATFORM_ADMIN, SEC_SCOPE_ADMIN, "");
  assert_int_equal(in(&pa, true, "$SYS/#", out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(in(&pa, false, "$SYS/x", out, sizeof out), 0x87);
}

static void test_sparkplug_state_global_and_read_only_for_devices(void **state) {
  (void)state;
  char out[256];
  api_mqtt_client d = device(false);
  assert_int_equal(in(&d, true, "spBv1.0/STATE/+", out, sizeof out), 0);
  assert_string_equal(out, "");
  assert_int_equal(in(&d, false, "spBv1.0/STATE/loom", out, sizeof out), 0x87);
  assert_int_equal(in(&d, false, "spBv1.0/g/NDATA/n", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "spBv1.0/g/NDATA/n");
}

static void test_viewer_subscribes_only(void **state) {
  (void)state;
  char out[256];
  api_mqtt_client v = user(SEC_ROLE_VIEWER, SEC_SCOPE_READ, TEN);
  assert_int_equal(in(&v, true, "plant/#", out, sizeof out), 0);
  assert_string_equal(out, MOUNT "plant/#");
  assert_int_equal(in(&v, false, "plant/a", out, sizeof out), 0x87);
  api_mqtt_client op = user(SEC_ROLE_OPERATOR, SEC_SCOPE_WRITE, TEN);
  assert_int_equal(in(&op, false, "plant/a", out, sizeof out), 0);
  api_mqtt_client ro = user(SEC_ROLE_TENANT_ADMIN, SEC_SCOPE_READ, TEN); /* read-only token */
  assert_int_equal(in(&ro, false, "plant/a", out, sizeof out), 0x87);
}

static void test_platform_admin_topics_unchanged(void **state) {
  (void)state;
  char out[256];
  api_mqtt_client pa = user(SEC_ROLE_PLATFORM_ADMIN, SEC_SCOPE_ADMIN, "");
  assert_int_equal(in(&pa, true, "$tenant/+/plant/#", out, sizeof out), 0);
  assert_string_equal(out, "");
}

static int out(const api_mqtt_client *c, const char *t, char *res, size_t cap) {
  char scratch[256];
  const char *o;
  size_t n;
  int r = api_mqtt_map_out(c, t, strlen(t), scratch, sizeof scratch, &o, &n);
  if (r == 0) snprintf(res, cap, "%.*s", (int)n, o);
  return r;
}

static void test_map_out_strips_mount_and_rewrites_me(void **state) {
  (void)state;
  char res[256];
  api_mqtt_client d = device(false);
  assert_int_equal(out(&d, MOUNT "plant/x", res, sizeof res), 0);
  assert_string_equal(res, "plant/x");
  assert_int_equal(out(&d, MOUNT "v1/devices/" DEV "/rpc/request/7", res, sizeof res), 0);
  assert_string_equal(res, "v1/devices/me/rpc/request/7");
  api_mqtt_client g = device(true);
  assert_int_equal(out(&g, MOUNT "v1/gateway/" DEV "/rpc", res, sizeof res), 0);
  assert_string_equal(res, "v1/gateway/rpc");
}

static void test_map_out_hides_other_devices_and_tenants(void **state) {
  (void)state;
  char res[256];
  api_mqtt_client d = device(false);
  assert_int_equal(out(&d, MOUNT "v1/devices/" OTHER "/telemetry", res, sizeof res), -1);
  assert_int_equal(out(&d, MOUNT "v1/gateway/" DEV "/rpc", res, sizeof res), -1); /* no gateway */
  assert_int_equal(out(&d, "$tenant/" OTHER "/plant/x", res, sizeof res), -1);
  assert_int_equal(out(&d, "plant/x", res, sizeof res), -1);
  assert_int_equal(out(&d, "spBv1.0/STATE/loom", res, sizeof res), 0);
  assert_string_equal(res, "spBv1.0/STATE/loom");
  api_mqtt_client u = user(SEC_ROLE_TENANT_ADMIN, SEC_SCOPE_ADMIN, TEN);
  assert_int_equal(out(&u, MOUNT "v1/devices/" OTHER "/telemetry", res, sizeof res), 0);
  assert_string_equal(res, "v1/devices/" OTHER "/telemetry");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_device_me_topics_map_to_its_id),
      cmocka_unit_test(test_device_other_device_topics_refused),
      cmocka_unit_test(test_device_plain_topics_are_mounted),
      cmocka_unit_test(test_gateway_topics_only_for_gateways),
      cmocka_unit_test(test_sys_only_for_platform_admins_reading),
      cmocka_unit_test(test_sparkplug_state_global_and_read_only_for_devices),
      cmocka_unit_test(test_viewer_subscribes_only),
      cmocka_unit_test(test_platform_admin_topics_unchanged),
      cmocka_unit_test(test_map_out_strips_mount_and_rewrites_me),
      cmocka_unit_test(test_map_out_hides_other_devices_and_tenants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
