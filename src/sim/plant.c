/* SPDX-License-Identifier: Apache-2.0
 * Simulated plant (see plant.h). Each device is a small state machine:
 * machines cycle through running / idle / setup and, rarely, alarm; signals
 * are clamped random walks that follow the state (a running spindle warms
 * up, an idle one cools down), counters only grow while running.
 */
#include "sim/plant.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "ingest/ingest.h"
#include "query/exec.h"

#include <jansson.h>

enum { ST_RUNNING, ST_IDLE, ST_SETUP, ST_ALARM };
static const char *state_names[] = {"running", "idle", "setup", "alarm"};

typedef struct machine {
  int state;
  uint32_t state_left;        /* ticks until the next state change */
  double spindle_temp, vibration, rpm, load;
  int64_t parts;
} machine;

typedef struct pump {
  bool running;
  double flow, pressure, temp, vibration;
} pump;

typedef struct meter {
  double kwh;
} meter;

#define CNC_PER_LINE SIM_CNC_PER_LINE

struct sim_plant {
  ts_engine *e;
  sim_plant_options o;
  char db[64];
  uint64_t rng;
  machine *cnc;   /* lines x CNC_PER_LINE */
  pump *pumps;    /* one per line */
  double comp_pressure, comp_temp;
  meter *meters;  /* one per line + one main */
  pthread_t thread;
  bool running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
};

static double rnd(sim_plant *p) { /* xorshift64*, uniform in [0, 1) */
  p->rng ^= p->rng >> 12;
  p->rng ^= p->rng << 25;
  p->rng ^= p->rng >> 27;
  return (double)((p->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double walk(sim_plant *p, double v, double target, double pull, double noise, double lo,
                   double hi) {
  v += (target - v) * pull + (rnd(p) - 0.5) * 2 * noise;
  return v < lo ? lo : v > hi ? hi : v;
}

static double round_to(double v, double q) { return round(v / q) * q; }

static void machine_step(sim_plant *p, machine *m) {
  if (m->state_left-- == 0) {
    double r = rnd(p);
    if (m->state == ST_ALARM || m->state == ST_SETUP) m->state = ST_RUNNING;
    else if (r < 0.02) m->state = ST_ALARM;
    else if (r < 0.15) m->state = ST_SETUP;
    else if (r < 0.35) m->state = ST_IDLE;
    else m->state = ST_RUNNING;
    m->state_left = 20 + (uint32_t)(rnd(p) * 200);
  }
  bool run = m->state == ST_RUNNING;
  m->rpm = walk(p, m->rpm, run ? 8000 + 2000 * m->load : 0, run ? 0.3 : 0.5, run ? 120 : 5, 0, 12000);
  m->spindle_temp = walk(p, m->spindle_temp, run ? 42 + 10 * m->load : 24, 0.05, 0.3, 15, 95);
  m->vibration = walk(p, m->vibration, run ? 1.8 + m->load : 0.2, 0.2, 0.15, 0, 20);
  if (m->state == ST_ALARM) m->vibration = walk(p, m->vibration, 9, 0.3, 0.8, 0, 20);
  m->load = walk(p, m->load, 0.6, 0.05, 0.05, 0, 1);
  if (run && rnd(p) < 0.25) m->parts++;
}

int sim_plant_tick(sim_plant *p, int64_t t, loom_buf *b) {
  int rc = 0;
  for (uint32_t l = 0; l < p->o.lines && !rc; l++) {
    for (uint32_t k = 0; k < CNC_PER_LINE && !rc; k++) {
      machine *m = &p->cnc[l * CNC_PER_LINE + k];
      machine_step(p, m);
      rc = loom_buf_printf(b,
                           "cnc,device=CNC-%u%02u,line=L%u,machine=CNC-%u%02u,site=plant1 spindle_rpm=%.0f,"
                           "spindle_temp_c=%.1f,vibration_mm_s=%.2f,power_kw=%.2f,"
                           "parts_total=%lldi,state=\"%s\" %lld\n",
                           l + 1, k + 1, l + 1, l + 1, k + 1, m->rpm, m->spindle_temp, m->vibration,
                           round_to(m->state == ST_RUNNING ? 4 + 11 * m->load : 0.6, 0.01),
                           (long long)m->parts, state_names[m->state], (long long)t);
    }
    pump *pu = &p->pumps[l];
    if (rnd(p) < 0.01) pu->running = !pu->running;
    pu->flow = walk(p, pu->flow, pu->running ? 38 : 0, 0.3, 0.6, 0, 60);
    pu->pressure = walk(p, pu->pressure, pu->running ? 4.2 : 0.1, 0.3, 0.05, 0, 10);
    pu->temp = walk(p, pu->temp, pu->running ? 55 : 25, 0.02, 0.2, 10, 90);
    pu->vibration = walk(p, pu->vibration, pu->running ? 2.5 : 0.1, 0.2, 0.2, 0, 15);
    if (!rc)
      rc = loom_buf_printf(b,
                           "pump,device=P-%u,line=L%u,pump=P-%u,site=plant1 flow_m3h=%.1f,pressure_bar=%.2f,"
                           "motor_temp_c=%.1f,vibration_mm_s=%.2f,running=%s %lld\n",
                           l + 1, l + 1, l + 1, pu->flow, pu->pressure, pu->temp, pu->vibration,
                           pu->running ? "true" : "false", (long long)t);
  }
  p->comp_pressure = walk(p, p->comp_pressure, 7.5, 0.2, 0.1, 5, 10);
  p->comp_temp = walk(p, p->comp_temp, 78, 0.05, 0.4, 40, 110);
  double comp_kw = round_to(45 + (p->comp_pressure - 7) * 8 + (rnd(p) - 0.5) * 2, 0.1);
  if (!rc)
    rc = loom_buf_printf(b,
                         "compressor,device=AC-1,site=plant1,unit=AC-1 discharge_pressure_bar=%.2f,"
                         "oil_temp_c=%.1f,power_kw=%.1f,load_pct=%.0f %lld\n",
                         p->comp_pressure, p->comp_temp, comp_kw,
                         round_to(60 + (p->comp_pressure - 7) * 20, 1), (long long)t);
  double total_kw = comp_kw;
  double dt_h = p->o.interval_ms / 3600000.0;
  for (uint32_t l = 0; l < p->o.lines && !rc; l++) {
    double kw = 0;
    for (uint32_t k = 0; k < CNC_PER_LINE; k++) {
      machine *m = &p->cnc[l * CNC_PER_LINE + k];
      kw += m->state == ST_RUNNING ? 4 + 11 * m->load : 0.6;
    }
    kw += p->pumps[l].running ? 7.5 : 0;
    total_kw += kw;
    p->meters[l].kwh += kw * dt_h;
    rc = loom_buf_printf(b,
                         "energy,device=EM-L%u,line=L%u,meter=EM-L%u,site=plant1 active_power_kw=%.2f,"
                         "energy_kwh=%.3f,voltage_v=%.1f,current_a=%.1f,power_factor=%.2f %lld\n",
                         l + 1, l + 1, l + 1, kw, p->meters[l].kwh, 398 + rnd(p) * 6,
                         kw * 1000 / (1.732 * 400 * 0.92), 0.9 + rnd(p) * 0.05, (long long)t);
  }
  meter *mainm = &p->meters[p->o.lines];
  mainm->kwh += total_kw * dt_h;
  if (!rc)
    rc = loom_buf_printf(b,
                         "energy,device=EM-MAIN,meter=EM-MAIN,site=plant1 active_power_kw=%.2f,energy_kwh=%.3f %lld\n",
                         total_kw, mainm->kwh, (long long)t);
  return rc;
}

static void ignore_done(void *arg, int status) {
  (void)arg;
  if (status) LOOM_WARN("simulated plant write failed", "err=\"%s\"", loom_strerror(status));
}

static int write_at(sim_plant *p, int64_t t, loom_buf *b) {
  loom_buf_reset(b);
  int rc = sim_plant_tick(p, t, b);
  if (rc) return rc;
  ingest_result res;
  loom_buf_init(&res.body);
  rc = ingest_lp_live(p->e, p->o.live, p->db, (const char *)b->data, b->len, 1, &res, ignore_done,
                      NULL);
  loom_buf_deinit(&res.body);
  return rc;
}

static int sink_begin(void *arg, int status, const char *ct) {
  (void)arg, (void)ct;
  return status == 200 ? 0 : -1;
}

static int sink_write(void *arg, const void *data, size_t len) {
  return loom_buf_append(arg, data, len) ? -1 : 0;
}

/* The newest point of statement q (a SELECT last(...)) in the plant's
 * database: 0 with its time (ns) and value, LOOM_ENOTFOUND when there is
 * none (a first start), or the executor's error. */
static int last_of(sim_plant *p, int64_t now, const char *q, int64_t *t, double *v) {
  loom_buf out;
  loom_buf_init(&out);
  qx_options o = {.db = p->db, .epoch = "ns", .now_ns = now};
  qx_sink sink = {.begin = sink_begin, .write = sink_write, .arg = &out};
  int rc = qx_execute(p->e, q, strlen(q), &o, &sink);
  json_t *js = rc ? NULL : json_loadb((const char *)out.data, out.len, 0, NULL);
  json_t *res = json_array_get(json_object_get(js, "results"), 0);
  json_t *row = json_array_get(
      json_object_get(json_array_get(json_object_get(res, "series"), 0), "values"), 0);
  if (!rc && json_is_integer(json_array_get(row, 0)) && json_is_number(json_array_get(row, 1))) {
    *t = json_integer_value(json_array_get(row, 0));
    *v = json_number_value(json_array_get(row, 1));
  } else if (!rc) {
    rc = LOOM_ENOTFOUND;
  }
  json_decref(js);
  loom_buf_deinit(&out);
  return rc;
}

/* A restarted demo: continue from the plant's newest samples, so its history
 * is not written twice over the same hours and its counters (parts made,
 * meters' kWh) keep growing instead of starting over. Returns the newest
 * sample's time (ns), 0 when the database holds none. */
static int64_t resume(sim_plant *p, int64_t now) {
  int64_t last = 0, t;
  double v;
  char q[160];
  if (last_of(p, now, "SELECT last(\"power_kw\") FROM \"compressor\"", &last, &v)) return 0;
  for (uint32_t l = 0; l < p->o.lines; l++) {
    for (uint32_t k = 0; k < CNC_PER_LINE; k++) {
      snprintf(q, sizeof q, "SELECT last(\"parts_total\") FROM \"cnc\" WHERE \"device\" = 'CNC-%u%02u'",
               l + 1, k + 1);
      if (!last_of(p, now, q, &t, &v) && v >= 0 && v < 9e15)
        p->cnc[l * CNC_PER_LINE + k].parts = (int64_t)v;
    }
    snprintf(q, sizeof q, "SELECT last(\"energy_kwh\") FROM \"energy\" WHERE \"device\" = 'EM-L%u'",
             l + 1);
    if (!last_of(p, now, q, &t, &v) && v >= 0) p->meters[l].kwh = v;
  }
  if (!last_of(p, now, "SELECT last(\"energy_kwh\") FROM \"energy\" WHERE \"device\" = 'EM-MAIN'",
               &t, &v) && v >= 0)
    p->meters[p->o.lines].kwh = v;
  return last;
}

int sim_plant_new(ts_engine *e, const sim_plant_options *o, sim_plant **out) {
  sim_plant *p = loom_calloc(1, sizeof *p);
  if (!p) return LOOM_ENOMEM;
  p->e = e;
  p->o = *o;
  if (!p->o.lines) p->o.lines = 3;
  if (!p->o.interval_ms) p->o.interval_ms = 5000;
  snprintf(p->db, sizeof p->db, "%s", o->db ? o->db : "plant");
  p->rng = o->seed ? o->seed : 0x9E3779B97F4A7C15ULL;
  p->cnc = loom_calloc(p->o.lines * CNC_PER_LINE, sizeof *p->cnc);
  p->pumps = loom_calloc(p->o.lines, sizeof *p->pumps);
  p->meters = loom_calloc(p->o.lines + 1, sizeof *p->meters);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  int rc = p->cnc && p->pumps && p->meters ? 0 : LOOM_ENOMEM;
  for (uint32_t i = 0; !rc && i < p->o.lines * CNC_PER_LINE; i++) {
    p->cnc[i].spindle_temp = 24;
    p->cnc[i].load = 0.5;
    p->cnc[i].parts = 1000 + (int64_t)(rnd(p) * 5000);
  }
  for (uint32_t i = 0; !rc && i < p->o.lines; i++) {
    p->pumps[i].running = true;
    p->pumps[i].temp = 40;
    p->meters[i].kwh = 10000 + rnd(p) * 5000;
  }
  if (!rc) p->meters[p->o.lines].kwh = 80000;
  p->comp_pressure = 7;
  p->comp_temp = 70;
  if (!rc) rc = ts_db_create(e, p->db, 0);
  loom_buf b;
  loom_buf_init(&b);
  int64_t now = loom_now_ns(), step = (int64_t)p->o.interval_ms * LOOM_NS_PER_MS;
  int64_t from = now - (int64_t)p->o.backfill_s * LOOM_NS_PER_S;
  int64_t last = rc ? 0 : resume(p, now);
  if (last && last + step > from) from = last + step; /* a restart: no overlap with its history */
  for (int64_t t = from; !rc && t < now; t += step)
    rc = write_at(p, t, &b);
  loom_buf_deinit(&b);
  if (!rc && p->o.on_tick) p->o.on_tick(p->o.user, now);
  if (rc) {
    sim_plant_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

static void *plant_main(void *arg) {
  sim_plant *p = arg;
  pthread_setname_np(pthread_self(), "sim-plant"); /* top -H, perf, gdb */
  loom_buf b;
  loom_buf_init(&b);
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)p->o.interval_ms * LOOM_NS_PER_MS;
    ts.tv_sec += ns / LOOM_NS_PER_S;
    ts.tv_nsec = ns % LOOM_NS_PER_S;
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    if (p->stop) break;
    pthread_mutex_unlock(&p->mu);
    int64_t t = loom_now_ns();
    int rc = write_at(p, t, &b);
    if (rc) LOOM_WARN("simulated plant write failed", "err=\"%s\"", loom_strerror(rc));
    else if (p->o.on_tick) p->o.on_tick(p->o.user, t);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  loom_buf_deinit(&b);
  return NULL;
}

int sim_plant_start(sim_plant *p) {
  if (pthread_create(&p->thread, NULL, plant_main, p)) return LOOM_ENOMEM;
  p->running = true;
  return 0;
}

void sim_plant_free(sim_plant *p) {
  if (!p) return;
  if (p->running) {
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
  }
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  loom_free(p->cnc);
  loom_free(p->pumps);
  loom_free(p->meters);
  loom_free(p);
}
