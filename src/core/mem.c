/* SPDX-License-Identifier: Apache-2.0
 * Accounting allocator. Each block carries a 16-byte header with its size so
 * frees can be subtracted; 16 keeps the caller's pointer aligned for any type.
 */
#include "core/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#include <unistd.h>
#endif

#define HDR 16

static atomic_size_t used;
static atomic_size_t limit;
static atomic_long fail_countdown = -1;

static int should_fail(size_t n) {
  long c = atomic_load(&fail_countdown);
  if (c >= 0) {
    if (c == 0) return 1;
    atomic_fetch_sub(&fail_countdown, 1);
  }
  size_t lim = atomic_load(&limit);
  return lim && atomic_load(&used) + n > lim;
}

void *loom_malloc(size_t n) {
  if (n > SIZE_MAX - HDR || should_fail(n)) return NULL;
  unsigned char *p = malloc(n + HDR);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  atomic_fetch_add(&used, n);
  return p + HDR;
}

void *loom_malloc_nofail(size_t n) {
  if (n > SIZE_MAX - HDR) return NULL;
  unsigned char *p = malloc(n + HDR);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  atomic_fetch_add(&used, n);
  return p + HDR;
}

void *loom_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  size_t n = count * size;
  void *p = loom_malloc(n);
  if (p) memset(p, 0, n);
  return p;
}

void *loom_realloc(void *ptr, size_t n) {
  if (!ptr) return loom_malloc(n);
  unsigned char *base = (unsigned char *)ptr - HDR;
  size_t old;
  memcpy(&old, base, sizeof old);
  if (n > SIZE_MAX - HDR || (n > old && should_fail(n - old))) return NULL;
  unsigned char *p = realloc(base, n + HDR);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  atomic_fetch_add(&used, n);
  atomic_fetch_sub(&used, old);
  return p + HDR;
}

void loom_free(void *ptr) {
  if (!ptr) return;
  unsigned char *base = (unsigned char *)ptr - HDR;
  size_t n;
  memcpy(&n, base, sizeof n);
  atomic_fetch_sub(&used, n);
  free(base);
}

void *loom_malloc_sized(size_t n) {
  if (should_fail(n)) return NULL;
  void *p = malloc(n ? n : 1);
  if (p) atomic_fetch_add(&used, n);
  return p;
}

void *loom_realloc_sized(void *ptr, size_t old, size_t n) {
  if (!ptr) return loom_malloc_sized(n);
  if (n > old && should_fail(n - old)) return NULL;
  void *p = realloc(ptr, n ? n : 1);
  if (!p) return NULL;
  atomic_fetch_add(&used, n);
  atomic_fetch_sub(&used, old);
  return p;
}

void loom_free_sized(void *ptr, size_t n) {
  if (!ptr) return;
  atomic_fetch_sub(&used, n);
  free(ptr);
}

char *loom_strndup(const char *s, size_t n) {
  char *p = loom_malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *loom_strdup(const char *s) { return loom_strndup(s, strlen(s)); }

#ifdef __GLIBC__
/* glibc raises its mmap threshold each time a large mmapped block is freed
 * (up to 32 MiB), after which the big transient buffers of flushes and
 * compactions come from the heap and leave it fragmented for good. A fixed
 * threshold keeps them in their own mappings, returned at free; 4 MiB, so
 * that request-sized buffers (bodies, parsed batches: 1-3 MiB) are reused
 * from the heap instead of being mapped and faulted in at every request
 * (that cost ~15% more server CPU at ingest with 256 KiB). And one
 * arena per core, not eight: each arena keeps what its threads freed (the
 * head buffers of a flushed generation), so fewer arenas hold less. Set
 * before main() so every thread sees it. */
__attribute__((constructor)) static void mem_setup(void) {
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  mallopt(M_ARENA_MAX, ncpu < 2 ? 2 : ncpu > 64 ? 64 : (int)ncpu);
}
#endif

void loom_mem_trim(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

size_t loom_mem_used(void) { return atomic_load(&used); }
void loom_mem_set_limit(size_t limit_bytes) { atomic_store(&limit, limit_bytes); }
void loom_mem_fail_after(long n) { atomic_store(&fail_countdown, n); }
