/* Serial job queues on the thread pool: see serial-queue.h.
 *
 * All of a queue's state lives on the loop's thread. The pool thread only
 * runs a job's work; the next job is handed to the pool from the loop, once
 * the previous one's done has returned. That costs one wake-up of the loop
 * between two jobs of a session and needs no lock of its own: the pool's
 * mutex, taken on the way to the thread and back, orders the memory. */
#include "lib/serial-queue.h"

#include "lib/buf.h"
#include "lib/threadpool.h"

#include <stdlib.h>

struct serial_job {
    struct serial_queue *q;
    serial_work_fn *work;
    serial_done_fn *done;
    void *arg;
    struct serial_job *next;
};

struct serial_queue {
    struct threadpool *pool;
    struct serial_job *head, *tail; /* waiting, in order */
    struct serial_job *running;     /* on the pool, or its done running on the loop */
    bool closed;
    serial_work_fn *final_work;
    serial_final_fn *final_done;
    void *final_arg;
};

static void start_next(struct serial_queue *q);

struct serial_queue *serial_queue_new(struct threadpool *pool)
{
    struct serial_queue *q = xcalloc(1, sizeof(*q));
    q->pool = pool;
    return q;
}

/* On a pool thread: only the job's own fields, set before it was handed over. */
static void job_work(void *arg)
{
    struct serial_job *j = arg;
    j->work(j->arg);
}

static void final_work(void *arg)
{
    struct serial_queue *q = arg;
    q->final_work(q->final_arg);
}

static void final_done(void *arg)
{
    struct serial_queue *q = arg;
    if (q->final_done)
        q->final_done(q->final_arg);
    free(q);
}

/* Closed, and nothing runs any more: the final job, then the queue goes. */
static void finish_close(struct serial_queue *q)
{
    if (q->final_work)
        threadpool_submit(q->pool, final_work, final_done, q);
    else
        final_done(q);
}

/* On the loop, after the job's work returned on its thread. */
static void job_done(void *arg)
{
    struct serial_job *j = arg;
    struct serial_queue *q = j->q;
    /* q->running stays set while done runs: a submit from done waits its
     * turn, and a close from done leaves the final step to us. */
    if (j->done)
        j->done(j->arg, q->closed);
    free(j);
    q->running = NULL;
    if (q->closed)
        finish_close(q);
    else
        start_next(q);
}

static void start_next(struct serial_queue *q)
{
    if (q->running || !q->head)
        return;
    struct serial_job *j = q->head;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    j->next = NULL;
    q->running = j;
    threadpool_submit(q->pool, job_work, job_done, j);
}

void serial_queue_submit(struct serial_queue *q, serial_work_fn *work, serial_done_fn *done,
                         void *arg)
{
    if (q->closed) {
        /* Only reachable from a cancellation cleanup inside close. */
        if (done)
            done(arg, true);
        return;
    }
    struct serial_job *j = xcalloc(1, sizeof(*j));
    j->q = q;
    j->work = work;
    j->done = done;
    j->arg = arg;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    start_next(q);
}

bool serial_queue_busy(const struct serial_queue *q)
{
    return q->running || q->head;
}

void serial_queue_close(struct serial_queue *q, serial_work_fn *final_work_fn,
                        serial_final_fn *final_done_fn, void *final_arg)
{
    q->closed = true;
    q->final_work = final_work_fn;
    q->final_done = final_done_fn;
    q->final_arg = final_arg;
    /* The waiting jobs never run; their cleanup runs now. */
    struct serial_job *j = q->head;
    q->head = q->tail = NULL;
    while (j) {
        struct serial_job *next = j->next;
        if (j->done)
            j->done(j->arg, true);
        free(j);
        j = next;
    }
    if (!q->running)
        finish_close(q);
}
