/* SPDX-License-Identifier: Apache-2.0
 * The socket-free half of an HTTP/1.1 server connection: a state machine fed
 * with the bytes a client sends (http_conn_feed) that produces complete,
 * validated requests one at a time, or tells the caller which error status to
 * answer with. Wraps http-parser; enforces header and body limits; decodes
 * gzip/deflate bodies, paths, query strings and form bodies. Also the request
 * and response-message structs shared by req.c and server.c (internal to http/:
 * other modules use the accessors in server.h).
 */
#ifndef LOOM_HTTP_CONN_H
#define LOOM_HTTP_CONN_H

#include <http_parser.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/buf.h"
#include "http/server.h"
#include "http/url.h"

typedef struct http_hdr {
  const char *name; /* lower-cased, NUL-terminated, inside req->raw */
  const char *value;
} http_hdr;

typedef struct http_msg http_msg;

/* Where a request's response bytes go. NULL hooks = detached request: the
 * bytes are appended to req->sink. */
typedef struct http_req_hooks {
  /* Takes ownership of msg. Any thread. Never fails. */
  void (*deliver)(void *ctx, http_msg *msg);
  /* Count a response status (stats). Any thread. */
  void (*count)(void *ctx, int status);
} http_req_hooks;

struct http_req {
  /* --- written by the parser (conn.c), read-only once the request is complete --- */
  loom_buf raw;          /* target "\0" name "\0" value "\0" ... */
  size_t (*hoff)[2];     /* while parsing: header (name, value) offsets into raw */
  size_t hoff_cap;
  http_hdr *hdrs;        /* n_hdrs entries, built when the headers are complete */
  size_t n_hdrs;
  char *path;            /* decoded path (owned) */
  char *query;           /* raw query (owned), "" if none */
  loom_buf body;         /* decoded body */
  http_params params;    /* query-string params, then form-body params */
  unsigned method;       /* enum http_method */
  unsigned short http_major, http_minor;
  unsigned keep_alive : 1; /* the client allows another request after this one */
  unsigned upgrade : 1;    /* Upgrade/CONNECT: the connection closes after the response */
  unsigned expect_continue : 1;
  char remote[64];       /* set by the server */
  void *user;            /* handler's slot */

  /* --- response side (req.c); owned by whichever thread is responding --- */
  int state;             /* RESP_NONE, RESP_STREAMING, RESP_DONE */
  unsigned chunked : 1;     /* streaming with chunked encoding */
  unsigned close_delim : 1; /* streaming, body ends at connection close (HTTP/1.0) */
  unsigned head_only : 1;   /* HEAD, or a status without a body: drop body bytes */
  unsigned close_after : 1; /* the response head said Connection: close */
  loom_buf extra_headers;   /* "Name: value\r\n" lines from http_req_add_header */
  loom_buf sink;            /* detached requests: the response bytes */

  /* --- set by the server before the handler runs; immutable afterwards --- */
  const http_req_hooks *hooks;
  void *hooks_ctx;
  const atomic_int *stopping; /* non-zero: answer with Connection: close */

  /* --- owned by the connection's loop thread (server.c) --- */
  void *conn;            /* the connection, NULL once it has closed */

  /* --- flow information for producers (http_req_backlog); any thread reads --- */
  atomic_size_t queued;   /* response bytes handed off but not yet taken by the loop (emit +, loop -) */
  atomic_size_t buffered; /* bytes in the connection's write buffers at the last loop update */
  atomic_int gone;        /* set by the loop when the connection has closed */
};

enum { RESP_NONE = 0, RESP_STREAMING = 1, RESP_DONE = 2 };

/* Response bytes handed from a responding thread to the connection's loop. */
struct http_msg {
  http_msg *next;        /* queue link (owner: the loop's queue) */
  http_req *req;
  loom_buf data;         /* wire bytes (owned) */
  int status;            /* non-zero when this message starts the response */
  unsigned final : 1;    /* the response is complete: the loop frees req */
  unsigned close : 1;    /* close the connection after these bytes */
};

/* Free a request and everything it owns (not the connection). */
void http_req_destroy(http_req *req);

typedef struct http_conn http_conn;

typedef struct http_conn_limits {
  size_t max_body_bytes;   /* 0 = 64 MiB */
  size_t max_header_bytes; /* 0 = 64 KiB */
} http_conn_limits;

/* Results of http_conn_feed. */
typedef enum http_feed_event {
  HTTP_FEED_MORE = 0,     /* all bytes consumed; feed more when they arrive */
  HTTP_FEED_CONTINUE = 1, /* all bytes consumed; the request expects "100 Continue": send it */
  HTTP_FEED_REQUEST = 2,  /* a request is complete: http_conn_take_request; bytes after *consumed are not yet parsed */
  HTTP_FEED_ERROR = 3     /* answer http_conn_error's status and close; the conn accepts nothing more */
} http_feed_event;

/* Create a parser for one client connection. 0, LOOM_ENOMEM. */
int http_conn_new(const http_conn_limits *lim, http_conn **out);
/* Free it (and any partly parsed or untaken request). NULL is a no-op. */
void http_conn_free(http_conn *c);

/* Feed bytes in wire order. Stops after at most one complete request, so the
 * caller can handle requests one at a time: *consumed tells how many bytes
 * were used; feed the rest (and later bytes) after taking the request.
 * Returns an http_feed_event. Never fails otherwise (out of memory becomes
 * HTTP_FEED_ERROR with status 503). After HTTP_FEED_ERROR every later call
 * returns HTTP_FEED_ERROR with *consumed = 0. */
int http_conn_feed(http_conn *c, const char *data, size_t len, size_t *consumed);

/* The request completed by the last feed (ownership passes to the caller),
 * or NULL if none is waiting. */
http_req *http_conn_take_request(http_conn *c);

/* After HTTP_FEED_ERROR: the status to answer (400, 413, 414, 415, 417, 431,
 * 503) and a static message in *msg. 0 if no error. */
int http_conn_error(const http_conn *c, const char **msg);

/* Non-zero when a request has started arriving but is not complete (used to
 * tell idle connections from busy ones). */
int http_conn_busy(const http_conn *c);

/* Non-zero while a request's line and headers are arriving (its headers are
 * not complete yet): the server does not extend the idle deadline then, so
 * headers dripped byte by byte cannot hold a connection open. */
int http_conn_in_headers(const http_conn *c);

/* Format the status line and headers of a response into out (appends):
 * Date (IMF-fixdate) when date_unix_s >= 0, Content-Type when given,
 * Content-Length when content_length >= 0, else Transfer-Encoding: chunked
 * when chunked, the extra header lines, and Connection: keep-alive or close.
 * 0 or LOOM_ENOMEM. Pure. */
int http_format_head(loom_buf *out, int http_minor, int status, long long date_unix_s,
                     const char *content_type, long long content_length, int chunked, int close,
                     const loom_buf *extra);

#endif
