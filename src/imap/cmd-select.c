/* The selected state (RFC 9051 §6.3.2, §6.3.3, §6.4.1, §6.4.2): SELECT and
 * EXAMINE open a mailbox, CLOSE and UNSELECT leave it, NOOP and CHECK report
 * what changed in it meanwhile. */
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "store/mailbox-name.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* Flags every mailbox takes; keywords may be created by clients (\*). */
#define SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

/* A SELECT's job data: owned by the job. */
struct select_job {
    char *name;
    bool readonly;
    bool imap4rev2;
};

static void free_select_job(void *arg)
{
    struct select_job *job = arg;
    free(job->name);
    free(job);
}

/* The first unseen message's sequence number, 0 if none (IMAP4rev1's UNSEEN). */
static uint32_t first_unseen(struct store_mailbox *m, struct buf *err)
{
    struct store_fetch_iter *it;
    if (store_fetch_begin(m, NULL, 0, 0, &it, err) < 0)
        return 0;
    const struct store_message *msg;
    uint32_t seq = 0, found = 0;
    while (!found && store_fetch_next(it, &msg, err) > 0) {
        seq++;
        if (!(msg->flags & STORE_FLAG_SEEN))
            found = seq;
    }
    store_fetch_end(it);
    return found;
}

static int select_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct select_job *job = data;
    store_mailbox_close(side->selected);
    side->selected = NULL;
    struct store_mailbox *m;
    int r = store_mailbox_open(side->store, job->name, &m, err);
    if (r < 0)
        return r;
    struct store_status st;
    r = store_mailbox_get_status(m, &st, err);
    if (r < 0) {
        store_mailbox_close(m);
        return r;
    }
    side->selected = m;
    /* RFC 9051 §6.3.2's order; RECENT and UNSEEN only for IMAP4rev1 (§7.3.2 of
     * RFC 3501), which most clients still speak */
    buf_printf(out, "* %u EXISTS\r\n", st.messages);
    if (!job->imap4rev2)
        buf_printf(out, "* %u RECENT\r\n", st.recent);
    buf_puts(out, "* FLAGS (" SYSTEM_FLAGS ")\r\n");
    if (job->readonly)
        buf_puts(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
    else
        buf_puts(out, "* OK [PERMANENTFLAGS (" SYSTEM_FLAGS " \\*)] Flags permitted.\r\n");
    if (!job->imap4rev2 && st.unseen > 0) {
        uint32_t unseen = first_unseen(m, err);
        if (unseen)
            buf_printf(out, "* OK [UNSEEN %u] First unseen.\r\n", unseen);
    }
    buf_printf(out, "* OK [UIDVALIDITY %u] UIDs valid.\r\n", st.uidvalidity);
    buf_printf(out, "* OK [UIDNEXT %u] Predicted next UID.\r\n", st.uidnext);
    buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest.\r\n", (unsigned long long)st.highestmodseq);
    return 0;
}

static int unselect_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)out;
    const bool *expunge = data;
    int r = 0;
    /* CLOSE removes the \Deleted messages silently (RFC 9051 §6.4.1) */
    if (side->selected && expunge && *expunge)
        r = store_expunge(side->selected, NULL, 0, true, NULL, err);
    store_mailbox_close(side->selected);
    side->selected = NULL;
    return r;
}

static enum imap_cmd_result select_done(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    const struct select_job *job = cmd->job_data;
    if (cmd->job_result < 0) {
        /* RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected */
        s->state = IMAP_STATE_AUTHENTICATED;
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    s->state = IMAP_STATE_SELECTED;
    s->selected_readonly = job->readonly;
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "[%s] %s completed.",
                   job->readonly ? "READ-ONLY" : "READ-WRITE",
                   job->readonly ? "EXAMINE" : "SELECT");
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result select_or_examine(struct imap_cmd *cmd, bool readonly)
{
    struct imap_session *s = cmd->session;
    const char *wire;
    size_t len;
    if (cmd->n_args != 1 || !imap_arg_get_astring(&cmd->args[0], &wire, &len)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s expects a mailbox name.",
                       readonly ? "EXAMINE" : "SELECT");
        return IMAP_CMD_DONE;
    }
    struct buf name = BUF_INIT;
    if (mailbox_name_from_imap(wire, len, false, false, &name, NULL) < 0) {
        buf_free(&name);
        s->state = IMAP_STATE_AUTHENTICATED;
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid mailbox name.");
        return IMAP_CMD_DONE;
    }
    /* RFC 9051 §6.3.2: leaving one mailbox for another is announced */
    if (s->state == IMAP_STATE_SELECTED)
        imap_untagged(s, "OK [CLOSED] Previous mailbox closed.");
    struct select_job *job = xcalloc(1, sizeof(*job));
    job->name = buf_steal(&name);
    job->readonly = readonly;
    job->imap4rev2 = s->enabled_imap4rev2;
    cmd->resume = select_done;
    imap_store_job(cmd, select_work, job, free_select_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

enum imap_cmd_result cmd_select(struct imap_cmd *cmd)
{
    return select_or_examine(cmd, false);
}

enum imap_cmd_result cmd_examine(struct imap_cmd *cmd)
{
    return select_or_examine(cmd, true);
}

static enum imap_cmd_result unselect_done(struct imap_cmd *cmd)
{
    cmd->session->state = IMAP_STATE_AUTHENTICATED;
    if (cmd->job_result < 0) {
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "Completed.");
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result leave(struct imap_cmd *cmd, bool expunge)
{
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "No arguments expected.");
        return IMAP_CMD_DONE;
    }
    bool *flag = xmalloc(sizeof(*flag));
    /* EXAMINE is read-only: its CLOSE expunges nothing (RFC 9051 §6.4.1) */
    *flag = expunge && !cmd->session->selected_readonly;
    cmd->resume = unselect_done;
    imap_store_job(cmd, unselect_work, flag, free);
    return IMAP_CMD_WAIT_EXTERNAL;
}

enum imap_cmd_result cmd_close(struct imap_cmd *cmd)
{
    return leave(cmd, true);
}

enum imap_cmd_result cmd_unselect(struct imap_cmd *cmd)
{
    return leave(cmd, false);
}

static enum imap_cmd_result sync_done(struct imap_cmd *cmd)
{
    if (cmd->job_result < 0) {
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
    return IMAP_CMD_DONE;
}

/* NOOP and CHECK (RFC 9051 §6.1.2; CHECK is IMAP4rev1's, §6.4.1 of RFC 3501):
 * with a mailbox selected, the changes made elsewhere; else nothing. */
enum imap_cmd_result cmd_noop(struct imap_cmd *cmd)
{
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s takes no arguments.", cmd->def->name);
        return IMAP_CMD_DONE;
    }
    if (cmd->session->state != IMAP_STATE_SELECTED) {
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
        return IMAP_CMD_DONE;
    }
    cmd->resume = sync_done;
    imap_store_job(cmd, imap_sync_work, NULL, NULL);
    return IMAP_CMD_WAIT_EXTERNAL;
}
