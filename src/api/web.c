/* SPDX-License-Identifier: Apache-2.0
 * The web console's static files (see web.h): pure decisions first (path
 * safety and mapping, Content-Type, ETag matching, gzip negotiation, table
 * look-up), then the handler behind the public routes `/`, `/index.html`
 * and `/ui/...`, which serves either the --web-dir directory (read on every
 * request: edit and reload) or the table embedded at build time.
 */
#include "api/web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "api/api.h"
#include "core/err.h"
#include "core/mem.h"

/* ---- pure decisions ---- */

static bool safe_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '.' || ch == '_' || ch == '-' || ch == '/';
}

bool web_path_ok(const char *rel) {
  if (!rel || !*rel) return false;
  size_t n = 0;
  for (const char *p = rel; *p; p++, n++) {
    if (n + 1 >= WEB_PATH_MAX || !safe_char(*p)) return false;
    bool seg_start = p == rel || p[-1] == '/';
    if (*p == '/' && seg_start) return false; /* leading "/" or "//" */
    if (*p == '.' && seg_start) return false; /* ".", "..", hidden files */
  }
  return rel[n - 1] != '/';
}

int web_map_path(const char *url_path, char *rel, size_t cap) {
  static const char vendor_dir[] = "node_modules/uplot/dist/";
  const char *prefix = "", *rest;
  if (!url_path) return LOOM_ENOTFOUND;
  if (!strcmp(url_path, "/") || !strcmp(url_path, "/index.html")) {
    rest = "index.html";
  } else if (!strncmp(url_path, "/ui/vendor/", 11)) {
    rest = url_path + 11;
    if (strchr(rest, '/')) return LOOM_ENOTFOUND; /* one plain file name */
    prefix = vendor_dir;
  } else if (!strncmp(url_path, "/ui/", 4)) {
    rest = url_path + 4;
    /* what the build does not embed is not served from --web-dir either */
    if (!strncmp(rest, "node_modules/", 13) || !strcmp(rest, "node_modules") ||
        !strcmp(rest, "package.json") || !strcmp(rest, "package-lock.json"))
      return LOOM_ENOTFOUND;
  } else {
    return LOOM_ENOTFOUND;
  }
  if (!web_path_ok(rest)) return LOOM_ENOTFOUND;
  size_t lp = strlen(prefix), lr = strlen(rest);
  if (lp + lr + 1 > WEB_PATH_MAX) return LOOM_ENOTFOUND;
  if (lp + lr + 1 > cap) return LOOM_ERANGE;
  memcpy(rel, prefix, lp);
  memcpy(rel + lp, rest, lr + 1);
  return 0;
}

const char *web_content_type(const char *name) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json; charset=utf-8"},
      {"map", "application/json; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/x-icon"},
      {"woff2", "font/woff2"},
      {"txt", "text/plain; charset=utf-8"},
  };
  const char *dot = name ? strrchr(name, '.') : NULL;
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (!strcasecmp(dot + 1, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

void web_etag_format(const void *data, size_t len, char out[WEB_ETAG_LEN]) {
  XXH64_hash_t h = XXH64(len ? data : "", len, 0);
  snprintf(out, WEB_ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
}

bool web_etag_match(const char *inm, const char *etag) {
  if (!inm || !etag) return false;
  size_t el = strlen(etag);
  const char *p = inm;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) return false;
    if (*p == '*') return true;
    if (p[0] == 'W' && p[1] == '/') p += 2;
    const char *start = p;
    if (*p == '"') {
      const char *close = strchr(p + 1, '"');
      if (!close) return false;
      p = close + 1;
    } else {
      while (*p && *p != ',' && *p != ' ' && *p != '\t') p++; /* malformed: skip it */
      continue;
    }
    if ((size_t)(p - start) == el && !memcmp(start, etag, el)) return true;
  }
}

/* The q-value of one Accept-Encoding element's parameters ("; q=0.5"):
 * false when it is zero. */
static bool q_nonzero(const char *params, size_t len) {
  for (size_t i = 0; i + 1 < len; i++) {
    if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=' &&
        (i == 0 || params[i - 1] == ';' || params[i - 1] == ' ' || params[i - 1] == '\t')) {
      size_t k = i + 2;
      if (k < len && params[k] == '0') {
        for (k++; k < len && (params[k] == '.' || params[k] == '0'); k++) {}
        return k < len && params[k] >= '1' && params[k] <= '9';
      }
      return true;
    }
  }
  return true;
}

bool web_accepts_gzip(const char *ae) {
  if (!ae) return false;
  int gzip = -1, star = -1; /* -1 unmentioned, 0 refused, 1 accepted */
  const char *p = ae;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    const char *tok = p;
    while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
    size_t tl = (size_t)(p - tok);
    const char *params = p;
    while (*p && *p != ',') p++;
    bool ok = q_nonzero(params, (size_t)(p - params));
    if ((tl == 4 && !strncasecmp(tok, "gzip", 4)) || (tl == 6 && !strncasecmp(tok, "x-gzip", 6)))
      gzip = ok;
    else if (tl == 1 && *tok == '*')
      star = ok;
  }
  return gzip >= 0 ? gzip == 1 : star == 1;
}

const web_asset *web_asset_find(const web_asset *table, size_t n, const char *url_path) {
  if (!table || !url_path) return NULL;
  if (!strcmp(url_path, "/") || !strcmp(url_path, "/index.html")) url_path = "/ui/index.html";
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(url_path, table[mid].path);
    if (!c) return &table[mid];
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}

/* ---- serving ---- */

static void not_found(http_req *req) { http_respond_error(req, 404, "not found"); }

/* The headers every console response carries. */
static int common_headers(http_req *req, const char *etag) {
  int rc = http_req_add_header(req, "Content-Security-Policy",
                               "default-src 'self'; img-src 'self' data:; style-src 'self' "
                               "'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
  if (!rc) rc = http_req_add_header(req, "X-Content-Type-Options", "nosniff");
  if (!rc) rc = http_req_add_header(req, "Referrer-Policy", "no-referrer");
  if (!rc) rc = http_req_add_header(req, "Cache-Control", "no-cache");
  if (!rc && etag) rc = http_req_add_header(req, "ETag", etag);
  return rc;
}

/* Answer with body (or 304 when the client's copy is current). gz may be
 * NULL; it is sent when the client accepts gzip. The gzip copy is another
 * representation (RFC 9110 8.8.3), so it has its own strong tag: the
 * identity tag with "-gz" before the closing quote; If-None-Match is
 * compared with the tag of the representation this request would get. */
static void send_file(http_req *req, const char *type, const void *body, size_t len,
                      const void *gz, size_t gzlen, const char *etag) {
  char gztag[WEB_ETAG_LEN + 3];
  bool use_gz = gz && web_accepts_gzip(http_req_header(req, "accept-encoding"));
  if (use_gz) {
    size_t n = strlen(etag);
    if (n < 2 || n + 3 >= sizeof gztag) {
      use_gz = false;
    } else {
      memcpy(gztag, etag, n - 1);
      memcpy(gztag + n - 1, "-gz\"", 5);
      etag = gztag;
    }
  }
  if (common_headers(req, etag) || (gz && http_req_add_header(req, "Vary", "Accept-Encoding"))) {
    http_respond_error(req, 503, "out of memory");
    return;
  }
  if (web_etag_match(http_req_header(req, "if-none-match"), etag)) {
    http_respond(req, 304, NULL, NULL, 0);
    return;
  }
  if (use_gz) {
    if (http_req_add_header(req, "Content-Encoding", "gzip")) {
      http_respond_error(req, 503, "out of memory");
      return;
    }
    body = gz;
    len = gzlen;
  }
  if (http_respond(req, 200, type, body, len)) http_respond_error(req, 503, "out of memory");
}

/* Read dir/rel into a new buffer (*out, caller frees with loom_free).
 * 0, LOOM_ENOTFOUND (absent, not a regular file), LOOM_ERANGE (too large),
 * LOOM_EIO, LOOM_ENOMEM. */
static int read_file(const char *dir, const char *rel, uint8_t **out, size_t *len) {
  char path[4096];
  int rc = 0, fd = -1;
  uint8_t *data = NULL;
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >= sizeof path) return LOOM_ENOTFOUND;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? LOOM_ENOTFOUND : LOOM_EIO;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = LOOM_ENOTFOUND;
    goto out;
  }
  if ((uint64_t)st.st_size > WEB_FILE_MAX) {
    rc = LOOM_ERANGE;
    goto out;
  }
  size_t want = (size_t)st.st_size, got = 0;
  if (!(data = loom_malloc(want ? want : 1))) {
    rc = LOOM_ENOMEM;
    goto out;
  }
  while (got < want) {
    ssize_t r = read(fd, data + got, want - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* shrank while reading: serve what is there */
    got += (size_t)r;
  }
  *out = data;
  *len = got;
  data = NULL;
out:
  loom_free(data);
  close(fd);
  return rc;
}

static void serve_dir(http_req *req, const char *dir, const char *rel) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = read_file(dir, rel, &data, &len);
  if (rc == LOOM_ENOTFOUND) {
    not_found(req);
    return;
  }
  if (rc) {
    http_respond_error(req, rc == LOOM_ENOMEM ? 503 : 500, "cannot read the console file");
    return;
  }
  char etag[WEB_ETAG_LEN];
  web_etag_format(data, len, etag);
  send_file(req, web_content_type(rel), data, len, NULL, 0, etag);
  loom_free(data);
}

void api_web(http_req *req, loom_api *api) {
  char rel[WEB_PATH_MAX];
  const char *path = http_req_path(req);
  if (web_map_path(path, rel, sizeof rel)) {
    not_found(req);
    return;
  }
  if (api->web_dir && *api->web_dir) {
    serve_dir(req, api->web_dir, rel);
    return;
  }
  const web_asset *a = web_asset_find(web_assets, web_assets_n, path);
  if (!a) {
    not_found(req);
    return;
  }
  send_file(req, a->type, a->data, a->len, a->gz, a->gzlen, a->etag);
}
