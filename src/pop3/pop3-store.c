#include "pop3/pop3-store.h"

#include "pop3/pop3-transfer.h"

#include "lib/log.h"
#include "lib/settings.h"
#include "login/session-store.h"
#include "net/conn.h"
#include "store/session-lock.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What one job reads of a message file: its output stays near the
 * connection's high watermark, so a 50 MB message is never in memory whole. */
#define SEND_READ_BYTES (128u * 1024u)

/* The queue side: touched only by jobs; freed after the session's last job. */
struct pop3_side {
    struct store_mailbox *inbox;
    struct store_session_lock *lock;
    int fd;         /* the message file being sent, or -1 */
    char *read_buf; /* SEND_READ_BYTES, while a message is sent */
};

/* A RETR/TOP under way, on the loop. */
struct pop3_sending {
    uint32_t msgnum;
    uint32_t uid;
    uint64_t size;
    bool started; /* the +OK went out */
    struct pop3_transfer conv;
};

static void submit(struct pop3_session *s, session_store_work_fn *work, void *data,
                   void (*free_data)(void *), session_store_done_fn *done)
{
    session_store_job(s->store_queue, s->session_store, s->conn, work, data, free_data, done, s);
}

/* ---- login: lock, LOGIN-DELAY, snapshot ---- */

enum open_refusal { OPEN_REFUSED_NONE, OPEN_REFUSED_IN_USE, OPEN_REFUSED_LOGIN_DELAY };

struct open_job {
    bool lock_session;
    unsigned login_delay; /* seconds */
    enum open_refusal refused;
    struct pop3_maildrop drop;
    size_t cap;
};

static void release_lock(struct pop3_side *side)
{
    store_session_unlock(side->lock);
    side->lock = NULL;
}

static int take_snapshot(struct pop3_side *side, struct open_job *job, struct buf *err)
{
    const struct store_uids *view = store_mailbox_view(side->inbox);
    job->drop.uidvalidity = store_mailbox_uidvalidity(side->inbox);
    struct store_fetch_iter *it;
    int r = store_fetch_begin(side->inbox, NULL, 0, 0, &it, err);
    if (r < 0)
        return r;
    const struct store_message *msg;
    size_t v = 0;
    while ((r = store_fetch_next(it, &msg, err)) > 0) {
        /* the view of the open: what came meanwhile waits for the next session */
        while (v < view->count && view->uids[v] < msg->uid)
            v++;
        if (v == view->count || view->uids[v] != msg->uid)
            continue;
        if (job->drop.count == job->cap) {
            job->cap = job->cap ? job->cap * 2 : 64;
            job->drop.msgs = xrealloc(job->drop.msgs, job->cap * sizeof(*job->drop.msgs));
        }
        job->drop.msgs[job->drop.count++] =
            (struct pop3_message){.uid = msg->uid, .size = msg->virtual_size};
    }
    store_fetch_end(it);
    return r < 0 ? r : 0;
}

static int open_work(struct store *store, void *side_arg, void *arg, struct buf *out,
                     struct buf *err)
{
    (void)out;
    struct pop3_side *side = side_arg;
    struct open_job *job = arg;
    int r = 0;
    if (job->lock_session || job->login_delay) {
        /* RFC 1939 §8: the exclusive-access lock on the maildrop */
        r = store_session_lock(store, "pop3", job->lock_session, &side->lock, err);
        if (r == -EAGAIN)
            job->refused = OPEN_REFUSED_IN_USE;
        if (r < 0)
            return r;
    }
    if (job->login_delay) {
        /* RFC 2449 §6.5: not again before the delay since the last login */
        time_t last = store_session_last_touch(side->lock), now = time(NULL);
        if (last && now >= last && now - last < (time_t)job->login_delay) {
            job->refused = OPEN_REFUSED_LOGIN_DELAY;
            release_lock(side);
            return -EAGAIN;
        }
        r = store_session_touch(side->lock, err);
    }
    if (r == 0)
        r = store_mailbox_open(store, "INBOX", &side->inbox, err);
    if (r == 0)
        r = take_snapshot(side, job, err);
    if (r < 0) {
        /* RFC 1939 §4: a lock acquired is released before the -ERR */
        store_mailbox_close(side->inbox);
        side->inbox = NULL;
        release_lock(side);
    }
    return r;
}

static void free_open_job(void *arg)
{
    struct open_job *job = arg;
    free(job->drop.msgs);
    free(job);
}

static void open_done(void *owner, int result, const char *error, void *arg)
{
    struct pop3_session *s = owner;
    struct open_job *job = arg;
    if (result == 0) {
        s->drop = xcalloc(1, sizeof(*s->drop));
        *s->drop = job->drop;
        job->drop.msgs = NULL;
        pop3_enter_transaction(s);
        conn_printf(s->conn, "+OK Logged in.\r\n");
        pop3_command_done(s);
        return;
    }
    struct buf line = BUF_INIT;
    switch (job->refused) {
    case OPEN_REFUSED_IN_USE:
        /* RFC 2449 §8.1.2 */
        buf_puts(&line, "-ERR [IN-USE] Mailbox is locked by another POP3 session.");
        break;
    case OPEN_REFUSED_LOGIN_DELAY:
        /* RFC 2449 §8.1.1 */
        buf_printf(&line, "-ERR [LOGIN-DELAY] Logged in less than %u seconds ago.",
                   job->login_delay);
        break;
    case OPEN_REFUSED_NONE:
        /* RFC 3206 §4: PERM for what an administrator must fix (a bad
         * mail_location, a user's ids), TEMP for what may pass */
        log_error(s->conn->id, "pop3: user=<%s>: %s", s->user, error);
        buf_printf(&line, "-ERR [%s] Cannot open the mailbox.",
                   result == -EPERM || result == -EINVAL ? "SYS/PERM" : "SYS/TEMP");
        break;
    }
    pop3_close_with(s, buf_cstr(&line));
    buf_free(&line);
}

void pop3_store_open(struct pop3_session *s, const char *user, const char *home)
{
    struct pop3_side *side = xcalloc(1, sizeof(*side));
    side->fd = -1;
    s->store_queue = session_store_start(s->conn, user, home, side, &s->session_store);
    struct open_job *job = xcalloc(1, sizeof(*job));
    job->lock_session = s->conn->settings->pop3_lock_session;
    job->login_delay = s->conn->settings->pop3_login_delay_ms / 1000;
    s->waiting = true;
    submit(s, open_work, job, free_open_job, open_done);
}

/* ---- RETR and TOP ---- */

struct send_job {
    uint32_t uid;
    uint64_t size;
    bool first; /* opens the file and says +OK */
    bool eof;   /* the whole answer went out */
    struct pop3_transfer conv;
};

static void close_message(struct pop3_side *side)
{
    if (side->fd >= 0)
        close(side->fd);
    side->fd = -1;
    free(side->read_buf);
    side->read_buf = NULL;
}

static int send_work(struct store *store, void *side_arg, void *arg, struct buf *out,
                     struct buf *err)
{
    (void)store;
    struct pop3_side *side = side_arg;
    struct send_job *job = arg;
    if (job->first) {
        close_message(side);
        int r = store_message_open(side->inbox, job->uid, &side->fd, NULL, err);
        if (r < 0)
            return r;
        side->read_buf = xmalloc(SEND_READ_BYTES);
        if (job->conv.top)
            buf_puts(out, "+OK\r\n");
        else
            buf_printf(out, "+OK %llu octets\r\n", (unsigned long long)job->size);
    }
    size_t total = 0;
    while (total < SEND_READ_BYTES) {
        ssize_t n = read(side->fd, side->read_buf, SEND_READ_BYTES - total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            buf_printf(err, "reading the message with UID %u: %s", job->uid, strerror(e));
            close_message(side);
            return -e;
        }
        if (n == 0) {
            job->eof = true;
            break;
        }
        total += (size_t)n;
        if (pop3_transfer_feed(&job->conv, side->read_buf, (size_t)n, out)) {
            job->eof = true;
            break;
        }
    }
    if (job->eof) {
        pop3_transfer_finish(&job->conv, out);
        close_message(side);
    }
    return 0;
}

static void send_next(struct pop3_session *s);

static void send_done(void *owner, int result, const char *error, void *arg)
{
    struct pop3_session *s = owner;
    struct send_job *job = arg;
    struct pop3_sending *snd = s->sending;
    if (result < 0) {
        s->sending = NULL;
        if (snd->started) {
            /* the +OK and part of the message went out: no way to say more */
            log_error(s->conn->id, "pop3: user=<%s>: %s", s->user, error);
            free(snd);
            conn_close(s->conn);
            return;
        }
        if (result == -ENOENT)
            conn_printf(s->conn, "-ERR Message %u was expunged by another session.\r\n",
                        snd->msgnum);
        else {
            log_error(s->conn->id, "pop3: user=<%s>: %s", s->user, error);
            conn_printf(s->conn, "-ERR [SYS/TEMP] Cannot read message %u.\r\n", snd->msgnum);
        }
        free(snd);
        pop3_command_done(s);
        return;
    }
    snd->started = true;
    snd->conv = job->conv;
    if (job->eof) {
        if (!snd->conv.top)
            s->drop->msgs[snd->msgnum - 1].retrieved = true;
        s->sending = NULL;
        free(snd);
        pop3_command_done(s);
        return;
    }
    /* backpressure: the next piece once the client has taken most of this one */
    if (conn_output_pending(s->conn) > CONN_OUTPUT_HIGH_WATERMARK)
        conn_notify_drained(s->conn);
    else
        send_next(s);
}

static void send_next(struct pop3_session *s)
{
    struct pop3_sending *snd = s->sending;
    struct send_job *job = xcalloc(1, sizeof(*job));
    job->uid = snd->uid;
    job->size = snd->size;
    job->first = !snd->started;
    job->conv = snd->conv;
    submit(s, send_work, job, free, send_done);
}

void pop3_store_send(struct pop3_session *s, uint32_t msgnum, bool top, uint64_t lines)
{
    const struct pop3_message *m = &s->drop->msgs[msgnum - 1];
    struct pop3_sending *snd = xcalloc(1, sizeof(*snd));
    snd->msgnum = msgnum;
    snd->uid = m->uid;
    snd->size = m->size;
    pop3_transfer_init(&snd->conv, top, lines);
    s->sending = snd;
    s->waiting = true;
    send_next(s);
}

bool pop3_store_output_drained(struct pop3_session *s)
{
    if (!s->sending || !s->sending->started)
        return false;
    send_next(s);
    return true;
}

/* ---- QUIT: the UPDATE state ---- */

struct update_job {
    struct store_uid_range *seen, *deleted;
    size_t nseen, ndeleted; /* ranges */
    size_t nseen_messages;  /* messages in the seen ranges */
    size_t expunged;
};

static int update_work(struct store *store, void *side_arg, void *arg, struct buf *out,
                       struct buf *err)
{
    (void)store;
    (void)out;
    struct pop3_side *side = side_arg;
    struct update_job *job = arg;
    int r = 0;
    if (job->nseen) {
        struct store_flags_result res = {0};
        r = store_set_flags(side->inbox, job->seen, job->nseen, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
                            NULL, 0, 0, &res, err);
        store_flags_result_free(&res);
    }
    if (r == 0 && job->ndeleted) {
        /* store.h: "with a set and !only_deleted every message in it (POP3
         * QUIT after DELE)" */
        struct store_uids gone = {0};
        r = store_expunge(side->inbox, job->deleted, job->ndeleted, false, &gone, err);
        job->expunged = gone.count;
        store_uids_free(&gone);
    }
    /* RFC 1939 §6: the lock goes with the UPDATE state */
    release_lock(side);
    return r;
}

static void free_update_job(void *arg)
{
    struct update_job *job = arg;
    free(job->seen);
    free(job->deleted);
    free(job);
}

static void update_done(void *owner, int result, const char *error, void *arg)
{
    struct pop3_session *s = owner;
    struct update_job *job = arg;
    if (result < 0) {
        log_error(s->conn->id, "pop3: user=<%s>: QUIT: %s", s->user, error);
        /* RFC 1939 §6: "-ERR some deleted messages not removed" */
        pop3_close_with(s, "-ERR [SYS/TEMP] Some deleted messages were not removed.");
        return;
    }
    log_info(s->conn->id, "pop3: user=<%s>: QUIT: %zu deleted, %zu marked seen", s->user,
             job->expunged, job->nseen_messages);
    struct buf line = BUF_INIT;
    buf_printf(&line, "+OK Logging out, %zu message%s deleted.", job->expunged,
               job->expunged == 1 ? "" : "s");
    pop3_close_with(s, buf_cstr(&line));
    buf_free(&line);
}

/* Appends uid to a list of ascending ranges. */
static void add_uid(struct store_uid_range **set, size_t *n, uint32_t uid)
{
    if (*n && (*set)[*n - 1].last + 1 == uid) {
        (*set)[*n - 1].last = uid;
        return;
    }
    *set = xrealloc(*set, (*n + 1) * sizeof(**set));
    (*set)[(*n)++] = (struct store_uid_range){uid, uid};
}

void pop3_store_update(struct pop3_session *s)
{
    struct update_job *job = xcalloc(1, sizeof(*job));
    for (uint32_t i = 0; i < s->drop->count; i++) {
        const struct pop3_message *m = &s->drop->msgs[i];
        if (m->deleted)
            add_uid(&job->deleted, &job->ndeleted, m->uid);
        else if (m->retrieved) {
            add_uid(&job->seen, &job->nseen, m->uid);
            job->nseen_messages++;
        }
    }
    s->state = POP3_UPDATE;
    s->waiting = true;
    submit(s, update_work, job, free_update_job, update_done);
}

/* ---- the end ---- */

/* On the pool, after the session's last job. */
static void close_side(void *arg)
{
    struct pop3_side *side = arg;
    close_message(side);
    store_mailbox_close(side->inbox);
    release_lock(side);
}

void pop3_store_stop(struct pop3_session *s)
{
    if (s->store_queue)
        session_store_stop(s->store_queue, s->session_store, close_side, free);
    s->store_queue = NULL;
    s->session_store = NULL;
    if (s->drop)
        free(s->drop->msgs);
    free(s->drop);
    s->drop = NULL;
    free(s->sending);
    s->sending = NULL;
}
