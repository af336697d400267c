/* SPDX-License-Identifier: Apache-2.0
 * Sparkplug B 3.0 payload codec: a pure decoder from the protobuf bytes of an
 * NBIRTH/DBIRTH/NDATA/DDATA/NDEATH/DDEATH/NCMD/DCMD payload to plain C
 * structs (every datatype; what a host cannot use is reported per metric,
 * never a crash), and an encoder for commands (NCMD/DCMD) and tests. Topic
 * parsing lives here too. The wire schema is src/mqtt/sparkplug_b.proto
 * (protobuf-c); no socket, loop or global state.
 */
#ifndef LOOM_MQTT_SPB_H
#define LOOM_MQTT_SPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/*
 * Wire format (protobuf, proto2; field number: type) of a payload:
 *   Payload  1 timestamp: uint64 ms UTC   2 metrics: Metric*   3 seq: uint64 (0..255)
 *            4 uuid: string               5 body: bytes
 *   Metric   1 name: string   2 alias: uint64   3 timestamp: uint64 ms   4 datatype: uint32
 *            5 is_historical: bool   6 is_transient: bool   7 is_null: bool
 *            8 metadata: MetaData   9 properties: PropertySet
 *            value (one of): 10 int_value uint32, 11 long_value uint64, 12 float_value
 *            float, 13 double_value double, 14 boolean_value bool, 15 string_value string,
 *            16 bytes_value bytes, 17 dataset_value DataSet, 18 template_value Template
 *   DataSet  1 num_of_columns uint64  2 columns string*  3 types uint32*  4 rows Row*
 *            Row 1 elements DataSetValue*; DataSetValue one of 1 int_value uint32,
 *            2 long_value uint64, 3 float, 4 double, 5 bool, 6 string
 *   Template 1 version string  2 metrics Metric*  3 parameters Parameter*
 *            4 template_ref string  5 is_definition bool;
 *            Parameter 1 name  2 type uint32  value 3..8 as DataSetValue 1..6
 *   PropertySet 1 keys string*  2 values PropertyValue*;
 *            PropertyValue 1 type uint32  2 is_null bool  value 3..8 as above,
 *            9 PropertySet, 10 PropertySetList (1 propertyset PropertySet*)
 *   MetaData 1 is_multi_part bool 2 content_type 3 size uint64 4 seq uint64
 *            5 file_name 6 file_type 7 md5 8 description (strings)
 *
 * Values by datatype (how they are carried, how they are decoded here):
 *   Int8/Int16/Int32   int_value, two's complement: accepted sign-extended
 *                      to 32 bits (0xFFFFFFFF = -1) or as the width's
 *                      unsigned pattern (0xFF = -1 for Int8)   -> SPB_K_INT
 *   Int64              long_value, two's complement              -> SPB_K_INT
 *   UInt8/16/32/64     int_value or long_value (UInt32 is sent as
 *                      long_value by the common libraries)       -> SPB_K_UINT
 *   Float, Double      float_value / double_value                -> SPB_K_DOUBLE
 *   Boolean            boolean_value                             -> SPB_K_BOOL
 *   String, Text, UUID string_value                              -> SPB_K_STRING
 *   DateTime           long_value, ms since the epoch UTC        -> SPB_K_DATETIME
 *   Bytes, File        bytes_value                               -> SPB_K_BYTES
 *   arrays (22..34)    bytes_value, packed little-endian: Int8/UInt8 1 byte,
 *                      16-bit 2, 32-bit and Float 4, 64-bit, Double and
 *                      DateTime (ms) 8 bytes each; BooleanArray = uint32 LE
 *                      count then the bits, most significant bit first;
 *                      StringArray = NUL-terminated UTF-8 strings
 *                                                      -> SPB_K_JSON (a JSON array)
 *   DataSet            {"columns":[..],"types":["Int32",..],"rows":[[..],..]} SPB_K_JSON
 *   Template           {"template_ref":..,"version":..,"is_definition":..,
 *                       "parameters":{name:value},"metrics":{name:value}} SPB_K_JSON
 *   PropertySet(List), unknown datatypes, a value field that does not fit the
 *   datatype, an integer out of the datatype's range: kind SPB_K_NONE and
 *   `unsup` says why (the payload itself still decodes).
 */

/* Sparkplug datatypes (the specification's numbering). */
enum {
  SPB_DT_UNKNOWN = 0,
  SPB_DT_INT8 = 1, SPB_DT_INT16, SPB_DT_INT32, SPB_DT_INT64,
  SPB_DT_UINT8, SPB_DT_UINT16, SPB_DT_UINT32, SPB_DT_UINT64,
  SPB_DT_FLOAT = 9, SPB_DT_DOUBLE, SPB_DT_BOOLEAN, SPB_DT_STRING, SPB_DT_DATETIME,
  SPB_DT_TEXT = 14, SPB_DT_UUID, SPB_DT_DATASET, SPB_DT_BYTES, SPB_DT_FILE, SPB_DT_TEMPLATE,
  SPB_DT_PROPERTYSET = 20, SPB_DT_PROPERTYSETLIST,
  SPB_DT_INT8_ARRAY = 22, SPB_DT_INT16_ARRAY, SPB_DT_INT32_ARRAY, SPB_DT_INT64_ARRAY,
  SPB_DT_UINT8_ARRAY = 26, SPB_DT_UINT16_ARRAY, SPB_DT_UINT32_ARRAY, SPB_DT_UINT64_ARRAY,
  SPB_DT_FLOAT_ARRAY = 30, SPB_DT_DOUBLE_ARRAY, SPB_DT_BOOLEAN_ARRAY, SPB_DT_STRING_ARRAY,
  SPB_DT_DATETIME_ARRAY = 34,
  SPB_DT_MAX = 34
};

/* Nesting limit of messages (Template in Template, PropertySet in
 * PropertyValue ...): deeper payloads are refused before protobuf-c sees them. */
#define SPB_MAX_DEPTH 16

typedef enum spb_kind {
  SPB_K_NONE = 0, /* no value: is_null, or not decodable (unsup says why) */
  SPB_K_INT,      /* i */
  SPB_K_UINT,     /* u */
  SPB_K_DOUBLE,   /* d (a Float widened exactly) */
  SPB_K_BOOL,     /* b */
  SPB_K_STRING,   /* s, s_len (UTF-8 as sent, NUL-terminated) */
  SPB_K_DATETIME, /* i: ms since the epoch UTC */
  SPB_K_BYTES,    /* s, s_len: raw bytes (may contain NUL) */
  SPB_K_JSON      /* s, s_len: compact JSON (arrays, DataSet, Template) */
} spb_kind;

typedef struct spb_metric {
  const char *name;       /* NULL when absent (DATA sent by alias) */
  uint64_t alias;
  bool has_alias;
  bool has_ts;
  int64_t ts_ms;          /* metric timestamp, ms (valid when has_ts) */
  uint32_t datatype;      /* SPB_DT_*: as sent, else from the type callback, else 0 */
  bool is_null, is_historical, is_transient;
  const char *props_json; /* properties as a JSON object; NULL when absent */
  spb_kind kind;
  int64_t i;
  uint64_t u;
  double d;
  bool b;
  const char *s;
  size_t s_len;
  const char *unsup;      /* non-NULL when the value was not decoded: static text */
} spb_metric;

/* A decoded payload (or one to encode: fill the public fields). Pointers
 * point into the payload's own memory: valid until spb_payload_deinit. */
typedef struct spb_payload {
  bool has_ts;
  int64_t ts_ms;          /* payload timestamp, ms */
  bool has_seq;
  uint64_t seq;
  const char *uuid;       /* NULL when absent */
  const uint8_t *body;    /* NULL when absent */
  size_t body_len;
  spb_metric *metrics;
  size_t n_metrics;
  /* internal */
  void *pb;               /* the unpacked protobuf-c message */
  char **strs;            /* strings made by the decoder (loom_malloc) */
  size_t n_strs, cap_strs;
} spb_payload;

/* Datatype of a metric that carries none (DATA by alias): the host's birth
 * table. Return SPB_DT_UNKNOWN when not known. m->datatype is 0 then. */
typedef uint32_t (*spb_type_fn)(void *ud, const spb_metric *m);

/* Initialise an empty payload (no allocation). */
void spb_payload_init(spb_payload *p);
/* Free what decode made; p is empty (initialised) afterwards. NULL ok. Do not
 * call on a payload whose metrics the caller filled by hand for encoding. */
void spb_payload_deinit(spb_payload *p);

/* Decode len bytes of a Sparkplug B payload into p (initialised, empty).
 * type_of (may be NULL) supplies the datatype of metrics sent without one.
 * Values are decoded as the table above says; a metric whose value does not
 * decode gets kind SPB_K_NONE and unsup (the rest still decodes).
 * Timestamps above INT64_MAX ms are not kept (has_ts false).
 * 0; LOOM_EINVAL (not protobuf, wrong wire types, nesting deeper than
 * SPB_MAX_DEPTH: p then holds nothing); LOOM_ENOMEM. Pure; any thread. */
int spb_payload_decode(spb_payload *p, const uint8_t *buf, size_t len, spb_type_fn type_of,
                       void *ud);

/* Encode p (public fields; pb/strs ignored) appending to out. Each metric is
 * encoded with its datatype from its kind: SPB_K_INT for Int8..Int64 (range
 * checked), SPB_K_UINT for UInt8..UInt64, SPB_K_DOUBLE for Float/Double,
 * SPB_K_BOOL, SPB_K_STRING for String/Text/UUID, SPB_K_DATETIME, SPB_K_BYTES
 * for Bytes/File, SPB_K_NONE with is_null (any datatype). datatype 0 = not
 * sent (DATA by alias): the value field then follows the kind (INT: int_value
 * when it fits 32 bits two's complement, else long_value; UINT: int_value up
 * to 2^32-1, else long_value; DOUBLE: double_value; DATETIME: long_value ...).
 * props_json is not encoded. 0; LOOM_EINVAL (kind and datatype do not
 * match, value out of range); LOOM_EUNSUP (SPB_K_JSON: arrays, DataSet,
 * Template are not encoded); LOOM_ENOMEM (out unchanged on error). Pure. */
int spb_payload_encode(const spb_payload *p, loom_buf *out);

/* The specification's name of a datatype ("Int8", "DateTimeArray"), or
 * "Unknown". Static storage. */
const char *spb_datatype_name(uint32_t datatype);

/* Sparkplug message types (topic element 3). */
typedef enum spb_msg_type {
  SPB_MSG_NBIRTH = 1, SPB_MSG_NDEATH, SPB_MSG_DBIRTH, SPB_MSG_DDEATH,
  SPB_MSG_NDATA, SPB_MSG_DDATA, SPB_MSG_NCMD, SPB_MSG_DCMD
} spb_msg_type;

/* A topic `spBv1.0/<group>/<type>/<node>[/<device>]` cut into parts. The
 * strings point into the topic (not NUL-terminated: use the lengths). */
typedef struct spb_topic {
  spb_msg_type type;
  const char *group, *node, *device; /* device NULL for node messages */
  size_t group_len, node_len, device_len;
} spb_topic;

/* Parse topic t (n bytes). Node types (N*) take 4 levels, device types (D*)
 * 5; ids are non-empty and free of '/', '+', '#'. 0 or LOOM_EINVAL (not a
 * Sparkplug B edge topic: STATE, unknown type, wrong level count). Pure. */
int spb_topic_parse(const char *t, size_t n, spb_topic *out);

#endif
