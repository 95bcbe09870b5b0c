/* What SEARCH compares (RFC 9051 §6.4.4): "a message matches the key if the
 * string is a substring of the associated text", case-insensitively, after
 * transfer encodings and RFC 2047 words were decoded. The strings a client
 * sends and the message's text are folded the same way (search_fold) and
 * compared as bytes; header fields are found in the header section as the
 * store caches it, decoded as Dovecot decodes them for SEARCH: unfolded,
 * encoded words decoded, runs of blanks in Subject made one space, address
 * fields in their normalised "Name <user@domain>" form. */
#ifndef GANNET_MAIL_SEARCH_MATCH_H
#define GANNET_MAIL_SEARCH_MATCH_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Appends s[0..len) with every letter lowercased (Unicode's simple case
 * mapping, from glibc's C.UTF-8 locale; ASCII letters only where that locale
 * is missing). Bytes that are not UTF-8 are copied as they are. */
void search_fold(const char *s, size_t len, struct buf *out);

/* True if the folded needle occurs in text (not folded yet); scratch holds
 * the folded text meanwhile. An empty needle occurs everywhere. */
bool search_text_has(const char *text, size_t len, const char *needle, size_t needle_len,
                     struct buf *scratch);

/* How a header field's value is compared (as Dovecot compares them). */
enum search_field_form {
    /* HEADER: the text after the colon, unfolded, encoded words decoded */
    SEARCH_FIELD_TEXT,
    /* SUBJECT: the same with runs of blanks made one space */
    SEARCH_FIELD_SUBJECT,
    /* FROM, TO, CC, BCC: the envelope's addresses (RFC 9051 §6.4.4), written
     * "Name <user@domain>, group: a@b;", encoded words decoded; comments and
     * what the address parser could not read are not part of it */
    SEARCH_FIELD_ADDRESSES,
};

/* True if the header section (raw, as the store caches it: fields with their
 * folding, CRLF or LF) has a field named name (case-insensitively) whose
 * value, in the given form, holds the folded needle; with an empty needle,
 * if it has the field at all (RFC 9051 §6.4.4 HEADER). */
bool search_header_has(const char *headers, size_t len, const char *name,
                       enum search_field_form form, const char *needle, size_t needle_len,
                       struct buf *scratch);

/* The first Date: field of the header section as its writer's clock read it
 * (RFC 9051 §6.4.4 SENTBEFORE/SENTON/SENTSINCE disregard the zone): the time
 * in the field's own zone, given as if it were UTC. False when there is no
 * Date: field or it cannot be read. */
bool search_header_sent_date(const char *headers, size_t len, time_t *out);

#endif
