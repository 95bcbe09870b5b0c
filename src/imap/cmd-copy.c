/* COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8, §6.4.9; RFC 6851)
 * with UIDPLUS's COPYUID (RFC 4315 §3): the copies are durable before the
 * tagged OK, and a MOVE removes its sources only once they are. */
#include "imap/imap-msgset.h"
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-seqset.h"
#include "store/mailbox-name.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>

/* A job's data, owned by the job. */
struct copy_job {
    struct imap_msgset set;
    char *dst; /* the destination's normal name */
    bool move;
    bool vanished; /* QRESYNC enabled: the moved messages go as VANISHED */
    /* the answer: why it failed, or COPYUID's "uidvalidity src dst" (empty
     * when nothing was copied) */
    bool trycreate;
    struct buf copyuid;
};

static void free_copy_job(void *arg)
{
    struct copy_job *job = arg;
    imap_msgset_free(&job->set);
    free(job->dst);
    buf_free(&job->copyuid);
    free(job);
}

static int copy_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct copy_job *job = data;
    struct store_mailbox *m = side->selected;
    if (!m)
        return -ENOENT;
    /* RFC 9051 §6.4.7: a missing destination is never created, and the
     * client is told it could be (even when there is nothing to copy) */
    if (!store_mailbox_exists(side->store, job->dst)) {
        job->trycreate = true;
        return -ENOENT;
    }
    const struct store_uids *view = store_mailbox_view(m);
    struct store_uids uids = {0};
    int r = imap_msgset_resolve(&job->set, view, &uids, err);
    struct store_uid_range *set = NULL;
    size_t nset = imap_msgset_ranges(&uids, view, &set);
    store_uids_free(&uids);
    struct store_copy_result res = {0};
    /* an empty set copies nothing (the store reads NULL as "all") */
    if (r == 0 && nset)
        r = store_copy(m, set, nset, job->dst, job->move, &res, err);
    free(set);
    if (r == 0 && res.src_uids.count) {
        buf_printf(&job->copyuid, "%u ", res.uidvalidity);
        imap_seqset_write_list(&job->copyuid, res.src_uids.uids, res.src_uids.count);
        buf_putc(&job->copyuid, ' ');
        imap_seqset_write_list(&job->copyuid, res.dst_uids.uids, res.dst_uids.count);
        if (job->move) {
            /* RFC 6851 §4.3: COPYUID before the EXPUNGEs, in an untagged OK */
            buf_printf(out, "* OK [COPYUID %s] Moved.\r\n", buf_cstr(&job->copyuid));
            imap_sync_write_expunged(&res.src_uids, store_mailbox_view(m), job->vanished, out);
        }
    }
    store_copy_result_free(&res);
    /* what changed meanwhile, the copies into this same mailbox included, is
     * told by the session's sync before the completion (imap-commands.h) */
    return r;
}

static enum imap_cmd_result copy_done(struct imap_cmd *cmd)
{
    const struct copy_job *job = cmd->job_data;
    const char *name = cmd->def->name;
    if (cmd->job_result == -ERANGE) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", cmd->job_error);
    } else if (job->trycreate) {
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_TRYCREATE, "Mailbox does not exist.");
    } else if (cmd->job_result == -ENOENT) {
        /* a message of the set was expunged by another session meanwhile;
         * nothing was copied (RFC 9051 §6.4.7: no partial copy) */
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_NONE, "Some of the messages no longer exist.");
    } else if (cmd->job_result < 0) {
        imap_cmd_store_error(cmd, cmd->job_result);
    } else if (job->copyuid.len == 0) {
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "No messages matched, %s did nothing.", name);
    } else if (job->move) {
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", name);
    } else {
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "[COPYUID %s] %s completed.",
                       buf_cstr(&job->copyuid), name);
    }
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result copy_or_move(struct imap_cmd *cmd, bool move)
{
    struct imap_session *s = cmd->session;
    struct imap_msgset set;
    const char *why = move ? "MOVE expects a message set and a mailbox name."
                           : "COPY expects a message set and a mailbox name.";
    const char *wire;
    size_t len;
    if (cmd->n_args != 2 || !imap_arg_get_astring(&cmd->args[1], &wire, &len) ||
        !imap_msgset_get(cmd, &cmd->args[0], &set, &why)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", why);
        return IMAP_CMD_DONE;
    }
    struct buf name = BUF_INIT;
    if (mailbox_name_from_imap(wire, len, false, false, &name, NULL) < 0) {
        buf_free(&name);
        imap_msgset_free(&set);
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid mailbox name.");
        return IMAP_CMD_DONE;
    }
    if (move && s->selected_readonly) {
        /* RFC 9051 §6.3.3: nothing leaves an EXAMINEd mailbox */
        buf_free(&name);
        imap_msgset_free(&set);
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_NONE, "Mailbox is read-only.");
        return IMAP_CMD_DONE;
    }
    struct copy_job *job = xcalloc(1, sizeof(*job));
    job->set = set;
    job->dst = buf_steal(&name);
    job->move = move;
    job->vanished = s->enabled_qresync;
    cmd->resume = copy_done;
    imap_store_job(cmd, copy_work, job, free_copy_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

enum imap_cmd_result cmd_copy(struct imap_cmd *cmd)
{
    return copy_or_move(cmd, false);
}

enum imap_cmd_result cmd_move(struct imap_cmd *cmd)
{
    return copy_or_move(cmd, true);
}
