#include "login/sasl-line.h"

enum sasl_line_result sasl_line_read(struct sasl_line *sl, struct evbuffer *in, size_t max)
{
    if (sl->skipping) {
        struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
        if (eol.pos < 0) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return SASL_LINE_MORE;
        }
        evbuffer_drain(in, (size_t)eol.pos + 1);
        sl->skipping = false;
        return SASL_LINE_SKIPPED;
    }
    switch (line_reader_read(&sl->reader, in, max, &sl->line)) {
    case LINE_NONE:
        return SASL_LINE_MORE;
    case LINE_READY:
        return SASL_LINE_READY;
    case LINE_TOO_LONG:
        break;
    }
    /* The line reader would skip the rest and read on into the next line,
     * which is a command, not a response: the skip is ours, and it stops at
     * the end of this line. */
    sl->skipping = sl->reader.discarding;
    sl->reader.discarding = false;
    return SASL_LINE_TOO_LONG;
}

bool sasl_line_skipping(const struct sasl_line *sl)
{
    return sl->skipping;
}

void sasl_line_clear(struct sasl_line *sl)
{
    buf_free_secret(&sl->line);
}
