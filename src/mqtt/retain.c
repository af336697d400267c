/* SPDX-License-Identifier: Apache-2.0
 * Retained store: see retain.h. Messages live in a dense array, indexed by
 * an open-addressing hash on the topic (FNV-1a, linear probing,
 * backward-shift deletion) for set/delete/exact lookups, and by a trie of
 * topic levels (children in per-node hash tables) for wildcard listing,
 * which then visits only the matching branches. One allocation per
 * message: header, topic, payload and properties together. Empty trie
 * nodes are freed as soon as they become empty; the trie is walked
 * iteratively where its depth is unbounded (names up to 32768 levels).
 */
#include "mqtt/retain.h"

#include <stdbool.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/kids.h"
#include "mqtt/topic.h"

struct tnode;

typedef struct rmsg {
  uint64_t hash;
  struct tnode *leaf; /* trie node holding this message */
  size_t pos; /* index in the dense array */
  mqtt_retain_msg m; /* pointers into data[] */
  uint8_t data[];
} rmsg;

/* Trie node: one topic level. */
typedef struct tnode {
  mqtt_level key; /* first: the children table holds &tnode->key */
  struct tnode *parent;
  mqtt_kids kids;
  rmsg *msg; /* message stored at exactly this topic, or NULL */
  char level[]; /* key.s points here */
} tnode;

/* Filters deeper than this are listed by a linear scan (bounds the
 * matcher's recursion). */
#define RETAIN_TRIE_MAX_FILTER_LEVELS 1024u

struct mqtt_retain {
  tnode *root;
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

/* ---- trie ---- */

static tnode *tkid(const tnode *n, uint32_t slot) { return (tnode *)n->kids.slot[slot]; }

/* Frees n and its ancestors while they hold no message and no child. */
static void tprune(mqtt_retain *r, tnode *n) {
  while (n != r->root && n->kids.n == 0 && !n->msg) {
    tnode *p = n->parent;
    mqtt_kids_remove(&p->kids, &n->key);
    mqtt_kids_deinit(&n->kids);
    loom_free(n);
    n = p;
  }
}

/* The node for a topic name, created with its path; NULL on ENOMEM (then
 * nothing was added). */
static tnode *tpath_create(mqtt_retain *r, const char *t, size_t len) {
  tnode *n = r->root;
  size_t i = 0;
  for (;;) {
    const char *sl = memchr(t + i, '/', len - i);
    size_t e = sl ? (size_t)(sl - t) : len;
    uint32_t h = mqtt_level_hash(t + i, e - i);
    tnode *k = (tnode *)mqtt_kids_get(&n->kids, t + i, e - i, h);
    if (!k) {
      k = loom_calloc(1, sizeof *k + (e - i));
      if (!k) goto fail;
      memcpy(k->level, t + i, e - i);
      k->key = (mqtt_level){h, (uint32_t)(e - i), k->level};
      k->parent = n;
      if (mqtt_kids_add(&n->kids, &k->key)) {
        loom_free(k);
        goto fail;
      }
    }
    n = k;
    if (e == len) return n;
    i = e + 1;
  }
fail:
  tprune(r, n);
  return NULL;
}

int mqtt_retain_new(size_t max_count, size_t max_bytes, mqtt_retain **out) {
  mqtt_retain *r = loom_calloc(1, sizeof *r);
  if (!r) return LOOM_ENOMEM;
  r->root = loom_calloc(1, sizeof *r->root);
  if (!r->root) {
    loom_free(r);
    return LOOM_ENOMEM;
  }
  r->max_count = max_count;
  r->max_bytes = max_bytes;
  *out = r;
  return 0;
}

void mqtt_retain_free(mqtt_retain *r) {
  if (!r) return;
  /* every trie node lies on the path of some message: pruning each
   * message's leaf frees the whole trie, without recursion */
  for (size_t i = 0; i < r->n; i++) {
    r->msgs[i]->leaf->msg = NULL;
    tprune(r, r->msgs[i]->leaf);
    loom_free(r->msgs[i]);
  }
  mqtt_kids_deinit(&r->root->kids);
  loom_free(r->root);
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
    old->leaf->msg = NULL;
    tprune(r, old->leaf);
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
    x->leaf = old->leaf;
    x->leaf->msg = x;
    x->pos = old->pos;
    r->msgs[x->pos] = x;
    r->slots[p] = x;
    loom_free(old);
    r->bytes = after;
    return 0;
  }
  tnode *leaf = tpath_create(r, m->topic, m->topic_len);
  if (!leaf) {
    loom_free(x);
    return LOOM_ENOMEM;
  }
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 32;
    rmsg **a = loom_realloc(r->msgs, nc * sizeof *a);
    if (!a) goto nomem;
    r->msgs = a;
    r->cap = nc;
  }
  if ((r->n + 1) * 2 > r->n_slots && index_grow(r)) goto nomem;
  leaf->msg = x;
  x->leaf = leaf;
  p = slot_find(r, m->topic, m->topic_len, h);
  r->slots[p] = x;
  x->pos = r->n;
  r->msgs[r->n++] = x;
  r->bytes = after;
  return 0;
nomem:
  tprune(r, leaf);
  loom_free(x);
  return LOOM_ENOMEM;
}

/* ---- listing ---- */

typedef struct tctx {
  const char *f;
  size_t len;
  mqtt_retain_each_cb cb;
  void *ud;
  const tnode *root;
} tctx;

static bool dollar_at_root(const tctx *c, const tnode *parent, const tnode *k) {
  return parent == c->root && k->key.len && k->level[0] == '$';
}

/* Calls cb for start's message and every message below it; iterative. */
static int visit_subtree(tctx *c, const tnode *start) {
  const tnode *cur = start;
  for (;;) {
    if (cur->msg) {
      int rc = c->cb(c->ud, &cur->msg->m);
      if (rc) return rc;
    }
    const tnode *nx = NULL;
    for (uint32_t i = 0; i < cur->kids.cap && !nx; i++) nx = tkid(cur, i);
    while (!nx && cur != start) {
      const tnode *p = cur->parent;
      for (uint32_t s = mqtt_kids_slot_of(&p->kids, &cur->key) + 1; s < p->kids.cap && !nx; s++)
        nx = tkid(p, s);
      if (!nx) cur = p;
    }
    if (!nx) return 0;
    cur = nx;
  }
}

/* Matches the filter level starting at pos against n's children. The
 * recursion depth is the filter's level count (bounded by the caller). */
static int twalk(tctx *c, const tnode *n, size_t pos) {
  const char *lv = c->f + pos;
  const char *sl = memchr(lv, '/', c->len - pos);
  size_t e = sl ? (size_t)(sl - c->f) : c->len, ll = e - pos;
  bool last = e == c->len;
  int rc = 0;
  if (ll == 1 && lv[0] == '#') {
    if (n != c->root && n->msg && (rc = c->cb(c->ud, &n->msg->m))) return rc;
    for (uint32_t i = 0; i < n->kids.cap; i++) {
      const tnode *k = tkid(n, i);
      if (!k || dollar_at_root(c, n, k)) continue;
      if ((rc = visit_subtree(c, k))) return rc;
    }
    return 0;
  }
  if (ll == 1 && lv[0] == '+') {
    for (uint32_t i = 0; i < n->kids.cap; i++) {
      const tnode *k = tkid(n, i);
      if (!k || dollar_at_root(c, n, k)) continue;
      if (last) rc = k->msg ? c->cb(c->ud, &k->msg->m) : 0;
      else rc = twalk(c, k, e + 1);
      if (rc) return rc;
    }
    return 0;
  }
  const tnode *k = (const tnode *)mqtt_kids_get(&n->kids, lv, ll, mqtt_level_hash(lv, ll));
  if (!k) return 0;
  if (last) return k->msg ? c->cb(c->ud, &k->msg->m) : 0;
  return twalk(c, k, e + 1);
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
  size_t levels = 1;
  for (size_t i = 0; i < len; i++) levels += filter[i] == '/';
  if (levels <= RETAIN_TRIE_MAX_FILTER_LEVELS) {
    tctx c = {filter, len, cb, ud, r->root};
    return twalk(&c, r->root, 0);
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

int mqtt_retain_each_from(mqtt_retain *r, size_t *pos, size_t max, mqtt_retain_each_cb cb,
                          void *ud) {
  if (!r || !cb || !pos) return LOOM_EINVAL;
  size_t end = r->n;
  if (max && *pos < r->n && r->n - *pos > max) end = *pos + max;
  while (*pos < end) {
    int rc = cb(ud, &r->msgs[(*pos)++]->m);
    if (rc) return rc;
  }
  return 0;
}

int mqtt_retain_each(mqtt_retain *r, mqtt_retain_each_cb cb, void *ud) {
  if (!r || !cb) return LOOM_EINVAL;
  for (size_t i = 0; i < r->n; i++) {
    int rc = cb(ud, &r->msgs[i]->m);
    if (rc) return rc;
  }
  return 0;
}
