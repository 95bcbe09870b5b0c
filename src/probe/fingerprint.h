/* Product fingerprints of IMAP/POP3 servers from what they say before login:
 * greeting wording, capability set and order, the text of the tagged OK to
 * CAPABILITY, the IMAP ID answer, and the answers to a bogus command, an empty
 * line and "GET / HTTP/1.0". A built-in signature table; each match carries a
 * confidence (0-100) and the signals that matched. */
#ifndef GANNET_PROBE_FINGERPRINT_H
#define GANNET_PROBE_FINGERPRINT_H

#include "lib/buf.h"
#include "probe/parse.h"

#include <stdbool.h>
#include <stddef.h>

struct probe_signals {
    bool pop3;
    const char *greeting;             /* the first line, without CRLF */
    const struct probe_strlist *caps; /* IMAP capabilities or POP3 CAPA lines, may be NULL */
    const char *caps_ok_text;         /* text of the tagged OK to CAPABILITY */
    const char *id_name, *id_version; /* IMAP ID "name" and "version" */
    const char *bogus, *empty, *http; /* answers, may be NULL */
};

struct probe_match {
    const char *product;
    unsigned confidence;
    char version[64];   /* "" when not visible */
    struct buf signals; /* "greeting:Dovecot ready.; id.name:Dovecot" */
};

/* Fills up to max matches, best first; returns their number. Free each with
 * probe_match_free. */
size_t probe_fingerprint(const struct probe_signals *s, struct probe_match *out, size_t max);
void probe_match_free(struct probe_match *m);

#endif
