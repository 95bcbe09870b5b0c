#include "mail/search-text.h"

#include "mail/rfc2047.h"

#include "lib/number.h"
#include "lib/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };
enum html_state { H_TEXT, H_TAG, H_ENTITY, H_COMMENT };

/* Owned by the message parser; out belongs to the caller. */
struct search_text {
    struct buf *out;
    size_t cap;
    enum cte cte;
    struct qp_decoder qp;
    struct b64_decoder b64;
    iconv_t cd;     /* (iconv_t)-1 for UTF-8 input */
    char carry[16]; /* an incomplete multibyte sequence between chunks */
    size_t ncarry;
    bool html;
    enum html_state hs;
    char tag[16];
    size_t ntag;
    bool tag_named;      /* the name ended: attributes follow */
    char skip_until[10]; /* "script"/"style" while their content is skipped */
    char ent[12];
    size_t nent;
    char prev; /* last byte written, to avoid runs of blanks */
};

/* RFC 2045 §6.7: "=XX" octets, "=" at a line end is a soft line break;
 * malformed escapes are kept as written (robustness, §6.7 note 1). */
void qp_decode(struct qp_decoder *d, const char *in, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (d->npending == 0) {
            if (c == '=')
                d->pending[d->npending++] = c;
            else
                buf_putc(out, c);
            continue;
        }
        d->pending[d->npending++] = c;
        if (d->npending == 2) {
            if (c == '\n') { /* soft break "=\n" */
                d->npending = 0;
            } else if (c == '\r' || hex_digit_value(c) >= 0) {
                continue;
            } else if (c == ' ' || c == '\t') {
                d->npending = 1; /* "= \n": trailing blanks after a soft break */
            } else {
                buf_append(out, d->pending, 2);
                d->npending = 0;
            }
            continue;
        }
        /* three bytes: "=XX" or "=\r\n" */
        if (d->pending[1] == '\r' && c == '\n') {
            /* soft break */
        } else if (hex_digit_value(d->pending[1]) >= 0 && hex_digit_value(c) >= 0) {
            buf_putc(out, (char)(hex_digit_value(d->pending[1]) * 16 + hex_digit_value(c)));
        } else {
            buf_append(out, d->pending, 3);
        }
        d->npending = 0;
    }
}

/* RFC 2045 §6.8: characters outside the alphabet are ignored; "=" ends. */
void b64_decode(struct b64_decoder *d, const char *in, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len && !d->done; i++) {
        unsigned char c = (unsigned char)in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else {
            if (c == '=')
                d->bits = 0; /* padding: the rest of the quantum is dropped */
            continue;
        }
        d->acc = ((d->acc << 6) | (unsigned)v) & 0xffffff;
        d->bits += 6;
        if (d->bits >= 8) {
            d->bits -= 8;
            buf_putc(out, (char)((d->acc >> d->bits) & 0xff));
        }
    }
}

struct search_text *search_text_new(struct buf *out, size_t cap)
{
    struct search_text *st = xcalloc(1, sizeof(*st));
    st->out = out;
    st->cap = cap;
    st->cd = (iconv_t)-1;
    return st;
}

static void out_bytes(struct search_text *st, const char *s, size_t n)
{
    if (st->out->len >= st->cap)
        return;
    if (n > st->cap - st->out->len)
        n = st->cap - st->out->len;
    buf_append(st->out, s, n);
    if (n > 0)
        st->prev = s[n - 1];
}

static void out_space(struct search_text *st, char c)
{
    if (st->prev != ' ' && st->prev != '\n' && st->out->len > 0)
        out_bytes(st, &c, 1);
}

static void out_codepoint(struct search_text *st, unsigned long cp)
{
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
        cp = 0xfffd;
    char u[4];
    out_bytes(st, u, utf8_encode((uint32_t)cp, u));
}

static void entity_done(struct search_text *st)
{
    static const struct {
        const char *name;
        unsigned long cp;
    } names[] = {{"amp", '&'},     {"lt", '<'},        {"gt", '>'},       {"quot", '"'},
                 {"apos", '\''},   {"nbsp", ' '},      {"copy", 0xa9},    {"reg", 0xae},
                 {"euro", 0x20ac}, {"eacute", 0xe9},   {"egrave", 0xe8},  {"agrave", 0xe0},
                 {"auml", 0xe4},   {"ouml", 0xf6},     {"uuml", 0xfc},    {"szlig", 0xdf},
                 {"ccedil", 0xe7}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}};
    st->ent[st->nent] = '\0';
    if (st->ent[0] == '#') {
        bool hex = st->ent[1] == 'x' || st->ent[1] == 'X';
        char *end;
        unsigned long cp = strtoul(st->ent + (hex ? 2 : 1), &end, hex ? 16 : 10);
        if (*end == '\0' && end != st->ent + (hex ? 2 : 1)) {
            out_codepoint(st, cp);
            return;
        }
    } else {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strcmp(st->ent, names[i].name) == 0) {
                out_codepoint(st, names[i].cp);
                return;
            }
        }
    }
    /* unknown: kept as written */
    out_bytes(st, "&", 1);
    out_bytes(st, st->ent, st->nent);
}

static void tag_done(struct search_text *st)
{
    st->tag[st->ntag] = '\0';
    const char *t = st->tag;
    bool closing = *t == '/';
    if (closing)
        t++;
    if (st->skip_until[0]) {
        if (closing && strcasecmp(t, st->skip_until) == 0)
            st->skip_until[0] = '\0';
        return;
    }
    if (!closing && (strcasecmp(t, "script") == 0 || strcasecmp(t, "style") == 0)) {
        size_t n = strlen(t);
        memcpy(st->skip_until, t, n + 1);
        return;
    }
    /* block elements separate words */
    if (strcasecmp(t, "br") == 0 || strcasecmp(t, "p") == 0 || strcasecmp(t, "div") == 0 ||
        strcasecmp(t, "tr") == 0 || strcasecmp(t, "li") == 0 || (t[0] == 'h' && t[1] && !t[2]))
        out_space(st, '\n');
    else
        out_space(st, ' ');
}

/* A small HTML-to-text reducer: tags dropped, script and style content
 * dropped, common entities decoded. Enough for search, not for display. */
static void html_feed(struct search_text *st, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (st->hs) {
        case H_TEXT:
            if (c == '<') {
                st->hs = H_TAG;
                st->ntag = 0;
                st->tag_named = false;
            } else if (st->skip_until[0]) {
                /* inside script/style */
            } else if (c == '&') {
                st->hs = H_ENTITY;
                st->nent = 0;
            } else if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
                out_space(st, ' ');
            } else {
                out_bytes(st, &c, 1);
            }
            break;
        case H_TAG:
            if (st->ntag == 3 && memcmp(st->tag, "!--", 3) == 0) {
                st->hs = H_COMMENT;
                memset(st->tag, 0, 3);
            } else if (c == '>') {
                tag_done(st);
                st->hs = H_TEXT;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                st->tag_named = st->ntag > 0;
            } else if (!st->tag_named && st->ntag < sizeof(st->tag) - 1) {
                st->tag[st->ntag++] = c;
            }
            break;
        case H_COMMENT:
            /* ends at "-->" */
            st->tag[0] = st->tag[1];
            st->tag[1] = st->tag[2];
            st->tag[2] = c;
            if (st->tag[0] == '-' && st->tag[1] == '-' && c == '>')
                st->hs = H_TEXT;
            break;
        case H_ENTITY:
            if (c == ';') {
                entity_done(st);
                st->hs = H_TEXT;
            } else if (st->nent < sizeof(st->ent) - 1 &&
                       ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '#')) {
                st->ent[st->nent++] = c;
            } else {
                out_bytes(st, "&", 1);
                out_bytes(st, st->ent, st->nent);
                st->hs = H_TEXT;
                i--; /* this byte again, as text */
            }
            break;
        }
    }
}

static void text_out(struct search_text *st, const char *s, size_t n)
{
    if (st->html)
        html_feed(st, s, n);
    else
        out_bytes(st, s, n);
}

/* Charset conversion of decoded bytes, keeping an incomplete multibyte
 * sequence for the next chunk. */
static void convert(struct search_text *st, const char *s, size_t n, bool final)
{
    struct buf in = BUF_INIT;
    buf_append(&in, st->carry, st->ncarry);
    buf_append(&in, s, n);
    st->ncarry = 0;
    struct buf conv = BUF_INIT;
    if (st->cd == (iconv_t)-1) {
        /* UTF-8: hold back a sequence cut at the chunk's end */
        size_t keep = 0;
        if (!final && in.len > 0) {
            size_t k = in.len;
            size_t back = 0;
            while (k > 0 && back < 3 && ((unsigned char)in.data[k - 1] & 0xc0) == 0x80)
                k--, back++;
            if (k > 0 && ((unsigned char)in.data[k - 1] & 0xc0) == 0xc0) {
                unsigned char lead = (unsigned char)in.data[k - 1];
                size_t need = (lead >> 5) == 6    ? 2
                              : (lead >> 4) == 14 ? 3
                              : (lead >> 3) == 30 ? 4
                                                  : 1;
                if (back + 1 < need)
                    keep = back + 1;
            }
        }
        charset_to_utf8("utf-8", in.data ? in.data : "", in.len - keep, &conv);
        memcpy(st->carry, in.data + in.len - keep, keep);
        st->ncarry = keep;
    } else {
        char *ip = in.data;
        size_t ileft = in.len;
        char tmp[2048];
        while (ileft > 0) {
            char *op = tmp;
            size_t oleft = sizeof(tmp);
            size_t r = iconv(st->cd, &ip, &ileft, &op, &oleft);
            buf_append(&conv, tmp, (size_t)(op - tmp));
            if (r != (size_t)-1 || errno == E2BIG)
                continue;
            if (errno == EINVAL && !final && ileft < sizeof(st->carry)) {
                memcpy(st->carry, ip, ileft);
                st->ncarry = ileft;
                break;
            }
            buf_puts(&conv, UTF8_REPLACEMENT);
            ip++;
            ileft--;
        }
    }
    text_out(st, conv.data ? conv.data : "", conv.len);
    buf_free(&in);
    buf_free(&conv);
}

void search_text_begin(struct search_text *st, const char *encoding, const char *charset, bool html)
{
    st->cte = CTE_IDENTITY;
    if (encoding && strcasecmp(encoding, "quoted-printable") == 0)
        st->cte = CTE_QP;
    else if (encoding && strcasecmp(encoding, "base64") == 0)
        st->cte = CTE_BASE64;
    memset(&st->qp, 0, sizeof(st->qp));
    memset(&st->b64, 0, sizeof(st->b64));
    st->cd = (iconv_t)-1;
    if (charset && strcasecmp(charset, "utf-8") != 0 && strcasecmp(charset, "us-ascii") != 0)
        st->cd = iconv_open("UTF-8", charset);
    st->ncarry = 0;
    st->html = html;
    st->hs = H_TEXT;
    st->skip_until[0] = '\0';
    if (st->out->len > 0)
        out_space(st, '\n');
}

void search_text_feed(struct search_text *st, const char *data, size_t len)
{
    if (st->out->len >= st->cap)
        return;
    struct buf dec = BUF_INIT;
    const char *p = data;
    size_t n = len;
    if (st->cte == CTE_QP) {
        qp_decode(&st->qp, data, len, &dec);
        p = dec.data ? dec.data : "";
        n = dec.len;
    } else if (st->cte == CTE_BASE64) {
        b64_decode(&st->b64, data, len, &dec);
        p = dec.data ? dec.data : "";
        n = dec.len;
    }
    convert(st, p, n, false);
    buf_free(&dec);
}

void search_text_end(struct search_text *st)
{
    convert(st, "", 0, true);
    if (st->cd != (iconv_t)-1)
        iconv_close(st->cd);
    st->cd = (iconv_t)-1;
}

void search_text_free(struct search_text *st)
{
    if (st && st->cd != (iconv_t)-1)
        iconv_close(st->cd);
    free(st);
}
