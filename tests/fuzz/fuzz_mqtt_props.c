/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for mqtt/props.h. First byte (mod 16) picks the packet
 * type (0 = Will Properties); the rest is a property block body. A block
 * that validates must iterate to the end, and re-encoding each property
 * with mqtt_prop_append_* must give back the same bytes. Also checks the
 * UTF-8 validator never reads past its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "mqtt/props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mqtt_err err;
  mqtt_prop_it it;
  mqtt_prop pr;
  loom_buf b;
  int rc;
  if (size < 1) return 0;
  int ptype = data[0] & 15;
  const uint8_t *p = data + 1;
  size_t len = size - 1;
  (void)mqtt_utf8_check(p, len);
  if (mqtt_props_validate(p, len, ptype, &err) != 0) {
    if (err.code != LOOM_EINVAL || (err.reason != 0x81 && err.reason != 0x82) || !err.msg) abort();
    return 0;
  }
  loom_buf_init(&b);
  mqtt_prop_it_init(&it, p, len);
  while ((rc = mqtt_prop_next(&it, &pr)) == 1) {
    if (!mqtt_prop_allowed(pr.id, ptype)) abort();
    switch (pr.type) {
    case MQTT_PT_BYTE:
    case MQTT_PT_U16:
    case MQTT_PT_U32:
    case MQTT_PT_VARINT: rc = mqtt_prop_append_num(&b, pr.id, pr.num); break;
    case MQTT_PT_UTF8:
      if (mqtt_utf8_check(pr.s, pr.s_len) != 0) abort();
      /* fall through */
    case MQTT_PT_BINARY: rc = mqtt_prop_append_bytes(&b, pr.id, pr.s, pr.s_len); break;
    case MQTT_PT_PAIR: rc = mqtt_prop_append_pair(&b, pr.s, pr.s_len, pr.v, pr.v_len); break;
    default: abort();
    }
    if (rc != 0) abort();
  }
  if (rc != 0) abort();
  if (b.len != len || (len && memcmp(b.data, p, len) != 0)) abort();
  loom_buf_deinit(&b);
  return 0;
}
