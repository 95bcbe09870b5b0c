/* store/mail-location: mail_location expansion (%u %n %d %h, ~, a missing
 * home, Dovecot's options after the path, other formats), the userdb's mail
 * field and uid/gid, and opening a user's store where nothing exists yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/mail-location.h"
#include "store/maildir.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_expand(void **state)
{
    (void)state;
    static const struct {
        const char *location, *user, *home, *want;
    } cases[] = {
        {"maildir:~/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
        {"~/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
        {"maildir:~", "bob", "/home/bob", "/home/bob"},
        {"maildir:%h/mail//", "bob", "/home/bob", "/home/bob/mail"},
        {"maildir:%{home}/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
        {"maildir:/var/mail/%d/%n", "bob@example.org", NULL, "/var/mail/example.org/bob"},
        {"maildir:/srv/%u/Maildir", "bob@example.org", NULL, "/srv/bob@example.org/Maildir"},
        {"/srv/%Ln", "Bob@Example.org", NULL, "/srv/bob"},
        /* a user without a domain: %d is empty */
        {"/var/mail/%d/%n", "bob", NULL, "/var/mail//bob"},
        /* Dovecot's options after the path are not ours */
        {"maildir:~/Maildir:INDEX=/var/index/%u:LAYOUT=fs", "bob", "/home/bob",
         "/home/bob/Maildir"},
        {"maildir:/var/mail/%n:INDEX=MEMORY", "bob", NULL, "/var/mail/bob"},
        {"maildir:///", "bob", NULL, "/"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out = BUF_INIT, err = BUF_INIT;
        int r = mail_location_expand(cases[i].location, cases[i].user, cases[i].home, &out, &err);
        if (r != 0)
            fail_msg("%s: %s", cases[i].location, buf_cstr(&err));
        assert_string_equal(buf_cstr(&out), cases[i].want);
        assert_int_equal(err.len, 0);
        buf_free(&out);
        buf_free(&err);
    }
}

static void test_expand_errors(void **state)
{
    (void)state;
    static const struct {
        const char *location, *home, *why;
    } cases[] = {
        {"mbox:~/mail:INBOX=/var/mail/%u", "/home/bob", "only maildir: is supported"},
        {"sdbox:/srv/%u", "/home/bob", "only maildir: is supported"},
        {"maildir:~/Maildir", NULL, "needs a home directory, and the userdb gives bob none"},
        {"~/Maildir", "", "needs a home directory"},
        {"maildir:%h/Maildir", NULL, "needs a home directory"},
        {"maildir:%{home}", NULL, "needs a home directory"},
        {"maildir:Maildir", "/home/bob", "is not an absolute path for bob ('Maildir')"},
        /* ~user is not the home of another user */
        {"maildir:~alice/Maildir", "/home/bob", "is not an absolute path"},
        {"", "/home/bob", "is not an absolute path"},
        {"maildir:", "/home/bob", "is not an absolute path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out = BUF_INIT, err = BUF_INIT;
        int r = mail_location_expand(cases[i].location, "bob", cases[i].home, &out, &err);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(out.len, 0);
        if (!strstr(buf_cstr(&err), cases[i].why))
            fail_msg("%s: '%s' lacks '%s'", cases[i].location, buf_cstr(&err), cases[i].why);
        buf_free(&out);
        buf_free(&err);
    }
}

static void test_user_maildir(void **state)
{
    (void)state;
    struct buf out = BUF_INIT, err = BUF_INIT;
    /* mail_location applies... */
    struct store_user u = {.user = "bob", .home = "/home/bob", .uid = -1, .gid = -1};
    assert_int_equal(store_user_maildir(&u, "maildir:~/Maildir", 500, 500, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "/home/bob/Maildir");
    /* ...unless the userdb names the user's own location */
    buf_reset(&out);
    u.mail = "maildir:/srv/mail/%u:LAYOUT=fs";
    assert_int_equal(store_user_maildir(&u, "maildir:~/Maildir", 500, 500, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "/srv/mail/bob");
    buf_reset(&out);
    u.mail = "";
    assert_int_equal(store_user_maildir(&u, "maildir:~/Maildir", 500, 500, &out, &err), 0);
    assert_string_equal(buf_cstr(&out), "/home/bob/Maildir");
    /* the uid and gid, when given, are mail_uid and mail_gid */
    buf_reset(&out);
    u.uid = 500;
    u.gid = 500;
    assert_int_equal(store_user_maildir(&u, "maildir:~/Maildir", 500, 500, &out, &err), 0);
    buf_reset(&out);
    u.uid = 0;
    assert_int_equal(store_user_maildir(&u, "maildir:~/Maildir", 500, 500, &out, &err), -EPERM);
    assert_int_equal(out.len, 0);
    assert_non_null(strstr(buf_cstr(&err), "userdb gives bob uid 0 gid 500, but all mail belongs"
                                           " to mail_uid 500 mail_gid 500"));
    buf_reset(&err);
    u.uid = -1;
    u.gid = 7;
    assert_int_equal(store_user_maildir(&u, "maildir:~/Maildir", 500, 500, &out, &err), -EPERM);
    buf_reset(&err);
    /* no location at all */
    u.gid = -1;
    assert_int_equal(store_user_maildir(&u, NULL, 500, 500, &out, &err), -EINVAL);
    buf_free(&out);
    buf_free(&err);
}

static void test_user_open(void **state)
{
    (void)state;
    char root[64];
    snprintf(root, sizeof(root), "/tmp/gannet-mailloc-XXXXXX");
    assert_non_null(mkdtemp(root));
    char home[128];
    snprintf(home, sizeof(home), "%s/users/bob", root);

    /* The home does not exist yet: it and the Maildir are made, private. */
    struct store_user u = {.user = "bob", .home = home, .uid = (long)geteuid(), .gid = -1};
    struct store *s = NULL;
    struct buf err = BUF_INIT;
    int r = store_user_open(&u, "maildir:~/Maildir:INDEX=MEMORY", STORE_OPEN_CREATE, &s, &err);
    if (r < 0)
        fail_msg("store_user_open: %s", buf_cstr(&err));
    char want[192];
    snprintf(want, sizeof(want), "%s/Maildir", home);
    assert_string_equal(store_root(s), want);
    assert_true(store_mailbox_exists(s, "INBOX"));
    struct stat st;
    assert_int_equal(stat(home, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(want, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    store_close(s);

    /* Opened again without CREATE: the same store. */
    s = NULL;
    assert_int_equal(store_user_open(&u, "maildir:%h/Maildir", 0, &s, &err), 0);
    assert_string_equal(store_root(s), want);
    store_close(s);

    /* Not served as another uid. */
    u.uid = (long)geteuid() + 1;
    s = NULL;
    assert_int_equal(store_user_open(&u, "maildir:~/Maildir", 0, &s, &err), -EPERM);
    assert_null(s);
    buf_reset(&err);

    /* A Maildir that cannot be made: the error names the user and the path. */
    u.uid = -1;
    char file[128];
    snprintf(file, sizeof(file), "%s/plain-file", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    u.home = file;
    r = store_user_open(&u, "maildir:~/Maildir", STORE_OPEN_CREATE, &s, &err);
    assert_true(r < 0);
    assert_null(s);
    char why[256];
    snprintf(why, sizeof(why), "cannot open the mail store of bob at %s/Maildir: cannot create",
             file);
    if (!strstr(buf_cstr(&err), why))
        fail_msg("'%s' lacks '%s'", buf_cstr(&err), why);
    buf_free(&err);
    maildir_remove_tree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_user_maildir),
        cmocka_unit_test(test_user_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
