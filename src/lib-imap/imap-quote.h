/* IMAP strings (RFC 9051 §4.3): the one way anything a client or a message
 * supplied goes out in a response, ENVELOPE and BODYSTRUCTURE included. */
#ifndef GANNET_LIB_IMAP_IMAP_QUOTE_H
#define GANNET_LIB_IMAP_IMAP_QUOTE_H

#include "lib/buf.h"

/* Appends s as a quoted string when it can be one, as a literal otherwise
 * (CR, LF, NUL, 8-bit bytes, or over 1024 bytes). */
void imap_quote(struct buf *out, const char *s, size_t len);
/* An astring: the bare atom when s is one (and not "NIL"), else imap_quote. */
void imap_astring(struct buf *out, const char *s, size_t len);
/* imap_quote, or NIL for NULL. */
void imap_nstring(struct buf *out, const char *s);

#endif
