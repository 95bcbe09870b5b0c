/* UTF-8 as RFC 3629 §4 defines it: no overlong forms, no UTF-16 surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. NUL is a character here; callers
 * whose strings may not hold one check for it themselves. */
#ifndef GANNET_LIB_UTF8_H
#define GANNET_LIB_UTF8_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* U+FFFD, what stands in for bytes that are not UTF-8. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Length (1 to 4) of the well-formed sequence that starts s[0..left), or 0
 * when none does (left == 0 included). */
size_t utf8_seq_len(const char *s, size_t left);

/* The code point of the sequence at s[*pos] (s is len bytes long), advancing
 * *pos past it; -1 (and *pos unchanged) when it is not well-formed. */
int32_t utf8_decode(const char *s, size_t len, size_t *pos);

/* Whether all of s[0..len) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* Writes the UTF-8 form of cp (at most U+10FFFF, not a surrogate) to out and
 * returns its length, 1 to 4. */
size_t utf8_encode(uint32_t cp, char out[4]);
/* The same, appended to a buffer. */
void utf8_append_char(struct buf *out, uint32_t cp);

/* Appends s[0..len), each byte that starts no well-formed sequence replaced
 * by U+FFFD: what comes out is always valid UTF-8. */
void utf8_append_valid(struct buf *out, const char *s, size_t len);

#endif
