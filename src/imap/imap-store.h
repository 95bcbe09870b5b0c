/* The store of a logged-in IMAP session, reached only through the session's
 * serial queue on the worker's store thread pool: a command hands a job to
 * the queue, returns IMAP_CMD_WAIT_EXTERNAL, and is woken on the loop with
 * the result in cmd->job_result and cmd->job_error. The event loop never
 * waits for a disk or for another process's index lock.
 *
 * The queue side (struct imap_store_side) is touched only by jobs: the store
 * handle, opened by the first job that needs it and closed by the last one
 * when the session ends, the selected mailbox and the APPEND in progress. */
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
    char *user, *home, *mail_location;
    struct store *store; /* NULL until opened, or if opening failed */
    int open_result;     /* negative once opening failed */
    struct buf open_error;
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

#endif
