/* SMTP paths, parameters and LHLO domains (RFC 5321 §4.1.2, RFC 6531 §3.3). */
#include "lmtp/smtp-syntax.h"

#include "lib/utf8.h"

#include <string.h>
#include <strings.h>

void smtp_path_free(struct smtp_path *p)
{
    buf_free(&p->mailbox);
    buf_free(&p->local);
    buf_free(&p->domain);
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 5322 §3.2.3 atext; with SMTPUTF8 also the bytes of UTF-8 (RFC 6531
 * §3.3 extends atext with UTF8-non-ascii; well-formedness is checked on the
 * whole mailbox). */
static bool is_atext(unsigned char c, bool utf8)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)) ||
           (utf8 && c >= 0x80);
}

/* Dot-string = Atom *("." Atom) */
static bool parse_dot_string(const char **sp, bool utf8, struct buf *local)
{
    const char *s = *sp;
    for (;;) {
        const char *atom = s;
        while (is_atext((unsigned char)*s, utf8))
            s++;
        if (s == atom)
            return false;
        buf_append(local, atom, (size_t)(s - atom));
        if (*s != '.')
            break;
        buf_putc(local, '.');
        s++;
    }
    *sp = s;
    return true;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 §4.1.2): qtextSMTP is
 * %d32-33 / %d35-91 / %d93-126, quoted-pairSMTP a backslash and %d32-126. */
static bool parse_quoted_string(const char **sp, bool utf8, struct buf *local)
{
    const char *s = *sp + 1;
    for (;;) {
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c == '\\') {
            unsigned char q = (unsigned char)s[1];
            if (q < 32 || q > 126)
                return false;
            buf_putc(local, (char)q);
            s += 2;
        } else if ((c >= 32 && c <= 126) || (utf8 && c >= 0x80)) {
            buf_putc(local, (char)c);
            s++;
        } else {
            return false;
        }
    }
    *sp = s + 1;
    return true;
}

/* Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]
 * (RFC 5321 §4.1.2); a U-label's UTF-8 with SMTPUTF8 (RFC 6531 §3.3). */
static bool parse_domain(const char **sp, bool utf8)
{
    const char *s = *sp;
    for (;;) {
        const char *label = s;
        while (is_alpha((unsigned char)*s) || is_digit((unsigned char)*s) || *s == '-' ||
               (utf8 && (unsigned char)*s >= 0x80))
            s++;
        if (s == label || *label == '-' || s[-1] == '-')
            return false;
        if (*s != '.')
            break;
        s++;
    }
    *sp = s;
    return true;
}

/* address-literal = "[" ... "]" with dcontent %d33-90 / %d94-126 (RFC 5321
 * §4.1.3 General-address-literal covers the IPv4 and IPv6 forms). */
static bool parse_address_literal(const char **sp)
{
    const char *s = *sp + 1;
    const char *start = s;
    while ((*s >= 33 && *s <= 90) || (*s >= 94 && *s <= 126))
        s++;
    if (s == start || *s != ']')
        return false;
    *sp = s + 1;
    return true;
}

bool smtp_parse_path(const char **sp, bool null_ok, bool postmaster_ok, bool utf8,
                     struct smtp_path *out, const char **why)
{
    const char *s = *sp;
    buf_reset(&out->mailbox);
    buf_reset(&out->local);
    buf_reset(&out->domain);
    *why = "Invalid address syntax";
    if (*s != '<') {
        *why = "Address must be in angle brackets";
        return false;
    }
    s++;
    if (*s == '>') {
        if (!null_ok) {
            *why = "Empty address not allowed here";
            return false;
        }
        *sp = s + 1;
        buf_puts(&out->mailbox, "");
        return true;
    }
    /* A-d-l ":" : a source route, accepted and ignored (RFC 5321 §4.1.2). */
    if (*s == '@') {
        for (;;) {
            s++;
            if (!parse_domain(&s, utf8))
                return false;
            if (*s == ':')
                break;
            if (*s != ',' || s[1] != '@')
                return false;
            s++;
        }
        s++;
    }
    const char *mailbox = s;
    bool ok = *s == '"' ? parse_quoted_string(&s, utf8, &out->local)
                        : parse_dot_string(&s, utf8, &out->local);
    if (!ok)
        return false;
    if (*s == '>' && postmaster_ok && strcasecmp(buf_cstr(&out->local), "postmaster") == 0) {
        /* RFC 5321 §4.1.1.3: <Postmaster> without a domain MUST be accepted */
    } else {
        if (*s != '@')
            return false;
        s++;
        const char *domain = s;
        ok = *s == '[' ? parse_address_literal(&s) : parse_domain(&s, utf8);
        if (!ok)
            return false;
        if ((size_t)(s - domain) > SMTP_DOMAIN_MAX) {
            *why = "Domain too long";
            return false;
        }
        buf_append(&out->domain, domain, (size_t)(s - domain));
    }
    if (*s != '>')
        return false;
    if (out->local.len > SMTP_LOCAL_PART_MAX) {
        *why = "Local part too long";
        return false;
    }
    buf_append(&out->mailbox, mailbox, (size_t)(s - mailbox));
    if (utf8 && !utf8_valid(out->mailbox.data, out->mailbox.len)) {
        *why = "Invalid UTF-8 in address";
        return false;
    }
    *sp = s + 1;
    return true;
}

int smtp_next_param(const char **sp, struct buf *keyword, struct buf *value)
{
    const char *s = *sp;
    buf_reset(keyword);
    buf_reset(value);
    if (*s != ' ' && *s != '\0')
        return -1;
    while (*s == ' ')
        s++;
    if (*s == '\0') {
        *sp = s;
        return 0;
    }
    /* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
    if (!is_alpha((unsigned char)*s) && !is_digit((unsigned char)*s))
        return -1;
    while (is_alpha((unsigned char)*s) || is_digit((unsigned char)*s) || *s == '-') {
        char c = *s++;
        buf_putc(keyword, c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
    }
    if (*s == '=') {
        s++;
        /* esmtp-value = 1*(%d33-60 / %d62-126) */
        const char *v = s;
        while ((*s >= 33 && *s <= 60) || (*s >= 62 && *s <= 126))
            s++;
        if (s == v)
            return -1;
        buf_append(value, v, (size_t)(s - v));
    } else {
        buf_puts(value, "");
    }
    if (*s != ' ' && *s != '\0')
        return -1;
    *sp = s;
    return 1;
}

bool smtp_valid_helo(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SMTP_DOMAIN_MAX)
        return false;
    if (s[0] == '[') {
        const char *p = s;
        return parse_address_literal(&p) && *p == '\0';
    }
    for (const char *p = s; *p; p++)
        if (!is_alpha((unsigned char)*p) && !is_digit((unsigned char)*p) && *p != '-' &&
            *p != '.' && *p != '_')
            return false;
    return true;
}
