/* SPDX-License-Identifier: Apache-2.0
 * A rate window: counts per time slot in a small ring, so "how many in the
 * last N slots" costs no history scan and no allocation. The caller picks
 * the slot width (e.g. one second) and passes slot numbers (time / width,
 * from a monotonic clock). Pure; no locking: callers serialise access.
 *
 * Slot t's count lives in counts[t % n_slots] and is valid while
 * last - n_slots < t <= last, where last is the newest slot written.
 */
#ifndef LOOM_CORE_RATE_H
#define LOOM_CORE_RATE_H

#include <stdint.h>

#define LOOM_RATE_MAX_SLOTS 16

typedef struct loom_rate {
  int64_t last;      /* newest slot number written (valid when used) */
  uint32_t n_slots;  /* 1..LOOM_RATE_MAX_SLOTS; 0 (a zeroed struct) = LOOM_RATE_MAX_SLOTS */
  uint32_t used;     /* 0 until the first add */
  uint32_t counts[LOOM_RATE_MAX_SLOTS];
} loom_rate;

/* Start empty with n_slots slots (clamped to 1..LOOM_RATE_MAX_SLOTS). A
 * zeroed loom_rate is also a valid empty window of LOOM_RATE_MAX_SLOTS. */
void loom_rate_init(loom_rate *r, uint32_t n_slots);

/* Add n to slot t. A t older than the newest slot written but still in the
 * window is added to its slot; older than the window, it is dropped. Counts
 * saturate at UINT32_MAX. */
void loom_rate_add(loom_rate *r, int64_t t, uint32_t n);

/* Sum of the w slots ending with slot now (now - w < t <= now); w is
 * clamped to n_slots. Slots never written count 0. */
uint64_t loom_rate_sum(const loom_rate *r, int64_t now, uint32_t w);

/* Events per second over the w_full complete slots before the current one
 * plus the elapsed part of the current slot, at now_ms on the clock whose
 * time / slot_ms gave the slot numbers (slot_ms > 0, w_full < n_slots). */
double loom_rate_per_s(const loom_rate *r, int64_t now_ms, int64_t slot_ms, uint32_t w_full);

#endif
