/* SPDX-License-Identifier: Apache-2.0
 * InfluxQL lexer (see ql_lex.h) and the arena the AST lives in. The structure
 * mirrors InfluxDB's scanner on purpose: a rune reader with a three-rune
 * unread ring feeding a token scanner, because InfluxDB's error positions and
 * several of its quirks fall out of exactly that structure.
 */
#include "query/ql_lex.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

/* ---- arena ------------------------------------------------------------- */

struct ql_arena_block {
  ql_arena_block *next;
  size_t cap; /* usable bytes after the header */
  _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK 8192

void ql_arena_init(ql_arena *a) {
  a->head = NULL;
  a->used = 0;
}

void ql_arena_deinit(ql_arena *a) {
  ql_arena_block *b = a->head;
  while (b) {
    ql_arena_block *next = b->next;
    loom_free(b);
    b = next;
  }
  ql_arena_init(a);
}

void *ql_arena_alloc(ql_arena *a, size_t n) {
  size_t need = (n + 15) & ~(size_t)15;
  if (need < n) return NULL;
  if (!a->head || a->head->cap - a->used < need) {
    size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
    ql_arena_block *b = loom_malloc(sizeof(*b) + cap);
    if (!b) return NULL;
    b->cap = cap;
    if (a->head && need > ARENA_BLOCK) {
      /* Big allocation: keep filling the current block afterwards. */
      b->next = a->head->next;
      a->head->next = b;
      memset(b->data, 0, need);
      return b->data;
    }
    b->next = a->head;
    a->head = b;
    a->used = 0;
  }
  void *p = a->head->data + a->used;
  a->used += need;
  memset(p, 0, need);
  return p;
}

char *ql_arena_strndup(ql_arena *a, const char *s, size_t n) {
  char *p = ql_arena_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* ---- token tables ------------------------------------------------------ */

static const char *const tok_names[QL_TOK_COUNT_] = {
    [QL_TOK_ILLEGAL] = "ILLEGAL", [QL_TOK_EOF] = "EOF", [QL_TOK_WS] = "WS",
    /* COMMENT, BOUNDPARAM, INTEGER and BADREGEX have no name in InfluxDB's
     * table either, so they print as "". */
    [QL_TOK_IDENT] = "IDENT", [QL_TOK_NUMBER] = "NUMBER",
    [QL_TOK_DURATIONVAL] = "DURATIONVAL",
    [QL_TOK_STRING] = "STRING", [QL_TOK_BADSTRING] = "BADSTRING",
    [QL_TOK_BADESCAPE] = "BADESCAPE", [QL_TOK_TRUE] = "TRUE",
    [QL_TOK_FALSE] = "FALSE", [QL_TOK_REGEX] = "REGEX",
    [QL_TOK_BADREGEX] = "BADREGEX",
    [QL_TOK_ADD] = "+", [QL_TOK_SUB] = "-", [QL_TOK_MUL] = "*", [QL_TOK_DIV] = "/",
    [QL_TOK_MOD] = "%", [QL_TOK_BITAND] = "&", [QL_TOK_BITOR] = "|",
    [QL_TOK_BITXOR] = "^", [QL_TOK_AND] = "AND", [QL_TOK_OR] = "OR",
    [QL_TOK_EQ] = "=", [QL_TOK_NEQ] = "!=", [QL_TOK_EQREGEX] = "=~",
    [QL_TOK_NEQREGEX] = "!~", [QL_TOK_LT] = "<", [QL_TOK_LTE] = "<=",
    [QL_TOK_GT] = ">", [QL_TOK_GTE] = ">=",
    [QL_TOK_LPAREN] = "(", [QL_TOK_RPAREN] = ")", [QL_TOK_COMMA] = ",",
    [QL_TOK_COLON] = ":", [QL_TOK_DOUBLECOLON] = "::", [QL_TOK_SEMICOLON] = ";",
    [QL_TOK_DOT] = ".",
    [QL_TOK_ALL] = "ALL", [QL_TOK_ALTER] = "ALTER", [QL_TOK_ANALYZE] = "ANALYZE",
    [QL_TOK_ANY] = "ANY", [QL_TOK_AS] = "AS", [QL_TOK_ASC] = "ASC",
    [QL_TOK_BEGIN] = "BEGIN", [QL_TOK_BY] = "BY",
    [QL_TOK_CARDINALITY] = "CARDINALITY", [QL_TOK_CREATE] = "CREATE",
    [QL_TOK_CONTINUOUS] = "CONTINUOUS", [QL_TOK_DATABASE] = "DATABASE",
    [QL_TOK_DATABASES] = "DATABASES", [QL_TOK_DEFAULT] = "DEFAULT",
    [QL_TOK_DELETE] = "DELETE", [QL_TOK_DESC] = "DESC",
    [QL_TOK_DESTINATIONS] = "DESTINATIONS", [QL_TOK_DIAGNOSTICS] = "DIAGNOSTICS",
    [QL_TOK_DISTINCT] = "DISTINCT", [QL_TOK_DROP] = "DROP",
    [QL_TOK_DURATION] = "DURATION", [QL_TOK_END] = "END", [QL_TOK_EVERY] = "EVERY",
    [QL_TOK_EXACT] = "EXACT", [QL_TOK_EXPLAIN] = "EXPLAIN", [QL_TOK_FIELD] = "FIELD",
    [QL_TOK_FOR] = "FOR", [QL_TOK_FROM] = "FROM", [QL_TOK_GRANT] = "GRANT",
    [QL_TOK_GRANTS] = "GRANTS", [QL_TOK_GROUP] = "GROUP", [QL_TOK_GROUPS] = "GROUPS",
    [QL_TOK_IN] = "IN", [QL_TOK_INF] = "INF", [QL_TOK_INSERT] = "INSERT",
    [QL_TOK_INTO] = "INTO", [QL_TOK_KEY] = "KEY", [QL_TOK_KEYS] = "KEYS",
    [QL_TOK_KILL] = "KILL", [QL_TOK_LIMIT] = "LIMIT",
    [QL_TOK_MEASUREMENT] = "MEASUREMENT", [QL_TOK_MEASUREMENTS] = "MEASUREMENTS",
    [QL_TOK_NAME] = "NAME", [QL_TOK_OFFSET] = "OFFSET", [QL_TOK_ON] = "ON",
    [QL_TOK_ORDER] = "ORDER", [QL_TOK_PASSWORD] = "PASSWORD",
    [QL_TOK_POLICY] = "POLICY", [QL_TOK_POLICIES] = "POLICIES",
    [QL_TOK_PRIVILEGES] = "PRIVILEGES", [QL_TOK_QUERIES] = "QUERIES",
    [QL_TOK_QUERY] = "QUERY", [QL_TOK_READ] = "READ",
    [QL_TOK_REPLICATION] = "REPLICATION", [QL_TOK_RESAMPLE] = "RESAMPLE",
    [QL_TOK_RETENTION] = "RETENTION", [QL_TOK_REVOKE] = "REVOKE",
    [QL_TOK_SELECT] = "SELECT", [QL_TOK_SERIES] = "SERIES", [QL_TOK_SET] = "SET",
    [QL_TOK_SHOW] = "SHOW", [QL_TOK_SHARD] = "SHARD", [QL_TOK_SHARDS] = "SHARDS",
    [QL_TOK_SLIMIT] = "SLIMIT", [QL_TOK_SOFFSET] = "SOFFSET",
    [QL_TOK_STATS] = "STATS", [QL_TOK_SUBSCRIPTION] = "SUBSCRIPTION",
    [QL_TOK_SUBSCRIPTIONS] = "SUBSCRIPTIONS", [QL_TOK_TAG] = "TAG",
    [QL_TOK_TO] = "TO", [QL_TOK_USER] = "USER", [QL_TOK_USERS] = "USERS",
    [QL_TOK_VALUES] = "VALUES", [QL_TOK_WHERE] = "WHERE", [QL_TOK_WITH] = "WITH",
    [QL_TOK_WRITE] = "WRITE",
};

const char *ql_tok_str(ql_tok t) {
  if ((int)t < 0 || t >= QL_TOK_COUNT_ || !tok_names[t]) return "";
  return tok_names[t];
}

ql_tok ql_tok_lookup(const char *s, size_t n) {
  char low[32];
  if (n == 0 || n >= sizeof(low)) return QL_TOK_IDENT;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  low[n] = '\0';
  if (!strcmp(low, "true")) return QL_TOK_TRUE;
  if (!strcmp(low, "false")) return QL_TOK_FALSE;
  if (!strcmp(low, "and")) return QL_TOK_AND;
  if (!strcmp(low, "or")) return QL_TOK_OR;
  for (int t = QL_TOK_ALL; t <= QL_TOK_WRITE; t++) {
    const char *k = tok_names[t];
    size_t i = 0;
    while (k[i] && k[i] - 'A' + 'a' == low[i]) i++;
    if (!k[i] && !low[i]) return (ql_tok)t;
  }
  return QL_TOK_IDENT;
}

int ql_tok_precedence(ql_tok t) {
  switch (t) {
  case QL_TOK_OR: return 1;
  case QL_TOK_AND: return 2;
  case QL_TOK_EQ: case QL_TOK_NEQ: case QL_TOK_EQREGEX: case QL_TOK_NEQREGEX:
  case QL_TOK_LT: case QL_TOK_LTE: case QL_TOK_GT: case QL_TOK_GTE: return 3;
  case QL_TOK_ADD: case QL_TOK_SUB: case QL_TOK_BITOR: case QL_TOK_BITXOR: return 4;
  case QL_TOK_MUL: case QL_TOK_DIV: case QL_TOK_MOD: case QL_TOK_BITAND: return 5;
  default: return 0;
  }
}

int ql_tok_is_operator(ql_tok t) { return t >= QL_TOK_ADD && t <= QL_TOK_GTE; }

static int is_ws(int32_t c) { return c == ' ' || c == '\t' || c == '\n'; }
static int is_letter(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int32_t c) { return c >= '0' && c <= '9'; }
static int is_ident_char(int32_t c) { return is_letter(c) || is_digit(c) || c == '_'; }
#define MICRO 0xB5 /* µ */

int ql_ident_needs_quotes(const char *s) {
  size_t n = strlen(s);
  if (ql_tok_lookup(s, n) != QL_TOK_IDENT) return 1;
  for (size_t i = 0; i < n; i++) {
    int32_t c = (unsigned char)s[i];
    if (i == 0 && !(is_letter(c) || c == '_')) return 1;
    if (i > 0 && !is_ident_char(c)) return 1;
  }
  return 0;
}

/* ---- rune reader ------------------------------------------------------- */

/* One rune from the raw input, as Go's bufio.Reader.ReadRune gives it:
 * invalid UTF-8 is U+FFFD of width 1; end of input is QL_EOF_RUNE without
 * advancing; a NUL byte is also QL_EOF_RUNE (Go's eof marker) but advances. */
static int32_t raw_rune(ql_lex *lx) {
  if (lx->off >= lx->len) return QL_EOF_RUNE;
  const uint8_t *p = lx->text + lx->off;
  size_t left = lx->len - lx->off;
  uint8_t c = p[0];
  int32_t r;
  size_t w;
  if (c < 0x80) {
    r = c;
    w = 1;
  } else if (c >= 0xC2 && c <= 0xDF && left >= 2 && (p[1] & 0xC0) == 0x80) {
    r = ((c & 0x1F) << 6) | (p[1] & 0x3F);
    w = 2;
  } else if (c >= 0xE0 && c <= 0xEF && left >= 3 && (p[1] & 0xC0) == 0x80 &&
             (p[2] & 0xC0) == 0x80) {
    r = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    w = 3;
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD, w = 1;
  } else if (c >= 0xF0 && c <= 0xF4 && left >= 4 && (p[1] & 0xC0) == 0x80 &&
             (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
    r = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    w = 4;
    if (r < 0x10000 || r > 0x10FFFF) r = 0xFFFD, w = 1;
  } else {
    r = 0xFFFD;
    w = 1;
  }
  lx->off += w;
  return r;
}

static int32_t rd_cur(ql_lex *lx, ql_pos *pos) {
  int i = (lx->ri - lx->rn + 3) % 3;
  if (pos) *pos = lx->ring[i].pos;
  return lx->ring[i].ch;
}

static int32_t rd_read(ql_lex *lx, ql_pos *pos) {
  if (lx->rn > 0) {
    lx->rn--;
    return rd_cur(lx, pos);
  }
  int32_t ch = raw_rune(lx);
  if (ch == '\r') {
    size_t save = lx->off;
    int32_t nx = raw_rune(lx);
    if (nx != '\n') lx->off = save;
    ch = '\n';
  }
  lx->ri = (lx->ri + 1) % 3;
  lx->ring[lx->ri].ch = ch;
  lx->ring[lx->ri].pos = lx->pos;
  if (ch == '\n') {
    lx->pos.line++;
    lx->pos.ch = 0;
  } else if (!lx->seen_eof) {
    lx->pos.ch++;
  }
  if (ch == QL_EOF_RUNE) lx->seen_eof = 1;
  return rd_cur(lx, pos);
}

static void rd_unread(ql_lex *lx) {
  if (lx->rn < 3) lx->rn++;
}

void ql_lex_init(ql_lex *lx, const char *text, size_t len, ql_arena *arena) {
  memset(lx, 0, sizeof(*lx));
  lx->text = (const uint8_t *)text;
  lx->len = len;
  lx->arena = arena;
}

int32_t ql_lex_peek_rune(ql_lex *lx) {
  int32_t r = rd_read(lx, NULL);
  if (r != QL_EOF_RUNE) rd_unread(lx);
  return r;
}

/* ---- literal builder --------------------------------------------------- */

typedef struct sb {
  char *p;
  size_t len, cap;
  int oom;
} sb;

static void sb_putc(sb *b, char c) {
  if (b->oom) return;
  if (b->len + 1 >= b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 32;
    char *np = loom_realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  b->p[b->len++] = c;
}

static void sb_rune(sb *b, int32_t r) {
  if (r < 0x80) {
    sb_putc(b, (char)r);
  } else if (r < 0x800) {
    sb_putc(b, (char)(0xC0 | (r >> 6)));
    sb_putc(b, (char)(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    sb_putc(b, (char)(0xE0 | (r >> 12)));
    sb_putc(b, (char)(0x80 | ((r >> 6) & 0x3F)));
    sb_putc(b, (char)(0x80 | (r & 0x3F)));
  } else {
    sb_putc(b, (char)(0xF0 | (r >> 18)));
    sb_putc(b, (char)(0x80 | ((r >> 12) & 0x3F)));
    sb_putc(b, (char)(0x80 | ((r >> 6) & 0x3F)));
    sb_putc(b, (char)(0x80 | (r & 0x3F)));
  }
}

/* Move the builder's text into the arena; frees the builder. */
static const char *sb_finish(ql_lex *lx, sb *b) {
  const char *out = "";
  if (b->oom) {
    lx->oom = 1;
  } else if (b->len) {
    char *s = ql_arena_strndup(lx->arena, b->p, b->len);
    if (s) out = s;
    else lx->oom = 1;
  }
  loom_free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  return out;
}

static const char *lit_rune(ql_lex *lx, int32_t r) {
  sb b = {0};
  sb_rune(&b, r);
  return sb_finish(lx, &b);
}

/* ---- scanner ----------------------------------------------------------- */

/* Go's ScanString over the reader: the opening quote is read first. Returns
 * QL_TOK_STRING, QL_TOK_BADSTRING or QL_TOK_BADESCAPE, text into b. */
static ql_tok scan_string_body(ql_lex *lx, sb *b) {
  int32_t ending = rd_read(lx, NULL);
  if (ending == QL_EOF_RUNE) return QL_TOK_BADSTRING;
  for (;;) {
    int32_t c = rd_read(lx, NULL);
    if (c == ending) return QL_TOK_STRING;
    if (c == QL_EOF_RUNE || c == '\n') return QL_TOK_BADSTRING;
    if (c == '\\') {
      int32_t c1 = rd_read(lx, NULL);
      if (c1 == 'n') sb_putc(b, '\n');
      else if (c1 == '\\') sb_putc(b, '\\');
      else if (c1 == '"') sb_putc(b, '"');
      else if (c1 == '\'') sb_putc(b, '\'');
      else {
        b->len = 0;
        sb_putc(b, '\\');
        if (c1 != QL_EOF_RUNE) sb_rune(b, c1);
        return QL_TOK_BADESCAPE;
      }
    } else {
      sb_rune(b, c);
    }
  }
}

static ql_tok scan_string(ql_lex *lx, ql_pos *pos, const char **lit) {
  sb b = {0};
  rd_unread(lx);
  rd_cur(lx, pos);
  ql_tok t = scan_string_body(lx, &b);
  if (t == QL_TOK_BADESCAPE) rd_cur(lx, pos);
  *lit = sb_finish(lx, &b);
  return t;
}

static void scan_bare_ident(ql_lex *lx, sb *b) {
  for (;;) {
    int32_t c = rd_read(lx, NULL);
    if (c == QL_EOF_RUNE) break;
    if (!is_ident_char(c)) {
      rd_unread(lx);
      break;
    }
    sb_rune(b, c);
  }
}

static ql_tok scan_ident(ql_lex *lx, int lookup, ql_pos *pos, const char **lit) {
  sb b = {0};
  rd_read(lx, pos);
  rd_unread(lx);
  for (;;) {
    int32_t c = rd_read(lx, NULL);
    if (c == QL_EOF_RUNE) break;
    if (c == '"') {
      ql_pos p0;
      loom_free(b.p);
      ql_tok t = scan_string(lx, &p0, lit);
      if (t == QL_TOK_BADSTRING || t == QL_TOK_BADESCAPE) {
        *pos = p0;
        return t;
      }
      return QL_TOK_IDENT;
    }
    if (is_ident_char(c)) {
      rd_unread(lx);
      scan_bare_ident(lx, &b);
    } else {
      rd_unread(lx);
      break;
    }
  }
  if (lookup && !b.oom) {
    ql_tok t = ql_tok_lookup(b.p ? b.p : "", b.len);
    if (t != QL_TOK_IDENT) {
      loom_free(b.p);
      *lit = "";
      return t;
    }
  }
  *lit = sb_finish(lx, &b);
  return QL_TOK_IDENT;
}

static void scan_digits(ql_lex *lx, sb *b) {
  for (;;) {
    int32_t c = rd_read(lx, NULL);
    if (!is_digit(c)) {
      rd_unread(lx);
      break;
    }
    sb_putc(b, (char)c);
  }
}

static ql_tok scan_number(ql_lex *lx, ql_pos *pos, const char **lit) {
  sb b = {0};
  int32_t ch = rd_cur(lx, pos);
  if (ch == '.') {
    int32_t c1 = rd_read(lx, NULL);
    rd_unread(lx);
    if (!is_digit(c1)) {
      *lit = ".";
      return QL_TOK_ILLEGAL;
    }
    rd_unread(lx);
  } else {
    rd_unread(lx);
  }
  scan_digits(lx, &b);
  int is_decimal = 0;
  int32_t c0 = rd_read(lx, NULL);
  if (c0 == '.') {
    is_decimal = 1;
    int32_t c1 = rd_read(lx, NULL);
    if (is_digit(c1)) {
      sb_putc(&b, '.');
      sb_putc(&b, (char)c1);
      scan_digits(lx, &b);
    } else {
      rd_unread(lx);
    }
  } else {
    rd_unread(lx);
  }
  if (!is_decimal) {
    c0 = rd_read(lx, NULL);
    if (is_letter(c0) || c0 == MICRO) {
      sb_rune(&b, c0);
      for (;;) {
        int32_t c1 = rd_read(lx, NULL);
        if (!is_letter(c1) && c1 != MICRO) {
          rd_unread(lx);
          break;
        }
        sb_rune(&b, c1);
      }
      for (;;) {
        int32_t c1 = rd_read(lx, NULL);
        if (is_letter(c1) || c1 == MICRO || is_digit(c1)) {
          sb_rune(&b, c1);
        } else {
          rd_unread(lx);
          break;
        }
      }
      *lit = sb_finish(lx, &b);
      return QL_TOK_DURATIONVAL;
    }
    rd_unread(lx);
    *lit = sb_finish(lx, &b);
    return QL_TOK_INTEGER;
  }
  *lit = sb_finish(lx, &b);
  return QL_TOK_NUMBER;
}

static ql_tok scan_ws(ql_lex *lx, ql_pos *pos, const char **lit) {
  sb b = {0};
  sb_rune(&b, rd_cur(lx, pos));
  for (;;) {
    int32_t c = rd_read(lx, NULL);
    if (c == QL_EOF_RUNE) break;
    if (!is_ws(c)) {
      rd_unread(lx);
      break;
    }
    sb_rune(&b, c);
  }
  *lit = sb_finish(lx, &b);
  return QL_TOK_WS;
}

ql_tok ql_lex_scan(ql_lex *lx, ql_pos *pos, const char **lit) {
  ql_pos p;
  int32_t ch0 = rd_read(lx, &p);
  *pos = p;
  *lit = "";
  if (is_ws(ch0)) return scan_ws(lx, pos, lit);
  if (is_letter(ch0) || ch0 == '_') {
    rd_unread(lx);
    return scan_ident(lx, 1, pos, lit);
  }
  if (is_digit(ch0)) return scan_number(lx, pos, lit);

  int32_t c1;
  switch (ch0) {
  case QL_EOF_RUNE: return QL_TOK_EOF;
  case '"':
    rd_unread(lx);
    return scan_ident(lx, 1, pos, lit);
  case '\'': return scan_string(lx, pos, lit);
  case '.':
    c1 = rd_read(lx, NULL);
    rd_unread(lx);
    if (is_digit(c1)) return scan_number(lx, pos, lit);
    return QL_TOK_DOT;
  case '$': {
    ql_pos ip;
    const char *il;
    ql_tok t = scan_ident(lx, 0, &ip, &il);
    sb b = {0};
    sb_putc(&b, '$');
    for (const char *s = il; *s; s++) sb_putc(&b, *s);
    *lit = sb_finish(lx, &b);
    return t != QL_TOK_IDENT ? t : QL_TOK_BOUNDPARAM;
  }
  case '+': return QL_TOK_ADD;
  case '-':
    c1 = rd_read(lx, NULL);
    if (c1 == '-') {
      for (;;) {
        int32_t c = rd_read(lx, NULL);
        if (c == '\n' || c == QL_EOF_RUNE) break;
      }
      return QL_TOK_COMMENT;
    }
    rd_unread(lx);
    return QL_TOK_SUB;
  case '*': return QL_TOK_MUL;
  case '/':
    c1 = rd_read(lx, NULL);
    if (c1 == '*') {
      for (;;) {
        int32_t c = rd_read(lx, NULL);
        if (c == QL_EOF_RUNE) return QL_TOK_ILLEGAL;
        while (c == '*') {
          c = rd_read(lx, NULL);
          if (c == '/') return QL_TOK_COMMENT;
          if (c == QL_EOF_RUNE) return QL_TOK_ILLEGAL;
        }
      }
    }
    rd_unread(lx);
    return QL_TOK_DIV;
  case '%': return QL_TOK_MOD;
  case '&': return QL_TOK_BITAND;
  case '|': return QL_TOK_BITOR;
  case '^': return QL_TOK_BITXOR;
  case '=':
    if (rd_read(lx, NULL) == '~') return QL_TOK_EQREGEX;
    rd_unread(lx);
    return QL_TOK_EQ;
  case '!':
    c1 = rd_read(lx, NULL);
    if (c1 == '=') return QL_TOK_NEQ;
    if (c1 == '~') return QL_TOK_NEQREGEX;
    rd_unread(lx);
    break;
  case '>':
    if (rd_read(lx, NULL) == '=') return QL_TOK_GTE;
    rd_unread(lx);
    return QL_TOK_GT;
  case '<':
    c1 = rd_read(lx, NULL);
    if (c1 == '=') return QL_TOK_LTE;
    if (c1 == '>') return QL_TOK_NEQ;
    rd_unread(lx);
    return QL_TOK_LT;
  case '(': return QL_TOK_LPAREN;
  case ')': return QL_TOK_RPAREN;
  case ',': return QL_TOK_COMMA;
  case ';': return QL_TOK_SEMICOLON;
  case ':':
    if (rd_read(lx, NULL) == ':') return QL_TOK_DOUBLECOLON;
    rd_unread(lx);
    return QL_TOK_COLON;
  default: break;
  }
  *lit = lit_rune(lx, ch0);
  return QL_TOK_ILLEGAL;
}

ql_tok ql_lex_scan_regex(ql_lex *lx, ql_pos *pos, const char **lit) {
  sb b = {0};
  ql_tok t = QL_TOK_BADREGEX;
  rd_cur(lx, pos);
  *lit = "";
  if (rd_read(lx, NULL) != '/') goto done;
  for (;;) {
    int32_t c = rd_read(lx, NULL);
    if (c == '/') {
      t = QL_TOK_REGEX;
      break;
    }
    if (c == QL_EOF_RUNE || c == '\n') break;
    if (c == '\\') {
      int32_t c1 = rd_read(lx, NULL);
      if (c1 == QL_EOF_RUNE) break;
      if (c1 == '/') {
        sb_putc(&b, '/');
      } else {
        rd_unread(lx);
        sb_putc(&b, '\\');
      }
      continue;
    }
    sb_rune(&b, c);
  }
done:
  if (t == QL_TOK_REGEX) {
    *lit = sb_finish(lx, &b);
  } else {
    loom_free(b.p);
  }
  return t;
}

/* ---- durations --------------------------------------------------------- */

int ql_duration_parse(const char *s, int64_t *ns, char *msg, size_t msglen) {
  size_t n = strlen(s);
  uint64_t d = 0;
  int64_t measure = 0;
  char unit[4] = "";
  size_t i = 0;
  int neg = 0;
  if (n < 2) goto invalid;
  if (s[0] == '-') {
    neg = 1;
    i++;
  }
  while (i < n) {
    size_t start = i;
    while (i < n && is_digit((unsigned char)s[i])) i++;
    if (i >= n || i == start) goto invalid;
    uint64_t v = 0;
    for (size_t k = start; k < i; k++) {
      if (v > (uint64_t)INT64_MAX / 10) goto invalid;
      v = v * 10 + (uint64_t)(s[k] - '0');
      if (v > (uint64_t)INT64_MAX) goto invalid;
    }
    measure = (int64_t)v;
    uint64_t mul;
    unsigned char c = (unsigned char)s[i];
    if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == MICRO) {
      mul = 1000;
      strcpy(unit, "\xC2\xB5");
      i += 2;
      d += v * mul;
      continue;
    }
    unit[0] = (char)c;
    unit[1] = '\0';
    switch (c) {
    case 'n':
      if (i + 1 < n && s[i + 1] == 's') {
        strcpy(unit, "ns");
        d += v;
        i += 2;
        continue;
      }
      goto invalid;
    case 'u': mul = 1000ULL; break;
    case 'm':
      if (i + 1 < n && s[i + 1] == 's') {
        strcpy(unit, "ms");
        d += v * 1000000ULL;
        i += 2;
        continue;
      }
      mul = 60ULL * 1000000000ULL;
      break;
    case 's': mul = 1000000000ULL; break;
    case 'h': mul = 3600ULL * 1000000000ULL; break;
    case 'd': mul = 24ULL * 3600ULL * 1000000000ULL; break;
    case 'w': mul = 7ULL * 24ULL * 3600ULL * 1000000000ULL; break;
    default: goto invalid;
    }
    d += v * mul; /* wraps silently, as Go's time.Duration arithmetic does */
    i++;
  }
  if ((int64_t)d < 0 && !neg) {
    if (msg) snprintf(msg, msglen, "overflowed duration %lld%s: choose a smaller duration or INF",
                      (long long)measure, unit);
    return LOOM_EINVAL;
  }
  if (neg) d = (uint64_t)0 - d;
  *ns = (int64_t)d;
  return 0;
invalid:
  if (msg) snprintf(msg, msglen, "invalid duration");
  return LOOM_EINVAL;
}

size_t ql_duration_format(int64_t ns, char *out, size_t cap) {
  static const struct {
    int64_t unit;
    const char *suffix;
  } units[] = {
      {7LL * 24 * 3600 * 1000000000LL, "w"}, {24LL * 3600 * 1000000000LL, "d"},
      {3600LL * 1000000000LL, "h"},         {60LL * 1000000000LL, "m"},
      {1000000000LL, "s"},                  {1000000LL, "ms"},
      {1000LL, "u"},
  };
  int n;
  if (ns == 0) {
    n = snprintf(out, cap, "0s");
  } else {
    const char *suffix = "ns";
    int64_t v = ns;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
      if (ns % units[i].unit == 0) {
        v = ns / units[i].unit;
        suffix = units[i].suffix;
        break;
      }
    }
    n = snprintf(out, cap, "%lld%s", (long long)v, suffix);
  }
  if (n < 0 || (size_t)n >= cap) {
    if (cap) out[0] = '\0';
    return 0;
  }
  return (size_t)n;
}

/* ---- regex syntax (Go regexp/syntax, Perl flags) ------------------------ */

/* Next rune of a valid UTF-8 string; at the end, U+FFFD without advancing
 * (Go's DecodeRuneInString("") gives RuneError of size 0). */
static int32_t rx_next(const char **ps) {
  const unsigned char *s = (const unsigned char *)*ps;
  if (!*s) return 0xFFFD;
  int32_t r;
  size_t w;
  if (s[0] < 0x80) r = s[0], w = 1;
  else if ((s[0] & 0xE0) == 0xC0 && s[1]) r = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F), w = 2;
  else if ((s[0] & 0xF0) == 0xE0 && s[1] && s[2])
    r = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F), w = 3;
  else if ((s[0] & 0xF8) == 0xF0 && s[1] && s[2] && s[3])
    r = ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F), w = 4;
  else r = 0xFFFD, w = 1;
  *ps += w;
  return r;
}

static int rx_fail(char *msg, size_t msglen, const char *code, const char *frag, size_t n) {
  if (msg && msglen)
    snprintf(msg, msglen, "error parsing regexp: %s: `%.*s`", code, (int)n, frag);
  return LOOM_EINVAL;
}

static int rx_unhex(int32_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Go's parseEscape: *pt at the backslash; the escaped rune in *out. */
static int rx_escape(const char **pt, int32_t *out, char *msg, size_t msglen) {
  const char *s = *pt, *t = s + 1;
  if (!*t) return rx_fail(msg, msglen, "trailing backslash at end of expression", "", 0);
  int32_t c = rx_next(&t), r;
  switch (c) {
  case '1': case '2': case '3': case '4': case '5': case '6': case '7':
    if (!*t || *t < '0' || *t > '7') break;
    /* fallthrough */
  case '0':
    r = c - '0';
    for (int i = 1; i < 3 && *t >= '0' && *t <= '7'; i++) r = r * 8 + (*t++ - '0');
    *out = r;
    *pt = t;
    return 0;
  case 'x':
    if (!*t) break;
    c = rx_next(&t);
    if (c == '{') {
      int nhex = 0;
      r = 0;
      for (;;) {
        if (!*t) goto bad;
        c = rx_next(&t);
        if (c == '}') break;
        int v = rx_unhex(c);
        if (v < 0) goto bad;
        r = r * 16 + v;
        if (r > 0x10FFFF) goto bad;
        nhex++;
      }
      if (!nhex) break;
      *out = r;
      *pt = t;
      return 0;
    } else {
      int x = rx_unhex(c);
      int y = rx_unhex(rx_next(&t));
      if (x < 0 || y < 0) break;
      *out = x * 16 + y;
      *pt = t;
      return 0;
    }
  case 'a': *out = 7; *pt = t; return 0;
  case 'f': *out = 12; *pt = t; return 0;
  case 'n': *out = 10; *pt = t; return 0;
  case 'r': *out = 13; *pt = t; return 0;
  case 't': *out = 9; *pt = t; return 0;
  case 'v': *out = 11; *pt = t; return 0;
  default:
    if (c < 0x80 && !is_ident_char(c)) { /* escaped punctuation (and \_) */
      *out = c;
      *pt = t;
      return 0;
    }
    if (c == '_') {
      *out = c;
      *pt = t;
      return 0;
    }
    break;
  }
bad:
  return rx_fail(msg, msglen, "invalid escape sequence", s, (size_t)(t - s));
}

static int rx_unicode_name_ok(const char *n, size_t len) {
  static const char *const names[] = {
      "Any", "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me",
      "Mn", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc",
      "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs", "Arabic", "Armenian", "Bengali", "Bopomofo",
      "Braille", "Cherokee", "Common", "Cyrillic", "Devanagari", "Ethiopic", "Georgian",
      "Greek", "Gujarati", "Gurmukhi", "Han", "Hangul", "Hebrew", "Hiragana", "Inherited",
      "Kannada", "Katakana", "Khmer", "Lao", "Latin", "Malayalam", "Mongolian", "Myanmar",
      "Ogham", "Oriya", "Runic", "Sinhala", "Syriac", "Tamil", "Telugu", "Thaana", "Thai",
      "Tibetan", "Yi"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strlen(names[i]) == len && !memcmp(names[i], n, len)) return 1;
  return 0;
}

/* \pN, \p{Name}, \PN, \P{^Name}: 1 if consumed, 0 if not one, <0 on error. */
static int rx_unicode_class(const char **pt, char *msg, size_t msglen) {
  const char *s = *pt;
  if (s[0] != '\\' || (s[1] != 'p' && s[1] != 'P')) return 0;
  const char *t = s + 2, *name, *end;
  int32_t c = rx_next(&t);
  if (c != '{') {
    name = s + 2;
    end = t;
  } else {
    const char *close = strchr(s, '}');
    if (!close) return rx_fail(msg, msglen, "invalid character class range", s, strlen(s));
    name = s + 3;
    end = close;
    t = close + 1;
  }
  if (name < end && *name == '^') name++;
  if (!rx_unicode_name_ok(name, (size_t)(end - name)))
    return rx_fail(msg, msglen, "invalid character class range", s, (size_t)(t - s));
  *pt = t;
  return 1;
}

static int rx_perl_class(const char *t) {
  return t[0] == '\\' && t[1] && strchr("dDsSwW", t[1]);
}

static int rx_class_char(const char **pt, const char *whole, int32_t *out, char *msg,
                         size_t msglen) {
  if (!**pt) return rx_fail(msg, msglen, "missing closing ]", whole, strlen(whole));
  if (**pt == '\\') return rx_escape(pt, out, msg, msglen);
  *out = rx_next(pt);
  return 0;
}

static int rx_class(const char **pt, char *msg, size_t msglen) {
  static const char *const posix[] = {"alnum", "alpha", "ascii", "blank", "cntrl", "digit",
                                      "graph", "lower", "print", "punct", "space", "upper",
                                      "word", "xdigit"};
  const char *whole = *pt, *t = whole + 1;
  int first = 1, rc;
  if (*t == '^') t++;
  while (!*t || *t != ']' || first) {
    first = 0;
    if (t[0] == '[' && t[1] == ':' && t[2]) {
      const char *close = strstr(t + 2, ":]");
      if (close) {
        const char *nm = t + 2;
        if (*nm == '^') nm++;
        int ok = 0;
        for (size_t i = 0; i < sizeof(posix) / sizeof(posix[0]); i++)
          if (strlen(posix[i]) == (size_t)(close - nm) && !memcmp(posix[i], nm, (size_t)(close - nm)))
            ok = 1;
        if (!ok)
          return rx_fail(msg, msglen, "invalid character class range", t, (size_t)(close + 2 - t));
        t = close + 2;
        continue;
      }
    }
    if ((rc = rx_unicode_class(&t, msg, msglen)) < 0) return rc;
    if (rc) continue;
    if (rx_perl_class(t)) {
      t += 2;
      continue;
    }
    const char *rng = t;
    int32_t lo, hi;
    if ((rc = rx_class_char(&t, whole, &lo, msg, msglen))) return rc;
    if (t[0] == '-' && t[1] && t[1] != ']') {
      t++;
      if ((rc = rx_class_char(&t, whole, &hi, msg, msglen))) return rc;
      if (hi < lo)
        return rx_fail(msg, msglen, "invalid character class range", rng, (size_t)(t - rng));
    }
  }
  *pt = t + 1;
  return 0;
}

/* Go's parseInt for repeat counts: no leading zeros; -1 when >= 1e8. */
static int rx_int(const char **pt, int *n) {
  const char *s = *pt;
  if (!is_digit((unsigned char)*s)) return 0;
  if (s[0] == '0' && is_digit((unsigned char)s[1])) return 0;
  *n = 0;
  while (is_digit((unsigned char)*s)) {
    if (*n >= 100000000) *n = -1;
    if (*n >= 0) *n = *n * 10 + (*s - '0');
    s++;
  }
  *pt = s;
  return 1;
}

/* {n}, {n,}, {n,m}: 1 when well-formed (else '{' is a literal). */
static int rx_repeat_braces(const char *s, int *min, int *max, const char **after) {
  const char *t = s + 1;
  if (!rx_int(&t, min) || !*t) return 0;
  if (*t != ',') {
    *max = *min;
  } else {
    t++;
    if (!*t) return 0;
    if (*t == '}') *max = -1;
    else if (!rx_int(&t, max)) return 0;
    else if (*max < 0) *min = -1;
  }
  if (*t != '}') return 0;
  *after = t + 1;
  return 1;
}

static int rx_repeat(const char *before, const char **after, const char *last_repeat, int has_atom,
                     char *msg, size_t msglen) {
  if (**after == '?') (*after)++;
  if (last_repeat)
    return rx_fail(msg, msglen, "invalid nested repetition operator", last_repeat,
                   (size_t)(*after - last_repeat));
  if (!has_atom)
    return rx_fail(msg, msglen, "missing argument to repetition operator", before,
                   (size_t)(*after - before));
  return 0;
}

/* (?flags), (?flags:, (?P<name>: *pt at '('. */
static int rx_perl_flags(const char **pt, int *depth, int *has_atom, char *msg, size_t msglen) {
  const char *s = *pt, *t;
  if (strlen(s) > 4 && s[2] == 'P' && s[3] == '<') {
    const char *end = strchr(s, '>');
    if (!end) return rx_fail(msg, msglen, "invalid named capture", s, strlen(s));
    int ok = end > s + 4;
    for (const char *c = s + 4; c < end; c++)
      if (!is_ident_char((unsigned char)*c)) ok = 0;
    if (!ok) return rx_fail(msg, msglen, "invalid named capture", s, (size_t)(end + 1 - s));
    (*depth)++;
    *has_atom = 0;
    *pt = end + 1;
    return 0;
  }
  int neg = 0, saw = 0;
  t = s + 2;
  while (*t) {
    int32_t c = rx_next(&t);
    if (c == 'i' || c == 'm' || c == 's' || c == 'U') {
      saw = 1;
    } else if (c == '-') {
      if (neg) break;
      neg = 1;
      saw = 0;
    } else if (c == ':' || c == ')') {
      if (neg && !saw) break;
      if (c == ':') {
        (*depth)++;
        *has_atom = 0;
      }
      *pt = t;
      return 0;
    } else {
      break;
    }
  }
  return rx_fail(msg, msglen, "invalid or unsupported Perl syntax", s, (size_t)(t - s));
}

int ql_regex_check(const char *re, char *msg, size_t msglen) {
  const char *t = re, *last_repeat = NULL;
  int depth = 0, has_atom = 0, rc;
  while (*t) {
    const char *repeat = NULL;
    switch (*t) {
    case '(':
      if (t[1] == '?') {
        if ((rc = rx_perl_flags(&t, &depth, &has_atom, msg, msglen))) return rc;
      } else {
        depth++;
        has_atom = 0;
        t++;
      }
      break;
    case '|':
      has_atom = 0;
      t++;
      break;
    case ')':
      if (depth == 0) return rx_fail(msg, msglen, "unexpected )", re, strlen(re));
      depth--;
      has_atom = 1;
      t++;
      break;
    case '[':
      if ((rc = rx_class(&t, msg, msglen))) return rc;
      has_atom = 1;
      break;
    case '*':
    case '+':
    case '?': {
      const char *before = t, *after = t + 1;
      if ((rc = rx_repeat(before, &after, last_repeat, has_atom, msg, msglen))) return rc;
      repeat = before;
      t = after;
      break;
    }
    case '{': {
      int min, max;
      const char *after;
      if (!rx_repeat_braces(t, &min, &max, &after)) {
        has_atom = 1;
        t++;
        break;
      }
      if (min < 0 || min > 1000 || max > 1000 || (max >= 0 && min > max))
        return rx_fail(msg, msglen, "invalid repeat count", t, (size_t)(after - t));
      if ((rc = rx_repeat(t, &after, last_repeat, has_atom, msg, msglen))) return rc;
      repeat = t;
      t = after;
      break;
    }
    case '\\':
      if (t[1] == 'A' || t[1] == 'b' || t[1] == 'B' || t[1] == 'z') {
        t += 2;
        has_atom = 1;
        break;
      }
      if (t[1] == 'C') return rx_fail(msg, msglen, "invalid escape sequence", t, 2);
      if (t[1] == 'Q') {
        const char *e = strstr(t + 2, "\\E");
        const char *lit_end = e ? e : t + strlen(t);
        if (lit_end > t + 2) has_atom = 1;
        t = e ? e + 2 : lit_end;
        break;
      }
      if ((rc = rx_unicode_class(&t, msg, msglen)) < 0) return rc;
      if (rc) {
        has_atom = 1;
        break;
      }
      if (rx_perl_class(t)) {
        t += 2;
        has_atom = 1;
        break;
      }
      {
        int32_t c;
        if ((rc = rx_escape(&t, &c, msg, msglen))) return rc;
      }
      has_atom = 1;
      break;
    default:
      rx_next(&t);
      has_atom = 1;
      break;
    }
    last_repeat = repeat;
  }
  if (depth) return rx_fail(msg, msglen, "missing closing )", re, strlen(re));
  return 0;
}
