/* STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9) with CONDSTORE's
 * UNCHANGEDSINCE (RFC 7162 §3.1.3).
 *
 * The flags are changed by one job; the untagged FETCH answers then go out in
 * slices, one job each, the next one only once the client has read most of
 * the last: a STORE on 100,000 messages never holds its whole answer. */
#include "imap/imap-msgset.h"
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-format.h"
#include "lib-imap/imap-seqset.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A slice of answers: at most this many messages, and no more once the
 * slice's text has passed SLICE_BYTES. */
#define SLICE_MESSAGES 4096
#define SLICE_BYTES (256u * 1024u)

/* One untagged FETCH to send: with FLAGS, or (STORE .SILENT with
 * UNCHANGEDSINCE) with MODSEQ alone. */
struct store_report {
    uint32_t uid;
    bool flags;
};

/* A job's data, owned by the job: the first job's request and answer, or a
 * later slice's reports. */
struct store_job {
    struct imap_msgset set;
    enum store_flag_op op;
    unsigned flags;
    char **keywords;
    size_t n_keywords;
    bool silent, conditional;
    uint64_t unchangedsince;
    /* how the FETCH answers look */
    bool uid, modseq;
    /* the messages to report (ascending UIDs): the first job's answer, or a
     * later job's slice of it */
    struct store_report *reports;
    size_t n_reports;
    /* the first job's [MODIFIED] set, empty when every message passed */
    struct buf modified;
    /* how many of reports this job wrote */
    size_t written;
};

/* The command's state between slices, in its arena. */
struct store_state {
    struct store_report *reports; /* heap, freed with the arena */
    size_t n_reports, pos;
    const char *modified;
    bool uid, modseq;
};

static void free_store_job(void *arg)
{
    struct store_job *job = arg;
    imap_msgset_free(&job->set);
    for (size_t i = 0; i < job->n_keywords; i++)
        free(job->keywords[i]);
    free(job->keywords);
    free(job->reports);
    buf_free(&job->modified);
    free(job);
}

/* Writes "* n FETCH (...)" for reports[0..n) in view until the text passes
 * SLICE_BYTES; *written is how many reports are done (those expunged by
 * another session meanwhile are skipped). */
static int write_reports(struct store_mailbox *m, const struct store_report *reports, size_t n,
                         bool uid, bool modseq, struct buf *out, size_t *written, struct buf *err)
{
    *written = 0;
    if (n == 0)
        return 0;
    struct store_uid_range *set = xmalloc(n * sizeof(*set));
    size_t nset = 0;
    for (size_t i = 0; i < n; i++) {
        if (nset && set[nset - 1].last + 1 == reports[i].uid)
            set[nset - 1].last = reports[i].uid;
        else
            set[nset++] = (struct store_uid_range){reports[i].uid, reports[i].uid};
    }
    struct store_fetch_iter *it;
    int r = store_fetch_begin(m, set, nset, 0, &it, err);
    free(set);
    if (r < 0)
        return r;
    const struct store_uids *view = store_mailbox_view(m);
    const struct store_message *msg;
    size_t i = 0;
    size_t start = out->len;
    while (out->len - start < SLICE_BYTES && (r = store_fetch_next(it, &msg, err)) > 0) {
        while (i < n && reports[i].uid < msg->uid)
            i++;
        if (i == n)
            break;
        if (reports[i].uid != msg->uid)
            continue;
        uint32_t seq = imap_view_seq(view, msg->uid);
        if (seq) {
            const char *sep = "";
            buf_printf(out, "* %u FETCH (", seq);
            /* RFC 9051 §6.4.9: a UID command's FETCH answers carry the UID */
            if (uid) {
                buf_printf(out, "UID %u", msg->uid);
                sep = " ";
            }
            if (modseq) {
                buf_printf(out, "%sMODSEQ (%llu)", sep, (unsigned long long)msg->modseq);
                sep = " ";
            }
            if (reports[i].flags) {
                buf_printf(out, "%sFLAGS ", sep);
                imap_write_flags(out, msg->flags & STORE_FLAGS_STORED, msg->keywords,
                                 msg->keyword_count);
            }
            buf_puts(out, ")\r\n");
        }
        i++;
    }
    store_fetch_end(it);
    if (r < 0)
        return r;
    *written = r == 0 || i == n ? n : i;
    return 0;
}

/* Adds uids to the reports being gathered. */
static void gather(struct store_report **reports, size_t *n, size_t *cap,
                   const struct store_uids *uids, bool flags)
{
    for (size_t i = 0; i < uids->count; i++) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *reports = xrealloc(*reports, *cap * sizeof(**reports));
        }
        (*reports)[(*n)++] = (struct store_report){uids->uids[i], flags};
    }
}

static int cmp_report(const void *a, const void *b)
{
    const struct store_report *x = a, *y = b;
    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Sorted by UID, each message once, with FLAGS if any wanted them. */
static size_t merge_reports(struct store_report *reports, size_t n)
{
    if (n == 0)
        return 0;
    qsort(reports, n, sizeof(*reports), cmp_report);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && reports[w - 1].uid == reports[i].uid)
            reports[w - 1].flags |= reports[i].flags;
        else
            reports[w++] = reports[i];
    }
    return w;
}

/* The UIDs of a that are not in b (both ascending). */
static void uids_minus(const struct store_uids *a, const struct store_uids *b,
                       struct store_uids *out)
{
    size_t j = 0;
    for (size_t i = 0; i < a->count; i++) {
        while (j < b->count && b->uids[j] < a->uids[i])
            j++;
        if (j < b->count && b->uids[j] == a->uids[i])
            continue;
        if (out->count == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->uids = xrealloc(out->uids, out->cap * sizeof(*out->uids));
        }
        out->uids[out->count++] = a->uids[i];
    }
}

static int store_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct store_job *job = data;
    struct store_mailbox *m = side->selected;
    if (!m)
        return -ENOENT;
    const struct store_uids *view = store_mailbox_view(m);
    struct store_uids uids = {0}, before = {0}, after = {0}, others = {0}, passed = {0};
    struct store_flags_result res = {0};
    int r = imap_msgset_resolve(&job->set, view, &uids, err);
    /* RFC 9051 §6.4.6 note: changes other sessions made are reported too,
     * .SILENT or not: those made before this STORE (counted as told only
     * once it succeeded), and those that came while it ran (what changed
     * that this STORE did not change) */
    if (r == 0)
        r = store_mailbox_flag_changes(m, false, &before, err);
    struct store_uid_range *set = NULL;
    size_t nset = imap_msgset_ranges(&uids, view, &set);
    if (r == 0 && nset && job->conditional && job->unchangedsince == 0) {
        /* RFC 7162 §3.1.3: UNCHANGEDSINCE 0 always fails, a system flag
         * always existing */
        res.modified = uids;
        memset(&uids, 0, sizeof(uids));
    } else if (r == 0 && nset) {
        r = store_set_flags(m, set, nset, job->op, job->flags, (const char *const *)job->keywords,
                            job->n_keywords, job->unchangedsince, &res, err);
    }
    free(set);
    if (r == 0)
        r = store_mailbox_flag_changes(m, true, &after, err);
    if (r == 0) {
        size_t cap = 0;
        uids_minus(&uids, &res.modified, &passed);
        if (!job->silent)
            gather(&job->reports, &job->n_reports, &cap, &passed, true);
        else if (job->conditional)
            /* RFC 7162 §3.1.3: MODSEQ for each message stored, even .SILENT */
            gather(&job->reports, &job->n_reports, &cap, &passed, false);
        /* RFC 7162 §3.1.3 (example 10): the flags that made a message fail
         * UNCHANGEDSINCE, so that the client need not ask */
        gather(&job->reports, &job->n_reports, &cap, &res.modified, true);
        gather(&job->reports, &job->n_reports, &cap, &before, true);
        uids_minus(&after, &res.changed, &others);
        gather(&job->reports, &job->n_reports, &cap, &others, true);
        job->n_reports = merge_reports(job->reports, job->n_reports);
        if (res.modified.count) {
            if (!job->uid) {
                /* STORE names the messages by number */
                for (size_t i = 0; i < res.modified.count; i++)
                    res.modified.uids[i] = imap_view_seq(view, res.modified.uids[i]);
            }
            imap_seqset_write_list(&job->modified, res.modified.uids, res.modified.count);
        }
        r = write_reports(m, job->reports, job->n_reports, job->uid, job->modseq, out,
                          &job->written, err);
    }
    store_flags_result_free(&res);
    store_uids_free(&uids);
    store_uids_free(&before);
    store_uids_free(&after);
    store_uids_free(&others);
    store_uids_free(&passed);
    return r;
}

static int slice_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct store_job *job = data;
    if (!side->selected)
        return -ENOENT;
    return write_reports(side->selected, job->reports, job->n_reports, job->uid, job->modseq, out,
                         &job->written, err);
}

static enum imap_cmd_result store_next(struct imap_cmd *cmd);

static enum imap_cmd_result store_finish(struct imap_cmd *cmd)
{
    const struct store_state *st = cmd->data;
    if (st->modified && *st->modified)
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "[MODIFIED %s] Conditional %s failed.",
                       st->modified, cmd->def->name);
    else
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result slice_done(struct imap_cmd *cmd)
{
    if (cmd->job_result < 0) {
        /* the flags are stored; only some of the answers are missing */
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    struct store_state *st = cmd->data;
    const struct store_job *job = cmd->job_data;
    st->pos += job->written;
    return store_next(cmd);
}

/* The next slice of answers, once the client has read the last. */
static enum imap_cmd_result store_next(struct imap_cmd *cmd)
{
    struct store_state *st = cmd->data;
    if (st->pos >= st->n_reports)
        return store_finish(cmd);
    if (conn_output_pending(cmd->session->conn) > CONN_OUTPUT_HIGH_WATERMARK) {
        cmd->resume = store_next;
        return IMAP_CMD_WAIT_OUTPUT;
    }
    struct store_job *job = xcalloc(1, sizeof(*job));
    size_t n = st->n_reports - st->pos;
    job->n_reports = n < SLICE_MESSAGES ? n : SLICE_MESSAGES;
    job->reports = xmalloc(job->n_reports * sizeof(*job->reports));
    memcpy(job->reports, st->reports + st->pos, job->n_reports * sizeof(*job->reports));
    job->uid = st->uid;
    job->modseq = st->modseq;
    cmd->resume = slice_done;
    imap_store_job(cmd, slice_work, job, free_store_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

static enum imap_cmd_result store_done(struct imap_cmd *cmd)
{
    struct store_job *job = cmd->job_data;
    switch (cmd->job_result) {
    case 0:
        break;
    case -ERANGE:
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", cmd->job_error);
        return IMAP_CMD_DONE;
    case -EINVAL:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid keyword.");
        return IMAP_CMD_DONE;
    case -E2BIG:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_LIMIT, "Too many keywords.");
        return IMAP_CMD_DONE;
    default:
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    /* RFC 7162 §3.1: UNCHANGEDSINCE enables CONDSTORE for the session */
    if (job->conditional)
        imap_session_enable_condstore(cmd->session);
    struct store_state *st = arena_alloc(cmd->arena, sizeof(*st));
    st->reports = job->reports;
    st->n_reports = job->n_reports;
    st->pos = job->written;
    st->modified = arena_strndup(cmd->arena, buf_cstr(&job->modified), job->modified.len);
    st->uid = job->uid;
    st->modseq = job->modseq;
    job->reports = NULL; /* the command's now */
    arena_on_reset(cmd->arena, free, st->reports);
    cmd->data = st;
    return store_next(cmd);
}

/* The data item: FLAGS, +FLAGS or -FLAGS, each maybe .SILENT. */
static bool parse_item(const struct imap_arg *arg, enum store_flag_op *op, bool *silent)
{
    const char *s;
    if (!imap_arg_get_atom(arg, &s))
        return false;
    *op = STORE_FLAGS_REPLACE;
    if (*s == '+' || *s == '-') {
        *op = *s == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
        s++;
    }
    *silent = strcasecmp(s, "FLAGS.SILENT") == 0;
    return *silent || strcasecmp(s, "FLAGS") == 0;
}

/* RFC 7162 §3.1.3 / RFC 4466 §2.5: "(" store-modifier *(SP store-modifier) ")". */
static bool parse_modifiers(const struct imap_arg *arg, bool *conditional, uint64_t *since)
{
    const struct imap_arg *list;
    size_t n;
    if (!imap_arg_get_list(arg, &list, &n) || n == 0)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        if (!imap_arg_is(&list[i], "UNCHANGEDSINCE") || *conditional || i + 1 == n ||
            !imap_arg_get_number64(&list[i + 1], since))
            return false;
        *conditional = true;
    }
    return true;
}

enum imap_cmd_result cmd_store(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct imap_msgset set;
    const char *why = "STORE expects a message set, a data item and flags.";
    enum store_flag_op op;
    bool silent, conditional = false;
    uint64_t since = 0;
    size_t i = 1;
    if (cmd->n_args < 3 || !imap_msgset_get(cmd, &cmd->args[0], &set, &why)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", why);
        return IMAP_CMD_DONE;
    }
    if (cmd->args[i].type == IMAP_ARG_LIST &&
        !parse_modifiers(&cmd->args[i++], &conditional, &since)) {
        imap_msgset_free(&set);
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Unknown or invalid STORE modifier.");
        return IMAP_CMD_DONE;
    }
    if (i + 1 >= cmd->n_args || !parse_item(&cmd->args[i], &op, &silent)) {
        imap_msgset_free(&set);
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "STORE takes FLAGS, +FLAGS or -FLAGS, with .SILENT or not.");
        return IMAP_CMD_DONE;
    }
    i++;
    /* a flag list, or flags without parentheses (RFC 9051 §9 store-att-flags) */
    struct imap_flags flags = {0};
    bool ok = true;
    if (i + 1 == cmd->n_args && cmd->args[i].type == IMAP_ARG_LIST)
        ok = imap_arg_get_flag_list(&cmd->args[i], cmd->arena, &flags);
    else
        for (; ok && i < cmd->n_args; i++)
            ok = imap_flags_add(&flags, cmd->arena, &cmd->args[i]);
    if (!ok) {
        imap_msgset_free(&set);
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "Invalid flag: \\Recent and unknown system flags cannot be stored.");
        return IMAP_CMD_DONE;
    }
    if (s->selected_readonly) {
        /* RFC 9051 §6.3.3: nothing changes in an EXAMINEd mailbox */
        imap_msgset_free(&set);
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_NONE, "Mailbox is read-only.");
        return IMAP_CMD_DONE;
    }
    struct store_job *job = xcalloc(1, sizeof(*job));
    job->set = set;
    job->op = op;
    job->flags = flags.system;
    job->n_keywords = flags.n_keywords;
    job->keywords = xcalloc(flags.n_keywords ? flags.n_keywords : 1, sizeof(*job->keywords));
    for (size_t k = 0; k < flags.n_keywords; k++)
        job->keywords[k] = xstrdup(flags.keywords[k]);
    job->silent = silent;
    job->conditional = conditional;
    job->unchangedsince = since;
    job->uid = cmd->uid;
    job->modseq = conditional || s->enabled_condstore;
    cmd->resume = store_done;
    imap_store_job(cmd, store_work, job, free_store_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}
