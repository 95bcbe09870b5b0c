/* Numbers as protocols and files write them: decimal ASCII digits only (no
 * sign, no blanks, no "0x"), an overflow being an error, never a wrap or a
 * silent truncation as with strtoul() and atoi(); and hex digits. */
#ifndef GANNET_LIB_NUMBER_H
#define GANNET_LIB_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On failure, these leave *out as it was. */

/* The whole string s is one number that fits. */
bool str_to_uint32(const char *s, uint32_t *out);
bool str_to_uint64(const char *s, uint64_t *out);

/* The number at the start of s: at least one digit, and it fits; *end points
 * after the digits (what follows is the caller's to check). */
bool str_parse_uint32(const char *s, uint32_t *out, const char **end);
bool str_parse_uint64(const char *s, uint64_t *out, const char **end);

/* The same for s[0..len), which need not be NUL-terminated: the whole of it,
 * or the digits at its start (their count is returned; 0 when there are none
 * or the number does not fit). */
bool mem_to_uint64(const char *s, size_t len, uint64_t *out);
size_t mem_parse_uint64(const char *s, size_t len, uint64_t *out);

/* The value of a hex digit (0-9, a-f, A-F), or -1. */
int hex_digit_value(char c);

#endif
