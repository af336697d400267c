/* SPDX-License-Identifier: Apache-2.0
 * Secret generation, hashing and shape checks for bearer tokens (see
 * token.h). Stateless: libsodium supplies randomness and BLAKE2b.
 */
#include "sec/token.h"

#include <sodium.h>
#include <string.h>

#include "core/err.h"

static const char *prefix_of(sec_token_kind kind) {
  switch (kind) {
  case SEC_TOKEN_SESSION: return "lm_s_";
  case SEC_TOKEN_API: return "lm_a_";
  case SEC_TOKEN_DEVICE: return "lm_d_";
  }
  return NULL;
}

int sec_token_generate(sec_token_kind kind, char out[SEC_TOKEN_TEXT_MAX]) {
  const char *prefix = prefix_of(kind);
  unsigned char raw[SEC_TOKEN_RAW_LEN];
  if (!prefix || !out) return LOOM_EINVAL;
  if (sodium_init() < 0) return LOOM_EIO;
  randombytes_buf(raw, sizeof raw);
  memcpy(out, prefix, SEC_TOKEN_PREFIX_LEN);
  sodium_bin2base64(out + SEC_TOKEN_PREFIX_LEN, SEC_TOKEN_TEXT_MAX - SEC_TOKEN_PREFIX_LEN, raw,
                    sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  return 0;
}

void sec_token_hash(const char *token, size_t len, unsigned char out[SEC_TOKEN_HASH_LEN]) {
  crypto_generichash(out, SEC_TOKEN_HASH_LEN, (const unsigned char *)token, len, NULL, 0);
}

bool sec_token_hash_equal(const unsigned char a[SEC_TOKEN_HASH_LEN],
                          const unsigned char b[SEC_TOKEN_HASH_LEN]) {
  return sodium_memcmp(a, b, SEC_TOKEN_HASH_LEN) == 0;
}

void sec_token_hash_hex(const unsigned char h[SEC_TOKEN_HASH_LEN], char out[SEC_TOKEN_HEX_MAX]) {
  sodium_bin2hex(out, SEC_TOKEN_HEX_MAX, h, SEC_TOKEN_HASH_LEN);
}

int sec_token_parse_kind(const char *token, size_t len, sec_token_kind *kind) {
  static const sec_token_kind kinds[] = {SEC_TOKEN_SESSION, SEC_TOKEN_API, SEC_TOKEN_DEVICE};
  unsigned char raw[SEC_TOKEN_RAW_LEN + 1];
  size_t raw_len = 0;
  const char *end = NULL;
  if (!token || len != SEC_TOKEN_TEXT_LEN) return LOOM_EINVAL;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (memcmp(token, prefix_of(kinds[i]), SEC_TOKEN_PREFIX_LEN)) continue;
    if (sodium_base642bin(raw, sizeof raw, token + SEC_TOKEN_PREFIX_LEN,
                          len - SEC_TOKEN_PREFIX_LEN, NULL, &raw_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        raw_len != SEC_TOKEN_RAW_LEN || end != token + len)
      return LOOM_EINVAL;
    *kind = kinds[i];
    return 0;
  }
  return LOOM_EINVAL;
}

const char *sec_token_kind_name(sec_token_kind kind) {
  switch (kind) {
  case SEC_TOKEN_SESSION: return "session";
  case SEC_TOKEN_API: return "api";
  case SEC_TOKEN_DEVICE: return "device";
  }
  return "unknown";
}
