/* Checked number parsing (see number.h). */
#include "lib/number.h"

#include <string.h>

size_t mem_parse_uint64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return 0;
        v = v * 10 + digit;
    }
    if (i > 0)
        *out = v;
    return i;
}

bool mem_to_uint64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v;
    if (len == 0 || mem_parse_uint64(s, len, &v) != len)
        return false;
    *out = v;
    return true;
}

bool str_parse_uint64(const char *s, uint64_t *out, const char **end)
{
    /* the NUL stops the digits as any other byte does */
    size_t n = mem_parse_uint64(s, SIZE_MAX, out);
    if (n == 0)
        return false;
    *end = s + n;
    return true;
}

bool str_parse_uint32(const char *s, uint32_t *out, const char **end)
{
    uint64_t v;
    const char *e;
    if (!str_parse_uint64(s, &v, &e) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    *end = e;
    return true;
}

bool str_to_uint64(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *end;
    if (!str_parse_uint64(s, &v, &end) || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool str_to_uint32(const char *s, uint32_t *out)
{
    uint32_t v;
    const char *end;
    if (!str_parse_uint32(s, &v, &end) || *end != '\0')
        return false;
    *out = v;
    return true;
}

int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
