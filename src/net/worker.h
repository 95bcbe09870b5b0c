/* Private to net/: what connections need from the worker that owns them. */
#ifndef GANNET_NET_WORKER_H
#define GANNET_NET_WORKER_H

#include "net/conn.h"

#include <openssl/ssl.h>

/* Above every session's line and literal limit before login; see conn.c. */
#define CONN_READ_HIGH_WATERMARK (256 * 1024)

struct conn *conn_new(struct worker *w, int fd, SSL_CTX *implicit_tls);
void worker_conn_gone(struct conn *c);
struct event_base *worker_event_base(const struct worker *w);
/* The TLS context for STARTTLS on c's listener; NULL with ssl = no. */
SSL_CTX *worker_tls_context(const struct conn *c);

#endif

#ifndef GANNET_NET_WORKER_RUN
#define GANNET_NET_WORKER_RUN
#include "lib/shared-counter.h"
#include "net/privs.h"
#include "net/server.h"

/* A bound listening socket, made by the master and inherited by workers. */
struct listen_socket {
    int fd;
    const struct protocol *protocol;
    bool ssl;       /* implicit TLS */
    SSL_CTX *tls;   /* for implicit TLS or STARTTLS; NULL with ssl = no */
    char label[32]; /* "imaps" */
    char address[64];
    int port;
    char *path; /* a unix_listener's socket, removed when the master stops; else NULL */
};

/* The worker process: never returns. */
__attribute__((noreturn)) void worker_run(const struct settings *set, struct listen_socket *socks,
                                          size_t n_socks, struct shared_counters *counters,
                                          const struct server_hooks *hooks,
                                          const struct privs *privs);
#endif
