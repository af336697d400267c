/* SPDX-License-Identifier: Apache-2.0
 * /api/v1/tenants: platform admins create, list and delete tenants (each
 * gets its own engine database, named by db_name or generated); a tenant's
 * own users read it and its admins edit its name and industry. Region and
 * database are platform decisions. Deleting a tenant (refused while it has
 * users, assets, profiles or devices) drops its engine database.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"

void rest_tenant_list(api_call *c) {
  c->arg = META_TENANT;
  rest_list(c);
}

void rest_tenant_create(api_call *c) {
  json_t *in;
  if (api_body_object(c, &in)) return;
  if (!json_object_get(in, "db_name")) {
    unsigned char rnd[6];
    char db[32];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(db, sizeof db, "t_%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5]);
    json_object_set_new(in, "db_name", json_string(db));
  }
  const char *db = json_string_value(json_object_get(in, "db_name"));
  char dbname[80];
  snprintf(dbname, sizeof dbname, "%s", db ? db : "");
  json_t *ent = NULL;
  if (rest_do_create(c, META_TENANT, in, NULL, &ent)) return;
  int rc = ts_db_get(c->api->engine, dbname, NULL);
  if (rc == LOOM_ENOTFOUND) rc = ts_db_create(c->api->engine, dbname, 0);
  if (rc) {
    /* no tenant without its database */
    meta_delete(c->api->meta, META_TENANT, NULL, json_string_value(json_object_get(ent, "id")),
                NULL, 0);
    json_decref(ent);
    api_error_rc(c->req, rc, "cannot create the tenant's database");
    return;
  }
  api_reply_json(c->req, 201, ent);
}

void rest_tenant_get(api_call *c) {
  json_t *ent = NULL;
  char err[256] = "";
  int rc = meta_get(c->api->meta, META_TENANT, c->scope, api_param(c, "tenantId"), &ent, err,
                    sizeof err);
  if (rc) api_error_rc(c->req, rc, err);
  else api_reply_json(c->req, 200, ent);
}

void rest_tenant_update(api_call *c) {
  json_t *in;
  if (api_body_object(c, &in)) return;
  if (c->scope && json_object_get(in, "region_code")) {
    json_decref(in);
    api_error(c->req, 403, "region_code is set by platform administrators");
    return;
  }
  rest_do_update(c, META_TENANT, api_param(c, "tenantId"), in, NULL, NULL, NULL, NULL);
}

void rest_tenant_delete(api_call *c) {
  const char *id = api_param(c, "tenantId");
  json_t *t = NULL;
  char err[256] = "", db[80];
  int rc = meta_get(c->api->meta, META_TENANT, c->scope, id, &t, err, sizeof err);
  if (rc) {
    api_error_rc(c->req, rc, err);
    return;
  }
  snprintf(db, sizeof db, "%s", json_string_value(json_object_get(t, "db_name")));
  json_decref(t);
  if (rest_do_delete(c, META_TENANT, id, true)) return;
  /* the tenant is gone (it had no users or devices left): so is its data,
   * so that a later tenant given the same db_name starts empty */
  rc = ts_db_drop(c->api->engine, db);
  if (rc && rc != LOOM_ENOTFOUND) {
    api_error_rc(c->req, rc, "the tenant was deleted but its database could not be dropped");
    return;
  }
  http_respond(c->req, 204, NULL, NULL, 0);
}
