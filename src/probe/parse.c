/* Pure parsing helpers of `gannet probe` (see parse.h). */
#include "probe/parse.h"

#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-parser.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void probe_strlist_add(struct probe_strlist *l, const char *s, size_t len)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = xstrndup(s, len);
}

void probe_strlist_free(struct probe_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void probe_strlist_copy(struct probe_strlist *dst, const struct probe_strlist *src)
{
    probe_strlist_free(dst);
    for (size_t i = 0; i < src->n; i++)
        probe_strlist_add(dst, src->v[i], strlen(src->v[i]));
}

bool probe_strlist_has(const struct probe_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->v[i], s) == 0)
            return true;
    return false;
}

void probe_strlist_join(const struct probe_strlist *l, const char *sep, struct buf *out)
{
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            buf_puts(out, sep);
        buf_puts(out, l->v[i]);
    }
}

void probe_escape(struct buf *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '\r')
            buf_puts(out, "\\r");
        else if (c == '\n')
            buf_puts(out, "\\n");
        else if (c == '\t')
            buf_puts(out, "\\t");
        else if (c == '\\')
            buf_puts(out, "\\\\");
        else if (c >= 0x20 && c < 0x7f)
            buf_putc(out, (char)c);
        else
            buf_printf(out, "\\x%02x", c);
    }
}

static void split_atoms(const char *s, size_t n, struct probe_strlist *out)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i > start)
            probe_strlist_add(out, s + start, i - start);
    }
}

static bool prefix_ci(const char *s, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    return n >= pl && strncasecmp(s, prefix, pl) == 0;
}

/* Each response of resp[0..len) to fn, read with lib-imap's parser, until fn
 * returns true; a last line without its line end counts too. */
typedef bool response_fn(const struct imap_command *r, void *ctx);

static bool feed_responses(struct imap_parser *p, const char *data, size_t len, response_fn *fn,
                           void *ctx)
{
    size_t pos = 0;
    while (pos < len) {
        size_t used = 0;
        enum imap_parse_result r = imap_parser_feed(p, data + pos, len - pos, &used);
        pos += used;
        if (r == IMAP_PARSE_COMMAND) {
            bool stop = fn(imap_parser_command(p), ctx);
            imap_parser_reset(p);
            if (stop)
                return true;
        } else if (r == IMAP_PARSE_BAD) {
            imap_parser_reset(p); /* a line that is no response: the next one may be */
        } else if (r == IMAP_PARSE_FATAL || used == 0) {
            return true;
        }
    }
    return false;
}

static void each_response(const char *resp, size_t len, response_fn *fn, void *ctx)
{
    /* A response is at most what the probe collects (64 KiB); RFC 2971 allows
     * 30 ID pairs, and no server has a thousand capabilities. */
    static const struct imap_parser_limits limits = {
        .max_bytes = 128 * 1024, .max_args = 1024, .max_literals = 0, .max_depth = 8};
    struct imap_parser *p = imap_parser_new(&limits);
    imap_parser_set_responses(p, true);
    if (!feed_responses(p, resp, len, fn, ctx) && len > 0 && resp[len - 1] != '\n')
        feed_responses(p, "\r\n", 2, fn, ctx);
    imap_parser_free(p);
}

static bool is_untagged(const struct imap_command *r)
{
    return strcmp(r->tag, "*") == 0;
}

/* The atoms of a capability list (data or response code) replace caps; false
 * when there are none. */
static bool take_caps(const struct imap_command *r, struct probe_strlist *caps)
{
    struct probe_strlist l = {0};
    for (size_t i = 0; i < r->n_args; i++) {
        const char *atom;
        if (imap_arg_get_atom(&r->args[i], &atom))
            probe_strlist_add(&l, atom, strlen(atom));
    }
    if (l.n == 0)
        return false;
    probe_strlist_free(caps);
    *caps = l;
    return true;
}

struct caps_search {
    const char *tag;
    struct probe_strlist *caps;
    struct buf *tagged_text;
    bool found;
};

static bool caps_response(const struct imap_command *r, void *ctx)
{
    struct caps_search *c = ctx;
    bool code = r->code != NULL && strcasecmp(r->code, "CAPABILITY") == 0;
    if (is_untagged(r)) {
        if (strcasecmp(r->name, "CAPABILITY") == 0 ||
            (code && (strcasecmp(r->name, "OK") == 0 || strcasecmp(r->name, "PREAUTH") == 0)))
            c->found |= take_caps(r, c->caps);
    } else if (c->tag && strcmp(r->tag, c->tag) == 0 && r->text) {
        if (code)
            c->found |= take_caps(r, c->caps);
        if (c->tagged_text) {
            buf_reset(c->tagged_text);
            buf_puts(c->tagged_text, r->text);
        }
    }
    return false;
}

bool probe_imap_parse_caps(const char *resp, size_t len, const char *tag,
                           struct probe_strlist *caps, struct buf *tagged_text)
{
    struct caps_search c = {.tag = tag, .caps = caps, .tagged_text = tagged_text};
    each_response(resp, len, caps_response, &c);
    return c.found;
}

struct status_search {
    const char *tag, *status;
    bool found;
};

static bool status_response(const struct imap_command *r, void *ctx)
{
    struct status_search *s = ctx;
    s->found = strcmp(r->tag, s->tag) == 0 && strcasecmp(r->name, s->status) == 0;
    return s->found;
}

bool probe_imap_has_status(const char *resp, size_t len, const char *tag, const char *status)
{
    struct status_search s = {.tag = tag, .status = status};
    each_response(resp, len, status_response, &s);
    return s.found;
}

bool probe_pop3_parse_capa(const char *resp, size_t len, struct probe_strlist *caps)
{
    /* POP3's lines, not IMAP's: "+OK", one capability a line, "." */
    struct probe_strlist l = {0};
    bool ok = false;
    for (size_t pos = 0; pos < len;) {
        const char *line = resp + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += nl ? n + 1 : n;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (line == resp) {
            if (!prefix_ci(line, n, "+OK"))
                return false;
            ok = true;
        } else if (n == 1 && line[0] == '.') {
            break;
        } else if (n > 0) {
            probe_strlist_add(&l, line, n);
        }
    }
    if (!ok)
        return false;
    probe_strlist_free(caps);
    *caps = l;
    return true;
}

void probe_sasl_mechanisms(const struct probe_strlist *caps, bool pop3, struct probe_strlist *mechs)
{
    probe_strlist_free(mechs);
    for (size_t i = 0; i < caps->n; i++) {
        const char *c = caps->v[i];
        if (!pop3 && strncasecmp(c, "AUTH=", 5) == 0)
            probe_strlist_add(mechs, c + 5, strlen(c + 5));
        else if (pop3 && strncasecmp(c, "SASL ", 5) == 0)
            split_atoms(c + 5, strlen(c + 5), mechs);
    }
}

struct id_search {
    struct probe_strlist *out;
    bool found;
};

static bool id_response(const struct imap_command *r, void *ctx)
{
    struct id_search *s = ctx;
    if (!is_untagged(r) || strcasecmp(r->name, "ID") != 0)
        return false;
    const struct imap_arg *list;
    size_t n;
    if (r->n_args == 1 && r->args[0].type == IMAP_ARG_NIL) {
        s->found = true;
    } else if (r->n_args >= 1 && imap_arg_get_list(&r->args[0], &list, &n)) {
        /* field and value alternate, each an nstring (RFC 2971 §4); what
         * comes before the first one that is not is kept */
        struct probe_strlist l = {0};
        for (size_t i = 0; i < n; i++) {
            const char *v;
            size_t vlen;
            if (!imap_arg_get_nstring(&list[i], &v, &vlen))
                break;
            probe_strlist_add(&l, v ? v : "", v ? vlen : 0);
        }
        probe_strlist_free(s->out);
        *s->out = l;
        s->found = true;
    }
    return true; /* the first ID answer decides */
}

bool probe_imap_parse_id(const char *resp, size_t len, struct probe_strlist *out)
{
    struct id_search s = {.out = out};
    each_response(resp, len, id_response, &s);
    return s.found;
}

const char *probe_id_field(const struct probe_strlist *id, const char *field)
{
    for (size_t i = 0; i + 1 < id->n; i += 2)
        if (strcasecmp(id->v[i], field) == 0)
            return id->v[i + 1];
    return NULL;
}

bool probe_apop_parse(const char *greeting, size_t len, struct probe_apop *out)
{
    memset(out, 0, sizeof(*out));
    const char *lt = memchr(greeting, '<', len);
    if (!lt)
        return false;
    size_t rest = len - (size_t)(lt - greeting);
    const char *gt = memchr(lt, '>', rest);
    if (!gt)
        return false;
    size_t tlen = (size_t)(gt - lt) + 1;
    const char *at = memchr(lt, '@', tlen);
    if (!at || tlen >= sizeof(out->timestamp))
        return false;
    memcpy(out->timestamp, lt, tlen);
    out->timestamp[tlen] = '\0';
    size_t hl = (size_t)(gt - at) - 1;
    memcpy(out->host, at + 1, hl);
    out->host[hl] = '\0';
    size_t pl = 0;
    while (lt + 1 + pl < at && isxdigit((unsigned char)lt[1 + pl]) && pl + 1 < sizeof(out->pid))
        pl++;
    if (pl > 0 && lt[1 + pl] == '.') {
        memcpy(out->pid, lt + 1, pl);
        out->pid[pl] = '\0';
    }
    return true;
}

static void put_le32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    buf_append(b, x, 4);
}

void probe_ntlm_negotiate(struct buf *out)
{
    /* UNICODE | OEM | REQUEST_TARGET | NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY
     * | VERSION | 128 | 56 (MS-NLMP §2.2.2.5). */
    buf_append(out, "NTLMSSP\0", 8);
    put_le32(out, 1);
    put_le32(out, 0xA2088207u);
    buf_append(out, "\0\0\0\0\0\0\0\0", 8); /* DomainNameFields */
    buf_append(out, "\0\0\0\0\0\0\0\0", 8); /* WorkstationFields */
    /* Version: 6.1 build 7601, NTLM revision 15 (a Windows 7 client, as nmap sends). */
    static const unsigned char version[8] = {6, 1, 0xb1, 0x1d, 0, 0, 0, 15};
    buf_append(out, version, 8);
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* UTF-16LE to ASCII ('?' for the rest), bounded by out's size. */
static void utf16_ascii(const unsigned char *p, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i + 1 < len && o + 1 < outlen; i += 2) {
        uint16_t c = le16(p + i);
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
}

bool probe_ntlm_decode_challenge(const unsigned char *msg, size_t len,
                                 struct probe_ntlm_challenge *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 48 || memcmp(msg, "NTLMSSP\0", 8) != 0 || le32(msg + 8) != 2)
        return false;
    out->flags = le32(msg + 20);
    uint16_t tn_len = le16(msg + 12);
    uint32_t tn_off = le32(msg + 16);
    if (tn_len && (size_t)tn_off + tn_len <= len) {
        if (out->flags & 0x1) /* NEGOTIATE_UNICODE */
            utf16_ascii(msg + tn_off, tn_len, out->target_name, sizeof(out->target_name));
        else {
            size_t n =
                tn_len < sizeof(out->target_name) - 1 ? tn_len : sizeof(out->target_name) - 1;
            memcpy(out->target_name, msg + tn_off, n);
            out->target_name[n] = '\0';
        }
    }
    /* Version (§2.2.2.10) follows the TargetInfoFields when the flag is set. */
    if ((out->flags & 0x02000000u) && len >= 56) {
        out->has_version = true;
        out->os_major = msg[48];
        out->os_minor = msg[49];
        out->os_build = le16(msg + 50);
    }
    uint16_t ti_len = le16(msg + 40);
    uint32_t ti_off = le32(msg + 44);
    if (!ti_len || (size_t)ti_off + ti_len > len)
        return true;
    const unsigned char *p = msg + ti_off;
    size_t left = ti_len;
    /* AV_PAIRs (§2.2.2.1) until MsvAvEOL. */
    while (left >= 4) {
        uint16_t id = le16(p), alen = le16(p + 2);
        if (id == 0 || (size_t)alen + 4 > left)
            break;
        const unsigned char *v = p + 4;
        switch (id) {
        case 1:
            utf16_ascii(v, alen, out->nb_computer, sizeof(out->nb_computer));
            break;
        case 2:
            utf16_ascii(v, alen, out->nb_domain, sizeof(out->nb_domain));
            break;
        case 3:
            utf16_ascii(v, alen, out->dns_computer, sizeof(out->dns_computer));
            break;
        case 4:
            utf16_ascii(v, alen, out->dns_domain, sizeof(out->dns_domain));
            break;
        case 5:
            utf16_ascii(v, alen, out->dns_tree, sizeof(out->dns_tree));
            break;
        case 7:
            if (alen == 8) {
                uint64_t ft = (uint64_t)le32(v) | ((uint64_t)le32(v + 4) << 32);
                /* FILETIME: 100 ns ticks since 1601-01-01. */
                out->timestamp = (int64_t)(ft / 10000000u) - 11644473600LL;
                out->has_timestamp = true;
            }
            break;
        default:
            break;
        }
        p += 4 + alen;
        left -= 4 + (size_t)alen;
    }
    return true;
}
