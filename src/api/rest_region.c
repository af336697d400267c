/* SPDX-License-Identifier: Apache-2.0
 * GET /api/v1/regions/{region}/summary: what a regional observer may see of
 * the tenants of its region, aggregates only, never a tenant's own records:
 * {"region", "tenants", "devices", "online", "industries": {industry: tenants}}.
 * Counted from the registry (one page query per tenant, at most
 * REGION_TENANTS_MAX tenants).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"

#define REGION_TENANTS_MAX 5000

static int count(api_call *c, meta_kind kind, const meta_filter *f, size_t nf, json_int_t *out) {
  meta_query q = {.page_size = 1, .filters = f, .n_filters = nf};
  json_t *page = NULL;
  int rc = meta_list(c->api->meta, kind, NULL, &q, &page, NULL, 0);
  if (!rc) *out = json_integer_value(json_object_get(page, "totalElements"));
  json_decref(page);
  return rc;
}

void rest_region_summary(api_call *c) {
  const char *region = api_param(c, "region");
  json_int_t n_devices = 0, n_online = 0, n_tenants = 0;
  json_t *industries = json_object();
  int rc = industries ? 0 : LOOM_ENOMEM;
  meta_filter rf = {"region_code", region};
  for (uint32_t page_no = 0; !rc; page_no++) {
    meta_query q = {.page = page_no, .page_size = META_PAGE_MAX, .filters = &rf, .n_filters = 1};
    json_t *page = NULL;
    if ((rc = meta_list(c->api->meta, META_TENANT, NULL, &q, &page, NULL, 0))) break;
    json_t *data = json_object_get(page, "data"), *t;
    size_t i;
    json_array_foreach(data, i, t) {
      const char *id = json_string_value(json_object_get(t, "id"));
      const char *ind = json_string_value(json_object_get(t, "industry"));
      meta_filter f[2] = {{"tenant_id", id}, {"state", "online"}};
      json_int_t d = 0, on = 0;
      if ((rc = count(c, META_DEVICE, f, 1, &d)) || (rc = count(c, META_DEVICE, f, 2, &on))) break;
      n_devices += d;
      n_online += on;
      n_tenants++;
      const char *key = ind && *ind ? ind : "unspecified";
      json_object_set_new(industries, key,
                          json_integer(json_integer_value(json_object_get(industries, key)) + 1));
    }
    bool more = json_is_true(json_object_get(page, "hasNext")) && n_tenants < REGION_TENANTS_MAX;
    json_decref(page);
    if (!more) break;
  }
  if (rc) {
    json_decref(industries);
    api_error_rc(c->req, rc == LOOM_EINVAL ? LOOM_EINVAL : LOOM_EIO, "cannot count the region");
    return;
  }
  api_reply_json(c->req, 200,
                 json_pack("{s:s,s:I,s:I,s:I,s:o}", "region", region, "tenants", n_tenants,
                           "devices", n_devices, "online", n_online, "industries", industries));
}
