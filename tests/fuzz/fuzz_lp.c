/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for ingest/lp. The first input byte picks the precision,
 * the rest is a line protocol body. Checks that parsing never crashes or
 * leaks and that the results keep their invariants: every point has a field,
 * tags are strictly sorted, the series key starts with the escaped
 * measurement, and parsing "<series key> f=1" gives the same key back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "ingest/lp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)      \
  do {                \
    if (!(c)) abort(); \
  } while (0)

static int cmp_key(const lp_tag *a, const lp_tag *b) {
  size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
  int c = memcmp(a->key, b->key, n);
  if (c) return c;
  return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* The series key must begin with the measurement escaped (',' and ' '). */
static void check_measurement_prefix(const lp_point *p) {
  size_t o = 0;
  for (uint32_t k = 0; k < p->measurement_len; k++) {
    char c = p->measurement[k];
    if (c == ',' || c == ' ') {
      CHECK(o < p->series_key_len && p->series_key[o] == '\\');
      o++;
    }
    CHECK(o < p->series_key_len && p->series_key[o] == c);
    o++;
  }
  CHECK(o == p->series_key_len || p->series_key[o] == ',');
}

static void check_round_trip(const lp_point *p) {
  size_t n = p->series_key_len + 4;
  char *line = malloc(n);
  CHECK(line);
  memcpy(line, p->series_key, p->series_key_len);
  memcpy(line + p->series_key_len, " f=1", 4);
  lp_batch b;
  lp_batch_init(&b);
  int rc = lp_parse(&b, line, n, 1, 0);
  CHECK(rc == 0 || rc == LOOM_ENOMEM);
  if (rc == 0 && p->series_key_len + 5 <= LP_MAX_KEY_LEN) {
    CHECK(b.n_points == 1);
    const lp_point *q = &b.points[0];
    CHECK(q->series_key_len == p->series_key_len);
    CHECK(!memcmp(q->series_key, p->series_key, p->series_key_len));
    CHECK(q->measurement_len == p->measurement_len);
    CHECK(!memcmp(q->measurement, p->measurement, p->measurement_len));
    CHECK(q->n_tags == p->n_tags);
    for (uint32_t k = 0; k < p->n_tags; k++) {
      CHECK(q->tags[k].key_len == p->tags[k].key_len && q->tags[k].val_len == p->tags[k].val_len);
      CHECK(!memcmp(q->tags[k].key, p->tags[k].key, p->tags[k].key_len));
      CHECK(!memcmp(q->tags[k].val, p->tags[k].val, p->tags[k].val_len));
    }
  }
  lp_batch_deinit(&b);
  free(line);
}

static void check_batch(const lp_batch *b, size_t len) {
  CHECK(b->n_errors <= LP_MAX_ERRORS);
  CHECK(b->n_errors == b->n_errors_total || b->n_errors == LP_MAX_ERRORS);
  CHECK((uint64_t)b->n_points + b->n_errors_total <= len / 2 + 1);
  uint32_t last_line = 0;
  for (uint32_t i = 0; i < b->n_points; i++) {
    const lp_point *p = &b->points[i];
    CHECK(p->n_fields >= 1);
    CHECK(p->measurement_len >= 1);
    CHECK(p->series_key_len <= LP_MAX_KEY_LEN);
    CHECK(p->line > last_line);
    last_line = p->line;
    for (uint32_t k = 0; k < p->n_tags; k++) {
      CHECK(p->tags[k].key_len >= 1 && p->tags[k].val_len >= 1);
      if (k) CHECK(cmp_key(&p->tags[k - 1], &p->tags[k]) < 0);
    }
    for (uint32_t k = 0; k < p->n_fields; k++) {
      const lp_field *f = &p->fields[k];
      CHECK(f->key_len >= 1);
      CHECK(f->type >= TS_FLOAT && f->type <= TS_STRING);
      if (f->type == TS_FLOAT) CHECK(f->v.f == f->v.f && f->v.f - f->v.f == 0); /* finite */
      for (uint32_t j = 0; j < k; j++)
        CHECK(!(p->fields[j].key_len == f->key_len && !memcmp(p->fields[j].key, f->key, f->key_len)));
    }
    check_measurement_prefix(p);
    if (i < 8) check_round_trip(p);
  }
  for (uint32_t i = 0; i < b->n_errors; i++) {
    CHECK(memchr(b->errors[i].msg, 0, sizeof b->errors[i].msg) != NULL);
    CHECK(!strncmp(b->errors[i].msg, "unable to parse '", 17));
    CHECK(b->errors[i].line >= 1);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int64_t precs[] = {1, 1000, 1000000, 1000000000, INT64_C(60000000000),
                                  INT64_C(3600000000000)};
  if (size < 1) return 0;
  int64_t prec = precs[data[0] % 6];
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  lp_batch b;
  lp_batch_init(&b);
  for (int round = 0; round < 2; round++) { /* the second round reuses memory */
    lp_batch_reset(&b);
    int rc = lp_parse(&b, body, len, prec, INT64_C(1700000000123456789));
    CHECK(rc == 0);
    check_batch(&b, len);
  }
  lp_batch_deinit(&b);
  return 0;
}
