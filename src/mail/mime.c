#include "mail/mime.h"

#include "mail/header.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mime_state { ST_HEADER, ST_BODY };

/* Owns the part tree (root) until mime_parser_free. */
struct mime_parser {
    struct mime_callbacks cb;
    struct mime_part *root, *cur;
    enum mime_state state;
    struct buf line;      /* the current line, or a piece of a long one */
    bool at_line_start;   /* the next byte starts a line */
    bool prev_delimiter;  /* the previous line was a boundary line */
    struct buf field;     /* the current header field, raw, bounded */
    uint64_t vpos, lines; /* virtual (CRLF) offset and LF count so far */
    uint64_t phys, header_phys_start;
    unsigned last_eol_phys; /* bytes of the last line end: 2 for CRLF, 1 for LF */
    /* a part opened by a delimiter line: its header starts after that line */
    struct mime_part *start_after_line;
    size_t nparts;
    bool finished;
};

static const char *field_names[ENV_FIELD_COUNT] = {
    "Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID",
};

static struct mime_part *part_new(struct mime_parser *mp, struct mime_part *parent)
{
    struct mime_part *p = xcalloc(1, sizeof(*p));
    p->parent = parent;
    mp->nparts++;
    if (parent) {
        p->depth = parent->depth + 1;
        if (parent->last_child)
            parent->last_child->next = p;
        else
            parent->children = p;
        parent->last_child = p;
        /* the parts of a multipart are MIME entities (RFC 2046 §5.1) */
        if (parent->flags & MIME_PART_MULTIPART)
            p->flags |= MIME_PART_IS_MIME;
        p->has_envelope = (parent->flags & MIME_PART_RFC822) != 0;
    } else {
        p->has_envelope = true;
    }
    p->header_phys_size = 0;
    p->header_start = mp->vpos;
    p->phys_header_start = mp->phys;
    mp->header_phys_start = mp->phys;
    return p;
}

static void part_free(struct mime_part *p)
{
    while (p) {
        struct mime_part *next = p->next;
        part_free(p->children);
        free(p->type);
        free(p->subtype);
        mime_params_free(p->params, p->nparams);
        free(p->params);
        free(p->id);
        free(p->description);
        free(p->encoding);
        free(p->md5);
        free(p->location);
        free(p->disposition);
        mime_params_free(p->disp_params, p->ndisp_params);
        free(p->disp_params);
        for (size_t i = 0; i < p->nlanguages; i++)
            free(p->languages[i]);
        free(p->languages);
        free(p->boundary);
        for (int i = 0; i < ENV_FIELD_COUNT; i++)
            free(p->envelope[i]);
        for (int i = 0; i < ENV_ADDRESS_COUNT; i++)
            address_list_free(&p->addresses[i]);
        free(p);
        p = next;
    }
}

bool mime_part_is_text(const struct mime_part *part)
{
    if (part->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822))
        return false;
    return !part->type || strcasecmp(part->type, "text") == 0;
}

/* Content-Type (RFC 2045 §5.1). A broken one is kept as far as it could be
 * read (type, "" subtype) but its parameters are not read, as Dovecot does. */
static void parse_content_type(struct mime_part *p, const char *v, size_t len)
{
    struct rfc822_lexer lx;
    struct buf tok = BUF_INIT;
    rfc822_lexer_init(&lx, v, len);
    rfc822_skip_cfws(&lx);
    bool ok = rfc822_mime_token(&lx, &tok) > 0;
    if (ok && lx.p >= lx.end) {
        /* "text" alone: the type is kept, the subtype is empty */
        p->type = buf_steal(&tok);
    } else if (ok && *lx.p == '/') {
        p->type = buf_steal(&tok);
        lx.p++;
        rfc822_skip_cfws(&lx);
        ok = rfc822_mime_token(&lx, &tok) > 0;
    } else {
        /* garbage after the type: nothing of it is trusted */
        buf_reset(&tok);
        p->type = xstrdup("");
        ok = false;
    }
    p->subtype = xstrdup(buf_cstr(&tok));
    buf_free(&tok);
    p->type_seen = true;
    if (!ok)
        return;
    p->params = xcalloc(MIME_PARAMS_MAX, sizeof(*p->params));
    p->nparams = rfc2231_parse_params(&lx, p->params);
    p->params_parsed = true;
}

static void parse_disposition(struct mime_part *p, const char *v, size_t len)
{
    struct rfc822_lexer lx;
    struct buf tok = BUF_INIT;
    rfc822_lexer_init(&lx, v, len);
    rfc822_skip_cfws(&lx);
    if (rfc822_mime_token(&lx, &tok) == 0 && (lx.p < lx.end && *lx.p != ';')) {
        buf_free(&tok);
        return;
    }
    p->disposition = xstrdup(buf_cstr(&tok));
    buf_free(&tok);
    p->disp_params = xcalloc(MIME_PARAMS_MAX, sizeof(*p->disp_params));
    p->ndisp_params = rfc2231_parse_params(&lx, p->disp_params);
}

/* Content-Language = 1#Language-tag (RFC 3282 §2) */
static void parse_language(struct mime_part *p, const char *v, size_t len)
{
    struct rfc822_lexer lx;
    struct buf tok = BUF_INIT;
    rfc822_lexer_init(&lx, v, len);
    rfc822_skip_cfws(&lx);
    while (p->nlanguages < MIME_PARAMS_MAX) {
        buf_reset(&tok);
        if (rfc822_atom(&lx, &tok) == 0)
            break;
        p->languages = xrealloc(p->languages, (p->nlanguages + 1) * sizeof(char *));
        p->languages[p->nlanguages++] = xstrdup(buf_cstr(&tok));
        if (lx.p >= lx.end || *lx.p != ',')
            break;
        lx.p++;
        rfc822_skip_cfws(&lx);
    }
    buf_free(&tok);
}

static void set_once(char **slot, const char *v)
{
    if (!*slot)
        *slot = xstrdup(v);
}

static void header_field_done(struct mime_parser *mp)
{
    if (mp->field.len == 0)
        return;
    struct mime_part *p = mp->cur;
    const char *name, *value;
    size_t nlen, vlen;
    if (mp->cb.header)
        mp->cb.header(mp->cb.ctx, p, mp->field.data, mp->field.len);
    if (header_split(mp->field.data, mp->field.len, &name, &nlen, &value, &vlen)) {
        char *v = header_unfold(value, vlen);
        size_t ulen = strlen(v);
        if (nlen == 12 && strncasecmp(name, "MIME-Version", 12) == 0) {
            p->flags |= MIME_PART_IS_MIME;
        } else if (nlen > 8 && strncasecmp(name, "Content-", 8) == 0) {
            const char *n = name + 8;
            size_t l = nlen - 8;
#define IS(s) (l == sizeof(s) - 1 && strncasecmp(n, s, l) == 0)
            if (IS("Type")) {
                /* a Content-Type makes a part MIME even without MIME-Version */
                p->flags |= MIME_PART_IS_MIME;
                if (!p->type_seen)
                    parse_content_type(p, v, ulen);
            } else if (IS("Transfer-Encoding")) {
                if (!p->encoding) {
                    struct rfc822_lexer lx;
                    struct buf tok = BUF_INIT;
                    rfc822_lexer_init(&lx, v, ulen);
                    rfc822_skip_cfws(&lx);
                    if (rfc822_mime_token(&lx, &tok) > 0 && lx.p >= lx.end)
                        p->encoding = buf_steal(&tok);
                    buf_free(&tok);
                }
            } else if (IS("ID")) {
                set_once(&p->id, v);
            } else if (IS("MD5")) {
                set_once(&p->md5, v);
            } else if (IS("Description")) {
                set_once(&p->description, v);
            } else if (IS("Location")) {
                set_once(&p->location, v);
            } else if (IS("Language")) {
                if (!p->languages)
                    parse_language(p, v, ulen);
            } else if (IS("Disposition")) {
                if (!p->disposition)
                    parse_disposition(p, v, ulen);
            }
#undef IS
        }
        if (p->has_envelope) {
            for (int i = 0; i < ENV_FIELD_COUNT; i++) {
                if (strlen(field_names[i]) == nlen &&
                    strncasecmp(name, field_names[i], nlen) == 0) {
                    int a = i - ENV_ADDRESS_FIRST;
                    if (a >= 0 && a < ENV_ADDRESS_COUNT) {
                        address_list_append(&p->addresses[a], v, ulen);
                    } else {
                        free(p->envelope[i]);
                        p->envelope[i] = v;
                        v = NULL;
                    }
                    break;
                }
            }
        }
        free(v);
    }
    buf_reset(&mp->field);
}

/* Forgets the Content-* fields of a part that is not MIME (RFC 2045 §4:
 * without MIME-Version they mean nothing), keeping its envelope. */
static void drop_content_fields(struct mime_part *p)
{
    free(p->type);
    free(p->subtype);
    p->type = p->subtype = NULL;
    mime_params_free(p->params, p->nparams);
    free(p->params);
    p->params = NULL;
    p->nparams = 0;
    free(p->id);
    free(p->description);
    free(p->encoding);
    free(p->md5);
    free(p->location);
    free(p->disposition);
    p->id = p->description = p->encoding = p->md5 = p->location = p->disposition = NULL;
    mime_params_free(p->disp_params, p->ndisp_params);
    free(p->disp_params);
    p->disp_params = NULL;
    p->ndisp_params = 0;
    for (size_t i = 0; i < p->nlanguages; i++)
        free(p->languages[i]);
    free(p->languages);
    p->languages = NULL;
    p->nlanguages = 0;
}

static void header_done(struct mime_parser *mp, uint64_t body_vpos, uint64_t body_lines)
{
    struct mime_part *p = mp->cur;
    header_field_done(mp);
    if (!(p->flags & MIME_PART_IS_MIME))
        drop_content_fields(p);
    p->header_phys_size = mp->phys - mp->header_phys_start;
    p->body_start = body_vpos;
    p->lines_start = body_lines;
    p->phys_body_start = mp->phys;
    p->header_ended = true;
    mp->state = ST_BODY;
    bool room = p->depth < MIME_DEPTH_MAX && mp->nparts < MIME_PARTS_MAX;
    if (p->type && strcasecmp(p->type, "multipart") == 0) {
        p->flags |= MIME_PART_MULTIPART;
        if (p->subtype && strcasecmp(p->subtype, "digest") == 0)
            p->flags |= MIME_PART_DIGEST;
        const char *b = mime_param_get(p->params, p->nparams, "boundary");
        if (b && room)
            p->boundary = xstrdup(b);
    } else if ((p->type && strcasecmp(p->type, "message") == 0 && p->subtype &&
                strcasecmp(p->subtype, "rfc822") == 0) ||
               (!p->type && p->parent && (p->parent->flags & MIME_PART_DIGEST))) {
        /* RFC 2046 §5.1.5: in a digest the default is message/rfc822 */
        if (room)
            p->flags |= MIME_PART_RFC822;
    }
    if (mp->cb.header_end)
        mp->cb.header_end(mp->cb.ctx, p);
    if (p->flags & MIME_PART_RFC822) {
        mp->cur = part_new(mp, p);
        mp->state = ST_HEADER;
    }
}

static void part_end(struct mime_parser *mp, struct mime_part *p, uint64_t end, uint64_t lines,
                     uint64_t phys_end)
{
    if (!p->header_ended) {
        /* cut off inside its header (a boundary or the end came first): all
         * of it is header, the body is empty */
        p->body_start = end > p->header_start ? end : p->header_start;
        p->phys_body_start = phys_end > p->phys_header_start ? phys_end : p->phys_header_start;
        p->header_ended = true;
    } else if (end < p->body_start) {
        /* a delimiter right after the blank line: that line end is the
         * delimiter's, so the header ends before it (as in Dovecot) */
        p->body_start = end > p->header_start ? end : p->header_start;
        if (phys_end < p->phys_body_start)
            p->phys_body_start = phys_end > p->phys_header_start ? phys_end : p->phys_header_start;
    }
    p->body_size = end > p->body_start ? end - p->body_start : 0;
    p->body_lines = lines > p->lines_start ? lines - p->lines_start : 0;
    p->phys_body_end = phys_end > p->phys_body_start ? phys_end : p->phys_body_start;
    p->ended = true;
    if (mp->cb.part_end)
        mp->cb.part_end(mp->cb.ctx, p);
}

/* A line that starts with "--": the delimiter of this part's multipart or of
 * any enclosing one (RFC 2046 §5.1.1; an outer delimiter also ends the inner
 * parts, which is how a missing close delimiter is survived). */
static bool try_boundary(struct mime_parser *mp, const char *s, size_t len)
{
    for (struct mime_part *m = mp->cur; m; m = m->parent) {
        if (!(m->flags & MIME_PART_MULTIPART) || !m->boundary || m->boundary_closed)
            continue;
        size_t bl = strlen(m->boundary);
        if (len < 2 + bl || memcmp(s + 2, m->boundary, bl) != 0)
            continue;
        bool close = len >= 4 + bl && s[2 + bl] == '-' && s[3 + bl] == '-';
        /* the line end before a delimiter belongs to the delimiter, unless
         * that line was itself a delimiter, which owns its own line end */
        uint64_t end = mp->vpos, lines = mp->lines, phys_end = mp->phys;
        if (!mp->prev_delimiter && mp->vpos >= 2 && mp->lines > 0) {
            end -= 2;
            lines--;
            phys_end -= mp->last_eol_phys;
        }
        if (mp->state == ST_HEADER && mp->cur != m) {
            header_done(mp, mp->vpos, mp->lines);
            /* header_done may have opened a message/rfc822 child */
        }
        for (struct mime_part *q = mp->cur; q != m; q = q->parent)
            part_end(mp, q, end, lines, phys_end);
        mp->cur = m;
        if (close) {
            m->boundary_closed = true;
            mp->state = ST_BODY;
        } else if (mp->nparts < MIME_PARTS_MAX) {
            mp->cur = part_new(mp, m);
            mp->start_after_line = mp->cur;
            mp->state = ST_HEADER;
        } else {
            mp->state = ST_BODY;
        }
        return true;
    }
    return false;
}

/* One line, or a piece of one (at_start: the piece starts a line; eol: it
 * ends with LF). */
static void process_line(struct mime_parser *mp, const char *s, size_t len, bool at_start, bool eol)
{
    uint64_t vlen = len + (eol && (len < 2 || s[len - 2] != '\r') ? 1 : 0);
    bool handled = false;
    if (at_start && len >= 2 && s[0] == '-' && s[1] == '-')
        handled =
            try_boundary(mp, s, len - (eol ? 1 : 0) - (eol && len >= 2 && s[len - 2] == '\r'));
    if (at_start)
        mp->prev_delimiter = handled;
    if (!handled && mp->state == ST_HEADER) {
        bool blank = at_start && eol && (len == 1 || (len == 2 && s[0] == '\r'));
        if (blank) {
            mp->phys += len;
            mp->vpos += vlen;
            mp->lines++;
            mp->last_eol_phys = (unsigned)len;
            header_done(mp, mp->vpos, mp->lines);
            return;
        }
        bool cont = !at_start || s[0] == ' ' || s[0] == '\t';
        if (!cont)
            header_field_done(mp);
        size_t room = HEADER_FIELD_MAX - mp->field.len;
        buf_append(&mp->field, s, len < room ? len : room);
    } else if (!handled) {
        struct mime_part *p = mp->cur;
        if (!p->children && !(p->flags & MIME_PART_MULTIPART) && mp->cb.body)
            mp->cb.body(mp->cb.ctx, p, s, len);
    }
    mp->phys += len;
    mp->vpos += vlen;
    if (eol) {
        mp->lines++;
        mp->last_eol_phys = len >= 2 && s[len - 2] == '\r' ? 2 : 1;
    }
    if (mp->start_after_line) {
        struct mime_part *p = mp->start_after_line;
        p->header_start = mp->vpos;
        p->phys_header_start = mp->phys;
        mp->header_phys_start = mp->phys;
        mp->start_after_line = NULL;
    }
}

struct mime_parser *mime_parser_new(const struct mime_callbacks *cb)
{
    struct mime_parser *mp = xcalloc(1, sizeof(*mp));
    if (cb)
        mp->cb = *cb;
    mp->root = part_new(mp, NULL);
    mp->cur = mp->root;
    mp->state = ST_HEADER;
    mp->at_line_start = true;
    return mp;
}

void mime_parser_feed(struct mime_parser *mp, const char *data, size_t len)
{
    while (len > 0) {
        const char *lf = memchr(data, '\n', len);
        size_t take = lf ? (size_t)(lf - data) + 1 : len;
        size_t room = MIME_LINE_MAX - mp->line.len;
        bool eol = lf != NULL;
        if (take > room) {
            take = room;
            eol = false;
        }
        if (eol && mp->line.len == 0) {
            /* the common case: a whole line inside the chunk, no copy */
            process_line(mp, data, take, mp->at_line_start, true);
            mp->at_line_start = true;
        } else {
            buf_append(&mp->line, data, take);
            if (eol || mp->line.len >= MIME_LINE_MAX) {
                process_line(mp, mp->line.data, mp->line.len, mp->at_line_start, eol);
                mp->at_line_start = eol;
                buf_reset(&mp->line);
            }
        }
        data += take;
        len -= take;
    }
}

struct mime_part *mime_parser_finish(struct mime_parser *mp)
{
    if (mp->finished)
        return mp->root;
    mp->finished = true;
    if (mp->line.len > 0) {
        process_line(mp, mp->line.data, mp->line.len, mp->at_line_start, false);
        buf_reset(&mp->line);
    }
    if (mp->state == ST_HEADER)
        header_done(mp, mp->vpos, mp->lines);
    /* a header that ended the message may have opened an rfc822 child */
    if (mp->state == ST_HEADER)
        header_done(mp, mp->vpos, mp->lines);
    for (struct mime_part *q = mp->cur; q; q = q->parent)
        part_end(mp, q, mp->vpos, mp->lines, mp->phys);
    return mp->root;
}

struct mime_part *mime_parser_root(struct mime_parser *mp)
{
    return mp->root;
}

struct mime_part *mime_part_find(struct mime_part *root, const uint32_t *path, size_t depth)
{
    struct mime_part *part = root;
    for (size_t i = 0; i < depth && part; i++) {
        if (!part->header_ended)
            return NULL; /* its type, hence its children, is not known yet */
        uint32_t num = path[i];
        bool more = i + 1 < depth;
        if (part->flags & MIME_PART_MULTIPART) {
            part = part->children;
            for (; num > 1 && part; num--)
                part = part->next;
        } else if (num != 1 || (more && !(part->flags & MIME_PART_RFC822))) {
            /* a part that is not multipart has only "1", itself; going
             * deeper needs an encapsulated message */
            return NULL;
        }
        /* going on inside a message/rfc822 part: its message's parts */
        if (part && more && (part->flags & MIME_PART_RFC822))
            part = part->children;
    }
    return part && part->header_ended ? part : NULL;
}

void mime_parser_free(struct mime_parser *mp)
{
    if (!mp)
        return;
    part_free(mp->root);
    buf_free(&mp->line);
    buf_free(&mp->field);
    free(mp);
}
