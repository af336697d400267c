/* SPDX-License-Identifier: Apache-2.0
 * Private to the broker (src/mqtt/broker*.c): the broker, client (session)
 * and connection structs shared by broker.c (thread, loop, listener,
 * mailbox, flushing, timers, $SYS), broker_conn.c (one connection: framing,
 * CONNECT, packets in) and broker_route.c (clients table, routing, retained,
 * wills). Everything here runs on the broker thread except the mailbox.
 */
#ifndef LOOM_MQTT_BROKER_INT_H
#define LOOM_MQTT_BROKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "http/transport.h"
#include "mqtt/broker.h"
#include "mqtt/codec.h"
#include "mqtt/retain.h"
#include "mqtt/session.h"
#include "mqtt/subtree.h"

/* Output bytes queued on a connection (not yet accepted by the kernel)
 * above which we stop reading from it and stop draining its session. */
#define BR_OUT_HIGH (1u << 20)
#define BR_READ_CHUNK 65536u
/* How long a closed connection may take to write what was queued. */
#define BR_LINGER_MS 2000u

typedef struct br_conn br_conn;
typedef struct br_client br_client;

/* One subscription of a client, as given to the tree (full filter, with
 * "$share/g/" when shared). Kept for persistence and counting. */
typedef struct br_sub {
  char *filter;
  size_t len;
  mqtt_sub_opts opts;
} br_sub;

/* A client identifier's session; lives across connections. */
struct br_client {
  char *id;
  size_t id_len;
  uint32_t hash;
  br_client *hnext;          /* clients table chain */
  br_client *dnext, *dprev;  /* disconnected list (expiry sweep) */
  mqtt_session *sess;
  br_conn *conn;             /* current connection or NULL */
  uint32_t expiry_s;         /* Session Expiry Interval in effect */
  uint8_t level;             /* level of the last connection */
  bool in_dlist;
  br_sub *subs;
  uint32_t n_subs, cap_subs;
  size_t acct_bytes;         /* queued bytes counted in b->total_queued */
  mqtt_msg *will;            /* delayed will, or NULL */
  uint64_t will_at_ms;       /* when to send it (loop ms) */
  void *will_principal;      /* principal of the connection that left it */
  size_t save_idx;           /* 1 + index in b->inc_list while an incremental
                                save has yet to write it; 0 = none */
};

/* A PUBLISH acknowledgement waiting to go out in order [MQTT-4.6.0-2]. */
typedef struct br_ack {
  struct br_ack *next;
  uint16_t packet_id;
  uint8_t type;    /* MQTT_PUBACK or MQTT_PUBREC */
  uint8_t reason;
  bool done;
  char *reason_string; /* owned, level 5 only */
} br_ack;

/* A CONNECT parsed and waiting for authentication (copies). */
typedef struct br_pconnect {
  char *client_id;      /* assigned one when the client sent "" */
  bool assigned;
  bool clean_start;
  uint16_t keepalive_s;
  uint32_t expiry_s;    /* already capped */
  bool expiry_capped;
  uint16_t recv_max_out;
  uint16_t alias_max_out;
  uint32_t max_packet_out;
  bool no_problem_info;
  mqtt_msg *will;       /* client topic; mapped after auth */
  uint32_t will_delay_s;
} br_pconnect;

enum { BR_ST_NEW = 0, BR_ST_AUTH, BR_ST_UP, BR_ST_CLOSED };

/* One network connection. uv handle first. */
struct br_conn {
  uv_tcp_t tcp;
  mqtt_broker *b;
  br_client *cl;
  http_transport *tr;   /* NULL for plain TCP */
  loom_buf in;          /* partial packet carried to the next read */
  loom_buf out;         /* MQTT bytes to send */
  loom_buf wire;        /* transport output (tr only) */
  size_t writing;       /* bytes handed to uv_write, not yet done */
  br_conn *next, *prev; /* every live struct (b->conns) */
  br_conn *dirty_next;  /* b->dirty list; holds a ref */
  br_ack *acks_head, *acks_tail;
  br_pconnect *pc;
  void *principal;
  char *key;            /* revocation key */
  char *peer;           /* WebSocket: "ip:port" as the HTTP server saw it */
  mqtt_msg *will;       /* mapped will, or NULL */
  uint64_t last_rx_ms;
  uint64_t deadline_ms; /* CONNECT + auth must finish by then; when
                           lingering, the forced close */
  uint32_t will_delay_s;
  uint32_t expiry_s;
  uint32_t refs;
  uint32_t unacked;     /* QoS 1/2 PUBLISHes sent on this connection, not done */
  uint16_t recv_max_out;/* the client's Receive Maximum (levels 3/4: our window) */
  uint16_t keepalive_s;
  uint8_t level, state;
  bool dirty, reading, ws, closing, read_blocked, in_rx;
  bool no_problem_info; /* CONNECT Request Problem Information = 0 */
  bool gate;            /* resends exceed recv_max_out: count them */
  bool linger;          /* closed, shutting down after queued writes */
  bool window_opened;   /* this read acknowledged outgoing QoS 1/2: send more at once */
};

/* Cross-thread mailbox, refcounted: outlives the broker while done
 * callbacks are outstanding. */
typedef struct br_event br_event;
typedef struct br_mailbox {
  pthread_mutex_t mu;
  br_event *head, *tail;
  uv_async_t *async;   /* NULL once stopped */
  bool stopped;
  atomic_uint refs;
} br_mailbox;

struct mqtt_broker {
  mqtt_broker_cfg cfg;
  mqtt_limits lim;
  mqtt_hooks hooks;
  bool has_hooks;
  uv_loop_t loop;
  uv_tcp_t listener;
  bool has_listener;
  bool accept_pending;  /* a connection waits for memory to be accepted */
  uv_async_t async;
  uv_timer_t sweep;
  uv_timer_t sys_timer;
  uv_check_t check;
  pthread_t thread;
  int port;
  br_mailbox *mb;
  bool stopping;
  bool dirty_state;     /* something to save since the last snapshot */
  uv_timer_t autosave;
  uv_timer_t tick_timer; /* runs the tick hook when it asked to be run again */
  uint64_t tick_due;     /* loop time the tick timer fires at, while active */
  uv_work_t save_work;  /* commit (fsync, rename) off the loop thread */
  struct mqtt_snap_writer *save_w;
  int save_rc;
  bool saving;
  /* incremental autosave (broker_persist.c): the open snapshot and the
   * clients still to write (NULL = freed meanwhile), one slice per loop
   * iteration from save_idle */
  struct mqtt_snap_writer *inc_w;
  br_client **inc_list;
  size_t inc_n, inc_pos;
  size_t inc_ret_pos;   /* retained messages: mqtt_retain_each_from cursor */
  uint64_t inc_now;     /* loop ms at the start: every record is saved at it */
  uint64_t inc_wall_ms; /* wall clock at the start (retained expiry) */
  uv_idle_t save_idle;
  mqtt_subtree *tree;
  mqtt_retain *retain;
  mqtt_matches matches;
  br_client **ctab;
  size_t ctab_cap, n_clients;
  br_client *dlist;     /* disconnected clients */
  uint64_t dl_next_ms;
  uint32_t sweeps;      /* sweep timer ticks */
  /* $SYS load averages (broker_sys.c): 4 counters x 1/5/15 minutes */
  double load[4][3];
  uint64_t load_prev[4];
  uint64_t load_at_ms;  /* earliest will or expiry among them (sweep skip) */
  br_conn *conns;
  br_conn *dirty;
  size_t n_open;
  size_t total_queued;
  double tokens;
  uint64_t tokens_at_ms;
  uint64_t start_ms;
  uint64_t id_counter;
  uint8_t *rbuf;        /* shared read buffer */
  bool rbuf_busy;
  loom_buf tmp;         /* scratch for map_in */
  /* stats */
  atomic_uint_fast64_t conns_open, conns_total, conns_refused, msgs_in, msgs_out, bytes_in,
      bytes_out, msgs_dropped, n_subs, n_retained, n_sessions;
};

/* broker.c */
uint64_t br_now(mqtt_broker *b);
void br_conn_ref(br_conn *c);
void br_conn_unref(br_conn *c);
void br_conn_mark(br_conn *c);
void br_conn_close(br_conn *c, bool will);
void br_conn_start_tcp(br_conn *c);
int br_conn_send_raw(br_conn *c, const uint8_t *p, size_t n);
void *br_ticket_new(mqtt_broker *b, int kind, br_conn *c, br_ack *a);
void br_ticket_drop(void *t);
void br_auth_done(void *arg, const mqtt_auth_result *r);
void br_ack_done(void *arg, uint8_t reason, const char *reason_string);

/* broker_conn.c */
void br_conn_input(br_conn *c, const uint8_t *p, size_t n);
void br_conn_auth_result(br_conn *c, const mqtt_auth_result *r);
void br_conn_ack_result(br_conn *c, br_ack *a, uint8_t reason, const char *rs);
void br_conn_drain(br_conn *c);
void br_conn_disconnect(br_conn *c, uint8_t reason, const char *msg, bool will);
void br_conn_sweep(br_conn *c, uint64_t now);
void br_conn_free_parts(br_conn *c);

/* broker_sys.c: publish the $SYS topics (retained) */
void br_sys_publish(mqtt_broker *b);

/* broker_persist.c: 0 or the persist error (logged for load). _write
 * builds the snapshot (records written, not yet committed: *out, NULL
 * without a state_dir) for mqtt_snap_commit on any thread; _save does both. */
struct mqtt_snap_writer;
int br_state_write(mqtt_broker *b, struct mqtt_snap_writer **out);
int br_state_save(mqtt_broker *b);
int br_state_load(mqtt_broker *b);
/* Incremental snapshot for autosave, so a large state does not block the
 * loop: _begin opens it (0 with nothing to do without a state_dir: then
 * b->inc_w stays NULL) and lists the persistent clients; each _step writes
 * clients for about budget_ms, then the retained messages, and when
 * complete hands the writer (ready for mqtt_snap_commit) to *done_w. Every
 * record is saved as of the loop time at _begin (the snapshot's stamp).
 * Clients freed meanwhile are skipped; clients created meanwhile wait for
 * the next snapshot (their changes mark the state dirty). _abort drops an
 * open one. Errors: persist codes (the snapshot is then aborted). */
int br_state_inc_begin(mqtt_broker *b);
int br_state_inc_step(mqtt_broker *b, uint64_t budget_ms, struct mqtt_snap_writer **done_w);
void br_state_inc_abort(mqtt_broker *b);

/* broker_route.c */
br_client *br_client_find(mqtt_broker *b, const char *id, size_t len);
int br_client_new(mqtt_broker *b, const char *id, mqtt_session_cfg *scfg, br_client **out);
void br_client_free(mqtt_broker *b, br_client *cl, bool send_will);
void br_session_cfg(mqtt_broker *b, mqtt_session_cfg *scfg);
/* The client's connection ended. w: the will to publish (reference taken),
 * or NULL. Returns true if it kept principal (for a delayed will). The
 * client may be freed (Session Expiry 0). */
bool br_client_detach(mqtt_broker *b, br_client *cl, mqtt_msg *w, uint32_t will_delay_s,
                      void *principal);
int br_client_adopt(mqtt_broker *b, const char *id, mqtt_session *s, br_client **out);
void br_dlist_remove(mqtt_broker *b, br_client *cl);
void br_dlist_add(mqtt_broker *b, br_client *cl);
/* Store (payload) or delete (empty payload) a retained message; props are
 * the forwarded property block, expiry in seconds from now. */
void br_retain_put(mqtt_broker *b, const mqtt_retain_msg *m, bool has_expiry,
                   uint32_t remaining_s);
void br_client_cancel_will(mqtt_broker *b, br_client *cl);
int br_route(mqtt_broker *b, mqtt_msg *m, br_client *from);
/* Shared-subscription eligibility (mqtt_subtree_set_eligible): the
 * client (sub, a br_client) has a connection. */
bool br_client_online(void *ud, const void *sub);
int br_publish_will(mqtt_broker *b, mqtt_msg *w, void *principal, const char *client_id);
int br_client_sub_add(mqtt_broker *b, br_client *cl, const char *f, size_t n,
                      const mqtt_sub_opts *o, bool *is_new);
int br_client_sub_remove(mqtt_broker *b, br_client *cl, const char *f, size_t n);
void br_retained_replay(mqtt_broker *b, br_client *cl, const char *filter, size_t n,
                        const mqtt_sub_opts *o);
void br_acct(mqtt_broker *b, br_client *cl);
/* Delete retained messages whose Message Expiry passed. */
void br_retain_purge(mqtt_broker *b);
void br_sweep_clients(mqtt_broker *b, uint64_t now);

#endif
