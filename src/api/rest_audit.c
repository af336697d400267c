/* SPDX-License-Identifier: Apache-2.0
 * GET /api/v1/audit: the audit trail, oldest first, in pages
 * (?fromSeq=N&pageSize=M, at most 1000): {"data": [{"seq", "time_ms",
 * "event": {...}}], "nextSeq": n or null}. Tenant admins see their tenant's
 * records only; platform admins everything. Every record's MAC and chain
 * link are checked again as it is read (a broken chain answers 500).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"

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
  if (limit < 1 || limit > 1000) {
    api_error(c->req, 400, "pageSize must be 1..1000");
    return;
  }
  sec_audit_page page;
  int rc = sec_audit_read(c->api->audit, seq, limit, c->scope, &page);
  if (rc) {
    sec_audit_page_deinit(&page);
    api_error_rc(c->req, rc == LOOM_EINVAL ? rc : LOOM_EIO,
                 rc == LOOM_ECORRUPT ? "the audit log does not verify" : "cannot read the audit log");
    return;
  }
  json_t *data = json_array();
  for (size_t i = 0; data && i < page.n; i++) {
    json_t *ev = json_loadb(page.records[i].payload, page.records[i].payload_len, 0, NULL);
    json_array_append_new(data, json_pack("{s:I,s:I,s:o*}", "seq", (json_int_t)page.records[i].seq,
                                          "time_ms", (json_int_t)page.records[i].time_ms, "event",
                                          ev));
  }
  json_t *out = json_pack("{s:o*,s:o}", "data", data, "nextSeq",
                          page.next_seq ? json_integer((json_int_t)page.next_seq) : json_null());
  sec_audit_page_deinit(&page);
  api_reply_json(c->req, 200, out);
}
