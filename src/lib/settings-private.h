/* What the parts of the settings code share: settings.c (the parser),
 * settings-schema.c (the table of keys, the defaults), settings-check.c (value
 * parsers and validators), settings-dump.c and settings-vars.c. Not for use
 * outside them. */
#ifndef GANNET_LIB_SETTINGS_PRIVATE_H
#define GANNET_LIB_SETTINGS_PRIVATE_H

#include "lib/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
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

struct section_def {
    const char *name;
    enum section_kind kind;
    enum section_kind parent;
    bool needs_label;
};

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

/* Validates a V_STRING value and writes its normal form to out; on failure
 * says what was expected in why (the caller adds "FILE:LINE: key: "). */
typedef bool value_check(const char *value, struct buf *out, struct buf *why);

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

/* ---- settings-schema.c ---- */

/* Every key, in the order of struct settings (which is also the dump's). */
extern const struct setting_def setting_defs[];
extern const size_t setting_defs_count;
/* The services a `service NAME { }` may name, NULL-terminated. */
extern const char *const settings_service_names[4];

const struct setting_def *settings_find(const char *name, size_t len, enum section_kind section);
const struct setting_def *settings_find_anywhere(const char *name);
const struct section_def *settings_find_section(const char *name);
struct listener_settings *settings_add_listener(struct settings *s, const char *service,
                                                const char *name);

/* ---- settings-check.c ---- */

value_check settings_check_protocols, settings_check_mechanisms, settings_check_verbose_passwords,
    settings_check_networks, settings_check_cipher_list, settings_check_cipher_suites,
    settings_check_driver, settings_check_socket_path, settings_check_listen, settings_check_mode;

/* The size of a field of that type. */
size_t setting_type_size(enum value_type type);
/* Parses value into the field of d in base (a struct settings, listener or db);
 * false with what was expected in why. path: where a V_FILE value was read. */
bool setting_store_value(const struct setting_def *d, void *base, const char *value,
                         const char *path, struct buf *why);
bool setting_field_equal(const struct setting_def *d, const void *a, const void *b);
void setting_free_field(const struct setting_def *d, void *field);
/* "a, b or c" from a list of words, for messages. */
void settings_append_choices(struct buf *out, const char *const *words, size_t n);

/* ---- settings.c ---- */

/* "dir/name", or name itself when it is absolute or dir is "" (the working
 * directory): relative names in a config file are relative to its directory. */
char *settings_join_path(const char *dir, const char *name);

/* ---- small helpers ---- */

static inline bool str_equal(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static inline const char *skip_blanks(const char *s)
{
    while (is_blank(*s))
        s++;
    return s;
}

#endif
