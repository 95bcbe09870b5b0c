/* The mail store of one user: Maildir++ files plus a per-user SQLite index
 * (DESIGN.md "Storage", docs/storage.md). This is the only interface the
 * protocol code (IMAP, POP3, LMTP) and the admin commands use; nothing above
 * store/ touches the Maildir or the index directly.
 *
 * Rules kept by every function here:
 * - a UID is never reused in a mailbox with the same UIDVALIDITY;
 * - append/copy/move return success only after the message file is fsynced,
 *   renamed into place, its directory fsynced, and the index committed;
 * - the Maildir is self-describing (UID in the file name, UIDVALIDITY and
 *   UIDNEXT in gannet-uidlist beside cur/), so the index is a cache that
 *   store_rebuild() recomputes exactly.
 *
 * Errors: functions return 0 (or a count) on success and a negative errno-style
 * code on failure, with a human-readable message appended to `err` (which may
 * be NULL). Notable codes: -ENOENT no such mailbox/message, -EEXIST mailbox
 * exists, -EINVAL invalid mailbox name or argument, -EPERM operation not
 * allowed on this mailbox (e.g. deleting INBOX), -EIO/-EPROTO index trouble.
 * Nothing here calls exit() and there is no global state: several users'
 * stores may be open in one worker. A struct store and the mailbox handles
 * opened from it are used by one thread at a time: a session calls them from
 * the jobs of its serial queue on the worker's thread pool
 * (lib/serial-queue.h), never from the event loop, since a call may fsync or
 * wait for another process's lock on the index. Opening a user's store from
 * the userdb and mail_location: store/mail-location.h.
 *
 * Mailbox names at this interface are UTF-8 with '/' as the hierarchy
 * separator ("Work/2026"); INBOX is case-insensitive. The IMAP layer converts
 * modified UTF-7 (RFC 3501 §5.1.3) with store/mailbox-name.h. */
#ifndef GANNET_STORE_STORE_H
#define GANNET_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

struct store;         /* one user's store; owner: the session or command that opened it */
struct store_mailbox; /* an open mailbox ("selected"); owner: the session; closed before the store
                       */

/* ---- system flags (RFC 9051 §2.3.2), as a bit set ---- */
enum store_flag {
    STORE_FLAG_SEEN = 1u << 0,     /* \Seen     maildir 'S' */
    STORE_FLAG_ANSWERED = 1u << 1, /* \Answered maildir 'R' */
    STORE_FLAG_FLAGGED = 1u << 2,  /* \Flagged  maildir 'F' */
    STORE_FLAG_DELETED = 1u << 3,  /* \Deleted  maildir 'T' */
    STORE_FLAG_DRAFT = 1u << 4,    /* \Draft    maildir 'D' */
    STORE_FLAG_RECENT = 1u << 5,   /* \Recent: only ever reported, never stored */
};
#define STORE_FLAGS_STORED 0x1fu

/* ---- special-use attributes (RFC 6154) ---- */
enum store_special_use {
    STORE_SPECIAL_NONE = 0,
    STORE_SPECIAL_DRAFTS = 1u << 0,
    STORE_SPECIAL_SENT = 1u << 1,
    STORE_SPECIAL_TRASH = 1u << 2,
    STORE_SPECIAL_JUNK = 1u << 3,
    STORE_SPECIAL_ARCHIVE = 1u << 4,
    STORE_SPECIAL_ALL = 1u << 5,
    STORE_SPECIAL_FLAGGED = 1u << 6,
};
/* "\Drafts" etc. for one bit, NULL for none or several. */
const char *store_special_use_name(unsigned special_use_bit);

/* ---- UID sets and lists ---- */

/* An inclusive range; last == UINT32_MAX stands for IMAP's "*" (RFC 9051 §9
 * seq-number: "*" is the largest UID in use). */
struct store_uid_range {
    uint32_t first;
    uint32_t last;
};

/* A growable, ascending list of UIDs; zero-initialise, free with store_uids_free. */
struct store_uids {
    uint32_t *uids;
    size_t count;
    size_t cap;
};
void store_uids_free(struct store_uids *u);

/* ---- opening a user's store ---- */

enum store_open_flags {
    /* Create the Maildir root and INBOX if missing; a new account (no index and
     * no folder yet) also gets Drafts, Sent, Trash, Junk and Archive with their
     * special-use attributes, subscribed. */
    STORE_OPEN_CREATE = 1u << 0,
    /* Do not create the special-use folders for a new account. */
    STORE_OPEN_NO_SPECIAL_USE = 1u << 1,
};

/* root: the Maildir directory, mail_location without "maildir:" and with %u/%h
 * etc. already expanded (a leading "maildir:" is accepted and skipped). The
 * index is root/gannet.index.sqlite; a missing, corrupt or foreign index is
 * rebuilt from the Maildir here. */
int store_open(const char *root, unsigned flags, struct store **out, struct buf *err);
void store_close(struct store *s);
/* Gives back the index's page cache (the kernel keeps the file cached): a
 * store held open by an idle session then costs little. */
void store_release_memory(struct store *s);
const char *store_root(const struct store *s);

/* Progress of a long operation (rebuild, import): done of total messages in
 * the named mailbox; for the CLI's progress line. May be NULL. */
typedef void store_progress_fn(void *ctx, const char *mailbox, size_t done, size_t total);

/* Rebuilds the whole index from the Maildir alone: mailboxes from the
 * directories, UIDVALIDITY/UIDNEXT from gannet-uidlist (or dovecot-uidlist),
 * UIDs from the ",U=" in file names (or dovecot-uidlist), flags from ":2,",
 * keywords via dovecot-keywords, subscriptions from the subscriptions file.
 * UIDs and UIDVALIDITY are kept; files without a known UID get new ones. */
int store_rebuild(struct store *s, store_progress_fn *progress, void *ctx, struct buf *err);

/* Imports another Maildir(++) tree at src_path (a plain Maildir, or a Dovecot
 * one with dovecot-uidlist and dovecot-keywords) into this store: each folder
 * into the mailbox of the same name (created if missing). Where the target
 * mailbox is new or empty, the source's UIDVALIDITY and UIDs are kept, so
 * clients moved from Dovecot download nothing again; otherwise messages get
 * new UIDs. Flags and keywords are kept. Returns the number of messages. */
int store_import_maildir(struct store *s, const char *src_path, store_progress_fn *progress,
                         void *ctx, struct buf *err);

/* ---- mailboxes ---- */

struct store_mailbox_info {
    char *name;           /* UTF-8, '/' separated */
    unsigned special_use; /* enum store_special_use bits */
    bool subscribed;
    bool has_children;
};

/* All mailboxes, INBOX first, then by name. Free with store_mailbox_list_free. */
int store_mailbox_list(struct store *s, struct store_mailbox_info **out, size_t *count,
                       struct buf *err);
void store_mailbox_list_free(struct store_mailbox_info *list, size_t count);

/* Creates name (and missing parents, as RFC 9051 §6.3.4 allows). special_use
 * may be STORE_SPECIAL_NONE. -EEXIST if it exists, -EINVAL for a bad name. */
int store_mailbox_create(struct store *s, const char *name, unsigned special_use, struct buf *err);
/* Deletes the mailbox and its messages. INBOX cannot be deleted (-EPERM); a
 * mailbox with children is refused (-ENOTEMPTY; RFC 9051 §6.3.5 allows that). */
int store_mailbox_delete(struct store *s, const char *name, struct buf *err);
/* Renames a mailbox and all its children; renaming INBOX moves its messages
 * into the new mailbox and leaves INBOX empty (RFC 9051 §6.3.6). UIDVALIDITY
 * of the renamed mailboxes is kept (their messages and UIDs are unchanged). */
int store_mailbox_rename(struct store *s, const char *from, const char *to, struct buf *err);
int store_mailbox_subscribe(struct store *s, const char *name, bool subscribed, struct buf *err);
/* Sets the special-use attributes of an existing mailbox (RFC 6154 §5). */
int store_mailbox_set_special_use(struct store *s, const char *name, unsigned special_use,
                                  struct buf *err);
/* True if name exists (after INBOX normalisation). */
bool store_mailbox_exists(struct store *s, const char *name);

struct store_status {
    uint32_t messages;
    uint32_t recent; /* messages still in new/ at the last sync */
    uint32_t uidnext;
    uint32_t uidvalidity;
    uint32_t unseen;
    uint32_t deleted;
    uint64_t size;          /* sum of RFC822.SIZE (RFC 8438 STATUS=SIZE) */
    uint64_t highestmodseq; /* RFC 7162 */
};
/* From the index only, never from message files (it does not sync: call
 * store_mailbox_sync on an open mailbox first if outside deliveries matter). */
int store_mailbox_status(struct store *s, const char *name, struct store_status *out,
                         struct buf *err);

/* ---- an open mailbox ---- */

/* Opens (selects) a mailbox and syncs it once with the Maildir. The handle
 * keeps the session's view: the ascending UID list that IMAP sequence numbers
 * index into; it changes only in store_mailbox_sync and in this handle's own
 * expunges. */
int store_mailbox_open(struct store *s, const char *name, struct store_mailbox **out,
                       struct buf *err);
/* Opens a mailbox only to append to it (a delivery): no sync with the
 * Maildir and an empty view, so that what it costs does not grow with the
 * mailbox. What other programs put in it meanwhile is picked up by the next
 * sync, as always; the UIDs of appends through this handle never collide
 * with theirs. */
int store_mailbox_open_append(struct store *s, const char *name, struct store_mailbox **out,
                              struct buf *err);
void store_mailbox_close(struct store_mailbox *m);
const char *store_mailbox_name(const struct store_mailbox *m);
uint32_t store_mailbox_uidvalidity(const struct store_mailbox *m);
/* The handle's view: view->uids[seq - 1] is the UID of sequence number seq. */
const struct store_uids *store_mailbox_view(const struct store_mailbox *m);
int store_mailbox_get_status(struct store_mailbox *m, struct store_status *out, struct buf *err);

/* What a sync found changed since the handle's last sync, for IMAP's
 * untagged EXISTS/EXPUNGE/FETCH (RFC 9051 §7.4) and VANISHED (RFC 7162). */
struct store_sync_result {
    struct store_uids added;         /* new UIDs now in the view */
    struct store_uids expunged;      /* UIDs removed from the view (not those this
                                      * handle expunged itself: the caller got them) */
    struct store_uids flags_changed; /* UIDs whose flags/keywords changed (any process,
                                      * this handle included) */
    uint64_t highestmodseq;
    uint32_t uidnext;
};
void store_sync_result_free(struct store_sync_result *r);
/* How store_mailbox_sync_flags brings the view up to date. */
enum store_sync_flags {
    /* The client's sequence numbers must not move (RFC 9051 §7.5.1: during
     * FETCH, STORE and SEARCH): UIDs expunged elsewhere stay in the view, in
     * their places, and are not reported; new messages are added after them.
     * While an expunge is held back, flag changes are too (their MODSEQs may
     * be above the expunge's, RFC 7162 §3.2). The next sync without the flag
     * reports all that was held back. */
    STORE_SYNC_KEEP_EXPUNGED = 1u << 0,
};
/* store_mailbox_sync with flags. Cheap when nothing changed: with the
 * mailbox watched (store_notify_watch) the Maildir is scanned only after an
 * event for it, and the view is reloaded only when the mailbox's
 * HIGHESTMODSEQ moved (every change to its messages gives a new one). */
int store_mailbox_sync_flags(struct store_mailbox *m, unsigned flags, struct store_sync_result *res,
                             struct buf *err);
/* Picks up files other programs put in new/ or cur/ (they get the next UIDs;
 * new/ files move to cur/), expunges index entries whose file vanished, sees
 * flag changes made by renaming, and changes other processes made through
 * the index; then brings the handle's view up to date. res may be NULL. */
int store_mailbox_sync(struct store_mailbox *m, struct store_sync_result *res, struct buf *err);
/* The flag and keyword changes since the handle last looked (its last sync, or
 * this call with `seen`), by any process, this handle included: the UIDs of
 * the view whose MODSEQ grew, ascending, appended to *changed. With `seen`
 * the handle counts them as told: the next sync does not list them again.
 * The view stays as it is (no expunge, no new message), so this may run
 * while a STORE is answered (RFC 9051 §6.4.6, §7.5.1). */
int store_mailbox_flag_changes(struct store_mailbox *m, bool seen, struct store_uids *changed,
                               struct buf *err);

/* ---- messages ---- */

struct store_append_options {
    unsigned flags;              /* STORE_FLAG_* (\Recent ignored) */
    const char *const *keywords; /* atoms, e.g. "$Forwarded" */
    size_t keyword_count;
    time_t internal_date; /* 0: now */
};

/* Appends one message; *uid_out (may be NULL) gets its UID. The message is
 * durable when this returns 0. */
int store_append(struct store_mailbox *m, const void *data, size_t len,
                 const struct store_append_options *opt, uint32_t *uid_out, struct buf *err);
/* The same from a readable fd, read to its end (LMTP spool file, deliver's stdin). */
int store_append_fd(struct store_mailbox *m, int fd, const struct store_append_options *opt,
                    uint32_t *uid_out, struct buf *err);

/* Streaming append, for APPEND literals and LMTP DATA as they arrive:
 * begin, write any number of chunks, then commit (durable, returns the UID) or
 * abort (removes the temporary file). Each chunk is written to tmp/ and fed
 * to the message parser at once, so memory stays bounded whatever the size,
 * and the commit holds the index's write lock only for the UID, the rename
 * and the rows, never for the parse or the file's fsync. Owner of the ctx:
 * the caller until commit/abort, which free it whatever they return. */
struct store_append_ctx;
int store_append_begin(struct store_mailbox *m, const struct store_append_options *opt,
                       struct store_append_ctx **out, struct buf *err);
int store_append_write(struct store_append_ctx *ctx, const void *data, size_t len, struct buf *err);
int store_append_commit(struct store_append_ctx *ctx, uint32_t *uid_out, struct buf *err);
void store_append_abort(struct store_append_ctx *ctx);
/* One message for several mailboxes, of this store or of other users' stores
 * (LMTP with several recipients): the message written through ctx is also
 * committed into dst, as its own file (a hard link to ctx's when both are on
 * one filesystem, else a copy) with its own UID, durable when this returns 0.
 * The parse and the fsync of ctx's file are done once, by the first commit or
 * by store_append_finish(). ctx stays open: no more writes, then commit or
 * abort it as usual. */
int store_append_commit_copy(struct store_append_ctx *ctx, struct store_mailbox *dst,
                             uint32_t *uid_out, struct buf *err);
/* The end of the writes: the parse finished and the file fsynced. After it,
 * store_append_commit_copy() only reads ctx, so that copies into mailboxes of
 * different stores may be committed from several threads at once (each store
 * used by one thread at a time, as always). */
int store_append_finish(struct store_append_ctx *ctx, struct buf *err);

/* COPY/MOVE result for UIDPLUS (RFC 4315 §3 COPYUID): src_uids[i] became
 * dst_uids[i] in a mailbox with UIDVALIDITY uidvalidity. */
struct store_copy_result {
    uint32_t uidvalidity;
    struct store_uids src_uids;
    struct store_uids dst_uids;
};
void store_copy_result_free(struct store_copy_result *r);
/* Copies (move = false) or moves (RFC 6851) the messages with UIDs in set from
 * m to the mailbox named dst. A move expunges the sources only after the
 * copies are durable; their UIDs are removed from m's view and listed in
 * res->src_uids (the caller sends EXPUNGE/VANISHED for them). */
int store_copy(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
               const char *dst, bool move, struct store_copy_result *res, struct buf *err);

/* Expunges: with set NULL every \Deleted message (EXPUNGE, CLOSE); with a set
 * and only_deleted the \Deleted ones in it (UID EXPUNGE, RFC 4315 §2.1); with a
 * set and !only_deleted every message in it (POP3 QUIT after DELE). The UIDs
 * expunged are removed from the view and appended to *expunged (may be NULL). */
int store_expunge(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                  bool only_deleted, struct store_uids *expunged, struct buf *err);

enum store_flag_op { STORE_FLAGS_REPLACE, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

struct store_flags_result {
    uint64_t modseq;            /* the MODSEQ given to the changed messages */
    struct store_uids changed;  /* UIDs whose flags/keywords actually changed */
    struct store_uids modified; /* UIDs refused by UNCHANGEDSINCE (RFC 7162 §3.1.3) */
};
void store_flags_result_free(struct store_flags_result *r);
/* STORE (RFC 9051 §6.4.6) on the UIDs in set: flags are STORE_FLAG_* bits,
 * keywords atoms. unchangedsince: 0 for none, else messages whose MODSEQ is
 * greater are left alone and listed in res->modified. Messages whose flags do
 * not change keep their MODSEQ. The file names' ":2," suffix follows. */
int store_set_flags(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                    enum store_flag_op op, unsigned flags, const char *const *keywords,
                    size_t keyword_count, uint64_t unchangedsince, struct store_flags_result *res,
                    struct buf *err);

/* What store_fetch_* fills besides the always-present fields. */
enum store_fetch_want {
    STORE_FETCH_ENVELOPE = 1u << 0,
    STORE_FETCH_BODYSTRUCTURE = 1u << 1,
    STORE_FETCH_BODY = 1u << 2,    /* BODY (non-extensible BODYSTRUCTURE) */
    STORE_FETCH_HEADERS = 1u << 3, /* the cached header section */
};

/* One message record. Always filled: uid, modseq, flags, keywords, path,
 * size, virtual_size, internal_date, sent_date. The strings are owned by the
 * iterator and valid until the next store_fetch_next or store_fetch_end; a
 * cached field not wanted or not available is NULL. */
struct store_message {
    uint32_t uid;
    uint64_t modseq;
    unsigned flags; /* STORE_FLAG_*, \Recent if it was in new/ at the last sync */
    const char *const *keywords;
    size_t keyword_count;
    const char *path;      /* absolute path of the message file (may be renamed by
                            * another process at any time: use store_message_open) */
    uint64_t size;         /* bytes in the file */
    uint64_t virtual_size; /* RFC822.SIZE: with CRLF line ends (Dovecot's ",W=") */
    time_t internal_date;
    time_t sent_date;          /* Date: header, 0 if missing or unparsable */
    const char *envelope;      /* RFC 9051 §7.5.2 ENVELOPE, ready to send */
    const char *bodystructure; /* BODYSTRUCTURE, ready to send */
    const char *body;          /* BODY, ready to send */
    const char *headers;       /* the header section as stored, for HEADER.FIELDS */
};

struct store_fetch_iter;
/* Iterates over the messages with UIDs in set (ascending), set NULL for all. */
int store_fetch_begin(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                      unsigned want, struct store_fetch_iter **out, struct buf *err);
/* 1 and *msg set, 0 at the end, negative on error. */
int store_fetch_next(struct store_fetch_iter *it, const struct store_message **msg,
                     struct buf *err);
void store_fetch_end(struct store_fetch_iter *it);

/* The current absolute path of a message file (for FETCH BODY[] / sendfile);
 * -ENOENT if the UID is not in the mailbox. */
int store_message_path(struct store_mailbox *m, uint32_t uid, struct buf *path, struct buf *err);
/* Opens a message file read-only, finding it again if another process renamed
 * it (flag change) meanwhile. *size_out may be NULL. */
int store_message_open(struct store_mailbox *m, uint32_t uid, int *fd_out, uint64_t *size_out,
                       struct buf *err);

/* Full-text search (SEARCH BODY/TEXT/HEADER, RFC 9051 §6.4.4) in the FTS5
 * index: the UIDs (ascending) whose text contains every word of `words`. */
enum store_search_field {
    STORE_SEARCH_TEXT,   /* header and body */
    STORE_SEARCH_BODY,   /* body text only */
    STORE_SEARCH_HEADER, /* header text only */
};
/* A word ending in '*' matches as a prefix ("meet*": meeting, meets). */
int store_search_text(struct store_mailbox *m, enum store_search_field field, const char *words,
                      struct store_uids *out, struct buf *err);

/* ---- what changed since a MODSEQ (RFC 7162 CHANGEDSINCE, QRESYNC) ---- */

/* The UIDs of the view in set (NULL: all) whose MODSEQ is above modseq,
 * ascending, appended to *out. */
int store_mailbox_changed_since(struct store_mailbox *m, uint64_t modseq,
                                const struct store_uid_range *set, size_t nset,
                                struct store_uids *out, struct buf *err);
/* The UIDs of set (NULL: all) that were expunged after modseq, for
 * VANISHED (EARLIER) (RFC 7162 §3.2.5.1, §3.2.6), as ascending ranges appended
 * to *out (xrealloc'd, *nout updated; the caller frees). When the index does
 * not remember expunges that far back (nothing expunged yet, or modseq below
 * the oldest remembered expunge's minus one: an index rebuilt from the
 * Maildir forgets them), every UID of set below UIDNEXT that is not in the
 * mailbox, as the RFC asks. */
int store_mailbox_vanished(struct store_mailbox *m, uint64_t modseq,
                           const struct store_uid_range *set, size_t nset,
                           struct store_uid_range **out, size_t *nout, struct buf *err);

/* SEARCH's substring semantics on top of the word index (src/store/search.c):
 * the UIDs (ascending) of the messages whose text may contain `needle`, a
 * superset of those that do, from the whole words and the last word's prefix
 * that any text containing needle must have. *narrowed is false (and out
 * untouched) when the index cannot tell ("ello" may be inside any word):
 * every message is a candidate then. The caller confirms each candidate in
 * the text itself (store_text_*). */
int store_search_substring(struct store_mailbox *m, enum store_search_field field,
                           const char *needle, size_t len, struct store_uids *out, bool *narrowed,
                           struct buf *err);

/* The text the full-text index holds for each message with a UID in set
 * (ascending; set NULL for all): the top-level header fields decoded, one
 * "Name: value" a line, and the body text (transfer encodings decoded, UTF-8,
 * HTML reduced, capped at SEARCH_TEXT_MAX), as the message parser made them
 * when the message came in (mail/message.h). Strings owned by the iterator,
 * valid until the next call; empty for a message without text. */
struct store_text {
    uint32_t uid;
    const char *headers;
    size_t headers_len;
    const char *body;
    size_t body_len;
};
struct store_text_iter;
int store_text_begin(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                     struct store_text_iter **out, struct buf *err);
/* 1 and *text set, 0 at the end, negative on error. */
int store_text_next(struct store_text_iter *it, const struct store_text **text, struct buf *err);
void store_text_end(struct store_text_iter *it);

/* The index's record of each message of the view with a UID in
 * [first, last], in UID order, read in one pass over the index (SEARCH's
 * flags, dates, sizes and MODSEQ for a whole mailbox): the fields of
 * store_fetch_next that are always filled, but path, and none of the cached
 * ones. Owned by the iterator as store_fetch's are. want may be
 * STORE_FETCH_HEADERS, for store_scan_headers. */
struct store_scan_iter;
int store_scan_begin(struct store_mailbox *m, uint32_t first, uint32_t last, unsigned want,
                     struct store_scan_iter **out, struct buf *err);
/* 1 and *msg set, 0 at the end, negative on error. */
int store_scan_next(struct store_scan_iter *it, const struct store_message **msg, struct buf *err);
/* The current message's cached header section (as store_fetch's headers;
 * NULL if none), read only when asked for. */
const char *store_scan_headers(struct store_scan_iter *it);
void store_scan_end(struct store_scan_iter *it);

/* Makes the reads that follow one read transaction of the index (one
 * snapshot, and one lock taken instead of one per statement: the cost of
 * reading many messages one by one) until store_read_end. Nothing may be
 * written in between. */
int store_read_begin(struct store_mailbox *m, struct buf *err);
void store_read_end(struct store_mailbox *m);

/* ---- change notification between processes (IDLE, NOTIFY) ---- */

/* An inotify fd for the session's event loop (readable when a watched mailbox
 * changed), -1 if notification is unavailable. Owned by the store. */
int store_notify_fd(struct store *s);
/* Watches a mailbox: any append, flag change, expunge by any process, or a
 * file put there by another program, makes the fd readable. */
int store_notify_watch(struct store *s, const char *name, struct buf *err);
int store_notify_unwatch(struct store *s, const char *name);
/* Drains the fd (never blocks) and appends the names of the watched mailboxes
 * that changed to *names (each once, xmalloc'd, *count updated). Returns the
 * number added. The caller then calls store_mailbox_sync on them. */
int store_notify_changed(struct store *s, char ***names, size_t *count, struct buf *err);

#endif
