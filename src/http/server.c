/* SPDX-License-Identifier: Apache-2.0
 * The socket half of the HTTP server (server.h): N libuv loops, one thread and
 * one SO_REUSEPORT listener each; per connection a transport, the pure parser
 * (conn.c), at most one request in flight (pipelined bytes wait in `pending`),
 * ordered writes, idle timeout and lingering close. Responses made on other
 * threads reach the loop through a mutex-protected queue and a uv_async.
 */
#include "http/server.h"

#include <pthread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/conn.h"
#include "http/ws.h"

#define DEFAULT_IDLE_MS 60000u
#define DEFAULT_STOP_MS 10000u
#define LINGER_MS 2000u               /* after a closing response: read and drop for at most this long */
#define PENDING_MAX ((size_t)256 << 10) /* pipelined bytes buffered before reading pauses */
#define READ_BUF 65536

typedef struct loop_ctx loop_ctx;
typedef struct sconn sconn;

struct http_server {
  http_server_options opt; /* copy; listen points at listen_str */
  char *listen_str;
  int port;
  unsigned n_loops;
  loop_ctx *loops;
  int started; /* written by the controlling thread only */
  int stopped;
  atomic_int stopping; /* read by any thread formatting a response */
  http_req_hooks hooks;
  atomic_uint_fast64_t requests_total, by_class[5], bytes_in, bytes_out, conns_total, conns_open;
};

struct loop_ctx {
  http_server *srv;
  uv_loop_t loop;
  uv_thread_t tid;        /* from uv_thread_create, for joining */
  uv_thread_t self;       /* written by the loop thread before self_set */
  atomic_int self_set;
  int fd;                 /* bound listening socket, -1 once handed to libuv or closed */
  int inited;             /* loop and handles initialised */
  int thread_started;
  uv_tcp_t listener;
  uv_async_t async;
  uv_timer_t stop_timer;
  uv_mutex_t mu;          /* guards the fields below it */
  http_msg *q_head, *q_tail;
  int stop_requested;
  int dead;               /* loop finished: responses are discarded on the caller's thread */
  /* loop thread only: */
  int stopping;
  int draining;           /* inside drain_queue */
  sconn *conns;
  sconn *spare;           /* reserve for accepting (and closing) when out of memory */
  char readbuf[READ_BUF];
};

struct sconn {
  loop_ctx *lc;
  sconn *prev, *next;
  uv_tcp_t tcp;
  uv_timer_t timer;       /* idle timeout, then linger timeout */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  int handles_open;       /* closes still to come before the struct is freed */
  http_transport *tr;
  http_transport plain;
  http_conn *parser;
  http_req *cur;          /* request handed to the handler, not yet finished */
  http_ws *ws;            /* set once upgraded to WebSocket: bytes go to ws.c */
  loom_buf pending;       /* bytes received while cur was in flight */
  loom_buf wbuf;          /* bytes waiting for the current write to finish */
  loom_buf inflight;      /* bytes owned by the active uv_write */
  unsigned writing : 1;
  unsigned closing : 1;      /* uv_close issued */
  unsigned close_after : 1;  /* close once everything queued is written */
  unsigned lingering : 1;    /* shut down our side; reading and dropping until EOF */
  unsigned read_eof : 1;
  unsigned reading : 1;
  unsigned in_process : 1;   /* inside process(): finishing a request must not recurse */
  char remote[64];
};

static void process(sconn *c, const char *data, size_t len);
static void flush(sconn *c);
static void note_buffered(sconn *c);
static void resume(sconn *c);
static void close_conn(sconn *c);
static void check_done(loop_ctx *lc);

static void slog(http_server *s, int level, const char *msg, const char *detail) {
  if (s->opt.log) s->opt.log(s->opt.log_user, level, msg, detail);
}

/* ---------- stats hooks ---------- */

static void count_status(void *ctx, int status) {
  http_server *s = ((loop_ctx *)ctx)->srv;
  atomic_fetch_add(&s->requests_total, 1);
  int k = status / 100 - 1;
  if (k >= 0 && k < 5) atomic_fetch_add(&s->by_class[k], 1);
}

/* ---------- writing ---------- */

static void on_write(uv_write_t *w, int status) {
  sconn *c = w->data;
  c->writing = 0;
  if (c->inflight.cap > ((size_t)1 << 20)) loom_buf_deinit(&c->inflight);
  else loom_buf_reset(&c->inflight);
  if (c->closing) return;
  if (status < 0) {
    close_conn(c);
    return;
  }
  flush(c);
  note_buffered(c);
  if (c->ws) http_ws_writable(c->ws);
  resume(c);
}

static void flush(sconn *c) {
  if (c->writing || c->closing || c->wbuf.len == 0) return;
  loom_buf t = c->inflight;
  c->inflight = c->wbuf;
  c->wbuf = t;
  uv_buf_t b = uv_buf_init((char *)c->inflight.data, (unsigned)c->inflight.len);
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
    close_conn(c);
    return;
  }
  c->writing = 1;
}

static int wire_write(void *conn, const char *data, size_t len) {
  sconn *c = conn;
  if (c->closing) return LOOM_ECLOSED;
  if (loom_buf_append(&c->wbuf, data, len) < 0) return LOOM_ENOMEM;
  atomic_fetch_add(&c->lc->srv->bytes_out, len);
  flush(c);
  return 0;
}

static int send_app(sconn *c, const void *data, size_t len) {
  if (len == 0) return 0;
  return c->tr->ops->send(c->tr, data, len);
}

/* ---------- plain transport ---------- */

static int plain_recv(http_transport *t, const char *data, size_t len) {
  return t->sink.deliver(t->sink.conn, data, len);
}
static int plain_send(http_transport *t, const char *data, size_t len) {
  return t->sink.wire_write(t->sink.conn, data, len);
}
static void plain_free(http_transport *t) { (void)t; }
static const http_transport_ops plain_ops = {plain_recv, plain_send, plain_free};

/* ---------- closing ---------- */

static void on_handle_closed(uv_handle_t *h) {
  sconn *c = h->data;
  if (--c->handles_open > 0) return;
  loop_ctx *lc = c->lc;
  if (c->tr) c->tr->ops->free(c->tr);
  http_conn_free(c->parser);
  loom_buf_deinit(&c->pending);
  loom_buf_deinit(&c->wbuf);
  loom_buf_deinit(&c->inflight);
  if (c->prev) c->prev->next = c->next;
  else lc->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  atomic_fetch_sub(&lc->srv->conns_open, 1);
  loom_free(c);
  check_done(lc);
}

static void close_conn(sconn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->cur) {
    atomic_store(&c->cur->gone, 1);
    c->cur->conn = NULL; /* the responder still owns it; its response is dropped */
    c->cur = NULL;
  }
  if (c->ws) {
    http_ws *ws = c->ws;
    c->ws = NULL;
    http_ws_detach(ws);
  }
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t) {
  sconn *c = t->data;
  if (c->lingering || !c->cur) close_conn(c);
}

static void start_reading(sconn *c);

static void on_shutdown(uv_shutdown_t *r, int status) {
  sconn *c = r->data;
  if (c->closing) return;
  if (status < 0 || c->read_eof || c->lc->stopping) {
    close_conn(c); /* stopping: our FIN is out, no time to wait for the client's */
    return;
  }
  uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
  if (!c->reading) start_reading(c);
}

/* Everything queued has been written and the connection should end: send
 * FIN, then drop whatever the client still sends (so the kernel does not
 * answer unread bytes with a reset that could destroy our response). */
static void start_linger(sconn *c) {
  if (c->lingering || c->closing) return;
  c->lingering = 1;
  loom_buf_deinit(&c->pending);
  c->sreq.data = c;
  if (c->read_eof || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) close_conn(c);
}

/* ---------- reading ---------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  sconn *c = h->data;
  *buf = uv_buf_init(c->lc->readbuf, READ_BUF);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  sconn *c = st->data;
  if (nread == 0) return;
  if (nread < 0) {
    uv_read_stop(st);
    c->reading = 0;
    if (nread != UV_EOF || c->lingering) {
      close_conn(c);
      return;
    }
    c->read_eof = 1;
    /* A client that half-closes while its request is deferred (a long poll)
     * has gone as far as the handler is concerned: http_req_backlog reports
     * LOOM_ECLOSED; a response is still written if one comes. */
    if (c->cur) atomic_store(&c->cur->gone, 1);
    if (!c->cur) resume(c); /* parse what is left, finish writes, then close */
    return;
  }
  atomic_fetch_add(&c->lc->srv->bytes_in, (uint64_t)nread);
  if (c->lingering) return;
  /* Reading extends the idle deadline, except while a request's headers are
   * arriving: they must be complete within one idle timeout of their first
   * byte (slow-header clients cannot pin connections). */
  if (!c->cur && !http_conn_in_headers(c->parser))
    uv_timer_start(&c->timer, on_timer, c->lc->srv->opt.idle_timeout_ms, 0);
  if (c->tr->ops->recv(c->tr, buf->base, (size_t)nread) < 0) close_conn(c);
}

static void read_more(sconn *c) {
  if (!c->reading && !c->read_eof && !c->closing && !c->lingering && c->pending.len < PENDING_MAX)
    start_reading(c);
}

static void start_reading(sconn *c) {
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  else close_conn(c);
}

/* Application bytes from the transport. */
static int deliver_bytes(void *conn, const char *data, size_t len) {
  sconn *c = conn;
  if (c->closing) return LOOM_ECLOSED;
  if (c->close_after || c->lingering) return 0; /* after an error or Connection: close: drop */
  if (c->cur || c->pending.len || c->in_process) {
    if (loom_buf_append(&c->pending, data, len) < 0) return LOOM_ENOMEM;
    if (c->pending.len >= PENDING_MAX && c->reading) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = 0;
    }
    return 0;
  }
  process(c, data, len);
  resume(c);
  return 0;
}

/* ---------- requests ---------- */

static void respond_parse_error(sconn *c) {
  const char *msg;
  int status = http_conn_error(c->parser, &msg);
  loom_buf out, body;
  loom_buf_init(&out);
  loom_buf_init(&body);
  int rc = loom_buf_append_str(&body, "{\"error\":");
  if (rc == 0) rc = loom_buf_append_json_str(&body, msg, strlen(msg));
  if (rc == 0) rc = loom_buf_append_str(&body, "}\n");
  if (rc == 0)
    rc = http_format_head(&out, 1, status, (long long)time(NULL), "application/json", (long long)body.len, 0,
                          1, NULL);
  if (rc == 0) rc = loom_buf_append(&out, body.data, body.len);
  if (rc == 0) {
    count_status(c->lc, status);
    send_app(c, out.data, out.len);
  }
  loom_buf_deinit(&out);
  loom_buf_deinit(&body);
  c->close_after = 1;
}

static void dispatch(sconn *c, http_req *req) {
  http_server *s = c->lc->srv;
  memcpy(req->remote, c->remote, sizeof req->remote);
  req->hooks = &s->hooks;
  req->hooks_ctx = c->lc;
  req->stopping = &s->stopping;
  req->conn = c;
  c->cur = req;
  uv_timer_stop(&c->timer);
  s->opt.handler(req, s->opt.user);
}

/* Parse and dispatch from data until a request is in flight or the data is
 * used up; leftovers go to `pending`. */
static void process(sconn *c, const char *data, size_t len) {
  if (c->ws) {
    http_ws_feed(c->ws, data, len);
    return;
  }
  c->in_process = 1;
  while (len > 0 && !c->cur && !c->closing && !c->close_after && !c->lingering) {
    size_t used = 0;
    int ev = http_conn_feed(c->parser, data, len, &used);
    data += used;
    len -= used;
    if (ev == HTTP_FEED_CONTINUE) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      send_app(c, cont, sizeof cont - 1);
    } else if (ev == HTTP_FEED_REQUEST) {
      dispatch(c, http_conn_take_request(c->parser));
      if (c->ws) { /* upgraded: the rest is WebSocket frames */
        c->in_process = 0;
        if (len && !c->closing) http_ws_feed(c->ws, data, len);
        return;
      }
    } else if (ev == HTTP_FEED_ERROR) {
      respond_parse_error(c);
      len = 0;
    }
  }
  c->in_process = 0;
  if (len > 0 && !c->closing && !c->close_after && !c->lingering) {
    if (loom_buf_append(&c->pending, data, len) < 0) close_conn(c);
  }
}

/* Continue after a request finished or a write completed: parse pending
 * bytes, resume reading, or close when the connection is done. */
static void resume(sconn *c) {
  if (c->closing || c->in_process) return;
  if (!c->cur && c->pending.len && !c->close_after && !c->lingering) {
    loom_buf local = c->pending;
    loom_buf_init(&c->pending);
    process(c, (const char *)local.data, local.len);
    loom_buf_deinit(&local);
    if (c->closing) return;
  }
  if (!c->cur && c->read_eof && !c->pending.len) c->close_after = 1;
  if (c->close_after && !c->cur && !c->writing && c->wbuf.len == 0) {
    start_linger(c);
    return;
  }
  read_more(c);
}

/* A response message reaches the loop thread. */
static void note_buffered(sconn *c) {
  if (c->cur) atomic_store(&c->cur->buffered, c->wbuf.len + c->inflight.len);
}

static void apply_msg(http_msg *m) {
  http_req *req = m->req;
  sconn *c = req->conn;
  if (!m->final) atomic_fetch_sub(&req->queued, m->data.len);
  if (c && !c->closing) {
    if (send_app(c, m->data.data, m->data.len) < 0) close_conn(c);
    else note_buffered(c);
  }
  if (m->final) {
    c = req->conn;
    if (c && c->cur == req) {
      c->cur = NULL;
      if (m->close) c->close_after = 1;
      if (c->lc->stopping) c->close_after = 1;
      else uv_timer_start(&c->timer, on_timer, c->lc->srv->opt.idle_timeout_ms, 0);
      resume(c);
    }
    http_req_destroy(req);
  }
  loom_buf_deinit(&m->data);
  loom_free(m);
}

static void drop_msg(http_msg *m) {
  if (m->final) http_req_destroy(m->req);
  loom_buf_deinit(&m->data);
  loom_free(m);
}

static http_msg *pop_msg(loop_ctx *lc) {
  uv_mutex_lock(&lc->mu);
  http_msg *m = lc->q_head;
  if (m) {
    lc->q_head = m->next;
    if (!lc->q_head) lc->q_tail = NULL;
  }
  uv_mutex_unlock(&lc->mu);
  return m;
}

/* Apply queued messages in FIFO order. Applying one can run handlers that
 * respond and queue more; those are picked up by this same loop, never by a
 * nested drain, so one request's messages can never be applied out of order. */
static void drain_queue(loop_ctx *lc) {
  if (lc->draining) return;
  lc->draining = 1;
  for (http_msg *m; (m = pop_msg(lc)) != NULL;) apply_msg(m);
  lc->draining = 0;
}

static int on_loop_thread(loop_ctx *lc) {
  if (!atomic_load(&lc->self_set)) return 0;
  uv_thread_t me = uv_thread_self();
  return uv_thread_equal(&me, &lc->self);
}

static void deliver_msg(void *ctx, http_msg *m) {
  loop_ctx *lc = ctx;
  int local = on_loop_thread(lc);
  uv_mutex_lock(&lc->mu);
  if (lc->dead) {
    uv_mutex_unlock(&lc->mu);
    drop_msg(m);
    return;
  }
  m->next = NULL;
  if (lc->q_tail) lc->q_tail->next = m;
  else lc->q_head = m;
  lc->q_tail = m;
  if (!local) uv_async_send(&lc->async); /* under the lock: the handle cannot be closing */
  uv_mutex_unlock(&lc->mu);
  if (local) drain_queue(lc); /* on the loop already: apply now (after anything queued earlier) */
}

/* ---------- WebSocket upgrade ---------- */

static int ws_io_write(void *conn, const char *data, size_t len) { return send_app(conn, data, len); }
static size_t ws_io_buffered(void *conn) {
  sconn *c = conn;
  return c->wbuf.len + c->inflight.len;
}
static void ws_io_close(void *conn) { close_conn(conn); }

int http_server_upgrade(http_req *req, const char *head, size_t head_len, http_ws *ws) {
  sconn *c = req->conn;
  if (!c || c->closing || c->cur != req || !on_loop_thread(c->lc) || req->state != RESP_NONE)
    return LOOM_ECLOSED;
  http_ws_io io = {c, &c->lc->loop, ws_io_write, ws_io_buffered, ws_io_close};
  int rc = http_ws_attach(ws, &io);
  if (rc < 0) return rc;
  count_status(c->lc, 101);
  c->cur = NULL;
  c->ws = ws;
  http_req_destroy(req);
  uv_timer_start(&c->timer, on_timer, c->lc->srv->opt.idle_timeout_ms, 0);
  /* on failure close once the handler has returned (resume), never inside
   * it: the caller still holds the WebSocket it is being handed */
  if (send_app(c, head, head_len) < 0) c->close_after = 1;
  return 0;
}

/* ---------- accepting ---------- */

static void format_peer(sconn *c) {
  struct sockaddr_storage ss;
  int n = sizeof ss;
  char ip[INET6_ADDRSTRLEN] = "";
  c->remote[0] = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &n) < 0) return;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof ip);
    snprintf(c->remote, sizeof c->remote, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof ip);
    snprintf(c->remote, sizeof c->remote, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  }
}

static void on_connection(uv_stream_t *server, int status) {
  loop_ctx *lc = server->data;
  http_server *s = lc->srv;
  if (status < 0) {
    slog(s, LOOM_LOG_WARN, "http accept failed", uv_strerror(status));
    return;
  }
  /* libuv stops watching the listener until a pending connection is
   * accepted, so even without memory we must accept (into the spare) and
   * close, or the listener would stall for good. */
  int reject = 0;
  sconn *c = loom_calloc(1, sizeof *c);
  if (!c) {
    c = lc->spare;
    lc->spare = NULL;
    reject = 1;
    if (!c) {
      slog(s, LOOM_LOG_ERROR, "http accept: out of memory, listener paused", NULL);
      return;
    }
  } else if (!lc->spare) {
    lc->spare = loom_calloc(1, sizeof *lc->spare);
  }
  c->lc = lc;
  uv_tcp_init(&lc->loop, &c->tcp);
  uv_timer_init(&lc->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->handles_open = 2;
  c->next = lc->conns;
  if (lc->conns) lc->conns->prev = c;
  lc->conns = c;
  atomic_fetch_add(&s->conns_open, 1);
  atomic_fetch_add(&s->conns_total, 1);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || reject) {
    if (reject) slog(s, LOOM_LOG_WARN, "http accept: out of memory, connection closed", NULL);
    close_conn(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  format_peer(c);
  http_conn_limits lim = {s->opt.max_body_bytes, s->opt.max_header_bytes};
  http_transport_sink sink = {c, deliver_bytes, wire_write};
  int rc = http_conn_new(&lim, &c->parser);
  if (rc == 0 && s->opt.transport_new) {
    rc = s->opt.transport_new(s->opt.transport_user, &sink, &c->tr);
  } else if (rc == 0) {
    c->plain.ops = &plain_ops;
    c->plain.sink = sink;
    c->tr = &c->plain;
  }
  if (rc < 0 || lc->stopping) {
    close_conn(c);
    return;
  }
  uv_timer_start(&c->timer, on_timer, s->opt.idle_timeout_ms, 0);
  start_reading(c);
}

/* ---------- loop lifecycle ---------- */

static void on_stop_timeout(uv_timer_t *t) {
  loop_ctx *lc = t->data;
  for (sconn *c = lc->conns; c; c = c->next) close_conn(c);
}

static void check_done(loop_ctx *lc) {
  if (!lc->stopping || lc->conns) return;
  uv_mutex_lock(&lc->mu);
  if (lc->dead) {
    uv_mutex_unlock(&lc->mu);
    return;
  }
  lc->dead = 1;
  http_msg *m = lc->q_head;
  lc->q_head = lc->q_tail = NULL;
  uv_mutex_unlock(&lc->mu);
  for (http_msg *next; m; m = next) {
    next = m->next;
    drop_msg(m);
  }
  uv_close((uv_handle_t *)&lc->async, NULL);
  uv_close((uv_handle_t *)&lc->stop_timer, NULL);
}

static void begin_stop(loop_ctx *lc) {
  if (lc->stopping) return;
  lc->stopping = 1;
  uv_close((uv_handle_t *)&lc->listener, NULL);
  for (sconn *c = lc->conns, *next; c; c = next) {
    next = c->next;
    if (c->ws) { /* close handshake with 1001; ws.c closes when done */
      http_ws_going_away(c->ws);
      continue;
    }
    if (c->cur) continue; /* finishes its request, then closes (apply_msg) */
    c->close_after = 1;
    loom_buf_deinit(&c->pending);
    if (!c->writing && c->wbuf.len == 0) close_conn(c);
  }
  uv_timer_start(&lc->stop_timer, on_stop_timeout, lc->srv->opt.stop_timeout_ms, 0);
  check_done(lc);
}

static void on_async(uv_async_t *a) {
  loop_ctx *lc = a->data;
  drain_queue(lc);
  uv_mutex_lock(&lc->mu);
  int stop = lc->stop_requested;
  uv_mutex_unlock(&lc->mu);
  if (stop) begin_stop(lc);
}

static void loop_thread(void *arg) {
  loop_ctx *lc = arg;
  pthread_setname_np(pthread_self(), "http"); /* top -H, perf, gdb */
  lc->self = uv_thread_self();
  atomic_store(&lc->self_set, 1);
  uv_run(&lc->loop, UV_RUN_DEFAULT);
  atomic_store(&lc->self_set, 0); /* thread ids may be reused once we exit */
}

/* ---------- address and sockets ---------- */

static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl) {
  char host[256];
  const char *port;
  const char *colon;
  if (!listen || !*listen) return LOOM_EINVAL;
  if (listen[0] == '[') {
    const char *rb = strchr(listen, ']');
    if (!rb || rb[1] != ':' || (size_t)(rb - listen - 1) >= sizeof host) return LOOM_EINVAL;
    memcpy(host, listen + 1, (size_t)(rb - listen - 1));
    host[rb - listen - 1] = 0;
    port = rb + 2;
  } else {
    colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host) return LOOM_EINVAL;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    port = colon + 1;
    if (strchr(host, ':')) return LOOM_EINVAL; /* IPv6 needs brackets */
  }
  char *end;
  long pn = strtol(port, &end, 10);
  if (!*port || *end || pn < 0 || pn > 65535) return LOOM_EINVAL;
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (getaddrinfo(*host ? host : NULL, port, &hints, &res) != 0 || !res) return LOOM_EINVAL;
  if (!*host) { /* ":port" means all IPv4 interfaces */
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)pn);
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    *sl = sizeof *a;
  } else {
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
  }
  freeaddrinfo(res);
  return 0;
}

static void set_port(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static int get_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int bind_socket(const struct sockaddr_storage *ss, socklen_t sl, int reuseport, int *out) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return LOOM_EIO;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    close(fd);
    return LOOM_EIO;
  }
  if (bind(fd, (const struct sockaddr *)ss, sl) < 0) {
    close(fd);
    return LOOM_EIO;
  }
  *out = fd;
  return 0;
}

/* ---------- public ---------- */

int http_server_new(const http_server_options *opt, http_server **out) {
  if (!opt || !opt->handler || !opt->listen) return LOOM_EINVAL;
  struct sockaddr_storage ss;
  socklen_t sl;
  int rc = resolve(opt->listen, &ss, &sl);
  if (rc < 0) return rc;
  http_server *s = loom_calloc(1, sizeof *s);
  if (!s) return LOOM_ENOMEM;
  s->opt = *opt;
  s->listen_str = loom_strdup(opt->listen);
  s->n_loops = opt->n_threads ? opt->n_threads : uv_available_parallelism();
  if (s->n_loops == 0) s->n_loops = 1;
  if (s->n_loops > 256) s->n_loops = 256;
  s->loops = loom_calloc(s->n_loops, sizeof *s->loops);
  if (!s->listen_str || !s->loops) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  s->opt.listen = s->listen_str;
  if (!s->opt.idle_timeout_ms) s->opt.idle_timeout_ms = DEFAULT_IDLE_MS;
  if (!s->opt.stop_timeout_ms) s->opt.stop_timeout_ms = DEFAULT_STOP_MS;
  if (!s->opt.backlog) s->opt.backlog = 511;
  s->hooks.deliver = deliver_msg;
  s->hooks.count = count_status;
  for (unsigned i = 0; i < s->n_loops; i++) s->loops[i].fd = -1;
  int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  if (port != 0) {
    /* Refuse a port another socket already holds: with SO_REUSEPORT alone a
     * second daemon of the same user would silently share our traffic. */
    int probe;
    rc = bind_socket(&ss, sl, 0, &probe);
    if (rc < 0) goto fail;
    close(probe);
  }
  for (unsigned i = 0; i < s->n_loops; i++) {
    loop_ctx *lc = &s->loops[i];
    lc->srv = s;
    if (i > 0) set_port(&ss, port);
    rc = bind_socket(&ss, sl, 1, &lc->fd);
    if (rc < 0) goto fail;
    if (i == 0) port = get_port(lc->fd);
    if (port <= 0) {
      rc = LOOM_EIO;
      goto fail;
    }
  }
  s->port = port;
  *out = s;
  return 0;
fail:
  http_server_free(s);
  return rc;
}

int http_server_port(const http_server *s) { return s->port; }

static int init_loop(loop_ctx *lc) {
  if (uv_loop_init(&lc->loop) < 0) return LOOM_ENOMEM;
  if (uv_mutex_init(&lc->mu) < 0) {
    uv_loop_close(&lc->loop);
    return LOOM_ENOMEM;
  }
  uv_tcp_init(&lc->loop, &lc->listener);
  uv_async_init(&lc->loop, &lc->async, on_async);
  uv_timer_init(&lc->loop, &lc->stop_timer);
  lc->listener.data = lc->async.data = lc->stop_timer.data = lc;
  lc->inited = 1;
  lc->spare = loom_calloc(1, sizeof *lc->spare);
  if (!lc->spare) return LOOM_ENOMEM;
  int rc = uv_tcp_open(&lc->listener, lc->fd);
  if (rc == 0) {
    lc->fd = -1; /* libuv owns it now */
    rc = uv_listen((uv_stream_t *)&lc->listener, lc->srv->opt.backlog, on_connection);
  }
  return rc < 0 ? LOOM_EIO : 0;
}

/* Close the handles of a loop whose thread never ran, and run it dry. */
static void shut_unstarted(loop_ctx *lc) {
  lc->stopping = 1;
  uv_close((uv_handle_t *)&lc->listener, NULL);
  uv_close((uv_handle_t *)&lc->async, NULL);
  uv_close((uv_handle_t *)&lc->stop_timer, NULL);
  uv_run(&lc->loop, UV_RUN_DEFAULT);
  lc->dead = 1;
}

int http_server_start(http_server *s) {
  if (s->started || s->stopped) return LOOM_ECLOSED;
  s->started = 1;
  int rc = 0;
  for (unsigned i = 0; i < s->n_loops && rc == 0; i++) rc = init_loop(&s->loops[i]);
  for (unsigned i = 0; i < s->n_loops && rc == 0; i++) {
    loop_ctx *lc = &s->loops[i];
    if (uv_thread_create(&lc->tid, loop_thread, lc) < 0) rc = LOOM_EIO;
    else lc->thread_started = 1;
  }
  if (rc < 0) http_server_stop(s);
  return rc;
}

int http_server_stop(http_server *s) {
  if (!s || s->stopped) return 0;
  for (unsigned i = 0; i < s->n_loops; i++)
    if (on_loop_thread(&s->loops[i])) return LOOM_EINVAL;
  s->stopped = 1;
  atomic_store(&s->stopping, 1);
  for (unsigned i = 0; i < s->n_loops; i++) {
    loop_ctx *lc = &s->loops[i];
    if (!lc->inited) continue;
    if (!lc->thread_started) {
      shut_unstarted(lc);
      continue;
    }
    uv_mutex_lock(&lc->mu);
    lc->stop_requested = 1;
    if (!lc->dead) uv_async_send(&lc->async);
    uv_mutex_unlock(&lc->mu);
  }
  for (unsigned i = 0; i < s->n_loops; i++)
    if (s->loops[i].thread_started) uv_thread_join(&s->loops[i].tid);
  return 0;
}

void http_server_free(http_server *s) {
  if (!s) return;
  if (s->loops) {
    http_server_stop(s);
    for (unsigned i = 0; i < s->n_loops; i++) {
      loop_ctx *lc = &s->loops[i];
      if (lc->fd >= 0) close(lc->fd);
      loom_free(lc->spare);
      if (lc->inited) {
        uv_loop_close(&lc->loop);
        uv_mutex_destroy(&lc->mu);
      }
    }
  }
  loom_free(s->loops);
  loom_free(s->listen_str);
  loom_free(s);
}

void http_server_stats_get(const http_server *s, http_server_stats *out) {
  http_server *m = (http_server *)s; /* atomics are read-only here */
  out->requests_total = atomic_load(&m->requests_total);
  out->responses_1xx = atomic_load(&m->by_class[0]);
  out->responses_2xx = atomic_load(&m->by_class[1]);
  out->responses_3xx = atomic_load(&m->by_class[2]);
  out->responses_4xx = atomic_load(&m->by_class[3]);
  out->responses_5xx = atomic_load(&m->by_class[4]);
  out->bytes_in = atomic_load(&m->bytes_in);
  out->bytes_out = atomic_load(&m->bytes_out);
  out->conns_total = atomic_load(&m->conns_total);
  out->conns_open = atomic_load(&m->conns_open);
}
