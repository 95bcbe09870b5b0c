/* Maildir file names and state files, see maildir.h. */
#include "store/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/number.h"
#include "store/store.h"

static const struct {
    char letter;
    unsigned flag;
} flag_letters[] = {
    /* ASCII order, as the Maildir specification wants the info part. */
    {'D', STORE_FLAG_DRAFT}, {'F', STORE_FLAG_FLAGGED}, {'R', STORE_FLAG_ANSWERED},
    {'S', STORE_FLAG_SEEN},  {'T', STORE_FLAG_DELETED},
};

bool maildir_filename_parse(const char *name, struct maildir_filename *out)
{
    memset(out, 0, sizeof(*out));
    if (name[0] == '.' || name[0] == '\0')
        return false;
    const char *colon = strchr(name, ':');
    size_t baselen = colon ? (size_t)(colon - name) : strlen(name);
    out->base = xstrndup(name, baselen);
    /* ",X=digits" fields after the unique part (Dovecot's S= and W=, our U=) */
    for (const char *p = strchr(out->base, ','); p; p = strchr(p + 1, ',')) {
        if (p[1] && p[2] == '=') {
            const char *end;
            uint64_t v;
            if (!str_parse_uint64(p + 3, &v, &end) || (*end != ',' && *end != '\0'))
                continue;
            if (p[1] == 'U' && v > 0 && v < UINT32_MAX)
                out->uid = (uint32_t)v;
            else if (p[1] == 'S')
                out->size = v;
            else if (p[1] == 'W')
                out->vsize = v;
        }
    }
    if (colon && colon[1] == '2' && colon[2] == ',') {
        for (const char *f = colon + 3; *f; f++) {
            if (*f >= 'a' && *f <= 'z')
                out->kwbits |= 1u << (*f - 'a');
            for (size_t i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]); i++)
                if (*f == flag_letters[i].letter)
                    out->flags |= flag_letters[i].flag;
        }
    }
    return true;
}

void maildir_filename_free(struct maildir_filename *f)
{
    free(f->base);
    f->base = NULL;
}

static void host_part(struct buf *out)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    if (!host[0])
        buf_puts(out, "localhost");
    /* Dovecot's escapes, so that '/' and ':' never appear in a file name. */
    for (const char *h = host; *h; h++) {
        if (*h == '/')
            buf_puts(out, "\\057");
        else if (*h == ':')
            buf_puts(out, "\\072");
        else if (*h == ',')
            buf_puts(out, "\\054");
        else
            buf_putc(out, *h);
    }
}

void maildir_new_base(struct buf *out, uint64_t size, uint64_t vsize, uint32_t uid)
{
    /* Unique per process by the counter, per host by pid and time: the
     * Maildir recipe (time.MusecPpidQn.host). */
    static _Atomic unsigned long counter;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned long n = atomic_fetch_add(&counter, 1) + 1;
    buf_printf(out, "%lld.M%ldP%ldQ%lu.", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
               n);
    host_part(out);
    buf_printf(out, ",S=%" PRIu64 ",W=%" PRIu64, size, vsize);
    if (uid)
        buf_printf(out, ",U=%" PRIu32, uid);
}

void maildir_base_with_uid(struct buf *out, const char *base, uint32_t uid)
{
    const char *p = base;
    for (const char *u = strstr(base, ",U="); u; u = strstr(u + 1, ",U=")) {
        buf_append(out, p, (size_t)(u - p));
        p = u + 3;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    buf_puts(out, p);
    if (uid)
        buf_printf(out, ",U=%" PRIu32, uid);
}

void maildir_filename_build(struct buf *out, const char *base, unsigned flags, uint32_t kwbits)
{
    buf_puts(out, base);
    buf_puts(out, ":2,");
    for (size_t i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]); i++)
        if (flags & flag_letters[i].flag)
            buf_putc(out, flag_letters[i].letter);
    for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
        if (kwbits & (1u << i))
            buf_putc(out, (char)('a' + i));
}

int maildir_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* 1 made, 0 there already, or -errno. */
static int mkdir_p1(const char *path)
{
    if (mkdir(path, 0700) == 0)
        return 1;
    return errno == EEXIST ? 0 : -errno;
}

int maildir_create_dirs(const char *dir, bool folder, struct buf *err)
{
    static const char *const subs[] = {"tmp", "new", "cur"};
    struct buf p = BUF_INIT;
    int r = mkdir_p1(dir);
    bool made = r > 0;
    for (size_t i = 0; r >= 0 && i < 3; i++) {
        buf_reset(&p);
        buf_printf(&p, "%s/%s", dir, subs[i]);
        r = mkdir_p1(buf_cstr(&p));
        made |= r > 0;
    }
    if (r >= 0 && folder) {
        /* Maildir++: marks a folder, which some delivery agents look for. */
        buf_reset(&p);
        buf_printf(&p, "%s/maildirfolder", dir);
        int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            made = true;
        } else if (errno != EEXIST) {
            r = -errno;
        }
    }
    /* Only what was made needs its entries on disk: opening an existing
     * Maildir (every delivery, every login) costs no fsync. */
    if (r >= 0)
        r = made ? maildir_fsync_dir(dir) : 0;
    if (r < 0 && err)
        buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
    buf_free(&p);
    return r;
}

int maildir_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                              struct buf *err)
{
    struct buf tmp = BUF_INIT, dst = BUF_INIT;
    buf_printf(&tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
    buf_printf(&dst, "%s/%s", dir, name);
    int r = 0;
    int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
    } else {
        const char *p = data;
        size_t left = len;
        while (left > 0 && r == 0) {
            ssize_t n = write(fd, p, left);
            if (n < 0 && errno != EINTR)
                r = -errno;
            else if (n > 0) {
                p += n;
                left -= (size_t)n;
            }
        }
        if (r == 0 && fsync(fd) < 0)
            r = -errno;
        if (close(fd) < 0 && r == 0)
            r = -errno;
        if (r == 0 && rename(buf_cstr(&tmp), buf_cstr(&dst)) < 0)
            r = -errno;
        if (r < 0)
            unlink(buf_cstr(&tmp));
        else
            r = maildir_fsync_dir(dir);
    }
    if (r < 0 && err)
        buf_printf(err, "cannot write %s: %s", buf_cstr(&dst), strerror(-r));
    buf_free(&tmp);
    buf_free(&dst);
    return r;
}

int maildir_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    struct buf p = BUF_INIT;
    int r = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        buf_reset(&p);
        buf_printf(&p, "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(buf_cstr(&p), &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            r = maildir_remove_tree(buf_cstr(&p));
        else if (unlink(buf_cstr(&p)) < 0 && errno != ENOENT)
            r = -errno;
        if (r < 0)
            break;
    }
    closedir(d);
    buf_free(&p);
    if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
        r = -errno;
    return r;
}

static char *read_small_file(const char *dir, const char *name, size_t max)
{
    struct buf p = BUF_INIT;
    buf_printf(&p, "%s/%s", dir, name);
    FILE *f = fopen(buf_cstr(&p), "re");
    buf_free(&p);
    if (!f)
        return NULL;
    struct buf content = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && content.len < max)
        buf_append(&content, chunk, n);
    fclose(f);
    buf_putc(&content, '\0');
    content.len--;
    return buf_steal(&content);
}

int maildir_uidlist_read(const char *dir, uint32_t *uidvalidity, uint32_t *uidnext)
{
    char *s = read_small_file(dir, MAILDIR_UIDLIST, 4096);
    if (!s)
        return -errno ? -errno : -ENOENT;
    uint32_t v = 0, n = 0;
    const char *vend, *nend;
    int r = -EINVAL;
    if (strncmp(s, "gannet-uidlist 1\n", 17) == 0) {
        const char *pv = strstr(s, "\nV ");
        const char *pn = strstr(s, "\nN ");
        if (pv && pn && str_parse_uint32(pv + 3, &v, &vend) && (*vend == '\n' || !*vend) &&
            str_parse_uint32(pn + 3, &n, &nend) && (*nend == '\n' || !*nend) && v > 0 && n > 0) {
            *uidvalidity = v;
            *uidnext = n;
            r = 0;
        }
    }
    free(s);
    return r;
}

int maildir_uidlist_write(const char *dir, uint32_t uidvalidity, uint32_t uidnext, struct buf *err)
{
    char content[96];
    int n = snprintf(content, sizeof(content), "gannet-uidlist 1\nV %" PRIu32 "\nN %" PRIu32 "\n",
                     uidvalidity, uidnext);
    return maildir_write_file_atomic(dir, MAILDIR_UIDLIST, content, (size_t)n, err);
}

static int cmp_dovecot_uid(const void *a, const void *b)
{
    return strcmp(((const struct dovecot_uid *)a)->base, ((const struct dovecot_uid *)b)->base);
}

int dovecot_uidlist_read(const char *dir, struct dovecot_uidlist *out)
{
    memset(out, 0, sizeof(*out));
    char *s = read_small_file(dir, MAILDIR_DOVECOT_UIDLIST, (size_t)1 << 30);
    if (!s)
        return -ENOENT;
    char *save = NULL;
    char *line = strtok_r(s, "\n", &save);
    int r = -EINVAL;
    if (line) {
        /* "3 V1234567890 N5 G..." (v3) or "1 1234567890 5" (v1); a number
         * that does not fit makes the header invalid */
        char *tok_save = NULL;
        char *ver = strtok_r(line, " ", &tok_save);
        bool ok = true;
        if (ver && strcmp(ver, "3") == 0) {
            for (char *t = strtok_r(NULL, " ", &tok_save); t; t = strtok_r(NULL, " ", &tok_save)) {
                if (t[0] == 'V')
                    ok = ok && str_to_uint32(t + 1, &out->uidvalidity);
                else if (t[0] == 'N')
                    ok = ok && str_to_uint32(t + 1, &out->nextuid);
            }
        } else if (ver && (strcmp(ver, "1") == 0 || strcmp(ver, "2") == 0)) {
            char *v = strtok_r(NULL, " ", &tok_save);
            char *n = strtok_r(NULL, " ", &tok_save);
            ok = (!v || str_to_uint32(v, &out->uidvalidity)) &&
                 (!n || str_to_uint32(n, &out->nextuid));
        }
        if (ok && out->uidvalidity)
            r = 0;
    }
    size_t cap = 0;
    while (r == 0 && (line = strtok_r(NULL, "\n", &save)) != NULL) {
        const char *end;
        uint32_t uid;
        if (!str_parse_uint32(line, &uid, &end) || uid == 0 || uid == UINT32_MAX || *end != ' ')
            continue;
        /* v3: extension fields, then ":<base>"; v1: the base after one space */
        const char *base = strstr(end, " :");
        base = base ? base + 2 : end + 1;
        if (!*base)
            continue;
        if (out->count == cap) {
            cap = cap ? cap * 2 : 64;
            out->entries = xrealloc(out->entries, cap * sizeof(*out->entries));
        }
        out->entries[out->count].uid = uid;
        out->entries[out->count].base = xstrdup(base);
        out->count++;
        if (uid >= out->nextuid)
            out->nextuid = uid + 1;
    }
    free(s);
    if (out->count > 1)
        qsort(out->entries, out->count, sizeof(*out->entries), cmp_dovecot_uid);
    return r;
}

uint32_t dovecot_uidlist_lookup(const struct dovecot_uidlist *l, const char *base)
{
    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(l->entries[mid].base, base);
        if (c == 0)
            return l->entries[mid].uid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void dovecot_uidlist_free(struct dovecot_uidlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->entries[i].base);
    free(l->entries);
    memset(l, 0, sizeof(*l));
}

int maildir_keywords_read(const char *dir, struct maildir_keywords *out)
{
    memset(out, 0, sizeof(*out));
    char *s = read_small_file(dir, MAILDIR_DOVECOT_KEYWORDS, 65536);
    if (!s)
        return 0;
    char *save = NULL;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *end;
        uint32_t idx;
        if (!str_parse_uint32(line, &idx, &end) || *end != ' ' || idx >= MAILDIR_KEYWORDS_MAX ||
            !end[1])
            continue;
        free(out->names[idx]);
        out->names[idx] = xstrdup(end + 1);
        if (idx + 1 > out->count)
            out->count = idx + 1;
    }
    free(s);
    return 0;
}

int maildir_keywords_write(const char *dir, const struct maildir_keywords *k, struct buf *err)
{
    struct buf content = BUF_INIT;
    for (size_t i = 0; i < k->count; i++)
        if (k->names[i])
            buf_printf(&content, "%zu %s\n", i, k->names[i]);
    int r = maildir_write_file_atomic(dir, MAILDIR_DOVECOT_KEYWORDS,
                                      content.data ? content.data : "", content.len, err);
    buf_free(&content);
    return r;
}

int maildir_keywords_find(const struct maildir_keywords *k, const char *name)
{
    for (size_t i = 0; i < k->count; i++)
        if (k->names[i] && strcasecmp(k->names[i], name) == 0)
            return (int)i;
    return -1;
}

void maildir_keywords_free(struct maildir_keywords *k)
{
    for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
        free(k->names[i]);
    memset(k, 0, sizeof(*k));
}

uint64_t maildir_bare_lf_count(const void *data, size_t len, bool *prev_cr)
{
    const unsigned char *p = data;
    uint64_t n = 0;
    bool cr = *prev_cr;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && !cr)
            n++;
        cr = p[i] == '\r';
    }
    *prev_cr = cr;
    return n;
}
