/* The maildrop of a logged-in POP3 session (RFC 1939 §8: "the POP3 server
 * then acquires an exclusive-access lock on the maildrop"; §6 the UPDATE
 * state): INBOX of the user's store, through the shared session store
 * (login/session-store.h), so that the snapshot of a large maildrop, reading
 * a message file and the expunge at QUIT with its fsyncs never run on the
 * event loop.
 *
 * The session works on the snapshot taken at login (struct pop3_maildrop, on
 * the loop): the messages, their UIDs and sizes, which DELE marks. Messages
 * that arrive later show up in the next session. The queue side (the open
 * INBOX, the pop3_lock_session lock, the file of the message being sent) is
 * touched only by jobs. */
#ifndef GANNET_POP3_POP3_STORE_H
#define GANNET_POP3_POP3_STORE_H

#include "pop3/session.h"

#include <stdbool.h>
#include <stdint.h>

/* One message of the snapshot. */
struct pop3_message {
    uint32_t uid;
    bool deleted;   /* DELE, until RSET or QUIT */
    bool retrieved; /* RETR sent it whole: \Seen at QUIT, as Dovecot does */
    uint64_t size;  /* RFC822.SIZE: what RETR sends before byte-stuffing */
};

/* Owned by the session. */
struct pop3_maildrop {
    struct pop3_message *msgs; /* msgs[n - 1] is message number n */
    uint32_t count;
    uint32_t uidvalidity;
};

/* After the login succeeded: opens the store, takes the maildrop lock when
 * pop3_lock_session is set, enforces pop3_login_delay and takes the snapshot;
 * then answers the login (+OK, or -ERR [IN-USE], [LOGIN-DELAY], [SYS/TEMP],
 * [SYS/PERM] and closes). Input waits meanwhile. */
void pop3_store_open(struct pop3_session *s, const char *user, const char *home);
/* RETR (top false) or TOP `lines` of message number msgnum (valid, not
 * deleted): the answer streams as the output drains; input waits meanwhile. */
void pop3_store_send(struct pop3_session *s, uint32_t msgnum, bool top, uint64_t lines);
/* The output fell below the low watermark: the next piece of a RETR/TOP. */
bool pop3_store_output_drained(struct pop3_session *s);
/* QUIT in the TRANSACTION state (RFC 1939 §6): marks the messages sent
 * whole \Seen, expunges those marked deleted, releases the lock, answers and
 * closes. */
void pop3_store_update(struct pop3_session *s);
/* When the session ends: nothing is deleted, the lock goes. */
void pop3_store_stop(struct pop3_session *s);

#endif
