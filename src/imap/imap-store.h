/* The store of a logged-in IMAP session, reached only through the session's
 * serial queue on the worker's store thread pool: a command hands a job to
 * the queue, returns IMAP_CMD_WAIT_EXTERNAL, and is woken on the loop with
 * the result in cmd->job_result and cmd->job_error. The event loop never
 * waits for a disk or for another process's index lock.
 *
 * The queue side (struct imap_store_side) is touched only by jobs: the store
 * handle, the selected mailbox and the APPEND in progress. Opening the store
 * at the first job that needs it, and closing it after the last, is the
 * shared session store's (login/session-store.h). */
#ifndef GANNET_IMAP_IMAP_STORE_H
#define GANNET_IMAP_IMAP_STORE_H

#include "lib/buf.h"

#include <stdbool.h>

struct imap_session;
struct imap_cmd;
struct store;
struct store_mailbox;
struct store_append_ctx;

/* Owned by the queue; freed after the session's last job. */
struct imap_store_side {
    struct store *store; /* the user's store, open while a job's work runs */
    /* the selected mailbox (SELECT/EXAMINE) */
    struct store_mailbox *selected;
    /* an APPEND between its begin and its commit or abort */
    struct store_mailbox *append_box;
    struct store_append_ctx *append;
};

/* Runs on a pool thread: 0 or a negative errno-style code, with a reason in
 * err. Untagged responses it appends to out (already in IMAP form, strings
 * quoted with lib-imap) are written before the command resumes. */
typedef int imap_store_work_fn(struct imap_store_side *side, void *data, struct buf *out,
                               struct buf *err);

/* At login: the queue; the store is opened by the first job that needs it. */
void imap_store_start(struct imap_session *s, const char *user, const char *home);
/* When the session ends: jobs not started never run, the APPEND in progress
 * is aborted and the store closed on the pool. */
void imap_store_stop(struct imap_session *s);

/* Queues work(side, data) for cmd; free_data(data) runs when the job is over,
 * whether the command is still there or not. The caller returns
 * IMAP_CMD_WAIT_EXTERNAL with cmd->resume set. */
void imap_store_job(struct imap_cmd *cmd, imap_store_work_fn *work, void *data,
                    void (*free_data)(void *));

/* ---- change notification, on the loop ----
 * The store owns its notification (store_notify_fd/watch/changed: an inotify
 * fd, opened, read and closed only by the store's jobs). The loop knows it
 * only as a number, which SELECT's job hands over, and only polls it for
 * readability while a command waits for changes (IDLE); it then queues a
 * sync, whose store_mailbox_sync drains the fd. The loop's event is freed in
 * imap_store_stop(), before the job that closes the store (and the fd) is
 * queued, so it never polls a closed or reused fd. */

/* The notification fd the store gave (store_notify_fd), or -1 for none; a
 * session without one is woken every IMAP_STORE_NOTIFY_POLL_MS instead. */
void imap_store_notify_fd(struct imap_session *s, int fd);
/* Calls fn(arg) once, on the loop, when the fd becomes readable. */
void imap_store_notify_arm(struct imap_session *s, void (*fn)(void *arg), void *arg);
void imap_store_notify_disarm(struct imap_session *s);
#define IMAP_STORE_NOTIFY_POLL_MS 1000

#endif
