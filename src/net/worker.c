/* A worker process: one libevent loop holding many connections. */
#include "net/worker.h"

#include "lib/log.h"
#include "lib/netaddr.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define EXIT_CONFIG 78 /* sysexits' EX_CONFIG: the master does not restart us */

/* How long a stopping worker waits for its sessions to say goodbye. */
#define SHUTDOWN_GRACE_SECONDS 3

struct worker_listener {
    struct worker *worker;
    struct listen_socket *sock;
    struct evconnlistener *evl;
};

/* One per worker process, for its whole life. */
struct worker {
    struct event_base *base;
    const struct settings *set;
    struct shared_counters *counters;
    struct worker_listener *listeners;
    size_t n_listeners;
    struct conn *conns;
    unsigned n_conns;
    bool retiring; /* no new connections; exit when the last one ends */
    void *app;
};

void *conn_app(const struct conn *c)
{
    return c->worker->app;
}

struct event_base *worker_event_base(const struct worker *w)
{
    return w->base;
}

static const char prelogin_total_key[] = "prelogin:*";

static void prelogin_key(const struct conn *c, struct buf *key)
{
    buf_printf(key, "prelogin:%s", c->peer_ip);
}

static void prelogin_release(struct conn *c)
{
    if (!c->prelogin_counted)
        return;
    c->prelogin_counted = false;
    struct buf key = BUF_INIT;
    prelogin_key(c, &key);
    shared_counter_add(c->worker->counters, key.data, key.len, -1, 0);
    shared_counter_add(c->worker->counters, prelogin_total_key, sizeof(prelogin_total_key) - 1, -1,
                       0);
    buf_free(&key);
}

void conn_set_authenticated(struct conn *c)
{
    prelogin_release(c);
}

SSL_CTX *worker_tls_context(const struct conn *c)
{
    return c->listener_tls;
}

void worker_conn_gone(struct conn *c)
{
    struct worker *w = c->worker;
    prelogin_release(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->n_conns--;
    if (w->retiring && w->n_conns == 0)
        event_base_loopexit(w->base, NULL);
}

/* Counts the new connection against the limits for unauthenticated
 * connections; sets c->refused when one is exceeded. */
static void prelogin_admit(struct conn *c)
{
    const struct settings *set = c->settings;
    uint32_t now = (uint32_t)time(NULL);
    struct buf key = BUF_INIT;
    prelogin_key(c, &key);
    int32_t per_ip = shared_counter_add(c->worker->counters, key.data, key.len, 1, now);
    int32_t total = shared_counter_add(c->worker->counters, prelogin_total_key,
                                       sizeof(prelogin_total_key) - 1, 1, now);
    buf_free(&key);
    c->prelogin_counted = true;
    if (set->login_max_connections && total > (int32_t)set->login_max_connections) {
        c->refused = "Too many connections, try again later.";
        log_warning(c->id, "refused %s: %d unauthenticated connections (login_max_connections)",
                    c->peer_ip, total);
    } else if (set->login_max_connections_per_ip &&
               per_ip > (int32_t)set->login_max_connections_per_ip) {
        c->refused = "Too many connections from your address.";
        log_warning(c->id,
                    "refused %s: %d unauthenticated connections from it "
                    "(login_max_connections_per_ip)",
                    c->peer_ip, per_ip);
    }
}

static void make_conn_id(char *out, size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    size_t n = size - 1 < sizeof(rnd) ? size - 1 : sizeof(rnd);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] & 63];
    out[n] = '\0';
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)evl;
    (void)socklen;
    struct worker_listener *wl = arg;
    struct worker *w = wl->worker;
    struct listen_socket *ls = wl->sock;
    struct conn *c = conn_new(w, fd, ls->ssl ? ls->tls : NULL);
    c->listener_tls = ls->tls;
    c->settings = w->set;
    c->protocol = ls->protocol;
    make_conn_id(c->id, sizeof(c->id));
    memcpy(&c->peer, sa, (size_t)socklen < sizeof(c->peer) ? (size_t)socklen : sizeof(c->peer));
    netaddr_format(sa, c->peer_ip, sizeof(c->peer_ip), &c->peer_port);
    if (sa->sa_family == AF_UNIX)
        snprintf(c->peer_ip, sizeof(c->peer_ip), "unix");
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        netaddr_format((struct sockaddr *)&local, c->local_ip, sizeof(c->local_ip), &c->local_port);
    /* Only TLS makes a connection secure; loopback gets no exemption, only the
     * networks the administrator lists. */
    if (netaddr_in_networks(sa, w->set->login_trusted_networks))
        c->secured = true;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->n_conns++;
    if (!ls->protocol->no_login)
        prelogin_admit(c);
    log_debug(c->id, "%s connection from %s:%d to %s:%d (%s)", ls->label, c->peer_ip, c->peer_port,
              c->local_ip, c->local_port, c->tls ? "TLS" : "plaintext");
    ls->protocol->accept(c);
}

static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
    (void)evl;
    (void)arg;
    /* EMFILE and friends: log and keep listening; libevent retries. */
    log_error(NULL, "accept failed: %m");
}

static void stop_listening(struct worker *w)
{
    for (size_t i = 0; i < w->n_listeners; i++) {
        if (w->listeners[i].evl) {
            evconnlistener_free(w->listeners[i].evl);
            w->listeners[i].evl = NULL;
        }
    }
}

static void shutdown_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct worker *w = arg;
    stop_listening(w);
    w->retiring = true;
    for (struct conn *c = w->conns; c; c = c->next)
        if (!c->closing && c->ops && c->ops->shutdown)
            c->ops->shutdown(c);
    if (w->n_conns == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    struct timeval grace = {SHUTDOWN_GRACE_SECONDS, 0};
    event_base_loopexit(w->base, &grace);
}

/* SIGUSR2 from the master after a reload: newer workers take the new
 * connections; this one serves its sessions to their end. */
static void retire_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct worker *w = arg;
    stop_listening(w);
    w->retiring = true;
    if (w->n_conns == 0)
        event_base_loopexit(w->base, NULL);
}

void worker_run(const struct settings *set, struct listen_socket *socks, size_t n_socks,
                struct shared_counters *counters, const struct server_hooks *hooks,
                const struct privs *privs)
{
    log_set_process("worker");
    /* The master's signal mask and handlers are not ours. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    struct buf err = BUF_INIT;
    if (privs_drop(privs, &err) < 0) {
        log_error(NULL, "%s", buf_cstr(&err));
        _exit(EXIT_CONFIG);
    }
    struct worker w = {.set = set, .counters = counters};
    w.base = event_base_new();
    w.app = hooks->worker_init(w.base, set, counters);
    if (!w.app)
        _exit(EXIT_CONFIG);
    w.listeners = xcalloc(n_socks, sizeof(*w.listeners));
    w.n_listeners = n_socks;
    for (size_t i = 0; i < n_socks; i++) {
        w.listeners[i].worker = &w;
        w.listeners[i].sock = &socks[i];
        w.listeners[i].evl = evconnlistener_new(w.base, accept_cb, &w.listeners[i],
                                                LEV_OPT_CLOSE_ON_EXEC, -1, socks[i].fd);
        evconnlistener_set_error_cb(w.listeners[i].evl, accept_error_cb);
    }
    struct event *sigterm = evsignal_new(w.base, SIGTERM, shutdown_cb, &w);
    struct event *sigint = evsignal_new(w.base, SIGINT, shutdown_cb, &w);
    struct event *sigusr2 = evsignal_new(w.base, SIGUSR2, retire_cb, &w);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sigusr2, NULL);

    event_base_dispatch(w.base);

    if (hooks->worker_done)
        hooks->worker_done(w.app);
#ifdef __SANITIZE_ADDRESS__
    /* _exit skips LeakSanitizer's check at exit: what a session or its
     * store jobs left behind is reported (in the log) here */
    __lsan_do_recoverable_leak_check();
#endif
    _exit(0);
}
