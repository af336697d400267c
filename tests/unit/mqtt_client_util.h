/* SPDX-License-Identifier: Apache-2.0
 * A tiny blocking MQTT test client over a TCP socket, built on mqtt/codec:
 * connect/send/receive one packet with a timeout. For broker unit tests
 * only (cmocka asserts on failure). Every function is static inline so a
 * test file uses only what it needs.
 */
#ifndef LOOM_TESTS_MQTT_CLIENT_UTIL_H
#define LOOM_TESTS_MQTT_CLIENT_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "mqtt/codec.h"

typedef struct tc {
  int fd;
  uint8_t level;
  loom_buf rx;     /* bytes received, not yet returned */
  loom_buf pkt;    /* the last packet returned (views in pk point here) */
  mqtt_packet pk;
} tc;

static inline int tc_open(tc *c, int port, uint8_t level) {
  memset(c, 0, sizeof(*c));
  c->level = level;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return 0;
}

static inline void tc_close(tc *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  loom_buf_deinit(&c->rx);
  loom_buf_deinit(&c->pkt);
}

static inline int tc_send_raw(tc *c, const void *p, size_t n) {
  const uint8_t *q = p;
  while (n) {
    ssize_t w = send(c->fd, q, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    q += w;
    n -= (size_t)w;
  }
  return 0;
}

static inline int tc_send(tc *c, const mqtt_packet *pk) {
  loom_buf b;
  loom_buf_init(&b);
  int rc = mqtt_encode(&b, pk, c->level);
  if (!rc) rc = tc_send_raw(c, b.data, b.len);
  loom_buf_deinit(&b);
  return rc;
}

/* Receive one packet within timeout_ms: 0 with c->pk, -1 on timeout,
 * -2 when the peer closed, -3 on a decode error. */
static inline int tc_recv(tc *c, int timeout_ms) {
  for (;;) {
    size_t plen = 0;
    if (c->rx.len && mqtt_frame(c->rx.data, c->rx.len, 0, &plen, NULL) == 0) {
      loom_buf_reset(&c->pkt);
      loom_buf_append(&c->pkt, c->rx.data, plen);
      memmove(c->rx.data, c->rx.data + plen, c->rx.len - plen);
      c->rx.len -= plen;
      memset(&c->pk, 0, sizeof(c->pk));
      if (mqtt_decode(c->pkt.data, plen, c->level, &c->pk, NULL) != 0) return -3;
      return 0;
    }
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    int r = poll(&pf, 1, timeout_ms);
    if (r == 0) return -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    uint8_t tmp[65536];
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return -2;
    loom_buf_append(&c->rx, tmp, (size_t)n);
  }
}

/* Receive, skipping packets of other types (none skipped if type 0). */
static inline int tc_expect(tc *c, uint8_t type, int timeout_ms) {
  for (;;) {
    int rc = tc_recv(c, timeout_ms);
    if (rc) return rc;
    if (!type || c->pk.type == type) return 0;
  }
}

/* True when the peer closes within timeout_ms (packets before it skipped). */
static inline bool tc_wait_closed(tc *c, int timeout_ms) {
  for (;;) {
    int rc = tc_recv(c, timeout_ms);
    if (rc == -2) return true;
    if (rc == -1) return false;
  }
}

/* CONNECT; returns the CONNACK reason (or a negative tc_recv code). */
static inline int tc_connect_ex(tc *c, const char *id, bool clean, uint16_t keepalive,
                                const uint8_t *props, size_t props_len, const mqtt_packet *will) {
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  if (will) pk = *will;
  pk.type = MQTT_CONNECT;
  pk.level = c->level;
  pk.clean_start = clean;
  pk.keep_alive = keepalive;
  pk.client_id.p = (const uint8_t *)id;
  pk.client_id.len = strlen(id);
  pk.props.p = props;
  pk.props.len = props_len;
  if (tc_send(c, &pk)) return -2;
  int rc = tc_expect(c, MQTT_CONNACK, 3000);
  if (rc) return rc;
  return c->pk.reason;
}

static inline int tc_connect(tc *c, int port, uint8_t level, const char *id, bool clean) {
  if (tc_open(c, port, level)) return -2;
  return tc_connect_ex(c, id, clean, 60, NULL, 0, NULL);
}

static inline int tc_subscribe_ex(tc *c, uint16_t pid, const char *filter, uint8_t options,
                                  const uint8_t *props, size_t props_len) {
  mqtt_sub s = {.filter = {(const uint8_t *)filter, strlen(filter)}, .options = options};
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_SUBSCRIBE;
  pk.packet_id = pid;
  pk.subs = &s;
  pk.n_subs = 1;
  pk.props.p = props;
  pk.props.len = props_len;
  if (tc_send(c, &pk)) return -2;
  int rc = tc_expect(c, MQTT_SUBACK, 3000);
  if (rc) return rc;
  return c->pk.list.len ? c->pk.list.p[0] : -3;
}

static inline int tc_subscribe(tc *c, const char *filter, uint8_t qos) {
  return tc_subscribe_ex(c, 1, filter, qos, NULL, 0);
}

static inline int tc_publish_ex(tc *c, const char *topic, const char *payload, uint8_t qos,
                                bool retain, uint16_t pid, const uint8_t *props,
                                size_t props_len) {
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_PUBLISH;
  pk.topic.p = (const uint8_t *)topic;
  pk.topic.len = strlen(topic);
  pk.payload.p = (const uint8_t *)payload;
  pk.payload.len = strlen(payload);
  pk.qos = qos;
  pk.retain = retain;
  pk.packet_id = qos ? pid : 0;
  pk.props.p = props;
  pk.props.len = props_len;
  return tc_send(c, &pk);
}

static inline int tc_publish(tc *c, const char *topic, const char *payload, uint8_t qos,
                             bool retain) {
  return tc_publish_ex(c, topic, payload, qos, retain, 1, NULL, 0);
}

static inline int tc_ack(tc *c, uint8_t type, uint16_t pid) {
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = type;
  pk.packet_id = pid;
  return tc_send(c, &pk);
}

/* The last packet's payload equals s. */
static inline bool tc_payload_is(const tc *c, const char *s) {
  return c->pk.payload.len == strlen(s) && memcmp(c->pk.payload.p, s, c->pk.payload.len) == 0;
}

static inline bool tc_topic_is(const tc *c, const char *s) {
  return c->pk.topic.len == strlen(s) && memcmp(c->pk.topic.p, s, c->pk.topic.len) == 0;
}

#endif
