/* Where a user's mail is, and opening it: the same for IMAP and POP3 after
 * login, for LMTP delivery and for the admin commands. From what the userdb
 * says about the user and the mail_location setting ("maildir:~/Maildir",
 * Dovecot's syntax and variables) to an opened struct store.
 *
 * store/ does not include auth/: the caller copies the userdb's answer into
 * a struct store_user. Privileges are the caller's business too: the store
 * is opened as mail_uid/mail_gid, after the drop (DESIGN.md "Processes,
 * concurrency, privileges"). */
#ifndef GANNET_STORE_MAIL_LOCATION_H
#define GANNET_STORE_MAIL_LOCATION_H

#include <sys/types.h>

#include "lib/buf.h"

struct store;

/* One user as the userdb describes them. The strings are the caller's. */
struct store_user {
    const char *user; /* the canonical name: %u, %n (before '@'), %d (after) */
    const char *home; /* NULL or "": none, and then ~ or %h is an error */
    const char *mail; /* the userdb's own location for this user (Dovecot's
                         "mail" field), used instead of mail_location; NULL
                         or "": none */
    long uid, gid;    /* -1: not given */
};

/* The Maildir path of a mail location: "maildir:" is optional, Dovecot's
 * options after the path (":INDEX=...", ":LAYOUT=fs") are ignored, "~" and
 * %h are the home, %u %n %d as in settings_expand_vars(), trailing slashes
 * dropped ("maildir:~/Maildir:INDEX=..." -> "/home/u/Maildir"). -EINVAL with
 * one line in err for another format ("mbox:..."), a ~ or %h without a
 * home, or a result that is not an absolute path. */
int mail_location_expand(const char *location, const char *user, const char *home, struct buf *out,
                         struct buf *err);

/* The user's Maildir: the userdb's mail field, else mail_location, expanded.
 * -EPERM when the userdb gives a uid or gid other than mail_uid/mail_gid (all
 * mail belongs to one system user), -EINVAL for a bad location; one line in
 * err. */
int store_user_maildir(const struct store_user *u, const char *mail_location, uid_t mail_uid,
                       gid_t mail_gid, struct buf *out, struct buf *err);

/* Opens the user's store at maildir (store_open()'s flags; with
 * STORE_OPEN_CREATE the Maildir, the directories above it and INBOX are made
 * when missing, as a first login or delivery needs). On failure the negative
 * code of store_open() and "cannot open the mail store of USER at PATH: why"
 * in err. */
int store_user_open_at(const char *user, const char *maildir, unsigned flags, struct store **out,
                       struct buf *err);

/* Both steps, for a process already running as mail_uid/mail_gid (a worker
 * after login, LMTP): the userdb's ids are checked against the process's
 * effective ones. */
int store_user_open(const struct store_user *u, const char *mail_location, unsigned flags,
                    struct store **out, struct buf *err);

#endif
