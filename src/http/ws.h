/* SPDX-License-Identifier: Apache-2.0
 * WebSocket (RFC 6455) connections on the HTTP server: a handler accepts an
 * Upgrade: websocket request (http_ws_accept answers 101 and takes over the
 * connection); frames are parsed and built by libwslay's event API on the
 * connection's loop thread. Sends and closes may come from any thread: they
 * are queued (bounded) and the loop is woken with a uv_async. Ping every
 * ping_interval_ms, automatic pong, close handshake, max message size (close
 * 1009), a 1 s tick for the owner, graceful server stop closes with 1001.
 * Or, for a protocol served elsewhere, the raw socket is handed over after
 * the 101 (http_ws_accept_handover).
 * Wire format: RFC 6455 frames; server frames are never masked.
 */
#ifndef LOOM_HTTP_WS_H
#define LOOM_HTTP_WS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/server.h"

typedef struct http_ws http_ws;

/* Close codes used by Loom. */
enum {
  HTTP_WS_NORMAL = 1000,
  HTTP_WS_GOING_AWAY = 1001,   /* server stopping */
  HTTP_WS_PROTOCOL = 1002,
  HTTP_WS_POLICY = 1008,       /* "too slow", "token revoked", "token expired" */
  HTTP_WS_TOO_BIG = 1009,      /* a message over max_message_bytes */
  HTTP_WS_INTERNAL = 1011
};

typedef struct http_ws_options {
  size_t max_message_bytes;  /* incoming message limit; 0 = 64 KiB; larger -> close 1009 */
  size_t max_queued_bytes;   /* outgoing bytes queued (not yet on the socket); 0 = 1 MiB;
                                http_ws_send beyond it fails with LOOM_EAGAIN */
  unsigned ping_interval_ms; /* 0 = 20000 */
  /* A complete text or binary message: loop thread. data is valid during the call. */
  void (*on_message)(http_ws *ws, void *user, int is_text, const uint8_t *data, size_t len);
  /* Once a second on the loop thread (optional). */
  void (*on_tick)(http_ws *ws, void *user);
  /* The connection has ended (closed by either side or by the server's
   * stop). Exactly once, loop thread; later sends fail with LOOM_ECLOSED.
   * The owner still holds its reference and must http_ws_release it. */
  void (*on_close)(http_ws *ws, void *user);
  void *user;
} http_ws_options;

/* Pure handshake helpers. http_ws_check: 0 if req is a valid WebSocket
 * upgrade (GET, Upgrade: websocket, Connection contains upgrade,
 * Sec-WebSocket-Version: 13, a Sec-WebSocket-Key of 16 base64-encoded
 * bytes), else LOOM_EINVAL. http_ws_accept_key: the Sec-WebSocket-Accept
 * value for key (base64 of SHA-1 of key + GUID) into out (>= 29 bytes);
 * 0 or LOOM_EINVAL. */
int http_ws_check(const http_req *req);
int http_ws_accept_key(const char *key, char *out, size_t cap);

/* Accept the upgrade: must be called by the handler on the loop thread,
 * before any response. On success the 101 response is sent, the request is
 * finished and freed (req is INVALID), and *out holds the caller's
 * reference to the connection. Returns 0, LOOM_EINVAL (not a valid upgrade
 * request: the caller answers 400, req still valid), LOOM_ECLOSED (the
 * connection is gone or this is not its loop thread; req still valid),
 * LOOM_ENOMEM. */
int http_ws_accept(http_req *req, const http_ws_options *opt, http_ws **out);

/* Socket hand-over: for protocols served by another component on its own
 * loop (MQTT over WebSocket, mqtt_broker_adopt_ws). Called once on the
 * connection's loop thread after the 101 response is on the socket: fd is
 * a duplicate of the connection's socket, owned by the callee from now on
 * (the HTTP server has closed its own descriptor and reads nothing more);
 * pending holds bytes the client sent after its request that the server
 * had already read (valid during the call); peer is "ip:port". fd is -1
 * if duplicating failed (the connection is closed; nothing to adopt). */
typedef void (*http_ws_handover_cb)(void *user, int fd, const uint8_t *pending, size_t len,
                                    const char *peer);

/* Accept the upgrade like http_ws_accept (same checks and results), with
 * "Sec-WebSocket-Protocol: <protocol>" in the 101 when protocol is not
 * NULL (a token: LOOM_EINVAL if it holds anything but visible ASCII), but
 * instead of speaking WebSocket here, hand the socket to cb (above) once
 * the 101 has been written. No reference is returned: the server keeps
 * none after the hand-over. If the client disconnects, or the 101 cannot
 * be written within 5 s, or the client sends more than 64 KiB first, the
 * connection is closed and cb never runs. On success req is INVALID. */
int http_ws_accept_handover(http_req *req, const char *protocol, http_ws_handover_cb cb,
                            void *user);

/* Queue a text message (copied). Any thread. 0; LOOM_ECLOSED after close;
 * LOOM_EAGAIN when the outgoing queue is over max_queued_bytes (the message
 * is dropped: the owner should close with 1008 "too slow"); LOOM_ENOMEM. */
int http_ws_send_text(http_ws *ws, const char *data, size_t len);

/* Start the close handshake with code and reason (<= 123 bytes, may be
 * NULL). Any thread; idempotent. The connection ends once the peer answers
 * or after 2 s. */
void http_ws_close(http_ws *ws, int code, const char *reason);

/* Non-zero once the connection has ended or a close was requested. Any thread. */
int http_ws_closed(const http_ws *ws);

/* Drop the owner's reference. Any thread. Memory is freed once the
 * connection has ended too. */
void http_ws_release(http_ws *ws);

/* ---- for server.c only ---- */

/* How ws.c reaches its connection (all on the loop thread). */
typedef struct http_ws_io {
  void *conn;
  uv_loop_t *loop;
  int (*write)(void *conn, const char *data, size_t len); /* 0 or LOOM_E* */
  size_t (*buffered)(void *conn);                         /* bytes not yet on the socket */
  void (*close)(void *conn);                              /* close now */
} http_ws_io;

/* server.c: switch the request's connection to WebSocket (sends head, the
 * 101 head bytes, first). 0, LOOM_ECLOSED, LOOM_ENOMEM. Loop thread. */
int http_server_upgrade(http_req *req, const char *head, size_t head_len, http_ws *ws);
/* ws.c, called by server.c on the loop thread: attach (from
 * http_server_upgrade; 0 or LOOM_ENOMEM), bytes from the client, the
 * socket's write buffer drained, server stopping, connection closed. */
int http_ws_attach(http_ws *ws, const http_ws_io *io);
void http_ws_feed(http_ws *ws, const char *data, size_t len);
void http_ws_writable(http_ws *ws);
void http_ws_going_away(http_ws *ws);
void http_ws_detach(http_ws *ws);

#endif
