/* The not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, AUTHENTICATE. */
#include "imap/session.h"

#include "lib/log.h"
#include "lib/settings.h"

#include <stdlib.h>
#include <string.h>

/* After this many failed logins on one connection, it is closed. */
#define MAX_AUTH_FAILURES 3

static const char privacy_required[] =
    "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

static enum imap_cmd_result cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
    if (cmd->n_args != 0) {
        imap_tagged(s, cmd->tag, "BAD", "STARTTLS takes no arguments.");
        return IMAP_CMD_DONE;
    }
    if (s->conn->tls) {
        imap_tagged(s, cmd->tag, "BAD", "TLS is already active.");
        return IMAP_CMD_DONE;
    }
    if (!s->conn->listener_tls) {
        imap_tagged(s, cmd->tag, "BAD", "TLS is not available on this server.");
        return IMAP_CMD_DONE;
    }
    imap_tagged(s, cmd->tag, "OK", "Begin TLS negotiation now.");
    /* RFC 9051 §6.2.1: the client must discard what it knew; so do we. */
    imap_session_new_parser(s);
    conn_starttls(s->conn);
    return IMAP_CMD_WAIT;
}

static void login_done(void *ctx, const struct auth_result *res)
{
    struct imap_session *s = ctx;
    char *tag = s->auth_tag;
    s->auth_tag = NULL;
    s->auth_req = NULL;
    s->reading_sasl = false;
    switch (res->status) {
    case AUTH_OK: {
        imap_session_logged_in(s, res->user, res->home);
        struct buf caps = BUF_INIT;
        imap_capabilities(s, &caps);
        imap_tagged(s, tag, "OK", "[CAPABILITY %s] Logged in", buf_cstr(&caps));
        buf_free(&caps);
        break;
    }
    case AUTH_FAILED:
        imap_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] %s", res->text);
        break;
    case AUTH_AUTHZ:
        imap_tagged(s, tag, "NO", "[AUTHORIZATIONFAILED] %s", res->text);
        break;
    case AUTH_LIMIT:
        imap_tagged(s, tag, "NO", "[LIMIT] %s", res->text);
        break;
    case AUTH_TEMPFAIL:
        imap_tagged(s, tag, "NO", "[UNAVAILABLE] %s", res->text);
        break;
    case AUTH_UNSUPPORTED:
        imap_tagged(s, tag, "NO", "%s", res->text);
        break;
    case AUTH_MALFORMED:
    case AUTH_CANCELLED:
        /* RFC 9051 §6.2.2: a cancelled or undecodable exchange gets BAD. */
        imap_tagged(s, tag, "BAD", "%s", res->text);
        break;
    }
    free(tag);
    if (res->status == AUTH_FAILED && ++s->auth_failures >= MAX_AUTH_FAILURES) {
        imap_bye(s, "Too many authentication failures.");
        return;
    }
    conn_resume_input(s->conn);
}

static void sasl_challenge(void *ctx, const char *b64)
{
    struct imap_session *s = ctx;
    conn_printf(s->conn, "+ %s\r\n", b64);
    s->reading_sasl = true;
    conn_resume_input(s->conn);
}

static struct auth_client auth_client_of(const struct imap_session *s)
{
    return (struct auth_client){.conn_id = s->conn->id,
                                .peer_ip = s->conn->peer_ip,
                                .protocol = "imap",
                                .tls = s->conn->tls};
}

static enum imap_cmd_result refuse_plaintext(struct imap_session *s, const char *tag,
                                             bool password_sent)
{
    if (password_sent)
        imap_untagged(s, "BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but "
                         "your client did it anyway. If anyone was listening, the password was "
                         "exposed.");
    imap_tagged(s, tag, "NO", "%s", privacy_required);
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
    const char *user = cmd->n_args == 2 ? imap_arg_astring(&cmd->args[0]) : NULL;
    const char *password = cmd->n_args == 2 ? imap_arg_astring(&cmd->args[1]) : NULL;
    if (!user || !password) {
        imap_tagged(s, cmd->tag, "BAD", "LOGIN expects a user name and a password.");
        return IMAP_CMD_DONE;
    }
    if (!imap_login_allowed(s))
        return refuse_plaintext(s, cmd->tag, true);
    struct auth_client client = auth_client_of(s);
    s->auth_tag = xstrdup(cmd->tag);
    conn_pause_input(s->conn);
    s->auth_req = auth_start_password(s->auth, &client, user, password, cmd->args[1].len,
                                      login_done, s);
    return IMAP_CMD_WAIT;
}

static enum imap_cmd_result cmd_authenticate(struct imap_session *s,
                                             const struct imap_command *cmd)
{
    if (cmd->n_args < 1 || cmd->n_args > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
        (cmd->n_args == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
        imap_tagged(s, cmd->tag, "BAD", "AUTHENTICATE expects a mechanism and an optional "
                                        "initial response.");
        return IMAP_CMD_DONE;
    }
    if (!imap_login_allowed(s))
        return refuse_plaintext(s, cmd->tag, cmd->n_args == 2);
    const char *initial = cmd->n_args == 2 ? cmd->args[1].str : NULL;
    if (initial && strlen(initial) > s->conn->settings->auth_max_sasl_size) {
        imap_tagged(s, cmd->tag, "BAD", "Initial response too long.");
        return IMAP_CMD_DONE;
    }
    struct auth_client client = auth_client_of(s);
    s->auth_tag = xstrdup(cmd->tag);
    conn_pause_input(s->conn);
    s->auth_req = auth_start_sasl(s->auth, &client, cmd->args[0].str, initial, sasl_challenge,
                                  login_done, s);
    return IMAP_CMD_WAIT;
}

const struct imap_command_def imap_commands_login[] = {
    {"STARTTLS", IMAP_STATE_NOT_AUTHENTICATED, cmd_starttls},
    {"LOGIN", IMAP_STATE_NOT_AUTHENTICATED, cmd_login},
    {"AUTHENTICATE", IMAP_STATE_NOT_AUTHENTICATED, cmd_authenticate},
    {NULL, 0, NULL},
};
