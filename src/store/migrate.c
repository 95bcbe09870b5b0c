/* Index schema migrations done in place (docs/storage.md "Schema versions"):
 * the cached ENVELOPE, BODY and BODYSTRUCTURE recomputed from the message
 * files, keeping what a rebuild would lose (MODSEQs, client-set special-use). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/message.h"

struct reparse_row {
    int64_t id;
    char *base, *filename;
};

/* One mailbox's messages, inside a transaction. A file that is gone is left
 * for the next sync (which expunges it). */
static int reparse_mailbox(struct store *s, int64_t mailbox_id, const char *dir, size_t *count,
                           struct buf *err)
{
    struct reparse_row *rows = NULL;
    size_t n = 0;
    sqlite3_stmt *st = index_prepare(
        s->db, "SELECT id, base, filename FROM messages WHERE mailbox_id = ? ORDER BY uid", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, mailbox_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows = xrealloc(rows, (n + 1) * sizeof(*rows));
        rows[n].id = sqlite3_column_int64(st, 0);
        rows[n].base = xstrdup((const char *)sqlite3_column_text(st, 1));
        rows[n].filename = xstrdup((const char *)sqlite3_column_text(st, 2));
        n++;
    }
    int r = rc == SQLITE_DONE ? 0 : index_error(s->db, rc, "migrate", err);
    sqlite3_finalize(st);
    st = r == 0 ? index_prepare(s->db,
                                "UPDATE messages SET envelope = ?, bodystructure = ?, body = ?"
                                " WHERE id = ?",
                                err)
                : NULL;
    if (r == 0 && !st)
        r = -EIO;
    struct buf path = BUF_INIT, found = BUF_INIT;
    for (size_t i = 0; r == 0 && i < n; i++) {
        buf_reset(&path);
        buf_printf(&path, "%s/cur/%s", dir, rows[i].filename);
        int fd = open(buf_cstr(&path), O_RDONLY | O_CLOEXEC);
        bool in_new = false;
        buf_reset(&found);
        if (fd < 0 && errno == ENOENT &&
            find_file_by_base(dir, rows[i].base, &found, &in_new) == 0) {
            buf_reset(&path);
            buf_printf(&path, "%s/%s/%s", dir, in_new ? "new" : "cur", buf_cstr(&found));
            fd = open(buf_cstr(&path), O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
            continue;
        struct mail_summary sum;
        memset(&sum, 0, sizeof(sum));
        if (mail_parse_fd(fd, &sum) < 0)
            memset(&sum, 0, sizeof(sum));
        close(fd);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, sum.envelope, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, sum.bodystructure, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, sum.body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, rows[i].id);
        rc = sqlite3_step(st);
        mail_summary_free(&sum);
        if (rc != SQLITE_DONE)
            r = index_error(s->db, rc, "migrate", err);
        else
            (*count)++;
    }
    sqlite3_finalize(st);
    buf_free(&path);
    buf_free(&found);
    for (size_t i = 0; i < n; i++) {
        free(rows[i].base);
        free(rows[i].filename);
    }
    free(rows);
    return r;
}

int msg_reparse_all(struct store *s, size_t *count, struct buf *err)
{
    *count = 0;
    char **names = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    sqlite3_stmt *st = index_prepare(s->db, "SELECT id, name FROM mailboxes ORDER BY id", err);
    if (!st)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        names = xrealloc(names, (n + 1) * sizeof(*names));
        ids = xrealloc(ids, (n + 1) * sizeof(*ids));
        ids[n] = sqlite3_column_int64(st, 0);
        names[n] = xstrdup((const char *)sqlite3_column_text(st, 1));
        n++;
    }
    int r = rc == SQLITE_DONE ? 0 : index_error(s->db, rc, "migrate", err);
    sqlite3_finalize(st);
    struct buf dir = BUF_INIT;
    for (size_t i = 0; r == 0 && i < n; i++) {
        buf_reset(&dir);
        mailbox_path(s, names[i], &dir);
        r = index_begin(s->db, err);
        if (r < 0)
            break;
        r = reparse_mailbox(s, ids[i], buf_cstr(&dir), count, err);
        if (r == 0)
            r = index_commit(s->db, err);
        else
            index_rollback(s->db);
    }
    buf_free(&dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(ids);
    return r;
}
