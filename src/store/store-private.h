/* Internals shared by the store's files (store.c, mailbox-row.c, mailbox.c,
 * append.c, copy.c, expunge.c, flags.c, fetch.c, sync.c, notify.c); not for
 * use outside src/store/. */
#ifndef GANNET_STORE_PRIVATE_H
#define GANNET_STORE_PRIVATE_H

#include <sqlite3.h>

#include "store/index.h"
#include "store/maildir.h"
#include "store/store.h"

struct store_watch {
    int wd;
    bool mailbox_dir; /* the directory holding gannet-notify, not cur/ or new/ */
    char *name;
    /* an event came that store_notify_changed has not reported yet */
    bool changed;
    /* an event came since the mailbox's Maildir was last scanned (or events
     * were lost): the next sync scans */
    bool dirty;
    /* the mailbox's watches miss changes (one could not be added, or the
     * kernel removed it): every sync scans */
    bool broken;
};

/* Owner: whoever called store_open. */
struct store {
    char *root;
    sqlite3 *db;
    int inotify_fd;
    struct store_watch *watches;
    size_t nwatches;
};

/* Owner: the session that opened it; must be closed before its store. */
struct store_mailbox {
    struct store *s;
    int64_t id;
    char *name;
    char *dir; /* absolute; the root for INBOX */
    uint32_t uidvalidity;
    struct store_uids view;
    uint64_t last_modseq;
    /* the mailbox's HIGHESTMODSEQ when the view was last loaded (0: never),
     * and whether expunges were held back then (STORE_SYNC_KEEP_EXPUNGED):
     * a sync that finds the same HIGHESTMODSEQ and nothing held has nothing
     * to do */
    uint64_t view_modseq;
    bool view_held;
};

/* A mailbox's row in the index (table mailboxes). */
struct mailbox_row {
    int64_t id;
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint64_t highestmodseq;
    unsigned special_use;
    bool subscribed;
};

/* store.c */
int store_err(struct buf *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void uids_push(struct store_uids *u, uint32_t uid);
bool uids_contains(const struct store_uids *u, uint32_t uid);
int subscriptions_write(struct store *s, struct buf *err);

/* mailbox-row.c */
/* The mailbox's Maildir directory (the root for INBOX), appended to out. */
void mailbox_path(const struct store *s, const char *name, struct buf *out);
/* 0 and *row, -ENOENT if not in the index. */
int mailbox_row_lookup(struct store *s, const char *name, struct mailbox_row *row, struct buf *err);
/* Registers a mailbox directory that exists on disk in the index, taking
 * UIDVALIDITY/UIDNEXT from gannet-uidlist, else dovecot-uidlist, else new. */
int mailbox_row_register(struct store *s, const char *name, unsigned special_use, bool subscribed,
                         struct mailbox_row *row, struct buf *err);
/* Reserves n UIDs (gannet-uidlist written and fsynced first); inside a transaction. */
int mailbox_row_alloc_uids(struct store *s, int64_t id, const char *dir, uint32_t n,
                           uint32_t min_next, uint32_t *first, struct buf *err);
/* A new MODSEQ for the mailbox; inside a transaction. */
int mailbox_row_next_modseq(struct store *s, int64_t id, uint64_t *modseq, struct buf *err);
/* Touches dir/gannet-notify, waking other processes' inotify watches. */
void mailbox_touch_notify(const char *dir);

/* append.c */
/* Parses a message file into the cached columns and FTS row and inserts it. */
struct msg_insert {
    int64_t mailbox_id;
    uint32_t uid;
    const char *base;
    const char *filename;
    uint64_t size;
    uint64_t vsize;
    time_t internal_date;
    unsigned flags;
    const char *keywords;
    uint64_t modseq;
    bool recent;
};
int msg_insert_parsed(struct store *s, const struct msg_insert *mi, int fd, struct buf *err);
/* The same with the summary already made (an append parses as it writes). */
struct mail_summary;
int msg_insert(struct store *s, const struct msg_insert *mi, const struct mail_summary *sum,
               struct buf *err);

/* flags.c */
#define KEYWORDS_MAX 256
/* Splits a space-separated keyword list. */
size_t split_words(char *s, char **out, size_t max);
/* RFC 9051 §2.3.2: a keyword is an atom; no flag-looking "\" names. */
bool keyword_valid(const char *k);
/* Appends the keywords not yet in out (case-insensitive), space-separated;
 * -EINVAL for an invalid one. */
int keywords_join(const char *const *kw, size_t n, struct buf *out, struct buf *err);
/* Keyword bits of a space-separated keyword list through dovecot-keywords;
 * new keywords get letters while there are free ones (may rewrite the file). */
int keywords_to_bits(const char *dir, const char *keywords, bool add_missing, uint32_t *bits,
                     struct buf *err);
/* The keyword names of letter bits, space-separated. */
void keywords_from_bits(const struct maildir_keywords *k, uint32_t bits, struct buf *out);

/* mailbox.c */
/* Finds the current name of the file with base in dir/cur (or new), for
 * renames by other programs; 0 and the name in out, or -ENOENT. */
int find_file_by_base(const char *dir, const char *base, struct buf *out, bool *in_new);
/* The view's UIDs inside set (NULL: all), ascending; "*" is the view's largest. */
void uids_in_set(const struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                 struct store_uids *out);
/* Takes UIDs out of the handle's view (this handle expunged or moved them). */
void view_remove(struct store_mailbox *m, const struct store_uids *gone);

/* expunge.c */
/* Removes messages (files, rows, text) and logs them as expunged with one
 * new MODSEQ; inside a transaction. */
int msg_expunge_locked(struct store *s, int64_t mailbox_id, const char *dir,
                       const struct store_uids *uids, struct buf *err);

/* copy.c */
/* Hard link, or a copy with fsync keeping the mtime. */
int msg_copy_file(const char *src, const char *dst, struct buf *err);

/* sync.c */
int mailbox_sync_locked(struct store *s, int64_t id, const char *name, const char *dir,
                        struct buf *err);
int store_rebuild_locked(struct store *s, bool new_account_check, bool *was_empty,
                         store_progress_fn *progress, void *ctx, struct buf *err);

/* migrate.c */
/* Recomputes the cached ENVELOPE, BODY and BODYSTRUCTURE of every message
 * from its file (an index schema migration), one transaction per mailbox;
 * *count is the number of messages re-read. */
int msg_reparse_all(struct store *s, size_t *count, struct buf *err);

/* notify.c */
void notify_close(struct store *s);
/* Whether a sync of the mailbox must scan its Maildir: true unless every
 * change to its cur/, new/ and gannet-notify is watched and none came since
 * the last scan. Drains the inotify fd first; clears the mailbox's dirty
 * marks, so that a change during the scan that follows marks it again. */
bool notify_need_scan(struct store *s, const char *name);

#endif
