/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL abstract syntax tree, as produced by ql_parse() (ql_parse.h) and
 * consumed by the query executor. The shapes follow InfluxDB 1.x's influxql
 * package so that execution can match InfluxDB exactly: expressions are a tree
 * of ql_expr nodes, statements a tagged union. Ownership: a ql_query owns every
 * node and string reachable from it through one arena (ql_arena); nothing in
 * the tree is freed individually, ql_query_free() releases it all.
 */
#ifndef LOOM_QUERY_QL_AST_H
#define LOOM_QUERY_QL_AST_H

#include <stddef.h>
#include <stdint.h>

/* ---- arena ------------------------------------------------------------- */

/* Bump allocator: blocks obtained through loom_malloc, released together.
 * Implemented in ql_lex.c. Not thread-safe; one owner at a time. */
typedef struct ql_arena_block ql_arena_block;
typedef struct ql_arena {
  ql_arena_block *head; /* newest block; NULL when empty */
  size_t used;          /* bytes used in head */
} ql_arena;

/* Initialise an empty arena (no allocation). */
void ql_arena_init(ql_arena *a);
/* Release every block; the arena is empty and reusable afterwards. */
void ql_arena_deinit(ql_arena *a);
/* n zeroed bytes aligned for any type, or NULL when out of memory. */
void *ql_arena_alloc(ql_arena *a, size_t n);
/* NUL-terminated copy of s[0..n), or NULL when out of memory. */
char *ql_arena_strndup(ql_arena *a, const char *s, size_t n);

/* ---- expressions ------------------------------------------------------- */

typedef enum ql_expr_kind {
  QL_EXPR_NUMBER = 1, /* u.num: numeric literal (integer, unsigned or float) */
  QL_EXPR_STRING,     /* u.str: 'single quoted' literal, escapes resolved; time
                         literals stay strings (the executor resolves them) */
  QL_EXPR_BOOL,       /* u.boolean: true / false */
  QL_EXPR_REGEX,      /* u.str: pattern text between the slashes, with \/
                         unescaped to / and every other escape kept verbatim */
  QL_EXPR_DURATION,   /* u.duration_ns: 10s, 1h30m, -5m (after unary minus) */
  QL_EXPR_IDENT,      /* u.ident: variable reference (field or tag) */
  QL_EXPR_CALL,       /* u.call: function call, name lower-cased; now() too */
  QL_EXPR_BINARY,     /* u.bin: lhs op rhs */
  QL_EXPR_PAREN,      /* u.paren: ( expr ) */
  QL_EXPR_WILDCARD,   /* u.wildcard: *, *::field, *::tag */
  QL_EXPR_DISTINCT    /* u.str: the bare form `DISTINCT name` (not a call) */
} ql_expr_kind;

/* Binary operators. Precedence (InfluxQL): OR 1 < AND 2 < comparisons 3 <
 * + - | ^ 4 < * / % & 5; all left-associative. */
typedef enum ql_op {
  QL_OP_ADD = 1, QL_OP_SUB, QL_OP_MUL, QL_OP_DIV, QL_OP_MOD,
  QL_OP_BITAND, QL_OP_BITOR, QL_OP_BITXOR,
  QL_OP_AND, QL_OP_OR,
  QL_OP_EQ, QL_OP_NEQ, QL_OP_EQREGEX, QL_OP_NEQREGEX,
  QL_OP_LT, QL_OP_LTE, QL_OP_GT, QL_OP_GTE
} ql_op;

/* `ident::type` casts; also the type of `*::field` / `*::tag`. */
typedef enum ql_cast {
  QL_CAST_NONE = 0,
  QL_CAST_FLOAT, QL_CAST_INTEGER, QL_CAST_UNSIGNED, QL_CAST_STRING,
  QL_CAST_BOOLEAN, QL_CAST_FIELD, QL_CAST_TAG
} ql_cast;

/* What kind of numeric literal was written. */
typedef enum ql_num_type {
  QL_NUM_FLOAT = 1, /* had a decimal point: 1.5, .5, 1. */
  QL_NUM_INT,       /* integer literal that fits int64 */
  QL_NUM_UNSIGNED   /* integer literal above INT64_MAX (InfluxDB's UnsignedLiteral) */
} ql_num_type;

typedef struct ql_expr ql_expr;
struct ql_expr {
  ql_expr_kind kind;
  union {
    struct {
      ql_num_type type;
      double f;   /* always set (the float value of the literal) */
      int64_t i;  /* QL_NUM_INT: exact value; otherwise (int64_t)f or 0 */
      uint64_t u; /* QL_NUM_UNSIGNED: exact value; otherwise 0 */
    } num;
    const char *str; /* STRING, REGEX, DISTINCT; NUL-terminated (InfluxQL
                        literals cannot contain NUL) */
    int boolean;
    int64_t duration_ns;
    struct {
      const char *name; /* segments joined by '.', quotes removed */
      ql_cast cast;
    } ident;
    struct {
      const char *name; /* lower-cased */
      ql_expr **args;
      size_t n_args;
    } call;
    struct {
      ql_op op;
      ql_expr *lhs, *rhs;
    } bin;
    ql_expr *paren;
    ql_cast wildcard; /* QL_CAST_NONE, QL_CAST_FIELD or QL_CAST_TAG */
  } u;
};

/* ---- statements -------------------------------------------------------- */

/* A measurement reference. db, rp and name are never NULL: "" means "not
 * given" (as in InfluxDB, `db..m` gives rp ""). regex is non-NULL when the
 * measurement is a /regex/ (name is then ""). */
typedef struct ql_measurement {
  const char *db, *rp, *name;
  const char *regex;
} ql_measurement;

typedef struct ql_select ql_select;

/* One FROM source: a measurement, or a subquery when subquery != NULL. */
typedef struct ql_source {
  ql_measurement m;
  ql_select *subquery;
} ql_source;

/* One SELECT field. alias is "" when there is no AS. */
typedef struct ql_field {
  ql_expr *expr;
  const char *alias;
} ql_field;

typedef enum ql_fill {
  QL_FILL_NULL = 0, /* default, or fill(null) */
  QL_FILL_NONE,
  QL_FILL_NUMBER, /* fill_value holds the number */
  QL_FILL_PREVIOUS,
  QL_FILL_LINEAR
} ql_fill;

struct ql_select {
  ql_field *fields;
  size_t n_fields;
  ql_measurement *into; /* SELECT ... INTO target, NULL when absent */
  ql_source *sources;
  size_t n_sources;
  ql_expr *condition;   /* WHERE, NULL when absent */
  ql_expr **dimensions; /* GROUP BY items: time(...) calls, idents, regexes, * */
  size_t n_dimensions;
  ql_fill fill;
  ql_expr *fill_value;  /* QL_EXPR_NUMBER when fill == QL_FILL_NUMBER, else NULL */
  int has_order;        /* an ORDER BY clause was given */
  int order_desc;       /* ORDER BY ... DESC */
  const char *order_field; /* "time", or "" for `ORDER BY ASC|DESC` */
  int64_t limit, offset, slimit, soffset; /* 0 = not given */
  const char *tz;       /* tz('...') argument, NULL when absent (not validated) */
  int is_raw;           /* no function call among the fields */
};

typedef enum ql_stmt_kind {
  QL_STMT_SELECT = 1,
  QL_STMT_EXPLAIN,              /* u.explain */
  QL_STMT_DELETE,               /* u.del: DELETE [FROM ...] [WHERE ...] */
  QL_STMT_DROP_SERIES,          /* u.del: DROP SERIES [FROM ...] [WHERE ...] */
  QL_STMT_DROP_MEASUREMENT,     /* u.name */
  QL_STMT_SHOW_DATABASES,
  QL_STMT_SHOW_MEASUREMENTS,    /* u.show */
  QL_STMT_SHOW_TAG_KEYS,        /* u.show */
  QL_STMT_SHOW_TAG_VALUES,      /* u.show (tag_op etc. set) */
  QL_STMT_SHOW_FIELD_KEYS,      /* u.show */
  QL_STMT_SHOW_SERIES,          /* u.show */
  QL_STMT_SHOW_CARDINALITY,     /* u.show (card_what, exact, dimensions) */
  QL_STMT_SHOW_RETENTION_POLICIES, /* u.name = database ("" when no ON) */
  QL_STMT_CREATE_DATABASE,      /* u.db */
  QL_STMT_DROP_DATABASE,        /* u.name */
  QL_STMT_CREATE_RP,            /* u.rp */
  QL_STMT_ALTER_RP,             /* u.rp (has_* flags say which options were given) */
  QL_STMT_DROP_RP,              /* u.rp (name, db) */
  QL_STMT_SHOW_OTHER            /* u.name: USERS, QUERIES, SHARDS, SHARD GROUPS,
                                   SUBSCRIPTIONS, CONTINUOUS QUERIES, STATS,
                                   DIAGNOSTICS (parsed, not executed by Loom) */
} ql_stmt_kind;

/* What a SHOW ... CARDINALITY statement counts. */
typedef enum ql_card_what {
  QL_CARD_SERIES = 1, QL_CARD_MEASUREMENT, QL_CARD_TAG_KEY, QL_CARD_TAG_VALUES,
  QL_CARD_FIELD_KEY
} ql_card_what;

/* Shared shape of the SHOW statements over the schema. */
typedef struct ql_show {
  const char *db;          /* ON db; "" when absent */
  ql_source *sources;      /* FROM list (SHOW MEASUREMENTS: the WITH MEASUREMENT
                              source, at most one) */
  size_t n_sources;
  ql_expr *condition;      /* WHERE, NULL when absent */
  ql_expr **dimensions;    /* cardinality statements: GROUP BY */
  size_t n_dimensions;
  int has_order, order_desc;
  int64_t limit, offset, slimit, soffset;
  /* SHOW TAG VALUES: WITH KEY <tag_op> ... */
  ql_op tag_op;            /* QL_OP_EQ, QL_OP_NEQ, QL_OP_EQREGEX, QL_OP_NEQREGEX, or 0 for IN */
  const char **tag_keys;   /* IN (a, b) list, or the single key for = / != */
  size_t n_tag_keys;
  const char *tag_regex;   /* pattern for =~ / !~, else NULL */
  /* SHOW ... CARDINALITY */
  ql_card_what card_what;
  int exact;
} ql_show;

typedef struct ql_create_db {
  const char *name;
  int rp_create;                 /* a WITH clause was given */
  int has_duration;
  int64_t duration_ns;           /* 0 = INF */
  int has_replication;
  int replication;
  int64_t shard_duration_ns;     /* 0 = not given */
  const char *rp_name;           /* "" when not given */
} ql_create_db;

typedef struct ql_rp {
  const char *name, *db;
  int has_duration;
  int64_t duration_ns;           /* 0 = INF */
  int has_replication;
  int replication;
  int has_shard_duration;
  int64_t shard_duration_ns;
  int is_default;
} ql_rp;

typedef struct ql_del {
  ql_source *sources;
  size_t n_sources;
  ql_expr *condition;
} ql_del;

typedef struct ql_explain {
  int analyze;
  ql_select *select;
} ql_explain;

typedef struct ql_stmt {
  ql_stmt_kind kind;
  union {
    ql_select *select;
    ql_explain explain;
    ql_del del;
    ql_show show;
    ql_create_db db;
    ql_rp rp;
    const char *name;
  } u;
} ql_stmt;

/* A parsed query string: statements in order. Owns everything via arena. */
typedef struct ql_query {
  ql_stmt *stmts;
  size_t n_stmts;
  ql_arena arena;
} ql_query;

#endif
