/* SPDX-License-Identifier: Apache-2.0
 * Tests for the broker's incremental autosave (broker_persist.c,
 * br_state_inc_*): white-box on a broker struct built without its thread
 * (slices, clients freed or created during a save, retained messages in
 * slices), then end to end: a running broker's autosave writes a snapshot
 * holding a persistent session's queued message and a retained message.
 * Also mqtt_retain_each_from (the resumable iteration the save uses).
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
#include "core/mem.h"
#include "mqtt/broker_int.h"
#include "mqtt/persist.h"
#include "mqtt_client_util.h"

/* ---- a broker struct without thread or sockets ---- */

typedef struct wb {
  mqtt_broker *b;
  char dir[64];
} wb;

static int wb_setup(void **state) {
  wb *w = calloc(1, sizeof(*w));
  strcpy(w->dir, "/tmp/loom-broker2-inc-XXXXXX");
  if (!mkdtemp(w->dir)) return -1;
  mqtt_broker *b = calloc(1, sizeof(*b));
  b->cfg.state_dir = w->dir;
  b->lim.recv_max = 64;
  b->lim.topic_alias_max = 8;
  b->lim.max_queued_msgs = 100;
  b->lim.max_queued_bytes = 1u << 20;
  b->lim.max_subs_per_client = 10;
  if (uv_loop_init(&b->loop) || mqtt_subtree_new(0, &b->tree) ||
      mqtt_retain_new(1000, 1u << 20, &b->retain))
    return -1;
  b->ctab_cap = 64;
  b->ctab = loom_calloc(b->ctab_cap, sizeof(*b->ctab));
  w->b = b;
  *state = w;
  return 0;
}

static int wb_teardown(void **state) {
  wb *w = *state;
  mqtt_broker *b = w->b;
  br_state_inc_abort(b);
  b->stopping = true;
  for (size_t i = 0; i < b->ctab_cap; i++)
    while (b->ctab[i]) br_client_free(b, b->ctab[i], false);
  loom_free(b->ctab);
  mqtt_subtree_free(b->tree);
  mqtt_retain_free(b->retain);
  uv_loop_close(&b->loop);
  char path[128];
  snprintf(path, sizeof(path), "%s/mqtt.snap", w->dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/mqtt.snap.tmp", w->dir);
  unlink(path);
  rmdir(w->dir);
  free(b);
  free(w);
  return 0;
}

/* A persistent, disconnected client "c<i>" with one subscription and one
 * queued QoS 1 message. */
static br_client *add_client(mqtt_broker *b, int i) {
  char id[32];
  snprintf(id, sizeof(id), "c%d", i);
  mqtt_session_cfg sc;
  br_session_cfg(b, &sc);
  br_client *cl = NULL;
  assert_int_equal(br_client_new(b, id, &sc, &cl), 0);
  cl->expiry_s = 3600;
  mqtt_sub_opts o = {.qos = 1};
  bool is_new = false;
  assert_int_equal(br_client_sub_add(b, cl, "a/#", 3, &o, &is_new), 0);
  mqtt_session_disconnect(cl->sess, 3600, br_now(b)); /* the loop's clock */
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_msg_new("a/x", 3, "queued", 6, NULL, 0, 1, false, false, 0, 0, &m), 0);
  assert_int_equal(mqtt_session_enqueue(cl->sess, m, 1, br_now(b)), 0);
  mqtt_msg_unref(m);
  return cl;
}

static void add_retained(mqtt_broker *b, int i) {
  char t[32];
  snprintf(t, sizeof(t), "r/%d", i);
  mqtt_retain_msg rm = {.topic = t, .topic_len = strlen(t), .payload = (const uint8_t *)"v",
                        .payload_len = 1,
                        .qos = 0};
  br_retain_put(b, &rm, false, 0);
}

/* What a snapshot holds: client ids seen (bitmap by number) and counts. */
typedef struct seen {
  uint8_t ids[512];
  int clients, retained, queued;
  int dup;
} seen;

static int on_client(void *ud, const char *client_id, mqtt_session *s, const mqtt_snap_sub *subs,
                     size_t n_subs) {
  seen *x = ud;
  int i = atoi(client_id + 1);
  if (i >= 0 && i < 512) {
    if (x->ids[i]) x->dup++;
    x->ids[i] = 1;
  }
  x->clients++;
  x->queued += (int)mqtt_session_queued(s);
  assert_int_equal(n_subs, 1);
  assert_int_equal(subs[0].len, 3);
  mqtt_session_free(s);
  return 0;
}

static int on_retained(void *ud, const mqtt_retain_msg *m, bool has_expiry, uint32_t left) {
  (void)m;
  (void)has_expiry;
  (void)left;
  ((seen *)ud)->retained++;
  return 0;
}

static void load_snapshot(const char *dir, seen *x) {
  memset(x, 0, sizeof(*x));
  mqtt_session_cfg sc = {.recv_max_in = 8, .max_queued = 100};
  mqtt_snap_visitor v = {.ud = x, .client = on_client, .retained = on_retained};
  char err[160] = "";
  int rc = mqtt_snap_load(dir, &sc, 0, &v, err, sizeof(err));
  if (rc) fprintf(stderr, "load: %s\n", err);
  assert_int_equal(rc, 0);
}

/* Runs the save to the end, one client-or-chunk per step (budget 0);
 * returns the number of steps. between(step) runs before each step. */
static int run_save(mqtt_broker *b, void (*between)(mqtt_broker *, int)) {
  assert_int_equal(br_state_inc_begin(b), 0);
  assert_non_null(b->inc_w);
  mqtt_snap_writer *w = NULL;
  int steps = 0;
  while (!w) {
    if (between) between(b, steps);
    assert_int_equal(br_state_inc_step(b, 0, &w), 0);
    steps++;
    assert_true(steps < 100000);
  }
  assert_null(b->inc_w);
  assert_int_equal(mqtt_snap_commit(w), 0);
  return steps;
}

static void test_inc_save_in_slices(void **state) {
  wb *w = *state;
  for (int i = 0; i < 50; i++) add_client(w->b, i);
  for (int i = 0; i < 200; i++) add_retained(w->b, i);
  int steps = run_save(w->b, NULL);
  assert_true(steps >= 50); /* budget 0: one client per step */
  seen x;
  load_snapshot(w->dir, &x);
  assert_int_equal(x.clients, 50);
  assert_int_equal(x.queued, 50);
  assert_int_equal(x.retained, 200);
  assert_int_equal(x.dup, 0);
}

static void test_inc_save_large_budget_one_step(void **state) {
  wb *w = *state;
  for (int i = 0; i < 20; i++) add_client(w->b, i);
  assert_int_equal(br_state_inc_begin(w->b), 0);
  mqtt_snap_writer *sw = NULL;
  assert_int_equal(br_state_inc_step(w->b, 10000, &sw), 0);
  assert_non_null(sw);
  assert_int_equal(mqtt_snap_commit(sw), 0);
  seen x;
  load_snapshot(w->dir, &x);
  assert_int_equal(x.clients, 20);
}

/* Frees clients c10..c19 (not yet written at step 5) and creates c100
 * during the save. */
static void churn(mqtt_broker *b, int step) {
  if (step != 5) return;
  for (int i = 10; i < 20; i++) {
    char id[8];
    snprintf(id, sizeof(id), "c%d", i);
    br_client *cl = br_client_find(b, id, strlen(id));
    assert_non_null(cl);
    br_client_free(b, cl, false);
  }
  add_client(b, 100);
}

static void test_inc_save_clients_freed_and_created_meanwhile(void **state) {
  wb *w = *state;
  for (int i = 0; i < 40; i++) add_client(w->b, i);
  /* clients are listed in table order: make sure the freed ones are not
   * written before step 5 by checking them after the save instead */
  run_save(w->b, churn);
  seen x;
  load_snapshot(w->dir, &x);
  assert_int_equal(x.dup, 0);
  assert_int_equal(x.ids[100], 0); /* created during the save: next one */
  int freed_seen = 0;
  for (int i = 10; i < 20; i++) freed_seen += x.ids[i];
  /* a freed client may have been written before it was freed, never
   * after: at most the 5 written before step 5 */
  assert_true(freed_seen <= 5);
  assert_int_equal(x.clients, 30 + freed_seen);
  assert_null(w->b->inc_list);
}

static void test_inc_save_abort_cleans_up(void **state) {
  wb *w = *state;
  for (int i = 0; i < 10; i++) add_client(w->b, i);
  assert_int_equal(br_state_inc_begin(w->b), 0);
  mqtt_snap_writer *sw = NULL;
  assert_int_equal(br_state_inc_step(w->b, 0, &sw), 0);
  assert_null(sw);
  br_state_inc_abort(w->b);
  assert_null(w->b->inc_w);
  for (size_t i = 0; i < w->b->ctab_cap; i++)
    for (br_client *cl = w->b->ctab[i]; cl; cl = cl->hnext) assert_int_equal(cl->save_idx, 0);
  char path[128];
  snprintf(path, sizeof(path), "%s/mqtt.snap.tmp", w->dir);
  assert_int_not_equal(access(path, F_OK), 0);
  /* a new save afterwards works */
  run_save(w->b, NULL);
  seen x;
  load_snapshot(w->dir, &x);
  assert_int_equal(x.clients, 10);
}

/* ---- mqtt_retain_each_from ---- */

static int count_cb(void *ud, const mqtt_retain_msg *m) {
  (void)m;
  (*(int *)ud)++;
  return 0;
}

static void test_retain_each_from_slices(void **state) {
  (void)state;
  mqtt_retain *r = NULL;
  assert_int_equal(mqtt_retain_new(0, 0, &r), 0);
  for (int i = 0; i < 10; i++) {
    char t[16];
    snprintf(t, sizeof(t), "t/%d", i);
    mqtt_retain_msg rm = {.topic = t, .topic_len = strlen(t), .payload = (const uint8_t *)"p",
                          .payload_len = 1};
    assert_int_equal(mqtt_retain_set(r, &rm), 0);
  }
  size_t pos = 0;
  int n = 0, calls = 0;
  while (pos < mqtt_retain_count(r)) {
    assert_int_equal(mqtt_retain_each_from(r, &pos, 3, count_cb, &n), 0);
    calls++;
  }
  assert_int_equal(n, 10);
  assert_int_equal(calls, 4);
  assert_int_equal(pos, 10);
  /* past the end: nothing visited */
  assert_int_equal(mqtt_retain_each_from(r, &pos, 3, count_cb, &n), 0);
  assert_int_equal(n, 10);
  pos = 0;
  n = 0;
  assert_int_equal(mqtt_retain_each_from(r, &pos, 0, count_cb, &n), 0); /* no bound */
  assert_int_equal(n, 10);
  assert_int_equal(mqtt_retain_each_from(r, NULL, 0, count_cb, &n), LOOM_EINVAL);
  mqtt_retain_free(r);
}

/* ---- end to end: the running broker's autosave ---- */

static void test_autosave_writes_snapshot_while_running(void **state) {
  (void)state;
  char dir[] = "/tmp/loom-broker2-auto-XXXXXX";
  assert_non_null(mkdtemp(dir));
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.allow_anonymous = true;
  cfg.state_dir = dir;
  cfg.autosave_s = 1;
  mqtt_broker *b = NULL;
  assert_int_equal(mqtt_broker_start(&cfg, &b, NULL, 0), 0);
  tc s;
  assert_int_equal(tc_connect(&s, mqtt_broker_port(b), MQTT_LEVEL_311, "c1", false), 0);
  assert_int_equal(tc_subscribe(&s, "a/#", 1), 1);
  assert_int_equal(tc_ack(&s, MQTT_DISCONNECT, 0), 0);
  assert_true(tc_wait_closed(&s, 2000));
  tc_close(&s);
  usleep(100 * 1000);
  assert_int_equal(mqtt_broker_publish(b, "a/x", "queued", 6, 1, false), 0);
  assert_int_equal(mqtt_broker_publish(b, "r/1", "kept", 4, 0, true), 0);
  seen x;
  memset(&x, 0, sizeof(x));
  for (int i = 0; i < 40 && !(x.clients == 1 && x.queued == 1 && x.retained == 1); i++) {
    usleep(100 * 1000);
    load_snapshot(dir, &x);
  }
  assert_int_equal(x.clients, 1);
  assert_int_equal(x.queued, 1);
  assert_int_equal(x.retained, 1);
  mqtt_broker_stop(b);
  char path[128];
  snprintf(path, sizeof(path), "%s/mqtt.snap", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_inc_save_in_slices, wb_setup, wb_teardown),
      cmocka_unit_test_setup_teardown(test_inc_save_large_budget_one_step, wb_setup,
                                      wb_teardown),
      cmocka_unit_test_setup_teardown(test_inc_save_clients_freed_and_created_meanwhile,
                                      wb_setup, wb_teardown),
      cmocka_unit_test_setup_teardown(test_inc_save_abort_cleans_up, wb_setup, wb_teardown),
      cmocka_unit_test(test_retain_each_from_slices),
      cmocka_unit_test(test_autosave_writes_snapshot_while_running),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
