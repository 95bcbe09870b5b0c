/* Reading messages: FETCH's records from the index, the message files, and
 * full-text SEARCH. */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
