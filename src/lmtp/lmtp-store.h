/* The stores of an LMTP session, reached only through the session's serial
 * queue on the worker's store thread pool, as an IMAP session reaches its
 * store (imap/imap-store.h): RCPT TO looks the user up in the userdb and
 * opens their store, DATA and BDAT stream the message into the first
 * recipient's mailbox chunk by chunk, and the end of the data commits it for
 * every recipient (store/deliver.h). The event loop never waits for a disk,
 * a userdb file or another process's index lock.
 *
 * The queue's side (struct lmtp_store_side) is touched only by jobs: the
 * users' open stores, kept across the session's transactions (a few of them,
 * the most recently used), and the message being delivered. A job's data
 * belongs to the job, since a job may outlive the session. */
#ifndef GANNET_LMTP_LMTP_STORE_H
#define GANNET_LMTP_LMTP_STORE_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct authdb;
struct settings;
struct threadpool;

/* One user's open store; owned by the side, and only a handle to the
 * session, which passes it back to the jobs of the same transaction. */
struct lmtp_user;

/* Owned by the session, freed by lmtp_store_stop(). */
struct lmtp_store;

struct lmtp_store *lmtp_store_new(struct threadpool *pool, const struct settings *set,
                                  struct authdb *db);
/* The session ends: jobs not started never run, a message in progress is
 * forgotten (nothing of it delivered), the stores are closed on the pool. */
void lmtp_store_stop(struct lmtp_store *st);
/* True while a job runs or waits. */
bool lmtp_store_busy(const struct lmtp_store *st);

/* What RCPT TO learns about a recipient. */
enum lmtp_rcpt_status {
    LMTP_RCPT_OK,
    LMTP_RCPT_UNKNOWN,  /* no such user: 550 5.1.1 */
    LMTP_RCPT_NO_SPACE, /* the disk has less room than the SIZE announced: 452 4.3.1 */
    LMTP_RCPT_TEMPFAIL, /* userdb unreadable, store broken, config: 451 4.3.0 */
};

struct lmtp_rcpt_result {
    enum lmtp_rcpt_status status;
    struct lmtp_user *user; /* LMTP_RCPT_OK */
    const char *mailbox;    /* LMTP_RCPT_OK: INBOX, or the detail's mailbox */
    const char *user_name;  /* LMTP_RCPT_OK: the user as the userdb knows them */
    const char *reason;     /* otherwise, for the log */
};

/* Called on the loop when the job is done, never after lmtp_store_stop().
 * The result's strings live until it returns. */
typedef void lmtp_rcpt_done_fn(void *owner, const struct lmtp_rcpt_result *res);
/* A result code (0 or a negative store error) and a reason for the log. */
typedef void lmtp_store_done_fn(void *owner, int result, const char *error);

/* RCPT TO:<local@domain>: the detail after recipient_delimiter is split off,
 * the user looked up ("local@domain", then "local"; as given, then in lower
 * case; postmaster_address for a postmaster the userdb does not know), the
 * store opened (created on first delivery), the mailbox chosen (the
 * detail's with lmtp_save_to_detail_mailbox, when it exists), and the free
 * space compared with SIZE (0: not announced). */
void lmtp_store_rcpt(struct lmtp_store *st, const char *local, const char *domain, uint64_t size,
                     lmtp_rcpt_done_fn *done, void *owner);

/* The first bytes of a message (the trace headers) into the mailbox of the
 * first recipient. */
void lmtp_store_begin(struct lmtp_store *st, struct lmtp_user *user, const char *mailbox,
                      const char *prefix, size_t prefix_len, lmtp_store_done_fn *done, void *owner);
/* The next chunk; data is copied. After a failure the message is forgotten
 * and later writes do nothing. */
void lmtp_store_write(struct lmtp_store *st, const void *data, size_t len, lmtp_store_done_fn *done,
                      void *owner);

/* One recipient of the commit. */
struct lmtp_commit_rcpt {
    struct lmtp_user *user;
    const char *mailbox;
};
/* What became of it: error 0 and its UID in the mailbox, or the store's
 * negative error and the reason, for the log. */
struct lmtp_commit_result {
    int error;
    uint32_t uid;
    const char *reason;
};
/* Called with one result per recipient, in their order. */
typedef void lmtp_commit_done_fn(void *owner, const struct lmtp_commit_result *results, size_t n);
/* The message, complete, for every recipient: durable for each whose result
 * is 0. Then lmtp_store_end() ends the transaction. */
void lmtp_store_commit(struct lmtp_store *st, const struct lmtp_commit_rcpt *rcpts, size_t n,
                       lmtp_commit_done_fn *done, void *owner);
/* The transaction ends (after the commit, RSET, a refused message): the
 * message in progress, if any, is forgotten, and the stores beyond the few
 * kept for the next transactions are closed. */
void lmtp_store_end(struct lmtp_store *st);

#endif
