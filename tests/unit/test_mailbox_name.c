/* store/mailbox-name and lib-imap/mutf7: name rules with hostile names, modified
 * UTF-7 round trips (RFC 3501 §5.1.3 examples), Maildir++ directory names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/mailbox-name.h"
#include "lib-imap/mutf7.h"

#include <errno.h>
#include <string.h>

static const char *norm(const char *name, bool create, struct buf *out)
{
    buf_reset(out);
    if (mailbox_name_normalize(name, strlen(name), create, out, NULL) < 0)
        return NULL;
    return buf_cstr(out);
}

static void test_valid_names(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_string_equal(norm("INBOX", true, &b), "INBOX");
    assert_string_equal(norm("inbox", true, &b), "INBOX");
    assert_string_equal(norm("InBoX/Sub", true, &b), "INBOX/Sub");
    assert_string_equal(norm("Work/2026", true, &b), "Work/2026");
    assert_string_equal(norm("a.b", true, &b), "a.b");
    assert_string_equal(norm("~peter/mail/台北/日本語", true, &b), "~peter/mail/台北/日本語");
    assert_string_equal(norm("Inboxes", true, &b), "Inboxes"); /* not INBOX */
    assert_string_equal(norm("x/inbox", true, &b), "x/inbox"); /* only the first level */
    assert_string_equal(norm("a%b", false, &b), "a%b");        /* allowed in a lookup */
    buf_free(&b);
}

static void test_hostile_names(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    static const char *const bad[] = {
        "",      "../x",        "a/../../b", "INBOX/..",     "..",   ".",
        "a/./b", "/etc/passwd", "a/",        "a//b",         "/",    "a\rb",
        "a\nb",  "a\tb",        "a\x7f",     "a\xc2\x85",    "\xff", "\xc0\xaf",
        "a%",    "*",           "a/*/b",     "\xed\xa0\x80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&b);
        if (mailbox_name_normalize(bad[i], strlen(bad[i]), true, &b, NULL) != -EINVAL)
            fail_msg("accepted hostile name #%zu", i);
    }
    /* NUL inside the name */
    assert_int_equal(mailbox_name_normalize("a\0b", 3, true, &b, NULL), -EINVAL);
    /* 256 bytes, and 17 levels */
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = 0;
    assert_int_equal(mailbox_name_normalize(longname, 256, true, &b, NULL), -EINVAL);
    longname[255] = 0;
    buf_reset(&b);
    assert_int_equal(mailbox_name_normalize(longname, 255, true, &b, NULL), 0);
    assert_string_equal(norm("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", true, &b),
                        "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p");
    assert_null(norm("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", true, &b));
    /* Odd but harmless names stay inside the root: one component, leading '.'. */
    static const char *const odd[] = {"~root", "..x", "x..", ".hidden", "a/.b", "-", "&", "a\\b"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        const char *n = norm(odd[i], true, &b);
        assert_non_null(n);
        struct buf dir = BUF_INIT, back = BUF_INIT;
        assert_int_equal(mailbox_name_to_dir(n, &dir), 0);
        assert_true(dir.len >= 2 && dir.data[0] == '.');
        assert_null(strchr(buf_cstr(&dir), '/'));
        assert_string_not_equal(buf_cstr(&dir), "..");
        assert_int_equal(mailbox_name_from_dir(buf_cstr(&dir), &back), 0);
        assert_string_equal(buf_cstr(&back), n);
        buf_free(&dir);
        buf_free(&back);
    }
    buf_free(&b);
}

static void test_dir_names(void **state)
{
    (void)state;
    struct buf d = BUF_INIT;
    assert_int_equal(mailbox_name_to_dir("INBOX", &d), 0);
    assert_string_equal(buf_cstr(&d), "");
    buf_reset(&d);
    assert_int_equal(mailbox_name_to_dir("Work/2026", &d), 0);
    assert_string_equal(buf_cstr(&d), ".Work.2026");
    buf_reset(&d);
    assert_int_equal(mailbox_name_to_dir("INBOX/Sub", &d), 0);
    assert_string_equal(buf_cstr(&d), ".INBOX.Sub");
    buf_reset(&d);
    assert_int_equal(mailbox_name_to_dir("a.b", &d), 0); /* not a/b */
    assert_string_equal(buf_cstr(&d), ".a&AC4-b");
    buf_reset(&d);
    assert_int_equal(mailbox_name_to_dir("台北", &d), 0); /* as Dovecot writes it */
    assert_string_equal(buf_cstr(&d), ".&U,BTFw-");
    /* reverse, and the names that are not mailbox directories */
    static const char *const notmbox[] = {".",      "..",     "...",   ".a..b",    ".a.",   "cur",
                                          ".inbox", ".INBOX", ".&Jjo", ".a&AC8-b", ".&AGE-"};
    for (size_t i = 0; i < sizeof(notmbox) / sizeof(notmbox[0]); i++) {
        buf_reset(&d);
        if (mailbox_name_from_dir(notmbox[i], &d) == 0)
            fail_msg("accepted directory %s as %s", notmbox[i], buf_cstr(&d));
    }
    buf_reset(&d);
    assert_int_equal(mailbox_name_from_dir(".Work.2026", &d), 0);
    assert_string_equal(buf_cstr(&d), "Work/2026");
    buf_reset(&d);
    assert_int_equal(mailbox_name_from_dir(".a&AC4-b", &d), 0);
    assert_string_equal(buf_cstr(&d), "a.b");
    /* 63 emoji (252 bytes) make 336 bytes of mUTF-7: too long for a file name */
    struct buf big = BUF_INIT;
    for (int i = 0; i < 63; i++)
        buf_puts(&big, "😀");
    buf_reset(&d);
    assert_int_equal(mailbox_name_to_dir(buf_cstr(&big), &d), -ENAMETOOLONG);
    buf_free(&big);
    buf_free(&d);
}

static void roundtrip(const char *utf8, const char *mutf7)
{
    struct buf e = BUF_INIT, d = BUF_INIT;
    assert_int_equal(mutf7_encode(utf8, strlen(utf8), NULL, &e), 0);
    assert_string_equal(buf_cstr(&e), mutf7);
    assert_int_equal(mutf7_decode(mutf7, strlen(mutf7), false, &d), 0);
    assert_string_equal(buf_cstr(&d), utf8);
    buf_free(&e);
    buf_free(&d);
}

static void test_mutf7(void **state)
{
    (void)state;
    /* RFC 3501 §5.1.3's example, and the usual ones */
    roundtrip("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    roundtrip("&", "&-");
    roundtrip("A&B", "A&-B");
    roundtrip("Entwürfe", "Entw&APw-rfe");
    roundtrip("Gelöschte Elemente", "Gel&APY-schte Elemente");
    roundtrip("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
    roundtrip("😀", "&2D3eAA-"); /* a surrogate pair */
    roundtrip("plain ascii", "plain ascii");
    roundtrip("", "");
    static const char *const bad[] = {
        "&",                           /* unterminated */
        "&U,BTFw",                     /* unterminated */
        "&AGE-",                       /* 'a' must represent itself */
        "&U,BTFx-",                    /* non-zero pad bits */
        "&-&",      "&Jjo!-",          /* bad base64 */
        "&2D0-",                       /* lone high surrogate */
        "&3gA-",                       /* lone low surrogate */
        "a\x80",    "a\nb",   "&AAA-", /* NUL */
        "&U,-",                        /* too few bits for a unit */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf d = BUF_INIT;
        if (mutf7_decode(bad[i], strlen(bad[i]), false, &d) == 0)
            fail_msg("accepted invalid mUTF-7 #%zu '%s'", i, bad[i]);
        buf_free(&d);
    }
    struct buf e = BUF_INIT;
    assert_int_equal(mutf7_encode("\xff", 1, NULL, &e), -EINVAL);
    buf_free(&e);
}

static void test_imap_names(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(mailbox_name_from_imap("&U,BTFw-/x", 10, false, true, &b, NULL), 0);
    assert_string_equal(buf_cstr(&b), "台北/x");
    buf_reset(&b);
    assert_int_equal(mailbox_name_from_imap("&AGE-", 5, false, true, &b, NULL), -EINVAL);
    buf_reset(&b);
    /* With UTF8=ACCEPT the name is taken as UTF-8: "&" is just '&'. */
    assert_int_equal(mailbox_name_from_imap("a&b", 3, true, true, &b, NULL), 0);
    assert_string_equal(buf_cstr(&b), "a&b");
    buf_reset(&b);
    mailbox_name_to_imap("台北", false, &b);
    assert_string_equal(buf_cstr(&b), "&U,BTFw-");
    buf_reset(&b);
    mailbox_name_to_imap("台北", true, &b);
    assert_string_equal(buf_cstr(&b), "台北");
    assert_true(mailbox_name_is_child("a", "a/b"));
    assert_false(mailbox_name_is_child("a", "ab"));
    assert_false(mailbox_name_is_child("a/b", "a"));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names), cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_dir_names),   cmocka_unit_test(test_mutf7),
        cmocka_unit_test(test_imap_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
