#include "net/privs.h"

#include "lib/number.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A numeric uid or gid; (uid_t)-1 means "no change" to setuid(), not a user. */
static bool parse_id(const char *s, uint32_t *out)
{
    return str_to_uint32(s, out) && *out != UINT32_MAX;
}

bool privs_resolve_user(const char *name, uid_t *uid, gid_t *primary_gid)
{
    uint32_t n;
    char tmp[4096];
    struct passwd pw, *res = NULL;
    if (parse_id(name, &n)) {
        *uid = (uid_t)n;
        if (getpwuid_r(*uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
            *primary_gid = res->pw_gid;
        else
            *primary_gid = (gid_t)-1;
        return true;
    }
    if (getpwnam_r(name, &pw, tmp, sizeof(tmp), &res) != 0 || !res)
        return false;
    *uid = res->pw_uid;
    *primary_gid = res->pw_gid;
    return true;
}

bool privs_resolve_group(const char *name, gid_t *gid)
{
    uint32_t n;
    if (parse_id(name, &n)) {
        *gid = (gid_t)n;
        return true;
    }
    char tmp[4096];
    struct group gr, *res = NULL;
    if (getgrnam_r(name, &gr, tmp, sizeof(tmp), &res) != 0 || !res)
        return false;
    *gid = res->gr_gid;
    return true;
}

int privs_resolve(const struct settings *set, struct privs *out, struct buf *err)
{
    uid_t euid = geteuid();
    if (!set->mail_uid) {
        if (euid == 0) {
            buf_puts(err, "mail_uid is not set: gannet serves all mail as one system user "
                          "(e.g. mail_uid = vmail) and never as root");
            return -1;
        }
        out->uid = euid;
        out->gid = getegid();
        return 0;
    }
    gid_t primary;
    if (!privs_resolve_user(set->mail_uid, &out->uid, &primary)) {
        buf_printf(err, "mail_uid: no such user '%s'", set->mail_uid);
        return -1;
    }
    if (set->mail_gid) {
        if (!privs_resolve_group(set->mail_gid, &out->gid)) {
            buf_printf(err, "mail_gid: no such group '%s'", set->mail_gid);
            return -1;
        }
    } else if (primary != (gid_t)-1) {
        out->gid = primary;
    } else {
        buf_printf(err, "mail_gid is not set and user '%s' has no primary group", set->mail_uid);
        return -1;
    }
    if (out->uid == 0 || out->gid == 0) {
        buf_puts(err, "mail_uid/mail_gid must not be root: mail is served by an unprivileged user");
        return -1;
    }
    if (euid != 0 && (euid != out->uid || getegid() != out->gid)) {
        buf_printf(err, "cannot switch to mail_uid %s / mail_gid %s: not started as root",
                   set->mail_uid, set->mail_gid ? set->mail_gid : "(primary)");
        return -1;
    }
    return 0;
}

int privs_drop(const struct privs *p, struct buf *err)
{
    if (geteuid() == 0) {
        if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0) {
            buf_printf(err, "cannot drop privileges to uid %ld gid %ld: %s", (long)p->uid,
                       (long)p->gid, strerror(errno));
            return -1;
        }
    }
    /* Never serve as root, whatever the configuration said. */
    if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0) {
        buf_puts(err, "refusing to serve as root");
        return -1;
    }
    return 0;
}
