/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for mqtt/topic and mqtt/subtree. Byte 0 chooses:
 * even: "filter\nname": validation never crashes, and for a valid pair
 *   mqtt_topic_matches agrees with a separate level-by-level reference;
 * odd: a script of lines "<op><sub><topic>" (op 'a' add, 'r' remove,
 *   'x' remove all of sub, anything else match): after each match the
 *   tree's merged result equals a brute force over the live filters, and
 *   one shared delivery comes per matching (group, filter) pair; 'p' and
 *   'd' set and delete a retained message, 'l' lists a filter and the
 *   listed topics equal a brute force over the live retained topics.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/retain.h"
#include "mqtt/subtree.h"
#include "mqtt/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLV 300

static size_t split(const char *s, size_t len, const char **lv, size_t *ll) {
  size_t n = 0, st = 0;
  for (size_t i = 0; i <= len && n < MAXLV; i++) {
    if (i == len || s[i] == '/') {
      lv[n] = s + st;
      ll[n++] = i - st;
      st = i + 1;
    }
  }
  return n;
}

static bool ref_match(const char *f, size_t fl, const char *n, size_t nl) {
  const char *fv[MAXLV], *nv[MAXLV];
  size_t fll[MAXLV], nll[MAXLV];
  if (n[0] == '$' && (f[0] == '+' || f[0] == '#')) return false;
  size_t fn = split(f, fl, fv, fll), nn = split(n, nl, nv, nll);
  if (fn == MAXLV || nn == MAXLV) return mqtt_topic_matches(f, fl, n, nl);
  for (size_t i = 0; i < fn; i++) {
    if (fll[i] == 1 && fv[i][0] == '#') return true; /* i <= nn */
    if (i >= nn) return false;
    if (fll[i] == 1 && fv[i][0] == '+') continue;
    if (fll[i] != nll[i] || memcmp(fv[i], nv[i], fll[i]) != 0) return false;
  }
  return fn == nn;
}

typedef struct live {
  char f[64];
  size_t fl;
  int sub;
  bool shared;
  mqtt_share sh; /* points into f when shared */
} live;

typedef struct rlive {
  char t[64];
  size_t tl;
  bool seen;
} rlive;

typedef struct rlist {
  rlive *rl;
  size_t n;
  size_t got;
} rlist;

static int on_retained(void *ud, const mqtt_retain_msg *msg) {
  rlist *l = ud;
  l->got++;
  for (size_t k = 0; k < l->n; k++)
    if (l->rl[k].tl == msg->topic_len &&
        memcmp(l->rl[k].t, msg->topic, msg->topic_len) == 0) {
      if (l->rl[k].seen) abort(); /* listed twice */
      l->rl[k].seen = true;
      return 0;
    }
  abort(); /* listed a topic that is not stored */
}

static void script(const uint8_t *d, size_t size) {
  mqtt_subtree *t;
  if (mqtt_subtree_new(0, &t)) return;
  mqtt_retain *ret;
  if (mqtt_retain_new(0, 0, &ret)) {
    mqtt_subtree_free(t);
    return;
  }
  rlive rl[64];
  size_t nrl = 0;
  mqtt_matches mm;
  mqtt_matches_init(&mm);
  static int subs[4]; /* addresses only */
  live lv[64];
  size_t nlive = 0;
  size_t i = 0;
  while (i + 2 < size) {
    uint8_t op = d[i], s = d[i + 1] & 3;
    size_t st = i + 2, e = st;
    while (e < size && d[e] != '\n') e++;
    const char *tp = (const char *)d + st;
    size_t tl = e - st;
    i = e + 1;
    if (tl >= 64) continue;
    if (op == 'p' || op == 'd') {
      mqtt_retain_msg rm = {tp, tl, (const uint8_t *)"v", op == 'p', 0, NULL, 0};
      size_t k = 0;
      while (k < nrl && !(rl[k].tl == tl && memcmp(rl[k].t, tp, tl) == 0)) k++;
      if (op == 'p' && k == nrl && nrl == 64) continue;
      int rc = mqtt_retain_set(ret, &rm);
      if ((rc == 0) != (mqtt_topic_name_validate(tp, tl) == 0)) abort();
      if (rc) continue;
      if (op == 'p' && k == nrl) {
        memcpy(rl[nrl].t, tp, tl);
        rl[nrl++].tl = tl;
      } else if (op == 'd' && k < nrl) {
        rl[k] = rl[--nrl];
      }
      if (mqtt_retain_count(ret) != nrl) abort();
    } else if (op == 'l') {
      rlist l = {rl, nrl, 0};
      for (size_t k = 0; k < nrl; k++) rl[k].seen = false;
      int rc = mqtt_retain_match(ret, tp, tl, on_retained, &l);
      if ((rc == 0) != (mqtt_topic_filter_validate(tp, tl) == 0)) abort();
      if (rc) continue;
      for (size_t k = 0; k < nrl; k++)
        if (rl[k].seen != mqtt_topic_matches(tp, tl, rl[k].t, rl[k].tl)) abort();
    } else if (op == 'a') {
      mqtt_sub_opts o = {0, false, false, 0, 0};
      int rc = mqtt_subtree_add(t, tp, tl, &subs[s], &o);
      if (rc == 0 && nlive < 64) {
        live *x = &lv[nlive++];
        memcpy(x->f, tp, tl);
        x->fl = tl;
        x->sub = s;
        x->shared = mqtt_topic_share_parse(x->f, tl, &x->sh) == 1;
      } else if (rc == 0) {
        mqtt_subtree_remove(t, tp, tl, &subs[s]);
      }
    } else if (op == 'r') {
      int rc = mqtt_subtree_remove(t, tp, tl, &subs[s]);
      bool found = false;
      for (size_t k = 0; k < nlive; k++)
        if (lv[k].sub == s && lv[k].fl == tl && memcmp(lv[k].f, tp, tl) == 0) {
          lv[k] = lv[--nlive];
          if (lv[k].shared && k < nlive) /* re-point into the moved copy */
            mqtt_topic_share_parse(lv[k].f, lv[k].fl, &lv[k].sh);
          found = true;
          break;
        }
      if (found != (rc == 0)) abort();
    } else if (op == 'x') {
      size_t n = mqtt_subtree_remove_all(t, &subs[s]), want = 0;
      for (size_t k = 0; k < nlive;)
        if (lv[k].sub == s) {
          lv[k] = lv[--nlive];
          if (lv[k].shared && k < nlive)
            mqtt_topic_share_parse(lv[k].f, lv[k].fl, &lv[k].sh);
          want++;
        } else {
          k++;
        }
      if (n != want) abort();
    } else {
      if (mqtt_topic_name_validate(tp, tl) != 0) continue;
      if (mqtt_subtree_match(t, tp, tl, NULL, &mm) != 0) continue;
      bool want[4] = {false, false, false, false};
      size_t want_shared = 0;
      for (size_t k = 0; k < nlive; k++) {
        if (!lv[k].shared) {
          if (mqtt_topic_matches(lv[k].f, lv[k].fl, tp, tl))
            want[lv[k].sub] = true;
          continue;
        }
        if (!mqtt_topic_matches(lv[k].sh.filter, lv[k].sh.filter_len, tp, tl))
          continue;
        bool first = true; /* count each (group, filter) string once */
        for (size_t j = 0; j < k; j++)
          if (lv[j].shared && lv[j].fl == lv[k].fl &&
              memcmp(lv[j].f, lv[k].f, lv[k].fl) == 0)
            first = false;
        want_shared += first;
      }
      if (mm.n_shared != want_shared) abort();
      size_t nw = 0;
      for (int k = 0; k < 4; k++) nw += want[k];
      if (mm.n != nw) abort();
      for (size_t k = 0; k < mm.n; k++)
        if (!want[(int *)mm.items[k].sub - subs]) abort();
    }
  }
  for (int k = 0; k < 4; k++) mqtt_subtree_remove_all(t, &subs[k]);
  if (mqtt_subtree_node_count(t) != 0 || mqtt_subtree_sub_count(t) != 0)
    abort();
  mqtt_matches_deinit(&mm);
  mqtt_subtree_free(t);
  mqtt_retain_free(ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) {
    script(data + 1, size - 1);
    return 0;
  }
  const char *s = (const char *)data + 1;
  size_t len = size - 1, nl = 0;
  while (nl < len && s[nl] != '\n') nl++;
  const char *f = s, *n = s + nl + (nl < len);
  size_t fl = nl, nlen = len - nl - (nl < len);
  mqtt_share sh;
  (void)mqtt_topic_share_parse(f, fl, &sh);
  int fv = mqtt_topic_filter_validate(f, fl);
  int nv = mqtt_topic_name_validate(n, nlen);
  (void)mqtt_topic_matches(f, fl, n, nlen); /* must not crash on garbage */
  if (fv == 0 && nv == 0 &&
      mqtt_topic_matches(f, fl, n, nlen) != ref_match(f, fl, n, nlen))
    abort();
  return 0;
}
