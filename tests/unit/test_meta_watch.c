/* SPDX-License-Identifier: Apache-2.0
 * Unit tests of the registry change watch (meta/watch.h): device updates
 * (with and without credentials), device deletes, attribute sets and
 * deletes are told after their commit; failed changes and other kinds are
 * not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "meta/meta.h"
#include "meta/watch.h"

typedef struct seen {
  int n;
  meta_change_kind kind;
  bool credentials;
  unsigned scope;
  char device[META_ID_LEN + 1];
  char tenant[META_ID_LEN + 1];
  char kv[256];
  size_t n_keys;
} seen;

typedef struct fx {
  char dir[64], path[128];
  meta_store *m;
  char tenant[META_ID_LEN + 1], profile[META_ID_LEN + 1], device[META_ID_LEN + 1];
  seen s;
} fx;

static void on_change(void *ud, const meta_change *c) {
  seen *s = ud;
  s->n++;
  s->kind = c->kind;
  s->credentials = c->credentials;
  s->scope = c->attr_scope;
  s->n_keys = c->n_keys;
  snprintf(s->device, sizeof s->device, "%s", c->device_id);
  snprintf(s->tenant, sizeof s->tenant, "%s", c->tenant_id ? c->tenant_id : "");
  s->kv[0] = 0;
  if (c->kv) {
    char *t = json_dumps(c->kv, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(s->kv, sizeof s->kv, "%s", t);
    free(t);
  }
}

static void mk(fx *f, meta_kind kind, const char *scope, json_t *in, char *id) {
  json_t *out = NULL;
  assert_int_equal(meta_create(f->m, kind, scope, in, NULL, &out, NULL, 0), 0);
  snprintf(id, META_ID_LEN + 1, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  json_decref(in);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/meta-watch-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/meta.db", f->dir);
  if (meta_store_open(f->path, &f->m, NULL, 0)) return -1;
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s}", "name", "Acme", "db_name", "acme"), f->tenant);
  mk(f, META_PROFILE, f->tenant, json_pack("{s:s}", "name", "press"), f->profile);
  mk(f, META_DEVICE, f->tenant, json_pack("{s:s,s:s}", "name", "p1", "profile_id", f->profile),
     f->device);
  meta_watch_set(f->m, on_change, &f->s);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  meta_store_close(f->m);
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < 4; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static void test_device_update_told_with_credentials_flag(void **state) {
  fx *f = *state;
  json_t *in = json_pack("{s:s}", "label", "x");
  assert_int_equal(meta_update(f->m, META_DEVICE, f->tenant, f->device, in, NULL, NULL, NULL, 0), 0);
  json_decref(in);
  assert_int_equal(f->s.n, 1);
  assert_int_equal(f->s.kind, META_CHANGE_DEVICE_UPDATED);
  assert_false(f->s.credentials);
  assert_string_equal(f->s.tenant, f->tenant);
  json_t *sec = json_pack("{s:s}", "token_hash", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  in = json_object();
  assert_int_equal(meta_update(f->m, META_DEVICE, f->tenant, f->device, in, sec, NULL, NULL, 0), 0);
  json_decref(in);
  json_decref(sec);
  assert_int_equal(f->s.n, 2);
  assert_true(f->s.credentials);
}

static void test_device_delete_told(void **state) {
  fx *f = *state;
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->tenant, f->device, NULL, 0), 0);
  assert_int_equal(f->s.n, 1);
  assert_int_equal(f->s.kind, META_CHANGE_DEVICE_DELETED);
  assert_string_equal(f->s.device, f->device);
  assert_string_equal(f->s.tenant, f->tenant);
}

static void test_failed_and_other_changes_not_told(void **state) {
  fx *f = *state;
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->tenant, "00000000-0000-4000-8000-000000000000",
                               NULL, 0),
                   LOOM_ENOTFOUND);
  json_t *in = json_pack("{s:s}", "description", "d");
  assert_int_equal(meta_update(f->m, META_PROFILE, f->tenant, f->profile, in, NULL, NULL, NULL, 0), 0);
  json_decref(in);
  assert_int_equal(f->s.n, 0);
}

static void test_attribute_set_and_delete_told(void **state) {
  fx *f = *state;
  json_t *kv = json_pack("{s:i}", "rate", 5);
  assert_int_equal(meta_attr_set(f->m, f->tenant, f->device, META_ATTR_SHARED, kv, 1, NULL, 0), 0);
  json_decref(kv);
  assert_int_equal(f->s.n, 1);
  assert_int_equal(f->s.kind, META_CHANGE_ATTRS_SET);
  assert_int_equal(f->s.scope, META_ATTR_SHARED);
  assert_string_equal(f->s.kv, "{\"rate\":5}");
  const char *keys[] = {"rate", "nope"};
  assert_int_equal(meta_attr_delete(f->m, f->tenant, f->device, META_ATTR_SHARED, keys, 2, NULL,
                                    NULL, 0),
                   0);
  assert_int_equal(f->s.n, 2);
  assert_int_equal(f->s.kind, META_CHANGE_ATTRS_DELETED);
  assert_int_equal(f->s.n_keys, 2);
  /* deleting nothing changes nothing: not told */
  assert_int_equal(meta_attr_delete(f->m, f->tenant, f->device, META_ATTR_SHARED, keys, 2, NULL,
                                    NULL, 0),
                   0);
  assert_int_equal(f->s.n, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_device_update_told_with_credentials_flag, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_delete_told, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_and_other_changes_not_told, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attribute_set_and_delete_told, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
