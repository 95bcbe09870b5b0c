/* The not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, AUTHENTICATE. */
#include "imap/imap-resp.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "net/line-reader.h"

#include "lib/log.h"
#include "lib/settings.h"

#include <stdlib.h>
#include <string.h>

/* After this many failed logins on one connection, it is closed. */
#define MAX_AUTH_FAILURES 3

static const char privacy_required[] =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/* A login in progress, in the command's arena. */
struct login_cmd {
    struct auth_request *req; /* until the attempt ends */
    bool failed;              /* it ended as AUTH_FAILED */
    struct line_reader reader;
    struct buf response; /* a SASL response line: a secret */
};

static void login_cleanup(void *arg)
{
    struct login_cmd *l = arg;
    auth_abort(l->req);
    l->req = NULL;
    buf_free_secret(&l->response);
}

static struct login_cmd *login_cmd_new(struct imap_cmd *cmd)
{
    struct login_cmd *l = arena_alloc(cmd->arena, sizeof(*l));
    arena_on_reset(cmd->arena, login_cleanup, l);
    cmd->data = l;
    return l;
}

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
    struct login_cmd *l = cmd->data;
    if (l->failed && ++s->auth_failures >= MAX_AUTH_FAILURES)
        return imap_bye(s, "Too many authentication failures.");
    return IMAP_CMD_DONE;
}

static void login_done(void *ctx, const struct auth_result *res)
{
    struct imap_cmd *cmd = ctx;
    struct imap_session *s = cmd->session;
    struct login_cmd *l = cmd->data;
    l->req = NULL;
    l->failed = res->status == AUTH_FAILED;
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

/* The rest of a SASL response line already answered as too long. */
static enum imap_cmd_result sasl_skip_rest(struct imap_cmd *cmd)
{
    struct evbuffer *in = imap_cmd_input(cmd);
    struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
    if (eol.pos < 0) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return IMAP_CMD_WAIT_INPUT;
    }
    evbuffer_drain(in, (size_t)eol.pos + 1);
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result sasl_read_response(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct login_cmd *l = cmd->data;
    enum line_result r = line_reader_read(&l->reader, imap_cmd_input(cmd),
                                          s->conn->settings->auth_max_sasl_size, &l->response);
    if (r == LINE_NONE)
        return IMAP_CMD_WAIT_INPUT;
    if (r == LINE_TOO_LONG) {
        auth_abort(l->req);
        l->req = NULL;
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Authentication response too long.");
        if (!l->reader.discarding)
            return IMAP_CMD_DONE;
        cmd->resume = sasl_skip_rest;
        return IMAP_CMD_WAIT_INPUT;
    }
    /* The request answers through the callbacks: another challenge, or done. */
    cmd->resume = NULL;
    auth_continue(l->req, l->response.data, l->response.len);
    buf_free_secret(&l->response);
    return IMAP_CMD_WAIT_EXTERNAL;
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

static struct auth_client auth_client_of(const struct imap_session *s)
{
    return (struct auth_client){.conn_id = s->conn->id,
                                .peer_ip = s->conn->peer_ip,
                                .protocol = "imap",
                                .tls = s->conn->tls};
}

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
    if (!imap_login_allowed(s))
        return refuse_plaintext(cmd, true);
    struct auth_client client = auth_client_of(s);
    struct login_cmd *l = login_cmd_new(cmd);
    l->req = auth_start_password(s->auth, &client, user, password, password_len, login_done, cmd);
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
    if (!imap_login_allowed(s))
        return refuse_plaintext(cmd, initial != NULL);
    if (initial && strlen(initial) > s->conn->settings->auth_max_sasl_size) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Initial response too long.");
        return IMAP_CMD_DONE;
    }
    struct auth_client client = auth_client_of(s);
    struct login_cmd *l = login_cmd_new(cmd);
    l->req = auth_start_sasl(s->auth, &client, mech, initial, sasl_challenge, login_done, cmd);
    return IMAP_CMD_WAIT_EXTERNAL;
}
