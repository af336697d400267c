/* SPDX-License-Identifier: Apache-2.0
 * The broker's $SYS topics, published retained every sys_interval_s with
 * mosquitto's names so existing dashboards work: counters, gauges and
 * 1/5/15-minute load averages (per-second rates smoothed exponentially,
 * as mosquitto does). One table, one line per topic.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "mqtt/broker_int.h"

#define BR_VERSION "loom 0.1"

enum { V_UPTIME, V_CONNECTED, V_DISCONNECTED, V_TOTAL, V_RECEIVED, V_SENT, V_BYTES_IN,
       V_BYTES_OUT, V_SUBS, V_RETAINED, V_DROPPED, V_REFUSED, V_HEAP, V_N };

static const struct {
  int v;
  const char *topic;
} sys_table[] = {
    {V_UPTIME, "$SYS/broker/uptime"},
    {V_CONNECTED, "$SYS/broker/clients/connected"},
    {V_DISCONNECTED, "$SYS/broker/clients/disconnected"},
    {V_TOTAL, "$SYS/broker/clients/total"},
    {V_RECEIVED, "$SYS/broker/messages/received"},
    {V_SENT, "$SYS/broker/messages/sent"},
    {V_BYTES_IN, "$SYS/broker/bytes/received"},
    {V_BYTES_OUT, "$SYS/broker/bytes/sent"},
    {V_SUBS, "$SYS/broker/subscriptions/count"},
    {V_RETAINED, "$SYS/broker/retained messages/count"},
    {V_DROPPED, "$SYS/broker/messages/dropped"},
    {V_REFUSED, "$SYS/broker/clients/refused"},
    {V_HEAP, "$SYS/broker/heap/current"},
};

/* load averages: counter, topic stem */
enum { L_MSG_IN, L_MSG_OUT, L_BYTES_IN, L_BYTES_OUT, L_N };
static const char *const load_stem[L_N] = {
    "$SYS/broker/load/messages/received", "$SYS/broker/load/messages/sent",
    "$SYS/broker/load/bytes/received", "$SYS/broker/load/bytes/sent"};
static const char *const load_win[3] = {"1min", "5min", "15min"};
static const double load_secs[3] = {60.0, 300.0, 900.0};

static void pub(mqtt_broker *b, const char *topic, const char *val) {
  mqtt_msg *m = NULL;
  if (mqtt_msg_new(topic, strlen(topic), val, strlen(val), NULL, 0, 0, true, false, 0, br_now(b),
                   &m) == 0) {
    br_route(b, m, NULL);
    mqtt_msg_unref(m);
  }
}

void br_sys_publish(mqtt_broker *b) {
  uint64_t now = br_now(b);
  uint64_t connected = atomic_load(&b->conns_open);
  uint64_t v[V_N] = {
      [V_UPTIME] = (now - b->start_ms) / 1000,
      [V_CONNECTED] = connected,
      [V_DISCONNECTED] = b->n_clients > connected ? b->n_clients - connected : 0,
      [V_TOTAL] = b->n_clients,
      [V_RECEIVED] = atomic_load(&b->msgs_in),
      [V_SENT] = atomic_load(&b->msgs_out),
      [V_BYTES_IN] = atomic_load(&b->bytes_in),
      [V_BYTES_OUT] = atomic_load(&b->bytes_out),
      [V_SUBS] = mqtt_subtree_sub_count(b->tree),
      [V_RETAINED] = mqtt_retain_count(b->retain),
      [V_DROPPED] = atomic_load(&b->msgs_dropped),
      [V_REFUSED] = atomic_load(&b->conns_refused),
      [V_HEAP] = loom_mem_used(),
  };
  pub(b, "$SYS/broker/version", BR_VERSION);
  char val[48];
  for (size_t i = 0; i < sizeof(sys_table) / sizeof(sys_table[0]); i++) {
    unsigned long long x = (unsigned long long)v[sys_table[i].v];
    if (sys_table[i].v == V_UPTIME) snprintf(val, sizeof(val), "%llu seconds", x);
    else snprintf(val, sizeof(val), "%llu", x);
    pub(b, sys_table[i].topic, val);
  }
  /* load averages */
  const uint64_t cur[L_N] = {v[V_RECEIVED], v[V_SENT], v[V_BYTES_IN], v[V_BYTES_OUT]};
  double dt = b->load_at_ms ? (double)(now - b->load_at_ms) / 1000.0 : 0.0;
  for (int k = 0; k < L_N; k++) {
    if (dt > 0) {
      double rate = (double)(cur[k] - b->load_prev[k]) / dt;
      for (int w = 0; w < 3; w++) {
        double f = exp(-dt / load_secs[w]);
        b->load[k][w] = rate + f * (b->load[k][w] - rate);
      }
    }
    b->load_prev[k] = cur[k];
    char topic[64];
    for (int w = 0; w < 3; w++) {
      snprintf(topic, sizeof(topic), "%s/%s", load_stem[k], load_win[w]);
      snprintf(val, sizeof(val), "%.2f", b->load[k][w]);
      pub(b, topic, val);
    }
  }
  b->load_at_ms = now;
}
