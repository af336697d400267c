/* SPDX-License-Identifier: Apache-2.0
 * POST /write (InfluxDB 1.x: db, rp, precision n|u|ms|s|m|h) and POST
 * /api/v2/write (2.x: bucket, org, precision ns|us|ms|s). The answer (204,
 * or 400 naming the bad lines) is sent only when the points are durable as
 * the durability mode requires; a storage failure is never acknowledged.
 *
 * Device linking: points that carry the tag device=<name> of a registered
 * device of the tenant owning the database count as that device's activity
 * (online, last_activity_ms, through the device hub's batch). The loop
 * thread only scans the series keys (after a memmem for "device=" over the
 * body) and collects the distinct names (at most LINK_NAMES_MAX per request:
 * further devices of that request are not linked); once the write is durable they are
 * resolved through a process-wide cache (db + name -> device, positive and
 * negative entries, LINK_TTL_MS), and the misses of one request go to a
 * worker in one job (meta_tenant_by_db + meta_device_by_name per name).
 * No registry call per point, none on a loop thread. Unknown names stay
 * plain tags. The field values of each linked device's lines are counted
 * too (api_device_note_points: the console's busiest devices).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "ingest/ingest.h"

#define LINK_TTL_MS 5000      /* a cached name -> device answer is used this long */
#define LINK_CACHE_MAX 4096   /* cached names at most (emptied when full) */
#define LINK_NAMES_MAX 64     /* distinct device names linked per request */
#define LINK_NAME_MAX 255     /* longest device name, bytes */
#define LINK_KEY_MAX 400      /* "<db>\x1f<name>" */

/* The device tag values of one request: NUL-terminated names back to back. */
typedef struct link_names {
  loom_api *api;
  char db[65];
  loom_buf names;
  size_t n;
  uint32_t values[LINK_NAMES_MAX]; /* field values of each name's lines */
} link_names;

typedef struct link_entry {
  char key[LINK_KEY_MAX];
  char device_id[META_ID_LEN + 1];
  char tenant_id[META_ID_LEN + 1];
  bool found;
  int64_t fetched_ms; /* monotonic */
} link_entry;

/* The look-up cache, one per loom_api (api->links). Entries are allocated
 * one by one (the map's keys point into them). */
struct api_links {
  pthread_mutex_t lock;
  strmap map;
  link_entry **e;
  size_t n;
};

int api_links_new(api_links **out) {
  api_links *l = loom_calloc(1, sizeof *l);
  if (!l) return LOOM_ENOMEM;
  pthread_mutex_init(&l->lock, NULL);
  *out = l;
  return 0;
}

static void links_clear(api_links *l) {
  for (size_t i = 0; i < l->n; i++) loom_free(l->e[i]);
  l->n = 0;
  strmap_deinit(&l->map);
}

void api_links_free(api_links *l) {
  if (!l) return;
  links_clear(l);
  loom_free(l->e);
  pthread_mutex_destroy(&l->lock);
  loom_free(l);
}

typedef struct write_ctx {
  http_req *req;
  ingest_result res;
  link_names *link; /* NULL: no device tag in the body */
} write_ctx;

static int64_t link_mono_ms(void) { return loom_mono_ns() / LOOM_NS_PER_MS; }

static void link_free(link_names *l) {
  if (!l) return;
  loom_buf_deinit(&l->names);
  loom_free(l);
}

static size_t link_key(char *out, const char *db, const char *name) {
  int n = snprintf(out, LINK_KEY_MAX, "%s\x1f%s", db, name);
  return n < 0 || n >= LINK_KEY_MAX ? 0 : (size_t)n;
}

/* Cached answer for name: 1 (found: ids copied), 0 (known unregistered),
 * -1 (unknown or stale). */
static int link_cache_get(const loom_api *api, const char *db, const char *name, char *device_id,
                          char *tenant_id) {
  api_links *links = api->links;
  char key[LINK_KEY_MAX];
  size_t len = link_key(key, db, name);
  if (!len) return 0;
  uint64_t h = strmap_hash(key, len);
  int64_t now = link_mono_ms();
  int out = -1;
  uint32_t idx;
  pthread_mutex_lock(&links->lock);
  if (strmap_get(&links->map, key, len, h, &idx) == 0 &&
      now - links->e[idx]->fetched_ms < LINK_TTL_MS) {
    link_entry *e = links->e[idx];
    out = e->found;
    if (e->found) {
      memcpy(device_id, e->device_id, sizeof e->device_id);
      memcpy(tenant_id, e->tenant_id, sizeof e->tenant_id);
    }
  }
  pthread_mutex_unlock(&links->lock);
  return out;
}

static void link_cache_put(const loom_api *api, const char *db, const char *name,
                           const meta_device_ref *d) {
  api_links *links = api->links;
  char key[LINK_KEY_MAX];
  size_t len = link_key(key, db, name);
  if (!len) return;
  uint64_t h = strmap_hash(key, len);
  uint32_t idx;
  pthread_mutex_lock(&links->lock);
  link_entry *e = NULL;
  if (strmap_get(&links->map, key, len, h, &idx) == 0) {
    e = links->e[idx];
  } else {
    if (links->n == LINK_CACHE_MAX) links_clear(links); /* full: start over */
    if (!links->e) links->e = loom_calloc(LINK_CACHE_MAX, sizeof *links->e);
    if (links->e && (e = loom_calloc(1, sizeof *e))) {
      memcpy(e->key, key, len + 1);
      if (strmap_put(&links->map, e->key, len, h, (uint32_t)links->n)) {
        loom_free(e);
        e = NULL;
      } else {
        links->e[links->n++] = e;
      }
    }
  }
  if (e) {
    e->found = d != NULL;
    snprintf(e->device_id, sizeof e->device_id, "%s", d ? d->id : "");
    snprintf(e->tenant_id, sizeof e->tenant_id, "%s", d ? d->tenant_id : "");
    e->fetched_ms = link_mono_ms();
  }
  pthread_mutex_unlock(&links->lock);
}

/* Worker: resolve the names the cache did not know. */
static void link_resolve(void *arg) {
  link_names *l = arg;
  char tenant[META_ID_LEN + 1];
  bool tenant_ok = l->api->meta && meta_tenant_by_db(l->api->meta, l->db, tenant) == 0;
  const char *name = (const char *)l->names.data;
  for (size_t i = 0; i < l->n; i++, name += strlen(name) + 1) {
    meta_device_ref d;
    if (tenant_ok && meta_device_by_name(l->api->meta, tenant, name, &d) == 0) {
      link_cache_put(l->api, l->db, name, &d);
      api_device_note_points(l->api, d.id, d.tenant_id, l->values[i]);
    } else {
      link_cache_put(l->api, l->db, name, NULL);
    }
  }
  link_free(l);
}

/* After a durable write (any thread): note activity of the cached devices,
 * hand the unknown names to a worker. Consumes l. */
static void link_apply(link_names *l) {
  link_names *miss = loom_calloc(1, sizeof *miss);
  if (miss) {
    miss->api = l->api;
    memcpy(miss->db, l->db, sizeof miss->db);
    loom_buf_init(&miss->names);
  }
  const char *name = (const char *)l->names.data;
  for (size_t i = 0; i < l->n; i++, name += strlen(name) + 1) {
    char dev[META_ID_LEN + 1], ten[META_ID_LEN + 1];
    int hit = link_cache_get(l->api, l->db, name, dev, ten);
    if (hit == 1) api_device_note_points(l->api, dev, ten, l->values[i]);
    else if (hit < 0 && miss && !loom_buf_append(&miss->names, name, strlen(name) + 1))
      miss->values[miss->n++] = l->values[i];
  }
  link_free(l);
  if (miss && miss->n && loom_workpool_submit(miss->api->pool, link_resolve, miss) == 0) return;
  link_free(miss);
}

/* Is the tag value v (escaped, vlen bytes) already among l's names? Adds it
 * (unescaped) if not and there is room. Returns its index, or -1. */
static int link_add(link_names *l, const char *v, size_t vlen) {
  if (l->n == LINK_NAMES_MAX) return -1; /* the rest of this body's devices are not linked */
  char name[LINK_NAME_MAX + 1];
  size_t n = 0;
  for (size_t i = 0; i < vlen; i++) {
    if (v[i] == '\\' && i + 1 < vlen && (v[i + 1] == ',' || v[i + 1] == '=' || v[i + 1] == ' '))
      i++;
    if (n == LINK_NAME_MAX) return -1; /* longer than any device name */
    name[n++] = v[i];
  }
  if (!n) return -1;
  name[n] = 0;
  const char *p = (const char *)l->names.data;
  for (size_t i = 0; i < l->n; i++, p += strlen(p) + 1)
    if (!strcmp(p, name)) return (int)i;
  if (l->n < LINK_NAMES_MAX && !loom_buf_append(&l->names, name, n + 1)) return (int)l->n++;
  return -1;
}

/* Field values of a line from s (inside its series key) to e: the commas of
 * the field set outside quoted strings, plus one. At least 1. */
static uint32_t line_values(const char *s, const char *e) {
  while (s < e && *s != ' ') s += *s == '\\' ? 2 : 1; /* rest of the series key */
  while (s < e && *s == ' ') s++;
  uint32_t n = 1;
  bool quoted = false;
  for (; s < e; s++) {
    if (*s == '\\') s++;
    else if (*s == '"') quoted = !quoted;
    else if (!quoted && *s == ',') n++;
    else if (!quoted && *s == ' ') break; /* the timestamp follows */
  }
  return n;
}

/* The device tag of one line's series key [s, e). seen: the raw values met
 * so far in this body (keys point into it), so a repeated device costs one
 * hash and probe. */
static void link_scan_line(link_names *l, strmap *seen, const char *s, const char *e) {
  /* measurement: up to an unescaped ',' (tags follow) or ' ' (no tags) */
  while (s < e && *s != ',' && *s != ' ') s += *s == '\\' ? 2 : 1;
  while (s < e && *s == ',') {
    const char *k = ++s;
    while (s < e && *s != '=' && *s != ',' && *s != ' ') s += *s == '\\' ? 2 : 1;
    if (s >= e || *s != '=') return;
    size_t klen = (size_t)(s - k);
    const char *v = ++s;
    while (s < e && *s != ',' && *s != ' ') s += *s == '\\' ? 2 : 1;
    if (s > e) s = e;
    if (klen == 6 && !memcmp(k, "device", 6)) {
      size_t vlen = (size_t)(s - v);
      uint64_t h = strmap_hash(v, vlen);
      uint32_t idx;
      if (strmap_get(seen, v, vlen, h, &idx)) {
        int at = link_add(l, v, vlen);
        idx = at < 0 ? UINT32_MAX : (uint32_t)at;
        if (seen->count < LINK_NAMES_MAX * 4) strmap_put(seen, v, vlen, h, idx);
      }
      if (idx != UINT32_MAX) {
        uint32_t nv = line_values(s, e);
        l->values[idx] = nv > UINT32_MAX - l->values[idx] ? UINT32_MAX : l->values[idx] + nv;
      }
      return;
    }
  }
}

/* Loop thread: the distinct device tag values of body, or NULL (none, or
 * no registry, or out of memory: linking is best effort). */
static link_names *link_scan(loom_api *api, const char *db, const char *body, size_t len) {
  if (!api->meta || !api->devices || strlen(db) >= sizeof ((link_names *)0)->db ||
      !memmem(body, len, "device=", 7))
    return NULL;
  link_names *l = loom_calloc(1, sizeof *l);
  if (!l) return NULL;
  l->api = api;
  snprintf(l->db, sizeof l->db, "%s", db);
  loom_buf_init(&l->names);
  strmap seen;
  strmap_init(&seen);
  const char *p = body, *end = body + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    if (p < eol && *p != '#') link_scan_line(l, &seen, p, eol);
    p = eol + 1;
  }
  strmap_deinit(&seen);
  if (!l->n) {
    link_free(l);
    return NULL;
  }
  return l;
}

static void respond(http_req *req, int status, const loom_buf *body) {
  if (status == 204) http_respond(req, 204, NULL, NULL, 0);
  else http_respond(req, status, "application/json", body->data, body->len);
}

/* Runs on an engine thread when the write is durable or failed. */
static void write_done(void *arg, int status) {
  write_ctx *c = arg;
  if (status) {
    int http = ingest_failure_status(status, &c->res.body);
    respond(c->req, http, &c->res.body);
  } else {
    if (c->link) link_apply(c->link);
    c->link = NULL;
    respond(c->req, c->res.status, &c->res.body);
  }
  link_free(c->link);
  loom_buf_deinit(&c->res.body);
  loom_free(c);
}

static void do_write(http_req *req, loom_api *api, const char *db, const char *precision, bool v2) {
  if (!db || !*db) {
    http_respond_error(req, v2 ? 404 : 400, v2 ? "bucket not found: the bucket parameter is required"
                                               : "database is required");
    return;
  }
  int64_t prec = 1;
  if (precision && *precision) {
    prec = loom_precision_ns(precision);
    if (!prec || (v2 && (!strcmp(precision, "m") || !strcmp(precision, "h")))) {
      char msg[128];
      snprintf(msg, sizeof msg, "invalid precision \"%.32s\"", precision);
      http_respond_error(req, 400, msg);
      return;
    }
  }
  write_ctx *c = loom_calloc(1, sizeof *c);
  if (!c) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  c->req = req;
  loom_buf_init(&c->res.body);
  size_t len;
  const uint8_t *body = http_req_body(req, &len);
  c->link = link_scan(api, db, (const char *)body, len);
  int rc = ingest_lp_live(api->engine, api->live, db, (const char *)body, len, prec, &c->res,
                          write_done, c);
  if (rc) { /* the callback will not run: answer now */
    int status = rc == LOOM_ENOTFOUND ? 404 : rc == LOOM_EINVAL ? 400
               : rc == LOOM_EREADONLY ? 503 : rc == LOOM_ENOMEM ? 503 : 500;
    respond(req, status, &c->res.body);
    link_free(c->link);
    loom_buf_deinit(&c->res.body);
    loom_free(c);
  }
}

void api_write_v1(http_req *req, loom_api *api) {
  do_write(req, api, http_req_param(req, "db"), http_req_param(req, "precision"), false);
}

void api_write_v2(http_req *req, loom_api *api) {
  /* bucket may be "db/rp" in InfluxDB's 1.x compatibility API */
  const char *bucket = http_req_param(req, "bucket");
  char db[256];
  if (bucket) {
    snprintf(db, sizeof db, "%s", bucket);
    char *slash = strchr(db, '/');
    if (slash) *slash = 0;
  }
  do_write(req, api, bucket ? db : NULL, http_req_param(req, "precision"), true);
}
