/* Target parsing for `gannet probe` (see target.h). */
#include "probe/target.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *probe_proto_name(enum probe_proto p)
{
    switch (p) {
    case PROBE_PROTO_IMAP:
        return "imap";
    case PROBE_PROTO_POP3:
        return "pop3";
    default:
        return "unknown";
    }
}

static void set_endpoint(struct probe_endpoint *e, const char *host, size_t host_len, uint16_t port,
                         enum probe_proto proto, enum probe_tls_mode tls)
{
    memcpy(e->host, host, host_len);
    e->host[host_len] = '\0';
    e->port = port;
    e->proto = proto;
    e->tls = tls;
}

static void well_known(uint16_t port, enum probe_proto *proto, enum probe_tls_mode *tls)
{
    switch (port) {
    case 143:
        *proto = PROBE_PROTO_IMAP;
        *tls = PROBE_TLS_PLAIN;
        break;
    case 993:
        *proto = PROBE_PROTO_IMAP;
        *tls = PROBE_TLS_IMPLICIT;
        break;
    case 110:
        *proto = PROBE_PROTO_POP3;
        *tls = PROBE_TLS_PLAIN;
        break;
    case 995:
        *proto = PROBE_PROTO_POP3;
        *tls = PROBE_TLS_IMPLICIT;
        break;
    default:
        *proto = PROBE_PROTO_UNKNOWN;
        *tls = PROBE_TLS_AUTO;
    }
}

static bool parse_port(const char *s, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool valid_host(const char *h, size_t len)
{
    if (len == 0 || len >= PROBE_HOST_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '_' || c == '%'))
            return false;
    }
    return true;
}

int probe_target_parse(const char *spec, struct probe_endpoint out[PROBE_MAX_ENDPOINTS_PER_TARGET],
                       char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        enum probe_proto proto;
        enum probe_tls_mode tls;
        uint16_t port;
    } schemes[] = {
        {"imap://", PROBE_PROTO_IMAP, PROBE_TLS_PLAIN, 143},
        {"imaps://", PROBE_PROTO_IMAP, PROBE_TLS_IMPLICIT, 993},
        {"pop3://", PROBE_PROTO_POP3, PROBE_TLS_PLAIN, 110},
        {"pop3s://", PROBE_PROTO_POP3, PROBE_TLS_IMPLICIT, 995},
    };
    const char *s = spec;
    int scheme = -1;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(s, schemes[i].prefix, n) == 0) {
            scheme = (int)i;
            s += n;
            break;
        }
    }
    if (scheme < 0 && strstr(s, "://")) {
        snprintf(err, errlen, "%s: unknown scheme (imap, imaps, pop3, pop3s)", spec);
        return -1;
    }
    /* The authority ends at a path; user information is not accepted. */
    size_t len = strcspn(s, "/?#");
    if (scheme >= 0 && memchr(s, '@', len)) {
        snprintf(err, errlen, "%s: user information in the URL is not used (--user)", spec);
        return -1;
    }
    if (scheme < 0 && s[len] != '\0') {
        snprintf(err, errlen, "%s: not a host, host:port or URL", spec);
        return -1;
    }
    const char *host = s;
    size_t host_len = len;
    const char *port_s = NULL;
    size_t port_len = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) {
            snprintf(err, errlen, "%s: missing ']'", spec);
            return -1;
        }
        host = s + 1;
        host_len = (size_t)(close - host);
        size_t rest = len - (size_t)(close + 1 - s);
        if (rest > 0) {
            if (close[1] != ':') {
                snprintf(err, errlen, "%s: expected ':' after ']'", spec);
                return -1;
            }
            port_s = close + 2;
            port_len = rest - 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        /* One colon: host:port; more: a bare IPv6 address. */
        if (colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
            host_len = (size_t)(colon - s);
            port_s = colon + 1;
            port_len = len - host_len - 1;
        }
    }
    if (!valid_host(host, host_len)) {
        snprintf(err, errlen, "%s: invalid host name", spec);
        return -1;
    }
    uint16_t port = 0;
    if (port_s && !parse_port(port_s, port_len, &port)) {
        snprintf(err, errlen, "%s: invalid port", spec);
        return -1;
    }
    if (scheme >= 0) {
        set_endpoint(&out[0], host, host_len, port ? port : schemes[scheme].port,
                     schemes[scheme].proto, schemes[scheme].tls);
        return 1;
    }
    if (port) {
        enum probe_proto proto;
        enum probe_tls_mode tls;
        well_known(port, &proto, &tls);
        set_endpoint(&out[0], host, host_len, port, proto, tls);
        return 1;
    }
    static const uint16_t defaults[] = {143, 993, 110, 995};
    for (int i = 0; i < 4; i++) {
        enum probe_proto proto;
        enum probe_tls_mode tls;
        well_known(defaults[i], &proto, &tls);
        set_endpoint(&out[i], host, host_len, defaults[i], proto, tls);
    }
    return 4;
}
