/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL parser: query text -> ql_query AST (ql_ast.h). A re-implementation
 * of InfluxDB 1.x's influxql parser (checked against InfluxDB 1.6.7) for the
 * statements Loom serves: it accepts what InfluxDB accepts and reports
 * InfluxDB's error messages, e.g. "error parsing query: found FORM, expected
 * FROM at line 1, char 10". Also: expression printing (InfluxDB's String()) and
 * InfluxDB's result column naming. Pure functions; any thread.
 */
#ifndef LOOM_QUERY_QL_PARSE_H
#define LOOM_QUERY_QL_PARSE_H

#include <stddef.h>

#include "core/buf.h"
#include "query/ql_ast.h"

/* Parse a ';'-separated query string text[0..len) (need not be
 * NUL-terminated; a NUL byte ends the input, as in InfluxDB).
 *
 * On success returns 0 and *out owns the statements (possibly zero of them,
 * for "" or ";"); release it with ql_query_free().
 * Errors (*out is NULL, err gets a NUL-terminated message, truncated to
 * errlen; err may be NULL when errlen is 0):
 *   LOOM_EINVAL  syntax error; err is exactly what InfluxDB's /query puts in
 *                its "error" field, including the "error parsing query: "
 *                prefix.
 *   LOOM_EUNSUP  the query is valid InfluxQL but has a statement Loom does
 *                not execute (users, grants, KILL QUERY, DROP SHARD, SET
 *                PASSWORD, subscriptions, continuous queries); err is
 *                "<STATEMENT> is not supported" (no prefix). Their syntax is
 *                still checked, so a malformed one gives InfluxDB's
 *                LOOM_EINVAL message (except CREATE CONTINUOUS QUERY, which
 *                is refused as soon as it is recognised).
 *   LOOM_ENOMEM  out of memory; err is "out of memory".
 * Beyond InfluxDB (whose Go stacks grow), nesting of parentheses, calls and
 * subqueries is limited to 1000 levels ("expression nests too deeply") and a
 * query to 10000 binary operators ("expression too large"), so trees stay
 * safe to walk recursively.
 * Regexes are checked against Go's regexp syntax, as InfluxDB compiles them
 * while parsing (ql_regex_check). Left to the caller, because they are not
 * pure text checks:
 *   - InfluxDB's /query applies strings.TrimSpace to q before parsing, which
 *     shifts error positions: trim leading/trailing white space first.
 *   - InfluxDB loads the tz('...') zone while parsing; ql_parse() accepts any
 *     name, ql_parse_tz() below checks it at the same point InfluxDB does.
 * Checked later by InfluxDB too (statement errors, not parse errors):
 * function names and arities, GROUP BY time() arguments, mixing aggregates
 * and raw fields. */
int ql_parse(const char *text, size_t len, ql_query **out, char *err, size_t errlen);

/* Time zone check for ql_parse_tz(): nonzero when `name` is a zone the
 * executor can load. Go's time.LoadLocation, which InfluxDB uses, accepts ""
 * and "UTC", "Local", and IANA names found in the zone database; it refuses
 * names containing ".." or starting with '/' or '\\'. */
typedef int (*ql_tz_check_fn)(const char *name, void *ctx);

/* ql_parse() that also checks every tz('name') with tz_ok (when non-NULL),
 * right where InfluxDB loads the zone, failing with LOOM_EINVAL and "error
 * parsing query: unable to find time zone <name>" so that the error and its
 * precedence over later syntax errors match InfluxDB. tz_ok runs on the
 * calling thread during the parse. */
int ql_parse_tz(const char *text, size_t len, ql_query **out, char *err, size_t errlen,
                ql_tz_check_fn tz_ok, void *tz_ctx);

/* Free a query from ql_parse(); NULL is a no-op. */
void ql_query_free(ql_query *q);

/* Parse one expression the way a SELECT field is parsed (a leading /regex/ is
 * accepted) and require the end of input after it. The nodes are allocated
 * in arena (caller-owned). Returns 0, LOOM_EINVAL (message in err, with the
 * "error parsing query: " prefix) or LOOM_ENOMEM. Used by tests and fuzzing. */
int ql_parse_expr(const char *text, size_t len, ql_arena *arena, ql_expr **out,
                  char *err, size_t errlen);

/* Append e as InfluxQL text, as InfluxDB's Expr.String() prints it: floats
 * with three decimals ("1.500"), durations shortest ("90m"), strings
 * single-quoted with \\ \' \n escapes, identifiers double-quoted when needed
 * ("host name"::tag), binary operators spaced ("a + b", "a AND b"), calls
 * "name(arg, arg)". Two deliberate differences keep the output re-parseable:
 * call names and DISTINCT operands that need quotes are quoted. 0 or
 * LOOM_ENOMEM. */
int ql_expr_format(const ql_expr *e, loom_buf *out);

/* Append the name InfluxDB gives a SELECT field (Field.Name()): the alias if
 * any; else a call's name ("mean" for mean(value), "max" for max(v) * 2); for
 * a binary expression the variable and call names in it joined by '_'
 * ("v_w" for v + w; calls are not descended into); a variable's name; for a
 * parenthesised expression the name of its content; "" otherwise (literals,
 * wildcards, bare DISTINCT). 0 or LOOM_ENOMEM. */
int ql_field_column_name(const ql_field *f, loom_buf *out);

/* InfluxDB's SelectStatement.ColumnNames(): the result columns of a SELECT
 * whose fields are `fields[0..n)`. When time_name is non-NULL the first
 * column is time_name ("time", or the alias given to a `time` field) and
 * the fields follow; else only the fields. Aliases are taken first; other
 * names come from ql_field_column_name() and a repeated name gets "_1", "_2", ...
 * skipping names already taken: SELECT mean(v), mean(w) -> mean, mean_1.
 * InfluxDB computes this AFTER its rewrites, so the executor must pass the
 * rewritten fields: wildcards expanded (fields and tags sorted), `time`
 * fields removed, a call over * or /re/ expanded into one call per field
 * aliased "<call>_<field>" (mean(*) -> mean_usage_user, ...), and a bare
 * DISTINCT turned into distinct(). *out (an array of *n_out names) and the
 * names are allocated in arena. 0 or LOOM_ENOMEM. */
int ql_column_names(const ql_field *fields, size_t n, const char *time_name,
                    ql_arena *arena, const char ***out, size_t *n_out);

/* "float", "integer", "unsigned", "string", "boolean", "field", "tag", or ""
 * for QL_CAST_NONE. */
const char *ql_cast_name(ql_cast c);

/* Operator text: "+", "AND", "=~", ... */
const char *ql_op_str(ql_op op);

#endif
