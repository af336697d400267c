/* SPDX-License-Identifier: Apache-2.0
 * InfluxDB line protocol parser (1.x and 2.x share the syntax), the decoder
 * behind /write and /api/v2/write. A pure function over a request body: no
 * sockets, no loop, no globals. It turns a body into a batch of points (with
 * the canonical InfluxDB series key already built) plus one error per bad
 * line, worded as InfluxDB words them, so clients see familiar messages.
 */
#ifndef LOOM_INGEST_LP_H
#define LOOM_INGEST_LP_H

#include <stddef.h>
#include <stdint.h>

#include "ts/types.h"

/*
 * Wire format (one point per line, lines separated by '\n'):
 *
 *   measurement[,tagkey=tagval...] fieldkey=fieldval[,fieldkey=fieldval...] [timestamp]
 *
 * - Lines are split on '\n' the way InfluxDB 1.x splits them: a '\n' inside a
 *   double-quoted string field value, or right after a backslash, does not end
 *   the line. A '\r' just before the end of a line is ignored (CRLF bodies).
 * - Leading spaces, tabs and NUL bytes of a line are skipped. Lines that are
 *   then empty are skipped; a line starting with '#' is a comment that ends
 *   at the first '\n' (as InfluxDB 2.x documents; 1.x's splitter let a '"'
 *   in a comment swallow the following lines).
 * - measurement: any bytes up to the first unescaped ',' or ' '; it may not
 *   start with ','. "\," and "\ " stand for ',' and ' '.
 * - tags: key=value pairs after ','; key and value are non-empty; "\,", "\ "
 *   and "\=" stand for ',', ' ' and '='. A byte preceded by a backslash is
 *   never a separator. A value may not contain an unescaped '=' after its
 *   first byte ("invalid tag format"). Two tags with the same key are an
 *   error ("duplicate tags").
 * - fields: after one or more spaces/tabs, key=value pairs separated by ','
 *   (at least one). Keys are non-empty; "\,", "\ ", "\=" and "\"" stand for
 *   the bytes themselves. Values:
 *     float     1  1.5  -1.5e3  1.  .5  -.5  1E+3   (no NaN, no Inf, no
 *               leading '+'; correctly rounded like Go's strconv.ParseFloat;
 *               out of double range is "invalid float")
 *     integer   1i  -42i                (int64 range, else an error)
 *     unsigned  1u                      (uint64 range; InfluxDB 2.x type)
 *     boolean   t T true True TRUE  f F false False FALSE
 *     string    "..."   ("\"" and "\\" stand for '"' and '\'; any other byte,
 *               newlines included, is taken as is)
 *   A key repeated within one line: the last value wins and the field keeps
 *   the position of its first occurrence (InfluxDB 1.x stores the last one as
 *   well); repeated with another type, the line is refused ("field type
 *   conflict: ...", InfluxDB refuses the write).
 * - timestamp: optional signed decimal integer in the request precision,
 *   after one or more spaces/tabs; only spaces may follow it. It is
 *   multiplied into nanoseconds; results outside
 *   [-9223372036854775806, 9223372036854775806] are an error. A missing
 *   timestamp takes the caller's default time truncated (floored) to the
 *   precision, as InfluxDB does.
 * - A '\n' inside the measurement or tags (possible only after a backslash or
 *   in odd lines InfluxDB's splitter keeps whole) ends that section as the
 *   end of the line would, so a series key never holds a newline.
 * - Limits: the series key may not exceed 65535 bytes, nor may the series key
 *   plus 4 plus any raw field key ("max key length exceeded").
 *
 * Canonical series key: the escaped measurement, then ",key=value" for each
 * tag in ascending order of the unescaped key bytes (memcmp order), key and
 * value escaped as above (',', ' ' and '=' get a backslash; the measurement
 * escapes ',' and ' ' only). For ordinary lines this is byte for byte the
 * InfluxDB series key. (InfluxDB's parser sorts on the escaped bytes, which
 * differs only when tag keys hold ',', ' ' or '=': "a b" sorts before "a!"
 * here and after it there. Unescaped order is the one InfluxDB's own Tags type
 * uses.)
 *
 * Checked against InfluxDB 1.6.7 (same messages for every error above).
 * Deliberate divergences from 1.x: unsigned values are accepted (1.x OSS
 * rejects them unless built with uint64 support); CRLF is accepted (1.x says
 * "invalid number" or "bad timestamp"); comments end at '\n'; newlines never
 * enter a series key; bytes after a closing string quote other than ',' or ' '
 * are "invalid field format" (1.x stores a mangled string); an empty field key
 * is always "missing field key"; an unescaped ',' in a field key is "invalid
 * field format" even where 1.x would first report a bad value; a repeated
 * field key with another type fails the line, not the whole write. Reserved
 * names (`time`, 2.x's `_measurement` and `_field`) are not checked here: that
 * is the caller's policy.
 */

/* Kept errors per batch; later ones are only counted (n_errors_total). */
#define LP_MAX_ERRORS 100
/* Longest series key (and series key + 4 + field key), as in InfluxDB. */
#define LP_MAX_KEY_LEN 65535

/* One tag, unescaped. Not NUL-terminated. */
typedef struct lp_tag {
  const char *key, *val;
  uint32_t key_len, val_len; /* bytes */
} lp_tag;

/* One field: key unescaped; for TS_STRING, v.s is the unescaped value (not
 * NUL-terminated). */
typedef struct lp_field {
  const char *key;
  uint32_t key_len; /* bytes */
  ts_type type;
  ts_value v;
} lp_field;

/* One parsed line. Every pointer points into the caller's body or into the
 * batch's arena (see lp_parse for lifetimes). */
typedef struct lp_point {
  const char *series_key;   /* canonical key, see above */
  uint32_t series_key_len;  /* bytes, <= LP_MAX_KEY_LEN */
  const char *measurement;  /* unescaped */
  uint32_t measurement_len; /* bytes, >= 1 */
  lp_tag *tags;             /* sorted by key, keys unique */
  uint32_t n_tags;
  lp_field *fields;         /* in line order, keys unique */
  uint32_t n_fields;        /* >= 1 */
  int64_t ts_ns;            /* ns since the Unix epoch */
  uint32_t line;            /* 1-based line number in the body */
} lp_point;

/* One rejected line. msg is NUL-terminated, in InfluxDB's words:
 * "unable to parse '<line>': <reason>", the line quoted without its leading
 * whitespace and cut to 100 bytes (then "..." is appended). */
typedef struct lp_error {
  uint32_t line; /* 1-based line number in the body */
  char msg[200];
} lp_error;

typedef struct lp_chunk lp_chunk; /* arena block (internal) */

/* Parse results plus the memory behind them. Fields marked "out" are written
 * by lp_parse and read by the caller; the rest is internal. Not thread-safe:
 * one thread uses a batch at a time. */
typedef struct lp_batch {
  lp_point *points;        /* out: n_points points, in body order */
  uint32_t n_points;       /* out */
  lp_error *errors;        /* out: the first n_errors errors */
  uint32_t n_errors;       /* out: <= LP_MAX_ERRORS */
  uint64_t n_errors_total; /* out: every bad line, kept or not */

  /* internal */
  uint32_t cap_points;
  lp_chunk *arena_head, *arena_cur; /* unescaped strings, keys, tag/field arrays */
  size_t arena_total;               /* bytes held by the arena's chunks */
  lp_tag *tmp_tags;                 /* per-line scratch */
  uint32_t cap_tmp_tags;
  lp_field *tmp_fields;
  uint32_t cap_tmp_fields;
  uint32_t *tmp_hash; /* duplicate-field detection for long lines */
  uint32_t cap_tmp_hash;
  void *c_locale; /* locale_t for strtod_l, created on first need */
} lp_batch;

/* Initialise an empty batch (no allocation). */
void lp_batch_init(lp_batch *b);

/* Forget all points and errors but keep (most of) the memory for the next
 * body. Pointers handed out before become invalid. */
void lp_batch_reset(lp_batch *b);

/* Release everything. The batch may be initialised again afterwards. */
void lp_batch_deinit(lp_batch *b);

/* Parse a whole body of `len` bytes and append its points and errors to the
 * batch (call lp_batch_reset first to start from an empty batch; line
 * numbers count from 1 in each body).
 *
 * precision_ns: the unit of the timestamps in the body, in nanoseconds: one
 * of 1, 1000, 1000000, 1000000000, 60000000000 or 3600000000000 (see
 * lp_precision_parse). default_ts_ns: the time given to points without a
 * timestamp (the receive time), truncated to the precision.
 *
 * Each valid line becomes a point; each invalid line becomes an error and the
 * parse goes on with the next line. Returns 0 (even when lines were bad),
 * LOOM_EINVAL for a bad precision (the batch is unchanged), or LOOM_ENOMEM
 * (the batch then holds the points and errors of the lines before the one that
 * failed; reset it before reuse).
 *
 * Lifetimes: measurement, tag keys and values, field keys, string values and
 * series keys point into `body` when they needed no unescaping or reordering,
 * otherwise into the batch's arena. Hence every pointer in the batch is valid
 * until lp_batch_reset or lp_batch_deinit AND only while the caller keeps
 * `body` alive and unchanged. Any thread, one batch per thread.
 */
int lp_parse(lp_batch *b, const char *body, size_t len, int64_t precision_ns,
             int64_t default_ts_ns);

/* Append one point exactly as lp_parse reads it from a line naming
 * measurement, the tags (sorted by key in memcmp order, keys unique) and
 * the fields (keys unique, at least one; string values unescaped) at ts_ns,
 * line number `line`: every string is copied into the batch's arena and the
 * canonical series key is built (see above). For producers that write the
 * line protocol text too (the WAL keeps it) and need not parse it back.
 * Returns 0; LOOM_EINVAL (empty measurement, no fields, an empty tag key or
 * value or field key, tags unsorted or repeated, a repeated field key, the
 * key length limits exceeded, ts_ns outside lp_parse's range) or
 * LOOM_ENOMEM: the batch is then unchanged. Any thread, one batch per
 * thread. */
int lp_batch_add(lp_batch *b, const char *measurement, uint32_t measurement_len,
                 const lp_tag *tags, uint32_t n_tags, const lp_field *fields, uint32_t n_fields,
                 int64_t ts_ns, uint32_t line);

/* Map an HTTP `precision` parameter to nanoseconds: "" or "n" or "ns" -> 1,
 * "u" or "us" -> 1000, "ms" -> 1e6, "s" -> 1e9, "m" -> 60e9, "h" -> 3600e9.
 * s may be NULL (same as ""). Returns 0, or LOOM_EINVAL for anything else
 * (*precision_ns is then unchanged). */
int lp_precision_parse(const char *s, int64_t *precision_ns);

#endif
