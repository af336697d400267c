/* SPDX-License-Identifier: Apache-2.0
 * One broker connection: framing of the byte stream (pre-authentication
 * limits), CONNECT (all levels, authentication hook, client id assignment,
 * takeover, clean start, session expiry, CONNACK properties), PUBLISH in
 * with topic aliases, Receive Maximum and in-order acknowledgements (a FIFO
 * of PUBACK/PUBREC, [MQTT-4.6.0-2]), the QoS 2 flows, SUBSCRIBE and
 * UNSUBSCRIBE, DISCONNECT both ways, keep-alive, and draining the session's
 * outbound packets into the connection's output buffer.
 */
#include <string.h>
#include <sys/socket.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/broker_int.h"
#include "mqtt/topic.h"

/* ---- output helpers ---- */

static int send_pk(br_conn *c, const mqtt_packet *pk) {
  if (c->closing) return LOOM_ECLOSED;
  int rc = mqtt_encode(&c->out, pk, c->level ? c->level : MQTT_LEVEL_311);
  if (!rc) br_conn_mark(c);
  return rc;
}

static void send_reason_pk(br_conn *c, uint8_t type, uint16_t pid, uint8_t reason,
                           const char *rs) {
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = type;
  pk.packet_id = pid;
  loom_buf props;
  loom_buf_init(&props);
  if (c->level == MQTT_LEVEL_5) {
    pk.reason = reason;
    /* Request Problem Information 0: Reason Strings only on DISCONNECT
     * (and CONNACK/PUBLISH) [MQTT-3.1.2-29] */
    if (c->no_problem_info && type != MQTT_DISCONNECT) rs = NULL;
    if (rs && *rs && mqtt_prop_append_bytes(&props, MQTT_P_REASON_STRING, rs, strlen(rs)) == 0) {
      pk.props.p = props.data;
      pk.props.len = props.len;
    }
  }
  send_pk(c, &pk);
  loom_buf_deinit(&props);
}

/* CONNACK refusal (before the session exists) and close. */
static void connack_refuse(br_conn *c, uint8_t level, uint8_t reason) {
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNACK;
  if (level == MQTT_LEVEL_5) {
    pk.reason = reason;
  } else {
    switch (reason) {
    case MQTT_RC_UNSUPPORTED_VERSION: pk.reason = 1; break;
    case MQTT_RC_CLIENT_ID_INVALID: pk.reason = 2; break;
    case MQTT_RC_SERVER_UNAVAILABLE:
    case MQTT_RC_SERVER_BUSY:
    case MQTT_RC_QUOTA_EXCEEDED:
    case MQTT_RC_CONNECTION_RATE_EXCEEDED: pk.reason = 3; break;
    case MQTT_RC_BAD_USER_PASS: pk.reason = 4; break;
    default: pk.reason = 5; break;
    }
    level = MQTT_LEVEL_311;
  }
  c->level = level;
  send_pk(c, &pk);
  br_conn_close(c, false);
}

void br_conn_disconnect(br_conn *c, uint8_t reason, const char *msg, bool will) {
  if (c->closing) return;
  if (c->level == MQTT_LEVEL_5 && c->state == BR_ST_UP) {
    if (!mqtt_reason_allowed(reason, MQTT_DISCONNECT)) reason = MQTT_RC_UNSPECIFIED;
    send_reason_pk(c, MQTT_DISCONNECT, 0, reason, msg);
  } else if (c->level == MQTT_LEVEL_5 && c->state != BR_ST_UP &&
             mqtt_reason_allowed(reason, MQTT_CONNACK)) {
    connack_refuse(c, c->level, reason);
    return;
  }
  br_conn_close(c, will);
}

/* ---- in-order acknowledgements ---- */

static void ack_send(br_conn *c, uint8_t type, uint16_t pid, uint8_t reason, const char *rs) {
  br_client *cl = c->cl;
  if (reason >= 0x80 && c->level < MQTT_LEVEL_5) {
    /* 3.1.1 cannot carry a refusal of a publish the platform failed to store */
    br_conn_close(c, true);
    return;
  }
  send_reason_pk(c, type, pid, reason, rs);
  if (!cl) return;
  if (type == MQTT_PUBACK) mqtt_session_in_puback_sent(cl->sess, pid);
  else if (reason >= 0x80) mqtt_session_in_pubrel(cl->sess, pid); /* flow ends at PUBREC */
}

static void ack_pump(br_conn *c) {
  while (c->acks_head && c->acks_head->done && !c->closing) {
    br_ack *a = c->acks_head;
    c->acks_head = a->next;
    if (!c->acks_head) c->acks_tail = NULL;
    ack_send(c, a->type, a->packet_id, a->reason, a->reason_string);
    loom_free(a->reason_string);
    loom_free(a);
  }
}

static br_ack *ack_push(br_conn *c, uint8_t type, uint16_t pid) {
  br_ack *a = loom_calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->type = type;
  a->packet_id = pid;
  if (c->acks_tail) c->acks_tail->next = a;
  else c->acks_head = a;
  c->acks_tail = a;
  return a;
}

/* An acknowledgement that is ready now: direct when nothing waits before it. */
static void ack_now(br_conn *c, uint8_t type, uint16_t pid, uint8_t reason) {
  if (!c->acks_head) {
    ack_send(c, type, pid, reason, NULL);
    return;
  }
  br_ack *a = ack_push(c, type, pid);
  if (!a) {
    br_conn_close(c, true);
    return;
  }
  a->done = true;
  a->reason = reason;
}

void br_conn_ack_result(br_conn *c, br_ack *a, uint8_t reason, const char *rs) {
  if (!c || !a || c->closing) return;
  a->done = true;
  a->reason = reason;
  if (rs && c->level == MQTT_LEVEL_5) a->reason_string = loom_strdup(rs);
  ack_pump(c);
}

void br_conn_free_parts(br_conn *c) {
  mqtt_broker *b = c->b;
  while (c->acks_head) {
    br_ack *a = c->acks_head;
    c->acks_head = a->next;
    loom_free(a->reason_string);
    loom_free(a);
  }
  if (c->pc) {
    mqtt_msg_unref(c->pc->will);
    loom_free(c->pc->client_id);
    loom_free(c->pc);
  }
  mqtt_msg_unref(c->will);
  if (c->principal && b->hooks.principal_free) b->hooks.principal_free(b->hooks.ud, c->principal);
  loom_free(c->key);
  loom_free(c->peer);
  if (c->tr) c->tr->ops->free(c->tr);
  loom_buf_deinit(&c->in);
  loom_buf_deinit(&c->out);
  loom_buf_deinit(&c->wire);
}

/* ---- outbound: session -> bytes ---- */

static uint8_t *put_varint(uint8_t *p, uint32_t v) {
  do {
    uint8_t d = v & 0x7F;
    v >>= 7;
    *p++ = v ? (uint8_t)(d | 0x80) : d;
  } while (v);
  return p;
}

/* PUBLISH for o with topic t (already mapped), straight into c->out. */
static int encode_publish(br_conn *c, const mqtt_session_out *o, const char *t, size_t tl) {
  const mqtt_msg *m = o->msg;
  size_t tlen = o->omit_topic ? 0 : tl;
  bool v5 = c->level == MQTT_LEVEL_5;
  size_t plen = 0;
  if (v5) {
    if (o->has_expiry) plen += 5;
    for (uint8_t i = 0; i < o->n_sub_ids; i++) plen += 1 + (size_t)mqtt_varint_size(o->sub_ids[i]);
    if (o->topic_alias) plen += 3;
    plen += m->props_len;
  }
  size_t rem = 2 + tlen + (o->qos ? 2 : 0) + m->payload_len;
  if (v5) rem += (size_t)mqtt_varint_size((uint32_t)plen) + plen;
  if (rem > MQTT_MAX_REMAINING || tlen > 65535) return LOOM_ERANGE;
  int rc = loom_buf_reserve(&c->out, rem + 5);
  if (rc) return rc;
  uint8_t *p = c->out.data + c->out.len;
  *p++ = (uint8_t)(0x30 | (o->dup ? 8 : 0) | (o->qos << 1) | (o->retain ? 1 : 0));
  p = put_varint(p, (uint32_t)rem);
  *p++ = (uint8_t)(tlen >> 8);
  *p++ = (uint8_t)tlen;
  if (tlen) memcpy(p, t, tlen);
  p += tlen;
  if (o->qos) {
    *p++ = (uint8_t)(o->packet_id >> 8);
    *p++ = (uint8_t)o->packet_id;
  }
  if (v5) {
    p = put_varint(p, (uint32_t)plen);
    if (o->has_expiry) {
      *p++ = MQTT_P_MESSAGE_EXPIRY;
      *p++ = (uint8_t)(o->expiry_s >> 24);
      *p++ = (uint8_t)(o->expiry_s >> 16);
      *p++ = (uint8_t)(o->expiry_s >> 8);
      *p++ = (uint8_t)o->expiry_s;
    }
    for (uint8_t i = 0; i < o->n_sub_ids; i++) {
      *p++ = MQTT_P_SUBSCRIPTION_ID;
      p = put_varint(p, o->sub_ids[i]);
    }
    if (o->topic_alias) {
      *p++ = MQTT_P_TOPIC_ALIAS;
      *p++ = (uint8_t)(o->topic_alias >> 8);
      *p++ = (uint8_t)o->topic_alias;
    }
    if (m->props_len) memcpy(p, m->props, m->props_len);
    p += m->props_len;
  }
  if (m->payload_len) memcpy(p, m->payload, m->payload_len);
  p += m->payload_len;
  c->out.len = (size_t)(p - c->out.data);
  return 0;
}

void br_conn_drain(br_conn *c) {
  mqtt_broker *b = c->b;
  br_client *cl = c->cl;
  uint64_t now = br_now(b);
  uint64_t sent = 0;
  while (!c->closing && c->writing + c->out.len < BR_OUT_HIGH) {
    if (c->gate) {
      /* resumed with a smaller Receive Maximum than the flows in flight:
       * resend only as many as it allows [MQTT-3.3.4-9] */
      if (mqtt_session_inflight_out(cl->sess) <= c->recv_max_out) c->gate = false;
      else if (c->unacked >= c->recv_max_out) break;
    }
    mqtt_session_out o;
    if (mqtt_session_next(cl->sess, now, &o) != 0) break;
    if (o.type == MQTT_PUBREL) {
      mqtt_packet pk;
      memset(&pk, 0, sizeof(pk));
      pk.type = MQTT_PUBREL;
      pk.packet_id = o.packet_id;
      send_pk(c, &pk);
      continue;
    }
    const char *t = o.msg->topic;
    size_t tl = o.msg->topic_len;
    int rc = 0;
    if (b->hooks.map_out) rc = b->hooks.map_out(b->hooks.ud, c->principal, t, tl, &t, &tl);
    if (rc == 0) rc = encode_publish(c, &o, t, tl);
    if (rc == 0 && o.qos) c->unacked++;
    if (rc < 0) {
      /* not for this client after all: end the flow as if acknowledged */
      if (o.qos == 1) mqtt_session_on_puback(cl->sess, o.packet_id);
      else if (o.qos == 2) mqtt_session_on_pubrec(cl->sess, o.packet_id, MQTT_RC_UNSPECIFIED);
    } else {
      sent++;
    }
    mqtt_msg_unref(o.msg);
  }
  if (sent) {
    atomic_fetch_add_explicit(&b->msgs_out, sent, memory_order_relaxed);
    if (cl->expiry_s) b->dirty_state = true;
  }
  br_acct(b, cl);
}

/* ---- CONNECT ---- */

static void auth_req_peer(br_conn *c, char *peer, size_t cap) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  peer[0] = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  char ip[64];
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof(ip));
    snprintf(peer, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof(ip));
    snprintf(peer, cap, "%s:%u", ip, ntohs(a->sin_port));
  }
}

/* Copy a property block without the properties the session adds per send
 * (Message Expiry, Topic Alias) or that must not be forwarded. */
static int copy_fwd_props(const mqtt_bytes *props, loom_buf *out, bool *has_exp, uint32_t *exp,
                          bool *pfi, uint32_t *will_delay, bool *has_alias, uint16_t *alias,
                          bool *has_subid) {
  mqtt_prop_it it;
  mqtt_prop pr;
  mqtt_prop_it_init(&it, props->p, props->len);
  int rc;
  while ((rc = mqtt_prop_next(&it, &pr)) == 1) {
    switch (pr.id) {
    case MQTT_P_MESSAGE_EXPIRY:
      *has_exp = true;
      *exp = pr.num;
      continue;
    case MQTT_P_TOPIC_ALIAS:
      if (has_alias) {
        *has_alias = true;
        *alias = (uint16_t)pr.num;
      }
      continue;
    case MQTT_P_WILL_DELAY:
      if (will_delay) *will_delay = pr.num;
      continue;
    case MQTT_P_SUBSCRIPTION_ID:
      if (has_subid) *has_subid = true;
      continue;
    case MQTT_P_PAYLOAD_FORMAT:
      *pfi = pr.num == 1;
      rc = mqtt_prop_append_num(out, pr.id, pr.num);
      break;
    case MQTT_P_USER_PROPERTY:
      rc = mqtt_prop_append_pair(out, pr.s, pr.s_len, pr.v, pr.v_len);
      break;
    case MQTT_P_RESPONSE_TOPIC:
      /* a topic name: no wildcards [MQTT-3.3.2-14] */
      if (mqtt_topic_name_validate((const char *)pr.s, pr.s_len)) return LOOM_EINVAL;
      rc = mqtt_prop_append_bytes(out, pr.id, pr.s, pr.s_len);
      break;
    case MQTT_P_CONTENT_TYPE:
    case MQTT_P_CORRELATION_DATA:
      rc = mqtt_prop_append_bytes(out, pr.id, pr.s, pr.s_len);
      break;
    default: continue;
    }
    if (rc) return rc;
  }
  return rc < 0 ? rc : 0;
}

static void finish_connect(br_conn *c);

static void handle_connect(br_conn *c, const mqtt_packet *pk) {
  mqtt_broker *b = c->b;
  uint8_t level = pk->level;
  c->level = level;
  br_pconnect *pc = loom_calloc(1, sizeof(*pc));
  loom_buf wp;
  loom_buf_init(&wp);
  if (!pc) {
    connack_refuse(c, level, MQTT_RC_SERVER_UNAVAILABLE);
    return;
  }
  c->pc = pc;
  uint8_t refuse = 0;
  bool has_expiry = false;
  uint32_t expiry = 0;
  if (level == MQTT_LEVEL_5) {
    mqtt_prop_it it;
    mqtt_prop pr;
    mqtt_prop_it_init(&it, pk->props.p, pk->props.len);
    while (mqtt_prop_next(&it, &pr) == 1) {
      switch (pr.id) {
      case MQTT_P_SESSION_EXPIRY:
        has_expiry = true;
        expiry = pr.num;
        break;
      case MQTT_P_RECEIVE_MAXIMUM: pc->recv_max_out = (uint16_t)pr.num; break;
      case MQTT_P_TOPIC_ALIAS_MAXIMUM: pc->alias_max_out = (uint16_t)pr.num; break;
      case MQTT_P_MAXIMUM_PACKET_SIZE: pc->max_packet_out = pr.num; break;
      case MQTT_P_AUTH_METHOD: refuse = MQTT_RC_BAD_AUTH_METHOD; break;
      case MQTT_P_REQUEST_PROBLEM_INFO: pc->no_problem_info = pr.num == 0; break;
      default: break;
      }
    }
  } else {
    pc->recv_max_out = b->lim.inflight_311;
    expiry = pk->clean_start ? 0 : UINT32_MAX;
  }
  (void)has_expiry;
  if (expiry > b->lim.session_expiry_max) {
    expiry = b->lim.session_expiry_max;
    pc->expiry_capped = level == MQTT_LEVEL_5;
  }
  pc->expiry_s = expiry;
  pc->clean_start = pk->clean_start;
  pc->keepalive_s = pk->keep_alive;
  if (refuse) goto refused;
  /* client identifier */
  if (pk->client_id.len == 0) {
    char id[40];
    b->id_counter++;
    snprintf(id, sizeof(id), "loom-%llx-%llx", (unsigned long long)b->start_ms,
             (unsigned long long)b->id_counter);
    pc->client_id = loom_strdup(id);
    pc->assigned = true;
  } else {
    pc->client_id = loom_strndup((const char *)pk->client_id.p, pk->client_id.len);
  }
  if (!pc->client_id) {
    refuse = MQTT_RC_SERVER_UNAVAILABLE;
    goto refused;
  }
  /* will */
  if (pk->has_will) {
    bool has_exp = false, pfi = false;
    uint32_t exp = 0;
    const char *wt = (const char *)pk->will_topic.p;
    if (mqtt_topic_name_validate(wt, pk->will_topic.len)) {
      refuse = MQTT_RC_TOPIC_NAME_INVALID;
      goto refused;
    }
    int prc = level == MQTT_LEVEL_5 ? copy_fwd_props(&pk->will_props, &wp, &has_exp, &exp,
                                                     &pfi, &pc->will_delay_s, NULL, NULL, NULL)
                                    : 0;
    if (prc) {
      refuse = prc == LOOM_EINVAL ? MQTT_RC_PROTOCOL_ERROR : MQTT_RC_SERVER_UNAVAILABLE;
      goto refused;
    }
    if (pfi && mqtt_utf8_check(pk->will_payload.p, pk->will_payload.len)) {
      refuse = MQTT_RC_PAYLOAD_FORMAT_INVALID;
      goto refused;
    }
    /* now_ms 0: until the will is published (br_publish_will restarts the
     * clock then), expiry_at_ms holds the interval itself, in ms */
    if (mqtt_msg_new(wt, pk->will_topic.len, pk->will_payload.p, pk->will_payload.len, wp.data,
                     wp.len, pk->will_qos, pk->will_retain, has_exp, exp, 0, &pc->will)) {
      refuse = MQTT_RC_SERVER_UNAVAILABLE;
      goto refused;
    }
  }
  loom_buf_deinit(&wp);
  c->state = BR_ST_AUTH;
  if (b->hooks.authenticate) {
    char peer[80];
    if (c->peer) snprintf(peer, sizeof(peer), "%s", c->peer);
    else auth_req_peer(c, peer, sizeof(peer));
    char *user = NULL;
    if (pk->has_username && !(user = loom_strndup((const char *)pk->username.p, pk->username.len))) {
      refuse = MQTT_RC_SERVER_UNAVAILABLE;
      goto refused;
    }
    mqtt_auth_req req = {.client_id = pc->assigned ? "" : pc->client_id,
                         .username = user,
                         .password = pk->has_password ? pk->password.p : NULL,
                         .password_len = pk->has_password ? pk->password.len : 0,
                         .peer = peer,
                         .level = level,
                         .websocket = c->ws};
    if (req.password == NULL && pk->has_password) req.password = (const uint8_t *)"";
    void *t = br_ticket_new(b, 0, c, NULL);
    if (!t) {
      loom_free(user);
      refuse = MQTT_RC_SERVER_UNAVAILABLE;
      goto refused;
    }
    br_conn_ref(c);
    b->hooks.authenticate(b->hooks.ud, &req, br_auth_done, t);
    loom_free(user);
    return;
  }
  mqtt_auth_result r = {.reason = b->cfg.allow_anonymous ? 0 : MQTT_RC_NOT_AUTHORIZED};
  br_conn_auth_result(c, &r);
  return;
refused:
  loom_buf_deinit(&wp);
  connack_refuse(c, level, refuse);
}

static void process_buffered(br_conn *c);

void br_conn_auth_result(br_conn *c, const mqtt_auth_result *r) {
  mqtt_broker *b = c->b;
  if (c->closing || c->state != BR_ST_AUTH || !c->pc) {
    if (r->principal && b->hooks.principal_free) b->hooks.principal_free(b->hooks.ud, r->principal);
    return;
  }
  c->principal = r->principal;
  if (r->key && !(c->key = loom_strdup(r->key))) {
    connack_refuse(c, c->level, MQTT_RC_SERVER_UNAVAILABLE);
    return;
  }
  if (r->reason) {
    connack_refuse(c, c->level, r->reason);
    return;
  }
  br_pconnect *pc = c->pc;
  /* the will topic goes through map_in like a PUBLISH */
  if (pc->will && b->hooks.map_in) {
    loom_buf_reset(&b->tmp);
    int rc = b->hooks.map_in(b->hooks.ud, c->principal, false, pc->will->topic,
                             pc->will->topic_len, &b->tmp);
    if (rc >= 0x80 || rc < 0) {
      connack_refuse(c, c->level, MQTT_RC_NOT_AUTHORIZED);
      return;
    }
    if (b->tmp.len) {
      mqtt_msg *w = pc->will, *nw = NULL;
      if (mqtt_msg_new((const char *)b->tmp.data, b->tmp.len, w->payload, w->payload_len,
                       w->props, w->props_len, w->qos, w->retain, w->has_expiry, 0, 0, &nw)) {
        connack_refuse(c, c->level, MQTT_RC_SERVER_UNAVAILABLE);
        return;
      }
      nw->expiry_at_ms = w->expiry_at_ms;
      mqtt_msg_unref(w);
      pc->will = nw;
    }
  }
  finish_connect(c);
  if (!c->closing && c->state == BR_ST_UP && !c->in_rx) process_buffered(c);
}

/* on_resume with the session's subscriptions (stack list for the usual
 * few; the first MQTT_RESUME_MIN_SUBS if a longer list cannot be had). */
static void resume_hook(br_conn *c, br_client *cl) {
  mqtt_broker *b = c->b;
  mqtt_sub_view stack[MQTT_RESUME_MIN_SUBS];
  mqtt_sub_view *v = stack;
  size_t n = cl->n_subs;
  if (n > MQTT_RESUME_MIN_SUBS && !(v = loom_malloc(n * sizeof(*v)))) {
    v = stack;
    n = MQTT_RESUME_MIN_SUBS;
  }
  for (size_t i = 0; i < n; i++) {
    v[i].filter = cl->subs[i].filter;
    v[i].len = cl->subs[i].len;
    v[i].qos = cl->subs[i].opts.qos;
  }
  b->hooks.on_resume(b->hooks.ud, c->principal, cl->id, v, n);
  if (v != stack) loom_free(v);
}

static void finish_connect(br_conn *c) {
  mqtt_broker *b = c->b;
  br_pconnect *pc = c->pc;
  uint8_t level = c->level;
  br_client *cl = br_client_find(b, pc->client_id, strlen(pc->client_id));
  if (cl && cl->conn) {
    br_conn *old = cl->conn;
    br_conn_ref(old);
    br_conn_disconnect(old, MQTT_RC_SESSION_TAKEN_OVER, "session taken over", true);
    br_conn_unref(old);
    cl = br_client_find(b, pc->client_id, strlen(pc->client_id));
  }
  if (cl && pc->clean_start) {
    br_client_free(b, cl, true);
    cl = NULL;
  }
  bool present = cl != NULL;
  if (!cl) {
    mqtt_session_cfg scfg;
    br_session_cfg(b, &scfg);
    if (br_client_new(b, pc->client_id, &scfg, &cl)) {
      connack_refuse(c, level, MQTT_RC_SERVER_UNAVAILABLE);
      return;
    }
  } else {
    br_client_cancel_will(b, cl);
    br_dlist_remove(b, cl);
  }
  cl->expiry_s = pc->expiry_s;
  cl->level = level;
  cl->conn = c;
  c->cl = cl;
  c->expiry_s = pc->expiry_s;
  mqtt_session_connect(cl->sess, level, pc->recv_max_out, pc->alias_max_out, pc->expiry_s);
  mqtt_session_set_max_packet_out(cl->sess, pc->max_packet_out);
  c->recv_max_out = pc->recv_max_out ? pc->recv_max_out : 65535;
  c->unacked = 0;
  c->gate = mqtt_session_inflight_out(cl->sess) > c->recv_max_out;
  c->will = pc->will;
  pc->will = NULL;
  c->will_delay_s = pc->will_delay_s;
  c->no_problem_info = pc->no_problem_info;
  uint16_t ka = pc->keepalive_s;
  bool ka_capped = false;
  if (b->lim.keepalive_max && (ka == 0 || ka > b->lim.keepalive_max)) {
    ka = b->lim.keepalive_max;
    ka_capped = true;
  }
  c->keepalive_s = ka;
  /* CONNACK */
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNACK;
  pk.session_present = present && level >= MQTT_LEVEL_311; /* 3.1: reserved byte */
  loom_buf props;
  loom_buf_init(&props);
  if (level == MQTT_LEVEL_5) {
    int rc = 0;
    rc |= mqtt_prop_append_num(&props, MQTT_P_RECEIVE_MAXIMUM, b->lim.recv_max);
    rc |= mqtt_prop_append_num(&props, MQTT_P_TOPIC_ALIAS_MAXIMUM, b->lim.topic_alias_max);
    rc |= mqtt_prop_append_num(&props, MQTT_P_MAXIMUM_PACKET_SIZE, b->lim.max_packet);
    rc |= mqtt_prop_append_num(&props, MQTT_P_RETAIN_AVAILABLE, 1);
    rc |= mqtt_prop_append_num(&props, MQTT_P_WILDCARD_SUB_AVAILABLE, 1);
    rc |= mqtt_prop_append_num(&props, MQTT_P_SUB_ID_AVAILABLE, 1);
    rc |= mqtt_prop_append_num(&props, MQTT_P_SHARED_SUB_AVAILABLE, 1);
    if (ka_capped) rc |= mqtt_prop_append_num(&props, MQTT_P_SERVER_KEEP_ALIVE, ka);
    if (pc->assigned)
      rc |= mqtt_prop_append_bytes(&props, MQTT_P_ASSIGNED_CLIENT_ID, pc->client_id,
                                   strlen(pc->client_id));
    if (pc->expiry_capped) rc |= mqtt_prop_append_num(&props, MQTT_P_SESSION_EXPIRY, pc->expiry_s);
    if (rc) {
      loom_buf_deinit(&props);
      connack_refuse(c, level, MQTT_RC_SERVER_UNAVAILABLE);
      return;
    }
    pk.props.p = props.data;
    pk.props.len = props.len;
  }
  send_pk(c, &pk);
  loom_buf_deinit(&props);
  loom_free(pc->client_id);
  loom_free(pc);
  c->pc = NULL;
  c->state = BR_ST_UP;
  atomic_fetch_add(&b->conns_open, 1);
  atomic_fetch_add(&b->conns_total, 1);
  if (b->hooks.on_connect) b->hooks.on_connect(b->hooks.ud, c->principal, cl->id);
  if (present && b->hooks.on_resume) resume_hook(c, cl);
  br_conn_mark(c);
}

/* ---- PUBLISH in ---- */

/* Topics clients may not publish to: the broker's own $SYS tree, and
 * "$share/..." (a subscription prefix, never a name). Other '$' names are
 * routed (as mosquitto does); the platform's map_in may refuse more. */
static bool is_reserved_topic(const char *t, size_t n) {
  return (n >= 4 && memcmp(t, "$SYS", 4) == 0 && (n == 4 || t[4] == '/')) ||
         (n >= 7 && memcmp(t, "$share/", 7) == 0);
}

static void handle_publish(br_conn *c, const mqtt_packet *pk) {
  mqtt_broker *b = c->b;
  br_client *cl = c->cl;
  bool has_alias = false, has_exp = false, pfi = false, has_subid = false;
  uint16_t alias = 0;
  uint32_t exp = 0;
  loom_buf fw;
  loom_buf_init(&fw);
  atomic_fetch_add_explicit(&b->msgs_in, 1, memory_order_relaxed);
  if (c->level == MQTT_LEVEL_5 && pk->props.len) {
    int rc = copy_fwd_props(&pk->props, &fw, &has_exp, &exp, &pfi, NULL, &has_alias, &alias,
                            &has_subid);
    if (rc == LOOM_EINVAL) {
      br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Response Topic with a wildcard", true);
      goto done;
    }
    if (rc) {
      br_conn_disconnect(c, MQTT_RC_UNSPECIFIED, "out of memory", true);
      goto done;
    }
  }
  if (has_subid) {
    br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Subscription Identifier in PUBLISH", true);
    goto done;
  }
  const char *t = (const char *)pk->topic.p;
  size_t tl = pk->topic.len;
  mqtt_err e = {0};
  if (mqtt_session_in_alias(cl->sess, t, tl, has_alias, alias, &t, &tl, &e)) {
    br_conn_disconnect(c, e.reason ? e.reason : MQTT_RC_PROTOCOL_ERROR, e.msg, true);
    goto done;
  }
  if (mqtt_topic_name_validate(t, tl)) {
    br_conn_disconnect(c, MQTT_RC_TOPIC_NAME_INVALID, "invalid topic name", true);
    goto done;
  }
  bool deliver = true;
  if (pk->qos) {
    if (mqtt_session_in_publish(cl->sess, pk->qos, pk->packet_id, &deliver, &e)) {
      br_conn_disconnect(c, e.reason ? e.reason : MQTT_RC_PROTOCOL_ERROR, e.msg, true);
      goto done;
    }
  }
  uint8_t ack_type = pk->qos == 2 ? MQTT_PUBREC : MQTT_PUBACK;
  if (!deliver) {
    ack_now(c, ack_type, pk->packet_id, 0);
    goto done;
  }
  uint8_t refuse = 0;
  bool drop = false;
  if (pfi && mqtt_utf8_check(pk->payload.p, pk->payload.len)) {
    refuse = MQTT_RC_PAYLOAD_FORMAT_INVALID;
  } else if (is_reserved_topic(t, tl)) {
    refuse = MQTT_RC_NOT_AUTHORIZED;
  } else if (b->hooks.map_in) {
    loom_buf_reset(&b->tmp);
    int rc = b->hooks.map_in(b->hooks.ud, c->principal, false, t, tl, &b->tmp);
    if (rc >= 0x80 || rc < 0) refuse = rc > 0 ? (uint8_t)rc : MQTT_RC_NOT_AUTHORIZED;
    else if (b->tmp.len) {
      t = (const char *)b->tmp.data;
      tl = b->tmp.len;
    }
  }
  if (!refuse && pk->qos && b->total_queued > b->lim.max_total_queued_bytes) {
    refuse = MQTT_RC_QUOTA_EXCEEDED;
    atomic_fetch_add(&b->msgs_dropped, 1);
  }
  if (refuse) {
    if (c->level < MQTT_LEVEL_5) drop = true; /* acknowledged and dropped (mosquitto) */
    if (pk->qos) ack_now(c, ack_type, pk->packet_id, drop ? 0 : refuse);
    goto done;
  }
  mqtt_msg *m = NULL;
  if (mqtt_msg_new(t, tl, pk->payload.p, pk->payload.len, fw.data, fw.len, pk->qos, pk->retain,
                   has_exp, exp, br_now(b), &m)) {
    br_conn_disconnect(c, MQTT_RC_UNSPECIFIED, "out of memory", true);
    goto done;
  }
  int flags = MQTT_HOOK_ROUTE;
  if (b->hooks.on_publish) {
    br_ack *a = NULL;
    if (pk->qos && !(a = ack_push(c, ack_type, pk->packet_id))) {
      mqtt_msg_unref(m);
      br_conn_disconnect(c, MQTT_RC_UNSPECIFIED, "out of memory", true);
      goto done;
    }
    void *tk = br_ticket_new(b, 1, c, a);
    if (!tk) {
      mqtt_msg_unref(m);
      br_conn_disconnect(c, MQTT_RC_UNSPECIFIED, "out of memory", true);
      goto done;
    }
    br_conn_ref(c);
    mqtt_pub_view v = {.topic = m->topic, .topic_len = m->topic_len, .payload = m->payload,
                       .payload_len = m->payload_len, .qos = m->qos, .retain = m->retain,
                       .props = m->props, .props_len = m->props_len, .client_id = cl->id};
    flags = b->hooks.on_publish(b->hooks.ud, c->principal, &v, br_ack_done, tk);
    if (flags < 0 || !(flags & MQTT_HOOK_PENDING)) {
      br_ticket_drop(tk);
      br_conn_unref(c);
      if (a) {
        a->done = true;
        a->reason = flags < 0 ? (uint8_t)(-flags) : 0;
        if (a->reason && c->level < MQTT_LEVEL_5) a->reason = 0; /* dropped */
      }
    }
  } else if (pk->qos) {
    ack_now(c, ack_type, pk->packet_id, 0);
  }
  if (flags > 0 && (flags & MQTT_HOOK_ROUTE)) br_route(b, m, cl);
  mqtt_msg_unref(m);
  ack_pump(c);
done:
  loom_buf_deinit(&fw);
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ---- */

/* Map (and re-prefix a shared) filter into b->tmp; returns a reason. */
static uint8_t map_filter(br_conn *c, const char *f, size_t n, bool *shared, const char **bf,
                          size_t *bl, const char **plain, size_t *plain_len) {
  mqtt_broker *b = c->b;
  mqtt_share sh;
  int rc = mqtt_topic_share_parse(f, n, &sh);
  if (rc < 0) return MQTT_RC_TOPIC_FILTER_INVALID;
  *shared = rc == 1;
  const char *pf = *shared ? sh.filter : f;
  size_t pl = *shared ? sh.filter_len : n;
  if (!*shared && mqtt_topic_filter_validate(f, n)) return MQTT_RC_TOPIC_FILTER_INVALID;
  loom_buf_reset(&b->tmp);
  if (b->hooks.map_in) {
    loom_buf m;
    loom_buf_init(&m);
    int r = b->hooks.map_in(b->hooks.ud, c->principal, true, pf, pl, &m);
    if (r >= 0x80 || r < 0) {
      loom_buf_deinit(&m);
      return r > 0 ? (uint8_t)r : MQTT_RC_NOT_AUTHORIZED;
    }
    if (m.len) {
      if (*shared) {
        if (loom_buf_append(&b->tmp, "$share/", 7) || loom_buf_append(&b->tmp, sh.group, sh.group_len) ||
            loom_buf_append(&b->tmp, "/", 1)) {
          loom_buf_deinit(&m);
          return MQTT_RC_UNSPECIFIED;
        }
      }
      size_t off = b->tmp.len;
      if (loom_buf_append(&b->tmp, m.data, m.len)) {
        loom_buf_deinit(&m);
        return MQTT_RC_UNSPECIFIED;
      }
      loom_buf_deinit(&m);
      *bf = (const char *)b->tmp.data;
      *bl = b->tmp.len;
      *plain = (const char *)b->tmp.data + off;
      *plain_len = b->tmp.len - off;
      return 0;
    }
    loom_buf_deinit(&m);
  }
  *bf = f;
  *bl = n;
  *plain = pf;
  *plain_len = pl;
  return 0;
}

/* SUBACK / UNSUBACK with one reason code per entry; frees codes. */
static void send_codes_ack(br_conn *c, uint8_t type, uint16_t packet_id, loom_buf *codes) {
  mqtt_packet ack;
  memset(&ack, 0, sizeof(ack));
  ack.type = type;
  ack.packet_id = packet_id;
  ack.list.p = codes->data;
  ack.list.len = codes->len;
  ack.n_entries = (uint32_t)codes->len;
  send_pk(c, &ack);
  loom_buf_deinit(codes);
}

static void handle_subscribe(br_conn *c, const mqtt_packet *pk) {
  mqtt_broker *b = c->b;
  br_client *cl = c->cl;
  uint32_t sub_id = 0;
  bool v5 = c->level == MQTT_LEVEL_5;
  if (v5 && pk->props.len) {
    mqtt_prop pr;
    if (mqtt_props_find(pk->props.p, pk->props.len, MQTT_P_SUBSCRIPTION_ID, &pr) == 0)
      sub_id = pr.num;
  }
  loom_buf codes;
  loom_buf_init(&codes);
  size_t off = 0;
  mqtt_sub s;
  while (mqtt_sub_next(pk, &off, &s) == 1) {
    mqtt_sub_opts o = {.qos = MQTT_SUBOPT_QOS(s.options), .sub_id = sub_id};
    if (v5) {
      o.no_local = (s.options & MQTT_SUBOPT_NO_LOCAL) != 0;
      o.retain_as_published = (s.options & MQTT_SUBOPT_RAP) != 0;
      o.retain_handling = (uint8_t)MQTT_SUBOPT_RETAIN_HANDLING(s.options);
    }
    bool shared = false;
    const char *bf = NULL, *plain = NULL;
    size_t bl = 0, pl = 0;
    uint8_t code = map_filter(c, (const char *)s.filter.p, s.filter.len, &shared, &bf, &bl,
                              &plain, &pl);
    if (!code && shared && o.no_local) {
      loom_buf_deinit(&codes);
      br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "No Local on a shared subscription", true);
      return;
    }
    bool is_new = false;
    if (!code) {
      int rc = br_client_sub_add(b, cl, bf, bl, &o, &is_new);
      if (rc == LOOM_ERANGE) code = MQTT_RC_QUOTA_EXCEEDED;
      else if (rc == LOOM_EINVAL) code = MQTT_RC_TOPIC_FILTER_INVALID;
      else if (rc) code = MQTT_RC_UNSPECIFIED;
    }
    if (!code) {
      code = o.qos;
      if (b->hooks.on_subscribe) b->hooks.on_subscribe(b->hooks.ud, c->principal, bf, bl, o.qos);
      if (!shared && (o.retain_handling == 0 || (o.retain_handling == 1 && is_new)))
        br_retained_replay(b, cl, plain, pl, &o);
    }
    if (!v5 && code >= 0x80) code = 0x80;
    if (loom_buf_append_u8(&codes, code)) break;
  }
  send_codes_ack(c, MQTT_SUBACK, pk->packet_id, &codes);
  br_acct(b, cl);
}

static void handle_unsubscribe(br_conn *c, const mqtt_packet *pk) {
  mqtt_broker *b = c->b;
  br_client *cl = c->cl;
  loom_buf codes;
  loom_buf_init(&codes);
  size_t off = 0;
  mqtt_sub s;
  while (mqtt_sub_next(pk, &off, &s) == 1) {
    bool shared = false;
    const char *bf = NULL, *plain = NULL;
    size_t bl = 0, pl = 0;
    uint8_t code = map_filter(c, (const char *)s.filter.p, s.filter.len, &shared, &bf, &bl,
                              &plain, &pl);
    if (!code) {
      int rc = br_client_sub_remove(b, cl, bf, bl);
      code = rc == 0 ? 0 : rc == LOOM_ENOTFOUND ? MQTT_RC_NO_SUBSCRIPTION_EXISTED
                                                  : MQTT_RC_UNSPECIFIED;
      if (rc == 0 && b->hooks.on_unsubscribe)
        b->hooks.on_unsubscribe(b->hooks.ud, c->principal, bf, bl);
    }
    if (loom_buf_append_u8(&codes, code)) break;
  }
  send_codes_ack(c, MQTT_UNSUBACK, pk->packet_id, &codes);
}

/* ---- dispatch ---- */

static void handle_disconnect(br_conn *c, const mqtt_packet *pk) {
  mqtt_broker *b = c->b;
  if (c->level == MQTT_LEVEL_5 && pk->props.len) {
    mqtt_prop pr;
    if (mqtt_props_find(pk->props.p, pk->props.len, MQTT_P_SESSION_EXPIRY, &pr) == 0) {
      if (c->expiry_s == 0 && pr.num != 0) { /* [MQTT-3.14.2-2] */
        br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Session Expiry Interval was 0", true);
        return;
      }
      uint32_t v = pr.num > b->lim.session_expiry_max ? b->lim.session_expiry_max : pr.num;
      if (c->cl) c->cl->expiry_s = v;
    }
  }
  /* only Normal disconnection (0x00) discards the will [MQTT-3.1.2-10] */
  br_conn_close(c, c->level == MQTT_LEVEL_5 && pk->reason != MQTT_RC_SUCCESS);
}

static void handle_packet(br_conn *c, const uint8_t *p, size_t len) {
  mqtt_packet pk;
  mqtt_err e = {0};
  if (c->state == BR_ST_NEW) {
    if ((p[0] >> 4) != MQTT_CONNECT) { /* [MQTT-3.1.0-1] */
      br_conn_close(c, false);
      return;
    }
    if (mqtt_decode(p, len, 0, &pk, &e)) {
      /* the level byte, if we can find it, decides the CONNACK form */
      uint8_t level = MQTT_LEVEL_311;
      size_t i = 1;
      while (i < len && (p[i] & 0x80)) i++;
      i++;
      if (i + 2 <= len) {
        size_t nl = ((size_t)p[i] << 8) | p[i + 1];
        if (i + 2 + nl < len && p[i + 2 + nl] == MQTT_LEVEL_5) level = MQTT_LEVEL_5;
      }
      if (e.reason == MQTT_RC_UNSUPPORTED_VERSION || e.reason == MQTT_RC_CLIENT_ID_INVALID)
        connack_refuse(c, e.reason == MQTT_RC_UNSUPPORTED_VERSION ? MQTT_LEVEL_311 : level,
                       e.reason);
      else if (level == MQTT_LEVEL_5 && e.reason)
        connack_refuse(c, level, e.reason);
      else
        br_conn_close(c, false);
      return;
    }
    handle_connect(c, &pk);
    return;
  }
  if (mqtt_decode(p, len, c->level, &pk, &e)) {
    br_conn_disconnect(c, e.reason ? e.reason : MQTT_RC_MALFORMED, e.msg, true);
    return;
  }
  br_client *cl = c->cl;
  switch (pk.type) {
  case MQTT_PUBLISH: handle_publish(c, &pk); break;
  case MQTT_PUBACK:
    if (mqtt_session_on_puback(cl->sess, pk.packet_id) == 0 && c->unacked) c->unacked--;
    c->window_opened = true;
    br_conn_mark(c);
    break;
  case MQTT_PUBREC: {
    int rc = mqtt_session_on_pubrec(cl->sess, pk.packet_id, pk.reason);
    if (rc == LOOM_ENOTFOUND && pk.reason < 0x80)
      send_reason_pk(c, MQTT_PUBREL, pk.packet_id, MQTT_RC_PACKET_ID_NOT_FOUND, NULL);
    if (rc == 0 && pk.reason >= 0x80 && c->unacked) c->unacked--;
    br_conn_mark(c);
    break;
  }
  case MQTT_PUBREL: {
    int rc = mqtt_session_in_pubrel(cl->sess, pk.packet_id);
    send_reason_pk(c, MQTT_PUBCOMP, pk.packet_id, rc ? MQTT_RC_PACKET_ID_NOT_FOUND : 0, NULL);
    break;
  }
  case MQTT_PUBCOMP:
    if (mqtt_session_on_pubcomp(cl->sess, pk.packet_id) == 0 && c->unacked) c->unacked--;
    c->window_opened = true;
    br_conn_mark(c);
    break;
  case MQTT_SUBSCRIBE: handle_subscribe(c, &pk); break;
  case MQTT_UNSUBSCRIBE: handle_unsubscribe(c, &pk); break;
  case MQTT_PINGREQ: {
    mqtt_packet r;
    memset(&r, 0, sizeof(r));
    r.type = MQTT_PINGRESP;
    send_pk(c, &r);
    break;
  }
  case MQTT_DISCONNECT: handle_disconnect(c, &pk); break;
  case MQTT_CONNECT:
    br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "second CONNECT", true);
    break;
  case MQTT_AUTH:
    br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "AUTH without an Authentication Method", true);
    break;
  default:
    br_conn_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "packet type not allowed from a client", true);
    break;
  }
}

/* Handle the whole packets at p[0..n); returns the bytes consumed. */
static size_t process(br_conn *c, const uint8_t *p, size_t n) {
  mqtt_broker *b = c->b;
  size_t off = 0;
  while (off < n && !c->closing && c->state != BR_ST_AUTH) {
    size_t max = c->state == BR_ST_UP ? b->lim.max_packet : b->lim.preauth_max_packet;
    size_t plen = 0;
    mqtt_err e = {0};
    int rc = mqtt_frame(p + off, n - off, max, &plen, &e);
    if (rc == LOOM_ETRUNC) break;
    if (rc) {
      if (c->state == BR_ST_UP)
        br_conn_disconnect(c, e.reason ? e.reason : MQTT_RC_MALFORMED, e.msg, true);
      else
        br_conn_close(c, false);
      break;
    }
    handle_packet(c, p + off, plen);
    off += plen;
  }
  return off;
}

static void process_buffered(br_conn *c) {
  if (!c->in.len) return;
  size_t used = process(c, c->in.data, c->in.len);
  if (c->closing) return;
  memmove(c->in.data, c->in.data + used, c->in.len - used);
  c->in.len -= used;
  if (!c->in.len) loom_buf_deinit(&c->in);
}

static void input(br_conn *c, const uint8_t *p, size_t n);

void br_conn_input(br_conn *c, const uint8_t *p, size_t n) {
  mqtt_broker *b = c->b;
  if (c->closing) return;
  c->last_rx_ms = br_now(b);
  c->in_rx = true;
  input(c, p, n);
  c->in_rx = false;
}

static void input(br_conn *c, const uint8_t *p, size_t n) {
  mqtt_broker *b = c->b;
  if (c->in.len || c->state == BR_ST_AUTH) {
    size_t cap = c->state == BR_ST_UP ? b->lim.max_packet : b->lim.preauth_max_packet;
    if (c->state != BR_ST_UP && c->in.len + n > (size_t)cap + 8) {
      br_conn_close(c, false);
      return;
    }
    if (loom_buf_append(&c->in, p, n)) {
      br_conn_close(c, false);
      return;
    }
    process_buffered(c);
    return;
  }
  size_t used = process(c, p, n);
  if (c->closing || used == n) return;
  if (loom_buf_append(&c->in, p + used, n - used)) br_conn_close(c, false);
}

void br_conn_sweep(br_conn *c, uint64_t now) {
  /* idle connections keep no buffers (<= 1.5 KiB per idle connection) */
  if (now - c->last_rx_ms > 1000 && !c->dirty) {
    if (!c->out.len && c->out.cap) loom_buf_deinit(&c->out);
    if (!c->wire.len && c->wire.cap) loom_buf_deinit(&c->wire);
  }
  if (c->state == BR_ST_NEW || c->state == BR_ST_AUTH) {
    if (now >= c->deadline_ms) br_conn_close(c, false);
    return;
  }
  if (c->state == BR_ST_UP && c->keepalive_s &&
      now - c->last_rx_ms > (uint64_t)c->keepalive_s * 1500u)
    br_conn_disconnect(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout", true);
}
