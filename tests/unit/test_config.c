/* Unit tests of the configuration parser (src/lib/settings.c): syntax, every
 * error with its file and line, includes, `<file` values, defaults, time and
 * size values, the dump and variable expansion. Files are written to a
 * mkdtemp() directory under /tmp that the group teardown removes. */
#include "lib/buf.h"
#include "lib/settings.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/gannet-test-config-XXXXXX";

static int make_tmpdir(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int remove_tmpdir(void **state)
{
    (void)state;
    return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/name, in a buffer owned by the caller. */
static char *tmp_path(const char *name)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s/%s", tmpdir, name);
    return buf_steal(&b);
}

static char *write_file(const char *name, const char *text)
{
    char *path = tmp_path(name);
    /* Creates the directories on the way (conf.d/...). */
    for (char *slash = strchr(path + strlen(tmpdir) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Writes t.conf and loads it; returns settings_load's result. */
static int load_text(const char *text, struct settings *s, struct buf *err)
{
    char *path = write_file("t.conf", text);
    int ret = settings_load(path, s, err);
    free(path);
    return ret;
}

static void load_ok(const char *text, struct settings *s)
{
    struct buf err = BUF_INIT;
    int ret = load_text(text, s, &err);
    if (ret != 0)
        print_error("unexpected error: %s\n", buf_cstr(&err));
    assert_int_equal(ret, 0);
    buf_free(&err);
}

/* Loads `text` as t.conf and expects exactly "PATH/t.conf:LINE: message". */
static void expect_error_in(const char *name, const char *text, const char *load_name,
                            unsigned line, const char *message)
{
    char *path = write_file(name, text);
    char *load_path = tmp_path(load_name);
    struct settings s;
    struct buf err = BUF_INIT, want = BUF_INIT;
    assert_int_equal(settings_load(load_path, &s, &err), -1);
    buf_printf(&want, "%s:%u: %s", path, line, message);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));
    /* On error the settings are left empty. */
    assert_null(s.listeners);
    assert_int_equal(s.n_listeners, 0);
    assert_null(s.config_path);
    assert_null(s.login_greeting);
    buf_free(&err);
    buf_free(&want);
    free(path);
    free(load_path);
}

static void expect_error(const char *text, unsigned line, const char *message)
{
    expect_error_in("t.conf", text, "t.conf", line, message);
}

static const struct listener_settings *find_listener(const struct settings *s, const char *service,
                                                     const char *name, bool is_unix)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        const struct listener_settings *l = &s->listeners[i];
        if (strcmp(l->service, service) == 0 && strcmp(l->name, name) == 0 &&
            (l->path != NULL) == is_unix)
            return l;
    }
    return NULL;
}

static void assert_listener(const struct settings *s, const char *service, const char *name,
                            int port, bool ssl, const char *address)
{
    const struct listener_settings *l = find_listener(s, service, name, false);
    if (l == NULL)
        fail_msg("no listener %s/%s", service, name);
    assert_int_equal(l->port, port);
    assert_int_equal(l->ssl, ssl);
    if (address == NULL)
        assert_null(l->address);
    else
        assert_string_equal(l->address, address);
}

static void assert_dump(const struct settings *s, const char *expected)
{
    struct buf out = BUF_INIT;
    settings_dump_changed(s, &out);
    assert_string_equal(buf_cstr(&out), expected);
    buf_free(&out);
}

/* ---- defaults ---- */

static void assert_defaults(const struct settings *s)
{
    assert_string_equal(s->protocols, "imap pop3");
    assert_string_equal(s->listen, "*, ::");
    assert_int_equal(s->ssl, SSL_MODE_REQUIRED);
    assert_null(s->ssl_cert.value);
    assert_null(s->ssl_cert.path);
    assert_null(s->ssl_key.value);
    assert_int_equal(s->ssl_min_protocol, TLS1_2_VERSION);
    assert_null(s->ssl_cipher_list);
    assert_null(s->ssl_cipher_suites);
    assert_true(s->ssl_prefer_server_ciphers);
    assert_true(s->disable_plaintext_auth);
    assert_string_equal(s->auth_mechanisms, "plain login");
    assert_false(s->auth_verbose);
    assert_string_equal(s->auth_verbose_passwords, "no");
    assert_false(s->auth_debug);
    assert_false(s->auth_debug_passwords);
    assert_null(s->auth_anonymous_username);
    assert_int_equal(s->auth_failure_delay_ms, 2000);
    assert_null(s->login_trusted_networks);
    assert_string_equal(s->login_greeting, "gannet ready.");
    assert_string_equal(s->mail_location, "maildir:~/Maildir");
    assert_null(s->mail_uid);
    assert_null(s->mail_gid);
    assert_int_equal(s->mail_max_userip_connections, 10);
    assert_null(s->log_path);
    assert_int_equal(s->imap_max_line_length, 65536);
    assert_int_equal(s->login_max_line_length, 8192);
    assert_int_equal(s->auth_max_sasl_size, 16384);
    assert_int_equal(s->login_timeout_ms, 60000);
    assert_int_equal(s->login_max_connections, 1000);
    assert_int_equal(s->login_max_connections_per_ip, 20);
    assert_int_equal(s->login_max_bad_commands, 10);
    assert_int_equal(s->workers, 0);
    assert_string_equal(s->recipient_delimiter, "+");
    assert_false(s->lmtp_save_to_detail_mailbox);
    assert_null(s->postmaster_address);
    assert_int_equal(s->lmtp_max_recipients, 100);
    assert_int_equal(s->n_listeners, 5);
    assert_listener(s, "imap-login", "imap", 143, false, NULL);
    assert_listener(s, "imap-login", "imaps", 993, true, NULL);
    assert_listener(s, "pop3-login", "pop3", 110, false, NULL);
    assert_listener(s, "pop3-login", "pop3s", 995, true, NULL);
    /* Dovecot's LMTP socket in base_dir, mode 0666 unless told otherwise */
    const struct listener_settings *lmtp = find_listener(s, "lmtp", "lmtp", true);
    assert_non_null(lmtp);
    assert_string_equal(lmtp->path, "/run/gannet/lmtp");
    assert_null(lmtp->mode);
    assert_int_equal(s->n_passdbs, 0);
    assert_int_equal(s->n_userdbs, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct settings s;
    settings_init_defaults(&s);
    assert_defaults(&s);
    assert_dump(&s, "");
    settings_free(&s);
    assert_null(s.protocols);
    settings_free(&s); /* twice is harmless */
}

static void test_empty_file_gives_defaults(void **state)
{
    (void)state;
    struct settings s;
    load_ok("# nothing but comments\n\n   \t\n", &s);
    assert_defaults(&s);
    char *path = tmp_path("t.conf");
    assert_string_equal(s.config_path, path);
    free(path);
    assert_dump(&s, "");
    settings_free(&s);

    load_ok("", &s);
    assert_defaults(&s);
    settings_free(&s);
}

/* ---- values, quoting, comments ---- */

static void test_values_quoting_comments(void **state)
{
    (void)state;
    struct settings s;
    load_ok("# a comment\n"
            "   # an indented comment\n"
            "login_greeting = \"Hello # not a comment \\\"quoted\\\" \\\\ end\"  # a comment\n"
            "mail_location = maildir:~/Mail   # trailing comment\n"
            "log_path = /var/log/gannet.log   \t\n"
            "auth_anonymous_username = 'anon ymous'\n"
            "mail_uid=vmail\n"
            "mail_gid =\t5000\r\n"
            "listen = 127.0.0.1,::1\n",
            &s);
    assert_string_equal(s.login_greeting, "Hello # not a comment \"quoted\" \\ end");
    assert_string_equal(s.mail_location, "maildir:~/Mail");
    assert_string_equal(s.log_path, "/var/log/gannet.log");
    assert_string_equal(s.auth_anonymous_username, "anon ymous");
    assert_string_equal(s.mail_uid, "vmail");
    assert_string_equal(s.mail_gid, "5000");
    assert_string_equal(s.listen, "127.0.0.1, ::1");
    settings_free(&s);

    /* An empty value unsets what has no default, and is "" otherwise. */
    load_ok("log_path = /x\nlog_path =\nlisten =\nlogin_greeting = \"\"\n", &s);
    assert_null(s.log_path);
    assert_string_equal(s.listen, "");
    assert_string_equal(s.login_greeting, "");
    settings_free(&s);

    /* The last assignment wins, as in Dovecot. */
    load_ok("workers = 2\nworkers = 4\n", &s);
    assert_int_equal(s.workers, 4);
    settings_free(&s);
}

static void test_booleans(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool value;
    } cases[] = {{"yes", true}, {"no", false}, {"true", true}, {"false", false},
                 {"1", true},   {"0", false},  {"YES", true},  {"No", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct settings s;
        struct buf text = BUF_INIT;
        buf_printf(&text, "auth_debug = %s\ndisable_plaintext_auth = %s\n", cases[i].text,
                   cases[i].text);
        load_ok(buf_cstr(&text), &s);
        assert_int_equal(s.auth_debug, cases[i].value);
        assert_int_equal(s.disable_plaintext_auth, cases[i].value);
        settings_free(&s);
        buf_free(&text);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned ms;
    } good[] = {
        {"2 secs", 2000},      {"2s", 2000},          {"2 sec", 2000},
        {"500 msecs", 500},    {"500ms", 500},        {"500 ms", 500},
        {"1 min", 60000},      {"1 mins", 60000},     {"5m", 300000},
        {"3 hours", 10800000}, {"1h", 3600000},       {"1 day", 86400000},
        {"7", 7000},           {" 7 ", 7000},         {"0", 0},
        {"2 SECS", 2000},      {"1 week", 604800000}, {"4294967295 ms", 4294967295u},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        unsigned ms = 12345;
        if (!settings_parse_time(good[i].text, &ms))
            fail_msg("'%s' did not parse", good[i].text);
        assert_int_equal(ms, good[i].ms);
    }
    static const char *const bad[] = {"",      "secs", "-1 secs", "1.5 secs", "2 parsecs",
                                      "2 s x", "1 2",  "2secsx",  "50 days",  "4294967296 ms"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned ms = 12345;
        if (settings_parse_time(bad[i], &ms))
            fail_msg("'%s' parsed as %u ms", bad[i], ms);
        assert_int_equal(ms, 12345);
    }
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"64k", 65536}, {"64 K", 65536},    {"1M", 1048576},   {"1 G", 1073741824},
        {"4096", 4096}, {"10 kB", 10240},   {"2 MB", 2097152}, {"7 B", 7},
        {"0", 0},       {"1 MiB", 1048576}, {" 3 k ", 3072},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t bytes = 12345;
        if (!settings_parse_size(good[i].text, &bytes))
            fail_msg("'%s' did not parse", good[i].text);
        assert_int_equal(bytes, good[i].bytes);
    }
    static const char *const bad[] = {
        "", "k", "-1", "1.5M", "12 parsecs", "64 k b", "99999999999999999999", "17179869184 G"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t bytes = 12345;
        if (settings_parse_size(bad[i], &bytes))
            fail_msg("'%s' parsed as %zu bytes", bad[i], bytes);
        assert_int_equal(bytes, 12345);
    }
}

static void test_typed_settings(void **state)
{
    (void)state;
    struct settings s;
    load_ok("ssl = no\n"
            "ssl_min_protocol = tlsv1.3\n"
            "auth_mechanisms = PLAIN Login, scram-sha-256\n"
            "auth_verbose_passwords = yes\n"
            "protocols = IMAP lmtp\n"
            "login_trusted_networks = 10.0.0.0/8, 192.0.2.1  2001:db8::/32\n"
            "auth_failure_delay = 500ms\n"
            "login_timeout = 2 mins\n"
            "imap_max_line_length = 1 M\n"
            "login_max_line_length = 4096\n"
            "auth_max_sasl_size = 32k\n"
            "mail_max_userip_connections = 3\n"
            "login_max_connections = 50\n"
            "login_max_connections_per_ip = 5\n"
            "login_max_bad_commands = 2\n"
            "workers = 8\n"
            "ssl_cipher_list = ECDHE+AESGCM\n"
            "ssl_cipher_suites = TLS_AES_256_GCM_SHA384\n"
            "ssl_prefer_server_ciphers = no\n",
            &s);
    assert_int_equal(s.ssl, SSL_MODE_NO);
    assert_int_equal(s.ssl_min_protocol, TLS1_3_VERSION);
    assert_string_equal(s.auth_mechanisms, "plain login scram-sha-256");
    assert_string_equal(s.auth_verbose_passwords, "plain");
    assert_string_equal(s.protocols, "imap lmtp");
    assert_string_equal(s.login_trusted_networks, "10.0.0.0/8 192.0.2.1 2001:db8::/32");
    assert_int_equal(s.auth_failure_delay_ms, 500);
    assert_int_equal(s.login_timeout_ms, 120000);
    assert_int_equal(s.imap_max_line_length, 1048576);
    assert_int_equal(s.login_max_line_length, 4096);
    assert_int_equal(s.auth_max_sasl_size, 32768);
    assert_int_equal(s.mail_max_userip_connections, 3);
    assert_int_equal(s.login_max_connections, 50);
    assert_int_equal(s.login_max_connections_per_ip, 5);
    assert_int_equal(s.login_max_bad_commands, 2);
    assert_int_equal(s.workers, 8);
    assert_string_equal(s.ssl_cipher_list, "ECDHE+AESGCM");
    assert_string_equal(s.ssl_cipher_suites, "TLS_AES_256_GCM_SHA384");
    assert_false(s.ssl_prefer_server_ciphers);
    settings_free(&s);

    static const struct {
        const char *text;
        int version;
    } versions[] = {{"SSLv3", SSL3_VERSION},
                    {"TLSv1", TLS1_VERSION},
                    {"TLSv1.1", TLS1_1_VERSION},
                    {"TLSv1.2", TLS1_2_VERSION}};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        struct buf text = BUF_INIT;
        buf_printf(&text, "ssl_min_protocol = %s\n", versions[i].text);
        load_ok(buf_cstr(&text), &s);
        assert_int_equal(s.ssl_min_protocol, versions[i].version);
        settings_free(&s);
        buf_free(&text);
    }

    load_ok("auth_verbose_passwords = SHA1\nprotocols = none\nauth_mechanisms = anonymous\n", &s);
    assert_string_equal(s.auth_verbose_passwords, "sha1");
    assert_string_equal(s.protocols, "");
    assert_string_equal(s.auth_mechanisms, "anonymous");
    settings_free(&s);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned line;
        const char *message;
    } cases[] = {
        {"# one\n\nssl_foo = 1\n", 3, "unknown setting 'ssl_foo'"},
        {"protocols = imap\n\nssl yes\n", 3, "expected '=' after 'ssl'"},
        {"ssl\n", 1, "expected '=' after 'ssl'"},
        {"ssl {\n}\n", 1, "expected '=' after 'ssl'"},
        {"\n\n\n\nssl = maybe\n", 5, "ssl: expected no, yes or required, got 'maybe'"},
        {"}\n", 1, "unexpected '}': no section is open"},
        {"service imap-login {\n}\n}\n", 3, "unexpected '}': no section is open"},
        {"port = 143\n", 1,
         "'port' can only be set inside a section 'inet_listener', not at the top level"},
        {"service imap-login {\n  ssl_cert = </x\n}\n", 2,
         "'ssl_cert' is a global setting: it cannot be set inside section 'service'"},
        {"service imap-login { inet_listener imap { foo = 1 } }\n", 1,
         "unknown setting 'foo' in section 'inet_listener'"},
        {"passdb {\n  port = 1\n}\n", 2,
         "'port' can only be set inside a section 'inet_listener', not inside 'passdb'"},
        {"service lmtp { unix_listener x { port = 24 } }\n", 1,
         "'port' can only be set inside a section 'inet_listener', not inside 'unix_listener'"},
        {"protocol imap {\n}\n", 1, "unknown section 'protocol'"},
        {"service auth {\n}\n", 1, "service: expected imap-login, pop3-login or lmtp, got 'auth'"},
        {"service {\n}\n", 1, "service: expected a name before '{' (service NAME {)"},
        {"service imap-login { inet_listener {\n", 1,
         "inet_listener: expected a name before '{' (inet_listener NAME {)"},
        {"inet_listener imap {\n}\n", 1,
         "section 'inet_listener' can only be opened inside a section 'service'"},
        {"service imap-login {\n  passdb {\n", 2,
         "section 'passdb' must be at the top level, not inside 'service'"},
        {"service imap-login\n", 1, "expected '{' after 'service imap-login'"},
        {"passdb\n", 1, "expected '{' after 'passdb'"},
        {"passdb = x\n", 1, "'passdb' is a section, not a setting: expected 'passdb {'"},
        {"service imap-login { inet_listener imap { port = 70000 } }\n", 1,
         "port: expected a port number from 0 to 65535, got '70000'"},
        {"service imap-login { inet_listener imap { port = imap } }\n", 1,
         "port: expected a port number from 0 to 65535, got 'imap'"},
        {"auth_mechanisms = plain cram-md5\n", 1,
         "auth_mechanisms: unsupported mechanism 'cram-md5' (expected plain, login, "
         "scram-sha-256 or anonymous)"},
        {"auth_mechanisms =\n", 1,
         "auth_mechanisms: expected at least one of plain, login, scram-sha-256 or anonymous"},
        {"auth_verbose_passwords = md5\n", 1,
         "auth_verbose_passwords: expected no, plain or sha1, got 'md5'"},
        {"login_trusted_networks = 10.0.0.0/8 10.0.0.0/33\n", 1,
         "login_trusted_networks: expected an address or a network such as 192.0.2.0/24 or "
         "2001:db8::/32, got '10.0.0.0/33'"},
        {"login_trusted_networks = example.com\n", 1,
         "login_trusted_networks: expected an address or a network such as 192.0.2.0/24 or "
         "2001:db8::/32, got 'example.com'"},
        {"service lmtp { unix_listener lmtp { mode = 0800 } }\n", 1,
         "mode: expected an octal mode such as 0600 or 0666, got '0800'"},
        {"service lmtp { unix_listener lmtp { mode = rw } }\n", 1,
         "mode: expected an octal mode such as 0600 or 0666, got 'rw'"},
        {"listen = example.com\n", 1,
         "listen: expected IP addresses such as 127.0.0.1, ::1, * or ::, got 'example.com'"},
        {"protocols = imap smtp\n", 1,
         "protocols: unknown protocol 'smtp' (expected imap, pop3 or lmtp)"},
        {"login_greeting = \"unterminated\n", 1,
         "login_greeting: missing closing \" at the end of the value"},
        {"login_greeting = \"a\" b\n", 1, "login_greeting: unexpected 'b' after the quoted value"},
        {"login_greeting = \"a\\r\\n* BYE\"\n", 1,
         "login_greeting: expected text on one line, without control characters"},
        {"auth_failure_delay = soon\n", 1,
         "auth_failure_delay: expected a time such as '30 secs', '500 ms' or '2 mins', got "
         "'soon'"},
        {"imap_max_line_length = 12 parsecs\n", 1,
         "imap_max_line_length: expected a size such as '64k', '1 M' or '4096', got '12 "
         "parsecs'"},
        {"workers = -1\n", 1, "workers: expected a number from 0 to 4294967295, got '-1'"},
        {"ssl_min_protocol = TLSv1.4\n", 1,
         "ssl_min_protocol: expected SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, got 'TLSv1.4'"},
        {"auth_debug = maybe\n", 1, "auth_debug: expected yes or no, got 'maybe'"},
        {"ssl_cert = /etc/cert.pem\n", 1,
         "ssl_cert: expected '<' and a file name (ssl_cert = </path/file.pem) or PEM text, got "
         "'/etc/cert.pem'"},
        {"ssl_key = <\n", 1, "ssl_key: expected a file name after '<'"},
        {"ssl_cipher_list = NOSUCHCIPHER\n", 1,
         "ssl_cipher_list: OpenSSL knows no cipher in 'NOSUCHCIPHER'"},
        {"ssl_cipher_suites = NOSUCHSUITE\n", 1,
         "ssl_cipher_suites: OpenSSL knows no TLS 1.3 cipher suite in 'NOSUCHSUITE'"},
        {"passdb {\n  args = /x\n}\n", 3,
         "passdb section opened at line 1 has no driver: expected 'driver = passwd-file' or "
         "'driver = static'"},
        {"userdb {\n  driver = ldap\n}\n", 2, "driver: expected passwd-file or static, got 'ldap'"},
        {"!foo bar\n", 1, "unknown directive '!foo' (expected !include or !include_try)"},
        {"!include\n", 1, "!include: expected a file name"},
        {"!include \"a.conf\" b\n", 1, "!include: unexpected 'b' after the quoted value"},
        {"= value\n", 1, "expected a setting or section name before '='"},
        {"{\n", 1, "expected a setting or section name before '{'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_error(cases[i].text, cases[i].line, cases[i].message);
}

static void test_missing_brace(void **state)
{
    (void)state;
    expect_error("# c\n"
                 "service imap-login {\n"
                 "  inet_listener imap {\n"
                 "    port = 1\n"
                 "  }\n"
                 "\n",
                 6, "missing '}' for section 'service' opened at line 2");
    /* The innermost open section is named; no final newline. */
    expect_error("service imap-login {\n  inet_listener imap {\n    port = 1", 3,
                 "missing '}' for section 'inet_listener' opened at line 2");
    expect_error("passdb { driver = static\n", 1,
                 "missing '}' for section 'passdb' opened at line 1");
}

static void test_nul_byte(void **state)
{
    (void)state;
    char *path = tmp_path("nul.conf");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fwrite("workers = 1\nwor\0kers = 2\n", 1, 25, f);
    fclose(f);
    struct settings s;
    struct buf err = BUF_INIT, want = BUF_INIT;
    assert_int_equal(settings_load(path, &s, &err), -1);
    buf_printf(&want, "%s:2: unexpected NUL byte", path);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));
    buf_free(&err);
    buf_free(&want);
    free(path);
}

static void test_missing_top_file(void **state)
{
    (void)state;
    char *path = tmp_path("does-not-exist.conf");
    struct settings s;
    struct buf err = BUF_INIT, want = BUF_INIT;
    assert_int_equal(settings_load(path, &s, &err), -1);
    buf_printf(&want, "cannot read '%s': No such file or directory", path);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));
    assert_null(s.config_path);
    buf_free(&err);
    buf_free(&want);
    free(path);
}

/* ---- sections ---- */

static void test_one_line_sections(void **state)
{
    (void)state;
    struct settings s;
    /* DESIGN.md's examples, verbatim. */
    load_ok("service imap-login {\n"
            "  inet_listener imap  { port = 143 }\n"
            "  inet_listener imaps { port = 993\n"
            "                        ssl = yes }\n"
            "}\n"
            "service pop3-login { inet_listener pop3 { port = 110 } inet_listener pop3s { port = "
            "995 ssl = yes } }\n"
            "service lmtp       { inet_listener lmtp { port = 24 } unix_listener lmtp { path = "
            "/run/gannet/lmtp } }\n"
            "passdb { driver = passwd-file args = scheme=CRYPT username_format=%u "
            "/etc/gannet/users }\n"
            "userdb { driver = static args = uid=vmail gid=vmail home=/var/mail/%d/%n }\n",
            &s);
    assert_int_equal(s.n_listeners, 6);
    assert_listener(&s, "imap-login", "imap", 143, false, NULL);
    assert_listener(&s, "imap-login", "imaps", 993, true, NULL);
    assert_listener(&s, "pop3-login", "pop3", 110, false, NULL);
    assert_listener(&s, "pop3-login", "pop3s", 995, true, NULL);
    assert_listener(&s, "lmtp", "lmtp", 24, false, NULL);
    const struct listener_settings *u = find_listener(&s, "lmtp", "lmtp", true);
    assert_non_null(u);
    assert_string_equal(u->path, "/run/gannet/lmtp");
    assert_int_equal(s.n_passdbs, 1);
    assert_string_equal(s.passdbs[0].driver, "passwd-file");
    assert_string_equal(s.passdbs[0].args, "scheme=CRYPT username_format=%u /etc/gannet/users");
    assert_int_equal(s.passdbs[0].line, 8);
    assert_int_equal(s.n_userdbs, 1);
    assert_string_equal(s.userdbs[0].driver, "static");
    assert_string_equal(s.userdbs[0].args, "uid=vmail gid=vmail home=/var/mail/%d/%n");
    assert_int_equal(s.userdbs[0].line, 9);
    char *path = tmp_path("t.conf");
    assert_string_equal(s.userdbs[0].file, path);
    free(path);
    settings_free(&s);

    /* The LMTP settings, with Dovecot's names, and a socket for Postfix. */
    load_ok("recipient_delimiter = +-\n"
            "lmtp_save_to_detail_mailbox = yes\n"
            "postmaster_address = admin@example.org\n"
            "lmtp_max_recipients = 7\n"
            "service lmtp { unix_listener /var/spool/postfix/private/gannet-lmtp {\n"
            "  mode = 600 user = postfix group = postfix } }\n",
            &s);
    assert_string_equal(s.recipient_delimiter, "+-");
    assert_true(s.lmtp_save_to_detail_mailbox);
    assert_string_equal(s.postmaster_address, "admin@example.org");
    assert_int_equal(s.lmtp_max_recipients, 7);
    u = find_listener(&s, "lmtp", "/var/spool/postfix/private/gannet-lmtp", true);
    assert_non_null(u);
    assert_string_equal(u->path, "/var/spool/postfix/private/gannet-lmtp");
    assert_string_equal(u->mode, "0600");
    assert_string_equal(u->user, "postfix");
    assert_string_equal(u->group, "postfix");
    assert_dump(&s, "recipient_delimiter = +-\n"
                    "lmtp_save_to_detail_mailbox = yes\n"
                    "postmaster_address = admin@example.org\n"
                    "lmtp_max_recipients = 7\n"
                    "service lmtp { unix_listener /var/spool/postfix/private/gannet-lmtp { path = "
                    "/var/spool/postfix/private/gannet-lmtp mode = 0600 user = postfix group = "
                    "postfix } }\n");
    settings_free(&s);

    /* A quoted value, a comment and keys written without blanks. */
    load_ok("service imap-login { inet_listener imap { address = \"127.0.0.1\" port=1143 } } # x\n"
            "passdb { driver=static args = \"a } b\" }\n",
            &s);
    assert_listener(&s, "imap-login", "imap", 1143, false, "127.0.0.1");
    assert_string_equal(s.passdbs[0].args, "a } b");
    settings_free(&s);
}

static void test_listener_merge(void **state)
{
    (void)state;
    struct settings s;
    load_ok("service imap-login {\n"
            "  inet_listener imap { address = 192.0.2.1 }\n"
            "  inet_listener imaps { port = 0 }\n"
            "  inet_listener imap2 { port = 1143 }\n"
            "}\n"
            "service imap-login {\n"
            "  inet_listener imap { port = 10143 }\n"
            "}\n"
            "service pop3-login { inet_listener imap { port = 1110 } }\n",
            &s);
    /* Defaults changed in place, one new, and the same label in another
     * service is another listener. */
    assert_int_equal(s.n_listeners, 7);
    assert_listener(&s, "imap-login", "imap", 10143, false, "192.0.2.1");
    assert_listener(&s, "imap-login", "imaps", 0, true, NULL);
    assert_listener(&s, "imap-login", "imap2", 1143, false, NULL);
    assert_listener(&s, "pop3-login", "imap", 1110, false, NULL);
    assert_listener(&s, "pop3-login", "pop3", 110, false, NULL);
    settings_free(&s);
}

static void test_unix_listeners(void **state)
{
    (void)state;
    struct settings s;
    load_ok("service lmtp {\n"
            "  unix_listener lmtp {\n"
            "  }\n"
            "  unix_listener /var/spool/postfix/private/gannet-lmtp {\n"
            "  }\n"
            "  unix_listener other { path = sub/sock }\n"
            "}\n",
            &s);
    assert_string_equal(find_listener(&s, "lmtp", "lmtp", true)->path, "/run/gannet/lmtp");
    assert_string_equal(
        find_listener(&s, "lmtp", "/var/spool/postfix/private/gannet-lmtp", true)->path,
        "/var/spool/postfix/private/gannet-lmtp");
    assert_string_equal(find_listener(&s, "lmtp", "other", true)->path, "/run/gannet/sub/sock");
    assert_null(find_listener(&s, "lmtp", "lmtp", false));
    settings_free(&s);

    struct buf text = BUF_INIT, message = BUF_INIT;
    buf_puts(&text, "service lmtp { unix_listener /");
    for (int i = 0; i < 120; i++)
        buf_putc(&text, 'x');
    buf_puts(&text, " { } }\n");
    buf_puts(&message, "unix_listener: '/");
    for (int i = 0; i < 120; i++)
        buf_putc(&message, 'x');
    buf_puts(&message, "' is longer than a unix socket path may be (107 bytes)");
    expect_error(buf_cstr(&text), 1, buf_cstr(&message));
    buf_free(&text);
    buf_free(&message);
}

static void test_dbs(void **state)
{
    (void)state;
    struct settings s;
    load_ok("passdb {\n"
            "  driver = passwd-file\n"
            "  args = scheme=SHA512-CRYPT /etc/gannet/users\n"
            "}\n"
            "passdb {\n"
            "  driver = static\n"
            "}\n"
            "userdb {\n"
            "  driver = static\n"
            "  args = uid=vmail gid=vmail home=/var/mail/%d/%n\n"
            "}\n",
            &s);
    assert_int_equal(s.n_passdbs, 2);
    assert_string_equal(s.passdbs[0].args, "scheme=SHA512-CRYPT /etc/gannet/users");
    assert_int_equal(s.passdbs[0].line, 1);
    assert_string_equal(s.passdbs[1].driver, "static");
    assert_null(s.passdbs[1].args);
    assert_int_equal(s.passdbs[1].line, 5);
    assert_int_equal(s.n_userdbs, 1);
    assert_int_equal(s.userdbs[0].line, 8);
    settings_free(&s);
}

/* ---- includes ---- */

static void test_include_relative(void **state)
{
    (void)state;
    /* The main file is in a subdirectory and loaded by absolute path while the
     * working directory is elsewhere: the include is found next to it. */
    char *inc = write_file("rel/conf.d/10-auth.conf", "\n# included\nauth_debug = yes\n");
    char *main_path = write_file("rel/main.conf", "workers = 3\n!include conf.d/10-auth.conf\n"
                                                  "workers = 5\n");
    struct settings s;
    struct buf err = BUF_INIT;
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    assert_true(s.auth_debug);
    assert_int_equal(s.workers, 5);
    settings_free(&s);

    /* An error inside the included file names that file and its line. */
    free(write_file("rel/conf.d/10-auth.conf", "\n# included\nauth_debug = perhaps\n"));
    expect_error_in("rel/conf.d/10-auth.conf", "\n# included\nauth_debug = perhaps\n",
                    "rel/main.conf", 3, "auth_debug: expected yes or no, got 'perhaps'");
    buf_free(&err);
    free(inc);
    free(main_path);
}

static void test_include_glob(void **state)
{
    (void)state;
    free(write_file("glob/conf.d/20-b.conf", "workers = 20\nauth_verbose = yes\n"));
    free(write_file("glob/conf.d/10-a.conf", "workers = 10\nauth_debug = yes\n"));
    free(write_file("glob/conf.d/readme.txt", "this is not a config file\n"));
    char *main_path = write_file("glob/main.conf", "!include conf.d/*.conf\n");
    struct settings s;
    struct buf err = BUF_INIT;
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    /* Sorted order: 20-b.conf comes last and wins. */
    assert_int_equal(s.workers, 20);
    assert_true(s.auth_debug);
    assert_true(s.auth_verbose);
    settings_free(&s);
    free(main_path);

    main_path = write_file("glob/none.conf", "!include_try conf.d/*.nothing\n");
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    settings_free(&s);
    free(main_path);

    char *pattern = tmp_path("glob/conf.d/*.nothing");
    struct buf want = BUF_INIT;
    buf_printf(&want, "!include: no file matches '%s'", pattern);
    expect_error_in("glob/none.conf", "\n!include conf.d/*.nothing\n", "glob/none.conf", 2,
                    buf_cstr(&want));
    buf_free(&want);
    buf_free(&err);
    free(pattern);
}

static void test_include_try_and_missing(void **state)
{
    (void)state;
    struct settings s;
    load_ok("!include_try no-such-file.conf\n!include_try \"/no/such/dir/x.conf\"\nworkers = 2\n",
            &s);
    assert_int_equal(s.workers, 2);
    settings_free(&s);

    char *missing = tmp_path("no-such-file.conf");
    struct buf want = BUF_INIT;
    buf_printf(&want, "cannot read '%s': No such file or directory", missing);
    expect_error("workers = 1\n!include no-such-file.conf # comment\n", 2, buf_cstr(&want));
    buf_free(&want);
    free(missing);

    /* A directory is not a config file, even for !include_try. */
    char *dir = write_file("adir/x", "");
    dir[strlen(dir) - 2] = '\0';
    buf_printf(&want, "cannot read '%s': Is a directory", dir);
    expect_error("!include_try adir\n", 1, buf_cstr(&want));
    buf_free(&want);
    free(dir);
}

static void test_include_loop(void **state)
{
    (void)state;
    free(write_file("loop/a.conf", "workers = 1\n!include b.conf\n"));
    char *b = tmp_path("loop/b.conf");
    char *a = tmp_path("loop/a.conf");
    struct buf want = BUF_INIT;
    buf_printf(&want, "!include loop: '%s' is already being read", a);
    expect_error_in("loop/b.conf", "# b\n\n!include a.conf\n", "loop/a.conf", 3, buf_cstr(&want));
    buf_free(&want);

    /* A file that includes itself through a glob. */
    buf_printf(&want, "!include loop: '%s' is already being read", b);
    expect_error_in("loop/b.conf", "!include b.con[f]\n", "loop/b.conf", 1, buf_cstr(&want));
    buf_free(&want);
    free(a);
    free(b);
}

static void test_include_and_sections(void **state)
{
    (void)state;
    /* An include inside a section reads its settings in that section. */
    free(write_file("sec/port.conf", "port = 1143\nssl = yes\n"));
    struct settings s;
    struct buf err = BUF_INIT;
    char *main_path = write_file("sec/main.conf", "service imap-login {\n"
                                                  "  inet_listener imap {\n"
                                                  "    !include port.conf\n"
                                                  "  }\n"
                                                  "}\n");
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    assert_listener(&s, "imap-login", "imap", 1143, true, NULL);
    settings_free(&s);
    free(main_path);

    /* A file closes only the sections it opened. */
    free(write_file("sec/main2.conf", "service imap-login {\n"
                                      "  inet_listener imap {\n"
                                      "    !include close.conf\n"
                                      "  }\n"
                                      "}\n"));
    expect_error_in("sec/close.conf", "port = 1\n}\n", "sec/main2.conf", 2,
                    "unexpected '}': the section was opened in another file");
    free(write_file("sec/main3.conf", "!include open.conf\n"));
    expect_error_in("sec/open.conf", "passdb {\n driver = static\n", "sec/main3.conf", 2,
                    "missing '}' for section 'passdb' opened at line 1");
    buf_free(&err);
}

/* ---- <file values ---- */

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n";

static void test_file_values(void **state)
{
    (void)state;
    char *cert = write_file("files/cert.pem", cert_pem);
    char *key = write_file("files/tls/key.pem", key_pem);
    free(write_file("files/greeting.txt", "\n  Welcome to mail.example  \n\n"));
    char *main_path = write_file("files/main.conf", "ssl_cert = <cert.pem\n"
                                                    "ssl_key = < tls/key.pem  # comment\n"
                                                    "login_greeting = <greeting.txt\n");
    struct settings s;
    struct buf err = BUF_INIT;
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    /* The PEM text exactly as in the file, and where it came from. */
    assert_string_equal(s.ssl_cert.value, cert_pem);
    assert_string_equal(s.ssl_cert.path, cert);
    assert_string_equal(s.ssl_key.value, key_pem);
    assert_string_equal(s.ssl_key.path, key);
    /* Other settings get the contents without the surrounding blank lines. */
    assert_string_equal(s.login_greeting, "Welcome to mail.example");
    settings_free(&s);

    /* A literal PEM value has no path. */
    load_ok("ssl_cert = \"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\"\n",
            &s);
    assert_string_equal(s.ssl_cert.value, cert_pem);
    assert_null(s.ssl_cert.path);
    assert_dump(&s, "# ssl_cert is set to inline PEM text (not shown)\n");
    settings_free(&s);

    char *missing = tmp_path("files/missing.pem");
    struct buf want = BUF_INIT;
    buf_printf(&want, "cannot read '%s': No such file or directory", missing);
    expect_error_in("files/bad.conf", "ssl = yes\n\nssl_cert = <missing.pem\n", "files/bad.conf", 3,
                    buf_cstr(&want));
    buf_free(&want);
    expect_error_in("files/bad.conf", "login_greeting = <tls/key.pem\n", "files/bad.conf", 1,
                    "login_greeting: expected text on one line, without control characters");
    buf_free(&err);
    free(missing);
    free(main_path);
    free(cert);
    free(key);
}

/* ---- dump ---- */

static void test_dump_changed(void **state)
{
    (void)state;
    char *key = write_file("dump/key.pem", key_pem);
    char *main_path =
        write_file("dump/main.conf", "protocols = imap\n"
                                     "ssl_key = <key.pem\n"
                                     "ssl_min_protocol = TLSv1.3\n"
                                     "auth_failure_delay = 500 ms\n"
                                     "login_timeout = 120\n"
                                     "imap_max_line_length = 1024k\n"
                                     "login_greeting = Hi # comment\n"
                                     "mail_location = \"maildir:~/Mail # x\"\n"
                                     "auth_failure_delay = 1 hour\n"
                                     "login_max_line_length = 1000\n"
                                     "ssl_prefer_server_ciphers = no\n"
                                     "service imap-login { inet_listener imaps { "
                                     "port = 0 } }\n"
                                     "service imap-login { inet_listener imap { "
                                     "port = 143 } }\n"
                                     "passdb { driver = passwd-file args = /etc/users }\n"
                                     "userdb { driver = static args = uid=1 gid=1 }\n");
    struct settings s;
    struct buf err = BUF_INIT, want = BUF_INIT, out = BUF_INIT;
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    buf_printf(&want,
               "protocols = imap\n"
               "ssl_key = <%s\n"
               "ssl_min_protocol = TLSv1.3\n"
               "ssl_prefer_server_ciphers = no\n"
               "auth_failure_delay = 1 hour\n"
               "login_greeting = Hi\n"
               "mail_location = \"maildir:~/Mail # x\"\n"
               "imap_max_line_length = 1 M\n"
               "login_max_line_length = 1000\n"
               "login_timeout = 2 mins\n"
               "service imap-login { inet_listener imaps { port = 0 ssl = yes } }\n"
               "passdb { driver = passwd-file args = /etc/users }\n"
               "userdb { driver = static args = \"uid=1 gid=1\" }\n",
               key);
    settings_dump_changed(&s, &out);
    assert_string_equal(buf_cstr(&out), buf_cstr(&want));
    /* Never the key itself. */
    assert_null(strstr(buf_cstr(&out), "SECRETKEY"));
    settings_free(&s);
    buf_free(&err);
    buf_free(&want);
    buf_free(&out);
    free(key);
    free(main_path);
}

/* What the dump prints loads back to the same settings. */
static void test_dump_round_trip(void **state)
{
    (void)state;
    free(write_file("trip/cert.pem", cert_pem));
    char *main_path = write_file(
        "trip/main.conf",
        "protocols = imap pop3 lmtp\n"
        "listen = 127.0.0.1, ::1\n"
        "ssl = yes\n"
        "ssl_cert = <cert.pem\n"
        "ssl_min_protocol = TLSv1\n"
        "ssl_cipher_list = ALL:!aNULL\n"
        "disable_plaintext_auth = no\n"
        "auth_mechanisms = plain anonymous\n"
        "auth_verbose_passwords = sha1\n"
        "auth_anonymous_username = \"guest\"\n"
        "login_trusted_networks = 10.0.0.0/8 ::1\n"
        "login_greeting = \"  Mail 'n' \\\"more\\\" # here {} \\\\ \"\n"
        "mail_uid = 5000\n"
        "mail_location = \"maildir:~/Mail \"\n"
        "log_path = syslog\n"
        "auth_max_sasl_size = 3 G\n"
        "login_timeout = 1500 ms\n"
        "workers = 4\n"
        "service imap-login { inet_listener imap { address = 127.0.0.1, ::1 port = 1 } }\n"
        "service lmtp { unix_listener lmtp { } inet_listener \"my lmtp\" { port = 24 } }\n"
        "passdb { driver = passwd-file args = scheme=PLAIN /etc/x }\n"
        "passdb { driver = static }\n"
        "userdb { driver = static args = home=/var/mail/%d/%n }\n");
    struct settings s;
    struct buf err = BUF_INIT, first = BUF_INIT, second = BUF_INIT;
    assert_int_equal(settings_load(main_path, &s, &err), 0);
    settings_dump_changed(&s, &first);
    settings_free(&s);
    /* The cert path printed is absolute, so the dump loads from anywhere. */
    load_ok(buf_cstr(&first), &s);
    settings_dump_changed(&s, &second);
    assert_string_equal(buf_cstr(&second), buf_cstr(&first));
    assert_string_equal(s.login_greeting, "  Mail 'n' \"more\" # here {} \\ ");
    settings_free(&s);
    buf_free(&err);
    buf_free(&first);
    buf_free(&second);
    free(main_path);
}

/* ---- variables ---- */

static void test_expand_vars(void **state)
{
    (void)state;
    static const struct {
        const char *tmpl, *user, *home, *expected;
    } cases[] = {
        {"/var/mail/%d/%n", "alice@example.org", NULL, "/var/mail/example.org/alice"},
        {"%u", "alice@example.org", NULL, "alice@example.org"},
        {"%h/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
        {"/var/mail/%d/%n", "bob", NULL, "/var/mail//bob"},
        {"100%%", "bob", NULL, "100%"},
        {"%Lu", "Alice@Example.ORG", NULL, "alice@example.org"},
        {"%{user}:%{username}:%{domain}:%{home}", "a@b", "/h", "a@b:a:b:/h"},
        {"%x %", "a", NULL, "%x %"},
        {"%{nope} %{user", "a", NULL, "%{nope} %{user"},
        {"", "a", NULL, ""},
        {"%n", NULL, NULL, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out = BUF_INIT;
        settings_expand_vars(cases[i].tmpl, cases[i].user, cases[i].home, &out);
        assert_string_equal(buf_cstr(&out), cases[i].expected);
        buf_free(&out);
    }
}

/* ---- the example configuration ---- */

static void test_example_config(void **state)
{
    (void)state;
    struct settings s;
    struct buf err = BUF_INIT;
    int ret = settings_load("../../docs/gannet.conf", &s, &err);
    if (ret != 0)
        print_error("%s\n", buf_cstr(&err));
    assert_int_equal(ret, 0);
    assert_string_equal(s.mail_uid, "vmail");
    assert_string_equal(s.mail_gid, "vmail");
    assert_int_equal(s.n_passdbs, 1);
    assert_string_equal(s.passdbs[0].driver, "passwd-file");
    assert_string_equal(s.passdbs[0].args, "/etc/gannet/users");
    assert_int_equal(s.n_userdbs, 1);
    assert_string_equal(s.userdbs[0].args, "uid=vmail gid=vmail home=/var/mail/%d/%n");
    /* Everything else is the default. */
    assert_dump(&s,
                "mail_uid = vmail\n"
                "mail_gid = vmail\n"
                "passdb { driver = passwd-file args = /etc/gannet/users }\n"
                "userdb { driver = static args = \"uid=vmail gid=vmail home=/var/mail/%d/%n\" }\n");
    settings_free(&s);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_file_gives_defaults),
        cmocka_unit_test(test_values_quoting_comments),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_typed_settings),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_brace),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_missing_top_file),
        cmocka_unit_test(test_one_line_sections),
        cmocka_unit_test(test_listener_merge),
        cmocka_unit_test(test_unix_listeners),
        cmocka_unit_test(test_dbs),
        cmocka_unit_test(test_include_relative),
        cmocka_unit_test(test_include_glob),
        cmocka_unit_test(test_include_try_and_missing),
        cmocka_unit_test(test_include_loop),
        cmocka_unit_test(test_include_and_sections),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_dump_changed),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_expand_vars),
        cmocka_unit_test(test_example_config),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
