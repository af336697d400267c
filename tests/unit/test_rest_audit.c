/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for GET /api/v1/audit/verify and for GET /api/v1/audit (its
 * filters, and its answer over a broken chain) in api/rest_audit.c, through
 * api_handle on detached requests against a real audit log and registry in
 * a temporary directory. The log is broken the way an intruder would: one
 * byte of a record's payload in DATA/audit.log changed while it is open.
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
#include "core/err.h"
#include "core/mem.h"
#include "http/conn.h"

#define ADMIN "unit-admin-token-123456"

typedef struct fx {
  char dir[64];
  loom_api api;
  sec_auth auth;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  char err[256], *newtok = NULL;
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/rest-audit-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  if (sec_auth_init(&f->auth, f->dir, ADMIN, &newtok, err, sizeof err)) return -1;
  free(newtok);
  char path[128];
  snprintf(path, sizeof path, "%s/meta.db", f->dir);
  if (meta_store_open(path, &f->api.meta, err, sizeof err)) return -1;
  if (sec_audit_open(f->dir, NULL, &f->api.audit, NULL, err, sizeof err)) return -1;
  if (api_init(&f->api) || loom_workpool_new(2, &f->api.pool)) return -1;
  f->api.auth = &f->auth;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  loom_workpool_free(f->api.pool);
  api_deinit(&f->api);
  sec_audit_close(f->api.audit);
  meta_store_close(f->api.meta);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd)) return -1;
  free(f);
  return 0;
}

/* GET path as the platform admin; the answer's status, its body parsed. */
static int get(fx *f, const char *path, json_t **body) {
  char raw[512];
  snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", path,
           ADMIN);
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
  *body = b ? json_loadb(b + 4, len - (size_t)(b + 4 - out), 0, NULL) : NULL;
  http_req_free(req);
  return status;
}

/* Append n events; tenant may be NULL. */
static void append(fx *f, int n, const char *tenant) {
  for (int i = 0; i < n; i++) {
    sec_audit_event ev = {.actor = "system", .action = "test.event", .outcome = "success",
                          .tenant = tenant};
    assert_int_equal(sec_audit_append(f->api.audit, &ev, 0, NULL), 0);
  }
}

/* Flip a byte in the payload of record seq of DATA/audit.log. */
static void tamper(fx *f, uint64_t seq) {
  char path[128];
  snprintf(path, sizeof path, "%s/audit.log", f->dir);
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  long off = SEC_AUDIT_HEADER_LEN;
  for (;;) {
    uint8_t head[16];
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
    assert_int_equal(fread(head, 1, sizeof head, fp), sizeof head);
    uint32_t plen = loom_le32(head + 4);
    if (loom_le64(head + 8) == seq) {
      long pos = off + SEC_AUDIT_REC_FIXED + (long)plen / 2;
      assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
      int c = fgetc(fp);
      assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
      fputc(c ^ 1, fp);
      break;
    }
    off += SEC_AUDIT_REC_OVERHEAD + (long)plen;
  }
  fclose(fp);
}

static json_int_t int_of(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* The seq numbers of a page's records, as "1,2,3". */
static void seqs(json_t *page, char *out, size_t cap) {
  size_t n = 0, i;
  json_t *r;
  out[0] = 0;
  json_array_foreach(json_object_get(page, "data"), i, r) {
    n += (size_t)snprintf(out + n, cap - n, "%s%lld", i ? "," : "", (long long)int_of(r, "seq"));
    if (n >= cap) break;
  }
}

static void test_verify_intact_log_is_verified(void **state) {
  fx *f = *state;
  append(f, 5, NULL);
  json_t *v = NULL;
  assert_int_equal(get(f, "/api/v1/audit/verify", &v), 200);
  assert_string_equal(json_string_value(json_object_get(v, "status")), "verified");
  assert_int_equal(int_of(v, "last_seq"), 5);
  assert_true(json_is_null(json_object_get(v, "broken_at")));
  json_decref(v);
}

static void test_verify_empty_log_is_verified(void **state) {
  fx *f = *state;
  json_t *v = NULL;
  assert_int_equal(get(f, "/api/v1/audit/verify", &v), 200);
  assert_string_equal(json_string_value(json_object_get(v, "status")), "verified");
  assert_int_equal(int_of(v, "last_seq"), 0);
  json_decref(v);
}

static void test_verify_names_the_tampered_record(void **state) {
  fx *f = *state;
  append(f, 5, NULL);
  tamper(f, 3);
  json_t *v = NULL;
  assert_int_equal(get(f, "/api/v1/audit/verify", &v), 200);
  assert_string_equal(json_string_value(json_object_get(v, "status")), "broken");
  assert_int_equal(int_of(v, "broken_at"), 3);
  assert_int_equal(int_of(v, "last_seq"), 5);
  assert_non_null(json_string_value(json_object_get(v, "reason")));
  json_decref(v);
}

static void test_verify_finds_a_break_in_a_later_page(void **state) {
  fx *f = *state;
  append(f, 1100, NULL); /* the walk reads 1000 records at a time */
  tamper(f, 1050);
  json_t *v = NULL;
  assert_int_equal(get(f, "/api/v1/audit/verify", &v), 200);
  assert_string_equal(json_string_value(json_object_get(v, "status")), "broken");
  assert_int_equal(int_of(v, "broken_at"), 1050);
  json_decref(v);
}

static void test_verify_without_an_audit_log_is_unverifiable(void **state) {
  fx *f = *state;
  sec_audit *saved = f->api.audit;
  f->api.audit = NULL;
  json_t *v = NULL;
  assert_int_equal(get(f, "/api/v1/audit/verify", &v), 200);
  f->api.audit = saved;
  assert_string_equal(json_string_value(json_object_get(v, "status")), "unverifiable");
  assert_non_null(json_string_value(json_object_get(v, "reason")));
  json_decref(v);
}

static void test_list_over_a_break_returns_the_records_before_it(void **state) {
  fx *f = *state;
  append(f, 5, NULL);
  tamper(f, 4);
  json_t *p = NULL;
  char got[256];
  assert_int_equal(get(f, "/api/v1/audit?pageSize=100", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "1,2,3");
  assert_int_equal(int_of(p, "broken_at"), 4);
  assert_true(json_is_null(json_object_get(p, "nextSeq")));
  json_decref(p);
}

static void test_list_page_before_a_break_is_unchanged(void **state) {
  fx *f = *state;
  append(f, 70, NULL);
  tamper(f, 67);
  json_t *p = NULL;
  char got[256];
  assert_int_equal(get(f, "/api/v1/audit?fromSeq=60&pageSize=5", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "60,61,62,63,64");
  assert_int_equal(int_of(p, "nextSeq"), 65);
  assert_null(json_object_get(p, "broken_at"));
  json_decref(p);
  assert_int_equal(get(f, "/api/v1/audit?fromSeq=60&pageSize=100", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "60,61,62,63,64,65,66");
  assert_int_equal(int_of(p, "broken_at"), 67);
  json_decref(p);
}

static void test_list_starting_at_the_break_is_empty_with_broken_at(void **state) {
  fx *f = *state;
  append(f, 5, NULL);
  tamper(f, 1);
  json_t *p = NULL;
  assert_int_equal(get(f, "/api/v1/audit", &p), 200);
  assert_int_equal(json_array_size(json_object_get(p, "data")), 0);
  assert_int_equal(int_of(p, "broken_at"), 1);
  json_decref(p);
}

static void test_list_rejects_a_page_size_out_of_range(void **state) {
  fx *f = *state;
  json_t *p = NULL;
  assert_int_equal(get(f, "/api/v1/audit?pageSize=1001", &p), 400);
  json_decref(p);
}

/* Append one event with this action, actor, outcome and time. */
static void append_ev(fx *f, const char *action, const char *actor, const char *outcome,
                      int64_t time_ms) {
  sec_audit_event ev = {.actor = actor, .action = action, .outcome = outcome};
  assert_int_equal(sec_audit_append(f->api.audit, &ev, time_ms, NULL), 0);
}

static void test_list_filters_by_action_prefix_actor_and_outcome(void **state) {
  fx *f = *state;
  append_ev(f, "user.create", "user:a", "success", 0);
  append_ev(f, "login", "user:a", "failure", 0);
  append_ev(f, "user.role", "user:b", "success", 0);
  append_ev(f, "user", "user:b", "success", 0);
  json_t *p = NULL;
  char got[256];
  assert_int_equal(get(f, "/api/v1/audit?action=user.", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "1,3");
  json_decref(p);
  assert_int_equal(get(f, "/api/v1/audit?action=user", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "4");
  json_decref(p);
  assert_int_equal(get(f, "/api/v1/audit?actor=user:a&outcome=failure", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "2");
  json_decref(p);
}

static void test_list_filters_by_time_range(void **state) {
  fx *f = *state;
  append_ev(f, "a", "system", "success", 1000);
  append_ev(f, "b", "system", "success", 2000);
  append_ev(f, "c", "system", "success", 3000);
  json_t *p = NULL;
  char got[256];
  assert_int_equal(get(f, "/api/v1/audit?fromMs=2000&toMs=3000", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "2");
  json_decref(p);
  assert_int_equal(get(f, "/api/v1/audit?fromMs=soon", &p), 400);
  json_decref(p);
}

static void test_list_filtered_pages_go_on_from_next_seq(void **state) {
  fx *f = *state;
  for (int i = 0; i < 6; i++) append_ev(f, i % 2 ? "odd" : "even", "system", "success", 0);
  json_t *p = NULL;
  char got[256];
  assert_int_equal(get(f, "/api/v1/audit?action=odd&pageSize=2", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "2,4");
  assert_int_equal(int_of(p, "nextSeq"), 5);
  json_decref(p);
  assert_int_equal(get(f, "/api/v1/audit?action=odd&pageSize=2&fromSeq=5", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "6");
  assert_true(json_is_null(json_object_get(p, "nextSeq")));
  json_decref(p);
}

static void test_list_filtered_over_a_break_keeps_the_matches_before_it(void **state) {
  fx *f = *state;
  for (int i = 0; i < 6; i++) append_ev(f, i % 2 ? "odd" : "even", "system", "success", 0);
  tamper(f, 5);
  json_t *p = NULL;
  char got[256];
  assert_int_equal(get(f, "/api/v1/audit?action=odd", &p), 200);
  seqs(p, got, sizeof got);
  assert_string_equal(got, "2,4");
  assert_int_equal(int_of(p, "broken_at"), 5);
  json_decref(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_verify_intact_log_is_verified, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_empty_log_is_verified, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_names_the_tampered_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_finds_a_break_in_a_later_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_without_an_audit_log_is_unverifiable, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_list_over_a_break_returns_the_records_before_it, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_list_page_before_a_break_is_unchanged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_starting_at_the_break_is_empty_with_broken_at,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_rejects_a_page_size_out_of_range, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_filters_by_action_prefix_actor_and_outcome, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_list_filters_by_time_range, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_filtered_pages_go_on_from_next_seq, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_filtered_over_a_break_keeps_the_matches_before_it,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
