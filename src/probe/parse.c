/* Pure parsing helpers of `gannet probe` (see parse.h). */
#include "probe/parse.h"

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

/* Next line of resp from *pos (without CRLF); false at the end. */
static bool next_line(const char *resp, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return false;
    const char *start = resp + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - start) : len - *pos;
    *pos += nl ? l + 1 : l;
    if (l > 0 && start[l - 1] == '\r')
        l--;
    *line = start;
    *n = l;
    return true;
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

/* "[CAPABILITY a b c] text": fills caps and returns the offset after "] ", or 0. */
static size_t caps_code(const char *s, size_t n, struct probe_strlist *caps)
{
    if (!prefix_ci(s, n, "[CAPABILITY "))
        return 0;
    const char *close = memchr(s, ']', n);
    if (!close)
        return 0;
    size_t start = strlen("[CAPABILITY ");
    struct probe_strlist l = {0};
    split_atoms(s + start, (size_t)(close - s) - start, &l);
    probe_strlist_free(caps);
    *caps = l;
    size_t off = (size_t)(close - s) + 1;
    if (off < n && s[off] == ' ')
        off++;
    return off;
}

bool probe_imap_parse_caps(const char *resp, size_t len, const char *tag,
                           struct probe_strlist *caps, struct buf *tagged_text)
{
    bool found = false;
    size_t pos = 0;
    const char *line;
    size_t n;
    size_t tag_len = tag ? strlen(tag) : 0;
    while (next_line(resp, len, &pos, &line, &n)) {
        if (prefix_ci(line, n, "* CAPABILITY ")) {
            struct probe_strlist l = {0};
            size_t off = strlen("* CAPABILITY ");
            split_atoms(line + off, n - off, &l);
            probe_strlist_free(caps);
            *caps = l;
            found = true;
        } else if (prefix_ci(line, n, "* OK ") || prefix_ci(line, n, "* PREAUTH ")) {
            size_t off = prefix_ci(line, n, "* OK ") ? strlen("* OK ") : strlen("* PREAUTH ");
            if (caps_code(line + off, n - off, caps))
                found = true;
        } else if (tag && n > tag_len && strncmp(line, tag, tag_len) == 0 && line[tag_len] == ' ') {
            const char *st = line + tag_len + 1;
            size_t sn = n - tag_len - 1;
            const char *sp = memchr(st, ' ', sn);
            if (!sp)
                continue;
            size_t off = (size_t)(sp - st) + 1;
            size_t text = caps_code(st + off, sn - off, caps);
            if (text)
                found = true;
            text += off;
            if (tagged_text) {
                buf_reset(tagged_text);
                buf_append(tagged_text, st + text, sn - text);
            }
        }
    }
    return found;
}

bool probe_pop3_parse_capa(const char *resp, size_t len, struct probe_strlist *caps)
{
    size_t pos = 0;
    const char *line;
    size_t n;
    if (!next_line(resp, len, &pos, &line, &n) || !prefix_ci(line, n, "+OK"))
        return false;
    struct probe_strlist l = {0};
    while (next_line(resp, len, &pos, &line, &n)) {
        if (n == 1 && line[0] == '.')
            break;
        if (n > 0)
            probe_strlist_add(&l, line, n);
    }
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

/* A quoted string or NIL at s[*i]; appends the value. */
static bool id_string(const char *s, size_t n, size_t *i, struct probe_strlist *out)
{
    while (*i < n && s[*i] == ' ')
        (*i)++;
    if (*i + 3 <= n && strncasecmp(s + *i, "NIL", 3) == 0) {
        *i += 3;
        probe_strlist_add(out, "", 0);
        return true;
    }
    if (*i >= n || s[*i] != '"')
        return false;
    (*i)++;
    struct buf v = BUF_INIT;
    while (*i < n && s[*i] != '"') {
        if (s[*i] == '\\' && *i + 1 < n)
            (*i)++;
        buf_putc(&v, s[*i]);
        (*i)++;
    }
    if (*i >= n) {
        buf_free(&v);
        return false;
    }
    (*i)++;
    probe_strlist_add(out, buf_cstr(&v), v.len);
    buf_free(&v);
    return true;
}

bool probe_imap_parse_id(const char *resp, size_t len, struct probe_strlist *out)
{
    size_t pos = 0;
    const char *line;
    size_t n;
    while (next_line(resp, len, &pos, &line, &n)) {
        if (!prefix_ci(line, n, "* ID "))
            continue;
        size_t i = 5;
        while (i < n && line[i] == ' ')
            i++;
        if (i + 3 <= n && strncasecmp(line + i, "NIL", 3) == 0)
            return true;
        if (i >= n || line[i] != '(')
            return false;
        i++;
        struct probe_strlist l = {0};
        while (i < n && line[i] != ')') {
            if (!id_string(line, n, &i, &l) || !id_string(line, n, &i, &l))
                break;
            while (i < n && line[i] == ' ')
                i++;
        }
        probe_strlist_free(out);
        *out = l;
        return true;
    }
    return false;
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
