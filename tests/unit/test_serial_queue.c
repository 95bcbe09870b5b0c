/* lib/serial-queue: jobs of one queue run one at a time and in order, their
 * done on the loop; two queues run in parallel; closing with a job running
 * and others waiting cancels the waiting ones, lets the running one finish,
 * then runs the final job; a job that blocks its thread does not hold up the
 * event loop. Leaks show under ASan (make SANITIZE=1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/serial-queue.h"
#include "lib/threadpool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_t loop_thread;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Waits at most 5 s; false on a timeout. */
static bool sem_wait_5s(sem_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    int r;
    while ((r = sem_timedwait(s, &ts)) < 0 && errno == EINTR) {
    }
    return r == 0;
}

static bool on_loop(void)
{
    return pthread_equal(pthread_self(), loop_thread) != 0;
}

/* ---- order within one queue ---- */

#define N_ORDER 200

struct order_state {
    struct event_base *base;
    atomic_int in_flight;
    atomic_int max_in_flight;
    atomic_int next_work;
    int work_order[N_ORDER];
    int done_order[N_ORDER];
    int n_done;
    bool done_off_loop;
    bool done_before_work;
    bool cancelled_seen;
};

struct order_job {
    struct order_state *st;
    int index;
    atomic_bool worked;
};

static void order_work(void *arg)
{
    struct order_job *j = arg;
    int now = atomic_fetch_add(&j->st->in_flight, 1) + 1;
    int max = atomic_load(&j->st->max_in_flight);
    while (now > max && !atomic_compare_exchange_weak(&j->st->max_in_flight, &max, now)) {
    }
    if (j->index % 7 == 0)
        usleep(500); /* give another thread a chance to overlap, were it allowed to */
    j->st->work_order[atomic_fetch_add(&j->st->next_work, 1)] = j->index;
    atomic_store(&j->worked, true);
    atomic_fetch_sub(&j->st->in_flight, 1);
}

static void order_done(void *arg, bool cancelled)
{
    struct order_job *j = arg;
    struct order_state *st = j->st;
    if (!on_loop())
        st->done_off_loop = true;
    if (!atomic_load(&j->worked))
        st->done_before_work = true;
    if (cancelled)
        st->cancelled_seen = true;
    st->done_order[st->n_done++] = j->index;
    free(j);
    if (st->n_done == N_ORDER)
        event_base_loopbreak(st->base);
}

static void test_order_within_queue(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct threadpool *pool = threadpool_new(base, 4);
    struct serial_queue *q = serial_queue_new(pool);
    struct order_state *st = calloc(1, sizeof(*st));
    st->base = base;
    for (int i = 0; i < N_ORDER; i++) {
        struct order_job *j = calloc(1, sizeof(*j));
        j->st = st;
        j->index = i;
        serial_queue_submit(q, order_work, order_done, j);
    }
    assert_true(serial_queue_busy(q));
    event_base_dispatch(base);
    assert_int_equal(st->n_done, N_ORDER);
    for (int i = 0; i < N_ORDER; i++) {
        assert_int_equal(st->work_order[i], i);
        assert_int_equal(st->done_order[i], i);
    }
    assert_int_equal(atomic_load(&st->max_in_flight), 1);
    assert_false(st->done_off_loop);
    assert_false(st->done_before_work);
    assert_false(st->cancelled_seen);
    assert_false(serial_queue_busy(q));
    serial_queue_close(q, NULL, NULL, NULL);
    free(st);
    threadpool_free(pool);
    event_base_free(base);
}

/* ---- two queues in parallel ---- */

struct meet {
    sem_t a_here, b_here;
    bool a_met, b_met;
    int dones;
    struct event_base *base;
};

/* Each side waits for the other: both succeed only if they run at once. */
static void meet_a(void *arg)
{
    struct meet *m = arg;
    sem_post(&m->a_here);
    m->a_met = sem_wait_5s(&m->b_here);
}

static void meet_b(void *arg)
{
    struct meet *m = arg;
    sem_post(&m->b_here);
    m->b_met = sem_wait_5s(&m->a_here);
}

static void meet_done(void *arg, bool cancelled)
{
    struct meet *m = arg;
    assert_false(cancelled);
    if (++m->dones == 2)
        event_base_loopbreak(m->base);
}

static void test_two_queues_in_parallel(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct threadpool *pool = threadpool_new(base, 2);
    struct serial_queue *qa = serial_queue_new(pool), *qb = serial_queue_new(pool);
    struct meet m = {.base = base};
    sem_init(&m.a_here, 0, 0);
    sem_init(&m.b_here, 0, 0);
    serial_queue_submit(qa, meet_a, meet_done, &m);
    serial_queue_submit(qb, meet_b, meet_done, &m);
    event_base_dispatch(base);
    assert_int_equal(m.dones, 2);
    assert_true(m.a_met);
    assert_true(m.b_met);
    serial_queue_close(qa, NULL, NULL, NULL);
    serial_queue_close(qb, NULL, NULL, NULL);
    sem_destroy(&m.a_here);
    sem_destroy(&m.b_here);
    threadpool_free(pool);
    event_base_free(base);
}

/* ---- closing with a job running and jobs waiting ---- */

struct close_state {
    struct event_base *base;
    sem_t started, release;
    atomic_int seq; /* orders the events below */
    int running_work_end;
    int running_done_at;
    bool running_done_cancelled;
    int final_work_at;
    bool final_work_on_loop;
    int final_done_at;
    int pending_cancelled;
    int pending_ran;
    int pending_done_ok;
};

struct pending_job {
    struct close_state *st;
    char *memory; /* freed only by the cancellation cleanup: ASan sees a leak otherwise */
};

static void running_work(void *arg)
{
    struct close_state *st = arg;
    sem_post(&st->started);
    sem_wait_5s(&st->release);
    usleep(20000);
    st->running_work_end = atomic_fetch_add(&st->seq, 1);
}

static void running_done(void *arg, bool cancelled)
{
    struct close_state *st = arg;
    st->running_done_at = atomic_fetch_add(&st->seq, 1);
    st->running_done_cancelled = cancelled;
}

static void pending_work(void *arg)
{
    struct pending_job *p = arg;
    p->st->pending_ran++;
}

static void pending_done(void *arg, bool cancelled)
{
    struct pending_job *p = arg;
    if (cancelled)
        p->st->pending_cancelled++;
    else
        p->st->pending_done_ok++;
    free(p->memory);
    free(p);
}

static void close_final_work(void *arg)
{
    struct close_state *st = arg;
    st->final_work_on_loop = on_loop();
    st->final_work_at = atomic_fetch_add(&st->seq, 1);
}

static void close_final_done(void *arg)
{
    struct close_state *st = arg;
    st->final_done_at = atomic_fetch_add(&st->seq, 1);
    event_base_loopbreak(st->base);
}

static void test_close_with_running_and_pending(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct threadpool *pool = threadpool_new(base, 2);
    struct serial_queue *q = serial_queue_new(pool);
    struct close_state st = {.base = base, .running_done_at = -1, .final_done_at = -1};
    atomic_store(&st.seq, 1);
    sem_init(&st.started, 0, 0);
    sem_init(&st.release, 0, 0);
    serial_queue_submit(q, running_work, running_done, &st);
    for (int i = 0; i < 4; i++) {
        struct pending_job *p = calloc(1, sizeof(*p));
        p->st = &st;
        p->memory = malloc(1000);
        serial_queue_submit(q, pending_work, pending_done, p);
    }
    assert_true(sem_wait_5s(&st.started));
    serial_queue_close(q, close_final_work, close_final_done, &st);
    /* The waiting jobs were cleaned up at once and never run; the running
     * one is still on its thread. */
    assert_int_equal(st.pending_cancelled, 4);
    assert_int_equal(st.pending_done_ok, 0);
    assert_int_equal(st.running_done_at, -1);
    sem_post(&st.release);
    event_base_dispatch(base);
    assert_int_equal(st.pending_ran, 0);
    assert_true(st.running_done_cancelled);
    /* running work ends, its cleanup on the loop, the final work on a pool
     * thread, the final done on the loop: in that order */
    assert_int_equal(st.running_work_end, 1);
    assert_int_equal(st.running_done_at, 2);
    assert_int_equal(st.final_work_at, 3);
    assert_int_equal(st.final_done_at, 4);
    assert_false(st.final_work_on_loop);
    sem_destroy(&st.started);
    sem_destroy(&st.release);
    threadpool_free(pool);
    event_base_free(base);
}

/* Closing from inside a done (the command's answer ended the session), and
 * closing an idle queue. */
struct self_close {
    struct serial_queue *q;
    struct event_base *base;
    int first_done;
    int second_cancelled;
    bool final_done;
};

static void nothing(void *arg)
{
    (void)arg;
}

static void second_done(void *arg, bool cancelled)
{
    struct self_close *sc = arg;
    if (cancelled)
        sc->second_cancelled++;
}

static void self_close_final(void *arg)
{
    struct self_close *sc = arg;
    sc->final_done = true;
    event_base_loopbreak(sc->base);
}

static void first_done(void *arg, bool cancelled)
{
    struct self_close *sc = arg;
    assert_false(cancelled);
    sc->first_done++;
    serial_queue_close(sc->q, nothing, self_close_final, sc);
}

static void test_close_from_done_and_idle(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct threadpool *pool = threadpool_new(base, 2);
    struct self_close sc = {.base = base};
    sc.q = serial_queue_new(pool);
    serial_queue_submit(sc.q, nothing, first_done, &sc);
    serial_queue_submit(sc.q, nothing, second_done, &sc);
    event_base_dispatch(base);
    assert_int_equal(sc.first_done, 1);
    assert_int_equal(sc.second_cancelled, 1);
    assert_true(sc.final_done);

    /* idle, no final job: freed at once */
    struct serial_queue *q = serial_queue_new(pool);
    assert_false(serial_queue_busy(q));
    serial_queue_close(q, NULL, NULL, NULL);
    threadpool_free(pool);
    event_base_free(base);
}

/* ---- the loop stays responsive ---- */

struct latency {
    struct event_base *base;
    double timer_added, timer_fired;
    bool job_done;
};

static void sleep_2s(void *arg)
{
    (void)arg;
    sleep(2);
}

static void sleep_done(void *arg, bool cancelled)
{
    struct latency *l = arg;
    assert_false(cancelled);
    l->job_done = true;
    event_base_loopbreak(l->base);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct latency *l = arg;
    l->timer_fired = now_ms();
}

static void test_blocking_job_does_not_delay_timer(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct threadpool *pool = threadpool_new(base, 2);
    struct serial_queue *q = serial_queue_new(pool);
    struct latency l = {.base = base};
    double t0 = now_ms();
    serial_queue_submit(q, sleep_2s, sleep_done, &l);
    struct event *timer = evtimer_new(base, timer_fired, &l);
    struct timeval tv = {0, 10000};
    l.timer_added = now_ms();
    evtimer_add(timer, &tv);
    event_base_dispatch(base);
    assert_true(l.job_done);
    assert_true(l.timer_fired > 0);
    double late = l.timer_fired - l.timer_added - 10.0;
    print_message("10 ms timer fired %.1f ms late; the 2 s job took %.0f ms\n", late,
                  now_ms() - t0);
    assert_true(late < 100.0);
    assert_true(now_ms() - t0 >= 1990.0);
    event_free(timer);
    serial_queue_close(q, NULL, NULL, NULL);
    threadpool_free(pool);
    event_base_free(base);
}

/* ---- a stopping worker drains the pool ---- */

struct drain_state {
    struct serial_queue *q;
    int works, dones;
    bool final_done;
};

static void drain_work(void *arg)
{
    struct drain_state *d = arg;
    usleep(20000);
    d->works++; /* jobs of one queue never overlap */
}

static void drain_final_done(void *arg)
{
    ((struct drain_state *)arg)->final_done = true;
}

static void drain_done(void *arg, bool cancelled)
{
    struct drain_state *d = arg;
    d->dones++;
    /* a session that ends from a done: its queue's final job comes later */
    if (!cancelled && d->dones == 2)
        serial_queue_close(d->q, drain_work, drain_final_done, d);
}

/* What sessions hand over at their end (the final job and its done on the
 * loop) is finished by threadpool_drain(), not dropped by threadpool_free(). */
static void test_drain_runs_final_jobs(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    loop_thread = pthread_self();
    struct threadpool *pool = threadpool_new(base, 2);
    struct drain_state d = {0};
    d.q = serial_queue_new(pool);
    for (int i = 0; i < 3; i++)
        serial_queue_submit(d.q, drain_work, drain_done, &d);
    threadpool_drain(pool);
    assert_true(d.final_done);
    assert_int_equal(d.dones, 3); /* two done, the third cancelled */
    assert_int_equal(d.works, 3); /* two jobs and the final one */
    threadpool_drain(pool);       /* nothing left: returns at once */
    threadpool_free(pool);
    event_base_free(base);
}

int main(void)
{
    loop_thread = pthread_self();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_within_queue),
        cmocka_unit_test(test_two_queues_in_parallel),
        cmocka_unit_test(test_close_with_running_and_pending),
        cmocka_unit_test(test_close_from_done_and_idle),
        cmocka_unit_test(test_blocking_job_does_not_delay_timer),
        cmocka_unit_test(test_drain_runs_final_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
