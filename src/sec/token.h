/* SPDX-License-Identifier: Apache-2.0
 * Bearer secrets for sessions, API tokens and devices: generation, the
 * stored hash (BLAKE2b-256, the same as sec/auth.c uses for the admin token)
 * and a constant-time comparison of hashes. Only the hash is ever stored
 * (meta/ keeps it as a 32-byte BLOB); the secret is shown to its owner once.
 *
 * Text format of a generated secret (48 ASCII characters):
 *   "lm_" <kind letter> "_" <43 characters: 32 random bytes, base64url, no padding>
 *   kind letter: 's' session, 'a' API token, 'd' device access token.
 */
#ifndef LOOM_SEC_TOKEN_H
#define LOOM_SEC_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define SEC_TOKEN_RAW_LEN 32  /* random bytes in a secret */
#define SEC_TOKEN_PREFIX_LEN 5 /* "lm_s_" */
#define SEC_TOKEN_TEXT_LEN 48 /* characters of a generated secret, without the NUL */
#define SEC_TOKEN_TEXT_MAX 49 /* buffer size for a generated secret */
#define SEC_TOKEN_HASH_LEN 32 /* BLAKE2b-256 */
#define SEC_TOKEN_HEX_MAX 65  /* buffer size for a hash in hex */

typedef enum sec_token_kind {
  SEC_TOKEN_SESSION = 1, /* "lm_s_": login session (revocable) */
  SEC_TOKEN_API = 2,     /* "lm_a_": user-created API token with a scope */
  SEC_TOKEN_DEVICE = 3   /* "lm_d_": device access token */
} sec_token_kind;

/* Generate a new secret of `kind` into out (NUL-terminated, exactly
 * SEC_TOKEN_TEXT_LEN characters). Uses libsodium's CSPRNG. Returns 0,
 * LOOM_EINVAL for an unknown kind or a NULL out, LOOM_EIO if libsodium
 * cannot initialise. Any thread. */
int sec_token_generate(sec_token_kind kind, char out[SEC_TOKEN_TEXT_MAX]);

/* The stored form of a presented secret: BLAKE2b-256 (unkeyed) over its
 * len bytes. Any string may be hashed (devices may carry user-chosen tokens,
 * as ThingsBoard allows). Pure; any thread. */
void sec_token_hash(const char *token, size_t len, unsigned char out[SEC_TOKEN_HASH_LEN]);

/* Constant-time equality of two hashes (libsodium sodium_memcmp). */
bool sec_token_hash_equal(const unsigned char a[SEC_TOKEN_HASH_LEN],
                          const unsigned char b[SEC_TOKEN_HASH_LEN]);

/* Lower-case hex of a hash into out (64 characters + NUL). */
void sec_token_hash_hex(const unsigned char h[SEC_TOKEN_HASH_LEN], char out[SEC_TOKEN_HEX_MAX]);

/* Kind of a presented secret from its shape: the prefix, exactly 43
 * base64url characters that decode to 32 bytes, nothing else. Returns 0 and
 * *kind, or LOOM_EINVAL if it is not a secret Loom generated (the caller may
 * still look up such a string by hash, e.g. a user-chosen device token).
 * Reveals nothing secret (the check is on the format only). Pure. */
int sec_token_parse_kind(const char *token, size_t len, sec_token_kind *kind);

/* "session", "api", "device", or "unknown". Static storage. */
const char *sec_token_kind_name(sec_token_kind kind);

#endif
