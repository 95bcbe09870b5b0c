#include "mail/imap-envelope.h"

#include "lib-imap/imap-quote.h"
#include "mail/address.h"

#include <string.h>

void imap_humanize(struct buf *out, const char *s)
{
    bool pending_space = false, any = false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' || c == '\n')
            continue;
        if (c == ' ' || c == '\t') {
            pending_space = any;
            continue;
        }
        if (pending_space)
            buf_putc(out, ' ');
        pending_space = false;
        buf_putc(out, (char)c);
        any = true;
    }
}

static void write_human(struct buf *out, const char *s)
{
    if (!s) {
        buf_puts(out, "NIL");
        return;
    }
    struct buf h = BUF_INIT;
    imap_humanize(&h, s);
    imap_quote(out, h.data ? h.data : "", h.len);
    buf_free(&h);
}

void imap_address_list_write(struct buf *out, const char *value)
{
    struct mail_address_list list;
    if (!value) {
        buf_puts(out, "NIL");
        return;
    }
    address_list_parse(value, strlen(value), &list);
    if (list.count == 0) {
        buf_puts(out, "NIL");
        return;
    }
    buf_putc(out, '(');
    for (size_t i = 0; i < list.count; i++) {
        const struct mail_address *a = &list.items[i];
        buf_putc(out, '(');
        write_human(out, a->name);
        buf_putc(out, ' ');
        imap_nstring(out, a->route);
        buf_putc(out, ' ');
        imap_nstring(out, a->mailbox);
        buf_putc(out, ' ');
        imap_nstring(out, a->domain);
        buf_putc(out, ')');
    }
    buf_putc(out, ')');
    address_list_free(&list);
}

void imap_envelope_write(struct buf *out, const struct mime_part *part)
{
    char *const *f = part->envelope;
    imap_nstring(out, f[ENV_DATE]);
    buf_putc(out, ' ');
    write_human(out, f[ENV_SUBJECT]);
    buf_putc(out, ' ');
    imap_address_list_write(out, f[ENV_FROM]);
    /* §7.5.2: a missing Sender or Reply-To is the From */
    buf_putc(out, ' ');
    imap_address_list_write(out, f[ENV_SENDER] ? f[ENV_SENDER] : f[ENV_FROM]);
    buf_putc(out, ' ');
    imap_address_list_write(out, f[ENV_REPLY_TO] ? f[ENV_REPLY_TO] : f[ENV_FROM]);
    buf_putc(out, ' ');
    imap_address_list_write(out, f[ENV_TO]);
    buf_putc(out, ' ');
    imap_address_list_write(out, f[ENV_CC]);
    buf_putc(out, ' ');
    imap_address_list_write(out, f[ENV_BCC]);
    buf_putc(out, ' ');
    imap_nstring(out, f[ENV_IN_REPLY_TO]);
    buf_putc(out, ' ');
    imap_nstring(out, f[ENV_MESSAGE_ID]);
}
