/* COPY and MOVE (RFC 6851) with the UIDPLUS mapping (RFC 4315). The order
 * of every change that must survive a crash is: file written and fsynced in
 * tmp/, UID reserved in gannet-uidlist, file renamed into cur/ and the
 * directory fsynced, index committed (docs/storage.md). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mailbox-name.h"

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
    struct mailbox_row drow;
    if (r == 0)
        r = mailbox_row_lookup(s, buf_cstr(&dname), &drow, err);
    if (r < 0)
        goto out;
    mailbox_path(s, buf_cstr(&dname), &ddir);
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
        r = mailbox_row_alloc_uids(s, drow.id, buf_cstr(&ddir), (uint32_t)nitems, 0, &first, err);
    if (r == 0 && nitems)
        r = mailbox_row_next_modseq(s, drow.id, &modseq, err);
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
    mailbox_touch_notify(buf_cstr(&ddir));
    if (move && res->src_uids.count) {
        struct buf cur = BUF_INIT;
        buf_printf(&cur, "%s/cur", m->dir);
        maildir_fsync_dir(buf_cstr(&cur));
        buf_free(&cur);
        mailbox_touch_notify(m->dir);
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
