/* SPDX-License-Identifier: Apache-2.0
 * Text for the project-wide error codes, and errno mapping.
 */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *loom_strerror(int code) {
  switch (code) {
  case LOOM_OK: return "success";
  case LOOM_ENOMEM: return "out of memory";
  case LOOM_EINVAL: return "invalid argument or input";
  case LOOM_EIO: return "input/output error";
  case LOOM_ENOSPC: return "no space left on device";
  case LOOM_ENOTFOUND: return "not found";
  case LOOM_EAGAIN: return "try again";
  case LOOM_ECORRUPT: return "data corrupted (checksum mismatch)";
  case LOOM_ETYPE: return "field type conflict";
  case LOOM_ERANGE: return "value out of range";
  case LOOM_EEXIST: return "already exists";
  case LOOM_EAUTH: return "authentication failed";
  case LOOM_ECLOSED: return "closed";
  case LOOM_EUNSUP: return "not supported";
  case LOOM_ETRUNC: return "input truncated";
  case LOOM_EREADONLY: return "store is read-only after an I/O error";
  case LOOM_EPERM: return "permission denied";
  default: return "unknown error";
  }
}

int loom_from_errno(int err) {
  switch (err) {
  case 0: return LOOM_OK;
  case ENOMEM: return LOOM_ENOMEM;
  case ENOSPC: case EDQUOT: return LOOM_ENOSPC;
  case ENOENT: return LOOM_ENOTFOUND;
  case EEXIST: return LOOM_EEXIST;
  case EAGAIN: return LOOM_EAGAIN;
  case EINVAL: return LOOM_EINVAL;
  default: return LOOM_EIO;
  }
}

int loom_errf(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}
