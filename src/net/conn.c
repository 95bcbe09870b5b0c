#include "net/conn.h"

#include "lib/log.h"
#include "net/tls.h"
#include "net/worker.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <unistd.h>

/* Work that must not run inside a bufferevent callback of the same connection. */
enum deferred_work { DEFER_INPUT = 1, DEFER_STARTTLS = 2, DEFER_FREE = 4, DEFER_DRAINED = 8 };

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static void conn_schedule(struct conn *c, int work)
{
    c->deferred_work |= work;
    event_active(c->deferred, 0, 0);
}

static void conn_apply_timeout(struct conn *c)
{
    if (c->timeout_ms == 0) {
        bufferevent_set_timeouts(c->bev, NULL, NULL);
        return;
    }
    struct timeval tv = {.tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &tv, NULL);
}

static void conn_setup_bev(struct conn *c)
{
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* Bound what one client can make us buffer: the sessions' line and literal
     * limits are below this, so a session always can make progress. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIGH_WATERMARK);
    bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_LOW_WATERMARK, 0);
    conn_apply_timeout(c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void conn_free(struct conn *c)
{
    if (c->ops && c->ops->closed)
        c->ops->closed(c);
    c->ops = NULL;
    if (c->bev) {
        bufferevent_free(c->bev); /* a TLS bufferevent closes the socket itself */
        c->bev = NULL;
    }
    if (!c->tls && c->fd >= 0)
        close(c->fd);
    event_free(c->deferred);
    worker_conn_gone(c);
    free(c);
}

static void conn_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    int work = c->deferred_work;
    c->deferred_work = 0;
    if (work & DEFER_FREE) {
        conn_free(c);
        return;
    }
    if ((work & DEFER_STARTTLS) && c->starttls_pending &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        SSL *ssl = SSL_new(worker_tls_context(c));
        /* The plaintext bufferevent goes, and with it anything the client
         * pipelined after STARTTLS (the command injection of CVE-2011-0411). */
        bufferevent_free(c->bev);
        c->bev = bufferevent_openssl_socket_new(conn_event_base(c), c->fd, ssl,
                                                BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        c->tls = true;
        c->secured = true;
        c->starttls_pending = false;
        conn_setup_bev(c);
    }
    if ((work & DEFER_DRAINED) && !c->closing && c->want_drained &&
        conn_output_pending(c) <= CONN_OUTPUT_LOW_WATERMARK) {
        c->want_drained = false;
        c->ops->output_drained(c);
    }
    if ((work & DEFER_INPUT) && !c->closing && !c->input_paused && !c->starttls_pending &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        c->ops->input(c, bufferevent_get_input(c->bev));
}

struct conn *conn_new(struct worker *w, int fd, SSL_CTX *implicit_tls)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->worker = w;
    c->fd = fd;
    /* Responses are written whole, so Nagle's algorithm only adds a delayed-ACK
     * stall (about 40 ms) between the TLS handshake and the greeting. It fails
     * harmlessly on a Unix socket. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct event_base *base = worker_event_base(w);
    c->deferred = event_new(base, -1, 0, conn_deferred_cb, c);
    if (implicit_tls) {
        c->bev = bufferevent_openssl_socket_new(base, fd, SSL_new(implicit_tls),
                                                BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        c->tls = c->secured = c->tls_port = true;
    } else {
        c->bev = bufferevent_socket_new(base, fd, BEV_OPT_DEFER_CALLBACKS);
    }
    conn_setup_bev(c);
    return c;
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (c->closing || c->input_paused || c->starttls_pending)
        return;
    c->ops->input(c, bufferevent_get_input(c->bev));
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (c->starttls_pending)
        conn_schedule(c, DEFER_STARTTLS);
    else if (c->closing)
        conn_schedule(c, DEFER_FREE);
    else if (c->want_drained)
        conn_schedule(c, DEFER_DRAINED);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (ssl)
            log_debug(c->id, "TLS: %s, %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
        c->handshake_done = true;
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        /* Nothing can be said to a client that never finished the handshake. */
        if (c->closing || (c->tls && !c->handshake_done)) {
            c->closing = true;
            conn_schedule(c, DEFER_FREE);
        } else if (c->ops && c->ops->timeout) {
            c->ops->timeout(c);
        } else {
            conn_close(c);
        }
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        unsigned long e;
        bool tls_error = false;
        while ((e = bufferevent_get_openssl_error(bev)) != 0) {
            char reason[256];
            ERR_error_string_n(e, reason, sizeof(reason));
            if (!tls_error)
                log_info(c->id, "TLS handshake or read failed from %s: %s", c->peer_ip, reason);
            tls_error = true;
        }
    }
    /* EOF or error: the client is gone, nothing more can be written. */
    c->closing = true;
    conn_schedule(c, DEFER_FREE);
}

void conn_write(struct conn *c, const void *data, size_t len)
{
    if (c->bev && !c->closing)
        bufferevent_write(c->bev, data, len);
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
    if (!c->bev || c->closing)
        return;
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
    va_end(ap);
}

bool conn_write_file(struct conn *c, int fd, uint64_t offset, uint64_t len)
{
    if (!c->bev || c->closing || c->tls || len > INT64_MAX || offset > INT64_MAX)
        return false;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return false;
    struct evbuffer_file_segment *seg =
        evbuffer_file_segment_new(copy, (ev_off_t)offset, (ev_off_t)len, EVBUF_FS_CLOSE_ON_FREE);
    if (!seg) {
        close(copy);
        return false;
    }
    int r = evbuffer_add_file_segment(bufferevent_get_output(c->bev), seg, 0, (ev_off_t)len);
    /* the buffer holds its own reference while the bytes wait */
    evbuffer_file_segment_free(seg);
    return r == 0;
}

size_t conn_output_pending(const struct conn *c)
{
    return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

void conn_notify_drained(struct conn *c)
{
    c->want_drained = true;
    if (conn_output_pending(c) <= CONN_OUTPUT_LOW_WATERMARK)
        conn_schedule(c, DEFER_DRAINED);
}

struct evbuffer *conn_input(struct conn *c)
{
    return bufferevent_get_input(c->bev);
}

bool conn_can_starttls(const struct conn *c)
{
    return !c->tls && c->listener_tls != NULL;
}

void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
    if (conn_output_pending(c) == 0) {
        conn_schedule(c, DEFER_FREE);
        return;
    }
    /* Give a client that does not read at most a few seconds to take the rest. */
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    bufferevent_set_timeouts(c->bev, NULL, &tv);
}

bool conn_is_closing(const struct conn *c)
{
    return c->closing;
}

bool conn_starttls(struct conn *c)
{
    if (c->tls || !worker_tls_context(c))
        return false;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_disable(c->bev, EV_READ);
    c->starttls_pending = true;
    conn_schedule(c, DEFER_STARTTLS);
    return true;
}

void conn_pause_input(struct conn *c)
{
    c->input_paused = true;
}

void conn_resume_input(struct conn *c)
{
    c->input_paused = false;
    conn_schedule(c, DEFER_INPUT);
}

bool conn_input_blocked(const struct conn *c)
{
    return c->input_paused || c->starttls_pending;
}

void conn_set_timeout(struct conn *c, unsigned ms)
{
    c->timeout_ms = ms;
    if (c->bev && !c->closing)
        conn_apply_timeout(c);
}

struct event_base *conn_event_base(const struct conn *c)
{
    return worker_event_base(c->worker);
}
