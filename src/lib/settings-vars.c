/* Dovecot's %variables in mail_location and the like (settings_expand_vars). */
#include "lib/settings-private.h"

#include <ctype.h>
#include <string.h>

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
