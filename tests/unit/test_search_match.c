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

static bool header_has(const char *name, enum search_field_form form, const char *needle)
{
    struct buf n = BUF_INIT, scratch = BUF_INIT;
    search_fold(needle, strlen(needle), &n);
    bool r = search_header_has(headers, strlen(headers), name, form, buf_cstr(&n), n.len, &scratch);
    buf_free(&n);
    buf_free(&scratch);
    return r;
}

static void test_header_fields(void **state)
{
    (void)state;
    /* HEADER: the text after the colon, decoded, unfolded */
    assert_true(header_has("from", SEARCH_FIELD_TEXT, "andr\xc3\xa9 pirard"));
    assert_false(header_has("From", SEARCH_FIELD_TEXT, "=?ISO"));
    assert_true(header_has("Received", SEARCH_FIELD_TEXT, "from x\tby y"));
    assert_true(header_has("Cc", SEARCH_FIELD_TEXT, "(John Doe)"));
    assert_true(header_has("Subject", SEARCH_FIELD_TEXT, "re:   many"));
    /* FROM, TO, CC: the envelope's addresses; groups, quoted names */
    assert_true(header_has("From", SEARCH_FIELD_ADDRESSES, "andr\xc3\xa9 pirard <pirard@VM1"));
    assert_true(header_has("To", SEARCH_FIELD_ADDRESSES, "Smith, John <js@"));
    assert_true(header_has("To", SEARCH_FIELD_ADDRESSES,
                           "undisclosed: a@example.org, smith, john <js@example.org>;"));
    assert_false(header_has("To", SEARCH_FIELD_ADDRESSES, "\"smith"));
    /* a comment names the mailbox, and is no comment then */
    assert_true(header_has("Cc", SEARCH_FIELD_ADDRESSES, "John Doe <jdoe@example.com>"));
    assert_false(header_has("Cc", SEARCH_FIELD_ADDRESSES, "(john"));
    /* SUBJECT: blanks made one */
    assert_true(header_has("Subject", SEARCH_FIELD_SUBJECT, "re: many blanks"));
    assert_false(header_has("Subject", SEARCH_FIELD_SUBJECT, "re:  many"));
    /* an empty string: the field is there */
    assert_true(header_has("X-Empty", SEARCH_FIELD_TEXT, ""));
    assert_true(header_has("x-empty", SEARCH_FIELD_TEXT, ""));
    assert_false(header_has("X-Missing", SEARCH_FIELD_TEXT, ""));
    assert_false(header_has("X-Empty", SEARCH_FIELD_TEXT, "a"));
    /* the body is not the header; the value is not the name */
    assert_false(header_has("Subject", SEARCH_FIELD_TEXT, "not a header"));
    assert_false(header_has("Subject", SEARCH_FIELD_TEXT, "subject"));
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

/* What the store indexes for SEARCH: the text of text parts and of the
 * message parts that are text; every header for TEXT. */
static void test_indexed_text(void **state)
{
    (void)state;
    static const char msg[] =
        "From: a@example.org\r\n"
        "Subject: report\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n"
        "\r\n"
        "--b\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "Your message could not be delivered.\r\n"
        "--b\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n"
        "--b\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "Subject: the lost one\r\n"
        "\r\n"
        "lost words\r\n"
        "--b\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "binary words\r\n"
        "--b--\r\n";
    struct mail_parser *p = mail_parser_new();
    mail_parser_feed(p, msg, strlen(msg));
    struct mail_summary sum;
    mail_parser_finish(p, &sum);
    mail_parser_free(p);
    assert_non_null(strstr(sum.search_body, "could not be delivered"));
    assert_non_null(strstr(sum.search_body, "Reporting-MTA: dns; mx.example.org"));
    assert_non_null(strstr(sum.search_body, "lost words"));
    assert_null(strstr(sum.search_body, "binary words"));
    /* no header in the body text; every header in the header text */
    assert_null(strstr(sum.search_body, "the lost one"));
    assert_non_null(strstr(sum.search_headers, "Subject: report\n"));
    assert_non_null(strstr(sum.search_headers, "Content-Type: message/delivery-status\n"));
    assert_non_null(strstr(sum.search_headers, "Subject: the lost one\n"));
    /* the header cache is the message's own header */
    assert_null(strstr(sum.header_fields, "lost"));
    mail_summary_free(&sum);
}

/* An address list longer than the parser reads is searched in its text. */
static void test_long_address_list(void **state)
{
    (void)state;
    struct buf h = BUF_INIT, n = BUF_INIT, scratch = BUF_INIT;
    buf_puts(&h, "To: ");
    for (int i = 0; i < 1500; i++)
        buf_printf(&h, "%sp%d@example.org", i ? ", " : "", i);
    buf_puts(&h, "\r\n\r\n");
    search_fold("p1499@", 6, &n);
    assert_true(
        search_header_has(h.data, h.len, "To", SEARCH_FIELD_ADDRESSES, n.data, n.len, &scratch));
    buf_free(&h);
    buf_free(&n);
    buf_free(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),          cmocka_unit_test(test_substring),
        cmocka_unit_test(test_header_fields), cmocka_unit_test(test_sent_date),
        cmocka_unit_test(test_indexed_text),  cmocka_unit_test(test_long_address_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
