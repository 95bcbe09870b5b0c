/* The schema of gannet.conf: every key with its section, field, type,
 * default and validator (setting_defs), the sections, the default listeners,
 * and what makes and frees a struct settings from them. */
#include "lib/settings-private.h"

#include "lib/settings-pop3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct section_def section_defs[] = {
    {"service", SEC_SERVICE, SEC_TOP, true},
    {"inet_listener", SEC_INET_LISTENER, SEC_SERVICE, true},
    {"unix_listener", SEC_UNIX_LISTENER, SEC_SERVICE, true},
    {"passdb", SEC_PASSDB, SEC_TOP, false},
    {"userdb", SEC_USERDB, SEC_TOP, false},
};

const char *const settings_service_names[4] = {"imap-login", "pop3-login", "lmtp", NULL};

static const struct enum_name ssl_modes[] = {
    {"no", SSL_MODE_NO}, {"yes", SSL_MODE_YES}, {"required", SSL_MODE_REQUIRED}, {NULL, 0}};

/* The versions as on the wire (RFC 8446 §4.1.2), which are OpenSSL's
 * constants too (net/tls.c checks that they agree). */
static const struct enum_name tls_versions[] = {
    {"SSLv3", SETTINGS_SSL3},     {"TLSv1", SETTINGS_TLS1_0},   {"TLSv1.1", SETTINGS_TLS1_1},
    {"TLSv1.2", SETTINGS_TLS1_2}, {"TLSv1.3", SETTINGS_TLS1_3}, {NULL, 0}};

#define FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)
#define TOP(member) SEC_TOP, FIELD(struct settings, member)
#define LISTENER(kind, member) kind, FIELD(struct listener_settings, member)
#define DB(kind, member) kind, FIELD(struct db_settings, member)

/* In the order of struct settings, which is also the order of the dump. The
 * defaults are those of settings.h and docs/gannet.conf. */
const struct setting_def setting_defs[] = {
    {"protocols", TOP(protocols), V_STRING, "imap pop3", NULL, settings_check_protocols},
    {"listen", TOP(listen), V_STRING, "*, ::", NULL, settings_check_listen},
    {"ssl", TOP(ssl), V_ENUM, "required", ssl_modes, NULL},
    {"ssl_cert", TOP(ssl_cert), V_FILE, NULL, NULL, NULL},
    {"ssl_key", TOP(ssl_key), V_FILE, NULL, NULL, NULL},
    {"ssl_min_protocol", TOP(ssl_min_protocol), V_ENUM, "TLSv1.2", tls_versions, NULL},
    {"ssl_cipher_list", TOP(ssl_cipher_list), V_STRING, NULL, NULL, settings_check_cipher_list},
    {"ssl_cipher_suites", TOP(ssl_cipher_suites), V_STRING, NULL, NULL,
     settings_check_cipher_suites},
    {"ssl_prefer_server_ciphers", TOP(ssl_prefer_server_ciphers), V_BOOL, "yes", NULL, NULL},
    {"disable_plaintext_auth", TOP(disable_plaintext_auth), V_BOOL, "yes", NULL, NULL},
    {"auth_mechanisms", TOP(auth_mechanisms), V_STRING, "plain login", NULL,
     settings_check_mechanisms},
    {"auth_verbose", TOP(auth_verbose), V_BOOL, "no", NULL, NULL},
    {"auth_verbose_passwords", TOP(auth_verbose_passwords), V_STRING, "no", NULL,
     settings_check_verbose_passwords},
    {"auth_debug", TOP(auth_debug), V_BOOL, "no", NULL, NULL},
    {"auth_debug_passwords", TOP(auth_debug_passwords), V_BOOL, "no", NULL, NULL},
    {"auth_anonymous_username", TOP(auth_anonymous_username), V_STRING, NULL, NULL, NULL},
    {"auth_failure_delay", TOP(auth_failure_delay_ms), V_TIME, "2 secs", NULL, NULL},
    {"login_trusted_networks", TOP(login_trusted_networks), V_STRING, NULL, NULL,
     settings_check_networks},
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
    {"recipient_delimiter", TOP(recipient_delimiter), V_STRING, "+", NULL, NULL},
    {"lmtp_save_to_detail_mailbox", TOP(lmtp_save_to_detail_mailbox), V_BOOL, "no", NULL, NULL},
    {"postmaster_address", TOP(postmaster_address), V_STRING, NULL, NULL, NULL},
    {"lmtp_max_recipients", TOP(lmtp_max_recipients), V_UINT, "100", NULL, NULL},
    {"pop3_uidl_format", TOP(pop3_uidl_format), V_STRING, "%08Xu%08Xv", NULL,
     settings_check_uidl_format},
    {"pop3_lock_session", TOP(pop3_lock_session), V_BOOL, "no", NULL, NULL},
    {"pop3_login_delay", TOP(pop3_login_delay_ms), V_TIME, "0", NULL, NULL},
    {"pop3_expire", TOP(pop3_expire), V_STRING, "never", NULL, settings_check_expire},

    {"address", LISTENER(SEC_INET_LISTENER, address), V_STRING, NULL, NULL, settings_check_listen},
    {"port", LISTENER(SEC_INET_LISTENER, port), V_PORT, NULL, NULL, NULL},
    {"ssl", LISTENER(SEC_INET_LISTENER, ssl), V_BOOL, NULL, NULL, NULL},
    {"path", LISTENER(SEC_UNIX_LISTENER, path), V_STRING, "", NULL, settings_check_socket_path},
    {"mode", LISTENER(SEC_UNIX_LISTENER, mode), V_STRING, NULL, NULL, settings_check_mode},
    {"user", LISTENER(SEC_UNIX_LISTENER, user), V_STRING, NULL, NULL, NULL},
    {"group", LISTENER(SEC_UNIX_LISTENER, group), V_STRING, NULL, NULL, NULL},

    {"driver", DB(SEC_PASSDB, driver), V_STRING, NULL, NULL, settings_check_driver},
    {"args", DB(SEC_PASSDB, args), V_STRING, NULL, NULL, NULL},
    {"driver", DB(SEC_USERDB, driver), V_STRING, NULL, NULL, settings_check_driver},
    {"args", DB(SEC_USERDB, args), V_STRING, NULL, NULL, NULL},
};

const size_t setting_defs_count = N_ELEMENTS(setting_defs);

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

const struct setting_def *settings_find(const char *name, size_t len, enum section_kind section)
{
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++) {
        const struct setting_def *d = &setting_defs[i];
        if (d->section == section && strlen(d->name) == len && strncmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

const struct setting_def *settings_find_anywhere(const char *name)
{
    for (size_t i = 0; i < N_ELEMENTS(setting_defs); i++)
        if (strcmp(setting_defs[i].name, name) == 0)
            return &setting_defs[i];
    return NULL;
}

const struct section_def *settings_find_section(const char *name)
{
    for (size_t i = 0; i < N_ELEMENTS(section_defs); i++)
        if (strcmp(section_defs[i].name, name) == 0)
            return &section_defs[i];
    return NULL;
}

/* ---- defaults, free ---- */

struct listener_settings *settings_add_listener(struct settings *s, const char *service,
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
        if (d->size != setting_type_size(d->type) ||
            (d->section == SEC_TOP && d->default_value != NULL &&
             !setting_store_value(d, s, d->default_value, NULL, &why))) {
            fprintf(stderr, "gannet: settings table: bad row '%s' %s\n", d->name, buf_cstr(&why));
            abort();
        }
        buf_free(&why);
    }
    for (size_t i = 0; i < N_ELEMENTS(default_listeners); i++) {
        struct listener_settings *l =
            settings_add_listener(s, default_listeners[i].service, default_listeners[i].name);
        l->port = default_listeners[i].port;
        l->ssl = default_listeners[i].ssl;
    }
    /* Dovecot's LMTP socket, base_dir/lmtp; used only with lmtp in `protocols`. */
    settings_add_listener(s, "lmtp", "lmtp")->path = xstrdup(SETTINGS_RUN_DIR "/lmtp");
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
            setting_free_field(&setting_defs[i], (char *)s + setting_defs[i].offset);
    free(s->config_path);
    for (size_t i = 0; i < s->n_listeners; i++) {
        free(s->listeners[i].service);
        free(s->listeners[i].name);
        free(s->listeners[i].address);
        free(s->listeners[i].path);
        free(s->listeners[i].mode);
        free(s->listeners[i].user);
        free(s->listeners[i].group);
    }
    free(s->listeners);
    free_dbs(s->passdbs, s->n_passdbs);
    free_dbs(s->userdbs, s->n_userdbs);
    memset(s, 0, sizeof(*s));
}
