/* SPDX-License-Identifier: Apache-2.0
 * Device figures for the console's overview (api/rest_console.c): counts by
 * state, the longest-silent devices, and names of a few devices by id. Each
 * is one or two statements on the read-only connection, so they never wait
 * for a writer's commit; counting 10,000 devices of a tenant walks the
 * (tenant_id, name) index once.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "meta/meta_int.h"

int meta_device_overview(meta_store *m, const char *scope, meta_device_counts *counts,
                         meta_device_silent *silent, size_t cap, size_t *n_silent) {
  if (!m || !counts || (cap && !silent)) return LOOM_EINVAL;
  memset(counts, 0, sizeof *counts);
  if (n_silent) *n_silent = 0;
  const char *count_sql =
      scope ? "SELECT count(*), total(state = 'online'), total(last_activity_ms IS NULL) "
              "FROM devices WHERE tenant_id = ?1"
            : "SELECT count(*), total(state = 'online'), total(last_activity_ms IS NULL) "
              "FROM devices";
  const char *silent_sql =
      scope ? "SELECT id, name, last_activity_ms, state FROM devices WHERE tenant_id = ?1 "
              "AND last_activity_ms IS NOT NULL ORDER BY last_activity_ms, id LIMIT ?2"
            : "SELECT id, name, last_activity_ms, state FROM devices "
              "WHERE last_activity_ms IS NOT NULL ORDER BY last_activity_ms, id LIMIT ?2";
  sqlite3_stmt *st = NULL;
  int r = 0;
  meta_rlock(m);
  int rc = sqlite3_prepare_v2(m->rdb, count_sql, -1, &st, NULL);
  if (rc != SQLITE_OK) goto fail;
  if (scope) sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  if ((rc = sqlite3_step(st)) != SQLITE_ROW) goto fail;
  counts->total = sqlite3_column_int64(st, 0);
  counts->online = (int64_t)sqlite3_column_double(st, 1);
  counts->never = (int64_t)sqlite3_column_double(st, 2);
  counts->offline = counts->total - counts->online;
  sqlite3_finalize(st);
  st = NULL;
  if (cap) {
    rc = sqlite3_prepare_v2(m->rdb, silent_sql, -1, &st, NULL);
    if (rc != SQLITE_OK) goto fail;
    if (scope) sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
    size_t k = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < cap) {
      meta_col_copy(st, 0, silent[k].id, sizeof silent[k].id);
      meta_col_copy(st, 1, silent[k].name, sizeof silent[k].name);
      silent[k].last_activity_ms = sqlite3_column_int64(st, 2);
      const unsigned char *state = sqlite3_column_text(st, 3);
      silent[k].online = state && !strcmp((const char *)state, "online");
      k++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) goto fail;
    if (n_silent) *n_silent = k;
  }
  goto done;
fail:
  r = meta_rc_code(rc);
  if (!r) r = LOOM_EIO;
done:
  sqlite3_finalize(st);
  meta_runlock(m);
  return r;
}

int meta_device_names(meta_store *m, const char *scope, meta_device_silent *devs, size_t n) {
  if (!m || (n && !devs)) return LOOM_EINVAL;
  sqlite3_stmt *st = NULL;
  int r = 0;
  meta_rlock(m);
  int rc = sqlite3_prepare_v2(m->rdb,
                              "SELECT name, last_activity_ms, state, tenant_id FROM devices "
                              "WHERE id = ?1",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) {
    r = meta_rc_code(rc);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    devs[i].name[0] = 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, devs[i].id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const unsigned char *tenant = sqlite3_column_text(st, 3);
      if (scope && (!tenant || strcmp((const char *)tenant, scope))) continue;
      meta_col_copy(st, 0, devs[i].name, sizeof devs[i].name);
      devs[i].last_activity_ms = sqlite3_column_int64(st, 1);
      const unsigned char *state = sqlite3_column_text(st, 2);
      devs[i].online = state && !strcmp((const char *)state, "online");
    } else if (rc != SQLITE_DONE) {
      r = meta_rc_code(rc);
      if (!r) r = LOOM_EIO;
      goto done;
    }
  }
done:
  sqlite3_finalize(st);
  meta_runlock(m);
  return r;
}
