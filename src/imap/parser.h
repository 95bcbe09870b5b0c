/* The IMAP command parser (RFC 9051 §2.2, §9 "Formal Syntax"). Resumable: it is
 * fed whatever bytes arrived and keeps its state, literals included, between
 * calls. Bounded: line length outside literals, literal size, argument count
 * and list depth all have limits, and exceeding one is an answer, not a crash. */
#ifndef GANNET_IMAP_PARSER_H
#define GANNET_IMAP_PARSER_H

#include "lib/buf.h"
#include "lib/imap-quote.h"

#include <stdbool.h>
#include <stddef.h>

enum imap_arg_type {
    IMAP_ARG_ATOM,   /* also numbers, sequence sets, BODY[...] items */
    IMAP_ARG_STRING, /* quoted or literal */
    IMAP_ARG_NIL,
    IMAP_ARG_LIST,
};

struct imap_arg {
    enum imap_arg_type type;
    const char *str; /* NUL-terminated; strings may also contain NULs (literal8 aside, rare) */
    size_t len;
    bool literal;
    struct imap_arg *list; /* IMAP_ARG_LIST */
    size_t list_len;
};

struct imap_command {
    const char *tag;
    const char *name; /* as sent; compare case-insensitively */
    struct imap_arg *args;
    size_t n_args;
};

enum imap_parse_result {
    IMAP_PARSE_NEED_MORE,    /* everything fed was taken; no command yet */
    IMAP_PARSE_CONTINUATION, /* a synchronizing literal: send "+ ..." then feed on */
    IMAP_PARSE_COMMAND,      /* imap_parser_command() is ready; reset after handling */
    IMAP_PARSE_BAD,          /* answer BAD imap_parser_error(); the parser went on past it */
    IMAP_PARSE_FATAL,        /* answer BYE and close (an oversized non-synchronizing literal) */
};

struct imap_parser_limits {
    size_t max_line;    /* bytes of command text outside literals */
    size_t max_literal; /* bytes of one literal */
    size_t max_args;    /* arguments, counting those inside lists */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser *p);
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);

/* Takes up to len bytes; *consumed tells how many were used. Call again with
 * the rest after handling a result other than NEED_MORE. */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed);

/* After IMAP_PARSE_COMMAND; valid until imap_parser_reset(). */
const struct imap_command *imap_parser_command(const struct imap_parser *p);
/* After IMAP_PARSE_BAD/FATAL: the reason, and the tag when one was readable (else NULL). */
const char *imap_parser_error(const struct imap_parser *p);
const char *imap_parser_tag(const struct imap_parser *p);
/* Forgets the current command; the next one starts fresh. */
void imap_parser_reset(struct imap_parser *p);

/* Case-insensitive compare of an atom or string argument with a keyword. */
bool imap_arg_is(const struct imap_arg *arg, const char *keyword);
/* An astring (atom or string) argument's text, or NULL for NIL and lists. */
const char *imap_arg_astring(const struct imap_arg *arg);

#endif
