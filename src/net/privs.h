/* The one system user all mail belongs to (mail_uid/mail_gid) and the drop to
 * it: workers and the mail admin commands never run as root. */
#ifndef GANNET_NET_PRIVS_H
#define GANNET_NET_PRIVS_H

#include "lib/buf.h"
#include "lib/settings.h"

#include <stdbool.h>
#include <sys/types.h>

struct privs {
    uid_t uid;
    gid_t gid;
};

/* A user name or number; primary_gid is (gid_t)-1 for a number without a passwd entry. */
bool privs_resolve_user(const char *name, uid_t *uid, gid_t *primary_gid);
bool privs_resolve_group(const char *name, gid_t *gid);

/* Resolves mail_uid/mail_gid. Without mail_uid, a server started by an ordinary
 * user serves as that user; started as root it is an error. Root as the target
 * is an error. -1 with a one-line reason in err. */
int privs_resolve(const struct settings *set, struct privs *out, struct buf *err);

/* Switches to p (when root) and checks that no root privilege is left. */
int privs_drop(const struct privs *p, struct buf *err);

#endif
