/* SPDX-License-Identifier: Apache-2.0
 * Registry change watch: one callback told, after the commit, of the
 * changes that live connections must follow (a device's credentials
 * changed or the device was deleted: kick its MQTT connections; shared
 * attributes changed: push them to subscribed devices). The MQTT platform
 * (api/mqtt_platform.c) is the watcher; the REST handlers need not know.
 */
#ifndef LOOM_META_WATCH_H
#define LOOM_META_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "meta/meta.h"

typedef enum meta_change_kind {
  META_CHANGE_DEVICE_UPDATED = 1, /* meta_update of a device */
  META_CHANGE_DEVICE_DELETED = 2, /* meta_delete of a device */
  META_CHANGE_ATTRS_SET = 3,      /* meta_attr_set: kv holds the new values */
  META_CHANGE_ATTRS_DELETED = 4,  /* meta_attr_delete: keys / n_keys */
  META_CHANGE_MQTT_RULES = 5      /* an MQTT rule of tenant_id was created, updated or
                                     deleted (device_id NULL): reload its rules */
} meta_change_kind;

/* One change. Pointers valid during the callback only. */
typedef struct meta_change {
  meta_change_kind kind;
  const char *tenant_id;   /* the device's tenant ("" when unknown) */
  const char *device_id;
  bool credentials;        /* DEVICE_UPDATED: secrets or the MQTT user name changed */
  unsigned attr_scope;     /* ATTRS_*: META_ATTR_CLIENT / SERVER / SHARED */
  const json_t *kv;        /* ATTRS_SET */
  const char *const *keys; /* ATTRS_DELETED */
  size_t n_keys;
} meta_change;

/* Called on the thread that made the change, after its commit, with no
 * registry lock held (it may call meta_* but should only queue work). */
typedef void (*meta_change_fn)(void *ud, const meta_change *c);

/* Install (fn NULL: remove) the watcher. Call while no other call runs on
 * m (at start and stop). */
void meta_watch_set(meta_store *m, meta_change_fn fn, void *ud);

/* Tell the watcher (meta/ internal use). */
void meta_watch_emit(meta_store *m, const meta_change *c);

#endif
