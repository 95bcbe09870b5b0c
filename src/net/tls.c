#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <string.h>

/* settings.h names the protocol versions by their wire numbers. */
_Static_assert(SETTINGS_SSL3 == SSL3_VERSION && SETTINGS_TLS1_0 == TLS1_VERSION &&
                   SETTINGS_TLS1_1 == TLS1_1_VERSION && SETTINGS_TLS1_2 == TLS1_2_VERSION &&
                   SETTINGS_TLS1_3 == TLS1_3_VERSION,
               "TLS version numbers");

bool tls_check_cipher_list(const char *list, bool suites, struct buf *why)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        buf_puts(why, "cannot create an OpenSSL context to check the list");
        ERR_clear_error();
        return false;
    }
    int ok = suites ? SSL_CTX_set_ciphersuites(ctx, list) : SSL_CTX_set_cipher_list(ctx, list);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    if (ok != 1) {
        buf_printf(why, "OpenSSL knows no %s in '%s'", suites ? "TLS 1.3 cipher suite" : "cipher",
                   list);
        return false;
    }
    return true;
}

/* Before main(): every program linked with this file checks the cipher lists
 * of the config it loads, the server's SIGHUP reloads included. */
__attribute__((constructor)) static void install_cipher_check(void)
{
    settings_set_cipher_check(tls_check_cipher_list);
}

const char *tls_last_error(char *out, size_t size)
{
    unsigned long e = ERR_get_error();
    unsigned long next;
    while ((next = ERR_get_error()) != 0)
        e = next;
    if (e == 0) {
        snprintf(out, size, "unknown error");
        return out;
    }
    ERR_error_string_n(e, out, size);
    return out;
}

/* ALPN (RFC 7301): select our protocol if offered; refuse the handshake with
 * no_application_protocol when the client offers only others. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const char *proto = arg;
    size_t plen = strlen(proto);
    for (unsigned int i = 0; i < inlen;) {
        unsigned int len = in[i];
        if (i + 1 + len > inlen)
            break;
        if (len == plen && memcmp(in + i + 1, proto, plen) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)len;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Strict SNI (RFC 9325 §3.4, the ALPACA paper's server-side countermeasure):
 * a client that names a server this certificate is not for is talking to the
 * wrong service, perhaps redirected there; refuse with unrecognized_name.
 * Clients that send no name, or an IP address (not allowed in SNI), go on. */
static int servername_check(SSL *ssl, int *alert, void *arg)
{
    (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name || !*name)
        return SSL_TLSEXT_ERR_OK;
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        return SSL_TLSEXT_ERR_OK; /* fetchmail sends the address it connects to */
    X509 *cert = SSL_get_certificate(ssl);
    if (cert && X509_check_host(cert, name, 0, 0, NULL) == 1)
        return SSL_TLSEXT_ERR_OK;
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static bool load_cert_chain(SSL_CTX *ctx, const struct settings *set, struct buf *err)
{
    char reason[256];
    const char *cert_name = set->ssl_cert.path ? set->ssl_cert.path : "ssl_cert";
    const char *key_name = set->ssl_key.path ? set->ssl_key.path : "ssl_key";
    BIO *bio = BIO_new_mem_buf(set->ssl_cert.value, -1);
    X509 *cert = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    if (!cert) {
        buf_printf(err, "%s: no PEM certificate found (%s)", cert_name,
                   tls_last_error(reason, sizeof(reason)));
        BIO_free(bio);
        return false;
    }
    bool ok = SSL_CTX_use_certificate(ctx, cert) == 1;
    X509_free(cert);
    /* The rest of the file is the chain of intermediates (fullchain.pem). */
    X509 *extra;
    while (ok && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            ok = false;
        }
    }
    ERR_clear_error(); /* the end of the chain reads as an error */
    BIO_free(bio);
    if (!ok) {
        buf_printf(err, "%s: cannot use the certificate (%s)", cert_name,
                   tls_last_error(reason, sizeof(reason)));
        return false;
    }
    bio = BIO_new_mem_buf(set->ssl_key.value, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key) {
        buf_printf(err, "%s: no PEM private key found (%s)", key_name,
                   tls_last_error(reason, sizeof(reason)));
        return false;
    }
    ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!ok || SSL_CTX_check_private_key(ctx) != 1) {
        buf_printf(err, "%s does not match the certificate in %s", key_name, cert_name);
        ERR_clear_error();
        return false;
    }
    return true;
}

SSL_CTX *tls_context_new(const struct settings *set, const char *alpn, struct buf *err)
{
    char reason[256];
    if (!set->ssl_cert.value || !set->ssl_key.value) {
        buf_puts(err, "ssl_cert and ssl_key must be set (or ssl = no)");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        buf_printf(err, "cannot create a TLS context: %s", tls_last_error(reason, sizeof(reason)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, set->ssl_min_protocol);
    /* Clients that just close the socket are common; that is an EOF, not an error. */
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_DH_USE |
                SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (set->ssl_prefer_server_ciphers)
        opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, (uint64_t)opts);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_dh_auto(ctx, 1);
    const char *ciphers = set->ssl_cipher_list ? set->ssl_cipher_list : TLS_DEFAULT_CIPHER_LIST;
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        buf_printf(err, "ssl_cipher_list: no usable cipher in '%s'", ciphers);
        goto fail;
    }
    if (set->ssl_cipher_suites && SSL_CTX_set_ciphersuites(ctx, set->ssl_cipher_suites) != 1) {
        buf_printf(err, "ssl_cipher_suites: no usable suite in '%s'", set->ssl_cipher_suites);
        goto fail;
    }
    if (!load_cert_chain(ctx, set, err))
        goto fail;
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, (void *)alpn);
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_check);
    /* Sessions are resumed with tickets; no server-side cache to share. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}
