/* ENVELOPE (RFC 9051 §7.5.2) from a part's header fields. */
#ifndef GANNET_MAIL_IMAP_ENVELOPE_H
#define GANNET_MAIL_IMAP_ENVELOPE_H

#include "lib/buf.h"
#include "mail/mime.h"

/* Appends the ten envelope fields, without the outer parentheses. */
void imap_envelope_write(struct buf *out, const struct mime_part *part);
/* Appends an address list ("((name adl mailbox host)...)" or NIL). */
void imap_address_list_write(struct buf *out, const char *value);
/* Text for people (subjects, display names): line ends dropped, runs of
 * whitespace made one space, trimmed; as Dovecot presents them. */
void imap_humanize(struct buf *out, const char *s);

#endif
