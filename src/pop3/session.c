#include "pop3/session.h"

#include "pop3/pop3-commands.h"
#include "pop3/pop3-store.h"

#include "login/login.h"
#include "login/services.h"

#include "lib/settings.h"

#include <stdlib.h>
#include <string.h>

/* RFC 1939 §3: the autologout timer is at least 10 minutes. */
#define TRANSACTION_TIMEOUT_MS (10u * 60u * 1000u)
/* A command line after login: RFC 2449 §4 asks for 255 octets at least; the
 * TRANSACTION commands take numbers only. Dovecot reads 2048. (Before login
 * the bound is login_max_line_length, for AUTH's initial response.) */
#define TRANSACTION_MAX_LINE_LENGTH 2048

void pop3_close_with(struct pop3_session *s, const char *line)
{
    conn_printf(s->conn, "%s\r\n", line);
    conn_close(s->conn);
}

bool pop3_stls_available(const struct pop3_session *s)
{
    return conn_can_starttls(s->conn) && s->state == POP3_AUTHORIZATION;
}

void pop3_logged_in(struct pop3_session *s, const char *user, const char *home)
{
    s->user = xstrdup(user);
    /* What was only for logging in goes (this runs from its callback, its last call). */
    login_free(&s->login);
    free(s->pending_user);
    s->pending_user = NULL;
    conn_set_authenticated(s->conn);
    /* RFC 1939 §4: the answer to PASS or AUTH waits for the maildrop */
    pop3_store_open(s, user, home);
}

void pop3_enter_transaction(struct pop3_session *s)
{
    s->state = POP3_TRANSACTION;
    conn_set_timeout(s->conn, TRANSACTION_TIMEOUT_MS);
}

void pop3_command_done(struct pop3_session *s)
{
    s->waiting = false;
    /* the commands the client pipelined meanwhile */
    conn_resume_input(s->conn);
}

static void bad_command(struct pop3_session *s, const char *text)
{
    conn_printf(s->conn, "-ERR %s\r\n", text);
    bool too_many =
        s->login ? login_bad_command(s->login) : ++s->bad_commands >= SESSION_MAX_BAD_COMMANDS;
    if (too_many)
        pop3_close_with(s, "-ERR Too many invalid commands.");
}

/* "VERB rest": the command from the table, if the state allows it. */
static void run_command(struct pop3_session *s)
{
    char *verb = s->line.data ? s->line.data : (char *)"";
    char *arg = strchr(verb, ' ');
    if (arg)
        *arg++ = '\0';
    else
        arg = verb + strlen(verb);
    const struct pop3_command_def *def = pop3_command_find(verb);
    if (!def) {
        bad_command(s, "Unknown command.");
        return;
    }
    if (!(def->states & s->state)) {
        struct buf text = BUF_INIT;
        buf_printf(&text, "%s is not allowed in the %s state.", def->name,
                   s->state == POP3_AUTHORIZATION ? "AUTHORIZATION" : "TRANSACTION");
        bad_command(s, buf_cstr(&text));
        buf_free(&text);
        return;
    }
    s->bad_commands = 0; /* a command that runs ends a run of bad ones */
    def->run(s, arg);
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
    while (!conn_is_closing(c) && !conn_input_blocked(c)) {
        if (s->waiting)
            return; /* the answer to the last command is not complete */
        if (conn_output_pending(c) > CONN_OUTPUT_HIGH_WATERMARK) {
            /* a client that sends commands and does not read the answers:
             * the next command waits until it does */
            conn_notify_drained(c);
            return;
        }
        if (s->login && login_busy(s->login)) {
            /* While a login is checked the commands wait; its callbacks
             * resume the input. */
            if (!login_wants_response(s->login) || !read_sasl_response(s, in))
                return;
            continue;
        }
        size_t max = s->state == POP3_AUTHORIZATION ? c->settings->login_max_line_length
                                                    : TRANSACTION_MAX_LINE_LENGTH;
        enum line_result r = line_reader_read(&s->reader, in, max, &s->line);
        if (r == LINE_NONE)
            return;
        if (r == LINE_TOO_LONG) {
            bad_command(s, "Command line too long.");
            continue;
        }
        run_command(s);
        /* Lines can carry passwords (PASS, AUTH): none stays in memory. */
        buf_free_secret(&s->line);
    }
}

static void pop3_output_drained(struct conn *c)
{
    struct pop3_session *s = c->session;
    if (pop3_store_output_drained(s) || pop3_listing_continue(s))
        return;
    pop3_input(c, conn_input(c));
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
    /* A connection gone before QUIT deletes nothing (RFC 1939 §6). */
    pop3_store_stop(s);
    free(s->listing);
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
    .output_drained = pop3_output_drained,
};

static void pop3_accept(struct conn *c)
{
    struct pop3_session *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    s->auth = ((const struct session_services *)conn_app(c))->auth;
    s->state = POP3_AUTHORIZATION;
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
