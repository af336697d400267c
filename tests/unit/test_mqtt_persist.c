/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/persist: snapshot round trip through a directory (clients
 * with sessions and subscriptions, retained messages), a missing file,
 * expiry counted across the downtime, corrupt and truncated files (the
 * records before the damage are kept), visitor stop, writer argument
 * checks, abort, and allocation failures on save and load.
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
#include "core/fsutil.h"
#include "core/mem.h"
#include "mqtt/codec.h"
#include "mqtt/persist.h"

#define WALL0 1700000000000ull

static mqtt_session_cfg cfg(void) {
  mqtt_session_cfg c;
  memset(&c, 0, sizeof(c));
  c.recv_max_in = 8;
  c.alias_out_cap = 4;
  c.max_queued = 100;
  return c;
}

/* What a load reported. */
typedef struct seen {
  int n_clients, n_retained;
  char ids[8][32];
  mqtt_session *sessions[8];
  size_t n_subs[8];
  char filters[8][4][64];
  mqtt_sub_opts opts[8][4];
  char topics[8][32];
  char payloads[8][32];
  uint8_t qos[8];
  bool has_expiry[8];
  uint32_t remaining[8];
  int stop_after; /* return 99 after this many records; 0 = never */
} seen;

static int on_client(void *ud, const char *id, mqtt_session *s, const mqtt_snap_sub *subs,
                     size_t n) {
  seen *v = ud;
  assert_true(v->n_clients < 8 && n <= 4);
  int i = v->n_clients++;
  snprintf(v->ids[i], sizeof(v->ids[i]), "%s", id);
  v->sessions[i] = s;
  v->n_subs[i] = n;
  for (size_t k = 0; k < n; k++) {
    assert_int_equal(strlen(subs[k].filter), subs[k].len);
    snprintf(v->filters[i][k], sizeof(v->filters[i][k]), "%s", subs[k].filter);
    v->opts[i][k] = subs[k].opts;
  }
  if (v->stop_after && v->n_clients + v->n_retained >= v->stop_after) return 99;
  return 0;
}

static int on_retained(void *ud, const mqtt_retain_msg *m, bool has_expiry, uint32_t rem) {
  seen *v = ud;
  assert_true(v->n_retained < 8);
  int i = v->n_retained++;
  snprintf(v->topics[i], sizeof(v->topics[i]), "%.*s", (int)m->topic_len, m->topic);
  snprintf(v->payloads[i], sizeof(v->payloads[i]), "%.*s", (int)m->payload_len,
           (const char *)m->payload);
  v->qos[i] = m->qos;
  v->has_expiry[i] = has_expiry;
  v->remaining[i] = rem;
  if (v->stop_after && v->n_clients + v->n_retained >= v->stop_after) return 99;
  return 0;
}

static void seen_free(seen *v) {
  for (int i = 0; i < v->n_clients; i++) mqtt_session_free(v->sessions[i]);
  v->n_clients = 0;
}

static mqtt_snap_visitor visitor(seen *v) {
  mqtt_snap_visitor vis = {v, on_client, on_retained};
  return vis;
}

static char *tmpdir(void) {
  char tmpl[] = "/tmp/loom-persist-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  char *out = strdup(d);
  assert_non_null(out);
  return out;
}

static void rmdir_all(char *dir) {
  assert_int_equal(loom_rm_rf(dir), 0);
  free(dir);
}

/* Session with one QoS 1 message queued, disconnected at 0 with expiry_s. */
static mqtt_session *session_with_msg(uint32_t expiry_s) {
  mqtt_session_cfg c = cfg();
  mqtt_session *s = NULL;
  mqtt_msg *m = NULL;
  assert_int_equal(mqtt_session_new(&c, &s), 0);
  assert_int_equal(mqtt_session_connect(s, MQTT_LEVEL_5, 0, 0, expiry_s), 0);
  mqtt_session_disconnect(s, expiry_s, 0);
  assert_int_equal(mqtt_msg_new("d/1", 3, "hello", 5, NULL, 0, 1, false, false, 0, 0, &m), 0);
  assert_int_equal(mqtt_session_enqueue(s, m, 1, 0), 0);
  mqtt_msg_unref(m);
  return s;
}

static mqtt_retain_msg rmsg(const char *topic, const char *payload, uint8_t qos) {
  mqtt_retain_msg m;
  memset(&m, 0, sizeof(m));
  m.topic = topic;
  m.topic_len = strlen(topic);
  m.payload = (const uint8_t *)payload;
  m.payload_len = strlen(payload);
  m.qos = qos;
  return m;
}

/* Writes a snapshot at WALL0 into dir: clients "c1" (two subs, one shared)
 * (never expires) and "c2" (no subs, expiry 5 s), retained "r/a" (no expiry) and "r/b"
 * (expiry 10 s). */
static void write_sample(const char *dir) {
  mqtt_snap_writer *w = NULL;
  assert_int_equal(mqtt_snap_begin_at(dir, WALL0, &w), 0);
  mqtt_session *s1 = session_with_msg(0xFFFFFFFFu), *s2 = session_with_msg(5);
  mqtt_snap_sub subs[2];
  memset(subs, 0, sizeof(subs));
  subs[0].filter = "plant/+/temp";
  subs[0].len = strlen(subs[0].filter);
  subs[0].opts.qos = 1;
  subs[0].opts.no_local = true;
  subs[0].opts.retain_as_published = true;
  subs[0].opts.retain_handling = 2;
  subs[0].opts.sub_id = 268435455u;
  subs[1].filter = "$share/g1/line/#";
  subs[1].len = strlen(subs[1].filter);
  subs[1].opts.qos = 2;
  assert_int_equal(mqtt_snap_add_client(w, "c1", s1, 0, subs, 2), 0);
  assert_int_equal(mqtt_snap_add_client(w, "c2", s2, 0, NULL, 0), 0);
  mqtt_retain_msg a = rmsg("r/a", "A", 1), b = rmsg("r/b", "BB", 2);
  assert_int_equal(mqtt_snap_add_retained(w, &a, false, 0), 0);
  assert_int_equal(mqtt_snap_add_retained(w, &b, true, 10), 0);
  assert_int_equal(mqtt_snap_commit(w), 0);
  mqtt_session_free(s1);
  mqtt_session_free(s2);
}

static void read_file(const char *dir, loom_buf *out) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, MQTT_SNAP_FILE);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  uint8_t tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) assert_int_equal(loom_buf_append(out, tmp, n), 0);
  fclose(f);
}

static void test_round_trip(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  char tmp[512];
  snprintf(tmp, sizeof(tmp), "%s/%s", dir, MQTT_SNAP_TMP_FILE);
  assert_int_not_equal(access(tmp, F_OK), 0); /* renamed away */
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  char err[128];
  /* Through the file (real clock: the sample is years old, c2 and r/b expired). */
  assert_int_equal(mqtt_snap_load(dir, &c, 0, &vis, err, sizeof(err)), 0);
  assert_int_equal(v.n_clients, 1);
  assert_int_equal(v.n_retained, 1);
  assert_string_equal(v.ids[0], "c1");
  seen_free(&v);
  /* Through memory with the wall clock 1 s after the save: everything. */
  loom_buf img;
  loom_buf_init(&img);
  read_file(dir, &img);
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 100, WALL0 + 1000, &vis, err,
                                      sizeof(err)),
                   0);
  assert_int_equal(v.n_clients, 2);
  assert_string_equal(v.ids[0], "c1");
  assert_string_equal(v.ids[1], "c2");
  assert_int_equal(v.n_subs[0], 2);
  assert_int_equal(v.n_subs[1], 0);
  assert_string_equal(v.filters[0][0], "plant/+/temp");
  assert_int_equal(v.opts[0][0].qos, 1);
  assert_true(v.opts[0][0].no_local);
  assert_true(v.opts[0][0].retain_as_published);
  assert_int_equal(v.opts[0][0].retain_handling, 2);
  assert_int_equal(v.opts[0][0].sub_id, 268435455u);
  assert_string_equal(v.filters[0][1], "$share/g1/line/#");
  assert_int_equal(v.opts[0][1].qos, 2);
  assert_false(v.opts[0][1].no_local);
  assert_int_equal(mqtt_session_queued(v.sessions[0]), 1);
  assert_int_equal(mqtt_session_expires_at(v.sessions[1]), 100 + 4000); /* 5 s - 1 s down */
  /* The loaded session delivers its queued message on connect. */
  mqtt_session_out o;
  assert_int_equal(mqtt_session_expires_at(v.sessions[0]), UINT64_MAX);
  assert_int_equal(mqtt_session_connect(v.sessions[0], MQTT_LEVEL_5, 0, 0, 3600), 0);
  assert_int_equal(mqtt_session_next(v.sessions[0], 100, &o), 0);
  assert_string_equal(o.msg->topic, "d/1");
  assert_memory_equal(o.msg->payload, "hello", 5);
  mqtt_msg_unref(o.msg);
  assert_int_equal(v.n_retained, 2);
  assert_string_equal(v.topics[0], "r/a");
  assert_string_equal(v.payloads[0], "A");
  assert_int_equal(v.qos[0], 1);
  assert_false(v.has_expiry[0]);
  assert_string_equal(v.topics[1], "r/b");
  assert_string_equal(v.payloads[1], "BB");
  assert_int_equal(v.qos[1], 2);
  assert_true(v.has_expiry[1]);
  assert_int_equal(v.remaining[1], 9);
  seen_free(&v);
  loom_buf_deinit(&img);
  rmdir_all(dir);
}

static void test_no_file_is_empty(void **st) {
  (void)st;
  char *dir = tmpdir();
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  char err[64] = "x";
  assert_int_equal(mqtt_snap_load(dir, &c, 0, &vis, err, sizeof(err)), 0);
  assert_int_equal(v.n_clients + v.n_retained, 0);
  assert_string_equal(err, "");
  rmdir_all(dir);
}

static void test_expiry_across_downtime(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  loom_buf img;
  loom_buf_init(&img);
  read_file(dir, &img);
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  /* Down 5 s: c2's session (5 s) expired; r/b has 5 s left. */
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0 + 5000, &vis, NULL, 0), 0);
  assert_int_equal(v.n_clients, 1);
  assert_string_equal(v.ids[0], "c1");
  assert_int_equal(v.n_retained, 2);
  assert_int_equal(v.remaining[1], 5);
  seen_free(&v);
  /* Down 9.5 s: r/b has 0.5 s left, reported as 1 s. */
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0 + 9500, &vis, NULL, 0), 0);
  assert_int_equal(v.remaining[1], 1);
  seen_free(&v);
  /* Down 10 s: r/b expired too. */
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0 + 10000, &vis, NULL, 0), 0);
  assert_int_equal(v.n_retained, 1);
  assert_string_equal(v.topics[0], "r/a");
  seen_free(&v);
  /* Clock before the save: no downtime. */
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0 - 99999, &vis, NULL, 0), 0);
  assert_int_equal(v.n_clients, 2);
  assert_int_equal(v.remaining[1], 10);
  seen_free(&v);
  loom_buf_deinit(&img);
  rmdir_all(dir);
}

/* Record offsets in the sample image (header, c1, c2, r/a, r/b, end). */
static size_t record_offsets(const loom_buf *img, size_t *offs, size_t max) {
  size_t n = 0, off = MQTT_SNAP_HEADER_LEN;
  while (off + MQTT_SNAP_REC_HEADER_LEN <= img->len && n < max) {
    offs[n++] = off;
    off += MQTT_SNAP_REC_HEADER_LEN + loom_le32(img->data + off);
  }
  return n;
}

static void test_corrupt_record_keeps_earlier(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  loom_buf img;
  loom_buf_init(&img);
  read_file(dir, &img);
  size_t offs[8];
  assert_int_equal(record_offsets(&img, offs, 8), 5);
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  char err[128], want[64];
  /* Flip one body byte of the third record (r/a): c1 and c2 are kept. */
  img.data[offs[2] + MQTT_SNAP_REC_HEADER_LEN + 1] ^= 0x40;
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, err, sizeof(err)),
                   LOOM_ECORRUPT);
  assert_int_equal(v.n_clients, 2);
  assert_int_equal(v.n_retained, 0);
  snprintf(want, sizeof(want), "offset %zu", offs[2]);
  assert_non_null(strstr(err, want));
  seen_free(&v);
  img.data[offs[2] + MQTT_SNAP_REC_HEADER_LEN + 1] ^= 0x40;
  /* A flipped length in the second record is caught by the checksum. */
  img.data[offs[1]] ^= 0x01;
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, err, sizeof(err)),
                   LOOM_ECORRUPT);
  assert_int_equal(v.n_clients, 1);
  seen_free(&v);
  img.data[offs[1]] ^= 0x01;
  /* Bytes after the end record. */
  assert_int_equal(loom_buf_append_u8(&img, 0), 0);
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, err, sizeof(err)),
                   LOOM_ECORRUPT);
  assert_int_equal(v.n_clients + v.n_retained, 4);
  seen_free(&v);
  /* A bad magic or version: nothing read. */
  img.len--;
  img.data[0] = 'X';
  memset(&v, 0, sizeof(v));
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, err, sizeof(err)),
                   LOOM_ECORRUPT);
  assert_int_equal(v.n_clients + v.n_retained, 0);
  loom_buf_deinit(&img);
  rmdir_all(dir);
}

static void test_every_truncation_and_flip(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  loom_buf img;
  loom_buf_init(&img);
  read_file(dir, &img);
  mqtt_session_cfg c = cfg();
  mqtt_snap_visitor vis = {NULL, NULL, NULL};
  char err[128];
  for (size_t n = 0; n < img.len; n++) {
    int rc = mqtt_snap_load_mem(img.data, n, &c, 0, WALL0, &vis, err, sizeof(err));
    assert_int_equal(rc, LOOM_ECORRUPT);
    assert_true(strlen(err) > 0);
  }
  for (size_t i = 0; i < img.len; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      img.data[i] ^= (uint8_t)(1u << bit);
      int rc = mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, err, sizeof(err));
      img.data[i] ^= (uint8_t)(1u << bit);
      /* Bytes 12..19 (the save time) are covered by the header checksum;
       * version bytes give EUNSUP only if the checksum still matched. */
      assert_true(rc == LOOM_ECORRUPT || rc == LOOM_EUNSUP);
    }
  }
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, err, sizeof(err)),
                   0);
  loom_buf_deinit(&img);
  rmdir_all(dir);
}

static void test_corrupt_file_on_disk(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, MQTT_SNAP_FILE);
  assert_int_equal(truncate(path, 60), 0);
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  char err[128];
  assert_int_equal(mqtt_snap_load(dir, &c, 0, &vis, err, sizeof(err)), LOOM_ECORRUPT);
  assert_non_null(strstr(err, "offset"));
  seen_free(&v);
  rmdir_all(dir);
}

static void test_visitor_stop(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  loom_buf img;
  loom_buf_init(&img);
  read_file(dir, &img);
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  v.stop_after = 3;
  mqtt_snap_visitor vis = visitor(&v);
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, NULL, 0), 99);
  assert_int_equal(v.n_clients, 2);
  assert_int_equal(v.n_retained, 1);
  seen_free(&v);
  loom_buf_deinit(&img);
  rmdir_all(dir);
}

static void test_writer_rejects_bad_input(void **st) {
  (void)st;
  char *dir = tmpdir();
  mqtt_snap_writer *w = NULL;
  mqtt_session *s = session_with_msg(0xFFFFFFFFu);
  assert_int_equal(mqtt_snap_begin_at(dir, WALL0, &w), 0);
  mqtt_snap_sub bad;
  memset(&bad, 0, sizeof(bad));
  bad.filter = "a/#/b";
  bad.len = 5;
  assert_int_equal(mqtt_snap_add_client(w, "x", s, 0, &bad, 1), LOOM_EINVAL);
  bad.filter = "$share//a";
  bad.len = 9;
  assert_int_equal(mqtt_snap_add_client(w, "x", s, 0, &bad, 1), LOOM_EINVAL);
  bad.filter = "a";
  bad.len = 1;
  bad.opts.qos = 3;
  assert_int_equal(mqtt_snap_add_client(w, "x", s, 0, &bad, 1), LOOM_EINVAL);
  assert_int_equal(mqtt_snap_add_client(w, NULL, s, 0, NULL, 0), LOOM_EINVAL);
  mqtt_retain_msg r = rmsg("a/+", "p", 0);
  assert_int_equal(mqtt_snap_add_retained(w, &r, false, 0), LOOM_EINVAL);
  r = rmsg("a", "", 0);
  assert_int_equal(mqtt_snap_add_retained(w, &r, false, 0), LOOM_EINVAL);
  /* The writer is still usable after refusing bad input. */
  bad.opts.qos = 0;
  assert_int_equal(mqtt_snap_add_client(w, "x", s, 0, &bad, 1), 0);
  assert_int_equal(mqtt_snap_commit(w), 0);
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  assert_int_equal(mqtt_snap_load(dir, &c, 0, &vis, NULL, 0), 0);
  assert_int_equal(v.n_clients, 1);
  seen_free(&v);
  mqtt_session_free(s);
  rmdir_all(dir);
}

static void test_abort_keeps_previous(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  mqtt_snap_writer *w = NULL;
  assert_int_equal(mqtt_snap_begin_at(dir, WALL0, &w), 0);
  mqtt_retain_msg r = rmsg("new", "n", 0);
  assert_int_equal(mqtt_snap_add_retained(w, &r, false, 0), 0);
  mqtt_snap_abort(w);
  char tmp[512];
  snprintf(tmp, sizeof(tmp), "%s/%s", dir, MQTT_SNAP_TMP_FILE);
  assert_int_not_equal(access(tmp, F_OK), 0);
  loom_buf img;
  loom_buf_init(&img);
  read_file(dir, &img);
  mqtt_session_cfg c = cfg();
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  assert_int_equal(mqtt_snap_load_mem(img.data, img.len, &c, 0, WALL0, &vis, NULL, 0), 0);
  assert_int_equal(v.n_clients, 2);
  assert_string_equal(v.topics[0], "r/a");
  seen_free(&v);
  loom_buf_deinit(&img);
  mqtt_snap_abort(NULL);
  rmdir_all(dir);
}

static void test_begin_in_unwritable_place(void **st) {
  (void)st;
  char *dir = tmpdir();
  char file[512];
  snprintf(file, sizeof(file), "%s/plain", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  mqtt_snap_writer *w = NULL;
  assert_true(mqtt_snap_begin(file, &w) < 0); /* a file, not a directory */
  assert_null(w);
  assert_int_equal(mqtt_snap_begin("", &w), LOOM_EINVAL);
  rmdir_all(dir);
}

static void test_alloc_failure_save_and_load(void **st) {
  (void)st;
  char *dir = tmpdir();
  write_sample(dir);
  loom_buf ref;
  loom_buf_init(&ref);
  read_file(dir, &ref);
  mqtt_session_cfg c = cfg();
  int ok_save = 0, ok_load = 0;
  for (long n = 0; n < 60; n++) {
    /* Save: every failure is ENOMEM and leaves the previous file. */
    mqtt_session *s = session_with_msg(0xFFFFFFFFu);
    mqtt_snap_writer *w = NULL;
    mqtt_retain_msg r = rmsg("r/x", "X", 0);
    mqtt_snap_sub sub = {"a/b", 3, {1, false, false, 0, 0}};
    loom_mem_fail_after(n);
    int rc = mqtt_snap_begin_at(dir, WALL0, &w);
    if (rc == 0) rc = mqtt_snap_add_client(w, "c", s, 0, &sub, 1);
    if (rc == 0) rc = mqtt_snap_add_retained(w, &r, false, 0);
    if (rc == 0) rc = mqtt_snap_commit(w);
    else mqtt_snap_abort(w);
    loom_mem_fail_after(-1);
    mqtt_session_free(s);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) ok_save++;
    /* Load the reference image: ENOMEM stops it, nothing leaks. */
    seen v;
    memset(&v, 0, sizeof(v));
    mqtt_snap_visitor vis = visitor(&v);
    loom_mem_fail_after(n);
    rc = mqtt_snap_load_mem(ref.data, ref.len, &c, 0, WALL0, &vis, NULL, 0);
    loom_mem_fail_after(-1);
    assert_true(rc == 0 || rc == LOOM_ENOMEM);
    if (rc == 0) {
      ok_load++;
      assert_int_equal(v.n_clients, 2);
    }
    seen_free(&v);
  }
  assert_true(ok_save > 0 && ok_save < 60);
  assert_true(ok_load > 0 && ok_load < 60);
  /* The last successful save is intact. */
  seen v;
  memset(&v, 0, sizeof(v));
  mqtt_snap_visitor vis = visitor(&v);
  assert_int_equal(mqtt_snap_load(dir, &c, 0, &vis, NULL, 0), 0);
  assert_int_equal(v.n_clients, 1);
  assert_string_equal(v.topics[0], "r/x");
  seen_free(&v);
  loom_buf_deinit(&ref);
  rmdir_all(dir);
}

static void test_commit_failure_removes_tmp(void **st) {
  (void)st;
  char *dir = tmpdir();
  /* mqtt.snap is a non-empty directory: the rename over it fails. */
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, MQTT_SNAP_FILE);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/%s/x", dir, MQTT_SNAP_FILE);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  mqtt_snap_writer *w = NULL;
  assert_int_equal(mqtt_snap_begin_at(dir, WALL0, &w), 0);
  mqtt_retain_msg r = rmsg("a", "b", 0);
  assert_int_equal(mqtt_snap_add_retained(w, &r, false, 0), 0);
  int rc = mqtt_snap_commit(w);
  assert_true(rc < 0);
  snprintf(path, sizeof(path), "%s/%s", dir, MQTT_SNAP_TMP_FILE);
  assert_int_not_equal(access(path, F_OK), 0);
  /* loading a directory named mqtt.snap is an error, not a crash */
  mqtt_session_cfg c = cfg();
  char err[128];
  assert_true(mqtt_snap_load(dir, &c, 0, NULL, err, sizeof(err)) < 0);
  assert_true(strlen(err) > 0);
  rmdir_all(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_no_file_is_empty),
      cmocka_unit_test(test_expiry_across_downtime),
      cmocka_unit_test(test_corrupt_record_keeps_earlier),
      cmocka_unit_test(test_every_truncation_and_flip),
      cmocka_unit_test(test_corrupt_file_on_disk),
      cmocka_unit_test(test_visitor_stop),
      cmocka_unit_test(test_writer_rejects_bad_input),
      cmocka_unit_test(test_abort_keeps_previous),
      cmocka_unit_test(test_begin_in_unwritable_place),
      cmocka_unit_test(test_alloc_failure_save_and_load),
      cmocka_unit_test(test_commit_failure_removes_tmp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
