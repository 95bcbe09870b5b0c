/* The user's store for a logged-in session, whatever the protocol (IMAP,
 * POP3): reached only through the session's serial queue on the worker's
 * store thread pool (lib/serial-queue.h), so that the event loop never waits
 * for a disk or for another process's lock on the index.
 *
 * A struct session_store belongs to the queue, not to the session: only jobs
 * touch it. It holds who the user is, the store, opened by the first job that
 * needs it (a session that never touches mail costs no index connection) and
 * closed by the queue's final job, and the protocol's own queue-side state
 * (`side`: IMAP's selected mailbox, POP3's maildrop). A failure to open is
 * kept, and every later job answers with it. After each job the index gives
 * back its page cache (store_release_memory), so an idle session costs
 * little. A job's data is owned by the job: it may outlive the session. */
#ifndef GANNET_LOGIN_SESSION_STORE_H
#define GANNET_LOGIN_SESSION_STORE_H

#include "lib/buf.h"

#include <stdbool.h>

struct conn;
struct serial_queue;
struct session_store;
struct store;

/* Runs on a pool thread with the user's store open: 0 or a negative
 * errno-style code with a reason in err. What it appends to out (already in
 * the protocol's form) is written to the client before done runs. */
typedef int session_store_work_fn(struct store *store, void *side, void *data, struct buf *out,
                                  struct buf *err);
/* Runs on the loop when the job is over and the session still there: the
 * work's result, its reason ("" on success) and its data; free_data(data)
 * runs right after. */
typedef void session_store_done_fn(void *owner, int result, const char *error, void *data);
/* The protocol's queue side, at the end (see session_store_stop). */
typedef void session_store_side_fn(void *side);

/* At login: a queue on the worker's store pool (from conn_app()), and the
 * queue side for `user` and `home` (may be NULL) with the protocol's `side`
 * (may be NULL), owned by the queue from now on. */
struct serial_queue *session_store_start(struct conn *c, const char *user, const char *home,
                                         void *side, struct session_store **out);

/* Queues work(store, side, data, ...) for `owner`. done (may be NULL) runs on
 * the loop unless the queue was stopped meanwhile; free_data (may be NULL)
 * runs in any case, when the job is over. Output goes to `c`, the owner's
 * connection, only when done runs (the session is still there). */
void session_store_job(struct serial_queue *q, struct session_store *ss, struct conn *c,
                       session_store_work_fn *work, void *data, void (*free_data)(void *),
                       session_store_done_fn *done, void *owner);

/* When the session ends: jobs not started never run, close_side(side) (may
 * be NULL) runs on the pool after the last job and before the store closes,
 * then free_side(side) (may be NULL) on the loop, and everything goes. q and
 * ss must not be used after this call. */
void session_store_stop(struct serial_queue *q, struct session_store *ss,
                        session_store_side_fn *close_side, session_store_side_fn *free_side);

#endif
