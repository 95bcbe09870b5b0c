/* Modified UTF-7 (RFC 3501 §5.1.3), the IMAP4rev1 mailbox name encoding, and
 * the encoding of Maildir++ folder names on disk (as Dovecot writes them). */
#ifndef GANNET_LIB_IMAP_MUTF7_H
#define GANNET_LIB_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Appends the modified UTF-7 form of the UTF-8 string in[0..len). Every byte
 * in also_encode (may be NULL) is base64-encoded too even though printable
 * (the Maildir++ layer uses this for '.'). Returns 0, or -EINVAL if in is not
 * valid UTF-8 (out is then unspecified). */
int mutf7_encode(const char *in, size_t len, const char *also_encode, struct buf *out);

/* Appends the UTF-8 form of the modified UTF-7 string in[0..len). Strict as
 * RFC 3501 requires: printable ASCII must represent itself (unless allow_ascii),
 * the base64 must be canonical (zero pad bits, no empty "&-" except for "&"),
 * UTF-16 surrogates must pair, no 8-bit or control bytes. Returns 0 or -EINVAL. */
int mutf7_decode(const char *in, size_t len, bool allow_ascii, struct buf *out);

/* True if s looks like it needs no decoding, i.e. contains no '&' and only
 * printable ASCII. */
bool mutf7_is_plain_ascii(const char *s, size_t len);

#endif
