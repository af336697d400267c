/* SPDX-License-Identifier: Apache-2.0
 * GET /mqtt: MQTT over WebSocket on the HTTP port. The handler checks the
 * upgrade and the "mqtt" subprotocol, answers 101 and hands the socket to
 * the MQTT broker (mqtt_broker_adopt_ws), which speaks WebSocket frames
 * itself (mqtt/ws_transport.h). No authentication at the HTTP level: the
 * MQTT CONNECT authenticates.
 */
#ifndef LOOM_API_MQTT_WS_H
#define LOOM_API_MQTT_WS_H

#include "api/api.h"

/* Route handler for GET /mqtt (a PUBLIC route), on the loop thread.
 * Answers: 101 with Sec-WebSocket-Protocol "mqtt" (or "mqttv3.1" when only
 * that is offered) and the socket handed to api->mqtt; 426 without a valid
 * WebSocket upgrade; 400 when the client offers neither subprotocol; 503
 * when the broker is off (api->mqtt NULL) or out of memory. */
void api_mqtt_ws(http_req *req, loom_api *api);

#endif
