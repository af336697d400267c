/* SPDX-License-Identifier: Apache-2.0
 * Open-addressing string map (see strmap.h). Deletion uses backward-shift so
 * no tombstones accumulate. Load factor kept under 0.7.
 */
#include "core/strmap.h"

#include <string.h>
#include <xxhash.h>

#include "core/err.h"
#include "core/mem.h"

void strmap_init(strmap *m) { memset(m, 0, sizeof *m); }

void strmap_deinit(strmap *m) {
  loom_free(m->slots);
  strmap_init(m);
}

uint64_t strmap_hash(const char *key, size_t len) {
  uint64_t h = XXH3_64bits(key, len);
  return h ? h : 1;
}

static size_t find(const strmap *m, const char *key, size_t len, uint64_t hash, int *found) {
  size_t mask = m->cap - 1, i = hash & mask;
  for (;;) {
    const strmap_slot *s = &m->slots[i];
    if (!s->hash) {
      *found = 0;
      return i;
    }
    if (s->hash == hash && s->key_len == len && !memcmp(s->key, key, len)) {
      *found = 1;
      return i;
    }
    i = (i + 1) & mask;
  }
}

int strmap_get(const strmap *m, const char *key, size_t len, uint64_t hash, uint32_t *val) {
  if (!m->cap) return LOOM_ENOTFOUND;
  int found;
  size_t i = find(m, key, len, hash, &found);
  if (!found) return LOOM_ENOTFOUND;
  *val = m->slots[i].val;
  return 0;
}

static int grow(strmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  strmap_slot *slots = loom_calloc(cap, sizeof *slots);
  if (!slots) return LOOM_ENOMEM;
  strmap old = *m;
  m->slots = slots;
  m->cap = cap;
  for (size_t i = 0; i < old.cap; i++) {
    if (!old.slots[i].hash) continue;
    size_t j = old.slots[i].hash & (cap - 1);
    while (slots[j].hash) j = (j + 1) & (cap - 1);
    slots[j] = old.slots[i];
  }
  loom_free(old.slots);
  return 0;
}

int strmap_put(strmap *m, const char *key, size_t len, uint64_t hash, uint32_t val) {
  if ((m->count + 1) * 10 > m->cap * 7) {
    int rc = grow(m);
    if (rc) return rc;
  }
  int found;
  size_t i = find(m, key, len, hash, &found);
  strmap_slot *s = &m->slots[i];
  if (!found) {
    s->hash = hash;
    s->key = key;
    s->key_len = (uint32_t)len;
    m->count++;
  }
  s->val = val;
  return 0;
}

int strmap_del(strmap *m, const char *key, size_t len, uint64_t hash) {
  if (!m->cap) return LOOM_ENOTFOUND;
  int found;
  size_t i = find(m, key, len, hash, &found);
  if (!found) return LOOM_ENOTFOUND;
  size_t mask = m->cap - 1, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->slots[j].hash) break;
    size_t home = m->slots[j].hash & mask;
    /* move j back into the hole at i if its home is not in (i, j] */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].hash = 0;
  m->count--;
  return 0;
}
