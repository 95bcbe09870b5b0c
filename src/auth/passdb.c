/* passdb and userdb drivers: passwd-file (Dovecot's format, so that an
 * existing /etc/dovecot/users works unchanged) and static. Lookups run on the
 * auth thread pool: every file cache is behind its own mutex. */
#include "auth/passdb.h"

#include "auth/password.h"

#include "lib/number.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A passwd-file bigger than this is a mistake (a mailbox given as the path?),
 * not a user list: refuse it instead of reading it into memory. */
#define PASSWD_FILE_MAX_SIZE (64u * 1024 * 1024)
/* Files kept per passwd-file db whose path has %-variables (one per domain). */
#define PASSWD_FILE_CACHE_MAX 128
#define PASSWD_FIELDS 8

/* ---- passwd-file parsing ------------------------------------------------- */

static void entry_free(struct passwd_entry *e)
{
    free(e->user);
    if (e->password) {
        explicit_bzero(e->password, strlen(e->password));
        free(e->password);
    }
    free(e->home);
    free(e->extra);
}

void passwd_file_free(struct passwd_file *f)
{
    for (size_t i = 0; i < f->n_entries; i++)
        entry_free(&f->entries[i]);
    free(f->entries);
    free(f->path);
    f->entries = NULL;
    f->n_entries = 0;
    f->path = NULL;
    f->typical = NULL;
    f->scram_iterations = 0;
}

/* Resolves a uid/gid field: a number or a name, as Dovecot's userdb_parse_uid()
 * accepts. Returns what is wrong (for "uid 'VALUE': ..."), NULL on success. */
static const char *parse_id(const char *s, bool is_gid, long *out)
{
    if (s[0] >= '0' && s[0] <= '9') {
        uint32_t v;
        if (!str_to_uint32(s, &v) || v == UINT32_MAX) /* (uid_t)-1 is no user */
            return "not a valid number";
        *out = (long)v;
    } else {
        long bufsize = sysconf(is_gid ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
        size_t size = bufsize > 0 ? (size_t)bufsize : 16384;
        char *buf = NULL;
        int r;
        for (;;) {
            buf = xrealloc(buf, size);
            if (is_gid) {
                struct group gr, *res = NULL;
                r = getgrnam_r(s, &gr, buf, size, &res);
                if (r == 0 && res != NULL)
                    *out = (long)gr.gr_gid;
                else if (r == 0)
                    r = ENOENT;
            } else {
                struct passwd pw, *res = NULL;
                r = getpwnam_r(s, &pw, buf, size, &res);
                if (r == 0 && res != NULL)
                    *out = (long)pw.pw_uid;
                else if (r == 0)
                    r = ENOENT;
            }
            if (r != ERANGE || size > (1u << 20))
                break;
            size *= 2;
        }
        free(buf);
        if (r != 0)
            return is_gid ? "no such group" : "no such user";
    }
    /* Mail is never owned by root (DESIGN.md: workers never run as root),
     * and Dovecot refuses uid 0 here too. */
    if (*out == 0)
        return "root (0) is not allowed";
    return NULL;
}

static bool user_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct passwd_entry *)a)->user, ((const struct passwd_entry *)b)->user);
}

/* Parses one non-comment line into e. Returns NULL, or what is wrong. */
static const char *parse_line(const char *line, size_t len, struct passwd_entry *e,
                              struct buf *detail)
{
    const char *field[PASSWD_FIELDS];
    size_t field_len[PASSWD_FIELDS];
    size_t n = 0;
    const char *p = line, *end = line + len;
    /* user:password:uid:gid:gecos:home:shell:extra_fields (extra may hold ':'). */
    while (n < PASSWD_FIELDS) {
        const char *colon = n + 1 < PASSWD_FIELDS ? memchr(p, ':', (size_t)(end - p)) : NULL;
        field[n] = p;
        field_len[n] = colon ? (size_t)(colon - p) : (size_t)(end - p);
        n++;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    if (n < 2)
        return "expected user:password[:uid:gid:gecos:home:shell:extra_fields]";
    if (!user_name_ok(field[0], field_len[0]))
        return field_len[0] == 0 ? "empty user name"
                                 : "user name contains a space or a control character";
    e->user = xstrndup(field[0], field_len[0]);
    if (field_len[1] > 0) {
        if (field[1][0] == '{' && memchr(field[1], '}', field_len[1]) == NULL)
            return "password has a '{' but no '}' closing the scheme";
        e->password = xstrndup(field[1], field_len[1]);
    }
    for (size_t i = 2; i <= 3 && i < n; i++) {
        if (field_len[i] == 0)
            continue;
        char *v = xstrndup(field[i], field_len[i]);
        const char *why = parse_id(v, i == 3, i == 2 ? &e->uid : &e->gid);
        if (why != NULL)
            buf_printf(detail, "%s '%s': %s", i == 3 ? "gid" : "uid", v, why);
        free(v);
        if (why != NULL)
            return buf_cstr(detail);
    }
    if (n > 5 && field_len[5] > 0)
        e->home = xstrndup(field[5], field_len[5]);
    if (n > 7 && field_len[7] > 0)
        e->extra = xstrndup(field[7], field_len[7]);
    return NULL;
}

int passwd_file_parse(const char *path, const char *text, size_t len, struct passwd_file *out,
                      struct buf *err)
{
    struct passwd_file f = {xstrdup(path), NULL, 0, NULL, 0};
    size_t cap = 0;
    unsigned line_no = 0;
    const char *p = text, *end = text + len;
    struct buf detail = BUF_INIT;

    memset(out, 0, sizeof(*out));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line = p;
        size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        p = nl ? nl + 1 : end;
        line_no++;
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        size_t lead = 0;
        while (lead < line_len && (line[lead] == ' ' || line[lead] == '\t'))
            lead++;
        if (lead == line_len || line[lead] == '#')
            continue;
        const char *why = NULL;
        struct passwd_entry e = {NULL, NULL, -1, -1, NULL, NULL, line_no};
        if (memchr(line, '\0', line_len) != NULL)
            why = "NUL byte in line";
        else
            why = parse_line(line, line_len, &e, &detail);
        if (why != NULL) {
            buf_printf(err, "%s:%u: %s", path, line_no, why);
            entry_free(&e);
            goto fail;
        }
        if (f.n_entries == cap) {
            cap = cap ? cap * 2 : 16;
            f.entries = xrealloc(f.entries, cap * sizeof(*f.entries));
        }
        f.entries[f.n_entries++] = e;
    }
    if (f.n_entries > 1)
        qsort(f.entries, f.n_entries, sizeof(*f.entries), entry_cmp);
    for (size_t i = 1; i < f.n_entries; i++) {
        const struct passwd_entry *a = &f.entries[i - 1], *b = &f.entries[i];
        if (strcmp(a->user, b->user) == 0) {
            /* Which line would win is a guess an administrator should not
             * have to make (a password change appended below the old one). */
            unsigned first = a->line < b->line ? a->line : b->line;
            unsigned second = a->line < b->line ? b->line : a->line;
            buf_printf(err, "%s:%u: user %s is already defined on line %u", path, second, a->user,
                       first);
            goto fail;
        }
    }
    buf_free(&detail);
    *out = f;
    return 0;
fail:
    buf_free(&detail);
    passwd_file_free(&f);
    return -1;
}

/* Reads and parses the file; *st describes what was read (for the cache). */
static int passwd_file_load_stat(const char *path, struct passwd_file *out, struct stat *st,
                                 struct buf *err)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        buf_printf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) < 0) {
        buf_printf(err, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode) || (uintmax_t)st->st_size > PASSWD_FILE_MAX_SIZE) {
        buf_printf(err, "%s: %s", path,
                   S_ISREG(st->st_mode) ? "too large for a passwd-file" : "not a regular file");
        close(fd);
        return -1;
    }
    struct buf text = BUF_INIT;
    buf_reserve(&text, (size_t)st->st_size);
    for (;;) {
        buf_reserve(&text, 4096);
        ssize_t n = read(fd, text.data + text.len, text.cap - text.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            buf_printf(err, "%s: %s", path, strerror(errno));
            close(fd);
            buf_free_secret(&text);
            return -1;
        }
        if (n == 0)
            break;
        text.len += (size_t)n;
        text.data[text.len] = '\0';
        if (text.len > PASSWD_FILE_MAX_SIZE) {
            buf_printf(err, "%s: too large for a passwd-file", path);
            close(fd);
            buf_free_secret(&text);
            return -1;
        }
    }
    close(fd);
    int r = passwd_file_parse(path, buf_cstr(&text), text.len, out, err);
    buf_free_secret(&text); /* it held the password hashes */
    return r;
}

int passwd_file_load(const char *path, struct passwd_file *out, struct buf *err)
{
    struct stat st;
    return passwd_file_load_stat(path, out, &st, err);
}

const struct passwd_entry *passwd_file_find(const struct passwd_file *f, const char *user)
{
    if (f->n_entries == 0)
        return NULL;
    struct passwd_entry key = {(char *)user, NULL, -1, -1, NULL, NULL, 0};
    return bsearch(&key, f->entries, f->n_entries, sizeof(*f->entries), entry_cmp);
}

struct kind_entry {
    char *kind;
    size_t index;
};

static int kind_entry_cmp(const void *a, const void *b)
{
    const struct kind_entry *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

void passwd_file_find_typical(struct passwd_file *f, const char *default_scheme)
{
    static const char scram[] = "SCRAM-SHA-256 ";
    struct kind_entry *k = xcalloc(f->n_entries ? f->n_entries : 1, sizeof(*k));
    size_t n = 0;
    f->typical = NULL;
    f->scram_iterations = 0;
    for (size_t i = 0; i < f->n_entries; i++) {
        if (f->entries[i].password == NULL)
            continue;
        struct buf b = BUF_INIT;
        password_kind(f->entries[i].password, default_scheme, &b);
        k[n].kind = buf_steal(&b);
        k[n].index = i;
        n++;
    }
    /* Sorted by kind, each kind is a run; the longest run wins, and the
     * longest run of SCRAM kinds gives the iteration count. Ties go to the
     * kind that sorts first, so that the choice never depends on the order
     * of the lines. */
    qsort(k, n, sizeof(*k), kind_entry_cmp);
    size_t best = 0, best_scram = 0;
    for (size_t run = 0; run < n;) {
        size_t end = run + 1;
        while (end < n && strcmp(k[end].kind, k[run].kind) == 0)
            end++;
        if (end - run > best) {
            best = end - run;
            f->typical = &f->entries[k[run].index];
        }
        if (strncmp(k[run].kind, scram, sizeof(scram) - 1) == 0 && end - run > best_scram) {
            uint32_t iter;
            if (str_to_uint32(k[run].kind + sizeof(scram) - 1, &iter) && iter > 0) {
                best_scram = end - run;
                f->scram_iterations = iter;
            }
        }
        run = end;
    }
    for (size_t i = 0; i < n; i++)
        free(k[i].kind);
    free(k);
}

/* ---- the configured databases --------------------------------------------- */

struct cached_file {
    char *path;
    struct passwd_file file;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint64_t last_used;
};

enum db_driver { DB_PASSWD_FILE, DB_STATIC };

/* One passdb or userdb section. Owned by its struct authdb. */
struct db {
    enum db_driver driver;
    char *where; /* "FILE:LINE" of the section */
    /* passwd-file */
    char *path; /* may hold %u %n %d */
    bool path_has_vars;
    char *username_format; /* NULL: the user name as given */
    char *default_scheme;  /* scheme=, NULL: CRYPT */
    pthread_mutex_t lock;  /* guards the cache */
    struct cached_file *cache;
    size_t n_cache;
    uint64_t clock;
    /* static */
    long uid, gid;
    char *home;
    bool allow_all_users;
};

struct authdb {
    struct db *passdbs;
    size_t n_passdbs;
    struct db *userdbs;
    size_t n_userdbs;
};

static void cached_file_free(struct cached_file *c)
{
    free(c->path);
    passwd_file_free(&c->file);
}

static void db_free(struct db *d)
{
    if (d->driver == DB_PASSWD_FILE) {
        for (size_t i = 0; i < d->n_cache; i++)
            cached_file_free(&d->cache[i]);
        free(d->cache);
        pthread_mutex_destroy(&d->lock);
    }
    free(d->where);
    free(d->path);
    free(d->username_format);
    free(d->default_scheme);
    free(d->home);
}

void authdb_free(struct authdb *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->n_passdbs; i++)
        db_free(&db->passdbs[i]);
    for (size_t i = 0; i < db->n_userdbs; i++)
        db_free(&db->userdbs[i]);
    free(db->passdbs);
    free(db->userdbs);
    free(db);
}

/* Expands tmpl for user into out. Each '/'-separated part of the template
 * that holds a variable must expand to a plain name: not empty ("%d" of a
 * user without a domain would turn /etc/gannet/%d/users into
 * /etc/gannet/users), not "." or "..", no '/' and no control character.
 * Otherwise false: the user name would reach a file or a directory the
 * administrator did not mean, and such a user is nobody. User names get here
 * from the login and from LMTP's RCPT TO. For a home directory, a user
 * without a domain may leave %d empty (home=/var/mail/%d/%n gives
 * /var/mail//bob, which is still under /var/mail): empty_domain_ok. */
static bool expand_for_user(const char *tmpl, const char *user, bool empty_domain_ok,
                            struct buf *out)
{
    buf_reset(out);
    if (strchr(tmpl, '%') == NULL) {
        buf_puts(out, tmpl);
        return true;
    }
    struct buf part = BUF_INIT;
    bool ok = true;
    const char *p = tmpl;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (memchr(p, '%', n) == NULL) {
            buf_append(out, p, n);
        } else {
            char *t = xstrndup(p, n);
            buf_reset(&part);
            settings_expand_vars(t, user, NULL, &part);
            free(t);
            const char *v = buf_cstr(&part);
            bool empty_ok = empty_domain_ok && strchr(user, '@') == NULL;
            if ((part.len == 0 && !empty_ok) || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 ||
                memchr(v, '/', part.len) != NULL)
                ok = false;
            for (size_t i = 0; i < part.len; i++)
                if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
                    ok = false;
            buf_append(out, part.data, part.len);
        }
        if (p[n] == '\0')
            break;
        buf_putc(out, '/');
        p += n + 1;
    }
    buf_free(&part);
    return ok;
}

static bool same_file(const struct cached_file *c, const struct stat *st)
{
    return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
           c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void cache_remove(struct db *d, size_t i)
{
    cached_file_free(&d->cache[i]);
    d->cache[i] = d->cache[--d->n_cache];
}

/* The parsed file at `path`, re-read when it changed on disk (its mtime, size
 * or inode: an editor that renames a new file into place changes the inode
 * without always changing the mtime). Called with d->lock held. Returns the
 * cache entry, NULL with *missing set for a file that does not exist, or NULL
 * with err. */
static struct cached_file *cache_get(struct db *d, const char *path, bool *missing, struct buf *err)
{
    struct stat st;
    size_t i;
    *missing = false;
    for (i = 0; i < d->n_cache; i++)
        if (strcmp(d->cache[i].path, path) == 0)
            break;
    if (stat(path, &st) < 0) {
        int e = errno;
        if (i < d->n_cache)
            cache_remove(d, i);
        if (e == ENOENT) {
            *missing = true;
            return NULL;
        }
        buf_printf(err, "%s: %s", path, strerror(e));
        return NULL;
    }
    if (i < d->n_cache && same_file(&d->cache[i], &st)) {
        d->cache[i].last_used = ++d->clock;
        return &d->cache[i];
    }
    struct passwd_file f;
    if (passwd_file_load_stat(path, &f, &st, err) < 0) {
        /* Fail closed until the file is fixed: an old copy could still let in
         * a user whose password was just changed or removed. */
        if (i < d->n_cache)
            cache_remove(d, i);
        return NULL;
    }
    passwd_file_find_typical(&f, d->default_scheme);
    if (i == d->n_cache) {
        if (d->n_cache == PASSWD_FILE_CACHE_MAX) {
            size_t oldest = 0;
            for (size_t k = 1; k < d->n_cache; k++)
                if (d->cache[k].last_used < d->cache[oldest].last_used)
                    oldest = k;
            cache_remove(d, oldest);
            i = d->n_cache;
        }
        d->cache = xrealloc(d->cache, (d->n_cache + 1) * sizeof(*d->cache));
        d->cache[i].path = xstrdup(path);
        d->n_cache++;
    } else {
        passwd_file_free(&d->cache[i].file);
    }
    struct cached_file *c = &d->cache[i];
    c->file = f;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->size = st.st_size;
    c->mtime = st.st_mtim;
    c->last_used = ++d->clock;
    return c;
}

struct found {
    char *password;
    long uid, gid;
    char *home;
    char *typical; /* the file's typical password (passwd_file_find_typical) */
    unsigned scram_iterations;
};

/* Looks `user` up in a passwd-file db: 1 found (copied into *out), 0 unknown,
 * -1 with err. */
static int passwd_file_lookup(struct db *d, const char *user, struct found *out, struct buf *err)
{
    struct buf key = BUF_INIT, path = BUF_INIT;
    int ret = 0;
    memset(out, 0, sizeof(*out));
    if (d->username_format != NULL)
        settings_expand_vars(d->username_format, user, NULL, &key);
    else
        buf_puts(&key, user);
    /* An unsafe name cannot be in a file it cannot name: unknown user. */
    if (!expand_for_user(d->path, user, false, &path))
        goto out;

    pthread_mutex_lock(&d->lock);
    bool missing;
    struct cached_file *c = cache_get(d, buf_cstr(&path), &missing, err);
    if (c == NULL && missing && !d->path_has_vars) {
        /* The file was there at start-up: it going away is an accident. */
        buf_printf(err, "%s: %s", buf_cstr(&path), strerror(ENOENT));
        ret = -1;
    } else if (c == NULL && !missing) {
        ret = -1;
    } else if (c != NULL) {
        if (c->file.typical != NULL)
            out->typical = xstrdup(c->file.typical->password);
        out->scram_iterations = c->file.scram_iterations;
        /* A path with %d and no file for that domain: nobody there (Dovecot). */
        const struct passwd_entry *e = passwd_file_find(&c->file, buf_cstr(&key));
        if (e != NULL) {
            out->password = e->password ? xstrdup(e->password) : NULL;
            out->uid = e->uid;
            out->gid = e->gid;
            out->home = e->home ? xstrdup(e->home) : NULL;
            ret = 1;
        }
    }
    pthread_mutex_unlock(&d->lock);
out:
    buf_free(&key);
    buf_free(&path);
    return ret;
}

static void free_secret_string(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

static void found_free(struct found *f)
{
    free_secret_string(f->password);
    free_secret_string(f->typical);
    free(f->home);
    memset(f, 0, sizeof(*f));
}

int authdb_passdb_lookup(struct authdb *db, const char *user, struct passdb_result *out,
                         struct buf *err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < db->n_passdbs; i++) {
        struct db *d = &db->passdbs[i];
        struct found f;
        int r = passwd_file_lookup(d, user, &f, err);
        if (r < 0) {
            found_free(&f);
            passdb_result_free(out);
            return -1; /* never skip a db that might hold this user */
        }
        bool has_user = r > 0 && f.password != NULL;
        if (f.typical != NULL && (has_user || out->typical_password == NULL)) {
            free_secret_string(out->typical_password);
            free(out->typical_scheme);
            out->typical_password = f.typical;
            f.typical = NULL;
            out->typical_scheme = d->default_scheme ? xstrdup(d->default_scheme) : NULL;
            out->scram_iterations = f.scram_iterations;
        }
        /* An entry without a password is for userdb only: it cannot log in. */
        if (has_user) {
            /* The name stays as the client gave it, as in Dovecot: with
             * username_format=%n the file says "alice" but the account is
             * alice@example.com. */
            out->user = xstrdup(user);
            out->password = f.password;
            f.password = NULL;
            out->default_scheme = d->default_scheme ? xstrdup(d->default_scheme) : NULL;
            found_free(&f);
            return 1;
        }
        found_free(&f);
    }
    return 0;
}

int authdb_userdb_lookup(struct authdb *db, const char *user, struct userdb_result *out,
                         struct buf *err)
{
    memset(out, 0, sizeof(*out));
    out->uid = out->gid = -1;
    struct buf home = BUF_INIT;
    for (size_t i = 0; i < db->n_userdbs; i++) {
        struct db *d = &db->userdbs[i];
        long uid = -1, gid = -1;
        const char *home_tmpl = NULL;
        struct found f = {NULL, -1, -1, NULL, NULL, 0};
        if (d->driver == DB_STATIC) {
            if (!d->allow_all_users) {
                /* Dovecot's static userdb: without allow_all_users the user
                 * must exist in a passdb, so that LMTP does not accept mail
                 * for anyone. */
                struct passdb_result pr;
                int r = authdb_passdb_lookup(db, user, &pr, err);
                passdb_result_free(&pr);
                if (r < 0) {
                    buf_free(&home);
                    return -1;
                }
                if (r == 0)
                    continue;
            }
            uid = d->uid;
            gid = d->gid;
            home_tmpl = d->home;
        } else {
            int r = passwd_file_lookup(d, user, &f, err);
            if (r <= 0) {
                /* even for an unknown user it may hold the typical hash */
                found_free(&f);
                if (r == 0)
                    continue;
                buf_free(&home);
                return -1;
            }
            uid = f.uid;
            gid = f.gid;
            home_tmpl = f.home;
        }
        if (home_tmpl != NULL && !expand_for_user(home_tmpl, user, true, &home)) {
            found_free(&f);
            continue; /* a name that would escape its home: nobody */
        }
        out->user = xstrdup(user);
        out->uid = uid;
        out->gid = gid;
        out->home = home_tmpl ? buf_steal(&home) : NULL;
        found_free(&f);
        buf_free(&home);
        return 1;
    }
    buf_free(&home);
    return 0;
}

void passdb_result_free(struct passdb_result *r)
{
    free(r->user);
    free_secret_string(r->password);
    free(r->default_scheme);
    free_secret_string(r->typical_password);
    free(r->typical_scheme);
    memset(r, 0, sizeof(*r));
}

void userdb_result_free(struct userdb_result *r)
{
    free(r->user);
    free(r->home);
    memset(r, 0, sizeof(*r));
    r->uid = r->gid = -1;
}

/* ---- authdb_open ---------------------------------------------------------- */

/* Splits args on blanks into at most max tokens (pointers into copy). */
static size_t split_args(char *copy, char **tok, size_t max, bool *too_many)
{
    size_t n = 0;
    char *save = NULL;
    *too_many = false;
    for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == max) {
            *too_many = true;
            break;
        }
        tok[n++] = t;
    }
    return n;
}

static int open_passwd_file(struct db *d, const char *kind, const char *args, struct buf *err)
{
    char *copy = xstrdup(args ? args : "");
    char *tok[16];
    bool too_many;
    size_t n = split_args(copy, tok, 16, &too_many);
    int ret = -1;
    if (too_many) {
        buf_printf(err, "%s: %s passwd-file: too many arguments", d->where, kind);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char *t = tok[i];
        /* scheme= means nothing to a userdb, but Dovecot configurations
         * often give both the same args: accept it there too. */
        if (strncmp(t, "scheme=", 7) == 0) {
            if (!password_scheme_is_known(t + 7)) {
                buf_printf(err, "%s: %s passwd-file: unknown scheme '%s'", d->where, kind, t + 7);
                goto out;
            }
            free(d->default_scheme);
            d->default_scheme = xstrdup(t + 7);
        } else if (strncmp(t, "username_format=", 16) == 0) {
            free(d->username_format);
            d->username_format = strcmp(t + 16, "%u") == 0 ? NULL : xstrdup(t + 16);
        } else if (d->path == NULL && strchr(t, '=') == NULL) {
            d->path = xstrdup(t);
        } else {
            buf_printf(err, "%s: %s passwd-file: unknown argument '%s'", d->where, kind, t);
            goto out;
        }
    }
    if (d->path == NULL) {
        buf_printf(err, "%s: %s passwd-file: the file's path is missing from args", d->where, kind);
        goto out;
    }
    d->path_has_vars = strchr(d->path, '%') != NULL;
    if (!d->path_has_vars) {
        /* Read it now: a typo in the path or in the file is a start-up error,
         * not a failed login at three in the morning. */
        struct buf why = BUF_INIT;
        bool missing;
        pthread_mutex_lock(&d->lock);
        struct cached_file *c = cache_get(d, d->path, &missing, &why);
        pthread_mutex_unlock(&d->lock);
        if (c == NULL) {
            if (missing)
                buf_printf(&why, "%s: %s", d->path, strerror(ENOENT));
            buf_printf(err, "%s: %s passwd-file: %s", d->where, kind, buf_cstr(&why));
            buf_free(&why);
            goto out;
        }
        buf_free(&why);
    }
    ret = 0;
out:
    free(copy);
    return ret;
}

static int open_static(struct db *d, const char *args, struct buf *err)
{
    char *copy = xstrdup(args ? args : "");
    char *tok[16];
    bool too_many;
    size_t n = split_args(copy, tok, 16, &too_many);
    int ret = -1;
    d->uid = d->gid = -1;
    if (too_many) {
        buf_printf(err, "%s: userdb static: too many arguments", d->where);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char *t = tok[i], *eq = strchr(t, '=');
        if (eq == NULL || eq[1] == '\0') {
            buf_printf(err, "%s: userdb static: expected key=value, got '%s'", d->where, t);
            goto out;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(t, "uid") == 0 || strcmp(t, "gid") == 0) {
            bool is_gid = t[0] == 'g';
            const char *why = parse_id(v, is_gid, is_gid ? &d->gid : &d->uid);
            if (why != NULL) {
                buf_printf(err, "%s: userdb static: %s '%s': %s", d->where, t, v, why);
                goto out;
            }
        } else if (strcmp(t, "home") == 0) {
            free(d->home);
            d->home = xstrdup(v);
        } else if (strcmp(t, "allow_all_users") == 0) {
            if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
                buf_printf(err, "%s: userdb static: allow_all_users must be yes or no", d->where);
                goto out;
            }
            d->allow_all_users = strcmp(v, "yes") == 0;
        } else {
            buf_printf(err, "%s: userdb static: unknown argument '%s'", d->where, t);
            goto out;
        }
    }
    if (d->home == NULL) {
        buf_printf(err, "%s: userdb static: home= is required (e.g. home=/var/mail/%%d/%%n)",
                   d->where);
        goto out;
    }
    ret = 0;
out:
    free(copy);
    return ret;
}

static int open_db(const struct settings *set, const struct db_settings *ds, const char *kind,
                   struct db *d, struct buf *err)
{
    struct buf where = BUF_INIT;
    memset(d, 0, sizeof(*d));
    d->uid = d->gid = -1;
    buf_printf(&where, "%s:%d", ds->file ? ds->file : (set->config_path ? set->config_path : "?"),
               ds->line);
    d->where = buf_steal(&where);
    const char *driver = ds->driver ? ds->driver : "";
    if (strcmp(driver, "passwd-file") == 0) {
        d->driver = DB_PASSWD_FILE;
        pthread_mutex_init(&d->lock, NULL);
        return open_passwd_file(d, kind, ds->args, err);
    }
    d->driver = DB_STATIC; /* nothing to destroy yet */
    if (strcmp(kind, "userdb") == 0 && strcmp(driver, "static") == 0)
        return open_static(d, ds->args, err);
    buf_printf(err, "%s: unknown %s driver '%s' (gannet has passwd-file%s)", d->where, kind, driver,
               strcmp(kind, "userdb") == 0 ? " and static" : "");
    return -1;
}

int authdb_open(const struct settings *set, struct authdb **out, struct buf *err)
{
    struct authdb *db = xcalloc(1, sizeof(*db));
    const char *conf = set->config_path ? set->config_path : "gannet.conf";
    *out = NULL;
    if (set->n_passdbs == 0 || set->n_userdbs == 0) {
        buf_printf(err, "%s: no %s configured (add a %s { driver = ... } section)", conf,
                   set->n_passdbs == 0 ? "passdb" : "userdb",
                   set->n_passdbs == 0 ? "passdb" : "userdb");
        free(db);
        return -1;
    }
    db->passdbs = xcalloc(set->n_passdbs, sizeof(*db->passdbs));
    db->userdbs = xcalloc(set->n_userdbs, sizeof(*db->userdbs));
    for (size_t i = 0; i < set->n_passdbs; i++) {
        db->n_passdbs++;
        if (open_db(set, &set->passdbs[i], "passdb", &db->passdbs[i], err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < set->n_userdbs; i++) {
        db->n_userdbs++;
        if (open_db(set, &set->userdbs[i], "userdb", &db->userdbs[i], err) < 0)
            goto fail;
    }
    *out = db;
    return 0;
fail:
    authdb_free(db);
    return -1;
}
