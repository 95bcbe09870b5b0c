#include "pop3/pop3-transfer.h"

#include <string.h>

void pop3_transfer_init(struct pop3_transfer *t, bool top, uint64_t lines)
{
    *t = (struct pop3_transfer){.top = top, .body_lines = lines, .line_start = true};
}

/* A line ended (its LF was sent): the header's end, or one body line more. */
static void line_ended(struct pop3_transfer *t)
{
    if (!t->in_body) {
        /* empty: nothing before the LF, or a lone CR */
        if (t->line_bytes == 0 || (t->line_bytes == 1 && t->prev_cr)) {
            /* RFC 1939 §7 TOP: "the headers of the message, the blank line
             * separating the headers from the body, and then the number of
             * lines of the indicated message's body" */
            t->in_body = true;
            if (t->top && t->body_lines == 0)
                t->complete = true;
        }
    } else if (t->top && --t->body_lines == 0) {
        t->complete = true;
    }
    t->line_start = true;
    t->line_bytes = 0;
}

bool pop3_transfer_feed(struct pop3_transfer *t, const char *p, size_t len, struct buf *out)
{
    const char *end = p + len;
    buf_reserve(out, len + len / 16 + 8);
    while (p < end && !t->complete) {
        if (t->line_start && *p == '.')
            buf_putc(out, '.'); /* RFC 1939 §3: byte-stuff a line starting with "." */
        /* the rest of this line, up to and without its LF */
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *stop = lf ? lf : end;
        if (stop > p) {
            buf_append(out, p, (size_t)(stop - p));
            size_t n = (size_t)(stop - p);
            t->line_bytes = t->line_bytes + n > 2 ? 2 : t->line_bytes + (unsigned)n;
            t->prev_cr = stop[-1] == '\r';
            t->line_start = false;
            p = stop;
        }
        if (!lf)
            break;
        if (!t->prev_cr)
            buf_putc(out, '\r'); /* a bare LF becomes CRLF */
        buf_putc(out, '\n');
        p++;
        line_ended(t); /* reads prev_cr: the CR of an empty CRLF line */
        t->prev_cr = false;
    }
    return t->complete;
}

void pop3_transfer_finish(struct pop3_transfer *t, struct buf *out)
{
    if (!t->line_start)
        buf_puts(out, t->prev_cr ? "\n" : "\r\n");
    buf_puts(out, ".\r\n");
}
