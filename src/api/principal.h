/* SPDX-License-Identifier: Apache-2.0
 * Who is asking: turns the secret a request presents into a sec_principal.
 * The admin token (sec/auth) is a platform admin; "lm_s_" session and
 * "lm_a_" API tokens are looked up in the registry (meta_token_by_hash) and
 * become the user's principal (role, tenant, region, token scope); anything
 * else, and revoked or expired tokens and disabled users, is anonymous (401).
 * A small cache keeps recent look-ups for at most one second, so /write and
 * /query cost a hash and a table probe, and a revocation takes effect within
 * a second.
 */
#ifndef LOOM_API_PRINCIPAL_H
#define LOOM_API_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/meta.h"
#include "sec/auth.h"
#include "sec/policy.h"
#include "sec/token.h"

#define API_PRINCIPAL_TTL_MS 1000 /* a cached principal is trusted this long */
#define API_PRINCIPAL_SLOTS 1024  /* cache entries (direct-mapped by hash) */

typedef struct api_principals api_principals;

/* A resolved principal and what the API needs besides it. */
typedef struct api_who {
  sec_principal p;
  char db_name[65];               /* the tenant's engine database, "" for platform users */
  char token_id[META_ID_LEN + 1]; /* "" for the admin token */
} api_who;

/* Cache: 0 or LOOM_ENOMEM. free: NULL is a no-op. Thread-safe (one mutex). */
int api_principals_new(api_principals **out);
void api_principals_free(api_principals *c);

/* Outcome of the fast path. */
enum {
  API_WHO_OK = 0,        /* *out filled */
  API_WHO_ANONYMOUS = 1, /* no usable secret: 401 */
  API_WHO_LOOKUP = 2     /* a registry look-up is needed: call api_who_lookup on a worker */
};

/* Fast path, any thread, no I/O: the admin token, or a cached entry for the
 * token hash (hash[] is filled for the caller whenever the token has the
 * shape of a session or API token). now_ms: the monotonic clock in ms. */
int api_who_fast(api_principals *c, const sec_auth *auth, const char *token,
                 uint8_t hash[SEC_TOKEN_HASH_LEN], int64_t now_ms, api_who *out);

/* Slow path, worker thread: look the token up (meta_token_by_hash, its
 * tenant's database and region, meta_token_touch) and cache the result.
 * 0 and *out; LOOM_EAUTH (unknown, revoked, expired, user disabled); LOOM_EIO. */
int api_who_lookup(api_principals *c, meta_store *m, const uint8_t hash[SEC_TOKEN_HASH_LEN],
                   int64_t now_mono_ms, int64_t now_wall_ms, api_who *out);

/* Drop the cached entry of a token hash (logout). */
void api_who_forget(api_principals *c, const uint8_t hash[SEC_TOKEN_HASH_LEN]);

/* Fill p from a token's registry record (pure; unknown role or scope names
 * give LOOM_EINVAL). */
int api_who_from_token(const meta_token_info *t, sec_principal *p);

#endif
