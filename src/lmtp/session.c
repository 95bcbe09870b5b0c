/* An LMTP session (RFC 2033): commands, one transaction at a time, and the
 * message streamed into the recipients' stores through the session's queue
 * (lmtp/lmtp-store.h). Replies go out in the order of the commands, so a
 * command that needs the store (RCPT TO, DATA, BDAT, the end of the data)
 * stops the reading of input until its job is done; pipelined commands
 * (RFC 2920) wait in the connection's buffer meanwhile. */
#include "lmtp/session.h"

#include "auth/auth-request.h"
#include "lib/log.h"
#include "lib/settings.h"
#include "lmtp/dot-decoder.h"
#include "lmtp/lmtp-store.h"
#include "lmtp/smtp-syntax.h"
#include "login/services.h"
#include "net/line-reader.h"
#include "store/deliver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* RFC 5321 §4.5.3.1.4 allows 512 octets for a command line, and more with
 * extensions (SIZE, BODY, SMTPUTF8 addresses): room for all of them. */
#define LMTP_MAX_LINE 4096
/* RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for the next
 * command (and for the next data: §4.5.3.2.6 asks 3 of the client). */
#define LMTP_TIMEOUT_MS (5u * 60u * 1000u)
/* What one write job takes of a message: the session holds at most this
 * much of it, whatever the size. */
#define LMTP_CHUNK (64u * 1024u)

enum lmtp_state {
    ST_COMMAND, /* reading command lines */
    ST_DATA,    /* after 354: the message up to <CRLF>.<CRLF> */
    ST_BDAT,    /* a BDAT chunk (RFC 3030): exactly bdat_left more bytes */
};

/* An accepted RCPT TO; owned by the session. */
struct lmtp_rcpt {
    struct lmtp_user *user; /* the queue side's; passed back to its jobs */
    char *mailbox;
    char *address;   /* as written, for Delivered-To: and Received: */
    char *user_name; /* for the log */
};

/* Owned by its connection, freed when it closes. */
struct lmtp_session {
    struct conn *conn;
    struct lmtp_store *store;
    enum lmtp_state state;
    bool waiting; /* a job runs for the current command: no input is read */
    bool shutdown_pending;
    struct line_reader reader;
    struct buf line;
    unsigned bad_commands;
    char *helo; /* LHLO's domain, NULL before LHLO */

    /* The transaction: MAIL FROM, the accepted RCPT TOs, the message. */
    bool mail;
    char *return_path; /* the reverse-path's mailbox, "" for <> */
    uint64_t size;     /* SIZE=, 0 if not announced */
    bool smtputf8;
    struct lmtp_rcpt *rcpts;
    size_t n_rcpts;
    char *rcpt_address; /* the RCPT TO being looked up */
    bool begun;         /* the message was started in the store (DATA or BDAT) */
    bool bdat;          /* the message comes in BDAT chunks */
    bool failed;        /* the message is given up; `error` says why */
    bool store_ended;   /* the queue side forgot the message already */
    int error;          /* a store error, or -EFBIG over mail_max_message_size */
    uint64_t received;
    struct buf pending; /* message bytes not yet handed to the store */
    struct dot_decoder dot;
    uint64_t bdat_left;
    bool bdat_last;
    const char *bdat_refusal; /* a BDAT read only to be refused */
};

static char hostname[256];

static void lmtp_run(struct lmtp_session *s);

/* ---- replies ---- */

__attribute__((format(printf, 2, 3))) static void reply(struct lmtp_session *s, const char *fmt,
                                                        ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_puts(&b, "\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

static void close_with(struct lmtp_session *s, const char *line)
{
    reply(s, "%s", line);
    conn_close(s->conn);
}

static void bad_command(struct lmtp_session *s, const char *line)
{
    reply(s, "%s", line);
    unsigned limit = s->conn->settings->login_max_bad_commands;
    if (limit && ++s->bad_commands >= limit)
        close_with(s, "421 4.7.0 Too many invalid commands, closing connection");
}

/* A store error as an MTA acts on it (RFC 3463 codes): 5xx only where trying
 * again cannot help (deliver_error_is_permanent()); everything else is 4xx,
 * and the MTA keeps the message. */
static const char *store_error_reply(int err)
{
    switch (err) {
    case -EFBIG:
        return "552 5.3.4 Message too big for system";
    case -EDQUOT:
        return "552 5.2.2 Mailbox full";
    case -ENOSPC:
        return "452 4.3.1 Insufficient system storage";
    case -EAGAIN:
    case -EBUSY:
        return "451 4.2.0 Mailbox busy, try again later";
    default:
        return "451 4.3.0 Temporary failure, try again later";
    }
}

/* ---- the transaction ---- */

static void wait_for_job(struct lmtp_session *s)
{
    s->waiting = true;
    conn_pause_input(s->conn);
}

static void job_returned(struct lmtp_session *s)
{
    s->waiting = false;
    conn_resume_input(s->conn);
}

static void free_rcpts(struct lmtp_session *s)
{
    for (size_t i = 0; i < s->n_rcpts; i++) {
        free(s->rcpts[i].mailbox);
        free(s->rcpts[i].address);
        free(s->rcpts[i].user_name);
    }
    free(s->rcpts);
    s->rcpts = NULL;
    s->n_rcpts = 0;
}

/* Back to the state after LHLO. The queue side forgets the message and
 * closes what it need not keep, unless it did so already. */
static void reset_transaction(struct lmtp_session *s)
{
    if ((s->mail || s->begun) && !s->store_ended)
        lmtp_store_end(s->store);
    s->mail = false;
    free(s->return_path);
    s->return_path = NULL;
    s->size = 0;
    s->smtputf8 = false;
    free_rcpts(s);
    s->begun = s->bdat = s->failed = s->store_ended = false;
    s->error = 0;
    s->received = 0;
    buf_free(&s->pending);
    s->bdat_left = 0;
    s->bdat_last = false;
    s->bdat_refusal = NULL;
    s->state = ST_COMMAND;
}

/* The message is given up (too big, or the store failed): the rest of it is
 * read and dropped, and every recipient is told why at its end. */
static void fail_message(struct lmtp_session *s, int err)
{
    if (s->failed)
        return;
    s->failed = true;
    s->error = err;
    buf_reset(&s->pending);
    if (!s->store_ended) {
        lmtp_store_end(s->store);
        s->store_ended = true;
    }
}

static bool has_8bit(const char *p)
{
    for (; *p; p++)
        if ((unsigned char)*p >= 0x80)
            return true;
    return false;
}

/* The trace fields in front of the message: Return-Path (RFC 5321 §4.4),
 * Delivered-To when there is a single recipient (as Dovecot does: with
 * several, one file serves them all and must not name the others), and
 * Received (RFC 5321 §4.4, "with LMTP" or "UTF8LMTP" of RFC 3848 and RFC
 * 6531 §3.7.3). Every value comes from a parsed path or LHLO domain. */
static void trace_headers(const struct lmtp_session *s, struct buf *out)
{
    buf_printf(out, "Return-Path: <%s>\r\n", s->return_path);
    if (s->n_rcpts == 1)
        buf_printf(out, "Delivered-To: %s\r\n", s->rcpts[0].address);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    const struct conn *c = s->conn;
    /* the peer as an address literal (RFC 5321 §4.1.3), or "unix" */
    if (strcmp(c->peer_ip, "unix") == 0)
        buf_printf(out, "Received: from %s (unix)\r\n", s->helo);
    else
        buf_printf(out, "Received: from %s ([%s%s])\r\n", s->helo,
                   strchr(c->peer_ip, ':') ? "IPv6:" : "", c->peer_ip);
    buf_printf(out, "\tby %s with %s id %s", hostname, s->smtputf8 ? "UTF8LMTP" : "LMTP", c->id);
    if (s->n_rcpts == 1)
        buf_printf(out, "\r\n\tfor <%s>", s->rcpts[0].address);
    buf_printf(out, "; %s\r\n", date);
}

static void begin_done(void *owner, int result, const char *error)
{
    struct lmtp_session *s = owner;
    job_returned(s);
    if (result < 0) {
        log_error(s->conn->id, "lmtp: cannot start the message for user=<%s>: %s",
                  s->rcpts[0].user_name, error);
        if (!s->bdat) {
            /* DATA itself fails; the client sends no message */
            reply(s, "%s", store_error_reply(result));
            reset_transaction(s);
        } else {
            fail_message(s, result);
        }
    } else if (!s->bdat) {
        reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
        dot_decoder_init(&s->dot);
        s->state = ST_DATA;
    }
    lmtp_run(s);
}

/* The message starts in the first recipient's mailbox, with the trace fields. */
static void begin_message(struct lmtp_session *s)
{
    struct buf prefix = BUF_INIT;
    trace_headers(s, &prefix);
    s->begun = true;
    wait_for_job(s);
    lmtp_store_begin(s->store, s->rcpts[0].user, s->rcpts[0].mailbox, prefix.data, prefix.len,
                     begin_done, s);
    buf_free(&prefix);
}

static void write_done(void *owner, int result, const char *error)
{
    struct lmtp_session *s = owner;
    job_returned(s);
    if (result < 0 && !s->failed) {
        log_error(s->conn->id, "lmtp: cannot write the message: %s", error);
        s->store_ended = true; /* the side gave it up */
        fail_message(s, result);
    }
    lmtp_run(s);
}

/* Hands the pending bytes to the store; false when a job now runs. */
static bool flush_pending(struct lmtp_session *s)
{
    if (s->failed || s->pending.len == 0) {
        buf_reset(&s->pending);
        return true;
    }
    wait_for_job(s);
    lmtp_store_write(s->store, s->pending.data, s->pending.len, write_done, s);
    buf_reset(&s->pending);
    return false;
}

/* Counts message bytes against mail_max_message_size (RFC 1870 §6.3: 552
 * when the message turns out bigger than the limit). */
static void count_message_bytes(struct lmtp_session *s, size_t n)
{
    s->received += n;
    if (s->received > s->conn->settings->mail_max_message_size)
        fail_message(s, -EFBIG);
}

static void commit_done(void *owner, const struct lmtp_commit_result *results, size_t n)
{
    struct lmtp_session *s = owner;
    job_returned(s);
    /* RFC 2033 §4.2: one reply per accepted recipient, in their order. */
    for (size_t i = 0; i < n && i < s->n_rcpts; i++) {
        const struct lmtp_rcpt *r = &s->rcpts[i];
        if (results[i].error == 0) {
            log_info(s->conn->id, "lmtp: saved mail to user=<%s> mailbox=%s uid=%" PRIu32,
                     r->user_name, r->mailbox, results[i].uid);
            reply(s, "250 2.0.0 Saved (%s)", s->conn->id);
        } else {
            log_error(s->conn->id, "lmtp: cannot save mail to user=<%s> mailbox=%s: %s",
                      r->user_name, r->mailbox, results[i].reason);
            reply(s, "%s", store_error_reply(results[i].error));
        }
    }
    reset_transaction(s); /* the side's end of the transaction, after the replies */
    lmtp_run(s);
}

/* The end of the message (the final dot, or BDAT LAST): committed for every
 * recipient, or refused to every one of them. */
static bool end_message(struct lmtp_session *s)
{
    if (!flush_pending(s))
        return false;
    if (s->failed) {
        for (size_t i = 0; i < s->n_rcpts; i++)
            reply(s, "%s", store_error_reply(s->error));
        reset_transaction(s);
        return true;
    }
    struct lmtp_commit_rcpt *rcpts = xcalloc(s->n_rcpts, sizeof(*rcpts));
    for (size_t i = 0; i < s->n_rcpts; i++)
        rcpts[i] = (struct lmtp_commit_rcpt){s->rcpts[i].user, s->rcpts[i].mailbox};
    wait_for_job(s);
    lmtp_store_commit(s->store, rcpts, s->n_rcpts, commit_done, s);
    free(rcpts);
    return false;
}

/* ---- DATA and BDAT input ---- */

/* After 354: decodes what arrived into the pending bytes. */
static bool run_data(struct lmtp_session *s, struct evbuffer *in)
{
    if (dot_decoder_done(&s->dot))
        return end_message(s);
    if (s->pending.len + 1 >= LMTP_CHUNK)
        return flush_pending(s);
    size_t avail = evbuffer_get_length(in);
    if (avail == 0)
        return false;
    size_t want = LMTP_CHUNK - 1 - s->pending.len;
    if (want > avail)
        want = avail;
    const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
    buf_reserve(&s->pending, want + 2);
    size_t out_len = 0;
    size_t used = dot_decoder_feed(&s->dot, p, want, s->pending.data + s->pending.len, &out_len);
    evbuffer_drain(in, used);
    count_message_bytes(s, out_len);
    if (s->failed) {
        buf_reset(&s->pending);
    } else {
        s->pending.len += out_len;
        s->pending.data[s->pending.len] = '\0';
    }
    return true;
}

/* The end of a BDAT chunk: its reply, or the message's end with LAST. */
static bool end_chunk(struct lmtp_session *s)
{
    if (!flush_pending(s))
        return false;
    if (s->bdat_refusal) {
        reply(s, "%s", s->bdat_refusal);
        s->bdat_refusal = NULL;
        s->state = ST_COMMAND;
        return true;
    }
    if (s->bdat_last)
        return end_message(s);
    if (s->failed)
        reply(s, "%s", store_error_reply(s->error));
    else
        reply(s, "250 2.0.0 %" PRIu64 " octets received", s->received);
    s->state = ST_COMMAND;
    return true;
}

/* A BDAT chunk: exactly bdat_left bytes, taken as they are (RFC 3030 §2). */
static bool run_bdat(struct lmtp_session *s, struct evbuffer *in)
{
    if (s->bdat_left == 0)
        return end_chunk(s);
    if (s->pending.len >= LMTP_CHUNK)
        return flush_pending(s);
    size_t avail = evbuffer_get_length(in);
    if (avail == 0)
        return false;
    size_t n = LMTP_CHUNK - s->pending.len;
    if (n > avail)
        n = avail;
    if (n > s->bdat_left)
        n = (size_t)s->bdat_left;
    s->bdat_left -= n;
    if (s->bdat_refusal || s->failed) {
        evbuffer_drain(in, n);
        if (!s->bdat_refusal)
            s->received += n;
        return true;
    }
    buf_reserve(&s->pending, n + 1);
    evbuffer_remove(in, s->pending.data + s->pending.len, n);
    s->pending.len += n;
    s->pending.data[s->pending.len] = '\0';
    count_message_bytes(s, n);
    return true;
}

/* ---- commands ---- */

static void cmd_lhlo(struct lmtp_session *s, const char *arg)
{
    if (!smtp_valid_helo(arg)) {
        bad_command(s, "501 5.5.4 LHLO expects a domain name or an address literal");
        return;
    }
    /* RFC 5321 §4.1.4: like EHLO, LHLO resets the transaction */
    reset_transaction(s);
    free(s->helo);
    s->helo = xstrdup(arg);
    reply(s,
          "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
          "250-SMTPUTF8\r\n250-CHUNKING\r\n250 SIZE %zu",
          hostname, s->conn->settings->mail_max_message_size);
}

/* "FROM:" / "TO:" and the blanks some clients put after the colon. */
static const char *after_keyword(const char *arg, const char *keyword)
{
    size_t n = strlen(keyword);
    if (strncasecmp(arg, keyword, n) != 0)
        return NULL;
    arg += n;
    while (*arg == ' ')
        arg++;
    return arg;
}

static bool parse_size(const char *v, uint64_t *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
        return false;
    *out = strtoull(v, NULL, 10);
    return true;
}

static void cmd_mail(struct lmtp_session *s, const char *arg)
{
    if (!s->helo) {
        reply(s, "503 5.5.1 Send LHLO first");
        return;
    }
    if (s->mail) {
        reply(s, "503 5.5.1 Nested MAIL command");
        return;
    }
    const char *p = after_keyword(arg, "FROM:");
    if (!p) {
        bad_command(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    struct smtp_path path = {0};
    const char *why;
    if (!smtp_parse_path(&p, true, false, true, &path, &why)) {
        reply(s, "501 5.1.7 %s", why);
        smtp_path_free(&path);
        return;
    }
    struct buf kw = BUF_INIT, val = BUF_INIT;
    uint64_t size = 0;
    bool utf8 = false;
    const char *refusal = NULL;
    int r;
    while (!refusal && (r = smtp_next_param(&p, &kw, &val)) != 0) {
        if (r < 0)
            refusal = "501 5.5.4 Invalid parameters";
        else if (strcmp(buf_cstr(&kw), "SIZE") == 0) {
            /* RFC 1870 §6 */
            if (!parse_size(buf_cstr(&val), &size))
                refusal = "501 5.5.4 Invalid SIZE";
        } else if (strcmp(buf_cstr(&kw), "BODY") == 0) {
            /* RFC 6152: 7BIT or 8BITMIME; BINARYMIME is not offered */
            if (strcasecmp(buf_cstr(&val), "7BIT") != 0 &&
                strcasecmp(buf_cstr(&val), "8BITMIME") != 0)
                refusal = "501 5.5.4 Unsupported BODY type";
        } else if (strcmp(buf_cstr(&kw), "SMTPUTF8") == 0 && val.len == 0) {
            utf8 = true; /* RFC 6531 §3.4 */
        } else {
            refusal = "555 5.5.4 Unsupported parameter";
        }
    }
    buf_free(&kw);
    buf_free(&val);
    if (!refusal && !utf8 && has_8bit(buf_cstr(&path.mailbox)))
        refusal = "553 5.6.7 Non-ASCII address without SMTPUTF8";
    if (!refusal && size > s->conn->settings->mail_max_message_size)
        refusal = "552 5.3.4 Message size exceeds fixed maximum message size";
    if (refusal) {
        reply(s, "%s", refusal);
        smtp_path_free(&path);
        return;
    }
    s->mail = true;
    s->return_path = buf_steal(&path.mailbox);
    s->size = size;
    s->smtputf8 = utf8;
    smtp_path_free(&path);
    reply(s, "250 2.1.0 OK");
}

static void rcpt_done(void *owner, const struct lmtp_rcpt_result *res)
{
    struct lmtp_session *s = owner;
    job_returned(s);
    char *address = s->rcpt_address;
    s->rcpt_address = NULL;
    switch (res->status) {
    case LMTP_RCPT_OK:
        s->rcpts = xrealloc(s->rcpts, (s->n_rcpts + 1) * sizeof(*s->rcpts));
        s->rcpts[s->n_rcpts++] = (struct lmtp_rcpt){
            .user = res->user,
            .mailbox = xstrdup(res->mailbox),
            .address = address,
            .user_name = xstrdup(res->user_name),
        };
        address = NULL;
        reply(s, "250 2.1.5 OK");
        break;
    case LMTP_RCPT_UNKNOWN:
        reply(s, "550 5.1.1 User doesn't exist");
        break;
    case LMTP_RCPT_NO_SPACE:
        reply(s, "452 4.3.1 Insufficient system storage");
        break;
    case LMTP_RCPT_TEMPFAIL:
        log_error(s->conn->id, "lmtp: recipient <%s>: %s", address, res->reason);
        reply(s, "451 4.3.0 Temporary failure, try again later");
        break;
    }
    free(address);
    lmtp_run(s);
}

static void cmd_rcpt(struct lmtp_session *s, const char *arg)
{
    if (!s->mail) {
        reply(s, "503 5.5.1 MAIL needed first");
        return;
    }
    if (s->begun) {
        reply(s, "503 5.5.1 The message is already being sent");
        return;
    }
    const char *p = after_keyword(arg, "TO:");
    if (!p) {
        bad_command(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    struct smtp_path path = {0};
    const char *why;
    if (!smtp_parse_path(&p, false, true, true, &path, &why)) {
        reply(s, "501 5.1.3 %s", why);
        smtp_path_free(&path);
        return;
    }
    struct buf kw = BUF_INIT, val = BUF_INIT;
    int r = smtp_next_param(&p, &kw, &val);
    buf_free(&kw);
    buf_free(&val);
    const char *refusal = NULL;
    if (r < 0)
        refusal = "501 5.5.4 Invalid parameters";
    else if (r > 0)
        refusal = "555 5.5.4 Unsupported parameter"; /* no DSN (RFC 3461) offered */
    else if (!s->smtputf8 && has_8bit(buf_cstr(&path.mailbox)))
        refusal = "553 5.6.7 Non-ASCII address without SMTPUTF8";
    else if (s->n_rcpts >= s->conn->settings->lmtp_max_recipients)
        /* RFC 5321 §4.5.3.1.10: the client sends the rest in another transaction */
        refusal = "452 4.5.3 Too many recipients";
    if (refusal) {
        reply(s, "%s", refusal);
        smtp_path_free(&path);
        return;
    }
    s->rcpt_address = buf_steal(&path.mailbox);
    wait_for_job(s);
    lmtp_store_rcpt(s->store, buf_cstr(&path.local), buf_cstr(&path.domain), s->size, rcpt_done, s);
    smtp_path_free(&path);
}

/* DATA and BDAT need a transaction with a recipient (RFC 2033 §4.2: 503). */
static const char *no_transaction(const struct lmtp_session *s)
{
    if (!s->mail)
        return "503 5.5.1 MAIL needed first";
    if (s->n_rcpts == 0)
        return "503 5.5.1 No valid recipients";
    return NULL;
}

static void cmd_data(struct lmtp_session *s, const char *arg)
{
    if (*arg) {
        bad_command(s, "501 5.5.4 DATA takes no arguments");
        return;
    }
    const char *refusal = no_transaction(s);
    if (!refusal && s->bdat)
        refusal = "503 5.5.1 DATA after BDAT";
    if (refusal) {
        reply(s, "%s", refusal);
        return;
    }
    begin_message(s);
}

static void cmd_bdat(struct lmtp_session *s, const char *arg)
{
    /* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 §2) */
    char *copy = xstrdup(arg);
    char *last = strchr(copy, ' ');
    if (last)
        *last++ = '\0';
    uint64_t size;
    bool ok = parse_size(copy, &size) && (!last || strcasecmp(last, "LAST") == 0);
    free(copy);
    if (!ok) {
        /* the size of what follows is unknown: it cannot be skipped */
        close_with(s, "501 5.5.4 Invalid BDAT command, closing connection");
        return;
    }
    s->state = ST_BDAT;
    s->bdat_left = size;
    s->bdat_last = last != NULL;
    /* A refused chunk is read all the same: its bytes are not commands. */
    s->bdat_refusal = no_transaction(s);
    if (s->bdat_refusal)
        return;
    s->bdat = true;
    if (!s->begun)
        begin_message(s);
}

static void handle_command(struct lmtp_session *s)
{
    char *line = s->line.data ? s->line.data : (char *)"";
    char *sp = strchr(line, ' ');
    const char *arg = "";
    if (sp) {
        *sp = '\0';
        arg = sp + 1;
    }
    const char *verb = line;
    if (strcasecmp(verb, "LHLO") == 0)
        cmd_lhlo(s, arg);
    else if (strcasecmp(verb, "MAIL") == 0)
        cmd_mail(s, arg);
    else if (strcasecmp(verb, "RCPT") == 0)
        cmd_rcpt(s, arg);
    else if (strcasecmp(verb, "DATA") == 0)
        cmd_data(s, arg);
    else if (strcasecmp(verb, "BDAT") == 0)
        cmd_bdat(s, arg);
    else if (strcasecmp(verb, "RSET") == 0) {
        reset_transaction(s);
        reply(s, "250 2.0.0 OK");
    } else if (strcasecmp(verb, "NOOP") == 0)
        reply(s, "250 2.0.0 OK");
    else if (strcasecmp(verb, "QUIT") == 0)
        close_with(s, "221 2.0.0 Bye");
    else if (strcasecmp(verb, "HELO") == 0 || strcasecmp(verb, "EHLO") == 0)
        /* RFC 2033 §4.1: an LMTP server must not accept them */
        bad_command(s, "500 5.5.1 This is LMTP: use LHLO");
    else if (strcasecmp(verb, "VRFY") == 0 || strcasecmp(verb, "EXPN") == 0 ||
             strcasecmp(verb, "HELP") == 0 || strcasecmp(verb, "STARTTLS") == 0 ||
             strcasecmp(verb, "AUTH") == 0)
        reply(s, "502 5.5.1 Command not implemented");
    else
        bad_command(s, "500 5.5.1 Unknown command");
}

static bool run_command(struct lmtp_session *s, struct evbuffer *in)
{
    enum line_result r = line_reader_read(&s->reader, in, LMTP_MAX_LINE, &s->line);
    if (r == LINE_NONE)
        return false;
    if (r == LINE_TOO_LONG)
        bad_command(s, "500 5.5.2 Line too long");
    else
        handle_command(s);
    buf_reset(&s->line);
    return true;
}

/* Reads and acts on the input until it runs out or a job must answer first. */
static void lmtp_run(struct lmtp_session *s)
{
    struct conn *c = s->conn;
    struct evbuffer *in = conn_input(c);
    for (;;) {
        if (s->waiting || conn_is_closing(c))
            return;
        if (s->shutdown_pending && s->state == ST_COMMAND) {
            close_with(s, "421 4.3.2 Server shutting down");
            return;
        }
        bool more;
        switch (s->state) {
        case ST_DATA:
            more = run_data(s, in);
            break;
        case ST_BDAT:
            more = run_bdat(s, in);
            break;
        default:
            more = run_command(s, in);
            break;
        }
        if (!more)
            return;
    }
}

/* ---- the connection ---- */

static void lmtp_input(struct conn *c, struct evbuffer *in)
{
    (void)in;
    lmtp_run(c->session);
}

static void lmtp_timeout(struct conn *c)
{
    close_with(c->session, "421 4.4.2 Timeout exceeded, closing connection");
}

static void lmtp_shutdown(struct conn *c)
{
    struct lmtp_session *s = c->session;
    /* a message being committed gets its replies first */
    if (s->waiting && (s->state == ST_DATA || (s->state == ST_BDAT && s->bdat_last))) {
        s->shutdown_pending = true;
        return;
    }
    close_with(s, "421 4.3.2 Server shutting down");
}

static void lmtp_closed(struct conn *c)
{
    struct lmtp_session *s = c->session;
    if (!s)
        return;
    /* Nothing of a message in progress is delivered: the queue forgets it. */
    lmtp_store_stop(s->store);
    s->store_ended = true;
    free_rcpts(s);
    free(s->rcpt_address);
    free(s->return_path);
    free(s->helo);
    buf_free(&s->line);
    buf_free(&s->pending);
    free(s);
    c->session = NULL;
}

static const struct conn_ops lmtp_conn_ops = {
    .input = lmtp_input,
    .timeout = lmtp_timeout,
    .shutdown = lmtp_shutdown,
    .closed = lmtp_closed,
};

static void lmtp_accept(struct conn *c)
{
    if (!hostname[0] && gethostname(hostname, sizeof(hostname) - 1) < 0)
        memcpy(hostname, "localhost", sizeof("localhost"));
    const struct session_services *services = conn_app(c);
    struct lmtp_session *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    s->store = lmtp_store_new(services->store_pool, c->settings, auth_service_db(services->auth));
    c->session = s;
    c->ops = &lmtp_conn_ops;
    conn_set_timeout(c, LMTP_TIMEOUT_MS);
    reply(s, "220 %s LMTP %s", hostname, c->settings->login_greeting);
}

const struct protocol lmtp_protocol = {
    .service = "lmtp",
    .alpn = "lmtp",
    .default_listen = "127.0.0.1",
    .no_login = true,
    .accept = lmtp_accept,
};
