/* SPDX-License-Identifier: Apache-2.0
 * A trie node's children keyed by topic level (kids.h).
 */
#include "mqtt/kids.h"

#include <stdbool.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

uint32_t mqtt_level_hash(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
  }
  return h;
}

mqtt_level *mqtt_kids_get(const mqtt_kids *t, const char *s, size_t len, uint32_t h) {
  if (!t->n) return NULL;
  size_t mask = t->cap - 1;
  for (size_t p = h & mask;; p = (p + 1) & mask) {
    mqtt_level *k = t->slot[p];
    if (!k) return NULL;
    if (k->lh == h && k->len == len && memcmp(k->s, s, len) == 0) return k;
  }
}

static int rehash(mqtt_kids *t, uint32_t cap) {
  mqtt_level **tab = NULL;
  if (cap) {
    tab = loom_calloc(cap, sizeof *tab);
    if (!tab) return LOOM_ENOMEM;
    for (uint32_t i = 0; i < t->cap; i++) {
      mqtt_level *k = t->slot[i];
      if (!k) continue;
      size_t p = k->lh & (cap - 1);
      while (tab[p]) p = (p + 1) & (cap - 1);
      tab[p] = k;
    }
  }
  loom_free(t->slot);
  t->slot = tab;
  t->cap = cap;
  return 0;
}

int mqtt_kids_add(mqtt_kids *t, mqtt_level *k) {
  if ((t->n + 1) * 2 > t->cap && rehash(t, t->cap ? t->cap * 2 : 4)) return LOOM_ENOMEM;
  size_t mask = t->cap - 1, p = k->lh & mask;
  while (t->slot[p]) p = (p + 1) & mask;
  t->slot[p] = k;
  t->n++;
  return 0;
}

uint32_t mqtt_kids_slot_of(const mqtt_kids *t, const mqtt_level *k) {
  size_t mask = t->cap - 1, p = k->lh & mask;
  while (t->slot[p] != k) p = (p + 1) & mask;
  return (uint32_t)p;
}

void mqtt_kids_remove(mqtt_kids *t, mqtt_level *k) {
  size_t mask = t->cap - 1, p = mqtt_kids_slot_of(t, k);
  t->slot[p] = NULL;
  for (size_t q = (p + 1) & mask; t->slot[q]; q = (q + 1) & mask) {
    size_t home = t->slot[q]->lh & mask;
    bool move = (p <= q) ? (home <= p || home > q) : (home <= p && home > q);
    if (move) {
      t->slot[p] = t->slot[q];
      t->slot[q] = NULL;
      p = q;
    }
  }
  t->n--;
  if (t->n == 0) (void)rehash(t, 0);
  else if (t->cap > 16 && t->n * 8 < t->cap) (void)rehash(t, t->cap / 4);
}

void mqtt_kids_deinit(mqtt_kids *t) {
  loom_free(t->slot);
  t->slot = NULL;
  t->n = t->cap = 0;
}
