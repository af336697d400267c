/* SPDX-License-Identifier: Apache-2.0
 * The children of a topic-trie node, keyed by their topic level: an
 * open-addressing hash table (linear probing, backward-shift deletion) shared
 * by the subscription tree (subtree.c) and the retained store (retain.c). A
 * child node starts with an mqtt_level, which the table reads; the node's
 * owner allocates and frees the nodes themselves.
 */
#ifndef LOOM_MQTT_KIDS_H
#define LOOM_MQTT_KIDS_H

#include <stddef.h>
#include <stdint.h>

/* The key at the start of every trie node. */
typedef struct mqtt_level {
  uint32_t lh;   /* mqtt_level_hash of the level */
  uint32_t len;  /* level bytes */
  const char *s; /* the level, not NUL-terminated; owned by the node */
} mqtt_level;

typedef struct mqtt_kids {
  mqtt_level **slot; /* cap slots, NULL = free */
  uint32_t n, cap;   /* cap: 0 or a power of two; n * 2 <= cap */
} mqtt_kids;

/* FNV-1a of a level. */
uint32_t mqtt_level_hash(const char *s, size_t len);

/* The child whose level is s (len bytes, hash h), or NULL. */
mqtt_level *mqtt_kids_get(const mqtt_kids *t, const char *s, size_t len, uint32_t h);

/* Add child k (its level must not be present). 0 or LOOM_ENOMEM (t unchanged). */
int mqtt_kids_add(mqtt_kids *t, mqtt_level *k);

/* Remove child k (present); the table shrinks when mostly empty (a failed
 * shrink keeps the bigger table). */
void mqtt_kids_remove(mqtt_kids *t, mqtt_level *k);

/* The slot index of child k (present), for walking the slots after it. */
uint32_t mqtt_kids_slot_of(const mqtt_kids *t, const mqtt_level *k);

/* Free the table (not the children). */
void mqtt_kids_deinit(mqtt_kids *t);

#endif
