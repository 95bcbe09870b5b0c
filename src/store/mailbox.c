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

static int mailbox_handle(struct store *s, const char *name, struct store_mailbox **out,
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
    *out = m;
    return 0;
}

int store_mailbox_open(struct store *s, const char *name, struct store_mailbox **out,
                       struct buf *err)
{
    int r = mailbox_handle(s, name, out, err);
    if (r == 0)
        r = store_mailbox_sync(*out, NULL, err);
    if (r < 0) {
        store_mailbox_close(*out);
        *out = NULL;
    }
    return r;
}

/* An append needs no view: the UID comes from the mailbox's row and
 * gannet-uidlist under the lock, whatever other programs did meanwhile. */
int store_mailbox_open_append(struct store *s, const char *name, struct store_mailbox **out,
                              struct buf *err)
{
    return mailbox_handle(s, name, out, err);
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
    return store_mailbox_sync_flags(m, 0, res, err);
}

/* The UIDs of a that are not in b (both ascending), appended to out. */
static void uids_minus(const struct store_uids *a, const struct store_uids *b,
                       struct store_uids *out)
{
    size_t k = 0;
    for (size_t i = 0; i < a->count; i++) {
        while (k < b->count && b->uids[k] < a->uids[i])
            k++;
        if (k == b->count || b->uids[k] != a->uids[i])
            uids_push(out, a->uids[i]);
    }
}

/* a and b merged (both ascending, no UID in both). */
static void uids_merge(const struct store_uids *a, const struct store_uids *b,
                       struct store_uids *out)
{
    size_t i = 0, k = 0;
    while (i < a->count || k < b->count) {
        if (k == b->count || (i < a->count && a->uids[i] < b->uids[k]))
            uids_push(out, a->uids[i++]);
        else
            uids_push(out, b->uids[k++]);
    }
}

int store_mailbox_sync_flags(struct store_mailbox *m, unsigned flags, struct store_sync_result *res,
                             struct buf *err)
{
    if (res)
        memset(res, 0, sizeof(*res));
    struct store *s = m->s;
    int r = 0;
    /* The Maildir is scanned (under the index's write lock) only when
     * something may have changed in it: with the mailbox watched, an event
     * says so; every change, by gannet or another program, makes one. */
    if (notify_need_scan(s, m->name)) {
        r = index_begin(s->db, err);
        if (r < 0)
            return r;
        r = mailbox_sync_locked(s, m->id, m->name, m->dir, err);
        if (r == 0)
            r = index_commit(s->db, err);
        else
            index_rollback(s->db);
        if (r < 0)
            return r;
    }
    struct mailbox_row row;
    r = mailbox_row_lookup(s, m->name, &row, err);
    if (r < 0)
        return r;
    if (res) {
        res->highestmodseq = row.highestmodseq;
        res->uidnext = row.uidnext;
    }
    /* Every change to the mailbox's rows gives it a new MODSEQ: the same
     * HIGHESTMODSEQ means the view is up to date. */
    if (m->view_modseq && !m->view_held && row.highestmodseq == m->view_modseq)
        return 0;
    /* Bring the view up to date: what is gone, what is new, what changed
     * since the last sync (RFC 7162 MODSEQ). */
    struct store_uids now = {0}, gone = {0}, added = {0};
    r = load_view(m, &now, err);
    if (r < 0) {
        store_uids_free(&now);
        return r;
    }
    uids_minus(&m->view, &now, &gone);
    uids_minus(&now, &m->view, &added);
    bool hold = (flags & STORE_SYNC_KEEP_EXPUNGED) && gone.count > 0;
    if (hold) {
        /* the client's numbers stay: the expunged UIDs keep their places
         * and the new ones come after them */
        store_uids_free(&now);
        uids_merge(&m->view, &added, &now);
    }
    if (res) {
        if (!hold) {
            res->expunged = gone;
            memset(&gone, 0, sizeof(gone));
        }
        res->added = added;
        memset(&added, 0, sizeof(added));
    }
    /* While expunges are held back, so are flag changes: their MODSEQs may
     * be above an expunge's, and a client that saw them would resync from
     * past that expunge (RFC 7162 §3.2). */
    if (res && m->last_modseq && !hold) {
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
    store_uids_free(&m->view);
    store_uids_free(&gone);
    store_uids_free(&added);
    m->view = now;
    m->view_modseq = row.highestmodseq;
    m->view_held = hold;
    if (!hold)
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

/* ---- what changed since a MODSEQ (CONDSTORE, QRESYNC) ---- */

static size_t normalize_set(const struct store_mailbox *m, const struct store_uid_range *set,
                            size_t nset, struct store_uid_range **out);

int store_mailbox_changed_since(struct store_mailbox *m, uint64_t modseq,
                                const struct store_uid_range *set, size_t nset,
                                struct store_uids *out, struct buf *err)
{
    struct store_uids in_set = {0};
    uids_in_set(m, set, nset, &in_set);
    sqlite3_stmt *st = index_prepare(m->s->db,
                                     "SELECT uid FROM messages WHERE mailbox_id = ? AND"
                                     " modseq > ? ORDER BY uid",
                                     err);
    if (!st) {
        store_uids_free(&in_set);
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, m->id);
    sqlite3_bind_int64(st, 2, modseq > INT64_MAX ? INT64_MAX : (int64_t)modseq);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
        if (uids_contains(&in_set, uid))
            uids_push(out, uid);
    }
    sqlite3_finalize(st);
    store_uids_free(&in_set);
    return rc == SQLITE_DONE ? 0 : index_error(m->s->db, rc, "changed since", err);
}

/* Appends first:last to a range list, joining it to the last range if they touch. */
static void range_push(struct store_uid_range **r, size_t *n, uint32_t first, uint32_t last)
{
    if (*n && (uint64_t)(*r)[*n - 1].last + 1 == first) {
        (*r)[*n - 1].last = last;
        return;
    }
    *r = xrealloc(*r, (*n + 1) * sizeof(**r));
    (*r)[(*n)++] = (struct store_uid_range){first, last};
}

/* Runs a one-number query on the mailbox; 0 and *v (0 for NULL), or an error. */
static int query_number(struct store_mailbox *m, const char *sql, uint64_t *v, struct buf *err)
{
    sqlite3_stmt *st = index_prepare(m->s->db, sql, err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, m->id);
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : index_error(m->s->db, rc, "query", err);
}

int store_mailbox_vanished(struct store_mailbox *m, uint64_t modseq,
                           const struct store_uid_range *set, size_t nset,
                           struct store_uid_range **out, size_t *nout, struct buf *err)
{
    struct store *s = m->s;
    struct mailbox_row row;
    int r = mailbox_row_lookup(s, m->name, &row, err);
    if (r < 0 || row.uidnext <= 1)
        return r;
    uint32_t max = row.uidnext - 1;
    uint64_t oldest = 0;
    r = query_number(m, "SELECT min(modseq) FROM expunged WHERE mailbox_id = ?", &oldest, err);
    if (r < 0)
        return r;
    struct store_uid_range *ranges;
    size_t n = normalize_set(m, set, nset, &ranges);
    /* RFC 7162 §3.2.6: below the oldest expunge remembered (minus one),
     * every UID of the set that is not in the mailbox is reported. */
    bool remembered = oldest && modseq + 1 >= oldest;
    sqlite3_stmt *st = index_prepare(
        s->db,
        remembered ? "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"
                   : "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid",
        err);
    if (!st) {
        free(ranges);
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, m->id);
    if (remembered)
        sqlite3_bind_int64(st, 2, modseq > INT64_MAX ? INT64_MAX : (int64_t)modseq);
    int rc = sqlite3_step(st);
    size_t k = 0;
    if (remembered) {
        /* the expunged UIDs after modseq that are in the set */
        for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
            uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
            while (k < n && ranges[k].last < uid)
                k++;
            if (k == n)
                break;
            if (uid >= ranges[k].first && uid <= max)
                range_push(out, nout, uid, uid);
        }
    } else {
        /* the set's UIDs below UIDNEXT, less those in the mailbox */
        for (k = 0; k < n && ranges[k].first <= max; k++) {
            uint32_t from = ranges[k].first ? ranges[k].first : 1;
            uint32_t to = ranges[k].last < max ? ranges[k].last : max;
            while (from <= to) {
                uint32_t present = 0;
                while (rc == SQLITE_ROW && (present = (uint32_t)sqlite3_column_int64(st, 0)) < from)
                    rc = sqlite3_step(st);
                if (rc != SQLITE_ROW || present > to) {
                    range_push(out, nout, from, to);
                    break;
                }
                if (present > from)
                    range_push(out, nout, from, present - 1);
                if (present == UINT32_MAX)
                    break;
                from = present + 1;
            }
        }
    }
    if (rc == SQLITE_ROW)
        rc = SQLITE_DONE; /* stopped early */
    sqlite3_finalize(st);
    free(ranges);
    return rc == SQLITE_DONE ? 0 : index_error(s->db, rc, "vanished", err);
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
