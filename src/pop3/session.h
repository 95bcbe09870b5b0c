/* POP3 sessions (RFC 1939, RFC 2449, RFC 2595, RFC 5034). */
#ifndef GANNET_POP3_SESSION_H
#define GANNET_POP3_SESSION_H

#include "net/conn.h"

extern const struct protocol pop3_protocol;

#endif
