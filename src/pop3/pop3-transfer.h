/* A message as RETR and TOP send it (RFC 1939 §3, §7): every line end CRLF,
 * also for lines stored with a bare LF, a line that starts with "." gets one
 * more ("byte-stuffing"), and "." CRLF ends it. With TOP, the header, the
 * empty line after it and then only the first n lines of the body. The
 * message is fed in pieces as it is read from its file: nothing holds it
 * whole. Sizes agree with LIST: a message's LIST size is its RFC822.SIZE (the
 * stored size plus one CR per bare LF), which is what RETR sends before the
 * byte-stuffing and the final ".". */
#ifndef GANNET_POP3_POP3_TRANSFER_H
#define GANNET_POP3_POP3_TRANSFER_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plain state, copied from one read to the next. */
struct pop3_transfer {
    bool top;            /* TOP: stop after body_lines lines of the body */
    uint64_t body_lines; /* TOP: body lines still to send */
    bool in_body;        /* past the empty line that ends the header */
    bool line_start;     /* the next byte starts a line */
    bool prev_cr;        /* the last byte sent was a CR */
    unsigned line_bytes; /* bytes of the current line so far, counted up to 2 */
    bool complete;       /* TOP has all it wants: the rest is not read */
};

/* RETR (top false) or TOP with `lines` body lines. */
void pop3_transfer_init(struct pop3_transfer *t, bool top, uint64_t lines);
/* Converts the next `len` bytes of the message, appending to out. Returns
 * true once TOP needs no more bytes (t->complete); the bytes after that
 * point are ignored. */
bool pop3_transfer_feed(struct pop3_transfer *t, const char *p, size_t len, struct buf *out);
/* After the last byte: the line end a message without one at its end still
 * needs, then the terminating "." CRLF. */
void pop3_transfer_finish(struct pop3_transfer *t, struct buf *out);

#endif
