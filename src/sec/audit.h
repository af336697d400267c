/* SPDX-License-Identifier: Apache-2.0
 * The audit trail: an append-only, hash-chained log of security events
 * (logins, user/role/token/credential/device changes, commands, deletions,
 * exports) in which every record carries an HMAC-SHA256 over itself and the
 * previous record's MAC, plus an anchor file vouching for the last record.
 * Without the key nobody can edit, insert, reorder, delete or forge records
 * without `loom audit verify` (sec_audit_verify) noticing. Codec and
 * verifier are pure functions over bytes (fuzz target fuzz_audit); the
 * sec_audit handle adds the files, fsync and paging for the admin API.
 *
 * Files in the data directory DATA:
 *   DATA/audit.key     32 random bytes (raw), mode 0600, created once (link())
 *                      unless the caller supplies the key.
 *   DATA/audit.log     the log: a file header, then records, appended only.
 *   DATA/audit.anchor  the last acknowledged record, replaced by atomic rename.
 * All integers are little-endian. MAC = HMAC-SHA256 (libsodium
 * crypto_auth_hmacsha256), 32 bytes.
 *
 * Log file header (32 bytes, version 1):
 *   off size
 *     0    8  magic "LOOMAUDT"
 *     8    4  version, u32 = 1
 *    12    4  reserved, u32, must be 0
 *    16   16  key id: first 16 bytes of HMAC(key, "loom audit key id v1"), so a
 *             wrong key is told apart from tampering
 * Record (88 + L bytes), immediately after the header or the previous record:
 *   off size
 *     0    4  magic "LAR1"
 *     4    4  L: payload length, u32, 2 <= L <= SEC_AUDIT_PAYLOAD_MAX
 *     8    8  seq, u64: 1 for the first record, then +1 per record
 *    16    8  time_ms, i64: wall-clock ms since 1970 (not checked for order:
 *             clocks step)
 *    24   32  prev MAC: the MAC of record seq-1 (32 zero bytes for seq 1)
 *    56    L  payload: one JSON object, UTF-8, no NUL:
 *             {"actor":..,"tenant":..,"action":..,"target":..,"outcome":..,
 *              "detail":..,"address":..} (strings; null when absent)
 *  56+L   32  MAC = HMAC(key, bytes 0 .. 56+L-1 of this record)
 * Anchor file (80 bytes):
 *     0    8  magic "LOOMANCH"
 *     8    8  seq, u64: the last record an append acknowledged (0: none yet)
 *    16   32  that record's MAC (zeros when seq is 0)
 *    48   32  HMAC(key, bytes 0..47)
 *
 * What verification checks, in order: the header (magic, version, reserved,
 * key id); each record's magic and length, its MAC, its seq (exactly the
 * previous + 1: catches deletion, duplication, reordering), its prev MAC
 * (the chain); the anchor's own MAC; that the log reaches the anchor's seq
 * with the anchor's MAC (catches deletion or truncation of the tail).
 * Records after the anchored one that verify are accepted (a crash between
 * the log's fsync and the anchor's rename); an incomplete record at the very
 * end after the anchored records is an unfinished append (reported, not an
 * error; sec_audit_open truncates it).
 * Limits: whoever holds the key can rewrite history (keep DATA/audit.key
 * off backups that leave the host, or supply the key from elsewhere);
 * deleting the log, the anchor and the key together, or replacing the
 * anchor by an older copy of itself together with the matching truncation,
 * is not detectable from the files alone (ship the log off the host for
 * that). A complete-length but garbled last record (a crash on a file
 * system that can expose unwritten blocks as zeros) is reported as
 * corruption, not repaired: inspect it, then truncate by hand. No rotation
 * yet: the log grows (~330 bytes per event with UUID ids) and open()
 * verifies it whole (about 300,000 events per second on one core).
 */
#ifndef LOOM_SEC_AUDIT_H
#define LOOM_SEC_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SEC_AUDIT_KEY_LEN 32
#define SEC_AUDIT_MAC_LEN 32
#define SEC_AUDIT_HEADER_LEN 32
#define SEC_AUDIT_REC_OVERHEAD 88 /* record bytes besides the payload */
#define SEC_AUDIT_REC_FIXED 56    /* bytes before the payload */
#define SEC_AUDIT_ANCHOR_LEN 80
#define SEC_AUDIT_PAYLOAD_MAX 65536
#define SEC_AUDIT_FIELD_MAX 4096 /* bytes per event field */

/* One event. actor, action and outcome are required; the rest may be NULL.
 * actor: "user:<id>", "token:<id>", "device:<id>", "anonymous", "system";
 * action: dotted verb such as "login", "user.create", "token.revoke",
 * "device.credentials.rotate", "rpc.send", "export"; outcome: "success",
 * "failure" or "denied"; address: the client's IP address. */
typedef struct sec_audit_event {
  const char *actor;
  const char *tenant;
  const char *action;
  const char *target;
  const char *outcome;
  const char *detail;
  const char *address;
} sec_audit_event;

/* A decoded record: pointers into the decoded bytes (valid while they are). */
typedef struct sec_audit_view {
  uint64_t seq;
  int64_t time_ms;
  const uint8_t *prev_mac; /* SEC_AUDIT_MAC_LEN bytes */
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *mac;      /* SEC_AUDIT_MAC_LEN bytes */
  size_t size;             /* whole record, SEC_AUDIT_REC_OVERHEAD + payload_len */
} sec_audit_view;

/* Outcome of a verification (or of the check sec_audit_open does). */
typedef struct sec_audit_report {
  uint64_t records;     /* records that verified, in order, before any problem */
  uint64_t last_seq;    /* seq of the last of them (0: none) */
  uint8_t last_mac[SEC_AUDIT_MAC_LEN];
  uint64_t valid_len;   /* bytes of the log that verified (header + those records) */
  uint64_t anchor_seq;  /* seq the anchor vouches for (0: none or unreadable) */
  uint64_t bad_seq;     /* first bad record (the seq expected there; for a deleted
                           tail, the first missing seq); 0 when intact */
  uint64_t bad_offset;  /* byte offset in the log where the problem starts */
  uint64_t torn_bytes;  /* bytes of an unfinished append at the end (not an error) */
  char reason[256];     /* one sentence naming the first problem, "" when intact */
} sec_audit_report;

/* ---- pure codec (no I/O, any thread) ---- */

/* The 16-byte key id stored in the header. */
void sec_audit_key_id(const uint8_t key[SEC_AUDIT_KEY_LEN], uint8_t out[16]);
/* The 32-byte file header for this key. */
void sec_audit_header_encode(const uint8_t key[SEC_AUDIT_KEY_LEN],
                             uint8_t out[SEC_AUDIT_HEADER_LEN]);

/* The JSON payload of an event, appended to out (bytes that are not valid
 * UTF-8 become U+FFFD, so the payload is always valid JSON). 0, LOOM_EINVAL
 * (a required field NULL or empty, or a field longer than
 * SEC_AUDIT_FIELD_MAX bytes), LOOM_ENOMEM (out may hold a partial payload:
 * callers format into a scratch buffer). */
int sec_audit_payload_format(loom_buf *out, const sec_audit_event *ev);

/* Append one record to out and put its MAC in mac_out (may be NULL).
 * 0, LOOM_EINVAL (payload length outside 2..SEC_AUDIT_PAYLOAD_MAX),
 * LOOM_ENOMEM (out unchanged). */
int sec_audit_record_encode(loom_buf *out, const uint8_t key[SEC_AUDIT_KEY_LEN], uint64_t seq,
                            int64_t time_ms, const uint8_t prev_mac[SEC_AUDIT_MAC_LEN],
                            const uint8_t *payload, size_t payload_len,
                            uint8_t mac_out[SEC_AUDIT_MAC_LEN]);

/* Decode the record at p (len bytes available) without checking its MAC.
 * 0 and *v; LOOM_ETRUNC if len is shorter than the record claims (or than
 * its fixed part); LOOM_ECORRUPT for a bad magic or a length out of range. */
int sec_audit_record_decode(const uint8_t *p, size_t len, sec_audit_view *v);

/* Is v's MAC right for key? (constant time) */
bool sec_audit_record_mac_ok(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *rec,
                             const sec_audit_view *v);

void sec_audit_anchor_encode(const uint8_t key[SEC_AUDIT_KEY_LEN], uint64_t seq,
                             const uint8_t mac[SEC_AUDIT_MAC_LEN],
                             uint8_t out[SEC_AUDIT_ANCHOR_LEN]);
/* 0 and *seq/mac, or LOOM_ECORRUPT (length, magic or MAC wrong). */
int sec_audit_anchor_decode(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *p, size_t len,
                            uint64_t *seq, uint8_t mac[SEC_AUDIT_MAC_LEN]);

/* Verify a whole log image and its anchor (anchor NULL: no anchor file).
 * Fills *rep (always). Returns 0 when intact (an unfinished append at the
 * end is allowed and reported in torn_bytes), LOOM_ECORRUPT when anything is
 * wrong (rep->reason names the first problem, rep->bad_seq its record),
 * LOOM_EAUTH when the header's key id does not match key (wrong key). */
int sec_audit_verify_image(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *log,
                           size_t log_len, const uint8_t *anchor, size_t anchor_len,
                           sec_audit_report *rep);

/* ---- files ---- */

/* Read DATA/audit.key into key, creating it (32 random bytes, mode 0600,
 * written aside and link()ed into place, so it appears whole and once) if
 * create is set and it does not exist.
 * 0, LOOM_ENOTFOUND (absent, create not set), LOOM_ECORRUPT (not 32 bytes),
 * LOOM_EIO/other LOOM_E* from the file system; err filled. */
int sec_audit_key_load(const char *data_dir, bool create, uint8_t key[SEC_AUDIT_KEY_LEN],
                       char *err, size_t errlen);

/* Verify DATA/audit.log against DATA/audit.anchor with DATA/audit.key
 * (sec_audit_verify_key: with the given key). Read-only; safe while a
 * daemon appends (the anchor is read before the log). Returns as
 * sec_audit_verify_image, or LOOM_ENOTFOUND when there is no audit log (and
 * no anchor), other LOOM_E* for I/O errors; rep->reason is filled. */
int sec_audit_verify(const char *data_dir, sec_audit_report *rep);
int sec_audit_verify_key(const char *data_dir, const uint8_t key[SEC_AUDIT_KEY_LEN],
                         sec_audit_report *rep);

/* ---- the log handle (thread-safe: an internal mutex) ---- */

typedef struct sec_audit sec_audit;

/* Open (creating if absent) the audit log in data_dir, with key (NULL: load
 * or create DATA/audit.key). Verifies the whole log first; an unfinished
 * append at the end is truncated, a lagging anchor brought forward. rep
 * (may be NULL) receives the verification. Takes an exclusive lock on the
 * log (one process at a time). Returns 0; LOOM_ECORRUPT / LOOM_EAUTH if the
 * log does not verify (err names the problem: move audit.log and
 * audit.anchor aside to start a new chain, keep them as evidence);
 * LOOM_EAGAIN if another process holds the log; LOOM_ENOMEM; I/O codes. */
int sec_audit_open(const char *data_dir, const uint8_t *key, sec_audit **out,
                   sec_audit_report *rep, char *err, size_t errlen);
void sec_audit_close(sec_audit *a);

/* Append one event stamped time_ms (0: the wall clock now). Returns 0 once
 * the record is fsynced and the anchor renamed over; *seq (may be NULL) gets
 * its seq. Errors: LOOM_EINVAL (bad event, see sec_audit_payload_format),
 * LOOM_ENOMEM, LOOM_EIO/LOOM_ENOSPC when the record could not be stored (the
 * log is rolled back to its previous end; after an I/O error or a failed
 * fsync, or if the roll-back fails, the handle refuses further appends with
 * LOOM_EREADONLY: reopen it, which verifies the log again). If only the anchor update
 * fails, that error is returned but *seq is set: the record is stored and
 * chained, and the next append retries the anchor. Blocks on fsync: call
 * from a worker thread. */
int sec_audit_append(sec_audit *a, const sec_audit_event *ev, int64_t time_ms, uint64_t *seq);

/* Seq of the last record (0 when empty). */
uint64_t sec_audit_last_seq(sec_audit *a);

typedef struct sec_audit_record {
  uint64_t seq;
  int64_t time_ms;
  const char *payload; /* JSON object text, NUL-terminated; owned by the page */
  size_t payload_len;
} sec_audit_record;

typedef struct sec_audit_page {
  sec_audit_record *records; /* n entries, owned by the page */
  size_t n;
  uint64_t next_seq; /* from_seq for the next page; 0 when the end was reached */
  loom_buf mem_;     /* internal storage */
} sec_audit_page;

/* Read up to limit (1..1000) records with seq >= from_seq (from_seq 0 or 1:
 * from the start) into page (initialised here; release with
 * sec_audit_page_deinit, also after an error). tenant (may be NULL): only
 * records whose payload's "tenant" equals it (the scan then may pass many
 * other records: O(log) worst case). Each record's MAC and chain are checked
 * again as it is read. Returns 0, LOOM_EINVAL (limit), LOOM_ECORRUPT (the log
 * changed under the handle and no longer verifies), LOOM_ENOMEM, LOOM_EIO. */
int sec_audit_read(sec_audit *a, uint64_t from_seq, size_t limit, const char *tenant,
                   sec_audit_page *page);
void sec_audit_page_deinit(sec_audit_page *page);

#endif
