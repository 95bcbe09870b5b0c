/* The IMAP command parser: whole commands, the same commands fed one byte at a
 * time, literals (synchronizing and LITERAL+), and every limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "imap/parser.h"

#include <string.h>

static const struct imap_parser_limits limits = {.max_line = 100, .max_literal = 50, .max_args = 10};

/* Feeds all of `input` in chunks of `chunk` bytes; returns the first result
 * that is not NEED_MORE (answering continuations), with *rest set to what is left. */
static enum imap_parse_result feed(struct imap_parser *p, const char *input, size_t chunk,
                                   int *continuations, size_t *rest)
{
    size_t len = strlen(input), pos = 0;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        size_t used = 0;
        enum imap_parse_result r = imap_parser_feed(p, input + pos, n, &used);
        pos += used;
        if (r == IMAP_PARSE_CONTINUATION) {
            (*continuations)++;
            continue;
        }
        if (r != IMAP_PARSE_NEED_MORE) {
            *rest = len - pos;
            return r;
        }
    }
    *rest = 0;
    return IMAP_PARSE_NEED_MORE;
}

static void check_login_with_literals(size_t chunk)
{
    struct imap_parser *p = imap_parser_new(&limits);
    int cont = 0;
    size_t rest;
    enum imap_parse_result r =
        feed(p, "a1 LOGIN {5}\r\nalice {11+}\r\npass\"wo rd\r\nb2 NOOP\r\n", chunk, &cont, &rest);
    assert_int_equal(r, IMAP_PARSE_COMMAND);
    assert_int_equal(cont, 1); /* only the synchronizing literal asks for "+" */
    assert_int_equal(rest, strlen("b2 NOOP\r\n"));
    const struct imap_command *cmd = imap_parser_command(p);
    assert_string_equal(cmd->tag, "a1");
    assert_string_equal(cmd->name, "LOGIN");
    assert_int_equal(cmd->n_args, 2);
    assert_int_equal(cmd->args[0].type, IMAP_ARG_STRING);
    assert_true(cmd->args[0].literal);
    assert_string_equal(cmd->args[0].str, "alice");
    assert_int_equal(cmd->args[1].len, 11);
    assert_memory_equal(cmd->args[1].str, "pass\"wo rd\r", 11);
    imap_parser_free(p);
}

static void test_literals_whole(void **state)
{
    (void)state;
    check_login_with_literals(1000);
}

static void test_literals_byte_by_byte(void **state)
{
    (void)state;
    check_login_with_literals(1);
}

static void test_quoted_and_lists(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(&limits);
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p, "x ID (\"name\" \"a \\\"b\\\\\" \"v\" NIL)\r\n", 1, &cont, &rest),
                     IMAP_PARSE_COMMAND);
    const struct imap_command *cmd = imap_parser_command(p);
    assert_int_equal(cmd->n_args, 1);
    assert_int_equal(cmd->args[0].type, IMAP_ARG_LIST);
    assert_int_equal(cmd->args[0].list_len, 4);
    assert_string_equal(cmd->args[0].list[1].str, "a \"b\\");
    assert_int_equal(cmd->args[0].list[3].type, IMAP_ARG_NIL);
    imap_parser_reset(p);
    assert_int_equal(feed(p, "y FETCH 1:* BODY[HEADER.FIELDS (FROM TO)]\n", 3, &cont, &rest),
                     IMAP_PARSE_COMMAND);
    cmd = imap_parser_command(p);
    assert_int_equal(cmd->n_args, 2);
    assert_string_equal(cmd->args[1].str, "BODY[HEADER.FIELDS (FROM TO)]");
    imap_parser_free(p);
}

static void test_bad_syntax_keeps_going(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *tag;
    } bad[] = {
        {"\r\n", NULL},
        {"a1\r\n", "a1"},
        {"a1 \r\n", "a1"},
        {"a1 LOGIN \"unterminated\r\n", "a1"},
        {"a1 LOGIN  two-spaces\r\n", "a1"},
        {"a1 LOGIN (unclosed\r\n", "a1"},
        {"a1 LOGIN x)\r\n", "a1"},
        {"a1 LOGIN \"bad\\escape\"\r\n", "a1"},
        {"a1 X {3}y\r\n", "a1"},
        {"a+ NOOP\r\n", NULL},
    };
    struct imap_parser *p = imap_parser_new(&limits);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int cont = 0;
        size_t rest;
        enum imap_parse_result r = feed(p, bad[i].line, 1, &cont, &rest);
        assert_int_equal(r, IMAP_PARSE_BAD);
        assert_int_equal(rest, 0);
        if (bad[i].tag)
            assert_string_equal(imap_parser_tag(p), bad[i].tag);
        else
            assert_null(imap_parser_tag(p));
        assert_true(strlen(imap_parser_error(p)) > 0);
        imap_parser_reset(p);
        /* The parser is usable again. */
        assert_int_equal(feed(p, "ok NOOP\r\n", 4, &cont, &rest), IMAP_PARSE_COMMAND);
        assert_string_equal(imap_parser_command(p)->tag, "ok");
        imap_parser_reset(p);
    }
    imap_parser_free(p);
}

static void test_line_too_long(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(&limits);
    char line[400];
    memcpy(line, "t7 LOGIN ", 9);
    memset(line + 9, 'x', 300);
    strcpy(line + 309, "\r\nt8 NOOP\r\n");
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p, line, 7, &cont, &rest), IMAP_PARSE_BAD);
    assert_string_equal(imap_parser_error(p), "Command line too long.");
    assert_string_equal(imap_parser_tag(p), "t7");
    /* Answered as soon as the limit is passed, before the line ends... */
    assert_true(rest > strlen("t8 NOOP\r\n"));
    imap_parser_reset(p);
    /* ...and the rest of it is skipped, whatever the chunks. */
    assert_int_equal(feed(p, line + strlen(line) - rest, 5, &cont, &rest), IMAP_PARSE_COMMAND);
    assert_string_equal(imap_parser_command(p)->tag, "t8");
    assert_int_equal(rest, 0);
    imap_parser_free(p);
}

static void test_literal_limits(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(&limits);
    int cont = 0;
    size_t rest;
    /* A synchronizing literal over the limit is refused before the client sends it. */
    assert_int_equal(feed(p, "l1 LOGIN {51}\r\n", 1, &cont, &rest), IMAP_PARSE_BAD);
    assert_int_equal(cont, 0);
    assert_string_equal(imap_parser_tag(p), "l1");
    imap_parser_reset(p);
    /* A non-synchronizing one is already on its way: fatal. */
    assert_int_equal(feed(p, "l2 LOGIN {99999999999+}\r\n", 1, &cont, &rest), IMAP_PARSE_FATAL);
    imap_parser_reset(p);
    /* Literal bytes do not count against the line limit. */
    char cmd[300];
    strcpy(cmd, "l3 X {50+}\r\n");
    size_t n = strlen(cmd);
    memset(cmd + n, 'a', 50);
    strcpy(cmd + n + 50, " {50+}\r\n");
    n = strlen(cmd);
    memset(cmd + n, 'b', 50);
    strcpy(cmd + n + 50, "\r\n");
    assert_int_equal(feed(p, cmd, 1, &cont, &rest), IMAP_PARSE_COMMAND);
    assert_int_equal(imap_parser_command(p)->n_args, 2);
    imap_parser_free(p);
}

static void test_too_many_args(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(&limits);
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p, "a X 1 2 3 4 5 6 7 8 9 10\r\n", 100, &cont, &rest), IMAP_PARSE_COMMAND);
    imap_parser_reset(p);
    assert_int_equal(feed(p, "a X 1 2 3 4 5 6 7 8 9 (10 11)\r\n", 100, &cont, &rest),
                     IMAP_PARSE_BAD);
    imap_parser_reset(p);
    assert_int_equal(feed(p, "a X ((((((((((((((((((x))))))))))))))))))\r\n", 100, &cont, &rest),
                     IMAP_PARSE_BAD);
    imap_parser_free(p);
}

static void test_quote(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    imap_quote(&b, "a\"b\\c", 5);
    assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\"");
    buf_reset(&b);
    imap_quote(&b, "line\r\nbreak", 11);
    assert_string_equal(buf_cstr(&b), "{11}\r\nline\r\nbreak");
    buf_reset(&b);
    imap_nstring(&b, NULL);
    assert_string_equal(buf_cstr(&b), "NIL");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_whole),       cmocka_unit_test(test_literals_byte_by_byte),
        cmocka_unit_test(test_quoted_and_lists),     cmocka_unit_test(test_bad_syntax_keeps_going),
        cmocka_unit_test(test_line_too_long),        cmocka_unit_test(test_literal_limits),
        cmocka_unit_test(test_too_many_args),        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
