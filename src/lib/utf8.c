/* UTF-8 validation, decoding and encoding (RFC 3629). */
#include "lib/utf8.h"

size_t utf8_seq_len(const char *s, size_t left)
{
    if (left == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    uint32_t min, cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        min = 0x80;
        cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        min = 0x800;
        cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        min = 0x10000;
        cp = p[0] & 0x07u;
    } else {
        return 0; /* a continuation byte, an overlong 0xc0/0xc1 lead, or 0xf5.. */
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int32_t utf8_decode(const char *s, size_t len, size_t *pos)
{
    size_t n = utf8_seq_len(s + *pos, len - *pos);
    if (n == 0)
        return -1;
    const unsigned char *p = (const unsigned char *)s + *pos;
    static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t cp = p[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (p[i] & 0x3fu);
    *pos += n;
    return (int32_t)cp;
}

bool utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

void utf8_append_char(struct buf *out, uint32_t cp)
{
    char b[4];
    buf_append(out, b, utf8_encode(cp, b));
}

void utf8_append_valid(struct buf *out, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* the longest run of well-formed sequences is copied at once */
        size_t start = i, n;
        while (i < len && (n = utf8_seq_len(s + i, len - i)) > 0)
            i += n;
        buf_append(out, s + start, i - start);
        if (i < len) {
            buf_puts(out, UTF8_REPLACEMENT);
            i++;
        }
    }
}
