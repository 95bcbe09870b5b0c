/* mail/mbox: splitting on From_ lines, mboxrd unquoting, Content-Length, against
 * MimeKit's mbox test files (tests/data/mbox/) and hand-made cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mail/mbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA "../data/mbox/"

/* All messages of a reader, as NUL-terminated copies. */
struct messages {
    char *text[64];
    size_t len[64];
    time_t received[64];
    size_t n;
};

static void read_all(struct mbox_reader *r, struct messages *m)
{
    struct mbox_message msg;
    memset(m, 0, sizeof(*m));
    while (mbox_next(r, &msg) == 1) {
        assert_true(m->n < 64);
        m->text[m->n] = xstrndup(msg.data, msg.len);
        m->len[m->n] = msg.len;
        m->received[m->n] = msg.received;
        m->n++;
    }
    assert_int_equal(mbox_position(r), mbox_size(r));
    mbox_close(r);
}

static void read_file(const char *path, struct messages *m)
{
    struct mbox_reader *r;
    struct buf err = BUF_INIT;
    int rc = mbox_open(path, &r, &err);
    if (rc < 0)
        fail_msg("%s", buf_cstr(&err));
    buf_free(&err);
    read_all(r, m);
}

static void read_mem(const char *text, struct messages *m)
{
    struct mbox_reader *r;
    struct buf err = BUF_INIT;
    assert_int_equal(mbox_open_mem(text, strlen(text), &r, &err), 0);
    buf_free(&err);
    read_all(r, m);
}

static void free_all(struct messages *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->text[i]);
}

static void test_from_lines(void **state)
{
    (void)state;
    static const char *const yes[] = {"From -", "From - ", "From 1844347792267117879@xxx",
                                      "From - Mon Jun  3 12:50:27 1996",
                                      "From a@b.example Thu Nov 26 10:00:00 2026\r"};
    static const char *const no[] = {"From Russia with love",
                                     "From:",
                                     "From ",
                                     "From",
                                     "From 10:30 to 11:00 we meet",
                                     ">From - Mon Jun  3 12:50:27 1996",
                                     "from - Mon Jun  3 12:50:27 1996"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(mbox_is_from_line(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(mbox_is_from_line(no[i], strlen(no[i])));
}

static void test_simple(void **state)
{
    (void)state;
    struct messages m;
    read_file(DATA "mbox_simple.mbox.txt", &m);
    assert_int_equal(m.n, 3);
    for (size_t i = 0; i < m.n; i++) {
        assert_true(strncmp(m.text[i], "From: fejj@gnome.org\n", 21) == 0);
        assert_true(m.len[i] > 20);
        assert_string_equal(m.text[i] + m.len[i] - 18, "<-- You are here.\n");
        assert_int_equal(m.received[i], 0);
    }
    assert_non_null(strstr(m.text[2], "if a mime parser can correctly handle this"));
    free_all(&m);
}

static void test_unmunged(void **state)
{
    (void)state;
    struct messages m;
    read_file(DATA "mbox_unmunged.mbox.txt", &m); /* starts with a byte order mark */
    assert_int_equal(m.n, 2);
    assert_true(strncmp(m.text[0], "From: Jeffrey Stedfast", 22) == 0);
    /* the unquoted body line does not split the message */
    assert_non_null(strstr(m.text[0], "\n\nFrom Russia with love\n\nWhat does Thunderbird do?\n"));
    assert_string_equal(m.text[0] + m.len[0] - 27, "\nWhat does Thunderbird do?\n");
    assert_non_null(strstr(m.text[1], "\nFrom Russia with love\nYear: 1963\n"));
    assert_non_null(strstr(m.text[1], "Another test message"));
    free_all(&m);
}

static void test_issue1189(void **state)
{
    (void)state;
    struct messages m;
    read_file(DATA "mbox_issue1189.mbox.txt", &m);
    assert_int_equal(m.n, 4);
    for (size_t i = 0; i < m.n; i++)
        assert_true(strncmp(m.text[i], "MIME-Version: 1.0\n", 18) == 0);
    free_all(&m);
}

static void test_content_length_file(void **state)
{
    (void)state;
    struct messages m;
    read_file(DATA "mbox_content-length.mbox.txt", &m);
    assert_int_equal(m.n, 29);
    assert_int_equal(m.received[0], 0);         /* "From - " */
    assert_int_equal(m.received[3], 833806227); /* "From - Mon Jun  3 12:50:27 1996" */
    assert_true(m.len[4] > 700000);             /* the big one stays whole */
    /* ">From - Fri Dec 13 15:01:21 1996" in a forwarded message is unquoted */
    size_t quoted = 0;
    for (size_t i = 0; i < m.n; i++) {
        assert_null(strstr(m.text[i], "\n>From "));
        assert_null(strstr(m.text[i], "\nFrom - Mon")); /* no separator swallowed */
        if (strstr(m.text[i], "\nFrom - Fri Dec 13 15:01:21 1996\n"))
            quoted++;
        assert_true(strncmp(m.text[i], "From ", 5) != 0);
    }
    assert_int_equal(quoted, 2);
    free_all(&m);
}

static void test_mboxrd_and_content_length(void **state)
{
    (void)state;
    struct messages m;
    read_mem("From a@example.org Thu Nov 26 10:00:00 2026\n"
             "Subject: one\n\n>From here\n>>From there\n>>>From x\n> From not\n\n"
             "From b@example.org Thu Nov 26 10:00:01 2026\n"
             "Subject: two\nContent-Length: 44\n\n"
             "From c@example.org Thu Nov 26 10:00:02 2026\n\n"
             "From d@example.org Thu Nov 26 10:00:03 2026\n"
             "Subject: wrong length\nContent-Length: 3\n\nbody\n",
             &m);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.text[0],
                        "Subject: one\n\nFrom here\n>From there\n>>From x\n> From not\n");
    assert_int_equal(m.received[0], 1795687200);
    /* Content-Length keeps an unquoted From_ line inside the body */
    assert_string_equal(
        m.text[1],
        "Subject: two\nContent-Length: 44\n\nFrom c@example.org Thu Nov 26 10:00:02 2026\n");
    /* a Content-Length the file disagrees with is ignored */
    assert_string_equal(m.text[2], "Subject: wrong length\nContent-Length: 3\n\nbody\n");
    free_all(&m);

    read_mem("From x Thu Nov 26 10:00:00 2026\r\nSubject: crlf\r\n\r\nhi\r\n\r\n"
             "From y Thu Nov 26 10:00:00 2026\r\nSubject: b\r\n\r\nyo\r\n",
             &m);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.text[0], "Subject: crlf\r\n\r\nhi\r\n");
    assert_string_equal(m.text[1], "Subject: b\r\n\r\nyo\r\n");
    free_all(&m);
}

static void test_not_mbox(void **state)
{
    (void)state;
    struct mbox_reader *r;
    struct buf err = BUF_INIT;
    assert_int_equal(mbox_open_mem("Subject: hi\n\nbody\n", 18, &r, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "not an mbox"));
    buf_reset(&err);
    assert_int_equal(mbox_open(DATA "does-not-exist", &r, &err), -1);
    buf_reset(&err);
    assert_int_equal(mbox_open(DATA, &r, &err), -1); /* a directory */
    buf_free(&err);
    assert_int_equal(mbox_open_mem("", 0, &r, &err), -1);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_lines),
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_unmunged),
        cmocka_unit_test(test_issue1189),
        cmocka_unit_test(test_content_length_file),
        cmocka_unit_test(test_mboxrd_and_content_length),
        cmocka_unit_test(test_not_mbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
