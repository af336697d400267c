/* SPDX-License-Identifier: Apache-2.0
 * The MQTT broker: one thread with its own libuv loop owns every MQTT
 * connection, session, the subscription tree and the retained store (as
 * mosquitto does, without locks on the hot path). It speaks MQTT 3.1, 3.1.1
 * and 5.0 over TCP and over WebSocket (connections handed over by the HTTP
 * server after the upgrade, mqtt_broker_adopt). Without hooks it is a plain
 * broker; the platform (src/api/mqtt_*.c) plugs in through mqtt_hooks:
 * authentication against the registry, topic mapping (tenant namespaces,
 * `v1/devices/me/...`), authorization, storing telemetry before a QoS 1/2
 * acknowledgement, device online state.
 *
 * Threads: every hook except the done callbacks runs on the broker thread.
 * Done callbacks (auth, publish acknowledgement) and the mqtt_broker_publish /
 * _kick / _stats_get calls may come from any thread. A done callback called
 * after mqtt_broker_stop returned is ignored safely, but the principal it
 * carries is then not freed: finish pending authentications before stopping.
 *
 * Policy notes: connections over max_conns or conn_rate are closed without
 * a CONNACK (counted in conns_refused); clients may not publish to "$SYS"
 * or "$share/..." names (PUBACK/PUBREC 0x87 at level 5; acknowledged and
 * dropped at levels 3/4, as mosquitto does); other '$' names are routed.
 * Shared subscriptions deliver round robin over the group's CONNECTED
 * members; when none is connected a QoS 1/2 delivery waits in one
 * (persistent) member's queue and a QoS 0 one is dropped (msgs_dropped).
 * Implementation: src/mqtt/broker*.c (internal header broker_int.h).
 */
#ifndef LOOM_MQTT_BROKER_H
#define LOOM_MQTT_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/transport.h"

typedef struct mqtt_broker mqtt_broker;

/* Limits that protect the broker. 0 in any field = the default given. */
typedef struct mqtt_limits {
  uint32_t max_packet;          /* largest packet accepted/sent, bytes (1 MiB) */
  uint32_t preauth_max_packet;  /* largest packet before CONNACK (16 KiB): a CONNECT */
  uint32_t connect_timeout_ms;  /* CONNECT must arrive and auth finish within (5000) */
  uint32_t max_conns;           /* open connections (100000) */
  uint32_t conn_rate;           /* new connections per second, token bucket (2000) */
  uint32_t max_queued_msgs;     /* per client (1000) */
  size_t max_queued_bytes;      /* per client (16 MiB) */
  size_t max_total_queued_bytes;/* all clients (512 MiB) */
  uint16_t recv_max;            /* our Receive Maximum (level 5) (64) */
  uint16_t inflight_311;        /* outbound window for levels 3/4 (20) */
  uint16_t topic_alias_max;     /* our Topic Alias Maximum (64) */
  uint16_t keepalive_max;       /* Server Keep Alive cap, seconds (0 = client's) */
  uint32_t session_expiry_max;  /* cap on Session Expiry Interval, s (7 days) */
  uint32_t max_subs_per_client; /* (1000) */
  size_t retained_max_count;    /* (100000) */
  size_t retained_max_bytes;    /* (256 MiB) */
} mqtt_limits;

/* ---- hooks (the platform) ---- */

/* A CONNECT to authenticate. Pointers valid only during the call. */
typedef struct mqtt_auth_req {
  const char *client_id;        /* as sent; "" if the client asked to be assigned one */
  const char *username;         /* NULL if absent */
  const uint8_t *password;      /* NULL if absent */
  size_t password_len;
  const char *peer;             /* "ip:port" */
  uint8_t level;                /* 3, 4, 5 */
  bool websocket;
} mqtt_auth_req;

typedef struct mqtt_auth_result {
  uint8_t reason;   /* 0 = accepted; else an MQTT 5 CONNACK reason: 0x86 bad user name
                       or password, 0x87 not authorized, 0x88 server unavailable
                       (mapped to 3.1.1 return codes 4, 5, 3) */
  void *principal;  /* the platform's, kept by the connection; freed with principal_free */
  const char *key;  /* revocation key (copied), e.g. a credential id; NULL = none */
} mqtt_auth_result;
/* Exactly once per authenticate call, from any thread. */
typedef void (*mqtt_auth_done_fn)(void *done_arg, const mqtt_auth_result *r);

/* A PUBLISH accepted from a client, topic already mapped (map_in). */
typedef struct mqtt_pub_view {
  const char *topic;            /* broker topic, NUL-terminated */
  size_t topic_len;
  const uint8_t *payload;
  size_t payload_len;
  uint8_t qos;
  bool retain;
  const uint8_t *props;         /* MQTT 5 property block body (may be empty) */
  size_t props_len;
  const char *client_id;
} mqtt_pub_view;

/* Result of on_publish: bit flags, or a negative refusal. */
#define MQTT_HOOK_ROUTE 1   /* deliver to subscribers (and retain if RETAIN) */
#define MQTT_HOOK_PENDING 2 /* acknowledge only when done() is called */
/* Called once per PENDING publish, from any thread: reason 0 = stored, else an
 * MQTT 5 reason code (0x80 unspecified, 0x97 quota, 0x99 payload format
 * invalid); the broker answers PUBACK/PUBREC with it at level 5 and closes the
 * connection at levels 3/4 (they cannot carry a refusal). */
typedef void (*mqtt_ack_done_fn)(void *done_arg, uint8_t reason, const char *reason_string);

/* One subscription of a resumed session (on_resume). */
typedef struct mqtt_sub_view {
  const char *filter;   /* broker filter, as on_subscribe got it ("$share/{group}/"
                           kept on shared ones); not NUL-terminated */
  size_t len;
  uint8_t qos;          /* granted maximum QoS */
} mqtt_sub_view;

/* on_resume passes at most this many subscriptions when memory for a longer
 * list cannot be had (never otherwise). */
#define MQTT_RESUME_MIN_SUBS 32

typedef struct mqtt_hooks {
  void *ud;
  /* Authenticate a CONNECT; call done exactly once (any thread, may be inline). */
  void (*authenticate)(void *ud, const mqtt_auth_req *req, mqtt_auth_done_fn done,
                       void *done_arg);
  /* Map a client topic (PUBLISH name, or SUBSCRIBE/UNSUBSCRIBE filter when
   * is_filter; the "$share/g/" prefix already removed) to the broker's topic
   * space. Append the mapped topic to out and return 0, or leave out empty
   * and return 0 to keep it as is; or return an MQTT reason >= 0x80 to refuse
   * (0x87 not authorized): PUBACK/SUBACK say so at level 5, 3.1.1 SUBACK 0x80. */
  int (*map_in)(void *ud, void *principal, bool is_filter, const char *t, size_t n,
                loom_buf *out);
  /* Broker topic -> the topic this client sees (strip what map_in added).
   * Return 0 with out/out_n set (may point into t), or a negative code to not
   * deliver. NULL hook = identity. */
  int (*map_out)(void *ud, void *principal, const char *t, size_t n, const char **out,
                 size_t *out_n);
  /* A PUBLISH (and a will when sent). Returns MQTT_HOOK_* flags or an MQTT
   * reason >= 0x80 as a negative number (-0x87) to refuse it. NULL = route. */
  int (*on_publish)(void *ud, void *principal, const mqtt_pub_view *m, mqtt_ack_done_fn done,
                    void *done_arg);
  /* A subscription was granted (broker filter). Also called when a client
   * SUBSCRIBEs again to a filter it already has (options replaced). Optional. */
  void (*on_subscribe)(void *ud, void *principal, const char *filter, size_t n, uint8_t qos);
  /* A subscription was removed by UNSUBSCRIBE: filter is the broker filter
   * exactly as on_subscribe got it. Not called for a filter the client did
   * not have (UNSUBACK 0x11), nor when subscriptions end with the session
   * (Clean Start, expiry: on_disconnect covers the connection). Optional. */
  void (*on_unsubscribe)(void *ud, void *principal, const char *filter, size_t n);
  /* Connection accepted (after CONNACK) / ended. Optional. */
  void (*on_connect)(void *ud, void *principal, const char *client_id);
  /* Right after on_connect, only when the connection resumed an existing
   * session (CONNACK Session Present = 1; at level 3, which cannot say so,
   * likewise): the subscriptions the session kept, which the client will not
   * SUBSCRIBE again (n may be 0). The platform treats each as if on_subscribe
   * had been called for this principal. subs valid only during the call.
   * Optional. */
  void (*on_resume)(void *ud, void *principal, const char *client_id, const mqtt_sub_view *subs,
                    size_t n);
  void (*on_disconnect)(void *ud, void *principal, const char *client_id);
  /* Once per loop iteration after I/O (batch flushes), and once with final
   * set when the broker stops (flush everything). Returns the ms after which
   * it wants to run again even if no I/O comes (the broker sets a timer), or
   * -1. Optional. */
  int (*tick)(void *ud, bool final);
  void (*principal_free)(void *ud, void *principal);
} mqtt_hooks;

typedef struct mqtt_broker_cfg {
  const char *listen;         /* "host:port" for TCP; NULL = no TCP listener */
  const char *state_dir;      /* sessions + retained snapshot directory; NULL = none */
  uint32_t autosave_s;        /* snapshot interval when dirty (60); 0 = only at stop */
  uint32_t sys_interval_s;    /* $SYS publish interval (10); 0 = off */
  bool allow_anonymous;       /* with no authenticate hook: accept all (tests, bench) */
  mqtt_limits limits;
  const mqtt_hooks *hooks;    /* copied; NULL = plain broker */
  /* Optional byte transport for every accepted TCP connection (TLS later):
   * created on the broker thread with the connection's sink; recv/send as
   * in http/transport.h. NULL = plain TCP (no transport object). */
  http_transport_new_fn tcp_transport;
  void *tcp_transport_user;
} mqtt_broker_cfg;

/* Start the broker thread; binds cfg->listen before returning (port 0 =
 * ephemeral, see mqtt_broker_port) and loads the state snapshot from
 * cfg->state_dir (mqtt/persist.h; a damaged snapshot is logged and what
 * could be read is kept). 0, LOOM_EINVAL, LOOM_EIO (bind), LOOM_ENOMEM;
 * err (may be NULL) receives a message. */
int mqtt_broker_start(const mqtt_broker_cfg *cfg, mqtt_broker **out, char *err, size_t errlen);
/* The bound TCP port (0 without a listener). */
int mqtt_broker_port(const mqtt_broker *b);
/* Stop: flush what was already routed (best effort), close every
 * connection (no wills: the broker is going away), join the thread, save
 * the state snapshot, free. NULL ok. Not from a hook (the broker thread). */
void mqtt_broker_stop(mqtt_broker *b);

/* Take over an upgraded WebSocket connection (any thread): fd is a connected
 * TCP socket whose handshake is done; pending = bytes already read after the
 * handshake. The broker owns fd from now on (closes it on error too). */
int mqtt_broker_adopt_ws(mqtt_broker *b, int fd, const uint8_t *pending, size_t len,
                         const char *peer);

/* Publish as the server (any thread; copied): routed and retained like a
 * client's publish, no on_publish hook. topic in the broker's topic space. */
int mqtt_broker_publish(mqtt_broker *b, const char *topic, const void *payload, size_t len,
                        uint8_t qos, bool retain);
/* Disconnect every client whose auth result key equals key (any thread):
 * level 5 gets DISCONNECT 0x87 first. Revocation of credentials. */
int mqtt_broker_kick(mqtt_broker *b, const char *key);

typedef struct mqtt_broker_stats {
  uint64_t conns_open, conns_total, conns_refused;
  uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
  uint64_t msgs_dropped;          /* queue full, expired, too large */
  uint64_t subscriptions, retained, sessions;
} mqtt_broker_stats;
void mqtt_broker_stats_get(mqtt_broker *b, mqtt_broker_stats *out);

#endif
