#include "lib/var-expand.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *lookup(const struct var_expand_entry *table, char key)
{
    for (; table->key; table++)
        if (table->key == key)
            return table->value;
    return NULL;
}

bool var_expand_table(const char *tmpl, const struct var_expand_entry *table, struct buf *out,
                      struct buf *err)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '%') {
            buf_putc(out, *p);
            continue;
        }
        p++;
        if (*p == '%') {
            buf_putc(out, '%');
            continue;
        }
        bool zero = false;
        size_t width = 0;
        if (*p == '0') {
            zero = true;
            p++;
        }
        while (*p >= '0' && *p <= '9' && width < 1000)
            width = width * 10 + (size_t)(*p++ - '0');
        bool hex = false, lower = false, upper = false;
        for (;; p++) {
            if (*p == 'X')
                hex = true;
            else if (*p == 'L')
                lower = true;
            else if (*p == 'U')
                upper = true;
            else
                break;
        }
        if (!*p) {
            buf_puts(err, "a '%' without a variable at the end");
            return false;
        }
        const char *value = lookup(table, *p);
        if (!value) {
            buf_printf(err, "unknown variable %%%c", *p);
            return false;
        }
        struct buf v = BUF_INIT;
        if (hex) {
            errno = 0;
            unsigned long long n = strtoull(value, NULL, 10);
            buf_printf(&v, "%llx", errno ? 0ULL : n);
        } else {
            buf_puts(&v, value);
        }
        for (size_t i = 0; i < v.len; i++) {
            if (lower)
                v.data[i] = (char)tolower((unsigned char)v.data[i]);
            if (upper)
                v.data[i] = (char)toupper((unsigned char)v.data[i]);
        }
        if (zero) {
            for (size_t n = v.len; n < width; n++)
                buf_putc(out, '0');
            buf_append(out, v.data ? v.data : "", v.len);
        } else {
            buf_append(out, v.data ? v.data : "", width && width < v.len ? width : v.len);
        }
        buf_free(&v);
    }
    return true;
}
