/* SPDX-License-Identifier: Apache-2.0
 * Printing of InfluxQL expressions as InfluxDB's String() does, identifier
 * and string quoting, and InfluxDB's result column naming (Field.Name(),
 * SelectStatement.ColumnNames()). See ql_parse.h for the contracts.
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

/* ---- quoting (InfluxDB's QuoteIdent / QuoteString) ---------------------- */

static int append_escaped(loom_buf *b, const char *s, char quote) {
  for (; *s; s++) {
    int rc;
    if (*s == '\n') rc = loom_buf_append_str(b, "\\n");
    else if (*s == '\\') rc = loom_buf_append_str(b, "\\\\");
    else if (*s == quote) {
      char esc[3] = {'\\', quote, 0};
      rc = loom_buf_append_str(b, esc);
    } else rc = loom_buf_append(b, s, 1);
    if (rc) return rc;
  }
  return 0;
}

int qlp_quote_ident_segs(loom_buf *b, const char *const *segs, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const char *s = segs[i];
    int need = ql_ident_needs_quotes(s) || (i < n - 1 && *s) || ((i == 0 || i == n - 1) && !*s);
    if (need) rc = loom_buf_append_str(b, "\"");
    if (!rc) rc = append_escaped(b, s, '"');
    if (!rc && need) rc = loom_buf_append_str(b, "\"");
    if (!rc && i < n - 1) rc = loom_buf_append_str(b, ".");
  }
  return rc;
}

static int quote_ident(loom_buf *b, const char *s) { return qlp_quote_ident_segs(b, &s, 1); }

/* ---- printing ---------------------------------------------------------- */

const char *ql_cast_name(ql_cast c) {
  switch (c) {
  case QL_CAST_FLOAT: return "float";
  case QL_CAST_INTEGER: return "integer";
  case QL_CAST_UNSIGNED: return "unsigned";
  case QL_CAST_STRING: return "string";
  case QL_CAST_BOOLEAN: return "boolean";
  case QL_CAST_FIELD: return "field";
  case QL_CAST_TAG: return "tag";
  default: return "";
  }
}

int ql_expr_format(const ql_expr *e, loom_buf *b) {
  int rc = 0;
  char tmp[64];
  if (!e) return 0;
  switch (e->kind) {
  case QL_EXPR_NUMBER:
    if (e->u.num.type == QL_NUM_FLOAT) return loom_buf_printf(b, "%.3f", e->u.num.f);
    if (e->u.num.type == QL_NUM_INT) return loom_buf_printf(b, "%lld", (long long)e->u.num.i);
    return loom_buf_printf(b, "%llu", (unsigned long long)e->u.num.u);
  case QL_EXPR_STRING:
    if ((rc = loom_buf_append_str(b, "'")) || (rc = append_escaped(b, e->u.str, '\''))) return rc;
    return loom_buf_append_str(b, "'");
  case QL_EXPR_BOOL: return loom_buf_append_str(b, e->u.boolean ? "true" : "false");
  case QL_EXPR_REGEX:
    if ((rc = loom_buf_append_str(b, "/"))) return rc;
    for (const char *s = e->u.str; *s && !rc; s++)
      rc = *s == '/' ? loom_buf_append_str(b, "\\/") : loom_buf_append(b, s, 1);
    return rc ? rc : loom_buf_append_str(b, "/");
  case QL_EXPR_DURATION:
    ql_duration_format(e->u.duration_ns, tmp, sizeof(tmp));
    return loom_buf_append_str(b, tmp);
  case QL_EXPR_IDENT:
    if ((rc = quote_ident(b, e->u.ident.name))) return rc;
    if (e->u.ident.cast != QL_CAST_NONE)
      rc = loom_buf_printf(b, "::%s", ql_cast_name(e->u.ident.cast));
    return rc;
  case QL_EXPR_CALL:
    if (ql_ident_needs_quotes(e->u.call.name) && strcmp(e->u.call.name, "distinct"))
      rc = quote_ident(b, e->u.call.name);
    else
      rc = loom_buf_append_str(b, e->u.call.name);
    if (rc || (rc = loom_buf_append_str(b, "("))) return rc;
    for (size_t i = 0; i < e->u.call.n_args; i++) {
      if (i && (rc = loom_buf_append_str(b, ", "))) return rc;
      if ((rc = ql_expr_format(e->u.call.args[i], b))) return rc;
    }
    return loom_buf_append_str(b, ")");
  case QL_EXPR_BINARY:
    if ((rc = ql_expr_format(e->u.bin.lhs, b))) return rc;
    if ((rc = loom_buf_printf(b, " %s ", ql_op_str(e->u.bin.op)))) return rc;
    return ql_expr_format(e->u.bin.rhs, b);
  case QL_EXPR_PAREN:
    if ((rc = loom_buf_append_str(b, "(")) || (rc = ql_expr_format(e->u.paren, b))) return rc;
    return loom_buf_append_str(b, ")");
  case QL_EXPR_WILDCARD:
    return loom_buf_append_str(b, e->u.wildcard == QL_CAST_FIELD ? "*::field"
                                  : e->u.wildcard == QL_CAST_TAG ? "*::tag"
                                                                 : "*");
  case QL_EXPR_DISTINCT:
    if ((rc = loom_buf_append_str(b, "DISTINCT "))) return rc;
    return quote_ident(b, e->u.str);
  }
  return 0;
}

/* ---- column names ------------------------------------------------------ */

/* BinaryExprName: names of variables and calls, left to right. */
static int binary_names(const ql_expr *e, loom_buf *b, int *first) {
  const char *name = NULL;
  int rc = 0;
  switch (e->kind) {
  case QL_EXPR_IDENT: name = e->u.ident.name; break;
  case QL_EXPR_CALL: name = e->u.call.name; break;
  case QL_EXPR_BINARY:
    if ((rc = binary_names(e->u.bin.lhs, b, first))) return rc;
    return binary_names(e->u.bin.rhs, b, first);
  case QL_EXPR_PAREN: return binary_names(e->u.paren, b, first);
  default: return 0;
  }
  if (!*first && (rc = loom_buf_append_str(b, "_"))) return rc;
  *first = 0;
  return loom_buf_append_str(b, name);
}

static int expr_name(const ql_expr *e, loom_buf *b) {
  int first = 1;
  switch (e->kind) {
  case QL_EXPR_CALL: return loom_buf_append_str(b, e->u.call.name);
  case QL_EXPR_BINARY: return binary_names(e, b, &first);
  case QL_EXPR_PAREN: return expr_name(e->u.paren, b);
  case QL_EXPR_IDENT: return loom_buf_append_str(b, e->u.ident.name);
  default: return 0;
  }
}

int ql_field_column_name(const ql_field *f, loom_buf *b) {
  if (f->alias && f->alias[0]) return loom_buf_append_str(b, f->alias);
  return f->expr ? expr_name(f->expr, b) : 0;
}

/* Count of a name in the "names" map of ColumnNames; a linear table is fine
 * for the handful of columns a query has. */
typedef struct name_count {
  const char *name;
  long count;
} name_count;

static name_count *nc_find(name_count *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

int ql_column_names(const ql_field *fields, size_t n, const char *time_name, ql_arena *arena,
                    const char ***out, size_t *n_out) {
  size_t off = time_name ? 1 : 0;
  int rc = LOOM_ENOMEM;
  loom_buf b;
  loom_buf_init(&b);
  /* Each field adds at most one new name and one resolved name. */
  name_count *names = loom_calloc(2 * n + 1, sizeof(*names));
  size_t n_names = 0;
  const char **cols = ql_arena_alloc(arena, (n + off + 1) * sizeof(*cols));
  if (!names || !cols) goto done;
  if (time_name) cols[0] = time_name;
  for (size_t i = 0; i < n; i++) {
    if (fields[i].alias && fields[i].alias[0]) {
      cols[i + off] = fields[i].alias;
      name_count *c = nc_find(names, n_names, fields[i].alias);
      if (!c) {
        c = &names[n_names++];
        c->name = fields[i].alias;
      }
      c->count = 1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (cols[i + off]) continue;
    loom_buf_reset(&b);
    if (ql_field_column_name(&fields[i], &b) || loom_buf_cstr(&b)) goto done;
    const char *name = ql_arena_strndup(arena, b.len ? (const char *)b.data : "", b.len);
    if (!name) goto done;
    name_count *c = nc_find(names, n_names, name);
    if (c) {
      long count = c->count;
      for (;;) {
        char *resolved = NULL;
        loom_buf_reset(&b);
        if (loom_buf_printf(&b, "%s_%ld", name, count) || loom_buf_cstr(&b)) goto done;
        if (!nc_find(names, n_names, (const char *)b.data)) {
          resolved = ql_arena_strndup(arena, (const char *)b.data, b.len);
          if (!resolved) goto done;
          c->count = count + 1;
          name = resolved;
          break;
        }
        count++;
      }
    }
    c = nc_find(names, n_names, name);
    if (!c) {
      c = &names[n_names++];
      c->name = name;
    }
    c->count++;
    cols[i + off] = name;
  }
  *out = cols;
  *n_out = n + off;
  rc = 0;
done:
  loom_free(names);
  loom_buf_deinit(&b);
  return rc;
}
