#include "lib-imap/imap-seqset.h"

#include "lib/number.h"

#include <string.h>

/* nz-number or "*" (RFC 9051 §9 seq-number). */
static bool parse_seq_number(const char **p, const char *end, uint32_t *out)
{
    if (*p < end && **p == '*') {
        (*p)++;
        *out = IMAP_SEQ_STAR;
        return true;
    }
    uint64_t v;
    if (*p >= end || **p == '0')
        return false;
    size_t n = mem_parse_uint64(*p, (size_t)(end - *p), &v);
    if (n == 0 || v >= UINT32_MAX) /* 2^32-1 itself would read as "*" */
        return false;
    *p += n;
    *out = (uint32_t)v;
    return true;
}

bool imap_seqset_parse(const char *s, size_t len, struct arena *a, struct imap_seqset *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 1 && s[0] == '$') {
        out->saved = true;
        return true;
    }
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    out->ranges = arena_alloc(a, n * sizeof(*out->ranges));
    const char *p = s, *end = s + len;
    for (;;) {
        uint32_t first, last;
        if (!parse_seq_number(&p, end, &first))
            return false;
        last = first;
        if (p < end && *p == ':') {
            p++;
            if (!parse_seq_number(&p, end, &last))
                return false;
        }
        out->ranges[out->count].first = first < last ? first : last;
        out->ranges[out->count].last = first < last ? last : first;
        out->count++;
        if (p == end)
            return true;
        if (*p != ',')
            return false;
        p++;
    }
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
    for (size_t i = 0; i < set->count; i++) {
        struct imap_seq_range *r = &set->ranges[i];
        if (r->first == IMAP_SEQ_STAR)
            r->first = max;
        if (r->last == IMAP_SEQ_STAR)
            r->last = max;
        if (r->first > r->last) {
            uint32_t t = r->first;
            r->first = r->last;
            r->last = t;
        }
    }
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
    for (size_t i = 0; i < set->count; i++)
        if (n >= set->ranges[i].first && n <= set->ranges[i].last)
            return true;
    return false;
}

void imap_seqset_write_list(struct buf *out, const uint32_t *numbers, size_t count)
{
    for (size_t i = 0; i < count;) {
        size_t j = i;
        while (j + 1 < count && numbers[j + 1] == numbers[j] + 1)
            j++;
        if (i > 0)
            buf_putc(out, ',');
        if (j == i)
            buf_printf(out, "%u", numbers[i]);
        else
            buf_printf(out, "%u:%u", numbers[i], numbers[j]);
        i = j + 1;
    }
}
