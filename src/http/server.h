/* SPDX-License-Identifier: Apache-2.0
 * HTTP/1.1 server on libuv + http-parser: N loop threads, each with its own
 * SO_REUSEPORT listener; keep-alive, pipelining (requests handled one at a
 * time per connection, responses in order), Expect: 100-continue, chunked
 * request bodies, gzip/deflate request bodies, size limits, graceful stop.
 * Handlers run on a loop thread and may respond later from ANY thread
 * (deferred and streamed responses). Also the request API that handlers use.
 */
#ifndef LOOM_HTTP_SERVER_H
#define LOOM_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/transport.h"

typedef struct http_server http_server;
typedef struct http_req http_req;

/* Request handler: runs on the connection's loop thread. It must eventually
 * finish the response (http_respond, or http_respond_start ... _end), either
 * before returning or later from any thread. Until then the connection reads
 * no further request (pipelined requests wait their turn).
 * The server answers by itself, with {"error":"..."} and Connection: close,
 * requests that never reach a handler: 400 (malformed, bad percent-encoding,
 * bad gzip/deflate body), 413 (body), 414 (target), 415 (Content-Encoding),
 * 417 (Expect), 431 (headers), 503 (out of memory), 505 (HTTP/2+ request
 * line). Upgrade and CONNECT
 * requests reach the handler; a handler may switch a WebSocket upgrade to
 * http/ws.h (http_ws_accept), otherwise the connection closes after the
 * response. Served responses carry a Date header. */
typedef void (*http_handler_cb)(http_req *req, void *user);

/* Optional log callback (the server itself never logs). level is a
 * LOOM_LOG_* value; msg is a short static description, detail may be NULL. */
typedef void (*http_log_cb)(void *user, int level, const char *msg, const char *detail);

typedef struct http_server_options {
  const char *listen;       /* "host:port", "[v6]:port" or ":port" (all IPv4 interfaces); port 0 = ephemeral */
  unsigned n_threads;       /* loop threads; 0 = number of CPU cores */
  size_t max_body_bytes;    /* request body limit, before and after decompression; 0 = 64 MiB; larger -> 413 */
  size_t max_header_bytes;  /* request line + headers; 0 = 64 KiB; larger -> 431. Capped by http-parser at 80 KiB */
  unsigned idle_timeout_ms; /* idle keep-alive connections are closed after this; also the time
                               allowed for a request's headers to arrive; 0 = 60000 */
  unsigned stop_timeout_ms; /* http_server_stop waits this long for in-flight requests; 0 = 10000 */
  int backlog;              /* listen backlog; 0 = 511 */
  http_handler_cb handler;  /* required */
  void *user;               /* passed to handler */
  http_log_cb log;          /* optional */
  void *log_user;
  http_transport_new_fn transport_new; /* optional, NULL = plain TCP (TLS slots in here) */
  void *transport_user;
} http_server_options;

/* Counters for /metrics; monotonic except conns_open. */
typedef struct http_server_stats {
  uint64_t requests_total;   /* responses started (including automatic 4xx) */
  uint64_t responses_1xx;    /* final statuses by class; 100 Continue is not counted */
  uint64_t responses_2xx;
  uint64_t responses_3xx;
  uint64_t responses_4xx;
  uint64_t responses_5xx;
  uint64_t bytes_in;         /* bytes read from sockets */
  uint64_t bytes_out;        /* bytes handed to sockets */
  uint64_t conns_total;      /* connections accepted */
  uint64_t conns_open;       /* connections open now */
} http_server_stats;

/* Create a server and bind its listening sockets (so the port is known
 * before start). The process must ignore SIGPIPE (the daemon's main does
 * signal(SIGPIPE, SIG_IGN)): a write to a client that has reset the
 * connection would otherwise kill it; the server does not change signal
 * dispositions itself. Returns 0 and *out, or LOOM_EINVAL (bad options or
 * address), LOOM_EIO (socket/bind failed, e.g. address in use), LOOM_ENOMEM.
 * No thread is started. Call from a non-loop thread. */
int http_server_new(const http_server_options *opt, http_server **out);

/* The bound TCP port (useful with port 0). */
int http_server_port(const http_server *s);

/* Start the loop threads and accept connections. Returns 0, LOOM_ECLOSED if
 * already started or stopped, LOOM_EIO/LOOM_ENOMEM if a thread could not be
 * started (the server is then stopped). */
int http_server_start(http_server *s);

/* Graceful stop: stop accepting, close idle connections, let in-flight
 * requests (including deferred ones) finish for up to stop_timeout_ms, then
 * close everything and join the threads. A request still unanswered after
 * the timeout is detached: answering it later is allowed (the response is
 * discarded and the request freed) until http_server_free. Must not be called
 * from a loop thread (handler): returns LOOM_EINVAL then. Idempotent: 0. */
int http_server_stop(http_server *s);

/* Stop if needed, then release the server. Every deferred request must have
 * been answered before this call. NULL is a no-op. */
void http_server_free(http_server *s);

/* Snapshot of the counters. Any thread. */
void http_server_stats_get(const http_server *s, http_server_stats *out);

/* ---- Requests (valid until the response is finished) ----
 * Getters may be called from any thread that currently owns the request (the
 * handler, or the thread it handed the request to). Strings are
 * NUL-terminated and owned by the request. */

/* Method bits, for routing. HEAD is answered like GET minus the body. */
enum {
  HTTP_M_GET = 1 << 0,
  HTTP_M_HEAD = 1 << 1,
  HTTP_M_POST = 1 << 2,
  HTTP_M_PUT = 1 << 3,
  HTTP_M_DELETE = 1 << 4,
  HTTP_M_PATCH = 1 << 5,
  HTTP_M_OPTIONS = 1 << 6,
  HTTP_M_OTHER = 1 << 7,
  HTTP_M_ANY = 0xff
};

const char *http_req_method(const http_req *req);   /* "GET", "POST", ... */
unsigned http_req_method_bit(const http_req *req);  /* one HTTP_M_* bit */
const char *http_req_target(const http_req *req);   /* raw request target as received */
const char *http_req_path(const http_req *req);     /* percent-decoded path, no query */
const char *http_req_query(const http_req *req);    /* raw query after '?', "" if none */
/* First parameter `name` from the query string, else from an
 * application/x-www-form-urlencoded body; NULL if absent. */
const char *http_req_param(const http_req *req, const char *name);
/* First header `name` (case-insensitive), NULL if absent. */
const char *http_req_header(const http_req *req, const char *name);
size_t http_req_header_count(const http_req *req);
/* Header i (0 <= i < count); name is lower-cased. 0 or LOOM_ERANGE. */
int http_req_header_at(const http_req *req, size_t i, const char **name, const char **value);
/* Body bytes (decompressed); *len set; never NULL (points at "" when empty). */
const uint8_t *http_req_body(const http_req *req, size_t *len);
const char *http_req_remote(const http_req *req);   /* "1.2.3.4:5678" or "[::1]:5678"; "" if unknown */
int http_req_http_minor(const http_req *req);        /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
void *http_req_user(const http_req *req);
void http_req_set_user(http_req *req, void *user);

/* Add a response header (copied), before responding. Returns 0, LOOM_EINVAL
 * (empty name, or CR/LF/NUL in name or value, or ':' in the name; also a
 * header the server manages: Content-Length, Transfer-Encoding, Connection),
 * LOOM_ECLOSED (response already started), LOOM_ENOMEM. */
int http_req_add_header(http_req *req, const char *name, const char *value);

/* Send a whole response: status (100..599, not 1xx), Content-Type (NULL = none),
 * body copied (len bytes; body may be NULL when len is 0). Sets
 * Content-Length and Connection. For HEAD the body is not sent. After a
 * successful call the request pointer is INVALID (it may already be freed).
 * Any thread (thread-safe hand-off to the connection's loop). If the client
 * has gone, the response is silently discarded. Returns 0, LOOM_EINVAL (bad
 * status), LOOM_ECLOSED (response already started), LOOM_ENOMEM (the request
 * stays valid and the caller should retry or respond with an error). */
int http_respond(http_req *req, int status, const char *content_type, const void *body, size_t len);

/* http_respond with body {"error":"<msg>"} and type application/json. */
int http_respond_error(http_req *req, int status, const char *msg);

/* Streaming: start a response of unknown length, chunked for HTTP/1.1 or
 * close-delimited for HTTP/1.0. Then any number of _chunk calls (empty chunks
 * are ignored), then _end, which finishes the response (the request pointer
 * is INVALID afterwards). Each call may come from any thread, but calls for
 * one request must not run concurrently and must be issued in order. Data is
 * copied and queued without back-pressure: producers should send bounded
 * amounts. Returns 0, LOOM_EINVAL, LOOM_ECLOSED (wrong state), LOOM_ENOMEM. */
int http_respond_start(http_req *req, int status, const char *content_type);
int http_respond_chunk(http_req *req, const void *data, size_t len);
int http_respond_end(http_req *req);

/* Flow control for streaming producers: *bytes is set to the response bytes
 * not yet handed to the kernel (queued for the loop plus the connection's
 * write buffer; an estimate). A producer streaming a large result should
 * pause while this is above its budget (e.g. 1 MiB) and poll again later.
 * Returns 0, or LOOM_ECLOSED once the client has gone or has half-closed
 * its side (sent FIN while the request is deferred, e.g. a long poll: the
 * producer should stop waiting and just finish the response).
 * Any thread that owns the request. */
int http_req_backlog(const http_req *req, size_t *bytes);

/* ---- Requests without a server (tests, in-process callers) ---- */

/* Parse one complete request from raw[0..len) (as bytes on the wire) with
 * default limits. The request is detached: responses are captured and read
 * back with http_req_output; free it with http_req_free (also after
 * responding). Returns 0, LOOM_EINVAL (not exactly one complete request, or
 * a request the server would reject: bad syntax, limits, bad body), ENOMEM. */
int http_req_from_bytes(const char *raw, size_t len, http_req **out);

/* Bytes of the response captured for a detached request (head + body as on
 * the wire); *len set. Valid until http_req_free. */
const uint8_t *http_req_output(const http_req *req, size_t *len);

/* Free a detached request, or one taken from http_conn that the caller never
 * handed to a server. NULL is a no-op. */
void http_req_free(http_req *req);

#endif
