/* The AUTHORIZATION state (RFC 1939 §4, §7): STLS (RFC 2595 §4), USER and
 * PASS, AUTH (RFC 5034), APOP (refused); and how POP3 words a login's answers
 * (RFC 2449 §8 response codes, RFC 3206). */
#include "pop3/pop3-commands.h"

#include "auth/auth-request.h"
#include "lib/settings.h"
#include "login/login.h"

#include <stdlib.h>
#include <string.h>

#define USER_MAX 255

static const char privacy_required[] =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n";

static void login_done(void *ctx, const struct auth_result *res)
{
    struct pop3_session *s = ctx;
    switch (res->status) {
    case AUTH_OK:
        /* answered once the maildrop is open (pop3-store.c) */
        pop3_logged_in(s, res->user, res->home);
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
    /* the commands the client sent meanwhile */
    conn_resume_input(s->conn);
}

/* RFC 5034 §4: "+ " and the challenge; the response is read by the session. */
static void sasl_challenge(void *ctx, const char *b64)
{
    struct pop3_session *s = ctx;
    conn_printf(s->conn, "+ %s\r\n", b64);
    conn_resume_input(s->conn);
}

const struct login_callbacks pop3_login_callbacks = {
    .challenge = sasl_challenge,
    .done = login_done,
};

/* The password commands and SASL are refused in clear unless allowed. */
static bool plaintext_refused(struct pop3_session *s)
{
    if (login_plaintext_allowed(s->conn->settings, s->conn->secured))
        return false;
    conn_write(s->conn, privacy_required, sizeof(privacy_required) - 1);
    return true;
}

void pop3_cmd_stls(struct pop3_session *s, char *arg)
{
    (void)arg;
    if (s->utf8) {
        /* RFC 6856 §2.1: "Clients MUST NOT issue the STLS command after
         * issuing UTF8; servers MAY ... enforce this" */
        conn_printf(s->conn, "-ERR STLS is not allowed after UTF8.\r\n");
        return;
    }
    if (!pop3_stls_available(s)) {
        conn_printf(s->conn, "-ERR %s\r\n",
                    s->conn->tls ? "TLS is already active." : "TLS is not available.");
        return;
    }
    conn_printf(s->conn, "+OK Begin TLS negotiation now.\r\n");
    /* RFC 2595 §4: what the client said in clear is forgotten. */
    free(s->pending_user);
    s->pending_user = NULL;
    conn_starttls(s->conn);
}

void pop3_cmd_user(struct pop3_session *s, char *arg)
{
    if (plaintext_refused(s))
        return;
    if (!*arg || strlen(arg) > USER_MAX) {
        conn_printf(s->conn, "-ERR USER expects a user name.\r\n");
        return;
    }
    free(s->pending_user);
    s->pending_user = xstrdup(arg);
    conn_printf(s->conn, "+OK\r\n");
}

void pop3_cmd_pass(struct pop3_session *s, char *arg)
{
    if (plaintext_refused(s))
        return;
    if (!s->pending_user) {
        conn_printf(s->conn, "-ERR No user name given (USER first).\r\n");
        return;
    }
    /* RFC 1939 §7: the password is the rest of the line, spaces included. */
    login_start_password(s->login, s->pending_user, arg, strlen(arg), s);
    free(s->pending_user);
    s->pending_user = NULL;
}

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

void pop3_cmd_auth(struct pop3_session *s, char *arg)
{
    if (plaintext_refused(s))
        return;
    if (!*arg) {
        /* Not in RFC 5034, but what clients send to list the mechanisms. */
        list_mechanisms(s);
        return;
    }
    const char *initial = "";
    char *sp = strchr(arg, ' ');
    if (sp) {
        *sp = '\0';
        initial = sp + 1;
    }
    if (!login_start_sasl(s->login, arg, *initial ? initial : NULL, s))
        conn_printf(s->conn, "-ERR Initial response too long.\r\n");
}

void pop3_cmd_apop(struct pop3_session *s, char *arg)
{
    (void)arg;
    conn_printf(s->conn, "-ERR APOP is not offered: it needs passwords stored in clear.\r\n");
}

void pop3_cmd_utf8(struct pop3_session *s, char *arg)
{
    if (*arg) {
        conn_printf(s->conn, "-ERR UTF8 takes no argument.\r\n");
        return;
    }
    /* RFC 6856 §2.1: messages are sent as stored, UTF-8 headers included.
     * Outside UTF-8 mode they are sent as stored too, not refused with
     * [UTF8] nor rewritten into a surrogate as §2.1 asks: a client that never
     * heard of RFC 6856 (fetchmail, old phones) would otherwise leave such a
     * message on the server for ever; it gets what every POP3 server without
     * this extension sends. */
    s->utf8 = true;
    conn_printf(s->conn, "+OK UTF8 enabled.\r\n");
}
