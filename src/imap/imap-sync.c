#include "imap/imap-sync.h"

#include "imap/session.h"
#include "lib-imap/imap-format.h"
#include "lib-imap/imap-seqset.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* How many UIDs of the ascending list u are below uid. */
static size_t count_below(const struct store_uids *u, uint32_t uid)
{
    size_t lo = 0, hi = u ? u->count : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The sequence number of uid in the view, 0 if it is not there. */
static uint32_t seq_of(const struct store_uids *view, uint32_t uid)
{
    size_t i = count_below(view, uid);
    return i < view->count && view->uids[i] == uid ? (uint32_t)(i + 1) : 0;
}

int imap_sync_write_flags_modseq(struct store_mailbox *m, const uint32_t *uids, size_t n,
                                 bool modseq, struct buf *out, struct buf *err)
{
    if (n == 0)
        return 0;
    struct store_uid_range *set = xcalloc(n, sizeof(*set));
    for (size_t i = 0; i < n; i++)
        set[i] = (struct store_uid_range){uids[i], uids[i]};
    struct store_fetch_iter *it;
    int r = store_fetch_begin(m, set, n, 0, &it, err);
    free(set);
    if (r < 0)
        return r;
    const struct store_uids *view = store_mailbox_view(m);
    const struct store_message *msg;
    while ((r = store_fetch_next(it, &msg, err)) > 0) {
        uint32_t seq = seq_of(view, msg->uid);
        if (seq == 0)
            continue;
        buf_printf(out, "* %u FETCH (UID %u FLAGS ", seq, msg->uid);
        imap_write_flags(out, msg->flags & STORE_FLAGS_STORED, msg->keywords, msg->keyword_count);
        if (modseq)
            buf_printf(out, " MODSEQ (%llu)", (unsigned long long)msg->modseq);
        buf_puts(out, ")\r\n");
    }
    store_fetch_end(it);
    return r < 0 ? r : 0;
}

int imap_sync_write_flags(struct store_mailbox *m, const uint32_t *uids, size_t n, struct buf *out,
                          struct buf *err)
{
    return imap_sync_write_flags_modseq(m, uids, n, false, out, err);
}

/* The EXPUNGEs (or VANISHED) for expunged, with the view after the sync,
 * which also holds the UIDs added by it. */
static void write_expunged(const struct store_uids *expunged, const struct store_uids *view_after,
                           const struct store_uids *added, bool vanished, struct buf *out)
{
    if (expunged->count == 0)
        return;
    if (vanished) {
        buf_puts(out, "* VANISHED ");
        imap_seqset_write_list(out, expunged->uids, expunged->count);
        buf_puts(out, "\r\n");
        return;
    }
    /* Highest first: each EXPUNGE renumbers only the messages after it, so
     * every number is the one of the view before the sync. */
    for (size_t i = expunged->count; i-- > 0;) {
        uint32_t uid = expunged->uids[i];
        size_t seq = count_below(view_after, uid) - count_below(added, uid) + i + 1;
        buf_printf(out, "* %zu EXPUNGE\r\n", seq);
    }
}

void imap_sync_write_expunged(const struct store_uids *expunged,
                              const struct store_uids *view_after, bool vanished, struct buf *out)
{
    write_expunged(expunged, view_after, NULL, vanished, out);
}

int imap_sync_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct imap_sync_opts *opts = data;
    struct imap_sync_opts none = {0};
    if (!opts)
        opts = &none;
    struct store_mailbox *m = side->selected;
    if (!m)
        return 0;
    struct store_sync_result res = {0};
    int r =
        store_mailbox_sync_flags(m, opts->hold_expunges ? STORE_SYNC_KEEP_EXPUNGED : 0, &res, err);
    if (r == 0) {
        const struct store_uids *view = store_mailbox_view(m);
        write_expunged(&res.expunged, view, &res.added, opts->vanished, out);
        if (res.added.count)
            buf_printf(out, "* %zu EXISTS\r\n", view->count);
        r = imap_sync_write_flags_modseq(m, res.flags_changed.uids, res.flags_changed.count,
                                         opts->modseq, out, err);
        /* not while expunges may be held back: the client would take the
         * HIGHESTMODSEQ as the point it has seen everything up to (RFC 7162
         * §3.2) */
        if (r == 0 && opts->highestmodseq && !opts->hold_expunges) {
            buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest.\r\n",
                       (unsigned long long)res.highestmodseq);
            opts->told_highestmodseq = true;
        }
    }
    store_sync_result_free(&res);
    return r;
}

void imap_sync_job(struct imap_cmd *cmd, bool hold_expunges)
{
    struct imap_session *s = cmd->session;
    struct imap_sync_opts *opts = xcalloc(1, sizeof(*opts));
    opts->hold_expunges = hold_expunges;
    opts->vanished = s->enabled_qresync;
    opts->modseq = s->enabled_condstore;
    opts->highestmodseq = s->announce_highestmodseq;
    s->announce_highestmodseq = false;
    imap_store_job(cmd, imap_sync_work, opts, free);
}

void imap_sync_job_done(struct imap_cmd *cmd)
{
    const struct imap_sync_opts *opts = cmd->job_data;
    if (opts && opts->highestmodseq && !opts->told_highestmodseq)
        cmd->session->announce_highestmodseq = true;
}
