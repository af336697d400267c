/* SPDX-License-Identifier: Apache-2.0
 * The access policy (see policy.h): a declarative table, one line per
 * permission (its name, the scope class it needs, where its resource lives,
 * and the roles that may use it), and the decision function over it.
 */
#include "sec/policy.h"

#include <string.h>

#include "core/err.h"

/* Where a permission's resource lives. */
enum reach {
  IN_TENANT = 1, /* owned by a tenant: the principal's tenant must match */
  PLATFORM,      /* platform-wide: platform admins only */
  IN_REGION,     /* a region's tenants: observers of that region */
  OWN,           /* the caller's own things (tokens): no tenant check */
  DEVSELF        /* the device API: devices only, own tenant */
};

#define R(role) (1u << (role))
#define PA R(SEC_ROLE_PLATFORM_ADMIN)
#define TA R(SEC_ROLE_TENANT_ADMIN)
#define EN R(SEC_ROLE_ENGINEER)
#define OP R(SEC_ROLE_OPERATOR)
#define VI R(SEC_ROLE_VIEWER)
#define RO R(SEC_ROLE_REGIONAL_OBSERVER)
#define USERS (PA | TA | EN | OP | VI | RO)
#define TENANT_ALL (PA | TA | EN | OP | VI)

typedef struct perm_rule {
  const char *name;
  sec_scope needs; /* lowest token scope that may use it */
  enum reach reach;
  unsigned roles;  /* R(role) bits; devices are governed by reach == DEVSELF */
} perm_rule;

static const perm_rule rules[SEC_PERM_COUNT_] = {
    /* permission                          name                      scope            reach      roles */
    [SEC_PERM_TENANT_READ] =              {"tenant.read",            SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_TENANT_WRITE] =             {"tenant.write",           SEC_SCOPE_ADMIN, IN_TENANT, PA | TA},
    [SEC_PERM_TENANT_MANAGE] =            {"tenant.manage",          SEC_SCOPE_ADMIN, PLATFORM,  PA},
    [SEC_PERM_USER_READ] =                {"user.read",              SEC_SCOPE_READ,  IN_TENANT, PA | TA},
    [SEC_PERM_USER_WRITE] =               {"user.write",             SEC_SCOPE_ADMIN, IN_TENANT, PA | TA},
    [SEC_PERM_TOKEN_MANAGE_OWN] =         {"token.manage_own",       SEC_SCOPE_ADMIN, OWN,       USERS},
    [SEC_PERM_ASSET_READ] =               {"asset.read",             SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_ASSET_WRITE] =              {"asset.write",            SEC_SCOPE_WRITE, IN_TENANT, PA | TA | EN},
    [SEC_PERM_PROFILE_READ] =             {"profile.read",           SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_PROFILE_WRITE] =            {"profile.write",          SEC_SCOPE_WRITE, IN_TENANT, PA | TA | EN},
    [SEC_PERM_DEVICE_READ] =              {"device.read",            SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_DEVICE_WRITE] =             {"device.write",           SEC_SCOPE_WRITE, IN_TENANT, PA | TA | EN},
    [SEC_PERM_DEVICE_CREDENTIALS] =       {"device.credentials",     SEC_SCOPE_ADMIN, IN_TENANT, PA | TA | EN},
    [SEC_PERM_TELEMETRY_READ] =           {"telemetry.read",         SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_TELEMETRY_WRITE] =          {"telemetry.write",        SEC_SCOPE_WRITE, IN_TENANT, PA | TA | EN},
    [SEC_PERM_ATTRIBUTES_READ] =          {"attributes.read",        SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_ATTRIBUTES_WRITE] =         {"attributes.write",       SEC_SCOPE_WRITE, IN_TENANT, PA | TA | EN | OP},
    [SEC_PERM_RPC_SEND] =                 {"rpc.send",               SEC_SCOPE_WRITE, IN_TENANT, PA | TA | EN | OP},
    [SEC_PERM_RPC_READ] =                 {"rpc.read",               SEC_SCOPE_READ,  IN_TENANT, TENANT_ALL},
    [SEC_PERM_AUDIT_READ] =               {"audit.read",             SEC_SCOPE_READ,  IN_TENANT, PA | TA},
    [SEC_PERM_REGION_AGGREGATE_READ] =    {"region.aggregate.read",  SEC_SCOPE_READ,  IN_REGION, PA | RO},
    [SEC_PERM_PLATFORM_MANAGE] =          {"platform.manage",        SEC_SCOPE_ADMIN, PLATFORM,  PA},
    [SEC_PERM_DEVSELF_TELEMETRY_WRITE] =  {"devself.telemetry.write",  SEC_SCOPE_NONE, DEVSELF, 0},
    [SEC_PERM_DEVSELF_ATTRIBUTES_READ] =  {"devself.attributes.read",  SEC_SCOPE_NONE, DEVSELF, 0},
    [SEC_PERM_DEVSELF_ATTRIBUTES_WRITE] = {"devself.attributes.write", SEC_SCOPE_NONE, DEVSELF, 0},
    [SEC_PERM_DEVSELF_RPC] =              {"devself.rpc",              SEC_SCOPE_NONE, DEVSELF, 0},
};

static const char *const role_names[SEC_ROLE_COUNT_] = {
    [SEC_ROLE_NONE] = "none",
    [SEC_ROLE_PLATFORM_ADMIN] = "platform_admin",
    [SEC_ROLE_TENANT_ADMIN] = "tenant_admin",
    [SEC_ROLE_ENGINEER] = "engineer",
    [SEC_ROLE_OPERATOR] = "operator",
    [SEC_ROLE_VIEWER] = "viewer",
    [SEC_ROLE_REGIONAL_OBSERVER] = "regional_observer",
};

static const char *const scope_names[] = {"none", "read", "write", "admin"};

static bool empty(const char *s) { return !s || !*s; }

static bool same(const char *a, const char *b) { return !empty(a) && !empty(b) && !strcmp(a, b); }

int sec_policy_check(const sec_principal *p, sec_perm perm, const char *resource_tenant_id,
                     const char *resource_region) {
  if (!p || p->kind == SEC_PRINCIPAL_ANONYMOUS) return LOOM_EAUTH;
  if ((unsigned)perm >= SEC_PERM_COUNT_ || !rules[perm].name) return LOOM_EPERM;
  const perm_rule *r = &rules[perm];

  if (p->kind == SEC_PRINCIPAL_DEVICE) {
    if (empty(p->tenant_id)) return LOOM_EPERM; /* a device always belongs to a tenant */
    if (r->reach != DEVSELF) {
      /* management resources: hide other tenants' as for everybody else */
      if (r->reach == IN_TENANT && !same(p->tenant_id, resource_tenant_id)) return LOOM_ENOTFOUND;
      return LOOM_EPERM;
    }
    return same(p->tenant_id, resource_tenant_id) ? 0 : LOOM_ENOTFOUND;
  }
  if (p->kind != SEC_PRINCIPAL_USER && p->kind != SEC_PRINCIPAL_API_TOKEN) return LOOM_EPERM;
  if ((unsigned)p->role >= SEC_ROLE_COUNT_ || p->role == SEC_ROLE_NONE) return LOOM_EPERM;
  if (p->scope < SEC_SCOPE_READ || p->scope > SEC_SCOPE_ADMIN) return LOOM_EPERM;

  if (r->reach == DEVSELF) return LOOM_EPERM; /* only devices speak the device API */
  if (p->role != SEC_ROLE_PLATFORM_ADMIN) {
    switch (r->reach) {
    case IN_TENANT:
      if (p->role == SEC_ROLE_REGIONAL_OBSERVER) {
        /* tenants of its region are known to it (it sees their aggregates) */
        if (!same(p->region_code, resource_region)) return LOOM_ENOTFOUND;
      } else if (!same(p->tenant_id, resource_tenant_id)) {
        return LOOM_ENOTFOUND;
      }
      break;
    case IN_REGION:
      if (p->role == SEC_ROLE_REGIONAL_OBSERVER) {
        if (!same(p->region_code, resource_region)) return LOOM_ENOTFOUND;
      } else if (!same(p->tenant_id, resource_tenant_id)) {
        return LOOM_ENOTFOUND;
      }
      break;
    case PLATFORM:
    case OWN:
    case DEVSELF:
      break;
    }
  }
  if (!(r->roles & R(p->role))) return LOOM_EPERM;
  if (p->scope < r->needs) return LOOM_EPERM;
  return 0;
}

int sec_policy_check_grant(const sec_principal *p, sec_role role, const char *target_tenant_id) {
  int rc = sec_policy_check(p, SEC_PERM_USER_WRITE, target_tenant_id, NULL);
  if (rc) return rc;
  if ((unsigned)role >= SEC_ROLE_COUNT_ || role == SEC_ROLE_NONE) return LOOM_EPERM;
  if (p->role == SEC_ROLE_PLATFORM_ADMIN) return 0;
  /* a tenant admin: roles that live inside a tenant, in its own tenant */
  if (empty(target_tenant_id)) return LOOM_EPERM;
  switch (role) {
  case SEC_ROLE_TENANT_ADMIN:
  case SEC_ROLE_ENGINEER:
  case SEC_ROLE_OPERATOR:
  case SEC_ROLE_VIEWER:
    return 0;
  default:
    return LOOM_EPERM;
  }
}

const char *sec_role_name(sec_role role) {
  return (unsigned)role < SEC_ROLE_COUNT_ ? role_names[role] : "unknown";
}

const char *sec_scope_name(sec_scope scope) {
  return (unsigned)scope <= SEC_SCOPE_ADMIN ? scope_names[scope] : "unknown";
}

const char *sec_perm_name(sec_perm perm) {
  return (unsigned)perm < SEC_PERM_COUNT_ && rules[perm].name ? rules[perm].name : "unknown";
}

int sec_role_parse(const char *name, sec_role *out) {
  if (!name) return LOOM_EINVAL;
  for (unsigned i = 1; i < SEC_ROLE_COUNT_; i++)
    if (!strcmp(name, role_names[i])) {
      *out = (sec_role)i;
      return 0;
    }
  return LOOM_EINVAL;
}

int sec_scope_parse(const char *name, sec_scope *out) {
  if (!name) return LOOM_EINVAL;
  for (unsigned i = SEC_SCOPE_READ; i <= SEC_SCOPE_ADMIN; i++)
    if (!strcmp(name, scope_names[i])) {
      *out = (sec_scope)i;
      return 0;
    }
  return LOOM_EINVAL;
}

int sec_perm_parse(const char *name, sec_perm *out) {
  if (!name) return LOOM_EINVAL;
  for (unsigned i = 0; i < SEC_PERM_COUNT_; i++)
    if (rules[i].name && !strcmp(name, rules[i].name)) {
      *out = (sec_perm)i;
      return 0;
    }
  return LOOM_EINVAL;
}
