/* SPDX-License-Identifier: Apache-2.0
 * What the web console needs beyond the resource API, each in one cheap
 * answer:
 *   GET /api/v1/console/info      any signed-in principal: version, where MQTT is
 *   GET /api/v1/console/overview  device.read: the plant at a glance
 * The overview reads counters kept as data arrives (engine per-database
 * counters, the device hub's per-device rate windows) and two statements on
 * the registry's read connection; it never scans telemetry. Its answer
 * (documented in docs/openapi.json and at rest_console_overview in api.h)
 * says whether its figures are the tenant's own or platform-wide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "mqtt/broker.h"

#define CONSOLE_LIST_MAX 10    /* busiest and silent devices listed */
#define CONSOLE_EVENTS_MAX 20  /* audit events listed */
#define CONSOLE_EVENTS_SCAN 500 /* newest audit records looked at for them */

void rest_console_info(api_call *c) {
  int port = c->api->mqtt ? mqtt_broker_port(c->api->mqtt) : 0;
  api_reply_json(c->req, 200,
                 json_pack("{s:s,s:{s:o,s:o}}", "version", LOOM_VERSION, "mqtt", "port",
                           port > 0 ? json_integer(port) : json_null(), "ws_path",
                           c->api->mqtt ? json_string("/mqtt") : json_null()));
}

/* The newest online/offline changes of the devices in scope, as events
 * {"time_ms","action":"device.online"|"device.offline","target":<name>,
 * "device_id"}, newest first, into out. 0 or a LOOM_E* code. */
static int state_events(api_call *c, const char *scope, json_t *out) {
  api_device_change ch[CONSOLE_EVENTS_MAX];
  meta_device_silent d[CONSOLE_EVENTS_MAX];
  size_t n = api_device_changes(c->api, scope, ch, CONSOLE_EVENTS_MAX);
  memset(d, 0, sizeof d);
  for (size_t i = 0; i < n; i++) memcpy(d[i].id, ch[i].device_id, sizeof d[i].id);
  int rc = n ? meta_device_names(c->api->meta, scope, d, n) : 0;
  for (size_t i = 0; !rc && i < n; i++) {
    if (!d[i].name[0]) continue; /* deleted since */
    json_t *e = json_pack("{s:I,s:s,s:s,s:s}", "time_ms", (json_int_t)ch[i].time_ms, "action",
                          ch[i].online ? "device.online" : "device.offline", "target", d[i].name,
                          "device_id", ch[i].device_id);
    if (!e || json_array_append_new(out, e)) rc = LOOM_ENOMEM;
  }
  return rc;
}

static int by_time_desc(const void *a, const void *b) {
  json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "time_ms"));
  json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "time_ms"));
  return x < y ? 1 : x > y ? -1 : 0;
}

/* audit and state events together, newest first, at most CONSOLE_EVENTS_MAX */
static json_t *merge_events(json_t *audit, json_t *state) {
  size_t na = json_array_size(audit), ns = json_array_size(state), n = 0;
  json_t **all = na + ns ? loom_calloc(na + ns, sizeof *all) : NULL;
  json_t *out = json_array();
  if ((na + ns && !all) || !out) {
    loom_free(all);
    json_decref(out);
    return NULL;
  }
  for (size_t i = 0; i < na; i++) all[n++] = json_array_get(audit, i);
  for (size_t i = 0; i < ns; i++) all[n++] = json_array_get(state, i);
  if (n > 1) qsort(all, n, sizeof *all, by_time_desc); /* not stable: ties are rare */
  for (size_t i = 0; i < n && i < CONSOLE_EVENTS_MAX; i++) json_array_append(out, all[i]);
  loom_free(all);
  return out;
}

/* The newest audit events visible to the caller (tenant: its own), newest
 * first; an empty array when the caller may not read the audit log (the
 * overview is for viewers too). NULL on failure. */
static json_t *recent_events(api_call *c, const char *tenant, bool *allowed) {
  json_t *out = json_array();
  *allowed = c->api->audit &&
             sec_policy_check(&c->who, SEC_PERM_AUDIT_READ, tenant, NULL) == 0;
  if (!out || !*allowed) return out;
  uint64_t last = sec_audit_last_seq(c->api->audit);
  uint64_t from = last > CONSOLE_EVENTS_SCAN ? last - CONSOLE_EVENTS_SCAN + 1 : 1;
  sec_audit_page page;
  int rc = last ? sec_audit_read(c->api->audit, from, CONSOLE_EVENTS_SCAN, tenant, &page)
                : (memset(&page, 0, sizeof page), 0);
  if (rc) {
    sec_audit_page_deinit(&page);
    json_decref(out);
    return NULL;
  }
  for (size_t i = page.n; i > 0 && json_array_size(out) < CONSOLE_EVENTS_MAX; i--) {
    const sec_audit_record *r = &page.records[i - 1];
    json_t *ev = json_loadb(r->payload, r->payload_len, 0, NULL);
    json_t *item = json_pack("{s:I,s:I}", "seq", (json_int_t)r->seq, "time_ms",
                             (json_int_t)r->time_ms);
    if (item && json_is_object(ev)) json_object_update(item, ev);
    json_decref(ev);
    if (!item || json_array_append_new(out, item)) {
      json_decref(out);
      out = NULL;
      break;
    }
  }
  if (last) sec_audit_page_deinit(&page);
  return out;
}

static json_t *device_list(const meta_device_silent *d, size_t n, const double *per_min) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++) {
    if (!d[i].name[0]) continue; /* gone from the registry since */
    json_t *o = json_pack("{s:s,s:s,s:I,s:b}", "id", d[i].id, "name", d[i].name,
                          "last_activity_ms", (json_int_t)d[i].last_activity_ms, "online",
                          d[i].online);
    if (o && per_min) json_object_set_new(o, "points_per_min", json_real(per_min[i]));
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

void rest_console_overview(api_call *c) {
  loom_api *api = c->api;
  const char *scope = c->scope;
  char db[sizeof c->db_name];
  snprintf(db, sizeof db, "%s", c->db_name);
  const char *want = http_req_param(c->req, "tenant");
  if (want && !*want) want = NULL;
  if (want && scope && strcmp(want, scope)) {
    api_error(c->req, 404, "no such tenant");
    return;
  }
  if (want && !scope) { /* a platform admin looks at one tenant */
    json_t *t = NULL;
    char err[256] = "";
    int rc = meta_get(api->meta, META_TENANT, NULL, want, &t, err, sizeof err);
    if (rc) {
      api_error_rc(c->req, rc, rc == LOOM_ENOTFOUND ? "no such tenant" : err);
      return;
    }
    const char *dbn = json_string_value(json_object_get(t, "db_name"));
    snprintf(db, sizeof db, "%s", dbn ? dbn : "");
    json_decref(t);
    scope = want;
  }
  if (scope && !strcmp(scope, API_SCOPE_NONE)) {
    api_error(c->req, 403, "the overview is for a tenant's users and platform admins");
    return;
  }
  int64_t t0 = loom_mono_ns();

  meta_device_counts counts;
  meta_device_silent silent[CONSOLE_LIST_MAX], busy[CONSOLE_LIST_MAX];
  size_t n_silent = 0;
  int rc = meta_device_overview(api->meta, scope, &counts, silent, CONSOLE_LIST_MAX, &n_silent);
  if (rc) {
    api_error_rc(c->req, rc, "cannot count the devices");
    return;
  }

  api_device_rate rates[CONSOLE_LIST_MAX];
  double per_min[CONSOLE_LIST_MAX];
  size_t n_busy = api_device_busiest(api, scope, rates, CONSOLE_LIST_MAX);
  memset(busy, 0, sizeof busy);
  for (size_t i = 0; i < n_busy; i++) {
    memcpy(busy[i].id, rates[i].device_id, sizeof busy[i].id);
    per_min[i] = rates[i].points_per_min;
  }
  if (n_busy && (rc = meta_device_names(api->meta, scope, busy, n_busy))) {
    api_error_rc(c->req, rc, "cannot name the devices");
    return;
  }

  /* ingest and storage: the tenant's own database, or the whole engine */
  ts_db_usage u;
  memset(&u, 0, sizeof u);
  const char *source = scope ? "database" : "platform";
  if (scope) {
    if (db[0] && ts_db_usage_get(api->engine, db, &u) == LOOM_ENOTFOUND)
      memset(&u, 0, sizeof u); /* no telemetry yet: the database is created on first write */
  } else {
    ts_db_usage_get(api->engine, NULL, &u);
  }

  bool events_allowed = false;
  json_t *audit = recent_events(c, scope, &events_allowed);
  json_t *state = json_array();
  json_t *events = NULL;
  if (audit && state && state_events(c, scope, state) == 0) events = merge_events(audit, state);
  json_decref(audit);
  json_decref(state);
  json_t *busiest = device_list(busy, n_busy, per_min);
  json_t *quiet = device_list(silent, n_silent, NULL);
  json_t *out = json_pack(
      "{s:s,s:o,s:{s:I,s:I,s:I,s:I},s:{s:s,s:f,s:f,s:I},s:{s:I,s:I},s:o,s:o,s:o,s:b,s:I}",
      "scope", scope ? "tenant" : "platform", "tenant_id", scope ? json_string(scope) : json_null(),
      "devices", "total", (json_int_t)counts.total, "online", (json_int_t)counts.online, "offline",
      (json_int_t)counts.offline, "never", (json_int_t)counts.never, "ingest", "source", source,
      "points_per_s_10s", u.points_per_s_10s, "points_per_s_1m", u.points_per_s_60s,
      "points_total", (json_int_t)u.points_total, "storage", "bytes", (json_int_t)u.segment_bytes,
      "series", (json_int_t)u.series, "busiest", busiest, "silent", quiet, "events", events,
      "events_allowed", events_allowed, "took_us", (json_int_t)((loom_mono_ns() - t0) / 1000));
  if (!out) {
    api_error(c->req, 500, "cannot build the overview");
    return;
  }
  api_reply_json(c->req, 200, out);
}
