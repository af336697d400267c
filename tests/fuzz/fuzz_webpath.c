/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target for the web console's path check and header parsers
 * (api/web.h). The input, cut at its first NUL, is a request path: when
 * web_map_path accepts it, the file it names must stay inside the web root
 * (safe characters only, no empty, "." or ".." segment, no hidden name) and
 * the mapping must be a pure function of the path. The same bytes also go
 * through If-None-Match and Accept-Encoding parsing and the table look-up,
 * which must not crash and must agree with simple invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/web.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file must stay inside the root: every segment non-empty, not starting
 * with a dot, made of safe characters only. */
static void check_rel(const char *rel) {
  size_t n = strlen(rel);
  if (!n || n >= WEB_PATH_MAX || rel[0] == '/' || rel[n - 1] == '/') abort();
  for (size_t i = 0; i < n; i++) {
    char c = rel[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok) abort();
    int seg_start = i == 0 || rel[i - 1] == '/';
    if (seg_start && (c == '.' || c == '/')) abort();
  }
}

static const unsigned char bytes[] = "x";
static const web_asset table[] = {
    {"/ui/a.js", "text/javascript; charset=utf-8", bytes, 1, NULL, 0, "\"1\""},
    {"/ui/index.html", "text/html; charset=utf-8", bytes, 1, NULL, 0, "\"2\""},
    {"/ui/vendor/uPlot.min.css", "text/css; charset=utf-8", bytes, 1, NULL, 0, "\"3\""},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = malloc(size + 1);
  if (!path) return 0;
  memcpy(path, data, size);
  path[size] = 0;

  char rel[WEB_PATH_MAX], again[WEB_PATH_MAX], small[16];
  int rc = web_map_path(path, rel, sizeof rel);
  if (rc != 0 && rc != LOOM_ENOTFOUND) abort();
  if (rc == 0) {
    check_rel(rel);
    if (web_map_path(path, again, sizeof again) || strcmp(rel, again)) abort();
    int rs = web_map_path(path, small, sizeof small);
    if (rs == 0 ? strcmp(small, rel) != 0 : (rs != LOOM_ERANGE || strlen(rel) < sizeof small)) abort();
    if (!web_content_type(rel)) abort();
  }
  if (web_path_ok(path)) check_rel(path);

  const web_asset *a = web_asset_find(table, sizeof table / sizeof table[0], path);
  if (a && strcmp(a->path, path) && strcmp(path, "/") && strcmp(path, "/index.html")) abort();

  char tag[WEB_ETAG_LEN];
  web_etag_format(data, size, tag);
  if (strlen(tag) != WEB_ETAG_LEN - 1) abort();
  if (!web_etag_match(tag, tag)) abort(); /* a tag always matches itself */
  (void)web_etag_match(path, tag);
  (void)web_accepts_gzip(path);
  free(path);
  return 0;
}
