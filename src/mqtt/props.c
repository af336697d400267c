/* SPDX-License-Identifier: Apache-2.0
 * MQTT 5.0 properties: declarative tables of property ids (type, packets
 * allowed in) and reason codes (name, packets allowed in), UTF-8 string and
 * Variable Byte Integer rules, and a validator/iterator/encoder over raw
 * property bytes. Pure functions; see mqtt/props.h for the wire layout.
 */
#include "mqtt/props.h"

#include <string.h>

#include "core/err.h"

#define B(t) (1u << (t))
#define ALLP (B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_PUBLISH) | B(MQTT_PROPS_WILL) | \
              B(MQTT_PUBACK) | B(MQTT_PUBREC) | B(MQTT_PUBREL) | B(MQTT_PUBCOMP) |        \
              B(MQTT_SUBSCRIBE) | B(MQTT_SUBACK) | B(MQTT_UNSUBSCRIBE) |                  \
              B(MQTT_UNSUBACK) | B(MQTT_DISCONNECT) | B(MQTT_AUTH))
#define ACKS (B(MQTT_PUBACK) | B(MQTT_PUBREC) | B(MQTT_PUBREL) | B(MQTT_PUBCOMP))

typedef struct {
  uint8_t id;
  uint8_t type;
  uint32_t packets; /* bit per packet type, bit 0 = Will Properties */
  const char *name;
} prop_def;

/* MQTT 5.0 section 2.2.2.2, table 2-4: one line per property. */
static const prop_def props[] = {
  {0x01, MQTT_PT_BYTE, B(MQTT_PUBLISH) | B(MQTT_PROPS_WILL), "Payload Format Indicator"},
  {0x02, MQTT_PT_U32, B(MQTT_PUBLISH) | B(MQTT_PROPS_WILL), "Message Expiry Interval"},
  {0x03, MQTT_PT_UTF8, B(MQTT_PUBLISH) | B(MQTT_PROPS_WILL), "Content Type"},
  {0x08, MQTT_PT_UTF8, B(MQTT_PUBLISH) | B(MQTT_PROPS_WILL), "Response Topic"},
  {0x09, MQTT_PT_BINARY, B(MQTT_PUBLISH) | B(MQTT_PROPS_WILL), "Correlation Data"},
  {0x0B, MQTT_PT_VARINT, B(MQTT_PUBLISH) | B(MQTT_SUBSCRIBE), "Subscription Identifier"},
  {0x11, MQTT_PT_U32, B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_DISCONNECT), "Session Expiry Interval"},
  {0x12, MQTT_PT_UTF8, B(MQTT_CONNACK), "Assigned Client Identifier"},
  {0x13, MQTT_PT_U16, B(MQTT_CONNACK), "Server Keep Alive"},
  {0x15, MQTT_PT_UTF8, B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_AUTH), "Authentication Method"},
  {0x16, MQTT_PT_BINARY, B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_AUTH), "Authentication Data"},
  {0x17, MQTT_PT_BYTE, B(MQTT_CONNECT), "Request Problem Information"},
  {0x18, MQTT_PT_U32, B(MQTT_PROPS_WILL), "Will Delay Interval"},
  {0x19, MQTT_PT_BYTE, B(MQTT_CONNECT), "Request Response Information"},
  {0x1A, MQTT_PT_UTF8, B(MQTT_CONNACK), "Response Information"},
  {0x1C, MQTT_PT_UTF8, B(MQTT_CONNACK) | B(MQTT_DISCONNECT), "Server Reference"},
  {0x1F, MQTT_PT_UTF8, B(MQTT_CONNACK) | ACKS | B(MQTT_SUBACK) | B(MQTT_UNSUBACK) |
                           B(MQTT_DISCONNECT) | B(MQTT_AUTH), "Reason String"},
  {0x21, MQTT_PT_U16, B(MQTT_CONNECT) | B(MQTT_CONNACK), "Receive Maximum"},
  {0x22, MQTT_PT_U16, B(MQTT_CONNECT) | B(MQTT_CONNACK), "Topic Alias Maximum"},
  {0x23, MQTT_PT_U16, B(MQTT_PUBLISH), "Topic Alias"},
  {0x24, MQTT_PT_BYTE, B(MQTT_CONNACK), "Maximum QoS"},
  {0x25, MQTT_PT_BYTE, B(MQTT_CONNACK), "Retain Available"},
  {0x26, MQTT_PT_PAIR, ALLP, "User Property"},
  {0x27, MQTT_PT_U32, B(MQTT_CONNECT) | B(MQTT_CONNACK), "Maximum Packet Size"},
  {0x28, MQTT_PT_BYTE, B(MQTT_CONNACK), "Wildcard Subscription Available"},
  {0x29, MQTT_PT_BYTE, B(MQTT_CONNACK), "Subscription Identifier Available"},
  {0x2A, MQTT_PT_BYTE, B(MQTT_CONNACK), "Shared Subscription Available"},
};

#define CA B(MQTT_CONNACK)
#define PA B(MQTT_PUBACK)
#define PR B(MQTT_PUBREC)
#define PL B(MQTT_PUBREL)
#define PC B(MQTT_PUBCOMP)
#define SA B(MQTT_SUBACK)
#define UA B(MQTT_UNSUBACK)
#define DI B(MQTT_DISCONNECT)
#define AU B(MQTT_AUTH)

typedef struct {
  uint8_t rc;
  uint32_t packets;
  const char *name;
} reason_def;

/* MQTT 5.0 section 2.4, table 2-6: one line per reason code. */
static const reason_def reasons[] = {
  {0x00, CA | PA | PR | PL | PC | UA | AU | DI | SA, "Success"},
  {0x01, SA, "Granted QoS 1"},
  {0x02, SA, "Granted QoS 2"},
  {0x04, DI, "Disconnect with Will Message"},
  {0x10, PA | PR, "No matching subscribers"},
  {0x11, UA, "No subscription existed"},
  {0x18, AU, "Continue authentication"},
  {0x19, AU, "Re-authenticate"},
  {0x80, CA | PA | PR | SA | UA | DI, "Unspecified error"},
  {0x81, CA | DI, "Malformed Packet"},
  {0x82, CA | DI, "Protocol Error"},
  {0x83, CA | PA | PR | SA | UA | DI, "Implementation specific error"},
  {0x84, CA, "Unsupported Protocol Version"},
  {0x85, CA, "Client Identifier not valid"},
  {0x86, CA, "Bad User Name or Password"},
  {0x87, CA | PA | PR | SA | UA | DI, "Not authorized"},
  {0x88, CA, "Server unavailable"},
  {0x89, CA | DI, "Server busy"},
  {0x8A, CA, "Banned"},
  {0x8B, DI, "Server shutting down"},
  {0x8C, CA | DI, "Bad authentication method"},
  {0x8D, DI, "Keep Alive timeout"},
  {0x8E, DI, "Session taken over"},
  {0x8F, SA | UA | DI, "Topic Filter invalid"},
  {0x90, CA | PA | PR | DI, "Topic Name invalid"},
  {0x91, PA | PR | SA | UA, "Packet Identifier in use"},
  {0x92, PL | PC, "Packet Identifier not found"},
  {0x93, DI, "Receive Maximum exceeded"},
  {0x94, DI, "Topic Alias invalid"},
  {0x95, CA | DI, "Packet too large"},
  {0x96, DI, "Message rate too high"},
  {0x97, CA | PA | PR | SA | DI, "Quota exceeded"},
  {0x98, DI, "Administrative action"},
  {0x99, CA | PA | PR | DI, "Payload format invalid"},
  {0x9A, CA | DI, "Retain not supported"},
  {0x9B, CA | DI, "QoS not supported"},
  {0x9C, CA | DI, "Use another server"},
  {0x9D, CA | DI, "Server moved"},
  {0x9E, SA | DI, "Shared Subscriptions not supported"},
  {0x9F, CA | DI, "Connection rate exceeded"},
  {0xA0, DI, "Maximum connect time"},
  {0xA1, SA | DI, "Subscription Identifiers not supported"},
  {0xA2, SA | DI, "Wildcard Subscriptions not supported"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int mqtt_err_set(mqtt_err *err, int code, uint8_t reason, const char *msg) {
  if (err) {
    err->code = code;
    err->reason = reason;
    err->msg = msg;
  }
  return code;
}

int mqtt_utf8_check(const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = p[i];
    uint32_t cp;
    size_t n;
    if (c == 0) return LOOM_EINVAL; /* [MQTT-1.5.4-2] */
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return LOOM_EINVAL; /* continuation byte, overlong lead or > U+10FFFF */
    }
    if (len - i - 1 < n) return LOOM_EINVAL;
    for (size_t k = 1; k <= n; k++) {
      uint8_t cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return LOOM_EINVAL;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return LOOM_EINVAL; /* overlong or out of range */
    if (cp >= 0xD800 && cp <= 0xDFFF) return LOOM_EINVAL; /* [MQTT-1.5.4-1] */
    i += n + 1;
  }
  return 0;
}

int mqtt_varint_decode(const uint8_t *p, size_t len, uint32_t *v) {
  uint32_t val = 0;
  for (size_t i = 0; i < 4; i++) {
    if (i >= len) return 0;
    val |= (uint32_t)(p[i] & 0x7F) << (7 * i);
    if (!(p[i] & 0x80)) {
      if (i > 0 && p[i] == 0) return LOOM_EINVAL; /* not minimal [MQTT-1.5.5-1] */
      *v = val;
      return (int)i + 1;
    }
  }
  return LOOM_EINVAL; /* more than 4 bytes */
}

int mqtt_varint_size(uint32_t v) {
  if (v < 128u) return 1;
  if (v < 16384u) return 2;
  if (v < 2097152u) return 3;
  if (v <= 268435455u) return 4;
  return 0;
}

int mqtt_varint_append(loom_buf *b, uint32_t v) {
  uint8_t tmp[4];
  int n = mqtt_varint_size(v);
  if (n == 0) return LOOM_ERANGE;
  for (int i = 0; i < n; i++) {
    tmp[i] = (uint8_t)(v & 0x7F);
    v >>= 7;
    if (i + 1 < n) tmp[i] |= 0x80;
  }
  return loom_buf_append(b, tmp, (size_t)n);
}

static const prop_def *prop_find_def(uint8_t id) {
  for (size_t i = 0; i < N(props); i++)
    if (props[i].id == id) return &props[i];
  return NULL;
}

int mqtt_prop_type(uint8_t id) {
  const prop_def *d = prop_find_def(id);
  return d ? d->type : 0;
}

const char *mqtt_prop_name(uint8_t id) {
  const prop_def *d = prop_find_def(id);
  return d ? d->name : "unknown";
}

bool mqtt_prop_allowed(uint8_t id, int ptype) {
  const prop_def *d = prop_find_def(id);
  if (!d || ptype < 0 || ptype > 15) return false;
  return (d->packets & B(ptype)) != 0;
}

const char *mqtt_reason_name(uint8_t rc) {
  for (size_t i = 0; i < N(reasons); i++)
    if (reasons[i].rc == rc) return reasons[i].name;
  return "unknown";
}

bool mqtt_reason_allowed(uint8_t rc, int ptype) {
  if (ptype < 0 || ptype > 15) return false;
  for (size_t i = 0; i < N(reasons); i++)
    if (reasons[i].rc == rc) return (reasons[i].packets & B(ptype)) != 0;
  return false;
}

void mqtt_prop_it_init(mqtt_prop_it *it, const uint8_t *p, size_t len) {
  it->p = p;
  it->len = len;
  it->off = 0;
}

static int rd_str(const uint8_t *p, size_t len, size_t *off, const uint8_t **s, size_t *n) {
  if (len - *off < 2) return LOOM_EINVAL;
  size_t l = ((size_t)p[*off] << 8) | p[*off + 1];
  *off += 2;
  if (len - *off < l) return LOOM_EINVAL;
  *s = p + *off;
  *n = l;
  *off += l;
  return 0;
}

int mqtt_prop_next(mqtt_prop_it *it, mqtt_prop *out) {
  const uint8_t *p = it->p;
  size_t len = it->len, off = it->off;
  uint32_t id;
  if (off >= len) return 0;
  int n = mqtt_varint_decode(p + off, len - off, &id);
  if (n <= 0 || id > 0xFF) return LOOM_EINVAL;
  off += (size_t)n;
  memset(out, 0, sizeof(*out));
  out->id = (uint8_t)id;
  out->type = (uint8_t)mqtt_prop_type(out->id);
  switch (out->type) {
  case MQTT_PT_BYTE:
    if (len - off < 1) return LOOM_EINVAL;
    out->num = p[off++];
    break;
  case MQTT_PT_U16:
    if (len - off < 2) return LOOM_EINVAL;
    out->num = ((uint32_t)p[off] << 8) | p[off + 1];
    off += 2;
    break;
  case MQTT_PT_U32:
    if (len - off < 4) return LOOM_EINVAL;
    out->num = ((uint32_t)p[off] << 24) | ((uint32_t)p[off + 1] << 16) |
               ((uint32_t)p[off + 2] << 8) | p[off + 3];
    off += 4;
    break;
  case MQTT_PT_VARINT:
    n = mqtt_varint_decode(p + off, len - off, &out->num);
    if (n <= 0) return LOOM_EINVAL;
    off += (size_t)n;
    break;
  case MQTT_PT_UTF8:
  case MQTT_PT_BINARY:
    if (rd_str(p, len, &off, &out->s, &out->s_len) < 0) return LOOM_EINVAL;
    break;
  case MQTT_PT_PAIR:
    if (rd_str(p, len, &off, &out->s, &out->s_len) < 0) return LOOM_EINVAL;
    if (rd_str(p, len, &off, &out->v, &out->v_len) < 0) return LOOM_EINVAL;
    break;
  default:
    return LOOM_EINVAL; /* unknown id: cannot know its length */
  }
  it->off = off;
  return 1;
}

int mqtt_props_find(const uint8_t *p, size_t len, uint8_t id, mqtt_prop *out) {
  mqtt_prop_it it;
  mqtt_prop pr;
  int rc;
  mqtt_prop_it_init(&it, p, len);
  while ((rc = mqtt_prop_next(&it, &pr)) == 1) {
    if (pr.id == id) {
      if (out) *out = pr;
      return 0;
    }
  }
  return rc < 0 ? rc : LOOM_ENOTFOUND;
}

static bool is_bool_prop(uint8_t id) {
  return id == MQTT_P_PAYLOAD_FORMAT || id == MQTT_P_REQUEST_PROBLEM_INFO ||
         id == MQTT_P_REQUEST_RESPONSE_INFO || id == MQTT_P_MAXIMUM_QOS ||
         id == MQTT_P_RETAIN_AVAILABLE || id == MQTT_P_WILDCARD_SUB_AVAILABLE ||
         id == MQTT_P_SUB_ID_AVAILABLE || id == MQTT_P_SHARED_SUB_AVAILABLE;
}

int mqtt_props_validate(const uint8_t *p, size_t len, int ptype, mqtt_err *err) {
  uint64_t seen = 0; /* bit per id (all ids < 64) */
  mqtt_prop_it it;
  mqtt_prop pr;
  int rc;
  mqtt_prop_it_init(&it, p, len);
  while ((rc = mqtt_prop_next(&it, &pr)) == 1) {
    if (!mqtt_prop_allowed(pr.id, ptype))
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "property not allowed in this packet");
    bool multi = pr.id == MQTT_P_USER_PROPERTY ||
                 (pr.id == MQTT_P_SUBSCRIPTION_ID && ptype == MQTT_PUBLISH);
    if (!multi && (seen & ((uint64_t)1 << pr.id)))
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "property included more than once");
    seen |= (uint64_t)1 << pr.id;
    if (is_bool_prop(pr.id) && pr.num > 1)
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "property value must be 0 or 1");
    if ((pr.id == MQTT_P_RECEIVE_MAXIMUM || pr.id == MQTT_P_MAXIMUM_PACKET_SIZE ||
         pr.id == MQTT_P_TOPIC_ALIAS || pr.id == MQTT_P_SUBSCRIPTION_ID) && pr.num == 0)
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "property value must not be 0");
    if (pr.type == MQTT_PT_UTF8 || pr.type == MQTT_PT_PAIR) {
      if (mqtt_utf8_check(pr.s, pr.s_len) < 0 ||
          (pr.type == MQTT_PT_PAIR && mqtt_utf8_check(pr.v, pr.v_len) < 0))
        return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_MALFORMED, "property string not valid UTF-8");
    }
  }
  if (rc < 0) {
    if (it.off < len) {
      uint32_t id;
      if (mqtt_varint_decode(p + it.off, len - it.off, &id) > 0 && id <= 0xFF &&
          mqtt_prop_type((uint8_t)id) == 0)
        return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_MALFORMED, "unknown property identifier");
    }
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_MALFORMED, "malformed property");
  }
  if ((seen & ((uint64_t)1 << MQTT_P_AUTH_DATA)) && !(seen & ((uint64_t)1 << MQTT_P_AUTH_METHOD)))
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "Authentication Data without Authentication Method");
  return 0;
}

static int put_id(loom_buf *b, uint8_t id) { return loom_buf_append(b, &id, 1); }

static int put_str(loom_buf *b, const void *s, size_t len) {
  uint8_t h[2];
  if (len > 0xFFFF) return LOOM_ERANGE;
  h[0] = (uint8_t)(len >> 8);
  h[1] = (uint8_t)len;
  int rc = loom_buf_append(b, h, 2);
  if (rc == 0 && len) rc = loom_buf_append(b, s, len);
  return rc;
}

int mqtt_prop_append_num(loom_buf *b, uint8_t id, uint32_t v) {
  uint8_t tmp[4];
  int t = mqtt_prop_type(id), rc;
  if (t != MQTT_PT_BYTE && t != MQTT_PT_U16 && t != MQTT_PT_U32 && t != MQTT_PT_VARINT)
    return LOOM_EINVAL;
  if ((t == MQTT_PT_BYTE && v > 0xFF) || (t == MQTT_PT_U16 && v > 0xFFFF) ||
      (t == MQTT_PT_VARINT && mqtt_varint_size(v) == 0))
    return LOOM_ERANGE;
  if ((rc = put_id(b, id)) < 0) return rc;
  switch (t) {
  case MQTT_PT_BYTE:
    tmp[0] = (uint8_t)v;
    return loom_buf_append(b, tmp, 1);
  case MQTT_PT_U16:
    tmp[0] = (uint8_t)(v >> 8);
    tmp[1] = (uint8_t)v;
    return loom_buf_append(b, tmp, 2);
  case MQTT_PT_U32:
    tmp[0] = (uint8_t)(v >> 24);
    tmp[1] = (uint8_t)(v >> 16);
    tmp[2] = (uint8_t)(v >> 8);
    tmp[3] = (uint8_t)v;
    return loom_buf_append(b, tmp, 4);
  default:
    return mqtt_varint_append(b, v);
  }
}

int mqtt_prop_append_bytes(loom_buf *b, uint8_t id, const void *s, size_t len) {
  int t = mqtt_prop_type(id), rc;
  if (t != MQTT_PT_UTF8 && t != MQTT_PT_BINARY) return LOOM_EINVAL;
  if (len > 0xFFFF) return LOOM_ERANGE;
  if ((rc = put_id(b, id)) < 0) return rc;
  return put_str(b, s, len);
}

int mqtt_prop_append_pair(loom_buf *b, const void *k, size_t k_len, const void *v, size_t v_len) {
  int rc;
  if (k_len > 0xFFFF || v_len > 0xFFFF) return LOOM_ERANGE;
  if ((rc = put_id(b, MQTT_P_USER_PROPERTY)) < 0) return rc;
  if ((rc = put_str(b, k, k_len)) < 0) return rc;
  return put_str(b, v, v_len);
}
