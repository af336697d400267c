/* SPDX-License-Identifier: Apache-2.0
 * ThingsBoard telemetry JSON, the body of POST /api/v1/{token}/telemetry
 * (and later of MQTT v1/devices/me/telemetry): a pure decoder from the body
 * to timestamped groups of key/values, and a formatter of those groups as
 * InfluxDB line protocol, so device telemetry enters the engine through the
 * one ingest path (ingest_lp) and its WAL exactly as /write does.
 */
#ifndef LOOM_INGEST_TBJSON_H
#define LOOM_INGEST_TBJSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ts/types.h"

/*
 * Accepted bodies (UTF-8 JSON, as ThingsBoard accepts them):
 *   {"temp": 21.5, "on": true}                      values at the server time
 *   {"ts": 1700000000000, "values": {"temp": 21.5}} values at ts (ms since the epoch)
 *   [ <either of the above>, ... ]                   several groups
 * An object is the {"ts","values"} form when it has both a "ts" and a
 * "values" member (ThingsBoard's rule); its other members are then ignored.
 * Otherwise every member is a telemetry key (a key named "ts" included).
 *
 * Values and the InfluxDB field type they get (decided so that a key keeps
 * one type whatever the firmware prints, and a conflict is InfluxDB's
 * ordinary "field type conflict"):
 *   number        -> float (every JSON number, 21 as well as 21.5: ThingsBoard
 *                    keeps long and double apart, but firmware prints 21.0 as
 *                    21, which would flip an InfluxDB field between integer
 *                    and float; integers above 2^53 lose precision)
 *   true/false    -> boolean
 *   string        -> string
 *   object, array -> string holding the value's compact JSON (ThingsBoard
 *                    stores JSON values as strings too)
 *   null          -> error (ThingsBoard refuses it as well)
 *
 * Timestamps: "ts" must be an integral number of milliseconds in
 * [-9223372036854, 9223372036854] (so that ts * 1e6 ns fits in int64);
 * groups without ts take the caller's now_ns.
 *
 * Keys: 1..TBJSON_KEY_MAX bytes, no control characters (bytes < 0x20) and
 * no backslash (line protocol cannot carry them unambiguously), not "time"
 * (InfluxDB's reserved column).
 * Duplicate keys in one object: the last wins (JSON parsers' usual rule).
 *
 * Errors name where: "[2].values.temp: null is not a telemetry value",
 * "invalid JSON at line 1, column 9 (byte 8): ...". A body with any error
 * yields no points at all (the caller stores nothing).
 */

#define TBJSON_KEY_MAX 255
#define TBJSON_ERR_MAX 256 /* a useful size for the caller's err buffer */

/* One key/value. For TS_STRING, v.s points into the batch (NUL-terminated
 * too). key is NUL-terminated and owned by the batch. */
typedef struct tbjson_kv {
  const char *key;
  uint32_t key_len; /* bytes */
  ts_type type;     /* decode gives TS_FLOAT, TS_BOOL or TS_STRING; format also
                       takes TS_INT (other producers: Sparkplug, UNS rules) */
  ts_value v;
} tbjson_kv;

/* A number's text as the decoder read it (JSON number syntax, which line
 * protocol reads as a float: the same double). len 0: none. */
typedef struct tbjson_num {
  const char *p;
  uint32_t len;
} tbjson_num;

/* Values sharing one timestamp: kvs[first .. first + n) of the batch. */
typedef struct tbjson_group {
  int64_t ts_ns;
  size_t first, n; /* n >= 1: groups without values are not kept */
} tbjson_group;

typedef struct tbjson_batch {
  tbjson_group *groups; /* in body order */
  size_t n_groups;
  tbjson_kv *kvs;
  size_t n_kvs;
  /* internal */
  size_t cap_groups, cap_kvs;
  void *root;  /* the parsed document (json_t *): keys and strings point into it */
  char **strs; /* compact JSON of object and array values (loom_malloc) */
  size_t n_strs, cap_strs;
  tbjson_num *nums; /* NULL, or one per kv (cap_kvs of them): TS_FLOAT values'
                       source text, copied by tbjson_format_lp instead of
                       formatting v.f (tbjson_decode_flat fills it) */
} tbjson_batch;

/* Initialise an empty batch (no allocation). */
void tbjson_batch_init(tbjson_batch *b);
/* Release everything; the batch may be initialised again. */
void tbjson_batch_deinit(tbjson_batch *b);

/* Decode a whole body of len bytes into b (which must be empty: freshly
 * initialised); flat objects take tbjson_decode_flat, others jansson. now_ns is the time of groups without "ts". Returns 0 (a body
 * with no values, e.g. {}, gives 0 groups), LOOM_EINVAL (the body is not
 * telemetry; err receives a message naming the position or key and b holds
 * nothing), or LOOM_ENOMEM. err may be NULL. Pure; any thread. */
int tbjson_decode(tbjson_batch *b, const char *body, size_t len, int64_t now_ns, char *err,
                  size_t errlen);
/* tbjson_decode without its fast path (tbjson_decode_flat): every body
 * through the JSON library. Same contract; b->nums stays NULL. For tests
 * and the fuzz target that hold the two to the same results. */
int tbjson_decode_json(tbjson_batch *b, const char *body, size_t len, int64_t now_ns, char *err,
                       size_t errlen);

/* The fast path of tbjson_decode for the common body: one flat object whose
 * members are numbers, true/false or strings without escapes (no nested
 * object or array, no null, no duplicate key, no "ts" together with
 * "values", every key valid, at most TBJSON_FLAT_MAX members, valid UTF-8),
 * read without the JSON library into b, with exactly the groups and kvs
 * tbjson_decode gives (one group at now_ns, members in body order, numbers
 * as strtod reads them), plus each number's text in b->nums. b must hold no
 * groups or kvs (strings it owns already may be there). Returns 1 (decoded),
 * 0 (not such a body: b unchanged; tbjson_decode reads it and words any
 * error), or LOOM_ENOMEM (b unchanged). Pure; any thread. */
#define TBJSON_FLAT_MAX 64
int tbjson_decode_flat(tbjson_batch *b, const char *body, size_t len, int64_t now_ns);

/* Building a batch by hand (producers other than the decoders, e.g. UNS
 * rules). tbjson_batch_own: a NUL-terminated copy of s[0..len) owned by the
 * batch, NULL on no memory. tbjson_batch_group: open a group at ts_ns (0 or
 * LOOM_ENOMEM); tbjson_batch_kv: append a key/value to the open group (key
 * must stay valid as long as the batch; the caller fills type and v), NULL
 * on no memory; tbjson_batch_group_end: close the open group, kept only if
 * it got a value. Pure. */
const char *tbjson_batch_own(tbjson_batch *b, const char *s, size_t len);
int tbjson_batch_group(tbjson_batch *b, int64_t ts_ns);
tbjson_kv *tbjson_batch_kv(tbjson_batch *b, const char *key, size_t key_len);
void tbjson_batch_group_end(tbjson_batch *b);

/* Append b as line protocol to out, one line per group:
 *   <measurement>,<tag_key>=<tag_val> k=v[,k=v...] <ts_ns>
 * (timestamps in nanoseconds, floats printed with the fewest digits that
 * read back to the same double, or as their source text when b->nums has
 * it). measurement, tag key and tag value are
 * escaped; they must be non-empty, free of control characters and
 * backslashes, and not start with '#' (a comment line), else LOOM_EINVAL. 0, LOOM_EINVAL or LOOM_ENOMEM (out then holds a partial
 * text). Pure. */
int tbjson_format_lp(const tbjson_batch *b, const char *measurement, const char *tag_key,
                     const char *tag_val, loom_buf *out);

/* The points lp_parse reads from tbjson_format_lp's text for the same
 * arguments, appended to out without that text being parsed (lp_batch_add).
 * *line is the line number of the first group's line in the caller's body;
 * it is advanced past the groups' lines (as lp_parse counts them: a newline
 * inside a string value counts too). 0; LOOM_EINVAL (bad names as for
 * tbjson_format_lp, a key repeated within a group, a non-finite float, a
 * timestamp line protocol cannot carry) or LOOM_ENOMEM: out then holds the
 * points of the groups before (the caller drops out and parses the text
 * instead). Pure. */
typedef struct lp_batch lp_batch;
int tbjson_add_points(const tbjson_batch *b, const char *measurement, const char *tag_key,
                      const char *tag_val, uint32_t *line, lp_batch *out);

#endif
