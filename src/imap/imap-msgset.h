/* The message set of a command (RFC 9051 §9 sequence-set, and "$" for the
 * saved search result, RFC 9051 §6.4.4.1 / RFC 5182): read on the loop,
 * carried into a store job, and resolved there against the session's view,
 * which only the jobs may read (imap-store.h). */
#ifndef GANNET_IMAP_IMAP_MSGSET_H
#define GANNET_IMAP_IMAP_MSGSET_H

#include "lib-imap/imap-parser.h"
#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_cmd;
struct store_uids;
struct store_uid_range;

/* Owned by the job that carries it (heap), freed with imap_msgset_free. */
struct imap_msgset {
    struct store_uid_range *ranges; /* as sent; "*" is UINT32_MAX */
    size_t count;
    bool uids; /* UIDs (a UID command, or "$"), else sequence numbers */
};

/* Reads arg as cmd's message set: sequence numbers, or UIDs for a UID
 * command; "$" only when the session holds a saved search result. false and
 * *why (our text, for BAD) when it is not one. */
bool imap_msgset_get(struct imap_cmd *cmd, const struct imap_arg *arg, struct imap_msgset *out,
                     const char **why);
void imap_msgset_free(struct imap_msgset *set);

/* In a job: the messages of the set that are in view, as UIDs (ascending,
 * each once; zeroed *out first). Sequence numbers beyond the view are the
 * client's error (-ERANGE, with our text for BAD in err); UIDs that are not
 * in the view are ignored (RFC 9051 §6.4.9), and "*" of an empty mailbox
 * names no message. */
int imap_msgset_resolve(const struct imap_msgset *set, const struct store_uids *view,
                        struct store_uids *out, struct buf *err);
/* uids (ascending, from imap_msgset_resolve) as ranges for the store calls
 * (store_set_flags, store_expunge, store_copy): a run of messages next to
 * each other in view is one range. *out is heap; returns the count, 0 for
 * none (never hand the store an empty set: NULL means every message). */
size_t imap_msgset_ranges(const struct store_uids *uids, const struct store_uids *view,
                          struct store_uid_range **out);
/* "* n EXPUNGE" for each UID of expunged (ascending), highest first, numbered
 * as the client knew them: view is the view after they left it. */
void imap_write_expunges(const struct store_uids *view, const struct store_uids *expunged,
                         struct buf *out);

/* The sequence number of uid in view, 0 if it is not there. */
uint32_t imap_view_seq(const struct store_uids *view, uint32_t uid);

#endif
