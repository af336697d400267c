/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the ThingsBoard telemetry JSON decoder (ingest/tbjson):
 * any body decodes or fails with LOOM_EINVAL/LOOM_ENOMEM and a message; a
 * decoded batch always formats as line protocol that lp_parse reads back
 * without errors, into as many points as there were groups, with the same
 * field count per point. The flat fast path (tbjson_decode_flat) gives
 * bit for bit the groups and kvs of the JSON library's path
 * (tbjson_decode_json) whenever it takes a body; the points built without
 * the text (tbjson_add_points) are the ones lp_parse reads from it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ingest/lp.h"
#include "ingest/tbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The flat path and the JSON library agree on every body the flat one takes. */
static void check_flat(const uint8_t *data, size_t size) {
  tbjson_batch f, j;
  char err[TBJSON_ERR_MAX];
  tbjson_batch_init(&f);
  tbjson_batch_init(&j);
  int fr = tbjson_decode_flat(&f, (const char *)data, size, 1700000000000000000LL);
  if (fr == 0 && (f.n_kvs || f.n_groups)) abort();
  if (fr == 1) {
    if (tbjson_decode_json(&j, (const char *)data, size, 1700000000000000000LL, err, sizeof err))
      abort();
    if (f.n_groups != j.n_groups || f.n_kvs != j.n_kvs) abort();
    for (size_t g = 0; g < f.n_groups; g++)
      if (f.groups[g].ts_ns != j.groups[g].ts_ns || f.groups[g].first != j.groups[g].first ||
          f.groups[g].n != j.groups[g].n)
        abort();
    for (size_t i = 0; i < f.n_kvs; i++) {
      const tbjson_kv *a = &f.kvs[i], *b = &j.kvs[i];
      if (a->type != b->type || a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len + 1))
        abort();
      if (a->type == TS_FLOAT && memcmp(&a->v.f, &b->v.f, sizeof a->v.f)) abort();
      if (a->type == TS_BOOL && a->v.b != b->v.b) abort();
      if (a->type == TS_STRING &&
          (a->v.s.len != b->v.s.len || memcmp(a->v.s.p, b->v.s.p, a->v.s.len + 1)))
        abort();
    }
  }
  tbjson_batch_deinit(&f);
  tbjson_batch_deinit(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_flat(data, size);
  tbjson_batch b;
  char err[TBJSON_ERR_MAX];
  tbjson_batch_init(&b);
  int rc = tbjson_decode(&b, (const char *)data, size, 1700000000000000000LL, err, sizeof err);
  if (rc) {
    if (rc != LOOM_EINVAL && rc != LOOM_ENOMEM) abort();
    if (b.n_groups || b.n_kvs) abort();
    tbjson_batch_deinit(&b);
    return 0;
  }
  loom_buf lp;
  loom_buf_init(&lp);
  if (tbjson_format_lp(&b, "m x,y", "device", "d=1 ,2", &lp)) abort();
  lp_batch pb;
  lp_batch_init(&pb);
  if (lp_parse(&pb, (const char *)lp.data, lp.len, 1, 0)) abort();
  if (pb.n_errors_total != 0 || pb.n_points != b.n_groups) abort();
  for (size_t g = 0; g < b.n_groups; g++) {
    const lp_point *p = &pb.points[g];
    if (p->ts_ns != b.groups[g].ts_ns) abort();
    /* a repeated key within one group would collapse; JSON objects have none */
    if (p->n_fields != b.groups[g].n) abort();
    for (size_t i = 0; i < p->n_fields; i++) {
      const tbjson_kv *kv = &b.kvs[b.groups[g].first + i];
      const lp_field *f = &p->fields[i];
      if (f->type != kv->type || f->key_len != kv->key_len || memcmp(f->key, kv->key, kv->key_len))
        abort();
      if (kv->type == TS_FLOAT && f->v.f != kv->v.f) abort();
      if (kv->type == TS_STRING &&
          (f->v.s.len != kv->v.s.len || memcmp(f->v.s.p, kv->v.s.p, kv->v.s.len)))
        abort();
    }
  }
  /* the points built without the text are the parsed ones */
  lp_batch bb;
  lp_batch_init(&bb);
  uint32_t line = 1;
  if (tbjson_add_points(&b, "m x,y", "device", "d=1 ,2", &line, &bb)) abort();
  if (bb.n_points != pb.n_points) abort();
  for (uint32_t i = 0; i < bb.n_points; i++) {
    const lp_point *p = &pb.points[i], *q = &bb.points[i];
    if (p->series_key_len != q->series_key_len ||
        memcmp(p->series_key, q->series_key, p->series_key_len) || p->line != q->line ||
        p->ts_ns != q->ts_ns || p->n_fields != q->n_fields || p->n_tags != q->n_tags)
      abort();
    for (uint32_t f = 0; f < p->n_fields; f++) {
      const lp_field *x = &p->fields[f], *y = &q->fields[f];
      if (x->type != y->type || x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len))
        abort();
      if (x->type == TS_STRING &&
          (x->v.s.len != y->v.s.len || memcmp(x->v.s.p, y->v.s.p, x->v.s.len)))
        abort();
      if (x->type == TS_BOOL && x->v.b != y->v.b) abort();
      if (x->type == TS_FLOAT && memcmp(&x->v.f, &y->v.f, sizeof x->v.f)) abort();
    }
  }
  lp_batch_deinit(&bb);
  lp_batch_deinit(&pb);
  loom_buf_deinit(&lp);
  tbjson_batch_deinit(&b);
  return 0;
}
