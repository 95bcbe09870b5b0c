/* RFC 5322 §3.4 address lists: mailboxes, groups, quoted local parts,
 * comments, and the obsolete routes of §4.4. */
#ifndef GANNET_MAIL_ADDRESS_H
#define GANNET_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many addresses are kept per field, and at most this many bytes
 * of field values are read into one list: the fields of one name that a
 * header repeats count together, so that their addresses stay as bounded as
 * those of one field. */
#define ADDRESS_LIST_MAX 1000
#define ADDRESS_LIST_TEXT_MAX (64 * 1024)

/* One ENVELOPE address (RFC 9051 §7.5.2). A group start has mailbox = the
 * group name and domain = NULL; a group end has all four NULL. */
struct mail_address {
    char *name, *route, *mailbox, *domain;
    bool invalid; /* something had to be made up (MISSING_MAILBOX, ...) */
};

struct mail_address_list {
    struct mail_address *items;
    size_t count;
    size_t text_len; /* bytes of field values parsed into the list */
};

/* Parses an unfolded field value. Never fails: what cannot be parsed ends
 * the list, missing parts are filled in as Dovecot does ("MISSING_MAILBOX",
 * "MISSING_DOMAIN") so that clients always get four fields. */
void address_list_parse(const char *value, size_t len, struct mail_address_list *out);
/* Parses one more field of the same name and adds its addresses after those
 * in list (a list that is all zeros is empty), as Dovecot merges a repeated
 * To, Cc, From...: each field is parsed on its own, so a broken one does not
 * swallow the next. Past ADDRESS_LIST_TEXT_MAX bytes the value is cut. */
void address_list_append(struct mail_address_list *list, const char *value, size_t len);
void address_list_free(struct mail_address_list *list);

#endif
