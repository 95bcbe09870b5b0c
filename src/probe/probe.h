/* `gannet probe`: footprints IMAP/POP3 services (docs/probe.md). One libevent
 * loop probes every port of every target at once, bounded by a global
 * concurrency limit and per-connection timeouts. Each port gets one main
 * connection that walks through the checks in order (greeting, CAPABILITY,
 * ID, odd inputs, NTLM, STARTTLS and its injection test, intrusive checks
 * when allowed, login when credentials are given), and a TLS inspection
 * (tls-scan.h) on its own connections, concurrently. */
#ifndef GANNET_PROBE_PROBE_H
#define GANNET_PROBE_PROBE_H

#include "lib/buf.h"
#include "probe/findings.h"
#include "probe/fingerprint.h"
#include "probe/parse.h"
#include "probe/target.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

struct event_base;
struct tls_scan_result;

struct probe_options {
    bool json, trace, intrusive;
    const char *source;  /* local address to bind, or NULL */
    const char *ca_file; /* trust store for the certificate check, or NULL (system) */
    const char *user, *password;
    unsigned timeout_ms;  /* per exchange and per connection */
    unsigned concurrency; /* ports probed at once */
    enum probe_severity fail_on;
    bool no_tls_scan; /* --no-tls-scan: skip the TLS inspection */
};

/* What the main connection learned; indexes into probe_port.evidence. */
enum probe_evidence {
    EV_GREETING,
    EV_CAPS,
    EV_CAPS_TLS,
    EV_ID,
    EV_BOGUS,
    EV_EMPTY,
    EV_HTTP,
    EV_NTLM,
    EV_USER,
    EV_STARTTLS,
    EV_INJECTION,
    EV_ANON,
    EV_THROTTLE,
    EV_LOGIN,
    EV_COUNT,
};

struct probe_port_private;

/* One port of one target. Owned by the probe_run. */
struct probe_port {
    struct probe_endpoint ep;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char dest[80];   /* "127.0.0.1:993" */
    char source[80]; /* local address of the main connection */
    bool same_host;  /* source address == destination address */
    enum probe_proto proto;
    const char *transport; /* "cleartext", "implicit-tls", or NULL when unreachable */
    bool tls_legacy_only;  /* implicit TLS answered only the legacy ClientHello */
    char error[256];
    struct buf greeting; /* raw bytes of the first line */
    bool have_caps, have_caps_tls, have_caps_login;
    struct probe_strlist caps, caps_tls, caps_login;
    struct buf caps_ok_text;
    struct probe_strlist sasl, sasl_tls;
    bool have_id;
    struct probe_strlist id;
    bool have_apop;
    struct probe_apop apop;
    bool have_bogus, have_empty, have_http;
    struct buf bogus, empty, http;
    bool user_accepted_pre_tls; /* POP3 USER answered +OK in clear */
    bool starttls_offered, starttls_tried, starttls_ok;
    bool injection_tested, injection; /* an answer to the pipelined command came inside TLS */
    bool have_ntlm;
    struct probe_ntlm_challenge ntlm;
    time_t ntlm_received;
    bool anon_tested, anon_ok;
    bool throttle_tested, throttled;
    bool throttle_unclear; /* a wrong login got an answer that was not a failure */
    double throttle_ms[3];
    bool login_tested, login_ok;
    struct probe_match matches[3];
    size_t n_matches;
    bool tls_scanned;
    struct tls_scan_result *tls; /* NULL when not scanned */
    char tls_skip_reason[128];
    struct probe_findings findings;
    double seconds;
    struct buf evidence[EV_COUNT];
    struct probe_port_private *priv;
};

struct probe_run {
    const struct probe_options *opt;
    struct probe_port *ports;
    size_t n_ports;
    time_t started;
    double seconds;
    char **targets;
    size_t n_targets;
};

/* Parses the targets, resolves them and probes every port; fills run.
 * Returns 0, or -1 with a message on stderr (bad target, name not found). */
int probe_run(struct probe_run *run, const struct probe_options *opt, char **targets,
              size_t n_targets);
void probe_run_free(struct probe_run *run);

/* Turns what a port showed into findings (checks.c). */
void probe_port_checks(struct probe_port *p, const struct probe_options *opt);

/* The TLS inspection of a port (probe-tls.c): starts tls_scan_start when the
 * port has TLS; done() runs when the result is in p->tls. Returns false when
 * no scan was started (then done() is not called). */
bool probe_tls_start(struct probe_port *p, struct event_base *base, const struct probe_options *opt,
                     const struct sockaddr *source, socklen_t source_len,
                     void (*done)(struct probe_port *p));
void probe_tls_checks(struct probe_port *p);
/* The tls.alpaca finding of a TLS inspection, graded by what the ALPACA attack
 * needs (docs/findings.md): high when the server selects http/1.1 or the other
 * mail protocol; when it ignores ALPN, medium with a certificate likely shared
 * with other services (a wildcard, or more than one DNS name), low with a
 * certificate for one DNS name (IP addresses aside); low for an unrelated SNI
 * name accepted alone. */
void probe_tls_alpaca(struct probe_findings *f, const struct tls_scan_result *r,
                      enum probe_proto proto);
void probe_tls_free(struct probe_port *p);

/* Reports (report.c). Exit status: 0, or 2 when a finding at or above
 * opt->fail_on failed. */
void probe_report_text(FILE *out, const struct probe_run *run);
void probe_report_json(FILE *out, const struct probe_run *run);
int probe_exit_status(const struct probe_run *run);
/* A JSON string literal (RFC 8259 §7), quotes included. */
void probe_json_string(struct buf *out, const char *s, size_t len);

#endif
