/* Mailbox name rules, see mailbox-name.h. */
#include "store/mailbox-name.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/mutf7.h"
#include "lib/utf8.h"

static int name_error(struct buf *err, const char *why)
{
    if (err)
        buf_printf(err, "invalid mailbox name: %s", why);
    return -EINVAL;
}

/* Rejects C0 controls, DEL and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F). */
static bool has_control(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return true;
        if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

int mailbox_name_normalize(const char *name, size_t len, bool for_create, struct buf *out,
                           struct buf *err)
{
    if (len == 0)
        return name_error(err, "empty");
    if (len > MAILBOX_NAME_MAX)
        return name_error(err, "too long");
    if (memchr(name, '\0', len) || has_control((const unsigned char *)name, len))
        return name_error(err, "control character");
    if (!utf8_valid(name, len))
        return name_error(err, "not UTF-8");
    if (for_create && (memchr(name, '%', len) || memchr(name, '*', len)))
        return name_error(err, "wildcard character");
    if (name[0] == MAILBOX_SEPARATOR || name[len - 1] == MAILBOX_SEPARATOR)
        return name_error(err, "leading or trailing separator");
    size_t levels = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != MAILBOX_SEPARATOR)
            continue;
        size_t n = i - start;
        const char *lvl = name + start;
        if (n == 0)
            return name_error(err, "empty level");
        if ((n == 1 && lvl[0] == '.') || (n == 2 && lvl[0] == '.' && lvl[1] == '.'))
            return name_error(err, "'.' or '..' level");
        if (++levels > MAILBOX_LEVELS_MAX)
            return name_error(err, "too many levels");
        if (levels > 1)
            buf_putc(out, MAILBOX_SEPARATOR);
        /* RFC 9051 §5.1: INBOX is case-insensitive, also as a parent. */
        if (levels == 1 && n == 5 && strncasecmp(lvl, "INBOX", 5) == 0)
            buf_puts(out, "INBOX");
        else
            buf_append(out, lvl, n);
        start = i + 1;
    }
    return 0;
}

bool mailbox_name_is_inbox(const char *name)
{
    return strcmp(name, "INBOX") == 0;
}

int mailbox_name_from_imap(const char *wire, size_t len, bool utf8, bool for_create,
                           struct buf *out, struct buf *err)
{
    if (utf8)
        return mailbox_name_normalize(wire, len, for_create, out, err);
    struct buf dec = BUF_INIT;
    if (mutf7_decode(wire, len, false, &dec) < 0) {
        buf_free(&dec);
        return name_error(err, "invalid modified UTF-7");
    }
    int r = mailbox_name_normalize(buf_cstr(&dec), dec.len, for_create, out, err);
    buf_free(&dec);
    return r;
}

void mailbox_name_to_imap(const char *name, bool utf8, struct buf *out)
{
    if (utf8 || mutf7_encode(name, strlen(name), NULL, out) < 0)
        buf_puts(out, name);
}

int mailbox_name_to_dir(const char *name, struct buf *out)
{
    if (mailbox_name_is_inbox(name))
        return 0;
    size_t start = out->len;
    const char *p = name;
    while (*p) {
        const char *slash = strchr(p, MAILBOX_SEPARATOR);
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        buf_putc(out, '.');
        /* '.' is Maildir++'s own separator: base64 it inside a level. */
        if (mutf7_encode(p, n, ".", out) < 0)
            return -EINVAL;
        p += n;
        if (*p)
            p++;
    }
    if (out->len - start > NAME_MAX)
        return -ENAMETOOLONG;
    if (memchr(out->data + start, '/', out->len - start))
        return -EINVAL; /* cannot happen: mUTF-7 of a level has no '/' */
    return 0;
}

int mailbox_name_from_dir(const char *dirname, struct buf *out)
{
    size_t len = strlen(dirname);
    if (len < 2 || dirname[0] != '.' || strchr(dirname, '/'))
        return -EINVAL;
    struct buf name = BUF_INIT;
    const char *p = dirname + 1;
    int r = 0;
    while (r == 0) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0) {
            r = -EINVAL;
            break;
        }
        if (name.len)
            buf_putc(&name, MAILBOX_SEPARATOR);
        size_t before = name.len;
        if (mutf7_decode(p, n, true, &name) < 0 ||
            memchr(name.data + before, MAILBOX_SEPARATOR, name.len - before))
            r = -EINVAL;
        if (!dot)
            break;
        p = dot + 1;
    }
    struct buf norm = BUF_INIT, back = BUF_INIT;
    if (r == 0)
        r = mailbox_name_normalize(buf_cstr(&name), name.len, false, &norm, NULL);
    /* Only the canonical spelling counts (".inbox.x" or a needlessly encoded
     * letter would alias another directory), and INBOX itself is the root. */
    if (r == 0 &&
        (mailbox_name_is_inbox(buf_cstr(&norm)) ||
         mailbox_name_to_dir(buf_cstr(&norm), &back) < 0 || strcmp(buf_cstr(&back), dirname) != 0))
        r = -EINVAL;
    if (r == 0)
        buf_append(out, norm.data, norm.len);
    buf_free(&name);
    buf_free(&norm);
    buf_free(&back);
    return r;
}

bool mailbox_name_is_child(const char *parent, const char *child)
{
    size_t n = strlen(parent);
    return strncmp(parent, child, n) == 0 && child[n] == MAILBOX_SEPARATOR;
}
