#include "imap/imap-msgset.h"

#include "imap/imap-commands.h"
#include "imap/session.h"
#include "lib-imap/imap-seqset.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The saved UIDs (ascending) as ranges. */
static void ranges_of_saved(const struct store_uids *saved, struct imap_msgset *out)
{
    out->ranges = xmalloc((saved->count ? saved->count : 1) * sizeof(*out->ranges));
    for (size_t i = 0; i < saved->count; i++) {
        if (out->count && out->ranges[out->count - 1].last + 1 == saved->uids[i])
            out->ranges[out->count - 1].last = saved->uids[i];
        else
            out->ranges[out->count++] = (struct store_uid_range){saved->uids[i], saved->uids[i]};
    }
}

bool imap_msgset_get(struct imap_cmd *cmd, const struct imap_arg *arg, struct imap_msgset *out,
                     const char **why)
{
    memset(out, 0, sizeof(*out));
    struct imap_seqset set;
    if (arg->type != IMAP_ARG_ATOM || !imap_seqset_parse(arg->str, arg->len, cmd->arena, &set)) {
        *why = "Invalid message set.";
        return false;
    }
    if (set.saved) {
        /* RFC 9051 §6.4.4.1: "$" is the saved result, kept as UIDs, whether the
         * command takes sequence numbers or UIDs */
        const struct store_uids *saved = cmd->session->search_saved;
        if (!saved) {
            *why = "No search result was saved for $.";
            return false;
        }
        out->uids = true;
        ranges_of_saved(saved, out);
        return true;
    }
    out->uids = cmd->uid;
    out->count = set.count;
    out->ranges = xmalloc(set.count * sizeof(*out->ranges));
    for (size_t i = 0; i < set.count; i++)
        out->ranges[i] = (struct store_uid_range){set.ranges[i].first, set.ranges[i].last};
    return true;
}

void imap_msgset_free(struct imap_msgset *set)
{
    free(set->ranges);
    set->ranges = NULL;
    set->count = 0;
}

/* The index in view of the first UID >= uid. */
static size_t lower_bound(const struct store_uids *view, uint32_t uid)
{
    size_t lo = 0, hi = view->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (view->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t imap_view_seq(const struct store_uids *view, uint32_t uid)
{
    size_t i = lower_bound(view, uid);
    return i < view->count && view->uids[i] == uid ? (uint32_t)(i + 1) : 0;
}

static int cmp_pos_range(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void push_uid(struct store_uids *u, uint32_t uid)
{
    if (u->count == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->uids = xrealloc(u->uids, u->cap * sizeof(*u->uids));
    }
    u->uids[u->count++] = uid;
}

int imap_msgset_resolve(const struct imap_msgset *set, const struct store_uids *view,
                        struct store_uids *out, struct buf *err)
{
    memset(out, 0, sizeof(*out));
    if (set->count == 0)
        return 0;
    /* each range as a span of view positions [from, to) */
    size_t(*spans)[2] = xmalloc(set->count * sizeof(*spans));
    size_t n = 0;
    uint32_t max_uid = view->count ? view->uids[view->count - 1] : 0;
    for (size_t i = 0; i < set->count; i++) {
        uint32_t a = set->ranges[i].first, b = set->ranges[i].last;
        if (set->uids) {
            /* RFC 9051 §6.4.9: "*" is the largest UID in use, and UIDs that
             * are not there are ignored */
            a = a == UINT32_MAX ? max_uid : a;
            b = b == UINT32_MAX ? max_uid : b;
            uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
            spans[n][0] = lower_bound(view, lo);
            spans[n][1] = hi == UINT32_MAX ? view->count : lower_bound(view, hi + 1);
        } else {
            uint32_t count = (uint32_t)view->count;
            /* "1:*" of an empty mailbox names no message, as clients expect */
            if (count == 0 && (a == UINT32_MAX || b == UINT32_MAX))
                continue;
            a = a == UINT32_MAX ? count : a;
            b = b == UINT32_MAX ? count : b;
            if (a > count || b > count) {
                free(spans);
                buf_puts(err, "Invalid message sequence number.");
                return -ERANGE;
            }
            uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
            spans[n][0] = lo - 1;
            spans[n][1] = hi;
        }
        if (spans[n][0] < spans[n][1])
            n++;
    }
    /* in view order, each message once */
    qsort(spans, n, sizeof(*spans), cmp_pos_range);
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        size_t from = spans[i][0] > next ? spans[i][0] : next;
        for (size_t p = from; p < spans[i][1]; p++)
            push_uid(out, view->uids[p]);
        if (spans[i][1] > next)
            next = spans[i][1];
    }
    free(spans);
    return 0;
}

size_t imap_msgset_ranges(const struct store_uids *uids, const struct store_uids *view,
                          struct store_uid_range **out)
{
    *out = xmalloc((uids->count ? uids->count : 1) * sizeof(**out));
    size_t n = 0, p = 0;
    for (size_t i = 0; i < uids->count; i++) {
        size_t at = p;
        while (at < view->count && view->uids[at] != uids->uids[i])
            at++;
        if (at == view->count)
            continue; /* not in view: not the caller's list */
        if (n && at == p)
            (*out)[n - 1].last = uids->uids[i];
        else
            (*out)[n++] = (struct store_uid_range){uids->uids[i], uids->uids[i]};
        p = at + 1;
    }
    return n;
}

void imap_write_expunges(const struct store_uids *view, const struct store_uids *expunged,
                         struct buf *out)
{
    /* Before the expunge the view held both lists, so the i-th expunged UID
     * had the number (view's UIDs below it) + i + 1; highest first, each
     * number is still right when the client reads it (RFC 9051 §7.5.1). */
    for (size_t i = expunged->count; i-- > 0;)
        buf_printf(out, "* %zu EXPUNGE\r\n", lower_bound(view, expunged->uids[i]) + i + 1);
}
