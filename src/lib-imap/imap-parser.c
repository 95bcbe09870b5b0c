#include "lib-imap/imap-parser.h"

#include "lib/buf.h"
#include "lib/number.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What is kept of an over-long line, to find its tag for the BAD answer. */
#define TAG_PREFIX_KEEP 64

enum parser_state {
    STATE_LINE,      /* reading command text up to a LF */
    STATE_LITERAL,   /* reading a held literal's bytes into text */
    STATE_STREAMING, /* the command reads a literal itself; waiting for literal_done */
};

/* Where a literal sits in the command text. */
struct literal_pos {
    size_t marker; /* offset of '{' (or '~' of "~{") in text */
    size_t data;   /* offset of its first byte; for a streamed literal, where the line goes on */
    size_t len;    /* its size */
    bool streamed; /* the bytes are not in text */
    bool sync;
    bool literal8;
};

/* Owned by its session; recreated after STARTTLS. */
struct imap_parser {
    struct imap_parser_limits limits;
    imap_parser_stream_fn *stream_fn;
    void *stream_ctx;
    bool responses; /* server responses, not commands */
    enum parser_state state;
    bool discarding; /* skipping the rest of an over-long line; survives reset */
    struct buf text; /* the command so far: line text and held literal bytes inline */
    size_t literal_left;
    struct literal_pos *literals;
    size_t n_literals, cap_literals, held_literals;
    /* list depth of the text read so far, outside quoted strings and literals:
     * only a literal at depth 0 may be streamed */
    unsigned depth;
    bool in_quote, quote_escape;

    /* The command, tokenized incrementally: arguments up to tok_pos are done. */
    struct arena arena;
    struct imap_command cmd;
    size_t args_cap;
    bool have_name;
    size_t tok_pos, tok_literal;
    size_t n_args_total;
    char error[160];
    char *tag;
};

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
    struct imap_parser *p = xcalloc(1, sizeof(*p));
    p->limits = *limits;
    return p;
}

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
    p->limits = *limits;
}

void imap_parser_set_stream(struct imap_parser *p, imap_parser_stream_fn *fn, void *ctx)
{
    p->stream_fn = fn;
    p->stream_ctx = ctx;
}

void imap_parser_set_responses(struct imap_parser *p, bool responses)
{
    p->responses = responses;
}

void imap_parser_reset(struct imap_parser *p)
{
    arena_reset(&p->arena);
    memset(&p->cmd, 0, sizeof(p->cmd));
    p->args_cap = 0;
    p->have_name = false;
    p->tok_pos = p->tok_literal = 0;
    p->tag = NULL;
    p->error[0] = '\0';
    p->n_args_total = 0;
    /* A command that grew the text far past the usual gives the memory back. */
    if (p->text.cap > 4096)
        buf_free(&p->text);
    else
        buf_reset(&p->text);
    p->n_literals = p->held_literals = 0;
    p->literal_left = 0;
    p->depth = 0;
    p->in_quote = p->quote_escape = false;
    p->state = STATE_LINE;
}

void imap_parser_free(struct imap_parser *p)
{
    if (!p)
        return;
    imap_parser_reset(p);
    arena_free(&p->arena);
    free(p->literals);
    buf_free(&p->text);
    free(p);
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
    return &p->cmd;
}

const char *imap_parser_error(const struct imap_parser *p)
{
    return p->error;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
    return p->tag;
}

struct arena *imap_parser_arena(struct imap_parser *p)
{
    return &p->arena;
}

/* ---- tokenizing ---- */

struct cursor {
    struct imap_parser *p;
    const char *s;
    size_t pos, end;
    size_t next_literal;
};

/* RFC 9051 §9: atom-specials are ( ) { SP CTL % * " \ ] ; tag also excludes +. */
static bool is_atom_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
           c != '"' && c != '\\' && c != ']';
}

static bool is_tag_char(unsigned char c)
{
    return c == ']' ? true : (is_atom_char(c) && c != '+');
}

static bool set_error(struct imap_parser *p, const char *msg)
{
    snprintf(p->error, sizeof(p->error), "%s", msg);
    return false;
}

static bool parse_args(struct cursor *cur, struct imap_arg **out, size_t *n_out, unsigned depth);

/* A quoted string, sized by its content: the closing quote is found first. */
static bool parse_quoted(struct cursor *cur, struct imap_arg *arg)
{
    struct imap_parser *p = cur->p;
    size_t start = ++cur->pos, n = 0, i = start;
    for (; i < cur->end && cur->s[i] != '"'; i++, n++) {
        unsigned char c = (unsigned char)cur->s[i];
        if (c == '\\') {
            if (++i >= cur->end)
                break;
            c = (unsigned char)cur->s[i];
            if (c != '\\' && c != '"')
                return set_error(p, "Invalid escape in a quoted string.");
        } else if (c == '\0' || c == '\r' || c == '\n') {
            return set_error(p, "Invalid character in a quoted string.");
        }
    }
    if (i >= cur->end)
        return set_error(p, "Missing '\"' at the end of a quoted string.");
    char *val = arena_alloc(&p->arena, n + 1);
    for (size_t j = start, k = 0; j < i; j++) {
        if (cur->s[j] == '\\')
            j++;
        val[k++] = cur->s[j];
    }
    arg->type = IMAP_ARG_STRING;
    arg->str = val;
    arg->len = n;
    cur->pos = i + 1;
    return true;
}

/* Is a literal announced at the cursor? */
static bool at_literal(const struct cursor *cur)
{
    const struct imap_parser *p = cur->p;
    return cur->next_literal < p->n_literals && p->literals[cur->next_literal].marker == cur->pos;
}

static bool parse_literal(struct cursor *cur, struct imap_arg *arg)
{
    struct imap_parser *p = cur->p;
    if (!at_literal(cur))
        return set_error(p, "A literal must end its line.");
    const struct literal_pos *lit = &p->literals[cur->next_literal++];
    arg->literal = true;
    arg->literal8 = lit->literal8;
    arg->len = lit->len;
    if (lit->streamed) {
        arg->type = IMAP_ARG_LITERAL_SIZE;
        arg->sync = lit->sync;
    } else {
        arg->type = IMAP_ARG_STRING;
        arg->str = arena_strndup(&p->arena, cur->s + lit->data, lit->len);
    }
    cur->pos = lit->data + (lit->streamed ? 0 : lit->len);
    return true;
}

/* An atom; a '[' inside it runs to the matching ']' and may hold spaces and
 * parentheses (BODY[HEADER.FIELDS (FROM)]). */
static bool parse_atom(struct cursor *cur, struct imap_arg *arg)
{
    size_t start = cur->pos;
    int brackets = 0;
    /* a flag is "\" atom (RFC 9051 §9 flag-extension) */
    if (cur->s[cur->pos] == '\\')
        cur->pos++;
    while (cur->pos < cur->end && !at_literal(cur)) {
        unsigned char c = (unsigned char)cur->s[cur->pos];
        if (c == '[') {
            brackets++;
        } else if (c == ']' && brackets > 0) {
            brackets--;
        } else if (brackets == 0 && !is_atom_char(c) && c != '%' && c != '*' && c != ']') {
            break;
        } else if (brackets > 0 && (c < 0x20 || c == 0x7f)) {
            break;
        }
        cur->pos++;
    }
    if (cur->pos == start || (cur->pos == start + 1 && cur->s[start] == '\\'))
        return set_error(cur->p, "Invalid characters in the command.");
    size_t len = cur->pos - start;
    arg->type =
        len == 3 && strncasecmp(cur->s + start, "NIL", 3) == 0 ? IMAP_ARG_NIL : IMAP_ARG_ATOM;
    arg->str = arena_strndup(&cur->p->arena, cur->s + start, len);
    arg->len = len;
    return true;
}

static bool parse_one(struct cursor *cur, struct imap_arg *arg, unsigned depth)
{
    char c = cur->s[cur->pos];
    if (c == '"')
        return parse_quoted(cur, arg);
    if (c == '{' || at_literal(cur))
        return parse_literal(cur, arg);
    if (c == '(') {
        if (depth >= cur->p->limits.max_depth)
            return set_error(cur->p, "Lists nested too deep.");
        cur->pos++;
        arg->type = IMAP_ARG_LIST;
        if (!parse_args(cur, &arg->list, &arg->list_len, depth + 1))
            return false;
        if (cur->pos >= cur->end || cur->s[cur->pos] != ')')
            return set_error(cur->p, "Missing ')'.");
        cur->pos++;
        return true;
    }
    return parse_atom(cur, arg);
}

/* Appends one argument slot to a growing array in the arena. */
static struct imap_arg *push_arg(struct imap_parser *p, struct imap_arg **args, size_t *n,
                                 size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        struct imap_arg *bigger = arena_alloc(&p->arena, *cap * sizeof(*bigger));
        if (*n)
            memcpy(bigger, *args, *n * sizeof(**args));
        *args = bigger;
    }
    return &(*args)[(*n)++];
}

/* The separator before an argument: one space (none first inside a list). */
static bool parse_separator(struct cursor *cur, bool first, unsigned depth)
{
    if (first && depth > 0)
        return true;
    if (cur->s[cur->pos] != ' ')
        return set_error(cur->p, "Expected a space between arguments.");
    cur->pos++;
    if (cur->pos >= cur->end || cur->s[cur->pos] == ' ' || (cur->s[cur->pos] == ')' && depth == 0))
        return set_error(cur->p, "Unexpected space or end of line.");
    return true;
}

/* Space-separated arguments of a list, up to its ')'. */
static bool parse_args(struct cursor *cur, struct imap_arg **out, size_t *n_out, unsigned depth)
{
    struct imap_parser *p = cur->p;
    size_t cap = 0, n = 0;
    struct imap_arg *args = NULL;
    while (cur->pos < cur->end && cur->s[cur->pos] != ')') {
        if (!parse_separator(cur, n == 0, depth))
            return false;
        if (++p->n_args_total > p->limits.max_args)
            return set_error(p, "Too many arguments.");
        if (!parse_one(cur, push_arg(p, &args, &n, &cap), depth))
            return false;
    }
    *out = args;
    *n_out = n;
    return true;
}

/* The words of a status response (RFC 9051 §7.1), whose resp-text is text. */
static bool is_status_word(const char *s, size_t n)
{
    static const char *const words[] = {"OK", "NO", "BAD", "PREAUTH", "BYE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
            return true;
    return false;
}

/* resp-text = ["[" resp-text-code "]" SP] text, from the cursor to the end of
 * the line: the code's name and arguments, then the text as it is. */
static bool parse_resp_text(struct cursor *cur)
{
    struct imap_parser *p = cur->p;
    if (cur->pos < cur->end && cur->s[cur->pos] == ' ')
        cur->pos++;
    if (cur->pos < cur->end && cur->s[cur->pos] == '[') {
        /* the first ']' outside a quoted string closes the code */
        size_t close = ++cur->pos;
        bool quoted = false;
        for (; close < cur->end && (quoted || cur->s[close] != ']'); close++) {
            if (cur->s[close] == '\\' && quoted)
                close++;
            else if (cur->s[close] == '"')
                quoted = !quoted;
        }
        if (close >= cur->end)
            return set_error(p, "Missing ']' after a response code.");
        size_t start = cur->pos;
        while (cur->pos < close && is_atom_char((unsigned char)cur->s[cur->pos]))
            cur->pos++;
        if (cur->pos == start)
            return set_error(p, "Missing response code.");
        p->cmd.code = arena_strndup(&p->arena, cur->s + start, cur->pos - start);
        struct cursor code = *cur;
        code.end = close;
        while (code.pos < code.end) {
            if (!parse_separator(&code, false, 0))
                return false;
            if (++p->n_args_total > p->limits.max_args)
                return set_error(p, "Too many arguments.");
            if (!parse_one(&code, push_arg(p, &p->cmd.args, &p->cmd.n_args, &p->args_cap), 0))
                return false;
        }
        cur->pos = close + 1;
        if (cur->pos < cur->end && cur->s[cur->pos] == ' ')
            cur->pos++;
    }
    p->cmd.text = arena_strndup(&p->arena, cur->s + cur->pos, cur->end - cur->pos);
    cur->pos = cur->end;
    return true;
}

/* Is the line at the cursor untagged ("* ...") or a continuation request? */
static bool is_untagged(const struct cursor *cur)
{
    return cur->end > 0 &&
           (cur->s[0] == '+' || (cur->s[0] == '*' && (cur->end == 1 || cur->s[1] == ' ')));
}

/* The "*" of untagged data or status and the name after it, or the "+" of a
 * continuation request (continue-req = "+" SP (resp-text / base64)). */
static bool parse_untagged_header(struct cursor *cur)
{
    struct imap_parser *p = cur->p;
    p->tag = arena_strndup(&p->arena, cur->s, 1);
    p->cmd.tag = p->tag;
    cur->pos = 1;
    if (cur->s[0] == '+') {
        p->cmd.name = "";
        p->have_name = true;
        return parse_resp_text(cur);
    }
    size_t start = ++cur->pos;
    while (cur->pos < cur->end && is_atom_char((unsigned char)cur->s[cur->pos]))
        cur->pos++;
    if (start > cur->end || cur->pos == start)
        return set_error(p, "Missing response name.");
    p->cmd.name = arena_strndup(&p->arena, cur->s + start, cur->pos - start);
    p->have_name = true;
    return true;
}

static bool parse_command_header(struct cursor *cur);

/* The tag and the command name; for a response, the tag (or "*") and the
 * status word, with the resp-text after it, or the name of the data. */
static bool parse_header(struct cursor *cur)
{
    struct imap_parser *p = cur->p;
    if (!p->responses)
        return parse_command_header(cur);
    if (!(is_untagged(cur) ? parse_untagged_header(cur) : parse_command_header(cur)))
        return false;
    if (p->cmd.text == NULL && is_status_word(p->cmd.name, strlen(p->cmd.name)))
        return parse_resp_text(cur);
    return true;
}

/* The tag and the command name. */
static bool parse_command_header(struct cursor *cur)
{
    struct imap_parser *p = cur->p;
    while (cur->pos < cur->end && is_tag_char((unsigned char)cur->s[cur->pos]))
        cur->pos++;
    if (cur->pos == 0 || cur->pos >= cur->end || cur->s[cur->pos] != ' ') {
        if (cur->pos == cur->end && cur->pos > 0)
            p->tag = arena_strndup(&p->arena, cur->s, cur->pos);
        return set_error(p, cur->end == 0 ? "Empty command line." : "Missing command name.");
    }
    p->tag = arena_strndup(&p->arena, cur->s, cur->pos);
    p->cmd.tag = p->tag;
    size_t start = ++cur->pos;
    while (cur->pos < cur->end && is_atom_char((unsigned char)cur->s[cur->pos]))
        cur->pos++;
    if (cur->pos == start)
        return set_error(p, "Missing command name.");
    p->cmd.name = arena_strndup(&p->arena, cur->s + start, cur->pos - start);
    p->have_name = true;
    return true;
}

/* Tokenizes the top-level arguments from where the last call stopped to the
 * end of the text read so far. */
static bool tokenize(struct imap_parser *p)
{
    struct cursor cur = {.p = p,
                         .s = p->text.data ? p->text.data : "",
                         .pos = p->tok_pos,
                         .end = p->text.len,
                         .next_literal = p->tok_literal};
    if (!p->have_name && !parse_header(&cur))
        return false;
    while (cur.pos < cur.end) {
        if (cur.s[cur.pos] == ')')
            return set_error(p, "Unexpected ')'.");
        if (!parse_separator(&cur, false, 0))
            return false;
        if (++p->n_args_total > p->limits.max_args)
            return set_error(p, "Too many arguments.");
        if (!parse_one(&cur, push_arg(p, &p->cmd.args, &p->cmd.n_args, &p->args_cap), 0))
            return false;
    }
    p->tok_pos = cur.pos;
    p->tok_literal = cur.next_literal;
    return true;
}

/* ---- assembling lines and literals ---- */

static void keep_tag_of_discarded(struct imap_parser *p)
{
    size_t n = 0;
    const char *s = buf_cstr(&p->text);
    while (n < p->text.len && is_tag_char((unsigned char)s[n]))
        n++;
    if (n > 0 && n < p->text.len && s[n] == ' ')
        p->tag = arena_strndup(&p->arena, s, n);
}

/* Follows list depth through line text (literal bytes are never scanned). */
static void track_depth(struct imap_parser *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (p->in_quote) {
            if (p->quote_escape)
                p->quote_escape = false;
            else if (c == '\\')
                p->quote_escape = true;
            else if (c == '"')
                p->in_quote = false;
        } else if (c == '"') {
            p->in_quote = true;
        } else if (c == '(') {
            p->depth++;
        } else if (c == ')' && p->depth > 0) {
            p->depth--;
        }
    }
}

/* A response whose rest is text, where "{5}" is no literal: a status
 * response or a continuation request. */
static bool is_text_response(const struct imap_parser *p)
{
    const char *s = p->text.data;
    size_t n = p->text.len;
    if (n == 0)
        return false;
    if (s[0] == '+')
        return true;
    const char *sp = memchr(s, ' ', n);
    if (sp == NULL)
        return false;
    const char *word = sp + 1;
    size_t rest = n - (size_t)(word - s);
    const char *end = memchr(word, ' ', rest);
    return is_status_word(word, end ? (size_t)(end - word) : rest);
}

/* Does the line just read end with {N}, {N+}, ~{N} or ~{N+}? */
static bool ends_with_literal(const char *s, size_t len, struct literal_pos *lit)
{
    if (len < 3 || s[len - 1] != '}')
        return false;
    size_t i = len - 1;
    lit->sync = true;
    if (s[i - 1] == '+') {
        lit->sync = false;
        i--;
    }
    size_t digits_end = i;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    if (i == digits_end || i == 0 || s[i - 1] != '{' || digits_end - i > 19)
        return false;
    uint64_t v;
    if (!mem_to_uint64(s + i, digits_end - i, &v))
        return false;
    lit->marker = i - 1;
    lit->literal8 = lit->marker > 0 && s[lit->marker - 1] == '~';
    if (lit->literal8)
        lit->marker--;
    lit->len = (size_t)v;
    return true;
}

static enum imap_parse_result refuse_literal(struct imap_parser *p, const struct literal_pos *lit,
                                             const char *why)
{
    size_t saved = p->text.len;
    p->text.len = lit->marker;
    keep_tag_of_discarded(p);
    p->text.len = saved;
    set_error(p, why);
    /* The bytes of a non-synchronizing literal come anyway: nothing sane can
     * follow, so the connection ends. */
    return lit->sync ? IMAP_PARSE_BAD : IMAP_PARSE_FATAL;
}

static void add_literal(struct imap_parser *p, const struct literal_pos *lit)
{
    if (p->n_literals == p->cap_literals) {
        p->cap_literals = p->cap_literals ? p->cap_literals * 2 : 4;
        p->literals = xrealloc(p->literals, p->cap_literals * sizeof(*p->literals));
    }
    p->literals[p->n_literals++] = *lit;
}

/* A literal was announced at the end of the line just read. */
static enum imap_parse_result start_literal(struct imap_parser *p, struct literal_pos *lit)
{
    lit->data = p->text.len;
    if (p->depth == 0 && p->stream_fn) {
        struct cursor cur = {.p = p, .s = p->text.data, .end = p->text.len};
        bool named = p->have_name;
        if (!named && parse_header(&cur)) {
            named = true;
            p->tok_pos = cur.pos;
            p->tok_literal = 0;
        }
        if (named && p->stream_fn(p->stream_ctx, p->cmd.name)) {
            lit->streamed = true;
            add_literal(p, lit);
            if (!tokenize(p))
                return lit->sync ? IMAP_PARSE_BAD : IMAP_PARSE_FATAL;
            p->state = STATE_STREAMING;
            return IMAP_PARSE_LITERAL_STREAM;
        }
        p->error[0] = '\0';
    }
    if (lit->len > p->limits.max_bytes - p->text.len)
        return refuse_literal(p, lit, "[TOOBIG] Command too long.");
    if (p->limits.max_literals && p->held_literals >= p->limits.max_literals)
        return refuse_literal(p, lit, "Too many literals.");
    add_literal(p, lit);
    p->held_literals++;
    if (lit->len > 0) {
        p->state = STATE_LITERAL;
        p->literal_left = lit->len;
    }
    return lit->sync ? IMAP_PARSE_CONTINUATION : IMAP_PARSE_NEED_MORE;
}

void imap_parser_literal_done(struct imap_parser *p)
{
    if (p->state == STATE_STREAMING)
        p->state = STATE_LINE;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed)
{
    size_t used = 0;
    while (used < len && p->state != STATE_STREAMING) {
        if (p->discarding) {
            const char *lf = memchr(data + used, '\n', len - used);
            if (!lf) {
                *consumed = len;
                return IMAP_PARSE_NEED_MORE;
            }
            used = (size_t)(lf - data) + 1;
            p->discarding = false;
            continue;
        }
        if (p->state == STATE_LITERAL) {
            size_t n = len - used < p->literal_left ? len - used : p->literal_left;
            buf_append(&p->text, data + used, n);
            used += n;
            p->literal_left -= n;
            if (p->literal_left == 0)
                p->state = STATE_LINE;
            continue;
        }
        const char *nl = memchr(data + used, '\n', len - used);
        size_t n = nl ? (size_t)(nl - (data + used)) : len - used;
        size_t room = p->limits.max_bytes > p->text.len ? p->limits.max_bytes - p->text.len : 0;
        if (n > room) {
            /* Over budget: answer now, keeping only enough to find the tag, and
             * skip the rest of the line whenever it comes. */
            size_t keep = p->text.len < TAG_PREFIX_KEEP ? TAG_PREFIX_KEEP - p->text.len : 0;
            buf_append(&p->text, data + used, n < keep ? n : keep);
            keep_tag_of_discarded(p);
            used += n;
            if (nl)
                used++;
            else
                p->discarding = true;
            *consumed = used;
            set_error(p, "Command line too long.");
            return IMAP_PARSE_BAD;
        }
        size_t line_start = p->text.len;
        buf_append(&p->text, data + used, n);
        track_depth(p, data + used, n);
        used += n;
        if (!nl)
            continue;
        used++; /* the LF */
        *consumed = used;
        /* the line started where the last literal ended */
        if (p->n_literals) {
            const struct literal_pos *last = &p->literals[p->n_literals - 1];
            line_start = last->data + (last->streamed ? 0 : last->len);
        } else {
            line_start = 0;
        }
        if (p->text.len > line_start && p->text.data[p->text.len - 1] == '\r')
            p->text.data[--p->text.len] = '\0';
        struct literal_pos lit = {0};
        if (!(p->responses && is_text_response(p)) &&
            ends_with_literal(p->text.data + line_start, p->text.len - line_start, &lit)) {
            lit.marker += line_start;
            if (p->responses)
                lit.sync = false; /* a server sends its literals without waiting */
            enum imap_parse_result r = start_literal(p, &lit);
            if (r == IMAP_PARSE_NEED_MORE)
                continue;
            return r;
        }
        if (!tokenize(p))
            return IMAP_PARSE_BAD;
        return IMAP_PARSE_COMMAND;
    }
    *consumed = used;
    return IMAP_PARSE_NEED_MORE;
}
