#include "imap/imap-resp.h"

#include "imap/session.h"
#include "lib-imap/imap-quote.h"

#include <errno.h>
#include <stdarg.h>

static const char *const code_names[] = {
    [IMAP_CODE_NONE] = NULL,
    [IMAP_CODE_ALERT] = "ALERT",
    [IMAP_CODE_ALREADYEXISTS] = "ALREADYEXISTS",
    [IMAP_CODE_AUTHENTICATIONFAILED] = "AUTHENTICATIONFAILED",
    [IMAP_CODE_AUTHORIZATIONFAILED] = "AUTHORIZATIONFAILED",
    [IMAP_CODE_CANNOT] = "CANNOT",
    [IMAP_CODE_CLIENTBUG] = "CLIENTBUG",
    [IMAP_CODE_EXPUNGEISSUED] = "EXPUNGEISSUED",
    [IMAP_CODE_INUSE] = "INUSE",
    [IMAP_CODE_LIMIT] = "LIMIT",
    [IMAP_CODE_NONEXISTENT] = "NONEXISTENT",
    [IMAP_CODE_NOPERM] = "NOPERM",
    [IMAP_CODE_OVERQUOTA] = "OVERQUOTA",
    [IMAP_CODE_PRIVACYREQUIRED] = "PRIVACYREQUIRED",
    [IMAP_CODE_SERVERBUG] = "SERVERBUG",
    [IMAP_CODE_TOOBIG] = "TOOBIG",
    [IMAP_CODE_TRYCREATE] = "TRYCREATE",
    [IMAP_CODE_UNAVAILABLE] = "UNAVAILABLE",
    [IMAP_CODE_UNKNOWN_CTE] = "UNKNOWN-CTE",
};

static const char *const status_names[] = {[IMAP_OK] = "OK", [IMAP_NO] = "NO", [IMAP_BAD] = "BAD"};

void imap_resp_begin(struct imap_resp *r, struct imap_session *s)
{
    r->session = s;
    buf_init(&r->line);
    buf_puts(&r->line, "* ");
}

void imap_resp_text(struct imap_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&r->line, fmt, ap);
    va_end(ap);
}

void imap_resp_astring(struct imap_resp *r, const char *s, size_t len)
{
    imap_astring(&r->line, s, len);
}

void imap_resp_string(struct imap_resp *r, const char *s, size_t len)
{
    imap_quote(&r->line, s, len);
}

void imap_resp_nstring(struct imap_resp *r, const char *s)
{
    imap_nstring(&r->line, s);
}

void imap_resp_send(struct imap_resp *r)
{
    buf_puts(&r->line, "\r\n");
    conn_write(r->session->conn, r->line.data, r->line.len);
    buf_free(&r->line);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
    struct imap_resp r;
    imap_resp_begin(&r, s);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&r.line, fmt, ap);
    va_end(ap);
    imap_resp_send(&r);
}

void imap_continue(struct imap_session *s, const char *text)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "+ %s\r\n", text);
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

static void format_reply(struct buf *b, const char *tag, enum imap_status status,
                         enum imap_code code, const char *fmt, va_list ap)
{
    buf_printf(b, "%s %s ", tag ? tag : "*", status_names[status]);
    if (code != IMAP_CODE_NONE)
        buf_printf(b, "[%s] ", code_names[code]);
    buf_vprintf(b, fmt, ap);
    buf_puts(b, "\r\n");
}

static void reply(struct imap_session *s, const char *tag, enum imap_status status,
                  enum imap_code code, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    format_reply(&b, tag, status, code, fmt, ap);
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

void imap_cmd_reply(struct imap_cmd *cmd, enum imap_status status, enum imap_code code,
                    const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    format_reply(&b, cmd->tag, status, code, fmt, ap);
    va_end(ap);
    /* In the selected state the completion waits for the session core's
     * sync, which tells the changes made elsewhere first (imap-commands.h). */
    if (status != IMAP_BAD && cmd->sync != IMAP_CMD_SYNC_NONE && !cmd->held_reply &&
        cmd->session->state == IMAP_STATE_SELECTED)
        cmd->held_reply = arena_strndup(cmd->arena, b.data, b.len);
    else
        conn_write(cmd->session->conn, b.data, b.len);
    buf_free(&b);
}

static void tagged(struct imap_session *s, const char *tag, enum imap_status status,
                   enum imap_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply(s, tag, status, code, fmt, ap);
    va_end(ap);
}

void imap_tagged_bad(struct imap_session *s, const char *tag, const char *text)
{
    tagged(s, tag, IMAP_BAD, IMAP_CODE_NONE, "%s", text);
}

enum imap_code imap_store_error_code(int err, const char **text)
{
    switch (err) {
    case -ENOENT:
        *text = "Mailbox does not exist.";
        return IMAP_CODE_NONEXISTENT;
    case -EEXIST:
        *text = "Mailbox already exists.";
        return IMAP_CODE_ALREADYEXISTS;
    case -EINVAL:
    case -ENAMETOOLONG:
        *text = "Invalid mailbox name.";
        return IMAP_CODE_CANNOT;
    case -EPERM:
    case -EACCES:
        *text = "Not allowed on this mailbox.";
        return IMAP_CODE_NOPERM;
    case -EDQUOT:
    case -ENOSPC:
        *text = "Not enough space.";
        return IMAP_CODE_OVERQUOTA;
    case -EBUSY:
    case -EAGAIN:
        *text = "The mailbox is busy, try again.";
        return IMAP_CODE_INUSE;
    case -EFBIG:
        *text = "Message too large.";
        return IMAP_CODE_TOOBIG;
    default:
        /* the log has the details; the client only learns it was ours */
        *text = "Internal error, see the server log.";
        return IMAP_CODE_SERVERBUG;
    }
}

void imap_cmd_store_error(struct imap_cmd *cmd, int err)
{
    const char *text;
    enum imap_code code = imap_store_error_code(err, &text);
    imap_cmd_reply(cmd, IMAP_NO, code, "%s", text);
}
