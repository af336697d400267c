/* SPDX-License-Identifier: Apache-2.0
 * Sparkplug B host application state machine (see spb_host.h): nodes in a
 * string map by the caller's key, devices in a map per node, each with the
 * metric table of its last birth (defs in one array per birth, so the alias
 * map can key on the stable 8 bytes of each def's alias).
 */
#include "mqtt/spb_host.h"

#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/strmap.h"

typedef struct mdef {
  char *name;
  uint64_t alias;
  bool has_alias;
  uint32_t datatype;
} mdef;

typedef struct mtab {
  mdef *defs;
  size_t n;
  strmap by_name;  /* name -> index */
  strmap by_alias; /* 8 alias bytes -> index */
} mtab;

typedef struct sdev {
  char *name;
  bool born;       /* DBIRTH seen in the node's current session */
  bool online;
  mtab tab;
} sdev;

typedef struct snode {
  char *key;
  bool born, online;
  bool has_bdseq;
  uint64_t bdseq;
  int last_seq;
  int64_t rebirth_asked_ms; /* INT64_MIN = never */
  uint64_t n_rebirths;
  mtab tab;
  sdev **devs;
  size_t n_devs, cap_devs;
  strmap dev_by_name;
} snode;

struct spb_host {
  size_t n_defs; /* metric definitions held by every table (SPB_HOST_MAX_TOTAL_METRICS) */
  snode **nodes;
  size_t n_nodes, cap_nodes;
  strmap by_key;
};

static void mtab_deinit(mtab *t) {
  for (size_t i = 0; i < t->n; i++) loom_free(t->defs[i].name);
  loom_free(t->defs);
  strmap_deinit(&t->by_name);
  strmap_deinit(&t->by_alias);
  memset(t, 0, sizeof *t);
}

static const mdef *mtab_by_name(const mtab *t, const char *name) {
  uint32_t i;
  size_t n = strlen(name);
  if (strmap_get(&t->by_name, name, n, strmap_hash(name, n), &i) != 0) return NULL;
  return &t->defs[i];
}

static const mdef *mtab_by_alias(const mtab *t, uint64_t alias) {
  uint32_t i;
  const char *k = (const char *)&alias;
  if (strmap_get(&t->by_alias, k, 8, strmap_hash(k, 8), &i) != 0) return NULL;
  return &t->defs[i];
}

/* Build the table of a birth payload into out (empty on entry), which will
 * replace old: the host's total stays within its limit. */
static int mtab_build(spb_host *h, const mtab *old, mtab *out, const spb_payload *p) {
  memset(out, 0, sizeof *out);
  if (p->n_metrics > SPB_HOST_MAX_METRICS) return LOOM_ERANGE;
  if (h->n_defs - old->n + p->n_metrics > SPB_HOST_MAX_TOTAL_METRICS) return LOOM_ERANGE;
  if (p->n_metrics == 0) return 0;
  out->defs = loom_calloc(p->n_metrics, sizeof *out->defs);
  if (!out->defs) return LOOM_ENOMEM;
  for (size_t i = 0; i < p->n_metrics; i++) {
    const spb_metric *m = &p->metrics[i];
    if (!m->name) continue; /* a birth names every metric; skip those that do not */
    mdef *d = &out->defs[out->n];
    d->name = loom_strdup(m->name);
    if (!d->name) goto nomem;
    d->alias = m->alias;
    d->has_alias = m->has_alias;
    d->datatype = m->datatype;
    out->n++;
  }
  for (size_t i = 0; i < out->n; i++) {
    mdef *d = &out->defs[i];
    size_t n = strlen(d->name);
    if (strmap_put(&out->by_name, d->name, n, strmap_hash(d->name, n), (uint32_t)i) != 0)
      goto nomem;
    if (d->has_alias) {
      const char *k = (const char *)&d->alias;
      if (strmap_put(&out->by_alias, k, 8, strmap_hash(k, 8), (uint32_t)i) != 0) goto nomem;
    }
  }
  return 0;
nomem:
  mtab_deinit(out);
  return LOOM_ENOMEM;
}

static void node_free(snode *n) {
  for (size_t i = 0; i < n->n_devs; i++) {
    mtab_deinit(&n->devs[i]->tab);
    loom_free(n->devs[i]->name);
    loom_free(n->devs[i]);
  }
  loom_free(n->devs);
  strmap_deinit(&n->dev_by_name);
  mtab_deinit(&n->tab);
  loom_free(n->key);
  loom_free(n);
}

int spb_host_new(spb_host **out) {
  spb_host *h = loom_calloc(1, sizeof *h);
  if (!h) return LOOM_ENOMEM;
  strmap_init(&h->by_key);
  *out = h;
  return 0;
}

void spb_host_free(spb_host *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n_nodes; i++) node_free(h->nodes[i]);
  loom_free(h->nodes);
  strmap_deinit(&h->by_key);
  loom_free(h);
}

static snode *node_find(const spb_host *h, const char *key) {
  uint32_t i;
  size_t n = strlen(key);
  if (strmap_get(&h->by_key, key, n, strmap_hash(key, n), &i) != 0) return NULL;
  return h->nodes[i];
}

static int node_add(spb_host *h, const char *key, snode **out) {
  if (h->n_nodes >= SPB_HOST_MAX_NODES) return LOOM_ERANGE;
  if (h->n_nodes == h->cap_nodes) {
    size_t cap = h->cap_nodes ? h->cap_nodes * 2 : 16;
    snode **nn = loom_realloc(h->nodes, cap * sizeof *nn);
    if (!nn) return LOOM_ENOMEM;
    h->nodes = nn;
    h->cap_nodes = cap;
  }
  snode *n = loom_calloc(1, sizeof *n);
  if (!n) return LOOM_ENOMEM;
  n->key = loom_strdup(key);
  if (!n->key) {
    loom_free(n);
    return LOOM_ENOMEM;
  }
  n->last_seq = -1;
  n->rebirth_asked_ms = INT64_MIN;
  size_t kl = strlen(key);
  if (strmap_put(&h->by_key, n->key, kl, strmap_hash(n->key, kl), (uint32_t)h->n_nodes) != 0) {
    loom_free(n->key);
    loom_free(n);
    return LOOM_ENOMEM;
  }
  h->nodes[h->n_nodes++] = n;
  *out = n;
  return 0;
}

static sdev *dev_find(const snode *n, const char *name) {
  uint32_t i;
  size_t l = strlen(name);
  if (strmap_get(&n->dev_by_name, name, l, strmap_hash(name, l), &i) != 0) return NULL;
  return n->devs[i];
}

static int dev_add(snode *n, const char *name, sdev **out) {
  if (n->n_devs >= SPB_HOST_MAX_DEVICES) return LOOM_ERANGE;
  if (n->n_devs == n->cap_devs) {
    size_t cap = n->cap_devs ? n->cap_devs * 2 : 8;
    sdev **nd = loom_realloc(n->devs, cap * sizeof *nd);
    if (!nd) return LOOM_ENOMEM;
    n->devs = nd;
    n->cap_devs = cap;
  }
  sdev *d = loom_calloc(1, sizeof *d);
  if (!d) return LOOM_ENOMEM;
  d->name = loom_strdup(name);
  if (!d->name) {
    loom_free(d);
    return LOOM_ENOMEM;
  }
  size_t l = strlen(name);
  if (strmap_put(&n->dev_by_name, d->name, l, strmap_hash(d->name, l), (uint32_t)n->n_devs) !=
      0) {
    loom_free(d->name);
    loom_free(d);
    return LOOM_ENOMEM;
  }
  n->devs[n->n_devs++] = d;
  *out = d;
  return 0;
}

uint32_t spb_host_type_of(void *ud, const spb_metric *m) {
  const spb_host_scope *s = ud;
  snode *n = node_find(s->h, s->node_key);
  if (!n) return SPB_DT_UNKNOWN;
  const mtab *t = &n->tab;
  if (s->device) {
    sdev *d = dev_find(n, s->device);
    if (!d) return SPB_DT_UNKNOWN;
    t = &d->tab;
  }
  const mdef *def = m->name ? mtab_by_name(t, m->name)
                    : m->has_alias ? mtab_by_alias(t, m->alias) : NULL;
  return def ? def->datatype : SPB_DT_UNKNOWN;
}

/* The seq of a message after NBIRTH: true when it follows the last one. The
 * node resynchronises on it either way. */
static bool seq_next(snode *n, const spb_payload *p) {
  if (!p->has_seq || p->seq > 255) return false;
  bool ok = n->last_seq >= 0 && (uint64_t)((n->last_seq + 1) & 255) == p->seq;
  n->last_seq = (int)p->seq;
  return ok;
}

static void ask_rebirth(snode *n, int64_t now_ms, spb_verdict *v, const char *why) {
  if (!v->why) v->why = why;
  if (n->rebirth_asked_ms != INT64_MIN && now_ms - n->rebirth_asked_ms >= 0 &&
      now_ms - n->rebirth_asked_ms < SPB_HOST_REBIRTH_HOLDOFF_MS)
    return;
  n->rebirth_asked_ms = now_ms;
  n->n_rebirths++;
  v->rebirth = true;
}

static bool bdseq_of(const spb_payload *p, uint64_t *out) {
  for (size_t i = 0; i < p->n_metrics; i++) {
    const spb_metric *m = &p->metrics[i];
    if (!m->name || strcmp(m->name, "bdSeq") != 0) continue;
    if (m->kind == SPB_K_UINT) *out = m->u;
    else if (m->kind == SPB_K_INT && m->i >= 0) *out = (uint64_t)m->i;
    else return false;
    return true;
  }
  return false;
}

/* DATA metrics: names for aliases; false when an alias is not in the birth. */
static bool resolve(const mtab *t, spb_payload *p) {
  bool all = true;
  for (size_t i = 0; i < p->n_metrics; i++) {
    spb_metric *m = &p->metrics[i];
    if (m->name || !m->has_alias) continue;
    const mdef *d = mtab_by_alias(t, m->alias);
    if (d) m->name = d->name;
    else all = false;
  }
  return all;
}

static void devices_offline(snode *n, bool forget_births) {
  for (size_t i = 0; i < n->n_devs; i++) {
    n->devs[i]->online = false;
    if (forget_births) n->devs[i]->born = false;
  }
}

int spb_host_process(spb_host *h, const char *node_key, const char *device, spb_msg_type type,
                     spb_payload *p, int64_t now_ms, spb_verdict *v) {
  memset(v, 0, sizeof *v);
  if (type == SPB_MSG_NCMD || type == SPB_MSG_DCMD) return 0;
  snode *n = node_find(h, node_key);
  int rc;
  if (!n) {
    if (type == SPB_MSG_NDEATH || type == SPB_MSG_DDEATH) {
      v->why = "death of an unknown node";
      return 0;
    }
    rc = node_add(h, node_key, &n);
    if (rc != 0) {
      v->why = rc == LOOM_ERANGE ? "too many edge nodes" : NULL;
      return rc;
    }
  }
  switch (type) {
  case SPB_MSG_NBIRTH: {
    mtab t;
    rc = mtab_build(h, &n->tab, &t, p);
    if (rc != 0) {
      if (rc == LOOM_ERANGE) v->why = "too many metrics in the birth";
      return rc;
    }
    h->n_defs = h->n_defs - n->tab.n + t.n;
    mtab_deinit(&n->tab);
    n->tab = t;
    uint64_t bd;
    n->has_bdseq = bdseq_of(p, &bd);
    n->bdseq = n->has_bdseq ? bd : 0;
    n->born = n->online = true;
    n->rebirth_asked_ms = INT64_MIN; /* the answer arrived */
    devices_offline(n, true);
    v->node_online = true;
    v->store = true;
    if (!p->has_seq || p->seq != 0) {
      n->last_seq = p->has_seq && p->seq <= 255 ? (int)p->seq : 0;
      ask_rebirth(n, now_ms, v, "NBIRTH seq is not 0");
    } else {
      n->last_seq = 0;
    }
    return 0;
  }
  case SPB_MSG_NDEATH: {
    uint64_t bd;
    bool has = bdseq_of(p, &bd);
    if (has && n->has_bdseq && bd != n->bdseq) {
      v->why = "NDEATH bdSeq of an older session";
      return 0;
    }
    if (n->online) v->node_offline = true;
    n->online = false;
    n->born = false;
    n->last_seq = -1;
    devices_offline(n, true);
    return 0;
  }
  default: break;
  }
  /* everything else belongs to the session an NBIRTH opened */
  if (!n->born) {
    ask_rebirth(n, now_ms, v, type == SPB_MSG_DBIRTH ? "DBIRTH before NBIRTH"
                              : type == SPB_MSG_DDEATH ? "DDEATH before NBIRTH"
                                                       : "DATA before NBIRTH");
    return 0;
  }
  bool in_seq = seq_next(n, p);
  if (!in_seq) ask_rebirth(n, now_ms, v, "seq gap");
  if (type == SPB_MSG_NDATA) {
    if (!resolve(&n->tab, p)) ask_rebirth(n, now_ms, v, "alias not in the NBIRTH");
    v->store = true;
    return 0;
  }
  if (!device) {
    v->why = "device message without a device";
    return LOOM_EINVAL;
  }
  sdev *d = dev_find(n, device);
  if (type == SPB_MSG_DBIRTH) {
    if (!d) {
      rc = dev_add(n, device, &d);
      if (rc != 0) {
        if (rc == LOOM_ERANGE) v->why = "too many devices on the edge node";
        return rc;
      }
    }
    mtab t;
    rc = mtab_build(h, &d->tab, &t, p);
    if (rc != 0) {
      if (rc == LOOM_ERANGE) v->why = "too many metrics in the birth";
      return rc;
    }
    h->n_defs = h->n_defs - d->tab.n + t.n;
    mtab_deinit(&d->tab);
    d->tab = t;
    d->born = d->online = true;
    v->device_online = true;
    v->store = true;
    return 0;
  }
  if (type == SPB_MSG_DDEATH) {
    if (d && d->online) v->device_offline = true;
    if (d) d->online = d->born = false; /* DDATA now needs a new DBIRTH */
    return 0;
  }
  /* DDATA */
  if (!d || !d->born) {
    ask_rebirth(n, now_ms, v, "DDATA before DBIRTH");
    return 0;
  }
  if (!resolve(&d->tab, p)) ask_rebirth(n, now_ms, v, "alias not in the DBIRTH");
  v->store = true;
  return 0;
}

int spb_host_metric_find(spb_host *h, const char *node_key, const char *device,
                         const char *name, uint32_t *datatype, uint64_t *alias, bool *has_alias) {
  snode *n = node_find(h, node_key);
  if (!n || !n->born) return LOOM_ENOTFOUND;
  const mtab *t = &n->tab;
  if (device) {
    sdev *d = dev_find(n, device);
    if (!d || !d->born) return LOOM_ENOTFOUND;
    t = &d->tab;
  }
  const mdef *def = mtab_by_name(t, name);
  if (!def) return LOOM_ENOTFOUND;
  if (datatype) *datatype = def->datatype;
  if (alias) *alias = def->alias;
  if (has_alias) *has_alias = def->has_alias;
  return 0;
}

int spb_host_node_state(spb_host *h, const char *node_key, spb_node_state *out) {
  snode *n = node_find(h, node_key);
  if (!n) return LOOM_ENOTFOUND;
  out->online = n->online;
  out->has_bdseq = n->has_bdseq;
  out->bdseq = n->bdseq;
  out->last_seq = n->last_seq;
  out->n_devices = 0;
  for (size_t i = 0; i < n->n_devs; i++) out->n_devices += n->devs[i]->born;
  out->n_rebirths = n->n_rebirths;
  return 0;
}

bool spb_host_device_online(spb_host *h, const char *node_key, const char *device) {
  snode *n = node_find(h, node_key);
  if (!n) return false;
  sdev *d = dev_find(n, device);
  return d && d->online;
}

int spb_host_device_at(spb_host *h, const char *node_key, size_t i, const char **name) {
  snode *n = node_find(h, node_key);
  if (!n || i >= n->n_devs) return LOOM_ENOTFOUND;
  *name = n->devs[i]->name;
  return 0;
}

int spb_host_rebirth_encode(int64_t now_ms, loom_buf *out) {
  spb_metric m = {.name = SPB_REBIRTH_METRIC, .datatype = SPB_DT_BOOLEAN, .kind = SPB_K_BOOL,
                  .b = true};
  spb_payload p;
  spb_payload_init(&p);
  p.has_ts = now_ms >= 0;
  p.ts_ms = now_ms;
  p.metrics = &m;
  p.n_metrics = 1;
  return spb_payload_encode(&p, out);
}
