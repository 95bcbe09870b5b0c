#include "lib-imap/imap-quote.h"

#include <stdbool.h>
#include <string.h>

void imap_quote(struct buf *out, const char *s, size_t len)
{
    bool quotable = len <= 1024;
    for (size_t i = 0; i < len && quotable; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
            quotable = false;
    }
    if (!quotable) {
        buf_printf(out, "{%zu}\r\n", len);
        buf_append(out, s, len);
        return;
    }
    buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            buf_putc(out, '\\');
        buf_putc(out, s[i]);
    }
    buf_putc(out, '"');
}

void imap_nstring(struct buf *out, const char *s)
{
    if (!s)
        buf_puts(out, "NIL");
    else
        imap_quote(out, s, strlen(s));
}
