#include "mail/header.h"

#include <string.h>

bool header_split(const char *raw, size_t len, const char **name, size_t *name_len,
                  const char **value, size_t *value_len)
{
    const char *colon = memchr(raw, ':', len);
    if (!colon)
        return false;
    size_t n = (size_t)(colon - raw);
    /* obs-optional allows WSP before the colon (RFC 5322 §4.5.2) */
    while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
        n--;
    *name = raw;
    *name_len = n;
    const char *v = colon + 1, *end = raw + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    /* the field's own line end is not part of the value */
    while (end > v && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    *value = v;
    *value_len = (size_t)(end - v);
    return true;
}

char *header_unfold(const char *value, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '\r' || c == '\n')
            continue;
        out[o++] = c == '\0' ? (char)0x80 : c;
    }
    out[o] = '\0';
    return out;
}

void rfc822_lexer_init(struct rfc822_lexer *lx, const char *s, size_t len)
{
    lx->p = s;
    lx->end = s + len;
    lx->last_comment = NULL;
}

/* Comments nest (RFC 5322 §3.2.2); the depth is bounded so that hostile
 * input cannot make the lexer do anything but skip bytes. */
static void skip_comment(struct rfc822_lexer *lx)
{
    unsigned depth = 0;
    if (lx->last_comment)
        buf_reset(lx->last_comment);
    while (lx->p < lx->end) {
        char c = *lx->p++;
        if (c == '(') {
            if (depth++ > 0 && lx->last_comment)
                buf_putc(lx->last_comment, c);
        } else if (c == ')') {
            if (--depth == 0)
                return;
            if (lx->last_comment)
                buf_putc(lx->last_comment, c);
        } else if (c == '\\' && lx->p < lx->end) {
            if (lx->last_comment)
                buf_putc(lx->last_comment, *lx->p);
            lx->p++;
        } else if (lx->last_comment) {
            buf_putc(lx->last_comment, c);
        }
    }
}

bool rfc822_skip_cfws(struct rfc822_lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            lx->p++;
        else if (c == '(')
            skip_comment(lx);
        else
            return true;
    }
    return false;
}

static bool is_tspecial(unsigned char c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

size_t rfc822_mime_token(struct rfc822_lexer *lx, struct buf *out)
{
    size_t n = 0;
    while (lx->p < lx->end) {
        unsigned char c = (unsigned char)*lx->p;
        if (c <= ' ' || c == 0x7f || is_tspecial(c))
            break;
        buf_putc(out, (char)c);
        lx->p++;
        n++;
    }
    rfc822_skip_cfws(lx);
    return n;
}

bool rfc822_is_atext(unsigned char c)
{
    if (c >= 0x80)
        return true;
    if (c <= ' ' || c == 0x7f)
        return false;
    return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

size_t rfc822_atom(struct rfc822_lexer *lx, struct buf *out)
{
    size_t n = 0;
    while (lx->p < lx->end && rfc822_is_atext((unsigned char)*lx->p)) {
        buf_putc(out, *lx->p++);
        n++;
    }
    rfc822_skip_cfws(lx);
    return n;
}

bool rfc822_quoted_string(struct rfc822_lexer *lx, struct buf *out)
{
    lx->p++; /* the opening quote */
    while (lx->p < lx->end) {
        char c = *lx->p++;
        if (c == '"') {
            rfc822_skip_cfws(lx);
            return true;
        }
        if (c == '\\' && lx->p < lx->end)
            c = *lx->p++;
        else if (c == '\r' || c == '\n')
            continue; /* folding inside quotes (§3.2.4) */
        buf_putc(out, c);
    }
    return false;
}

bool rfc822_phrase(struct rfc822_lexer *lx, struct buf *out)
{
    bool any = false;
    while (lx->p < lx->end) {
        char c = *lx->p;
        size_t before = out->len;
        if (any && c != '.')
            buf_putc(out, ' ');
        if (c == '"') {
            if (!rfc822_quoted_string(lx, out))
                return true;
        } else if (c == '.') {
            /* obs-phrase (§4.1) allows dots between words */
            buf_putc(out, '.');
            lx->p++;
            rfc822_skip_cfws(lx);
        } else if (rfc822_is_atext((unsigned char)c)) {
            rfc822_atom(lx, out);
        } else {
            out->len = before;
            if (out->data)
                out->data[out->len] = '\0';
            break;
        }
        any = true;
    }
    return any;
}
