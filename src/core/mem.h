/* SPDX-License-Identifier: Apache-2.0
 * The one allocation layer. Every allocation in Loom goes through these so
 * that memory is accounted (for /metrics and an optional limit) and tests can
 * inject allocation failures (fail-after-N). The counters are process-wide
 * atomics: the single, deliberate exception to "no mutable globals", as an
 * allocator is process-wide by nature (Redis zmalloc, SQLite's mem layer).
 * All functions are thread-safe.
 */
#ifndef LOOM_CORE_MEM_H
#define LOOM_CORE_MEM_H

#include <stddef.h>

/* Like malloc/calloc/realloc/free/strdup. Return NULL when out of memory, over
 * the limit, or when the fail-after-N switch fires. loom_free(NULL) is a no-op. */
void *loom_malloc(size_t n);
void *loom_calloc(size_t count, size_t size);
/* Like loom_malloc, accounted, but exempt from the limit and the fail-after
 * switch: for small allocations behind an interface that promises a pointer
 * (lazily decoded caches). NULL only when the system is out of memory. */
void *loom_malloc_nofail(size_t n);
void *loom_realloc(void *p, size_t n);
void loom_free(void *p);
char *loom_strdup(const char *s);
char *loom_strndup(const char *s, size_t n);

/* The same without the 16-byte size header, for the many small buffers
 * whose owner knows their size anyway (head buffers, reference arrays): the
 * caller passes that size back to realloc and free, exactly as allocated.
 * Accounted, limited and failure-injected like loom_malloc. Never mix them
 * with the functions above on one pointer. loom_free_sized(NULL, n) is a
 * no-op; loom_realloc_sized(NULL, 0, n) allocates. */
void *loom_malloc_sized(size_t n);
void *loom_realloc_sized(void *p, size_t old_n, size_t n);
void loom_free_sized(void *p, size_t n);

/* Bytes currently allocated through this layer. */
size_t loom_mem_used(void);

/* Refuse allocations that would take usage past limit_bytes (0 = no limit). */
void loom_mem_set_limit(size_t limit_bytes);

/* Give memory that is free but still held by the C allocator back to the
 * operating system (glibc: malloc_trim; a no-op elsewhere). Call it after
 * large transient allocations are freed, e.g. after a head flush, so the
 * process's resident size follows what is really in use. Any thread. */
void loom_mem_trim(void);

/* Tests only: after n more successful allocations, every allocation fails
 * until this is called again with n < 0 (which disables the switch). */
void loom_mem_fail_after(long n);

#endif
