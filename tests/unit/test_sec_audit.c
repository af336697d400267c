/* SPDX-License-Identifier: Apache-2.0
 * Tests of sec/audit: the record codec and payload format, the log handle
 * (append, reopen, key file, paging, repair of an unfinished append, a
 * lagging anchor, locking), and the tamper test: hundreds of random
 * tamperings (fixed seed) of every kind, each of which verification must
 * detect, while the untouched log verifies clean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "sec/audit.h"

static const uint8_t test_key[SEC_AUDIT_KEY_LEN] = "0123456789abcdef0123456789abcdef";

/* ---- helpers ---- */

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64*: fixed seed, reproducible */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void make_dir(char *out, size_t cap) {
  snprintf(out, cap, "/tmp/seccore-audit-XXXXXX");
  assert_non_null(mkdtemp(out));
}

static void read_file(const char *path, loom_buf *b) {
  FILE *f = fopen(path, "rb");
  uint8_t tmp[4096];
  size_t n;
  assert_non_null(f);
  loom_buf_reset(b);
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) assert_int_equal(loom_buf_append(b, tmp, n), 0);
  fclose(f);
}

static void write_file(const char *path, const void *p, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len) assert_int_equal(fwrite(p, 1, len, f), len);
  fclose(f);
}

static void in_dir(char *out, const char *dir, const char *name) {
  snprintf(out, 4200, "%s/%s", dir, name);
}

static void event(sec_audit_event *ev, int i, char *target, size_t cap) {
  static const char *actions[] = {"login", "user.create", "token.revoke", "device.delete",
                                  "rpc.send"};
  snprintf(target, cap, "device:%d", i);
  memset(ev, 0, sizeof *ev);
  ev->actor = i % 3 ? "user:u1" : "anonymous";
  ev->tenant = i % 2 ? "tenant-a" : "tenant-b";
  ev->action = actions[i % 5];
  ev->target = target;
  ev->outcome = i % 4 ? "success" : "failure";
  ev->detail = i % 7 ? NULL : "detail with \"quotes\" and a \n newline";
  ev->address = "192.0.2.1";
}

/* A pristine log image of n records and its anchor, built with the pure codec. */
static void build_image(loom_buf *log, uint8_t anchor[SEC_AUDIT_ANCHOR_LEN], int n,
                        size_t *offsets) {
  uint8_t hdr[SEC_AUDIT_HEADER_LEN], mac[SEC_AUDIT_MAC_LEN] = {0};
  loom_buf pl;
  loom_buf_init(&pl);
  loom_buf_reset(log);
  sec_audit_header_encode(test_key, hdr);
  assert_int_equal(loom_buf_append(log, hdr, sizeof hdr), 0);
  for (int i = 0; i < n; i++) {
    sec_audit_event ev;
    char target[32];
    event(&ev, i, target, sizeof target);
    loom_buf_reset(&pl);
    assert_int_equal(sec_audit_payload_format(&pl, &ev), 0);
    if (offsets) offsets[i] = log->len;
    assert_int_equal(sec_audit_record_encode(log, test_key, (uint64_t)i + 1, 1700000000000 + i,
                                             mac, pl.data, pl.len, mac),
                     0);
  }
  if (offsets) offsets[n] = log->len;
  sec_audit_anchor_encode(test_key, (uint64_t)n, n ? mac : NULL, anchor);
  loom_buf_deinit(&pl);
}

/* ---- codec ---- */

static void test_record_round_trip(void **state) {
  (void)state;
  loom_buf b;
  uint8_t prev[SEC_AUDIT_MAC_LEN], mac[SEC_AUDIT_MAC_LEN];
  sec_audit_view v;
  loom_buf_init(&b);
  memset(prev, 7, sizeof prev);
  assert_int_equal(sec_audit_record_encode(&b, test_key, 42, -5, prev, (const uint8_t *)"{}", 2, mac), 0);
  assert_int_equal(b.len, SEC_AUDIT_REC_OVERHEAD + 2);
  assert_int_equal(sec_audit_record_decode(b.data, b.len, &v), 0);
  assert_true(v.seq == 42 && v.time_ms == -5 && v.payload_len == 2 && v.size == b.len);
  assert_memory_equal(v.prev_mac, prev, sizeof prev);
  assert_memory_equal(v.mac, mac, sizeof mac);
  assert_true(sec_audit_record_mac_ok(test_key, b.data, &v));
  uint8_t other[SEC_AUDIT_KEY_LEN] = {1};
  assert_false(sec_audit_record_mac_ok(other, b.data, &v));
  /* the MAC is HMAC-SHA256 over everything before it */
  uint8_t want[32];
  crypto_auth_hmacsha256(want, b.data, SEC_AUDIT_REC_FIXED + 2, test_key);
  assert_memory_equal(want, mac, 32);
  loom_buf_deinit(&b);
}

static void test_record_decode_rejects(void **state) {
  (void)state;
  loom_buf b;
  uint8_t prev[SEC_AUDIT_MAC_LEN] = {0};
  sec_audit_view v;
  loom_buf_init(&b);
  assert_int_equal(sec_audit_record_encode(&b, test_key, 1, 0, prev, (const uint8_t *)"{\"a\":1}", 7, NULL), 0);
  for (size_t cut = 0; cut < b.len; cut++)
    assert_int_equal(sec_audit_record_decode(b.data, cut, &v), LOOM_ETRUNC);
  b.data[0] = 'X';
  assert_int_equal(sec_audit_record_decode(b.data, b.len, &v), LOOM_ECORRUPT);
  b.data[0] = 'L';
  loom_put_le32(b.data + 4, 1);
  assert_int_equal(sec_audit_record_decode(b.data, b.len, &v), LOOM_ECORRUPT);
  loom_put_le32(b.data + 4, SEC_AUDIT_PAYLOAD_MAX + 1);
  assert_int_equal(sec_audit_record_decode(b.data, b.len, &v), LOOM_ECORRUPT);
  assert_int_equal(sec_audit_record_encode(&b, test_key, 1, 0, prev, (const uint8_t *)"{", 1, NULL), LOOM_EINVAL);
  loom_buf_deinit(&b);
}

static void test_payload_format(void **state) {
  (void)state;
  loom_buf b;
  loom_buf_init(&b);
  sec_audit_event ev = {.actor = "user:1", .action = "login", .outcome = "failure",
                        .detail = "bad \"pw\"\n\x01 \xff\xc3\xa9", .address = "10.0.0.1"};
  assert_int_equal(sec_audit_payload_format(&b, &ev), 0);
  json_error_t jerr;
  json_t *j = json_loadb((const char *)b.data, b.len, 0, &jerr);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "actor")), "user:1");
  assert_true(json_is_null(json_object_get(j, "tenant")));
  assert_true(json_is_null(json_object_get(j, "target")));
  /* invalid UTF-8 (0xff) became U+FFFD; valid é kept */
  assert_string_equal(json_string_value(json_object_get(j, "detail")),
                      "bad \"pw\"\n\x01 \xef\xbf\xbd\xc3\xa9");
  json_decref(j);
  sec_audit_event missing = ev;
  missing.actor = "";
  assert_int_equal(sec_audit_payload_format(&b, &missing), LOOM_EINVAL);
  missing = ev;
  missing.outcome = NULL;
  assert_int_equal(sec_audit_payload_format(&b, &missing), LOOM_EINVAL);
  assert_int_equal(sec_audit_payload_format(&b, NULL), LOOM_EINVAL);
  char big[SEC_AUDIT_FIELD_MAX + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  missing = ev;
  missing.detail = big;
  assert_int_equal(sec_audit_payload_format(&b, &missing), LOOM_EINVAL);
  loom_buf_deinit(&b);
}

static void test_anchor_codec(void **state) {
  (void)state;
  uint8_t a[SEC_AUDIT_ANCHOR_LEN], mac[SEC_AUDIT_MAC_LEN], got[SEC_AUDIT_MAC_LEN];
  uint64_t seq = 0;
  memset(mac, 9, sizeof mac);
  sec_audit_anchor_encode(test_key, 77, mac, a);
  assert_int_equal(sec_audit_anchor_decode(test_key, a, sizeof a, &seq, got), 0);
  assert_true(seq == 77);
  assert_memory_equal(got, mac, sizeof mac);
  for (size_t i = 0; i < sizeof a; i++) {
    a[i] ^= 0x10;
    assert_int_equal(sec_audit_anchor_decode(test_key, a, sizeof a, &seq, got), LOOM_ECORRUPT);
    a[i] ^= 0x10;
  }
  assert_int_equal(sec_audit_anchor_decode(test_key, a, sizeof a - 1, &seq, got), LOOM_ECORRUPT);
}

/* ---- the tamper test ---- */

enum { T_FLIP, T_DELETE, T_SWAP, T_FORGE, T_DUPLICATE, T_TRUNCATE, T_REMAC, T_ANCHOR, T_KINDS };
static const char *const tamper_names[T_KINDS] = {"flip", "delete", "swap", "forge",
                                                  "duplicate", "truncate", "re-mac", "anchor"};

/* Replace bytes [from, to) of b with p[0..n). */
static void buf_splice(loom_buf *b, size_t from, size_t to, const uint8_t *p, size_t n) {
  loom_buf out;
  loom_buf_init(&out);
  assert_int_equal(loom_buf_append(&out, b->data, from), 0);
  if (n) assert_int_equal(loom_buf_append(&out, p, n), 0);
  assert_int_equal(loom_buf_append(&out, b->data + to, b->len - to), 0);
  loom_buf_deinit(b);
  *b = out;
}

/* Apply one tampering of `kind` to the log (n records at offsets[]) and/or
 * the anchor. *have_anchor may be cleared (anchor deleted). */
static void tamper(int kind, loom_buf *log, uint8_t *anchor, bool *have_anchor, int n,
                   const size_t *offsets) {
  int i = (int)rnd_below((size_t)n), j;
  loom_buf tmp;
  loom_buf_init(&tmp);
  switch (kind) {
  case T_FLIP: { /* 1..4 bytes anywhere in the log */
    int flips = 1 + (int)rnd_below(4);
    for (int k = 0; k < flips; k++) log->data[rnd_below(log->len)] ^= (uint8_t)(1 + rnd_below(255));
    break;
  }
  case T_DELETE: { /* 1..3 consecutive records anywhere, the first and last included */
    int cnt = 1 + (int)rnd_below(3);
    if (i + cnt > n) cnt = n - i;
    buf_splice(log, offsets[i], offsets[i + cnt], NULL, 0);
    break;
  }
  case T_SWAP: {
    do j = (int)rnd_below((size_t)n); while (j == i);
    if (j < i) { int t = i; i = j; j = t; }
    /* log = ..A.. i ..B.. j ..C.. -> ..A.. j ..B.. i ..C.. */
    assert_int_equal(loom_buf_append(&tmp, log->data, offsets[i]), 0);
    assert_int_equal(loom_buf_append(&tmp, log->data + offsets[j], offsets[j + 1] - offsets[j]), 0);
    assert_int_equal(loom_buf_append(&tmp, log->data + offsets[i + 1], offsets[j] - offsets[i + 1]), 0);
    assert_int_equal(loom_buf_append(&tmp, log->data + offsets[i], offsets[i + 1] - offsets[i]), 0);
    assert_int_equal(loom_buf_append(&tmp, log->data + offsets[j + 1], log->len - offsets[j + 1]), 0);
    loom_buf_deinit(log);
    *log = tmp;
    loom_buf_init(&tmp);
    break;
  }
  case T_FORGE: { /* a well-formed record with the right seq and prev MAC, MAC'd
                     with the attacker's key, inserted before record i (or at the end) */
    uint8_t fake_key[SEC_AUDIT_KEY_LEN];
    sec_audit_view prev_v;
    uint8_t prev_mac[SEC_AUDIT_MAC_LEN] = {0};
    int at = (int)rnd_below((size_t)n + 1);
    for (size_t k = 0; k < sizeof fake_key; k++) fake_key[k] = (uint8_t)rnd();
    if (at > 0) {
      assert_int_equal(sec_audit_record_decode(log->data + offsets[at - 1], log->len - offsets[at - 1], &prev_v), 0);
      memcpy(prev_mac, prev_v.mac, sizeof prev_mac);
    }
    const char *pl = "{\"actor\":\"user:evil\",\"tenant\":null,\"action\":\"login\",\"target\":null,"
                     "\"outcome\":\"success\",\"detail\":null,\"address\":null}";
    assert_int_equal(sec_audit_record_encode(&tmp, fake_key, (uint64_t)at + 1, 1700000000000,
                                             prev_mac, (const uint8_t *)pl, strlen(pl), NULL), 0);
    buf_splice(log, offsets[at], offsets[at], tmp.data, tmp.len);
    break;
  }
  case T_DUPLICATE: { /* a copy of record i, inserted at a random record boundary */
    int at = (int)rnd_below((size_t)n + 1);
    assert_int_equal(loom_buf_append(&tmp, log->data + offsets[i], offsets[i + 1] - offsets[i]), 0);
    buf_splice(log, offsets[at], offsets[at], tmp.data, tmp.len);
    break;
  }
  case T_TRUNCATE: /* cut anywhere after the header, whole records or inside one */
    log->len = SEC_AUDIT_HEADER_LEN + rnd_below(log->len - SEC_AUDIT_HEADER_LEN);
    break;
  case T_REMAC: { /* edit record i's payload, then recompute its MAC and the whole
                     chain after it (and the anchor) with a key the attacker guessed */
    uint8_t guess[SEC_AUDIT_KEY_LEN];
    for (size_t k = 0; k < sizeof guess; k++) guess[k] = (uint8_t)rnd();
    bool sha = rnd() & 1; /* or with plain SHA-256 instead of an HMAC */
    sec_audit_view v;
    assert_int_equal(sec_audit_record_decode(log->data + offsets[i], log->len - offsets[i], &v), 0);
    uint8_t *p = (uint8_t *)v.payload;
    p[rnd_below(v.payload_len)] ^= (uint8_t)(1 + rnd_below(255));
    uint8_t mac[SEC_AUDIT_MAC_LEN];
    for (int k = i; k < n; k++) {
      uint8_t *rec = log->data + offsets[k];
      assert_int_equal(sec_audit_record_decode(rec, log->len - offsets[k], &v), 0);
      if (k > i) memcpy(rec + 24, mac, sizeof mac);
      if (sha) crypto_hash_sha256(mac, rec, SEC_AUDIT_REC_FIXED + v.payload_len);
      else crypto_auth_hmacsha256(mac, rec, SEC_AUDIT_REC_FIXED + v.payload_len, guess);
      memcpy(rec + SEC_AUDIT_REC_FIXED + v.payload_len, mac, sizeof mac);
    }
    sec_audit_anchor_encode(guess, (uint64_t)n, mac, anchor);
    break;
  }
  case T_ANCHOR: /* delete the anchor, flip a byte of it, or point it elsewhere */
    switch (rnd_below(3)) {
    case 0: *have_anchor = false; break;
    case 1: anchor[rnd_below(SEC_AUDIT_ANCHOR_LEN)] ^= (uint8_t)(1 + rnd_below(255)); break;
    default: loom_put_le64(anchor + 8, (uint64_t)n + 1 + rnd_below(5)); break;
    }
    break;
  }
  loom_buf_deinit(&tmp);
}

#define N_RECORDS 12
#define N_TRIALS 800

static void test_untouched_log_verifies_clean(void **state) {
  (void)state;
  loom_buf log;
  uint8_t anchor[SEC_AUDIT_ANCHOR_LEN];
  sec_audit_report rep;
  loom_buf_init(&log);
  for (int n = 0; n <= N_RECORDS; n++) {
    build_image(&log, anchor, n, NULL);
    assert_int_equal(sec_audit_verify_image(test_key, log.data, log.len, anchor, sizeof anchor, &rep), 0);
    assert_true(rep.records == (uint64_t)n && rep.last_seq == (uint64_t)n && rep.bad_seq == 0);
    assert_true(rep.valid_len == log.len && rep.torn_bytes == 0 && rep.anchor_seq == (uint64_t)n);
    assert_string_equal(rep.reason, "");
  }
  loom_buf_deinit(&log);
}

static void test_every_tampering_is_detected(void **state) {
  (void)state;
  size_t offsets[N_RECORDS + 1];
  uint8_t pristine_anchor[SEC_AUDIT_ANCHOR_LEN];
  loom_buf pristine, log;
  int detected[T_KINDS] = {0};
  loom_buf_init(&pristine);
  loom_buf_init(&log);
  build_image(&pristine, pristine_anchor, N_RECORDS, offsets);
  rng_state = 0x5eccc0de2026ull;
  for (int t = 0; t < N_TRIALS; t++) {
    int kind = t % T_KINDS;
    uint8_t anchor[SEC_AUDIT_ANCHOR_LEN];
    bool have_anchor = true;
    sec_audit_report rep;
    loom_buf_reset(&log);
    assert_int_equal(loom_buf_append(&log, pristine.data, pristine.len), 0);
    memcpy(anchor, pristine_anchor, sizeof anchor);
    tamper(kind, &log, anchor, &have_anchor, N_RECORDS, offsets);
    int rc = sec_audit_verify_image(test_key, log.data, log.len, have_anchor ? anchor : NULL,
                                    sizeof anchor, &rep);
    if (rc == 0)
      fail_msg("trial %d (%s) was not detected (records %llu, torn %llu)", t, tamper_names[kind],
               (unsigned long long)rep.records, (unsigned long long)rep.torn_bytes);
    assert_true(rep.bad_seq >= 1 && rep.bad_seq <= N_RECORDS + 1);
    assert_true(rep.reason[0] != 0);
    detected[kind]++;
  }
  for (int k = 0; k < T_KINDS; k++) assert_int_equal(detected[k], N_TRIALS / T_KINDS);
  /* the pristine copy is still clean (the trials did not corrupt it) */
  sec_audit_report rep;
  assert_int_equal(sec_audit_verify_image(test_key, pristine.data, pristine.len, pristine_anchor,
                                          sizeof pristine_anchor, &rep), 0);
  loom_buf_deinit(&pristine);
  loom_buf_deinit(&log);
}

static void test_reasons_name_the_record(void **state) {
  (void)state;
  size_t off[N_RECORDS + 1];
  uint8_t anchor[SEC_AUDIT_ANCHOR_LEN];
  sec_audit_report rep;
  loom_buf log;
  loom_buf_init(&log);
  build_image(&log, anchor, N_RECORDS, off);
  /* delete record 5 (seq 5): reported at seq 5 */
  buf_splice(&log, off[4], off[5], NULL, 0);
  assert_int_equal(sec_audit_verify_image(test_key, log.data, log.len, anchor, sizeof anchor, &rep), LOOM_ECORRUPT);
  assert_true(rep.bad_seq == 5 && rep.records == 4 && rep.bad_offset == off[4]);
  assert_non_null(strstr(rep.reason, "record 5: found sequence number 6"));
  /* drop the last two records: the anchor notices */
  build_image(&log, anchor, N_RECORDS, off);
  log.len = off[N_RECORDS - 2];
  assert_int_equal(sec_audit_verify_image(test_key, log.data, log.len, anchor, sizeof anchor, &rep), LOOM_ECORRUPT);
  assert_true(rep.bad_seq == N_RECORDS - 1);
  assert_non_null(strstr(rep.reason, "deleted from the end"));
  /* edit a payload byte of record 3 */
  build_image(&log, anchor, N_RECORDS, off);
  log.data[off[2] + SEC_AUDIT_REC_FIXED + 3] ^= 1;
  assert_int_equal(sec_audit_verify_image(test_key, log.data, log.len, anchor, sizeof anchor, &rep), LOOM_ECORRUPT);
  assert_true(rep.bad_seq == 3);
  assert_non_null(strstr(rep.reason, "MAC mismatch"));
  /* a wrong key is told apart */
  build_image(&log, anchor, N_RECORDS, off);
  uint8_t other[SEC_AUDIT_KEY_LEN] = {3};
  assert_int_equal(sec_audit_verify_image(other, log.data, log.len, anchor, sizeof anchor, &rep), LOOM_EAUTH);
  loom_buf_deinit(&log);
}

static void test_unfinished_append_is_not_an_error(void **state) {
  (void)state;
  size_t off[4];
  uint8_t anchor[SEC_AUDIT_ANCHOR_LEN], anchor2[SEC_AUDIT_ANCHOR_LEN];
  sec_audit_report rep;
  loom_buf log;
  loom_buf_init(&log);
  build_image(&log, anchor, 3, off);
  build_image(&log, anchor2, 2, NULL); /* anchor for 2 records */
  build_image(&log, anchor, 3, off);
  /* a crash inside the append of record 3: the anchor still says 2 */
  for (size_t cut = off[2] + 1; cut < off[3]; cut += 7) {
    assert_int_equal(sec_audit_verify_image(test_key, log.data, cut, anchor2, sizeof anchor2, &rep), 0);
    assert_true(rep.records == 2 && rep.torn_bytes == cut - off[2] && rep.valid_len == off[2]);
  }
  /* a crash after its fsync, before the anchor: accepted */
  assert_int_equal(sec_audit_verify_image(test_key, log.data, log.len, anchor2, sizeof anchor2, &rep), 0);
  assert_true(rep.records == 3 && rep.anchor_seq == 2);
  loom_buf_deinit(&log);
}

/* ---- the log handle ---- */

static void append_n(sec_audit *a, int from, int n) {
  for (int i = from; i < from + n; i++) {
    sec_audit_event ev;
    char target[32];
    uint64_t seq = 0;
    event(&ev, i, target, sizeof target);
    assert_int_equal(sec_audit_append(a, &ev, 1700000000000 + i, &seq), 0);
    assert_true(seq == (uint64_t)i + 1);
  }
}

static void test_open_append_verify(void **state) {
  (void)state;
  char dir[64], err[256], path[4200];
  sec_audit *a = NULL;
  sec_audit_report rep;
  struct stat st;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, &rep, err, sizeof err), 0);
  assert_int_equal(sec_audit_last_seq(a), 0);
  append_n(a, 0, 150);
  assert_int_equal(sec_audit_last_seq(a), 150);
  sec_audit_close(a);
  in_dir(path, dir, "audit.key");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, SEC_AUDIT_KEY_LEN);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 150 && rep.anchor_seq == 150);
  /* reopen: the chain continues */
  assert_int_equal(sec_audit_open(dir, NULL, &a, &rep, err, sizeof err), 0);
  assert_true(rep.records == 150);
  append_n(a, 150, 20);
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 170);
  /* an empty event is refused and changes nothing */
  assert_int_equal(sec_audit_open(dir, NULL, &a, &rep, err, sizeof err), 0);
  sec_audit_event empty = {0};
  assert_int_equal(sec_audit_append(a, &empty, 0, NULL), LOOM_EINVAL);
  assert_int_equal(sec_audit_last_seq(a), 170);
  sec_audit_close(a);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_key_is_created_once(void **state) {
  (void)state;
  char dir[64], err[256];
  uint8_t k1[SEC_AUDIT_KEY_LEN], k2[SEC_AUDIT_KEY_LEN];
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_key_load(dir, false, k1, err, sizeof err), LOOM_ENOTFOUND);
  assert_int_equal(sec_audit_key_load(dir, true, k1, err, sizeof err), 0);
  assert_int_equal(sec_audit_key_load(dir, true, k2, err, sizeof err), 0);
  assert_memory_equal(k1, k2, sizeof k1);
  char path[4200], tmp[4300];
  in_dir(path, dir, "audit.key");
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  assert_int_not_equal(access(tmp, F_OK), 0); /* no temporary file left */
  in_dir(path, dir, "audit.key");
  write_file(path, "short", 5);
  assert_int_equal(sec_audit_key_load(dir, true, k1, err, sizeof err), LOOM_ECORRUPT);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_caller_key_and_wrong_key(void **state) {
  (void)state;
  char dir[64], err[256], path[4200];
  sec_audit *a = NULL;
  sec_audit_report rep;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, test_key, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, 3);
  sec_audit_close(a);
  in_dir(path, dir, "audit.key");
  assert_int_not_equal(access(path, F_OK), 0); /* a caller's key is not written */
  assert_int_equal(sec_audit_verify_key(dir, test_key, &rep), 0);
  uint8_t other[SEC_AUDIT_KEY_LEN] = {5};
  assert_int_equal(sec_audit_verify_key(dir, other, &rep), LOOM_EAUTH);
  assert_int_equal(sec_audit_open(dir, other, &a, NULL, err, sizeof err), LOOM_EAUTH);
  assert_null(a);
  assert_int_equal(sec_audit_verify(dir, &rep), LOOM_ENOTFOUND); /* no key file */
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_open_refuses_a_tampered_log(void **state) {
  (void)state;
  char dir[64], err[256], path[4200];
  sec_audit *a = NULL;
  sec_audit_report rep;
  loom_buf b;
  loom_buf_init(&b);
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, test_key, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, 5);
  sec_audit_close(a);
  in_dir(path, dir, "audit.log");
  read_file(path, &b);
  b.data[b.len - 40] ^= 0x20; /* inside record 5's payload */
  write_file(path, b.data, b.len);
  assert_int_equal(sec_audit_open(dir, test_key, &a, &rep, err, sizeof err), LOOM_ECORRUPT);
  assert_non_null(strstr(err, "record 5"));
  assert_true(rep.bad_seq == 5);
  /* log deleted, anchor kept: refused, not silently restarted */
  unlink(path);
  assert_int_equal(sec_audit_open(dir, test_key, &a, &rep, err, sizeof err), LOOM_ECORRUPT);
  assert_int_equal(sec_audit_verify_key(dir, test_key, &rep), LOOM_ECORRUPT);
  assert_non_null(strstr(rep.reason, "missing"));
  loom_buf_deinit(&b);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_open_repairs_unfinished_append(void **state) {
  (void)state;
  char dir[64], err[256], path[4200], apath[4200];
  sec_audit *a = NULL;
  sec_audit_report rep;
  loom_buf b, old_anchor;
  loom_buf_init(&b);
  loom_buf_init(&old_anchor);
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, 3);
  sec_audit_close(a);
  in_dir(path, dir, "audit.log");
  in_dir(apath, dir, "audit.anchor");
  read_file(path, &b);
  /* half a record at the end, as a crash during write() leaves it */
  int fd = open(path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, b.data + SEC_AUDIT_HEADER_LEN, 50), 50);
  close(fd);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.torn_bytes == 50 && rep.records == 3);
  assert_int_equal(sec_audit_open(dir, NULL, &a, &rep, err, sizeof err), 0);
  append_n(a, 3, 2);
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.torn_bytes == 0 && rep.records == 5);
  /* a crash between the log's fsync and the anchor's rename: anchor behind */
  read_file(apath, &old_anchor);
  assert_int_equal(sec_audit_open(dir, NULL, &a, &rep, err, sizeof err), 0);
  append_n(a, 5, 1);
  sec_audit_close(a);
  write_file(apath, old_anchor.data, old_anchor.len);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 6 && rep.anchor_seq == 5);
  assert_int_equal(sec_audit_open(dir, NULL, &a, &rep, err, sizeof err), 0);
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.anchor_seq == 6); /* brought forward by open */
  loom_buf_deinit(&b);
  loom_buf_deinit(&old_anchor);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_tampering_on_disk_is_detected(void **state) {
  (void)state;
  char dir[64], err[256], lpath[4200], apath[4200];
  sec_audit *a = NULL;
  sec_audit_report rep;
  loom_buf pristine, log, anc;
  size_t offsets[N_RECORDS + 1];
  loom_buf_init(&pristine);
  loom_buf_init(&log);
  loom_buf_init(&anc);
  make_dir(dir, sizeof dir);
  in_dir(lpath, dir, "audit.log");
  in_dir(apath, dir, "audit.anchor");
  assert_int_equal(sec_audit_open(dir, test_key, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, N_RECORDS);
  sec_audit_close(a);
  read_file(lpath, &pristine);
  read_file(apath, &anc);
  assert_int_equal(anc.len, SEC_AUDIT_ANCHOR_LEN);
  /* record offsets of the real file */
  size_t off = SEC_AUDIT_HEADER_LEN;
  for (int i = 0; i < N_RECORDS; i++) {
    sec_audit_view v;
    offsets[i] = off;
    assert_int_equal(sec_audit_record_decode(pristine.data + off, pristine.len - off, &v), 0);
    off += v.size;
  }
  offsets[N_RECORDS] = off;
  rng_state = 0xa0d17ull;
  for (int t = 0; t < 8 * T_KINDS; t++) {
    uint8_t anchor[SEC_AUDIT_ANCHOR_LEN];
    bool have_anchor = true;
    loom_buf_reset(&log);
    assert_int_equal(loom_buf_append(&log, pristine.data, pristine.len), 0);
    memcpy(anchor, anc.data, sizeof anchor);
    tamper(t % T_KINDS, &log, anchor, &have_anchor, N_RECORDS, offsets);
    write_file(lpath, log.data, log.len);
    unlink(apath);
    if (have_anchor) write_file(apath, anchor, sizeof anchor);
    if (sec_audit_verify_key(dir, test_key, &rep) == 0)
      fail_msg("on-disk trial %d (%s) not detected", t, tamper_names[t % T_KINDS]);
    assert_int_not_equal(sec_audit_open(dir, test_key, &a, &rep, err, sizeof err), 0);
    assert_null(a);
  }
  write_file(lpath, pristine.data, pristine.len);
  write_file(apath, anc.data, anc.len);
  assert_int_equal(sec_audit_verify_key(dir, test_key, &rep), 0);
  loom_buf_deinit(&pristine);
  loom_buf_deinit(&log);
  loom_buf_deinit(&anc);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_read_pages(void **state) {
  (void)state;
  char dir[64], err[256];
  sec_audit *a = NULL;
  sec_audit_page page;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  assert_int_equal(sec_audit_read(a, 1, 10, NULL, &page), 0);
  assert_true(page.n == 0 && page.next_seq == 0);
  sec_audit_page_deinit(&page);
  append_n(a, 0, 300);
  /* walk everything in pages of 70 */
  uint64_t from = 1, seen = 0;
  while (from) {
    assert_int_equal(sec_audit_read(a, from, 70, NULL, &page), 0);
    for (size_t i = 0; i < page.n; i++) {
      assert_true(page.records[i].seq == seen + 1);
      assert_true(page.records[i].time_ms == 1700000000000 + (int64_t)seen);
      json_t *j = json_loads(page.records[i].payload, 0, NULL);
      assert_non_null(j);
      assert_int_equal(strlen(page.records[i].payload), page.records[i].payload_len);
      json_decref(j);
      seen++;
    }
    from = page.next_seq;
    sec_audit_page_deinit(&page);
  }
  assert_true(seen == 300);
  /* from the middle of an index block, to the end */
  assert_int_equal(sec_audit_read(a, 150, 1000, NULL, &page), 0);
  assert_true(page.n == 151 && page.records[0].seq == 150 && page.next_seq == 0);
  sec_audit_page_deinit(&page);
  /* a tenant's records only (odd i -> tenant-a, seq = i + 1 even) */
  assert_int_equal(sec_audit_read(a, 0, 5, "tenant-a", &page), 0);
  assert_int_equal(page.n, 5);
  for (size_t i = 0; i < page.n; i++) {
    assert_true(page.records[i].seq == 2 * (i + 1));
    assert_non_null(strstr(page.records[i].payload, "\"tenant\":\"tenant-a\""));
  }
  assert_true(page.next_seq == 11);
  sec_audit_page_deinit(&page);
  assert_int_equal(sec_audit_read(a, 301, 5, NULL, &page), 0);
  assert_true(page.n == 0 && page.next_seq == 0);
  sec_audit_page_deinit(&page);
  assert_int_equal(sec_audit_read(a, 1, 0, NULL, &page), LOOM_EINVAL);
  sec_audit_page_deinit(&page);
  assert_int_equal(sec_audit_read(a, 1, 1001, NULL, &page), LOOM_EINVAL);
  sec_audit_page_deinit(&page);
  sec_audit_close(a);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_second_open_is_refused(void **state) {
  (void)state;
  char dir[64], err[256];
  sec_audit *a = NULL, *b = NULL;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  assert_int_equal(sec_audit_open(dir, NULL, &b, NULL, err, sizeof err), LOOM_EAGAIN);
  assert_null(b);
  sec_audit_close(a);
  assert_int_equal(sec_audit_open(dir, NULL, &b, NULL, err, sizeof err), 0);
  sec_audit_close(b);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_allocation_failures(void **state) {
  (void)state;
  char dir[64], err[256];
  sec_audit *a = NULL;
  sec_audit_report rep;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, 2);
  sec_audit_close(a);
  for (long n = 0; n < 3; n++) {
    loom_mem_fail_after(n);
    int rc = sec_audit_open(dir, NULL, &a, NULL, err, sizeof err);
    loom_mem_fail_after(-1);
    if (rc == 0) sec_audit_close(a);
    else assert_int_equal(rc, LOOM_ENOMEM);
  }
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  sec_audit_event ev;
  char target[32];
  event(&ev, 2, target, sizeof target);
  loom_mem_fail_after(0);
  assert_int_equal(sec_audit_append(a, &ev, 0, NULL), LOOM_ENOMEM);
  loom_mem_fail_after(-1);
  assert_int_equal(sec_audit_last_seq(a), 2);
  assert_int_equal(sec_audit_append(a, &ev, 0, NULL), 0);
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 3);
  assert_int_equal(loom_rm_rf(dir), 0);
}

typedef struct appender {
  sec_audit *a;
  int id;
  int failures;
} appender;

static void *append_thread(void *arg) {
  appender *ap = arg;
  for (int i = 0; i < 40; i++) {
    char target[32];
    snprintf(target, sizeof target, "t%d-%d", ap->id, i);
    sec_audit_event ev = {.actor = "system", .action = "test", .outcome = "success", .target = target};
    if (sec_audit_append(ap->a, &ev, 0, NULL)) ap->failures++;
  }
  return NULL;
}

static void test_concurrent_appends_stay_chained(void **state) {
  (void)state;
  char dir[64], err[256];
  sec_audit *a = NULL;
  sec_audit_report rep;
  pthread_t th[4];
  appender ap[4];
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  for (int i = 0; i < 4; i++) {
    ap[i] = (appender){a, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, append_thread, &ap[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(ap[i].failures, 0);
  }
  assert_int_equal(sec_audit_last_seq(a), 160);
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 160);
  assert_int_equal(loom_rm_rf(dir), 0);
}

static void test_read_notices_tampering_after_open(void **state) {
  (void)state;
  char dir[64], err[256], path[4200];
  sec_audit *a = NULL;
  sec_audit_page page;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, 10);
  in_dir(path, dir, "audit.log");
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t byte;
  off_t at = SEC_AUDIT_HEADER_LEN + 70; /* inside record 1's payload */
  assert_int_equal(pread(fd, &byte, 1, at), 1);
  byte ^= 1;
  assert_int_equal(pwrite(fd, &byte, 1, at), 1);
  close(fd);
  assert_int_equal(sec_audit_read(a, 1, 10, NULL, &page), LOOM_ECORRUPT);
  assert_int_equal(page.n, 0);
  sec_audit_page_deinit(&page);
  sec_audit_close(a);
  assert_int_equal(loom_rm_rf(dir), 0);
}

/* A write that fails half-way (the file-size limit stands in for a full or
 * failing disk): the append reports it, the log is rolled back and still
 * verifies, the handle refuses more appends, and a reopen continues. */
static void test_failed_write_is_rolled_back(void **state) {
  (void)state;
  char dir[64], err[256], path[4200];
  sec_audit *a = NULL;
  sec_audit_report rep;
  struct rlimit old, lim;
  struct stat st;
  make_dir(dir, sizeof dir);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  append_n(a, 0, 3);
  in_dir(path, dir, "audit.log");
  assert_int_equal(stat(path, &st), 0);
  signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = (rlim_t)st.st_size + 50; /* room for part of a record */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  sec_audit_event ev;
  char target[32];
  event(&ev, 3, target, sizeof target);
  uint64_t seq = 99;
  int rc = sec_audit_append(a, &ev, 0, &seq);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_DFL);
  assert_int_equal(rc, LOOM_EIO);
  assert_true(seq == 99); /* not stored, no seq */
  assert_int_equal(sec_audit_last_seq(a), 3);
  assert_int_equal(sec_audit_append(a, &ev, 0, NULL), LOOM_EREADONLY);
  struct stat st2;
  assert_int_equal(stat(path, &st2), 0);
  assert_int_equal(st2.st_size, st.st_size); /* rolled back */
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 3 && rep.torn_bytes == 0);
  assert_int_equal(sec_audit_open(dir, NULL, &a, NULL, err, sizeof err), 0);
  append_n(a, 3, 1);
  sec_audit_close(a);
  assert_int_equal(sec_audit_verify(dir, &rep), 0);
  assert_true(rep.records == 4);
  assert_int_equal(loom_rm_rf(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_round_trip),
      cmocka_unit_test(test_record_decode_rejects),
      cmocka_unit_test(test_payload_format),
      cmocka_unit_test(test_anchor_codec),
      cmocka_unit_test(test_untouched_log_verifies_clean),
      cmocka_unit_test(test_every_tampering_is_detected),
      cmocka_unit_test(test_reasons_name_the_record),
      cmocka_unit_test(test_unfinished_append_is_not_an_error),
      cmocka_unit_test(test_open_append_verify),
      cmocka_unit_test(test_key_is_created_once),
      cmocka_unit_test(test_caller_key_and_wrong_key),
      cmocka_unit_test(test_open_refuses_a_tampered_log),
      cmocka_unit_test(test_open_repairs_unfinished_append),
      cmocka_unit_test(test_tampering_on_disk_is_detected),
      cmocka_unit_test(test_read_pages),
      cmocka_unit_test(test_second_open_is_refused),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_concurrent_appends_stay_chained),
      cmocka_unit_test(test_read_notices_tampering_after_open),
      cmocka_unit_test(test_failed_write_is_rolled_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
