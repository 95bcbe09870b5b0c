#include "mail/message-part.h"

#include "lib/buf.h"
#include "mail/mime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCATE_CHUNK (64 * 1024)

static struct mail_range header_range(const struct mime_part *p)
{
    return (struct mail_range){.start = p->phys_header_start,
                               .end = p->phys_body_start,
                               .vsize = p->body_start - p->header_start};
}

static struct mail_range body_range(const struct mime_part *p, bool known)
{
    if (!known)
        return (struct mail_range){.start = p->phys_body_start};
    return (struct mail_range){
        .start = p->phys_body_start, .end = p->phys_body_end, .vsize = p->body_size};
}

/* Everything asked for is known about p. */
static bool complete(const struct mime_part *p, bool header_only)
{
    if (!header_only)
        return p->ended;
    if (!p->header_ended)
        return false;
    if (!(p->flags & MIME_PART_RFC822))
        return true;
    return p->children && p->children->header_ended;
}

static void describe(const struct mime_part *p, bool header_only, struct mail_part_info *out)
{
    memset(out, 0, sizeof(*out));
    out->flags = p->flags;
    out->header = header_range(p);
    out->body = body_range(p, !header_only);
    if ((p->flags & MIME_PART_RFC822) && p->children) {
        const struct mime_part *m = p->children;
        out->has_message = true;
        out->message_header = header_range(m);
        out->message_body = body_range(m, !header_only);
    }
    if (p->encoding) {
        size_t i = 0;
        for (; p->encoding[i] && i < sizeof(out->encoding) - 1; i++) {
            char c = p->encoding[i];
            out->encoding[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        out->encoding[i] = '\0';
    }
}

int mail_part_locate(int fd, const uint32_t *path, size_t depth, bool header_only,
                     struct mail_part_info *out)
{
    struct mime_parser *mp = mime_parser_new(NULL);
    char *chunk = xmalloc(LOCATE_CHUNK);
    int r = 0;
    uint64_t pos = 0;
    const struct mime_part *found = NULL;
    for (;;) {
        ssize_t n = pread(fd, chunk, LOCATE_CHUNK, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0) {
            found = mime_part_find(mime_parser_finish(mp), path, depth);
            break;
        }
        pos += (uint64_t)n;
        mime_parser_feed(mp, chunk, (size_t)n);
        /* stop as soon as the part is complete: a header needs no more */
        const struct mime_part *p = mime_part_find(mime_parser_root(mp), path, depth);
        if (p && complete(p, header_only)) {
            found = p;
            break;
        }
    }
    if (r == 0 && found) {
        describe(found, header_only, out);
        r = 1;
    }
    free(chunk);
    mime_parser_free(mp);
    return r;
}
