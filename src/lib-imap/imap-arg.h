/* Typed readers of the parser's arguments (RFC 9051 §9): each checks the
 * argument's form and gives its value, or returns false so that the command
 * answers BAD. They never allocate except from the arena they are given. */
#ifndef GANNET_LIB_IMAP_IMAP_ARG_H
#define GANNET_LIB_IMAP_IMAP_ARG_H

#include "lib-imap/imap-parser.h"
#include "lib/arena.h"
#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* System flags (RFC 9051 §2.3.2) as bits; the store's enum store_flag uses the
 * same values. */
enum imap_flag {
    IMAP_FLAG_SEEN = 1u << 0,
    IMAP_FLAG_ANSWERED = 1u << 1,
    IMAP_FLAG_FLAGGED = 1u << 2,
    IMAP_FLAG_DELETED = 1u << 3,
    IMAP_FLAG_DRAFT = 1u << 4,
    IMAP_FLAG_RECENT = 1u << 5,
};

/* A flag list as a client sent it: system flags and keywords (in the arena). */
struct imap_flags {
    unsigned system;
    const char **keywords;
    size_t n_keywords;
};

/* An atom or string equal to keyword, ignoring case. */
bool imap_arg_is(const struct imap_arg *arg, const char *keyword);
bool imap_arg_get_atom(const struct imap_arg *arg, const char **out);
/* A quoted string or a literal. */
bool imap_arg_get_string(const struct imap_arg *arg, const char **out, size_t *len);
/* An astring: atom or string; the atom NIL is the string "NIL" here. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **out, size_t *len);
/* An nstring: a string, or NIL as *out = NULL. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **out, size_t *len);
bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list, size_t *n);
/* mailbox (RFC 9051 §9): an astring holding the name in modified UTF-7 (RFC
 * 3501 §5.1.3), or in UTF-8 itself once the client has enabled UTF8=ACCEPT
 * (utf8; RFC 9051 §6.3.1, RFC 6855 §3). Appends the UTF-8 name to out; false,
 * and out as it was, when the name is not valid in that form. Nothing else is
 * normalised: INBOX's case and the hierarchy are the store's concern. */
bool imap_arg_get_mailbox(const struct imap_arg *arg, bool utf8, struct buf *out);
/* number (RFC 9051 §9: 1*DIGIT, at most 2^32-1) and nz-number (no 0). */
bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *out);
bool imap_arg_get_nz_number(const struct imap_arg *arg, uint32_t *out);
/* number64 (RFC 9051 §9, mod-sequence values: up to 2^63-1). */
bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *out);
/* date-time, quoted: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded). */
bool imap_arg_get_datetime(const struct imap_arg *arg, time_t *out, int *tz_minutes);
/* date, as SEARCH takes it: d-Mon-yyyy, quoted or not; midnight UTC of that day. */
bool imap_arg_get_date(const struct imap_arg *arg, time_t *out);
/* flag-list "(" [flag *(SP flag)] ")": \Recent and unknown \System flags are
 * refused (RFC 9051 §2.3.2); keywords must be atoms. */
bool imap_arg_get_flag_list(const struct imap_arg *arg, struct arena *a, struct imap_flags *out);
/* One flag into out (system bit or a new keyword); false if it is not one. */
bool imap_flags_add(struct imap_flags *out, struct arena *a, const struct imap_arg *flag);

#endif
