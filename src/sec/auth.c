/* SPDX-License-Identifier: Apache-2.0
 * Admin token creation, storage as a hash, and checking (see auth.h).
 */
#include "sec/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"

static void hash_token(const char *token, unsigned char out[SEC_HASH_LEN]) {
  crypto_generichash(out, SEC_HASH_LEN, (const unsigned char *)token, strlen(token), NULL, 0);
}

static int read_file(const char *path, char *buf, size_t cap, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return loom_from_errno(errno);
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return LOOM_EIO;
  buf[n] = 0;
  *len = (size_t)n;
  return 0;
}

int sec_auth_init(sec_auth *a, const char *data_dir, const char *env_token, char **new_token,
                  char *err, size_t errlen) {
  memset(a, 0, sizeof *a);
  snprintf(a->tenant, sizeof a->tenant, "default");
  *new_token = NULL;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return LOOM_EIO;
  }
  if (env_token && *env_token) {
    if (strlen(env_token) < 8) {
      snprintf(err, errlen, "LOOM_ADMIN_TOKEN must be at least 8 characters");
      return LOOM_EINVAL;
    }
    hash_token(env_token, a->admin_hash);
    return 0;
  }
  char dir[4096], path[4200], text[256];
  snprintf(dir, sizeof dir, "%s/auth", data_dir);
  snprintf(path, sizeof path, "%s/admin.hash", dir);
  size_t len = 0;
  if (!read_file(path, text, sizeof text, &len)) {
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = 0;
    size_t bin_len;
    if (sodium_hex2bin(a->admin_hash, SEC_HASH_LEN, text, len, NULL, &bin_len, NULL) ||
        bin_len != SEC_HASH_LEN) {
      snprintf(err, errlen, "%s: not a valid token hash", path);
      return LOOM_ECORRUPT;
    }
    return 0;
  }
  int rc = loom_mkdir_p(dir);
  if (rc) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return rc;
  }
  unsigned char raw[24];
  randombytes_buf(raw, sizeof raw);
  char *tok = loom_malloc(sizeof raw * 2 + 8);
  if (!tok) return LOOM_ENOMEM;
  memcpy(tok, "loom_", 5);
  sodium_bin2hex(tok + 5, sizeof raw * 2 + 1, raw, sizeof raw);
  hash_token(tok, a->admin_hash);
  char hex[SEC_HASH_LEN * 2 + 2];
  sodium_bin2hex(hex, sizeof hex, a->admin_hash, SEC_HASH_LEN);
  strcat(hex, "\n");
  char tpath[4200], line[128];
  snprintf(tpath, sizeof tpath, "%s/admin.token", data_dir);
  snprintf(line, sizeof line, "%s\n", tok);
  if ((rc = loom_write_file_atomic(tpath, line, strlen(line), 0600)) ||
      (rc = loom_write_file_atomic(path, hex, strlen(hex), 0600))) {
    snprintf(err, errlen, "cannot write the admin token under %s: %s", data_dir, loom_strerror(rc));
    loom_free(tok);
    return rc;
  }
  *new_token = tok;
  return 0;
}

int sec_auth_extract(const char *authz, const char *param_p, char *out, size_t cap) {
  if (authz && *authz) {
    const char *sp = strchr(authz, ' ');
    if (!sp) return LOOM_EAUTH;
    size_t scheme = (size_t)(sp - authz);
    while (*sp == ' ') sp++;
    size_t n = strlen(sp);
    while (n && sp[n - 1] == ' ') n--;
    if ((scheme == 5 && !strncasecmp(authz, "Token", 5)) ||
        (scheme == 6 && !strncasecmp(authz, "Bearer", 6))) {
      if (!n || n >= cap) return LOOM_EAUTH;
      memcpy(out, sp, n);
      out[n] = 0;
      return 0;
    }
    if (scheme == 5 && !strncasecmp(authz, "Basic", 5)) {
      unsigned char dec[512];
      size_t dl;
      if (n >= 680 || sodium_base642bin(dec, sizeof dec - 1, sp, n, NULL, &dl, NULL,
                                        sodium_base64_VARIANT_ORIGINAL))
        return LOOM_EAUTH;
      dec[dl] = 0;
      const char *colon = memchr(dec, ':', dl);
      if (!colon) return LOOM_EAUTH;
      size_t pl = dl - (size_t)((const unsigned char *)colon + 1 - dec);
      if (!pl || pl >= cap) return LOOM_EAUTH;
      memcpy(out, colon + 1, pl);
      out[pl] = 0;
      return 0;
    }
    return LOOM_EAUTH;
  }
  if (param_p && *param_p) {
    size_t n = strlen(param_p);
    if (n >= cap) return LOOM_EAUTH;
    memcpy(out, param_p, n + 1);
    return 0;
  }
  return LOOM_EAUTH;
}

bool sec_auth_check(const sec_auth *a, const char *token) {
  unsigned char h[SEC_HASH_LEN];
  hash_token(token, h);
  return sodium_memcmp(h, a->admin_hash, SEC_HASH_LEN) == 0;
}
