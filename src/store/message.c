/* Messages in a mailbox: open/close a mailbox, append, copy/move, expunge,
 * flags and keywords with MODSEQ, fetch, full-text search. The order of every
 * change that must survive a crash is: file written and fsynced in tmp/,
 * UID reserved in gannet-uidlist, file renamed into cur/ and the directory
 * fsynced, index committed (docs/storage.md). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "mail/message.h"
#include "store/mailbox-name.h"

int msg_insert_parsed(struct store *s, const struct msg_insert *mi, int fd, struct buf *err)
{
    struct mail_summary sum;
    memset(&sum, 0, sizeof(sum));
    /* a read error leaves the summary empty: the row goes in all the same */
    if (lseek(fd, 0, SEEK_SET) == 0)
        mail_parse_fd(fd, &sum);
    int r = msg_insert(s, mi, &sum, err);
    mail_summary_free(&sum);
    return r;
}

int msg_insert(struct store *s, const struct msg_insert *mi, const struct mail_summary *sum,
               struct buf *err)
{
    sqlite3_stmt *st = index_prepare(s->db,
                                     "INSERT INTO messages (mailbox_id, uid, base, filename, size,"
                                     " vsize, internal_date, sent_date, flags, keywords, modseq,"
                                     " recent, envelope, bodystructure, body, headers)"
                                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                     err);
    int r = 0;
    if (!st) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mi->mailbox_id);
    sqlite3_bind_int64(st, 2, mi->uid);
    sqlite3_bind_text(st, 3, mi->base, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, mi->filename, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)mi->size);
    sqlite3_bind_int64(st, 6, (int64_t)mi->vsize);
    sqlite3_bind_int64(st, 7, (int64_t)mi->internal_date);
    sqlite3_bind_int64(st, 8, (int64_t)sum->sent_date);
    sqlite3_bind_int(st, 9, (int)(mi->flags & STORE_FLAGS_STORED));
    sqlite3_bind_text(st, 10, mi->keywords ? mi->keywords : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, (int64_t)mi->modseq);
    sqlite3_bind_int(st, 12, mi->recent);
    sqlite3_bind_text(st, 13, sum->envelope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, sum->bodystructure, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, sum->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, sum->header_fields, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = index_error(s->db, rc, "message insert", err);
        goto out;
    }
    int64_t rowid = sqlite3_last_insert_rowid(s->db);
    if (sum->search_headers || sum->search_body) {
        st = index_prepare(s->db, "INSERT INTO message_text (rowid, headers, body) VALUES (?,?,?)",
                           err);
        if (!st) {
            r = -EIO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_text(st, 2, sum->search_headers ? sum->search_headers : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, sum->search_body ? sum->search_body : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            r = index_error(s->db, rc, "text insert", err);
    }
out:
    return r;
}

/* ---- keywords ---- */

/* Splits a space-separated keyword list. */
static size_t split_words(char *s, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *w = strtok_r(s, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
        out[n++] = w;
    return n;
}

#define KEYWORDS_MAX 256

int keywords_to_bits(const char *dir, const char *keywords, bool add_missing, uint32_t *bits,
                     struct buf *err)
{
    *bits = 0;
    if (!keywords || !*keywords)
        return 0;
    struct maildir_keywords k;
    maildir_keywords_read(dir, &k);
    char *copy = xstrdup(keywords);
    char *words[KEYWORDS_MAX];
    size_t n = split_words(copy, words, KEYWORDS_MAX);
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        int idx = maildir_keywords_find(&k, words[i]);
        if (idx < 0 && add_missing && k.count < MAILDIR_KEYWORDS_MAX) {
            idx = (int)k.count;
            k.names[k.count++] = xstrdup(words[i]);
            changed = true;
        }
        if (idx >= 0)
            *bits |= 1u << idx;
    }
    int r = 0;
    if (changed)
        r = maildir_keywords_write(dir, &k, err);
    free(copy);
    maildir_keywords_free(&k);
    return r;
}

void keywords_from_bits(const struct maildir_keywords *k, uint32_t bits, struct buf *out)
{
    for (size_t i = 0; i < k->count; i++) {
        if ((bits & (1u << i)) && k->names[i]) {
            if (out->len)
                buf_putc(out, ' ');
            buf_puts(out, k->names[i]);
        }
    }
}

/* RFC 9051 §2.3.2: a keyword is an atom; no flag-looking "\" names. */
static bool keyword_valid(const char *k)
{
    if (!*k || strlen(k) > 128)
        return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
            return false;
    return true;
}

static int keywords_join(const char *const *kw, size_t n, struct buf *out, struct buf *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!keyword_valid(kw[i]))
            return store_err(err, -EINVAL, "invalid keyword");
        bool dup = false;
        char *copy = xstrdup(buf_cstr(out));
        char *words[KEYWORDS_MAX];
        size_t nw = split_words(copy, words, KEYWORDS_MAX);
        for (size_t j = 0; j < nw; j++)
            if (strcasecmp(words[j], kw[i]) == 0)
                dup = true;
        free(copy);
        if (dup)
            continue;
        if (nw >= KEYWORDS_MAX)
            return store_err(err, -E2BIG, "too many keywords");
        if (out->len)
            buf_putc(out, ' ');
        buf_puts(out, kw[i]);
    }
    return 0;
}

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
    struct mbox_row row;
    if (r == 0)
        r = mbox_lookup(s, buf_cstr(&n), &row, err);
    if (r < 0) {
        buf_free(&n);
        return r;
    }
    struct store_mailbox *m = xcalloc(1, sizeof(*m));
    m->s = s;
    m->id = row.id;
    m->name = buf_steal(&n);
    struct buf dir = BUF_INIT;
    mbox_dir(s, m->name, &dir);
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
    r = mbox_sync_locked(s, m->id, m->name, m->dir, err);
    if (r == 0)
        r = index_commit(s->db, err);
    else
        index_rollback(s->db);
    if (r < 0)
        return r;
    /* Bring the view up to date: what is gone, what is new, what changed
     * since the last sync (RFC 7162 MODSEQ). */
    struct store_uids now = {0};
    struct mbox_row row;
    r = mbox_lookup(s, m->name, &row, err);
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
static void uids_in_set(const struct store_mailbox *m, const struct store_uid_range *set,
                        size_t nset, struct store_uids *out)
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

static void view_remove(struct store_mailbox *m, const struct store_uids *gone)
{
    size_t w = 0;
    for (size_t i = 0; i < m->view.count; i++)
        if (!uids_contains(gone, m->view.uids[i]))
            m->view.uids[w++] = m->view.uids[i];
    m->view.count = w;
}

/* ---- append ---- */

struct store_append_ctx {
    struct store_mailbox *m;
    unsigned flags;
    struct buf keywords;
    time_t internal_date;
    int fd;
    struct buf tmp_path;
    uint64_t size;
    uint64_t bare_lf;
    bool prev_cr;
    /* Fed as the data arrives, so that the commit has the summary without
     * reading the file again inside the index's write lock. */
    struct mail_parser *parser;
};

int store_append_begin(struct store_mailbox *m, const struct store_append_options *opt,
                       struct store_append_ctx **out, struct buf *err)
{
    *out = NULL;
    struct store_append_ctx *c = xcalloc(1, sizeof(*c));
    c->m = m;
    c->fd = -1;
    c->parser = mail_parser_new();
    if (opt) {
        c->flags = opt->flags & STORE_FLAGS_STORED;
        c->internal_date = opt->internal_date;
        int r = keywords_join(opt->keywords, opt->keyword_count, &c->keywords, err);
        if (r < 0) {
            store_append_abort(c);
            return r;
        }
    }
    if (!c->internal_date)
        c->internal_date = time(NULL);
    maildir_new_base(&c->tmp_path, 0, 0, 0);
    struct buf p = BUF_INIT;
    buf_printf(&p, "%s/tmp/%s", m->dir, buf_cstr(&c->tmp_path));
    buf_free(&c->tmp_path);
    c->tmp_path = p;
    c->fd = open(buf_cstr(&c->tmp_path), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (c->fd < 0) {
        int r =
            store_err(err, -errno, "cannot create %s: %s", buf_cstr(&c->tmp_path), strerror(errno));
        buf_reset(&c->tmp_path);
        store_append_abort(c);
        return r;
    }
    *out = c;
    return 0;
}

int store_append_write(struct store_append_ctx *c, const void *data, size_t len, struct buf *err)
{
    const char *p = data;
    c->bare_lf += maildir_bare_lf_count(data, len, &c->prev_cr);
    c->size += len;
    while (len > 0) {
        ssize_t n = write(c->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return store_err(err, -errno, "write: %s", strerror(errno));
        }
        mail_parser_feed(c->parser, p, (size_t)n);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void store_append_abort(struct store_append_ctx *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->tmp_path.len)
        unlink(buf_cstr(&c->tmp_path));
    buf_free(&c->tmp_path);
    buf_free(&c->keywords);
    mail_parser_free(c->parser);
    free(c);
}

int store_append_commit(struct store_append_ctx *c, uint32_t *uid_out, struct buf *err)
{
    struct store_mailbox *m = c->m;
    struct store *s = m->s;
    struct buf base = BUF_INIT, name = BUF_INIT, dst = BUF_INIT;
    struct mail_summary sum;
    int r = 0;
    bool renamed = false;
    /* Everything that takes time with the size of the message happens before
     * the index's write lock: the parse (fed by store_append_write) and the
     * file's fsync. The file's mtime is INTERNALDATE, as Dovecot reads it: the
     * Maildir describes itself for a rebuild. */
    mail_parser_finish(c->parser, &sum);
    struct timespec ts[2] = {{c->internal_date, 0}, {c->internal_date, 0}};
    if (futimens(c->fd, ts) < 0 || fsync(c->fd) < 0)
        r = store_err(err, -errno, "fsync: %s", strerror(errno));
    if (r < 0)
        goto out;
    /* Under the lock (docs/storage.md, durability order): the UID reserved in
     * gannet-uidlist, the rename into cur/ and its fsync, the rows. */
    r = index_begin(s->db, err);
    if (r < 0)
        goto out;
    uint32_t kwbits = 0, uid = 0;
    uint64_t modseq = 0;
    r = keywords_to_bits(m->dir, buf_cstr(&c->keywords), true, &kwbits, err);
    if (r == 0)
        r = mbox_alloc_uids(s, m->id, m->dir, 1, 0, &uid, err);
    if (r == 0)
        r = mbox_next_modseq(s, m->id, &modseq, err);
    if (r < 0)
        goto fail_locked;
    maildir_new_base(&base, c->size, c->size + c->bare_lf, uid);
    maildir_filename_build(&name, buf_cstr(&base), c->flags, kwbits);
    buf_printf(&dst, "%s/cur/%s", m->dir, buf_cstr(&name));
    if (rename(buf_cstr(&c->tmp_path), buf_cstr(&dst)) < 0) {
        r = store_err(err, -errno, "rename: %s", strerror(errno));
        goto fail_locked;
    }
    renamed = true;
    buf_reset(&c->tmp_path);
    struct buf cur = BUF_INIT;
    buf_printf(&cur, "%s/cur", m->dir);
    if (maildir_fsync_dir(buf_cstr(&cur)) < 0)
        r = store_err(err, -errno, "fsync cur: %s", strerror(errno));
    buf_free(&cur);
    if (r < 0)
        goto fail_locked;
    struct msg_insert mi = {
        .mailbox_id = m->id,
        .uid = uid,
        .base = buf_cstr(&base),
        .filename = buf_cstr(&name),
        .size = c->size,
        .vsize = c->size + c->bare_lf,
        .internal_date = c->internal_date,
        .flags = c->flags,
        .keywords = buf_cstr(&c->keywords),
        .modseq = modseq,
        .recent = true,
    };
    r = msg_insert(s, &mi, &sum, err);
    if (r == 0)
        r = index_commit(s->db, err);
    if (r < 0)
        goto fail_locked;
    mbox_touch_notify(m->dir);
    if (uid_out)
        *uid_out = uid;
    goto out;
fail_locked:
    index_rollback(s->db);
    /* Not acknowledged, so it must not appear later: the reserved UID is
     * simply never used. */
    if (renamed)
        unlink(buf_cstr(&dst));
out:
    mail_summary_free(&sum);
    buf_free(&base);
    buf_free(&name);
    buf_free(&dst);
    store_append_abort(c);
    return r;
}

int store_append(struct store_mailbox *m, const void *data, size_t len,
                 const struct store_append_options *opt, uint32_t *uid_out, struct buf *err)
{
    struct store_append_ctx *c;
    int r = store_append_begin(m, opt, &c, err);
    if (r < 0)
        return r;
    r = store_append_write(c, data, len, err);
    if (r < 0) {
        store_append_abort(c);
        return r;
    }
    return store_append_commit(c, uid_out, err);
}

int store_append_fd(struct store_mailbox *m, int fd, const struct store_append_options *opt,
                    uint32_t *uid_out, struct buf *err)
{
    struct store_append_ctx *c;
    int r = store_append_begin(m, opt, &c, err);
    if (r < 0)
        return r;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = store_err(err, -errno, "read: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if ((r = store_append_write(c, chunk, (size_t)n, err)) < 0)
            break;
    }
    if (r < 0) {
        store_append_abort(c);
        return r;
    }
    return store_append_commit(c, uid_out, err);
}

/* ---- expunge ---- */

/* Removes the messages with these UIDs (files, rows, text), logging them in
 * `expunged` with one new MODSEQ; inside a transaction. */
int msg_expunge_locked(struct store *s, int64_t mailbox_id, const char *dir,
                       const struct store_uids *uids, struct buf *err)
{
    if (uids->count == 0)
        return 0;
    uint64_t modseq;
    int r = mbox_next_modseq(s, mailbox_id, &modseq, err);
    if (r < 0)
        return r;
    sqlite3_stmt *sel = index_prepare(s->db,
                                      "SELECT id, base, filename FROM messages WHERE"
                                      " mailbox_id = ? AND uid = ?",
                                      err);
    sqlite3_stmt *del_text = index_prepare(s->db, "DELETE FROM message_text WHERE rowid = ?", err);
    sqlite3_stmt *del = index_prepare(s->db, "DELETE FROM messages WHERE id = ?", err);
    sqlite3_stmt *log = index_prepare(s->db,
                                      "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
                                      " VALUES (?, ?, ?)",
                                      err);
    if (!sel || !del_text || !del || !log)
        r = -EIO;
    struct buf path = BUF_INIT, found = BUF_INIT;
    for (size_t i = 0; r == 0 && i < uids->count; i++) {
        sqlite3_bind_int64(sel, 1, mailbox_id);
        sqlite3_bind_int64(sel, 2, uids->uids[i]);
        if (sqlite3_step(sel) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(sel, 0);
            buf_reset(&path);
            buf_printf(&path, "%s/cur/%s", dir, (const char *)sqlite3_column_text(sel, 2));
            if (unlink(buf_cstr(&path)) < 0 && errno == ENOENT) {
                /* renamed meanwhile by another program: find it by base */
                buf_reset(&found);
                bool in_new = false;
                if (find_file_by_base(dir, (const char *)sqlite3_column_text(sel, 1), &found,
                                      &in_new) == 0) {
                    buf_reset(&path);
                    buf_printf(&path, "%s/%s/%s", dir, in_new ? "new" : "cur", buf_cstr(&found));
                    unlink(buf_cstr(&path));
                }
            }
            sqlite3_bind_int64(del_text, 1, id);
            sqlite3_bind_int64(del, 1, id);
            sqlite3_bind_int64(log, 1, mailbox_id);
            sqlite3_bind_int64(log, 2, uids->uids[i]);
            sqlite3_bind_int64(log, 3, (int64_t)modseq);
            if (sqlite3_step(del_text) != SQLITE_DONE || sqlite3_step(del) != SQLITE_DONE ||
                sqlite3_step(log) != SQLITE_DONE)
                r = index_error(s->db, sqlite3_errcode(s->db), "expunge", err);
            sqlite3_reset(del_text);
            sqlite3_reset(del);
            sqlite3_reset(log);
        }
        sqlite3_reset(sel);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(del_text);
    sqlite3_finalize(del);
    sqlite3_finalize(log);
    buf_free(&path);
    buf_free(&found);
    return r;
}

int store_expunge(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                  bool only_deleted, struct store_uids *expunged, struct buf *err)
{
    struct store *s = m->s;
    struct store_uids cand = {0}, todo = {0};
    if (!set)
        only_deleted = true;
    uids_in_set(m, set, nset, &cand);
    int r = index_begin(s->db, err);
    if (r < 0)
        goto out;
    if (only_deleted) {
        sqlite3_stmt *st = index_prepare(s->db,
                                         "SELECT uid FROM messages WHERE mailbox_id = ? AND"
                                         " flags & 8 ORDER BY uid",
                                         err);
        if (!st)
            r = -EIO;
        else {
            sqlite3_bind_int64(st, 1, m->id);
            while (sqlite3_step(st) == SQLITE_ROW) {
                uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
                if (uids_contains(&cand, uid))
                    uids_push(&todo, uid);
            }
            sqlite3_finalize(st);
        }
    } else {
        todo = cand;
        memset(&cand, 0, sizeof(cand));
    }
    if (r == 0)
        r = msg_expunge_locked(s, m->id, m->dir, &todo, err);
    if (r == 0)
        r = index_commit(s->db, err);
    else
        index_rollback(s->db);
    if (r == 0 && todo.count) {
        struct buf cur = BUF_INIT;
        buf_printf(&cur, "%s/cur", m->dir);
        maildir_fsync_dir(buf_cstr(&cur));
        buf_free(&cur);
        mbox_touch_notify(m->dir);
        view_remove(m, &todo);
        for (size_t i = 0; expunged && i < todo.count; i++)
            uids_push(expunged, todo.uids[i]);
    }
out:
    store_uids_free(&cand);
    store_uids_free(&todo);
    return r;
}

/* ---- copy / move ---- */

void store_copy_result_free(struct store_copy_result *r)
{
    store_uids_free(&r->src_uids);
    store_uids_free(&r->dst_uids);
}

/* Puts a copy of src (same bytes) at dst: a hard link when possible (the
 * content of a message file never changes), else a copy with fsync. */
int msg_copy_file(const char *src, const char *dst, struct buf *err)
{
    if (link(src, dst) == 0)
        return 0;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int r = 0;
    if (out < 0)
        r = -errno;
    char chunk[65536];
    while (r == 0) {
        ssize_t n = read(in, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        for (ssize_t w = 0; w < n && r == 0;) {
            ssize_t k = write(out, chunk + w, (size_t)(n - w));
            if (k < 0 && errno != EINTR)
                r = -errno;
            else if (k > 0)
                w += k;
        }
    }
    struct stat st;
    if (r == 0 && fstat(in, &st) == 0) {
        struct timespec ts[2] = {st.st_mtim, st.st_mtim};
        futimens(out, ts);
    }
    if (r == 0 && fsync(out) < 0)
        r = -errno;
    if (out >= 0)
        close(out);
    close(in);
    if (r < 0) {
        unlink(dst);
        store_err(err, r, "copy: %s", strerror(-r));
    }
    return r;
}

struct copy_item {
    uint32_t src_uid;
    int64_t src_id;
    char *src_base;
    char *tmp_path;
    unsigned flags;
    char *keywords;
    uint64_t size, vsize;
};

int store_copy(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
               const char *dst, bool move, struct store_copy_result *res, struct buf *err)
{
    struct store *s = m->s;
    memset(res, 0, sizeof(*res));
    struct buf dname = BUF_INIT, ddir = BUF_INIT;
    struct store_uids uids = {0};
    struct copy_item *items = NULL;
    size_t nitems = 0;
    int r = mailbox_name_normalize(dst, strlen(dst), false, &dname, err);
    struct mbox_row drow;
    if (r == 0)
        r = mbox_lookup(s, buf_cstr(&dname), &drow, err);
    if (r < 0)
        goto out;
    mbox_dir(s, buf_cstr(&dname), &ddir);
    uids_in_set(m, set, nset, &uids);
    items = xcalloc(uids.count ? uids.count : 1, sizeof(*items));
    /* 1. Files into the destination's tmp/, durable, before the lock. */
    sqlite3_stmt *sel = index_prepare(s->db,
                                      "SELECT id, base, filename, flags, keywords, size, vsize"
                                      " FROM messages WHERE mailbox_id = ? AND uid = ?",
                                      err);
    if (!sel) {
        r = -EIO;
        goto out;
    }
    struct buf src = BUF_INIT, found = BUF_INIT;
    for (size_t i = 0; r == 0 && i < uids.count; i++) {
        sqlite3_bind_int64(sel, 1, m->id);
        sqlite3_bind_int64(sel, 2, uids.uids[i]);
        if (sqlite3_step(sel) == SQLITE_ROW) {
            struct copy_item *it = &items[nitems];
            it->src_uid = uids.uids[i];
            it->src_id = sqlite3_column_int64(sel, 0);
            it->src_base = xstrdup((const char *)sqlite3_column_text(sel, 1));
            it->flags = (unsigned)sqlite3_column_int(sel, 3);
            it->keywords = xstrdup((const char *)sqlite3_column_text(sel, 4));
            it->size = (uint64_t)sqlite3_column_int64(sel, 5);
            it->vsize = (uint64_t)sqlite3_column_int64(sel, 6);
            struct buf tmp = BUF_INIT;
            buf_printf(&tmp, "%s/tmp/", buf_cstr(&ddir));
            maildir_new_base(&tmp, 0, 0, 0);
            it->tmp_path = buf_steal(&tmp);
            nitems++;
            buf_reset(&src);
            buf_printf(&src, "%s/cur/%s", m->dir, (const char *)sqlite3_column_text(sel, 2));
            r = msg_copy_file(buf_cstr(&src), it->tmp_path, err);
            if (r == -ENOENT) {
                buf_reset(&found);
                bool in_new = false;
                if (find_file_by_base(m->dir, it->src_base, &found, &in_new) == 0) {
                    buf_reset(&src);
                    buf_printf(&src, "%s/%s/%s", m->dir, in_new ? "new" : "cur", buf_cstr(&found));
                    r = msg_copy_file(buf_cstr(&src), it->tmp_path, err);
                }
                if (r < 0)
                    r = store_err(err, -ENOENT, "message %u vanished", it->src_uid);
            }
            if (r < 0) {
                free(it->tmp_path);
                it->tmp_path = NULL;
            }
        }
        sqlite3_reset(sel);
    }
    sqlite3_finalize(sel);
    buf_free(&src);
    buf_free(&found);
    if (r < 0)
        goto out;
    /* 2. Under the lock: UIDs reserved, files renamed into cur/ and fsynced,
     * rows inserted; for a move the sources go in the same transaction. */
    if ((r = index_begin(s->db, err)) < 0)
        goto out;
    uint32_t first = 0;
    uint64_t modseq = 0;
    if (nitems)
        r = mbox_alloc_uids(s, drow.id, buf_cstr(&ddir), (uint32_t)nitems, 0, &first, err);
    if (r == 0 && nitems)
        r = mbox_next_modseq(s, drow.id, &modseq, err);
    sqlite3_stmt *ins = index_prepare(s->db,
                                      "INSERT INTO messages (mailbox_id, uid, base, filename, size,"
                                      " vsize, internal_date, sent_date, flags, keywords, modseq,"
                                      " recent, envelope, bodystructure, body, headers)"
                                      " SELECT ?1, ?2, ?3, ?4, size, vsize, internal_date,"
                                      " sent_date, flags, keywords, ?5, 1, envelope,"
                                      " bodystructure, body, headers FROM messages WHERE id = ?6",
                                      err);
    sqlite3_stmt *ins_text = index_prepare(s->db,
                                           "INSERT INTO message_text (rowid, headers, body)"
                                           " SELECT ?1, headers, body FROM message_text"
                                           " WHERE rowid = ?2",
                                           err);
    if (!ins || !ins_text)
        r = -EIO;
    struct buf base = BUF_INIT, name = BUF_INIT, path = BUF_INIT;
    size_t done = 0;
    for (size_t i = 0; r == 0 && i < nitems; i++) {
        struct copy_item *it = &items[i];
        uint32_t uid = first + (uint32_t)i;
        uint32_t kwbits = 0;
        r = keywords_to_bits(buf_cstr(&ddir), it->keywords, true, &kwbits, err);
        buf_reset(&base);
        buf_reset(&name);
        buf_reset(&path);
        maildir_new_base(&base, it->size, it->vsize, uid);
        maildir_filename_build(&name, buf_cstr(&base), it->flags, kwbits);
        buf_printf(&path, "%s/cur/%s", buf_cstr(&ddir), buf_cstr(&name));
        if (r == 0 && rename(it->tmp_path, buf_cstr(&path)) < 0)
            r = store_err(err, -errno, "rename: %s", strerror(errno));
        if (r < 0)
            break;
        free(it->tmp_path);
        it->tmp_path = xstrdup(buf_cstr(&path)); /* now the destination file */
        done++;
        sqlite3_bind_int64(ins, 1, drow.id);
        sqlite3_bind_int64(ins, 2, uid);
        sqlite3_bind_text(ins, 3, buf_cstr(&base), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, buf_cstr(&name), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 5, (int64_t)modseq);
        sqlite3_bind_int64(ins, 6, it->src_id);
        if (sqlite3_step(ins) != SQLITE_DONE)
            r = index_error(s->db, sqlite3_errcode(s->db), "copy", err);
        sqlite3_reset(ins);
        if (r == 0) {
            sqlite3_bind_int64(ins_text, 1, sqlite3_last_insert_rowid(s->db));
            sqlite3_bind_int64(ins_text, 2, it->src_id);
            sqlite3_step(ins_text);
            sqlite3_reset(ins_text);
        }
        uids_push(&res->src_uids, it->src_uid);
        uids_push(&res->dst_uids, uid);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(ins_text);
    buf_free(&base);
    buf_free(&name);
    buf_free(&path);
    if (r == 0 && nitems) {
        struct buf cur = BUF_INIT;
        buf_printf(&cur, "%s/cur", buf_cstr(&ddir));
        if (maildir_fsync_dir(buf_cstr(&cur)) < 0)
            r = store_err(err, -errno, "fsync: %s", strerror(errno));
        buf_free(&cur);
    }
    /* RFC 6851: the sources are expunged only once the copies are durable. */
    if (r == 0 && move)
        r = msg_expunge_locked(s, m->id, m->dir, &res->src_uids, err);
    if (r == 0)
        r = index_commit(s->db, err);
    if (r < 0) {
        index_rollback(s->db);
        for (size_t i = 0; i < done; i++)
            unlink(items[i].tmp_path);
        store_copy_result_free(res);
        goto out;
    }
    res->uidvalidity = drow.uidvalidity;
    mbox_touch_notify(buf_cstr(&ddir));
    if (move && res->src_uids.count) {
        struct buf cur = BUF_INIT;
        buf_printf(&cur, "%s/cur", m->dir);
        maildir_fsync_dir(buf_cstr(&cur));
        buf_free(&cur);
        mbox_touch_notify(m->dir);
        view_remove(m, &res->src_uids);
    }
    for (size_t i = 0; i < nitems; i++) {
        free(items[i].tmp_path);
        items[i].tmp_path = NULL;
    }
out:
    for (size_t i = 0; i < nitems; i++) {
        if (items[i].tmp_path) {
            unlink(items[i].tmp_path);
            free(items[i].tmp_path);
        }
        free(items[i].src_base);
        free(items[i].keywords);
    }
    free(items);
    store_uids_free(&uids);
    buf_free(&dname);
    buf_free(&ddir);
    return r;
}

/* ---- flags ---- */

void store_flags_result_free(struct store_flags_result *r)
{
    store_uids_free(&r->changed);
    store_uids_free(&r->modified);
}

/* Applies op to a keyword list (case-insensitive, RFC 9051 §2.3.2). */
static void keywords_apply(const char *cur, enum store_flag_op op, const char *const *kw,
                           size_t nkw, struct buf *out)
{
    char *copy = xstrdup(cur);
    char *words[KEYWORDS_MAX];
    size_t n = split_words(copy, words, KEYWORDS_MAX);
    if (op != STORE_FLAGS_REPLACE) {
        for (size_t i = 0; i < n; i++) {
            bool drop = false;
            for (size_t j = 0; op == STORE_FLAGS_REMOVE && j < nkw; j++)
                if (strcasecmp(words[i], kw[j]) == 0)
                    drop = true;
            if (!drop)
                keywords_join((const char *const *)&words[i], 1, out, NULL);
        }
    }
    if (op != STORE_FLAGS_REMOVE)
        keywords_join(kw, nkw, out, NULL);
    free(copy);
}

/* Same set of keywords, whatever the order and case. */
static bool keywords_equal(const char *a, const char *b)
{
    char *ca = xstrdup(a), *cb = xstrdup(b);
    char *wa[KEYWORDS_MAX], *wb[KEYWORDS_MAX];
    size_t na = split_words(ca, wa, KEYWORDS_MAX), nb = split_words(cb, wb, KEYWORDS_MAX);
    bool eq = na == nb;
    for (size_t i = 0; eq && i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = strcasecmp(wa[i], wb[j]) == 0;
        eq = found;
    }
    free(ca);
    free(cb);
    return eq;
}

int store_set_flags(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                    enum store_flag_op op, unsigned flags, const char *const *keywords,
                    size_t keyword_count, uint64_t unchangedsince, struct store_flags_result *res,
                    struct buf *err)
{
    struct store *s = m->s;
    memset(res, 0, sizeof(*res));
    flags &= STORE_FLAGS_STORED;
    for (size_t i = 0; i < keyword_count; i++)
        if (!keyword_valid(keywords[i]))
            return store_err(err, -EINVAL, "invalid keyword");
    struct store_uids uids = {0};
    uids_in_set(m, set, nset, &uids);
    int r = index_begin(s->db, err);
    if (r < 0) {
        store_uids_free(&uids);
        return r;
    }
    uint64_t modseq = 0;
    sqlite3_stmt *sel = index_prepare(s->db,
                                      "SELECT id, base, filename, flags, keywords, modseq FROM"
                                      " messages WHERE mailbox_id = ? AND uid = ?",
                                      err);
    sqlite3_stmt *up = index_prepare(s->db,
                                     "UPDATE messages SET flags = ?, keywords = ?, modseq = ?,"
                                     " filename = ? WHERE id = ?",
                                     err);
    if (!sel || !up)
        r = -EIO;
    struct buf kw = BUF_INIT, name = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
    bool renamed = false;
    for (size_t i = 0; r == 0 && i < uids.count; i++) {
        sqlite3_bind_int64(sel, 1, m->id);
        sqlite3_bind_int64(sel, 2, uids.uids[i]);
        if (sqlite3_step(sel) != SQLITE_ROW) {
            sqlite3_reset(sel);
            continue;
        }
        int64_t id = sqlite3_column_int64(sel, 0);
        const char *base = (const char *)sqlite3_column_text(sel, 1);
        const char *filename = (const char *)sqlite3_column_text(sel, 2);
        unsigned old = (unsigned)sqlite3_column_int(sel, 3);
        const char *oldkw = (const char *)sqlite3_column_text(sel, 4);
        uint64_t msg_modseq = (uint64_t)sqlite3_column_int64(sel, 5);
        /* RFC 7162 §3.1.3: UNCHANGEDSINCE leaves newer messages alone. */
        if (unchangedsince && msg_modseq > unchangedsince) {
            uids_push(&res->modified, uids.uids[i]);
            sqlite3_reset(sel);
            continue;
        }
        unsigned nf = op == STORE_FLAGS_REPLACE ? flags
                      : op == STORE_FLAGS_ADD   ? old | flags
                                                : old & ~flags;
        buf_reset(&kw);
        keywords_apply(oldkw, op, keywords, keyword_count, &kw);
        if (nf == old && keywords_equal(oldkw, buf_cstr(&kw))) {
            sqlite3_reset(sel);
            continue;
        }
        if (!modseq && (r = mbox_next_modseq(s, m->id, &modseq, err)) < 0)
            break;
        uint32_t kwbits = 0;
        r = keywords_to_bits(m->dir, buf_cstr(&kw), true, &kwbits, err);
        buf_reset(&name);
        maildir_filename_build(&name, base, nf, kwbits);
        if (r == 0 && strcmp(buf_cstr(&name), filename) != 0) {
            buf_reset(&from);
            buf_reset(&to);
            buf_printf(&from, "%s/cur/%s", m->dir, filename);
            buf_printf(&to, "%s/cur/%s", m->dir, buf_cstr(&name));
            if (rename(buf_cstr(&from), buf_cstr(&to)) < 0) {
                /* renamed by another program: find it by base; if it is gone,
                 * the next sync expunges it */
                struct buf found = BUF_INIT;
                bool in_new = false;
                if (find_file_by_base(m->dir, base, &found, &in_new) == 0) {
                    buf_reset(&from);
                    buf_printf(&from, "%s/%s/%s", m->dir, in_new ? "new" : "cur", buf_cstr(&found));
                    rename(buf_cstr(&from), buf_cstr(&to));
                }
                buf_free(&found);
            }
            renamed = true;
        }
        sqlite3_bind_int(up, 1, (int)nf);
        sqlite3_bind_text(up, 2, buf_cstr(&kw), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 3, (int64_t)modseq);
        sqlite3_bind_text(up, 4, buf_cstr(&name), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 5, id);
        if (r == 0 && sqlite3_step(up) != SQLITE_DONE)
            r = index_error(s->db, sqlite3_errcode(s->db), "store flags", err);
        sqlite3_reset(up);
        sqlite3_reset(sel);
        if (r == 0)
            uids_push(&res->changed, uids.uids[i]);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(up);
    buf_free(&kw);
    buf_free(&name);
    buf_free(&from);
    buf_free(&to);
    if (r == 0)
        r = index_commit(s->db, err);
    else
        index_rollback(s->db);
    store_uids_free(&uids);
    if (r < 0) {
        store_flags_result_free(res);
        return r;
    }
    (void)renamed;
    res->modseq = modseq;
    if (modseq)
        mbox_touch_notify(m->dir);
    return 0;
}

/* ---- fetch ---- */

struct store_fetch_iter {
    struct store_mailbox *m;
    sqlite3_stmt *st;
    struct store_uids uids;
    size_t pos;
    struct store_message msg;
    struct buf path;
    char *kwcopy;
    char *kw[KEYWORDS_MAX];
};

int store_fetch_begin(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                      unsigned want, struct store_fetch_iter **out, struct buf *err)
{
    *out = NULL;
    struct store_fetch_iter *it = xcalloc(1, sizeof(*it));
    it->m = m;
    uids_in_set(m, set, nset, &it->uids);
    struct buf sql = BUF_INIT;
    buf_printf(&sql,
               "SELECT uid, modseq, flags, keywords, filename, size, vsize, internal_date,"
               " sent_date, recent, %s, %s, %s, %s FROM messages WHERE mailbox_id = ? AND uid = ?",
               want & STORE_FETCH_ENVELOPE ? "envelope" : "NULL",
               want & STORE_FETCH_BODYSTRUCTURE ? "bodystructure" : "NULL",
               want & STORE_FETCH_BODY ? "body" : "NULL",
               want & STORE_FETCH_HEADERS ? "headers" : "NULL");
    it->st = index_prepare(m->s->db, buf_cstr(&sql), err);
    buf_free(&sql);
    if (!it->st) {
        store_fetch_end(it);
        return -EIO;
    }
    *out = it;
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int store_fetch_next(struct store_fetch_iter *it, const struct store_message **msg, struct buf *err)
{
    sqlite3_stmt *st = it->st;
    while (it->pos < it->uids.count) {
        uint32_t uid = it->uids.uids[it->pos++];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, it->m->id);
        sqlite3_bind_int64(st, 2, uid);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            continue; /* expunged by another process since the last sync */
        if (rc != SQLITE_ROW)
            return index_error(it->m->s->db, rc, "fetch", err);
        struct store_message *m = &it->msg;
        memset(m, 0, sizeof(*m));
        m->uid = uid;
        m->modseq = (uint64_t)sqlite3_column_int64(st, 1);
        m->flags = (unsigned)sqlite3_column_int(st, 2);
        free(it->kwcopy);
        it->kwcopy = xstrdup(col_text(st, 3));
        m->keyword_count = split_words(it->kwcopy, it->kw, KEYWORDS_MAX);
        m->keywords = (const char *const *)it->kw;
        buf_reset(&it->path);
        buf_printf(&it->path, "%s/cur/%s", it->m->dir, col_text(st, 4));
        m->path = buf_cstr(&it->path);
        m->size = (uint64_t)sqlite3_column_int64(st, 5);
        m->virtual_size = (uint64_t)sqlite3_column_int64(st, 6);
        m->internal_date = (time_t)sqlite3_column_int64(st, 7);
        m->sent_date = (time_t)sqlite3_column_int64(st, 8);
        if (sqlite3_column_int(st, 9))
            m->flags |= STORE_FLAG_RECENT;
        m->envelope = col_text(st, 10);
        m->bodystructure = col_text(st, 11);
        m->body = col_text(st, 12);
        m->headers = col_text(st, 13);
        *msg = m;
        return 1;
    }
    return 0;
}

void store_fetch_end(struct store_fetch_iter *it)
{
    if (!it)
        return;
    sqlite3_finalize(it->st);
    store_uids_free(&it->uids);
    buf_free(&it->path);
    free(it->kwcopy);
    free(it);
}

int store_message_path(struct store_mailbox *m, uint32_t uid, struct buf *path, struct buf *err)
{
    sqlite3_stmt *st = index_prepare(m->s->db,
                                     "SELECT filename FROM messages WHERE mailbox_id = ? AND"
                                     " uid = ?",
                                     err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, m->id);
    sqlite3_bind_int64(st, 2, uid);
    int r = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        buf_printf(path, "%s/cur/%s", m->dir, col_text(st, 0));
    else
        r = store_err(err, -ENOENT, "no message with UID %u", uid);
    sqlite3_finalize(st);
    return r;
}

int store_message_open(struct store_mailbox *m, uint32_t uid, int *fd_out, uint64_t *size_out,
                       struct buf *err)
{
    struct buf path = BUF_INIT;
    int r = store_message_path(m, uid, &path, err);
    int fd = -1;
    if (r == 0) {
        fd = open(buf_cstr(&path), O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            /* Renamed by another program (a flag change): the base part of
             * the name stays, look for it. */
            sqlite3_stmt *st = index_prepare(m->s->db,
                                             "SELECT base FROM messages WHERE mailbox_id = ? AND"
                                             " uid = ?",
                                             NULL);
            struct buf found = BUF_INIT;
            bool in_new = false;
            if (st) {
                sqlite3_bind_int64(st, 1, m->id);
                sqlite3_bind_int64(st, 2, uid);
                if (sqlite3_step(st) == SQLITE_ROW &&
                    find_file_by_base(m->dir, col_text(st, 0), &found, &in_new) == 0) {
                    buf_reset(&path);
                    buf_printf(&path, "%s/%s/%s", m->dir, in_new ? "new" : "cur", buf_cstr(&found));
                    fd = open(buf_cstr(&path), O_RDONLY | O_CLOEXEC);
                }
                sqlite3_finalize(st);
            }
            buf_free(&found);
        }
        if (fd < 0)
            r = store_err(err, -errno, "cannot open message %u: %s", uid, strerror(errno));
    }
    if (r == 0 && size_out) {
        struct stat st;
        *size_out = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    buf_free(&path);
    *fd_out = fd;
    return r;
}

int store_search_text(struct store_mailbox *m, enum store_search_field field, const char *words,
                      struct store_uids *out, struct buf *err)
{
    struct store_uids all = {0};
    int r = index_search_text(m->s->db, m->id, field, words, &all, err);
    for (size_t i = 0; r == 0 && i < all.count; i++)
        if (uids_contains(&m->view, all.uids[i]))
            uids_push(out, all.uids[i]);
    store_uids_free(&all);
    return r;
}
