/* `gannet deliver -u USER [-m MAILBOX]`: a local delivery agent, as Dovecot's
 * dovecot-lda: one message from stdin into INBOX, or into MAILBOX when it
 * exists (INBOX otherwise, as dovecot-lda does without autocreate), through
 * the delivery path LMTP uses (store/deliver.h). The exit
 * code is what an MTA (Postfix's local/pipe, procmail, fetchmail) acts on
 * (sysexits.h):
 *   0   stored: the file is fsynced and the index committed (store_append)
 *   64  EX_USAGE     bad arguments
 *   65  EX_DATAERR   an empty message
 *   67  EX_NOUSER    no such user: the MTA bounces
 *   75  EX_TEMPFAIL  anything else (config, store, disk full, lock): the MTA
 *                    keeps the message and retries
 * A leading mbox "From " envelope line is dropped, as dovecot-lda does. */
#include "cli/commands.h"

#include "cli/mail-user.h"
#include "store/deliver.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

static const char deliver_usage[] =
    "usage: gannet deliver [-c FILE] -u USER [-m MAILBOX] < MESSAGE\n";

static ssize_t read_some(int fd, char *p, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

/* Streams stdin into the mailbox. 0, or a sysexits code with err. */
static int deliver(struct store *s, const char *mailbox, uint32_t *uid, struct buf *err)
{
    static char chunk[65536];
    size_t have = 0;
    /* The first line decides whether there is a From_ line to drop. */
    for (;;) {
        ssize_t r = read_some(STDIN_FILENO, chunk + have, sizeof(chunk) - have);
        if (r < 0) {
            buf_printf(err, "cannot read the message: %s", strerror(errno));
            return EX_TEMPFAIL;
        }
        have += (size_t)r;
        if (r == 0 || memchr(chunk, '\n', have) || have == sizeof(chunk))
            break;
    }
    size_t skip = 0;
    if (have >= 5 && memcmp(chunk, "From ", 5) == 0) {
        const char *nl = memchr(chunk, '\n', have);
        skip = nl ? (size_t)(nl - chunk) + 1 : have;
    }
    if (have == skip) {
        buf_puts(err, "empty message on stdin: nothing delivered");
        return EX_DATAERR;
    }
    struct deliver_ctx *d;
    int r = deliver_begin(s, mailbox, &d, err);
    if (r == 0)
        r = deliver_write(d, chunk + skip, have - skip, err);
    while (r == 0) {
        ssize_t n = read_some(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0) {
            r = -errno;
            buf_printf(err, "cannot read the message: %s", strerror(errno));
        }
        if (n <= 0)
            break;
        r = deliver_write(d, chunk, (size_t)n, err);
    }
    if (r == 0)
        return deliver_commit(d, uid, err) < 0 ? EX_TEMPFAIL : 0;
    deliver_abort(d);
    return EX_TEMPFAIL;
}

int cmd_deliver(int argc, char **argv)
{
    struct cli_opts o;
    int rc = admin_opts_parse(argc, argv, "u:m:", deliver_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : EX_USAGE;
    if (o.n_args != 0) {
        fprintf(stderr, "gannet deliver: unexpected argument '%s'\n%s", o.args[0], deliver_usage);
        free(o.args);
        return EX_USAGE;
    }
    struct buf err = BUF_INIT;
    struct mail_user mu;
    rc = mail_user_init(&mu, o.config, o.user, &err);
    /* Only an unknown user is permanent; a broken config is the admin's to
     * fix while the MTA keeps the mail. */
    if (rc != 0 && rc != EX_NOUSER)
        rc = EX_TEMPFAIL;
    if (rc == 0)
        rc = mail_user_open_store(&mu, &err);
    uint32_t uid = 0;
    if (rc == 0)
        rc = deliver(mu.store, deliver_mailbox(mu.store, o.mailbox), &uid, &err);
    if (rc != 0)
        admin_error("deliver", buf_cstr(&err));
    mail_user_deinit(&mu);
    buf_free(&err);
    free(o.args);
    return rc;
}
