/* SPDX-License-Identifier: Apache-2.0
 * Structured logs, one line per event in logfmt: `ts=... level=info
 * msg="..." key=value ...`, to stderr. Only top-level handlers log; lower
 * layers return codes. The level is set once at start-up, before threads.
 */
#ifndef LOOM_CORE_LOG_H
#define LOOM_CORE_LOG_H

enum { LOOM_LOG_DEBUG = 0, LOOM_LOG_INFO = 1, LOOM_LOG_WARN = 2, LOOM_LOG_ERROR = 3 };

/* Set the minimum level written (default INFO). Call before starting threads. */
void loom_log_set_level(int level);
/* Parse "debug|info|warn|error"; -1 if unknown. */
int loom_log_level_parse(const char *s);

/* Write one event. `msg` is quoted; `kv_fmt` is printf-formatted key=value text
 * appended verbatim (may be NULL). Thread-safe (one write() per line). */
void loom_log(int level, const char *msg, const char *kv_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOOM_DEBUG(msg, ...) loom_log(LOOM_LOG_DEBUG, msg, __VA_ARGS__)
#define LOOM_INFO(msg, ...) loom_log(LOOM_LOG_INFO, msg, __VA_ARGS__)
#define LOOM_WARN(msg, ...) loom_log(LOOM_LOG_WARN, msg, __VA_ARGS__)
#define LOOM_ERROR(msg, ...) loom_log(LOOM_LOG_ERROR, msg, __VA_ARGS__)

#endif
