/* SPDX-License-Identifier: Apache-2.0
 * Login and sessions: POST /api/v1/auth/login {"username": e-mail,
 * "password"} -> {"token": "lm_s_...", "expires_ms", "user"}; POST
 * /api/v1/auth/logout revokes the presented session; GET /api/v1/auth/me
 * says who the token is. Brute force: sec/backoff per account and per client
 * address (429 with Retry-After; limits in sec/backoff.h: 5 failures per
 * account and 20 per address are free, then 1 s doubling up to 15 min); an
 * unknown account costs the same argon2id time as a known one. Every attempt
 * is audited. Sessions last 12 hours; a password hashed under older cost
 * limits is re-hashed at its next login; tokens dead for 30 days are purged
 * (at most once a minute, by a login). POST /api/v1/auth/password
 * {"old_password", "new_password"} lets a signed-in user (a login session)
 * change their own password, under the same back-off as login.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/principal.h"
#include "core/err.h"
#include "core/timeutil.h"

#define SESSION_TTL_MS (12LL * 3600 * 1000) /* a login lasts 12 hours */
#define TOKEN_KEEP_MS (30LL * 24 * 3600 * 1000) /* expired/revoked tokens kept 30 days */

static int64_t now_ms(void) { return loom_now_ns() / 1000000; }

static void client_ip(http_req *req, char *out, size_t cap) {
  snprintf(out, cap, "%s", http_req_remote(req));
  char *colon = strrchr(out, ':');
  if (colon) *colon = 0;
}

void auth_login(api_call *c) {
  json_t *in;
  if (api_body_object(c, &in)) return;
  const char *user = json_string_value(json_object_get(in, "username"));
  const char *pw = json_string_value(json_object_get(in, "password"));
  char account[256], addr[64], secret[SEC_TOKEN_TEXT_MAX] = "";
  meta_user_auth ua;
  memset(&ua, 0, sizeof ua);
  if (!user || !pw || !*user || strlen(user) >= sizeof account) {
    api_error(c->req, 400, "username and password are required");
    goto out;
  }
  size_t i = 0;
  for (; user[i]; i++) account[i] = (char)tolower((unsigned char)user[i]);
  account[i] = 0;
  client_ip(c->req, addr, sizeof addr);

  uint64_t retry = 0;
  pthread_mutex_lock(&c->api->backoff_lock);
  bool purge = false;
  if (now_ms() - c->api->backoff_swept_ms > 60000) { /* return quiet keys' memory */
    sec_backoff_sweep(c->api->backoff, (uint64_t)now_ms());
    c->api->backoff_swept_ms = now_ms();
    purge = true;
  }
  int rc = sec_backoff_check(c->api->backoff, account, addr, (uint64_t)now_ms(), &retry);
  pthread_mutex_unlock(&c->api->backoff_lock);
  if (rc == LOOM_EAGAIN) {
    char ra[32];
    snprintf(ra, sizeof ra, "%llu", (unsigned long long)((retry + 999) / 1000));
    if (api_audit_raw(c->api, c->req, "anonymous", NULL, "login", account, "denied",
                      "back-off")) {
      api_error(c->req, 500, "the audit log could not be written");
      goto out;
    }
    http_req_add_header(c->req, "Retry-After", ra);
    api_error(c->req, 429, "too many failed logins: wait before trying again");
    goto out;
  }
  if (purge) /* sessions pile up one per login: drop those long dead (the audit log keeps them) */
    meta_token_purge(c->api->meta, now_ms() - TOKEN_KEEP_MS, NULL);
  int found = meta_user_by_email(c->api->meta, account, &ua);
  int ok;
  if (found == 0 && ua.password_hash[0]) {
    ok = sec_password_verify(ua.password_hash, pw) == 0 && !ua.disabled;
  } else {
    sec_password_spend(&c->api->pw_limits); /* as long as a real check */
    ok = 0;
  }
  if (!ok) {
    pthread_mutex_lock(&c->api->backoff_lock);
    sec_backoff_fail(c->api->backoff, account, addr, (uint64_t)now_ms(), NULL);
    pthread_mutex_unlock(&c->api->backoff_lock);
    if (api_audit_raw(c->api, c->req, "anonymous",
                      found == 0 ? ua.tenant_id : NULL, "login", account, "failure",
                      found ? "unknown account" : ua.disabled ? "user disabled" : "wrong password")) {
      api_error(c->req, 500, "the audit log could not be written");
      goto out;
    }
    http_req_add_header(c->req, "WWW-Authenticate", "Token realm=\"loom\"");
    api_error(c->req, 401, "wrong username or password");
    goto out;
  }
  pthread_mutex_lock(&c->api->backoff_lock);
  sec_backoff_success(c->api->backoff, account);
  pthread_mutex_unlock(&c->api->backoff_lock);
  if (sec_password_needs_rehash(&c->api->pw_limits, ua.password_hash) == 1) {
    /* the cost limits changed since this hash was made: renew it now that
     * the password is at hand (best effort; the old hash stays valid) */
    char fresh[SEC_PASSWORD_HASH_MAX];
    if (!sec_password_hash(&c->api->pw_limits, pw, fresh)) {
      json_t *sec = json_pack("{s:s}", "password_hash", fresh);
      if (sec) meta_update(c->api->meta, META_USER, NULL, ua.id, NULL, sec, NULL, NULL, 0);
      json_decref(sec);
    }
    sodium_memzero(fresh, sizeof fresh);
  }
  char actor[64];
  snprintf(actor, sizeof actor, "user:%s", ua.id);
  if (api_audit_raw(c->api, c->req, actor, ua.tenant_id, "login", account, "success", NULL)) {
    api_error(c->req, 500, "the audit log could not be written; no session was opened");
    goto out;
  }
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  char err[256] = "";
  int64_t expires = now_ms() + SESSION_TTL_MS;
  if (sec_token_generate(SEC_TOKEN_SESSION, secret)) {
    api_error(c->req, 500, "cannot generate a token");
    goto out;
  }
  sec_token_hash(secret, strlen(secret), hash);
  meta_token_new t = {.user_id = ua.id, .kind = "session", .scope = "admin", .name = "login",
                      .hash = hash, .expires_ms = expires};
  if ((rc = meta_token_create(c->api->meta, NULL, &t, NULL, err, sizeof err))) {
    api_error_rc(c->req, rc, err);
    goto out;
  }
  api_reply_json(c->req, 200,
                 json_pack("{s:s,s:I,s:{s:s,s:s,s:s?}}", "token", secret, "expires_ms",
                           (json_int_t)expires, "user", "id", ua.id, "role", ua.role, "tenant_id",
                           ua.tenant_id[0] ? ua.tenant_id : NULL));
out:
  sodium_memzero(secret, sizeof secret);
  sodium_memzero(&ua, sizeof ua);
  json_decref(in);
}

void auth_logout(api_call *c) {
  if (c->who.kind != SEC_PRINCIPAL_USER || !c->token_id[0]) {
    api_error(c->req, 400, "logout ends login sessions; revoke an API token with "
                           "DELETE /api/v1/tokens/{id}");
    return;
  }
  if (api_audit(c, NULL, "logout", c->token_id, "success", NULL)) {
    api_error(c->req, 500, "the audit log could not be written");
    return;
  }
  char err[256] = "";
  int rc = meta_token_revoke(c->api->meta, NULL, c->token_id, now_ms(), err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return;
  }
  char token[512];
  if (!sec_auth_extract(http_req_header(c->req, "authorization"), http_req_param(c->req, "p"),
                        token, sizeof token)) {
    uint8_t hash[SEC_TOKEN_HASH_LEN];
    sec_token_hash(token, strlen(token), hash);
    api_who_forget(c->api->principals, hash);
    sodium_memzero(token, sizeof token);
  }
  http_respond(c->req, 204, NULL, NULL, 0);
}

void auth_me(api_call *c) {
  const sec_principal *p = &c->who;
  json_t *me = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?}", "subject_id", p->subject_id, "role",
                         sec_role_name(p->role), "scope", sec_scope_name(p->scope), "tenant_id",
                         p->tenant_id[0] ? p->tenant_id : NULL, "region_code",
                         p->region_code[0] ? p->region_code : NULL, "token_id",
                         c->token_id[0] ? c->token_id : NULL, "db", c->db_name[0] ? c->db_name : NULL);
  if (me && c->token_id[0]) {
    json_t *u = NULL;
    if (!meta_get(c->api->meta, META_USER, NULL, p->subject_id, &u, NULL, 0))
      json_object_set_new(me, "user", u);
  }
  api_reply_json(c->req, 200, me);
}

/* {"error": {"code": code, "message": msg}} with status 400: a refusal the
 * console tells apart by its code. */
static void refuse(api_call *c, const char *code, const char *msg) {
  api_reply_json(c->req, 400, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void auth_password(api_call *c) {
  json_t *in = NULL, *user = NULL, *secrets = NULL;
  meta_user_auth ua;
  memset(&ua, 0, sizeof ua);
  char account[256], addr[64], msg[256], hash[SEC_PASSWORD_HASH_MAX] = "";
  if (c->who.kind != SEC_PRINCIPAL_USER || !c->token_id[0]) {
    refuse(c, "session_required", "only a login session (e-mail and password) can change its "
                                  "password; an API token cannot");
    return;
  }
  if (api_body_object(c, &in)) return;
  const char *old_pw = json_string_value(json_object_get(in, "old_password"));
  const char *new_pw = json_string_value(json_object_get(in, "new_password"));
  if (!old_pw || !new_pw || !*old_pw) {
    api_error(c->req, 400, "old_password and new_password are required strings");
    goto out;
  }
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_USER, NULL, c->who.subject_id, &user, err, sizeof err);
  const char *email = rc ? NULL : json_string_value(json_object_get(user, "email"));
  if (!email || strlen(email) >= sizeof account) {
    api_error_rc(c->req, rc ? rc : LOOM_ENOTFOUND, rc ? err : "user not found");
    goto out;
  }
  size_t i = 0;
  for (; email[i]; i++) account[i] = (char)tolower((unsigned char)email[i]);
  account[i] = 0;
  client_ip(c->req, addr, sizeof addr);
  uint64_t retry = 0;
  pthread_mutex_lock(&c->api->backoff_lock);
  rc = sec_backoff_check(c->api->backoff, account, addr, (uint64_t)now_ms(), &retry);
  pthread_mutex_unlock(&c->api->backoff_lock);
  if (rc == LOOM_EAGAIN) {
    char ra[32];
    snprintf(ra, sizeof ra, "%llu", (unsigned long long)((retry + 999) / 1000));
    if (api_audit(c, NULL, "user.password", c->who.subject_id, "denied", "back-off")) {
      api_error(c->req, 500, "the audit log could not be written");
      goto out;
    }
    http_req_add_header(c->req, "Retry-After", ra);
    api_error(c->req, 429, "too many failed attempts: wait before trying again");
    goto out;
  }
  if (meta_user_by_email(c->api->meta, account, &ua) || strcmp(ua.id, c->who.subject_id)) {
    api_error(c->req, 404, "user not found");
    goto out;
  }
  if (!ua.password_hash[0] || sec_password_verify(ua.password_hash, old_pw)) {
    pthread_mutex_lock(&c->api->backoff_lock);
    sec_backoff_fail(c->api->backoff, account, addr, (uint64_t)now_ms(), NULL);
    pthread_mutex_unlock(&c->api->backoff_lock);
    if (api_audit(c, NULL, "user.password", c->who.subject_id, "failure",
                  "wrong current password")) {
      api_error(c->req, 500, "the audit log could not be written");
      goto out;
    }
    refuse(c, "wrong_password", "the current password is wrong");
    goto out;
  }
  pthread_mutex_lock(&c->api->backoff_lock);
  sec_backoff_success(c->api->backoff, account);
  pthread_mutex_unlock(&c->api->backoff_lock);
  if (sec_password_check_policy(new_pw, msg, sizeof msg)) {
    refuse(c, "weak_password", msg);
    goto out;
  }
  if (!strcmp(old_pw, new_pw)) {
    refuse(c, "same_password", "the new password must differ from the current one");
    goto out;
  }
  if ((rc = sec_password_hash(&c->api->pw_limits, new_pw, hash))) {
    api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EIO : rc, "cannot hash the password");
    goto out;
  }
  if (!(secrets = json_pack("{s:s}", "password_hash", hash))) {
    api_error_rc(c->req, LOOM_ENOMEM, NULL);
    goto out;
  }
  /* audited before the change: an action the log cannot record does not happen */
  if (api_audit(c, NULL, "user.password", c->who.subject_id, "success", "own password")) {
    api_error(c->req, 500, "the audit log could not be written; the password is unchanged");
    goto out;
  }
  err[0] = 0;
  if ((rc = meta_update(c->api->meta, META_USER, NULL, ua.id, NULL, secrets, NULL, err,
                        sizeof err))) {
    api_error_rc(c->req, rc, err);
    goto out;
  }
  http_respond(c->req, 204, NULL, NULL, 0);
out:
  sodium_memzero(hash, sizeof hash);
  sodium_memzero(&ua, sizeof ua);
  json_decref(secrets);
  json_decref(user);
  json_decref(in);
}
