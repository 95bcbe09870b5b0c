#include "imap/imap-store.h"

#include "imap/session.h"
#include "login/session-store.h"
#include "store/store.h"

#include <event2/event.h>
#include <stdlib.h>

/* What an IMAP command's job carries through the shared session store: the
 * command's work and its data. */
struct imap_job {
    struct imap_cmd *cmd; /* valid while the job is not cancelled */
    imap_store_work_fn *work;
    void *data;
    void (*free_data)(void *);
};

static int imap_job_work(struct store *store, void *side_arg, void *arg, struct buf *out,
                         struct buf *err)
{
    struct imap_store_side *side = side_arg;
    struct imap_job *job = arg;
    side->store = store;
    return job->work(side, job->data, out, err);
}

static void imap_job_done(void *owner, int result, const char *error, void *arg)
{
    struct imap_cmd *cmd = owner;
    struct imap_job *job = arg;
    cmd->job_result = result;
    cmd->job_error = arena_strdup(cmd->arena, error);
    cmd->job_data = job->data;
    imap_cmd_wake(cmd);
}

static void imap_job_free(void *arg)
{
    struct imap_job *job = arg;
    if (job->free_data)
        job->free_data(job->data);
    free(job);
}

void imap_store_start(struct imap_session *s, const char *user, const char *home)
{
    struct imap_store_side *side = xcalloc(1, sizeof(*side));
    s->store_side = side;
    s->store_queue = session_store_start(s->conn, user, home, side, &s->session_store);
}

void imap_store_job(struct imap_cmd *cmd, imap_store_work_fn *work, void *data,
                    void (*free_data)(void *))
{
    struct imap_session *s = cmd->session;
    struct imap_job *job = xcalloc(1, sizeof(*job));
    job->cmd = cmd;
    job->work = work;
    job->data = data;
    job->free_data = free_data;
    session_store_job(s->store_queue, s->session_store, s->conn, imap_job_work, job, imap_job_free,
                      imap_job_done, cmd);
}

/* On the pool, after the session's last job, before the store closes. */
static void close_side(void *arg)
{
    struct imap_store_side *side = arg;
    if (side->append)
        store_append_abort(side->append);
    if (side->append_box)
        store_mailbox_close(side->append_box);
    store_mailbox_close(side->selected);
}

/* The loop's side of the store's notification (imap-store.h). */
struct imap_store_notify {
    int fd;
    struct event *ev;
    void (*fn)(void *arg);
    void *arg;
};

static void notify_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct imap_store_notify *n = arg;
    void (*fn)(void *) = n->fn;
    n->fn = NULL;
    if (fn)
        fn(n->arg);
}

static void notify_free(struct imap_session *s)
{
    struct imap_store_notify *n = s->store_notify;
    if (!n)
        return;
    if (n->ev)
        event_free(n->ev);
    free(n);
    s->store_notify = NULL;
}

void imap_store_notify_fd(struct imap_session *s, int fd)
{
    struct imap_store_notify *n = s->store_notify;
    if (n && n->ev && n->fd == fd)
        return;
    if (!n) {
        n = xcalloc(1, sizeof(*n));
        s->store_notify = n;
    }
    if (n->ev)
        event_free(n->ev);
    n->fd = fd;
    n->fn = NULL;
    /* one-shot: armed again after each sync, so a level-triggered fd that
     * the store has not drained yet does not fire in a loop */
    n->ev = fd >= 0 ? event_new(conn_event_base(s->conn), fd, EV_READ, notify_ready, n)
                    : evtimer_new(conn_event_base(s->conn), notify_ready, n);
}

void imap_store_notify_arm(struct imap_session *s, void (*fn)(void *arg), void *arg)
{
    if (!s->store_notify)
        imap_store_notify_fd(s, -1);
    struct imap_store_notify *n = s->store_notify;
    if (!n->ev)
        return;
    n->fn = fn;
    n->arg = arg;
    if (n->fd >= 0) {
        event_add(n->ev, NULL);
    } else {
        struct timeval tv = {IMAP_STORE_NOTIFY_POLL_MS / 1000,
                             (IMAP_STORE_NOTIFY_POLL_MS % 1000) * 1000};
        event_add(n->ev, &tv);
    }
}

void imap_store_notify_disarm(struct imap_session *s)
{
    struct imap_store_notify *n = s->store_notify;
    if (!n || !n->ev)
        return;
    event_del(n->ev);
    n->fn = NULL;
}

void imap_store_stop(struct imap_session *s)
{
    /* before the store (and with it the fd) is closed on the pool */
    notify_free(s);
    if (!s->store_queue)
        return;
    session_store_stop(s->store_queue, s->session_store, close_side, free);
    s->store_queue = NULL;
    s->store_side = NULL;
    s->session_store = NULL;
}
