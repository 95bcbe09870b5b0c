#include "mail/message-stream.h"

#include "mail/search-text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define STREAM_CHUNK (64 * 1024)
/* A field name longer than this matches no requested name (requested names
 * are refused beyond it by the FETCH parser). */
#define FIELD_NAME_MAX 256

enum filter_state {
    HF_LINE_START,
    HF_CR_AT_START, /* a CR began the line: the blank line, or a broken field */
    HF_NAME,
    HF_KEEP,
    HF_DROP,
    HF_DONE, /* after the blank line */
};

/* Owned by its user (a FETCH in progress); the fd is not. */
struct mail_stream {
    int fd;
    uint64_t pos, end;
    struct mail_stream_opts opts;
    char **fields; /* copies of opts.fields */
    bool finished;
    char prev; /* last byte before the current chunk, for CRLF */
    /* output made but not yet handed out */
    struct buf pend;
    size_t pend_off;
    struct buf crlf_tmp;
    char *chunk;
    /* header filter */
    enum filter_state hf;
    bool keep_field;
    char name[FIELD_NAME_MAX];
    size_t name_len;
    /* decoders */
    struct qp_decoder qp;
    struct b64_decoder b64;
};

struct mail_stream *mail_stream_new(int fd, uint64_t start, uint64_t end,
                                    const struct mail_stream_opts *opts)
{
    struct mail_stream *s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->pos = start;
    s->end = end > start ? end : start;
    s->opts = *opts;
    if (opts->n_fields) {
        s->fields = xcalloc(opts->n_fields, sizeof(*s->fields));
        for (size_t i = 0; i < opts->n_fields; i++)
            s->fields[i] = xstrdup(opts->fields[i]);
    }
    s->opts.fields = (const char *const *)s->fields;
    s->chunk = xmalloc(STREAM_CHUNK);
    s->hf = HF_LINE_START;
    return s;
}

void mail_stream_free(struct mail_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->opts.n_fields; i++)
        free(s->fields[i]);
    free(s->fields);
    buf_free(&s->pend);
    buf_free(&s->crlf_tmp);
    free(s->chunk);
    free(s);
}

bool mail_stream_is_plain(const struct mail_stream *s)
{
    return !s->opts.crlf && s->opts.decode == MAIL_DECODE_NONE && s->opts.filter == MAIL_HEADER_ALL;
}

uint64_t mail_stream_offset(const struct mail_stream *s)
{
    return s->pos;
}

/* LF without a CR before it becomes CRLF (RFC 9051 §2.2: lines end in CRLF). */
static void to_crlf(struct mail_stream *s, const char *in, size_t len, struct buf *out)
{
    buf_reserve(out, len + len / 8 + 16);
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '\n' || (i > 0 ? in[i - 1] : s->prev) == '\r')
            continue;
        buf_append(out, in + from, i - from);
        buf_putc(out, '\r');
        from = i;
    }
    buf_append(out, in + from, len - from);
    if (len)
        s->prev = in[len - 1];
}

static bool name_is(const struct mail_stream *s, const char *name)
{
    size_t n = s->name_len;
    while (n > 0 && (s->name[n - 1] == ' ' || s->name[n - 1] == '\t'))
        n--;
    return strlen(name) == n && strncasecmp(name, s->name, n) == 0;
}

static bool field_matches(const struct mail_stream *s)
{
    if (s->opts.filter == MAIL_HEADER_CTE_BINARY)
        return name_is(s, "Content-Transfer-Encoding");
    for (size_t i = 0; i < s->opts.n_fields; i++)
        if (name_is(s, s->opts.fields[i]))
            return true;
    return false;
}

/* The field whose name was just read is kept or not. */
static bool decide(struct mail_stream *s, bool has_name)
{
    bool match = has_name && field_matches(s);
    s->keep_field = s->opts.filter == MAIL_HEADER_ONLY ? match : !match;
    return s->keep_field;
}

/* The blank line is next: a decoded body's header says so last (where
 * Dovecot puts it), its own Content-Transfer-Encoding fields dropped. */
static void end_of_header(const struct mail_stream *s, struct buf *out)
{
    if (s->opts.filter == MAIL_HEADER_CTE_BINARY)
        buf_puts(out, "Content-Transfer-Encoding: binary\r\n");
}

/* HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 9051 §6.4.5.1): whole fields,
 * continuation lines with them, and the blank line. */
static void filter_header(struct mail_stream *s, const char *in, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        switch (s->hf) {
        case HF_DONE:
            break;
        case HF_LINE_START:
            if (c == ' ' || c == '\t') {
                /* continuation of the field before */
                s->hf = s->keep_field ? HF_KEEP : HF_DROP;
                if (s->keep_field)
                    buf_putc(out, c);
            } else if (c == '\n') {
                end_of_header(s, out);
                buf_putc(out, c);
                s->hf = HF_DONE;
            } else if (c == '\r') {
                s->hf = HF_CR_AT_START;
            } else {
                s->name[0] = c;
                s->name_len = 1;
                s->hf = HF_NAME;
            }
            break;
        case HF_CR_AT_START:
            if (c == '\n') {
                end_of_header(s, out);
                buf_puts(out, "\r\n");
                s->hf = HF_DONE;
                break;
            }
            s->name[0] = '\r';
            s->name_len = 1;
            s->hf = HF_NAME;
            i--; /* c starts the name's second byte */
            break;
        case HF_NAME:
            if (c == ':' || c == '\n' || s->name_len == sizeof(s->name)) {
                /* a line without a colon has no name and matches nothing */
                bool keep = decide(s, c == ':' && s->name_len < sizeof(s->name));

                if (keep) {
                    buf_append(out, s->name, s->name_len);
                    buf_putc(out, c);
                }
                s->hf = c == '\n' ? HF_LINE_START : keep ? HF_KEEP : HF_DROP;
            } else {
                s->name[s->name_len++] = c;
            }
            break;
        case HF_KEEP:
            buf_putc(out, c);
            if (c == '\n')
                s->hf = HF_LINE_START;
            break;
        case HF_DROP:
            if (c == '\n')
                s->hf = HF_LINE_START;
            break;
        }
    }
}

/* The bytes at the stream's position are header bytes that the filter sees. */
static bool in_header(const struct mail_stream *s)
{
    return s->opts.filter != MAIL_HEADER_ALL &&
           (s->opts.body_start == 0 || s->pos < s->opts.body_start);
}

/* Turns the stored bytes in[0..len) at the stream's position into output in
 * s->pend. */
static void transform(struct mail_stream *s, const char *in, size_t len)
{
    bool header = in_header(s);
    if (s->opts.crlf) {
        buf_reset(&s->crlf_tmp);
        to_crlf(s, in, len, &s->crlf_tmp);
        in = s->crlf_tmp.data ? s->crlf_tmp.data : "";
        len = s->crlf_tmp.len;
    }
    if (header)
        filter_header(s, in, len, &s->pend);
    else if (s->opts.decode == MAIL_DECODE_BASE64)
        b64_decode(&s->b64, in, len, &s->pend);
    else if (s->opts.decode == MAIL_DECODE_QUOTED_PRINTABLE)
        qp_decode(&s->qp, in, len, &s->pend);
    else
        buf_append(&s->pend, in, len);
}

/* The end of the range: what the filter or decoder still holds. */
static void finish(struct mail_stream *s)
{
    if (s->opts.filter != MAIL_HEADER_ALL && s->opts.body_start == 0) {
        if (s->hf == HF_NAME && decide(s, false))
            buf_append(&s->pend, s->name, s->name_len);
        else if (s->hf == HF_CR_AT_START && decide(s, false))
            buf_putc(&s->pend, '\r');
    } else if (s->opts.decode == MAIL_DECODE_QUOTED_PRINTABLE) {
        /* a broken escape at the very end is kept as written */
        buf_append(&s->pend, s->qp.pending, s->qp.npending);
        s->qp.npending = 0;
    }
    s->finished = true;
}

/* Makes more output in s->pend: 1, 0 at the end, or a negative errno. */
static int fill(struct mail_stream *s)
{
    buf_reset(&s->pend);
    s->pend_off = 0;
    while (s->pend.len == 0) {
        if (s->pos >= s->end) {
            if (s->finished)
                return 0;
            finish(s);
            break;
        }
        uint64_t want = s->end - s->pos;
        if (in_header(s) && s->opts.body_start && s->opts.body_start - s->pos < want)
            want = s->opts.body_start - s->pos; /* a chunk is header or body */
        ssize_t n = pread(s->fd, s->chunk, want < STREAM_CHUNK ? (size_t)want : STREAM_CHUNK,
                          (off_t)s->pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            /* the file is shorter than its index said: end here */
            s->end = s->pos;
            continue;
        }
        transform(s, s->chunk, (size_t)n);
        s->pos += (uint64_t)n;
    }
    if (s->opts.nul_to_0x80)
        for (size_t i = 0; i < s->pend.len; i++)
            if (s->pend.data[i] == '\0')
                s->pend.data[i] = (char)0x80;
    return s->pend.len > 0;
}

int64_t mail_stream_read(struct mail_stream *s, struct buf *out, size_t max)
{
    size_t done = 0;
    while (done < max) {
        size_t avail = s->pend.len - s->pend_off;
        if (avail == 0) {
            int r = fill(s);
            if (r < 0)
                return r;
            if (r == 0)
                break;
            continue;
        }
        size_t n = avail < max - done ? avail : max - done;
        buf_append(out, s->pend.data + s->pend_off, n);
        s->pend_off += n;
        done += n;
    }
    return (int64_t)done;
}

int mail_stream_skip(struct mail_stream *s, uint64_t n)
{
    while (n > 0) {
        size_t avail = s->pend.len - s->pend_off;
        if (avail > 0) {
            size_t k = avail < n ? avail : (size_t)n;
            s->pend_off += k;
            n -= k;
            continue;
        }
        if (mail_stream_is_plain(s)) {
            uint64_t left = s->end - s->pos;
            s->pos += n < left ? n : left;
            return 0;
        }
        int r = fill(s);
        if (r <= 0)
            return r;
    }
    return 0;
}

int mail_stream_measure(int fd, uint64_t start, uint64_t end, const struct mail_stream_opts *opts,
                        uint64_t window_start, uint64_t window_end, uint64_t *size,
                        bool *window_has_nul)
{
    struct mail_stream *s = mail_stream_new(fd, start, end, opts);
    uint64_t total = 0;
    bool nul = false;
    int r;
    while ((r = fill(s)) > 0) {
        /* the part of this piece inside the window */
        uint64_t from = total, to = total + s->pend.len;
        uint64_t a = from > window_start ? from : window_start;
        uint64_t b = to < window_end ? to : window_end;
        if (!nul && a < b && memchr(s->pend.data + (a - from), '\0', (size_t)(b - a)))
            nul = true;
        total = to;
    }
    mail_stream_free(s);
    if (r < 0)
        return r;
    *size = total;
    if (window_has_nul)
        *window_has_nul = nul;
    return 0;
}

int mail_range_has_nul(int fd, uint64_t start, uint64_t end)
{
    char *chunk = xmalloc(STREAM_CHUNK);
    int r = 0;
    while (start < end) {
        uint64_t want = end - start;
        ssize_t n =
            pread(fd, chunk, want < STREAM_CHUNK ? (size_t)want : STREAM_CHUNK, (off_t)start);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (memchr(chunk, '\0', (size_t)n)) {
            r = 1;
            break;
        }
        start += (uint64_t)n;
    }
    free(chunk);
    return r;
}
