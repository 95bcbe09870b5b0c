/* What changed in the selected mailbox, told to the client (RFC 9051 §5.2,
 * §7.3.1, §7.4.1, §7.5.2): run as a store job by the session core before the
 * completion of every command of the selected state (imap-commands.h says
 * how a command opts out or holds back expunges) and by IDLE, never with
 * expunges during FETCH, STORE or SEARCH (RFC 9051 §7.5.1), so sequence
 * numbers never confuse a client. With QRESYNC enabled expunges are told as
 * VANISHED (RFC 7162 §3.2.10), with CONDSTORE flag changes carry MODSEQ
 * (§3.1, §3.2.4). */
#ifndef GANNET_IMAP_IMAP_SYNC_H
#define GANNET_IMAP_IMAP_SYNC_H

#include "imap/imap-store.h"

#include <stdbool.h>
#include <stdint.h>

struct store_mailbox;
struct store_uids;
struct imap_cmd;

/* What a sync job tells; its data (NULL: a full sync in IMAP4rev1 form). */
struct imap_sync_opts {
    bool hold_expunges;      /* the command uses sequence numbers */
    bool vanished;           /* QRESYNC enabled: VANISHED instead of EXPUNGE */
    bool modseq;             /* CONDSTORE enabled: MODSEQ in the FETCH responses */
    bool highestmodseq;      /* CONDSTORE was just enabled: "* OK [HIGHESTMODSEQ n]" */
    bool told_highestmodseq; /* set by the job when it told it */
};

/* Queues a sync job for cmd with the session's options (the caller sets
 * cmd->resume and returns IMAP_CMD_WAIT_EXTERNAL; cmd->job_data is the
 * struct imap_sync_opts in resume). */
void imap_sync_job(struct imap_cmd *cmd, bool hold_expunges);
/* In the resume of imap_sync_job's job: a HIGHESTMODSEQ the job could not tell
 * (expunges held back) waits for the next sync. */
void imap_sync_job_done(struct imap_cmd *cmd);

/* Syncs side->selected with the Maildir and other sessions and appends the
 * untagged responses: EXPUNGE for each message gone (highest sequence number
 * first, so each number is right when the client reads it) or VANISHED,
 * EXISTS when new messages came, FETCH (UID FLAGS [MODSEQ]) for flags changed
 * elsewhere. A store job's work (imap_store_work_fn); data is a struct
 * imap_sync_opts or NULL. */
int imap_sync_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err);

/* "* n FETCH (UID u FLAGS (...))" for the messages with these UIDs that are in
 * m's view. */
int imap_sync_write_flags(struct store_mailbox *m, const uint32_t *uids, size_t n, struct buf *out,
                          struct buf *err);
/* The same with " MODSEQ (m)" when modseq is true (CONDSTORE enabled). */
int imap_sync_write_flags_modseq(struct store_mailbox *m, const uint32_t *uids, size_t n,
                                 bool modseq, struct buf *out, struct buf *err);
/* The expunged UIDs (ascending, all in m's view before they were removed from
 * it) as "* VANISHED uids" or as EXPUNGEs, highest first, numbered as in the
 * view before: view_after is m's view without them (and with nothing added). */
void imap_sync_write_expunged(const struct store_uids *expunged,
                              const struct store_uids *view_after, bool vanished, struct buf *out);

#endif
