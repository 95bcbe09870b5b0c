/* MIME parameters (RFC 2045 §5.1) with RFC 2231 continuations, charsets and
 * languages. */
#ifndef GANNET_MAIL_RFC2231_H
#define GANNET_MAIL_RFC2231_H

#include "mail/header.h"

#include <stdbool.h>
#include <stddef.h>

/* A bounded number of parameters is kept per field. */
#define MIME_PARAMS_MAX 64

struct mime_param {
    char *name;  /* as written, "name*" when the merged value is extended */
    char *value; /* continuations joined (§3); still %-encoded when extended */
};

/* Parses "; name=value ..." from the lexer into params (at most
 * MIME_PARAMS_MAX). Continuations "name*0", "name*1*" ... are merged into
 * one "name" or "name*" parameter, placed after the plain ones, as Dovecot's
 * BODYSTRUCTURE presents them; a broken parameter is skipped byte by byte.
 * Returns the count. */
size_t rfc2231_parse_params(struct rfc822_lexer *lx, struct mime_param *params);
void mime_params_free(struct mime_param *params, size_t count);
/* Finds a parameter by name (case-insensitive). */
const char *mime_param_get(const struct mime_param *params, size_t count, const char *name);
/* The value of parameter "name" as UTF-8 text: "name*" is decoded (§4:
 * charset'language'%XX, language dropped), else "name" with RFC 2047 words
 * decoded (which real mail uses for file names). False when absent. */
bool rfc2231_value_utf8(const struct mime_param *params, size_t count, const char *name,
                        struct buf *out);

#endif
