/* SPDX-License-Identifier: Apache-2.0
 * WebSocket connections (ws.h): the handshake (SHA-1 + base64 via OpenSSL),
 * then libwslay's event API on the connection's loop thread. Other threads
 * queue messages and close requests under a mutex and wake the loop with a
 * uv_async owned by the connection. Two references: the owner's and the
 * connection's (dropped once its libuv handles are closed).
 */
#include "http/ws.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define DEFAULT_MAX_MSG ((size_t)64 << 10)
#define DEFAULT_MAX_QUEUED ((size_t)1 << 20)
#define DEFAULT_PING_MS 20000u
#define CLOSE_WAIT_NS (2000LL * 1000000LL)
#define HANDOVER_MAX_PENDING ((size_t)64 << 10)
#define HANDOVER_MAX_TICKS 5

typedef struct ws_msg {
  struct ws_msg *next;
  size_t len;
  char data[];
} ws_msg;

struct http_ws {
  http_ws_options opt;
  atomic_int refs;
  uv_mutex_t mu;
  /* under mu */
  ws_msg *q_head, *q_tail;
  size_t q_bytes;
  int close_req, close_code;
  char reason[124];
  int ended;        /* connection over (or never attached) */
  int wake_ok;      /* the async handle may be signalled */
  /* any thread, updated by the loop: bytes queued in wslay + the socket buffers */
  atomic_size_t backlog;
  atomic_int closed; /* close requested or ended */
  /* loop thread only */
  http_ws_io io;
  wslay_event_context_ptr ctx;
  uv_async_t async;
  uv_timer_t timer;
  int handles_open;
  const char *in;
  size_t in_len;
  int64_t last_ping_ns;
  int64_t close_sent_ns; /* 0 until our close frame is queued */
  int close_queued;
  int detached;
  /* hand-over mode (http_ws_accept_handover), loop thread only */
  http_ws_handover_cb handover; /* NULL: a normal WebSocket */
  void *handover_user;
  loom_buf pending;   /* client bytes read before the hand-over */
  char peer[64];
  int handed;         /* cb has run (or the hand-over was given up) */
  int handover_ticks; /* 1 s ticks waiting for the 101 to drain */
};

/* ---- handshake ---- */

static int header_has_token(const char *v, const char *tok) {
  size_t n = strlen(tok);
  while (v && *v) {
    while (*v == ' ' || *v == ',' || *v == '\t') v++;
    size_t l = strcspn(v, ",");
    size_t e = l;
    while (e && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e == n && strncasecmp(v, tok, n) == 0) return 1;
    v += l;
  }
  return 0;
}

int http_ws_check(const http_req *req) {
  if (http_req_method_bit(req) != HTTP_M_GET) return LOOM_EINVAL;
  const char *up = http_req_header(req, "upgrade");
  const char *conn = http_req_header(req, "connection");
  const char *ver = http_req_header(req, "sec-websocket-version");
  const char *key = http_req_header(req, "sec-websocket-key");
  if (!up || !header_has_token(up, "websocket")) return LOOM_EINVAL;
  if (!conn || !header_has_token(conn, "upgrade")) return LOOM_EINVAL;
  if (!ver || strcmp(ver, "13") != 0) return LOOM_EINVAL;
  if (!key || strlen(key) != 24) return LOOM_EINVAL;
  unsigned char raw[20];
  int n = EVP_DecodeBlock(raw, (const unsigned char *)key, 24);
  if (n != 18 || key[22] != '=' || key[23] != '=') return LOOM_EINVAL; /* 16 bytes + 2 pad */
  return 0;
}

int http_ws_accept_key(const char *key, char *out, size_t cap) {
  if (!key || cap < 29 || strlen(key) > 64) return LOOM_EINVAL;
  char buf[64 + sizeof WS_GUID];
  size_t kl = strlen(key);
  memcpy(buf, key, kl);
  memcpy(buf + kl, WS_GUID, sizeof WS_GUID - 1);
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)buf, kl + sizeof WS_GUID - 1, md);
  EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH); /* 28 chars + NUL */
  return 0;
}

/* ---- references ---- */

static void ws_free(http_ws *ws) {
  for (ws_msg *m = ws->q_head, *n; m; m = n) {
    n = m->next;
    loom_free(m);
  }
  loom_buf_deinit(&ws->pending);
  uv_mutex_destroy(&ws->mu);
  loom_free(ws);
}

void http_ws_release(http_ws *ws) {
  if (ws && atomic_fetch_sub(&ws->refs, 1) == 1) ws_free(ws);
}

/* ---- loop side ---- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
  (void)flags;
  http_ws *ws = user;
  if (ws->in_len == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < ws->in_len ? len : ws->in_len;
  memcpy(buf, ws->in, n);
  ws->in += n;
  ws->in_len -= n;
  return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user) {
  (void)flags;
  http_ws *ws = user;
  if (ws->io.write(ws->io.conn, (const char *)data, len) < 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user) {
  (void)ctx;
  http_ws *ws = user;
  if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
    if (ws->opt.on_message && !atomic_load(&ws->closed))
      ws->opt.on_message(ws, ws->opt.user, arg->opcode == WSLAY_TEXT_FRAME, arg->msg, arg->msg_length);
  } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
    atomic_store(&ws->closed, 1); /* wslay answers the close itself */
  }
}

static void update_backlog(http_ws *ws) {
  size_t b = ws->io.buffered(ws->io.conn);
  if (ws->ctx) b += wslay_event_get_queued_msg_length(ws->ctx);
  atomic_store(&ws->backlog, b);
}

/* Move queued messages into wslay, send, close when both directions are done. */
static void pump(http_ws *ws) {
  if (ws->detached || !ws->ctx) return;
  uv_mutex_lock(&ws->mu);
  ws_msg *m = ws->q_head;
  ws->q_head = ws->q_tail = NULL;
  ws->q_bytes = 0;
  int close_req = ws->close_req, code = ws->close_code;
  char reason[sizeof ws->reason];
  memcpy(reason, ws->reason, sizeof reason);
  uv_mutex_unlock(&ws->mu);
  for (ws_msg *n; m; m = n) {
    n = m->next;
    if (!ws->close_queued) {
      struct wslay_event_msg wm = {WSLAY_TEXT_FRAME, (const uint8_t *)m->data, m->len};
      wslay_event_queue_msg(ws->ctx, &wm);
    }
    loom_free(m);
  }
  /* wslay sends control frames before queued messages: let the messages
   * out first so that a reply sent just before a close is not lost */
  if (wslay_event_send(ws->ctx) != 0) {
    ws->io.close(ws->io.conn);
    return;
  }
  if (close_req && !ws->close_queued && wslay_event_get_queued_msg_count(ws->ctx) == 0) {
    ws->close_queued = 1;
    ws->close_sent_ns = loom_mono_ns();
    wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)reason, strlen(reason));
    if (wslay_event_send(ws->ctx) != 0) {
      ws->io.close(ws->io.conn);
      return;
    }
  }
  update_backlog(ws);
  if (wslay_event_get_close_sent(ws->ctx) && !ws->close_sent_ns) ws->close_sent_ns = loom_mono_ns();
  if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx) &&
      ws->io.buffered(ws->io.conn) == 0)
    ws->io.close(ws->io.conn);
}

static void on_async(uv_async_t *a) { pump(a->data); }

/* ---- hand-over ---- */

typedef struct find_fd {
  void *conn;
  int fd;
} find_fd;

/* The server's connection handle is the TCP handle whose data is the
 * connection (server.c sets tcp.data = the connection). */
static void find_fd_cb(uv_handle_t *h, void *arg) {
  find_fd *f = arg;
  uv_os_fd_t fd;
  if (f->fd < 0 && h->type == UV_TCP && h->data == f->conn && !uv_is_closing(h) &&
      uv_fileno(h, &fd) == 0)
    f->fd = fd;
}

/* Once the 101 is on the socket: duplicate the descriptor, close the HTTP
 * side (libuv stops polling and closes its descriptor at once; the socket
 * lives on through the duplicate), then hand it over. */
static void try_handover(http_ws *ws) {
  if (ws->detached || ws->handed || ws->io.buffered(ws->io.conn) != 0) return;
  find_fd f = {ws->io.conn, -1};
  uv_walk(ws->io.loop, find_fd_cb, &f);
  int fd = f.fd >= 0 ? fcntl(f.fd, F_DUPFD_CLOEXEC, 0) : -1;
  ws->handed = 1;
  loom_buf pending = ws->pending;
  loom_buf_init(&ws->pending);
  char peer[sizeof ws->peer];
  memcpy(peer, ws->peer, sizeof peer);
  http_ws_handover_cb cb = ws->handover;
  void *user = ws->handover_user;
  ws->io.close(ws->io.conn); /* ws stays valid until its handles' close callbacks */
  if (fd >= 0) cb(user, fd, pending.data ? pending.data : (const uint8_t *)"", pending.len, peer);
  loom_buf_deinit(&pending);
}

static void on_tick(uv_timer_t *t) {
  http_ws *ws = t->data;
  if (ws->handover) {
    if (++ws->handover_ticks > HANDOVER_MAX_TICKS) {
      ws->handed = 1;
      ws->io.close(ws->io.conn);
      return;
    }
    try_handover(ws);
    return;
  }
  int64_t now = loom_mono_ns();
  if (ws->close_sent_ns && now - ws->close_sent_ns > CLOSE_WAIT_NS) {
    ws->io.close(ws->io.conn);
    return;
  }
  if (!ws->close_queued && now - ws->last_ping_ns >= (int64_t)ws->opt.ping_interval_ms * 1000000LL) {
    ws->last_ping_ns = now;
    struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"", 0};
    wslay_event_queue_msg(ws->ctx, &ping);
  }
  if (ws->opt.on_tick && !atomic_load(&ws->closed)) ws->opt.on_tick(ws, ws->opt.user);
  pump(ws);
}

int http_ws_attach(http_ws *ws, const http_ws_io *io) {
  ws->io = *io;
  struct wslay_event_callbacks cb = {recv_cb, send_cb, NULL, NULL, NULL, NULL, msg_cb};
  if (!ws->handover) {
    if (wslay_event_context_server_init(&ws->ctx, &cb, ws) != 0) return LOOM_ENOMEM;
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->opt.max_message_bytes);
  }
  uv_async_init(io->loop, &ws->async, on_async);
  uv_timer_init(io->loop, &ws->timer);
  ws->async.data = ws->timer.data = ws;
  ws->handles_open = 2;
  ws->last_ping_ns = loom_mono_ns();
  uv_timer_start(&ws->timer, on_tick, 1000, 1000);
  uv_mutex_lock(&ws->mu);
  ws->wake_ok = 1;
  ws->ended = 0;
  uv_mutex_unlock(&ws->mu);
  return 0;
}

void http_ws_feed(http_ws *ws, const char *data, size_t len) {
  if (ws->detached) return;
  if (ws->handover) {
    if (ws->handed) return;
    if (ws->pending.len + len > HANDOVER_MAX_PENDING ||
        loom_buf_append(&ws->pending, data, len) < 0) {
      ws->handed = 1;
      ws->io.close(ws->io.conn);
      return;
    }
    try_handover(ws);
    return;
  }
  ws->in = data;
  ws->in_len = len;
  int rc = wslay_event_recv(ws->ctx);
  ws->in = NULL;
  ws->in_len = 0;
  if (rc != 0) {
    ws->io.close(ws->io.conn);
    return;
  }
  pump(ws);
}

void http_ws_writable(http_ws *ws) {
  if (ws->detached) return;
  if (ws->handover) {
    try_handover(ws);
    return;
  }
  pump(ws);
}

void http_ws_going_away(http_ws *ws) {
  if (ws->handover) {
    if (!ws->detached && !ws->handed) {
      ws->handed = 1;
      ws->io.close(ws->io.conn);
    }
    return;
  }
  http_ws_close(ws, HTTP_WS_GOING_AWAY, "server stopping");
  pump(ws);
}

static void on_handle_closed(uv_handle_t *h) {
  http_ws *ws = h->data;
  if (--ws->handles_open == 0) http_ws_release(ws);
}

void http_ws_detach(http_ws *ws) {
  if (ws->detached) return;
  ws->detached = 1;
  uv_mutex_lock(&ws->mu);
  ws->ended = 1;
  ws->wake_ok = 0;
  uv_mutex_unlock(&ws->mu);
  atomic_store(&ws->closed, 1);
  if (ws->ctx) wslay_event_context_free(ws->ctx);
  ws->ctx = NULL;
  if (ws->opt.on_close) ws->opt.on_close(ws, ws->opt.user);
  uv_close((uv_handle_t *)&ws->async, on_handle_closed);
  uv_close((uv_handle_t *)&ws->timer, on_handle_closed);
}

/* ---- any thread ---- */

/* Shared by both accept flavours: handshake checks, the 101 head, the
 * switch in server.c. handover may be NULL (a normal WebSocket). */
static int accept_common(http_req *req, const http_ws_options *opt, const char *protocol,
                         http_ws_handover_cb handover, void *handover_user, http_ws **out) {
  if (http_ws_check(req) < 0) return LOOM_EINVAL;
  if (protocol) {
    if (!*protocol || strlen(protocol) > 64) return LOOM_EINVAL;
    for (const char *p = protocol; *p; p++)
      if (*p <= ' ' || *p > '~' || *p == ',') return LOOM_EINVAL;
  }
  char acc[32];
  if (http_ws_accept_key(http_req_header(req, "sec-websocket-key"), acc, sizeof acc) < 0)
    return LOOM_EINVAL;
  http_ws *ws = loom_calloc(1, sizeof *ws);
  if (!ws) return LOOM_ENOMEM;
  if (uv_mutex_init(&ws->mu) < 0) {
    loom_free(ws);
    return LOOM_ENOMEM;
  }
  ws->opt = *opt;
  if (!ws->opt.max_message_bytes) ws->opt.max_message_bytes = DEFAULT_MAX_MSG;
  if (!ws->opt.max_queued_bytes) ws->opt.max_queued_bytes = DEFAULT_MAX_QUEUED;
  if (!ws->opt.ping_interval_ms) ws->opt.ping_interval_ms = DEFAULT_PING_MS;
  ws->ended = 1;
  ws->handover = handover;
  ws->handover_user = handover_user;
  loom_buf_init(&ws->pending);
  snprintf(ws->peer, sizeof ws->peer, "%s", http_req_remote(req));
  atomic_init(&ws->refs, 2);
  char head[384];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                    acc, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                    protocol ? "\r\n" : "");
  int rc = http_server_upgrade(req, head, (size_t)hl, ws);
  if (rc < 0) {
    ws_free(ws);
    return rc;
  }
  *out = ws;
  return 0;
}

int http_ws_accept(http_req *req, const http_ws_options *opt, http_ws **out) {
  return accept_common(req, opt, NULL, NULL, NULL, out);
}

int http_ws_accept_handover(http_req *req, const char *protocol, http_ws_handover_cb cb,
                            void *user) {
  if (!cb) return LOOM_EINVAL;
  http_ws_options opt;
  memset(&opt, 0, sizeof opt);
  http_ws *ws;
  int rc = accept_common(req, &opt, protocol, cb, user, &ws);
  if (rc < 0) return rc;
  http_ws_release(ws); /* the connection's reference remains until it closes */
  return 0;
}

int http_ws_send_text(http_ws *ws, const char *data, size_t len) {
  if (atomic_load(&ws->closed)) return LOOM_ECLOSED;
  ws_msg *m = loom_malloc(sizeof *m + len);
  if (!m) return LOOM_ENOMEM;
  m->next = NULL;
  m->len = len;
  memcpy(m->data, data, len);
  int rc = 0;
  uv_mutex_lock(&ws->mu);
  if (ws->ended || ws->close_req) rc = LOOM_ECLOSED;
  else if (ws->q_bytes + atomic_load(&ws->backlog) + len > ws->opt.max_queued_bytes) rc = LOOM_EAGAIN;
  if (rc == 0) {
    if (ws->q_tail) ws->q_tail->next = m;
    else ws->q_head = m;
    ws->q_tail = m;
    ws->q_bytes += len;
    if (ws->wake_ok) uv_async_send(&ws->async);
  }
  uv_mutex_unlock(&ws->mu);
  if (rc) loom_free(m);
  return rc;
}

void http_ws_close(http_ws *ws, int code, const char *reason) {
  uv_mutex_lock(&ws->mu);
  if (!ws->close_req && !ws->ended) {
    ws->close_req = 1;
    ws->close_code = code;
    snprintf(ws->reason, sizeof ws->reason, "%s", reason ? reason : "");
    if (ws->wake_ok) uv_async_send(&ws->async);
  }
  uv_mutex_unlock(&ws->mu);
  atomic_store(&ws->closed, 1);
}

int http_ws_closed(const http_ws *ws) { return atomic_load(&((http_ws *)ws)->closed); }
