/* SPDX-License-Identifier: Apache-2.0
 * The hash-chained, HMAC'd audit log (format and guarantees in audit.h):
 * the pure record/anchor codec and verifier, the key file, and the log
 * handle that appends with fsync, keeps the anchor current and pages
 * records back for the admin API.
 */
#include "sec/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fsutil.h"
#include "core/mem.h"

static const uint8_t hdr_magic[8] = {'L', 'O', 'O', 'M', 'A', 'U', 'D', 'T'};
static const uint8_t rec_magic[4] = {'L', 'A', 'R', '1'};
static const uint8_t anc_magic[8] = {'L', 'O', 'O', 'M', 'A', 'N', 'C', 'H'};
static const uint8_t zero_mac[SEC_AUDIT_MAC_LEN];

#define AUDIT_VERSION 1
#define INDEX_EVERY 64 /* the handle remembers every 64th record's offset */
#define PATH_CAP 4200

/* ---------------------------------------------------------------- codec */

static void hmac(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *p, size_t len,
                 uint8_t out[SEC_AUDIT_MAC_LEN]) {
  crypto_auth_hmacsha256(out, p, len, key);
}

void sec_audit_key_id(const uint8_t key[SEC_AUDIT_KEY_LEN], uint8_t out[16]) {
  static const char label[] = "loom audit key id v1";
  uint8_t full[SEC_AUDIT_MAC_LEN];
  hmac(key, (const uint8_t *)label, sizeof label - 1, full);
  memcpy(out, full, 16);
}

void sec_audit_header_encode(const uint8_t key[SEC_AUDIT_KEY_LEN],
                             uint8_t out[SEC_AUDIT_HEADER_LEN]) {
  memcpy(out, hdr_magic, 8);
  loom_put_le32(out + 8, AUDIT_VERSION);
  loom_put_le32(out + 12, 0);
  sec_audit_key_id(key, out + 16);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n) {
  unsigned c = s[0], min;
  size_t len;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, min = 0x80, c &= 0x1F;
  else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800, c &= 0x0F;
  else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000, c &= 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = c << 6 | (s[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  return len;
}

/* A JSON string literal of s with invalid UTF-8 replaced by U+FFFD. */
static int json_str(loom_buf *b, const char *str) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *s = (const uint8_t *)str;
  size_t n = strlen(str);
  int rc = loom_buf_append_u8(b, '"');
  for (size_t i = 0; i < n && !rc;) {
    uint8_t c = s[i];
    if (c == '"' || c == '\\') {
      uint8_t esc[2] = {'\\', c};
      rc = loom_buf_append(b, esc, 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      rc = loom_buf_append(b, esc, 6);
      i++;
    } else {
      size_t len = utf8_len(s + i, n - i);
      if (len) rc = loom_buf_append(b, s + i, len);
      else rc = loom_buf_append_str(b, "\\ufffd");
      i += len ? len : 1;
    }
  }
  return rc ? rc : loom_buf_append_u8(b, '"');
}

int sec_audit_payload_format(loom_buf *out, const sec_audit_event *ev) {
  const struct { const char *name; const char *val; int required; } f[] = {
      {"actor", ev ? ev->actor : NULL, 1},     {"tenant", ev ? ev->tenant : NULL, 0},
      {"action", ev ? ev->action : NULL, 1},   {"target", ev ? ev->target : NULL, 0},
      {"outcome", ev ? ev->outcome : NULL, 1}, {"detail", ev ? ev->detail : NULL, 0},
      {"address", ev ? ev->address : NULL, 0},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    if (f[i].required && (!f[i].val || !*f[i].val)) return LOOM_EINVAL;
    if (f[i].val && strnlen(f[i].val, SEC_AUDIT_FIELD_MAX + 1) > SEC_AUDIT_FIELD_MAX)
      return LOOM_EINVAL;
  }
  for (size_t i = 0; i < sizeof f / sizeof f[0] && !rc; i++) {
    rc = loom_buf_printf(out, "%s\"%s\":", i ? "," : "{", f[i].name);
    if (!rc) rc = f[i].val ? json_str(out, f[i].val) : loom_buf_append_str(out, "null");
  }
  return rc ? rc : loom_buf_append_u8(out, '}');
}

int sec_audit_record_encode(loom_buf *out, const uint8_t key[SEC_AUDIT_KEY_LEN], uint64_t seq,
                            int64_t time_ms, const uint8_t prev_mac[SEC_AUDIT_MAC_LEN],
                            const uint8_t *payload, size_t payload_len,
                            uint8_t mac_out[SEC_AUDIT_MAC_LEN]) {
  if (payload_len < 2 || payload_len > SEC_AUDIT_PAYLOAD_MAX) return LOOM_EINVAL;
  size_t size = SEC_AUDIT_REC_OVERHEAD + payload_len;
  int rc = loom_buf_reserve(out, size);
  if (rc) return rc;
  uint8_t *p = out->data + out->len;
  memcpy(p, rec_magic, 4);
  loom_put_le32(p + 4, (uint32_t)payload_len);
  loom_put_le64(p + 8, seq);
  loom_put_le64(p + 16, (uint64_t)time_ms);
  memcpy(p + 24, prev_mac, SEC_AUDIT_MAC_LEN);
  memcpy(p + SEC_AUDIT_REC_FIXED, payload, payload_len);
  hmac(key, p, SEC_AUDIT_REC_FIXED + payload_len, p + SEC_AUDIT_REC_FIXED + payload_len);
  if (mac_out) memcpy(mac_out, p + SEC_AUDIT_REC_FIXED + payload_len, SEC_AUDIT_MAC_LEN);
  out->len += size;
  return 0;
}

int sec_audit_record_decode(const uint8_t *p, size_t len, sec_audit_view *v) {
  if (len >= 4 && memcmp(p, rec_magic, 4)) return LOOM_ECORRUPT;
  if (len < 8) return LOOM_ETRUNC;
  uint32_t plen = loom_le32(p + 4);
  if (plen < 2 || plen > SEC_AUDIT_PAYLOAD_MAX) return LOOM_ECORRUPT;
  size_t size = SEC_AUDIT_REC_OVERHEAD + (size_t)plen;
  if (len < size) return LOOM_ETRUNC;
  v->seq = loom_le64(p + 8);
  v->time_ms = (int64_t)loom_le64(p + 16);
  v->prev_mac = p + 24;
  v->payload = p + SEC_AUDIT_REC_FIXED;
  v->payload_len = plen;
  v->mac = p + SEC_AUDIT_REC_FIXED + plen;
  v->size = size;
  return 0;
}

bool sec_audit_record_mac_ok(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *rec,
                             const sec_audit_view *v) {
  uint8_t mac[SEC_AUDIT_MAC_LEN];
  hmac(key, rec, SEC_AUDIT_REC_FIXED + v->payload_len, mac);
  return sodium_memcmp(mac, v->mac, SEC_AUDIT_MAC_LEN) == 0;
}

void sec_audit_anchor_encode(const uint8_t key[SEC_AUDIT_KEY_LEN], uint64_t seq,
                             const uint8_t mac[SEC_AUDIT_MAC_LEN],
                             uint8_t out[SEC_AUDIT_ANCHOR_LEN]) {
  memcpy(out, anc_magic, 8);
  loom_put_le64(out + 8, seq);
  memcpy(out + 16, mac ? mac : zero_mac, SEC_AUDIT_MAC_LEN);
  hmac(key, out, 48, out + 48);
}

int sec_audit_anchor_decode(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *p, size_t len,
                            uint64_t *seq, uint8_t mac[SEC_AUDIT_MAC_LEN]) {
  uint8_t want[SEC_AUDIT_MAC_LEN];
  if (len != SEC_AUDIT_ANCHOR_LEN || memcmp(p, anc_magic, 8)) return LOOM_ECORRUPT;
  hmac(key, p, 48, want);
  if (sodium_memcmp(want, p + 48, SEC_AUDIT_MAC_LEN)) return LOOM_ECORRUPT;
  *seq = loom_le64(p + 8);
  memcpy(mac, p + 16, SEC_AUDIT_MAC_LEN);
  return 0;
}

static int bad(sec_audit_report *rep, int rc, uint64_t seq, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(sec_audit_report *rep, int rc, uint64_t seq, uint64_t off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
  va_end(ap);
  rep->bad_seq = seq ? seq : (rc == LOOM_ECORRUPT || rc == LOOM_EAUTH) ? 1 : 0;
  rep->bad_offset = off;
  return rc;
}

typedef void (*record_cb)(void *arg, uint64_t seq, uint64_t offset);

static int walk(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *log, size_t log_len,
                const uint8_t *anchor, size_t anchor_len, sec_audit_report *rep, record_cb cb,
                void *arg) {
  typedef unsigned long long ull;
  uint8_t amac[SEC_AUDIT_MAC_LEN], kid[16];
  uint8_t prev[SEC_AUDIT_MAC_LEN] = {0};
  uint64_t aseq = 0, expect = 1;
  int anchor_rc = LOOM_ENOTFOUND;
  memset(rep, 0, sizeof *rep);
  if (anchor) {
    anchor_rc = sec_audit_anchor_decode(key, anchor, anchor_len, &aseq, amac);
    if (!anchor_rc) rep->anchor_seq = aseq;
  }
  if (log_len < SEC_AUDIT_HEADER_LEN)
    return bad(rep, LOOM_ECORRUPT, 1, 0, "the log is shorter than its %d-byte header",
               SEC_AUDIT_HEADER_LEN);
  if (memcmp(log, hdr_magic, 8)) return bad(rep, LOOM_ECORRUPT, 1, 0, "not an audit log (bad magic)");
  if (loom_le32(log + 8) != AUDIT_VERSION)
    return bad(rep, LOOM_ECORRUPT, 1, 8, "unknown log version %u", loom_le32(log + 8));
  if (loom_le32(log + 12) != 0)
    return bad(rep, LOOM_ECORRUPT, 1, 12, "the header's reserved bytes are not zero");
  sec_audit_key_id(key, kid);
  if (sodium_memcmp(kid, log + 16, 16))
    return bad(rep, LOOM_EAUTH, 1, 16,
               "the key does not match this log (key id differs): wrong audit.key, or the "
               "header was replaced");
  size_t off = SEC_AUDIT_HEADER_LEN;
  rep->valid_len = off;
  while (off < log_len) {
    sec_audit_view v;
    int rc = sec_audit_record_decode(log + off, log_len - off, &v);
    if (rc == LOOM_ETRUNC) {
      rep->torn_bytes = log_len - off;
      break;
    }
    if (rc)
      return bad(rep, LOOM_ECORRUPT, expect, off,
                 "record %llu: bad record header (magic or length) at offset %llu", (ull)expect,
                 (ull)off);
    if (!sec_audit_record_mac_ok(key, log + off, &v))
      return bad(rep, LOOM_ECORRUPT, expect, off,
                 "record %llu: MAC mismatch: the record was edited, or forged without the key",
                 (ull)expect);
    if (v.seq != expect)
      return bad(rep, LOOM_ECORRUPT, expect, off,
                 "record %llu: found sequence number %llu instead: records were deleted, "
                 "duplicated or reordered",
                 (ull)expect, (ull)v.seq);
    if (sodium_memcmp(v.prev_mac, prev, SEC_AUDIT_MAC_LEN))
      return bad(rep, LOOM_ECORRUPT, expect, off,
                 "record %llu: does not chain to record %llu (previous MAC differs)", (ull)expect,
                 (ull)(expect - 1));
    if (!anchor_rc && v.seq == aseq && sodium_memcmp(v.mac, amac, SEC_AUDIT_MAC_LEN))
      return bad(rep, LOOM_ECORRUPT, expect, off,
                 "record %llu: differs from the record the anchor vouches for", (ull)expect);
    if (cb) cb(arg, v.seq, off);
    memcpy(prev, v.mac, SEC_AUDIT_MAC_LEN);
    off += v.size;
    rep->records++;
    rep->last_seq = v.seq;
    memcpy(rep->last_mac, v.mac, SEC_AUDIT_MAC_LEN);
    rep->valid_len = off;
    expect++;
  }
  if (anchor && anchor_rc)
    return bad(rep, LOOM_ECORRUPT, rep->last_seq, rep->valid_len,
               "the anchor file is corrupt or forged");
  if (!anchor && rep->records > 0)
    return bad(rep, LOOM_ECORRUPT, rep->last_seq, rep->valid_len,
               "the anchor file is missing (the log has %llu records)", (ull)rep->records);
  if (aseq > rep->last_seq)
    return bad(rep, LOOM_ECORRUPT, rep->last_seq + 1, rep->valid_len,
               "record %llu: missing: the log ends at record %llu%s but the anchor vouches for "
               "record %llu: records were deleted from the end",
               (ull)(rep->last_seq + 1), (ull)rep->last_seq,
               rep->torn_bytes ? " (then a cut-short record)" : "", (ull)aseq);
  return 0;
}

int sec_audit_verify_image(const uint8_t key[SEC_AUDIT_KEY_LEN], const uint8_t *log,
                           size_t log_len, const uint8_t *anchor, size_t anchor_len,
                           sec_audit_report *rep) {
  return walk(key, log, log_len, anchor, anchor_len, rep, NULL, NULL);
}

/* ---------------------------------------------------------------- files */

static int path_in(char *out, const char *dir, const char *name) {
  return (size_t)snprintf(out, PATH_CAP, "%s/%s", dir, name) >= PATH_CAP ? LOOM_ERANGE : 0;
}

static int write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return loom_from_errno(w < 0 ? errno : EIO);
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Read a small file wholly into buf (cap bytes); *len gets its size, which
 * may exceed cap (then only cap bytes are read). */
static int read_small(const char *path, uint8_t *buf, size_t cap, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return loom_from_errno(errno);
  size_t got = 0;
  int rc = 0;
  while (got < cap) {
    ssize_t r = read(fd, buf + got, cap - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = loom_from_errno(errno);
      break;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  if (!rc && got == cap) {
    uint8_t extra;
    if (read(fd, &extra, 1) == 1) got++;
  }
  close(fd);
  *len = got;
  return rc;
}

int sec_audit_key_load(const char *data_dir, bool create, uint8_t key[SEC_AUDIT_KEY_LEN],
                       char *err, size_t errlen) {
  char path[PATH_CAP];
  uint8_t fresh[SEC_AUDIT_KEY_LEN];
  size_t len = 0;
  int rc = path_in(path, data_dir, "audit.key");
  if (rc) {
    snprintf(err, errlen, "data directory path too long");
    return rc;
  }
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return LOOM_EIO;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    rc = read_small(path, key, SEC_AUDIT_KEY_LEN, &len);
    if (!rc) {
      if (len != SEC_AUDIT_KEY_LEN) {
        snprintf(err, errlen, "%s: not a %d-byte key", path, SEC_AUDIT_KEY_LEN);
        return LOOM_ECORRUPT;
      }
      return 0;
    }
    if (rc != LOOM_ENOTFOUND) {
      snprintf(err, errlen, "cannot read %s: %s", path, loom_strerror(rc));
      return rc;
    }
    if (!create) {
      snprintf(err, errlen, "%s does not exist", path);
      return LOOM_ENOTFOUND;
    }
    if ((rc = loom_mkdir_p(data_dir))) {
      snprintf(err, errlen, "cannot create %s: %s", data_dir, loom_strerror(rc));
      return rc;
    }
    /* write a temporary file, then link() it into place: the key appears
     * whole or not at all, and only once (link fails if it exists) */
    char tmp[PATH_CAP + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      rc = loom_from_errno(errno);
      snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
      return rc;
    }
    randombytes_buf(fresh, sizeof fresh);
    rc = write_all(fd, fresh, sizeof fresh);
    if (!rc && fsync(fd)) rc = loom_from_errno(errno);
    if (close(fd) && !rc) rc = loom_from_errno(errno);
    bool raced = false;
    if (!rc && link(tmp, path)) {
      if (errno == EEXIST) raced = true;
      else rc = loom_from_errno(errno);
    }
    unlink(tmp);
    if (!rc && !raced) rc = loom_fsync_dir(data_dir);
    if (rc) {
      sodium_memzero(fresh, sizeof fresh);
      snprintf(err, errlen, "cannot write %s: %s", path, loom_strerror(rc));
      return rc;
    }
    if (raced) continue; /* another process created it meanwhile: use theirs */
    memcpy(key, fresh, sizeof fresh);
    sodium_memzero(fresh, sizeof fresh);
    return 0;
  }
  snprintf(err, errlen, "%s: cannot be read", path);
  return LOOM_EIO;
}

typedef struct mapping {
  const uint8_t *p;
  size_t len;
  void *base; /* NULL for an empty file */
} mapping;

static int map_fd(int fd, mapping *m) {
  struct stat st;
  memset(m, 0, sizeof *m);
  m->p = (const uint8_t *)"";
  if (fstat(fd, &st)) return loom_from_errno(errno);
  if (st.st_size == 0) return 0;
  void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (base == MAP_FAILED) return loom_from_errno(errno);
  m->base = base;
  m->p = base;
  m->len = (size_t)st.st_size;
  return 0;
}

static void unmap(mapping *m) {
  if (m->base) munmap(m->base, m->len);
  memset(m, 0, sizeof *m);
}

int sec_audit_verify_key(const char *data_dir, const uint8_t key[SEC_AUDIT_KEY_LEN],
                         sec_audit_report *rep) {
  char lpath[PATH_CAP], apath[PATH_CAP];
  uint8_t anchor[SEC_AUDIT_ANCHOR_LEN];
  size_t alen = 0;
  mapping m;
  memset(rep, 0, sizeof *rep);
  if (path_in(lpath, data_dir, "audit.log") || path_in(apath, data_dir, "audit.anchor"))
    return bad(rep, LOOM_ERANGE, 0, 0, "data directory path too long");
  /* the anchor first: a concurrent append writes the log before the anchor */
  int arc = read_small(apath, anchor, sizeof anchor, &alen);
  if (arc && arc != LOOM_ENOTFOUND)
    return bad(rep, arc, 0, 0, "cannot read %s: %s", apath, loom_strerror(arc));
  int fd = open(lpath, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int rc = loom_from_errno(errno);
    if (rc != LOOM_ENOTFOUND) return bad(rep, rc, 0, 0, "cannot open %s: %s", lpath, strerror(errno));
    if (!arc) return bad(rep, LOOM_ECORRUPT, 1, 0, "%s is missing but %s exists", lpath, apath);
    snprintf(rep->reason, sizeof rep->reason, "no audit log in %s", data_dir);
    return LOOM_ENOTFOUND;
  }
  int rc = map_fd(fd, &m);
  close(fd);
  if (rc) return bad(rep, rc, 0, 0, "cannot map %s: %s", lpath, loom_strerror(rc));
  rc = sec_audit_verify_image(key, m.p, m.len, arc ? NULL : anchor, alen, rep);
  unmap(&m);
  return rc;
}

int sec_audit_verify(const char *data_dir, sec_audit_report *rep) {
  uint8_t key[SEC_AUDIT_KEY_LEN];
  memset(rep, 0, sizeof *rep);
  int rc = sec_audit_key_load(data_dir, false, key, rep->reason, sizeof rep->reason);
  if (rc == LOOM_ENOTFOUND) {
    /* no key: say "no audit log" when there is nothing else either */
    char lpath[PATH_CAP], apath[PATH_CAP];
    if (!path_in(lpath, data_dir, "audit.log") && !path_in(apath, data_dir, "audit.anchor") &&
        access(lpath, F_OK) && access(apath, F_OK))
      snprintf(rep->reason, sizeof rep->reason, "no audit log in %s", data_dir);
  }
  if (rc) return rc;
  rc = sec_audit_verify_key(data_dir, key, rep);
  sodium_memzero(key, sizeof key);
  return rc;
}

/* ---------------------------------------------------------------- handle */

struct sec_audit {
  pthread_mutex_t mu;
  uint8_t key[SEC_AUDIT_KEY_LEN];
  int fd;                 /* audit.log: O_RDWR | O_APPEND, flock'd */
  char dir[PATH_CAP];
  char anchor_path[PATH_CAP];
  uint64_t size;          /* bytes of the log (all verified) */
  uint64_t last_seq;
  uint8_t last_mac[SEC_AUDIT_MAC_LEN];
  uint64_t anchored_seq;  /* what the anchor file says */
  bool readonly;          /* a failed append could not be rolled back */
  uint64_t *index;        /* index[k]: offset of record k * INDEX_EVERY + 1 */
  size_t n_index, cap_index;
  int index_rc;           /* LOOM_ENOMEM if the open walk could not grow the index */
};

static int index_reserve(sec_audit *a, size_t want) {
  if (want <= a->cap_index) return 0;
  size_t cap = a->cap_index ? a->cap_index * 2 : 64;
  while (cap < want) cap *= 2;
  uint64_t *p = loom_realloc(a->index, cap * sizeof *p);
  if (!p) return LOOM_ENOMEM;
  a->index = p;
  a->cap_index = cap;
  return 0;
}

static void index_cb(void *arg, uint64_t seq, uint64_t offset) {
  sec_audit *a = arg;
  if ((seq - 1) % INDEX_EVERY || a->index_rc) return;
  if ((a->index_rc = index_reserve(a, a->n_index + 1))) return;
  a->index[a->n_index++] = offset;
}

static int write_anchor(sec_audit *a) {
  uint8_t buf[SEC_AUDIT_ANCHOR_LEN];
  sec_audit_anchor_encode(a->key, a->last_seq, a->last_seq ? a->last_mac : NULL, buf);
  int rc = loom_write_file_atomic(a->anchor_path, buf, sizeof buf, 0600);
  if (!rc) a->anchored_seq = a->last_seq;
  return rc;
}

/* A new log: the header, fsynced, then an anchor for "no records". */
static int create_log(sec_audit *a, const char *lpath, char *err, size_t errlen) {
  uint8_t hdr[SEC_AUDIT_HEADER_LEN];
  int rc;
  sec_audit_header_encode(a->key, hdr);
  a->fd = open(lpath, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (a->fd < 0) {
    rc = errno == EEXIST ? LOOM_EAGAIN : loom_from_errno(errno);
    snprintf(err, errlen, "cannot create %s: %s", lpath, strerror(errno));
    return rc;
  }
  if (flock(a->fd, LOCK_EX | LOCK_NB)) {
    snprintf(err, errlen, "%s is in use by another process", lpath);
    return LOOM_EAGAIN;
  }
  if ((rc = write_all(a->fd, hdr, sizeof hdr)) || (fdatasync(a->fd) && (rc = loom_from_errno(errno))) ||
      (rc = loom_fsync_dir(a->dir)) || (rc = write_anchor(a))) {
    snprintf(err, errlen, "cannot initialise %s: %s", lpath, loom_strerror(rc));
    return rc;
  }
  a->size = sizeof hdr;
  return 0;
}

/* An existing log: verify it, repair an unfinished append, catch the
 * anchor up, build the index. */
static int load_log(sec_audit *a, const char *lpath, sec_audit_report *rep, char *err,
                    size_t errlen) {
  uint8_t anchor[SEC_AUDIT_ANCHOR_LEN];
  size_t alen = 0;
  mapping m;
  int rc;
  if (flock(a->fd, LOCK_EX | LOCK_NB)) {
    snprintf(err, errlen, "%s is in use by another process", lpath);
    return LOOM_EAGAIN;
  }
  int arc = read_small(a->anchor_path, anchor, sizeof anchor, &alen);
  if (arc && arc != LOOM_ENOTFOUND) {
    snprintf(err, errlen, "cannot read %s: %s", a->anchor_path, loom_strerror(arc));
    return arc;
  }
  if ((rc = map_fd(a->fd, &m))) {
    snprintf(err, errlen, "cannot map %s: %s", lpath, loom_strerror(rc));
    return rc;
  }
  /* a crash while the log was being created leaves less than a header */
  uint64_t aseq = 0;
  uint8_t amac[SEC_AUDIT_MAC_LEN];
  if (m.len < SEC_AUDIT_HEADER_LEN &&
      (arc || (!sec_audit_anchor_decode(a->key, anchor, alen, &aseq, amac) && aseq == 0))) {
    uint8_t hdr[SEC_AUDIT_HEADER_LEN];
    unmap(&m);
    sec_audit_header_encode(a->key, hdr);
    if (ftruncate(a->fd, 0) || write_all(a->fd, hdr, sizeof hdr) || fdatasync(a->fd) ||
        write_anchor(a)) {
      snprintf(err, errlen, "cannot initialise %s", lpath);
      return LOOM_EIO;
    }
    memset(rep, 0, sizeof *rep);
    a->size = sizeof hdr;
    return 0;
  }
  rc = walk(a->key, m.p, m.len, arc ? NULL : anchor, alen, rep, index_cb, a);
  unmap(&m);
  if (rc) {
    snprintf(err, errlen, "%s does not verify: %s", lpath, rep->reason);
    return rc;
  }
  if (a->index_rc) {
    snprintf(err, errlen, "out of memory indexing %s", lpath);
    return a->index_rc;
  }
  if (rep->torn_bytes && (ftruncate(a->fd, (off_t)rep->valid_len) || fdatasync(a->fd))) {
    rc = loom_from_errno(errno);
    snprintf(err, errlen, "cannot cut the unfinished append off %s: %s", lpath, strerror(errno));
    return rc;
  }
  a->size = rep->valid_len;
  a->last_seq = rep->last_seq;
  memcpy(a->last_mac, rep->last_mac, SEC_AUDIT_MAC_LEN);
  a->anchored_seq = rep->anchor_seq;
  if ((arc || a->anchored_seq != a->last_seq) && (rc = write_anchor(a))) {
    snprintf(err, errlen, "cannot write %s: %s", a->anchor_path, loom_strerror(rc));
    return rc;
  }
  return 0;
}

int sec_audit_open(const char *data_dir, const uint8_t *key, sec_audit **out,
                   sec_audit_report *rep, char *err, size_t errlen) {
  char lpath[PATH_CAP];
  sec_audit_report local;
  sec_audit *a;
  int rc;
  if (!rep) rep = &local;
  memset(rep, 0, sizeof *rep);
  *out = NULL;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return LOOM_EIO;
  }
  if (!(a = loom_calloc(1, sizeof *a))) {
    snprintf(err, errlen, "out of memory");
    return LOOM_ENOMEM;
  }
  a->fd = -1;
  pthread_mutex_init(&a->mu, NULL);
  if (path_in(a->dir, data_dir, "") || path_in(a->anchor_path, data_dir, "audit.anchor") ||
      path_in(lpath, data_dir, "audit.log")) {
    snprintf(err, errlen, "data directory path too long");
    rc = LOOM_ERANGE;
    goto fail;
  }
  snprintf(a->dir, sizeof a->dir, "%s", data_dir);
  if (key) memcpy(a->key, key, SEC_AUDIT_KEY_LEN);
  else if ((rc = sec_audit_key_load(data_dir, true, a->key, err, errlen))) goto fail;
  if ((rc = loom_mkdir_p(data_dir))) {
    snprintf(err, errlen, "cannot create %s: %s", data_dir, loom_strerror(rc));
    goto fail;
  }
  if ((rc = index_reserve(a, 1))) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  a->index[a->n_index++] = SEC_AUDIT_HEADER_LEN;
  a->fd = open(lpath, O_RDWR | O_APPEND | O_CLOEXEC);
  if (a->fd >= 0) {
    a->n_index = 0; /* the walk indexes record 1 itself */
    rc = load_log(a, lpath, rep, err, errlen);
    if (!rc && a->n_index == 0) a->index[a->n_index++] = SEC_AUDIT_HEADER_LEN;
  } else if (errno != ENOENT) {
    rc = loom_from_errno(errno);
    snprintf(err, errlen, "cannot open %s: %s", lpath, strerror(errno));
  } else {
    /* no log: refuse if an anchor says there were records */
    uint8_t anchor[SEC_AUDIT_ANCHOR_LEN], amac[SEC_AUDIT_MAC_LEN];
    size_t alen = 0;
    uint64_t aseq = 0;
    int arc = read_small(a->anchor_path, anchor, sizeof anchor, &alen);
    if (!arc && (sec_audit_anchor_decode(a->key, anchor, alen, &aseq, amac) || aseq != 0)) {
      bad(rep, LOOM_ECORRUPT, 1, 0, "%s is missing but %s vouches for %llu records", lpath,
          a->anchor_path, (unsigned long long)aseq);
      snprintf(err, errlen, "%s", rep->reason);
      rc = LOOM_ECORRUPT;
    } else {
      rc = create_log(a, lpath, err, errlen);
    }
  }
  if (rc) goto fail;
  *out = a;
  return 0;
fail:
  sec_audit_close(a);
  return rc;
}

void sec_audit_close(sec_audit *a) {
  if (!a) return;
  if (a->fd >= 0) close(a->fd);
  pthread_mutex_destroy(&a->mu);
  loom_free(a->index);
  sodium_memzero(a->key, sizeof a->key);
  loom_free(a);
}

uint64_t sec_audit_last_seq(sec_audit *a) {
  pthread_mutex_lock(&a->mu);
  uint64_t s = a->last_seq;
  pthread_mutex_unlock(&a->mu);
  return s;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sec_audit_append(sec_audit *a, const sec_audit_event *ev, int64_t time_ms, uint64_t *seq) {
  loom_buf payload, rec;
  uint8_t mac[SEC_AUDIT_MAC_LEN];
  int rc;
  loom_buf_init(&payload);
  loom_buf_init(&rec);
  pthread_mutex_lock(&a->mu);
  if (a->readonly) {
    rc = LOOM_EREADONLY;
    goto out;
  }
  uint64_t next = a->last_seq + 1;
  if ((rc = sec_audit_payload_format(&payload, ev))) goto out;
  if ((rc = sec_audit_record_encode(&rec, a->key, next, time_ms ? time_ms : wall_ms(), a->last_mac,
                                    payload.data, payload.len, mac)))
    goto out;
  /* room in the index before anything is written: nothing may fail after */
  if ((next - 1) % INDEX_EVERY == 0 && (rc = index_reserve(a, a->n_index + 1))) goto out;
  rc = write_all(a->fd, rec.data, rec.len);
  if (!rc && fdatasync(a->fd)) rc = loom_from_errno(errno);
  if (rc) {
    /* roll back to the last good end; after a failed fsync the file's state
     * is unknown, so the handle refuses further appends either way */
    if (ftruncate(a->fd, (off_t)a->size) || fdatasync(a->fd) || rc == LOOM_EIO) a->readonly = true;
    goto out;
  }
  if ((next - 1) % INDEX_EVERY == 0 && next > 1) a->index[a->n_index++] = a->size;
  a->size += rec.len;
  a->last_seq = next;
  memcpy(a->last_mac, mac, sizeof mac);
  if (seq) *seq = next;
  rc = write_anchor(a);
out:
  pthread_mutex_unlock(&a->mu);
  loom_buf_deinit(&payload);
  loom_buf_deinit(&rec);
  return rc;
}

static int pread_all(int fd, uint8_t *p, size_t len, uint64_t off) {
  while (len) {
    ssize_t r = pread(fd, p, len, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return loom_from_errno(errno);
    if (r == 0) return LOOM_ECORRUPT; /* the file shrank under us */
    p += r;
    len -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

static bool tenant_matches(const uint8_t *payload, size_t len, const char *tenant) {
  json_t *j = json_loadb((const char *)payload, len, 0, NULL);
  const char *t = j ? json_string_value(json_object_get(j, "tenant")) : NULL;
  bool ok = t && !strcmp(t, tenant);
  json_decref(j);
  return ok;
}

int sec_audit_read(sec_audit *a, uint64_t from_seq, size_t limit, const char *tenant,
                   sec_audit_page *page) {
  loom_buf scratch;
  size_t cap = 0;
  int rc = 0;
  memset(page, 0, sizeof *page);
  loom_buf_init(&page->mem_);
  loom_buf_init(&scratch);
  if (limit < 1 || limit > 1000) return LOOM_EINVAL;
  if (from_seq == 0) from_seq = 1;
  pthread_mutex_lock(&a->mu);
  if (from_seq > a->last_seq) goto out;
  size_t k = (size_t)((from_seq - 1) / INDEX_EVERY);
  uint64_t seq = (uint64_t)k * INDEX_EVERY + 1, off = a->index[k];
  uint8_t prev[SEC_AUDIT_MAC_LEN];
  bool prev_known = seq == 1;
  memset(prev, 0, sizeof prev);
  while (seq <= a->last_seq && page->n < limit) {
    uint8_t head[8];
    sec_audit_view v;
    if ((rc = pread_all(a->fd, head, sizeof head, off))) goto out;
    uint32_t plen = loom_le32(head + 4);
    if (memcmp(head, rec_magic, 4) || plen < 2 || plen > SEC_AUDIT_PAYLOAD_MAX) {
      rc = LOOM_ECORRUPT;
      goto out;
    }
    loom_buf_reset(&scratch);
    if ((rc = loom_buf_reserve(&scratch, SEC_AUDIT_REC_OVERHEAD + plen))) goto out;
    if ((rc = pread_all(a->fd, scratch.data, SEC_AUDIT_REC_OVERHEAD + plen, off))) goto out;
    if (sec_audit_record_decode(scratch.data, SEC_AUDIT_REC_OVERHEAD + plen, &v) ||
        !sec_audit_record_mac_ok(a->key, scratch.data, &v) || v.seq != seq ||
        (prev_known && sodium_memcmp(prev, v.prev_mac, SEC_AUDIT_MAC_LEN))) {
      rc = LOOM_ECORRUPT;
      goto out;
    }
    if (seq >= from_seq && (!tenant || tenant_matches(v.payload, v.payload_len, tenant))) {
      if (page->n == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        if (ncap > limit) ncap = limit;
        sec_audit_record *r = loom_realloc(page->records, ncap * sizeof *r);
        if (!r) {
          rc = LOOM_ENOMEM;
          goto out;
        }
        page->records = r;
        cap = ncap;
      }
      sec_audit_record *r = &page->records[page->n];
      r->seq = v.seq;
      r->time_ms = v.time_ms;
      r->payload = (const char *)(uintptr_t)page->mem_.len; /* an offset until the end */
      r->payload_len = v.payload_len;
      if ((rc = loom_buf_append(&page->mem_, v.payload, v.payload_len)) ||
          (rc = loom_buf_append_u8(&page->mem_, 0)))
        goto out;
      page->n++;
    }
    memcpy(prev, v.mac, SEC_AUDIT_MAC_LEN);
    prev_known = true;
    off += v.size;
    seq++;
  }
  page->next_seq = seq <= a->last_seq ? seq : 0;
  for (size_t i = 0; i < page->n; i++)
    page->records[i].payload = (const char *)page->mem_.data + (uintptr_t)page->records[i].payload;
out:
  pthread_mutex_unlock(&a->mu);
  loom_buf_deinit(&scratch);
  if (rc) page->n = 0;
  return rc;
}

void sec_audit_page_deinit(sec_audit_page *page) {
  loom_free(page->records);
  loom_buf_deinit(&page->mem_);
  memset(page, 0, sizeof *page);
}
