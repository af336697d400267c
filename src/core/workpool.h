/* SPDX-License-Identifier: Apache-2.0
 * A fixed pool of worker threads for blocking work (query execution) that
 * must not run on an event-loop thread. Jobs run in submission order, each
 * on one worker.
 */
#ifndef LOOM_CORE_WORKPOOL_H
#define LOOM_CORE_WORKPOOL_H

typedef struct loom_workpool loom_workpool;
typedef void (*loom_work_fn)(void *arg);

/* Start n_threads workers (0 = number of cores). 0 or LOOM_ENOMEM. */
int loom_workpool_new(unsigned n_threads, loom_workpool **out);
/* Queue fn(arg). 0, LOOM_ENOMEM or LOOM_ECLOSED (pool stopping: fn never runs). Any thread. */
int loom_workpool_submit(loom_workpool *p, loom_work_fn fn, void *arg);
/* Run every queued job, join the workers, free. */
void loom_workpool_free(loom_workpool *p);

#endif
