/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL statements other than SELECT: SHOW (schema, cardinality, other),
 * CREATE/DROP/ALTER of databases and retention policies, DELETE, DROP SERIES
 * and MEASUREMENT, EXPLAIN, and the grammar of statements Loom parses but does
 * not run (users, grants, KILL, subscriptions). Each function follows the
 * InfluxDB 1.6.7 parser function of the same purpose (see ql_parse.c).
 */
#include "query/ql_parse_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

/* ---- other statements -------------------------------------------------- */

static int parse_on_db(parser *p, const char **db) {
  *db = "";
  if (!qlp_accept(p, QL_TOK_ON)) return p->rc;
  return qlp_ident(p, db);
}

static int parse_opt_from(parser *p, ql_show *sh) {
  if (!qlp_accept(p, QL_TOK_FROM)) return p->rc;
  return qlp_sources(p, 0, &sh->sources, &sh->n_sources);
}

/* WITH KEY (IN (a, b) | = k | != k | =~ /re/ | !~ /re/). */
static int parse_tag_key_expr(parser *p, ql_show *sh) {
  if (qlp_expect_tok(p, QL_TOK_WITH) || qlp_expect_tok(p, QL_TOK_KEY)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_IN) {
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_LPAREN) return qlp_fail_expected(p, t, lit, pos, "(");
    if (qlp_ident_list(p, &sh->tag_keys, &sh->n_tag_keys)) return p->rc;
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_RPAREN) return qlp_fail_expected(p, t, lit, pos, ")");
    sh->tag_op = 0;
    return 0;
  }
  if (t == QL_TOK_EQ || t == QL_TOK_NEQ) {
    const char *id;
    if (qlp_ident(p, &id)) return p->rc;
    sh->tag_keys = qlp_palloc(p, sizeof(*sh->tag_keys));
    if (!sh->tag_keys) return p->rc;
    sh->tag_keys[0] = id;
    sh->n_tag_keys = 1;
    sh->tag_op = qlp_tok_to_op(t);
    return 0;
  }
  if (t == QL_TOK_EQREGEX || t == QL_TOK_NEQREGEX) {
    ql_expr *re;
    if (qlp_regex(p, &re)) return p->rc;
    if (!re) {
      t = qlp_scan_ws(p, &pos, &lit);
      if (p->rc) return p->rc;
      return qlp_fail_expected(p, t, lit, pos, "regex");
    }
    sh->tag_regex = re->u.str;
    sh->tag_op = qlp_tok_to_op(t);
    return 0;
  }
  return qlp_fail_expected(p, t, lit, pos, "IN, =, =~");
}

static int parse_show_measurements(parser *p, ql_show *sh) {
  if (parse_on_db(p, &sh->db)) return p->rc;
  if (qlp_scan_ws(p, NULL, NULL) == QL_TOK_WITH) {
    if (qlp_expect_tok(p, QL_TOK_MEASUREMENT)) return p->rc;
    ql_pos pos;
    const char *lit;
    ql_tok t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_EQ && t != QL_TOK_EQREGEX) return qlp_fail_expected(p, t, lit, pos, "=, =~");
    sh->sources = qlp_palloc(p, sizeof(*sh->sources));
    if (!sh->sources) return p->rc;
    sh->n_sources = 1;
    if (qlp_source(p, 0, &sh->sources[0])) return p->rc;
  } else {
    qlp_unscan(p);
  }
  return qlp_condition(p, &sh->condition) ||
         qlp_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
         qlp_opt_int(p, QL_TOK_LIMIT, &sh->limit) || qlp_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

/* SHOW SERIES / MEASUREMENT / TAG KEY / TAG VALUES / FIELD KEY CARDINALITY,
 * after the tokens up to and including CARDINALITY. */
static int parse_cardinality_tail(parser *p, ql_show *sh) {
  if (parse_on_db(p, &sh->db) || parse_opt_from(p, sh)) return p->rc;
  if (sh->card_what == QL_CARD_TAG_VALUES && parse_tag_key_expr(p, sh)) return p->rc;
  return qlp_condition(p, &sh->condition) ||
         qlp_dimensions(p, &sh->dimensions, &sh->n_dimensions) ||
         qlp_opt_int(p, QL_TOK_LIMIT, &sh->limit) || qlp_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

/* Cardinality forms that start with an optional EXACT then CARDINALITY. */
static int parse_card_exact_opt(parser *p, ql_show *sh, ql_card_what what) {
  const char *required = "EXACT, CARDINALITY";
  sh->card_what = what;
  if (qlp_scan_ws(p, NULL, NULL) == QL_TOK_EXACT) {
    sh->exact = 1;
    required = "CARDINALITY";
  } else {
    qlp_unscan(p);
  }
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_CARDINALITY) return qlp_fail_expected(p, t, lit, pos, required);
  return parse_cardinality_tail(p, sh);
}

static int parse_show_series(parser *p, ql_stmt *st) {
  ql_show *sh = &st->u.show;
  int exact = 0;
  if (qlp_scan_ws(p, NULL, NULL) == QL_TOK_EXACT) exact = 1;
  else qlp_unscan(p);
  if (qlp_scan_ws(p, NULL, NULL) == QL_TOK_CARDINALITY) {
    st->kind = QL_STMT_SHOW_CARDINALITY;
    sh->card_what = QL_CARD_SERIES;
    sh->exact = exact;
    return parse_cardinality_tail(p, sh);
  }
  qlp_unscan(p);
  st->kind = QL_STMT_SHOW_SERIES;
  return parse_on_db(p, &sh->db) || parse_opt_from(p, sh) || qlp_condition(p, &sh->condition) ||
                 qlp_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 qlp_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 qlp_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

static int parse_show_tag_values(parser *p, ql_stmt *st) {
  ql_show *sh = &st->u.show;
  ql_tok t = qlp_scan_ws(p, NULL, NULL);
  if (t == QL_TOK_EXACT || t == QL_TOK_CARDINALITY) {
    st->kind = QL_STMT_SHOW_CARDINALITY;
    sh->card_what = QL_CARD_TAG_VALUES;
    if (t == QL_TOK_EXACT) {
      sh->exact = 1;
      ql_pos pos;
      const char *lit;
      ql_tok t1 = qlp_scan_ws(p, &pos, &lit);
      if (p->rc) return p->rc;
      if (t1 != QL_TOK_CARDINALITY) return qlp_fail_expected(p, t1, lit, pos, "CARDINALITY");
    }
    return parse_cardinality_tail(p, sh);
  }
  qlp_unscan(p);
  st->kind = QL_STMT_SHOW_TAG_VALUES;
  return parse_on_db(p, &sh->db) || parse_opt_from(p, sh) || parse_tag_key_expr(p, sh) ||
                 qlp_condition(p, &sh->condition) ||
                 qlp_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 qlp_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 qlp_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

static int parse_show_tag_keys(parser *p, ql_show *sh) {
  return parse_on_db(p, &sh->db) || parse_opt_from(p, sh) || qlp_condition(p, &sh->condition) ||
                 qlp_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 qlp_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 qlp_opt_int(p, QL_TOK_OFFSET, &sh->offset) ||
                 qlp_opt_int(p, QL_TOK_SLIMIT, &sh->slimit) ||
                 qlp_opt_int(p, QL_TOK_SOFFSET, &sh->soffset)
             ? p->rc
             : 0;
}

static int parse_show_field_keys(parser *p, ql_show *sh) {
  if (parse_on_db(p, &sh->db)) return p->rc;
  return parse_opt_from(p, sh) || qlp_order_by(p, &sh->has_order, &sh->order_desc, NULL) ||
                 qlp_opt_int(p, QL_TOK_LIMIT, &sh->limit) ||
                 qlp_opt_int(p, QL_TOK_OFFSET, &sh->offset)
             ? p->rc
             : 0;
}

/* DELETE and DROP SERIES: [FROM sources] [WHERE cond], at least one. */
static int parse_delete_like(parser *p, ql_del *d) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_FROM) {
    if (qlp_sources(p, 0, &d->sources, &d->n_sources)) return p->rc;
    const char *bad = NULL;
    for (size_t i = 0; i < d->n_sources; i++) {
      if (d->sources[i].m.db[0]) bad = "database not supported";
      if (d->sources[i].m.rp[0]) bad = "retention policy not supported";
    }
    if (bad) {
      ql_pos zero = {0, 0};
      return qlp_fail_at(p, zero, "%s", bad);
    }
  } else {
    qlp_unscan(p);
  }
  if (qlp_condition(p, &d->condition)) return p->rc;
  if (!d->condition && !d->sources) return qlp_fail_expected(p, t, lit, pos, "FROM, WHERE");
  return 0;
}

static int parse_create_database(parser *p, ql_create_db *c) {
  c->rp_name = "";
  if (qlp_ident(p, &c->name)) return p->rc;
  if (!qlp_accept(p, QL_TOK_WITH)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATION && t != QL_TOK_NAME && t != QL_TOK_REPLICATION && t != QL_TOK_SHARD)
    return qlp_fail_expected(p, t, lit, pos, "DURATION, NAME, REPLICATION, SHARD");
  qlp_unscan(p);
  c->rp_create = 1;
  if (qlp_accept_tok(p, QL_TOK_DURATION)) {
    if (qlp_duration_tok(p, &c->duration_ns)) return p->rc;
    c->has_duration = 1;
  }
  if (qlp_accept_tok(p, QL_TOK_REPLICATION)) {
    if (qlp_int(p, 1, INT_MAX, &c->replication)) return p->rc;
    c->has_replication = 1;
  }
  if (qlp_accept_tok(p, QL_TOK_SHARD)) {
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_DURATION) return qlp_fail_expected(p, t, lit, pos, "DURATION");
    if (qlp_duration_tok(p, &c->shard_duration_ns)) return p->rc;
  }
  if (qlp_accept_tok(p, QL_TOK_NAME) && qlp_ident(p, &c->rp_name)) return p->rc;
  return p->rc;
}

/* SHARD DURATION <d> after SHARD: INF is refused. */
static int parse_shard_duration(parser *p, int64_t *out) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATION) return qlp_fail_expected(p, t, lit, pos, "DURATION");
  t = qlp_scan_ws(p, &pos, NULL);
  if (p->rc) return p->rc;
  if (t == QL_TOK_INF) return qlp_fail_at(p, pos, "invalid duration INF for shard duration");
  qlp_unscan(p);
  return qlp_duration_tok(p, out);
}

static int parse_on_required(parser *p, const char **db) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_ON) return qlp_fail_expected(p, t, lit, pos, "ON");
  return qlp_ident(p, db);
}

static int parse_create_rp(parser *p, ql_rp *rp) {
  if (qlp_ident(p, &rp->name) || parse_on_required(p, &rp->db)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DURATION) return qlp_fail_expected(p, t, lit, pos, "DURATION");
  if (qlp_duration_tok(p, &rp->duration_ns)) return p->rc;
  rp->has_duration = 1;
  t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_REPLICATION) return qlp_fail_expected(p, t, lit, pos, "REPLICATION");
  if (qlp_int(p, 1, INT_MAX, &rp->replication)) return p->rc;
  rp->has_replication = 1;
  if (qlp_accept_tok(p, QL_TOK_SHARD)) {
    if (parse_shard_duration(p, &rp->shard_duration_ns)) return p->rc;
    rp->has_shard_duration = 1;
  }
  if (qlp_accept_tok(p, QL_TOK_DEFAULT)) rp->is_default = 1;
  return p->rc;
}

static int parse_alter_rp(parser *p, ql_rp *rp) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_DEFAULT) rp->name = "default";
  else if (t == QL_TOK_IDENT) rp->name = lit;
  else return qlp_fail_expected(p, t, lit, pos, "identifier");
  if (parse_on_required(p, &rp->db)) return p->rc;
  int found = 0; /* bit per option seen */
  for (;;) {
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    int bit = t == QL_TOK_DURATION ? 1 : t == QL_TOK_REPLICATION ? 2 : t == QL_TOK_SHARD ? 4
              : t == QL_TOK_DEFAULT ? 8 : 0;
    if (bit && (found & bit)) return qlp_fail_at(p, pos, "found duplicate %s option", ql_tok_str(t));
    switch (t) {
    case QL_TOK_DURATION:
      if (qlp_duration_tok(p, &rp->duration_ns)) return p->rc;
      rp->has_duration = 1;
      break;
    case QL_TOK_REPLICATION:
      if (qlp_int(p, 1, INT_MAX, &rp->replication)) return p->rc;
      rp->has_replication = 1;
      break;
    case QL_TOK_SHARD:
      if (parse_shard_duration(p, &rp->shard_duration_ns)) return p->rc;
      rp->has_shard_duration = 1;
      break;
    case QL_TOK_DEFAULT: rp->is_default = 1; break;
    default:
      if (!found)
        return qlp_fail_expected(p, t, lit, pos, "DURATION, REPLICATION, SHARD, DEFAULT");
      qlp_unscan(p);
      return 0;
    }
    found |= bit;
  }
}

/* Statements InfluxDB has and Loom does not parse: report which, at once. */
static int unsupported(parser *p, const char *what) { return qlp_fail_unsup(p, what); }

/* Statements Loom parses (so syntax errors match InfluxDB) but does not
 * execute: remembered, reported as LOOM_EUNSUP once the whole query parsed. */
static int parsed_unsupported(parser *p, ql_stmt *st, const char *what) {
  if (p->rc) return p->rc;
  if (!p->unsup) p->unsup = what;
  st->kind = QL_STMT_SHOW_OTHER;
  st->u.name = what;
  return 0;
}

static int parse_uint64(parser *p) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_INTEGER) return qlp_fail_expected(p, t, lit, pos, "integer");
  errno = 0;
  (void)strtoull(lit, NULL, 10);
  if (errno == ERANGE)
    return qlp_fail_at(p, pos, "strconv.ParseUint: parsing \"%s\": value out of range", lit);
  return 0;
}

/* READ | WRITE | ALL [PRIVILEGES]; *all tells which. */
static int parse_privilege(parser *p, int *all) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  *all = t == QL_TOK_ALL;
  if (t == QL_TOK_READ || t == QL_TOK_WRITE) return 0;
  if (t == QL_TOK_ALL) {
    qlp_accept_tok(p, QL_TOK_PRIVILEGES);
    return p->rc;
  }
  return qlp_fail_expected(p, t, lit, pos, "READ, WRITE, ALL [PRIVILEGES]");
}

/* GRANT priv ON db TO user | GRANT ALL TO user, and REVOKE with FROM. */
static int parse_grant_revoke(parser *p, ql_stmt *st, int grant) {
  int all;
  const char *id;
  ql_tok to = grant ? QL_TOK_TO : QL_TOK_FROM;
  if (parse_privilege(p, &all)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t == QL_TOK_ON) {
    if (qlp_ident(p, &id)) return p->rc;
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != to) return qlp_fail_expected(p, t, lit, pos, ql_tok_str(to));
  } else if (t == to) {
    if (!all) return qlp_fail_expected(p, t, lit, pos, "ON");
  } else {
    return qlp_fail_expected(p, t, lit, pos, all ? (grant ? "ON, TO" : "ON, FROM") : "ON");
  }
  if (qlp_ident(p, &id)) return p->rc;
  return parsed_unsupported(p, st, grant ? "GRANT" : "REVOKE");
}

static int parse_create_user(parser *p, ql_stmt *st) {
  const char *id;
  if (qlp_ident(p, &id) || qlp_expect_tok(p, QL_TOK_WITH) || qlp_expect_tok(p, QL_TOK_PASSWORD) ||
      qlp_string(p, &id))
    return p->rc;
  if (qlp_accept_tok(p, QL_TOK_WITH) &&
      (qlp_expect_tok(p, QL_TOK_ALL) || qlp_expect_tok(p, QL_TOK_PRIVILEGES)))
    return p->rc;
  return parsed_unsupported(p, st, "CREATE USER");
}

static int parse_set_password(parser *p, ql_stmt *st) {
  const char *id;
  if (qlp_ident(p, &id)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_EQ) return qlp_fail_expected(p, t, lit, pos, "=");
  if (qlp_string(p, &id)) return p->rc;
  return parsed_unsupported(p, st, "SET PASSWORD");
}

/* name ON db . rp (subscriptions); the dot must follow immediately. */
static int parse_sub_target(parser *p) {
  const char *id;
  if (qlp_ident(p, &id) || parse_on_required(p, &id)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_DOT) return qlp_fail_expected(p, t, lit, pos, ".");
  return qlp_ident(p, &id);
}

static int parse_create_subscription(parser *p, ql_stmt *st) {
  if (parse_sub_target(p) || qlp_expect_tok(p, QL_TOK_DESTINATIONS)) return p->rc;
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  if (t != QL_TOK_ALL && t != QL_TOK_ANY) return qlp_fail_expected(p, t, lit, pos, "ALL, ANY");
  const char *dest;
  if (qlp_string(p, &dest)) return p->rc;
  while (qlp_accept_tok(p, QL_TOK_COMMA))
    if (qlp_string(p, &dest)) return p->rc;
  return parsed_unsupported(p, st, "CREATE SUBSCRIPTION");
}

static int parse_show(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  ql_show *sh = &st->u.show;
  sh->db = "";
  switch (t) {
  case QL_TOK_CONTINUOUS:
    if (qlp_expect_tok(p, QL_TOK_QUERIES)) return p->rc;
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = "CONTINUOUS QUERIES";
    return 0;
  case QL_TOK_DATABASES: st->kind = QL_STMT_SHOW_DATABASES; return 0;
  case QL_TOK_DIAGNOSTICS:
  case QL_TOK_STATS:
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = t == QL_TOK_STATS ? "STATS" : "DIAGNOSTICS";
    if (qlp_accept_tok(p, QL_TOK_FOR)) {
      const char *module;
      return qlp_string(p, &module);
    }
    return p->rc;
  case QL_TOK_FIELD:
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t == QL_TOK_KEY) {
      st->kind = QL_STMT_SHOW_CARDINALITY;
      return parse_card_exact_opt(p, sh, QL_CARD_FIELD_KEY);
    }
    if (t == QL_TOK_KEYS) {
      st->kind = QL_STMT_SHOW_FIELD_KEYS;
      return parse_show_field_keys(p, sh);
    }
    return qlp_fail_expected(p, t, lit, pos, "KEY, KEYS");
  case QL_TOK_GRANTS: {
    const char *id;
    if (qlp_expect_tok(p, QL_TOK_FOR) || qlp_ident(p, &id)) return p->rc;
    return parsed_unsupported(p, st, "SHOW GRANTS");
  }
  case QL_TOK_MEASUREMENT:
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t != QL_TOK_EXACT && t != QL_TOK_CARDINALITY)
      return qlp_fail_expected(p, t, lit, pos, "EXACT, CARDINALITY");
    st->kind = QL_STMT_SHOW_CARDINALITY;
    sh->card_what = QL_CARD_MEASUREMENT;
    if (t == QL_TOK_EXACT) {
      sh->exact = 1;
      t = qlp_scan_ws(p, &pos, &lit);
      if (p->rc) return p->rc;
      if (t != QL_TOK_CARDINALITY) return qlp_fail_expected(p, t, lit, pos, "CARDINALITY");
    }
    return parse_cardinality_tail(p, sh);
  case QL_TOK_MEASUREMENTS:
    st->kind = QL_STMT_SHOW_MEASUREMENTS;
    return parse_show_measurements(p, sh);
  case QL_TOK_QUERIES: st->kind = QL_STMT_SHOW_OTHER; st->u.name = "QUERIES"; return 0;
  case QL_TOK_RETENTION:
    if (qlp_expect_tok(p, QL_TOK_POLICIES)) return p->rc;
    st->kind = QL_STMT_SHOW_RETENTION_POLICIES;
    st->u.name = "";
    if (qlp_accept_tok(p, QL_TOK_ON)) return qlp_ident(p, &st->u.name);
    return p->rc;
  case QL_TOK_SERIES: return parse_show_series(p, st);
  case QL_TOK_SHARD:
    if (qlp_expect_tok(p, QL_TOK_GROUPS)) return p->rc;
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = "SHARD GROUPS";
    return 0;
  case QL_TOK_SHARDS: st->kind = QL_STMT_SHOW_OTHER; st->u.name = "SHARDS"; return 0;
  case QL_TOK_SUBSCRIPTIONS:
    st->kind = QL_STMT_SHOW_OTHER;
    st->u.name = "SUBSCRIPTIONS";
    return 0;
  case QL_TOK_TAG:
    t = qlp_scan_ws(p, &pos, &lit);
    if (p->rc) return p->rc;
    if (t == QL_TOK_KEY) {
      st->kind = QL_STMT_SHOW_CARDINALITY;
      return parse_card_exact_opt(p, sh, QL_CARD_TAG_KEY);
    }
    if (t == QL_TOK_KEYS) {
      st->kind = QL_STMT_SHOW_TAG_KEYS;
      return parse_show_tag_keys(p, sh);
    }
    if (t == QL_TOK_VALUES) return parse_show_tag_values(p, st);
    return qlp_fail_expected(p, t, lit, pos, "KEY, KEYS, VALUES");
  case QL_TOK_USERS: st->kind = QL_STMT_SHOW_OTHER; st->u.name = "USERS"; return 0;
  default:
    return qlp_fail_expected(p, t, lit, pos,
                         "CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, "
                         "MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, "
                         "SUBSCRIPTIONS, TAG, USERS");
  }
}

static int parse_create(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_CONTINUOUS:
    if (qlp_expect_tok(p, QL_TOK_QUERY)) return p->rc;
    return unsupported(p, "CREATE CONTINUOUS QUERY");
  case QL_TOK_DATABASE:
    st->kind = QL_STMT_CREATE_DATABASE;
    return parse_create_database(p, &st->u.db);
  case QL_TOK_USER: return parse_create_user(p, st);
  case QL_TOK_RETENTION:
    if (qlp_expect_tok(p, QL_TOK_POLICY)) return p->rc;
    st->kind = QL_STMT_CREATE_RP;
    return parse_create_rp(p, &st->u.rp);
  case QL_TOK_SUBSCRIPTION: return parse_create_subscription(p, st);
  default:
    return qlp_fail_expected(p, t, lit, pos, "CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION");
  }
}

static int parse_drop(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_CONTINUOUS: {
    const char *id;
    if (qlp_expect_tok(p, QL_TOK_QUERY) || qlp_ident(p, &id) || parse_on_required(p, &id))
      return p->rc;
    return parsed_unsupported(p, st, "DROP CONTINUOUS QUERY");
  }
  case QL_TOK_DATABASE:
    st->kind = QL_STMT_DROP_DATABASE;
    return qlp_ident(p, &st->u.name);
  case QL_TOK_MEASUREMENT:
    st->kind = QL_STMT_DROP_MEASUREMENT;
    return qlp_ident(p, &st->u.name);
  case QL_TOK_RETENTION:
    if (qlp_expect_tok(p, QL_TOK_POLICY)) return p->rc;
    st->kind = QL_STMT_DROP_RP;
    return qlp_ident(p, &st->u.rp.name) || parse_on_required(p, &st->u.rp.db) ? p->rc : 0;
  case QL_TOK_SERIES:
    st->kind = QL_STMT_DROP_SERIES;
    return parse_delete_like(p, &st->u.del);
  case QL_TOK_SHARD:
    if (parse_uint64(p)) return p->rc;
    return parsed_unsupported(p, st, "DROP SHARD");
  case QL_TOK_SUBSCRIPTION:
    if (parse_sub_target(p)) return p->rc;
    return parsed_unsupported(p, st, "DROP SUBSCRIPTION");
  case QL_TOK_USER: {
    const char *id;
    if (qlp_ident(p, &id)) return p->rc;
    return parsed_unsupported(p, st, "DROP USER");
  }
  default:
    return qlp_fail_expected(p, t, lit, pos,
                         "CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, "
                         "SUBSCRIPTION, USER");
  }
}

int qlp_statement(parser *p, ql_stmt *st) {
  ql_pos pos;
  const char *lit;
  ql_tok t = qlp_scan_ws(p, &pos, &lit);
  if (p->rc) return p->rc;
  switch (t) {
  case QL_TOK_SELECT:
    st->kind = QL_STMT_SELECT;
    return qlp_select(p, TARGET_NOT_REQUIRED, &st->u.select);
  case QL_TOK_DELETE:
    st->kind = QL_STMT_DELETE;
    return parse_delete_like(p, &st->u.del);
  case QL_TOK_SHOW: return parse_show(p, st);
  case QL_TOK_CREATE: return parse_create(p, st);
  case QL_TOK_DROP: return parse_drop(p, st);
  case QL_TOK_EXPLAIN:
    st->kind = QL_STMT_EXPLAIN;
    if (qlp_accept_tok(p, QL_TOK_ANALYZE)) st->u.explain.analyze = 1;
    if (p->rc || qlp_expect_tok(p, QL_TOK_SELECT)) return p->rc;
    return qlp_select(p, TARGET_NOT_REQUIRED, &st->u.explain.select);
  case QL_TOK_GRANT: return parse_grant_revoke(p, st, 1);
  case QL_TOK_REVOKE: return parse_grant_revoke(p, st, 0);
  case QL_TOK_ALTER:
    if (qlp_expect_tok(p, QL_TOK_RETENTION) || qlp_expect_tok(p, QL_TOK_POLICY)) return p->rc;
    st->kind = QL_STMT_ALTER_RP;
    return parse_alter_rp(p, &st->u.rp);
  case QL_TOK_SET:
    if (qlp_expect_tok(p, QL_TOK_PASSWORD) || qlp_expect_tok(p, QL_TOK_FOR)) return p->rc;
    return parse_set_password(p, st);
  case QL_TOK_KILL:
    if (qlp_expect_tok(p, QL_TOK_QUERY) || parse_uint64(p)) return p->rc;
    if (qlp_accept_tok(p, QL_TOK_ON)) {
      const char *host;
      if (qlp_ident(p, &host)) return p->rc;
    }
    return parsed_unsupported(p, st, "KILL QUERY");
  default:
    return qlp_fail_expected(p, t, lit, pos,
                         "SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, "
                         "SET, KILL");
  }
}
