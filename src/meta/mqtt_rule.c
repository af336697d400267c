/* SPDX-License-Identifier: Apache-2.0
 * MQTT mapping rules (kind mqtt_rule, schema v3): the change stamps that
 * let a cache of compiled rules (api/mqtt_rules.c) notice, with one cheap
 * aggregate query, which tenants' rules changed. Runs on the read-only
 * connection, so it never waits for a writer's commit.
 */
#include <sqlite3.h>

#include "core/err.h"
#include "meta/meta_int.h"

int meta_mqtt_rule_stamps(meta_store *m, meta_rule_stamp_fn fn, void *ud) {
  if (!m || !fn) return LOOM_EINVAL;
  sqlite3_stmt *st = NULL;
  meta_rlock(m);
  int rc = sqlite3_prepare_v2(m->rdb,
                              "SELECT tenant_id, count(*), max(updated_ms) FROM mqtt_rules "
                              "GROUP BY tenant_id",
                              -1, &st, NULL);
  int r = 0;
  if (rc != SQLITE_OK) {
    r = meta_rc_code(rc);
  } else {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      if (t) fn(ud, t, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    }
    if (rc != SQLITE_DONE) r = meta_rc_code(rc);
  }
  sqlite3_finalize(st);
  meta_runlock(m);
  return r;
}
