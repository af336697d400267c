/* SPDX-License-Identifier: Apache-2.0
 * mqtt_load: MQTT 3.1.1 load generator for bench/mqtt_run.sh. One process,
 * one epoll loop, many connections. Modes: fanin (P publishers -> 1
 * subscriber), fanout (1 publisher -> S subscribers), pubsub (P -> S), idle
 * (N connections that connect and stay). QoS 0/1, max rate (closed loop:
 * windows of in-flight messages) or a fixed total rate. Payloads are small
 * JSON telemetry objects carrying the send time, so subscribers measure
 * end-to-end latency. Packets are encoded and decoded with src/mqtt/codec.h.
 * Prints one JSON line (see usage()).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "mqtt/codec.h"

/* ---- latency histogram (log-linear, 64 sub-buckets per power of two: <= 1.6 %) ---- */

#define H_SUB_BITS 6
#define H_SUB 64
#define H_BUCKETS ((64 - H_SUB_BITS + 1) * H_SUB)

typedef struct hist {
  uint64_t n[H_BUCKETS];
  uint64_t count, max_ns;
  double sum_ns;
} hist;

static unsigned hist_index(uint64_t v) {
  if (v < H_SUB) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= H_SUB_BITS */
  unsigned m = (unsigned)(v >> (e - H_SUB_BITS));  /* [64, 127] */
  return (e - H_SUB_BITS + 1) * H_SUB + (m - H_SUB);
}

/* Middle of bucket i, ns. */
static double hist_value(unsigned i) {
  if (i < H_SUB) return (double)i;
  unsigned e = i / H_SUB - 1 + H_SUB_BITS;
  uint64_t m = (uint64_t)(i % H_SUB) + H_SUB;
  double lo = (double)(m << (e - H_SUB_BITS));
  double w = (double)(1ull << (e - H_SUB_BITS));
  return lo + w / 2;
}

static void hist_add(hist *h, int64_t v_ns) {
  uint64_t v = v_ns < 0 ? 0 : (uint64_t)v_ns;
  h->n[hist_index(v)]++;
  h->count++;
  h->sum_ns += (double)v;
  if (v > h->max_ns) h->max_ns = v;
}

/* q in [0, 1]; ns; 0 when empty. */
static double hist_quantile(const hist *h, double q) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->count);
  if (rank >= h->count) rank = h->count - 1;
  uint64_t acc = 0;
  for (unsigned i = 0; i < H_BUCKETS; i++) {
    acc += h->n[i];
    if (acc > rank) {
      double v = hist_value(i);
      return v > (double)h->max_ns ? (double)h->max_ns : v;
    }
  }
  return (double)h->max_ns;
}

/* ---- configuration ---- */

enum { MODE_FANIN, MODE_FANOUT, MODE_PUBSUB, MODE_IDLE };
enum { ROLE_PUB, ROLE_SUB, ROLE_IDLE };
enum { C_NEW, C_CONNECTING, C_WAIT_CONNACK, C_WAIT_SUBACK, C_READY, C_CLOSED };
enum { PH_SETUP, PH_WARMUP, PH_RUN, PH_DRAIN, PH_HOLD, PH_DONE };

typedef struct cfg {
  int mode;
  const char *host;
  int port;
  uint32_t pubs, subs, conns;   /* P, S, idle N */
  uint8_t qos;                  /* PUBLISH QoS */
  int sub_qos;                  /* SUBSCRIBE QoS; -1 = qos */
  double rate;                  /* total publishes/s; 0 = max rate */
  uint32_t window;              /* per-publisher unacked QoS 1 PUBLISHes */
  uint64_t e2e_window;          /* deliveries sent but not yet received; 0 = off */
  double duration_s, warmup_s, drain_s, settle_s;
  const char *topic_fmt;        /* "%d" -> publisher index */
  const char *filter;
  const char *username, *password, *client_prefix;
  uint16_t keepalive_s;
  uint32_t connect_rate;        /* new connections/s */
  uint32_t max_pending;         /* connects awaiting CONNACK */
  int server_pid;               /* 0 = no server measurements */
  const char *ready_file;       /* idle: touched when all are connected */
  const char *label;
} cfg;

/* utime+stime ticks of one server thread */
#define MAX_THREADS 64
typedef struct thread_ticks {
  int tid;
  uint64_t ticks;
} thread_ticks;

/* ---- connections ---- */

typedef struct conn {
  int fd;
  uint8_t role, state;
  bool want_out;    /* EPOLLOUT registered */
  bool dirty;       /* on the flush list */
  uint32_t idx;     /* publisher / subscriber / idle index */
  uint16_t next_id; /* last packet id used */
  uint32_t inflight;  /* publisher: unacked QoS 1 PUBLISHes */
  uint64_t seq;       /* publisher: messages sent = next seq */
  int64_t last_tx_ns; /* monotonic, for keep-alive */
  int64_t connect_ns; /* monotonic, when the TCP connect started */
  loom_buf in, out;
  size_t out_off; /* bytes of out already written */
  char *topic;    /* publisher: its topic (owned) */
  size_t topic_len;
} conn;

typedef struct stats {
  uint64_t sent, acked, received, received_run, dups, lost, bad_payload;
  uint64_t errors, conn_errors, disconnects, stalls, connack_refused, suback_refused;
  hist lat;
} stats;

typedef struct lg {
  cfg c;
  int ep;
  conn *conns;
  uint32_t n_conns;
  conn **pubc, **subc;
  uint32_t n_pub, n_sub;
  int64_t *maxseen; /* [sub * n_pub + pub]: highest seq received, -1 = none */
  uint64_t outstanding; /* deliveries expected and not yet received */
  conn **dirty;
  uint32_t n_dirty;
  uint32_t next_connect, pending, connected, subscribed;
  int64_t connect_t0;
  int phase;
  int64_t phase_t0, run_t0, run_t1, last_rx_ns, last_ping_scan;
  uint64_t rate_sent; /* messages sent under the fixed-rate schedule */
  int64_t rate_t0;    /* monotonic start of the schedule */
  uint32_t rr;        /* round-robin start among publishers */
  uint64_t srv_cpu0, srv_cpu1; /* server utime+stime ticks at run start / end */
  thread_ticks thr0[MAX_THREADS], thr1[MAX_THREADS]; /* per server thread, same moments */
  int n_thr0, n_thr1;
  long srv_rss0_kb, srv_rss1_kb;
  struct rusage ru0, ru1;
  bool debug; /* MQTT_LOAD_DEBUG set: progress lines on stderr */
  stats st;
  loom_buf tmp;
  char prefix[32]; /* default client id prefix, "lb<pid>-" */
} lg;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- server process measurements (/proc) ---- */

/* utime + stime of pid in clock ticks; 0 if unreadable. */
static uint64_t proc_cpu_ticks(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* comm may contain spaces */
  if (!p) return 0;
  unsigned long long ut = 0, stt = 0;
  /* fields after comm: state(3) ... utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
    return 0;
  return ut + stt;
}

/* VmRSS of pid in kB; -1 if unreadable. */
static long proc_rss_kb(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

/* utime+stime ticks of each thread of pid (/proc/PID/task/TID/stat), at
 * most max entries; returns the count. */
static int proc_thread_ticks(int pid, thread_ticks *out, int max) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while (n < max && (e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char sp[300], buf[1024];
    snprintf(sp, sizeof sp, "/proc/%d/task/%s/stat", pid, e->d_name);
    FILE *f = fopen(sp, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, stt = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
      continue;
    out[n].tid = atoi(e->d_name);
    out[n].ticks = ut + stt;
    n++;
  }
  closedir(d);
  return n;
}

/* ---- output path ---- */

static void mark_dirty(lg *g, conn *c) {
  if (c->dirty || c->state == C_CLOSED) return;
  c->dirty = true;
  g->dirty[g->n_dirty++] = c;
}

static void conn_close(lg *g, conn *c, bool error) {
  if (c->state == C_CLOSED) return;
  bool was_pending = c->state == C_CONNECTING || c->state == C_WAIT_CONNACK ||
                     c->state == C_WAIT_SUBACK;
  if (was_pending && g->pending) g->pending--;
  if (error) {
    if (c->state == C_READY) g->st.disconnects++;
    else g->st.conn_errors++;
  }
  if (c->state == C_READY) g->connected--;
  epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  c->state = C_CLOSED;
  loom_buf_deinit(&c->in);
  loom_buf_deinit(&c->out);
  c->out_off = 0;
}

static void set_events(lg *g, conn *c, bool want_out) {
  if (c->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u), .data.ptr = c};
  epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want_out;
}

/* Write what is pending; register for EPOLLOUT if the socket is full. */
static void conn_flush(lg *g, conn *c) {
  while (c->out_off < c->out.len) {
    ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_events(g, c, true);
      return;
    }
    conn_close(g, c, true);
    return;
  }
  c->out.len = c->out_off = 0;
  set_events(g, c, false);
}

static void flush_dirty(lg *g) {
  for (uint32_t i = 0; i < g->n_dirty; i++) {
    conn *c = g->dirty[i];
    c->dirty = false;
    if (c->state != C_CLOSED && !c->want_out) conn_flush(g, c);
  }
  g->n_dirty = 0;
}

/* Encode pk into c's output buffer. */
static int conn_send(lg *g, conn *c, const mqtt_packet *pk) {
  if (c->out_off > 0 && c->out_off == c->out.len) c->out.len = c->out_off = 0;
  int rc = mqtt_encode(&c->out, pk, MQTT_LEVEL_311);
  if (rc) return rc;
  c->last_tx_ns = mono_ns();
  mark_dirty(g, c);
  return 0;
}

static uint16_t next_packet_id(conn *c) {
  if (++c->next_id == 0) c->next_id = 1;
  return c->next_id;
}

/* ---- connection setup ---- */

static int start_connect(lg *g, conn *c) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g->c.port)};
  if (inet_pton(AF_INET, g->c.host, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->connect_ns = mono_ns();
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  if (rc < 0 && errno != EINPROGRESS) {
    close(fd);
    c->fd = -1;
    return -1;
  }
  c->state = C_CONNECTING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  c->want_out = true;
  if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    close(fd);
    c->fd = -1;
    c->state = C_NEW;
    return -1;
  }
  return 0;
}

/* TCP connected: send CONNECT. */
static void on_tcp_connected(lg *g, conn *c) {
  char cid[96];
  snprintf(cid, sizeof cid, "%s%c%u", g->c.client_prefix,
           c->role == ROLE_PUB ? 'p' : c->role == ROLE_SUB ? 's' : 'i', c->idx);
  mqtt_packet pk = {0};
  pk.type = MQTT_CONNECT;
  pk.keep_alive = g->c.keepalive_s;
  pk.clean_start = true;
  pk.client_id = (mqtt_bytes){(const uint8_t *)cid, strlen(cid)};
  if (g->c.username) {
    pk.has_username = true;
    pk.username = (mqtt_bytes){(const uint8_t *)g->c.username, strlen(g->c.username)};
  }
  if (g->c.password) {
    pk.has_password = true;
    pk.password = (mqtt_bytes){(const uint8_t *)g->c.password, strlen(g->c.password)};
  }
  c->state = C_WAIT_CONNACK;
  if (conn_send(g, c, &pk)) conn_close(g, c, true);
}

static void on_ready(lg *g, conn *c) {
  c->state = C_READY;
  g->pending--;
  g->connected++;
}

static void send_subscribe(lg *g, conn *c) {
  mqtt_sub s = {.filter = {(const uint8_t *)g->c.filter, strlen(g->c.filter)},
                .options = (uint8_t)(g->c.sub_qos < 0 ? g->c.qos : g->c.sub_qos)};
  mqtt_packet pk = {0};
  pk.type = MQTT_SUBSCRIBE;
  pk.packet_id = next_packet_id(c);
  pk.subs = &s;
  pk.n_subs = 1;
  c->state = C_WAIT_SUBACK;
  if (conn_send(g, c, &pk)) conn_close(g, c, true);
}

/* ---- payload ---- */

/* {"t_ns":T,"p":P,"seq":N,"temp":..,"hum":..,"rpm":..,"ok":..}: the first three
 * keys in this order, which on_message parses positionally. */
static size_t payload_format(char *out, size_t cap, int64_t t_ns, uint32_t pub, uint64_t seq) {
  unsigned r = (unsigned)(seq * 2654435761u + pub * 40503u);
  int n = snprintf(out, cap,
                   "{\"t_ns\":%" PRId64 ",\"p\":%u,\"seq\":%" PRIu64
                   ",\"temp\":%u.%u,\"hum\":%u.%u,\"rpm\":%u,\"ok\":%s}",
                   t_ns, pub, seq, 18 + r % 10, (r >> 4) % 10, 40 + (r >> 8) % 20, (r >> 13) % 10,
                   1400 + (r >> 16) % 200, (r >> 24) % 50 ? "true" : "false");
  return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static bool parse_uint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
  const uint8_t *p = *pp;
  uint64_t x = 0;
  if (p >= end || *p < '0' || *p > '9') return false;
  while (p < end && *p >= '0' && *p <= '9') x = x * 10 + (uint64_t)(*p++ - '0');
  *v = x;
  *pp = p;
  return true;
}

static bool expect(const uint8_t **pp, const uint8_t *end, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n)) return false;
  *pp += n;
  return true;
}

/* ---- publishing ---- */

static bool pub_can_send(const lg *g, const conn *c) {
  if (c->state != C_READY) return false;
  if (g->c.qos && c->inflight >= g->c.window) return false;
  if (c->out.len - c->out_off > 256 * 1024) return false; /* socket backpressure */
  if (g->c.e2e_window && g->outstanding + g->n_sub > g->c.e2e_window) return false;
  return true;
}

static void pub_send(lg *g, conn *c, int64_t stamp_ns) {
  char pl[256];
  size_t pn = payload_format(pl, sizeof pl, stamp_ns, c->idx, c->seq);
  mqtt_packet pk = {0};
  pk.type = MQTT_PUBLISH;
  pk.qos = g->c.qos;
  pk.topic = (mqtt_bytes){(const uint8_t *)c->topic, c->topic_len};
  pk.payload = (mqtt_bytes){(const uint8_t *)pl, pn};
  if (pk.qos) pk.packet_id = next_packet_id(c);
  if (conn_send(g, c, &pk)) {
    g->st.errors++;
    return;
  }
  c->seq++;
  if (pk.qos) c->inflight++;
  g->st.sent++;
  g->outstanding += g->n_sub;
}

static bool publishing(const lg *g) {
  return g->phase == PH_WARMUP || g->phase == PH_RUN;
}

/* Max rate: round-robin one message per publisher while any can send.
 * Returns true if the per-iteration budget ran out (more could be sent now). */
static bool pump_max(lg *g) {
  uint32_t budget = 4096; /* per loop iteration, so reads are not starved */
  bool any = true;
  while (any && budget) {
    any = false;
    for (uint32_t k = 0; k < g->n_pub && budget; k++) {
      conn *c = g->pubc[(g->rr + k) % g->n_pub];
      if (!pub_can_send(g, c)) continue;
      pub_send(g, c, real_ns());
      budget--;
      any = true;
    }
    g->rr = (g->rr + 1) % (g->n_pub ? g->n_pub : 1);
  }
  return budget == 0;
}

/* Fixed rate: message k is due at rate_t0 + k / rate and stamped with that time
 * (so a late send shows up as latency rather than being hidden). */
static void pump_rate(lg *g, int64_t now_mono) {
  double el = (double)(now_mono - g->rate_t0) / 1e9;
  uint64_t due = (uint64_t)(el * g->c.rate);
  int64_t real0 = real_ns() - (now_mono - g->rate_t0);
  uint32_t guard = g->n_pub;
  while (g->rate_sent < due) {
    conn *c = g->pubc[g->rr];
    if (!pub_can_send(g, c)) {
      g->rr = (g->rr + 1) % g->n_pub;
      if (--guard == 0) break; /* everyone blocked: try again next iteration */
      continue;
    }
    guard = g->n_pub;
    int64_t sched = real0 + (int64_t)((double)g->rate_sent * 1e9 / g->c.rate);
    pub_send(g, c, sched);
    g->rate_sent++;
    g->rr = (g->rr + 1) % g->n_pub;
  }
}

/* ---- receiving ---- */

static void on_message(lg *g, conn *c, const mqtt_packet *pk, int64_t now_real) {
  const uint8_t *p = pk->payload.p, *end = p + pk->payload.len;
  uint64_t t = 0, pub = 0, seq = 0;
  if (!expect(&p, end, "{\"t_ns\":") || !parse_uint(&p, end, &t) || !expect(&p, end, ",\"p\":") ||
      !parse_uint(&p, end, &pub) || !expect(&p, end, ",\"seq\":") || !parse_uint(&p, end, &seq) ||
      pub >= g->n_pub) {
    g->st.bad_payload++;
    return;
  }
  g->st.received++;
  g->last_rx_ns = mono_ns();
  if (g->phase == PH_RUN) {
    g->st.received_run++;
    hist_add(&g->st.lat, now_real - (int64_t)t);
  }
  int64_t *ms = &g->maxseen[(size_t)c->idx * g->n_pub + pub];
  if ((int64_t)seq <= *ms) {
    g->st.dups++;
    return;
  }
  uint64_t adv = seq - (uint64_t)(*ms + 1) + 1; /* this one plus skipped ones */
  g->st.lost += adv - 1;
  g->outstanding = g->outstanding >= adv ? g->outstanding - adv : 0;
  *ms = (int64_t)seq;
}

/* Handle one decoded packet from the broker. */
static void on_packet(lg *g, conn *c, const mqtt_packet *pk, int64_t now_real) {
  switch (pk->type) {
  case MQTT_CONNACK:
    if (c->state != C_WAIT_CONNACK) goto proto;
    if (pk->reason) {
      g->st.connack_refused++;
      conn_close(g, c, true);
      return;
    }
    if (c->role == ROLE_SUB) send_subscribe(g, c);
    else on_ready(g, c);
    return;
  case MQTT_SUBACK:
    if (c->state != C_WAIT_SUBACK) goto proto;
    if (pk->n_entries < 1 || pk->list.p[0] >= 0x80) {
      g->st.suback_refused++;
      conn_close(g, c, true);
      return;
    }
    g->subscribed++;
    on_ready(g, c);
    return;
  case MQTT_PUBLISH: {
    if (c->role != ROLE_SUB) goto proto;
    on_message(g, c, pk, now_real);
    if (pk->qos == 1) {
      mqtt_packet ack = {0};
      ack.type = MQTT_PUBACK;
      ack.packet_id = pk->packet_id;
      if (conn_send(g, c, &ack)) g->st.errors++;
    } else if (pk->qos == 2) {
      goto proto; /* never subscribed at QoS 2 */
    }
    return;
  }
  case MQTT_PUBACK:
    if (c->role != ROLE_PUB || !c->inflight) goto proto;
    c->inflight--;
    g->st.acked++;
    return;
  case MQTT_PINGRESP:
    return;
  default:
    goto proto;
  }
proto:
  g->st.errors++;
  conn_close(g, c, true);
}

static void on_readable(lg *g, conn *c) {
  int64_t now_real = real_ns();
  size_t chunk = c->role == ROLE_IDLE ? 256 : 65536;
  for (int round = 0; round < 16 && c->state != C_CLOSED; round++) {
    if (loom_buf_reserve(&c->in, chunk)) {
      conn_close(g, c, true);
      return;
    }
    ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n == 0) {
      conn_close(g, c, true);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_close(g, c, true);
      return;
    }
    c->in.len += (size_t)n;
    size_t off = 0;
    while (c->state != C_CLOSED) {
      size_t plen = 0;
      mqtt_err err;
      int rc = mqtt_frame(c->in.data + off, c->in.len - off, 0, &plen, &err);
      if (rc == LOOM_ETRUNC) break;
      mqtt_packet pk;
      if (rc || mqtt_decode(c->in.data + off, plen, MQTT_LEVEL_311, &pk, &err)) {
        g->st.errors++;
        conn_close(g, c, true);
        return;
      }
      on_packet(g, c, &pk, now_real);
      off += plen;
    }
    if (c->state == C_CLOSED) return;
    if (off) {
      memmove(c->in.data, c->in.data + off, c->in.len - off);
      c->in.len -= off;
    }
    if ((size_t)n < chunk) break; /* probably drained */
  }
}

static void on_event(lg *g, conn *c, uint32_t ev) {
  if (c->state == C_CLOSED) return;
  if (c->state == C_CONNECTING) {
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        conn_close(g, c, true);
        return;
      }
      set_events(g, c, false);
      on_tcp_connected(g, c);
    }
    return;
  }
  if (ev & EPOLLIN) on_readable(g, c);
  else if (ev & (EPOLLERR | EPOLLHUP)) {
    conn_close(g, c, true);
    return;
  }
  if (c->state != C_CLOSED && (ev & EPOLLOUT)) conn_flush(g, c);
}

/* ---- phases ---- */

static void start_connects(lg *g, int64_t now) {
  double el = (double)(now - g->connect_t0) / 1e9;
  uint64_t allowed = g->c.connect_rate ? (uint64_t)(el * g->c.connect_rate) + 1 : UINT64_MAX;
  while (g->next_connect < g->n_conns && g->next_connect < allowed &&
         g->pending < g->c.max_pending) {
    /* every subscriber has its SUBACK before the first publisher connects */
    if (g->c.mode != MODE_IDLE && g->next_connect == g->n_sub && g->pending > 0) break;
    conn *c = &g->conns[g->next_connect++];
    if (start_connect(g, c)) {
      g->st.conn_errors++;
      c->state = C_CLOSED;
      continue;
    }
    g->pending++;
  }
}

/* Subscribers connect (and subscribe) before publishers. */
static bool setup_done(const lg *g) {
  return g->next_connect >= g->n_conns && g->pending == 0;
}

static void keepalive_scan(lg *g, int64_t now) {
  if (g->debug && publishing(g) && now - g->last_ping_scan >= 1000000000) {
    uint64_t infl = 0;
    for (uint32_t i = 0; i < g->n_pub; i++) infl += g->pubc[i]->inflight;
    fprintf(stderr, "sent %" PRIu64 " recv %" PRIu64 " lost %" PRIu64 " outstanding %" PRIu64
            " unacked %" PRIu64 "\n", g->st.sent, g->st.received, g->st.lost, g->outstanding, infl);
  }
  if (!g->c.keepalive_s || now - g->last_ping_scan < 1000000000) return;
  g->last_ping_scan = now;
  int64_t every = (int64_t)g->c.keepalive_s * 1000000000 / 2;
  for (uint32_t i = 0; i < g->n_conns; i++) {
    conn *c = &g->conns[i];
    if (c->state != C_READY || now - c->last_tx_ns < every) continue;
    mqtt_packet pk = {0};
    pk.type = MQTT_PINGREQ;
    if (conn_send(g, c, &pk)) g->st.errors++;
  }
}

static void set_phase(lg *g, int ph, int64_t now) {
  if (g->debug)
    fprintf(stderr, "phase %d at %.3f s: sent %" PRIu64 " received %" PRIu64 "\n", ph,
            (double)(now - g->connect_t0) / 1e9, g->st.sent, g->st.received);
  g->phase = ph;
  g->phase_t0 = now;
  if (ph == PH_RUN) {
    g->run_t0 = now;
    if (g->c.server_pid) {
      g->srv_cpu0 = proc_cpu_ticks(g->c.server_pid);
      g->n_thr0 = proc_thread_ticks(g->c.server_pid, g->thr0, MAX_THREADS);
    }
    getrusage(RUSAGE_SELF, &g->ru0);
  } else if (ph == PH_DRAIN || (ph == PH_DONE && g->run_t1 == 0)) {
    g->run_t1 = now;
    if (g->c.server_pid) {
      g->srv_cpu1 = proc_cpu_ticks(g->c.server_pid);
      g->n_thr1 = proc_thread_ticks(g->c.server_pid, g->thr1, MAX_THREADS);
    }
    getrusage(RUSAGE_SELF, &g->ru1);
  }
}

/* Advance the phase machine; returns the epoll timeout to use, ms. */
static int step(lg *g, int64_t now) {
  double in_phase = (double)(now - g->phase_t0) / 1e9;
  switch (g->phase) {
  case PH_SETUP:
    start_connects(g, now);
    if (now - g->connect_t0 > (int64_t)(30 + g->n_conns / 100) * 1000000000) {
      /* give up on connections that never completed */
      for (uint32_t i = 0; i < g->n_conns; i++)
        if (g->conns[i].state != C_READY && g->conns[i].state != C_CLOSED)
          conn_close(g, &g->conns[i], true);
      g->pending = 0;
      g->next_connect = g->n_conns;
    }
    if (!setup_done(g)) return 5;
    if (g->c.mode == MODE_IDLE) {
      set_phase(g, PH_HOLD, now);
      g->run_t0 = now;
      return 10;
    }
    if (g->connected < g->n_conns) {
      /* a run with missing publishers or subscribers measures nothing useful */
      g->run_t0 = now;
      fprintf(stderr, "mqtt_load: only %u of %u connections are up; stopping\n", g->connected,
              g->n_conns);
      set_phase(g, PH_DONE, now);
      return 0;
    }
    g->rate_t0 = now;
    set_phase(g, g->c.warmup_s > 0 ? PH_WARMUP : PH_RUN, now);
    return 0;
  case PH_WARMUP:
    if (in_phase >= g->c.warmup_s) {
      /* restart the fixed-rate schedule at the measured window */
      set_phase(g, PH_RUN, now);
      memset(&g->st.lat, 0, sizeof g->st.lat);
      g->st.received_run = 0;
    }
    return g->c.rate > 0 ? 1 : 10;
  case PH_RUN:
    if (in_phase >= g->c.duration_s) {
      set_phase(g, PH_DRAIN, now);
      g->last_rx_ns = now;
    }
    return g->c.rate > 0 ? 1 : 10;
  case PH_DRAIN: {
    bool acks_done = true;
    for (uint32_t i = 0; i < g->n_pub; i++)
      if (g->pubc[i]->state == C_READY && g->pubc[i]->inflight) acks_done = false;
    if ((g->outstanding == 0 && acks_done) || in_phase >= g->c.drain_s ||
        (now - g->last_rx_ns > 1000000000 && in_phase > 1.0))
      set_phase(g, PH_DONE, now);
    return 10;
  }
  case PH_HOLD:
    if (g->srv_rss1_kb == 0 && in_phase >= g->c.settle_s) {
      if (g->c.server_pid) g->srv_rss1_kb = proc_rss_kb(g->c.server_pid);
      if (!g->srv_rss1_kb) g->srv_rss1_kb = -1;
      if (g->c.ready_file) {
        FILE *f = fopen(g->c.ready_file, "w");
        if (f) {
          fprintf(f, "%u\n", g->connected);
          fclose(f);
        }
      }
    }
    if (in_phase >= g->c.settle_s + g->c.duration_s) set_phase(g, PH_DONE, now);
    return 100;
  default:
    return 0;
  }
}

/* Stall guard (max-rate QoS 0 with a lost final message): if nothing arrived
 * for a second while publishers wait on the end-to-end window, write the
 * missing deliveries off as lost. */
static void stall_check(lg *g, int64_t now) {
  if (!publishing(g) || !g->c.e2e_window || g->outstanding + g->n_sub <= g->c.e2e_window) return;
  if (now - g->last_rx_ns < 1000000000) return;
  g->st.stalls++;
  for (uint32_t s = 0; s < g->n_sub; s++)
    for (uint32_t p = 0; p < g->n_pub; p++) {
      int64_t *ms = &g->maxseen[(size_t)s * g->n_pub + p];
      int64_t last = (int64_t)g->pubc[p]->seq - 1;
      if (last > *ms) {
        g->st.lost += (uint64_t)(last - *ms);
        *ms = last;
      }
    }
  g->outstanding = 0;
  g->last_rx_ns = now;
}

/* ---- report ---- */

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static const char *mode_name(int m) {
  return m == MODE_FANIN ? "fanin" : m == MODE_FANOUT ? "fanout" : m == MODE_PUBSUB ? "pubsub" : "idle";
}

static void report(lg *g) {
  loom_buf *b = &g->tmp;
  loom_buf_reset(b);
  double dur = (double)(g->run_t1 - g->run_t0) / 1e9;
  double cpu_c = tv_s(g->ru1.ru_utime) + tv_s(g->ru1.ru_stime) - tv_s(g->ru0.ru_utime) -
                 tv_s(g->ru0.ru_stime);
  long hz = sysconf(_SC_CLK_TCK);
  loom_buf_printf(b, "{\"tool\":\"mqtt_load\",\"mode\":\"%s\"", mode_name(g->c.mode));
  if (g->c.label) {
    loom_buf_append_str(b, ",\"label\":");
    loom_buf_append_json_str(b, g->c.label, strlen(g->c.label));
  }
  if (g->c.mode == MODE_IDLE) {
    loom_buf_printf(b, ",\"conns\":%u,\"connected\":%u,\"hold_s\":%.3f", g->n_conns, g->connected,
                    dur);
    if (g->c.server_pid) {
      long d = g->srv_rss1_kb - g->srv_rss0_kb;
      loom_buf_printf(b, ",\"server_rss_before_kb\":%ld,\"server_rss_with_kb\":%ld", g->srv_rss0_kb,
                      g->srv_rss1_kb);
      if (g->connected && g->srv_rss0_kb > 0 && g->srv_rss1_kb > 0)
        loom_buf_printf(b, ",\"server_bytes_per_conn\":%.1f", (double)d * 1024.0 / g->connected);
    }
  } else {
    double rate_rx = dur > 0 ? (double)g->st.received_run / dur : 0;
    loom_buf_printf(b,
                    ",\"qos\":%u,\"sub_qos\":%d,\"pubs\":%u,\"subs\":%u,\"target_rate\":%.0f,\"window\":%u,"
                    "\"e2e_window\":%" PRIu64 ",\"warmup_s\":%.1f,\"duration_s\":%.3f",
                    g->c.qos, g->c.sub_qos < 0 ? g->c.qos : g->c.sub_qos, g->n_pub, g->n_sub, g->c.rate, g->c.window, g->c.e2e_window,
                    g->c.warmup_s, dur);
    loom_buf_printf(b,
                    ",\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"received\":%" PRIu64
                    ",\"received_in_window\":%" PRIu64 ",\"expected\":%" PRIu64
                    ",\"lost\":%" PRIu64 ",\"dups\":%" PRIu64 ",\"msgs_per_sec\":%.1f",
                    g->st.sent, g->st.acked, g->st.received, g->st.received_run,
                    g->st.sent * g->n_sub, g->st.lost, g->st.dups, rate_rx);
    const hist *h = &g->st.lat;
    loom_buf_printf(b,
                    ",\"latency_us\":{\"n\":%" PRIu64
                    ",\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
                    "\"max\":%.1f}",
                    h->count, h->count ? h->sum_ns / (double)h->count / 1e3 : 0,
                    hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
                    hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
                    (double)h->max_ns / 1e3);
    if (g->c.server_pid && hz > 0) {
      double sc = (double)(g->srv_cpu1 - g->srv_cpu0) / (double)hz;
      loom_buf_printf(b, ",\"server_cpu_s\":%.2f", sc);
      if (g->st.received_run)
        loom_buf_printf(b, ",\"server_cpu_us_per_msg\":%.3f", sc * 1e6 / (double)g->st.received_run);
      /* the busiest threads over the window: is one thread the limit? */
      double top[3] = {0, 0, 0};
      for (int i = 0; i < g->n_thr1; i++) {
        uint64_t t0 = 0;
        for (int k = 0; k < g->n_thr0; k++)
          if (g->thr0[k].tid == g->thr1[i].tid) t0 = g->thr0[k].ticks;
        double d = (double)(g->thr1[i].ticks - t0) / (double)hz;
        for (int k = 0; k < 3; k++)
          if (d > top[k]) {
            memmove(&top[k + 1], &top[k], (size_t)(2 - k) * sizeof top[0]);
            top[k] = d;
            break;
          }
      }
      loom_buf_printf(b, ",\"server_threads\":%d,\"server_top_thread_cpu_s\":[%.2f,%.2f,%.2f]",
                      g->n_thr1, top[0], top[1], top[2]);
    }
  }
  loom_buf_printf(b, ",\"client_cpu_s\":%.2f", cpu_c);
  loom_buf_printf(b,
                  ",\"errors\":{\"protocol\":%" PRIu64 ",\"connect\":%" PRIu64
                  ",\"connack_refused\":%" PRIu64 ",\"suback_refused\":%" PRIu64
                  ",\"disconnects\":%" PRIu64 ",\"bad_payload\":%" PRIu64 ",\"stalls\":%" PRIu64
                  "}}\n",
                  g->st.errors, g->st.conn_errors, g->st.connack_refused, g->st.suback_refused,
                  g->st.disconnects, g->st.bad_payload, g->st.stalls);
  fwrite(b->data, 1, b->len, stdout);
  fflush(stdout);
}

/* ---- main ---- */

/* fmt with its one "%d" (if any) replaced by idx. */
static void topic_format(char *out, size_t cap, const char *fmt, uint32_t idx) {
  const char *pc = strstr(fmt, "%d");
  if (!pc) {
    snprintf(out, cap, "%s", fmt);
    return;
  }
  snprintf(out, cap, "%.*s%u%s", (int)(pc - fmt), fmt, idx, pc + 2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: mqtt_load --mode fanin|fanout|pubsub|idle [options]\n"
          "  --host 127.0.0.1 --port 1883       broker address (IPv4)\n"
          "  --pubs P --subs S                   fanin: P (100) -> 1; fanout: 1 -> S (100)\n"
          "  --conns N                           idle: connections (10000)\n"
          "  --qos 0|1                           publish and subscribe QoS (0)\n"
          "  --sub-qos 0|1                       subscribe QoS when it differs from --qos\n"
          "  --rate R                            total publishes/s (0 = max rate)\n"
          "  --window W                          unacked QoS 1 PUBLISHes per publisher (10)\n"
          "  --e2e-window E                      deliveries in flight end to end (1000; 0 = off)\n"
          "  --duration S --warmup S --drain S   measured seconds (10), warm-up (1), drain cap (10)\n"
          "  --settle S                          idle: wait before reading the server RSS (2)\n"
          "  --topic FMT --filter F              topic, %%d = publisher (bench/dev%%d/telemetry), bench/#\n"
          "  --username U --password P           credentials for every connection\n"
          "  --client-prefix X                   client ids X{p,s,i}N (lb<pid>-)\n"
          "  --keepalive S                       (60; PINGREQ after S/2 idle)\n"
          "  --connect-rate R --max-pending N    new connections/s (1000), awaiting CONNACK (256)\n"
          "  --server-pid PID                    measure the broker's CPU and RSS from /proc\n"
          "  --ready-file F                      idle: written when all are connected\n"
          "  --label L                           copied into the JSON line\n"
          "Prints one JSON line. Exit status 1 if nothing was received or connections failed.\n");
}

static int parse_args(cfg *c, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return -1;
    if (!v) return -1;
    i++;
    if (!strcmp(a, "--mode")) {
      if (!strcmp(v, "fanin")) c->mode = MODE_FANIN;
      else if (!strcmp(v, "fanout")) c->mode = MODE_FANOUT;
      else if (!strcmp(v, "pubsub")) c->mode = MODE_PUBSUB;
      else if (!strcmp(v, "idle")) c->mode = MODE_IDLE;
      else return -1;
    } else if (!strcmp(a, "--host")) c->host = v;
    else if (!strcmp(a, "--port")) c->port = atoi(v);
    else if (!strcmp(a, "--pubs")) c->pubs = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--subs")) c->subs = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--conns")) c->conns = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--qos")) c->qos = (uint8_t)atoi(v);
    else if (!strcmp(a, "--sub-qos")) c->sub_qos = atoi(v);
    else if (!strcmp(a, "--rate")) c->rate = atof(v);
    else if (!strcmp(a, "--window")) c->window = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--e2e-window")) c->e2e_window = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--duration")) c->duration_s = atof(v);
    else if (!strcmp(a, "--warmup")) c->warmup_s = atof(v);
    else if (!strcmp(a, "--drain")) c->drain_s = atof(v);
    else if (!strcmp(a, "--settle")) c->settle_s = atof(v);
    else if (!strcmp(a, "--topic")) c->topic_fmt = v;
    else if (!strcmp(a, "--filter")) c->filter = v;
    else if (!strcmp(a, "--username")) c->username = v;
    else if (!strcmp(a, "--password")) c->password = v;
    else if (!strcmp(a, "--client-prefix")) c->client_prefix = v;
    else if (!strcmp(a, "--keepalive")) c->keepalive_s = (uint16_t)atoi(v);
    else if (!strcmp(a, "--connect-rate")) c->connect_rate = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--max-pending")) c->max_pending = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--server-pid")) c->server_pid = atoi(v);
    else if (!strcmp(a, "--ready-file")) c->ready_file = v;
    else if (!strcmp(a, "--label")) c->label = v;
    else return -1;
  }
  if (c->qos > 1 || c->sub_qos > 1 || c->sub_qos < -1 || c->port <= 0 || c->port > 65535 || c->duration_s <= 0 || c->rate < 0 ||
      !c->max_pending || (c->qos && !c->window))
    return -1;
  /* the topic format must hold exactly one %d and nothing else printf-special */
  const char *pc = strchr(c->topic_fmt, '%');
  if (pc && (pc[1] != 'd' || strchr(pc + 2, '%'))) return -1;
  return 0;
}

int main(int argc, char **argv) {
  lg *g = loom_calloc(1, sizeof *g);
  if (!g) return 1;
  int status = 1;
  snprintf(g->prefix, sizeof g->prefix, "lb%d-", (int)getpid());
  cfg *c = &g->c;
  *c = (cfg){.mode = MODE_FANIN, .host = "127.0.0.1", .port = 1883, .pubs = 100, .subs = 100, .sub_qos = -1,
             .conns = 10000, .window = 10, .e2e_window = 1000, .duration_s = 10, .warmup_s = 1,
             .drain_s = 10, .settle_s = 2, .topic_fmt = "bench/dev%d/telemetry",
             .filter = "bench/#", .client_prefix = g->prefix, .keepalive_s = 60,
             .connect_rate = 1000, .max_pending = 256};
  g->ep = -1;
  g->debug = getenv("MQTT_LOAD_DEBUG") != NULL;
  loom_buf_init(&g->tmp);
  if (parse_args(c, argc, argv)) {
    usage();
    status = 2;
    goto done;
  }
  signal(SIGPIPE, SIG_IGN);
  switch (c->mode) {
  case MODE_FANIN: g->n_pub = c->pubs; g->n_sub = 1; break;
  case MODE_FANOUT: g->n_pub = 1; g->n_sub = c->subs; break;
  case MODE_PUBSUB: g->n_pub = c->pubs; g->n_sub = c->subs; break;
  default: g->n_pub = g->n_sub = 0; break;
  }
  if (c->mode != MODE_IDLE && (!g->n_pub || !g->n_sub)) {
    usage();
    status = 2;
    goto done;
  }
  g->n_conns = c->mode == MODE_IDLE ? c->conns : g->n_pub + g->n_sub;
  g->conns = loom_calloc(g->n_conns ? g->n_conns : 1, sizeof *g->conns);
  g->dirty = loom_calloc(g->n_conns ? g->n_conns : 1, sizeof *g->dirty);
  g->pubc = loom_calloc(g->n_pub ? g->n_pub : 1, sizeof *g->pubc);
  g->subc = loom_calloc(g->n_sub ? g->n_sub : 1, sizeof *g->subc);
  size_t pairs = (size_t)g->n_pub * g->n_sub;
  g->maxseen = loom_malloc((pairs ? pairs : 1) * sizeof *g->maxseen);
  if (!g->conns || !g->dirty || !g->pubc || !g->subc || !g->maxseen) goto done;
  for (size_t i = 0; i < pairs; i++) g->maxseen[i] = -1;
  /* subscribers first, so they are subscribed before anyone publishes */
  for (uint32_t i = 0; i < g->n_conns; i++) {
    conn *k = &g->conns[i];
    k->fd = -1;
    loom_buf_init(&k->in);
    loom_buf_init(&k->out);
    if (c->mode == MODE_IDLE) {
      k->role = ROLE_IDLE;
      k->idx = i;
    } else if (i < g->n_sub) {
      k->role = ROLE_SUB;
      k->idx = i;
      g->subc[i] = k;
    } else {
      k->role = ROLE_PUB;
      k->idx = i - g->n_sub;
      g->pubc[k->idx] = k;
      char t[256];
      topic_format(t, sizeof t, c->topic_fmt, k->idx);
      k->topic = loom_strdup(t);
      if (!k->topic) goto done;
      k->topic_len = strlen(t);
    }
  }
  g->ep = epoll_create1(EPOLL_CLOEXEC);
  if (g->ep < 0) goto done;
  if (c->server_pid) {
    g->srv_rss0_kb = proc_rss_kb(c->server_pid);
    if (g->srv_rss0_kb < 0)
      fprintf(stderr, "mqtt_load: cannot read /proc/%d (server measurements off)\n", c->server_pid);
  }
  getrusage(RUSAGE_SELF, &g->ru0); /* idle: the whole run; others: reset at the window */
  int64_t now = mono_ns();
  g->connect_t0 = g->phase_t0 = g->last_ping_scan = g->last_rx_ns = now;
  g->phase = PH_SETUP;
  struct epoll_event evs[512];
  int timeout = 0;
  while (g->phase != PH_DONE) {
    /* fixed rate: sleep only until the next message is due (not a whole
     * millisecond), so the schedule is kept to within tens of microseconds */
    struct timespec ts = {.tv_sec = timeout / 1000, .tv_nsec = (long)(timeout % 1000) * 1000000};
    if (publishing(g) && c->rate > 0) {
      int64_t next = g->rate_t0 + (int64_t)((double)(g->rate_sent + 1) * 1e9 / c->rate);
      int64_t wait_ns = next - mono_ns();
      if (wait_ns < 0) wait_ns = 0;
      if (wait_ns < (int64_t)timeout * 1000000) ts = (struct timespec){0, (long)wait_ns};
    }
    int n = epoll_pwait2(g->ep, evs, 512, &ts, NULL);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) on_event(g, evs[i].data.ptr, evs[i].events);
    now = mono_ns();
    timeout = step(g, now);
    if (publishing(g)) {
      if (c->rate > 0) pump_rate(g, now);
      else if (pump_max(g)) timeout = 0;
      stall_check(g, now);
    }
    keepalive_scan(g, now);
    flush_dirty(g);
  }
  if (c->mode == MODE_IDLE) getrusage(RUSAGE_SELF, &g->ru1), g->run_t1 = mono_ns();
  /* account for deliveries that never arrived */
  for (uint32_t s = 0; s < g->n_sub; s++)
    for (uint32_t p = 0; p < g->n_pub; p++) {
      int64_t last = (int64_t)g->pubc[p]->seq - 1;
      int64_t ms = g->maxseen[(size_t)s * g->n_pub + p];
      if (last > ms) g->st.lost += (uint64_t)(last - ms);
    }
  /* polite goodbye */
  for (uint32_t i = 0; i < g->n_conns; i++) {
    conn *k = &g->conns[i];
    if (k->state != C_READY) continue;
    mqtt_packet pk = {0};
    pk.type = MQTT_DISCONNECT;
    if (!conn_send(g, k, &pk)) conn_flush(g, k);
  }
  report(g);
  if (c->mode == MODE_IDLE) status = g->connected == g->n_conns ? 0 : 1;
  else status = g->st.received_run && !g->st.conn_errors && !g->st.disconnects ? 0 : 1;
done:
  if (g->conns)
    for (uint32_t i = 0; i < g->n_conns; i++) {
      conn *k = &g->conns[i];
      if (k->fd >= 0) close(k->fd);
      loom_buf_deinit(&k->in);
      loom_buf_deinit(&k->out);
      loom_free(k->topic);
    }
  if (g->ep >= 0) close(g->ep);
  loom_free(g->conns);
  loom_free(g->dirty);
  loom_free(g->pubc);
  loom_free(g->subc);
  loom_free(g->maxseen);
  loom_buf_deinit(&g->tmp);
  loom_free(g);
  return status;
}
