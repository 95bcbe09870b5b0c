/* One SASL response line (RFC 9051 §6.2.2, RFC 5034 §4): a base64 line, or
 * "*", bounded by auth_max_sasl_size. A line over the bound is reported as
 * soon as it is known to be too long; the rest of it is then skipped, and the
 * skip ends at that line's end, so that the protocol reads its next command
 * from the line after it and memory stays bounded whatever the client sends. */
#ifndef GANNET_LOGIN_SASL_LINE_H
#define GANNET_LOGIN_SASL_LINE_H

#include "lib/buf.h"
#include "net/line-reader.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

enum sasl_line_result {
    SASL_LINE_MORE,     /* nothing complete yet: wait for input */
    SASL_LINE_READY,    /* `line` holds the response, without its line end */
    SASL_LINE_TOO_LONG, /* over the bound: answer now; sasl_line_skipping() says
                           whether the rest is still to come */
    SASL_LINE_SKIPPED,  /* the rest of a too-long line has gone */
};

/* Owned by the login of one connection; `line` is a secret. */
struct sasl_line {
    struct line_reader reader;
    bool skipping; /* inside the rest of a too-long line */
    struct buf line;
};

enum sasl_line_result sasl_line_read(struct sasl_line *sl, struct evbuffer *in, size_t max);
/* The rest of a too-long line is still to be skipped. */
bool sasl_line_skipping(const struct sasl_line *sl);
/* Wipes and frees the line. */
void sasl_line_clear(struct sasl_line *sl);

#endif
