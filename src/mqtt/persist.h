/* SPDX-License-Identifier: Apache-2.0
 * MQTT broker state snapshot: persistent sessions (with their
 * subscriptions) and retained messages written to <dir>/mqtt.snap so they
 * survive a restart. Written whole each time (write <dir>/mqtt.snap.tmp,
 * fsync, rename, fsync the directory), read once at start. Wills are not
 * persisted. No sockets, no loop; file I/O only. One thread uses a writer;
 * loading is re-entrant (no shared state).
 */
#ifndef LOOM_MQTT_PERSIST_H
#define LOOM_MQTT_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/retain.h"
#include "mqtt/session.h"
#include "mqtt/subtree.h"

/* ---------------------------------------------------------------------------
 * File format, version 1. All integers little-endian; "uvarint" is LEB128
 * (loom_buf_append_uvarint, at most 10 bytes). Strings are never
 * NUL-terminated on disk and never contain a 0 byte.
 *
 * File header (MQTT_SNAP_HEADER_LEN = 24 bytes):
 *   offset size  meaning
 *   0      8     magic "LOOMMQS\0" (4c 4f 4f 4d 4d 51 53 00)
 *   8      4     u32 format version (MQTT_SNAP_VERSION = 1)
 *   12     8     u64 wall-clock time of the save, ms since the Unix epoch
 *   20     4     u32 XXH32 (seed 0) of bytes 0..19
 *
 * Then records, back to back (MQTT_SNAP_REC_HEADER_LEN = 9 bytes + body):
 *   0      4     u32 len: body length, at most MQTT_SNAP_MAX_RECORD
 *   4      1     u8 type: 1 client, 2 retained message, 0xFF end
 *   5      4     u32 XXH32 of the body with seed = XXH32 (seed 0) of
 *                bytes 0..4 (so len and type are covered: a flipped
 *                length is caught rather than trusted)
 *   9      len   body
 * The end record is last; bytes after it, or a file without it, are
 * corrupt (a torn write cannot happen through rename, so this is damage).
 *
 * Client record body (type 1):
 *   uvarint id_len (<= 65535), id bytes (the MQTT client identifier)
 *   uvarint blob_len, blob (mqtt_session_save format, below)
 *   uvarint n_subs, then per subscription:
 *     uvarint filter_len (1..65535), filter bytes as the client gave them
 *       (including a "$share/group/" prefix; in the broker's topic space
 *       if the broker maps topics)
 *     u8 qos (0..2)
 *     u8 flags: bit 0 no_local, bit 1 retain_as_published, others 0
 *     u8 retain_handling (0..2)
 *     uvarint sub_id (0..268,435,455; 0 = none)
 *
 * Retained record body (type 2):
 *   uvarint topic_len, topic bytes (a valid topic name)
 *   u8 qos (0..2)
 *   u8 flags: bit 0 has_expiry, others 0
 *   u32 remaining Message Expiry Interval at save time, seconds (present
 *       only when has_expiry)
 *   uvarint payload_len (>= 1), payload bytes
 *   uvarint props_len, props bytes (opaque MQTT 5 property block body)
 *
 * End record body (type 0xFF): u64 number of client records, u64 number
 * of retained records before it (both must match what was read).
 *
 * Session blob (mqtt_session_save / mqtt_session_load). Version 1 below;
 * version 2 (written now; both load) replaces each "uvarint Subscription
 * Identifier" by a list: u8 count (0..32) then that many uvarint identifiers
 * (1..268,435,455), as documented at mqtt_session_save in session.h.
 *   u8 blob version (1 or 2)
 *   u8 protocol level of the last connection (3, 4 or 5)
 *   u32 Session Expiry Interval, s (0xFFFFFFFF = never)
 *   u64 session time left at save, ms (UINT64_MAX = never expires; a
 *       session connected at save time counts the full interval)
 *   u16 next packet id to try
 *   uvarint n_in, then n_in x u16: inbound QoS 2 packet ids awaiting PUBREL
 *       (non-zero, unique). Inbound QoS 1 ids are not saved (they end with
 *       the connection).
 *   uvarint n_flights, then per outbound in-flight flow, oldest first:
 *     u16 packet id (non-zero, unique among flights)
 *     u8 qos (1 or 2)
 *     u8 state: 1 PUBLISH sent, awaiting PUBACK (qos 1); 2 PUBLISH sent,
 *        awaiting PUBREC (qos 2); 3 PUBREC received, awaiting PUBCOMP (qos 2)
 *     u8 flags: bit 0 RETAIN of this delivery, bit 1 PUBLISH sent at least
 *        once (resends carry DUP), others 0
 *     uvarint Subscription Identifier (0..268,435,455)
 *     message (states 1 and 2 only)
 *   uvarint n_queued, then per queued delivery, oldest first:
 *     u8 delivery qos (0..2, <= the message's qos)
 *     u8 flags: bit 0 RETAIN of this delivery, others 0
 *     uvarint Subscription Identifier (0..268,435,455)
 *     message
 *   and nothing after.
 * Message (one copy per use: a message shared by deliveries is repeated):
 *   u8 qos as published (0..2)
 *   u8 flags: bit 0 RETAIN as published, bit 1 has_expiry, others 0
 *   u64 Message Expiry left at save, ms (only when has_expiry)
 *   uvarint topic_len (<= 65535), topic bytes (no 0 byte)
 *   uvarint payload_len (<= 268,435,455), payload bytes
 *   uvarint props_len (<= 268,435,455), props bytes
 * ------------------------------------------------------------------------- */

#define MQTT_SNAP_FILE "mqtt.snap"
#define MQTT_SNAP_TMP_FILE "mqtt.snap.tmp"
#define MQTT_SNAP_VERSION 1u
#define MQTT_SNAP_HEADER_LEN 24u
#define MQTT_SNAP_REC_HEADER_LEN 9u
#define MQTT_SNAP_MAX_RECORD (1024u * 1024u * 1024u)
enum { MQTT_SNAP_REC_CLIENT = 1, MQTT_SNAP_REC_RETAINED = 2, MQTT_SNAP_REC_END = 0xFF };

/* One subscription of a client. For mqtt_snap_add_client the caller owns
 * filter (need not be NUL-terminated). In the load visitor, filter is
 * NUL-terminated, owned by the loader and valid only during the call. */
typedef struct mqtt_snap_sub {
  const char *filter; /* as the client gave it, incl. "$share/g/" */
  size_t len;         /* bytes, without any NUL */
  mqtt_sub_opts opts;
} mqtt_snap_sub;

typedef struct mqtt_snap_writer mqtt_snap_writer;

/* Start a snapshot: creates dir if needed and <dir>/mqtt.snap.tmp
 * (truncated), stamped with the current wall-clock time. Returns 0 and
 * *out; LOOM_EINVAL (NULL or over-long dir), LOOM_EIO / LOOM_ENOSPC /
 * other codes from errno, LOOM_ENOMEM. Finish with mqtt_snap_commit or
 * mqtt_snap_abort. */
int mqtt_snap_begin(const char *dir, mqtt_snap_writer **out);
/* As mqtt_snap_begin with an explicit save time (ms since the epoch),
 * for tests that simulate downtime. */
int mqtt_snap_begin_at(const char *dir, uint64_t wall_ms, mqtt_snap_writer **out);

/* Append one client: its id (NUL-terminated, 0..65535 bytes), its session
 * (mqtt_session_save at now_ms, the broker's monotonic ms; connected or
 * not) and its subscriptions. Returns 0; LOOM_EINVAL (bad arguments, id
 * over 65535 bytes, an invalid filter, bad options: nothing is written and
 * the writer stays usable, so the caller may skip that client); LOOM_ENOMEM
 * and I/O codes, after which the writer is failed: every later call
 * returns the same error; call mqtt_snap_abort. */
int mqtt_snap_add_client(mqtt_snap_writer *w, const char *client_id, const mqtt_session *s,
                         uint64_t now_ms, const mqtt_snap_sub *subs, size_t n_subs);

/* Append one retained message (m->payload_len >= 1; m->topic a valid
 * topic name). expiry_remaining_s is used only when has_expiry. Same
 * errors and failed-writer rule as mqtt_snap_add_client. */
int mqtt_snap_add_retained(mqtt_snap_writer *w, const mqtt_retain_msg *m, bool has_expiry,
                           uint32_t expiry_remaining_s);

/* Write the end record, fsync the file, rename it over <dir>/mqtt.snap and
 * fsync the directory. Frees w in every case; on error the tmp file is
 * removed and the previous mqtt.snap is untouched. Returns 0 or the
 * (first) error. */
int mqtt_snap_commit(mqtt_snap_writer *w);

/* Remove the tmp file and free w. NULL ok. */
void mqtt_snap_abort(mqtt_snap_writer *w);

/* Called for each record while loading, in file order. */
typedef struct mqtt_snap_visitor {
  void *ud;
  /* A persistent session, disconnected, expiry already advanced by the
   * downtime (sessions whose expiry passed are freed and not reported).
   * The callee owns s from the call on, whatever it returns. client_id
   * and subs are valid only during the call. Return 0 to go on; any other
   * value stops loading and is returned by mqtt_snap_load. May be NULL
   * (sessions are then freed). */
  int (*client)(void *ud, const char *client_id, mqtt_session *s, const mqtt_snap_sub *subs,
                size_t n_subs);
  /* A retained message (pointers valid only during the call), its
   * remaining expiry already reduced by the downtime (expired ones are
   * not reported; remaining_s >= 1 when has_expiry). Same return rule.
   * May be NULL. */
  int (*retained)(void *ud, const mqtt_retain_msg *m, bool has_expiry, uint32_t remaining_s);
} mqtt_snap_visitor;

/* Load <dir>/mqtt.snap. now_ms: the broker's monotonic ms (message and
 * session deadlines are rebuilt on it); the downtime is the current wall
 * clock minus the saved one (0 if the clock went backwards). Returns 0
 * (also when there is no file: nothing is reported); LOOM_ECORRUPT when
 * the header, a record, its checksum or its contents are bad, or the end
 * record is missing: the records before it were reported and kept, err
 * names the byte offset; LOOM_ENOMEM (loading stopped at that record);
 * LOOM_EIO and other codes from errno; the visitor's non-zero value.
 * err (may be NULL, errlen 0) receives a message on any error. cfg is
 * the session configuration for loaded sessions. */
int mqtt_snap_load(const char *dir, const mqtt_session_cfg *cfg, uint64_t now_ms,
                   const mqtt_snap_visitor *v, char *err, size_t errlen);

/* As mqtt_snap_load over an in-memory image of the file, with the wall
 * clock given (ms since the epoch). Pure: used by tests and the fuzzer. */
int mqtt_snap_load_mem(const uint8_t *p, size_t len, const mqtt_session_cfg *cfg,
                       uint64_t now_ms, uint64_t wall_now_ms, const mqtt_snap_visitor *v,
                       char *err, size_t errlen);

#endif
