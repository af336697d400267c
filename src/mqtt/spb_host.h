/* SPDX-License-Identifier: Apache-2.0
 * Sparkplug B 3.0 host application state, pure (no I/O, no clock: callers
 * pass now_ms): per edge node the bdSeq of its session (from the NBIRTH and
 * NDEATH "bdSeq" metric), seq continuity 0..255 over every message the node
 * sends after its NBIRTH, the metric tables (name, alias, datatype) that
 * births define for the node and each of its devices, and online state.
 * Each message gets a verdict: store its values or not, ask the node for a
 * rebirth (a seq gap, DATA or DBIRTH before a birth, an unknown alias), mark
 * the node or a device online/offline. src/api/mqtt_sparkplug.c acts on it.
 *
 * Not thread-safe: one owner (the broker thread) calls everything.
 */
#ifndef LOOM_MQTT_SPB_HOST_H
#define LOOM_MQTT_SPB_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mqtt/spb.h"

typedef struct spb_host spb_host;

/* Limits: births over them are refused (verdict ignore), never allocated. */
#define SPB_HOST_MAX_NODES 100000
#define SPB_HOST_MAX_DEVICES 10000   /* per edge node */
#define SPB_HOST_MAX_METRICS 100000  /* per birth */
#define SPB_HOST_MAX_TOTAL_METRICS 4000000 /* held by all births of the host together */
/* After asking a node for a rebirth, further requests wait this long (the
 * node is expected to answer with NBIRTH; until then every DATA would ask). */
#define SPB_HOST_REBIRTH_HOLDOFF_MS 5000

/* The metric every edge node must accept in NCMD (specification 3.0). */
#define SPB_REBIRTH_METRIC "Node Control/Rebirth"

typedef struct spb_verdict {
  bool store;          /* the message's metric values are data to keep (names resolved) */
  bool rebirth;        /* publish an NCMD rebirth request to the node now */
  bool node_online;    /* the node went online (NBIRTH) */
  bool node_offline;   /* the node went offline (NDEATH with its session's bdSeq):
                          its devices too */
  bool device_online;  /* DBIRTH */
  bool device_offline; /* DDEATH */
  const char *why;     /* why a message was not stored or a rebirth asked: static
                          text ("seq gap", "DATA before NBIRTH", ...); NULL when fine */
} spb_verdict;

/* 0 or LOOM_ENOMEM. */
int spb_host_new(spb_host **out);
/* NULL ok. */
void spb_host_free(spb_host *h);

/* Where a message's aliases resolve: node_key names the edge node for the
 * caller (any string unique per node, e.g. "<tenant mount>spBv1.0/<group>/<node>");
 * device is the device id for D* messages, else NULL. Both NUL-terminated,
 * borrowed for the decode call. */
typedef struct spb_host_scope {
  spb_host *h;
  const char *node_key;
  const char *device;
} spb_host_scope;

/* An spb_type_fn for spb_payload_decode with ud = an spb_host_scope: the
 * birth datatype of a metric sent by alias (or by name without a datatype). */
uint32_t spb_host_type_of(void *ud, const spb_metric *m);

/* Apply message type (node or device message as in topic t, device =
 * t's device id NUL-terminated) with its decoded payload p to the node's
 * state and fill v. Metrics of DATA sent by alias only get their name set
 * (m->name then points into the host: valid until the next birth of that
 * node/device or spb_host_free); metrics whose alias is unknown keep name
 * NULL (and cause a rebirth request).
 * Rules (Sparkplug 3.0, host application):
 *   NBIRTH  new session: bdSeq recorded, seq must be 0 (else rebirth asked,
 *           birth still applied), metric table replaced, every device reset
 *           to "no birth", node online, store.
 *   NDEATH  bdSeq equal to the session's (or either unknown): node and its
 *           devices offline; another bdSeq: a stale will, ignored. No seq.
 *   DBIRTH  needs the node online (else rebirth); seq checked; device table
 *           replaced; device online; store.
 *   DDEATH  seq checked; device offline.
 *   NDATA/DDATA  need the births (else rebirth, not stored); seq checked: a
 *           gap asks a rebirth and resynchronises on the received seq (the
 *           values are still stored: they are real readings).
 *   NCMD/DCMD  not the host's business: nothing.
 * Rebirth requests are held off SPB_HOST_REBIRTH_HOLDOFF_MS per node.
 * 0; LOOM_ENOMEM (state unchanged for births); LOOM_ERANGE (a limit above:
 * the birth is ignored, v->why says so). */
int spb_host_process(spb_host *h, const char *node_key, const char *device, spb_msg_type type,
                     spb_payload *p, int64_t now_ms, spb_verdict *v);

/* Look up a metric of the last birth of a node (device NULL) or device by
 * name: datatype and alias (has_alias false when the birth gave none). Any
 * out pointer may be NULL. 0 or LOOM_ENOTFOUND (no such node/device/metric). */
int spb_host_metric_find(spb_host *h, const char *node_key, const char *device,
                         const char *name, uint32_t *datatype, uint64_t *alias, bool *has_alias);

typedef struct spb_node_state {
  bool online;
  bool has_bdseq;
  uint64_t bdseq;
  int last_seq;          /* -1 before any */
  size_t n_devices;      /* devices ever born in this session */
  uint64_t n_rebirths;   /* rebirth requests asked for this node */
} spb_node_state;

/* 0 or LOOM_ENOTFOUND. */
int spb_host_node_state(spb_host *h, const char *node_key, spb_node_state *out);
/* Device online (DBIRTH seen, no DDEATH/NDEATH since)? false when unknown. */
bool spb_host_device_online(spb_host *h, const char *node_key, const char *device);

/* The i-th device (0-based, in order of first DBIRTH) ever born on the node:
 * *name points into the host (valid until spb_host_free). 0, or
 * LOOM_ENOTFOUND past the last (or no such node). For marking every device
 * of a dead node offline. */
int spb_host_device_at(spb_host *h, const char *node_key, size_t i, const char **name);

/* Encode the NCMD payload asking a node to rebirth: timestamp now_ms, one
 * metric "Node Control/Rebirth" Boolean true. Appends to out. 0 or LOOM_ENOMEM. */
int spb_host_rebirth_encode(int64_t now_ms, loom_buf *out);

#endif
