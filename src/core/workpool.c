/* SPDX-License-Identifier: Apache-2.0
 * Worker pool: a mutex-protected FIFO of jobs and a condition variable.
 */
#include "core/workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "core/err.h"
#include "core/mem.h"

typedef struct job {
  struct job *next;
  loom_work_fn fn;
  void *arg;
} job;

struct loom_workpool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail;
  bool stop;
  unsigned n;
  pthread_t threads[];
};

static void *worker(void *arg) {
  loom_workpool *p = arg;
  pthread_setname_np(pthread_self(), "worker"); /* top -H, perf, gdb */
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->head && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    job *j = p->head;
    if (!j) break; /* stopping and drained */
    p->head = j->next;
    if (!p->head) p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    j->fn(j->arg);
    loom_free(j);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int loom_workpool_new(unsigned n, loom_workpool **out) {
  if (!n) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (unsigned)c : 2;
  }
  loom_workpool *p = loom_calloc(1, sizeof *p + n * sizeof(pthread_t));
  if (!p) return LOOM_ENOMEM;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  for (unsigned i = 0; i < n; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p)) break;
    p->n++;
  }
  if (!p->n) {
    loom_workpool_free(p);
    return LOOM_ENOMEM;
  }
  *out = p;
  return 0;
}

int loom_workpool_submit(loom_workpool *p, loom_work_fn fn, void *arg) {
  job *j = loom_malloc(sizeof *j);
  if (!j) return LOOM_ENOMEM;
  j->next = NULL;
  j->fn = fn;
  j->arg = arg;
  pthread_mutex_lock(&p->mu);
  if (p->stop) {
    pthread_mutex_unlock(&p->mu);
    loom_free(j);
    return LOOM_ECLOSED;
  }
  if (p->tail) p->tail->next = j;
  else p->head = j;
  p->tail = j;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

void loom_workpool_free(loom_workpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (unsigned i = 0; i < p->n; i++) pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  loom_free(p);
}
