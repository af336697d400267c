/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target: MQTT over WebSocket, the server-side frame parser. The
 * input is cut into chunks (first byte of each chunk: its length) and pushed
 * through recv() as a socket would deliver it; the MQTT bytes delivered must
 * never exceed the payload bytes received, and nothing may crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "mqtt/ws_transport.h"

typedef struct sink_state {
  size_t delivered, wired;
} sink_state;

static int deliver(void *conn, const char *data, size_t len) {
  (void)data;
  ((sink_state *)conn)->delivered += len;
  return 0;
}

static int wire_write(void *conn, const char *data, size_t len) {
  (void)data;
  ((sink_state *)conn)->wired += len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sink_state st = {0, 0};
  http_transport_sink sink = {.conn = &st, .deliver = deliver, .wire_write = wire_write};
  http_transport *t = NULL;
  if (mqtt_ws_transport_new(&sink, &t)) return 0;
  size_t off = 0, fed = 0;
  while (off < size) {
    size_t n = (size_t)data[off++] % 64 + 1;
    if (n > size - off) n = size - off;
    int rc = t->ops->recv(t, (const char *)data + off, n);
    fed += n;
    off += n;
    if (rc) break;
  }
  if (st.delivered > fed) abort();
  /* the send path after whatever state the input left */
  if (!mqtt_ws_transport_closed(t)) (void)t->ops->send(t, "\x20\x02\x00\x00", 4);
  t->ops->free(t);
  return 0;
}
