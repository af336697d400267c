/* SPDX-License-Identifier: Apache-2.0
 * /api/v1/tokens: a user's own API tokens. Create returns the secret once
 * ("lm_a_..."; only its hash is stored) with a scope no wider than the
 * caller's own and an optional expiry; list shows the caller's tokens (user
 * admins may ask for another user's with userId); revoke works on one's own
 * tokens, and on other users' tokens for those with user.write over them.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/timeutil.h"

static int64_t now_ms(void) { return loom_now_ns() / 1000000; }

void rest_token_list(api_call *c) {
  meta_query q;
  meta_filter filters[API_FILTERS_MAX + 1];
  char err[256] = "";
  int rc = api_list_query(c, META_TOKEN, &q, filters, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return;
  }
  const char *user = http_req_param(c->req, "userId");
  if (!user) user = http_req_param(c->req, "user_id");
  if (user && strcmp(user, c->who.subject_id)) {
    rc = sec_policy_check(&c->who, SEC_PERM_USER_READ, c->who.tenant_id[0] ? c->who.tenant_id : NULL,
                          NULL);
    if (rc) {
      api_error_rc(c->req, rc, "you may list only your own tokens");
      return;
    }
  } else {
    /* own tokens; drop a user_id filter api_list_query may have taken */
    size_t k = 0;
    for (size_t i = 0; i < q.n_filters; i++)
      if (strcmp(filters[i].field, "user_id")) filters[k++] = filters[i];
    q.n_filters = k;
    user = c->who.subject_id;
  }
  size_t k = 0;
  for (size_t i = 0; i < q.n_filters; i++)
    if (strcmp(filters[i].field, "user_id")) filters[k++] = filters[i];
  filters[k].field = "user_id";
  filters[k].value = user;
  q.n_filters = k + 1;
  json_t *page = NULL;
  /* own tokens: platform-wide by user id (a regional observer has no tenant);
   * another user's: only within the caller's scope */
  rc = meta_list(c->api->meta, META_TOKEN, user == c->who.subject_id ? NULL : c->scope, &q, &page,
                 err, sizeof err);
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, page);
}

void rest_token_create(api_call *c) {
  if (!c->token_id[0] || c->who.kind == SEC_PRINCIPAL_DEVICE) {
    api_error(c->req, 400, "the admin token belongs to no user: log in as a user to create tokens");
    return;
  }
  json_t *in;
  if (api_body_object(c, &in)) return;
  const char *scope_name = json_string_value(json_object_get(in, "scope"));
  const char *name = json_string_value(json_object_get(in, "name"));
  json_t *exp = json_object_get(in, "expires_ms");
  sec_scope scope;
  char secret[SEC_TOKEN_TEXT_MAX];
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  json_t *tok = NULL;
  char err[256] = "";
  if (!scope_name || sec_scope_parse(scope_name, &scope)) {
    api_error(c->req, 400, "scope: must be read, write or admin");
    goto out;
  }
  if (scope > c->who.scope) {
    api_error(c->req, 403, "scope: a token cannot have a wider scope than the caller's");
    goto out;
  }
  if (exp && (!json_is_integer(exp) || json_integer_value(exp) <= now_ms())) {
    api_error(c->req, 400, "expires_ms: must be a future time in ms since 1970");
    goto out;
  }
  if (api_audit(c, NULL, "token.create", name, "success", scope_name)) {
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    goto out;
  }
  if (sec_token_generate(SEC_TOKEN_API, secret)) {
    api_error(c->req, 500, "cannot generate a token");
    goto out;
  }
  sec_token_hash(secret, strlen(secret), hash);
  meta_token_new t = {.user_id = c->who.subject_id, .kind = "api", .scope = scope_name,
                      .name = name, .hash = hash, .expires_ms = exp ? json_integer_value(exp) : 0};
  int rc = meta_token_create(c->api->meta, NULL, &t, &tok, err, sizeof err); /* own user */
  if (rc) {
    api_audit(c, NULL, "token.create", name, "failure", err);
    api_error_rc(c->req, rc, err);
    goto out;
  }
  json_object_set_new(tok, "token", json_string(secret));
  api_reply_json(c->req, 201, tok);
out:
  sodium_memzero(secret, sizeof secret);
  json_decref(in);
}

void rest_token_revoke(api_call *c) {
  const char *id = api_param(c, "id");
  json_t *tok = NULL;
  char err[256] = "";
  /* looked up platform-wide: the owner check or the policy on the token's
   * own tenant decides (another tenant's token is 404 there) */
  int rc = meta_get(c->api->meta, META_TOKEN, NULL, id, &tok, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return;
  }
  const char *owner = json_string_value(json_object_get(tok, "user_id"));
  const char *tenant = json_string_value(json_object_get(tok, "tenant_id"));
  char tenant_buf[64];
  snprintf(tenant_buf, sizeof tenant_buf, "%s", tenant ? tenant : "");
  bool own = owner && !strcmp(owner, c->who.subject_id);
  json_decref(tok);
  if (!own && (rc = sec_policy_check(&c->who, SEC_PERM_USER_WRITE,
                                     tenant_buf[0] ? tenant_buf : NULL, NULL))) {
    api_error_rc(c->req, rc, rc == LOOM_EPERM ? "you may revoke only your own tokens" : "not found");
    return;
  }
  if (api_audit(c, tenant_buf, "token.revoke", id, "success", own ? "own" : "other user's")) {
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    return;
  }
  rc = meta_token_revoke(c->api->meta, NULL, id, now_ms(), err, sizeof err);
  if (rc) {
    api_audit(c, tenant_buf, "token.revoke", id, "failure", err);
    api_error_rc(c->req, rc, err);
    return;
  }
  live_session_revoke_token(c->api->live, id, "token revoked"); /* its WebSockets, now */
  http_respond(c->req, 204, NULL, NULL, 0);
}
