/* lib/: buffers, base64 (RFC 4648 test vectors), networks, shared counters,
 * UTF-8, numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/netaddr.h"
#include "lib/number.h"
#include "lib/shared-counter.h"
#include "lib/utf8.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_buf(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_string_equal(buf_cstr(&b), "");
    buf_reserve(&b, 0);
    assert_string_equal(buf_cstr(&b), ""); /* reserved, still a valid empty string */
    buf_printf(&b, "%s-%d", "x", 42);
    buf_putc(&b, '!');
    buf_append(&b, "\0z", 2);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "x-42!\0z", 7);
    buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        buf_puts(&b, "0123456789");
    assert_int_equal(b.len, 10000);
    char *s = buf_steal(&b);
    assert_null(b.data);
    assert_int_equal(strlen(s), 10000);
    free(s);
}

static void test_base64_vectors(void **state)
{
    (void)state;
    /* RFC 4648 §10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct buf b = BUF_INIT;
        base64_encode(plain[i], strlen(plain[i]), &b);
        assert_string_equal(buf_cstr(&b), coded[i]);
        buf_reset(&b);
        assert_true(base64_decode(coded[i], strlen(coded[i]), &b));
        assert_int_equal(b.len, strlen(plain[i]));
        assert_memory_equal(buf_cstr(&b), plain[i], b.len);
        buf_free(&b);
    }
}

static void test_base64_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {"Zg",   "Zg=",      "Z===", "Zm9v YmFy",
                                      "Zm=v", "Zg==Zg==", "Zm9*", "Zm9\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b = BUF_INIT;
        buf_puts(&b, "keep");
        assert_false(base64_decode(bad[i], strlen(bad[i]), &b));
        assert_string_equal(buf_cstr(&b), "keep");
        buf_free(&b);
    }
}

static void test_networks(void **state)
{
    (void)state;
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.77", &v4.sin_addr);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::5", &v6.sin6_addr);
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:192.0.2.77", &mapped.sin6_addr);
    const struct sockaddr *a4 = (const struct sockaddr *)&v4;
    assert_true(netaddr_in_networks(a4, "10.0.0.0/8 192.0.2.0/25"));
    assert_false(netaddr_in_networks(a4, "192.0.2.0/26"));
    assert_true(netaddr_in_networks(a4, "192.0.2.77"));
    assert_false(netaddr_in_networks(a4, NULL));
    assert_false(netaddr_in_networks(a4, "2001:db8::/32"));
    assert_true(netaddr_in_networks((const struct sockaddr *)&v6, "10.0.0.0/8, 2001:db8::/32"));
    assert_true(netaddr_in_networks((const struct sockaddr *)&mapped, "192.0.2.64/27"));
    unsigned char net[16];
    int family;
    unsigned prefix;
    assert_false(netaddr_parse_cidr("192.0.2.0/33", net, &family, &prefix));
    assert_false(netaddr_parse_cidr("example.org", net, &family, &prefix));
    assert_false(netaddr_parse_cidr("10.0.0.0/", net, &family, &prefix));
    /* the prefix length is digits only, as strtoul() would not insist */
    static const char *const bad_prefix[] = {"10.0.0.0/+8", "10.0.0.0/ 8",
                                             "10.0.0.0/-0", "2001:db8::/ 32",
                                             "10.0.0.0/8x", "10.0.0.0/18446744073709551624"};
    for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++)
        if (netaddr_parse_cidr(bad_prefix[i], net, &family, &prefix))
            fail_msg("'%s' taken as a network, prefix %u", bad_prefix[i], prefix);
    assert_true(netaddr_parse_cidr("10.0.0.0/08", net, &family, &prefix));
    assert_int_equal(prefix, 8);
    char text[64];
    int port;
    v4.sin_port = htons(993);
    netaddr_format(a4, text, sizeof(text), &port);
    assert_string_equal(text, "192.0.2.77");
    assert_int_equal(port, 993);
    netaddr_format((const struct sockaddr *)&mapped, text, sizeof(text), &port);
    assert_string_equal(text, "192.0.2.77");
}

static void test_shared_counters(void **state)
{
    (void)state;
    struct shared_counters *t = shared_counters_create(128);
    assert_non_null(t);
    assert_int_equal(shared_counter_add(t, "a", 1, 1, 100), 1);
    assert_int_equal(shared_counter_add(t, "a", 1, 1, 101), 2);
    assert_int_equal(shared_counter_add(t, "b", 1, 1, 100), 1);
    uint32_t stamp;
    assert_int_equal(shared_counter_get(t, "a", 1, &stamp), 2);
    assert_int_equal(stamp, 101);
    assert_int_equal(shared_counter_add(t, "a", 1, -5, 0), 0); /* never negative */
    shared_counter_clear(t, "b", 1);
    assert_int_equal(shared_counter_get(t, "b", 1, NULL), 0);
    assert_int_equal(shared_counter_get(t, "never", 5, &stamp), 0);
    /* A full table fails open instead of refusing. */
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        shared_counter_add(t, key, strlen(key), 1, 100);
    }
    assert_int_equal(shared_counter_add(t, "a", 1, 0, 100), 0);
    shared_counters_destroy(t);
}

/* RFC 3629 §4 and the boundaries of each sequence length. */
static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len; /* of the first sequence, 0 if it is not well-formed */
        int32_t cp;
    } seqs[] = {
        {"A", 1, 'A'},
        {"\x7f", 1, 0x7f},
        {"\xc2\x80", 2, 0x80},
        {"\xdf\xbf", 2, 0x7ff},
        {"\xe0\xa0\x80", 3, 0x800},
        {"\xed\x9f\xbf", 3, 0xd7ff},
        {"\xee\x80\x80", 3, 0xe000},
        {"\xef\xbf\xbd", 3, 0xfffd},
        {"\xf0\x90\x80\x80", 4, 0x10000},
        {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
        {"\xc0\x80", 0, -1},         /* overlong NUL */
        {"\xc1\xbf", 0, -1},         /* overlong two-byte form */
        {"\xe0\x9f\xbf", 0, -1},     /* overlong three-byte form */
        {"\xf0\x8f\xbf\xbf", 0, -1}, /* overlong four-byte form */
        {"\xed\xa0\x80", 0, -1},     /* high surrogate */
        {"\xed\xbf\xbf", 0, -1},     /* low surrogate */
        {"\xf4\x90\x80\x80", 0, -1}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0, -1},
        {"\xff", 0, -1},
        {"\x80", 0, -1}, /* a continuation byte alone */
        {"\xc3(", 0, -1},
        {"\xe2\x82", 0, -1}, /* cut short */
    };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        size_t len = strlen(seqs[i].s), pos = 0;
        if (utf8_seq_len(seqs[i].s, len) != seqs[i].len)
            fail_msg("utf8_seq_len of sample %zu", i);
        assert_int_equal(utf8_decode(seqs[i].s, len, &pos), seqs[i].cp);
        assert_int_equal(pos, seqs[i].len);
        assert_int_equal(utf8_valid(seqs[i].s, len), seqs[i].len == len);
        if (seqs[i].cp >= 0) {
            char out[4];
            assert_int_equal(utf8_encode((uint32_t)seqs[i].cp, out), len);
            assert_memory_equal(out, seqs[i].s, len);
        }
    }
    assert_int_equal(utf8_seq_len("", 0), 0);
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid("a\0b", 3)); /* NUL is U+0000 */
    assert_true(utf8_valid("Gr\xc3\xbc\xc3\x9f \xe5\x8f\xb0\xe5\x8c\x97 \xf0\x9f\x90\xa6", 19));
    assert_false(utf8_valid("ok\xc3", 3));

    struct buf b = BUF_INIT;
    utf8_append_char(&b, 0xe9);
    utf8_append_char(&b, 0x1f426);
    assert_string_equal(buf_cstr(&b), "\xc3\xa9\xf0\x9f\x90\xa6");
    /* Each byte that starts nothing well-formed becomes one U+FFFD. */
    buf_reset(&b);
    utf8_append_valid(&b,
                      "a\xff"
                      "b\xc3\xa9"
                      "\xed\xa0\x80"
                      "c\xe2\x82",
                      12);
    assert_string_equal(buf_cstr(&b), "a\xef\xbf\xbd"
                                      "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                      "c\xef\xbf\xbd\xef\xbf\xbd");
    assert_true(utf8_valid(b.data, b.len));
    buf_free(&b);
}

static void test_numbers(void **state)
{
    (void)state;
    uint32_t u32 = 7;
    uint64_t u64 = 7;
    assert_true(str_to_uint32("0", &u32));
    assert_int_equal(u32, 0);
    assert_true(str_to_uint32("4294967295", &u32));
    assert_int_equal(u32, UINT32_MAX);
    assert_true(str_to_uint32("007", &u32));
    assert_int_equal(u32, 7);
    assert_true(str_to_uint64("18446744073709551615", &u64));
    assert_true(u64 == UINT64_MAX);
    /* What strtoul() would take, wrap or cut short, each refused. */
    static const char *const bad[] = {"",  " 1",  "1 ",  "+1",  "-1",  "0x10", "1a",
                                      "a", "1.5", "1e3", "\t2", "2\n", "1,2",  "one"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u32 = 7;
        u64 = 7;
        if (str_to_uint32(bad[i], &u32) || str_to_uint64(bad[i], &u64))
            fail_msg("'%s' taken as a number", bad[i]);
        assert_int_equal(u32, 7);
    }
    assert_false(str_to_uint32("4294967296", &u32));
    assert_false(str_to_uint32("99999999999999999999999", &u32));
    assert_int_equal(u32, 7);
    assert_true(str_to_uint64("4294967296", &u64));
    assert_false(str_to_uint64("18446744073709551616", &u64));
    assert_false(str_to_uint64("184467440737095516150", &u64));

    const char *end = NULL;
    assert_true(str_parse_uint32("12 :base", &u32, &end));
    assert_int_equal(u32, 12);
    assert_string_equal(end, " :base");
    assert_false(str_parse_uint32(":12", &u32, &end));
    assert_false(str_parse_uint32("4294967296 x", &u32, &end));
    assert_true(str_parse_uint64("4294967296,S=1", &u64, &end));
    assert_string_equal(end, ",S=1");

    /* Not NUL-terminated: only len bytes are read. */
    assert_true(mem_to_uint64("12345", 3, &u64));
    assert_true(u64 == 123);
    assert_false(mem_to_uint64("12x45", 5, &u64));
    assert_false(mem_to_uint64("1", 0, &u64));
    assert_int_equal(mem_parse_uint64("42}", 3, &u64), 2);
    assert_true(u64 == 42);
    assert_int_equal(mem_parse_uint64("}", 1, &u64), 0);
    assert_int_equal(mem_parse_uint64("99999999999999999999", 20, &u64), 0);

    const char *digits = "0123456789abcdefABCDEF";
    for (int i = 0; digits[i]; i++)
        assert_int_equal(hex_digit_value(digits[i]), i < 16 ? i : i - 6);
    assert_int_equal(hex_digit_value('g'), -1);
    assert_int_equal(hex_digit_value('G'), -1);
    assert_int_equal(hex_digit_value(' '), -1);
    assert_int_equal(hex_digit_value('\0'), -1);
    assert_int_equal(hex_digit_value('/'), -1);
    assert_int_equal(hex_digit_value(':'), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_rejects),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_shared_counters),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
