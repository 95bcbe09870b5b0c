/* LMTP sessions (RFC 2033): the delivery end of a mail system, spoken by
 * the MTA (Postfix's lmtp, Exim, OpenSMTPD) on a unix socket or a loopback
 * port, with PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, codes of
 * RFC 3463), 8BITMIME (RFC 6152), SIZE (RFC 1870), CHUNKING (RFC 3030) and
 * SMTPUTF8 (RFC 6531). */
#ifndef GANNET_LMTP_SESSION_H
#define GANNET_LMTP_SESSION_H

#include "net/conn.h"

extern const struct protocol lmtp_protocol;

#endif
