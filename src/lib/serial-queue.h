/* A serial job queue on the thread pool, one per owner (an IMAP, POP3 or LMTP
 * session and its store): the owner's blocking work (fsync, an SQLite commit
 * that may wait on another process's lock, a SEARCH over a big mailbox) runs
 * off the event loop, one job at a time and in the order submitted, and each
 * job's `done` comes back on the loop (DESIGN.md "The way a byte travels":
 * store/ through a per-session queue on the worker's thread pool).
 *
 * Jobs of one queue never overlap: job n+1's work starts after job n's done
 * has returned on the loop, so the done of a job sees the effects of its work
 * and may submit the next job. Jobs of different queues run in parallel on
 * the pool's threads. Everything here is called on the loop's thread.
 *
 * What a job's work touches must belong to the queue's side (the job's arg,
 * the store and mailbox handles the queue's jobs share), never to the owner:
 * a job may still be running on its thread after the owner closed the queue
 * and freed itself. Such state is freed by cancellation cleanups and by the
 * final job given to serial_queue_close(). */
#ifndef GANNET_LIB_SERIAL_QUEUE_H
#define GANNET_LIB_SERIAL_QUEUE_H

#include <stdbool.h>

struct threadpool;
struct serial_queue; /* owner: whoever created it, until serial_queue_close() */

/* Runs on a pool thread. */
typedef void serial_work_fn(void *arg);
/* Runs on the loop. cancelled == false: the work ran and the queue is open,
 * the owner may use the result. cancelled == true: cleanup only, after the
 * queue was closed; the work ran or never will, and the owner may be gone:
 * free what arg owns and touch nothing else. Called exactly once per job. */
typedef void serial_done_fn(void *arg, bool cancelled);
/* The final job's loop half, see serial_queue_close(). */
typedef void serial_final_fn(void *arg);

/* The pool must outlive the queue: free it only after every queue closed
 * and its final_done ran (threadpool_free drops jobs it has not started). */
struct serial_queue *serial_queue_new(struct threadpool *pool);

/* Appends a job. done may be NULL. Never after serial_queue_close(). */
void serial_queue_submit(struct serial_queue *q, serial_work_fn *work, serial_done_fn *done,
                         void *arg);

/* True while a job of q runs or waits to run. */
bool serial_queue_busy(const struct serial_queue *q);

/* The owner is done with the queue (its session ended); q must not be used
 * after this call. Jobs not yet started never run: their done(arg, true) is
 * called before this returns. A job running on a pool thread finishes there,
 * then its done(arg, true) runs on the loop. After that, final_work (may be
 * NULL; e.g. closing the user's store) runs on a pool thread with final_arg,
 * then final_done (may be NULL) on the loop, and the queue frees itself.
 * No done(arg, false) is called once this was called; close may be called
 * from inside a job's done. */
void serial_queue_close(struct serial_queue *q, serial_work_fn *final_work,
                        serial_final_fn *final_done, void *final_arg);

#endif
