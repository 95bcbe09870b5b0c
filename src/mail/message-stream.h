/* Reading a byte range of a message file the way a FETCH sends it (RFC 9051
 * §6.4.5, §7.5.2): line ends made CRLF, a header reduced to some fields
 * (HEADER.FIELDS, HEADER.FIELDS.NOT), a body's Content-Transfer-Encoding
 * undone (BINARY, RFC 3516), NULs replaced. Streaming: the file is read a
 * chunk at a time and the stream keeps only a chunk's worth of output, so a
 * 50 MB body costs the same memory as a small one, and the reading can stop
 * anywhere and go on later (a FETCH writes its output in slices). */
#ifndef GANNET_MAIL_MESSAGE_STREAM_H
#define GANNET_MAIL_MESSAGE_STREAM_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mail_decode {
    MAIL_DECODE_NONE,
    MAIL_DECODE_BASE64,           /* RFC 2045 §6.8 */
    MAIL_DECODE_QUOTED_PRINTABLE, /* RFC 2045 §6.7 */
};

/* Which header fields a header range keeps. */
enum mail_header_filter {
    MAIL_HEADER_ALL,
    MAIL_HEADER_ONLY,   /* HEADER.FIELDS: the named fields */
    MAIL_HEADER_EXCEPT, /* HEADER.FIELDS.NOT: all but the named fields */
    /* all fields but Content-Transfer-Encoding, and "Content-Transfer-
     * Encoding: binary" at the end: the header of a whole message whose body
     * is decoded (BINARY[], as Dovecot sends it) */
    MAIL_HEADER_CTE_BINARY,
};

struct mail_stream_opts {
    /* A bare LF becomes CRLF, before anything else (IMAP sends CRLF; a
     * quoted-printable hard line break is then CRLF too, RFC 2045 §6.7). */
    bool crlf;
    /* NUL becomes 0x80, last: an IMAP string cannot hold NUL (RFC 9051 §4.3;
     * Dovecot does the same). */
    bool nul_to_0x80;
    enum mail_decode decode;
    /* The range is a header: the fields kept, matched by name without regard
     * to ASCII case (RFC 9051 §6.4.5.1). The blank line that ends the header
     * is always kept. */
    enum mail_header_filter filter;
    const char *const *fields;
    size_t n_fields;
    /* When not 0: the range holds a header and then, from this offset of the
     * file, a body; the filter applies to the header, the decoding to the
     * body. When 0, the filter (if any) applies to the whole range, else the
     * decoding does. */
    uint64_t body_start;
};

struct mail_stream;

/* Reads fd over [start, end); fd stays the caller's and must stay open while
 * the stream is used. The options, field names included, are copied. */
struct mail_stream *mail_stream_new(int fd, uint64_t start, uint64_t end,
                                    const struct mail_stream_opts *opts);
void mail_stream_free(struct mail_stream *s);
/* Appends at most max bytes of output to out. Returns the number appended, 0
 * at the end of the output, or a negative errno when reading fails. */
int64_t mail_stream_read(struct mail_stream *s, struct buf *out, size_t max);
/* Skips n bytes of output (a partial FETCH's origin): a seek when the output
 * is the stored bytes one for one, else they are read and dropped. Returns 0,
 * or a negative errno. Skipping past the end leaves the stream at its end. */
int mail_stream_skip(struct mail_stream *s, uint64_t n);
/* The stored bytes are the output one for one (no line end conversion, no
 * filter, no decoding; a NUL replacement keeps the length): the range can be
 * sent straight from the file when it holds no NUL. */
bool mail_stream_is_plain(const struct mail_stream *s);
/* The next byte of the file the stream would read. */
uint64_t mail_stream_offset(const struct mail_stream *s);

/* The whole output's size, and whether bytes [window_start, window_end) of it
 * hold a NUL (for BINARY's choice between a string and a literal8). */
int mail_stream_measure(int fd, uint64_t start, uint64_t end, const struct mail_stream_opts *opts,
                        uint64_t window_start, uint64_t window_end, uint64_t *size,
                        bool *window_has_nul);
/* Whether the file's bytes [start, end) hold a NUL; negative errno on a read
 * error. */
int mail_range_has_nul(int fd, uint64_t start, uint64_t end);

#endif
