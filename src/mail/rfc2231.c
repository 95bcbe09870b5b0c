#include "mail/rfc2231.h"

#include "mail/rfc2047.h"

#include "lib/number.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cont {
    char *key; /* without the "*N*" suffix */
    unsigned idx;
    bool extended;
    char *value;
};

/* One "; key=value"; 1 when read, 0 at the end, -1 when broken. */
static int parse_one(struct rfc822_lexer *lx, struct buf *key, struct buf *value)
{
    buf_reset(key);
    buf_reset(value);
    if (lx->p >= lx->end)
        return 0;
    if (*lx->p != ';')
        return -1;
    lx->p++;
    if (!rfc822_skip_cfws(lx))
        return -1;
    if (rfc822_mime_token(lx, key) == 0)
        return -1;
    if (lx->p >= lx->end || *lx->p != '=')
        return -1;
    lx->p++;
    if (!rfc822_skip_cfws(lx))
        return -1;
    if (*lx->p == '"') {
        if (!rfc822_quoted_string(lx, value))
            return -1;
    } else if (rfc822_mime_token(lx, value) == 0) {
        return -1;
    }
    return 1;
}

static int cont_cmp(const void *a, const void *b)
{
    const struct cont *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    if (r)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void add_param(struct mime_param *params, size_t *n, const char *name, const char *value)
{
    if (*n >= MIME_PARAMS_MAX)
        return;
    params[*n].name = xstrdup(name);
    params[*n].value = xstrdup(value);
    (*n)++;
}

size_t rfc2231_parse_params(struct rfc822_lexer *lx, struct mime_param *params)
{
    struct buf key = BUF_INIT, value = BUF_INIT;
    struct cont conts[MIME_PARAMS_MAX];
    size_t n = 0, nconts = 0;
    int r;
    unsigned guard = 0;
    while ((r = parse_one(lx, &key, &value)) != 0 && guard++ < 4096) {
        if (r < 0) {
            /* try to go on after a broken parameter, byte by byte */
            if (lx->p >= lx->end)
                break;
            lx->p++;
            continue;
        }
        const char *k = buf_cstr(&key);
        const char *star = strchr(k, '*');
        bool is2231 = false;
        if (star) {
            const char *q = star;
            unsigned idx = 0;
            if (q[1] != '\0') {
                q++;
                while (*q >= '0' && *q <= '9' && idx < 100000)
                    idx = idx * 10 + (unsigned)(*q++ - '0');
            }
            bool ext = *q == '*';
            if (ext)
                q++;
            if (*q == '\0' && nconts < MIME_PARAMS_MAX) {
                conts[nconts].key = xstrndup(k, (size_t)(star - k));
                conts[nconts].idx = idx;
                conts[nconts].extended = ext;
                conts[nconts].value = xstrdup(buf_cstr(&value));
                nconts++;
                is2231 = true;
            } else if (*q == '\0') {
                is2231 = true; /* over the limit: dropped */
            }
        }
        if (!is2231)
            add_param(params, &n, k, buf_cstr(&value));
    }
    /* §3: merge the numbered pieces in order; a gap means they were not
     * continuations after all, and they are kept as written */
    qsort(conts, nconts, sizeof(conts[0]), cont_cmp);
    for (size_t i = 0, next; i < nconts; i = next) {
        bool ok = true, have_ext = false;
        unsigned want = 0;
        for (next = i; next < nconts && strcasecmp(conts[i].key, conts[next].key) == 0; next++) {
            if (conts[next].idx != want++)
                ok = false;
            have_ext |= conts[next].extended;
        }
        if (!ok) {
            for (size_t j = i; j < next; j++) {
                buf_reset(&key);
                buf_printf(&key, conts[j].extended ? "%s*%u*" : "%s*%u", conts[j].key,
                           conts[j].idx);
                add_param(params, &n, buf_cstr(&key), conts[j].value);
            }
            continue;
        }
        buf_reset(&value);
        if (!conts[i].extended && have_ext)
            buf_puts(&value, "''");
        for (size_t j = i; j < next; j++) {
            if (!conts[j].extended && have_ext) {
                /* a plain piece inside an extended value: keep it literal */
                for (const char *s = conts[j].value; *s; s++) {
                    if (*s == '%')
                        buf_puts(&value, "%25");
                    else
                        buf_putc(&value, *s);
                }
            } else {
                buf_puts(&value, conts[j].value);
            }
        }
        buf_reset(&key);
        buf_puts(&key, conts[i].key);
        if (have_ext)
            buf_putc(&key, '*');
        add_param(params, &n, buf_cstr(&key), buf_cstr(&value));
    }
    for (size_t i = 0; i < nconts; i++) {
        free(conts[i].key);
        free(conts[i].value);
    }
    buf_free(&key);
    buf_free(&value);
    return n;
}

void mime_params_free(struct mime_param *params, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(params[i].name);
        free(params[i].value);
    }
}

const char *mime_param_get(const struct mime_param *params, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(params[i].name, name) == 0)
            return params[i].value;
    return NULL;
}

bool rfc2231_value_utf8(const struct mime_param *params, size_t count, const char *name,
                        struct buf *out)
{
    struct buf ext = BUF_INIT;
    buf_puts(&ext, name);
    buf_putc(&ext, '*');
    const char *v = mime_param_get(params, count, buf_cstr(&ext));
    buf_free(&ext);
    if (v) {
        /* §4: charset'language'percent-encoded-octets */
        const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
        if (!q2) {
            buf_puts(out, v);
            return true;
        }
        char *charset = xstrndup(v, (size_t)(q1 - v));
        struct buf raw = BUF_INIT;
        for (const char *s = q2 + 1; *s; s++) {
            int h, l;
            if (*s == '%' && (h = hex_digit_value(s[1])) >= 0 && (l = hex_digit_value(s[2])) >= 0) {
                buf_putc(&raw, (char)(h * 16 + l));
                s += 2;
            } else {
                buf_putc(&raw, *s);
            }
        }
        charset_to_utf8(*charset ? charset : "us-ascii", raw.data ? raw.data : "", raw.len, out);
        buf_free(&raw);
        free(charset);
        return true;
    }
    v = mime_param_get(params, count, name);
    if (!v)
        return false;
    rfc2047_decode(v, strlen(v), out);
    return true;
}
