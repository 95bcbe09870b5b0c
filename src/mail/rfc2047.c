#include "mail/rfc2047.h"

#include "lib/base64.h"
#include "lib/number.h"
#include "lib/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_utf8_name(const char *cs)
{
    return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
           strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

bool charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
    if (is_utf8_name(charset)) {
        utf8_append_valid(out, in, len);
        return true;
    }
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1) {
        utf8_append_valid(out, in, len);
        return false;
    }
    char *ip = (char *)(uintptr_t)in;
    size_t ileft = len;
    char tmp[1024];
    while (ileft > 0) {
        char *op = tmp;
        size_t oleft = sizeof(tmp);
        size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
        buf_append(out, tmp, (size_t)(op - tmp));
        if (r == (size_t)-1) {
            if (errno == E2BIG)
                continue;
            /* EILSEQ or a truncated sequence at the end: one byte lost */
            buf_puts(out, UTF8_REPLACEMENT);
            ip++;
            ileft--;
        }
    }
    iconv(cd, NULL, NULL, NULL, NULL);
    iconv_close(cd);
    return true;
}

/* Q encoding (§4.2): "_" is a space, =XX a byte. */
static bool decode_q(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_') {
            buf_putc(out, ' ');
        } else if (s[i] == '=') {
            if (i + 2 >= len)
                return false;
            int h = hex_digit_value(s[i + 1]), l = hex_digit_value(s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            buf_putc(out, (char)(h * 16 + l));
            i += 2;
        } else {
            buf_putc(out, s[i]);
        }
    }
    return true;
}

/* B encoding (§4.1), lenient about missing padding as mail clients are. */
static bool decode_b(const char *s, size_t len, struct buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=')
            break;
        int v = base64_char_value(s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    return true;
}

/* Parses one encoded word at s; on success returns its length and appends
 * the decoded raw bytes and the charset (language suffix of RFC 2231 §5
 * dropped). Encoded words contain no whitespace (§2). */
static size_t parse_word(const char *s, size_t len, struct buf *charset, struct buf *raw)
{
    if (len < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    size_t i = 2;
    while (i < len && s[i] != '?' && s[i] > ' ')
        i++;
    if (i >= len || s[i] != '?' || i == 2 || i + 3 >= len)
        return 0;
    size_t cs_end = i;
    char enc = s[i + 1];
    if (s[i + 2] != '?')
        return 0;
    size_t text = i + 3, j = text;
    while (j + 1 < len && !(s[j] == '?' && s[j + 1] == '=') && s[j] > ' ')
        j++;
    if (j + 1 >= len || s[j] != '?' || s[j + 1] != '=')
        return 0;
    buf_reset(charset);
    const char *star = memchr(s + 2, '*', cs_end - 2);
    buf_append(charset, s + 2, (star ? (size_t)(star - s) : cs_end) - 2);
    buf_reset(raw);
    bool ok;
    if (enc == 'q' || enc == 'Q')
        ok = decode_q(s + text, j - text, raw);
    else if (enc == 'b' || enc == 'B')
        ok = decode_b(s + text, j - text, raw);
    else
        ok = false;
    return ok ? j + 2 : 0;
}

void rfc2047_decode(const char *in, size_t len, struct buf *out)
{
    struct buf charset = BUF_INIT, raw = BUF_INIT, pending = BUF_INIT, pending_cs = BUF_INIT;
    size_t i = 0;
    bool last_was_word = false;
    while (i < len) {
        size_t n = in[i] == '=' ? parse_word(in + i, len - i, &charset, &raw) : 0;
        if (n > 0) {
            /* adjacent words of one charset are joined before conversion,
             * so a multibyte character split across two words survives */
            if (last_was_word && strcasecmp(buf_cstr(&pending_cs), buf_cstr(&charset)) == 0) {
                buf_append(&pending, raw.data, raw.len);
            } else {
                if (last_was_word)
                    charset_to_utf8(buf_cstr(&pending_cs), pending.data ? pending.data : "",
                                    pending.len, out);
                buf_reset(&pending);
                buf_append(&pending, raw.data, raw.len);
                buf_reset(&pending_cs);
                buf_append(&pending_cs, charset.data, charset.len);
            }
            last_was_word = true;
            i += n;
            continue;
        }
        if (last_was_word && (in[i] == ' ' || in[i] == '\t')) {
            /* whitespace after a word: dropped if another word follows */
            size_t k = i;
            while (k < len && (in[k] == ' ' || in[k] == '\t'))
                k++;
            if (k < len && in[k] == '=' && parse_word(in + k, len - k, &charset, &raw) > 0) {
                i = k;
                continue;
            }
        }
        if (last_was_word) {
            charset_to_utf8(buf_cstr(&pending_cs), pending.data ? pending.data : "", pending.len,
                            out);
            buf_reset(&pending);
            last_was_word = false;
        }
        /* plain text: 8-bit bytes that are not UTF-8 become U+FFFD */
        size_t k = i + 1;
        while (k < len && in[k] != '=' && in[k] != ' ' && in[k] != '\t')
            k++;
        utf8_append_valid(out, in + i, k - i);
        i = k;
    }
    if (last_was_word)
        charset_to_utf8(buf_cstr(&pending_cs), pending.data ? pending.data : "", pending.len, out);
    buf_free(&charset);
    buf_free(&raw);
    buf_free(&pending);
    buf_free(&pending_cs);
}
