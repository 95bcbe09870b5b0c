/* pop3/pop3-transfer: RETR and TOP as RFC 1939 sends them (CRLF line ends,
 * byte-stuffing, TOP's header and n body lines), fed whole and one byte at a
 * time; and the UIDL templates of lib/var-expand and lib/settings-pop3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/settings-pop3.h"
#include "lib/var-expand.h"
#include "pop3/pop3-transfer.h"

#include <stdlib.h>
#include <string.h>

/* The answer for msg, fed in pieces of `step` bytes (0: whole). */
static char *convert(const char *msg, bool top, uint64_t lines, size_t step)
{
    struct pop3_transfer t;
    struct buf out = BUF_INIT;
    pop3_transfer_init(&t, top, lines);
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        size_t n = step && step < len - off ? step : len - off;
        if (pop3_transfer_feed(&t, msg + off, n, &out))
            break;
        off += n;
    }
    pop3_transfer_finish(&t, &out);
    return buf_steal(&out);
}

static void check(const char *msg, bool top, uint64_t lines, const char *want)
{
    for (size_t step = 0; step <= 3; step++) {
        char *got = convert(msg, top, lines, step);
        assert_string_equal(got, want);
        free(got);
    }
}

static void test_retr_line_ends(void **state)
{
    (void)state;
    check("a\nb\n", false, 0, "a\r\nb\r\n.\r\n");
    check("a\r\nb\r\n", false, 0, "a\r\nb\r\n.\r\n");
    check("a\r\nb\nc", false, 0, "a\r\nb\r\nc\r\n.\r\n"); /* no line end at the end */
    check("a\rb\n", false, 0, "a\rb\r\n.\r\n");           /* a lone CR stays */
    check("a\r", false, 0, "a\r\n.\r\n");
    check("", false, 0, ".\r\n");
}

static void test_retr_byte_stuffing(void **state)
{
    (void)state;
    check(".\n..x\n.\r\nx.y\n", false, 0, "..\r\n...x\r\n..\r\nx.y\r\n.\r\n");
    check("H: v\n\n.\n", false, 0, "H: v\r\n\r\n..\r\n.\r\n");
}

static void test_retr_size_is_virtual_size(void **state)
{
    (void)state;
    /* what LIST says: the stored size plus one CR per bare LF */
    const char *msg = "From: a\nSubject: b\r\n\nx\n.y\n";
    char *got = convert(msg, false, 0, 0);
    size_t bare_lf = 4, stuffed = 1, terminator = 3;
    assert_int_equal(strlen(got), strlen(msg) + bare_lf + stuffed + terminator);
    free(got);
}

static void test_top(void **state)
{
    (void)state;
    const char *msg = "A: 1\nB: 2\n\nl1\nl2\n.l3\nl4\n";
    check(msg, true, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
    check(msg, true, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
    check(msg, true, 3, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n");
    check(msg, true, 99, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n..l3\r\nl4\r\n.\r\n");
    /* CRLF message: the empty line is "\r\n" */
    check("A: 1\r\n\r\nl1\r\nl2\r\n", true, 1, "A: 1\r\n\r\nl1\r\n.\r\n");
    /* CR CR LF is no empty line, in whatever pieces it comes (found by
     * tests/fuzz/fuzz_pop3_transfer.c) */
    check("A: 1\n\r\r\nB: 2\n\nl1\nl2\n", true, 1, "A: 1\r\n\r\r\nB: 2\r\n\r\nl1\r\n.\r\n");
    /* a header and no body */
    check("A: 1\nB: 2", true, 5, "A: 1\r\nB: 2\r\n.\r\n");
    /* a body line without its line end at the end */
    check("A: 1\n\nl1", true, 5, "A: 1\r\n\r\nl1\r\n.\r\n");
}

static char *expand(const char *tmpl)
{
    const struct var_expand_entry table[] = {{'u', "42"}, {'v', "1700000000"}, {'\0', NULL}};
    struct buf out = BUF_INIT, err = BUF_INIT;
    bool ok = var_expand_table(tmpl, table, &out, &err);
    buf_free(&err);
    if (!ok) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out);
}

static void test_var_expand(void **state)
{
    (void)state;
    char *s;
    /* Dovecot's default pop3_uidl_format: lower-case hexadecimal, as its "%llx" */
    assert_string_equal(s = expand("%08Xu%08Xv"), "0000002a6553f100");
    free(s);
    assert_string_equal(s = expand("%u-%v"), "42-1700000000");
    free(s);
    assert_string_equal(s = expand("%UXv%%"), "6553F100%");
    free(s);
    assert_string_equal(s = expand("%3v"), "170"); /* a width without 0 cuts */
    free(s);
    assert_string_equal(s = expand("%01u"), "42"); /* a 0 width pads, never cuts */
    free(s);
    assert_null(expand("%x"));
    assert_null(expand("abc%"));
    assert_null(expand("%08X"));
}

static void test_uidl_format_check(void **state)
{
    (void)state;
    struct buf out = BUF_INIT, why = BUF_INIT;
    assert_true(settings_check_uidl_format("%08Xu%08Xv", &out, &why));
    assert_string_equal(buf_cstr(&out), "%08Xu%08Xv");
    buf_reset(&out);
    assert_false(settings_check_uidl_format("%v", &out, &why)); /* the same for every message */
    buf_reset(&why);
    assert_false(settings_check_uidl_format("a b %u", &out, &why)); /* a space */
    buf_reset(&why);
    assert_false(settings_check_uidl_format("%f", &out, &why));
    buf_reset(&why);
    assert_false(settings_check_uidl_format(
        "%u-0123456789012345678901234567890123456789012345678901234567890123456789", &out, &why));
    buf_free(&why);
    buf_reset(&out);
    settings_uidl("%08Xu%08Xv", 1, 0x5190d4f2, &out);
    assert_string_equal(buf_cstr(&out), "000000015190d4f2");
    buf_free(&out);
}

static void test_expire_check(void **state)
{
    (void)state;
    struct buf out = BUF_INIT, why = BUF_INIT;
    assert_true(settings_check_expire("NEVER", &out, &why));
    assert_string_equal(buf_cstr(&out), "never");
    buf_reset(&out);
    assert_true(settings_check_expire("030", &out, &why));
    assert_string_equal(buf_cstr(&out), "30");
    buf_reset(&out);
    assert_true(settings_check_expire("0", &out, &why));
    assert_string_equal(buf_cstr(&out), "0");
    assert_false(settings_check_expire("-1", &out, &why));
    assert_false(settings_check_expire("30 days", &out, &why));
    buf_free(&out);
    buf_free(&why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retr_line_ends),
        cmocka_unit_test(test_retr_byte_stuffing),
        cmocka_unit_test(test_retr_size_is_virtual_size),
        cmocka_unit_test(test_top),
        cmocka_unit_test(test_var_expand),
        cmocka_unit_test(test_uidl_format_check),
        cmocka_unit_test(test_expire_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
