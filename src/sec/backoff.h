/* SPDX-License-Identifier: Apache-2.0
 * Login brute-force protection: back-off per account and per client
 * address. Pure bookkeeping in memory: the caller passes the time, so tests
 * drive it with a fake clock; nothing is persisted (a restart forgets it).
 *
 * Limits (the defaults; each table has its own sec_backoff_limits):
 *   - per account: 5 failed logins are tolerated; the 5th and every later
 *     failure imposes a delay before the next attempt on that account is
 *     even checked: 1 s, 2 s, 4 s, ... doubling, capped at 15 min;
 *   - per address: the same, from the 20th failure (many operators of a
 *     plant may share one NAT address, so its allowance is larger);
 *   - a key's count is forgotten 15 min after its last failure or the end
 *     of its last delay, whichever is later (so an attacker at the cap stays
 *     at the cap: about 4 guesses per hour per account);
 *   - a successful login resets its account's count, not the address's
 *     (otherwise one valid account would let an address guess freely);
 *   - at most 100,000 keys per table (about 110 bytes each plus 1 MiB of
 *     buckets); past that the key with the oldest activity is dropped, so a
 *     flood of failures against distinct names from distinct addresses can
 *     reset a quiet key's count early (an attacker needs 100,000 other
 *     failures between two guesses at one account to do so).
 * Keys are hashed (keyed BLAKE2b-128, key random per instance): the table
 * holds no account names or addresses. Not thread-safe: callers serialise
 * access to one instance (e.g. a mutex around check/fail/success).
 */
#ifndef LOOM_SEC_BACKOFF_H
#define LOOM_SEC_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sec_backoff_limits {
  unsigned free_failures; /* failures tolerated before delays start (default 5 / 20) */
  uint64_t window_ms;     /* forget a key after this long quiet (default 900,000) */
  uint64_t base_delay_ms; /* first delay (default 1,000) */
  uint64_t max_delay_ms;  /* delay cap (default 900,000) */
  size_t max_entries;     /* keys kept at most (default 100,000; at least 1) */
} sec_backoff_limits;

typedef struct sec_backoff_config {
  sec_backoff_limits account;
  sec_backoff_limits address;
} sec_backoff_config;

typedef struct sec_backoff sec_backoff;

/* Fill c with the defaults documented above. */
void sec_backoff_config_default(sec_backoff_config *c);

/* Create a tracker (c NULL = defaults). 0, LOOM_ENOMEM, or LOOM_EINVAL for
 * zero max_entries / zero base delay / max delay below the base. */
int sec_backoff_new(const sec_backoff_config *c, sec_backoff **out);
void sec_backoff_free(sec_backoff *b);

/* Before checking a password: may an attempt on `account` from `address`
 * be checked at now_ms? Either key may be NULL or "" (not tracked then).
 * The account name should be normalised by the caller (e.g. lower-cased
 * e-mail) and is tracked whether or not the account exists, so the answer
 * does not reveal which accounts exist. Returns 0 (go ahead) or LOOM_EAGAIN
 * with *retry_after_ms (may be NULL) = ms until the later of the two delays
 * ends; the attempt must then be refused unchecked (HTTP 429 with
 * Retry-After). Does not change the state. */
int sec_backoff_check(const sec_backoff *b, const char *account, const char *address,
                      uint64_t now_ms, uint64_t *retry_after_ms);

/* Record a failed attempt (wrong password, unknown account). *delay_ms (may
 * be NULL) receives the delay now imposed (0 while within the allowance).
 * Returns 0 or LOOM_ENOMEM (nothing could be recorded: callers should refuse
 * logins while that persists). */
int sec_backoff_fail(sec_backoff *b, const char *account, const char *address, uint64_t now_ms,
                     uint64_t *delay_ms);

/* Record a successful login: forgets the account's count. */
void sec_backoff_success(sec_backoff *b, const char *account);

/* Drop keys that are quiet (past their delay and window) at now_ms; call it
 * now and then (e.g. every minute) to return memory early. */
void sec_backoff_sweep(sec_backoff *b, uint64_t now_ms);

/* Keys tracked now: accounts + addresses (for /metrics and tests). */
size_t sec_backoff_entries(const sec_backoff *b);

#endif
