/* SPDX-License-Identifier: Apache-2.0
 * MQTT over WebSocket transport (see mqtt/ws_transport.h). A small push
 * parser for RFC 6455 client frames: the header (2..14 bytes) is gathered,
 * then binary payloads are unmasked and handed on in chunks as they arrive
 * (never buffered whole), control payloads (<= 125 bytes) are gathered and
 * acted on. wslay's frame API is pull-based (it reads through a callback),
 * so a hand parser fits the transport's push model better.
 */
#include "mqtt/ws_transport.h"

#include <string.h>

#include "core/err.h"
#include "core/mem.h"

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
enum { IN_HEADER = 0, IN_PAYLOAD = 1 };

typedef struct ws_transport {
  http_transport base;    /* first: the http_transport the broker holds */
  int state;              /* IN_HEADER or IN_PAYLOAD */
  uint8_t hdr[14];        /* header bytes gathered so far */
  size_t hdr_len;
  uint8_t opcode;         /* of the current frame */
  bool fin;
  uint8_t mask[4];
  uint64_t left;          /* payload bytes of the current frame still to come */
  uint64_t pos;           /* payload bytes of the current frame seen (mask index) */
  bool in_message;        /* a fragmented binary message awaits continuations */
  uint8_t ctl[125];       /* control frame payload */
  size_t ctl_len;
  bool close_sent;
  int err;                /* sticky result once the connection is ending */
} ws_transport;

size_t mqtt_ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t len) {
  out[0] = (uint8_t)(0x80u | (opcode & 0x0Fu));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xFFFFu) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

static int write_frame(ws_transport *t, uint8_t opcode, const uint8_t *p, size_t len) {
  uint8_t h[10];
  size_t hl = mqtt_ws_frame_header(h, opcode, len);
  int rc = t->base.sink.wire_write(t->base.sink.conn, (const char *)h, hl);
  if (rc == 0 && len) rc = t->base.sink.wire_write(t->base.sink.conn, (const char *)p, len);
  return rc;
}

static int send_close(ws_transport *t, uint16_t code, const char *reason, size_t reason_len) {
  if (t->close_sent) return 0;
  t->close_sent = true;
  uint8_t body[125];
  size_t n = 0;
  if (code) {
    if (reason_len > 123) reason_len = 123;
    body[0] = (uint8_t)(code >> 8);
    body[1] = (uint8_t)code;
    if (reason_len) memcpy(body + 2, reason, reason_len);
    n = 2 + reason_len;
  }
  return write_frame(t, OP_CLOSE, body, n);
}

/* The connection ends with rc after a close frame with code. */
static int fail(ws_transport *t, uint16_t code, const char *reason, int rc) {
  (void)send_close(t, code, reason, strlen(reason));
  t->err = rc;
  return rc;
}

static bool close_code_ok(uint16_t c) {
  if (c >= 3000 && c <= 4999) return true;
  return c >= 1000 && c <= 1014 && c != 1004 && c != 1005 && c != 1006;
}

static int on_control(ws_transport *t) {
  switch (t->opcode) {
  case OP_PING: {
    int rc = t->close_sent ? 0 : write_frame(t, OP_PONG, t->ctl, t->ctl_len);
    if (rc) t->err = rc;
    return rc;
  }
  case OP_PONG:
    return 0;
  default: { /* OP_CLOSE */
    if (t->ctl_len == 1)
      return fail(t, MQTT_WS_CLOSE_PROTOCOL, "bad close payload", LOOM_EINVAL);
    uint16_t code = 0;
    if (t->ctl_len >= 2) {
      code = (uint16_t)(t->ctl[0] << 8 | t->ctl[1]);
      if (!close_code_ok(code))
        return fail(t, MQTT_WS_CLOSE_PROTOCOL, "bad close code", LOOM_EINVAL);
    }
    int rc = send_close(t, code, "", 0);
    t->err = rc ? rc : LOOM_ECLOSED;
    return t->err;
  }
  }
}

/* The header is complete: validate it and set up the payload. */
static int header_done(ws_transport *t) {
  const uint8_t *h = t->hdr;
  size_t ext = (h[1] & 0x7Fu) == 126 ? 2 : (h[1] & 0x7Fu) == 127 ? 8 : 0;
  uint64_t len = h[1] & 0x7Fu;
  if (ext == 2) {
    len = (uint64_t)h[2] << 8 | h[3];
    if (len < 126) return fail(t, MQTT_WS_CLOSE_PROTOCOL, "non-minimal length", LOOM_EINVAL);
  } else if (ext == 8) {
    len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
    if (len >> 63) return fail(t, MQTT_WS_CLOSE_PROTOCOL, "length too large", LOOM_EINVAL);
    if (len <= 0xFFFFu) return fail(t, MQTT_WS_CLOSE_PROTOCOL, "non-minimal length", LOOM_EINVAL);
  }
  memcpy(t->mask, h + 2 + ext, 4);
  t->fin = (h[0] & 0x80u) != 0;
  t->opcode = h[0] & 0x0Fu;
  t->left = len;
  t->pos = 0;
  t->ctl_len = 0;
  if (t->opcode & 0x08u) {
    if (t->opcode != OP_CLOSE && t->opcode != OP_PING && t->opcode != OP_PONG)
      return fail(t, MQTT_WS_CLOSE_PROTOCOL, "reserved opcode", LOOM_EINVAL);
    if (!t->fin) return fail(t, MQTT_WS_CLOSE_PROTOCOL, "fragmented control frame", LOOM_EINVAL);
    if (len > 125) return fail(t, MQTT_WS_CLOSE_PROTOCOL, "control frame too long", LOOM_EINVAL);
  } else if (t->opcode == OP_TEXT) {
    return fail(t, MQTT_WS_CLOSE_UNSUPPORTED, "MQTT needs binary frames", LOOM_EUNSUP);
  } else if (t->opcode == OP_BINARY) {
    if (t->in_message)
      return fail(t, MQTT_WS_CLOSE_PROTOCOL, "new message inside a fragmented one", LOOM_EINVAL);
    t->in_message = !t->fin;
  } else if (t->opcode == OP_CONT) {
    if (!t->in_message)
      return fail(t, MQTT_WS_CLOSE_PROTOCOL, "continuation without a message", LOOM_EINVAL);
    t->in_message = !t->fin;
  } else {
    return fail(t, MQTT_WS_CLOSE_PROTOCOL, "reserved opcode", LOOM_EINVAL);
  }
  t->state = IN_PAYLOAD;
  return 0;
}

/* Consume up to n payload bytes of the current frame; *used set. */
static int payload(ws_transport *t, const uint8_t *p, size_t n, size_t *used) {
  size_t k = t->left < n ? (size_t)t->left : n;
  *used = k;
  if (t->opcode & 0x08u) {
    for (size_t i = 0; i < k; i++) t->ctl[t->ctl_len++] = p[i] ^ t->mask[(t->pos + i) & 3u];
  } else if (!t->close_sent) {
    uint8_t buf[4096];
    size_t done = 0;
    while (done < k) {
      size_t m = k - done < sizeof(buf) ? k - done : sizeof(buf);
      for (size_t i = 0; i < m; i++) buf[i] = p[done + i] ^ t->mask[(t->pos + done + i) & 3u];
      int rc = t->base.sink.deliver(t->base.sink.conn, (const char *)buf, m);
      if (rc) {
        t->err = rc;
        return rc;
      }
      done += m;
    }
  }
  t->pos += k;
  t->left -= k;
  return 0;
}

static int ws_recv(http_transport *base, const char *data, size_t len) {
  ws_transport *t = (ws_transport *)base;
  const uint8_t *p = (const uint8_t *)data;
  if (t->err) return t->err;
  while (len > 0 || (t->state == IN_PAYLOAD && t->left == 0)) {
    if (t->state == IN_HEADER) {
      t->hdr[t->hdr_len++] = *p++;
      len--;
      if (t->hdr_len == 1) {
        if (t->hdr[0] & 0x70u) return fail(t, MQTT_WS_CLOSE_PROTOCOL, "reserved bits set", LOOM_EINVAL);
        continue;
      }
      if (t->hdr_len == 2 && !(t->hdr[1] & 0x80u))
        return fail(t, MQTT_WS_CLOSE_PROTOCOL, "client frame not masked", LOOM_EINVAL);
      size_t l7 = t->hdr[1] & 0x7Fu;
      size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + 4;
      if (t->hdr_len < need) continue;
      int rc = header_done(t);
      if (rc) return rc;
      t->hdr_len = 0;
      continue;
    }
    size_t used = 0;
    if (t->left) {
      int rc = payload(t, p, len, &used);
      if (rc) return rc;
      p += used;
      len -= used;
    }
    if (t->left == 0) {
      t->state = IN_HEADER;
      if (t->opcode & 0x08u) {
        int rc = on_control(t);
        if (rc) return rc;
      }
    }
  }
  return 0;
}

static int ws_send(http_transport *base, const char *data, size_t len) {
  ws_transport *t = (ws_transport *)base;
  if (t->close_sent) return LOOM_ECLOSED;
  if (len == 0) return 0;
  return write_frame(t, OP_BINARY, (const uint8_t *)data, len);
}

static void ws_free(http_transport *base) { loom_free(base); }

static const http_transport_ops ws_ops = {ws_recv, ws_send, ws_free};

int mqtt_ws_transport_new(const http_transport_sink *sink, http_transport **out) {
  if (!sink || !out || !sink->deliver || !sink->wire_write) return LOOM_EINVAL;
  ws_transport *t = loom_calloc(1, sizeof(*t));
  if (!t) return LOOM_ENOMEM;
  t->base.ops = &ws_ops;
  t->base.sink = *sink;
  *out = &t->base;
  return 0;
}

int mqtt_ws_transport_close(http_transport *base, uint16_t code, const char *reason) {
  if (!base || base->ops != &ws_ops) return LOOM_EINVAL;
  ws_transport *t = (ws_transport *)base;
  return send_close(t, code, reason ? reason : "", reason ? strlen(reason) : 0);
}

bool mqtt_ws_transport_closed(const http_transport *base) {
  if (!base || base->ops != &ws_ops) return false;
  const ws_transport *t = (const ws_transport *)base;
  return t->close_sent || t->err != 0;
}
