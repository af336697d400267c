/* SPDX-License-Identifier: Apache-2.0
 * MQTT per-client session state (see mqtt/session.h). Small arrays and a
 * singly linked queue: sessions hold few in-flight flows (bounded by the
 * Receive Maximum) and few aliases (bounded by alias_out_cap / our Topic
 * Alias Maximum), so linear scans stay cheap and idle sessions small.
 */
#include "mqtt/session.h"

#include <stddef.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/codec.h"

enum { ST_WAIT_ACK = 1, ST_WAIT_REC = 2, ST_WAIT_COMP = 3 };
#define SUB_ID_MAX 268435455u

/* A queued delivery; allocated with room for max(n_ids, 1) identifiers. */
typedef struct qnode {
  struct qnode *next;
  mqtt_msg *msg;
  uint8_t qos;
  bool retain;         /* RETAIN flag for this delivery */
  uint8_t n_ids;       /* Subscription Identifiers to send: ids[0..n_ids) */
  uint32_t ids[];
} qnode;

typedef struct flight {
  mqtt_msg *msg;       /* NULL once PUBREC arrived (only PUBREL remains) */
  union {
    uint32_t one;      /* n_ids <= 1 */
    uint32_t *many;    /* n_ids > 1, owned */
  } ids;
  uint16_t packet_id;
  uint8_t qos, state;
  uint8_t n_ids;       /* Subscription Identifiers of this delivery */
  bool retain;
  bool resend;         /* must be sent again (after reconnect or PUBREC) */
  bool sent_once;      /* a PUBLISH went out: resends carry DUP */
} flight;

static const uint32_t *fl_ids(const flight *f) {
  return f->n_ids > 1 ? f->ids.many : &f->ids.one;
}

static void fl_ids_free(flight *f) {
  if (f->n_ids > 1) loom_free(f->ids.many);
  f->n_ids = 0;
}

/* Copies ids[0..n) into f (f's previous list is not freed). */
static int fl_ids_set(flight *f, const uint32_t *ids, uint8_t n) {
  if (n > 1) {
    uint32_t *a = loom_malloc(n * sizeof(*a));
    if (!a) return LOOM_ENOMEM;
    memcpy(a, ids, n * sizeof(*a));
    f->ids.many = a;
  } else {
    f->ids.one = n ? ids[0] : 0;
  }
  f->n_ids = n;
  return 0;
}

static qnode *qnode_alloc(uint8_t n_ids) {
  return loom_malloc(offsetof(qnode, ids) + (n_ids ? n_ids : 1u) * sizeof(uint32_t));
}

typedef struct alias_out {
  char *topic;         /* NULL = free slot */
  size_t len;          /* topic bytes */
  uint32_t hash;       /* topic_hash(topic) */
  uint64_t used;       /* LRU stamp from s->tick */
} alias_out;

typedef struct in_id {
  uint16_t packet_id;
  uint8_t qos;
} in_id;

struct mqtt_session {
  mqtt_session_cfg cfg;
  mqtt_session_stats stats;
  bool connected;
  uint8_t level;
  uint16_t recv_max_out, alias_max_out;
  uint32_t max_packet_out; /* client's Maximum Packet Size, 0 = none */
  uint32_t session_expiry_s;
  uint64_t expires_at_ms;  /* while disconnected; UINT64_MAX = never */
  uint16_t next_pid;
  qnode *qhead, *qtail;
  uint32_t n_queued;
  uint32_t n_queued_qos0; /* lets a blocked _next skip the QoS 0 scan */
  size_t queued_bytes;
  flight *fl;
  uint32_t n_fl, cap_fl;
  in_id *in;
  uint32_t n_in, cap_in;
  char **alias_in;     /* alias_max_in slots, index alias-1 */
  alias_out *aout;     /* alias_n_out slots, index alias-1 */
  uint16_t alias_n_out;
  /* Hashes of topics recently sent without an alias because the table was
   * full (alias_n_out entries, ring): a topic seen again while still here
   * is "frequent" and replaces the least recently used alias. This keeps
   * a stream of many distinct topics from churning the table. */
  uint32_t *seen;
  uint16_t seen_pos;
  uint64_t tick;
};

int mqtt_msg_new(const char *topic, size_t topic_len, const void *payload, size_t payload_len,
                 const void *props, size_t props_len, uint8_t qos, bool retain,
                 bool has_expiry, uint32_t expiry_s, uint64_t now_ms, mqtt_msg **out) {
  if (!out || qos > 2 || (!topic && topic_len) || (!payload && payload_len) ||
      (!props && props_len))
    return LOOM_EINVAL;
  size_t total = sizeof(mqtt_msg) + topic_len + 1 + payload_len + props_len;
  if (total < topic_len || total < payload_len) return LOOM_ERANGE;
  mqtt_msg *m = loom_malloc(total);
  if (!m) return LOOM_ENOMEM;
  char *t = (char *)(m + 1);
  uint8_t *pl = (uint8_t *)t + topic_len + 1;
  uint8_t *pr = pl + payload_len;
  if (topic_len) memcpy(t, topic, topic_len);
  t[topic_len] = '\0';
  if (payload_len) memcpy(pl, payload, payload_len);
  if (props_len) memcpy(pr, props, props_len);
  m->refs = 1;
  m->qos = qos;
  m->retain = retain;
  m->has_expiry = has_expiry;
  m->expiry_at_ms = has_expiry ? now_ms + (uint64_t)expiry_s * 1000u : 0;
  m->topic = t;
  m->topic_len = topic_len;
  m->payload = pl;
  m->payload_len = payload_len;
  m->props = pr;
  m->props_len = props_len;
  *out = m;
  return 0;
}

mqtt_msg *mqtt_msg_ref(mqtt_msg *m) {
  if (m) m->refs++;
  return m;
}

void mqtt_msg_unref(mqtt_msg *m) {
  if (m && --m->refs == 0) loom_free(m);
}

static size_t msg_bytes(const mqtt_msg *m) {
  return m->topic_len + m->payload_len + m->props_len;
}

static bool msg_expired(const mqtt_msg *m, uint64_t now_ms) {
  return m->has_expiry && now_ms >= m->expiry_at_ms;
}

int mqtt_session_new(const mqtt_session_cfg *cfg, mqtt_session **out) {
  if (!cfg || !out || cfg->recv_max_in == 0) return LOOM_EINVAL;
  mqtt_session *s = loom_calloc(1, sizeof(*s));
  if (!s) return LOOM_ENOMEM;
  s->cfg = *cfg;
  s->next_pid = 1;
  s->level = MQTT_LEVEL_311;
  s->recv_max_out = 65535;
  *out = s;
  return 0;
}

static void aliases_reset(mqtt_session *s) {
  if (s->alias_in) {
    for (uint32_t i = 0; i < s->cfg.alias_max_in; i++) loom_free(s->alias_in[i]);
    loom_free(s->alias_in);
    s->alias_in = NULL;
  }
  if (s->aout) {
    for (uint32_t i = 0; i < s->alias_n_out; i++) loom_free(s->aout[i].topic);
    loom_free(s->aout);
    s->aout = NULL;
  }
  loom_free(s->seen);
  s->seen = NULL;
  s->seen_pos = 0;
  s->alias_n_out = 0;
}

void mqtt_session_free(mqtt_session *s) {
  if (!s) return;
  qnode *n = s->qhead;
  while (n) {
    qnode *next = n->next;
    mqtt_msg_unref(n->msg);
    loom_free(n);
    n = next;
  }
  for (uint32_t i = 0; i < s->n_fl; i++) {
    mqtt_msg_unref(s->fl[i].msg);
    fl_ids_free(&s->fl[i]);
  }
  loom_free(s->fl);
  loom_free(s->in);
  aliases_reset(s);
  loom_free(s);
}

int mqtt_session_connect(mqtt_session *s, uint8_t level, uint16_t recv_max_out,
                         uint16_t alias_max_out, uint32_t session_expiry_s) {
  if (!s || level < MQTT_LEVEL_31 || level > MQTT_LEVEL_5) return LOOM_EINVAL;
  aliases_reset(s);
  s->connected = true;
  s->level = level;
  s->recv_max_out = recv_max_out ? recv_max_out : 65535;
  s->alias_max_out = level == MQTT_LEVEL_5 ? alias_max_out : 0;
  s->session_expiry_s = session_expiry_s;
  s->max_packet_out = 0;
  /* Inbound QoS 1 ids that were never acknowledged die with the
   * connection (the client resends them); QoS 2 ids stay until PUBREL. */
  uint32_t w = 0;
  for (uint32_t i = 0; i < s->n_in; i++)
    if (s->in[i].qos == 2) s->in[w++] = s->in[i];
  s->n_in = w;
  for (uint32_t i = 0; i < s->n_fl; i++) s->fl[i].resend = true;
  return 0;
}

void mqtt_session_disconnect(mqtt_session *s, uint32_t session_expiry_s, uint64_t now_ms) {
  if (!s) return;
  s->connected = false;
  s->session_expiry_s = session_expiry_s;
  if (session_expiry_s == 0xFFFFFFFFu) {
    s->expires_at_ms = UINT64_MAX;
  } else {
    uint64_t d = (uint64_t)session_expiry_s * 1000u;
    s->expires_at_ms = now_ms > UINT64_MAX - 1 - d ? UINT64_MAX - 1 : now_ms + d;
  }
  aliases_reset(s);
}

uint64_t mqtt_session_expires_at(const mqtt_session *s) {
  if (!s || s->connected) return UINT64_MAX;
  return s->expires_at_ms;
}

bool mqtt_session_expired(const mqtt_session *s, uint64_t now_ms) {
  return s && !s->connected && now_ms >= mqtt_session_expires_at(s);
}

/* Unlink node n (prev is its predecessor or NULL) and free it. */
static void queue_remove(mqtt_session *s, qnode *prev, qnode *n) {
  if (prev) prev->next = n->next;
  else s->qhead = n->next;
  if (s->qtail == n) s->qtail = prev;
  s->n_queued--;
  if (n->qos == 0) s->n_queued_qos0--;
  s->queued_bytes -= msg_bytes(n->msg);
  mqtt_msg_unref(n->msg);
  loom_free(n);
}

static bool queue_full(const mqtt_session *s, size_t add_bytes) {
  if (s->cfg.max_queued && s->n_queued + 1 > s->cfg.max_queued) return true;
  if (s->cfg.max_queued_bytes && s->queued_bytes + add_bytes > s->cfg.max_queued_bytes)
    return true;
  return false;
}

/* Drop the oldest queued QoS 0 message; false if there is none. */
static bool drop_one_qos0(mqtt_session *s) {
  if (!s->n_queued_qos0) return false; /* a full queue of QoS 1/2: no scan */
  qnode *prev = NULL;
  for (qnode *n = s->qhead; n; prev = n, n = n->next) {
    if (n->qos == 0) {
      queue_remove(s, prev, n);
      s->stats.dropped_qos0++;
      s->stats.last_drop_reason = MQTT_RC_QUOTA_EXCEEDED;
      return true;
    }
  }
  return false;
}

int mqtt_session_enqueue(mqtt_session *s, mqtt_msg *m, uint8_t granted_qos, uint64_t now_ms) {
  if (!m) return LOOM_EINVAL;
  mqtt_session_delivery d = {.qos = granted_qos, .retain = m->retain};
  return mqtt_session_enqueue_ex(s, m, &d, now_ms);
}

int mqtt_session_enqueue_ex(mqtt_session *s, mqtt_msg *m, const mqtt_session_delivery *d,
                            uint64_t now_ms) {
  if (!s || !m || !d || d->qos > 2) return LOOM_EINVAL;
  const uint32_t *ids = &d->sub_id;
  size_t n_ids = d->sub_id ? 1 : 0;
  if (d->n_sub_ids) {
    ids = d->sub_ids;
    n_ids = d->n_sub_ids;
    if (!ids || n_ids > MQTT_SESSION_MAX_SUB_IDS) return LOOM_EINVAL;
    for (size_t i = 0; i < n_ids; i++)
      if (ids[i] == 0) return LOOM_EINVAL;
  }
  for (size_t i = 0; i < n_ids; i++)
    if (ids[i] > SUB_ID_MAX) return LOOM_EINVAL;
  uint8_t granted_qos = d->qos;
  if (msg_expired(m, now_ms)) {
    s->stats.dropped_expired++;
    return 0;
  }
  uint8_t qos = m->qos < granted_qos ? m->qos : granted_qos;
  if (qos == 0 && !s->connected && !s->cfg.queue_qos0_offline) return 0;
  size_t nb = msg_bytes(m);
  while (queue_full(s, nb) && drop_one_qos0(s)) {
  }
  if (queue_full(s, nb)) {
    s->stats.last_drop_reason = MQTT_RC_QUOTA_EXCEEDED;
    if (qos == 0) {
      s->stats.dropped_qos0++;
      return 0;
    }
    s->stats.dropped_full++;
    return LOOM_ERANGE;
  }
  qnode *n = qnode_alloc((uint8_t)n_ids);
  if (!n) return LOOM_ENOMEM;
  n->next = NULL;
  n->msg = mqtt_msg_ref(m);
  n->qos = qos;
  n->retain = d->retain;
  n->n_ids = (uint8_t)n_ids;
  if (n_ids) memcpy(n->ids, ids, n_ids * sizeof(*ids));
  if (s->qtail) s->qtail->next = n;
  else s->qhead = n;
  s->qtail = n;
  s->n_queued++;
  if (qos == 0) s->n_queued_qos0++;
  s->queued_bytes += nb;
  return 0;
}

static bool pid_in_use(const mqtt_session *s, uint16_t pid) {
  for (uint32_t i = 0; i < s->n_fl; i++)
    if (s->fl[i].packet_id == pid) return true;
  return false;
}

/* Next free non-zero id after the last one handed out, wrapping 65535 -> 1.
 * The caller guarantees fewer than 65535 ids are in use. */
static uint16_t pid_alloc(mqtt_session *s) {
  uint16_t pid = s->next_pid;
  while (pid == 0 || pid_in_use(s, pid)) pid = (uint16_t)(pid + 1);
  s->next_pid = (uint16_t)(pid + 1);
  return pid;
}

/* FNV-1a, never 0 (0 marks an empty slot in s->seen). */
static uint32_t topic_hash(const char *p, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
  return h ? h : 1;
}

/* Outbound alias for topic t: reuse, take a free slot, or replace the
 * least recently used one. Sets o->topic_alias / o->omit_topic. */
static int alias_assign(mqtt_session *s, const mqtt_msg *m, mqtt_session_out *o) {
  o->topic_alias = 0;
  o->omit_topic = false;
  uint16_t max = s->alias_max_out;
  if (s->cfg.alias_out_cap < max) max = s->cfg.alias_out_cap;
  if (max == 0 || m->topic_len == 0) return 0;
  if (!s->aout) {
    s->seen = loom_calloc(max, sizeof(*s->seen));
    s->aout = loom_calloc(max, sizeof(*s->aout));
    if (!s->aout || !s->seen) {
      loom_free(s->aout);
      loom_free(s->seen);
      s->aout = NULL;
      s->seen = NULL;
      return LOOM_ENOMEM;
    }
    s->alias_n_out = max;
  }
  s->tick++;
  uint32_t h = topic_hash(m->topic, m->topic_len);
  uint32_t victim = 0;
  for (uint32_t i = 0; i < s->alias_n_out; i++) {
    alias_out *a = &s->aout[i];
    if (a->topic && a->hash == h && a->len == m->topic_len &&
        memcmp(a->topic, m->topic, m->topic_len) == 0) {
      a->used = s->tick;
      o->topic_alias = (uint16_t)(i + 1);
      o->omit_topic = true;
      return 0;
    }
    if (!a->topic) {
      if (s->aout[victim].topic) victim = i;
    } else if (s->aout[victim].topic && a->used < s->aout[victim].used) {
      victim = i;
    }
  }
  if (s->aout[victim].topic) {
    /* Table full: replace only for a topic missed recently already. */
    uint32_t k = 0;
    while (k < s->alias_n_out && s->seen[k] != h) k++;
    if (k == s->alias_n_out) {
      s->seen[s->seen_pos] = h;
      s->seen_pos = (uint16_t)((s->seen_pos + 1u) % s->alias_n_out);
      return 0;
    }
    s->seen[k] = 0;
  }
  char *t = loom_strndup(m->topic, m->topic_len);
  if (!t) return LOOM_ENOMEM;
  loom_free(s->aout[victim].topic);
  s->aout[victim].topic = t;
  s->aout[victim].len = m->topic_len;
  s->aout[victim].hash = h;
  s->aout[victim].used = s->tick;
  o->topic_alias = (uint16_t)(victim + 1);
  return 0;
}

static void flight_remove(mqtt_session *s, uint32_t i);

static int fill_publish(mqtt_session *s, mqtt_msg *m, uint8_t qos, bool retain,
                        const uint32_t *ids, uint8_t n_ids, uint16_t pid, bool dup,
                        uint64_t now_ms, mqtt_session_out *o) {
  memset(o, 0, offsetof(mqtt_session_out, sub_ids)); /* the id array: n_sub_ids only */
  int rc = alias_assign(s, m, o);
  if (rc) return rc;
  o->type = MQTT_PUBLISH;
  o->packet_id = pid;
  o->qos = qos;
  o->dup = dup;
  o->retain = retain;
  o->n_sub_ids = n_ids;
  if (n_ids) memcpy(o->sub_ids, ids, n_ids * sizeof(*ids));
  if (m->has_expiry) {
    uint64_t left = m->expiry_at_ms > now_ms ? m->expiry_at_ms - now_ms : 0;
    uint64_t sec = (left + 999u) / 1000u;
    if (sec == 0) sec = 1; /* an in-flight resend past expiry: 0 would read as "now" */
    o->has_expiry = true;
    o->expiry_s = sec > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)sec;
  }
  o->msg = mqtt_msg_ref(m);
  return 0;
}

static uint32_t count_publish_inflight(const mqtt_session *s) {
  /* Receive Maximum counts QoS 1/2 PUBLISHes until PUBACK / PUBCOMP. */
  return s->n_fl;
}

void mqtt_session_set_max_packet_out(mqtt_session *s, uint32_t max_len) {
  if (s) s->max_packet_out = max_len;
}

/* Upper bound of the encoded PUBLISH size: the topic is counted even if an
 * alias would let it be omitted, and a Topic Alias property whenever
 * aliases are on, so the check never depends on alias state. */
static uint64_t publish_size_bound(const mqtt_session *s, const mqtt_msg *m, uint8_t qos,
                                   const uint32_t *ids, uint8_t n_ids) {
  uint64_t body = 2 + (uint64_t)m->topic_len + (qos ? 2 : 0) + m->payload_len;
  if (s->level == MQTT_LEVEL_5) {
    uint64_t pl = m->props_len + (m->has_expiry ? 5 : 0) + (s->alias_max_out ? 3 : 0);
    for (uint8_t i = 0; i < n_ids; i++) pl += 1 + (uint64_t)mqtt_varint_size(ids[i]);
    body += pl + (pl > MQTT_MAX_REMAINING ? 4 : (uint64_t)mqtt_varint_size((uint32_t)pl));
  }
  return 1 + (body > MQTT_MAX_REMAINING ? 4 : (uint64_t)mqtt_varint_size((uint32_t)body)) + body;
}

static bool too_large(const mqtt_session *s, const mqtt_msg *m, uint8_t qos, const uint32_t *ids,
                      uint8_t n_ids) {
  return s->max_packet_out && publish_size_bound(s, m, qos, ids, n_ids) > s->max_packet_out;
}

int mqtt_session_next(mqtt_session *s, uint64_t now_ms, mqtt_session_out *out) {
  if (!s || !out) return LOOM_EINVAL;
  if (!s->connected) return LOOM_ECLOSED;
  for (uint32_t i = 0; i < s->n_fl; i++) {
    flight *f = &s->fl[i];
    if (!f->resend) continue;
    if (f->state != ST_WAIT_COMP && too_large(s, f->msg, f->qos, fl_ids(f), f->n_ids)) {
      /* [MQTT-3.1.2-25]: discard as if its delivery had completed. */
      flight_remove(s, i--);
      s->stats.dropped_too_large++;
      continue;
    }
    if (f->state == ST_WAIT_COMP) {
      memset(out, 0, offsetof(mqtt_session_out, sub_ids));
      out->type = MQTT_PUBREL;
      out->packet_id = f->packet_id;
      out->qos = 1;
      f->resend = false;
      return 0;
    }
    int rc = fill_publish(s, f->msg, f->qos, f->retain, fl_ids(f), f->n_ids, f->packet_id,
                          f->sent_once, now_ms, out);
    if (rc) return rc;
    f->resend = false;
    f->sent_once = true;
    return 0;
  }
  /* Expired messages at the head are dropped before onward delivery. */
  qnode *prev = NULL, *n = s->qhead;
  bool blocked = count_publish_inflight(s) >= s->recv_max_out;
  while (n) {
    if (msg_expired(n->msg, now_ms)) {
      qnode *next = n->next;
      queue_remove(s, prev, n);
      s->stats.dropped_expired++;
      n = next;
      continue;
    }
    if ((n->qos == 0 || !blocked) && too_large(s, n->msg, n->qos, n->ids, n->n_ids)) {
      qnode *next = n->next;
      queue_remove(s, prev, n);
      s->stats.dropped_too_large++;
      n = next;
      continue;
    }
    if (n->qos == 0 || !blocked) break;
    if (s->n_queued_qos0 == 0) return LOOM_EAGAIN;
    prev = n;
    n = n->next;
  }
  if (!n) return LOOM_EAGAIN;
  if (n->qos == 0) {
    int rc = fill_publish(s, n->msg, 0, n->retain, n->ids, n->n_ids, 0, false, now_ms, out);
    if (rc) return rc;
    queue_remove(s, prev, n);
    return 0;
  }
  if (s->n_fl == s->cap_fl) {
    uint32_t cap = s->cap_fl ? s->cap_fl * 2 : 4;
    flight *nf = loom_realloc(s->fl, cap * sizeof(*nf));
    if (!nf) return LOOM_ENOMEM;
    s->fl = nf;
    s->cap_fl = cap;
  }
  /* the new flight's slot (not counted yet): its ids first, so a failed
   * allocation consumes nothing (fill_publish assigns aliases) */
  flight *f = &s->fl[s->n_fl];
  if (fl_ids_set(f, n->ids, n->n_ids)) return LOOM_ENOMEM;
  uint16_t pid = pid_alloc(s);
  int rc = fill_publish(s, n->msg, n->qos, n->retain, n->ids, n->n_ids, pid, false, now_ms, out);
  if (rc) {
    fl_ids_free(f);
    return rc;
  }
  s->n_fl++;
  f->msg = mqtt_msg_ref(n->msg);
  f->packet_id = pid;
  f->qos = n->qos;
  f->retain = n->retain;
  f->state = n->qos == 1 ? ST_WAIT_ACK : ST_WAIT_REC;
  f->resend = false;
  f->sent_once = true;
  queue_remove(s, prev, n);
  return 0;
}

int mqtt_session_out_encode(const mqtt_session *s, const mqtt_session_out *o, loom_buf *b) {
  if (!s || !o || !b) return LOOM_EINVAL;
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = o->type;
  pk.packet_id = o->packet_id;
  if (o->type == MQTT_PUBREL) return mqtt_encode(b, &pk, s->level);
  if (o->type != MQTT_PUBLISH || !o->msg) return LOOM_EINVAL;
  loom_buf props;
  loom_buf_init(&props);
  int rc = 0;
  pk.qos = o->qos;
  pk.dup = o->dup;
  pk.retain = o->retain;
  pk.topic.p = (const uint8_t *)o->msg->topic;
  pk.topic.len = o->omit_topic ? 0 : o->msg->topic_len;
  pk.payload.p = o->msg->payload;
  pk.payload.len = o->msg->payload_len;
  if (s->level == MQTT_LEVEL_5) {
    if (o->has_expiry && (rc = mqtt_prop_append_num(&props, MQTT_P_MESSAGE_EXPIRY, o->expiry_s)))
      goto done;
    for (uint8_t i = 0; i < o->n_sub_ids && i < MQTT_SESSION_MAX_SUB_IDS; i++)
      if ((rc = mqtt_prop_append_num(&props, MQTT_P_SUBSCRIPTION_ID, o->sub_ids[i]))) goto done;
    if (o->topic_alias && (rc = mqtt_prop_append_num(&props, MQTT_P_TOPIC_ALIAS, o->topic_alias)))
      goto done;
    if (o->msg->props_len && (rc = loom_buf_append(&props, o->msg->props, o->msg->props_len)))
      goto done;
    pk.props.p = props.data;
    pk.props.len = props.len;
  }
  rc = mqtt_encode(b, &pk, s->level);
done:
  loom_buf_deinit(&props);
  return rc;
}

static int find_flight(const mqtt_session *s, uint16_t pid, uint8_t state) {
  for (uint32_t i = 0; i < s->n_fl; i++)
    if (s->fl[i].packet_id == pid && s->fl[i].state == state) return (int)i;
  return -1;
}

static void flight_remove(mqtt_session *s, uint32_t i) {
  mqtt_msg_unref(s->fl[i].msg);
  fl_ids_free(&s->fl[i]);
  memmove(&s->fl[i], &s->fl[i + 1], (s->n_fl - i - 1) * sizeof(*s->fl));
  s->n_fl--;
}

int mqtt_session_on_puback(mqtt_session *s, uint16_t packet_id) {
  int i = s ? find_flight(s, packet_id, ST_WAIT_ACK) : -1;
  if (i < 0) return LOOM_ENOTFOUND;
  flight_remove(s, (uint32_t)i);
  return 0;
}

int mqtt_session_on_pubrec(mqtt_session *s, uint16_t packet_id, uint8_t reason) {
  int i = s ? find_flight(s, packet_id, ST_WAIT_REC) : -1;
  if (i < 0) {
    /* A repeated PUBREC (after a reconnect) asks for PUBREL again. */
    i = s ? find_flight(s, packet_id, ST_WAIT_COMP) : -1;
    if (i < 0) return LOOM_ENOTFOUND;
    s->fl[i].resend = true;
    return 0;
  }
  if (reason >= 0x80) {
    flight_remove(s, (uint32_t)i);
    return 0;
  }
  flight *f = &s->fl[i];
  mqtt_msg_unref(f->msg);
  f->msg = NULL;
  f->state = ST_WAIT_COMP;
  f->resend = true;
  return 0;
}

int mqtt_session_on_pubcomp(mqtt_session *s, uint16_t packet_id) {
  int i = s ? find_flight(s, packet_id, ST_WAIT_COMP) : -1;
  if (i < 0) return LOOM_ENOTFOUND;
  flight_remove(s, (uint32_t)i);
  return 0;
}

static int find_in(const mqtt_session *s, uint16_t pid) {
  for (uint32_t i = 0; i < s->n_in; i++)
    if (s->in[i].packet_id == pid) return (int)i;
  return -1;
}

int mqtt_session_in_publish(mqtt_session *s, uint8_t qos, uint16_t packet_id, bool *deliver,
                            mqtt_err *err) {
  if (!s || !deliver || qos == 0 || qos > 2 || packet_id == 0)
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "bad QoS or packet id");
  *deliver = true;
  int i = find_in(s, packet_id);
  if (i >= 0) {
    if (s->in[i].qos == 2 && qos == 2) *deliver = false;
    /* A QoS 1 resend of an unacknowledged id is delivered again (at least
     * once) without counting twice; a QoS change reuses the slot. */
    s->in[i].qos = qos;
    return 0;
  }
  if (s->n_in >= s->cfg.recv_max_in)
    return mqtt_err_set(err, LOOM_ERANGE, MQTT_RC_RECEIVE_MAX_EXCEEDED,
                        "Receive Maximum exceeded");
  if (s->n_in == s->cap_in) {
    uint32_t cap = s->cap_in ? s->cap_in * 2 : 4;
    in_id *n = loom_realloc(s->in, cap * sizeof(*n));
    if (!n) return mqtt_err_set(err, LOOM_ENOMEM, MQTT_RC_UNSPECIFIED, "out of memory");
    s->in = n;
    s->cap_in = cap;
  }
  s->in[s->n_in].packet_id = packet_id;
  s->in[s->n_in].qos = qos;
  s->n_in++;
  return 0;
}

static int in_forget(mqtt_session *s, uint16_t pid, uint8_t qos) {
  int i = s ? find_in(s, pid) : -1;
  if (i < 0 || s->in[i].qos != qos) return LOOM_ENOTFOUND;
  s->in[i] = s->in[s->n_in - 1];
  s->n_in--;
  return 0;
}

int mqtt_session_in_puback_sent(mqtt_session *s, uint16_t packet_id) {
  return in_forget(s, packet_id, 1);
}

int mqtt_session_in_pubrel(mqtt_session *s, uint16_t packet_id) {
  return in_forget(s, packet_id, 2);
}

int mqtt_session_in_alias(mqtt_session *s, const char *topic, size_t topic_len, bool has_alias,
                          uint16_t alias, const char **out_topic, size_t *out_len, mqtt_err *err) {
  if (!s || !out_topic || !out_len || (!topic && topic_len))
    return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "bad arguments");
  if (!has_alias) {
    if (topic_len == 0)
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "empty topic, no alias");
    *out_topic = topic;
    *out_len = topic_len;
    return 0;
  }
  if (alias == 0 || alias > s->cfg.alias_max_in)
    return mqtt_err_set(err, LOOM_ERANGE, MQTT_RC_TOPIC_ALIAS_INVALID, "Topic Alias invalid");
  if (!s->alias_in) {
    s->alias_in = loom_calloc(s->cfg.alias_max_in, sizeof(*s->alias_in));
    if (!s->alias_in) return mqtt_err_set(err, LOOM_ENOMEM, MQTT_RC_UNSPECIFIED, "out of memory");
  }
  char **slot = &s->alias_in[alias - 1];
  if (topic_len == 0) {
    if (!*slot)
      return mqtt_err_set(err, LOOM_EINVAL, MQTT_RC_PROTOCOL_ERROR, "unknown Topic Alias");
    *out_topic = *slot;
    *out_len = strlen(*slot);
    return 0;
  }
  char *t = loom_strndup(topic, topic_len);
  if (!t) return mqtt_err_set(err, LOOM_ENOMEM, MQTT_RC_UNSPECIFIED, "out of memory");
  loom_free(*slot);
  *slot = t;
  *out_topic = t;
  *out_len = topic_len;
  return 0;
}

uint32_t mqtt_session_queued(const mqtt_session *s) { return s ? s->n_queued : 0; }
size_t mqtt_session_queued_bytes(const mqtt_session *s) { return s ? s->queued_bytes : 0; }
uint32_t mqtt_session_inflight_out(const mqtt_session *s) { return s ? s->n_fl : 0; }
uint32_t mqtt_session_inflight_in(const mqtt_session *s) { return s ? s->n_in : 0; }
const mqtt_session_stats *mqtt_session_stats_get(const mqtt_session *s) {
  return s ? &s->stats : NULL;
}

/* ---- persistence (format: mqtt/persist.h, "Session blob"; version 2
 * changes in session.h at mqtt_session_save) ---- */

enum { BLOB_VERSION_1 = 1, BLOB_VERSION = 2 };

static int ids_save(loom_buf *b, const uint32_t *ids, uint8_t n) {
  int rc = loom_buf_append_uvarint(b, n);
  for (uint8_t i = 0; !rc && i < n; i++) rc = loom_buf_append_uvarint(b, ids[i]);
  return rc;
}

/* Version 1: one uvarint identifier, 0 = none. Version 2: uvarint count
 * (<= MQTT_SESSION_MAX_SUB_IDS) then that many non-zero identifiers. */
static int ids_load(loom_rd *r, uint8_t ver, uint32_t *ids, uint8_t *n) {
  uint64_t v;
  int rc = loom_rd_uvarint(r, &v);
  if (rc) return rc == LOOM_ENOMEM ? rc : LOOM_EINVAL;
  if (ver == BLOB_VERSION_1) {
    if (v > SUB_ID_MAX) return LOOM_EINVAL;
    ids[0] = (uint32_t)v;
    *n = v ? 1 : 0;
    return 0;
  }
  if (v > MQTT_SESSION_MAX_SUB_IDS) return LOOM_EINVAL;
  *n = (uint8_t)v;
  for (uint8_t i = 0; i < *n; i++) {
    uint64_t id;
    if ((rc = loom_rd_uvarint(r, &id))) return rc == LOOM_ENOMEM ? rc : LOOM_EINVAL;
    if (id == 0 || id > SUB_ID_MAX) return LOOM_EINVAL;
    ids[i] = (uint32_t)id;
  }
  return 0;
}

static uint64_t ms_left(uint64_t at_ms, uint64_t now_ms) {
  return at_ms > now_ms ? at_ms - now_ms : 0;
}

/* now_ms + left_ms - elapsed_ms, or now_ms when nothing is left (so
 * "expired" reads true), kept below UINT64_MAX (which means "never"). */
static uint64_t deadline_after(uint64_t now_ms, uint64_t left_ms, uint64_t elapsed_ms) {
  if (left_ms <= elapsed_ms) return now_ms;
  uint64_t d = left_ms - elapsed_ms;
  return now_ms > UINT64_MAX - 1 - d ? UINT64_MAX - 1 : now_ms + d;
}

static int msg_save(loom_buf *b, const mqtt_msg *m, uint64_t now_ms) {
  int rc;
  uint8_t flags = (uint8_t)((m->retain ? 1u : 0u) | (m->has_expiry ? 2u : 0u));
  if ((rc = loom_buf_append_u8(b, m->qos)) || (rc = loom_buf_append_u8(b, flags))) return rc;
  if (m->has_expiry && (rc = loom_buf_append_u64(b, ms_left(m->expiry_at_ms, now_ms))))
    return rc;
  if ((rc = loom_buf_append_uvarint(b, m->topic_len)) ||
      (rc = loom_buf_append(b, m->topic, m->topic_len)) ||
      (rc = loom_buf_append_uvarint(b, m->payload_len)) ||
      (rc = loom_buf_append(b, m->payload, m->payload_len)) ||
      (rc = loom_buf_append_uvarint(b, m->props_len)) ||
      (rc = loom_buf_append(b, m->props, m->props_len)))
    return rc;
  return 0;
}

int mqtt_session_save(const mqtt_session *s, uint64_t now_ms, loom_buf *out) {
  if (!s || !out) return LOOM_EINVAL;
  int rc;
  uint64_t left;
  if (s->connected)
    left = s->session_expiry_s == 0xFFFFFFFFu ? UINT64_MAX : (uint64_t)s->session_expiry_s * 1000u;
  else
    left = s->expires_at_ms == UINT64_MAX ? UINT64_MAX : ms_left(s->expires_at_ms, now_ms);
  uint32_t n_in2 = 0;
  for (uint32_t i = 0; i < s->n_in; i++) n_in2 += s->in[i].qos == 2;
  if ((rc = loom_buf_append_u8(out, BLOB_VERSION)) || (rc = loom_buf_append_u8(out, s->level)) ||
      (rc = loom_buf_append_u32(out, s->session_expiry_s)) ||
      (rc = loom_buf_append_u64(out, left)) || (rc = loom_buf_append_u16(out, s->next_pid)) ||
      (rc = loom_buf_append_uvarint(out, n_in2)))
    return rc;
  for (uint32_t i = 0; i < s->n_in; i++)
    if (s->in[i].qos == 2 && (rc = loom_buf_append_u16(out, s->in[i].packet_id))) return rc;
  if ((rc = loom_buf_append_uvarint(out, s->n_fl))) return rc;
  for (uint32_t i = 0; i < s->n_fl; i++) {
    const flight *f = &s->fl[i];
    uint8_t flags = (uint8_t)((f->retain ? 1u : 0u) | (f->sent_once ? 2u : 0u));
    if ((rc = loom_buf_append_u16(out, f->packet_id)) || (rc = loom_buf_append_u8(out, f->qos)) ||
        (rc = loom_buf_append_u8(out, f->state)) || (rc = loom_buf_append_u8(out, flags)) ||
        (rc = ids_save(out, fl_ids(f), f->n_ids)))
      return rc;
    if (f->state != ST_WAIT_COMP && (rc = msg_save(out, f->msg, now_ms))) return rc;
  }
  if ((rc = loom_buf_append_uvarint(out, s->n_queued))) return rc;
  for (const qnode *n = s->qhead; n; n = n->next) {
    if ((rc = loom_buf_append_u8(out, n->qos)) ||
        (rc = loom_buf_append_u8(out, n->retain ? 1u : 0u)) ||
        (rc = ids_save(out, n->ids, n->n_ids)) || (rc = msg_save(out, n->msg, now_ms)))
      return rc;
  }
  return 0;
}

/* Reader errors (truncated, over-long varint) are malformed input. */
static int rd_fail(int rc) { return rc == LOOM_ENOMEM ? rc : LOOM_EINVAL; }

static int rd_len(loom_rd *r, uint64_t max, size_t *len) {
  uint64_t v;
  int rc = loom_rd_uvarint(r, &v);
  if (rc) return rd_fail(rc);
  if (v > max || v > r->len) return LOOM_EINVAL;
  *len = (size_t)v;
  return 0;
}

static int msg_load(loom_rd *r, uint64_t now_ms, uint64_t elapsed_ms, mqtt_msg **out,
                    bool *expired) {
  uint8_t qos, flags;
  uint64_t left = 0;
  size_t tl, pl, prl;
  const uint8_t *t, *pay, *pr;
  int rc;
  if ((rc = loom_rd_u8(r, &qos)) || (rc = loom_rd_u8(r, &flags))) return rd_fail(rc);
  if (qos > 2 || (flags & ~3u)) return LOOM_EINVAL;
  if ((flags & 2u) && (rc = loom_rd_u64(r, &left))) return rd_fail(rc);
  if ((rc = rd_len(r, 65535u, &tl)) || (rc = loom_rd_ptr(r, &t, tl))) return rd_fail(rc);
  if (memchr(t, 0, tl)) return LOOM_EINVAL;
  if ((rc = rd_len(r, MQTT_MAX_REMAINING, &pl)) || (rc = loom_rd_ptr(r, &pay, pl)) ||
      (rc = rd_len(r, MQTT_MAX_REMAINING, &prl)) || (rc = loom_rd_ptr(r, &pr, prl)))
    return rd_fail(rc);
  mqtt_msg *m;
  rc = mqtt_msg_new((const char *)t, tl, pay, pl, pr, prl, qos, flags & 1u, false, 0, now_ms, &m);
  if (rc) return rc;
  if (flags & 2u) {
    m->has_expiry = true;
    m->expiry_at_ms = deadline_after(now_ms, left, elapsed_ms);
  }
  *expired = msg_expired(m, now_ms);
  *out = m;
  return 0;
}

/* Marks id in a 65536-bit set; false if it was already there. */
static bool id_mark(uint8_t *set, uint16_t id) {
  uint8_t bit = (uint8_t)(1u << (id & 7u));
  if (set[id >> 3] & bit) return false;
  set[id >> 3] |= bit;
  return true;
}

static int load_body(mqtt_session *s, loom_rd *r, uint64_t now_ms, uint64_t el) {
  uint8_t ver, level, ids[8192];
  uint32_t exp;
  uint64_t left;
  size_t n;
  int rc;
  if ((rc = loom_rd_u8(r, &ver)) || (rc = loom_rd_u8(r, &level)) || (rc = loom_rd_u32(r, &exp)) ||
      (rc = loom_rd_u64(r, &left)) || (rc = loom_rd_u16(r, &s->next_pid)))
    return rd_fail(rc);
  if ((ver != BLOB_VERSION && ver != BLOB_VERSION_1) || level < MQTT_LEVEL_31 ||
      level > MQTT_LEVEL_5)
    return LOOM_EINVAL;
  if ((exp == 0xFFFFFFFFu) != (left == UINT64_MAX)) return LOOM_EINVAL;
  if (left != UINT64_MAX && left > (uint64_t)exp * 1000u) return LOOM_EINVAL;
  s->level = level;
  s->session_expiry_s = exp;
  s->expires_at_ms = left == UINT64_MAX ? UINT64_MAX : deadline_after(now_ms, left, el);

  /* Inbound QoS 2 ids. */
  if ((rc = rd_len(r, 65535u, &n))) return rc;
  memset(ids, 0, sizeof(ids));
  if (n) {
    if (!(s->in = loom_malloc(n * sizeof(*s->in)))) return LOOM_ENOMEM;
    s->cap_in = (uint32_t)n;
  }
  for (size_t i = 0; i < n; i++) {
    uint16_t pid;
    if ((rc = loom_rd_u16(r, &pid))) return rd_fail(rc);
    if (pid == 0 || !id_mark(ids, pid)) return LOOM_EINVAL;
    s->in[s->n_in].packet_id = pid;
    s->in[s->n_in].qos = 2;
    s->n_in++;
  }

  /* Outbound in-flight flows, oldest first. */
  if ((rc = rd_len(r, 65535u, &n))) return rc;
  memset(ids, 0, sizeof(ids));
  if (n) {
    if (!(s->fl = loom_malloc(n * sizeof(*s->fl)))) return LOOM_ENOMEM;
    s->cap_fl = (uint32_t)n;
  }
  for (size_t i = 0; i < n; i++) {
    uint16_t pid;
    uint8_t qos, state, flags, n_sid;
    uint32_t sids[MQTT_SESSION_MAX_SUB_IDS];
    if ((rc = loom_rd_u16(r, &pid)) || (rc = loom_rd_u8(r, &qos)) || (rc = loom_rd_u8(r, &state)) ||
        (rc = loom_rd_u8(r, &flags)))
      return rd_fail(rc);
    if ((rc = ids_load(r, ver, sids, &n_sid))) return rc;
    if (pid == 0 || !id_mark(ids, pid) || (flags & ~3u)) return LOOM_EINVAL;
    if (!((qos == 1 && state == ST_WAIT_ACK) ||
          (qos == 2 && (state == ST_WAIT_REC || state == ST_WAIT_COMP))))
      return LOOM_EINVAL;
    mqtt_msg *m = NULL;
    if (state != ST_WAIT_COMP) {
      bool expired; /* in-flight: kept, its delivery had started */
      if ((rc = msg_load(r, now_ms, el, &m, &expired))) return rc;
      if (m->qos < qos) {
        mqtt_msg_unref(m);
        return LOOM_EINVAL;
      }
    }
    flight *f = &s->fl[s->n_fl];
    memset(f, 0, sizeof(*f));
    if (fl_ids_set(f, sids, n_sid)) {
      mqtt_msg_unref(m);
      return LOOM_ENOMEM;
    }
    s->n_fl++;
    f->msg = m;
    f->packet_id = pid;
    f->qos = qos;
    f->state = state;
    f->retain = flags & 1u;
    f->sent_once = (flags & 2u) != 0;
  }

  /* Queued deliveries, oldest first. */
  uint64_t nq;
  if ((rc = loom_rd_uvarint(r, &nq))) return rd_fail(rc);
  if (nq > r->len) return LOOM_EINVAL; /* each takes several bytes */
  for (uint64_t i = 0; i < nq; i++) {
    uint8_t qos, flags, n_sid;
    uint32_t sids[MQTT_SESSION_MAX_SUB_IDS];
    bool expired;
    mqtt_msg *m;
    if ((rc = loom_rd_u8(r, &qos)) || (rc = loom_rd_u8(r, &flags))) return rd_fail(rc);
    if ((rc = ids_load(r, ver, sids, &n_sid))) return rc;
    if (qos > 2 || (flags & ~1u)) return LOOM_EINVAL;
    if ((rc = msg_load(r, now_ms, el, &m, &expired))) return rc;
    if (m->qos < qos) {
      mqtt_msg_unref(m);
      return LOOM_EINVAL;
    }
    if (expired) {
      mqtt_msg_unref(m);
      s->stats.dropped_expired++;
      continue;
    }
    qnode *q = qnode_alloc(n_sid);
    if (!q) {
      mqtt_msg_unref(m);
      return LOOM_ENOMEM;
    }
    q->next = NULL;
    q->msg = m;
    q->qos = qos;
    q->retain = flags & 1u;
    q->n_ids = n_sid;
    if (n_sid) memcpy(q->ids, sids, n_sid * sizeof(*sids));
    if (s->qtail) s->qtail->next = q;
    else s->qhead = q;
    s->qtail = q;
    s->n_queued++;
    if (qos == 0) s->n_queued_qos0++;
    s->queued_bytes += msg_bytes(m);
  }
  return r->len ? LOOM_EINVAL : 0;
}

int mqtt_session_load(const mqtt_session_cfg *cfg, const uint8_t *p, size_t len,
                      uint64_t now_ms, int64_t elapsed_ms, mqtt_session **out) {
  if (!cfg || !out || (!p && len)) return LOOM_EINVAL;
  mqtt_session *s;
  int rc = mqtt_session_new(cfg, &s);
  if (rc) return rc;
  loom_rd r;
  loom_rd_init(&r, p, len);
  rc = load_body(s, &r, now_ms, elapsed_ms > 0 ? (uint64_t)elapsed_ms : 0);
  if (rc) {
    mqtt_session_free(s);
    return rc;
  }
  *out = s;
  return 0;
}
