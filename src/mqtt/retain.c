/* SPDX-License-Identifier: Apache-2.0
 * Retained store: see retain.h. Messages live in a dense array (for the
 * wildcard scan) indexed by an open-addressing hash on the topic (FNV-1a,
 * linear probing, backward-shift deletion). One allocation per message:
 * header, topic, payload and properties together.
 */
#include "mqtt/retain.h"

#include <stdbool.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/topic.h"

typedef struct rmsg {
  uint64_t hash;
  size_t pos; /* index in the dense array */
  mqtt_retain_msg m; /* pointers into data[] */
  uint8_t data[];
} rmsg;

struct mqtt_retain {
  rmsg **msgs;
  size_t n, cap;
  rmsg **slots; /* hash index, power-of-two size, NULL = free */
  size_t n_slots;
  size_t bytes, max_count, max_bytes;
};

static uint64_t fnv(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static size_t msg_bytes(const mqtt_retain_msg *m) {
  return m->topic_len + m->payload_len + m->props_len;
}

int mqtt_retain_new(size_t max_count, size_t max_bytes, mqtt_retain **out) {
  mqtt_retain *r = loom_calloc(1, sizeof *r);
  if (!r) return LOOM_ENOMEM;
  r->max_count = max_count;
  r->max_bytes = max_bytes;
  *out = r;
  return 0;
}

void mqtt_retain_free(mqtt_retain *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) loom_free(r->msgs[i]);
  loom_free(r->msgs);
  loom_free(r->slots);
  loom_free(r);
}

size_t mqtt_retain_count(const mqtt_retain *r) { return r->n; }
size_t mqtt_retain_bytes(const mqtt_retain *r) { return r->bytes; }

/* Slot holding topic, or the free slot where it would go. */
static size_t slot_find(const mqtt_retain *r, const char *t, size_t len,
                        uint64_t h) {
  size_t mask = r->n_slots - 1, p = (size_t)h & mask;
  while (r->slots[p]) {
    const rmsg *x = r->slots[p];
    if (x->hash == h && x->m.topic_len == len && memcmp(x->m.topic, t, len) == 0)
      return p;
    p = (p + 1) & mask;
  }
  return p;
}

static int index_grow(mqtt_retain *r) {
  size_t ns = r->n_slots ? r->n_slots * 2 : 64;
  rmsg **s = loom_calloc(ns, sizeof *s);
  if (!s) return LOOM_ENOMEM;
  for (size_t i = 0; i < r->n; i++) {
    size_t p = (size_t)r->msgs[i]->hash & (ns - 1);
    while (s[p]) p = (p + 1) & (ns - 1);
    s[p] = r->msgs[i];
  }
  loom_free(r->slots);
  r->slots = s;
  r->n_slots = ns;
  return 0;
}

static void slot_delete(mqtt_retain *r, size_t p) {
  size_t mask = r->n_slots - 1;
  r->slots[p] = NULL;
  size_t q = (p + 1) & mask;
  while (r->slots[q]) {
    size_t home = (size_t)r->slots[q]->hash & mask;
    /* move q back to p if its home is not in (p, q] cyclically */
    bool move = (p <= q) ? (home <= p || home > q) : (home <= p && home > q);
    if (move) {
      r->slots[p] = r->slots[q];
      r->slots[q] = NULL;
      p = q;
    }
    q = (q + 1) & mask;
  }
}

static rmsg *msg_make(const mqtt_retain_msg *m, uint64_t h) {
  rmsg *x = loom_malloc(sizeof *x + msg_bytes(m));
  if (!x) return NULL;
  x->hash = h;
  x->pos = 0;
  x->m = *m;
  uint8_t *d = x->data;
  memcpy(d, m->topic, m->topic_len);
  x->m.topic = (const char *)d;
  d += m->topic_len;
  if (m->payload_len) memcpy(d, m->payload, m->payload_len);
  x->m.payload = d;
  d += m->payload_len;
  if (m->props_len) memcpy(d, m->props, m->props_len);
  x->m.props = m->props_len ? d : NULL;
  return x;
}

int mqtt_retain_set(mqtt_retain *r, const mqtt_retain_msg *m) {
  if (!r || !m || m->qos > 2 || (!m->payload && m->payload_len) ||
      (!m->props && m->props_len))
    return LOOM_EINVAL;
  int rc = mqtt_topic_name_validate(m->topic, m->topic_len);
  if (rc) return rc == LOOM_ERANGE ? LOOM_EINVAL : rc;
  uint64_t h = fnv(m->topic, m->topic_len);
  size_t p = r->n_slots ? slot_find(r, m->topic, m->topic_len, h) : 0;
  rmsg *old = r->n_slots ? r->slots[p] : NULL;

  if (m->payload_len == 0) {
    if (!old) return 0;
    r->bytes -= msg_bytes(&old->m);
    slot_delete(r, p);
    r->msgs[old->pos] = r->msgs[--r->n];
    r->msgs[old->pos]->pos = old->pos;
    loom_free(old);
    return 0;
  }
  size_t nb = msg_bytes(m);
  size_t after = r->bytes - (old ? msg_bytes(&old->m) : 0) + nb;
  if (r->max_bytes && after > r->max_bytes) return LOOM_ERANGE;
  if (!old && r->max_count && r->n >= r->max_count) return LOOM_ERANGE;
  rmsg *x = msg_make(m, h);
  if (!x) return LOOM_ENOMEM;
  if (old) {
    x->pos = old->pos;
    r->msgs[x->pos] = x;
    r->slots[p] = x;
    loom_free(old);
    r->bytes = after;
    return 0;
  }
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 32;
    rmsg **a = loom_realloc(r->msgs, nc * sizeof *a);
    if (!a) { loom_free(x); return LOOM_ENOMEM; }
    r->msgs = a;
    r->cap = nc;
  }
  if ((r->n + 1) * 2 > r->n_slots) {
    if (index_grow(r)) { loom_free(x); return LOOM_ENOMEM; }
  }
  p = slot_find(r, m->topic, m->topic_len, h);
  r->slots[p] = x;
  x->pos = r->n;
  r->msgs[r->n++] = x;
  r->bytes = after;
  return 0;
}

int mqtt_retain_match(mqtt_retain *r, const char *filter, size_t len,
                      mqtt_retain_each_cb cb, void *ud) {
  if (!r || !cb) return LOOM_EINVAL;
  int rc = mqtt_topic_filter_validate(filter, len);
  if (rc) return LOOM_EINVAL;
  if (!mqtt_topic_has_wildcard(filter, len)) {
    if (!r->n_slots) return 0;
    rmsg *x = r->slots[slot_find(r, filter, len, fnv(filter, len))];
    return x ? cb(ud, &x->m) : 0;
  }
  for (size_t i = 0; i < r->n; i++) {
    const rmsg *x = r->msgs[i];
    if (mqtt_topic_matches(filter, len, x->m.topic, x->m.topic_len)) {
      rc = cb(ud, &x->m);
      if (rc) return rc;
    }
  }
  return 0;
}
