/* Message parsing for the store: one pass over a message's bytes gives
 * everything the index caches (DESIGN.md "Storage"): ENVELOPE, BODY and
 * BODYSTRUCTURE as RFC 9051 §7.5.2 defines them, the sent date, sizes, the raw
 * header block, and decoded text for SEARCH (RFC 9051 §6.4.4).
 *
 * The parser is streaming: it is fed whatever chunks arrive and keeps bounded
 * state (the current header, the MIME stack, the capped texts), never a copy
 * of the message, so a 100 MB message costs the same memory as a 10 kB one. */
#ifndef GANNET_MAIL_MESSAGE_H
#define GANNET_MAIL_MESSAGE_H

#include <stddef.h>
#include <time.h>

/* Owned by the caller of mail_parser_finish()/mail_parse_fd(); every string
 * is NUL-terminated and allocated, freed by mail_summary_free(). */
struct mail_summary {
    char *envelope; /* RFC 9051 ENVELOPE, "(date subject from sender reply-to to cc bcc in-reply-to
                       message-id)" */
    char *body;     /* non-extensible BODY form, "(...)" as in a FETCH response */
    char *bodystructure;  /* extensible BODYSTRUCTURE form, "(...)" */
    time_t sent_date;     /* from Date:, 0 when missing or unparsable (SEARCH
                             SENTBEFORE/SENTON/SENTSINCE) */
    size_t header_size;   /* bytes of the top-level header including the blank line */
    size_t size;          /* total bytes */
    char *header_fields;  /* the top-level header block as it appears in the message, unfolded lines
                             kept raw: for a cache of HEADER.FIELDS; bounded (first 64 KiB) */
    char *search_headers; /* decoded (RFC 2047) header text of every part, UTF-8, for SEARCH
                             HEADER/FROM/TO/SUBJECT... */
    char *search_body;    /* body text for SEARCH BODY/TEXT: transfer encodings decoded, charsets
                             converted to UTF-8, HTML reduced to text, attachments other than text
                             skipped; capped at 512 KiB */
};

struct mail_parser; /* streaming: bounded memory whatever the message size */

struct mail_parser *mail_parser_new(void);
void mail_parser_feed(struct mail_parser *p, const void *data, size_t len);
/* Ends the message and fills *out (caller frees with mail_summary_free).
 * Never fails on a malformed message: it describes what is there, as Dovecot
 * does. */
void mail_parser_finish(struct mail_parser *p, struct mail_summary *out);
void mail_parser_free(struct mail_parser *p);
/* Reads the whole fd in chunks; 0, or -errno on a read error. */
int mail_parse_fd(int fd, struct mail_summary *out);
void mail_summary_free(struct mail_summary *s);

/* RFC 5322 §3.3 date-time (obsolete forms of §4.3 too) as a time_t; 0 when
 * missing or unreadable. For SEARCH SENTBEFORE/SENTON/SENTSINCE. */
time_t mail_parse_date(const char *value);
/* The same, and the zone the date was written in, in seconds east of UTC
 * (0 when it is 0 or unknown): SEARCH SENTON and its kin compare the date as
 * its writer's clock read it (RFC 9051 §6.4.4). */
time_t mail_parse_date_zone(const char *value, int *zone_seconds);

#endif
