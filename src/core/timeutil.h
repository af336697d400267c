/* SPDX-License-Identifier: Apache-2.0
 * Time helpers: clocks in nanoseconds, RFC3339 formatting and parsing,
 * InfluxQL/Go-style durations ("10s", "1h30m", "7d", "1w"), and precision
 * units ("ns", "u"/"us", "ms", "s", "m", "h"). Pure except the clocks.
 */
#ifndef LOOM_CORE_TIMEUTIL_H
#define LOOM_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define LOOM_NS_PER_US 1000LL
#define LOOM_NS_PER_MS 1000000LL
#define LOOM_NS_PER_S 1000000000LL

/* Wall clock, ns since the Unix epoch. */
int64_t loom_now_ns(void);
/* Monotonic clock, ns (for latencies). */
int64_t loom_mono_ns(void);

/* Format t as RFC3339 with the shortest exact fraction, as InfluxDB does
 * ("2020-01-01T00:00:00Z", "...:00.5Z", "...:00.000000001Z"). Writes a NUL;
 * returns the length (<= 35), or 0 if cap is too small. */
size_t loom_time_format_rfc3339(int64_t t_ns, char *out, size_t cap);

/* Parse RFC3339 / "YYYY-MM-DD HH:MM:SS[.frac]" / "YYYY-MM-DD" (UTC unless an
 * offset is given). 0 or LOOM_EINVAL. */
int loom_time_parse_rfc3339(const char *s, size_t len, int64_t *t_ns);

/* Parse a duration like "10s", "1h30m", "500ms", "7d", "2w", "0s", "INF"
 * (INF gives 0 meaning infinite when allow_inf). Units: ns u µ us ms s m h d w.
 * 0 or LOOM_EINVAL. */
int loom_duration_parse(const char *s, size_t len, int64_t *ns);

/* Format a duration the way InfluxDB shows it ("168h0m0s", "0s"). */
size_t loom_duration_format(int64_t ns, char *out, size_t cap);

/* Nanoseconds per unit for a precision name ("ns","n","u","us","ms","s","m","h");
 * 0 if unknown. NULL or "" means ns. */
int64_t loom_precision_ns(const char *p);

#endif
