/* SPDX-License-Identifier: Apache-2.0
 * The MQTT broker's platform hooks (mqtt/broker.h mqtt_hooks): who a
 * connection is (device access token, MQTT basic credentials, user API
 * token), tenant namespaces (every tenant principal's topics live under
 * "$tenant/<tenant_id>/"), authorization by principal kind and role, the
 * ThingsBoard device API over MQTT (v1/devices/me/..., v1/gateway/...),
 * telemetry stored through the one ingest path before a QoS 1/2
 * acknowledgement (batched: one ingest per broker loop iteration and
 * database), device online state following the connection, and kicking a
 * client whose credential is revoked, changed or whose device is deleted.
 *
 * Topic mapping (client topic -> broker topic), for a tenant principal with
 * mount M = "$tenant/<tenant_id>/":
 *   v1/devices/me/X     -> M "v1/devices/<device_id>/X"   (devices only)
 *   v1/gateway/X        -> M "v1/gateway/<device_id>/X"   (devices only)
 *   spBv1.0/STATE/...   -> unchanged (global; read-only for devices)
 *   $SYS/...            -> unchanged (platform admins only)
 *   anything else T     -> M T
 * Platform admins (no tenant) have no mount: they see broker topics as they
 * are and may subscribe "$tenant/+/..." to watch every tenant.
 * map_out reverses the mapping, so each device only ever sees its own
 * "me" topics.
 */
#ifndef LOOM_API_MQTT_PLATFORM_H
#define LOOM_API_MQTT_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "ingest/ingest.h"
#include "ingest/tbjson.h"
#include "meta/meta.h"
#include "mqtt/broker.h"
#include "sec/policy.h"

typedef struct api_mqtt api_mqtt;

enum { API_MQTT_DEVICE = 1, API_MQTT_USER = 2 };

#define API_MQTT_MOUNT_PREFIX "$tenant/"
#define API_MQTT_MOUNT_MAX (sizeof API_MQTT_MOUNT_PREFIX + META_ID_LEN + 1)

/* Who a connection is: the broker's `principal` (made by authenticate,
 * freed by principal_free; read-only once the connection is accepted, so
 * any thread may read it while the connection lives). Kept small (an idle
 * connection's cost): device_name, measurement and db_name point into the
 * same allocation, right after the struct, sized to the strings (never NULL
 * once authenticated). Connections of one user API token share one principal
 * (tok; the broker-thread fields then belong to all of them). A copy by
 * value (a job that may outlive the connection) must not use the names or
 * tok: mp_client_copy clears them and gives the copy its own db_name. */
#define API_MQTT_DB_MAX 65 /* db_name with its NUL, at most */
typedef struct api_mqtt_client {
  /* (ordered by alignment: no padding) */
  const char *device_name;               /* devices: its name; "" for users (see above) */
  const char *measurement;               /* devices: its profile's name (telemetry measurement) */
  const char *db_name;                   /* the tenant's engine database ("" for platform users) */
  struct mp_tok *tok;                    /* users with a token: the sharing (mqtt_platform_int.h) */
  struct api_mqtt *p;                    /* the platform that authenticated it */
  /* broker thread only */
  int64_t last_note_ms;                  /* devices: activity last noted (monotonic ms) */
  int64_t last_refusal_log_ms;           /* a refused publish last logged (monotonic ms) */
  sec_principal who;                     /* the policy principal (role and scope for users;
                                            users: the user id is who.subject_id) */
  uint16_t mount_len;                    /* strlen(mount) */
  uint8_t kind;                          /* API_MQTT_DEVICE or API_MQTT_USER */
  bool gateway;                          /* a device registered as a gateway */
  bool rpc_sub;                          /* devices: subscribed to its commands (broker thread) */
  uint8_t n_rpc_filters;                 /* devices: distinct filters taking its commands, */
  uint32_t rpc_filters[4];               /* by hash (rpc_sub = n_rpc_filters > 0; a fifth
                                            one is not told apart) */
  uint32_t pending_points;               /* devices: telemetry values not yet counted by
                                            api_device_note_points (broker thread; counted
                                            with the next noted activity) */
  bool disconnected;                     /* devices: on_disconnect seen (a will may still be
                                            published; broker thread) */
  char tenant_id[META_ID_LEN + 1];       /* "" for a platform admin user */
  char device_id[META_ID_LEN + 1];       /* devices: the device; users: "" */
  char mount[API_MQTT_MOUNT_MAX];        /* broker topic prefix of the tenant namespace, "" = none */
  char key[META_ID_LEN + 8];             /* revocation key: "t:<token id>" or "d:<device id>" */
} api_mqtt_client;

/* Create the platform hooks over api (api->meta, api->pool, api->engine,
 * api->live used when set; api->meta must be set: the registry's change
 * watch is installed on it, and the UNS rule cache is created over it).
 * Sets api->mqtt_platform. 0 or LOOM_ENOMEM. Main thread, before the broker
 * starts. */
int api_mqtt_new(loom_api *api, api_mqtt **out);
/* Free, after api_mqtt_detach and mqtt_broker_stop (no hook runs any more).
 * Removes the registry watch. Telemetry a stopped broker left unflushed is
 * dropped without calling its done (the broker is gone). The worker pool,
 * the engine and the device hub must still exist. NULL ok. Clears
 * api->mqtt_platform. Main thread. */
void api_mqtt_free(api_mqtt *p);
/* The hooks to pass in mqtt_broker_cfg.hooks (static storage inside p). */
const mqtt_hooks *api_mqtt_hooks(api_mqtt *p);
/* Give the platform the running broker (for server publishes: RPC requests,
 * attribute updates and responses; and kicks). Call after
 * mqtt_broker_start, before clients can connect. Main thread. */
void api_mqtt_attach(api_mqtt *p, mqtt_broker *b);

/* Before mqtt_broker_stop: free the Sparkplug host (its STATE death is
 * published while the broker still runs), refuse new work (connections
 * then get 0x88, telemetry 0x80) and wait for every job and telemetry batch
 * in flight to complete (their done callbacks reach the running broker);
 * then forget the broker (no more server publishes or kicks). Telemetry
 * still collecting into a batch is stored by the broker's final tick at
 * mqtt_broker_stop (acknowledgements then go nowhere: the clients are being
 * disconnected); api_mqtt_free waits for it. Idempotent; api_mqtt_free
 * calls it too. Main thread. */
void api_mqtt_detach(api_mqtt *p);

/* The attached broker (NULL before attach / after detach) and the API. For
 * the Sparkplug host (server publishes with a client's mount, c->mount). */
mqtt_broker *api_mqtt_broker(api_mqtt *p);
loom_api *api_mqtt_api(api_mqtt *p);

/* Store values (groups of key/values; TS_INT allowed) as telemetry of the
 * device named device_name in c's tenant, creating the device (with profile
 * `profile`, created too if missing; NULL = "default") when it does not
 * exist; the measurement is the device's profile name, the tag device=<name>
 * (as the HTTP device API stores it). values is read during the call only.
 * done(arg, 0, NULL) once the points are durable, or (arg, reason,
 * reason_string) with an MQTT reason code (0x80 storage failed, 0x87 not
 * authorized, 0x97 quota/overload, 0x99 bad names). qos is the publish's:
 * it bounds how long the points may wait to be stored with others (QoS 0
 * longer: nobody waits for its acknowledgement). A batch with no groups
 * completes at once (done called inline). Broker thread (the fast path
 * joins the loop iteration's batch, flushed by the tick hook); a device not
 * yet known is looked up / created on the worker pool. Returns 0, or
 * LOOM_EINVAL (c is no tenant principal, empty name), LOOM_ENOMEM,
 * LOOM_ECLOSED (stopping): then done is not called. */
int api_mqtt_store(api_mqtt *p, const api_mqtt_client *c, const char *device_name,
                   const char *profile, const tbjson_batch *values, uint8_t qos,
                   mqtt_ack_done_fn done, void *arg);

/* Tell connected MQTT devices about a registry change (device_api.c,
 * rest_rpc.c and the registry's change watch call these; any thread, cheap,
 * no-ops when p is NULL):
 * a command was queued for device_id: deliver it if the device is connected
 * and subscribed to v1/devices/me/rpc/request/+. */
void api_mqtt_rpc_notify(api_mqtt *p, const char *device_id);

/* ---- the device API's parts shared with MQTT (device_api.c) ----
 * Worker threads (they call the registry), except note_offline (any). */

/* Store line protocol lp (len bytes, ns precision) in engine database db
 * through ingest_lp_live, creating db in the engine when the registry names
 * it but the engine lacks it (first telemetry of a new tenant). Same
 * contract as ingest_lp (cb runs once on 0; never on error). */
int api_device_ingest(loom_api *api, const char *db, const char *lp, size_t len, ingest_result *res,
                      ts_write_cb cb, void *arg);
/* The measurement of a device's telemetry: its profile's name (cached 5 s;
 * "telemetry" when the profile cannot be read). */
void api_device_profile_name(loom_api *api, const char *tenant_id, const char *profile_id,
                             char *out, size_t cap);
/* The device's client and shared attributes as ThingsBoard's attributes
 * request answers them: {"client":{..},"shared":{..}}; client_keys /
 * shared_keys are comma lists (NULL: the scope is not asked for; both NULL:
 * every key of both). 0 and *out (caller owns), LOOM_EINVAL (more than 64
 * keys), LOOM_ECLOSED (no registry), or meta's codes; err gets a message. */
int api_device_attr_read(loom_api *api, const char *tenant_id, const char *device_id,
                         const char *client_keys, const char *shared_keys, json_t **out, char *err,
                         size_t errlen);
/* Claim the device's next queued command (status -> sent): *msg =
 * {"id","method","params"} (caller owns), rpc_id (META_ID_LEN + 1 bytes),
 * *oneway. 0, LOOM_ENOTFOUND (nothing pending), or meta's codes. */
int api_device_rpc_claim(loom_api *api, const char *tenant_id, const char *device_id,
                         json_t **msg, char *rpc_id, bool *oneway, char *err, size_t errlen);
/* After a claim: the command was handed to the device (ok: two-way ->
 * delivered, one-way -> successful) or could not be (-> queued again);
 * subscribers of command status hear of it. Logs a failed update. */
void api_device_rpc_handed(loom_api *api, const char *tenant_id, const char *device_id,
                           const char *rpc_id, bool oneway, bool ok);
/* The device's answer resp (may be NULL) to its command rpc_id: ->
 * successful. 0, LOOM_ENOTFOUND (no such command of this device),
 * LOOM_EINVAL (not awaiting an answer: already answered, expired), others. */
int api_device_rpc_answer(loom_api *api, const char *tenant_id, const char *device_id,
                          const char *rpc_id, const json_t *resp, char *err, size_t errlen);
/* The device disconnected: write it offline at the hub's next flush (unless
 * activity comes first). Any thread. */
void api_device_note_offline(loom_api *api, const char *device_id, const char *tenant_id);

/* ---- pure helpers (exposed for unit tests) ---- */

/* Map client topic t (n bytes) of client c into out (appended), as the
 * table above; is_filter for SUBSCRIBE filters. Returns 0 (out may be left
 * empty = unchanged) or an MQTT reason >= 0x80 (0x87 not authorized). Also
 * applies the authorization rules for the direction (is_filter =
 * subscribe, else publish). */
int api_mqtt_map_in(const api_mqtt_client *c, bool is_filter, const char *t, size_t n,
                    loom_buf *out);
/* Reverse: broker topic t -> what c sees (*out points into t, or into
 * scratch, cap bytes, when the topic must be rewritten: "v1/devices/me/..."
 * for the device's own id). 0, or -1 when c must not receive it. */
int api_mqtt_map_out(const api_mqtt_client *c, const char *t, size_t n, char *scratch,
                     size_t cap, const char **out, size_t *out_n);

#endif
