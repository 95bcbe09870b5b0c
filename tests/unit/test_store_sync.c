/* store/: what a session learns of changes made elsewhere: a sync that holds
 * back expunges while the client's sequence numbers must not move, the sync
 * that skips the Maildir scan when the watched mailbox did not change, and
 * the CONDSTORE/QRESYNC queries (changed and expunged since a MODSEQ). Each
 * test works in its own temporary directory; "elsewhere" is a second store
 * handle on the same Maildir, as another process would have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/maildir.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char msg[] = "From: a@example.com\r\nSubject: hello\r\n\r\nbody\r\n";

struct ctx {
    char root[64];
    char maildir[96];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    snprintf(c->root, sizeof(c->root), "/tmp/gannet-sync-XXXXXX");
    if (!mkdtemp(c->root))
        return -1;
    snprintf(c->maildir, sizeof(c->maildir), "%s/Maildir", c->root);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    maildir_remove_tree(c->root);
    free(c);
    return 0;
}

static struct store *open_store(struct ctx *c)
{
    struct store *s = NULL;
    struct buf err = BUF_INIT;
    if (store_open(c->maildir, STORE_OPEN_CREATE | STORE_OPEN_NO_SPECIAL_USE, &s, &err) < 0)
        fail_msg("store_open: %s", buf_cstr(&err));
    buf_free(&err);
    return s;
}

static struct store_mailbox *open_mbox(struct store *s, const char *name)
{
    struct store_mailbox *m = NULL;
    struct buf err = BUF_INIT;
    if (store_mailbox_open(s, name, &m, &err) < 0)
        fail_msg("open %s: %s", name, buf_cstr(&err));
    buf_free(&err);
    return m;
}

static uint32_t append(struct store_mailbox *m)
{
    uint32_t uid = 0;
    struct store_append_options o = {.internal_date = 1700000000};
    assert_int_equal(store_append(m, msg, strlen(msg), &o, &uid, NULL), 0);
    return uid;
}

static void expunge_uid(struct store_mailbox *m, uint32_t uid)
{
    struct store_uid_range r = {uid, uid};
    assert_int_equal(store_expunge(m, &r, 1, false, NULL, NULL), 0);
}

static void flag_uid(struct store_mailbox *m, uint32_t uid, unsigned flags)
{
    struct store_uid_range r = {uid, uid};
    struct store_flags_result fr;
    assert_int_equal(store_set_flags(m, &r, 1, STORE_FLAGS_ADD, flags, NULL, 0, 0, &fr, NULL), 0);
    store_flags_result_free(&fr);
}

static void assert_view(struct store_mailbox *m, const uint32_t *uids, size_t n)
{
    const struct store_uids *v = store_mailbox_view(m);
    assert_int_equal(v->count, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v->uids[i], uids[i]);
}

/* During FETCH, STORE and SEARCH an expunge made elsewhere is not told and
 * the view keeps the message in its place, new messages coming after it;
 * the flag changes wait with it; the next full sync reports it all. */
static void test_keep_expunged(void **state)
{
    struct ctx *c = *state;
    struct store *s1 = open_store(c), *s2 = open_store(c);
    struct store_mailbox *m1 = open_mbox(s1, "INBOX");
    for (int i = 0; i < 3; i++)
        append(m1);
    assert_int_equal(store_mailbox_sync(m1, NULL, NULL), 0);
    struct store_mailbox *m2 = open_mbox(s2, "INBOX");

    expunge_uid(m2, 2);
    flag_uid(m2, 1, STORE_FLAG_FLAGGED);
    uint32_t added = append(m2);
    assert_int_equal(added, 4);

    struct store_sync_result res;
    assert_int_equal(store_mailbox_sync_flags(m1, STORE_SYNC_KEEP_EXPUNGED, &res, NULL), 0);
    assert_int_equal(res.expunged.count, 0);
    assert_int_equal(res.flags_changed.count, 0);
    assert_int_equal(res.added.count, 1);
    assert_int_equal(res.added.uids[0], 4);
    store_sync_result_free(&res);
    const uint32_t held[] = {1, 2, 3, 4};
    assert_view(m1, held, 4);

    /* held again, nothing new to add */
    assert_int_equal(store_mailbox_sync_flags(m1, STORE_SYNC_KEEP_EXPUNGED, &res, NULL), 0);
    assert_int_equal(res.expunged.count + res.added.count + res.flags_changed.count, 0);
    store_sync_result_free(&res);

    assert_int_equal(store_mailbox_sync(m1, &res, NULL), 0);
    assert_int_equal(res.expunged.count, 1);
    assert_int_equal(res.expunged.uids[0], 2);
    assert_int_equal(res.added.count, 0);
    /* UID 1's change (the message added meanwhile may be listed too) */
    assert_true(res.flags_changed.count >= 1);
    assert_int_equal(res.flags_changed.uids[0], 1);
    store_sync_result_free(&res);
    const uint32_t after[] = {1, 3, 4};
    assert_view(m1, after, 3);

    /* with nothing expunged, the flag changes are not held back */
    flag_uid(m2, 3, STORE_FLAG_SEEN);
    assert_int_equal(store_mailbox_sync_flags(m1, STORE_SYNC_KEEP_EXPUNGED, &res, NULL), 0);
    assert_int_equal(res.flags_changed.count, 1);
    assert_int_equal(res.flags_changed.uids[0], 3);
    store_sync_result_free(&res);

    /* STORE's own look at the flag changes (store_mailbox_flag_changes) does
     * not hide a message another session added meanwhile from the next sync */
    uint32_t later = append(m2);
    struct store_uids changed = {0};
    assert_int_equal(store_mailbox_flag_changes(m1, true, &changed, NULL), 0);
    store_uids_free(&changed);
    assert_int_equal(store_mailbox_sync(m1, &res, NULL), 0);
    assert_int_equal(res.added.count, 1);
    assert_int_equal(res.added.uids[0], later);
    store_sync_result_free(&res);

    store_mailbox_close(m2);
    store_mailbox_close(m1);
    store_close(s2);
    store_close(s1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Holds the index's write lock as another process's long transaction would. */
static sqlite3 *hold_write_lock(struct ctx *c)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite", c->maildir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

/* A watched mailbox that did not change is synced without scanning its
 * Maildir or taking the index's write lock (a command's sync costs almost
 * nothing, and does not wait for another process's transaction); any change,
 * by gannet or by another program, is still seen at the next sync. */
static void test_sync_skips_unchanged(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    append(m);
    assert_true(store_notify_fd(s) >= 0);
    assert_int_equal(store_notify_watch(s, "INBOX", NULL), 0);
    struct store_sync_result res;
    /* the first sync after the watch scans (what came before is unknown) */
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);

    sqlite3 *locker = hold_write_lock(c);
    double t0 = now_s();
    assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(res.added.count + res.expunged.count + res.flags_changed.count, 0);
    assert_int_equal(res.uidnext, 2);
    store_sync_result_free(&res);
    sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(locker);

    /* a program delivers into new/: the event makes the next sync scan */
    char p[512];
    snprintf(p, sizeof(p), "%s/new/1700000000.P1.otherhost", c->maildir);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(msg, f);
    fclose(f);
    assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
    assert_int_equal(res.added.count, 1);
    store_sync_result_free(&res);

    /* another handle's flag change and expunge */
    struct store *s2 = open_store(c);
    struct store_mailbox *m2 = open_mbox(s2, "INBOX");
    flag_uid(m2, 1, STORE_FLAG_SEEN);
    assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
    assert_int_equal(res.flags_changed.count, 1);
    store_sync_result_free(&res);
    expunge_uid(m2, 2);
    assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
    assert_int_equal(res.expunged.count, 1);
    assert_int_equal(res.expunged.uids[0], 2);
    store_sync_result_free(&res);
    store_mailbox_close(m2);
    store_close(s2);

    /* a mailbox that is not watched is scanned every time */
    assert_int_equal(store_mailbox_create(s, "Other", STORE_SPECIAL_NONE, NULL), 0);
    struct store_mailbox *o = open_mbox(s, "Other");
    snprintf(p, sizeof(p), "%s/.Other/cur/1700000001.P2.otherhost:2,S", c->maildir);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs(msg, f);
    fclose(f);
    assert_int_equal(store_mailbox_sync(o, &res, NULL), 0);
    assert_int_equal(res.added.count, 1);
    store_sync_result_free(&res);
    store_mailbox_close(o);

    store_mailbox_close(m);
    store_close(s);
}

static void assert_ranges(const struct store_uid_range *r, size_t n, const char *want)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        if (r[i].first == r[i].last)
            buf_printf(&b, "%u", r[i].first);
        else
            buf_printf(&b, "%u:%u", r[i].first, r[i].last);
    }
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

/* QRESYNC's questions: which messages changed and which were expunged since
 * a MODSEQ, within the UIDs the client knows (RFC 7162 §3.2.5.1). */
static void test_changed_and_vanished_since(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    struct store_uid_range *v = NULL;
    size_t nv = 0;
    /* an empty mailbox that never had a message: nothing vanished */
    assert_int_equal(store_mailbox_vanished(m, 1, NULL, 0, &v, &nv, NULL), 0);
    assert_int_equal(nv, 0);
    for (int i = 0; i < 10; i++)
        append(m);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    struct store_status st;
    assert_int_equal(store_mailbox_get_status(m, &st, NULL), 0);
    uint64_t before_expunges = st.highestmodseq;
    /* nothing expunged yet: every UID of the set below UIDNEXT not in the
     * mailbox (none here; 11:20 were never given out) */
    struct store_uid_range known = {1, 20};
    assert_int_equal(store_mailbox_vanished(m, before_expunges, &known, 1, &v, &nv, NULL), 0);
    assert_int_equal(nv, 0);

    expunge_uid(m, 3);
    expunge_uid(m, 4);
    assert_int_equal(store_mailbox_get_status(m, &st, NULL), 0);
    uint64_t mid = st.highestmodseq;
    flag_uid(m, 5, STORE_FLAG_SEEN);
    expunge_uid(m, 8);
    flag_uid(m, 9, STORE_FLAG_FLAGGED);

    assert_int_equal(store_mailbox_vanished(m, before_expunges, NULL, 0, &v, &nv, NULL), 0);
    assert_ranges(v, nv, "3:4,8");
    free(v);
    v = NULL;
    nv = 0;
    assert_int_equal(store_mailbox_vanished(m, mid, NULL, 0, &v, &nv, NULL), 0);
    assert_ranges(v, nv, "8");
    free(v);
    v = NULL;
    nv = 0;
    /* only the UIDs the client knows */
    struct store_uid_range some[] = {{1, 3}, {6, 7}};
    assert_int_equal(store_mailbox_vanished(m, before_expunges, some, 2, &v, &nv, NULL), 0);
    assert_ranges(v, nv, "3");
    free(v);
    v = NULL;
    nv = 0;
    /* a MODSEQ from before the oldest expunge remembered: every UID of the
     * set not in the mailbox */
    assert_int_equal(store_mailbox_vanished(m, 0, &known, 1, &v, &nv, NULL), 0);
    assert_ranges(v, nv, "3:4,8");
    free(v);
    v = NULL;
    nv = 0;

    struct store_uids changed = {0};
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    assert_int_equal(store_mailbox_changed_since(m, mid, NULL, 0, &changed, NULL), 0);
    assert_int_equal(changed.count, 2);
    assert_int_equal(changed.uids[0], 5);
    assert_int_equal(changed.uids[1], 9);
    store_uids_free(&changed);
    struct store_uid_range upto8 = {1, 8};
    assert_int_equal(store_mailbox_changed_since(m, mid, &upto8, 1, &changed, NULL), 0);
    assert_int_equal(changed.count, 1);
    assert_int_equal(changed.uids[0], 5);
    store_uids_free(&changed);

    /* an index rebuilt from the Maildir forgets the expunges: all UIDs below
     * UIDNEXT that are not there are reported */
    store_mailbox_close(m);
    assert_int_equal(store_rebuild(s, NULL, NULL, NULL), 0);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_mailbox_vanished(m, mid, &known, 1, &v, &nv, NULL), 0);
    assert_ranges(v, nv, "3:4,8");
    free(v);

    store_mailbox_close(m);
    store_close(s);
}

/* Two sessions of a new user log in at once, in two worker processes: both
 * open the store while neither index exists yet. Each must find the one the
 * other made (never take it, half made, for a corrupt one to move aside) and
 * see INBOX. */
static void test_concurrent_first_open(void **state)
{
    struct ctx *c = *state;
    for (int round = 0; round < 20; round++) {
        char dir[160];
        snprintf(dir, sizeof(dir), "%s/u%d/Maildir", c->root, round);
        pid_t pids[3];
        fflush(NULL);
        for (int k = 0; k < 3; k++) {
            pids[k] = fork();
            if (pids[k] == 0) {
                struct store *s = NULL;
                if (store_open(dir, STORE_OPEN_CREATE, &s, NULL) < 0)
                    _exit(1);
                struct store_mailbox *m = NULL;
                if (store_mailbox_open(s, "INBOX", &m, NULL) < 0)
                    _exit(2);
                struct store_append_options o = {.internal_date = 1700000000};
                if (store_append(m, msg, strlen(msg), &o, NULL, NULL) < 0)
                    _exit(3);
                store_mailbox_close(m);
                store_close(s);
                _exit(0);
            }
        }
        for (int k = 0; k < 3; k++) {
            int status = 0;
            assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        struct store *s = NULL;
        assert_int_equal(store_open(dir, 0, &s, NULL), 0);
        struct store_status st;
        assert_int_equal(store_mailbox_status(s, "INBOX", &st, NULL), 0);
        assert_int_equal(st.messages, 3);
        store_close(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_expunged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_skips_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_and_vanished_since, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
