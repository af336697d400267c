/* SPDX-License-Identifier: Apache-2.0
 * Value types of the time-series engine, as InfluxDB 1.x has them: float,
 * integer (int64), unsigned (uint64), boolean and string. Columns of values are
 * passed as typed arrays: double[], int64_t[], uint64_t[], uint8_t[] (0 or 1)
 * and ts_str[] respectively.
 */
#ifndef LOOM_TS_TYPES_H
#define LOOM_TS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum ts_type {
  TS_FLOAT = 1,
  TS_INT = 2,
  TS_UINT = 3,
  TS_BOOL = 4,
  TS_STRING = 5
} ts_type;

/* A string value: bytes (not NUL-terminated) and length. The owner is stated
 * by whoever hands it out. */
typedef struct ts_str {
  const char *p;
  uint32_t len;
} ts_str;

/* One value of any type; the type travels beside it. */
typedef union ts_value {
  double f;
  int64_t i;
  uint64_t u;
  uint8_t b;
  ts_str s;
} ts_value;

/* Load element i of a typed column array into a ts_value (no alignment
 * assumptions about vals). */
ts_value ts_value_load(ts_type t, const void *vals, size_t i);

/* "float", "integer", "unsigned", "boolean", "string" (InfluxDB's names). */
const char *ts_type_name(ts_type t);

/* Bytes one element takes in a typed column array. */
size_t ts_type_size(ts_type t);

#endif
