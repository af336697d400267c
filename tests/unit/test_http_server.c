/* SPDX-License-Identifier: Apache-2.0
 * Socket-level tests of the HTTP server: a fresh server on 127.0.0.1 port 0
 * per test, driven with plain sockets and exact bytes. Keep-alive,
 * pipelining, chunked responses, deferred and streamed responses from other
 * threads, graceful stop, 100-continue, gzip bodies, limits, disconnects.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/server.h"

/* ---------- fixture ---------- */

typedef struct client {
  int fd;
  char buf[1 << 16]; /* bytes read but not yet parsed */
  size_t len;
} client;

#define MAX_WORKERS 64

typedef struct fixture {
  http_server *srv;
  int port;
  pthread_mutex_t mu;
  pthread_t workers[MAX_WORKERS];
  int n_workers;
  atomic_int handled;    /* handler calls */
  atomic_int responded;  /* deferred responses sent by workers */
  atomic_int cross_thread; /* deferred responses made on a thread other than the handler's */
  /* for test_queue_order_across_nested_handlers (under mu) */
  pthread_cond_t cv;
  http_req *held_r, *held_y, *held_z;
  int stage;
  /* for the flow-control tests */
  atomic_size_t produced;    /* body bytes the big stream has produced */
  atomic_size_t max_backlog; /* largest backlog the producer saw */
  atomic_int saw_gone;       /* the producer saw LOOM_ECLOSED */
  struct client *big_client; /* closed by teardown if a test failed midway */
} fixture;

typedef struct job {
  fixture *fx;
  http_req *req;
  int ms;
  int stream;
  pthread_t loop_thread;
} job;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

#define BIG_TOTAL ((size_t)32 << 20)
#define BIG_BUDGET ((size_t)512 << 10)

/* Stream BIG_TOTAL bytes in 64 KiB chunks, pausing while the backlog is
 * over budget, stopping early when the client has gone. */
static void big_stream(fixture *fx, http_req *req) {
  static const char chunk[65536];
  http_respond_start(req, 200, "application/octet-stream");
  while (atomic_load(&fx->produced) < BIG_TOTAL) {
    size_t backlog;
    if (http_req_backlog(req, &backlog) == LOOM_ECLOSED) {
      atomic_store(&fx->saw_gone, 1);
      break;
    }
    if (backlog > atomic_load(&fx->max_backlog)) atomic_store(&fx->max_backlog, backlog);
    if (backlog > BIG_BUDGET) {
      sleep_ms(1);
      continue;
    }
    http_respond_chunk(req, chunk, sizeof chunk);
    atomic_fetch_add(&fx->produced, sizeof chunk);
  }
  http_respond_end(req);
}

static void *worker(void *arg) {
  job *j = arg;
  sleep_ms(j->ms);
  if (j->stream == 2) {
    big_stream(j->fx, j->req);
    atomic_fetch_add(&j->fx->responded, 1);
    free(j);
    return NULL;
  }
  if (!pthread_equal(pthread_self(), j->loop_thread)) atomic_fetch_add(&j->fx->cross_thread, 1);
  if (j->stream) {
    http_respond_start(j->req, 200, "text/plain");
    http_respond_chunk(j->req, "from ", 5);
    sleep_ms(5);
    http_respond_chunk(j->req, "another ", 8);
    http_respond_chunk(j->req, "thread", 6);
    http_respond_end(j->req);
  } else {
    char body[64];
    int n = snprintf(body, sizeof body, "deferred %d", j->ms);
    http_respond(j->req, 200, "text/plain", body, (size_t)n);
  }
  atomic_fetch_add(&j->fx->responded, 1);
  free(j);
  return NULL;
}

static void defer(fixture *fx, http_req *req, int ms, int stream) {
  job *j = calloc(1, sizeof *j);
  j->fx = fx;
  j->req = req;
  j->ms = ms;
  j->stream = stream;
  j->loop_thread = pthread_self();
  pthread_mutex_lock(&fx->mu);
  assert_true(fx->n_workers < MAX_WORKERS);
  pthread_create(&fx->workers[fx->n_workers++], NULL, worker, j);
  pthread_mutex_unlock(&fx->mu);
}

static void handler(http_req *req, void *user) {
  fixture *fx = user;
  atomic_fetch_add(&fx->handled, 1);
  const char *path = http_req_path(req);
  const char *ms = http_req_param(req, "ms");
  if (strcmp(path, "/hello") == 0) {
    http_respond(req, 200, "text/plain", "hello", 5);
  } else if (strcmp(path, "/echo") == 0) {
    size_t n;
    const uint8_t *b = http_req_body(req, &n);
    const char *db = http_req_param(req, "db");
    if (db) http_req_add_header(req, "X-Db", db);
    http_req_add_header(req, "X-Remote", http_req_remote(req));
    http_respond(req, 200, "application/octet-stream", b, n);
  } else if (strcmp(path, "/stream") == 0) {
    http_respond_start(req, 200, "text/plain");
    http_respond_chunk(req, "one,", 4);
    http_respond_chunk(req, "two,", 4);
    http_respond_chunk(req, "three", 5);
    http_respond_end(req);
  } else if (strcmp(path, "/defer") == 0) {
    defer(fx, req, ms ? atoi(ms) : 20, 0);
  } else if (strcmp(path, "/hold") == 0) {
    const char *slot = http_req_param(req, "slot");
    pthread_mutex_lock(&fx->mu);
    if (slot && *slot == 'r') fx->held_r = req;
    if (slot && *slot == 'y') fx->held_y = req;
    if (slot && *slot == 'z') {
      fx->held_z = req;
      pthread_cond_broadcast(&fx->cv);
      while (fx->stage < 1) pthread_cond_wait(&fx->cv, &fx->mu); /* block the loop */
    }
    pthread_cond_broadcast(&fx->cv);
    pthread_mutex_unlock(&fx->mu);
  } else if (strcmp(path, "/gate") == 0) {
    /* finish R's stream from the loop thread, then answer synchronously */
    http_req *r = fx->held_r;
    http_respond_chunk(r, "b", 1);
    http_respond_end(r);
    http_respond(req, 200, "text/plain", "gate", 4);
  } else if (strcmp(path, "/big-stream") == 0) {
    defer(fx, req, 0, 2);
  } else if (strcmp(path, "/defer-stream") == 0) {
    defer(fx, req, ms ? atoi(ms) : 20, 1);
  } else {
    http_respond_error(req, 404, "not found");
  }
}

/* A toy transport that XORs every byte with 0x5a in both directions: proves
 * the seam TLS will use (recv/send wrap the socket bytes). */
typedef struct xor_tr {
  http_transport base;
} xor_tr;

static int xor_apply(const char *in, size_t n, char **out) {
  *out = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) (*out)[i] = (char)(in[i] ^ 0x5a);
  return 0;
}
static int xor_recv(http_transport *t, const char *data, size_t len) {
  char *p;
  xor_apply(data, len, &p);
  int rc = t->sink.deliver(t->sink.conn, p, len);
  free(p);
  return rc;
}
static int xor_send(http_transport *t, const char *data, size_t len) {
  char *p;
  xor_apply(data, len, &p);
  int rc = t->sink.wire_write(t->sink.conn, p, len);
  free(p);
  return rc;
}
static void xor_free(http_transport *t) { free(t); }
static const http_transport_ops xor_ops = {xor_recv, xor_send, xor_free};
static int xor_new(void *user, const http_transport_sink *sink, http_transport **out) {
  (void)user;
  xor_tr *x = calloc(1, sizeof *x);
  x->base.ops = &xor_ops;
  x->base.sink = *sink;
  *out = &x->base;
  return 0;
}

static int use_xor_transport;
static unsigned n_threads_override;

static int start_server(fixture *fx, size_t max_body, size_t max_header, unsigned idle_ms, unsigned stop_ms) {
  http_server_options o;
  memset(&o, 0, sizeof o);
  if (use_xor_transport) o.transport_new = xor_new;
  o.listen = "127.0.0.1:0";
  o.n_threads = n_threads_override ? n_threads_override : 2;
  o.max_body_bytes = max_body;
  o.max_header_bytes = max_header;
  o.idle_timeout_ms = idle_ms;
  o.stop_timeout_ms = stop_ms;
  o.handler = handler;
  o.user = fx;
  int rc = http_server_new(&o, &fx->srv);
  if (rc < 0) return rc;
  fx->port = http_server_port(fx->srv);
  return http_server_start(fx->srv);
}

static int setup_with(void **state, size_t max_body, size_t max_header, unsigned idle_ms, unsigned stop_ms) {
  fixture *fx = calloc(1, sizeof *fx);
  pthread_mutex_init(&fx->mu, NULL);
  pthread_cond_init(&fx->cv, NULL);
  if (start_server(fx, max_body, max_header, idle_ms, stop_ms) < 0) return -1;
  *state = fx;
  return 0;
}

static int setup(void **state) { return setup_with(state, 0, 0, 0, 0); }
static int setup_one_loop(void **state) {
  n_threads_override = 1;
  int rc = setup_with(state, 0, 0, 0, 0);
  n_threads_override = 0;
  return rc;
}
static int setup_small(void **state) { return setup_with(state, 1000, 2048, 300, 150); }
static int setup_xor(void **state) {
  use_xor_transport = 1;
  int rc = setup_with(state, 0, 0, 0, 0);
  use_xor_transport = 0;
  return rc;
}

static void join_workers(fixture *fx) {
  for (;;) {
    pthread_mutex_lock(&fx->mu);
    if (fx->n_workers == 0) {
      pthread_mutex_unlock(&fx->mu);
      return;
    }
    pthread_t t = fx->workers[--fx->n_workers];
    pthread_mutex_unlock(&fx->mu);
    pthread_join(t, NULL);
  }
}

static int teardown(void **state) {
  fixture *fx = *state;
  if (fx->big_client) { /* a failed test left it: closing it frees the producer */
    close(fx->big_client->fd);
    free(fx->big_client);
  }
  join_workers(fx);
  http_server_free(fx->srv);
  pthread_mutex_destroy(&fx->mu);
  pthread_cond_destroy(&fx->cv);
  free(fx);
  return 0;
}

/* ---------- client ---------- */


typedef struct resp {
  int status;
  int complete;
  int skip_body;
  char headers[4096]; /* "name: value\n" lines, names lower-cased */
  char body[1 << 16];
  size_t body_len;
  int last_was_value;
} resp;

static client *connect_client_rcvbuf(int port, int rcvbuf) {
  client *c = calloc(1, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return c;
}

static client *connect_client(int port) { return connect_client_rcvbuf(port, 0); }

static void client_close(client *c) {
  close(c->fd);
  free(c);
}

static void send_str(client *c, const char *s, size_t n) {
  while (n) {
    ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}
#define SEND(c, s) send_str(c, s, strlen(s))

static int r_header_field(http_parser *p, const char *at, size_t n) {
  resp *r = p->data;
  size_t o = strlen(r->headers);
  if (r->last_was_value && o + 1 < sizeof r->headers) r->headers[o++] = '\n';
  for (size_t i = 0; i < n && o + 1 < sizeof r->headers; i++)
    r->headers[o++] = (char)((at[i] >= 'A' && at[i] <= 'Z') ? at[i] + 32 : at[i]);
  r->headers[o] = 0;
  r->last_was_value = 0;
  return 0;
}
static int r_header_value(http_parser *p, const char *at, size_t n) {
  resp *r = p->data;
  size_t o = strlen(r->headers);
  if (!r->last_was_value && o + 2 < sizeof r->headers) {
    r->headers[o++] = ':';
    r->headers[o++] = ' ';
  }
  for (size_t i = 0; i < n && o + 1 < sizeof r->headers; i++) r->headers[o++] = at[i];
  r->headers[o] = 0;
  r->last_was_value = 1;
  return 0;
}
static int r_headers_complete(http_parser *p) {
  resp *r = p->data;
  r->status = (int)p->status_code;
  return r->skip_body ? 1 : 0;
}
static int r_body(http_parser *p, const char *at, size_t n) {
  resp *r = p->data;
  if (r->body_len + n <= sizeof r->body) memcpy(r->body + r->body_len, at, n);
  r->body_len += n;
  return 0;
}
static int r_complete(http_parser *p) {
  resp *r = p->data;
  r->complete = 1;
  http_parser_pause(p, 1);
  return 0;
}
static const http_parser_settings rsettings = {
    .on_header_field = r_header_field,
    .on_header_value = r_header_value,
    .on_headers_complete = r_headers_complete,
    .on_body = r_body,
    .on_message_complete = r_complete,
};

/* Read one response (skip_body for HEAD). Returns 0, or -1 on EOF/timeout
 * before a complete response. */
static int read_response_opt(client *c, resp *r, int skip_body) {
  memset(r, 0, sizeof *r);
  r->skip_body = skip_body;
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = r;
  for (;;) {
    if (c->len) {
      size_t n = http_parser_execute(&p, &rsettings, c->buf, c->len);
      memmove(c->buf, c->buf + n, c->len - n);
      c->len -= n;
      if (r->complete) return 0;
      if (HTTP_PARSER_ERRNO(&p) != HPE_OK) return -1;
    }
    ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (got <= 0) {
      http_parser_execute(&p, &rsettings, NULL, 0); /* EOF ends close-delimited bodies */
      return r->complete ? 0 : -1;
    }
    c->len += (size_t)got;
  }
}
static int read_response(client *c, resp *r) { return read_response_opt(c, r, 0); }

static const char *header(const resp *r, const char *name) {
  static __thread char val[512];
  char key[128];
  snprintf(key, sizeof key, "%s: ", name);
  const char *p = r->headers;
  while ((p = strstr(p, key)) != NULL) {
    if (p == r->headers || p[-1] == '\n') {
      p += strlen(key);
      size_t n = strcspn(p, "\n");
      snprintf(val, sizeof val, "%.*s", (int)n, p);
      return val;
    }
    p++;
  }
  return NULL;
}

/* 1 if the server closed the connection (EOF) within the recv timeout. */
static int peer_closed(client *c) {
  char b[256];
  for (;;) {
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    if (n == 0) return 1;
    if (n < 0) return errno == ECONNRESET ? 1 : 0;
  }
}

static void body_is(const resp *r, const char *want) {
  assert_int_equal(r->body_len, strlen(want));
  assert_memory_equal(r->body, want, r->body_len);
}

static void wait_for(atomic_int *v, int want) {
  for (int i = 0; i < 500 && atomic_load(v) < want; i++) sleep_ms(10);
  assert_true(atomic_load(v) >= want);
}

/* ---------- tests ---------- */

static void test_keep_alive(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  resp r;
  for (int i = 0; i < 3; i++) {
    SEND(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r), 0);
    assert_int_equal(r.status, 200);
    body_is(&r, "hello");
    assert_string_equal(header(&r, "connection"), "keep-alive");
    assert_string_equal(header(&r, "content-length"), "5");
    assert_non_null(header(&r, "date"));
  }
  http_server_stats st;
  http_server_stats_get(fx->srv, &st);
  assert_int_equal(st.conns_total, 1);
  assert_int_equal(st.conns_open, 1);
  assert_int_equal(st.requests_total, 3);
  assert_int_equal(st.responses_2xx, 3);
  assert_true(st.bytes_in >= 3 * strlen("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  assert_true(st.bytes_out > 3 * 5);
  client_close(c);
}

static void test_pipelining_keeps_order(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  /* the first request is answered last in time if handled concurrently;
   * responses must still come in request order */
  SEND(c, "GET /defer?ms=80 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"
          "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /defer?ms=5 HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "deferred 80");
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "abc");
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "deferred 5");
  client_close(c);
}

static void test_chunked_response(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /stream HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_string_equal(header(&r, "transfer-encoding"), "chunked");
  assert_null(header(&r, "content-length"));
  body_is(&r, "one,two,three");
  /* the connection stays usable */
  SEND(c, "GET /hello HTTP/1.1\r\n\r\n");
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  client_close(c);
}

static void test_stream_http10_close_delimited(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /stream HTTP/1.0\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_null(header(&r, "transfer-encoding"));
  assert_string_equal(header(&r, "connection"), "close");
  body_is(&r, "one,two,three");
  assert_true(peer_closed(c));
  client_close(c);
}

static void test_deferred_from_other_thread(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /defer?ms=30 HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 200);
  body_is(&r, "deferred 30");
  assert_int_equal(atomic_load(&fx->cross_thread), 1);
  client_close(c);
}

static void test_streamed_from_other_thread(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /defer-stream?ms=10 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_string_equal(header(&r, "transfer-encoding"), "chunked");
  body_is(&r, "from another thread");
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  client_close(c);
}

static void test_graceful_stop_finishes_deferred(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  client *idle = connect_client(fx->port);
  SEND(c, "GET /defer?ms=300 HTTP/1.1\r\n\r\n");
  wait_for(&fx->handled, 1);
  assert_int_equal(http_server_stop(fx->srv), 0); /* blocks until the request is done */
  assert_int_equal(atomic_load(&fx->responded), 1);
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "deferred 300");
  assert_string_equal(header(&r, "connection"), "close");
  assert_true(peer_closed(c));
  assert_true(peer_closed(idle));
  /* no longer accepting */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  close(fd);
  http_server_stats st;
  http_server_stats_get(fx->srv, &st);
  assert_int_equal(st.conns_open, 0);
  client_close(c);
  client_close(idle);
}

static void test_stop_timeout_detaches_request(void **state) {
  fixture *fx = *state; /* stop timeout 150 ms */
  client *c = connect_client(fx->port);
  SEND(c, "GET /defer?ms=1500 HTTP/1.1\r\n\r\n");
  wait_for(&fx->handled, 1);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(http_server_stop(fx->srv), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(secs < 1.2); /* 150 ms timeout, generous for a loaded machine */
  assert_int_equal(atomic_load(&fx->responded), 0);
  /* the late response is discarded, the request freed (ASan checks) */
  join_workers(fx);
  assert_int_equal(atomic_load(&fx->responded), 1);
  assert_true(peer_closed(c));
  client_close(c);
}

static void test_expect_100_continue(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 100);
  SEND(c, "body");
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 200);
  body_is(&r, "body");
  client_close(c);
}

static size_t gzip_of(const char *s, uint8_t *out, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = (Bytef *)(uintptr_t)s;
  zs.avail_in = (uInt)strlen(s);
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  deflate(&zs, Z_FINISH);
  size_t n = cap - zs.avail_out;
  deflateEnd(&zs);
  return n;
}

static void test_gzip_body(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  uint8_t z[256];
  size_t zn = gzip_of("cpu value=1 1\ncpu value=2 2\n", z, sizeof z);
  char head[256];
  snprintf(head, sizeof head, "POST /echo?db=plant1 HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
  SEND(c, head);
  send_str(c, (const char *)z, zn);
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 200);
  body_is(&r, "cpu value=1 1\ncpu value=2 2\n");
  assert_string_equal(header(&r, "x-db"), "plant1");
  client_close(c);
}

static void test_bad_gzip_is_400(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "POST /echo HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnotgz");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 400);
  body_is(&r, "{\"error\":\"invalid gzip request body\"}\n");
  assert_true(peer_closed(c));
  client_close(c);
}

static void test_form_post_params(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "POST /echo HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
          "Content-Length: 11\r\n\r\ndb=my+plant");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_string_equal(header(&r, "x-db"), "my plant");
  client_close(c);
}

static void test_client_disconnects_before_deferred_response(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /defer?ms=150 HTTP/1.1\r\n\r\n");
  wait_for(&fx->handled, 1);
  client_close(c);
  wait_for(&fx->responded, 1);
  join_workers(fx);
  http_server_stats st;
  for (int i = 0; i < 200; i++) {
    http_server_stats_get(fx->srv, &st);
    if (st.conns_open == 0) break;
    sleep_ms(10);
  }
  assert_int_equal(st.conns_open, 0);
  /* the server still serves others */
  c = connect_client(fx->port);
  SEND(c, "GET /hello HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  client_close(c);
}

static void test_bad_request_400_and_close(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "BLAH\x01\x02 nonsense\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 400);
  assert_string_equal(header(&r, "connection"), "close");
  assert_true(peer_closed(c));
  http_server_stats st;
  http_server_stats_get(fx->srv, &st);
  assert_int_equal(st.responses_4xx, 1);
  assert_int_equal(atomic_load(&fx->handled), 0);
  client_close(c);
}

static void test_body_too_large_413(void **state) {
  fixture *fx = *state; /* max body 1000 */
  client *c = connect_client(fx->port);
  SEND(c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  char junk[5000];
  memset(junk, 'x', sizeof junk);
  send_str(c, junk, sizeof junk); /* the client keeps sending: must still see the 413 */
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 413);
  client_close(c);
}

static void test_headers_too_large_431(void **state) {
  fixture *fx = *state; /* max header 2048 */
  client *c = connect_client(fx->port);
  char req[4096];
  int n = snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nX-Big: ");
  memset(req + n, 'a', 3000);
  strcpy(req + n + 3000, "\r\n\r\n");
  SEND(c, req);
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.status, 431);
  client_close(c);
}

static void test_idle_timeout_closes(void **state) {
  fixture *fx = *state; /* idle 300 ms */
  client *c = connect_client(fx->port);
  SEND(c, "GET /hello HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_true(peer_closed(c));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(secs > 0.2 && secs < 3.0);
  client_close(c);
}

static void test_slow_headers_are_cut_off(void **state) {
  fixture *fx = *state; /* idle 300 ms */
  client *c = connect_client(fx->port);
  SEND(c, "GET /hello HTTP/1.1\r\n");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int closed = 0;
  for (int i = 0; i < 30 && !closed; i++) { /* one header line every 100 ms */
    sleep_ms(100);
    if (send(c->fd, "X-Drip: 1\r\n", 11, MSG_NOSIGNAL) < 0) closed = 1;
    char b[64];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed = 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(closed);
  assert_true(secs < 1.5);
  assert_int_equal(atomic_load(&fx->handled), 0);
  client_close(c);
}

static void test_slow_body_keeps_connection(void **state) {
  fixture *fx = *state; /* idle 300 ms: a body arriving steadily is not cut off */
  client *c = connect_client(fx->port);
  SEND(c, "POST /echo HTTP/1.1\r\nContent-Length: 6\r\n\r\n");
  for (int i = 0; i < 6; i++) {
    sleep_ms(100);
    send_str(c, "x", 1);
  }
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "xxxxxx");
  client_close(c);
}

static void test_http10_closes(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /hello HTTP/1.0\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  assert_string_equal(header(&r, "connection"), "close");
  assert_true(peer_closed(c));
  client_close(c);
}

static void test_head_request(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response_opt(c, &r, 1), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(header(&r, "content-length"), "5");
  assert_int_equal(r.body_len, 0);
  assert_int_equal(read_response(c, &r), 0); /* the next bytes are the GET's response */
  body_is(&r, "hello");
  client_close(c);
}

static void test_half_close_still_answered(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /defer?ms=30 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  shutdown(c->fd, SHUT_WR);
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "deferred 30");
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  assert_true(peer_closed(c));
  client_close(c);
}

static void test_many_connections_both_loops(void **state) {
  fixture *fx = *state;
  enum { N = 40 };
  client *cs[N];
  for (int i = 0; i < N; i++) cs[i] = connect_client(fx->port);
  for (int i = 0; i < N; i++) SEND(cs[i], "GET /hello HTTP/1.1\r\n\r\n");
  resp r;
  for (int i = 0; i < N; i++) {
    assert_int_equal(read_response(cs[i], &r), 0);
    body_is(&r, "hello");
    client_close(cs[i]);
  }
  http_server_stats st;
  http_server_stats_get(fx->srv, &st);
  assert_int_equal(st.conns_total, N);
}

static void test_chunked_request_body(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  sleep_ms(20);
  SEND(c, "4\r\ndefg\r\n0\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "abcdefg");
  const char *remote = header(&r, "x-remote");
  assert_non_null(remote);
  assert_true(strncmp(remote, "127.0.0.1:", 10) == 0);
  client_close(c);
}

static void test_connection_close_honoured(void **state) {
  fixture *fx = *state;
  client *c = connect_client(fx->port);
  SEND(c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  body_is(&r, "hello");
  assert_string_equal(header(&r, "connection"), "close");
  assert_true(peer_closed(c)); /* the second request is not answered */
  assert_int_equal(atomic_load(&fx->handled), 1);
  client_close(c);
}

static void test_custom_transport(void **state) {
  fixture *fx = *state; /* XOR transport */
  client *c = connect_client(fx->port);
  char req[] = "GET /hello HTTP/1.1\r\n\r\n";
  for (size_t i = 0; i < strlen(req); i++) req[i] ^= 0x5a;
  send_str(c, req, strlen(req));
  char buf[512];
  size_t got = 0;
  /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" is 37 bytes */
  const char *head = "HTTP/1.1 200 OK\r\nDate: ";
  const char *tail = " GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                     "Connection: keep-alive\r\n\r\nhello";
  size_t want = strlen(head) + 25 + strlen(tail);
  while (got < want) {
    ssize_t n = recv(c->fd, buf + got, sizeof buf - got, 0);
    assert_true(n > 0);
    got += (size_t)n;
  }
  for (size_t i = 0; i < got; i++) buf[i] ^= 0x5a;
  assert_int_equal(got, want);
  assert_memory_equal(buf, head, strlen(head));
  assert_memory_equal(buf + got - strlen(tail), tail, strlen(tail));
  client_close(c);
}

/* Deferred streams answered from workers interleave with synchronous
 * responses on other connections of the same loop: every response must
 * still arrive whole and in order (regression: nested queue draining once
 * applied a request's chunk after its end, a use-after-free). */
static void test_interleaved_deferred_and_sync(void **state) {
  fixture *fx = *state;
  enum { NC = 4, NR = 12 };
  client *cs[NC];
  for (int i = 0; i < NC; i++) cs[i] = connect_client(fx->port);
  for (int i = 0; i < NC; i++) {
    char buf[4096];
    size_t n = 0;
    for (int k = 0; k < NR; k++) {
      const char *r = k % 3 == 0 ? "GET /defer-stream?ms=0 HTTP/1.1\r\n\r\n"
                      : k % 3 == 1 ? "GET /stream HTTP/1.1\r\n\r\n" : "GET /hello HTTP/1.1\r\n\r\n";
      memcpy(buf + n, r, strlen(r));
      n += strlen(r);
    }
    send_str(cs[i], buf, n);
  }
  resp r;
  for (int i = 0; i < NC; i++) {
    for (int k = 0; k < NR; k++) {
      assert_int_equal(read_response(cs[i], &r), 0);
      body_is(&r, k % 3 == 0 ? "from another thread" : k % 3 == 1 ? "one,two,three" : "hello");
    }
    client_close(cs[i]);
  }
}

static http_req *wait_held(fixture *fx, http_req **slot) {
  pthread_mutex_lock(&fx->mu);
  while (!*slot) pthread_cond_wait(&fx->cv, &fx->mu);
  http_req *r = *slot;
  pthread_mutex_unlock(&fx->mu);
  return r;
}

/* Deterministic regression for the nested-drain bug: with the loop blocked,
 * this thread queues Y's response and the start of R's stream; when the loop
 * applies Y's response it runs Y's next request (/gate), whose handler ends
 * R's stream from the loop thread. R's bytes must come out in order and R
 * must not be freed while its earlier messages are still queued. */
static void test_queue_order_across_nested_handlers(void **state) {
  fixture *fx = *state; /* one loop thread */
  client *cr = connect_client(fx->port), *cy = connect_client(fx->port), *cz = connect_client(fx->port);
  SEND(cr, "GET /hold?slot=r HTTP/1.1\r\n\r\n");
  http_req *r = wait_held(fx, &fx->held_r);
  SEND(cy, "GET /hold?slot=y HTTP/1.1\r\n\r\nGET /gate HTTP/1.1\r\n\r\n");
  http_req *y = wait_held(fx, &fx->held_y);
  SEND(cz, "GET /hold?slot=z HTTP/1.1\r\n\r\n");
  http_req *z = wait_held(fx, &fx->held_z); /* the loop is now blocked in z's handler */
  assert_int_equal(http_respond(y, 200, "text/plain", "y", 1), 0);
  assert_int_equal(http_respond_start(r, 200, "text/plain"), 0);
  assert_int_equal(http_respond_chunk(r, "a", 1), 0);
  pthread_mutex_lock(&fx->mu);
  fx->stage = 1;
  pthread_cond_broadcast(&fx->cv);
  pthread_mutex_unlock(&fx->mu);
  resp rs;
  assert_int_equal(read_response(cy, &rs), 0);
  body_is(&rs, "y");
  assert_int_equal(read_response(cy, &rs), 0);
  body_is(&rs, "gate");
  assert_int_equal(read_response(cr, &rs), 0);
  body_is(&rs, "ab");
  assert_int_equal(http_respond(z, 200, "text/plain", "z", 1), 0);
  assert_int_equal(read_response(cz, &rs), 0);
  body_is(&rs, "z");
  client_close(cr);
  client_close(cy);
  client_close(cz);
}

static void test_accept_without_memory_keeps_listening(void **state) {
  fixture *fx = *state;
  loom_mem_fail_after(0);
  client *c = connect_client(fx->port);
  int closed = peer_closed(c); /* accepted into the spare and closed */
  loom_mem_fail_after(-1);
  assert_true(closed);
  client_close(c);
  for (int i = 0; i < 4; i++) { /* the listener still works, spare or not */
    c = connect_client(fx->port);
    SEND(c, "GET /hello HTTP/1.1\r\n\r\n");
    resp r;
    assert_int_equal(read_response(c, &r), 0);
    body_is(&r, "hello");
    client_close(c);
  }
}

static void test_backlog_pauses_producer(void **state) {
  fixture *fx = *state;
  client *c = connect_client_rcvbuf(fx->port, 64 * 1024); /* small, so the backlog builds up */
  fx->big_client = c;
  SEND(c, "GET /big-stream HTTP/1.1\r\n\r\n");
  sleep_ms(300); /* not reading */
  size_t produced = atomic_load(&fx->produced);
  assert_true(produced < BIG_TOTAL / 2);           /* the producer waited */
  assert_true(atomic_load(&fx->max_backlog) > 0);  /* and saw why */
  resp r;
  assert_int_equal(read_response(c, &r), 0);
  assert_int_equal(r.body_len, BIG_TOTAL);
  assert_int_equal(atomic_load(&fx->saw_gone), 0);
  fx->big_client = NULL;
  client_close(c);
}

static void test_backlog_reports_gone_client(void **state) {
  fixture *fx = *state;
  client *c = connect_client_rcvbuf(fx->port, 64 * 1024);
  SEND(c, "GET /big-stream HTTP/1.1\r\n\r\n");
  sleep_ms(100);
  struct linger l = {1, 0}; /* reset: the server notices at once */
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  client_close(c);
  wait_for(&fx->saw_gone, 1);
  join_workers(fx);
  assert_true(atomic_load(&fx->produced) < BIG_TOTAL);
}

static void test_port_in_use(void **state) {
  fixture *fx = *state;
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", fx->port);
  http_server_options o;
  memset(&o, 0, sizeof o);
  o.listen = addr;
  o.handler = handler;
  http_server *s2 = NULL;
  assert_int_equal(http_server_new(&o, &s2), LOOM_EIO);
  assert_null(s2);
}

static void test_bad_options(void **state) {
  (void)state;
  http_server_options o;
  memset(&o, 0, sizeof o);
  http_server *s = NULL;
  o.handler = handler;
  const char *bad[] = {"", "127.0.0.1", "127.0.0.1:99999", "::1:80", "[::1]80", "127.0.0.1:x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o.listen = bad[i];
    assert_int_equal(http_server_new(&o, &s), LOOM_EINVAL);
  }
  o.listen = "127.0.0.1:0";
  o.handler = NULL;
  assert_int_equal(http_server_new(&o, &s), LOOM_EINVAL);
}

static void test_ipv6_listen(void **state) {
  (void)state;
  http_server_options o;
  memset(&o, 0, sizeof o);
  o.listen = "[::1]:0";
  o.n_threads = 1;
  o.handler = handler;
  http_server *s = NULL;
  int rc = http_server_new(&o, &s);
  if (rc == LOOM_EIO) skip(); /* no IPv6 on this host */
  assert_int_equal(rc, 0);
  assert_true(http_server_port(s) > 0);
  http_server_free(s); /* never started: must still release everything */
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* as the daemon does (see http_server_new) */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelining_keeps_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_http10_close_delimited, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deferred_from_other_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_streamed_from_other_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_graceful_stop_finishes_deferred, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_timeout_detaches_request, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_expect_100_continue, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gzip_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_gzip_is_400, setup, teardown),
      cmocka_unit_test_setup_teardown(test_form_post_params, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_disconnects_before_deferred_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_request_400_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_too_large_413, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_headers_too_large_431, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_idle_timeout_closes, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_slow_headers_are_cut_off, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_slow_body_keeps_connection, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_http10_closes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_head_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_half_close_still_answered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_connections_both_loops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_request_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_close_honoured, setup, teardown),
      cmocka_unit_test_setup_teardown(test_custom_transport, setup_xor, teardown),
      cmocka_unit_test_setup_teardown(test_interleaved_deferred_and_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queue_order_across_nested_handlers, setup_one_loop, teardown),
      cmocka_unit_test_setup_teardown(test_accept_without_memory_keeps_listening, setup_one_loop, teardown),
      cmocka_unit_test_setup_teardown(test_backlog_pauses_producer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backlog_reports_gone_client, setup, teardown),
      cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_ipv6_listen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
