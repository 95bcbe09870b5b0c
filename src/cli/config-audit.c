/* The dangerous settings, one check each. The identifiers are documented in
 * docs/findings.md and shared with `gannet probe`: once published, an
 * identifier never changes meaning or spelling. */
#include "cli/config-audit.h"

#include "auth/passdb.h"
#include "auth/password.h"
#include "lib/buf.h"
#include "lib/netaddr.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

struct audit {
    config_audit_cb *cb;
    void *ctx;
};

__attribute__((format(printf, 4, 5))) static void warn(const struct audit *a, const char *id,
                                                       const char *setting, const char *fmt, ...)
{
    struct buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    a->cb(id, setting, buf_cstr(&msg), a->ctx);
    buf_free(&msg);
}

/* settings_load() normalises lists to words separated by single spaces. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *s = list; s && (s = strstr(s, word)) != NULL; s += n)
        if ((s == list || s[-1] == ' ') && (s[n] == '\0' || s[n] == ' '))
            return true;
    return false;
}

static void audit_logging(const struct audit *a, const struct settings *s)
{
    if (s->auth_debug_passwords)
        warn(a, "log.passwords", "auth_debug_passwords",
             "auth_debug_passwords = yes writes passwords to the log: whoever reads the log "
             "can log in as your users");
    if (s->auth_verbose_passwords && strcmp(s->auth_verbose_passwords, "no") != 0) {
        if (strcmp(s->auth_verbose_passwords, "sha1") == 0)
            warn(a, "log.passwords", "auth_verbose_passwords",
                 "auth_verbose_passwords = sha1 writes an unsalted SHA-1 hash of the password of "
                 "every failed login to the log: such hashes crack quickly, and a mistyped "
                 "password is close to the real one");
        else
            warn(a, "log.passwords", "auth_verbose_passwords",
                 "auth_verbose_passwords = %s writes the password of every failed login to the "
                 "log: a mistyped password is close to the real one",
                 s->auth_verbose_passwords);
    }
    if (s->auth_debug)
        warn(a, "log.auth_debug", "auth_debug",
             "auth_debug = yes writes account names, mechanisms and the reason of every "
             "authentication failure to the log");
    if (s->auth_verbose)
        warn(a, "log.auth_verbose", "auth_verbose",
             "auth_verbose = yes writes account names and the reason of every failed login to "
             "the log");
}

/* The ANONYMOUS mechanism needs both settings; either one alone is one
 * setting away from letting anyone in, so each is reported, but once. */
static void audit_anonymous(const struct audit *a, const struct settings *s)
{
    bool mechanism = has_word(s->auth_mechanisms, "anonymous");
    const char *user = s->auth_anonymous_username;
    if (mechanism && user)
        warn(a, "auth.anonymous", "auth_mechanisms",
             "auth_mechanisms offers anonymous with auth_anonymous_username = %s: anyone may log "
             "in without a password and read that account's mail",
             user);
    else if (mechanism)
        warn(a, "auth.anonymous", "auth_mechanisms",
             "auth_mechanisms includes anonymous: as soon as auth_anonymous_username is set, "
             "anyone may log in without a password");
    else if (user)
        warn(a, "auth.anonymous", "auth_anonymous_username",
             "auth_anonymous_username = %s: as soon as anonymous is added to auth_mechanisms, "
             "anyone may log in as %s without a password",
             user, user);
}

static void audit_plaintext(const struct audit *a, const struct settings *s)
{
    if (s->ssl == SSL_MODE_NO)
        warn(a, "starttls.missing", "ssl",
             "ssl = no turns TLS off (no STARTTLS, no IMAPS/POP3S): passwords and mail cross the "
             "network in clear text");
    if (!s->disable_plaintext_auth)
        warn(a, "auth.plaintext_pre_tls", "disable_plaintext_auth",
             "disable_plaintext_auth = no accepts passwords (LOGIN, USER/PASS, AUTHENTICATE "
             "PLAIN) over connections without TLS: anyone on the path can read them");
}

static void audit_min_protocol(const struct audit *a, const struct settings *s)
{
    static const struct {
        int version;
        const char *name;
    } versions[] = {{SSL3_VERSION, "SSLv3"}, {TLS1_VERSION, "TLSv1"}, {TLS1_1_VERSION, "TLSv1.1"}};
    if (s->ssl_min_protocol >= TLS1_2_VERSION)
        return;
    const char *name = "a version below TLSv1.2";
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        if (versions[i].version == s->ssl_min_protocol)
            name = versions[i].name;
    warn(a, "tls.legacy_protocol", "ssl_min_protocol",
         "ssl_min_protocol = %s lets clients connect with protocol versions that are broken or "
         "deprecated (RFC 8996: SSLv3, TLS 1.0 and 1.1; POODLE, BEAST, SHA-1 handshakes)",
         name);
}

/* Why a cipher suite is weak, or NULL. The categories are those of the
 * audit guides: no encryption, no authentication, broken or short ciphers,
 * MD5, and static key exchange (recorded traffic decrypts once the key leaks). */
enum weakness { WEAK_NULL, WEAK_ANON, WEAK_RC4, WEAK_DES, WEAK_SHORT, WEAK_MD5, WEAK_NO_PFS };

static const char *const weakness_names[] = {
    [WEAK_NULL] = "without encryption",
    [WEAK_ANON] = "without server authentication",
    [WEAK_RC4] = "with RC4",
    [WEAK_DES] = "with DES or 3DES",
    [WEAK_SHORT] = "with keys shorter than 128 bits",
    [WEAK_MD5] = "with MD5",
    [WEAK_NO_PFS] = "without forward secrecy",
};

static int cipher_weakness(const SSL_CIPHER *c)
{
    int cipher = SSL_CIPHER_get_cipher_nid(c), kx = SSL_CIPHER_get_kx_nid(c);
    if (cipher == NID_undef)
        return WEAK_NULL;
    if (SSL_CIPHER_get_auth_nid(c) == NID_auth_null)
        return WEAK_ANON;
    if (cipher == NID_rc4 || cipher == NID_rc4_40)
        return WEAK_RC4;
    if (cipher == NID_des_cbc || cipher == NID_des_ede3_cbc)
        return WEAK_DES;
    if (SSL_CIPHER_get_bits(c, NULL) < 128)
        return WEAK_SHORT;
    if (SSL_CIPHER_get_digest_nid(c) == NID_md5)
        return WEAK_MD5;
    if (kx != NID_kx_ecdhe && kx != NID_kx_dhe && kx != NID_kx_ecdhe_psk && kx != NID_kx_dhe_psk &&
        kx != NID_kx_any)
        return WEAK_NO_PFS;
    return -1;
}

/* Builds the context the server would build from the list and looks at the
 * suites OpenSSL would really enable (after its security level, the protocol
 * versions and the system's openssl.cnf), not at the words of the list. */
static void audit_cipher_list(const struct audit *a, const struct settings *s)
{
    if (s->ssl_cipher_list == NULL) /* gannet's own default: forward-secret AEAD only */
        return;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl = NULL;
    STACK_OF(SSL_CIPHER) *ciphers = NULL;
    if (ctx == NULL || SSL_CTX_set_cipher_list(ctx, s->ssl_cipher_list) != 1 ||
        SSL_CTX_set_min_proto_version(ctx, s->ssl_min_protocol) != 1 ||
        (ssl = SSL_new(ctx)) == NULL || (ciphers = SSL_get1_supported_ciphers(ssl)) == NULL)
        goto out;

    size_t count[WEAK_NO_PFS + 1] = {0};
    const char *example[WEAK_NO_PFS + 1] = {NULL};
    bool any = false;
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
        int w = cipher_weakness(c);
        if (w < 0)
            continue;
        if (count[w]++ == 0)
            example[w] = SSL_CIPHER_get_name(c);
        any = true;
    }
    bool seclevel0 = SSL_CTX_get_security_level(ctx) == 0;
    if (!any && !seclevel0)
        goto out;

    struct buf msg = BUF_INIT;
    buf_printf(&msg, "ssl_cipher_list = %s", s->ssl_cipher_list);
    if (any) {
        buf_puts(&msg,
                 " enables weak cipher suites, which let an attacker read or alter the traffic "
                 "(or, without forward secrecy, decrypt recordings once the key leaks):");
        const char *sep = " ";
        for (size_t w = 0; w <= WEAK_NO_PFS; w++) {
            if (count[w] == 0)
                continue;
            buf_printf(&msg, "%s%zu %s (%s%s)", sep, count[w], weakness_names[w],
                       count[w] > 1 ? "e.g. " : "", example[w]);
            sep = ", ";
        }
    }
    if (seclevel0)
        buf_printf(&msg,
                   "%s security level 0 (@SECLEVEL=0) turns off OpenSSL's checks of key "
                   "sizes and algorithms",
                   any ? ";" : " sets");
    warn(a, "tls.weak_cipher", "ssl_cipher_list", "%s", buf_cstr(&msg));
    buf_free(&msg);
out:
    sk_SSL_CIPHER_free(ciphers);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}

/* passwd-file's args: `[scheme=S] [username_format=F] PATH`, as in Dovecot. */
static void passwd_file_args(const char *args, struct buf *path, struct buf *scheme)
{
    for (const char *s = args; s && *s;) {
        s += strspn(s, " \t");
        size_t n = strcspn(s, " \t");
        if (n == 0)
            break;
        if (strncmp(s, "scheme=", 7) == 0) {
            buf_reset(scheme);
            buf_append(scheme, s + 7, n - 7);
        } else if (strncmp(s, "username_format=", 16) != 0) {
            buf_reset(path);
            buf_append(path, s, n);
        }
        s += n;
    }
}

static void audit_weak_schemes(const struct audit *a, const struct db_settings *db,
                               const char *path, const char *default_scheme)
{
    struct passwd_file f;
    struct buf err = BUF_INIT;
    /* Unreadable here (config check without root): authdb_open reports it
     * when the server starts; there is nothing to audit. */
    if (passwd_file_load(path, &f, &err) < 0) {
        buf_free(&err);
        return;
    }
    buf_free(&err);
    size_t weak = 0, with_password = 0;
    struct buf schemes = BUF_INIT, scheme = BUF_INIT;
    for (size_t i = 0; i < f.n_entries; i++) {
        if (f.entries[i].password == NULL)
            continue;
        with_password++;
        buf_reset(&scheme);
        password_scheme_of(f.entries[i].password, default_scheme, &scheme);
        if (!password_scheme_is_weak(buf_cstr(&scheme)))
            continue;
        weak++;
        /* The scheme names only, never a password or a user name. */
        struct buf braced = BUF_INIT;
        buf_printf(&braced, "{%s}", buf_cstr(&scheme));
        if (strstr(buf_cstr(&schemes), buf_cstr(&braced)) == NULL)
            buf_printf(&schemes, "%s%s", schemes.len ? ", " : "", buf_cstr(&braced));
        buf_free(&braced);
    }
    if (weak > 0)
        warn(a, "passdb.weak_scheme", "passdb",
             "passdb passwd-file %s (%s:%d) stores %zu of %zu users' passwords with a weak "
             "scheme (%s): they are recoverable or unsalted, so a copy of the file gives them "
             "away; hash them again with `gannet passwd`",
             path, db->file, db->line, weak, with_password, buf_cstr(&schemes));
    buf_free(&schemes);
    buf_free(&scheme);
    passwd_file_free(&f);
}

static void audit_passdbs(const struct audit *a, const struct settings *s)
{
    for (size_t i = 0; i < s->n_passdbs; i++) {
        const struct db_settings *db = &s->passdbs[i];
        if (db->driver == NULL || strcmp(db->driver, "passwd-file") != 0)
            continue;
        struct buf path = BUF_INIT, scheme = BUF_INIT;
        passwd_file_args(db->args, &path, &scheme);
        /* A path with variables (%d) is one file per domain: none to check. */
        if (path.len > 0 && strchr(path.data, '%') == NULL) {
            audit_weak_schemes(a, db, path.data, scheme.len ? scheme.data : NULL);
            struct stat st;
            if (stat(path.data, &st) == 0 && (st.st_mode & S_IROTH))
                warn(a, "passdb.world_readable", "passdb",
                     "passwd-file %s (passdb at %s:%d) is readable by every local user (mode "
                     "%04o): its password hashes can be copied and cracked offline",
                     path.data, db->file, db->line, (unsigned)(st.st_mode & 07777));
        }
        buf_free(&path);
        buf_free(&scheme);
    }
}

static void audit_key_file(const struct audit *a, const struct settings *s)
{
    struct stat st;
    if (s->ssl_key.path == NULL || stat(s->ssl_key.path, &st) != 0 || !(st.st_mode & S_IROTH))
        return;
    warn(a, "tls.key_world_readable", "ssl_key",
         "ssl_key file %s is readable by every local user (mode %04o): anyone with a shell on "
         "this machine can copy the private key and impersonate the server",
         s->ssl_key.path, (unsigned)(st.st_mode & 07777));
}

/* A trusted network counts as secured without TLS; a short prefix makes that
 * a large part of the Internet. IPv4-mapped IPv6 networks count as IPv4. */
static void audit_trusted_networks(const struct audit *a, const struct settings *s)
{
    struct buf wide = BUF_INIT;
    for (const char *p = s->login_trusted_networks; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 0)
            break;
        char word[64];
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        p += n;
        unsigned char addr[16];
        int family;
        unsigned prefix;
        if (!netaddr_parse_cidr(word, addr, &family, &prefix))
            continue;
        static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        bool mapped = family == AF_INET6 && prefix >= 96 && memcmp(addr, v4_mapped, 12) == 0;
        if ((family == AF_INET && prefix < 8) || (mapped && prefix < 96 + 8) ||
            (family == AF_INET6 && !mapped && prefix < 32))
            buf_printf(&wide, "%s%s", wide.len ? ", " : "", word);
    }
    if (wide.len > 0)
        warn(a, "auth.trusted_networks_wide", "login_trusted_networks",
             "login_trusted_networks includes %s: clients from there count as secured, so "
             "they may send passwords without TLS",
             buf_cstr(&wide));
    buf_free(&wide);
}

/* An address of the loopback interface: 127.0.0.0/8 or ::1. */
static bool is_loopback(const char *word)
{
    unsigned char addr[16];
    int family;
    unsigned prefix;
    if (!netaddr_parse_cidr(word, addr, &family, &prefix))
        return false;
    static const unsigned char v6_loopback[16] = {[15] = 1};
    return (family == AF_INET && addr[0] == 127) ||
           (family == AF_INET6 && memcmp(addr, v6_loopback, 16) == 0);
}

/* LMTP has no authentication (RFC 2033 leaves it to the network): whoever
 * reaches its port can put mail in any user's mailbox. An inet_listener
 * lmtp without an address listens on 127.0.0.1 (lmtp/session.c). */
static void audit_lmtp(const struct audit *a, const struct settings *s)
{
    if (!has_word(s->protocols, "lmtp"))
        return;
    for (size_t i = 0; i < s->n_listeners; i++) {
        const struct listener_settings *l = &s->listeners[i];
        if (strcmp(l->service, "lmtp") != 0 || l->path != NULL || l->port == 0 ||
            l->address == NULL)
            continue;
        struct buf open = BUF_INIT;
        for (const char *p = l->address; *p;) {
            p += strspn(p, " \t,");
            size_t n = strcspn(p, " \t,");
            if (n == 0)
                break;
            char word[64];
            snprintf(word, sizeof(word), "%.*s", (int)n, p);
            p += n;
            if (!is_loopback(word))
                buf_printf(&open, "%s%s", open.len ? ", " : "", word);
        }
        if (open.len > 0)
            warn(a, "lmtp.public", "inet_listener",
                 "inet_listener %s of service lmtp listens on %s port %d: LMTP has no "
                 "authentication, so whoever reaches it can put mail in any user's mailbox",
                 l->name, buf_cstr(&open), l->port);
        buf_free(&open);
    }
}

void config_audit(const struct settings *s, config_audit_cb *cb, void *ctx)
{
    const struct audit a = {cb, ctx};
    audit_logging(&a, s);
    audit_anonymous(&a, s);
    audit_plaintext(&a, s);
    audit_min_protocol(&a, s);
    audit_cipher_list(&a, s);
    audit_passdbs(&a, s);
    audit_key_file(&a, s);
    audit_trusted_networks(&a, s);
    audit_lmtp(&a, s);
}
