/* <CRLF>.<CRLF> and dot-stuffing, byte by byte (RFC 5321 §4.5.2). */
#include "lmtp/dot-decoder.h"

void dot_decoder_init(struct dot_decoder *d)
{
    d->state = DOT_LINE_START;
}

bool dot_decoder_done(const struct dot_decoder *d)
{
    return d->state == DOT_END;
}

size_t dot_decoder_feed(struct dot_decoder *d, const char *in, size_t len, char *out,
                        size_t *out_len)
{
    size_t i = 0, o = 0;
    while (i < len && d->state != DOT_END) {
        char c = in[i++];
        switch (d->state) {
        case DOT_LINE_START:
            if (c == '.') {
                d->state = DOT_PERIOD;
                continue;
            }
            break;
        case DOT_PERIOD:
            if (c == '\r') {
                d->state = DOT_PERIOD_CR;
                continue;
            }
            /* §4.5.2: the first period of a line with more on it is removed
             * (".." becomes "."); c is the line's first byte now. */
            break;
        case DOT_PERIOD_CR:
            if (c == '\n') {
                d->state = DOT_END;
                continue;
            }
            /* ".<CR>x": the period goes, the CR stays, x is read after it */
            out[o++] = '\r';
            d->state = DOT_CR;
            break;
        case DOT_TEXT:
        case DOT_CR:
        case DOT_END:
            break;
        }
        out[o++] = c;
        if (c == '\r')
            d->state = DOT_CR;
        else if (c == '\n' && d->state == DOT_CR)
            d->state = DOT_LINE_START;
        else
            d->state = DOT_TEXT;
    }
    *out_len = o;
    return i;
}
