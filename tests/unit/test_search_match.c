/* mail/search-match: SEARCH's case-insensitive substring matching in text
 * and in header fields (RFC 9051 §6.4.4), and the Date: field's own day. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "mail/message.h"
#include "mail/search-match.h"

static char *folded(const char *s, struct buf *b)
{
    buf_reset(b);
    search_fold(s, strlen(s), b);
    return (char *)buf_cstr(b);
}

static void test_fold(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_string_equal(folded("Hello WORLD 42", &b), "hello world 42");
    /* Latin-1 supplement, Greek, Cyrillic */
    assert_string_equal(folded("\xc3\x84PFEL \xc3\x96l", &b), "\xc3\xa4pfel \xc3\xb6l");
    assert_string_equal(folded("\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91", &b),
                        "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1");
    assert_string_equal(folded("\xd0\x9e\xd0\xa2\xd0\x9f\xd0\xa3\xd0\xa1\xd0\x9a", &b),
                        "\xd0\xbe\xd1\x82\xd0\xbf\xd1\x83\xd1\x81\xd0\xba");
    /* bytes that are not UTF-8 stay as they are */
    assert_string_equal(folded("A\xff"
                               "B\xc3",
                               &b),
                        "a\xff"
                        "b\xc3");
    buf_free(&b);
}

static bool has(const char *text, const char *needle)
{
    struct buf n = BUF_INIT, scratch = BUF_INIT;
    search_fold(needle, strlen(needle), &n);
    bool r = search_text_has(text, strlen(text), buf_cstr(&n), n.len, &scratch);
    buf_free(&n);
    buf_free(&scratch);
    return r;
}

static void test_substring(void **state)
{
    (void)state;
    assert_true(has("Hello there", "ELLO"));
    assert_true(has("Hello there", "o th"));
    assert_true(has("Hello there", ""));
    assert_true(has("", ""));
    assert_false(has("", "a"));
    assert_false(has("Hello there", "hellothere"));
    assert_true(has("Die \xc3\x84pfel", "\xc3\xa4PFEL"));
    assert_false(has("Die Apfel", "\xc3\xa4pfel"));
}

static const char headers[] =
    "Received: from x\r\n\tby y\r\n"
    "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
    "To: undisclosed: a@example.org, \"Smith, John\" <js@example.org>;\r\n"
    "Cc: jdoe@example.com (John Doe)\r\n"
    "Subject: Re:   many\r\n   blanks\r\n"
    "X-Empty:\r\n"
    "Date: Mon, 1 Jan 2024 23:30:00 -0500\r\n"
    "\r\n"
    "Subject: not a header field, the body\r\n";

static bool header_has(const char *name, const char *needle)
{
    struct buf n = BUF_INIT, scratch = BUF_INIT;
    search_fold(needle, strlen(needle), &n);
    bool r = search_header_has(headers, strlen(headers), name, buf_cstr(&n), n.len, &scratch);
    buf_free(&n);
    buf_free(&scratch);
    return r;
}

static void test_header_fields(void **state)
{
    (void)state;
    /* encoded words decoded, case folded, the address as written */
    assert_true(header_has("from", "andr\xc3\xa9 pirard"));
    assert_true(header_has("From", "<pirard@VM1"));
    assert_false(header_has("From", "=?ISO"));
    /* groups and quoted names, in the normalised form too */
    assert_true(header_has("To", "Smith, John <js@"));
    assert_true(header_has("To", "undisclosed: a@example.org"));
    /* a comment names the mailbox */
    assert_true(header_has("Cc", "John Doe <jdoe@example.com>"));
    /* folding undone; Subject's blanks made one */
    assert_true(header_has("Received", "from x\tby y"));
    assert_true(header_has("Subject", "re: many blanks"));
    /* an empty string: the field is there */
    assert_true(header_has("X-Empty", ""));
    assert_true(header_has("x-empty", ""));
    assert_false(header_has("X-Missing", ""));
    assert_false(header_has("X-Empty", "a"));
    /* the body is not the header */
    assert_false(header_has("Subject", "not a header"));
    /* only the value, not the name */
    assert_false(header_has("Subject", "subject"));
}

static void test_sent_date(void **state)
{
    (void)state;
    time_t t;
    /* the day as its writer's clock read it: 1 January, not 2 January UTC */
    assert_true(search_header_sent_date(headers, strlen(headers), &t));
    assert_int_equal(t, 1704151800); /* 2024-01-01 23:30:00 given as UTC */
    int zone;
    assert_int_equal(mail_parse_date_zone("Mon, 1 Jan 2024 23:30:00 -0500", &zone), 1704169800);
    assert_int_equal(zone, -5 * 3600);
    assert_int_equal(mail_parse_date_zone("1 Jan 2024 10:00 EDT", &zone), 1704117600);
    assert_int_equal(zone, -4 * 3600);
    const char none[] = "Subject: x\r\n\r\n";
    assert_false(search_header_sent_date(none, strlen(none), &t));
    const char bad[] = "Date: yesterday\r\n\r\n";
    assert_false(search_header_sent_date(bad, strlen(bad), &t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_substring),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_sent_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
