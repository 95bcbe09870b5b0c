/* login/: the plaintext rule over every ssl, disable_plaintext_auth and
 * secured combination, and the SASL response line: its bound, the skip of the
 * rest of a too-long line, and that the skip stops at that line's end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/settings.h"
#include "login/login.h"
#include "login/sasl-line.h"

#include <event2/buffer.h>
#include <string.h>

/* ---- the plaintext rule ---------------------------------------------------- */

static void test_plaintext_rule(void **state)
{
    (void)state;
    static const struct {
        enum ssl_mode ssl;
        bool disable_plaintext_auth, secured, allowed;
    } cases[] = {
        /* a secured connection (TLS, or a trusted network) always may */
        {SSL_MODE_NO, false, true, true},
        {SSL_MODE_NO, true, true, true},
        {SSL_MODE_YES, false, true, true},
        {SSL_MODE_YES, true, true, true},
        {SSL_MODE_REQUIRED, false, true, true},
        {SSL_MODE_REQUIRED, true, true, true},
        /* in clear only when neither setting forbids it */
        {SSL_MODE_NO, false, false, true},
        {SSL_MODE_NO, true, false, false},
        {SSL_MODE_YES, false, false, true},
        {SSL_MODE_YES, true, false, false},
        {SSL_MODE_REQUIRED, false, false, false},
        {SSL_MODE_REQUIRED, true, false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct settings set;
        memset(&set, 0, sizeof(set));
        set.ssl = cases[i].ssl;
        set.disable_plaintext_auth = cases[i].disable_plaintext_auth;
        if (login_plaintext_allowed(&set, cases[i].secured) != cases[i].allowed)
            fail_msg("case %zu: ssl=%d disable_plaintext_auth=%d secured=%d", i, cases[i].ssl,
                     cases[i].disable_plaintext_auth, cases[i].secured);
    }
}

/* ---- the SASL response line ------------------------------------------------ */

static void add(struct evbuffer *in, const char *s)
{
    evbuffer_add(in, s, strlen(s));
}

/* What is left in `in`, as a string. */
static char *rest(struct evbuffer *in)
{
    static char text[256];
    size_t n = evbuffer_get_length(in);
    assert_true(n < sizeof(text));
    evbuffer_copyout(in, text, n);
    text[n] = '\0';
    return text;
}

static void test_line_ready(void **state)
{
    (void)state;
    struct evbuffer *in = evbuffer_new();
    struct sasl_line sl = {0};
    add(in, "dGVzdA==\r\nnext");
    assert_int_equal(sasl_line_read(&sl, in, 16), SASL_LINE_READY);
    assert_string_equal(sl.line.data, "dGVzdA==");
    assert_string_equal(rest(in), "next");
    /* an empty response (SCRAM's last step) and a bare LF */
    evbuffer_drain(in, evbuffer_get_length(in));
    add(in, "\r\n*\n");
    assert_int_equal(sasl_line_read(&sl, in, 16), SASL_LINE_READY);
    assert_int_equal(sl.line.len, 0);
    assert_int_equal(sasl_line_read(&sl, in, 16), SASL_LINE_READY);
    assert_string_equal(sl.line.data, "*");
    assert_int_equal(sasl_line_read(&sl, in, 16), SASL_LINE_MORE);
    sasl_line_clear(&sl);
    assert_null(sl.line.data);
    evbuffer_free(in);
}

static void test_line_bound(void **state)
{
    (void)state;
    struct evbuffer *in = evbuffer_new();
    struct sasl_line sl = {0};
    /* exactly the bound is a response; one byte more is not */
    add(in, "12345678\r\n123456789\r\nafter\r\n");
    assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_READY);
    assert_string_equal(sl.line.data, "12345678");
    assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_TOO_LONG);
    /* the whole line had come: nothing to skip, the next line is intact */
    assert_false(sasl_line_skipping(&sl));
    assert_string_equal(rest(in), "after\r\n");
    sasl_line_clear(&sl);
    evbuffer_free(in);
}

static void test_line_too_long_skips_to_its_end(void **state)
{
    (void)state;
    struct evbuffer *in = evbuffer_new();
    struct sasl_line sl = {0};
    /* under the bound and no line end: wait */
    add(in, "abcdefgh");
    assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_MORE);
    /* over it with no end in sight: said at once, and nothing is kept */
    add(in, "ijk");
    assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_TOO_LONG);
    assert_true(sasl_line_skipping(&sl));
    assert_int_equal(evbuffer_get_length(in), 0);
    /* the rest goes as it comes, however much of it */
    for (int i = 0; i < 100; i++) {
        add(in, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_MORE);
        assert_int_equal(evbuffer_get_length(in), 0);
    }
    /* the skip ends with that line: the next one is the protocol's, untouched */
    add(in, "xx\r\nA NOOP\r\n");
    assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_SKIPPED);
    assert_false(sasl_line_skipping(&sl));
    assert_string_equal(rest(in), "A NOOP\r\n");
    /* and a new response is read normally */
    evbuffer_drain(in, evbuffer_get_length(in));
    add(in, "ok\r\n");
    assert_int_equal(sasl_line_read(&sl, in, 8), SASL_LINE_READY);
    assert_string_equal(sl.line.data, "ok");
    sasl_line_clear(&sl);
    evbuffer_free(in);
}

/* Fed one byte at a time, the same answers come at the same bytes. */
static void test_line_byte_at_a_time(void **state)
{
    (void)state;
    static const char input[] = "short\r\nfar-too-long-line\r\nA NOOP\r\n";
    struct evbuffer *in = evbuffer_new();
    struct sasl_line sl = {0};
    char seen[8] = {0};
    size_t n_seen = 0;
    size_t i = 0;
    for (; input[i] && n_seen < 3; i++) {
        evbuffer_add(in, &input[i], 1);
        enum sasl_line_result r = sasl_line_read(&sl, in, 8);
        if (r == SASL_LINE_MORE)
            continue;
        seen[n_seen++] = (char)('0' + r);
        if (r == SASL_LINE_READY)
            assert_string_equal(sl.line.data, "short");
    }
    /* READY at "short\n", TOO_LONG once the 10th byte of the long line came,
     * SKIPPED at its line end */
    assert_int_equal(n_seen, 3);
    assert_int_equal(seen[0], '0' + SASL_LINE_READY);
    assert_int_equal(seen[1], '0' + SASL_LINE_TOO_LONG);
    assert_int_equal(seen[2], '0' + SASL_LINE_SKIPPED);
    assert_string_equal(input + i, "A NOOP\r\n");
    assert_int_equal(evbuffer_get_length(in), 0);
    sasl_line_clear(&sl);
    evbuffer_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plaintext_rule),
        cmocka_unit_test(test_line_ready),
        cmocka_unit_test(test_line_bound),
        cmocka_unit_test(test_line_too_long_skips_to_its_end),
        cmocka_unit_test(test_line_byte_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
