/* SPDX-License-Identifier: Apache-2.0
 * Rate windows (rate.h): a ring of per-slot counts. Advancing to a newer
 * slot clears the slots skipped over, at most n_slots of them.
 */
#include "core/rate.h"

#include <string.h>

void loom_rate_init(loom_rate *r, uint32_t n_slots) {
  memset(r, 0, sizeof *r);
  if (n_slots < 1) n_slots = 1;
  if (n_slots > LOOM_RATE_MAX_SLOTS) n_slots = LOOM_RATE_MAX_SLOTS;
  r->n_slots = n_slots;
}

static int64_t slots(const loom_rate *r) { return r->n_slots ? r->n_slots : LOOM_RATE_MAX_SLOTS; }

static uint32_t slot_of(const loom_rate *r, int64_t t) {
  int64_t k = t % slots(r);
  return (uint32_t)(k < 0 ? k + slots(r) : k);
}

void loom_rate_add(loom_rate *r, int64_t t, uint32_t n) {
  if (!r->used || t - r->last >= slots(r)) {
    memset(r->counts, 0, sizeof r->counts);
    r->last = t;
    r->used = 1;
  } else if (t > r->last) {
    for (int64_t s = r->last + 1; s <= t; s++) r->counts[slot_of(r, s)] = 0;
    r->last = t;
  } else if (r->last - t >= slots(r)) {
    return; /* older than the window */
  }
  uint32_t *c = &r->counts[slot_of(r, t)];
  *c = UINT32_MAX - *c < n ? UINT32_MAX : *c + n;
}

uint64_t loom_rate_sum(const loom_rate *r, int64_t now, uint32_t w) {
  if (!r->used) return 0;
  if (w > slots(r)) w = (uint32_t)slots(r);
  uint64_t sum = 0;
  for (int64_t t = now - (int64_t)w + 1; t <= now; t++)
    if (t <= r->last && r->last - t < slots(r)) sum += r->counts[slot_of(r, t)];
  return sum;
}

double loom_rate_per_s(const loom_rate *r, int64_t now_ms, int64_t slot_ms, uint32_t w_full) {
  if (slot_ms <= 0) return 0;
  if (w_full >= (uint32_t)slots(r)) w_full = (uint32_t)slots(r) - 1;
  int64_t now = now_ms / slot_ms, part = now_ms % slot_ms;
  if (part < 0) part += slot_ms;
  double span_ms = (double)w_full * (double)slot_ms + (double)part;
  if (span_ms <= 0) return 0;
  return (double)loom_rate_sum(r, now, w_full + 1) * 1000.0 / span_ms;
}
