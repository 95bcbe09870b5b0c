#include "imap/imap-sync.h"

#include "lib-imap/imap-format.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* The sequence number of uid in the view, 0 if it is not there. */
static uint32_t seq_of(const struct store_uids *view, uint32_t uid)
{
    size_t lo = 0, hi = view->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (view->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < view->count && view->uids[lo] == uid ? (uint32_t)(lo + 1) : 0;
}

int imap_sync_write_flags(struct store_mailbox *m, const uint32_t *uids, size_t n, struct buf *out,
                          struct buf *err)
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
        buf_puts(out, ")\r\n");
    }
    store_fetch_end(it);
    return r < 0 ? r : 0;
}

int imap_sync_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)data;
    struct store_mailbox *m = side->selected;
    if (!m)
        return 0;
    /* the client's numbers are those of the view before the sync */
    const struct store_uids *view = store_mailbox_view(m);
    struct store_uids before = {0};
    if (view->count) {
        before.uids = xmalloc(view->count * sizeof(*before.uids));
        memcpy(before.uids, view->uids, view->count * sizeof(*before.uids));
        before.count = before.cap = view->count;
    }
    struct store_sync_result res = {0};
    int r = store_mailbox_sync(m, &res, err);
    if (r == 0) {
        /* highest first: each EXPUNGE renumbers only the messages after it */
        for (size_t i = res.expunged.count; i-- > 0;) {
            uint32_t seq = seq_of(&before, res.expunged.uids[i]);
            if (seq)
                buf_printf(out, "* %u EXPUNGE\r\n", seq);
        }
        view = store_mailbox_view(m);
        if (res.added.count)
            buf_printf(out, "* %zu EXISTS\r\n", view->count);
        r = imap_sync_write_flags(m, res.flags_changed.uids, res.flags_changed.count, out, err);
    }
    store_sync_result_free(&res);
    store_uids_free(&before);
    return r;
}
