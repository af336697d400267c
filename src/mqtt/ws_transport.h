/* SPDX-License-Identifier: Apache-2.0
 * MQTT over WebSocket, server side: an http_transport (http/transport.h)
 * that turns RFC 6455 frames from the client into the MQTT byte stream and
 * MQTT bytes from the broker into frames. The broker puts it under a
 * connection adopted from the HTTP server after the /mqtt upgrade
 * (mqtt_broker_adopt_ws). Pure state machine over bytes: no socket, no
 * loop; one thread uses a transport.
 */
#ifndef LOOM_MQTT_WS_TRANSPORT_H
#define LOOM_MQTT_WS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/transport.h"

/* Close codes this transport sends (RFC 6455 section 7.4.1). */
enum {
  MQTT_WS_CLOSE_NORMAL = 1000,
  MQTT_WS_CLOSE_GOING_AWAY = 1001,
  MQTT_WS_CLOSE_PROTOCOL = 1002,
  MQTT_WS_CLOSE_UNSUPPORTED = 1003, /* a text frame: MQTT needs binary [MQTT-6.0.0-1] */
  MQTT_WS_CLOSE_POLICY = 1008
};

/* Create the transport. sink->deliver receives MQTT bytes (payloads of
 * binary frames and their continuations, unmasked, in order; an MQTT
 * packet may span frames and a frame may hold several packets
 * [MQTT-6.0.0-2..4]; deliveries are chunks, not packets); sink->wire_write
 * receives frame bytes for the socket. ops->recv takes socket bytes and
 * returns:
 *   0             all consumed;
 *   LOOM_ECLOSED  the client sent a close frame: the close reply has been
 *                 written; end the connection once it is flushed;
 *   LOOM_EINVAL   malformed input (unmasked client frame, reserved bits or
 *                 opcodes, a control frame fragmented or over 125 bytes,
 *                 non-minimal or over-long length, continuation without a
 *                 started message, a new data frame inside a fragmented
 *                 one, a bad close payload): close 1002 was written; end
 *                 the connection;
 *   LOOM_EUNSUP   a text frame: close 1003 was written; end the connection;
 *   or sink->deliver's negative code (returned as is).
 * Every later recv returns the same code. Ping is answered with pong; pong
 * is ignored. ops->send wraps the bytes in one unmasked binary frame (0 or
 * wire_write's code; LOOM_ECLOSED once a close frame was written);
 * ops->free releases it. Returns 0, LOOM_EINVAL (NULL sink or callbacks),
 * LOOM_ENOMEM. The sink is copied. */
int mqtt_ws_transport_new(const http_transport_sink *sink, http_transport **out);

/* Write a close frame with code and reason (at most 123 bytes; longer is
 * cut) unless one was already written: the broker ending the connection
 * (e.g. 1000 after DISCONNECT, 1001 at stop). Later sends fail with
 * LOOM_ECLOSED. Returns 0 or wire_write's code. t must come from
 * mqtt_ws_transport_new. */
int mqtt_ws_transport_close(http_transport *t, uint16_t code, const char *reason);

/* true once a close frame was written or received. */
bool mqtt_ws_transport_closed(const http_transport *t);

/* Encode a server frame header (FIN set, unmasked) for opcode and len
 * payload bytes into out (>= 10 bytes). Returns the header length. Pure. */
size_t mqtt_ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t len);

#endif
