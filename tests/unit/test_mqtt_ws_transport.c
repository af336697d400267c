/* SPDX-License-Identifier: Apache-2.0
 * Tests for mqtt/ws_transport: crafted client frames (masked) carry MQTT
 * bytes across frame boundaries and several packets per frame, fed whole
 * and byte by byte; continuation frames; ping/pong; close handshake; text
 * frames close 1003; every malformed header closes 1002; send() framing
 * for all three length forms. Also the HTTP side's socket hand-over
 * (http_ws_accept_handover) with a real server: 101 with the subprotocol,
 * bytes sent with the handshake passed on, the adopted socket carrying
 * MQTT through this transport.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "http/server.h"
#include "http/ws.h"
#include "mqtt/ws_transport.h"

typedef struct peer {
  loom_buf in;   /* MQTT bytes delivered */
  loom_buf wire; /* frame bytes written */
  int deliver_rc;
} peer;

static int deliver(void *conn, const char *d, size_t n) {
  peer *p = conn;
  if (p->deliver_rc) return p->deliver_rc;
  return loom_buf_append(&p->in, d, n);
}

static int wire_write(void *conn, const char *d, size_t n) {
  peer *p = conn;
  return loom_buf_append(&p->wire, d, n);
}

typedef struct fixture {
  peer p;
  http_transport *t;
} fixture;

static int setup(void **st) {
  fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  loom_buf_init(&f->p.in);
  loom_buf_init(&f->p.wire);
  http_transport_sink sink = {&f->p, deliver, wire_write};
  assert_int_equal(mqtt_ws_transport_new(&sink, &f->t), 0);
  *st = f;
  return 0;
}

static int teardown(void **st) {
  fixture *f = *st;
  f->t->ops->free(f->t);
  loom_buf_deinit(&f->p.in);
  loom_buf_deinit(&f->p.wire);
  free(f);
  return 0;
}

/* Append a client frame: fin, opcode, masked payload (len_form forces the
 * 16- or 64-bit length form: 0 = minimal). */
static void frame(loom_buf *b, bool fin, uint8_t op, const void *payload, size_t n, int len_form,
                  bool masked) {
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  uint8_t m = masked ? 0x80 : 0;
  assert_int_equal(loom_buf_append_u8(b, (uint8_t)((fin ? 0x80 : 0) | op)), 0);
  if (len_form == 0 && n < 126) {
    loom_buf_append_u8(b, (uint8_t)(m | n));
  } else if (len_form == 16 || (len_form == 0 && n <= 0xFFFF)) {
    loom_buf_append_u8(b, m | 126);
    loom_buf_append_u8(b, (uint8_t)(n >> 8));
    loom_buf_append_u8(b, (uint8_t)n);
  } else {
    loom_buf_append_u8(b, m | 127);
    for (int i = 0; i < 8; i++) loom_buf_append_u8(b, (uint8_t)((uint64_t)n >> (56 - 8 * i)));
  }
  if (masked) loom_buf_append(b, mask, 4);
  const uint8_t *p = payload;
  for (size_t i = 0; i < n; i++) loom_buf_append_u8(b, (uint8_t)(p[i] ^ (masked ? mask[i & 3] : 0)));
}

static int recv_all(fixture *f, const loom_buf *b) {
  return f->t->ops->recv(f->t, (const char *)b->data, b->len);
}

static int recv_bytewise(fixture *f, const loom_buf *b) {
  for (size_t i = 0; i < b->len; i++) {
    int rc = f->t->ops->recv(f->t, (const char *)b->data + i, 1);
    if (rc) return rc;
  }
  return 0;
}

/* Close frame the server wrote: its code (0 if none). */
static uint16_t close_code(const peer *p) {
  assert_true(p->wire.len >= 2);
  assert_int_equal(p->wire.data[0], 0x88);
  if ((p->wire.data[1] & 0x7f) < 2) return 0;
  return (uint16_t)(p->wire.data[2] << 8 | p->wire.data[3]);
}

/* Two MQTT packets: PINGREQ and a QoS 0 PUBLISH "a/b" "hi". */
static const uint8_t two_packets[] = {0xC0, 0x00, 0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'};

static void test_several_packets_in_one_frame(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 2, two_packets, sizeof(two_packets), 0, true);
  assert_int_equal(recv_all(f, &b), 0);
  assert_int_equal(f->p.in.len, sizeof(two_packets));
  assert_memory_equal(f->p.in.data, two_packets, sizeof(two_packets));
  assert_int_equal(f->p.wire.len, 0);
  loom_buf_deinit(&b);
}

static void test_packet_spans_frames_bytewise(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  /* one packet cut over three binary messages, the middle one empty */
  frame(&b, true, 2, two_packets, 5, 0, true);
  frame(&b, true, 2, "", 0, 0, true);
  frame(&b, true, 2, two_packets + 5, sizeof(two_packets) - 5, 0, true);
  assert_int_equal(recv_bytewise(f, &b), 0);
  assert_int_equal(f->p.in.len, sizeof(two_packets));
  assert_memory_equal(f->p.in.data, two_packets, sizeof(two_packets));
  loom_buf_deinit(&b);
}

static void test_continuation_with_ping_between(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, false, 2, two_packets, 3, 0, true);
  frame(&b, true, 9, "hey", 3, 0, true); /* control frames may interleave */
  frame(&b, false, 0, two_packets + 3, 4, 0, true);
  frame(&b, true, 0, two_packets + 7, sizeof(two_packets) - 7, 0, true);
  assert_int_equal(recv_all(f, &b), 0);
  assert_memory_equal(f->p.in.data, two_packets, sizeof(two_packets));
  /* the pong echoes the ping's payload, unmasked */
  static const uint8_t pong[] = {0x8A, 0x03, 'h', 'e', 'y'};
  assert_int_equal(f->p.wire.len, sizeof(pong));
  assert_memory_equal(f->p.wire.data, pong, sizeof(pong));
  loom_buf_deinit(&b);
}

static void test_large_frame_streams(void **st) {
  fixture *f = *st;
  size_t n = 70000; /* 64-bit length form, delivered in chunks */
  uint8_t *big = malloc(n);
  assert_non_null(big);
  for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 7);
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 2, big, n, 0, true);
  assert_int_equal(f->t->ops->recv(f->t, (const char *)b.data, 1000), 0);
  assert_true(f->p.in.len > 0 && f->p.in.len < n); /* streamed, not buffered whole */
  assert_int_equal(f->t->ops->recv(f->t, (const char *)b.data + 1000, b.len - 1000), 0);
  assert_int_equal(f->p.in.len, n);
  assert_memory_equal(f->p.in.data, big, n);
  free(big);
  loom_buf_deinit(&b);
}

static void test_pong_ignored(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 10, "x", 1, 0, true);
  assert_int_equal(recv_all(f, &b), 0);
  assert_int_equal(f->p.wire.len, 0);
  assert_int_equal(f->p.in.len, 0);
  loom_buf_deinit(&b);
}

static void test_close_is_answered(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  static const uint8_t body[] = {0x03, 0xE8, 'b', 'y', 'e'}; /* 1000 "bye" */
  frame(&b, true, 8, body, sizeof(body), 0, true);
  frame(&b, true, 2, "zz", 2, 0, true); /* after close: ignored */
  assert_int_equal(recv_all(f, &b), LOOM_ECLOSED);
  assert_int_equal(close_code(&f->p), 1000);
  assert_int_equal(f->p.in.len, 0);
  assert_true(mqtt_ws_transport_closed(f->t));
  assert_int_equal(f->t->ops->send(f->t, "x", 1), LOOM_ECLOSED);
  assert_int_equal(recv_all(f, &b), LOOM_ECLOSED); /* sticky */
  loom_buf_deinit(&b);
}

static void test_empty_close_answered_empty(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 8, "", 0, 0, true);
  assert_int_equal(recv_all(f, &b), LOOM_ECLOSED);
  assert_int_equal(f->p.wire.len, 2);
  assert_int_equal(close_code(&f->p), 0);
  loom_buf_deinit(&b);
}

static void test_text_frame_closes_1003(void **st) {
  fixture *f = *st;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 1, "{}", 2, 0, true);
  assert_int_equal(recv_all(f, &b), LOOM_EUNSUP);
  assert_int_equal(close_code(&f->p), 1003);
  assert_int_equal(f->p.in.len, 0);
  loom_buf_deinit(&b);
}

/* Each malformed input closes with 1002 and LOOM_EINVAL. */
static void expect_protocol_error(const loom_buf *b) {
  fixture *f;
  assert_int_equal(setup((void **)&f), 0);
  assert_int_equal(recv_bytewise(f, b), LOOM_EINVAL);
  assert_int_equal(close_code(&f->p), 1002);
  assert_int_equal(f->t->ops->recv(f->t, "", 0), LOOM_EINVAL);
  teardown((void **)&f);
}

static void test_malformed_frames(void **st) {
  (void)st;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 2, "ab", 2, 0, false); /* unmasked */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 2 | 0x40, "ab", 2, 0, true); /* RSV1 */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 3, "ab", 2, 0, true); /* reserved data opcode */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 11, "ab", 2, 0, true); /* reserved control opcode */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, false, 9, "ab", 2, 0, true); /* fragmented ping */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  uint8_t big[126] = {0};
  frame(&b, true, 9, big, sizeof(big), 0, true); /* control over 125 */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 0, "ab", 2, 0, true); /* continuation, no message */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, false, 2, "ab", 2, 0, true);
  frame(&b, true, 2, "cd", 2, 0, true); /* new message inside a fragmented one */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 2, "ab", 2, 16, true); /* 16-bit form for 2 bytes */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 2, big, 126, 64, true); /* 64-bit form for 126 bytes */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  static const uint8_t huge[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  loom_buf_append(&b, huge, sizeof(huge)); /* 64-bit length with the top bit */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  frame(&b, true, 8, "x", 1, 0, true); /* close with 1 byte */
  expect_protocol_error(&b);
  loom_buf_reset(&b);
  static const uint8_t c1005[] = {0x03, 0xED};
  frame(&b, true, 8, c1005, 2, 0, true); /* 1005 may not be sent */
  expect_protocol_error(&b);
  loom_buf_deinit(&b);
}

static void test_send_frames(void **st) {
  fixture *f = *st;
  assert_int_equal(f->t->ops->send(f->t, "", 0), 0);
  assert_int_equal(f->p.wire.len, 0);
  assert_int_equal(f->t->ops->send(f->t, (const char *)two_packets, sizeof(two_packets)), 0);
  assert_int_equal(f->p.wire.len, 2 + sizeof(two_packets));
  assert_int_equal(f->p.wire.data[0], 0x82);
  assert_int_equal(f->p.wire.data[1], sizeof(two_packets)); /* unmasked */
  assert_memory_equal(f->p.wire.data + 2, two_packets, sizeof(two_packets));
  uint8_t h[10];
  assert_int_equal(mqtt_ws_frame_header(h, 2, 125), 2);
  assert_int_equal(mqtt_ws_frame_header(h, 2, 126), 4);
  assert_int_equal(h[1], 126);
  assert_int_equal(h[2] << 8 | h[3], 126);
  assert_int_equal(mqtt_ws_frame_header(h, 2, 65535), 4);
  assert_int_equal(mqtt_ws_frame_header(h, 2, 65536), 10);
  assert_int_equal(h[1], 127);
  assert_int_equal(h[7], 1); /* 0x0000000000010000 */
  assert_int_equal(h[8] | h[9], 0);
}

static void test_server_close(void **st) {
  fixture *f = *st;
  assert_int_equal(mqtt_ws_transport_close(f->t, 1001, "stopping"), 0);
  assert_int_equal(close_code(&f->p), 1001);
  assert_int_equal(f->p.wire.data[1], 2 + 8);
  assert_memory_equal(f->p.wire.data + 4, "stopping", 8);
  size_t n = f->p.wire.len;
  assert_int_equal(mqtt_ws_transport_close(f->t, 1000, NULL), 0); /* once only */
  assert_int_equal(f->p.wire.len, n);
  assert_int_equal(f->t->ops->send(f->t, "x", 1), LOOM_ECLOSED);
  /* the client's close reply ends it without a second close frame */
  loom_buf b;
  loom_buf_init(&b);
  static const uint8_t body[] = {0x03, 0xE9};
  frame(&b, true, 8, body, 2, 0, true);
  assert_int_equal(recv_all(f, &b), LOOM_ECLOSED);
  assert_int_equal(f->p.wire.len, n);
  loom_buf_deinit(&b);
}

static void test_deliver_error_propagates(void **st) {
  fixture *f = *st;
  f->p.deliver_rc = LOOM_ECLOSED;
  loom_buf b;
  loom_buf_init(&b);
  frame(&b, true, 2, "ab", 2, 0, true);
  assert_int_equal(recv_all(f, &b), LOOM_ECLOSED);
  assert_int_equal(f->p.wire.len, 0); /* no close frame: the connection is going anyway */
  loom_buf_deinit(&b);
}

static void test_new_rejects_bad_sink(void **st) {
  (void)st;
  http_transport *t = NULL;
  http_transport_sink sink = {NULL, NULL, wire_write};
  assert_int_equal(mqtt_ws_transport_new(&sink, &t), LOOM_EINVAL);
  assert_int_equal(mqtt_ws_transport_new(NULL, &t), LOOM_EINVAL);
  sink.deliver = deliver;
  loom_mem_fail_after(0);
  assert_int_equal(mqtt_ws_transport_new(&sink, &t), LOOM_ENOMEM);
  loom_mem_fail_after(-1);
  assert_null(t);
}

/* ---- hand-over from the HTTP server ---- */

typedef struct ho_fixture {
  http_server *srv;
  pthread_mutex_t mu;
  int fd;           /* adopted socket, -1 until the hand-over */
  loom_buf pending; /* bytes passed with it */
  char peer[64];
  atomic_int calls;
} ho_fixture;

static void handed(void *user, int fd, const uint8_t *pending, size_t len, const char *from) {
  ho_fixture *fx = user;
  pthread_mutex_lock(&fx->mu);
  fx->fd = fd;
  loom_buf_append(&fx->pending, pending, len);
  snprintf(fx->peer, sizeof(fx->peer), "%s", from);
  pthread_mutex_unlock(&fx->mu);
  atomic_fetch_add(&fx->calls, 1);
}

static void ho_handler(http_req *req, void *user) {
  const char *proto = strcmp(http_req_path(req), "/bad") == 0 ? "mq tt" : "mqtt";
  int rc = http_ws_accept_handover(req, proto, handed, user);
  if (rc < 0) http_respond_error(req, 400, "no");
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int client_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

static void read_head(int fd, char *head, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    assert_int_equal(recv(fd, head + n, 1, 0), 1);
    n++;
    if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) break;
  }
  head[n] = 0;
}

#define HANDSHAKE(path)                                                                            \
  "GET " path " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"            \
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"                 \
  "Sec-WebSocket-Protocol: mqtt\r\n\r\n"

static void test_handover_carries_mqtt(void **st) {
  (void)st;
  ho_fixture fx;
  memset(&fx, 0, sizeof(fx));
  fx.fd = -1;
  pthread_mutex_init(&fx.mu, NULL);
  loom_buf_init(&fx.pending);
  http_server_options o;
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  o.n_threads = 1;
  o.handler = ho_handler;
  o.user = &fx;
  assert_int_equal(http_server_new(&o, &fx.srv), 0);
  assert_int_equal(http_server_start(fx.srv), 0);
  int c = client_connect(http_server_port(fx.srv));
  /* the handshake and the first frame in one segment */
  loom_buf out;
  loom_buf_init(&out);
  loom_buf_append_str(&out, HANDSHAKE("/mqtt"));
  frame(&out, true, 2, two_packets, sizeof(two_packets), 0, true);
  assert_int_equal(send(c, out.data, out.len, MSG_NOSIGNAL), (ssize_t)out.len);
  char head[512];
  read_head(c, head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 101 "));
  assert_non_null(strstr(head, "\r\nSec-WebSocket-Protocol: mqtt\r\n"));
  assert_non_null(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  for (int i = 0; i < 500 && atomic_load(&fx.calls) == 0; i++) sleep_ms(10);
  assert_int_equal(atomic_load(&fx.calls), 1);
  assert_true(fx.fd >= 0);
  assert_non_null(strstr(fx.peer, "127.0.0.1:"));
  /* The adopted socket under the transport: pending bytes first, then the socket. */
  peer p;
  memset(&p, 0, sizeof(p));
  loom_buf_init(&p.in);
  loom_buf_init(&p.wire);
  http_transport_sink sink = {&p, deliver, wire_write};
  http_transport *t = NULL;
  assert_int_equal(mqtt_ws_transport_new(&sink, &t), 0);
  assert_int_equal(t->ops->recv(t, (const char *)fx.pending.data, fx.pending.len), 0);
  for (int i = 0; i < 500 && p.in.len < sizeof(two_packets); i++) {
    struct pollfd pf = {fx.fd, POLLIN, 0};
    if (poll(&pf, 1, 10) != 1) continue;
    char buf[256];
    ssize_t n = read(fx.fd, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(t->ops->recv(t, buf, (size_t)n), 0);
  }
  assert_int_equal(p.in.len, sizeof(two_packets));
  assert_memory_equal(p.in.data, two_packets, sizeof(two_packets));
  /* and back: one unmasked binary frame reaches the client */
  assert_int_equal(t->ops->send(t, "xyz", 3), 0);
  assert_int_equal(write(fx.fd, p.wire.data, p.wire.len), (ssize_t)p.wire.len);
  uint8_t got[5];
  for (size_t n = 0; n < sizeof(got);) {
    ssize_t r = recv(c, got + n, sizeof(got) - n, 0);
    assert_true(r > 0);
    n += (size_t)r;
  }
  static const uint8_t want[] = {0x82, 0x03, 'x', 'y', 'z'};
  assert_memory_equal(got, want, sizeof(want));
  /* the HTTP server let the connection go; closing the adopted fd ends it */
  http_server_stats hs;
  for (int i = 0; i < 200; i++) {
    http_server_stats_get(fx.srv, &hs);
    if (hs.conns_open == 0) break;
    sleep_ms(10);
  }
  assert_int_equal(hs.conns_open, 0);
  close(fx.fd);
  char eof;
  assert_int_equal(recv(c, &eof, 1, 0), 0);
  close(c);
  t->ops->free(t);
  loom_buf_deinit(&p.in);
  loom_buf_deinit(&p.wire);
  loom_buf_deinit(&out);
  http_server_free(fx.srv);
  loom_buf_deinit(&fx.pending);
  pthread_mutex_destroy(&fx.mu);
}

static void test_handover_bad_protocol_token(void **st) {
  (void)st;
  ho_fixture fx;
  memset(&fx, 0, sizeof(fx));
  fx.fd = -1;
  pthread_mutex_init(&fx.mu, NULL);
  loom_buf_init(&fx.pending);
  http_server_options o;
  memset(&o, 0, sizeof(o));
  o.listen = "127.0.0.1:0";
  o.n_threads = 1;
  o.handler = ho_handler;
  o.user = &fx;
  assert_int_equal(http_server_new(&o, &fx.srv), 0);
  assert_int_equal(http_server_start(fx.srv), 0);
  int c = client_connect(http_server_port(fx.srv));
  static const char hs[] = HANDSHAKE("/bad");
  assert_int_equal(send(c, hs, sizeof(hs) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(hs) - 1));
  char head[512];
  read_head(c, head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 400 "));
  assert_int_equal(atomic_load(&fx.calls), 0);
  close(c);
  http_server_free(fx.srv);
  loom_buf_deinit(&fx.pending);
  pthread_mutex_destroy(&fx.mu);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_several_packets_in_one_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_packet_spans_frames_bytewise, setup, teardown),
      cmocka_unit_test_setup_teardown(test_continuation_with_ping_between, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_frame_streams, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pong_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_is_answered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_close_answered_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_frame_closes_1003, setup, teardown),
      cmocka_unit_test(test_malformed_frames),
      cmocka_unit_test_setup_teardown(test_send_frames, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deliver_error_propagates, setup, teardown),
      cmocka_unit_test(test_new_rejects_bad_sink),
      cmocka_unit_test(test_handover_carries_mqtt),
      cmocka_unit_test(test_handover_bad_protocol_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
