/* SPDX-License-Identifier: Apache-2.0
 * MQTT per-client session state, pure: no sockets, no loop, no clock (the
 * broker passes now_ms, a monotonic millisecond time). It allocates packet
 * identifiers, tracks outbound QoS 1/2 flows and inbound QoS 2 packet ids,
 * enforces Receive Maximum both ways, keeps a bounded queue of pending
 * messages with message expiry, maps topic aliases both ways and keeps the
 * session-expiry bookkeeping. Messages (mqtt_msg) are reference-counted
 * blobs shared by every session a publish fans out to (one copy).
 *
 * Retries: MQTT 5 forbids time-based resends while connected
 * [MQTT-4.4.0-1]; unacknowledged PUBLISH (DUP set) and PUBREL (as is) are
 * resent only after a reconnect (mqtt_session_connect). The same rule is
 * used for levels 3 and 4. Single-threaded: one loop thread owns a session.
 */
#ifndef LOOM_MQTT_SESSION_H
#define LOOM_MQTT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mqtt/props.h"

/* An application message. One allocation holds the struct, topic, payload
 * and props. Immutable after mqtt_msg_new except refs. */
typedef struct mqtt_msg {
  uint32_t refs;         /* owners; freed when it drops to 0 */
  uint8_t qos;           /* QoS it was published with */
  bool retain;           /* RETAIN flag as published */
  bool has_expiry;       /* a Message Expiry Interval was given */
  uint64_t expiry_at_ms; /* now_ms at publish + interval * 1000 */
  const char *topic;     /* NUL-terminated, topic_len bytes */
  size_t topic_len;
  const uint8_t *payload;
  size_t payload_len;
  /* MQTT 5 property block body to forward (payload format, content type,
   * response topic, correlation data, user properties). Must NOT contain
   * Message Expiry or Topic Alias: the session adds those per send. */
  const uint8_t *props;
  size_t props_len;
} mqtt_msg;

/* Create a message with refs = 1. expiry_s is used only when has_expiry.
 * Returns 0 and *out, LOOM_EINVAL (qos > 2, NULL topic with len > 0),
 * LOOM_ENOMEM. The caller owns the reference. */
int mqtt_msg_new(const char *topic, size_t topic_len, const void *payload, size_t payload_len,
                 const void *props, size_t props_len, uint8_t qos, bool retain,
                 bool has_expiry, uint32_t expiry_s, uint64_t now_ms, mqtt_msg **out);
/* Take one more reference; returns m. */
mqtt_msg *mqtt_msg_ref(mqtt_msg *m);
/* Drop one reference; frees on the last. NULL is a no-op. */
void mqtt_msg_unref(mqtt_msg *m);

/* Server-side limits of one session (copied at mqtt_session_new). */
typedef struct mqtt_session_cfg {
  uint16_t recv_max_in;      /* our Receive Maximum (inbound QoS 1/2), >= 1 */
  uint16_t alias_max_in;     /* our Topic Alias Maximum (0 = none) */
  uint16_t alias_out_cap;    /* most outbound aliases we keep (bounds memory) */
  uint32_t max_queued;       /* pending messages (0 = unlimited) */
  size_t max_queued_bytes;   /* pending topic + payload + props bytes (0 = unl.) */
  bool queue_qos0_offline;   /* keep QoS 0 messages for a disconnected client */
} mqtt_session_cfg;

/* Counters, written by the session, read by the broker ($SYS, logs). */
typedef struct mqtt_session_stats {
  uint64_t dropped_qos0;     /* QoS 0 messages dropped because the queue was full */
  uint64_t dropped_full;     /* QoS 1/2 messages refused because the queue was full */
  uint64_t dropped_expired;  /* queued messages whose expiry passed before sending */
  uint64_t dropped_too_large;/* larger than the client's Maximum Packet Size */
  uint8_t last_drop_reason;  /* MQTT_RC_QUOTA_EXCEEDED or MQTT_RC_SUCCESS (none) */
} mqtt_session_stats;

typedef struct mqtt_session mqtt_session;

/* Most Subscription Identifiers one delivery carries (MQTT 5 3.3.4: one
 * per matching subscription of the client). A bound on memory and packet
 * size; the broker passes the first ones when more subscriptions match. */
#define MQTT_SESSION_MAX_SUB_IDS 32u

/* One packet the broker must send, from mqtt_session_next. */
typedef struct mqtt_session_out {
  uint8_t type;        /* MQTT_PUBLISH or MQTT_PUBREL */
  uint16_t packet_id;  /* 0 for QoS 0 PUBLISH */
  uint8_t qos;         /* delivery QoS (min of publish and granted) */
  bool dup;            /* PUBLISH being resent after a reconnect */
  bool retain;         /* RETAIN flag of this delivery */
  uint16_t topic_alias;/* 0 = none */
  bool omit_topic;     /* alias already known to the client: send empty topic */
  bool has_expiry;
  uint32_t expiry_s;   /* remaining Message Expiry Interval, rounded up */
  mqtt_msg *msg;       /* PUBLISH only: a reference the caller must unref */
  uint8_t n_sub_ids;   /* Subscription Identifiers to send (level 5), */
  uint32_t sub_ids[MQTT_SESSION_MAX_SUB_IDS]; /* one property each; only the
                          first n_sub_ids entries are set (keep this last) */
} mqtt_session_out;

/* Create a session. Returns 0 and *out, LOOM_EINVAL (cfg NULL or
 * recv_max_in 0), LOOM_ENOMEM. The session starts disconnected. */
int mqtt_session_new(const mqtt_session_cfg *cfg, mqtt_session **out);
/* Free the session and drop every message reference it holds. NULL ok. */
void mqtt_session_free(mqtt_session *s);

/* The client (re)connected. level: 3, 4 or 5; recv_max_out: the client's
 * Receive Maximum (0 = 65535, its default); alias_max_out: the client's
 * Topic Alias Maximum (0 = none); session_expiry_s: from CONNECT
 * (0xFFFFFFFF = never). Levels 3 and 4 have no Receive Maximum: the broker
 * passes its own in-flight window (e.g. 20) as recv_max_out. If a reconnect
 * lowers recv_max_out below the flows already in flight, they are all
 * resent anyway and new ones wait until acks bring the count below it.
 * Topic aliases of both directions are reset (they live for one
 * connection); inbound QoS 1 ids are forgotten (QoS 2 ids are kept until
 * PUBREL); every in-flight flow is marked for resend, in original order,
 * before new messages. A Clean Start is the broker's part: it frees the
 * session and creates a new one. Returns 0 or LOOM_EINVAL. */
int mqtt_session_connect(mqtt_session *s, uint8_t level, uint16_t recv_max_out,
                         uint16_t alias_max_out, uint32_t session_expiry_s);
/* The client's Maximum Packet Size from CONNECT (0 = no limit; reset by
 * mqtt_session_connect, so call after it). _next then discards queued or
 * resent PUBLISHes that could exceed it, as if delivered [MQTT-3.1.2-25]
 * (counted in dropped_too_large). The check uses an upper bound (topic
 * counted even when an alias omits it, plus a Topic Alias property when
 * aliases are on), so a message within a few bytes of the limit may be
 * dropped although its actual encoding would fit. */
void mqtt_session_set_max_packet_out(mqtt_session *s, uint32_t max_len);

/* The network connection ended at now_ms (session kept; expiry clock runs;
 * topic aliases dropped). session_expiry_s replaces the CONNECT value (MQTT 5
 * DISCONNECT may set it). */
void mqtt_session_disconnect(mqtt_session *s, uint32_t session_expiry_s, uint64_t now_ms);
/* true if disconnected and its Session Expiry Interval has passed. */
bool mqtt_session_expired(const mqtt_session *s, uint64_t now_ms);
/* Absolute expiry time in ms; UINT64_MAX when connected or never expiring. */
uint64_t mqtt_session_expires_at(const mqtt_session *s);

/* Queue m for delivery at QoS min(m->qos, granted_qos) (takes its own
 * reference). Expired messages are dropped (counted, returns 0). When the
 * queue is full (count or bytes) queued QoS 0 messages are dropped oldest
 * first to make room; a QoS 0 message that still does not fit is dropped
 * (returns 0, counted); a QoS 1/2 one is refused: LOOM_ERANGE, stats
 * reason 0x97 Quota exceeded. LOOM_ENOMEM, LOOM_EINVAL. Works connected or
 * not (persistent sessions queue while offline); QoS 0 deliveries to a
 * disconnected client are discarded (returns 0, not counted) unless
 * cfg.queue_qos0_offline. */
int mqtt_session_enqueue(mqtt_session *s, mqtt_msg *m, uint8_t granted_qos, uint64_t now_ms);

/* Per-subscriber delivery options for mqtt_session_enqueue_ex. */
typedef struct mqtt_session_delivery {
  uint8_t qos;     /* granted QoS of the matching subscription */
  bool retain;     /* RETAIN to send (Retain As Published / retained replay) */
  uint32_t sub_id; /* Subscription Identifier, 1..268,435,455; 0 = none */
  /* Several identifiers (all the matching subscriptions' ones, in the order
   * to send): when n_sub_ids > 0 these are used and sub_id is ignored. The
   * array is copied. */
  const uint32_t *sub_ids;
  size_t n_sub_ids;
} mqtt_session_delivery;

/* As mqtt_session_enqueue with per-delivery options (mqtt_session_enqueue
 * uses qos = granted_qos, retain = m->retain, no Subscription Identifier).
 * Same results; LOOM_EINVAL also for sub_id > 268,435,455, an identifier
 * of sub_ids that is 0 or > 268,435,455, n_sub_ids >
 * MQTT_SESSION_MAX_SUB_IDS, or sub_ids NULL with n_sub_ids > 0. Every
 * identifier is kept with the delivery (also across save/load) and sent as
 * its own Subscription Identifier property [MQTT-3.3.4-3]. */
int mqtt_session_enqueue_ex(mqtt_session *s, mqtt_msg *m, const mqtt_session_delivery *d,
                            uint64_t now_ms);

/* Next packet to send, if any: resends after a reconnect first, then
 * queued messages while fewer than the client's Receive Maximum QoS 1/2
 * PUBLISHes are unacknowledged (QoS 0 messages skip ahead of a blocked
 * QoS 1/2 head). Assigns packet ids and outbound topic aliases (the
 * broker must send what it gets). Alias policy (level 5, up to
 * min(client's Topic Alias Maximum, cfg.alias_out_cap)): a new topic takes
 * a free alias; with the table full, a topic gets one on its second miss
 * among the last alias_out_cap misses, replacing the least recently used.
 * Queued messages whose expiry passed are dropped here (in-flight ones are
 * resent regardless: their delivery had started). Returns 0 and *out;
 * LOOM_EAGAIN if nothing can be sent now; LOOM_ECLOSED if disconnected;
 * LOOM_ENOMEM (nothing consumed; retry later). */
int mqtt_session_next(mqtt_session *s, uint64_t now_ms, mqtt_session_out *out);

/* Encode *o as a packet for the session's level into b (PUBLISH with
 * Message Expiry, Subscription Identifier (one per o->sub_ids entry) and
 * Topic Alias properties added before the message's own properties at
 * level 5). Returns mqtt_encode's result. */
int mqtt_session_out_encode(const mqtt_session *s, const mqtt_session_out *o, loom_buf *b);

/* Acknowledgements from the client. Return 0, or LOOM_ENOTFOUND if no
 * flow waits for that packet id in that state (the broker ignores it, or
 * at level 5 answers PUBREL with 0x92). on_pubrec with reason >= 0x80
 * ends the flow (no PUBREL); otherwise a PUBREL is produced by _next. */
int mqtt_session_on_puback(mqtt_session *s, uint16_t packet_id);
int mqtt_session_on_pubrec(mqtt_session *s, uint16_t packet_id, uint8_t reason);
int mqtt_session_on_pubcomp(mqtt_session *s, uint16_t packet_id);

/* Inbound PUBLISH with QoS > 0 and packet_id. *deliver is set to false
 * for a QoS 2 packet id still awaiting PUBREL (a duplicate: answer PUBREC
 * again, do not deliver). Returns 0; LOOM_ERANGE if accepting it would
 * exceed our Receive Maximum (err reason 0x93: disconnect); LOOM_EINVAL
 * (qos 0 or id 0, reason 0x82); LOOM_ENOMEM. A QoS 1 id counts against
 * our Receive Maximum until mqtt_session_in_puback_sent. err may be NULL. */
int mqtt_session_in_publish(mqtt_session *s, uint8_t qos, uint16_t packet_id, bool *deliver,
                            mqtt_err *err);
/* We sent PUBACK for inbound QoS 1 packet_id. 0 or LOOM_ENOTFOUND. */
int mqtt_session_in_puback_sent(mqtt_session *s, uint16_t packet_id);
/* Inbound PUBREL: forgets the QoS 2 id. 0 or LOOM_ENOTFOUND (answer
 * PUBCOMP with 0x92 at level 5). */
int mqtt_session_in_pubrel(mqtt_session *s, uint16_t packet_id);

/* Resolve an inbound topic alias. topic/topic_len as received (may be
 * empty); has_alias/alias from the Topic Alias property. On success
 * out_topic and out_len give the topic to use: the caller's own topic when
 * has_alias is false, else the session's copy (valid until that alias is
 * remapped, or the session reconnects, disconnects or is freed). Errors (err filled, disconnect with its
 * reason): LOOM_ERANGE alias > our maximum or alias 0 given (0x94);
 * LOOM_EINVAL empty topic with no alias or an unmapped alias (0x82);
 * LOOM_ENOMEM. err may be NULL. */
int mqtt_session_in_alias(mqtt_session *s, const char *topic, size_t topic_len, bool has_alias,
                          uint16_t alias, const char **out_topic, size_t *out_len, mqtt_err *err);

/* Serialise everything a disconnected session holds, for a restart (format
 * in mqtt/persist.h, "Session blob"): level, Session Expiry Interval and
 * the time left of it at now_ms (a connected session counts the full
 * interval, as if it disconnected now), outbound in-flight flows in order
 * with their state and packet ids, queued deliveries, inbound QoS 2 ids
 * awaiting PUBREL. Messages are written by value, remaining message expiry
 * relative to now_ms. Not saved: topic aliases, inbound QoS 1 ids, the
 * client's limits (they come with the next CONNECT), stats. Appends to
 * out. Returns 0, LOOM_EINVAL, LOOM_ENOMEM (out may then hold a partial
 * blob: truncate it back).
 * Blob version 2 (written now) is persist.h's version 1 layout with the
 * version byte 2 and, in each in-flight flow and each queued delivery,
 * the "uvarint Subscription Identifier" field replaced by:
 *   uvarint n_ids (0..MQTT_SESSION_MAX_SUB_IDS)
 *   n_ids x uvarint Subscription Identifier (1..268,435,455), in send order
 * mqtt_session_load reads both versions (version 1: one identifier per
 * delivery, 0 = none). */
int mqtt_session_save(const mqtt_session *s, uint64_t now_ms, loom_buf *out);
/* Rebuild a session from a blob of mqtt_session_save. now_ms: the
 * monotonic time now; elapsed_ms: wall-clock time since the save (the
 * broker's downtime, >= 0; negative counts as 0), taken off both the
 * session's and each message's remaining expiry. Queued messages that
 * expired are dropped (counted in dropped_expired); in-flight ones are
 * kept (resent with expiry 1 s). The session starts disconnected
 * (mqtt_session_expired tells whether its expiry passed during the
 * downtime); mqtt_session_connect resends in-flight flows with DUP.
 * Everything is validated: LOOM_EINVAL for a malformed blob (bad version,
 * level, QoS, state, duplicate or zero packet ids, lengths, trailing
 * bytes), never a crash; LOOM_ENOMEM. cfg as for mqtt_session_new; its
 * queue bounds are not applied to the loaded queue (it was within the
 * bounds in force when saved; while it is over the new bounds,
 * mqtt_session_enqueue treats it as full). The caller owns *out. */
int mqtt_session_load(const mqtt_session_cfg *cfg, const uint8_t *p, size_t len,
                      uint64_t now_ms, int64_t elapsed_ms, mqtt_session **out);

/* Introspection for tests and $SYS. */
uint32_t mqtt_session_queued(const mqtt_session *s);
size_t mqtt_session_queued_bytes(const mqtt_session *s);
uint32_t mqtt_session_inflight_out(const mqtt_session *s);
uint32_t mqtt_session_inflight_in(const mqtt_session *s);
const mqtt_session_stats *mqtt_session_stats_get(const mqtt_session *s);

#endif
