/* SPDX-License-Identifier: Apache-2.0
 * Tests of meta/, the registry store: migrations, every entity's CRUD,
 * paging/sort/filter, validation messages, tenant isolation, delete rules,
 * asset cycles, RPC life cycle and expiry, attribute scopes, device activity,
 * tokens, durability across reopen, allocation failures and shared use from
 * several threads. Each test works in its own temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "meta/meta.h"
#include "meta/meta_int.h"
#include "meta/schema.h"

typedef struct fx {
  char dir[64];
  char path[128];
  meta_store *m;
  char ta[META_ID_LEN + 1], tb[META_ID_LEN + 1]; /* tenants A and B */
  char pa[META_ID_LEN + 1], pb[META_ID_LEN + 1]; /* a profile in each */
  char da[META_ID_LEN + 1], db[META_ID_LEN + 1]; /* a device in each */
  char err[256];
} fx;

static void rm_store(const fx *f) {
  char p[160];
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
    unlink(p);
  }
  rmdir(f->dir);
}

/* Create kind from in (stolen) in scope; the new id into id (may be NULL). */
static void mk(fx *f, meta_kind kind, const char *scope, json_t *in, char *id) {
  assert_non_null(in);
  json_t *out = NULL;
  int r = meta_create(f->m, kind, scope, in, NULL, &out, f->err, sizeof f->err);
  if (r != 0) fail_msg("create %s: %d %s", meta_kind_name(kind), r, f->err);
  if (id) snprintf(id, META_ID_LEN + 1, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  json_decref(in);
}

static void hex(const uint8_t *b, char *out) {
  for (int i = 0; i < META_HASH_LEN; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static int setup_empty(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/meta-test-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/meta.db", f->dir);
  *state = f;
  return 0;
}

static int setup(void **state) {
  if (setup_empty(state)) return -1;
  fx *f = *state;
  if (meta_store_open(f->path, &f->m, f->err, sizeof f->err) != 0) return -1;
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s,s:s,s:s}", "name", "Acme", "db_name", "acme",
                                     "industry", "steel", "region_code", "310000"), f->ta);
  mk(f, META_TENANT, NULL, json_pack("{s:s,s:s,s:s}", "name", "Beta", "db_name", "beta",
                                     "region_code", "440000"), f->tb);
  mk(f, META_PROFILE, f->ta, json_pack("{s:s}", "name", "press"), f->pa);
  mk(f, META_PROFILE, f->tb, json_pack("{s:s}", "name", "press"), f->pb);
  mk(f, META_DEVICE, f->ta, json_pack("{s:s,s:s}", "name", "press-1", "profile_id", f->pa), f->da);
  mk(f, META_DEVICE, f->tb, json_pack("{s:s,s:s}", "name", "press-1", "profile_id", f->pb), f->db);
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  meta_store_close(f->m);
  rm_store(f);
  free(f);
  return 0;
}

/* ---- store and migrations --------------------------------------------- */

static void test_open_creates_default_tenant_in_wal_mode(void **state) {
  fx *f = *state;
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), 0);
  assert_int_equal(meta_store_version(f->m), meta_schema_latest());
  meta_filter flt = {"name", "default"};
  meta_query q = {.filters = &flt, .n_filters = 1};
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_TENANT, NULL, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 1);
  json_t *t = json_array_get(json_object_get(page, "data"), 0);
  assert_string_equal(json_string_value(json_object_get(t, "db_name")), "default");
  json_decref(page);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(f->m->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(f->m->db, "PRAGMA foreign_keys", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
}

static bool has_index(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", -1, &st, NULL);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  bool yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}

static void test_v1_database_migrates_to_latest(void **state) {
  fx *f = *state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
  int v = 0;
  assert_int_equal(meta_schema_migrate(db, 1, &v, f->err, sizeof f->err), 0);
  assert_int_equal(v, 1);
  assert_false(has_index(db, "rpc_expiry"));
  sqlite3_close(db);

  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), 0);
  assert_int_equal(meta_store_version(f->m), meta_schema_latest());
  assert_true(has_index(f->m->db, "rpc_expiry"));
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_TENANT, NULL, NULL, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 1); /* not twice */
  json_decref(page);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(f->m->db, "SELECT count(*) FROM schema_migrations", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), meta_schema_latest()); /* one row per migration */
  sqlite3_finalize(st);
}

static void test_newer_schema_is_refused(void **state) {
  fx *f = *state;
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), 0);
  assert_int_equal(sqlite3_exec(f->m->db, "INSERT INTO schema_migrations VALUES(99, 0)", NULL, NULL, NULL), SQLITE_OK);
  meta_store_close(f->m);
  f->m = NULL;
  f->err[0] = '\0';
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), LOOM_EUNSUP);
  assert_null(f->m);
  assert_non_null(strstr(f->err, "99"));
  assert_non_null(strstr(f->err, "newer"));
}

static void test_garbage_file_is_corrupt(void **state) {
  fx *f = *state;
  FILE *fp = fopen(f->path, "wb");
  assert_non_null(fp);
  for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, fp);
  fclose(fp);
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), LOOM_ECORRUPT);
  assert_null(f->m);
}

static void test_reopen_keeps_data(void **state) {
  fx *f = *state;
  char ua[META_ID_LEN + 1];
  mk(f, META_USER, f->ta, json_pack("{s:s,s:s}", "email", "ops@acme.cn", "role", "operator"), ua);
  json_t *kv = json_pack("{s:i}", "fw", 7);
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_CLIENT, kv, 5, f->err, sizeof f->err), 0);
  json_decref(kv);
  meta_store_close(f->m);
  f->m = NULL;
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), 0);
  json_t *u = NULL;
  assert_int_equal(meta_get(f->m, META_USER, f->ta, ua, &u, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(u, "email")), "ops@acme.cn");
  json_decref(u);
  json_t *a = NULL;
  assert_int_equal(meta_attr_get(f->m, f->ta, f->da, META_ATTR_ALL, NULL, 0, &a, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "client"), "fw")), 7);
  json_decref(a);
}

/* ---- entity CRUD ------------------------------------------------------ */

static void test_tenant_crud(void **state) {
  fx *f = *state;
  json_t *t = NULL;
  assert_int_equal(meta_get(f->m, META_TENANT, NULL, f->ta, &t, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(t, "name")), "Acme");
  assert_string_equal(json_string_value(json_object_get(t, "industry")), "steel");
  assert_true(json_integer_value(json_object_get(t, "created_ms")) > 0);
  json_decref(t);
  json_t *in = json_pack("{s:s}", "industry", "chemicals");
  assert_int_equal(meta_update(f->m, META_TENANT, f->ta, f->ta, in, NULL, &t, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(t, "industry")), "chemicals");
  json_decref(t);
  json_decref(in);
  in = json_pack("{s:s}", "db_name", "other");
  assert_int_equal(meta_update(f->m, META_TENANT, NULL, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "db_name"));
  json_decref(in);
  in = json_pack("{s:s,s:s}", "name", "Acme", "db_name", "acme2");
  assert_int_equal(meta_create(f->m, META_TENANT, NULL, in, NULL, NULL, f->err, sizeof f->err), LOOM_EEXIST);
  assert_non_null(strstr(f->err, "'name'"));
  json_decref(in);
  in = json_pack("{s:s,s:s,s:s}", "name", "Gamma", "db_name", "gamma", "region_code", "CN-GD-0123456789");
  assert_int_equal(meta_create(f->m, META_TENANT, NULL, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "region_code"));
  json_decref(in);
  in = json_pack("{s:s,s:s}", "name", "Gamma", "db_name", "bad name!");
  assert_int_equal(meta_create(f->m, META_TENANT, NULL, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "db_name"));
  json_decref(in);
  in = json_pack("{s:s,s:s}", "name", "Gamma", "db_name", "gamma");
  assert_int_equal(meta_create(f->m, META_TENANT, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EPERM);
  char tg[META_ID_LEN + 1];
  mk(f, META_TENANT, NULL, in, tg);
  assert_int_equal(meta_delete(f->m, META_TENANT, NULL, tg, f->err, sizeof f->err), 0);
  assert_int_equal(meta_get(f->m, META_TENANT, NULL, tg, &t, f->err, sizeof f->err), LOOM_ENOTFOUND);
}

static void test_delete_tenant_refused_while_it_has_entities(void **state) {
  fx *f = *state;
  assert_int_equal(meta_delete(f->m, META_TENANT, f->tb, f->tb, f->err, sizeof f->err), LOOM_EPERM);
  assert_int_equal(meta_delete(f->m, META_TENANT, NULL, f->tb, f->err, sizeof f->err), LOOM_EEXIST);
  assert_non_null(strstr(f->err, "device profiles"));
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->tb, f->db, f->err, sizeof f->err), 0);
  assert_int_equal(meta_delete(f->m, META_TENANT, NULL, f->tb, f->err, sizeof f->err), LOOM_EEXIST);
  assert_int_equal(meta_delete(f->m, META_PROFILE, f->tb, f->pb, f->err, sizeof f->err), 0);
  assert_int_equal(meta_delete(f->m, META_TENANT, NULL, f->tb, f->err, sizeof f->err), 0);
  json_t *t = NULL;
  assert_int_equal(meta_get(f->m, META_TENANT, NULL, f->tb, &t, NULL, 0), LOOM_ENOTFOUND);
}

static void test_user_roles_and_secrets(void **state) {
  fx *f = *state;
  char hash[] = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
  json_t *sec = json_pack("{s:s}", "password_hash", hash);
  json_t *in = json_pack("{s:s,s:s,s:s}", "email", "Eng@Acme.cn", "role", "engineer", "name", "Li Wei");
  json_t *u = NULL;
  assert_int_equal(meta_create(f->m, META_USER, f->ta, in, sec, &u, f->err, sizeof f->err), 0);
  assert_null(json_object_get(u, "password_hash"));
  assert_string_equal(json_string_value(json_object_get(u, "tenant_id")), f->ta);
  assert_false(json_is_true(json_object_get(u, "disabled")));
  json_decref(u);
  json_decref(in);
  /* the secret cannot come through the client body */
  in = json_pack("{s:s,s:s,s:s}", "email", "x@acme.cn", "role", "viewer", "password_hash", hash);
  assert_int_equal(meta_create(f->m, META_USER, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "password_hash"));
  json_decref(in);
  /* login look-up: case-insensitive e-mail, hash returned */
  meta_user_auth ua;
  assert_int_equal(meta_user_by_email(f->m, "eng@acme.cn", &ua), 0);
  assert_string_equal(ua.password_hash, hash);
  assert_string_equal(ua.role, "engineer");
  assert_string_equal(ua.tenant_id, f->ta);
  assert_int_equal(meta_user_by_email(f->m, "nobody@acme.cn", &ua), LOOM_ENOTFOUND);
  /* e-mails are unique across tenants */
  in = json_pack("{s:s,s:s}", "email", "eng@acme.cn", "role", "viewer");
  assert_int_equal(meta_create(f->m, META_USER, f->tb, in, NULL, NULL, f->err, sizeof f->err), LOOM_EEXIST);
  assert_non_null(strstr(f->err, "email"));
  json_decref(in);
  /* a tenant user cannot be a platform admin */
  in = json_pack("{s:s,s:s}", "email", "boss@acme.cn", "role", "platform_admin");
  assert_int_equal(meta_create(f->m, META_USER, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "role"));
  json_decref(in);
  /* a platform admin has no tenant */
  in = json_pack("{s:s,s:s}", "email", "root@loom.io", "role", "platform_admin");
  mk(f, META_USER, NULL, in, NULL);
  /* an observer needs a region */
  in = json_pack("{s:s,s:s}", "email", "obs@gov.cn", "role", "regional_observer");
  assert_int_equal(meta_create(f->m, META_USER, NULL, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "region_code"));
  json_decref(in);
  mk(f, META_USER, NULL, json_pack("{s:s,s:s,s:s}", "email", "obs@gov.cn", "role", "regional_observer", "region_code", "310000"), NULL);
  /* the tenant sees its user only; the platform sees all three */
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_USER, f->ta, NULL, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 1);
  json_decref(page);
  assert_int_equal(meta_list(f->m, META_USER, NULL, NULL, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 3);
  json_decref(page);
  json_decref(sec);
}

static void test_asset_hierarchy_rejects_cycles(void **state) {
  fx *f = *state;
  char site[META_ID_LEN + 1], plant[META_ID_LEN + 1], line[META_ID_LEN + 1];
  mk(f, META_ASSET, f->ta, json_pack("{s:s,s:s}", "name", "Shanghai", "type", "site"), site);
  mk(f, META_ASSET, f->ta, json_pack("{s:s,s:s,s:s}", "name", "P1", "type", "plant", "parent_id", site), plant);
  mk(f, META_ASSET, f->ta, json_pack("{s:s,s:s,s:s}", "name", "L1", "type", "line", "parent_id", plant), line);
  json_t *in = json_pack("{s:s}", "parent_id", line);
  assert_int_equal(meta_update(f->m, META_ASSET, f->ta, site, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "cycle"));
  json_decref(in);
  in = json_pack("{s:s}", "parent_id", site);
  assert_int_equal(meta_update(f->m, META_ASSET, f->ta, site, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  json_decref(in);
  /* a legal move: the line straight under the site */
  in = json_pack("{s:s}", "parent_id", site);
  json_t *out = NULL;
  assert_int_equal(meta_update(f->m, META_ASSET, f->ta, line, in, NULL, &out, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(out, "parent_id")), site);
  json_decref(out);
  json_decref(in);
  /* roots: parent_id IS NULL */
  meta_filter flt = {"parent_id", NULL};
  meta_query q = {.filters = &flt, .n_filters = 1};
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_ASSET, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 1);
  json_decref(page);
  /* refuse deleting a parent; a device's asset link is cleared on delete */
  assert_int_equal(meta_delete(f->m, META_ASSET, f->ta, site, f->err, sizeof f->err), LOOM_EEXIST);
  assert_non_null(strstr(f->err, "child assets"));
  in = json_pack("{s:s}", "asset_id", plant);
  assert_int_equal(meta_update(f->m, META_DEVICE, f->ta, f->da, in, NULL, NULL, f->err, sizeof f->err), 0);
  json_decref(in);
  assert_int_equal(meta_delete(f->m, META_ASSET, f->ta, plant, f->err, sizeof f->err), 0);
  assert_int_equal(meta_get(f->m, META_DEVICE, f->ta, f->da, &out, f->err, sizeof f->err), 0);
  assert_true(json_is_null(json_object_get(out, "asset_id")));
  json_decref(out);
}

static void test_asset_parent_of_other_tenant_is_rejected(void **state) {
  fx *f = *state;
  char sb[META_ID_LEN + 1];
  mk(f, META_ASSET, f->tb, json_pack("{s:s,s:s}", "name", "B site", "type", "site"), sb);
  json_t *in = json_pack("{s:s,s:s,s:s}", "name", "x", "type", "plant", "parent_id", sb);
  assert_int_equal(meta_create(f->m, META_ASSET, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "parent_id"));
  json_decref(in);
}

static void test_profile_keys(void **state) {
  fx *f = *state;
  char k1[META_ID_LEN + 1];
  mk(f, META_PROFILE_KEY, f->ta, json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:i}", "profile_id", f->pa,
     "key", "pressure", "type", "float", "unit", "bar", "min", 0.0, "max", 250.0, "level", 2), k1);
  json_t *k = NULL;
  assert_int_equal(meta_get(f->m, META_PROFILE_KEY, f->ta, k1, &k, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(k, "level")), 2);
  assert_true(json_real_value(json_object_get(k, "max")) == 250.0);
  json_decref(k);
  struct { json_t *in; const char *field; int code; } bad[] = {
    {json_pack("{s:s,s:s,s:s,s:i}", "profile_id", f->pa, "key", "t", "type", "float", "level", 4), "level", LOOM_EINVAL},
    {json_pack("{s:s,s:s,s:s}", "profile_id", f->pa, "key", "t", "type", "double"), "type", LOOM_EINVAL},
    {json_pack("{s:s,s:s,s:s,s:i,s:i}", "profile_id", f->pa, "key", "t", "type", "int", "min", 5, "max", 1), "min", LOOM_EINVAL},
    {json_pack("{s:s,s:s,s:s}", "profile_id", f->pa, "key", "pressure", "type", "int"), "key", LOOM_EEXIST},
    {json_pack("{s:s,s:s,s:s}", "profile_id", f->pb, "key", "t", "type", "int"), "profile_id", LOOM_EINVAL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    f->err[0] = '\0';
    assert_int_equal(meta_create(f->m, META_PROFILE_KEY, f->ta, bad[i].in, NULL, NULL, f->err, sizeof f->err), bad[i].code);
    if (!strstr(f->err, bad[i].field)) fail_msg("case %zu: '%s' lacks %s", i, f->err, bad[i].field);
    json_decref(bad[i].in);
  }
  /* a profile in use is kept; an unused one goes with its keys */
  assert_int_equal(meta_delete(f->m, META_PROFILE, f->ta, f->pa, f->err, sizeof f->err), LOOM_EEXIST);
  assert_non_null(strstr(f->err, "devices"));
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->ta, f->da, f->err, sizeof f->err), 0);
  assert_int_equal(meta_delete(f->m, META_PROFILE, f->ta, f->pa, f->err, sizeof f->err), 0);
  assert_int_equal(meta_get(f->m, META_PROFILE_KEY, f->ta, k1, &k, f->err, sizeof f->err), LOOM_ENOTFOUND);
}

static void test_profile_provision_lookup(void **state) {
  fx *f = *state;
  json_t *in = json_pack("{s:s}", "provision_key", "pk-123");
  json_t *sec = json_pack("{s:s}", "provision_secret_hash", "$argon2id$secret");
  json_t *out = NULL;
  assert_int_equal(meta_update(f->m, META_PROFILE, f->ta, f->pa, in, sec, &out, f->err, sizeof f->err), 0);
  assert_null(json_object_get(out, "provision_secret_hash"));
  json_decref(out);
  meta_profile_prov p;
  assert_int_equal(meta_profile_by_provision_key(f->m, "pk-123", &p), 0);
  assert_string_equal(p.id, f->pa);
  assert_string_equal(p.tenant_id, f->ta);
  assert_string_equal(p.provision_secret_hash, "$argon2id$secret");
  assert_int_equal(meta_profile_by_provision_key(f->m, "pk-999", &p), LOOM_ENOTFOUND);
  json_decref(in);
  json_decref(sec);
}

static void test_device_credentials_lookups(void **state) {
  fx *f = *state;
  uint8_t h[META_HASH_LEN];
  for (int i = 0; i < META_HASH_LEN; i++) h[i] = (uint8_t)(i * 13 + 1);
  char hx[2 * META_HASH_LEN + 1];
  hex(h, hx);
  json_t *sec = json_pack("{s:s,s:s}", "token_hash", hx, "mqtt_password_hash", "$argon2id$mq");
  json_t *in = json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "cnc-7", "profile_id", f->pa,
                         "mqtt_username", "cnc7", "labels", "line", "L1");
  json_t *out = NULL;
  assert_int_equal(meta_create(f->m, META_DEVICE, f->ta, in, sec, &out, f->err, sizeof f->err), 0);
  assert_null(json_object_get(out, "token_hash"));
  assert_null(json_object_get(out, "mqtt_password_hash"));
  assert_string_equal(json_string_value(json_object_get(json_object_get(out, "labels"), "line")), "L1");
  assert_string_equal(json_string_value(json_object_get(out, "state")), "offline");
  char id[META_ID_LEN + 1];
  snprintf(id, sizeof id, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  meta_device_ref d;
  assert_int_equal(meta_device_by_token(f->m, h, &d), 0);
  assert_string_equal(d.id, id);
  assert_string_equal(d.tenant_id, f->ta);
  assert_string_equal(d.db_name, "acme");
  assert_string_equal(d.name, "cnc-7");
  assert_string_equal(d.profile_id, f->pa);
  assert_int_equal(meta_device_by_mqtt(f->m, "cnc7", &d), 0);
  assert_string_equal(d.mqtt_password_hash, "$argon2id$mq");
  assert_int_equal(meta_device_by_name(f->m, f->ta, "cnc-7", &d), 0);
  assert_int_equal(meta_device_by_name(f->m, f->tb, "cnc-7", &d), LOOM_ENOTFOUND);
  /* the same token hash cannot serve two devices */
  json_t *in2 = json_pack("{s:s,s:s}", "name", "cnc-8", "profile_id", f->pa);
  assert_int_equal(meta_create(f->m, META_DEVICE, f->ta, in2, sec, NULL, f->err, sizeof f->err), LOOM_EEXIST);
  json_decref(in2);
  /* rotate the token: the old hash stops working */
  h[0] ^= 0xff;
  hex(h, hx);
  json_t *sec2 = json_pack("{s:s}", "token_hash", hx);
  assert_int_equal(meta_update(f->m, META_DEVICE, f->ta, id, NULL, sec2, NULL, f->err, sizeof f->err), 0);
  assert_int_equal(meta_device_by_token(f->m, h, &d), 0);
  h[0] ^= 0xff;
  assert_int_equal(meta_device_by_token(f->m, h, &d), LOOM_ENOTFOUND);
  json_decref(sec2);
  json_decref(sec);
  json_decref(in);
}

static void test_device_names_unique_per_tenant(void **state) {
  fx *f = *state;
  json_t *in = json_pack("{s:s,s:s}", "name", "press-1", "profile_id", f->pa);
  assert_int_equal(meta_create(f->m, META_DEVICE, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EEXIST);
  assert_non_null(strstr(f->err, "'name'"));
  json_decref(in);
  /* tenant B has its own press-1 already (setup): both exist */
  meta_device_ref d;
  assert_int_equal(meta_device_by_name(f->m, f->tb, "press-1", &d), 0);
  assert_string_equal(d.id, f->db);
}

static void test_validation_names_the_field(void **state) {
  fx *f = *state;
  struct { json_t *in; const char *field; } bad[] = {
    {json_pack("{s:s,s:s,s:s}", "name", "d", "profile_id", f->pa, "colour", "red"), "colour"},
    {json_pack("{s:i,s:s}", "name", 5, "profile_id", f->pa), "name"},
    {json_pack("{s:s}", "name", "d"), "profile_id"},
    {json_pack("{s:s,s:s}", "name", "d", "profile_id", "not-a-uuid"), "profile_id"},
    {json_pack("{s:s,s:s,s:[]}", "name", "d", "profile_id", f->pa, "labels"), "labels"},
    {json_pack("{s:s,s:s,s:s}", "name", "d", "profile_id", f->pa, "state", "online"), "state"},
    {json_pack("{s:s,s:s,s:s}", "name", "d", "profile_id", f->pa, "id", f->da), "id"},
    {json_pack("{s:s,s:s}", "name", "", "profile_id", f->pa), "name"},
    {json_pack("{s:s,s:s,s:s}", "name", "d", "profile_id", f->pa, "tenant_id", f->tb), "tenant_id"},
    {json_pack("{s:n,s:s}", "name", "profile_id", f->pa), "name"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    f->err[0] = '\0';
    assert_non_null(bad[i].in);
    int r = meta_create(f->m, META_DEVICE, f->ta, bad[i].in, NULL, NULL, f->err, sizeof f->err);
    if (r != LOOM_EINVAL || !strstr(f->err, bad[i].field))
      fail_msg("case %zu: %d '%s' (wanted EINVAL naming %s)", i, r, f->err, bad[i].field);
    json_decref(bad[i].in);
  }
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, NULL, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 1); /* none stored */
  json_decref(page);
  json_t *s = json_pack("{s:s}", "token_hash", "abc");
  json_t *in = json_pack("{s:s,s:s}", "name", "d", "profile_id", f->pa);
  assert_int_equal(meta_create(f->m, META_DEVICE, f->ta, in, s, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "token_hash"));
  assert_int_equal(meta_create(f->m, META_DEVICE, f->ta, s, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_int_equal(meta_create(f->m, META_TOKEN, f->ta, in, NULL, NULL, f->err, sizeof f->err), LOOM_EUNSUP);
  json_decref(s);
  json_decref(in);
}

/* ---- tenant isolation ------------------------------------------------- */

static void test_other_tenants_ids_are_not_found(void **state) {
  fx *f = *state;
  json_t *out = NULL;
  json_t *in = json_pack("{s:s}", "label", "stolen");
  assert_int_equal(meta_get(f->m, META_DEVICE, f->ta, f->db, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_null(out);
  assert_int_equal(meta_update(f->m, META_DEVICE, f->ta, f->db, in, NULL, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->ta, f->db, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_get(f->m, META_PROFILE, f->ta, f->pb, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_get(f->m, META_TENANT, f->ta, f->tb, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  /* not found comes before validation: the body tells nothing about B */
  assert_int_equal(meta_update(f->m, META_TENANT, f->ta, f->tb, in, NULL, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  json_decref(in);
  in = json_pack("{s:s}", "industry", "x");
  assert_int_equal(meta_update(f->m, META_TENANT, f->ta, f->tb, in, NULL, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  json_decref(in);
  /* B's device is untouched and still there for B */
  assert_int_equal(meta_get(f->m, META_DEVICE, f->tb, f->db, &out, f->err, sizeof f->err), 0);
  assert_true(json_is_null(json_object_get(out, "label")));
  json_decref(out);
  /* attributes, commands of B's device through scope A */
  json_t *kv = json_pack("{s:i}", "x", 1);
  assert_int_equal(meta_attr_set(f->m, f->ta, f->db, META_ATTR_SHARED, kv, 1, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_attr_get(f->m, f->ta, f->db, META_ATTR_ALL, NULL, 0, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->db, "reboot", NULL, true, 1000, 1, &out, f->err, sizeof f->err), LOOM_ENOTFOUND);
  json_decref(kv);
  assert_int_equal(meta_rpc_create(f->m, f->tb, f->db, "reboot", NULL, true, 1000, 1, &out, f->err, sizeof f->err), 0);
  const char *rid = json_string_value(json_object_get(out, "id"));
  json_t *r2 = NULL;
  assert_int_equal(meta_get(f->m, META_RPC, f->ta, rid, &r2, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_rpc_transition(f->m, f->ta, rid, "failed", NULL, 2, NULL, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_rpc_claim_next(f->m, f->ta, f->db, 2, &r2, f->err, sizeof f->err), LOOM_ENOTFOUND);
  json_decref(out);
  /* a device of A cannot use B's profile */
  in = json_pack("{s:s}", "profile_id", f->pb);
  assert_int_equal(meta_update(f->m, META_DEVICE, f->ta, f->da, in, NULL, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "profile_id"));
  json_decref(in);
}

static void test_lists_show_only_the_scope(void **state) {
  fx *f = *state;
  static const meta_kind kinds[] = {META_TENANT, META_DEVICE, META_PROFILE, META_USER, META_TOKEN, META_RPC, META_ASSET};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    json_t *page = NULL;
    assert_int_equal(meta_list(f->m, kinds[i], f->ta, NULL, &page, f->err, sizeof f->err), 0);
    json_t *row;
    size_t j;
    json_array_foreach(json_object_get(page, "data"), j, row) {
      const char *t = json_string_value(json_object_get(row, kinds[i] == META_TENANT ? "id" : "tenant_id"));
      if (!t || strcmp(t, f->ta) != 0) fail_msg("%s list leaked a row of %s", meta_kind_name(kinds[i]), t ? t : "(platform)");
    }
    json_decref(page);
  }
  /* platform scope sees both devices; filter by tenant_id narrows */
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_DEVICE, NULL, NULL, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 2);
  json_decref(page);
  meta_filter flt = {"tenant_id", f->tb};
  meta_query q = {.filters = &flt, .n_filters = 1};
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 0);
  json_decref(page);
}

/* ---- listing ---------------------------------------------------------- */

static void test_paging_sort_filter_search(void **state) {
  fx *f = *state;
  for (int i = 0; i < 24; i++) {
    char name[32];
    snprintf(name, sizeof name, "dev-%02d", i);
    mk(f, META_DEVICE, f->ta, json_pack("{s:s,s:s,s:s}", "name", name, "profile_id", f->pa, "label", i % 2 ? "odd" : "even_x"), NULL);
  }
  /* 25 devices of A (press-1 + 24), pages of 10 */
  meta_query q = {.page = 0, .page_size = 10, .sort_property = "name"};
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 25);
  assert_int_equal(json_integer_value(json_object_get(page, "totalPages")), 3);
  assert_true(json_is_true(json_object_get(page, "hasNext")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(page, "data"), 0), "name")), "dev-00");
  json_decref(page);
  q.page = 2;
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_array_size(json_object_get(page, "data")), 5);
  assert_false(json_is_true(json_object_get(page, "hasNext")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(page, "data"), 4), "name")), "press-1");
  json_decref(page);
  q.page = 0;
  q.sort_desc = true;
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(page, "data"), 0), "name")), "press-1");
  json_decref(page);
  /* text search: "DEV-1" matches dev-10..dev-19 case-insensitively */
  meta_query s = {.text_search = "DEV-1", .page_size = 100};
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &s, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 10);
  json_decref(page);
  /* LIKE wildcards in the search are literal: "_x" matches only labels with "_x" */
  s.text_search = "n_x";
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &s, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 12);
  json_decref(page);
  s.text_search = "%";
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &s, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 0);
  json_decref(page);
  /* equality filters */
  meta_filter flt[] = {{"state", "offline"}, {"profile_id", f->pa}};
  meta_query fq = {.filters = flt, .n_filters = 2};
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &fq, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 25);
  json_decref(page);
  flt[0].value = "online";
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &fq, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 0);
  json_decref(page);
  /* errors */
  meta_query big = {.page_size = META_PAGE_MAX + 1};
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &big, &page, f->err, sizeof f->err), LOOM_EINVAL);
  meta_query badsort = {.sort_property = "labels"};
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &badsort, &page, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "labels"));
  meta_filter bf = {"label", "odd"};
  meta_query badf = {.filters = &bf, .n_filters = 1};
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, &badf, &page, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "label"));
  meta_filter bb = {"disabled", "maybe"};
  meta_query badb = {.filters = &bb, .n_filters = 1};
  assert_int_equal(meta_list(f->m, META_USER, f->ta, &badb, &page, f->err, sizeof f->err), LOOM_EINVAL);
  assert_null(page);
}

/* ---- tokens ----------------------------------------------------------- */

static void test_tokens_lookup_and_revocation(void **state) {
  fx *f = *state;
  char ua[META_ID_LEN + 1];
  mk(f, META_USER, f->ta, json_pack("{s:s,s:s}", "email", "a@acme.cn", "role", "tenant_admin"), ua);
  uint8_t h1[META_HASH_LEN], h2[META_HASH_LEN], h3[META_HASH_LEN];
  memset(h1, 1, sizeof h1);
  memset(h2, 2, sizeof h2);
  memset(h3, 3, sizeof h3);
  meta_token_new t = {ua, "session", "admin", NULL, h1, 0};
  json_t *out = NULL;
  assert_int_equal(meta_token_create(f->m, f->ta, &t, &out, f->err, sizeof f->err), 0);
  assert_null(json_object_get(out, "hash"));
  assert_string_equal(json_string_value(json_object_get(out, "tenant_id")), f->ta);
  char t1[META_ID_LEN + 1];
  snprintf(t1, sizeof t1, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  meta_token_new t2 = {ua, "api", "read", "grafana", h2, 5000};
  assert_int_equal(meta_token_create(f->m, f->ta, &t2, NULL, f->err, sizeof f->err), 0);
  meta_token_new t3 = {ua, "api", "write", "gw", h3, 0};
  assert_int_equal(meta_token_create(f->m, f->ta, &t3, NULL, f->err, sizeof f->err), 0);
  /* invalid inputs, and a user of another tenant */
  meta_token_new bad = {ua, "api", "root", NULL, h1, 0};
  assert_int_equal(meta_token_create(f->m, f->ta, &bad, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  meta_token_new dup = {ua, "api", "read", NULL, h1, 0};
  assert_int_equal(meta_token_create(f->m, f->ta, &dup, NULL, f->err, sizeof f->err), LOOM_EEXIST);
  assert_int_equal(meta_token_create(f->m, f->tb, &t, NULL, f->err, sizeof f->err), LOOM_ENOTFOUND);

  meta_token_info ti;
  assert_int_equal(meta_token_by_hash(f->m, h1, 1000, &ti), 0);
  assert_string_equal(ti.user_id, ua);
  assert_string_equal(ti.role, "tenant_admin");
  assert_string_equal(ti.scope, "admin");
  assert_string_equal(ti.tenant_id, f->ta);
  assert_int_equal(meta_token_by_hash(f->m, h2, 4999, &ti), 0);
  assert_int_equal(meta_token_by_hash(f->m, h2, 5000, &ti), LOOM_EAUTH); /* expired */
  uint8_t h0[META_HASH_LEN] = {0};
  assert_int_equal(meta_token_by_hash(f->m, h0, 1, &ti), LOOM_ENOTFOUND);
  /* touch records use at most once a minute */
  assert_int_equal(meta_token_touch(f->m, t1, 100000), 0);
  assert_int_equal(meta_token_touch(f->m, t1, 110000), 0);
  assert_int_equal(meta_get(f->m, META_TOKEN, f->ta, t1, &out, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(out, "last_used_ms")), 100000);
  json_decref(out);
  /* revoke one, cross-tenant revoke is not found */
  assert_int_equal(meta_token_revoke(f->m, f->tb, t1, 2000, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_int_equal(meta_token_by_hash(f->m, h1, 1000, &ti), 0);
  assert_int_equal(meta_token_revoke(f->m, f->ta, t1, 2000, f->err, sizeof f->err), 0);
  assert_int_equal(meta_token_by_hash(f->m, h1, 1000, &ti), LOOM_EAUTH);
  assert_int_equal(ti.revoked_ms, 2000);
  /* revoke the rest of the user's tokens: h2 and h3 (h1 already) */
  size_t n = 99;
  assert_int_equal(meta_token_revoke_user(f->m, f->ta, ua, 3000, &n, f->err, sizeof f->err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(meta_token_by_hash(f->m, h3, 1000, &ti), LOOM_EAUTH);
  /* list the user's live tokens: none */
  meta_filter flt[] = {{"user_id", ua}, {"revoked_ms", NULL}};
  meta_query q = {.filters = flt, .n_filters = 2};
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_TOKEN, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 0);
  json_decref(page);
  /* deleting the user deletes its tokens */
  assert_int_equal(meta_delete(f->m, META_USER, f->ta, ua, f->err, sizeof f->err), 0);
  assert_int_equal(meta_token_by_hash(f->m, h3, 1000, &ti), LOOM_ENOTFOUND);
}

static void test_disabled_user_tokens_fail(void **state) {
  fx *f = *state;
  char ua[META_ID_LEN + 1];
  mk(f, META_USER, f->ta, json_pack("{s:s,s:s}", "email", "v@acme.cn", "role", "viewer"), ua);
  uint8_t h[META_HASH_LEN];
  memset(h, 9, sizeof h);
  meta_token_new t = {ua, "api", "read", NULL, h, 0};
  assert_int_equal(meta_token_create(f->m, f->ta, &t, NULL, f->err, sizeof f->err), 0);
  meta_token_info ti;
  assert_int_equal(meta_token_by_hash(f->m, h, 1, &ti), 0);
  json_t *in = json_pack("{s:b}", "disabled", 1);
  assert_int_equal(meta_update(f->m, META_USER, f->ta, ua, in, NULL, NULL, f->err, sizeof f->err), 0);
  json_decref(in);
  assert_int_equal(meta_token_by_hash(f->m, h, 1, &ti), LOOM_EAUTH);
  assert_true(ti.user_disabled);
}

/* ---- attributes ------------------------------------------------------- */

static void test_attribute_scopes(void **state) {
  fx *f = *state;
  json_t *c = json_pack("{s:s,s:i}", "fw", "1.2", "slots", 4);
  json_t *sh = json_pack("{s:i,s:{s:b}}", "target_temp", 80, "cfg", "on", 1);
  json_t *sv = json_pack("{s:s}", "fw", "server-side");
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_CLIENT, c, 10, f->err, sizeof f->err), 0);
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_SHARED, sh, 11, f->err, sizeof f->err), 0);
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_SERVER, sv, 12, f->err, sizeof f->err), 0);
  json_t *out = NULL;
  assert_int_equal(meta_attr_get(f->m, f->ta, f->da, META_ATTR_CLIENT, NULL, 0, &out, f->err, sizeof f->err), 0);
  assert_int_equal(json_object_size(out), 1);
  assert_string_equal(json_string_value(json_object_get(json_object_get(out, "client"), "fw")), "1.2");
  json_decref(out);
  const char *keys[] = {"fw", "cfg"};
  assert_int_equal(meta_attr_get(f->m, f->ta, f->da, META_ATTR_ALL, keys, 2, &out, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(out, "server"), "fw")), "server-side");
  assert_true(json_is_true(json_object_get(json_object_get(json_object_get(out, "shared"), "cfg"), "on")));
  assert_null(json_object_get(json_object_get(out, "client"), "slots"));
  json_decref(out);
  /* overwrite one key, list with times */
  json_t *c2 = json_pack("{s:s}", "fw", "1.3");
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_CLIENT, c2, 20, f->err, sizeof f->err), 0);
  assert_int_equal(meta_attr_list(f->m, f->ta, f->da, META_ATTR_CLIENT, &out, f->err, sizeof f->err), 0);
  assert_int_equal(json_array_size(out), 2);
  json_t *first = json_array_get(out, 0);
  assert_string_equal(json_string_value(json_object_get(first, "key")), "fw");
  assert_string_equal(json_string_value(json_object_get(first, "value")), "1.3");
  assert_int_equal(json_integer_value(json_object_get(first, "updated_ms")), 20);
  json_decref(out);
  /* delete from one scope leaves the same key in another */
  size_t n = 0;
  const char *del[] = {"fw", "nope"};
  assert_int_equal(meta_attr_delete(f->m, f->ta, f->da, META_ATTR_CLIENT, del, 2, &n, f->err, sizeof f->err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(meta_attr_get(f->m, f->ta, f->da, META_ATTR_ALL, keys, 1, &out, f->err, sizeof f->err), 0);
  assert_null(json_object_get(out, "client"));
  assert_non_null(json_object_get(json_object_get(out, "server"), "fw"));
  json_decref(out);
  /* bad scope, bad key, non-object */
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, 3, c, 1, f->err, sizeof f->err), LOOM_EINVAL);
  json_t *bk = json_pack("{s:i}", "", 1);
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_CLIENT, bk, 1, f->err, sizeof f->err), LOOM_EINVAL);
  json_t *arr = json_array();
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_CLIENT, arr, 1, f->err, sizeof f->err), LOOM_EINVAL);
  unsigned bit = 0;
  assert_int_equal(meta_attr_scope_parse("shared", &bit), 0);
  assert_int_equal(bit, META_ATTR_SHARED);
  assert_int_equal(meta_attr_scope_parse("global", &bit), LOOM_EINVAL);
  /* deleting the device deletes its attributes */
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->ta, f->da, f->err, sizeof f->err), 0);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(f->m->db, "SELECT count(*) FROM attributes", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 0);
  sqlite3_finalize(st);
  json_decref(arr);
  json_decref(bk);
  json_decref(c2);
  json_decref(c);
  json_decref(sh);
  json_decref(sv);
}

static void test_attribute_value_size_limit(void **state) {
  fx *f = *state;
  char *big = malloc(META_ATTR_VALUE_MAX + 1);
  memset(big, 'a', META_ATTR_VALUE_MAX);
  big[META_ATTR_VALUE_MAX] = '\0';
  json_t *kv = json_pack("{s:s}", "blob", big);
  assert_int_equal(meta_attr_set(f->m, f->ta, f->da, META_ATTR_CLIENT, kv, 1, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "blob"));
  json_decref(kv);
  free(big);
}

/* ---- RPC -------------------------------------------------------------- */

static void test_rpc_transition_table(void **state) {
  (void)state;
  assert_true(meta_rpc_transition_legal("queued", "sent"));
  assert_true(meta_rpc_transition_legal("queued", "expired"));
  assert_true(meta_rpc_transition_legal("sent", "delivered"));
  assert_true(meta_rpc_transition_legal("sent", "queued"));
  assert_true(meta_rpc_transition_legal("delivered", "successful"));
  assert_false(meta_rpc_transition_legal("queued", "successful"));
  assert_false(meta_rpc_transition_legal("queued", "timeout"));
  assert_false(meta_rpc_transition_legal("delivered", "queued"));
  static const char *const final[] = {"successful", "failed", "timeout", "expired"};
  static const char *const all[] = {"queued", "sent", "delivered", "successful", "failed", "timeout", "expired"};
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 7; j++) assert_false(meta_rpc_transition_legal(final[i], all[j]));
  assert_false(meta_rpc_transition_legal(NULL, "sent"));
}

static void test_rpc_two_way_life_cycle(void **state) {
  fx *f = *state;
  json_t *params = json_pack("{s:i}", "speed", 1200);
  json_t *c1 = NULL, *c2 = NULL, *got = NULL;
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->da, "setSpeed", params, false, 10000, 1000, &c1, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(c1, "status")), "queued");
  assert_int_equal(json_integer_value(json_object_get(c1, "expires_ms")), 11000);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(c1, "params"), "speed")), 1200);
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->da, "reboot", NULL, true, 10000, 1001, &c2, f->err, sizeof f->err), 0);
  /* claimed oldest first */
  assert_int_equal(meta_rpc_claim_next(f->m, f->ta, f->da, 1500, &got, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(got, "id")), json_string_value(json_object_get(c1, "id")));
  assert_string_equal(json_string_value(json_object_get(got, "status")), "sent");
  json_decref(got);
  const char *id1 = json_string_value(json_object_get(c1, "id"));
  json_t *resp = json_pack("{s:b}", "ok", 1);
  assert_int_equal(meta_rpc_transition(f->m, f->ta, id1, "delivered", NULL, 1600, NULL, f->err, sizeof f->err), 0);
  assert_int_equal(meta_rpc_transition(f->m, f->ta, id1, "successful", resp, 1700, &got, f->err, sizeof f->err), 0);
  assert_true(json_is_true(json_object_get(json_object_get(got, "response"), "ok")));
  assert_int_equal(json_integer_value(json_object_get(got, "updated_ms")), 1700);
  json_decref(got);
  /* final: no way back */
  assert_int_equal(meta_rpc_transition(f->m, f->ta, id1, "queued", NULL, 1800, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_non_null(strstr(f->err, "successful"));
  assert_int_equal(meta_rpc_transition(f->m, f->ta, id1, "bogus", NULL, 1800, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  /* the second, then nothing */
  assert_int_equal(meta_rpc_claim_next(f->m, f->ta, f->da, 1900, &got, f->err, sizeof f->err), 0);
  assert_true(json_is_true(json_object_get(got, "oneway")));
  json_decref(got);
  assert_int_equal(meta_rpc_claim_next(f->m, f->ta, f->da, 1900, &got, f->err, sizeof f->err), LOOM_ENOTFOUND);
  assert_null(got);
  /* visible through the generic list, filtered by status */
  meta_filter flt = {"status", "successful"};
  meta_query q = {.filters = &flt, .n_filters = 1};
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_RPC, f->ta, &q, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 1);
  json_decref(page);
  /* bad inputs */
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->da, "", NULL, false, 1000, 1, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->da, "x", NULL, false, 0, 1, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  json_decref(resp);
  json_decref(params);
  json_decref(c1);
  json_decref(c2);
}

static void test_rpc_expiry_sweep(void **state) {
  fx *f = *state;
  json_t *a = NULL, *b = NULL, *c = NULL, *got = NULL;
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->da, "a", NULL, false, 100, 1000, &a, f->err, sizeof f->err), 0);
  assert_int_equal(meta_rpc_create(f->m, f->ta, f->da, "b", NULL, false, 500, 1000, &b, f->err, sizeof f->err), 0);
  assert_int_equal(meta_rpc_create(f->m, f->tb, f->db, "c", NULL, false, 10000, 1000, &c, f->err, sizeof f->err), 0);
  /* an overdue queued command is not handed out */
  assert_int_equal(meta_rpc_claim_next(f->m, f->ta, f->da, 1200, &got, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(got, "method")), "b"); /* b now sent */
  json_decref(got);
  json_t *changed = NULL;
  size_t n = 0;
  assert_int_equal(meta_rpc_expire(f->m, 1200, &changed, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(changed, 0), "status")), "expired");
  assert_string_equal(json_string_value(json_object_get(json_array_get(changed, 0), "id")), json_string_value(json_object_get(a, "id")));
  json_decref(changed);
  assert_int_equal(meta_rpc_expire(f->m, 1600, &changed, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(changed, 0), "status")), "timeout");
  json_decref(changed);
  /* idempotent; c of the other tenant untouched */
  assert_int_equal(meta_rpc_expire(f->m, 1600, NULL, &n), 0);
  assert_int_equal(n, 0);
  json_t *cc = NULL;
  assert_int_equal(meta_get(f->m, META_RPC, f->tb, json_string_value(json_object_get(c, "id")), &cc, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(cc, "status")), "queued");
  json_decref(cc);
  /* a late answer to the timed-out command is refused */
  assert_int_equal(meta_rpc_transition(f->m, f->ta, json_string_value(json_object_get(b, "id")), "successful", NULL, 1700, NULL, f->err, sizeof f->err), LOOM_EINVAL);
  /* deleting the device deletes its commands */
  assert_int_equal(meta_delete(f->m, META_DEVICE, f->ta, f->da, f->err, sizeof f->err), 0);
  assert_int_equal(meta_get(f->m, META_RPC, f->ta, json_string_value(json_object_get(a, "id")), &cc, f->err, sizeof f->err), LOOM_ENOTFOUND);
  json_decref(a);
  json_decref(b);
  json_decref(c);
}

/* ---- device activity -------------------------------------------------- */

static void test_device_activity_batch(void **state) {
  fx *f = *state;
  char fake[META_ID_LEN + 1];
  meta_uuid(fake);
  meta_activity items[] = {
    {f->ta, f->da, true, 5000, false},
    {f->ta, f->db, true, 5000, false}, /* B's device under A's tenant: skipped */
    {f->tb, fake, true, 5000, false},  /* unknown: skipped */
  };
  size_t n = 0;
  assert_int_equal(meta_device_activity(f->m, items, 3, &n), 0);
  assert_int_equal(n, 1);
  assert_true(items[0].state_changed);
  assert_false(items[1].state_changed);
  /* same state again: not a change; an older time does not move it back */
  meta_activity again = {f->ta, f->da, true, 4000, false};
  assert_int_equal(meta_device_activity(f->m, &again, 1, &n), 0);
  assert_false(again.state_changed);
  json_t *d = NULL;
  assert_int_equal(meta_get(f->m, META_DEVICE, f->ta, f->da, &d, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(d, "state")), "online");
  assert_int_equal(json_integer_value(json_object_get(d, "last_activity_ms")), 5000);
  json_decref(d);
  assert_int_equal(meta_get(f->m, META_DEVICE, f->tb, f->db, &d, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(d, "state")), "offline");
  json_decref(d);
  meta_activity off = {f->ta, f->da, false, 9000, false};
  assert_int_equal(meta_device_activity(f->m, &off, 1, &n), 0);
  assert_true(off.state_changed);
}

/* ---- failures and threads --------------------------------------------- */

static void test_allocation_failures(void **state) {
  fx *f = *state;
  loom_mem_fail_after(0);
  int r = meta_store_open(f->path, &f->m, f->err, sizeof f->err);
  loom_mem_fail_after(-1);
  assert_int_equal(r, LOOM_ENOMEM);
  assert_null(f->m);
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), 0);
  json_t *page = NULL;
  meta_query q = {.text_search = "x"};
  loom_mem_fail_after(0);
  r = meta_list(f->m, META_TENANT, NULL, &q, &page, f->err, sizeof f->err);
  loom_mem_fail_after(-1);
  assert_int_equal(r, LOOM_ENOMEM);
  assert_null(page);
  /* a create that needs a buffer fails cleanly and stores nothing */
  json_t *in = json_pack("{s:s,s:s,s:s}", "name", "Fail", "db_name", "fail", "industry", "x");
  for (long k = 0; k < 3; k++) {
    loom_mem_fail_after(k);
    r = meta_create(f->m, META_TENANT, NULL, in, NULL, NULL, f->err, sizeof f->err);
    loom_mem_fail_after(-1);
    if (r == 0) break;
    assert_int_equal(r, LOOM_ENOMEM);
  }
  json_decref(in);
  assert_int_equal(meta_list(f->m, META_TENANT, NULL, NULL, &page, f->err, sizeof f->err), 0);
  assert_true(json_integer_value(json_object_get(page, "totalElements")) <= 2);
  json_decref(page);
}

typedef struct worker_arg {
  fx *f;
  int base;
  int fails;
} worker_arg;

static void *worker(void *p) {
  worker_arg *w = p;
  for (int i = 0; i < 25; i++) {
    char name[32];
    snprintf(name, sizeof name, "w%d-%d", w->base, i);
    json_t *in = json_pack("{s:s,s:s}", "name", name, "profile_id", w->f->pa);
    if (meta_create(w->f->m, META_DEVICE, w->f->ta, in, NULL, NULL, NULL, 0) != 0) w->fails++;
    json_decref(in);
    meta_device_ref d;
    if (meta_device_by_name(w->f->m, w->f->ta, name, &d) != 0) w->fails++;
  }
  return NULL;
}

static void test_store_shared_by_threads(void **state) {
  fx *f = *state;
  pthread_t th[4];
  worker_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (worker_arg){f, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].fails, 0);
  }
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_DEVICE, f->ta, NULL, &page, f->err, sizeof f->err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 101);
  json_decref(page);
}

static void test_kind_names_round_trip(void **state) {
  (void)state;
  for (int k = 0; k < META_KIND_COUNT; k++) {
    meta_kind back;
    assert_int_equal(meta_kind_parse(meta_kind_name((meta_kind)k), &back), 0);
    assert_int_equal(back, k);
  }
  meta_kind x;
  assert_int_equal(meta_kind_parse("widget", &x), LOOM_EINVAL);
  char id[META_ID_LEN + 1];
  meta_uuid(id);
  assert_true(meta_id_valid(id));
  assert_int_equal(id[14], '4');
}

static void test_committed_data_survives_process_death(void **state) {
  fx *f = *state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    meta_store *m = NULL;
    if (meta_store_open(f->path, &m, NULL, 0) != 0) _exit(2);
    json_t *in = json_pack("{s:s,s:s}", "name", "Crash", "db_name", "crash");
    int r = meta_create(m, META_TENANT, NULL, in, NULL, NULL, NULL, 0);
    _exit(r == 0 ? 0 : 3); /* no close: the WAL is not checkpointed */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_int_equal(meta_store_open(f->path, &f->m, f->err, sizeof f->err), 0);
  char tid[META_ID_LEN + 1];
  assert_int_equal(meta_tenant_by_db(f->m, "crash", tid), 0);
  assert_true(meta_id_valid(tid));
}

static void test_tenant_by_db_and_token_purge(void **state) {
  fx *f = *state;
  char tid[META_ID_LEN + 1];
  assert_int_equal(meta_tenant_by_db(f->m, "acme", tid), 0);
  assert_string_equal(tid, f->ta);
  assert_int_equal(meta_tenant_by_db(f->m, "nope", tid), LOOM_ENOTFOUND);
  char ua[META_ID_LEN + 1];
  mk(f, META_USER, f->ta, json_pack("{s:s,s:s}", "email", "p@acme.cn", "role", "engineer"), ua);
  uint8_t h[3][META_HASH_LEN];
  for (int i = 0; i < 3; i++) memset(h[i], 0x40 + i, META_HASH_LEN);
  meta_token_new t0 = {ua, "api", "read", NULL, h[0], 5000};  /* expires at 5000 */
  meta_token_new t1 = {ua, "api", "read", NULL, h[1], 0};     /* revoked below */
  meta_token_new t2 = {ua, "api", "read", NULL, h[2], 90000}; /* live */
  json_t *o1 = NULL;
  assert_int_equal(meta_token_create(f->m, f->ta, &t0, NULL, f->err, sizeof f->err), 0);
  assert_int_equal(meta_token_create(f->m, f->ta, &t1, &o1, f->err, sizeof f->err), 0);
  assert_int_equal(meta_token_create(f->m, f->ta, &t2, NULL, f->err, sizeof f->err), 0);
  assert_int_equal(meta_token_revoke(f->m, f->ta, json_string_value(json_object_get(o1, "id")), 5500, f->err, sizeof f->err), 0);
  json_decref(o1);
  size_t n = 0;
  assert_int_equal(meta_token_purge(f->m, 5200, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(meta_token_purge(f->m, 6000, &n), 0);
  assert_int_equal(n, 1);
  meta_token_info ti;
  assert_int_equal(meta_token_by_hash(f->m, h[2], 6000, &ti), 0);
  assert_int_equal(meta_token_by_hash(f->m, h[0], 1, &ti), LOOM_ENOTFOUND);
}

static void test_lookups_do_not_wait_for_a_writer(void **state) {
  fx *f = *state;
  uint8_t h[META_HASH_LEN];
  memset(h, 0x5a, sizeof h);
  char hx[2 * META_HASH_LEN + 1];
  hex(h, hx);
  json_t *sec = json_pack("{s:s}", "token_hash", hx);
  assert_int_equal(meta_update(f->m, META_DEVICE, f->ta, f->da, NULL, sec, NULL, f->err, sizeof f->err), 0);
  json_decref(sec);
  /* another process holds the write lock with an uncommitted change */
  sqlite3 *other;
  assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE devices SET token_hash = NULL", NULL, NULL, NULL), SQLITE_OK);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  meta_device_ref d;
  assert_int_equal(meta_device_by_token(f->m, h, &d), 0); /* the committed state */
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
  assert_string_equal(d.id, f->da);
  assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(meta_device_by_token(f->m, h, &d), LOOM_ENOTFOUND); /* now committed */
  sqlite3_close(other);
}

typedef struct lookup_arg {
  meta_store *m;
  uint8_t hash[META_HASH_LEN];
  volatile int done; /* 1 + result code */
} lookup_arg;

static void *lookup_thread(void *p) {
  lookup_arg *a = p;
  meta_device_ref d;
  int r = meta_device_by_token(a->m, a->hash, &d);
  __atomic_store_n(&a->done, 1 + (r == LOOM_ENOTFOUND), __ATOMIC_SEQ_CST);
  return NULL;
}

/* A look-up must not queue behind another worker's call on the writer
 * (e.g. a commit waiting for fsync): it has its own connection and lock. */
static void test_lookups_do_not_wait_for_the_store_lock(void **state) {
  fx *f = *state;
  lookup_arg a = {f->m, {0}, 0};
  memset(a.hash, 0x77, sizeof a.hash);
  meta_lock(f->m); /* as if a long write were in progress */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, lookup_thread, &a), 0);
  int waited_ms = 0;
  while (!__atomic_load_n(&a.done, __ATOMIC_SEQ_CST) && waited_ms < 2000) {
    usleep(1000);
    waited_ms++;
  }
  int done = __atomic_load_n(&a.done, __ATOMIC_SEQ_CST);
  meta_unlock(f->m);
  pthread_join(th, NULL);
  assert_int_equal(done, 2); /* finished while the lock was held; not found */
}

/* Every allocation of the store's own buffers failing in turn: each call
 * either succeeds or reports LOOM_ENOMEM, and nothing leaks (ASan). */
static void test_allocation_failure_sweep(void **state) {
  fx *f = *state;
  json_t *upd = json_pack("{s:{s:s},s:s}", "labels", "zone", "A", "label", "x");
  json_t *kv = json_pack("{s:i,s:s}", "a", 1, "b", "two");
  json_t *params = json_pack("{s:i}", "p", 1);
  meta_filter flt = {"state", "offline"};
  meta_query q = {.text_search = "press", .filters = &flt, .n_filters = 1};
  int ok = 0;
  for (long k = 0; k < 12; k++) {
    json_t *out = NULL;
    int rs[5];
    loom_mem_fail_after(k);
    rs[0] = meta_update(f->m, META_DEVICE, f->ta, f->da, upd, NULL, &out, NULL, 0);
    json_decref(out);
    out = NULL;
    rs[1] = meta_list(f->m, META_DEVICE, f->ta, &q, &out, NULL, 0);
    json_decref(out);
    out = NULL;
    rs[2] = meta_attr_set(f->m, f->ta, f->da, META_ATTR_SHARED, kv, 1, NULL, 0);
    rs[3] = meta_rpc_create(f->m, f->ta, f->da, "m", params, false, 1000, 1, &out, NULL, 0);
    json_decref(out);
    out = NULL;
    rs[4] = meta_attr_get(f->m, f->ta, f->da, META_ATTR_ALL, NULL, 0, &out, NULL, 0);
    json_decref(out);
    loom_mem_fail_after(-1);
    for (int i = 0; i < 5; i++) {
      if (rs[i] != 0 && rs[i] != LOOM_ENOMEM) fail_msg("k=%ld call %d: %d", k, i, rs[i]);
      ok += rs[i] == 0;
    }
  }
  assert_true(ok > 0);
  /* the store still works */
  json_t *d = NULL;
  assert_int_equal(meta_get(f->m, META_DEVICE, f->ta, f->da, &d, f->err, sizeof f->err), 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(d, "labels"), "zone")), "A");
  json_decref(d);
  json_decref(upd);
  json_decref(kv);
  json_decref(params);
}

static void test_field_table_describes_entities(void **state) {
  (void)state;
  meta_field_info fi[32];
  size_t n = meta_fields(META_DEVICE, fi, 32);
  assert_true(n > 5 && n <= 32);
  assert_int_equal(meta_fields(META_DEVICE, NULL, 0), n);
  bool saw_name = false, saw_state = false;
  for (size_t i = 0; i < n; i++) {
    assert_null(strstr(fi[i].name, "hash")); /* secrets are not public */
    if (!strcmp(fi[i].name, "name")) {
      saw_name = true;
      assert_true(fi[i].required && fi[i].on_create && fi[i].on_update && fi[i].searched);
      assert_string_equal(fi[i].type, "string");
    }
    if (!strcmp(fi[i].name, "state")) {
      saw_state = true;
      assert_false(fi[i].on_create || fi[i].on_update);
      assert_true(fi[i].filterable);
      assert_string_equal(fi[i].values[0], "online");
    }
  }
  assert_true(saw_name && saw_state);
  assert_int_equal(meta_fields(META_KIND_COUNT, fi, 32), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_open_creates_default_tenant_in_wal_mode, setup_empty, teardown),
      cmocka_unit_test_setup_teardown(test_v1_database_migrates_to_latest, setup_empty, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup_empty, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_file_is_corrupt, setup_empty, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tenant_crud, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_tenant_refused_while_it_has_entities, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_roles_and_secrets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_asset_hierarchy_rejects_cycles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_asset_parent_of_other_tenant_is_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_profile_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_profile_provision_lookup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_credentials_lookups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_names_unique_per_tenant, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validation_names_the_field, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_tenants_ids_are_not_found, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lists_show_only_the_scope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_paging_sort_filter_search, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tokens_lookup_and_revocation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disabled_user_tokens_fail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attribute_scopes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attribute_value_size_limit, setup, teardown),
      cmocka_unit_test(test_rpc_transition_table),
      cmocka_unit_test_setup_teardown(test_rpc_two_way_life_cycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rpc_expiry_sweep, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_activity_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_allocation_failures, setup_empty, teardown),
      cmocka_unit_test_setup_teardown(test_allocation_failure_sweep, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_shared_by_threads, setup, teardown),
      cmocka_unit_test(test_kind_names_round_trip),
      cmocka_unit_test(test_field_table_describes_entities),
      cmocka_unit_test_setup_teardown(test_committed_data_survives_process_death, setup_empty, teardown),
      cmocka_unit_test_setup_teardown(test_tenant_by_db_and_token_purge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookups_do_not_wait_for_a_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookups_do_not_wait_for_the_store_lock, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
