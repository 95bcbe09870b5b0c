#include "login/login.h"

#include "login/sasl-line.h"

#include "lib/log.h"
#include "lib/settings.h"
#include "net/conn.h"

#include <stdlib.h>
#include <string.h>

enum login_phase {
    LOGIN_IDLE,          /* no attempt */
    LOGIN_CHECKING,      /* the request is with the auth service */
    LOGIN_WANT_RESPONSE, /* a challenge went out; the response line is awaited */
    LOGIN_SKIPPING,      /* the attempt is over; the rest of a too-long line goes */
};

struct login {
    struct conn *conn;
    struct auth_service *auth;
    const char *protocol;
    const struct login_callbacks *cb;
    void *ctx; /* the attempt's */
    enum login_phase phase;
    struct auth_request *req; /* while an attempt is under way */
    struct sasl_line response;
    bool last_failed;
    unsigned auth_failures;
    unsigned bad_commands;
};

bool login_plaintext_allowed(const struct settings *set, bool secured)
{
    if (secured)
        return true;
    return set->ssl != SSL_MODE_REQUIRED && !set->disable_plaintext_auth;
}

struct login *login_new(struct conn *c, struct auth_service *auth, const char *protocol,
                        const struct login_callbacks *cb)
{
    struct login *l = xcalloc(1, sizeof(*l));
    l->conn = c;
    l->auth = auth;
    l->protocol = protocol;
    l->cb = cb;
    return l;
}

void login_free(struct login **lp)
{
    struct login *l = *lp;
    if (!l)
        return;
    auth_abort(l->req);
    sasl_line_clear(&l->response);
    free(l);
    *lp = NULL;
}

static struct auth_client client_of(const struct login *l)
{
    return (struct auth_client){.conn_id = l->conn->id,
                                .peer_ip = l->conn->peer_ip,
                                .protocol = l->protocol,
                                .tls = l->conn->tls};
}

static void challenge(void *arg, const char *b64)
{
    struct login *l = arg;
    l->phase = LOGIN_WANT_RESPONSE;
    l->cb->challenge(l->ctx, b64);
}

static void done(void *arg, const struct auth_result *res)
{
    struct login *l = arg;
    l->req = NULL;
    l->phase = LOGIN_IDLE;
    l->last_failed = res->status == AUTH_FAILED;
    if (l->last_failed)
        l->auth_failures++;
    /* Last: the protocol may free the login from here. */
    l->cb->done(l->ctx, res);
}

static void attempt_begins(struct login *l, void *ctx)
{
    l->ctx = ctx;
    l->last_failed = false;
    /* before the start: a mechanism may challenge before it returns */
    l->phase = LOGIN_CHECKING;
}

void login_start_password(struct login *l, const char *user, const char *password,
                          size_t password_len, void *ctx)
{
    struct auth_client client = client_of(l);
    attempt_begins(l, ctx);
    l->req = auth_start_password(l->auth, &client, user, password, password_len, done, l);
}

bool login_start_sasl(struct login *l, const char *mech, const char *initial, void *ctx)
{
    if (initial && strlen(initial) > l->conn->settings->auth_max_sasl_size)
        return false;
    struct auth_client client = client_of(l);
    attempt_begins(l, ctx);
    l->req = auth_start_sasl(l->auth, &client, mech, initial, challenge, done, l);
    return true;
}

bool login_busy(const struct login *l)
{
    return l->phase != LOGIN_IDLE;
}

bool login_wants_response(const struct login *l)
{
    return l->phase == LOGIN_WANT_RESPONSE || l->phase == LOGIN_SKIPPING;
}

enum login_response login_read_response(struct login *l, struct evbuffer *in)
{
    switch (sasl_line_read(&l->response, in, l->conn->settings->auth_max_sasl_size)) {
    case SASL_LINE_MORE:
        return LOGIN_RESPONSE_MORE;
    case SASL_LINE_SKIPPED:
        l->phase = LOGIN_IDLE;
        return LOGIN_RESPONSE_SKIPPED;
    case SASL_LINE_TOO_LONG:
        auth_abort(l->req);
        l->req = NULL;
        l->phase = sasl_line_skipping(&l->response) ? LOGIN_SKIPPING : LOGIN_IDLE;
        return LOGIN_RESPONSE_TOO_LONG;
    case SASL_LINE_READY:
        break;
    }
    /* The mechanism may answer before auth_continue returns, and the answer
     * may end the login: nothing of it is touched after the call. */
    struct buf line = l->response.line;
    l->response.line = (struct buf)BUF_INIT;
    l->phase = LOGIN_CHECKING;
    auth_continue(l->req, line.data, line.len);
    buf_free_secret(&line);
    return LOGIN_RESPONSE_SENT;
}

bool login_too_many_failures(const struct login *l)
{
    return l->last_failed && l->auth_failures >= LOGIN_MAX_AUTH_FAILURES;
}

bool login_bad_command(struct login *l)
{
    unsigned limit = l->conn->settings->login_max_bad_commands;
    return limit && ++l->bad_commands >= limit;
}

void login_session_closed(struct auth_service *auth, const struct conn *c, const char *protocol,
                          const char *user)
{
    auth_logout(auth, user, c->peer_ip);
    log_info(c->id, "%s: disconnected: user=<%s>", protocol, user);
}
