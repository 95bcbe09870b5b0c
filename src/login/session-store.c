#include "login/session-store.h"

#include "lib/serial-queue.h"
#include "lib/settings.h"
#include "login/services.h"
#include "net/conn.h"
#include "store/mail-location.h"
#include "store/store.h"

#include <stdlib.h>

/* Owned by the queue. */
struct session_store {
    char *user, *home, *mail_location;
    struct store *store; /* NULL until opened, or if opening failed */
    int open_result;     /* negative once opening failed */
    struct buf open_error;
    void *side;
    session_store_side_fn *close_side, *free_side; /* set by session_store_stop */
};

struct store_job {
    struct session_store *ss;
    struct conn *conn; /* valid when done runs uncancelled */
    session_store_work_fn *work;
    session_store_done_fn *done;
    void *owner;
    void *data;
    void (*free_data)(void *);
    int result;
    struct buf out, err;
};

static bool open_store(struct session_store *ss)
{
    if (ss->store || ss->open_result < 0)
        return ss->store != NULL;
    struct store_user u = {.user = ss->user, .home = ss->home, .uid = -1, .gid = -1};
    ss->open_result =
        store_user_open(&u, ss->mail_location, STORE_OPEN_CREATE, &ss->store, &ss->open_error);
    return ss->store != NULL;
}

static void job_work(void *arg)
{
    struct store_job *job = arg;
    struct session_store *ss = job->ss;
    if (open_store(ss)) {
        job->result = job->work(ss->store, ss->side, job->data, &job->out, &job->err);
        store_release_memory(ss->store);
    } else {
        job->result = ss->open_result;
        buf_puts(&job->err, buf_cstr(&ss->open_error));
    }
}

static void job_done(void *arg, bool cancelled)
{
    struct store_job *job = arg;
    if (!cancelled) {
        if (job->out.len)
            conn_write(job->conn, job->out.data, job->out.len);
        if (job->done)
            job->done(job->owner, job->result, buf_cstr(&job->err), job->data);
    }
    if (job->free_data)
        job->free_data(job->data);
    buf_free(&job->out);
    buf_free(&job->err);
    free(job);
}

struct serial_queue *session_store_start(struct conn *c, const char *user, const char *home,
                                         void *side, struct session_store **out)
{
    const struct session_services *services = conn_app(c);
    struct session_store *ss = xcalloc(1, sizeof(*ss));
    ss->user = xstrdup(user);
    ss->home = home ? xstrdup(home) : NULL;
    ss->mail_location = xstrdup(c->settings->mail_location);
    ss->side = side;
    *out = ss;
    return serial_queue_new(services->store_pool);
}

void session_store_job(struct serial_queue *q, struct session_store *ss, struct conn *c,
                       session_store_work_fn *work, void *data, void (*free_data)(void *),
                       session_store_done_fn *done, void *owner)
{
    struct store_job *job = xcalloc(1, sizeof(*job));
    job->ss = ss;
    job->conn = c;
    job->work = work;
    job->done = done;
    job->owner = owner;
    job->data = data;
    job->free_data = free_data;
    serial_queue_submit(q, job_work, job_done, job);
}

/* The session's last job, on the pool. */
static void close_store(void *arg)
{
    struct session_store *ss = arg;
    if (ss->close_side)
        ss->close_side(ss->side);
    store_close(ss->store);
}

static void free_store(void *arg)
{
    struct session_store *ss = arg;
    if (ss->free_side)
        ss->free_side(ss->side);
    free(ss->user);
    free(ss->home);
    free(ss->mail_location);
    buf_free(&ss->open_error);
    free(ss);
}

void session_store_stop(struct serial_queue *q, struct session_store *ss,
                        session_store_side_fn *close_side, session_store_side_fn *free_side)
{
    ss->close_side = close_side;
    ss->free_side = free_side;
    serial_queue_close(q, close_store, free_store, ss);
}
