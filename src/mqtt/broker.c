/* SPDX-License-Identifier: Apache-2.0
 * The broker thread: its libuv loop, the TCP listener, the cross-thread
 * mailbox (done callbacks, server publishes, kicks, WebSocket adoption),
 * output coalescing (every connection's bytes are written once per loop
 * iteration from a uv_check handler: uv_try_write first, uv_write for the
 * rest), the shared sweep timer (keep-alive, CONNECT deadline, wills,
 * session expiry), $SYS and start/stop. Packets are in broker_conn.c,
 * routing in broker_route.c.
 */
#include "mqtt/broker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "mqtt/broker_int.h"
#include "mqtt/persist.h"
#include "mqtt/topic.h"

#include "mqtt/ws_transport.h"

enum { EV_AUTH = 1, EV_ACK, EV_PUBLISH, EV_KICK, EV_ADOPT, EV_STOP };

struct br_event {
  br_event *next;
  br_mailbox *mb;
  int kind;
  br_conn *c;
  br_ack *a;
  /* results */
  uint8_t reason;
  void *principal;
  char *str;       /* auth key, ack reason string, kick key, publish topic, peer */
  uint8_t *data;   /* publish payload, adopt pending bytes */
  size_t len;
  uint8_t qos;
  bool retain;
  int fd;
};

typedef struct br_wreq {
  uv_write_t req;
  br_conn *c;
  size_t len;
  uint8_t data[];
} br_wreq;

uint64_t br_now(mqtt_broker *b) { return uv_now(&b->loop); }

/* ---- mailbox ---- */

/* An event dropped unprocessed still owns an adopted socket. */
static void ev_free(br_event *e) {
  if (e->kind == EV_ADOPT && e->fd >= 0) close(e->fd);
  loom_free(e->str);
  loom_free(e->data);
  loom_free(e);
}

static void mb_unref(br_mailbox *mb) {
  if (atomic_fetch_sub(&mb->refs, 1) != 1) return;
  br_event *e = mb->head;
  while (e) {
    br_event *n = e->next;
    ev_free(e);
    e = n;
  }
  pthread_mutex_destroy(&mb->mu);
  loom_free(mb);
}

/* Post e (any thread); on a stopped broker e is dropped. Consumes e and the
 * mailbox reference e holds. */
static int mb_post(br_event *e) {
  br_mailbox *mb = e->mb;
  int rc = 0;
  pthread_mutex_lock(&mb->mu);
  if (mb->stopped) {
    rc = LOOM_ECLOSED;
  } else {
    e->next = NULL;
    if (mb->tail) mb->tail->next = e;
    else mb->head = e;
    mb->tail = e;
    uv_async_send(mb->async);
  }
  pthread_mutex_unlock(&mb->mu);
  if (rc) ev_free(e);
  mb_unref(mb);
  return rc;
}

static br_event *ev_new(mqtt_broker *b, int kind) {
  br_event *e = loom_calloc(1, sizeof(*e));
  if (!e) return NULL;
  e->kind = kind;
  e->mb = b->mb;
  atomic_fetch_add(&b->mb->refs, 1);
  return e;
}

void *br_ticket_new(mqtt_broker *b, int kind, br_conn *c, br_ack *a) {
  br_event *e = ev_new(b, kind == 0 ? EV_AUTH : EV_ACK);
  if (!e) return NULL;
  e->c = c;
  e->a = a;
  return e;
}

void br_ticket_drop(void *t) {
  br_event *e = t;
  if (!e) return;
  br_mailbox *mb = e->mb;
  ev_free(e);
  mb_unref(mb);
}

void br_auth_done(void *arg, const mqtt_auth_result *r) {
  br_event *e = arg;
  if (!e) return;
  e->reason = r ? r->reason : MQTT_RC_SERVER_UNAVAILABLE;
  e->principal = r ? r->principal : NULL;
  if (r && r->key) e->str = loom_strdup(r->key);
  mb_post(e);
}

void br_ack_done(void *arg, uint8_t reason, const char *reason_string) {
  br_event *e = arg;
  if (!e) return;
  e->reason = reason;
  if (reason_string) e->str = loom_strdup(reason_string);
  mb_post(e);
}

/* ---- connections: refs, close, output ---- */

void br_conn_ref(br_conn *c) { c->refs++; }

void br_conn_unref(br_conn *c) {
  if (--c->refs) return;
  mqtt_broker *b = c->b;
  if (c->prev) c->prev->next = c->next;
  else b->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  br_conn_free_parts(c);
  loom_free(c);
}

static void on_conn_closed(uv_handle_t *h) { br_conn_unref((br_conn *)h); }

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  br_conn *c = req->data;
  loom_free(req);
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

void br_conn_mark(br_conn *c) {
  if (c->dirty || c->closing) return;
  c->dirty = true;
  br_conn_ref(c);
  c->dirty_next = c->b->dirty;
  c->b->dirty = c;
}

static void conn_write_cb(uv_write_t *req, int status) {
  br_wreq *w = (br_wreq *)req;
  br_conn *c = w->c;
  c->writing -= w->len;
  loom_free(w);
  if (status < 0) {
    br_conn_close(c, true);
  } else if (!c->closing) {
    if (c->read_blocked && c->writing < BR_OUT_HIGH / 2) {
      c->read_blocked = false;
      br_conn_start_tcp(c);
    }
    br_conn_mark(c);
  }
  br_conn_unref(c);
}

static void conn_write(br_conn *c, loom_buf *buf) {
  mqtt_broker *b = c->b;
  if (!buf->len || c->closing) return;
  size_t off = 0;
  if (c->writing == 0) {
    uv_buf_t ub = uv_buf_init((char *)buf->data, (unsigned)buf->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
    if (n > 0) off = (size_t)n;
    else if (n < 0 && n != UV_EAGAIN) {
      buf->len = 0;
      br_conn_close(c, true);
      return;
    }
  }
  atomic_fetch_add_explicit(&b->bytes_out, buf->len, memory_order_relaxed);
  if (off < buf->len) {
    size_t rest = buf->len - off;
    br_wreq *w = loom_malloc(sizeof(*w) + rest);
    if (!w) {
      buf->len = 0;
      br_conn_close(c, false);
      return;
    }
    memcpy(w->data, buf->data + off, rest);
    w->c = c;
    w->len = rest;
    uv_buf_t ub = uv_buf_init((char *)w->data, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, conn_write_cb) < 0) {
      loom_free(w);
      buf->len = 0;
      br_conn_close(c, false);
      return;
    }
    br_conn_ref(c);
    c->writing += rest;
  }
  buf->len = 0;
  if (buf->cap > BR_READ_CHUNK) loom_buf_deinit(buf);
  if (c->writing >= BR_OUT_HIGH && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    c->read_blocked = true;
  }
}

static void conn_flush(br_conn *c) {
  if (c->closing) return;
  if (c->tr) {
    if (c->out.len) {
      int rc = c->tr->ops->send(c->tr, (const char *)c->out.data, c->out.len);
      c->out.len = 0;
      if (c->out.cap > BR_READ_CHUNK) loom_buf_deinit(&c->out);
      if (rc < 0) {
        br_conn_close(c, true);
        return;
      }
    }
    conn_write(c, &c->wire);
  } else {
    conn_write(c, &c->out);
  }
}

int br_conn_send_raw(br_conn *c, const uint8_t *p, size_t n) {
  if (c->closing) return LOOM_ECLOSED;
  int rc = loom_buf_append(&c->out, p, n);
  if (!rc) br_conn_mark(c);
  return rc;
}

void br_conn_close(br_conn *c, bool will) {
  if (c->closing) return;
  mqtt_broker *b = c->b;
  /* best effort: what is queued (a CONNACK or DISCONNECT) goes out first */
  if (c->state != BR_ST_CLOSED) {
    if (c->tr && c->ws) {
      if (c->out.len) c->tr->ops->send(c->tr, (const char *)c->out.data, c->out.len);
      c->out.len = 0;
      mqtt_ws_transport_close(c->tr, b->stopping ? MQTT_WS_CLOSE_GOING_AWAY
                                                 : MQTT_WS_CLOSE_NORMAL, NULL);
    }
    conn_flush(c);
    if (c->closing) return;
  }
  c->closing = true;
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
  if (c->state == BR_ST_UP) atomic_fetch_sub(&b->conns_open, 1);
  c->state = BR_ST_CLOSED;
  b->n_open--;
  if (c->cl) {
    br_client *cl = c->cl;
    c->cl = NULL;
    /* inbound QoS 2 whose PUBREC never went out, and that is not known
     * stored: forget the id so the client's resend is handled (and stored)
     * anew instead of being answered PUBREC as a duplicate */
    for (br_ack *a = c->acks_head; a; a = a->next)
      if (a->type == MQTT_PUBREC && (!a->done || a->reason >= 0x80))
        mqtt_session_in_pubrel(cl->sess, a->packet_id);
    mqtt_msg *w = will ? c->will : NULL;
    void *pr = c->principal;
    if (c->will && !will) mqtt_msg_unref(c->will);
    c->will = NULL;
    if (b->hooks.on_disconnect) b->hooks.on_disconnect(b->hooks.ud, pr, cl->id);
    if (br_client_detach(b, cl, w, c->will_delay_s, pr)) c->principal = NULL;
  }
  /* bytes still queued in uv_write (a DISCONNECT, a CONNACK refusal): let
   * them go out before closing, for at most BR_LINGER_MS (the sweep closes) */
  if (c->writing && !b->stopping) {
    uv_shutdown_t *sr = loom_malloc(sizeof(*sr));
    if (sr && uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) == 0) {
      sr->data = c;
      c->linger = true;
      c->deadline_ms = br_now(b) + BR_LINGER_MS;
      return;
    }
    loom_free(sr);
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  br_conn *c = (br_conn *)h;
  mqtt_broker *b = c->b;
  buf->base = (char *)b->rbuf;
  buf->len = BR_READ_CHUNK;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  br_conn *c = (br_conn *)s;
  (void)buf;
  if (nread == 0) return;
  if (nread < 0) {
    br_conn_close(c, true);
    return;
  }
  atomic_fetch_add_explicit(&c->b->bytes_in, (uint64_t)nread, memory_order_relaxed);
  br_conn_ref(c);
  if (c->tr) {
    if (c->tr->ops->recv(c->tr, buf->base, (size_t)nread) < 0) br_conn_close(c, true);
  } else {
    br_conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
  }
  /* acknowledgements opened the window of a subscriber: what waits for it
   * goes now, not at the end of the loop pass, so it is not idle while the
   * pass reads the publishers (fan-in at QoS 1: a window of 20 in flight) */
  if (c->window_opened && !c->closing && c->state == BR_ST_UP && c->cl) {
    c->window_opened = false;
    br_conn_drain(c);
    conn_flush(c);
  }
  br_conn_unref(c);
}

void br_conn_start_tcp(br_conn *c) {
  if (c->reading || c->closing || c->read_blocked) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) c->reading = true;
}

static int sink_deliver(void *conn, const char *data, size_t len) {
  br_conn *c = conn;
  if (c->closing) return LOOM_ECLOSED;
  br_conn_input(c, (const uint8_t *)data, len);
  return c->closing ? LOOM_ECLOSED : 0;
}

static int sink_wire_write(void *conn, const char *data, size_t len) {
  br_conn *c = conn;
  if (c->closing) return LOOM_ECLOSED;
  int rc = loom_buf_append(&c->wire, data, len);
  if (!rc) br_conn_mark(c);
  return rc;
}

static bool take_token(mqtt_broker *b) {
  uint64_t now = br_now(b);
  double rate = b->lim.conn_rate;
  b->tokens += (double)(now - b->tokens_at_ms) * rate / 1000.0;
  if (b->tokens > rate) b->tokens = rate;
  b->tokens_at_ms = now;
  if (b->tokens < 1.0) return false;
  b->tokens -= 1.0;
  return true;
}

static br_conn *conn_alloc(mqtt_broker *b) {
  br_conn *c = loom_calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->b = b;
  c->refs = 1;
  c->next = b->conns;
  if (b->conns) b->conns->prev = c;
  b->conns = c;
  b->n_open++;
  c->last_rx_ms = br_now(b);
  c->deadline_ms = c->last_rx_ms + b->lim.connect_timeout_ms;
  return c;
}

/* Accept the connection libuv holds for us. Without memory it stays
 * pending (libuv stops watching the listener until it is accepted) and the
 * sweep timer retries. */
static void accept_one(mqtt_broker *b) {
  uv_stream_t *srv = (uv_stream_t *)&b->listener;
  br_conn *c = conn_alloc(b);
  if (!c) {
    b->accept_pending = true;
    return;
  }
  b->accept_pending = false;
  uv_tcp_init(&b->loop, &c->tcp);
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
    c->closing = true;
    b->n_open--;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  if (b->stopping || b->n_open > b->lim.max_conns || !take_token(b)) {
    atomic_fetch_add(&b->conns_refused, 1);
    c->closing = true;
    b->n_open--;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (b->cfg.tcp_transport) {
    http_transport_sink sink = {.conn = c, .deliver = sink_deliver,
                                .wire_write = sink_wire_write};
    if (b->cfg.tcp_transport(b->cfg.tcp_transport_user, &sink, &c->tr) != 0 || !c->tr) {
      c->tr = NULL;
      c->closing = true;
      b->n_open--;
      uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
      return;
    }
  }
  br_conn_start_tcp(c);
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status < 0) return;
  accept_one(srv->data);
}

/* ---- WebSocket adoption ---- */

static void adopt(mqtt_broker *b, br_event *e) {
  br_conn *c = conn_alloc(b);
  if (!c) {
    close(e->fd);
    return;
  }
  c->ws = true;
  c->peer = e->str; /* may be NULL: getpeername then */
  e->str = NULL;
  uv_tcp_init(&b->loop, &c->tcp);
  int rc = uv_tcp_open(&c->tcp, e->fd);
  if (rc) close(e->fd);
  if (!rc) {
    http_transport_sink sink = {.conn = c, .deliver = sink_deliver,
                                .wire_write = sink_wire_write};
    rc = mqtt_ws_transport_new(&sink, &c->tr);
  }
  if (rc || b->stopping) {
    c->closing = true;
    b->n_open--;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  br_conn_start_tcp(c);
  if (e->len) {
    br_conn_ref(c);
    if (c->tr->ops->recv(c->tr, (const char *)e->data, e->len) < 0) br_conn_close(c, false);
    br_conn_unref(c);
  }
}

/* ---- loop callbacks ---- */

/* Drain every marked connection's session into its output and write it. */
static void flush_dirty(mqtt_broker *b) {
  while (b->dirty) {
    br_conn *c = b->dirty;
    b->dirty = c->dirty_next;
    /* c->dirty stays set while its own output is produced and written:
     * marks from the drain below need no second pass */
    if (!c->closing) {
      if (c->state == BR_ST_UP && c->cl) br_conn_drain(c);
      conn_flush(c);
    }
    c->dirty = false;
    br_conn_unref(c);
  }
}

static void tick_timer_cb(uv_timer_t *h);

/* The platform's tick; when it asks to run again in ms, a timer makes sure
 * it does even if no I/O wakes the loop. */
static void run_tick(mqtt_broker *b) {
  if (!b->hooks.tick) return;
  int ms = b->hooks.tick(b->hooks.ud, false);
  if (ms < 0) return;
  uint64_t due = uv_now(&b->loop) + (uint64_t)ms;
  if (uv_is_active((uv_handle_t *)&b->tick_timer) && b->tick_due <= due) return;
  b->tick_due = due;
  uv_timer_start(&b->tick_timer, tick_timer_cb, (uint64_t)ms, 0);
}

static void tick_timer_cb(uv_timer_t *h) { run_tick(h->data); }

static void check_cb(uv_check_t *h) {
  mqtt_broker *b = h->data;
  flush_dirty(b);
  run_tick(b);
}

static void do_kick(mqtt_broker *b, const char *key) {
  for (br_conn *c = b->conns; c; c = c->next) {
    if (c->closing || !c->key || strcmp(c->key, key) != 0) continue;
    br_conn_disconnect(c, MQTT_RC_NOT_AUTHORIZED, "credentials revoked", true);
  }
}

static void close_all(mqtt_broker *b);

static void async_cb(uv_async_t *h) {
  mqtt_broker *b = h->data;
  br_mailbox *mb = b->mb;
  pthread_mutex_lock(&mb->mu);
  br_event *e = mb->head;
  mb->head = mb->tail = NULL;
  pthread_mutex_unlock(&mb->mu);
  while (e) {
    br_event *n = e->next;
    switch (e->kind) {
    case EV_AUTH: {
      mqtt_auth_result r = {.reason = e->reason, .principal = e->principal, .key = e->str};
      br_conn *c = e->c;
      br_conn_auth_result(c, &r);
      br_conn_unref(c);
      break;
    }
    case EV_ACK:
      if (e->c) {
        br_conn_ack_result(e->c, e->a, e->reason, e->str);
        br_conn_unref(e->c);
      }
      break;
    case EV_PUBLISH: {
      mqtt_msg *m = NULL;
      if (!b->stopping && mqtt_msg_new(e->str, strlen(e->str), e->data, e->len, NULL, 0, e->qos,
                                       e->retain, false, 0, br_now(b), &m) == 0) {
        br_route(b, m, NULL);
        mqtt_msg_unref(m);
      }
      break;
    }
    case EV_KICK:
      do_kick(b, e->str);
      break;
    case EV_ADOPT:
      adopt(b, e);
      e->fd = -1; /* owned by the connection now (or closed) */
      break;
    case EV_STOP:
      close_all(b);
      break;
    default:
      break;
    }
    /* the event's mailbox ref was dropped by mb_post */
    ev_free(e);
    e = n;
  }
}

static void sweep_cb(uv_timer_t *h) {
  mqtt_broker *b = h->data;
  uint64_t now = br_now(b);
  if (b->accept_pending && !b->stopping) accept_one(b);
  for (br_conn *c = b->conns; c;) {
    br_conn *n = c->next;
    if (!c->closing) {
      br_conn_ref(c);
      br_conn_sweep(c, now);
      n = c->next;
      br_conn_unref(c);
    } else if (c->linger && now >= c->deadline_ms && !uv_is_closing((uv_handle_t *)&c->tcp)) {
      uv_close((uv_handle_t *)&c->tcp, on_conn_closed); /* the peer does not read */
    }
    c = n;
  }
  br_sweep_clients(b, now);
  if (++b->sweeps % 240 == 0) br_retain_purge(b); /* every minute */
  atomic_store(&b->n_subs, mqtt_subtree_sub_count(b->tree));
  atomic_store(&b->n_retained, mqtt_retain_count(b->retain));
  atomic_store(&b->n_sessions, b->n_clients);
}

static void sys_cb(uv_timer_t *h) { br_sys_publish(h->data); }

static void save_work_cb(uv_work_t *req) {
  mqtt_broker *b = req->data;
  b->save_rc = mqtt_snap_commit(b->save_w);
  b->save_w = NULL;
}

static void save_done_cb(uv_work_t *req, int status) {
  mqtt_broker *b = req->data;
  b->saving = false;
  if (status == 0 && b->save_rc == 0) return;
  b->dirty_state = true;
  LOOM_WARN("mqtt state save", "dir=%s err=\"%s\"", b->cfg.state_dir,
            loom_strerror(status ? LOOM_EIO : b->save_rc));
}

/* Longest the loop spends writing snapshot records per iteration. */
#define BR_SAVE_SLICE_MS 2u

/* Records are written on the loop (the sessions live here), a slice of
 * clients per loop iteration (save_idle_cb) so a large state does not stall
 * the connections; the commit's fsyncs and rename run on the libuv thread
 * pool. */
static void save_idle_cb(uv_idle_t *h) {
  mqtt_broker *b = h->data;
  mqtt_snap_writer *w = NULL;
  int rc = br_state_inc_step(b, BR_SAVE_SLICE_MS, &w);
  if (rc == 0 && !w && b->inc_w) return; /* more next iteration */
  uv_idle_stop(&b->save_idle);
  if (rc || !w) {
    b->dirty_state = true;
    if (rc)
      LOOM_WARN("mqtt state save", "dir=%s err=\"%s\"", b->cfg.state_dir, loom_strerror(rc));
    return;
  }
  b->save_w = w;
  b->save_work.data = b;
  b->saving = true;
  if (uv_queue_work(&b->loop, &b->save_work, save_work_cb, save_done_cb) != 0) {
    b->save_w = NULL;
    b->saving = false;
    b->dirty_state = true;
    mqtt_snap_abort(w);
  }
}

static void autosave_cb(uv_timer_t *h) {
  mqtt_broker *b = h->data;
  if (!b->dirty_state || b->saving || b->inc_w || b->stopping) return;
  b->dirty_state = false;
  int rc = br_state_inc_begin(b);
  if (rc) {
    b->dirty_state = true;
    LOOM_WARN("mqtt state save", "dir=%s err=\"%s\"", b->cfg.state_dir, loom_strerror(rc));
    return;
  }
  if (b->inc_w) {
    save_idle_cb(&b->save_idle); /* first slice now */
    if (b->inc_w) uv_idle_start(&b->save_idle, save_idle_cb);
  }
}

static void close_all(mqtt_broker *b) {
  if (b->stopping) return;
  /* what was routed just before the stop (e.g. a server publish posted
   * before it) still goes out, best effort */
  flush_dirty(b);
  if (b->hooks.tick) b->hooks.tick(b->hooks.ud, true); /* what waits to be stored goes now */
  b->stopping = true;
  if (b->has_listener) uv_close((uv_handle_t *)&b->listener, NULL);
  for (br_conn *c = b->conns; c;) {
    br_conn *n = c->next;
    br_conn_ref(c);
    if (!c->closing) br_conn_close(c, false);
    else if (c->linger && !uv_is_closing((uv_handle_t *)&c->tcp))
      uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    n = c->next;
    br_conn_unref(c);
    c = n;
  }
  uv_close((uv_handle_t *)&b->sweep, NULL);
  uv_close((uv_handle_t *)&b->sys_timer, NULL);
  uv_close((uv_handle_t *)&b->autosave, NULL);
  uv_close((uv_handle_t *)&b->tick_timer, NULL);
  br_state_inc_abort(b); /* the final save at stop writes everything */
  uv_close((uv_handle_t *)&b->save_idle, NULL);
  uv_close((uv_handle_t *)&b->check, NULL);
  pthread_mutex_lock(&b->mb->mu);
  b->mb->stopped = true;
  b->mb->async = NULL;
  pthread_mutex_unlock(&b->mb->mu);
  uv_close((uv_handle_t *)&b->async, NULL);
}

static void *thread_main(void *arg) {
  mqtt_broker *b = arg;
  pthread_setname_np(pthread_self(), "mqtt"); /* top -H, perf, gdb */
  uv_run(&b->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ---- start / stop ---- */

static void limits_defaults(mqtt_limits *l) {
#define DEF(f, v) \
  if (!l->f) l->f = (v)
  DEF(max_packet, 1u << 20);
  DEF(preauth_max_packet, 16384);
  DEF(connect_timeout_ms, 5000);
  DEF(max_conns, 100000);
  DEF(conn_rate, 2000);
  DEF(max_queued_msgs, 1000);
  DEF(max_queued_bytes, (size_t)16 << 20);
  DEF(max_total_queued_bytes, (size_t)512 << 20);
  DEF(recv_max, 64);
  DEF(inflight_311, 20);
  DEF(topic_alias_max, 64);
  DEF(session_expiry_max, 7u * 86400u);
  DEF(max_subs_per_client, 1000);
  DEF(retained_max_count, 100000);
  DEF(retained_max_bytes, (size_t)256 << 20);
#undef DEF
}

static int parse_listen(const char *s, struct sockaddr_storage *ss) {
  const char *colon = strrchr(s, ':');
  if (!colon) return LOOM_EINVAL;
  char host[128];
  size_t hl = (size_t)(colon - s);
  if (hl >= sizeof(host)) return LOOM_EINVAL;
  memcpy(host, s, hl);
  host[hl] = 0;
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (!*(colon + 1) || *end || port < 0 || port > 65535) return LOOM_EINVAL;
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    host[hl - 1] = 0;
    if (uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss)) return LOOM_EINVAL;
    return 0;
  }
  if (hl == 0) strcpy(host, "0.0.0.0");
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return LOOM_EINVAL;
}

static void seterr(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static void broker_free(mqtt_broker *b) {
  while (b->conns) {
    br_conn *c = b->conns;
    b->conns = c->next;
    br_conn_free_parts(c);
    loom_free(c);
  }
  for (size_t i = 0; i < b->ctab_cap; i++) {
    while (b->ctab && b->ctab[i]) br_client_free(b, b->ctab[i], false);
  }
  loom_free(b->ctab);
  mqtt_matches_deinit(&b->matches);
  mqtt_subtree_free(b->tree);
  mqtt_retain_free(b->retain);
  loom_buf_deinit(&b->tmp);
  loom_free(b->rbuf);
  if (b->mb) mb_unref(b->mb);
  loom_free((void *)b->cfg.listen);
  loom_free((void *)b->cfg.state_dir);
  loom_free(b);
}

int mqtt_broker_start(const mqtt_broker_cfg *cfg, mqtt_broker **out, char *err, size_t errlen) {
  if (!cfg || !out) return LOOM_EINVAL;
  *out = NULL;
  int rc = LOOM_ENOMEM;
  bool loop_ok = false;
  mqtt_broker *b = loom_calloc(1, sizeof(*b));
  if (!b) return LOOM_ENOMEM;
  b->cfg = *cfg;
  b->cfg.listen = NULL;
  b->cfg.state_dir = NULL;
  b->cfg.hooks = NULL;
  if (cfg->listen && !(b->cfg.listen = loom_strdup(cfg->listen))) goto fail;
  if (cfg->state_dir && !(b->cfg.state_dir = loom_strdup(cfg->state_dir))) goto fail;
  if (cfg->hooks) {
    b->hooks = *cfg->hooks;
    b->has_hooks = true;
  }
  b->lim = cfg->limits;
  limits_defaults(&b->lim);
  mqtt_matches_init(&b->matches);
  loom_buf_init(&b->tmp);
  if (mqtt_subtree_new(0, &b->tree)) goto fail;
  mqtt_subtree_set_eligible(b->tree, br_client_online, b);
  if (mqtt_retain_new(b->lim.retained_max_count, b->lim.retained_max_bytes, &b->retain)) goto fail;
  if (!(b->rbuf = loom_malloc(BR_READ_CHUNK))) goto fail;
  b->ctab_cap = 64;
  if (!(b->ctab = loom_calloc(b->ctab_cap, sizeof(*b->ctab)))) goto fail;
  if (!(b->mb = loom_calloc(1, sizeof(*b->mb)))) goto fail;
  pthread_mutex_init(&b->mb->mu, NULL);
  atomic_init(&b->mb->refs, 1);
  rc = LOOM_EIO;
  if (uv_loop_init(&b->loop)) {
    seterr(err, errlen, "uv_loop_init failed");
    goto fail;
  }
  loop_ok = true;
  uv_update_time(&b->loop);
  b->start_ms = br_now(b);
  b->tokens_at_ms = b->start_ms;
  b->tokens = b->lim.conn_rate;
  if (b->cfg.listen) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (parse_listen(b->cfg.listen, &ss)) {
      seterr(err, errlen, "bad listen address (host:port)");
      rc = LOOM_EINVAL;
      goto fail;
    }
    uv_tcp_init(&b->loop, &b->listener);
    b->has_listener = true;
    b->listener.data = b;
    int r = uv_tcp_bind(&b->listener, (const struct sockaddr *)&ss, 0);
    if (!r) r = uv_listen((uv_stream_t *)&b->listener, 1024, on_connection);
    if (r) {
      if (err && errlen) snprintf(err, errlen, "mqtt listen %s: %s", b->cfg.listen, uv_strerror(r));
      goto fail;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (uv_tcp_getsockname(&b->listener, (struct sockaddr *)&bound, &blen) == 0)
      b->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
  }
  uv_async_init(&b->loop, &b->async, async_cb);
  b->async.data = b;
  b->mb->async = &b->async;
  uv_timer_init(&b->loop, &b->sweep);
  b->sweep.data = b;
  uv_timer_start(&b->sweep, sweep_cb, 250, 250);
  uv_timer_init(&b->loop, &b->sys_timer);
  b->sys_timer.data = b;
  if (b->cfg.sys_interval_s)
    uv_timer_start(&b->sys_timer, sys_cb, 0, (uint64_t)b->cfg.sys_interval_s * 1000);
  uv_timer_init(&b->loop, &b->autosave);
  b->autosave.data = b;
  uv_timer_init(&b->loop, &b->tick_timer);
  b->tick_timer.data = b;
  uv_idle_init(&b->loop, &b->save_idle);
  b->save_idle.data = b;
  if (b->cfg.state_dir && b->cfg.autosave_s)
    uv_timer_start(&b->autosave, autosave_cb, (uint64_t)b->cfg.autosave_s * 1000,
                   (uint64_t)b->cfg.autosave_s * 1000);
  br_state_load(b);
  b->dirty_state = false;
  uv_check_init(&b->loop, &b->check);
  b->check.data = b;
  uv_check_start(&b->check, check_cb);
  if (pthread_create(&b->thread, NULL, thread_main, b) != 0) {
    seterr(err, errlen, "cannot start the broker thread");
    close_all(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    broker_free(b);
    return LOOM_ENOMEM;
  }
  *out = b;
  return 0;
fail:
  if (loop_ok) {
    if (b->has_listener) uv_close((uv_handle_t *)&b->listener, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
  }
  if (rc == LOOM_ENOMEM) seterr(err, errlen, "out of memory");
  broker_free(b);
  return rc;
}

int mqtt_broker_port(const mqtt_broker *b) { return b ? b->port : 0; }

void mqtt_broker_stop(mqtt_broker *b) {
  if (!b) return;
  br_event *e = ev_new(b, EV_STOP);
  if (e) mb_post(e);
  pthread_join(b->thread, NULL);
  if (b->cfg.state_dir) {
    int rc = br_state_save(b);
    if (rc)
      LOOM_WARN("mqtt state save", "dir=%s err=\"%s\"", b->cfg.state_dir, loom_strerror(rc));
  }
  uv_loop_close(&b->loop);
  broker_free(b);
}

int mqtt_broker_adopt_ws(mqtt_broker *b, int fd, const uint8_t *pending, size_t len,
                         const char *peer) {
  if (!b || fd < 0) {
    if (fd >= 0) close(fd);
    return LOOM_EINVAL;
  }
  br_event *e = ev_new(b, EV_ADOPT);
  if (!e) {
    close(fd);
    return LOOM_ENOMEM;
  }
  e->fd = -1;
  if (len) {
    if (!(e->data = loom_malloc(len))) {
      close(fd);
      br_ticket_drop(e);
      return LOOM_ENOMEM;
    }
    memcpy(e->data, pending, len);
    e->len = len;
  }
  if (peer) e->str = loom_strdup(peer);
  e->fd = fd; /* from here on ev_free closes it if the event is dropped */
  return mb_post(e);
}

int mqtt_broker_publish(mqtt_broker *b, const char *topic, const void *payload, size_t len,
                        uint8_t qos, bool retain) {
  if (!b || !topic || qos > 2 || (len && !payload)) return LOOM_EINVAL;
  if (mqtt_topic_name_validate(topic, strlen(topic))) return LOOM_EINVAL;
  br_event *e = ev_new(b, EV_PUBLISH);
  if (!e) return LOOM_ENOMEM;
  e->str = loom_strdup(topic);
  if (len) e->data = loom_malloc(len);
  if (!e->str || (len && !e->data)) {
    br_ticket_drop(e);
    return LOOM_ENOMEM;
  }
  if (len) memcpy(e->data, payload, len);
  e->len = len;
  e->qos = qos;
  e->retain = retain;
  return mb_post(e);
}

int mqtt_broker_kick(mqtt_broker *b, const char *key) {
  if (!b || !key) return LOOM_EINVAL;
  br_event *e = ev_new(b, EV_KICK);
  if (!e) return LOOM_ENOMEM;
  if (!(e->str = loom_strdup(key))) {
    br_ticket_drop(e);
    return LOOM_ENOMEM;
  }
  return mb_post(e);
}

void mqtt_broker_stats_get(mqtt_broker *b, mqtt_broker_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof(*out));
  if (!b) return;
  out->conns_open = atomic_load(&b->conns_open);
  out->conns_total = atomic_load(&b->conns_total);
  out->conns_refused = atomic_load(&b->conns_refused);
  out->msgs_in = atomic_load(&b->msgs_in);
  out->msgs_out = atomic_load(&b->msgs_out);
  out->bytes_in = atomic_load(&b->bytes_in);
  out->bytes_out = atomic_load(&b->bytes_out);
  out->msgs_dropped = atomic_load(&b->msgs_dropped);
  out->subscriptions = atomic_load(&b->n_subs);
  out->retained = atomic_load(&b->n_retained);
  out->sessions = atomic_load(&b->n_sessions);
}
