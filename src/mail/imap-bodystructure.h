/* BODY and BODYSTRUCTURE (RFC 9051 §7.5.2) from the MIME tree. */
#ifndef GANNET_MAIL_IMAP_BODYSTRUCTURE_H
#define GANNET_MAIL_IMAP_BODYSTRUCTURE_H

#include "lib/buf.h"
#include "mail/mime.h"

#include <stdbool.h>

/* Appends the part's body structure without the outer parentheses;
 * extended = BODYSTRUCTURE, else BODY. */
void imap_bodystructure_write(struct buf *out, const struct mime_part *part, bool extended);

#endif
