/* SPDX-License-Identifier: Apache-2.0
 * argon2id password hashing via libsodium and the password policy (see
 * password.h). Stateless.
 */
#include "sec/password.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

void sec_password_limits_default(sec_password_limits *l) {
  l->opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  l->memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
}

void sec_password_limits_min(sec_password_limits *l) {
  l->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
  l->memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
}

static int limits_ok(const sec_password_limits *l) {
  return l && l->opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
         l->opslimit <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
         l->memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
         (unsigned long long)l->memlimit <= (unsigned long long)crypto_pwhash_argon2id_MEMLIMIT_MAX;
}

int sec_password_hash(const sec_password_limits *l, const char *pw,
                      char out[SEC_PASSWORD_HASH_MAX]) {
  if (!pw || !out || !limits_ok(l)) return LOOM_EINVAL;
  size_t n = strnlen(pw, SEC_PASSWORD_MAX_BYTES + 1);
  if (n > SEC_PASSWORD_MAX_BYTES) return LOOM_EINVAL;
  if (sodium_init() < 0) return LOOM_EIO;
  if (crypto_pwhash_argon2id_str(out, pw, n, l->opslimit, l->memlimit) != 0)
    return LOOM_ENOMEM; /* the only runtime failure is argon2's allocation */
  return 0;
}

static bool hash_shape_ok(const char *hash) {
  static const char pfx[] = crypto_pwhash_argon2id_STRPREFIX; /* "$argon2id$" */
  return hash && strnlen(hash, SEC_PASSWORD_HASH_MAX) < SEC_PASSWORD_HASH_MAX &&
         !strncmp(hash, pfx, sizeof pfx - 1);
}

int sec_password_verify(const char *hash, const char *pw) {
  if (!pw || !hash_shape_ok(hash)) return LOOM_EINVAL;
  size_t n = strnlen(pw, SEC_PASSWORD_MAX_BYTES + 1);
  if (n > SEC_PASSWORD_MAX_BYTES) return LOOM_EINVAL;
  if (sodium_init() < 0) return LOOM_EIO;
  /* libsodium's verify reports a mismatch and an unparsable hash alike;
   * its re-hash check parses the string without hashing, so use it first */
  if (crypto_pwhash_argon2id_str_needs_rehash(hash, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                              crypto_pwhash_argon2id_MEMLIMIT_MIN) < 0)
    return LOOM_EINVAL;
  return crypto_pwhash_argon2id_str_verify(hash, pw, n) == 0 ? 0 : LOOM_EAUTH;
}

int sec_password_needs_rehash(const sec_password_limits *l, const char *hash) {
  if (!hash_shape_ok(hash) || !limits_ok(l)) return LOOM_EINVAL;
  if (sodium_init() < 0) return LOOM_EIO;
  int r = crypto_pwhash_argon2id_str_needs_rehash(hash, l->opslimit, l->memlimit);
  if (r < 0) return LOOM_EINVAL;
  return r ? 1 : 0;
}

int sec_password_spend(const sec_password_limits *l) {
  char out[SEC_PASSWORD_HASH_MAX];
  return sec_password_hash(l, "loom-timing-equaliser", out);
}

/* Decode one UTF-8 code point at s (n bytes left); 0 on malformed input
 * (overlong forms, surrogates, > U+10FFFF, truncation), else its length. */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if ((c & 0xE0) == 0xC0) len = 2, min = 0x80, c &= 0x1F;
  else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800, c &= 0x0F;
  else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000, c &= 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = c << 6 | (s[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

static int refuse(char *msg, size_t msglen, const char *text) {
  if (msg && msglen) snprintf(msg, msglen, "%s", text);
  return LOOM_EINVAL;
}

int sec_password_check_policy(const char *pw, char *msg, size_t msglen) {
  enum { LOWER = 1, UPPER = 2, DIGIT = 4, OTHER = 8 };
  if (!pw) return refuse(msg, msglen, "a password is required");
  const unsigned char *s = (const unsigned char *)pw;
  size_t n = strnlen(pw, SEC_PASSWORD_MAX_BYTES + 1), chars = 0;
  unsigned classes = 0;
  if (n > SEC_PASSWORD_MAX_BYTES)
    return refuse(msg, msglen, "the password must be at most 128 characters long");
  for (size_t i = 0; i < n;) {
    unsigned cp;
    size_t len = utf8_next(s + i, n - i, &cp);
    if (!len) return refuse(msg, msglen, "the password is not valid UTF-8 text");
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
      return refuse(msg, msglen, "the password must not contain control characters");
    if (cp >= 'a' && cp <= 'z') classes |= LOWER;
    else if (cp >= 'A' && cp <= 'Z') classes |= UPPER;
    else if (cp >= '0' && cp <= '9') classes |= DIGIT;
    else classes |= OTHER;
    chars++;
    i += len;
  }
  if (chars < SEC_PASSWORD_MIN_CHARS)
    return refuse(msg, msglen, "the password must be at least 8 characters long");
  if (chars > SEC_PASSWORD_MAX_CHARS)
    return refuse(msg, msglen, "the password must be at most 128 characters long");
  if (classes == LOWER || classes == UPPER || classes == DIGIT || classes == OTHER)
    return refuse(msg, msglen,
                  "the password must mix at least two kinds of characters (lower-case, "
                  "upper-case, digits, other symbols)");
  if (msg && msglen) msg[0] = 0;
  return 0;
}
