/* The pieces of SMTP's command grammar (RFC 5321 §4.1.2) that LMTP shares
 * (RFC 2033 §4.1): the paths of MAIL FROM and RCPT TO with their ESMTP
 * parameters, and the domain of LHLO. With SMTPUTF8 (RFC 6531 §3.3) local
 * parts and domains may hold UTF-8, which must be well formed. Everything
 * is bounded by the command line it comes from. */
#ifndef GANNET_LMTP_SMTP_SYNTAX_H
#define GANNET_LMTP_SMTP_SYNTAX_H

#include "lib/buf.h"

#include <stdbool.h>

/* RFC 5321 §4.5.3.1.2: a domain of at most 255 octets. §4.5.3.1.1 says 64
 * for a local part but asks servers to accept longer ones where they can:
 * the addresses of VERP and SRS often are. */
#define SMTP_LOCAL_PART_MAX 255
#define SMTP_DOMAIN_MAX 255

/* A path's mailbox; owner: whoever parsed it (smtp_path_free). */
struct smtp_path {
    struct buf mailbox; /* as written, "local@domain" ("" for the null path <>),
                           for Return-Path: and Delivered-To: */
    struct buf local;   /* the local part with the quoting of a
                           Quoted-string removed: what names the user */
    struct buf domain;  /* "" for <postmaster> (RFC 5321 §4.1.1.3) */
};

void smtp_path_free(struct smtp_path *p);

/* Parses `<[A-d-l:]Mailbox>` (the source route is accepted and ignored, RFC
 * 5321 §4.1.2 and appendix C) at *sp and moves *sp past it. null_ok accepts
 * "<>" (MAIL FROM); postmaster_ok accepts "<postmaster>" without a domain
 * (RCPT TO, any case); utf8 allows UTF-8 (the SMTPUTF8 parameter was given).
 * false with a short reason in *why. */
bool smtp_parse_path(const char **sp, bool null_ok, bool postmaster_ok, bool utf8,
                     struct smtp_path *out, const char **why);

/* The next ` KEYWORD[=VALUE]` at *sp (RFC 5321 §4.1.2 esmtp-param): 1 with
 * the keyword upper-cased and the value (empty when none), 0 at the end of
 * the line, -1 for a malformed parameter. */
int smtp_next_param(const char **sp, struct buf *keyword, struct buf *value);

/* LHLO's argument (RFC 5321 §4.1.1.1: a Domain or an address-literal; the
 * underscores of real host names are let through). */
bool smtp_valid_helo(const char *s);

#endif
