/* Targets of `gannet probe`: "host", "host:port", "[v6]:port", or a URL
 * imap://, imaps://, pop3://, pop3s://host[:port]. A bare host means the four
 * standard ports 143, 993, 110 and 995 (RFC 9051 §2.1, RFC 8314 §7, RFC 1939 §3). */
#ifndef GANNET_PROBE_TARGET_H
#define GANNET_PROBE_TARGET_H

#include <stddef.h>
#include <stdint.h>

enum probe_proto { PROBE_PROTO_UNKNOWN, PROBE_PROTO_IMAP, PROBE_PROTO_POP3 };
/* AUTO: detect from whether the server speaks first (cleartext) or is silent (TLS). */
enum probe_tls_mode { PROBE_TLS_AUTO, PROBE_TLS_PLAIN, PROBE_TLS_IMPLICIT };

#define PROBE_HOST_MAX 256
#define PROBE_MAX_ENDPOINTS_PER_TARGET 4

struct probe_endpoint {
    char host[PROBE_HOST_MAX]; /* as given, without brackets */
    uint16_t port;
    enum probe_proto proto;
    enum probe_tls_mode tls;
};

/* Parses one TARGET into 1..4 endpoints; returns their number, or -1 with a
 * message in err. Ports given without a scheme get their protocol and TLS mode
 * from the well-known numbers, and are detected otherwise. */
int probe_target_parse(const char *spec, struct probe_endpoint out[PROBE_MAX_ENDPOINTS_PER_TARGET],
                       char *err, size_t errlen);

const char *probe_proto_name(enum probe_proto p);

#endif
