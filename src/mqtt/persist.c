/* SPDX-License-Identifier: Apache-2.0
 * MQTT state snapshot writer and loader (format in mqtt/persist.h). The
 * writer buffers records and writes them to mqtt.snap.tmp, then commits by
 * fsync + rename + directory fsync. The loader reads records one at a time
 * (from a file or from memory), validates each fully and hands sessions and
 * retained messages to a visitor; damage stops it at the bad record.
 */
#include "mqtt/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "mqtt/codec.h"
#include "mqtt/topic.h"

#define SUB_ID_MAX 268435455u
#define FLUSH_AT (1024u * 1024u)

static const uint8_t MAGIC[8] = {'L', 'O', 'O', 'M', 'M', 'Q', 'S', 0};

struct mqtt_snap_writer {
  int fd;
  char *dir, *path, *tmp_path;
  loom_buf out;  /* encoded bytes not yet written */
  loom_buf rec;  /* record body being built */
  loom_buf blob; /* session blob being built */
  uint64_t n_clients, n_retained;
  int err;       /* sticky failure, 0 = none */
};

static uint32_t rec_checksum(const uint8_t hdr[5], const uint8_t *body, size_t len) {
  return (uint32_t)XXH32(body, len, XXH32(hdr, 5, 0));
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return loom_from_errno(errno);
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int flush_out(mqtt_snap_writer *w) {
  int rc = write_all(w->fd, w->out.data, w->out.len);
  loom_buf_reset(&w->out);
  return rc;
}

static void writer_free(mqtt_snap_writer *w) {
  if (w->fd >= 0) close(w->fd);
  loom_buf_deinit(&w->out);
  loom_buf_deinit(&w->rec);
  loom_buf_deinit(&w->blob);
  loom_free(w->dir);
  loom_free(w->path);
  loom_free(w->tmp_path);
  loom_free(w);
}

void mqtt_snap_abort(mqtt_snap_writer *w) {
  if (!w) return;
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
    unlink(w->tmp_path);
  }
  writer_free(w);
}

static char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = loom_malloc(a + 1 + b + 1);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

int mqtt_snap_begin_at(const char *dir, uint64_t wall_ms, mqtt_snap_writer **out) {
  if (!dir || !*dir || !out || strlen(dir) > 4000) return LOOM_EINVAL;
  int rc = loom_mkdir_p(dir);
  if (rc) return rc;
  mqtt_snap_writer *w = loom_calloc(1, sizeof(*w));
  if (!w) return LOOM_ENOMEM;
  w->fd = -1;
  loom_buf_init(&w->out);
  loom_buf_init(&w->rec);
  loom_buf_init(&w->blob);
  w->dir = loom_strdup(dir);
  w->path = path_join(dir, MQTT_SNAP_FILE);
  w->tmp_path = path_join(dir, MQTT_SNAP_TMP_FILE);
  if (!w->dir || !w->path || !w->tmp_path) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  uint8_t hdr[MQTT_SNAP_HEADER_LEN];
  memcpy(hdr, MAGIC, 8);
  loom_put_le32(hdr + 8, MQTT_SNAP_VERSION);
  loom_put_le64(hdr + 12, wall_ms);
  loom_put_le32(hdr + 20, (uint32_t)XXH32(hdr, 20, 0));
  if ((rc = loom_buf_append(&w->out, hdr, sizeof(hdr)))) goto fail;
  w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (w->fd < 0) {
    rc = loom_from_errno(errno);
    goto fail;
  }
  *out = w;
  return 0;
fail:
  writer_free(w);
  return rc;
}

int mqtt_snap_begin(const char *dir, mqtt_snap_writer **out) {
  int64_t ns = loom_now_ns();
  return mqtt_snap_begin_at(dir, ns > 0 ? (uint64_t)ns / 1000000u : 0, out);
}

/* Frame w->rec as a record of the given type and queue it for writing. */
static int emit_record(mqtt_snap_writer *w, uint8_t type) {
  uint8_t hdr[MQTT_SNAP_REC_HEADER_LEN];
  if (w->rec.len > MQTT_SNAP_MAX_RECORD) return LOOM_ERANGE;
  loom_put_le32(hdr, (uint32_t)w->rec.len);
  hdr[4] = type;
  loom_put_le32(hdr + 5, rec_checksum(hdr, w->rec.data, w->rec.len));
  int rc = loom_buf_reserve(&w->out, sizeof(hdr) + w->rec.len);
  if (rc) return rc;
  loom_buf_append(&w->out, hdr, sizeof(hdr));
  loom_buf_append(&w->out, w->rec.data, w->rec.len);
  if (w->out.len >= FLUSH_AT) return flush_out(w);
  return 0;
}

/* A stored filter: plain or "$share/group/filter", each part valid. */
static bool filter_ok(const char *f, size_t len) {
  if (!f || len == 0 || len > MQTT_TOPIC_MAX_LEN) return false;
  mqtt_share sh;
  int rc = mqtt_topic_share_parse(f, len, &sh);
  if (rc < 0) return false;
  return rc == 1 || mqtt_topic_filter_validate(f, len) == 0;
}

static bool opts_ok(const mqtt_sub_opts *o) {
  return o->qos <= 2 && o->retain_handling <= 2 && o->sub_id <= SUB_ID_MAX;
}

int mqtt_snap_add_client(mqtt_snap_writer *w, const char *client_id, const mqtt_session *s,
                         uint64_t now_ms, const mqtt_snap_sub *subs, size_t n_subs) {
  if (!w) return LOOM_EINVAL;
  if (w->err) return w->err;
  if (!client_id || !s || (!subs && n_subs)) return LOOM_EINVAL;
  size_t id_len = strlen(client_id);
  if (id_len > 65535u) return LOOM_EINVAL;
  for (size_t i = 0; i < n_subs; i++)
    if (!filter_ok(subs[i].filter, subs[i].len) || !opts_ok(&subs[i].opts)) return LOOM_EINVAL;
  loom_buf_reset(&w->rec);
  loom_buf_reset(&w->blob);
  int rc = mqtt_session_save(s, now_ms, &w->blob);
  if (rc) goto fail;
  if ((rc = loom_buf_append_uvarint(&w->rec, id_len)) ||
      (rc = loom_buf_append(&w->rec, client_id, id_len)) ||
      (rc = loom_buf_append_uvarint(&w->rec, w->blob.len)) ||
      (rc = loom_buf_append(&w->rec, w->blob.data, w->blob.len)) ||
      (rc = loom_buf_append_uvarint(&w->rec, n_subs)))
    goto fail;
  for (size_t i = 0; i < n_subs; i++) {
    const mqtt_sub_opts *o = &subs[i].opts;
    uint8_t flags = (uint8_t)((o->no_local ? 1u : 0u) | (o->retain_as_published ? 2u : 0u));
    if ((rc = loom_buf_append_uvarint(&w->rec, subs[i].len)) ||
        (rc = loom_buf_append(&w->rec, subs[i].filter, subs[i].len)) ||
        (rc = loom_buf_append_u8(&w->rec, o->qos)) || (rc = loom_buf_append_u8(&w->rec, flags)) ||
        (rc = loom_buf_append_u8(&w->rec, o->retain_handling)) ||
        (rc = loom_buf_append_uvarint(&w->rec, o->sub_id)))
      goto fail;
  }
  if ((rc = emit_record(w, MQTT_SNAP_REC_CLIENT))) goto fail;
  w->n_clients++;
  return 0;
fail:
  w->err = rc;
  return rc;
}

int mqtt_snap_add_retained(mqtt_snap_writer *w, const mqtt_retain_msg *m, bool has_expiry,
                           uint32_t expiry_remaining_s) {
  if (!w) return LOOM_EINVAL;
  if (w->err) return w->err;
  if (!m || m->qos > 2 || m->payload_len == 0 || !m->payload || (!m->props && m->props_len) ||
      !m->topic || mqtt_topic_name_validate(m->topic, m->topic_len) != 0 ||
      m->payload_len > MQTT_MAX_REMAINING || m->props_len > MQTT_MAX_REMAINING)
    return LOOM_EINVAL;
  loom_buf_reset(&w->rec);
  int rc;
  if ((rc = loom_buf_append_uvarint(&w->rec, m->topic_len)) ||
      (rc = loom_buf_append(&w->rec, m->topic, m->topic_len)) ||
      (rc = loom_buf_append_u8(&w->rec, m->qos)) ||
      (rc = loom_buf_append_u8(&w->rec, has_expiry ? 1u : 0u)) ||
      (has_expiry && (rc = loom_buf_append_u32(&w->rec, expiry_remaining_s))) ||
      (rc = loom_buf_append_uvarint(&w->rec, m->payload_len)) ||
      (rc = loom_buf_append(&w->rec, m->payload, m->payload_len)) ||
      (rc = loom_buf_append_uvarint(&w->rec, m->props_len)) ||
      (rc = loom_buf_append(&w->rec, m->props, m->props_len)) ||
      (rc = emit_record(w, MQTT_SNAP_REC_RETAINED)))
    goto fail;
  w->n_retained++;
  return 0;
fail:
  w->err = rc;
  return rc;
}

int mqtt_snap_commit(mqtt_snap_writer *w) {
  if (!w) return LOOM_EINVAL;
  int rc = w->err;
  if (rc) goto fail;
  loom_buf_reset(&w->rec);
  if ((rc = loom_buf_append_u64(&w->rec, w->n_clients)) ||
      (rc = loom_buf_append_u64(&w->rec, w->n_retained)) ||
      (rc = emit_record(w, MQTT_SNAP_REC_END)) || (rc = flush_out(w)))
    goto fail;
  if (fsync(w->fd) != 0) {
    rc = loom_from_errno(errno);
    goto fail;
  }
  int fd = w->fd;
  w->fd = -1;
  if (close(fd) != 0) {
    rc = loom_from_errno(errno);
    unlink(w->tmp_path);
    goto fail;
  }
  if (rename(w->tmp_path, w->path) != 0) {
    rc = loom_from_errno(errno);
    unlink(w->tmp_path);
    goto fail;
  }
  rc = loom_fsync_dir(w->dir);
  writer_free(w);
  return rc;
fail:
  mqtt_snap_abort(w);
  return rc;
}

/* ---- loading ---- */

/* Where records come from: memory, or a file read record by record. */
typedef struct src {
  const uint8_t *mem; /* NULL for a file */
  int fd;
  uint64_t size;      /* total bytes */
  uint64_t off;       /* bytes consumed */
  loom_buf scratch;   /* file data of the last get */
} src;

/* Point *p at the next n bytes. LOOM_ETRUNC if fewer remain (nothing
 * consumed); LOOM_ENOMEM; I/O codes. Valid until the next get. */
static int src_get(src *s, size_t n, const uint8_t **p) {
  if (n > s->size - s->off) return LOOM_ETRUNC;
  if (s->mem) {
    *p = s->mem + s->off;
    s->off += n;
    return 0;
  }
  loom_buf_reset(&s->scratch);
  int rc = loom_buf_reserve(&s->scratch, n ? n : 1);
  if (rc) return rc;
  size_t got = 0;
  while (got < n) {
    ssize_t k = pread(s->fd, s->scratch.data + got, n - got, (off_t)(s->off + got));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return loom_from_errno(errno);
    if (k == 0) return LOOM_ETRUNC; /* the file shrank under us */
    got += (size_t)k;
  }
  s->scratch.len = n;
  *p = s->scratch.data;
  s->off += n;
  return 0;
}

typedef struct load_ctx {
  const mqtt_session_cfg *cfg;
  uint64_t now_ms, elapsed_ms;
  const mqtt_snap_visitor *v;
  loom_buf names;      /* NUL-terminated id and filters of one client */
  mqtt_snap_sub *subs; /* of one client */
  size_t cap_subs;
  bool stopped;        /* the visitor returned non-zero (kept as is) */
} load_ctx;

static int rd_fail(int rc) { return rc == LOOM_ENOMEM ? rc : LOOM_EINVAL; }

static int rd_str(loom_rd *r, size_t max, const uint8_t **p, size_t *len) {
  uint64_t v;
  int rc = loom_rd_uvarint(r, &v);
  if (rc) return rd_fail(rc);
  if (v > max || v > r->len) return LOOM_EINVAL;
  *len = (size_t)v;
  return loom_rd_ptr(r, p, *len) ? LOOM_EINVAL : 0;
}

static int load_client(load_ctx *c, const uint8_t *body, size_t len) {
  loom_rd r;
  const uint8_t *id, *blob;
  size_t id_len, blob_len;
  uint64_t n_subs;
  int rc;
  loom_rd_init(&r, body, len);
  if ((rc = rd_str(&r, 65535u, &id, &id_len)) || (rc = rd_str(&r, SIZE_MAX, &blob, &blob_len)))
    return rc;
  if (memchr(id, 0, id_len)) return LOOM_EINVAL;
  if ((rc = loom_rd_uvarint(&r, &n_subs))) return rd_fail(rc);
  if (n_subs > r.len / 5u) return LOOM_EINVAL; /* each takes >= 5 bytes */
  if (n_subs > c->cap_subs) {
    mqtt_snap_sub *ns = loom_realloc(c->subs, (size_t)n_subs * sizeof(*ns));
    if (!ns) return LOOM_ENOMEM;
    c->subs = ns;
    c->cap_subs = (size_t)n_subs;
  }
  /* Copy id and filters with a NUL each. They total less than len +
   * n_subs + 1 bytes, reserved here, so the buffer never moves while the
   * filter pointers into it are taken. */
  loom_buf_reset(&c->names);
  if ((rc = loom_buf_reserve(&c->names, len + (size_t)n_subs + 1))) return rc;
  loom_buf_append(&c->names, id, id_len);
  loom_buf_append_u8(&c->names, 0);
  for (uint64_t i = 0; i < n_subs; i++) {
    const uint8_t *f;
    size_t fl;
    uint8_t qos, flags, rh;
    uint64_t sub_id;
    if ((rc = rd_str(&r, MQTT_TOPIC_MAX_LEN, &f, &fl))) return rc;
    if ((rc = loom_rd_u8(&r, &qos)) || (rc = loom_rd_u8(&r, &flags)) ||
        (rc = loom_rd_u8(&r, &rh)) || (rc = loom_rd_uvarint(&r, &sub_id)))
      return rd_fail(rc);
    if (!filter_ok((const char *)f, fl) || qos > 2 || rh > 2 || (flags & ~3u) ||
        sub_id > SUB_ID_MAX)
      return LOOM_EINVAL;
    mqtt_snap_sub *s = &c->subs[i];
    memset(s, 0, sizeof(*s));
    s->filter = (const char *)c->names.data + c->names.len;
    s->len = fl;
    s->opts.qos = qos;
    s->opts.no_local = flags & 1u;
    s->opts.retain_as_published = (flags & 2u) != 0;
    s->opts.retain_handling = rh;
    s->opts.sub_id = (uint32_t)sub_id;
    loom_buf_append(&c->names, f, fl);
    loom_buf_append_u8(&c->names, 0);
  }
  if (r.len) return LOOM_EINVAL;
  mqtt_session *s;
  rc = mqtt_session_load(c->cfg, blob, blob_len, c->now_ms, (int64_t)c->elapsed_ms, &s);
  if (rc) return rc;
  if (mqtt_session_expired(s, c->now_ms) || !c->v || !c->v->client) {
    mqtt_session_free(s);
    return 0;
  }
  rc = c->v->client(c->v->ud, (const char *)c->names.data, s, c->subs, (size_t)n_subs);
  c->stopped = rc != 0;
  return rc;
}

static int load_retained(load_ctx *c, const uint8_t *body, size_t len) {
  loom_rd r;
  mqtt_retain_msg m;
  const uint8_t *t;
  uint8_t flags;
  uint32_t rem_s = 0;
  int rc;
  memset(&m, 0, sizeof(m));
  loom_rd_init(&r, body, len);
  if ((rc = rd_str(&r, MQTT_TOPIC_MAX_LEN, &t, &m.topic_len))) return rc;
  m.topic = (const char *)t;
  if (mqtt_topic_name_validate(m.topic, m.topic_len) != 0) return LOOM_EINVAL;
  if ((rc = loom_rd_u8(&r, &m.qos)) || (rc = loom_rd_u8(&r, &flags))) return rd_fail(rc);
  if (m.qos > 2 || (flags & ~1u)) return LOOM_EINVAL;
  if ((flags & 1u) && (rc = loom_rd_u32(&r, &rem_s))) return rd_fail(rc);
  if ((rc = rd_str(&r, MQTT_MAX_REMAINING, &m.payload, &m.payload_len)) ||
      (rc = rd_str(&r, MQTT_MAX_REMAINING, &m.props, &m.props_len)))
    return rc;
  if (m.payload_len == 0 || r.len) return LOOM_EINVAL;
  if (flags & 1u) {
    uint64_t left_ms = (uint64_t)rem_s * 1000u;
    if (left_ms <= c->elapsed_ms) return 0; /* expired while down */
    uint64_t s = (left_ms - c->elapsed_ms + 999u) / 1000u;
    rem_s = (uint32_t)s;
  }
  if (!c->v || !c->v->retained) return 0;
  rc = c->v->retained(c->v->ud, &m, (flags & 1u) != 0, rem_s);
  c->stopped = rc != 0;
  return rc;
}

static int fail_at(char *err, size_t errlen, int rc, uint64_t off, const char *what) {
  if (err && errlen)
    snprintf(err, errlen, "%s: %s at byte offset %" PRIu64, MQTT_SNAP_FILE, what, off);
  return rc;
}

static int load_src(src *s, const mqtt_session_cfg *cfg, uint64_t now_ms, uint64_t wall_now_ms,
                    const mqtt_snap_visitor *v, char *err, size_t errlen) {
  const uint8_t *p;
  int rc = src_get(s, MQTT_SNAP_HEADER_LEN, &p);
  if (rc == LOOM_ETRUNC) return fail_at(err, errlen, LOOM_ECORRUPT, 0, "truncated header");
  if (rc) return fail_at(err, errlen, rc, 0, loom_strerror(rc));
  if (memcmp(p, MAGIC, 8) != 0 || (uint32_t)XXH32(p, 20, 0) != loom_le32(p + 20))
    return fail_at(err, errlen, LOOM_ECORRUPT, 0, "bad header");
  if (loom_le32(p + 8) != MQTT_SNAP_VERSION)
    return fail_at(err, errlen, LOOM_EUNSUP, 8, "unsupported format version");
  uint64_t saved_ms = loom_le64(p + 12);
  load_ctx c;
  memset(&c, 0, sizeof(c));
  c.cfg = cfg;
  c.now_ms = now_ms;
  c.elapsed_ms = wall_now_ms > saved_ms ? wall_now_ms - saved_ms : 0;
  c.v = v;
  loom_buf_init(&c.names);
  uint64_t n_clients = 0, n_retained = 0;
  for (;;) {
    uint64_t off = s->off;
    uint8_t hdr[MQTT_SNAP_REC_HEADER_LEN];
    rc = src_get(s, sizeof(hdr), &p);
    if (rc == LOOM_ETRUNC) {
      rc = fail_at(err, errlen, LOOM_ECORRUPT, off, "missing end record");
      break;
    }
    if (rc) {
      rc = fail_at(err, errlen, rc, off, loom_strerror(rc));
      break;
    }
    memcpy(hdr, p, sizeof(hdr));
    uint32_t len = loom_le32(hdr);
    if (len > MQTT_SNAP_MAX_RECORD) {
      rc = fail_at(err, errlen, LOOM_ECORRUPT, off, "record too long");
      break;
    }
    rc = src_get(s, len, &p);
    if (rc == LOOM_ETRUNC) {
      rc = fail_at(err, errlen, LOOM_ECORRUPT, off, "truncated record");
      break;
    }
    if (rc) {
      rc = fail_at(err, errlen, rc, off, loom_strerror(rc));
      break;
    }
    if (rec_checksum(hdr, p, len) != loom_le32(hdr + 5)) {
      rc = fail_at(err, errlen, LOOM_ECORRUPT, off, "record checksum mismatch");
      break;
    }
    uint8_t type = hdr[4];
    if (type == MQTT_SNAP_REC_END) {
      if (len != 16 || loom_le64(p) != n_clients || loom_le64(p + 8) != n_retained)
        rc = fail_at(err, errlen, LOOM_ECORRUPT, off, "bad end record");
      else if (s->off != s->size)
        rc = fail_at(err, errlen, LOOM_ECORRUPT, s->off, "bytes after the end record");
      else
        rc = 0;
      break;
    }
    if (type == MQTT_SNAP_REC_CLIENT) {
      rc = load_client(&c, p, len);
      n_clients++;
    } else if (type == MQTT_SNAP_REC_RETAINED) {
      rc = load_retained(&c, p, len);
      n_retained++;
    } else {
      rc = LOOM_EINVAL;
    }
    if (rc && c.stopped) {
      fail_at(err, errlen, rc, off, "stopped by the visitor");
      break;
    }
    if (rc == LOOM_EINVAL) {
      rc = fail_at(err, errlen, LOOM_ECORRUPT, off, "invalid record contents");
      break;
    }
    if (rc == LOOM_ENOMEM) {
      rc = fail_at(err, errlen, rc, off, "out of memory");
      break;
    }
    if (rc) {
      rc = fail_at(err, errlen, rc, off, loom_strerror(rc));
      break;
    }
  }
  loom_buf_deinit(&c.names);
  loom_free(c.subs);
  return rc;
}

int mqtt_snap_load_mem(const uint8_t *p, size_t len, const mqtt_session_cfg *cfg,
                       uint64_t now_ms, uint64_t wall_now_ms, const mqtt_snap_visitor *v,
                       char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if ((!p && len) || !cfg) return LOOM_EINVAL;
  src s;
  memset(&s, 0, sizeof(s));
  s.mem = p ? p : (const uint8_t *)"";
  s.fd = -1;
  s.size = len;
  return load_src(&s, cfg, now_ms, wall_now_ms, v, err, errlen);
}

int mqtt_snap_load(const char *dir, const mqtt_session_cfg *cfg, uint64_t now_ms,
                   const mqtt_snap_visitor *v, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!dir || !cfg) return LOOM_EINVAL;
  char *path = path_join(dir, MQTT_SNAP_FILE);
  if (!path) return LOOM_ENOMEM;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  loom_free(path);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    int rc = loom_from_errno(errno);
    return fail_at(err, errlen, rc, 0, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int rc = loom_from_errno(errno);
    close(fd);
    return fail_at(err, errlen, rc, 0, "fstat failed");
  }
  src s;
  memset(&s, 0, sizeof(s));
  s.fd = fd;
  s.size = (uint64_t)st.st_size;
  loom_buf_init(&s.scratch);
  int64_t ns = loom_now_ns();
  int rc = load_src(&s, cfg, now_ms, ns > 0 ? (uint64_t)ns / 1000000u : 0, v, err, errlen);
  loom_buf_deinit(&s.scratch);
  close(fd);
  return rc;
}
