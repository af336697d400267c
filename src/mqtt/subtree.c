/* SPDX-License-Identifier: Apache-2.0
 * Subscription tree: see subtree.h. Each node holds its level bytes inline,
 * its literal children in a kids.h table, the '+' and '#' children apart,
 * its normal subscriptions (array) and shared groups. A per-subscriber
 * index (chained hash on the pointer) lists where each subscriber is, with its slot in the node's array, so add, remove and
 * remove_all cost O(that subscriber's subscriptions), not O(node size).
 * Empty nodes are freed bottom-up as soon as they become empty.
 */
#include "mqtt/subtree.h"

#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/kids.h"
#include "mqtt/topic.h"

typedef struct entry {
  void *sub;
  mqtt_sub_opts o;
} entry;

typedef struct group {
  char *name;
  size_t name_len;
  entry *members;
  uint32_t n, cap;
  uint32_t rr; /* next member to pick, modulo n */
} group;

typedef struct node {
  mqtt_level key; /* first: the children table holds &node->key */
  struct node *parent;
  mqtt_kids kids; /* literal levels */
  struct node *plus, *hash;
  entry *subs;
  uint32_t n_subs, cap_subs;
  group *groups;
  uint32_t n_groups, cap_groups;
  char level[]; /* key.s points here; not NUL-terminated */
} node;

typedef struct ref {
  node *n;
  uint32_t idx; /* normal: index in n->subs; shared: unused */
  bool shared;
} ref;

typedef struct subrec {
  struct subrec *next;
  void *sub;
  ref *refs;
  uint32_t n, cap;
} subrec;

struct mqtt_subtree {
  node *root; /* empty level; never pruned */
  size_t n_nodes, n_subscriptions, max_subs;
  subrec **buckets;
  size_t n_buckets, n_recs;
  mqtt_subtree_eligible_fn eligible; /* NULL = every member */
  void *eligible_ud;
};

struct mqtt_hit {
  void *sub;
  uint8_t qos;
  bool rap;
  uint32_t sub_id;
};

/* ---- small helpers ---- */

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem) {
  if (need <= *cap) return 0;
  uint32_t nc = *cap ? *cap * 2 : 4;
  while (nc < need) nc *= 2;
  void *p = loom_realloc(*arr, (size_t)nc * elem);
  if (!p) return LOOM_ENOMEM;
  *arr = p;
  *cap = nc;
  return 0;
}

static int grow_sz(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *p = loom_realloc(*arr, nc * elem);
  if (!p) return LOOM_ENOMEM;
  *arr = p;
  *cap = nc;
  return 0;
}

static size_t ptr_hash(const void *p, size_t nb) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 29;
  x *= 0x9E3779B97F4A7C15ull;
  return (size_t)(x >> 32) & (nb - 1);
}

static node *kid_get(const node *n, const char *s, size_t len, uint32_t h) {
  return (node *)mqtt_kids_get(&n->kids, s, len, h);
}

static bool node_empty(const node *n) {
  return n->kids.n == 0 && !n->plus && !n->hash && n->n_subs == 0 &&
         n->n_groups == 0;
}

static void node_free(node *n) {
  mqtt_kids_deinit(&n->kids);
  loom_free(n->subs);
  for (uint32_t i = 0; i < n->n_groups; i++) {
    loom_free(n->groups[i].name);
    loom_free(n->groups[i].members);
  }
  loom_free(n->groups);
  loom_free(n);
}

/* Frees n and its ancestors while they are empty (root kept). */
static void prune(mqtt_subtree *t, node *n) {
  while (n != t->root && node_empty(n)) {
    node *p = n->parent;
    if (p->plus == n) {
      p->plus = NULL;
    } else if (p->hash == n) {
      p->hash = NULL;
    } else {
      mqtt_kids_remove(&p->kids, &n->key);
    }
    node_free(n);
    t->n_nodes--;
    n = p;
  }
}

static node *child_get(mqtt_subtree *t, node *p, const char *s, size_t len,
                       bool create) {
  node **slot = NULL;
  uint32_t h = mqtt_level_hash(s, len);
  if (len == 1 && s[0] == '+') {
    slot = &p->plus;
  } else if (len == 1 && s[0] == '#') {
    slot = &p->hash;
  } else {
    node *x = kid_get(p, s, len, h);
    if (x) return x;
  }
  if (slot && *slot) return *slot;
  if (!create) return NULL;
  node *k = loom_calloc(1, sizeof *k + len);
  if (!k) return NULL;
  memcpy(k->level, s, len);
  k->key = (mqtt_level){h, (uint32_t)len, k->level};
  k->parent = p;
  if (slot) {
    *slot = k;
  } else {
    if (mqtt_kids_add(&p->kids, &k->key)) {
      loom_free(k);
      return NULL;
    }
  }
  t->n_nodes++;
  return k;
}

/* Walks (and optionally creates) the path of a valid filter. */
static node *path_get(mqtt_subtree *t, const char *f, size_t len,
                      bool create) {
  node *n = t->root;
  size_t i = 0;
  for (;;) {
    const char *sl = memchr(f + i, '/', len - i);
    size_t e = sl ? (size_t)(sl - f) : len;
    node *k = child_get(t, n, f + i, e - i, create);
    if (!k) {
      if (create) prune(t, n);
      return NULL;
    }
    n = k;
    if (e == len) return n;
    i = e + 1;
  }
}

/* ---- subscriber index ---- */

static subrec *rec_find(const mqtt_subtree *t, const void *sub) {
  if (!t->n_buckets) return NULL;
  for (subrec *r = t->buckets[ptr_hash(sub, t->n_buckets)]; r; r = r->next)
    if (r->sub == sub) return r;
  return NULL;
}

static int rec_rehash(mqtt_subtree *t) {
  size_t nb = t->n_buckets ? t->n_buckets * 2 : 64;
  subrec **b = loom_calloc(nb, sizeof *b);
  if (!b) return LOOM_ENOMEM;
  for (size_t i = 0; i < t->n_buckets; i++) {
    subrec *r = t->buckets[i];
    while (r) {
      subrec *nx = r->next;
      size_t h = ptr_hash(r->sub, nb);
      r->next = b[h];
      b[h] = r;
      r = nx;
    }
  }
  loom_free(t->buckets);
  t->buckets = b;
  t->n_buckets = nb;
  return 0;
}

static int rec_add_ref(mqtt_subtree *t, void *sub, node *n, bool shared,
                       uint32_t idx) {
  subrec *r = rec_find(t, sub);
  if (!r) {
    if (t->n_recs >= t->n_buckets && rec_rehash(t)) return LOOM_ENOMEM;
    r = loom_calloc(1, sizeof *r);
    if (!r) return LOOM_ENOMEM;
    r->sub = sub;
    size_t h = ptr_hash(sub, t->n_buckets);
    r->next = t->buckets[h];
    t->buckets[h] = r;
    t->n_recs++;
  }
  if (grow((void **)&r->refs, &r->cap, r->n + 1, sizeof *r->refs)) {
    if (r->n == 0) {
      /* unlink the empty record we may just have made */
      subrec **pp = &t->buckets[ptr_hash(sub, t->n_buckets)];
      while (*pp != r) pp = &(*pp)->next;
      *pp = r->next;
      loom_free(r);
      t->n_recs--;
    }
    return LOOM_ENOMEM;
  }
  r->refs[r->n].n = n;
  r->refs[r->n].idx = idx;
  r->refs[r->n].shared = shared;
  r->n++;
  return 0;
}

static void rec_unlink_free(mqtt_subtree *t, subrec *r) {
  subrec **pp = &t->buckets[ptr_hash(r->sub, t->n_buckets)];
  while (*pp != r) pp = &(*pp)->next;
  *pp = r->next;
  loom_free(r->refs);
  loom_free(r);
  t->n_recs--;
}

static void rec_del_ref(mqtt_subtree *t, void *sub, node *n, bool shared) {
  subrec *r = rec_find(t, sub);
  if (!r) return;
  for (uint32_t i = 0; i < r->n; i++) {
    if (r->refs[i].n == n && r->refs[i].shared == shared) {
      r->refs[i] = r->refs[--r->n];
      break;
    }
  }
  if (r->n == 0) rec_unlink_free(t, r);
}

/* sub's normal-subscription ref at n, or NULL. */
static ref *ref_find(const mqtt_subtree *t, const void *sub, const node *n) {
  subrec *r = rec_find(t, sub);
  if (!r) return NULL;
  for (uint32_t i = 0; i < r->n; i++)
    if (r->refs[i].n == n && !r->refs[i].shared) return &r->refs[i];
  return NULL;
}

/* Removes n->subs[idx] by moving the last entry into its place and fixing
 * the moved subscriber's ref. The removed subscriber's own ref is the
 * caller's business. */
static void node_remove_plain(mqtt_subtree *t, node *n, uint32_t idx) {
  uint32_t last = --n->n_subs;
  if (idx != last) {
    n->subs[idx] = n->subs[last];
    ref *mv = ref_find(t, n->subs[idx].sub, n);
    if (mv) mv->idx = idx;
  }
  t->n_subscriptions--;
}

/* ---- public: lifecycle ---- */

int mqtt_subtree_new(size_t max_subs, mqtt_subtree **out) {
  mqtt_subtree *t = loom_calloc(1, sizeof *t);
  if (!t) return LOOM_ENOMEM;
  t->root = loom_calloc(1, sizeof *t->root);
  if (!t->root) {
    loom_free(t);
    return LOOM_ENOMEM;
  }
  t->max_subs = max_subs;
  *out = t;
  return 0;
}

static void free_rec(node *n) {
  for (uint32_t i = 0; i < n->kids.cap; i++)
    if (n->kids.slot[i]) free_rec((node *)n->kids.slot[i]);
  if (n->plus) free_rec(n->plus);
  if (n->hash) free_rec(n->hash);
  node_free(n);
}

void mqtt_subtree_free(mqtt_subtree *t) {
  if (!t) return;
  free_rec(t->root);
  for (size_t i = 0; i < t->n_buckets; i++) {
    subrec *s = t->buckets[i];
    while (s) {
      subrec *nx = s->next;
      loom_free(s->refs);
      loom_free(s);
      s = nx;
    }
  }
  loom_free(t->buckets);
  loom_free(t);
}

void mqtt_subtree_set_eligible(mqtt_subtree *t, mqtt_subtree_eligible_fn fn, void *ud) {
  if (!t) return;
  t->eligible = fn;
  t->eligible_ud = fn ? ud : NULL;
}

size_t mqtt_subtree_node_count(const mqtt_subtree *t) { return t->n_nodes; }
size_t mqtt_subtree_sub_count(const mqtt_subtree *t) {
  return t->n_subscriptions;
}

/* ---- add / remove ---- */

static int entry_find(const entry *e, uint32_t n, const void *sub) {
  for (uint32_t i = 0; i < n; i++)
    if (e[i].sub == sub) return (int)i;
  return -1;
}

static group *group_find(node *n, const char *g, size_t len) {
  for (uint32_t i = 0; i < n->n_groups; i++)
    if (n->groups[i].name_len == len && memcmp(n->groups[i].name, g, len) == 0)
      return &n->groups[i];
  return NULL;
}

static size_t count_levels(const char *f, size_t len) {
  size_t lv = 1;
  for (size_t i = 0; i < len; i++) lv += f[i] == '/';
  return lv;
}

int mqtt_subtree_add(mqtt_subtree *t, const char *filter, size_t len,
                     void *sub, const mqtt_sub_opts *opts) {
  if (!t || !sub || !opts || opts->qos > 2 || opts->retain_handling > 2)
    return LOOM_EINVAL;
  mqtt_share sh;
  int rc = mqtt_topic_share_parse(filter, len, &sh);
  if (rc < 0) return rc;
  bool shared = rc == 1;
  const char *f = shared ? sh.filter : filter;
  size_t flen = shared ? sh.filter_len : len;
  if (!shared && (rc = mqtt_topic_filter_validate(f, flen)) != 0) return rc;
  if (shared && opts->no_local) return LOOM_EINVAL;
  if (count_levels(f, flen) > MQTT_SUBTREE_MAX_LEVELS) return LOOM_ERANGE;

  node *n = path_get(t, f, flen, false);
  if (n) {
    if (!shared) {
      ref *rf = ref_find(t, sub, n);
      if (rf) { n->subs[rf->idx].o = *opts; return 1; }
    } else {
      group *g = group_find(n, sh.group, sh.group_len);
      int i = g ? entry_find(g->members, g->n, sub) : -1;
      if (i >= 0) { g->members[i].o = *opts; return 1; }
    }
  }
  if (t->max_subs && t->n_subscriptions >= t->max_subs) return LOOM_ERANGE;
  if (!n && !(n = path_get(t, f, flen, true))) return LOOM_ENOMEM;

  rc = LOOM_ENOMEM;
  if (!shared) {
    if (grow((void **)&n->subs, &n->cap_subs, n->n_subs + 1, sizeof(entry)))
      goto fail;
    if (rec_add_ref(t, sub, n, false, n->n_subs)) goto fail;
    n->subs[n->n_subs].sub = sub;
    n->subs[n->n_subs].o = *opts;
    n->n_subs++;
  } else {
    group *g = group_find(n, sh.group, sh.group_len);
    bool made = false;
    if (!g) {
      if (grow((void **)&n->groups, &n->cap_groups, n->n_groups + 1,
               sizeof(group)))
        goto fail;
      char *nm = loom_malloc(sh.group_len ? sh.group_len : 1);
      if (!nm) goto fail;
      memcpy(nm, sh.group, sh.group_len);
      g = &n->groups[n->n_groups++];
      memset(g, 0, sizeof *g);
      g->name = nm;
      g->name_len = sh.group_len;
      made = true;
    }
    if (grow((void **)&g->members, &g->cap, g->n + 1, sizeof(entry)) ||
        rec_add_ref(t, sub, n, true, 0)) {
      if (made) {
        loom_free(g->name);
        loom_free(g->members);
        n->n_groups--;
      }
      goto fail;
    }
    g->members[g->n].sub = sub;
    g->members[g->n].o = *opts;
    g->n++;
  }
  t->n_subscriptions++;
  return 0;
fail:
  prune(t, n);
  return rc;
}

/* Removes sub's membership in group g at n (g NULL = every group).
 * Returns how many removed. Linear in the group sizes at n. */
static size_t node_remove_shared(mqtt_subtree *t, node *n, void *sub,
                                 const char *g, size_t glen) {
  size_t removed = 0;
  {
    for (uint32_t k = 0; k < n->n_groups;) {
      group *gr = &n->groups[k];
      if (g && (gr->name_len != glen || memcmp(gr->name, g, glen) != 0)) {
        k++;
        continue;
      }
      int i = entry_find(gr->members, gr->n, sub);
      if (i >= 0) {
        /* keep the order so round robin stays fair */
        memmove(gr->members + i, gr->members + i + 1,
                (gr->n - (uint32_t)i - 1) * sizeof(entry));
        gr->n--;
        if (gr->rr > (uint32_t)i) gr->rr--;
        removed++;
      }
      if (gr->n == 0) {
        loom_free(gr->name);
        loom_free(gr->members);
        n->groups[k] = n->groups[--n->n_groups];
        continue;
      }
      k++;
    }
  }
  t->n_subscriptions -= removed;
  return removed;
}

int mqtt_subtree_remove(mqtt_subtree *t, const char *filter, size_t len,
                        void *sub) {
  if (!t || !sub) return LOOM_EINVAL;
  mqtt_share sh;
  int rc = mqtt_topic_share_parse(filter, len, &sh);
  if (rc < 0) return rc;
  bool shared = rc == 1;
  const char *f = shared ? sh.filter : filter;
  size_t flen = shared ? sh.filter_len : len;
  if (!shared && (rc = mqtt_topic_filter_validate(f, flen)) != 0) return rc;
  node *n = path_get(t, f, flen, false);
  if (!n) return LOOM_ENOTFOUND;
  if (shared) {
    if (node_remove_shared(t, n, sub, sh.group, sh.group_len) == 0)
      return LOOM_ENOTFOUND;
  } else {
    ref *rf = ref_find(t, sub, n);
    if (!rf) return LOOM_ENOTFOUND;
    node_remove_plain(t, n, rf->idx);
  }
  rec_del_ref(t, sub, n, shared);
  prune(t, n);
  return 0;
}

size_t mqtt_subtree_remove_all(mqtt_subtree *t, void *sub) {
  if (!t || !sub) return 0;
  subrec *r = rec_find(t, sub);
  if (!r) return 0;
  size_t total = 0;
  /* Each ref is handled then its node pruned. Pruning cannot free a node
   * a later ref names: that node still holds one of sub's entries (a
   * shared ref removes all of sub's groups at its node, so later shared
   * refs to the same node are cleared first). The clearing scan is
   * quadratic in sub's own shared subscriptions only. */
  for (uint32_t i = 0; i < r->n; i++) {
    node *n = r->refs[i].n;
    if (!n) continue;
    if (r->refs[i].shared) {
      for (uint32_t j = i + 1; j < r->n; j++)
        if (r->refs[j].n == n && r->refs[j].shared) r->refs[j].n = NULL;
      total += node_remove_shared(t, n, sub, NULL, 0);
    } else {
      node_remove_plain(t, n, r->refs[i].idx);
      total++;
    }
    prune(t, n);
  }
  rec_unlink_free(t, r);
  return total;
}

/* ---- match ---- */

void mqtt_matches_init(mqtt_matches *m) { memset(m, 0, sizeof *m); }

void mqtt_matches_deinit(mqtt_matches *m) {
  if (!m) return;
  loom_free(m->items);
  loom_free(m->shared);
  loom_free(m->hits);
  loom_free(m->ids);
  loom_free(m->table);
  memset(m, 0, sizeof *m);
}

typedef struct mctx {
  mqtt_subtree *t;
  const char *s;
  size_t len;
  const void *pub;
  mqtt_matches *m;
  bool dollar; /* name starts with '$': root wildcards do not apply */
  int rc;
} mctx;

static void add_node(mctx *c, node *n) {
  mqtt_matches *m = c->m;
  if (n->n_subs &&
      grow_sz((void **)&m->hits, &m->cap_hits, m->n_hits + n->n_subs,
              sizeof *m->hits)) {
    c->rc = LOOM_ENOMEM;
    return;
  }
  for (uint32_t i = 0; i < n->n_subs; i++) {
    const entry *e = &n->subs[i];
    if (e->o.no_local && e->sub == c->pub) continue;
    struct mqtt_hit *h = &m->hits[m->n_hits++];
    h->sub = e->sub;
    h->qos = e->o.qos;
    h->rap = e->o.retain_as_published;
    h->sub_id = e->o.sub_id;
  }
  if (n->n_groups &&
      grow_sz((void **)&m->shared, &m->cap_shared, m->n_shared + n->n_groups,
              sizeof *m->shared)) {
    c->rc = LOOM_ENOMEM;
    return;
  }
  for (uint32_t i = 0; i < n->n_groups; i++) {
    group *g = &n->groups[i];
    if (g->rr >= g->n) g->rr = 0;
    uint32_t pick = g->rr;
    bool ok = true;
    if (c->t->eligible) {
      ok = false;
      for (uint32_t k = 0; k < g->n; k++) {
        uint32_t j = g->rr + k < g->n ? g->rr + k : g->rr + k - g->n;
        if (c->t->eligible(c->t->eligible_ud, g->members[j].sub)) {
          pick = j;
          ok = true;
          break;
        }
      }
    }
    const entry *e = &g->members[pick];
    g->rr = (pick + 1) % g->n;
    mqtt_shared_match *sm = &m->shared[m->n_shared++];
    sm->sub = e->sub;
    sm->opts = e->o;
    sm->group = g->name;
    sm->group_len = g->name_len;
    sm->eligible = ok;
  }
}

/* pos: start of the next level of the name; done: no level left. The
 * recursion depth is bounded by the tree depth (MQTT_SUBTREE_MAX_LEVELS). */
static void walk(mctx *c, node *n, size_t pos, bool done) {
  bool root = n == c->t->root;
  if (n->hash && !(root && c->dollar)) add_node(c, n->hash);
  if (done) {
    add_node(c, n);
    return;
  }
  if (c->rc) return;
  const char *sl = memchr(c->s + pos, '/', c->len - pos);
  size_t e = sl ? (size_t)(sl - c->s) : c->len;
  bool last = e == c->len;
  if (n->kids.n) {
    node *k = kid_get(n, c->s + pos, e - pos, mqtt_level_hash(c->s + pos, e - pos));
    if (k) walk(c, k, e + 1, last);
  }
  if (n->plus && !(root && c->dollar)) walk(c, n->plus, e + 1, last);
}

static int merge(mqtt_matches *m) {
  size_t nh = m->n_hits;
  if (grow_sz((void **)&m->items, &m->cap_items, nh ? nh : 1,
              sizeof *m->items))
    return LOOM_ENOMEM;
  size_t tsize = 0;
  if (nh > 8) {
    tsize = 16;
    while (tsize < 2 * nh) tsize *= 2;
  }
  size_t need_tab = tsize > nh ? tsize : nh;
  if (grow_sz((void **)&m->table, &m->cap_table, need_tab ? need_tab : 1,
              sizeof *m->table))
    return LOOM_ENOMEM;
  if (tsize) memset(m->table, 0xFF, tsize * sizeof *m->table);
  size_t n = 0, n_ids = 0;
  for (size_t i = 0; i < nh; i++) {
    struct mqtt_hit *h = &m->hits[i];
    size_t idx = SIZE_MAX;
    if (tsize) {
      size_t p = ptr_hash(h->sub, tsize);
      while (m->table[p] != UINT32_MAX) {
        if (m->items[m->table[p]].sub == h->sub) { idx = m->table[p]; break; }
        p = (p + 1) & (tsize - 1);
      }
      if (idx == SIZE_MAX) m->table[p] = (uint32_t)n;
    } else {
      for (size_t k = 0; k < n; k++)
        if (m->items[k].sub == h->sub) { idx = k; break; }
    }
    if (idx == SIZE_MAX) {
      idx = n++;
      mqtt_match *it = &m->items[idx];
      it->sub = h->sub;
      it->qos = h->qos;
      it->retain_as_published = h->rap;
      it->sub_ids = NULL;
      it->n_sub_ids = 0;
    } else {
      mqtt_match *it = &m->items[idx];
      if (h->qos > it->qos) it->qos = h->qos;
      it->retain_as_published |= h->rap;
    }
    if (h->sub_id) {
      m->items[idx].n_sub_ids++;
      n_ids++;
    }
    /* remember the item for the id pass; sub is no longer needed */
    h->sub = (void *)(uintptr_t)idx;
  }
  m->n = n;
  if (n_ids == 0) return 0;
  if (grow_sz((void **)&m->ids, &m->cap_ids, n_ids, sizeof *m->ids))
    return LOOM_ENOMEM;
  /* m->table (>= nh >= n entries) becomes the per-item write cursor */
  uint32_t off = 0;
  for (size_t k = 0; k < n; k++) {
    m->table[k] = off;
    off += (uint32_t)m->items[k].n_sub_ids;
  }
  for (size_t i = 0; i < nh; i++) {
    struct mqtt_hit *h = &m->hits[i];
    if (!h->sub_id) continue;
    size_t k = (size_t)(uintptr_t)h->sub;
    m->ids[m->table[k]++] = h->sub_id;
  }
  off = 0;
  for (size_t k = 0; k < n; k++) {
    if (m->items[k].n_sub_ids) m->items[k].sub_ids = m->ids + off;
    off += (uint32_t)m->items[k].n_sub_ids;
  }
  return 0;
}

int mqtt_subtree_match(mqtt_subtree *t, const char *name, size_t len,
                       const void *publisher, mqtt_matches *m) {
  if (!t || !m || (!name && len)) return LOOM_EINVAL;
  m->n = m->n_shared = m->n_hits = 0;
  if (len == 0) return 0;
  mctx c = {t, name, len, publisher, m, name[0] == '$', 0};
  walk(&c, t->root, 0, false);
  int rc = c.rc ? c.rc : merge(m);
  if (rc) m->n = m->n_shared = m->n_hits = 0;
  return rc;
}
