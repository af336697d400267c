/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for the demo plant's registration (sim/register) against a
 * real registry and engine in a temporary directory: the registered device
 * names are exactly the sim's device tags, a restarted plant backfills
 * only the gap since its newest sample, a second registration creates
 * nothing and keeps the login, a deleted device comes back, and the login
 * file is private.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "query/exec.h"
#include "sim/plant.h"
#include "sim/register.h"

typedef struct fx {
  char dir[64];
  meta_store *m;
  sec_password_limits pl;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/sim-test-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/meta.db", f->dir);
  if (meta_store_open(path, &f->m, err, sizeof err)) return -1;
  sec_password_limits_min(&f->pl);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  meta_store_close(f->m);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd)) return -1;
  free(f);
  return 0;
}

/* Every line of a tick carries device=<one of the registered names>, and
 * every registered name has a line. */
static void test_device_names_are_the_plants_device_tags(void **state) {
  fx *f = *state;
  ts_engine *e = NULL;
  ts_engine_options eo;
  ts_engine_options_default(&eo);
  eo.dir = f->dir;
  eo.durability = TS_BATCHED;
  char err[256];
  assert_int_equal(ts_engine_open(&eo, &e, err, sizeof err), 0);
  sim_plant *p = NULL;
  sim_plant_options po = {.db = "plant", .lines = 3, .interval_ms = 5000};
  assert_int_equal(sim_plant_new(e, &po, &p), 0);
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(sim_plant_tick(p, 1700000000000000000LL, &b), 0);
  char names[SIM_DEMO_DEVICES_MAX][16];
  size_t n = sim_demo_device_names(3, names, SIM_DEMO_DEVICES_MAX);
  assert_int_equal(n, 20);
  static sim_demo reg;
  assert_int_equal(sim_demo_register(f->m, "plant", 3, &f->pl, f->dir, &reg, err, sizeof err), 0);
  size_t lines = 0;
  for (const char *s = (const char *)b.data, *end = s + b.len; s < end; lines++) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *tag = memmem(s, (size_t)(nl - s), ",device=", 8);
    assert_non_null(tag);
    size_t len = strcspn(tag + 8, ", ");
    size_t i = 0;
    while (i < n && !(strlen(names[i]) == len && !memcmp(names[i], tag + 8, len))) i++;
    assert_true(i < n);
    /* its field values: one more than the commas between the two spaces */
    const char *fields = (const char *)memchr(s, ' ', (size_t)(nl - s)) + 1;
    const char *fend = memchr(fields, ' ', (size_t)(nl - fields));
    size_t n_fields = 1;
    for (const char *c = fields; c < fend; c++) n_fields += *c == ',';
    assert_int_equal(reg.n_fields[i], n_fields);
    s = nl + 1;
  }
  assert_int_equal(lines, n);
  loom_buf_deinit(&b);
  sim_plant_free(p);
  ts_engine_close(e);
}

static int cap_begin(void *arg, int status, const char *ct) {
  (void)arg, (void)ct;
  return status == 200 ? 0 : -1;
}

static int cap_write(void *arg, const void *data, size_t len) {
  return loom_buf_append(arg, data, len) ? -1 : 0;
}

/* count(power_kw) of the compressor in database plant. */
static int64_t compressor_samples(ts_engine *e) {
  static const char q[] = "SELECT count(\"power_kw\") FROM \"compressor\"";
  loom_buf out;
  loom_buf_init(&out);
  qx_options o = {.db = "plant", .epoch = "ns", .now_ns = loom_now_ns()};
  qx_sink sink = {.begin = cap_begin, .write = cap_write, .arg = &out};
  assert_int_equal(qx_execute(e, q, sizeof q - 1, &o, &sink), 0);
  json_t *v = json_loadb((const char *)out.data, out.len, 0, NULL);
  json_t *s = json_array_get(json_object_get(json_array_get(json_object_get(v, "results"), 0), "series"), 0);
  int64_t n = json_integer_value(json_array_get(json_array_get(json_object_get(s, "values"), 0), 1));
  json_decref(v);
  loom_buf_deinit(&out);
  return n;
}

/* A restarted plant backfills only the gap since its newest sample: its
 * history is not written twice over the same hours. */
static void test_restart_backfills_only_the_gap(void **state) {
  fx *f = *state;
  ts_engine *e = NULL;
  ts_engine_options eo;
  ts_engine_options_default(&eo);
  eo.dir = f->dir;
  eo.durability = TS_BATCHED;
  char err[256];
  assert_int_equal(ts_engine_open(&eo, &e, err, sizeof err), 0);
  sim_plant_options po = {.db = "plant", .lines = 1, .interval_ms = 5000, .backfill_s = 600};
  sim_plant *p = NULL;
  assert_int_equal(sim_plant_new(e, &po, &p), 0);
  sim_plant_free(p);
  int64_t first = compressor_samples(e);
  assert_int_equal(first, 120);
  assert_int_equal(sim_plant_new(e, &po, &p), 0);
  sim_plant_free(p);
  assert_true(compressor_samples(e) <= first + 1); /* at most the tick that came due meanwhile */
  /* the main meter's kWh went on from its stored value (a fresh plant starts at 80,000) */
  static const char q[] = "SELECT last(\"energy_kwh\") FROM \"energy\" WHERE \"device\" = 'EM-MAIN'";
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(sim_plant_new(e, &po, &p), 0);
  loom_buf tick;
  loom_buf_init(&tick);
  assert_int_equal(sim_plant_tick(p, loom_now_ns(), &tick), 0);
  const char *m = memmem(tick.data, tick.len, "device=EM-MAIN", 14);
  assert_non_null(m);
  double kwh = strtod(strstr(m, "energy_kwh=") + 11, NULL);
  qx_options o = {.db = "plant", .epoch = "ns", .now_ns = loom_now_ns()};
  qx_sink sink = {.begin = cap_begin, .write = cap_write, .arg = &out};
  assert_int_equal(qx_execute(e, q, sizeof q - 1, &o, &sink), 0);
  json_t *v = json_loadb((const char *)out.data, out.len, 0, NULL);
  json_t *s = json_array_get(json_object_get(json_array_get(json_object_get(v, "results"), 0), "series"), 0);
  double stored = json_number_value(json_array_get(json_array_get(json_object_get(s, "values"), 0), 1));
  assert_true(stored > 80000 && kwh >= stored && kwh < stored + 10);
  json_decref(v);
  loom_buf_deinit(&out);
  loom_buf_deinit(&tick);
  sim_plant_free(p);
  ts_engine_close(e);
}

static void test_second_registration_creates_nothing_and_keeps_the_login(void **state) {
  fx *f = *state;
  static sim_demo a, b;
  char err[256];
  assert_int_equal(sim_demo_register(f->m, "plant", 3, &f->pl, f->dir, &a, err, sizeof err), 0);
  assert_true(a.n_created > 20 && a.user_created);
  assert_int_equal(a.n_devices, 20);
  assert_true(strlen(a.password) >= 8);
  assert_int_equal(sim_demo_register(f->m, "plant", 3, &f->pl, f->dir, &b, err, sizeof err), 0);
  assert_int_equal(b.n_created, 0);
  assert_false(b.user_created);
  assert_string_equal(a.tenant_id, b.tenant_id);
  assert_string_equal(a.password, b.password);
  for (size_t i = 0; i < a.n_devices; i++) assert_string_equal(a.device_ids[i], b.device_ids[i]);
  json_t *page = NULL;
  assert_int_equal(meta_list(f->m, META_ASSET, a.tenant_id, NULL, &page, err, sizeof err), 0);
  assert_int_equal(json_integer_value(json_object_get(page, "totalElements")), 11);
  json_decref(page);
}

static void test_deleted_device_is_registered_again(void **state) {
  fx *f = *state;
  static sim_demo a, b;
  char err[256];
  assert_int_equal(sim_demo_register(f->m, "plant", 3, &f->pl, f->dir, &a, err, sizeof err), 0);
  assert_int_equal(meta_delete(f->m, META_DEVICE, a.tenant_id, a.device_ids[4], err, sizeof err), 0);
  assert_int_equal(sim_demo_register(f->m, "plant", 3, &f->pl, f->dir, &b, err, sizeof err), 0);
  assert_int_equal(b.n_created, 1);
  assert_string_not_equal(a.device_ids[4], b.device_ids[4]);
  assert_string_equal(a.device_ids[5], b.device_ids[5]);
}

static void test_login_file_is_private(void **state) {
  fx *f = *state;
  static sim_demo a;
  char err[256], path[128];
  assert_int_equal(sim_demo_register(f->m, "plant", 3, &f->pl, f->dir, &a, err, sizeof err), 0);
  snprintf(path, sizeof path, "%s/%s", f->dir, SIM_DEMO_LOGIN_FILE);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  meta_user_auth ua;
  assert_int_equal(meta_user_by_email(f->m, SIM_DEMO_EMAIL, &ua), 0);
  assert_string_equal(ua.role, "tenant_admin");
  assert_string_equal(ua.tenant_id, a.tenant_id);
  assert_int_equal(sec_password_verify(ua.password_hash, a.password), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_device_names_are_the_plants_device_tags, setup, teardown),
    cmocka_unit_test_setup_teardown(test_restart_backfills_only_the_gap, setup, teardown),
    cmocka_unit_test_setup_teardown(test_second_registration_creates_nothing_and_keeps_the_login,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_deleted_device_is_registered_again, setup, teardown),
    cmocka_unit_test_setup_teardown(test_login_file_is_private, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
