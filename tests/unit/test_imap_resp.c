/* imap/imap-resp: store errors map to the response codes clients act on
 * (RFC 5530), and astrings are atoms only when they can be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "imap/imap-resp.h"
#include "lib-imap/imap-quote.h"

#include <errno.h>
#include <string.h>

static void test_store_error_codes(void **state)
{
    (void)state;
    static const struct {
        int err;
        enum imap_code code;
    } cases[] = {
        {-ENOENT, IMAP_CODE_NONEXISTENT}, {-EEXIST, IMAP_CODE_ALREADYEXISTS},
        {-EINVAL, IMAP_CODE_CANNOT},      {-EPERM, IMAP_CODE_NOPERM},
        {-EDQUOT, IMAP_CODE_OVERQUOTA},   {-ENOSPC, IMAP_CODE_OVERQUOTA},
        {-EBUSY, IMAP_CODE_INUSE},        {-EFBIG, IMAP_CODE_TOOBIG},
        {-EIO, IMAP_CODE_SERVERBUG},      {-EPROTO, IMAP_CODE_SERVERBUG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *text = NULL;
        assert_int_equal(imap_store_error_code(cases[i].err, &text), cases[i].code);
        assert_non_null(text);
    }
}

static void test_astring(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"INBOX", "INBOX"}, {"Sent]", "Sent]"},     {"NIL", "\"NIL\""}, {"", "\"\""},
        {"a b", "\"a b\""}, {"a\"b", "\"a\\\"b\""}, {"x*", "\"x*\""},   {"(x)", "\"(x)\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT;
        imap_astring(&b, cases[i].in, strlen(cases[i].in));
        assert_string_equal(buf_cstr(&b), cases[i].out);
        buf_free(&b);
    }
    struct buf b = BUF_INIT;
    imap_astring(&b, "caf\xc3\xa9", 5);
    assert_string_equal(buf_cstr(&b), "{5}\r\ncaf\xc3\xa9");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_error_codes),
        cmocka_unit_test(test_astring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
