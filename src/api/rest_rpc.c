/* SPDX-License-Identifier: Apache-2.0
 * Commands to devices: POST /api/v1/devices/{id}/rpc queues one
 * ({"method", "params", "oneway", "timeout_ms"}; two-way by default, 10 s),
 * persisted until the device takes it (device API) or it expires; the
 * answer (201) is the command with its id and status, which GET
 * /api/v1/rpc/{id} and GET /api/v1/devices/{id}/rpc (filter status) follow.
 * With ?wait=true a two-way command is answered (200) only once it is final
 * (successful with the device's response, failed, timeout, expired) or its
 * timeout (at most 5 min) has passed (504 with the command as it stands), as
 * ThingsBoard's two-way RPC does; a waiter thread holds those requests, not
 * a worker.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"

#include "api/api.h"
#include "core/err.h"
#include "core/timeutil.h"

#define RPC_DEFAULT_TIMEOUT_MS 10000
#define RPC_WAIT_POLL_MS 100
#define RPC_WAITERS_MAX 1000
#define RPC_WAIT_MAX_MS 300000 /* a request waits at most 5 min */

typedef struct rpc_waiter {
  struct rpc_waiter *next;
  http_req *req;
  char scope[META_ID_LEN + 1]; /* "" = platform */
  char id[META_ID_LEN + 1];
  int64_t deadline_ms; /* monotonic */
} rpc_waiter;

struct api_rpc_waits {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
  bool stop;
  rpc_waiter *head; /* under lock */
  size_t n;
};

static int64_t mono_ms(void) { return loom_mono_ns() / 1000000; }

static bool final_status(const char *s) {
  return s && (!strcmp(s, "successful") || !strcmp(s, "failed") || !strcmp(s, "timeout") ||
               !strcmp(s, "expired"));
}

/* Check one waiter: true when it was answered (and may be freed). */
static bool check(loom_api *api, rpc_waiter *w, int64_t now) {
  json_t *cmd = NULL;
  int rc = meta_get(api->meta, META_RPC, w->scope[0] ? w->scope : NULL, w->id, &cmd, NULL, 0);
  if (rc) {
    api_error_rc(w->req, rc, "the command is gone");
    return true;
  }
  if (final_status(json_string_value(json_object_get(cmd, "status")))) {
    api_reply_json(w->req, 200, cmd);
    return true;
  }
  if (now >= w->deadline_ms) {
    api_reply_json(w->req, 504, cmd);
    return true;
  }
  json_decref(cmd);
  return false;
}

static void *waiter_main(void *arg) {
  loom_api *api = arg;
  pthread_setname_np(pthread_self(), "rpc-timeouts"); /* top -H, perf, gdb */
  struct api_rpc_waits *ws = api->rpc_waits;
  pthread_mutex_lock(&ws->lock);
  while (!ws->stop) {
    /* take the list, check it unlocked (meta blocks), put back what waits on */
    rpc_waiter *list = ws->head;
    ws->head = NULL;
    pthread_mutex_unlock(&ws->lock);
    rpc_waiter *keep = NULL;
    size_t answered = 0;
    int64_t now = mono_ms();
    while (list) {
      rpc_waiter *w = list;
      list = w->next;
      if (check(api, w, now)) {
        loom_free(w);
        answered++;
      } else {
        w->next = keep;
        keep = w;
      }
    }
    pthread_mutex_lock(&ws->lock);
    while (keep) {
      rpc_waiter *w = keep;
      keep = w->next;
      w->next = ws->head;
      ws->head = w;
    }
    ws->n -= answered;
    if (ws->stop) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += RPC_WAIT_POLL_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&ws->cond, &ws->lock, &ts);
  }
  pthread_mutex_unlock(&ws->lock);
  return NULL;
}

int api_rpc_wait_start(loom_api *api) {
  struct api_rpc_waits *ws = loom_calloc(1, sizeof *ws);
  if (!ws) return LOOM_ENOMEM;
  pthread_mutex_init(&ws->lock, NULL);
  pthread_cond_init(&ws->cond, NULL);
  api->rpc_waits = ws;
  if (pthread_create(&ws->thread, NULL, waiter_main, api)) {
    pthread_cond_destroy(&ws->cond);
    pthread_mutex_destroy(&ws->lock);
    loom_free(ws);
    api->rpc_waits = NULL;
    return LOOM_EIO;
  }
  return 0;
}

void api_rpc_wait_stop(loom_api *api) {
  struct api_rpc_waits *ws = api->rpc_waits;
  if (!ws) return;
  pthread_mutex_lock(&ws->lock);
  ws->stop = true;
  pthread_cond_signal(&ws->cond);
  pthread_mutex_unlock(&ws->lock);
  pthread_join(ws->thread, NULL);
  while (ws->head) {
    rpc_waiter *w = ws->head;
    ws->head = w->next;
    api_error(w->req, 503, "the server is stopping; follow the command with GET /api/v1/rpc/{id}");
    loom_free(w);
  }
  pthread_cond_destroy(&ws->cond);
  pthread_mutex_destroy(&ws->lock);
  loom_free(ws);
  api->rpc_waits = NULL;
}

/* Hand the request to the waiter. 0, or an error (the caller answers). */
static int wait_for(api_call *c, const char *id, int64_t timeout_ms) {
  struct api_rpc_waits *ws = c->api->rpc_waits;
  if (!ws) return LOOM_EUNSUP;
  rpc_waiter *w = loom_calloc(1, sizeof *w);
  if (!w) return LOOM_ENOMEM;
  w->req = c->req;
  snprintf(w->scope, sizeof w->scope, "%s", c->scope ? c->scope : "");
  snprintf(w->id, sizeof w->id, "%s", id);
  w->deadline_ms = mono_ms() + timeout_ms;
  pthread_mutex_lock(&ws->lock);
  int rc = ws->stop ? LOOM_ECLOSED : ws->n >= RPC_WAITERS_MAX ? LOOM_EAGAIN : 0;
  if (!rc) {
    w->next = ws->head;
    ws->head = w;
    ws->n++;
  }
  pthread_mutex_unlock(&ws->lock);
  if (rc) loom_free(w);
  return rc;
}

void rest_rpc_send(api_call *c) {
  json_t *in, *cmd = NULL, *dev = NULL;
  char err[256] = "";
  if (api_body_object(c, &in)) return;
  const char *id = api_param(c, "id");
  const char *method = json_string_value(json_object_get(in, "method"));
  json_t *oneway = json_object_get(in, "oneway");
  json_t *timeout = json_object_get(in, "timeout_ms");
  if (!method || !*method) {
    api_error(c->req, 400, "method: required, a non-empty string");
    goto out;
  }
  if ((oneway && !json_is_boolean(oneway)) || (timeout && !json_is_integer(timeout))) {
    api_error(c->req, 400, "oneway must be a boolean and timeout_ms an integer");
    goto out;
  }
  int rc = meta_get(c->api->meta, META_DEVICE, c->scope, id, &dev, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    goto out;
  }
  const char *tenant = json_string_value(json_object_get(dev, "tenant_id"));
  if (api_audit(c, tenant, "rpc.send", id, "success", method)) {
    api_error(c->req, 500, "the audit log could not be written; nothing was sent");
    goto out;
  }
  rc = meta_rpc_create(c->api->meta, c->scope, id, method, json_object_get(in, "params"),
                       json_is_true(oneway), timeout ? json_integer_value(timeout)
                                                     : RPC_DEFAULT_TIMEOUT_MS,
                       loom_now_ns() / 1000000, &cmd, err, sizeof err);
  if (rc) {
    api_audit(c, tenant, "rpc.send", id, "failure", err);
    api_error_rc(c->req, rc, err);
    goto out;
  }
  api_device_rpc_notify(c->api, id); /* wake the device's long poll */
  api_live_publish(c->api, LIVE_RPC, tenant, id,
                   json_pack("{s:s?,s:s?}", "rpc_id", json_string_value(json_object_get(cmd, "id")),
                             "status", json_string_value(json_object_get(cmd, "status"))));
  const char *wait = http_req_param(c->req, "wait");
  if (wait && !strcmp(wait, "true") && !json_is_true(oneway)) {
    int64_t t = timeout ? json_integer_value(timeout) : RPC_DEFAULT_TIMEOUT_MS;
    if (t > RPC_WAIT_MAX_MS) t = RPC_WAIT_MAX_MS; /* longer commands: follow them by id */
    rc = wait_for(c, json_string_value(json_object_get(cmd, "id")), t);
    if (!rc) { /* the waiter answers */
      json_decref(cmd);
      goto out;
    }
  }
  api_reply_json(c->req, 201, cmd);
out:
  json_decref(dev);
  json_decref(in);
}

void rest_rpc_list(api_call *c) {
  json_t *dev = NULL, *page = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_DEVICE, c->scope, api_param(c, "id"), &dev, err, sizeof err);
  json_decref(dev);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return;
  }
  meta_query q;
  meta_filter filters[API_FILTERS_MAX + 1];
  if ((rc = api_list_query(c, META_RPC, &q, filters, err, sizeof err))) {
    api_error_rc(c->req, rc, err);
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < q.n_filters; i++)
    if (strcmp(filters[i].field, "device_id")) filters[k++] = filters[i];
  filters[k].field = "device_id";
  filters[k].value = api_param(c, "id");
  q.n_filters = k + 1;
  rc = meta_list(c->api->meta, META_RPC, c->scope, &q, &page, err, sizeof err);
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, page);
}

void rest_rpc_get(api_call *c) {
  c->arg = META_RPC;
  rest_get(c);
}
