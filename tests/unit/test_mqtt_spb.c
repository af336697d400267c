/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/spb, the Sparkplug B payload codec: a vector per datatype
 * (scalars through encode/decode, arrays, DataSet, Template and properties
 * built with protobuf-c), malformed and too deeply nested input, allocation
 * failures, topic parsing, and the cross-check with npm sparkplug-payload
 * (tests/interop/spb_vectors.js; skipped when node or the module is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/sparkplug_b.pb-c.h"
#include "mqtt/spb.h"

/* Encode one metric, decode it back; the decoded payload is left in *out. */
static void roundtrip(const spb_metric *m, spb_payload *out) {
  spb_payload p;
  spb_payload_init(&p);
  p.has_ts = true;
  p.ts_ms = 1700000000123;
  p.has_seq = true;
  p.seq = 7;
  p.metrics = (spb_metric *)m;
  p.n_metrics = 1;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(spb_payload_encode(&p, &b), 0);
  spb_payload_init(out);
  assert_int_equal(spb_payload_decode(out, b.data, b.len, NULL, NULL), 0);
  loom_buf_deinit(&b);
  assert_true(out->has_ts);
  assert_int_equal(out->ts_ms, 1700000000123);
  assert_int_equal(out->seq, 7);
  assert_int_equal(out->n_metrics, 1);
}

static void check_int(uint32_t dt, int64_t v) {
  spb_metric m = {.name = "x", .datatype = dt, .kind = SPB_K_INT, .i = v};
  spb_payload d;
  roundtrip(&m, &d);
  assert_string_equal(d.metrics[0].name, "x");
  assert_int_equal(d.metrics[0].datatype, dt);
  assert_int_equal(d.metrics[0].kind, SPB_K_INT);
  assert_int_equal(d.metrics[0].i, v);
  assert_null(d.metrics[0].unsup);
  spb_payload_deinit(&d);
}

static void check_uint(uint32_t dt, uint64_t v) {
  spb_metric m = {.name = "x", .datatype = dt, .kind = SPB_K_UINT, .u = v};
  spb_payload d;
  roundtrip(&m, &d);
  assert_int_equal(d.metrics[0].kind, SPB_K_UINT);
  assert_true(d.metrics[0].u == v);
  spb_payload_deinit(&d);
}

static void test_signed_ints_roundtrip(void **st) {
  (void)st;
  check_int(SPB_DT_INT8, -128);
  check_int(SPB_DT_INT8, 127);
  check_int(SPB_DT_INT8, -1);
  check_int(SPB_DT_INT16, -32768);
  check_int(SPB_DT_INT16, 12345);
  check_int(SPB_DT_INT32, INT32_MIN);
  check_int(SPB_DT_INT32, INT32_MAX);
  check_int(SPB_DT_INT64, INT64_MIN);
  check_int(SPB_DT_INT64, INT64_MAX);
  check_int(SPB_DT_INT64, -2);
}

static void test_unsigned_ints_roundtrip(void **st) {
  (void)st;
  check_uint(SPB_DT_UINT8, 255);
  check_uint(SPB_DT_UINT16, 65535);
  check_uint(SPB_DT_UINT32, 4294967295u);
  check_uint(SPB_DT_UINT64, UINT64_MAX);
  check_uint(SPB_DT_UINT64, 0);
}

static void test_encode_range_checked(void **st) {
  (void)st;
  loom_buf b;
  loom_buf_init(&b);
  spb_metric m = {.name = "x", .datatype = SPB_DT_INT8, .kind = SPB_K_INT, .i = 128};
  spb_payload p;
  spb_payload_init(&p);
  p.metrics = &m;
  p.n_metrics = 1;
  assert_int_equal(spb_payload_encode(&p, &b), LOOM_EINVAL);
  m.datatype = SPB_DT_UINT16;
  m.i = -1;
  assert_int_equal(spb_payload_encode(&p, &b), LOOM_EINVAL);
  m.datatype = SPB_DT_BOOLEAN; /* kind does not match */
  assert_int_equal(spb_payload_encode(&p, &b), LOOM_EINVAL);
  m.datatype = SPB_DT_INT8_ARRAY;
  m.kind = SPB_K_JSON;
  m.s = "[1]";
  m.s_len = 3;
  assert_int_equal(spb_payload_encode(&p, &b), LOOM_EUNSUP);
  assert_int_equal(b.len, 0);
  loom_buf_deinit(&b);
}

/* Int8 -1 sent as the width's pattern 0xFF (some encoders) or as 0xFFFFFFFF
 * (sign-extended, sparkplug-payload): both decode to -1; 0x1FF is out of range. */
static void test_int8_both_conventions(void **st) {
  (void)st;
  uint32_t vals[3] = {0xFF, 0xFFFFFFFFu, 0x1FF};
  for (int k = 0; k < 3; k++) {
    Spb__Payload pb = SPB__PAYLOAD__INIT;
    Spb__Payload__Metric pm = SPB__PAYLOAD__METRIC__INIT, *pmp = &pm;
    pm.name = "i8";
    pm.has_datatype = 1;
    pm.datatype = SPB_DT_INT8;
    pm.value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
    pm.int_value = vals[k];
    pb.n_metrics = 1;
    pb.metrics = &pmp;
    uint8_t buf[64];
    size_t n = spb__payload__pack(&pb, buf);
    spb_payload d;
    spb_payload_init(&d);
    assert_int_equal(spb_payload_decode(&d, buf, n, NULL, NULL), 0);
    if (k < 2) {
      assert_int_equal(d.metrics[0].kind, SPB_K_INT);
      assert_int_equal(d.metrics[0].i, -1);
    } else {
      assert_int_equal(d.metrics[0].kind, SPB_K_NONE);
      assert_non_null(d.metrics[0].unsup);
    }
    spb_payload_deinit(&d);
  }
}

static void test_float_double_bool(void **st) {
  (void)st;
  spb_metric m = {.name = "f", .datatype = SPB_DT_FLOAT, .kind = SPB_K_DOUBLE, .d = 1.5};
  spb_payload d;
  roundtrip(&m, &d);
  assert_int_equal(d.metrics[0].kind, SPB_K_DOUBLE);
  assert_true(d.metrics[0].d == 1.5);
  spb_payload_deinit(&d);
  m.datatype = SPB_DT_FLOAT;
  m.d = 0.1; /* the float nearest 0.1, widened */
  roundtrip(&m, &d);
  assert_true(d.metrics[0].d == (double)0.1f);
  spb_payload_deinit(&d);
  m.datatype = SPB_DT_DOUBLE;
  m.d = -123456.789012345;
  roundtrip(&m, &d);
  assert_true(d.metrics[0].d == -123456.789012345);
  spb_payload_deinit(&d);
  spb_metric bm = {.name = "b", .datatype = SPB_DT_BOOLEAN, .kind = SPB_K_BOOL, .b = true};
  roundtrip(&bm, &d);
  assert_int_equal(d.metrics[0].kind, SPB_K_BOOL);
  assert_true(d.metrics[0].b);
  spb_payload_deinit(&d);
}

static void test_strings_datetime_bytes(void **st) {
  (void)st;
  uint32_t sdt[3] = {SPB_DT_STRING, SPB_DT_TEXT, SPB_DT_UUID};
  for (int k = 0; k < 3; k++) {
    spb_metric m = {.name = "s", .datatype = sdt[k], .kind = SPB_K_STRING, .s = "héllo",
                    .s_len = strlen("héllo")};
    spb_payload d;
    roundtrip(&m, &d);
    assert_int_equal(d.metrics[0].datatype, sdt[k]);
    assert_int_equal(d.metrics[0].kind, SPB_K_STRING);
    assert_string_equal(d.metrics[0].s, "héllo");
    spb_payload_deinit(&d);
  }
  spb_metric t = {.name = "t", .datatype = SPB_DT_DATETIME, .kind = SPB_K_DATETIME,
                  .i = 1700000000999};
  spb_payload d;
  roundtrip(&t, &d);
  assert_int_equal(d.metrics[0].kind, SPB_K_DATETIME);
  assert_int_equal(d.metrics[0].i, 1700000000999);
  spb_payload_deinit(&d);
  static const char raw[4] = {0, 1, (char)0xFE, 0};
  uint32_t bdt[2] = {SPB_DT_BYTES, SPB_DT_FILE};
  for (int k = 0; k < 2; k++) {
    spb_metric bm = {.name = "b", .datatype = bdt[k], .kind = SPB_K_BYTES, .s = raw,
                     .s_len = 4};
    roundtrip(&bm, &d);
    assert_int_equal(d.metrics[0].kind, SPB_K_BYTES);
    assert_int_equal(d.metrics[0].s_len, 4);
    assert_memory_equal(d.metrics[0].s, raw, 4);
    spb_payload_deinit(&d);
  }
}

static void test_null_alias_flags(void **st) {
  (void)st;
  spb_metric m = {.name = "n", .has_alias = true, .alias = 42, .has_ts = true, .ts_ms = 5,
                  .datatype = SPB_DT_INT32, .is_null = true, .is_historical = true,
                  .is_transient = true};
  spb_payload d;
  roundtrip(&m, &d);
  assert_true(d.metrics[0].is_null);
  assert_int_equal(d.metrics[0].kind, SPB_K_NONE);
  assert_null(d.metrics[0].unsup);
  assert_true(d.metrics[0].has_alias);
  assert_int_equal(d.metrics[0].alias, 42);
  assert_true(d.metrics[0].has_ts);
  assert_int_equal(d.metrics[0].ts_ms, 5);
  assert_true(d.metrics[0].is_historical);
  assert_true(d.metrics[0].is_transient);
  spb_payload_deinit(&d);
}

/* Decode a bytes_value with the given array datatype. */
static void check_array(uint32_t dt, const void *bytes, size_t n, const char *want_json) {
  Spb__Payload pb = SPB__PAYLOAD__INIT;
  Spb__Payload__Metric pm = SPB__PAYLOAD__METRIC__INIT, *pmp = &pm;
  pm.name = "a";
  pm.has_datatype = 1;
  pm.datatype = dt;
  pm.value_case = SPB__PAYLOAD__METRIC__VALUE_BYTES_VALUE;
  pm.bytes_value.data = (uint8_t *)bytes;
  pm.bytes_value.len = n;
  pb.n_metrics = 1;
  pb.metrics = &pmp;
  uint8_t buf[256];
  size_t len = spb__payload__pack(&pb, buf);
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, buf, len, NULL, NULL), 0);
  if (want_json) {
    assert_int_equal(d.metrics[0].kind, SPB_K_JSON);
    assert_string_equal(d.metrics[0].s, want_json);
  } else {
    assert_int_equal(d.metrics[0].kind, SPB_K_NONE);
    assert_non_null(d.metrics[0].unsup);
  }
  spb_payload_deinit(&d);
}

static void test_arrays(void **st) {
  (void)st;
  check_array(SPB_DT_INT8_ARRAY, "\xff\x05\x80", 3, "[-1,5,-128]");
  check_array(SPB_DT_UINT8_ARRAY, "\xff\x05", 2, "[255,5]");
  check_array(SPB_DT_INT16_ARRAY, "\xfe\xff\x00\x01", 4, "[-2,256]");
  check_array(SPB_DT_UINT16_ARRAY, "\xfe\xff", 2, "[65534]");
  check_array(SPB_DT_INT32_ARRAY, "\xff\xff\xff\xff\x01\x00\x00\x00", 8, "[-1,1]");
  check_array(SPB_DT_UINT32_ARRAY, "\xff\xff\xff\xff", 4, "[4294967295]");
  check_array(SPB_DT_INT64_ARRAY, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8, "[-2]");
  check_array(SPB_DT_UINT64_ARRAY, "\xff\xff\xff\xff\xff\xff\xff\xff", 8,
              "[18446744073709551615]");
  check_array(SPB_DT_FLOAT_ARRAY, "\x00\x00\xc0\x3f", 4, "[1.5]");
  check_array(SPB_DT_DOUBLE_ARRAY, "\x00\x00\x00\x00\x00\x00\x04\xc0", 8, "[-2.5]");
  check_array(SPB_DT_DATETIME_ARRAY, "\xe8\x03\x00\x00\x00\x00\x00\x00", 8, "[1000]");
  /* the specification's example: 12 booleans, bits most significant first */
  check_array(SPB_DT_BOOLEAN_ARRAY, "\x0c\x00\x00\x00\x34\xd0", 6,
              "[false,false,true,true,false,true,false,false,true,true,false,true]");
  check_array(SPB_DT_STRING_ARRAY, "ab\0\0c\"\0", 7, "[\"ab\",\"\",\"c\\\"\"]");
  check_array(SPB_DT_INT32_ARRAY, "\x01\x02\x03", 3, NULL);      /* not a multiple of 4 */
  check_array(SPB_DT_BOOLEAN_ARRAY, "\x09\x00\x00\x00\x01", 5, NULL); /* 9 bits in 8 */
  check_array(SPB_DT_BOOLEAN_ARRAY, "\x01", 1, NULL);             /* no count */
}

static void test_dataset(void **st) {
  (void)st;
  Spb__Payload__DataSet ds = SPB__PAYLOAD__DATA_SET__INIT;
  char *cols[2] = {"id", "name"};
  uint32_t types[2] = {SPB_DT_INT32, SPB_DT_STRING};
  Spb__Payload__DataSet__DataSetValue v[4] = {
      SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__INIT, SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__INIT,
      SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__INIT, SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__INIT};
  v[0].value_case = SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_INT_VALUE;
  v[0].int_value = 0xFFFFFFFFu;
  v[1].value_case = SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_STRING_VALUE;
  v[1].string_value = "a";
  v[2].value_case = SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_INT_VALUE;
  v[2].int_value = 2;
  v[3].value_case = SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_STRING_VALUE;
  v[3].string_value = "b";
  Spb__Payload__DataSet__DataSetValue *r0[2] = {&v[0], &v[1]}, *r1[2] = {&v[2], &v[3]};
  Spb__Payload__DataSet__Row rows[2] = {SPB__PAYLOAD__DATA_SET__ROW__INIT,
                                        SPB__PAYLOAD__DATA_SET__ROW__INIT};
  rows[0].n_elements = 2;
  rows[0].elements = r0;
  rows[1].n_elements = 2;
  rows[1].elements = r1;
  Spb__Payload__DataSet__Row *rp[2] = {&rows[0], &rows[1]};
  ds.has_num_of_columns = 1;
  ds.num_of_columns = 2;
  ds.n_columns = 2;
  ds.columns = cols;
  ds.n_types = 2;
  ds.types = types;
  ds.n_rows = 2;
  ds.rows = rp;
  Spb__Payload pb = SPB__PAYLOAD__INIT;
  Spb__Payload__Metric pm = SPB__PAYLOAD__METRIC__INIT, *pmp = &pm;
  pm.name = "table";
  pm.has_datatype = 1;
  pm.datatype = SPB_DT_DATASET;
  pm.value_case = SPB__PAYLOAD__METRIC__VALUE_DATASET_VALUE;
  pm.dataset_value = &ds;
  pb.n_metrics = 1;
  pb.metrics = &pmp;
  uint8_t buf[256];
  size_t n = spb__payload__pack(&pb, buf);
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, buf, n, NULL, NULL), 0);
  assert_int_equal(d.metrics[0].kind, SPB_K_JSON);
  assert_string_equal(d.metrics[0].s, "{\"columns\":[\"id\",\"name\"],\"types\":[\"Int32\","
                                      "\"String\"],\"rows\":[[-1,\"a\"],[2,\"b\"]]}");
  spb_payload_deinit(&d);
}

static void test_template_and_properties(void **st) {
  (void)st;
  Spb__Payload__Template__Parameter par = SPB__PAYLOAD__TEMPLATE__PARAMETER__INIT, *parp = &par;
  par.name = "limit";
  par.has_type = 1;
  par.type = SPB_DT_DOUBLE;
  par.value_case = SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_DOUBLE_VALUE;
  par.double_value = 2.5;
  Spb__Payload__Metric inner = SPB__PAYLOAD__METRIC__INIT, *innerp = &inner;
  inner.name = "speed";
  inner.has_datatype = 1;
  inner.datatype = SPB_DT_INT16;
  inner.value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
  inner.int_value = 0xFFFFFFFEu;
  Spb__Payload__Template t = SPB__PAYLOAD__TEMPLATE__INIT;
  t.template_ref = "Motor";
  t.version = "v1";
  t.n_metrics = 1;
  t.metrics = &innerp;
  t.n_parameters = 1;
  t.parameters = &parp;
  Spb__Payload__PropertyValue pv[2] = {SPB__PAYLOAD__PROPERTY_VALUE__INIT,
                                       SPB__PAYLOAD__PROPERTY_VALUE__INIT};
  pv[0].has_type = 1;
  pv[0].type = SPB_DT_STRING;
  pv[0].value_case = SPB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE;
  pv[0].string_value = "rpm";
  pv[1].has_type = 1;
  pv[1].type = SPB_DT_INT32;
  pv[1].has_is_null = 1;
  pv[1].is_null = 1;
  Spb__Payload__PropertyValue *pvp[2] = {&pv[0], &pv[1]};
  char *keys[2] = {"engUnit", "max"};
  Spb__Payload__PropertySet ps = SPB__PAYLOAD__PROPERTY_SET__INIT;
  ps.n_keys = 2;
  ps.keys = keys;
  ps.n_values = 2;
  ps.values = pvp;
  Spb__Payload__Metric pm = SPB__PAYLOAD__METRIC__INIT, *pmp = &pm;
  pm.name = "motor1";
  pm.has_datatype = 1;
  pm.datatype = SPB_DT_TEMPLATE;
  pm.value_case = SPB__PAYLOAD__METRIC__VALUE_TEMPLATE_VALUE;
  pm.template_value = &t;
  pm.properties = &ps;
  Spb__Payload pb = SPB__PAYLOAD__INIT;
  pb.n_metrics = 1;
  pb.metrics = &pmp;
  uint8_t buf[256];
  size_t n = spb__payload__pack(&pb, buf);
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, buf, n, NULL, NULL), 0);
  assert_int_equal(d.metrics[0].kind, SPB_K_JSON);
  assert_string_equal(d.metrics[0].s,
                      "{\"template_ref\":\"Motor\",\"version\":\"v1\",\"is_definition\":false,"
                      "\"parameters\":{\"limit\":2.5},\"metrics\":{\"speed\":-2}}");
  assert_string_equal(d.metrics[0].props_json, "{\"engUnit\":\"rpm\",\"max\":null}");
  spb_payload_deinit(&d);
}

/* DATA by alias carries no datatype: the callback supplies it from the birth. */
static uint32_t type_from_birth(void *ud, const spb_metric *m) {
  (*(int *)ud)++;
  return m->has_alias && m->alias == 9 ? SPB_DT_INT8 : SPB_DT_UNKNOWN;
}

static void test_type_callback_for_alias(void **st) {
  (void)st;
  Spb__Payload pb = SPB__PAYLOAD__INIT;
  Spb__Payload__Metric pm = SPB__PAYLOAD__METRIC__INIT, *pmp = &pm;
  pm.has_alias = 1;
  pm.alias = 9;
  pm.value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
  pm.int_value = 0xFFFFFFFBu;
  pb.n_metrics = 1;
  pb.metrics = &pmp;
  uint8_t buf[64];
  size_t n = spb__payload__pack(&pb, buf);
  int calls = 0;
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, buf, n, type_from_birth, &calls), 0);
  assert_int_equal(calls, 1);
  assert_null(d.metrics[0].name);
  assert_int_equal(d.metrics[0].datatype, SPB_DT_INT8);
  assert_int_equal(d.metrics[0].i, -5);
  spb_payload_deinit(&d);
  /* without it the wire field decides: int_value is a UInt32 */
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, buf, n, NULL, NULL), 0);
  assert_int_equal(d.metrics[0].kind, SPB_K_UINT);
  assert_true(d.metrics[0].u == 0xFFFFFFFBu);
  spb_payload_deinit(&d);
}

static void test_mismatch_and_unknown_reported(void **st) {
  (void)st;
  Spb__Payload pb = SPB__PAYLOAD__INIT;
  Spb__Payload__Metric pm[4] = {SPB__PAYLOAD__METRIC__INIT, SPB__PAYLOAD__METRIC__INIT,
                                SPB__PAYLOAD__METRIC__INIT, SPB__PAYLOAD__METRIC__INIT};
  Spb__Payload__Metric *pmp[4] = {&pm[0], &pm[1], &pm[2], &pm[3]};
  pm[3].name = "pset";
  pm[3].has_datatype = 1;
  pm[3].datatype = SPB_DT_PROPERTYSET;
  pm[3].value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
  pm[0].name = "bool-with-string";
  pm[0].has_datatype = 1;
  pm[0].datatype = SPB_DT_BOOLEAN;
  pm[0].value_case = SPB__PAYLOAD__METRIC__VALUE_STRING_VALUE;
  pm[0].string_value = "yes";
  pm[1].name = "type-99";
  pm[1].has_datatype = 1;
  pm[1].datatype = 99;
  pm[1].value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
  pm[2].name = "ok";
  pm[2].has_datatype = 1;
  pm[2].datatype = SPB_DT_BOOLEAN;
  pm[2].value_case = SPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
  pm[2].boolean_value = 1;
  pb.n_metrics = 4;
  pb.metrics = pmp;
  uint8_t buf[128];
  size_t n = spb__payload__pack(&pb, buf);
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, buf, n, NULL, NULL), 0);
  assert_int_equal(d.metrics[0].kind, SPB_K_NONE);
  assert_non_null(d.metrics[0].unsup);
  assert_int_equal(d.metrics[1].kind, SPB_K_NONE);
  assert_string_equal(d.metrics[1].unsup, "unknown datatype");
  assert_int_equal(d.metrics[2].kind, SPB_K_BOOL);
  assert_int_equal(d.metrics[3].kind, SPB_K_NONE);
  assert_string_equal(d.metrics[3].unsup, "PropertySet values are not supported as metric values");
  spb_payload_deinit(&d);
}

static void test_malformed_refused(void **st) {
  (void)st;
  static const struct { const char *b; size_t n; } bad[] = {
      {"\x12\x05\x0a\x01", 4},         /* metrics length past the end */
      {"\x0b", 1},                     /* group start wire type */
      {"\x08", 1},                     /* varint missing */
      {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* over-long varint */
      {"\x00\x01", 2},                 /* field number 0 */
      {"\x0a\x01x", 3},                /* timestamp (varint) sent as bytes */
      {"\x12\x02\x50\x80", 4},         /* metric int_value truncated varint */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    spb_payload d;
    spb_payload_init(&d);
    assert_int_equal(spb_payload_decode(&d, (const uint8_t *)bad[i].b, bad[i].n, NULL, NULL),
                     LOOM_EINVAL);
    assert_int_equal(d.n_metrics, 0);
    assert_null(d.pb);
  }
  spb_payload d;
  spb_payload_init(&d);
  assert_int_equal(spb_payload_decode(&d, (const uint8_t *)"", 0, NULL, NULL), 0);
  assert_int_equal(d.n_metrics, 0);
  spb_payload_deinit(&d);
}

/* Template in Template ... past SPB_MAX_DEPTH: refused before protobuf-c. */
static void test_deep_nesting_refused(void **st) {
  (void)st;
  for (int depth = 4; depth <= 40; depth += 36) {
    /* innermost: an empty Template; each level wraps: Metric{18: T}, T{2: M} */
    uint8_t *cur = NULL;
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
      uint8_t tag = i % 2 == 0 ? 0x92 : 0x12; /* 0x92 0x01 = field 18 LEN; 0x12 = field 2 */
      size_t hdr = tag == 0x92 ? 2 : 1;
      uint8_t *next = malloc(n + hdr + 2);
      next[0] = tag;
      if (hdr == 2) next[1] = 0x01;
      assert_true(n < 16384);
      size_t vl = 0;
      size_t v = n;
      do {
        next[hdr + vl] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
        vl++;
      } while (v);
      next = realloc(next, hdr + vl + n);
      if (n) memcpy(next + hdr + vl, cur, n);
      free(cur);
      cur = next;
      n = hdr + vl + n;
    }
    /* wrap in Payload.metrics (field 2): the last level added was a Template field 2 */
    spb_payload d;
    spb_payload_init(&d);
    int rc = spb_payload_decode(&d, cur, n, NULL, NULL);
    if (depth < SPB_MAX_DEPTH) {
      assert_int_equal(rc, 0);
      spb_payload_deinit(&d);
    } else {
      assert_int_equal(rc, LOOM_EINVAL);
    }
    free(cur);
  }
}

static void test_alloc_failures_no_leak(void **st) {
  (void)st;
  spb_metric ms[3] = {
      {.name = "a", .datatype = SPB_DT_STRING, .kind = SPB_K_STRING, .s = "x", .s_len = 1},
      {.name = "b", .datatype = SPB_DT_INT64, .kind = SPB_K_INT, .i = -1},
      {.name = "c", .datatype = SPB_DT_DOUBLE, .kind = SPB_K_DOUBLE, .d = 2}};
  spb_payload p;
  spb_payload_init(&p);
  p.metrics = ms;
  p.n_metrics = 3;
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(spb_payload_encode(&p, &b), 0);
  /* a string array makes decoder-owned strings as well */
  check_array(SPB_DT_STRING_ARRAY, "a\0b\0", 4, "[\"a\",\"b\"]");
  int ok = 0;
  for (long k = 0; k < 40; k++) {
    spb_payload d;
    spb_payload_init(&d);
    loom_mem_fail_after(k);
    int rc = spb_payload_decode(&d, b.data, b.len, NULL, NULL);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) {
      ok++;
      assert_int_equal(d.n_metrics, 3);
    }
    spb_payload_deinit(&d);
  }
  assert_true(ok > 0);
  loom_buf_deinit(&b);
}

static void test_topic_parse(void **st) {
  (void)st;
  spb_topic t;
  const char *s = "spBv1.0/G1/DDATA/E1/D1";
  assert_int_equal(spb_topic_parse(s, strlen(s), &t), 0);
  assert_int_equal(t.type, SPB_MSG_DDATA);
  assert_int_equal(t.group_len, 2);
  assert_memory_equal(t.group, "G1", 2);
  assert_memory_equal(t.node, "E1", 2);
  assert_int_equal(t.device_len, 2);
  assert_memory_equal(t.device, "D1", 2);
  s = "spBv1.0/G1/NBIRTH/E1";
  assert_int_equal(spb_topic_parse(s, strlen(s), &t), 0);
  assert_int_equal(t.type, SPB_MSG_NBIRTH);
  assert_null(t.device);
  static const char *bad[] = {"spBv1.0/G1/NBIRTH/E1/D1", "spBv1.0/G1/DBIRTH/E1",
                              "spBv1.0/STATE/loom", "spBv1.0/G1/NFOO/E1", "spBv1.0//NDATA/E1",
                              "spBv1.0/G1/NDATA/", "spAv1.0/G1/NDATA/E1",
                              "spBv1.0/G1/DDATA/E1/D1/x", "spBv1.0/G+/NDATA/E1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(spb_topic_parse(bad[i], strlen(bad[i]), &t), LOOM_EINVAL);
}

static void test_datatype_names(void **st) {
  (void)st;
  assert_string_equal(spb_datatype_name(SPB_DT_INT8), "Int8");
  assert_string_equal(spb_datatype_name(SPB_DT_UUID), "UUID");
  assert_string_equal(spb_datatype_name(SPB_DT_DATETIME_ARRAY), "DateTimeArray");
  assert_string_equal(spb_datatype_name(35), "Unknown");
}

/* ---- cross-check with npm sparkplug-payload ---- */

static char *run_cmd(const char *cmd) {
  FILE *f = popen(cmd, "r");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *out = malloc(cap);
  size_t n;
  while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 1024) out = realloc(out, cap *= 2);
  }
  out[len] = 0;
  if (pclose(f) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

static bool node_ready(void) {
  return system("node -e 'require(\"./tests/interop/node_modules/sparkplug-payload\")' "
                ">/dev/null 2>&1") == 0;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
  size_t n = strlen(h) / 2;
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* Compare decoded metric m with the vector's expected {"type","value"}. */
static void expect_metric(const spb_metric *m, json_t *exp) {
  const char *type = json_string_value(json_object_get(exp, "type"));
  json_t *v = json_object_get(exp, "value");
  assert_non_null(type);
  assert_string_equal(spb_datatype_name(m->datatype), type);
  if (json_is_null(v)) {
    assert_true(m->is_null);
    return;
  }
  switch (m->kind) {
  case SPB_K_INT:
  case SPB_K_DATETIME: {
    const char *s = json_string_value(v); /* 64-bit values as decimal strings */
    if (s) assert_int_equal(m->i, strtoll(s, NULL, 10));
    else assert_int_equal(m->i, json_integer_value(v));
    break;
  }
  case SPB_K_UINT: {
    const char *s = json_string_value(v);
    if (s) assert_true(m->u == strtoull(s, NULL, 10));
    else assert_true(m->u == (uint64_t)json_integer_value(v));
    break;
  }
  case SPB_K_DOUBLE: assert_true(m->d == json_number_value(v)); break;
  case SPB_K_BOOL: assert_int_equal(m->b, json_is_true(v)); break;
  case SPB_K_STRING: assert_string_equal(m->s, json_string_value(v)); break;
  case SPB_K_BYTES: {
    uint8_t raw[256];
    size_t n = unhex(json_string_value(v), raw, sizeof raw);
    assert_int_equal(m->s_len, n);
    assert_memory_equal(m->s, raw, n);
    break;
  }
  case SPB_K_JSON: {
    json_error_t e;
    json_t *got = json_loadb(m->s, m->s_len, 0, &e);
    assert_non_null(got);
    if (!json_equal(got, v)) {
      char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(v, JSON_COMPACT);
      fail_msg("%s: got %s want %s", m->name, a, b);
    }
    json_decref(got);
    break;
  }
  default: fail_msg("%s: not decoded (%s)", m->name, m->unsup ? m->unsup : "?");
  }
}

static void test_interop_decode_sparkplug_payload_vectors(void **st) {
  (void)st;
  if (!node_ready()) skip();
  char *out = run_cmd("node tests/interop/spb_vectors.js");
  assert_non_null(out);
  json_error_t e;
  json_t *all = json_loads(out, 0, &e);
  free(out);
  assert_non_null(all);
  size_t i, n_checked = 0;
  json_t *vec;
  json_array_foreach(json_object_get(all, "vectors"), i, vec) {
    uint8_t buf[4096];
    size_t n = unhex(json_string_value(json_object_get(vec, "hex")), buf, sizeof buf);
    spb_payload d;
    spb_payload_init(&d);
    assert_int_equal(spb_payload_decode(&d, buf, n, NULL, NULL), 0);
    json_t *exp = json_object_get(vec, "metrics");
    assert_int_equal(d.n_metrics, json_array_size(exp));
    for (size_t k = 0; k < d.n_metrics; k++) {
      expect_metric(&d.metrics[k], json_array_get(exp, k));
      n_checked++;
    }
    json_t *seq = json_object_get(vec, "seq");
    if (seq) assert_int_equal(d.seq, json_integer_value(seq));
    spb_payload_deinit(&d);
  }
  assert_true(n_checked >= 20); /* every datatype sparkplug-payload encodes */
  json_decref(all);
}

/* Loom encodes, sparkplug-payload decodes (spb_vectors.js --decode HEX prints JSON). */
static void test_interop_loom_encoded_decoded_by_node(void **st) {
  (void)st;
  if (!node_ready()) skip();
  static const char raw[3] = {1, 2, 3};
  spb_metric ms[] = {
      {.name = "i8", .datatype = SPB_DT_INT8, .kind = SPB_K_INT, .i = -5},
      {.name = "i16", .datatype = SPB_DT_INT16, .kind = SPB_K_INT, .i = -300},
      {.name = "i32", .datatype = SPB_DT_INT32, .kind = SPB_K_INT, .i = -70000},
      {.name = "i64", .datatype = SPB_DT_INT64, .kind = SPB_K_INT, .i = -5000000000},
      {.name = "u8", .datatype = SPB_DT_UINT8, .kind = SPB_K_UINT, .u = 200},
      {.name = "u16", .datatype = SPB_DT_UINT16, .kind = SPB_K_UINT, .u = 60000},
      {.name = "u32", .datatype = SPB_DT_UINT32, .kind = SPB_K_UINT, .u = 4000000000u},
      {.name = "u64", .datatype = SPB_DT_UINT64, .kind = SPB_K_UINT, .u = 9000000000},
      {.name = "f", .datatype = SPB_DT_FLOAT, .kind = SPB_K_DOUBLE, .d = 1.25},
      {.name = "d", .datatype = SPB_DT_DOUBLE, .kind = SPB_K_DOUBLE, .d = 3.141592653589793},
      {.name = "b", .datatype = SPB_DT_BOOLEAN, .kind = SPB_K_BOOL, .b = true},
      {.name = "s", .datatype = SPB_DT_STRING, .kind = SPB_K_STRING, .s = "hi", .s_len = 2},
      {.name = "t", .datatype = SPB_DT_DATETIME, .kind = SPB_K_DATETIME, .i = 1700000000000},
      {.name = "x", .datatype = SPB_DT_TEXT, .kind = SPB_K_STRING, .s = "txt", .s_len = 3},
      {.name = "u", .datatype = SPB_DT_UUID, .kind = SPB_K_STRING, .s = "0-1", .s_len = 3},
      {.name = "y", .datatype = SPB_DT_BYTES, .kind = SPB_K_BYTES, .s = raw, .s_len = 3},
  };
  spb_payload p;
  spb_payload_init(&p);
  p.has_ts = true;
  p.ts_ms = 1700000000001;
  p.has_seq = true;
  p.seq = 3;
  p.metrics = ms;
  p.n_metrics = sizeof ms / sizeof ms[0];
  loom_buf b;
  loom_buf_init(&b);
  assert_int_equal(spb_payload_encode(&p, &b), 0);
  char *cmd = malloc(b.len * 2 + 64);
  int k = sprintf(cmd, "node tests/interop/spb_vectors.js --decode ");
  for (size_t i = 0; i < b.len; i++) k += sprintf(cmd + k, "%02x", b.data[i]);
  loom_buf_deinit(&b);
  char *out = run_cmd(cmd);
  free(cmd);
  assert_non_null(out);
  json_error_t e;
  json_t *got = json_loads(out, 0, &e);
  free(out);
  assert_non_null(got);
  assert_int_equal(json_integer_value(json_object_get(got, "seq")), 3);
  json_t *gm = json_object_get(got, "metrics");
  assert_int_equal(json_array_size(gm), p.n_metrics);
  for (size_t i = 0; i < p.n_metrics; i++) {
    json_t *one = json_array_get(gm, i);
    assert_string_equal(json_string_value(json_object_get(one, "name")), ms[i].name);
    spb_metric m = ms[i];
    expect_metric(&m, one);
  }
  json_decref(got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signed_ints_roundtrip),
      cmocka_unit_test(test_unsigned_ints_roundtrip),
      cmocka_unit_test(test_encode_range_checked),
      cmocka_unit_test(test_int8_both_conventions),
      cmocka_unit_test(test_float_double_bool),
      cmocka_unit_test(test_strings_datetime_bytes),
      cmocka_unit_test(test_null_alias_flags),
      cmocka_unit_test(test_arrays),
      cmocka_unit_test(test_dataset),
      cmocka_unit_test(test_template_and_properties),
      cmocka_unit_test(test_type_callback_for_alias),
      cmocka_unit_test(test_mismatch_and_unknown_reported),
      cmocka_unit_test(test_malformed_refused),
      cmocka_unit_test(test_deep_nesting_refused),
      cmocka_unit_test(test_alloc_failures_no_leak),
      cmocka_unit_test(test_topic_parse),
      cmocka_unit_test(test_datatype_names),
      cmocka_unit_test(test_interop_decode_sparkplug_payload_vectors),
      cmocka_unit_test(test_interop_loom_encoded_decoded_by_node),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
