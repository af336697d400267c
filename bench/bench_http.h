/* SPDX-License-Identifier: Apache-2.0
 * Minimal blocking HTTP/1.1 client for the benchmark tools (lp_load, q_run):
 * plain TCP sockets, keep-alive, Content-Length or chunked responses. Header-
 * only (static functions) because every bench program is its own binary. Loopback
 * use only: no TLS, no redirects, no proxy.
 */
#ifndef LOOM_BENCH_HTTP_H
#define LOOM_BENCH_HTTP_H

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"

typedef struct bh_url {
  char host[256];
  char port[8];
  char path[2048]; /* path and query, starts with '/' */
} bh_url;

/* Parse "http://host[:port][/path?query]". 0 or LOOM_EINVAL. */
static inline int bh_url_parse(const char *s, bh_url *u) {
  if (strncmp(s, "http://", 7) != 0) return LOOM_EINVAL;
  s += 7;
  const char *slash = strchr(s, '/');
  size_t hp = slash ? (size_t)(slash - s) : strlen(s);
  const char *colon = memchr(s, ':', hp);
  size_t hl = colon ? (size_t)(colon - s) : hp;
  if (hl == 0 || hl >= sizeof u->host) return LOOM_EINVAL;
  memcpy(u->host, s, hl);
  u->host[hl] = 0;
  if (colon) {
    size_t pl = hp - hl - 1;
    if (pl == 0 || pl >= sizeof u->port) return LOOM_EINVAL;
    memcpy(u->port, colon + 1, pl);
    u->port[pl] = 0;
  } else {
    strcpy(u->port, "80");
  }
  const char *path = slash ? slash : "/";
  if (strlen(path) >= sizeof u->path) return LOOM_EINVAL;
  strcpy(u->path, path);
  return 0;
}

typedef struct bh_conn {
  int fd;          /* -1 when not connected */
  char host[256];
  char port[8];
  char *rbuf;      /* owned read buffer */
  size_t rlen, rcap;
} bh_conn;

static inline void bh_conn_init(bh_conn *c, const bh_url *u) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  strcpy(c->host, u->host);
  strcpy(c->port, u->port);
}

static inline void bh_conn_close(bh_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->rlen = 0;
}

static inline void bh_conn_deinit(bh_conn *c) {
  bh_conn_close(c);
  loom_free(c->rbuf);
  c->rbuf = NULL;
  c->rcap = 0;
}

static inline int bh_connect(bh_conn *c) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(c->host, c->port, &hints, &res) != 0 || !res) return LOOM_EIO;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return LOOM_EIO;
  }
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->rlen = 0;
  return 0;
}

static inline int bh_writev_all(int fd, struct iovec *iov, int n) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return LOOM_EIO;
    }
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* Make sure at least `need` bytes are buffered. 0, LOOM_EIO or LOOM_ENOMEM. */
static inline int bh_fill(bh_conn *c, size_t need) {
  while (c->rlen < need) {
    if (c->rcap - c->rlen < 65536) {
      size_t ncap = c->rcap ? c->rcap * 2 : 131072;
      while (ncap - c->rlen < 65536) ncap *= 2;
      char *nb = loom_realloc(c->rbuf, ncap);
      if (!nb) return LOOM_ENOMEM;
      c->rbuf = nb;
      c->rcap = ncap;
    }
    ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return LOOM_EIO;
    c->rlen += (size_t)r;
  }
  return 0;
}

/* Index just past the first "\r\n" at or after `from`, reading more as needed;
 * 0 on error. */
static inline size_t bh_line_end(bh_conn *c, size_t from) {
  size_t i = from;
  for (;;) {
    for (; i + 1 < c->rlen; i++)
      if (c->rbuf[i] == '\r' && c->rbuf[i + 1] == '\n') return i + 2;
    if (bh_fill(c, c->rlen + 1) != 0) return 0;
  }
}

static inline void bh_consume(bh_conn *c, size_t n) {
  memmove(c->rbuf, c->rbuf + n, c->rlen - n);
  c->rlen -= n;
}

static inline int bh_read_response(bh_conn *c, int head_only, int *status, loom_buf *body,
                                   int *keep_alive) {
  size_t end = bh_line_end(c, 0);
  if (!end || end < 12 || strncmp(c->rbuf, "HTTP/1.", 7) != 0) return LOOM_EIO;
  *status = atoi(c->rbuf + 9);
  *keep_alive = c->rbuf[7] == '1';
  long long clen = -1;
  int chunked = 0;
  size_t pos = end;
  for (;;) {
    size_t e = bh_line_end(c, pos);
    if (!e) return LOOM_EIO;
    if (e - pos == 2) {
      pos = e;
      break;
    }
    char *h = c->rbuf + pos;
    size_t hl = e - pos - 2;
    if (hl > 15 && !strncasecmp(h, "content-length:", 15)) clen = atoll(h + 15);
    if (hl > 18 && !strncasecmp(h, "transfer-encoding:", 18) && memmem(h, hl, "chunked", 7))
      chunked = 1;
    if (hl > 11 && !strncasecmp(h, "connection:", 11) && memmem(h, hl, "close", 5))
      *keep_alive = 0;
    pos = e;
  }
  bh_consume(c, pos);
  if (body) loom_buf_reset(body);
  if (head_only || *status == 204 || *status == 304) return 0;
  if (chunked) {
    for (;;) {
      size_t e = bh_line_end(c, 0);
      if (!e) return LOOM_EIO;
      unsigned long long n = strtoull(c->rbuf, NULL, 16);
      bh_consume(c, e);
      if (n == 0) {
        /* trailers until an empty line */
        for (;;) {
          size_t t = bh_line_end(c, 0);
          if (!t) return LOOM_EIO;
          bh_consume(c, t);
          if (t == 2) return 0;
        }
      }
      if (bh_fill(c, (size_t)n + 2) != 0) return LOOM_EIO;
      if (body && loom_buf_append(body, c->rbuf, (size_t)n) != 0) return LOOM_ENOMEM;
      bh_consume(c, (size_t)n + 2);
    }
  }
  if (clen < 0) {
    /* body until close */
    for (;;) {
      int rc = bh_fill(c, c->rlen + 1);
      if (rc == LOOM_ENOMEM) return rc;
      if (rc != 0) break;
    }
    if (body && loom_buf_append(body, c->rbuf, c->rlen) != 0) return LOOM_ENOMEM;
    c->rlen = 0;
    *keep_alive = 0;
    return 0;
  }
  if (bh_fill(c, (size_t)clen) != 0) return LOOM_EIO;
  if (body && loom_buf_append(body, c->rbuf, (size_t)clen) != 0) return LOOM_ENOMEM;
  bh_consume(c, (size_t)clen);
  return 0;
}

/* One request on the keep-alive connection (connecting or reconnecting once
 * if the server had closed it). extra_headers: complete "K: V\r\n" lines or
 * "". The response body is left in *body (may be NULL). 0, LOOM_EIO or
 * LOOM_ENOMEM. */
static inline int bh_request(bh_conn *c, const char *method, const char *target,
                             const char *extra_headers, const void *req_body, size_t body_len,
                             int *status, loom_buf *body) {
  char head[4096];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: loom-bench\r\n"
                    "Content-Length: %zu\r\n%s%s\r\n",
                    method, target, c->host, c->port, body_len,
                    req_body ? "Content-Type: text/plain; charset=utf-8\r\n" : "", extra_headers);
  if (hn < 0 || (size_t)hn >= sizeof head) return LOOM_EINVAL;
  for (int attempt = 0; attempt < 2; attempt++) {
    int fresh = 0;
    if (c->fd < 0) {
      if (bh_connect(c) != 0) return LOOM_EIO;
      fresh = 1;
    }
    struct iovec iov[2] = {{head, (size_t)hn}, {(void *)req_body, body_len}};
    int keep = 1;
    int rc = bh_writev_all(c->fd, iov, req_body ? 2 : 1);
    if (rc == 0) rc = bh_read_response(c, !strcmp(method, "HEAD"), status, body, &keep);
    if (rc == 0) {
      if (!keep) bh_conn_close(c);
      return 0;
    }
    bh_conn_close(c);
    if (rc == LOOM_ENOMEM || fresh) return rc;
  }
  return LOOM_EIO;
}

/* Append s percent-encoded for a query component (RFC 3986 unreserved kept). */
static inline int bh_urlencode(loom_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      if (loom_buf_append_u8(b, ch) != 0) return LOOM_ENOMEM;
    } else {
      char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
      if (loom_buf_append(b, e, 3) != 0) return LOOM_ENOMEM;
    }
  }
  return 0;
}

#endif
