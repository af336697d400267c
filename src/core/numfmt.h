/* SPDX-License-Identifier: Apache-2.0
 * Number formatting shared by the query output (JSON as InfluxDB writes it)
 * and the ingest adapters that turn decoded values into line protocol: the
 * shortest decimal text that reads back as the same double, found by exact
 * integer arithmetic (no printf/strtod round trips).
 */
#ifndef LOOM_CORE_NUMFMT_H
#define LOOM_CORE_NUMFMT_H

#include "core/buf.h"

/* Append the shortest text that reads back as v, formatted as Go's
 * encoding/json formats a float64 (as InfluxDB's JSON does): "2", "0.1",
 * "1e+21", "1.5e-7". NaN and infinities append "null". 0 or LOOM_ENOMEM. */
int loom_format_float(double v, loom_buf *out);

#endif
