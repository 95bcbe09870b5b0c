/* `gannet index rebuild -u USER`: recomputes the user's index from the
 * Maildir alone (store_rebuild), keeping UIDVALIDITY and UIDs (they are in the
 * file names and gannet-uidlist). For an index that was lost, damaged, or
 * changed behind gannet's back. A terminal shows progress. */
#include "cli/commands.h"

#include "cli/mail-user.h"
#include "cli/progress.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char index_usage[] = "usage: gannet index rebuild [-c FILE] -u USER\n";

struct rebuild_progress {
    struct progress line;
    size_t done_before; /* messages of the mailboxes already finished */
    size_t last_done;
    char *mailbox;
};

static void rebuild_progress(void *ctx, const char *mailbox, size_t done, size_t total)
{
    struct rebuild_progress *rp = ctx;
    if (!rp->mailbox || strcmp(rp->mailbox, mailbox) != 0) {
        rp->done_before += rp->last_done;
        free(rp->mailbox);
        rp->mailbox = xstrdup(mailbox);
    }
    rp->last_done = done;
    (void)total;
    progress_update(&rp->line, rp->done_before + done);
}

int cmd_index(int argc, char **argv)
{
    if (argc < 2) {
        fputs(index_usage, stderr);
        return EX_USAGE;
    }
    /* "rebuild" is the first argument that is not an option: -c FILE may
     * come before it (`gannet index -c FILE rebuild -u USER`). */
    struct cli_opts o;
    int rc = cli_opts_parse(argc, argv, "u:", index_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (o.n_args == 0 || strcmp(o.args[0], "rebuild") != 0) {
        if (o.n_args == 0)
            fputs(index_usage, stderr);
        else
            fprintf(stderr, "gannet index: unknown command '%s'\n%s", o.args[0], index_usage);
        free(o.args);
        return EX_USAGE;
    }
    if (o.n_args > 1) {
        fprintf(stderr, "gannet index rebuild: unexpected argument '%s'\n%s", o.args[1],
                index_usage);
        free(o.args);
        return EX_USAGE;
    }
    if (admin_opts_need_user(&o, "index rebuild", index_usage) != 0) {
        free(o.args);
        return EX_USAGE;
    }
    struct buf err = BUF_INIT;
    struct mail_user mu;
    rc = mail_user_init(&mu, o.config, o.user, &err);
    if (rc == 0)
        rc = mail_user_open_store(&mu, &err);
    if (rc == 0) {
        struct rebuild_progress rp = {0};
        progress_init(&rp.line, "rebuilding the index", "messages", 0);
        if (store_rebuild(mu.store, rebuild_progress, &rp, &err) < 0)
            rc = 1;
        progress_done(&rp.line, rp.done_before + rp.last_done);
        free(rp.mailbox);
    }
    if (rc != 0)
        admin_error("index rebuild", buf_cstr(&err));
    mail_user_deinit(&mu);
    buf_free(&err);
    free(o.args);
    return rc;
}
