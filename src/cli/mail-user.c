/* Config -> user -> privileges -> Maildir, for the mail admin commands: see mail-user.h. */
#include "cli/mail-user.h"

#include "auth/passdb.h"
#include "store/mail-location.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

int admin_opts_parse(int argc, char **argv, const char *spec, const char *usage, struct cli_opts *o)
{
    int rc = cli_opts_parse(argc, argv, spec, usage, o);
    if (rc != 0)
        return rc;
    rc = admin_opts_need_user(o, argv[0], usage);
    if (rc != 0) {
        free(o->args);
        o->args = NULL;
    }
    return rc;
}

int admin_opts_need_user(struct cli_opts *o, const char *cmd, const char *usage)
{
    if (o->user && *o->user)
        return 0;
    fprintf(stderr, "gannet %s: -u USER is required\n%s", cmd, usage);
    return EX_USAGE;
}

int mail_user_init(struct mail_user *mu, const char *config, const char *user, struct buf *err)
{
    memset(mu, 0, sizeof(*mu));
    if (settings_load_without_tls_files(config, &mu->set, err) < 0)
        return EX_CONFIG;
    mu->set_loaded = true;
    if (privs_resolve(&mu->set, &mu->privs, err) < 0)
        return geteuid() == 0 ? EX_CONFIG : EX_NOPERM;

    /* The userdb is read before the drop: its file may be readable by root only. */
    struct authdb *db;
    if (authdb_open(&mu->set, &db, err) < 0)
        return EX_CONFIG;
    struct userdb_result u = {0};
    int rc = authdb_userdb_lookup(db, user, &u, err);
    authdb_free(db);
    if (rc < 0) {
        userdb_result_free(&u);
        return EX_TEMPFAIL;
    }
    if (rc == 0) {
        buf_printf(err, "unknown user '%s'", user);
        userdb_result_free(&u);
        return EX_NOUSER;
    }
    /* Where the mail is, and whether this user's mail may be served as
     * mail_uid at all: the same rules as a login (store/mail-location.h). */
    struct store_user su = {
        .user = u.user ? u.user : user, .home = u.home, .uid = u.uid, .gid = u.gid};
    struct buf path = BUF_INIT;
    if (store_user_maildir(&su, mu->set.mail_location, mu->privs.uid, mu->privs.gid, &path, err) <
        0) {
        buf_free(&path);
        userdb_result_free(&u);
        return EX_CONFIG;
    }
    mu->maildir = buf_steal(&path);
    mu->user = xstrdup(su.user);
    mu->home = u.home ? xstrdup(u.home) : NULL;
    userdb_result_free(&u);

    if (privs_drop(&mu->privs, err) < 0)
        return EX_NOPERM;
    return 0;
}

void mail_user_deinit(struct mail_user *mu)
{
    if (mu->store)
        store_close(mu->store);
    if (mu->set_loaded)
        settings_free(&mu->set);
    free(mu->user);
    free(mu->home);
    free(mu->maildir);
    memset(mu, 0, sizeof(*mu));
}

int mail_user_open_store(struct mail_user *mu, struct buf *err)
{
    if (store_user_open_at(mu->user, mu->maildir, STORE_OPEN_CREATE, &mu->store, err) < 0) {
        mu->store = NULL;
        return EX_TEMPFAIL;
    }
    return 0;
}

void admin_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "gannet %s: ", cmd);
    for (const char *c = msg; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
    fputc('\n', stderr);
}
