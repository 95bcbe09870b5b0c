/* An LMTP session's stores on its serial queue: see lmtp-store.h. */
#include "lmtp/lmtp-store.h"

#include "auth/passdb.h"
#include "lib/serial-queue.h"
#include "lib/settings.h"
#include "store/deliver.h"
#include "store/mail-location.h"
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Stores kept open between transactions: the next message for the same
 * users (a mailing list, a busy mailbox) skips opening them again (a SQLite
 * open, and a checkpoint with its fsyncs at the close), while a session
 * that delivers to many users keeps a few only: each holds three file
 * descriptors (the index, its WAL and shared memory). */
#define LMTP_STORE_CACHE 8

struct lmtp_user {
    char *name;    /* the user as the userdb knows them */
    char *maildir; /* the key: two names of one user share one store */
    struct store *store;
    unsigned long used; /* the transaction that used it last */
};

/* Owned by the queue; freed after the session's last job. */
struct lmtp_store_side {
    const struct settings *set; /* the worker's, which outlives every queue */
    struct authdb *db;          /* the worker's auth service's */
    struct lmtp_user **users;
    size_t n_users;
    unsigned long transaction; /* counts the transactions that ended */
    struct deliver_ctx *delivery;
    int delivery_error; /* why the message in progress was given up */
};

struct lmtp_store {
    struct serial_queue *queue;
    struct lmtp_store_side *side;
};

enum job_kind { JOB_RCPT, JOB_BEGIN, JOB_WRITE, JOB_COMMIT, JOB_END };

/* One job; owned by the queue from submit to its done. */
struct job {
    struct lmtp_store_side *side;
    enum job_kind kind;
    void *owner;
    lmtp_rcpt_done_fn *rcpt_done;
    lmtp_store_done_fn *status_done;
    lmtp_commit_done_fn *commit_done;
    int result;
    struct buf err;
    /* JOB_RCPT */
    char *local, *domain;
    uint64_t size;
    struct lmtp_rcpt_result rcpt;
    struct buf mailbox, user_name;
    /* JOB_BEGIN, JOB_WRITE */
    struct lmtp_user *user;
    char *data;
    size_t len;
    /* JOB_COMMIT */
    struct lmtp_commit_rcpt *rcpts; /* the mailbox names are the job's copies */
    struct lmtp_commit_result *results;
    struct buf *reasons;
    size_t n;
};

/* ---- users and their stores ---- */

static void user_close(struct lmtp_user *u)
{
    store_close(u->store);
    free(u->name);
    free(u->maildir);
    free(u);
}

static int by_recent_use(const void *a, const void *b)
{
    const struct lmtp_user *x = *(struct lmtp_user *const *)a, *y = *(struct lmtp_user *const *)b;
    return x->used < y->used ? 1 : x->used > y->used ? -1 : 0;
}

/* The transaction is over: its recipients hold no user any more, so all but
 * the most recently used stores can go. */
static void end_transaction(struct lmtp_store_side *side)
{
    deliver_abort(side->delivery);
    side->delivery = NULL;
    side->delivery_error = 0;
    side->transaction++;
    if (side->n_users > LMTP_STORE_CACHE) {
        qsort(side->users, side->n_users, sizeof(*side->users), by_recent_use);
        while (side->n_users > LMTP_STORE_CACHE)
            user_close(side->users[--side->n_users]);
    }
    /* what stays open between messages costs little while idle */
    for (size_t i = 0; i < side->n_users; i++)
        store_release_memory(side->users[i]->store);
}

static struct lmtp_user *user_open(struct lmtp_store_side *side, const char *name,
                                   const char *maildir, struct buf *err)
{
    for (size_t i = 0; i < side->n_users; i++)
        if (strcmp(side->users[i]->maildir, maildir) == 0)
            return side->users[i];
    struct store *store;
    if (store_user_open_at(name, maildir, STORE_OPEN_CREATE, &store, err) < 0)
        return NULL;
    struct lmtp_user *u = xcalloc(1, sizeof(*u));
    u->name = xstrdup(name);
    u->maildir = xstrdup(maildir);
    u->store = store;
    side->users = xrealloc(side->users, (side->n_users + 1) * sizeof(*side->users));
    side->users[side->n_users++] = u;
    return u;
}

/* ---- RCPT TO ---- */

/* 1 found (name and u set), 0 unknown, -1 the userdb could not answer. */
static int lookup_one(struct lmtp_store_side *side, const char *name, struct buf *found,
                      struct userdb_result *u, struct buf *err)
{
    userdb_result_free(u);
    int r = authdb_userdb_lookup(side->db, name, u, err);
    if (r > 0) {
        buf_reset(found);
        buf_puts(found, u->user ? u->user : name);
    }
    return r;
}

/* The names a recipient may have in the userdb, in this order:
 * "local@domain" and "local" (a passwd-file of plain names serves every
 * domain the MTA hands over), each as given and then in lower case (as
 * Dovecot's default auth_username_format = %Lu has it). */
static int lookup_user(struct lmtp_store_side *side, const char *local, const char *domain,
                       struct buf *found, struct userdb_result *u, struct buf *err)
{
    struct buf name = BUF_INIT;
    int r = 0;
    for (int form = domain && *domain ? 0 : 1; form < 2 && r == 0; form++) {
        buf_reset(&name);
        buf_puts(&name, local);
        if (form == 0)
            buf_printf(&name, "@%s", domain);
        r = lookup_one(side, buf_cstr(&name), found, u, err);
        bool has_upper = false;
        for (size_t i = 0; i < name.len; i++) {
            has_upper |= isupper((unsigned char)name.data[i]) != 0;
            name.data[i] = (char)tolower((unsigned char)name.data[i]);
        }
        if (r == 0 && has_upper)
            r = lookup_one(side, buf_cstr(&name), found, u, err);
    }
    buf_free(&name);
    return r;
}

static void rcpt_fail(struct job *j, enum lmtp_rcpt_status status, const char *reason)
{
    j->rcpt.status = status;
    if (reason && j->err.len == 0)
        buf_puts(&j->err, reason);
}

static void rcpt_work(struct job *j)
{
    struct lmtp_store_side *side = j->side;
    const struct settings *set = side->set;
    /* RFC 5233 subaddress: "user+detail", with Dovecot's recipient_delimiter
     * (each of its characters is a delimiter; the first one found splits). */
    const char *delims = set->recipient_delimiter ? set->recipient_delimiter : "";
    size_t cut = *delims ? strcspn(j->local, delims) : strlen(j->local);
    char *local = xstrndup(j->local, cut);
    const char *detail = j->local[cut] ? j->local + cut + 1 : NULL;
    struct userdb_result u = {0};
    u.uid = u.gid = -1;
    int r = lookup_user(side, local, j->domain, &j->user_name, &u, &j->err);
    /* RFC 5321 §4.5.1: postmaster must reach someone. */
    if (r == 0 && strcasecmp(local, "postmaster") == 0 && set->postmaster_address &&
        *set->postmaster_address) {
        const char *at = strrchr(set->postmaster_address, '@');
        char *pm_local =
            at ? xstrndup(set->postmaster_address, (size_t)(at - set->postmaster_address))
               : xstrdup(set->postmaster_address);
        r = lookup_user(side, pm_local, at ? at + 1 : NULL, &j->user_name, &u, &j->err);
        free(pm_local);
        detail = NULL;
    }
    free(local);
    if (r < 0) {
        rcpt_fail(j, LMTP_RCPT_TEMPFAIL, "userdb lookup failed");
        userdb_result_free(&u);
        return;
    }
    if (r == 0) {
        rcpt_fail(j, LMTP_RCPT_UNKNOWN, "no such user");
        userdb_result_free(&u);
        return;
    }
    struct store_user su = {
        .user = buf_cstr(&j->user_name), .home = u.home, .uid = u.uid, .gid = u.gid};
    struct buf maildir = BUF_INIT;
    r = store_user_maildir(&su, set->mail_location, geteuid(), getegid(), &maildir, &j->err);
    userdb_result_free(&u);
    struct lmtp_user *user = r < 0 ? NULL : user_open(side, su.user, buf_cstr(&maildir), &j->err);
    if (!user) {
        rcpt_fail(j, LMTP_RCPT_TEMPFAIL, NULL);
        buf_free(&maildir);
        return;
    }
    user->used = side->transaction;
    buf_puts(&j->mailbox, detail && *detail && set->lmtp_save_to_detail_mailbox
                              ? deliver_mailbox(user->store, detail)
                              : "INBOX");
    /* RFC 1870 §6.1 with the disk for a quota: a message announced bigger
     * than the room left is refused now, temporarily, rather than after it
     * was sent. */
    struct statvfs vfs;
    if (j->size && statvfs(buf_cstr(&maildir), &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < j->size) {
        buf_free(&maildir);
        rcpt_fail(j, LMTP_RCPT_NO_SPACE, "not enough free space for the announced SIZE");
        return;
    }
    buf_free(&maildir);
    j->rcpt.status = LMTP_RCPT_OK;
    j->rcpt.user = user;
}

/* ---- the message ---- */

static void begin_work(struct job *j)
{
    struct lmtp_store_side *side = j->side;
    deliver_abort(side->delivery);
    side->delivery = NULL;
    j->result = deliver_begin(j->user->store, buf_cstr(&j->mailbox), &side->delivery, &j->err);
    if (j->result == 0)
        j->result = deliver_write(side->delivery, j->data, j->len, &j->err);
    if (j->result < 0) {
        deliver_abort(side->delivery);
        side->delivery = NULL;
        side->delivery_error = j->result;
    }
}

static void write_work(struct job *j)
{
    struct lmtp_store_side *side = j->side;
    if (!side->delivery) {
        j->result = side->delivery_error ? side->delivery_error : -EIO;
        return;
    }
    j->result = deliver_write(side->delivery, j->data, j->len, &j->err);
    if (j->result < 0) {
        deliver_abort(side->delivery);
        side->delivery = NULL;
        side->delivery_error = j->result;
    }
}

/* The recipients of other stores are committed on up to this many threads
 * at once: each commit waits on its own fsyncs (the file's link in cur/,
 * gannet-uidlist, the index), and a message for a mailing list's members
 * should not wait for them one after the other. */
#define LMTP_COMMIT_THREADS 4

/* A commit of recipients 1..n-1, shared by its threads; recipient 0 owns
 * the message's file and is committed last, alone. */
struct commit_run {
    struct job *j;
    struct deliver_ctx *d;
    struct lmtp_user **users; /* distinct users of recipients 1..n-1 */
    size_t n_users;
    atomic_size_t next; /* the next user to take */
};

/* Takes one user at a time: a store is used by one thread at a time. */
static void *commit_users(void *arg)
{
    struct commit_run *run = arg;
    struct job *j = run->j;
    for (;;) {
        size_t k = atomic_fetch_add(&run->next, 1);
        if (k >= run->n_users)
            return NULL;
        for (size_t i = 1; i < j->n; i++) {
            if (j->rcpts[i].user != run->users[k])
                continue;
            struct lmtp_commit_result *res = &j->results[i];
            res->error = deliver_commit_also(run->d, j->rcpts[i].user->store, j->rcpts[i].mailbox,
                                             &res->uid, &j->reasons[i]);
        }
    }
}

static void commit_others(struct job *j, struct deliver_ctx *d)
{
    struct commit_run run = {.j = j, .d = d};
    run.users = xcalloc(j->n, sizeof(*run.users));
    for (size_t i = 1; i < j->n; i++) {
        size_t k = 0;
        while (k < run.n_users && run.users[k] != j->rcpts[i].user)
            k++;
        if (k == run.n_users)
            run.users[run.n_users++] = j->rcpts[i].user;
    }
    atomic_init(&run.next, 0);
    pthread_t threads[LMTP_COMMIT_THREADS - 1];
    size_t started = 0;
    while (started + 1 < LMTP_COMMIT_THREADS && started + 1 < run.n_users &&
           pthread_create(&threads[started], NULL, commit_users, &run) == 0)
        started++;
    commit_users(&run); /* this thread takes its share too */
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(run.users);
}

static void commit_work(struct job *j)
{
    struct lmtp_store_side *side = j->side;
    struct deliver_ctx *d = side->delivery;
    side->delivery = NULL;
    int r = d                      ? deliver_finish(d, &j->reasons[0])
            : side->delivery_error ? side->delivery_error
                                   : -EIO;
    if (r < 0) {
        for (size_t i = 0; i < j->n; i++) {
            j->results[i].error = r;
            if (i > 0 || !d)
                buf_puts(&j->reasons[i],
                         d ? buf_cstr(&j->reasons[0]) : "the message was not written");
        }
        deliver_abort(d);
    } else {
        commit_others(j, d);
        /* the first recipient's copy last: its commit ends d */
        j->results[0].error = deliver_commit(d, &j->results[0].uid, &j->reasons[0]);
    }
    for (size_t i = 0; i < j->n; i++)
        j->results[i].reason = buf_cstr(&j->reasons[i]);
    /* The stores are put away by the transaction's end job, after the
     * replies went out: closing one costs an fsync or two. */
}

/* ---- jobs ---- */

static void job_work(void *arg)
{
    struct job *j = arg;
    switch (j->kind) {
    case JOB_RCPT:
        rcpt_work(j);
        break;
    case JOB_BEGIN:
        begin_work(j);
        break;
    case JOB_WRITE:
        write_work(j);
        break;
    case JOB_COMMIT:
        commit_work(j);
        break;
    case JOB_END:
        end_transaction(j->side);
        break;
    }
}

static void job_free(struct job *j)
{
    buf_free(&j->err);
    free(j->local);
    free(j->domain);
    buf_free(&j->mailbox);
    buf_free(&j->user_name);
    free(j->data);
    for (size_t i = 0; i < j->n; i++) {
        free((char *)j->rcpts[i].mailbox);
        if (j->reasons)
            buf_free(&j->reasons[i]);
    }
    free(j->rcpts);
    free(j->results);
    free(j->reasons);
    free(j);
}

static void job_done(void *arg, bool cancelled)
{
    struct job *j = arg;
    if (!cancelled) {
        switch (j->kind) {
        case JOB_RCPT:
            j->rcpt.mailbox = buf_cstr(&j->mailbox);
            j->rcpt.user_name = buf_cstr(&j->user_name);
            j->rcpt.reason = buf_cstr(&j->err);
            j->rcpt_done(j->owner, &j->rcpt);
            break;
        case JOB_BEGIN:
        case JOB_WRITE:
            if (j->status_done)
                j->status_done(j->owner, j->result, buf_cstr(&j->err));
            break;
        case JOB_COMMIT:
            j->commit_done(j->owner, j->results, j->n);
            break;
        case JOB_END:
            break;
        }
    }
    job_free(j);
}

static struct job *job_new(struct lmtp_store *st, enum job_kind kind, void *owner)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->side = st->side;
    j->kind = kind;
    j->owner = owner;
    return j;
}

static void submit(struct lmtp_store *st, struct job *j)
{
    serial_queue_submit(st->queue, job_work, job_done, j);
}

struct lmtp_store *lmtp_store_new(struct threadpool *pool, const struct settings *set,
                                  struct authdb *db)
{
    struct lmtp_store *st = xcalloc(1, sizeof(*st));
    st->side = xcalloc(1, sizeof(*st->side));
    st->side->set = set;
    st->side->db = db;
    st->queue = serial_queue_new(pool);
    return st;
}

bool lmtp_store_busy(const struct lmtp_store *st)
{
    return serial_queue_busy(st->queue);
}

void lmtp_store_rcpt(struct lmtp_store *st, const char *local, const char *domain, uint64_t size,
                     lmtp_rcpt_done_fn *done, void *owner)
{
    struct job *j = job_new(st, JOB_RCPT, owner);
    j->local = xstrdup(local);
    j->domain = xstrdup(domain ? domain : "");
    j->size = size;
    j->rcpt_done = done;
    submit(st, j);
}

void lmtp_store_begin(struct lmtp_store *st, struct lmtp_user *user, const char *mailbox,
                      const char *prefix, size_t prefix_len, lmtp_store_done_fn *done, void *owner)
{
    struct job *j = job_new(st, JOB_BEGIN, owner);
    j->user = user;
    buf_puts(&j->mailbox, mailbox);
    j->data = xmalloc(prefix_len + 1);
    memcpy(j->data, prefix, prefix_len);
    j->len = prefix_len;
    j->status_done = done;
    submit(st, j);
}

void lmtp_store_write(struct lmtp_store *st, const void *data, size_t len, lmtp_store_done_fn *done,
                      void *owner)
{
    struct job *j = job_new(st, JOB_WRITE, owner);
    j->data = xmalloc(len + 1);
    memcpy(j->data, data, len);
    j->len = len;
    j->status_done = done;
    submit(st, j);
}

void lmtp_store_commit(struct lmtp_store *st, const struct lmtp_commit_rcpt *rcpts, size_t n,
                       lmtp_commit_done_fn *done, void *owner)
{
    struct job *j = job_new(st, JOB_COMMIT, owner);
    j->n = n;
    j->rcpts = xcalloc(n, sizeof(*j->rcpts));
    j->results = xcalloc(n, sizeof(*j->results));
    j->reasons = xcalloc(n, sizeof(*j->reasons));
    for (size_t i = 0; i < n; i++) {
        j->rcpts[i].user = rcpts[i].user;
        j->rcpts[i].mailbox = xstrdup(rcpts[i].mailbox);
    }
    j->commit_done = done;
    submit(st, j);
}

void lmtp_store_end(struct lmtp_store *st)
{
    submit(st, job_new(st, JOB_END, NULL));
}

/* The session's last job, on the pool. */
static void close_side(void *arg)
{
    struct lmtp_store_side *side = arg;
    deliver_abort(side->delivery);
    side->delivery = NULL;
    for (size_t i = 0; i < side->n_users; i++)
        user_close(side->users[i]);
    side->n_users = 0;
}

static void free_side(void *arg)
{
    struct lmtp_store_side *side = arg;
    free(side->users);
    free(side);
}

void lmtp_store_stop(struct lmtp_store *st)
{
    if (!st)
        return;
    serial_queue_close(st->queue, close_side, free_side, st->side);
    free(st);
}
