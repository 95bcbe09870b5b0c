/* store/deliver.h and what it rests on (store_mailbox_open_append,
 * store_append_commit_copy): one message written once into the mailboxes of
 * several users, each recipient's copy its own durable file with its own
 * UID; an abort leaves nothing behind; a recipient that fails does not stop
 * the others; appends without a sync never collide with what another
 * program dropped into the Maildir. Each test works in its own temporary
 * directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/deliver.h"
#include "store/maildir.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char part1[] = "Return-Path: <sender@example.org>\r\n";
static const char part2[] = "From: sender@example.org\r\nTo: a@example.com, b@example.com\r\n"
                            "Subject: one message, three mailboxes\r\n\r\nbody walrus\r\n";

struct ctx {
    char root[64];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    snprintf(c->root, sizeof(c->root), "/tmp/gannet-deliver-XXXXXX");
    if (!mkdtemp(c->root))
        return -1;
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

static struct store *open_user(struct ctx *c, const char *user)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s/Maildir", c->root, user);
    struct store *s = NULL;
    struct buf err = BUF_INIT;
    if (store_open(path, STORE_OPEN_CREATE, &s, &err) < 0)
        fail_msg("store_open: %s", buf_cstr(&err));
    buf_free(&err);
    return s;
}

/* Entries of dir (without . and ..). */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The bytes of message uid of mailbox name, and its file's inode. */
static char *message_bytes(struct store *s, const char *name, uint32_t uid, size_t *len, ino_t *ino)
{
    struct store_mailbox *m = NULL;
    struct buf err = BUF_INIT;
    if (store_mailbox_open(s, name, &m, &err) < 0)
        fail_msg("open %s: %s", name, buf_cstr(&err));
    int fd = -1;
    uint64_t size = 0;
    if (store_message_open(m, uid, &fd, &size, &err) < 0)
        fail_msg("message %u: %s", uid, buf_cstr(&err));
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *ino = st.st_ino;
    char *data = malloc(size + 1);
    assert_int_equal(read(fd, data, size), (ssize_t)size);
    data[size] = '\0';
    *len = size;
    close(fd);
    store_mailbox_close(m);
    buf_free(&err);
    return data;
}

static uint32_t messages_in(struct store *s, const char *name)
{
    struct store_status st;
    assert_int_equal(store_mailbox_status(s, name, &st, NULL), 0);
    return st.messages;
}

static void test_one_message_three_mailboxes(void **state)
{
    struct ctx *c = *state;
    struct store *alice = open_user(c, "alice"), *bob = open_user(c, "bob");
    struct buf err = BUF_INIT;
    assert_int_equal(store_mailbox_create(bob, "Lists", 0, &err), 0);
    struct deliver_ctx *d;
    assert_int_equal(deliver_begin(alice, "INBOX", &d, &err), 0);
    assert_int_equal(deliver_write(d, part1, strlen(part1), &err), 0);
    assert_int_equal(deliver_write(d, part2, strlen(part2), &err), 0);
    uint32_t uid_bob_inbox = 0, uid_bob_lists = 0, uid_alice = 0;
    assert_int_equal(deliver_commit_also(d, bob, "INBOX", &uid_bob_inbox, &err), 0);
    assert_int_equal(deliver_commit_also(d, bob, "Lists", &uid_bob_lists, &err), 0);
    assert_int_equal(deliver_commit(d, &uid_alice, &err), 0);
    assert_int_equal(uid_alice, 1);
    assert_int_equal(uid_bob_inbox, 1);
    assert_int_equal(uid_bob_lists, 1);

    /* every copy is the whole message, in a file of its own name */
    size_t expected_len = strlen(part1) + strlen(part2);
    char expected[512];
    snprintf(expected, sizeof(expected), "%s%s", part1, part2);
    size_t len;
    ino_t ino_alice, ino_inbox, ino_lists;
    char *a = message_bytes(alice, "INBOX", 1, &len, &ino_alice);
    assert_int_equal(len, expected_len);
    assert_memory_equal(a, expected, len);
    char *b = message_bytes(bob, "INBOX", 1, &len, &ino_inbox);
    assert_memory_equal(b, expected, len);
    char *l = message_bytes(bob, "Lists", 1, &len, &ino_lists);
    assert_memory_equal(l, expected, len);
    /* on one filesystem, written once: the same inode under three names */
    assert_true(ino_alice == ino_inbox && ino_inbox == ino_lists);
    free(a);
    free(b);
    free(l);

    /* the cached ENVELOPE came from the one parse */
    struct store_mailbox *m = NULL;
    assert_int_equal(store_mailbox_open(bob, "Lists", &m, &err), 0);
    struct store_fetch_iter *it;
    const struct store_message *msg;
    assert_int_equal(store_fetch_begin(m, NULL, 0, STORE_FETCH_ENVELOPE, &it, &err), 0);
    assert_int_equal(store_fetch_next(it, &msg, &err), 1);
    assert_non_null(strstr(msg->envelope, "one message, three mailboxes"));
    store_fetch_end(it);
    store_mailbox_close(m);

    /* nothing left in any tmp/ */
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/alice/Maildir/tmp", c->root);
    assert_int_equal(count_entries(dir), 0);
    snprintf(dir, sizeof(dir), "%s/bob/Maildir/tmp", c->root);
    assert_int_equal(count_entries(dir), 0);
    snprintf(dir, sizeof(dir), "%s/bob/Maildir/.Lists/tmp", c->root);
    assert_int_equal(count_entries(dir), 0);
    store_close(alice);
    store_close(bob);
    buf_free(&err);
}

static void test_abort_leaves_nothing(void **state)
{
    struct ctx *c = *state;
    struct store *alice = open_user(c, "alice");
    struct buf err = BUF_INIT;
    struct deliver_ctx *d;
    assert_int_equal(deliver_begin(alice, "INBOX", &d, &err), 0);
    assert_int_equal(deliver_write(d, part2, 20, &err), 0);
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/alice/Maildir/tmp", c->root);
    assert_int_equal(count_entries(dir), 1); /* the message being written */
    deliver_abort(d);
    assert_int_equal(count_entries(dir), 0);
    assert_int_equal(messages_in(alice, "INBOX"), 0);
    deliver_abort(NULL);
    store_close(alice);
    buf_free(&err);
}

static void test_failed_recipient_does_not_stop_others(void **state)
{
    struct ctx *c = *state;
    struct store *alice = open_user(c, "alice"), *bob = open_user(c, "bob");
    struct buf err = BUF_INIT;
    struct deliver_ctx *d;
    assert_int_equal(deliver_begin(alice, "INBOX", &d, &err), 0);
    assert_int_equal(deliver_write(d, part2, strlen(part2), &err), 0);
    /* bob's mailbox went away between RCPT and the end of DATA */
    assert_int_equal(deliver_commit_also(d, bob, "Gone", NULL, &err), -ENOENT);
    uint32_t uid = 0;
    assert_int_equal(deliver_commit_also(d, bob, "INBOX", &uid, &err), 0);
    assert_int_equal(uid, 1);
    assert_int_equal(deliver_commit(d, &uid, &err), 0);
    assert_int_equal(messages_in(alice, "INBOX"), 1);
    assert_int_equal(messages_in(bob, "INBOX"), 1);
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/bob/Maildir/tmp", c->root);
    assert_int_equal(count_entries(dir), 0);
    store_close(alice);
    store_close(bob);
    buf_free(&err);
}

static void test_deliver_mailbox_fallback(void **state)
{
    struct ctx *c = *state;
    struct store *alice = open_user(c, "alice");
    struct buf err = BUF_INIT;
    assert_int_equal(store_mailbox_create(alice, "Work/2026", 0, &err), 0);
    assert_string_equal(deliver_mailbox(alice, "Work/2026"), "Work/2026");
    assert_string_equal(deliver_mailbox(alice, NULL), "INBOX");
    assert_string_equal(deliver_mailbox(alice, ""), "INBOX");
    assert_string_equal(deliver_mailbox(alice, "Nope"), "INBOX");
    assert_string_equal(deliver_mailbox(alice, "../../etc"), "INBOX");
    assert_string_equal(deliver_mailbox(alice, "Work/../Work"), "INBOX");
    store_close(alice);
    buf_free(&err);
}

/* An append through a handle that never synced, while another program
 * drops a file into new/: both messages end up with UIDs of their own. */
static void test_append_without_sync(void **state)
{
    struct ctx *c = *state;
    struct store *alice = open_user(c, "alice");
    struct buf err = BUF_INIT;
    struct deliver_ctx *d;
    assert_int_equal(deliver_begin(alice, "INBOX", &d, &err), 0);
    char path[200];
    snprintf(path, sizeof(path), "%s/alice/Maildir/new/1700000000.outside.host", c->root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("Subject: from procmail\n\nhi\n", f);
    fclose(f);
    assert_int_equal(deliver_write(d, part2, strlen(part2), &err), 0);
    uint32_t uid = 0;
    assert_int_equal(deliver_commit(d, &uid, &err), 0);
    struct store_mailbox *m = NULL;
    assert_int_equal(store_mailbox_open(alice, "INBOX", &m, &err), 0);
    const struct store_uids *view = store_mailbox_view(m);
    assert_int_equal(view->count, 2);
    assert_true(view->uids[0] != view->uids[1]);
    assert_true(view->uids[0] == uid || view->uids[1] == uid);
    store_mailbox_close(m);
    store_close(alice);
    buf_free(&err);
}

struct copy_thread {
    struct deliver_ctx *d;
    struct store *store;
    int result;
};

static void *commit_in_thread(void *arg)
{
    struct copy_thread *t = arg;
    t->result = deliver_commit_also(t->d, t->store, "INBOX", NULL, NULL);
    return NULL;
}

/* After deliver_finish(), the copies for different stores are committed
 * from several threads at once (what LMTP does for a message with many
 * recipients), and every one arrives whole. */
static void test_copies_from_several_threads(void **state)
{
    struct ctx *c = *state;
    enum { USERS = 6, ROUNDS = 10 };
    struct store *first = open_user(c, "first");
    struct store *users[USERS];
    for (int u = 0; u < USERS; u++) {
        char name[16];
        snprintf(name, sizeof(name), "user%d", u);
        users[u] = open_user(c, name);
    }
    struct buf err = BUF_INIT;
    for (int round = 0; round < ROUNDS; round++) {
        struct deliver_ctx *d;
        assert_int_equal(deliver_begin(first, "INBOX", &d, &err), 0);
        assert_int_equal(deliver_write(d, part2, strlen(part2), &err), 0);
        assert_int_equal(deliver_finish(d, &err), 0);
        struct copy_thread t[USERS];
        pthread_t th[USERS];
        for (int u = 0; u < USERS; u++) {
            t[u] = (struct copy_thread){d, users[u], -1};
            assert_int_equal(pthread_create(&th[u], NULL, commit_in_thread, &t[u]), 0);
        }
        for (int u = 0; u < USERS; u++) {
            pthread_join(th[u], NULL);
            assert_int_equal(t[u].result, 0);
        }
        assert_int_equal(deliver_commit(d, NULL, &err), 0);
    }
    for (int u = 0; u < USERS; u++) {
        assert_int_equal(messages_in(users[u], "INBOX"), ROUNDS);
        size_t len;
        ino_t ino;
        char *data = message_bytes(users[u], "INBOX", ROUNDS, &len, &ino);
        assert_int_equal(len, strlen(part2));
        assert_memory_equal(data, part2, len);
        free(data);
        store_close(users[u]);
    }
    assert_int_equal(messages_in(first, "INBOX"), ROUNDS);
    store_close(first);
    buf_free(&err);
}

static void test_permanent_errors(void **state)
{
    (void)state;
    assert_true(deliver_error_is_permanent(-EDQUOT));
    assert_true(deliver_error_is_permanent(-EFBIG));
    assert_false(deliver_error_is_permanent(-ENOSPC));
    assert_false(deliver_error_is_permanent(-EAGAIN));
    assert_false(deliver_error_is_permanent(-EIO));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_message_three_mailboxes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_recipient_does_not_stop_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deliver_mailbox_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_without_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies_from_several_threads, setup, teardown),
        cmocka_unit_test(test_permanent_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
