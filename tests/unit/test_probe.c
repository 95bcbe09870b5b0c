/* probe/: target parsing, capability parsing (incl. nmap's merging of the
 * tagged text), ID, APOP, NTLM challenge decoding, fingerprints, JSON, and the
 * grading of tls.alpaca by certificate shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "probe/findings.h"
#include "probe/fingerprint.h"
#include "probe/parse.h"
#include "probe/probe.h"
#include "probe/target.h"
#include "probe/tls-scan.h"

#include <stdlib.h>
#include <string.h>

static void test_targets(void **state)
{
    (void)state;
    struct probe_endpoint e[PROBE_MAX_ENDPOINTS_PER_TARGET];
    char err[256];
    assert_int_equal(probe_target_parse("mail.example.org", e, err, sizeof(err)), 4);
    assert_string_equal(e[0].host, "mail.example.org");
    assert_int_equal(e[0].port, 143);
    assert_int_equal(e[0].tls, PROBE_TLS_PLAIN);
    assert_int_equal(e[1].port, 993);
    assert_int_equal(e[1].tls, PROBE_TLS_IMPLICIT);
    assert_int_equal(e[2].port, 110);
    assert_int_equal(e[2].proto, PROBE_PROTO_POP3);
    assert_int_equal(e[3].port, 995);

    assert_int_equal(probe_target_parse("10.0.0.1:995", e, err, sizeof(err)), 1);
    assert_string_equal(e[0].host, "10.0.0.1");
    assert_int_equal(e[0].proto, PROBE_PROTO_POP3);
    assert_int_equal(e[0].tls, PROBE_TLS_IMPLICIT);

    assert_int_equal(probe_target_parse("10.0.0.1:10143", e, err, sizeof(err)), 1);
    assert_int_equal(e[0].proto, PROBE_PROTO_UNKNOWN);
    assert_int_equal(e[0].tls, PROBE_TLS_AUTO);

    assert_int_equal(probe_target_parse("[2001:db8::1]:993", e, err, sizeof(err)), 1);
    assert_string_equal(e[0].host, "2001:db8::1");
    assert_int_equal(e[0].port, 993);
    assert_int_equal(probe_target_parse("::1", e, err, sizeof(err)), 4);
    assert_string_equal(e[0].host, "::1");
    assert_int_equal(probe_target_parse("[::1]", e, err, sizeof(err)), 4);

    assert_int_equal(probe_target_parse("imaps://mail.example.org", e, err, sizeof(err)), 1);
    assert_int_equal(e[0].port, 993);
    assert_int_equal(e[0].tls, PROBE_TLS_IMPLICIT);
    assert_int_equal(probe_target_parse("POP3://h:1110/", e, err, sizeof(err)), 1);
    assert_int_equal(e[0].port, 1110);
    assert_int_equal(e[0].proto, PROBE_PROTO_POP3);
    assert_int_equal(e[0].tls, PROBE_TLS_PLAIN);
    assert_int_equal(probe_target_parse("imap://[::1]:1143", e, err, sizeof(err)), 1);
    assert_string_equal(e[0].host, "::1");
    assert_int_equal(e[0].port, 1143);

    assert_int_equal(probe_target_parse("smtp://h", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("h:0", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("h:70000", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("h:12x", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("[::1", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("imap://u@h", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("h/x", e, err, sizeof(err)), -1);
    assert_int_equal(probe_target_parse("h o", e, err, sizeof(err)), -1);
}

static void test_imap_caps(void **state)
{
    (void)state;
    struct probe_strlist caps = {0};
    struct buf text = BUF_INIT;
    /* Dovecot: nmap's imap-capabilities reports "Pre-login", "capabilities"
     * ... as capabilities; only the atoms of the CAPABILITY data count. */
    const char *r = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                    "STARTTLS AUTH=PLAIN\r\n"
                    "a OK Pre-login capabilities listed, post-login capabilities have more.\r\n";
    assert_true(probe_imap_parse_caps(r, strlen(r), "a", &caps, &text));
    assert_int_equal(caps.n, 9);
    assert_string_equal(caps.v[0], "IMAP4rev1");
    assert_string_equal(caps.v[8], "AUTH=PLAIN");
    assert_false(probe_strlist_has(&caps, "Pre-login"));
    assert_false(probe_strlist_has(&caps, "capabilities"));
    assert_false(probe_strlist_has(&caps, "more."));
    assert_string_equal(buf_cstr(&text),
                        "Pre-login capabilities listed, post-login capabilities have more.");

    /* The greeting's response code, and a tagged OK with the code. */
    const char *g = "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n";
    assert_true(probe_imap_parse_caps(g, strlen(g), NULL, &caps, NULL));
    assert_int_equal(caps.n, 3);
    assert_true(probe_strlist_has(&caps, "logindisabled"));
    const char *t = "l1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n";
    assert_true(probe_imap_parse_caps(t, strlen(t), "l1", &caps, &text));
    assert_int_equal(caps.n, 3);
    assert_string_equal(caps.v[2], "MOVE");
    assert_string_equal(buf_cstr(&text), "Logged in");
    /* Nothing there, and a tag that is only a prefix of another. */
    const char *n = "a1 OK done\r\n";
    assert_false(probe_imap_parse_caps(n, strlen(n), "a", &caps, &text));
    assert_int_equal(caps.n, 3);

    struct probe_strlist mechs = {0};
    const char *c = "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=CRAM-MD5\r\na OK x\r\n";
    assert_true(probe_imap_parse_caps(c, strlen(c), "a", &caps, NULL));
    probe_sasl_mechanisms(&caps, false, &mechs);
    assert_int_equal(mechs.n, 2);
    assert_string_equal(mechs.v[1], "CRAM-MD5");
    probe_strlist_free(&mechs);
    probe_strlist_free(&caps);
    buf_free(&text);
}

static void test_pop3_capa(void **state)
{
    (void)state;
    struct probe_strlist caps = {0}, mechs = {0};
    const char *r = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nSTLS\r\nUSER\r\n"
                    "SASL PLAIN LOGIN NTLM\r\n.\r\n";
    assert_true(probe_pop3_parse_capa(r, strlen(r), &caps));
    assert_int_equal(caps.n, 7);
    assert_true(probe_strlist_has(&caps, "STLS"));
    probe_sasl_mechanisms(&caps, true, &mechs);
    assert_int_equal(mechs.n, 3);
    assert_string_equal(mechs.v[2], "NTLM");
    assert_false(probe_pop3_parse_capa("-ERR no\r\n", 9, &caps));
    probe_strlist_free(&caps);
    probe_strlist_free(&mechs);
}

static void test_id_apop(void **state)
{
    (void)state;
    struct probe_strlist id = {0};
    const char *r = "* ID (\"name\" \"Dovecot\" \"version\" \"2.3.19\" \"os\" NIL "
                    "\"x\" \"a \\\"q\\\"\")\r\na2 OK ID completed.\r\n";
    assert_true(probe_imap_parse_id(r, strlen(r), &id));
    assert_string_equal(probe_id_field(&id, "name"), "Dovecot");
    assert_string_equal(probe_id_field(&id, "VERSION"), "2.3.19");
    assert_string_equal(probe_id_field(&id, "os"), "");
    assert_string_equal(probe_id_field(&id, "x"), "a \"q\"");
    assert_null(probe_id_field(&id, "vendor"));
    probe_strlist_free(&id);
    /* RFC 2971 §4: the values are nstrings, so a literal is as good as a
     * quoted string, and may hold a line end or quotes */
    const char *lit = "* ID (\"name\" {7}\r\nDovecot \"os\" {10}\r\nLinux\r\n\"x\" "
                      "\"version\" \"2.3.19\" \"vendor\" NIL)\r\na2 OK ID completed.\r\n";
    assert_true(probe_imap_parse_id(lit, strlen(lit), &id));
    assert_int_equal(id.n, 8);
    assert_string_equal(probe_id_field(&id, "name"), "Dovecot");
    assert_string_equal(probe_id_field(&id, "os"), "Linux\r\n\"x\"");
    assert_string_equal(probe_id_field(&id, "version"), "2.3.19");
    assert_string_equal(probe_id_field(&id, "vendor"), "");
    probe_strlist_free(&id);
    /* a field name as a literal; a literal cut short by the end of what came
     * is no answer */
    const char *lit_name = "* ID ({4}\r\nname \"Cyrus\")\r\n";
    assert_true(probe_imap_parse_id(lit_name, strlen(lit_name), &id));
    assert_string_equal(probe_id_field(&id, "name"), "Cyrus");
    probe_strlist_free(&id);
    const char *cut = "* ID (\"name\" {50}\r\nshort\r\n";
    assert_false(probe_imap_parse_id(cut, strlen(cut), &id));
    const char *nil = "* ID NIL\r\na2 OK\r\n";
    assert_true(probe_imap_parse_id(nil, strlen(nil), &id));
    assert_int_equal(id.n, 0);

    struct probe_apop a;
    const char *g = "+OK Dovecot ready. <1896.697170952@mail.example.org>\r\n";
    assert_true(probe_apop_parse(g, strlen(g), &a));
    assert_string_equal(a.timestamp, "<1896.697170952@mail.example.org>");
    assert_string_equal(a.pid, "1896");
    assert_string_equal(a.host, "mail.example.org");
    assert_false(probe_apop_parse("+OK ready\r\n", 11, &a));
    assert_false(probe_apop_parse("+OK <abc>\r\n", 11, &a));
}

static void test_ntlm(void **state)
{
    (void)state;
    /* A CHALLENGE with target info, version 10.0.17763 and a timestamp of
     * 1764000000 (made by a script mirroring MS-NLMP §2.2.1.2). */
    const char *b64 =
        "TlRMTVNTUAACAAAADgAOADgAAAAFgomiASNFZ4mrze8AAAAAAAAAAJoAmgBGAAAACgBjRQAAAA9DAE8ATgBUAE8AUw"
        "BPAAIADgBDAE8ATgBUAE8AUwBPAAEADABNAEEASQBMADAAMQAEABoAYwBvAG4AdABvAHMAbwAuAGwAbwBjAGEAbAAD"
        "ACgAbQBhAGkAbAAwADEALgBjAG8AbgB0AG8AcwBvAC4AbABvAGMAYQBsAAUAGgBjAG8AbgB0AG8AcwBvAC4AbABvAG"
        "MAYQBsAAcACAAAABVjW13cAQAAAAA=";
    struct buf raw = BUF_INIT;
    assert_true(base64_decode(b64, strlen(b64), &raw));
    struct probe_ntlm_challenge c;
    assert_true(probe_ntlm_decode_challenge((const unsigned char *)raw.data, raw.len, &c));
    assert_string_equal(c.target_name, "CONTOSO");
    assert_string_equal(c.nb_domain, "CONTOSO");
    assert_string_equal(c.nb_computer, "MAIL01");
    assert_string_equal(c.dns_domain, "contoso.local");
    assert_string_equal(c.dns_computer, "mail01.contoso.local");
    assert_string_equal(c.dns_tree, "contoso.local");
    assert_true(c.has_version);
    assert_int_equal(c.os_major, 10);
    assert_int_equal(c.os_minor, 0);
    assert_int_equal(c.os_build, 17763);
    assert_true(c.has_timestamp);
    assert_int_equal(c.timestamp, 1764000000);
    /* Truncations never read past the end. */
    for (size_t n = 0; n < raw.len; n++) {
        struct probe_ntlm_challenge t;
        probe_ntlm_decode_challenge((const unsigned char *)raw.data, n, &t);
    }
    /* Not a CHALLENGE: our own NEGOTIATE. */
    struct buf neg = BUF_INIT;
    probe_ntlm_negotiate(&neg);
    assert_int_equal(neg.len, 40);
    assert_false(probe_ntlm_decode_challenge((const unsigned char *)neg.data, neg.len, &c));
    buf_free(&neg);
    buf_free(&raw);
}

static const char *top_product(const struct probe_signals *s, char *version, size_t vlen,
                               unsigned *confidence)
{
    struct probe_match m[3];
    size_t n = probe_fingerprint(s, m, 3);
    static char product[64];
    product[0] = '\0';
    if (n) {
        snprintf(product, sizeof(product), "%s", m[0].product);
        snprintf(version, vlen, "%s", m[0].version);
        *confidence = m[0].confidence;
    }
    for (size_t i = 0; i < n; i++)
        probe_match_free(&m[i]);
    return product;
}

static void test_fingerprint(void **state)
{
    (void)state;
    char v[64] = "";
    unsigned conf = 0;
    struct probe_strlist caps = {0};
    const char *dc = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                     "STARTTLS AUTH=PLAIN\r\n";
    probe_imap_parse_caps(dc, strlen(dc), NULL, &caps, NULL);
    struct probe_signals s = {
        .greeting = "* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.",
        .caps = &caps,
        .caps_ok_text = "Pre-login capabilities listed, post-login capabilities have more.",
    };
    assert_string_equal(top_product(&s, v, sizeof(v), &conf), "Dovecot");
    assert_int_equal(conf, 100);
    assert_string_equal(v, "");
    s.greeting = "* OK Dovecot 2.3.19 ready.";
    s.caps = NULL;
    s.caps_ok_text = NULL;
    assert_string_equal(top_product(&s, v, sizeof(v), &conf), "Dovecot");
    assert_string_equal(v, "2.3.19");
    s.greeting = "* OK whatever";
    s.id_name = "Dovecot";
    s.id_version = "2.3.19";
    assert_string_equal(top_product(&s, v, sizeof(v), &conf), "Dovecot");
    assert_string_equal(v, "2.3.19");
    assert_int_equal(conf, 80);

    struct probe_signals g = {.greeting = "* OK gannet ready."};
    assert_string_equal(top_product(&g, v, sizeof(v), &conf), "gannet");
    g.greeting = "* OK gannet 0.1.0 ready.";
    assert_string_equal(top_product(&g, v, sizeof(v), &conf), "gannet");
    assert_string_equal(v, "0.1.0");

    struct probe_signals e = {.greeting = "* OK The Microsoft Exchange IMAP4 service is ready."};
    assert_string_equal(top_product(&e, v, sizeof(v), &conf), "Microsoft Exchange");
    struct probe_signals c = {.greeting =
                                  "* OK mail.example.org Cyrus IMAP v2.4.17-Debian server ready"};
    assert_string_equal(top_product(&c, v, sizeof(v), &conf), "Cyrus");
    assert_string_equal(v, "2.4.17");
    struct probe_signals cp = {.pop3 = true, .greeting = "+OK Hello there."};
    assert_string_equal(top_product(&cp, v, sizeof(v), &conf), "Courier");
    struct probe_signals uw = {
        .greeting = "* OK [CAPABILITY IMAP4REV1] localhost IMAP4rev1 2007f.404 at Mon"};
    assert_string_equal(top_product(&uw, v, sizeof(v), &conf), "UW-IMAP");
    assert_string_equal(v, "2007f.404");
    struct probe_signals gm = {.greeting = "* OK Gimap ready for requests from 192.0.2.1 x"};
    assert_string_equal(top_product(&gm, v, sizeof(v), &conf), "Gmail");
    struct probe_signals dom = {.greeting = "* OK Domino IMAP4 Server Release 9.0.1 ready"};
    assert_string_equal(top_product(&dom, v, sizeof(v), &conf), "HCL/IBM Domino");
    assert_string_equal(v, "9.0.1");
    /* Nothing known: no guess. */
    struct probe_signals none = {.greeting = "* OK IMAP server ready"};
    assert_string_equal(top_product(&none, v, sizeof(v), &conf), "");
    probe_strlist_free(&caps);
}

static void test_json_escape(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    probe_json_string(&b, "a\"b\\c\r\n\t\x01\x7f", 10);
    assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\r\\n\\t\\u0001\\u007f\"");
    buf_reset(&b);
    /* Valid UTF-8 passes; a lone 8-bit byte and an overlong form are read as Latin-1. */
    probe_json_string(&b, "\xc2\xa7 \xe9 \xc0\xaf", 7);
    assert_string_equal(buf_cstr(&b), "\"\xc2\xa7 \\u00e9 \\u00c0\\u00af\"");
    buf_reset(&b);
    probe_json_string(&b, "x\0y", 3);
    assert_string_equal(buf_cstr(&b), "\"x\\u0000y\"");
    buf_free(&b);

    struct buf e = BUF_INIT;
    probe_escape(&e, "* OK\r\n\x00\xff\\", 9);
    assert_string_equal(buf_cstr(&e), "* OK\\r\\n\\x00\\xff\\\\");
    buf_free(&e);
}

static void test_findings(void **state)
{
    (void)state;
    struct probe_findings f = {0};
    probe_finding_add(&f, "disclosure.version", ST_FAIL, SEV_LOW, "RFC 2971", "", "v %d", 1);
    probe_finding_add(&f, "auth.anonymous", ST_PASS, SEV_HIGH, "", NULL, "ok");
    probe_finding_add(&f, "starttls.missing", ST_FAIL, SEV_HIGH, "", "", "no");
    probe_findings_sort(&f);
    assert_string_equal(f.v[0].id, "starttls.missing");
    assert_string_equal(f.v[1].id, "disclosure.version");
    assert_string_equal(f.v[1].title, "v 1");
    assert_string_equal(f.v[2].id, "auth.anonymous");
    assert_true(probe_findings_fail_at(&f, SEV_MEDIUM));
    assert_false(probe_findings_fail_at(&f, SEV_CRITICAL));
    enum probe_severity s;
    assert_true(probe_severity_parse("HIGH", &s));
    assert_int_equal(s, SEV_HIGH);
    assert_false(probe_severity_parse("severe", &s));
    probe_findings_free(&f);
}

/* The one tls.alpaca finding probe_tls_alpaca() adds for r: its status and
 * severity, its title in title. */
static enum probe_severity alpaca(const struct tls_scan_result *r, enum probe_proto proto,
                                  enum probe_status *status, char *title, size_t size)
{
    struct probe_findings f = {0};
    probe_tls_alpaca(&f, r, proto);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.v[0].id, "tls.alpaca");
    *status = f.v[0].status;
    snprintf(title, size, "%s", f.v[0].title);
    enum probe_severity sev = f.v[0].severity;
    probe_findings_free(&f);
    return sev;
}

/* A server that ignores ALPN (the handshake completes offering only http/1.1
 * or only the other mail protocol, and nothing is selected), as Dovecot 2.3,
 * with a certificate of the given SANs and CN. */
static struct tls_scan_result ignoring(char **sans, size_t n_sans, const char *cn)
{
    struct tls_scan_result r;
    memset(&r, 0, sizeof r);
    r.reachable = true;
    r.alpn_http = TLS_SUPPORT_YES;
    r.alpn_other = TLS_SUPPORT_YES;
    r.alpn_own = TLS_SUPPORT_YES;
    r.sni_unrelated = TLS_SUPPORT_YES;
    r.cert.present = true;
    r.cert.sans = sans;
    r.cert.n_sans = n_sans;
    snprintf(r.cert.common_name, sizeof r.cert.common_name, "%s", cn);
    return r;
}

static void test_alpaca_grading(void **state)
{
    (void)state;
    enum probe_status st;
    char title[512];
    struct tls_scan_result r;

    /* Ignores ALPN, certificate likely shared with other services: medium. */
    char *wildcard[] = {"DNS:*.example.org"};
    r = ignoring(wildcard, 1, "*.example.org");
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_MEDIUM);
    assert_int_equal(st, ST_FAIL);
    assert_non_null(strstr(title, "shared"));
    assert_non_null(strstr(title, "strict ALPN"));
    char *two[] = {"DNS:mail.example.org", "DNS:www.example.org", "IP:192.0.2.1"};
    r = ignoring(two, 3, "mail.example.org");
    assert_int_equal(alpaca(&r, PROBE_PROTO_POP3, &st, title, sizeof title), SEV_MEDIUM);
    char *wild_and_one[] = {"DNS:mail.example.org", "DNS:*.mail.example.org"};
    r = ignoring(wild_and_one, 2, "mail.example.org");
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_MEDIUM);
    r = ignoring(NULL, 0, "*.example.org"); /* no SAN: the CN counts (RFC 6125 §6.4.4) */
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_MEDIUM);

    /* Ignores ALPN, certificate for one DNS name (IP addresses aside): low,
     * with the advice. */
    char *one_and_ips[] = {"IP:192.0.2.1", "DNS:mail.example.org", "IP:2001:db8::1",
                           "email:postmaster@example.org"};
    r = ignoring(one_and_ips, 4, "mail.example.org");
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_LOW);
    assert_int_equal(st, ST_FAIL);
    assert_non_null(strstr(title, "mail.example.org alone"));
    assert_non_null(strstr(title, "strict ALPN where the server has it"));
    assert_non_null(strstr(title, "keep this certificate for mail only"));
    char *one[] = {"DNS:mail.example.org"};
    r = ignoring(one, 1, "Example mail server"); /* the CN does not count beside a DNS SAN */
    assert_int_equal(alpaca(&r, PROBE_PROTO_POP3, &st, title, sizeof title), SEV_LOW);
    r = ignoring(NULL, 0, "mail.example.org");
    assert_int_equal(alpaca(&r, PROBE_PROTO_POP3, &st, title, sizeof title), SEV_LOW);
    char *ip_only[] = {"IP:192.0.2.1"};
    r = ignoring(ip_only, 1, "");
    assert_int_equal(alpaca(&r, PROBE_PROTO_POP3, &st, title, sizeof title), SEV_LOW);
    /* Only one of the two foreign protocols is enough to be "ignoring". */
    r = ignoring(wildcard, 1, "");
    r.alpn_http = TLS_SUPPORT_NO;
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_MEDIUM);
    /* No certificate seen: it cannot be told single, so medium. */
    r = ignoring(NULL, 0, "");
    r.cert.present = false;
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_MEDIUM);

    /* Selects http/1.1 or the other mail protocol: high, whatever the certificate. */
    r = ignoring(one, 1, "mail.example.org");
    r.alpn_http_selected = true;
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_HIGH);
    assert_non_null(strstr(title, "selects ALPN http/1.1"));
    r = ignoring(one, 1, "mail.example.org");
    r.alpn_other_selected = true;
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_HIGH);
    assert_non_null(strstr(title, "selects ALPN pop3"));
    /* A selection the handshake did not complete with is no selection. */
    r = ignoring(one, 1, "mail.example.org");
    r.alpn_http = TLS_SUPPORT_NO;
    r.alpn_other = TLS_SUPPORT_NO;
    r.alpn_http_selected = true;
    assert_int_equal(alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title), SEV_LOW);
    assert_non_null(strstr(title, "SNI"));

    /* Strict ALPN, strict SNI: pass. */
    r = ignoring(wildcard, 1, "");
    r.alpn_http = r.alpn_other = r.sni_unrelated = TLS_SUPPORT_NO;
    alpaca(&r, PROBE_PROTO_IMAP, &st, title, sizeof title);
    assert_int_equal(st, ST_PASS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),        cmocka_unit_test(test_imap_caps),
        cmocka_unit_test(test_pop3_capa),      cmocka_unit_test(test_id_apop),
        cmocka_unit_test(test_ntlm),           cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_json_escape),    cmocka_unit_test(test_findings),
        cmocka_unit_test(test_alpaca_grading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
