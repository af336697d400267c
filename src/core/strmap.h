/* SPDX-License-Identifier: Apache-2.0
 * A hash map from byte strings to 32-bit values: open addressing with linear
 * probing, xxHash3 hashes. Keys are not copied: the caller keeps each key's
 * bytes alive and unchanged while it is in the map. Not thread-safe; callers
 * lock.
 */
#ifndef LOOM_CORE_STRMAP_H
#define LOOM_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
  uint64_t hash; /* 0 = empty */
  const char *key;
  uint32_t key_len;
  uint32_t val;
} strmap_slot;

typedef struct strmap {
  strmap_slot *slots;
  size_t cap;   /* power of two, or 0 */
  size_t count; /* live entries */
} strmap;

void strmap_init(strmap *m);
void strmap_deinit(strmap *m);
/* Hash used by the map (exposed so callers can hash once). Never 0. */
uint64_t strmap_hash(const char *key, size_t len);
/* 0 and *val, or LOOM_ENOTFOUND. */
int strmap_get(const strmap *m, const char *key, size_t len, uint64_t hash, uint32_t *val);
/* Insert or replace. 0 or LOOM_ENOMEM. */
int strmap_put(strmap *m, const char *key, size_t len, uint64_t hash, uint32_t val);
/* Remove; 0 or LOOM_ENOTFOUND. */
int strmap_del(strmap *m, const char *key, size_t len, uint64_t hash);

#endif
