#include "lib-imap/imap-quote.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

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

/* RFC 9051 §9 ASTRING-CHAR: atom characters and ']'. */
static bool is_astring_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
           c != '"' && c != '\\';
}

void imap_astring(struct buf *out, const char *s, size_t len)
{
    bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);
    for (size_t i = 0; i < len && atom; i++)
        atom = is_astring_char((unsigned char)s[i]);
    if (atom)
        buf_append(out, s, len);
    else
        imap_quote(out, s, len);
}
