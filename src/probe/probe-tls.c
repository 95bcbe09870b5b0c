/* The TLS inspection of a port (tls-scan.h) and its findings: protocol
 * versions (RFC 8996), cipher suites (RFC 9325 §4), the certificate (RFC 6125)
 * and ALPACA (RFC 9325 §3.4, RFC 7301). */
#include "probe/probe.h"

#include "probe/tls-scan.h"

#include <stdlib.h>
#include <string.h>

struct tls_ctx {
    struct probe_port *port;
    void (*done)(struct probe_port *p);
};

static void scan_done(void *arg, struct tls_scan_result *res)
{
    struct tls_ctx *c = arg;
    c->port->tls = res;
    void (*done)(struct probe_port *) = c->done;
    struct probe_port *p = c->port;
    free(c);
    done(p);
}

bool probe_tls_start(struct probe_port *p, struct event_base *base, const struct probe_options *opt,
                     const struct sockaddr *source, socklen_t source_len,
                     void (*done)(struct probe_port *p))
{
    bool implicit = p->transport && strcmp(p->transport, "implicit-tls") == 0;
    if (!implicit && !p->starttls_offered) {
        snprintf(p->tls_skip_reason, sizeof(p->tls_skip_reason), "no TLS on this port");
        return false;
    }
    struct tls_scan_target t = {
        .host = p->ep.host,
        .addr = p->addr,
        .addr_len = p->addr_len,
        .source = source,
        .source_len = source_len,
        .preamble = implicit                       ? TLS_PREAMBLE_NONE
                    : p->proto == PROBE_PROTO_IMAP ? TLS_PREAMBLE_IMAP
                                                   : TLS_PREAMBLE_POP3,
        .protocol = p->proto == PROBE_PROTO_IMAP ? "imap" : "pop3",
        .timeout_ms = opt->timeout_ms,
        .concurrency = 4,
        .ca_file = opt->ca_file,
        .trace = opt->trace,
    };
    struct tls_ctx *c = xmalloc(sizeof(*c));
    c->port = p;
    c->done = done;
    tls_scan_start(base, &t, scan_done, c);
    return true;
}

void probe_tls_free(struct probe_port *p)
{
    if (p->tls)
        tls_scan_result_free(p->tls);
    p->tls = NULL;
}

static const char *const version_names[TLS_V_COUNT] = {"SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2",
                                                       "TLSv1.3"};

static void cipher_checks(struct probe_port *p, const struct tls_scan_result *r)
{
    struct buf weak = BUF_INIT;
    bool broken = false;
    for (int v = 0; v < TLS_V_COUNT; v++)
        for (size_t i = 0; i < r->n_ciphers[v]; i++) {
            const struct tls_cipher *c = &r->ciphers[v][i];
            if (!(c->classes & TLS_CLASS_WEAK))
                continue;
            if (c->classes & (TLS_CLASS_ANON | TLS_CLASS_NULL | TLS_CLASS_EXPORT | TLS_CLASS_RC4 |
                              TLS_CLASS_3DES))
                broken = true;
            if (!strstr(buf_cstr(&weak), c->name))
                buf_printf(&weak, "%s%s", weak.len ? " " : "", c->name);
        }
    if (weak.len)
        probe_finding_add(
            &p->findings, "tls.weak_cipher", ST_FAIL, broken ? SEV_HIGH : SEV_MEDIUM,
            "RFC 9325 §4.1, §4.2; RFC 7465", buf_cstr(&weak), "Weak cipher suites are accepted%s",
            broken ? " (NULL, anonymous, EXPORT, RC4 or 3DES)" : " (no forward secrecy)");
    else
        probe_finding_add(&p->findings, "tls.weak_cipher", ST_PASS, SEV_HIGH, "RFC 9325 §4.1", "",
                          "Only strong cipher suites are accepted");
    buf_free(&weak);
}

static void cert_checks(struct probe_port *p, const struct tls_cert_info *c)
{
    if (!c->present)
        return;
    struct buf e = BUF_INIT;
    buf_printf(&e, "subject: %s; issuer: %s; sha256: %s; %s", c->subject, c->issuer, c->sha256,
               c->verify_error);
    if (c->self_signed && !c->trusted)
        probe_finding_add(&p->findings, "tls.cert.self_signed", ST_FAIL, SEV_MEDIUM,
                          "RFC 5280 §6; RFC 6125", buf_cstr(&e),
                          "The certificate is self-signed and not trusted");
    else if (!c->trusted)
        probe_finding_add(&p->findings, "tls.cert.self_signed", ST_FAIL, SEV_MEDIUM, "RFC 5280 §6",
                          buf_cstr(&e), "The certificate chain is not trusted: %s",
                          c->verify_error);
    else
        probe_finding_add(&p->findings, "tls.cert.self_signed", ST_PASS, SEV_MEDIUM, "RFC 5280 §6",
                          buf_cstr(&e), "The certificate chain is trusted");
    if (c->days_left < 0)
        probe_finding_add(&p->findings, "tls.cert.expired", ST_FAIL, SEV_HIGH, "RFC 5280 §4.1.2.5",
                          buf_cstr(&e), "The certificate expired %ld days ago", -c->days_left);
    else
        probe_finding_add(&p->findings, "tls.cert.expired", ST_PASS, SEV_HIGH, "RFC 5280 §4.1.2.5",
                          "", "The certificate is valid for %ld more days", c->days_left);
    struct buf sans = BUF_INIT;
    for (size_t i = 0; i < c->n_sans; i++)
        buf_printf(&sans, "%s%s", i ? ", " : "", c->sans[i]);
    probe_finding_add(&p->findings, "tls.cert.hostname", c->hostname_match ? ST_PASS : ST_FAIL,
                      SEV_MEDIUM, "RFC 6125 §6; RFC 9525", buf_cstr(&sans),
                      c->hostname_match ? "The certificate matches %s"
                                        : "The certificate does not match %s",
                      p->ep.host);
    buf_free(&sans);
    bool weak_key = (strcmp(c->key_type, "RSA") == 0 && c->key_bits < 2048) ||
                    (strcmp(c->key_type, "DSA") == 0 && c->key_bits < 2048) ||
                    (strcmp(c->key_type, "EC") == 0 && c->key_bits < 256);
    probe_finding_add(&p->findings, "tls.cert.weak_key", weak_key ? ST_FAIL : ST_PASS, SEV_HIGH,
                      "RFC 9325 §4.3; NIST SP 800-57", "", "%s key of %u bits", c->key_type,
                      c->key_bits);
    buf_free(&e);
}

void probe_tls_checks(struct probe_port *p)
{
    const struct tls_scan_result *r = p->tls;
    if (!r)
        return;
    if (!r->reachable) {
        probe_finding_add(&p->findings, "tls.legacy_protocol", ST_SKIPPED, SEV_HIGH, "RFC 8996",
                          r->error, "TLS inspection failed: %s", r->error);
        return;
    }
    struct buf legacy = BUF_INIT;
    for (int v = TLS_V_SSL3; v <= TLS_V_1_1; v++)
        if (r->versions[v] == TLS_SUPPORT_YES)
            buf_printf(&legacy, "%s%s", legacy.len ? ", " : "", version_names[v]);
    if (legacy.len)
        probe_finding_add(&p->findings, "tls.legacy_protocol", ST_FAIL, SEV_HIGH,
                          "RFC 8996; RFC 7568", buf_cstr(&legacy),
                          "Deprecated protocols accepted: %s", buf_cstr(&legacy));
    else
        probe_finding_add(&p->findings, "tls.legacy_protocol", ST_PASS, SEV_HIGH, "RFC 8996", "",
                          "No SSLv3, TLS 1.0 or TLS 1.1");
    buf_free(&legacy);
    cipher_checks(p, r);
    cert_checks(p, &r->cert);
    probe_tls_alpaca(&p->findings, r, p->proto);
}

/* How widely a certificate is likely shared: what ALPACA needs is a
 * certificate that a browser also accepts for a web server's name. */
enum cert_scope { CERT_UNSEEN, CERT_SINGLE, CERT_SHARED };

/* The DNS names the certificate is for, listed in `names`: its dNSName SANs,
 * or its CN when it has none (RFC 6125 §6.4.4, as OpenSSL matches).
 * IP addresses do not count: they name this host only. */
static enum cert_scope cert_scope(const struct tls_cert_info *c, struct buf *names)
{
    if (!c->present)
        return CERT_UNSEEN;
    size_t n = 0;
    bool wildcard = false;
    for (size_t i = 0; i < c->n_sans; i++) {
        if (strncmp(c->sans[i], "DNS:", 4) != 0)
            continue;
        const char *name = c->sans[i] + 4;
        buf_printf(names, "%s%s", n++ ? ", " : "", name);
        wildcard = wildcard || strchr(name, '*') != NULL;
    }
    if (n == 0 && c->common_name[0]) {
        buf_puts(names, c->common_name);
        n = 1;
        wildcard = strchr(c->common_name, '*') != NULL;
    }
    return wildcard || n > 1 ? CERT_SHARED : CERT_SINGLE;
}

void probe_tls_alpaca(struct probe_findings *f, const struct tls_scan_result *r,
                      enum probe_proto proto)
{
    static const char refs[] = "RFC 9325 §3.4; RFC 7301 §3.2; ALPACA (USENIX Security 2021)";
    const char *other = proto == PROBE_PROTO_IMAP ? "pop3" : "imap";
    bool http = r->alpn_http == TLS_SUPPORT_YES, mail = r->alpn_other == TLS_SUPPORT_YES;
    bool http_sel = http && r->alpn_http_selected, mail_sel = mail && r->alpn_other_selected;
    bool ignores = (http && !http_sel) || (mail && !mail_sel);
    bool sni = r->sni_unrelated == TLS_SUPPORT_YES;

    struct buf why = BUF_INIT, names = BUF_INIT;
    if (http)
        buf_printf(&why, "ALPN http/1.1 %s", http_sel ? "selected" : "accepted, none selected");
    if (mail)
        buf_printf(&why, "%sALPN %s %s", why.len ? "; " : "", other,
                   mail_sel ? "selected" : "accepted, none selected");
    if (sni)
        buf_printf(&why, "%sunrelated SNI accepted", why.len ? "; " : "");
    enum cert_scope scope = cert_scope(&r->cert, &names);
    if (why.len)
        buf_printf(&why, "; certificate for %s",
                   scope == CERT_UNSEEN ? "(not seen)"
                   : names.len          ? buf_cstr(&names)
                                        : "no DNS name");

    /* The attack is a browser talking HTTPS to a name whose TCP traffic is
     * redirected to the mail server; the browser must accept the mail
     * server's certificate for that name. A server that selects http/1.1 (or
     * the other mail protocol) takes part whatever its certificate; one that
     * ignores ALPN only where the certificate also covers other services. */
    if (http_sel || mail_sel)
        probe_finding_add(f, "tls.alpaca", ST_FAIL, SEV_HIGH, refs, buf_cstr(&why),
                          "Open to cross-protocol attacks (ALPACA): the server selects ALPN %s "
                          "on this %s port; make it refuse protocols it does not serve",
                          http_sel ? "http/1.1" : other, probe_proto_name(proto));
    else if (ignores && scope != CERT_SINGLE)
        probe_finding_add(f, "tls.alpaca", ST_FAIL, SEV_MEDIUM, refs, buf_cstr(&why),
                          "Open to cross-protocol attacks (ALPACA): ALPN is ignored and the "
                          "certificate %s; use strict ALPN where the server has it, else a "
                          "certificate for the mail host alone",
                          scope == CERT_UNSEEN ? "was not seen"
                                               : "is likely shared with other services");
    else if (ignores)
        probe_finding_add(f, "tls.alpaca", ST_FAIL, SEV_LOW, refs, buf_cstr(&why),
                          "ALPN is ignored (ALPACA), with a certificate for %s%s; use strict ALPN "
                          "where the server has it, else keep this certificate for mail only",
                          names.len ? buf_cstr(&names) : "IP addresses", names.len ? " alone" : "");
    else if (sni)
        probe_finding_add(f, "tls.alpaca", ST_FAIL, SEV_LOW, refs, buf_cstr(&why),
                          "An unrelated SNI name is accepted (ALPACA, defence in depth for "
                          "certificates shared between hosts)");
    else
        probe_finding_add(f, "tls.alpaca", ST_PASS, SEV_HIGH, "RFC 9325 §3.4; RFC 7301 §3.2", "",
                          "No foreign ALPN or unrelated SNI was accepted");
    buf_free(&names);
    buf_free(&why);
}
