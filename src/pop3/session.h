/* A POP3 session (RFC 1939) with CAPA and response codes (RFC 2449), STLS
 * (RFC 2595 §4) and SASL AUTH (RFC 5034): the line reader, the state, the
 * command table (pop3-commands.c) and the login (login/). */
#ifndef GANNET_POP3_SESSION_H
#define GANNET_POP3_SESSION_H

#include "lib/buf.h"
#include "net/conn.h"
#include "net/line-reader.h"

#include <stdbool.h>

struct auth_service;
struct login;

/* RFC 1939 §3; bits, for the command table. */
enum pop3_state {
    POP3_AUTHORIZATION = 1,
    POP3_TRANSACTION = 2,
};
#define POP3_STATES_ANY (POP3_AUTHORIZATION | POP3_TRANSACTION)

/* Owned by its connection (conn->session), freed when it closes. */
struct pop3_session {
    struct conn *conn;
    struct auth_service *auth;
    enum pop3_state state;
    struct line_reader reader;
    struct buf line;       /* the command line being handled: may hold a password */
    struct login *login;   /* until logged in */
    char *pending_user;    /* after USER, before PASS */
    unsigned bad_commands; /* in a row, once logged in */
    char *user;            /* once logged in */
};

extern const struct protocol pop3_protocol;

/* Writes `line` and CRLF, then closes. */
void pop3_close_with(struct pop3_session *s, const char *line);
/* STLS can be offered now. */
bool pop3_stls_available(const struct pop3_session *s);
/* Enters the TRANSACTION state as `user`: timeouts and limits of a logged-in
 * session; the login state goes (called from the login's done callback). */
void pop3_logged_in(struct pop3_session *s, const char *user);

#endif
