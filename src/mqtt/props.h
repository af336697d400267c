/* SPDX-License-Identifier: Apache-2.0
 * MQTT 5.0 properties (spec section 2.2.2): a pure validator, iterator and
 * encoder over raw property bytes, plus the reason code table, the UTF-8
 * string rules [MQTT-1.5.4-1..3] and the MQTT error triple (code, reason
 * code to send, static message) shared with mqtt/codec.h. No allocation.
 *
 * Wire layout of a property block (all integers big-endian):
 *   varint  len        Variable Byte Integer, 1-4 bytes, minimal [MQTT-1.5.5-1]
 *   len bytes of properties, each:
 *     varint id        property identifier (all defined ids fit in 1 byte)
 *     value            by type: BYTE 1 byte; U16 2 bytes; U32 4 bytes;
 *                      VARINT 1-4 bytes; UTF8 = u16 length + bytes;
 *                      BINARY = u16 length + bytes; PAIR = two UTF8 strings
 */
#ifndef LOOM_MQTT_PROPS_H
#define LOOM_MQTT_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Error detail: code is a LOOM_E* value, reason the MQTT 5 reason code to
 * send (0x81 Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported
 * Protocol Version, 0x85 Client Identifier not valid, 0x95 Packet too
 * large, ...), msg a short static string. */
typedef struct mqtt_err {
  int code;
  uint8_t reason;
  const char *msg;
} mqtt_err;

/* Packet types (fixed header bits 7-4). 0 is reserved on the wire; the
 * property tables use it for "Will Properties" (MQTT_PROPS_WILL). */
enum {
  MQTT_CONNECT = 1, MQTT_CONNACK = 2, MQTT_PUBLISH = 3, MQTT_PUBACK = 4,
  MQTT_PUBREC = 5, MQTT_PUBREL = 6, MQTT_PUBCOMP = 7, MQTT_SUBSCRIBE = 8,
  MQTT_SUBACK = 9, MQTT_UNSUBSCRIBE = 10, MQTT_UNSUBACK = 11,
  MQTT_PINGREQ = 12, MQTT_PINGRESP = 13, MQTT_DISCONNECT = 14, MQTT_AUTH = 15
};
#define MQTT_PROPS_WILL 0

/* Property value types. */
enum {
  MQTT_PT_BYTE = 1, MQTT_PT_U16, MQTT_PT_U32, MQTT_PT_VARINT,
  MQTT_PT_UTF8, MQTT_PT_BINARY, MQTT_PT_PAIR
};

/* Property identifiers (MQTT 5.0 table 2-4). */
enum {
  MQTT_P_PAYLOAD_FORMAT = 0x01, MQTT_P_MESSAGE_EXPIRY = 0x02,
  MQTT_P_CONTENT_TYPE = 0x03, MQTT_P_RESPONSE_TOPIC = 0x08,
  MQTT_P_CORRELATION_DATA = 0x09, MQTT_P_SUBSCRIPTION_ID = 0x0B,
  MQTT_P_SESSION_EXPIRY = 0x11, MQTT_P_ASSIGNED_CLIENT_ID = 0x12,
  MQTT_P_SERVER_KEEP_ALIVE = 0x13, MQTT_P_AUTH_METHOD = 0x15,
  MQTT_P_AUTH_DATA = 0x16, MQTT_P_REQUEST_PROBLEM_INFO = 0x17,
  MQTT_P_WILL_DELAY = 0x18, MQTT_P_REQUEST_RESPONSE_INFO = 0x19,
  MQTT_P_RESPONSE_INFO = 0x1A, MQTT_P_SERVER_REFERENCE = 0x1C,
  MQTT_P_REASON_STRING = 0x1F, MQTT_P_RECEIVE_MAXIMUM = 0x21,
  MQTT_P_TOPIC_ALIAS_MAXIMUM = 0x22, MQTT_P_TOPIC_ALIAS = 0x23,
  MQTT_P_MAXIMUM_QOS = 0x24, MQTT_P_RETAIN_AVAILABLE = 0x25,
  MQTT_P_USER_PROPERTY = 0x26, MQTT_P_MAXIMUM_PACKET_SIZE = 0x27,
  MQTT_P_WILDCARD_SUB_AVAILABLE = 0x28, MQTT_P_SUB_ID_AVAILABLE = 0x29,
  MQTT_P_SHARED_SUB_AVAILABLE = 0x2A
};

/* One decoded property; pointers are views into the input. */
typedef struct mqtt_prop {
  uint8_t id;
  uint8_t type;     /* MQTT_PT_* */
  uint32_t num;     /* BYTE, U16, U32, VARINT values */
  const uint8_t *s; /* UTF8/BINARY value, PAIR key */
  size_t s_len;
  const uint8_t *v; /* PAIR value */
  size_t v_len;
} mqtt_prop;

/* Iterator over a validated property block (bytes after the length). */
typedef struct mqtt_prop_it {
  const uint8_t *p;
  size_t len;
  size_t off;
} mqtt_prop_it;

/* Fill *err with code, reason and msg; returns code. */
int mqtt_err_set(mqtt_err *err, int code, uint8_t reason, const char *msg);

/* 0 if p[0..len) is a well-formed MQTT UTF-8 string: valid UTF-8, no
 * overlong forms, no surrogates U+D800..U+DFFF [MQTT-1.5.4-1], no U+0000
 * [MQTT-1.5.4-2], nothing above U+10FFFF; else LOOM_EINVAL. */
int mqtt_utf8_check(const uint8_t *p, size_t len);

/* Variable Byte Integer: decode at p[0..len). Returns the bytes used (1-4)
 * with *v set, 0 if more bytes are needed, or LOOM_EINVAL if a 5th byte
 * would be needed [MQTT-1.5.5-1] or the encoding is not minimal. */
int mqtt_varint_decode(const uint8_t *p, size_t len, uint32_t *v);
/* Bytes needed to encode v (1-4), or 0 if v > 268,435,455. */
int mqtt_varint_size(uint32_t v);
/* Append v as a Variable Byte Integer. LOOM_ERANGE if v is too big. */
int mqtt_varint_append(loom_buf *b, uint32_t v);

/* Type (MQTT_PT_*) of property id, 0 if unknown. */
int mqtt_prop_type(uint8_t id);
/* Name of property id ("Session Expiry Interval"), "unknown" if unknown. */
const char *mqtt_prop_name(uint8_t id);
/* true if property id may appear in packet type ptype (MQTT_PROPS_WILL for
 * the CONNECT Will Properties). */
bool mqtt_prop_allowed(uint8_t id, int ptype);

/* Validate a property block body p[0..len) for packet type ptype: every
 * property known, well-formed and allowed there, no duplicates except User
 * Property (and Subscription Identifier in PUBLISH), values in range
 * (boolean bytes 0/1, Receive Maximum / Maximum Packet Size / Topic Alias /
 * Subscription Identifier non-zero, Authentication Data only with
 * Authentication Method). Malformed -> LOOM_EINVAL/0x81; known but wrong
 * place, twice or bad value -> LOOM_EINVAL/0x82. */
int mqtt_props_validate(const uint8_t *p, size_t len, int ptype, mqtt_err *err);

/* Iterate a block already passed by mqtt_props_validate. */
void mqtt_prop_it_init(mqtt_prop_it *it, const uint8_t *p, size_t len);
/* 1 with *out filled, 0 at the end, LOOM_EINVAL on malformed bytes. */
int mqtt_prop_next(mqtt_prop_it *it, mqtt_prop *out);
/* First property with this id: 0 with *out, LOOM_ENOTFOUND if absent. */
int mqtt_props_find(const uint8_t *p, size_t len, uint8_t id, mqtt_prop *out);

/* Append one property (body only; the packet encoders write the block
 * length). LOOM_EINVAL if id is unknown or the call does not match its
 * type, LOOM_ERANGE if a value does not fit. */
int mqtt_prop_append_num(loom_buf *b, uint8_t id, uint32_t v);
int mqtt_prop_append_bytes(loom_buf *b, uint8_t id, const void *s, size_t len);
int mqtt_prop_append_pair(loom_buf *b, const void *k, size_t k_len,
                          const void *v, size_t v_len);

/* Reason codes (MQTT 5.0 section 2.4). */
enum {
  MQTT_RC_SUCCESS = 0x00, MQTT_RC_GRANTED_QOS1 = 0x01, MQTT_RC_GRANTED_QOS2 = 0x02,
  MQTT_RC_DISCONNECT_WITH_WILL = 0x04, MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
  MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11, MQTT_RC_CONTINUE_AUTH = 0x18,
  MQTT_RC_REAUTHENTICATE = 0x19, MQTT_RC_UNSPECIFIED = 0x80,
  MQTT_RC_MALFORMED = 0x81, MQTT_RC_PROTOCOL_ERROR = 0x82,
  MQTT_RC_IMPL_SPECIFIC = 0x83, MQTT_RC_UNSUPPORTED_VERSION = 0x84,
  MQTT_RC_CLIENT_ID_INVALID = 0x85, MQTT_RC_BAD_USER_PASS = 0x86,
  MQTT_RC_NOT_AUTHORIZED = 0x87, MQTT_RC_SERVER_UNAVAILABLE = 0x88,
  MQTT_RC_SERVER_BUSY = 0x89, MQTT_RC_BANNED = 0x8A,
  MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B, MQTT_RC_BAD_AUTH_METHOD = 0x8C,
  MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D, MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
  MQTT_RC_TOPIC_FILTER_INVALID = 0x8F, MQTT_RC_TOPIC_NAME_INVALID = 0x90,
  MQTT_RC_PACKET_ID_IN_USE = 0x91, MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
  MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93, MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
  MQTT_RC_PACKET_TOO_LARGE = 0x95, MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
  MQTT_RC_QUOTA_EXCEEDED = 0x97, MQTT_RC_ADMIN_ACTION = 0x98,
  MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99, MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
  MQTT_RC_QOS_NOT_SUPPORTED = 0x9B, MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
  MQTT_RC_SERVER_MOVED = 0x9D, MQTT_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
  MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F, MQTT_RC_MAX_CONNECT_TIME = 0xA0,
  MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1, MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2
};

/* Name of reason code rc ("Malformed Packet"); "unknown" if undefined.
 * 0x00 reads "Success". */
const char *mqtt_reason_name(uint8_t rc);
/* true if rc is a reason code MQTT 5 allows in packet type ptype. */
bool mqtt_reason_allowed(uint8_t rc, int ptype);

#endif
