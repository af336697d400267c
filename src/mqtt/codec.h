/* SPDX-License-Identifier: Apache-2.0
 * MQTT control packet codec for protocol levels 3 (3.1), 4 (3.1.1) and 5:
 * a framing helper for streaming reads, a decoder that fills a view whose
 * pointers point into the input (no copies, no allocation), and an encoder
 * that appends to a loom_buf. Pure functions; session rules (topic aliases,
 * packet id reuse, receive maximum) belong to the layers above.
 *
 * Wire layout (integers big-endian; "str" = u16 length + bytes, UTF-8
 * checked [MQTT-1.5.4-1..2]; "bin" = u16 length + bytes; "props" = MQTT 5
 * property block, see mqtt/props.h, present only at level 5):
 *   fixed header: byte 0 = type << 4 | flags; then Remaining Length as a
 *     Variable Byte Integer (1-4 bytes, minimal) = bytes that follow.
 *     flags: PUBLISH = DUP(3) QoS(2-1) RETAIN(0); PUBREL, SUBSCRIBE,
 *     UNSUBSCRIBE = 0010; all others 0000 [MQTT-2.2.2-1..2].
 *   CONNECT:     str protocol name ("MQIsdp" level 3, "MQTT" 4/5), u8 level,
 *                u8 flags (7 username, 6 password, 5 will retain, 4-3 will
 *                QoS, 2 will, 1 clean session/start, 0 reserved = 0),
 *                u16 keep alive, props; payload: str client id,
 *                [will: props (5), str topic, bin payload], [str username],
 *                [bin password].
 *   CONNACK:     u8 flags (bit 0 session present, 7-1 = 0), u8 return /
 *                reason code, props.
 *   PUBLISH:     str topic, u16 packet id if QoS > 0, props, payload = rest.
 *   PUBACK, PUBREC, PUBREL, PUBCOMP: u16 packet id; level 5 adds u8 reason
 *                + props, both omissible (remaining length 2 = Success, 3 =
 *                no props).
 *   SUBSCRIBE:   u16 packet id, props, then 1+ of (str filter, u8 options:
 *                bits 1-0 QoS, 2 no-local, 3 retain-as-published, 5-4 retain
 *                handling, 7-6 reserved; levels 3/4: bits 7-2 reserved).
 *   SUBACK:      u16 packet id, props, 1+ u8 return / reason codes.
 *   UNSUBSCRIBE: u16 packet id, props, 1+ str filter.
 *   UNSUBACK:    u16 packet id; level 5: props, 1+ u8 reason codes.
 *   PINGREQ, PINGRESP: empty.
 *   DISCONNECT:  levels 3/4 empty; level 5: [u8 reason [props]].
 *   AUTH:        level 5 only: empty (= Success) or u8 reason + props.
 */
#ifndef LOOM_MQTT_CODEC_H
#define LOOM_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mqtt/props.h"

#define MQTT_LEVEL_31 3
#define MQTT_LEVEL_311 4
#define MQTT_LEVEL_5 5
#define MQTT_MAX_REMAINING 268435455u

/* A byte run inside the decoded input (or, for encoding, caller memory). */
typedef struct mqtt_bytes {
  const uint8_t *p;
  size_t len;
} mqtt_bytes;

/* One SUBSCRIBE / UNSUBSCRIBE entry. options is 0 for UNSUBSCRIBE. */
typedef struct mqtt_sub {
  mqtt_bytes filter;
  uint8_t options; /* raw options byte */
} mqtt_sub;

#define MQTT_SUBOPT_QOS(o) ((o) & 3u)
#define MQTT_SUBOPT_NO_LOCAL 0x04u
#define MQTT_SUBOPT_RAP 0x08u
#define MQTT_SUBOPT_RETAIN_HANDLING(o) (((o) >> 4) & 3u)

/* Decoded view / encoder input. Fields not used by a type are zero. For
 * encoding, `props` (and `will_props`) are property block bodies built with
 * mqtt_prop_append_* (ignored below level 5); SUBSCRIBE / UNSUBSCRIBE are
 * encoded from `subs`/`n_subs` when subs is non-NULL, else from `list`. */
typedef struct mqtt_packet {
  uint8_t type;  /* MQTT_CONNECT .. MQTT_AUTH */
  uint8_t flags; /* fixed header bits 3-0 (decode: as received) */
  uint8_t level; /* protocol level the packet was decoded / encoded for */
  mqtt_bytes props;
  /* CONNECT */
  mqtt_bytes proto_name;
  uint16_t keep_alive;
  bool clean_start, has_will, will_retain, has_username, has_password;
  uint8_t will_qos;
  mqtt_bytes client_id, will_props, will_topic, will_payload, username, password;
  /* CONNACK */
  bool session_present;
  /* CONNACK return code, ack / DISCONNECT / AUTH reason code */
  uint8_t reason;
  /* PUBLISH */
  uint8_t qos;
  bool dup, retain;
  mqtt_bytes topic, payload;
  /* PUBLISH (QoS > 0), PUBACK..PUBCOMP, SUBSCRIBE..UNSUBACK */
  uint16_t packet_id;
  /* SUBSCRIBE / UNSUBSCRIBE: raw entries (iterate with mqtt_sub_next);
   * SUBACK / UNSUBACK: one reason code per byte. n_entries counts them. */
  mqtt_bytes list;
  uint32_t n_entries;
  const mqtt_sub *subs; /* encode only */
  size_t n_subs;
} mqtt_packet;

/* Framing for streaming reads: is a whole packet at p[0..len)?
 * Returns 0 with *pkt_len = fixed header + remaining length; LOOM_ETRUNC
 * if more bytes are needed; LOOM_ERANGE if the packet would exceed
 * max_size bytes (0 = no limit; reason 0x95); LOOM_EINVAL if the Remaining
 * Length is malformed (> 4 bytes or not minimal; reason 0x81). err may be
 * NULL. */
int mqtt_frame(const uint8_t *p, size_t len, size_t max_size, size_t *pkt_len, mqtt_err *err);

/* Decode exactly one whole packet p[0..len) (as delimited by mqtt_frame).
 * level: the connection's protocol level (3, 4 or 5); ignored for CONNECT,
 * whose level comes from the packet. On success returns 0 and *out views
 * into p (p must outlive *out). On error returns a negative LOOM_E* code
 * and fills *err (may be NULL): LOOM_EINVAL with reason 0x81 (Malformed)
 * or 0x82 (Protocol Error), 0x85 (client id not valid), or LOOM_EUNSUP
 * with 0x84 (unsupported protocol name/level: levels 3/4 answer CONNACK
 * 0x01). MQTT 5 properties are fully validated (mqtt_props_validate). */
int mqtt_decode(const uint8_t *p, size_t len, uint8_t level, mqtt_packet *out, mqtt_err *err);

/* Append the encoding of pk for protocol level `level` to b. CONNECT uses
 * pk->level when non-zero, else `level`; proto_name is derived from the
 * level when empty. Flags are derived from the fields (PUBLISH qos/dup/
 * retain, CONNECT has_* bits). The encoder checks what keeps the output
 * decodable (QoS <= 2, non-zero packet ids where required, string lengths
 * <= 65535, remaining length <= 268,435,455, at least one SUBSCRIBE entry,
 * packet type valid for the level): LOOM_EINVAL / LOOM_ERANGE otherwise,
 * with b->len restored. LOOM_ENOMEM if the buffer cannot grow. */
int mqtt_encode(loom_buf *b, const mqtt_packet *pk, uint8_t level);

/* Iterate SUBSCRIBE / UNSUBSCRIBE entries of a decoded packet: *off starts
 * at 0; returns 1 with *out filled, 0 at the end. */
int mqtt_sub_next(const mqtt_packet *pk, size_t *off, mqtt_sub *out);

/* Name of packet type t ("PUBLISH"), "reserved" for 0 / out of range. */
const char *mqtt_type_name(uint8_t t);

#endif
