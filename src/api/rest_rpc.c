/* SPDX-License-Identifier: Apache-2.0
 * Commands to devices: POST /api/v1/devices/{id}/rpc queues one
 * ({"method", "params", "oneway", "timeout_ms"}; two-way by default, 10 s),
 * persisted until the device takes it (device API) or it expires; the
 * answer is the command with its id and status, which GET /api/v1/rpc/{id}
 * and GET /api/v1/devices/{id}/rpc (filter status) follow.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/timeutil.h"

#define RPC_DEFAULT_TIMEOUT_MS 10000

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
