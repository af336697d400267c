/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/spb_host, the Sparkplug B host application state machine:
 * births and aliases, seq continuity and gaps, bdSeq of deaths, DATA before
 * births, rebirth hold-off, device deaths, the rebirth NCMD payload, and
 * allocation failures. Payloads go through the real codec (encode + decode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/spb.h"
#include "mqtt/spb_host.h"

#define NODE "spBv1.0/G/E1"

typedef struct fx {
  spb_host *h;
  spb_payload p; /* the last decoded message */
  int64_t now;
} fx;

static int setup(void **st) {
  fx *f = calloc(1, sizeof *f);
  assert_int_equal(spb_host_new(&f->h), 0);
  spb_payload_init(&f->p);
  f->now = 1000000;
  *st = f;
  return 0;
}

static int teardown(void **st) {
  fx *f = *st;
  spb_payload_deinit(&f->p);
  spb_host_free(f->h);
  free(f);
  return 0;
}

/* Encode metrics (seq < 0: none), decode them as the host would (aliases
 * resolved through spb_host_type_of), process; returns the verdict. */
static spb_verdict send(fx *f, spb_msg_type type, const char *device, int seq,
                        spb_metric *ms, size_t n) {
  spb_payload e;
  spb_payload_init(&e);
  e.has_ts = true;
  e.ts_ms = 1700000000000;
  e.has_seq = seq >= 0;
  e.seq = seq >= 0 ? (uint64_t)seq : 0;
  e.metrics = ms;
  e.n_metrics = n;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(spb_payload_encode(&e, &b), 0);
  spb_payload_deinit(&f->p);
  spb_host_scope sc = {f->h, NODE, device};
  assert_int_equal(spb_payload_decode(&f->p, b.data, b.len, spb_host_type_of, &sc), 0);
  loom_buf_deinit(&b);
  spb_verdict v;
  assert_int_equal(spb_host_process(f->h, NODE, device, type, &f->p, f->now, &v), 0);
  f->now += 10;
  return v;
}

static spb_verdict nbirth(fx *f, uint64_t bdseq, int seq) {
  spb_metric ms[] = {
      {.name = "bdSeq", .datatype = SPB_DT_UINT64, .kind = SPB_K_UINT, .u = bdseq},
      {.name = SPB_REBIRTH_METRIC, .datatype = SPB_DT_BOOLEAN, .kind = SPB_K_BOOL},
      {.name = "Line/Temp", .has_alias = true, .alias = 10, .datatype = SPB_DT_INT8,
       .kind = SPB_K_INT, .i = -3},
  };
  return send(f, SPB_MSG_NBIRTH, NULL, seq, ms, 3);
}

static spb_verdict ndata_alias(fx *f, int seq, uint64_t alias, int64_t v) {
  spb_metric ms[] = {{.has_alias = true, .alias = alias, .kind = SPB_K_INT, .i = v}};
  return send(f, SPB_MSG_NDATA, NULL, seq, ms, 1);
}

static spb_verdict dbirth(fx *f, const char *dev, int seq) {
  spb_metric ms[] = {{.name = "rpm", .has_alias = true, .alias = 1, .datatype = SPB_DT_UINT16,
                      .kind = SPB_K_UINT, .u = 1500}};
  return send(f, SPB_MSG_DBIRTH, dev, seq, ms, 1);
}

static spb_verdict ndeath(fx *f, uint64_t bdseq) {
  spb_metric ms[] = {{.name = "bdSeq", .datatype = SPB_DT_UINT64, .kind = SPB_K_UINT, .u = bdseq}};
  return send(f, SPB_MSG_NDEATH, NULL, -1, ms, 1);
}

static void test_birth_then_data_by_alias(void **st) {
  fx *f = *st;
  spb_verdict v = nbirth(f, 5, 0);
  assert_true(v.node_online);
  assert_true(v.store);
  assert_false(v.rebirth);
  spb_node_state ns;
  assert_int_equal(spb_host_node_state(f->h, NODE, &ns), 0);
  assert_true(ns.online);
  assert_true(ns.has_bdseq);
  assert_int_equal(ns.bdseq, 5);
  v = ndata_alias(f, 1, 10, -7);
  assert_true(v.store);
  assert_false(v.rebirth);
  assert_null(v.why);
  /* alias 10 resolved to the birth's name and Int8 datatype (sign kept) */
  assert_string_equal(f->p.metrics[0].name, "Line/Temp");
  assert_int_equal(f->p.metrics[0].datatype, SPB_DT_INT8);
  assert_int_equal(f->p.metrics[0].kind, SPB_K_INT);
  assert_int_equal(f->p.metrics[0].i, -7);
}

static void test_seq_wraps_255_to_0(void **st) {
  fx *f = *st;
  nbirth(f, 0, 0);
  for (int s = 1; s <= 300; s++) {
    spb_verdict v = ndata_alias(f, s % 256, 10, 1);
    assert_false(v.rebirth);
  }
}

static void test_seq_gap_asks_rebirth_and_resyncs(void **st) {
  fx *f = *st;
  nbirth(f, 0, 0);
  ndata_alias(f, 1, 10, 1);
  spb_verdict v = ndata_alias(f, 3, 10, 1); /* 2 lost */
  assert_true(v.rebirth);
  assert_true(v.store); /* the reading itself is real */
  assert_string_equal(v.why, "seq gap");
  v = ndata_alias(f, 4, 10, 1); /* continues from the received seq */
  assert_false(v.rebirth);
  assert_null(v.why);
  spb_node_state ns;
  spb_host_node_state(f->h, NODE, &ns);
  assert_int_equal(ns.n_rebirths, 1);
  assert_int_equal(ns.last_seq, 4);
}

static void test_data_before_birth_asks_rebirth_with_holdoff(void **st) {
  fx *f = *st;
  spb_verdict v = ndata_alias(f, 7, 10, 1);
  assert_false(v.store);
  assert_true(v.rebirth);
  assert_string_equal(v.why, "DATA before NBIRTH");
  v = ndata_alias(f, 8, 10, 1); /* within the hold-off: not asked again */
  assert_false(v.rebirth);
  assert_false(v.store);
  f->now += SPB_HOST_REBIRTH_HOLDOFF_MS;
  v = ndata_alias(f, 9, 10, 1);
  assert_true(v.rebirth);
  /* the birth answers: data flows */
  v = nbirth(f, 1, 0);
  assert_false(v.rebirth);
  v = ndata_alias(f, 1, 10, 1);
  assert_true(v.store);
  assert_false(v.rebirth);
}

static void test_nbirth_seq_not_zero_asks_rebirth(void **st) {
  fx *f = *st;
  spb_verdict v = nbirth(f, 0, 17);
  assert_true(v.node_online);
  assert_true(v.rebirth);
  v = ndata_alias(f, 18, 10, 1);
  assert_false(v.rebirth);
}

static void test_unknown_alias_asks_rebirth(void **st) {
  fx *f = *st;
  nbirth(f, 0, 0);
  spb_verdict v = ndata_alias(f, 1, 99, 1);
  assert_true(v.rebirth);
  assert_true(v.store);
  assert_null(f->p.metrics[0].name); /* caller skips it */
}

static void test_ndeath_matching_bdseq_offline(void **st) {
  fx *f = *st;
  nbirth(f, 3, 0);
  dbirth(f, "D1", 1);
  assert_true(spb_host_device_online(f->h, NODE, "D1"));
  spb_verdict v = ndeath(f, 3);
  assert_true(v.node_offline);
  assert_false(v.rebirth);
  spb_node_state ns;
  spb_host_node_state(f->h, NODE, &ns);
  assert_false(ns.online);
  assert_false(spb_host_device_online(f->h, NODE, "D1"));
  const char *name;
  assert_int_equal(spb_host_device_at(f->h, NODE, 0, &name), 0);
  assert_string_equal(name, "D1");
  assert_int_equal(spb_host_device_at(f->h, NODE, 1, &name), LOOM_ENOTFOUND);
  /* after the death, DATA is data without a session */
  v = ndata_alias(f, 2, 10, 1);
  assert_false(v.store);
  assert_true(v.rebirth);
}

static void test_ndeath_stale_bdseq_ignored(void **st) {
  fx *f = *st;
  nbirth(f, 4, 0);
  /* the will of the previous connection (bdSeq 3) arrives after the new birth */
  spb_verdict v = ndeath(f, 3);
  assert_false(v.node_offline);
  assert_string_equal(v.why, "NDEATH bdSeq of an older session");
  spb_node_state ns;
  spb_host_node_state(f->h, NODE, &ns);
  assert_true(ns.online);
  v = ndata_alias(f, 1, 10, 1);
  assert_true(v.store);
}

static void test_death_of_unknown_node(void **st) {
  fx *f = *st;
  spb_verdict v = ndeath(f, 0);
  assert_false(v.node_offline);
  assert_non_null(v.why);
  spb_node_state ns;
  assert_int_equal(spb_host_node_state(f->h, NODE, &ns), LOOM_ENOTFOUND);
}

static void test_device_birth_data_death(void **st) {
  fx *f = *st;
  nbirth(f, 0, 0);
  spb_verdict v = dbirth(f, "D1", 1);
  assert_true(v.device_online);
  assert_true(v.store);
  spb_metric ms[] = {{.has_alias = true, .alias = 1, .kind = SPB_K_UINT, .u = 1600}};
  v = send(f, SPB_MSG_DDATA, "D1", 2, ms, 1);
  assert_true(v.store);
  assert_string_equal(f->p.metrics[0].name, "rpm");
  assert_int_equal(f->p.metrics[0].datatype, SPB_DT_UINT16);
  uint32_t dt;
  uint64_t alias;
  bool has;
  assert_int_equal(spb_host_metric_find(f->h, NODE, "D1", "rpm", &dt, &alias, &has), 0);
  assert_int_equal(dt, SPB_DT_UINT16);
  assert_int_equal(alias, 1);
  assert_true(has);
  assert_int_equal(spb_host_metric_find(f->h, NODE, NULL, "rpm", NULL, NULL, NULL),
                   LOOM_ENOTFOUND);
  assert_int_equal(spb_host_metric_find(f->h, NODE, NULL, "Line/Temp", &dt, NULL, NULL), 0);
  assert_int_equal(dt, SPB_DT_INT8);
  v = send(f, SPB_MSG_DDEATH, "D1", 3, NULL, 0);
  assert_true(v.device_offline);
  assert_false(spb_host_device_online(f->h, NODE, "D1"));
  v = send(f, SPB_MSG_DDATA, "D1", 4, ms, 1);
  assert_false(v.store);
  assert_true(v.rebirth);
  assert_string_equal(v.why, "DDATA before DBIRTH");
}

static void test_ddata_unknown_device_and_dbirth_before_nbirth(void **st) {
  fx *f = *st;
  spb_verdict v = dbirth(f, "D1", 1);
  assert_true(v.rebirth);
  assert_false(v.device_online);
  assert_string_equal(v.why, "DBIRTH before NBIRTH");
  nbirth(f, 0, 0);
  spb_metric ms[] = {{.name = "x", .datatype = SPB_DT_BOOLEAN, .kind = SPB_K_BOOL}};
  v = send(f, SPB_MSG_DDATA, "D9", 1, ms, 1);
  assert_false(v.store);
  assert_true(v.rebirth);
}

static void test_new_nbirth_resets_devices_and_aliases(void **st) {
  fx *f = *st;
  nbirth(f, 0, 0);
  dbirth(f, "D1", 1);
  spb_metric ms[] = {{.name = "only", .has_alias = true, .alias = 20, .datatype = SPB_DT_DOUBLE,
                      .kind = SPB_K_DOUBLE, .d = 1}};
  send(f, SPB_MSG_NBIRTH, NULL, 0, ms, 1);
  assert_false(spb_host_device_online(f->h, NODE, "D1"));
  spb_verdict v = ndata_alias(f, 1, 10, 1); /* alias 10 belonged to the old birth */
  assert_true(v.rebirth);
  spb_node_state ns;
  spb_host_node_state(f->h, NODE, &ns);
  assert_int_equal(ns.n_devices, 0);
  assert_false(ns.has_bdseq);
}

static void test_cmd_ignored(void **st) {
  fx *f = *st;
  spb_metric ms[] = {{.name = SPB_REBIRTH_METRIC, .datatype = SPB_DT_BOOLEAN, .kind = SPB_K_BOOL,
                      .b = true}};
  spb_verdict v = send(f, SPB_MSG_NCMD, NULL, -1, ms, 1);
  assert_false(v.store);
  assert_false(v.rebirth);
  spb_node_state ns;
  assert_int_equal(spb_host_node_state(f->h, NODE, &ns), LOOM_ENOTFOUND);
}

static void test_rebirth_payload(void **st) {
  (void)st;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(spb_host_rebirth_encode(1700000000000, &b), 0);
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, b.data, b.len, NULL, NULL), 0);
  assert_int_equal(d.n_metrics, 1);
  assert_string_equal(d.metrics[0].name, "Node Control/Rebirth");
  assert_int_equal(d.metrics[0].datatype, SPB_DT_BOOLEAN);
  assert_true(d.metrics[0].b);
  assert_int_equal(d.ts_ms, 1700000000000);
  assert_false(d.has_seq);
  spb_payload_deinit(&d);
  loom_buf_deinit(&b);
}

static void test_alloc_failures(void **st) {
  (void)st;
  spb_metric ms[] = {
      {.name = "bdSeq", .datatype = SPB_DT_UINT64, .kind = SPB_K_UINT, .u = 1},
      {.name = "a", .has_alias = true, .alias = 1, .datatype = SPB_DT_INT32, .kind = SPB_K_INT}};
  spb_payload e;
  spb_payload_init(&e);
  e.has_seq = true;
  e.metrics = ms;
  e.n_metrics = 2;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(spb_payload_encode(&e, &b), 0);
  int ok = 0;
  for (long k = 0; k < 30; k++) {
    spb_host *h;
    assert_int_equal(spb_host_new(&h), 0);
    spb_payload d;
    spb_payload_init(&d);
    assert_int_equal(spb_payload_decode(&d, b.data, b.len, NULL, NULL), 0);
    spb_verdict v;
    loom_mem_fail_after(k);
    int rc = spb_host_process(h, NODE, NULL, SPB_MSG_NBIRTH, &d, 0, &v);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) {
      ok++;
      assert_int_equal(spb_host_metric_find(h, NODE, NULL, "a", NULL, NULL, NULL), 0);
    }
    spb_payload_deinit(&d);
    spb_host_free(h);
  }
  assert_true(ok > 0);
  loom_buf_deinit(&b);
}

/* A birth over SPB_HOST_MAX_METRICS is refused before anything is allocated
 * and leaves the node's earlier birth in place. */
static void test_birth_metric_limit(void **st) {
  fx *f = *st;
  nbirth(f, 1, 0);
  spb_payload big;
  spb_payload_init(&big);
  big.has_seq = true;
  big.n_metrics = SPB_HOST_MAX_METRICS + 1;
  big.metrics = calloc(big.n_metrics, sizeof *big.metrics);
  for (size_t i = 0; i < big.n_metrics; i++) {
    big.metrics[i].name = "m";
    big.metrics[i].datatype = SPB_DT_BOOLEAN;
    big.metrics[i].kind = SPB_K_BOOL;
  }
  spb_verdict v;
  assert_int_equal(spb_host_process(f->h, NODE, NULL, SPB_MSG_NBIRTH, &big, f->now, &v),
                   LOOM_ERANGE);
  assert_string_equal(v.why, "too many metrics in the birth");
  free(big.metrics);
  assert_int_equal(spb_host_metric_find(f->h, NODE, NULL, "Line/Temp", NULL, NULL, NULL), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_birth_then_data_by_alias),
      T(test_seq_wraps_255_to_0),
      T(test_seq_gap_asks_rebirth_and_resyncs),
      T(test_data_before_birth_asks_rebirth_with_holdoff),
      T(test_nbirth_seq_not_zero_asks_rebirth),
      T(test_unknown_alias_asks_rebirth),
      T(test_ndeath_matching_bdseq_offline),
      T(test_ndeath_stale_bdseq_ignored),
      T(test_death_of_unknown_node),
      T(test_device_birth_data_death),
      T(test_ddata_unknown_device_and_dbirth_before_nbirth),
      T(test_new_nbirth_resets_devices_and_aliases),
      T(test_cmd_ignored),
      T(test_birth_metric_limit),
      cmocka_unit_test(test_rebirth_payload),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
