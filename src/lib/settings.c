/* Reads gannet.conf: Dovecot's syntax and Dovecot's names (DESIGN.md
 * "Configuration").
 *
 * One tokenizer turns each line into statements (`key = value`,
 * `name [label] {`, `}`, `!include`), and one table of keys (name, section,
 * field offset, type, default) drives parsing, the defaults,
 * settings_dump_changed() and settings_free() alike: a new setting is a field
 * in struct settings and a row in setting_defs[], nothing else.
 *
 * This file is the parser. The table and the defaults are in
 * settings-schema.c, the value parsers and validators in settings-check.c,
 * the dump in settings-dump.c, variable expansion in settings-vars.c. */
#include "lib/settings-private.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file or a `<file` value is read whole; anything bigger than this
 * is a mistake (a log file named by accident), not a configuration. */
#define SETTINGS_MAX_FILE_SIZE (1024 * 1024)
/* Deep enough for conf.d layouts, shallow enough to stop runaway globs. */
#define SETTINGS_MAX_INCLUDE_DEPTH 16
/* The grammar nests at most service > listener. */
#define SETTINGS_MAX_SECTION_DEPTH 2

/* For messages. */
static const char *const section_kind_names[] = {
    [SEC_TOP] = "top level",
    [SEC_SERVICE] = "service",
    [SEC_INET_LISTENER] = "inet_listener",
    [SEC_UNIX_LISTENER] = "unix_listener",
    [SEC_PASSDB] = "passdb",
    [SEC_USERDB] = "userdb",
};

/* ---- small helpers ---- */

/* "dir/name", or name itself when it is absolute or dir is "" (the working
 * directory): relative names in a config file are relative to its directory. */
char *settings_join_path(const char *dir, const char *name)
{
    if (name[0] == '/' || dir[0] == '\0')
        return xstrdup(name);
    struct buf b = BUF_INIT;
    buf_puts(&b, dir);
    if (b.len > 0 && b.data[b.len - 1] != '/')
        buf_putc(&b, '/');
    buf_puts(&b, name);
    return buf_steal(&b);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return xstrdup("");
    return xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Reads a whole file of at most `limit` bytes. Returns 0 or an errno value
 * (EFBIG when the file is larger). */
static int read_file_limited(const char *path, size_t limit, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e != 0) {
        close(fd);
        return e;
    }
    /* One allocation for regular files: a private key is not left behind in
     * blocks that realloc() freed. */
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size <= limit)
        buf_reserve(out, (size_t)st.st_size + 4096);
    for (;;) {
        buf_reserve(out, 4096);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > limit) {
            e = EFBIG;
            break;
        }
    }
    close(fd);
    return e;
}

/* ---- the parser ---- */

struct frame {
    const struct section_def *def;
    char *label;   /* owned; NULL when the section has none */
    unsigned line; /* where it was opened */
    size_t index;  /* the listener or db that its settings go to */
};

/* One file being read; they form a stack through `parent` (the includers). */
struct input {
    const char *path; /* as shown in messages */
    char *dir;        /* for relative names in it; "" for the working directory */
    char *real;       /* realpath(), to find include loops */
    unsigned line;
    unsigned nesting;
    size_t depth_at_start; /* a file closes the sections it opens, no others */
    struct input *parent;
};

struct parser {
    struct settings *set;
    struct buf *err;
    struct input *in;
    struct frame frames[SETTINGS_MAX_SECTION_DEPTH];
    size_t depth;
    bool skip_tls_files; /* keep the paths of ssl_cert/ssl_key, don't read them */
};

/* Every error is "FILE:LINE: message" and stops the parse. */
__attribute__((format(printf, 2, 3))) static int fail(struct parser *p, const char *fmt, ...)
{
    if (p->in != NULL)
        buf_printf(p->err, "%s:%u: ", p->in->path, p->in->line);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(p->err, fmt, ap);
    va_end(ap);
    return -1;
}

static enum section_kind current_kind(const struct parser *p)
{
    return p->depth == 0 ? SEC_TOP : p->frames[p->depth - 1].def->kind;
}

/* The struct that the keys of the current section are written to. */
static void *section_object(struct parser *p)
{
    const struct frame *f = p->depth == 0 ? NULL : &p->frames[p->depth - 1];
    switch (current_kind(p)) {
    case SEC_TOP:
        return p->set;
    case SEC_INET_LISTENER:
    case SEC_UNIX_LISTENER:
        return &p->set->listeners[f->index];
    case SEC_PASSDB:
        return &p->set->passdbs[f->index];
    case SEC_USERDB:
        return &p->set->userdbs[f->index];
    case SEC_SERVICE:
        break;
    }
    return NULL;
}

/* "..." or '...', with the escapes of Dovecot's str_unescape(): \n, \r, \t,
 * and \x for any other x. False when the closing quote is missing. */
static bool read_quoted(const char **sp, struct buf *out)
{
    const char *s = *sp;
    char quote = *s++;
    for (; *s != quote; s++) {
        if (*s == '\0')
            return false;
        if (*s == '\\' && s[1] != '\0') {
            s++;
            buf_putc(out, *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : *s);
        } else {
            buf_putc(out, *s);
        }
    }
    *sp = s + 1;
    return true;
}

static bool ends_name(char c)
{
    return c == '\0' || is_blank(c) || c == '=' || c == '{' || c == '}' || c == '#';
}

/* A setting or section name, or a section label. */
static int read_name(struct parser *p, const char **sp, struct buf *out)
{
    const char *s = *sp;
    if (*s == '"' || *s == '\'') {
        if (!read_quoted(sp, out))
            return fail(p, "missing closing %c", *s);
        return 0;
    }
    while (!ends_name(*s))
        s++;
    buf_append(out, *sp, (size_t)(s - *sp));
    *sp = s;
    return 0;
}

/* Whether s starts `key =` for a key of the current section. Inside a section
 * a bare value stops there, so that `inet_listener imaps { port = 993 ssl = yes }`
 * reads as two settings; only known keys count, so that
 * `args = uid=vmail gid=vmail home=/var/mail/%d/%n` keeps all its words. */
static bool starts_assignment(const struct parser *p, const char *s)
{
    const char *start = s;
    while (isalnum((unsigned char)*s) || *s == '_')
        s++;
    return s != start && *skip_blanks(s) == '=' &&
           settings_find(start, (size_t)(s - start), current_kind(p)) != NULL;
}

/* A bare value: up to the end of the line or a '#', without surrounding
 * blanks. Inside a section (where several statements may share a line) it
 * also ends at blanks followed by '}' or by another `key =`. */
static void read_bare(const struct parser *p, const char **sp, struct buf *out, bool to_eol)
{
    const char *s = skip_blanks(*sp), *start = s;
    while (*s != '\0' && *s != '#') {
        if (!to_eol && p->depth > 0 && is_blank(*s)) {
            const char *next = skip_blanks(s);
            if (*next == '}' || *next == '#' || *next == '\0' || starts_assignment(p, next))
                break;
            s = next;
            continue;
        }
        s++;
    }
    const char *end = s;
    while (end > start && is_blank(end[-1]))
        end--;
    buf_append(out, start, (size_t)(end - start));
    *sp = s;
}

/* The value after `key =` (or after `!include`): quoted, `<file`, or bare.
 * *path is set (joined with the file's directory) for `<file`. */
static int read_value(struct parser *p, const char **sp, const char *key, bool to_eol,
                      struct buf *out, char **path)
{
    const char *s = skip_blanks(*sp);
    *path = NULL;
    if (*s == '"' || *s == '\'') {
        char quote = *s;
        if (!read_quoted(&s, out))
            return fail(p, "%s: missing closing %c at the end of the value", key, quote);
        s = skip_blanks(s);
        /* Outside sections one line holds one statement. */
        if ((to_eol || p->depth == 0) && *s != '\0' && *s != '#')
            return fail(p, "%s: unexpected '%s' after the quoted value", key, s);
        *sp = s;
        return 0;
    }
    if (*s == '<' && !to_eol) {
        struct buf name = BUF_INIT;
        s++;
        read_bare(p, &s, &name, false);
        if (name.len == 0) {
            buf_free(&name);
            return fail(p, "%s: expected a file name after '<'", key);
        }
        *path = settings_join_path(p->in->dir, name.data);
        buf_free(&name);
        *sp = s;
        return 0;
    }
    read_bare(p, &s, out, to_eol);
    *sp = s;
    return 0;
}

/* The error for a key that is not valid where it is: unknown everywhere, or
 * known in another section. */
static int unknown_setting(struct parser *p, const char *key)
{
    enum section_kind here = current_kind(p);
    const struct section_def *sd = settings_find_section(key);
    if (sd != NULL)
        return fail(p, "'%s' is a section, not a setting: expected '%s%s {'", key, key,
                    sd->needs_label ? " NAME" : "");
    const struct setting_def *d = settings_find_anywhere(key);
    if (d == NULL && here == SEC_TOP)
        return fail(p, "unknown setting '%s'", key);
    if (d == NULL)
        return fail(p, "unknown setting '%s' in section '%s'", key, section_kind_names[here]);
    if (d->section == SEC_TOP)
        return fail(p, "'%s' is a global setting: it cannot be set inside section '%s'", key,
                    section_kind_names[here]);
    if (here == SEC_TOP)
        return fail(p, "'%s' can only be set inside a section '%s', not at the top level", key,
                    section_kind_names[d->section]);
    return fail(p, "'%s' can only be set inside a section '%s', not inside '%s'", key,
                section_kind_names[d->section], section_kind_names[here]);
}

/* `<file` values: the exact contents for V_FILE (PEM), trimmed otherwise
 * (`login_greeting = </etc/gannet/greeting` has a final newline). */
static int read_value_file(struct parser *p, const char *path, const struct setting_def *d,
                           struct buf *out)
{
    int e = read_file_limited(path, SETTINGS_MAX_FILE_SIZE, out);
    if (e == EFBIG)
        return fail(p, "cannot read '%s': larger than %d bytes", path, SETTINGS_MAX_FILE_SIZE);
    if (e != 0)
        return fail(p, "cannot read '%s': %s", path, strerror(e));
    if (out->len > 0 && memchr(out->data, '\0', out->len) != NULL)
        return fail(p, "cannot use '%s': it contains a NUL byte", path);
    if (d->type != V_FILE) {
        size_t start = 0, end = out->len;
        while (start < end && isspace((unsigned char)out->data[start]))
            start++;
        while (end > start && isspace((unsigned char)out->data[end - 1]))
            end--;
        if (out->data != NULL) {
            memmove(out->data, out->data + start, end - start);
            out->len = end - start;
            out->data[out->len] = '\0';
        }
    }
    return 0;
}

static int parse_assignment(struct parser *p, const char **sp, const char *key)
{
    const struct setting_def *d = settings_find(key, strlen(key), current_kind(p));
    if (d == NULL)
        return unknown_setting(p, key);
    struct buf value = BUF_INIT, why = BUF_INIT;
    char *path = NULL;
    int ret = read_value(p, sp, key, false, &value, &path);
    if (ret == 0 && path != NULL && !(p->skip_tls_files && d->type == V_FILE))
        ret = read_value_file(p, path, d, &value);
    if (ret == 0 && !setting_store_value(d, section_object(p), buf_cstr(&value), path, &why))
        ret = fail(p, "%s: %s", key, buf_cstr(&why));
    free(path);
    buf_free_secret(&value); /* it may have been ssl_key */
    buf_free(&why);
    return ret;
}

static int open_listener(struct parser *p, const struct section_def *sd, const char *label,
                         size_t *index)
{
    const char *service = p->frames[p->depth - 1].label;
    bool is_unix = sd->kind == SEC_UNIX_LISTENER;
    /* As in Dovecot, naming a listener again (or a default one) changes it. */
    for (size_t i = 0; i < p->set->n_listeners; i++) {
        const struct listener_settings *l = &p->set->listeners[i];
        if (strcmp(l->service, service) == 0 && strcmp(l->name, label) == 0 &&
            (l->path != NULL) == is_unix) {
            *index = i;
            return 0;
        }
    }
    char *path = NULL;
    if (is_unix) {
        struct buf norm = BUF_INIT, why = BUF_INIT;
        if (!settings_check_socket_path(label, &norm, &why)) {
            int ret = fail(p, "unix_listener: %s", buf_cstr(&why));
            buf_free(&norm);
            buf_free(&why);
            return ret;
        }
        path = buf_steal(&norm);
        buf_free(&why);
    }
    settings_add_listener(p->set, service, label)->path = path;
    *index = p->set->n_listeners - 1;
    return 0;
}

static size_t add_db(struct parser *p, struct db_settings **dbs, size_t *n)
{
    *dbs = xrealloc(*dbs, (*n + 1) * sizeof(**dbs));
    struct db_settings *db = &(*dbs)[*n];
    memset(db, 0, sizeof(*db));
    db->file = xstrdup(p->in->path);
    db->line = (int)p->in->line;
    return (*n)++;
}

static int open_section(struct parser *p, const char *name, const char *label)
{
    const struct section_def *sd = settings_find_section(name);
    enum section_kind here = current_kind(p);
    if (sd == NULL)
        return settings_find_anywhere(name) ? fail(p, "expected '=' after '%s'", name)
                                            : fail(p, "unknown section '%s'", name);
    if (sd->parent != here) {
        if (sd->parent == SEC_TOP)
            return fail(p, "section '%s' must be at the top level, not inside '%s'", name,
                        section_kind_names[here]);
        return fail(p, "section '%s' can only be opened inside a section '%s'", name,
                    section_kind_names[sd->parent]);
    }
    if (sd->needs_label && label == NULL)
        return fail(p, "%s: expected a name before '{' (%s NAME {)", name, name);
    size_t index = 0;
    int ret = 0;
    switch (sd->kind) {
    case SEC_SERVICE: {
        size_t i = 0;
        while (settings_service_names[i] && strcmp(settings_service_names[i], label) != 0)
            i++;
        if (settings_service_names[i] == NULL) {
            struct buf choices = BUF_INIT;
            settings_append_choices(&choices, settings_service_names,
                                    N_ELEMENTS(settings_service_names) - 1);
            ret = fail(p, "service: expected %s, got '%s'", buf_cstr(&choices), label);
            buf_free(&choices);
        }
        break;
    }
    case SEC_INET_LISTENER:
    case SEC_UNIX_LISTENER:
        ret = open_listener(p, sd, label, &index);
        break;
    case SEC_PASSDB:
        index = add_db(p, &p->set->passdbs, &p->set->n_passdbs);
        break;
    case SEC_USERDB:
        index = add_db(p, &p->set->userdbs, &p->set->n_userdbs);
        break;
    case SEC_TOP:
        break;
    }
    if (ret < 0)
        return ret;
    if (p->depth == SETTINGS_MAX_SECTION_DEPTH) /* the parent checks make this unreachable */
        return fail(p, "sections nested too deep");
    p->frames[p->depth++] = (struct frame){
        .def = sd, .label = label ? xstrdup(label) : NULL, .line = p->in->line, .index = index};
    return 0;
}

static int close_section(struct parser *p)
{
    if (p->depth == p->in->depth_at_start)
        return fail(p, p->depth == 0 ? "unexpected '}': no section is open"
                                     : "unexpected '}': the section was opened in another file");
    struct frame *f = &p->frames[p->depth - 1];
    if (f->def->kind == SEC_PASSDB || f->def->kind == SEC_USERDB) {
        const struct db_settings *db = section_object(p);
        if (db->driver == NULL)
            return fail(p,
                        "%s section opened at line %u has no driver: expected "
                        "'driver = passwd-file' or 'driver = static'",
                        f->def->name, f->line);
    }
    free(f->label);
    p->depth--;
    return 0;
}

static int parse_file(struct parser *p, const char *path, bool missing_ok);

/* `!include PATTERN` and `!include_try PATTERN`: relative to the including
 * file's directory, globs expanded in sorted order as Dovecot does. */
static int parse_include(struct parser *p, const char *arg, bool missing_ok)
{
    char *pattern = settings_join_path(p->in->dir, arg);
    int ret = 0;
    if (strpbrk(pattern, "*?[{") == NULL) {
        ret = parse_file(p, pattern, missing_ok);
        free(pattern);
        return ret;
    }
    glob_t g;
    int rc = glob(pattern, GLOB_BRACE, NULL, &g);
    if (rc == GLOB_NOMATCH)
        ret = missing_ok ? 0 : fail(p, "!include: no file matches '%s'", pattern);
    else if (rc != 0)
        ret = fail(p, "!include: cannot expand '%s'", pattern);
    for (size_t i = 0; rc == 0 && ret == 0 && i < g.gl_pathc; i++)
        ret = parse_file(p, g.gl_pathv[i], missing_ok);
    if (rc == 0)
        globfree(&g);
    free(pattern);
    return ret;
}

static int parse_directive(struct parser *p, const char *s)
{
    size_t n = strcspn(s, " \t\r#");
    bool missing_ok;
    if (n == 8 && strncmp(s, "!include", n) == 0)
        missing_ok = false;
    else if (n == 12 && strncmp(s, "!include_try", n) == 0)
        missing_ok = true;
    else
        return fail(p, "unknown directive '%.*s' (expected !include or !include_try)", (int)n, s);
    char *directive = xstrndup(s, n), *unused;
    struct buf arg = BUF_INIT;
    s += n;
    int ret = read_value(p, &s, directive, true, &arg, &unused);
    if (ret == 0 && arg.len == 0)
        ret = fail(p, "%s: expected a file name", directive);
    if (ret == 0)
        ret = parse_include(p, arg.data, missing_ok);
    buf_free(&arg);
    free(directive);
    return ret;
}

/* One line: any number of statements (several in one-line sections). */
static int parse_line(struct parser *p, const char *s)
{
    struct buf name = BUF_INIT, label = BUF_INIT;
    int ret = 0;
    while (ret == 0) {
        s = skip_blanks(s);
        if (*s == '\0' || *s == '#')
            break;
        if (*s == '}') {
            s++;
            ret = close_section(p);
            continue;
        }
        if (*s == '!') {
            ret = parse_directive(p, s);
            break;
        }
        if (*s == '=' || *s == '{') {
            ret = fail(p, "expected a setting or section name before '%c'", *s);
            break;
        }
        buf_reset(&name);
        buf_reset(&label);
        if ((ret = read_name(p, &s, &name)) < 0)
            break;
        s = skip_blanks(s);
        if (*s == '=') {
            s++;
            ret = parse_assignment(p, &s, buf_cstr(&name));
            continue;
        }
        bool has_label = *s != '\0' && *s != '#' && *s != '{' && *s != '}';
        if (has_label) {
            if ((ret = read_name(p, &s, &label)) < 0)
                break;
            s = skip_blanks(s);
        }
        if (*s == '{') {
            s++;
            ret = open_section(p, buf_cstr(&name), has_label ? buf_cstr(&label) : NULL);
            continue;
        }
        if (settings_find_section(buf_cstr(&name)) != NULL)
            ret = fail(p, "expected '{' after '%s%s%s'", buf_cstr(&name), has_label ? " " : "",
                       buf_cstr(&label));
        else
            ret = fail(p, "expected '=' after '%s'", buf_cstr(&name));
    }
    buf_free(&name);
    buf_free(&label);
    return ret;
}

static int parse_text(struct parser *p, const struct buf *text)
{
    struct buf line = BUF_INIT;
    int ret = 0;
    if (text->len == 0)
        return 0;
    const char *pos = text->data, *end = text->data + text->len;
    while (ret == 0 && pos < end) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        size_t len = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
        p->in->line++;
        if (memchr(pos, '\0', len) != NULL) {
            ret = fail(p, "unexpected NUL byte");
            break;
        }
        buf_reset(&line);
        buf_append(&line, pos, len);
        ret = parse_line(p, buf_cstr(&line));
        pos = nl ? nl + 1 : end;
    }
    buf_free(&line);
    return ret;
}

static int parse_file(struct parser *p, const char *path, bool missing_ok)
{
    unsigned nesting = p->in ? p->in->nesting + 1 : 0;
    if (nesting > SETTINGS_MAX_INCLUDE_DEPTH)
        return fail(p, "!include: more than %d files nested in each other",
                    SETTINGS_MAX_INCLUDE_DEPTH);
    char *real = realpath(path, NULL);
    if (real == NULL) {
        int e = errno;
        if (missing_ok && e == ENOENT)
            return 0;
        return fail(p, "cannot read '%s': %s", path, strerror(e));
    }
    for (const struct input *in = p->in; in != NULL; in = in->parent) {
        if (strcmp(in->real, real) == 0) {
            free(real);
            return fail(p, "!include loop: '%s' is already being read", path);
        }
    }
    struct buf text = BUF_INIT;
    int e = read_file_limited(path, SETTINGS_MAX_FILE_SIZE, &text);
    if (e != 0) {
        free(real);
        buf_free(&text);
        if (e == EFBIG)
            return fail(p, "cannot read '%s': larger than %d bytes", path, SETTINGS_MAX_FILE_SIZE);
        return fail(p, "cannot read '%s': %s", path, strerror(e));
    }
    struct input in = {.path = path,
                       .dir = dir_of(path),
                       .real = real,
                       .nesting = nesting,
                       .depth_at_start = p->depth,
                       .parent = p->in};
    p->in = &in;
    int ret = parse_text(p, &text);
    if (ret == 0 && p->depth > in.depth_at_start) {
        const struct frame *f = &p->frames[p->depth - 1];
        ret = fail(p, "missing '}' for section '%s' opened at line %u", f->def->name, f->line);
    }
    p->in = in.parent;
    free(in.dir);
    free(real);
    buf_free(&text);
    return ret;
}

static int load(const char *path, struct settings *out, struct buf *err, bool skip_tls_files)
{
    struct parser p = {.set = out, .err = err, .skip_tls_files = skip_tls_files};
    settings_init_defaults(out);
    out->config_path = xstrdup(path);
    int ret = parse_file(&p, path, false);
    while (p.depth > 0)
        free(p.frames[--p.depth].label);
    if (ret < 0)
        settings_free(out);
    return ret;
}

int settings_load(const char *path, struct settings *out, struct buf *err)
{
    return load(path, out, err, false);
}

int settings_load_without_tls_files(const char *path, struct settings *out, struct buf *err)
{
    return load(path, out, err, true);
}
