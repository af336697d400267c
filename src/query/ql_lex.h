/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL lexer. A faithful re-implementation of the scanner of InfluxDB 1.x
 * (influxql): same tokens, same positions (0-based line and character,
 * characters counted in code points), same quirks (a NUL byte reads as end of
 * input, "\r\n" and "\r" read as "\n", invalid UTF-8 reads as U+FFFD), so that
 * ql_parse.c can report InfluxDB's exact error messages. Pure: no I/O, no
 * globals. Literal texts are copied into a caller-supplied arena.
 */
#ifndef LOOM_QUERY_QL_LEX_H
#define LOOM_QUERY_QL_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "query/ql_ast.h"

typedef enum ql_tok {
  QL_TOK_ILLEGAL = 0,
  QL_TOK_EOF,
  QL_TOK_WS,
  QL_TOK_COMMENT, /* -- line or block comment */
  /* literals */
  QL_TOK_IDENT,
  QL_TOK_BOUNDPARAM, /* $name */
  QL_TOK_NUMBER,     /* 12.5 */
  QL_TOK_INTEGER,    /* 12 */
  QL_TOK_DURATIONVAL,/* 12h */
  QL_TOK_STRING,     /* 'abc' */
  QL_TOK_BADSTRING,  /* 'abc  (unterminated) */
  QL_TOK_BADESCAPE,  /* \q */
  QL_TOK_TRUE,
  QL_TOK_FALSE,
  QL_TOK_REGEX,
  QL_TOK_BADREGEX,
  /* operators (QL_TOK_ADD..QL_TOK_GTE) */
  QL_TOK_ADD, QL_TOK_SUB, QL_TOK_MUL, QL_TOK_DIV, QL_TOK_MOD,
  QL_TOK_BITAND, QL_TOK_BITOR, QL_TOK_BITXOR,
  QL_TOK_AND, QL_TOK_OR,
  QL_TOK_EQ, QL_TOK_NEQ, QL_TOK_EQREGEX, QL_TOK_NEQREGEX,
  QL_TOK_LT, QL_TOK_LTE, QL_TOK_GT, QL_TOK_GTE,
  /* punctuation */
  QL_TOK_LPAREN, QL_TOK_RPAREN, QL_TOK_COMMA, QL_TOK_COLON, QL_TOK_DOUBLECOLON,
  QL_TOK_SEMICOLON, QL_TOK_DOT,
  /* keywords (QL_TOK_ALL..QL_TOK_WRITE), plus IN which is a keyword only */
  QL_TOK_ALL, QL_TOK_ALTER, QL_TOK_ANALYZE, QL_TOK_ANY, QL_TOK_AS, QL_TOK_ASC,
  QL_TOK_BEGIN, QL_TOK_BY, QL_TOK_CARDINALITY, QL_TOK_CREATE, QL_TOK_CONTINUOUS,
  QL_TOK_DATABASE, QL_TOK_DATABASES, QL_TOK_DEFAULT, QL_TOK_DELETE, QL_TOK_DESC,
  QL_TOK_DESTINATIONS, QL_TOK_DIAGNOSTICS, QL_TOK_DISTINCT, QL_TOK_DROP,
  QL_TOK_DURATION, QL_TOK_END, QL_TOK_EVERY, QL_TOK_EXACT, QL_TOK_EXPLAIN,
  QL_TOK_FIELD, QL_TOK_FOR, QL_TOK_FROM, QL_TOK_GRANT, QL_TOK_GRANTS,
  QL_TOK_GROUP, QL_TOK_GROUPS, QL_TOK_IN, QL_TOK_INF, QL_TOK_INSERT, QL_TOK_INTO,
  QL_TOK_KEY, QL_TOK_KEYS, QL_TOK_KILL, QL_TOK_LIMIT, QL_TOK_MEASUREMENT,
  QL_TOK_MEASUREMENTS, QL_TOK_NAME, QL_TOK_OFFSET, QL_TOK_ON, QL_TOK_ORDER,
  QL_TOK_PASSWORD, QL_TOK_POLICY, QL_TOK_POLICIES, QL_TOK_PRIVILEGES,
  QL_TOK_QUERIES, QL_TOK_QUERY, QL_TOK_READ, QL_TOK_REPLICATION,
  QL_TOK_RESAMPLE, QL_TOK_RETENTION, QL_TOK_REVOKE, QL_TOK_SELECT, QL_TOK_SERIES,
  QL_TOK_SET, QL_TOK_SHOW, QL_TOK_SHARD, QL_TOK_SHARDS, QL_TOK_SLIMIT,
  QL_TOK_SOFFSET, QL_TOK_STATS, QL_TOK_SUBSCRIPTION, QL_TOK_SUBSCRIPTIONS,
  QL_TOK_TAG, QL_TOK_TO, QL_TOK_USER, QL_TOK_USERS, QL_TOK_VALUES, QL_TOK_WHERE,
  QL_TOK_WITH, QL_TOK_WRITE,
  QL_TOK_COUNT_ /* number of tokens; not a token */
} ql_tok;

/* Zero-based position, as InfluxDB keeps it (messages print both + 1). */
typedef struct ql_pos {
  int line;
  int ch; /* code points since the start of the line */
} ql_pos;

/* End of input (and, as in InfluxDB, a NUL byte). */
#define QL_EOF_RUNE 0

/* Lexer state over caller-owned text (which must outlive the lexer). Fields
 * are private to ql_lex.c. */
typedef struct ql_lex {
  const uint8_t *text;
  size_t len, off;        /* input and bytes consumed so far */
  struct {
    int32_t ch;
    ql_pos pos;
  } ring[3];              /* last runes read, for unread */
  int ri, rn;             /* ring index of the last read; runes unread */
  ql_pos pos;             /* position of the next fresh rune */
  int seen_eof;
  ql_arena *arena;        /* where literal texts go */
  int oom;                /* set once an arena allocation failed */
} ql_lex;

/* Start lexing text[0..len). Literal texts are allocated in arena. */
void ql_lex_init(ql_lex *lx, const char *text, size_t len, ql_arena *arena);

/* Next token. *pos gets its position; *lit its literal text (never NULL; ""
 * when the token has none; arena-owned, valid until the arena is released):
 * identifier names without quotes, string contents with escapes resolved,
 * number / duration text, "$name" for bound parameters, the bad character for
 * ILLEGAL. When an allocation fails, lx->oom is set and lit is "". */
ql_tok ql_lex_scan(ql_lex *lx, ql_pos *pos, const char **lit);

/* Scan a /regex/ at the current position (the parser calls this when the next
 * rune is '/'). Returns QL_TOK_REGEX with the pattern in *lit (\/ unescaped),
 * QL_TOK_BADREGEX for an unterminated regex or one with a newline. */
ql_tok ql_lex_scan_regex(ql_lex *lx, ql_pos *pos, const char **lit);

/* The next rune, consumed unless it is QL_EOF_RUNE (InfluxDB's peekRune). */
int32_t ql_lex_peek_rune(ql_lex *lx);

/* Text of a token for messages: "IDENT", "+", "SELECT", ... */
const char *ql_tok_str(ql_tok t);

/* Keyword token for an identifier (case-insensitive), or QL_TOK_IDENT. TRUE,
 * FALSE, AND, OR and IN are keywords too. */
ql_tok ql_tok_lookup(const char *s, size_t n);

/* Operator precedence (1..5) of a binary operator token, 0 if none. */
int ql_tok_precedence(ql_tok t);

/* Nonzero for the binary operator tokens (QL_TOK_ADD..QL_TOK_GTE). */
int ql_tok_is_operator(ql_tok t);

/* Nonzero when the identifier must be double-quoted to re-parse as itself
 * (keyword, empty, or a character outside [A-Za-z0-9_] / leading digit). */
int ql_ident_needs_quotes(const char *s);

/* Check a regex pattern against Go's regexp syntax (RE2, Perl flags), which
 * is what InfluxDB compiles it with at parse time. Returns 0, or LOOM_EINVAL
 * with Go's message in msg, e.g. "error parsing regexp: missing closing ):
 * `(`". Approximations: \p{Name} knows the Unicode categories and common
 * scripts only; nested repeat size limits ((a{100}){100}) are not checked. */
int ql_regex_check(const char *re, char *msg, size_t msglen);

/* Parse an InfluxQL duration literal ("10s", "1h30m", "500ms", "2u", "7d",
 * "1w", "5ns", also with a leading '-') exactly as InfluxDB does, including
 * its silent wrap-around on huge values. Returns 0, or LOOM_EINVAL with
 * "invalid duration" / "overflowed duration ..." in msg (msg may be NULL). */
int ql_duration_parse(const char *s, int64_t *ns, char *msg, size_t msglen);

/* Format a duration as InfluxQL prints it ("0s", "2w", "90m", "1500ms", "3u",
 * "7ns"). Writes a NUL; returns the length, or 0 if cap is too small. */
size_t ql_duration_format(int64_t ns, char *out, size_t cap);

#endif
