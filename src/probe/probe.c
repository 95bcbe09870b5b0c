/* The engine of `gannet probe` (see probe.h): targets to ports, connections,
 * exchanges, and the order of the checks on each port's main connection. */
#include "probe/probe.h"

#include "lib/base64.h"
#include "lib-imap/imap-quote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#define GREETING_WAIT_MS 2000 /* a cleartext server speaks first within this */
#define SHORT_WAIT_MS 800     /* answers that may never come (empty line, injection) */
#define MAX_RESPONSE (64 * 1024)

enum expect_kind {
    EX_NONE,
    EX_LINE,       /* one line */
    EX_IMAP_TAG,   /* up to the tagged line, or a "+" continuation when allowed */
    EX_POP3_MULTI, /* "+OK" ... "." or one "-ERR" line (RFC 1939 §3) */
    EX_WAIT,       /* collect whatever arrives until the timer */
};

enum io_result {
    IO_OK,
    IO_TIMEOUT,
    IO_CLOSED,
    IO_CONNECTED,
    IO_CONNECT_FAIL,
    IO_TLS_OK,
    IO_TLS_FAIL
};

enum step {
    S_CONNECT,
    S_GREETING,
    S_CAPS,
    S_ID,
    S_BOGUS,
    S_EMPTY,
    S_NTLM1,
    S_NTLM2,
    S_NTLM3,
    S_USER,
    S_STARTTLS,
    S_STARTTLS_HANDSHAKE,
    S_INJECTION,
    S_THROTTLE_USER,
    S_THROTTLE,
    S_LOGIN_USER,
    S_LOGIN,
    S_LOGIN_CAPS,
    S_ANON1,
    S_ANON2,
    S_HTTP,
};

struct probe_run_private;

struct probe_port_private {
    struct probe_run_private *rp;
    struct bufferevent *bev;
    bool want_tls, legacy, handshaking, in_tls, closed, connecting;
    enum step step;
    enum expect_kind ex;
    char tag[16];
    bool allow_cont;
    bool secret; /* the bytes sent now carry the password: not traced */
    struct event *timer;
    struct buf rx, resp, sent;
    bool done_caps, done_id, done_bogus, done_empty, done_ntlm, done_user, done_http;
    int throttle_n;
    bool starttls_retry;   /* the injection attempt was refused: try STARTTLS alone */
    bool starttls_retried; /* ... and that is under way */
    struct timeval t_sent;
    struct timeval t_start;
    bool main_done, tls_pending, finished;
    char fake_user[40];
    struct buf tls_errors;
};

struct probe_run_private {
    struct probe_run *run;
    const struct probe_options *opt;
    struct event_base *base;
    SSL_CTX *modern, *legacy;
    struct sockaddr_storage source;
    socklen_t source_len;
    size_t next, active;
};

static void step(struct probe_port *p, enum io_result r);
static void plan(struct probe_port *p);

static double ms_since(const struct timeval *t)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (double)(now.tv_sec - t->tv_sec) * 1000.0 + (double)(now.tv_usec - t->tv_usec) / 1000.0;
}

static void trace(struct probe_port *p, const char *dir, const void *data, size_t len)
{
    if (!p->priv->rp->opt->trace)
        return;
    struct buf b = BUF_INIT;
    probe_escape(&b, data, len);
    fprintf(stderr, "[%s%s] %s %s\n", p->dest, p->priv->in_tls ? " tls" : "", dir, buf_cstr(&b));
    buf_free(&b);
}

/* ---- connections ---------------------------------------------------------- */

static void close_conn(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    if (x->bev) {
        bufferevent_free(x->bev);
        x->bev = NULL;
    }
    x->closed = true;
    x->in_tls = false;
    x->handshaking = false;
    evtimer_del(x->timer);
}

static void deliver(struct probe_port *p, enum io_result r)
{
    struct probe_port_private *x = p->priv;
    x->ex = EX_NONE;
    evtimer_del(x->timer);
    step(p, r);
}

static void arm(struct probe_port *p, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(p->priv->timer, &tv);
}

/* Moves the first n bytes of rx to resp. */
static void take(struct probe_port_private *x, size_t n)
{
    buf_reset(&x->resp);
    if (!x->rx.data)
        return;
    buf_append(&x->resp, x->rx.data, n);
    memmove(x->rx.data, x->rx.data + n, x->rx.len - n);
    x->rx.len -= n;
    x->rx.data[x->rx.len] = '\0';
}

static void check_complete(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    if (x->ex == EX_NONE || x->ex == EX_WAIT || x->rx.len == 0)
        return;
    size_t pos = 0;
    size_t tag_len = strlen(x->tag);
    while (pos < x->rx.len) {
        const char *line = x->rx.data + pos;
        const char *nl = memchr(line, '\n', x->rx.len - pos);
        if (!nl)
            break;
        size_t end = (size_t)(nl - x->rx.data) + 1;
        size_t n = end - pos;
        bool done = false;
        switch (x->ex) {
        case EX_LINE:
            done = true;
            break;
        case EX_IMAP_TAG:
            done = (n > tag_len && strncmp(line, x->tag, tag_len) == 0 && line[tag_len] == ' ') ||
                   (x->allow_cont && line[0] == '+');
            break;
        case EX_POP3_MULTI:
            done = (pos == 0 && strncmp(line, "+OK", 3) != 0) ||
                   (pos > 0 && (strncmp(line, ".\r\n", 3) == 0 || strncmp(line, ".\n", 2) == 0));
            break;
        default:
            break;
        }
        pos = end;
        if (done) {
            take(x, pos);
            deliver(p, IO_OK);
            return;
        }
    }
    if (x->rx.len > MAX_RESPONSE) {
        take(x, x->rx.len);
        close_conn(p);
        deliver(p, IO_CLOSED);
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct probe_port *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char tmp[4096];
    int n;
    while ((n = evbuffer_remove(in, tmp, sizeof(tmp))) > 0) {
        trace(p, "<", tmp, (size_t)n);
        buf_append(&p->priv->rx, tmp, (size_t)n);
    }
    check_complete(p);
}

static void collect_ssl_errors(struct probe_port_private *x)
{
    unsigned long e;
    while ((e = bufferevent_get_openssl_error(x->bev)) != 0) {
        char s[256];
        ERR_error_string_n(e, s, sizeof(s));
        if (x->tls_errors.len)
            buf_puts(&x->tls_errors, "; ");
        buf_puts(&x->tls_errors, s);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static bool start_tls(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    SSL *ssl = SSL_new(x->legacy ? x->rp->legacy : x->rp->modern);
    if (!ssl)
        return false;
    struct in6_addr a6;
    if (inet_pton(AF_INET, p->ep.host, &a6) != 1 && inet_pton(AF_INET6, p->ep.host, &a6) != 1)
        SSL_set_tlsext_host_name(ssl, p->ep.host);
    struct bufferevent *f = bufferevent_openssl_filter_new(
        x->rp->base, x->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!f) {
        SSL_free(ssl);
        return false;
    }
    x->bev = f;
    x->handshaking = true;
    bufferevent_setcb(f, read_cb, NULL, event_cb, p);
    bufferevent_enable(f, EV_READ | EV_WRITE);
    arm(p, x->rp->opt->timeout_ms);
    return true;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct probe_port *p = arg;
    struct probe_port_private *x = p->priv;
    if (what & BEV_EVENT_CONNECTED) {
        if (x->connecting) {
            x->connecting = false;
            struct sockaddr_storage local;
            socklen_t ll = sizeof(local);
            int fd = bufferevent_getfd(x->bev);
            if (fd >= 0 && getsockname(fd, (struct sockaddr *)&local, &ll) == 0) {
                char h[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
                char serv[8];
                if (getnameinfo((struct sockaddr *)&local, ll, h, sizeof(h), serv, sizeof(serv),
                                NI_NUMERICHOST | NI_NUMERICSERV) == 0)
                    snprintf(p->source, sizeof(p->source), "%s", h);
                if (getnameinfo((struct sockaddr *)&p->addr, p->addr_len, d, sizeof(d), NULL, 0,
                                NI_NUMERICHOST) == 0)
                    p->same_host = strcmp(h, d) == 0;
            }
            if (x->want_tls) {
                if (!start_tls(p)) {
                    close_conn(p);
                    deliver(p, IO_TLS_FAIL);
                }
                return;
            }
            deliver(p, IO_CONNECTED);
        } else if (x->handshaking) {
            x->handshaking = false;
            x->in_tls = true;
            deliver(p, IO_TLS_OK);
        }
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        bool was_connecting = x->connecting, was_handshaking = x->handshaking;
        if (was_handshaking)
            collect_ssl_errors(x);
        close_conn(p);
        if (was_connecting)
            deliver(p, IO_CONNECT_FAIL);
        else if (was_handshaking)
            deliver(p, IO_TLS_FAIL);
        else if (x->ex != EX_NONE) {
            take(x, x->rx.len);
            deliver(p, IO_CLOSED);
        }
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct probe_port *p = arg;
    struct probe_port_private *x = p->priv;
    if (x->connecting || x->handshaking) {
        bool was_connecting = x->connecting;
        close_conn(p);
        deliver(p, was_connecting ? IO_CONNECT_FAIL : IO_TLS_FAIL);
        return;
    }
    take(x, x->rx.len);
    deliver(p, x->closed ? IO_CLOSED : IO_TIMEOUT);
}

static void open_conn(struct probe_port *p, bool tls, bool legacy)
{
    struct probe_port_private *x = p->priv;
    close_conn(p);
    buf_reset(&x->rx);
    x->closed = false;
    x->want_tls = tls;
    x->legacy = legacy;
    x->connecting = true;
    x->step = S_CONNECT;
    int fd = socket(p->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || evutil_make_socket_nonblocking(fd) < 0 ||
        (x->rp->source_len && x->rp->source.ss_family == p->addr.ss_family &&
         bind(fd, (struct sockaddr *)&x->rp->source, x->rp->source_len) < 0)) {
        snprintf(p->error, sizeof(p->error), "socket/bind: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        x->connecting = false;
        x->closed = true;
        event_active(x->timer, EV_TIMEOUT, 0);
        return;
    }
    x->bev = bufferevent_socket_new(x->rp->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(x->bev, read_cb, NULL, event_cb, p);
    bufferevent_enable(x->bev, EV_READ | EV_WRITE);
    arm(p, x->rp->opt->timeout_ms);
    if (bufferevent_socket_connect(x->bev, (struct sockaddr *)&p->addr, (int)p->addr_len) < 0) {
        snprintf(p->error, sizeof(p->error), "connect: %s", strerror(errno));
        close_conn(p);
        x->connecting = true; /* the timer reports IO_CONNECT_FAIL */
        event_active(x->timer, EV_TIMEOUT, 0);
    }
}

/* Sends s and waits for the answer of the given kind. */
static void exchange(struct probe_port *p, enum step st, const char *s, size_t len,
                     enum expect_kind ex, const char *tag, bool allow_cont, unsigned ms)
{
    struct probe_port_private *x = p->priv;
    x->step = st;
    x->ex = ex;
    snprintf(x->tag, sizeof(x->tag), "%s", tag ? tag : "");
    x->allow_cont = allow_cont;
    buf_reset(&x->sent);
    if (len && x->secret) {
        buf_puts(&x->sent, "(credentials not shown)");
        trace(p, ">", "(credentials not shown)", strlen("(credentials not shown)"));
    } else if (len) {
        probe_escape(&x->sent, s, len);
        trace(p, ">", s, len);
    }
    x->secret = false;
    gettimeofday(&x->t_sent, NULL);
    if (x->closed || !x->bev) {
        event_active(x->timer, EV_TIMEOUT, 0);
        return;
    }
    if (len)
        bufferevent_write(x->bev, s, len);
    arm(p, ms ? ms : x->rp->opt->timeout_ms);
    check_complete(p);
}

static void send_cmd(struct probe_port *p, enum step st, const char *s, enum expect_kind ex,
                     const char *tag, bool allow_cont, unsigned ms)
{
    exchange(p, st, s, strlen(s), ex, tag, allow_cont, ms);
}

/* "> sent\n< received" into the port's evidence slot. */
static void keep_evidence(struct probe_port *p, enum probe_evidence e)
{
    struct probe_port_private *x = p->priv;
    struct buf *b = &p->evidence[e];
    if (x->sent.len)
        buf_printf(b, "%s> %s\n", b->len && b->data[b->len - 1] != '\n' ? "\n" : "",
                   buf_cstr(&x->sent));
    if (x->resp.len) {
        buf_puts(b, "< ");
        probe_escape(b, x->resp.data, x->resp.len);
        buf_putc(b, '\n');
    }
}

/* ---- the checks, in order --------------------------------------------------- */

static bool is_imap(const struct probe_port *p)
{
    return p->proto == PROBE_PROTO_IMAP;
}

static bool has_mech(const struct probe_port *p, const char *m)
{
    return probe_strlist_has(p->have_caps_tls ? &p->sasl_tls : &p->sasl, m);
}

static void port_finish_main(struct probe_port *p);
static void tls_done(struct probe_port *p);

/* True when the response has the line "TAG STATUS ..." (IMAP), or starts with
 * STATUS (POP3, tag NULL). */
static bool answer_is(const struct buf *resp, const char *tag, const char *status)
{
    if (!tag)
        return strncmp(buf_cstr(resp), status, strlen(status)) == 0;
    return probe_imap_has_status(buf_cstr(resp), resp->len, tag, status);
}

static void maybe_start_tls_scan(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    if (p->tls_scanned || x->tls_pending)
        return;
    if (x->rp->opt->no_tls_scan) {
        snprintf(p->tls_skip_reason, sizeof(p->tls_skip_reason), "--no-tls-scan");
        return;
    }
    if (probe_tls_start(p, x->rp->base, x->rp->opt,
                        x->rp->source_len ? (struct sockaddr *)&x->rp->source : NULL,
                        x->rp->source_len, tls_done))
        x->tls_pending = true;
}

static void on_greeting(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    if (x->starttls_retry) {
        plan(p); /* the second connection: everything before STARTTLS is known */
        return;
    }
    buf_reset(&p->greeting);
    buf_append(&p->greeting, x->resp.data, x->resp.len);
    keep_evidence(p, EV_GREETING);
    const char *g = buf_cstr(&p->greeting);
    if (p->proto == PROBE_PROTO_UNKNOWN)
        p->proto = (g[0] == '*') ? PROBE_PROTO_IMAP : PROBE_PROTO_POP3;
    p->transport = x->in_tls ? "implicit-tls" : "cleartext";
    if (!is_imap(p))
        p->have_apop = probe_apop_parse(g, p->greeting.len, &p->apop);
    else if (probe_imap_parse_caps(g, p->greeting.len, NULL, &p->caps, NULL))
        p->have_caps = true;
    if (strncmp(g, "* BYE", 5) == 0 || strncmp(g, "-ERR", 4) == 0) {
        snprintf(p->error, sizeof(p->error), "the server refused the connection");
        port_finish_main(p);
        return;
    }
    plan(p);
}

static void imap_fake_login(struct probe_port *p, enum step st, const char *tag, const char *user,
                            const char *password)
{
    struct buf c = BUF_INIT;
    buf_printf(&c, "%s LOGIN ", tag);
    imap_quote(&c, user, strlen(user));
    buf_putc(&c, ' ');
    imap_quote(&c, password, strlen(password));
    buf_puts(&c, "\r\n");
    exchange(p, st, c.data, c.len, EX_IMAP_TAG, tag, false, 0);
    buf_free(&c);
}

static void plan(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    const struct probe_options *o = x->rp->opt;
    bool imap = is_imap(p);
    if (!x->done_caps) {
        if (imap)
            send_cmd(p, S_CAPS, "a1 CAPABILITY\r\n", EX_IMAP_TAG, "a1", false, 0);
        else
            send_cmd(p, S_CAPS, "CAPA\r\n", EX_POP3_MULTI, NULL, false, 0);
        return;
    }
    if (imap && !x->done_id) {
        send_cmd(p, S_ID, "a2 ID (\"name\" \"gannet-probe\")\r\n", EX_IMAP_TAG, "a2", false, 0);
        return;
    }
    if (!x->done_bogus) {
        if (imap)
            send_cmd(p, S_BOGUS, "a3 GANNET-BOGUS\r\n", EX_IMAP_TAG, "a3", false, 0);
        else
            send_cmd(p, S_BOGUS, "GANNET-BOGUS\r\n", EX_LINE, NULL, false, 0);
        return;
    }
    if (!x->done_user && !imap && !x->in_tls) {
        struct buf c = BUF_INIT;
        buf_printf(&c, "USER %s\r\n", x->fake_user);
        exchange(p, S_USER, c.data, c.len, EX_LINE, NULL, false, 0);
        buf_free(&c);
        return;
    }
    if (!x->done_ntlm && has_mech(p, "NTLM")) {
        x->done_ntlm = true;
        if (imap)
            send_cmd(p, S_NTLM1, "a4 AUTHENTICATE NTLM\r\n", EX_IMAP_TAG, "a4", true, 0);
        else
            send_cmd(p, S_NTLM1, "AUTH NTLM\r\n", EX_LINE, NULL, false, 0);
        return;
    }
    if (!x->in_tls && p->starttls_offered && !p->starttls_tried) {
        p->starttls_tried = true;
        /* The injection test (CVE-2011-0411 and its IMAP/POP3 siblings): a
         * command pipelined behind STARTTLS must not be answered inside TLS. */
        if (imap)
            send_cmd(p, S_STARTTLS, "a5 STARTTLS\r\na6 NOOP\r\n", EX_IMAP_TAG, "a5", false, 0);
        else
            send_cmd(p, S_STARTTLS, "STLS\r\nCAPA\r\n", EX_LINE, NULL, false, 0);
        return;
    }
    if (!x->in_tls && p->starttls_offered && x->starttls_retry && !x->starttls_retried) {
        x->starttls_retried = true;
        send_cmd(p, S_STARTTLS, imap ? "a5 STARTTLS\r\n" : "STLS\r\n", imap ? EX_IMAP_TAG : EX_LINE,
                 imap ? "a5" : NULL, false, 0);
        return;
    }
    if (x->in_tls && !p->have_caps_tls && p->transport && strcmp(p->transport, "cleartext") == 0) {
        if (imap)
            send_cmd(p, S_CAPS, "a7 CAPABILITY\r\n", EX_IMAP_TAG, "a7", false, 0);
        else
            send_cmd(p, S_CAPS, "CAPA\r\n", EX_POP3_MULTI, NULL, false, 0);
        return;
    }
    if (o->intrusive && !p->anon_tested && !p->login_ok && has_mech(p, "ANONYMOUS")) {
        p->anon_tested = true;
        if (imap)
            send_cmd(p, S_ANON1, "n1 AUTHENTICATE ANONYMOUS\r\n", EX_IMAP_TAG, "n1", true, 0);
        else
            send_cmd(p, S_ANON1, "AUTH ANONYMOUS\r\n", EX_LINE, NULL, false, 0);
        return;
    }
    if (o->intrusive && x->in_tls && !p->throttle_tested && !p->anon_ok) {
        if (imap) {
            char tag[16];
            snprintf(tag, sizeof(tag), "t%d", x->throttle_n + 1);
            imap_fake_login(p, S_THROTTLE, tag, x->fake_user, "gannet-probe-wrong");
        } else {
            struct buf c = BUF_INIT;
            buf_printf(&c, "USER %s\r\n", x->fake_user);
            exchange(p, S_THROTTLE_USER, c.data, c.len, EX_LINE, NULL, false, 0);
            buf_free(&c);
        }
        return;
    }
    if (o->user && o->password && x->in_tls && !p->login_tested && !p->anon_ok) {
        p->login_tested = true;
        if (imap) {
            x->secret = true; /* the password is neither evidence nor traced */
            imap_fake_login(p, S_LOGIN, "l1", o->user, o->password);
        } else {
            struct buf c = BUF_INIT;
            buf_printf(&c, "USER %s\r\n", o->user);
            exchange(p, S_LOGIN_USER, c.data, c.len, EX_LINE, NULL, false, 0);
            buf_free(&c);
        }
        return;
    }
    /* Last but one: an answer to an empty line may never come, or come late;
     * here a late one can only be taken for the answer to GET. */
    if (!x->done_empty) {
        send_cmd(p, S_EMPTY, "\r\n", EX_LINE, NULL, false, SHORT_WAIT_MS);
        return;
    }
    if (!x->done_http) {
        x->done_http = true;
        send_cmd(p, S_HTTP, "GET / HTTP/1.0\r\n\r\n", EX_LINE, NULL, false, SHORT_WAIT_MS);
        return;
    }
    port_finish_main(p);
}

static void got_caps(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    bool tls_phase = x->done_caps; /* the second CAPABILITY is the one after STARTTLS */
    struct probe_strlist *caps = tls_phase ? &p->caps_tls : &p->caps;
    bool ok;
    if (is_imap(p))
        ok = probe_imap_parse_caps(x->resp.data, x->resp.len, tls_phase ? "a7" : "a1", caps,
                                   tls_phase ? NULL : &p->caps_ok_text);
    else
        ok = probe_pop3_parse_capa(x->resp.data, x->resp.len, caps);
    keep_evidence(p, tls_phase ? EV_CAPS_TLS : EV_CAPS);
    if (tls_phase) {
        p->have_caps_tls = ok;
        probe_sasl_mechanisms(caps, !is_imap(p), &p->sasl_tls);
        return;
    }
    x->done_caps = true;
    if (ok || p->have_caps)
        p->have_caps = true;
    probe_sasl_mechanisms(caps, !is_imap(p), &p->sasl);
    p->starttls_offered = !x->in_tls && probe_strlist_has(caps, is_imap(p) ? "STARTTLS" : "STLS");
    maybe_start_tls_scan(p);
}

static void ntlm_challenge(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    const char *r = buf_cstr(&x->resp);
    if (r[0] != '+')
        return;
    const char *b64 = r + 1;
    while (*b64 == ' ')
        b64++;
    size_t n = strcspn(b64, "\r\n");
    struct buf raw = BUF_INIT;
    if (base64_decode(b64, n, &raw) &&
        probe_ntlm_decode_challenge((const unsigned char *)raw.data, raw.len, &p->ntlm)) {
        p->have_ntlm = true;
        p->ntlm_received = time(NULL);
    }
    buf_free(&raw);
}

static void step(struct probe_port *p, enum io_result r)
{
    struct probe_port_private *x = p->priv;
    bool imap = is_imap(p);
    const char *resp = buf_cstr(&x->resp);
    switch (x->step) {
    case S_CONNECT:
        if (r == IO_CONNECTED) {
            /* Cleartext servers speak first (RFC 9051 §7.1, RFC 1939 §4). */
            x->step = S_GREETING;
            x->ex = EX_LINE;
            arm(p, p->ep.tls == PROBE_TLS_PLAIN ? x->rp->opt->timeout_ms : GREETING_WAIT_MS);
            check_complete(p);
        } else if (r == IO_TLS_OK) {
            x->step = S_GREETING;
            x->ex = EX_LINE;
            arm(p, x->rp->opt->timeout_ms);
            check_complete(p);
        } else if (r == IO_TLS_FAIL && !x->legacy) {
            open_conn(p, true, true);
        } else {
            if (!p->error[0])
                snprintf(p->error, sizeof(p->error), "%s%s",
                         r == IO_TLS_FAIL ? "no greeting, and no TLS handshake: "
                                          : "cannot connect",
                         r == IO_TLS_FAIL ? buf_cstr(&x->tls_errors) : "");
            port_finish_main(p);
        }
        return;
    case S_GREETING:
        if (r == IO_OK) {
            p->tls_legacy_only = x->in_tls && x->legacy;
            on_greeting(p);
        } else if (!x->in_tls && p->ep.tls != PROBE_TLS_PLAIN) {
            open_conn(p, true, false); /* silent: try implicit TLS */
        } else {
            snprintf(p->error, sizeof(p->error), "no greeting%s", x->in_tls ? " inside TLS" : "");
            port_finish_main(p);
        }
        return;
    case S_CAPS:
        got_caps(p);
        break;
    case S_ID:
        x->done_id = true;
        keep_evidence(p, EV_ID);
        p->have_id = probe_imap_parse_id(x->resp.data, x->resp.len, &p->id);
        break;
    case S_BOGUS:
        x->done_bogus = true;
        keep_evidence(p, EV_BOGUS);
        p->have_bogus = x->resp.len > 0;
        buf_append(&p->bogus, x->resp.data, x->resp.len);
        break;
    case S_EMPTY:
        x->done_empty = true;
        keep_evidence(p, EV_EMPTY);
        p->have_empty = x->resp.len > 0;
        buf_append(&p->empty, x->resp.data, x->resp.len);
        break;
    case S_USER:
        x->done_user = true;
        keep_evidence(p, EV_USER);
        p->user_accepted_pre_tls = r == IO_OK && strncmp(resp, "+OK", 3) == 0;
        break;
    case S_NTLM1:
        keep_evidence(p, EV_NTLM);
        if (r == IO_OK && resp[0] == '+') {
            struct buf m = BUF_INIT, c = BUF_INIT;
            probe_ntlm_negotiate(&m);
            base64_encode(m.data, m.len, &c);
            buf_puts(&c, "\r\n");
            exchange(p, S_NTLM2, c.data, c.len, imap ? EX_IMAP_TAG : EX_LINE, "a4", true, 0);
            buf_free(&m);
            buf_free(&c);
            return;
        }
        break;
    case S_NTLM2:
        keep_evidence(p, EV_NTLM);
        if (r == IO_OK && resp[0] == '+') {
            ntlm_challenge(p);
            /* Cancel the exchange (RFC 9051 §6.2.2, RFC 5034 §4). */
            send_cmd(p, S_NTLM3, "*\r\n", imap ? EX_IMAP_TAG : EX_LINE, "a4", false, 0);
            return;
        }
        break;
    case S_NTLM3:
        keep_evidence(p, EV_NTLM);
        break;
    case S_STARTTLS:
        keep_evidence(p, EV_STARTTLS);
        if (r == IO_OK && answer_is(&x->resp, imap ? "a5" : NULL, imap ? "OK" : "+OK")) {
            /* Whatever came in clear after the OK is not the server's answer
             * inside TLS; it is dropped, as the server must drop ours. */
            buf_reset(&x->rx);
            x->step = S_STARTTLS_HANDSHAKE;
            if (!start_tls(p)) {
                close_conn(p);
                port_finish_main(p);
            }
            return;
        }
        if (r == IO_CLOSED && !x->starttls_retry) {
            p->injection_tested = true; /* closed on the pipelined command: safe */
            p->injection = false;
            buf_printf(&p->evidence[EV_INJECTION],
                       "> %s\n(closed; STARTTLS alone is tried again)\n",
                       buf_cstr(&p->evidence[EV_STARTTLS]));
            x->starttls_retry = true;
            open_conn(p, false, false);
            return;
        }
        break;
    case S_STARTTLS_HANDSHAKE:
        if (r != IO_TLS_OK && !x->starttls_retry) {
            /* Refusing the handshake (or closing) when a command came with
             * STARTTLS is safe (Dovecot feeds it to TLS and fails): note it,
             * and try STARTTLS alone on a new connection. */
            p->injection_tested = true;
            p->injection = false;
            buf_printf(&p->evidence[EV_INJECTION],
                       "> %s\n(the TLS handshake failed: %s; STARTTLS alone is tried on a new "
                       "connection)\n",
                       buf_cstr(&p->evidence[EV_STARTTLS]), buf_cstr(&x->tls_errors));
            buf_reset(&x->tls_errors);
            x->starttls_retry = true;
            open_conn(p, false, false);
            return;
        }
        if (r != IO_TLS_OK) {
            snprintf(p->error, sizeof(p->error), "STARTTLS handshake failed: %s",
                     buf_cstr(&x->tls_errors));
            p->starttls_ok = false;
            port_finish_main(p);
            return;
        }
        p->starttls_ok = true;
        if (x->starttls_retried) {
            plan(p);
            return;
        }
        /* Anything the server says now, before we say anything inside TLS,
         * answers the command pipelined with STARTTLS. */
        buf_reset(&x->sent);
        x->step = S_INJECTION;
        x->ex = EX_WAIT;
        arm(p, SHORT_WAIT_MS);
        return;
    case S_INJECTION:
        p->injection_tested = true;
        buf_printf(&p->evidence[EV_INJECTION], "> %s\n(TLS handshake, then %u ms of listening)\n",
                   buf_cstr(&p->evidence[EV_STARTTLS]), SHORT_WAIT_MS);
        keep_evidence(p, EV_INJECTION);
        if (!x->resp.len)
            buf_puts(&p->evidence[EV_INJECTION], "< (nothing)\n");
        p->injection = x->resp.len > 0;
        if (r == IO_CLOSED) {
            port_finish_main(p);
            return;
        }
        break;
    case S_THROTTLE_USER: {
        struct buf c = BUF_INIT;
        buf_puts(&c, "PASS gannet-probe-wrong\r\n");
        exchange(p, S_THROTTLE, c.data, c.len, EX_LINE, NULL, false, 0);
        buf_free(&c);
        return;
    }
    case S_THROTTLE: {
        double ms = ms_since(&x->t_sent);
        keep_evidence(p, EV_THROTTLE);
        if (r == IO_OK && !answer_is(&x->resp, imap ? x->tag : NULL, imap ? "NO" : "-ERR")) {
            /* Not a failed login (BAD, an OK, ...): no conclusion. */
            p->throttle_tested = true;
            p->throttle_unclear = true;
            break;
        }
        p->throttle_ms[x->throttle_n++] = ms;
        if (r != IO_OK || ms >= 1000.0) {
            p->throttled = true; /* slowed down or cut off */
            p->throttle_tested = true;
            if (r != IO_OK) {
                port_finish_main(p);
                return;
            }
        } else if (x->throttle_n >= 3)
            p->throttle_tested = true;
        break;
    }
    case S_LOGIN_USER: {
        struct buf c = BUF_INIT;
        buf_printf(&c, "PASS %s\r\n", x->rp->opt->password);
        x->secret = true;
        exchange(p, S_LOGIN, c.data, c.len, EX_LINE, NULL, false, 0);
        buf_free_secret(&c);
        return;
    }
    case S_LOGIN:
        keep_evidence(p, EV_LOGIN);
        p->login_ok = r == IO_OK && answer_is(&x->resp, imap ? "l1" : NULL, imap ? "OK" : "+OK");
        if (p->login_ok) {
            if (imap)
                send_cmd(p, S_LOGIN_CAPS, "l2 CAPABILITY\r\n", EX_IMAP_TAG, "l2", false, 0);
            else
                send_cmd(p, S_LOGIN_CAPS, "CAPA\r\n", EX_POP3_MULTI, NULL, false, 0);
            return;
        }
        break;
    case S_LOGIN_CAPS:
        if (imap)
            p->have_caps_login =
                probe_imap_parse_caps(x->resp.data, x->resp.len, "l2", &p->caps_login, NULL);
        else
            p->have_caps_login = probe_pop3_parse_capa(x->resp.data, x->resp.len, &p->caps_login);
        break;
    case S_ANON1:
        keep_evidence(p, EV_ANON);
        if (r == IO_OK && resp[0] == '+') {
            struct buf c = BUF_INIT;
            base64_encode("gannet-probe", strlen("gannet-probe"), &c);
            buf_puts(&c, "\r\n");
            exchange(p, S_ANON2, c.data, c.len, imap ? EX_IMAP_TAG : EX_LINE, "n1", false, 0);
            buf_free(&c);
            return;
        }
        break;
    case S_ANON2:
        keep_evidence(p, EV_ANON);
        /* POP3 "-ERR [IN-USE]": authenticated, but the maildrop is locked
         * (RFC 2449 §8.1.2). */
        p->anon_ok = r == IO_OK && (answer_is(&x->resp, imap ? "n1" : NULL, imap ? "OK" : "+OK") ||
                                    (!imap && answer_is(&x->resp, NULL, "-ERR [IN-USE]")));
        break;
    case S_HTTP:
        keep_evidence(p, EV_HTTP);
        p->have_http = x->resp.len > 0;
        buf_append(&p->http, x->resp.data, x->resp.len);
        break;
    }
    if (r == IO_TIMEOUT && x->step != S_EMPTY && x->step != S_HTTP && x->step != S_INJECTION) {
        /* A late answer would be taken for the next one: stop here. */
        if (!p->error[0])
            snprintf(p->error, sizeof(p->error), "no answer within %u ms to: %s",
                     x->rp->opt->timeout_ms, buf_cstr(&x->sent));
        port_finish_main(p);
        return;
    }
    if (r == IO_CLOSED && x->step != S_HTTP) {
        /* The server hung up: what is left cannot be checked on this connection. */
        port_finish_main(p);
        return;
    }
    plan(p);
}

/* ---- ports, the loop ------------------------------------------------------ */

static void start_next(struct probe_run_private *rp);

static void port_finished(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    if (x->finished || !x->main_done || x->tls_pending)
        return;
    x->finished = true;
    p->seconds = ms_since(&x->t_start) / 1000.0;
    x->rp->active--;
    start_next(x->rp);
}

static void port_finish_main(struct probe_port *p)
{
    struct probe_port_private *x = p->priv;
    close_conn(p);
    x->ex = EX_NONE;
    x->main_done = true;
    port_finished(p);
}

static void tls_done(struct probe_port *p)
{
    p->priv->tls_pending = false;
    p->tls_scanned = true;
    port_finished(p);
}

static void start_next(struct probe_run_private *rp)
{
    while (rp->active < rp->opt->concurrency && rp->next < rp->run->n_ports) {
        struct probe_port *p = &rp->run->ports[rp->next++];
        rp->active++;
        gettimeofday(&p->priv->t_start, NULL);
        open_conn(p, p->ep.tls == PROBE_TLS_IMPLICIT, false);
    }
}

static SSL_CTX *client_ctx(bool legacy)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the certificate is tls-scan's job */
    if (legacy) {
        SSL_CTX_set_min_proto_version(ctx, 0);
        SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
        SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT);
    }
    return ctx;
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *out, socklen_t *len,
                   bool passive)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
    struct addrinfo *res = NULL;
    char serv[8];
    snprintf(serv, sizeof(serv), "%u", port);
    int rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0)
        return rc;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int probe_run(struct probe_run *run, const struct probe_options *opt, char **targets,
              size_t n_targets)
{
    memset(run, 0, sizeof(*run));
    run->opt = opt;
    run->targets = targets;
    run->n_targets = n_targets;
    struct probe_run_private rp = {.run = run, .opt = opt};
    if (opt->source) {
        int rc = resolve(opt->source, 0, &rp.source, &rp.source_len, true);
        if (rc != 0) {
            fprintf(stderr, "gannet probe: --source %s: %s\n", opt->source, gai_strerror(rc));
            return -1;
        }
    }
    for (size_t t = 0; t < n_targets; t++) {
        struct probe_endpoint eps[PROBE_MAX_ENDPOINTS_PER_TARGET];
        char err[256];
        int n = probe_target_parse(targets[t], eps, err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, "gannet probe: %s\n", err);
            probe_run_free(run);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct sockaddr_storage addr;
            socklen_t alen;
            int rc = resolve(eps[i].host, eps[i].port, &addr, &alen, false);
            if (rc != 0) {
                fprintf(stderr, "gannet probe: %s: %s\n", eps[i].host, gai_strerror(rc));
                probe_run_free(run);
                return -1;
            }
            run->ports = xrealloc(run->ports, (run->n_ports + 1) * sizeof(*run->ports));
            struct probe_port *p = &run->ports[run->n_ports++];
            memset(p, 0, sizeof(*p));
            p->ep = eps[i];
            p->proto = eps[i].proto;
            p->addr = addr;
            p->addr_len = alen;
            char h[INET6_ADDRSTRLEN] = "?";
            getnameinfo((struct sockaddr *)&addr, alen, h, sizeof(h), NULL, 0, NI_NUMERICHOST);
            snprintf(p->dest, sizeof(p->dest), addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", h,
                     eps[i].port);
        }
    }
    rp.base = event_base_new();
    rp.modern = client_ctx(false);
    rp.legacy = client_ctx(true);
    if (!rp.base || !rp.modern || !rp.legacy) {
        fprintf(stderr, "gannet probe: cannot set up the event loop or TLS\n");
        return -1;
    }
    unsigned rnd = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (size_t i = 0; i < run->n_ports; i++) {
        struct probe_port *p = &run->ports[i];
        p->priv = xcalloc(1, sizeof(*p->priv));
        p->priv->rp = &rp;
        p->priv->timer = evtimer_new(rp.base, timer_cb, p);
        snprintf(p->priv->fake_user, sizeof(p->priv->fake_user), "probe-nonexistent-%04x",
                 (rnd + (unsigned)i * 7919u) & 0xffffu);
    }
    struct timeval t0;
    gettimeofday(&t0, NULL);
    run->started = time(NULL);
    start_next(&rp);
    event_base_dispatch(rp.base);
    run->seconds = ms_since(&t0) / 1000.0;
    for (size_t i = 0; i < run->n_ports; i++) {
        struct probe_port *p = &run->ports[i];
        struct probe_port_private *x = p->priv;
        close_conn(p);
        event_free(x->timer);
        buf_free(&x->rx);
        buf_free(&x->resp);
        buf_free(&x->sent);
        buf_free(&x->tls_errors);
        free(x);
        p->priv = NULL;
        probe_port_checks(p, opt);
    }
    SSL_CTX_free(rp.modern);
    SSL_CTX_free(rp.legacy);
    event_base_free(rp.base);
    return 0;
}

void probe_run_free(struct probe_run *run)
{
    for (size_t i = 0; i < run->n_ports; i++) {
        struct probe_port *p = &run->ports[i];
        buf_free(&p->greeting);
        probe_strlist_free(&p->caps);
        probe_strlist_free(&p->caps_tls);
        probe_strlist_free(&p->caps_login);
        probe_strlist_free(&p->sasl);
        probe_strlist_free(&p->sasl_tls);
        probe_strlist_free(&p->id);
        buf_free(&p->caps_ok_text);
        buf_free(&p->bogus);
        buf_free(&p->empty);
        buf_free(&p->http);
        for (size_t m = 0; m < p->n_matches; m++)
            probe_match_free(&p->matches[m]);
        probe_tls_free(p);
        probe_findings_free(&p->findings);
        for (int e = 0; e < EV_COUNT; e++)
            buf_free(&p->evidence[e]);
    }
    free(run->ports);
    run->ports = NULL;
    run->n_ports = 0;
}
