/* The user databases: passdb (who may log in, with which password) and userdb
 * (uid, gid, home of a user). Drivers: passwd-file (Dovecot's format,
 * `user:{SCHEME}hash:uid:gid:gecos:home:shell:extra`) for both, and static for
 * userdb. Lookups read files: call them from the thread pool. */
#ifndef GANNET_AUTH_PASSDB_H
#define GANNET_AUTH_PASSDB_H

#include "lib/buf.h"
#include "lib/settings.h"

#include <stdbool.h>
#include <sys/types.h>

struct passwd_entry {
    char *user;
    char *password; /* "{SCHEME}..." or NULL (no password field: passdb can't log in) */
    long uid;       /* -1 when empty */
    long gid;       /* -1 when empty */
    char *home;     /* NULL when empty */
    char *extra;    /* the extra fields, space separated, or NULL */
    unsigned line;  /* where it was defined in the file, for messages */
};

/* A parsed passwd-file. */
struct passwd_file {
    char *path;
    struct passwd_entry *entries; /* sorted by user name (for passwd_file_find) */
    size_t n_entries;
    /* Set by passwd_file_find_typical(): */
    const struct passwd_entry *typical; /* one of the most common password kind, or NULL */
    unsigned scram_iterations;          /* the most common {SCRAM-SHA-256} iteration count, or 0 */
};

/* Parses a passwd-file's text. Blank lines and `#` comments are skipped. A line
 * that is not `user:...` is an error "PATH:LINE: reason" in err (returns -1), and
 * so are a user defined twice, a uid/gid that is not a number or a known name,
 * and uid/gid 0 (root never owns mail). */
int passwd_file_parse(const char *path, const char *text, size_t len, struct passwd_file *out,
                      struct buf *err);
int passwd_file_load(const char *path, struct passwd_file *out, struct buf *err);
const struct passwd_entry *passwd_file_find(const struct passwd_file *f, const char *user);
/* Sets f->typical to an entry whose password is of the kind (scheme and cost,
 * password_kind()) most entries have, and f->scram_iterations: an unknown user's
 * password is checked against the typical hash and an unknown user's SCRAM
 * exchange made up with that count, so that neither the time of the answer nor
 * the server-first message tells an unknown user from the usual real one. */
void passwd_file_find_typical(struct passwd_file *f, const char *default_scheme);
void passwd_file_free(struct passwd_file *f);

/* The configured passdbs and userdbs, ready for lookups. */
struct userdb_result {
    char *user;    /* the canonical user name */
    long uid, gid; /* -1: not given, mail_uid/mail_gid apply */
    char *home;
};

struct passdb_result {
    char *user;           /* the name as found */
    char *password;       /* the stored "{SCHEME}..." string */
    char *default_scheme; /* passwd-file's scheme= argument, or NULL */
    /* Found or not, from the passdb that has the user, or else from the first
     * one that has any password: a stored password of the kind most of its
     * entries have (NULL when it has none), with its passdb's scheme= argument,
     * and its most common SCRAM iteration count (0: none). What an unknown
     * user's check is made to cost (passwd_file_find_typical()). */
    char *typical_password;
    char *typical_scheme;
    unsigned scram_iterations;
};

struct authdb;

/* Checks the drivers and their args (a passwd-file that cannot be read, an
 * unknown driver, a static userdb without home): -1 with err. */
int authdb_open(const struct settings *set, struct authdb **out, struct buf *err);
void authdb_free(struct authdb *db);

/* 1 found, 0 unknown user, -1 temporary failure (a file went unreadable) with err.
 * passwd-file is re-read when its mtime changes. Thread-safe. Whatever the
 * result, free out with passdb_result_free: an unknown user's result holds
 * the typical hash that is checked in its place. */
int authdb_passdb_lookup(struct authdb *db, const char *user, struct passdb_result *out,
                         struct buf *err);
int authdb_userdb_lookup(struct authdb *db, const char *user, struct userdb_result *out,
                         struct buf *err);
void passdb_result_free(struct passdb_result *r);
void userdb_result_free(struct userdb_result *r);

#endif
