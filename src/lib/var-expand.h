/* Dovecot's %-templates with one-letter variables, the subset its
 * pop3_uidl_format uses ("%08Xu%08Xv"): %[0][WIDTH][MODIFIERS]KEY, and %% for
 * a percent sign. Modifiers, as Dovecot's var_expand: X the decimal value in
 * hexadecimal (lower case, "%llx"), L lower case, U upper case. A WIDTH with
 * a leading 0 pads on the left with zeros and never cuts; a WIDTH without it
 * keeps at most WIDTH characters. */
#ifndef GANNET_LIB_VAR_EXPAND_H
#define GANNET_LIB_VAR_EXPAND_H

#include "lib/buf.h"

#include <stdbool.h>

struct var_expand_entry {
    char key;
    const char *value;
};

/* Appends the expansion of tmpl to out; table ends with key '\0'. False, with
 * one line in err, for an unknown variable or modifier or a '%' at the end. */
bool var_expand_table(const char *tmpl, const struct var_expand_entry *table, struct buf *out,
                      struct buf *err);

#endif
