/* SPDX-License-Identifier: Apache-2.0
 * logfmt logger to stderr (see log.h).
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOOM_LOG_INFO;

void loom_log_set_level(int level) { atomic_store(&min_level, level); }

int loom_log_level_parse(const char *s) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

void loom_log(int level, const char *msg, const char *kv_fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (level < atomic_load(&min_level) || level < 0 || level > 3) return;
  char line[2048];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000, names[level]);
  for (const char *p = msg; *p && n < (int)sizeof line - 8; p++) {
    if (*p == '"' || *p == '\\') line[n++] = '\\';
    line[n++] = *p == '\n' ? ' ' : *p;
  }
  line[n++] = '"';
  if (kv_fmt && *kv_fmt && n < (int)sizeof line - 2) {
    line[n++] = ' ';
    va_list ap;
    va_start(ap, kv_fmt);
    int k = vsnprintf(line + n, sizeof line - (size_t)n - 1, kv_fmt, ap);
    va_end(ap);
    if (k > 0) n += k < (int)sizeof line - n - 1 ? k : (int)sizeof line - n - 2;
  }
  line[n++] = '\n';
  ssize_t w = write(2, line, (size_t)n);
  (void)w;
}
