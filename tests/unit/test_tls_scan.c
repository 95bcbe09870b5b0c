/* probe/tls-scan: cipher classes and IANA names on OpenSSL's own suites, and
 * whole scans on a real event loop against `openssl s_server` (implicit TLS)
 * and against gannet itself (STARTTLS, STLS, imaps, pop3s). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "probe/probe.h"
#include "probe/tls-scan.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static const SSL_CIPHER *find_cipher(SSL *ssl, const char *name)
{
    STACK_OF(SSL_CIPHER) *list = SSL_get_ciphers(ssl);
    for (int i = 0; i < sk_SSL_CIPHER_num(list); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(list, i);
        if (strcmp(SSL_CIPHER_get_name(c), name) == 0)
            return c;
    }
    return NULL;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static unsigned short free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static bool wait_listening(unsigned short port, pid_t child)
{
    for (int i = 0; i < 200; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
        close(fd);
        if (rc == 0)
            return true;
        if (waitpid(child, NULL, WNOHANG) == child)
            return false;
        usleep(25000);
    }
    return false;
}

static void target_init(struct tls_scan_target *t, unsigned short port, const char *protocol,
                        enum tls_scan_preamble preamble)
{
    memset(t, 0, sizeof *t);
    struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->addr_len = sizeof *sin;
    t->host = "127.0.0.1";
    t->protocol = protocol;
    t->preamble = preamble;
    t->timeout_ms = 5000;
    t->concurrency = 4;
    t->trace = getenv("TLS_SCAN_TRACE") != NULL;
}

struct outcome {
    struct tls_scan_result *res;
    int calls;
};

static void on_done(void *ctx, struct tls_scan_result *res)
{
    struct outcome *o = ctx;
    o->res = res;
    o->calls++;
}

static bool has_cipher(const struct tls_scan_result *r, int vi, const char *name)
{
    for (size_t i = 0; i < r->n_ciphers[vi]; i++)
        if (strcmp(r->ciphers[vi][i].name, name) == 0)
            return true;
    return false;
}

static bool has_group(const struct tls_scan_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_groups; i++)
        if (strcmp(r->groups[i], name) == 0)
            return true;
    return false;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A self-signed RSA certificate for CN=probe.test in dir. */
static void make_cert(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/k.pem -out %s/c.pem "
             "-subj /CN=probe.test -days 30 "
             "-addext subjectAltName=DNS:probe.test,IP:127.0.0.1 2>/dev/null",
             dir, dir);
    assert_int_equal(run(cmd), 0);
}

static void fingerprint_of(const char *dir, char *out, size_t size)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -sha256 -in %s/c.pem", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, p));
    pclose(p);
    char *eq = strchr(line, '=');
    assert_non_null(eq);
    eq[strcspn(eq, "\r\n")] = '\0';
    snprintf(out, size, "%s", eq + 1);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
}

/* ---- cipher classes and names ---- */

static void test_cipher_classes(void **state)
{
    (void)state;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0"), 1);
    SSL *ssl = SSL_new(ctx);
    static const struct {
        const char *name, *iana;
        unsigned classes;
    } cases[] = {
        {"ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
         TLS_CLASS_FS | TLS_CLASS_AEAD},
        {"ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
         TLS_CLASS_FS | TLS_CLASS_AEAD},
        {"DHE-RSA-AES128-SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", TLS_CLASS_FS | TLS_CLASS_CBC},
        {"AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", TLS_CLASS_CBC | TLS_CLASS_WEAK},
        {"AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384", TLS_CLASS_AEAD | TLS_CLASS_WEAK},
        {"ADH-AES128-SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA",
         TLS_CLASS_FS | TLS_CLASS_CBC | TLS_CLASS_ANON | TLS_CLASS_WEAK},
        {"NULL-SHA", "TLS_RSA_WITH_NULL_SHA", TLS_CLASS_NULL | TLS_CLASS_WEAK},
        {"ECDHE-RSA-NULL-SHA", "TLS_ECDHE_RSA_WITH_NULL_SHA",
         TLS_CLASS_FS | TLS_CLASS_NULL | TLS_CLASS_WEAK},
        {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", TLS_CLASS_FS | TLS_CLASS_AEAD},
        {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
         TLS_CLASS_FS | TLS_CLASS_AEAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const SSL_CIPHER *c = find_cipher(ssl, cases[i].name);
        if (!c)
            fail_msg("OpenSSL has no %s", cases[i].name);
        if (tls_cipher_classes(c) != cases[i].classes)
            fail_msg("%s: classes %#x, expected %#x", cases[i].name, tls_cipher_classes(c),
                     cases[i].classes);
        assert_string_equal(SSL_CIPHER_standard_name(c), cases[i].iana);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}

/* ---- against openssl s_server ---- */

static void scan_s_server(bool serverpref)
{
    char dir[] = "/tmp/tls-scan-XXXXXX";
    assert_non_null(mkdtemp(dir));
    make_cert(dir);
    unsigned short port = free_port();
    char accept[32], cert[300], key[300];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* -www answers a GET and goes back to accept(): the scan never sends one. */
        freopen("/dev/null", "r", stdin);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept, "-cert", cert,
               "-key", key, "-tls1_2", "-cipher",
               "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", "-alpn", "imap",
               serverpref ? "-serverpref" : NULL, (char *)NULL);
        _exit(127);
    }
    assert_true(wait_listening(port, child));

    struct event_base *base = event_base_new();
    struct tls_scan_target t;
    target_init(&t, port, "imap", TLS_PREAMBLE_NONE);
    struct outcome o = {0};
    double t0 = now_s();
    tls_scan_start(base, &t, on_done, &o);
    assert_int_equal(o.calls, 0); /* never from inside the call */
    event_base_dispatch(base);
    double took = now_s() - t0;
    assert_int_equal(o.calls, 1);
    struct tls_scan_result *r = o.res;
    fprintf(stderr, "s_server%s: %zu handshakes in %.2f s\n", serverpref ? " -serverpref" : "",
            r->handshakes, took);

    assert_true(r->reachable);
    assert_int_equal(r->versions[TLS_V_SSL3], TLS_SUPPORT_UNTESTABLE);
    assert_int_equal(r->versions[TLS_V_1_0], TLS_SUPPORT_NO);
    assert_int_equal(r->versions[TLS_V_1_1], TLS_SUPPORT_NO);
    assert_int_equal(r->versions[TLS_V_1_2], TLS_SUPPORT_YES);
    assert_int_equal(r->versions[TLS_V_1_3], TLS_SUPPORT_NO);
    assert_int_equal(r->n_ciphers[TLS_V_1_2], 2);
    assert_true(has_cipher(r, TLS_V_1_2, "ECDHE-RSA-AES128-GCM-SHA256"));
    assert_true(has_cipher(r, TLS_V_1_2, "ECDHE-RSA-AES256-GCM-SHA384"));
    for (int vi = 0; vi < TLS_V_COUNT; vi++)
        if (vi != TLS_V_1_2)
            assert_int_equal(r->n_ciphers[vi], 0);
    assert_string_equal(r->ciphers[TLS_V_1_2][0].iana_name,
                        serverpref ? "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
                                   : r->ciphers[TLS_V_1_2][0].iana_name);
    assert_int_equal(r->ciphers[TLS_V_1_2][0].classes, TLS_CLASS_FS | TLS_CLASS_AEAD);
    assert_int_equal(r->server_preference, serverpref);
    /* ECDHE in TLS 1.2: the curves, never the RFC 7919 groups. */
    assert_true(has_group(r, "x25519"));
    assert_true(has_group(r, "secp256r1"));
    assert_false(has_group(r, "ffdhe2048"));
    assert_int_equal(r->dh_bits, 0);
    assert_int_equal(r->alpn_own, TLS_SUPPORT_YES);
    assert_string_equal(r->alpn_selected, "imap");
    /* s_server refuses an ALPN it does not serve (fatal alert), takes any SNI. */
    assert_int_equal(r->alpn_http, TLS_SUPPORT_NO);
    assert_false(r->alpn_http_selected);
    assert_int_equal(r->alpn_other, TLS_SUPPORT_NO);
    assert_int_equal(r->sni_unrelated, TLS_SUPPORT_YES);

    const struct tls_cert_info *ci = &r->cert;
    assert_true(ci->present);
    assert_string_equal(ci->subject, "CN=probe.test");
    assert_string_equal(ci->issuer, "CN=probe.test");
    assert_int_equal(ci->n_sans, 2);
    assert_string_equal(ci->sans[0], "DNS:probe.test");
    assert_string_equal(ci->sans[1], "IP:127.0.0.1");
    assert_true(ci->self_signed);
    assert_false(ci->trusted);
    assert_string_not_equal(ci->verify_error, "");
    assert_true(ci->hostname_match); /* 127.0.0.1 against the IP SAN */
    assert_true(ci->days_left >= 29 && ci->days_left <= 30);
    assert_true(ci->not_after - ci->not_before == 30 * 86400);
    assert_string_equal(ci->key_type, "RSA");
    assert_int_equal(ci->key_bits, 2048);
    assert_string_equal(ci->signature_algorithm, "sha256WithRSAEncryption");
    char fp[128];
    fingerprint_of(dir, fp, sizeof fp);
    assert_string_equal(ci->sha256, fp);
    assert_non_null(strstr(ci->pem, "-----BEGIN CERTIFICATE-----"));

    tls_scan_result_free(r);

    /* The same certificate as its own CA: trusted now; a name (sent as SNI)
     * matched against the DNS SAN; from another loopback source address. */
    t.ca_file = cert;
    t.host = "probe.test";
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
    t.source = (const struct sockaddr *)&src;
    t.source_len = sizeof src;
    o = (struct outcome){0};
    tls_scan_start(base, &t, on_done, &o);
    event_base_dispatch(base);
    assert_int_equal(o.calls, 1);
    assert_true(o.res->reachable);
    assert_true(o.res->cert.trusted);
    assert_string_equal(o.res->cert.verify_error, "");
    assert_true(o.res->cert.hostname_match);
    tls_scan_result_free(o.res);
    t.host = "other.test";
    o = (struct outcome){0};
    tls_scan_start(base, &t, on_done, &o);
    event_base_dispatch(base);
    assert_int_equal(o.calls, 1);
    assert_false(o.res->cert.hostname_match);
    tls_scan_result_free(o.res);

    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    o = (struct outcome){0};
    tls_scan_start(base, &t, on_done, &o);
    event_base_dispatch(base);
    assert_int_equal(o.calls, 1);
    /* s_server is gone: nothing reachable, and an error that says why. */
    assert_false(o.res->reachable);
    assert_non_null(strstr(o.res->error, "refused"));
    assert_int_equal(o.res->versions[TLS_V_1_2], TLS_SUPPORT_UNKNOWN);
    tls_scan_result_free(o.res);
    event_base_free(base);
    rm_rf(dir);
}

static void test_scan_s_server(void **state)
{
    (void)state;
    scan_s_server(false);
}

static void test_scan_s_server_preference(void **state)
{
    (void)state;
    scan_s_server(true);
}

/* A legacy server: TLS 1.0 only, a DHE and a static-RSA CBC suite. */
static void test_scan_s_server_legacy(void **state)
{
    (void)state;
    char dir[] = "/tmp/tls-scan-XXXXXX";
    assert_non_null(mkdtemp(dir));
    make_cert(dir);
    unsigned short port = free_port();
    char accept[32], cert[300], key[300];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        freopen("/dev/null", "r", stdin);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept, "-cert", cert,
               "-key", key, "-tls1", "-cipher", "DHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0",
               (char *)NULL);
        _exit(127);
    }
    assert_true(wait_listening(port, child));
    struct event_base *base = event_base_new();
    struct tls_scan_target t;
    target_init(&t, port, "pop3", TLS_PREAMBLE_NONE);
    struct outcome o = {0};
    tls_scan_start(base, &t, on_done, &o);
    event_base_dispatch(base);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    assert_int_equal(o.calls, 1);
    struct tls_scan_result *r = o.res;
    assert_true(r->reachable);
    assert_int_equal(r->versions[TLS_V_1_0], TLS_SUPPORT_YES);
    assert_int_equal(r->versions[TLS_V_1_1], TLS_SUPPORT_NO);
    assert_int_equal(r->versions[TLS_V_1_2], TLS_SUPPORT_NO);
    assert_int_equal(r->versions[TLS_V_1_3], TLS_SUPPORT_NO);
    assert_int_equal(r->n_ciphers[TLS_V_1_0], 2);
    for (size_t i = 0; i < 2; i++) {
        const struct tls_cipher *c = &r->ciphers[TLS_V_1_0][i];
        if (strcmp(c->name, "DHE-RSA-AES128-SHA") == 0)
            assert_int_equal(c->classes, TLS_CLASS_FS | TLS_CLASS_CBC);
        else if (strcmp(c->name, "AES128-SHA") == 0)
            assert_int_equal(c->classes, TLS_CLASS_CBC | TLS_CLASS_WEAK);
        else
            fail_msg("unexpected suite %s", c->name);
    }
    assert_true(r->dh_bits >= 1024);
    assert_int_equal(r->n_groups, 0); /* no ECDHE, no TLS 1.3 */
    /* Without -alpn, s_server ignores ALPN as Dovecot 2.3 does: every
     * handshake completes and nothing is selected. With a certificate for
     * probe.test alone (and 127.0.0.1), tls.alpaca is low. */
    assert_int_equal(r->alpn_http, TLS_SUPPORT_YES);
    assert_false(r->alpn_http_selected);
    assert_int_equal(r->alpn_other, TLS_SUPPORT_YES);
    assert_false(r->alpn_other_selected);
    assert_string_equal(r->alpn_selected, "");
    struct probe_findings f = {0};
    probe_tls_alpaca(&f, r, PROBE_PROTO_POP3);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.v[0].status, ST_FAIL);
    assert_int_equal(f.v[0].severity, SEV_LOW);
    assert_non_null(strstr(f.v[0].evidence, "ALPN http/1.1 accepted, none selected"));
    assert_non_null(strstr(f.v[0].evidence, "certificate for probe.test"));
    probe_findings_free(&f);
    tls_scan_result_free(r);
    event_base_free(base);
    rm_rf(dir);
}

/* A server that selects whatever it is offered among http/1.1, imap and pop3:
 * the scan tells selecting from ignoring, and tls.alpaca is high even with a
 * certificate for one name. */
static void test_scan_s_server_alpn_selects(void **state)
{
    (void)state;
    char dir[] = "/tmp/tls-scan-XXXXXX";
    assert_non_null(mkdtemp(dir));
    make_cert(dir);
    unsigned short port = free_port();
    char accept[32], cert[300], key[300];
    snprintf(accept, sizeof accept, "127.0.0.1:%u", port);
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        freopen("/dev/null", "r", stdin);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept, "-cert", cert,
               "-key", key, "-alpn", "http/1.1,imap,pop3", (char *)NULL);
        _exit(127);
    }
    assert_true(wait_listening(port, child));
    struct event_base *base = event_base_new();
    struct tls_scan_target t;
    target_init(&t, port, "imap", TLS_PREAMBLE_NONE);
    struct outcome o = {0};
    tls_scan_start(base, &t, on_done, &o);
    event_base_dispatch(base);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    assert_int_equal(o.calls, 1);
    struct tls_scan_result *r = o.res;
    assert_true(r->reachable);
    assert_int_equal(r->alpn_http, TLS_SUPPORT_YES);
    assert_true(r->alpn_http_selected);
    assert_int_equal(r->alpn_other, TLS_SUPPORT_YES);
    assert_true(r->alpn_other_selected);
    assert_string_equal(r->alpn_selected, "imap");
    struct probe_findings f = {0};
    probe_tls_alpaca(&f, r, PROBE_PROTO_IMAP);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.v[0].status, ST_FAIL);
    assert_int_equal(f.v[0].severity, SEV_HIGH);
    assert_non_null(strstr(f.v[0].evidence, "ALPN http/1.1 selected"));
    assert_non_null(strstr(f.v[0].evidence, "ALPN pop3 selected"));
    probe_findings_free(&f);
    tls_scan_result_free(r);
    event_base_free(base);
    rm_rf(dir);
}

/* ---- against gannet ---- */

static const char *gannet_binary(void)
{
    const char *env = getenv("GANNET");
    if (env && access(env, X_OK) == 0)
        return env;
    static const char *const paths[] = {"../../build/gannet", "build/gannet",
                                        "../../build-asan/gannet"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static void test_scan_gannet(void **state)
{
    (void)state;
    const char *bin = gannet_binary();
    if (!bin)
        skip();
    char dir[] = "/tmp/tls-scan-XXXXXX";
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0755);
    make_cert(dir);
    bool root = geteuid() == 0;
    const char *user = root ? "nobody" : getpwuid(geteuid())->pw_name;
    char group[64] = "nogroup";
    if (!root)
        snprintf(group, sizeof group, "%u", (unsigned)getegid());
    unsigned short ports[4];
    for (int i = 0; i < 4; i++)
        ports[i] = free_port();
    char path[400];
    snprintf(path, sizeof path, "%s/users", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    chmod(path, 0644);
    snprintf(path, sizeof path, "%s/gannet.conf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "ssl_cert = <%s/c.pem\nssl_key = <%s/k.pem\nmail_uid = %s\nmail_gid = %s\n"
            "mail_location = maildir:%s/home/%%u/Maildir\nstate_dir = %s\n"
            "passdb {\n  driver = passwd-file\n  args = %s/users\n}\n"
            "userdb {\n  driver = static\n  args = uid=%s gid=%s home=%s/home/%%u\n}\n",
            dir, dir, user, group, dir, dir, dir, user, group, dir);
    static const char *const names[] = {"imap", "imaps", "pop3", "pop3s"};
    for (int s = 0; s < 2; s++) {
        fprintf(f, "service %s-login {\n", s ? "pop3" : "imap");
        for (int k = 0; k < 2; k++)
            fprintf(f, "  inet_listener %s {\n    address = 127.0.0.1\n    port = %u\n%s  }\n",
                    names[s * 2 + k], ports[s * 2 + k], k ? "    ssl = yes\n" : "");
        fprintf(f, "}\n");
    }
    fclose(f);
    chmod(path, 0644);
    snprintf(path, sizeof path, "%s/k.pem", dir);
    chmod(path, 0644);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char conf[400];
        snprintf(conf, sizeof conf, "%s/gannet.conf", dir);
        freopen("/dev/null", "r", stdin);
        freopen("/dev/null", "w", stdout);
        if (!getenv("TLS_SCAN_TRACE"))
            freopen("/dev/null", "w", stderr);
        setsid();
        /* A failed assertion skips the kill below: the server must not outlive us. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(bin, "gannet", "serve", "-c", conf, "-F", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 4; i++)
        if (!wait_listening(ports[i], child)) {
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
            waitpid(child, NULL, 0);
            fail_msg("gannet did not start on port %u", ports[i]);
        }

    /* The four ports at once on one loop, as `gannet probe host` does. */
    struct event_base *base = event_base_new();
    struct tls_scan_target t[4];
    static const enum tls_scan_preamble pre[] = {TLS_PREAMBLE_IMAP, TLS_PREAMBLE_NONE,
                                                 TLS_PREAMBLE_POP3, TLS_PREAMBLE_NONE};
    struct outcome o[4] = {{0}};
    /* --trace goes to stderr: catch it in a file for the scan's duration. */
    char trace_path[400];
    snprintf(trace_path, sizeof trace_path, "%s/trace", dir);
    fflush(stderr);
    int saved_stderr = dup(2);
    int trace_fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved_stderr >= 0 && trace_fd >= 0);
    dup2(trace_fd, 2);
    close(trace_fd);
    double t0 = now_s();
    for (int i = 0; i < 4; i++) {
        target_init(&t[i], ports[i], i < 2 ? "imap" : "pop3", pre[i]);
        t[i].trace = true;
        tls_scan_start(base, &t[i], on_done, &o[i]);
    }
    event_base_dispatch(base);
    double took = now_s() - t0;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *tf = fopen(trace_path, "r");
    assert_non_null(tf);
    bool saw_starttls = false, saw_stls = false, saw_greeting = false;
    char tline[1024];
    while (fgets(tline, sizeof tline, tf)) {
        saw_starttls |= strncmp(tline, "> [127.0.0.1 tls#", 17) == 0 &&
                        strstr(tline, "] a STARTTLS\\r\\n\n") != NULL;
        saw_stls |= strncmp(tline, "> ", 2) == 0 && strstr(tline, "] STLS\\r\\n\n") != NULL;
        saw_greeting |= strncmp(tline, "< ", 2) == 0 && strstr(tline, "] * OK ") != NULL;
    }
    fclose(tf);
    assert_true(saw_starttls);
    assert_true(saw_stls);
    assert_true(saw_greeting);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(o[i].calls, 1);
        struct tls_scan_result *r = o[i].res;
        total += r->handshakes;
        if (!r->reachable)
            fail_msg("%s: %s", names[i], r->error);
        fprintf(stderr, "gannet %s: %zu handshakes, %zu+%zu suites, %zu groups, dh %u, alpn %s\n",
                names[i], r->handshakes, r->n_ciphers[TLS_V_1_2], r->n_ciphers[TLS_V_1_3],
                r->n_groups, r->dh_bits, r->alpn_selected);
        /* gannet's defaults: TLS 1.2 and 1.3, (EC)DHE AEAD suites only,
         * ALPN of another protocol refused (RFC 9325 §3.4). A refusal may
         * read as "unknown" on a loaded machine; what matters is no "yes". */
        assert_int_not_equal(r->versions[TLS_V_1_0], TLS_SUPPORT_YES);
        assert_int_not_equal(r->versions[TLS_V_1_1], TLS_SUPPORT_YES);
        assert_int_equal(r->versions[TLS_V_1_2], TLS_SUPPORT_YES);
        assert_int_equal(r->versions[TLS_V_1_3], TLS_SUPPORT_YES);
        assert_true(r->n_ciphers[TLS_V_1_2] >= 2);
        assert_true(r->n_ciphers[TLS_V_1_3] >= 2);
        for (int vi = TLS_V_1_2; vi <= TLS_V_1_3; vi++)
            for (size_t c = 0; c < r->n_ciphers[vi]; c++)
                if (r->ciphers[vi][c].classes != (TLS_CLASS_FS | TLS_CLASS_AEAD))
                    fail_msg("%s: weak suite %s", names[i], r->ciphers[vi][c].name);
        assert_int_equal(r->alpn_http, TLS_SUPPORT_NO);
        assert_int_equal(r->alpn_other, TLS_SUPPORT_NO);
        assert_int_equal(r->alpn_own, TLS_SUPPORT_YES);
        assert_string_equal(r->alpn_selected, names[i][0] == 'i' ? "imap" : "pop3");
        assert_true(has_group(r, "x25519"));
        assert_true(r->cert.present);
        assert_true(r->cert.self_signed);
        assert_string_equal(r->cert.subject, "CN=probe.test");
        if (r->dh_bits)
            assert_true(r->dh_bits >= 2048);
        tls_scan_result_free(r);
    }
    fprintf(stderr, "gannet, 4 ports: %zu handshakes in %.2f s\n", total, took);
    event_base_free(base);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cipher_classes),
        cmocka_unit_test(test_scan_s_server),
        cmocka_unit_test(test_scan_s_server_preference),
        cmocka_unit_test(test_scan_s_server_legacy),
        cmocka_unit_test(test_scan_s_server_alpn_selects),
        cmocka_unit_test(test_scan_gannet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
