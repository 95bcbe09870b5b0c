/* Maildir(++) file conventions (https://cr.yp.to/proto/maildir.html, Courier's
 * Maildir++, and Dovecot's extensions): file names with ",S=" size, ",W="
 * RFC822.SIZE and our ",U=" UID, the ":2," flag suffix, the small state files
 * beside cur/ (gannet-uidlist; Dovecot's dovecot-uidlist and
 * dovecot-keywords), and the fsync/rename helpers the durability rules need. */
#ifndef GANNET_STORE_MAILDIR_H
#define GANNET_STORE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define MAILDIR_UIDLIST "gannet-uidlist"
#define MAILDIR_NOTIFY "gannet-notify"
#define MAILDIR_DOVECOT_UIDLIST "dovecot-uidlist"
#define MAILDIR_DOVECOT_KEYWORDS "dovecot-keywords"
#define MAILDIR_KEYWORDS_MAX 26 /* letters a-z */

/* The parts of a message file name. base is everything before ':' (the part
 * that stays when flags change); 0 for fields not present. */
struct maildir_filename {
    char *base;
    uint32_t uid;    /* ",U=" */
    uint64_t size;   /* ",S=" */
    uint64_t vsize;  /* ",W=" */
    unsigned flags;  /* STORE_FLAG_* from the :2, suffix */
    uint32_t kwbits; /* keyword letters a-z as bits 0..25 */
};
/* Parses a file name; false for names that are not messages (dot files). */
bool maildir_filename_parse(const char *name, struct maildir_filename *out);
void maildir_filename_free(struct maildir_filename *f);
/* A new unique base: "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<vsize>,U=<uid>". */
void maildir_new_base(struct buf *out, uint64_t size, uint64_t vsize, uint32_t uid);
/* base with ",U=<uid>" added or replaced (removed for uid 0). */
void maildir_base_with_uid(struct buf *out, const char *base, uint32_t uid);
/* base + ":2," + flag letters in ASCII order (Maildir requires the order). */
void maildir_filename_build(struct buf *out, const char *base, unsigned flags, uint32_t kwbits);

/* Creates dir and its cur/ new/ tmp/ (and maildirfolder when folder) where
 * missing, then fsyncs dir if it made anything. */
int maildir_create_dirs(const char *dir, bool folder, struct buf *err);
/* fsync a directory by path. */
int maildir_fsync_dir(const char *dir);
/* Writes path atomically: path.tmp, fsync, rename, fsync of the directory. */
int maildir_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                              struct buf *err);
/* Removes a directory tree (only regular files and directories). */
int maildir_remove_tree(const char *path);

/* gannet-uidlist: "gannet-uidlist 1\nV <uidvalidity>\nN <uidnext>\n". */
int maildir_uidlist_read(const char *dir, uint32_t *uidvalidity, uint32_t *uidnext);
int maildir_uidlist_write(const char *dir, uint32_t uidvalidity, uint32_t uidnext, struct buf *err);

/* dovecot-uidlist version 3: header "3 V<uidvalidity> N<nextuid> ...", then
 * "<uid> [extensions] :<base>" lines (older version 1: "<uid> <base>"). */
struct dovecot_uid {
    uint32_t uid;
    char *base;
};
struct dovecot_uidlist {
    uint32_t uidvalidity;
    uint32_t nextuid;
    struct dovecot_uid *entries; /* sorted by base for lookup */
    size_t count;
};
int dovecot_uidlist_read(const char *dir, struct dovecot_uidlist *out);
/* The UID of base, 0 if not listed. */
uint32_t dovecot_uidlist_lookup(const struct dovecot_uidlist *l, const char *base);
void dovecot_uidlist_free(struct dovecot_uidlist *l);

/* dovecot-keywords: "<index> <keyword>" lines; index i is letter 'a'+i. */
struct maildir_keywords {
    char *names[MAILDIR_KEYWORDS_MAX];
    size_t count;
};
int maildir_keywords_read(const char *dir, struct maildir_keywords *out);
int maildir_keywords_write(const char *dir, const struct maildir_keywords *k, struct buf *err);
/* Index of name (case-insensitive, RFC 9051 §2.3.2 keywords), or -1. */
int maildir_keywords_find(const struct maildir_keywords *k, const char *name);
void maildir_keywords_free(struct maildir_keywords *k);

/* Bare LFs in data (each adds one byte to RFC822.SIZE, which counts CRLF line
 * ends); *prev_cr carries the state from one chunk to the next. */
uint64_t maildir_bare_lf_count(const void *data, size_t len, bool *prev_cr);

#endif
