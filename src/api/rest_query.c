/* SPDX-License-Identifier: Apache-2.0
 * Tenant limits on InfluxQL (/query): a tenant's users and tokens reach
 * only their tenant's engine database. The statements are parsed (the
 * executor parses again; parsing is cheap next to execution) and every
 * database they name, explicitly or through the db parameter, must be the
 * tenant's; statements over the server (databases, retention policies,
 * SHOW USERS & co.) are refused; DELETE / DROP need telemetry.write.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "query/ql_ast.h"
#include "query/ql_parse.h"

static bool db_ok(const char *named, const char *dflt, const char *own) {
  const char *db = named && *named ? named : dflt;
  return !db || !*db || !strcmp(db, own);
}

static bool select_ok(const ql_select *s, const char *dflt, const char *own, int depth) {
  if (!s || depth > 64) return s == NULL;
  if (s->into && !db_ok(s->into->db, dflt, own)) return false;
  for (size_t i = 0; i < s->n_sources; i++) {
    if (s->sources[i].subquery) {
      if (!select_ok(s->sources[i].subquery, dflt, own, depth + 1)) return false;
    } else if (!db_ok(s->sources[i].m.db, dflt, own)) {
      return false;
    }
  }
  return true;
}

static bool sources_ok(const ql_source *src, size_t n, const char *dflt, const char *own) {
  for (size_t i = 0; i < n; i++) {
    if (src[i].subquery ? !select_ok(src[i].subquery, dflt, own, 1)
                        : !db_ok(src[i].m.db, dflt, own))
      return false;
  }
  return true;
}

int api_query_guard(const sec_principal *p, const char *own_db, const char *q, size_t len,
                    const char *db, char *msg, size_t msglen) {
  if (p->role == SEC_ROLE_PLATFORM_ADMIN) return 0;
  ql_query *qq = NULL;
  if (ql_parse(q, len, &qq, NULL, 0)) return LOOM_EINVAL;
  int rc = 0;
  const char *own = own_db ? own_db : "";
  if (qq->n_stmts == 1 && qq->stmts[0].kind == QL_STMT_SHOW_DATABASES) {
    ql_query_free(qq);
    return *own ? 1 : LOOM_EPERM;
  }
  if (!db_ok(NULL, db, own)) rc = LOOM_ENOTFOUND;
  for (size_t i = 0; !rc && i < qq->n_stmts; i++) {
    const ql_stmt *s = &qq->stmts[i];
    switch (s->kind) {
    case QL_STMT_SELECT:
      if (!select_ok(s->u.select, db, own, 0)) rc = LOOM_ENOTFOUND;
      break;
    case QL_STMT_EXPLAIN:
      if (!select_ok(s->u.explain.select, db, own, 0)) rc = LOOM_ENOTFOUND;
      break;
    case QL_STMT_DELETE:
    case QL_STMT_DROP_SERIES:
      if (sec_policy_check(p, SEC_PERM_TELEMETRY_WRITE, p->tenant_id, NULL)) rc = LOOM_EPERM;
      else if (!sources_ok(s->u.del.sources, s->u.del.n_sources, db, own)) rc = LOOM_ENOTFOUND;
      break;
    case QL_STMT_DROP_MEASUREMENT:
      if (sec_policy_check(p, SEC_PERM_TELEMETRY_WRITE, p->tenant_id, NULL)) rc = LOOM_EPERM;
      break;
    case QL_STMT_SHOW_MEASUREMENTS:
    case QL_STMT_SHOW_TAG_KEYS:
    case QL_STMT_SHOW_TAG_VALUES:
    case QL_STMT_SHOW_FIELD_KEYS:
    case QL_STMT_SHOW_SERIES:
    case QL_STMT_SHOW_CARDINALITY:
      if (!db_ok(s->u.show.db, db, own) ||
          !sources_ok(s->u.show.sources, s->u.show.n_sources, db, own))
        rc = LOOM_ENOTFOUND;
      break;
    case QL_STMT_SHOW_RETENTION_POLICIES:
      if (!db_ok(s->u.name, db, own)) rc = LOOM_ENOTFOUND;
      break;
    default: /* databases, retention policies, SHOW USERS ...: the platform's */
      rc = LOOM_EPERM;
      break;
    }
  }
  ql_query_free(qq);
  if (rc == LOOM_ENOTFOUND) snprintf(msg, msglen, "database not found");
  else if (rc == LOOM_EPERM)
    snprintf(msg, msglen, "forbidden: this statement needs a platform administrator or "
                          "telemetry.write");
  return rc;
}
