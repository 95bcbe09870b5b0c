#include "imap/session.h"

#include "lib/log.h"
#include "lib/settings.h"
#include "net/server.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9051 §5.4: the autologout timer of an authenticated session is at least 30 minutes. */
#define AUTHENTICATED_TIMEOUT_MS (30u * 60u * 1000u)
#define PRELOGIN_MAX_ARGS 64
#define AUTHENTICATED_MAX_ARGS 100000

static const struct imap_command_def *const command_tables[] = {
    imap_commands_any,
    imap_commands_login,
};

static const struct imap_command_def *find_command(const char *name)
{
    for (size_t t = 0; t < sizeof(command_tables) / sizeof(command_tables[0]); t++)
        for (const struct imap_command_def *d = command_tables[t]; d->name; d++)
            if (strcasecmp(d->name, name) == 0)
                return d;
    return NULL;
}

void imap_write(struct imap_session *s, const struct buf *b)
{
    conn_write(s->conn, b->data ? b->data : "", b->len);
}

void imap_tagged(struct imap_session *s, const char *tag, const char *status, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s %s ", tag ? tag : "*", status);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_puts(&b, "\r\n");
    imap_write(s, &b);
    buf_free(&b);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "* ");
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_puts(&b, "\r\n");
    imap_write(s, &b);
    buf_free(&b);
}

enum imap_cmd_result imap_bye(struct imap_session *s, const char *text)
{
    imap_untagged(s, "BYE %s", text);
    s->state = IMAP_STATE_LOGOUT;
    conn_close(s->conn);
    return IMAP_CMD_CLOSING;
}

bool imap_login_allowed(const struct imap_session *s)
{
    const struct settings *set = s->conn->settings;
    if (s->conn->secured)
        return true;
    return set->ssl != SSL_MODE_REQUIRED && !set->disable_plaintext_auth;
}

void imap_capabilities(const struct imap_session *s, struct buf *out)
{
    buf_puts(out, "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE");
    if (s->state != IMAP_STATE_NOT_AUTHENTICATED)
        return;
    buf_puts(out, " SASL-IR");
    if (!s->conn->tls && s->conn->listener_tls)
        buf_puts(out, " STARTTLS");
    if (!imap_login_allowed(s)) {
        buf_puts(out, " LOGINDISABLED");
        return;
    }
    for (const char *const *m = auth_service_mechanisms(s->auth); *m; m++)
        buf_printf(out, " AUTH=%s", *m);
}

static void set_parser_limits(struct imap_session *s)
{
    const struct settings *set = s->conn->settings;
    struct imap_parser_limits limits;
    if (s->state == IMAP_STATE_NOT_AUTHENTICATED) {
        limits.max_line = set->login_max_line_length;
        limits.max_literal = set->login_max_line_length;
        limits.max_args = PRELOGIN_MAX_ARGS;
    } else {
        limits.max_line = set->imap_max_line_length;
        limits.max_literal = set->imap_max_line_length;
        limits.max_args = AUTHENTICATED_MAX_ARGS;
    }
    imap_parser_set_limits(s->parser, &limits);
}

void imap_session_new_parser(struct imap_session *s)
{
    imap_parser_free(s->parser);
    struct imap_parser_limits none = {0, 0, 0};
    s->parser = imap_parser_new(&none);
    set_parser_limits(s);
}

void imap_session_logged_in(struct imap_session *s, const char *user, const char *home)
{
    s->state = IMAP_STATE_AUTHENTICATED;
    s->user = xstrdup(user);
    s->home = home ? xstrdup(home) : NULL;
    s->bad_commands = 0;
    set_parser_limits(s);
    conn_set_authenticated(s->conn);
    conn_set_timeout(s->conn, AUTHENTICATED_TIMEOUT_MS);
}

static enum imap_cmd_result bad_command(struct imap_session *s, const char *tag, const char *text)
{
    imap_tagged(s, tag, "BAD", "%s", text);
    unsigned limit = s->conn->settings->login_max_bad_commands;
    if (limit && ++s->bad_commands >= limit)
        return imap_bye(s, "Too many invalid commands.");
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result dispatch(struct imap_session *s, const struct imap_command *cmd)
{
    const struct imap_command_def *def = find_command(cmd->name);
    if (!def)
        return bad_command(s, cmd->tag, "Unknown command.");
    if (!(def->states & s->state)) {
        const char *why = s->state == IMAP_STATE_NOT_AUTHENTICATED
                              ? "Log in first."
                              : "Not allowed once logged in.";
        return bad_command(s, cmd->tag, why);
    }
    return def->run(s, cmd);
}

/* A SASL response line, while AUTHENTICATE waits for one. */
static bool read_sasl_line(struct imap_session *s, struct evbuffer *in)
{
    enum line_result r = line_reader_read(&s->sasl_reader, in, s->conn->settings->auth_max_sasl_size,
                                          &s->sasl_line);
    if (r == LINE_NONE)
        return false;
    s->reading_sasl = false;
    struct auth_request *req = s->auth_req;
    if (r == LINE_TOO_LONG) {
        auth_abort(req);
        s->auth_req = NULL;
        imap_tagged(s, s->auth_tag, "BAD", "Authentication response too long.");
        free(s->auth_tag);
        s->auth_tag = NULL;
        return true;
    }
    /* The request answers through the callbacks: another challenge, or done. */
    auth_continue(req, s->sasl_line.data, s->sasl_line.len);
    buf_free_secret(&s->sasl_line);
    return true;
}

static void imap_input(struct conn *c, struct evbuffer *in)
{
    struct imap_session *s = c->session;
    while (!conn_is_closing(c) && !c->input_paused && !c->starttls_pending &&
           evbuffer_get_length(in) > 0) {
        if (s->auth_req) {
            if (!s->reading_sasl || !read_sasl_line(s, in))
                return;
            continue;
        }
        struct evbuffer_iovec vec;
        if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
            return;
        size_t used = 0;
        enum imap_parse_result r = imap_parser_feed(s->parser, vec.iov_base, vec.iov_len, &used);
        evbuffer_drain(in, used);
        switch (r) {
        case IMAP_PARSE_NEED_MORE:
            break;
        case IMAP_PARSE_CONTINUATION:
            conn_printf(c, "+ Ready for literal data\r\n");
            break;
        case IMAP_PARSE_BAD:
            bad_command(s, imap_parser_tag(s->parser), imap_parser_error(s->parser));
            imap_parser_reset(s->parser);
            break;
        case IMAP_PARSE_FATAL:
            imap_bye(s, imap_parser_error(s->parser));
            return;
        case IMAP_PARSE_COMMAND: {
            enum imap_cmd_result res = dispatch(s, imap_parser_command(s->parser));
            if (res == IMAP_CMD_CLOSING)
                return;
            if (s->parser)
                imap_parser_reset(s->parser);
            if (res == IMAP_CMD_WAIT)
                return;
            break;
        }
        }
    }
}

static void imap_timeout(struct conn *c)
{
    imap_bye(c->session, "Disconnected for inactivity.");
}

static void imap_shutdown(struct conn *c)
{
    imap_bye(c->session, "Server shutting down.");
}

static void imap_closed(struct conn *c)
{
    struct imap_session *s = c->session;
    if (!s)
        return;
    auth_abort(s->auth_req);
    if (s->user) {
        auth_logout(s->auth, s->user, c->peer_ip);
        log_info(c->id, "imap: disconnected: user=<%s>", s->user);
    }
    imap_parser_free(s->parser);
    buf_free_secret(&s->sasl_line);
    free(s->auth_tag);
    free(s->user);
    free(s->home);
    free(s);
    c->session = NULL;
}

static const struct conn_ops imap_conn_ops = {
    .input = imap_input,
    .timeout = imap_timeout,
    .shutdown = imap_shutdown,
    .closed = imap_closed,
};

static void imap_accept(struct conn *c)
{
    struct imap_session *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    s->auth = conn_app(c);
    s->state = IMAP_STATE_NOT_AUTHENTICATED;
    c->session = s;
    c->ops = &imap_conn_ops;
    imap_session_new_parser(s);
    if (c->refused) {
        imap_bye(s, c->refused);
        return;
    }
    conn_set_timeout(c, c->settings->login_timeout_ms);
    struct buf caps = BUF_INIT;
    imap_capabilities(s, &caps);
    /* RFC 9051 §7.1.1: the greeting may carry the capabilities, saving a round trip. */
    imap_untagged(s, "OK [CAPABILITY %s] %s", buf_cstr(&caps), c->settings->login_greeting);
    buf_free(&caps);
}

const struct protocol imap_protocol = {
    .service = "imap-login",
    .alpn = "imap",
    .accept = imap_accept,
};
