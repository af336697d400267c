/* SPDX-License-Identifier: Apache-2.0
 * Project-wide error codes. Fallible functions return 0 on success or one of
 * these negative codes; loom_strerror() gives the text. Not-found and
 * would-block are ordinary outcomes, not failures to log.
 */
#ifndef LOOM_CORE_ERR_H
#define LOOM_CORE_ERR_H

#include <stddef.h>

enum {
  LOOM_OK = 0,
  LOOM_ENOMEM = -1,    /* allocation failed or memory limit reached */
  LOOM_EINVAL = -2,    /* bad argument or malformed input */
  LOOM_EIO = -3,       /* read/write/fsync failed */
  LOOM_ENOSPC = -4,    /* disk full */
  LOOM_ENOTFOUND = -5, /* no such item (ordinary outcome) */
  LOOM_EAGAIN = -6,    /* would block; try again later (ordinary outcome) */
  LOOM_ECORRUPT = -7,  /* checksum mismatch or impossible on-disk structure */
  LOOM_ETYPE = -8,     /* field type conflicts with the stored type */
  LOOM_ERANGE = -9,    /* value or size out of the allowed range */
  LOOM_EEXIST = -10,   /* item already exists */
  LOOM_EAUTH = -11,    /* missing or wrong credentials */
  LOOM_ECLOSED = -12,  /* the object is stopping or stopped */
  LOOM_EUNSUP = -13,   /* valid but not supported */
  LOOM_ETRUNC = -14,   /* input ends early (need more bytes) */
  LOOM_EREADONLY = -15, /* store refuses writes after an unrecoverable I/O error */
  LOOM_EPERM = -16      /* authenticated, but not allowed to do this */
};

/* Text for a LOOM_E* code (static storage, never NULL). Any thread. */
const char *loom_strerror(int code);

/* Map an errno value to a LOOM_E* code. */
int loom_from_errno(int err);

/* Write a printf-style message into err (when err and errlen are non-zero)
 * and return code: `return loom_errf(err, errlen, LOOM_EINVAL, "...", ...)`. */
int loom_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
