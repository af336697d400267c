/* SPDX-License-Identifier: Apache-2.0
 * Table-driven tests of sec/policy. The expected role x permission matrix is
 * written out here independently of policy.c's table; the other tests sweep
 * every principal kind, role, scope, permission and tenant/region relation
 * and check the invariants (401/403/404, scope caps, observers, devices).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "sec/policy.h"

#define TA_ID "11111111-1111-4111-8111-111111111111"
#define TB_ID "22222222-2222-4222-8222-222222222222"

/* Expected decisions for a user session of each role on its own tenant's
 * resources (observers: a tenant of their region). Columns: platform_admin,
 * tenant_admin, engineer, operator, viewer, regional_observer. */
static const struct { const char *perm; const char *roles; } matrix[] = {
    {"tenant.read",              "YYYYYN"},
    {"tenant.write",             "YYNNNN"},
    {"tenant.manage",            "YNNNNN"},
    {"user.read",                "YYNNNN"},
    {"user.write",               "YYNNNN"},
    {"token.manage_own",         "YYYYYY"},
    {"asset.read",               "YYYYYN"},
    {"asset.write",              "YYYNNN"},
    {"profile.read",             "YYYYYN"},
    {"profile.write",            "YYYNNN"},
    {"device.read",              "YYYYYN"},
    {"device.write",             "YYYNNN"},
    {"device.credentials",       "YYYNNN"},
    {"telemetry.read",           "YYYYYN"},
    {"telemetry.write",          "YYYNNN"},
    {"attributes.read",          "YYYYYN"},
    {"attributes.write",         "YYYYNN"},
    {"rpc.send",                 "YYYYNN"},
    {"rpc.read",                 "YYYYYN"},
    {"audit.read",               "YYNNNN"},
    {"region.aggregate.read",    "YNNNNY"},
    {"platform.manage",          "YNNNNN"},
    {"devself.telemetry.write",  "NNNNNN"},
    {"devself.attributes.read",  "NNNNNN"},
    {"devself.attributes.write", "NNNNNN"},
    {"devself.rpc",              "NNNNNN"},
};
#define N_MATRIX (sizeof matrix / sizeof matrix[0])

/* Permissions an admin-scope token needs (the rest: read or write). */
static const char *const admin_class[] = {"tenant.write", "tenant.manage", "user.write",
                                          "token.manage_own", "device.credentials",
                                          "platform.manage"};
/* Permissions whose resources belong to a tenant. */
static const char *const tenant_owned[] = {
    "tenant.read", "tenant.write", "user.read", "user.write", "asset.read", "asset.write",
    "profile.read", "profile.write", "device.read", "device.write", "device.credentials",
    "telemetry.read", "telemetry.write", "attributes.read", "attributes.write", "rpc.send",
    "rpc.read", "audit.read"};

static bool in_list(const char *const *list, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(list[i], s)) return true;
  return false;
}

static sec_perm perm_of(const char *name) {
  sec_perm p;
  if (sec_perm_parse(name, &p)) fail_msg("unknown permission %s", name);
  return p;
}

static sec_principal principal(sec_principal_kind kind, sec_role role, sec_scope scope) {
  sec_principal p;
  memset(&p, 0, sizeof p);
  p.kind = kind;
  p.role = role;
  p.scope = scope;
  if (role == SEC_ROLE_REGIONAL_OBSERVER) snprintf(p.region_code, sizeof p.region_code, "CN-GD");
  else if (role != SEC_ROLE_PLATFORM_ADMIN) snprintf(p.tenant_id, sizeof p.tenant_id, TA_ID);
  if (kind == SEC_PRINCIPAL_DEVICE) snprintf(p.tenant_id, sizeof p.tenant_id, TA_ID);
  return p;
}

static void test_every_permission_has_a_rule_and_a_matrix_line(void **state) {
  (void)state;
  assert_int_equal(N_MATRIX, SEC_PERM_COUNT_);
  for (int i = 0; i < SEC_PERM_COUNT_; i++) {
    const char *name = sec_perm_name((sec_perm)i);
    assert_string_not_equal(name, "unknown");
    assert_int_equal(perm_of(name), i);
    bool found = false;
    for (size_t j = 0; j < N_MATRIX; j++) found |= !strcmp(matrix[j].perm, name);
    if (!found) fail_msg("permission %s has no line in the test matrix", name);
  }
  assert_string_equal(sec_perm_name(SEC_PERM_COUNT_), "unknown");
}

static void test_role_matrix_same_tenant(void **state) {
  (void)state;
  for (size_t i = 0; i < N_MATRIX; i++) {
    sec_perm perm = perm_of(matrix[i].perm);
    for (int r = SEC_ROLE_PLATFORM_ADMIN; r <= SEC_ROLE_REGIONAL_OBSERVER; r++) {
      sec_principal p = principal(SEC_PRINCIPAL_USER, (sec_role)r, SEC_SCOPE_ADMIN);
      int rc = sec_policy_check(&p, perm, TA_ID, "CN-GD");
      int want = matrix[i].roles[r - 1] == 'Y' ? 0 : LOOM_EPERM;
      if (rc != want)
        fail_msg("%s as %s: got %d want %d", matrix[i].perm, sec_role_name((sec_role)r), rc, want);
    }
  }
}

static void test_anonymous_is_401_everywhere(void **state) {
  (void)state;
  sec_principal anon;
  memset(&anon, 0, sizeof anon);
  for (int i = 0; i < SEC_PERM_COUNT_; i++) {
    assert_int_equal(sec_policy_check(NULL, (sec_perm)i, TA_ID, "CN-GD"), LOOM_EAUTH);
    assert_int_equal(sec_policy_check(&anon, (sec_perm)i, TA_ID, "CN-GD"), LOOM_EAUTH);
    anon.role = SEC_ROLE_PLATFORM_ADMIN; /* a role does not make anonymous a user */
    anon.scope = SEC_SCOPE_ADMIN;
    assert_int_equal(sec_policy_check(&anon, (sec_perm)i, NULL, NULL), LOOM_EAUTH);
  }
}

static void test_other_tenant_is_404_not_403(void **state) {
  (void)state;
  const sec_principal_kind kinds[] = {SEC_PRINCIPAL_USER, SEC_PRINCIPAL_API_TOKEN};
  for (size_t k = 0; k < 2; k++)
    for (int r = SEC_ROLE_TENANT_ADMIN; r <= SEC_ROLE_VIEWER; r++)
      for (int s = SEC_SCOPE_READ; s <= SEC_SCOPE_ADMIN; s++)
        for (size_t i = 0; i < sizeof tenant_owned / sizeof tenant_owned[0]; i++) {
          sec_principal p = principal(kinds[k], (sec_role)r, (sec_scope)s);
          sec_perm perm = perm_of(tenant_owned[i]);
          assert_int_equal(sec_policy_check(&p, perm, TB_ID, "CN-GD"), LOOM_ENOTFOUND);
          assert_int_equal(sec_policy_check(&p, perm, NULL, NULL), LOOM_ENOTFOUND);
          assert_int_equal(sec_policy_check(&p, perm, "", NULL), LOOM_ENOTFOUND);
        }
}

static void test_read_scope_never_writes(void **state) {
  (void)state;
  for (int r = SEC_ROLE_PLATFORM_ADMIN; r <= SEC_ROLE_REGIONAL_OBSERVER; r++)
    for (int i = 0; i < SEC_PERM_COUNT_; i++) {
      sec_principal p = principal(SEC_PRINCIPAL_API_TOKEN, (sec_role)r, SEC_SCOPE_READ);
      const char *name = sec_perm_name((sec_perm)i);
      int rc = sec_policy_check(&p, (sec_perm)i, TA_ID, "CN-GD");
      size_t n = strlen(name);
      bool is_read = n > 5 && !strcmp(name + n - 5, ".read");
      if (rc == 0 && !is_read) fail_msg("read-scope %s token may %s", sec_role_name((sec_role)r), name);
      /* and a read-scope token reads what its role reads */
      sec_principal full = principal(SEC_PRINCIPAL_USER, (sec_role)r, SEC_SCOPE_ADMIN);
      if (is_read) assert_int_equal(rc, sec_policy_check(&full, (sec_perm)i, TA_ID, "CN-GD"));
    }
}

static void test_write_scope_caps_admin_permissions(void **state) {
  (void)state;
  for (int r = SEC_ROLE_PLATFORM_ADMIN; r <= SEC_ROLE_REGIONAL_OBSERVER; r++)
    for (int i = 0; i < SEC_PERM_COUNT_; i++) {
      sec_principal w = principal(SEC_PRINCIPAL_API_TOKEN, (sec_role)r, SEC_SCOPE_WRITE);
      sec_principal a = principal(SEC_PRINCIPAL_API_TOKEN, (sec_role)r, SEC_SCOPE_ADMIN);
      const char *name = sec_perm_name((sec_perm)i);
      int rw = sec_policy_check(&w, (sec_perm)i, TA_ID, "CN-GD");
      int ra = sec_policy_check(&a, (sec_perm)i, TA_ID, "CN-GD");
      if (in_list(admin_class, sizeof admin_class / sizeof admin_class[0], name))
        assert_int_equal(rw, LOOM_EPERM);
      else
        assert_int_equal(rw, ra); /* the write scope takes nothing else away */
    }
}

static void test_regional_observer_sees_only_its_region_aggregates(void **state) {
  (void)state;
  const char *tenants[] = {TA_ID, TB_ID, NULL, ""};
  const char *regions[] = {"CN-GD", "CN-ZJ", NULL, ""};
  sec_perm agg = SEC_PERM_REGION_AGGREGATE_READ;
  for (int s = SEC_SCOPE_READ; s <= SEC_SCOPE_ADMIN; s++)
    for (int i = 0; i < SEC_PERM_COUNT_; i++)
      for (size_t t = 0; t < 4; t++)
        for (size_t g = 0; g < 4; g++) {
          sec_principal p = principal(SEC_PRINCIPAL_API_TOKEN, SEC_ROLE_REGIONAL_OBSERVER,
                                      (sec_scope)s);
          int rc = sec_policy_check(&p, (sec_perm)i, tenants[t], regions[g]);
          bool own_region = g == 0;
          if ((sec_perm)i == agg) {
            assert_int_equal(rc, own_region ? 0 : LOOM_ENOTFOUND);
          } else if ((sec_perm)i == SEC_PERM_TOKEN_MANAGE_OWN) {
            assert_int_equal(rc, s == SEC_SCOPE_ADMIN ? 0 : LOOM_EPERM);
          } else {
            assert_int_not_equal(rc, 0); /* never raw data or entities */
          }
        }
  /* an observer without a region reaches nothing */
  sec_principal p = principal(SEC_PRINCIPAL_USER, SEC_ROLE_REGIONAL_OBSERVER, SEC_SCOPE_ADMIN);
  p.region_code[0] = 0;
  assert_int_equal(sec_policy_check(&p, agg, TA_ID, "CN-GD"), LOOM_ENOTFOUND);
  assert_int_equal(sec_policy_check(&p, agg, TA_ID, ""), LOOM_ENOTFOUND);
}

static void test_platform_admin_may_do_everything_but_device_api(void **state) {
  (void)state;
  const char *tenants[] = {TA_ID, TB_ID, NULL};
  for (int i = 0; i < SEC_PERM_COUNT_; i++)
    for (size_t t = 0; t < 3; t++) {
      sec_principal p = principal(SEC_PRINCIPAL_USER, SEC_ROLE_PLATFORM_ADMIN, SEC_SCOPE_ADMIN);
      int rc = sec_policy_check(&p, (sec_perm)i, tenants[t], t == 2 ? NULL : "CN-ZJ");
      bool devself = !strncmp(sec_perm_name((sec_perm)i), "devself.", 8);
      assert_int_equal(rc, devself ? LOOM_EPERM : 0);
    }
}

static void test_device_only_speaks_device_api_of_its_tenant(void **state) {
  (void)state;
  for (int i = 0; i < SEC_PERM_COUNT_; i++) {
    /* a device's role and scope fields are ignored, even if set high */
    sec_principal d = principal(SEC_PRINCIPAL_DEVICE, SEC_ROLE_PLATFORM_ADMIN, SEC_SCOPE_ADMIN);
    bool devself = !strncmp(sec_perm_name((sec_perm)i), "devself.", 8);
    int own = sec_policy_check(&d, (sec_perm)i, TA_ID, "CN-GD");
    int other = sec_policy_check(&d, (sec_perm)i, TB_ID, "CN-GD");
    assert_int_equal(own, devself ? 0 : LOOM_EPERM);
    assert_int_not_equal(other, 0);
    if (devself || in_list(tenant_owned, sizeof tenant_owned / sizeof tenant_owned[0],
                           sec_perm_name((sec_perm)i)))
      assert_int_equal(other, LOOM_ENOTFOUND);
    d.tenant_id[0] = 0; /* a device without a tenant is refused */
    assert_int_not_equal(sec_policy_check(&d, (sec_perm)i, TA_ID, NULL), 0);
    assert_int_not_equal(sec_policy_check(&d, (sec_perm)i, "", NULL), 0);
  }
}

static void test_invalid_enums_are_denied(void **state) {
  (void)state;
  sec_principal p = principal(SEC_PRINCIPAL_USER, SEC_ROLE_TENANT_ADMIN, SEC_SCOPE_ADMIN);
  assert_int_equal(sec_policy_check(&p, SEC_PERM_DEVICE_READ, TA_ID, NULL), 0);
  assert_int_equal(sec_policy_check(&p, SEC_PERM_COUNT_, TA_ID, NULL), LOOM_EPERM);
  assert_int_equal(sec_policy_check(&p, (sec_perm)-1, TA_ID, NULL), LOOM_EPERM);
  p.scope = SEC_SCOPE_NONE;
  assert_int_equal(sec_policy_check(&p, SEC_PERM_DEVICE_READ, TA_ID, NULL), LOOM_EPERM);
  p.scope = (sec_scope)7;
  assert_int_equal(sec_policy_check(&p, SEC_PERM_DEVICE_READ, TA_ID, NULL), LOOM_EPERM);
  p.scope = SEC_SCOPE_ADMIN;
  p.role = SEC_ROLE_NONE;
  assert_int_equal(sec_policy_check(&p, SEC_PERM_DEVICE_READ, TA_ID, NULL), LOOM_EPERM);
  p.role = SEC_ROLE_COUNT_;
  assert_int_equal(sec_policy_check(&p, SEC_PERM_DEVICE_READ, TA_ID, NULL), LOOM_EPERM);
  p.role = SEC_ROLE_TENANT_ADMIN;
  p.kind = (sec_principal_kind)9;
  assert_int_equal(sec_policy_check(&p, SEC_PERM_DEVICE_READ, TA_ID, NULL), LOOM_EPERM);
}

static void test_grant_rules(void **state) {
  (void)state;
  sec_principal pa = principal(SEC_PRINCIPAL_USER, SEC_ROLE_PLATFORM_ADMIN, SEC_SCOPE_ADMIN);
  sec_principal ta = principal(SEC_PRINCIPAL_USER, SEC_ROLE_TENANT_ADMIN, SEC_SCOPE_ADMIN);
  sec_principal ta_w = principal(SEC_PRINCIPAL_API_TOKEN, SEC_ROLE_TENANT_ADMIN, SEC_SCOPE_WRITE);
  sec_principal en = principal(SEC_PRINCIPAL_USER, SEC_ROLE_ENGINEER, SEC_SCOPE_ADMIN);
  for (int r = SEC_ROLE_PLATFORM_ADMIN; r <= SEC_ROLE_REGIONAL_OBSERVER; r++) {
    assert_int_equal(sec_policy_check_grant(&pa, (sec_role)r, TB_ID), 0);
    bool tenant_role = r >= SEC_ROLE_TENANT_ADMIN && r <= SEC_ROLE_VIEWER;
    assert_int_equal(sec_policy_check_grant(&ta, (sec_role)r, TA_ID), tenant_role ? 0 : LOOM_EPERM);
    assert_int_equal(sec_policy_check_grant(&ta, (sec_role)r, TB_ID), LOOM_ENOTFOUND);
    assert_int_equal(sec_policy_check_grant(&ta_w, (sec_role)r, TA_ID), LOOM_EPERM);
    assert_int_equal(sec_policy_check_grant(&en, (sec_role)r, TA_ID), LOOM_EPERM);
    assert_int_equal(sec_policy_check_grant(NULL, (sec_role)r, TA_ID), LOOM_EAUTH);
  }
  assert_int_equal(sec_policy_check_grant(&pa, SEC_ROLE_NONE, TA_ID), LOOM_EPERM);
  assert_int_equal(sec_policy_check_grant(&pa, SEC_ROLE_COUNT_, TA_ID), LOOM_EPERM);
}

static void test_names_round_trip(void **state) {
  (void)state;
  for (int r = SEC_ROLE_PLATFORM_ADMIN; r < SEC_ROLE_COUNT_; r++) {
    sec_role out;
    assert_int_equal(sec_role_parse(sec_role_name((sec_role)r), &out), 0);
    assert_int_equal(out, r);
  }
  for (int s = SEC_SCOPE_READ; s <= SEC_SCOPE_ADMIN; s++) {
    sec_scope out;
    assert_int_equal(sec_scope_parse(sec_scope_name((sec_scope)s), &out), 0);
    assert_int_equal(out, s);
  }
  sec_role r;
  sec_scope s;
  sec_perm p;
  assert_string_equal(sec_role_name(SEC_ROLE_REGIONAL_OBSERVER), "regional_observer");
  assert_int_equal(sec_role_parse("none", &r), LOOM_EINVAL);
  assert_int_equal(sec_role_parse("root", &r), LOOM_EINVAL);
  assert_int_equal(sec_role_parse(NULL, &r), LOOM_EINVAL);
  assert_int_equal(sec_scope_parse("none", &s), LOOM_EINVAL);
  assert_int_equal(sec_scope_parse("ADMIN", &s), LOOM_EINVAL);
  assert_int_equal(sec_perm_parse("device.delete", &p), LOOM_EINVAL);
  assert_string_equal(sec_role_name((sec_role)99), "unknown");
  assert_string_equal(sec_scope_name((sec_scope)99), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_permission_has_a_rule_and_a_matrix_line),
      cmocka_unit_test(test_role_matrix_same_tenant),
      cmocka_unit_test(test_anonymous_is_401_everywhere),
      cmocka_unit_test(test_other_tenant_is_404_not_403),
      cmocka_unit_test(test_read_scope_never_writes),
      cmocka_unit_test(test_write_scope_caps_admin_permissions),
      cmocka_unit_test(test_regional_observer_sees_only_its_region_aggregates),
      cmocka_unit_test(test_platform_admin_may_do_everything_but_device_api),
      cmocka_unit_test(test_device_only_speaks_device_api_of_its_tenant),
      cmocka_unit_test(test_invalid_enums_are_denied),
      cmocka_unit_test(test_grant_rules),
      cmocka_unit_test(test_names_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
