/* FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9, §7.5.2), with BINARY,
 * BINARY.PEEK and BINARY.SIZE (RFC 3516), the IMAP4rev1 items RFC822,
 * RFC822.HEADER and RFC822.TEXT (RFC 3501 §6.4.5), and CONDSTORE's MODSEQ
 * item and CHANGEDSINCE modifier (RFC 7162 §3.1.4, §3.1.5).
 *
 * The answer is written in slices: each store job writes at most about
 * FETCH_SLICE bytes of responses, then the command waits until the output
 * has drained below the low watermark before it asks for the next slice. A
 * message body is read from its file a chunk at a time, and a slice may end
 * in the middle of its literal; on a plaintext connection a large literal
 * that needs no conversion is sent straight from the file (sendfile). So a
 * FETCH of 100,000 messages or of a 50 MB message holds about one slice.
 *
 * Sequence numbers are resolved inside the first job, against the session's
 * view of the mailbox, which does not change while the command runs. */
#include "imap/imap-msgset.h"
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-format.h"
#include "lib-imap/imap-quote.h"
#include "lib-imap/imap-seqset.h"
#include "lib/log.h"
#include "mail/message-part.h"
#include "mail/message-stream.h"
#include "mail/message.h"
#include "mail/mime.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Output one job writes before the command lets the client catch up: with
 * the output's high watermark, what a FETCH holds at once (the slice is
 * copied into the connection's buffer, whose chunks are powers of two: a
 * slice a little under 128 KiB takes one of 128 KiB). */
#define FETCH_SLICE (96u * 1024u)
/* Messages whose records one store_fetch_begin reads. */
#define FETCH_BATCH 512
/* With \Seen to set, fewer: the flag is set on a batch before its messages
 * go out, and a slice holds few bodies. */
#define FETCH_SEEN_BATCH 16
/* A literal at least this long goes out by sendfile when it can. */
#define SENDFILE_MIN (64u * 1024u)
/* HEADER.FIELDS: names per list, and bytes per name (a field name longer
 * than mail_stream's limit could never match). */
#define FIELDS_MAX 256
#define FIELD_NAME_LEN_MAX 255

enum item_kind {
    ITEM_UID,
    ITEM_FLAGS,
    ITEM_INTERNALDATE,
    ITEM_RFC822_SIZE,
    ITEM_ENVELOPE,
    ITEM_BODY, /* BODY without a section: the non-extensible BODYSTRUCTURE */
    ITEM_BODYSTRUCTURE,
    ITEM_MODSEQ,
    ITEM_SECTION,     /* BODY[..], BODY.PEEK[..], BINARY[..], RFC822, RFC822.HEADER, RFC822.TEXT */
    ITEM_BINARY_SIZE, /* BINARY.SIZE[..] */
};

enum section_text {
    SECTION_BODY, /* no text part specifier: the whole message, or a part's body */
    SECTION_HEADER,
    SECTION_FIELDS,
    SECTION_FIELDS_NOT,
    SECTION_TEXT,
    SECTION_MIME,
};

/* One data item asked for; owned by its fetch_state. */
struct fetch_item {
    enum item_kind kind;
    char *name; /* as the response names it: "BODY[1.MIME]", "RFC822.HEADER" */
    bool binary, peek;
    uint32_t *path; /* section-part numbers */
    size_t depth;
    enum section_text text;
    char **fields;
    size_t n_fields;
    bool partial;
    uint64_t origin, count;
};

/* A FETCH in progress: owned by the store job that runs it, or by the
 * command between jobs (freed by the command's arena cleanup or the job's
 * free_data, whichever holds it when the session ends). */
struct fetch_state {
    struct fetch_item *items;
    size_t n_items;
    unsigned want; /* store_fetch_want bits */
    bool uid_set;  /* the set is UIDs (UID FETCH, or "$"), else sequence numbers */
    bool set_seen; /* a body item without .PEEK, in a read-write mailbox */
    bool has_flags_item, has_uid_item, has_modseq_item;
    /* RFC 7162 §3.1: CONDSTORE is on; a message this FETCH gave \Seen goes
     * out with its UID and MODSEQ too (§3.2.4) */
    bool condstore;
    /* UID FETCH ... (CHANGEDSINCE n VANISHED), RFC 7162 §3.2.6 */
    bool vanished;
    bool plaintext; /* the connection may use sendfile */
    uint64_t changedsince;
    struct imap_seq_range *ranges;
    size_t n_ranges;
    /* progress: the set is resolved, then walked along the view */
    bool started;
    size_t view_pos, range_pos;
    /* UIDs this FETCH gave \Seen to, whose FLAGS go out with them */
    struct store_uids seen_changed;
    /* a message whose response a slice ended in */
    bool in_message;
    uint32_t seq, uid;
    size_t next_item;
    bool first_in_message;
    size_t message_start; /* where its response starts in the slice */
    /* its file, open while its items are written */
    int msg_fd;
    uint64_t msg_file_size;
    bool msg_crlf;       /* the file has bare LFs: its bytes go out converted */
    bool msg_size_known; /* the index's sizes are the file's */
    uint64_t msg_vsize;
    /* the literal being written */
    struct mail_stream *lit;
    uint64_t lit_left;
    bool lit_padding; /* the file gave less than announced: spaces fill the rest */
    bool no_sendfile;
    /* for the loop: these bytes of msg_fd go out from the file */
    bool sendfile;
    uint64_t sf_offset, sf_len;
    /* how it ended */
    bool done, bad_set, unknown_cte, expunged, read_failed;
};

/* A job's data: the state it carries, taken back by the command. */
struct fetch_job {
    struct fetch_state *st;
};

/* In the command's arena. */
struct fetch_cmd {
    struct fetch_state *st; /* NULL while a job holds it */
};

static void close_message(struct fetch_state *st)
{
    mail_stream_free(st->lit);
    st->lit = NULL;
    st->lit_left = 0;
    st->lit_padding = false;
    if (st->msg_fd >= 0)
        close(st->msg_fd);
    st->msg_fd = -1;
    st->in_message = false;
}

static void free_state(struct fetch_state *st)
{
    if (!st)
        return;
    close_message(st);
    for (size_t i = 0; i < st->n_items; i++) {
        struct fetch_item *it = &st->items[i];
        free(it->name);
        free(it->path);
        for (size_t k = 0; k < it->n_fields; k++)
            free(it->fields[k]);
        free(it->fields);
    }
    free(st->items);
    free(st->ranges);
    store_uids_free(&st->seen_changed);
    free(st);
}

static void free_job(void *arg)
{
    struct fetch_job *job = arg;
    free_state(job->st);
    free(job);
}

static void cmd_cleanup(void *arg)
{
    struct fetch_cmd *fc = arg;
    free_state(fc->st);
    fc->st = NULL;
}

/* ---- the data items (RFC 9051 §9 fetch-att) ---- */

static bool parse_u64(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* header-list: "(" header-fld-name *(SP header-fld-name) ")", each an atom or
 * a quoted string; the response repeats them upper-cased. */
static bool parse_header_list(const char **p, struct fetch_item *it, struct buf *name,
                              const char **why)
{
    const char *s = *p;
    if (*s != '(') {
        *why = "Expected a list of header field names.";
        return false;
    }
    s++;
    buf_putc(name, '(');
    struct buf field = BUF_INIT;
    bool ok = false;
    it->fields = xcalloc(FIELDS_MAX, sizeof(*it->fields));
    for (;;) {
        buf_reset(&field);
        bool quoted = *s == '"';
        if (quoted) {
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                    s++;
                buf_putc(&field, *s);
            }
            if (*s != '"')
                break;
            s++;
        } else {
            for (; *s && *s != ' ' && *s != ')' && *s != '(' && *s != '"' && *s != '{'; s++)
                buf_putc(&field, *s);
        }
        if (field.len == 0 || field.len > FIELD_NAME_LEN_MAX || it->n_fields == FIELDS_MAX ||
            memchr(field.data, ':', field.len))
            break;
        for (size_t i = 0; i < field.len; i++)
            if (field.data[i] >= 'a' && field.data[i] <= 'z')
                field.data[i] = (char)(field.data[i] - 32);
        if (it->n_fields > 0)
            buf_putc(name, ' ');
        if (quoted)
            imap_quote(name, field.data, field.len);
        else
            buf_append(name, field.data, field.len);
        it->fields[it->n_fields++] = xstrndup(field.data, field.len);
        if (*s == ')') {
            s++;
            ok = true;
            break;
        }
        if (*s != ' ' || s[1] == ' ' || s[1] == ')')
            break;
        s++;
    }
    buf_free(&field);
    if (!ok) {
        *why = "Invalid list of header field names.";
        return false;
    }
    buf_putc(name, ')');
    *p = s;
    return true;
}

/* section-spec or section-part, between the brackets (RFC 9051 §9). */
static bool parse_section(const char *s, const char *end, bool binary, struct fetch_item *it,
                          struct buf *name, const char **why)
{
    *why = binary ? "Invalid BINARY[..] section." : "Invalid BODY[..] section.";
    it->path = xcalloc(MIME_DEPTH_MAX, sizeof(*it->path));
    while (s < end && *s >= '0' && *s <= '9') {
        uint64_t n;
        if (*s == '0' || !parse_u64(&s, UINT32_MAX, &n) || it->depth == MIME_DEPTH_MAX)
            return false;
        it->path[it->depth++] = (uint32_t)n;
        buf_printf(name, "%s%llu", it->depth > 1 ? "." : "", (unsigned long long)n);
        if (s == end)
            return true;
        if (*s != '.')
            return false;
        s++;
        if (s == end)
            return false;
        if (*s < '0' || *s > '9')
            break;
    }
    if (s == end)
        return true; /* [] */
    if (binary)
        return false; /* section-binary is part numbers only */
    if (it->depth > 0)
        buf_putc(name, '.');
    size_t rest = (size_t)(end - s);
    if (rest == 4 && starts_with_ci(s, "TEXT")) {
        it->text = SECTION_TEXT;
        buf_puts(name, "TEXT");
    } else if (rest == 4 && starts_with_ci(s, "MIME")) {
        /* RFC 9051 §6.4.5.1: MIME needs a part number before it */
        if (it->depth == 0)
            return false;
        it->text = SECTION_MIME;
        buf_puts(name, "MIME");
    } else if (rest == 6 && starts_with_ci(s, "HEADER")) {
        it->text = SECTION_HEADER;
        buf_puts(name, "HEADER");
    } else if (starts_with_ci(s, "HEADER.FIELDS.NOT ") || starts_with_ci(s, "HEADER.FIELDS ")) {
        bool not = starts_with_ci(s, "HEADER.FIELDS.NOT ");
        it->text = not ? SECTION_FIELDS_NOT : SECTION_FIELDS;
        buf_puts(name, not ? "HEADER.FIELDS.NOT " : "HEADER.FIELDS ");
        s += not ? 18 : 14;
        if (!parse_header_list(&s, it, name, why))
            return false;
        if (s != end) {
            *why = "Unexpected text after the header field names.";
            return false;
        }
    } else {
        return false;
    }
    return true;
}

/* The closing bracket of a section, skipping quoted strings. */
static const char *section_end(const char *s)
{
    bool quoted = false;
    for (; *s; s++) {
        if (quoted && *s == '\\' && s[1])
            s++;
        else if (*s == '"')
            quoted = !quoted;
        else if (*s == ']' && !quoted)
            return s;
    }
    return NULL;
}

/* One fetch-att into it (its strings on the heap). */
static bool parse_item(const char *s, struct fetch_item *it, const char **why)
{
    static const struct {
        const char *name;
        enum item_kind kind;
    } simple[] = {
        {"UID", ITEM_UID},
        {"FLAGS", ITEM_FLAGS},
        {"INTERNALDATE", ITEM_INTERNALDATE},
        {"RFC822.SIZE", ITEM_RFC822_SIZE},
        {"ENVELOPE", ITEM_ENVELOPE},
        {"BODY", ITEM_BODY},
        {"BODYSTRUCTURE", ITEM_BODYSTRUCTURE},
        {"MODSEQ", ITEM_MODSEQ},
    };
    memset(it, 0, sizeof(*it));
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
        if (strcasecmp(s, simple[i].name) == 0) {
            it->kind = simple[i].kind;
            it->name = xstrdup(simple[i].name);
            return true;
        }
    /* the IMAP4rev1 names for BODY[], BODY.PEEK[HEADER], BODY[TEXT] */
    if (strcasecmp(s, "RFC822") == 0 || strcasecmp(s, "RFC822.HEADER") == 0 ||
        strcasecmp(s, "RFC822.TEXT") == 0) {
        it->kind = ITEM_SECTION;
        it->text = s[6] == '\0'                   ? SECTION_BODY
                   : (s[7] == 'H' || s[7] == 'h') ? SECTION_HEADER
                                                  : SECTION_TEXT;
        it->peek = it->text == SECTION_HEADER;
        it->name = xstrdup(it->text == SECTION_BODY     ? "RFC822"
                           : it->text == SECTION_HEADER ? "RFC822.HEADER"
                                                        : "RFC822.TEXT");
        return true;
    }
    const char *open = strchr(s, '[');
    size_t base = open ? (size_t)(open - s) : strlen(s);
    struct {
        const char *name;
        enum item_kind kind;
        bool binary, peek;
    } const sectioned[] = {
        {"BODY", ITEM_SECTION, false, false},          {"BODY.PEEK", ITEM_SECTION, false, true},
        {"BINARY", ITEM_SECTION, true, false},         {"BINARY.PEEK", ITEM_SECTION, true, true},
        {"BINARY.SIZE", ITEM_BINARY_SIZE, true, true},
    };
    size_t k = 0, n = sizeof(sectioned) / sizeof(sectioned[0]);
    for (; k < n; k++)
        if (strlen(sectioned[k].name) == base && strncasecmp(s, sectioned[k].name, base) == 0)
            break;
    if (k == n || !open) {
        *why = k == n ? "Unknown data item." : "A section in brackets is expected.";
        return false;
    }
    it->kind = sectioned[k].kind;
    it->binary = sectioned[k].binary;
    it->peek = sectioned[k].peek;
    const char *close = section_end(open + 1);
    if (!close) {
        *why = "Missing ']' after the section.";
        return false;
    }
    struct buf name = BUF_INIT;
    buf_puts(&name, it->kind == ITEM_BINARY_SIZE ? "BINARY.SIZE["
                    : it->binary                 ? "BINARY["
                                                 : "BODY[");
    if (!parse_section(open + 1, close, it->binary, it, &name, why)) {
        buf_free(&name);
        return false;
    }
    buf_putc(&name, ']');
    it->name = buf_steal(&name);
    const char *p = close + 1;
    if (*p == '\0')
        return true;
    /* partial = "<" number64 "." nz-number64 ">" */
    if (it->kind == ITEM_BINARY_SIZE || *p != '<') {
        *why = "Unexpected text after the section.";
        return false;
    }
    p++;
    if (!parse_u64(&p, INT64_MAX, &it->origin) || *p++ != '.' ||
        !parse_u64(&p, INT64_MAX, &it->count) || it->count == 0 || *p++ != '>' || *p != '\0') {
        *why = "Invalid partial range: <origin.count> is expected.";
        return false;
    }
    it->partial = true;
    return true;
}

static struct fetch_item *add_item(struct fetch_state *st)
{
    st->items = xrealloc(st->items, (st->n_items + 1) * sizeof(*st->items));
    return &st->items[st->n_items++];
}

static bool add_simple(struct fetch_state *st, const char *name, const char **why)
{
    return parse_item(name, add_item(st), why);
}

/* RFC 9051 §6.4.5: the macros stand alone, never in a list. */
static bool parse_items(struct fetch_state *st, const struct imap_arg *arg, const char **why)
{
    static const char *const all[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL};
    static const char *const fast[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL};
    static const char *const full[] = {"FLAGS",    "INTERNALDATE", "RFC822.SIZE",
                                       "ENVELOPE", "BODY",         NULL};
    const char *atom;
    if (imap_arg_get_atom(arg, &atom)) {
        const char *const *macro = strcasecmp(atom, "ALL") == 0    ? all
                                   : strcasecmp(atom, "FAST") == 0 ? fast
                                   : strcasecmp(atom, "FULL") == 0 ? full
                                                                   : NULL;
        if (!macro)
            return add_simple(st, atom, why);
        for (; *macro; macro++)
            if (!add_simple(st, *macro, why))
                return false;
        return true;
    }
    const struct imap_arg *list;
    size_t n;
    if (!imap_arg_get_list(arg, &list, &n) || n == 0) {
        *why = "Data items expected.";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!imap_arg_get_atom(&list[i], &atom)) {
            *why = "Data items expected.";
            return false;
        }
        if (strcasecmp(atom, "ALL") == 0 || strcasecmp(atom, "FAST") == 0 ||
            strcasecmp(atom, "FULL") == 0) {
            *why = "ALL, FAST and FULL stand alone.";
            return false;
        }
        if (!add_simple(st, atom, why))
            return false;
    }
    return true;
}

/* fetch-modifier (RFC 4466 §2.4): CHANGEDSINCE of RFC 7162 §3.1.4, and
 * VANISHED of §3.2.6 (UID FETCH only, with CHANGEDSINCE, after ENABLE
 * QRESYNC). */
static bool parse_modifiers(struct fetch_state *st, const struct imap_cmd *cmd,
                            const struct imap_arg *arg, const char **why)
{
    const struct imap_arg *list;
    size_t n;
    *why = "Invalid FETCH modifiers.";
    if (!imap_arg_get_list(arg, &list, &n) || n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (imap_arg_is(&list[i], "CHANGEDSINCE") && !st->changedsince) {
            if (i + 1 == n || !imap_arg_get_number64(&list[++i], &st->changedsince) ||
                st->changedsince == 0)
                return false;
        } else if (imap_arg_is(&list[i], "VANISHED") && !st->vanished) {
            st->vanished = true;
        } else {
            *why = "Unknown FETCH modifier.";
            return false;
        }
    }
    if (st->vanished && (!cmd->uid || !cmd->session->enabled_qresync || !st->changedsince)) {
        *why = !cmd->uid                        ? "VANISHED is for UID FETCH."
               : !cmd->session->enabled_qresync ? "VANISHED needs ENABLE QRESYNC first."
                                                : "VANISHED goes with CHANGEDSINCE.";
        return false;
    }
    return true;
}

/* ---- the message set ---- */

static int range_cmp(const void *a, const void *b)
{
    const struct imap_seq_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Resolves "*" against the view; false when a sequence number is beyond the
 * mailbox (RFC 9051 §9 seq-number: a tagged BAD, "*" of an empty mailbox
 * included). UIDs beyond it simply match nothing. Then sorted and merged. */
static bool resolve_set(struct fetch_state *st, const struct store_uids *view)
{
    uint32_t max;
    if (st->uid_set) {
        max = view->count ? view->uids[view->count - 1] : 0;
    } else {
        max = (uint32_t)view->count;
        for (size_t i = 0; i < st->n_ranges; i++) {
            const struct imap_seq_range *r = &st->ranges[i];
            bool star = r->first == IMAP_SEQ_STAR || r->last == IMAP_SEQ_STAR;
            if ((star && max == 0) || (r->first != IMAP_SEQ_STAR && r->first > max) ||
                (r->last != IMAP_SEQ_STAR && r->last > max))
                return false;
        }
    }
    struct imap_seqset set = {.ranges = st->ranges, .count = st->n_ranges};
    imap_seqset_resolve(&set, max);
    if (st->n_ranges == 0)
        return true;
    qsort(st->ranges, st->n_ranges, sizeof(*st->ranges), range_cmp);
    size_t k = 0;
    for (size_t i = 1; i < st->n_ranges; i++) {
        if (st->ranges[i].first <= st->ranges[k].last ||
            st->ranges[i].first - 1 == st->ranges[k].last) {
            if (st->ranges[i].last > st->ranges[k].last)
                st->ranges[k].last = st->ranges[i].last;
        } else {
            st->ranges[++k] = st->ranges[i];
        }
    }
    st->n_ranges = k + 1;
    return true;
}

/* The first view index at or after from whose number is in the set, or
 * view->count; *rp is the range where the search starts, and ends. */
static size_t next_match(const struct fetch_state *st, const struct store_uids *view, size_t from,
                         size_t *rp)
{
    size_t i = from;
    while (i < view->count && *rp < st->n_ranges) {
        const struct imap_seq_range *r = &st->ranges[*rp];
        uint32_t n = st->uid_set ? view->uids[i] : (uint32_t)(i + 1);
        if (n > r->last) {
            (*rp)++;
            continue;
        }
        if (n >= r->first)
            return i;
        if (!st->uid_set) {
            i = r->first - 1;
            continue;
        }
        /* the first UID of the view at or above the range's start */
        size_t lo = i, hi = view->count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (view->uids[mid] < r->first)
                lo = mid + 1;
            else
                hi = mid;
        }
        i = lo;
    }
    return view->count;
}

static bool seen_changed_has(struct fetch_state *st, uint32_t uid)
{
    const struct store_uids *u = &st->seen_changed;
    size_t lo = 0, hi = u->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < u->count && u->uids[lo] == uid;
}

static void push_uid(struct store_uids *u, uint32_t uid)
{
    if (u->count == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 32;
        u->uids = xrealloc(u->uids, u->cap * sizeof(*u->uids));
    }
    u->uids[u->count++] = uid;
}

/* Keeps the UIDs not yet written (from first on) and adds the new ones. */
static void seen_changed_merge(struct fetch_state *st, uint32_t first, const struct store_uids *add)
{
    struct store_uids *u = &st->seen_changed;
    size_t keep = 0;
    for (size_t i = 0; i < u->count; i++)
        if (u->uids[i] >= first)
            u->uids[keep++] = u->uids[i];
    u->count = keep;
    for (size_t i = 0; i < add->count; i++)
        push_uid(u, add->uids[i]);
    /* both runs ascend; the merged list must too */
    for (size_t i = 1; i < u->count; i++)
        for (size_t j = i; j > 0 && u->uids[j - 1] > u->uids[j]; j--) {
            uint32_t t = u->uids[j];
            u->uids[j] = u->uids[j - 1];
            u->uids[j - 1] = t;
        }
}

/* ---- sections ---- */

enum prepare_result {
    PREPARED,
    PREPARE_GONE,        /* the message file is gone: expunged elsewhere */
    PREPARE_UNKNOWN_CTE, /* BINARY of an encoding we cannot undo */
    PREPARE_FAILED,
};

/* What a section item sends: size bytes from the stream (NULL when empty). */
struct prepared {
    struct mail_stream *stream;
    uint64_t size;
    bool literal8;
};

static int open_message(struct fetch_state *st, struct store_mailbox *m,
                        const struct store_message *msg, struct buf *err)
{
    if (st->msg_fd >= 0)
        return 0;
    int fd;
    uint64_t size;
    int r = store_message_open(m, st->uid, &fd, &size, err);
    if (r < 0)
        return r;
    st->msg_fd = fd;
    st->msg_file_size = size;
    /* the index knows whether the file has bare LFs: its sizes with and
     * without CRLF differ (store.h virtual_size) */
    st->msg_size_known = msg && msg->size == size;
    st->msg_crlf = !st->msg_size_known || msg->size != msg->virtual_size;
    st->msg_vsize = st->msg_size_known ? msg->virtual_size : 0;
    return 0;
}

/* RFC 2045 §6.1 encodings: the decoding for BINARY, false for one unknown. */
static bool binary_decoding(const char *encoding, enum mail_decode *decode, bool *identity_binary)
{
    *identity_binary = false;
    *decode = MAIL_DECODE_NONE;
    if (!*encoding || strcmp(encoding, "7bit") == 0 || strcmp(encoding, "8bit") == 0)
        return true;
    if (strcmp(encoding, "binary") == 0) {
        *identity_binary = true;
        return true;
    }
    if (strcmp(encoding, "base64") == 0) {
        *decode = MAIL_DECODE_BASE64;
        return true;
    }
    if (strcmp(encoding, "quoted-printable") == 0) {
        *decode = MAIL_DECODE_QUOTED_PRINTABLE;
        return true;
    }
    return false;
}

/* Finds a section's bytes, its size and how it is read; the stream is
 * positioned at the partial origin. */
static enum prepare_result prepare_section(struct fetch_state *st, struct store_mailbox *m,
                                           const struct store_message *msg,
                                           const struct fetch_item *it, struct prepared *out,
                                           struct buf *err)
{
    memset(out, 0, sizeof(*out));
    int r = open_message(st, m, msg, err);
    if (r == -ENOENT)
        return PREPARE_GONE;
    if (r < 0)
        return PREPARE_FAILED;
    struct mail_stream_opts opts = {.crlf = st->msg_crlf, .nul_to_0x80 = !it->binary};
    uint64_t start = 0, end = st->msg_file_size, size = 0;
    bool size_known = false, found = true;
    bool whole = it->depth == 0 && it->text == SECTION_BODY;
    struct mail_part_info info;
    memset(&info, 0, sizeof(info));
    if (whole) {
        if (st->msg_size_known) {
            size = st->msg_crlf ? st->msg_vsize : st->msg_file_size;
            size_known = true;
        }
        if (it->binary) {
            /* BINARY[]: the body decoded when the message is a single part
             * (its header then says so); a multipart one as it is, since
             * composite parts have no encoding to undo (RFC 2045 §6.4) */
            r = mail_part_locate(st->msg_fd, NULL, 0, true, &info);
            if (r < 0)
                return PREPARE_FAILED;
        }
    } else {
        /* the message's own HEADER and TEXT need its header only */
        bool header_only = it->text == SECTION_MIME || (it->depth == 0) ||
                           ((it->text == SECTION_HEADER || it->text == SECTION_FIELDS ||
                             it->text == SECTION_FIELDS_NOT) &&
                            !it->binary);
        r = mail_part_locate(st->msg_fd, it->path, it->depth, header_only, &info);
        if (r < 0)
            return PREPARE_FAILED;
        found = r == 1;
        const struct mail_range *range = NULL;
        switch (it->text) {
        case SECTION_BODY:
            range = &info.body;
            break;
        case SECTION_MIME:
            range = &info.header;
            break;
        case SECTION_HEADER:
        case SECTION_FIELDS:
        case SECTION_FIELDS_NOT:
            /* of the message, or of a message/rfc822 part's message */
            range = it->depth == 0 ? &info.header : info.has_message ? &info.message_header : NULL;
            break;
        case SECTION_TEXT:
            if (it->depth == 0) {
                start = info.body.start;
                if (st->msg_size_known) {
                    size = st->msg_crlf ? st->msg_vsize - info.header.vsize : end - start;
                    size_known = true;
                }
            } else {
                range = info.has_message ? &info.message_body : NULL;
            }
            break;
        }
        if (!(it->depth == 0 && it->text == SECTION_TEXT)) {
            if (!range)
                found = false;
            else {
                start = range->start;
                end = range->end;
                size = range->vsize;
                size_known = true;
            }
        }
    }
    if (!found) {
        /* no such part: an empty string, as Dovecot answers */
        return PREPARED;
    }
    if (it->text == SECTION_FIELDS || it->text == SECTION_FIELDS_NOT) {
        opts.filter = it->text == SECTION_FIELDS ? MAIL_HEADER_ONLY : MAIL_HEADER_EXCEPT;
        opts.fields = (const char *const *)it->fields;
        opts.n_fields = it->n_fields;
        size_known = false;
    }
    if (it->binary) {
        /* a leaf part's encoding is undone; a multipart or message/rfc822
         * one has none (RFC 9051 §6.4.5: BINARY is for leaf parts) */
        bool leaf = !(info.flags & (MIME_PART_MULTIPART | MIME_PART_RFC822));
        if (leaf) {
            bool identity_binary;
            if (!binary_decoding(info.encoding, &opts.decode, &identity_binary))
                return PREPARE_UNKNOWN_CTE;
            if (identity_binary && !whole)
                opts.crlf = false; /* binary data: its bytes as they are */
            if (whole && opts.decode != MAIL_DECODE_NONE) {
                opts.filter = MAIL_HEADER_CTE_BINARY;
                opts.body_start = info.body.start;
            }
        }
        size_known = false;
    }
    uint64_t window_start = it->partial ? it->origin : 0;
    uint64_t window_end = it->partial && it->count <= UINT64_MAX - window_start
                              ? window_start + it->count
                              : UINT64_MAX;
    bool nul = false;
    if (!size_known) {
        struct mail_stream *probe = mail_stream_new(st->msg_fd, start, end, &opts);
        bool plain = mail_stream_is_plain(probe);
        mail_stream_free(probe);
        if (plain) {
            size = end - start;
            if (it->binary && window_start < size) {
                uint64_t to = window_end < size ? window_end : size;
                r = mail_range_has_nul(st->msg_fd, start + window_start, start + to);
                if (r < 0)
                    return PREPARE_FAILED;
                nul = r == 1;
            }
        } else {
            r = mail_stream_measure(st->msg_fd, start, end, &opts, window_start, window_end, &size,
                                    &nul);
            if (r < 0)
                return PREPARE_FAILED;
        }
    }
    out->size = size;
    out->literal8 = it->binary && nul;
    if (it->kind == ITEM_BINARY_SIZE)
        return PREPARED;
    if (it->partial)
        out->size = it->origin >= size              ? 0
                    : size - it->origin < it->count ? size - it->origin
                                                    : it->count;
    if (out->size == 0)
        return PREPARED;
    out->stream = mail_stream_new(st->msg_fd, start, end, &opts);
    if (it->partial && mail_stream_skip(out->stream, it->origin) < 0) {
        mail_stream_free(out->stream);
        out->stream = NULL;
        return PREPARE_FAILED;
    }
    return PREPARED;
}

/* ---- writing ---- */

static void item_sep(struct fetch_state *st, struct buf *out)
{
    if (!st->first_in_message)
        buf_putc(out, ' ');
    st->first_in_message = false;
}

/* ENVELOPE, BODY or BODYSTRUCTURE: from the index, or parsed from the file
 * when the index has none. */
static int write_structure(struct fetch_state *st, struct store_mailbox *m,
                           const struct store_message *msg, enum item_kind kind, struct buf *out,
                           struct buf *err)
{
    const char *cached = kind == ITEM_ENVELOPE ? msg->envelope
                         : kind == ITEM_BODY   ? msg->body
                                               : msg->bodystructure;
    const char *name = kind == ITEM_ENVELOPE ? "ENVELOPE"
                       : kind == ITEM_BODY   ? "BODY"
                                             : "BODYSTRUCTURE";
    if (cached) {
        buf_printf(out, "%s %s", name, cached);
        return 0;
    }
    int r = open_message(st, m, msg, err);
    if (r < 0)
        return r;
    struct mail_summary sum;
    r = mail_parse_fd(st->msg_fd, &sum);
    if (r < 0)
        return r;
    buf_printf(out, "%s %s", name,
               kind == ITEM_ENVELOPE ? sum.envelope
               : kind == ITEM_BODY   ? sum.body
                                     : sum.bodystructure);
    mail_summary_free(&sum);
    return 0;
}

/* Writes the literal in hand into out, up to the slice's end. */
static void pump_literal(struct fetch_state *st, struct buf *out)
{
    while (st->lit_left > 0 && out->len < FETCH_SLICE) {
        size_t room = FETCH_SLICE - out->len;
        size_t want = st->lit_left < room ? (size_t)st->lit_left : room;
        int64_t n = 0;
        if (!st->lit_padding) {
            n = mail_stream_read(st->lit, out, want);
            if (n <= 0) {
                /* the file changed or failed under us: the client was told
                 * a size, so it gets that many bytes, and a NO at the end */
                log_error(NULL,
                          "imap: FETCH of UID %u: the message file gave %llu bytes less"
                          " than its size",
                          st->uid, (unsigned long long)st->lit_left);
                st->lit_padding = true;
                st->read_failed = true;
                continue;
            }
        } else {
            size_t old = out->len;
            buf_reserve(out, want);
            memset(out->data + old, ' ', want);
            out->len = old + want;
            out->data[out->len] = '\0';
            n = (int64_t)want;
        }
        st->lit_left -= (uint64_t)n;
    }
    if (st->lit_left == 0) {
        mail_stream_free(st->lit);
        st->lit = NULL;
        st->lit_padding = false;
    }
}

enum write_result {
    WRITE_DONE,    /* the response is complete */
    WRITE_PAUSED,  /* in a literal, or handing one to sendfile */
    WRITE_STOPPED, /* the command stops here (an encoding we cannot undo) */
};

/* A section item: its name, the literal's size, then its bytes. */
static enum write_result write_section(struct fetch_state *st, struct store_mailbox *m,
                                       const struct store_message *msg, const struct fetch_item *it,
                                       struct buf *out, struct buf *err)
{
    struct prepared p;
    switch (prepare_section(st, m, msg, it, &p, err)) {
    case PREPARED:
        break;
    case PREPARE_GONE:
        st->expunged = true;
        return WRITE_DONE;
    case PREPARE_UNKNOWN_CTE:
        st->unknown_cte = true;
        return WRITE_STOPPED;
    case PREPARE_FAILED:
        log_error(NULL, "imap: FETCH of UID %u: %s", st->uid, buf_cstr(err));
        st->read_failed = true;
        return WRITE_DONE;
    }
    item_sep(st, out);
    if (it->kind == ITEM_BINARY_SIZE) {
        buf_printf(out, "%s %llu", it->name, (unsigned long long)p.size);
        return WRITE_DONE;
    }
    buf_puts(out, it->name);
    if (it->partial)
        buf_printf(out, "<%llu>", (unsigned long long)it->origin);
    buf_printf(out, " %s{%llu}\r\n", p.literal8 ? "~" : "", (unsigned long long)p.size);
    if (!p.stream)
        return WRITE_DONE;
    st->lit = p.stream;
    st->lit_left = p.size;
    /* straight from the file, when nothing needs converting */
    if (st->plaintext && !st->no_sendfile && p.size >= SENDFILE_MIN &&
        mail_stream_is_plain(st->lit)) {
        uint64_t off = mail_stream_offset(st->lit);
        int nul = it->binary ? 0 : mail_range_has_nul(st->msg_fd, off, off + p.size);
        if (nul == 0) {
            st->sendfile = true;
            st->sf_offset = off;
            st->sf_len = p.size;
            mail_stream_free(st->lit);
            st->lit = NULL;
            st->lit_left = 0;
            return WRITE_PAUSED;
        }
    }
    pump_literal(st, out);
    return st->lit ? WRITE_PAUSED : WRITE_DONE;
}

/* Closes the message's response; one without any item is taken back (a
 * msg-att has at least one, RFC 9051 §9), which only happens in the slice
 * that began it. */
static void end_response(struct fetch_state *st, struct buf *out)
{
    if (st->first_in_message)
        out->len = st->message_start;
    else
        buf_puts(out, ")\r\n");
    if (out->data)
        out->data[out->len] = '\0';
}

/* Writes the message's items from st->next_item on; msg may be NULL when
 * none of them needs the record. */
static enum write_result write_items(struct fetch_state *st, struct store_mailbox *m,
                                     const struct store_message *msg, struct buf *out,
                                     struct buf *err)
{
    while (st->next_item < st->n_items) {
        const struct fetch_item *it = &st->items[st->next_item++];
        switch (it->kind) {
        case ITEM_UID:
            item_sep(st, out);
            buf_printf(out, "UID %u", st->uid);
            break;
        case ITEM_FLAGS:
            item_sep(st, out);
            buf_puts(out, "FLAGS ");
            imap_write_flags(out, msg->flags & STORE_FLAGS_STORED, msg->keywords,
                             msg->keyword_count);
            break;
        case ITEM_INTERNALDATE:
            item_sep(st, out);
            buf_puts(out, "INTERNALDATE ");
            imap_write_datetime(out, msg->internal_date, 0);
            break;
        case ITEM_RFC822_SIZE:
            item_sep(st, out);
            buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)msg->virtual_size);
            break;
        case ITEM_MODSEQ:
            item_sep(st, out);
            buf_printf(out, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
            break;
        case ITEM_ENVELOPE:
        case ITEM_BODY:
        case ITEM_BODYSTRUCTURE: {
            size_t mark = out->len;
            bool first = st->first_in_message;
            item_sep(st, out);
            int rr = write_structure(st, m, msg, it->kind, out, err);
            if (rr == -ENOENT) {
                out->len = mark;
                st->first_in_message = first;
                st->expunged = true;
            } else if (rr < 0) {
                out->len = mark;
                st->first_in_message = first;
                st->read_failed = true;
                log_error(NULL, "imap: FETCH of UID %u: %s", st->uid, buf_cstr(err));
            }
            break;
        }
        case ITEM_SECTION:
        case ITEM_BINARY_SIZE: {
            enum write_result wr = write_section(st, m, msg, it, out, err);
            if (wr == WRITE_PAUSED)
                return wr;
            if (wr == WRITE_STOPPED) {
                end_response(st, out);
                return wr;
            }
            break;
        }
        }
    }
    end_response(st, out);
    return WRITE_DONE;
}

static void begin_message(struct fetch_state *st, const struct store_message *msg, uint32_t seq,
                          struct buf *out)
{
    st->in_message = true;
    st->seq = seq;
    st->uid = msg->uid;
    st->next_item = 0;
    st->first_in_message = true;
    st->message_start = out->len;
    buf_printf(out, "* %u FETCH (", seq);
    /* RFC 9051 §6.4.5: the flags this FETCH changed go out with it */
    if (seen_changed_has(st, msg->uid)) {
        if (!st->has_flags_item) {
            item_sep(st, out);
            buf_puts(out, "FLAGS ");
            imap_write_flags(out, msg->flags & STORE_FLAGS_STORED, msg->keywords,
                             msg->keyword_count);
        }
        if (st->condstore && !st->has_uid_item) {
            item_sep(st, out);
            buf_printf(out, "UID %u", msg->uid);
        }
        if (st->condstore && !st->has_modseq_item) {
            item_sep(st, out);
            buf_printf(out, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
        }
    }
}

/* The items still to write need the message's record (not only its file). */
static bool needs_record(const struct fetch_state *st)
{
    for (size_t i = st->next_item; i < st->n_items; i++)
        if (st->items[i].kind != ITEM_UID && st->items[i].kind != ITEM_SECTION &&
            st->items[i].kind != ITEM_BINARY_SIZE)
            return true;
    return false;
}

/* Goes on with the message a slice ended in, after its literal. */
static int continue_message(struct fetch_state *st, struct store_mailbox *m, struct buf *out,
                            struct buf *err)
{
    int r = 0;
    enum write_result wr;
    if (!needs_record(st)) {
        wr = write_items(st, m, NULL, out, err);
    } else {
        struct store_uid_range one = {st->uid, st->uid};
        struct store_fetch_iter *it;
        r = store_fetch_begin(m, &one, 1, st->want, &it, err);
        if (r < 0)
            return r;
        const struct store_message *msg;
        r = store_fetch_next(it, &msg, err);
        if (r > 0) {
            wr = write_items(st, m, msg, out, err);
        } else {
            /* expunged elsewhere in the meantime: the response ends here */
            end_response(st, out);
            st->expunged = r == 0 || st->expunged;
            wr = WRITE_DONE;
        }
        store_fetch_end(it);
        if (r < 0)
            return r;
    }
    if (wr == WRITE_STOPPED)
        st->done = true;
    if (wr != WRITE_PAUSED)
        close_message(st);
    return 0;
}

/* The next batch of messages from st->view_pos, until the slice is full. */
static int fetch_batch(struct fetch_state *st, struct store_mailbox *m,
                       const struct store_uids *view, struct buf *out, struct buf *err)
{
    size_t limit = st->set_seen ? FETCH_SEEN_BATCH : FETCH_BATCH;
    size_t idx[FETCH_BATCH], rpos[FETCH_BATCH];
    struct store_uid_range ranges[FETCH_BATCH];
    size_t n = 0, nr = 0, rp = st->range_pos;
    for (size_t i = next_match(st, view, st->view_pos, &rp); i < view->count && n < limit;
         i = next_match(st, view, i + 1, &rp)) {
        /* consecutive view entries make one UID range */
        if (n > 0 && idx[n - 1] + 1 == i)
            ranges[nr - 1].last = view->uids[i];
        else
            ranges[nr++] = (struct store_uid_range){view->uids[i], view->uids[i]};
        rpos[n] = rp;
        idx[n++] = i;
    }
    if (n == 0) {
        st->done = true;
        return 0;
    }
    int r;
    if (st->set_seen) {
        struct store_flags_result res;
        memset(&res, 0, sizeof(res));
        struct store_uids told = {0}, others = {0};
        r = store_set_flags(m, ranges, nr, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, 0, &res, err);
        /* what changed is told here, so that the sync at the command's end
         * does not tell it again: this FETCH's \Seen with its messages, and
         * what other sessions changed meanwhile at once */
        if (r == 0)
            r = store_mailbox_flag_changes(m, true, &told, err);
        if (r == 0) {
            seen_changed_merge(st, view->uids[idx[0]], &res.changed);
            for (size_t i = 0, j = 0; i < told.count; i++) {
                while (j < res.changed.count && res.changed.uids[j] < told.uids[i])
                    j++;
                if (j == res.changed.count || res.changed.uids[j] != told.uids[i])
                    push_uid(&others, told.uids[i]);
            }
            r = imap_sync_write_flags_modseq(m, others.uids, others.count, st->condstore, out, err);
        }
        store_uids_free(&told);
        store_uids_free(&others);
        store_flags_result_free(&res);
        if (r < 0)
            return r;
    }
    struct store_fetch_iter *it;
    r = store_fetch_begin(m, ranges, nr, st->want, &it, err);
    if (r < 0)
        return r;
    size_t k = 0;
    const struct store_message *msg;
    bool stop = false;
    while (!stop && (r = store_fetch_next(it, &msg, err)) > 0) {
        while (k < n && view->uids[idx[k]] < msg->uid) {
            st->expunged = true; /* its record is gone: expunged elsewhere */
            k++;
        }
        if (k == n || view->uids[idx[k]] != msg->uid)
            continue;
        /* where the next slice starts if this one ends here */
        st->range_pos = rpos[k];
        size_t i = idx[k++];
        st->view_pos = i + 1;
        if (st->changedsince && msg->modseq <= st->changedsince)
            continue;
        begin_message(st, msg, (uint32_t)(i + 1), out);
        enum write_result wr = write_items(st, m, msg, out, err);
        if (wr == WRITE_STOPPED) {
            st->done = true;
            close_message(st);
            stop = true;
        } else if (wr == WRITE_PAUSED) {
            stop = true;
        } else {
            close_message(st);
            stop = out->len >= FETCH_SLICE;
        }
    }
    store_fetch_end(it);
    if (r < 0)
        return r;
    if (!stop) {
        /* the batch is through; records missing at its end were expunged */
        if (k < n)
            st->expunged = true;
        st->view_pos = idx[n - 1] + 1;
        st->range_pos = rpos[n - 1];
    }
    return 0;
}

/* RFC 7162 §3.2.6: the UIDs of the set expunged since CHANGEDSINCE, before
 * any FETCH response. */
static int write_vanished(const struct fetch_state *st, struct store_mailbox *m, struct buf *out,
                          struct buf *err)
{
    if (st->n_ranges == 0)
        return 0;
    struct store_uid_range *set = xcalloc(st->n_ranges, sizeof(*set));
    for (size_t i = 0; i < st->n_ranges; i++)
        set[i] = (struct store_uid_range){st->ranges[i].first, st->ranges[i].last};
    struct store_uid_range *gone = NULL;
    size_t ngone = 0;
    int r = store_mailbox_vanished(m, st->changedsince, set, st->n_ranges, &gone, &ngone, err);
    free(set);
    for (size_t i = 0; r == 0 && i < ngone; i++) {
        buf_puts(out, i ? "," : "* VANISHED (EARLIER) ");
        if (gone[i].first == gone[i].last)
            buf_printf(out, "%u", gone[i].first);
        else
            buf_printf(out, "%u:%u", gone[i].first, gone[i].last);
    }
    if (r == 0 && ngone)
        buf_puts(out, "\r\n");
    free(gone);
    return r;
}

static int fetch_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct fetch_state *st = ((struct fetch_job *)data)->st;
    struct store_mailbox *m = side->selected;
    if (!m)
        return -ENOENT;
    const struct store_uids *view = store_mailbox_view(m);
    /* room for a slice and what may follow the last item begun in it */
    buf_reserve(out, FETCH_SLICE + FETCH_SLICE / 4);
    if (!st->started) {
        st->started = true;
        if (!resolve_set(st, view)) {
            st->bad_set = true;
            st->done = true;
            return 0;
        }
        if (st->vanished) {
            int r = write_vanished(st, m, out, err);
            if (r < 0)
                return r;
        }
    }
    while (!st->done && !st->sendfile && out->len < FETCH_SLICE) {
        int r = 0;
        if (st->lit)
            pump_literal(st, out);
        else if (st->in_message)
            r = continue_message(st, m, out, err);
        else
            r = fetch_batch(st, m, view, out, err);
        if (r < 0) {
            /* the index failed: what was begun is ended, the NO follows */
            if (st->in_message && !st->lit)
                end_response(st, out);
            close_message(st);
            return r;
        }
    }
    return 0;
}

/* ---- the command ---- */

static enum imap_cmd_result fetch_next(struct imap_cmd *cmd);

static enum imap_cmd_result fetch_finish(struct imap_cmd *cmd, struct fetch_state *st)
{
    const char *name = cmd->uid ? "UID FETCH" : "FETCH";
    if (st->bad_set)
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "Invalid message sequence number: the mailbox has fewer messages.");
    else if (st->unknown_cte)
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_UNKNOWN_CTE,
                       "Unknown Content-Transfer-Encoding, the part cannot be decoded.");
    else if (st->read_failed)
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_SERVERBUG, "Internal error, see the server log.");
    else if (st->expunged)
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_EXPUNGEISSUED,
                       "Some of the requested messages no longer exist.");
    else
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", name);
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result fetch_resume(struct imap_cmd *cmd)
{
    struct fetch_cmd *fc = cmd->data;
    struct fetch_job *job = cmd->job_data;
    fc->st = job->st;
    job->st = NULL;
    struct fetch_state *st = fc->st;
    if (cmd->job_result < 0) {
        log_error(cmd->session->conn->id, "imap: FETCH failed: %s", cmd->job_error);
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    if (st->sendfile) {
        st->sendfile = false;
        if (!conn_write_file(cmd->session->conn, st->msg_fd, st->sf_offset, st->sf_len)) {
            /* the job reads the bytes instead */
            struct mail_stream_opts plain = {.nul_to_0x80 = false};
            st->lit =
                mail_stream_new(st->msg_fd, st->sf_offset, st->sf_offset + st->sf_len, &plain);
            st->lit_left = st->sf_len;
            st->no_sendfile = true;
        }
    }
    if (st->done && !st->in_message)
        return fetch_finish(cmd, st);
    return fetch_next(cmd);
}

/* The next slice, once the client has taken most of the last one. */
static enum imap_cmd_result fetch_next(struct imap_cmd *cmd)
{
    struct fetch_cmd *fc = cmd->data;
    if (conn_output_pending(cmd->session->conn) > CONN_OUTPUT_HIGH_WATERMARK) {
        cmd->resume = fetch_next;
        return IMAP_CMD_WAIT_OUTPUT;
    }
    struct fetch_job *job = xcalloc(1, sizeof(*job));
    job->st = fc->st;
    fc->st = NULL;
    cmd->resume = fetch_resume;
    imap_store_job(cmd, fetch_work, job, free_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

static enum imap_cmd_result fetch_bad(struct imap_cmd *cmd, const char *why)
{
    imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", why);
    return IMAP_CMD_DONE;
}

/* FETCH sequence-set (macro / fetch-att / "(" fetch-att ... ")") [modifiers] */
enum imap_cmd_result cmd_msg_fetch(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (cmd->n_args < 2 || cmd->n_args > 3)
        return fetch_bad(cmd, "FETCH expects a sequence set and data items.");
    struct imap_msgset set;
    const char *why = "Invalid data items.";
    if (!imap_msgset_get(cmd, &cmd->args[0], &set, &why))
        return fetch_bad(cmd, why);
    struct fetch_cmd *fc = arena_alloc(cmd->arena, sizeof(*fc));
    cmd->data = fc;
    arena_on_reset(cmd->arena, cmd_cleanup, fc);
    struct fetch_state *st = xcalloc(1, sizeof(*st));
    fc->st = st;
    st->msg_fd = -1;
    /* the ranges as sent, "*" and all; resolved in the first job */
    st->uid_set = set.uids;
    st->n_ranges = set.count;
    st->ranges = xcalloc(set.count ? set.count : 1, sizeof(*st->ranges));
    for (size_t i = 0; i < set.count; i++)
        st->ranges[i] = (struct imap_seq_range){set.ranges[i].first, set.ranges[i].last};
    imap_msgset_free(&set);
    st->plaintext = !s->conn->tls;
    /* UID FETCH answers with UIDs (RFC 9051 §6.4.9); its own UID item comes
     * first, a UID the client asked for too is dropped below */
    if (cmd->uid && !add_simple(st, "UID", &why))
        return fetch_bad(cmd, why);
    if (!parse_items(st, &cmd->args[1], &why))
        return fetch_bad(cmd, why);
    if (cmd->n_args == 3) {
        if (!parse_modifiers(st, cmd, &cmd->args[2], &why))
            return fetch_bad(cmd, why);
        /* RFC 7162 §3.1.4: CHANGEDSINCE implies MODSEQ */
        bool has_modseq = false;
        for (size_t i = 0; i < st->n_items; i++)
            has_modseq |= st->items[i].kind == ITEM_MODSEQ;
        if (!has_modseq && !add_simple(st, "MODSEQ", &why))
            return fetch_bad(cmd, why);
    }
    bool has_uid = false;
    for (size_t i = 0; i < st->n_items; i++) {
        const struct fetch_item *it = &st->items[i];
        if (it->kind == ITEM_UID) {
            if (has_uid) {
                /* the UID FETCH's own and the client's: one is enough */
                free(st->items[i].name);
                memmove(&st->items[i], &st->items[i + 1],
                        (st->n_items - i - 1) * sizeof(*st->items));
                st->n_items--;
                i--;
                continue;
            }
            has_uid = true;
            st->has_uid_item = true;
        }
        if (it->kind == ITEM_FLAGS)
            st->has_flags_item = true;
        if (it->kind == ITEM_MODSEQ)
            st->has_modseq_item = true;
        if (it->kind == ITEM_ENVELOPE)
            st->want |= STORE_FETCH_ENVELOPE;
        if (it->kind == ITEM_BODY)
            st->want |= STORE_FETCH_BODY;
        if (it->kind == ITEM_BODYSTRUCTURE)
            st->want |= STORE_FETCH_BODYSTRUCTURE;
        /* RFC 9051 §6.4.5: BODY[] and BINARY[] set \Seen; not in EXAMINE */
        if (it->kind == ITEM_SECTION && !it->peek && !s->selected_readonly)
            st->set_seen = true;
    }
    /* RFC 7162 §3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE */
    if (st->has_modseq_item)
        imap_session_enable_condstore(s);
    st->condstore = s->enabled_condstore;
    return fetch_next(cmd);
}
