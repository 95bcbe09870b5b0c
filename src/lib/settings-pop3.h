/* The checks of POP3's settings (settings.c's table names them): the UIDL
 * template and the EXPIRE value. */
#ifndef GANNET_LIB_SETTINGS_POP3_H
#define GANNET_LIB_SETTINGS_POP3_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stdint.h>

/* pop3_uidl_format: a template of lib/var-expand.h with %u (the UID) and %v
 * (the UIDVALIDITY) whose expansions are RFC 1939 §7 unique-ids (1 to 70
 * characters 0x21-0x7E) that differ per UID. */
bool settings_check_uidl_format(const char *value, struct buf *out, struct buf *why);
/* The UIDL of a message: the template (checked) expanded. */
void settings_uidl(const char *format, uint32_t uid, uint32_t uidvalidity, struct buf *out);
/* pop3_expire: "never" or a number of days (RFC 2449 §6.7). */
bool settings_check_expire(const char *value, struct buf *out, struct buf *why);

#endif
