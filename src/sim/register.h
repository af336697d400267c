/* SPDX-License-Identifier: Apache-2.0
 * The simulated plant (sim/plant.h) registered in the registry, so that
 * `loom demo` opens onto a populated console: a tenant whose engine database
 * is the plant's, the asset tree site > plant > line > cell, four device
 * profiles (cnc, pump, compressor, energy: named as the measurements the
 * sim writes, with keys, units and normal ranges) and one device per
 * simulated machine, named as its line-protocol tag device=<name>. Plus a
 * tenant admin login. Idempotent: a second run finds and reuses every entity
 * (by db name, names and e-mail) and creates only what is missing.
 */
#ifndef LOOM_SIM_REGISTER_H
#define LOOM_SIM_REGISTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"
#include "sec/password.h"

#define SIM_DEMO_DEVICES_MAX 64
#define SIM_DEMO_EMAIL "demo@loom.local"
#define SIM_DEMO_LOGIN_FILE "demo.login" /* in the data dir: "email\npassword\n", mode 0600 */

typedef struct sim_demo {
  char tenant_id[META_ID_LEN + 1];
  size_t n_devices;                                 /* devices of the plant (ids below) */
  char device_ids[SIM_DEMO_DEVICES_MAX][META_ID_LEN + 1];
  uint8_t n_fields[SIM_DEMO_DEVICES_MAX]; /* field values each device writes per tick */
  char email[128];    /* the tenant admin's login */
  char password[64];  /* its generated password: set when created now, or read back from
                         the login file; empty when the file is gone */
  bool user_created;  /* the login was created by this call (first start) */
  size_t n_created;   /* entities created by this call (0 on a second start) */
} sim_demo;

/* The names of the sim's devices for `lines` production lines, in the
 * plant's order (CNC-101 .. CNC-<l>04, P-1 .., AC-1, EM-L1 .., EM-MAIN):
 * writes up to cap names of at most 16 bytes into names; returns the count. */
size_t sim_demo_device_names(uint32_t lines, char (*names)[16], size_t cap);

/* Register (or find) everything above for a plant of `lines` lines writing
 * into engine database db. The login's password is hashed with pl and
 * written to DATA/demo.login (data_dir) when the user is created. Blocks on
 * SQLite and argon2: call before the server starts or from a worker. 0 or
 * the first failing meta_* code (LOOM_EINVAL, LOOM_EEXIST, LOOM_EIO,
 * LOOM_ENOMEM) with a message in err; out is filled on success. */
int sim_demo_register(meta_store *m, const char *db, uint32_t lines, const sec_password_limits *pl,
                      const char *data_dir, sim_demo *out, char *err, size_t errlen);

#endif
