/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the unified-namespace rules (mqtt/uns): the input is
 * "<rules JSON>\0<topic>\0<payload>". Rules that do not compile fall back to
 * a fixed rule set (so topics and payloads are always exercised). Compile
 * and apply must only return their documented codes; a hit must carry at
 * least one group with valid names, format as line protocol (profile as
 * measurement, device as tag) and parse back to as many points.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ingest/lp.h"
#include "mqtt/uns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed[] =
    "[{\"name\":\"lines\",\"pattern\":\"plant/+line/+machine/+metric\","
    "\"device\":\"{line}-{machine}\",\"key\":\"{metric}\"},"
    "{\"name\":\"json\",\"pattern\":\"j/+d/#rest\",\"device\":\"{d}\",\"profile\":\"p{rest}\","
    "\"payload\":\"json\",\"value\":\"data.v\",\"ts\":\"data.t\",\"key\":\"k{{{rest}}}\"},"
    "{\"name\":\"obj\",\"pattern\":\"o/+d\",\"device\":\"{d}\",\"ts\":\"t\",\"priority\":-1},"
    "{\"name\":\"plain\",\"pattern\":\"+a/+b\",\"device\":\"{b}{a}\",\"payload\":\"plain\","
    "\"priority\":9},"
    "{\"name\":\"all\",\"pattern\":\"#x\",\"device\":\"{x}\",\"priority\":10}]";

static const uint8_t *cut(const uint8_t **p, const uint8_t *end) {
  const uint8_t *s = *p;
  const uint8_t *z = memchr(s, 0, (size_t)(end - s));
  *p = z ? z + 1 : end;
  return z ? z : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data, *end = data + size;
  const uint8_t *rules_end = cut(&p, end);
  const uint8_t *topic = p, *topic_end = cut(&p, end);
  const uint8_t *payload = p;
  size_t plen = (size_t)(end - p);

  char err[256];
  uns_rules *r = NULL;
  json_error_t je;
  json_t *doc = json_loadb((const char *)data, (size_t)(rules_end - data), 0, &je);
  int rc = doc ? uns_rules_compile(doc, &r, err, sizeof err) : LOOM_EINVAL;
  json_decref(doc);
  if (rc) {
    if (rc != LOOM_EINVAL && rc != LOOM_ENOMEM) abort();
    if (r) abort();
    doc = json_loads(fixed, 0, &je);
    if (!doc || uns_rules_compile(doc, &r, err, sizeof err)) abort();
    json_decref(doc);
  }
  uns_hit h;
  rc = uns_rules_apply(r, (const char *)topic, (size_t)(topic_end - topic), payload, plen,
                       1700000000000000000LL, &h, err, sizeof err);
  if (rc == 1) {
    if (!h.rule || !h.device[0] || !h.profile[0] || h.values.n_groups == 0) abort();
    loom_buf lp;
    loom_buf_init(&lp);
    if (tbjson_format_lp(&h.values, h.profile, "device", h.device, &lp)) abort();
    lp_batch pb;
    lp_batch_init(&pb);
    if (lp_parse(&pb, (const char *)lp.data, lp.len, 1, 0)) abort();
    if (pb.n_errors_total != 0 || pb.n_points != h.values.n_groups) abort();
    for (size_t g = 0; g < h.values.n_groups; g++) {
      const lp_point *pt = &pb.points[g];
      if (pt->ts_ns != h.values.groups[g].ts_ns || pt->n_fields != h.values.groups[g].n) abort();
      for (size_t i = 0; i < pt->n_fields; i++) {
        const tbjson_kv *kv = &h.values.kvs[h.values.groups[g].first + i];
        const lp_field *f = &pt->fields[i];
        if (f->type != kv->type || f->key_len != kv->key_len ||
            memcmp(f->key, kv->key, kv->key_len))
          abort();
      }
    }
    lp_batch_deinit(&pb);
    loom_buf_deinit(&lp);
    uns_hit_deinit(&h);
  } else if (rc != 0 && rc != LOOM_EINVAL && rc != LOOM_ENOMEM) {
    abort();
  }
  uns_rules_free(r);
  return 0;
}
