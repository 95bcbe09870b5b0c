/* Delivering one message: LMTP's recipients (lmtp/) and `gannet deliver -u
 * USER` (cli/) go through here. The message is written once, streamed into
 * the first recipient's mailbox as it arrives; every other recipient gets
 * its own file from it (a hard link where the Maildirs share a filesystem,
 * else a copy), each durable (fsync, rename, index commit) before its
 * recipient is answered.
 *
 * Every call may fsync or wait for another process's index lock: a server
 * calls them from its session's serial queue (lib/serial-queue.h), never from
 * the event loop. */
#ifndef GANNET_STORE_DELIVER_H
#define GANNET_STORE_DELIVER_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stdint.h>

struct store;

/* The mailbox a delivery asking for `wanted` (NULL: INBOX) goes to: wanted
 * when it exists, else INBOX, as dovecot-lda and Dovecot's LMTP do without
 * lda_mailbox_autocreate: mail is never refused for a missing folder. */
const char *deliver_mailbox(struct store *s, const char *wanted);

/* One message in progress; owner: the caller until deliver_commit() or
 * deliver_abort(), which free it. */
struct deliver_ctx;

/* Starts the message in the first recipient's mailbox (the name as
 * deliver_mailbox() gave it). */
int deliver_begin(struct store *s, const char *mailbox, struct deliver_ctx **out, struct buf *err);
/* The next bytes of the message, as they arrive. */
int deliver_write(struct deliver_ctx *d, const void *data, size_t len, struct buf *err);
/* After the last write: the file made durable once for every recipient.
 * Optional; after it, deliver_commit_also() for recipients of different
 * stores may run on several threads at once. */
int deliver_finish(struct deliver_ctx *d, struct buf *err);
/* Another recipient, after the last write and before deliver_commit(): the
 * message committed into its mailbox (of any user's store), durable when
 * this returns 0; *uid (may be NULL) gets its UID there. A failure concerns
 * this recipient only: d can still be committed for the others. */
int deliver_commit_also(struct deliver_ctx *d, struct store *s, const char *mailbox, uint32_t *uid,
                        struct buf *err);
/* The first recipient's copy, durable when this returns 0. Frees d. */
int deliver_commit(struct deliver_ctx *d, uint32_t *uid, struct buf *err);
/* Nothing delivered to anyone who was not committed yet. Frees d (NULL is fine). */
void deliver_abort(struct deliver_ctx *d);

/* Whether a store error is the recipient's lasting problem, on which the
 * sender must give up (a bounce): a full mailbox (EDQUOT, Dovecot's
 * quota_full_tempfail = no) or a message too large for it (EFBIG). Anything
 * else (a full disk, an index locked too long, an I/O error) is temporary:
 * the MTA keeps the message and tries again, and nothing is lost. */
bool deliver_error_is_permanent(int err);

#endif
