/* Expunging messages: files, rows and search text, logged with a MODSEQ for
 * QRESYNC (RFC 7162). */
#include "store/store-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ---- expunge ---- */

/* Removes the messages with these UIDs (files, rows, text), logging them in
 * `expunged` with one new MODSEQ; inside a transaction. */
int msg_expunge_locked(struct store *s, int64_t mailbox_id, const char *dir,
                       const struct store_uids *uids, struct buf *err)
{
    if (uids->count == 0)
        return 0;
    uint64_t modseq;
    int r = mailbox_row_next_modseq(s, mailbox_id, &modseq, err);
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
        mailbox_touch_notify(m->dir);
        view_remove(m, &todo);
        for (size_t i = 0; expunged && i < todo.count; i++)
            uids_push(expunged, todo.uids[i]);
    }
out:
    store_uids_free(&cand);
    store_uids_free(&todo);
    return r;
}
