/* From what a port showed to findings (probe.h, docs/findings.md). */
#include "probe/probe.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_IMAP_TLS "RFC 9051 §6.2.1, §11.1; RFC 8314 §3"
#define REF_POP3_TLS "RFC 2595 §4; RFC 8314 §3"
#define REF_INJECTION "RFC 9051 §6.2.1; RFC 2595 §4; CVE-2011-0411; CVE-2021-33515"

static const char *ev(const struct probe_port *p, enum probe_evidence e)
{
    return buf_cstr(&p->evidence[e]);
}

static void fingerprint(struct probe_port *p)
{
    struct buf greeting = BUF_INIT;
    buf_append(&greeting, p->greeting.data, strcspn(buf_cstr(&p->greeting), "\r\n"));
    struct probe_signals s = {
        .pop3 = p->proto == PROBE_PROTO_POP3,
        .greeting = buf_cstr(&greeting),
        .caps = p->have_caps ? &p->caps : (p->have_caps_tls ? &p->caps_tls : NULL),
        .caps_ok_text = buf_cstr(&p->caps_ok_text),
        .id_name = probe_id_field(&p->id, "name"),
        .id_version = probe_id_field(&p->id, "version"),
        .bogus = p->have_bogus ? buf_cstr(&p->bogus) : NULL,
        .empty = p->have_empty ? buf_cstr(&p->empty) : NULL,
        .http = p->have_http ? buf_cstr(&p->http) : NULL,
    };
    p->n_matches = probe_fingerprint(&s, p->matches, sizeof(p->matches) / sizeof(p->matches[0]));
    buf_free(&greeting);
}

static void auth_checks(struct probe_port *p, const struct probe_options *opt, bool cleartext)
{
    bool imap = p->proto == PROBE_PROTO_IMAP;
    if (cleartext) {
        /* Passwords accepted before TLS: IMAP without LOGINDISABLED (RFC 9051
         * §6.2.3), or PLAIN/LOGIN offered; POP3 USER accepted, or SASL PLAIN. */
        bool plain_mech =
            probe_strlist_has(&p->sasl, "PLAIN") || probe_strlist_has(&p->sasl, "LOGIN");
        bool fail;
        struct buf why = BUF_INIT;
        if (imap) {
            fail = p->have_caps && (!probe_strlist_has(&p->caps, "LOGINDISABLED") || plain_mech);
            buf_puts(&why, probe_strlist_has(&p->caps, "LOGINDISABLED") ? "AUTH=PLAIN/LOGIN offered"
                                                                        : "no LOGINDISABLED");
        } else {
            fail = p->user_accepted_pre_tls || plain_mech;
            buf_puts(&why, p->user_accepted_pre_tls ? "USER of a made-up name accepted"
                                                    : "SASL PLAIN/LOGIN offered");
        }
        struct buf e = BUF_INIT;
        buf_puts(&e, ev(p, EV_CAPS));
        if (!imap)
            buf_puts(&e, ev(p, EV_USER));
        if (fail)
            probe_finding_add(&p->findings, "auth.plaintext_pre_tls", ST_FAIL, SEV_HIGH,
                              imap ? REF_IMAP_TLS : REF_POP3_TLS, buf_cstr(&e),
                              "Passwords are accepted before TLS (%s)", buf_cstr(&why));
        else
            probe_finding_add(&p->findings, "auth.plaintext_pre_tls", ST_PASS, SEV_HIGH,
                              imap ? REF_IMAP_TLS : REF_POP3_TLS, buf_cstr(&e),
                              "Login is refused before TLS");
        buf_free(&e);
        buf_free(&why);
    }

    /* Mechanisms that need passwords stored reversibly (RFC 6331 moved
     * DIGEST-MD5 to Historic; CRAM-MD5 and APOP keep them in clear). */
    static const char *const weak[] = {"CRAM-MD5", "DIGEST-MD5", "NTLM"};
    struct buf found = BUF_INIT;
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
        if (probe_strlist_has(&p->sasl, weak[i]) || probe_strlist_has(&p->sasl_tls, weak[i]))
            buf_printf(&found, "%s%s", found.len ? ", " : "", weak[i]);
    if (p->have_apop)
        buf_printf(&found, "%sAPOP", found.len ? ", " : "");
    struct buf e = BUF_INIT;
    buf_puts(&e, ev(p, EV_GREETING));
    buf_puts(&e, ev(p, EV_CAPS));
    buf_puts(&e, ev(p, EV_CAPS_TLS));
    if (found.len)
        probe_finding_add(&p->findings, "auth.weak_mechanism", ST_FAIL, SEV_MEDIUM,
                          "RFC 6331; RFC 2195 §3; RFC 1939 §7", buf_cstr(&e),
                          "Mechanisms that imply reversibly stored passwords: %s",
                          buf_cstr(&found));
    else
        probe_finding_add(&p->findings, "auth.weak_mechanism", ST_PASS, SEV_MEDIUM,
                          "RFC 6331; RFC 2195 §3; RFC 1939 §7", "",
                          "No CRAM-MD5, DIGEST-MD5, NTLM or APOP");
    buf_free(&e);
    buf_free(&found);

    bool anon =
        probe_strlist_has(&p->sasl, "ANONYMOUS") || probe_strlist_has(&p->sasl_tls, "ANONYMOUS");
    if (p->anon_tested)
        probe_finding_add(&p->findings, "auth.anonymous", p->anon_ok ? ST_FAIL : ST_PASS, SEV_HIGH,
                          "RFC 4505", ev(p, EV_ANON),
                          p->anon_ok ? "Anonymous login succeeded"
                                     : "ANONYMOUS is offered but the login was refused");
    else if (anon)
        probe_finding_add(&p->findings, "auth.anonymous", ST_FAIL, SEV_MEDIUM, "RFC 4505",
                          ev(p, EV_CAPS), "ANONYMOUS is offered (not tried without --intrusive)");
    else
        probe_finding_add(&p->findings, "auth.anonymous", ST_PASS, SEV_HIGH, "RFC 4505", "",
                          "ANONYMOUS is not offered");

    if (p->throttle_unclear) {
        probe_finding_add(&p->findings, "auth.no_throttling", ST_SKIPPED, SEV_MEDIUM, "RFC 4422 §9",
                          ev(p, EV_THROTTLE),
                          "Failed-login throttling: a wrong login was not answered as a failure");
    } else if (p->throttle_tested) {
        struct buf t = BUF_INIT;
        for (int i = 0; i < 3 && p->throttle_ms[i] > 0; i++)
            buf_printf(&t, "%s%.0f ms", i ? ", " : "", p->throttle_ms[i]);
        probe_finding_add(&p->findings, "auth.no_throttling", p->throttled ? ST_PASS : ST_FAIL,
                          SEV_MEDIUM, "RFC 4422 §9; OWASP ASVS 2.2.1", ev(p, EV_THROTTLE),
                          p->throttled ? "Failed logins are slowed down or cut off (%s)"
                                       : "Three failed logins were answered at once (%s)",
                          buf_cstr(&t));
        buf_free(&t);
    } else {
        probe_finding_add(&p->findings, "auth.no_throttling", ST_SKIPPED, SEV_MEDIUM, "RFC 4422 §9",
                          "", "Failed-login throttling: %s",
                          !opt->intrusive ? "needs --intrusive"
                          : p->anon_ok    ? "not tried after the anonymous login"
                                          : "not tried (needs TLS on the main connection)");
    }
}

static void disclosure_checks(struct probe_port *p)
{
    const char *version = NULL;
    for (size_t i = 0; i < p->n_matches; i++)
        if (p->matches[i].version[0]) {
            version = p->matches[i].version;
            break;
        }
    const char *id_version = probe_id_field(&p->id, "version");
    if (id_version && *id_version)
        version = id_version;
    struct buf e = BUF_INIT;
    buf_puts(&e, ev(p, EV_GREETING));
    buf_puts(&e, ev(p, EV_ID));
    if (version)
        probe_finding_add(&p->findings, "disclosure.version", ST_FAIL, SEV_LOW, "RFC 2971 §5",
                          buf_cstr(&e), "The software version is shown before login: %s", version);
    else
        probe_finding_add(&p->findings, "disclosure.version", ST_PASS, SEV_LOW, "RFC 2971 §5",
                          buf_cstr(&e), "No version shown before login");
    buf_free(&e);

    if (p->have_id) {
        struct buf fields = BUF_INIT;
        for (size_t i = 0; i + 1 < p->id.n; i += 2)
            if (strcasecmp(p->id.v[i], "name") != 0 && strcasecmp(p->id.v[i], "vendor") != 0 &&
                strcasecmp(p->id.v[i], "support-url") != 0)
                buf_printf(&fields, "%s%s", fields.len ? ", " : "", p->id.v[i]);
        if (fields.len)
            probe_finding_add(&p->findings, "disclosure.id", ST_FAIL, SEV_LOW, "RFC 2971 §5",
                              ev(p, EV_ID), "ID answers before login with: %s", buf_cstr(&fields));
        else
            probe_finding_add(&p->findings, "disclosure.id", ST_PASS, SEV_LOW, "RFC 2971 §5",
                              ev(p, EV_ID), "ID shows no more than the product name");
        buf_free(&fields);
    }
    if (p->proto == PROBE_PROTO_POP3) {
        if (p->have_apop)
            probe_finding_add(&p->findings, "disclosure.apop_host", ST_FAIL, SEV_LOW, "RFC 1939 §7",
                              ev(p, EV_GREETING),
                              "The APOP timestamp %s shows the host name %s%s%s", p->apop.timestamp,
                              p->apop.host, p->apop.pid[0] ? " and process id " : "", p->apop.pid);
        else
            probe_finding_add(&p->findings, "disclosure.apop_host", ST_PASS, SEV_LOW, "RFC 1939 §7",
                              "", "No APOP timestamp in the greeting");
    }
    if (p->have_ntlm) {
        const struct probe_ntlm_challenge *n = &p->ntlm;
        struct buf t = BUF_INIT;
        buf_printf(&t, "target %s, NetBIOS %s\\%s, DNS %s (domain %s, forest %s)", n->target_name,
                   n->nb_domain, n->nb_computer, n->dns_computer, n->dns_domain, n->dns_tree);
        if (n->has_version)
            buf_printf(&t, ", Windows %u.%u build %u", n->os_major, n->os_minor, n->os_build);
        if (n->has_timestamp)
            buf_printf(&t, ", clock skew %+lld s",
                       (long long)(n->timestamp - (int64_t)p->ntlm_received));
        probe_finding_add(&p->findings, "disclosure.ntlm", ST_FAIL, SEV_LOW,
                          "MS-NLMP §2.2.1.2, §2.2.2.1", ev(p, EV_NTLM),
                          "The NTLM challenge discloses %s", buf_cstr(&t));
        buf_free(&t);
    }
}

void probe_port_checks(struct probe_port *p, const struct probe_options *opt)
{
    fingerprint(p);
    if (!p->transport)
        return;
    bool cleartext = strcmp(p->transport, "cleartext") == 0;
    bool imap = p->proto == PROBE_PROTO_IMAP;
    if (cleartext) {
        if (!p->have_caps && !p->starttls_offered)
            probe_finding_add(&p->findings, "starttls.missing", ST_SKIPPED, SEV_HIGH,
                              imap ? REF_IMAP_TLS : REF_POP3_TLS, ev(p, EV_CAPS),
                              "No capability list seen: STARTTLS not checked");
        else if (p->starttls_offered && p->starttls_ok)
            probe_finding_add(&p->findings, "starttls.missing", ST_PASS, SEV_HIGH,
                              imap ? REF_IMAP_TLS : REF_POP3_TLS, ev(p, EV_STARTTLS),
                              "%s is offered and works", imap ? "STARTTLS" : "STLS");
        else
            probe_finding_add(&p->findings, "starttls.missing", ST_FAIL, SEV_HIGH,
                              imap ? REF_IMAP_TLS : REF_POP3_TLS,
                              p->starttls_offered ? ev(p, EV_STARTTLS) : ev(p, EV_CAPS),
                              p->starttls_offered
                                  ? "%s is offered but does not work"
                                  : "No %s: everything crosses the network in clear",
                              imap ? "STARTTLS" : "STLS");
        if (p->injection_tested)
            probe_finding_add(&p->findings, "starttls.injection", p->injection ? ST_FAIL : ST_PASS,
                              SEV_HIGH, REF_INJECTION, ev(p, EV_INJECTION),
                              p->injection
                                  ? "A command sent in clear with %s was answered inside TLS"
                                  : "A command pipelined with %s was not answered inside TLS",
                              imap ? "STARTTLS" : "STLS");
    }
    auth_checks(p, opt, cleartext);
    disclosure_checks(p);
    probe_tls_checks(p);
    probe_findings_sort(&p->findings);
}
