/* Modified UTF-7, RFC 3501 §5.1.3: printable US-ASCII except '&' stands for
 * itself, "&-" is '&', anything else is UTF-16 in modified base64 (',' instead
 * of '/', no '=' padding) between '&' and '-'. */
#include "lib-imap/mutf7.h"

#include "lib/base64.h"
#include "lib/utf8.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* RFC 3501 §5.1.3: modified base64 uses ',' where base64 has '/'. */
static int b64value(unsigned char c)
{
    if (c == ',')
        return 63;
    return c == '/' ? -1 : base64_char_value((char)c);
}

static bool direct_char(unsigned char c, const char *also_encode)
{
    if (c < 0x20 || c > 0x7e || c == '&')
        return false;
    return !(also_encode && strchr(also_encode, c));
}

int mutf7_encode(const char *in, size_t len, const char *also_encode, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        if (s[i] == '&') {
            buf_puts(out, "&-");
            i++;
            continue;
        }
        if (direct_char(s[i], also_encode)) {
            buf_putc(out, (char)s[i]);
            i++;
            continue;
        }
        /* A run of characters to encode: UTF-16BE, then modified base64. */
        buf_putc(out, '&');
        uint32_t bits = 0;
        int nbits = 0;
        while (i < len && !direct_char(s[i], also_encode) && s[i] != '&') {
            int32_t cp = utf8_decode(in, len, &i);
            if (cp < 0)
                return -EINVAL;
            uint16_t units[2];
            int nunits;
            if (cp >= 0x10000) {
                uint32_t v = (uint32_t)cp - 0x10000;
                units[0] = (uint16_t)(0xd800 | (v >> 10));
                units[1] = (uint16_t)(0xdc00 | (v & 0x3ff));
                nunits = 2;
            } else {
                units[0] = (uint16_t)cp;
                nunits = 1;
            }
            for (int u = 0; u < nunits; u++) {
                bits = (bits << 16) | units[u];
                nbits += 16;
                while (nbits >= 6) {
                    nbits -= 6;
                    buf_putc(out, b64chars[(bits >> nbits) & 0x3f]);
                }
                bits &= (1u << nbits) - 1;
            }
        }
        if (nbits > 0)
            buf_putc(out, b64chars[(bits << (6 - nbits)) & 0x3f]);
        buf_putc(out, '-');
    }
    return 0;
}

int mutf7_decode(const char *in, size_t len, bool allow_ascii, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x20 || c > 0x7e)
            return -EINVAL;
        if (c != '&') {
            buf_putc(out, (char)c);
            i++;
            continue;
        }
        i++;
        if (i < len && s[i] == '-') {
            buf_putc(out, '&');
            i++;
            continue;
        }
        uint32_t bits = 0;
        int nbits = 0;
        uint32_t high = 0; /* pending high surrogate */
        size_t nunits = 0;
        while (i < len && s[i] != '-') {
            int v = b64value(s[i]);
            if (v < 0)
                return -EINVAL;
            bits = (bits << 6) | (uint32_t)v;
            nbits += 6;
            i++;
            if (nbits >= 16) {
                nbits -= 16;
                uint32_t unit = (bits >> nbits) & 0xffff;
                bits &= (1u << nbits) - 1;
                nunits++;
                if (high) {
                    if (unit < 0xdc00 || unit > 0xdfff)
                        return -EINVAL;
                    utf8_append_char(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
                    high = 0;
                } else if (unit >= 0xd800 && unit <= 0xdbff) {
                    high = unit;
                } else if (unit >= 0xdc00 && unit <= 0xdfff) {
                    return -EINVAL;
                } else {
                    if (!allow_ascii && unit >= 0x20 && unit <= 0x7e)
                        return -EINVAL; /* must represent itself (§5.1.3) */
                    if (unit < 0x20 || unit == 0x7f)
                        return -EINVAL;
                    utf8_append_char(out, unit);
                }
            }
        }
        if (i >= len)
            return -EINVAL; /* unterminated shift */
        i++;                /* the '-' */
        /* Leftover bits must be fewer than one base64 digit's worth and zero. */
        if (nunits == 0 || high || nbits >= 6 || bits != 0)
            return -EINVAL;
    }
    return 0;
}

bool mutf7_is_plain_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '&' || c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}
