#include "lib/settings-pop3.h"

#include "lib/var-expand.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool expand_uidl(const char *format, uint32_t uid, uint32_t uidvalidity, struct buf *out,
                        struct buf *why)
{
    char u[16], v[16];
    snprintf(u, sizeof(u), "%" PRIu32, uid);
    snprintf(v, sizeof(v), "%" PRIu32, uidvalidity);
    const struct var_expand_entry table[] = {{'u', u}, {'v', v}, {'\0', NULL}};
    return var_expand_table(format, table, out, why);
}

void settings_uidl(const char *format, uint32_t uid, uint32_t uidvalidity, struct buf *out)
{
    struct buf why = BUF_INIT;
    if (!expand_uidl(format, uid, uidvalidity, out, &why))
        buf_printf(out, "%08" PRIx32 "%08" PRIx32, uid, uidvalidity); /* not reached: checked */
    buf_free(&why);
}

static bool unique_id(const struct buf *b)
{
    /* RFC 1939 §7: unique-id = 1*70 characters in the range 0x21 to 0x7E */
    if (b->len < 1 || b->len > 70)
        return false;
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->data[i] < 0x21 || (unsigned char)b->data[i] > 0x7e)
            return false;
    return true;
}

bool settings_check_uidl_format(const char *value, struct buf *out, struct buf *why)
{
    struct buf a = BUF_INIT, b = BUF_INIT, big = BUF_INIT;
    bool ok = expand_uidl(value, 1, 1700000000, &a, why) &&
              expand_uidl(value, 2, 1700000000, &b, why) &&
              expand_uidl(value, UINT32_MAX, UINT32_MAX, &big, why);
    if (ok && strcmp(buf_cstr(&a), buf_cstr(&b)) == 0) {
        buf_puts(why, "needs %u (the UID): every message needs a UIDL of its own");
        ok = false;
    }
    if (ok && (!unique_id(&a) || !unique_id(&big))) {
        buf_puts(why, "a UIDL must be 1 to 70 printable characters without spaces (RFC 1939)");
        ok = false;
    }
    if (ok)
        buf_puts(out, value);
    buf_free(&a);
    buf_free(&b);
    buf_free(&big);
    return ok;
}

bool settings_check_expire(const char *value, struct buf *out, struct buf *why)
{
    if (strcasecmp(value, "never") == 0) {
        buf_puts(out, "never");
        return true;
    }
    size_t n = strspn(value, "0123456789");
    if (n == 0 || n > 6 || value[n]) {
        buf_puts(why, "expected \"never\" or a number of days");
        return false;
    }
    const char *digits = value + strspn(value, "0"); /* "007" -> "7" */
    buf_puts(out, *digits ? digits : "0");
    return true;
}
