/* TLS inspection for `gannet probe`: protocol versions, cipher suites and
 * their classes, server preference, key exchange groups, DH size, ALPN and SNI
 * handling (ALPACA, RFC 9325), and the certificate. Asynchronous on the
 * caller's libevent loop: each probe handshake is its own connection, with
 * STARTTLS/STLS done first when the port needs it. */
#ifndef GANNET_PROBE_TLS_SCAN_H
#define GANNET_PROBE_TLS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

struct event_base;

enum tls_scan_preamble {
    TLS_PREAMBLE_NONE, /* implicit TLS: handshake at once */
    TLS_PREAMBLE_IMAP, /* read greeting, "x STARTTLS", read "x OK", then TLS */
    TLS_PREAMBLE_POP3, /* read greeting, "STLS", read "+OK", then TLS */
};

struct tls_scan_target {
    const char *host; /* name given by the user: SNI (when not an IP) and hostname match */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const struct sockaddr *source; /* NULL, or the local address to bind */
    socklen_t source_len;
    enum tls_scan_preamble preamble;
    const char *protocol; /* "imap" or "pop3": the ALPN this port should accept */
    unsigned timeout_ms;  /* per connection */
    unsigned concurrency; /* handshakes at once against this port (e.g. 4) */
    const char *ca_file;  /* NULL: the system trust store */
    bool trace;           /* print every byte exchanged to stderr */
};

enum tls_version_index { TLS_V_SSL3, TLS_V_1_0, TLS_V_1_1, TLS_V_1_2, TLS_V_1_3, TLS_V_COUNT };

enum tls_support {
    TLS_SUPPORT_UNKNOWN, /* not tried, or failed for another reason */
    TLS_SUPPORT_YES,
    TLS_SUPPORT_NO,
    TLS_SUPPORT_UNTESTABLE, /* this OpenSSL cannot speak it (SSLv3) */
};

/* Classes of a cipher suite (bit flags). */
enum tls_cipher_class {
    TLS_CLASS_FS = 1 << 0, /* forward secrecy (ECDHE/DHE, or TLS 1.3) */
    TLS_CLASS_AEAD = 1 << 1,
    TLS_CLASS_CBC = 1 << 2,
    TLS_CLASS_ANON = 1 << 3, /* no authentication */
    TLS_CLASS_NULL = 1 << 4, /* no encryption */
    TLS_CLASS_EXPORT = 1 << 5,
    TLS_CLASS_RC4 = 1 << 6,
    TLS_CLASS_3DES = 1 << 7, /* also single DES */
    TLS_CLASS_WEAK = 1 << 8, /* any of ANON, NULL, EXPORT, RC4, 3DES, or no FS */
};

struct tls_cipher {
    char name[64];      /* OpenSSL name, e.g. "ECDHE-RSA-AES128-GCM-SHA256" */
    char iana_name[96]; /* RFC name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" (nmap uses these)
                         */
    unsigned bits;
    unsigned classes; /* enum tls_cipher_class */
};

struct tls_cert_info {
    bool present;
    char subject[512];
    char issuer[512];
    char common_name[256]; /* the subject's CN, "" if none */
    char **sans;           /* DNS:/IP: entries as "DNS:mail.example.org" */
    size_t n_sans;
    time_t not_before, not_after;
    long days_left; /* negative when expired */
    bool self_signed;
    bool trusted; /* chain verifies against the trust store / ca_file */
    char verify_error[128];
    bool hostname_match; /* host matches SAN (or CN when no SAN), RFC 6125 */
    char key_type[16];   /* "RSA", "EC", "Ed25519", ... */
    unsigned key_bits;
    char signature_algorithm[64];
    char sha256[96]; /* hex with colons */
    char *pem;
};

struct tls_scan_result {
    bool reachable;  /* at least one handshake completed */
    char error[256]; /* why nothing worked, when !reachable */
    enum tls_support versions[TLS_V_COUNT];
    struct tls_cipher *ciphers[TLS_V_COUNT]; /* accepted suites per version, in the server's order
                                                when it has one */
    size_t n_ciphers[TLS_V_COUNT];
    bool server_preference; /* the server picks its own order */
    char **groups; /* key exchange groups accepted ("x25519", "secp256r1", "ffdhe2048", ...) */
    size_t n_groups;
    unsigned dh_bits; /* finite-field DH size when a DHE suite is accepted, else 0 */
    /* ALPN and SNI (ALPACA, RFC 9325 §3.4) */
    enum tls_support alpn_http;  /* handshake completed when offering only "http/1.1" */
    enum tls_support alpn_other; /* ... offering only the other mail protocol */
    bool alpn_http_selected;     /* ... and the server selected http/1.1 (not just ignored ALPN) */
    bool alpn_other_selected;    /* ... and the server selected the other mail protocol */
    enum tls_support alpn_own;   /* ... offering only its own protocol */
    char alpn_selected[32];      /* what the server selected for its own protocol, "" if none */
    enum tls_support sni_unrelated; /* handshake completed with an unrelated SNI name */
    struct tls_cert_info cert;
    size_t handshakes; /* how many connections the scan made */
};

typedef void tls_scan_done_fn(void *ctx, struct tls_scan_result *res);

/* Starts the scan; done() runs on the loop when it is complete (the result is
 * the callee's until tls_scan_result_free). Negative results are confirmed
 * (retried once) before they are reported. */
void tls_scan_start(struct event_base *base, const struct tls_scan_target *target,
                    tls_scan_done_fn *done, void *ctx);
void tls_scan_result_free(struct tls_scan_result *res);

/* Fills the classes of a suite from OpenSSL's description of it. */
unsigned tls_cipher_classes(const void *ssl_cipher /* const SSL_CIPHER * */);

#endif
