/* Where a body section (RFC 9051 §6.4.5.1) lies in a message file: the byte
 * ranges of a part's header and body as stored, and their sizes with every
 * line end counted as CRLF, as IMAP sends them. For FETCH BODY[1.2.MIME],
 * BODY[3.TEXT], BINARY[2] and the like, which read those bytes back from the
 * file. */
#ifndef GANNET_MAIL_MESSAGE_PART_H
#define GANNET_MAIL_MESSAGE_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes [start, end) of the file; vsize is their size with CRLF line ends. */
struct mail_range {
    uint64_t start, end;
    uint64_t vsize;
};

/* Longest Content-Transfer-Encoding kept (longer ones are unknown anyway). */
#define MAIL_ENCODING_MAX 32

struct mail_part_info {
    unsigned flags;           /* enum mime_part_flags of the part */
    struct mail_range header; /* its header, blank line included (the MIME section) */
    struct mail_range body;   /* its body (BODY[n]) */
    /* A message/rfc822 part: the encapsulated message's header and body
     * (n.HEADER, n.TEXT). */
    bool has_message;
    struct mail_range message_header, message_body;
    /* Content-Transfer-Encoding in lower case, "" when the part has none
     * (7bit, RFC 2045 §6.1); the whole value when it is too long to keep,
     * truncated, which no known encoding matches. */
    char encoding[MAIL_ENCODING_MAX];
};

/* Reads the message in fd from its start as far as needed and describes the
 * part that path names (depth 0: the message itself; numbers as in
 * mime_part_find). header_only: only the header ranges are wanted, and of
 * the body only its start (the parse stops there; body.end and body.vsize
 * are then 0). Returns 1 when found, 0 when there is no such part, a
 * negative errno when reading fails. Memory is the parser's: bounded
 * whatever the message size. */
int mail_part_locate(int fd, const uint32_t *path, size_t depth, bool header_only,
                     struct mail_part_info *out);

#endif
