/* RFC 5322 header fields (§2.2) and the lexical tokens that the structured
 * fields share (§3.2: CFWS, atoms, quoted strings; RFC 2045 §5.1 tokens). */
#ifndef GANNET_MAIL_HEADER_H
#define GANNET_MAIL_HEADER_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* One field is kept up to this many bytes; the rest is dropped (bounded memory
 * for hostile headers, as the Dovecot header parser's limits do). */
#define HEADER_FIELD_MAX (64 * 1024)

/* Splits a raw field ("Name: value" with its folding, CRLF or bare LF) into
 * the name (trailing WSP removed) and the value (leading WSP skipped, folding
 * kept). False when the line has no colon. */
bool header_split(const char *raw, size_t len, const char **name, size_t *name_len,
                  const char **value, size_t *value_len);
/* Unfolds a value (§2.2.3): CR and LF removed, the WSP that followed them
 * kept. Returns an allocated NUL-terminated string; NULs become 0x80 so that C
 * strings stay whole. */
char *header_unfold(const char *value, size_t len);

/* A cursor over an unfolded structured value. */
struct rfc822_lexer {
    const char *p, *end;
    struct buf *last_comment; /* when set, receives the text of each comment */
};
void rfc822_lexer_init(struct rfc822_lexer *lx, const char *s, size_t len);
/* Skips whitespace and (nested, bounded) comments; false at the end. */
bool rfc822_skip_cfws(struct rfc822_lexer *lx);
/* RFC 2045 token: any CHAR but SPACE, CTLs and tspecials (8-bit allowed, as
 * real mail has it). Appends to out; returns its length; skips CFWS after. */
size_t rfc822_mime_token(struct rfc822_lexer *lx, struct buf *out);
/* RFC 5322 atom (atext, 8-bit allowed); skips CFWS after. */
size_t rfc822_atom(struct rfc822_lexer *lx, struct buf *out);
/* Quoted string at *p == '"': appends its unescaped content; false when the
 * closing quote is missing (what was read is appended). Skips CFWS after. */
bool rfc822_quoted_string(struct rfc822_lexer *lx, struct buf *out);
/* phrase = 1*word / obs-phrase (words and dots); words joined by one space.
 * Returns false when no word was read. */
bool rfc822_phrase(struct rfc822_lexer *lx, struct buf *out);
bool rfc822_is_atext(unsigned char c);

#endif
