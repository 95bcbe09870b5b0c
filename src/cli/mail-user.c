/* Config -> user -> privileges -> Maildir, for the mail admin commands: see mail-user.h. */
#include "cli/mail-user.h"

#include "auth/passdb.h"
#include "store/store.h"

#include <errno.h>
#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

int admin_opts_parse(int argc, char **argv, const char *allowed, const char *usage,
                     struct admin_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->config = GANNET_DEFAULT_CONFIG;
    /* "+": stop at the first positional argument (the loop below resumes);
     * each extra letter takes a value. */
    char spec[32] = "+c:u:h";
    size_t n = strlen(spec);
    for (const char *a = allowed; *a && n + 2 < sizeof(spec); a++) {
        spec[n++] = *a;
        spec[n++] = ':';
    }
    spec[n] = '\0';
    optind = 1;
    opterr = 0;
    /* Options may come after the positional arguments too ("status INBOX -u x"). */
    char **pos = xcalloc((size_t)argc + 1, sizeof(char *));
    int n_pos = 0;
    while (optind < argc) {
        int c = getopt(argc, argv, spec);
        if (c == -1) {
            if (optind < argc && strcmp(argv[optind - 1], "--") == 0) {
                while (optind < argc)
                    pos[n_pos++] = argv[optind++];
                break;
            }
            pos[n_pos++] = argv[optind++];
            continue;
        }
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'm':
            o->mailbox = optarg;
            break;
        case 'f':
            o->fields = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            free(pos);
            return 1;
        default:
            if (optopt && strchr(spec, optopt))
                fprintf(stderr, "gannet %s: option -%c needs a value\n%s", argv[0], optopt, usage);
            else
                fprintf(stderr, "gannet %s: unknown option '%s'\n%s", argv[0], argv[optind - 1],
                        usage);
            free(pos);
            return EX_USAGE;
        }
    }
    if (!o->user || !*o->user) {
        fprintf(stderr, "gannet %s: -u USER is required\n%s", argv[0], usage);
        free(pos);
        return EX_USAGE;
    }
    o->args = pos;
    o->n_args = n_pos;
    return 0;
}

int mail_location_expand(const char *location, const char *user, const char *home, struct buf *out,
                         struct buf *err)
{
    const char *path = location;
    if (strncmp(path, "maildir:", 8) == 0) {
        path += 8;
    } else if (strchr(path, ':') && path[0] != '/' && path[0] != '~' && path[0] != '%') {
        buf_printf(err, "mail_location '%s': only maildir: is supported", location);
        return -1;
    }
    /* Dovecot's options after the path (":INDEX=...", ":LAYOUT=fs") are not ours. */
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    char *p = xstrndup(path, len);
    if ((p[0] == '~' || strstr(p, "%h") || strstr(p, "%{home}")) && (!home || !*home)) {
        buf_printf(err, "mail_location '%s' needs a home directory, and the userdb gives %s none",
                   location, user);
        free(p);
        return -1;
    }
    struct buf expanded = BUF_INIT;
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
        buf_puts(&expanded, home);
        settings_expand_vars(p + 1, user, home, &expanded);
    } else {
        settings_expand_vars(p, user, home, &expanded);
    }
    free(p);
    if (expanded.len == 0 || expanded.data[0] != '/') {
        buf_printf(err, "mail_location '%s' is not an absolute path for %s ('%s')", location, user,
                   buf_cstr(&expanded));
        buf_free(&expanded);
        return -1;
    }
    while (expanded.len > 1 && expanded.data[expanded.len - 1] == '/')
        expanded.data[--expanded.len] = '\0';
    buf_append(out, expanded.data, expanded.len);
    buf_free(&expanded);
    return 0;
}

int mail_user_init(struct mail_user *mu, const char *config, const char *user, struct buf *err)
{
    memset(mu, 0, sizeof(*mu));
    if (settings_load_without_tls_files(config, &mu->set, err) < 0)
        return EX_CONFIG;
    mu->set_loaded = true;
    if (privs_resolve(&mu->set, &mu->privs, err) < 0)
        return geteuid() == 0 ? EX_CONFIG : EX_NOPERM;

    /* The userdb is read before the drop: its file may be readable by root only. */
    struct authdb *db;
    if (authdb_open(&mu->set, &db, err) < 0)
        return EX_CONFIG;
    struct userdb_result u = {0};
    int rc = authdb_userdb_lookup(db, user, &u, err);
    authdb_free(db);
    if (rc < 0) {
        userdb_result_free(&u);
        return EX_TEMPFAIL;
    }
    if (rc == 0) {
        buf_printf(err, "unknown user '%s'", user);
        userdb_result_free(&u);
        return EX_NOUSER;
    }
    if ((u.uid >= 0 && (uid_t)u.uid != mu->privs.uid) ||
        (u.gid >= 0 && (gid_t)u.gid != mu->privs.gid)) {
        buf_printf(err,
                   "userdb gives %s uid %ld gid %ld, but all mail belongs to mail_uid %ld "
                   "mail_gid %ld",
                   user, u.uid, u.gid, (long)mu->privs.uid, (long)mu->privs.gid);
        userdb_result_free(&u);
        return EX_CONFIG;
    }
    mu->user = xstrdup(u.user ? u.user : user);
    mu->home = u.home ? xstrdup(u.home) : NULL;
    userdb_result_free(&u);

    struct buf path = BUF_INIT;
    if (mail_location_expand(mu->set.mail_location, mu->user, mu->home, &path, err) < 0) {
        buf_free(&path);
        return EX_CONFIG;
    }
    mu->maildir = buf_steal(&path);

    if (privs_drop(&mu->privs, err) < 0)
        return EX_NOPERM;
    return 0;
}

void mail_user_deinit(struct mail_user *mu)
{
    if (mu->store)
        store_close(mu->store);
    if (mu->set_loaded)
        settings_free(&mu->set);
    free(mu->user);
    free(mu->home);
    free(mu->maildir);
    memset(mu, 0, sizeof(*mu));
}

/* mkdir -p for the directories above the Maildir (the user's home may not
 * exist yet): made by mail_uid, private to it. */
static int make_parents(const char *path, struct buf *err)
{
    char *p = xstrdup(path);
    for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            buf_printf(err, "cannot create %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *slash = '/';
    }
    free(p);
    return 0;
}

int mail_user_open_store(struct mail_user *mu, struct buf *err)
{
    if (make_parents(mu->maildir, err) < 0)
        return EX_TEMPFAIL;
    struct buf why = BUF_INIT;
    if (store_open(mu->maildir, STORE_OPEN_CREATE, &mu->store, &why) < 0) {
        buf_printf(err, "cannot open the mail store of %s at %s: %s", mu->user, mu->maildir,
                   buf_cstr(&why));
        buf_free(&why);
        mu->store = NULL;
        return EX_TEMPFAIL;
    }
    buf_free(&why);
    return 0;
}

void admin_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "gannet %s: ", cmd);
    for (const char *c = msg; *c; c++)
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
    fputc('\n', stderr);
}
