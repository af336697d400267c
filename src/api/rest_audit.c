/* SPDX-License-Identifier: Apache-2.0
 * GET /api/v1/audit: the audit trail, oldest first, in pages
 * (?fromSeq=N&pageSize=M, at most 1000): {"data": [{"seq", "time_ms",
 * "event": {...}}], "nextSeq": n or null}. Optional filters: action (equal,
 * or a prefix ending in "." such as "user."), actor, outcome (equal),
 * fromMs / toMs (time range, ms); a filtered request looks at no more than
 * 20,000 records and answers nextSeq to go on from. Tenant admins see their
 * tenant's records only; platform admins everything. Every record's MAC and chain
 * link are checked again as it is read; when a record of the page does not
 * verify, the page holds the records before it, "nextSeq" is null and
 * "broken_at" names the first bad record (so the entries before a break stay
 * readable). GET /api/v1/audit/verify checks the whole chain now and says
 * "verified", "broken" (at which record) or "unverifiable" (and why).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"

#define PAGE_MAX 1000
#define SCAN_MAX 20000 /* records one filtered request looks at, at most */

/* Does reading limit records from seq from verify? 0, LOOM_ECORRUPT, other
 * codes for I/O or memory. The whole chain is read (no tenant filter). */
static int read_ok(sec_audit *a, uint64_t from, size_t limit) {
  sec_audit_page page;
  int rc = sec_audit_read(a, from, limit, NULL, &page);
  sec_audit_page_deinit(&page);
  return rc;
}

/* The first record that does not verify, knowing that reading limit records
 * from seq from does not: the smallest failing limit, by bisection (a read
 * also checks the records between the nearest index point and from, so a
 * break there is reported at from). 0 and *bad, or another read error. */
static int find_break(sec_audit *a, uint64_t from, size_t limit, uint64_t *bad) {
  size_t lo = 1, hi = limit; /* read(from, hi) fails */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int rc = read_ok(a, from, mid);
    if (rc == 0) lo = mid + 1;
    else if (rc == LOOM_ECORRUPT) hi = mid;
    else return rc;
  }
  *bad = from + lo - 1;
  return 0;
}

/* Walk the whole chain in pages that overlap by one record, so that every
 * link (record s-1 -> s) is checked by some read. 0 (intact; *last = seq of
 * the last record), LOOM_ECORRUPT (*bad = first bad record), other codes. */
static int check_chain(sec_audit *a, uint64_t *last, uint64_t *bad) {
  uint64_t from = 1;
  *last = 0;
  for (;;) {
    sec_audit_page page;
    int rc = sec_audit_read(a, from, PAGE_MAX, NULL, &page);
    uint64_t next = page.next_seq;
    if (!rc && page.n) *last = page.records[page.n - 1].seq;
    sec_audit_page_deinit(&page);
    if (rc == LOOM_ECORRUPT) {
      int frc = find_break(a, from, PAGE_MAX, bad);
      return frc ? frc : LOOM_ECORRUPT;
    }
    if (rc || !next) return rc;
    from = next - 1;
  }
}

void rest_audit_verify(api_call *c) {
  json_t *out;
  if (!c->api->audit) {
    out = json_pack("{s:s,s:s}", "status", "unverifiable", "reason", "the audit log is not open");
    api_reply_json(c->req, 200, out);
    return;
  }
  uint64_t last = 0, bad = 0;
  int rc = check_chain(c->api->audit, &last, &bad);
  if (rc == 0) {
    out = json_pack("{s:s,s:I,s:n,s:n}", "status", "verified", "last_seq", (json_int_t)last,
                    "broken_at", "reason");
  } else if (rc == LOOM_ECORRUPT) {
    out = json_pack("{s:s,s:I,s:I,s:s}", "status", "broken", "last_seq",
                    (json_int_t)sec_audit_last_seq(c->api->audit), "broken_at", (json_int_t)bad,
                    "reason",
                    "a record's MAC, sequence number or chain link does not match: the log "
                    "was changed after it was written");
  } else {
    char why[160];
    snprintf(why, sizeof why, "cannot read the audit log: %s", loom_strerror(rc));
    out = json_pack("{s:s,s:I,s:n,s:s}", "status", "unverifiable", "last_seq",
                    (json_int_t)sec_audit_last_seq(c->api->audit), "broken_at", "reason", why);
  }
  api_reply_json(c->req, 200, out);
}

/* Optional filters of GET /api/v1/audit (none set: every record). */
typedef struct audit_filter {
  const char *action;  /* "action": equal, or a prefix ending in '.' ("user.") */
  const char *actor;   /* "actor": equal ("user:<id>", "token:admin") */
  const char *outcome; /* "outcome": equal */
  int64_t from_ms;     /* "fromMs": time_ms >= it (0: no bound) */
  int64_t to_ms;       /* "toMs": time_ms < it (0: no bound) */
  bool any;
} audit_filter;

static bool str_is(json_t *ev, const char *key, const char *want) {
  const char *v = json_string_value(json_object_get(ev, key));
  return v && !strcmp(v, want);
}

static bool filter_match(const audit_filter *f, const sec_audit_record *r, json_t *ev) {
  if (!f || !f->any) return true;
  if (f->from_ms && r->time_ms < f->from_ms) return false;
  if (f->to_ms && r->time_ms >= f->to_ms) return false;
  if (f->actor && !str_is(ev, "actor", f->actor)) return false;
  if (f->outcome && !str_is(ev, "outcome", f->outcome)) return false;
  if (f->action) {
    const char *a = json_string_value(json_object_get(ev, "action"));
    size_t n = strlen(f->action);
    if (!a || (f->action[n - 1] == '.' ? strncmp(a, f->action, n) : strcmp(a, f->action)))
      return false;
  }
  return true;
}

/* Append page's records to data as {"seq","time_ms","event"}; with tenant
 * set, only those whose event names that tenant; only those f matches. At
 * most limit in data. Returns the seq after the last record looked at when
 * data filled up before the page's end, else 0. */
static uint64_t add_records(json_t *data, const sec_audit_page *page, const char *tenant,
                            size_t limit, const audit_filter *f) {
  for (size_t i = 0; i < page->n; i++) {
    if (json_array_size(data) >= limit) return page->records[i].seq;
    json_t *ev = json_loadb(page->records[i].payload, page->records[i].payload_len, 0, NULL);
    if ((tenant && !str_is(ev, "tenant", tenant)) || !filter_match(f, &page->records[i], ev)) {
      json_decref(ev);
      continue;
    }
    json_array_append_new(data, json_pack("{s:I,s:I,s:o*}", "seq", (json_int_t)page->records[i].seq,
                                          "time_ms", (json_int_t)page->records[i].time_ms, "event",
                                          ev));
  }
  return 0;
}

/* The records from seq up to (not including) the bad one bad, in scope. */
static int records_before(api_call *c, uint64_t seq, uint64_t bad, size_t limit,
                          const audit_filter *f, json_t *data) {
  while (seq < bad && json_array_size(data) < limit) {
    sec_audit_page page;
    size_t n = bad - seq < PAGE_MAX ? (size_t)(bad - seq) : PAGE_MAX;
    int rc = sec_audit_read(c->api->audit, seq, n, NULL, &page);
    if (!rc) add_records(data, &page, c->scope, limit, f);
    bool more = !rc && page.n == n;
    sec_audit_page_deinit(&page);
    if (rc) return rc;
    if (!more) break;
    seq += n;
  }
  return 0;
}

/* Filtered reading: pages of PAGE_MAX records from seq, matches into data
 * until limit of them or SCAN_MAX records looked at; *next = where to go on
 * (0: the end). 0 or the read's error. */
static int read_filtered(api_call *c, uint64_t seq, size_t limit, const audit_filter *f,
                         json_t *data, uint64_t *next, uint64_t *at) {
  size_t scanned = 0;
  *next = 0;
  *at = seq;
  while (json_array_size(data) < limit && scanned < SCAN_MAX) {
    sec_audit_page page;
    int rc = sec_audit_read(c->api->audit, seq, PAGE_MAX, c->scope, &page);
    if (rc) {
      sec_audit_page_deinit(&page);
      return rc;
    }
    uint64_t stop = add_records(data, &page, NULL, limit, f);
    scanned += page.n ? page.n : 1;
    *next = stop ? stop : page.next_seq;
    sec_audit_page_deinit(&page);
    if (!*next) break;
    seq = *at = *next;
  }
  return 0;
}

static int parse_ms(const char *s, int64_t *out) {
  char *end;
  if (!s) return 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < 0) return LOOM_EINVAL;
  *out = v;
  return 0;
}

void rest_audit_list(api_call *c) {
  if (!c->api->audit) {
    api_error(c->req, 503, "the audit log is not open");
    return;
  }
  const char *from = http_req_param(c->req, "fromSeq");
  const char *size = http_req_param(c->req, "pageSize");
  char *end;
  unsigned long long seq = from ? strtoull(from, &end, 10) : 0;
  unsigned long limit = size ? strtoul(size, &end, 10) : 100;
  if (limit < 1 || limit > PAGE_MAX) {
    api_error(c->req, 400, "pageSize must be 1..1000");
    return;
  }
  audit_filter f = {.action = http_req_param(c->req, "action"),
                    .actor = http_req_param(c->req, "actor"),
                    .outcome = http_req_param(c->req, "outcome")};
  if (f.action && !*f.action) f.action = NULL;
  if (f.actor && !*f.actor) f.actor = NULL;
  if (f.outcome && !*f.outcome) f.outcome = NULL;
  if (parse_ms(http_req_param(c->req, "fromMs"), &f.from_ms) ||
      parse_ms(http_req_param(c->req, "toMs"), &f.to_ms)) {
    api_error(c->req, 400, "fromMs and toMs must be ms since 1970");
    return;
  }
  f.any = f.action || f.actor || f.outcome || f.from_ms || f.to_ms;
  if (seq == 0) seq = 1;
  uint64_t bad = 0, last = 0, next = 0, at = seq;
  json_t *data = json_array();
  int rc;
  if (!data) {
    rc = LOOM_ENOMEM;
  } else if (f.any) {
    rc = read_filtered(c, seq, limit, &f, data, &next, &at);
  } else {
    sec_audit_page page;
    rc = sec_audit_read(c->api->audit, seq, limit, c->scope, &page);
    if (!rc) add_records(data, &page, NULL, limit, NULL);
    next = page.next_seq;
    sec_audit_page_deinit(&page);
  }
  if (rc == LOOM_ECORRUPT) { /* where, exactly; then the records before it */
    rc = check_chain(c->api->audit, &last, &bad);
    if (rc == LOOM_ECORRUPT) rc = records_before(c, at, bad, limit, &f, data);
    else if (rc == 0) rc = LOOM_ECORRUPT; /* it verifies now: let the caller retry */
  }
  if (rc) {
    json_decref(data);
    api_error_rc(c->req, rc == LOOM_EINVAL ? rc : LOOM_EIO,
                 rc == LOOM_ECORRUPT ? "the audit log does not verify" : "cannot read the audit log");
    return;
  }
  json_t *out = json_pack("{s:o*,s:o}", "data", data, "nextSeq",
                          next && !bad ? json_integer((json_int_t)next) : json_null());
  if (out && bad) json_object_set_new(out, "broken_at", json_integer((json_int_t)bad));
  api_reply_json(c->req, 200, out);
}
