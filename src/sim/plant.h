/* SPDX-License-Identifier: Apache-2.0
 * A simulated plant for `loom demo`: production lines of CNC machines, pumps,
 * compressors and energy meters with realistic signals (temperatures,
 * vibration, spindle speed, power, counters, machine state). It writes line
 * protocol through the same ingest path as HTTP clients. Every line carries
 * the tag device=<name> (CNC-101, P-1, AC-1, EM-L1, EM-MAIN ...), the tag the
 * registry links devices by (sim/register.h registers them).
 */
#ifndef LOOM_SIM_PLANT_H
#define LOOM_SIM_PLANT_H

#include <stdint.h>

#include "ts/engine.h"

#define SIM_CNC_PER_LINE 4 /* CNC machines per production line */

typedef struct sim_plant sim_plant;
typedef struct live_hub live_hub;

/* Called on the plant's thread after each tick's points were handed to the
 * engine (t_ns: the tick's time), and once at the end of the backfill. */
typedef void (*sim_plant_tick_cb)(void *user, int64_t t_ns);

typedef struct sim_plant_options {
  const char *db;          /* database to write into (created if missing) */
  uint32_t lines;          /* production lines (default 3) */
  uint32_t interval_ms;    /* sampling interval (default 5000) */
  uint32_t backfill_s;     /* history written at start (default 7200) */
  uint64_t seed;
  live_hub *live;          /* NULL or the hub live telemetry goes to (ingest_lp_live) */
  sim_plant_tick_cb on_tick; /* NULL or called after every tick (see above) */
  void *user;              /* on_tick's argument */
} sim_plant_options;

/* Create the plant and write its backfill: backfill_s of history up to now,
 * or, when the database already holds the plant's samples (a restart), only
 * the gap since the newest of them, so the two never interleave; the
 * counters (parts made, energy meters) continue from their stored values.
 * 0 or LOOM_E*. */
int sim_plant_new(ts_engine *e, const sim_plant_options *o, sim_plant **out);
/* Produce one sample of every device at time t_ns as line protocol into out. Pure but for
 * the plant's own state. */
int sim_plant_tick(sim_plant *p, int64_t t_ns, loom_buf *out);
/* Start / stop the thread that samples every interval. */
int sim_plant_start(sim_plant *p);
void sim_plant_free(sim_plant *p); /* stops the thread first */

#endif
