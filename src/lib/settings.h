/* The settings of gannet, with Dovecot's names (DESIGN.md "Configuration"), as
 * read from gannet.conf by settings_load(). One struct settings is owned by
 * whoever loaded it and freed with settings_free(); SIGHUP loads a new one and
 * swaps it in. */
#ifndef GANNET_LIB_SETTINGS_H
#define GANNET_LIB_SETTINGS_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define GANNET_DEFAULT_CONFIG GANNET_SYSCONFDIR "/gannet/gannet.conf"
#ifndef GANNET_STATEDIR
#define GANNET_STATEDIR "/var/lib/gannet"
#endif

enum ssl_mode { SSL_MODE_NO, SSL_MODE_YES, SSL_MODE_REQUIRED };

/* ssl_min_protocol values: the protocol versions as on the wire (RFC 8446
 * §4.1.2), which are also OpenSSL's SSL3_VERSION ... TLS1_3_VERSION. */
#define SETTINGS_SSL3 0x0300
#define SETTINGS_TLS1_0 0x0301
#define SETTINGS_TLS1_1 0x0302
#define SETTINGS_TLS1_2 0x0303
#define SETTINGS_TLS1_3 0x0304

/* A value that may have come from `key = </path`: the path is kept so that the
 * file's permissions can be audited and the file re-read on SIGHUP. */
struct setting_file {
    char *value; /* the contents (or the literal value); NULL when unset */
    char *path;  /* the file it was read from, NULL for a literal value */
};

/* `service NAME { inet_listener LABEL { address port ssl } }`,
 * `service lmtp { unix_listener LABEL { path mode user group } }` */
struct listener_settings {
    char *service; /* "imap-login", "pop3-login" or "lmtp" */
    char *name;    /* the label: "imap", "imaps", "pop3", "pop3s", ... */
    char *address; /* NULL: the global `listen` addresses (for lmtp: 127.0.0.1) */
    int port;      /* 0: the listener is disabled (Dovecot's convention) */
    bool ssl;      /* implicit TLS */
    char *path;    /* unix_listener only (lmtp); NULL for inet listeners */
    char *mode;    /* unix_listener: octal, "0666"; NULL: 0666, as Dovecot's lmtp */
    char *user;    /* unix_listener: the socket's owner; NULL: root */
    char *group;   /* unix_listener: the socket's group; NULL: root's */
};

/* `passdb { driver = passwd-file args = ... }`, `userdb { driver = static args = ... }` */
struct db_settings {
    char *driver;
    char *args;
    char *file; /* where it was defined, for messages */
    int line;
};

struct settings {
    char *config_path; /* the top file this was loaded from */

    char *protocols;   /* "imap pop3" */
    char *listen;      /* "*, ::" by default; comma separated */
    enum ssl_mode ssl; /* default SSL_MODE_REQUIRED */
    struct setting_file ssl_cert;
    struct setting_file ssl_key;
    int ssl_min_protocol;           /* SETTINGS_TLS1_2 and the like; default TLS 1.2 */
    char *ssl_cipher_list;          /* TLS <= 1.2 cipher list; NULL: gannet's modern default */
    char *ssl_cipher_suites;        /* TLS 1.3 suites; NULL: OpenSSL's default */
    bool ssl_prefer_server_ciphers; /* default yes */

    bool disable_plaintext_auth;    /* default yes */
    char *auth_mechanisms;          /* space separated, lower case; default "plain login" */
    bool auth_verbose;              /* default no */
    char *auth_verbose_passwords;   /* "no" (default), "plain" or "sha1" as in Dovecot */
    bool auth_debug;                /* default no */
    bool auth_debug_passwords;      /* default no */
    char *auth_anonymous_username;  /* NULL: unset (no ANONYMOUS) */
    unsigned auth_failure_delay_ms; /* default 2000 */
    char *login_trusted_networks;   /* space separated CIDRs; NULL: none */
    char *login_greeting;           /* default "gannet ready." (no version) */

    char *mail_location; /* default "maildir:~/Maildir" */
    char *mail_uid;      /* a user name or a number; NULL: unset (an error for serve) */
    char *mail_gid;
    unsigned mail_max_userip_connections; /* default 10 */

    char *log_path;  /* NULL: syslog; "syslog", or a file; -F overrides with stderr */
    char *state_dir; /* what must outlive a restart (the SCRAM salt secret); GANNET_STATEDIR */

    /* Limits against bad input (gannet's own names, where Dovecot has none). */
    size_t imap_max_line_length;           /* IMAP after login; default 65536 (Dovecot's) */
    size_t login_max_line_length;          /* before login; default 8192 */
    size_t mail_max_message_size;          /* APPEND (RFC 7889 APPENDLIMIT), LMTP (RFC 1870
                                              SIZE); default 64 MiB */
    size_t auth_max_sasl_size;             /* a SASL message, base64; default 16384 */
    unsigned login_timeout_ms;             /* pre-login inactivity; default 60000 */
    unsigned login_max_connections;        /* unauthenticated connections, total; default 1000 */
    unsigned login_max_connections_per_ip; /* unauthenticated, per address; default 20 */
    unsigned login_max_bad_commands;       /* before login, in all; default 10 */
    unsigned workers;                      /* worker processes; 0 (default): one per core */

    /* LMTP delivery (RFC 2033), with Dovecot's names. */
    char *recipient_delimiter;        /* "user+detail@": default "+"; "" for none */
    bool lmtp_save_to_detail_mailbox; /* deliver to the detail's mailbox; default no */
    char *postmaster_address;         /* who gets mail for postmaster; NULL: none */
    unsigned lmtp_max_recipients;     /* per transaction; default 100 (RFC 5321 §4.5.3.1.8) */

    /* POP3: Dovecot's names; pop3_login_delay and pop3_expire are gannet's,
     * announced in CAPA (RFC 2449 §6.5, §6.7). */
    char *pop3_uidl_format;       /* default "%08Xu%08Xv" (Dovecot's) */
    bool pop3_lock_session;       /* default no */
    unsigned pop3_login_delay_ms; /* default 0 */
    char *pop3_expire;            /* "never" (default) or days */

    struct listener_settings *listeners;
    size_t n_listeners;
    struct db_settings *passdbs;
    size_t n_passdbs;
    struct db_settings *userdbs;
    size_t n_userdbs;
};

/* Fills *out with the defaults. */
void settings_init_defaults(struct settings *s);

/* Reads `path` (Dovecot syntax: `key = value`, `section [label] { ... }`, `#`
 * comments, `key = <file`, `!include file` with globs, `!include_try`). On error
 * returns -1 with "FILE:LINE: what was expected" in err; *out is then empty. */
int settings_load(const char *path, struct settings *out, struct buf *err);

/* The same, except that ssl_cert and ssl_key keep only their paths (values
 * ""): for the mail admin commands and the LDA, which run as mail_uid and have
 * no use for the private key that only root may read. */
int settings_load_without_tls_files(const char *path, struct settings *out, struct buf *err);

void settings_free(struct settings *s);

/* Parses "2 secs", "500 ms", "1 min", "3 hours" into milliseconds. */
bool settings_parse_time(const char *value, unsigned *ms);
/* Parses "64k", "1 M", "4096" into bytes. */
bool settings_parse_size(const char *value, size_t *bytes);
/* Writes one line per setting whose value differs from its default,
 * `key = value` in the config's own syntax (listeners and dbs as sections). */
void settings_dump_changed(const struct settings *s, struct buf *out);

/* Checks a cipher list with the TLS library (the TLS 1.3 suites when suites:
 * ssl_cipher_suites, else ssl_cipher_list), so that a typo is an error with
 * file and line instead of a server that refuses to start; false with what is
 * wrong in why. lib/ links no TLS library: net/tls.c installs its check
 * before main() runs. Without a check, lists are taken as written. */
typedef bool settings_cipher_check_fn(const char *list, bool suites, struct buf *why);
void settings_set_cipher_check(settings_cipher_check_fn *check);

/* Expands Dovecot's variables in a path: %u (user@domain as given), %n (user
 * part), %d (domain part), %h (home), %% (a percent sign). */
void settings_expand_vars(const char *tmpl, const char *user, const char *home, struct buf *out);

#endif
