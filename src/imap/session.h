/* An IMAP session (RFC 9051 §3): the parser, the state, the command table and
 * the response writer for one connection. */
#ifndef GANNET_IMAP_SESSION_H
#define GANNET_IMAP_SESSION_H

#include "auth/auth-request.h"
#include "imap/imap-commands.h"
#include "lib-imap/imap-parser.h"
#include "login/login.h"
#include "net/conn.h"

#include <stdbool.h>

struct store_uids;
struct session_store;

enum imap_state {
    IMAP_STATE_NOT_AUTHENTICATED = 1,
    IMAP_STATE_AUTHENTICATED = 2,
    IMAP_STATE_SELECTED = 4,
    IMAP_STATE_LOGOUT = 8,
};
#define IMAP_STATES_ANY                                                                            \
    (IMAP_STATE_NOT_AUTHENTICATED | IMAP_STATE_AUTHENTICATED | IMAP_STATE_SELECTED)
#define IMAP_STATES_AUTHENTICATED (IMAP_STATE_AUTHENTICATED | IMAP_STATE_SELECTED)

/* Owned by its connection (conn->session), freed when the connection closes.
 * Kept small: a logged-in idle session is a budget of a few KiB. */
struct imap_session {
    struct conn *conn;
    struct auth_service *auth;
    struct imap_parser *parser;
    enum imap_state state;
    struct imap_cmd *cmd; /* the command running, in the parser's arena; or NULL */
    bool renew_parser;    /* STARTTLS: a fresh parser when the command ends */
    bool in_input;        /* imap_input is on the stack */
    struct login *login;  /* until logged in */
    /* after login: the user's store, through its queue (imap-store.h) */
    struct serial_queue *store_queue;
    struct imap_store_side *store_side;
    struct session_store *session_store;

    char *user; /* once logged in */
    char *home;
    bool enabled_imap4rev2;
    /* RFC 7162: VANISHED instead of EXPUNGE (ENABLE QRESYNC); the selected
     * mailbox's HIGHESTMODSEQ is owed (CONDSTORE enabled with it selected,
     * told by the next sync) */
    bool enabled_qresync, announce_highestmodseq;
    /* the store's change notification, watched on the loop (imap-store.c) */
    struct imap_store_notify *store_notify;
    bool selected_readonly; /* the selected mailbox came from EXAMINE */
    /* RFC 7162 §3.1: a CONDSTORE enabling command came (set it with
     * imap_session_enable_condstore): MODSEQ in every untagged FETCH */
    bool enabled_condstore;
    /* RFC 9051 §6.4.4.1: the UIDs of the last SEARCH RETURN (SAVE), which "$"
     * names (heap); NULL while no search saved one */
    struct store_uids *search_saved;
    unsigned bad_commands; /* in a row, once logged in */
};

extern const struct protocol imap_protocol;

/* The capability list for the session's current state and transport. */
void imap_capabilities(const struct imap_session *s, struct buf *out);
/* Logs in: state, limits and timeouts of an authenticated session; the login
 * state goes (called from the login's done callback). */
void imap_session_logged_in(struct imap_session *s, const char *user, const char *home);
/* A CONDSTORE enabling command (RFC 7162 §3.1: SELECT/EXAMINE (CONDSTORE),
 * STATUS (HIGHESTMODSEQ), FETCH MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE,
 * SEARCH MODSEQ, ENABLE): from now on untagged FETCHes carry MODSEQ, and the
 * first one with a mailbox selected owes its HIGHESTMODSEQ, which the sync at
 * the command's end tells. */
void imap_session_enable_condstore(struct imap_session *s);
/* Says `* BYE text` and closes. */
enum imap_cmd_result imap_bye(struct imap_session *s, const char *text);

#endif
