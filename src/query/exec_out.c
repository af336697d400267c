/* SPDX-License-Identifier: Apache-2.0
 * Result writer: turns statement results into InfluxDB 1.x's /query
 * response bytes: {"results":[{"statement_id":0,"series":[{"name":..,
 * "tags":{..},"columns":[..],"values":[[..]]}]}]} (one object for the whole
 * response, or one per chunk with "partial":true when chunked), or CSV
 * (name,tags,time,col...). Bytes are buffered and pushed to the sink past a
 * threshold, so results stream.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/numfmt.h"
#include "core/timeutil.h"
#include "query/exec_int.h"

#define FLUSH_AT (64 * 1024)


void qx_out_init(qx_out *o, const qx_options *opt, const qx_sink *sink) {
  memset(o, 0, sizeof *o);
  o->opt = opt;
  o->sink = sink;
  loom_buf_init(&o->buf);
  loom_buf_init(&o->hdr);
  loom_buf_init(&o->csv_cols);
  loom_buf_init(&o->pretty);
  loom_buf_init(&o->cols_json);
  loom_buf_init(&o->cols_ptrs);
  o->epoch_div = 0;
  if (opt->epoch && opt->epoch[0]) {
    if (!strcmp(opt->epoch, "u") || !strcmp(opt->epoch, "\xc2\xb5"))
      o->epoch_div = 1000;
    else
      o->epoch_div = loom_precision_ns(opt->epoch);
    if (o->epoch_div <= 0) o->epoch_div = 1;
  } else if (opt->csv) {
    o->epoch_div = 1;
  }
}

void qx_out_deinit(qx_out *o) {
  loom_buf_deinit(&o->buf);
  loom_buf_deinit(&o->hdr);
  loom_buf_deinit(&o->csv_cols);
  loom_buf_deinit(&o->pretty);
  loom_buf_deinit(&o->cols_json);
  loom_buf_deinit(&o->cols_ptrs);
}

static int begin(qx_out *o, int status) {
  if (o->begun) return o->err;
  o->begun = true;
  if (o->sink->begin &&
      o->sink->begin(o->sink->arg, status, o->opt->csv ? "application/csv" : "application/json") < 0)
    o->err = LOOM_ECLOSED;
  return o->err;
}

static void pp_indent(qx_out *o) {
  loom_buf_append_u8(&o->pretty, '\n');
  for (int i = 0; i < o->pp_depth; i++) loom_buf_append(&o->pretty, "    ", 4);
}

/* Re-indent compact JSON as Go's json.MarshalIndent(v, "", "    ") does. */
static int pp_feed(qx_out *o, const uint8_t *p, size_t n) {
  loom_buf *b = &o->pretty;
  loom_buf_reset(b);
  if (loom_buf_reserve(b, n * 2)) return LOOM_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (o->pp_in_str) {
      loom_buf_append_u8(b, c);
      if (o->pp_esc) o->pp_esc = false;
      else if (c == '\\') o->pp_esc = true;
      else if (c == '"') o->pp_in_str = false;
      continue;
    }
    if (o->pp_open) {
      char open = o->pp_open;
      o->pp_open = 0;
      loom_buf_append_u8(b, (uint8_t)open);
      if ((open == '{' && c == '}') || (open == '[' && c == ']')) {
        loom_buf_append_u8(b, c);
        continue;
      }
      o->pp_depth++;
      pp_indent(o);
    }
    switch (c) {
    case '{':
    case '[': o->pp_open = (char)c; break;
    case '}':
    case ']':
      o->pp_depth--;
      pp_indent(o);
      loom_buf_append_u8(b, c);
      break;
    case ',':
      loom_buf_append_u8(b, ',');
      pp_indent(o);
      break;
    case ':': loom_buf_append(b, ": ", 2); break;
    case '"':
      o->pp_in_str = true;
      loom_buf_append_u8(b, c);
      break;
    default: loom_buf_append_u8(b, c); break;
    }
  }
  return b->len <= b->cap ? 0 : LOOM_ENOMEM;
}

int qx_out_flush(qx_out *o) {
  if (o->err) return o->err;
  if (!o->begun && begin(o, 200)) return o->err;
  if (o->buf.len) {
    const void *d = o->buf.data;
    size_t n = o->buf.len;
    if (o->opt->pretty && !o->opt->csv) {
      if (pp_feed(o, o->buf.data, o->buf.len)) return o->err = LOOM_ENOMEM;
      d = o->pretty.data, n = o->pretty.len;
    }
    if (n && o->sink->write(o->sink->arg, d, n) < 0) o->err = LOOM_ECLOSED;
    o->buf.len = 0;
  }
  return o->err;
}

static int put(qx_out *o, const char *s) {
  if (o->err) return o->err;
  if (loom_buf_append_str(&o->buf, s)) return o->err = LOOM_ENOMEM;
  return 0;
}

static int put_json_str(qx_out *o, const char *s, size_t n) {
  if (o->err) return o->err;
  if (loom_buf_append_json_str(&o->buf, s, n)) return o->err = LOOM_ENOMEM;
  return 0;
}

int qx_out_parse_error(qx_out *o, const char *msg) {
  if (begin(o, 400)) return o->err;
  if (o->opt->csv) {
    put(o, "error\n");
    put_json_str(o, msg, strlen(msg));
    put(o, "\n");
  } else {
    put(o, "{\"error\":");
    put_json_str(o, msg, strlen(msg));
    put(o, "}\n");
  }
  return qx_out_flush(o);
}

int qx_out_stmt_begin(qx_out *o, int stmt_id) {
  o->stmt_id = stmt_id;
  o->stmt_has_series = false;
  o->cols_of = NULL; /* a statement's column names live as long as it runs */
  o->line_open = false;
  if (o->opt->csv || o->opt->chunked) return o->err;
  if (!o->results_open) {
    put(o, "{\"results\":[");
    o->results_open = true;
  }
  if (o->n_stmts_done) put(o, ",");
  char tmp[48];
  snprintf(tmp, sizeof tmp, "{\"statement_id\":%d", stmt_id);
  return put(o, tmp);
}

static void chunk_line_start(qx_out *o) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "{\"results\":[{\"statement_id\":%d", o->stmt_id);
  put(o, tmp);
}

int qx_out_stmt_end(qx_out *o, const char *errmsg) {
  if (o->opt->csv) {
    if (errmsg) {
      put(o, "error\n");
      put_json_str(o, errmsg, strlen(errmsg));
      put(o, "\n");
    }
    o->n_stmts_done++;
    return o->buf.len > FLUSH_AT ? qx_out_flush(o) : o->err;
  }
  if (o->opt->chunked) {
    if (!o->line_open) chunk_line_start(o);
    else put(o, "]");
  } else if (o->stmt_has_series) {
    put(o, "]");
  }
  if (errmsg) {
    put(o, ",\"error\":");
    put_json_str(o, errmsg, strlen(errmsg));
  }
  put(o, o->opt->chunked ? "}]}\n" : "}");
  o->line_open = false;
  o->n_stmts_done++;
  return o->buf.len > FLUSH_AT ? qx_out_flush(o) : o->err;
}

static void csv_field(loom_buf *b, const char *s, size_t n) {
  bool q = n && (s[0] == ' ' || s[0] == '\t');
  for (size_t i = 0; i < n && !q; i++)
    if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') q = true;
  if (!q) {
    loom_buf_append(b, s, n);
    return;
  }
  loom_buf_append_u8(b, '"');
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') loom_buf_append_u8(b, '"');
    loom_buf_append_u8(b, (uint8_t)s[i]);
  }
  loom_buf_append_u8(b, '"');
}

int qx_out_series_begin(qx_out *o, const char *name, const char *const *tag_keys,
                        const char *const *tag_vals, size_t n_tags, const char *const *cols,
                        size_t n_cols) {
  if (o->err) return o->err;
  loom_buf *h = &o->hdr;
  loom_buf_reset(h);
  o->in_series = true;
  o->series_rows = 0;
  o->n_cols = n_cols;
  if (o->opt->csv) {
    loom_buf line, tags;
    loom_buf_init(&line);
    loom_buf_init(&tags);
    loom_buf_append_str(&line, "name,tags");
    for (size_t i = 0; i < n_cols; i++) {
      loom_buf_append_u8(&line, ',');
      csv_field(&line, cols[i], strlen(cols[i]));
    }
    loom_buf_append_u8(&line, '\n');
    if (line.len != o->csv_cols.len || memcmp(line.data, o->csv_cols.data, line.len)) {
      if (o->csv_hdr_written) put(o, "\n");
      loom_buf_reset(&o->csv_cols);
      loom_buf_append(&o->csv_cols, line.data, line.len);
      loom_buf_append(&o->buf, line.data, line.len);
      o->csv_hdr_written = true;
    }
    if (name) csv_field(h, name, strlen(name));
    loom_buf_append_u8(h, ',');
    for (size_t i = 0; i < n_tags; i++) {
      if (i) loom_buf_append_u8(&tags, ',');
      loom_buf_printf(&tags, "%s=%s", tag_keys[i], tag_vals[i]);
    }
    csv_field(h, (const char *)tags.data, tags.len);
    loom_buf_deinit(&line);
    loom_buf_deinit(&tags);
    return o->err;
  }
  loom_buf_append_u8(h, '{');
  if (name) {
    loom_buf_append_str(h, "\"name\":");
    loom_buf_append_json_str(h, name, strlen(name));
    loom_buf_append_u8(h, ',');
  }
  if (n_tags) {
    loom_buf_append_str(h, "\"tags\":{");
    for (size_t i = 0; i < n_tags; i++) {
      if (i) loom_buf_append_u8(h, ',');
      loom_buf_append_json_str(h, tag_keys[i], strlen(tag_keys[i]));
      loom_buf_append_u8(h, ':');
      loom_buf_append_json_str(h, tag_vals[i], strlen(tag_vals[i]));
    }
    loom_buf_append_str(h, "},");
  }
  /* series of a statement share their columns */
  if (!o->cols_of || o->cols_of != cols || o->cols_n != n_cols ||
      (n_cols && memcmp(o->cols_ptrs.data, cols, n_cols * sizeof *cols))) {
    loom_buf *cj = &o->cols_json;
    loom_buf_reset(cj);
    loom_buf_append_str(cj, "\"columns\":[");
    for (size_t i = 0; i < n_cols; i++) {
      if (i) loom_buf_append_u8(cj, ',');
      loom_buf_append_json_str(cj, cols[i], strlen(cols[i]));
    }
    if (loom_buf_append_u8(cj, ']')) return o->err = LOOM_ENOMEM;
    loom_buf_reset(&o->cols_ptrs);
    if (loom_buf_append(&o->cols_ptrs, cols, n_cols * sizeof *cols)) return o->err = LOOM_ENOMEM;
    o->cols_of = cols ? cols : (const char *const *)&o->cols_of, o->cols_n = n_cols;
  }
  if (loom_buf_append(h, o->cols_json.data, o->cols_json.len)) return o->err = LOOM_ENOMEM;
  if (o->opt->chunked) {
    if (o->line_open) put(o, "],\"partial\":true}]}\n");
    chunk_line_start(o);
    put(o, ",\"series\":[");
    o->line_open = true;
  } else {
    put(o, o->stmt_has_series ? "," : ",\"series\":[");
  }
  o->stmt_has_series = true;
  if (loom_buf_append(&o->buf, h->data, h->len)) return o->err = LOOM_ENOMEM;
  return o->err;
}

int qx_out_series_end(qx_out *o) {
  o->in_series = false;
  if (o->opt->csv) return o->err;
  if (o->series_rows) put(o, "]");
  /* InfluxDB's non-chunked response is the merge of 10000-row chunks and
   * keeps the first chunk's "partial" flag: a series past 10000 rows says
   * "partial":true although it is complete */
  if (!o->opt->chunked && o->series_rows > 10000) put(o, ",\"partial\":true");
  put(o, "}");
  return o->buf.len > FLUSH_AT ? qx_out_flush(o) : o->err;
}

int qx_out_row_begin(qx_out *o) {
  o->row_vals = 0;
  if (o->opt->csv) {
    loom_buf_append(&o->buf, o->hdr.data, o->hdr.len);
    return o->err;
  }
  uint32_t cs = o->opt->chunk_size ? o->opt->chunk_size : 10000;
  if (o->opt->chunked && o->series_rows >= cs) {
    put(o, "],\"partial\":true}],\"partial\":true}]}\n");
    chunk_line_start(o);
    put(o, ",\"series\":[");
    loom_buf_append(&o->buf, o->hdr.data, o->hdr.len);
    o->series_rows = 0;
  }
  put(o, o->series_rows ? ",[" : ",\"values\":[[");
  o->series_rows++;
  return o->err;
}

int qx_out_row_end(qx_out *o) {
  put(o, o->opt->csv ? "\n" : "]");
  if (o->buf.len > FLUSH_AT) return qx_out_flush(o);
  return o->err;
}

static void sep(qx_out *o) {
  if (o->row_vals++ || o->opt->csv) loom_buf_append_u8(&o->buf, ',');
}

/* Decimal text of an integer without printf (rows of integers are common). */
static int put_u64(loom_buf *b, uint64_t u, bool neg) {
  char d[24];
  size_t i = sizeof d;
  do {
    d[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (neg) d[--i] = '-';
  return loom_buf_append(b, d + i, sizeof d - i);
}

static int put_i64(loom_buf *b, int64_t v) {
  return v < 0 ? put_u64(b, 0 - (uint64_t)v, true) : put_u64(b, (uint64_t)v, false);
}

int qx_out_time(qx_out *o, int64_t t_ns) {
  if (o->err) return o->err;
  sep(o);
  if (o->epoch_div) {
    int64_t v = t_ns / o->epoch_div;
    if (t_ns % o->epoch_div < 0) v--; /* floor */
    return put_i64(&o->buf, v) ? (o->err = LOOM_ENOMEM) : 0;
  }
  char tmp[48];
  size_t n;
  if (t_ns >= 0 && t_ns % LOOM_NS_PER_S == 0) {
    /* whole seconds (the usual case): the date part is cached per day */
    int64_t secs = t_ns / LOOM_NS_PER_S, day = secs / 86400, r = secs % 86400;
    if (!o->day_len || o->day_cached != day) {
      n = loom_time_format_rfc3339(day * 86400 * LOOM_NS_PER_S, tmp, sizeof tmp);
      if (n < 11 || n - 9 > sizeof o->day_str) return o->err = LOOM_EINVAL;
      o->day_len = n - 9; /* drop "00:00:00Z" */
      memcpy(o->day_str, tmp, o->day_len);
      o->day_cached = day;
    }
    memcpy(tmp, o->day_str, o->day_len);
    n = o->day_len;
    int hh = (int)(r / 3600), mm = (int)(r / 60 % 60), ss = (int)(r % 60);
    tmp[n++] = (char)('0' + hh / 10), tmp[n++] = (char)('0' + hh % 10), tmp[n++] = ':';
    tmp[n++] = (char)('0' + mm / 10), tmp[n++] = (char)('0' + mm % 10), tmp[n++] = ':';
    tmp[n++] = (char)('0' + ss / 10), tmp[n++] = (char)('0' + ss % 10), tmp[n++] = 'Z';
  } else {
    n = loom_time_format_rfc3339(t_ns, tmp, sizeof tmp);
  }
  loom_buf_append_u8(&o->buf, '"');
  loom_buf_append(&o->buf, tmp, n);
  return loom_buf_append_u8(&o->buf, '"') ? (o->err = LOOM_ENOMEM) : 0;
}

/* A JSON string: one copy when nothing needs escaping (tag values, names). */
static int put_json_plain(loom_buf *b, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == '"' || c == '\\') return loom_buf_append_json_str(b, p, n);
  }
  if (loom_buf_reserve(b, n + 2)) return LOOM_ENOMEM;
  b->data[b->len++] = '"';
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len++] = '"';
  return 0;
}

int qx_out_val(qx_out *o, const qx_val *v) {
  if (o->err) return o->err;
  sep(o);
  loom_buf *b = &o->buf;
  int rc = 0;
  switch (v->type) {
  case TS_FLOAT:
    if (o->opt->csv && (isnan(v->v.f) || isinf(v->v.f))) break;
    rc = loom_format_float(v->v.f, b);
    break;
  case TS_INT: rc = put_i64(b, v->v.i); break;
  case TS_UINT: rc = put_u64(b, v->v.u, false); break;
  case TS_BOOL: rc = loom_buf_append_str(b, v->v.b ? "true" : "false"); break;
  case TS_STRING:
    if (o->opt->csv) csv_field(b, v->v.s.p, v->v.s.len);
    else rc = put_json_plain(b, v->v.s.p, v->v.s.len);
    break;
  default:
    if (!o->opt->csv) rc = loom_buf_append_str(b, "null");
    break;
  }
  if (rc) o->err = LOOM_ENOMEM;
  return o->err;
}

int qx_out_str(qx_out *o, const char *s) {
  qx_val v = {.type = TS_STRING};
  v.v.s.p = s;
  v.v.s.len = (uint32_t)strlen(s);
  return qx_out_val(o, &v);
}

int qx_out_finish(qx_out *o) {
  if (!o->opt->csv && !o->opt->chunked) {
    if (!o->results_open) put(o, "{\"results\":[");
    put(o, "]}\n");
  }
  return qx_out_flush(o);
}
