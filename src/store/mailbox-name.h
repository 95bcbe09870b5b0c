/* Mailbox names: validation, INBOX normalisation, the IMAP wire form (UTF-8 or
 * modified UTF-7, RFC 3501 §5.1.3 / RFC 9051 §5.1) and the Maildir++ directory
 * form. The directory form is built so that no name a client can send maps to
 * a path outside the user's Maildir: one path component, starting with '.',
 * containing no '/', and never "." or "..". */
#ifndef GANNET_STORE_MAILBOX_NAME_H
#define GANNET_STORE_MAILBOX_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define MAILBOX_NAME_MAX 255 /* bytes of UTF-8 */
#define MAILBOX_LEVELS_MAX 16
#define MAILBOX_SEPARATOR '/'

/* Validates a UTF-8 name with '/' separators and appends its normal form to
 * out (a first level "inbox" in any case becomes "INBOX"). for_create also
 * rejects the LIST wildcards '%' and '*'. Returns 0 or -EINVAL with a reason
 * in err (may be NULL). */
int mailbox_name_normalize(const char *name, size_t len, bool for_create, struct buf *out,
                           struct buf *err);

/* True if normalised name is INBOX. */
bool mailbox_name_is_inbox(const char *name);

/* A name as a client sent it: modified UTF-7 unless utf8 (RFC 9051 §6.3.1
 * UTF8=ACCEPT), then normalised as above. */
int mailbox_name_from_imap(const char *wire, size_t len, bool utf8, bool for_create,
                           struct buf *out, struct buf *err);
/* The wire form of a normalised name: mUTF-7 unless utf8. */
void mailbox_name_to_imap(const char *name, bool utf8, struct buf *out);

/* The Maildir++ directory of a normalised name, relative to the Maildir root:
 * "" for INBOX, ".Work.2026" for "Work/2026"; levels are modified UTF-7 with
 * '.' itself base64-encoded. -ENAMETOOLONG if over NAME_MAX. */
int mailbox_name_to_dir(const char *name, struct buf *out);
/* The reverse, for a directory entry of the root: -EINVAL if it is not a
 * mailbox directory name this module would produce or accept. */
int mailbox_name_from_dir(const char *dirname, struct buf *out);

/* True if child is a descendant of parent ("a/b" of "a"). */
bool mailbox_name_is_child(const char *parent, const char *child);

#endif
