/* The mail/ parsers: per-module tests, and the MIME corpus compared with
 * the ENVELOPE/BODY/BODYSTRUCTURE that Dovecot 2.3.19 produced for it
 * (tests/data/mime/make-expected.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "mail/address.h"
#include "mail/header.h"
#include "mail/imap-envelope.h"
#include "mail/message-part.h"
#include "mail/message-stream.h"
#include "mail/message.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"
#include "mail/rfc2231.h"
#include "mail/search-text.h"

#define CORPUS "../data/mime"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

static void parse_mem(const char *data, size_t len, size_t chunk, struct mail_summary *out)
{
    struct mail_parser *p = mail_parser_new();
    for (size_t off = 0; off < len; off += chunk)
        mail_parser_feed(p, data + off, len - off < chunk ? len - off : chunk);
    mail_parser_finish(p, out);
    mail_parser_free(p);
    /* The summary holds the FETCH form, "(...)"; the tests compare the inside,
     * which is what doveadm prints. */
    char **fields[] = {&out->envelope, &out->body, &out->bodystructure};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(*fields[i]);
        assert_true(n >= 2 && (*fields[i])[0] == '(' && (*fields[i])[n - 1] == ')');
        memmove(*fields[i], *fields[i] + 1, n - 2);
        (*fields[i])[n - 2] = '\0';
    }
}

static void parse_str(const char *msg, struct mail_summary *out)
{
    parse_mem(msg, strlen(msg), 1 << 20, out);
}

/* ---- header unfolding ---- */

static void test_header_split_unfold(void **state)
{
    (void)state;
    const char raw[] = "Subject \t: hello\r\n\tworld\r\n  again\r\n";
    const char *name, *value;
    size_t nlen, vlen;
    assert_true(header_split(raw, sizeof(raw) - 1, &name, &nlen, &value, &vlen));
    assert_int_equal(nlen, 7);
    assert_memory_equal(name, "Subject", 7);
    char *u = header_unfold(value, vlen);
    assert_string_equal(u, "hello\tworld  again");
    free(u);
    const char lf[] = "To: a@b\n c@d\n";
    assert_true(header_split(lf, sizeof(lf) - 1, &name, &nlen, &value, &vlen));
    u = header_unfold(value, vlen);
    assert_string_equal(u, "a@b c@d");
    free(u);
    assert_false(header_split("no colon here\r\n", 15, &name, &nlen, &value, &vlen));
}

static void test_header_8bit_and_bare_lf(void **state)
{
    (void)state;
    struct mail_summary s;
    parse_str("Subject: Gr\xc3\xbc\xc3\x9f"
              "e\nFrom: J\xc3\xbcrgen <j@x.de>\n\nbody\n",
              &s);
    assert_string_equal(
        s.envelope,
        "NIL {7}\r\nGr\xc3\xbc\xc3\x9f"
        "e (({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"x.de\")) (({7}\r\nJ\xc3\xbcrgen "
        "NIL \"j\" \"x.de\")) (({7}\r\nJ\xc3\xbcrgen NIL \"j\" \"x.de\")) NIL NIL NIL NIL NIL");
    /* bare LF counts as CRLF in IMAP sizes */
    assert_string_equal(s.body,
                        "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1");
    assert_int_equal(s.header_size, strlen("Subject: Gr\xc3\xbc\xc3\x9f"
                                           "e\nFrom: J\xc3\xbcrgen <j@x.de>\n\n"));
    assert_non_null(strstr(s.search_headers, "Subject: Gr\xc3\xbc\xc3\x9f"
                                             "e\n"));
    mail_summary_free(&s);
}

/* ---- RFC 2047 ---- */

static void dec2047(const char *in, const char *want)
{
    struct buf b = BUF_INIT;
    rfc2047_decode(in, strlen(in), &b);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void test_rfc2047(void **state)
{
    (void)state;
    dec2047("=?iso-8859-1?q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard");
    /* §6.2: whitespace between adjacent encoded words disappears */
    dec2047("=?utf-8?q?Hello_?= \t =?utf-8?q?World?=", "Hello World");
    dec2047("(=?ISO-8859-1?Q?a?= b)", "(a b)");
    dec2047("=?ISO-8859-1?Q?a?= b =?ISO-8859-1?Q?c?=", "a b c");
    /* a UTF-8 character split across two B words */
    dec2047("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xe2\x82\xac");
    /* RFC 2231 §5 language suffix */
    dec2047("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
    /* invalid ones stay as written */
    dec2047("=?bogus?x?zz?= =?utf-8?q?ok?=", "=?bogus?x?zz?= ok");
    dec2047("=?utf-8?q?unterminated", "=?utf-8?q?unterminated");
    dec2047("=?utf-8?q?bad=ZZhex?=", "=?utf-8?q?bad=ZZhex?=");
    dec2047("=?no-such-charset?q?abc?=", "abc");
    /* 8-bit garbage becomes U+FFFD, never invalid UTF-8 */
    dec2047("a\xff", "a\xef\xbf\xbd");
    /* ... also where the bytes look like UTF-8 but RFC 3629 §4 forbids them:
     * a surrogate, an overlong '/', a code point above U+10FFFF */
    dec2047("=?utf-8?q?a=ED=A0=80b?=", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                       "b");
    dec2047("x\xe0\x80\xafy", "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                              "y");
    dec2047("=?utf-8?b?9JCAgA==?=", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    dec2047("", "");
}

/* ---- RFC 2231 ---- */

static void test_rfc2231(void **state)
{
    (void)state;
    const char *v = "; title*1*=%20rates; title*0*=UTF-8'en'%E2%82%AC; plain=\"a b\"; "
                    "x*0=one; x*2=gap; broken=\"unterminated";
    struct rfc822_lexer lx;
    rfc822_lexer_init(&lx, v, strlen(v));
    struct mime_param params[MIME_PARAMS_MAX];
    size_t n = rfc2231_parse_params(&lx, params);
    assert_int_equal(n, 4);
    assert_string_equal(params[0].name, "plain");
    assert_string_equal(params[0].value, "a b");
    assert_string_equal(params[1].name, "title*");
    assert_string_equal(params[1].value, "UTF-8'en'%E2%82%AC%20rates");
    /* a gap in the numbering: not continuations, kept as written */
    assert_string_equal(params[2].name, "x*0");
    assert_string_equal(params[3].name, "x*2");
    struct buf b = BUF_INIT;
    assert_true(rfc2231_value_utf8(params, n, "title", &b));
    assert_string_equal(buf_cstr(&b), "\xe2\x82\xac rates");
    buf_reset(&b);
    assert_false(rfc2231_value_utf8(params, n, "nothing", &b));
    buf_free(&b);
    mime_params_free(params, n);

    /* the parameter count is bounded */
    struct buf many = BUF_INIT;
    for (int i = 0; i < 500; i++)
        buf_printf(&many, "; p%d=v", i);
    rfc822_lexer_init(&lx, many.data, many.len);
    n = rfc2231_parse_params(&lx, params);
    assert_int_equal(n, MIME_PARAMS_MAX);
    mime_params_free(params, n);
    buf_free(&many);
}

/* ---- addresses ---- */

static void addr(const char *in, const char *want)
{
    struct buf b = BUF_INIT;
    imap_address_list_write(&b, in);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void test_addresses(void **state)
{
    (void)state;
    addr("\"Doe, John\" <john@example.com> (boss)",
         "((\"Doe, John\" NIL \"john\" \"example.com\"))");
    addr("john@example.com (John Doe)", "((\"John Doe\" NIL \"john\" \"example.com\"))");
    addr("undisclosed-recipients:;", "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
    addr("A Group:Ed Jones <c@a.test>,joe@where.test;, x@y",
         "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" "
         "\"where.test\")"
         "(NIL NIL NIL NIL)(NIL NIL \"x\" \"y\"))");
    addr("<@r1.example,@r2.example:dave@example.com>",
         "((NIL \"@r1.example,@r2.example\" \"dave\" \"example.com\"))");
    addr("\"quoted local\"@example.com", "((NIL NIL \"quoted local\" \"example.com\"))");
    addr("Eve <eve@[192.0.2.1]>", "((\"Eve\" NIL \"eve\" \"[192.0.2.1]\"))");
    addr("foo", "((NIL NIL \"foo\" \"MISSING_DOMAIN\"))");
    addr("", "NIL");
    addr(NULL, "NIL");
    /* hostile input: unbalanced everything, never a crash, bounded output */
    const char *hostile[] = {"<<<<",
                             "\"",
                             "(((((",
                             "@",
                             ":;:;:;",
                             ",,,,",
                             "a@",
                             "<@",
                             "<@a,",
                             "\\",
                             "g: <x@y",
                             "\"\\",
                             "((((((((((((((((((((((((((((((((((((x"};
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        struct mail_address_list l;
        address_list_parse(hostile[i], strlen(hostile[i]), &l);
        address_list_free(&l);
    }
    struct buf many = BUF_INIT;
    for (int i = 0; i < 5000; i++)
        buf_puts(&many, "a@b,");
    struct mail_address_list l;
    address_list_parse(many.data, many.len, &l);
    assert_int_equal(l.count, ADDRESS_LIST_MAX);
    address_list_free(&l);
    buf_free(&many);
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* A repeated address field adds its addresses (as Dovecot does), bounded in
 * count and in text as one field is: a header of thousands of To lines does
 * not make an ENVELOPE of unbounded size. */
static void test_repeated_address_fields_bounded(void **state)
{
    (void)state;
    struct buf m = BUF_INIT;
    for (int i = 0; i < 3000; i++)
        buf_printf(&m, "To: u%d@example.org\n", i);
    buf_puts(&m, "\nbody\n");
    struct mail_summary s;
    parse_mem(m.data, m.len, 4096, &s);
    assert_int_equal(count_str(s.envelope, "\"example.org\""), ADDRESS_LIST_MAX);
    assert_non_null(strstr(s.envelope, "((NIL NIL \"u0\" \"example.org\")(NIL NIL \"u1\" "));
    assert_non_null(strstr(s.envelope, "(NIL NIL \"u999\" \"example.org\")) NIL NIL NIL NIL"));
    mail_summary_free(&s);
    /* few addresses, but long: the text read into one list is bounded */
    buf_reset(&m);
    for (int i = 0; i < 100; i++) {
        buf_puts(&m, "Cc: \"");
        for (int k = 0; k < 30000; k++)
            buf_putc(&m, 'n');
        buf_printf(&m, "\" <c%d@example.org>\n", i);
    }
    buf_puts(&m, "\nbody\n");
    parse_mem(m.data, m.len, 65536, &s);
    assert_true(strlen(s.envelope) < ADDRESS_LIST_TEXT_MAX + 1024);
    assert_non_null(strstr(s.envelope, "\"c0\" \"example.org\")"));
    assert_non_null(strstr(s.envelope, "\"c1\" \"example.org\")"));
    assert_null(strstr(s.envelope, "\"c2\""));
    mail_summary_free(&s);
    buf_free(&m);
    /* address_list_append on its own */
    struct mail_address_list l = {0};
    address_list_append(&l, "a@x.org", 7);
    address_list_append(&l, "", 0);
    address_list_append(&l, "g: b@y.org", 10);
    address_list_append(&l, "c@z.org", 7);
    assert_int_equal(l.count, 5);
    assert_string_equal(l.items[0].mailbox, "a");
    assert_string_equal(l.items[1].mailbox, "g");
    assert_null(l.items[3].mailbox); /* the open group ends with its own field */
    assert_string_equal(l.items[4].domain, "z.org");
    address_list_free(&l);
}

/* ---- decoders and search text ---- */

static void test_qp_base64_chunked(void **state)
{
    (void)state;
    const char *qp = "caf=C3=A9 =\r\nsoft=\nbreak =ZZ end=3";
    struct buf whole = BUF_INIT, bytewise = BUF_INIT;
    struct qp_decoder d = {0};
    qp_decode(&d, qp, strlen(qp), &whole);
    assert_string_equal(buf_cstr(&whole), "caf\xc3\xa9 softbreak =ZZ end");
    memset(&d, 0, sizeof(d));
    for (size_t i = 0; i < strlen(qp); i++)
        qp_decode(&d, qp + i, 1, &bytewise);
    assert_string_equal(buf_cstr(&bytewise), buf_cstr(&whole));
    buf_reset(&whole);
    struct b64_decoder b = {0};
    const char *b64 = "SGVs\r\nbG8g\nd29y bGQ=";
    for (size_t i = 0; i < strlen(b64); i++)
        b64_decode(&b, b64 + i, 1, &whole);
    assert_string_equal(buf_cstr(&whole), "Hello world");
    buf_free(&whole);
    buf_free(&bytewise);
}

static void test_search_text(void **state)
{
    (void)state;
    struct mail_summary s;
    parse_str(
        "Content-Type: multipart/alternative; boundary=b\n\n--b\n"
        "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: "
        "quoted-printable\n\n"
        "caf=E9\n--b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        "PHA+Q2Fmw6kgJmFtcDsgY3LDqG1lPC9wPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD4=\n"
        "--b\nContent-Type: application/octet-stream\n\nSECRET-BINARY\n--b--\n",
        &s);
    assert_non_null(strstr(s.search_body, "caf\xc3\xa9"));
    assert_non_null(strstr(s.search_body, "Caf\xc3\xa9 & cr\xc3\xa8me"));
    assert_null(strstr(s.search_body, "alert"));
    assert_null(strstr(s.search_body, "SECRET"));
    mail_summary_free(&s);

    /* the 1 MiB cap */
    struct buf big = BUF_INIT;
    buf_puts(&big, "Subject: big\n\n");
    for (int i = 0; i < 30000; i++)
        buf_puts(&big, "0123456789012345678901234567890123456789012345678\n");
    parse_mem(big.data, big.len, 4096, &s);
    assert_int_equal(strlen(s.search_body), SEARCH_TEXT_MAX);
    mail_summary_free(&s);
    buf_free(&big);
}

static void test_sent_date(void **state)
{
    (void)state;
    assert_int_equal(mail_parse_date("Thu, 13 Feb 1969 23:32:54 -0330"), 0); /* before 1970 */
    assert_int_equal(mail_parse_date("Mon, 1 Jan 2024 10:00:00 +0000"), 1704103200);
    assert_int_equal(mail_parse_date("1 Jan 2024 11:00 +0100"), 1704103200);
    assert_int_equal(mail_parse_date("1 Jan 24 05:00:00 EST"), 1704103200);
    assert_int_equal(mail_parse_date("garbage"), 0);
    /* numbers are digits: no signs, so no negative hours or days */
    assert_int_equal(mail_parse_date("1 Jan 2024 -1:00:00 +0000"), 0);
    assert_int_equal(mail_parse_date("1 Jan 2024 10:-5:00 +0000"), 0);
    assert_int_equal(mail_parse_date("+1 Jan 2024 10:00:00 +0000"), 0);
    assert_int_equal(mail_parse_date("1 Jan +2024 10:00:00 +0000"), 0);
    assert_int_equal(mail_parse_date("1 Jan 2024 10:00:00 +-100"), 1704103200); /* no zone */
    assert_int_equal(mail_parse_date("99999999999999999999 Jan 2024 10:00 +0000"), 0);
    assert_int_equal(mail_parse_date(NULL), 0);
}

/* ---- MIME structure ---- */

static void test_mime_edge_cases(void **state)
{
    (void)state;
    struct mail_summary s;
    /* empty multipart */
    parse_str("Content-Type: multipart/mixed; boundary=x\n\n--x--\n", &s);
    assert_string_equal(
        s.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\"");
    mail_summary_free(&s);
    /* no header at all */
    parse_str("", &s);
    assert_string_equal(s.envelope, "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL");
    assert_string_equal(s.body,
                        "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
    mail_summary_free(&s);
    /* Content-* without MIME-Version or Content-Type mean nothing */
    parse_str("Content-Transfer-Encoding: base64\n\nx\n", &s);
    assert_string_equal(s.body,
                        "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1");
    mail_summary_free(&s);
}

static void test_deep_nesting_bounded(void **state)
{
    (void)state;
    struct buf m = BUF_INIT;
    for (int i = 0; i < 5000; i++)
        buf_printf(&m, "Content-Type: multipart/mixed; boundary=\"=_%05d_=\"\n\n--=_%05d_=\n", i,
                   i);
    buf_puts(&m, "\ntext\n");
    struct mail_summary s;
    parse_mem(m.data, m.len, 65536, &s);
    /* MIME_DEPTH_MAX levels of parts, the rest an opaque body */
    int depth = 0, max_depth = 0;
    for (const char *p = s.bodystructure; *p; p++) {
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (depth > max_depth)
            max_depth = depth;
    }
    assert_int_equal(depth, 0);
    assert_true(max_depth >= MIME_DEPTH_MAX);
    assert_true(max_depth <= MIME_DEPTH_MAX + 5);
    mail_summary_free(&s);
    buf_free(&m);
}

/* A ~50 MB message fed in 64 KiB chunks: the summary is right and the heap
 * does not grow with the message (the parser keeps no copy of it). */
static void test_big_message_bounded_memory(void **state)
{
    (void)state;
    static char chunk[65536];
    const char *head =
        "From: a@b.example\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
        "Content-Type: text/plain\r\n\r\nhello\r\n--zz\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    for (size_t i = 0; i < sizeof(chunk); i += 78) {
        size_t n = sizeof(chunk) - i < 78 ? sizeof(chunk) - i : 78;
        memset(chunk + i, 'A', n);
        if (n == 78)
            memcpy(chunk + i + 76, "\r\n", 2);
    }
    struct mail_parser *p = mail_parser_new();
    mail_parser_feed(p, head, strlen(head));
    size_t total = strlen(head);
    mail_parser_feed(p, chunk, sizeof(chunk));
    total += sizeof(chunk);
    size_t heap_after_first = mallinfo2().uordblks;
    const int rounds = 800; /* ~52 MB */
    for (int i = 1; i < rounds; i++) {
        mail_parser_feed(p, chunk, sizeof(chunk));
        total += sizeof(chunk);
    }
    size_t heap_at_end = mallinfo2().uordblks;
    const char *tail = "\r\n--zz--\r\n";
    mail_parser_feed(p, tail, strlen(tail));
    total += strlen(tail);
    struct mail_summary s;
    mail_parser_finish(p, &s);
    mail_parser_free(p);
    /* growth far below the 52 MB fed: no copy kept */
    assert_true(heap_at_end < heap_after_first + 1024 * 1024);
    assert_int_equal(s.size, total);
    /* 65536 bytes per chunk = 840 full lines of 78 + 16 bytes */
    uint64_t body = (uint64_t)rounds * sizeof(chunk);
    char want[512];
    snprintf(want, sizeof(want),
             "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
             "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" %llu) \"mixed\")",
             (unsigned long long)body);
    assert_string_equal(s.body, want);
    assert_string_equal(s.search_body, "hello\r\n");
    mail_summary_free(&s);
}

/* ---- the corpus ---- */

/* Canonical form of an IMAP response fragment: every string, quoted or
 * literal, rewritten as one quoted form, so that Dovecot's choice of a
 * literal (for text with quotes, CR/LF or 8-bit bytes) and gannet's quoted
 * string compare equal when the values are equal. */
static char *canonical(const char *s, size_t len)
{
    struct buf b = BUF_INIT;
    size_t i = 0;
    while (i < len) {
        if (s[i] == '"') {
            buf_putc(&b, '"');
            for (i++; i < len && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                if (s[i] == '"' || s[i] == '\\')
                    buf_putc(&b, '\\');
                buf_putc(&b, s[i]);
            }
            buf_putc(&b, '"');
            i++;
        } else if (s[i] == '{') {
            char *end;
            unsigned long n = strtoul(s + i + 1, &end, 10);
            if (*end == '}' && end[1] == '\r' && end[2] == '\n') {
                const char *d = end + 3;
                buf_putc(&b, '"');
                for (unsigned long k = 0; k < n && d + k < s + len; k++) {
                    if (d[k] == '"' || d[k] == '\\')
                        buf_putc(&b, '\\');
                    buf_putc(&b, d[k]);
                }
                buf_putc(&b, '"');
                i = (size_t)(d + n - s);
            } else {
                buf_putc(&b, s[i++]);
            }
        } else {
            buf_putc(&b, s[i++]);
        }
    }
    return buf_steal(&b);
}

/* Splits an .expected file into its ENVELOPE, BODY, BODYSTRUCTURE records. */
static bool split_expected(char *data, size_t len, char *rec[3], size_t rlen[3])
{
    static const char *tags[3] = {"ENVELOPE ", "\nBODY ", "\nBODYSTRUCTURE "};
    char *pos[3];
    char *from = data;
    for (int i = 0; i < 3; i++) {
        pos[i] = i == 0 ? (strncmp(data, tags[0], 9) == 0 ? data : NULL) : strstr(from, tags[i]);
        if (!pos[i])
            return false;
        from = pos[i] + 1;
    }
    for (int i = 0; i < 3; i++) {
        rec[i] = pos[i] + strlen(tags[i]);
        char *end = i < 2 ? pos[i + 1] : data + len;
        if (i == 2 && end > rec[i] && end[-1] == '\n')
            end--;
        rlen[i] = (size_t)(end - rec[i]);
    }
    return true;
}

static bool is_message_file(const char *name)
{
    static const char *skip[] = {".expected", ".gannet-differs", ".sh", ".py", ".md"};
    if (name[0] == '.' || strncmp(name, "README", 6) == 0)
        return false;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        size_t k = strlen(skip[i]);
        if (n > k && strcmp(name + n - k, skip[i]) == 0)
            return false;
    }
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t corpus_list(char ***names)
{
    DIR *d = opendir(CORPUS);
    assert_non_null(d);
    size_t n = 0;
    *names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_message_file(e->d_name))
            continue;
        *names = xrealloc(*names, (n + 1) * sizeof(char *));
        (*names)[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(*names, n, sizeof(char *), name_cmp);
    return n;
}

static void test_corpus_matches_dovecot(void **state)
{
    (void)state;
    char **names;
    size_t n = corpus_list(&names);
    assert_true(n >= 60);
    size_t exact = 0, same_values = 0, differs_noted = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[512], exp_path[600];
        snprintf(path, sizeof(path), "%s/%s", CORPUS, names[i]);
        size_t mlen, elen;
        char *msg = read_file(path, &mlen);
        assert_non_null(msg);
        /* a deliberate difference replaces Dovecot's answer with gannet's */
        snprintf(exp_path, sizeof(exp_path), "%s.gannet-differs", path);
        char *exp = read_file(exp_path, &elen);
        bool noted = exp != NULL;
        if (!exp) {
            snprintf(exp_path, sizeof(exp_path), "%s.expected", path);
            exp = read_file(exp_path, &elen);
        }
        assert_non_null(exp);
        char *rec[3];
        size_t rlen[3];
        assert_true(split_expected(exp, elen, rec, rlen));
        struct mail_summary s;
        parse_mem(msg, mlen, 65536, &s);
        const char *got[3] = {s.envelope, s.body, s.bodystructure};
        static const char *what[3] = {"ENVELOPE", "BODY", "BODYSTRUCTURE"};
        bool all_exact = true, all_same = true;
        for (int k = 0; k < 3; k++) {
            bool ex = strlen(got[k]) == rlen[k] && memcmp(got[k], rec[k], rlen[k]) == 0;
            char *cg = canonical(got[k], strlen(got[k])), *ce = canonical(rec[k], rlen[k]);
            bool same = strcmp(cg, ce) == 0;
            if (!same)
                fprintf(stderr, "%s %s differs\n  dovecot: %s\n  gannet:  %s\n", names[i], what[k],
                        ce, cg);
            all_exact &= ex;
            all_same &= same;
            free(cg);
            free(ce);
        }
        if (all_exact)
            exact++;
        else if (all_same) {
            same_values++;
            fprintf(stderr, "%s: same values as Dovecot, another string form\n", names[i]);
        } else
            failed++;
        if (noted)
            differs_noted++;
        mail_summary_free(&s);
        free(exp);
        free(msg);
    }
    fprintf(stderr,
            "corpus: %zu messages, %zu byte for byte, %zu same values (string form differs), "
            "%zu with a noted difference, %zu failing\n",
            n, exact, same_values, differs_noted, failed);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    assert_int_equal(failed, 0);
}

/* Every corpus message fed one byte at a time gives what one big chunk gives. */
static void test_corpus_chunk_independent(void **state)
{
    (void)state;
    char **names;
    size_t n = corpus_list(&names);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS, names[i]);
        size_t mlen;
        char *msg = read_file(path, &mlen);
        struct mail_summary whole, bytes, odd;
        parse_mem(msg, mlen, mlen + 1, &whole);
        parse_mem(msg, mlen, 1, &bytes);
        parse_mem(msg, mlen, 7, &odd);
        assert_string_equal(whole.envelope, bytes.envelope);
        assert_string_equal(whole.bodystructure, bytes.bodystructure);
        assert_string_equal(whole.search_body, bytes.search_body);
        assert_string_equal(whole.search_headers, bytes.search_headers);
        assert_string_equal(whole.header_fields, bytes.header_fields);
        assert_string_equal(whole.bodystructure, odd.bodystructure);
        assert_int_equal(whole.header_size, bytes.header_size);
        assert_int_equal(whole.size, mlen);
        mail_summary_free(&whole);
        mail_summary_free(&bytes);
        mail_summary_free(&odd);
        free(msg);
        free(names[i]);
    }
    free(names);
}

static void test_parse_fd(void **state)
{
    (void)state;
    int fd = open(CORPUS "/edge-groups.eml", O_RDONLY);
    assert_true(fd >= 0);
    struct mail_summary s;
    assert_int_equal(mail_parse_fd(fd, &s), 0);
    close(fd);
    assert_non_null(strstr(s.envelope, "\"group addresses\""));
    assert_int_equal(s.sent_date, 0); /* 1969 */
    mail_summary_free(&s);
    assert_true(mail_parse_fd(-1, &s) < 0);
}

/* ---- locating sections (FETCH BODY[4.2.1], BODY[3.HEADER], ...) ---- */

/* An fd holding data, in memory. */
static int memfd_with(const char *data, size_t len)
{
    int fd = memfd_create("msg", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    return fd;
}

/* The bytes a stream gives for a range, as a string. */
static char *stream_all(int fd, uint64_t start, uint64_t end, const struct mail_stream_opts *o)
{
    struct mail_stream *st = mail_stream_new(fd, start, end, o);
    struct buf b = BUF_INIT;
    int64_t n;
    /* odd read sizes: the output must not depend on them */
    while ((n = mail_stream_read(st, &b, 7)) > 0)
        ;
    assert_true(n == 0);
    mail_stream_free(st);
    return buf_steal(&b);
}

static char *range_text(int fd, const struct mail_range *r)
{
    struct mail_stream_opts o = {.crlf = true};
    char *s = stream_all(fd, r->start, r->end, &o);
    assert_int_equal(strlen(s), r->vsize);
    return s;
}

/* RFC 9051 §6.4.5.1's example of a complex message, with bodies that name
 * their part. */
static const char nested_msg[] = "From: a@example.org\r\n"
                                 "Subject: top\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
                                 "\r\n"
                                 "preamble\r\n"
                                 "--outer\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "\r\n"
                                 "part 1\r\n"
                                 "--outer\r\n"
                                 "Content-Type: application/octet-stream\r\n"
                                 "Content-Transfer-Encoding: base64\r\n"
                                 "\r\n"
                                 "cGFydCAy\r\n"
                                 "--outer\r\n"
                                 "Content-Type: message/rfc822\r\n"
                                 "\r\n"
                                 "Subject: three\r\n"
                                 "Content-Type: multipart/mixed; boundary=three\r\n"
                                 "\r\n"
                                 "--three\r\n"
                                 "\r\n"
                                 "part 3.1\r\n"
                                 "--three\r\n"
                                 "Content-Type: application/octet-stream\r\n"
                                 "\r\n"
                                 "part 3.2\r\n"
                                 "--three--\r\n"
                                 "--outer\r\n"
                                 "Content-Type: multipart/mixed; boundary=four\r\n"
                                 "\r\n"
                                 "--four\r\n"
                                 "Content-Type: image/gif\r\n"
                                 "\r\n"
                                 "part 4.1\r\n"
                                 "--four\r\n"
                                 "Content-Type: message/rfc822\r\n"
                                 "\r\n"
                                 "Subject: four two\r\n"
                                 "Content-Type: multipart/mixed; boundary=fourtwo\r\n"
                                 "\r\n"
                                 "--fourtwo\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "\r\n"
                                 "part 4.2.1\r\n"
                                 "--fourtwo\r\n"
                                 "Content-Type: multipart/alternative; boundary=alt\r\n"
                                 "\r\n"
                                 "--alt\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "\r\n"
                                 "part 4.2.2.1\r\n"
                                 "--alt\r\n"
                                 "Content-Type: text/richtext\r\n"
                                 "\r\n"
                                 "part 4.2.2.2\r\n"
                                 "--alt--\r\n"
                                 "--fourtwo--\r\n"
                                 "--four--\r\n"
                                 "--outer--\r\n"
                                 "epilogue\r\n";

/* The message with bare LF line ends, as a Unix MTA may store it. */
static char *lf_only(const char *crlf)
{
    struct buf b = BUF_INIT;
    for (const char *p = crlf; *p; p++)
        if (!(p[0] == '\r' && p[1] == '\n'))
            buf_putc(&b, *p);
    return buf_steal(&b);
}

struct section_case {
    uint32_t path[4];
    size_t depth;
    const char *body;   /* BODY[path] */
    const char *header; /* BODY[path.MIME] */
};

static void check_nested(const char *msg)
{
    static const struct section_case cases[] = {
        {{1}, 1, "part 1", "Content-Type: text/plain\r\n\r\n"},
        {{2},
         1,
         "cGFydCAy",
         "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"},
        {{3, 1}, 2, "part 3.1", "\r\n"},
        {{3, 2}, 2, "part 3.2", "Content-Type: application/octet-stream\r\n\r\n"},
        {{4, 1}, 2, "part 4.1", "Content-Type: image/gif\r\n\r\n"},
        {{4, 2, 1}, 3, "part 4.2.1", "Content-Type: text/plain\r\n\r\n"},
        {{4, 2, 2, 1}, 4, "part 4.2.2.1", "Content-Type: text/plain\r\n\r\n"},
        {{4, 2, 2, 2}, 4, "part 4.2.2.2", "Content-Type: text/richtext\r\n\r\n"},
    };
    int fd = memfd_with(msg, strlen(msg));
    struct mail_part_info info;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct section_case *c = &cases[i];
        for (int header_only = 0; header_only < 2; header_only++) {
            assert_int_equal(mail_part_locate(fd, c->path, c->depth, header_only, &info), 1);
            char *h = range_text(fd, &info.header);
            assert_string_equal(h, c->header);
            free(h);
        }
        assert_int_equal(mail_part_locate(fd, c->path, c->depth, false, &info), 1);
        char *b = range_text(fd, &info.body);
        assert_string_equal(b, c->body);
        free(b);
    }
    /* 3 and 4.2 are message/rfc822: their HEADER and TEXT */
    uint32_t three[] = {3}, four_two[] = {4, 2};
    assert_int_equal(mail_part_locate(fd, three, 1, false, &info), 1);
    assert_true(info.has_message);
    char *t = range_text(fd, &info.message_header);
    assert_string_equal(t,
                        "Subject: three\r\nContent-Type: multipart/mixed; boundary=three\r\n\r\n");
    free(t);
    t = range_text(fd, &info.message_body);
    assert_string_equal(t, "--three\r\n\r\npart 3.1\r\n--three\r\nContent-Type: "
                           "application/octet-stream\r\n\r\npart 3.2\r\n--three--\r\n");
    free(t);
    assert_int_equal(mail_part_locate(fd, four_two, 2, true, &info), 1);
    t = range_text(fd, &info.message_header);
    assert_string_equal(
        t, "Subject: four two\r\nContent-Type: multipart/mixed; boundary=fourtwo\r\n\r\n");
    free(t);
    /* the whole message: TEXT runs to the end, epilogue included */
    assert_int_equal(mail_part_locate(fd, NULL, 0, false, &info), 1);
    t = range_text(fd, &info.body);
    assert_true(strncmp(t, "preamble\r\n--outer\r\n", 19) == 0);
    assert_true(strlen(t) > 9 && strcmp(t + strlen(t) - 10, "epilogue\r\n") == 0);
    free(t);
    /* the encoding is known for BINARY */
    uint32_t two[] = {2};
    assert_int_equal(mail_part_locate(fd, two, 1, true, &info), 1);
    assert_string_equal(info.encoding, "base64");
    /* parts that do not exist */
    /* (1.1 is 1 itself, as in Dovecot: a part that is not multipart has a 1) */
    uint32_t none[][3] = {{5}, {1, 2}, {2, 2}, {3, 3}, {4, 3}, {4, 1, 2}};
    size_t none_depth[] = {1, 2, 2, 2, 2, 3};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(mail_part_locate(fd, none[i], none_depth[i], false, &info), 0);
    close(fd);
}

static void test_part_locate_nested(void **state)
{
    (void)state;
    check_nested(nested_msg);
    /* the same with bare LF: ranges in the file's bytes, sizes as IMAP sends */
    char *lf = lf_only(nested_msg);
    check_nested(lf);
    free(lf);
}

static void test_part_locate_single_part(void **state)
{
    (void)state;
    /* "1" is the body of a message that is not multipart; 1.MIME its header */
    const char msg[] = "Subject: one\r\n\r\nonly body\r\n";
    int fd = memfd_with(msg, sizeof(msg) - 1);
    struct mail_part_info info;
    uint32_t one[] = {1}, one_one[] = {1, 1};
    assert_int_equal(mail_part_locate(fd, one, 1, false, &info), 1);
    char *t = range_text(fd, &info.body);
    assert_string_equal(t, "only body\r\n");
    free(t);
    t = range_text(fd, &info.header);
    assert_string_equal(t, "Subject: one\r\n\r\n");
    free(t);
    assert_int_equal(mail_part_locate(fd, one_one, 2, false, &info), 0);
    /* header only: the parse stops at the blank line */
    assert_int_equal(mail_part_locate(fd, NULL, 0, true, &info), 1);
    assert_int_equal(info.header.end, 16);
    assert_int_equal(info.body.start, 16);
    close(fd);
    /* a part whose blank line a delimiter follows at once: that line end is
     * the delimiter's, the header ends before it and the body is empty
     * (Dovecot's BODY[2.MIME] of such a part has no blank line) */
    const char empty[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                         "--b\r\n\r\none\r\n"
                         "--b\r\nContent-Type: image/gif\r\n\r\n"
                         "--b--\r\n";
    int efd = memfd_with(empty, sizeof(empty) - 1);
    uint32_t two[] = {2};
    assert_int_equal(mail_part_locate(efd, two, 1, false, &info), 1);
    t = range_text(efd, &info.header);
    assert_string_equal(t, "Content-Type: image/gif\r\n");
    free(t);
    assert_int_equal(info.body.vsize, 0);
    assert_int_equal(info.body.start, info.header.end);
    close(efd);
    /* a message without a blank line is all header */
    const char hdr[] = "Subject: no body\r\n";
    fd = memfd_with(hdr, sizeof(hdr) - 1);
    assert_int_equal(mail_part_locate(fd, NULL, 0, false, &info), 1);
    assert_int_equal(info.header.end, sizeof(hdr) - 1);
    assert_int_equal(info.body.vsize, 0);
    close(fd);
}

/* Every part of every corpus message: the ranges in the file and the sizes
 * with CRLF agree, a child's header starts after its delimiter line, and
 * the header ranges end where the header ends. */
static size_t check_parts(int fd, const char *msg, size_t len, const struct mime_part *p,
                          uint32_t *path, size_t depth)
{
    size_t checked = 0;
    struct mail_part_info info;
    if (depth > 0) {
        assert_int_equal(mail_part_locate(fd, path, depth, false, &info), 1);
        assert_true(info.header.start <= info.header.end);
        assert_int_equal(info.header.end, info.body.start);
        assert_true(info.body.start <= info.body.end && info.body.end <= len);
        free(range_text(fd, &info.header));
        free(range_text(fd, &info.body));
        if (p->parent && (p->parent->flags & MIME_PART_MULTIPART) && info.header.start < len) {
            /* right after "--boundary" and its line end */
            assert_true(info.header.start > 0 && msg[info.header.start - 1] == '\n');
            const char *line = msg + info.header.start - 1;
            while (line > msg && line[-1] != '\n')
                line--;
            assert_true(line[0] == '-' && line[1] == '-');
            /* and its body ends at the line end that the next delimiter owns,
             * or right before that delimiter when a close delimiter ended
             * the body and kept its own line end */
            if (info.body.end < len && info.body.end > info.body.start)
                assert_true(msg[info.body.end] == '\r' || msg[info.body.end] == '\n' ||
                            (msg[info.body.end] == '-' && msg[info.body.end - 1] == '\n'));
        }
        struct mail_part_info h;
        assert_int_equal(mail_part_locate(fd, path, depth, true, &h), 1);
        assert_int_equal(h.header.start, info.header.start);
        assert_int_equal(h.header.end, info.header.end);
        checked++;
    }
    if (depth >= 8)
        return checked;
    if (depth == 0 && !(p->flags & MIME_PART_MULTIPART)) {
        /* a message that is not multipart: "1" is the message itself */
        path[0] = 1;
        return check_parts(fd, msg, len, p, path, 1);
    }
    uint32_t n = 1;
    const struct mime_part *c = p->children;
    if (p->flags & MIME_PART_RFC822) {
        /* the encapsulated message's parts continue the numbering */
        if (c && (c->flags & MIME_PART_MULTIPART)) {
            for (const struct mime_part *cc = c->children; cc; cc = cc->next) {
                path[depth] = n++;
                checked += check_parts(fd, msg, len, cc, path, depth + 1);
            }
        } else if (c) {
            path[depth] = 1;
            checked += check_parts(fd, msg, len, c, path, depth + 1);
        }
        return checked;
    }
    for (; c; c = c->next) {
        path[depth] = n++;
        checked += check_parts(fd, msg, len, c, path, depth + 1);
    }
    return checked;
}

static void test_part_locate_corpus(void **state)
{
    (void)state;
    char **names;
    size_t n = corpus_list(&names);
    size_t parts = 0;
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS, names[i]);
        size_t mlen;
        char *msg = read_file(path, &mlen);
        int fd = memfd_with(msg, mlen);
        struct mime_parser *mp = mime_parser_new(NULL);
        mime_parser_feed(mp, msg, mlen);
        const struct mime_part *root = mime_parser_finish(mp);
        uint32_t numbers[8];
        parts += check_parts(fd, msg, mlen, root, numbers, 0);
        /* the whole message: header then body, all of it */
        struct mail_part_info info;
        assert_int_equal(mail_part_locate(fd, NULL, 0, false, &info), 1);
        assert_int_equal(info.header.start, 0);
        assert_int_equal(info.body.end, mlen);
        assert_int_equal(info.header.vsize + info.body.vsize, root->body_start + root->body_size);
        mime_parser_free(mp);
        close(fd);
        free(msg);
        free(names[i]);
    }
    free(names);
    assert_true(parts > 100);
}

/* ---- reading sections ---- */

static void test_stream_header_fields(void **state)
{
    (void)state;
    const char hdr[] = "From: a@example.org\r\n"
                       "To: b@example.org,\r\n"
                       " c@example.org\r\n"
                       "Subject : folded\r\n"
                       "\tsecond line\r\n"
                       "X-Broken line without colon\r\n"
                       "subject: again\r\n"
                       "\r\n";
    int fd = memfd_with(hdr, sizeof(hdr) - 1);
    const char *only[] = {"SUBJECT", "to"};
    struct mail_stream_opts o = {.filter = MAIL_HEADER_ONLY, .fields = only, .n_fields = 2};
    char *t = stream_all(fd, 0, sizeof(hdr) - 1, &o);
    assert_string_equal(t, "To: b@example.org,\r\n c@example.org\r\n"
                           "Subject : folded\r\n\tsecond line\r\nsubject: again\r\n\r\n");
    free(t);
    o.filter = MAIL_HEADER_EXCEPT;
    t = stream_all(fd, 0, sizeof(hdr) - 1, &o);
    assert_string_equal(t, "From: a@example.org\r\nX-Broken line without colon\r\n\r\n");
    free(t);
    uint64_t size;
    bool nul;
    assert_int_equal(mail_stream_measure(fd, 0, sizeof(hdr) - 1, &o, 0, UINT64_MAX, &size, &nul),
                     0);
    assert_int_equal(size, strlen("From: a@example.org\r\nX-Broken line without colon\r\n\r\n"));
    assert_false(nul);
    close(fd);
    /* bare LF: converted first, the filter sees CRLF lines */
    const char lf[] = "From: x\nSubject: y\n z\n\n";
    fd = memfd_with(lf, sizeof(lf) - 1);
    o = (struct mail_stream_opts){
        .crlf = true, .filter = MAIL_HEADER_ONLY, .fields = only, .n_fields = 1};
    t = stream_all(fd, 0, sizeof(lf) - 1, &o);
    assert_string_equal(t, "Subject: y\r\n z\r\n\r\n");
    free(t);
    close(fd);
}

static void test_stream_decode_and_skip(void **state)
{
    (void)state;
    const char b64[] = "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n";
    int fd = memfd_with(b64, sizeof(b64) - 1);
    struct mail_stream_opts o = {.decode = MAIL_DECODE_BASE64};
    char *t = stream_all(fd, 0, sizeof(b64) - 1, &o);
    assert_string_equal(t, "hello world");
    free(t);
    struct mail_stream *st = mail_stream_new(fd, 0, sizeof(b64) - 1, &o);
    assert_false(mail_stream_is_plain(st));
    assert_int_equal(mail_stream_skip(st, 6), 0);
    struct buf b = BUF_INIT;
    assert_int_equal(mail_stream_read(st, &b, 3), 3);
    assert_memory_equal(b.data, "wor", 3);
    buf_free(&b);
    mail_stream_free(st);
    close(fd);
    /* quoted-printable with LF line ends: hard breaks become CRLF, an encoded
     * LF stays one byte, soft breaks vanish, a NUL is kept */
    const char qp[] = "a=3Db=\nc=0Ad\n=00e=";
    fd = memfd_with(qp, sizeof(qp) - 1);
    o = (struct mail_stream_opts){.crlf = true, .decode = MAIL_DECODE_QUOTED_PRINTABLE};
    uint64_t size;
    bool nul;
    assert_int_equal(mail_stream_measure(fd, 0, sizeof(qp) - 1, &o, 0, 5, &size, &nul), 0);
    assert_int_equal(size, 11); /* "a=bc" "\n" "d" "\r\n" "\0" "e" "=" */
    assert_false(nul);          /* none in the first five bytes */
    assert_int_equal(mail_stream_measure(fd, 0, sizeof(qp) - 1, &o, 8, 9, &size, &nul), 0);
    assert_true(nul);
    st = mail_stream_new(fd, 0, sizeof(qp) - 1, &o);
    assert_int_equal(mail_stream_read(st, &b, 100), 11);
    assert_memory_equal(b.data, "a=bc\nd\r\n\0e=", 11);
    buf_free(&b);
    mail_stream_free(st);
    close(fd);
    /* a whole message for BINARY[]: its header with the encoding made
     * "binary", then its body decoded */
    const char whole[] = "From: a@example.org\nContent-Transfer-Encoding:\n base64\nX: y\n\n"
                         "aGVsbG8g\nd29ybGQ=\n";
    fd = memfd_with(whole, sizeof(whole) - 1);
    o = (struct mail_stream_opts){.crlf = true,
                                  .filter = MAIL_HEADER_CTE_BINARY,
                                  .decode = MAIL_DECODE_BASE64,
                                  .body_start = (uint64_t)(strstr(whole, "\n\n") + 2 - whole)};
    t = stream_all(fd, 0, sizeof(whole) - 1, &o);
    assert_string_equal(t, "From: a@example.org\r\nX: y\r\nContent-Transfer-Encoding: "
                           "binary\r\n\r\nhello world");
    free(t);
    close(fd);
    /* plain bytes: NULs replaced, skipping seeks, a short file ends early */
    const char raw[] = "ab\0cd\nef";
    fd = memfd_with(raw, sizeof(raw) - 1);
    o = (struct mail_stream_opts){.nul_to_0x80 = true};
    assert_int_equal(mail_range_has_nul(fd, 0, sizeof(raw) - 1), 1);
    assert_int_equal(mail_range_has_nul(fd, 3, sizeof(raw) - 1), 0);
    st = mail_stream_new(fd, 0, 100, &o);
    assert_true(mail_stream_is_plain(st));
    assert_int_equal(mail_stream_skip(st, 1), 0);
    assert_int_equal(mail_stream_offset(st), 1);
    assert_int_equal(mail_stream_read(st, &b, 100), 7);
    assert_memory_equal(b.data,
                        "b\x80"
                        "cd\nef",
                        7);
    assert_int_equal(mail_stream_read(st, &b, 100), 0);
    buf_free(&b);
    mail_stream_free(st);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_split_unfold),
        cmocka_unit_test(test_header_8bit_and_bare_lf),
        cmocka_unit_test(test_rfc2047),
        cmocka_unit_test(test_rfc2231),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_repeated_address_fields_bounded),
        cmocka_unit_test(test_qp_base64_chunked),
        cmocka_unit_test(test_search_text),
        cmocka_unit_test(test_sent_date),
        cmocka_unit_test(test_mime_edge_cases),
        cmocka_unit_test(test_deep_nesting_bounded),
        cmocka_unit_test(test_big_message_bounded_memory),
        cmocka_unit_test(test_corpus_matches_dovecot),
        cmocka_unit_test(test_corpus_chunk_independent),
        cmocka_unit_test(test_parse_fd),
        cmocka_unit_test(test_part_locate_nested),
        cmocka_unit_test(test_part_locate_single_part),
        cmocka_unit_test(test_part_locate_corpus),
        cmocka_unit_test(test_stream_header_fields),
        cmocka_unit_test(test_stream_decode_and_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
