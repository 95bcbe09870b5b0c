/* lib-imap/imap-match: LIST patterns (RFC 9051 §6.3.9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib-imap/imap-match.h"

static void test_patterns(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *name;
        bool match;
    } cases[] = {
        {"*", "INBOX", true},
        {"*", "Work/2026/Q1", true},
        {"%", "Work", true},
        {"%", "Work/2026", false},
        {"Work/%", "Work/2026", true},
        {"Work/%", "Work/2026/Q1", false},
        {"Work/*", "Work/2026/Q1", true},
        {"Work/*", "Work", false},
        {"W*6", "Work/2026", true},
        {"W%6", "Work/2026", false},
        {"inbox", "INBOX", true},
        {"InBoX/%", "INBOX/sub", true},
        {"inbox*", "INBOX", true},
        {"sent", "Sent", false},
        {"", "INBOX", false},
        {"Work", "Work", true},
        {"%/%", "a/b", true},
        {"%/%", "a/b/c", false},
        {"*/c", "a/b/c", true},
        {"a%", "abc", true},
        {"INBOXES", "INBOXES", true},
        {"inboxes", "INBOXES", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (imap_list_match(cases[i].pattern, cases[i].name, '/') != cases[i].match)
            fail_msg("'%s' against '%s': expected %d", cases[i].pattern, cases[i].name,
                     cases[i].match);
    }
}

static void test_children_could_match(void **state)
{
    (void)state;
    assert_true(imap_list_match_prefix("Work/%", "Work", '/'));
    assert_true(imap_list_match_prefix("%/2026", "Work", '/'));
    assert_false(imap_list_match_prefix("%", "Work", '/'));
    assert_false(imap_list_match_prefix("Home/%", "Work", '/'));
    assert_true(imap_list_match_prefix("*", "Work", '/'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_children_could_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
