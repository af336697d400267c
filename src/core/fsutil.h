/* SPDX-License-Identifier: Apache-2.0
 * Small filesystem helpers shared by the storage layers: recursive mkdir,
 * directory fsync (needed after create/rename for durability), recursive
 * removal, and atomic file replacement (write tmp, fsync, rename, fsync dir).
 */
#ifndef LOOM_CORE_FSUTIL_H
#define LOOM_CORE_FSUTIL_H

#include <stddef.h>

/* mkdir -p with mode 0755. 0 or a LOOM_E* code from errno. */
int loom_mkdir_p(const char *path);
/* fsync a directory. 0 or LOOM_EIO/LOOM_ENOTFOUND. */
int loom_fsync_dir(const char *dir);
/* rm -rf. 0 or the first error. */
int loom_rm_rf(const char *path);
/* Replace path with data atomically and durably (mode is the file mode).
 * On error path is unchanged and no temporary file remains. */
int loom_write_file_atomic(const char *path, const void *data, size_t len, int mode);

#endif
