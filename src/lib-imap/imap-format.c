#include "lib-imap/imap-format.h"

#include "lib-imap/imap-arg.h"

/* RFC 9051 does not fix an order; this is Dovecot's, which clients' tests see. */
static const struct {
    unsigned bit;
    const char *name;
} flag_names[] = {{IMAP_FLAG_ANSWERED, "\\Answered"}, {IMAP_FLAG_FLAGGED, "\\Flagged"},
                  {IMAP_FLAG_DELETED, "\\Deleted"},   {IMAP_FLAG_SEEN, "\\Seen"},
                  {IMAP_FLAG_DRAFT, "\\Draft"},       {IMAP_FLAG_RECENT, "\\Recent"}};

const char *imap_flag_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (flag_names[i].bit == bit)
            return flag_names[i].name;
    return NULL;
}

void imap_write_flags(struct buf *out, unsigned system, const char *const *keywords, size_t n)
{
    bool first = true;
    buf_putc(out, '(');
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (system & flag_names[i].bit) {
            buf_printf(out, "%s%s", first ? "" : " ", flag_names[i].name);
            first = false;
        }
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%s%s", first ? "" : " ", keywords[i]);
        first = false;
    }
    buf_putc(out, ')');
}

void imap_write_datetime(struct buf *out, time_t t, int tz_minutes)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t local = t + (time_t)tz_minutes * 60;
    struct tm tm;
    gmtime_r(&local, &tm);
    int tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
    buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday, months[tm.tm_mon],
               tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, tz_minutes < 0 ? '-' : '+',
               tz / 60, tz % 60);
}
