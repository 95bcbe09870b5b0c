/* The SQLite index, see index.h and docs/storage.md. */
#include "store/index.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/number.h"
#include "store/store-private.h" /* uids_push */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mailboxes ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE," /* UTF-8, '/' separated */
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " subscribed INTEGER NOT NULL DEFAULT 0,"
    " special_use INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS messages ("
    " id INTEGER PRIMARY KEY," /* rowid of message_text */
    " mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL,"
    " base TEXT NOT NULL,"     /* file name before ':' */
    " filename TEXT NOT NULL," /* current name in cur/ */
    " size INTEGER NOT NULL,"
    " vsize INTEGER NOT NULL,"
    " internal_date INTEGER NOT NULL,"
    " sent_date INTEGER NOT NULL DEFAULT 0,"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " keywords TEXT NOT NULL DEFAULT ''," /* space-separated atoms */
    " modseq INTEGER NOT NULL,"
    " recent INTEGER NOT NULL DEFAULT 0,"
    " envelope TEXT, bodystructure TEXT, body TEXT, headers TEXT,"
    " UNIQUE (mailbox_id, uid));"
    "CREATE INDEX IF NOT EXISTS messages_base ON messages (mailbox_id, base);"
    "CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox_id, modseq);"
    /* Covers STATUS: its counts read this small index, not the rows with
     * their cached ENVELOPE and BODYSTRUCTURE. */
    "CREATE INDEX IF NOT EXISTS messages_status ON messages (mailbox_id, flags, vsize, recent);"
    /* Expunged UIDs, for QRESYNC's VANISHED (RFC 7162 §3.2.10) and so that a
     * file reappearing with an expunged ",U=" gets a new UID. */
    "CREATE TABLE IF NOT EXISTS expunged ("
    " mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL, modseq INTEGER NOT NULL, PRIMARY KEY (mailbox_id, uid))"
    " WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_text USING fts5(headers, body);";

int index_error(sqlite3 *db, int rc, const char *what, struct buf *err)
{
    if (err)
        buf_printf(err, "index: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EAGAIN;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EPROTO;
    default:
        return -EIO;
    }
}

int index_exec(sqlite3 *db, const char *sql, struct buf *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        if (err)
            buf_printf(err, "index: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return index_error(NULL, rc, "exec", NULL);
    }
    return 0;
}

sqlite3_stmt *index_prepare(sqlite3 *db, const char *sql, struct buf *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        index_error(db, rc, "prepare", err);
        return NULL;
    }
    return st;
}

int index_set_schema_version(sqlite3 *db, int version, struct buf *err)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta VALUES ('schema', '%d')", version);
    return index_exec(db, sql, err);
}

static int try_open(const char *path, sqlite3 **out, bool *fresh, int *old_version, struct buf *err)
{
    sqlite3 *db = NULL;
    bool existed = access(path, F_OK) == 0;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int r = index_error(db, rc, "open", err);
        sqlite3_close(db);
        return r;
    }
    /* Every logged-in session may hold an open index: SQLite's lookaside
     * (about 120 KiB per connection by default) would be most of a session's
     * memory; the allocator is fast enough without it. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
    /* Several processes (workers, deliver, the CLI) share the file. */
    sqlite3_busy_timeout(db, 10000);
    /* WAL with synchronous=FULL: each commit fsyncs the WAL, so a committed
     * append survives power loss (NORMAL would only keep the database
     * consistent, and could lose the last commits). */
    /* A store is open for every logged-in session, so its page cache is a
     * per-connection cost: 256 KiB at most instead of SQLite's 2 MiB (the
     * kernel's page cache still holds the file; a miss costs a pread). */
    int r = index_exec(db,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                       " PRAGMA foreign_keys=ON; PRAGMA cache_size=-256;",
                       err);
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (r == 0 && existed) {
        st = index_prepare(db, "SELECT value FROM meta WHERE key = 'schema'", NULL);
        uint32_t v;
        const char *text =
            st && sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (text && str_to_uint32(text, &v) && v <= INT_MAX)
            version = (int)v; /* else 0: not a version, the index is rebuilt */
        sqlite3_finalize(st);
        if (version >= INDEX_SCHEMA_MIGRATE_FROM && version < INDEX_SCHEMA_VERSION)
            *old_version = version;
        else if (version != INDEX_SCHEMA_VERSION) {
            buf_printf(err, "index: schema version %d, not %d", version, INDEX_SCHEMA_VERSION);
            r = -EPROTO;
        }
        /* No PRAGMA quick_check here: it reads every page, seconds for a big
         * mailbox at every login. A file that is not an index fails the read
         * of its version above; damage deeper in is reported when met, and
         * `gannet index rebuild` recomputes the index from the Maildir. */
    }
    if (r == 0 && !existed) {
        r = index_exec(db, schema, err);
        if (r == 0)
            r = index_set_schema_version(db, INDEX_SCHEMA_VERSION, err);
        *fresh = true;
    }
    if (r < 0) {
        sqlite3_close(db);
        return r;
    }
    *out = db;
    return 0;
}

int index_open(const char *path, sqlite3 **out, bool *fresh, int *old_version, struct buf *err)
{
    *fresh = false;
    *old_version = 0;
    struct buf local = BUF_INIT;
    int r = try_open(path, out, fresh, old_version, &local);
    if (r == -EPROTO || r == -EIO) {
        /* Corrupt, foreign or old: the index is a cache, move it aside and
         * rebuild from the Maildir. */
        log_warning(NULL, "index %s unusable (%s), rebuilding", path, buf_cstr(&local));
        struct buf aside = BUF_INIT;
        buf_printf(&aside, "%s.corrupt", path);
        rename(path, buf_cstr(&aside));
        static const char *const sfx[] = {"-wal", "-shm"};
        for (int i = 0; i < 2; i++) {
            buf_reset(&aside);
            buf_printf(&aside, "%s%s", path, sfx[i]);
            unlink(buf_cstr(&aside));
        }
        buf_free(&aside);
        buf_reset(&local);
        *old_version = 0;
        r = try_open(path, out, fresh, old_version, &local);
    }
    if (r < 0 && err)
        buf_append(err, local.data ? local.data : "", local.len);
    buf_free(&local);
    return r;
}

void index_close(sqlite3 *db)
{
    sqlite3_close(db);
}

int index_begin(sqlite3 *db, struct buf *err)
{
    return index_exec(db, "BEGIN IMMEDIATE", err);
}

int index_commit(sqlite3 *db, struct buf *err)
{
    int r = index_exec(db, "COMMIT", err);
    if (r < 0)
        index_rollback(db);
    return r;
}

void index_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int index_search_text(sqlite3 *db, int64_t mailbox_id, enum store_search_field field,
                      const char *words, struct store_uids *out, struct buf *err)
{
    /* Each word becomes an FTS5 string ("" doubled inside), so that nothing a
     * client sends is read as FTS5 query syntax. */
    struct buf q = BUF_INIT;
    const char *col = field == STORE_SEARCH_BODY     ? "body : "
                      : field == STORE_SEARCH_HEADER ? "headers : "
                                                     : "";
    const char *p = words;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (q.len)
            buf_puts(&q, " AND ");
        buf_puts(&q, col);
        buf_putc(&q, '"');
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        /* "word*": a prefix query (FTS5's "word" *) */
        bool prefix = end - p > 1 && end[-1] == '*';
        for (; p < end - (prefix ? 1 : 0); p++) {
            if (*p == '"')
                buf_putc(&q, '"');
            buf_putc(&q, *p);
        }
        p = end;
        buf_puts(&q, prefix ? "\" *" : "\"");
    }
    int r = 0;
    if (q.len == 0) {
        buf_free(&q);
        return 0; /* no words: the caller matches everything itself */
    }
    /* CROSS JOIN: the full-text index first, then each row it found. With
     * a plain JOIN SQLite may walk the mailbox's rows and ask the full-text
     * index about each one, seconds for a rare word in 100,000 messages. */
    sqlite3_stmt *st = index_prepare(db,
                                     "SELECT m.uid FROM message_text t CROSS JOIN messages m"
                                     " ON m.id = t.rowid WHERE message_text MATCH ?1"
                                     " AND m.mailbox_id = ?2 ORDER BY m.uid",
                                     err);
    if (!st) {
        buf_free(&q);
        return -EIO;
    }
    sqlite3_bind_text(st, 1, buf_cstr(&q), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, mailbox_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        uids_push(out, (uint32_t)sqlite3_column_int64(st, 0));
    if (rc != SQLITE_DONE)
        r = index_error(db, rc, "search", err);
    sqlite3_finalize(st);
    buf_free(&q);
    return r;
}
