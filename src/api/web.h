/* SPDX-License-Identifier: Apache-2.0
 * The web console's static files: GET/HEAD of `/`, `/index.html` and
 * `/ui/<path>`, served either from a directory on disk (`--web-dir`, for
 * development: edit and reload) or from the copy embedded in the binary at
 * build time (tools/webembed.c writes the table below). The decisions (is a
 * path safe, which file, which Content-Type, does an ETag match, may the
 * body be gzip) are pure functions so they can be tested and fuzzed alone.
 */
#ifndef LOOM_API_WEB_H
#define LOOM_API_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One embedded file. Written by tools/webembed (the generated
 * $(BUILD)/gen/web_assets.c), sorted by `path` in strcmp order so lookups
 * can bisect. All pointers are static data of the binary.
 *   path   the URL path, e.g. "/ui/js/app.js" (index.html: "/ui/index.html")
 *   type   the Content-Type, e.g. "text/javascript; charset=utf-8"
 *   data   the file's bytes, len of them
 *   gz     the same bytes gzip-compressed (level 9), gzlen of them; NULL/0
 *          when compression would not make the file smaller
 *   etag   the strong entity tag with its quotes: "\"<16 hex digits>\"",
 *          XXH64 (seed 0) of data */
typedef struct web_asset {
  const char *path;
  const char *type;
  const unsigned char *data;
  size_t len;
  const unsigned char *gz;
  size_t gzlen;
  const char *etag;
} web_asset;

/* The console embedded at build time: web_assets_n entries sorted by
 * path ($(BUILD)/gen/web_assets.c, written by tools/webembed). */
extern const web_asset web_assets[];
extern const size_t web_assets_n;

/* Longest relative file path web_map_path produces, plus its NUL. */
#define WEB_PATH_MAX 512
/* Entity tag text: a quote, 16 hex digits, a quote, NUL. */
#define WEB_ETAG_LEN 19
/* Largest file served from --web-dir (bytes); larger ones answer 500. */
#define WEB_FILE_MAX ((size_t)32 << 20)

/* Is rel (a path relative to the web root, no leading slash) safe to open?
 * True only when it is non-empty, shorter than WEB_PATH_MAX, made of
 * [A-Za-z0-9._/-] only, has no empty segment ("//", leading or trailing
 * "/"), and no segment that is "." or ".." or starts with a dot (no hidden
 * files). Pure. */
bool web_path_ok(const char *rel);

/* Map a request path (percent-decoded, no query) to the file to serve,
 * relative to the web root: "/" and "/index.html" -> "index.html",
 * "/ui/vendor/<f>" -> "node_modules/uplot/dist/<f>", "/ui/<p>" -> "<p>"
 * except what the build does not embed (node_modules/..., package.json,
 * package-lock.json).
 * The result is checked with web_path_ok (for /ui/vendor/ the part <f> must
 * be one plain file name). Returns 0 with rel filled (NUL-terminated), or
 * LOOM_ENOTFOUND (not a console path, or an unsafe one), LOOM_ERANGE (cap
 * too small). Pure. */
int web_map_path(const char *url_path, char *rel, size_t cap);

/* The Content-Type for a file name, by its extension (case-insensitive):
 * html, js/mjs, css, json, svg, png, ico, woff2, txt, map; anything else
 * "application/octet-stream". Text types carry "; charset=utf-8". Returns
 * a static string. Pure. */
const char *web_content_type(const char *name);

/* Format the strong entity tag of len bytes at data (XXH64, seed 0) into
 * out (WEB_ETAG_LEN bytes): "\"0123456789abcdef\"". Pure. */
void web_etag_format(const void *data, size_t len, char out[WEB_ETAG_LEN]);

/* Does an If-None-Match header value (NULL = absent) match etag? True for
 * "*" or when any listed tag equals etag by the weak comparison RFC 9110
 * prescribes for If-None-Match (a W/ prefix is ignored). Pure. */
bool web_etag_match(const char *if_none_match, const char *etag);

/* Does an Accept-Encoding header value (NULL = absent) accept gzip? True
 * when it lists "gzip" (or "x-gzip", or "*" without an explicit gzip entry)
 * with a q-value other than 0. Pure. */
bool web_accepts_gzip(const char *accept_encoding);

/* The embedded file for url_path (after mapping "/" and "/index.html" to
 * "/ui/index.html"), or NULL. table: n entries sorted by path. Pure. */
const web_asset *web_asset_find(const web_asset *table, size_t n, const char *url_path);

struct http_req;
struct loom_api;

/* The handler of the public routes GET/HEAD `/`, `/index.html`, `/ui/...`:
 * serves api->web_dir when set (files read on each request, on the calling
 * thread), else the embedded table. Answers 200 (gzip body when the client
 * accepts it and a compressed copy exists; its ETag is the identity tag
 * with "-gz" before the closing quote), 304 on a matching If-None-Match,
 * 404 {"error":"not found"} for unknown or unsafe paths. Every answer but
 * 404 carries Content-Security-Policy, X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer, Cache-Control: no-cache and a strong ETag.
 * Any thread. */
void api_web(struct http_req *req, struct loom_api *api);

#endif
