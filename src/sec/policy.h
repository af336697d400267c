/* SPDX-License-Identifier: Apache-2.0
 * The one access decision of Loom: may this principal (who is asking) do
 * this permission (an action on a kind of resource) on a resource of this
 * tenant / region? Every REST route, WebSocket subscription and MQTT topic
 * check calls sec_policy_check; nothing else decides access. The rules are
 * a declarative table in policy.c, one line per permission. Pure: no I/O,
 * no state; any thread.
 */
#ifndef LOOM_SEC_POLICY_H
#define LOOM_SEC_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define SEC_ID_MAX 40     /* UUID text (36) + NUL, with room */
#define SEC_REGION_MAX 16 /* region code, e.g. "CN-GD" */

/* Who is asking. Zero is never a valid value of any enum, so a
 * zero-initialised principal is anonymous and is denied everything. */
typedef enum sec_principal_kind {
  SEC_PRINCIPAL_ANONYMOUS = 0, /* nothing presented, or a credential that did not check */
  SEC_PRINCIPAL_USER = 1,      /* a login session: scope is SEC_SCOPE_ADMIN */
  SEC_PRINCIPAL_API_TOKEN = 2, /* a user's API token: the user's role, capped by its scope */
  SEC_PRINCIPAL_DEVICE = 3     /* a device's access token: acts only as that device */
} sec_principal_kind;

typedef enum sec_role {
  SEC_ROLE_NONE = 0,
  SEC_ROLE_PLATFORM_ADMIN = 1,    /* everything, every tenant */
  SEC_ROLE_TENANT_ADMIN = 2,      /* everything in its tenant, users and tokens included */
  SEC_ROLE_ENGINEER = 3,          /* builds assets, profiles, devices; reads and writes data */
  SEC_ROLE_OPERATOR = 4,          /* reads everything in its tenant, sets attributes, sends commands */
  SEC_ROLE_VIEWER = 5,            /* reads entities and data of its tenant */
  SEC_ROLE_REGIONAL_OBSERVER = 6, /* aggregates over the tenants of its region only */
  SEC_ROLE_COUNT_ = 7
} sec_role;

/* What an API token may do at most, whatever its user's role. */
typedef enum sec_scope {
  SEC_SCOPE_NONE = 0,
  SEC_SCOPE_READ = 1,  /* read permissions only */
  SEC_SCOPE_WRITE = 2, /* read and write, not admin permissions */
  SEC_SCOPE_ADMIN = 3  /* all the role allows */
} sec_scope;

typedef struct sec_principal {
  sec_principal_kind kind;
  sec_role role;   /* users and API tokens; ignored for devices */
  sec_scope scope; /* API tokens: the token's scope; users: SEC_SCOPE_ADMIN */
  char tenant_id[SEC_ID_MAX];     /* "" for platform admins and regional observers */
  char region_code[SEC_REGION_MAX]; /* regional observers: the region they observe */
  char subject_id[SEC_ID_MAX];    /* user or device id (for ownership checks and audit) */
} sec_principal;

/* Permissions: an action on a kind of resource. Append new ones before
 * SEC_PERM_COUNT_ and give each a line in the table in policy.c (a unit test
 * fails for a permission without one). */
typedef enum sec_perm {
  SEC_PERM_TENANT_READ = 0,      /* read its own tenant's record */
  SEC_PERM_TENANT_WRITE,         /* edit its own tenant's record (name, industry) */
  SEC_PERM_TENANT_MANAGE,        /* platform: create, delete, list all tenants */
  SEC_PERM_USER_READ,
  SEC_PERM_USER_WRITE,           /* create, edit, disable, delete users; set roles */
  SEC_PERM_TOKEN_MANAGE_OWN,     /* create, list, revoke the caller's own API tokens */
  SEC_PERM_ASSET_READ,
  SEC_PERM_ASSET_WRITE,
  SEC_PERM_PROFILE_READ,
  SEC_PERM_PROFILE_WRITE,
  SEC_PERM_DEVICE_READ,
  SEC_PERM_DEVICE_WRITE,
  SEC_PERM_DEVICE_CREDENTIALS,   /* read or rotate a device's access token / MQTT password */
  SEC_PERM_TELEMETRY_READ,
  SEC_PERM_TELEMETRY_WRITE,      /* line protocol and JSON writes by users and API tokens */
  SEC_PERM_ATTRIBUTES_READ,
  SEC_PERM_ATTRIBUTES_WRITE,     /* server and shared scopes */
  SEC_PERM_RPC_SEND,             /* send a command to a device */
  SEC_PERM_RPC_READ,             /* see commands and their status */
  SEC_PERM_AUDIT_READ,
  SEC_PERM_REGION_AGGREGATE_READ, /* aggregates over the tenants of a region */
  SEC_PERM_PLATFORM_MANAGE,      /* platform settings, regions, server-wide operations */
  SEC_PERM_DEVSELF_TELEMETRY_WRITE,  /* device API: a device posts its own telemetry */
  SEC_PERM_DEVSELF_ATTRIBUTES_READ,  /* device API: its own client/shared attributes */
  SEC_PERM_DEVSELF_ATTRIBUTES_WRITE, /* device API: its own client attributes */
  SEC_PERM_DEVSELF_RPC,              /* device API: poll and answer its own commands */
  SEC_PERM_COUNT_
} sec_perm;

/* The decision. resource_tenant_id is the tenant owning the resource
 * (NULL or "" for platform-level resources such as the tenant list);
 * resource_region is that tenant's region code (NULL if none or unknown).
 * Returns:
 *   0              allowed;
 *   LOOM_EAUTH     no principal (NULL or anonymous): answer 401;
 *   LOOM_ENOTFOUND the resource belongs to a tenant (or region) the principal
 *                  cannot see: answer 404 exactly as for a missing resource,
 *                  so its existence is not revealed;
 *   LOOM_EPERM     the resource is within reach but the role, the token's
 *                  scope or the principal kind does not allow it: answer 403.
 * Rules, in order: anonymous -> 401. The DEVSELF permissions are for
 * devices only (any other principal: 403). Platform admin (user or token)
 * may do everything else its scope allows. A device may do only the DEVSELF
 * permissions, on its own tenant's resources (the caller passes the
 * device's own resources only; the device API routes act on the token's
 * device); another tenant's resource -> 404, anything else -> 403. Other
 * principals: a tenant-owned resource of another tenant -> 404; a regional
 * observer reaches only tenants whose region is its own (others -> 404) and
 * there only region.aggregate.read; then the role must be in the
 * permission's line, and the scope must reach the permission's class (read
 * < write < admin). SEC_PERM_TOKEN_MANAGE_OWN is about the caller's own
 * tokens: no tenant check (the caller passes only the principal's tokens).
 * Unknown enum values are denied (LOOM_EPERM). */
int sec_policy_check(const sec_principal *p, sec_perm perm, const char *resource_tenant_id,
                     const char *resource_region);

/* May principal p give `role` to a user of tenant target_tenant_id (create
 * the user or change its role)? Platform admins may grant any role anywhere;
 * tenant admins (admin scope) the roles tenant_admin, engineer, operator and
 * viewer in their own tenant; nobody else anything. Returns 0, LOOM_EAUTH,
 * LOOM_ENOTFOUND (other tenant) or LOOM_EPERM, as sec_policy_check. */
int sec_policy_check_grant(const sec_principal *p, sec_role role, const char *target_tenant_id);

/* Names, as stored by meta/ and shown in the API ("platform_admin", ...;
 * "read"/"write"/"admin"; "device.write", ...). Static storage; "unknown"
 * for values out of range. */
const char *sec_role_name(sec_role role);
const char *sec_scope_name(sec_scope scope);
const char *sec_perm_name(sec_perm perm);

/* Parse a name back. 0 and *out, or LOOM_EINVAL for an unknown name. */
int sec_role_parse(const char *name, sec_role *out);
int sec_scope_parse(const char *name, sec_scope *out);
int sec_perm_parse(const char *name, sec_perm *out);

#endif
