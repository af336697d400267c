/* SPDX-License-Identifier: Apache-2.0
 * The live hub (hub.h): a list of subscriptions behind a read-write lock
 * (publishers read, subscribe/unsubscribe write) with an atomic count for
 * the empty fast path, and a list of live sessions behind a mutex for
 * revocation. Linear scans: the lists hold the open WebSocket
 * subscriptions of one daemon (hundreds), not millions.
 */
#include "live/hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

struct live_sub {
  live_sub *next;
  live_kind kind;
  char *db, *device;
  live_event_cb cb;
  void *user;
  atomic_int overflow;
};

struct live_session {
  live_session *next;
  char token_id[64];
  char user_id[64];
  live_kick_cb cb;
  void *user;
};

struct live_hub {
  pthread_rwlock_t lock; /* guards subs */
  live_sub *subs;
  atomic_size_t n_subs;
  atomic_uint_fast64_t dropped;
  pthread_mutex_t smu; /* guards sessions */
  live_session *sessions;
  size_t n_sessions;
};

int live_hub_new(live_hub **out) {
  live_hub *h = loom_calloc(1, sizeof *h);
  if (!h) return LOOM_ENOMEM;
  if (pthread_rwlock_init(&h->lock, NULL)) {
    loom_free(h);
    return LOOM_ENOMEM;
  }
  if (pthread_mutex_init(&h->smu, NULL)) {
    pthread_rwlock_destroy(&h->lock);
    loom_free(h);
    return LOOM_ENOMEM;
  }
  *out = h;
  return 0;
}

void live_hub_free(live_hub *h) {
  if (!h) return;
  for (live_sub *s = h->subs, *n; s; s = n) { /* defensive: owners should have unsubscribed */
    n = s->next;
    loom_free(s->db);
    loom_free(s->device);
    loom_free(s);
  }
  for (live_session *s = h->sessions, *n; s; s = n) {
    n = s->next;
    loom_free(s);
  }
  pthread_rwlock_destroy(&h->lock);
  pthread_mutex_destroy(&h->smu);
  loom_free(h);
}

int live_subscribe(live_hub *h, live_kind kind, const char *db, const char *device,
                   live_event_cb cb, void *user, live_sub **out) {
  if (kind < LIVE_TELEMETRY || kind > LIVE_RPC || !db || !*db || !device || !*device || !cb)
    return LOOM_EINVAL;
  live_sub *s = loom_calloc(1, sizeof *s);
  if (!s) return LOOM_ENOMEM;
  s->db = loom_strdup(db);
  s->device = loom_strdup(device);
  if (!s->db || !s->device) {
    loom_free(s->db);
    loom_free(s->device);
    loom_free(s);
    return LOOM_ENOMEM;
  }
  s->kind = kind;
  s->cb = cb;
  s->user = user;
  pthread_rwlock_wrlock(&h->lock);
  s->next = h->subs;
  h->subs = s;
  atomic_fetch_add(&h->n_subs, 1);
  pthread_rwlock_unlock(&h->lock);
  *out = s;
  return 0;
}

void live_unsubscribe(live_hub *h, live_sub *s) {
  if (!s) return;
  pthread_rwlock_wrlock(&h->lock);
  for (live_sub **pp = &h->subs; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      atomic_fetch_sub(&h->n_subs, 1);
      break;
    }
  }
  pthread_rwlock_unlock(&h->lock);
  loom_free(s->db);
  loom_free(s->device);
  loom_free(s);
}

int live_sub_overflowed(const live_sub *s) { return atomic_load(&((live_sub *)s)->overflow); }

int live_hub_wants(live_hub *h, live_kind kind, const char *db) {
  if (!h || atomic_load_explicit(&h->n_subs, memory_order_relaxed) == 0) return 0;
  int hit = 0;
  pthread_rwlock_rdlock(&h->lock);
  for (live_sub *s = h->subs; s && !hit; s = s->next)
    hit = s->kind == kind && strcmp(s->db, db) == 0;
  pthread_rwlock_unlock(&h->lock);
  return hit;
}

size_t live_publish(live_hub *h, const live_event *ev) {
  if (!h || atomic_load(&h->n_subs) == 0 || !ev->db || !ev->device) return 0;
  size_t n = 0;
  pthread_rwlock_rdlock(&h->lock);
  for (live_sub *s = h->subs; s; s = s->next) {
    if (s->kind != ev->kind || strcmp(s->device, ev->device) || strcmp(s->db, ev->db)) continue;
    if (atomic_load(&s->overflow)) continue;
    if (s->cb(s->user, ev)) {
      atomic_store(&s->overflow, 1);
      atomic_fetch_add(&h->dropped, 1);
    } else {
      n++;
    }
  }
  pthread_rwlock_unlock(&h->lock);
  return n;
}

uint64_t live_hub_dropped(live_hub *h) { return atomic_load(&h->dropped); }

/* ---- sessions ---- */

int live_session_add(live_hub *h, const char *token_id, const char *user_id, live_kick_cb cb,
                     void *user, live_session **out) {
  live_session *s = loom_calloc(1, sizeof *s);
  if (!s) return LOOM_ENOMEM;
  snprintf(s->token_id, sizeof s->token_id, "%s", token_id ? token_id : "");
  snprintf(s->user_id, sizeof s->user_id, "%s", user_id ? user_id : "");
  s->cb = cb;
  s->user = user;
  pthread_mutex_lock(&h->smu);
  s->next = h->sessions;
  h->sessions = s;
  h->n_sessions++;
  pthread_mutex_unlock(&h->smu);
  *out = s;
  return 0;
}

void live_session_remove(live_hub *h, live_session *s) {
  if (!s) return;
  pthread_mutex_lock(&h->smu);
  for (live_session **pp = &h->sessions; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      h->n_sessions--;
      break;
    }
  }
  pthread_mutex_unlock(&h->smu);
  loom_free(s);
}

static size_t kick(live_hub *h, int by_user, const char *id, const char *reason) {
  if (!id || !*id) return 0;
  size_t n = 0;
  pthread_mutex_lock(&h->smu);
  for (live_session *s = h->sessions; s; s = s->next) {
    if (strcmp(by_user ? s->user_id : s->token_id, id) != 0) continue;
    s->cb(s->user, 1008, reason);
    n++;
  }
  pthread_mutex_unlock(&h->smu);
  return n;
}

size_t live_session_revoke_token(live_hub *h, const char *token_id, const char *reason) {
  return h ? kick(h, 0, token_id, reason) : 0;
}

size_t live_session_revoke_user(live_hub *h, const char *user_id, const char *reason) {
  return h ? kick(h, 1, user_id, reason) : 0;
}

size_t live_session_count(live_hub *h) {
  pthread_mutex_lock(&h->smu);
  size_t n = h->n_sessions;
  pthread_mutex_unlock(&h->smu);
  return n;
}
