#include "imap/imap-store.h"

#include "imap/session.h"
#include "lib/serial-queue.h"
#include "lib/settings.h"
#include "login/services.h"
#include "store/mail-location.h"
#include "store/store.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>

struct store_job {
    struct imap_store_side *side;
    struct imap_cmd *cmd; /* valid while the job is not cancelled */
    imap_store_work_fn *work;
    void *data;
    void (*free_data)(void *);
    int result;
    struct buf out, err;
};

/* The user's store, opened by the session's first job that needs it: a
 * session that never touches mail costs no index connection. A failure is
 * kept, and every later job answers with it. */
static bool open_store(struct imap_store_side *side)
{
    if (side->store || side->open_result < 0)
        return side->store != NULL;
    struct store_user u = {.user = side->user, .home = side->home, .uid = -1, .gid = -1};
    side->open_result = store_user_open(&u, side->mail_location, STORE_OPEN_CREATE, &side->store,
                                        &side->open_error);
    return side->store != NULL;
}

static void job_work(void *arg)
{
    struct store_job *job = arg;
    if (open_store(job->side)) {
        job->result = job->work(job->side, job->data, &job->out, &job->err);
        store_release_memory(job->side->store);
    } else {
        job->result = job->side->open_result;
        buf_puts(&job->err, buf_cstr(&job->side->open_error));
    }
}

static void job_free(struct store_job *job)
{
    if (job->free_data)
        job->free_data(job->data);
    buf_free(&job->out);
    buf_free(&job->err);
    free(job);
}

static void job_done(void *arg, bool cancelled)
{
    struct store_job *job = arg;
    struct imap_cmd *cmd = cancelled ? NULL : job->cmd;
    if (cmd) {
        cmd->job_result = job->result;
        cmd->job_error =
            arena_strndup(cmd->arena, job->err.data ? job->err.data : "", job->err.len);
        cmd->job_data = job->data;
        if (job->out.len)
            conn_write(cmd->session->conn, job->out.data, job->out.len);
        imap_cmd_wake(cmd);
    }
    job_free(job);
}

static struct store_job *job_new(struct imap_store_side *side, imap_store_work_fn *work, void *data,
                                 void (*free_data)(void *))
{
    struct store_job *job = xcalloc(1, sizeof(*job));
    job->side = side;
    job->work = work;
    job->data = data;
    job->free_data = free_data;
    return job;
}

void imap_store_start(struct imap_session *s, const char *user, const char *home)
{
    const struct session_services *services = conn_app(s->conn);
    struct imap_store_side *side = xcalloc(1, sizeof(*side));
    side->user = xstrdup(user);
    side->home = home ? xstrdup(home) : NULL;
    side->mail_location = xstrdup(s->conn->settings->mail_location);
    s->store_side = side;
    s->store_queue = serial_queue_new(services->store_pool);
}

void imap_store_job(struct imap_cmd *cmd, imap_store_work_fn *work, void *data,
                    void (*free_data)(void *))
{
    struct imap_session *s = cmd->session;
    struct store_job *job = job_new(s->store_side, work, data, free_data);
    job->cmd = cmd;
    serial_queue_submit(s->store_queue, job_work, job_done, job);
}

/* The session's last job, on the pool. */
static void close_store(void *arg)
{
    struct imap_store_side *side = arg;
    if (side->append)
        store_append_abort(side->append);
    if (side->append_box)
        store_mailbox_close(side->append_box);
    store_mailbox_close(side->selected);
    store_close(side->store);
}

static void free_side(void *arg)
{
    struct imap_store_side *side = arg;
    free(side->user);
    free(side->home);
    free(side->mail_location);
    buf_free(&side->open_error);
    free(side);
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
    serial_queue_close(s->store_queue, close_store, free_side, s->store_side);
    s->store_queue = NULL;
    s->store_side = NULL;
}
