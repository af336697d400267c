/* SPDX-License-Identifier: Apache-2.0
 * Login back-off bookkeeping (see backoff.h): two tables (accounts,
 * addresses) of hashed keys, each a chained hash map plus a list ordered by
 * last activity for eviction when the table is full.
 */
#include "sec/backoff.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

#define ID_LEN 16
#define MAX_SHIFT 40

typedef struct entry {
  uint8_t id[ID_LEN];      /* keyed hash of the account name or address */
  uint32_t failures;       /* within the current window */
  uint64_t until_ms;       /* end of the current delay (= the last failure if none) */
  struct entry *chain;     /* next in the bucket */
  struct entry *newer, *older; /* activity list */
} entry;

typedef struct table {
  sec_backoff_limits lim;
  entry **buckets;
  size_t n_buckets; /* power of two */
  size_t n;
  entry *newest, *oldest;
} table;

struct sec_backoff {
  uint8_t key[crypto_generichash_KEYBYTES];
  table account, address;
};

void sec_backoff_config_default(sec_backoff_config *c) {
  sec_backoff_limits l = {.free_failures = 5,
                          .window_ms = 15 * 60 * 1000,
                          .base_delay_ms = 1000,
                          .max_delay_ms = 15 * 60 * 1000,
                          .max_entries = 100000};
  c->account = l;
  c->address = l;
  c->address.free_failures = 20;
}

static bool limits_ok(const sec_backoff_limits *l) {
  return l->max_entries > 0 && l->base_delay_ms > 0 && l->max_delay_ms >= l->base_delay_ms;
}

static int table_init(table *t, const sec_backoff_limits *l) {
  memset(t, 0, sizeof *t);
  t->lim = *l;
  t->n_buckets = 16;
  while (t->n_buckets < l->max_entries && t->n_buckets < ((size_t)1 << 30)) t->n_buckets <<= 1;
  t->buckets = loom_calloc(t->n_buckets, sizeof *t->buckets);
  return t->buckets ? 0 : LOOM_ENOMEM;
}

static void table_deinit(table *t) {
  entry *e = t->newest;
  while (e) {
    entry *next = e->older;
    loom_free(e);
    e = next;
  }
  loom_free(t->buckets);
  memset(t, 0, sizeof *t);
}

int sec_backoff_new(const sec_backoff_config *c, sec_backoff **out) {
  sec_backoff_config def;
  sec_backoff *b = NULL;
  int rc;
  if (!c) {
    sec_backoff_config_default(&def);
    c = &def;
  }
  if (!limits_ok(&c->account) || !limits_ok(&c->address)) return LOOM_EINVAL;
  if (sodium_init() < 0) return LOOM_EIO;
  b = loom_calloc(1, sizeof *b);
  if (!b) return LOOM_ENOMEM;
  randombytes_buf(b->key, sizeof b->key);
  if ((rc = table_init(&b->account, &c->account)) || (rc = table_init(&b->address, &c->address)))
    goto fail;
  *out = b;
  return 0;
fail:
  sec_backoff_free(b);
  return rc;
}

void sec_backoff_free(sec_backoff *b) {
  if (!b) return;
  table_deinit(&b->account);
  table_deinit(&b->address);
  sodium_memzero(b->key, sizeof b->key);
  loom_free(b);
}

static void key_id(const sec_backoff *b, uint8_t tag, const char *s, uint8_t id[ID_LEN]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, b->key, sizeof b->key, ID_LEN);
  crypto_generichash_update(&st, &tag, 1);
  crypto_generichash_update(&st, (const unsigned char *)s, strlen(s));
  crypto_generichash_final(&st, id, ID_LEN);
}

static size_t bucket_of(const table *t, const uint8_t id[ID_LEN]) {
  uint64_t h;
  memcpy(&h, id, sizeof h);
  return (size_t)(h & (t->n_buckets - 1));
}

static entry *find(const table *t, const uint8_t id[ID_LEN]) {
  for (entry *e = t->buckets[bucket_of(t, id)]; e; e = e->chain)
    if (!memcmp(e->id, id, ID_LEN)) return e;
  return NULL;
}

static void list_unlink(table *t, entry *e) {
  if (e->newer) e->newer->older = e->older;
  else t->newest = e->older;
  if (e->older) e->older->newer = e->newer;
  else t->oldest = e->newer;
  e->newer = e->older = NULL;
}

static void list_push_newest(table *t, entry *e) {
  e->older = t->newest;
  e->newer = NULL;
  if (t->newest) t->newest->newer = e;
  t->newest = e;
  if (!t->oldest) t->oldest = e;
}

/* Take e out of its bucket and the activity list (not freed). */
static void detach(table *t, entry *e) {
  entry **pp = &t->buckets[bucket_of(t, e->id)];
  while (*pp != e) pp = &(*pp)->chain;
  *pp = e->chain;
  list_unlink(t, e);
  t->n--;
}

static void remove_entry(table *t, entry *e) {
  detach(t, e);
  loom_free(e);
}

static bool quiet(const table *t, const entry *e, uint64_t now_ms) {
  return now_ms >= e->until_ms && now_ms - e->until_ms >= t->lim.window_ms;
}

static uint64_t remaining(const entry *e, uint64_t now_ms) {
  return e && now_ms < e->until_ms ? e->until_ms - now_ms : 0;
}

static bool tracked(const char *s) { return s && *s; }

int sec_backoff_check(const sec_backoff *b, const char *account, const char *address,
                      uint64_t now_ms, uint64_t *retry_after_ms) {
  uint8_t id[ID_LEN];
  uint64_t wait = 0, w;
  if (tracked(account)) {
    key_id(b, 'u', account, id);
    wait = remaining(find(&b->account, id), now_ms);
  }
  if (tracked(address)) {
    key_id(b, 'a', address, id);
    w = remaining(find(&b->address, id), now_ms);
    if (w > wait) wait = w;
  }
  if (retry_after_ms) *retry_after_ms = wait;
  return wait ? LOOM_EAGAIN : 0;
}

static int table_fail(table *t, const uint8_t id[ID_LEN], uint64_t now_ms, uint64_t *delay_ms) {
  entry *e = find(t, id);
  *delay_ms = 0;
  if (e) {
    list_unlink(t, e);
    if (quiet(t, e, now_ms)) e->failures = 0;
  } else {
    /* full, or out of memory: reuse the entry with the oldest activity */
    if (t->n >= t->lim.max_entries || !(e = loom_malloc(sizeof *e))) {
      if (!(e = t->oldest)) return LOOM_ENOMEM;
      detach(t, e);
    }
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, ID_LEN);
    size_t bk = bucket_of(t, id);
    e->chain = t->buckets[bk];
    t->buckets[bk] = e;
    t->n++;
  }
  list_push_newest(t, e);
  if (e->failures < UINT32_MAX) e->failures++;
  if (e->failures >= t->lim.free_failures && e->failures > 0) {
    uint32_t over = e->failures - (t->lim.free_failures ? t->lim.free_failures : 1);
    uint64_t d = t->lim.base_delay_ms;
    if (over > MAX_SHIFT) over = MAX_SHIFT;
    while (over-- && d < t->lim.max_delay_ms) d <<= 1;
    if (d > t->lim.max_delay_ms) d = t->lim.max_delay_ms;
    *delay_ms = d;
  }
  e->until_ms = now_ms + *delay_ms;
  return 0;
}

int sec_backoff_fail(sec_backoff *b, const char *account, const char *address, uint64_t now_ms,
                     uint64_t *delay_ms) {
  uint8_t id[ID_LEN];
  uint64_t d1 = 0, d2 = 0;
  int rc = 0;
  if (tracked(account)) {
    key_id(b, 'u', account, id);
    rc = table_fail(&b->account, id, now_ms, &d1);
  }
  if (tracked(address)) {
    key_id(b, 'a', address, id);
    int r = table_fail(&b->address, id, now_ms, &d2);
    if (!rc) rc = r;
  }
  if (delay_ms) *delay_ms = d1 > d2 ? d1 : d2;
  return rc;
}

void sec_backoff_success(sec_backoff *b, const char *account) {
  uint8_t id[ID_LEN];
  if (!tracked(account)) return;
  key_id(b, 'u', account, id);
  entry *e = find(&b->account, id);
  if (e) remove_entry(&b->account, e);
}

static void table_sweep(table *t, uint64_t now_ms) {
  entry *e = t->oldest;
  while (e) {
    entry *newer = e->newer;
    if (quiet(t, e, now_ms)) remove_entry(t, e);
    e = newer;
  }
}

void sec_backoff_sweep(sec_backoff *b, uint64_t now_ms) {
  table_sweep(&b->account, now_ms);
  table_sweep(&b->address, now_ms);
}

size_t sec_backoff_entries(const sec_backoff *b) { return b->account.n + b->address.n; }
