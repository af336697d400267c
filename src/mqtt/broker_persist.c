/* SPDX-License-Identifier: Apache-2.0
 * Broker state across restarts through mqtt/persist.h: persistent sessions
 * (with their subscriptions and queued messages) and retained messages are
 * saved to cfg->state_dir at stop and every autosave_s while dirty, and
 * loaded at start (sessions come back disconnected, subscriptions re-added
 * to the tree, expiry clocks running). Clients whose session ends with the
 * connection (Session Expiry 0) are not saved.
 */
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "mqtt/broker_int.h"
#include "mqtt/persist.h"

#define RET_HDR 9

typedef struct save_ctx {
  mqtt_snap_writer *w;
  uint64_t wall_ms;
  int rc;
} save_ctx;

static int save_retained(void *ud, const mqtt_retain_msg *rm) {
  save_ctx *x = ud;
  if (rm->props_len < RET_HDR) return 0;
  bool has_exp = rm->props[0] == 1;
  uint64_t at = 0;
  for (int i = 0; i < 8; i++) at = (at << 8) | rm->props[1 + i];
  uint32_t left = 0;
  if (has_exp) {
    if (at <= x->wall_ms) return 0;
    left = (uint32_t)((at - x->wall_ms + 999) / 1000);
  }
  if (rm->topic_len >= 5 && memcmp(rm->topic, "$SYS/", 5) == 0) return 0;
  mqtt_retain_msg m = *rm;
  m.props = rm->props + RET_HDR;
  m.props_len = rm->props_len - RET_HDR;
  int rc = mqtt_snap_add_retained(x->w, &m, has_exp, left);
  if (rc && rc != LOOM_EINVAL) {
    x->rc = rc;
    return 1;
  }
  return 0;
}

/* One client record; subs/cap: a scratch array reused across calls. */
static int write_client(mqtt_snap_writer *w, const br_client *cl, uint64_t now,
                        mqtt_snap_sub **subs, size_t *cap) {
  if (cl->n_subs > *cap) {
    mqtt_snap_sub *ns = loom_realloc(*subs, cl->n_subs * sizeof(*ns));
    if (!ns) return LOOM_ENOMEM;
    *subs = ns;
    *cap = cl->n_subs;
  }
  for (uint32_t k = 0; k < cl->n_subs; k++) {
    (*subs)[k].filter = cl->subs[k].filter;
    (*subs)[k].len = cl->subs[k].len;
    (*subs)[k].opts = cl->subs[k].opts;
  }
  int rc = mqtt_snap_add_client(w, cl->id, cl->sess, now, *subs, cl->n_subs);
  return rc == LOOM_EINVAL ? 0 : rc; /* EINVAL: skip that client */
}

static int write_retained(mqtt_broker *b, mqtt_snap_writer *w) {
  save_ctx x = {.w = w, .wall_ms = (uint64_t)(loom_now_ns() / 1000000)};
  mqtt_retain_each(b->retain, save_retained, &x);
  return x.rc;
}

/* Retained messages from b->inc_ret_pos, chunks of 64 until the clock
 * passes until_ns (at least one chunk); *done when all were written. */
static int write_retained_slice(mqtt_broker *b, int64_t until_ns, bool *done) {
  save_ctx x = {.w = b->inc_w, .wall_ms = b->inc_wall_ms};
  *done = false;
  while (!x.rc) {
    mqtt_retain_each_from(b->retain, &b->inc_ret_pos, 64, save_retained, &x);
    if (b->inc_ret_pos >= mqtt_retain_count(b->retain)) {
      *done = true;
      break;
    }
    if (loom_mono_ns() >= until_ns) break;
  }
  return x.rc;
}

int br_state_write(mqtt_broker *b, mqtt_snap_writer **out) {
  *out = NULL;
  if (!b->cfg.state_dir) return 0;
  mqtt_snap_writer *w = NULL;
  int rc = mqtt_snap_begin(b->cfg.state_dir, &w);
  if (rc) return rc;
  uint64_t now = br_now(b);
  mqtt_snap_sub *subs = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < b->ctab_cap && !rc; i++)
    for (br_client *cl = b->ctab[i]; cl && !rc; cl = cl->hnext)
      if (cl->expiry_s) rc = write_client(w, cl, now, &subs, &cap);
  loom_free(subs);
  if (!rc) rc = write_retained(b, w);
  if (rc) {
    mqtt_snap_abort(w);
    return rc;
  }
  *out = w;
  return 0;
}

void br_state_inc_abort(mqtt_broker *b) {
  for (size_t i = b->inc_pos; i < b->inc_n; i++)
    if (b->inc_list[i]) b->inc_list[i]->save_idx = 0;
  loom_free(b->inc_list);
  b->inc_list = NULL;
  b->inc_n = b->inc_pos = 0;
  if (b->inc_w) mqtt_snap_abort(b->inc_w);
  b->inc_w = NULL;
}

int br_state_inc_begin(mqtt_broker *b) {
  if (!b->cfg.state_dir || b->inc_w) return 0;
  size_t n = 0;
  for (size_t i = 0; i < b->ctab_cap; i++)
    for (br_client *cl = b->ctab[i]; cl; cl = cl->hnext) n += cl->expiry_s != 0;
  br_client **list = NULL;
  if (n && !(list = loom_malloc(n * sizeof(*list)))) return LOOM_ENOMEM;
  int rc = mqtt_snap_begin(b->cfg.state_dir, &b->inc_w);
  if (rc) {
    loom_free(list);
    b->inc_w = NULL;
    return rc;
  }
  size_t k = 0;
  for (size_t i = 0; i < b->ctab_cap; i++) {
    for (br_client *cl = b->ctab[i]; cl; cl = cl->hnext) {
      if (!cl->expiry_s) continue;
      list[k] = cl;
      cl->save_idx = ++k;
    }
  }
  b->inc_list = list;
  b->inc_n = n;
  b->inc_pos = 0;
  b->inc_ret_pos = 0;
  b->inc_now = br_now(b);
  b->inc_wall_ms = (uint64_t)(loom_now_ns() / 1000000);
  return 0;
}

int br_state_inc_step(mqtt_broker *b, uint64_t budget_ms, mqtt_snap_writer **done_w) {
  *done_w = NULL;
  if (!b->inc_w) return 0;
  int64_t until = loom_mono_ns() + (int64_t)budget_ms * 1000000;
  mqtt_snap_sub *subs = NULL;
  size_t cap = 0;
  int rc = 0;
  while (b->inc_pos < b->inc_n) {
    br_client *cl = b->inc_list[b->inc_pos++];
    if (!cl) continue;
    cl->save_idx = 0;
    if (cl->expiry_s && (rc = write_client(b->inc_w, cl, b->inc_now, &subs, &cap))) break;
    if (loom_mono_ns() >= until) break; /* a clock read costs ~1% of a client */
  }
  loom_free(subs);
  bool ret_done = false; /* retained: at least one chunk per step */
  if (!rc && b->inc_pos == b->inc_n) rc = write_retained_slice(b, until, &ret_done);
  if (!rc && ret_done) {
    *done_w = b->inc_w;
    b->inc_w = NULL;
    br_state_inc_abort(b); /* frees the (consumed) list */
  }
  if (rc) br_state_inc_abort(b);
  return rc;
}

int br_state_save(mqtt_broker *b) {
  mqtt_snap_writer *w = NULL;
  int rc = br_state_write(b, &w);
  if (rc || !w) return rc;
  return mqtt_snap_commit(w);
}

static int load_client(void *ud, const char *client_id, mqtt_session *s,
                       const mqtt_snap_sub *subs, size_t n_subs) {
  mqtt_broker *b = ud;
  br_client *cl = br_client_find(b, client_id, strlen(client_id));
  if (cl) { /* duplicate id: keep the first */
    mqtt_session_free(s);
    return 0;
  }
  if (br_client_adopt(b, client_id, s, &cl)) {
    mqtt_session_free(s);
    return 0;
  }
  /* a loaded session is persistent; its real interval lives in the session
   * and the next CONNECT sets this again */
  cl->expiry_s = UINT32_MAX;
  for (size_t i = 0; i < n_subs; i++) {
    bool is_new = false;
    br_client_sub_add(b, cl, subs[i].filter, subs[i].len, &subs[i].opts, &is_new);
  }
  br_acct(b, cl);
  br_dlist_add(b, cl);
  return 0;
}

static int load_retained(void *ud, const mqtt_retain_msg *m, bool has_expiry,
                         uint32_t remaining_s) {
  mqtt_broker *b = ud;
  br_retain_put(b, m, has_expiry, remaining_s);
  return 0;
}

int br_state_load(mqtt_broker *b) {
  if (!b->cfg.state_dir) return 0;
  mqtt_session_cfg scfg;
  br_session_cfg(b, &scfg);
  mqtt_snap_visitor v = {.ud = b, .client = load_client, .retained = load_retained};
  char err[160];
  int rc = mqtt_snap_load(b->cfg.state_dir, &scfg, br_now(b), &v, err, sizeof(err));
  if (rc) LOOM_WARN("mqtt state load", "dir=%s err=\"%s\"", b->cfg.state_dir, err);
  return rc;
}
