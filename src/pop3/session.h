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
struct pop3_maildrop;
struct serial_queue;
struct session_store;

/* RFC 1939 §3; bits, for the command table. */
enum pop3_state {
    POP3_AUTHORIZATION = 1,
    POP3_TRANSACTION = 2,
    POP3_UPDATE = 4, /* after QUIT, while the deletions are made */
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
    bool utf8;             /* RFC 6856 UTF8 mode */
    /* Once logged in: the store, through its queue (pop3-store.h), and the
     * maildrop's snapshot (NULL until it is taken). */
    struct serial_queue *store_queue;
    struct session_store *session_store;
    struct pop3_maildrop *drop;
    /* A command's answer is not complete yet (a store job, or output that
     * waits for the client to read): the next command waits (RFC 2449 §6.6,
     * pipelined commands are answered in order). */
    bool waiting;
    struct pop3_sending *sending; /* a RETR/TOP under way */
    struct pop3_listing *listing; /* a LIST/UIDL under way */
};

extern const struct protocol pop3_protocol;

/* Writes `line` and CRLF, then closes. */
void pop3_close_with(struct pop3_session *s, const char *line);
/* STLS can be offered now. */
bool pop3_stls_available(const struct pop3_session *s);
/* The login succeeded as `user` (home may be NULL): the login state goes,
 * and the maildrop is opened (called from the login's done callback). */
void pop3_logged_in(struct pop3_session *s, const char *user, const char *home);
/* The maildrop is open: the TRANSACTION state, its timeouts and limits. */
void pop3_enter_transaction(struct pop3_session *s);
/* The command that waited is complete: the next one may run. */
void pop3_command_done(struct pop3_session *s);

#endif
