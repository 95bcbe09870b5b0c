/* Sync with the outside world (files other programs put in or took out of
 * new/ and cur/, flags changed by renaming), the rebuild of the index from
 * the Maildir alone, and the import of another (e.g. Dovecot) Maildir. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mailbox-name.h"

struct idx_entry {
    int64_t id;
    uint32_t uid;
    char *base;
    char *filename;
    unsigned flags;
    char *keywords;
    bool seen;
};

struct scanned {
    char *name;
    bool in_new;
    struct maildir_filename fn;
    uint32_t uid; /* kept or assigned */
};

static int scan_dir(const char *dir, const char *sub, bool in_new, struct scanned **list, size_t *n,
                    size_t *cap)
{
    struct buf p = BUF_INIT;
    buf_printf(&p, "%s/%s", dir, sub);
    DIR *d = opendir(buf_cstr(&p));
    buf_free(&p);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *list = xrealloc(*list, *cap * sizeof(**list));
        }
        struct scanned *sc = &(*list)[*n];
        memset(sc, 0, sizeof(*sc));
        if (!maildir_filename_parse(de->d_name, &sc->fn))
            continue;
        sc->name = xstrdup(de->d_name);
        sc->in_new = in_new;
        (*n)++;
    }
    closedir(d);
    return 0;
}

static int cmp_entry_base(const void *key, const void *e)
{
    return strcmp((const char *)key, ((const struct idx_entry *)e)->base);
}

static bool uid_taken(struct store *s, int64_t id, uint32_t uid)
{
    sqlite3_stmt *st = index_prepare(s->db,
                                     "SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
                                     " UNION ALL SELECT 1 FROM expunged WHERE mailbox_id = ?1"
                                     " AND uid = ?2",
                                     NULL);
    if (!st)
        return true;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, uid);
    bool taken = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return taken;
}

/* The keyword list for a file: its letters through dovecot-keywords, plus
 * the keywords the index has that have no letter. */
static void merged_keywords(const struct maildir_keywords *k, uint32_t bits, const char *old,
                            struct buf *out)
{
    keywords_from_bits(k, bits, out);
    if (!old)
        return;
    char *copy = xstrdup(old);
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (maildir_keywords_find(k, w) >= 0)
            continue;
        if (out->len)
            buf_putc(out, ' ');
        buf_puts(out, w);
    }
    free(copy);
}

static uint64_t file_bare_lf(int fd)
{
    char chunk[65536];
    bool cr = false;
    uint64_t n = 0;
    ssize_t k;
    lseek(fd, 0, SEEK_SET);
    while ((k = read(fd, chunk, sizeof(chunk))) > 0)
        n += maildir_bare_lf_count(chunk, (size_t)k, &cr);
    return n;
}

int mailbox_sync_locked(struct store *s, int64_t id, const char *name, const char *dir,
                        struct buf *err)
{
    (void)name;
    struct idx_entry *ents = NULL;
    size_t nents = 0, cap = 0;
    struct scanned *files = NULL;
    size_t nfiles = 0, fcap = 0;
    struct maildir_keywords kw;
    maildir_keywords_read(dir, &kw);
    struct dovecot_uidlist dl = {0};
    bool have_dl = false;
    uint64_t modseq = 0;
    bool renamed_any = false;
    int r = 0;
    struct buf from = BUF_INIT, to = BUF_INIT, nm = BUF_INIT, kwbuf = BUF_INIT;

    sqlite3_stmt *st = index_prepare(s->db,
                                     "SELECT id, uid, base, filename, flags FROM"
                                     " messages WHERE mailbox_id = ? ORDER BY base",
                                     err);
    if (!st) {
        r = -EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (nents == cap) {
            cap = cap ? cap * 2 : 64;
            ents = xrealloc(ents, cap * sizeof(*ents));
        }
        struct idx_entry *e = &ents[nents++];
        e->id = sqlite3_column_int64(st, 0);
        e->uid = (uint32_t)sqlite3_column_int64(st, 1);
        e->base = xstrdup((const char *)sqlite3_column_text(st, 2));
        e->filename = xstrdup((const char *)sqlite3_column_text(st, 3));
        e->flags = (unsigned)sqlite3_column_int(st, 4);
        /* read only for a file renamed by another program: with many long
         * keywords they would be most of this list's memory */
        e->keywords = NULL;
        e->seen = false;
    }
    sqlite3_finalize(st);

    /* Under the index's write lock, so that no gannet process renames in
     * cur/ while we read it. */
    if ((r = scan_dir(dir, "cur", false, &files, &nfiles, &fcap)) < 0 ||
        (r = scan_dir(dir, "new", true, &files, &nfiles, &fcap)) < 0) {
        store_err(err, r, "cannot read %s: %s", dir, strerror(-r));
        goto out;
    }

    uint32_t uidnext = 1, uv = 0, fnext = 0;
    st = index_prepare(s->db, "SELECT uidnext FROM mailboxes WHERE id = ?", err);
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            uidnext = (uint32_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (maildir_uidlist_read(dir, &uv, &fnext) == 0 && fnext > uidnext)
        uidnext = fnext;

    /* 1. Files the index knows: name changes are flag changes from outside. */
    sqlite3_stmt *up = index_prepare(s->db,
                                     "UPDATE messages SET filename = ?, flags = ?, keywords = ?,"
                                     " modseq = CASE WHEN ? THEN ? ELSE modseq END WHERE id = ?",
                                     err);
    if (!up) {
        r = -EIO;
        goto out;
    }
    struct store_uids kept = {0};
    size_t need_new = 0;
    for (size_t i = 0; r == 0 && i < nfiles; i++) {
        struct scanned *f = &files[i];
        struct idx_entry *e =
            nents ? bsearch(f->fn.base, ents, nents, sizeof(*ents), cmp_entry_base) : NULL;
        if (e && !e->seen && !f->in_new) {
            e->seen = true;
            f->uid = e->uid;
            if (strcmp(e->filename, f->name) == 0)
                continue;
            if (!e->keywords) {
                sqlite3_stmt *kst =
                    index_prepare(s->db, "SELECT keywords FROM messages WHERE id = ?", err);
                if (!kst) {
                    r = -EIO;
                    break;
                }
                sqlite3_bind_int64(kst, 1, e->id);
                e->keywords = xstrdup(sqlite3_step(kst) == SQLITE_ROW
                                          ? (const char *)sqlite3_column_text(kst, 0)
                                          : "");
                sqlite3_finalize(kst);
            }
            buf_reset(&kwbuf);
            merged_keywords(&kw, f->fn.kwbits, e->keywords, &kwbuf);
            bool changed =
                f->fn.flags != e->flags || strcmp(kwbuf.data ? kwbuf.data : "", e->keywords) != 0;
            if (changed && !modseq && (r = mailbox_row_next_modseq(s, id, &modseq, err)) < 0)
                break;
            sqlite3_bind_text(up, 1, f->name, -1, SQLITE_STATIC);
            sqlite3_bind_int(up, 2, (int)f->fn.flags);
            sqlite3_bind_text(up, 3, buf_cstr(&kwbuf), -1, SQLITE_STATIC);
            sqlite3_bind_int(up, 4, changed);
            sqlite3_bind_int64(up, 5, (int64_t)modseq);
            sqlite3_bind_int64(up, 6, e->id);
            if (sqlite3_step(up) != SQLITE_DONE)
                r = index_error(s->db, sqlite3_errcode(s->db), "sync", err);
            sqlite3_reset(up);
            continue;
        }
        if (e && (e->seen || f->in_new)) {
            /* the same base twice (a copy left in new/): treat as a new message */
            f->fn.uid = 0;
        }
        /* 2. A file the index does not know: keep the UID its name (or
         * Dovecot's uidlist) gives it if that UID was reserved and never
         * used or expunged here; else it gets the next UID. */
        uint32_t cand = f->fn.uid;
        if (!cand) {
            if (!have_dl) {
                have_dl = true;
                dovecot_uidlist_read(dir, &dl);
            }
            cand = dovecot_uidlist_lookup(&dl, f->fn.base);
        }
        if (cand && cand < uidnext && !uids_contains(&kept, cand) && !uid_taken(s, id, cand)) {
            f->uid = cand;
            /* keep `kept` sorted for uids_contains */
            uids_push(&kept, cand);
            for (size_t k = kept.count - 1; k > 0 && kept.uids[k - 1] > kept.uids[k]; k--) {
                uint32_t t = kept.uids[k];
                kept.uids[k] = kept.uids[k - 1];
                kept.uids[k - 1] = t;
            }
        } else {
            f->uid = 0;
            need_new++;
        }
    }
    sqlite3_finalize(up);
    store_uids_free(&kept);
    if (r < 0)
        goto out;

    uint32_t next_uid = 0;
    if (need_new &&
        (r = mailbox_row_alloc_uids(s, id, dir, (uint32_t)need_new, uidnext, &next_uid, err)) < 0)
        goto out;
    /* 3. New files: into cur/ with their UID in the name, then indexed. */
    for (size_t i = 0; r == 0 && i < nfiles; i++) {
        struct scanned *f = &files[i];
        bool known = false;
        if (f->uid && !f->in_new) {
            struct idx_entry *e =
                nents ? bsearch(f->fn.base, ents, nents, sizeof(*ents), cmp_entry_base) : NULL;
            known = e && e->uid == f->uid && strcmp(e->base, f->fn.base) == 0;
        }
        if (known)
            continue;
        if (!f->uid)
            f->uid = next_uid++;
        if (!modseq && (r = mailbox_row_next_modseq(s, id, &modseq, err)) < 0)
            break;
        struct buf base = BUF_INIT;
        maildir_base_with_uid(&base, f->fn.base, f->uid);
        buf_reset(&nm);
        maildir_filename_build(&nm, buf_cstr(&base), f->fn.flags, f->fn.kwbits);
        buf_reset(&from);
        buf_reset(&to);
        buf_printf(&from, "%s/%s/%s", dir, f->in_new ? "new" : "cur", f->name);
        buf_printf(&to, "%s/cur/%s", dir, buf_cstr(&nm));
        if (strcmp(buf_cstr(&from), buf_cstr(&to)) != 0) {
            if (rename(buf_cstr(&from), buf_cstr(&to)) < 0) {
                buf_free(&base);
                if (errno == ENOENT)
                    continue; /* gone again meanwhile */
                r = store_err(err, -errno, "rename %s: %s", f->name, strerror(errno));
                break;
            }
            renamed_any = true;
        }
        int fd = open(buf_cstr(&to), O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) < 0) {
            if (fd >= 0)
                close(fd);
            buf_free(&base);
            continue;
        }
        buf_reset(&kwbuf);
        keywords_from_bits(&kw, f->fn.kwbits, &kwbuf);
        uint64_t size = (uint64_t)sb.st_size;
        struct msg_insert mi = {
            .mailbox_id = id,
            .uid = f->uid,
            .base = buf_cstr(&base),
            .filename = buf_cstr(&nm),
            .size = size,
            .vsize = f->fn.vsize ? f->fn.vsize : size + file_bare_lf(fd),
            .internal_date = sb.st_mtime,
            .flags = f->fn.flags,
            .keywords = buf_cstr(&kwbuf),
            .modseq = modseq,
            .recent = f->in_new,
        };
        r = msg_insert_parsed(s, &mi, fd, err);
        close(fd);
        buf_free(&base);
    }
    if (r < 0)
        goto out;
    if (renamed_any) {
        buf_reset(&from);
        buf_printf(&from, "%s/cur", dir);
        maildir_fsync_dir(buf_cstr(&from));
        buf_reset(&from);
        buf_printf(&from, "%s/new", dir);
        maildir_fsync_dir(buf_cstr(&from));
    }

    /* 4. Index entries whose file is gone: expunged, after a second look
     * (a rename by another program during our readdir is not a removal). */
    struct store_uids gone = {0};
    for (size_t i = 0; i < nents; i++) {
        if (ents[i].seen)
            continue;
        buf_reset(&from);
        buf_printf(&from, "%s/cur/%s", dir, ents[i].filename);
        if (access(buf_cstr(&from), F_OK) == 0)
            continue;
        buf_reset(&nm);
        if (find_file_by_base(dir, ents[i].base, &nm, NULL) == 0)
            continue; /* the next sync sees its new name */
        uids_push(&gone, ents[i].uid);
    }
    if (gone.count) {
        /* msg_expunge_locked wants them ascending */
        for (size_t i = 1; i < gone.count; i++)
            for (size_t k = i; k > 0 && gone.uids[k - 1] > gone.uids[k]; k--) {
                uint32_t t = gone.uids[k];
                gone.uids[k] = gone.uids[k - 1];
                gone.uids[k - 1] = t;
            }
        r = msg_expunge_locked(s, id, dir, &gone, err);
    }
    store_uids_free(&gone);
out:
    for (size_t i = 0; i < nents; i++) {
        free(ents[i].base);
        free(ents[i].filename);
        free(ents[i].keywords);
    }
    free(ents);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].name);
        maildir_filename_free(&files[i].fn);
    }
    free(files);
    maildir_keywords_free(&kw);
    dovecot_uidlist_free(&dl);
    buf_free(&from);
    buf_free(&to);
    buf_free(&nm);
    buf_free(&kwbuf);
    return r;
}

/* ---- rebuild ---- */

struct old_mailbox {
    char *name;
    unsigned special_use;
    bool subscribed;
};

unsigned store_default_special_use(const char *name);
void store_read_subscriptions(struct store *s);

/* The mailbox directories in a Maildir++ root: INBOX and every ".Name". */
static size_t list_mailbox_dirs(const char *root, char ***names)
{
    size_t n = 0;
    *names = xmalloc(sizeof(char *));
    (*names)[n++] = xstrdup("INBOX");
    DIR *d = opendir(root);
    if (!d)
        return n;
    struct dirent *de;
    struct buf p = BUF_INIT, name = BUF_INIT;
    while ((de = readdir(d)) != NULL) {
        buf_reset(&name);
        if (mailbox_name_from_dir(de->d_name, &name) < 0)
            continue;
        buf_reset(&p);
        buf_printf(&p, "%s/%s/cur", root, de->d_name);
        struct stat st;
        if (stat(buf_cstr(&p), &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        *names = xrealloc(*names, (n + 1) * sizeof(char *));
        (*names)[n++] = buf_steal(&name);
    }
    closedir(d);
    buf_free(&p);
    buf_free(&name);
    return n;
}

int store_rebuild_locked(struct store *s, bool new_account_check, bool *was_empty,
                         store_progress_fn *progress, void *ctx, struct buf *err)
{
    (void)new_account_check;
    /* What only the old index knows (if it is readable): subscriptions and
     * special-use set by clients. */
    struct old_mailbox *old = NULL;
    size_t nold = 0;
    sqlite3_stmt *st =
        index_prepare(s->db, "SELECT name, special_use, subscribed FROM mailboxes", NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        old = xrealloc(old, (nold + 1) * sizeof(*old));
        old[nold].name = xstrdup((const char *)sqlite3_column_text(st, 0));
        old[nold].special_use = (unsigned)sqlite3_column_int(st, 1);
        old[nold].subscribed = sqlite3_column_int(st, 2) != 0;
        nold++;
    }
    sqlite3_finalize(st);
    char **names = NULL;
    size_t nnames = list_mailbox_dirs(s->root, &names);
    if (was_empty)
        *was_empty = nnames == 1 && nold == 0;
    int r = index_begin(s->db, err);
    if (r == 0)
        r = index_exec(s->db,
                       "DELETE FROM message_text; DELETE FROM messages; DELETE FROM expunged;"
                       " DELETE FROM mailboxes;",
                       err);
    for (size_t i = 0; r == 0 && i < nnames; i++) {
        unsigned use = store_default_special_use(names[i]);
        bool sub = false;
        for (size_t k = 0; k < nold; k++)
            if (strcmp(old[k].name, names[i]) == 0) {
                use = old[k].special_use;
                sub = old[k].subscribed;
            }
        r = mailbox_row_register(s, names[i], use, sub, NULL, err);
    }
    if (r == 0) {
        store_read_subscriptions(s);
        r = index_commit(s->db, err);
    } else {
        index_rollback(s->db);
    }
    for (size_t i = 0; r == 0 && i < nnames; i++) {
        struct mailbox_row row;
        struct buf dir = BUF_INIT;
        mailbox_path(s, names[i], &dir);
        r = mailbox_row_lookup(s, names[i], &row, err);
        if (r == 0)
            r = index_begin(s->db, err);
        if (r == 0) {
            r = mailbox_sync_locked(s, row.id, names[i], buf_cstr(&dir), err);
            if (r == 0)
                r = index_commit(s->db, err);
            else
                index_rollback(s->db);
        }
        if (progress)
            progress(ctx, names[i], i + 1, nnames);
        buf_free(&dir);
    }
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    for (size_t k = 0; k < nold; k++)
        free(old[k].name);
    free(old);
    return r;
}

/* ---- import ---- */

static int import_one(struct store *s, const char *name, const char *srcdir, size_t *count,
                      store_progress_fn *progress, void *ctx, struct buf *err)
{
    struct mailbox_row row;
    int r = 0;
    if (mailbox_row_lookup(s, name, &row, NULL) < 0) {
        r = store_mailbox_create(s, name, store_default_special_use(name), err);
        if (r == 0)
            r = mailbox_row_lookup(s, name, &row, err);
    }
    if (r < 0)
        return r;
    struct store_status stat_;
    if ((r = store_mailbox_status(s, name, &stat_, err)) < 0)
        return r;
    struct buf dir = BUF_INIT;
    mailbox_path(s, name, &dir);
    /* The source's UIDVALIDITY and UIDs, from its gannet-uidlist or
     * dovecot-uidlist, are kept when the target is empty. */
    uint32_t suv = 0, snext = 0;
    struct dovecot_uidlist dl = {0};
    bool have_dl = dovecot_uidlist_read(srcdir, &dl) == 0;
    if (maildir_uidlist_read(srcdir, &suv, &snext) < 0 && have_dl) {
        suv = dl.uidvalidity;
        snext = dl.nextuid;
    }
    bool keep = stat_.messages == 0 && suv != 0;
    if (keep) {
        if (suv == row.uidvalidity && row.uidnext > snext)
            snext = row.uidnext;
        r = index_begin(s->db, err);
        if (r == 0)
            r = maildir_uidlist_write(buf_cstr(&dir), suv, snext, err);
        sqlite3_stmt *st = r == 0 ? index_prepare(s->db,
                                                  "UPDATE mailboxes SET uidvalidity = ?,"
                                                  " uidnext = ? WHERE id = ?",
                                                  err)
                                  : NULL;
        if (st) {
            sqlite3_bind_int64(st, 1, suv);
            sqlite3_bind_int64(st, 2, snext);
            sqlite3_bind_int64(st, 3, row.id);
            sqlite3_step(st);
            sqlite3_finalize(st);
            /* the old UIDs of this (empty) mailbox belong to the old UIDVALIDITY */
            st = index_prepare(s->db, "DELETE FROM expunged WHERE mailbox_id = ?", NULL);
            if (st) {
                sqlite3_bind_int64(st, 1, row.id);
                sqlite3_step(st);
                sqlite3_finalize(st);
            }
        }
        if (r == 0)
            r = index_commit(s->db, err);
        else
            index_rollback(s->db);
    }
    struct maildir_keywords skw;
    maildir_keywords_read(srcdir, &skw);
    struct scanned *files = NULL;
    size_t nfiles = 0, cap = 0;
    if (r == 0) {
        scan_dir(srcdir, "cur", false, &files, &nfiles, &cap);
        scan_dir(srcdir, "new", true, &files, &nfiles, &cap);
    }
    struct buf src = BUF_INIT, tmp = BUF_INIT, dst = BUF_INIT, base = BUF_INIT, kwn = BUF_INIT;
    for (size_t i = 0; r == 0 && i < nfiles; i++) {
        struct scanned *f = &files[i];
        uint32_t uid = f->fn.uid ? f->fn.uid : dovecot_uidlist_lookup(&dl, f->fn.base);
        buf_reset(&kwn);
        keywords_from_bits(&skw, f->fn.kwbits, &kwn);
        uint32_t bits = 0;
        r = keywords_to_bits(buf_cstr(&dir), buf_cstr(&kwn), true, &bits, err);
        buf_reset(&src);
        buf_reset(&tmp);
        buf_reset(&dst);
        buf_reset(&base);
        buf_printf(&src, "%s/%s/%s", srcdir, f->in_new ? "new" : "cur", f->name);
        buf_printf(&tmp, "%s/tmp/", buf_cstr(&dir));
        maildir_new_base(&tmp, 0, 0, 0);
        maildir_base_with_uid(&base, f->fn.base, keep ? uid : 0);
        buf_printf(&dst, "%s/%s/", buf_cstr(&dir), f->in_new ? "new" : "cur");
        if (f->in_new)
            buf_puts(&dst, buf_cstr(&base));
        else
            maildir_filename_build(&dst, buf_cstr(&base), f->fn.flags, bits);
        if (r == 0)
            r = msg_copy_file(buf_cstr(&src), buf_cstr(&tmp), err);
        if (r == 0 && rename(buf_cstr(&tmp), buf_cstr(&dst)) < 0)
            r = store_err(err, -errno, "rename: %s", strerror(errno));
        (*count)++;
        if (progress && (i % 256 == 0 || i + 1 == nfiles))
            progress(ctx, name, i + 1, nfiles);
    }
    if (r == 0) {
        buf_reset(&src);
        buf_printf(&src, "%s/cur", buf_cstr(&dir));
        maildir_fsync_dir(buf_cstr(&src));
        buf_reset(&src);
        buf_printf(&src, "%s/new", buf_cstr(&dir));
        maildir_fsync_dir(buf_cstr(&src));
        /* The sync gives the copies their index rows, keeping ",U=". */
        r = index_begin(s->db, err);
        if (r == 0) {
            r = mailbox_sync_locked(s, row.id, name, buf_cstr(&dir), err);
            if (r == 0)
                r = index_commit(s->db, err);
            else
                index_rollback(s->db);
        }
    }
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].name);
        maildir_filename_free(&files[i].fn);
    }
    free(files);
    maildir_keywords_free(&skw);
    dovecot_uidlist_free(&dl);
    buf_free(&src);
    buf_free(&tmp);
    buf_free(&dst);
    buf_free(&base);
    buf_free(&kwn);
    buf_free(&dir);
    return r;
}

int store_import_maildir(struct store *s, const char *src_path, store_progress_fn *progress,
                         void *ctx, struct buf *err)
{
    char **names = NULL;
    size_t n = list_mailbox_dirs(src_path, &names);
    size_t count = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        struct buf dir = BUF_INIT;
        buf_puts(&dir, src_path);
        if (!mailbox_name_is_inbox(names[i])) {
            buf_putc(&dir, '/');
            mailbox_name_to_dir(names[i], &dir);
        }
        r = import_one(s, names[i], buf_cstr(&dir), &count, progress, ctx, err);
        buf_free(&dir);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (r < 0)
        return r;
    return count > INT32_MAX ? INT32_MAX : (int)count;
}
