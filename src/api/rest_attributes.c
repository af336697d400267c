/* SPDX-License-Identifier: Apache-2.0
 * /api/v1/devices/{id}/attributes: read all three scopes (client, server,
 * shared; ?scope=a,b narrows, ?keys=a,b selects keys); write and delete the
 * server and shared scopes. Client attributes belong to the device (it
 * writes them through the device API) and are read-only here.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/timeutil.h"

#define KEYS_MAX 64

/* Split a comma list in buf (modified) into keys. Returns the count. */
static size_t split_keys(char *buf, const char **keys, size_t cap) {
  size_t n = 0;
  for (char *save = NULL, *k = strtok_r(buf, ",", &save); k && n < cap;
       k = strtok_r(NULL, ",", &save))
    if (*k) keys[n++] = k;
  return n;
}

void rest_attr_get(api_call *c) {
  unsigned mask = 0;
  const char *sc = http_req_param(c->req, "scope");
  char buf[1024], kbuf[4096], err[256] = "";
  if (sc && *sc) {
    snprintf(buf, sizeof buf, "%s", sc);
    const char *parts[4];
    size_t n = split_keys(buf, parts, 4);
    for (size_t i = 0; i < n; i++) {
      unsigned bit;
      if (meta_attr_scope_parse(parts[i], &bit)) {
        api_error(c->req, 400, "scope: must be client, server or shared (comma-separated)");
        return;
      }
      mask |= bit;
    }
  }
  if (!mask) mask = META_ATTR_ALL;
  const char *keys_p = http_req_param(c->req, "keys");
  json_t *out = NULL;
  int rc;
  if (keys_p && *keys_p) {
    const char *keys[KEYS_MAX];
    snprintf(kbuf, sizeof kbuf, "%s", keys_p);
    size_t n = split_keys(kbuf, keys, KEYS_MAX);
    rc = meta_attr_get(c->api->meta, c->scope, api_param(c, "id"), mask, keys, n, &out, err,
                       sizeof err);
  } else {
    rc = meta_attr_list(c->api->meta, c->scope, api_param(c, "id"), mask, &out, err, sizeof err);
  }
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, out);
}

/* The writable scope in the path: server or shared. 0 or answered. */
static int writable_scope(api_call *c, unsigned *bit) {
  if (meta_attr_scope_parse(api_param(c, "scope"), bit)) {
    api_error(c->req, 404, "attribute scope must be server or shared");
    return LOOM_ENOTFOUND;
  }
  if (*bit == META_ATTR_CLIENT) {
    api_error(c->req, 400, "client attributes are written by the device itself");
    return LOOM_EINVAL;
  }
  return 0;
}

/* The device's tenant for the audit record (404 when not visible). */
static int device_tenant(api_call *c, char *out, size_t cap) {
  json_t *d = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_DEVICE, c->scope, api_param(c, "id"), &d, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return rc;
  }
  snprintf(out, cap, "%s", json_string_value(json_object_get(d, "tenant_id")));
  json_decref(d);
  return 0;
}

void rest_attr_set(api_call *c) {
  unsigned bit;
  json_t *in;
  char tenant[64], err[256] = "", keys[512] = "";
  if (writable_scope(c, &bit) || device_tenant(c, tenant, sizeof tenant)) return;
  if (api_body_object(c, &in)) return;
  size_t kl = 0;
  const char *k;
  json_t *v;
  json_object_foreach(in, k, v) {
    int w = snprintf(keys + kl, sizeof keys - kl, "%s%s", kl ? "," : "", k);
    if (w < 0 || (size_t)w >= sizeof keys - kl) break;
    kl += (size_t)w;
  }
  char action[48];
  snprintf(action, sizeof action, "attributes.%s.set", api_param(c, "scope"));
  if (api_audit(c, tenant, action, api_param(c, "id"), "success", keys)) {
    json_decref(in);
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    return;
  }
  int rc = meta_attr_set(c->api->meta, c->scope, api_param(c, "id"), bit, in,
                         loom_now_ns() / 1000000, err, sizeof err);
  json_decref(in);
  if (rc) {
    api_audit(c, tenant, action, api_param(c, "id"), "failure", err);
    api_error_rc(c->req, rc, err);
    return;
  }
  http_respond(c->req, 204, NULL, NULL, 0);
}

void rest_attr_delete(api_call *c) {
  unsigned bit;
  char tenant[64], err[256] = "", kbuf[4096];
  if (writable_scope(c, &bit) || device_tenant(c, tenant, sizeof tenant)) return;
  const char *kp = http_req_param(c->req, "keys");
  const char *keys[KEYS_MAX];
  snprintf(kbuf, sizeof kbuf, "%s", kp ? kp : "");
  size_t n = split_keys(kbuf, keys, KEYS_MAX);
  if (!n) {
    api_error(c->req, 400, "keys: name the keys to delete (keys=a,b)");
    return;
  }
  char action[48];
  snprintf(action, sizeof action, "attributes.%s.delete", api_param(c, "scope"));
  if (api_audit(c, tenant, action, api_param(c, "id"), "success", kp)) {
    api_error(c->req, 500, "the audit log could not be written; nothing was changed");
    return;
  }
  int rc = meta_attr_delete(c->api->meta, c->scope, api_param(c, "id"), bit, keys, n, NULL, err,
                            sizeof err);
  if (rc) {
    api_audit(c, tenant, action, api_param(c, "id"), "failure", err);
    api_error_rc(c->req, rc, err);
    return;
  }
  http_respond(c->req, 204, NULL, NULL, 0);
}
