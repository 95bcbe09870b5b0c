#include "mail/imap-bodystructure.h"

#include "lib-imap/imap-quote.h"
#include "mail/imap-envelope.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

/* A multipart without parts is not allowed (RFC 2046 §5.1.1) but happens:
 * it is shown with one empty text part, as Dovecot does. */
#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_BODY_EXT                                                                             \
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"

static void write_params(struct buf *out, const struct mime_param *params, size_t n,
                         bool default_charset)
{
    if (n == 0 && !default_charset) {
        buf_puts(out, "NIL");
        return;
    }
    bool seen_charset = false;
    buf_putc(out, '(');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_putc(out, ' ');
        if (strcasecmp(params[i].name, "charset") == 0)
            seen_charset = true;
        imap_nstring(out, params[i].name);
        buf_putc(out, ' ');
        imap_nstring(out, params[i].value);
    }
    /* §7.5.2: text parts without a charset are us-ascii (RFC 2045 §5.2) */
    if (default_charset && !seen_charset) {
        if (n > 0)
            buf_putc(out, ' ');
        buf_puts(out, "\"charset\" \"us-ascii\"");
    }
    buf_putc(out, ')');
}

/* body-fld-dsp, body-fld-lang, body-fld-loc */
static void write_common_ext(struct buf *out, const struct mime_part *p)
{
    buf_putc(out, ' ');
    if (!p->disposition) {
        buf_puts(out, "NIL");
    } else {
        buf_putc(out, '(');
        imap_nstring(out, p->disposition);
        buf_putc(out, ' ');
        write_params(out, p->disp_params, p->ndisp_params, false);
        buf_putc(out, ')');
    }
    buf_putc(out, ' ');
    if (p->nlanguages == 0) {
        buf_puts(out, "NIL");
    } else {
        buf_putc(out, '(');
        for (size_t i = 0; i < p->nlanguages; i++) {
            if (i > 0)
                buf_putc(out, ' ');
            imap_nstring(out, p->languages[i]);
        }
        buf_putc(out, ')');
    }
    buf_putc(out, ' ');
    imap_nstring(out, p->location);
}

static void write_children(struct buf *out, const struct mime_part *child, bool extended)
{
    for (; child; child = child->next) {
        buf_putc(out, '(');
        imap_bodystructure_write(out, child, extended);
        buf_putc(out, ')');
    }
}

static void write_multipart(struct buf *out, const struct mime_part *p, bool extended)
{
    if (p->children)
        write_children(out, p->children, extended);
    else if (extended)
        buf_puts(out, EMPTY_BODY_EXT);
    else
        buf_puts(out, EMPTY_BODY);
    buf_putc(out, ' ');
    if (p->subtype)
        imap_nstring(out, p->subtype);
    else
        buf_puts(out, "\"x-unknown\"");
    if (!extended)
        return;
    buf_putc(out, ' ');
    write_params(out, p->params, p->nparams, false);
    write_common_ext(out, p);
}

static void write_single(struct buf *out, const struct mime_part *p, bool extended)
{
    bool text;
    if (p->flags & MIME_PART_RFC822) {
        buf_puts(out, "\"message\" \"rfc822\"");
        text = false;
    } else {
        text = !p->type || strcasecmp(p->type, "text") == 0;
        if (p->type)
            imap_nstring(out, p->type);
        else
            buf_puts(out, "\"text\"");
        buf_putc(out, ' ');
        if (p->subtype)
            imap_nstring(out, p->subtype);
        else
            buf_puts(out, text ? "\"plain\"" : "\"unknown\"");
    }
    buf_putc(out, ' ');
    write_params(out, p->params, p->nparams, text);
    buf_putc(out, ' ');
    imap_nstring(out, p->id);
    buf_putc(out, ' ');
    imap_nstring(out, p->description);
    buf_putc(out, ' ');
    if (p->encoding)
        imap_nstring(out, p->encoding);
    else
        buf_puts(out, "\"7bit\"");
    buf_printf(out, " %" PRIu64, p->body_size);
    if (text) {
        buf_printf(out, " %" PRIu64, p->body_lines);
    } else if ((p->flags & MIME_PART_RFC822) && p->children) {
        /* body-type-msg: envelope, body, lines */
        buf_puts(out, " (");
        imap_envelope_write(out, p->children);
        buf_puts(out, ") (");
        imap_bodystructure_write(out, p->children, extended);
        buf_printf(out, ") %" PRIu64, p->body_lines);
    }
    if (!extended)
        return;
    buf_putc(out, ' ');
    imap_nstring(out, p->md5);
    write_common_ext(out, p);
}

void imap_bodystructure_write(struct buf *out, const struct mime_part *part, bool extended)
{
    if (part->flags & MIME_PART_MULTIPART)
        write_multipart(out, part, extended);
    else
        write_single(out, part, extended);
}
