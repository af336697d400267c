/* SPDX-License-Identifier: Apache-2.0
 * The declarative entity table: one line per column of every entity the
 * generic CRUD in crud.c serves (type, what callers may write, what is
 * required, filterable, sortable, searched, secret, and its validation).
 * Adding a column is a migration in schema.c plus one line here.
 */
#include <string.h>

#include "core/err.h"
#include "meta/meta_int.h"

static const char *const roles[] = {"platform_admin", "tenant_admin", "engineer", "operator",
                                    "viewer", "regional_observer", NULL};
static const char *const token_kinds[] = {"session", "api", NULL};
static const char *const token_scopes[] = {"read", "write", "admin", NULL};
static const char *const key_types[] = {"float", "int", "bool", "string", NULL};
static const char *const dev_states[] = {"online", "offline", NULL};
static const char *const uns_payloads[] = {"auto", "json", "plain", NULL};
static const char *const rpc_statuses[] = {"queued", "sent", "delivered", "successful",
                                           "failed", "timeout", "expired", NULL};

/* Engine database names: 1..64 of [A-Za-z0-9_-] (they name directories). */
static int check_db_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return -1;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-'))
      return -1;
  }
  return 0;
}

/* A plausible e-mail address: one '@' with text on both sides, no spaces or
 * control characters. Deliverability is not the store's business. */
static int check_email(const char *s) {
  const char *at = strchr(s, '@');
  if (!at || at == s || !at[1] || strchr(at + 1, '@')) return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p <= ' ' || *p == 0x7f) return -1;
  return 0;
}

/* Names shown to people and used as device tags: non-empty, no control
 * characters. */
static int check_name(const char *s) {
  if (!*s) return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < ' ' || *p == 0x7f) return -1;
  return 0;
}

#define ID_COL {"id", MT_ID, MC_SORT, NULL, 0, 0, -1, NULL, NULL}
#define TENANT_COL {"tenant_id", MT_ID, MC_FILTER, NULL, 0, 0, META_TENANT, NULL, NULL}
#define TIME_COLS                                                  \
  {"created_ms", MT_INT, MC_SORT, NULL, 0, 0, -1, NULL, NULL},    \
  {"updated_ms", MT_INT, MC_SORT, NULL, 0, 0, -1, NULL, NULL}
#define NAME_COL(fl) {"name", MT_TEXT, (fl), NULL, 0, 255, -1, check_name, "must be non-empty text without control characters"}
#define TEXT(nm, fl, mx) {nm, MT_TEXT, (fl), NULL, 0, (mx), -1, NULL, NULL}
#define ENUM(nm, fl, list) {nm, MT_TEXT, (fl), list, 0, 0, -1, NULL, NULL}
#define REF(nm, fl, kind) {nm, MT_ID, (fl), NULL, 0, 0, kind, NULL, NULL}

/* clang-format off */
static const meta_col tenant_cols[] = {
  ID_COL,
  NAME_COL(MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH),
  TEXT("industry",    MC_W | MC_NULL | MC_FILTER | MC_SORT, 64),
  TEXT("region_code", MC_W | MC_NULL | MC_FILTER | MC_SORT, 15), /* fits sec_principal */
  {"db_name", MT_TEXT, MC_CREATE | MC_REQ | MC_FILTER | MC_SORT, NULL, 0, 64, -1, check_db_name,
   "must be 1-64 characters of A-Z a-z 0-9 _ -"},
  TIME_COLS,
};

static const meta_col user_cols[] = {
  ID_COL,
  TENANT_COL,
  {"email", MT_TEXT, MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH, NULL, 0, 254, -1,
   check_email, "must be an e-mail address"},
  TEXT("name",          MC_W | MC_NULL | MC_SORT | MC_SEARCH, 255),
  ENUM("role",          MC_W | MC_REQ | MC_FILTER | MC_SORT, roles),
  TEXT("region_code",   MC_W | MC_NULL | MC_FILTER | MC_SORT, 15),
  TEXT("password_hash", MC_W | MC_NULL | MC_SECRET, 512),
  {"disabled", MT_BOOL, MC_W | MC_FILTER | MC_SORT, NULL, 0, 0, -1, NULL, NULL},
  TIME_COLS,
};

static const meta_col token_cols[] = {
  ID_COL,
  TENANT_COL,
  REF("user_id",       MC_FILTER, META_USER),
  ENUM("kind",         MC_FILTER | MC_SORT, token_kinds),
  ENUM("scope",        MC_FILTER | MC_SORT, token_scopes),
  TEXT("name",         MC_UPDATE | MC_NULL | MC_SORT | MC_SEARCH, 255),
  {"hash", MT_HASH, MC_SECRET, NULL, 0, 0, -1, NULL, NULL},
  TIME_COLS,
  {"expires_ms",   MT_INT, MC_SORT | MC_NULL, NULL, 0, 0, -1, NULL, NULL},
  {"revoked_ms",   MT_INT, MC_SORT | MC_NULL | MC_FILTER, NULL, 0, 0, -1, NULL, NULL},
  {"last_used_ms", MT_INT, MC_SORT | MC_NULL, NULL, 0, 0, -1, NULL, NULL},
};

static const meta_col asset_cols[] = {
  ID_COL,
  TENANT_COL,
  REF("parent_id",     MC_W | MC_NULL | MC_FILTER, META_ASSET),
  NAME_COL(MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH),
  TEXT("type",         MC_W | MC_REQ | MC_FILTER | MC_SORT, 64),
  TEXT("description",  MC_W | MC_NULL, 1024),
  TIME_COLS,
};

static const meta_col profile_cols[] = {
  ID_COL,
  TENANT_COL,
  NAME_COL(MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH),
  TEXT("description",           MC_W | MC_NULL, 1024),
  TEXT("provision_key",         MC_W | MC_NULL, 128),
  TEXT("provision_secret_hash", MC_W | MC_NULL | MC_SECRET, 512),
  TIME_COLS,
};

static const meta_col profile_key_cols[] = {
  ID_COL,
  TENANT_COL,
  REF("profile_id",  MC_CREATE | MC_REQ | MC_FILTER, META_PROFILE),
  {"key", MT_TEXT, MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH, NULL, 0, 255, -1, check_name,
   "must be non-empty text without control characters"},
  ENUM("type",       MC_W | MC_REQ | MC_FILTER | MC_SORT, key_types),
  TEXT("unit",       MC_W | MC_NULL | MC_FILTER, 32),
  {"min",   MT_REAL, MC_W | MC_NULL, NULL, 0, 0, -1, NULL, NULL},
  {"max",   MT_REAL, MC_W | MC_NULL, NULL, 0, 0, -1, NULL, NULL},
  {"level", MT_INT,  MC_W | MC_FILTER | MC_SORT, NULL, 1, 3, -1, NULL, NULL},
  TIME_COLS,
};

static const meta_col device_cols[] = {
  ID_COL,
  TENANT_COL,
  REF("profile_id",  MC_W | MC_REQ | MC_FILTER, META_PROFILE),
  REF("asset_id",    MC_W | MC_NULL | MC_FILTER, META_ASSET),
  NAME_COL(MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH),
  TEXT("label",      MC_W | MC_NULL | MC_SORT | MC_SEARCH, 255),
  {"labels", MT_JSON, MC_W | MC_OBJECT, NULL, 0, 16384, -1, NULL, NULL},
  {"token_hash", MT_HASH, MC_W | MC_NULL | MC_SECRET, NULL, 0, 0, -1, NULL, NULL},
  TEXT("mqtt_username",      MC_W | MC_NULL | MC_FILTER, 128),
  TEXT("mqtt_password_hash", MC_W | MC_NULL | MC_SECRET, 512),
  ENUM("state",              MC_FILTER | MC_SORT, dev_states),
  {"last_activity_ms", MT_INT, MC_SORT | MC_NULL, NULL, 0, 0, -1, NULL, NULL},
  TIME_COLS,
};

static const meta_col rpc_cols[] = {
  ID_COL,
  TENANT_COL,
  REF("device_id", MC_FILTER, META_DEVICE),
  TEXT("method",   MC_FILTER | MC_SORT | MC_SEARCH, 255),
  {"params",   MT_JSON, 0, NULL, 0, 0, -1, NULL, NULL},
  {"oneway",   MT_BOOL, MC_FILTER, NULL, 0, 0, -1, NULL, NULL},
  ENUM("status",   MC_FILTER | MC_SORT, rpc_statuses),
  {"response", MT_JSON, MC_NULL, NULL, 0, 0, -1, NULL, NULL},
  TIME_COLS,
  {"expires_ms", MT_INT, MC_SORT, NULL, 0, 0, -1, NULL, NULL},
};

/* Unified-namespace mapping rules (mqtt/uns.h documents the fields); the
 * API compiles each rule on create and update (api/mqtt_rules.c). */
static const meta_col mqtt_rule_cols[] = {
  ID_COL,
  TENANT_COL,
  NAME_COL(MC_W | MC_REQ | MC_FILTER | MC_SORT | MC_SEARCH),
  TEXT("description", MC_W | MC_NULL, 1024),
  TEXT("pattern",     MC_W | MC_REQ | MC_FILTER | MC_SORT, 4096),
  TEXT("device",      MC_W | MC_REQ, 1024),
  TEXT("profile",     MC_W, 1024), /* default "uns" */
  TEXT("key",         MC_W, 1024), /* default "value" */
  ENUM("payload",     MC_W | MC_FILTER, uns_payloads), /* default "auto" */
  TEXT("value",       MC_W | MC_NULL, 1024),
  TEXT("ts",          MC_W | MC_NULL, 1024),
  {"enabled",  MT_BOOL, MC_W | MC_FILTER | MC_SORT, NULL, 0, 0, -1, NULL, NULL},
  {"priority", MT_INT,  MC_W | MC_SORT, NULL, -1000000, 1000000, -1, NULL, NULL},
  TIME_COLS,
};

static const meta_dep tenant_refuse[] = {
  {"users", "tenant_id", "users"},
  {"assets", "tenant_id", "assets"},
  {"device_profiles", "tenant_id", "device profiles"},
  {"devices", "tenant_id", "devices"},
  {"mqtt_rules", "tenant_id", "MQTT rules"},
};
static const meta_dep asset_refuse[] = {{"assets", "parent_id", "child assets"}};
static const meta_dep profile_refuse[] = {{"devices", "profile_id", "devices"}};

#define COLS(a) a, sizeof a / sizeof a[0]
#define DEPS(a) a, sizeof a / sizeof a[0]
static const meta_entity entities[META_KIND_COUNT] = {
  {META_TENANT,      "tenant",         "tenants",         TEN_SELF,     true,  COLS(tenant_cols),      DEPS(tenant_refuse)},
  {META_USER,        "user",           "users",           TEN_NULLABLE, true,  COLS(user_cols),        NULL, 0},
  {META_TOKEN,       "token",          "tokens",          TEN_NULLABLE, false, COLS(token_cols),       NULL, 0},
  {META_ASSET,       "asset",          "assets",          TEN_COLUMN,   true,  COLS(asset_cols),       DEPS(asset_refuse)},
  {META_PROFILE,     "device_profile", "device_profiles", TEN_COLUMN,   true,  COLS(profile_cols),     DEPS(profile_refuse)},
  {META_PROFILE_KEY, "profile_key",    "profile_keys",    TEN_COLUMN,   true,  COLS(profile_key_cols), NULL, 0},
  {META_DEVICE,      "device",         "devices",         TEN_COLUMN,   true,  COLS(device_cols),      NULL, 0},
  {META_RPC,         "rpc",            "rpc",             TEN_COLUMN,   false, COLS(rpc_cols),         NULL, 0},
  {META_MQTT_RULE,   "mqtt_rule",      "mqtt_rules",      TEN_COLUMN,   true,  COLS(mqtt_rule_cols),   NULL, 0},
};
/* clang-format on */

const meta_entity *meta_entity_get(meta_kind k) {
  if ((int)k < 0 || k >= META_KIND_COUNT) return NULL;
  return &entities[k];
}

const meta_col *meta_entity_col(const meta_entity *e, const char *name) {
  for (size_t i = 0; i < e->n_cols; i++)
    if (strcmp(e->cols[i].name, name) == 0) return &e->cols[i];
  return NULL;
}

const char *meta_kind_name(meta_kind k) {
  const meta_entity *e = meta_entity_get(k);
  return e ? e->name : "unknown";
}

int meta_kind_parse(const char *name, meta_kind *out) {
  for (int k = 0; k < META_KIND_COUNT; k++)
    if (name && strcmp(entities[k].name, name) == 0) {
      *out = (meta_kind)k;
      return 0;
    }
  return LOOM_EINVAL;
}

size_t meta_fields(meta_kind kind, meta_field_info *out, size_t cap) {
  static const char *const type_names[] = {[MT_TEXT] = "string", [MT_INT] = "integer",
                                           [MT_REAL] = "number", [MT_BOOL] = "boolean",
                                           [MT_JSON] = "json",   [MT_ID] = "id",
                                           [MT_HASH] = "string"};
  const meta_entity *e = meta_entity_get(kind);
  if (!e) return 0;
  size_t n = 0;
  for (size_t i = 0; i < e->n_cols; i++) {
    const meta_col *c = &e->cols[i];
    if (c->flags & MC_SECRET) continue;
    if (n < cap) {
      bool tenant = e->tenancy != TEN_SELF && strcmp(c->name, "tenant_id") == 0;
      out[n] = (meta_field_info){
          .name = c->name,
          .type = type_names[c->type],
          .on_create = (c->flags & MC_CREATE) || tenant, /* platform callers name it */
          .on_update = (c->flags & MC_UPDATE) != 0,
          .required = (c->flags & MC_REQ) != 0,
          .nullable = (c->flags & MC_NULL) || (tenant && e->tenancy == TEN_NULLABLE),
          .filterable = (c->flags & MC_FILTER) != 0,
          .sortable = (c->flags & MC_SORT) != 0,
          .searched = (c->flags & MC_SEARCH) != 0,
          .values = c->enums,
          .max_len = c->type == MT_TEXT ? c->max : 0,
      };
    }
    n++;
  }
  return n;
}
