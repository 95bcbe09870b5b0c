#include "net/line-reader.h"

enum line_result line_reader_read(struct line_reader *r, struct evbuffer *in, size_t max,
                                  struct buf *line)
{
    {
        struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
        size_t avail = evbuffer_get_length(in);
        if (eol.pos < 0) {
            if (r->discarding || avail > max + 1) {
                /* Keep memory bounded: drop what we have, remember to skip the rest. */
                evbuffer_drain(in, avail);
                r->discarding = true;
            }
            return LINE_NONE;
        }
        size_t len = (size_t)eol.pos;
        if (r->discarding || len > max + 1) {
            evbuffer_drain(in, len + 1);
            r->discarding = false;
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
