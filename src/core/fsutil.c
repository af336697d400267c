/* SPDX-License-Identifier: Apache-2.0
 * Filesystem helpers (see fsutil.h).
 */
#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

int loom_mkdir_p(const char *path) {
  char tmp[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof tmp) return LOOM_ERANGE;
  memcpy(tmp, path, len + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) && errno != EEXIST) return loom_from_errno(errno);
    *p = '/';
  }
  if (mkdir(tmp, 0755) && errno != EEXIST) return loom_from_errno(errno);
  return 0;
}

int loom_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return loom_from_errno(errno);
  int rc = fsync(fd) ? loom_from_errno(errno) : 0;
  close(fd);
  return rc;
}

int loom_rm_rf(const char *path) {
  DIR *d = opendir(path);
  if (!d) return unlink(path) && errno != ENOENT ? loom_from_errno(errno) : 0;
  struct dirent *de;
  char sub[4096];
  int rc = 0;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
    int r = loom_rm_rf(sub);
    if (!rc) rc = r;
  }
  closedir(d);
  if (rmdir(path) && !rc) rc = loom_from_errno(errno);
  return rc;
}

int loom_write_file_atomic(const char *path, const void *data, size_t len, int mode) {
  char tmp[4096], dir[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return LOOM_ERANGE;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return loom_from_errno(errno);
  int rc = 0;
  const char *p = data;
  size_t left = len;
  while (left && !rc) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) rc = loom_from_errno(w < 0 ? errno : EIO);
    else {
      p += w;
      left -= (size_t)w;
    }
  }
  if (!rc && fsync(fd)) rc = loom_from_errno(errno);
  if (close(fd) && !rc) rc = loom_from_errno(errno);
  if (!rc && rename(tmp, path)) rc = loom_from_errno(errno);
  if (rc) {
    unlink(tmp);
    return rc;
  }
  snprintf(dir, sizeof dir, "%s", path);
  return loom_fsync_dir(dirname(dir));
}
