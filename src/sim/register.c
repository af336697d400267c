/* SPDX-License-Identifier: Apache-2.0
 * The demo plant in the registry (see register.h). Every entity is looked
 * up first (meta_list with equality filters, meta_device_by_name,
 * meta_user_by_email) and created only when missing, so a restart, or a
 * user who deleted one device, ends with the full set and no duplicates.
 * The tables below are the catalogue: they must agree with what
 * sim/plant.c writes (measurements, fields, device tags).
 */
#include "sim/register.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "sim/plant.h"

#define TENANT_NAME "演示工厂 Demo Plant"
#define TENANT_INDUSTRY "machinery"
#define TENANT_REGION "CN-JS" /* Jiangsu (Suzhou), ISO 3166-2 as the console uses */

typedef struct key_def {
  const char *key, *type, *unit;
  double min, max; /* normal range; min > max = none */
  int level;       /* data classification 1..3 */
} key_def;

#define NO_RANGE 1, 0

static const key_def cnc_keys[] = {
  {"spindle_rpm", "float", "rpm", 0, 11000, 1},
  {"spindle_temp_c", "float", "°C", 15, 65, 1},
  {"vibration_mm_s", "float", "mm/s", 0, 7.1, 1},
  {"power_kw", "float", "kW", 0, 16, 1},
  {"parts_total", "int", "pcs", NO_RANGE, 2},
  {"state", "string", NULL, NO_RANGE, 1},
};
static const key_def pump_keys[] = {
  {"flow_m3h", "float", "m³/h", 0, 50, 1},
  {"pressure_bar", "float", "bar", 0, 6, 1},
  {"motor_temp_c", "float", "°C", 10, 75, 1},
  {"vibration_mm_s", "float", "mm/s", 0, 4.5, 1},
  {"running", "bool", NULL, NO_RANGE, 1},
};
static const key_def comp_keys[] = {
  {"discharge_pressure_bar", "float", "bar", 6, 9, 1},
  {"oil_temp_c", "float", "°C", 40, 95, 1},
  {"power_kw", "float", "kW", 30, 65, 1},
  {"load_pct", "float", "%", 0, 100, 1},
};
static const key_def energy_keys[] = {
  {"active_power_kw", "float", "kW", 0, 250, 2},
  {"energy_kwh", "float", "kWh", NO_RANGE, 2},
  {"voltage_v", "float", "V", 380, 420, 1},
  {"current_a", "float", "A", 0, 400, 1},
  {"power_factor", "float", NULL, 0.85, 1, 1},
};

enum { PR_CNC, PR_PUMP, PR_COMP, PR_ENERGY, PR_COUNT };

static const struct {
  const char *name, *description;
  const key_def *keys;
  size_t n_keys;
} profiles[PR_COUNT] = {
  {"cnc", "数控机床 CNC machine (simulated)", cnc_keys, sizeof cnc_keys / sizeof cnc_keys[0]},
  {"pump", "水泵 Pump (simulated)", pump_keys, sizeof pump_keys / sizeof pump_keys[0]},
  {"compressor", "空压机 Air compressor (simulated)", comp_keys,
   sizeof comp_keys / sizeof comp_keys[0]},
  {"energy", "电表 Energy meter (simulated)", energy_keys,
   sizeof energy_keys / sizeof energy_keys[0]},
};

typedef struct reg {
  meta_store *m;
  const char *scope; /* the tenant's id once known */
  char *err;
  size_t errlen;
  size_t n_created;
} reg;

/* The id of the first entity of kind matching the filters, else create
 * body (consumed either way) and give its id. 0 or a meta_* code. */
static int find_or_create(reg *r, meta_kind kind, const meta_filter *f, size_t nf, json_t *body,
                          char *id) {
  json_t *page = NULL, *made = NULL;
  meta_query q = {.page_size = 1, .filters = f, .n_filters = nf};
  int rc = body ? meta_list(r->m, kind, r->scope, &q, &page, r->err, r->errlen) : LOOM_ENOMEM;
  if (rc) goto out;
  json_t *first = json_array_get(json_object_get(page, "data"), 0);
  if (!first) {
    if ((rc = meta_create(r->m, kind, r->scope, body, NULL, &made, r->err, r->errlen))) goto out;
    first = made;
    r->n_created++;
  }
  const char *s = json_string_value(json_object_get(first, "id"));
  if (!s || strlen(s) > META_ID_LEN) {
    rc = LOOM_EIO;
    goto out;
  }
  memcpy(id, s, strlen(s) + 1);
out:
  json_decref(body);
  json_decref(page);
  json_decref(made);
  return rc;
}

/* An asset of type under parent (NULL = a root). */
static int asset(reg *r, const char *parent, const char *name, const char *type, char *id) {
  meta_filter f[] = {{"name", name}, {"parent_id", parent}};
  json_t *b = json_pack("{s:s,s:s}", "name", name, "type", type);
  if (b && parent) json_object_set_new(b, "parent_id", json_string(parent));
  return find_or_create(r, META_ASSET, f, 2, b, id);
}

static int profile(reg *r, int which, char *id) {
  meta_filter f[] = {{"name", profiles[which].name}};
  int rc = find_or_create(r, META_PROFILE, f, 1,
                          json_pack("{s:s,s:s}", "name", profiles[which].name, "description",
                                    profiles[which].description),
                          id);
  for (size_t i = 0; !rc && i < profiles[which].n_keys; i++) {
    const key_def *k = &profiles[which].keys[i];
    meta_filter kf[] = {{"profile_id", id}, {"key", k->key}};
    json_t *b = json_pack("{s:s,s:s,s:s,s:i}", "profile_id", id, "key", k->key, "type", k->type,
                          "level", k->level);
    if (b && k->unit) json_object_set_new(b, "unit", json_string(k->unit));
    if (b && k->min <= k->max) {
      json_object_set_new(b, "min", json_real(k->min));
      json_object_set_new(b, "max", json_real(k->max));
    }
    char kid[META_ID_LEN + 1];
    rc = find_or_create(r, META_PROFILE_KEY, kf, 2, b, kid);
  }
  return rc;
}

static int device(reg *r, const char *name, const char *label, const char *profile_id,
                  const char *asset_id, const char *line, char *id) {
  meta_device_ref d;
  int rc = meta_device_by_name(r->m, r->scope, name, &d);
  if (!rc) {
    memcpy(id, d.id, sizeof d.id);
    return 0;
  }
  if (rc != LOOM_ENOTFOUND) return rc;
  json_t *made = NULL;
  json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "name", name, "label", label,
                        "profile_id", profile_id, "asset_id", asset_id, "labels", "site", "plant1");
  if (b && line) json_object_set_new(json_object_get(b, "labels"), "line", json_string(line));
  rc = b ? meta_create(r->m, META_DEVICE, r->scope, b, NULL, &made, r->err, r->errlen)
         : LOOM_ENOMEM;
  json_decref(b);
  if (!rc) {
    snprintf(id, META_ID_LEN + 1, "%s", json_string_value(json_object_get(made, "id")));
    r->n_created++;
  }
  json_decref(made);
  return rc;
}

size_t sim_demo_device_names(uint32_t lines, char (*names)[16], size_t cap) {
  size_t n = 0;
  for (uint32_t l = 1; l <= lines && l < 100; l++)
    for (uint32_t k = 1; k <= SIM_CNC_PER_LINE && n < cap; k++)
      snprintf(names[n++], 16, "CNC-%u%02u", l, k);
  for (uint32_t l = 1; l <= lines && l < 100 && n < cap; l++) snprintf(names[n++], 16, "P-%u", l);
  if (n < cap) snprintf(names[n++], 16, "AC-1");
  for (uint32_t l = 1; l <= lines && l < 100 && n < cap; l++) snprintf(names[n++], 16, "EM-L%u", l);
  if (n < cap) snprintf(names[n++], 16, "EM-MAIN");
  return n;
}

/* A password the policy accepts: 16 characters of an unambiguous alphabet. */
static int gen_password(char *pw, size_t cap) {
  static const char abc[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  if (sodium_init() < 0) return LOOM_EIO;
  do {
    size_t i = 0;
    for (; i < 16 && i + 1 < cap; i++) pw[i] = abc[randombytes_uniform(sizeof abc - 1)];
    pw[i] = 0;
  } while (sec_password_check_policy(pw, NULL, 0));
  return 0;
}

/* The tenant admin login: created with a new password (saved to the login
 * file), or found, its password read back from the file. */
static int login(reg *r, const sec_password_limits *pl, const char *data_dir, sim_demo *out) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", data_dir, SIM_DEMO_LOGIN_FILE);
  snprintf(out->email, sizeof out->email, "%s", SIM_DEMO_EMAIL);
  meta_user_auth ua;
  int rc = meta_user_by_email(r->m, out->email, &ua);
  if (!rc) {
    FILE *f = fopen(path, "r");
    char line[256];
    if (f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f)) {
      size_t len = strcspn(line, "\n");
      if (len < sizeof out->password) {
        memcpy(out->password, line, len);
        out->password[len] = 0;
      }
    }
    if (f) fclose(f);
    return 0;
  }
  if (rc != LOOM_ENOTFOUND) return rc;
  char hash[SEC_PASSWORD_HASH_MAX];
  if ((rc = gen_password(out->password, sizeof out->password)) ||
      (rc = sec_password_hash(pl, out->password, hash))) {
    snprintf(r->err, r->errlen, "cannot hash the demo password: %s", loom_strerror(rc));
    return rc;
  }
  json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "email", out->email, "name", "演示管理员 Demo admin",
                        "role", "tenant_admin", "region_code", TENANT_REGION);
  json_t *sec = json_pack("{s:s}", "password_hash", hash);
  rc = b && sec ? meta_create(r->m, META_USER, r->scope, b, sec, NULL, r->err, r->errlen)
                : LOOM_ENOMEM;
  json_decref(b);
  json_decref(sec);
  if (rc) return rc;
  r->n_created++;
  out->user_created = true;
  char text[256];
  int len = snprintf(text, sizeof text, "%s\n%s\n", out->email, out->password);
  if ((rc = loom_write_file_atomic(path, text, (size_t)len, 0600)))
    snprintf(r->err, r->errlen, "cannot write %s: %s", path, loom_strerror(rc));
  return rc;
}

int sim_demo_register(meta_store *m, const char *db, uint32_t lines, const sec_password_limits *pl,
                      const char *data_dir, sim_demo *out, char *err, size_t errlen) {
  char scratch[256];
  reg r = {.m = m, .err = err ? err : scratch, .errlen = err ? errlen : sizeof scratch};
  memset(out, 0, sizeof *out);
  char site[META_ID_LEN + 1], plant[META_ID_LEN + 1], prof[PR_COUNT][META_ID_LEN + 1];
  if (!lines) lines = 3;
  int rc = meta_tenant_by_db(m, db, out->tenant_id);
  if (rc == LOOM_ENOTFOUND) {
    json_t *made = NULL;
    json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "name", TENANT_NAME, "industry", TENANT_INDUSTRY,
                          "region_code", TENANT_REGION, "db_name", db);
    rc = b ? meta_create(m, META_TENANT, NULL, b, NULL, &made, r.err, r.errlen) : LOOM_ENOMEM;
    json_decref(b);
    if (!rc) {
      snprintf(out->tenant_id, sizeof out->tenant_id, "%s",
               json_string_value(json_object_get(made, "id")));
      r.n_created++;
    }
    json_decref(made);
  }
  if (rc) goto out;
  r.scope = out->tenant_id;
  for (int i = 0; !rc && i < PR_COUNT; i++) rc = profile(&r, i, prof[i]);
  if (!rc) rc = asset(&r, NULL, "苏州园区 Suzhou Site", "site", site);
  if (!rc) rc = asset(&r, site, "一号工厂 Plant 1", "plant", plant);
  char line_cells[100][2][META_ID_LEN + 1];
  for (uint32_t l = 1; !rc && l <= lines && l < 100; l++) {
    char name[128], line_id[META_ID_LEN + 1];
    snprintf(name, sizeof name, "L%u 产线 Line %u", l, l);
    rc = asset(&r, plant, name, "line", line_id);
    snprintf(name, sizeof name, "L%u 加工单元 Machining cell", l);
    if (!rc) rc = asset(&r, line_id, name, "cell", line_cells[l][0]);
    snprintf(name, sizeof name, "L%u 公用单元 Utilities cell", l);
    if (!rc) rc = asset(&r, line_id, name, "cell", line_cells[l][1]);
  }
  char names[SIM_DEMO_DEVICES_MAX][16];
  size_t n = sim_demo_device_names(lines, names, SIM_DEMO_DEVICES_MAX);
  for (size_t i = 0; !rc && i < n; i++) {
    const char *nm = names[i], *pid, *aid = plant;
    char label[128], line[16] = "";
    unsigned l = 0, k = 0;
    if (sscanf(nm, "CNC-%1u%2u", &l, &k) == 2 && l < 100) {
      pid = prof[PR_CNC];
      aid = line_cells[l][0];
      snprintf(label, sizeof label, "数控机床 CNC machine %u-%02u", l, k);
    } else if (sscanf(nm, "P-%u", &l) == 1 && l < 100) {
      pid = prof[PR_PUMP];
      aid = line_cells[l][1];
      snprintf(label, sizeof label, "冷却水泵 Coolant pump L%u", l);
    } else if (!strcmp(nm, "AC-1")) {
      pid = prof[PR_COMP];
      snprintf(label, sizeof label, "空压机 Air compressor 1");
    } else if (sscanf(nm, "EM-L%u", &l) == 1 && l < 100) {
      pid = prof[PR_ENERGY];
      aid = line_cells[l][1];
      snprintf(label, sizeof label, "产线电表 Line meter L%u", l);
    } else {
      pid = prof[PR_ENERGY];
      snprintf(label, sizeof label, "总电表 Main meter");
    }
    if (l) snprintf(line, sizeof line, "L%u", l);
    /* the fields plant.c writes per line; EM-MAIN has two */
    out->n_fields[i] = (uint8_t)(pid == prof[PR_ENERGY] && l == 0 ? 2 : pid == prof[PR_CNC] ? 6
                                 : pid == prof[PR_COMP] ? 4 : 5);
    rc = device(&r, nm, label, pid, aid, l ? line : NULL, out->device_ids[i]);
    out->n_devices = i + 1;
  }
  if (!rc) rc = login(&r, pl, data_dir, out);
out:
  out->n_created = r.n_created;
  return rc;
}
