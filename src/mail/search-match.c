#include "mail/search-match.h"

#include "mail/address.h"
#include "mail/header.h"
#include "mail/message.h"
#include "mail/rfc2047.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

/* glibc's Unicode case tables: C.UTF-8 has them whatever the process's own
 * locale is, and a locale_t is safe to share between threads once made. */
static locale_t fold_locale;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_init(void)
{
    fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* One UTF-8 sequence at s (len > 0): its code point and length, or 0 when
 * the bytes are not a well-formed sequence. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c < 0xe0) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c < 0xf0) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c < 0xf5) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    /* overlong, surrogate or out of range */
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static void utf8_encode(uint32_t cp, struct buf *out)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(out, b, n);
}

void search_fold(const char *s, size_t len, struct buf *out)
{
    pthread_once(&fold_once, fold_init);
    const unsigned char *p = (const unsigned char *)s;
    buf_reserve(out, len);
    size_t i = 0;
    while (i < len) {
        /* the ASCII runs that most text is made of, a byte at a time */
        size_t start = i;
        while (i < len && p[i] < 0x80)
            i++;
        if (i > start) {
            buf_reserve(out, i - start);
            char *o = out->data + out->len;
            for (size_t k = start; k < i; k++)
                o[k - start] = (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] + 32 : p[k]);
            out->len += i - start;
            out->data[out->len] = '\0';
        }
        if (i >= len)
            break;
        uint32_t cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            buf_putc(out, (char)p[i]);
            i++;
            continue;
        }
        if (fold_locale != (locale_t)0) {
            wint_t lower = towlower_l((wint_t)cp, fold_locale);
            if (lower != WEOF && lower <= 0x10ffff)
                cp = (uint32_t)lower;
        }
        utf8_encode(cp, out);
        i += n;
    }
}

bool search_text_has(const char *text, size_t len, const char *needle, size_t needle_len,
                     struct buf *scratch)
{
    if (needle_len == 0)
        return true;
    if (len == 0)
        return false;
    buf_reset(scratch);
    search_fold(text, len, scratch);
    return memmem(scratch->data, scratch->len, needle, needle_len) != NULL;
}

/* "Name <user@domain>, group: a@b;" from an address list, as Dovecot writes
 * the list it matches FROM, TO, CC and BCC against. */
static void write_addresses(const struct mail_address_list *list, struct buf *out)
{
    bool need_comma = false;
    for (size_t i = 0; i < list->count; i++) {
        const struct mail_address *a = &list->items[i];
        if (!a->mailbox && !a->domain && !a->name) { /* a group's end */
            buf_putc(out, ';');
            need_comma = true;
            continue;
        }
        if (need_comma)
            buf_puts(out, ", ");
        if (a->mailbox && !a->domain) { /* a group's start */
            buf_puts(out, a->mailbox);
            buf_puts(out, ": ");
            need_comma = false;
            continue;
        }
        need_comma = true;
        bool named = a->name && *a->name;
        if (named) {
            buf_puts(out, a->name);
            buf_puts(out, " <");
        }
        if (a->route && *a->route) {
            buf_puts(out, a->route);
            buf_putc(out, ':');
        }
        /* the parts the parser had to make up are not in the message */
        if (a->mailbox && strcmp(a->mailbox, "MISSING_MAILBOX") != 0)
            buf_puts(out, a->mailbox);
        if (a->domain && strcmp(a->domain, "MISSING_DOMAIN") != 0) {
            buf_putc(out, '@');
            buf_puts(out, a->domain);
        }
        if (named)
            buf_putc(out, '>');
    }
}

/* Runs of blanks as one space, none at the ends (Dovecot's SUBJECT). */
static void compress_blanks(struct buf *b)
{
    size_t w = 0;
    bool blank = true;
    for (size_t i = 0; i < b->len; i++) {
        char c = b->data[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!blank)
                b->data[w++] = ' ';
            blank = true;
        } else {
            b->data[w++] = c;
            blank = false;
        }
    }
    if (w > 0 && b->data[w - 1] == ' ')
        w--;
    b->len = w;
    if (b->data)
        b->data[w] = '\0';
}

/* Calls fn for each field of the header section until it returns true. */
typedef bool header_field_fn(void *ctx, const char *name, size_t name_len, const char *value,
                             size_t value_len);

static bool each_field(const char *headers, size_t len, header_field_fn *fn, void *ctx)
{
    const char *p = headers, *end = headers + len;
    while (p < end) {
        const char *q = p;
        for (;;) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            q = nl ? nl + 1 : end;
            if (q >= end || (*q != ' ' && *q != '\t'))
                break;
        }
        if (*p == '\r' || *p == '\n')
            break; /* the blank line that ends the header */
        const char *name, *value;
        size_t nlen, vlen;
        if (header_split(p, (size_t)(q - p), &name, &nlen, &value, &vlen) &&
            fn(ctx, name, nlen, value, vlen))
            return true;
        p = q;
    }
    return false;
}

struct has_ctx {
    const char *name;
    enum search_field_form form;
    const char *needle;
    size_t needle_len;
    struct buf *scratch;
    struct buf decoded;
};

static bool field_has(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct has_ctx *c = arg;
    if (strlen(c->name) != nlen || strncasecmp(c->name, name, nlen) != 0)
        return false;
    if (c->needle_len == 0)
        return true;
    char *unfolded = header_unfold(value, vlen);
    size_t ulen = strlen(unfolded);
    buf_reset(&c->decoded);
    if (c->form == SEARCH_FIELD_ADDRESSES) {
        struct mail_address_list list = {0};
        address_list_parse(unfolded, ulen, &list);
        /* the parser reads a bounded list (address.h): past it, the text */
        bool cut = list.count >= ADDRESS_LIST_MAX || ulen > ADDRESS_LIST_TEXT_MAX;
        struct buf written = BUF_INIT;
        write_addresses(&list, &written);
        address_list_free(&list);
        if (cut) {
            buf_puts(&written, "\n");
            buf_append(&written, unfolded, ulen);
        }
        rfc2047_decode(buf_cstr(&written), written.len, &c->decoded);
        buf_free(&written);
    } else {
        rfc2047_decode(unfolded, ulen, &c->decoded);
        if (c->form == SEARCH_FIELD_SUBJECT)
            compress_blanks(&c->decoded);
    }
    free(unfolded);
    return search_text_has(c->decoded.data, c->decoded.len, c->needle, c->needle_len, c->scratch);
}

bool search_header_has(const char *headers, size_t len, const char *name,
                       enum search_field_form form, const char *needle, size_t needle_len,
                       struct buf *scratch)
{
    if (!headers)
        return false;
    struct has_ctx c = {name, form, needle, needle_len, scratch, BUF_INIT};
    bool r = each_field(headers, len, field_has, &c);
    buf_free(&c.decoded);
    return r;
}

struct date_ctx {
    bool found;
    time_t t;
};

static bool field_date(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct date_ctx *c = arg;
    if (nlen != 4 || strncasecmp(name, "Date", 4) != 0)
        return false;
    char *unfolded = header_unfold(value, vlen);
    int zone;
    time_t t = mail_parse_date_zone(unfolded, &zone);
    free(unfolded);
    c->found = t != 0;
    c->t = t + zone;
    return true; /* the first Date: field counts */
}

bool search_header_sent_date(const char *headers, size_t len, time_t *out)
{
    if (!headers)
        return false;
    struct date_ctx c = {false, 0};
    each_field(headers, len, field_date, &c);
    *out = c.t;
    return c.found;
}
