/* SEARCH keys (RFC 9051 §6.4.4, §9 search-key; RFC 3501's NEW, OLD, RECENT
 * for IMAP4rev1 clients; RFC 7162 §3.1.5 MODSEQ): parsed into a tree, then
 * evaluated per message with three answers, so that what the index answers
 * is never fetched: a key that needs the header section or the text says
 * "maybe" until it has them, and only the messages still "maybe" are read
 * further (as Dovecot's index-search.c does). */
#include "imap/imap-search.h"

#include "lib-imap/imap-arg.h"
#include "mail/search-match.h"
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum search_op {
    SK_AND, /* children: every one (also the program's top level and "(...)") */
    SK_OR,  /* children: two */
    SK_NOT, /* child: one */
    SK_ALL,
    SK_SEQSET,  /* sequence numbers */
    SK_UIDSET,  /* UIDs */
    SK_SAVED,   /* "$": the saved result's UIDs */
    SK_FLAGS,   /* every flag in flags set */
    SK_KEYWORD, /* str */
    SK_BEFORE,
    SK_ON,
    SK_SINCE,
    SK_SENTBEFORE,
    SK_SENTON,
    SK_SENTSINCE,
    SK_LARGER,
    SK_SMALLER,
    SK_MODSEQ,
    SK_HEADER, /* field, str (folded) */
    SK_BODY,   /* str (folded), raw */
    SK_TEXT,
};

/* In the program's arena. */
struct search_key {
    enum search_op op;
    struct search_key *child, *next; /* AND/OR/NOT operands, in order */
    unsigned flags;
    const char *field;
    enum search_field_form form; /* how HEADER and its kin compare */
    const char *str;             /* folded (search_fold) for the text keys */
    size_t len;
    const char *raw; /* as sent, for the full-text index */
    size_t raw_len;
    time_t date;   /* midnight UTC of the date given */
    time_t lo, hi; /* INTERNALDATE keys: the day's bounds in local time */
    uint64_t number;
    struct imap_seqset set;
    /* the full-text index's candidates (when narrowed) */
    bool narrowed;
    struct store_uids candidates;
};

struct search_program {
    struct arena arena;
    struct search_key *root;
    unsigned keys;
    bool has_modseq;
    bool need_headers; /* HEADER and its kin, SENT* */
    bool need_text;    /* BODY, TEXT */
    struct imap_seqset saved;
    struct buf scratch;                     /* folded text, in jobs */
    struct buf headers;                     /* a header section read from its file */
    struct buf folded_body, folded_headers; /* a message's text, folded */
    unsigned text_keys;                     /* keys that read header sections or text */
    unsigned narrowed_keys;                 /* text keys the word index narrowed */
};

/* ---- parsing ---- */

struct parser {
    struct search_program *p;
    const char *error;
};

static struct search_key *new_key(struct parser *ps, enum search_op op)
{
    struct search_key *k = arena_alloc(&ps->p->arena, sizeof(*k));
    k->op = op;
    ps->p->keys++;
    return k;
}

static bool fail(struct parser *ps, const char *error)
{
    if (!ps->error)
        ps->error = error;
    return false;
}

/* A string argument, checked to be UTF-8 (RFC 9051 §6.4.4: US-ASCII and
 * UTF-8 are the charsets; anything else was refused before). */
static bool is_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len || (n > 1 && c < 0xc2))
            return false;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

static bool get_text(struct parser *ps, const struct imap_arg *arg, struct search_key *k)
{
    const char *s;
    size_t len;
    if (++ps->p->text_keys > SEARCH_MAX_TEXT_KEYS)
        return fail(ps, "Too many text search keys.");
    if (!imap_arg_get_astring(arg, &s, &len))
        return fail(ps, "Search key needs a string.");
    if (!is_utf8((const unsigned char *)s, len))
        return fail(ps, "Search string is not UTF-8.");
    struct buf folded = BUF_INIT;
    search_fold(s, len, &folded);
    k->str = arena_strndup(&ps->p->arena, buf_cstr(&folded), folded.len);
    k->len = folded.len;
    buf_free(&folded);
    k->raw = arena_strndup(&ps->p->arena, s, len);
    k->raw_len = len;
    return true;
}

static bool parse_key(struct parser *ps, const struct imap_arg *args, size_t n, size_t *i,
                      unsigned depth, struct search_key **out);

/* The keys of args[0..n) ANDed into one node. */
static struct search_key *parse_list(struct parser *ps, const struct imap_arg *args, size_t n,
                                     unsigned depth)
{
    struct search_key *and = new_key(ps, SK_AND), **tail = &and->child;
    size_t i = 0;
    if (n == 0) {
        fail(ps, "Empty search key list.");
        return NULL;
    }
    while (i < n) {
        struct search_key *k;
        if (!parse_key(ps, args, n, &i, depth, &k))
            return NULL;
        *tail = k;
        tail = &k->next;
    }
    /* a list of one key is that key */
    return and->child->next ? and : and->child;
}

static const struct {
    const char *name;
    unsigned flag;
    bool negate;
} flag_keys[] = {
    {"ANSWERED", STORE_FLAG_ANSWERED, false}, {"UNANSWERED", STORE_FLAG_ANSWERED, true},
    {"DELETED", STORE_FLAG_DELETED, false},   {"UNDELETED", STORE_FLAG_DELETED, true},
    {"DRAFT", STORE_FLAG_DRAFT, false},       {"UNDRAFT", STORE_FLAG_DRAFT, true},
    {"FLAGGED", STORE_FLAG_FLAGGED, false},   {"UNFLAGGED", STORE_FLAG_FLAGGED, true},
    {"SEEN", STORE_FLAG_SEEN, false},         {"UNSEEN", STORE_FLAG_SEEN, true},
    {"RECENT", STORE_FLAG_RECENT, false},     {"OLD", STORE_FLAG_RECENT, true},
};

static const struct {
    const char *name;
    enum search_op op;
} date_keys[] = {
    {"BEFORE", SK_BEFORE},         {"ON", SK_ON},         {"SINCE", SK_SINCE},
    {"SENTBEFORE", SK_SENTBEFORE}, {"SENTON", SK_SENTON}, {"SENTSINCE", SK_SENTSINCE},
};

/* The header field each shorthand searches (RFC 9051 §6.4.4: the envelope's
 * fields, which come from these header fields). */
static const struct {
    const char *name;
    const char *field;
    enum search_field_form form;
} header_keys[] = {
    {"BCC", "Bcc", SEARCH_FIELD_ADDRESSES},   {"CC", "Cc", SEARCH_FIELD_ADDRESSES},
    {"FROM", "From", SEARCH_FIELD_ADDRESSES}, {"SUBJECT", "Subject", SEARCH_FIELD_SUBJECT},
    {"TO", "To", SEARCH_FIELD_ADDRESSES},
};

static struct search_key *negate(struct parser *ps, struct search_key *k)
{
    struct search_key *not = new_key(ps, SK_NOT);
    not ->child = k;
    return not ;
}

static bool parse_key(struct parser *ps, const struct imap_arg *args, size_t n, size_t *i,
                      unsigned depth, struct search_key **out)
{
    struct search_program *p = ps->p;
    if (depth >= SEARCH_MAX_DEPTH)
        return fail(ps, "Search keys nested too deeply.");
    if (p->keys >= SEARCH_MAX_KEYS)
        return fail(ps, "Too many search keys.");
    const struct imap_arg *arg = &args[(*i)++];
    if (arg->type == IMAP_ARG_LIST) {
        *out = parse_list(ps, arg->list, arg->list_len, depth + 1);
        return *out != NULL;
    }
    if (arg->type != IMAP_ARG_ATOM)
        return fail(ps, "Search key expected.");
    const char *name = arg->str;
    struct search_key *k;
    /* a sequence set: digits, "*" or "$" first (RFC 9051 §9) */
    if ((name[0] >= '0' && name[0] <= '9') || name[0] == '*' || name[0] == '$') {
        k = new_key(ps, SK_SEQSET);
        if (!imap_seqset_parse(name, arg->len, &p->arena, &k->set))
            return fail(ps, "Invalid sequence set.");
        if (k->set.saved)
            k->op = SK_SAVED;
        *out = k;
        return true;
    }
    if (strcasecmp(name, "ALL") == 0) {
        *out = new_key(ps, SK_ALL);
        return true;
    }
    for (size_t f = 0; f < sizeof(flag_keys) / sizeof(flag_keys[0]); f++) {
        if (strcasecmp(name, flag_keys[f].name) == 0) {
            k = new_key(ps, SK_FLAGS);
            k->flags = flag_keys[f].flag;
            *out = flag_keys[f].negate ? negate(ps, k) : k;
            return true;
        }
    }
    if (strcasecmp(name, "NEW") == 0) { /* RFC 3501: RECENT UNSEEN */
        k = new_key(ps, SK_AND);
        k->child = new_key(ps, SK_FLAGS);
        k->child->flags = STORE_FLAG_RECENT;
        struct search_key *seen = new_key(ps, SK_FLAGS);
        seen->flags = STORE_FLAG_SEEN;
        k->child->next = negate(ps, seen);
        *out = k;
        return true;
    }
    if (strcasecmp(name, "NOT") == 0) {
        struct search_key *child;
        if (*i >= n)
            return fail(ps, "NOT needs a search key.");
        if (!parse_key(ps, args, n, i, depth + 1, &child))
            return false;
        *out = negate(ps, child);
        return true;
    }
    if (strcasecmp(name, "OR") == 0) {
        struct search_key *a, *b;
        if (*i + 1 >= n)
            return fail(ps, "OR needs two search keys.");
        if (!parse_key(ps, args, n, i, depth + 1, &a))
            return false;
        if (*i >= n)
            return fail(ps, "OR needs two search keys.");
        if (!parse_key(ps, args, n, i, depth + 1, &b))
            return false;
        k = new_key(ps, SK_OR);
        k->child = a;
        a->next = b;
        *out = k;
        return true;
    }
    /* the keys with an argument */
    static const char *const with_argument[] = {
        "BEFORE",  "ON",        "SINCE",   "SENTBEFORE", "SENTON", "SENTSINCE", "BCC",
        "CC",      "FROM",      "SUBJECT", "TO",         "HEADER", "BODY",      "TEXT",
        "KEYWORD", "UNKEYWORD", "LARGER",  "SMALLER",    "UID",    "MODSEQ"};
    size_t w = 0;
    while (w < sizeof(with_argument) / sizeof(with_argument[0]) &&
           strcasecmp(name, with_argument[w]) != 0)
        w++;
    if (w == sizeof(with_argument) / sizeof(with_argument[0]))
        return fail(ps, "Unknown search key.");
    if (*i >= n)
        return fail(ps, "Search key needs an argument.");
    const struct imap_arg *val = &args[(*i)++];
    for (size_t d = 0; d < sizeof(date_keys) / sizeof(date_keys[0]); d++) {
        if (strcasecmp(name, date_keys[d].name) == 0) {
            k = new_key(ps, date_keys[d].op);
            if (!imap_arg_get_date(val, &k->date))
                return fail(ps, "Invalid date.");
            if (k->op >= SK_SENTBEFORE)
                p->need_headers = true;
            *out = k;
            return true;
        }
    }
    for (size_t h = 0; h < sizeof(header_keys) / sizeof(header_keys[0]); h++) {
        if (strcasecmp(name, header_keys[h].name) == 0) {
            k = new_key(ps, SK_HEADER);
            k->field = header_keys[h].field;
            k->form = header_keys[h].form;
            p->need_headers = true;
            *out = k;
            return get_text(ps, val, k);
        }
    }
    if (strcasecmp(name, "HEADER") == 0) {
        const char *field;
        size_t flen;
        if (!imap_arg_get_astring(val, &field, &flen))
            return fail(ps, "Invalid header field name.");
        if (*i >= n)
            return fail(ps, "HEADER needs a field name and a string.");
        k = new_key(ps, SK_HEADER);
        k->field = arena_strndup(&p->arena, field, flen);
        k->form = SEARCH_FIELD_TEXT;
        p->need_headers = true;
        *out = k;
        return get_text(ps, &args[(*i)++], k);
    }
    if (strcasecmp(name, "BODY") == 0 || strcasecmp(name, "TEXT") == 0) {
        k = new_key(ps, strcasecmp(name, "BODY") == 0 ? SK_BODY : SK_TEXT);
        if (!get_text(ps, val, k))
            return false;
        if (k->len > 0)
            p->need_text = true;
        *out = k;
        return true;
    }
    if (strcasecmp(name, "KEYWORD") == 0 || strcasecmp(name, "UNKEYWORD") == 0) {
        const char *kw;
        if (!imap_arg_get_atom(val, &kw))
            return fail(ps, "Invalid keyword.");
        k = new_key(ps, SK_KEYWORD);
        k->str = arena_strdup(&p->arena, kw);
        *out = toupper(name[0]) == 'U' ? negate(ps, k) : k;
        return true;
    }
    if (strcasecmp(name, "LARGER") == 0 || strcasecmp(name, "SMALLER") == 0) {
        k = new_key(ps, toupper(name[0]) == 'L' ? SK_LARGER : SK_SMALLER);
        if (!imap_arg_get_number64(val, &k->number))
            return fail(ps, "Invalid size.");
        *out = k;
        return true;
    }
    if (strcasecmp(name, "UID") == 0) {
        const char *set;
        k = new_key(ps, SK_UIDSET);
        if (!imap_arg_get_atom(val, &set) || !imap_seqset_parse(set, val->len, &p->arena, &k->set))
            return fail(ps, "Invalid UID set.");
        if (k->set.saved)
            k->op = SK_SAVED;
        *out = k;
        return true;
    }
    if (strcasecmp(name, "MODSEQ") == 0) {
        /* MODSEQ [<entry-name> <entry-type-req>] <mod-sequence-valzer>: the
         * index keeps one MODSEQ per message, so the entry is ignored (RFC
         * 7162 §3.1.5 says to). */
        if (val->type == IMAP_ARG_STRING) {
            if (*i + 1 >= n || !(imap_arg_is(&args[*i], "priv") ||
                                 imap_arg_is(&args[*i], "shared") || imap_arg_is(&args[*i], "all")))
                return fail(ps, "Invalid MODSEQ entry.");
            (*i)++;
            val = &args[(*i)++];
        }
        k = new_key(ps, SK_MODSEQ);
        if (!imap_arg_get_number64(val, &k->number))
            return fail(ps, "Invalid mod-sequence.");
        p->has_modseq = true;
        *out = k;
        return true;
    }
    return fail(ps, "Unknown search key.");
}

struct search_program *imap_search_parse(const struct imap_arg *args, size_t n,
                                         const struct store_uids *saved, const char **error)
{
    struct search_program *p = xcalloc(1, sizeof(*p));
    struct parser ps = {p, NULL};
    p->root = parse_list(&ps, args, n, 0);
    if (!p->root) {
        *error = ps.error ? ps.error : "Missing search keys.";
        imap_search_free(p);
        return NULL;
    }
    if (saved && saved->count) {
        /* "$" as ranges of UIDs */
        struct imap_seqset *set = &p->saved;
        set->ranges = arena_alloc(&p->arena, saved->count * sizeof(*set->ranges));
        for (size_t i = 0; i < saved->count; i++) {
            uint32_t uid = saved->uids[i];
            if (set->count && set->ranges[set->count - 1].last + 1 == uid)
                set->ranges[set->count - 1].last = uid;
            else
                set->ranges[set->count++] = (struct imap_seq_range){uid, uid};
        }
    }
    return p;
}

static void free_candidates(struct search_key *k)
{
    for (; k; k = k->next) {
        store_uids_free(&k->candidates);
        free_candidates(k->child);
    }
}

void imap_search_free(struct search_program *p)
{
    if (!p)
        return;
    free_candidates(p->root);
    buf_free(&p->scratch);
    buf_free(&p->headers);
    buf_free(&p->folded_body);
    buf_free(&p->folded_headers);
    arena_free(&p->arena);
    free(p);
}

bool imap_search_has_modseq(const struct search_program *p)
{
    return p->has_modseq;
}

void search_matches_free(struct search_matches *r)
{
    free(r->bits);
    memset(r, 0, sizeof(*r));
}

/* ---- evaluation ---- */

static int cmp_range(const void *a, const void *b)
{
    const struct imap_seq_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorted, merged ranges, for a binary search per message. */
static void normalize_set(struct imap_seqset *set)
{
    if (set->count == 0)
        return;
    qsort(set->ranges, set->count, sizeof(*set->ranges), cmp_range);
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++) {
        if (n && (uint64_t)set->ranges[i].first <= (uint64_t)set->ranges[n - 1].last + 1) {
            if (set->ranges[i].last > set->ranges[n - 1].last)
                set->ranges[n - 1].last = set->ranges[i].last;
        } else {
            set->ranges[n++] = set->ranges[i];
        }
    }
    set->count = n;
}

static bool set_has(const struct imap_seqset *set, uint32_t v)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->ranges[mid].last < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < set->count && set->ranges[lo].first <= v;
}

static bool uids_have(const struct store_uids *u, uint32_t uid)
{
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

/* The position of the first UID >= uid in the view. */
static size_t view_lower_bound(const struct store_uids *view, uint32_t uid)
{
    size_t lo = 0, hi = view->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (view->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void push_uid(struct store_uids *u, uint32_t uid)
{
    if (u->count == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->uids = xrealloc(u->uids, u->cap * sizeof(*u->uids));
    }
    u->uids[u->count++] = uid;
}

/* Midnight of the day that starts at utc_midnight, on the server's clock:
 * INTERNALDATE's day is the day the server saw (as Dovecot reckons it). */
static time_t local_midnight(time_t utc_midnight)
{
    struct tm tm;
    gmtime_r(&utc_midnight, &tm);
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static int prepare_key(struct search_program *p, struct search_key *k, struct store_mailbox *m,
                       struct buf *err)
{
    const struct store_uids *view = store_mailbox_view(m);
    int r = 0;
    switch (k->op) {
    case SK_SEQSET:
        imap_seqset_resolve(&k->set, (uint32_t)view->count);
        normalize_set(&k->set);
        break;
    case SK_UIDSET:
        imap_seqset_resolve(&k->set, view->count ? view->uids[view->count - 1] : 0);
        normalize_set(&k->set);
        break;
    case SK_BEFORE:
    case SK_ON:
    case SK_SINCE:
        k->lo = local_midnight(k->date);
        k->hi = local_midnight(k->date + 86400);
        break;
    case SK_HEADER:
    case SK_BODY:
    case SK_TEXT:
        /* each narrowing is a query and a list of UIDs: a few are enough */
        if (k->len == 0 || p->narrowed_keys >= SEARCH_MAX_NARROWED)
            break;
        p->narrowed_keys++;
        store_uids_free(&k->candidates);
        r = store_search_substring(m,
                                   k->op == SK_HEADER ? STORE_SEARCH_HEADER
                                   : k->op == SK_BODY ? STORE_SEARCH_BODY
                                                      : STORE_SEARCH_TEXT,
                                   k->raw, k->raw_len, &k->candidates, &k->narrowed, err);
        break;
    default:
        break;
    }
    for (struct search_key *c = k->child; r == 0 && c; c = c->next)
        r = prepare_key(p, c, m, err);
    return r;
}

/* Positions [*from, *to) that a key ANDed at the top can hold. */
static void bound_positions(const struct search_program *p, const struct search_key *k,
                            const struct store_uids *view, size_t *from, size_t *to)
{
    const struct imap_seqset *set = k->op == SK_SAVED ? &p->saved : &k->set;
    if (k->op != SK_SEQSET && k->op != SK_UIDSET && k->op != SK_SAVED)
        return;
    size_t lo, hi;
    if (set->count == 0) {
        lo = hi = 0;
    } else if (k->op == SK_SEQSET) {
        lo = set->ranges[0].first - 1;
        hi = set->ranges[set->count - 1].last;
    } else {
        lo = view_lower_bound(view, set->ranges[0].first);
        uint32_t last = set->ranges[set->count - 1].last;
        hi = last == UINT32_MAX ? view->count : view_lower_bound(view, last + 1);
    }
    if (hi > view->count)
        hi = view->count;
    if (lo > *from)
        *from = lo;
    if (hi < *to)
        *to = hi;
    if (*from > *to)
        *from = *to;
}

int imap_search_prepare(struct search_program *p, struct store_mailbox *m, struct search_matches *r,
                        size_t *from, size_t *to, struct buf *err)
{
    const struct store_uids *view = store_mailbox_view(m);
    search_matches_free(r);
    r->n = view->count;
    r->bits = xcalloc(view->count / 64 + 1, sizeof(*r->bits));
    int ret = prepare_key(p, p->root, m, err);
    if (ret < 0)
        return ret;
    *from = 0;
    *to = view->count;
    if (p->root->op == SK_AND) {
        for (const struct search_key *k = p->root->child; k; k = k->next)
            bound_positions(p, k, view, from, to);
    } else {
        bound_positions(p, p->root, view, from, to);
    }
    return 0;
}

enum tri { NO, YES, MAYBE };

/* What a message's evaluation can look at: the index's record always; the
 * cached header section at level 1 and up; the indexed text at level 2. */
struct msg_ctx {
    struct search_program *p;
    const struct store_message *msg;
    size_t pos;
    int level;
    const char *headers; /* the header section, at level 1 and up */
    size_t headers_len;
    const struct store_text *text;
    bool body_folded, headers_folded; /* in p->folded_body, p->folded_headers */
};

/* A message bigger than this may have header fields the full-text index
 * did not keep (it keeps 64 KiB of them, decoded): its HEADER keys are
 * checked in the header section whatever the index says. */
#define HEADER_INDEX_SAFE_SIZE (16 * 1024)
/* Date: fields' zones are within +-99:99 (RFC 5322 §3.3 zone = 4DIGIT). */
#define MAX_ZONE_SECONDS (100 * 3600)

static enum tri tri_of(bool b)
{
    return b ? YES : NO;
}

static enum tri sent_compare(const struct search_key *k, time_t written)
{
    switch (k->op) {
    case SK_SENTBEFORE:
        return tri_of(written < k->date);
    case SK_SENTON:
        return tri_of(written >= k->date && written < k->date + 86400);
    default:
        return tri_of(written >= k->date);
    }
}

static enum tri eval_sent(const struct search_key *k, const struct msg_ctx *c)
{
    const struct store_message *msg = c->msg;
    if (c->level >= 1 && c->headers) {
        /* the first Date: field; none, or one that says nothing readable,
         * matches no date */
        time_t written;
        if (!search_header_sent_date(c->headers, c->headers_len, &written))
            return NO;
        return sent_compare(k, written);
    }
    if (c->level >= 1)
        return msg->sent_date ? sent_compare(k, msg->sent_date) : NO; /* UTC, then */
    if (msg->sent_date == 0)
        return MAYBE; /* the index has no date: the header section may have one */
    /* from the UTC time alone, when no zone can change the answer */
    time_t earliest = msg->sent_date - MAX_ZONE_SECONDS;
    time_t latest = msg->sent_date + MAX_ZONE_SECONDS;
    if (k->op == SK_SENTON)
        return latest < k->date || earliest >= k->date + 86400 ? NO : MAYBE;
    enum tri a = sent_compare(k, earliest), b = sent_compare(k, latest);
    return a == b ? a : MAYBE;
}

/* The indexed text (the header part or the body part) holds the key's
 * string; the text is folded once per message, whatever the keys. */
static bool text_has(struct msg_ctx *c, bool headers, const struct search_key *k)
{
    struct buf *f = headers ? &c->p->folded_headers : &c->p->folded_body;
    bool *done = headers ? &c->headers_folded : &c->body_folded;
    if (!*done) {
        buf_reset(f);
        if (headers)
            search_fold(c->text->headers, c->text->headers_len, f);
        else
            search_fold(c->text->body, c->text->body_len, f);
        *done = true;
    }
    return memmem(f->data ? f->data : "", f->len, k->str, k->len) != NULL;
}

static enum tri eval(const struct search_key *k, struct msg_ctx *c)
{
    const struct store_message *msg = c->msg;
    struct search_program *p = c->p;
    enum tri r;
    switch (k->op) {
    case SK_AND:
        r = YES;
        for (const struct search_key *ch = k->child; ch; ch = ch->next) {
            enum tri x = eval(ch, c);
            if (x == NO)
                return NO;
            if (x == MAYBE)
                r = MAYBE;
        }
        return r;
    case SK_OR:
        r = NO;
        for (const struct search_key *ch = k->child; ch; ch = ch->next) {
            enum tri x = eval(ch, c);
            if (x == YES)
                return YES;
            if (x == MAYBE)
                r = MAYBE;
        }
        return r;
    case SK_NOT:
        r = eval(k->child, c);
        return r == MAYBE ? MAYBE : r == YES ? NO : YES;
    case SK_ALL:
        return YES;
    case SK_SEQSET:
        return tri_of(set_has(&k->set, (uint32_t)(c->pos + 1)));
    case SK_UIDSET:
        return tri_of(set_has(&k->set, msg->uid));
    case SK_SAVED:
        return tri_of(set_has(&p->saved, msg->uid));
    case SK_FLAGS:
        return tri_of((msg->flags & k->flags) == k->flags);
    case SK_KEYWORD:
        for (size_t i = 0; i < msg->keyword_count; i++)
            if (strcasecmp(msg->keywords[i], k->str) == 0)
                return YES;
        return NO;
    case SK_BEFORE:
        return tri_of(msg->internal_date < k->lo);
    case SK_ON:
        return tri_of(msg->internal_date >= k->lo && msg->internal_date < k->hi);
    case SK_SINCE:
        return tri_of(msg->internal_date >= k->lo);
    case SK_SENTBEFORE:
    case SK_SENTON:
    case SK_SENTSINCE:
        return eval_sent(k, c);
    case SK_LARGER:
        return tri_of(msg->virtual_size > k->number);
    case SK_SMALLER:
        return tri_of(msg->virtual_size < k->number);
    case SK_MODSEQ:
        return tri_of(msg->modseq >= k->number);
    case SK_HEADER:
        if (c->level >= 1)
            return tri_of(search_header_has(c->headers, c->headers_len, k->field, k->form, k->str,
                                            k->len, &p->scratch));
        if (k->narrowed && !uids_have(&k->candidates, msg->uid) &&
            msg->size <= HEADER_INDEX_SAFE_SIZE)
            return NO;
        return MAYBE;
    case SK_BODY:
    case SK_TEXT:
        if (k->len == 0)
            return YES;
        if (k->narrowed && !uids_have(&k->candidates, msg->uid))
            return NO;
        if (c->level < 2)
            return MAYBE;
        if (k->op == SK_TEXT && text_has(c, true, k))
            return YES;
        return tri_of(text_has(c, false, k));
    }
    return NO;
}

/* The header sections the index caches are cut here (mail/message.c). */
#define CACHED_HEADER_MAX (64 * 1024)
/* A longer one is read from the message file, this much of it at most. */
#define HEADER_READ_MAX (1024 * 1024)

/* The header section of a message as its file has it, up to and with the
 * blank line that ends it (or HEADER_READ_MAX bytes). */
static int read_header_section(struct store_mailbox *m, uint32_t uid, struct buf *out,
                               struct buf *err)
{
    int fd;
    int r = store_message_open(m, uid, &fd, NULL, err);
    if (r < 0)
        return r;
    buf_reset(out);
    char chunk[16384];
    while (out->len < HEADER_READ_MAX) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t from = out->len > 3 ? out->len - 3 : 0;
        buf_append(out, chunk, (size_t)n);
        const char *end = NULL;
        for (size_t i = from; !end && i + 1 < out->len; i++) {
            if (out->data[i] == '\n' && out->data[i + 1] == '\n')
                end = out->data + i + 2;
            else if (i + 2 < out->len && out->data[i] == '\n' && out->data[i + 1] == '\r' &&
                     out->data[i + 2] == '\n')
                end = out->data + i + 3;
        }
        if (end) {
            out->len = (size_t)(end - out->data);
            out->data[out->len] = '\0';
            break;
        }
    }
    close(fd);
    return 0;
}

static void mark(struct search_matches *r, size_t pos, uint64_t modseq)
{
    if (search_matches_has(r, pos))
        return;
    r->bits[pos / 64] |= (uint64_t)1 << (pos % 64);
    if (r->count == 0 || pos < r->first) {
        r->first = pos;
        r->first_modseq = modseq;
    }
    if (r->count == 0 || pos > r->last) {
        r->last = pos;
        r->last_modseq = modseq;
    }
    if (modseq > r->highest_modseq)
        r->highest_modseq = modseq;
    r->count++;
}

/* The UIDs as a set the store takes. */
static struct store_uid_range *uid_set(const struct store_uids *u)
{
    struct store_uid_range *set = xmalloc((u->count ? u->count : 1) * sizeof(*set));
    for (size_t i = 0; i < u->count; i++)
        set[i] = (struct store_uid_range){u->uids[i], u->uids[i]};
    return set;
}

/* The header section to search: the cached one, or the file's when the
 * cache was cut short. */
static int header_section(struct search_program *p, struct store_mailbox *m, const char *cached,
                          uint32_t uid, const char **out, size_t *len, struct buf *err)
{
    *out = cached;
    *len = cached ? strlen(cached) : 0;
    /* the index keeps the first 64 KiB of a header section */
    if (*len >= CACHED_HEADER_MAX - 2) {
        int r = read_header_section(m, uid, &p->headers, err);
        if (r == -ENOENT)
            return 0; /* expunged meanwhile: the cached part it is */
        if (r < 0)
            return r;
        *out = p->headers.data;
        *len = p->headers.len;
    }
    return 0;
}

/* The last pass, over the messages of set with their text (and header
 * sections when the program needs them): what matches is marked. */
static int pass(struct search_program *p, struct store_mailbox *m,
                const struct store_uid_range *set, size_t nset, struct search_matches *r,
                struct buf *err)
{
    const struct store_uids *view = store_mailbox_view(m);
    unsigned want = p->need_headers ? STORE_FETCH_HEADERS : 0;
    struct store_fetch_iter *it;
    struct store_text_iter *tit;
    int ret = store_fetch_begin(m, set, nset, want, &it, err);
    if (ret < 0)
        return ret;
    if ((ret = store_text_begin(m, set, nset, &tit, err)) < 0) {
        store_fetch_end(it);
        return ret;
    }
    const struct store_message *msg;
    const struct store_text *text = NULL;
    while ((ret = store_fetch_next(it, &msg, err)) > 0) {
        /* the two iterators skip what another process expunged meanwhile */
        while ((!text || text->uid < msg->uid) && (ret = store_text_next(tit, &text, err)) > 0)
            ;
        if (ret < 0)
            break;
        if (!text || text->uid != msg->uid)
            continue;
        size_t pos = view_lower_bound(view, msg->uid);
        struct msg_ctx c = {.p = p, .msg = msg, .pos = pos, .level = 2, .text = text};
        if (p->need_headers && (ret = header_section(p, m, msg->headers, msg->uid, &c.headers,
                                                     &c.headers_len, err)) < 0)
            break;
        if (eval(p->root, &c) == YES)
            mark(r, pos, msg->modseq);
    }
    store_text_end(tit);
    store_fetch_end(it);
    return ret < 0 ? ret : 0;
}

/* A pass over the index's records of [first, last] in one scan: at level 0
 * every message, on what the records hold; at level 1 the messages of
 * only (ascending), with their header sections. Those that match are
 * marked, those still undecided go to maybe (when not NULL). */
static int scan_pass(struct search_program *p, struct store_mailbox *m, uint32_t first,
                     uint32_t last, int level, const struct store_uids *only,
                     struct search_matches *r, struct store_uids *maybe, struct buf *err)
{
    const struct store_uids *view = store_mailbox_view(m);
    struct store_scan_iter *it;
    int ret = store_scan_begin(m, first, last, level >= 1 ? STORE_FETCH_HEADERS : 0, &it, err);
    if (ret < 0)
        return ret;
    const struct store_message *msg;
    size_t pos = view_lower_bound(view, first);
    while ((ret = store_scan_next(it, &msg, err)) > 0) {
        if (only && !uids_have(only, msg->uid))
            continue;
        while (view->uids[pos] < msg->uid)
            pos++;
        struct msg_ctx c = {.p = p, .msg = msg, .pos = pos, .level = level};
        if (level >= 1 && (ret = header_section(p, m, store_scan_headers(it), msg->uid, &c.headers,
                                                &c.headers_len, err)) < 0)
            break;
        enum tri t = eval(p->root, &c);
        if (t == YES)
            mark(r, pos, msg->modseq);
        else if (t == MAYBE && maybe)
            push_uid(maybe, msg->uid);
    }
    store_scan_end(it);
    return ret < 0 ? ret : 0;
}

int imap_search_run(struct search_program *p, struct store_mailbox *m, size_t from, size_t to,
                    struct search_matches *r, struct buf *err)
{
    const struct store_uids *view = store_mailbox_view(m);
    if (from >= to || to > view->count)
        return 0;
    uint32_t first = view->uids[from], last = view->uids[to - 1];
    struct store_uids maybe = {0}, still = {0};
    int ret = scan_pass(p, m, first, last, 0, NULL, r, &maybe, err);
    if (ret == 0 && maybe.count && p->need_headers) {
        /* the header section next: it may decide without the text */
        ret = scan_pass(p, m, first, last, 1, &maybe, r, p->need_text ? &still : NULL, err);
    } else {
        still = maybe;
        maybe = (struct store_uids){0};
    }
    if (ret == 0 && still.count && p->need_text) {
        struct store_uid_range *set = uid_set(&still);
        ret = pass(p, m, set, still.count, r, err);
        free(set);
    }
    store_uids_free(&maybe);
    store_uids_free(&still);
    return ret;
}
