/* SPDX-License-Identifier: Apache-2.0
 * Pure URL helpers for the HTTP server: split a request target into path and
 * query, percent-decode, and parse query strings and
 * application/x-www-form-urlencoded bodies into name/value parameters.
 * No sockets, no globals: fuzzable and usable from any thread.
 */
#ifndef LOOM_HTTP_URL_H
#define LOOM_HTTP_URL_H

#include <stddef.h>

/* Percent-decode in[0..len) into out, which must hold at least len + 1 bytes;
 * the result is NUL-terminated and its length (without the NUL) stored in
 * *out_len. When plus_as_space is non-zero '+' decodes to ' ' (form and query
 * encoding); otherwise it stays '+' (paths). Returns 0, or LOOM_EINVAL for a
 * malformed escape ("%", "%4", "%zz") or an escape that decodes to NUL ("%00"),
 * which C strings could not carry. in and out may be the same buffer. */
int http_url_decode(const char *in, size_t len, int plus_as_space, char *out, size_t *out_len);

/* A request target split into its raw parts (pointers into the target, not
 * NUL-terminated, not decoded). */
typedef struct http_url_parts {
  const char *path; /* "/a/b" (origin form), "*" (asterisk form), or the path of an absolute URL */
  size_t path_len;
  const char *query; /* bytes after '?' up to '#' or the end; NULL when there is no '?' */
  size_t query_len;
} http_url_parts;

/* Split a request target: origin form "/p?q", absolute form
 * "http://host:port/p?q" (the path defaults to "/"), or "*". The fragment
 * ("#...") is dropped. Returns 0, or LOOM_EINVAL for an empty target or one
 * in none of these forms. */
int http_url_split(const char *target, size_t len, http_url_parts *out);

/* One decoded parameter; both strings are NUL-terminated and owned by the
 * http_params that holds them. A name without '=' has the value "". */
typedef struct http_param {
  const char *name;
  const char *value;
} http_param;

/* An ordered list of parameters gathered from one or more sources (query
 * string, then a form body). Owner: the caller (init/deinit). */
typedef struct http_params {
  http_param *items; /* n entries, in source order */
  size_t n;
  size_t cap;
  char **blocks; /* one decoded-text block per parse call; items point into them */
  size_t n_blocks;
} http_params;

/* Initialise an empty list (no allocation). */
void http_params_init(http_params *p);
/* Release everything; the list is empty and reusable afterwards. */
void http_params_deinit(http_params *p);

/* Parse "a=1&b=x%20y&c" (query string or form body: '+' is a space, empty
 * segments are skipped) and append the pairs to p. Returns 0, LOOM_EINVAL for a
 * malformed percent-escape (p is then unchanged), or LOOM_ENOMEM. */
int http_params_parse(http_params *p, const char *s, size_t len);

/* Value of the first parameter called `name` (exact, case-sensitive), or NULL.
 * The pointer is valid until http_params_deinit. */
const char *http_params_get(const http_params *p, const char *name);

#endif
