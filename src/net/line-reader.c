#include "net/line-reader.h"

enum line_result line_reader_read(struct line_reader *r, struct evbuffer *in, size_t max,
                                  struct buf *line)
{
    for (;;) {
        struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
        size_t avail = evbuffer_get_length(in);
        if (r->discarding) {
            /* The rest of a line already answered as too long. */
            if (eol.pos < 0) {
                evbuffer_drain(in, avail);
                return LINE_NONE;
            }
            evbuffer_drain(in, (size_t)eol.pos + 1);
            r->discarding = false;
            continue;
        }
        if (eol.pos < 0) {
            if (avail <= max + 1)
                return LINE_NONE;
            /* Over the bound with no end in sight: answer now, skip the rest. */
            evbuffer_drain(in, avail);
            r->discarding = true;
            return LINE_TOO_LONG;
        }
        size_t len = (size_t)eol.pos;
        if (len > max + 1) {
            evbuffer_drain(in, len + 1);
            return LINE_TOO_LONG;
        }
        buf_reset(line);
        buf_reserve(line, len + 1);
        evbuffer_remove(in, line->data, len + 1);
        line->len = len;
        if (line->len > 0 && line->data[line->len - 1] == '\r')
            line->len--;
        line->data[line->len] = '\0';
        if (line->len > max) {
            buf_reset(line);
            return LINE_TOO_LONG;
        }
        return LINE_READY;
    }
}
