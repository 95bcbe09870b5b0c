/* The DATA of SMTP and LMTP as it arrives (RFC 5321 §4.1.1.4 and §4.5.2):
 * the message ends at <CRLF>.<CRLF>, and a line that starts with a period
 * loses that period ("dot-stuffing"). Resumable: fed whatever bytes came, it
 * keeps its state between calls, and memory does not grow with the line
 * length.
 *
 * Only CRLF ends a line. A bare LF (or CR) is message content: it neither
 * starts a line whose period would be removed nor can it end the message, so
 * that "<LF>.<LF>" or "<LF>.<CRLF>" inside a message never cuts it short
 * (the SMTP smuggling of 2023, where two servers disagreed on where a
 * message ends). The bytes are kept as sent. */
#ifndef GANNET_LMTP_DOT_DECODER_H
#define GANNET_LMTP_DOT_DECODER_H

#include <stdbool.h>
#include <stddef.h>

enum dot_state {
    DOT_LINE_START, /* after CRLF (or at the start of the data) */
    DOT_PERIOD,     /* a period at the start of a line */
    DOT_PERIOD_CR,  /* a period and a CR at the start of a line */
    DOT_TEXT,       /* inside a line */
    DOT_CR,         /* a CR inside a line */
    DOT_END,        /* the final ".<CRLF>" was read */
};

struct dot_decoder {
    enum dot_state state;
};

/* Starts a message (the data begins at the start of a line). */
void dot_decoder_init(struct dot_decoder *d);

/* Decodes in[0..len): the message bytes go to out, which has room for len + 1
 * bytes (a CR held back from the previous call can come out with the first
 * byte of this one); *out_len gets their number.
 * Returns how many input bytes were consumed: all of them, or fewer when
 * the end of the data was reached (dot_decoder_done() is then true and the
 * rest is the next command). */
size_t dot_decoder_feed(struct dot_decoder *d, const char *in, size_t len, char *out,
                        size_t *out_len);

bool dot_decoder_done(const struct dot_decoder *d);

#endif
