/* SPDX-License-Identifier: Apache-2.0
 * /api/v1/users: tenant admins manage their tenant's users, platform admins
 * everybody. A password is given in the "password" field and stored only as
 * its argon2id hash; every role given or changed passes
 * sec_policy_check_grant; disabling a user revokes all its tokens (a
 * disabled user's tokens are refused anyway).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/timeutil.h"

void rest_user_list(api_call *c) {
  c->arg = META_USER;
  rest_list(c);
}

void rest_user_get(api_call *c) {
  c->arg = META_USER;
  rest_get(c);
}

/* Take "password" out of in and hash it into *secrets. 0, or answered. */
static int take_password(api_call *c, json_t *in, json_t **secrets) {
  json_t *pw = json_object_get(in, "password");
  if (!pw) return 0;
  if (!json_is_string(pw)) {
    api_error(c->req, 400, "password must be a string");
    return LOOM_EINVAL;
  }
  char msg[256], hash[SEC_PASSWORD_HASH_MAX];
  if (sec_password_check_policy(json_string_value(pw), msg, sizeof msg)) {
    api_error(c->req, 400, msg);
    return LOOM_EINVAL;
  }
  int rc = sec_password_hash(&c->api->pw_limits, json_string_value(pw), hash);
  if (rc) {
    api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EIO : rc, "cannot hash the password");
    return rc;
  }
  json_object_del(in, "password");
  *secrets = json_pack("{s:s}", "password_hash", hash);
  sodium_memzero(hash, sizeof hash);
  return *secrets ? 0 : LOOM_ENOMEM;
}

/* May the caller give role_name to a user of tenant? 0 or answered. */
static int grant_ok(api_call *c, json_t *role_v, const char *tenant) {
  sec_role role;
  if (!json_is_string(role_v) || sec_role_parse(json_string_value(role_v), &role)) {
    api_error(c->req, 400, "role: must be one of platform_admin, tenant_admin, engineer, "
                           "operator, viewer, regional_observer");
    return LOOM_EINVAL;
  }
  int rc = sec_policy_check_grant(&c->who, role, tenant && *tenant ? tenant : NULL);
  if (rc) {
    api_error_rc(c->req, rc, rc == LOOM_EPERM ? "you may not grant this role" : "not found");
    return rc;
  }
  bool tenant_role = role != SEC_ROLE_PLATFORM_ADMIN && role != SEC_ROLE_REGIONAL_OBSERVER;
  if (tenant_role != (tenant && *tenant)) {
    api_error(c->req, 400, tenant_role ? "tenant_id: this role needs a tenant"
                                       : "tenant_id: platform roles belong to no tenant");
    return LOOM_EINVAL;
  }
  return 0;
}

void rest_user_create(api_call *c) {
  json_t *in, *secrets = NULL;
  if (api_body_object(c, &in)) return;
  const char *tenant = c->scope ? c->scope : json_string_value(json_object_get(in, "tenant_id"));
  if (grant_ok(c, json_object_get(in, "role"), tenant) || take_password(c, in, &secrets)) {
    json_decref(in);
    return;
  }
  rest_do_create(c, META_USER, in, secrets, NULL);
  json_decref(secrets);
}

void rest_user_update(api_call *c) {
  json_t *in, *secrets = NULL, *cur = NULL;
  if (api_body_object(c, &in)) return;
  const char *id = api_param(c, "id");
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_USER, c->scope, id, &cur, err, sizeof err);
  if (rc) {
    json_decref(in);
    api_error_rc(c->req, rc, err);
    return;
  }
  const char *tenant = json_string_value(json_object_get(cur, "tenant_id"));
  json_t *role = json_object_get(in, "role");
  char detail[64] = "";
  if (role && grant_ok(c, role, tenant)) goto out;
  if (role) snprintf(detail, sizeof detail, "role=%s", json_string_value(role));
  if (take_password(c, in, &secrets)) goto out;
  bool disable = json_is_true(json_object_get(in, "disabled"));
  json_t *ent = NULL;
  json_incref(in);
  /* a role change is its own audited action, as is a new password */
  const char *action = role ? "user.role" : secrets ? "user.password" : NULL;
  if (rest_do_update(c, META_USER, id, in, secrets, action, detail, &ent)) goto out;
  if (disable) { /* a disabled user's tokens die with it (and within a second in the cache) */
    meta_token_revoke_user(c->api->meta, c->scope, id, loom_now_ns() / 1000000, NULL, NULL, 0);
    live_session_revoke_user(c->api->live, id, "user disabled"); /* its WebSockets, now */
  }
  api_reply_json(c->req, 200, ent);
out:
  json_decref(in);
  json_decref(secrets);
  json_decref(cur);
}

void rest_user_delete(api_call *c) {
  const char *id = api_param(c, "id");
  if (rest_do_delete(c, META_USER, id, false) == 0)
    live_session_revoke_user(c->api->live, id, "user deleted");
}
