/* SPDX-License-Identifier: Apache-2.0
 * API token authentication: the one place where requests are checked.
 * Tokens are stored only as hashes (BLAKE2b-256, libsodium). On first start
 * an admin token is generated, its hash written to DATA/auth/admin.hash and
 * the token itself to DATA/admin.token (mode 0600) for the operator; or the
 * token comes from LOOM_ADMIN_TOKEN. Roles and tenants grow here later.
 */
#ifndef LOOM_SEC_AUTH_H
#define LOOM_SEC_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define SEC_HASH_LEN 32

typedef struct sec_auth {
  unsigned char admin_hash[SEC_HASH_LEN];
  char tenant[32]; /* "default" */
} sec_auth;

/* Load or create the admin credential under data_dir. env_token (may be
 * NULL) overrides. If a token was generated, *new_token receives it
 * (loom_malloc'd, caller frees; print it once), else NULL. 0 or LOOM_E*
 * with err filled. */
int sec_auth_init(sec_auth *a, const char *data_dir, const char *env_token, char **new_token,
                  char *err, size_t errlen);

/* Extract the token a request presents, from (in order) the Authorization
 * header ("Token t", "Bearer t", "Basic base64(user:t)") or the u/p query
 * parameters (p is the token). Pure; returns 0 and the token in out (NUL-
 * terminated), or LOOM_EAUTH if none is presented or it is malformed. */
int sec_auth_extract(const char *authorization, const char *param_p, char *out, size_t cap);

/* Constant-time check of a presented token. */
bool sec_auth_check(const sec_auth *a, const char *token);

#endif
