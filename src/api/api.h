/* SPDX-License-Identifier: Apache-2.0
 * The HTTP API: the route table, the access check every protected route
 * passes through, and the handlers (one file per resource). `loom_api` is
 * the daemon state the handlers need, passed down explicitly. Management
 * handlers (api_call_fn) run on the worker pool with the request's resolved
 * principal; the InfluxDB-compatible handlers (api_fn) keep their own shape.
 */
#ifndef LOOM_API_API_H
#define LOOM_API_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/workpool.h"
#include "http/server.h"
#include "live/hub.h"
#include "meta/meta.h"
#include "sec/audit.h"
#include "sec/auth.h"
#include "sec/backoff.h"
#include "sec/password.h"
#include "sec/policy.h"
#include "sec/token.h"
#include "ts/engine.h"

#define LOOM_VERSION "0.1.0"
/* What /ping reports as X-Influxdb-Version: clients (influx CLI, Telegraf,
 * Grafana) check for a 1.x server. */
#define LOOM_INFLUX_COMPAT_VERSION "1.8.10"

typedef struct api_principals api_principals;

typedef struct api_links api_links;

typedef struct loom_api {
  ts_engine *engine;
  sec_auth *auth;
  loom_workpool *pool;    /* runs queries and every registry call off the loop threads */
  http_server *http;      /* for /metrics; set after the server is created */
  meta_store *meta;       /* the registry (NULL: management routes answer 503) */
  sec_audit *audit;       /* the audit log (NULL: audited actions fail with 500) */
  api_principals *principals; /* token -> principal cache (principal.c) */
  sec_backoff *backoff;   /* login back-off, behind backoff_lock */
  pthread_mutex_t backoff_lock;
  int64_t backoff_swept_ms; /* wall clock of the last sec_backoff_sweep (under backoff_lock) */
  struct api_rpc_waits *rpc_waits; /* two-way commands awaiting their answer (rest_rpc.c) */
  sec_password_limits pw_limits; /* argon2id cost for new password hashes */
  struct api_device_hub *devices; /* device API: RPC long polls, activity (device_api.c) */
  live_hub *live;         /* live updates and live sessions (WebSocket); NULL: /api/v1/ws answers 503 */
  api_links *links;       /* device-tag linking of line-protocol writes (write.c) */
  struct mqtt_broker *mqtt;     /* the MQTT broker (NULL: off; /mqtt answers 503) */
  struct api_mqtt *mqtt_platform; /* the broker's platform hooks (mqtt_platform.c) */
  const char *web_dir;    /* serve the console from this directory (--web-dir); NULL: the
                             copy embedded in the binary (web.c) */
  int64_t started_ns;
  /* query statistics (written by workers) */
  atomic_uint_fast64_t queries, query_errors, query_ns_total;
  atomic_uint_fast64_t query_hist[12]; /* cumulative buckets, see ops.c */
} loom_api;

/* Set up / tear down the parts of api that main does not own directly
 * (principal cache, back-off table, its mutex, password limits = the
 * argon2id defaults). api_init: 0 or LOOM_ENOMEM. Call before the server
 * starts / after it stopped. */
int api_init(loom_api *api);
void api_deinit(loom_api *api);

/* Line-protocol writes linked to registered devices (write.c): the cache of
 * (database, device tag) -> device. new: 0 or LOOM_ENOMEM; free: NULL ok. */
int api_links_new(api_links **out);
void api_links_free(api_links *l);

/* Count activity of a device (online, last activity) in the device hub's
 * once-a-second batch (device_api.c). Any thread. */
void api_device_note_activity(loom_api *api, const char *device_id, const char *tenant_id);
/* The same, counting n_points values received from the device (the
 * console's busiest devices; device_api.c). Any thread; one mutex. */
void api_device_note_points(loom_api *api, const char *device_id, const char *tenant_id,
                            size_t n_points);
/* The devices with the most values received over the last minute (55-60 s,
 * in API_DEVICE_RATE_SLOT_MS slots), of tenant scope (NULL: all tenants),
 * busiest first, at most cap into out; returns how many. Only devices seen
 * since start are known: online ones, and offline ones while values of
 * their last minute count. Any thread; holds the device hub's mutex for one
 * pass over those devices. */
#define API_DEVICE_RATE_SLOT_MS 5000
typedef struct api_device_rate {
  char device_id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  double points_per_min;
} api_device_rate;
size_t api_device_busiest(loom_api *api, const char *scope, api_device_rate *out, size_t cap);
/* The newest online/offline changes the device hub wrote to the registry
 * since start (at most the last 512, all tenants), of tenant scope (NULL:
 * all), newest first, at most cap into out; returns how many. time_ms is
 * when the change was written (wall clock). Any thread; one mutex. */
typedef struct api_device_change {
  char device_id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  int64_t time_ms;
  bool online;
} api_device_change;
size_t api_device_changes(loom_api *api, const char *scope, api_device_change *out, size_t cap);

/* The server's request handler: routes req, checking access first. */
void api_handle(http_req *req, void *user);

/* The route table as JSON (for `loom routes` and GET /api/v1/routes):
 * [{"methods":["GET"],"path":"/api/v1/devices/{id}","access":"device.read"},...]
 * access is a sec_perm name, "public", "authenticated" or "device_token".
 * Caller owns the result; NULL on ENOMEM. */
json_t *api_routes_json(void);

/* ---- management calls (routes.c dispatches, rest_*.c handle) ---- */

#define API_PARAMS_MAX 4
/* The registry scope of a principal that belongs to no tenant but is no
 * platform admin (a regional observer): matches no tenant's rows. */
#define API_SCOPE_NONE "-"

/* One authorised management request. Built by routes.c, owned by it: the
 * handler must answer the request (api_reply* / api_error) before it
 * returns and must not keep the pointer. Runs on a worker thread. */
typedef struct api_call {
  loom_api *api;
  http_req *req;
  int arg;                    /* the route's argument (e.g. a meta_kind) */
  sec_principal who;          /* the authenticated principal */
  const char *scope;          /* meta scope: who.tenant_id, NULL for platform admins,
                                 API_SCOPE_NONE for principals of no tenant */
  char db_name[65];           /* the principal's tenant's engine database ("" if none) */
  char token_id[META_ID_LEN + 1]; /* the presented token's id ("" for the admin token) */
  size_t n_params;
  const char *pname[API_PARAMS_MAX]; /* path parameter names, from the pattern */
  char pval[API_PARAMS_MAX][256];    /* their decoded values */
} api_call;

typedef void (*api_call_fn)(api_call *c);

/* Path parameter `name` ("id", "tenantId" ...) or NULL. */
const char *api_param(const api_call *c, const char *name);

/* Answers. api_reply_json takes ownership of body (NULL = 500). api_error
 * sends {"error":{"code":<code>,"message":<msg>}} where code follows the
 * status (400 bad_request, 401 unauthorized, 403 forbidden, 404 not_found,
 * 405 method_not_allowed, 409 conflict, 429 too_many_requests, 503
 * unavailable, else internal). api_error_rc maps a LOOM_E* code (EINVAL 400,
 * EAUTH 401, EPERM 403, ENOTFOUND 404, EEXIST 409, EAGAIN 429, EUNSUP 400,
 * else 500) and uses msg if non-empty, else loom_strerror. Any thread. */
void api_reply_json(http_req *req, int status, json_t *body);
void api_error(http_req *req, int status, const char *msg);
void api_error_rc(http_req *req, int rc, const char *msg);

/* The request body as a JSON object (*out owned by the caller). On failure
 * answers 400 itself and returns LOOM_EINVAL. */
int api_body_object(api_call *c, json_t **out);

/* Append an audit event (actor from the principal, address from the
 * request). 0 or a LOOM_E* code (no log: LOOM_EIO): the caller must then
 * fail the action with 500. */
int api_audit(api_call *c, const char *tenant, const char *action, const char *target,
              const char *outcome, const char *detail);
/* The same for callers without a principal (login). */
int api_audit_raw(loom_api *api, http_req *req, const char *actor, const char *tenant,
                  const char *action, const char *target, const char *outcome,
                  const char *detail);

/* List query parameters (pageSize, page, textSearch, sortProperty,
 * sortOrder, and every other parameter named in `filters`: camelCase or
 * snake_case names of filterable fields) into q. Strings point into the
 * request. 0, or LOOM_EINVAL with a message. */
#define API_FILTERS_MAX 8
int api_list_query(api_call *c, meta_kind kind, meta_query *q, meta_filter *filters,
                   char *err, size_t errlen);

/* Generic management handlers driven by c->arg (a meta_kind): list, create,
 * get, update, delete; the id is the "id" path parameter. The variants with
 * a parent ("profile keys of profile {id}") use "id" as the parent and "keyId"
 * as the entity. */
void rest_list(api_call *c);
void rest_create(api_call *c);
void rest_get(api_call *c);
void rest_update(api_call *c);
void rest_delete(api_call *c);
void rest_key_list(api_call *c);
void rest_key_create(api_call *c);
void rest_key_get(api_call *c);
void rest_key_update(api_call *c);
void rest_key_delete(api_call *c);

/* The generic steps, for resource handlers: each audits first (a failed
 * audit append answers 500 and changes nothing), then calls meta, records a
 * "failure" audit event if meta refused, and answers (create 201, update
 * 200 with the entity, delete 204) unless out / quiet asks to leave the
 * answer to the caller. `in` is consumed. rest_do_update's audit action is
 * `action`, or "<kind>.update" when NULL. 0 or the error already answered. */
int rest_do_create(api_call *c, meta_kind kind, json_t *in, const json_t *secrets, json_t **out);
int rest_do_update(api_call *c, meta_kind kind, const char *id, json_t *in,
                   const json_t *secrets, const char *action, const char *detail, json_t **out);
int rest_do_delete(api_call *c, meta_kind kind, const char *id, bool quiet);

/* Resources (rest_*.c, auth_login.c). */
void rest_tenant_list(api_call *c);
void rest_tenant_create(api_call *c);
void rest_tenant_get(api_call *c);
void rest_tenant_update(api_call *c);
void rest_tenant_delete(api_call *c);
void rest_user_list(api_call *c);
void rest_user_create(api_call *c);
void rest_user_get(api_call *c);
void rest_user_update(api_call *c);
void rest_user_delete(api_call *c);
void rest_token_list(api_call *c);
void rest_token_create(api_call *c);
void rest_token_revoke(api_call *c);
void rest_profile_create(api_call *c);
void rest_profile_update(api_call *c);
void rest_device_create(api_call *c);
void rest_device_update(api_call *c);
void rest_device_delete(api_call *c);
void rest_device_credentials(api_call *c);
void rest_attr_get(api_call *c);
void rest_attr_set(api_call *c);
void rest_attr_delete(api_call *c);
void rest_rpc_send(api_call *c);
void rest_rpc_list(api_call *c);
void rest_rpc_get(api_call *c);

/* Two-way commands sent with ?wait=true are answered when the device has
 * answered (or the command failed, timed out or expired), by one thread that
 * checks the waiting commands every 100 ms without occupying a worker.
 * start: after api->meta is set, before the server starts; 0, LOOM_ENOMEM,
 * LOOM_EIO. stop: before http_server_stop; answers every waiting request
 * 503 and joins the thread; idempotent; also frees. Main thread. */
int api_rpc_wait_start(loom_api *api);
void api_rpc_wait_stop(loom_api *api);
void rest_audit_list(api_call *c);
void rest_audit_verify(api_call *c); /* GET /api/v1/audit/verify: chain status */
void rest_region_summary(api_call *c);
/* The console (rest_console.c). GET /api/v1/console/info (authenticated):
 * {"version", "mqtt": {"port": n | null (no TCP listener), "ws_path": "/mqtt"
 * | null (no broker)}}. GET /api/v1/console/overview[?tenant=<id>]
 * (device.read; ?tenant= lets a platform admin look at one tenant, others
 * may only name their own, else 404): {"scope": "tenant"|"platform",
 * "tenant_id", "devices": {"total","online","offline","never"}, "ingest":
 * {"source": "database"|"platform", "points_per_s_10s", "points_per_s_1m",
 * "points_total" (since start)}, "storage": {"bytes" (segment files),
 * "series"}, "busiest": [{"id","name","last_activity_ms","online",
 * "points_per_min"}] (up to 10), "silent": [same without points_per_min]
 * (up to 10 ever-active devices, longest silent first), "events": up to 20,
 * newest first, of: the tenant's audit events {"seq","time_ms","actor",
 * "action","target","outcome",...} (only for callers with audit.read:
 * "events_allowed" says whether they are included) and devices' online /
 * offline changes since start {"time_ms","action":"device.online"|
 * "device.offline","target":<device name>,"device_id"}, "took_us"}. No
 * telemetry scan. */
void rest_console_info(api_call *c);
void rest_console_overview(api_call *c);
void rest_telemetry_latest(api_call *c);
void rest_telemetry_history(api_call *c);
void rest_routes(api_call *c);
void auth_login(api_call *c);
void auth_logout(api_call *c);
void auth_me(api_call *c);
void auth_password(api_call *c);

/* ---- InfluxDB-compatible and ops handlers (req answered, possibly later
 * from another thread; may be called on a loop or a worker thread) ---- */
void api_ping(http_req *req, loom_api *api);
void api_health(http_req *req, loom_api *api);
void api_metrics(http_req *req, loom_api *api);
void api_write_v1(http_req *req, loom_api *api);
void api_write_v2(http_req *req, loom_api *api);
void api_query(http_req *req, loom_api *api);

/* May principal p run InfluxQL text q (len bytes) with default database db
 * (may be NULL)? Platform admins: always. Others: every database the
 * statements name (or db) must be own_db; CREATE/DROP DATABASE, retention
 * policy statements and SHOW USERS & co. are refused; DELETE / DROP need
 * telemetry.write. Returns 0, LOOM_EINVAL (parse error: the executor will
 * report it), LOOM_ENOTFOUND (another database), LOOM_EPERM (refused kind),
 * or 1 when the query is exactly SHOW DATABASES (answer with own_db only).
 * msg receives a sentence on refusal. Pure. */
int api_query_guard(const sec_principal *p, const char *own_db, const char *q, size_t len,
                    const char *db, char *msg, size_t msglen);

/* Record one query's duration (ns) in the statistics. */
void api_note_query(loom_api *api, int64_t ns, int failed);

/* ---- WebSocket API (ws_api.c) ----
 * GET /api/v1/ws upgrades to a WebSocket carrying JSON text messages:
 *   client: {"auth":{"token":"<token>"}}          (first, unless the upgrade
 *           request carried Authorization: Token <token> or ?token=<token>)
 *   server: {"auth":"ok"}, or an error and close 1008
 *   client: {"cmd":"subscribe","id":1,"type":"telemetry"|"state"|"rpc",
 *            "device_id":"<id>" | "asset_id":"<id>", "keys":["t",...]}  (keys optional)
 *   server: {"id":1,"ok":true} or {"id":1,"ok":false,"error":{"code":"not_found",
 *           "message":"..."}} (codes: bad_request, unauthorized, forbidden,
 *           not_found, conflict, too_many, internal)
 *   server: {"sub":1,"type":"telemetry","device_id":"<id>","ts":<ms>,"values":{..}}
 *           state / rpc updates carry the event's fields instead of values
 *   client: {"cmd":"unsubscribe","id":1} -> {"id":1,"ok":true}
 * Access: sec_policy_check with telemetry.read / device.read / rpc.read on
 * the device's tenant (another tenant's device: not_found). An asset
 * subscribes its devices (at most 100) at subscribe time. Invalid JSON gets
 * {"ok":false,"error":{"code":"bad_request",..}} and the connection stays.
 * Closes: 1008 "token revoked" / "user disabled" (live_session_revoke_*),
 * "token revoked or expired" (rechecked every second), "too slow" (1 MiB
 * queued), 1009 (message over 64 KiB), 1001 on server stop.
 * api_ws runs on the loop thread (a PUBLIC route: authentication happens
 * inside the protocol); without an upgrade it answers 426. */
void api_ws(http_req *req, loom_api *api);

/* Publish a state (LIVE_STATE: {"state":"online"|"offline",
 * "last_activity_ms":n}) or command (LIVE_RPC: {"rpc_id":..,"status":..})
 * event of device device_id of tenant tenant_id; body (a JSON object,
 * consumed, may be NULL) becomes the update's fields. Costs one atomic load
 * when nobody listens. Any thread. */
void api_live_publish(loom_api *api, live_kind kind, const char *tenant_id, const char *device_id,
                      json_t *body);

/* ---- device API (device_api.c; ThingsBoard-compatible, DEVTOK routes) ----
 * Handlers, called on the loop thread: each hands the request to the worker
 * pool, which resolves the device token in the path and answers. */
void api_device_telemetry(http_req *req, loom_api *api);  /* POST /api/v1/{token}/telemetry */
void api_device_attributes(http_req *req, loom_api *api); /* GET|POST /api/v1/{token}/attributes */
void api_device_rpc_poll(http_req *req, loom_api *api);   /* GET /api/v1/{token}/rpc */
void api_device_rpc_reply(http_req *req, loom_api *api);  /* POST /api/v1/{token}/rpc/{id} */
void api_device_provision(http_req *req, loom_api *api);  /* POST /api/v1/provision */

/* The device hub: one thread holding RPC long polls and writing device
 * activity once a second (offline after LOOM_DEVICE_INACTIVITY_MS of
 * silence, an environment variable, default 600000). start (api->pool and api->meta set, before the
 * server starts): 0, LOOM_ENOMEM, LOOM_EIO. stop (before http_server_stop,
 * so waiting polls do not hold the server's stop): answers every waiting
 * poll 503, writes the last activity, joins the thread; idempotent. free
 * (after the worker pool is freed; stops first if needed). Main thread. */
int api_device_start(loom_api *api);
void api_device_stop(loom_api *api);
void api_device_free(loom_api *api);
/* A command was queued for device_id: waiting polls of that device look at
 * once instead of at their next poll. Any thread; cheap. */
void api_device_rpc_notify(loom_api *api, const char *device_id);
/* Long polls waiting now (for /metrics and tests). Any thread. */
size_t api_device_waiting(loom_api *api);

#endif
