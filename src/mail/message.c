#include "mail/message.h"

#include "mail/header.h"
#include "mail/imap-bodystructure.h"
#include "mail/imap-envelope.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"
#include "mail/search-text.h"

#include "lib/number.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HEADER_FIELDS_MAX (64 * 1024)
#define SEARCH_HEADERS_MAX (64 * 1024)

/* Owns the MIME parser and the capped texts until finish hands them out. */
struct mail_parser {
    struct mime_parser *mime;
    struct buf header_fields, search_headers, search_body;
    struct search_text *st;
    struct mime_part *text_part; /* the part whose body feeds st, or NULL */
    size_t size;
};

static void on_header(void *ctx, struct mime_part *part, const char *raw, size_t len)
{
    struct mail_parser *p = ctx;
    if (!part->parent) {
        size_t room = HEADER_FIELDS_MAX - p->header_fields.len;
        buf_append(&p->header_fields, raw, len < room ? len : room);
    }
    /* SEARCH TEXT looks at every header, "including MIME header fields"
     * (RFC 9051 §6.4.4), an attached message's too; BODY at none (as
     * Dovecot does) */
    const char *name, *value;
    size_t nlen, vlen;
    if (p->search_headers.len < SEARCH_HEADERS_MAX &&
        header_split(raw, len, &name, &nlen, &value, &vlen)) {
        char *v = header_unfold(value, vlen);
        buf_append(&p->search_headers, name, nlen);
        buf_puts(&p->search_headers, ": ");
        rfc2047_decode(v, strlen(v), &p->search_headers);
        buf_putc(&p->search_headers, '\n');
        free(v);
        if (p->search_headers.len > SEARCH_HEADERS_MAX)
            p->search_headers.len = SEARCH_HEADERS_MAX;
    }
}

/* The parts SEARCH looks into (RFC 9051 §6.4.4 lets a server leave out the
 * terminal parts other than text and message ones): text, and the message
 * parts that are text themselves (delivery-status, disposition-notification,
 * feedback-report, rfc822-headers); a message/rfc822's own parts are parts. */
static bool searchable(const struct mime_part *part)
{
    if (mime_part_is_text(part))
        return true;
    return !(part->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822)) && part->type &&
           strcasecmp(part->type, "message") == 0;
}

static void on_header_end(void *ctx, struct mime_part *part)
{
    struct mail_parser *p = ctx;
    if (!part->parent && p->header_fields.len < HEADER_FIELDS_MAX)
        buf_puts(&p->header_fields, "\r\n");
    if (!searchable(part))
        return; /* attachments other than text are not searched */
    const char *charset = mime_param_get(part->params, part->nparams, "charset");
    bool html = part->subtype && strcasecmp(part->subtype, "html") == 0;
    search_text_begin(p->st, part->encoding, charset, html);
    p->text_part = part;
}

static void on_body(void *ctx, struct mime_part *part, const char *data, size_t len)
{
    struct mail_parser *p = ctx;
    if (part == p->text_part)
        search_text_feed(p->st, data, len);
}

static void on_part_end(void *ctx, struct mime_part *part)
{
    struct mail_parser *p = ctx;
    if (part == p->text_part) {
        search_text_end(p->st);
        p->text_part = NULL;
    }
}

struct mail_parser *mail_parser_new(void)
{
    struct mail_parser *p = xcalloc(1, sizeof(*p));
    struct mime_callbacks cb = {on_header, on_header_end, on_body, on_part_end, p};
    p->mime = mime_parser_new(&cb);
    p->st = search_text_new(&p->search_body, SEARCH_TEXT_MAX);
    return p;
}

void mail_parser_feed(struct mail_parser *p, const void *data, size_t len)
{
    p->size += len;
    mime_parser_feed(p->mime, data, len);
}

static int month_index(const char *s)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, months + i * 3, 3) == 0)
            return i;
    return -1;
}

/* The digits at *p, moving past them: their count, 0 when there are none or
 * the number is too big. */
static size_t read_digits(const char **p, long *out)
{
    uint64_t v;
    const char *end;
    if (!str_parse_uint64(*p, &v, &end) || v > LONG_MAX)
        return 0;
    *out = (long)v;
    size_t n = (size_t)(end - *p);
    *p = end;
    return n;
}

time_t mail_parse_date(const char *s)
{
    int zone;
    return mail_parse_date_zone(s, &zone);
}

/* RFC 5322 §3.3 date-time, with the obsolete zones of §4.3; 0 when it
 * cannot be read. */
time_t mail_parse_date_zone(const char *s, int *zone_seconds)
{
    *zone_seconds = 0;
    if (!s)
        return 0;
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (isalpha((unsigned char)*p)) { /* day-of-week "," */
        while (isalpha((unsigned char)*p))
            p++;
        while (*p == ' ' || *p == ',')
            p++;
    }
    long day, year, hh, mm, ss = 0;
    if (!read_digits(&p, &day) || day < 1 || day > 31)
        return 0;
    while (*p == ' ' || *p == '-')
        p++;
    int mon = month_index(p);
    if (mon < 0)
        return 0;
    while (isalpha((unsigned char)*p))
        p++;
    while (*p == ' ' || *p == '-')
        p++;
    size_t year_digits = read_digits(&p, &year);
    if (year_digits == 0)
        return 0;
    if (year_digits <= 2) /* §4.3: two-digit years */
        year += year < 50 ? 2000 : 1900;
    else if (year_digits == 3)
        year += 1900;
    while (*p == ' ')
        p++;
    if (!read_digits(&p, &hh) || *p != ':')
        return 0;
    p++;
    if (!read_digits(&p, &mm))
        return 0;
    if (*p == ':') {
        p++;
        read_digits(&p, &ss);
    }
    while (*p == ' ')
        p++;
    long offset = 0;
    if (*p == '+' || *p == '-') {
        const char *digits = p + 1;
        long z;
        if (read_digits(&digits, &z) == 4)
            offset = (z / 100) * 3600 + (z % 100) * 60;
        if (*p == '-')
            offset = -offset;
    } else {
        static const struct {
            const char *name;
            int hours;
        } zones[] = {{"EDT", -4}, {"EST", -5}, {"CDT", -5}, {"CST", -6},
                     {"MDT", -6}, {"MST", -7}, {"PDT", -7}, {"PST", -8}};
        for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
            if (strncasecmp(p, zones[i].name, 3) == 0)
                offset = zones[i].hours * 3600L;
    }
    if (hh > 23 || mm > 59 || ss > 60 || year < 1970 || year > 9999)
        return 0;
    struct tm tm = {0};
    tm.tm_year = (int)(year - 1900);
    tm.tm_mon = mon;
    tm.tm_mday = (int)day;
    tm.tm_hour = (int)hh;
    tm.tm_min = (int)mm;
    tm.tm_sec = (int)ss;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    *zone_seconds = (int)offset;
    return t - offset;
}

void mail_parser_finish(struct mail_parser *p, struct mail_summary *out)
{
    struct mime_part *root = mime_parser_finish(p->mime);
    if (p->text_part) {
        search_text_end(p->st);
        p->text_part = NULL;
    }
    struct buf b = BUF_INIT;
    memset(out, 0, sizeof(*out));
    /* The writers give the inside of the list, as doveadm prints it; a FETCH
     * response needs the parenthesized form (RFC 9051 §7.5.2). */
    buf_putc(&b, '(');
    imap_envelope_write(&b, root);
    buf_putc(&b, ')');
    out->envelope = buf_steal(&b);
    buf_putc(&b, '(');
    imap_bodystructure_write(&b, root, false);
    buf_putc(&b, ')');
    out->body = buf_steal(&b);
    buf_putc(&b, '(');
    imap_bodystructure_write(&b, root, true);
    buf_putc(&b, ')');
    out->bodystructure = buf_steal(&b);
    out->sent_date = mail_parse_date(root->envelope[ENV_DATE]);
    out->header_size = root->header_phys_size;
    out->size = p->size;
    out->header_fields = buf_steal(&p->header_fields);
    out->search_headers = buf_steal(&p->search_headers);
    out->search_body = buf_steal(&p->search_body);
}

void mail_parser_free(struct mail_parser *p)
{
    if (!p)
        return;
    mime_parser_free(p->mime);
    search_text_free(p->st);
    buf_free(&p->header_fields);
    buf_free(&p->search_headers);
    buf_free(&p->search_body);
    free(p);
}

int mail_parse_fd(int fd, struct mail_summary *out)
{
    struct mail_parser *p = mail_parser_new();
    char *chunk = xmalloc(64 * 1024);
    for (;;) {
        ssize_t n = read(fd, chunk, 64 * 1024);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            free(chunk);
            mail_parser_free(p);
            memset(out, 0, sizeof(*out));
            return -err;
        }
        if (n == 0)
            break;
        mail_parser_feed(p, chunk, (size_t)n);
    }
    free(chunk);
    mail_parser_finish(p, out);
    mail_parser_free(p);
    return 0;
}

void mail_summary_free(struct mail_summary *s)
{
    if (!s)
        return;
    free(s->envelope);
    free(s->body);
    free(s->bodystructure);
    free(s->header_fields);
    free(s->search_headers);
    free(s->search_body);
    memset(s, 0, sizeof(*s));
}
