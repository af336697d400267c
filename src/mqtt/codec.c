/* SPDX-License-Identifier: Apache-2.0
 * MQTT 3.1 / 3.1.1 / 5.0 control packet codec: framing, a zero-copy decoder
 * that enforces the per-packet malformed / protocol-error rules (normative
 * ids quoted next to each check), and an encoder into a loom_buf. Pure
 * functions over bytes; the layouts are documented in mqtt/codec.h.
 */
#include "mqtt/codec.h"

#include <string.h>

#include "core/err.h"

#define MALFORMED(msg) mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_MALFORMED, msg)
#define PROTOCOL(msg) mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, msg)

typedef struct {
  const uint8_t *p;
  size_t len, off;
} rd;

static const char *const type_names[16] = {
  "reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
  "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"};

const char *mqtt_type_name(uint8_t t) { return t < 16 ? type_names[t] : "reserved"; }

static size_t left(const rd *r) { return r->len - r->off; }

static int get_u8(rd *r, uint8_t *v) {
  if (left(r) < 1) return LOOM_EINVAL;
  *v = r->p[r->off++];
  return 0;
}

static int get_u16(rd *r, uint16_t *v) {
  if (left(r) < 2) return LOOM_EINVAL;
  *v = (uint16_t)(((unsigned)r->p[r->off] << 8) | r->p[r->off + 1]);
  r->off += 2;
  return 0;
}

static int get_bin(rd *r, mqtt_bytes *out) {
  uint16_t n;
  if (get_u16(r, &n) < 0 || left(r) < n) return LOOM_EINVAL;
  out->p = r->p + r->off;
  out->len = n;
  r->off += n;
  return 0;
}

/* UTF-8 string: length-prefixed and well-formed, 5 [MQTT-1.5.4-1..2] = 3.1.1 [MQTT-1.5.3-1..2]. */
static int get_str(rd *r, mqtt_bytes *out, mqtt_err *err) {
  if (get_bin(r, out) < 0) return MALFORMED("string runs past the packet");
  if (mqtt_utf8_check(out->p, out->len) < 0) return MALFORMED("string is not valid MQTT UTF-8");
  return 0;
}

static int get_props(rd *r, int ptype, mqtt_bytes *out, mqtt_err *err) {
  uint32_t n;
  int k = mqtt_varint_decode(r->p + r->off, left(r), &n);
  if (k <= 0) return MALFORMED("bad property length");
  r->off += (size_t)k;
  if (left(r) < n) return MALFORMED("properties run past the packet");
  out->p = r->p + r->off;
  out->len = n;
  r->off += n;
  return mqtt_props_validate(out->p, out->len, ptype, err);
}

static int get_pid(rd *r, uint16_t *pid, mqtt_err *err) {
  if (get_u16(r, pid) < 0) return MALFORMED("missing packet identifier");
  if (*pid == 0) return MALFORMED("packet identifier must be non-zero"); /* [MQTT-2.3.1-1] */
  return 0;
}

int mqtt_frame(const uint8_t *p, size_t len, size_t max_size, size_t *pkt_len, mqtt_err *err) {
  uint32_t rl;
  if (len < 2) return mqtt_err_set(err, LOOM_ETRUNC, 0, "need more bytes");
  int n = mqtt_varint_decode(p + 1, len - 1, &rl);
  if (n < 0) return MALFORMED("bad remaining length"); /* [MQTT-1.5.5-1] */
  if (n == 0) return mqtt_err_set(err, LOOM_ETRUNC, 0, "need more bytes");
  size_t total = 1 + (size_t)n + rl;
  if (max_size && total > max_size)
    return mqtt_err_set(err, LOOM_ERANGE, MQTT_RC_PACKET_TOO_LARGE, "packet too large");
  if (len < total) return mqtt_err_set(err, LOOM_ETRUNC, 0, "need more bytes");
  *pkt_len = total;
  return 0;
}

static bool has_wildcard(const mqtt_bytes *s) {
  return memchr(s->p, '+', s->len) || memchr(s->p, '#', s->len);
}

static int dec_connect(rd *r, mqtt_packet *o, mqtt_err *err) {
  uint8_t f;
  if (get_bin(r, &o->proto_name) < 0 || get_u8(r, &o->level) < 0)
    return MALFORMED("truncated CONNECT header");
  bool mqtt = o->proto_name.len == 4 && memcmp(o->proto_name.p, "MQTT", 4) == 0;
  bool mqisdp = o->proto_name.len == 6 && memcmp(o->proto_name.p, "MQIsdp", 6) == 0;
  if (!mqtt && !mqisdp) /* [MQTT-3.1.2-1] */
    return mqtt_err_set(err, LOOM_EUNSUP, MQTT_RC_UNSUPPORTED_VERSION, "unsupported protocol name");
  if ((mqtt && o->level != 4 && o->level != 5) || (mqisdp && o->level != 3)) /* [MQTT-3.1.2-2] */
    return mqtt_err_set(err, LOOM_EUNSUP, MQTT_RC_UNSUPPORTED_VERSION, "unsupported protocol level");
  if (get_u8(r, &f) < 0 || get_u16(r, &o->keep_alive) < 0) return MALFORMED("truncated CONNECT header");
  if (f & 0x01) return MALFORMED("CONNECT reserved flag set"); /* [MQTT-3.1.2-3] */
  o->clean_start = (f & 0x02) != 0;
  o->has_will = (f & 0x04) != 0;
  o->will_qos = (f >> 3) & 3;
  o->will_retain = (f & 0x20) != 0;
  o->has_password = (f & 0x40) != 0;
  o->has_username = (f & 0x80) != 0;
  if (o->will_qos == 3) return MALFORMED("will QoS 3"); /* 3.1.1 [MQTT-3.1.2-14], 5 [MQTT-3.1.2-12] */
  if (!o->has_will && (o->will_qos || o->will_retain)) /* 3.1.1 [MQTT-3.1.2-13,15], 5 [-11,-13] */
    return MALFORMED("will QoS/retain set without will flag");
  if (o->level < 5 && o->has_password && !o->has_username) /* 3.1.1 [MQTT-3.1.2-22] */
    return MALFORMED("password without user name");
  int rc;
  if (o->level == 5 && (rc = get_props(r, MQTT_CONNECT, &o->props, err)) < 0) return rc;
  if ((rc = get_str(r, &o->client_id, err)) < 0) return rc; /* [MQTT-3.1.3-4] */
  if (o->client_id.len == 0 && o->level == 3)
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_CLIENT_ID_INVALID, "empty client id (MQTT 3.1)");
  if (o->client_id.len == 0 && o->level == 4 && !o->clean_start) /* [MQTT-3.1.3-8] */
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_CLIENT_ID_INVALID, "empty client id needs clean session");
  if (o->has_will) {
    if (o->level == 5 && (rc = get_props(r, MQTT_PROPS_WILL, &o->will_props, err)) < 0) return rc;
    if ((rc = get_str(r, &o->will_topic, err)) < 0) return rc;
    if (o->will_topic.len == 0 || has_wildcard(&o->will_topic)) /* topic name rules [MQTT-3.3.2-2], [MQTT-4.7.3-1] */
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_TOPIC_NAME_INVALID, "will topic empty or has wildcards");
    if (get_bin(r, &o->will_payload) < 0) return MALFORMED("truncated will payload");
  }
  if (o->has_username && (rc = get_str(r, &o->username, err)) < 0) return rc; /* [MQTT-3.1.3-11] */
  if (o->has_password && get_bin(r, &o->password) < 0) return MALFORMED("truncated password");
  if (left(r)) return MALFORMED("bytes after CONNECT payload");
  return 0;
}

static int dec_connack(rd *r, mqtt_packet *o, mqtt_err *err) {
  uint8_t f;
  int rc;
  if (get_u8(r, &f) < 0 || get_u8(r, &o->reason) < 0) return MALFORMED("truncated CONNACK");
  if (f & 0xFE) return MALFORMED("CONNACK reserved flags set"); /* 3.1.1 [MQTT-3.2.2-1] */
  o->session_present = f & 1;
  if (o->session_present && o->reason != 0) /* 3.1.1 [MQTT-3.2.2-4], 5 [MQTT-3.2.2-6] */
    return PROTOCOL("session present with a non-zero return code");
  if (o->level < 5) {
    if (o->reason > 5) return MALFORMED("CONNACK return code reserved");
    if (left(r)) return MALFORMED("bytes after CONNACK");
    return 0;
  }
  if (!mqtt_reason_allowed(o->reason, MQTT_CONNACK)) return PROTOCOL("reason code not allowed in CONNACK");
  if ((rc = get_props(r, MQTT_CONNACK, &o->props, err)) < 0) return rc;
  if (left(r)) return MALFORMED("bytes after CONNACK properties");
  return 0;
}

static int dec_publish(rd *r, mqtt_packet *o, mqtt_err *err) {
  int rc;
  o->qos = (o->flags >> 1) & 3;
  o->dup = (o->flags & 8) != 0;
  o->retain = (o->flags & 1) != 0;
  if (o->qos == 3) return MALFORMED("PUBLISH QoS 3"); /* [MQTT-3.3.1-4] */
  if (o->qos == 0 && o->dup) return MALFORMED("DUP set on QoS 0 PUBLISH"); /* [MQTT-3.3.1-2] */
  if ((rc = get_str(r, &o->topic, err)) < 0) return rc;
  if (has_wildcard(&o->topic)) /* [MQTT-3.3.2-2] */
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_TOPIC_NAME_INVALID, "wildcard in topic name");
  if (o->qos && (rc = get_pid(r, &o->packet_id, err)) < 0) return rc;
  if (o->level == 5 && (rc = get_props(r, MQTT_PUBLISH, &o->props, err)) < 0) return rc;
  if (o->topic.len == 0) {
    /* [MQTT-4.7.3-1]; MQTT 5 allows it only with a Topic Alias (3.3.2.1) */
    if (o->level < 5) return MALFORMED("empty topic name");
    if (mqtt_props_find(o->props.p, o->props.len, MQTT_P_TOPIC_ALIAS, NULL) < 0)
      return PROTOCOL("empty topic name without Topic Alias");
  }
  o->payload.p = r->p + r->off;
  o->payload.len = left(r);
  r->off = r->len;
  return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
static int dec_ack(rd *r, mqtt_packet *o, mqtt_err *err) {
  int rc;
  if ((rc = get_pid(r, &o->packet_id, err)) < 0) return rc;
  if (o->level < 5) {
    if (left(r)) return MALFORMED("bytes after packet identifier");
    return 0;
  }
  if (!left(r)) return 0; /* Success, no properties (3.4.2.1) */
  get_u8(r, &o->reason);
  if (!mqtt_reason_allowed(o->reason, o->type)) return PROTOCOL("reason code not allowed in this packet");
  if (!left(r)) return 0;
  if ((rc = get_props(r, o->type, &o->props, err)) < 0) return rc;
  if (left(r)) return MALFORMED("bytes after properties");
  return 0;
}

static int dec_subscribe(rd *r, mqtt_packet *o, mqtt_err *err) {
  int rc;
  bool sub = o->type == MQTT_SUBSCRIBE;
  if ((rc = get_pid(r, &o->packet_id, err)) < 0) return rc;
  if (o->level == 5 && (rc = get_props(r, o->type, &o->props, err)) < 0) return rc;
  o->list.p = r->p + r->off;
  o->list.len = left(r);
  while (left(r)) {
    mqtt_bytes f;
    uint8_t opt;
    if ((rc = get_str(r, &f, err)) < 0) return rc; /* [MQTT-3.8.3-1], [MQTT-3.10.3-1] */
    if (f.len == 0) return MALFORMED("empty topic filter"); /* [MQTT-4.7.3-1] */
    if (sub) {
      if (get_u8(r, &opt) < 0) return MALFORMED("missing subscription options");
      if (o->level < 5 && (opt & 0xFC)) return MALFORMED("SUBSCRIBE reserved bits set"); /* 3.1.1 [MQTT-3-8.3-4] */
      if (o->level == 5 && (opt & 0xC0)) return MALFORMED("SUBSCRIBE reserved bits set"); /* 5 [MQTT-3.8.3-5] */
      if ((opt & 3) == 3) return MALFORMED("subscription QoS 3");
      if (((opt >> 4) & 3) == 3) return PROTOCOL("retain handling 3");
      if ((opt & MQTT_SUBOPT_NO_LOCAL) && f.len >= 7 && memcmp(f.p, "$share/", 7) == 0)
        return PROTOCOL("no-local on a shared subscription"); /* 5 [MQTT-3.8.3-4] */
    }
    o->n_entries++;
  }
  if (o->n_entries == 0) /* [MQTT-3.8.3-3] (3.1.1 and 5), [MQTT-3.10.3-2] */
    return PROTOCOL("SUBSCRIBE/UNSUBSCRIBE without a topic filter");
  return 0;
}

static bool suback_code_ok(uint8_t c, uint8_t level) {
  if (level < 5) return c <= 2 || c == 0x80; /* 3.1.1 [MQTT-3.9.3-2] */
  return mqtt_reason_allowed(c, MQTT_SUBACK);
}

static int dec_suback(rd *r, mqtt_packet *o, mqtt_err *err) {
  int rc;
  if ((rc = get_pid(r, &o->packet_id, err)) < 0) return rc;
  if (o->type == MQTT_UNSUBACK && o->level < 5) {
    if (left(r)) return MALFORMED("bytes after UNSUBACK packet identifier");
    return 0;
  }
  if (o->level == 5 && (rc = get_props(r, o->type, &o->props, err)) < 0) return rc;
  o->list.p = r->p + r->off;
  o->list.len = left(r);
  if (o->list.len == 0) return PROTOCOL("no reason codes");
  for (size_t i = 0; i < o->list.len; i++) {
    bool ok = o->type == MQTT_SUBACK ? suback_code_ok(o->list.p[i], o->level)
                                      : mqtt_reason_allowed(o->list.p[i], MQTT_UNSUBACK);
    if (!ok) return PROTOCOL("reason code not allowed");
  }
  o->n_entries = (uint32_t)o->list.len;
  r->off = r->len;
  return 0;
}

/* DISCONNECT and AUTH (level 5 forms; levels 3/4 DISCONNECT is empty). */
static int dec_disconnect(rd *r, mqtt_packet *o, mqtt_err *err) {
  int rc;
  if (o->level < 5) {
    if (left(r)) return MALFORMED("DISCONNECT must be empty");
    return 0;
  }
  if (!left(r)) return 0; /* 3.14.2.1 / 3.15.2.1: no reason code = 0x00 */
  get_u8(r, &o->reason);
  if (!mqtt_reason_allowed(o->reason, o->type)) return PROTOCOL("reason code not allowed in this packet");
  /* DISCONNECT may stop after the reason code (3.14.2.2.1); AUTH omits
   * reason and properties only together (3.15.2.1) */
  if (!left(r) && o->type == MQTT_AUTH) return MALFORMED("AUTH reason code without properties");
  if (!left(r)) return 0;
  if ((rc = get_props(r, o->type, &o->props, err)) < 0) return rc;
  if (left(r)) return MALFORMED("bytes after properties");
  return 0;
}

int mqtt_decode(const uint8_t *p, size_t len, uint8_t level, mqtt_packet *out, mqtt_err *err) {
  uint32_t rl;
  rd r;
  memset(out, 0, sizeof(*out));
  mqtt_err_set(err, 0, 0, NULL);
  if (len < 2) return MALFORMED("packet shorter than a fixed header");
  int n = mqtt_varint_decode(p + 1, len - 1, &rl);
  if (n <= 0) return MALFORMED("bad remaining length"); /* [MQTT-1.5.5-1] */
  if (1 + (size_t)n + rl != len) return MALFORMED("remaining length does not match the packet");
  out->type = p[0] >> 4;
  out->flags = p[0] & 0x0F;
  if (out->type != MQTT_CONNECT) {
    if (level < 3 || level > 5)
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "bad protocol level argument");
    out->level = level;
  }
  if (out->type == 0 || (out->type == MQTT_AUTH && level < 5 && out->type != MQTT_CONNECT))
    return MALFORMED("reserved packet type"); /* [MQTT-2.2.1] */
  uint8_t want = (out->type == MQTT_PUBREL || out->type == MQTT_SUBSCRIBE ||
                  out->type == MQTT_UNSUBSCRIBE) ? 0x02 : 0x00;
  if (out->type != MQTT_PUBLISH && out->flags != want) /* [MQTT-2.2.2-1..2] */
    return MALFORMED("bad fixed header flags");
  r.p = p;
  r.len = len;
  r.off = 1 + (size_t)n;
  switch (out->type) {
  case MQTT_CONNECT: return dec_connect(&r, out, err);
  case MQTT_CONNACK: return dec_connack(&r, out, err);
  case MQTT_PUBLISH: return dec_publish(&r, out, err);
  case MQTT_PUBACK:
  case MQTT_PUBREC:
  case MQTT_PUBREL:
  case MQTT_PUBCOMP: return dec_ack(&r, out, err);
  case MQTT_SUBSCRIBE:
  case MQTT_UNSUBSCRIBE: return dec_subscribe(&r, out, err);
  case MQTT_SUBACK:
  case MQTT_UNSUBACK: return dec_suback(&r, out, err);
  case MQTT_PINGREQ:
  case MQTT_PINGRESP:
    if (rl) return MALFORMED("PINGREQ/PINGRESP must be empty");
    return 0;
  default: return dec_disconnect(&r, out, err); /* DISCONNECT, AUTH */
  }
}

int mqtt_sub_next(const mqtt_packet *pk, size_t *off, mqtt_sub *out) {
  const uint8_t *p = pk->list.p;
  size_t len = pk->list.len, o = *off;
  if (o + 2 > len) return 0;
  size_t n = ((size_t)p[o] << 8) | p[o + 1];
  size_t extra = pk->type == MQTT_SUBSCRIBE ? 1 : 0;
  if (len - o - 2 < n + extra) return 0;
  out->filter.p = p + o + 2;
  out->filter.len = n;
  out->options = extra ? p[o + 2 + n] : 0;
  *off = o + 2 + n + extra;
  return 1;
}

/* ---- encoder ---- */

static int put_u8(loom_buf *b, uint8_t v) { return loom_buf_append(b, &v, 1); }

static int put_u16(loom_buf *b, uint16_t v) {
  uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return loom_buf_append(b, t, 2);
}

static int put_bin(loom_buf *b, const mqtt_bytes *s) {
  int rc;
  if (s->len > 0xFFFF) return LOOM_ERANGE;
  if ((rc = put_u16(b, (uint16_t)s->len)) < 0) return rc;
  return s->len ? loom_buf_append(b, s->p, s->len) : 0;
}

static int put_props(loom_buf *b, const mqtt_bytes *s) {
  int rc;
  if (s->len > MQTT_MAX_REMAINING) return LOOM_ERANGE;
  if ((rc = mqtt_varint_append(b, (uint32_t)s->len)) < 0) return rc;
  return s->len ? loom_buf_append(b, s->p, s->len) : 0;
}

#define TRY(x) do { if ((rc = (x)) < 0) return rc; } while (0)

static int enc_connect(loom_buf *b, const mqtt_packet *pk, uint8_t lv) {
  int rc;
  mqtt_bytes name = pk->proto_name;
  if (name.len == 0) {
    name.p = (const uint8_t *)(lv == 3 ? "MQIsdp" : "MQTT");
    name.len = lv == 3 ? 6 : 4;
  }
  if (pk->will_qos > 2 || (!pk->has_will && (pk->will_qos || pk->will_retain))) return LOOM_EINVAL;
  uint8_t f = (uint8_t)((pk->has_username ? 0x80 : 0) | (pk->has_password ? 0x40 : 0) |
                        (pk->will_retain ? 0x20 : 0) | (pk->will_qos << 3) |
                        (pk->has_will ? 0x04 : 0) | (pk->clean_start ? 0x02 : 0));
  TRY(put_bin(b, &name));
  TRY(put_u8(b, lv));
  TRY(put_u8(b, f));
  TRY(put_u16(b, pk->keep_alive));
  if (lv == 5) TRY(put_props(b, &pk->props));
  TRY(put_bin(b, &pk->client_id));
  if (pk->has_will) {
    if (lv == 5) TRY(put_props(b, &pk->will_props));
    TRY(put_bin(b, &pk->will_topic));
    TRY(put_bin(b, &pk->will_payload));
  }
  if (pk->has_username) TRY(put_bin(b, &pk->username));
  if (pk->has_password) TRY(put_bin(b, &pk->password));
  return 0;
}

/* Optional reason + properties tail of level 5 acks, DISCONNECT, AUTH. */
static int enc_reason_tail(loom_buf *b, const mqtt_packet *pk) {
  int rc;
  if (pk->reason == 0 && pk->props.len == 0) return 0;
  TRY(put_u8(b, pk->reason));
  if (pk->props.len || pk->type == MQTT_AUTH) TRY(put_props(b, &pk->props));
  return 0;
}

static int enc_body(loom_buf *b, const mqtt_packet *pk, uint8_t lv, uint8_t *flags) {
  int rc;
  bool v5 = lv == 5;
  *flags = 0;
  switch (pk->type) {
  case MQTT_CONNECT: return enc_connect(b, pk, lv);
  case MQTT_CONNACK:
    TRY(put_u8(b, pk->session_present ? 1 : 0));
    TRY(put_u8(b, pk->reason));
    if (v5) TRY(put_props(b, &pk->props));
    return 0;
  case MQTT_PUBLISH:
    if (pk->qos > 2 || (pk->qos && pk->packet_id == 0)) return LOOM_EINVAL;
    *flags = (uint8_t)((pk->dup ? 8 : 0) | (pk->qos << 1) | (pk->retain ? 1 : 0));
    TRY(put_bin(b, &pk->topic));
    if (pk->qos) TRY(put_u16(b, pk->packet_id));
    if (v5) TRY(put_props(b, &pk->props));
    return pk->payload.len ? loom_buf_append(b, pk->payload.p, pk->payload.len) : 0;
  case MQTT_PUBREL: *flags = 2; /* fall through */
  case MQTT_PUBACK:
  case MQTT_PUBREC:
  case MQTT_PUBCOMP:
    if (pk->packet_id == 0) return LOOM_EINVAL;
    TRY(put_u16(b, pk->packet_id));
    return v5 ? enc_reason_tail(b, pk) : 0;
  case MQTT_SUBSCRIBE:
  case MQTT_UNSUBSCRIBE:
    *flags = 2;
    if (pk->packet_id == 0 || (pk->subs ? pk->n_subs == 0 : pk->list.len == 0)) return LOOM_EINVAL;
    TRY(put_u16(b, pk->packet_id));
    if (v5) TRY(put_props(b, &pk->props));
    if (!pk->subs) return loom_buf_append(b, pk->list.p, pk->list.len);
    for (size_t i = 0; i < pk->n_subs; i++) {
      TRY(put_bin(b, &pk->subs[i].filter));
      if (pk->type == MQTT_SUBSCRIBE) TRY(put_u8(b, pk->subs[i].options));
    }
    return 0;
  case MQTT_SUBACK:
  case MQTT_UNSUBACK:
    if (pk->packet_id == 0) return LOOM_EINVAL;
    TRY(put_u16(b, pk->packet_id));
    if (pk->type == MQTT_UNSUBACK && !v5) return 0;
    if (pk->list.len == 0) return LOOM_EINVAL;
    if (v5) TRY(put_props(b, &pk->props));
    return loom_buf_append(b, pk->list.p, pk->list.len);
  case MQTT_PINGREQ:
  case MQTT_PINGRESP: return 0;
  case MQTT_DISCONNECT: return v5 ? enc_reason_tail(b, pk) : 0;
  case MQTT_AUTH:
    if (!v5) return LOOM_EINVAL;
    return enc_reason_tail(b, pk);
  default: return LOOM_EINVAL;
  }
}

int mqtt_encode(loom_buf *b, const mqtt_packet *pk, uint8_t level) {
  size_t start = b->len;
  uint8_t flags, lv = pk->type == MQTT_CONNECT && pk->level ? pk->level : level;
  uint8_t hdr[5] = {0};
  int rc;
  if (lv < 3 || lv > 5) return LOOM_EINVAL;
  if ((rc = loom_buf_append(b, hdr, sizeof(hdr))) < 0) goto fail;
  if ((rc = enc_body(b, pk, lv, &flags)) < 0) goto fail;
  size_t body = b->len - start - sizeof(hdr);
  if (body > MQTT_MAX_REMAINING) {
    rc = LOOM_ERANGE;
    goto fail;
  }
  int n = mqtt_varint_size((uint32_t)body);
  uint8_t *d = b->data + start;
  d[0] = (uint8_t)(pk->type << 4 | flags);
  uint32_t v = (uint32_t)body;
  for (int i = 0; i < n; i++) {
    d[1 + i] = (uint8_t)((v & 0x7F) | (i + 1 < n ? 0x80 : 0));
    v >>= 7;
  }
  memmove(d + 1 + n, d + sizeof(hdr), body);
  b->len = start + 1 + (size_t)n + body;
  return 0;
fail:
  b->len = start;
  return rc;
}
