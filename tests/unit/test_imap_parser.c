/* lib-imap: the IMAP command parser (whole commands, the same commands fed one
 * byte at a time, literals synchronizing, LITERAL+, literal8 and streamed, the
 * command budget and every limit), the typed argument readers (mailbox names
 * included), sequence sets, flags and dates, and server responses as the
 * probe reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-format.h"
#include "lib-imap/imap-parser.h"
#include "lib-imap/imap-quote.h"
#include "lib-imap/imap-seqset.h"

#include <string.h>
#include <strings.h>

static const struct imap_parser_limits limits = {
    .max_bytes = 200, .max_args = 10, .max_literals = 0, .max_depth = 16};

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
    memcpy(line, "t7 LOGIN ", 9); /* 300 bytes: over the budget of 200 */
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
    /* A synchronizing literal over the budget is refused before the client sends it. */
    assert_int_equal(feed(p, "l1 LOGIN {201}\r\n", 1, &cont, &rest), IMAP_PARSE_BAD);
    assert_int_equal(cont, 0);
    assert_string_equal(imap_parser_tag(p), "l1");
    imap_parser_reset(p);
    /* A non-synchronizing one is already on its way: fatal. */
    assert_int_equal(feed(p, "l2 LOGIN {99999999999+}\r\n", 1, &cont, &rest), IMAP_PARSE_FATAL);
    imap_parser_reset(p);
    /* Literal bytes count against the one budget of the command. */
    char cmd[400];
    strcpy(cmd, "l3 X {80+}\r\n");
    size_t n = strlen(cmd);
    memset(cmd + n, 'a', 80);
    strcpy(cmd + n + 80, " {80+}\r\n");
    n = strlen(cmd);
    memset(cmd + n, 'b', 80);
    strcpy(cmd + n + 80, "\r\n");
    assert_int_equal(feed(p, cmd, 1, &cont, &rest), IMAP_PARSE_COMMAND);
    assert_int_equal(imap_parser_command(p)->n_args, 2);
    imap_parser_reset(p);
    strcpy(cmd + n + 80, " {80+}\r\n");
    assert_int_equal(feed(p, cmd, 1, &cont, &rest), IMAP_PARSE_FATAL);
    assert_string_equal(imap_parser_tag(p), "l3");
    imap_parser_free(p);

    /* A bound on the number of literals, as before login. */
    struct imap_parser_limits few = limits;
    few.max_literals = 2;
    p = imap_parser_new(&few);
    assert_int_equal(feed(p, "l4 ID ({1+}\r\na {1+}\r\nb)\r\n", 1, &cont, &rest),
                     IMAP_PARSE_COMMAND);
    imap_parser_reset(p);
    assert_int_equal(feed(p, "l5 ID ({1+}\r\na {1+}\r\nb {1}\r\n", 1, &cont, &rest),
                     IMAP_PARSE_BAD);
    assert_string_equal(imap_parser_error(p), "Too many literals.");
    imap_parser_free(p);
}

/* Quoted strings are sized by their content: many of them after a big literal
 * cost their own bytes, not the rest of the command each. */
static void test_quoted_strings_cost_their_size(void **state)
{
    (void)state;
    struct imap_parser_limits big = {
        .max_bytes = 70000, .max_args = 1000, .max_literals = 0, .max_depth = 16};
    struct imap_parser *p = imap_parser_new(&big);
    struct buf cmd = BUF_INIT;
    buf_puts(&cmd, "q X {60000+}\r\n");
    for (int i = 0; i < 60000; i++)
        buf_putc(&cmd, 'z');
    for (int i = 0; i < 100; i++)
        buf_puts(&cmd, " \"x\"");
    buf_puts(&cmd, "\r\n");
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p, cmd.data, 4096, &cont, &rest), IMAP_PARSE_COMMAND);
    assert_int_equal(imap_parser_command(p)->n_args, 101);
    assert_string_equal(imap_parser_command(p)->args[100].str, "x");
    /* the literal's copy and the argument arrays; not 100 x 60000 */
    assert_true(imap_parser_arena(p)->allocated < 200 * 1024);
    buf_free(&cmd);
    imap_parser_free(p);
}

static bool streams_append(void *ctx, const char *name)
{
    (void)ctx;
    return strcasecmp(name, "APPEND") == 0;
}

/* APPEND reads its message literals itself: the parser stops at each one and
 * goes on after it; the same whatever the chunks. */
static void check_streamed_append(size_t chunk)
{
    static const char input[] = "s APPEND INBOX (\\Seen) {10}\r\n0123456789 (\\Draft) "
                                "\"01-Jan-2020 10:00:00 +0100\" ~{3+}\r\nab\0\r\nnext NOOP\r\n";
    size_t len = sizeof(input) - 1, pos = 0;
    struct imap_parser *p = imap_parser_new(&limits);
    imap_parser_set_stream(p, streams_append, NULL);
    int stops = 0;
    enum imap_parse_result r = IMAP_PARSE_NEED_MORE;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk, used = 0;
        r = imap_parser_feed(p, input + pos, n, &used);
        pos += used;
        if (r == IMAP_PARSE_NEED_MORE)
            continue;
        if (r != IMAP_PARSE_LITERAL_STREAM)
            break;
        const struct imap_command *cmd = imap_parser_command(p);
        const struct imap_arg *lit = &cmd->args[cmd->n_args - 1];
        assert_int_equal(lit->type, IMAP_ARG_LITERAL_SIZE);
        if (stops++ == 0) {
            assert_int_equal(cmd->n_args, 3);
            assert_string_equal(cmd->args[0].str, "INBOX");
            assert_int_equal(lit->len, 10);
            assert_true(lit->sync);
            assert_false(lit->literal8);
        } else {
            assert_int_equal(cmd->n_args, 6);
            assert_int_equal(lit->len, 3);
            assert_false(lit->sync);
            assert_true(lit->literal8);
        }
        /* the command takes the literal's bytes itself */
        assert_true(len - pos >= lit->len);
        pos += lit->len;
        imap_parser_literal_done(p);
    }
    if (r != IMAP_PARSE_COMMAND)
        fail_msg("chunk %zu: result %d: %s", chunk, r, imap_parser_error(p));
    assert_int_equal(stops, 2);
    const struct imap_command *cmd = imap_parser_command(p);
    assert_int_equal(cmd->n_args, 6);
    assert_int_equal(cmd->args[1].type, IMAP_ARG_LIST);
    assert_int_equal(cmd->args[2].type, IMAP_ARG_LITERAL_SIZE);
    assert_int_equal(cmd->args[4].type, IMAP_ARG_STRING);
    assert_string_equal(input + pos, "next NOOP\r\n");
    imap_parser_free(p);
}

static void test_streamed_literals(void **state)
{
    (void)state;
    check_streamed_append(1000);
    check_streamed_append(1);
    check_streamed_append(7);
    /* a literal inside a list is held, not streamed; other commands hold theirs */
    struct imap_parser *p = imap_parser_new(&limits);
    imap_parser_set_stream(p, streams_append, NULL);
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p, "t APPEND INBOX (x {2}\r\nab)\r\n", 1, &cont, &rest),
                     IMAP_PARSE_COMMAND);
    assert_int_equal(cont, 1);
    imap_parser_reset(p);
    assert_int_equal(feed(p, "u LOGIN {2}\r\nab c\r\n", 1, &cont, &rest), IMAP_PARSE_COMMAND);
    assert_string_equal(imap_parser_command(p)->args[0].str, "ab");
    imap_parser_free(p);
}

static void test_literal8(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(&limits);
    int cont = 0;
    size_t rest;
    static const char in[] = "b X ~{3}\r\na\0b\r\n";
    size_t len = sizeof(in) - 1, pos = 0;
    enum imap_parse_result r;
    do {
        size_t used = 0;
        r = imap_parser_feed(p, in + pos, 1, &used);
        pos += used;
        cont += r == IMAP_PARSE_CONTINUATION;
    } while (pos < len && (r == IMAP_PARSE_NEED_MORE || r == IMAP_PARSE_CONTINUATION));
    (void)rest;
    assert_int_equal(r, IMAP_PARSE_COMMAND);
    assert_int_equal(cont, 1);
    const struct imap_arg *a = &imap_parser_command(p)->args[0];
    assert_true(a->literal8);
    assert_int_equal(a->len, 3);
    assert_memory_equal(a->str, "a\0b", 3);
    imap_parser_free(p);
}

static void test_arg_readers(void **state)
{
    (void)state;
    struct imap_parser_limits more = limits;
    more.max_args = 20;
    struct imap_parser *p = imap_parser_new(&more);
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p,
                          "r X NIL \"q\" 4294967295 4294967296 0 (\\Seen kw \\Seen KW) "
                          "(\\Recent)\r\n",
                          1, &cont, &rest),
                     IMAP_PARSE_COMMAND);
    const struct imap_arg *a = imap_parser_command(p)->args;
    const char *str;
    size_t len;
    /* NIL is the string "NIL" where an astring is expected (LOGIN NIL pw) */
    assert_true(imap_arg_get_astring(&a[0], &str, &len));
    assert_string_equal(str, "NIL");
    assert_true(imap_arg_get_nstring(&a[0], &str, &len));
    assert_null(str);
    assert_false(imap_arg_get_string(&a[0], &str, &len));
    assert_true(imap_arg_get_string(&a[1], &str, &len));
    uint32_t n;
    assert_true(imap_arg_get_number(&a[2], &n));
    assert_int_equal(n, 4294967295u);
    assert_false(imap_arg_get_number(&a[3], &n));
    assert_true(imap_arg_get_number(&a[4], &n));
    assert_false(imap_arg_get_nz_number(&a[4], &n));
    assert_false(imap_arg_get_number(&a[1], &n)); /* a quoted string is not a number */
    struct imap_flags flags;
    assert_true(imap_arg_get_flag_list(&a[5], imap_parser_arena(p), &flags));
    assert_int_equal(flags.system, IMAP_FLAG_SEEN);
    assert_int_equal(flags.n_keywords, 1); /* keywords are case-insensitive */
    assert_false(imap_arg_get_flag_list(&a[6], imap_parser_arena(p), &flags));
    imap_parser_free(p);
}

/* Mailbox names: modified UTF-7 unless UTF8=ACCEPT is on, as atom, quoted
 * string or literal. */
static void test_mailbox_names(void **state)
{
    (void)state;
    struct imap_parser_limits more = limits;
    more.max_args = 20;
    struct imap_parser *p = imap_parser_new(&more);
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p,
                          "m X INBOX &ZeVnLIqe- \"Entw&APw-rfe\" {9}\r\nA&AOk-b/c NIL &- "
                          "\"Entw\xc3\xbcrfe\" &Jjo! &AGEAYgBj- {3}\r\na%b (x) \"\xff\"\r\n",
                          3, &cont, &rest),
                     IMAP_PARSE_COMMAND);
    const struct imap_command *cmd = imap_parser_command(p);
    assert_int_equal(cmd->n_args, 12);
    struct imap_arg *a = cmd->args;
    a[9].str = "a\0b"; /* the literal's '%' made a NUL, which feed() cannot send */
    static const struct {
        const char *mutf7; /* what the name is read as without UTF8=ACCEPT, NULL: refused */
        const char *utf8;  /* ... and with it */
    } want[] = {
        {"INBOX", "INBOX"},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-"}, /* RFC 3501 §5.1.3 */
        {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
        {"A\xc3\xa9"
         "b/c",
         "A&AOk-b/c"},             /* a literal */
        {"NIL", "NIL"},            /* an astring: NIL is a name */
        {"&", "&-"},               /* "&-" is '&' */
        {NULL, "Entw\xc3\xbcrfe"}, /* 8-bit is not modified UTF-7 */
        {NULL, "&Jjo!"},           /* not modified base64 */
        {NULL, "&AGEAYgBj-"},      /* "abc" must stand for itself */
        {NULL, NULL},              /* a NUL */
        {NULL, NULL},              /* a list */
        {NULL, NULL},              /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        for (int utf8 = 0; utf8 <= 1; utf8++) {
            const char *expect = utf8 ? want[i].utf8 : want[i].mutf7;
            struct buf out = BUF_INIT;
            buf_puts(&out, "prefix:");
            bool ok = imap_arg_get_mailbox(&a[i], utf8, &out);
            if (ok != (expect != NULL))
                fail_msg("argument %zu, utf8 %d: %s", i, utf8, ok ? buf_cstr(&out) : "refused");
            if (expect) {
                assert_memory_equal(out.data, "prefix:", 7);
                assert_string_equal(out.data + 7, expect);
            } else {
                assert_string_equal(buf_cstr(&out), "prefix:"); /* out as it was */
            }
            buf_free(&out);
        }
    }
    imap_parser_free(p);
}

/* Server responses, as the probe reads them: untagged data, status responses
 * with a response code and free text, literals that come without "+". */
static void check_responses(size_t chunk)
{
    struct imap_parser_limits lim = limits;
    lim.max_bytes = 400;
    struct imap_parser *p = imap_parser_new(&lim);
    imap_parser_set_responses(p, true);
    const char *in = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                     "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n"
                     "* ID (\"name\" {10}\r\nDove\"cot\r\n \"os\" NIL)\r\n"
                     "* 3 EXISTS\r\n"
                     "+ Ready for {5}\r\n"
                     "* NO [BADCHARSET (UTF-8 \"x]y\")] text with \"odd ( quoting\r\n"
                     "a1 OK [READ-WRITE] SELECT completed {5}\r\n"
                     "* OK [ALERT unterminated\r\n"
                     "* BYE\r\n";
    size_t pos = 0, len = strlen(in);
    int cont = 0;
    struct {
        const char *tag, *name, *code, *text;
        size_t n_args;
    } want[] = {
        {"*", "CAPABILITY", NULL, NULL, 2},
        {"*", "OK", "CAPABILITY", "Dovecot ready.", 2},
        {"*", "ID", NULL, NULL, 1},
        {"*", "3", NULL, NULL, 1},
        {"+", "", NULL, "Ready for {5}", 0},
        {"*", "NO", "BADCHARSET", "text with \"odd ( quoting", 1},
        {"a1", "OK", "READ-WRITE", "SELECT completed {5}", 0},
        {NULL, NULL, NULL, NULL, 0}, /* BAD: no ']' */
        {"*", "BYE", NULL, "", 0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t rest;
        enum imap_parse_result r = feed(p, in + pos, chunk, &cont, &rest);
        pos = len - rest;
        if (want[i].tag == NULL) {
            assert_int_equal(r, IMAP_PARSE_BAD);
            imap_parser_reset(p);
            continue;
        }
        if (r != IMAP_PARSE_COMMAND)
            fail_msg("response %zu: result %d, %s", i, (int)r, imap_parser_error(p));
        const struct imap_command *c = imap_parser_command(p);
        assert_string_equal(c->tag, want[i].tag);
        assert_string_equal(c->name, want[i].name);
        if (want[i].code)
            assert_string_equal(c->code, want[i].code);
        else
            assert_null(c->code);
        if (want[i].text)
            assert_string_equal(c->text, want[i].text);
        else
            assert_null(c->text);
        assert_int_equal(c->n_args, want[i].n_args);
        if (i == 1)
            assert_string_equal(c->args[1].str, "STARTTLS");
        if (i == 2) {
            const struct imap_arg *l = c->args[0].list;
            assert_int_equal(c->args[0].list_len, 4);
            assert_string_equal(l[0].str, "name");
            assert_true(l[1].literal);
            assert_string_equal(l[1].str, "Dove\"cot\r\n");
            assert_int_equal(l[3].type, IMAP_ARG_NIL);
        }
        if (i == 5) {
            assert_int_equal(c->args[0].list_len, 2);
            assert_string_equal(c->args[0].list[1].str, "x]y");
        }
        imap_parser_reset(p);
    }
    assert_int_equal(pos, len);
    assert_int_equal(cont, 0); /* a server's literal needs no "+" */

    /* A literal over the budget cannot be skipped: its bytes come anyway. */
    size_t rest;
    assert_int_equal(feed(p, "* ID (\"name\" {5000}\r\n", chunk, &cont, &rest), IMAP_PARSE_FATAL);
    imap_parser_free(p);
}

static void test_responses_whole(void **state)
{
    (void)state;
    check_responses(1000);
}

static void test_responses_byte_by_byte(void **state)
{
    (void)state;
    check_responses(1);
}

static void test_dates(void **state)
{
    (void)state;
    struct imap_arg a = {.type = IMAP_ARG_STRING, .str = "17-Jul-1996 02:44:25 -0700", .len = 26};
    time_t t;
    int tz;
    assert_true(imap_arg_get_datetime(&a, &t, &tz));
    assert_int_equal(t, 837596665); /* 1996-07-17 09:44:25 UTC */
    assert_int_equal(tz, -420);
    struct buf b = BUF_INIT;
    imap_write_datetime(&b, t, tz);
    assert_string_equal(buf_cstr(&b), "\"17-Jul-1996 02:44:25 -0700\"");
    a.str = " 1-Feb-2024 00:00:00 +0000";
    assert_true(imap_arg_get_datetime(&a, &t, &tz));
    a.str = "30-Feb-2024 00:00:00 +0000";
    assert_false(imap_arg_get_datetime(&a, &t, &tz));
    a.str = "17-Jul-1996 24:44:25 -0700";
    assert_false(imap_arg_get_datetime(&a, &t, &tz));
    struct imap_arg d = {.type = IMAP_ARG_ATOM, .str = "1-Feb-1994", .len = 10};
    assert_true(imap_arg_get_date(&d, &t));
    assert_int_equal(t, 760060800);
    d.str = "1-Feb-94";
    d.len = 8;
    assert_false(imap_arg_get_date(&d, &t));
    buf_reset(&b);
    const char *kw[] = {"$Forwarded"};
    imap_write_flags(&b, IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED, kw, 1);
    assert_string_equal(buf_cstr(&b), "(\\Answered \\Seen $Forwarded)");
    buf_free(&b);
}

static void test_seqsets(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    struct imap_seqset set;
    assert_true(imap_seqset_parse("1,3:5,9:7,*", 11, &a, &set));
    assert_int_equal(set.count, 4);
    assert_int_equal(set.ranges[2].first, 7);
    assert_int_equal(set.ranges[2].last, 9);
    assert_int_equal(set.ranges[3].first, IMAP_SEQ_STAR);
    imap_seqset_resolve(&set, 4);
    assert_true(imap_seqset_contains(&set, 4));
    assert_false(imap_seqset_contains(&set, 6));
    /* "5:*" with 3 messages is 3:5 (RFC 9051 §9) */
    assert_true(imap_seqset_parse("5:*", 3, &a, &set));
    imap_seqset_resolve(&set, 3);
    assert_int_equal(set.ranges[0].first, 3);
    assert_int_equal(set.ranges[0].last, 5);
    assert_true(imap_seqset_parse("$", 1, &a, &set));
    assert_true(set.saved);
    static const char *bad[] = {"", "0", "1,", ",1", "1:", "a", "1::2", "01", "4294967295", "1 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(imap_seqset_parse(bad[i], strlen(bad[i]), &a, &set));
    struct buf b = BUF_INIT;
    const uint32_t uids[] = {1, 2, 3, 5, 7, 8};
    imap_seqset_write_list(&b, uids, 6);
    assert_string_equal(buf_cstr(&b), "1:3,5,7:8");
    buf_free(&b);
    arena_free(&a);
}

static void test_too_many_args(void **state)
{
    (void)state;
    struct imap_parser *p = imap_parser_new(&limits);
    int cont = 0;
    size_t rest;
    assert_int_equal(feed(p, "a X 1 2 3 4 5 6 7 8 9 10\r\n", 100, &cont, &rest),
                     IMAP_PARSE_COMMAND);
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
        cmocka_unit_test(test_literals_whole),
        cmocka_unit_test(test_literals_byte_by_byte),
        cmocka_unit_test(test_quoted_and_lists),
        cmocka_unit_test(test_bad_syntax_keeps_going),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_literal_limits),
        cmocka_unit_test(test_too_many_args),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quoted_strings_cost_their_size),
        cmocka_unit_test(test_streamed_literals),
        cmocka_unit_test(test_literal8),
        cmocka_unit_test(test_arg_readers),
        cmocka_unit_test(test_mailbox_names),
        cmocka_unit_test(test_responses_whole),
        cmocka_unit_test(test_responses_byte_by_byte),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_seqsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
