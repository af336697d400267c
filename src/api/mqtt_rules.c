/* SPDX-License-Identifier: Apache-2.0
 * Unified-namespace rules in the platform (see mqtt_rules.h): REST writes
 * validated by compiling the rule, and the per-tenant cache of compiled
 * rule sets the broker thread reads. Cache entries are never removed (one
 * per tenant that published); each holds a reference-counted uns_rules,
 * swapped under the mutex by the worker-pool job that (re)loads it.
 */
#include "api/mqtt_rules.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/strmap.h"
#include "core/timeutil.h"

typedef struct entry {
  char tenant[META_ID_LEN + 1]; /* the map's key (stable: entries never move) */
  const uns_rules *rules;       /* NULL until the first load ends */
  int64_t loaded_ms;            /* monotonic ms when the set in `rules` was read */
  int64_t stamp_n, stamp_u;     /* the rows' count and newest updated_ms at that load */
  uint64_t seen_gen;            /* the refresher pass that last saw rows of it */
  bool loading;                 /* a job is queued or running */
  bool dirty;                   /* invalidated while loading: load again */
} entry;

struct api_mqtt_rules {
  loom_api *api;
  pthread_mutex_t mu; /* everything below */
  pthread_cond_t idle; /* inflight reached 0 */
  pthread_cond_t wake; /* the refresher: stop */
  strmap map; /* tenant -> index in entries */
  entry **entries;
  size_t n, cap;
  size_t inflight; /* jobs queued or running */
  uint64_t gen;    /* refresher passes */
  bool stopping;
  pthread_t refresher;
};

typedef struct job {
  api_mqtt_rules *c;
  entry *e;
} job;

static int64_t mono_ms(void) { return loom_mono_ns() / 1000000; }

/* ---- loading ------------------------------------------------------------ */

/* Load every rule of the tenant (the disabled ones count for the stamp;
 * compile drops them), the stamp in *n_rows / *max_u. */
static int load(meta_store *m, const char *tenant_id, uns_rules **out, size_t *n_skipped,
                int64_t *n_rows, int64_t *max_u, char *err, size_t errlen) {
  json_t *good = json_array();
  size_t skipped = 0;
  int64_t rows = 0, newest = 0;
  int rc = 0;
  if (!good) return LOOM_ENOMEM;
  meta_query q = {.page = 0, .page_size = META_PAGE_MAX, .sort_property = "priority"};
  for (;;) {
    json_t *page = NULL;
    if ((rc = meta_list(m, META_MQTT_RULE, tenant_id, &q, &page, err, errlen))) goto out;
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(page, "data"), i, rule) {
      int64_t u = json_integer_value(json_object_get(rule, "updated_ms"));
      rows++;
      if (u > newest) newest = u;
      if (json_is_false(json_object_get(rule, "enabled"))) continue;
      json_t *one = json_pack("[O]", rule);
      uns_rules *r = NULL;
      if (!one) {
        json_decref(page);
        rc = LOOM_ENOMEM;
        goto out;
      }
      int crc = uns_rules_compile(one, &r, NULL, 0);
      json_decref(one);
      uns_rules_free(r);
      if (crc == LOOM_ENOMEM || (!crc && json_array_append(good, rule))) {
        json_decref(page);
        rc = LOOM_ENOMEM;
        goto out;
      }
      if (crc) skipped++;
    }
    bool more = json_is_true(json_object_get(page, "hasNext"));
    json_decref(page);
    if (!more) break;
    q.page++;
  }
  rc = uns_rules_compile(good, out, err, errlen);
out:
  json_decref(good);
  if (rc == 0) {
    if (n_skipped) *n_skipped = skipped;
    *n_rows = rows;
    *max_u = newest;
  }
  if (rc == LOOM_ENOMEM && err && errlen) snprintf(err, errlen, "out of memory");
  return rc;
}

int api_mqtt_rules_load(meta_store *m, const char *tenant_id, uns_rules **out, size_t *n_skipped,
                        char *err, size_t errlen) {
  int64_t n, u;
  return load(m, tenant_id, out, n_skipped, &n, &u, err, errlen);
}

static void load_job(void *arg);

/* Queue a load of e (mutex held). */
static int schedule(api_mqtt_rules *c, entry *e) {
  if (e->loading) {
    e->dirty = true;
    return 0;
  }
  job *j = loom_malloc(sizeof *j);
  if (!j) return LOOM_ENOMEM;
  j->c = c;
  j->e = e;
  e->loading = true;
  e->dirty = false;
  c->inflight++;
  int rc = loom_workpool_submit(c->api->pool, load_job, j);
  if (rc) {
    loom_free(j);
    e->loading = false;
    c->inflight--;
  }
  return rc;
}

static void load_job(void *arg) {
  job *j = arg;
  api_mqtt_rules *c = j->c;
  entry *e = j->e;
  loom_free(j);
  int64_t started = mono_ms(), n_rows = 0, max_u = 0;
  uns_rules *fresh = NULL;
  int rc = c->api->meta
               ? load(c->api->meta, e->tenant, &fresh, NULL, &n_rows, &max_u, NULL, 0)
               : LOOM_EIO;
  if (rc && !e->rules) { /* nothing to keep: answer "no rules" until the next try */
    json_t *none = json_array();
    if (none) uns_rules_compile(none, &fresh, NULL, 0);
    json_decref(none);
  }
  const uns_rules *old = NULL;
  pthread_mutex_lock(&c->mu);
  if (fresh) {
    old = e->rules;
    e->rules = fresh;
  }
  if (!rc) { /* a failed load keeps the old stamp: the refresher tries again */
    e->stamp_n = n_rows;
    e->stamp_u = max_u;
  }
  e->loaded_ms = started;
  e->loading = false;
  if (e->dirty) schedule(c, e);
  c->inflight--;
  if (!c->inflight) pthread_cond_broadcast(&c->idle);
  pthread_mutex_unlock(&c->mu);
  uns_rules_free(old);
}

/* ---- the cache ---------------------------------------------------------- */

static int find(api_mqtt_rules *c, const char *tenant, bool create, entry **out);

/* A tenant's stamp from the registry: reload when it differs from the
 * loaded one (mutex not held: taken here, briefly). */
static void on_stamp(void *ud, const char *tenant, int64_t n_rows, int64_t max_u) {
  api_mqtt_rules *c = ud;
  entry *e;
  pthread_mutex_lock(&c->mu);
  if (!find(c, tenant, false, &e)) {
    e->seen_gen = c->gen;
    if (e->rules && (e->stamp_n != n_rows || e->stamp_u != max_u)) schedule(c, e);
  }
  pthread_mutex_unlock(&c->mu);
}

/* Every API_MQTT_RULES_POLL_MS: one aggregate query; tenants whose rules
 * changed (or whose last rule went: no row seen) reload; every set is
 * reloaded at least every API_MQTT_RULES_MAX_AGE_MS. */
static void *refresher(void *arg) {
  api_mqtt_rules *c = arg;
  pthread_setname_np(pthread_self(), "uns-rules"); /* top -H, perf, gdb */
  pthread_mutex_lock(&c->mu);
  while (!c->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(API_MQTT_RULES_POLL_MS % 1000) * 1000000L;
    until.tv_sec += API_MQTT_RULES_POLL_MS / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&c->wake, &c->mu, &until);
    if (c->stopping || !c->n || !c->api->meta) continue;
    uint64_t gen = ++c->gen;
    pthread_mutex_unlock(&c->mu);
    int rc = meta_mqtt_rule_stamps(c->api->meta, on_stamp, c);
    pthread_mutex_lock(&c->mu);
    int64_t now = mono_ms();
    for (size_t i = 0; !rc && i < c->n && !c->stopping; i++) {
      entry *e = c->entries[i];
      if (!e->rules || e->loading) continue;
      if ((e->seen_gen != gen && e->stamp_n) || now - e->loaded_ms >= API_MQTT_RULES_MAX_AGE_MS)
        schedule(c, e);
    }
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

int api_mqtt_rules_new(loom_api *api, api_mqtt_rules **out) {
  api_mqtt_rules *c = loom_calloc(1, sizeof *c);
  if (!c) return LOOM_ENOMEM;
  c->api = api;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->idle, NULL);
  pthread_cond_init(&c->wake, NULL);
  strmap_init(&c->map);
  if (pthread_create(&c->refresher, NULL, refresher, c)) {
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->mu);
    loom_free(c);
    return LOOM_ENOMEM;
  }
  *out = c;
  return 0;
}

void api_mqtt_rules_free(api_mqtt_rules *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->stopping = true;
  pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->refresher, NULL);
  pthread_mutex_lock(&c->mu);
  while (c->inflight) pthread_cond_wait(&c->idle, &c->mu);
  pthread_mutex_unlock(&c->mu);
  for (size_t i = 0; i < c->n; i++) {
    uns_rules_free(c->entries[i]->rules);
    loom_free(c->entries[i]);
  }
  loom_free(c->entries);
  strmap_deinit(&c->map);
  pthread_cond_destroy(&c->wake);
  pthread_cond_destroy(&c->idle);
  pthread_mutex_destroy(&c->mu);
  loom_free(c);
}

/* The entry of tenant (created when create is set; mutex held). */
static int find(api_mqtt_rules *c, const char *tenant, bool create, entry **out) {
  size_t len = strlen(tenant);
  uint64_t h = strmap_hash(tenant, len);
  uint32_t idx;
  if (!strmap_get(&c->map, tenant, len, h, &idx)) {
    *out = c->entries[idx];
    return 0;
  }
  if (!create) return LOOM_ENOTFOUND;
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 16;
    entry **ne = loom_realloc(c->entries, nc * sizeof *ne);
    if (!ne) return LOOM_ENOMEM;
    c->entries = ne;
    c->cap = nc;
  }
  entry *e = loom_calloc(1, sizeof *e);
  if (!e) return LOOM_ENOMEM;
  memcpy(e->tenant, tenant, len + 1);
  if (strmap_put(&c->map, e->tenant, len, h, (uint32_t)c->n)) {
    loom_free(e);
    return LOOM_ENOMEM;
  }
  c->entries[c->n++] = e;
  *out = e;
  return 0;
}

static bool tenant_ok(const char *t) { return t && *t && strlen(t) <= META_ID_LEN; }

int api_mqtt_rules_get(api_mqtt_rules *c, const char *tenant_id, const uns_rules **out) {
  *out = NULL;
  if (!tenant_ok(tenant_id)) return LOOM_EINVAL;
  entry *e;
  pthread_mutex_lock(&c->mu);
  int rc = find(c, tenant_id, true, &e);
  if (!rc) {
    if (e->rules) {
      *out = uns_rules_ref(e->rules);
    } else {
      rc = e->loading ? LOOM_EAGAIN : schedule(c, e);
      if (!rc) rc = LOOM_EAGAIN;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

void api_mqtt_rules_release(const uns_rules *r) { uns_rules_free(r); }

int api_mqtt_rules_preload(api_mqtt_rules *c, const char *tenant_id) {
  if (!tenant_ok(tenant_id)) return LOOM_EINVAL;
  entry *e;
  pthread_mutex_lock(&c->mu);
  int rc = find(c, tenant_id, true, &e);
  if (!rc && !e->rules && !e->loading) rc = schedule(c, e);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

void api_mqtt_rules_invalidate(api_mqtt_rules *c, const char *tenant_id) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  if (!tenant_id) {
    for (size_t i = 0; i < c->n; i++) schedule(c, c->entries[i]);
  } else {
    entry *e;
    if (tenant_ok(tenant_id) && !find(c, tenant_id, false, &e)) schedule(c, e);
  }
  pthread_mutex_unlock(&c->mu);
}

/* ---- REST --------------------------------------------------------------- */

/* 0 when the rule compiles, else answered 400 with the compiler's message. */
static int validate(api_call *c, const json_t *rule) {
  char err[256] = "";
  json_t *one = json_pack("[O]", rule);
  uns_rules *r = NULL;
  int rc = one ? uns_rules_compile(one, &r, err, sizeof err) : LOOM_ENOMEM;
  json_decref(one);
  uns_rules_free(r);
  if (rc == LOOM_ENOMEM) api_error(c->req, 500, "out of memory");
  else if (rc) api_error(c->req, 400, err);
  return rc;
}

void rest_mqtt_rule_create(api_call *c) {
  json_t *in;
  if (api_body_object(c, &in)) return;
  if (validate(c, in)) {
    json_decref(in);
    return;
  }
  rest_do_create(c, META_MQTT_RULE, in, NULL, NULL);
}

void rest_mqtt_rule_update(api_call *c) {
  json_t *in, *cur = NULL;
  char err[256] = "";
  if (api_body_object(c, &in)) return;
  int rc = meta_get(c->api->meta, META_MQTT_RULE, c->scope, api_param(c, "id"), &cur, err,
                    sizeof err);
  if (rc) {
    json_decref(in);
    api_error_rc(c->req, rc, err);
    return;
  }
  /* the rule as it would be after the update; the store checks field rules */
  if (json_object_update(cur, in)) {
    api_error(c->req, 500, "out of memory");
    rc = LOOM_ENOMEM;
  } else {
    rc = validate(c, cur); /* answers its failures */
  }
  json_decref(cur);
  if (rc) {
    json_decref(in);
    return;
  }
  rest_do_update(c, META_MQTT_RULE, api_param(c, "id"), in, NULL, NULL, NULL, NULL);
}

void rest_mqtt_rule_delete(api_call *c) {
  rest_do_delete(c, META_MQTT_RULE, api_param(c, "id"), false);
}
