/* Reads gannet.conf: Dovecot's syntax and Dovecot's names (DESIGN.md
 * "Configuration").
 *
 * One tokenizer turns each line into statements (`key = value`,
 * `name [label] {`, `}`, `!include`), and one table of keys (name, section,
 * field offset, type, default) drives parsing, the defaults,
 * settings_dump_changed() and settings_free() alike: a new setting is a field
 * in struct settings and a row in setting_defs[], nothing else. */
#include "lib/settings.h"

#include "lib/netaddr.h"
#include "lib/number.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A config file or a `<file` value is read whole; anything bigger than this
 * is a mistake (a log file named by accident), not a configuration. */
#define SETTINGS_MAX_FILE_SIZE (1024 * 1024)
/* Deep enough for conf.d layouts, shallow enough to stop runaway globs. */
#define SETTINGS_MAX_INCLUDE_DEPTH 16
/* The grammar nests at most service > listener. */
#define SETTINGS_MAX_SECTION_DEPTH 2
/* Where a unix_listener with a relative name goes, as Dovecot's base_dir. */
#define SETTINGS_RUN_DIR "/run/gannet"

enum section_kind {
    SEC_TOP,
    SEC_SERVICE,
    SEC_INET_LISTENER,
    SEC_UNIX_LISTENER,
    SEC_PASSDB,
    SEC_USERDB,
};

static const char *const section_kind_names[] = {
    [SEC_TOP] = "top level",
    [SEC_SERVICE] = "service",
    [SEC_INET_LISTENER] = "inet_listener",
    [SEC_UNIX_LISTENER] = "unix_listener",
    [SEC_PASSDB] = "passdb",
    [SEC_USERDB] = "userdb",
};

struct section_def {
    const char *name;
    enum section_kind kind;
    enum section_kind parent;
    bool needs_label;
};

static const struct section_def section_defs[] = {
    {"service", SEC_SERVICE, SEC_TOP, true},
    {"inet_listener", SEC_INET_LISTENER, SEC_SERVICE, true},
    {"unix_listener", SEC_UNIX_LISTENER, SEC_SERVICE, true},
    {"passdb", SEC_PASSDB, SEC_TOP, false},
    {"userdb", SEC_USERDB, SEC_TOP, false},
};

static const char *const service_names[] = {"imap-login", "pop3-login", "lmtp", NULL};

/* What a field holds; each type has one parser, one printer, one comparison. */
enum value_type {
    V_STRING, /* char *, optionally checked and normalised by setting_def.check */
    V_FILE,   /* struct setting_file */
    V_BOOL,   /* bool */
    V_UINT,   /* unsigned */
    V_PORT,   /* int, 0..65535 */
    V_TIME,   /* unsigned, milliseconds */
    V_SIZE,   /* size_t, bytes */
    V_ENUM,   /* int (or an enum), one of setting_def.names */
};

struct enum_name {
    const char *name;
    int value;
};

static const struct enum_name ssl_modes[] = {
    {"no", SSL_MODE_NO}, {"yes", SSL_MODE_YES}, {"required", SSL_MODE_REQUIRED}, {NULL, 0}};

static const struct enum_name tls_versions[] = {
    {"SSLv3", SSL3_VERSION},     {"TLSv1", TLS1_VERSION},     {"TLSv1.1", TLS1_1_VERSION},
    {"TLSv1.2", TLS1_2_VERSION}, {"TLSv1.3", TLS1_3_VERSION}, {NULL, 0}};

/* Validates a V_STRING value and writes its normal form to out; on failure
 * says what was expected in why (the caller adds "FILE:LINE: key: "). */
typedef bool value_check(const char *value, struct buf *out, struct buf *why);

static value_check check_protocols, check_mechanisms, check_verbose_passwords, check_networks,
    check_cipher_list, check_cipher_suites, check_driver, check_socket_path, check_listen;

struct setting_def {
    const char *name;
    enum section_kind section;
    size_t offset;
    size_t size; /* of the field, checked against the type by settings_init_defaults() */
    enum value_type type;
    /* Parsed by settings_init_defaults() for top-level keys. For V_STRING, NULL
     * also means that an empty value unsets the field (NULL) instead of
     * setting it to "". */
    const char *default_value;
    const struct enum_name *names; /* V_ENUM: the accepted words */
    value_check *check;            /* V_STRING: validation and normal form */
};

#define FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)
#define TOP(member) SEC_TOP, FIELD(struct settings, member)
#define LISTENER(kind, member) kind, FIELD(struct listener_settings, member)
#define DB(kind, member) kind, FIELD(struct db_settings, member)

/* In the order of struct settings, which is also the order of the dump. The
 * defaults are those of settings.h and docs/gannet.conf. */
static const struct setting_def setting_defs[] = {
    {"protocols", TOP(protocols), V_STRING, "imap pop3", NULL, check_protocols},
    {"listen", TOP(listen), V_STRING, "*, ::", NULL, check_listen},
    {"ssl", TOP(ssl), V_ENUM, "required", ssl_modes, NULL},
    {"ssl_cert", TOP(ssl_cert), V_FILE, NULL, NULL, NULL},
    {"ssl_key", TOP(ssl_key), V_FILE, NULL, NULL, NULL},
    {"ssl_min_protocol", TOP(ssl_min_protocol), V_ENUM, "TLSv1.2", tls_versions, NULL},
    {"ssl_cipher_list", TOP(ssl_cipher_list), V_STRING, NULL, NULL, check_cipher_list},
    {"ssl_cipher_suites", TOP(ssl_cipher_suites), V_STRING, NULL, NULL, check_cipher_suites},
    {"ssl_prefer_server_ciphers", TOP(ssl_prefer_server_ciphers), V_BOOL, "yes", NULL, NULL},
    {"disable_plaintext_auth", TOP(disable_plaintext_auth), V_BOOL, "yes", NULL, NULL},
    {"auth_mechanisms", TOP(auth_mechanisms), V_STRING, "plain login", NULL, check_mechanisms},
    {"auth_verbose", TOP(auth_verbose), V_BOOL, "no", NULL, NULL},
    {"auth_verbose_passwords", TOP(auth_verbose_passwords), V_STRING, "no", NULL,
     check_verbose_passwords},
    {"auth_debug", TOP(auth_debug), V_BOOL, "no", NULL, NULL},
    {"auth_debug_passwords", TOP(auth_debug_passwords), V_BOOL, "no", NULL, NULL},
    {"auth_anonymous_username", TOP(auth_anonymous_username), V_STRING, NULL, NULL, NULL},
    {"auth_failure_delay", TOP(auth_failure_delay_ms), V_TIME, "2 secs", NULL, NULL},
    {"login_trusted_networks", TOP(login_trusted_networks), V_STRING, NULL, NULL, check_networks},
    {"login_greeting", TOP(login_greeting), V_STRING, "gannet ready.", NULL, NULL},
    {"mail_location", TOP(mail_location), V_STRING, "maildir:~/Maildir", NULL, NULL},
    {"mail_uid", TOP(mail_uid), V_STRING, NULL, NULL, NULL},
    {"mail_gid", TOP(mail_gid), V_STRING, NULL, NULL, NULL},
    {"mail_max_userip_connections", TOP(mail_max_userip_connections), V_UINT, "10", NULL, NULL},
    {"log_path", TOP(log_path), V_STRING, NULL, NULL, NULL},
    {"state_dir", TOP(state_dir), V_STRING, GANNET_STATEDIR, NULL, NULL},
    {"imap_max_line_length", TOP(imap_max_line_length), V_SIZE, "64k", NULL, NULL},
    {"login_max_line_length", TOP(login_max_line_length), V_SIZE, "8k", NULL, NULL},
    {"mail_max_message_size", TOP(mail_max_message_size), V_SIZE, "64M", NULL, NULL},
    {"auth_max_sasl_size", TOP(auth_max_sasl_size), V_SIZE, "16k", NULL, NULL},
    {"login_timeout", TOP(login_timeout_ms), V_TIME, "1 min", NULL, NULL},
    {"login_max_connections", TOP(login_max_connections), V_UINT, "1000", NULL, NULL},
    {"login_max_connections_per_ip", TOP(login_max_connections_per_ip), V_UINT, "20", NULL, NULL},
    {"login_max_bad_commands", TOP(login_max_bad_commands), V_UINT, "10", NULL, NULL},
    {"workers", TOP(workers), V_UINT, "0", NULL, NULL},

    {"address", LISTENER(SEC_INET_LISTENER, address), V_STRING, NULL, NULL, check_listen},
    {"port", LISTENER(SEC_INET_LISTENER, port), V_PORT, NULL, NULL, NULL},
    {"ssl", LISTENER(SEC_INET_LISTENER, ssl), V_BOOL, NULL, NULL, NULL},
    {"path", LISTENER(SEC_UNIX_LISTENER, path), V_STRING, "", NULL, check_socket_path},

    {"driver", DB(SEC_PASSDB, driver), V_STRING, NULL, NULL, check_driver},
    {"args", DB(SEC_PASSDB, args), V_STRING, NULL, NULL, NULL},
    {"driver", DB(SEC_USERDB, driver), V_STRING, NULL, NULL, check_driver},
    {"args", DB(SEC_USERDB, args), V_STRING, NULL, NULL, NULL},
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Dovecot's default listeners: the config changes them by naming the same
 * service and label, and turns one off with `port = 0`. */
static const struct {
    const char *service, *name;
    int port;
    bool ssl;
} default_listeners[] = {
    {"imap-login", "imap", 143, false},
    {"imap-login", "imaps", 993, true},
    {"pop3-login", "pop3", 110, false},
    {"pop3-login", "pop3s", 995, true},
};

/* ---- small helpers ---- */

static bool str_equal(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static const char *skip_blanks(const char *s)
{
    while (is_blank(*s))
        s++;
    return s;
}

static void lowercase(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The next word of a list separated by spaces, tabs or commas (Dovecot
 * accepts both); NULL after the last one. */
static const char *next_word(const char *s, struct buf *word)
{
    s += strspn(s, " \t,");
    if (*s == '\0')
        return NULL;
    size_t n = strcspn(s, " \t,");
    buf_reset(word);
    buf_append(word, s, n);
    return s + n;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* "dir/name", or name itself when it is absolute or dir is "" (the working
 * directory): relative names in a config file are relative to its directory. */
static char *join_path(const char *dir, const char *name)
{
    if (name[0] == '/' || dir[0] == '\0')
        return xstrdup(name);
    struct buf b = BUF_INIT;
    buf_puts(&b, dir);
    if (b.len > 0 && b.data[b.len - 1] != '/')
        buf_putc(&b, '/');
    buf_puts(&b, name);
    return buf_steal(&b);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return xstrdup("");
    return xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Reads a whole file of at most `limit` bytes. Returns 0 or an errno value
 * (EFBIG when the file is larger). */
static int read_file_limited(const char *path, size_t limit, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e != 0) {
        close(fd);
        return e;
    }
    /* One allocation for regular files: a private key is not left behind in
     * blocks that realloc() freed. */
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size <= limit)
        buf_reserve(out, (size_t)st.st_size + 4096);
    for (;;) {
        buf_reserve(out, 4096);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > limit) {
            e = EFBIG;
            break;
        }
    }
    close(fd);
    return e;
}

/* ---- value parsers ---- */

struct unit {
    const char *name;
    uint64_t factor;
};

/* "<digits> [unit]" with optional blanks around; the unit is looked up
 * case-insensitively, "" being the bare number. */
static bool parse_with_unit(const char *value, const struct unit *units, uint64_t max,
                            uint64_t *out)
{
    const char *s;
    uint64_t n;
    if (!str_parse_uint64(skip_blanks(value), &n, &s))
        return false;
    s = skip_blanks(s);
    const char *unit = s;
    while (isalpha((unsigned char)*s))
        s++;
    size_t unit_len = (size_t)(s - unit);
    if (*skip_blanks(s) != '\0')
        return false;
    for (const struct unit *u = units; u->name; u++) {
        if (strlen(u->name) == unit_len && strncasecmp(u->name, unit, unit_len) == 0) {
            if (n > max / u->factor)
                return false;
            *out = n * u->factor;
            return true;
        }
    }
    return false;
}

bool settings_parse_time(const char *value, unsigned *ms)
{
    /* Dovecot's words; a bare number is seconds, as in Dovecot. */
    static const struct unit units[] = {
        {"", 1000},           {"ms", 1},           {"msec", 1},        {"msecs", 1},
        {"millisecond", 1},   {"milliseconds", 1}, {"s", 1000},        {"sec", 1000},
        {"secs", 1000},       {"second", 1000},    {"seconds", 1000},  {"m", 60000},
        {"min", 60000},       {"mins", 60000},     {"minute", 60000},  {"minutes", 60000},
        {"h", 3600000},       {"hour", 3600000},   {"hours", 3600000}, {"d", 86400000},
        {"day", 86400000},    {"days", 86400000},  {"w", 604800000},   {"week", 604800000},
        {"weeks", 604800000}, {NULL, 0},
    };
    uint64_t n;
    if (!parse_with_unit(value, units, UINT_MAX, &n))
        return false;
    *ms = (unsigned)n;
    return true;
}

bool settings_parse_size(const char *value, size_t *bytes)
{
    static const struct unit units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ULL << 10},
        {"kb", 1ULL << 10},
        {"kib", 1ULL << 10},
        {"m", 1ULL << 20},
        {"mb", 1ULL << 20},
        {"mib", 1ULL << 20},
        {"g", 1ULL << 30},
        {"gb", 1ULL << 30},
        {"gib", 1ULL << 30},
        {"t", 1ULL << 40},
        {"tb", 1ULL << 40},
        {"tib", 1ULL << 40},
        {NULL, 0},
    };
    uint64_t n;
    if (!parse_with_unit(value, units, SIZE_MAX, &n))
        return false;
    *bytes = (size_t)n;
    return true;
}

static bool parse_bool(const char *value, bool *out)
{
    static const char *const yes[] = {"yes", "true", "1"}, *const no[] = {"no", "false", "0"};
    for (size_t i = 0; i < N_ELEMENTS(yes); i++) {
        if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
            *out = strcasecmp(value, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

/* A plain decimal number, no sign, no unit. */
static bool parse_decimal(const char *value, uint64_t max, uint64_t *out)
{
    static const struct unit none[] = {{"", 1}, {NULL, 0}};
    return parse_with_unit(value, none, max, out);
}

/* "a, b or c" from a list of words, for messages. */
static void append_choices(struct buf *out, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_puts(out, i + 1 == n ? " or " : ", ");
        buf_puts(out, words[i]);
    }
}

static void append_enum_choices(struct buf *out, const struct enum_name *names)
{
    const char *words[8];
    size_t n = 0;
    for (; names[n].name && n < N_ELEMENTS(words); n++)
        words[n] = names[n].name;
    append_choices(out, words, n);
}

/* ---- string checks (value_check) ---- */

static bool check_words(const char *value, const char *const *allowed, size_t n_allowed,
                        const char *what, struct buf *out, struct buf *why)
{
    struct buf word = BUF_INIT;
    bool ok = true;
    for (const char *s = value; ok && (s = next_word(s, &word)) != NULL;) {
        lowercase(word.data);
        size_t i = 0;
        while (i < n_allowed && strcmp(word.data, allowed[i]) != 0)
            i++;
        if (i == n_allowed) {
            buf_printf(why, "%s '%s' (expected ", what, word.data);
            append_choices(why, allowed, n_allowed);
            buf_putc(why, ')');
            ok = false;
        } else {
            if (out->len > 0)
                buf_putc(out, ' ');
            buf_puts(out, word.data);
        }
    }
    buf_free(&word);
    return ok;
}

static bool check_protocols(const char *value, struct buf *out, struct buf *why)
{
    static const char *const protocols[] = {"imap", "pop3", "lmtp"};
    /* Dovecot's way of saying "no protocol" (an LMTP-less, login-less test). */
    if (strcasecmp(value, "none") == 0)
        return true;
    return check_words(value, protocols, N_ELEMENTS(protocols), "unknown protocol", out, why);
}

static bool check_mechanisms(const char *value, struct buf *out, struct buf *why)
{
    /* What auth/sasl implements; CRAM-MD5 and DIGEST-MD5 need the password
     * stored in a recoverable form, so gannet leaves them out on purpose. */
    static const char *const mechanisms[] = {"plain", "login", "scram-sha-256", "anonymous"};
    if (!check_words(value, mechanisms, N_ELEMENTS(mechanisms), "unsupported mechanism", out, why))
        return false;
    if (out->len == 0) {
        buf_puts(why, "expected at least one of ");
        append_choices(why, mechanisms, N_ELEMENTS(mechanisms));
        return false;
    }
    return true;
}

static bool check_verbose_passwords(const char *value, struct buf *out, struct buf *why)
{
    char *v = xstrdup(value);
    lowercase(v);
    bool ok = true;
    if (strcmp(v, "yes") == 0) /* Dovecot: yes is an alias for plain */
        buf_puts(out, "plain");
    else if (strcmp(v, "no") == 0 || strcmp(v, "plain") == 0 || strcmp(v, "sha1") == 0)
        buf_puts(out, v);
    else {
        buf_printf(why, "expected no, plain or sha1, got '%s'", value);
        ok = false;
    }
    free(v);
    return ok;
}

/* Each network is validated with the parser the connections use, so that
 * what the config accepts is what a login is matched against. */
static bool check_networks(const char *value, struct buf *out, struct buf *why)
{
    struct buf word = BUF_INIT;
    bool ok = true;
    for (const char *s = value; ok && (s = next_word(s, &word)) != NULL;) {
        unsigned char addr[16];
        int family;
        unsigned prefix;
        if (!netaddr_parse_cidr(word.data, addr, &family, &prefix) ||
            strspn(word.data, "0123456789abcdefABCDEF.:/") != word.len) {
            buf_printf(why,
                       "expected an address or a network such as 192.0.2.0/24 or "
                       "2001:db8::/32, got '%s'",
                       word.data);
            ok = false;
        } else {
            if (out->len > 0)
                buf_putc(out, ' ');
            buf_puts(out, word.data);
        }
    }
    buf_free(&word);
    return ok;
}

/* `listen` and `address`: addresses separated by commas or spaces, each
 * numeric or "*" (every IPv4 address) or "::" (every IPv6 address), because
 * that is what the listeners can bind to. */
static bool check_listen(const char *value, struct buf *out, struct buf *why)
{
    struct buf word = BUF_INIT;
    bool ok = true;
    for (const char *s = value; ok && (s = next_word(s, &word)) != NULL;) {
        unsigned char addr[16];
        int family;
        unsigned prefix;
        if (strcmp(word.data, "*") != 0 &&
            (strchr(word.data, '/') || !netaddr_parse_cidr(word.data, addr, &family, &prefix))) {
            buf_printf(why, "expected IP addresses such as 127.0.0.1, ::1, * or ::, got '%s'",
                       word.data);
            ok = false;
        } else {
            if (out->len > 0)
                buf_puts(out, ", ");
            buf_puts(out, word.data);
        }
    }
    buf_free(&word);
    return ok;
}

/* The cipher lists are given to OpenSSL here, so that a typo is an error with
 * file and line instead of a server that refuses to start. */
static bool check_openssl_list(const char *value, bool suites, struct buf *out, struct buf *why)
{
    if (*value == '\0')
        return true;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        buf_puts(why, "cannot create an OpenSSL context to check the list");
        ERR_clear_error();
        return false;
    }
    int ok = suites ? SSL_CTX_set_ciphersuites(ctx, value) : SSL_CTX_set_cipher_list(ctx, value);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    if (ok != 1) {
        buf_printf(why, "OpenSSL knows no %s in '%s'", suites ? "TLS 1.3 cipher suite" : "cipher",
                   value);
        return false;
    }
    buf_puts(out, value);
    return true;
}

static bool check_cipher_list(const char *value, struct buf *out, struct buf *why)
{
    return check_openssl_list(value, false, out, why);
}

static bool check_cipher_suites(const char *value, struct buf *out, struct buf *why)
{
    return check_openssl_list(value, true, out, why);
}

static bool check_driver(const char *value, struct buf *out, struct buf *why)
{
    if (strcmp(value, "passwd-file") != 0 && strcmp(value, "static") != 0) {
        buf_printf(why, "expected passwd-file or static, got '%s'", value);
        return false;
    }
    buf_puts(out, value);
    return true;
}

/* A relative socket name goes to SETTINGS_RUN_DIR, as Dovecot's go to its
 * base_dir; a path longer than sun_path could not be bound. */
static bool check_socket_path(const char *value, struct buf *out, struct buf *why)
{
    if (*value == '\0') {
        buf_puts(why, "expected a socket path");
        return false;
    }
    char *path = join_path(value[0] == '/' ? "" : SETTINGS_RUN_DIR, value);
    struct sockaddr_un addr;
    bool ok = strlen(path) < sizeof(addr.sun_path);
    if (ok)
        buf_puts(out, path);
    else
        buf_printf(why, "'%s' is longer than a unix socket path may be (%zu bytes)", path,
                   sizeof(addr.sun_path) - 1);
    free(path);
    return ok;
}

/* ---- the table's types: store, compare, print, free ---- */

static size_t type_size(enum value_type type)
{
    switch (type) {
    case V_STRING:
        return sizeof(char *);
    case V_FILE:
        return sizeof(struct setting_file);
    case V_BOOL:
        return sizeof(bool);
    case V_UINT:
    case V_TIME:
        return sizeof(unsigned);
    case V_PORT:
    case V_ENUM:
        return sizeof(int);
    case V_SIZE:
        return sizeof(size_t);
    }
    return 0;
}

static bool has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return true;
    return false;
}

static bool store_string(const struct setting_def *d, char **field, const char *value,
                         struct buf *why)
{
    /* A value ends up in greetings, paths and log lines: a line break in one
     * (from a quoted "\n" or a `<file`) would inject a protocol line. */
    if (has_control_chars(value)) {
        buf_puts(why, "expected text on one line, without control characters");
        return false;
    }
    struct buf norm = BUF_INIT;
    if (d->check != NULL) {
        if (!d->check(value, &norm, why)) {
            buf_free(&norm);
            return false;
        }
    } else {
        buf_puts(&norm, value);
    }
    free(*field);
    *field = norm.len == 0 && d->default_value == NULL ? NULL : buf_steal(&norm);
    buf_free(&norm);
    return true;
}

/* `ssl_cert = </path` keeps the path (for the audit and SIGHUP); a literal
 * value must be PEM text itself, since a bare path there is Dovecot's most
 * common mistake (the '<' forgotten). */
static bool store_file(const struct setting_def *d, struct setting_file *field, const char *value,
                       const char *path, struct buf *why)
{
    if (path == NULL && *value != '\0' && strstr(value, "-----BEGIN ") == NULL) {
        buf_printf(why, "expected '<' and a file name (%s = </path/file.pem) or PEM text, got '%s'",
                   d->name, value);
        return false;
    }
    free_secret(field->value);
    free(field->path);
    field->value = path != NULL || *value != '\0' ? xstrdup(value) : NULL;
    field->path = path != NULL ? xstrdup(path) : NULL;
    return true;
}

static bool store_value(const struct setting_def *d, void *base, const char *value,
                        const char *path, struct buf *why)
{
    void *field = (char *)base + d->offset;
    uint64_t n;
    switch (d->type) {
    case V_STRING:
        return store_string(d, field, value, why);
    case V_FILE:
        return store_file(d, field, value, path, why);
    case V_BOOL:
        if (!parse_bool(value, field)) {
            buf_printf(why, "expected yes or no, got '%s'", value);
            return false;
        }
        return true;
    case V_UINT:
        if (!parse_decimal(value, UINT_MAX, &n)) {
            buf_printf(why, "expected a number from 0 to %u, got '%s'", UINT_MAX, value);
            return false;
        }
        *(unsigned *)field = (unsigned)n;
        return true;
    case V_PORT:
        if (!parse_decimal(value, 65535, &n)) {
            buf_printf(why, "expected a port number from 0 to 65535, got '%s'", value);
            return false;
        }
        *(int *)field = (int)n;
        return true;
    case V_TIME:
        if (!settings_parse_time(value, field)) {
            buf_printf(why, "expected a time such as '30 secs', '500 ms' or '2 mins', got '%s'",
                       value);
            return false;
        }
        return true;
    case V_SIZE:
        if (!settings_parse_size(value, field)) {
            buf_printf(why, "expected a size such as '64k', '1 M' or '4096', got '%s'", value);
            return false;
        }
        return true;
    case V_ENUM:
        for (const struct enum_name *e = d->names; e->name; e++) {
            if (strcasecmp(e->name, value) == 0) {
                *(int *)field = e->value;
                return true;
            }
        }
        buf_puts(why, "expected ");
        append_enum_choices(why, d->names);
        buf_printf(why, ", got '%s'", value);
        return false;
    }
    return false;
}

static bool field_equal(const struct setting_def *d, const void *a, const void *b)
{
    switch (d->type) {
    case V_STRING:
        return str_equal(*(char *const *)a, *(char *const *)b);
    case V_FILE: {
        const struct setting_file *x = a, *y = b;
        return str_equal(x->value, y->value) && str_equal(x->path, y->path);
    }
    default:
        return memcmp(a, b, d->size) == 0;
    }
}

static void free_field(const struct setting_def *d, void *field)
{
    if (d->type == V_STRING) {
        free(*(char **)field);
        *(char **)field = NULL;
    } else if (d->type == V_FILE) {
        struct setting_file *f = field;
        free_secret(f->value); /* ssl_key is a private key */
        free(f->path);
        f->value = f->path = NULL;
    }
}

/* A value as the parser reads it back: quoted when it would otherwise be
 * cut short or changed (a '#', surrounding blanks, a leading '<', and inside a
 * one-line section any blank). */
static void dump_string(struct buf *out, const char *value, bool in_section)
{
    bool quote = *value == '\0' || *value == '<' || is_blank(*value) ||
                 is_blank(value[strlen(value) - 1]) || strpbrk(value, "#\"'\\{}\n\t") != NULL ||
                 (in_section && strchr(value, ' ') != NULL);
    if (!quote) {
        buf_puts(out, value);
        return;
    }
    buf_putc(out, '"');
    for (const char *s = value; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_putc(out, '\\');
        if (*s == '\n')
            buf_puts(out, "\\n");
        else if (*s == '\t')
            buf_puts(out, "\\t");
        else
            buf_putc(out, *s);
    }
    buf_putc(out, '"');
}

/* Times and sizes in the largest unit that divides them, as doveconf does. */
static void dump_time(struct buf *out, unsigned ms)
{
    static const struct {
        unsigned factor;
        const char *one, *many;
    } units[] = {
        {3600000, "hour", "hours"}, {60000, "min", "mins"}, {1000, "sec", "secs"}, {1, "ms", "ms"}};
    for (size_t i = 0; i < N_ELEMENTS(units); i++) {
        if (ms % units[i].factor == 0) {
            unsigned n = ms / units[i].factor;
            buf_printf(out, "%u %s", n, n == 1 ? units[i].one : units[i].many);
            return;
        }
    }
}

static void dump_size(struct buf *out, size_t bytes)
{
    static const struct {
        size_t factor;
        const char *name;
    } units[] = {{(size_t)1 << 30, " G"}, {(size_t)1 << 20, " M"}, {(size_t)1 << 10, " k"}};
    for (size_t i = 0; bytes != 0 && i < N_ELEMENTS(units); i++) {
        if (bytes % units[i].factor == 0) {
            buf_printf(out, "%zu%s", bytes / units[i].factor, units[i].name);
            return;
        }
    }
    buf_printf(out, "%zu", bytes);
}

static void dump_setting(struct buf *out, const struct setting_def *d, const void *field,
                         bool in_section)
{
    if (d->type == V_FILE) {
        const struct setting_file *f = field;
        if (f->path != NULL)
            buf_printf(out, "%s = <%s", d->name, f->path);
        else if (f->value != NULL) /* never the contents: it may be a private key */
            buf_printf(out, "# %s is set to inline PEM text (not shown)", d->name);
        else
            buf_printf(out, "%s =", d->name);
        return;
    }
    buf_printf(out, "%s = ", d->name);
    switch (d->type) {
    case V_STRING: {
        const char *s = *(char *const *)field;
        dump_string(out, s ? s : "", in_section);
        break;
    }
    case V_BOOL:
        buf_puts(out, *(const bool *)field ? "yes" : "no");
        break;
    case V_UINT:
        buf_printf(out, "%u", *(const unsigned *)field);
        break;
    case V_PORT:
        buf_printf(out, "%d", *(const int *)field);
        break;
    case V_TIME:
        dump_time(out, *(const unsigned *)field);
        break;
    case V_SIZE:
        dump_size(out, *(const size_t *)field);
        break;
    case V_ENUM:
        for (const struct enum_name *e = d->names; e->name; e++) {
            if (e->value == *(const int *)field) {
                buf_puts(out, e->name);
                return;
            }
        }
        buf_printf(out, "%d", *(const int *)field);
        break;
    case V_FILE:
        break;
    }
}

static const struct setting_def *find_setting(const char *name, size_t len,
                                              enum section_kind section)
{
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++) {
        const struct setting_def *d = &setting_defs[i];
        if (d->section == section && strlen(d->name) == len && strncmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

static const struct setting_def *find_setting_anywhere(const char *name)
{
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++)
        if (strcmp(setting_defs[i].name, name) == 0)
            return &setting_defs[i];
    return NULL;
}

static const struct section_def *find_section(const char *name)
{
    for (size_t i = 0; i < N_ELEMENTS(section_defs); i++)
        if (strcmp(section_defs[i].name, name) == 0)
            return &section_defs[i];
    return NULL;
}

/* ---- defaults, free ---- */

static struct listener_settings *add_listener(struct settings *s, const char *service,
                                              const char *name)
{
    s->listeners = xrealloc(s->listeners, (s->n_listeners + 1) * sizeof(*s->listeners));
    struct listener_settings *l = &s->listeners[s->n_listeners++];
    memset(l, 0, sizeof(*l));
    l->service = xstrdup(service);
    l->name = xstrdup(name);
    return l;
}

void settings_init_defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++) {
        const struct setting_def *d = &setting_defs[i];
        struct buf why = BUF_INIT;
        /* The table and the struct must agree: a wrong type would write past
         * a field. Checked here, since every program calls this first. */
        if (d->size != type_size(d->type) || (d->section == SEC_TOP && d->default_value != NULL &&
                                              !store_value(d, s, d->default_value, NULL, &why))) {
            fprintf(stderr, "gannet: settings table: bad row '%s' %s\n", d->name, buf_cstr(&why));
            abort();
        }
        buf_free(&why);
    }
    for (size_t i = 0; i < N_ELEMENTS(default_listeners); i++) {
        struct listener_settings *l =
            add_listener(s, default_listeners[i].service, default_listeners[i].name);
        l->port = default_listeners[i].port;
        l->ssl = default_listeners[i].ssl;
    }
}

static void free_dbs(struct db_settings *dbs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(dbs[i].driver);
        free(dbs[i].args);
        free(dbs[i].file);
    }
    free(dbs);
}

void settings_free(struct settings *s)
{
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++)
        if (setting_defs[i].section == SEC_TOP)
            free_field(&setting_defs[i], (char *)s + setting_defs[i].offset);
    free(s->config_path);
    for (size_t i = 0; i < s->n_listeners; i++) {
        free(s->listeners[i].service);
        free(s->listeners[i].name);
        free(s->listeners[i].address);
        free(s->listeners[i].path);
    }
    free(s->listeners);
    free_dbs(s->passdbs, s->n_passdbs);
    free_dbs(s->userdbs, s->n_userdbs);
    memset(s, 0, sizeof(*s));
}

/* ---- the parser ---- */

struct frame {
    const struct section_def *def;
    char *label;   /* owned; NULL when the section has none */
    unsigned line; /* where it was opened */
    size_t index;  /* the listener or db that its settings go to */
};

/* One file being read; they form a stack through `parent` (the includers). */
struct input {
    const char *path; /* as shown in messages */
    char *dir;        /* for relative names in it; "" for the working directory */
    char *real;       /* realpath(), to find include loops */
    unsigned line;
    unsigned nesting;
    size_t depth_at_start; /* a file closes the sections it opens, no others */
    struct input *parent;
};

struct parser {
    struct settings *set;
    struct buf *err;
    struct input *in;
    struct frame frames[SETTINGS_MAX_SECTION_DEPTH];
    size_t depth;
    bool skip_tls_files; /* keep the paths of ssl_cert/ssl_key, don't read them */
};

/* Every error is "FILE:LINE: message" and stops the parse. */
__attribute__((format(printf, 2, 3))) static int fail(struct parser *p, const char *fmt, ...)
{
    if (p->in != NULL)
        buf_printf(p->err, "%s:%u: ", p->in->path, p->in->line);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(p->err, fmt, ap);
    va_end(ap);
    return -1;
}

static enum section_kind current_kind(const struct parser *p)
{
    return p->depth == 0 ? SEC_TOP : p->frames[p->depth - 1].def->kind;
}

/* The struct that the keys of the current section are written to. */
static void *section_object(struct parser *p)
{
    const struct frame *f = p->depth == 0 ? NULL : &p->frames[p->depth - 1];
    switch (current_kind(p)) {
    case SEC_TOP:
        return p->set;
    case SEC_INET_LISTENER:
    case SEC_UNIX_LISTENER:
        return &p->set->listeners[f->index];
    case SEC_PASSDB:
        return &p->set->passdbs[f->index];
    case SEC_USERDB:
        return &p->set->userdbs[f->index];
    case SEC_SERVICE:
        break;
    }
    return NULL;
}

/* "..." or '...', with the escapes of Dovecot's str_unescape(): \n, \r, \t,
 * and \x for any other x. False when the closing quote is missing. */
static bool read_quoted(const char **sp, struct buf *out)
{
    const char *s = *sp;
    char quote = *s++;
    for (; *s != quote; s++) {
        if (*s == '\0')
            return false;
        if (*s == '\\' && s[1] != '\0') {
            s++;
            buf_putc(out, *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : *s);
        } else {
            buf_putc(out, *s);
        }
    }
    *sp = s + 1;
    return true;
}

static bool ends_name(char c)
{
    return c == '\0' || is_blank(c) || c == '=' || c == '{' || c == '}' || c == '#';
}

/* A setting or section name, or a section label. */
static int read_name(struct parser *p, const char **sp, struct buf *out)
{
    const char *s = *sp;
    if (*s == '"' || *s == '\'') {
        if (!read_quoted(sp, out))
            return fail(p, "missing closing %c", *s);
        return 0;
    }
    while (!ends_name(*s))
        s++;
    buf_append(out, *sp, (size_t)(s - *sp));
    *sp = s;
    return 0;
}

/* Whether s starts `key =` for a key of the current section. Inside a section
 * a bare value stops there, so that `inet_listener imaps { port = 993 ssl = yes }`
 * reads as two settings; only known keys count, so that
 * `args = uid=vmail gid=vmail home=/var/mail/%d/%n` keeps all its words. */
static bool starts_assignment(const struct parser *p, const char *s)
{
    const char *start = s;
    while (isalnum((unsigned char)*s) || *s == '_')
        s++;
    return s != start && *skip_blanks(s) == '=' &&
           find_setting(start, (size_t)(s - start), current_kind(p)) != NULL;
}

/* A bare value: up to the end of the line or a '#', without surrounding
 * blanks. Inside a section (where several statements may share a line) it
 * also ends at blanks followed by '}' or by another `key =`. */
static void read_bare(const struct parser *p, const char **sp, struct buf *out, bool to_eol)
{
    const char *s = skip_blanks(*sp), *start = s;
    while (*s != '\0' && *s != '#') {
        if (!to_eol && p->depth > 0 && is_blank(*s)) {
            const char *next = skip_blanks(s);
            if (*next == '}' || *next == '#' || *next == '\0' || starts_assignment(p, next))
                break;
            s = next;
            continue;
        }
        s++;
    }
    const char *end = s;
    while (end > start && is_blank(end[-1]))
        end--;
    buf_append(out, start, (size_t)(end - start));
    *sp = s;
}

/* The value after `key =` (or after `!include`): quoted, `<file`, or bare.
 * *path is set (joined with the file's directory) for `<file`. */
static int read_value(struct parser *p, const char **sp, const char *key, bool to_eol,
                      struct buf *out, char **path)
{
    const char *s = skip_blanks(*sp);
    *path = NULL;
    if (*s == '"' || *s == '\'') {
        char quote = *s;
        if (!read_quoted(&s, out))
            return fail(p, "%s: missing closing %c at the end of the value", key, quote);
        s = skip_blanks(s);
        /* Outside sections one line holds one statement. */
        if ((to_eol || p->depth == 0) && *s != '\0' && *s != '#')
            return fail(p, "%s: unexpected '%s' after the quoted value", key, s);
        *sp = s;
        return 0;
    }
    if (*s == '<' && !to_eol) {
        struct buf name = BUF_INIT;
        s++;
        read_bare(p, &s, &name, false);
        if (name.len == 0) {
            buf_free(&name);
            return fail(p, "%s: expected a file name after '<'", key);
        }
        *path = join_path(p->in->dir, name.data);
        buf_free(&name);
        *sp = s;
        return 0;
    }
    read_bare(p, &s, out, to_eol);
    *sp = s;
    return 0;
}

/* The error for a key that is not valid where it is: unknown everywhere, or
 * known in another section. */
static int unknown_setting(struct parser *p, const char *key)
{
    enum section_kind here = current_kind(p);
    const struct section_def *sd = find_section(key);
    if (sd != NULL)
        return fail(p, "'%s' is a section, not a setting: expected '%s%s {'", key, key,
                    sd->needs_label ? " NAME" : "");
    const struct setting_def *d = find_setting_anywhere(key);
    if (d == NULL && here == SEC_TOP)
        return fail(p, "unknown setting '%s'", key);
    if (d == NULL)
        return fail(p, "unknown setting '%s' in section '%s'", key, section_kind_names[here]);
    if (d->section == SEC_TOP)
        return fail(p, "'%s' is a global setting: it cannot be set inside section '%s'", key,
                    section_kind_names[here]);
    if (here == SEC_TOP)
        return fail(p, "'%s' can only be set inside a section '%s', not at the top level", key,
                    section_kind_names[d->section]);
    return fail(p, "'%s' can only be set inside a section '%s', not inside '%s'", key,
                section_kind_names[d->section], section_kind_names[here]);
}

/* `<file` values: the exact contents for V_FILE (PEM), trimmed otherwise
 * (`login_greeting = </etc/gannet/greeting` has a final newline). */
static int read_value_file(struct parser *p, const char *path, const struct setting_def *d,
                           struct buf *out)
{
    int e = read_file_limited(path, SETTINGS_MAX_FILE_SIZE, out);
    if (e == EFBIG)
        return fail(p, "cannot read '%s': larger than %d bytes", path, SETTINGS_MAX_FILE_SIZE);
    if (e != 0)
        return fail(p, "cannot read '%s': %s", path, strerror(e));
    if (out->len > 0 && memchr(out->data, '\0', out->len) != NULL)
        return fail(p, "cannot use '%s': it contains a NUL byte", path);
    if (d->type != V_FILE) {
        size_t start = 0, end = out->len;
        while (start < end && isspace((unsigned char)out->data[start]))
            start++;
        while (end > start && isspace((unsigned char)out->data[end - 1]))
            end--;
        if (out->data != NULL) {
            memmove(out->data, out->data + start, end - start);
            out->len = end - start;
            out->data[out->len] = '\0';
        }
    }
    return 0;
}

static int parse_assignment(struct parser *p, const char **sp, const char *key)
{
    const struct setting_def *d = find_setting(key, strlen(key), current_kind(p));
    if (d == NULL)
        return unknown_setting(p, key);
    struct buf value = BUF_INIT, why = BUF_INIT;
    char *path = NULL;
    int ret = read_value(p, sp, key, false, &value, &path);
    if (ret == 0 && path != NULL && !(p->skip_tls_files && d->type == V_FILE))
        ret = read_value_file(p, path, d, &value);
    if (ret == 0 && !store_value(d, section_object(p), buf_cstr(&value), path, &why))
        ret = fail(p, "%s: %s", key, buf_cstr(&why));
    free(path);
    buf_free_secret(&value); /* it may have been ssl_key */
    buf_free(&why);
    return ret;
}

static int open_listener(struct parser *p, const struct section_def *sd, const char *label,
                         size_t *index)
{
    const char *service = p->frames[p->depth - 1].label;
    bool is_unix = sd->kind == SEC_UNIX_LISTENER;
    /* As in Dovecot, naming a listener again (or a default one) changes it. */
    for (size_t i = 0; i < p->set->n_listeners; i++) {
        const struct listener_settings *l = &p->set->listeners[i];
        if (strcmp(l->service, service) == 0 && strcmp(l->name, label) == 0 &&
            (l->path != NULL) == is_unix) {
            *index = i;
            return 0;
        }
    }
    char *path = NULL;
    if (is_unix) {
        struct buf norm = BUF_INIT, why = BUF_INIT;
        if (!check_socket_path(label, &norm, &why)) {
            int ret = fail(p, "unix_listener: %s", buf_cstr(&why));
            buf_free(&norm);
            buf_free(&why);
            return ret;
        }
        path = buf_steal(&norm);
        buf_free(&why);
    }
    add_listener(p->set, service, label)->path = path;
    *index = p->set->n_listeners - 1;
    return 0;
}

static size_t add_db(struct parser *p, struct db_settings **dbs, size_t *n)
{
    *dbs = xrealloc(*dbs, (*n + 1) * sizeof(**dbs));
    struct db_settings *db = &(*dbs)[*n];
    memset(db, 0, sizeof(*db));
    db->file = xstrdup(p->in->path);
    db->line = (int)p->in->line;
    return (*n)++;
}

static int open_section(struct parser *p, const char *name, const char *label)
{
    const struct section_def *sd = find_section(name);
    enum section_kind here = current_kind(p);
    if (sd == NULL)
        return find_setting_anywhere(name) ? fail(p, "expected '=' after '%s'", name)
                                           : fail(p, "unknown section '%s'", name);
    if (sd->parent != here) {
        if (sd->parent == SEC_TOP)
            return fail(p, "section '%s' must be at the top level, not inside '%s'", name,
                        section_kind_names[here]);
        return fail(p, "section '%s' can only be opened inside a section '%s'", name,
                    section_kind_names[sd->parent]);
    }
    if (sd->needs_label && label == NULL)
        return fail(p, "%s: expected a name before '{' (%s NAME {)", name, name);
    size_t index = 0;
    int ret = 0;
    switch (sd->kind) {
    case SEC_SERVICE: {
        size_t i = 0;
        while (service_names[i] && strcmp(service_names[i], label) != 0)
            i++;
        if (service_names[i] == NULL) {
            struct buf choices = BUF_INIT;
            append_choices(&choices, service_names, N_ELEMENTS(service_names) - 1);
            ret = fail(p, "service: expected %s, got '%s'", buf_cstr(&choices), label);
            buf_free(&choices);
        }
        break;
    }
    case SEC_INET_LISTENER:
    case SEC_UNIX_LISTENER:
        ret = open_listener(p, sd, label, &index);
        break;
    case SEC_PASSDB:
        index = add_db(p, &p->set->passdbs, &p->set->n_passdbs);
        break;
    case SEC_USERDB:
        index = add_db(p, &p->set->userdbs, &p->set->n_userdbs);
        break;
    case SEC_TOP:
        break;
    }
    if (ret < 0)
        return ret;
    if (p->depth == SETTINGS_MAX_SECTION_DEPTH) /* the parent checks make this unreachable */
        return fail(p, "sections nested too deep");
    p->frames[p->depth++] = (struct frame){
        .def = sd, .label = label ? xstrdup(label) : NULL, .line = p->in->line, .index = index};
    return 0;
}

static int close_section(struct parser *p)
{
    if (p->depth == p->in->depth_at_start)
        return fail(p, p->depth == 0 ? "unexpected '}': no section is open"
                                     : "unexpected '}': the section was opened in another file");
    struct frame *f = &p->frames[p->depth - 1];
    if (f->def->kind == SEC_PASSDB || f->def->kind == SEC_USERDB) {
        const struct db_settings *db = section_object(p);
        if (db->driver == NULL)
            return fail(p,
                        "%s section opened at line %u has no driver: expected "
                        "'driver = passwd-file' or 'driver = static'",
                        f->def->name, f->line);
    }
    free(f->label);
    p->depth--;
    return 0;
}

static int parse_file(struct parser *p, const char *path, bool missing_ok);

/* `!include PATTERN` and `!include_try PATTERN`: relative to the including
 * file's directory, globs expanded in sorted order as Dovecot does. */
static int parse_include(struct parser *p, const char *arg, bool missing_ok)
{
    char *pattern = join_path(p->in->dir, arg);
    int ret = 0;
    if (strpbrk(pattern, "*?[{") == NULL) {
        ret = parse_file(p, pattern, missing_ok);
        free(pattern);
        return ret;
    }
    glob_t g;
    int rc = glob(pattern, GLOB_BRACE, NULL, &g);
    if (rc == GLOB_NOMATCH)
        ret = missing_ok ? 0 : fail(p, "!include: no file matches '%s'", pattern);
    else if (rc != 0)
        ret = fail(p, "!include: cannot expand '%s'", pattern);
    for (size_t i = 0; rc == 0 && ret == 0 && i < g.gl_pathc; i++)
        ret = parse_file(p, g.gl_pathv[i], missing_ok);
    if (rc == 0)
        globfree(&g);
    free(pattern);
    return ret;
}

static int parse_directive(struct parser *p, const char *s)
{
    size_t n = strcspn(s, " \t\r#");
    bool missing_ok;
    if (n == 8 && strncmp(s, "!include", n) == 0)
        missing_ok = false;
    else if (n == 12 && strncmp(s, "!include_try", n) == 0)
        missing_ok = true;
    else
        return fail(p, "unknown directive '%.*s' (expected !include or !include_try)", (int)n, s);
    char *directive = xstrndup(s, n), *unused;
    struct buf arg = BUF_INIT;
    s += n;
    int ret = read_value(p, &s, directive, true, &arg, &unused);
    if (ret == 0 && arg.len == 0)
        ret = fail(p, "%s: expected a file name", directive);
    if (ret == 0)
        ret = parse_include(p, arg.data, missing_ok);
    buf_free(&arg);
    free(directive);
    return ret;
}

/* One line: any number of statements (several in one-line sections). */
static int parse_line(struct parser *p, const char *s)
{
    struct buf name = BUF_INIT, label = BUF_INIT;
    int ret = 0;
    while (ret == 0) {
        s = skip_blanks(s);
        if (*s == '\0' || *s == '#')
            break;
        if (*s == '}') {
            s++;
            ret = close_section(p);
            continue;
        }
        if (*s == '!') {
            ret = parse_directive(p, s);
            break;
        }
        if (*s == '=' || *s == '{') {
            ret = fail(p, "expected a setting or section name before '%c'", *s);
            break;
        }
        buf_reset(&name);
        buf_reset(&label);
        if ((ret = read_name(p, &s, &name)) < 0)
            break;
        s = skip_blanks(s);
        if (*s == '=') {
            s++;
            ret = parse_assignment(p, &s, buf_cstr(&name));
            continue;
        }
        bool has_label = *s != '\0' && *s != '#' && *s != '{' && *s != '}';
        if (has_label) {
            if ((ret = read_name(p, &s, &label)) < 0)
                break;
            s = skip_blanks(s);
        }
        if (*s == '{') {
            s++;
            ret = open_section(p, buf_cstr(&name), has_label ? buf_cstr(&label) : NULL);
            continue;
        }
        if (find_section(buf_cstr(&name)) != NULL)
            ret = fail(p, "expected '{' after '%s%s%s'", buf_cstr(&name), has_label ? " " : "",
                       buf_cstr(&label));
        else
            ret = fail(p, "expected '=' after '%s'", buf_cstr(&name));
    }
    buf_free(&name);
    buf_free(&label);
    return ret;
}

static int parse_text(struct parser *p, const struct buf *text)
{
    struct buf line = BUF_INIT;
    int ret = 0;
    if (text->len == 0)
        return 0;
    const char *pos = text->data, *end = text->data + text->len;
    while (ret == 0 && pos < end) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        size_t len = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
        p->in->line++;
        if (memchr(pos, '\0', len) != NULL) {
            ret = fail(p, "unexpected NUL byte");
            break;
        }
        buf_reset(&line);
        buf_append(&line, pos, len);
        ret = parse_line(p, buf_cstr(&line));
        pos = nl ? nl + 1 : end;
    }
    buf_free(&line);
    return ret;
}

static int parse_file(struct parser *p, const char *path, bool missing_ok)
{
    unsigned nesting = p->in ? p->in->nesting + 1 : 0;
    if (nesting > SETTINGS_MAX_INCLUDE_DEPTH)
        return fail(p, "!include: more than %d files nested in each other",
                    SETTINGS_MAX_INCLUDE_DEPTH);
    char *real = realpath(path, NULL);
    if (real == NULL) {
        int e = errno;
        if (missing_ok && e == ENOENT)
            return 0;
        return fail(p, "cannot read '%s': %s", path, strerror(e));
    }
    for (const struct input *in = p->in; in != NULL; in = in->parent) {
        if (strcmp(in->real, real) == 0) {
            free(real);
            return fail(p, "!include loop: '%s' is already being read", path);
        }
    }
    struct buf text = BUF_INIT;
    int e = read_file_limited(path, SETTINGS_MAX_FILE_SIZE, &text);
    if (e != 0) {
        free(real);
        buf_free(&text);
        if (e == EFBIG)
            return fail(p, "cannot read '%s': larger than %d bytes", path, SETTINGS_MAX_FILE_SIZE);
        return fail(p, "cannot read '%s': %s", path, strerror(e));
    }
    struct input in = {.path = path,
                       .dir = dir_of(path),
                       .real = real,
                       .nesting = nesting,
                       .depth_at_start = p->depth,
                       .parent = p->in};
    p->in = &in;
    int ret = parse_text(p, &text);
    if (ret == 0 && p->depth > in.depth_at_start) {
        const struct frame *f = &p->frames[p->depth - 1];
        ret = fail(p, "missing '}' for section '%s' opened at line %u", f->def->name, f->line);
    }
    p->in = in.parent;
    free(in.dir);
    free(real);
    buf_free(&text);
    return ret;
}

static int load(const char *path, struct settings *out, struct buf *err, bool skip_tls_files)
{
    struct parser p = {.set = out, .err = err, .skip_tls_files = skip_tls_files};
    settings_init_defaults(out);
    out->config_path = xstrdup(path);
    int ret = parse_file(&p, path, false);
    while (p.depth > 0)
        free(p.frames[--p.depth].label);
    if (ret < 0)
        settings_free(out);
    return ret;
}

int settings_load(const char *path, struct settings *out, struct buf *err)
{
    return load(path, out, err, false);
}

int settings_load_without_tls_files(const char *path, struct settings *out, struct buf *err)
{
    return load(path, out, err, true);
}

/* ---- dump ---- */

static bool listener_equal(const struct listener_settings *a, const struct listener_settings *b)
{
    return strcmp(a->service, b->service) == 0 && strcmp(a->name, b->name) == 0 &&
           str_equal(a->address, b->address) && a->port == b->port && a->ssl == b->ssl &&
           str_equal(a->path, b->path);
}

static void dump_listener(struct buf *out, const struct listener_settings *l)
{
    buf_printf(out, "service %s { %s_listener ", l->service, l->path ? "unix" : "inet");
    dump_string(out, l->name, true);
    if (l->path != NULL) {
        buf_puts(out, " { path = ");
        dump_string(out, l->path, true);
    } else {
        buf_printf(out, " { port = %d ssl = %s", l->port, l->ssl ? "yes" : "no");
        if (l->address != NULL) {
            buf_puts(out, " address = ");
            dump_string(out, l->address, true);
        }
    }
    buf_puts(out, " } }\n");
}

static void dump_dbs(struct buf *out, const char *kind, const struct db_settings *dbs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%s { driver = %s", kind, dbs[i].driver);
        if (dbs[i].args != NULL) {
            buf_puts(out, " args = ");
            dump_string(out, dbs[i].args, true);
        }
        buf_puts(out, " }\n");
    }
}

void settings_dump_changed(const struct settings *s, struct buf *out)
{
    struct settings defaults;
    settings_init_defaults(&defaults);
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++) {
        const struct setting_def *d = &setting_defs[i];
        if (d->section != SEC_TOP)
            continue;
        const void *field = (const char *)s + d->offset;
        if (!field_equal(d, field, (const char *)&defaults + d->offset)) {
            dump_setting(out, d, field, false);
            buf_putc(out, '\n');
        }
    }
    for (size_t i = 0; i < s->n_listeners; i++) {
        bool is_default = false;
        for (size_t j = 0; j < defaults.n_listeners && !is_default; j++)
            is_default = listener_equal(&s->listeners[i], &defaults.listeners[j]);
        if (!is_default)
            dump_listener(out, &s->listeners[i]);
    }
    dump_dbs(out, "passdb", s->passdbs, s->n_passdbs);
    dump_dbs(out, "userdb", s->userdbs, s->n_userdbs);
    settings_free(&defaults);
}

/* ---- variables ---- */

struct var_values {
    const char *user, *domain, *home;
    size_t user_len, name_len;
};

/* Dovecot's variables, by long name; the one-letter forms map to these. */
static bool var_value(const struct var_values *v, const char *name, size_t n, const char **value,
                      size_t *len)
{
    if (n == 4 && strncmp(name, "user", n) == 0) {
        *value = v->user;
        *len = v->user_len;
    } else if (n == 8 && strncmp(name, "username", n) == 0) {
        *value = v->user;
        *len = v->name_len;
    } else if (n == 6 && strncmp(name, "domain", n) == 0) {
        *value = v->domain;
        *len = strlen(v->domain);
    } else if (n == 4 && strncmp(name, "home", n) == 0) {
        *value = v->home;
        *len = strlen(v->home);
    } else {
        return false;
    }
    return true;
}

void settings_expand_vars(const char *tmpl, const char *user, const char *home, struct buf *out)
{
    struct var_values v = {.user = user ? user : "", .home = home ? home : ""};
    const char *at = strchr(v.user, '@');
    v.user_len = strlen(v.user);
    v.name_len = at ? (size_t)(at - v.user) : v.user_len;
    v.domain = at ? at + 1 : "";

    for (const char *s = tmpl; *s != '\0'; s++) {
        if (*s != '%') {
            buf_putc(out, *s);
            continue;
        }
        /* %Lx: the value in lower case, as with Dovecot's modifier. */
        const char *spec = s + 1, *last = spec, *value = NULL;
        bool lower = *spec == 'L';
        if (lower)
            last = ++spec;
        size_t len = 0;
        bool known;
        if (*spec == '%' && !lower) {
            known = true;
            value = "%";
            len = 1;
        } else if (*spec == '{') {
            last = strchr(spec, '}');
            known = last && var_value(&v, spec + 1, (size_t)(last - spec - 1), &value, &len);
        } else {
            static const char *const letters[] = {"u", "user",   "n", "username",
                                                  "d", "domain", "h", "home"};
            known = false;
            for (size_t i = 0; *spec && i < N_ELEMENTS(letters) && !known; i += 2)
                if (*spec == letters[i][0])
                    known = var_value(&v, letters[i + 1], strlen(letters[i + 1]), &value, &len);
        }
        if (!known) { /* kept as written, so that the mistake shows */
            buf_putc(out, '%');
            continue;
        }
        for (size_t i = 0; i < len; i++)
            buf_putc(out, lower ? (char)tolower((unsigned char)value[i]) : value[i]);
        s = last;
    }
}
