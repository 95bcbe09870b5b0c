/* IDLE (RFC 9051 §6.3.13, RFC 2177): "+ idling", then the changes made
 * elsewhere to the selected mailbox are pushed as they happen until the
 * client sends DONE. The command owns the input meanwhile: a line other than
 * DONE is BAD and ends the IDLE.
 *
 * Pushed, not polled: the store's notification fd (imap-store.h) wakes the
 * loop, which queues a sync job; the job drains the fd and tells what
 * changed; the fd is watched again once the sync has been written. A
 * session whose store has no notification fd is woken every
 * IMAP_STORE_NOTIFY_POLL_MS instead. */
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "imap/session.h"

#include <strings.h>

/* A line longer than this without its end is not DONE. */
#define IDLE_MAX_LINE 1024

struct idle {
    bool changed; /* the notification fired, or IDLE just began */
};

static enum imap_cmd_result idle_step(struct imap_cmd *cmd);

/* On the loop, from the store's notification. */
static void idle_notified(void *arg)
{
    struct imap_cmd *cmd = arg;
    struct idle *st = cmd->data;
    st->changed = true;
    if (cmd->waiting == IMAP_CMD_WAIT_INPUT && !conn_is_closing(cmd->session->conn))
        imap_cmd_wake(cmd);
}

static enum imap_cmd_result idle_synced(struct imap_cmd *cmd)
{
    imap_sync_job_done(cmd);
    return idle_step(cmd);
}

/* Takes the client's line if there is one: DONE ends the IDLE, anything
 * else is BAD and ends it too. */
static bool idle_input(struct imap_cmd *cmd)
{
    struct evbuffer *in = imap_cmd_input(cmd);
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    size_t len = evbuffer_get_length(in);
    if (eol.pos < 0 && len <= IDLE_MAX_LINE)
        return false;
    char word[4];
    bool done =
        eol.pos == 4 && evbuffer_copyout(in, word, 4) == 4 && strncasecmp(word, "DONE", 4) == 0;
    evbuffer_drain(in, eol.pos >= 0 ? (size_t)eol.pos + eol_len : len);
    imap_store_notify_disarm(cmd->session);
    if (done)
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "IDLE terminated.");
    else
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Expected DONE to end IDLE.");
    return true;
}

static enum imap_cmd_result idle_step(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct idle *st = cmd->data;
    cmd->resume = idle_step;
    if (idle_input(cmd))
        return IMAP_CMD_DONE;
    if (s->state != IMAP_STATE_SELECTED)
        return IMAP_CMD_WAIT_INPUT; /* nothing to watch: only DONE */
    if (st->changed) {
        st->changed = false;
        cmd->resume = idle_synced;
        imap_sync_job(cmd, false);
        return IMAP_CMD_WAIT_EXTERNAL;
    }
    imap_store_notify_arm(s, idle_notified, cmd);
    return IMAP_CMD_WAIT_INPUT;
}

enum imap_cmd_result cmd_idle(struct imap_cmd *cmd)
{
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "IDLE takes no arguments.");
        return IMAP_CMD_DONE;
    }
    struct idle *st = arena_alloc(cmd->arena, sizeof(*st));
    /* what changed since the last command is told at once */
    st->changed = true;
    cmd->data = st;
    imap_continue(cmd->session, "idling");
    return idle_step(cmd);
}
