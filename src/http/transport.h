/* SPDX-License-Identifier: Apache-2.0
 * The byte transport under one HTTP connection. The server's connection code
 * never touches socket bytes directly: bytes read from the socket go through
 * recv(), bytes the HTTP layer wants to send go through send(). The plain
 * transport (server.c) passes them through; a TLS transport (later, OpenSSL
 * with memory BIOs) decrypts in recv() and encrypts in send(), and may emit
 * handshake bytes from either. Everything runs on the connection's loop thread.
 */
#ifndef LOOM_HTTP_TRANSPORT_H
#define LOOM_HTTP_TRANSPORT_H

#include <stddef.h>

typedef struct http_transport http_transport;

/* Callbacks the connection gives the transport. `conn` is opaque to it. */
typedef struct http_transport_sink {
  void *conn;
  /* Application bytes for the HTTP parser. Returns 0, or a negative LOOM_E*
   * code when the connection is being torn down (stop delivering). */
  int (*deliver)(void *conn, const char *data, size_t len);
  /* Bytes to put on the wire (copied). 0 or a negative LOOM_E* code. */
  int (*wire_write)(void *conn, const char *data, size_t len);
} http_transport_sink;

typedef struct http_transport_ops {
  /* Bytes arrived from the socket. 0, or a negative LOOM_E* code to drop the
   * connection (e.g. a TLS alert). */
  int (*recv)(http_transport *t, const char *data, size_t len);
  /* The HTTP layer sends application bytes. 0 or a negative LOOM_E* code. */
  int (*send)(http_transport *t, const char *data, size_t len);
  /* Release the transport (the connection is closed). */
  void (*free)(http_transport *t);
} http_transport_ops;

/* Base struct; implementations embed it first. */
struct http_transport {
  const http_transport_ops *ops;
  http_transport_sink sink;
};

/* Creates a transport for a new accepted connection; set in the server
 * options (NULL = plain TCP). Returns 0 or a negative LOOM_E* code (the
 * connection is then closed). Runs on the connection's loop thread. */
typedef int (*http_transport_new_fn)(void *user, const http_transport_sink *sink,
                                     http_transport **out);

#endif
