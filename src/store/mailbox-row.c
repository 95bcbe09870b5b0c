/* A mailbox's row in the index and its state beside the Maildir: lookup,
 * registration with UIDVALIDITY/UIDNEXT from gannet-uidlist, UID and MODSEQ
 * allocation, the change notification file. Below store.c and the message
 * files, which all use it. */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/mailbox-name.h"

#define UIDVALIDITY_FILE "gannet-uidvalidity"

void mailbox_path(const struct store *s, const char *name, struct buf *out)
{
    buf_puts(out, s->root);
    if (!mailbox_name_is_inbox(name)) {
        buf_putc(out, '/');
        mailbox_name_to_dir(name, out);
    }
}

int mailbox_row_lookup(struct store *s, const char *name, struct mailbox_row *row, struct buf *err)
{
    sqlite3_stmt *st = index_prepare(s->db,
                                     "SELECT id, uidvalidity, uidnext, highestmodseq, special_use,"
                                     " subscribed FROM mailboxes WHERE name = ?",
                                     err);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW) {
        row->id = sqlite3_column_int64(st, 0);
        row->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
        row->uidnext = (uint32_t)sqlite3_column_int64(st, 2);
        row->highestmodseq = (uint64_t)sqlite3_column_int64(st, 3);
        row->special_use = (unsigned)sqlite3_column_int(st, 4);
        row->subscribed = sqlite3_column_int(st, 5) != 0;
    } else if (rc == SQLITE_DONE) {
        r = store_err(err, -ENOENT, "mailbox does not exist: %s", name);
    } else {
        r = index_error(s->db, rc, "mailbox lookup", err);
    }
    sqlite3_finalize(st);
    return r;
}

/* A UIDVALIDITY never given before in this store: max(now, last + 1), with
 * the last one kept in a file of its own, so that a mailbox deleted and
 * created again within one second cannot repeat a UIDVALIDITY with UIDs
 * starting over (RFC 9051 §2.3.1.1). */
static int new_uidvalidity(struct store *s, uint32_t *out, struct buf *err)
{
    struct buf p = BUF_INIT;
    buf_printf(&p, "%s/%s", s->root, UIDVALIDITY_FILE);
    uint32_t last = 0;
    FILE *f = fopen(buf_cstr(&p), "re");
    if (f) {
        unsigned long v = 0;
        if (fscanf(f, "%lu", &v) == 1 && v < UINT32_MAX)
            last = (uint32_t)v;
        fclose(f);
    }
    buf_free(&p);
    uint32_t now = (uint32_t)time(NULL);
    uint32_t v = now > last ? now : last + 1;
    char content[32];
    int n = snprintf(content, sizeof(content), "%" PRIu32 "\n", v);
    int r = maildir_write_file_atomic(s->root, UIDVALIDITY_FILE, content, (size_t)n, err);
    if (r == 0)
        *out = v;
    return r;
}

int mailbox_row_register(struct store *s, const char *name, unsigned special_use, bool subscribed,
                         struct mailbox_row *row, struct buf *err)
{
    struct buf dir = BUF_INIT;
    mailbox_path(s, name, &dir);
    uint32_t uidvalidity = 0, uidnext = 0;
    int r = 0;
    if (maildir_uidlist_read(buf_cstr(&dir), &uidvalidity, &uidnext) < 0) {
        /* No state file of our own: a Dovecot Maildir keeps its UIDs, else
         * a new UIDVALIDITY; the UIDs a sync finds in ",U=" names stay. */
        struct dovecot_uidlist dl;
        if (dovecot_uidlist_read(buf_cstr(&dir), &dl) == 0) {
            uidvalidity = dl.uidvalidity;
            uidnext = dl.nextuid ? dl.nextuid : 1;
            dovecot_uidlist_free(&dl);
        } else {
            r = new_uidvalidity(s, &uidvalidity, err);
            uidnext = 1;
        }
        if (r == 0)
            r = maildir_uidlist_write(buf_cstr(&dir), uidvalidity, uidnext, err);
    }
    buf_free(&dir);
    if (r < 0)
        return r;
    sqlite3_stmt *st = index_prepare(s->db,
                                     "INSERT INTO mailboxes (name, uidvalidity, uidnext,"
                                     " subscribed, special_use) VALUES (?, ?, ?, ?, ?)",
                                     err);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, uidvalidity);
    sqlite3_bind_int64(st, 3, uidnext);
    sqlite3_bind_int(st, 4, subscribed);
    sqlite3_bind_int(st, 5, (int)special_use);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return index_error(s->db, rc, "mailbox insert", err);
    if (row) {
        row->id = sqlite3_last_insert_rowid(s->db);
        row->uidvalidity = uidvalidity;
        row->uidnext = uidnext;
        row->highestmodseq = 1;
        row->special_use = special_use;
        row->subscribed = subscribed;
    }
    return 0;
}

int mailbox_row_alloc_uids(struct store *s, int64_t id, const char *dir, uint32_t n,
                           uint32_t min_next, uint32_t *first, struct buf *err)
{
    sqlite3_stmt *st =
        index_prepare(s->db, "SELECT uidvalidity, uidnext FROM mailboxes WHERE id = ?", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_err(err, -ENOENT, "mailbox vanished");
    }
    uint32_t uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
    uint32_t next = (uint32_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    /* The file is the durable record: never go below what it says. */
    uint32_t fv = 0, fnext = 0;
    if (maildir_uidlist_read(dir, &fv, &fnext) == 0 && fv == uidvalidity && fnext > next)
        next = fnext;
    if (min_next > next)
        next = min_next;
    if ((uint64_t)next + n >= UINT32_MAX)
        return store_err(err, -EOVERFLOW, "mailbox out of UIDs");
    /* Written and fsynced BEFORE any of these UIDs is used (DESIGN.md). */
    int r = maildir_uidlist_write(dir, uidvalidity, next + n, err);
    if (r < 0)
        return r;
    st = index_prepare(s->db, "UPDATE mailboxes SET uidnext = ? WHERE id = ?", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (int64_t)next + n);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return index_error(s->db, rc, "uidnext", err);
    *first = next;
    return 0;
}

int mailbox_row_next_modseq(struct store *s, int64_t id, uint64_t *modseq, struct buf *err)
{
    sqlite3_stmt *st = index_prepare(s->db,
                                     "UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
                                     " WHERE id = ? RETURNING highestmodseq",
                                     err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW)
        *modseq = (uint64_t)sqlite3_column_int64(st, 0);
    else
        r = index_error(s->db, rc, "modseq", err);
    sqlite3_finalize(st);
    return r;
}

void mailbox_touch_notify(const char *dir)
{
    /* Wakes other processes' inotify watches (IN_ATTRIB) for changes that
     * touch no message file name, e.g. keywords beyond the 26 letters. */
    struct buf p = BUF_INIT;
    buf_printf(&p, "%s/%s", dir, MAILDIR_NOTIFY);
    int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
    buf_free(&p);
}
