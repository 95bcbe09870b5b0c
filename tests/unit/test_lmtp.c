/* lmtp/: the DATA decoder (<CRLF>.<CRLF>, dot-stuffing, bare LF kept as
 * content, fed whole and one byte at a time) and the SMTP grammar of MAIL
 * FROM, RCPT TO and LHLO (RFC 5321 §4.1.2, RFC 6531). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lmtp/dot-decoder.h"
#include "lmtp/smtp-syntax.h"

#include <stdlib.h>
#include <string.h>

/* Feeds in with the given step; returns the decoded message and in *used the
 * number of input bytes consumed, *done whether the end was found. */
static char *decode(const char *in, size_t len, size_t step, size_t *out_len, size_t *used,
                    bool *done)
{
    struct dot_decoder d;
    dot_decoder_init(&d);
    struct buf out = BUF_INIT;
    size_t i = 0;
    while (i < len && !dot_decoder_done(&d)) {
        size_t n = len - i < step ? len - i : step;
        char tmp[64];
        assert_true(n + 1 <= sizeof(tmp));
        size_t got = 0;
        size_t k = dot_decoder_feed(&d, in + i, n, tmp, &got);
        assert_true(got <= n + 1);
        buf_append(&out, tmp, got);
        i += k;
        if (k < n)
            assert_true(dot_decoder_done(&d));
    }
    *used = i;
    *done = dot_decoder_done(&d);
    *out_len = out.len;
    buf_puts(&out, "");
    return buf_steal(&out);
}

struct dot_case {
    const char *in;
    const char *out; /* NULL: the end is never found */
    const char *rest;
};

static void test_dot_decoder(void **state)
{
    (void)state;
    static const struct dot_case cases[] = {
        {"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", "Subject: x\r\n\r\nbody\r\n", "QUIT\r\n"},
        /* the empty message */
        {".\r\n", "", ""},
        /* RFC 5321 §4.5.2: the first period of a line goes */
        {"..\r\n...x\r\n.y\r\n.\r\n", ".\r\n..x\r\ny\r\n", ""},
        /* a period in the middle of a line stays */
        {"a.b\r\na\r\n.\r\n", "a.b\r\na\r\n", ""},
        /* bare LF is content: neither "\n.\n" nor "\n.\r\n" ends the message,
         * and a period after a bare LF is kept */
        {"a\n.\nb\n.\r\nc\r\n.\r\n", "a\n.\nb\n.\r\nc\r\n", ""},
        {"a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", ""},
        /* a bare CR too */
        {"a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", ""},
        /* ".\r" followed by something else: the period goes, the CR stays */
        {"x\r\n.\rz\r\n.\r\n", "x\r\n\rz\r\n", ""},
        {"x\r\n.\r\r\n.\r\n", "x\r\n\r\r\n", ""},
        /* no end yet */
        {"a\r\n.", NULL, ""},
        {"a\r\n.\r", NULL, ""},
        {"a\n.\n", NULL, ""},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const struct dot_case *t = &cases[c];
        size_t len = strlen(t->in);
        for (size_t step = 1; step <= len + 1; step++) {
            size_t out_len, used;
            bool done;
            char *out = decode(t->in, len, step, &out_len, &used, &done);
            if (t->out == NULL) {
                if (done)
                    fail_msg("case %zu step %zu: an end was found", c, step);
            } else {
                if (!done)
                    fail_msg("case %zu step %zu: no end found", c, step);
                if (out_len != strlen(t->out) || memcmp(out, t->out, out_len) != 0)
                    fail_msg("case %zu step %zu: got '%s'", c, step, out);
                assert_string_equal(t->in + used, t->rest);
            }
            free(out);
        }
    }
}

static void assert_path(const char *in, bool null_ok, bool postmaster_ok, bool utf8,
                        const char *mailbox, const char *local, const char *domain,
                        const char *rest)
{
    struct smtp_path p = {0};
    const char *s = in, *why = NULL;
    if (!smtp_parse_path(&s, null_ok, postmaster_ok, utf8, &p, &why))
        fail_msg("'%s' refused: %s", in, why);
    assert_string_equal(buf_cstr(&p.mailbox), mailbox);
    assert_string_equal(buf_cstr(&p.local), local);
    assert_string_equal(buf_cstr(&p.domain), domain);
    assert_string_equal(s, rest);
    smtp_path_free(&p);
}

static void assert_bad_path(const char *in, bool null_ok, bool postmaster_ok, bool utf8)
{
    struct smtp_path p = {0};
    const char *s = in, *why = NULL;
    if (smtp_parse_path(&s, null_ok, postmaster_ok, utf8, &p, &why))
        fail_msg("'%s' accepted", in);
    assert_non_null(why);
    smtp_path_free(&p);
}

static void test_paths(void **state)
{
    (void)state;
    assert_path("<alice@example.org>", false, false, false, "alice@example.org", "alice",
                "example.org", "");
    assert_path("<a.b+c@mx-1.example.org> SIZE=10", false, false, false, "a.b+c@mx-1.example.org",
                "a.b+c", "mx-1.example.org", " SIZE=10");
    assert_path("<>", true, false, false, "", "", "", "");
    assert_path("<\"john doe\\\"x\"@example.org>", false, false, false,
                "\"john doe\\\"x\"@example.org", "john doe\"x", "example.org", "");
    assert_path("<user@[192.0.2.1]>", false, false, false, "user@[192.0.2.1]", "user",
                "[192.0.2.1]", "");
    assert_path("<user@[IPv6:2001:db8::1]>", false, false, false, "user@[IPv6:2001:db8::1]", "user",
                "[IPv6:2001:db8::1]", "");
    /* a source route is accepted and ignored (RFC 5321 appendix C) */
    assert_path("<@a.example,@b.example:user@c.example>", false, false, false, "user@c.example",
                "user", "c.example", "");
    /* RFC 5321 §4.1.1.3: <Postmaster> without a domain, for RCPT */
    assert_path("<PostMaster>", false, true, false, "PostMaster", "PostMaster", "", "");
    /* SMTPUTF8 (RFC 6531 §3.3) */
    assert_path("<j\xc3\xb6rg@b\xc3\xbc"
                "cher.example>",
                false, false, true,
                "j\xc3\xb6rg@b\xc3\xbc"
                "cher.example",
                "j\xc3\xb6rg",
                "b\xc3\xbc"
                "cher.example",
                "");

    assert_bad_path("<>", false, false, false);
    assert_bad_path("alice@example.org", false, false, false);
    assert_bad_path("<alice@example.org", false, false, false);
    assert_bad_path("<alice>", false, true, false);
    assert_bad_path("<postmaster>", false, false, false);
    assert_bad_path("<alice@>", false, false, false);
    assert_bad_path("<@example.org>", false, false, false);
    assert_bad_path("<a..b@example.org>", false, false, false);
    assert_bad_path("<.a@example.org>", false, false, false);
    assert_bad_path("<a@-example.org>", false, false, false);
    assert_bad_path("<a@example..org>", false, false, false);
    assert_bad_path("<a b@example.org>", false, false, false);
    assert_bad_path("<a@exa mple.org>", false, false, false);
    assert_bad_path("<\"unterminated@example.org>", false, false, false);
    assert_bad_path("<a\r\nRCPT TO:<b@example.org>", false, false, false);
    assert_bad_path("<a@[]>", false, false, false);
    /* 8-bit only with SMTPUTF8, and only well-formed UTF-8 */
    assert_bad_path("<j\xc3\xb6rg@example.org>", false, false, false);
    assert_bad_path("<j\xc3rg@example.org>", false, false, true);
    assert_bad_path("<j\xc0\xafrg@example.org>", false, false, true);
    /* lengths */
    char long_local[300];
    memset(long_local, 'a', sizeof(long_local));
    long_local[0] = '<';
    memcpy(long_local + 257, "@x>", 4);
    assert_bad_path(long_local, false, false, false);
}

static void test_params(void **state)
{
    (void)state;
    struct buf kw = BUF_INIT, val = BUF_INIT;
    const char *s = " SIZE=1000  body=8BITMIME SMTPUTF8 ";
    assert_int_equal(smtp_next_param(&s, &kw, &val), 1);
    assert_string_equal(buf_cstr(&kw), "SIZE");
    assert_string_equal(buf_cstr(&val), "1000");
    assert_int_equal(smtp_next_param(&s, &kw, &val), 1);
    assert_string_equal(buf_cstr(&kw), "BODY");
    assert_string_equal(buf_cstr(&val), "8BITMIME");
    assert_int_equal(smtp_next_param(&s, &kw, &val), 1);
    assert_string_equal(buf_cstr(&kw), "SMTPUTF8");
    assert_string_equal(buf_cstr(&val), "");
    assert_int_equal(smtp_next_param(&s, &kw, &val), 0);
    const char *empty = "";
    assert_int_equal(smtp_next_param(&empty, &kw, &val), 0);
    const char *bad[] = {"SIZE=1", " =1", " SIZE=", " SI_ZE=1", " SIZE=a=b", " SIZE=\x01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *p = bad[i];
        assert_int_equal(smtp_next_param(&p, &kw, &val), -1);
    }
    buf_free(&kw);
    buf_free(&val);
}

static void test_helo(void **state)
{
    (void)state;
    assert_true(smtp_valid_helo("mail.example.org"));
    assert_true(smtp_valid_helo("localhost"));
    assert_true(smtp_valid_helo("host_with_underscore"));
    assert_true(smtp_valid_helo("[192.0.2.1]"));
    assert_true(smtp_valid_helo("[IPv6:::1]"));
    assert_false(smtp_valid_helo(""));
    assert_false(smtp_valid_helo("two words"));
    assert_false(smtp_valid_helo("evil\r\nRCPT"));
    assert_false(smtp_valid_helo("[192.0.2.1"));
    assert_false(smtp_valid_helo("a(b)"));
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_false(smtp_valid_helo(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_decoder),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_helo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
