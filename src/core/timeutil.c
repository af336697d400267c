/* SPDX-License-Identifier: Apache-2.0
 * Clocks, RFC3339 and duration parsing/formatting (see timeutil.h).
 * Calendar maths uses the days-from-civil algorithm (proleptic Gregorian).
 */
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

int64_t loom_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * LOOM_NS_PER_S + ts.tv_nsec;
}

int64_t loom_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * LOOM_NS_PER_S + ts.tv_nsec;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

size_t loom_time_format_rfc3339(int64_t t, char *out, size_t cap) {
  int64_t secs = t / LOOM_NS_PER_S, ns = t % LOOM_NS_PER_S;
  if (ns < 0) {
    ns += LOOM_NS_PER_S;
    secs--;
  }
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  int mo, d;
  civil_from_days(days, &y, &mo, &d);
  char frac[12] = "";
  if (ns) {
    snprintf(frac, sizeof frac, ".%09lld", (long long)ns);
    size_t n = strlen(frac);
    while (frac[n - 1] == '0') frac[--n] = 0;
  }
  int n = snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d%sZ", (long long)y, mo, d,
                   (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
  return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static int digits(const char *s, size_t len, size_t *i, int n, int *out) {
  int v = 0;
  for (int k = 0; k < n; k++, (*i)++) {
    if (*i >= len || s[*i] < '0' || s[*i] > '9') return LOOM_EINVAL;
    v = v * 10 + (s[*i] - '0');
  }
  *out = v;
  return 0;
}

int loom_time_parse_rfc3339(const char *s, size_t len, int64_t *t_ns) {
  size_t i = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t frac = 0;
  if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &mo) ||
      i >= len || s[i++] != '-' || digits(s, len, &i, 2, &d))
    return LOOM_EINVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return LOOM_EINVAL;
  int64_t off = 0;
  if (i < len) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return LOOM_EINVAL;
    i++;
    if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi) ||
        i >= len || s[i++] != ':' || digits(s, len, &i, 2, &sec))
      return LOOM_EINVAL;
    if (h > 23 || mi > 59 || sec > 60) return LOOM_EINVAL;
    if (i < len && s[i] == '.') {
      i++;
      int nd = 0;
      while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (nd < 9) {
          frac = frac * 10 + (s[i] - '0');
          nd++;
        }
        i++;
      }
      if (nd == 0) return LOOM_EINVAL;
      while (nd++ < 9) frac *= 10;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
      i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
      int sign = s[i++] == '-' ? -1 : 1, oh, om;
      if (digits(s, len, &i, 2, &oh) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &om))
        return LOOM_EINVAL;
      off = sign * ((int64_t)oh * 3600 + om * 60);
    }
    if (i != len) return LOOM_EINVAL;
  }
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
  *t_ns = secs * LOOM_NS_PER_S + frac;
  return 0;
}

int loom_duration_parse(const char *s, size_t len, int64_t *ns) {
  if (len == 0) return LOOM_EINVAL;
  if ((len == 3 && !strncasecmp(s, "INF", 3))) {
    *ns = 0;
    return 0;
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < len) {
    if (s[i] < '0' || s[i] > '9') return LOOM_EINVAL;
    int64_t v = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (v > INT64_MAX / 10) return LOOM_EINVAL;
      v = v * 10 + (s[i++] - '0');
    }
    size_t u0 = i;
    while (i < len && !(s[i] >= '0' && s[i] <= '9')) i++;
    size_t ul = i - u0;
    const char *u = s + u0;
    int64_t mul;
    if (ul == 2 && !strncmp(u, "ns", 2)) mul = 1;
    else if ((ul == 1 && u[0] == 'u') || (ul == 2 && !strncmp(u, "us", 2)) ||
             (ul == 2 && !strncmp(u, "\xc2\xb5", 2)))
      mul = LOOM_NS_PER_US;
    else if (ul == 2 && !strncmp(u, "ms", 2)) mul = LOOM_NS_PER_MS;
    else if (ul == 1 && u[0] == 's') mul = LOOM_NS_PER_S;
    else if (ul == 1 && u[0] == 'm') mul = 60 * LOOM_NS_PER_S;
    else if (ul == 1 && u[0] == 'h') mul = 3600 * LOOM_NS_PER_S;
    else if (ul == 1 && u[0] == 'd') mul = 86400 * LOOM_NS_PER_S;
    else if (ul == 1 && u[0] == 'w') mul = 7 * 86400 * LOOM_NS_PER_S;
    else return LOOM_EINVAL;
    if (v > (INT64_MAX - total) / mul) return LOOM_EINVAL;
    total += v * mul;
  }
  *ns = total;
  return 0;
}

size_t loom_duration_format(int64_t ns, char *out, size_t cap) {
  int64_t s = ns / LOOM_NS_PER_S;
  int n = snprintf(out, cap, "%lldh%lldm%llds", (long long)(s / 3600), (long long)(s / 60 % 60),
                   (long long)(s % 60));
  if (ns == 0) n = snprintf(out, cap, "0s");
  return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int64_t loom_precision_ns(const char *p) {
  if (!p || !*p || !strcmp(p, "ns") || !strcmp(p, "n")) return 1;
  if (!strcmp(p, "u") || !strcmp(p, "us") || !strcmp(p, "µ")) return LOOM_NS_PER_US;
  if (!strcmp(p, "ms")) return LOOM_NS_PER_MS;
  if (!strcmp(p, "s")) return LOOM_NS_PER_S;
  if (!strcmp(p, "m")) return 60 * LOOM_NS_PER_S;
  if (!strcmp(p, "h")) return 3600 * LOOM_NS_PER_S;
  return 0;
}
