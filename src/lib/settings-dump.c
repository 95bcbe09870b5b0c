/* `gannet config`'s dump: the settings that differ from their defaults, in the
 * config's own syntax, so that the output reads back as the same settings. */
#include "lib/settings-private.h"

#include <string.h>

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

static bool listener_equal(const struct listener_settings *a, const struct listener_settings *b)
{
    return strcmp(a->service, b->service) == 0 && strcmp(a->name, b->name) == 0 &&
           str_equal(a->address, b->address) && a->port == b->port && a->ssl == b->ssl &&
           str_equal(a->path, b->path) && str_equal(a->mode, b->mode) &&
           str_equal(a->user, b->user) && str_equal(a->group, b->group);
}

static void dump_listener(struct buf *out, const struct listener_settings *l)
{
    buf_printf(out, "service %s { %s_listener ", l->service, l->path ? "unix" : "inet");
    dump_string(out, l->name, true);
    if (l->path != NULL) {
        buf_puts(out, " { path = ");
        dump_string(out, l->path, true);
        const char *const keys[] = {"mode", "user", "group"};
        const char *const values[] = {l->mode, l->user, l->group};
        for (size_t i = 0; i < N_ELEMENTS(keys); i++) {
            if (values[i] != NULL) {
                buf_printf(out, " %s = ", keys[i]);
                dump_string(out, values[i], true);
            }
        }
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
    for (size_t i = 0; i < setting_defs_count; i++) {
        const struct setting_def *d = &setting_defs[i];
        if (d->section != SEC_TOP)
            continue;
        const void *field = (const char *)s + d->offset;
        if (!setting_field_equal(d, field, (const char *)&defaults + d->offset)) {
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
