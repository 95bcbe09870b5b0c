/* An open mailbox and the session's view of it (the UID list IMAP sequence
 * numbers index into), its sync, UID sets resolved against the view, and
 * finding a message file another program renamed. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/mailbox-name.h"

int find_file_by_base(const char *dir, const char *base, struct buf *out, bool *in_new)
{
    static const char *const subs[] = {"cur", "new"};
    size_t blen = strlen(base);
    struct buf p = BUF_INIT;
    int r = -ENOENT;
    for (int i = 0; i < 2 && r < 0; i++) {
        buf_reset(&p);
        buf_printf(&p, "%s/%s", dir, subs[i]);
        DIR *d = opendir(buf_cstr(&p));
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, base, blen) == 0 &&
                (de->d_name[blen] == ':' || de->d_name[blen] == '\0')) {
                buf_puts(out, de->d_name);
                if (in_new)
                    *in_new = i == 1;
                r = 0;
                break;
            }
        }
        closedir(d);
    }
    buf_free(&p);
    return r;
}

/* ---- opening a mailbox ---- */

static int load_view(struct store_mailbox *m, struct store_uids *out, struct buf *err)
{
    sqlite3_stmt *st =
        index_prepare(m->s->db, "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, m->id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        uids_push(out, (uint32_t)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : index_error(m->s->db, rc, "view", err);
}

int store_mailbox_open(struct store *s, const char *name, struct store_mailbox **out,
                       struct buf *err)
{
    *out = NULL;
    struct buf n = BUF_INIT;
    int r = mailbox_name_normalize(name, strlen(name), false, &n, err);
    struct mailbox_row row;
    if (r == 0)
        r = mailbox_row_lookup(s, buf_cstr(&n), &row, err);
    if (r < 0) {
        buf_free(&n);
        return r;
    }
    struct store_mailbox *m = xcalloc(1, sizeof(*m));
    m->s = s;
    m->id = row.id;
    m->name = buf_steal(&n);
    struct buf dir = BUF_INIT;
    mailbox_path(s, m->name, &dir);
    m->dir = buf_steal(&dir);
    m->uidvalidity = row.uidvalidity;
    r = store_mailbox_sync(m, NULL, err);
    if (r < 0) {
        store_mailbox_close(m);
        return r;
    }
    *out = m;
    return 0;
}

void store_mailbox_close(struct store_mailbox *m)
{
    if (!m)
        return;
    store_uids_free(&m->view);
    free(m->name);
    free(m->dir);
    free(m);
}

const char *store_mailbox_name(const struct store_mailbox *m)
{
    return m->name;
}

uint32_t store_mailbox_uidvalidity(const struct store_mailbox *m)
{
    return m->uidvalidity;
}

const struct store_uids *store_mailbox_view(const struct store_mailbox *m)
{
    return &m->view;
}

void store_sync_result_free(struct store_sync_result *r)
{
    store_uids_free(&r->added);
    store_uids_free(&r->expunged);
    store_uids_free(&r->flags_changed);
}

int store_mailbox_sync(struct store_mailbox *m, struct store_sync_result *res, struct buf *err)
{
    if (res)
        memset(res, 0, sizeof(*res));
    struct store *s = m->s;
    int r = index_begin(s->db, err);
    if (r < 0)
        return r;
    r = mailbox_sync_locked(s, m->id, m->name, m->dir, err);
    if (r == 0)
        r = index_commit(s->db, err);
    else
        index_rollback(s->db);
    if (r < 0)
        return r;
    /* Bring the view up to date: what is gone, what is new, what changed
     * since the last sync (RFC 7162 MODSEQ). */
    struct store_uids now = {0};
    struct mailbox_row row;
    r = mailbox_row_lookup(s, m->name, &row, err);
    if (r == 0)
        r = load_view(m, &now, err);
    if (r < 0) {
        store_uids_free(&now);
        return r;
    }
    if (res) {
        for (size_t i = 0; i < m->view.count; i++)
            if (!uids_contains(&now, m->view.uids[i]))
                uids_push(&res->expunged, m->view.uids[i]);
        for (size_t i = 0; i < now.count; i++)
            if (!uids_contains(&m->view, now.uids[i]))
                uids_push(&res->added, now.uids[i]);
        if (m->last_modseq) {
            sqlite3_stmt *st = index_prepare(s->db,
                                             "SELECT uid FROM messages WHERE mailbox_id = ? AND"
                                             " modseq > ? ORDER BY uid",
                                             err);
            if (st) {
                sqlite3_bind_int64(st, 1, m->id);
                sqlite3_bind_int64(st, 2, (int64_t)m->last_modseq);
                while (sqlite3_step(st) == SQLITE_ROW) {
                    uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
                    if (uids_contains(&m->view, uid))
                        uids_push(&res->flags_changed, uid);
                }
                sqlite3_finalize(st);
            }
        }
        res->highestmodseq = row.highestmodseq;
        res->uidnext = row.uidnext;
    }
    store_uids_free(&m->view);
    m->view = now;
    m->last_modseq = row.highestmodseq;
    return 0;
}

int store_mailbox_flag_changes(struct store_mailbox *m, bool seen, struct store_uids *changed,
                               struct buf *err)
{
    struct store *s = m->s;
    /* the mailbox's HIGHESTMODSEQ first: a change committed between the two
     * reads is then listed now and again at the next sync, never missed */
    struct mailbox_row row;
    int r = mailbox_row_lookup(s, m->name, &row, err);
    if (r < 0)
        return r;
    sqlite3_stmt *st = index_prepare(s->db,
                                     "SELECT uid FROM messages WHERE mailbox_id = ? AND"
                                     " modseq > ? ORDER BY uid",
                                     err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, m->id);
    sqlite3_bind_int64(st, 2, (int64_t)m->last_modseq);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
        if (uids_contains(&m->view, uid))
            uids_push(changed, uid);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return index_error(s->db, rc, "flag changes", err);
    if (seen && row.highestmodseq > m->last_modseq)
        m->last_modseq = row.highestmodseq;
    return 0;
}

/* ---- UID sets ---- */

static int cmp_range(const void *a, const void *b)
{
    const struct store_uid_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorted, merged ranges with "*" resolved against the view's largest UID
 * (RFC 9051 §6.4.8: "*" is the largest UID in use; 5:* with max 3 is 3:5). */
static size_t normalize_set(const struct store_mailbox *m, const struct store_uid_range *set,
                            size_t nset, struct store_uid_range **out)
{
    uint32_t max = m->view.count ? m->view.uids[m->view.count - 1] : 0;
    if (!set) {
        *out = xmalloc(sizeof(**out));
        (*out)[0].first = 1;
        (*out)[0].last = UINT32_MAX - 1;
        return 1;
    }
    struct store_uid_range *r = xmalloc((nset ? nset : 1) * sizeof(*r));
    for (size_t i = 0; i < nset; i++) {
        uint32_t a = set[i].first == UINT32_MAX ? max : set[i].first;
        uint32_t b = set[i].last == UINT32_MAX ? max : set[i].last;
        r[i].first = a < b ? a : b;
        r[i].last = a < b ? b : a;
    }
    qsort(r, nset, sizeof(*r), cmp_range);
    size_t n = 0;
    for (size_t i = 0; i < nset; i++) {
        if (n && (uint64_t)r[i].first <= (uint64_t)r[n - 1].last + 1) {
            if (r[i].last > r[n - 1].last)
                r[n - 1].last = r[i].last;
        } else {
            r[n++] = r[i];
        }
    }
    *out = r;
    return n;
}

/* The view's UIDs inside set, ascending. */
void uids_in_set(const struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                 struct store_uids *out)
{
    struct store_uid_range *r;
    size_t n = normalize_set(m, set, nset, &r);
    size_t k = 0;
    for (size_t i = 0; i < m->view.count; i++) {
        uint32_t uid = m->view.uids[i];
        while (k < n && r[k].last < uid)
            k++;
        if (k == n)
            break;
        if (uid >= r[k].first)
            uids_push(out, uid);
    }
    free(r);
}

void view_remove(struct store_mailbox *m, const struct store_uids *gone)
{
    size_t w = 0;
    for (size_t i = 0; i < m->view.count; i++)
        if (!uids_contains(gone, m->view.uids[i]))
            m->view.uids[w++] = m->view.uids[i];
    m->view.count = w;
}
