/* From a userdb entry and mail_location to an opened store: see mail-location.h. */
#include "store/mail-location.h"

#include "lib/settings.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mail_location_expand(const char *location, const char *user, const char *home, struct buf *out,
                         struct buf *err)
{
    const char *path = location;
    if (strncmp(path, "maildir:", 8) == 0) {
        path += 8;
    } else if (strchr(path, ':') && path[0] != '/' && path[0] != '~' && path[0] != '%') {
        buf_printf(err, "mail_location '%s': only maildir: is supported", location);
        return -EINVAL;
    }
    /* Dovecot's options after the path (":INDEX=...", ":LAYOUT=fs") are not ours. */
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    char *p = xstrndup(path, len);
    if ((p[0] == '~' || strstr(p, "%h") || strstr(p, "%{home}")) && (!home || !*home)) {
        buf_printf(err, "mail_location '%s' needs a home directory, and the userdb gives %s none",
                   location, user);
        free(p);
        return -EINVAL;
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
        return -EINVAL;
    }
    while (expanded.len > 1 && expanded.data[expanded.len - 1] == '/')
        expanded.data[--expanded.len] = '\0';
    buf_append(out, expanded.data, expanded.len);
    buf_free(&expanded);
    return 0;
}

int store_user_maildir(const struct store_user *u, const char *mail_location, uid_t mail_uid,
                       gid_t mail_gid, struct buf *out, struct buf *err)
{
    if ((u->uid >= 0 && (uid_t)u->uid != mail_uid) || (u->gid >= 0 && (gid_t)u->gid != mail_gid)) {
        buf_printf(err,
                   "userdb gives %s uid %ld gid %ld, but all mail belongs to mail_uid %ld "
                   "mail_gid %ld",
                   u->user, u->uid, u->gid, (long)mail_uid, (long)mail_gid);
        return -EPERM;
    }
    const char *location = u->mail && *u->mail ? u->mail : mail_location;
    return mail_location_expand(location ? location : "", u->user, u->home, out, err);
}

int store_user_open_at(const char *user, const char *maildir, unsigned flags, struct store **out,
                       struct buf *err)
{
    struct buf why = BUF_INIT;
    int r = store_open(maildir, flags, out, &why);
    if (r < 0)
        buf_printf(err, "cannot open the mail store of %s at %s: %s", user, maildir,
                   buf_cstr(&why));
    buf_free(&why);
    return r;
}

int store_user_open(const struct store_user *u, const char *mail_location, unsigned flags,
                    struct store **out, struct buf *err)
{
    *out = NULL;
    struct buf maildir = BUF_INIT;
    int r = store_user_maildir(u, mail_location, geteuid(), getegid(), &maildir, err);
    if (r == 0)
        r = store_user_open_at(u->user, buf_cstr(&maildir), flags, out, err);
    buf_free(&maildir);
    return r;
}
