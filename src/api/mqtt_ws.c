/* SPDX-License-Identifier: Apache-2.0
 * GET /mqtt (see api/mqtt_ws.h): the HTTP half of MQTT over WebSocket.
 * Picks the subprotocol, lets http/ws.c answer 101 and detach the socket,
 * then gives the descriptor and any bytes already read to the broker
 * thread. Runs on the HTTP loop thread; the broker owns the connection
 * from the hand-over on.
 */
#include "api/mqtt_ws.h"

#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "http/ws.h"
#include "mqtt/broker.h"

/* true when the comma-separated header value lists tok (case-sensitive:
 * subprotocol names are tokens compared exactly, RFC 6455 4.1). */
static bool offers(const char *v, const char *tok) {
  size_t n = strlen(tok);
  while (v && *v) {
    while (*v == ' ' || *v == '\t' || *v == ',') v++;
    size_t l = strcspn(v, ",");
    size_t e = l;
    while (e && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e == n && strncmp(v, tok, n) == 0) return true;
    v += l;
  }
  return false;
}

static void handed_over(void *user, int fd, const uint8_t *pending, size_t len, const char *peer) {
  mqtt_broker *b = user;
  int rc = mqtt_broker_adopt_ws(b, fd, pending, len, peer); /* closes fd on failure */
  if (rc < 0)
    LOOM_WARN("mqtt websocket adopt failed", "peer=%s err=\"%s\"", peer, loom_strerror(rc));
}

void api_mqtt_ws(http_req *req, loom_api *api) {
  if (http_ws_check(req) < 0) {
    http_req_add_header(req, "Upgrade", "websocket");
    api_error(req, 426, "MQTT over WebSocket needs a WebSocket upgrade (Sec-WebSocket-Version: 13)");
    return;
  }
  if (!api->mqtt) {
    api_error(req, 503, "the MQTT broker is not running");
    return;
  }
  const char *offered = http_req_header(req, "sec-websocket-protocol");
  const char *proto = offers(offered, "mqtt") ? "mqtt"
                      : offers(offered, "mqttv3.1") ? "mqttv3.1"
                                                    : NULL;
  if (!proto) {
    api_error(req, 400,
              "MQTT over WebSocket needs the subprotocol \"mqtt\" "
              "(Sec-WebSocket-Protocol: mqtt; \"mqttv3.1\" is also accepted)");
    return;
  }
  int rc = http_ws_accept_handover(req, proto, handed_over, api->mqtt);
  if (rc < 0) api_error(req, rc == LOOM_ENOMEM ? 503 : 400, "WebSocket upgrade failed");
}
