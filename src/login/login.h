/* What IMAP and POP3 share before login (Dovecot's login-common): the
 * plaintext rule, the start of an authentication (a password, or a SASL
 * exchange with its response lines), the failure count and its limit, the
 * bad-command limit, and the end of a logged-in session. The protocols keep
 * only their wording: they answer through the callbacks and say the refusals.
 *
 * All the login state of a connection is in one struct login, which the
 * session drops once the client has logged in: the seam where a sandboxed
 * login process goes later (DESIGN.md "Processes, concurrency, privileges"). */
#ifndef GANNET_LOGIN_LOGIN_H
#define GANNET_LOGIN_LOGIN_H

#include "auth/auth-request.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

struct conn;
struct settings;
struct login;

/* After this many failed logins on one connection, it is closed. */
#define LOGIN_MAX_AUTH_FAILURES 3
/* Limits are tighter before login than after (DESIGN.md "Conventions"): before
 * login a connection is closed after login_max_bad_commands bad commands in
 * all; after login, after this many in a row, a command that runs starting the
 * count again (Dovecot's CLIENT_MAX_BAD_COMMANDS in imap and pop3). */
#define SESSION_MAX_BAD_COMMANDS 20

/* Plaintext authentication (a password in LOGIN, USER/PASS, or a SASL
 * exchange: RFC 9051 §11.1, RFC 2595 §2.1) is allowed on a secured connection
 * (TLS, or a peer in login_trusted_networks), and in clear only with ssl not
 * "required" and disable_plaintext_auth = no. */
bool login_plaintext_allowed(const struct settings *set, bool secured);

/* How a protocol answers an attempt, in its own words. ctx is the one given
 * to login_start_*. */
struct login_callbacks {
    /* Send the challenge (base64, possibly ""); then read the client's
     * response with login_read_response(). */
    auth_challenge_fn *challenge;
    /* The attempt ended (counted already for login_too_many_failures()).
     * Called last: the callback may free the login (on AUTH_OK). */
    auth_done_fn *done;
};

/* Owned by the protocol session until the login succeeds or the connection
 * closes; `protocol` ("imap", "pop3") and `cb` are static. */
struct login *login_new(struct conn *c, struct auth_service *auth, const char *protocol,
                        const struct login_callbacks *cb);
/* Aborts an attempt in progress (no callback runs) and frees; *lp = NULL. */
void login_free(struct login **lp);

/* Starts checking a user and password (IMAP LOGIN, POP3 PASS). */
void login_start_password(struct login *l, const char *user, const char *password,
                          size_t password_len, void *ctx);
/* Starts a SASL exchange; `initial` is the initial response (base64, "=" for
 * an empty one) or NULL. False, with nothing started, when the initial
 * response is over auth_max_sasl_size. */
bool login_start_sasl(struct login *l, const char *mech, const char *initial, void *ctx);

/* An attempt is under way: the protocol reads no command meanwhile. */
bool login_busy(const struct login *l);
/* The attempt waits for the client's response line (after a challenge), or
 * for the rest of a too-long one to skip: input goes to login_read_response(). */
bool login_wants_response(const struct login *l);

enum login_response {
    LOGIN_RESPONSE_MORE,     /* wait for more input */
    LOGIN_RESPONSE_SENT,     /* the mechanism has it; it answers through the
                                callbacks, maybe before this returns */
    LOGIN_RESPONSE_TOO_LONG, /* over auth_max_sasl_size: the attempt is aborted
                                (no callback); say so, and while
                                login_wants_response() the rest of the line
                                is still to skip */
    LOGIN_RESPONSE_SKIPPED,  /* the rest of a too-long line has gone */
};
enum login_response login_read_response(struct login *l, struct evbuffer *in);

/* The attempt that just ended was the LOGIN_MAX_AUTH_FAILURES-th failure:
 * after its answer the connection is to close. */
bool login_too_many_failures(const struct login *l);
/* One more bad command before login: true when login_max_bad_commands is
 * reached and the connection is to close. */
bool login_bad_command(struct login *l);

/* A logged-in session ended: frees the user's mail_max_userip_connections
 * slot and logs the disconnection. */
void login_session_closed(struct auth_service *auth, const struct conn *c, const char *protocol,
                          const char *user);

#endif
