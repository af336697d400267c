/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the audit log codec and verifier (sec/audit.h).
 * First byte picks the mode: 0 = verify the rest as a log image (with the
 * last 80 bytes as an anchor when bit 7 is set) and check the report's
 * invariants; 1 = decode records one after another; 2 = build a log from
 * the input (events with input-derived fields, which must format as valid
 * JSON), check it verifies, then flip one byte / truncate it and check that
 * verification notices.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "sec/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[SEC_AUDIT_KEY_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

static void check_verify(const uint8_t *p, size_t n, int with_anchor) {
  sec_audit_report rep;
  const uint8_t *anchor = NULL;
  if (with_anchor && n >= SEC_AUDIT_ANCHOR_LEN) {
    anchor = p + n - SEC_AUDIT_ANCHOR_LEN;
    n -= SEC_AUDIT_ANCHOR_LEN;
  }
  int rc = sec_audit_verify_image(key, p, n, anchor, SEC_AUDIT_ANCHOR_LEN, &rep);
  if (rc != 0 && rc != LOOM_ECORRUPT && rc != LOOM_EAUTH) abort();
  if (rep.valid_len > n || rep.last_seq != rep.records) abort();
  if (rc == 0 && (rep.valid_len + rep.torn_bytes != n || rep.bad_seq != 0 || rep.reason[0])) abort();
  if (rc != 0 && (rep.bad_seq == 0 || !rep.reason[0])) abort();
  if (memchr(rep.reason, 0, sizeof rep.reason) == NULL) abort();
}

static void check_decode(const uint8_t *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    sec_audit_view v;
    int rc = sec_audit_record_decode(p + off, n - off, &v);
    if (rc == LOOM_ETRUNC || rc == LOOM_ECORRUPT) return;
    if (rc) abort();
    if (v.size > n - off || v.size != SEC_AUDIT_REC_OVERHEAD + v.payload_len) abort();
    if (v.payload != p + off + SEC_AUDIT_REC_FIXED || v.mac != v.payload + v.payload_len) abort();
    (void)sec_audit_record_mac_ok(key, p + off, &v);
    off += v.size;
  }
}

static void check_round_trip(const uint8_t *p, size_t n) {
  loom_buf log, pl;
  uint8_t mac[SEC_AUDIT_MAC_LEN] = {0}, hdr[SEC_AUDIT_HEADER_LEN], anchor[SEC_AUDIT_ANCHOR_LEN];
  char field[64];
  uint64_t seq = 0;
  size_t pos = 0;
  sec_audit_report rep;
  loom_buf_init(&log);
  loom_buf_init(&pl);
  sec_audit_header_encode(key, hdr);
  if (loom_buf_append(&log, hdr, sizeof hdr)) goto out;
  while (pos < n && seq < 64) {
    size_t want = p[pos] % 48;
    if (want > n - pos - 1) want = n - pos - 1;
    memcpy(field, p + pos + 1, want);
    field[want] = 0; /* an embedded NUL just ends the field early */
    pos += 1 + want;
    sec_audit_event ev = {.actor = "user:fuzz", .action = "fuzz", .outcome = "success",
                          .detail = field, .target = seq & 1 ? field : NULL};
    loom_buf_reset(&pl);
    if (sec_audit_payload_format(&pl, &ev)) abort();
    json_t *j = json_loadb((const char *)pl.data, pl.len, 0, NULL);
    if (!j || !json_is_object(j)) abort();
    json_decref(j);
    if (sec_audit_record_encode(&log, key, seq + 1, (int64_t)seq, mac, pl.data, pl.len, mac))
      abort();
    seq++;
  }
  sec_audit_anchor_encode(key, seq, seq ? mac : NULL, anchor);
  if (sec_audit_verify_image(key, log.data, log.len, anchor, sizeof anchor, &rep) != 0) abort();
  if (rep.records != seq || rep.valid_len != log.len) abort();
  if (seq == 0 || n == 0) goto out;
  /* one flipped byte anywhere is detected */
  size_t at = ((size_t)p[0] * 7919u + n * 104729u) % log.len;
  uint8_t flip = (uint8_t)(p[n - 1] | 1);
  log.data[at] ^= flip;
  if (sec_audit_verify_image(key, log.data, log.len, anchor, sizeof anchor, &rep) == 0) abort();
  log.data[at] ^= flip;
  /* any truncation after the header is detected (the anchor is the last record) */
  size_t cut = SEC_AUDIT_HEADER_LEN + (n * 31u) % (log.len - SEC_AUDIT_HEADER_LEN);
  if (sec_audit_verify_image(key, log.data, cut, anchor, sizeof anchor, &rep) == 0) abort();
out:
  loom_buf_deinit(&log);
  loom_buf_deinit(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  switch (data[0] % 3) {
  case 0: check_verify(data + 1, size - 1, data[0] & 0x80); break;
  case 1: check_decode(data + 1, size - 1); break;
  default: check_round_trip(data + 1, size - 1); break;
  }
  return 0;
}
