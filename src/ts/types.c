/* SPDX-License-Identifier: Apache-2.0
 * Names and sizes of the engine's value types.
 */
#include "ts/types.h"

#include <string.h>

const char *ts_type_name(ts_type t) {
  switch (t) {
  case TS_FLOAT: return "float";
  case TS_INT: return "integer";
  case TS_UINT: return "unsigned";
  case TS_BOOL: return "boolean";
  case TS_STRING: return "string";
  }
  return "unknown";
}

size_t ts_type_size(ts_type t) {
  switch (t) {
  case TS_FLOAT: return sizeof(double);
  case TS_INT: return sizeof(int64_t);
  case TS_UINT: return sizeof(uint64_t);
  case TS_BOOL: return 1;
  case TS_STRING: return sizeof(ts_str);
  }
  return 0;
}

ts_value ts_value_load(ts_type t, const void *vals, size_t i) {
  ts_value v;
  memset(&v, 0, sizeof v);
  size_t es = ts_type_size(t);
  memcpy(&v, (const unsigned char *)vals + i * es, es);
  return v;
}
