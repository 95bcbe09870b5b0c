/* The value parsers and validators of gannet.conf: numbers with units, times,
 * sizes, booleans, the checks of string values, and the typed store, compare
 * and free of a setting's field. */
#include "lib/settings-private.h"

#include "lib/netaddr.h"
#include "lib/number.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

/* Where a unix_listener with a relative name goes, as Dovecot's base_dir. */

/* ---- small helpers ---- */

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

void settings_append_choices(struct buf *out, const char *const *words, size_t n)
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
    settings_append_choices(out, words, n);
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
            settings_append_choices(why, allowed, n_allowed);
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

bool settings_check_protocols(const char *value, struct buf *out, struct buf *why)
{
    static const char *const protocols[] = {"imap", "pop3", "lmtp"};
    /* Dovecot's way of saying "no protocol" (an LMTP-less, login-less test). */
    if (strcasecmp(value, "none") == 0)
        return true;
    return check_words(value, protocols, N_ELEMENTS(protocols), "unknown protocol", out, why);
}

bool settings_check_mechanisms(const char *value, struct buf *out, struct buf *why)
{
    /* What auth/sasl implements; CRAM-MD5 and DIGEST-MD5 need the password
     * stored in a recoverable form, so gannet leaves them out on purpose. */
    static const char *const mechanisms[] = {"plain", "login", "scram-sha-256", "anonymous"};
    if (!check_words(value, mechanisms, N_ELEMENTS(mechanisms), "unsupported mechanism", out, why))
        return false;
    if (out->len == 0) {
        buf_puts(why, "expected at least one of ");
        settings_append_choices(why, mechanisms, N_ELEMENTS(mechanisms));
        return false;
    }
    return true;
}

bool settings_check_verbose_passwords(const char *value, struct buf *out, struct buf *why)
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
bool settings_check_networks(const char *value, struct buf *out, struct buf *why)
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
bool settings_check_listen(const char *value, struct buf *out, struct buf *why)
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

static settings_cipher_check_fn *cipher_check;

void settings_set_cipher_check(settings_cipher_check_fn *check)
{
    cipher_check = check;
}

static bool check_cipher(const char *value, bool suites, struct buf *out, struct buf *why)
{
    if (*value == '\0')
        return true;
    if (cipher_check != NULL && !cipher_check(value, suites, why))
        return false;
    buf_puts(out, value);
    return true;
}

bool settings_check_cipher_list(const char *value, struct buf *out, struct buf *why)
{
    return check_cipher(value, false, out, why);
}

bool settings_check_cipher_suites(const char *value, struct buf *out, struct buf *why)
{
    return check_cipher(value, true, out, why);
}

bool settings_check_driver(const char *value, struct buf *out, struct buf *why)
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
bool settings_check_socket_path(const char *value, struct buf *out, struct buf *why)
{
    if (*value == '\0') {
        buf_puts(why, "expected a socket path");
        return false;
    }
    char *path = settings_join_path(value[0] == '/' ? "" : SETTINGS_RUN_DIR, value);
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

/* A unix_listener's mode, octal as Dovecot writes it ("0600", "666"). */
bool settings_check_mode(const char *value, struct buf *out, struct buf *why)
{
    size_t n = strlen(value);
    if (n == 0 || n > 4 || strspn(value, "01234567") != n || strtoul(value, NULL, 8) > 0777) {
        buf_printf(why, "expected an octal mode such as 0600 or 0666, got '%s'", value);
        return false;
    }
    buf_printf(out, "%04lo", strtoul(value, NULL, 8));
    return true;
}

/* ---- the table's types: store, compare, print, free ---- */

size_t setting_type_size(enum value_type type)
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

bool setting_store_value(const struct setting_def *d, void *base, const char *value,
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

bool setting_field_equal(const struct setting_def *d, const void *a, const void *b)
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

void setting_free_field(const struct setting_def *d, void *field)
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
