/* SPDX-License-Identifier: Apache-2.0
 * webembed: the build-time host tool that embeds the web console into the
 * binary. `webembed OUT.c ROOT FILE...` reads each FILE (a path under ROOT,
 * usually web/) and writes OUT.c: one static byte array per file (and its
 * gzip -9 copy when that is smaller) and the table `web_assets[]` of
 * src/api/web.h, sorted by URL path, plus `web_assets_n`. Not part of
 * libloom; the Makefile builds it as $(BUILD)/tools/webembed. Output is
 * deterministic (no time stamps), so rebuilds of the same files are equal.
 * It uses plain malloc: it runs before libloom (and its allocator) exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>
#include <zlib.h>

#include "api/web.h"

/* URL prefix of the uPlot files: ROOT/node_modules/uplot/dist/<f> is
 * served at /ui/vendor/<f> (see web_map_path). */
#define VENDOR_DIR "node_modules/uplot/dist/"

typedef struct file {
  char url[WEB_PATH_MAX + 16];
  unsigned char *data, *gz;
  size_t len, gzlen;
} file;

/* The same table as web_content_type in src/api/web.c (a unit test checks
 * that every embedded type equals web_content_type of its path). */
static const char *content_type(const char *name) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {"html", "text/html; charset=utf-8"},       {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},  {"css", "text/css; charset=utf-8"},
      {"json", "application/json; charset=utf-8"}, {"map", "application/json; charset=utf-8"},
      {"svg", "image/svg+xml"},                   {"png", "image/png"},
      {"ico", "image/x-icon"},                    {"woff2", "font/woff2"},
      {"txt", "text/plain; charset=utf-8"},
  };
  const char *dot = strrchr(name, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (!strcasecmp(dot + 1, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

/* The path rules of web_path_ok: [A-Za-z0-9._/-], no empty segment, no
 * segment starting with a dot. A file the server would refuse to serve is a
 * build error, not a silently dead asset. */
static int path_ok(const char *rel) {
  if (!*rel || strlen(rel) + 1 >= WEB_PATH_MAX) return 0;
  for (const char *p = rel; *p; p++) {
    int seg_start = p == rel || p[-1] == '/';
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-", *p))
      return 0;
    if ((*p == '/' || *p == '.') && seg_start) return 0;
  }
  return rel[strlen(rel) - 1] != '/';
}

static int read_all(const char *path, unsigned char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 1 << 16, n = 0;
  unsigned char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n, f);
    if (n < cap) break;
    unsigned char *nb = cap > WEB_FILE_MAX ? NULL : realloc(b, cap * 2);
    if (!nb) {
      free(b);
      b = NULL;
      break;
    }
    b = nb;
    cap *= 2;
  }
  int err = !b || ferror(f);
  fclose(f);
  if (err) {
    free(b);
    return -1;
  }
  *out = b;
  *len = n;
  return 0;
}

/* gzip (RFC 1952) at level 9 with a zero MTIME; *out NULL when it would not
 * be smaller than the input. 0 or -1 (out of memory / zlib error). */
static int gzip_bytes(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  *out = NULL;
  *outlen = 0;
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
  size_t cap = deflateBound(&z, (uLong)len) + 32;
  unsigned char *b = malloc(cap);
  int rc = -1;
  if (b) {
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = b;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END) rc = 0;
  }
  if (!rc && z.total_out < len) {
    *out = b;
    *outlen = z.total_out;
    b = NULL;
  }
  free(b);
  deflateEnd(&z);
  return rc;
}

static void put_array(FILE *o, const char *name, size_t i, const unsigned char *d, size_t n) {
  fprintf(o, "static const unsigned char %s%zu[%zu] = {", name, i, n ? n : 1);
  if (!n) fputs("0", o);
  for (size_t k = 0; k < n; k++) fprintf(o, "%s%u,", k % 24 ? "" : "\n", d[k]);
  fputs("\n};\n", o);
}

static int by_url(const void *a, const void *b) {
  return strcmp(((const file *)a)->url, ((const file *)b)->url);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: webembed OUT.c ROOT FILE...\n");
    return 2;
  }
  const char *out_path = argv[1], *root = argv[2];
  size_t rl = strlen(root), n = (size_t)argc - 3;
  while (rl > 1 && root[rl - 1] == '/') rl--;
  file *files = calloc(n ? n : 1, sizeof *files);
  int rc = 1;
  FILE *o = NULL;
  char tmp[4096];
  if (!files) goto out;
  for (size_t i = 0; i < n; i++) {
    const char *p = argv[3 + i];
    if (strncmp(p, root, rl) || p[rl] != '/') {
      fprintf(stderr, "webembed: %s is not under %s\n", p, root);
      goto out;
    }
    const char *rel = p + rl + 1;
    if (!path_ok(rel)) { /* a warning, not an error: an editor's backup file must not stop a build */
      fprintf(stderr, "webembed: warning: %s skipped: the console serves only paths of "
                      "[A-Za-z0-9._/-] without hidden (dot) names\n", p);
      continue;
    }
    if (!strncmp(rel, VENDOR_DIR, strlen(VENDOR_DIR))) {
      rel += strlen(VENDOR_DIR);
      if (strchr(rel, '/')) {
        fprintf(stderr, "webembed: warning: %s skipped: only files directly in %s are served\n",
                p, VENDOR_DIR);
        continue;
      }
      snprintf(files[i].url, sizeof files[i].url, "/ui/vendor/%s", rel);
    } else {
      snprintf(files[i].url, sizeof files[i].url, "/ui/%s", rel);
    }
    if (read_all(p, &files[i].data, &files[i].len)) {
      fprintf(stderr, "webembed: cannot read %s\n", p);
      goto out;
    }
    if (gzip_bytes(files[i].data, files[i].len, &files[i].gz, &files[i].gzlen)) {
      fprintf(stderr, "webembed: cannot compress %s\n", p);
      goto out;
    }
  }
  size_t used = 0; /* drop the skipped (url still empty) entries */
  for (size_t i = 0; i < n; i++)
    if (files[i].url[0]) files[used++] = files[i];
  n = used;
  qsort(files, n, sizeof *files, by_url);
  for (size_t i = 1; i < n; i++)
    if (!strcmp(files[i].url, files[i - 1].url)) {
      fprintf(stderr, "webembed: %s given twice\n", files[i].url);
      goto out;
    }
  /* write to OUT.c.tmp, then rename: an interrupted build leaves no half file */
  snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
  if (!(o = fopen(tmp, "w"))) {
    fprintf(stderr, "webembed: cannot write %s\n", tmp);
    goto out;
  }
  fprintf(o, "/* SPDX-License-Identifier: Apache-2.0\n"
             " * Generated by tools/webembed from the web console's files: do not edit. */\n"
             "#include \"api/web.h\"\n\n");
  for (size_t i = 0; i < n; i++) {
    put_array(o, "d", i, files[i].data, files[i].len);
    if (files[i].gz) put_array(o, "z", i, files[i].gz, files[i].gzlen);
  }
  fprintf(o, "\nconst web_asset web_assets[] = {\n");
  for (size_t i = 0; i < n; i++) {
    char z[32] = "NULL";
    if (files[i].gz) snprintf(z, sizeof z, "z%zu", i);
    fprintf(o, "  {\"%s\", \"%s\", d%zu, %zu, %s, %zu, \"\\\"%016llx\\\"\"},\n", files[i].url,
            content_type(files[i].url), i, files[i].len, z, files[i].gzlen,
            (unsigned long long)XXH64(files[i].len ? files[i].data : (const void *)"",
                                      files[i].len, 0));
  }
  if (!n) fprintf(o, "  {NULL, NULL, NULL, 0, NULL, 0, NULL},\n");
  fprintf(o, "};\nconst size_t web_assets_n = %zu;\n", n);
  if (fclose(o)) {
    o = NULL;
    fprintf(stderr, "webembed: cannot write %s\n", tmp);
    goto out;
  }
  o = NULL;
  if (rename(tmp, out_path)) {
    fprintf(stderr, "webembed: cannot rename %s to %s\n", tmp, out_path);
    goto out;
  }
  rc = 0;
out:
  if (o) fclose(o);
  for (size_t i = 0; files && i < n; i++) {
    free(files[i].data);
    free(files[i].gz);
  }
  free(files);
  return rc;
}
