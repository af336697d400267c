/* SPDX-License-Identifier: Apache-2.0
 * GET /api/v1/audit: the audit trail, oldest first, in pages
 * (?fromSeq=N&pageSize=M, at most 1000): {"data": [{"seq", "time_ms",
 * "event": {...}}], "nextSeq": n or null}. Tenant admins see their tenant's
 * records only; platform admins everything. Every record's MAC and chain
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

/* Append page's records to data as {"seq","time_ms","event"}; with tenant
 * set, only those whose event names that tenant. At most limit in data. */
static void add_records(json_t *data, const sec_audit_page *page, const char *tenant,
                        size_t limit) {
  for (size_t i = 0; i < page->n && json_array_size(data) < limit; i++) {
    json_t *ev = json_loadb(page->records[i].payload, page->records[i].payload_len, 0, NULL);
    if (tenant) {
      const char *t = json_string_value(json_object_get(ev, "tenant"));
      if (!t || strcmp(t, tenant)) {
        json_decref(ev);
        continue;
      }
    }
    json_array_append_new(data, json_pack("{s:I,s:I,s:o*}", "seq", (json_int_t)page->records[i].seq,
                                          "time_ms", (json_int_t)page->records[i].time_ms, "event",
                                          ev));
  }
}

/* The records from seq up to (not including) the bad one bad, in scope. */
static int records_before(api_call *c, uint64_t seq, uint64_t bad, size_t limit, json_t *data) {
  while (seq < bad && json_array_size(data) < limit) {
    sec_audit_page page;
    size_t n = bad - seq < PAGE_MAX ? (size_t)(bad - seq) : PAGE_MAX;
    int rc = sec_audit_read(c->api->audit, seq, n, NULL, &page);
    if (!rc) add_records(data, &page, c->scope, limit);
    bool more = !rc && page.n == n;
    sec_audit_page_deinit(&page);
    if (rc) return rc;
    if (!more) break;
    seq += n;
  }
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
  if (seq == 0) seq = 1;
  sec_audit_page page;
  uint64_t bad = 0, last = 0, next = 0;
  json_t *data = json_array();
  int rc = sec_audit_read(c->api->audit, seq, limit, c->scope, &page);
  if (!rc && data) add_records(data, &page, NULL, limit);
  next = page.next_seq;
  sec_audit_page_deinit(&page);
  if (rc == LOOM_ECORRUPT) { /* where, exactly; then the records before it */
    rc = check_chain(c->api->audit, &last, &bad);
    if (rc == LOOM_ECORRUPT) rc = data ? records_before(c, seq, bad, limit, data) : LOOM_ENOMEM;
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
