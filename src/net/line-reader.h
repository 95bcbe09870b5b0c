/* Reading CRLF (or bare LF) terminated lines from a connection's input with a
 * length bound: POP3 commands and SASL responses. A line over the bound is
 * reported as soon as it is known to be too long, and skipped to its end, so
 * memory stays bounded whatever the
 * client sends. */
#ifndef GANNET_NET_LINE_READER_H
#define GANNET_NET_LINE_READER_H

#include "lib/buf.h"

#include <event2/buffer.h>
#include <stdbool.h>

enum line_result {
    LINE_NONE,     /* no complete line yet */
    LINE_READY,    /* `line` holds it, without the line end */
    LINE_TOO_LONG, /* a line over the bound: dropped, and its rest will be */
};

struct line_reader {
    bool discarding;
};

enum line_result line_reader_read(struct line_reader *r, struct evbuffer *in, size_t max,
                                  struct buf *line);

#endif
