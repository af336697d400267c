/* SPDX-License-Identifier: Apache-2.0
 * Sparkplug B payload codec over protobuf-c (see spb.h for the format and the
 * value mapping). Before protobuf-c unpacks anything, a schema-aware walk of
 * the wire bytes bounds the nesting depth (protobuf-c recurses without a
 * limit) and refuses group wire types. Memory goes through loom_malloc, the
 * protobuf-c allocations included, so failure injection reaches them.
 */
#include "mqtt/spb.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "mqtt/sparkplug_b.pb-c.h"

typedef Spb__Payload PbPayload;
typedef Spb__Payload__Metric PbMetric;
typedef Spb__Payload__DataSet PbDataSet;
typedef Spb__Payload__Template PbTemplate;
typedef Spb__Payload__PropertySet PbPropSet;
typedef Spb__Payload__PropertySetList PbPropSetList;
typedef Spb__Payload__PropertyValue PbPropValue;

/* ---- allocator ---- */

static void *pb_alloc(void *ud, size_t n) {
  (void)ud;
  return loom_malloc(n ? n : 1);
}
static void pb_free(void *ud, void *ptr) {
  (void)ud;
  loom_free(ptr);
}
static ProtobufCAllocator pb_allocator(void) {
  ProtobufCAllocator a = {pb_alloc, pb_free, NULL};
  return a;
}

/* ---- datatype names ---- */

static const char *const dt_names[SPB_DT_MAX + 1] = {
    "Unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float", "Double", "Boolean", "String", "DateTime", "Text", "UUID", "DataSet", "Bytes",
    "File", "Template", "PropertySet", "PropertySetList", "Int8Array", "Int16Array",
    "Int32Array", "Int64Array", "UInt8Array", "UInt16Array", "UInt32Array", "UInt64Array",
    "FloatArray", "DoubleArray", "BooleanArray", "StringArray", "DateTimeArray"};

const char *spb_datatype_name(uint32_t datatype) {
  return datatype <= SPB_DT_MAX ? dt_names[datatype] : "Unknown";
}

/* ---- wire walk: depth bound and wire-type sanity ---- */

enum { W_LEAF, W_PAYLOAD, W_METRIC, W_DATASET, W_ROW, W_TEMPLATE, W_PSET, W_PVALUE, W_PSETLIST };

/* Which message a length-delimited field holds (W_LEAF: string/bytes/other). */
static int child_kind(int kind, uint64_t field) {
  switch (kind) {
  case W_PAYLOAD: return field == 2 ? W_METRIC : W_LEAF;
  case W_METRIC:
    if (field == 9) return W_PSET;
    if (field == 17) return W_DATASET;
    if (field == 18) return W_TEMPLATE;
    return W_LEAF; /* 8 MetaData holds only scalars: protobuf-c checks it */
  case W_DATASET: return field == 4 ? W_ROW : W_LEAF;
  case W_TEMPLATE: return field == 2 ? W_METRIC : W_LEAF;
  case W_PSET: return field == 2 ? W_PVALUE : W_LEAF;
  case W_PVALUE:
    if (field == 9) return W_PSET;
    if (field == 10) return W_PSETLIST;
    return W_LEAF;
  case W_PSETLIST: return field == 1 ? W_PSET : W_LEAF;
  default: return W_LEAF;
  }
}

static int wire_walk(const uint8_t *p, size_t n, int kind, int depth) {
  if (depth > SPB_MAX_DEPTH) return LOOM_EINVAL;
  loom_rd r;
  loom_rd_init(&r, p, n);
  while (r.len > 0) {
    uint64_t key, len;
    const uint8_t *sub;
    if (loom_rd_uvarint(&r, &key) != 0) return LOOM_EINVAL;
    if ((key >> 3) == 0 || (key >> 3) > 0x1FFFFFFF) return LOOM_EINVAL;
    switch (key & 7) {
    case 0:
      if (loom_rd_uvarint(&r, &len) != 0) return LOOM_EINVAL;
      break;
    case 1:
      if (loom_rd_ptr(&r, &sub, 8) != 0) return LOOM_EINVAL;
      break;
    case 5:
      if (loom_rd_ptr(&r, &sub, 4) != 0) return LOOM_EINVAL;
      break;
    case 2: {
      if (loom_rd_uvarint(&r, &len) != 0 || len > r.len) return LOOM_EINVAL;
      if (loom_rd_ptr(&r, &sub, (size_t)len) != 0) return LOOM_EINVAL;
      int ck = child_kind(kind, key >> 3);
      if (ck != W_LEAF) {
        int rc = wire_walk(sub, (size_t)len, ck, depth + 1);
        if (rc != 0) return rc;
      }
      break;
    }
    default: return LOOM_EINVAL; /* groups (3, 4) and reserved types */
    }
  }
  return 0;
}

/* ---- decoder helpers ---- */

/* A value as carried on the wire, whatever message holds it. */
enum { R_NONE, R_INT, R_LONG, R_FLOAT, R_DOUBLE, R_BOOL, R_STRING, R_BYTES, R_DATASET,
       R_TEMPLATE, R_PSET, R_PSETLIST };
typedef struct raw_value {
  int c;
  uint64_t u;
  double d;
  bool b;
  const char *s;
  const uint8_t *bytes;
  size_t len;
  const void *msg;
} raw_value;

static int keep_str(spb_payload *p, char *s) {
  if (p->n_strs == p->cap_strs) {
    size_t cap = p->cap_strs ? p->cap_strs * 2 : 8;
    char **n = loom_realloc(p->strs, cap * sizeof *n);
    if (!n) return LOOM_ENOMEM;
    p->strs = n;
    p->cap_strs = cap;
  }
  p->strs[p->n_strs++] = s;
  return 0;
}

/* Move b's bytes into a string owned by p; b is left empty. */
static int take_buf(spb_payload *p, loom_buf *b, const char **s, size_t *len) {
  if (loom_buf_cstr(b) != 0) return LOOM_ENOMEM;
  if (keep_str(p, (char *)b->data) != 0) return LOOM_ENOMEM;
  *s = (const char *)b->data;
  *len = b->len;
  loom_buf_init(b);
  return 0;
}

static int json_double(loom_buf *b, double d, bool is_float) {
  if (!isfinite(d)) return loom_buf_append_str(b, "null");
  return loom_buf_printf(b, is_float ? "%.9g" : "%.17g", d);
}

static int json_hex(loom_buf *b, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (loom_buf_append_u8(b, '"') != 0) return LOOM_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    char two[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
    if (loom_buf_append(b, two, 2) != 0) return LOOM_ENOMEM;
  }
  return loom_buf_append_u8(b, '"');
}

static bool is_int_dt(uint32_t dt) { return dt >= SPB_DT_INT8 && dt <= SPB_DT_INT64; }
static bool is_uint_dt(uint32_t dt) { return dt >= SPB_DT_UINT8 && dt <= SPB_DT_UINT64; }

/* Datatype of a value sent without one, from its wire field. */
static uint32_t infer_dt(int c) {
  switch (c) {
  case R_INT: return SPB_DT_UINT32;
  case R_LONG: return SPB_DT_UINT64;
  case R_FLOAT: return SPB_DT_FLOAT;
  case R_DOUBLE: return SPB_DT_DOUBLE;
  case R_BOOL: return SPB_DT_BOOLEAN;
  case R_STRING: return SPB_DT_STRING;
  case R_BYTES: return SPB_DT_BYTES;
  case R_DATASET: return SPB_DT_DATASET;
  case R_TEMPLATE: return SPB_DT_TEMPLATE;
  case R_PSET: return SPB_DT_PROPERTYSET;
  case R_PSETLIST: return SPB_DT_PROPERTYSETLIST;
  default: return SPB_DT_UNKNOWN;
  }
}

static int decode_array(spb_payload *p, uint32_t dt, const uint8_t *q, size_t n, spb_metric *m);
static int decode_dataset(spb_payload *p, const PbDataSet *ds, spb_metric *m, int depth);
static int decode_template(spb_payload *p, const PbTemplate *t, spb_metric *m, int depth);
static int props_json(loom_buf *b, const PbPropSet *ps, int depth);

/* Decode raw value r of datatype dt (0 = infer) into m's value fields. Only
 * LOOM_ENOMEM fails; a value that does not fit sets m->unsup. */
static int decode_raw(spb_payload *p, uint32_t dt, const raw_value *r, spb_metric *m,
                      int depth) {
  if (dt == SPB_DT_UNKNOWN) dt = infer_dt(r->c);
  m->kind = SPB_K_NONE;
  if (r->c == R_NONE) {
    if (!m->is_null) m->unsup = "no value";
    return 0;
  }
  if (is_int_dt(dt) || is_uint_dt(dt)) {
    uint64_t v;
    if (r->c == R_INT) v = r->u;
    else if (r->c == R_LONG) v = r->u;
    else goto mismatch;
    if (dt == SPB_DT_INT64) {
      m->kind = SPB_K_INT;
      m->i = (int64_t)v;
      return 0;
    }
    if (dt == SPB_DT_UINT64 || dt == SPB_DT_UINT32 || dt == SPB_DT_UINT16 ||
        dt == SPB_DT_UINT8) {
      uint64_t max = dt == SPB_DT_UINT8 ? 0xFF : dt == SPB_DT_UINT16 ? 0xFFFF
                     : dt == SPB_DT_UINT32 ? 0xFFFFFFFFu : UINT64_MAX;
      if (v > max) goto range;
      m->kind = SPB_K_UINT;
      m->u = v;
      return 0;
    }
    /* Int8/16/32: the width's pattern or sign-extended to 32 bits */
    unsigned bits = dt == SPB_DT_INT8 ? 8 : dt == SPB_DT_INT16 ? 16 : 32;
    if (v > 0xFFFFFFFFu) goto range;
    uint32_t w = (uint32_t)v;
    int64_t x;
    if (bits == 32) {
      x = (int32_t)w;
    } else {
      uint32_t lim = 1u << bits;
      uint32_t sign_ext_min = 0xFFFFFFFFu - (lim / 2 - 1); /* e.g. 0xFFFFFF80 */
      if (w < lim) x = (w & (lim / 2)) ? (int64_t)w - (int64_t)lim : (int64_t)w;
      else if (w >= sign_ext_min) x = (int32_t)w;
      else goto range;
    }
    m->kind = SPB_K_INT;
    m->i = x;
    return 0;
  }
  switch (dt) {
  case SPB_DT_FLOAT:
  case SPB_DT_DOUBLE:
    if (r->c == R_FLOAT || r->c == R_DOUBLE) {
      m->kind = SPB_K_DOUBLE;
      m->d = r->d;
      return 0;
    }
    goto mismatch;
  case SPB_DT_BOOLEAN:
    if (r->c != R_BOOL) goto mismatch;
    m->kind = SPB_K_BOOL;
    m->b = r->b;
    return 0;
  case SPB_DT_STRING:
  case SPB_DT_TEXT:
  case SPB_DT_UUID:
    if (r->c != R_STRING) goto mismatch;
    m->kind = SPB_K_STRING;
    m->s = r->s;
    m->s_len = strlen(r->s);
    return 0;
  case SPB_DT_DATETIME:
    if (r->c != R_LONG && r->c != R_INT) goto mismatch;
    if (r->u > (uint64_t)INT64_MAX) goto range;
    m->kind = SPB_K_DATETIME;
    m->i = (int64_t)r->u;
    return 0;
  case SPB_DT_BYTES:
  case SPB_DT_FILE:
    if (r->c != R_BYTES) goto mismatch;
    m->kind = SPB_K_BYTES;
    m->s = (const char *)r->bytes;
    m->s_len = r->len;
    return 0;
  case SPB_DT_DATASET:
    if (r->c != R_DATASET) goto mismatch;
    return decode_dataset(p, r->msg, m, depth);
  case SPB_DT_TEMPLATE:
    if (r->c != R_TEMPLATE) goto mismatch;
    return decode_template(p, r->msg, m, depth);
  case SPB_DT_PROPERTYSET:
  case SPB_DT_PROPERTYSETLIST:
    m->unsup = "PropertySet values are not supported as metric values";
    return 0;
  default:
    if (dt >= SPB_DT_INT8_ARRAY && dt <= SPB_DT_DATETIME_ARRAY) {
      if (r->c != R_BYTES) goto mismatch;
      return decode_array(p, dt, r->bytes, r->len, m);
    }
    m->unsup = "unknown datatype";
    return 0;
  }
mismatch:
  m->unsup = "value field does not match the datatype";
  return 0;
range:
  m->unsup = "value out of the datatype's range";
  return 0;
}

/* Append m's decoded value as JSON (null when none). */
static int value_json(loom_buf *b, const spb_metric *m) {
  switch (m->kind) {
  case SPB_K_INT:
  case SPB_K_DATETIME: return loom_buf_printf(b, "%" PRId64, m->i);
  case SPB_K_UINT: return loom_buf_printf(b, "%" PRIu64, m->u);
  case SPB_K_DOUBLE: return json_double(b, m->d, m->datatype == SPB_DT_FLOAT);
  case SPB_K_BOOL: return loom_buf_append_str(b, m->b ? "true" : "false");
  case SPB_K_STRING: return loom_buf_append_json_str(b, m->s, m->s_len);
  case SPB_K_BYTES: return json_hex(b, (const uint8_t *)m->s, m->s_len);
  case SPB_K_JSON: return loom_buf_append(b, m->s, m->s_len);
  default: return loom_buf_append_str(b, "null");
  }
}

static int decode_array(spb_payload *p, uint32_t dt, const uint8_t *q, size_t n, spb_metric *m) {
  loom_buf b;
  loom_buf_init(&b);
  int rc = LOOM_ENOMEM;
  size_t w = 0;
  switch (dt) {
  case SPB_DT_INT8_ARRAY: case SPB_DT_UINT8_ARRAY: w = 1; break;
  case SPB_DT_INT16_ARRAY: case SPB_DT_UINT16_ARRAY: w = 2; break;
  case SPB_DT_INT32_ARRAY: case SPB_DT_UINT32_ARRAY: case SPB_DT_FLOAT_ARRAY: w = 4; break;
  case SPB_DT_INT64_ARRAY: case SPB_DT_UINT64_ARRAY: case SPB_DT_DOUBLE_ARRAY:
  case SPB_DT_DATETIME_ARRAY: w = 8; break;
  default: break;
  }
  if (loom_buf_append_u8(&b, '[') != 0) goto out;
  if (w > 0) {
    if (n % w != 0) {
      m->unsup = "array length is not a multiple of the element size";
      rc = 0;
      goto out;
    }
    for (size_t i = 0; i < n / w; i++) {
      const uint8_t *e = q + i * w;
      uint64_t u = w == 1 ? e[0] : w == 2 ? (uint64_t)(e[0] | e[1] << 8)
                   : w == 4 ? loom_le32(e) : loom_le64(e);
      if (i && loom_buf_append_u8(&b, ',') != 0) goto out;
      int r2;
      switch (dt) {
      case SPB_DT_INT8_ARRAY: r2 = loom_buf_printf(&b, "%d", (int)(int8_t)u); break;
      case SPB_DT_INT16_ARRAY: r2 = loom_buf_printf(&b, "%d", (int)(int16_t)u); break;
      case SPB_DT_INT32_ARRAY: r2 = loom_buf_printf(&b, "%" PRId32, (int32_t)u); break;
      case SPB_DT_INT64_ARRAY:
      case SPB_DT_DATETIME_ARRAY: r2 = loom_buf_printf(&b, "%" PRId64, (int64_t)u); break;
      case SPB_DT_FLOAT_ARRAY: {
        float f;
        uint32_t u32 = (uint32_t)u;
        memcpy(&f, &u32, 4);
        r2 = json_double(&b, f, true);
        break;
      }
      case SPB_DT_DOUBLE_ARRAY: {
        double d;
        memcpy(&d, &u, 8);
        r2 = json_double(&b, d, false);
        break;
      }
      default: r2 = loom_buf_printf(&b, "%" PRIu64, u); break;
      }
      if (r2 != 0) goto out;
    }
  } else if (dt == SPB_DT_BOOLEAN_ARRAY) {
    if (n < 4) {
      m->unsup = "BooleanArray without its count";
      rc = 0;
      goto out;
    }
    uint32_t count = loom_le32(q);
    if ((uint64_t)count > (uint64_t)(n - 4) * 8) {
      m->unsup = "BooleanArray count exceeds its bits";
      rc = 0;
      goto out;
    }
    for (uint32_t i = 0; i < count; i++) {
      bool bit = (q[4 + i / 8] >> (7 - i % 8)) & 1;
      if ((i && loom_buf_append_u8(&b, ',') != 0) ||
          loom_buf_append_str(&b, bit ? "true" : "false") != 0)
        goto out;
    }
  } else { /* StringArray */
    size_t i = 0, k = 0;
    while (i < n) {
      const uint8_t *z = memchr(q + i, 0, n - i);
      size_t len = z ? (size_t)(z - (q + i)) : n - i;
      if ((k++ && loom_buf_append_u8(&b, ',') != 0) ||
          loom_buf_append_json_str(&b, (const char *)q + i, len) != 0)
        goto out;
      i += len + 1;
    }
  }
  if (loom_buf_append_u8(&b, ']') != 0) goto out;
  if (take_buf(p, &b, &m->s, &m->s_len) != 0) goto out;
  m->kind = SPB_K_JSON;
  rc = 0;
out:
  loom_buf_deinit(&b);
  return rc;
}

static void raw_from_dsv(const Spb__Payload__DataSet__DataSetValue *v, raw_value *r) {
  memset(r, 0, sizeof *r);
  if (!v) return;
  switch (v->value_case) {
  case SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_INT_VALUE: r->c = R_INT; r->u = v->int_value; break;
  case SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_LONG_VALUE: r->c = R_LONG; r->u = v->long_value; break;
  case SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_FLOAT_VALUE: r->c = R_FLOAT; r->d = v->float_value; break;
  case SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_DOUBLE_VALUE: r->c = R_DOUBLE; r->d = v->double_value; break;
  case SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_BOOLEAN_VALUE: r->c = R_BOOL; r->b = v->boolean_value; break;
  case SPB__PAYLOAD__DATA_SET__DATA_SET_VALUE__VALUE_STRING_VALUE: r->c = R_STRING; r->s = v->string_value; break;
  default: break;
  }
}

static int decode_dataset(spb_payload *p, const PbDataSet *ds, spb_metric *m, int depth) {
  loom_buf b;
  loom_buf_init(&b);
  int rc = LOOM_ENOMEM;
  if (loom_buf_append_str(&b, "{\"columns\":[") != 0) goto out;
  for (size_t i = 0; i < ds->n_columns; i++) {
    if ((i && loom_buf_append_u8(&b, ',') != 0) ||
        loom_buf_append_json_str(&b, ds->columns[i], strlen(ds->columns[i])) != 0)
      goto out;
  }
  if (loom_buf_append_str(&b, "],\"types\":[") != 0) goto out;
  for (size_t i = 0; i < ds->n_types; i++) {
    if (loom_buf_printf(&b, "%s\"%s\"", i ? "," : "", spb_datatype_name(ds->types[i])) != 0)
      goto out;
  }
  if (loom_buf_append_str(&b, "],\"rows\":[") != 0) goto out;
  for (size_t r = 0; r < ds->n_rows; r++) {
    const Spb__Payload__DataSet__Row *row = ds->rows[r];
    if (loom_buf_append_str(&b, r ? ",[" : "[") != 0) goto out;
    for (size_t c = 0; c < row->n_elements; c++) {
      raw_value rv;
      spb_metric cell = {0};
      raw_from_dsv(row->elements[c], &rv);
      cell.datatype = c < ds->n_types ? ds->types[c] : 0;
      if (decode_raw(p, cell.datatype, &rv, &cell, depth + 1) != 0) goto out;
      if ((c && loom_buf_append_u8(&b, ',') != 0) || value_json(&b, &cell) != 0) goto out;
    }
    if (loom_buf_append_u8(&b, ']') != 0) goto out;
  }
  if (loom_buf_append_str(&b, "]}") != 0) goto out;
  if (take_buf(p, &b, &m->s, &m->s_len) != 0) goto out;
  m->kind = SPB_K_JSON;
  rc = 0;
out:
  loom_buf_deinit(&b);
  return rc;
}

static int decode_metric(spb_payload *p, const PbMetric *pm, spb_metric *m, spb_type_fn type_of,
                         void *ud, int depth);

static int decode_template(spb_payload *p, const PbTemplate *t, spb_metric *m, int depth) {
  loom_buf b;
  loom_buf_init(&b);
  int rc = LOOM_ENOMEM;
  if (loom_buf_append_u8(&b, '{') != 0) goto out;
  if (t->template_ref) {
    if (loom_buf_append_str(&b, "\"template_ref\":") != 0 ||
        loom_buf_append_json_str(&b, t->template_ref, strlen(t->template_ref)) != 0 ||
        loom_buf_append_u8(&b, ',') != 0)
      goto out;
  }
  if (t->version) {
    if (loom_buf_append_str(&b, "\"version\":") != 0 ||
        loom_buf_append_json_str(&b, t->version, strlen(t->version)) != 0 ||
        loom_buf_append_u8(&b, ',') != 0)
      goto out;
  }
  if (loom_buf_printf(&b, "\"is_definition\":%s,\"parameters\":{",
                      t->has_is_definition && t->is_definition ? "true" : "false") != 0)
    goto out;
  for (size_t i = 0; i < t->n_parameters; i++) {
    const Spb__Payload__Template__Parameter *pa = t->parameters[i];
    raw_value rv;
    memset(&rv, 0, sizeof rv);
    switch (pa->value_case) {
    case SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_INT_VALUE: rv.c = R_INT; rv.u = pa->int_value; break;
    case SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_LONG_VALUE: rv.c = R_LONG; rv.u = pa->long_value; break;
    case SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_FLOAT_VALUE: rv.c = R_FLOAT; rv.d = pa->float_value; break;
    case SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_DOUBLE_VALUE: rv.c = R_DOUBLE; rv.d = pa->double_value; break;
    case SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_BOOLEAN_VALUE: rv.c = R_BOOL; rv.b = pa->boolean_value; break;
    case SPB__PAYLOAD__TEMPLATE__PARAMETER__VALUE_STRING_VALUE: rv.c = R_STRING; rv.s = pa->string_value; break;
    default: break;
    }
    spb_metric cell = {0};
    cell.datatype = pa->has_type ? pa->type : 0;
    if (decode_raw(p, cell.datatype, &rv, &cell, depth + 1) != 0) goto out;
    const char *nm = pa->name ? pa->name : "";
    if ((i && loom_buf_append_u8(&b, ',') != 0) ||
        loom_buf_append_json_str(&b, nm, strlen(nm)) != 0 || loom_buf_append_u8(&b, ':') != 0 ||
        value_json(&b, &cell) != 0)
      goto out;
  }
  if (loom_buf_append_str(&b, "},\"metrics\":{") != 0) goto out;
  for (size_t i = 0; i < t->n_metrics; i++) {
    spb_metric cell;
    if (decode_metric(p, t->metrics[i], &cell, NULL, NULL, depth + 1) != 0) goto out;
    const char *nm = cell.name ? cell.name : "";
    if ((i && loom_buf_append_u8(&b, ',') != 0) ||
        loom_buf_append_json_str(&b, nm, strlen(nm)) != 0 || loom_buf_append_u8(&b, ':') != 0 ||
        value_json(&b, &cell) != 0)
      goto out;
  }
  if (loom_buf_append_str(&b, "}}") != 0) goto out;
  if (take_buf(p, &b, &m->s, &m->s_len) != 0) goto out;
  m->kind = SPB_K_JSON;
  rc = 0;
out:
  loom_buf_deinit(&b);
  return rc;
}

static int prop_value_json(loom_buf *b, const PbPropValue *v, int depth) {
  if (!v || (v->has_is_null && v->is_null)) return loom_buf_append_str(b, "null");
  raw_value rv;
  memset(&rv, 0, sizeof rv);
  switch (v->value_case) {
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_INT_VALUE: rv.c = R_INT; rv.u = v->int_value; break;
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_LONG_VALUE: rv.c = R_LONG; rv.u = v->long_value; break;
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_FLOAT_VALUE: rv.c = R_FLOAT; rv.d = v->float_value; break;
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_DOUBLE_VALUE: rv.c = R_DOUBLE; rv.d = v->double_value; break;
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_BOOLEAN_VALUE: rv.c = R_BOOL; rv.b = v->boolean_value; break;
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE: rv.c = R_STRING; rv.s = v->string_value; break;
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_PROPERTYSET_VALUE:
    return props_json(b, v->propertyset_value, depth + 1);
  case SPB__PAYLOAD__PROPERTY_VALUE__VALUE_PROPERTYSETS_VALUE: {
    const PbPropSetList *l = v->propertysets_value;
    if (loom_buf_append_u8(b, '[') != 0) return LOOM_ENOMEM;
    for (size_t i = 0; i < l->n_propertyset; i++) {
      if (i && loom_buf_append_u8(b, ',') != 0) return LOOM_ENOMEM;
      int rc = props_json(b, l->propertyset[i], depth + 1);
      if (rc != 0) return rc;
    }
    return loom_buf_append_u8(b, ']');
  }
  default: break;
  }
  spb_metric cell = {0};
  cell.datatype = v->has_type ? v->type : 0;
  /* scalars only: no payload-owned strings are made for them */
  if (cell.datatype == SPB_DT_DATASET || cell.datatype == SPB_DT_TEMPLATE ||
      (cell.datatype >= SPB_DT_INT8_ARRAY && cell.datatype <= SPB_DT_DATETIME_ARRAY))
    cell.datatype = 0;
  if (decode_raw(NULL, cell.datatype, &rv, &cell, depth) != 0) return LOOM_ENOMEM;
  return value_json(b, &cell);
}

static int props_json(loom_buf *b, const PbPropSet *ps, int depth) {
  if (!ps || depth > SPB_MAX_DEPTH) return loom_buf_append_str(b, "null");
  if (loom_buf_append_u8(b, '{') != 0) return LOOM_ENOMEM;
  for (size_t i = 0; i < ps->n_keys; i++) {
    if ((i && loom_buf_append_u8(b, ',') != 0) ||
        loom_buf_append_json_str(b, ps->keys[i], strlen(ps->keys[i])) != 0 ||
        loom_buf_append_u8(b, ':') != 0)
      return LOOM_ENOMEM;
    int rc = prop_value_json(b, i < ps->n_values ? ps->values[i] : NULL, depth);
    if (rc != 0) return rc;
  }
  return loom_buf_append_u8(b, '}');
}

static int decode_metric(spb_payload *p, const PbMetric *pm, spb_metric *m, spb_type_fn type_of,
                         void *ud, int depth) {
  memset(m, 0, sizeof *m);
  m->name = pm->name;
  m->has_alias = pm->has_alias;
  m->alias = pm->alias;
  if (pm->has_timestamp && pm->timestamp <= (uint64_t)INT64_MAX) {
    m->has_ts = true;
    m->ts_ms = (int64_t)pm->timestamp;
  }
  m->is_null = pm->has_is_null && pm->is_null;
  m->is_historical = pm->has_is_historical && pm->is_historical;
  m->is_transient = pm->has_is_transient && pm->is_transient;
  if (pm->has_datatype) m->datatype = pm->datatype;
  else if (type_of) m->datatype = type_of(ud, m);
  if (pm->properties) {
    loom_buf b;
    loom_buf_init(&b);
    size_t len;
    if (props_json(&b, pm->properties, depth + 1) != 0 ||
        take_buf(p, &b, &m->props_json, &len) != 0) {
      loom_buf_deinit(&b);
      return LOOM_ENOMEM;
    }
  }
  raw_value rv;
  memset(&rv, 0, sizeof rv);
  switch (pm->value_case) {
  case SPB__PAYLOAD__METRIC__VALUE_INT_VALUE: rv.c = R_INT; rv.u = pm->int_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE: rv.c = R_LONG; rv.u = pm->long_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_FLOAT_VALUE: rv.c = R_FLOAT; rv.d = pm->float_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE: rv.c = R_DOUBLE; rv.d = pm->double_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE: rv.c = R_BOOL; rv.b = pm->boolean_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_STRING_VALUE: rv.c = R_STRING; rv.s = pm->string_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_BYTES_VALUE:
    rv.c = R_BYTES;
    rv.bytes = pm->bytes_value.data;
    rv.len = pm->bytes_value.len;
    break;
  case SPB__PAYLOAD__METRIC__VALUE_DATASET_VALUE: rv.c = R_DATASET; rv.msg = pm->dataset_value; break;
  case SPB__PAYLOAD__METRIC__VALUE_TEMPLATE_VALUE: rv.c = R_TEMPLATE; rv.msg = pm->template_value; break;
  default: break;
  }
  if (m->is_null) return 0; /* is_null wins over a value sent anyway */
  return decode_raw(p, m->datatype, &rv, m, depth);
}

/* ---- public decode ---- */

void spb_payload_init(spb_payload *p) { memset(p, 0, sizeof *p); }

void spb_payload_deinit(spb_payload *p) {
  if (!p) return;
  if (p->pb) {
    ProtobufCAllocator a = pb_allocator();
    spb__payload__free_unpacked(p->pb, &a);
  }
  for (size_t i = 0; i < p->n_strs; i++) loom_free(p->strs[i]);
  loom_free(p->strs);
  loom_free(p->metrics);
  spb_payload_init(p);
}

int spb_payload_decode(spb_payload *p, const uint8_t *buf, size_t len, spb_type_fn type_of,
                       void *ud) {
  int rc = wire_walk(buf, len, W_PAYLOAD, 0);
  if (rc != 0) return rc;
  ProtobufCAllocator a = pb_allocator();
  PbPayload *pb = spb__payload__unpack(&a, len, buf);
  if (!pb) {
    /* protobuf-c does not say why: try once more to tell ENOMEM apart */
    void *probe = loom_malloc(len + 64);
    if (!probe) return LOOM_ENOMEM;
    loom_free(probe);
    return LOOM_EINVAL;
  }
  p->pb = pb;
  if (pb->has_timestamp && pb->timestamp <= (uint64_t)INT64_MAX) {
    p->has_ts = true;
    p->ts_ms = (int64_t)pb->timestamp;
  }
  p->has_seq = pb->has_seq;
  p->seq = pb->seq;
  p->uuid = pb->uuid;
  if (pb->has_body) {
    p->body = pb->body.data;
    p->body_len = pb->body.len;
  }
  if (pb->n_metrics > 0) {
    p->metrics = loom_calloc(pb->n_metrics, sizeof *p->metrics);
    if (!p->metrics) {
      rc = LOOM_ENOMEM;
      goto fail;
    }
    for (size_t i = 0; i < pb->n_metrics; i++) {
      rc = decode_metric(p, pb->metrics[i], &p->metrics[i], type_of, ud, 1);
      if (rc != 0) goto fail;
      p->n_metrics = i + 1;
    }
  }
  return 0;
fail:
  spb_payload_deinit(p);
  return rc;
}

/* ---- encode ---- */

static int encode_metric(const spb_metric *m, PbMetric *pm) {
  spb__payload__metric__init(pm);
  pm->name = (char *)m->name;
  if (m->has_alias) {
    pm->has_alias = 1;
    pm->alias = m->alias;
  }
  if (m->has_ts) {
    if (m->ts_ms < 0) return LOOM_EINVAL;
    pm->has_timestamp = 1;
    pm->timestamp = (uint64_t)m->ts_ms;
  }
  uint32_t dt = m->datatype;
  if (dt != 0) {
    pm->has_datatype = 1;
    pm->datatype = dt;
  }
  if (m->is_historical) pm->has_is_historical = pm->is_historical = 1;
  if (m->is_transient) pm->has_is_transient = pm->is_transient = 1;
  if (m->is_null || m->kind == SPB_K_NONE) {
    if (!m->is_null) return LOOM_EINVAL;
    pm->has_is_null = pm->is_null = 1;
    return 0;
  }
  if (m->kind == SPB_K_JSON) return LOOM_EUNSUP;
  if (dt == SPB_DT_UNKNOWN) { /* DATA by alias: the field follows the kind */
    switch (m->kind) {
    case SPB_K_INT:
      if (m->i >= INT32_MIN && m->i <= INT32_MAX) {
        pm->value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
        pm->int_value = (uint32_t)(int32_t)m->i;
      } else {
        pm->value_case = SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
        pm->long_value = (uint64_t)m->i;
      }
      return 0;
    case SPB_K_UINT:
      if (m->u <= UINT32_MAX) {
        pm->value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
        pm->int_value = (uint32_t)m->u;
      } else {
        pm->value_case = SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
        pm->long_value = m->u;
      }
      return 0;
    case SPB_K_DOUBLE: dt = SPB_DT_DOUBLE; break;
    case SPB_K_BOOL: dt = SPB_DT_BOOLEAN; break;
    case SPB_K_STRING: dt = SPB_DT_STRING; break;
    case SPB_K_DATETIME: dt = SPB_DT_DATETIME; break;
    case SPB_K_BYTES: dt = SPB_DT_BYTES; break;
    default: return LOOM_EINVAL;
    }
  }
  if (is_int_dt(dt) || is_uint_dt(dt)) {
    /* a signed or unsigned source value, range checked for the datatype */
    bool neg;
    uint64_t mag;
    if (m->kind == SPB_K_INT) {
      neg = m->i < 0;
      mag = (uint64_t)m->i;
    } else if (m->kind == SPB_K_UINT) {
      neg = false;
      mag = m->u;
    } else {
      return LOOM_EINVAL;
    }
    int64_t lo = 0;
    uint64_t hi = 0;
    switch (dt) {
    case SPB_DT_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case SPB_DT_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case SPB_DT_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case SPB_DT_INT64: lo = INT64_MIN; hi = INT64_MAX; break;
    case SPB_DT_UINT8: hi = UINT8_MAX; break;
    case SPB_DT_UINT16: hi = UINT16_MAX; break;
    case SPB_DT_UINT32: hi = UINT32_MAX; break;
    default: hi = UINT64_MAX; break;
    }
    if (neg ? (int64_t)mag < lo : mag > hi) return LOOM_EINVAL;
    if (dt == SPB_DT_INT64 || dt == SPB_DT_UINT32 || dt == SPB_DT_UINT64) {
      pm->value_case = SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
      pm->long_value = mag;
    } else {
      pm->value_case = SPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
      pm->int_value = (uint32_t)mag; /* two's complement, 32 bits */
    }
    return 0;
  }
  switch (dt) {
  case SPB_DT_FLOAT:
    if (m->kind != SPB_K_DOUBLE) return LOOM_EINVAL;
    pm->value_case = SPB__PAYLOAD__METRIC__VALUE_FLOAT_VALUE;
    pm->float_value = (float)m->d;
    return 0;
  case SPB_DT_DOUBLE:
    if (m->kind != SPB_K_DOUBLE) return LOOM_EINVAL;
    pm->value_case = SPB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE;
    pm->double_value = m->d;
    return 0;
  case SPB_DT_BOOLEAN:
    if (m->kind != SPB_K_BOOL) return LOOM_EINVAL;
    pm->value_case = SPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
    pm->boolean_value = m->b;
    return 0;
  case SPB_DT_STRING:
  case SPB_DT_TEXT:
  case SPB_DT_UUID:
    if (m->kind != SPB_K_STRING || !m->s || strlen(m->s) != m->s_len) return LOOM_EINVAL;
    pm->value_case = SPB__PAYLOAD__METRIC__VALUE_STRING_VALUE;
    pm->string_value = (char *)m->s;
    return 0;
  case SPB_DT_DATETIME:
    if (m->kind != SPB_K_DATETIME || m->i < 0) return LOOM_EINVAL;
    pm->value_case = SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
    pm->long_value = (uint64_t)m->i;
    return 0;
  case SPB_DT_BYTES:
  case SPB_DT_FILE:
    if (m->kind != SPB_K_BYTES) return LOOM_EINVAL;
    pm->value_case = SPB__PAYLOAD__METRIC__VALUE_BYTES_VALUE;
    pm->bytes_value.data = (uint8_t *)m->s;
    pm->bytes_value.len = m->s_len;
    return 0;
  default:
    return dt > SPB_DT_MAX || dt == SPB_DT_UNKNOWN ? LOOM_EINVAL : LOOM_EUNSUP;
  }
}

int spb_payload_encode(const spb_payload *p, loom_buf *out) {
  PbPayload pb;
  spb__payload__init(&pb);
  PbMetric *ms = NULL;
  PbMetric **mp = NULL;
  int rc = LOOM_ENOMEM;
  if (p->has_ts) {
    if (p->ts_ms < 0) return LOOM_EINVAL;
    pb.has_timestamp = 1;
    pb.timestamp = (uint64_t)p->ts_ms;
  }
  if (p->has_seq) {
    pb.has_seq = 1;
    pb.seq = p->seq;
  }
  pb.uuid = (char *)p->uuid;
  if (p->body) {
    pb.has_body = 1;
    pb.body.data = (uint8_t *)p->body;
    pb.body.len = p->body_len;
  }
  if (p->n_metrics > 0) {
    ms = loom_calloc(p->n_metrics, sizeof *ms);
    mp = loom_calloc(p->n_metrics, sizeof *mp);
    if (!ms || !mp) goto out;
    for (size_t i = 0; i < p->n_metrics; i++) {
      rc = encode_metric(&p->metrics[i], &ms[i]);
      if (rc != 0) goto out;
      mp[i] = &ms[i];
    }
    pb.n_metrics = p->n_metrics;
    pb.metrics = mp;
  }
  size_t n = spb__payload__get_packed_size(&pb);
  rc = LOOM_ENOMEM;
  if (loom_buf_reserve(out, n) != 0) goto out;
  spb__payload__pack(&pb, out->data + out->len);
  out->len += n;
  rc = 0;
out:
  loom_free(mp);
  loom_free(ms);
  return rc;
}

/* ---- topics ---- */

static bool id_ok(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '+' || s[i] == '#' || s[i] == '/' || s[i] == '\0') return false;
  return true;
}

int spb_topic_parse(const char *t, size_t n, spb_topic *out) {
  static const char pre[] = "spBv1.0/";
  static const struct { const char *name; spb_msg_type type; } types[] = {
      {"NBIRTH", SPB_MSG_NBIRTH}, {"NDEATH", SPB_MSG_NDEATH}, {"DBIRTH", SPB_MSG_DBIRTH},
      {"DDEATH", SPB_MSG_DDEATH}, {"NDATA", SPB_MSG_NDATA},   {"DDATA", SPB_MSG_DDATA},
      {"NCMD", SPB_MSG_NCMD},     {"DCMD", SPB_MSG_DCMD}};
  const char *part[4];
  size_t plen[4], np = 0;
  if (n < sizeof pre - 1 || memcmp(t, pre, sizeof pre - 1) != 0) return LOOM_EINVAL;
  const char *s = t + sizeof pre - 1, *end = t + n;
  for (;;) {
    const char *slash = memchr(s, '/', (size_t)(end - s));
    if (np == 4) return LOOM_EINVAL; /* more than 5 levels after the prefix */
    part[np] = s;
    plen[np] = slash ? (size_t)(slash - s) : (size_t)(end - s);
    np++;
    if (!slash) break;
    s = slash + 1;
  }
  if (np < 3) return LOOM_EINVAL;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strlen(types[i].name) == plen[1] && memcmp(types[i].name, part[1], plen[1]) == 0)
      out->type = types[i].type;
  if (out->type == 0) return LOOM_EINVAL;
  bool dev = out->type == SPB_MSG_DBIRTH || out->type == SPB_MSG_DDEATH ||
             out->type == SPB_MSG_DDATA || out->type == SPB_MSG_DCMD;
  if (np != (dev ? 4u : 3u)) return LOOM_EINVAL;
  for (size_t i = 0; i < np; i++)
    if (i != 1 && !id_ok(part[i], plen[i])) return LOOM_EINVAL;
  out->group = part[0];
  out->group_len = plen[0];
  out->node = part[2];
  out->node_len = plen[2];
  if (dev) {
    out->device = part[3];
    out->device_len = plen[3];
  }
  return 0;
}
