/* LIST patterns (RFC 9051 §6.3.9): "*" matches anything, "%" anything but
 * the hierarchy separator; INBOX is matched without regard to case. */
#ifndef GANNET_LIB_IMAP_IMAP_MATCH_H
#define GANNET_LIB_IMAP_IMAP_MATCH_H

#include <stdbool.h>

/* Does name (UTF-8, sep-separated) match pattern (reference already joined)? */
bool imap_list_match(const char *pattern, const char *name, char sep);
/* Could a child of name match (so that LIST "%" can report a parent whose
 * children match, RFC 9051 §6.3.9 "\HasChildren")? */
bool imap_list_match_prefix(const char *pattern, const char *name, char sep);

#endif
