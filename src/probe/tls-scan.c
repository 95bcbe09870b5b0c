/* TLS inspection for `gannet probe` (issue 4, point 7). Every question is one
 * TCP connection with a client SSL_CTX made for that question alone: a version
 * offered alone, a cipher list with the suites already seen removed, one key
 * exchange group, one ALPN protocol, an unrelated SNI name. Connections run on
 * the caller's event_base, at most `concurrency` at once; the clear-text
 * STARTTLS (RFC 9051 §6.2.1) or STLS (RFC 2595 §4) part is done by hand, then
 * the handshake is driven with SSL_do_handshake on the same socket.
 *
 * The scan moves through phases, each started when the previous one has no
 * connection left: (0) versions, groups, ALPN, SNI, all independent;
 * (1) cipher enumeration for each version found; (2) server preference,
 * which needs two accepted suites; then the done callback, once. */
#include "probe/tls-scan.h"

#include "lib/buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Bounds on what a server may make us hold or do. */
#define PREAMBLE_MAX_BYTES 16384   /* greeting and STARTTLS answer together */
#define MAX_SUITES_PER_VERSION 400 /* OpenSSL knows fewer; stops a loop */
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_CONCURRENCY 4
#define RETRY_DELAY_MS 300

/* RFC 6761 §6.4: ".invalid" never resolves, so no real certificate names it. */
#define UNRELATED_SNI "unrelated.invalid"

/* "ALL" leaves out the NULL and anonymous suites; COMPLEMENTOFALL adds them
 * back. Security level 0 lets OpenSSL 3 offer what it would otherwise drop
 * (TLS 1.0/1.1, SHA-1, RC4, 3DES): we ask, we do not use. */
#define EVERY_SUITE "ALL:COMPLEMENTOFALL"
#define SECLEVEL0 ":@SECLEVEL=0"

static const int version_codes[TLS_V_COUNT] = {SSL3_VERSION, TLS1_VERSION, TLS1_1_VERSION,
                                               TLS1_2_VERSION, TLS1_3_VERSION};

/* RFC 8446 §B.4: every TLS 1.3 suite. */
static const char *const tls13_suites[] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",   "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
};
#define N_TLS13_SUITES (sizeof tls13_suites / sizeof tls13_suites[0])

/* RFC 8446 §4.2.7 and RFC 7919 names, as SSL_CTX_set1_groups_list takes them. */
static const struct {
    const char *name;
    int nid;
} scan_groups[] = {
    {"x25519", NID_X25519},       {"x448", NID_X448},           {"secp256r1", NID_X9_62_prime256v1},
    {"secp384r1", NID_secp384r1}, {"secp521r1", NID_secp521r1}, {"ffdhe2048", NID_ffdhe2048},
    {"ffdhe3072", NID_ffdhe3072}, {"ffdhe4096", NID_ffdhe4096}, {"ffdhe6144", NID_ffdhe6144},
    {"ffdhe8192", NID_ffdhe8192},
};
#define N_SCAN_GROUPS (sizeof scan_groups / sizeof scan_groups[0])

enum job_kind { JOB_VERSION, JOB_CIPHER, JOB_PREFERENCE, JOB_GROUP, JOB_ALPN, JOB_SNI };
enum alpn_kind { ALPN_HTTP, ALPN_OTHER, ALPN_OWN };

/* How one connection ended: a completed handshake, a handshake the server
 * refused (alert or close during it), or anything else (connect, preamble,
 * timeout), which says nothing about TLS. */
enum outcome { OUT_OK, OUT_REFUSED, OUT_ERROR };

enum conn_state { ST_CONNECTING, ST_GREETING, ST_REPLY, ST_HANDSHAKE };

struct scan;

/* One question, and the connection of its current attempt. Owned by the scan:
 * in its queue, or counted in scan->active while connected. */
struct job {
    struct scan *scan;
    struct job *next;
    enum job_kind kind;
    int vi;     /* version index (versions, ciphers, preference) */
    size_t arg; /* group index, alpn_kind, preference order */
    unsigned attempt;

    size_t id; /* connection number, for --trace */
    int fd;
    enum conn_state state;
    SSL_CTX *ctx;
    SSL *ssl;
    struct event *ev_read, *ev_write, *ev_timer;
    struct buf rx;
    bool deferred; /* failed before the loop ran: report from the timer */
    char error[200];
};

/* Owns its copies of the target's strings and the result until done(). */
struct scan {
    struct event_base *base;
    struct tls_scan_target t;
    char *host, *protocol, *ca_file;
    struct sockaddr_storage source;
    bool host_is_ip;
    tls_scan_done_fn *done;
    void *done_ctx;
    struct tls_scan_result *res;
    struct job *head, *tail;
    unsigned active;
    unsigned waiting; /* jobs between a failed attempt and its retry */
    int phase;
    size_t next_id;
    BIO_METHOD *bio_method;
    int pref_vi;
    char pref_choice[2][64];
    char last_error[256];
};

static void scan_advance(struct scan *s);
static void job_io(evutil_socket_t fd, short what, void *arg);

/* ---- cipher classes and names ---- */

unsigned tls_cipher_classes(const void *ssl_cipher)
{
    const SSL_CIPHER *c = ssl_cipher;
    unsigned cl = 0;
    int kx = SSL_CIPHER_get_kx_nid(c);
    /* NID_kx_any: TLS 1.3, whose key exchange is always (EC)DHE (RFC 8446 §2). */
    if (kx == NID_kx_ecdhe || kx == NID_kx_dhe || kx == NID_kx_any || kx == NID_kx_ecdhe_psk ||
        kx == NID_kx_dhe_psk)
        cl |= TLS_CLASS_FS;
    if (SSL_CIPHER_get_auth_nid(c) == NID_auth_null)
        cl |= TLS_CLASS_ANON;
    int cipher = SSL_CIPHER_get_cipher_nid(c);
    int bits = SSL_CIPHER_get_bits(c, NULL);
    if (cipher == NID_undef)
        cl |= TLS_CLASS_NULL;
    else if (cipher == NID_rc4 || cipher == NID_rc4_40)
        cl |= TLS_CLASS_RC4;
    else if (cipher == NID_des_ede3_cbc || cipher == NID_des_cbc)
        cl |= TLS_CLASS_3DES;
    /* The export grades were 40 and 56 bits; (3)DES have their own class. */
    if (cipher != NID_undef && bits < 128 && !(cl & TLS_CLASS_3DES))
        cl |= TLS_CLASS_EXPORT;
    if (SSL_CIPHER_is_aead(c))
        cl |= TLS_CLASS_AEAD;
    else if (cipher != NID_undef && !(cl & TLS_CLASS_RC4))
        cl |= TLS_CLASS_CBC; /* every other block cipher suite is CBC with a MAC */
    if (cl &
            (TLS_CLASS_ANON | TLS_CLASS_NULL | TLS_CLASS_EXPORT | TLS_CLASS_RC4 | TLS_CLASS_3DES) ||
        !(cl & TLS_CLASS_FS))
        cl |= TLS_CLASS_WEAK;
    return cl;
}

static void cipher_fill(struct tls_cipher *out, const SSL_CIPHER *c)
{
    snprintf(out->name, sizeof out->name, "%s", SSL_CIPHER_get_name(c));
    /* The RFC names are what nmap and the IANA registry print. */
    const char *iana = SSL_CIPHER_standard_name(c);
    snprintf(out->iana_name, sizeof out->iana_name, "%s", iana ? iana : out->name);
    int bits = SSL_CIPHER_get_bits(c, NULL);
    out->bits = bits > 0 ? (unsigned)bits : 0;
    out->classes = tls_cipher_classes(c);
}

/* ---- a socket BIO that cannot raise SIGPIPE ---- */

/* OpenSSL's socket BIO writes with write(2): a server that resets the
 * connection would kill a caller that did not ignore SIGPIPE. */
static int nosig_write(BIO *b, const char *data, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int nosig_read(BIO *b, char *data, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = recv(fd, data, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *nosig_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "probe-socket");
    if (!m)
        abort();
    BIO_meth_set_write(m, nosig_write);
    BIO_meth_set_read(m, nosig_read);
    BIO_meth_set_ctrl(m, nosig_ctrl);
    BIO_meth_set_create(m, nosig_create);
    return m;
}

/* ---- trace ---- */

static void trace_bytes(const struct job *j, char dir, const char *p, size_t n)
{
    struct buf line = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r')
            buf_puts(&line, "\\r");
        else if (ch == '\n')
            buf_puts(&line, "\\n");
        else if (ch == '\\')
            buf_puts(&line, "\\\\");
        else if (ch >= 0x20 && ch < 0x7f)
            buf_putc(&line, (char)ch);
        else
            buf_printf(&line, "\\x%02x", ch);
        if (ch == '\n' || i + 1 == n) {
            fprintf(stderr, "%c [%s tls#%zu] %s\n", dir, j->scan->host, j->id, buf_cstr(&line));
            buf_reset(&line);
        }
    }
    buf_free(&line);
}

/* ---- the job queue ---- */

static void enqueue(struct scan *s, enum job_kind kind, int vi, size_t arg)
{
    struct job *j = xcalloc(1, sizeof *j);
    j->scan = s;
    j->kind = kind;
    j->vi = vi;
    j->arg = arg;
    j->fd = -1;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
}

static void requeue(struct scan *s, struct job *j)
{
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
}

/* ---- per-question client context ---- */

static bool set_version(SSL_CTX *ctx, int vi)
{
    return SSL_CTX_set_min_proto_version(ctx, version_codes[vi]) == 1 &&
           SSL_CTX_set_max_proto_version(ctx, version_codes[vi]) == 1;
}

/* Every suite of TLS <= 1.2 but the ones in `skip` (already accepted). */
static void cipher_list_without(struct buf *b, const struct tls_cipher *skip, size_t n)
{
    buf_puts(b, EVERY_SUITE);
    for (size_t i = 0; i < n; i++)
        buf_printf(b, ":!%s", skip[i].name);
    buf_puts(b, SECLEVEL0);
}

static bool tls13_suite_seen(const struct tls_scan_result *r, const char *suite)
{
    for (size_t i = 0; i < r->n_ciphers[TLS_V_1_3]; i++)
        if (strcmp(r->ciphers[TLS_V_1_3][i].iana_name, suite) == 0 ||
            strcmp(r->ciphers[TLS_V_1_3][i].name, suite) == 0)
            return true;
    return false;
}

/* Builds the context for the job's question. False: nothing to ask (a
 * finished enumeration, a group this OpenSSL does not know). */
static bool job_configure(struct job *j, SSL_CTX *ctx)
{
    struct scan *s = j->scan;
    struct tls_scan_result *r = s->res;
    bool ok = true;
    struct buf b = BUF_INIT;
    /* The scan looks at the certificate itself (cert_fill); a handshake must
     * complete whatever the chain. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    switch (j->kind) {
    case JOB_VERSION:
        ok = set_version(ctx, j->vi) && SSL_CTX_set_cipher_list(ctx, EVERY_SUITE SECLEVEL0) == 1;
        break;
    case JOB_CIPHER:
        ok = set_version(ctx, j->vi);
        if (j->vi == TLS_V_1_3) {
            for (size_t i = 0; i < N_TLS13_SUITES; i++)
                if (!tls13_suite_seen(r, tls13_suites[i]))
                    buf_printf(&b, "%s%s", b.len ? ":" : "", tls13_suites[i]);
            ok = ok && b.len > 0 && SSL_CTX_set_ciphersuites(ctx, buf_cstr(&b)) == 1;
        } else {
            cipher_list_without(&b, r->ciphers[j->vi], r->n_ciphers[j->vi]);
            ok = ok && r->n_ciphers[j->vi] < MAX_SUITES_PER_VERSION &&
                 SSL_CTX_set_cipher_list(ctx, buf_cstr(&b)) == 1;
        }
        break;
    case JOB_PREFERENCE: {
        /* arg 0: the first two suites found, in that order; arg 1: swapped. */
        const struct tls_cipher *a = &r->ciphers[s->pref_vi][j->arg ? 1 : 0];
        const struct tls_cipher *c = &r->ciphers[s->pref_vi][j->arg ? 0 : 1];
        ok = set_version(ctx, s->pref_vi);
        if (s->pref_vi == TLS_V_1_3) {
            buf_printf(&b, "%s:%s", a->iana_name, c->iana_name);
            ok = ok && SSL_CTX_set_ciphersuites(ctx, buf_cstr(&b)) == 1;
        } else {
            buf_printf(&b, "%s:%s" SECLEVEL0, a->name, c->name);
            ok = ok && SSL_CTX_set_cipher_list(ctx, buf_cstr(&b)) == 1;
        }
        break;
    }
    case JOB_GROUP:
        /* Named groups exist for ECDHE in TLS 1.2 (RFC 8422) and for every
         * key exchange in TLS 1.3 (RFC 8446 §4.2.7). */
        ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
             SSL_CTX_set_cipher_list(ctx, EVERY_SUITE SECLEVEL0) == 1 &&
             SSL_CTX_set1_groups_list(ctx, scan_groups[j->arg].name) == 1;
        break;
    case JOB_ALPN: {
        const char *proto = "http/1.1";
        const char *own = s->protocol[0] ? s->protocol : "imap";
        if (j->arg == ALPN_OTHER)
            proto = strcmp(own, "imap") == 0 ? "pop3" : "imap";
        else if (j->arg == ALPN_OWN)
            proto = own;
        /* RFC 7301 §3.1: a list of length-prefixed names. */
        size_t n = strlen(proto);
        unsigned char wire[64];
        if (n >= sizeof wire) {
            ok = false;
            break;
        }
        wire[0] = (unsigned char)n;
        memcpy(wire + 1, proto, n);
        ok = SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) == 1 &&
             SSL_CTX_set_cipher_list(ctx, EVERY_SUITE SECLEVEL0) == 1 &&
             SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)(n + 1)) == 0;
        break;
    }
    case JOB_SNI:
        ok = SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) == 1 &&
             SSL_CTX_set_cipher_list(ctx, EVERY_SUITE SECLEVEL0) == 1;
        break;
    }
    buf_free(&b);
    ERR_clear_error();
    return ok;
}

/* ---- the certificate ---- */

static void name_oneline(const X509_NAME *name, char *out, size_t size)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    /* RFC 2253 order and escaping, but UTF-8 kept as it is. */
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n > 0)
        snprintf(out, size, "%.*s", (int)n, p);
    BIO_free(b);
}

static time_t asn1_time_to_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static void cert_sans(struct tls_cert_info *ci, X509 *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names)
        return;
    int n = sk_GENERAL_NAME_num(names);
    ci->sans = xcalloc((size_t)n + 1, sizeof *ci->sans);
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        struct buf b = BUF_INIT;
        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *d = g->d.dNSName;
            buf_puts(&b, "DNS:");
            buf_append(&b, ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *ip = g->d.iPAddress;
            char text[INET6_ADDRSTRLEN];
            int len = ASN1_STRING_length(ip);
            int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
            if (af && inet_ntop(af, ASN1_STRING_get0_data(ip), text, sizeof text))
                buf_printf(&b, "IP:%s", text);
        } else if (g->type == GEN_EMAIL) {
            const ASN1_IA5STRING *e = g->d.rfc822Name;
            buf_puts(&b, "email:");
            buf_append(&b, ASN1_STRING_get0_data(e), (size_t)ASN1_STRING_length(e));
        }
        if (b.len)
            ci->sans[ci->n_sans++] = buf_steal(&b);
        buf_free(&b);
    }
    GENERAL_NAMES_free(names);
}

static void cert_key(struct tls_cert_info *ci, X509 *cert)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    if (!key)
        return;
    const char *type = "unknown";
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        type = "RSA";
        break;
    case EVP_PKEY_RSA_PSS:
        type = "RSA-PSS";
        break;
    case EVP_PKEY_EC:
        type = "EC";
        break;
    case EVP_PKEY_DSA:
        type = "DSA";
        break;
    case EVP_PKEY_ED25519:
        type = "Ed25519";
        break;
    case EVP_PKEY_ED448:
        type = "Ed448";
        break;
    default:
        break;
    }
    snprintf(ci->key_type, sizeof ci->key_type, "%s", type);
    int bits = EVP_PKEY_get_bits(key);
    ci->key_bits = bits > 0 ? (unsigned)bits : 0;
}

static void cert_verify(struct scan *s, struct tls_cert_info *ci, X509 *cert, SSL *ssl)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    bool loaded = store && (s->ca_file ? X509_STORE_load_file(store, s->ca_file) == 1
                                       : X509_STORE_set_default_paths(store) == 1);
    if (!loaded || !vctx) {
        snprintf(ci->verify_error, sizeof ci->verify_error, "cannot load %s",
                 s->ca_file ? s->ca_file : "the system trust store");
    } else if (X509_STORE_CTX_init(vctx, store, cert, SSL_get_peer_cert_chain(ssl)) == 1) {
        /* The chain as the server sent it (on a client, the leaf included). */
        ci->trusted = X509_verify_cert(vctx) == 1;
        if (!ci->trusted)
            snprintf(ci->verify_error, sizeof ci->verify_error, "%s",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
    }
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    ERR_clear_error();
}

static void cert_fill(struct scan *s, SSL *ssl)
{
    struct tls_cert_info *ci = &s->res->cert;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return;
    ci->present = true;
    name_oneline(X509_get_subject_name(cert), ci->subject, sizeof ci->subject);
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, ci->common_name,
                                  (int)sizeof ci->common_name) < 0)
        ci->common_name[0] = '\0';
    name_oneline(X509_get_issuer_name(cert), ci->issuer, sizeof ci->issuer);
    cert_sans(ci, cert);
    ci->not_before = asn1_time_to_time(X509_get0_notBefore(cert));
    ci->not_after = asn1_time_to_time(X509_get0_notAfter(cert));
    time_t left = ci->not_after - time(NULL);
    /* Floor, so that a certificate expired an hour ago has -1 days. */
    ci->days_left = (long)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
    EVP_PKEY *own = X509_get0_pubkey(cert);
    ci->self_signed = X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
                      own && X509_verify(cert, own) == 1;
    cert_verify(s, ci, cert, ssl);
    /* RFC 6125 §6: SAN dNSName / iPAddress; OpenSSL falls back to the CN only
     * when there is no DNS SAN. */
    if (s->host[0])
        ci->hostname_match = s->host_is_ip ? X509_check_ip_asc(cert, s->host, 0) == 1
                                           : X509_check_host(cert, s->host, 0, 0, NULL) == 1;
    cert_key(ci, cert);
    snprintf(ci->signature_algorithm, sizeof ci->signature_algorithm, "%s",
             OBJ_nid2ln(X509_get_signature_nid(cert)));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
        struct buf b = BUF_INIT;
        for (unsigned i = 0; i < md_len; i++)
            buf_printf(&b, "%s%02X", i ? ":" : "", md[i]);
        snprintf(ci->sha256, sizeof ci->sha256, "%s", buf_cstr(&b));
        buf_free(&b);
    }
    BIO *pem = BIO_new(BIO_s_mem());
    if (pem && PEM_write_bio_X509(pem, cert) == 1) {
        char *p = NULL;
        long n = BIO_get_mem_data(pem, &p);
        ci->pem = xstrndup(p, (size_t)n);
    }
    BIO_free(pem);
    X509_free(cert);
    ERR_clear_error();
}

/* ---- results ---- */

static enum tls_support support_of(enum outcome o)
{
    return o == OUT_OK ? TLS_SUPPORT_YES : o == OUT_REFUSED ? TLS_SUPPORT_NO : TLS_SUPPORT_UNKNOWN;
}

static bool cipher_add(struct tls_scan_result *r, int vi, const SSL_CIPHER *c)
{
    const char *name = SSL_CIPHER_get_name(c);
    for (size_t i = 0; i < r->n_ciphers[vi]; i++)
        if (strcmp(r->ciphers[vi][i].name, name) == 0)
            return false; /* the server chose one we did not offer */
    r->ciphers[vi] = xrealloc(r->ciphers[vi], (r->n_ciphers[vi] + 1) * sizeof *r->ciphers[vi]);
    cipher_fill(&r->ciphers[vi][r->n_ciphers[vi]++], c);
    return true;
}

/* The final word on a question (after the retry, for a negative one). The
 * SSL is still there when the handshake completed. */
static void job_record(struct job *j, enum outcome o)
{
    struct scan *s = j->scan;
    struct tls_scan_result *r = s->res;
    SSL *ssl = o == OUT_OK ? j->ssl : NULL;
    if (ssl) {
        r->reachable = true;
        if (!r->cert.present && j->kind != JOB_SNI)
            cert_fill(s, ssl);
    } else if (j->error[0]) {
        snprintf(s->last_error, sizeof s->last_error, "%s", j->error);
    }
    switch (j->kind) {
    case JOB_VERSION:
        r->versions[j->vi] = support_of(o);
        break;
    case JOB_CIPHER:
        if (ssl) {
            const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
            if (c && cipher_add(r, j->vi, c)) {
                EVP_PKEY *tmp = NULL;
                /* RFC 5246 §7.4.3: the DHE size is the server's choice, and
                 * below 2048 bits it is Logjam territory (RFC 7919 §1). */
                if (SSL_CIPHER_get_kx_nid(c) == NID_kx_dhe &&
                    SSL_get_peer_tmp_key(ssl, &tmp) == 1) {
                    int bits = EVP_PKEY_get_bits(tmp);
                    if (bits > 0 && (r->dh_bits == 0 || (unsigned)bits < r->dh_bits))
                        r->dh_bits = (unsigned)bits;
                }
                EVP_PKEY_free(tmp);
                enqueue(s, JOB_CIPHER, j->vi, 0); /* ask again without it */
            }
        }
        break;
    case JOB_PREFERENCE:
        if (ssl) {
            const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
            snprintf(s->pref_choice[j->arg], sizeof s->pref_choice[j->arg], "%s",
                     c ? SSL_CIPHER_get_name(c) : "");
        }
        break;
    case JOB_GROUP:
        /* A completed handshake is not enough: a TLS 1.2 server may have
         * picked a suite that needs no group at all. */
        if (ssl && SSL_get_negotiated_group(ssl) == scan_groups[j->arg].nid) {
            r->groups = xrealloc(r->groups, (r->n_groups + 1) * sizeof *r->groups);
            r->groups[r->n_groups++] = xstrdup(scan_groups[j->arg].name);
        }
        break;
    case JOB_ALPN: {
        enum tls_support *field = j->arg == ALPN_HTTP    ? &r->alpn_http
                                  : j->arg == ALPN_OTHER ? &r->alpn_other
                                                         : &r->alpn_own;
        *field = support_of(o);
        if (ssl) {
            /* A server that completes the handshake may have selected the one
             * protocol offered, or ignored ALPN (no extension in its hello). */
            const unsigned char *sel = NULL;
            unsigned len = 0;
            SSL_get0_alpn_selected(ssl, &sel, &len);
            if (j->arg == ALPN_OWN && sel && len < sizeof r->alpn_selected)
                snprintf(r->alpn_selected, sizeof r->alpn_selected, "%.*s", (int)len, sel);
            else if (j->arg == ALPN_HTTP)
                r->alpn_http_selected = sel && len > 0;
            else if (j->arg == ALPN_OTHER)
                r->alpn_other_selected = sel && len > 0;
        }
        break;
    }
    case JOB_SNI:
        r->sni_unrelated = support_of(o);
        break;
    }
    ERR_clear_error();
}

/* ---- connections ---- */

static void conn_close(struct job *j)
{
    if (j->ssl) {
        /* One close_notify (RFC 8446 §6.1), without waiting for the answer. */
        if (SSL_is_init_finished(j->ssl))
            SSL_shutdown(j->ssl);
        SSL_free(j->ssl); /* frees the BIO too */
        j->ssl = NULL;
    }
    SSL_CTX_free(j->ctx);
    j->ctx = NULL;
    if (j->ev_read)
        event_free(j->ev_read);
    if (j->ev_write)
        event_free(j->ev_write);
    if (j->ev_timer)
        event_free(j->ev_timer);
    j->ev_read = j->ev_write = j->ev_timer = NULL;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    buf_free(&j->rx);
    ERR_clear_error();
}

static void job_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *j = arg;
    struct scan *s = j->scan;
    event_free(j->ev_timer);
    j->ev_timer = NULL;
    s->waiting--;
    requeue(s, j);
    scan_advance(s);
}

/* Ends the current connection; the caller must not touch the job after. */
static void job_end(struct job *j, enum outcome o)
{
    struct scan *s = j->scan;
    /* A negative answer is asked twice: a glitch is not a finding. The
     * retry waits a little, so that a server counting connections per client
     * address (as gannet's login_max_connections_per_ip does) has seen the
     * earlier ones close. */
    if (o != OUT_OK && j->attempt == 0) {
        conn_close(j);
        j->attempt = 1;
        j->deferred = false;
        s->active--;
        s->waiting++;
        j->ev_timer = evtimer_new(s->base, job_retry, j);
        if (!j->ev_timer)
            abort();
        struct timeval tv = {0, RETRY_DELAY_MS * 1000};
        evtimer_add(j->ev_timer, &tv);
        scan_advance(s);
        return;
    }
    job_record(j, o);
    conn_close(j);
    free(j);
    s->active--;
    scan_advance(s);
}

static void job_fail(struct job *j, enum outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_fail(struct job *j, enum outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->error, sizeof j->error, fmt, ap);
    va_end(ap);
    job_end(j, o);
}

static void wait_for(struct job *j, short what)
{
    event_add(what == EV_READ ? j->ev_read : j->ev_write, NULL);
}

static void handshake_step(struct job *j)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(j->ssl);
    if (rc == 1) {
        job_end(j, OUT_OK);
        return;
    }
    int err = SSL_get_error(j->ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
        wait_for(j, EV_READ);
        return;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        wait_for(j, EV_WRITE);
        return;
    }
    unsigned long e = ERR_peek_error();
    char text[160] = "connection closed during the handshake";
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    job_fail(j, OUT_REFUSED, "TLS handshake: %s", text);
}

static void start_tls(struct job *j)
{
    struct scan *s = j->scan;
    j->ctx = SSL_CTX_new(TLS_client_method());
    if (!j->ctx || !job_configure(j, j->ctx)) {
        job_fail(j, OUT_ERROR, "no client context for this question");
        return;
    }
    j->ssl = SSL_new(j->ctx);
    BIO *bio = j->ssl ? BIO_new(s->bio_method) : NULL;
    if (!bio) {
        job_fail(j, OUT_ERROR, "SSL_new failed");
        return;
    }
    BIO_set_data(bio, (void *)(intptr_t)j->fd);
    SSL_set_bio(j->ssl, bio, bio);
    SSL_set_connect_state(j->ssl);
    /* RFC 6066 §3: no IP literals in server_name. */
    const char *sni = j->kind == JOB_SNI ? UNRELATED_SNI : s->host_is_ip ? NULL : s->host;
    if (sni && sni[0])
        SSL_set_tlsext_host_name(j->ssl, sni);
    j->state = ST_HANDSHAKE;
    handshake_step(j);
}

static bool send_clear(struct job *j, const char *line)
{
    size_t n = strlen(line);
    if (j->scan->t.trace)
        trace_bytes(j, '>', line, n);
    /* A few bytes into an empty send buffer: all or an error. */
    return send(j->fd, line, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* One complete line of the preamble. False: the job has ended. */
static bool preamble_line(struct job *j, const char *line, size_t len)
{
    struct scan *s = j->scan;
    bool imap = s->t.preamble == TLS_PREAMBLE_IMAP;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (j->state == ST_GREETING) {
        /* RFC 9051 §7.1.1 / RFC 1939 §4: a usable greeting is "* OK" / "+OK". */
        const char *want = imap ? "* OK" : "+OK";
        if (len < strlen(want) || strncasecmp(line, want, strlen(want)) != 0) {
            job_fail(j, OUT_ERROR, "unexpected greeting: %.*s", (int)(len > 100 ? 100 : len), line);
            return false;
        }
        if (!send_clear(j, imap ? "a STARTTLS\r\n" : "STLS\r\n")) {
            job_fail(j, OUT_ERROR, "send: %s", strerror(errno));
            return false;
        }
        j->state = ST_REPLY;
        return true;
    }
    if (imap && (len < 2 || strncasecmp(line, "a ", 2) != 0))
        return true; /* untagged data before the tagged answer */
    const char *want = imap ? "a OK" : "+OK";
    if (len < strlen(want) || strncasecmp(line, want, strlen(want)) != 0) {
        job_fail(j, OUT_ERROR, "%s refused: %.*s", imap ? "STARTTLS" : "STLS",
                 (int)(len > 100 ? 100 : len), line);
        return false;
    }
    /* RFC 3207 §4.2-style rule: nothing sent in clear survives the switch. */
    buf_reset(&j->rx);
    start_tls(j);
    return false;
}

static void preamble_read(struct job *j)
{
    char tmp[4096];
    ssize_t n = recv(j->fd, tmp, sizeof tmp, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wait_for(j, EV_READ);
        return;
    }
    if (n <= 0) {
        job_fail(j, OUT_ERROR, "connection %s before TLS", n == 0 ? "closed" : strerror(errno));
        return;
    }
    if (j->scan->t.trace)
        trace_bytes(j, '<', tmp, (size_t)n);
    buf_append(&j->rx, tmp, (size_t)n);
    for (;;) {
        char *nl = j->rx.len ? memchr(j->rx.data, '\n', j->rx.len) : NULL;
        if (!nl)
            break;
        size_t len = (size_t)(nl - j->rx.data) + 1;
        if (!preamble_line(j, j->rx.data, len))
            return;
        memmove(j->rx.data, j->rx.data + len, j->rx.len - len);
        j->rx.len -= len;
        j->rx.data[j->rx.len] = '\0';
    }
    if (j->rx.len > PREAMBLE_MAX_BYTES) {
        job_fail(j, OUT_ERROR, "line too long before TLS");
        return;
    }
    wait_for(j, EV_READ);
}

static void job_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *j = arg;
    switch (j->state) {
    case ST_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            job_fail(j, OUT_ERROR, "connect: %s", strerror(err));
            return;
        }
        if (j->scan->t.preamble == TLS_PREAMBLE_NONE) {
            start_tls(j);
        } else {
            j->state = ST_GREETING;
            wait_for(j, EV_READ);
        }
        return;
    }
    case ST_GREETING:
    case ST_REPLY:
        preamble_read(j);
        return;
    case ST_HANDSHAKE:
        handshake_step(j);
        return;
    }
}

static void job_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *j = arg;
    if (j->deferred)
        job_end(j, OUT_ERROR);
    else
        job_fail(j, OUT_ERROR, "timed out after %u ms", j->scan->t.timeout_ms);
}

static void job_start(struct job *j)
{
    struct scan *s = j->scan;
    s->active++;
    s->res->handshakes++;
    j->id = ++s->next_id;
    j->state = ST_CONNECTING;
    j->error[0] = '\0';
    j->ev_timer = evtimer_new(s->base, job_timeout, j);
    if (!j->ev_timer)
        abort();
    struct timeval tv = {(time_t)(s->t.timeout_ms / 1000),
                         (suseconds_t)(s->t.timeout_ms % 1000) * 1000};
    j->fd = socket(s->t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step = "socket";
    if (j->fd >= 0 && s->t.source) {
        step = "bind";
        if (bind(j->fd, (const struct sockaddr *)&s->source, s->t.source_len) < 0)
            goto failed;
    }
    if (j->fd < 0)
        goto failed;
    step = "connect";
    if (connect(j->fd, (const struct sockaddr *)&s->t.addr, s->t.addr_len) < 0 &&
        errno != EINPROGRESS)
        goto failed;
    j->ev_read = event_new(s->base, j->fd, EV_READ, job_io, j);
    j->ev_write = event_new(s->base, j->fd, EV_WRITE, job_io, j);
    if (!j->ev_read || !j->ev_write)
        abort();
    event_add(j->ev_write, NULL); /* writable: connected, or failed */
    evtimer_add(j->ev_timer, &tv);
    return;
failed:
    /* Reported from the loop, never from inside tls_scan_start's caller. */
    snprintf(j->error, sizeof j->error, "%s: %s", step, strerror(errno));
    j->deferred = true;
    struct timeval now = {0, 0};
    evtimer_add(j->ev_timer, &now);
}

/* ---- phases ---- */

static void queue_phase(struct scan *s)
{
    struct tls_scan_result *r = s->res;
    switch (s->phase) {
    case 0:
        for (int vi = 0; vi < TLS_V_COUNT; vi++) {
#if defined(OPENSSL_NO_SSL3) || defined(OPENSSL_NO_SSL3_METHOD)
            if (vi == TLS_V_SSL3) {
                r->versions[vi] = TLS_SUPPORT_UNTESTABLE;
                continue;
            }
#endif
            enqueue(s, JOB_VERSION, vi, 0);
        }
        for (size_t g = 0; g < N_SCAN_GROUPS; g++)
            enqueue(s, JOB_GROUP, 0, g);
        enqueue(s, JOB_ALPN, 0, ALPN_OWN);
        enqueue(s, JOB_ALPN, 0, ALPN_HTTP);
        enqueue(s, JOB_ALPN, 0, ALPN_OTHER);
        enqueue(s, JOB_SNI, 0, 0);
        break;
    case 1:
        for (int vi = 0; vi < TLS_V_COUNT; vi++)
            if (r->versions[vi] == TLS_SUPPORT_YES)
                enqueue(s, JOB_CIPHER, vi, 0);
        break;
    case 2: {
        /* Two suites of one version, offered in both orders (the newest
         * version with two, where clients will meet the choice). */
        s->pref_vi = -1;
        for (int vi = TLS_V_1_3; vi >= 0 && s->pref_vi < 0; vi--)
            if (r->n_ciphers[vi] >= 2)
                s->pref_vi = vi;
        if (s->pref_vi >= 0) {
            enqueue(s, JOB_PREFERENCE, 0, 0);
            enqueue(s, JOB_PREFERENCE, 0, 1);
        }
        break;
    }
    default:
        break;
    }
}

static void scan_finish(struct scan *s)
{
    struct tls_scan_result *r = s->res;
    if (s->pref_vi >= 0 && s->pref_choice[0][0])
        r->server_preference = strcmp(s->pref_choice[0], s->pref_choice[1]) == 0;
    if (!r->reachable)
        snprintf(r->error, sizeof r->error, "%s",
                 s->last_error[0] ? s->last_error : "no handshake completed");
    tls_scan_done_fn *done = s->done;
    void *ctx = s->done_ctx;
    BIO_meth_free(s->bio_method);
    free(s->host);
    free(s->protocol);
    free(s->ca_file);
    free(s);
    done(ctx, r);
}

static void scan_advance(struct scan *s)
{
    while (!s->head && s->active == 0 && s->waiting == 0) {
        if (s->phase >= 3) {
            scan_finish(s);
            return;
        }
        s->phase++;
        queue_phase(s);
    }
    while (s->head && s->active < s->t.concurrency) {
        struct job *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        j->next = NULL;
        /* A question with nothing to ask (every TLS 1.3 suite seen) ends here. */
        if (j->kind == JOB_CIPHER) {
            SSL_CTX *probe = SSL_CTX_new(TLS_client_method());
            bool askable = probe && job_configure(j, probe);
            SSL_CTX_free(probe);
            if (!askable) {
                free(j);
                continue;
            }
        }
        job_start(j);
    }
    /* Questions skipped above may have emptied the queue. */
    if (!s->head && s->active == 0 && s->waiting == 0)
        scan_advance(s);
}

static void scan_begin(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct scan *s = arg;
    s->phase = 0;
    queue_phase(s);
    scan_advance(s);
}

void tls_scan_start(struct event_base *base, const struct tls_scan_target *target,
                    tls_scan_done_fn *done, void *ctx)
{
    struct scan *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->t = *target;
    s->host = xstrdup(target->host ? target->host : "");
    s->protocol = xstrdup(target->protocol ? target->protocol : "");
    s->ca_file = target->ca_file ? xstrdup(target->ca_file) : NULL;
    s->t.host = s->host;
    s->t.protocol = s->protocol;
    s->t.ca_file = s->ca_file;
    if (target->source && target->source_len <= sizeof s->source)
        memcpy(&s->source, target->source, target->source_len);
    else
        s->t.source = NULL;
    if (!s->t.timeout_ms)
        s->t.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!s->t.concurrency)
        s->t.concurrency = DEFAULT_CONCURRENCY;
    unsigned char ip[16];
    s->host_is_ip = inet_pton(AF_INET, s->host, ip) == 1 || inet_pton(AF_INET6, s->host, ip) == 1;
    s->done = done;
    s->done_ctx = ctx;
    s->res = xcalloc(1, sizeof *s->res);
    s->pref_vi = -1;
    s->bio_method = nosig_method_new();
    struct timeval now = {0, 0};
    if (event_base_once(base, -1, EV_TIMEOUT, scan_begin, s, &now) != 0)
        abort();
}

void tls_scan_result_free(struct tls_scan_result *res)
{
    if (!res)
        return;
    for (int vi = 0; vi < TLS_V_COUNT; vi++)
        free(res->ciphers[vi]);
    for (size_t i = 0; i < res->n_groups; i++)
        free(res->groups[i]);
    free(res->groups);
    for (size_t i = 0; i < res->cert.n_sans; i++)
        free(res->cert.sans[i]);
    free(res->cert.sans);
    free(res->cert.pem);
    free(res);
}
