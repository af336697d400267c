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

int br_state_write(mqtt_broker *b, mqtt_snap_writer **out) {
  *out = NULL;
  if (!b->cfg.state_dir) return 0;
  mqtt_snap_writer *w = NULL;
  int rc = mqtt_snap_begin(b->cfg.state_dir, &w);
  if (rc) return rc;
  uint64_t now = br_now(b);
  mqtt_snap_sub *subs = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < b->ctab_cap && !rc; i++) {
    for (br_client *cl = b->ctab[i]; cl && !rc; cl = cl->hnext) {
      if (cl->expiry_s == 0) continue;
      if (cl->n_subs > cap) {
        mqtt_snap_sub *ns = loom_realloc(subs, cl->n_subs * sizeof(*ns));
        if (!ns) {
          rc = LOOM_ENOMEM;
          break;
        }
        subs = ns;
        cap = cl->n_subs;
      }
      for (uint32_t k = 0; k < cl->n_subs; k++) {
        subs[k].filter = cl->subs[k].filter;
        subs[k].len = cl->subs[k].len;
        subs[k].opts = cl->subs[k].opts;
      }
      rc = mqtt_snap_add_client(w, cl->id, cl->sess, now, subs, cl->n_subs);
      if (rc == LOOM_EINVAL) rc = 0; /* skip that client */
    }
  }
  loom_free(subs);
  if (!rc) {
    save_ctx x = {.w = w, .wall_ms = (uint64_t)(loom_now_ns() / 1000000)};
    mqtt_retain_each(b->retain, save_retained, &x);
    rc = x.rc;
  }
  if (rc) {
    mqtt_snap_abort(w);
    return rc;
  }
  *out = w;
  return 0;
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
