/* Pure parsing helpers of `gannet probe`: escaping of protocol bytes, IMAP and
 * POP3 capability lists, the IMAP ID answer, the POP3 APOP timestamp and the
 * NTLM challenge. No I/O: each is unit-tested on recorded bytes. IMAP
 * responses are read with lib-imap's parser, the server's own. */
#ifndef GANNET_PROBE_PARSE_H
#define GANNET_PROBE_PARSE_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A list of owned strings. */
struct probe_strlist {
    char **v;
    size_t n;
};

void probe_strlist_add(struct probe_strlist *l, const char *s, size_t len);
void probe_strlist_free(struct probe_strlist *l);
void probe_strlist_copy(struct probe_strlist *dst, const struct probe_strlist *src);
/* Case-insensitive: capabilities are atoms (RFC 9051 §9). */
bool probe_strlist_has(const struct probe_strlist *l, const char *s);
/* Joined with sep into out. */
void probe_strlist_join(const struct probe_strlist *l, const char *sep, struct buf *out);

/* Printable ASCII as is, "\r", "\n", "\t", "\\" escaped, other bytes as \xHH. */
void probe_escape(struct buf *out, const void *data, size_t len);

/* Capabilities from an IMAP response (all its lines): the untagged
 * "* CAPABILITY ..." data, or a "[CAPABILITY ...]" response code in an untagged
 * or tagged status line (RFC 9051 §7.2.2, §7.1). Only the capability atoms go
 * into caps, never the human-readable text after them (nmap's
 * imap-capabilities merges "Pre-login capabilities listed, ..." into its
 * list). When tag is not NULL, the text of the tagged response (after "OK ",
 * and after any response code) goes into tagged_text. Returns true when a
 * capability list was found (caps is replaced by it). */
bool probe_imap_parse_caps(const char *resp, size_t len, const char *tag,
                           struct probe_strlist *caps, struct buf *tagged_text);

/* Whether an IMAP response (all its lines) has the tagged status response
 * "TAG STATUS ..." (status compared without case). */
bool probe_imap_has_status(const char *resp, size_t len, const char *tag, const char *status);

/* POP3 CAPA (RFC 2449 §5): the lines between "+OK" and ".", each kept whole
 * ("SASL PLAIN LOGIN", "IMPLEMENTATION ..."). Returns false for "-ERR". */
bool probe_pop3_parse_capa(const char *resp, size_t len, struct probe_strlist *caps);

/* SASL mechanisms: IMAP "AUTH=X" capabilities, or the POP3 "SASL X Y" line. */
void probe_sasl_mechanisms(const struct probe_strlist *caps, bool pop3,
                           struct probe_strlist *mechs);

/* The IMAP ID answer "* ID ("name" "Dovecot" "version" "2.3.19")" (RFC 2971
 * §3.3): fields and values alternate in out; NIL values become "". */
bool probe_imap_parse_id(const char *resp, size_t len, struct probe_strlist *out);
/* The value of a field in a probe_imap_parse_id list, or NULL. */
const char *probe_id_field(const struct probe_strlist *id, const char *field);

/* The APOP timestamp "<pid.clock@host>" of a POP3 greeting (RFC 1939 §7). */
struct probe_apop {
    char timestamp[256];
    char pid[32]; /* digits before the first ".", "" when none (hex in Dovecot) */
    char host[256];
};
bool probe_apop_parse(const char *greeting, size_t len, struct probe_apop *out);

/* NTLM (MS-NLMP §2.2.1.1): a NEGOTIATE message asking for the target name
 * and version. */
void probe_ntlm_negotiate(struct buf *out);

/* What a CHALLENGE message (MS-NLMP §2.2.1.2) gives away. */
struct probe_ntlm_challenge {
    uint32_t flags;
    char target_name[256];
    char nb_computer[256];
    char nb_domain[256];
    char dns_computer[256];
    char dns_domain[256];
    char dns_tree[256];
    bool has_version;
    unsigned os_major, os_minor, os_build;
    bool has_timestamp;
    int64_t timestamp; /* Unix seconds */
};
/* Bounds-checked; returns false when the message is not a CHALLENGE. */
bool probe_ntlm_decode_challenge(const unsigned char *msg, size_t len,
                                 struct probe_ntlm_challenge *out);

#endif
