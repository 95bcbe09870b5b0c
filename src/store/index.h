/* The per-user SQLite index (docs/storage.md has the schema): a cache of the
 * Maildir that store_rebuild() can always recompute. WAL mode with
 * synchronous=FULL: a commit is on disk when it returns, which the
 * acknowledgement rule (DESIGN.md "Storage") needs. */
#ifndef GANNET_STORE_INDEX_H
#define GANNET_STORE_INDEX_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "store/store.h"

#define INDEX_FILE "gannet.index.sqlite"
/* flock'ed while the index is opened, made, migrated or rebuilt */
#define INDEX_LOCK_FILE "gannet.index.lock"
/* 2: ENVELOPE lists the addresses of every repeated address field (1 kept
 * only the last field's). */
#define INDEX_SCHEMA_VERSION 2
/* Indexes from this schema version on have the current tables and are
 * migrated in place: only cached values are recomputed (the caller does that,
 * then index_set_schema_version), so that MODSEQs, the expunged UIDs and the
 * mailboxes' settings are kept. An older or unknown one is rebuilt. */
#define INDEX_SCHEMA_MIGRATE_FROM 1

/* Opens or creates the index at path. *fresh is set when the database had to
 * be created (missing, corrupt, or a schema version that cannot be migrated:
 * the old file is moved aside to path.corrupt), so the caller rebuilds it from
 * the Maildir. *old_version is set to the index's schema version when it is
 * older than INDEX_SCHEMA_VERSION and can be migrated, else 0. */
int index_open(const char *path, sqlite3 **out, bool *fresh, int *old_version, struct buf *err);
/* Records the schema version, in a transaction of the caller's or its own. */
int index_set_schema_version(sqlite3 *db, int version, struct buf *err);
void index_close(sqlite3 *db);

/* BEGIN IMMEDIATE: the write lock, held while the Maildir is changed too, so
 * that two processes never allocate the same UID or race a rename. */
int index_begin(sqlite3 *db, struct buf *err);
int index_commit(sqlite3 *db, struct buf *err);
void index_rollback(sqlite3 *db);

/* Runs a statement without results; returns 0 or -EIO with the message. */
int index_exec(sqlite3 *db, const char *sql, struct buf *err);
/* Prepares; on failure fills err and returns NULL. */
sqlite3_stmt *index_prepare(sqlite3 *db, const char *sql, struct buf *err);
/* Maps an SQLite result code to -errno and appends the message. */
int index_error(sqlite3 *db, int rc, const char *what, struct buf *err);

/* FTS5 search in one mailbox: UIDs ascending whose text matches all words. */
int index_search_text(sqlite3 *db, int64_t mailbox_id, enum store_search_field field,
                      const char *words, struct store_uids *out, struct buf *err);

#endif
