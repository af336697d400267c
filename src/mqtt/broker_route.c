/* SPDX-License-Identifier: Apache-2.0
 * Broker clients and routing: the client-id table (one br_client = one
 * session, kept across connections until its Session Expiry Interval
 * passes), subscriptions per client (for counting and persistence), routing
 * a message through the subscription tree to every matching session, the
 * retained store (with message expiry kept in a small prefix, below), and
 * wills (immediate, delayed, or at session end).
 *
 * Retained entry props as stored in mqtt_retain (opaque to the store):
 *   byte 0      1 if the message has a Message Expiry, else 0
 *   bytes 1-8   expiry time, Unix ms, big-endian (0 without expiry)
 *   bytes 9-    the message's forwarded MQTT 5 property block body
 */
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "mqtt/broker_int.h"
#include "mqtt/topic.h"

#define RET_HDR 9

static uint32_t hash_id(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t)s[i];
    h *= 16777619u;
  }
  return h;
}

void br_session_cfg(mqtt_broker *b, mqtt_session_cfg *scfg) {
  memset(scfg, 0, sizeof(*scfg));
  scfg->recv_max_in = b->lim.recv_max;
  scfg->alias_max_in = b->lim.topic_alias_max;
  scfg->alias_out_cap = b->lim.topic_alias_max;
  scfg->max_queued = b->lim.max_queued_msgs;
  scfg->max_queued_bytes = b->lim.max_queued_bytes;
}

br_client *br_client_find(mqtt_broker *b, const char *id, size_t len) {
  uint32_t h = hash_id(id, len);
  for (br_client *c = b->ctab[h & (b->ctab_cap - 1)]; c; c = c->hnext)
    if (c->hash == h && c->id_len == len && memcmp(c->id, id, len) == 0) return c;
  return NULL;
}

static void ctab_grow(mqtt_broker *b) {
  size_t ncap = b->ctab_cap * 2;
  br_client **nt = loom_calloc(ncap, sizeof(*nt));
  if (!nt) return; /* keep the longer chains */
  for (size_t i = 0; i < b->ctab_cap; i++) {
    br_client *c = b->ctab[i];
    while (c) {
      br_client *n = c->hnext;
      c->hnext = nt[c->hash & (ncap - 1)];
      nt[c->hash & (ncap - 1)] = c;
      c = n;
    }
  }
  loom_free(b->ctab);
  b->ctab = nt;
  b->ctab_cap = ncap;
}

int br_client_new(mqtt_broker *b, const char *id, mqtt_session_cfg *scfg, br_client **out) {
  mqtt_session *s = NULL;
  if (mqtt_session_new(scfg, &s)) return LOOM_ENOMEM;
  int rc = br_client_adopt(b, id, s, out);
  if (rc) mqtt_session_free(s);
  return rc;
}

int br_client_adopt(mqtt_broker *b, const char *id, mqtt_session *s, br_client **out) {
  br_client *cl = loom_calloc(1, sizeof(*cl));
  if (!cl) return LOOM_ENOMEM;
  cl->id_len = strlen(id);
  cl->id = loom_strndup(id, cl->id_len);
  if (!cl->id) {
    loom_free(cl);
    return LOOM_ENOMEM;
  }
  cl->sess = s;
  cl->hash = hash_id(id, cl->id_len);
  if (b->n_clients + 1 > b->ctab_cap) ctab_grow(b);
  size_t i = cl->hash & (b->ctab_cap - 1);
  cl->hnext = b->ctab[i];
  b->ctab[i] = cl;
  b->n_clients++;
  *out = cl;
  return 0;
}

void br_dlist_remove(mqtt_broker *b, br_client *cl) {
  if (!cl->in_dlist) return;
  if (cl->dprev) cl->dprev->dnext = cl->dnext;
  else b->dlist = cl->dnext;
  if (cl->dnext) cl->dnext->dprev = cl->dprev;
  cl->dnext = cl->dprev = NULL;
  cl->in_dlist = false;
}

static void dl_deadline(mqtt_broker *b, const br_client *cl) {
  uint64_t t = mqtt_session_expires_at(cl->sess);
  if (cl->will && cl->will_at_ms < t) t = cl->will_at_ms;
  if (t < b->dl_next_ms) b->dl_next_ms = t;
}

void br_dlist_add(mqtt_broker *b, br_client *cl) {
  dl_deadline(b, cl);
  if (cl->in_dlist) return;
  cl->dprev = NULL;
  cl->dnext = b->dlist;
  if (b->dlist) b->dlist->dprev = cl;
  b->dlist = cl;
  cl->in_dlist = true;
}

void br_client_cancel_will(mqtt_broker *b, br_client *cl) {
  if (cl->will) mqtt_msg_unref(cl->will);
  cl->will = NULL;
  if (cl->will_principal && b->hooks.principal_free)
    b->hooks.principal_free(b->hooks.ud, cl->will_principal);
  cl->will_principal = NULL;
}

static void send_delayed_will(mqtt_broker *b, br_client *cl) {
  if (!cl->will) return;
  mqtt_msg *w = cl->will;
  cl->will = NULL;
  br_publish_will(b, w, cl->will_principal, cl->id);
  mqtt_msg_unref(w);
  br_client_cancel_will(b, cl);
}

void br_client_free(mqtt_broker *b, br_client *cl, bool send_will) {
  if (send_will && !b->stopping) send_delayed_will(b, cl);
  if (cl->save_idx) b->inc_list[cl->save_idx - 1] = NULL; /* an autosave skips it */
  br_client_cancel_will(b, cl);
  mqtt_subtree_remove_all(b->tree, cl);
  for (uint32_t i = 0; i < cl->n_subs; i++) loom_free(cl->subs[i].filter);
  loom_free(cl->subs);
  br_dlist_remove(b, cl);
  size_t i = cl->hash & (b->ctab_cap - 1);
  for (br_client **pp = &b->ctab[i]; *pp; pp = &(*pp)->hnext) {
    if (*pp == cl) {
      *pp = cl->hnext;
      break;
    }
  }
  b->n_clients--;
  b->dirty_state = true;
  b->total_queued -= cl->acct_bytes;
  mqtt_session_free(cl->sess);
  loom_free(cl->id);
  loom_free(cl);
}

void br_acct(mqtt_broker *b, br_client *cl) {
  size_t q = mqtt_session_queued_bytes(cl->sess);
  b->total_queued = b->total_queued - cl->acct_bytes + q;
  cl->acct_bytes = q;
}

bool br_client_detach(mqtt_broker *b, br_client *cl, mqtt_msg *w, uint32_t will_delay_s,
                      void *principal) {
  uint64_t now = br_now(b);
  bool took = false;
  b->dirty_state = true;
  mqtt_session_disconnect(cl->sess, cl->expiry_s, now);
  cl->conn = NULL;
  if (w) {
    if (will_delay_s == 0 || cl->expiry_s == 0 || b->stopping) {
      if (!b->stopping) br_publish_will(b, w, principal, cl->id);
      mqtt_msg_unref(w);
    } else {
      uint32_t d = will_delay_s < cl->expiry_s ? will_delay_s : cl->expiry_s;
      br_client_cancel_will(b, cl);
      cl->will = w;
      cl->will_at_ms = now + (uint64_t)d * 1000u;
      cl->will_principal = principal;
      took = true;
    }
  }
  if (cl->expiry_s == 0 && !b->stopping) {
    br_client_free(b, cl, true);
    return false; /* will already sent; principal not kept */
  }
  br_dlist_add(b, cl);
  return took;
}

void br_sweep_clients(mqtt_broker *b, uint64_t now) {
  if (now < b->dl_next_ms) return;
  b->dl_next_ms = UINT64_MAX;
  for (br_client *cl = b->dlist; cl;) {
    br_client *n = cl->dnext;
    if (cl->will && now >= cl->will_at_ms) send_delayed_will(b, cl);
    if (mqtt_session_expired(cl->sess, now)) br_client_free(b, cl, true);
    else dl_deadline(b, cl);
    cl = n;
  }
}

/* ---- subscriptions ---- */

static int sub_find(const br_client *cl, const char *f, size_t n) {
  for (uint32_t i = 0; i < cl->n_subs; i++)
    if (cl->subs[i].len == n && memcmp(cl->subs[i].filter, f, n) == 0) return (int)i;
  return -1;
}

int br_client_sub_add(mqtt_broker *b, br_client *cl, const char *f, size_t n,
                      const mqtt_sub_opts *o, bool *is_new) {
  int i = sub_find(cl, f, n);
  if (i < 0 && cl->n_subs >= b->lim.max_subs_per_client) return LOOM_ERANGE;
  if (i < 0 && cl->n_subs == cl->cap_subs) {
    uint32_t nc = cl->cap_subs ? cl->cap_subs * 2 : 4;
    br_sub *ns = loom_realloc(cl->subs, nc * sizeof(*ns));
    if (!ns) return LOOM_ENOMEM;
    cl->subs = ns;
    cl->cap_subs = nc;
  }
  char *copy = NULL;
  if (i < 0 && !(copy = loom_strndup(f, n))) return LOOM_ENOMEM;
  int rc = mqtt_subtree_add(b->tree, f, n, cl, o);
  if (rc < 0) {
    loom_free(copy);
    return rc;
  }
  *is_new = rc == 0;
  b->dirty_state = true;
  if (i < 0) {
    cl->subs[cl->n_subs].filter = copy;
    cl->subs[cl->n_subs].len = n;
    cl->subs[cl->n_subs].opts = *o;
    cl->n_subs++;
  } else {
    cl->subs[i].opts = *o;
  }
  return 0;
}

int br_client_sub_remove(mqtt_broker *b, br_client *cl, const char *f, size_t n) {
  int rc = mqtt_subtree_remove(b->tree, f, n, cl);
  int i = sub_find(cl, f, n);
  b->dirty_state = true;
  if (i >= 0) {
    loom_free(cl->subs[i].filter);
    cl->subs[i] = cl->subs[cl->n_subs - 1];
    cl->n_subs--;
  }
  return rc;
}

/* ---- routing ---- */

static void deliver(mqtt_broker *b, br_client *cl, mqtt_msg *m, const mqtt_session_delivery *d,
                    uint64_t now) {
  size_t before = mqtt_session_queued_bytes(cl->sess);
  int rc = mqtt_session_enqueue_ex(cl->sess, m, d, now);
  size_t after = mqtt_session_queued_bytes(cl->sess);
  b->total_queued = b->total_queued - before + after;
  cl->acct_bytes = cl->acct_bytes - before + after;
  if (rc == LOOM_ERANGE) atomic_fetch_add_explicit(&b->msgs_dropped, 1, memory_order_relaxed);
  if (cl->expiry_s) b->dirty_state = true;
  if (cl->conn) br_conn_mark(cl->conn);
}

void br_retain_put(mqtt_broker *b, const mqtt_retain_msg *m, bool has_expiry,
                   uint32_t remaining_s) {
  uint8_t stack[256];
  uint8_t *props = stack;
  size_t plen = RET_HDR + m->props_len;
  if (m->payload_len) {
    if (plen > sizeof(stack) && !(props = loom_malloc(plen))) return;
    uint64_t at = 0;
    if (has_expiry) at = (uint64_t)(loom_now_ns() / 1000000) + (uint64_t)remaining_s * 1000u;
    props[0] = has_expiry ? 1 : 0;
    for (int i = 0; i < 8; i++) props[1 + i] = (uint8_t)(at >> (56 - 8 * i));
    if (m->props_len) memcpy(props + RET_HDR, m->props, m->props_len);
  }
  mqtt_retain_msg rm = *m;
  rm.props = m->payload_len ? props : NULL;
  rm.props_len = m->payload_len ? plen : 0;
  bool sys = m->topic_len >= 5 && memcmp(m->topic, "$SYS/", 5) == 0; /* never saved */
  if (mqtt_retain_set(b->retain, &rm) == 0 && !sys) b->dirty_state = true;
  if (props != stack) loom_free(props);
}

static void retain_store(mqtt_broker *b, const mqtt_msg *m) {
  uint32_t left = 0;
  if (m->has_expiry) {
    uint64_t now = br_now(b);
    if (m->expiry_at_ms <= now) return;
    left = (uint32_t)((m->expiry_at_ms - now + 999) / 1000);
  }
  mqtt_retain_msg rm = {.topic = m->topic, .topic_len = m->topic_len, .payload = m->payload,
                        .payload_len = m->payload_len, .qos = m->qos, .props = m->props,
                        .props_len = m->props_len};
  br_retain_put(b, &rm, m->has_expiry, left);
}

typedef struct purge_ctx {
  uint64_t wall_ms;
  char **topics;
  size_t n, cap;
} purge_ctx;

static int purge_collect(void *ud, const mqtt_retain_msg *rm) {
  purge_ctx *x = ud;
  if (rm->props_len < RET_HDR || rm->props[0] != 1) return 0;
  uint64_t at = 0;
  for (int i = 0; i < 8; i++) at = (at << 8) | rm->props[1 + i];
  if (at > x->wall_ms) return 0;
  if (x->n == x->cap) {
    size_t nc = x->cap ? x->cap * 2 : 16;
    char **nt = loom_realloc(x->topics, nc * sizeof(*nt));
    if (!nt) return 1;
    x->topics = nt;
    x->cap = nc;
  }
  char *t = loom_strndup(rm->topic, rm->topic_len);
  if (!t) return 1;
  x->topics[x->n++] = t;
  return 0;
}

void br_retain_purge(mqtt_broker *b) {
  purge_ctx x = {.wall_ms = (uint64_t)(loom_now_ns() / 1000000)};
  mqtt_retain_each(b->retain, purge_collect, &x);
  for (size_t i = 0; i < x.n; i++) {
    mqtt_retain_msg rm = {.topic = x.topics[i], .topic_len = strlen(x.topics[i])};
    mqtt_retain_set(b->retain, &rm);
    loom_free(x.topics[i]);
  }
  if (x.n) b->dirty_state = true;
  loom_free(x.topics);
}

bool br_client_online(void *ud, const void *sub) {
  (void)ud;
  return ((const br_client *)sub)->conn != NULL;
}

int br_route(mqtt_broker *b, mqtt_msg *m, br_client *from) {
  uint64_t now = br_now(b);
  if (m->retain) retain_store(b, m);
  int rc = mqtt_subtree_match(b->tree, m->topic, m->topic_len, from, &b->matches);
  if (rc) return rc;
  mqtt_matches *mm = &b->matches;
  for (size_t i = 0; i < mm->n; i++) {
    const mqtt_match *it = &mm->items[i];
    /* every matching subscription's identifier [MQTT-3.3.4-3], up to the
     * session's bound */
    size_t n_ids = it->n_sub_ids;
    if (n_ids > MQTT_SESSION_MAX_SUB_IDS) n_ids = MQTT_SESSION_MAX_SUB_IDS;
    mqtt_session_delivery d = {.qos = it->qos,
                               .retain = it->retain_as_published && m->retain,
                               .sub_ids = it->sub_ids, .n_sub_ids = n_ids};
    deliver(b, it->sub, m, &d, now);
  }
  for (size_t i = 0; i < mm->n_shared; i++) {
    const mqtt_shared_match *it = &mm->shared[i];
    /* No member of the group is connected: QoS 1/2 waits in the chosen
     * (persistent) member's queue; QoS 0 is dropped, counted. */
    if (!it->eligible && (m->qos == 0 || it->opts.qos == 0)) {
      atomic_fetch_add_explicit(&b->msgs_dropped, 1, memory_order_relaxed);
      continue;
    }
    mqtt_session_delivery d = {.qos = it->opts.qos,
                               .retain = it->opts.retain_as_published && m->retain,
                               .sub_id = it->opts.sub_id};
    deliver(b, it->sub, m, &d, now);
  }
  return 0;
}

typedef struct replay_ctx {
  mqtt_broker *b;
  br_client *cl;
  const mqtt_sub_opts *o;
  uint64_t now, wall_ms;
} replay_ctx;

static int replay_one(void *ud, const mqtt_retain_msg *rm) {
  replay_ctx *x = ud;
  if (rm->props_len < RET_HDR) return 0;
  bool has_exp = rm->props[0] == 1;
  uint64_t at = 0;
  for (int i = 0; i < 8; i++) at = (at << 8) | rm->props[1 + i];
  uint32_t left_s = 0;
  if (has_exp) {
    if (at <= x->wall_ms) return 0; /* expired: not sent */
    left_s = (uint32_t)((at - x->wall_ms + 999) / 1000);
  }
  mqtt_msg *m = NULL;
  if (mqtt_msg_new(rm->topic, rm->topic_len, rm->payload, rm->payload_len, rm->props + RET_HDR,
                   rm->props_len - RET_HDR, rm->qos, true, has_exp, left_s, x->now, &m))
    return 0;
  mqtt_session_delivery d = {.qos = x->o->qos, .retain = true, .sub_id = x->o->sub_id};
  deliver(x->b, x->cl, m, &d, x->now);
  mqtt_msg_unref(m);
  return 0;
}

void br_retained_replay(mqtt_broker *b, br_client *cl, const char *filter, size_t n,
                        const mqtt_sub_opts *o) {
  replay_ctx x = {.b = b, .cl = cl, .o = o, .now = br_now(b),
                  .wall_ms = (uint64_t)(loom_now_ns() / 1000000)};
  mqtt_retain_match(b->retain, filter, n, replay_one, &x);
}

int br_publish_will(mqtt_broker *b, mqtt_msg *w, void *principal, const char *client_id) {
  /* the will's Message Expiry Interval starts now (its expiry_at_ms holds
   * the interval, see handle_connect) */
  mqtt_msg *pw = w;
  if (w->has_expiry &&
      mqtt_msg_new(w->topic, w->topic_len, w->payload, w->payload_len, w->props, w->props_len,
                   w->qos, w->retain, true, (uint32_t)(w->expiry_at_ms / 1000), br_now(b), &pw))
    return LOOM_ENOMEM;
  int rc = 0;
  int flags = MQTT_HOOK_ROUTE;
  if (b->hooks.on_publish) {
    void *tk = br_ticket_new(b, 1, NULL, NULL);
    if (!tk) {
      rc = LOOM_ENOMEM;
      goto done;
    }
    mqtt_pub_view v = {.topic = pw->topic, .topic_len = pw->topic_len, .payload = pw->payload,
                       .payload_len = pw->payload_len, .qos = pw->qos, .retain = pw->retain,
                       .props = pw->props, .props_len = pw->props_len, .client_id = client_id};
    flags = b->hooks.on_publish(b->hooks.ud, principal, &v, br_ack_done, tk);
    if (flags < 0 || !(flags & MQTT_HOOK_PENDING)) br_ticket_drop(tk);
  }
  atomic_fetch_add_explicit(&b->msgs_in, 1, memory_order_relaxed);
  if (flags > 0 && (flags & MQTT_HOOK_ROUTE)) rc = br_route(b, pw, NULL);
done:
  if (pw != w) mqtt_msg_unref(pw);
  return rc;
}
