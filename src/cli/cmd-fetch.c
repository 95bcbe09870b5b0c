/* `gannet fetch -u USER MAILBOX SEQSET ITEMS...`: prints messages the way an
 * IMAP FETCH answers (RFC 9051 §7.5.2), one line per message:
 *   * 3 FETCH (UID 7 FLAGS (\Seen) RFC822.SIZE 1234 ENVELOPE (...))
 * SEQSET is in sequence numbers as IMAP numbers them (1:*, 3, 2,4:6); ITEMS
 * are uid flags size internaldate envelope bodystructure body modseq (or the
 * IMAP names: RFC822.SIZE, BODY[]), printed in the order given. body prints
 * BODY[] as a literal, {N} then the N bytes of the file as stored. */
#include "cli/commands.h"

#include "cli/mail-user.h"
#include "lib-imap/imap-quote.h"
#include "mail/message.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

static const char fetch_usage[] =
    "usage: gannet fetch [-c FILE] -u USER MAILBOX SEQSET ITEMS...\n"
    "  SEQSET  sequence numbers as IMAP numbers them: 1:*, 3, 2,4:6, *\n"
    "  ITEMS   uid flags size internaldate modseq envelope bodystructure body\n";

enum item { I_UID, I_FLAGS, I_SIZE, I_INTERNALDATE, I_MODSEQ, I_ENVELOPE, I_BODYSTRUCTURE, I_BODY };
static const struct {
    const char *name, *alias;
    enum item item;
} item_names[] = {
    {"uid", NULL, I_UID},
    {"flags", NULL, I_FLAGS},
    {"size", "rfc822.size", I_SIZE},
    {"internaldate", NULL, I_INTERNALDATE},
    {"modseq", NULL, I_MODSEQ},
    {"envelope", NULL, I_ENVELOPE},
    {"bodystructure", NULL, I_BODYSTRUCTURE},
    {"body", "body[]", I_BODY},
};
#define MAX_ITEMS 16

/* "uid flags", "uid,flags" or several arguments. */
static int parse_items(char **args, int n, enum item *out, size_t *count, struct buf *err)
{
    *count = 0;
    for (int a = 0; a < n; a++) {
        const char *p = args[a];
        while (*p) {
            size_t len = strcspn(p, " ,\t");
            if (len == 0) {
                p++;
                continue;
            }
            /* "(uid flags)" as IMAP writes a list */
            const char *w = p;
            size_t wl = len;
            if (wl > 0 && w[0] == '(') {
                w++;
                wl--;
            }
            if (wl > 0 && w[wl - 1] == ')')
                wl--;
            size_t i, n_names = sizeof(item_names) / sizeof(item_names[0]);
            for (i = 0; i < n_names; i++)
                if ((strlen(item_names[i].name) == wl &&
                     strncasecmp(w, item_names[i].name, wl) == 0) ||
                    (item_names[i].alias && strlen(item_names[i].alias) == wl &&
                     strncasecmp(w, item_names[i].alias, wl) == 0))
                    break;
            if (wl > 0 && i == n_names) {
                buf_printf(err, "unknown fetch item '%.*s'", (int)wl, w);
                return -1;
            }
            if (wl > 0 && *count < MAX_ITEMS)
                out[(*count)++] = item_names[i].item;
            p += len;
        }
    }
    if (*count == 0) {
        buf_puts(err, "no fetch item given");
        return -1;
    }
    return 0;
}

static bool parse_number(const char **p, uint32_t max, uint32_t *out)
{
    if (**p == '*') {
        (*p)++;
        *out = max;
        return true;
    }
    if (**p < '1' || **p > '9')
        return false;
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (uint64_t)(**p - '0');
        if (v > UINT32_MAX)
            return false;
        (*p)++;
    }
    *out = (uint32_t)v;
    return true;
}

/* RFC 9051 §9 sequence-set over sequence numbers 1..count: marks sel[seq-1]. A
 * number beyond count is an error, except through "*" (nothing in an empty
 * mailbox). */
static int parse_seqset(const char *s, uint32_t count, bool *sel, struct buf *err)
{
    const char *p = s;
    for (;;) {
        uint32_t a, b;
        bool star = *p == '*';
        if (!parse_number(&p, count, &a))
            goto bad;
        b = a;
        if (*p == ':') {
            p++;
            star = star || *p == '*';
            if (!parse_number(&p, count, &b))
                goto bad;
        }
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        if (b > count && !(star && count == 0)) {
            buf_printf(err, "no message %u: the mailbox has %u", b, count);
            return -1;
        }
        for (uint32_t q = a; q >= 1 && q <= b && q <= count; q++)
            sel[q - 1] = true;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            goto bad;
        p++;
    }
bad:
    buf_printf(err, "bad sequence set '%s'", s);
    return -1;
}

static void put_flags(struct buf *out, const struct store_message *msg)
{
    static const struct {
        unsigned bit;
        const char *name;
    } sys[] = {{STORE_FLAG_ANSWERED, "\\Answered"},
               {STORE_FLAG_FLAGGED, "\\Flagged"},
               {STORE_FLAG_DELETED, "\\Deleted"},
               {STORE_FLAG_SEEN, "\\Seen"},
               {STORE_FLAG_DRAFT, "\\Draft"}};
    bool first = true;
    buf_puts(out, "FLAGS (");
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (msg->flags & sys[i].bit) {
            buf_printf(out, "%s%s", first ? "" : " ", sys[i].name);
            first = false;
        }
    for (size_t i = 0; i < msg->keyword_count; i++) {
        buf_printf(out, "%s%s", first ? "" : " ", msg->keywords[i]);
        first = false;
    }
    buf_putc(out, ')');
}

static void put_internaldate(struct buf *out, time_t t)
{
    struct tm tm;
    char date[64];
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%d-%b-%Y %H:%M:%S +0000", &tm);
    buf_printf(out, "INTERNALDATE \"%s\"", date);
}

/* Writes n bytes of fd to stdout; -1 if the file is shorter or unreadable. */
static int copy_out(int fd, uint64_t n)
{
    char chunk[65536];
    while (n > 0) {
        ssize_t r = read(fd, chunk, n < sizeof(chunk) ? (size_t)n : sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (fwrite(chunk, 1, (size_t)r, stdout) != (size_t)r)
            return -1;
        n -= (uint64_t)r;
    }
    return 0;
}

/* The cached ENVELOPE/BODYSTRUCTURE, or parsed from the file when the index
 * has none. */
static int parsed(struct store_mailbox *m, const struct store_message *msg,
                  struct mail_summary *sum, bool *have, struct buf *err)
{
    if (*have)
        return 0;
    int fd;
    if (store_message_open(m, msg->uid, &fd, NULL, err) < 0)
        return -1;
    int rc = mail_parse_fd(fd, sum);
    close(fd);
    if (rc < 0) {
        buf_printf(err, "UID %u: %s", msg->uid, strerror(-rc));
        return -1;
    }
    *have = true;
    return 0;
}

static int print_message(struct store_mailbox *m, uint32_t seq, const struct store_message *msg,
                         const enum item *items, size_t n_items, struct buf *err)
{
    struct buf line = BUF_INIT;
    struct mail_summary sum = {0};
    bool have_sum = false;
    int rc = 0;
    buf_printf(&line, "* %u FETCH (", seq);
    for (size_t i = 0; i < n_items && rc == 0; i++) {
        if (i > 0)
            buf_putc(&line, ' ');
        switch (items[i]) {
        case I_UID:
            buf_printf(&line, "UID %u", msg->uid);
            break;
        case I_FLAGS:
            put_flags(&line, msg);
            break;
        case I_SIZE:
            buf_printf(&line, "RFC822.SIZE %llu", (unsigned long long)msg->virtual_size);
            break;
        case I_INTERNALDATE:
            put_internaldate(&line, msg->internal_date);
            break;
        case I_MODSEQ:
            buf_printf(&line, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
            break;
        case I_ENVELOPE:
            if (!msg->envelope && (rc = parsed(m, msg, &sum, &have_sum, err)) < 0)
                break;
            buf_printf(&line, "ENVELOPE %s", msg->envelope ? msg->envelope : sum.envelope);
            break;
        case I_BODYSTRUCTURE:
            if (!msg->bodystructure && (rc = parsed(m, msg, &sum, &have_sum, err)) < 0)
                break;
            buf_printf(&line, "BODYSTRUCTURE %s",
                       msg->bodystructure ? msg->bodystructure : sum.bodystructure);
            break;
        case I_BODY: {
            int fd;
            struct stat st;
            if ((rc = store_message_open(m, msg->uid, &fd, NULL, err)) < 0)
                break;
            if (fstat(fd, &st) < 0) {
                buf_printf(err, "UID %u: %s", msg->uid, strerror(errno));
                close(fd);
                rc = -1;
                break;
            }
            buf_printf(&line, "BODY[] {%llu}\n", (unsigned long long)st.st_size);
            fwrite(line.data, 1, line.len, stdout);
            buf_reset(&line);
            if (copy_out(fd, (uint64_t)st.st_size) < 0) {
                buf_printf(err, "UID %u: the message file could not be read", msg->uid);
                rc = -1;
            }
            close(fd);
            break;
        }
        }
    }
    if (rc == 0) {
        buf_puts(&line, ")\n");
        fwrite(line.data, 1, line.len, stdout);
    }
    if (have_sum)
        mail_summary_free(&sum);
    buf_free(&line);
    return rc < 0 ? -1 : 0;
}

static unsigned wanted(const enum item *items, size_t n)
{
    unsigned want = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i] == I_ENVELOPE)
            want |= STORE_FETCH_ENVELOPE;
        else if (items[i] == I_BODYSTRUCTURE)
            want |= STORE_FETCH_BODYSTRUCTURE;
    return want;
}

static int fetch(struct mail_user *mu, const char *mailbox, const char *seqset,
                 const enum item *items, size_t n_items, struct buf *err)
{
    struct store_mailbox *m;
    if (store_mailbox_open(mu->store, mailbox, &m, err) < 0)
        return 1;
    const struct store_uids *view = store_mailbox_view(m);
    uint32_t count = (uint32_t)view->count;
    bool *sel = xcalloc(count + 1, sizeof(bool));
    struct store_uid_range *ranges = xcalloc(count + 1, sizeof(*ranges));
    size_t n_ranges = 0;
    int rc = 0;
    if (parse_seqset(seqset, count, sel, err) < 0) {
        rc = EX_USAGE;
        goto out;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!sel[i])
            continue;
        if (n_ranges > 0 && ranges[n_ranges - 1].last + 1 == view->uids[i] && sel[i - 1])
            ranges[n_ranges - 1].last = view->uids[i];
        else
            ranges[n_ranges++] = (struct store_uid_range){view->uids[i], view->uids[i]};
    }
    if (n_ranges == 0)
        goto out;
    struct store_fetch_iter *it;
    if (store_fetch_begin(m, ranges, n_ranges, wanted(items, n_items), &it, err) < 0) {
        rc = 1;
        goto out;
    }
    const struct store_message *msg;
    uint32_t seq = 0;
    int r;
    while ((r = store_fetch_next(it, &msg, err)) == 1) {
        /* the iterator is ascending like the view: walk the view along */
        while (seq < count && view->uids[seq] < msg->uid)
            seq++;
        if (seq == count || view->uids[seq] != msg->uid)
            continue; /* not in this view */
        if (print_message(m, seq + 1, msg, items, n_items, err) < 0) {
            rc = 1;
            break;
        }
    }
    if (r < 0)
        rc = 1;
    store_fetch_end(it);
out:
    free(sel);
    free(ranges);
    store_mailbox_close(m);
    return rc;
}

int cmd_fetch(int argc, char **argv)
{
    struct cli_opts o;
    int rc = admin_opts_parse(argc, argv, "u:", fetch_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    enum item items[MAX_ITEMS];
    size_t n_items;
    struct buf err = BUF_INIT;
    struct mail_user mu;
    memset(&mu, 0, sizeof(mu));
    if (o.n_args < 3) {
        fprintf(stderr, "gannet fetch: MAILBOX, SEQSET and ITEMS are needed\n%s", fetch_usage);
        rc = EX_USAGE;
        goto out;
    }
    if (parse_items(o.args + 2, o.n_args - 2, items, &n_items, &err) < 0) {
        fprintf(stderr, "gannet fetch: %s\n%s", buf_cstr(&err), fetch_usage);
        rc = EX_USAGE;
        goto out;
    }
    rc = mail_user_init(&mu, o.config, o.user, &err);
    if (rc == 0)
        rc = mail_user_open_store(&mu, &err);
    if (rc == 0)
        rc = fetch(&mu, o.args[0], o.args[1], items, n_items, &err);
    if (fflush(stdout) != 0 && rc == 0) {
        buf_puts(&err, "cannot write the output");
        rc = EX_IOERR;
    }
    if (rc != 0)
        admin_error("fetch", buf_cstr(&err));
out:
    mail_user_deinit(&mu);
    buf_free(&err);
    free(o.args);
    return rc;
}
