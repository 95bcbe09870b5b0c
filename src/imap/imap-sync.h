/* What changed in the selected mailbox, told to the client (RFC 9051 §5.2,
 * §7.3.1, §7.4.1, §7.5.2): run as a store job at NOOP, CHECK, IDLE and the
 * other commands allowed to report expunges, never during FETCH, STORE or
 * SEARCH (RFC 9051 §7.5.1), so sequence numbers never confuse a client. */
#ifndef GANNET_IMAP_IMAP_SYNC_H
#define GANNET_IMAP_IMAP_SYNC_H

#include "imap/imap-store.h"

#include <stdint.h>

struct store_mailbox;

/* Syncs side->selected with the Maildir and other sessions and appends the
 * untagged responses: EXPUNGE for each message gone (highest sequence number
 * first, so each number is right when the client reads it), EXISTS when the
 * count changed, FETCH (UID FLAGS) for flags changed elsewhere. A store job's
 * work (imap_store_work_fn). */
int imap_sync_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err);

/* "* n FETCH (UID u FLAGS (...))" for the messages with these UIDs that are in
 * m's view. */
int imap_sync_write_flags(struct store_mailbox *m, const uint32_t *uids, size_t n, struct buf *out,
                          struct buf *err);

#endif
