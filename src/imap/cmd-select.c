/* The selected state (RFC 9051 §6.3.2, §6.3.3, §6.4.1, §6.4.2): SELECT and
 * EXAMINE open a mailbox (with RFC 7162's CONDSTORE and QRESYNC parameters)
 * and watch it for changes until CLOSE, UNSELECT or the next SELECT leaves
 * it; NOOP and CHECK are answered at once, the session core's sync before
 * their completion telling what changed meanwhile. */
#include "imap/imap-resp.h"
#include "imap/imap-search.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-seqset.h"
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
    bool condstore; /* the CONDSTORE parameter */
    /* the QRESYNC parameter (RFC 7162 §3.2.5): the client's UIDVALIDITY and
     * MODSEQ, the UIDs it knows (NULL: all) and its sequence match data */
    bool qresync;
    uint32_t uidvalidity;
    uint64_t modseq;
    struct store_uid_range *known, *match_seqs, *match_uids;
    size_t nknown, nmatch_seqs, nmatch_uids;
    int notify_fd; /* set by the job: the store's notification fd, or -1 */
};

static void free_select_job(void *arg)
{
    struct select_job *job = arg;
    free(job->name);
    free(job->known);
    free(job->match_seqs);
    free(job->match_uids);
    free(job);
}

/* A sequence set as the store's ranges (the same shape; "*" stays UINT32_MAX). */
static bool copy_seqset(struct imap_cmd *cmd, const struct imap_arg *arg,
                        struct store_uid_range **out, size_t *n)
{
    const char *atom;
    struct imap_seqset set;
    if (!imap_arg_get_atom(arg, &atom) ||
        !imap_seqset_parse(atom, strlen(atom), cmd->arena, &set) || set.saved)
        return false;
    *out = xcalloc(set.count ? set.count : 1, sizeof(**out));
    for (size_t i = 0; i < set.count; i++)
        (*out)[i] = (struct store_uid_range){set.ranges[i].first, set.ranges[i].last};
    *n = set.count;
    return true;
}

/* The select parameters (RFC 4466 §2.1): "(CONDSTORE)", "(QRESYNC (uidvalidity
 * modseq [known-uids] [(known-sequence-set known-uid-set)]))". NULL when they
 * are good, else the reason for BAD. */
static const char *parse_select_params(struct imap_cmd *cmd, const struct imap_arg *arg,
                                       struct select_job *job)
{
    const struct imap_arg *params, *q;
    size_t n, nq;
    if (!imap_arg_get_list(arg, &params, &n))
        return "Expected a list of select parameters.";
    for (size_t i = 0; i < n; i++) {
        if (imap_arg_is(&params[i], "CONDSTORE")) {
            job->condstore = true;
            continue;
        }
        if (!imap_arg_is(&params[i], "QRESYNC"))
            return "Unknown select parameter.";
        if (!cmd->session->enabled_qresync)
            return "QRESYNC needs ENABLE QRESYNC first.";
        if (job->qresync || i + 1 == n || !imap_arg_get_list(&params[++i], &q, &nq) || nq < 2 ||
            nq > 4 || !imap_arg_get_nz_number(&q[0], &job->uidvalidity) ||
            !imap_arg_get_number64(&q[1], &job->modseq))
            return "QRESYNC expects (uidvalidity modseq [known-uids] [seq-match-data]).";
        job->qresync = true;
        size_t k = 2;
        if (k < nq && q[k].type == IMAP_ARG_ATOM) {
            if (!copy_seqset(cmd, &q[k], &job->known, &job->nknown))
                return "Invalid known UIDs.";
            k++;
        }
        if (k < nq) {
            const struct imap_arg *match;
            size_t nm;
            if (!imap_arg_get_list(&q[k], &match, &nm) || nm != 2 ||
                !copy_seqset(cmd, &match[0], &job->match_seqs, &job->nmatch_seqs) ||
                !copy_seqset(cmd, &match[1], &job->match_uids, &job->nmatch_uids))
                return "Invalid sequence match data.";
            k++;
        }
        if (k != nq)
            return "QRESYNC expects (uidvalidity modseq [known-uids] [seq-match-data]).";
    }
    return NULL;
}

/* Walks the numbers of a range list in order, "*" as max. */
struct range_iter {
    const struct store_uid_range *r;
    size_t n, i;
    uint64_t next;
    uint32_t max;
};

static bool range_next(struct range_iter *it, uint32_t *out)
{
    while (it->i < it->n) {
        uint32_t a = it->r[it->i].first == UINT32_MAX ? it->max : it->r[it->i].first;
        uint32_t b = it->r[it->i].last == UINT32_MAX ? it->max : it->r[it->i].last;
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        if (it->next < a)
            it->next = a;
        if (it->next <= b) {
            *out = (uint32_t)it->next++;
            return true;
        }
        it->i++;
        it->next = 0;
    }
    return false;
}

/* RFC 7162 §3.2.5.2: the pairs of sequence number and UID the client gave,
 * while they match the mailbox, say it knows every expunge up to that UID:
 * the highest such UID (0: none). */
static uint32_t seq_match_floor(const struct store_uids *view, const struct select_job *job)
{
    struct range_iter seqs = {job->match_seqs, job->nmatch_seqs, 0, 0, (uint32_t)view->count};
    struct range_iter uids = {job->match_uids, job->nmatch_uids, 0, 0,
                              view->count ? view->uids[view->count - 1] : 0};
    uint32_t seq, uid, floor = 0;
    while (range_next(&seqs, &seq) && range_next(&uids, &uid)) {
        if (seq == 0 || seq > view->count || view->uids[seq - 1] != uid)
            break;
        floor = uid;
    }
    return floor;
}

/* RFC 7162 §3.2.5.1: what changed since the client's MODSEQ, as VANISHED
 * (EARLIER) and FETCH (UID FLAGS MODSEQ). */
static int qresync_report(struct store_mailbox *m, const struct select_job *job, struct buf *out,
                          struct buf *err)
{
    struct store_uid_range *gone = NULL;
    size_t ngone = 0;
    int r = store_mailbox_vanished(m, job->modseq, job->known, job->nknown, &gone, &ngone, err);
    if (r < 0)
        return r;
    uint32_t floor = job->nmatch_seqs ? seq_match_floor(store_mailbox_view(m), job) : 0;
    bool any = false;
    for (size_t i = 0; i < ngone; i++) {
        uint32_t a = gone[i].first > floor ? gone[i].first : floor + 1;
        if (floor == UINT32_MAX || a > gone[i].last)
            continue;
        buf_puts(out, any ? "," : "* VANISHED (EARLIER) ");
        any = true;
        if (a == gone[i].last)
            buf_printf(out, "%u", a);
        else
            buf_printf(out, "%u:%u", a, gone[i].last);
    }
    if (any)
        buf_puts(out, "\r\n");
    free(gone);
    struct store_uids changed = {0};
    r = store_mailbox_changed_since(m, job->modseq, job->known, job->nknown, &changed, err);
    if (r == 0)
        r = imap_sync_write_flags_modseq(m, changed.uids, changed.count, true, out, err);
    store_uids_free(&changed);
    return r;
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
    if (side->selected)
        store_notify_unwatch(side->store, store_mailbox_name(side->selected));
    store_mailbox_close(side->selected);
    side->selected = NULL;
    /* watched before it is opened (and scanned): no change slips between */
    job->notify_fd = -1;
    if (store_notify_watch(side->store, job->name, NULL) == 0)
        job->notify_fd = store_notify_fd(side->store);
    struct store_mailbox *m;
    int r = store_mailbox_open(side->store, job->name, &m, err);
    struct store_status st;
    if (r == 0) {
        r = store_mailbox_get_status(m, &st, err);
        if (r < 0)
            store_mailbox_close(m);
    }
    if (r < 0) {
        store_notify_unwatch(side->store, job->name);
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
    /* RFC 7162 §3.2.5: with another UIDVALIDITY the client's state is void */
    if (job->qresync && job->uidvalidity == st.uidvalidity)
        return qresync_report(m, job, out, err);
    return 0;
}

static int unselect_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)out;
    const bool *expunge = data;
    int r = 0;
    if (side->selected)
        store_notify_unwatch(side->store, store_mailbox_name(side->selected));
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
    imap_store_notify_fd(s, job->notify_fd);
    /* SELECT (CONDSTORE) enables CONDSTORE (RFC 7162 §3.1.8); the
     * HIGHESTMODSEQ was just told */
    if (job->condstore || job->qresync)
        s->enabled_condstore = true;
    s->announce_highestmodseq = false;
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
    if (cmd->n_args < 1 || cmd->n_args > 2 || !imap_arg_get_astring(&cmd->args[0], &wire, &len)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s expects a mailbox name.",
                       readonly ? "EXAMINE" : "SELECT");
        return IMAP_CMD_DONE;
    }
    struct select_job *job = xcalloc(1, sizeof(*job));
    const char *bad = cmd->n_args == 2 ? parse_select_params(cmd, &cmd->args[1], job) : NULL;
    if (bad) {
        /* RFC 7162 §3.2.5: a bad parameter leaves the mailbox as it was */
        free_select_job(job);
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", bad);
        return IMAP_CMD_DONE;
    }
    struct buf name = BUF_INIT;
    if (mailbox_name_from_imap(wire, len, false, false, &name, NULL) < 0) {
        buf_free(&name);
        free_select_job(job);
        s->state = IMAP_STATE_AUTHENTICATED;
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid mailbox name.");
        return IMAP_CMD_DONE;
    }
    /* RFC 9051 §6.3.2: leaving one mailbox for another is announced */
    if (s->state == IMAP_STATE_SELECTED)
        imap_untagged(s, "OK [CLOSED] Previous mailbox closed.");
    imap_search_saved_reset(s); /* "$" is the new mailbox's (RFC 9051 §6.4.4.1) */
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
    imap_search_saved_reset(cmd->session);
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

/* NOOP and CHECK (RFC 9051 §6.1.2; CHECK is IMAP4rev1's, §6.4.1 of RFC 3501):
 * with a mailbox selected, the session core's sync before the completion
 * tells the changes made elsewhere; else nothing. */
enum imap_cmd_result cmd_noop(struct imap_cmd *cmd)
{
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s takes no arguments.", cmd->def->name);
        return IMAP_CMD_DONE;
    }
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
    return IMAP_CMD_DONE;
}
