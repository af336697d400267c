/* SPDX-License-Identifier: Apache-2.0
 * Write-ahead log: pure record/file codec, recovery (replay with tail
 * truncation) and the writer thread doing group commit. Appenders copy framed
 * records into a pending buffer under one mutex; the writer swaps that buffer
 * out, write()s it, fdatasyncs once and fires the group's callbacks. I/O
 * failures: ENOSPC truncates back and stays writable (durable mode), anything
 * else (and every failed fsync) makes the WAL read-only for good.
 */
#include "ts/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"

#define DEFAULT_INTERVAL_MS 100u
#define DEFAULT_SEGMENT_BYTES (64u * 1024u * 1024u)
/* Batched mode: write (without fsync) once this much is pending, to bound
 * memory between fsyncs. */
#define BATCH_WRITE_BYTES (4u * 1024u * 1024u)
/* Release a writer buffer grown past this after use. */
#define BUF_KEEP_BYTES (16u * 1024u * 1024u)

/* ------------------------------------------------------------------------ */
/* Codec (pure)                                                              */
/* ------------------------------------------------------------------------ */

static uint32_t record_crc(const uint8_t len_le[4], uint8_t type, const uint8_t *payload,
                           size_t len) {
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, len_le, 4);
  c = crc32(c, &type, 1);
  if (len > 0) c = crc32(c, payload, (uInt)len); /* len <= 256 MiB fits uInt */
  return (uint32_t)c;
}

void ts_wal_header_encode(uint8_t out[TS_WAL_HEADER_LEN], uint64_t file_id) {
  memcpy(out, TS_WAL_MAGIC, 8); /* 7 chars + NUL */
  loom_put_le32(out + 8, TS_WAL_VERSION);
  loom_put_le64(out + 12, file_id);
  loom_put_le32(out + 20, (uint32_t)crc32(crc32(0L, Z_NULL, 0), out, 20));
}

int ts_wal_header_decode(const uint8_t *p, size_t len, uint64_t *file_id) {
  if (len < TS_WAL_HEADER_LEN) return LOOM_ETRUNC;
  if (memcmp(p, TS_WAL_MAGIC, 8) != 0) return LOOM_ECORRUPT;
  if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), p, 20) != loom_le32(p + 20)) return LOOM_ECORRUPT;
  if (loom_le32(p + 8) != TS_WAL_VERSION) return LOOM_EUNSUP;
  *file_id = loom_le64(p + 12);
  return 0;
}

int ts_wal_record_encode(loom_buf *b, uint8_t type, const void *payload, size_t len) {
  uint8_t hdr[TS_WAL_RECORD_HEADER_LEN];
  if (len > TS_WAL_MAX_RECORD) return LOOM_ERANGE;
  if (len > 0 && payload == NULL) return LOOM_EINVAL;
  if (loom_buf_reserve(b, TS_WAL_RECORD_HEADER_LEN + len) != 0) return LOOM_ENOMEM;
  loom_put_le32(hdr, (uint32_t)len);
  loom_put_le32(hdr + 4, record_crc(hdr, type, payload, len));
  hdr[8] = type;
  memcpy(b->data + b->len, hdr, sizeof hdr);
  if (len > 0) memcpy(b->data + b->len + sizeof hdr, payload, len);
  b->len += sizeof hdr + len;
  return 0;
}

int ts_wal_record_decode(const uint8_t *p, size_t len, uint8_t *type, const uint8_t **payload,
                         size_t *plen, size_t *consumed) {
  uint32_t n;
  if (len < TS_WAL_RECORD_HEADER_LEN) return LOOM_ETRUNC;
  n = loom_le32(p);
  if (n > TS_WAL_MAX_RECORD) return LOOM_ECORRUPT;
  if (len - TS_WAL_RECORD_HEADER_LEN < n) return LOOM_ETRUNC;
  if (record_crc(p, p[8], p + TS_WAL_RECORD_HEADER_LEN, n) != loom_le32(p + 4))
    return LOOM_ECORRUPT;
  *type = p[8];
  *payload = p + TS_WAL_RECORD_HEADER_LEN;
  *plen = n;
  *consumed = TS_WAL_RECORD_HEADER_LEN + (size_t)n;
  return 0;
}

int ts_wal_decode_image(const uint8_t *img, size_t len, ts_wal_record_cb cb, void *arg,
                        ts_wal_image_info *info) {
  size_t off = TS_WAL_HEADER_LEN;
  int rc;
  memset(info, 0, sizeof *info);
  rc = ts_wal_header_decode(img, len, &info->file_id);
  if (rc != 0) {
    info->file_id = 0;
    info->status = rc;
    return 0;
  }
  info->valid_len = off;
  while (off < len) {
    uint8_t type;
    const uint8_t *payload;
    size_t plen, used;
    rc = ts_wal_record_decode(img + off, len - off, &type, &payload, &plen, &used);
    if (rc != 0) {
      info->status = rc;
      return 0;
    }
    off += used;
    info->valid_len = off;
    info->records++;
    info->payload_bytes += plen;
    if (cb != NULL) {
      rc = cb(arg, type, payload, plen);
      if (rc != 0) return rc;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The log                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct pend_cb {
  ts_wal_done_cb cb;
  void *arg;
} pend_cb;

typedef struct cb_vec {
  pend_cb *v;
  size_t n, cap;
} cb_vec;

struct ts_wal {
  char *dir;                  /* owned */
  int mode;                   /* TS_WAL_DURABLE / TS_WAL_BATCHED */
  int64_t interval_ns;        /* batched fsync interval */
  uint64_t segment_bytes;     /* rotate past this file size */
  ssize_t (*write_fn)(int fd, const void *buf, size_t n);
  int (*fsync_fn)(int fd);    /* NULL: fdatasync / fsync(dir) */

  pthread_mutex_t mu;         /* guards everything below down to "writer only" */
  pthread_mutex_t rm_mu;      /* serialises ts_wal_remove_before */
  pthread_cond_t wake;        /* writer waits here (CLOCK_MONOTONIC) */
  pthread_cond_t done;        /* sync / rotate / close waiters */
  pthread_t thread;
  int started, closing, replayed, thread_live;
  int readonly;               /* set by the writer (or start), never cleared */

  loom_buf pend;              /* framed records waiting for the writer */
  cb_vec pend_cbs;            /* their callbacks (durable mode only) */
  size_t pend_n;              /* records in pend */
  int64_t pend_first_ns;      /* mono time the oldest pending record arrived */
  uint64_t appended;          /* records accepted so far (sequence numbers) */
  uint64_t resolved;          /* records whose outcome is final */
  uint64_t fail_hi;           /* highest seq that failed (0 = none) */
  int fail_err;               /* its code */
  uint64_t sync_target;       /* ts_wal_sync wants resolved >= this */

  int rot_req;                /* a rotation is requested */
  size_t rot_mark_len, rot_mark_n; /* pending bytes/records before it */
  uint64_t rot_asked, rot_done;    /* rotation tickets */
  int rot_rc;                 /* outcome of the last rotation */
  uint64_t rot_id;            /* id it produced */

  uint64_t cur_id;            /* segment being written (0 before start) */
  uint64_t max_id;            /* highest segment id found at open */
  ts_wal_stats st;

  /* writer only (or the starting thread before the writer exists) */
  int fd;                     /* current segment, -1 if none */
  uint64_t file_off;          /* end of the last good record */
  int dirty;                  /* written since the last fsync */
  int64_t dirty_first_ns;     /* pend_first_ns of the oldest unsynced group */
  uint64_t taken;             /* records taken from pend */
  loom_buf wbuf;
  cb_vec wcbs;
};

/* ---- small helpers ---- */

static void seg_path(const ts_wal *w, uint64_t id, char *out, size_t cap) {
  snprintf(out, cap, "%s/wal-%016llx.log", w->dir, (unsigned long long)id);
}

/* Parse "wal-<16 hex>.log"; 1 and *id when it matches. */
static int seg_name_parse(const char *name, uint64_t *id) {
  uint64_t v = 0;
  if (strlen(name) != 24 || memcmp(name, "wal-", 4) != 0 || strcmp(name + 20, ".log") != 0)
    return 0;
  for (int i = 4; i < 20; i++) {
    char c = name[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return 0;
    v = v << 4 | (uint64_t)d;
  }
  *id = v;
  return 1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorted segment ids in dir. *ids owned by the caller (loom_free). */
static int seg_list(const char *dir, uint64_t **ids, size_t *n) {
  DIR *d = opendir(dir);
  struct dirent *e;
  uint64_t *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc = 0;
  *ids = NULL;
  *n = 0;
  if (d == NULL) return loom_from_errno(errno) == LOOM_ENOMEM ? LOOM_ENOMEM : LOOM_EIO;
  while ((e = readdir(d)) != NULL) {
    uint64_t id;
    if (!seg_name_parse(e->d_name, &id)) continue;
    if (cnt == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      uint64_t *nv = loom_realloc(v, ncap * sizeof *nv);
      if (nv == NULL) {
        rc = LOOM_ENOMEM;
        goto out;
      }
      v = nv;
      cap = ncap;
    }
    v[cnt++] = id;
  }
  if (cnt > 1) qsort(v, cnt, sizeof *v, cmp_u64);
out:
  closedir(d);
  if (rc != 0) {
    loom_free(v);
    return rc;
  }
  *ids = v;
  *n = cnt;
  return 0;
}

static int cb_vec_push(cb_vec *cv, ts_wal_done_cb cb, void *arg) {
  if (cv->n == cv->cap) {
    size_t ncap = cv->cap ? cv->cap * 2 : 64;
    pend_cb *nv = loom_realloc(cv->v, ncap * sizeof *nv);
    if (nv == NULL) return LOOM_ENOMEM;
    cv->v = nv;
    cv->cap = ncap;
  }
  cv->v[cv->n].cb = cb;
  cv->v[cv->n].arg = arg;
  cv->n++;
  return 0;
}

static int io_err(int e) { return (e == ENOSPC || e == EDQUOT) ? LOOM_ENOSPC : LOOM_EIO; }

static int write_all(ts_wal *w, int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = w->write_fn(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_err(errno);
    }
    if (n == 0 || (size_t)n > len) return LOOM_EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsync (fdatasync for segments) through the hook, timed into the stats. */
static int do_fsync(ts_wal *w, int fd, int is_dir) {
  int64_t t0 = loom_mono_ns(), dt;
  int r;
  if (w->fsync_fn != NULL) r = w->fsync_fn(fd);
  else r = is_dir ? fsync(fd) : fdatasync(fd);
  dt = loom_mono_ns() - t0;
  pthread_mutex_lock(&w->mu);
  w->st.fsyncs++;
  w->st.fsync_ns_total += (uint64_t)dt;
  if ((uint64_t)dt > w->st.fsync_ns_max) w->st.fsync_ns_max = (uint64_t)dt;
  pthread_mutex_unlock(&w->mu);
  return r == 0 ? 0 : LOOM_EIO;
}

static int dir_fsync(ts_wal *w) {
  int fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc;
  if (fd < 0) return LOOM_EIO;
  rc = do_fsync(w, fd, 1);
  close(fd);
  return rc;
}

static void set_readonly(ts_wal *w) {
  pthread_mutex_lock(&w->mu);
  w->readonly = 1;
  pthread_mutex_unlock(&w->mu);
}

/* Create segment id: header written, file and directory fsynced. On success
 * *fd_out is open for appending at offset TS_WAL_HEADER_LEN. An fsync failure
 * makes the WAL read-only. */
static int seg_create(ts_wal *w, uint64_t id, int *fd_out) {
  char path[PATH_MAX];
  uint8_t hdr[TS_WAL_HEADER_LEN];
  int fd, rc;
  seg_path(w, id, path, sizeof path);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EEXIST ? LOOM_EEXIST : io_err(errno);
  ts_wal_header_encode(hdr, id);
  rc = write_all(w, fd, hdr, sizeof hdr);
  if (rc == 0) {
    rc = do_fsync(w, fd, 0);
    if (rc == 0) rc = dir_fsync(w);
    if (rc != 0) set_readonly(w);
  }
  if (rc != 0) {
    close(fd);
    unlink(path);
    return rc;
  }
  pthread_mutex_lock(&w->mu);
  w->st.bytes_written += sizeof hdr;
  w->st.disk_bytes += sizeof hdr;
  pthread_mutex_unlock(&w->mu);
  *fd_out = fd;
  return 0;
}

/* Writer: switch to a new segment. The current one must be clean (fsynced). */
static int seg_switch(ts_wal *w, uint64_t *new_id) {
  uint64_t id;
  int fd, rc;
  pthread_mutex_lock(&w->mu);
  id = w->cur_id + 1;
  pthread_mutex_unlock(&w->mu);
  rc = seg_create(w, id, &fd);
  if (rc != 0) return rc;
  if (w->fd >= 0) close(w->fd);
  w->fd = fd;
  w->file_off = TS_WAL_HEADER_LEN;
  pthread_mutex_lock(&w->mu);
  w->cur_id = id;
  pthread_mutex_unlock(&w->mu);
  *new_id = id;
  return 0;
}

/* Writer: a write of this group failed with rc. Cut the file back to the last
 * good record. Returns the code the group's callbacks get. */
static int write_failed(ts_wal *w, int rc) {
  if (ftruncate(w->fd, (off_t)w->file_off) != 0 ||
      lseek(w->fd, (off_t)w->file_off, SEEK_SET) < 0) {
    set_readonly(w);
    return LOOM_EIO;
  }
  /* Disk full is transient in durable mode: nothing acknowledged was lost.
   * In batched mode the group was already acknowledged, so losing it must be
   * loud: go read-only. */
  if (rc != LOOM_ENOSPC || w->mode != TS_WAL_DURABLE) set_readonly(w);
  return rc;
}

/* Writer: write n records (len bytes) to the current segment, fsync when
 * want_sync or in durable mode, fire their callbacks (cbs may be NULL) and
 * publish the outcome. Returns 0 or the failure code. */
static int write_group(ts_wal *w, const uint8_t *data, size_t len, size_t n, const pend_cb *cbs,
                       int want_sync, int64_t first_ns) {
  int rc = 0, ro;
  pthread_mutex_lock(&w->mu);
  ro = w->readonly;
  pthread_mutex_unlock(&w->mu);
  if (ro) {
    rc = LOOM_EREADONLY;
  } else {
    if (len > 0) {
      rc = write_all(w, w->fd, data, len);
      if (rc != 0) {
        rc = write_failed(w, rc);
      } else {
        w->file_off += len;
        if (!w->dirty) w->dirty_first_ns = first_ns;
        w->dirty = 1;
      }
    }
    if (rc == 0 && w->dirty && (want_sync || w->mode == TS_WAL_DURABLE)) {
      rc = do_fsync(w, w->fd, 0);
      if (rc != 0) set_readonly(w);
      else w->dirty = 0;
    }
  }
  /* after a failure nothing unsynced can still become durable: forget it
   * (else the batched writer would keep waking up to fsync it) */
  if (rc != 0) w->dirty = 0;
  for (size_t i = 0; cbs != NULL && i < n; i++)
    if (cbs[i].cb != NULL) cbs[i].cb(cbs[i].arg, rc);
  pthread_mutex_lock(&w->mu);
  w->taken += n;
  if (len > 0) w->st.groups++;
  if (rc == 0 && len > 0) {
    w->st.bytes_written += len;
    w->st.records += n;
    w->st.disk_bytes += len;
  }
  if (rc != 0) {
    w->fail_hi = w->taken;
    w->fail_err = rc;
    w->resolved = w->taken;
  } else if (!w->dirty) {
    w->resolved = w->taken;
  }
  pthread_cond_broadcast(&w->done);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

/* Writer, mu held: is there something to do now? *want_sync says whether
 * the data written must be fsynced in this round. */
static int writer_has_work(ts_wal *w, int64_t *wait_until, int *want_sync) {
  int64_t now, first;
  *wait_until = 0;
  *want_sync = 0;
  if (w->rot_req || w->closing || w->sync_target > w->resolved) {
    *want_sync = 1;
    return 1;
  }
  if (w->mode == TS_WAL_DURABLE) return w->pend_n > 0;
  if (w->pend_n == 0 && !w->dirty) return 0;
  first = w->dirty ? w->dirty_first_ns : w->pend_first_ns;
  if (w->pend_n > 0 && w->pend_first_ns < first) first = w->pend_first_ns;
  now = loom_mono_ns();
  if (now - first >= w->interval_ns) {
    *want_sync = 1;
    return 1;
  }
  if (w->pend.len >= BATCH_WRITE_BYTES) return 1;
  *wait_until = first + w->interval_ns;
  return 0;
}

static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t mono_ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(mono_ns / LOOM_NS_PER_S);
  ts.tv_nsec = (long)(mono_ns % LOOM_NS_PER_S);
  pthread_cond_timedwait(c, m, &ts);
}

static void *writer_main(void *arg) {
  ts_wal *w = arg;
  pthread_setname_np(pthread_self(), "wal-writer"); /* top -H, perf, gdb */
  pthread_mutex_lock(&w->mu);
  for (;;) {
    int64_t until, first_ns;
    int want_sync, rot, closing, rrc = 0;
    size_t n, mark_len, mark_n;
    uint64_t new_id = 0;
    loom_buf tb;
    cb_vec tc;

    while (!writer_has_work(w, &until, &want_sync)) {
      if (until > 0) cond_wait_until(&w->wake, &w->mu, until);
      else pthread_cond_wait(&w->wake, &w->mu);
    }
    /* take the pending group */
    tb = w->pend;
    w->pend = w->wbuf;
    w->wbuf = tb;
    tc = w->pend_cbs;
    w->pend_cbs = w->wcbs;
    w->wcbs = tc;
    n = w->pend_n;
    w->pend_n = 0;
    first_ns = w->pend_first_ns;
    rot = w->rot_req;
    mark_len = rot ? w->rot_mark_len : w->wbuf.len;
    mark_n = rot ? w->rot_mark_n : n;
    closing = w->closing;
    pthread_mutex_unlock(&w->mu);

    const pend_cb *cbs = w->mode == TS_WAL_DURABLE ? w->wcbs.v : NULL;
    int rc = write_group(w, w->wbuf.data, mark_len, mark_n, cbs, want_sync || rot, first_ns);
    if (rot) {
      rrc = rc != 0 ? rc : seg_switch(w, &new_id);
      write_group(w, w->wbuf.data + mark_len, w->wbuf.len - mark_len, n - mark_n,
                  cbs != NULL ? cbs + mark_n : NULL, want_sync, first_ns);
    }
    /* size-based rotation; failure keeps the current file (retried later) */
    if (!w->readonly && w->file_off >= w->segment_bytes) {
      uint64_t id;
      if (!w->dirty || write_group(w, NULL, 0, 0, NULL, 1, 0) == 0) seg_switch(w, &id);
    }
    w->wbuf.len = 0;
    w->wcbs.n = 0;
    if (w->wbuf.cap > BUF_KEEP_BYTES) loom_buf_deinit(&w->wbuf);

    pthread_mutex_lock(&w->mu);
    if (rot) {
      w->rot_req = 0;
      w->rot_rc = rrc;
      w->rot_id = new_id;
      w->rot_done++;
      pthread_cond_broadcast(&w->done);
    }
    if (closing && w->pend_n == 0 && !w->rot_req && (!w->dirty || w->readonly)) break;
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* A new directory's own entry is durable only once its parent is fsynced. */
static int parent_fsync(const char *dir) {
  char parent[PATH_MAX];
  size_t n = strlen(dir);
  int fd, rc = 0;
  while (n > 1 && dir[n - 1] == '/') n--; /* "a/b/" names "a/b" */
  while (n > 0 && dir[n - 1] != '/') n--;
  if (n == 0) {
    strcpy(parent, ".");
  } else {
    while (n > 1 && dir[n - 1] == '/') n--;
    memcpy(parent, dir, n);
    parent[n] = '\0';
  }
  fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return LOOM_EIO;
  if (fsync(fd) != 0) rc = LOOM_EIO;
  close(fd);
  return rc;
}

/* ---- public API ---- */

int ts_wal_open(const char *dir, const ts_wal_options *opt, ts_wal **out) {
  ts_wal_options o = {0};
  ts_wal *w = NULL;
  pthread_condattr_t ca;
  struct stat sb;
  uint64_t *ids = NULL;
  size_t n = 0;
  int rc;
  if (opt != NULL) o = *opt;
  if (dir == NULL || out == NULL || dir[0] == '\0' || strlen(dir) > PATH_MAX - 32)
    return LOOM_EINVAL;
  if (o.mode != TS_WAL_DURABLE && o.mode != TS_WAL_BATCHED) return LOOM_EINVAL;
  if (o.batch_interval_ms == 0) o.batch_interval_ms = DEFAULT_INTERVAL_MS;
  if (o.segment_bytes == 0) o.segment_bytes = DEFAULT_SEGMENT_BYTES;
  if (mkdir(dir, 0755) == 0) {
    rc = parent_fsync(dir);
    if (rc != 0) return rc;
  } else if (errno != EEXIST) {
    return io_err(errno);
  }
  if (stat(dir, &sb) != 0) return io_err(errno);
  if (!S_ISDIR(sb.st_mode)) return LOOM_EINVAL;
  rc = seg_list(dir, &ids, &n);
  if (rc != 0) return rc;

  w = loom_calloc(1, sizeof *w);
  if (w == NULL) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  w->dir = loom_strdup(dir);
  if (w->dir == NULL) {
    rc = LOOM_ENOMEM;
    goto fail;
  }
  w->mode = o.mode;
  w->interval_ns = (int64_t)o.batch_interval_ms * LOOM_NS_PER_MS;
  w->segment_bytes = o.segment_bytes;
  w->write_fn = (o.io != NULL && o.io->write_fn != NULL) ? o.io->write_fn : write;
  w->fsync_fn = o.io != NULL ? o.io->fsync_fn : NULL;
  w->fd = -1;
  w->max_id = n > 0 ? ids[n - 1] : 0;
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX];
    seg_path(w, ids[i], path, sizeof path);
    if (stat(path, &sb) == 0) w->st.disk_bytes += (uint64_t)sb.st_size;
  }
  loom_buf_init(&w->pend);
  loom_buf_init(&w->wbuf);
  pthread_mutex_init(&w->mu, NULL);
  pthread_mutex_init(&w->rm_mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&w->done, NULL);
  loom_free(ids);
  *out = w;
  return 0;
fail:
  if (w != NULL) loom_free(w->dir);
  loom_free(w);
  loom_free(ids);
  return rc;
}

/* Decode (and for the last file repair) segment id. only_repair: no cb. */
static int replay_file(ts_wal *w, uint64_t id, int is_last, ts_wal_record_cb cb, void *arg,
                       ts_wal_replay_report *rep) {
  char path[PATH_MAX];
  struct stat sb;
  ts_wal_image_info info;
  void *map = NULL;
  uint64_t hid;
  size_t size;
  int fd, rc = 0;
  seg_path(w, id, path, sizeof path);
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_err(errno);
  if (fstat(fd, &sb) != 0) {
    rc = io_err(errno);
    goto out;
  }
  size = (size_t)sb.st_size;
  if (size > 0) {
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      map = NULL;
      rc = errno == ENOMEM ? LOOM_ENOMEM : LOOM_EIO;
      goto out;
    }
  }
  rep->files++;
  /* A header that does not name this file is foreign: skip it, keep it. */
  if (ts_wal_header_decode(map, size, &hid) == 0 && hid != id) {
    rep->corrupt_files++;
    goto out;
  }
  rc = ts_wal_decode_image(map, size, cb, arg, &info);
  if (rc != 0) goto out;
  rep->records += info.records;
  rep->bytes += info.payload_bytes;
  if (info.status == 0) goto out;
  if (!is_last || (info.valid_len == 0 && size > TS_WAL_HEADER_LEN)) {
    /* damage in an older file, or a bad header over real data: report, keep */
    rep->corrupt_files++;
    goto out;
  }
  if (info.valid_len == 0) {
    /* crash while creating the segment (header not fully written): the file
     * never held a record */
    if (unlink(path) != 0 || dir_fsync(w) != 0) {
      rc = LOOM_EIO;
      goto out;
    }
  } else {
    if (ftruncate(fd, (off_t)info.valid_len) != 0 || do_fsync(w, fd, 0) != 0) {
      rc = LOOM_EIO;
      goto out;
    }
  }
  rep->truncated_bytes += size - info.valid_len;
  pthread_mutex_lock(&w->mu);
  w->st.disk_bytes -= size - info.valid_len;
  pthread_mutex_unlock(&w->mu);
out:
  if (map != NULL) munmap(map, size);
  close(fd);
  return rc;
}

static int replay_all(ts_wal *w, ts_wal_record_cb cb, void *arg, ts_wal_replay_report *rep,
                      int last_only) {
  uint64_t *ids = NULL;
  size_t n = 0;
  int rc = seg_list(w->dir, &ids, &n);
  if (rc != 0) return rc;
  for (size_t i = last_only && n > 0 ? n - 1 : 0; i < n; i++) {
    rc = replay_file(w, ids[i], i == n - 1, cb, arg, rep);
    if (rc != 0) break;
  }
  loom_free(ids);
  return rc;
}

int ts_wal_replay(ts_wal *w, ts_wal_record_cb cb, void *arg, ts_wal_replay_report *rep) {
  ts_wal_replay_report local;
  int rc;
  if (rep == NULL) rep = &local;
  memset(rep, 0, sizeof *rep);
  if (w->started || w->closing) return LOOM_EINVAL;
  rc = replay_all(w, cb, arg, rep, 0);
  if (rc == 0) w->replayed = 1;
  return rc;
}

int ts_wal_start(ts_wal *w) {
  ts_wal_replay_report rep;
  uint64_t *ids = NULL;
  size_t n = 0;
  int fd = -1, rc;
  if (w->started || w->closing) return LOOM_EINVAL;
  if (!w->replayed) {
    memset(&rep, 0, sizeof rep);
    rc = replay_all(w, NULL, NULL, &rep, 1);
    if (rc != 0) return rc;
    w->replayed = 1;
  }
  rc = seg_list(w->dir, &ids, &n);
  if (rc != 0) return rc;
  if (n > 0 && ids[n - 1] > w->max_id) w->max_id = ids[n - 1];
  loom_free(ids);
  rc = seg_create(w, w->max_id + 1, &fd);
  if (rc != 0) return rc;
  w->fd = fd;
  w->file_off = TS_WAL_HEADER_LEN;
  pthread_mutex_lock(&w->mu);
  w->cur_id = w->max_id + 1;
  w->max_id = w->cur_id;
  w->started = 1;
  pthread_mutex_unlock(&w->mu);
  rc = pthread_create(&w->thread, NULL, writer_main, w);
  if (rc != 0) {
    pthread_mutex_lock(&w->mu);
    w->started = 0;
    pthread_mutex_unlock(&w->mu);
    return LOOM_ENOMEM;
  }
  w->thread_live = 1;
  return 0;
}

int ts_wal_append(ts_wal *w, uint8_t type, const void *payload, size_t len, ts_wal_done_cb cb,
                  void *arg) {
  uint8_t hdr[TS_WAL_RECORD_HEADER_LEN];
  int rc = 0;
  if (len > TS_WAL_MAX_RECORD) return LOOM_ERANGE;
  if (len > 0 && payload == NULL) return LOOM_EINVAL;
  /* CRC outside the lock so appenders only serialise on the memcpy */
  loom_put_le32(hdr, (uint32_t)len);
  loom_put_le32(hdr + 4, record_crc(hdr, type, payload, len));
  hdr[8] = type;

  pthread_mutex_lock(&w->mu);
  if (!w->started || w->closing) {
    rc = LOOM_ECLOSED;
    goto out;
  }
  if (w->readonly) {
    rc = LOOM_EREADONLY;
    goto out;
  }
  if (loom_buf_reserve(&w->pend, sizeof hdr + len) != 0) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  if (w->mode == TS_WAL_DURABLE && cb_vec_push(&w->pend_cbs, cb, arg) != 0) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  memcpy(w->pend.data + w->pend.len, hdr, sizeof hdr);
  if (len > 0) memcpy(w->pend.data + w->pend.len + sizeof hdr, payload, len);
  w->pend.len += sizeof hdr + len;
  if (w->pend_n++ == 0) {
    w->pend_first_ns = loom_mono_ns();
    pthread_cond_signal(&w->wake);
  } else if (w->mode == TS_WAL_DURABLE || w->pend.len >= BATCH_WRITE_BYTES) {
    pthread_cond_signal(&w->wake);
  }
  w->appended++;
out:
  pthread_mutex_unlock(&w->mu);
  if (rc == 0 && w->mode == TS_WAL_BATCHED && cb != NULL) cb(arg, 0);
  return rc;
}

int ts_wal_sync(ts_wal *w) {
  uint64_t target, base;
  int rc = 0;
  pthread_mutex_lock(&w->mu);
  if (!w->started || w->closing) {
    rc = LOOM_ECLOSED;
    goto out;
  }
  if (w->readonly) {
    rc = LOOM_EREADONLY;
    goto out;
  }
  target = w->appended;
  base = w->resolved;
  if (target > w->sync_target) {
    w->sync_target = target;
    pthread_cond_signal(&w->wake);
  }
  while (w->resolved < target) pthread_cond_wait(&w->done, &w->mu);
  if (w->fail_hi > base) rc = w->fail_err;
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int ts_wal_rotate(ts_wal *w, uint64_t *file_id) {
  uint64_t ticket;
  int rc;
  pthread_mutex_lock(&w->mu);
  while (w->rot_req && !w->closing) pthread_cond_wait(&w->done, &w->mu);
  if (!w->started || w->closing) {
    rc = LOOM_ECLOSED;
    goto out;
  }
  if (w->readonly) {
    rc = LOOM_EREADONLY;
    goto out;
  }
  w->rot_req = 1;
  w->rot_mark_len = w->pend.len;
  w->rot_mark_n = w->pend_n;
  ticket = ++w->rot_asked;
  pthread_cond_signal(&w->wake);
  while (w->rot_done < ticket) pthread_cond_wait(&w->done, &w->mu);
  rc = w->rot_rc;
  if (rc == 0 && file_id != NULL) *file_id = w->rot_id;
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int ts_wal_remove_before(ts_wal *w, uint64_t file_id) {
  uint64_t *ids = NULL, cur, freed = 0;
  size_t n = 0;
  int rc, removed = 0;
  pthread_mutex_lock(&w->mu);
  cur = w->cur_id;
  pthread_mutex_unlock(&w->mu);
  if (cur != 0 && file_id > cur) return LOOM_EINVAL;
  pthread_mutex_lock(&w->rm_mu);
  rc = seg_list(w->dir, &ids, &n);
  if (rc != 0) goto out;
  for (size_t i = 0; i < n && ids[i] < file_id; i++) {
    char path[PATH_MAX];
    struct stat sb;
    seg_path(w, ids[i], path, sizeof path);
    if (stat(path, &sb) != 0) continue;
    if (unlink(path) != 0) {
      if (errno != ENOENT) rc = LOOM_EIO;
      continue;
    }
    freed += (uint64_t)sb.st_size;
    removed = 1;
  }
  if (removed && dir_fsync(w) != 0) rc = LOOM_EIO;
  pthread_mutex_lock(&w->mu);
  w->st.disk_bytes = w->st.disk_bytes > freed ? w->st.disk_bytes - freed : 0;
  pthread_mutex_unlock(&w->mu);
out:
  pthread_mutex_unlock(&w->rm_mu);
  loom_free(ids);
  return rc;
}

void ts_wal_stats_get(ts_wal *w, ts_wal_stats *out) {
  pthread_mutex_lock(&w->mu);
  *out = w->st;
  pthread_mutex_unlock(&w->mu);
}

int ts_wal_readonly(ts_wal *w) {
  int ro;
  pthread_mutex_lock(&w->mu);
  ro = w->readonly;
  pthread_mutex_unlock(&w->mu);
  return ro;
}

uint64_t ts_wal_current_id(ts_wal *w) {
  uint64_t id;
  pthread_mutex_lock(&w->mu);
  id = w->cur_id;
  pthread_mutex_unlock(&w->mu);
  return id;
}

void ts_wal_close(ts_wal *w) {
  if (w == NULL) return;
  pthread_mutex_lock(&w->mu);
  w->closing = 1;
  pthread_cond_broadcast(&w->wake);
  pthread_cond_broadcast(&w->done);
  pthread_mutex_unlock(&w->mu);
  if (w->thread_live) pthread_join(w->thread, NULL);
  if (w->fd >= 0) close(w->fd);
  loom_buf_deinit(&w->pend);
  loom_buf_deinit(&w->wbuf);
  loom_free(w->pend_cbs.v);
  loom_free(w->wcbs.v);
  pthread_cond_destroy(&w->wake);
  pthread_cond_destroy(&w->done);
  pthread_mutex_destroy(&w->mu);
  pthread_mutex_destroy(&w->rm_mu);
  loom_free(w->dir);
  loom_free(w);
}
