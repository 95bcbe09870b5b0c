/* The IMAP command parser (RFC 9051 §2.2, §9 "Formal Syntax"). Resumable: it is
 * fed whatever bytes arrived and keeps its state, literals included, between
 * calls; fed one byte at a time it gives the same result as fed whole.
 *
 * Budgeted: one byte budget per command covers the command line and every
 * literal the parser holds, checked as the bytes arrive (before a "+" is sent
 * for a literal), so one command never holds more than about twice its budget
 * (the text and the arguments made from it). The budget is a few KiB before
 * login, as Dovecot's login process allows. A literal that a command reads
 * itself (APPEND's message) is not held and does not count: the parser stops
 * at it and hands its size to the command (IMAP_PARSE_LITERAL_STREAM). */
#ifndef GANNET_LIB_IMAP_IMAP_PARSER_H
#define GANNET_LIB_IMAP_IMAP_PARSER_H

#include "lib/arena.h"

#include <stdbool.h>
#include <stddef.h>

enum imap_arg_type {
    IMAP_ARG_ATOM,         /* also numbers, sequence sets, BODY[...] items */
    IMAP_ARG_STRING,       /* quoted or literal */
    IMAP_ARG_NIL,          /* str is "NIL": an astring may be the atom NIL */
    IMAP_ARG_LIST,         /* list, list_len */
    IMAP_ARG_LITERAL_SIZE, /* a literal the command reads itself: len is its size, str NULL */
};

struct imap_arg {
    enum imap_arg_type type;
    const char *str; /* NUL-terminated; a literal may also contain NULs (literal8) */
    size_t len;
    bool literal;  /* a string sent as a literal */
    bool literal8; /* ~{n} (RFC 3516 BINARY) */
    bool sync;     /* IMAP_ARG_LITERAL_SIZE: the client waits for "+" */
    struct imap_arg *list;
    size_t list_len;
};

struct imap_command {
    const char *tag;
    const char *name; /* as sent; compare case-insensitively */
    struct imap_arg *args;
    size_t n_args;
    /* Server responses only (imap_parser_set_responses): a status response
     * (OK, NO, BAD, PREAUTH, BYE) or a continuation request (tag "+", name "")
     * has resp-text (RFC 9051 §9): the response code's name ("CAPABILITY"),
     * NULL when there is none, with the code's arguments in args, and the
     * human-readable text after it (never NULL then). */
    const char *code;
    const char *text;
};

enum imap_parse_result {
    IMAP_PARSE_NEED_MORE,      /* everything fed was taken; no command yet */
    IMAP_PARSE_CONTINUATION,   /* a synchronizing literal fits: send "+ ..." then feed on */
    IMAP_PARSE_LITERAL_STREAM, /* the command reads the literal itself (see below) */
    IMAP_PARSE_COMMAND,        /* imap_parser_command() is ready; reset after handling */
    IMAP_PARSE_BAD,            /* answer BAD imap_parser_error(); the parser went on past it */
    IMAP_PARSE_FATAL,          /* answer BYE and close (an over-budget non-synchronizing literal) */
};

struct imap_parser_limits {
    size_t max_bytes;    /* the command's budget: line text plus held literals */
    size_t max_args;     /* arguments, counting those inside lists */
    size_t max_literals; /* literals held in one command; 0: no limit but the budget */
    unsigned max_depth;  /* list nesting */
};

/* Asked when a literal is announced: should the command named `name` read it
 * itself? Only top-level literals are offered. */
typedef bool imap_parser_stream_fn(void *ctx, const char *name);

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser *p);
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);
void imap_parser_set_stream(struct imap_parser *p, imap_parser_stream_fn *fn, void *ctx);
/* Reads server responses instead of commands, as a client does (`gannet
 * probe`): one "command" per response, its tag "*" when untagged. Literals
 * come without a continuation (IMAP_PARSE_CONTINUATION is never returned; one
 * over the budget is IMAP_PARSE_FATAL), and the text of a status response is
 * read as text, not as arguments (see struct imap_command). */
void imap_parser_set_responses(struct imap_parser *p, bool responses);

/* Takes up to len bytes; *consumed tells how many were used. Call again with
 * the rest after handling a result other than NEED_MORE. */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed);

/* After IMAP_PARSE_LITERAL_STREAM, imap_parser_command() holds the command so
 * far, its last argument the IMAP_ARG_LITERAL_SIZE. The caller sends "+" when
 * it is synchronizing (or refuses the command instead and resets), reads
 * exactly len bytes itself, then calls this and feeds the parser again: the
 * command line goes on after the literal (more arguments, or its end). */
void imap_parser_literal_done(struct imap_parser *p);

/* After IMAP_PARSE_COMMAND or _LITERAL_STREAM; valid until imap_parser_reset(). */
const struct imap_command *imap_parser_command(const struct imap_parser *p);
/* After IMAP_PARSE_BAD/FATAL: the reason, and the tag when one was readable (else NULL). */
const char *imap_parser_error(const struct imap_parser *p);
const char *imap_parser_tag(const struct imap_parser *p);
/* The memory of the current command: its arguments live here, and a command
 * may allocate from it too; everything goes at imap_parser_reset(). */
struct arena *imap_parser_arena(struct imap_parser *p);
/* Forgets the current command; the next one starts fresh. */
void imap_parser_reset(struct imap_parser *p);

#endif
