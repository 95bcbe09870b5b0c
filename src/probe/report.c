/* Reports of `gannet probe`: a table for people and one JSON document for
 * tools (schema in docs/probe.md). */
#include "probe/probe.h"

#include "probe/tls-scan.h"

#include "lib/utf8.h"

#include <stdlib.h>
#include <string.h>

/* ---- JSON ------------------------------------------------------------------ */

void probe_json_string(struct buf *out, const char *s, size_t len)
{
    buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            buf_puts(out, "\\\"");
            break;
        case '\\':
            buf_puts(out, "\\\\");
            break;
        case '\n':
            buf_puts(out, "\\n");
            break;
        case '\r':
            buf_puts(out, "\\r");
            break;
        case '\t':
            buf_puts(out, "\\t");
            break;
        default: {
            /* Valid UTF-8 passes; control bytes and other bytes outside ASCII
             * (protocol bytes are not known to be UTF-8) become \u00XX, i.e.
             * are read as Latin-1. */
            size_t n = utf8_seq_len(s + i, len - i);
            if (n > 1) {
                buf_append(out, s + i, n);
                i += n - 1;
            } else if (c < 0x20 || c >= 0x7f)
                buf_printf(out, "\\u%04x", c);
            else
                buf_putc(out, (char)c);
        }
        }
    }
    buf_putc(out, '"');
}

static void js(struct buf *o, const char *s)
{
    if (!s)
        buf_puts(o, "null");
    else
        probe_json_string(o, s, strlen(s));
}

static void jkey(struct buf *o, bool *first, const char *key)
{
    if (!*first)
        buf_putc(o, ',');
    *first = false;
    js(o, key);
    buf_putc(o, ':');
}

static void jlist(struct buf *o, const struct probe_strlist *l, bool present)
{
    if (!present) {
        buf_puts(o, "null");
        return;
    }
    buf_putc(o, '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            buf_putc(o, ',');
        js(o, l->v[i]);
    }
    buf_putc(o, ']');
}

/* Items of a that are not in b. */
static void jdiff(struct buf *o, const struct probe_strlist *a, const struct probe_strlist *b)
{
    buf_putc(o, '[');
    bool first = true;
    for (size_t i = 0; i < a->n; i++)
        if (!probe_strlist_has(b, a->v[i])) {
            if (!first)
                buf_putc(o, ',');
            first = false;
            js(o, a->v[i]);
        }
    buf_putc(o, ']');
}

static const char *support_name(enum tls_support s)
{
    switch (s) {
    case TLS_SUPPORT_YES:
        return "yes";
    case TLS_SUPPORT_NO:
        return "no";
    case TLS_SUPPORT_UNTESTABLE:
        return "untestable";
    default:
        return "unknown";
    }
}

static void json_classes(struct buf *o, unsigned c)
{
    static const char *const names[] = {"fs",     "aead", "cbc",  "anon", "null",
                                        "export", "rc4",  "3des", "weak"};
    buf_putc(o, '[');
    bool first = true;
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (c & (1u << i)) {
            if (!first)
                buf_putc(o, ',');
            first = false;
            js(o, names[i]);
        }
    buf_putc(o, ']');
}

static void json_tls(struct buf *o, const struct probe_port *p)
{
    const struct tls_scan_result *r = p->tls;
    if (!r) {
        buf_puts(o, "null");
        return;
    }
    static const char *const vn[TLS_V_COUNT] = {"SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2",
                                                "TLSv1.3"};
    bool f = true;
    buf_putc(o, '{');
    jkey(o, &f, "reachable");
    buf_puts(o, r->reachable ? "true" : "false");
    jkey(o, &f, "error");
    js(o, r->reachable ? NULL : r->error);
    jkey(o, &f, "versions");
    buf_putc(o, '{');
    for (int v = 0; v < TLS_V_COUNT; v++) {
        if (v)
            buf_putc(o, ',');
        buf_printf(o, "\"%s\":\"%s\"", vn[v], support_name(r->versions[v]));
    }
    buf_putc(o, '}');
    jkey(o, &f, "ciphers");
    buf_putc(o, '{');
    for (int v = 0; v < TLS_V_COUNT; v++) {
        if (v)
            buf_putc(o, ',');
        buf_printf(o, "\"%s\":[", vn[v]);
        for (size_t i = 0; i < r->n_ciphers[v]; i++) {
            const struct tls_cipher *c = &r->ciphers[v][i];
            bool g = true;
            buf_puts(o, i ? ",{" : "{");
            jkey(o, &g, "name");
            js(o, c->name);
            jkey(o, &g, "iana_name");
            js(o, c->iana_name);
            jkey(o, &g, "bits");
            buf_printf(o, "%u", c->bits);
            jkey(o, &g, "classes");
            json_classes(o, c->classes);
            buf_putc(o, '}');
        }
        buf_putc(o, ']');
    }
    buf_putc(o, '}');
    jkey(o, &f, "server_preference");
    buf_puts(o, r->server_preference ? "true" : "false");
    jkey(o, &f, "groups");
    buf_putc(o, '[');
    for (size_t i = 0; i < r->n_groups; i++) {
        if (i)
            buf_putc(o, ',');
        js(o, r->groups[i]);
    }
    buf_putc(o, ']');
    jkey(o, &f, "dh_bits");
    buf_printf(o, "%u", r->dh_bits);
    jkey(o, &f, "alpn");
    buf_printf(o,
               "{\"http/1.1\":\"%s\",\"other_mail_protocol\":\"%s\",\"own\":\"%s\","
               "\"http/1.1_selected\":%s,\"other_mail_protocol_selected\":%s,\"selected\":",
               support_name(r->alpn_http), support_name(r->alpn_other), support_name(r->alpn_own),
               r->alpn_http_selected ? "true" : "false", r->alpn_other_selected ? "true" : "false");
    js(o, r->alpn_selected);
    buf_putc(o, '}');
    jkey(o, &f, "sni_unrelated");
    js(o, support_name(r->sni_unrelated));
    jkey(o, &f, "handshakes");
    buf_printf(o, "%zu", r->handshakes);
    jkey(o, &f, "certificate");
    const struct tls_cert_info *c = &r->cert;
    if (!c->present) {
        buf_puts(o, "null");
    } else {
        bool g = true;
        buf_putc(o, '{');
        jkey(o, &g, "subject");
        js(o, c->subject);
        jkey(o, &g, "issuer");
        js(o, c->issuer);
        jkey(o, &g, "sans");
        buf_putc(o, '[');
        for (size_t i = 0; i < c->n_sans; i++) {
            if (i)
                buf_putc(o, ',');
            js(o, c->sans[i]);
        }
        buf_putc(o, ']');
        jkey(o, &g, "not_before");
        buf_printf(o, "%lld", (long long)c->not_before);
        jkey(o, &g, "not_after");
        buf_printf(o, "%lld", (long long)c->not_after);
        jkey(o, &g, "days_left");
        buf_printf(o, "%ld", c->days_left);
        jkey(o, &g, "self_signed");
        buf_puts(o, c->self_signed ? "true" : "false");
        jkey(o, &g, "trusted");
        buf_puts(o, c->trusted ? "true" : "false");
        jkey(o, &g, "verify_error");
        js(o, c->verify_error);
        jkey(o, &g, "hostname_match");
        buf_puts(o, c->hostname_match ? "true" : "false");
        jkey(o, &g, "key_type");
        js(o, c->key_type);
        jkey(o, &g, "key_bits");
        buf_printf(o, "%u", c->key_bits);
        jkey(o, &g, "signature_algorithm");
        js(o, c->signature_algorithm);
        jkey(o, &g, "sha256");
        js(o, c->sha256);
        jkey(o, &g, "pem");
        js(o, c->pem);
        buf_putc(o, '}');
    }
    buf_putc(o, '}');
}

static void json_port(struct buf *o, const struct probe_port *p)
{
    bool f = true;
    buf_putc(o, '{');
    jkey(o, &f, "target");
    js(o, p->ep.host);
    jkey(o, &f, "port");
    buf_printf(o, "%u", p->ep.port);
    jkey(o, &f, "destination");
    js(o, p->dest);
    jkey(o, &f, "source");
    js(o, p->source[0] ? p->source : NULL);
    jkey(o, &f, "same_host");
    buf_puts(o, p->same_host ? "true" : "false");
    jkey(o, &f, "protocol");
    js(o, p->proto == PROBE_PROTO_UNKNOWN ? NULL : probe_proto_name(p->proto));
    jkey(o, &f, "transport");
    js(o, p->transport);
    jkey(o, &f, "tls_legacy_only");
    buf_puts(o, p->tls_legacy_only ? "true" : "false");
    jkey(o, &f, "error");
    js(o, p->error[0] ? p->error : NULL);
    jkey(o, &f, "duration");
    buf_printf(o, "%.3f", p->seconds);
    jkey(o, &f, "greeting");
    if (p->greeting.len)
        probe_json_string(o, p->greeting.data, p->greeting.len);
    else
        buf_puts(o, "null");
    jkey(o, &f, "product");
    if (p->n_matches) {
        const struct probe_match *m = &p->matches[0];
        buf_printf(o, "{\"name\":");
        js(o, m->product);
        buf_puts(o, ",\"version\":");
        js(o, m->version[0] ? m->version : NULL);
        buf_printf(o, ",\"confidence\":%u,\"signals\":", m->confidence);
        js(o, buf_cstr(&m->signals));
        buf_putc(o, '}');
    } else {
        buf_puts(o, "null");
    }
    jkey(o, &f, "candidates");
    buf_putc(o, '[');
    for (size_t i = 0; i < p->n_matches; i++) {
        if (i)
            buf_putc(o, ',');
        buf_puts(o, "{\"name\":");
        js(o, p->matches[i].product);
        buf_printf(o, ",\"confidence\":%u}", p->matches[i].confidence);
    }
    buf_putc(o, ']');
    jkey(o, &f, "id");
    if (p->have_id) {
        buf_putc(o, '{');
        for (size_t i = 0; i + 1 < p->id.n; i += 2) {
            if (i)
                buf_putc(o, ',');
            js(o, p->id.v[i]);
            buf_putc(o, ':');
            js(o, p->id.v[i + 1]);
        }
        buf_putc(o, '}');
    } else {
        buf_puts(o, "null");
    }
    jkey(o, &f, "apop");
    if (p->have_apop) {
        buf_puts(o, "{\"timestamp\":");
        js(o, p->apop.timestamp);
        buf_puts(o, ",\"host\":");
        js(o, p->apop.host);
        buf_puts(o, ",\"pid\":");
        js(o, p->apop.pid[0] ? p->apop.pid : NULL);
        buf_putc(o, '}');
    } else {
        buf_puts(o, "null");
    }
    jkey(o, &f, "capabilities");
    buf_puts(o, "{\"pre_tls\":");
    bool implicit = p->transport && strcmp(p->transport, "implicit-tls") == 0;
    jlist(o, &p->caps, p->have_caps && !implicit);
    buf_puts(o, ",\"tls\":");
    jlist(o, implicit ? &p->caps : &p->caps_tls, implicit ? p->have_caps : p->have_caps_tls);
    buf_puts(o, ",\"login\":");
    jlist(o, &p->caps_login, p->have_caps_login);
    buf_puts(o, ",\"added_by_tls\":");
    jdiff(o, &p->caps_tls, &p->caps);
    buf_puts(o, ",\"removed_by_tls\":");
    if (p->have_caps_tls)
        jdiff(o, &p->caps, &p->caps_tls);
    else
        buf_puts(o, "[]");
    buf_puts(o, ",\"added_by_login\":");
    jdiff(o, &p->caps_login, p->have_caps_tls ? &p->caps_tls : &p->caps);
    buf_puts(o, ",\"ok_text\":");
    js(o, p->caps_ok_text.len ? buf_cstr(&p->caps_ok_text) : NULL);
    buf_putc(o, '}');
    jkey(o, &f, "sasl");
    buf_puts(o, "{\"pre_tls\":");
    jlist(o, &p->sasl, p->have_caps && !implicit);
    buf_puts(o, ",\"tls\":");
    jlist(o, implicit ? &p->sasl : &p->sasl_tls, implicit ? p->have_caps : p->have_caps_tls);
    buf_putc(o, '}');
    jkey(o, &f, "starttls");
    buf_printf(o, "{\"offered\":%s,\"works\":%s,\"injection\":%s}",
               p->starttls_offered ? "true" : "false", p->starttls_ok ? "true" : "false",
               p->injection_tested ? (p->injection ? "true" : "false") : "null");
    jkey(o, &f, "answers");
    buf_puts(o, "{\"bogus_command\":");
    js(o, p->have_bogus ? buf_cstr(&p->bogus) : NULL);
    buf_puts(o, ",\"empty_line\":");
    js(o, p->have_empty ? buf_cstr(&p->empty) : NULL);
    buf_puts(o, ",\"http\":");
    js(o, p->have_http ? buf_cstr(&p->http) : NULL);
    buf_putc(o, '}');
    jkey(o, &f, "ntlm");
    if (p->have_ntlm) {
        const struct probe_ntlm_challenge *n = &p->ntlm;
        buf_puts(o, "{\"target_name\":");
        js(o, n->target_name);
        buf_puts(o, ",\"netbios_computer\":");
        js(o, n->nb_computer);
        buf_puts(o, ",\"netbios_domain\":");
        js(o, n->nb_domain);
        buf_puts(o, ",\"dns_computer\":");
        js(o, n->dns_computer);
        buf_puts(o, ",\"dns_domain\":");
        js(o, n->dns_domain);
        buf_puts(o, ",\"dns_tree\":");
        js(o, n->dns_tree);
        if (n->has_version)
            buf_printf(o, ",\"os_version\":\"%u.%u.%u\"", n->os_major, n->os_minor, n->os_build);
        if (n->has_timestamp)
            buf_printf(o, ",\"timestamp\":%lld,\"clock_skew\":%lld", (long long)n->timestamp,
                       (long long)(n->timestamp - (int64_t)p->ntlm_received));
        buf_putc(o, '}');
    } else {
        buf_puts(o, "null");
    }
    jkey(o, &f, "tls");
    json_tls(o, p);
    jkey(o, &f, "tls_skipped");
    js(o, p->tls_skip_reason[0] ? p->tls_skip_reason : NULL);
    jkey(o, &f, "findings");
    buf_putc(o, '[');
    for (size_t i = 0; i < p->findings.n; i++) {
        const struct probe_finding *x = &p->findings.v[i];
        bool g = true;
        buf_puts(o, i ? ",{" : "{");
        jkey(o, &g, "id");
        js(o, x->id);
        jkey(o, &g, "status");
        js(o, probe_status_name(x->status));
        jkey(o, &g, "severity");
        js(o, probe_severity_name(x->severity));
        jkey(o, &g, "title");
        js(o, x->title);
        jkey(o, &g, "evidence");
        js(o, x->evidence);
        jkey(o, &g, "references");
        js(o, x->refs);
        buf_putc(o, '}');
    }
    buf_puts(o, "]}");
}

int probe_exit_status(const struct probe_run *run)
{
    bool any_reached = false;
    for (size_t i = 0; i < run->n_ports; i++) {
        if (probe_findings_fail_at(&run->ports[i].findings, run->opt->fail_on))
            return 2;
        if (run->ports[i].transport)
            any_reached = true;
    }
    return any_reached ? 0 : 1;
}

void probe_report_json(FILE *out, const struct probe_run *run)
{
    struct buf o = BUF_INIT;
    char start[32];
    struct tm tm;
    gmtime_r(&run->started, &tm);
    strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(&o, "{\"tool\":{\"name\":\"gannet probe\",\"version\":\"%s\"},", GANNET_VERSION);
    buf_printf(&o, "\"scan\":{\"start\":\"%s\",\"duration\":%.3f,\"source\":", start, run->seconds);
    js(&o, run->opt->source);
    buf_printf(&o, ",\"intrusive\":%s,\"fail_on\":\"%s\",\"exit_status\":%d},",
               run->opt->intrusive ? "true" : "false", probe_severity_name(run->opt->fail_on),
               probe_exit_status(run));
    buf_puts(&o, "\"targets\":[");
    for (size_t i = 0; i < run->n_targets; i++) {
        if (i)
            buf_putc(&o, ',');
        js(&o, run->targets[i]);
    }
    buf_puts(&o, "],\"ports\":[");
    for (size_t i = 0; i < run->n_ports; i++) {
        if (i)
            buf_putc(&o, ',');
        json_port(&o, &run->ports[i]);
    }
    buf_puts(&o, "]}\n");
    fwrite(o.data, 1, o.len, out);
    buf_free(&o);
}

/* ---- the table ---------------------------------------------------------------- */

struct row {
    const struct probe_port *port;
    const struct probe_finding *f;
};

static int rank(const struct probe_finding *x)
{
    int st = x->status == ST_FAIL ? 0 : x->status == ST_SKIPPED ? 2 : 1;
    return st * 10 + (SEV_CRITICAL - (int)x->severity);
}

static int cmp_row(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int d = rank(x->f) - rank(y->f);
    if (d)
        return d;
    d = strcmp(x->port->dest, y->port->dest);
    return d ? d : strcmp(x->f->id, y->f->id);
}

void probe_report_text(FILE *out, const struct probe_run *run)
{
    fprintf(out, "gannet probe %s: %zu port%s in %.1f s, source %s\n", GANNET_VERSION, run->n_ports,
            run->n_ports == 1 ? "" : "s", run->seconds,
            run->opt->source ? run->opt->source : "(chosen by the system)");
    for (size_t i = 0; i < run->n_ports; i++)
        if (run->ports[i].same_host) {
            fprintf(out,
                    "warning: %s is probed from its own address %s: a server may treat such a "
                    "client as secure (Dovecot does) and show less than a remote client sees; "
                    "use --source\n",
                    run->ports[i].dest, run->ports[i].source);
            break;
        }
    size_t n = 0;
    for (size_t i = 0; i < run->n_ports; i++)
        n += run->ports[i].findings.n;
    struct row *rows = xcalloc(n ? n : 1, sizeof(*rows));
    size_t k = 0;
    for (size_t i = 0; i < run->n_ports; i++)
        for (size_t j = 0; j < run->ports[i].findings.n; j++)
            rows[k++] = (struct row){&run->ports[i], &run->ports[i].findings.v[j]};
    qsort(rows, n, sizeof(*rows), cmp_row);
    fprintf(out, "\n%-9s %-8s %-22s %-24s %s\n", "SEVERITY", "STATUS", "PORT", "FINDING", "TITLE");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%-9s %-8s %-22s %-24s %s\n", probe_severity_name(rows[i].f->severity),
                probe_status_name(rows[i].f->status), rows[i].port->dest, rows[i].f->id,
                rows[i].f->title);
    free(rows);
    fputs("\nPORT                   PROTO  TRANSPORT     PRODUCT                       SUMMARY\n",
          out);
    for (size_t i = 0; i < run->n_ports; i++) {
        const struct probe_port *p = &run->ports[i];
        char product[160] = "-";
        if (p->n_matches)
            snprintf(product, sizeof(product), "%s%s%s (%u%%)", p->matches[0].product,
                     p->matches[0].version[0] ? " " : "", p->matches[0].version,
                     p->matches[0].confidence);
        size_t failed = 0;
        int worst = -1;
        for (size_t j = 0; j < p->findings.n; j++)
            if (p->findings.v[j].status == ST_FAIL) {
                failed++;
                if ((int)p->findings.v[j].severity > worst)
                    worst = (int)p->findings.v[j].severity;
            }
        char summary[400];
        if (p->error[0] && !p->transport)
            snprintf(summary, sizeof(summary), "error: %s", p->error);
        else
            snprintf(summary, sizeof(summary), "%zu failed%s%s%s%s", failed,
                     worst >= 0 ? ", worst " : "",
                     worst >= 0 ? probe_severity_name((enum probe_severity)worst) : "",
                     p->error[0] ? "; " : "", p->error);
        fprintf(out, "%-22s %-6s %-13s %-29s %s\n", p->dest,
                p->proto == PROBE_PROTO_UNKNOWN ? "-" : probe_proto_name(p->proto),
                p->transport ? p->transport : "-", product, summary);
    }
}
