/* TLS server contexts, built from the settings: certificate and key, minimum
 * protocol (default TLS 1.2), ciphers, and ALPN limited to the protocol of the
 * port (RFC 9325 §3.4: a client that offers ALPN gets a handshake only for the
 * protocol the port speaks, which defeats ALPACA cross-protocol attacks). */
#ifndef GANNET_NET_TLS_H
#define GANNET_NET_TLS_H

#include "lib/buf.h"
#include "lib/settings.h"

#include <openssl/ssl.h>

/* The cipher list used when ssl_cipher_list is not set: forward-secret AEAD
 * suites only (TLS 1.3 suites are OpenSSL's defaults). */
#define TLS_DEFAULT_CIPHER_LIST                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"       \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

/* Returns a new context for a port whose protocol is `alpn` ("imap", "pop3"),
 * or NULL with a one-line reason in err. */
SSL_CTX *tls_context_new(const struct settings *set, const char *alpn, struct buf *err);

/* Whether OpenSSL knows what list names (settings_cipher_check_fn: installed
 * for the config parser when the program starts). */
bool tls_check_cipher_list(const char *list, bool suites, struct buf *why);

/* The newest OpenSSL error queue entry as text ("" when none); clears the queue. */
const char *tls_last_error(char *out, size_t size);

#endif
