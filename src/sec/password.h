/* SPDX-License-Identifier: Apache-2.0
 * User passwords: argon2id hashing and verification (libsodium
 * crypto_pwhash_str*), a re-hash check when the cost limits change, and the
 * password policy. meta/ stores the hash string this module produces
 * ("$argon2id$v=19$m=...,t=...,p=1$salt$hash", NUL-terminated ASCII,
 * < SEC_PASSWORD_HASH_MAX bytes); nothing else ever sees a password.
 */
#ifndef LOOM_SEC_PASSWORD_H
#define LOOM_SEC_PASSWORD_H

#include <stddef.h>

#define SEC_PASSWORD_HASH_MAX 128     /* buffer for a hash string (crypto_pwhash_STRBYTES) */
#define SEC_PASSWORD_MIN_CHARS 8      /* policy: at least 8 characters (code points) */
#define SEC_PASSWORD_MAX_CHARS 128    /* policy: at most 128 characters */
#define SEC_PASSWORD_MAX_BYTES 1024   /* hash/verify refuse longer input (cost bound) */

/* argon2id cost. Production uses sec_password_limits_default (libsodium
 * OPSLIMIT_INTERACTIVE = 2 passes, MEMLIMIT_INTERACTIVE = 64 MiB: about
 * 50-100 ms per hash on one core). Tests use sec_password_limits_min
 * (1 pass, 8 KiB: microseconds) so they stay fast; a hash made with either
 * verifies with any limits, as the parameters are stored in the string. */
typedef struct sec_password_limits {
  unsigned long long opslimit; /* argon2 passes */
  size_t memlimit;             /* bytes */
} sec_password_limits;

void sec_password_limits_default(sec_password_limits *l);
/* Minimum cost libsodium accepts. Tests only: never for real passwords. */
void sec_password_limits_min(sec_password_limits *l);

/* Hash pw (NUL-terminated) into out with a fresh random salt. Does not apply
 * the policy (call sec_password_check_policy first for new passwords).
 * Returns 0, LOOM_EINVAL (NULL argument, limits out of libsodium's range, or
 * pw longer than SEC_PASSWORD_MAX_BYTES), LOOM_ENOMEM (argon2 could not get
 * its memory), LOOM_EIO (libsodium failed to initialise). Blocks for the
 * hash's duration: call from a worker thread, never a loop thread. */
int sec_password_hash(const sec_password_limits *l, const char *pw,
                      char out[SEC_PASSWORD_HASH_MAX]);

/* Check pw against a stored hash string, in time independent of where the
 * password differs. Returns 0 on match, LOOM_EAUTH on mismatch, LOOM_EINVAL
 * if hash is NULL/malformed/not argon2id or pw is NULL or too long. Blocks
 * like sec_password_hash. */
int sec_password_verify(const char *hash, const char *pw);

/* Does a stored hash use other limits than l (so it should be re-hashed
 * after the next successful login)? Returns 1 yes, 0 no, LOOM_EINVAL for a
 * malformed hash. Cheap (parses the string). */
int sec_password_needs_rehash(const sec_password_limits *l, const char *hash);

/* Spend the time of one hash with limits l and discard the result. Login
 * calls this when the account does not exist, so a response's timing does
 * not reveal which accounts exist. Returns 0 or as sec_password_hash. */
int sec_password_spend(const sec_password_limits *l);

/* Policy for a new password: valid UTF-8 without control characters,
 * SEC_PASSWORD_MIN_CHARS..SEC_PASSWORD_MAX_CHARS characters (code points),
 * and characters from at least two of the classes lower-case letter,
 * upper-case letter, digit, other (punctuation, space, non-ASCII).
 * Returns 0, or LOOM_EINVAL with a sentence for the user in msg (msg may be
 * NULL when msglen is 0). Pure. */
int sec_password_check_policy(const char *pw, char *msg, size_t msglen);

#endif
