/* What every mail admin command (mailbox, fetch, import, index, deliver) does
 * before it touches mail: load the config, look the user up in the userdb,
 * work out the Maildir from mail_location, and drop to mail_uid/mail_gid, so
 * that nothing an admin command writes is owned by root (DESIGN.md
 * "Processes, concurrency, privileges"). Failures come back as sysexits
 * codes with one line in err, so that `gannet deliver` can answer its MTA. */
#ifndef GANNET_CLI_MAIL_USER_H
#define GANNET_CLI_MAIL_USER_H

#include "cli/options.h"
#include "lib/buf.h"
#include "lib/settings.h"
#include "net/privs.h"

#include <stdbool.h>

struct store;

/* cli_opts_parse() (cli/options.h) for the admin commands without a
 * subcommand: `spec` names their options ("u:m:"); -u USER is required. */
int admin_opts_parse(int argc, char **argv, const char *spec, const char *usage,
                     struct cli_opts *o);

/* 0 when -u USER was given; otherwise EX_USAGE after one line naming cmd and
 * the usage on stderr. */
int admin_opts_need_user(struct cli_opts *o, const char *cmd, const char *usage);

/* One user's mail, owned by the command that opened it. */
struct mail_user {
    struct settings set;
    bool set_loaded;
    char *user;    /* the canonical name from the userdb */
    char *home;    /* NULL when the userdb gives none */
    char *maildir; /* the expanded mail_location path */
    struct privs privs;
    struct store *store; /* after mail_user_open_store(); closed by mail_user_deinit() */
};

/* Loads the config, looks up the user, works out the Maildir
 * (store_user_maildir(): mail_location, the uid/gid check), drops privileges.
 * Returns 0, or EX_CONFIG (bad config, bad mail_location, wrong uid),
 * EX_NOUSER (no such user), EX_TEMPFAIL (userdb unreadable), EX_NOPERM (cannot
 * switch to mail_uid), with one line in err. */
int mail_user_init(struct mail_user *mu, const char *config, const char *user, struct buf *err);

/* Opens the user's store (creating the Maildir, its parents and INBOX when
 * missing, as the first login would): 0, or EX_TEMPFAIL with err. */
int mail_user_open_store(struct mail_user *mu, struct buf *err);

/* Prints "gannet CMD: MESSAGE" on stderr (one line: newlines become spaces). */
void admin_error(const char *cmd, const char *msg);

void mail_user_deinit(struct mail_user *mu);

#endif
