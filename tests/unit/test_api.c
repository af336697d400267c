/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for the API's access layer: principal resolution and its
 * one-second cache (api/principal), the route table's matching, JSON errors
 * and single access check (api/routes, on detached requests against a real
 * registry, audit log and engine in a temporary directory), the rule that a
 * failed audit append fails the action, and the tenant limits on InfluxQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api.h"
#include "api/principal.h"
#include "core/err.h"
#include "core/mem.h"
#include "http/conn.h"

#define ADMIN "unit-admin-token-123456"

typedef struct fx {
  char dir[64];
  loom_api api;
  sec_auth auth;
  ts_engine *engine;
  char tenant[META_ID_LEN + 1];
  char user[META_ID_LEN + 1];
  char secret[SEC_TOKEN_TEXT_MAX];
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  char token_id[META_ID_LEN + 1];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  char err[256], *newtok = NULL;
  snprintf(f->dir, sizeof f->dir, "/tmp/api-test-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  if (sec_auth_init(&f->auth, f->dir, ADMIN, &newtok, err, sizeof err)) return -1;
  ts_engine_options eo;
  ts_engine_options_default(&eo);
  eo.dir = f->dir;
  eo.durability = TS_BATCHED;
  if (ts_engine_open(&eo, &f->engine, err, sizeof err)) return -1;
  char path[128];
  snprintf(path, sizeof path, "%s/meta.db", f->dir);
  if (meta_store_open(path, &f->api.meta, err, sizeof err)) return -1;
  if (sec_audit_open(f->dir, NULL, &f->api.audit, NULL, err, sizeof err)) return -1;
  if (api_init(&f->api) || loom_workpool_new(2, &f->api.pool)) return -1;
  sec_password_limits_min(&f->api.pw_limits);
  f->api.engine = f->engine;
  f->api.auth = &f->auth;
  /* a tenant, one of its viewers and a session token of that viewer */
  json_t *t = NULL, *u = NULL, *tok = NULL;
  json_t *tin = json_pack("{s:s,s:s,s:s}", "name", "A", "db_name", "dba", "region_code", "CN-GD");
  int rc = meta_create(f->api.meta, META_TENANT, NULL, tin, NULL, &t, err, sizeof err);
  json_decref(tin);
  if (rc) return -1;
  snprintf(f->tenant, sizeof f->tenant, "%s", json_string_value(json_object_get(t, "id")));
  json_t *in = json_pack("{s:s,s:s}", "email", "v@a.example", "role", "viewer");
  if (meta_create(f->api.meta, META_USER, f->tenant, in, NULL, &u, err, sizeof err)) return -1;
  json_decref(in);
  snprintf(f->user, sizeof f->user, "%s", json_string_value(json_object_get(u, "id")));
  sec_token_generate(SEC_TOKEN_SESSION, f->secret);
  sec_token_hash(f->secret, strlen(f->secret), f->hash);
  meta_token_new nt = {.user_id = f->user, .kind = "session", .scope = "admin", .hash = f->hash};
  if (meta_token_create(f->api.meta, NULL, &nt, &tok, err, sizeof err)) return -1;
  snprintf(f->token_id, sizeof f->token_id, "%s", json_string_value(json_object_get(tok, "id")));
  json_decref(t);
  json_decref(u);
  json_decref(tok);
  free(newtok);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  loom_workpool_free(f->api.pool);
  api_deinit(&f->api);
  sec_audit_close(f->api.audit);
  meta_store_close(f->api.meta);
  ts_engine_close(f->engine);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd)) return -1;
  free(f);
  return 0;
}

/* Send one raw request through api_handle and wait for the whole answer
 * (handlers may answer from a worker). Returns the status; body copied. */
static int roundtrip(fx *f, const char *raw, char *body, size_t cap) {
  http_req *req = NULL;
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &req), 0);
  api_handle(req, &f->api);
  for (int i = 0; i < 5000 && __atomic_load_n(&req->state, __ATOMIC_ACQUIRE) != RESP_DONE; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(req->state, RESP_DONE);
  size_t len;
  const char *out = (const char *)http_req_output(req, &len);
  int status = 0;
  sscanf(out, "HTTP/1.%*d %d", &status);
  const char *b = strstr(out, "\r\n\r\n");
  snprintf(body, cap, "%.*s", b ? (int)(len - (size_t)(b + 4 - out)) : 0, b ? b + 4 : "");
  http_req_free(req);
  return status;
}

static int64_t mono_ms(void) { return 1000000; }

/* ---- principals ---- */

static void test_who_admin_token_is_platform_admin(void **state) {
  fx *f = *state;
  api_who w;
  uint8_t h[SEC_TOKEN_HASH_LEN];
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, ADMIN, h, mono_ms(), &w), API_WHO_OK);
  assert_int_equal(w.p.role, SEC_ROLE_PLATFORM_ADMIN);
  assert_int_equal(w.p.scope, SEC_SCOPE_ADMIN);
  assert_string_equal(w.token_id, "");
}

static void test_who_session_is_looked_up_then_cached_for_a_second(void **state) {
  fx *f = *state;
  api_who w;
  uint8_t h[SEC_TOKEN_HASH_LEN];
  int64_t now = mono_ms();
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, f->secret, h, now, &w), API_WHO_LOOKUP);
  assert_memory_equal(h, f->hash, SEC_TOKEN_HASH_LEN);
  assert_int_equal(api_who_lookup(f->api.principals, f->api.meta, h, now, 1700000000000, &w), 0);
  assert_int_equal(w.p.kind, SEC_PRINCIPAL_USER);
  assert_int_equal(w.p.role, SEC_ROLE_VIEWER);
  assert_string_equal(w.p.tenant_id, f->tenant);
  assert_string_equal(w.p.region_code, "CN-GD"); /* the tenant's region */
  assert_string_equal(w.db_name, "dba");
  assert_string_equal(w.token_id, f->token_id);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, f->secret, h, now + 999, &w), API_WHO_OK);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, f->secret, h, now + 1000, &w),
                   API_WHO_LOOKUP);
}

static void test_who_forget_drops_the_cached_entry(void **state) {
  fx *f = *state;
  api_who w;
  uint8_t h[SEC_TOKEN_HASH_LEN];
  assert_int_equal(api_who_lookup(f->api.principals, f->api.meta, f->hash, 10, 1700000000000, &w), 0);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, f->secret, h, 11, &w), API_WHO_OK);
  api_who_forget(f->api.principals, f->hash);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, f->secret, h, 12, &w), API_WHO_LOOKUP);
}

static void test_who_revoked_or_unknown_token_is_refused(void **state) {
  fx *f = *state;
  api_who w;
  assert_int_equal(meta_token_revoke(f->api.meta, NULL, f->token_id, 1700000000000, NULL, 0), 0);
  assert_int_equal(api_who_lookup(f->api.principals, f->api.meta, f->hash, 10, 1700000000001, &w),
                   LOOM_EAUTH);
  uint8_t other[SEC_TOKEN_HASH_LEN] = {1, 2, 3};
  assert_int_equal(api_who_lookup(f->api.principals, f->api.meta, other, 10, 1700000000001, &w),
                   LOOM_EAUTH);
}

static void test_who_device_and_malformed_tokens_are_anonymous(void **state) {
  fx *f = *state;
  api_who w;
  uint8_t h[SEC_TOKEN_HASH_LEN];
  char dev[SEC_TOKEN_TEXT_MAX];
  sec_token_generate(SEC_TOKEN_DEVICE, dev);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, dev, h, 1, &w), API_WHO_ANONYMOUS);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, "lm_s_short", h, 1, &w), API_WHO_ANONYMOUS);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, "", h, 1, &w), API_WHO_ANONYMOUS);
  assert_int_equal(api_who_fast(f->api.principals, &f->auth, NULL, h, 1, &w), API_WHO_ANONYMOUS);
  assert_int_equal(w.p.kind, SEC_PRINCIPAL_ANONYMOUS);
}

static void test_who_from_token_keeps_api_scope_and_gives_sessions_admin(void **state) {
  (void)state;
  meta_token_info t;
  memset(&t, 0, sizeof t);
  strcpy(t.role, "engineer");
  strcpy(t.kind, "api");
  strcpy(t.scope, "read");
  sec_principal p;
  assert_int_equal(api_who_from_token(&t, &p), 0);
  assert_int_equal(p.kind, SEC_PRINCIPAL_API_TOKEN);
  assert_int_equal(p.scope, SEC_SCOPE_READ);
  strcpy(t.kind, "session");
  assert_int_equal(api_who_from_token(&t, &p), 0);
  assert_int_equal(p.kind, SEC_PRINCIPAL_USER);
  assert_int_equal(p.scope, SEC_SCOPE_ADMIN);
  strcpy(t.role, "emperor");
  assert_int_equal(api_who_from_token(&t, &p), LOOM_EINVAL);
}

/* ---- routes ---- */

static void test_routes_unknown_path_and_method_are_json_errors(void **state) {
  fx *f = *state;
  char body[2048];
  assert_int_equal(roundtrip(f, "GET /api/v1/nope HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 404);
  assert_non_null(strstr(body, "\"code\":\"not_found\""));
  assert_int_equal(roundtrip(f, "PATCH /api/v1/assets HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body),
                   405);
  assert_non_null(strstr(body, "\"code\":\"method_not_allowed\""));
}

static void test_routes_path_parameters_match_whole_segments(void **state) {
  fx *f = *state;
  char body[2048], raw[1024], big[400];
  const char *id = "00000000-0000-4000-8000-000000000000";
  snprintf(raw, sizeof raw, "GET /api/v1/devices/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Token " ADMIN
           "\r\n\r\n", id);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 404); /* routed: no such device */
  assert_non_null(strstr(body, "\"code\":\"not_found\""));
  snprintf(raw, sizeof raw, "GET /api/v1/devices/%s/ HTTP/1.1\r\nHost: x\r\n\r\n", id);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 404); /* trailing slash: no route */
  assert_null(strstr(body, "unauthorized"));
  assert_int_equal(roundtrip(f, "GET /api/v1/devices//attributes HTTP/1.1\r\nHost: x\r\n\r\n", body,
                             sizeof body),
                   404);
  assert_null(strstr(body, "unauthorized"));
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  snprintf(raw, sizeof raw, "GET /api/v1/devices/%s HTTP/1.1\r\nHost: x\r\n\r\n", big);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 404); /* a segment too long for a parameter */
  assert_null(strstr(body, "unauthorized"));
  /* the parameter route still needs its token */
  snprintf(raw, sizeof raw, "DELETE /api/v1/devices/%s HTTP/1.1\r\nHost: x\r\n\r\n", id);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 401);
}

static void test_routes_need_a_token(void **state) {
  fx *f = *state;
  char body[2048];
  assert_int_equal(roundtrip(f, "GET /api/v1/assets HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 401);
  assert_non_null(strstr(body, "\"code\":\"unauthorized\""));
  assert_int_equal(roundtrip(f, "GET /api/v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Token wrong\r\n\r\n",
                             body, sizeof body),
                   401);
  assert_int_equal(roundtrip(f, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body), 204);
}

static void test_routes_session_token_reaches_own_tenant_only(void **state) {
  fx *f = *state;
  char raw[512], body[4096];
  snprintf(raw, sizeof raw, "GET /api/v1/tenants/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
           f->tenant, f->secret);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 200);
  assert_non_null(strstr(body, "\"db_name\":\"dba\""));
  /* the default tenant is another tenant's: 404, not 403 */
  json_t *page = NULL;
  meta_query q = {.text_search = "default"};
  assert_int_equal(meta_list(f->api.meta, META_TENANT, NULL, &q, &page, NULL, 0), 0);
  const char *other = json_string_value(json_object_get(json_array_get(json_object_get(page, "data"), 0), "id"));
  snprintf(raw, sizeof raw, "GET /api/v1/tenants/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
           other, f->secret);
  json_decref(page);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 404);
  /* a viewer may not create assets */
  const char *asset = "{\"name\":\"a\",\"type\":\"site\"}";
  snprintf(raw, sizeof raw, "POST /api/v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Length: %zu\r\n\r\n%s", f->secret, strlen(asset), asset);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 403);
  assert_non_null(strstr(body, "\"code\":\"forbidden\""));
}

static void test_routes_failed_audit_append_fails_the_action(void **state) {
  fx *f = *state;
  char raw[512], body[2048];
  sec_audit *saved = f->api.audit;
  f->api.audit = NULL; /* appends fail */
  char asset[128];
  snprintf(asset, sizeof asset, "{\"name\":\"a\",\"type\":\"site\",\"tenant_id\":\"%s\"}", f->tenant);
  snprintf(raw, sizeof raw, "POST /api/v1/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Token " ADMIN
           "\r\nContent-Length: %zu\r\n\r\n%s", strlen(asset), asset);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 500);
  f->api.audit = saved;
  json_t *page = NULL;
  assert_int_equal(meta_list(f->api.meta, META_ASSET, NULL, NULL, &page, NULL, 0), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 0);
  json_decref(page);
  /* with the log back, the same request succeeds and is recorded */
  uint64_t before = sec_audit_last_seq(f->api.audit);
  assert_int_equal(roundtrip(f, raw, body, sizeof body), 201);
  assert_true(sec_audit_last_seq(f->api.audit) > before);
}

static void test_routes_json_names_every_rule(void **state) {
  (void)state;
  json_t *r = api_routes_json();
  assert_non_null(r);
  assert_true(json_array_size(r) >= 40);
  size_t i;
  json_t *v;
  json_array_foreach(r, i, v) {
    const char *a = json_string_value(json_object_get(v, "access"));
    assert_non_null(a);
    assert_string_not_equal(a, "unknown");
    assert_true(json_array_size(json_object_get(v, "methods")) > 0);
  }
  json_decref(r);
}

/* ---- InfluxQL tenant limits ---- */

static int guard(const sec_principal *p, const char *q, const char *db) {
  char msg[256];
  return api_query_guard(p, "dba", q, strlen(q), db, msg, sizeof msg);
}

static void test_query_guard_limits_tenants_to_their_database(void **state) {
  (void)state;
  sec_principal v = {.kind = SEC_PRINCIPAL_USER, .role = SEC_ROLE_VIEWER, .scope = SEC_SCOPE_ADMIN,
                     .tenant_id = "t"};
  sec_principal pa = {.kind = SEC_PRINCIPAL_USER, .role = SEC_ROLE_PLATFORM_ADMIN,
                      .scope = SEC_SCOPE_ADMIN};
  assert_int_equal(guard(&v, "SELECT * FROM m", "dba"), 0);
  assert_int_equal(guard(&v, "SELECT * FROM m", "other"), LOOM_ENOTFOUND);
  assert_int_equal(guard(&v, "SELECT * FROM other..m", "dba"), LOOM_ENOTFOUND);
  assert_int_equal(guard(&v, "SELECT * FROM dba..m", NULL), 0);
  assert_int_equal(guard(&v, "SELECT * FROM (SELECT * FROM other..m)", "dba"), LOOM_ENOTFOUND);
  assert_int_equal(guard(&v, "SELECT * INTO other..x FROM m", "dba"), LOOM_ENOTFOUND);
  assert_int_equal(guard(&v, "SHOW MEASUREMENTS ON other", "dba"), LOOM_ENOTFOUND);
  assert_int_equal(guard(&v, "SHOW DATABASES", NULL), 1);
  assert_int_equal(guard(&v, "SHOW DATABASES; SELECT * FROM m", "dba"), LOOM_EPERM);
  assert_int_equal(guard(&v, "DROP DATABASE x", "dba"), LOOM_EPERM);
  assert_int_equal(guard(&v, "CREATE DATABASE x", "dba"), LOOM_EPERM);
  assert_int_equal(guard(&v, "DELETE FROM m", "dba"), LOOM_EPERM); /* a viewer cannot write */
  sec_principal en = v;
  en.role = SEC_ROLE_ENGINEER;
  assert_int_equal(guard(&en, "DELETE FROM m", "dba"), 0);
  assert_int_equal(guard(&v, "SELEKT", "dba"), LOOM_EINVAL);
  assert_int_equal(guard(&pa, "DROP DATABASE x", "any"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_who_admin_token_is_platform_admin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_who_session_is_looked_up_then_cached_for_a_second, setup, teardown),
      cmocka_unit_test_setup_teardown(test_who_forget_drops_the_cached_entry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_who_revoked_or_unknown_token_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_who_device_and_malformed_tokens_are_anonymous, setup, teardown),
      cmocka_unit_test(test_who_from_token_keeps_api_scope_and_gives_sessions_admin),
      cmocka_unit_test_setup_teardown(test_routes_unknown_path_and_method_are_json_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_routes_path_parameters_match_whole_segments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_routes_need_a_token, setup, teardown),
      cmocka_unit_test_setup_teardown(test_routes_session_token_reaches_own_tenant_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_routes_failed_audit_append_fails_the_action, setup, teardown),
      cmocka_unit_test(test_routes_json_names_every_rule),
      cmocka_unit_test(test_query_guard_limits_tenants_to_their_database),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
