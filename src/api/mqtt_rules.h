/* SPDX-License-Identifier: Apache-2.0
 * Unified-namespace mapping rules in the platform: the REST handlers of
 * /api/v1/mqtt/rules (registry kind "mqtt_rule", each rule validated by
 * compiling it with mqtt/uns.h) and a per-tenant cache of the tenant's
 * enabled rules, compiled, for the broker thread: the common (cached) case
 * is a mutex-protected hash look-up and an atomic reference, never SQLite;
 * loads run on the worker pool.
 */
#ifndef LOOM_API_MQTT_RULES_H
#define LOOM_API_MQTT_RULES_H

#include "api/api.h"
#include "mqtt/uns.h"

typedef struct api_mqtt_rules api_mqtt_rules;

/* The cache's own thread checks the registry's rule stamps (one aggregate
 * query, meta_mqtt_rule_stamps) this often and reloads the tenants whose
 * rules changed, so a set in use is at most about this stale; every set is
 * reloaded at least every API_MQTT_RULES_MAX_AGE_MS whatever the stamps. */
#define API_MQTT_RULES_POLL_MS 1000
#define API_MQTT_RULES_MAX_AGE_MS 60000

/* Create the cache over api->meta and api->pool (both must outlive it) and
 * start its refresher thread. 0 or LOOM_ENOMEM. Main thread, before the
 * broker starts. */
int api_mqtt_rules_new(loom_api *api, api_mqtt_rules **out);
/* Free: stops the refresher, waits for loads in flight (so call it before
 * the worker pool is freed, after the broker stopped calling get).
 * References handed out stay valid until released. NULL: no-op. Main
 * thread. */
void api_mqtt_rules_free(api_mqtt_rules *c);

/* The enabled rules of tenant_id, compiled, in *out with one reference the
 * caller owns (drop it with api_mqtt_rules_release, any thread; the set is
 * immutable, so it may be applied while other threads use it).
 *   0            *out set (possibly a set of no rules);
 *   LOOM_EAGAIN  nothing cached for this tenant yet: a load was started on
 *                the worker pool (the caller treats the publish as matching
 *                no rule; the tenant's next publishes will find the set);
 *   LOOM_EINVAL  empty tenant_id (platform principals have no rules);
 *   LOOM_ENOMEM.
 * The set answered is at most about API_MQTT_RULES_POLL_MS behind the
 * registry (the refresher); sooner when the registry watcher calls
 * api_mqtt_rules_invalidate on META_CHANGE_MQTT_RULES (meta/watch.h), which
 * rule writes emit. Never blocks on SQLite: only on the cache's mutex, held
 * for hash look-ups. Any thread (the broker thread). */
int api_mqtt_rules_get(api_mqtt_rules *c, const char *tenant_id, const uns_rules **out);
/* Drop a reference from api_mqtt_rules_get. NULL: no-op. */
void api_mqtt_rules_release(const uns_rules *r);
/* Start loading a tenant's rules if nothing is cached (e.g. when a client
 * of that tenant connects, so its first publishes find the set). Any
 * thread. 0, LOOM_EINVAL, LOOM_ENOMEM. */
int api_mqtt_rules_preload(api_mqtt_rules *c, const char *tenant_id);
/* The tenant's rules changed: reload them in the background (the current
 * set keeps being answered until the new one is in). NULL tenant_id: every
 * cached tenant. Any thread. */
void api_mqtt_rules_invalidate(api_mqtt_rules *c, const char *tenant_id);

/* Load and compile tenant_id's enabled rules now, blocking on the registry
 * (worker threads only). Rules that no longer compile (written by an older
 * binary) are skipped; *n_skipped (may be NULL) counts them. 0, LOOM_EIO,
 * LOOM_ENOMEM (err filled). */
int api_mqtt_rules_load(meta_store *m, const char *tenant_id, uns_rules **out, size_t *n_skipped,
                        char *err, size_t errlen);

/* ---- REST (route table; worker threads) ---- */
/* POST /api/v1/mqtt/rules: create; the rule must compile (400 with the
 * compiler's message naming the field). */
void rest_mqtt_rule_create(api_call *c);
/* PUT /api/v1/mqtt/rules/{id}: partial update; the merged rule must compile. */
void rest_mqtt_rule_update(api_call *c);
/* DELETE /api/v1/mqtt/rules/{id}. */
void rest_mqtt_rule_delete(api_call *c);

#endif
