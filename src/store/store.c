/* One user's store: opening, the mailbox list and mailbox operations, status.
 * A mailbox's index row and UID allocation are in mailbox-row.c; messages in
 * mailbox.c, append.c, copy.c, expunge.c, flags.c and fetch.c; sync and
 * rebuild in sync.c; notification in notify.c. docs/storage.md describes the
 * layout and the durability order. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "store/mailbox-name.h"

#define SUBSCRIPTIONS_FILE "subscriptions"

int store_err(struct buf *err, int r, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        buf_vprintf(err, fmt, ap);
        va_end(ap);
    }
    return r;
}

void uids_push(struct store_uids *u, uint32_t uid)
{
    if (u->count == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 16;
        u->uids = xrealloc(u->uids, u->cap * sizeof(*u->uids));
    }
    u->uids[u->count++] = uid;
}

bool uids_contains(const struct store_uids *u, uint32_t uid)
{
    size_t lo = 0, hi = u->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u->uids[mid] == uid)
            return true;
        if (u->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

void store_uids_free(struct store_uids *u)
{
    free(u->uids);
    memset(u, 0, sizeof(*u));
}

const char *store_special_use_name(unsigned bit)
{
    switch (bit) {
    case STORE_SPECIAL_DRAFTS:
        return "\\Drafts";
    case STORE_SPECIAL_SENT:
        return "\\Sent";
    case STORE_SPECIAL_TRASH:
        return "\\Trash";
    case STORE_SPECIAL_JUNK:
        return "\\Junk";
    case STORE_SPECIAL_ARCHIVE:
        return "\\Archive";
    case STORE_SPECIAL_ALL:
        return "\\All";
    case STORE_SPECIAL_FLAGGED:
        return "\\Flagged";
    default:
        return NULL;
    }
}

static int normalize(const char *name, bool for_create, struct buf *out, struct buf *err)
{
    if (!name)
        return store_err(err, -EINVAL, "no mailbox name");
    int r = mailbox_name_normalize(name, strlen(name), for_create, out, err);
    if (r == 0) {
        struct buf dir = BUF_INIT;
        r = mailbox_name_to_dir(buf_cstr(out), &dir);
        buf_free(&dir);
        if (r < 0)
            r = store_err(err, -EINVAL, "invalid mailbox name: too long on disk");
    }
    return r;
}

/* subscriptions: one UTF-8 name per line (also read: Dovecot's "V\t2"
 * format with tab-separated levels), so that rebuild keeps them. */
int subscriptions_write(struct store *s, struct buf *err)
{
    struct buf content = BUF_INIT;
    sqlite3_stmt *st =
        index_prepare(s->db, "SELECT name FROM mailboxes WHERE subscribed ORDER BY name", err);
    if (!st)
        return -EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        buf_puts(&content, (const char *)sqlite3_column_text(st, 0));
        buf_putc(&content, '\n');
    }
    sqlite3_finalize(st);
    int r = maildir_write_file_atomic(s->root, SUBSCRIPTIONS_FILE, content.data ? content.data : "",
                                      content.len, err);
    buf_free(&content);
    return r;
}

/* Reads the subscriptions file into the index (rebuild). */
static void subscriptions_read(struct store *s)
{
    struct buf p = BUF_INIT;
    buf_printf(&p, "%s/%s", s->root, SUBSCRIPTIONS_FILE);
    FILE *f = fopen(buf_cstr(&p), "re");
    buf_free(&p);
    if (!f)
        return;
    char line[1024];
    sqlite3_stmt *st =
        index_prepare(s->db, "UPDATE mailboxes SET subscribed = 1 WHERE name = ?", NULL);
    while (st && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "V\t2") == 0 || !line[0])
            continue;
        for (char *t = line; *t; t++)
            if (*t == '\t')
                *t = '/';
        struct buf n = BUF_INIT;
        if (mailbox_name_normalize(line, strlen(line), false, &n, NULL) == 0) {
            sqlite3_bind_text(st, 1, buf_cstr(&n), -1, SQLITE_TRANSIENT);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        buf_free(&n);
    }
    sqlite3_finalize(st);
    fclose(f);
}

static int create_locked(struct store *s, const char *name, unsigned special_use, bool subscribed,
                         struct buf *err)
{
    struct mailbox_row row;
    if (mailbox_row_lookup(s, name, &row, NULL) == 0)
        return store_err(err, -EEXIST, "mailbox exists: %s", name);
    /* Parents first (RFC 9051 §6.3.4: create the superior hierarchy). */
    const char *slash = strrchr(name, '/');
    if (slash) {
        char *parent = xstrndup(name, (size_t)(slash - name));
        int r = 0;
        if (mailbox_row_lookup(s, parent, &row, NULL) == -ENOENT)
            r = create_locked(s, parent, 0, false, err);
        free(parent);
        if (r < 0)
            return r;
    }
    struct buf dir = BUF_INIT;
    mailbox_path(s, name, &dir);
    int r = maildir_create_dirs(buf_cstr(&dir), true, err);
    if (r == 0)
        r = maildir_fsync_dir(s->root);
    buf_free(&dir);
    if (r == 0)
        r = mailbox_row_register(s, name, special_use, subscribed, NULL, err);
    return r;
}

int store_mailbox_create(struct store *s, const char *name, unsigned special_use, struct buf *err)
{
    struct buf n = BUF_INIT;
    int r = normalize(name, true, &n, err);
    if (r == 0)
        r = index_begin(s->db, err);
    if (r == 0) {
        r = create_locked(s, buf_cstr(&n), special_use, false, err);
        if (r == 0)
            r = index_commit(s->db, err);
        else
            index_rollback(s->db);
    }
    buf_free(&n);
    return r;
}

static int count_children(struct store *s, const char *name, int64_t *count)
{
    sqlite3_stmt *st =
        index_prepare(s->db, "SELECT count(*) FROM mailboxes WHERE substr(name, 1, ?) = ?", NULL);
    if (!st)
        return -EIO;
    struct buf prefix = BUF_INIT;
    buf_printf(&prefix, "%s/", name);
    sqlite3_bind_int(st, 1, (int)prefix.len);
    sqlite3_bind_text(st, 2, buf_cstr(&prefix), -1, SQLITE_TRANSIENT);
    *count = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    buf_free(&prefix);
    return 0;
}

int store_mailbox_delete(struct store *s, const char *name, struct buf *err)
{
    struct buf n = BUF_INIT;
    int r = normalize(name, false, &n, err);
    if (r < 0)
        goto out;
    if (mailbox_name_is_inbox(buf_cstr(&n))) {
        r = store_err(err, -EPERM, "INBOX cannot be deleted");
        goto out;
    }
    if ((r = index_begin(s->db, err)) < 0)
        goto out;
    struct mailbox_row row;
    int64_t children = 0;
    r = mailbox_row_lookup(s, buf_cstr(&n), &row, err);
    if (r == 0)
        count_children(s, buf_cstr(&n), &children);
    if (r == 0 && children > 0)
        r = store_err(err, -ENOTEMPTY, "mailbox has children: %s", buf_cstr(&n));
    struct buf dir = BUF_INIT, gone = BUF_INIT;
    if (r == 0) {
        /* Out of the namespace with one rename (a name starting with ".."
         * is never a mailbox), then removed at leisure. */
        mailbox_path(s, buf_cstr(&n), &dir);
        buf_printf(&gone, "%s/..deleted.%ld.%lld", s->root, (long)getpid(), (long long)row.id);
        if (rename(buf_cstr(&dir), buf_cstr(&gone)) < 0 && errno != ENOENT)
            r = store_err(err, -errno, "cannot delete %s: %s", buf_cstr(&n), strerror(errno));
    }
    if (r == 0) {
        sqlite3_stmt *st = index_prepare(s->db,
                                         "DELETE FROM message_text WHERE rowid IN"
                                         " (SELECT id FROM messages WHERE mailbox_id = ?1);"
                                         " ",
                                         err);
        if (st) {
            sqlite3_bind_int64(st, 1, row.id);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
        st = index_prepare(s->db, "DELETE FROM mailboxes WHERE id = ?", err);
        if (!st)
            r = -EIO;
        else {
            sqlite3_bind_int64(st, 1, row.id);
            if (sqlite3_step(st) != SQLITE_DONE)
                r = index_error(s->db, sqlite3_errcode(s->db), "delete", err);
            sqlite3_finalize(st);
        }
    }
    if (r == 0 && row.subscribed)
        subscriptions_write(s, NULL);
    if (r == 0)
        r = index_commit(s->db, err);
    else
        index_rollback(s->db);
    if (r == 0) {
        maildir_fsync_dir(s->root);
        maildir_remove_tree(buf_cstr(&gone));
    }
    buf_free(&dir);
    buf_free(&gone);
out:
    buf_free(&n);
    return r;
}

int store_mailbox_rename(struct store *s, const char *from, const char *to, struct buf *err)
{
    struct buf f = BUF_INIT, t = BUF_INIT;
    int r = normalize(from, false, &f, err);
    if (r == 0)
        r = normalize(to, true, &t, err);
    if (r < 0)
        goto out;
    if (mailbox_name_is_inbox(buf_cstr(&t)) || mailbox_name_is_child(buf_cstr(&f), buf_cstr(&t)) ||
        strcmp(buf_cstr(&f), buf_cstr(&t)) == 0) {
        r = store_err(err, -EINVAL, "cannot rename %s to %s", buf_cstr(&f), buf_cstr(&t));
        goto out;
    }
    if (mailbox_name_is_inbox(buf_cstr(&f))) {
        /* RFC 9051 §6.3.6: renaming INBOX moves its messages to a new
         * mailbox and leaves INBOX empty. */
        r = store_mailbox_create(s, buf_cstr(&t), 0, err);
        struct store_mailbox *m = NULL;
        if (r == 0)
            r = store_mailbox_open(s, "INBOX", &m, err);
        if (r == 0 && m->view.count > 0) {
            struct store_uid_range all = {1, UINT32_MAX};
            struct store_copy_result res = {0};
            r = store_copy(m, &all, 1, buf_cstr(&t), true, &res, err);
            store_copy_result_free(&res);
        }
        if (m)
            store_mailbox_close(m);
        goto out;
    }
    if ((r = index_begin(s->db, err)) < 0)
        goto out;
    struct mailbox_row row;
    r = mailbox_row_lookup(s, buf_cstr(&f), &row, err);
    if (r == 0 && mailbox_row_lookup(s, buf_cstr(&t), &row, NULL) == 0)
        r = store_err(err, -EEXIST, "mailbox exists: %s", buf_cstr(&t));
    /* The new parent must exist. */
    const char *slash = strrchr(buf_cstr(&t), '/');
    if (r == 0 && slash) {
        char *parent = xstrndup(buf_cstr(&t), (size_t)(slash - buf_cstr(&t)));
        if (mailbox_row_lookup(s, parent, &row, NULL) == -ENOENT)
            r = create_locked(s, parent, 0, false, err);
        free(parent);
    }
    /* The mailbox and its children, each directory renamed; UIDVALIDITY
     * stays since messages and UIDs do not change. */
    sqlite3_stmt *sel = NULL;
    if (r == 0)
        sel = index_prepare(s->db,
                            "SELECT id, name FROM mailboxes WHERE name = ?1 OR"
                            " substr(name, 1, length(?1) + 1) = ?1 || '/'",
                            err);
    if (r == 0 && !sel)
        r = -EIO;
    struct renamed {
        int64_t id;
        char *oldname, *newname;
    } *list = NULL;
    size_t nlist = 0;
    if (r == 0) {
        sqlite3_bind_text(sel, 1, buf_cstr(&f), -1, SQLITE_STATIC);
        while (sqlite3_step(sel) == SQLITE_ROW) {
            list = xrealloc(list, (nlist + 1) * sizeof(*list));
            const char *old = (const char *)sqlite3_column_text(sel, 1);
            struct buf nn = BUF_INIT;
            buf_puts(&nn, buf_cstr(&t));
            buf_puts(&nn, old + f.len);
            list[nlist].id = sqlite3_column_int64(sel, 0);
            list[nlist].oldname = xstrdup(old);
            list[nlist].newname = buf_steal(&nn);
            nlist++;
        }
        sqlite3_finalize(sel);
    }
    for (size_t i = 0; r == 0 && i < nlist; i++) {
        struct buf od = BUF_INIT, nd = BUF_INIT, check = BUF_INIT;
        mailbox_path(s, list[i].oldname, &od);
        if (normalize(list[i].newname, false, &check, err) < 0)
            r = -EINVAL;
        mailbox_path(s, list[i].newname, &nd);
        if (r == 0 && rename(buf_cstr(&od), buf_cstr(&nd)) < 0)
            r = store_err(err, -errno, "cannot rename %s: %s", list[i].oldname, strerror(errno));
        if (r == 0) {
            sqlite3_stmt *up =
                index_prepare(s->db, "UPDATE mailboxes SET name = ? WHERE id = ?", err);
            if (!up)
                r = -EIO;
            else {
                sqlite3_bind_text(up, 1, list[i].newname, -1, SQLITE_STATIC);
                sqlite3_bind_int64(up, 2, list[i].id);
                if (sqlite3_step(up) != SQLITE_DONE)
                    r = index_error(s->db, sqlite3_errcode(s->db), "rename", err);
                sqlite3_finalize(up);
            }
        }
        if (r < 0) {
            /* Put back the directories already renamed. */
            for (size_t j = 0; j < i; j++) {
                struct buf a = BUF_INIT, b = BUF_INIT;
                mailbox_path(s, list[j].newname, &a);
                mailbox_path(s, list[j].oldname, &b);
                rename(buf_cstr(&a), buf_cstr(&b));
                buf_free(&a);
                buf_free(&b);
            }
        }
        buf_free(&od);
        buf_free(&nd);
        buf_free(&check);
    }
    for (size_t i = 0; i < nlist; i++) {
        free(list[i].oldname);
        free(list[i].newname);
    }
    free(list);
    if (r == 0) {
        maildir_fsync_dir(s->root);
        subscriptions_write(s, NULL);
        r = index_commit(s->db, err);
    } else {
        index_rollback(s->db);
    }
out:
    buf_free(&f);
    buf_free(&t);
    return r;
}

int store_mailbox_subscribe(struct store *s, const char *name, bool subscribed, struct buf *err)
{
    struct buf n = BUF_INIT;
    int r = normalize(name, false, &n, err);
    if (r == 0)
        r = index_begin(s->db, err);
    if (r == 0) {
        struct mailbox_row row;
        r = mailbox_row_lookup(s, buf_cstr(&n), &row, err);
        sqlite3_stmt *st = NULL;
        if (r == 0 && (st = index_prepare(s->db, "UPDATE mailboxes SET subscribed = ? WHERE id = ?",
                                          err)) != NULL) {
            sqlite3_bind_int(st, 1, subscribed);
            sqlite3_bind_int64(st, 2, row.id);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
        if (r == 0)
            r = subscriptions_write(s, err);
        if (r == 0)
            r = index_commit(s->db, err);
        else
            index_rollback(s->db);
    }
    buf_free(&n);
    return r;
}

int store_mailbox_set_special_use(struct store *s, const char *name, unsigned special_use,
                                  struct buf *err)
{
    struct buf n = BUF_INIT;
    int r = normalize(name, false, &n, err);
    struct mailbox_row row;
    if (r == 0)
        r = mailbox_row_lookup(s, buf_cstr(&n), &row, err);
    if (r == 0) {
        sqlite3_stmt *st =
            index_prepare(s->db, "UPDATE mailboxes SET special_use = ? WHERE id = ?", err);
        if (!st)
            r = -EIO;
        else {
            sqlite3_bind_int(st, 1, (int)special_use);
            sqlite3_bind_int64(st, 2, row.id);
            if (sqlite3_step(st) != SQLITE_DONE)
                r = index_error(s->db, sqlite3_errcode(s->db), "special-use", err);
            sqlite3_finalize(st);
        }
    }
    buf_free(&n);
    return r;
}

bool store_mailbox_exists(struct store *s, const char *name)
{
    struct buf n = BUF_INIT;
    struct mailbox_row row;
    bool ok = normalize(name, false, &n, NULL) == 0 &&
              mailbox_row_lookup(s, buf_cstr(&n), &row, NULL) == 0;
    buf_free(&n);
    return ok;
}

int store_mailbox_list(struct store *s, struct store_mailbox_info **out, size_t *count,
                       struct buf *err)
{
    *out = NULL;
    *count = 0;
    /* INBOX first, then by name (byte order of UTF-8 = code point order). */
    sqlite3_stmt *st = index_prepare(s->db,
                                     "SELECT name, subscribed, special_use, EXISTS (SELECT 1 FROM"
                                     " mailboxes c WHERE substr(c.name, 1, length(m.name) + 1) ="
                                     " m.name || '/') FROM mailboxes m"
                                     " ORDER BY name <> 'INBOX', name",
                                     err);
    if (!st)
        return -EIO;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        struct store_mailbox_info *i = &(*out)[(*count)++];
        i->name = xstrdup((const char *)sqlite3_column_text(st, 0));
        i->subscribed = sqlite3_column_int(st, 1) != 0;
        i->special_use = (unsigned)sqlite3_column_int(st, 2);
        i->has_children = sqlite3_column_int(st, 3) != 0;
    }
    int r = rc == SQLITE_DONE ? 0 : index_error(s->db, rc, "list", err);
    sqlite3_finalize(st);
    return r;
}

void store_mailbox_list_free(struct store_mailbox_info *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i].name);
    free(list);
}

static int status_by_id(struct store *s, const struct mailbox_row *row, struct store_status *out,
                        struct buf *err)
{
    memset(out, 0, sizeof(*out));
    out->uidvalidity = row->uidvalidity;
    out->uidnext = row->uidnext;
    out->highestmodseq = row->highestmodseq;
    sqlite3_stmt *st = index_prepare(s->db,
                                     "SELECT count(*), total(flags & 1 = 0), total(flags & 8 <> 0),"
                                     " total(vsize), total(recent) FROM messages"
                                     " WHERE mailbox_id = ?",
                                     err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, row->id);
    int rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW) {
        out->messages = (uint32_t)sqlite3_column_int64(st, 0);
        out->unseen = (uint32_t)sqlite3_column_double(st, 1);
        out->deleted = (uint32_t)sqlite3_column_double(st, 2);
        out->size = (uint64_t)sqlite3_column_double(st, 3);
        out->recent = (uint32_t)sqlite3_column_double(st, 4);
    } else {
        r = index_error(s->db, rc, "status", err);
    }
    sqlite3_finalize(st);
    return r;
}

int store_mailbox_status(struct store *s, const char *name, struct store_status *out,
                         struct buf *err)
{
    struct buf n = BUF_INIT;
    struct mailbox_row row;
    int r = normalize(name, false, &n, err);
    if (r == 0)
        r = mailbox_row_lookup(s, buf_cstr(&n), &row, err);
    if (r == 0)
        r = status_by_id(s, &row, out, err);
    buf_free(&n);
    return r;
}

int store_mailbox_get_status(struct store_mailbox *m, struct store_status *out, struct buf *err)
{
    struct mailbox_row row;
    int r = mailbox_row_lookup(m->s, m->name, &row, err);
    if (r == 0)
        r = status_by_id(m->s, &row, out, err);
    return r;
}

/* ---- open / close ---- */

/* mkdir -p: the directories above a new Maildir (the user's home may not
 * exist yet) and the Maildir itself, made by mail_uid, private to it. */
static int mkdir_parents(const char *path, struct buf *err)
{
    struct buf p = BUF_INIT;
    buf_puts(&p, path);
    int r = 0;
    for (size_t i = 1; i <= p.len && r == 0; i++) {
        if (i < p.len && p.data[i] != '/')
            continue;
        char saved = p.data[i];
        p.data[i] = '\0';
        if (mkdir(p.data, 0700) < 0 && errno != EEXIST)
            r = store_err(err, -errno, "cannot create %s: %s", p.data, strerror(errno));
        p.data[i] = saved;
    }
    buf_free(&p);
    return r;
}

static const struct {
    const char *name;
    unsigned use;
} default_special[] = {
    {"Drafts", STORE_SPECIAL_DRAFTS},   {"Sent", STORE_SPECIAL_SENT},
    {"Trash", STORE_SPECIAL_TRASH},     {"Junk", STORE_SPECIAL_JUNK},
    {"Archive", STORE_SPECIAL_ARCHIVE},
};

unsigned store_default_special_use(const char *name);
unsigned store_default_special_use(const char *name)
{
    for (size_t i = 0; i < sizeof(default_special) / sizeof(default_special[0]); i++)
        if (strcmp(name, default_special[i].name) == 0)
            return default_special[i].use;
    return 0;
}

/* An index of an older schema version (index.h): its cached values are
 * recomputed in place, keeping everything that only the index knows
 * (MODSEQs, expunged UIDs, special-use set by clients), then the version is
 * recorded. Interrupted, it starts again at the next open. */
static int migrate(struct store *s, const char *path, int old_version, struct buf *err)
{
    size_t count = 0;
    int r = msg_reparse_all(s, &count, err);
    if (r == 0)
        r = index_begin(s->db, err);
    if (r == 0) {
        r = index_set_schema_version(s->db, INDEX_SCHEMA_VERSION, err);
        if (r == 0)
            r = index_commit(s->db, err);
        else
            index_rollback(s->db);
    }
    if (r == 0)
        log_info(NULL, "index %s: schema %d migrated to %d, %zu messages re-read", path,
                 old_version, INDEX_SCHEMA_VERSION, count);
    return r;
}

/* Opening the index may create, migrate or rebuild it: one opener at a time
 * per Maildir, across processes and threads (each flock on its own open file
 * description), so that a second opener never finds a half-made index and
 * moves it aside under the first one's feet. Returns the lock's fd, or -1
 * (then the opening goes on unlocked, as it did before this lock existed). */
static int index_lock(const char *root)
{
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/%s", root, INDEX_LOCK_FILE);
    int fd = open(buf_cstr(&path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    buf_free(&path);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void index_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

int store_open(const char *root, unsigned flags, struct store **out, struct buf *err)
{
    *out = NULL;
    if (strncmp(root, "maildir:", 8) == 0)
        root += 8;
    /* Dovecot's options after the path (":LAYOUT=...", ":INDEX=...") are not ours. */
    size_t len = strcspn(root, ":");
    while (len > 1 && root[len - 1] == '/')
        len--;
    if (len == 0 || root[0] != '/')
        return store_err(err, -EINVAL, "mail location must be an absolute path");
    struct store *s = xcalloc(1, sizeof(*s));
    s->root = xstrndup(root, len);
    s->inotify_fd = -1;
    int r = 0;
    if (flags & STORE_OPEN_CREATE) {
        r = mkdir_parents(s->root, err);
        if (r == 0)
            r = maildir_create_dirs(s->root, false, err);
    } else {
        struct stat st;
        if (stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode))
            r = store_err(err, -ENOENT, "no Maildir at %s", s->root);
    }
    bool fresh = false;
    int old_version = 0;
    int lock = r == 0 ? index_lock(s->root) : -1;
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/%s", s->root, INDEX_FILE);
    if (r == 0)
        r = index_open(buf_cstr(&path), &s->db, &fresh, &old_version, err);
    if (r == 0 && old_version)
        r = migrate(s, buf_cstr(&path), old_version, err);
    buf_free(&path);
    if (r == 0 && fresh) {
        bool was_empty = false;
        r = store_rebuild_locked(s, true, &was_empty, NULL, NULL, err);
        if (r == 0 && was_empty && (flags & STORE_OPEN_CREATE) &&
            !(flags & STORE_OPEN_NO_SPECIAL_USE)) {
            /* A new account: the special-use folders (RFC 6154) clients expect. */
            r = index_begin(s->db, err);
            for (size_t i = 0; r == 0 && i < sizeof(default_special) / sizeof(default_special[0]);
                 i++)
                r = create_locked(s, default_special[i].name, default_special[i].use, true, err);
            if (r == 0) {
                index_exec(s->db, "UPDATE mailboxes SET subscribed = 1 WHERE name = 'INBOX'", NULL);
                r = subscriptions_write(s, err);
            }
            if (r == 0)
                r = index_commit(s->db, err);
            else
                index_rollback(s->db);
        }
    }
    index_unlock(lock);
    if (r < 0) {
        store_close(s);
        return r;
    }
    store_release_memory(s);
    *out = s;
    return 0;
}

void store_release_memory(struct store *s)
{
    if (s && s->db)
        sqlite3_db_release_memory(s->db);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    notify_close(s);
    if (s->db)
        index_close(s->db);
    free(s->root);
    free(s);
}

const char *store_root(const struct store *s)
{
    return s->root;
}

int store_rebuild(struct store *s, store_progress_fn *progress, void *ctx, struct buf *err)
{
    return store_rebuild_locked(s, false, NULL, progress, ctx, err);
}

/* Used by store_rebuild_locked: subscriptions from the file after a rebuild. */
void store_read_subscriptions(struct store *s);
void store_read_subscriptions(struct store *s)
{
    subscriptions_read(s);
}
