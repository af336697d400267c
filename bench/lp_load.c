/* SPDX-License-Identifier: Apache-2.0
 * lp_load: line-protocol bulk loader in the manner of TSBS's tsbs_load_influx.
 * Reads the whole file into memory, pre-splits it into batches of B lines, then
 * W worker threads POST the batches over HTTP/1.1 keep-alive connections. Every
 * response must be 2xx (else the body is printed and the exit status is 1).
 * Prints one JSON line: points (field values), lines, seconds, rates and the
 * client's own user+sys CPU seconds during the send phase (getrusage).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench_http.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"

typedef struct batch {
  size_t off, len; /* bytes in the file image */
} batch;

typedef struct load_ctx {
  const char *data;
  const batch *batches;
  size_t n_batches;
  bh_url url;
  const char *headers; /* extra header lines, "K: V\r\n"... */
  atomic_size_t next;
  atomic_int failed;
  pthread_mutex_t print_mu;
} load_ctx;

typedef struct worker {
  load_ctx *ctx;
  pthread_t tid;
} worker;

/* Field count of one line-protocol line (0 for blank/comment lines). Handles
 * backslash escapes in the key part and quoted string field values. */
static uint64_t lp_count_fields(const char *p, const char *end) {
  if (p == end || *p == '#') return 0;
  while (p < end && *p != ' ') {
    if (*p == '\\') p++;
    p++;
  }
  if (p >= end) return 0;
  p++;
  uint64_t n = 1;
  int inq = 0;
  for (; p < end; p++) {
    char ch = *p;
    if (ch == '\\') {
      p++;
      continue;
    }
    if (ch == '"') inq = !inq;
    else if (!inq && ch == ',') n++;
    else if (!inq && ch == ' ') break;
  }
  return n;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  load_ctx *ctx = w->ctx;
  bh_conn c;
  bh_conn_init(&c, &ctx->url);
  loom_buf body;
  loom_buf_init(&body);
  for (;;) {
    if (atomic_load(&ctx->failed)) break;
    size_t i = atomic_fetch_add(&ctx->next, 1);
    if (i >= ctx->n_batches) break;
    const batch *b = &ctx->batches[i];
    int status = 0;
    int rc = bh_request(&c, "POST", ctx->url.path, ctx->headers, ctx->data + b->off, b->len,
                        &status, &body);
    if (rc != 0 || status < 200 || status > 299) {
      pthread_mutex_lock(&ctx->print_mu);
      if (!atomic_exchange(&ctx->failed, 1)) {
        if (rc != 0)
          fprintf(stderr, "lp_load: batch %zu: %s\n", i, loom_strerror(rc));
        else
          fprintf(stderr, "lp_load: batch %zu: HTTP %d: %.*s\n", i, status, (int)body.len,
                  body.data ? (const char *)body.data : "");
      }
      pthread_mutex_unlock(&ctx->print_mu);
      break;
    }
  }
  loom_buf_deinit(&body);
  bh_conn_deinit(&c);
  return NULL;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void usage(void) {
  fprintf(stderr,
          "usage: lp_load --file FILE --url http://127.0.0.1:PORT/write?db=bench\n"
          "               [--batch 10000] [--workers 2] [--header 'K: V']...\n");
}

int main(int argc, char **argv) {
  const char *file = NULL, *url = NULL;
  long batch_lines = 10000, workers = 2;
  loom_buf hdrs;
  loom_buf_init(&hdrs);
  int rc = 1;
  char *data = NULL;
  batch *batches = NULL;
  worker *ws = NULL;
  FILE *f = NULL;
  load_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  pthread_mutex_init(&ctx.print_mu, NULL);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto bad_usage;
    if (!strcmp(a, "--file")) file = v;
    else if (!strcmp(a, "--url")) url = v;
    else if (!strcmp(a, "--batch")) batch_lines = strtol(v, NULL, 10);
    else if (!strcmp(a, "--workers")) workers = strtol(v, NULL, 10);
    else if (!strcmp(a, "--header")) {
      if (loom_buf_printf(&hdrs, "%s\r\n", v) != 0) goto done;
    } else
      goto bad_usage;
    i++;
  }
  if (!file || !url || batch_lines <= 0 || workers <= 0 || workers > 1024 ||
      bh_url_parse(url, &ctx.url) != 0)
    goto bad_usage;
  if (loom_buf_cstr(&hdrs) != 0) goto done;
  ctx.headers = hdrs.data ? (const char *)hdrs.data : "";

  /* read the whole file first so disk I/O is not measured */
  f = fopen(file, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0) {
    fprintf(stderr, "lp_load: cannot open %s\n", file);
    goto done;
  }
  size_t size = (size_t)st.st_size;
  data = loom_malloc(size + 1);
  if (!data || fread(data, 1, size, f) != size) {
    fprintf(stderr, "lp_load: cannot read %s\n", file);
    goto done;
  }
  /* pre-split into batches, counting lines and field values */
  uint64_t lines = 0, points = 0;
  size_t cap = 1024, n = 0, bstart = 0;
  long in_batch = 0;
  batches = loom_malloc(cap * sizeof *batches);
  if (!batches) goto done;
  const char *p = data, *end = data + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    uint64_t nf = lp_count_fields(p, le);
    if (nf) {
      lines++;
      points += nf;
      in_batch++;
    }
    p = nl ? nl + 1 : end;
    if (in_batch == batch_lines || (p == end && in_batch > 0)) {
      if (n == cap) {
        cap *= 2;
        batch *nb = loom_realloc(batches, cap * sizeof *nb);
        if (!nb) goto done;
        batches = nb;
      }
      batches[n++] = (batch){bstart, (size_t)(p - data) - bstart};
      bstart = (size_t)(p - data);
      in_batch = 0;
    }
  }
  ctx.data = data;
  ctx.batches = batches;
  ctx.n_batches = n;
  atomic_init(&ctx.next, 0);
  atomic_init(&ctx.failed, 0);

  ws = loom_calloc((size_t)workers, sizeof *ws);
  if (!ws) goto done;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  int64_t t0 = loom_mono_ns();
  long started = 0;
  for (; started < workers; started++) {
    ws[started].ctx = &ctx;
    if (pthread_create(&ws[started].tid, NULL, worker_main, &ws[started]) != 0) {
      atomic_store(&ctx.failed, 1);
      break;
    }
  }
  for (long i = 0; i < started; i++) pthread_join(ws[i].tid, NULL);
  int64_t t1 = loom_mono_ns();
  getrusage(RUSAGE_SELF, &ru1);
  if (atomic_load(&ctx.failed)) goto done;
  double secs = (double)(t1 - t0) / 1e9;
  double cu = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
  double cs = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
  printf("{\"points\":%llu,\"lines\":%llu,\"batches\":%zu,\"workers\":%ld,\"batch_lines\":%ld,"
         "\"seconds\":%.3f,\"points_per_sec\":%.0f,\"lines_per_sec\":%.0f,"
         "\"client_cpu_user_s\":%.3f,\"client_cpu_sys_s\":%.3f,\"client_cpu_s\":%.3f}\n",
         (unsigned long long)points, (unsigned long long)lines, n, workers, batch_lines, secs,
         secs > 0 ? (double)points / secs : 0.0, secs > 0 ? (double)lines / secs : 0.0, cu, cs,
         cu + cs);
  rc = 0;
  goto done;
bad_usage:
  usage();
  rc = 2;
done:
  if (f) fclose(f);
  loom_free(ws);
  loom_free(batches);
  loom_free(data);
  loom_buf_deinit(&hdrs);
  pthread_mutex_destroy(&ctx.print_mu);
  return rc;
}
