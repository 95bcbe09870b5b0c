/* Base64 (RFC 4648 §4), as SASL (RFC 4422) and the password schemes use it. */
#ifndef GANNET_LIB_BASE64_H
#define GANNET_LIB_BASE64_H

#include "lib/buf.h"

#include <stdbool.h>

void base64_encode(const void *data, size_t len, struct buf *out);
/* Strict decoding: padding required, no whitespace, no characters outside the
 * alphabet. Appends to out; returns false (out unchanged) on malformed input. */
bool base64_decode(const char *in, size_t len, struct buf *out);

/* The 6-bit value of a character of the base64 alphabet, or -1: for the
 * decoders with other rules (RFC 2047's lenient B encoding, modified UTF-7). */
int base64_char_value(char c);

#endif
