/* mbox reader: see mbox.h for the rules (RFC 4155, mboxrd, mboxcl). */
#include "mail/mbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct mbox_reader {
    const char *data;
    size_t len;
    size_t pos; /* the start of the next From_ line */
    void *map;  /* the mapping when we own one */
    size_t map_len;
    struct buf unquoted; /* the current message when it needed unquoting */
};

static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool has_month_word(const char *s, size_t len)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        if (i > 0 && isalpha((unsigned char)s[i - 1]))
            continue;
        if (i + 3 < len && isalpha((unsigned char)s[i + 3]))
            continue;
        for (size_t m = 0; m < 12; m++)
            if (strncasecmp(s + i, month_names[m], 3) == 0)
                return true;
    }
    return false;
}

static bool has_time_of_day(const char *s, size_t len)
{
    for (size_t i = 1; i + 2 < len; i++)
        if (s[i] == ':' && isdigit((unsigned char)s[i - 1]) && isdigit((unsigned char)s[i + 1]) &&
            isdigit((unsigned char)s[i + 2]))
            return true;
    return false;
}

/* Splits "From SENDER REST" into the REST (the date part), trimmed. */
static bool split_from_line(const char *line, size_t len, const char **rest, size_t *rest_len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len < 5 || memcmp(line, "From ", 5) != 0)
        return false;
    size_t i = 5;
    while (i < len && line[i] == ' ')
        i++;
    size_t sender = i;
    while (i < len && line[i] != ' ' && line[i] != '\t')
        i++;
    if (i == sender)
        return false;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    *rest = line + i;
    *rest_len = len - i;
    return true;
}

int mbox_is_from_line(const char *line, size_t len)
{
    const char *rest;
    size_t rest_len;
    if (!split_from_line(line, len, &rest, &rest_len))
        return 0;
    /* "From sender" alone, or a ctime-like date: "Mon Jun  3 12:50:27 1996". */
    return rest_len == 0 || (has_time_of_day(rest, rest_len) && has_month_word(rest, rest_len));
}

static time_t from_line_date(const char *line, size_t len)
{
    const char *rest;
    size_t rest_len;
    if (!split_from_line(line, len, &rest, &rest_len) || rest_len == 0 || rest_len > 100)
        return 0;
    char tmp[128];
    memcpy(tmp, rest, rest_len);
    tmp[rest_len] = '\0';
    static const char *const formats[] = {"%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S %z %Y",
                                          "%a %b %d %H:%M %Y"};
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(tmp, formats[f], &tm);
        if (end && (*end == '\0' || *end == ' ')) {
            long off = tm.tm_gmtoff;
            time_t t = timegm(&tm);
            return t == (time_t)-1 ? 0 : t - off;
        }
    }
    return 0;
}

static size_t line_end(const struct mbox_reader *r, size_t p)
{
    const char *nl = memchr(r->data + p, '\n', r->len - p);
    return nl ? (size_t)(nl - r->data) : r->len;
}

/* Is there a From_ separator line at p? */
static bool separator_at(const struct mbox_reader *r, size_t p)
{
    if (p >= r->len)
        return false;
    size_t e = line_end(r, p);
    return mbox_is_from_line(r->data + p, e - p);
}

static int start(struct mbox_reader *r, struct buf *err)
{
    /* A byte order mark is not part of the first From_ line. */
    if (r->len >= 3 && memcmp(r->data, "\xEF\xBB\xBF", 3) == 0)
        r->pos = 3;
    if (r->len - r->pos < 5 || memcmp(r->data + r->pos, "From ", 5) != 0) {
        buf_puts(err, "not an mbox file: it does not start with a \"From \" line");
        return -1;
    }
    return 0;
}

int mbox_open_mem(const char *data, size_t len, struct mbox_reader **out, struct buf *err)
{
    struct mbox_reader *r = xcalloc(1, sizeof(*r));
    r->data = data;
    r->len = len;
    if (start(r, err) < 0) {
        mbox_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

int mbox_open(const char *path, struct mbox_reader **out, struct buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        buf_printf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        buf_printf(err, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    struct mbox_reader *r = xcalloc(1, sizeof(*r));
    if (st.st_size > 0) {
        r->map_len = (size_t)st.st_size;
        r->map = mmap(NULL, r->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (r->map == MAP_FAILED) {
            buf_printf(err, "%s: %s", path, strerror(errno));
            r->map = NULL;
            close(fd);
            mbox_close(r);
            return -1;
        }
        madvise(r->map, r->map_len, MADV_SEQUENTIAL);
        r->data = r->map;
        r->len = r->map_len;
    } else {
        r->data = "";
    }
    close(fd);
    if (start(r, err) < 0) {
        buf_printf(err, " (%s)", path);
        mbox_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

/* The value of a Content-Length header among the headers [p, hdr_end), or -1. */
static long content_length(const struct mbox_reader *r, size_t p, size_t hdr_end)
{
    while (p < hdr_end) {
        size_t e = line_end(r, p);
        if (e - p > 15 && strncasecmp(r->data + p, "Content-Length:", 15) == 0) {
            long v = 0;
            size_t i = p + 15;
            while (i < e && (r->data[i] == ' ' || r->data[i] == '\t'))
                i++;
            if (i == e || !isdigit((unsigned char)r->data[i]))
                return -1;
            for (; i < e && isdigit((unsigned char)r->data[i]); i++) {
                if (v > (long)(r->len / 10))
                    return -1;
                v = v * 10 + (r->data[i] - '0');
            }
            return v;
        }
        p = e + 1;
    }
    return -1;
}

/* Where the headers starting at p end (the start of the body), or 0 if they don't. */
static size_t body_start(const struct mbox_reader *r, size_t p)
{
    while (p < r->len) {
        size_t e = line_end(r, p);
        if (e == p || (e == p + 1 && r->data[p] == '\r'))
            return e < r->len ? e + 1 : e;
        p = e + 1;
    }
    return 0;
}

/* Copies [p, p+len) undoing mboxrd quoting of ">From " lines, when there is any. */
static void unquote(struct mbox_reader *r, struct mbox_message *msg)
{
    const char *s = msg->data, *end = s + msg->len;
    bool any = false;
    for (const char *l = s; l < end;) {
        const char *q = l;
        while (q < end && *q == '>')
            q++;
        if (q > l && end - q >= 5 && memcmp(q, "From ", 5) == 0) {
            any = true;
            break;
        }
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        l = nl ? nl + 1 : end;
    }
    if (!any)
        return;
    buf_reset(&r->unquoted);
    for (const char *l = s; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl + 1 : end;
        const char *q = l;
        while (q < le && *q == '>')
            q++;
        if (q > l && le - q >= 5 && memcmp(q, "From ", 5) == 0)
            l++;
        buf_append(&r->unquoted, l, (size_t)(le - l));
        l = le;
    }
    msg->data = r->unquoted.data;
    msg->len = r->unquoted.len;
}

int mbox_next(struct mbox_reader *r, struct mbox_message *msg)
{
    if (r->pos >= r->len)
        return 0;
    size_t from = r->pos, from_end = line_end(r, from);
    size_t begin = from_end < r->len ? from_end + 1 : from_end;
    size_t end = 0, next = 0;

    /* mboxcl: trust Content-Length when the file agrees with it (a separator,
     * or the end of the file, right where it says the body ends). */
    size_t body = body_start(r, begin);
    if (body > 0) {
        long cl = content_length(r, begin, body);
        if (cl >= 0 && (size_t)cl <= r->len - body) {
            size_t cand = body + (size_t)cl;
            if (cand == r->len) {
                end = next = cand;
            } else if (separator_at(r, cand)) {
                end = next = cand;
            } else if (r->data[cand] == '\n' && separator_at(r, cand + 1)) {
                end = cand;
                next = cand + 1;
            } else if (r->len - cand >= 2 && memcmp(r->data + cand, "\r\n", 2) == 0 &&
                       separator_at(r, cand + 2)) {
                end = cand;
                next = cand + 2;
            }
        }
    }
    if (next == 0) {
        /* The next line that is a From_ separator. */
        size_t p = begin;
        end = r->len;
        while (p < r->len) {
            const char *hit = memmem(r->data + p, r->len - p, "\nFrom ", 6);
            if (!hit)
                break;
            size_t line = (size_t)(hit - r->data) + 1;
            if (line >= begin && separator_at(r, line)) {
                end = line;
                break;
            }
            p = line;
        }
        next = end;
        /* The blank line before a From_ line (or at the end) is the mbox's. */
        if (end - begin >= 2 && memcmp(r->data + end - 2, "\n\n", 2) == 0)
            end -= 1;
        else if (end - begin >= 4 && memcmp(r->data + end - 4, "\r\n\r\n", 4) == 0)
            end -= 2;
    }
    msg->data = r->data + begin;
    msg->len = end - begin;
    msg->offset = from;
    msg->received = from_line_date(r->data + from, from_end - from);
    r->pos = next;
    unquote(r, msg);
    return 1;
}

size_t mbox_position(const struct mbox_reader *r)
{
    return r->pos;
}

size_t mbox_size(const struct mbox_reader *r)
{
    return r->len;
}

void mbox_close(struct mbox_reader *r)
{
    if (!r)
        return;
    if (r->map)
        munmap(r->map, r->map_len);
    buf_free(&r->unquoted);
    free(r);
}
