/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the Sparkplug B decoder (mqtt/spb) and the host state
 * machine (mqtt/spb_host). Input: byte 0 picks the message type and device,
 * the rest is a payload. It is decoded (with the host's alias types), fed to
 * the host (one host per run, so births then DATA interact across the two
 * halves of the input), and every decoded scalar metric is re-encoded and
 * decoded again: the value must survive.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mqtt/spb.h"
#include "mqtt/spb_host.h"

static void check_reencode(const spb_metric *m) {
  if (m->kind == SPB_K_NONE || m->kind == SPB_K_JSON || m->datatype == 0 ||
      m->datatype > SPB_DT_MAX)
    return;
  spb_metric c = *m;
  c.name = "x";
  c.props_json = NULL;
  spb_payload p;
  spb_payload_init(&p);
  p.metrics = &c;
  p.n_metrics = 1;
  loom_buf b;
  loom_buf_init(&b);
  if (spb_payload_encode(&p, &b) == 0) {
    spb_payload d;
    spb_payload_init(&d);
    if (spb_payload_decode(&d, b.data, b.len, NULL, NULL) != 0 || d.n_metrics != 1) abort();
    const spb_metric *r = &d.metrics[0];
    if (r->kind != m->kind) abort();
    switch (m->kind) {
    case SPB_K_INT: case SPB_K_DATETIME: if (r->i != m->i) abort(); break;
    case SPB_K_UINT: if (r->u != m->u) abort(); break;
    case SPB_K_BOOL: if (r->b != m->b) abort(); break;
    case SPB_K_DOUBLE:
      if (m->datatype == SPB_DT_DOUBLE && memcmp(&r->d, &m->d, sizeof r->d) != 0 && m->d == m->d)
        abort();
      break;
    case SPB_K_STRING: case SPB_K_BYTES:
      if (r->s_len != m->s_len || memcmp(r->s, m->s, m->s_len) != 0) abort();
      break;
    default: break;
    }
    spb_payload_deinit(&d);
  }
  loom_buf_deinit(&b);
}

static void one(spb_host *h, uint8_t sel, const uint8_t *data, size_t size, int64_t now) {
  static const spb_msg_type types[8] = {SPB_MSG_NBIRTH, SPB_MSG_NDEATH, SPB_MSG_DBIRTH,
                                        SPB_MSG_DDEATH, SPB_MSG_NDATA,  SPB_MSG_DDATA,
                                        SPB_MSG_NCMD,   SPB_MSG_DCMD};
  spb_msg_type t = types[sel & 7];
  bool dev = t == SPB_MSG_DBIRTH || t == SPB_MSG_DDEATH || t == SPB_MSG_DDATA || t == SPB_MSG_DCMD;
  const char *device = dev ? ((sel & 8) ? "D2" : "D1") : NULL;
  spb_host_scope sc = {h, "n", device};
  spb_payload p;
  spb_payload_init(&p);
  if (spb_payload_decode(&p, data, size, spb_host_type_of, &sc) != 0) return;
  for (size_t i = 0; i < p.n_metrics; i++) check_reencode(&p.metrics[i]);
  spb_verdict v;
  if (spb_host_process(h, "n", device, t, &p, now, &v) == 0 && v.store) {
    for (size_t i = 0; i < p.n_metrics; i++) /* resolved names are readable strings */
      if (p.metrics[i].name) (void)strlen(p.metrics[i].name);
  }
  spb_payload_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  spb_host *h;
  if (spb_host_new(&h) != 0) return 0;
  /* a birth of the first half, then the second half as selected */
  size_t half = (size - 1) / 2;
  one(h, 0, data + 1, half, 0);
  one(h, data[0], data + 1 + half, size - 1 - half, 10);
  one(h, data[0], data + 1, size - 1, 20);
  spb_host_free(h);
  return 0;
}
