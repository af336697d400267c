/* SPDX-License-Identifier: Apache-2.0
 * Principal resolution and its one-second cache (principal.h). The cache is
 * a direct-mapped table of API_PRINCIPAL_SLOTS entries keyed by the token
 * hash under one mutex: a probe is a memcmp of 32 bytes.
 */
#include "api/principal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

typedef struct slot {
  uint8_t hash[SEC_TOKEN_HASH_LEN];
  int64_t expires_ms; /* monotonic; 0 = empty */
  api_who who;
} slot;

struct api_principals {
  pthread_mutex_t lock;
  slot slots[API_PRINCIPAL_SLOTS];
};

int api_principals_new(api_principals **out) {
  api_principals *c = loom_calloc(1, sizeof *c);
  if (!c) return LOOM_ENOMEM;
  pthread_mutex_init(&c->lock, NULL);
  *out = c;
  return 0;
}

void api_principals_free(api_principals *c) {
  if (!c) return;
  pthread_mutex_destroy(&c->lock);
  loom_free(c);
}

/* Bounded copy (truncating; always NUL-terminated). */
static void cpy(char *dst, size_t cap, const char *src) {
  size_t n = src ? strnlen(src, cap - 1) : 0;
  if (n) memcpy(dst, src, n);
  dst[n] = 0;
}

static size_t slot_of(const uint8_t hash[SEC_TOKEN_HASH_LEN]) {
  return ((size_t)hash[0] | (size_t)hash[1] << 8) % API_PRINCIPAL_SLOTS;
}

int api_who_fast(api_principals *c, const sec_auth *auth, const char *token,
                 uint8_t hash[SEC_TOKEN_HASH_LEN], int64_t now_ms, api_who *out) {
  memset(out, 0, sizeof *out);
  if (!token || !*token) return API_WHO_ANONYMOUS;
  if (auth && sec_auth_check(auth, token)) {
    out->p.kind = SEC_PRINCIPAL_API_TOKEN;
    out->p.role = SEC_ROLE_PLATFORM_ADMIN;
    out->p.scope = SEC_SCOPE_ADMIN;
    snprintf(out->p.subject_id, sizeof out->p.subject_id, "admin-token");
    return API_WHO_OK;
  }
  size_t len = strlen(token);
  sec_token_kind kind;
  if (sec_token_parse_kind(token, len, &kind) || kind == SEC_TOKEN_DEVICE) return API_WHO_ANONYMOUS;
  sec_token_hash(token, len, hash);
  if (!c) return API_WHO_LOOKUP;
  int rc = API_WHO_LOOKUP;
  pthread_mutex_lock(&c->lock);
  slot *s = &c->slots[slot_of(hash)];
  if (s->expires_ms > now_ms && sec_token_hash_equal(s->hash, hash)) {
    *out = s->who;
    rc = API_WHO_OK;
  }
  pthread_mutex_unlock(&c->lock);
  return rc;
}

int api_who_from_token(const meta_token_info *t, sec_principal *p) {
  memset(p, 0, sizeof *p);
  sec_role role;
  sec_scope scope;
  if (sec_role_parse(t->role, &role) || sec_scope_parse(t->scope, &scope)) return LOOM_EINVAL;
  bool session = !strcmp(t->kind, "session");
  p->kind = session ? SEC_PRINCIPAL_USER : SEC_PRINCIPAL_API_TOKEN;
  p->role = role;
  p->scope = session ? SEC_SCOPE_ADMIN : scope;
  cpy(p->tenant_id, sizeof p->tenant_id, t->tenant_id);
  cpy(p->region_code, sizeof p->region_code, t->region_code);
  cpy(p->subject_id, sizeof p->subject_id, t->user_id);
  return 0;
}

int api_who_lookup(api_principals *c, meta_store *m, const uint8_t hash[SEC_TOKEN_HASH_LEN],
                   int64_t now_mono_ms, int64_t now_wall_ms, api_who *out) {
  memset(out, 0, sizeof *out);
  if (!m) return LOOM_EAUTH;
  meta_token_info t;
  int rc = meta_token_by_hash(m, hash, now_wall_ms, &t);
  if (rc == LOOM_ENOTFOUND || rc == LOOM_EAUTH) return LOOM_EAUTH;
  if (rc) return rc;
  if (api_who_from_token(&t, &out->p)) return LOOM_EAUTH;
  cpy(out->token_id, sizeof out->token_id, t.id);
  if (t.tenant_id[0]) {
    json_t *ten = NULL;
    rc = meta_get(m, META_TENANT, NULL, t.tenant_id, &ten, NULL, 0);
    if (rc == LOOM_ENOTFOUND) return LOOM_EAUTH;
    if (rc) return rc;
    const char *db = json_string_value(json_object_get(ten, "db_name"));
    const char *region = json_string_value(json_object_get(ten, "region_code"));
    cpy(out->db_name, sizeof out->db_name, db ? db : "");
    /* a tenant user's region is its tenant's */
    if (region && !out->p.region_code[0])
      cpy(out->p.region_code, sizeof out->p.region_code, region);
    json_decref(ten);
  }
  meta_token_touch(m, t.id, now_wall_ms); /* best effort: at most one write a minute */
  if (c) {
    pthread_mutex_lock(&c->lock);
    slot *s = &c->slots[slot_of(hash)];
    memcpy(s->hash, hash, SEC_TOKEN_HASH_LEN);
    s->who = *out;
    int64_t until = t.expires_ms ? now_mono_ms + (t.expires_ms - now_wall_ms) : INT64_MAX;
    s->expires_ms = now_mono_ms + API_PRINCIPAL_TTL_MS;
    if (until < s->expires_ms) s->expires_ms = until;
    pthread_mutex_unlock(&c->lock);
  }
  return 0;
}

void api_who_forget(api_principals *c, const uint8_t hash[SEC_TOKEN_HASH_LEN]) {
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  slot *s = &c->slots[slot_of(hash)];
  if (sec_token_hash_equal(s->hash, hash)) s->expires_ms = 0;
  pthread_mutex_unlock(&c->lock);
}
