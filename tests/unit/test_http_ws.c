/* SPDX-License-Identifier: Apache-2.0
 * WebSocket connections on the HTTP server (http/ws.h), driven with plain
 * sockets and exact frame bytes: the handshake (RFC 6455 example key, bad
 * upgrade requests), echo with frames arriving in the handshake's packet,
 * ping/pong, the message size limit (1009), the close handshake, sends and
 * closes from another thread, the bounded send queue, 1001 on server stop,
 * and half-closed deferred HTTP requests reported as gone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/server.h"
#include "http/ws.h"

typedef struct fixture {
  http_server *srv;
  int port;
  pthread_mutex_t mu;
  http_ws *ws;          /* the last accepted connection (owner's reference) */
  atomic_int closed;    /* on_close calls */
  atomic_int poll_gone; /* /poll saw LOOM_ECLOSED from http_req_backlog */
  size_t max_queued;
} fixture;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void on_message(http_ws *ws, void *user, int is_text, const uint8_t *data, size_t len) {
  (void)user;
  (void)is_text;
  http_ws_send_text(ws, (const char *)data, len); /* echo */
}

static void on_close(http_ws *ws, void *user) {
  (void)ws;
  fixture *fx = user;
  atomic_fetch_add(&fx->closed, 1);
}

static void *poll_thread(void *arg) {
  http_req *req = arg;
  size_t b;
  for (int i = 0; i < 300 && http_req_backlog(req, &b) == 0; i++) sleep_ms(10);
  fixture *fx = http_req_user(req);
  if (http_req_backlog(req, &b) == LOOM_ECLOSED) atomic_store(&fx->poll_gone, 1);
  http_respond(req, 200, "text/plain", "late", 4);
  return NULL;
}

static void handler(http_req *req, void *user) {
  fixture *fx = user;
  if (!strcmp(http_req_path(req), "/poll")) {
    http_req_set_user(req, fx);
    pthread_t t;
    pthread_create(&t, NULL, poll_thread, req);
    pthread_detach(t);
    return;
  }
  http_ws_options o = {0};
  o.max_message_bytes = 1000;
  o.max_queued_bytes = fx->max_queued;
  o.on_message = on_message;
  o.on_close = on_close;
  o.user = fx;
  http_ws *ws;
  int rc = http_ws_accept(req, &o, &ws);
  if (rc < 0) {
    http_respond_error(req, 400, "not a websocket upgrade");
    return;
  }
  pthread_mutex_lock(&fx->mu);
  if (fx->ws) http_ws_release(fx->ws);
  fx->ws = ws;
  pthread_mutex_unlock(&fx->mu);
}

static int setup_q(void **state, size_t max_queued) {
  fixture *fx = calloc(1, sizeof *fx);
  pthread_mutex_init(&fx->mu, NULL);
  fx->max_queued = max_queued;
  http_server_options o;
  memset(&o, 0, sizeof o);
  o.listen = "127.0.0.1:0";
  o.n_threads = 1;
  o.stop_timeout_ms = 3000;
  o.handler = handler;
  o.user = fx;
  if (http_server_new(&o, &fx->srv) < 0) return -1;
  fx->port = http_server_port(fx->srv);
  if (http_server_start(fx->srv) < 0) return -1;
  *state = fx;
  return 0;
}
static int setup(void **state) { return setup_q(state, 0); }
static int setup_tiny_queue(void **state) { return setup_q(state, 64); }

static int teardown(void **state) {
  fixture *fx = *state;
  http_server_free(fx->srv);
  if (fx->ws) http_ws_release(fx->ws);
  pthread_mutex_destroy(&fx->mu);
  free(fx);
  return 0;
}

/* ---- client ---- */

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_all(int fd, const void *p, size_t n) {
  const char *s = p;
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

static void recv_exact(int fd, void *p, size_t n) {
  char *s = p;
  while (n) {
    ssize_t r = recv(fd, s, n, 0);
    assert_true(r > 0);
    s += r;
    n -= (size_t)r;
  }
}

#define HANDSHAKE                                                                                  \
  "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"     \
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* Read the response head (up to the blank line) into head. */
static void read_head(int fd, char *head, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    recv_exact(fd, head + n, 1);
    n++;
    if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) break;
  }
  head[n] = 0;
}

/* A masked client frame. */
static size_t frame(uint8_t *out, int opcode, const void *payload, size_t len) {
  static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  size_t o = 0;
  out[o++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    out[o++] = (uint8_t)(0x80 | len);
  } else {
    out[o++] = 0x80 | 126;
    out[o++] = (uint8_t)(len >> 8);
    out[o++] = (uint8_t)len;
  }
  memcpy(out + o, mask, 4);
  o += 4;
  for (size_t i = 0; i < len; i++) out[o + i] = ((const uint8_t *)payload)[i] ^ mask[i % 4];
  return o + len;
}

/* Read one server frame: opcode returned, payload into buf (NUL-terminated). */
static int read_frame(int fd, char *buf, size_t cap, size_t *len) {
  uint8_t h[2];
  recv_exact(fd, h, 2);
  assert_int_equal(h[1] & 0x80, 0); /* server frames are not masked */
  size_t n = h[1] & 0x7f;
  if (n == 126) {
    uint8_t e[2];
    recv_exact(fd, e, 2);
    n = (size_t)e[0] << 8 | e[1];
  }
  assert_true(n < cap);
  recv_exact(fd, buf, n);
  buf[n] = 0;
  *len = n;
  return h[0] & 0x0f;
}

static int open_ws(fixture *fx, const void *extra, size_t extra_len) {
  int fd = connect_to(fx->port);
  char req[1024];
  memcpy(req, HANDSHAKE, sizeof HANDSHAKE - 1);
  if (extra_len) memcpy(req + sizeof HANDSHAKE - 1, extra, extra_len);
  send_all(fd, req, sizeof HANDSHAKE - 1 + extra_len);
  char head[1024];
  read_head(fd, head, sizeof head);
  assert_non_null(strstr(head, "HTTP/1.1 101 "));
  assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  return fd;
}

static http_ws *current(fixture *fx) {
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&fx->mu);
    http_ws *ws = fx->ws;
    pthread_mutex_unlock(&fx->mu);
    if (ws) return ws;
    sleep_ms(5);
  }
  return NULL;
}

static int peer_closed(int fd) {
  char c;
  return recv(fd, &c, 1, 0) == 0;
}

/* ---- tests ---- */

static void test_ws_accept_key_rfc_example(void **state) {
  (void)state;
  char out[32];
  assert_int_equal(http_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(http_ws_accept_key("x", out, 10), LOOM_EINVAL);
}

static int check_raw(const char *raw) {
  http_req *r;
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &r), 0);
  int rc = http_ws_check(r);
  http_req_free(r);
  return rc;
}

static void test_ws_check_rejects_bad_upgrades(void **state) {
  (void)state;
  assert_int_equal(check_raw(HANDSHAKE), 0);
  assert_int_equal(check_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), LOOM_EINVAL);
  assert_int_equal(check_raw("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"),
                   LOOM_EINVAL);
  assert_int_equal(check_raw("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                   LOOM_EINVAL);
  assert_int_equal(check_raw("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                   LOOM_EINVAL);
  assert_int_equal(check_raw("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                             "Content-Length: 0\r\n\r\n"),
                   LOOM_EINVAL);
}

static void test_ws_plain_get_is_not_upgraded(void **state) {
  fixture *fx = *state;
  int fd = connect_to(fx->port);
  const char *r = "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
  send_all(fd, r, strlen(r));
  char head[1024];
  read_head(fd, head, sizeof head);
  assert_non_null(strstr(head, "HTTP/1.1 400 "));
  close(fd);
}

static void test_ws_echo_with_frame_in_handshake_packet(void **state) {
  fixture *fx = *state;
  uint8_t f[64];
  size_t n = frame(f, 1, "hello", 5);
  int fd = open_ws(fx, f, n);
  char buf[256];
  size_t len;
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 1);
  assert_string_equal(buf, "hello");
  n = frame(f, 1, "again", 5);
  send_all(fd, f, n);
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 1);
  assert_string_equal(buf, "again");
  close(fd);
}

static void test_ws_ping_gets_pong(void **state) {
  fixture *fx = *state;
  int fd = open_ws(fx, NULL, 0);
  uint8_t f[64];
  size_t n = frame(f, 9, "pp", 2);
  send_all(fd, f, n);
  char buf[64];
  size_t len;
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 10);
  assert_string_equal(buf, "pp");
  close(fd);
}

static void test_ws_too_big_message_closes_1009(void **state) {
  fixture *fx = *state;
  int fd = open_ws(fx, NULL, 0);
  static uint8_t big[2000], f[2100];
  memset(big, 'a', sizeof big);
  size_t n = frame(f, 1, big, 1500);
  send_all(fd, f, n);
  char buf[256];
  size_t len;
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 8);
  assert_true(len >= 2);
  assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 1009);
  close(fd);
}

static void test_ws_close_handshake(void **state) {
  fixture *fx = *state;
  int fd = open_ws(fx, NULL, 0);
  uint8_t f[64], code[2] = {0x03, 0xe8};
  size_t n = frame(f, 8, code, 2);
  send_all(fd, f, n);
  char buf[64];
  size_t len;
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 8);
  assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 1000);
  assert_true(peer_closed(fd));
  for (int i = 0; i < 200 && !atomic_load(&fx->closed); i++) sleep_ms(5);
  assert_int_equal(atomic_load(&fx->closed), 1);
  assert_int_equal(http_ws_send_text(current(fx), "x", 1), LOOM_ECLOSED);
  close(fd);
}

static void test_ws_send_and_close_from_another_thread(void **state) {
  fixture *fx = *state;
  int fd = open_ws(fx, NULL, 0);
  http_ws *ws = current(fx);
  assert_non_null(ws);
  assert_int_equal(http_ws_send_text(ws, "from a thread", 13), 0);
  char buf[256];
  size_t len;
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 1);
  assert_string_equal(buf, "from a thread");
  assert_int_equal(http_ws_send_text(ws, "last", 4), 0);
  http_ws_close(ws, HTTP_WS_POLICY, "token revoked");
  assert_true(http_ws_closed(ws));
  assert_int_equal(http_ws_send_text(ws, "after", 5), LOOM_ECLOSED);
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 1); /* queued before the close */
  assert_string_equal(buf, "last");
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 8);
  assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 1008);
  assert_string_equal(buf + 2, "token revoked");
  close(fd);
}

static void test_ws_bounded_queue_refuses(void **state) {
  fixture *fx = *state; /* max_queued 64 bytes */
  int fd = open_ws(fx, NULL, 0);
  http_ws *ws = current(fx);
  char msg[40];
  memset(msg, 'q', sizeof msg);
  int rc = 0, sent = 0;
  for (int i = 0; i < 10 && rc == 0; i++)
    if ((rc = http_ws_send_text(ws, msg, sizeof msg)) == 0) sent++;
  assert_int_equal(rc, LOOM_EAGAIN);
  assert_true(sent >= 1 && sent <= 2);
  close(fd);
}

static void test_ws_server_stop_closes_1001(void **state) {
  fixture *fx = *state;
  int fd = open_ws(fx, NULL, 0);
  assert_non_null(current(fx));
  http_server_stop(fx->srv); /* waits for the close handshake or ws.c's 2 s deadline */
  char buf[64];
  size_t len;
  assert_int_equal(read_frame(fd, buf, sizeof buf, &len), 8);
  assert_int_equal((uint8_t)buf[0] << 8 | (uint8_t)buf[1], 1001);
  assert_int_equal(atomic_load(&fx->closed), 1);
  close(fd);
}

static void test_http_half_closed_deferred_request_is_gone(void **state) {
  fixture *fx = *state;
  int fd = connect_to(fx->port);
  const char *r = "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n";
  send_all(fd, r, strlen(r));
  sleep_ms(50);
  shutdown(fd, SHUT_WR);
  for (int i = 0; i < 200 && !atomic_load(&fx->poll_gone); i++) sleep_ms(10);
  assert_int_equal(atomic_load(&fx->poll_gone), 1);
  close(fd);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* as the daemon does (server.h) */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ws_accept_key_rfc_example),
      cmocka_unit_test(test_ws_check_rejects_bad_upgrades),
      cmocka_unit_test_setup_teardown(test_ws_plain_get_is_not_upgraded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ws_echo_with_frame_in_handshake_packet, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ws_ping_gets_pong, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ws_too_big_message_closes_1009, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ws_close_handshake, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ws_send_and_close_from_another_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ws_bounded_queue_refuses, setup_tiny_queue, teardown),
      cmocka_unit_test_setup_teardown(test_ws_server_stop_closes_1001, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_half_closed_deferred_request_is_gone, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
