/* One client connection: a libevent bufferevent (plain socket, or OpenSSL over
 * it), its addresses, its TLS state and its limits. The protocol session on top
 * (imap/, pop3/) gets input through conn_ops and writes with conn_write(). */
#ifndef GANNET_NET_CONN_H
#define GANNET_NET_CONN_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn;
struct worker;
struct settings;

/* Implemented by the protocol session. */
struct conn_ops {
    /* Bytes arrived (also called again after conn_resume_input). Consume what
     * can be handled from `in`; leave the rest. */
    void (*input)(struct conn *c, struct evbuffer *in);
    /* No input for the configured time: say goodbye and conn_close(). */
    void (*timeout)(struct conn *c);
    /* The server is stopping: say goodbye and conn_close(). */
    void (*shutdown)(struct conn *c);
    /* The connection is gone; free the session. Called exactly once. */
    void (*closed)(struct conn *c);
    /* The output fell to the low watermark after conn_notify_drained(). */
    void (*output_drained)(struct conn *c);
};

/* How a listener's protocol starts a session on a new connection. */
struct protocol {
    const char *service; /* "imap-login", "pop3-login", "lmtp" */
    const char *alpn;    /* "imap", "pop3"; also the name in `protocols` */
    /* Where an inet_listener without an address listens; NULL: `listen`. */
    const char *default_listen;
    /* No login phase (LMTP, spoken by the MTA): the limits on unauthenticated
     * connections do not apply. */
    bool no_login;
    /* Sets c->ops and c->session and sends the greeting; or, when c->refused is
     * set, sends the protocol's refusal and closes. */
    void (*accept)(struct conn *c);
};

/* Owned by its worker; freed after conn_close() once the output is flushed. */
struct conn {
    char id[12]; /* log id, unique enough to follow one session */
    char peer_ip[64];
    int peer_port;
    char local_ip[64];
    int local_port;
    struct sockaddr_storage peer;
    bool tls;            /* TLS is up (implicit or after STARTTLS) */
    bool secured;        /* tls, or the peer is in login_trusted_networks */
    bool tls_port;       /* the listener speaks implicit TLS */
    const char *refused; /* set at accept when a connection limit was hit */
    const struct conn_ops *ops;
    void *session;
    const struct settings *settings;
    const struct protocol *protocol;

    /* private to net/ */
    struct worker *worker;
    struct bufferevent *bev;
    struct ssl_ctx_st *listener_tls; /* for STARTTLS; NULL with ssl = no */
    int fd;
    bool closing;
    bool handshake_done; /* implicit TLS: the handshake completed */
    bool prelogin_counted;
    bool input_paused;
    bool starttls_pending;
    bool want_drained;
    struct event *deferred;
    int deferred_work;
    unsigned timeout_ms;
    struct conn *prev, *next;
};

/* Output is kept between these marks by the sessions that write much (a big
 * FETCH): they write until conn_output_pending() passes the high one, then
 * wait for ops->output_drained. */
#define CONN_OUTPUT_HIGH_WATERMARK (256u * 1024u)
#define CONN_OUTPUT_LOW_WATERMARK (64u * 1024u)

void conn_write(struct conn *c, const void *data, size_t len);
__attribute__((format(printf, 2, 3))) void conn_printf(struct conn *c, const char *fmt, ...);
/* Queues len bytes of fd from offset to be sent straight from the file
 * (sendfile, through an evbuffer file segment): for a large FETCH BODY[]
 * literal, which then never passes through memory. Plaintext connections
 * only: on TLS the bytes must go through OpenSSL, and this returns false for
 * the caller to write them itself (a FETCH reads them in bounded chunks on
 * the store's threads). The fd stays the caller's: a duplicate is queued. */
bool conn_write_file(struct conn *c, int fd, uint64_t offset, uint64_t len);
/* Bytes waiting to be sent. */
size_t conn_output_pending(const struct conn *c);
/* Calls ops->output_drained once, from the loop, when the output is at or
 * below CONN_OUTPUT_LOW_WATERMARK (at once if it already is). */
void conn_notify_drained(struct conn *c);
/* The client's bytes not yet taken by the session. */
struct evbuffer *conn_input(struct conn *c);
/* STARTTLS/STLS can be offered: cleartext now, and TLS configured. */
bool conn_can_starttls(const struct conn *c);

/* Flushes what was written, then closes. ops->closed runs later, from the loop. */
void conn_close(struct conn *c);
bool conn_is_closing(const struct conn *c);

/* STARTTLS/STLS (RFC 2595 §3.1, RFC 9051 §6.2.1): call right after writing the
 * OK. Anything the client sent after the command is discarded, the OK is
 * flushed, then the TLS handshake starts on the socket. Returns false when TLS
 * is not configured. */
bool conn_starttls(struct conn *c);

/* Stop handing input to the session (a login is being checked) / start again;
 * buffered input is delivered from the loop, not from inside this call. */
void conn_pause_input(struct conn *c);
void conn_resume_input(struct conn *c);
/* Input is paused, or STARTTLS is under way: the session takes nothing now. */
bool conn_input_blocked(const struct conn *c);

/* Inactivity limit for reading; 0 disables it. */
void conn_set_timeout(struct conn *c, unsigned ms);

/* The login succeeded: the connection no longer counts against the limits for
 * unauthenticated connections. */
void conn_set_authenticated(struct conn *c);

struct event_base *conn_event_base(const struct conn *c);
/* What the worker was started with for its sessions (the auth service). */
void *conn_app(const struct conn *c);

#endif
