/* A login attempt, whatever the protocol: SASL (AUTHENTICATE, AUTH) or a plain
 * user and password (IMAP LOGIN, POP3 USER/PASS). It drives the mechanism,
 * checks the password on the thread pool, looks the user up in the userdb,
 * enforces mail_max_userip_connections, and answers a failure only after
 * auth_failure_delay, grown for an address that keeps failing, without holding
 * up any other connection. */
#ifndef GANNET_AUTH_AUTH_REQUEST_H
#define GANNET_AUTH_AUTH_REQUEST_H

#include "lib/settings.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct shared_counters;
struct auth_service;
struct auth_request;
struct authdb;

/* Creates the per-worker service (opens the passdb/userdb, starts the thread
 * pool). NULL with err. */
struct auth_service *auth_service_new(struct event_base *base, const struct settings *set,
                                      struct shared_counters *counters, struct buf *err);
void auth_service_free(struct auth_service *svc);

/* The service's passdbs and userdbs, for lookups without a login (LMTP's
 * RCPT TO, auth/passdb.h): they are thread-safe and may read a file, so run
 * them on a thread pool. Owned by the service. */
struct authdb *auth_service_db(struct auth_service *svc);

/* The enabled SASL mechanisms, upper case ("PLAIN", "SCRAM-SHA-256", ...), NULL-terminated. */
const char *const *auth_service_mechanisms(const struct auth_service *svc);

/* Who is logging in; the strings must outlive the request. */
struct auth_client {
    const char *conn_id;
    const char *peer_ip;
    const char *protocol; /* "imap", "pop3" */
    bool tls;
};

enum auth_status {
    AUTH_OK,
    AUTH_FAILED,      /* wrong user or password (answered after the delay) */
    AUTH_MALFORMED,   /* a protocol error in the exchange: BAD / -ERR */
    AUTH_CANCELLED,   /* the client sent "*" */
    AUTH_UNSUPPORTED, /* mechanism unknown or not enabled */
    AUTH_AUTHZ,       /* asked to act as another user */
    AUTH_LIMIT,       /* mail_max_userip_connections reached */
    AUTH_TEMPFAIL,    /* a database could not be read, or the user's uid/gid differ from mail_uid */
};

struct auth_result {
    enum auth_status status;
    const char *user; /* AUTH_OK: the user as the userdb knows them */
    const char *home; /* AUTH_OK: may be NULL */
    const char *text; /* a short human text for the client */
};

/* Sends a SASL challenge (already base64, possibly "") as "+ text". */
typedef void auth_challenge_fn(void *ctx, const char *b64);
/* The attempt ended; the request is freed right after this returns. */
typedef void auth_done_fn(void *ctx, const struct auth_result *res);

/* `initial`: the SASL-IR initial response in base64, "=" for an empty one, NULL for none. */
struct auth_request *auth_start_sasl(struct auth_service *svc, const struct auth_client *client,
                                     const char *mech, const char *initial,
                                     auth_challenge_fn *challenge, auth_done_fn *done, void *ctx);
/* The client's answer to a challenge: a base64 line, or "*" to cancel. */
void auth_continue(struct auth_request *req, const char *line, size_t len);

struct auth_request *auth_start_password(struct auth_service *svc, const struct auth_client *client,
                                         const char *user, const char *password,
                                         size_t password_len, auth_done_fn *done, void *ctx);

/* The connection went away: no callback will run. */
void auth_abort(struct auth_request *req);

/* A logged-in session ended: frees its mail_max_userip_connections slot. */
void auth_logout(struct auth_service *svc, const char *user, const char *peer_ip);

#endif
