/* RFC 5322 §3.4 address lists: mailboxes, groups, quoted local parts,
 * comments, and the obsolete routes of §4.4. */
#ifndef GANNET_MAIL_ADDRESS_H
#define GANNET_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many addresses are kept per field. */
#define ADDRESS_LIST_MAX 1000

/* One ENVELOPE address (RFC 9051 §7.5.2). A group start has mailbox = the
 * group name and domain = NULL; a group end has all four NULL. */
struct mail_address {
    char *name, *route, *mailbox, *domain;
    bool invalid; /* something had to be made up (MISSING_MAILBOX, ...) */
};

struct mail_address_list {
    struct mail_address *items;
    size_t count;
};

/* Parses an unfolded field value. Never fails: what cannot be parsed ends
 * the list, missing parts are filled in as Dovecot does ("MISSING_MAILBOX",
 * "MISSING_DOMAIN") so that clients always get four fields. */
void address_list_parse(const char *value, size_t len, struct mail_address_list *out);
void address_list_free(struct mail_address_list *list);

#endif
