/* A POP3 session (RFC 1939) with CAPA and response codes (RFC 2449), STLS
 * (RFC 2595 §4) and SASL AUTH (RFC 5034), up to and including login. */
#include "pop3/session.h"

#include "login/services.h"

#include "auth/auth-request.h"
#include "lib/settings.h"
#include "login/login.h"
#include "net/line-reader.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 1939 §3: the autologout timer is at least 10 minutes. */
#define TRANSACTION_TIMEOUT_MS (10u * 60u * 1000u)
#define USER_MAX 255

enum pop3_state { POP3_AUTHORIZATION, POP3_TRANSACTION };

/* Owned by its connection, freed when it closes. */
struct pop3_session {
    struct conn *conn;
    struct auth_service *auth;
    enum pop3_state state;
    struct line_reader reader;
    struct buf line;
    struct login *login; /* until logged in */
    char *pending_user;  /* after USER, before PASS */
    unsigned bad_commands;
    char *user;
};

static const char privacy_required[] =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n";

static void pop3_close_with(struct pop3_session *s, const char *line)
{
    conn_printf(s->conn, "%s\r\n", line);
    conn_close(s->conn);
}

static bool login_allowed(const struct pop3_session *s)
{
    return login_plaintext_allowed(s->conn->settings, s->conn->secured);
}

static bool stls_available(const struct pop3_session *s)
{
    return conn_can_starttls(s->conn) && s->state == POP3_AUTHORIZATION;
}

static void bad_command(struct pop3_session *s, const char *text)
{
    conn_printf(s->conn, "-ERR %s\r\n", text);
    unsigned limit = s->conn->settings->login_max_bad_commands;
    if (limit && ++s->bad_commands >= limit)
        pop3_close_with(s, "-ERR Too many invalid commands.");
}

/* RFC 2449 §5. */
static void cmd_capa(struct pop3_session *s)
{
    struct buf b = BUF_INIT;
    buf_puts(
        &b,
        "+OK Capability list follows\r\nCAPA\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n");
    if (stls_available(s))
        buf_puts(&b, "STLS\r\n");
    if (s->state == POP3_AUTHORIZATION && login_allowed(s)) {
        buf_puts(&b, "USER\r\n");
        const char *const *mechs = auth_service_mechanisms(s->auth);
        if (*mechs) {
            buf_puts(&b, "SASL");
            for (; *mechs; mechs++)
                buf_printf(&b, " %s", *mechs);
            buf_puts(&b, "\r\n");
        }
    }
    buf_puts(&b, ".\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

static void logged_in(struct pop3_session *s, const char *user)
{
    s->state = POP3_TRANSACTION;
    s->user = xstrdup(user);
    s->bad_commands = 0;
    /* What was only for logging in goes (this runs from its callback, its last call). */
    login_free(&s->login);
    free(s->pending_user);
    s->pending_user = NULL;
    conn_set_authenticated(s->conn);
    conn_set_timeout(s->conn, TRANSACTION_TIMEOUT_MS);
}

static void auth_done(void *ctx, const struct auth_result *res)
{
    struct pop3_session *s = ctx;
    switch (res->status) {
    case AUTH_OK:
        logged_in(s, res->user);
        conn_printf(s->conn, "+OK Logged in.\r\n");
        break;
    case AUTH_FAILED:
    case AUTH_AUTHZ:
        conn_printf(s->conn, "-ERR [AUTH] %s\r\n", res->text);
        break;
    case AUTH_LIMIT:
        /* RFC 2449 §8.1.1: IN-USE, the maildrop is in use by another session. */
        conn_printf(s->conn, "-ERR [IN-USE] %s\r\n", res->text);
        break;
    case AUTH_TEMPFAIL:
        conn_printf(s->conn, "-ERR [SYS/TEMP] %s\r\n", res->text);
        break;
    case AUTH_UNSUPPORTED:
    case AUTH_MALFORMED:
    case AUTH_CANCELLED:
        conn_printf(s->conn, "-ERR %s\r\n", res->text);
        break;
    }
    if (s->login && login_too_many_failures(s->login)) {
        pop3_close_with(s, "-ERR Too many authentication failures.");
        return;
    }
    conn_resume_input(s->conn);
}

static void sasl_challenge(void *ctx, const char *b64)
{
    struct pop3_session *s = ctx;
    conn_printf(s->conn, "+ %s\r\n", b64);
    conn_resume_input(s->conn);
}

static const struct login_callbacks pop3_login_callbacks = {
    .challenge = sasl_challenge,
    .done = auth_done,
};

static void list_mechanisms(struct pop3_session *s)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "+OK\r\n");
    for (const char *const *m = auth_service_mechanisms(s->auth); *m; m++)
        buf_printf(&b, "%s\r\n", *m);
    buf_puts(&b, ".\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

/* Splits "VERB rest" in place; returns the argument or "" . */
static char *split_command(char *line)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return line + strlen(line);
    *sp = '\0';
    return sp + 1;
}

static void handle_authorization(struct pop3_session *s, const char *verb, char *arg)
{
    if (strcasecmp(verb, "STLS") == 0) {
        if (!stls_available(s)) {
            conn_printf(s->conn, "-ERR %s\r\n",
                        s->conn->tls ? "TLS is already active." : "TLS is not available.");
            return;
        }
        conn_printf(s->conn, "+OK Begin TLS negotiation now.\r\n");
        free(s->pending_user);
        s->pending_user = NULL;
        conn_starttls(s->conn);
        return;
    }
    if (strcasecmp(verb, "USER") == 0 || strcasecmp(verb, "PASS") == 0 ||
        (strcasecmp(verb, "AUTH") == 0 && *arg)) {
        if (!login_allowed(s)) {
            conn_write(s->conn, privacy_required, sizeof(privacy_required) - 1);
            return;
        }
    }
    if (strcasecmp(verb, "USER") == 0) {
        if (!*arg || strlen(arg) > USER_MAX) {
            conn_printf(s->conn, "-ERR USER expects a user name.\r\n");
            return;
        }
        free(s->pending_user);
        s->pending_user = xstrdup(arg);
        conn_printf(s->conn, "+OK\r\n");
        return;
    }
    if (strcasecmp(verb, "PASS") == 0) {
        if (!s->pending_user) {
            conn_printf(s->conn, "-ERR No user name given (USER first).\r\n");
            return;
        }
        /* RFC 1939 §7: the password is the rest of the line, spaces included. */
        login_start_password(s->login, s->pending_user, arg, strlen(arg), s);
        free(s->pending_user);
        s->pending_user = NULL;
        return;
    }
    if (strcasecmp(verb, "AUTH") == 0) {
        if (!*arg) {
            /* Not in RFC 5034, but what clients send to list the mechanisms. */
            if (!login_allowed(s)) {
                conn_write(s->conn, privacy_required, sizeof(privacy_required) - 1);
                return;
            }
            list_mechanisms(s);
            return;
        }
        char *initial = split_command(arg);
        if (!login_start_sasl(s->login, arg, *initial ? initial : NULL, s))
            conn_printf(s->conn, "-ERR Initial response too long.\r\n");
        return;
    }
    if (strcasecmp(verb, "APOP") == 0) {
        conn_printf(s->conn, "-ERR APOP is not offered: it needs passwords stored in clear.\r\n");
        return;
    }
    bad_command(s, "Unknown command.");
}

static void handle_command(struct pop3_session *s)
{
    char *line = s->line.data ? s->line.data : (char *)"";
    char *arg = split_command(line);
    const char *verb = line;
    if (strcasecmp(verb, "QUIT") == 0) {
        pop3_close_with(s, "+OK Logging out.");
        return;
    }
    if (strcasecmp(verb, "CAPA") == 0) {
        cmd_capa(s);
        return;
    }
    if (strcasecmp(verb, "NOOP") == 0 && s->state == POP3_TRANSACTION) {
        conn_printf(s->conn, "+OK\r\n");
        return;
    }
    if (s->state == POP3_AUTHORIZATION) {
        handle_authorization(s, verb, arg);
        return;
    }
    bad_command(s, "Unknown command.");
}

/* A response to a SASL challenge (RFC 5034 §4). False: wait for input. */
static bool read_sasl_response(struct pop3_session *s, struct evbuffer *in)
{
    switch (login_read_response(s->login, in)) {
    case LOGIN_RESPONSE_MORE:
        return false;
    case LOGIN_RESPONSE_TOO_LONG:
        conn_printf(s->conn, "-ERR Authentication response too long.\r\n");
        break;
    case LOGIN_RESPONSE_SENT:
    case LOGIN_RESPONSE_SKIPPED:
        break;
    }
    return true;
}

static void pop3_input(struct conn *c, struct evbuffer *in)
{
    struct pop3_session *s = c->session;
    const struct settings *set = c->settings;
    while (!conn_is_closing(c) && !conn_input_blocked(c)) {
        if (s->login && login_busy(s->login)) {
            /* While a login is checked the commands wait; its callbacks
             * resume the input. */
            if (!login_wants_response(s->login) || !read_sasl_response(s, in))
                return;
            continue;
        }
        size_t max =
            s->state == POP3_AUTHORIZATION ? set->login_max_line_length : set->imap_max_line_length;
        enum line_result r = line_reader_read(&s->reader, in, max, &s->line);
        if (r == LINE_NONE)
            return;
        if (r == LINE_TOO_LONG) {
            bad_command(s, "Command line too long.");
            continue;
        }
        handle_command(s);
        /* Lines can carry passwords (PASS, AUTH): none stays in memory. */
        buf_free_secret(&s->line);
    }
}

static void pop3_timeout(struct conn *c)
{
    pop3_close_with(c->session, "-ERR Disconnected for inactivity.");
}

static void pop3_shutdown(struct conn *c)
{
    pop3_close_with(c->session, "-ERR Server shutting down.");
}

static void pop3_closed(struct conn *c)
{
    struct pop3_session *s = c->session;
    if (!s)
        return;
    /* An attempt to log in in progress is aborted: no callback runs. */
    login_free(&s->login);
    if (s->user)
        login_session_closed(s->auth, c, "pop3", s->user);
    buf_free_secret(&s->line);
    free(s->pending_user);
    free(s->user);
    free(s);
    c->session = NULL;
}

static const struct conn_ops pop3_conn_ops = {
    .input = pop3_input,
    .timeout = pop3_timeout,
    .shutdown = pop3_shutdown,
    .closed = pop3_closed,
};

static void pop3_accept(struct conn *c)
{
    struct pop3_session *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    s->auth = ((const struct session_services *)conn_app(c))->auth;
    s->login = login_new(c, s->auth, "pop3", &pop3_login_callbacks);
    c->session = s;
    c->ops = &pop3_conn_ops;
    if (c->refused) {
        conn_printf(c, "-ERR [SYS/TEMP] %s\r\n", c->refused);
        conn_close(c);
        return;
    }
    conn_set_timeout(c, c->settings->login_timeout_ms);
    /* No APOP timestamp: it would reveal the host name and process id. */
    conn_printf(c, "+OK %s\r\n", c->settings->login_greeting);
}

const struct protocol pop3_protocol = {
    .service = "pop3-login",
    .alpn = "pop3",
    .accept = pop3_accept,
};
