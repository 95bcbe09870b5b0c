#include "lib/threadpool.h"

#include "lib/buf.h"
#include "lib/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
    threadpool_fn *work;
    threadpool_fn *done;
    void *arg;
    struct job *next;
};

struct job_queue {
    struct job *head, *tail;
};

/* Owned by the event loop's process; the threads only touch the queues under
 * the mutex. Finished jobs travel back through a pipe that wakes the loop. */
struct threadpool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job_queue todo;
    struct job_queue finished;
    bool stopping;
    pthread_t *threads;
    unsigned n_threads;
    int notify_pipe[2];
    struct event *notify_event;
    struct event_base *base;
    atomic_size_t unfinished; /* submitted, their done not returned yet */
};

static void queue_push(struct job_queue *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static struct job *queue_pop(struct job_queue *q)
{
    struct job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
    }
    return j;
}

static void *pool_thread(void *arg)
{
    struct threadpool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && !pool->todo.head)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->stopping)
            break;
        struct job *j = queue_pop(&pool->todo);
        pthread_mutex_unlock(&pool->lock);
        j->work(j->arg);
        pthread_mutex_lock(&pool->lock);
        bool was_empty = pool->finished.head == NULL;
        queue_push(&pool->finished, j);
        if (was_empty) {
            char c = 0;
            ssize_t r = write(pool->notify_pipe[1], &c, 1);
            (void)r; /* a full pipe already holds a wake-up */
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

static void pool_notified(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct threadpool *pool = arg;
    char drain[64];
    while (read(fd, drain, sizeof(drain)) > 0) {
    }
    pthread_mutex_lock(&pool->lock);
    struct job *list = pool->finished.head;
    pool->finished.head = pool->finished.tail = NULL;
    pthread_mutex_unlock(&pool->lock);
    while (list) {
        struct job *next = list->next;
        list->done(list->arg);
        free(list);
        atomic_fetch_sub(&pool->unfinished, 1);
        list = next;
    }
}

struct threadpool *threadpool_new(struct event_base *base, unsigned n_threads)
{
    struct threadpool *pool = xcalloc(1, sizeof(*pool));
    pool->base = base;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    if (pipe2(pool->notify_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        log_error(NULL, "thread pool: pipe: %m");
        abort();
    }
    pool->notify_event =
        event_new(base, pool->notify_pipe[0], EV_READ | EV_PERSIST, pool_notified, pool);
    event_add(pool->notify_event, NULL);
    pool->threads = xcalloc(n_threads, sizeof(pthread_t));
    for (unsigned i = 0; i < n_threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, pool_thread, pool) != 0) {
            log_error(NULL, "thread pool: cannot start a thread");
            break;
        }
        pool->n_threads++;
    }
    return pool;
}

void threadpool_submit(struct threadpool *pool, threadpool_fn *work, threadpool_fn *done, void *arg)
{
    struct job *j = xmalloc(sizeof(*j));
    j->work = work;
    j->done = done;
    j->arg = arg;
    atomic_fetch_add(&pool->unfinished, 1);
    pthread_mutex_lock(&pool->lock);
    queue_push(&pool->todo, j);
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
}

static void free_queue(struct job_queue *q)
{
    struct job *j;
    while ((j = queue_pop(q)))
        free(j);
}

void threadpool_drain(struct threadpool *pool)
{
    while (pool && atomic_load(&pool->unfinished) > 0 && pool->n_threads > 0)
        event_base_loop(pool->base, EVLOOP_ONCE);
}

void threadpool_free(struct threadpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    free_queue(&pool->todo);
    free_queue(&pool->finished);
    event_free(pool->notify_event);
    close(pool->notify_pipe[0]);
    close(pool->notify_pipe[1]);
    free(pool->threads);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool);
}
