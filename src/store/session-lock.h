/* A lock a protocol session holds on a user's store for as long as it runs,
 * across the worker processes (POP3's pop3_lock_session, RFC 1939 §8: "the
 * POP3 server then acquires an exclusive-access lock on the maildrop"). It is
 * a flock on a file beside the index (ROOT/gannet-NAME.lock), as the index's
 * own opener lock: the kernel drops it when the holder dies, so a crashed
 * session never leaves a maildrop locked. The file's mtime also records the
 * last login (RFC 2449 §6.5 LOGIN-DELAY). */
#ifndef GANNET_STORE_SESSION_LOCK_H
#define GANNET_STORE_SESSION_LOCK_H

#include "lib/buf.h"

#include <stdbool.h>
#include <time.h>

struct store;
struct store_session_lock; /* owner: the session's queue side, until store_session_unlock */

/* Opens ROOT/gannet-NAME.lock (NAME: a short word such as "pop3"); with
 * `exclusive`, also takes its lock without waiting: -EAGAIN when another
 * session, in this process or another, holds it. */
int store_session_lock(struct store *s, const char *name, bool exclusive,
                       struct store_session_lock **out, struct buf *err);
/* When store_session_touch last ran on this file (any session), 0 if never. */
time_t store_session_last_touch(const struct store_session_lock *l);
/* Records now as the last login. */
int store_session_touch(struct store_session_lock *l, struct buf *err);
/* Releases the lock and frees; NULL is fine. */
void store_session_unlock(struct store_session_lock *l);

#endif
