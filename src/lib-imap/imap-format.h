/* The fixed forms of IMAP responses that are not strings (strings go through
 * imap-quote.h): flag lists and INTERNALDATE (RFC 9051 §7.5.2). */
#ifndef GANNET_LIB_IMAP_IMAP_FORMAT_H
#define GANNET_LIB_IMAP_IMAP_FORMAT_H

#include "lib/buf.h"

#include <stddef.h>
#include <time.h>

/* "(\Seen \Answered keyword ...)"; system is a set of enum imap_flag bits. */
void imap_write_flags(struct buf *out, unsigned system, const char *const *keywords, size_t n);
/* "\Seen" etc. for one bit, NULL for none or several. */
const char *imap_flag_name(unsigned bit);
/* The date-time of t in the zone tz_minutes east of UTC, quoted:
 * "17-Jul-1996 02:44:25 -0700". */
void imap_write_datetime(struct buf *out, time_t t, int tz_minutes);

#endif
