/* The not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, AUTHENTICATE. */
#include "imap/imap-resp.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "login/login.h"

#include "lib/settings.h"

static const char privacy_required[] =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

enum imap_cmd_result cmd_starttls(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "STARTTLS takes no arguments.");
        return IMAP_CMD_DONE;
    }
    if (s->conn->tls) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "TLS is already active.");
        return IMAP_CMD_DONE;
    }
    if (!conn_can_starttls(s->conn)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "TLS is not available on this server.");
        return IMAP_CMD_DONE;
    }
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "Begin TLS negotiation now.");
    /* RFC 9051 §6.2.1: the client must discard what it knew; so do we. */
    s->renew_parser = true;
    conn_starttls(s->conn);
    return IMAP_CMD_DONE;
}

/* After the answer: the connection goes on, or ends after too many failures. */
static enum imap_cmd_result login_finished(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (s->login && login_too_many_failures(s->login))
        return imap_bye(s, "Too many authentication failures.");
    return IMAP_CMD_DONE;
}

static void login_done(void *ctx, const struct auth_result *res)
{
    struct imap_cmd *cmd = ctx;
    struct imap_session *s = cmd->session;
    switch (res->status) {
    case AUTH_OK: {
        imap_session_logged_in(s, res->user, res->home);
        struct buf caps = BUF_INIT;
        imap_capabilities(s, &caps);
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "[CAPABILITY %s] Logged in", buf_cstr(&caps));
        buf_free(&caps);
        break;
    }
    case AUTH_FAILED:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_AUTHENTICATIONFAILED, "%s", res->text);
        break;
    case AUTH_AUTHZ:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_AUTHORIZATIONFAILED, "%s", res->text);
        break;
    case AUTH_LIMIT:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_LIMIT, "%s", res->text);
        break;
    case AUTH_TEMPFAIL:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_UNAVAILABLE, "%s", res->text);
        break;
    case AUTH_UNSUPPORTED:
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_NONE, "%s", res->text);
        break;
    case AUTH_MALFORMED:
    case AUTH_CANCELLED:
        /* RFC 9051 §6.2.2: a cancelled or undecodable exchange gets BAD. */
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", res->text);
        break;
    }
    cmd->resume = login_finished;
    imap_cmd_wake(cmd);
}

/* The client's response to a challenge (RFC 9051 §6.2.2): the command owns
 * the input until the line has come. */
static enum imap_cmd_result sasl_read_response(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    switch (login_read_response(s->login, imap_cmd_input(cmd))) {
    case LOGIN_RESPONSE_MORE:
        return IMAP_CMD_WAIT_INPUT;
    case LOGIN_RESPONSE_SENT:
        /* The login answers through the callbacks: another challenge, or done. */
        return IMAP_CMD_WAIT_EXTERNAL;
    case LOGIN_RESPONSE_TOO_LONG:
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Authentication response too long.");
        /* the rest of the line is skipped before the next command is read */
        return login_wants_response(s->login) ? IMAP_CMD_WAIT_INPUT : IMAP_CMD_DONE;
    case LOGIN_RESPONSE_SKIPPED:
        break;
    }
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result sasl_wait_response(struct imap_cmd *cmd)
{
    cmd->resume = sasl_read_response;
    return IMAP_CMD_WAIT_INPUT;
}

static void sasl_challenge(void *ctx, const char *b64)
{
    struct imap_cmd *cmd = ctx;
    imap_continue(cmd->session, b64);
    cmd->resume = sasl_wait_response;
    imap_cmd_wake(cmd);
}

const struct login_callbacks imap_login_callbacks = {
    .challenge = sasl_challenge,
    .done = login_done,
};

static enum imap_cmd_result refuse_plaintext(struct imap_cmd *cmd, bool password_sent)
{
    if (password_sent)
        imap_untagged(cmd->session,
                      "BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but "
                      "your client did it anyway. If anyone was listening, the password was "
                      "exposed.");
    imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_PRIVACYREQUIRED, "%s", privacy_required);
    return IMAP_CMD_DONE;
}

enum imap_cmd_result cmd_login(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    const char *user, *password;
    size_t password_len;
    if (cmd->n_args != 2 || !imap_arg_get_astring(&cmd->args[0], &user, NULL) ||
        !imap_arg_get_astring(&cmd->args[1], &password, &password_len)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "LOGIN expects a user name and a password.");
        return IMAP_CMD_DONE;
    }
    if (!login_plaintext_allowed(s->conn->settings, s->conn->secured))
        return refuse_plaintext(cmd, true);
    login_start_password(s->login, user, password, password_len, cmd);
    return IMAP_CMD_WAIT_EXTERNAL;
}

enum imap_cmd_result cmd_authenticate(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    const char *mech, *initial = NULL;
    if (cmd->n_args < 1 || cmd->n_args > 2 || !imap_arg_get_atom(&cmd->args[0], &mech) ||
        (cmd->n_args == 2 && !imap_arg_get_atom(&cmd->args[1], &initial))) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "AUTHENTICATE expects a mechanism and an optional "
                       "initial response.");
        return IMAP_CMD_DONE;
    }
    if (!login_plaintext_allowed(s->conn->settings, s->conn->secured))
        return refuse_plaintext(cmd, initial != NULL);
    if (!login_start_sasl(s->login, mech, initial, cmd)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Initial response too long.");
        return IMAP_CMD_DONE;
    }
    return IMAP_CMD_WAIT_EXTERNAL;
}
