/* Appending messages: the index row of a parsed message, and the streaming
 * append (begin, write, commit). The order of every change that must survive
 * a crash is: file written and fsynced in tmp/, UID reserved in
 * gannet-uidlist, file renamed into cur/ and the directory fsynced, index
 * committed (docs/storage.md). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/message.h"

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
    /* After the first commit (into another mailbox, or this one): the
     * summary made, the file's mtime set and the file fsynced, once. */
    bool finished;
    struct mail_summary sum;
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
    if (c->finished)
        return store_err(err, -EINVAL, "append: write after a commit");
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
    if (c->finished)
        mail_summary_free(&c->sum);
    free(c);
}

/* Everything that takes time with the size of the message happens once and
 * before any index's write lock: the parse (fed by store_append_write) and
 * the file's fsync. The file's mtime is INTERNALDATE, as Dovecot reads it:
 * the Maildir describes itself for a rebuild. */
static int append_finish(struct store_append_ctx *c, struct buf *err)
{
    if (c->finished)
        return 0;
    mail_parser_finish(c->parser, &c->sum);
    c->finished = true;
    struct timespec ts[2] = {{c->internal_date, 0}, {c->internal_date, 0}};
    if (futimens(c->fd, ts) < 0 || fsync(c->fd) < 0)
        return store_err(err, -errno, "fsync: %s", strerror(errno));
    return 0;
}

/* Makes the finished file at *tmp (in m's tmp/) a message of m. Under the
 * lock (docs/storage.md, durability order): the UID reserved in
 * gannet-uidlist, the rename into cur/ and its fsync, the rows. On success
 * *tmp is emptied (the file is in cur/); on failure it is left for the
 * caller to remove. */
static int append_place(struct store_append_ctx *c, struct store_mailbox *m, struct buf *tmp,
                        uint32_t *uid_out, struct buf *err)
{
    struct store *s = m->s;
    struct buf base = BUF_INIT, name = BUF_INIT, dst = BUF_INIT;
    bool renamed = false;
    int r = index_begin(s->db, err);
    if (r < 0)
        goto out;
    uint32_t kwbits = 0, uid = 0;
    uint64_t modseq = 0;
    r = keywords_to_bits(m->dir, buf_cstr(&c->keywords), true, &kwbits, err);
    if (r == 0)
        r = mailbox_row_alloc_uids(s, m->id, m->dir, 1, 0, &uid, err);
    if (r == 0)
        r = mailbox_row_next_modseq(s, m->id, &modseq, err);
    if (r < 0)
        goto fail_locked;
    maildir_new_base(&base, c->size, c->size + c->bare_lf, uid);
    maildir_filename_build(&name, buf_cstr(&base), c->flags, kwbits);
    buf_printf(&dst, "%s/cur/%s", m->dir, buf_cstr(&name));
    if (rename(buf_cstr(tmp), buf_cstr(&dst)) < 0) {
        r = store_err(err, -errno, "rename: %s", strerror(errno));
        goto fail_locked;
    }
    renamed = true;
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
    r = msg_insert(s, &mi, &c->sum, err);
    if (r == 0)
        r = index_commit(s->db, err);
    if (r < 0)
        goto fail_locked;
    buf_reset(tmp);
    mailbox_touch_notify(m->dir);
    if (uid_out)
        *uid_out = uid;
    goto out;
fail_locked:
    index_rollback(s->db);
    /* Not acknowledged, so it must not appear later: the reserved UID is
     * simply never used. */
    if (renamed) {
        unlink(buf_cstr(&dst));
        buf_reset(tmp);
    }
out:
    buf_free(&base);
    buf_free(&name);
    buf_free(&dst);
    return r;
}

int store_append_finish(struct store_append_ctx *c, struct buf *err)
{
    return append_finish(c, err);
}

int store_append_commit(struct store_append_ctx *c, uint32_t *uid_out, struct buf *err)
{
    int r = append_finish(c, err);
    if (r == 0)
        r = append_place(c, c->m, &c->tmp_path, uid_out, err);
    store_append_abort(c);
    return r;
}

int store_append_commit_copy(struct store_append_ctx *c, struct store_mailbox *dst,
                             uint32_t *uid_out, struct buf *err)
{
    int r = append_finish(c, err);
    if (r < 0)
        return r;
    /* Its own file in dst's tmp/: a link to the same bytes when both are on
     * one filesystem (a message file's content never changes; flag changes
     * rename one link, an expunge removes one), else a copy, fsynced. */
    struct buf tmp = BUF_INIT;
    buf_printf(&tmp, "%s/tmp/", dst->dir);
    maildir_new_base(&tmp, 0, 0, 0);
    r = msg_copy_file(buf_cstr(&c->tmp_path), buf_cstr(&tmp), err);
    if (r < 0) {
        buf_free(&tmp);
        return r;
    }
    r = append_place(c, dst, &tmp, uid_out, err);
    if (tmp.len)
        unlink(buf_cstr(&tmp));
    buf_free(&tmp);
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
