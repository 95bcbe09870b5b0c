/* A small pool of threads for work that must not run on the event loop
 * (password hashing, passwd-file reads). A job's `work` runs on a pool thread;
 * its `done` then runs on the event loop that owns the pool. */
#ifndef GANNET_LIB_THREADPOOL_H
#define GANNET_LIB_THREADPOOL_H

struct event_base;
struct threadpool;

typedef void threadpool_fn(void *arg);

/* Creates n_threads threads: call after fork(), in the process that uses it. */
struct threadpool *threadpool_new(struct event_base *base, unsigned n_threads);
/* Waits for the running jobs, drops the queued ones (their done never runs). */
void threadpool_free(struct threadpool *pool);
/* Runs the event loop until every job submitted (also by a done, such as a
 * serial queue's final job) has run and its done has returned: for a worker
 * that stops, so that what its sessions handed over at their end (closing a
 * store, freeing the queue's side) is finished before threadpool_free(). */
void threadpool_drain(struct threadpool *pool);
void threadpool_submit(struct threadpool *pool, threadpool_fn *work, threadpool_fn *done,
                       void *arg);

#endif
