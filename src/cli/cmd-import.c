/* `gannet import -u USER PATH [-m MAILBOX]`: brings existing mail into a
 * user's store. PATH is
 *   - a Maildir (cur/ new/, Maildir++ folders .Name): every folder into the
 *     mailbox of the same name; a Dovecot Maildir (dovecot-uidlist,
 *     dovecot-keywords) keeps its UIDs, UIDVALIDITY and keywords, so clients
 *     moved over from Dovecot download nothing again (store_import_maildir);
 *   - an mbox file: every message into MAILBOX (default INBOX, created when
 *     missing), with the From_ line's date as INTERNALDATE and the flags of
 *     its Status:/X-Status: headers (mutt, Thunderbird, Dovecot's mbox).
 * A terminal shows progress. */
#include "cli/commands.h"

#include "cli/mail-user.h"
#include "cli/progress.h"
#include "mail/mbox.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>

static const char import_usage[] =
    "usage: gannet import [-c FILE] -u USER PATH [-m MAILBOX]\n"
    "  PATH     a Maildir (with Maildir++ folders), a Dovecot Maildir (UIDs are kept)\n"
    "           or an mbox file\n"
    "  -m NAME  the mailbox an mbox goes into (default INBOX)\n";

static void import_progress(void *ctx, const char *mailbox, size_t done, size_t total)
{
    (void)mailbox;
    struct progress *p = ctx;
    p->total = total;
    progress_update(p, done);
}

/* Flags from an mbox message's Status: ("RO") and X-Status: ("AFTD") headers. */
static unsigned mbox_flags(const char *msg, size_t len)
{
    unsigned flags = 0;
    const char *p = msg, *end = msg + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le == p || (le == p + 1 && *p == '\r'))
            break; /* end of the header */
        bool status = (size_t)(le - p) >= 7 && strncasecmp(p, "Status:", 7) == 0;
        bool xstatus = (size_t)(le - p) >= 9 && strncasecmp(p, "X-Status:", 9) == 0;
        if (status || xstatus) {
            for (const char *c = p + (status ? 7 : 9); c < le; c++) {
                if (status && *c == 'R')
                    flags |= STORE_FLAG_SEEN;
                else if (xstatus && *c == 'A')
                    flags |= STORE_FLAG_ANSWERED;
                else if (xstatus && *c == 'F')
                    flags |= STORE_FLAG_FLAGGED;
                else if (xstatus && *c == 'T')
                    flags |= STORE_FLAG_DRAFT;
                else if (xstatus && *c == 'D')
                    flags |= STORE_FLAG_DELETED;
            }
        }
        p = le + 1;
    }
    return flags;
}

static int import_mbox(struct mail_user *mu, const char *path, const char *mailbox,
                       size_t *imported, struct buf *err)
{
    struct mbox_reader *r;
    if (mbox_open(path, &r, err) < 0)
        return EX_DATAERR;
    int rc = 0;
    struct store_mailbox *m = NULL;
    if (!store_mailbox_exists(mu->store, mailbox) &&
        store_mailbox_create(mu->store, mailbox, STORE_SPECIAL_NONE, err) < 0) {
        rc = 1;
        goto out;
    }
    if (store_mailbox_open(mu->store, mailbox, &m, err) < 0) {
        rc = 1;
        goto out;
    }
    struct progress prog;
    progress_init(&prog, "importing", "bytes", mbox_size(r));
    struct mbox_message msg;
    while (mbox_next(r, &msg) == 1) {
        struct store_append_options opt = {
            .flags = mbox_flags(msg.data, msg.len),
            .internal_date = msg.received,
        };
        if (store_append(m, msg.data, msg.len, &opt, NULL, err) < 0) {
            rc = 1;
            break;
        }
        (*imported)++;
        progress_update(&prog, mbox_position(r));
    }
    progress_done(&prog, mbox_position(r));
out:
    if (m)
        store_mailbox_close(m);
    mbox_close(r);
    return rc;
}

int cmd_import(int argc, char **argv)
{
    struct cli_opts o;
    int rc = admin_opts_parse(argc, argv, "u:m:", import_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct buf err = BUF_INIT;
    struct mail_user mu;
    memset(&mu, 0, sizeof(mu));
    if (o.n_args != 1) {
        fprintf(stderr, "gannet import: one PATH is needed\n%s", import_usage);
        rc = EX_USAGE;
        goto out;
    }
    const char *path = o.args[0];
    /* Looked at before the drop too, for a clear message; the import itself
     * reads as mail_uid, so the source must be readable by it. */
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "gannet import: %s: %s\n", path, strerror(errno));
        rc = EX_NOINPUT;
        goto out;
    }
    if (S_ISDIR(st.st_mode) && o.mailbox) {
        fprintf(stderr, "gannet import: -m is for an mbox file; a Maildir's folders keep their "
                        "names\n");
        rc = EX_USAGE;
        goto out;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "gannet import: %s is neither a Maildir nor an mbox file\n", path);
        rc = EX_USAGE;
        goto out;
    }
    rc = mail_user_init(&mu, o.config, o.user, &err);
    if (rc == 0)
        rc = mail_user_open_store(&mu, &err);
    size_t imported = 0;
    if (rc == 0 && S_ISDIR(st.st_mode)) {
        struct progress prog;
        progress_init(&prog, "importing", "messages", 0);
        int n = store_import_maildir(mu.store, path, import_progress, &prog, &err);
        progress_done(&prog, n > 0 ? (uint64_t)n : 0);
        if (n < 0)
            rc = 1;
        else
            imported = (size_t)n;
    } else if (rc == 0) {
        rc = import_mbox(&mu, path, o.mailbox ? o.mailbox : "INBOX", &imported, &err);
    }
    if (rc == 0)
        printf("imported %zu message%s from %s\n", imported, imported == 1 ? "" : "s", path);
    else
        admin_error("import", buf_cstr(&err));
out:
    mail_user_deinit(&mu);
    buf_free(&err);
    free(o.args);
    return rc;
}
