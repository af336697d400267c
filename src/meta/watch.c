/* SPDX-License-Identifier: Apache-2.0
 * The registry change watch (watch.h): one function pointer in the store,
 * called after commits by crud.c (device update/delete) and device.c
 * (attribute set/delete).
 */
#include "meta/watch.h"

#include "meta/meta_int.h"

void meta_watch_set(meta_store *m, meta_change_fn fn, void *ud) {
  if (!m) return;
  m->watch_ud = ud;
  m->watch_fn = fn;
}

void meta_watch_emit(meta_store *m, const meta_change *c) {
  if (m && m->watch_fn) m->watch_fn(m->watch_ud, c);
}
