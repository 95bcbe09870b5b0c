/* RFC 2047 encoded words ("=?charset?Q|B?text?=") and charset conversion to
 * UTF-8 with glibc's iconv. */
#ifndef GANNET_MAIL_RFC2047_H
#define GANNET_MAIL_RFC2047_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Converts len bytes in charset to UTF-8, appended to out. Unknown charsets
 * and invalid sequences never fail: bytes that cannot be converted become
 * U+FFFD. Returns false when the charset is unknown (the bytes were then
 * copied, with 8-bit ones replaced). */
bool charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);

/* Decodes every encoded word of an unfolded header value into out (UTF-8).
 * Whitespace between two adjacent encoded words is dropped (§6.2); a word
 * that is not well formed, or whose charset is unknown, is copied as is. */
void rfc2047_decode(const char *in, size_t len, struct buf *out);

#endif
