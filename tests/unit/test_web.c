/* SPDX-License-Identifier: Apache-2.0
 * Unit tests for api/web: the pure decisions (path safety and mapping,
 * Content-Type, ETag format and If-None-Match, gzip negotiation, table
 * look-up), the embedded table the build generated, and the handler on
 * detached requests (--web-dir served from a temporary directory, and the
 * embedded copy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "api/api.h"
#include "api/web.h"
#include "core/err.h"
#include "http/server.h"

/* ---- path safety ---- */

static void test_path_ok_accepts_plain_paths(void **state) {
  (void)state;
  assert_true(web_path_ok("index.html"));
  assert_true(web_path_ok("js/pages/explorer/query.js"));
  assert_true(web_path_ok("i18n/zh-CN/core.json"));
  assert_true(web_path_ok("node_modules/uplot/dist/uPlot.iife.min.js"));
  assert_true(web_path_ok("a..b"));
}

static void test_path_ok_rejects_traversal_and_dots(void **state) {
  (void)state;
  assert_false(web_path_ok(".."));
  assert_false(web_path_ok("../Makefile"));
  assert_false(web_path_ok("js/../../etc/passwd"));
  assert_false(web_path_ok("js/.."));
  assert_false(web_path_ok("./index.html"));
  assert_false(web_path_ok(".git/config"));
  assert_false(web_path_ok("js/.hidden.js"));
}

static void test_path_ok_rejects_empty_segments(void **state) {
  (void)state;
  assert_false(web_path_ok(""));
  assert_false(web_path_ok(NULL));
  assert_false(web_path_ok("/etc/passwd"));
  assert_false(web_path_ok("js//app.js"));
  assert_false(web_path_ok("js/"));
}

static void test_path_ok_rejects_other_characters(void **state) {
  (void)state;
  assert_false(web_path_ok("js\\app.js"));
  assert_false(web_path_ok("js/app.js~"));
  assert_false(web_path_ok("a b.js"));
  assert_false(web_path_ok("a%2e.js"));
  assert_false(web_path_ok("a:b"));
  assert_false(web_path_ok("\xe4\xb8\xad.js"));
  char longp[WEB_PATH_MAX + 8];
  memset(longp, 'a', sizeof longp - 1);
  longp[sizeof longp - 1] = 0;
  assert_false(web_path_ok(longp));
  longp[WEB_PATH_MAX - 2] = 0; /* WEB_PATH_MAX - 2 characters: fits */
  assert_true(web_path_ok(longp));
}

/* ---- mapping ---- */

static void test_map_root_and_index(void **state) {
  (void)state;
  char rel[WEB_PATH_MAX];
  assert_int_equal(web_map_path("/", rel, sizeof rel), 0);
  assert_string_equal(rel, "index.html");
  assert_int_equal(web_map_path("/index.html", rel, sizeof rel), 0);
  assert_string_equal(rel, "index.html");
  assert_int_equal(web_map_path("/ui/index.html", rel, sizeof rel), 0);
  assert_string_equal(rel, "index.html");
}

static void test_map_ui_and_vendor(void **state) {
  (void)state;
  char rel[WEB_PATH_MAX];
  assert_int_equal(web_map_path("/ui/js/app.js", rel, sizeof rel), 0);
  assert_string_equal(rel, "js/app.js");
  assert_int_equal(web_map_path("/ui/vendor/uPlot.min.css", rel, sizeof rel), 0);
  assert_string_equal(rel, "node_modules/uplot/dist/uPlot.min.css");
}

static void test_map_refuses_other_and_unsafe_paths(void **state) {
  (void)state;
  char rel[WEB_PATH_MAX];
  const char *bad[] = {"/ui",          "/ui/",          "/ui/../Makefile", "/ui/js/../../x",
                       "/ui//etc",     "/api/v1/users", "/index.htm",      "/ui/vendor/",
                       "/ui/vendor/a/b.js", "/ui/vendor/../package.json", "//ui/x", "",
                       "/ui/node_modules/../../x", "/ui/node_modules/uplot/package.json",
                       "/ui/node_modules", "/ui/package.json", "/ui/package-lock.json"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(web_map_path(bad[i], rel, sizeof rel), LOOM_ENOTFOUND);
  assert_int_equal(web_map_path(NULL, rel, sizeof rel), LOOM_ENOTFOUND);
}

static void test_map_small_buffer_is_erange(void **state) {
  (void)state;
  char rel[8];
  assert_int_equal(web_map_path("/ui/js/app.js", rel, sizeof rel), LOOM_ERANGE);
  assert_int_equal(web_map_path("/ui/a.js", rel, sizeof rel), 0);
  assert_string_equal(rel, "a.js");
}

/* ---- content types ---- */

static void test_content_types_by_extension(void **state) {
  (void)state;
  assert_string_equal(web_content_type("index.html"), "text/html; charset=utf-8");
  assert_string_equal(web_content_type("js/app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(web_content_type("APP.JS"), "text/javascript; charset=utf-8");
  assert_string_equal(web_content_type("css/app.css"), "text/css; charset=utf-8");
  assert_string_equal(web_content_type("i18n/en/core.json"), "application/json; charset=utf-8");
  assert_string_equal(web_content_type("logo.svg"), "image/svg+xml");
  assert_string_equal(web_content_type("a.png"), "image/png");
  assert_string_equal(web_content_type("favicon.ico"), "image/x-icon");
  assert_string_equal(web_content_type("f.woff2"), "font/woff2");
  assert_string_equal(web_content_type("LICENSE.txt"), "text/plain; charset=utf-8");
}

static void test_content_type_unknown_is_octet_stream(void **state) {
  (void)state;
  assert_string_equal(web_content_type("Makefile"), "application/octet-stream");
  assert_string_equal(web_content_type("a.exe"), "application/octet-stream");
  assert_string_equal(web_content_type("dir.js/file"), "application/octet-stream");
  assert_string_equal(web_content_type("js."), "application/octet-stream");
  assert_string_equal(web_content_type(NULL), "application/octet-stream");
}

/* ---- ETags ---- */

static void test_etag_is_quoted_xxh64_hex(void **state) {
  (void)state;
  char a[WEB_ETAG_LEN], b[WEB_ETAG_LEN], c[WEB_ETAG_LEN];
  web_etag_format("hello", 5, a);
  web_etag_format("hello", 5, b);
  web_etag_format("hellp", 5, c);
  assert_int_equal(strlen(a), 18);
  assert_int_equal(a[0], '"');
  assert_int_equal(a[17], '"');
  assert_int_equal(strspn(a + 1, "0123456789abcdef"), 16);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  /* XXH64("", seed 0) is the published ef46db3751d8e999 */
  web_etag_format(NULL, 0, a);
  assert_string_equal(a, "\"ef46db3751d8e999\"");
}

static void test_etag_match_exact_list_weak_and_star(void **state) {
  (void)state;
  const char *tag = "\"0123456789abcdef\"";
  assert_true(web_etag_match("\"0123456789abcdef\"", tag));
  assert_true(web_etag_match("\"x\", \"0123456789abcdef\"", tag));
  assert_true(web_etag_match("W/\"0123456789abcdef\"", tag));
  assert_true(web_etag_match("*", tag));
  assert_true(web_etag_match(" \t\"y\",W/\"0123456789abcdef\" ", tag));
}

static void test_etag_mismatch_and_malformed(void **state) {
  (void)state;
  const char *tag = "\"0123456789abcdef\"";
  assert_false(web_etag_match(NULL, tag));
  assert_false(web_etag_match("", tag));
  assert_false(web_etag_match("\"0123456789abcdee\"", tag));
  assert_false(web_etag_match("0123456789abcdef", tag));  /* unquoted */
  assert_false(web_etag_match("\"0123456789abcdef", tag)); /* unterminated */
  assert_false(web_etag_match("\"0123456789abcdef\"x", "\"0123456789abcdef\"x\""));
  assert_false(web_etag_match("W/", tag));
  assert_false(web_etag_match("garbage, more", tag));
}

/* ---- gzip negotiation ---- */

static void test_gzip_accepted(void **state) {
  (void)state;
  assert_true(web_accepts_gzip("gzip"));
  assert_true(web_accepts_gzip("gzip, deflate, br, zstd"));
  assert_true(web_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  assert_true(web_accepts_gzip("x-gzip"));
  assert_true(web_accepts_gzip("*"));
  assert_true(web_accepts_gzip("gzip;q=0.001"));
  assert_true(web_accepts_gzip("gzip ; q=1"));
}

static void test_gzip_refused(void **state) {
  (void)state;
  assert_false(web_accepts_gzip(NULL));
  assert_false(web_accepts_gzip(""));
  assert_false(web_accepts_gzip("identity"));
  assert_false(web_accepts_gzip("deflate, br"));
  assert_false(web_accepts_gzip("gzip;q=0"));
  assert_false(web_accepts_gzip("gzip;q=0.000"));
  assert_false(web_accepts_gzip("*;q=0"));
  assert_false(web_accepts_gzip("*, gzip;q=0"));
  assert_false(web_accepts_gzip("gzipx, xgzip"));
}

/* ---- tables ---- */

static const unsigned char hi[] = "hi";
static const web_asset small[] = {
    {"/ui/a.js", "text/javascript; charset=utf-8", hi, 2, NULL, 0, "\"1\""},
    {"/ui/index.html", "text/html; charset=utf-8", hi, 2, NULL, 0, "\"2\""},
    {"/ui/js/x.js", "text/javascript; charset=utf-8", hi, 2, NULL, 0, "\"3\""},
    {"/ui/vendor/uPlot.min.css", "text/css; charset=utf-8", hi, 2, NULL, 0, "\"4\""},
};

static void test_find_bisects_the_sorted_table(void **state) {
  (void)state;
  size_t n = sizeof small / sizeof small[0];
  for (size_t i = 0; i < n; i++) assert_ptr_equal(web_asset_find(small, n, small[i].path), &small[i]);
  assert_ptr_equal(web_asset_find(small, n, "/"), &small[1]);
  assert_ptr_equal(web_asset_find(small, n, "/index.html"), &small[1]);
  assert_null(web_asset_find(small, n, "/ui/b.js"));
  assert_null(web_asset_find(small, n, "/ui/"));
  assert_null(web_asset_find(small, n, "/zzz"));
  assert_null(web_asset_find(small, 0, "/ui/a.js"));
  assert_null(web_asset_find(NULL, 0, "/ui/a.js"));
}

static int gunzip(const unsigned char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 15 + 16) != Z_OK) return -1;
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = inflate(&z, Z_FINISH);
  *outlen = z.total_out;
  inflateEnd(&z);
  return rc == Z_STREAM_END ? 0 : -1;
}

/* The table the build generated from web/: sorted, typed as the server
 * types, tagged with the bytes' XXH64, gzip copies that inflate back to the
 * bytes and are smaller, and the files the console needs. */
static void test_embedded_table_is_consistent(void **state) {
  (void)state;
  assert_true(web_assets_n >= 3);
  for (size_t i = 0; i < web_assets_n; i++) {
    const web_asset *a = &web_assets[i];
    if (i) assert_true(strcmp(web_assets[i - 1].path, a->path) < 0);
    char rel[WEB_PATH_MAX], tag[WEB_ETAG_LEN];
    assert_int_equal(web_map_path(a->path, rel, sizeof rel), 0);
    assert_string_equal(a->type, web_content_type(a->path));
    web_etag_format(a->data, a->len, tag);
    assert_string_equal(a->etag, tag);
    assert_ptr_equal(web_asset_find(web_assets, web_assets_n, a->path), a);
    if (a->gz) {
      assert_true(a->gzlen < a->len);
      unsigned char *buf = malloc(a->len + 1);
      size_t n = 0;
      assert_int_equal(gunzip(a->gz, a->gzlen, buf, a->len + 1, &n), 0);
      assert_int_equal(n, a->len);
      assert_memory_equal(buf, a->data, a->len);
      free(buf);
    } else {
      assert_int_equal(a->gzlen, 0);
    }
  }
  assert_non_null(web_asset_find(web_assets, web_assets_n, "/"));
  assert_non_null(web_asset_find(web_assets, web_assets_n, "/ui/vendor/uPlot.iife.min.js"));
  assert_non_null(web_asset_find(web_assets, web_assets_n, "/ui/vendor/uPlot.min.css"));
}

/* ---- the handler on detached requests ---- */

typedef struct answer {
  int status;
  char head[2048];
  char body[4096];
  size_t body_len;
} answer;

static void call(loom_api *api, const char *raw, answer *a) {
  http_req *req = NULL;
  assert_int_equal(http_req_from_bytes(raw, strlen(raw), &req), 0);
  api_web(req, api);
  size_t len;
  const char *out = (const char *)http_req_output(req, &len);
  assert_non_null(out);
  memset(a, 0, sizeof *a);
  sscanf(out, "HTTP/1.%*d %d", &a->status);
  const char *b = strstr(out, "\r\n\r\n");
  assert_non_null(b);
  snprintf(a->head, sizeof a->head, "%.*s", (int)(b - out), out);
  a->body_len = len - (size_t)(b + 4 - out);
  assert_true(a->body_len < sizeof a->body);
  memcpy(a->body, b + 4, a->body_len);
  http_req_free(req);
}

/* Value of header name (case as sent) in a->head, "" if absent. */
static const char *header(const answer *a, const char *name, char *buf, size_t cap) {
  char key[128];
  snprintf(key, sizeof key, "\r\n%s: ", name);
  const char *p = strstr(a->head, key);
  if (!p) return "";
  p += strlen(key);
  snprintf(buf, cap, "%.*s", (int)strcspn(p, "\r"), p);
  return buf;
}

typedef struct dirfx {
  char dir[64];
  loom_api api;
} dirfx;

static void put(const char *dir, const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int dir_setup(void **state) {
  dirfx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/web-test-XXXXXX");
  if (!f || !mkdtemp(f->dir)) return -1;
  char p[128];
  snprintf(p, sizeof p, "%s/js", f->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/node_modules", f->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/node_modules/uplot", f->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/node_modules/uplot/dist", f->dir);
  mkdir(p, 0755);
  put(f->dir, "index.html", "<!doctype html><title>t</title>");
  put(f->dir, "js/app.js", "export const x = 1;\n");
  put(f->dir, "node_modules/uplot/dist/uPlot.min.css", ".u{}");
  f->api.web_dir = f->dir;
  *state = f;
  return 0;
}

static int dir_teardown(void **state) {
  dirfx *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  int rc = system(cmd);
  free(f);
  return rc ? -1 : 0;
}

static void test_dir_serves_files_with_security_headers(void **state) {
  dirfx *f = *state;
  answer a;
  char v[512];
  call(&f->api, "GET /ui/js/app.js HTTP/1.1\r\nHost: x\r\n\r\n", &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, "export const x = 1;\n");
  assert_string_equal(header(&a, "Content-Type", v, sizeof v), "text/javascript; charset=utf-8");
  assert_string_equal(header(&a, "X-Content-Type-Options", v, sizeof v), "nosniff");
  assert_string_equal(header(&a, "Referrer-Policy", v, sizeof v), "no-referrer");
  assert_string_equal(header(&a, "Cache-Control", v, sizeof v), "no-cache");
  assert_non_null(strstr(header(&a, "Content-Security-Policy", v, sizeof v), "default-src 'self'"));
  assert_non_null(strstr(v, "frame-ancestors 'none'"));
  char tag[WEB_ETAG_LEN];
  web_etag_format("export const x = 1;\n", 20, tag);
  assert_string_equal(header(&a, "ETag", v, sizeof v), tag);
}

static void test_dir_root_and_vendor(void **state) {
  dirfx *f = *state;
  answer a;
  call(&f->api, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, "<!doctype html><title>t</title>");
  call(&f->api, "GET /ui/vendor/uPlot.min.css HTTP/1.1\r\nHost: x\r\n\r\n", &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, ".u{}");
}

static void test_dir_if_none_match_is_304(void **state) {
  dirfx *f = *state;
  answer a;
  char raw[256], tag[WEB_ETAG_LEN];
  web_etag_format("export const x = 1;\n", 20, tag);
  snprintf(raw, sizeof raw, "GET /ui/js/app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", tag);
  call(&f->api, raw, &a);
  assert_int_equal(a.status, 304);
  assert_int_equal(a.body_len, 0);
  call(&f->api, "GET /ui/js/app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n", &a);
  assert_int_equal(a.status, 200);
}

static void test_dir_edit_is_served_without_restart(void **state) {
  dirfx *f = *state;
  answer a;
  put(f->dir, "js/app.js", "export const x = 2;\n");
  call(&f->api, "GET /ui/js/app.js HTTP/1.1\r\nHost: x\r\n\r\n", &a);
  assert_string_equal(a.body, "export const x = 2;\n");
}

static void test_dir_missing_unsafe_and_directories_are_404(void **state) {
  dirfx *f = *state;
  answer a;
  const char *raws[] = {"GET /ui/nope.js HTTP/1.1\r\nHost: x\r\n\r\n",
                        "GET /ui/js HTTP/1.1\r\nHost: x\r\n\r\n",
                        "GET /ui/../index.html HTTP/1.1\r\nHost: x\r\n\r\n",
                        "GET /ui/%2e%2e/index.html HTTP/1.1\r\nHost: x\r\n\r\n",
                        "GET /ui/js%2f..%2f..%2fetc HTTP/1.1\r\nHost: x\r\n\r\n",
                        "GET /ui/a%5cb HTTP/1.1\r\nHost: x\r\n\r\n"};
  for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
    call(&f->api, raws[i], &a);
    assert_int_equal(a.status, 404);
    assert_non_null(strstr(a.body, "not found"));
  }
}

static void test_embedded_gzip_only_when_accepted(void **state) {
  (void)state;
  loom_api api;
  memset(&api, 0, sizeof api);
  const web_asset *big = NULL;
  for (size_t i = 0; i < web_assets_n && !big; i++)
    if (web_assets[i].gz && web_assets[i].len < 3000) big = &web_assets[i];
  if (!big) skip();
  char raw[600], v[128];
  answer a;
  snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n", big->path);
  call(&api, raw, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(header(&a, "Content-Encoding", v, sizeof v), "gzip");
  assert_string_equal(header(&a, "Vary", v, sizeof v), "Accept-Encoding");
  assert_int_equal(a.body_len, big->gzlen);
  assert_memory_equal(a.body, big->gz, big->gzlen);
  /* the gzip representation has its own strong tag */
  char gztag[WEB_ETAG_LEN + 3];
  snprintf(gztag, sizeof gztag, "%.17s-gz\"", big->etag);
  assert_string_equal(header(&a, "ETag", v, sizeof v), gztag);
  snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: %s\r\n\r\n",
           big->path, gztag);
  call(&api, raw, &a);
  assert_int_equal(a.status, 304);
  snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", big->path, gztag);
  call(&api, raw, &a);
  assert_int_equal(a.status, 200); /* the identity copy is another representation */
  snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", big->path);
  call(&api, raw, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(header(&a, "Content-Encoding", v, sizeof v), "");
  assert_string_equal(header(&a, "Vary", v, sizeof v), "Accept-Encoding");
  assert_int_equal(a.body_len, big->len);
  assert_memory_equal(a.body, big->data, big->len);
  assert_string_equal(header(&a, "ETag", v, sizeof v), big->etag);
}

static void test_embedded_head_has_no_body(void **state) {
  (void)state;
  loom_api api;
  memset(&api, 0, sizeof api);
  answer a;
  char v[64];
  call(&api, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", &a);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.body_len, 0);
  const web_asset *idx = web_asset_find(web_assets, web_assets_n, "/");
  assert_non_null(idx);
  snprintf(v, sizeof v, "%zu", idx->len);
  char got[64];
  assert_string_equal(header(&a, "Content-Length", got, sizeof got), v);
  assert_string_equal(header(&a, "ETag", got, sizeof got), idx->etag);
}

static void test_embedded_unknown_is_404(void **state) {
  (void)state;
  loom_api api;
  memset(&api, 0, sizeof api);
  answer a;
  call(&api, "GET /ui/no/such/file.js HTTP/1.1\r\nHost: x\r\n\r\n", &a);
  assert_int_equal(a.status, 404);
  assert_non_null(strstr(a.body, "{\"error\":\"not found\"}"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_ok_accepts_plain_paths),
      cmocka_unit_test(test_path_ok_rejects_traversal_and_dots),
      cmocka_unit_test(test_path_ok_rejects_empty_segments),
      cmocka_unit_test(test_path_ok_rejects_other_characters),
      cmocka_unit_test(test_map_root_and_index),
      cmocka_unit_test(test_map_ui_and_vendor),
      cmocka_unit_test(test_map_refuses_other_and_unsafe_paths),
      cmocka_unit_test(test_map_small_buffer_is_erange),
      cmocka_unit_test(test_content_types_by_extension),
      cmocka_unit_test(test_content_type_unknown_is_octet_stream),
      cmocka_unit_test(test_etag_is_quoted_xxh64_hex),
      cmocka_unit_test(test_etag_match_exact_list_weak_and_star),
      cmocka_unit_test(test_etag_mismatch_and_malformed),
      cmocka_unit_test(test_gzip_accepted),
      cmocka_unit_test(test_gzip_refused),
      cmocka_unit_test(test_find_bisects_the_sorted_table),
      cmocka_unit_test(test_embedded_table_is_consistent),
      cmocka_unit_test_setup_teardown(test_dir_serves_files_with_security_headers, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_dir_root_and_vendor, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_dir_if_none_match_is_304, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_dir_edit_is_served_without_restart, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_dir_missing_unsafe_and_directories_are_404, dir_setup, dir_teardown),
      cmocka_unit_test(test_embedded_gzip_only_when_accepted),
      cmocka_unit_test(test_embedded_head_has_no_body),
      cmocka_unit_test(test_embedded_unknown_is_404),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
