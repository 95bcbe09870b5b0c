/* net/privs: mail_uid and mail_gid given as numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/privs.h"

#include <unistd.h>

static void test_numeric_ids(void **state)
{
    (void)state;
    uid_t uid = 7;
    gid_t gid = 7, primary = 7;
    assert_true(privs_resolve_user("1234567", &uid, &primary));
    assert_int_equal(uid, 1234567);
    assert_true(privs_resolve_group("7654321", &gid));
    assert_int_equal(gid, 7654321);
    /* Numbers that do not fit a uid_t are no user at all, not the user their
     * low 32 bits name (4294967297 would be uid 1). */
    static const char *const bad[] = {
        "4294967297", "4294967296", "4294967295", "18446744073709551617", "-1", "+1", " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uid = 7;
        gid = 7;
        if (privs_resolve_user(bad[i], &uid, &primary) || privs_resolve_group(bad[i], &gid))
            fail_msg("'%s' resolved to uid %ld gid %ld", bad[i], (long)uid, (long)gid);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
