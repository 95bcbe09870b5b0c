#include "mail/address.h"

#include "lib/buf.h"
#include "mail/header.h"

#include <stdlib.h>
#include <string.h>

struct addr_parser {
    struct rfc822_lexer lx;
    struct mail_address_list *out;
    struct buf tmp, comment;
    struct mail_address cur;
};

static char *dup_or_null(const struct buf *b)
{
    return xstrdup(buf_cstr(b));
}

static void push(struct addr_parser *ap, bool fill_missing)
{
    struct mail_address a = ap->cur;
    memset(&ap->cur, 0, sizeof(ap->cur));
    if (ap->out->count >= ADDRESS_LIST_MAX) {
        free(a.name);
        free(a.route);
        free(a.mailbox);
        free(a.domain);
        return;
    }
    if (fill_missing) {
        if (!a.mailbox) {
            a.mailbox = xstrdup("MISSING_MAILBOX");
            a.invalid = true;
        }
        if (!a.domain) {
            a.domain = xstrdup("MISSING_DOMAIN");
            a.invalid = true;
        }
    }
    ap->out->items = xrealloc(ap->out->items, (ap->out->count + 1) * sizeof(a));
    ap->out->items[ap->out->count++] = a;
}

static bool at(struct addr_parser *ap, char c)
{
    return ap->lx.p < ap->lx.end && *ap->lx.p == c;
}

/* local-part = dot-atom / quoted-string / obs-local-part (§3.4.1, §4.4) */
static bool parse_local_part(struct addr_parser *ap, struct buf *out)
{
    bool any = false;
    for (;;) {
        if (at(ap, '"')) {
            if (!rfc822_quoted_string(&ap->lx, out))
                return false;
        } else if (ap->lx.p < ap->lx.end && rfc822_is_atext((unsigned char)*ap->lx.p)) {
            rfc822_atom(&ap->lx, out);
        } else {
            return any;
        }
        any = true;
        if (!at(ap, '.'))
            return true;
        buf_putc(out, '.');
        ap->lx.p++;
        rfc822_skip_cfws(&ap->lx);
    }
}

/* domain = dot-atom / domain-literal / obs-domain */
static bool parse_domain(struct addr_parser *ap, struct buf *out)
{
    if (at(ap, '[')) {
        while (ap->lx.p < ap->lx.end) {
            char c = *ap->lx.p++;
            if (c == '\\' && ap->lx.p < ap->lx.end)
                c = *ap->lx.p++;
            else if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
                continue;
            buf_putc(out, c);
            if (c == ']') {
                rfc822_skip_cfws(&ap->lx);
                return true;
            }
        }
        return false;
    }
    bool any = false;
    for (;;) {
        if (ap->lx.p >= ap->lx.end || !rfc822_is_atext((unsigned char)*ap->lx.p))
            return any;
        rfc822_atom(&ap->lx, out);
        any = true;
        if (!at(ap, '.'))
            return true;
        buf_putc(out, '.');
        ap->lx.p++;
        rfc822_skip_cfws(&ap->lx);
    }
}

/* addr-spec = local-part "@" domain; a comment after it names the mailbox
 * when there is no display name ("jdoe@example.com (John Doe)"). */
static bool parse_addr_spec(struct addr_parser *ap, bool in_angle)
{
    struct buf b = BUF_INIT;
    buf_reset(&ap->comment);
    ap->lx.last_comment = &ap->comment;
    bool ok = parse_local_part(ap, &b);
    if (ok || b.len > 0)
        ap->cur.mailbox = dup_or_null(&b);
    if (at(ap, '@')) {
        /* an empty local part still gives the domain ("@host": MISSING_MAILBOX) */
        ap->lx.p++;
        rfc822_skip_cfws(&ap->lx);
        buf_reset(&b);
        bool dom_ok = parse_domain(ap, &b);
        if (b.len > 0 || dom_ok)
            ap->cur.domain = dup_or_null(&b);
        ok = ok && dom_ok;
    } else if (ok && in_angle) {
        ok = false; /* "<local>": Dovecot reports the domain as SYNTAX_ERROR */
    }
    ap->lx.last_comment = NULL;
    if (!ap->cur.name && ap->comment.len > 0 && !in_angle)
        ap->cur.name = dup_or_null(&ap->comment);
    buf_free(&b);
    return ok;
}

/* angle-addr = "<" [obs-route] addr-spec ">" ; obs-route = obs-domain-list ":" */
static bool parse_angle_addr(struct addr_parser *ap)
{
    ap->lx.p++;
    rfc822_skip_cfws(&ap->lx);
    if (at(ap, '@')) {
        struct buf route = BUF_INIT;
        while (at(ap, '@') || at(ap, ',')) {
            if (at(ap, ',')) {
                ap->lx.p++;
                rfc822_skip_cfws(&ap->lx);
                if (!at(ap, '@'))
                    continue;
                buf_putc(&route, ',');
            }
            buf_putc(&route, '@');
            ap->lx.p++;
            rfc822_skip_cfws(&ap->lx);
            if (!parse_domain(ap, &route))
                break;
        }
        if (!at(ap, ':')) {
            buf_free(&route);
            return false;
        }
        ap->lx.p++;
        rfc822_skip_cfws(&ap->lx);
        ap->cur.route = dup_or_null(&route);
        buf_free(&route);
    }
    if (at(ap, '>')) {
        /* "<>": an empty address, as in a bounce's From */
        ap->lx.p++;
        rfc822_skip_cfws(&ap->lx);
        return true;
    }
    bool ok = parse_addr_spec(ap, true);
    if (!ok || !at(ap, '>')) {
        if (ap->cur.mailbox && !ap->cur.domain)
            ap->cur.domain = xstrdup("SYNTAX_ERROR");
        return false;
    }
    ap->lx.p++;
    rfc822_skip_cfws(&ap->lx);
    return true;
}

/* mailbox = name-addr / addr-spec */
static bool parse_mailbox(struct addr_parser *ap)
{
    const char *start = ap->lx.p;
    buf_reset(&ap->tmp);
    bool ok;
    if (rfc822_phrase(&ap->lx, &ap->tmp) && at(ap, '<')) {
        ap->cur.name = dup_or_null(&ap->tmp);
        ok = parse_angle_addr(ap);
    } else if (at(ap, '<')) {
        ok = parse_angle_addr(ap);
    } else {
        ap->lx.p = start;
        ok = parse_addr_spec(ap, false);
    }
    bool empty = !ap->cur.mailbox && !ap->cur.domain && !ap->cur.name && !ap->cur.route;
    if (empty && !ok) {
        memset(&ap->cur, 0, sizeof(ap->cur));
        return false;
    }
    push(ap, true);
    return ok;
}

/* group = display-name ":" [group-list] ";" [CFWS]; 1 = a group was read,
 * 0 = not a group (rewind), -1 = a broken group (its end marker added). */
static int parse_group(struct addr_parser *ap)
{
    buf_reset(&ap->tmp);
    if (!rfc822_phrase(&ap->lx, &ap->tmp) || !at(ap, ':'))
        return 0;
    ap->lx.p++;
    ap->cur.mailbox = dup_or_null(&ap->tmp);
    push(ap, false);
    bool ok = true;
    if (rfc822_skip_cfws(&ap->lx) && !at(ap, ';')) {
        for (;;) {
            if (!parse_mailbox(ap)) {
                ok = false;
                break;
            }
            if (!at(ap, ','))
                break;
            ap->lx.p++;
            if (!rfc822_skip_cfws(&ap->lx))
                break;
        }
    }
    if (ok && at(ap, ';')) {
        ap->lx.p++;
        rfc822_skip_cfws(&ap->lx);
    } else {
        ok = false;
    }
    push(ap, false); /* the group end marker, (NIL NIL NIL NIL) */
    return ok ? 1 : -1;
}

void address_list_append(struct mail_address_list *out, const char *value, size_t len)
{
    size_t room = ADDRESS_LIST_TEXT_MAX - out->text_len;
    if (len > room)
        len = room;
    out->text_len += len;
    struct addr_parser ap;
    memset(&ap, 0, sizeof(ap));
    ap.out = out;
    rfc822_lexer_init(&ap.lx, value, len);
    rfc822_skip_cfws(&ap.lx);
    unsigned guard = 0;
    while (ap.lx.p < ap.lx.end && out->count < ADDRESS_LIST_MAX && guard++ < 10000) {
        /* obs-addr-list allows empty elements: ",," */
        if (at(&ap, ',')) {
            ap.lx.p++;
            rfc822_skip_cfws(&ap.lx);
            continue;
        }
        const char *start = ap.lx.p;
        int g = parse_group(&ap);
        bool ok;
        if (g == 0) {
            ap.lx.p = start;
            ok = parse_mailbox(&ap);
        } else {
            ok = g > 0;
        }
        if (!ok || !at(&ap, ','))
            break;
    }
    buf_free(&ap.tmp);
    buf_free(&ap.comment);
    free(ap.cur.name);
    free(ap.cur.route);
    free(ap.cur.mailbox);
    free(ap.cur.domain);
}

void address_list_parse(const char *value, size_t len, struct mail_address_list *out)
{
    memset(out, 0, sizeof(*out));
    address_list_append(out, value, len);
}

void address_list_free(struct mail_address_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].route);
        free(list->items[i].mailbox);
        free(list->items[i].domain);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}
