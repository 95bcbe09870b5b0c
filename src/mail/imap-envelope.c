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

static void write_addresses(struct buf *out, const struct mail_address_list *list)
{
    if (list->count == 0) {
        buf_puts(out, "NIL");
        return;
    }
    buf_putc(out, '(');
    for (size_t i = 0; i < list->count; i++) {
        const struct mail_address *a = &list->items[i];
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
}

void imap_address_list_write(struct buf *out, const char *value)
{
    struct mail_address_list list;
    if (!value) {
        buf_puts(out, "NIL");
        return;
    }
    address_list_parse(value, strlen(value), &list);
    write_addresses(out, &list);
    address_list_free(&list);
}

/* A part's addresses of one address field (From .. Bcc). */
static const struct mail_address_list *addresses(const struct mime_part *part,
                                                 enum envelope_field field)
{
    return &part->addresses[field - ENV_ADDRESS_FIRST];
}

void imap_envelope_write(struct buf *out, const struct mime_part *part)
{
    char *const *f = part->envelope;
    const struct mail_address_list *from = addresses(part, ENV_FROM),
                                   *sender = addresses(part, ENV_SENDER),
                                   *reply_to = addresses(part, ENV_REPLY_TO);
    imap_nstring(out, f[ENV_DATE]);
    buf_putc(out, ' ');
    write_human(out, f[ENV_SUBJECT]);
    buf_putc(out, ' ');
    write_addresses(out, from);
    /* §7.5.2: a missing Sender or Reply-To is the From; so is one without
     * any address (Dovecot) */
    buf_putc(out, ' ');
    write_addresses(out, sender->count ? sender : from);
    buf_putc(out, ' ');
    write_addresses(out, reply_to->count ? reply_to : from);
    buf_putc(out, ' ');
    write_addresses(out, addresses(part, ENV_TO));
    buf_putc(out, ' ');
    write_addresses(out, addresses(part, ENV_CC));
    buf_putc(out, ' ');
    write_addresses(out, addresses(part, ENV_BCC));
    buf_putc(out, ' ');
    imap_nstring(out, f[ENV_IN_REPLY_TO]);
    buf_putc(out, ' ');
    imap_nstring(out, f[ENV_MESSAGE_ID]);
}
