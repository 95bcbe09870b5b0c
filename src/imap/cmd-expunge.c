/* EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9; UIDPLUS, RFC 4315 §2.1):
 * the \Deleted messages go, each announced with an untagged EXPUNGE, highest
 * number first (or in one VANISHED once QRESYNC is enabled, with the new
 * HIGHESTMODSEQ in the completion, RFC 7162 §3.2.7, §3.2.9); what other
 * sessions changed meanwhile follows, told by the session's sync before the
 * completion. */
#include "imap/imap-msgset.h"
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "imap/session.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>

/* A job's data, owned by the job. */
struct expunge_job {
    bool uid; /* UID EXPUNGE: only the \Deleted messages of set */
    struct imap_msgset set;
    bool vanished;          /* QRESYNC enabled */
    uint64_t highestmodseq; /* set by the job when it expunged something */
};

static void free_expunge_job(void *arg)
{
    struct expunge_job *job = arg;
    imap_msgset_free(&job->set);
    free(job);
}

static int expunge_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct expunge_job *job = data;
    struct store_mailbox *m = side->selected;
    if (!m)
        return -ENOENT;
    struct store_uids expunged = {0};
    int r = 0;
    if (job->uid) {
        struct store_uids uids = {0};
        r = imap_msgset_resolve(&job->set, store_mailbox_view(m), &uids, err);
        struct store_uid_range *set = NULL;
        size_t nset = imap_msgset_ranges(&uids, store_mailbox_view(m), &set);
        /* an empty set expunges nothing (the store reads NULL as "all") */
        if (r == 0 && nset)
            r = store_expunge(m, set, nset, true, &expunged, err);
        free(set);
        store_uids_free(&uids);
    } else {
        r = store_expunge(m, NULL, 0, true, &expunged, err);
    }
    if (r == 0 && expunged.count) {
        imap_sync_write_expunged(&expunged, store_mailbox_view(m), job->vanished, out);
        struct store_status st;
        if (job->vanished && store_mailbox_get_status(m, &st, NULL) == 0)
            job->highestmodseq = st.highestmodseq;
    }
    store_uids_free(&expunged);
    return r;
}

static enum imap_cmd_result expunge_done(struct imap_cmd *cmd)
{
    if (cmd->job_result == -ERANGE)
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", cmd->job_error);
    else if (cmd->job_result < 0)
        imap_cmd_store_error(cmd, cmd->job_result);
    else if (((const struct expunge_job *)cmd->job_data)->highestmodseq)
        imap_cmd_reply(
            cmd, IMAP_OK, IMAP_CODE_NONE, "[HIGHESTMODSEQ %llu] %s completed.",
            (unsigned long long)((const struct expunge_job *)cmd->job_data)->highestmodseq,
            cmd->def->name);
    else
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
    return IMAP_CMD_DONE;
}

enum imap_cmd_result cmd_expunge(struct imap_cmd *cmd)
{
    struct expunge_job job = {.uid = cmd->uid, .vanished = cmd->session->enabled_qresync};
    const char *why = "UID EXPUNGE expects a UID set.";
    if (cmd->uid ? cmd->n_args != 1 || !imap_msgset_get(cmd, &cmd->args[0], &job.set, &why)
                 : cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s",
                       cmd->uid ? why : "EXPUNGE takes no arguments.");
        return IMAP_CMD_DONE;
    }
    if (cmd->session->selected_readonly) {
        /* RFC 9051 §6.3.3: nothing changes in an EXAMINEd mailbox */
        imap_msgset_free(&job.set);
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_NONE, "Mailbox is read-only.");
        return IMAP_CMD_DONE;
    }
    struct expunge_job *heap = xmalloc(sizeof(*heap));
    *heap = job;
    cmd->resume = expunge_done;
    imap_store_job(cmd, expunge_work, heap, free_expunge_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}
