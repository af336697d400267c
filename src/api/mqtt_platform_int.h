/* SPDX-License-Identifier: Apache-2.0
 * Internals shared by the MQTT platform's files: mqtt_platform.c (hooks,
 * authentication, topic mapping, telemetry batching, kicks), mqtt_device.c
 * (ThingsBoard v1/devices/me/...: attributes, RPC both ways, pushes) and
 * mqtt_gateway.c (v1/gateway/...). Not a public interface.
 */
#ifndef LOOM_API_MQTT_PLATFORM_INT_H
#define LOOM_API_MQTT_PLATFORM_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/mqtt_platform.h"
#include "core/strmap.h"
#include "ingest/lp.h"
#include "meta/watch.h"

struct api_spb;
struct api_mqtt_rules;

/* A publish waiting in the loop iteration's batch. */
typedef struct mp_pend {
  mqtt_ack_done_fn done;
  void *arg;
  uint32_t first_line, n_lines; /* its lines in the batch (1-based, as ingest names them) */
} mp_pend;

/* The telemetry of one loop iteration for one engine database: one
 * ingest call at the tick, every publish's done when it is durable. */
typedef struct mp_batch {
  struct api_mqtt *p;
  char db[65];
  loom_buf lp;
  mp_pend *pends;
  size_t n_pends, cap_pends;
  uint32_t lines; /* line-protocol lines in lp (as lp_parse numbers them) */
  lp_batch pts;   /* lp's points, built as lp is written (not parsed back) */
  bool pts_off;   /* some could not be built: parse lp instead */
  ingest_result res;
  size_t bytes; /* counted in the platform's inflight_bytes while the engine has it */
  int64_t due_us; /* monotonic µs: stored at the first tick from then on (MP_STORE_MS) */
  int64_t last_ack_add_us; /* monotonic µs: the last QoS 1/2 publish joined (0: none) */
  struct mp_batch *next;
} mp_batch;

/* A publish answered at the next tick with a refusal (bad payload ...). */
typedef struct mp_fail {
  mqtt_ack_done_fn done;
  void *arg;
  uint8_t reason;
  char msg[200];
} mp_fail;

/* A device with MQTT presence: connected itself, or a gateway's child.
 * Individually allocated; the map's key points at device_id. Under lock. */
typedef struct mp_dev {
  char device_id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  char name[256];
  char gw_id[META_ID_LEN + 1]; /* children: their gateway ("" = connected itself) */
  int n_conns;                 /* its own connections */
  int n_rpc_subs;              /* connections subscribed to its rpc/request (gateways: v1/gateway/rpc) */
  bool busy, again;            /* a delivery job runs / must run again */
} mp_dev;

/* A device known by (tenant, name), for gateway and UNS/Sparkplug stores.
 * Under lock. */
typedef struct mp_name {
  char key[META_ID_LEN + 1 + 256]; /* "<tenant>/<name>" */
  char device_id[META_ID_LEN + 1];
  char measurement[256];
  int64_t fetched_ms; /* monotonic */
} mp_name;

/* The principal shared by every connection of one user API token (same
 * identity): an idle connection costs the platform nothing of its own. It
 * holds the token's one live-hub revocation registration (a kick
 * disconnects every connection with the key anyway). Under lock. */
typedef struct mp_tok {
  struct mp_tok *next;
  struct api_mqtt *p;
  api_mqtt_client *c;         /* the shared principal (c->tok == this) */
  size_t refs;                /* principals handed to the broker, not yet freed */
  live_session *session;      /* NULL: no hub, or it would not take it */
  char key[META_ID_LEN + 8];  /* c->key, "t:<token id>" */
} mp_tok;

/* A publish waiting for its tenant's UNS rules to load (broker thread):
 * delivered already, stored (and acknowledged) once the rules are there. */
typedef struct mp_wait {
  struct mp_wait *next;
  api_mqtt_client c;  /* a copy (mp_client_copy): the connection may end meanwhile */
  char db[API_MQTT_DB_MAX]; /* c.db_name */
  mqtt_ack_done_fn done;
  void *arg;
  uint8_t qos;
  int64_t since_ms;   /* monotonic */
  size_t topic_len, payload_len;
  char *topic;        /* topic (without the mount) then payload, one allocation */
} mp_wait;

struct api_mqtt {
  loom_api *api;
  mqtt_hooks hooks;
  _Atomic(mqtt_broker *) broker;
  _Atomic(struct api_spb *) spb;
  struct api_mqtt_rules *rules; /* the tenants' UNS rules (NULL until that code lands) */
  pthread_mutex_t lock;
  pthread_cond_t idle; /* inflight reached 0 */
  size_t inflight;     /* jobs and batches not yet completed (under lock) */
  atomic_size_t inflight_bytes; /* line protocol handed to the engine, not yet durable */
  bool stopping;       /* under lock */
  strmap devs_map;     /* device id -> index in devs (under lock) */
  mp_dev **devs;
  size_t n_devs, cap_devs;
  strmap names_map;    /* "<tenant>/<name>" -> index in names (under lock) */
  mp_name *names;
  size_t n_names;
  mp_tok *toks;        /* shared user principals (under lock) */
  /* the storage thread: hands due batches to the engine, so their writes do
   * not stall the broker's loop (store_mu guards the queue and the flag) */
  pthread_t store_thread;
  bool store_started;
  pthread_mutex_t store_mu;
  pthread_cond_t store_cv;
  mp_batch *store_head, **store_tail;
  bool store_stop;
  /* broker thread only */
  mp_batch *batches;   /* collecting (MP_STORE_MS), one per database */
  mp_fail *fails;
  size_t n_fails, cap_fails;
  mp_wait *waits, **waits_tail; /* publishes waiting for UNS rules, oldest first */
  size_t n_waits;
  char scratch[1024];  /* map_out's rewritten topics */
  int64_t next_refresh_ms; /* monotonic: connected devices' activity refresh */
  uint64_t dropped_qos0;   /* QoS 0 telemetry publishes dropped (storage behind) */
  int64_t drop_log_ms;     /* monotonic: last logged */
};

/* A delivery of queued commands to one device (mqtt_device.c). */
typedef struct rpc_job {
  struct api_mqtt *p;
  char device_id[META_ID_LEN + 1];
} rpc_job;

/* ---- mqtt_platform.c ---- */
/* *dst = *src for a job that may outlive the connection: the copy's
 * device_name, measurement and tok (owned by src's allocation) are cleared
 * ("" / NULL); its db_name is copied into db (the caller's, living as long
 * as dst). */
void mp_client_copy(api_mqtt_client *dst, char db[API_MQTT_DB_MAX], const api_mqtt_client *src);
/* Jobs: count one in (0, or LOOM_ECLOSED when stopping) / out. */
/* Telemetry batches (mqtt_store.c). Join values (of device `name`,
 * measurement meas, published at qos) to db's batch; done(arg, ...) once
 * durable. Broker thread. 0, or an MQTT reason (done not called). */
uint8_t mp_batch_add(struct api_mqtt *p, const char *db, const char *meas, const char *name,
                     const tbjson_batch *values, uint8_t qos, mqtt_ack_done_fn done, void *arg);
/* Hand the batches that are due (all when final: the broker's stop) to the
 * storage thread. Broker thread. Returns the ms until the next one is due,
 * or -1 when none waits. */
int mp_batches_flush(struct api_mqtt *p, bool final);
/* Free a batch (its publishes' done callbacks are the caller's business). */
void mp_batch_free(mp_batch *b);
/* Start the storage thread (api_mqtt_new; without it batches are written on
 * the broker thread): 0 or LOOM_ENOMEM. Stop it once no batch is in flight
 * (api_mqtt_free, after api_mqtt_detach). */
int mp_store_start(struct api_mqtt *p);
void mp_store_stop(struct api_mqtt *p);
int mp_job_begin(struct api_mqtt *p);
void mp_job_end(struct api_mqtt *p);
/* Run fn(arg) on the worker pool as a counted job. 0, LOOM_ECLOSED,
 * LOOM_ENOMEM (fn never runs then). */
int mp_submit(struct api_mqtt *p, void (*fn)(void *), void *arg);
/* Publish a server message to broker topic mount + rest (QoS 1). Any
 * thread; 0 or a code (no broker: LOOM_ECLOSED). */
int mp_publish(struct api_mqtt *p, const char *mount, const char *rest, const char *payload,
               size_t len);
/* The same with a JSON body (consumed). */
int mp_publish_json(struct api_mqtt *p, const char *mount, const char *rest, json_t *body);
/* Refuse a PENDING publish at the next tick (broker thread). */
void mp_fail_later(struct api_mqtt *p, mqtt_ack_done_fn done, void *arg, uint8_t reason,
                   const char *msg);
/* Look up or create (with profile `profile`, NULL = "default", created
 * when missing) device `name` of c's tenant; gw (may be NULL) is the
 * gateway creating it (recorded as the server attribute
 * lastConnectedGateway). Fills id (META_ID_LEN + 1) and measurement.
 * Worker thread. 0, LOOM_EINVAL (bad name; err), meta's codes. */
int mp_device_resolve(struct api_mqtt *p, const api_mqtt_client *c, const char *name,
                      const char *profile, const char *gw_id, char *id, char *measurement,
                      size_t mcap, char *err, size_t errlen);
/* Mark a gateway's child present (gateway connect) or gone. Any thread. */
void mp_child_add(struct api_mqtt *p, const api_mqtt_client *gw, const char *device_id,
                  const char *name);
void mp_child_remove(struct api_mqtt *p, const char *device_id);
/* A tenant's UNS rules changed (NULL: any tenant's): reload them. Any thread. */
void mp_rules_changed(struct api_mqtt *p, const char *tenant_id);
/* Schedule delivery of queued commands of device_id (if present). */
void mp_rpc_kick(struct api_mqtt *p, const char *device_id);
/* The entry of device_id (created when create); lock held. Forget it when
 * nothing holds it any more (lock held). */
mp_dev *mp_dev_get(struct api_mqtt *p, const char *device_id, bool create);
void mp_dev_maybe_drop(struct api_mqtt *p, mp_dev *d);
/* Telemetry on the device's own topic into the loop iteration's batch
 * (broker thread): MQTT_HOOK_* flags. */
int mp_store_own(struct api_mqtt *p, api_mqtt_client *c, const mqtt_pub_view *m,
                 mqtt_ack_done_fn done, void *arg);

/* ---- mqtt_device.c (broker thread unless said) ---- */
/* A device's publish on its own topics (rest = after "v1/devices/me/"):
 * returns MQTT_HOOK_* flags or a negative reason. */
int mp_device_publish(struct api_mqtt *p, api_mqtt_client *c, const char *rest,
                      const mqtt_pub_view *m, mqtt_ack_done_fn done, void *arg);
/* Deliver queued commands of the device (worker thread; job counted). */
void mp_rpc_deliver_job(void *arg);
/* Registry change watch (meta/watch.h): kicks and shared attribute pushes. */
void mp_on_change(void *ud, const meta_change *ch);

/* ---- mqtt_gateway.c ---- */
int mp_gateway_publish(struct api_mqtt *p, api_mqtt_client *c, const char *rest,
                       const mqtt_pub_view *m, mqtt_ack_done_fn done, void *arg);

#endif
