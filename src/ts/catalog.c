/* SPDX-License-Identifier: Apache-2.0
 * Series catalog (see catalog.h). Metadata handed to queries is immutable:
 * a series' info is replaced, never changed, when it gains a field, and old
 * versions, like dropped databases' entries, go to a graveyard freed when the
 * engine closes, so snapshots never dangle.
 */
#include "ts/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

struct ts_meta {
  atomic_int refs;
  uint64_t version;          /* db->meta_version it was built from */
  uint32_t n_meas;
  ts_measurement_info *meas; /* sorted by name */
  void *mem;                 /* one allocation for everything above */
};

void ts_catalog_init(ts_catalog *c) { memset(c, 0, sizeof *c); }

static int grave(ts_catalog *c, void *p) {
  if (!p) return 0;
  if (c->n_grave == c->cap_grave) {
    uint32_t cap = c->cap_grave ? c->cap_grave * 2 : 64;
    void **g = loom_realloc(c->graveyard, cap * sizeof *g);
    if (!g) return LOOM_ENOMEM;
    c->graveyard = g;
    c->cap_grave = cap;
  }
  c->graveyard[c->n_grave++] = p;
  return 0;
}

static void meta_unref(ts_meta *m) {
  if (m && atomic_fetch_sub(&m->refs, 1) == 1) loom_free(m->mem);
}

static void col_free(ts_col *col) {
  ts_headbuf_deinit(&col->act);
  ts_headbuf_deinit(&col->frz);
  loom_free_sized(col->refs, (size_t)col->cap_refs * sizeof *col->refs);
  ts_col_forget_last(col);
}

static void meas_free(ts_meas *m) {
  for (uint32_t i = 0; i < m->n_fields; i++) loom_free((char *)m->fields[i].name);
  loom_free(m->fields);
  loom_free(m->sids);
  strmap_deinit(&m->field_map);
  loom_free(m->name);
  loom_free(m);
}

static void db_free(ts_db *db) {
  for (uint32_t i = 0; i < db->n_meas; i++) meas_free(db->meas[i]);
  loom_free(db->meas);
  for (uint32_t i = 0; i < db->n_parts; i++) loom_free(db->parts[i].segs);
  loom_free(db->parts);
  strmap_deinit(&db->series_map);
  strmap_deinit(&db->meas_map);
  meta_unref(db->meta_cache);
  loom_free(db->name);
  loom_free(db);
}

void ts_catalog_deinit(ts_catalog *c) {
  for (uint32_t i = 0; i < c->n_cols; i++) col_free(ts_catalog_col(c, i));
  /* every allocated chunk: one may be past n_cols/n_series when creating the
   * first entry in it failed after the chunk was allocated */
  for (uint32_t i = 0; i < TS_MAX_CHUNKS && c->col_chunks[i]; i++) loom_free(c->col_chunks[i]);
  for (uint32_t i = 0; i < c->n_series; i++) {
    ts_series *s = ts_catalog_series(c, i);
    loom_free(s->key);
    loom_free(s->info);
    loom_free(s);
  }
  for (uint32_t i = 0; i < TS_MAX_CHUNKS && c->ser_chunks[i]; i++) loom_free(c->ser_chunks[i]);
  for (uint32_t i = 0; i < c->n_dbs; i++) db_free(c->dbs[i]);
  loom_free(c->dbs);
  for (uint32_t i = 0; i < c->n_grave; i++) {
    /* graveyard entries are tagged: low bit set = a ts_db, else plain memory */
    uintptr_t p = (uintptr_t)c->graveyard[i];
    if (p & 1) db_free((ts_db *)(p & ~(uintptr_t)1));
    else loom_free((void *)p);
  }
  loom_free(c->graveyard);
  memset(c, 0, sizeof *c);
}

ts_db *ts_catalog_db(const ts_catalog *c, const char *name) {
  for (uint32_t i = 0; i < c->n_dbs; i++)
    if (!strcmp(c->dbs[i]->name, name)) return c->dbs[i];
  return NULL;
}

ts_db *ts_catalog_db_add(ts_catalog *c, const char *name, int64_t retention_ns) {
  if (c->n_dbs == c->cap_dbs) {
    uint32_t cap = c->cap_dbs ? c->cap_dbs * 2 : 8;
    ts_db **d = loom_realloc(c->dbs, cap * sizeof *d);
    if (!d) return NULL;
    c->dbs = d;
    c->cap_dbs = cap;
  }
  ts_db *db = loom_calloc(1, sizeof *db);
  if (!db || !(db->name = loom_strdup(name))) {
    loom_free(db);
    return NULL;
  }
  db->retention_ns = retention_ns;
  strmap_init(&db->series_map);
  strmap_init(&db->meas_map);
  /* keep dbs sorted by name */
  uint32_t i = c->n_dbs;
  while (i > 0 && strcmp(c->dbs[i - 1]->name, name) > 0) {
    c->dbs[i] = c->dbs[i - 1];
    i--;
  }
  c->dbs[i] = db;
  c->n_dbs++;
  return db;
}

void ts_catalog_db_remove(ts_catalog *c, ts_db *db) {
  for (uint32_t i = 0; i < db->n_meas; i++) {
    ts_meas *m = db->meas[i];
    for (uint32_t j = 0; j < m->n_sids; j++) ts_catalog_series_drop(c, db, m->sids[j]);
  }
  for (uint32_t i = 0; i < c->n_dbs; i++) {
    if (c->dbs[i] != db) continue;
    memmove(&c->dbs[i], &c->dbs[i + 1], (c->n_dbs - i - 1) * sizeof *c->dbs);
    c->n_dbs--;
    break;
  }
  if (grave(c, (void *)((uintptr_t)db | 1))) db_free(db);
}

/* Unescape line-protocol escapes (\, \= \space \") from s[0..n) into out. */
static size_t unescape(const char *s, size_t n, char *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 1 < n &&
        (s[i + 1] == ',' || s[i + 1] == '=' || s[i + 1] == ' ' || s[i + 1] == '"'))
      i++;
    out[k++] = s[i];
  }
  out[k] = 0;
  return k;
}

/* End of a key part: the next unescaped `stop` char, or n. */
static size_t scan_to(const char *s, size_t i, size_t n, char stop1, char stop2) {
  while (i < n && s[i] != stop1 && s[i] != stop2) i += s[i] == '\\' && i + 1 < n ? 2 : 1;
  return i;
}

/* Build the immutable info of series s with the given columns. */
static ts_series_info *info_new(const ts_series *s, const ts_series_info *old, uint32_t add_cid,
                                uint16_t add_fidx) {
  const char *k = s->key;
  size_t n = s->key_len;
  uint32_t n_tags = 0;
  for (size_t i = scan_to(k, 0, n, ',', ','); i < n; i = scan_to(k, i + 1, n, ',', ',')) n_tags++;
  uint32_t n_cols = (old ? old->n_cols : 0) + 1;
  size_t sz = sizeof(ts_series_info) + n_tags * sizeof(ts_tag) + n_cols * 4 + n_cols * 2 + n + 2;
  uint8_t *mem = loom_malloc(sz);
  if (!mem) return NULL;
  ts_series_info *info = (ts_series_info *)mem;
  ts_tag *tags = (ts_tag *)(info + 1);
  uint32_t *cids = (uint32_t *)(tags + n_tags);
  uint16_t *fidx = (uint16_t *)(cids + n_cols);
  char *str = (char *)(fidx + n_cols);
  info->sid = s->sid;
  info->key = s->key;
  info->n_tags = n_tags;
  info->tags = tags;
  info->n_cols = n_cols;
  info->col_ids = cids;
  info->field_idx = fidx;
  if (old) {
    memcpy(cids, old->col_ids, old->n_cols * 4);
    memcpy(fidx, old->field_idx, old->n_cols * 2);
  }
  cids[n_cols - 1] = add_cid;
  fidx[n_cols - 1] = add_fidx;
  size_t i = scan_to(k, 0, n, ',', ','), t = 0;
  while (i < n) {
    size_t ks = i + 1, ke = scan_to(k, ks, n, '=', ',');
    size_t vs = ke < n && k[ke] == '=' ? ke + 1 : ke, ve = scan_to(k, vs, n, ',', ',');
    tags[t].key = str;
    str += unescape(k + ks, ke - ks, str) + 1;
    tags[t].val = str;
    str += unescape(k + vs, ve > vs ? ve - vs : 0, str) + 1;
    t++;
    i = ve;
  }
  return info;
}

static ts_meas *meas_get(ts_db *db, const char *key, uint32_t key_len) {
  size_t me = scan_to(key, 0, key_len, ',', ',');
  char *name = loom_malloc(me + 1);
  if (!name) return NULL;
  size_t nl = unescape(key, me, name);
  uint32_t idx;
  if (!strmap_get(&db->meas_map, name, nl, strmap_hash(name, nl), &idx)) {
    loom_free(name);
    return db->meas[idx];
  }
  if (db->n_meas == db->cap_meas) {
    uint32_t cap = db->cap_meas ? db->cap_meas * 2 : 8;
    ts_meas **a = loom_realloc(db->meas, cap * sizeof *a);
    if (!a) goto fail;
    db->meas = a;
    db->cap_meas = cap;
  }
  ts_meas *m = loom_calloc(1, sizeof *m);
  if (!m) goto fail;
  m->name = name;
  strmap_init(&m->field_map);
  if (strmap_put(&db->meas_map, m->name, nl, strmap_hash(m->name, nl), db->n_meas)) {
    loom_free(m);
    goto fail;
  }
  db->meas[db->n_meas++] = m;
  db->meta_version++;
  return m;
fail:
  loom_free(name);
  return NULL;
}

int ts_catalog_series_get(ts_catalog *c, ts_db *db, const char *key, uint32_t key_len,
                          uint64_t hash, ts_series **out) {
  uint32_t sid;
  if (!strmap_get(&db->series_map, key, key_len, hash, &sid)) {
    *out = ts_catalog_series(c, sid);
    return 0;
  }
  if (key_len == 0 || key[0] == ',') return LOOM_EINVAL;
  if (c->n_series >= TS_CHUNK * TS_MAX_CHUNKS) return LOOM_ERANGE;
  ts_meas *m = meas_get(db, key, key_len);
  if (!m) return LOOM_ENOMEM;
  uint32_t ch = c->n_series >> TS_CHUNK_BITS;
  if (!c->ser_chunks[ch] && !(c->ser_chunks[ch] = loom_calloc(TS_CHUNK, sizeof(ts_series *))))
    return LOOM_ENOMEM;
  ts_series *s = loom_calloc(1, sizeof *s);
  if (!s || !(s->key = loom_strndup(key, key_len))) {
    loom_free(s);
    return LOOM_ENOMEM;
  }
  if (m->n_sids == m->cap_sids) {
    uint32_t cap = m->cap_sids ? m->cap_sids * 2 : 16;
    uint32_t *a = loom_realloc(m->sids, cap * sizeof *a);
    if (!a) goto fail;
    m->sids = a;
    m->cap_sids = cap;
  }
  s->sid = c->n_series;
  s->key_len = key_len;
  s->meas = m;
  if (strmap_put(&db->series_map, s->key, key_len, hash, s->sid)) goto fail;
  m->sids[m->n_sids++] = s->sid;
  c->ser_chunks[ch][s->sid & (TS_CHUNK - 1)] = s;
  c->n_series++;
  db->meta_version++;
  *out = s;
  return 0;
fail:
  loom_free(s->key);
  loom_free(s);
  return LOOM_ENOMEM;
}

static int field_get(ts_meas *m, const char *field, uint32_t len, ts_type type, uint16_t *idx,
                     ts_type *existing, uint64_t *version) {
  uint32_t i;
  uint64_t h = strmap_hash(field, len);
  if (!strmap_get(&m->field_map, field, len, h, &i)) {
    if (m->fields[i].type != type) {
      *existing = m->fields[i].type;
      return LOOM_ETYPE;
    }
    *idx = (uint16_t)i;
    return 0;
  }
  if (m->n_fields >= 65535) return LOOM_ERANGE;
  if (m->n_fields == m->cap_fields) {
    uint32_t cap = m->cap_fields ? m->cap_fields * 2 : 8;
    ts_field_info *f = loom_realloc(m->fields, cap * sizeof *f);
    if (!f) return LOOM_ENOMEM;
    m->fields = f;
    m->cap_fields = cap;
  }
  char *name = loom_strndup(field, len);
  if (!name) return LOOM_ENOMEM;
  if (strmap_put(&m->field_map, name, len, h, m->n_fields)) {
    loom_free(name);
    return LOOM_ENOMEM;
  }
  m->fields[m->n_fields].name = name;
  m->fields[m->n_fields].type = type;
  *idx = (uint16_t)m->n_fields++;
  (*version)++;
  return 0;
}

int ts_catalog_column(ts_catalog *c, ts_db *db, const char *key, uint32_t key_len, uint64_t hash,
                      const char *field, uint32_t field_len, ts_type type, uint32_t *cid,
                      ts_type *existing) {
  ts_series *s;
  int rc = ts_catalog_series_get(c, db, key, key_len, hash, &s);
  if (rc) return rc;
  return ts_catalog_series_col(c, db, s, field, field_len, type, cid, existing);
}

int ts_catalog_series_col(ts_catalog *c, ts_db *db, ts_series *s, const char *field,
                          uint32_t field_len, ts_type type, uint32_t *cid, ts_type *existing) {
  int rc;
  uint16_t fidx;
  if ((rc = field_get(s->meas, field, field_len, type, &fidx, existing, &db->meta_version)))
    return rc;
  const ts_series_info *info = s->info;
  for (uint32_t i = 0; info && i < info->n_cols; i++) {
    if (info->field_idx[i] == fidx) {
      *cid = info->col_ids[i];
      return 0;
    }
  }
  if (c->n_cols >= TS_CHUNK * TS_MAX_CHUNKS) return LOOM_ERANGE;
  uint32_t ch = c->n_cols >> TS_CHUNK_BITS;
  if (!c->col_chunks[ch] && !(c->col_chunks[ch] = loom_calloc(TS_CHUNK, sizeof(ts_col))))
    return LOOM_ENOMEM;
  ts_col *col = &c->col_chunks[ch][c->n_cols & (TS_CHUNK - 1)];
  ts_series_info *ni = info_new(s, info, c->n_cols, fidx);
  /* The old version may be in a snapshot only if one was built since it was
   * made: otherwise free it now rather than keep it until close. */
  bool in_snapshot = info && db->meta_cache && db->meta_cache->version >= s->info_version;
  if (!ni || (in_snapshot && grave(c, s->info))) {
    loom_free(ni);
    return LOOM_ENOMEM;
  }
  if (!in_snapshot) loom_free(s->info);
  col->cid = c->n_cols;
  col->sid = s->sid;
  col->db = db;
  col->type = type;
  col->field_idx = fidx;
  ts_headbuf_init(&col->act);
  ts_headbuf_init(&col->frz);
  c->n_cols++;
  s->info = ni;
  db->meta_version++;
  s->info_version = db->meta_version;
  *cid = col->cid;
  return 0;
}

void ts_catalog_series_drop(ts_catalog *c, ts_db *db, uint32_t sid) {
  ts_series *s = ts_catalog_series(c, sid);
  if (!s || s->dead) return;
  s->dead = true;
  strmap_del(&db->series_map, s->key, s->key_len, strmap_hash(s->key, s->key_len));
  ts_meas *m = s->meas;
  for (uint32_t i = 0; i < m->n_sids; i++) {
    if (m->sids[i] != sid) continue;
    memmove(&m->sids[i], &m->sids[i + 1], (m->n_sids - i - 1) * sizeof *m->sids);
    m->n_sids--;
    break;
  }
  for (uint32_t i = 0; s->info && i < s->info->n_cols; i++) {
    ts_col *col = ts_catalog_col(c, s->info->col_ids[i]);
    ts_headbuf_deinit(&col->act);
    ts_col_forget_last(col);
  }
  db->meta_version++;
}

int ts_col_add_ref(ts_col *col, ts_seginfo *seg, uint32_t col_index) {
  if (col->n_refs == col->cap_refs) {
    uint32_t cap = col->cap_refs ? col->cap_refs * 2 : 4;
    ts_segref *r = loom_realloc_sized(col->refs, (size_t)col->cap_refs * sizeof *r, cap * sizeof *r);
    if (!r) return LOOM_ENOMEM;
    col->refs = r;
    col->cap_refs = cap;
  }
  col->refs[col->n_refs].seg = seg;
  col->refs[col->n_refs].col_index = col_index;
  col->n_refs++;
  return 0;
}

void ts_col_forget_last(ts_col *col) {
  if (col->has_last && col->type == TS_STRING) loom_free((char *)col->last_v.s.p);
  col->has_last = false;
}

int ts_col_note_last(ts_col *col, int64_t ts, const ts_value *v) {
  if (col->has_last && ts < col->last_ts) return 0;
  ts_value nv = *v;
  if (col->type == TS_STRING) {
    char *p = loom_strndup(v->s.p, v->s.len);
    if (!p) return LOOM_ENOMEM;
    nv.s.p = p;
  }
  ts_col_forget_last(col);
  col->has_last = true;
  col->last_ts = ts;
  col->last_v = nv;
  return 0;
}

/* ---- snapshots ---- */

static int cmp_series(const void *a, const void *b) {
  return strcmp((*(ts_series_info *const *)a)->key, (*(ts_series_info *const *)b)->key);
}

static int cmp_meas(const void *a, const void *b) {
  return strcmp(((const ts_measurement_info *)a)->name, ((const ts_measurement_info *)b)->name);
}

int ts_catalog_meta(ts_catalog *c, ts_db *db, ts_meta **out) {
  if (db->meta_cache && db->meta_cache->version == db->meta_version) {
    atomic_fetch_add(&db->meta_cache->refs, 1);
    *out = db->meta_cache;
    return 0;
  }
  size_t sz = sizeof(ts_meta) + db->n_meas * sizeof(ts_measurement_info);
  for (uint32_t i = 0; i < db->n_meas; i++)
    sz += db->meas[i]->n_fields * sizeof(ts_field_info) +
          db->meas[i]->n_sids * sizeof(ts_series_info *);
  uint8_t *mem = loom_malloc(sz);
  if (!mem) return LOOM_ENOMEM;
  ts_meta *m = (ts_meta *)mem;
  atomic_init(&m->refs, 2); /* the caller's and the cache's */
  m->version = db->meta_version;
  m->mem = mem;
  m->meas = (ts_measurement_info *)(mem + sizeof(ts_meta));
  uint8_t *p = (uint8_t *)(m->meas + db->n_meas);
  m->n_meas = 0;
  for (uint32_t i = 0; i < db->n_meas; i++) {
    ts_meas *src = db->meas[i];
    if (!src->n_sids) continue;
    ts_measurement_info *mi = &m->meas[m->n_meas++];
    mi->name = src->name;
    ts_field_info *f = (ts_field_info *)p;
    memcpy(f, src->fields, src->n_fields * sizeof *f);
    p += src->n_fields * sizeof *f;
    const ts_series_info **s = (const ts_series_info **)p;
    p += src->n_sids * sizeof *s;
    uint32_t ns = 0;
    for (uint32_t j = 0; j < src->n_sids; j++) {
      ts_series *ser = ts_catalog_series(c, src->sids[j]);
      if (ser->info) s[ns++] = ser->info;
    }
    qsort(s, ns, sizeof *s, cmp_series);
    mi->n_fields = src->n_fields;
    mi->fields = f;
    mi->n_series = ns;
    mi->series = s;
  }
  qsort(m->meas, m->n_meas, sizeof *m->meas, cmp_meas);
  meta_unref(db->meta_cache);
  db->meta_cache = m;
  *out = m;
  return 0;
}

void ts_meta_release(ts_meta *m) { meta_unref(m); }
uint32_t ts_meta_n_measurements(const ts_meta *m) { return m->n_meas; }
const ts_measurement_info *ts_meta_measurement(const ts_meta *m, uint32_t i) {
  return i < m->n_meas ? &m->meas[i] : NULL;
}
const ts_measurement_info *ts_meta_find(const ts_meta *m, const char *name) {
  uint32_t a = 0, b = m->n_meas;
  while (a < b) {
    uint32_t mid = a + (b - a) / 2;
    int r = strcmp(m->meas[mid].name, name);
    if (!r) return &m->meas[mid];
    if (r < 0) a = mid + 1;
    else b = mid;
  }
  return NULL;
}
