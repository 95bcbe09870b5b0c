#include "imap/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LIST_DEPTH 16
/* What is kept of an over-long line, to find its tag for the BAD answer. */
#define TAG_PREFIX_KEEP 64

enum parser_state { STATE_LINE, STATE_LITERAL };

struct literal_pos {
    size_t marker; /* offset of '{' in text */
    size_t data;   /* offset of the literal's first byte */
    size_t len;
};

/* Owned by its session; recreated after STARTTLS. */
struct imap_parser {
    struct imap_parser_limits limits;
    enum parser_state state;
    bool discarding; /* skipping the rest of an over-long line; survives reset */
    struct buf text; /* the command so far: line text and literal bytes inline */
    size_t line_bytes; /* text outside literals */
    size_t literal_left;
    struct literal_pos *literals;
    size_t n_literals, cap_literals;

    /* the parsed command */
    struct imap_command cmd;
    char **allocs;
    size_t n_allocs, cap_allocs;
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

static void *parser_alloc(struct imap_parser *p, size_t size)
{
    if (p->n_allocs == p->cap_allocs) {
        p->cap_allocs = p->cap_allocs ? p->cap_allocs * 2 : 16;
        p->allocs = xrealloc(p->allocs, p->cap_allocs * sizeof(*p->allocs));
    }
    char *mem = xcalloc(1, size);
    p->allocs[p->n_allocs++] = mem;
    return mem;
}

void imap_parser_reset(struct imap_parser *p)
{
    for (size_t i = 0; i < p->n_allocs; i++)
        free(p->allocs[i]);
    p->n_allocs = 0;
    memset(&p->cmd, 0, sizeof(p->cmd));
    p->tag = NULL;
    p->error[0] = '\0';
    p->n_args_total = 0;
    buf_reset(&p->text);
    p->line_bytes = 0;
    p->n_literals = 0;
    p->literal_left = 0;
    p->state = STATE_LINE;
}

void imap_parser_free(struct imap_parser *p)
{
    if (!p)
        return;
    imap_parser_reset(p);
    free(p->allocs);
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

/* ---- tokenizing a complete command ---- */

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

static char *copy_str(struct imap_parser *p, const char *s, size_t len)
{
    char *c = parser_alloc(p, len + 1);
    memcpy(c, s, len);
    return c;
}

static bool parse_args(struct cursor *cur, struct imap_arg **out, size_t *n_out, int depth);

static bool parse_quoted(struct cursor *cur, struct imap_arg *arg)
{
    struct imap_parser *p = cur->p;
    char *val = parser_alloc(p, cur->end - cur->pos + 1);
    size_t n = 0;
    cur->pos++; /* opening quote */
    while (cur->pos < cur->end) {
        unsigned char c = (unsigned char)cur->s[cur->pos++];
        if (c == '"') {
            arg->type = IMAP_ARG_STRING;
            arg->str = val;
            arg->len = n;
            return true;
        }
        if (c == '\\') {
            if (cur->pos >= cur->end)
                break;
            c = (unsigned char)cur->s[cur->pos++];
            if (c != '\\' && c != '"')
                return set_error(p, "Invalid escape in a quoted string.");
        } else if (c == '\0' || c == '\r' || c == '\n') {
            return set_error(p, "Invalid character in a quoted string.");
        }
        val[n++] = (char)c;
    }
    return set_error(p, "Missing '\"' at the end of a quoted string.");
}

static bool parse_literal(struct cursor *cur, struct imap_arg *arg)
{
    struct imap_parser *p = cur->p;
    if (cur->next_literal >= p->n_literals || p->literals[cur->next_literal].marker != cur->pos)
        return set_error(p, "A literal must end its line.");
    const struct literal_pos *lit = &p->literals[cur->next_literal++];
    arg->type = IMAP_ARG_STRING;
    arg->literal = true;
    arg->str = copy_str(p, cur->s + lit->data, lit->len);
    arg->len = lit->len;
    cur->pos = lit->data + lit->len;
    return true;
}

/* An atom; a '[' inside it runs to the matching ']' and may hold spaces and
 * parentheses (BODY[HEADER.FIELDS (FROM)]). */
static bool parse_atom(struct cursor *cur, struct imap_arg *arg)
{
    size_t start = cur->pos;
    int brackets = 0;
    while (cur->pos < cur->end) {
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
    if (cur->pos == start)
        return set_error(cur->p, "Invalid characters in the command.");
    size_t len = cur->pos - start;
    if (len == 3 && strncasecmp(cur->s + start, "NIL", 3) == 0) {
        arg->type = IMAP_ARG_NIL;
        arg->str = NULL;
        return true;
    }
    arg->type = IMAP_ARG_ATOM;
    arg->str = copy_str(cur->p, cur->s + start, len);
    arg->len = len;
    return true;
}

static bool parse_one(struct cursor *cur, struct imap_arg *arg, int depth)
{
    char c = cur->s[cur->pos];
    if (c == '"')
        return parse_quoted(cur, arg);
    if (c == '{')
        return parse_literal(cur, arg);
    if (c == '(') {
        if (depth >= MAX_LIST_DEPTH)
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

/* Space-separated arguments up to the end or a ')'. */
static bool parse_args(struct cursor *cur, struct imap_arg **out, size_t *n_out, int depth)
{
    struct imap_parser *p = cur->p;
    size_t cap = 0, n = 0;
    struct imap_arg *args = NULL;
    bool first = true;
    while (cur->pos < cur->end && cur->s[cur->pos] != ')') {
        if (!first || depth == 0) {
            if (cur->s[cur->pos] != ' ')
                return set_error(p, "Expected a space between arguments.");
            cur->pos++;
            if (cur->pos >= cur->end || cur->s[cur->pos] == ' ' ||
                (cur->s[cur->pos] == ')' && depth == 0))
                return set_error(p, "Unexpected space or end of line.");
        }
        first = false;
        if (cur->s[cur->pos] == ')' && depth > 0)
            break;
        if (++p->n_args_total > p->limits.max_args)
            return set_error(p, "Too many arguments.");
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            struct imap_arg *bigger = parser_alloc(p, cap * sizeof(*bigger));
            if (n)
                memcpy(bigger, args, n * sizeof(*args));
            args = bigger;
        }
        memset(&args[n], 0, sizeof(args[n]));
        if (!parse_one(cur, &args[n], depth))
            return false;
        n++;
    }
    if (depth == 0 && cur->pos < cur->end)
        return set_error(p, "Unexpected ')'.");
    *out = args;
    *n_out = n;
    return true;
}

static bool tokenize(struct imap_parser *p)
{
    struct cursor cur = {.p = p, .s = p->text.data ? p->text.data : "", .end = p->text.len};
    size_t start = 0;
    while (cur.pos < cur.end && is_tag_char((unsigned char)cur.s[cur.pos]))
        cur.pos++;
    if (cur.pos == 0 || cur.pos >= cur.end || cur.s[cur.pos] != ' ') {
        if (cur.pos == cur.end && cur.pos > 0)
            p->tag = copy_str(p, cur.s, cur.pos);
        return set_error(p, cur.end == 0 ? "Empty command line." : "Missing command name.");
    }
    p->tag = copy_str(p, cur.s, cur.pos);
    p->cmd.tag = p->tag;
    start = ++cur.pos;
    while (cur.pos < cur.end && is_atom_char((unsigned char)cur.s[cur.pos]))
        cur.pos++;
    if (cur.pos == start)
        return set_error(p, "Missing command name.");
    p->cmd.name = copy_str(p, cur.s + start, cur.pos - start);
    return parse_args(&cur, &p->cmd.args, &p->cmd.n_args, 0);
}

/* ---- assembling lines and literals ---- */

static void keep_tag_of_discarded(struct imap_parser *p)
{
    size_t n = 0;
    const char *s = buf_cstr(&p->text);
    while (n < p->text.len && is_tag_char((unsigned char)s[n]))
        n++;
    if (n > 0 && n < p->text.len && s[n] == ' ')
        p->tag = copy_str(p, s, n);
}

/* Does the line just read end with {N} or {N+}? */
static bool ends_with_literal(const char *s, size_t len, size_t *marker, size_t *size, bool *sync)
{
    if (len < 3 || s[len - 1] != '}')
        return false;
    size_t i = len - 1;
    *sync = true;
    if (s[i - 1] == '+') {
        *sync = false;
        i--;
    }
    size_t digits_end = i;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    if (i == digits_end || i == 0 || s[i - 1] != '{' || digits_end - i > 19)
        return false;
    unsigned long long v = strtoull(s + i, NULL, 10);
    *marker = i - 1;
    *size = (size_t)v;
    return true;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed)
{
    size_t used = 0;
    while (used < len) {
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
        size_t room = p->limits.max_line > p->line_bytes ? p->limits.max_line - p->line_bytes : 0;
        if (n > room) {
            /* Too long: answer now, keeping only enough to find the tag, and
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
        buf_append(&p->text, data + used, n);
        p->line_bytes += n;
        used += n;
        if (!nl) {
            *consumed = used;
            return IMAP_PARSE_NEED_MORE;
        }
        used++; /* the LF */
        *consumed = used;
        size_t line_start = p->n_literals ? p->literals[p->n_literals - 1].data +
                                                p->literals[p->n_literals - 1].len
                                          : 0;
        if (p->text.len > line_start && p->text.data[p->text.len - 1] == '\r')
            p->text.data[--p->text.len] = '\0';
        size_t marker, size;
        bool sync;
        if (ends_with_literal(p->text.data + line_start, p->text.len - line_start, &marker, &size,
                              &sync)) {
            if (size > p->limits.max_literal) {
                size_t saved = p->text.len;
                p->text.len = marker + line_start;
                keep_tag_of_discarded(p);
                p->text.len = saved;
                set_error(p, "[TOOBIG] Literal too big.");
                return sync ? IMAP_PARSE_BAD : IMAP_PARSE_FATAL;
            }
            if (p->n_literals == p->cap_literals) {
                p->cap_literals = p->cap_literals ? p->cap_literals * 2 : 4;
                p->literals = xrealloc(p->literals, p->cap_literals * sizeof(*p->literals));
            }
            p->literals[p->n_literals++] =
                (struct literal_pos){line_start + marker, p->text.len, size};
            if (size > 0) {
                p->state = STATE_LITERAL;
                p->literal_left = size;
            }
            if (sync)
                return IMAP_PARSE_CONTINUATION;
            continue;
        }
        if (!tokenize(p))
            return IMAP_PARSE_BAD;
        return IMAP_PARSE_COMMAND;
    }
    *consumed = used;
    return IMAP_PARSE_NEED_MORE;
}

/* ---- helpers for handlers and responses ---- */

bool imap_arg_is(const struct imap_arg *arg, const char *keyword)
{
    return (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_STRING) &&
           strcasecmp(arg->str, keyword) == 0 && strlen(keyword) == arg->len;
}

const char *imap_arg_astring(const struct imap_arg *arg)
{
    return arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_STRING ? arg->str : NULL;
}
