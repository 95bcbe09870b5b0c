#include "imap/imap-store.h"

#include "imap/session.h"
#include "lib/serial-queue.h"
#include "lib/settings.h"
#include "login/services.h"
#include "store/mail-location.h"
#include "store/store.h"

#include <errno.h>
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

void imap_store_stop(struct imap_session *s)
{
    if (!s->store_queue)
        return;
    serial_queue_close(s->store_queue, close_store, free_side, s->store_side);
    s->store_queue = NULL;
    s->store_side = NULL;
}
