/* SPDX-License-Identifier: Apache-2.0
 * The registry store: tenants, users, tokens, assets, device profiles and
 * their keys, devices, attributes and device commands (RPC), in one SQLite
 * file (DATA/meta.db, WAL mode, synchronous=FULL, versioned migrations in
 * schema.c). Generic CRUD over JSON objects is driven by the declarative
 * entity table in entity.c; the hot paths (token and device credential
 * look-ups, device activity) have their own prepared statements.
 *
 * Threads: every function blocks on SQLite I/O, so call them from worker
 * threads, never from a libuv loop thread. Several workers may share one
 * store: it holds a writer connection behind one internal mutex (calls are
 * serialised) and a read-only connection behind another for the credential
 * look-ups (meta_device_by_token/_mqtt/_name, meta_token_by_hash), which
 * thus never wait for another call's commit (WAL readers do not block).
 *
 * Tenant isolation: every accessor takes a `scope`: the tenant id of the
 * caller, or NULL for a platform-wide caller (platform admin, internal
 * sweeps). With a tenant scope every statement carries `tenant_id = ?`, so an
 * id that belongs to another tenant is LOOM_ENOTFOUND, exactly as if it did
 * not exist. Who may act with which scope is sec/policy's decision, not the
 * store's.
 *
 * Secrets: the store never hashes. Callers hash passwords with
 * sec/password (argon2id strings) and tokens with sec/token (BLAKE2b-256),
 * and hand the results in; hash columns are never returned by get/list.
 *
 * Errors: LOOM_EINVAL (bad input; the message names the field),
 * LOOM_ENOTFOUND (no such id in this scope), LOOM_EEXIST (a unique field is
 * taken, or a delete is refused because dependents exist; the message names
 * them), LOOM_EPERM (the operation needs the platform scope), LOOM_ENOMEM,
 * LOOM_EIO (SQLite failed; the message carries SQLite's text). `err` may be
 * NULL; otherwise it receives a NUL-terminated human message on failure.
 */
#ifndef LOOM_META_META_H
#define LOOM_META_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct meta_store meta_store;

#define META_ID_LEN 36      /* UUIDv4 text, lower-case hex with dashes */
#define META_HASH_LEN 32    /* BLAKE2b-256 of a token secret */
#define META_PAGE_MAX 1000  /* largest page size meta_list accepts */
#define META_PAGE_DEFAULT 100

/* Entity kinds for the generic accessors. JSON field names are the column
 * names of the schema below (snake_case). */
typedef enum meta_kind {
  META_TENANT,
  META_USER,
  META_TOKEN,       /* create with meta_token_create (needs the hash) */
  META_ASSET,
  META_PROFILE,     /* device profile */
  META_PROFILE_KEY, /* a telemetry key of a profile */
  META_DEVICE,
  META_RPC,         /* create with meta_rpc_create; status via meta_rpc_transition */
  META_MQTT_RULE,   /* unified-namespace mapping rule (mqtt/uns.h), schema v3 */
  META_KIND_COUNT
} meta_kind;

/* ---- store ------------------------------------------------------------ */

/* Open (creating the file if needed; its directory must exist) the store at
 * path and migrate its schema to the
 * newest version this binary knows (each step in its own transaction; the
 * first step also creates tenant "default" with engine database "default").
 * A file whose schema is newer than this binary fails with LOOM_EUNSUP and a
 * message giving both versions. 0, LOOM_EUNSUP, LOOM_ECORRUPT (not a
 * database), LOOM_EIO, LOOM_ENOMEM; *out is set only on success. */
int meta_store_open(const char *path, meta_store **out, char *err, size_t errlen);
/* Close; NULL is a no-op. No call may be running on m. */
void meta_store_close(meta_store *m);
/* Schema version of the open file, and the newest this binary knows. */
int meta_store_version(meta_store *m);
int meta_schema_latest(void);

/* "tenant", "user", "token", "asset", "device_profile", "profile_key",
 * "device", "rpc", "mqtt_rule". meta_kind_parse: 0 or LOOM_EINVAL. */
const char *meta_kind_name(meta_kind k);
int meta_kind_parse(const char *name, meta_kind *out);

/* The public fields of a kind, from the declarative entity table (for the
 * API's OpenAPI document and its tests). Secret columns are not listed. */
typedef struct meta_field_info {
  const char *name;
  const char *type; /* "string", "id", "integer", "number", "boolean", "json" */
  bool on_create;   /* may be given on create */
  bool on_update;   /* may be changed by update */
  bool required;    /* on create */
  bool nullable;
  bool filterable;
  bool sortable;
  bool searched;             /* matched by text_search */
  const char *const *values; /* NULL or the NULL-terminated allowed values */
  int64_t max_len;           /* strings: longest in bytes (0 = no limit) */
} meta_field_info;
/* Fill up to cap entries; returns the number of public fields (call with
 * cap 0 to size). 0 for an unknown kind. */
size_t meta_fields(meta_kind kind, meta_field_info *out, size_t cap);

/* ---- generic CRUD ----------------------------------------------------- */

/* Create an entity from the JSON object `in` (writable fields only; unknown,
 * read-only, wrongly typed, out-of-range or missing required fields are
 * LOOM_EINVAL naming the field). `secrets` (may be NULL) carries the secret
 * columns the caller computed (hash columns; BLOB hashes as 64 hex chars);
 * it is separate so that a client body passed as `in` can never set them.
 * With a tenant scope, tenant_id is the scope (a different tenant_id in `in`
 * is LOOM_EINVAL); with the platform scope, tenant-owned kinds need
 * tenant_id in `in`. Tenants can only be created with the platform scope
 * (else LOOM_EPERM). References (profile_id, asset_id, parent_id ...) must
 * name an entity of the same tenant, else LOOM_EINVAL naming the field.
 * Tokens and RPC commands are LOOM_EUNSUP here (meta_token_create,
 * meta_rpc_create). On success *out (may be NULL) receives the stored
 * entity as meta_get returns it; the caller owns it (json_decref). */
int meta_create(meta_store *m, meta_kind kind, const char *scope, const json_t *in,
                const json_t *secrets, json_t **out, char *err, size_t errlen);

/* The entity `id` visible in scope, as a new JSON object the caller owns:
 * every non-secret column, JSON columns as JSON values, booleans as true/false,
 * NULL columns as null. 0, LOOM_ENOTFOUND, LOOM_EIO, LOOM_ENOMEM. */
int meta_get(meta_store *m, meta_kind kind, const char *scope, const char *id, json_t **out,
             char *err, size_t errlen);

/* Partial update: only the fields present in `in` (may be NULL) and
 * `secrets` (may be NULL) change; null clears a nullable field. Fields that
 * are not writable after creation (id, tenant_id, created_ms, profile key's
 * profile_id ...) are LOOM_EINVAL. Moving an asset under itself or one of
 * its descendants is LOOM_EINVAL ("parent_id: would create a cycle").
 * updated_ms is set. *out (may be NULL) receives the updated entity. */
int meta_update(meta_store *m, meta_kind kind, const char *scope, const char *id, const json_t *in,
                const json_t *secrets, json_t **out, char *err, size_t errlen);

/* Delete. Cascades and refusals (LOOM_EEXIST naming what is left):
 *   tenant:  refused while it has users, assets, device profiles, devices
 *            or MQTT rules
 *            (platform scope only, else LOOM_EPERM; the engine database is
 *            the caller's to drop);
 *   user:    its tokens are deleted with it;
 *   asset:   refused while it has child assets; its devices get asset_id null;
 *   profile: refused while devices use it; its keys are deleted with it;
 *   device:  its attributes and RPC commands are deleted with it.
 * 0, LOOM_ENOTFOUND, LOOM_EEXIST, LOOM_EPERM, LOOM_EIO. */
int meta_delete(meta_store *m, meta_kind kind, const char *scope, const char *id, char *err,
                size_t errlen);

/* One equality filter; value is text converted by the column's type
 * ("true"/"false"/"1"/"0" for booleans), or NULL for "IS NULL" (e.g.
 * parent_id NULL lists root assets). */
typedef struct meta_filter {
  const char *field;
  const char *value;
} meta_filter;

typedef struct meta_query {
  uint32_t page;             /* 0-based page index */
  uint32_t page_size;        /* 1..META_PAGE_MAX; 0 means META_PAGE_DEFAULT */
  const char *text_search;   /* NULL or a case-insensitive substring of the name */
  const char *sort_property; /* NULL (created_ms) or a sortable column */
  bool sort_desc;
  const meta_filter *filters; /* n_filters equality filters on filterable columns */
  size_t n_filters;
} meta_query;

/* A page of entities, in ThingsBoard's PageData shape:
 *   {"data": [entity...], "totalPages": n, "totalElements": n, "hasNext": b}
 * Ties in the sort order are broken by id, so paging is stable. q may be NULL
 * (first page, defaults). Unknown or non-filterable filter fields, a
 * non-sortable sort property and page_size > META_PAGE_MAX are LOOM_EINVAL.
 * *page is owned by the caller. */
int meta_list(meta_store *m, meta_kind kind, const char *scope, const meta_query *q,
              json_t **page, char *err, size_t errlen);

/* ---- credentials look-ups (hot paths: prepared statements) ------------- */

/* A device as the ingest and device APIs need it; fixed buffers, no
 * allocation. Strings are NUL-terminated. */
typedef struct meta_device_ref {
  char id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  char db_name[65];                 /* the tenant's engine database */
  char profile_id[META_ID_LEN + 1];
  char name[256];
  char mqtt_password_hash[256];     /* only filled by meta_device_by_mqtt */
} meta_device_ref;

/* Device whose access-token hash is `hash` (META_HASH_LEN bytes), any tenant.
 * 0 or LOOM_ENOTFOUND (or LOOM_EIO). */
int meta_device_by_token(meta_store *m, const uint8_t *hash, meta_device_ref *out);
/* Device with this MQTT username, any tenant; the caller verifies the
 * password against out->mqtt_password_hash. 0 or LOOM_ENOTFOUND. */
int meta_device_by_mqtt(meta_store *m, const char *username, meta_device_ref *out);
/* Device named `name` in tenant `scope` (not NULL: names are per tenant).
 * Links line-protocol tags to devices. 0, LOOM_ENOTFOUND, LOOM_EINVAL. */
int meta_device_by_name(meta_store *m, const char *scope, const char *name, meta_device_ref *out);

/* Device activity, applied in one transaction (call with a batch gathered
 * over e.g. a second: this is the frequent write). last_activity_ms only
 * moves forward. Unknown devices are skipped. */
typedef struct meta_activity {
  const char *tenant_id; /* the device's tenant (checked) */
  const char *device_id;
  bool online;
  int64_t last_activity_ms;
  bool state_changed; /* out: the stored state flipped (notify subscribers) */
} meta_activity;
/* 0, LOOM_EIO. *n_applied (may be NULL) = devices found. */
int meta_device_activity(meta_store *m, meta_activity *items, size_t n, size_t *n_applied);

/* A token as authentication needs it. Empty tenant_id = platform user. */
typedef struct meta_token_info {
  char id[META_ID_LEN + 1];
  char user_id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  char role[24];
  char region_code[33];
  char kind[8];  /* session | api */
  char scope[8]; /* read | write | admin */
  int64_t expires_ms; /* 0 = never */
  int64_t revoked_ms; /* 0 = not revoked */
  bool user_disabled;
} meta_token_info;

/* Look up a token by hash. 0 when it is valid at now_ms; LOOM_EAUTH when it
 * exists but is revoked, expired or its user disabled (out is filled, so the
 * caller can log why); LOOM_ENOTFOUND; LOOM_EIO. */
int meta_token_by_hash(meta_store *m, const uint8_t *hash, int64_t now_ms, meta_token_info *out);

typedef struct meta_token_new {
  const char *user_id;
  const char *kind;    /* session | api */
  const char *scope;   /* read | write | admin */
  const char *name;    /* may be NULL */
  const uint8_t *hash; /* META_HASH_LEN bytes from sec/token */
  int64_t expires_ms;  /* 0 = never */
} meta_token_new;

/* Store a token for a user visible in scope (its tenant_id is the user's).
 * *out (may be NULL) gets the token entity (without the hash). 0,
 * LOOM_EINVAL, LOOM_ENOTFOUND (user), LOOM_EEXIST (hash collision). */
int meta_token_create(meta_store *m, const char *scope, const meta_token_new *t, json_t **out,
                      char *err, size_t errlen);
/* Record use: sets last_used_ms when the stored value is older than 60 s
 * (so a busy token costs one write a minute). 0 or LOOM_ENOTFOUND. */
int meta_token_touch(meta_store *m, const char *token_id, int64_t now_ms);
/* Revoke one token (idempotent; the first revocation time is kept). The
 * caller cuts live sessions. 0, LOOM_ENOTFOUND. */
int meta_token_revoke(meta_store *m, const char *scope, const char *token_id, int64_t now_ms,
                      char *err, size_t errlen);
/* Revoke every unrevoked token of a user. *n_revoked (may be NULL). 0,
 * LOOM_ENOTFOUND (no such user in scope). */
int meta_token_revoke_user(meta_store *m, const char *scope, const char *user_id, int64_t now_ms,
                           size_t *n_revoked, char *err, size_t errlen);

/* Delete tokens that expired or were revoked before before_ms (housekeeping;
 * keeps the table small). *n_deleted may be NULL. 0 or LOOM_EIO. */
int meta_token_purge(meta_store *m, int64_t before_ms, size_t *n_deleted);

/* The tenant whose telemetry lives in engine database db_name (links
 * line-protocol writes to a tenant). tenant_id: META_ID_LEN + 1 bytes.
 * 0, LOOM_ENOTFOUND, LOOM_EINVAL. */
int meta_tenant_by_db(meta_store *m, const char *db_name, char *tenant_id);

/* A user as login needs it (platform-wide: emails are unique across
 * tenants, compared case-insensitively). 0 or LOOM_ENOTFOUND. */
typedef struct meta_user_auth {
  char id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1]; /* empty for platform users */
  char role[24];
  char region_code[33];
  char password_hash[256]; /* empty when no password is set */
  bool disabled;
} meta_user_auth;
int meta_user_by_email(meta_store *m, const char *email, meta_user_auth *out);

/* The profile whose provision_key is `key` (device self-provisioning).
 * 0 or LOOM_ENOTFOUND. */
typedef struct meta_profile_prov {
  char id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  char name[256];
  char provision_secret_hash[256];
} meta_profile_prov;
int meta_profile_by_provision_key(meta_store *m, const char *key, meta_profile_prov *out);

/* ---- MQTT mapping rules ------------------------------------------------- */

/* Called once per tenant that has MQTT rules (enabled or not): their number
 * and the newest updated_ms, a change stamp (a create, update or delete
 * changes it, unless two land in one millisecond with the same count). */
typedef void (*meta_rule_stamp_fn)(void *ud, const char *tenant_id, int64_t n_rules,
                                   int64_t max_updated_ms);
/* One aggregate query on the read connection (never waits for a commit).
 * Platform-wide (cache maintenance). 0, LOOM_EINVAL, LOOM_EIO. */
int meta_mqtt_rule_stamps(meta_store *m, meta_rule_stamp_fn fn, void *ud);

/* ---- attributes ------------------------------------------------------- */

/* Attribute scopes, as bits so look-ups can ask for several. */
enum { META_ATTR_CLIENT = 1, META_ATTR_SERVER = 2, META_ATTR_SHARED = 4, META_ATTR_ALL = 7 };
#define META_ATTR_KEY_MAX 255
#define META_ATTR_VALUE_MAX 65536 /* bytes of a value's compact JSON */

/* "client" | "server" | "shared" -> bit. 0 or LOOM_EINVAL. */
int meta_attr_scope_parse(const char *s, unsigned *bit);

/* Upsert every key of the object kv into one scope (one bit) of a device
 * visible in scope, in one transaction. Keys 1..META_ATTR_KEY_MAX bytes;
 * values any JSON up to META_ATTR_VALUE_MAX bytes. 0, LOOM_EINVAL,
 * LOOM_ENOTFOUND (device). */
int meta_attr_set(meta_store *m, const char *scope, const char *device_id, unsigned attr_scope,
                  const json_t *kv, int64_t now_ms, char *err, size_t errlen);
/* Values of the scopes in mask, as {"client": {k: v}, "shared": {...}} (a
 * scope appears only when it has a matching key). keys (n_keys, may be 0 =
 * all) restricts the keys. *out owned by the caller. */
int meta_attr_get(meta_store *m, const char *scope, const char *device_id, unsigned mask,
                  const char *const *keys, size_t n_keys, json_t **out, char *err, size_t errlen);
/* The same as an array of {"scope","key","value","updated_ms"} sorted by
 * scope then key (for the management API). */
int meta_attr_list(meta_store *m, const char *scope, const char *device_id, unsigned mask,
                   json_t **out, char *err, size_t errlen);
/* Delete keys from one scope. *n_deleted may be NULL. 0, LOOM_EINVAL,
 * LOOM_ENOTFOUND (device). */
int meta_attr_delete(meta_store *m, const char *scope, const char *device_id, unsigned attr_scope,
                     const char *const *keys, size_t n_keys, size_t *n_deleted, char *err,
                     size_t errlen);

/* ---- device commands (RPC) -------------------------------------------- */

/* Status life cycle (anything else is refused):
 *   queued    -> sent | expired | failed
 *   sent      -> queued (redeliver) | delivered | successful | failed | timeout
 *   delivered -> successful | failed | timeout
 *   successful, failed, timeout, expired: final.
 * A queued command whose expires_ms passed becomes expired; a sent or
 * delivered one becomes timeout (meta_rpc_expire). */
bool meta_rpc_transition_legal(const char *from, const char *to);

/* Queue a command to a device visible in scope; it expires at now_ms +
 * timeout_ms (1 ms .. 30 days). params may be NULL (stored as null). 0,
 * LOOM_EINVAL, LOOM_ENOTFOUND (device). *out (may be NULL) the command. */
int meta_rpc_create(meta_store *m, const char *scope, const char *device_id, const char *method,
                    const json_t *params, bool oneway, int64_t timeout_ms, int64_t now_ms,
                    json_t **out, char *err, size_t errlen);
/* The oldest queued, unexpired command of the device, moved to "sent" and
 * returned in *out (caller owns). 0 or LOOM_ENOTFOUND (nothing pending). */
int meta_rpc_claim_next(meta_store *m, const char *scope, const char *device_id, int64_t now_ms,
                        json_t **out, char *err, size_t errlen);
/* Move command `id` to status `to` (with the device's response, may be
 * NULL). An illegal transition is LOOM_EINVAL naming both statuses. *out may
 * be NULL. 0, LOOM_EINVAL, LOOM_ENOTFOUND. */
int meta_rpc_transition(meta_store *m, const char *scope, const char *id, const char *to,
                        const json_t *response, int64_t now_ms, json_t **out, char *err,
                        size_t errlen);
/* Platform-wide sweep: overdue queued commands become expired, overdue
 * sent/delivered ones timeout. *changed (may be NULL) receives an array of
 * {"id","tenant_id","device_id","status"} for subscribers; *n (may be NULL)
 * their count. 0, LOOM_EIO, LOOM_ENOMEM. */
int meta_rpc_expire(meta_store *m, int64_t now_ms, json_t **changed, size_t *n);

/* ---- console overview (overview.c) ------------------------------------ */

/* Devices visible in scope by state. never = never active (no
 * last_activity_ms); offline = total - online (includes never). */
typedef struct meta_device_counts {
  int64_t total, online, offline, never;
} meta_device_counts;

/* One device of the overview's lists. */
typedef struct meta_device_silent {
  char id[META_ID_LEN + 1];
  char name[256];
  int64_t last_activity_ms; /* wall clock ms */
  bool online;
} meta_device_silent;

/* Counts of the devices visible in scope, and (cap > 0) up to cap devices
 * that were ever active, longest silent first (oldest last_activity_ms,
 * ties by id) into silent, their number in *n_silent (may be NULL). On the
 * read connection (never waits for a commit). 0, LOOM_EINVAL, LOOM_EIO. */
int meta_device_overview(meta_store *m, const char *scope, meta_device_counts *counts,
                         meta_device_silent *silent, size_t cap, size_t *n_silent);
/* Fill name, last_activity_ms and online of each of the n devices whose id
 * is set; a device not found in scope gets an empty name. 0, LOOM_EINVAL,
 * LOOM_EIO. Read connection. */
int meta_device_names(meta_store *m, const char *scope, meta_device_silent *devs, size_t n);

#endif
